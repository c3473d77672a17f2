/*
 * redact.c - pseudonyms for hostnames and paths; see redact.h for the rules.
 *
 * Three maps (hostnames, file names, folders) from the real value to its
 * pseudonym, numbered in the order the values are met.  One pass over the
 * tree: keys "hostname"/"host" and "file"/"report" first (so a hostname is
 * known before the strings that mention it further down the same report),
 * then every other string.  Substring replacement covers the hostnames met
 * so far; a hostname shorter than 3 characters is not searched for inside
 * other strings (it would match ordinary words).
 */
#include "redact.h"

#include "strmap.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct redact {
	struct strmap host, file, dir;
	size_t nhost, nfile, ndir;
	char **hosts;           /* the real hostnames, for substring search */
};

int redact_new(struct redact **out, struct avm_err *err)
{
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : avm_errf(err, "redact: out of memory");
}

void redact_free(struct redact *r)
{
	if (!r)
		return;
	strmap_free(&r->host, free);
	strmap_free(&r->file, free);
	strmap_free(&r->dir, free);
	free(r->hosts);
	free(r);
}

/* The pseudonym of v in map m ("<prefix>-N"), made on first sight. */
static const char *redact_name(struct strmap *m, size_t *n, const char *prefix, const char *v)
{
	char buf[64], *s = strmap_get(m, v);

	if (s)
		return s;
	snprintf(buf, sizeof(buf), "%s-%zu", prefix, ++*n);
	s = strdup(buf);
	if (!s || strmap_put(m, v, s)) {
		free(s);
		return NULL;
	}
	return s;
}

static const char *redact_host(struct redact *r, const char *v)
{
	bool known = strmap_has(&r->host, v);
	const char *p = redact_name(&r->host, &r->nhost, "host", v);
	char **hs;

	if (!p || known)
		return p;
	hs = realloc(r->hosts, r->nhost * sizeof(*hs));
	if (!hs)
		return NULL;
	r->hosts = hs;
	/* the map owns the key; find it again for a stable pointer */
	for (size_t i = 0; i < r->host.cap; i++)
		if (r->host.slot[i].key && !strcmp(r->host.slot[i].key, v))
			hs[r->nhost - 1] = r->host.slot[i].key;
	return p;
}

/* "/a/b/name" -> "dir-N/name" (the folders are the part that names a company). */
static char *redact_path(struct redact *r, const char *v)
{
	const char *slash = strrchr(v, '/');
	char *dir = strndup(v, (size_t)(slash - v)), *out = NULL;
	const char *p = dir ? redact_name(&r->dir, &r->ndir, "dir", *dir ? dir : "/") : NULL;

	if (p && asprintf(&out, "%s/%s", p, slash + 1) < 0)
		out = NULL;
	free(dir);
	return out;
}

/* s with every known hostname replaced (NULL: none found, or out of memory with *oom). */
static char *redact_mentions(struct redact *r, const char *s, bool *oom)
{
	char *cur = NULL;

	for (size_t i = 0; i < r->nhost; i++) {
		const char *h = r->hosts[i], *src = cur ? cur : s, *at;
		const char *p = strmap_get(&r->host, h);
		size_t hl = strlen(h), pl = strlen(p), n = 0;
		char *o, *w;

		if (hl < 3 || !strstr(src, h))
			continue;
		for (at = strstr(src, h); at; at = strstr(at + hl, h))
			n++;
		o = malloc(strlen(src) + n * (pl > hl ? pl - hl : 0) + 1);
		if (!o) {
			*oom = true;
			free(cur);
			return NULL;
		}
		w = o;
		for (at = strstr(src, h); at; at = strstr(src, h)) {
			memcpy(w, src, (size_t)(at - src));
			w += at - src;
			memcpy(w, p, pl);
			w += pl;
			src = at + hl;
		}
		strcpy(w, src);
		free(cur);
		cur = o;
	}
	return cur;
}

static int redact_set(cJSON *node, const char *v, struct avm_err *err)
{
	if (!v || !cJSON_SetValuestring(node, v))
		return avm_errf(err, "redact: out of memory");
	return 0;
}

/* Pass 1: the keys that name hosts and files. */
static int redact_names(struct redact *r, cJSON *node, struct avm_err *err)
{
	cJSON *c;

	cJSON_ArrayForEach(c, node) {
		if (cJSON_IsString(c) && c->string &&
		    (!strcmp(c->string, "hostname") || !strcmp(c->string, "host"))) {
			if (redact_set(c, redact_host(r, c->valuestring), err))
				return -1;
		} else if (cJSON_IsString(c) && c->string &&
			   (!strcmp(c->string, "file") || !strcmp(c->string, "report"))) {
			if (redact_set(c, redact_name(&r->file, &r->nfile, "file", c->valuestring), err))
				return -1;
		} else if ((cJSON_IsObject(c) || cJSON_IsArray(c)) && redact_names(r, c, err)) {
			return -1;
		}
	}
	return 0;
}

/* Pass 2: paths and mentions of hostnames in every other string. */
static int redact_rest(struct redact *r, cJSON *node, struct avm_err *err)
{
	cJSON *c;

	cJSON_ArrayForEach(c, node) {
		if (cJSON_IsString(c) && c->valuestring[0] == '/') {
			char *p = redact_path(r, c->valuestring);
			int bad = redact_set(c, p, err);

			free(p);
			if (bad)
				return -1;
		} else if (cJSON_IsString(c)) {
			bool oom = false;
			char *s = redact_mentions(r, c->valuestring, &oom);

			if (oom)
				return avm_errf(err, "redact: out of memory");
			if (s) {
				int bad = redact_set(c, s, err);

				free(s);
				if (bad)
					return -1;
			}
		} else if ((cJSON_IsObject(c) || cJSON_IsArray(c)) && redact_rest(r, c, err)) {
			return -1;
		}
	}
	return 0;
}

int redact_json(struct redact *r, cJSON *node, struct avm_err *err)
{
	if (redact_names(r, node, err) || redact_rest(r, node, err))
		return -1;
	return 0;
}
