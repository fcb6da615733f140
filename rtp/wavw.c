/**
 * @file wavw.c  16-bit PCM mono WAV files, for what a client received
 *
 * The canonical 44-byte header (RIFF, a 16-byte "fmt " chunk of format
 * PCM, the "data" chunk) and the samples, all little-endian whatever the
 * host is.  A file is written under path.tmp and renamed over path once
 * it is complete and on the disk, so a reader (or a report that links to
 * it) never finds half a file: path is the whole file or is not there.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <re.h>
#include "rtp/rtpep.h"

enum {
	HDR_SIZE = 44,
	CHUNK = 4096,             /* bytes converted per write */
};

/* The RIFF size field counts the file less its first 8 bytes. */
#define DATA_MAX ((size_t)UINT32_MAX - (HDR_SIZE - 8))


static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}


static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}


static int check(const int16_t *pcm, size_t n, uint32_t rate)
{
	if ((!pcm && n) || !rate || rate > UINT32_MAX / 2)
		return EINVAL;
	if (n > DATA_MAX / 2)
		return EFBIG;

	return 0;
}


static void header(uint8_t h[HDR_SIZE], size_t n, uint32_t rate)
{
	uint32_t data = (uint32_t)(2 * n);

	memcpy(h, "RIFF", 4);
	put32(h + 4, HDR_SIZE - 8 + data);
	memcpy(h + 8, "WAVEfmt ", 8);
	put32(h + 16, 16);
	put16(h + 20, 1);                 /* PCM */
	put16(h + 22, 1);                 /* mono */
	put32(h + 24, rate);
	put32(h + 28, rate * 2);          /* bytes per second */
	put16(h + 32, 2);                 /* bytes per frame */
	put16(h + 34, 16);
	memcpy(h + 36, "data", 4);
	put32(h + 40, data);
}


/* Samples [i, i + m) as little-endian bytes into b. */
static void samples(uint8_t *b, const int16_t *pcm, size_t i, size_t m)
{
	for (size_t j = 0; j < m; j++)
		put16(b + 2 * j, (uint16_t)pcm[i + j]);
}


int wavw_mbuf(struct mbuf *mb, const int16_t *pcm, size_t n, uint32_t rate)
{
	uint8_t h[HDR_SIZE];
	int err;

	if (!mb)
		return EINVAL;
	err = check(pcm, n, rate);
	if (err)
		return err;

	/* Room for all of it first: nothing is written when there is
	 * none. */
	if (mb->size < mb->pos + HDR_SIZE + 2 * n) {
		err = mbuf_resize(mb, mb->pos + HDR_SIZE + 2 * n);
		if (err)
			return err;
	}

	header(h, n, rate);
	err = mbuf_write_mem(mb, h, sizeof(h));
	if (err)
		return err;

	samples(mb->buf + mb->pos, pcm, 0, n);
	mb->pos += 2 * n;
	if (mb->end < mb->pos)
		mb->end = mb->pos;

	return 0;
}


static int write_all(int fd, const uint8_t *b, size_t len)
{
	while (len) {
		ssize_t w = write(fd, b, len);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return errno;
		}

		b += w;
		len -= (size_t)w;
	}

	return 0;
}


int wavw_write(const char *path, const int16_t *pcm, size_t n, uint32_t rate)
{
	uint8_t b[CHUNK];
	char *tmp = NULL;
	int fd, err;

	if (!path || !*path)
		return EINVAL;
	err = check(pcm, n, rate);
	if (err)
		return err;

	err = re_sdprintf(&tmp, "%s.tmp", path);
	if (err)
		return err;

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		err = errno;
		goto out;
	}

	header(b, n, rate);
	err = write_all(fd, b, HDR_SIZE);

	for (size_t i = 0; !err && i < n; i += CHUNK / 2) {
		size_t m = n - i < CHUNK / 2 ? n - i : CHUNK / 2;

		samples(b, pcm, i, m);
		err = write_all(fd, b, 2 * m);
	}

	/* On the disk before it takes the name, so that a crash leaves the
	 * old file or the new one, never an empty one. */
	if (!err && fsync(fd) < 0)
		err = errno;
	if (close(fd) < 0 && !err)
		err = errno;
	if (!err && rename(tmp, path) < 0)
		err = errno;
	if (err)
		(void)unlink(tmp);

 out:
	mem_deref(tmp);

	return err;
}
