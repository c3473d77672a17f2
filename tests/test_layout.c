/*
 * test_layout.c - the layout drawing helper (layout.h) checks itself: a
 * right drawing passes, and every kind of wrong drawing (extent, hole,
 * protection, anon state, names, flags, chain length, a malformed string)
 * fails with a message that shows the expected and the actual drawing.
 */
#include "layout.h"

#define MM 1
#define C1 2
#define A 0x20000000ULL
#define RWX (PROT_READ | PROT_WRITE | PROT_EXEC)

/* [rw*X][rwx][rw*Y] then a hole and a two-page [rw] (eager, P3). */
static struct world *sample(void)
{
	struct world *w = tw_world("eager", 3);

	tw(w, ev_mmap(MM, A, 3 * PG, RW, ANON));
	tw(w, ev_mprotect(MM, A + PG, PG, RWX));
	tw(w, ev_write(MM, A));
	tw(w, ev_write(MM, A + 2 * PG));
	tw(w, ev_mmap(MM, A + 4 * PG, 2 * PG, RW, ANON));
	tw(w, ev_madvise(MM, A + 4 * PG, 2 * PG, MADV_DONTDUMP));
	return w;
}

/* The check must fail, and its message must hold want (and both drawings). */
static void expect_fail(struct world *w, const char *drawing, const char *want)
{
	char msg[4096];

	if (tw_layout_check(w, MM, A, drawing, msg, sizeof(msg)) == 0)
		fail_msg("drawing \"%s\" passed but is wrong", drawing);
	if (!strstr(msg, want))
		fail_msg("drawing \"%s\": message lacks \"%s\":\n%s", drawing, want, msg);
}

static void test_right_drawings_pass(void **state)
{
	struct world *w = sample();
	struct tw_names n = { 0 };

	(void)state;
	tw_assert_layout(w, MM, A, "[rw*X][rwx][rw*Y] . [rw dontdump .]");
	tw_assert_layout(w, MM, A, "[rw *X] [rwx] [rw *Y]");   /* spaces are free */
	tw_assert_layout(w, MM, A, "[rw*][rwx][rw*]");         /* unnamed: not compared */
	tw_assert_layout(w, MM, A, "[rw* L=1][rwx][rw*]");
	tw_assert_layout(w, MM, A + 2 * PG, "[rw*] .");       /* a range from any base */
	tw_assert_layout_n(w, &n, MM, A, "[rw*X]");
	tw_assert_layout_n(w, &n, MM, A + 2 * PG, "[rw*Y]");  /* names shared across calls */
	world_destroy(w);
}

static void test_wrong_drawings_fail(void **state)
{
	struct world *w = sample();
	struct tw_names n = { 0 };
	char msg[4096];

	(void)state;
	/* the message shows both drawings and a ruler */
	expect_fail(w, "[rw*X][rwx*Y][rw*Y]", "expected  [rw*X][rwx*Y][rw*Y]\n"
					    "            0     1      2");
	expect_fail(w, "[rw*X][rwx*Y][rw*Y]", "actual    [rw*X][rwx][rw*Y]");
	expect_fail(w, "[rw*X][rwx*Y][rw*Z] . [rw dontdump .]", "actual    [rw*X][rwx][rw*Z] . [rw");
	expect_fail(w, "[rw*X][rwx*Y][rw*Y]", "page 1: anon state");
	expect_fail(w, "[rw*X . .]", "page 0: the VMA's extent");
	expect_fail(w, "[rw*X][rw][rw*Y]", "page 1: protection");
	expect_fail(w, "[rw*X][rwx][rw*X]", "page 2: X names another object");
	expect_fail(w, "[rw*X][rwx][rw*Y][rw]", "page 3: no VMA");
	expect_fail(w, "[rw*X][rwx][rw*Y] . [rw .]", "page 4: flag words");
	expect_fail(w, "[rw*X][rwx][rw*Y] . [rw dontdump]", "page 4: the VMA's extent");
	expect_fail(w, "[rw*X][rwx][rw*Y] . . [rw dontdump]", "page 4: a VMA where a hole");
	expect_fail(w, "[rw* L=2][rwx][rw*]", "page 0: chain length");
	expect_fail(w, "[rw L(R)][rwx][rw*]", "page 0: anon state");
	/* a drawing starting inside a VMA */
	if (tw_layout_check(w, MM, A + 5 * PG, "[rw dontdump]", msg, sizeof(msg)) == 0)
		fail_msg("a drawing from the middle of a VMA passed");
	/* a name already bound to another object in a shared table */
	tw_assert_layout_n(w, &n, MM, A, "[rw*X]");
	if (tw_layout_check_n(w, &n, MM, A + 2 * PG, "[rw*X]", msg, sizeof(msg)) == 0)
		fail_msg("X named two anon_vmas across calls");
	/* malformed drawings name the problem */
	expect_fail(w, "[rw*X", "is not closed");
	expect_fail(w, "[rw*X] x", "is not '[', '.' or ' '");
	expect_fail(w, "[rw dontdmp]", "unknown word \"dontdmp\"");
	expect_fail(w, "[wr]", "is not a protection");
	expect_fail(w, "[]", "an empty VMA");
	world_destroy(w);
}

/* Lazy states: L(R) a lazy family, T(X) a fork child's TREE_PARENT, * after the upgrade. */
static void test_lazy_states(void **state)
{
	struct world *w = tw_world("lazy", 3); /* the switch is on from the start */
	struct tw_names n = { 0 };

	(void)state;
	tw(w, ev_mmap(MM, A, 2 * PG, RW, ANON));
	tw(w, ev_write(MM, A));
	tw_assert_layout(w, MM, A, "[rw L(R) .]");
	tw(w, ev_fork(MM, C1));
	tw_assert_layout_n(w, &n, MM, A, "[rw*X .]");
	tw_assert_layout_n(w, &n, C1, A, "[rw T(X) .]");
	expect_fail(w, "[rw L(R) .]", "actual    [rw*?1 .]");
	world_destroy(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_right_drawings_pass),
		cmocka_unit_test(test_wrong_drawings_fail),
		cmocka_unit_test(test_lazy_states),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
