/*
 * report_main.c - anonvma-report: read reports written by anonvma-replay.
 *
 *   anonvma-report report.json             text summary of one host
 *   anonvma-report a.json b.json ...       fleet view: totals over hosts and
 *                                          the distribution of savings
 *   anonvma-report --merge -o fleet.json DIR @list a.json ...
 *   anonvma-report --diff A.json B.json [-o diff.json]
 *   anonvma-report --html page.html report.json
 *
 * A single report is loaded whole.  A merge streams: the inputs (files, the
 * *.json of a directory, the lines of an @list file) are expanded to a list
 * of names first, then each is loaded, added to the fleet (fleet.h) and
 * freed, so memory stays flat in the number of reports.  A bad input is
 * named in one line and nothing is written: outputs are written through
 * outfile.h (temporary file + rename) only once the merge succeeded (the
 * --jsonl lines go to a temporary file that is committed at the end).
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fleet.h"
#include "html.h"
#include "outfile.h"
#include "redact.h"
#include "repdiff.h"
#include "report.h"
#include "version.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: anonvma-report [options] report.json|DIR|@LIST...\n"
		"       anonvma-report --diff A.json B.json [-o diff.json]\n"
		"\n"
		"Summarise reports written by anonvma-replay.  One report: its text summary.\n"
		"Several reports (one per host), a directory of them (its *.json) or an @LIST file\n"
		"(one path per line): a fleet view with totals over the hosts and the spread of\n"
		"the lazy model's saving across them.  Fleet reports merge again (sites, then a\n"
		"fleet); a second report of one trace (same trace id) is counted once.\n"
		"\n"
		"options:\n"
		"  --merge        merge even a single report into a fleet view\n"
		"  -o FILE        write the fleet view (or, with --diff, the diff) as JSON\n"
		"  --json         print JSON (the report, the fleet view or the diff) instead of text\n"
		"  --jsonl FILE   with a merge: one flat JSON line per host (for SQL engines)\n"
		"  --diff         compare two reports key by key (A, then B)\n"
		"  --html FILE    write a self-contained HTML page with charts of the result\n"
		"  --redact       replace hostnames and paths (host-1, dir-1/...) in every output\n"
		"  -h, --help     this help\n"
		"  --version      the version\n"
		"\n"
		"examples:\n"
		"  anonvma-report build.json                       # text summary of one report\n"
		"  anonvma-report hostA.json hostB.json hostC.json # fleet: totals, spread of savings\n"
		"  anonvma-report --merge -o site1.json reports/   # a site's fleet report\n"
		"  anonvma-report -o fleet.json site1.json site2.json # merge the sites\n"
		"  anonvma-report --jsonl hosts.jsonl @hosts.txt   # one line per host for sqlite3\n"
		"  anonvma-report --diff before.json after.json    # what a config change moved\n"
		"  anonvma-report --html build.html build.json     # charts in one page\n"
		"  anonvma-report --redact --json fleet.json       # to share outside the company\n"
		"  anonvma-report --json build.json | jq .verdict  # one key of a report\n"
		"\n"
		"man anonvma-report; every key: docs/report.md\n");
}

/* A growing list of input names. */
struct names {
	char **v;
	size_t n, cap;
};

static int names_add(struct names *ns, const char *s, struct avm_err *err)
{
	if (ns->n == ns->cap) {
		size_t cap = ns->cap ? ns->cap * 2 : 64;
		char **v = realloc(ns->v, cap * sizeof(*v));

		if (!v)
			return avm_errf(err, "out of memory");
		ns->v = v;
		ns->cap = cap;
	}
	ns->v[ns->n] = strdup(s);
	if (!ns->v[ns->n])
		return avm_errf(err, "out of memory");
	ns->n++;
	return 0;
}

static int names_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* DIR: its *.json files, sorted by name. */
static int names_dir(struct names *ns, const char *dir, struct avm_err *err)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t first = ns->n;
	char path[4096];
	int ret = 0;

	if (!d)
		return avm_errf(err, "%s: %s", dir, strerror(errno));
	for (e = readdir(d); !ret && e; e = readdir(d)) {
		size_t l = strlen(e->d_name);

		if (l < 6 || strcmp(e->d_name + l - 5, ".json") || e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/",
			 e->d_name);
		ret = names_add(ns, path, err);
	}
	closedir(d);
	if (!ret && ns->n == first)
		ret = avm_errf(err, "%s: no *.json report in this directory", dir);
	if (!ret)
		qsort(ns->v + first, ns->n - first, sizeof(*ns->v), names_cmp);
	return ret;
}

/* @LIST: one path per line; empty lines and lines starting with # are skipped. */
static int names_list(struct names *ns, const char *list, struct avm_err *err)
{
	FILE *f = fopen(list, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int ret = 0;

	if (!f)
		return avm_errf(err, "@%s: %s", list, strerror(errno));
	for (len = getline(&line, &cap, f); !ret && len >= 0; len = getline(&line, &cap, f)) {
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (len == 0 || line[0] == '#')
			continue;
		ret = names_add(ns, line, err);
	}
	if (!ret && ferror(f))
		ret = avm_errf(err, "@%s: read failed", list);
	free(line);
	fclose(f);
	return ret;
}

static int names_expand(struct names *ns, const char *arg, struct avm_err *err)
{
	struct stat st;

	if (arg[0] == '@')
		return names_list(ns, arg + 1, err);
	if (!stat(arg, &st) && S_ISDIR(st.st_mode))
		return names_dir(ns, arg, err);
	return names_add(ns, arg, err);
}

static int print_json(const cJSON *j, struct avm_err *err)
{
	char *text = cJSON_Print(j);

	if (!text)
		return avm_errf(err, "out of memory");
	outfile_escape(stdout, text, OUTFILE_ESC_JSON);
	putchar('\n');
	cJSON_free(text);
	return 0;
}

/* The fleet of every input, streamed; --jsonl lines to jsonl_path. */
static int merge_all(const struct names *ns, const char *jsonl_path, struct redact *rd,
		     cJSON **out, struct avm_err *err)
{
	struct fleet_opts o = { .warn = stderr, .redact = rd };
	struct outfile jl;
	struct fleet *f = NULL;
	bool jl_open = false;
	int ret = -1;

	if (jsonl_path) {
		if (outfile_open(&jl, jsonl_path, err))
			return -1;
		jl_open = true;
		o.jsonl = jl.f;
	}
	if (fleet_new(&o, &f, err))
		goto out;
	for (size_t i = 0; i < ns->n; i++) {
		cJSON *r = NULL;
		int added;

		if (report_load(ns->v[i], &r, err))
			goto out;
		added = fleet_add(f, r, ns->v[i], err);
		cJSON_Delete(r);
		if (added < 0)
			goto out;
	}
	if (fleet_finish(f, out, err))
		goto out;
	if (jl_open) {
		jl_open = false;
		if (outfile_commit(&jl, err))
			goto out;
	}
	ret = 0;
out:
	if (jl_open)
		outfile_abort(&jl);
	fleet_free(f);
	return ret;
}

static int run_diff(const struct names *ns, const char *out_path, bool json, struct redact *rd,
		    struct avm_err *err)
{
	cJSON *a = NULL, *b = NULL, *d = NULL;
	int ret = -1;

	if (ns->n != 2) {
		avm_errf(err, "--diff compares two reports, %zu given", ns->n);
		return -2;
	}
	if (report_load(ns->v[0], &a, err) || report_load(ns->v[1], &b, err))
		goto out;
	/* redact the reports first: the diff holds their values under its own keys */
	if (rd && (redact_json(rd, a, err) || redact_json(rd, b, err)))
		goto out;
	if (repdiff_build(a, b, ns->v[0], ns->v[1], &d, err) || (rd && redact_json(rd, d, err)))
		goto out;
	if (out_path && report_write(d, out_path, err))
		goto out;
	if (json) {
		if (print_json(d, err))
			goto out;
	} else {
		/* names and keys come from the reports: escaped like the summary */
		char *text = NULL;
		size_t len = 0;
		FILE *mem = open_memstream(&text, &len);
		int bad;

		if (!mem) {
			avm_errf(err, "out of memory");
			goto out;
		}
		bad = repdiff_print(d, mem, err);
		bad |= fclose(mem) != 0;
		if (!bad)
			outfile_escape(stdout, text, OUTFILE_ESC_TEXT);
		free(text);
		if (bad) {
			if (!err->msg[0])
				avm_errf(err, "out of memory");
			goto out;
		}
	}
	ret = 0;
out:
	cJSON_Delete(a);
	cJSON_Delete(b);
	cJSON_Delete(d);
	return ret;
}

int main(int argc, char **argv)
{
	enum { OPT_JSONL = 256, OPT_DIFF, OPT_HTML, OPT_REDACT };
	static const struct option opts[] = {
		{ "merge", no_argument, NULL, 'm' },
		{ "json", no_argument, NULL, 'j' },
		{ "jsonl", required_argument, NULL, OPT_JSONL },
		{ "diff", no_argument, NULL, OPT_DIFF },
		{ "html", required_argument, NULL, OPT_HTML },
		{ "redact", no_argument, NULL, OPT_REDACT },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct avm_err err = { "" };
	struct names ns = { 0 };
	struct redact *rd = NULL;
	cJSON *shown = NULL;
	const char *out_path = NULL, *jsonl_path = NULL, *html_path = NULL;
	bool merge = false, json = false, diff = false, redact = false;
	int c, ret = 1;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":ho:", opts, NULL)) != -1) {
		switch (c) {
		case 'm': merge = true; break;
		case 'j': json = true; break;
		case 'o': out_path = optarg; break;
		case OPT_JSONL: jsonl_path = optarg; break;
		case OPT_DIFF: diff = true; break;
		case OPT_HTML: html_path = optarg; break;
		case OPT_REDACT: redact = true; break;
		case 'h': usage(stdout); return 0;
		case 'V': avm_version_print(stdout, "anonvma-report"); return 0;
		case ':':
			fprintf(stderr, "anonvma-report: option %s needs a value (see --help)\n",
				argv[optind - 1]);
			return 2;
		default:
			fprintf(stderr, "anonvma-report: unknown option '%s' (see --help)\n",
				argv[optind - 1]);
			return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "anonvma-report: no report given (see --help)\n");
		return 2;
	}
	if (diff && (merge || jsonl_path || html_path)) {
		fprintf(stderr, "anonvma-report: --diff compares two reports: no --merge, --jsonl or "
				"--html with it\n");
		return 2;
	}
	for (int i = optind; i < argc; i++) {
		struct stat st;

		/* a directory or a list is a fleet even when it holds one report */
		if (argv[i][0] == '@' || (!stat(argv[i], &st) && S_ISDIR(st.st_mode)))
			merge = true;
		if (names_expand(&ns, argv[i], &err))
			goto out;
	}
	if (redact && redact_new(&rd, &err))
		goto out;
	if (diff) {
		int r = run_diff(&ns, out_path, json, rd, &err);

		if (r == -2) {
			fprintf(stderr, "anonvma-report: %s\n", err.msg);
			ret = 2;
			goto done;
		}
		ret = r ? 1 : 0;
		goto out;
	}
	if (ns.n > 1)
		merge = true;
	if ((out_path || jsonl_path) && !merge) {
		fprintf(stderr, "anonvma-report: -o and --jsonl write a fleet view: give several "
				"reports, a directory, an @list or --merge\n");
		ret = 2;
		goto done;
	}
	if (merge) {
		if (merge_all(&ns, jsonl_path, rd, &shown, &err))
			goto out;
	} else if (report_load(ns.v[0], &shown, &err)) {
		goto out;
	}
	if (rd && redact_json(rd, shown, &err))
		goto out;
	if (out_path && report_write(shown, out_path, &err))
		goto out;
	if (html_path && html_write(shown, html_path, &err))
		goto out;
	if (json ? print_json(shown, &err) : report_summary(shown, stdout, &err))
		goto out;
	if (fflush(stdout)) {
		snprintf(err.msg, sizeof(err.msg), "cannot write to stdout");
		goto out;
	}
	ret = 0;
out:
	if (ret) {
		fprintf(stderr, "anonvma-report: ");
		outfile_escape(stderr, err.msg, OUTFILE_ESC_LINE);
		fputc('\n', stderr);
	}
done:
	for (size_t i = 0; i < ns.n; i++)
		free(ns.v[i]);
	free(ns.v);
	redact_free(rd);
	cJSON_Delete(shown);
	return ret;
}
