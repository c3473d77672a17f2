#!/usr/bin/env python3
"""A forking TCP server on 127.0.0.1: one fork per connection, N requests (argv[1], default 200)
from a bounded client loop, 8 MiB of private heap the children inherit.  A workload for
anonvma-collect -- python3 bench/workloads/forkserver.py 300 (bench/verdict_table.sh)."""
import os, socket, socketserver, threading, sys

N = int(sys.argv[1]) if len(sys.argv) > 1 else 200
state = bytearray(os.urandom(8 << 20))  # 8 MiB of private anon memory the children inherit

class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        data = self.request.recv(64)
        buf = bytearray(256 << 10)          # per-request scratch (anon faults in the child)
        for i in range(0, len(buf), 4096):
            buf[i] = 1
        self.request.sendall(bytes([state[len(data)]]) * 16)

class Server(socketserver.ForkingTCPServer):
    allow_reuse_address = True
    max_children = 8

srv = Server(("127.0.0.1", 0), Handler)
port = srv.server_address[1]
t = threading.Thread(target=srv.serve_forever, daemon=True)
t.start()
for i in range(N):
    with socket.create_connection(("127.0.0.1", port)) as c:
        c.sendall(b"x" * (i % 32 + 1))
        c.recv(64)
srv.shutdown()
srv.server_close()
