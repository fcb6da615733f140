/**
 * @file sendlimit.c  A plain C RTP sender, as fast as one core goes
 *
 * See sendlimit.h.  Every socket keeps its own sequence number and
 * timestamp, so that the receiver sees one ordinary RTP source per
 * socket and counts its losses as it does the streamer's.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include "sendlimit.h"
#include "benchtime.h"

enum {
	PKT_LEN = 12 + 160,
	MAX_BATCH = 64,
	CLOCK_EVERY = 64,             /* sendmmsg() calls between two looks */
};

struct src {
	int fd;
	uint16_t seq;
	uint32_t ts;
};


static int src_open(struct src *s, const struct sockaddr_in *dst,
		    unsigned i)
{
	struct sockaddr_in sin;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

	s->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s->fd < 0)
		return errno;

	if (bind(s->fd, (struct sockaddr *)&sin, sizeof(sin)) ||
	    connect(s->fd, (const struct sockaddr *)dst, sizeof(*dst)))
		return errno;

	s->seq = (uint16_t)(i * 7919u);
	s->ts = i * 104729u;

	return 0;
}


int sendlimit_run(const struct sockaddr_in *dst, unsigned ndst,
		  unsigned nsock, unsigned batch, uint32_t ms,
		  struct sendlimit *r)
{
	static uint8_t pkt[MAX_BATCH][PKT_LEN];
	struct mmsghdr msgs[MAX_BATCH];
	struct iovec iov[MAX_BATCH];
	struct src *s;
	uint64_t t0, c0, end;
	unsigned calls = 0, i = 0;
	int err = 0;

	if (!dst || !ndst || !nsock || !batch || batch > MAX_BATCH || !r)
		return EINVAL;

	memset(r, 0, sizeof(*r));
	s = calloc(nsock, sizeof(*s));
	if (!s)
		return ENOMEM;
	for (unsigned k = 0; k < nsock; k++)
		s[k].fd = -1;

	for (unsigned k = 0; k < nsock && !err; k++)
		err = src_open(&s[k], &dst[k % ndst], k);
	if (err)
		goto out;

	/* The payload is constant silence; only the headers change. */
	memset(msgs, 0, sizeof(msgs));
	for (unsigned k = 0; k < batch; k++) {
		memset(pkt[k], 0xff, PKT_LEN);
		pkt[k][0] = 0x80;
		pkt[k][1] = 0;
		memset(pkt[k] + 8, 0x5a, 4);          /* SSRC */
		iov[k].iov_base = pkt[k];
		iov[k].iov_len = PKT_LEN;
		msgs[k].msg_hdr.msg_iov = &iov[k];
		msgs[k].msg_hdr.msg_iovlen = 1;
	}

	c0 = bench_cpu_us();
	t0 = bench_mono_us();
	end = t0 + (uint64_t)ms * 1000u;

	for (;;) {
		struct src *x = &s[i];
		int n;

		for (unsigned k = 0; k < batch; k++) {
			uint16_t seq = x->seq++;
			uint32_t ts = x->ts;

			x->ts += 160;
			pkt[k][2] = (uint8_t)(seq >> 8);
			pkt[k][3] = (uint8_t)seq;
			pkt[k][4] = (uint8_t)(ts >> 24);
			pkt[k][5] = (uint8_t)(ts >> 16);
			pkt[k][6] = (uint8_t)(ts >> 8);
			pkt[k][7] = (uint8_t)ts;
		}

		n = sendmmsg(x->fd, msgs, batch, 0);
		if (n > 0)
			r->packets += (uint64_t)n;
		if (n < (int)batch) {
			/* What did not go out leaves no gap in the sequence. */
			unsigned back = batch - (unsigned)(n > 0 ? n : 0);

			x->seq = (uint16_t)(x->seq - back);
			x->ts -= 160u * back;
			++r->errors;
		}

		if (++i == nsock)
			i = 0;
		if (++calls % CLOCK_EVERY == 0 && bench_mono_us() >= end)
			break;
	}

	r->wall_us = bench_mono_us() - t0;
	r->cpu_us = bench_cpu_us() - c0;

 out:
	for (unsigned k = 0; k < nsock; k++) {
		if (s[k].fd >= 0)
			close(s[k].fd);
	}
	free(s);

	return err;
}
