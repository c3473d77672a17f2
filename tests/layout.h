/*
 * layout.h - assert a whole VMA layout from the drawing a test shows, so the
 * drawing and the assertion are one string and cannot disagree.
 *
 *   tw_assert_layout(w, MM, A, "[rw*X][rwx][rw*Y]");
 *
 * checks the pages of mm MM from address A on, one drawn page at a time.
 * On a difference the test fails with both drawings and a page ruler:
 *
 *   test_eager_rules.c:52: layout of mm 1 from 0x20000000 differs (page 1: anon state)
 *     expected  [rw*X][rwx][rw*Y]
 *               0     1    2
 *     actual    [rw*X][rwx*Y][rw*Y]
 *               0     1      2
 *
 * The notation (one drawing = a range of pages from the base address):
 *
 *   [ ... ]     one VMA.  Inside, words separated by spaces:
 *     first     the protection, then (attached or as the next word) the
 *               anon state:
 *                 protection  any of r, w, x in this order; "-" for none
 *                 (nothing)   no anon state: the VMA never took an anon fault
 *                 *           an anon_vma (eager; a lazy REGULAR VMA);
 *                             *X names it X
 *                 L           lazy: faulted, no anon_vma (lazy.md §3.3);
 *                             L(R) names its root R (what its folios name)
 *                 T           TREE_PARENT: a chain but no anon_vma of its
 *                             own; T(X) names the parent anon_vma X its
 *                             folios may join
 *     .         one more page: a VMA of n pages is drawn with n - 1 dots
 *     L=n       its anon_vma_chain holds n AVCs (models with chain_len:
 *               eager); unchecked when not drawn
 *     a word    a flag the VMA has: shared, growsdown, locked, dontfork,
 *               wipeonfork, dontdump, hugepage, nohugepage, file (a file
 *               mapping).  These are checked both ways: a VMA with one of
 *               them that the drawing does not show is a difference.
 *   .           (outside brackets) one unmapped page.
 *   spaces outside brackets are ignored.
 *
 * Names are an upper-case letter and optional digits (X, Y, R1).  Within one
 * assertion, or several sharing a struct tw_names, one name is one object
 * and two names are two objects: "[rw*X][rw*X]" says both VMAs have the same
 * anon_vma, "[rw*X][rw*Y]" different ones.  VMAs outside the drawn range are
 * not checked; a VMA crossing either end of it is a difference.  Protection,
 * page extents, anon state and the flag words above are always checked.
 *
 * tw_layout_check() is the same check returning -1 and the message instead
 * of failing (the self-test in test_layout.c uses it on wrong drawings).
 */
#ifndef ANONVMA_TESTS_LAYOUT_H
#define ANONVMA_TESTS_LAYOUT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evbuild.h"

#define TW_LAYOUT_MAX 64    /* items (VMAs and holes) in one drawing */
#define TW_NAMES_MAX 32

/* Names bound to objects (anon_vma ids, lazy root tokens). */
struct tw_names {
	int n;
	char name[TW_NAMES_MAX][8];
	uint64_t id[TW_NAMES_MAX];
};

struct tw_layout_item {
	bool hole;
	uint64_t pages;
	uint64_t prot;     /* VM_READ | VM_WRITE | VM_EXEC */
	char state;        /* 0, '*', 'L', 'T' */
	char name[8];      /* "" = the object is not named */
	int64_t chain;     /* -1 = not drawn */
	uint64_t flags;    /* flag words, TW_LAYOUT_FILE for "file" */
};

#define TW_LAYOUT_FILE (1ULL << 63) /* not a VM_* bit: v->file != 0 */

static const struct {
	const char *word;
	uint64_t flag;
} tw_layout_words[] = {
	{ "shared", VM_SHARED },       { "growsdown", VM_GROWSDOWN }, { "locked", VM_LOCKED },
	{ "dontfork", VM_DONTCOPY },   { "wipeonfork", VM_WIPEONFORK },
	{ "dontdump", VM_DONTDUMP },   { "hugepage", VM_HUGEPAGE },
	{ "nohugepage", VM_NOHUGEPAGE }, { "file", TW_LAYOUT_FILE },
};
#define TW_LAYOUT_NWORDS (sizeof(tw_layout_words) / sizeof(tw_layout_words[0]))

static inline uint64_t tw_layout_vflags(const struct mm_vma *v)
{
	uint64_t f = v->file ? TW_LAYOUT_FILE : 0;
	size_t i;

	for (i = 0; i < TW_LAYOUT_NWORDS; i++)
		if (tw_layout_words[i].flag != TW_LAYOUT_FILE)
			f |= v->flags & tw_layout_words[i].flag;
	return f;
}

/* A name: an upper-case letter and digits; returns its length, 0 if none. */
static inline size_t tw_layout_name(const char *s, char out[8])
{
	size_t n = 0;

	if (*s < 'A' || *s > 'Z')
		return 0;
	while (n < 7 && ((s[n] >= '0' && s[n] <= '9') || (n == 0)))
		n++;
	memcpy(out, s, n);
	out[n] = 0;
	return n;
}

/* The anon state word: "*", "*X", "L", "L(R)", "T", "T(X)"; returns chars used, 0 if not one. */
static inline size_t tw_layout_state(const char *w, size_t len, struct tw_layout_item *it)
{
	size_t n;

	if (len == 0 || (w[0] != '*' && w[0] != 'L' && w[0] != 'T'))
		return 0;
	it->state = w[0];
	it->name[0] = 0;
	if (len == 1)
		return 1;
	if (w[0] == '*') {
		n = tw_layout_name(w + 1, it->name);
		return n && 1 + n == len ? len : 0;
	}
	if (w[1] != '(')
		return 0;
	n = tw_layout_name(w + 2, it->name);
	return n && len == 3 + n && w[2 + n] == ')' ? len : 0;
}

/* Parse a drawing; -1 and msg on a malformed one. */
static inline int tw_layout_parse(const char *s, struct tw_layout_item *items, int *nitems,
				  char *msg, size_t msglen)
{
	const char *p = s;
	int n = 0;

	while (*p) {
		struct tw_layout_item *it = &items[n];

		if (*p == ' ') {
			p++;
			continue;
		}
		if (n == TW_LAYOUT_MAX) {
			snprintf(msg, msglen, "drawing \"%s\": more than %d items", s, TW_LAYOUT_MAX);
			return -1;
		}
		memset(it, 0, sizeof(*it));
		it->pages = 1;
		it->chain = -1;
		if (*p == '.') {
			it->hole = true;
			n++;
			p++;
			continue;
		}
		if (*p != '[') {
			snprintf(msg, msglen, "drawing \"%s\": '%c' at column %d is not '[', '.' or ' '",
				 s, *p, (int)(p - s));
			return -1;
		}
		p++;
		{
			const char *end = strchr(p, ']');
			int word = 0;

			if (!end) {
				snprintf(msg, msglen, "drawing \"%s\": '[' at column %d is not closed", s,
					 (int)(p - 1 - s));
				return -1;
			}
			while (p < end) {
				const char *w;
				size_t len, i;

				while (p < end && *p == ' ')
					p++;
				if (p == end)
					break;
				w = p;
				while (p < end && *p != ' ')
					p++;
				len = (size_t)(p - w);
				if (word++ == 0) {
					/* protection, then an attached state */
					size_t k = 0;

					if (w[0] == '-') {
						k = 1;
					} else {
						if (k < len && w[k] == 'r')
							it->prot |= VM_READ, k++;
						if (k < len && w[k] == 'w')
							it->prot |= VM_WRITE, k++;
						if (k < len && w[k] == 'x')
							it->prot |= VM_EXEC, k++;
					}
					if (k == 0 || (k < len && tw_layout_state(w + k, len - k, it) != len - k)) {
						snprintf(msg, msglen, "drawing \"%s\": \"%.*s\" is not a "
							 "protection and anon state", s, (int)len, w);
						return -1;
					}
					continue;
				}
				if (len == 1 && w[0] == '.') {
					it->pages++;
					continue;
				}
				if (len > 2 && w[0] == 'L' && w[1] == '=') {
					it->chain = strtoll(w + 2, NULL, 10);
					continue;
				}
				if (word == 2 && !it->state && tw_layout_state(w, len, it) == len)
					continue;
				for (i = 0; i < TW_LAYOUT_NWORDS; i++)
					if (strlen(tw_layout_words[i].word) == len &&
					    !strncmp(tw_layout_words[i].word, w, len))
						break;
				if (i == TW_LAYOUT_NWORDS) {
					snprintf(msg, msglen, "drawing \"%s\": unknown word \"%.*s\"", s,
						 (int)len, w);
					return -1;
				}
				it->flags |= tw_layout_words[i].flag;
			}
			if (!word) {
				snprintf(msg, msglen, "drawing \"%s\": an empty VMA", s);
				return -1;
			}
			p = end + 1;
		}
		n++;
	}
	*nitems = n;
	return 0;
}

/* Bind name to id, or check the binding; false if the name (or the id) is someone else's. */
static inline bool tw_names_bind(struct tw_names *nm, const char *name, uint64_t id)
{
	int i;

	for (i = 0; i < nm->n; i++) {
		if (!strcmp(nm->name[i], name))
			return nm->id[i] == id;
		if (nm->id[i] == id)
			return false;
	}
	if (nm->n == TW_NAMES_MAX)
		return false;
	snprintf(nm->name[nm->n], sizeof(nm->name[0]), "%s", name);
	nm->id[nm->n++] = id;
	return true;
}

static inline const char *tw_names_of(const struct tw_names *nm, uint64_t id)
{
	int i;

	for (i = 0; i < nm->n; i++)
		if (nm->id[i] == id)
			return nm->name[i];
	return NULL;
}

/* The drawn item of a real VMA (names left to the caller). */
static inline void tw_layout_read(struct world *w, const struct mm_vma *v, uint64_t *id,
				  struct tw_layout_item *it)
{
	const struct model_ops *ops = world_ops(w);

	memset(it, 0, sizeof(*it));
	it->pages = (v->end - v->start) / PG;
	it->prot = v->flags & (VM_READ | VM_WRITE | VM_EXEC);
	it->flags = tw_layout_vflags(v);
	it->chain = ops->chain_len && v->anon ? (int64_t)ops->chain_len(world_model(w), v) : -1;
	*id = 0;
	if (ops->draw)
		it->state = ops->draw(world_model(w), v, id);
	else
		it->state = ops->has_anon(world_model(w), v) ? '*' : 0;
}

/* Append one item's drawing to buf (at *len) and its first page number to the ruler. */
static inline void tw_layout_put(char *buf, char *ruler, size_t cap, size_t *len,
				 const struct tw_layout_item *it, bool with_chain, int64_t page)
{
	char cell[160], num[24];
	size_t i, n, r, lead = 0;

	if (it->hole) {
		lead = *len > 0 && buf[*len - 1] == ']'; /* "[rw] . [rw]", as drawn */
		snprintf(cell, sizeof(cell), "%s. ", lead ? " " : "");
	} else {
		n = (size_t)snprintf(cell, sizeof(cell), "[%s%s%s%s", it->prot ? "" : "-",
				     it->prot & VM_READ ? "r" : "", it->prot & VM_WRITE ? "w" : "",
				     it->prot & VM_EXEC ? "x" : "");
		if (it->state == '*')
			n += (size_t)snprintf(cell + n, sizeof(cell) - n, "*%s", it->name);
		else if (it->state && it->name[0])
			n += (size_t)snprintf(cell + n, sizeof(cell) - n, " %c(%s)", it->state,
					      it->name);
		else if (it->state)
			n += (size_t)snprintf(cell + n, sizeof(cell) - n, " %c", it->state);
		for (i = 0; i < TW_LAYOUT_NWORDS && n < sizeof(cell); i++)
			if (it->flags & tw_layout_words[i].flag)
				n += (size_t)snprintf(cell + n, sizeof(cell) - n, " %s",
						      tw_layout_words[i].word);
		if (with_chain && it->chain >= 0 && n < sizeof(cell))
			n += (size_t)snprintf(cell + n, sizeof(cell) - n, " L=%lld",
					      (long long)it->chain);
		for (i = 1; i < it->pages && i < 40 && n < sizeof(cell); i++)
			n += (size_t)snprintf(cell + n, sizeof(cell) - n, " .");
		if (it->pages > 40 && n < sizeof(cell))
			n += (size_t)snprintf(cell + n, sizeof(cell) - n, " ...%llu pages",
					      (unsigned long long)it->pages);
		if (n < sizeof(cell))
			snprintf(cell + n, sizeof(cell) - n, "]");
	}
	n = strlen(cell);
	if (*len + n + 1 >= cap)
		return;
	r = (size_t)snprintf(num, sizeof(num), "%lld", (long long)page);
	memcpy(buf + *len, cell, n);
	memset(ruler + *len, ' ', n);
	memcpy(ruler + *len + lead, num, r < n - lead ? r : n - lead);
	*len += n;
	buf[*len] = 0;
	ruler[*len] = 0;
}

/* 0 if mm's pages from base look as drawn; else -1 and msg (expected, actual, ruler). */
static inline int tw_layout_check_n(struct world *w, struct tw_names *names, uint64_t mm,
				    uint64_t base, const char *drawing, char *msg, size_t msglen)
{
	struct tw_layout_item exp[TW_LAYOUT_MAX], act;
	struct mm_space *s = tw_mm(w, mm);
	char ebuf[1024], eruler[1024], abuf[1024], aruler[1024], why[128] = "";
	size_t elen = 0, alen = 0;
	uint64_t addr = base, end, id;
	bool chain_drawn = false;
	int n, i, bad_page = -1;

	ebuf[0] = eruler[0] = abuf[0] = aruler[0] = 0;
	if (tw_layout_parse(drawing, exp, &n, msg, msglen))
		return -1;
	for (i = 0, end = base; i < n; i++) {
		chain_drawn |= exp[i].chain >= 0;
		end += exp[i].pages * PG;
	}
	/* compare, item by item */
	/*
	 * Every item is compared; the first difference is reported.  Names of
	 * items after it are still bound where the item matches, so the actual
	 * drawing uses the expected names as far as they apply.
	 */
	for (i = 0; i < n; i++) {
		struct mm_vma *v = s ? mm_find_vma(s, addr) : NULL;
		int64_t page = (int64_t)((addr - base) / PG);
		char diff[128] = "";

		if (exp[i].hole) {
			if (v)
				snprintf(diff, sizeof(diff), "a VMA where a hole is drawn");
		} else if (!v || v->start != addr || v->end != addr + exp[i].pages * PG) {
			snprintf(diff, sizeof(diff), "%s", !v ? "no VMA" : "the VMA's extent");
		} else {
			tw_layout_read(w, v, &id, &act);
			if (act.prot != exp[i].prot)
				snprintf(diff, sizeof(diff), "protection");
			else if (act.state != exp[i].state)
				snprintf(diff, sizeof(diff), "anon state");
			else if (act.flags != exp[i].flags)
				snprintf(diff, sizeof(diff), "flag words");
			else if (exp[i].chain >= 0 && act.chain != exp[i].chain)
				snprintf(diff, sizeof(diff), "chain length");
			else if (exp[i].name[0] && id && !tw_names_bind(names, exp[i].name, id))
				snprintf(diff, sizeof(diff), "%s names another object, or its object has "
					 "another name", exp[i].name);
		}
		if (diff[0] && bad_page < 0) {
			bad_page = (int)page;
			snprintf(why, sizeof(why), "%s", diff);
		}
		addr += exp[i].pages * PG;
	}
	/* (a VMA reaching in from the left or out to the right has a wrong extent) */
	if (bad_page < 0)
		return 0;
	/* render both, the actual one from the lowest VMA touching the range */
	for (i = 0, addr = base; i < n; i++) {
		tw_layout_put(ebuf, eruler, sizeof(ebuf), &elen, &exp[i], true,
			      (int64_t)((addr - base) / PG));
		addr += exp[i].pages * PG;
	}
	addr = base;
	if (s) {
		struct mm_vma *v = mm_find_vma(s, base);

		if (v)
			addr = v->start;
	}
	while (addr < end) {
		struct mm_vma *v = s ? mm_find_vma(s, addr) : NULL;
		int64_t page = ((int64_t)addr - (int64_t)base) / (int64_t)PG;

		if (!v) {
			struct tw_layout_item hole = { .hole = true, .pages = 1 };

			tw_layout_put(abuf, aruler, sizeof(abuf), &alen, &hole, false, page);
			addr += PG;
			continue;
		}
		tw_layout_read(w, v, &id, &act);
		if (act.state && id) {
			const char *nm = tw_names_of(names, id);
			int k;

			if (!nm) { /* unnamed so far: a fresh "?n" */
				for (k = 1; k < 100; k++) {
					if (snprintf(act.name, sizeof(act.name), "?%u", (unsigned)k % 100u) < 0 ||
					    !tw_names_bind(names, act.name, id))
						continue;
					break;
				}
			} else {
				snprintf(act.name, sizeof(act.name), "%s", nm);
			}
		}
		tw_layout_put(abuf, aruler, sizeof(abuf), &alen, &act, chain_drawn, page);
		addr = v->end;
	}
	for (elen = strlen(eruler); elen > 0 && eruler[elen - 1] == ' '; elen--)
		eruler[elen - 1] = 0; /* rulers end with their last number */
	for (alen = strlen(aruler); alen > 0 && aruler[alen - 1] == ' '; alen--)
		aruler[alen - 1] = 0;
	if (snprintf(msg, msglen, /* a longer message is cut: it still starts with the difference */
		 "layout of mm %llu from %#llx differs (page %d: %s)\n"
		 "  expected  %s\n            %s\n  actual    %s\n            %s",
		 (unsigned long long)mm, (unsigned long long)base, bad_page, why, ebuf, eruler,
		 abuf, aruler) < 0)
		msg[0] = 0;
	return -1;
}

static inline int tw_layout_check(struct world *w, uint64_t mm, uint64_t base,
				  const char *drawing, char *msg, size_t msglen)
{
	struct tw_names names = { 0 };

	return tw_layout_check_n(w, &names, mm, base, drawing, msg, msglen);
}

/* Fail the test unless mm's pages from base look as drawn (names shared through names). */
#define tw_assert_layout_n(w, names, mm, base, drawing) \
	tw_assert_layout_at((w), (names), (mm), (base), (drawing), __FILE__, __LINE__)
#define tw_assert_layout(w, mm, base, drawing) \
	tw_assert_layout_at((w), NULL, (mm), (base), (drawing), __FILE__, __LINE__)
static inline void tw_assert_layout_at(struct world *w, struct tw_names *names, uint64_t mm,
				       uint64_t base, const char *drawing, const char *file,
				       int line)
{
	struct tw_names local = { 0 };
	char msg[4096];

	if (tw_layout_check_n(w, names ? names : &local, mm, base, drawing, msg, sizeof(msg)))
		fail_msg("%s:%d: %s", file, line, msg);
}

#endif
