"""Python multiprocessing workload: a fork-based Pool, a Process with a
Queue, and a shared-memory array, so forks of a large dynamically linked
interpreter (many faulted VMAs, long chains) and its exits are validated."""
import multiprocessing as mp


def work(n):
    data = [i * i for i in range(n)]
    return sum(data) % 1000003


def producer(q, n):
    for i in range(n):
        q.put(bytes(4096 * (i % 4 + 1)))
    q.put(None)


def main():
    mp.set_start_method("fork")
    with mp.Pool(2) as pool:
        print(sum(pool.map(work, [20000 + i for i in range(16)])))
    q = mp.Queue()
    p = mp.Process(target=producer, args=(q, 50))
    p.start()
    total = 0
    while True:
        item = q.get()
        if item is None:
            break
        total += len(item)
    p.join()
    arr = mp.Array("d", 4096)
    ps = [mp.Process(target=lambda a, k: a.__setitem__(k, k), args=(arr, k)) for k in range(3)]
    for x in ps:
        x.start()
    for x in ps:
        x.join()
    print(total, arr[1] + arr[2])


if __name__ == "__main__":
    main()
