/*
 * zstdfile.c - zstd streaming compression of whole trace files; see
 * zstdfile.h.  Both directions stream through fixed buffers of zstd's
 * recommended sizes, so memory stays small whatever the file's size.
 */
#include "zstdfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zstd.h>

int zstdfile_is_zstd(const char *path, struct avm_err *err)
{
	static const unsigned char magic[4] = { 0x28, 0xb5, 0x2f, 0xfd };
	unsigned char b[4];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return avm_errf(err, "%s: cannot open: %s", path, strerror(errno));
	n = read(fd, b, sizeof(b));
	close(fd);
	if (n < 0)
		return avm_errf(err, "%s: cannot read: %s", path, strerror(errno));
	return n == (ssize_t)sizeof(b) && !memcmp(b, magic, sizeof(b));
}

/* Write all of buf to fd. */
/* read(2) that retries on EINTR: the bytes read (0 at the end), or -1 with err set. */
static ssize_t zstdfile_read(int fd, void *buf, size_t len, const char *path,
			     struct avm_err *err)
{
	for (;;) {
		ssize_t n = read(fd, buf, len);

		if (n >= 0)
			return n;
		if (errno != EINTR) {
			avm_errf(err, "%s: cannot read: %s", path, strerror(errno));
			return -1;
		}
	}
}

static int zstdfile_write(int fd, const void *buf, size_t len, const char *path,
			  struct avm_err *err)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return avm_errf(err, "%s: cannot write: %s", path, strerror(errno));
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int zstdfile_compress(const char *path, const char *out, int level,
		      const volatile sig_atomic_t *stop, struct avm_err *err)
{
	size_t inlen = ZSTD_CStreamInSize(), outlen = ZSTD_CStreamOutSize();
	char *in = malloc(inlen), *ob = malloc(outlen), tmp[4096];
	ZSTD_CCtx *cc = ZSTD_createCCtx();
	int ifd = -1, ofd = -1, rc = -1, last = 0;

	snprintf(tmp, sizeof(tmp), "%s.tmp", out);
	if (!in || !ob || !cc) {
		avm_errf(err, "%s: out of memory compressing", path);
		goto out;
	}
	ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, level);
	ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, 1);
	ifd = open(path, O_RDONLY | O_CLOEXEC);
	if (ifd < 0) {
		avm_errf(err, "%s: cannot open: %s", path, strerror(errno));
		goto out;
	}
	if (!access(out, F_OK)) {
		avm_errf(err, "%s: already exists (not overwriting it)", out);
		goto out;
	}
	ofd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (ofd < 0) {
		avm_errf(err, "%s: cannot create: %s", tmp, strerror(errno));
		goto out;
	}
	while (!last) {
		ssize_t n = zstdfile_read(ifd, in, inlen, path, err);
		ZSTD_inBuffer ib = { in, 0, 0 };

		if (n < 0)
			goto out;
		if (stop && *stop) {
			avm_errf(err, "%s: compression interrupted", path);
			goto out;
		}
		last = n == 0;
		ib.size = (size_t)n;
		for (;;) {
			ZSTD_outBuffer obuf = { ob, outlen, 0 };
			size_t left = ZSTD_compressStream2(cc, &obuf, &ib,
							   last ? ZSTD_e_end : ZSTD_e_continue);

			if (ZSTD_isError(left)) {
				avm_errf(err, "%s: zstd: %s", path, ZSTD_getErrorName(left));
				goto out;
			}
			if (zstdfile_write(ofd, ob, obuf.pos, tmp, err))
				goto out;
			if (last ? left == 0 : ib.pos == ib.size)
				break;
		}
	}
	if (fsync(ofd)) {
		avm_errf(err, "%s: cannot sync: %s", tmp, strerror(errno));
		goto out;
	}
	if (close(ofd)) {
		ofd = -1;
		avm_errf(err, "%s: cannot write: %s", tmp, strerror(errno));
		goto out;
	}
	ofd = -1;
	if (rename(tmp, out)) {
		avm_errf(err, "%s: cannot rename to %s: %s", tmp, out, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (ofd >= 0)
		close(ofd);
	if (rc)
		unlink(tmp);
	if (ifd >= 0)
		close(ifd);
	ZSTD_freeCCtx(cc);
	free(in);
	free(ob);
	return rc;
}

int zstdfile_decompress_fd(const char *path, int fd, const volatile sig_atomic_t *stop,
			   struct avm_err *err)
{
	size_t inlen = ZSTD_DStreamInSize(), outlen = ZSTD_DStreamOutSize();
	char *in = malloc(inlen), *ob = malloc(outlen);
	ZSTD_DCtx *dc = ZSTD_createDCtx();
	size_t left = 1;
	int ifd = -1, rc = -1;

	if (!in || !ob || !dc) {
		avm_errf(err, "%s: out of memory decompressing", path);
		goto out;
	}
	ifd = open(path, O_RDONLY | O_CLOEXEC);
	if (ifd < 0) {
		avm_errf(err, "%s: cannot open: %s", path, strerror(errno));
		goto out;
	}
	for (;;) {
		ssize_t n = zstdfile_read(ifd, in, inlen, path, err);
		ZSTD_inBuffer ib = { in, 0, 0 };

		if (n < 0)
			goto out;
		if (n == 0)
			break;
		if (stop && *stop) {
			avm_errf(err, "%s: decompression interrupted", path);
			goto out;
		}
		ib.size = (size_t)n;
		for (;;) {
			ZSTD_outBuffer obuf = { ob, outlen, 0 };

			left = ZSTD_decompressStream(dc, &obuf, &ib);
			if (ZSTD_isError(left)) {
				avm_errf(err, "%s: not a valid zstd file: %s", path,
					 ZSTD_getErrorName(left));
				goto out;
			}
			if (zstdfile_write(fd, ob, obuf.pos, "the temporary trace", err))
				goto out;
			/*
			 * Input used up: done when the frame ended (left 0: calling
			 * again would start reading a next frame) or when the output
			 * was not filled; a full output buffer may hold back more.
			 */
			if (ib.pos == ib.size && (left == 0 || obuf.pos < obuf.size))
				break;
		}
	}
	if (left != 0) {
		avm_errf(err, "%s: truncated zstd file (the compressed segment is incomplete)", path);
		goto out;
	}
	rc = 0;
out:
	if (ifd >= 0)
		close(ifd);
	ZSTD_freeDCtx(dc);
	free(in);
	free(ob);
	return rc;
}
