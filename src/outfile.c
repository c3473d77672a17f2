/*
 * outfile.c - write an output file without ever clobbering what is not ours,
 * and escape text from traces and reports (the rules are in outfile.h).
 *
 * Opening decides once, from lstat() of the name, which of two ways the file
 * is written:
 *
 *   replace   (absent or regular; or a trusted symlink to a regular file, which
 *              is resolved with realpath() so the link survives): mkostemp()
 *              of "NAME.tmp.XXXXXX" next to the target -> write -> fflush ->
 *              fsync -> rename() onto the target -> fsync of the folder.  A
 *              failure at any step unlinks the temporary file, so the old
 *              content stays whole.
 *   through   (character device, FIFO, socket): open() without O_CREAT and,
 *              for a name that is not a symlink, with O_NOFOLLOW; fstat() of
 *              the descriptor must agree that it is no regular file (a name
 *              swapped between lstat and open is refused, not truncated).
 *
 * Escaping walks the text once: a byte that starts a valid UTF-8 sequence
 * (other than U+0080..U+009F, the C1 controls) passes with its sequence,
 * printable ASCII passes, everything else is replaced (\xHH per byte; in
 * JSON, \u00HH or U+FFFD, so the JSON stays valid).
 */
#include "outfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *outfile_kind(mode_t m)
{
	if (S_ISDIR(m))
		return "a directory";
	if (S_ISBLK(m))
		return "a block device";
	if (S_ISCHR(m))
		return "a character device";
	if (S_ISFIFO(m))
		return "a FIFO";
	if (S_ISSOCK(m))
		return "a socket";
	if (S_ISLNK(m))
		return "a symlink";
	return "not a regular file";
}

/* Write through a device, FIFO or socket that is already there. */
static int outfile_open_through(struct outfile *o, const char *path, bool via_link,
				struct avm_err *err)
{
	struct stat st;
	int fd;

	fd = open(path, O_WRONLY | O_NOCTTY | O_CLOEXEC | (via_link ? 0 : O_NOFOLLOW));
	if (fd < 0)
		return avm_errf(err, "%s: cannot open: %s", o->name, strerror(errno));
	if (fstat(fd, &st) || !(S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode) ||
				S_ISSOCK(st.st_mode))) {
		close(fd);
		return avm_errf(err, "%s: changed while being opened: not writing to it", o->name);
	}
	o->f = fdopen(fd, "w");
	if (!o->f) {
		close(fd);
		return avm_errf(err, "%s: %s", o->name, strerror(errno));
	}
	return 0;
}

/* A new temporary file next to o->target, to be renamed onto it. */
static int outfile_open_replace(struct outfile *o, struct avm_err *err)
{
	const char *slash = strrchr(o->target, '/');
	int dirlen = slash ? (int)(slash - o->target) + 1 : 0;
	const char *base = o->target + dirlen;
	mode_t mask;
	int fd;

	if (!*base)
		return avm_errf(err, "%s: names a directory, not a file", o->name);
	if (snprintf(o->tmp, sizeof(o->tmp), "%s.tmp.XXXXXX", o->target) >= (int)sizeof(o->tmp)) {
		o->tmp[0] = '\0';
		return avm_errf(err, "%s: path too long", o->name);
	}
	fd = mkostemp(o->tmp, O_CLOEXEC);
	if (fd < 0) {
		o->tmp[0] = '\0';
		return avm_errf(err, "%s: cannot create its temporary file %s.tmp.*: %s", o->name,
				o->target, strerror(errno));
	}
	/* mkstemp made it 0600; an output gets the mode a plain fopen would give it */
	mask = umask(0);
	umask(mask);
	if (fchmod(fd, 0666 & ~mask)) {
		avm_errf(err, "%s: %s", o->tmp, strerror(errno));
		close(fd);
		outfile_abort(o);
		return -1;
	}
	o->f = fdopen(fd, "w");
	if (!o->f) {
		avm_errf(err, "%s: %s", o->tmp, strerror(errno));
		close(fd);
		outfile_abort(o);
		return -1;
	}
	return 0;
}

int outfile_open(struct outfile *o, const char *path, struct avm_err *err)
{
	struct stat st;
	bool via_link = false;

	memset(o, 0, sizeof(*o));
	if (!*path)
		return avm_errf(err, "empty output path");
	if (snprintf(o->name, sizeof(o->name), "%s", path) >= (int)sizeof(o->name) ||
	    snprintf(o->target, sizeof(o->target), "%s", path) >= (int)sizeof(o->target))
		return avm_errf(err, "%.64s...: path too long", path);
	if (lstat(path, &st)) {
		if (errno != ENOENT)
			return avm_errf(err, "%s: %s", path, strerror(errno));
		return outfile_open_replace(o, err);
	}
	if (S_ISLNK(st.st_mode)) {
		if (st.st_uid != geteuid() && st.st_uid != 0)
			return avm_errf(err, "%s: a symlink owned by uid %u: not following it "
					"(remove it, or name its target)", path, (unsigned)st.st_uid);
		if (stat(path, &st))
			return avm_errf(err, "%s: a symlink to nothing usable (%s): not following it",
					path, strerror(errno));
		via_link = true;
	}
	if (S_ISREG(st.st_mode)) {
		if (via_link && !realpath(path, o->target))
			return avm_errf(err, "%s: cannot resolve the symlink: %s", path,
					strerror(errno));
		return outfile_open_replace(o, err);
	}
	if (S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode))
		return outfile_open_through(o, path, via_link, err);
	return avm_errf(err, "%s: is %s: not writing onto it", path, outfile_kind(st.st_mode));
}

/* fsync the folder that holds a renamed file, so the rename survives a crash. */
static int outfile_sync_dir(struct outfile *o, struct avm_err *err)
{
	const char *slash = strrchr(o->target, '/');
	char dir[PATH_MAX];
	int fd, rc = 0;

	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else
		snprintf(dir, sizeof(dir), "%.*s", slash == o->target ? 1 : (int)(slash - o->target),
			 o->target);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return avm_errf(err, "%s: %s", dir, strerror(errno));
	/* some file systems cannot sync a folder; the file itself is synced */
	if (fsync(fd) && errno != EINVAL)
		rc = avm_errf(err, "%s: sync failed: %s", dir, strerror(errno));
	close(fd);
	return rc;
}

int outfile_commit(struct outfile *o, struct avm_err *err)
{
	int ret = -1, rc;

	if (fflush(o->f) || ferror(o->f)) {
		avm_errf(err, "%s: write failed: %s", o->name, strerror(errno));
		goto out;
	}
	if (o->tmp[0] && fsync(fileno(o->f))) {
		avm_errf(err, "%s: sync failed: %s", o->name, strerror(errno));
		goto out;
	}
	rc = fclose(o->f);
	o->f = NULL;
	if (rc) {
		avm_errf(err, "%s: write failed: %s", o->name, strerror(errno));
		goto out;
	}
	if (o->tmp[0]) {
		if (rename(o->tmp, o->target)) {
			avm_errf(err, "%s: cannot replace it: %s", o->name, strerror(errno));
			goto out;
		}
		o->tmp[0] = '\0';
		if (outfile_sync_dir(o, err))
			goto out;
	}
	ret = 0;
out:
	outfile_abort(o);
	return ret;
}

void outfile_abort(struct outfile *o)
{
	if (o->f)
		fclose(o->f);
	o->f = NULL;
	if (o->tmp[0])
		unlink(o->tmp);
	o->tmp[0] = '\0';
}

int outfile_write(const char *path, const char *text, size_t len, struct avm_err *err)
{
	struct outfile o;

	if (outfile_open(&o, path, err))
		return -1;
	if (fwrite(text, 1, len, o.f) != len) {
		avm_errf(err, "%s: write failed: %s", path, strerror(errno));
		outfile_abort(&o);
		return -1;
	}
	return outfile_commit(&o, err);
}

int outfile_check_removable(const char *path, struct avm_err *err)
{
	struct stat st;

	if (lstat(path, &st)) {
		if (errno == ENOENT)
			return 0;
		return avm_errf(err, "%s: %s", path, strerror(errno));
	}
	if (!S_ISREG(st.st_mode))
		return avm_errf(err, "%s: is %s, not a file this tool wrote: not removing it", path,
				outfile_kind(st.st_mode));
	return 0;
}

/* ---- escaping ------------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence of 2 to 4 bytes at s, or 0. */
static size_t outfile_utf8_len(const unsigned char *s)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n;

	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		lo = s[0] == 0xe0 ? 0xa0 : lo;   /* overlong */
		hi = s[0] == 0xed ? 0x9f : hi;   /* surrogates */
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		lo = s[0] == 0xf0 ? 0x90 : lo;   /* overlong */
		hi = s[0] == 0xf4 ? 0x8f : hi;   /* above U+10FFFF */
	} else {
		return 0;
	}
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

/*
 * The next piece of s: *raw bytes of s to copy as they are, or a replacement
 * in rep.  Returns how many bytes of s the piece covers.
 */
static size_t outfile_esc_next(const unsigned char *s, enum outfile_esc how, size_t *raw,
			       char rep[16])
{
	size_t n;

	*raw = 0;
	rep[0] = '\0';
	if ((s[0] >= 0x20 && s[0] < 0x7f) ||
	    ((s[0] == '\n' || s[0] == '\t') && how != OUTFILE_ESC_LINE)) {
		*raw = 1;
		return 1;
	}
	if (s[0] >= 0x80) {
		n = outfile_utf8_len(s);
		if (n && !(s[0] == 0xc2 && s[1] <= 0x9f)) {
			*raw = n;
			return n;
		}
		if (n) { /* a C1 control */
			if (how == OUTFILE_ESC_JSON)
				snprintf(rep, 16, "\\u00%02x", s[1]);
			else
				snprintf(rep, 16, "\\x%02x\\x%02x", s[0], s[1]);
			return 2;
		}
		if (how == OUTFILE_ESC_JSON)
			snprintf(rep, 16, "\\ufffd");
		else
			snprintf(rep, 16, "\\x%02x", s[0]);
		return 1;
	}
	snprintf(rep, 16, how == OUTFILE_ESC_JSON ? "\\u%04x" : "\\x%02x", s[0]);
	return 1;
}

int outfile_escape(FILE *f, const char *s, enum outfile_esc how)
{
	const unsigned char *p = (const unsigned char *)s;
	char rep[16];
	size_t raw, n;

	while (*p) {
		n = outfile_esc_next(p, how, &raw, rep);
		if (raw)
			fwrite(p, 1, raw, f);
		else
			fputs(rep, f);
		p += n;
	}
	return ferror(f) ? -1 : 0;
}

void outfile_escape_buf(char *dst, size_t size, const char *s, enum outfile_esc how)
{
	const unsigned char *p = (const unsigned char *)s;
	char rep[16];
	size_t raw, n, len, at = 0;

	if (!size)
		return;
	while (*p) {
		n = outfile_esc_next(p, how, &raw, rep);
		len = raw ? raw : strlen(rep);
		if (at + len >= size)
			break;
		memcpy(dst + at, raw ? (const char *)p : rep, len);
		at += len;
		p += n;
	}
	dst[at] = '\0';
}
