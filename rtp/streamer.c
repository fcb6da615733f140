/**
 * @file streamer.c  The RTP streamer: every stream sent from one timer tick
 *
 * One streamer serves the whole process.  It owns a port range and one
 * libre timer; a stream owns an RTP socket on an even port and an RTCP
 * socket on the odd port above it.  While any stream runs, the timer
 * ticks every TICK_MS and sends, for every running stream, the frames that
 * are due by the stream's own clock: frame k is due FRAME_MS * k after the
 * stream started.  So the cost of thousands of streams is one timer, and a
 * stream's packet times and RTP timestamps follow wall time no matter how
 * late a tick comes.
 *
 * A packet is a 12-byte header kept in the stream plus a pointer into the
 * media's shared, immutable frame buffer: sendmmsg() gathers the two, so
 * the payload is never copied.  The sockets are libre's (udp_listen), so
 * they live on the project's libevent loop through core/loop.c like every
 * other socket; their incoming packets are read and dropped.
 *
 * The RTP socket is connected to the destination.  Linux reports an ICMP
 * port unreachable only on a connected UDP socket: as ECONNREFUSED from
 * the next send, or from the next read, which libre hands to the socket's
 * error handler.  Either way the stream stops and says so once.
 *
 * The packet types and the SDES item come from libre's re_rtp.h; the
 * packets themselves are built here, a few fixed fields each.
 */
#include <errno.h>
#include <string.h>
#include <time.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <re.h>
#include "core/core.h"
#include "rtp/rtp.h"

enum {
	TICK_MS = 10,             /* the one timer's period */
	FRAME_MS = 20,            /* one frame of MEDIA_FRAME_SAMPLES */
	MAX_BURST = 5,            /* most frames one stream sends per tick */
	RTP_HDR_SIZE = 12,
	RTCP_INTERVAL_MS = 5000,
	CNAME_MAX = 64,
	/* SR (28) + SDES header and SSRC (8) + CNAME item (2 + 64) with its
	 * end and padding (4) + BYE (8). */
	RTCP_MAX = 28 + 8 + 2 + CNAME_MAX + 4 + 8,
};

/* Seconds from the NTP epoch (1900) to the Unix epoch (1970). */
#define NTP_UNIX_OFFSET 2208988800UL

struct streamer {
	struct sa ip;             /* the address streams bind, port unused */
	struct sa announce;       /* the address they name, or unset */
	uint16_t first;           /* the lowest even port of the range */
	unsigned npairs;          /* RTP/RTCP port pairs in the range */
	unsigned next;            /* pair the next scan starts at */
	uint32_t rtcp_ms;         /* sender report interval */
	char cname[CNAME_MAX];    /* SDES CNAME of every stream */
	struct tmr tmr;           /* the tick, armed while any stream runs */
	struct list running;      /* struct stream, running only */
};

struct stream {
	struct le le;             /* in streamer->running while running */
	struct streamer *st;      /* referenced */
	struct udp_sock *rtp;
	struct udp_sock *rtcp;
	struct sa laddr;          /* local RTP address, as announced */
	struct sa dst;            /* RTP destination */
	struct sa dst_rtcp;       /* its port + 1 */
	struct media *m;          /* referenced while running */
	uint8_t pt;
	bool running;
	bool started;             /* sent anything since allocation */
	bool marker;              /* the next packet starts a talkspurt */
	uint16_t seq;             /* sequence number of the next packet */
	uint32_t ssrc;
	uint32_t ts0;             /* RTP timestamp of frame 0 of this run */
	uint64_t t0;              /* loop_now_ms() of frame 0 of this run */
	uint32_t k;               /* next frame of this run */
	uint32_t ts_last;         /* timestamp of the last packet sent */
	uint64_t rtcp_next;       /* loop_now_ms() of the next SR */
	struct stream_stats stats;
	uint8_t hdr[MAX_BURST][RTP_HDR_SIZE];
};


static void tick(void *arg);


static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}


static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}


/* The RTP clock (8 kHz) of this run at loop time now. */
static uint32_t ts_at(const struct stream *s, uint64_t now)
{
	return s->ts0 + (uint32_t)((now - s->t0) * (MEDIA_SRATE / 1000));
}


/*
 * A compound RTCP packet: a sender report and an SDES CNAME, as RFC 3550
 * section 6.1 requires of every compound packet, then a BYE when the
 * stream ends.  RTCP is best effort: a failed send is only logged.
 */
static void rtcp_send(struct stream *s, uint64_t now, bool bye)
{
	uint8_t b[RTCP_MAX];
	size_t n = 0, clen = strlen(s->st->cname), chunk;
	struct timespec tp;
	uint64_t frac;
	int fd;

	(void)clock_gettime(CLOCK_REALTIME, &tp);
	frac = ((uint64_t)tp.tv_nsec << 32) / 1000000000u;

	/* SR: V=2, no reception report blocks, length 6 words. */
	b[n++] = 0x80;
	b[n++] = RTCP_SR;
	put16(&b[n], 6);
	n += 2;
	put32(&b[n], s->ssrc);
	n += 4;
	put32(&b[n], (uint32_t)((uint64_t)tp.tv_sec + NTP_UNIX_OFFSET));
	n += 4;
	put32(&b[n], (uint32_t)frac);
	n += 4;
	put32(&b[n], ts_at(s, now));
	n += 4;
	put32(&b[n], s->stats.packets);
	n += 4;
	put32(&b[n], s->stats.octets);
	n += 4;

	/* SDES: one chunk, the CNAME item, a null end item, padded to
	 * a 32-bit boundary. */
	chunk = (4 + 2 + clen + 1 + 3) & ~(size_t)3;
	b[n++] = 0x81;
	b[n++] = RTCP_SDES;
	put16(&b[n], (uint16_t)((4 + chunk) / 4 - 1));
	n += 2;
	put32(&b[n], s->ssrc);
	n += 4;
	b[n++] = RTCP_SDES_CNAME;
	b[n++] = (uint8_t)clen;
	memcpy(&b[n], s->st->cname, clen);
	n += clen;
	memset(&b[n], 0, chunk - 4 - 2 - clen);
	n += chunk - 4 - 2 - clen;

	if (bye) {
		b[n++] = 0x81;
		b[n++] = RTCP_BYE;
		put16(&b[n], 1);
		n += 2;
		put32(&b[n], s->ssrc);
		n += 4;
	}

	fd = udp_sock_fd(s->rtcp, sa_af(&s->dst_rtcp));
	if (sendto(fd, b, n, 0, &s->dst_rtcp.u.sa, s->dst_rtcp.len) < 0) {
		int err = errno;

		LOGD(SUB_RTP, "stream %08x: RTCP to %J: %m", s->ssrc,
		     &s->dst_rtcp, err);
		return;
	}

	/* The SR in front of a BYE counts too: it is one more report. */
	++s->stats.rtcp_sr;
}


/* Takes a running stream off the tick; the timer rests with the last. */
static void halt(struct stream *s)
{
	struct streamer *st = s->st;

	s->running = false;
	list_unlink(&s->le);
	s->m = mem_deref(s->m);

	if (list_isempty(&st->running))
		tmr_cancel(&st->tmr);
}


/* The peer is gone (ICMP port unreachable): stop, and say so once. */
static void fail(struct stream *s, int err)
{
	if (!s->running)
		return;

	LOGI(SUB_RTP, "stream %08x to %J stopped: %m", s->ssrc,
	     &s->dst, err);
	halt(s);
}


/*
 * Sends the frames of s that are due at now, and the sender report when
 * its time has come.  Frames more than MAX_BURST behind are skipped, not
 * sent: their timestamps pass unused, so the receiver sees a gap in time
 * (as after a loss), not a stream that runs late for ever.
 */
static void pump(struct stream *s, uint64_t now)
{
	struct mmsghdr msgs[MAX_BURST];
	struct iovec iov[MAX_BURST][2];
	uint32_t due, n, i;
	int fd, sent;

	if (now < s->t0)
		return;

	due = (uint32_t)((now - s->t0) / FRAME_MS);   /* last frame due */
	if (due < s->k)
		goto rtcp;

	n = due - s->k + 1;
	if (n > MAX_BURST) {
		LOGD(SUB_RTP, "stream %08x: %u frames late, skipping %u",
		     s->ssrc, n, n - MAX_BURST);
		s->k += n - MAX_BURST;
		n = MAX_BURST;
	}

	memset(msgs, 0, sizeof(msgs));
	for (i = 0; i < n; i++) {
		uint8_t *h = s->hdr[i];
		uint32_t frame = s->k + i;

		h[0] = 0x80;                     /* V=2, P=0, X=0, CC=0 */
		h[1] = (uint8_t)(s->pt | ((s->marker && !i) ? 0x80 : 0));
		put16(&h[2], (uint16_t)(s->seq + i));
		put32(&h[4], s->ts0 + frame * MEDIA_FRAME_SAMPLES);
		put32(&h[8], s->ssrc);

		iov[i][0].iov_base = h;
		iov[i][0].iov_len = RTP_HDR_SIZE;
		/* The shared frame itself: sendmmsg gathers, nothing is
		 * copied.  The cast drops const only for struct iovec. */
		iov[i][1].iov_base = (void *)(uintptr_t)
			media_frame(s->m, s->pt, frame);
		iov[i][1].iov_len = MEDIA_FRAME_SAMPLES;

		msgs[i].msg_hdr.msg_iov = iov[i];
		msgs[i].msg_hdr.msg_iovlen = 2;
	}

	/* The socket is connected to s->dst, so no address goes along. */
	fd = udp_sock_fd(s->rtp, sa_af(&s->dst));
	sent = sendmmsg(fd, msgs, n, 0);
	if (sent < 0) {
		int err = errno;

		if (err == ECONNREFUSED) {
			fail(s, err);
			return;
		}

		/* A full socket buffer or a passing route problem loses
		 * these frames, as the network would. */
		LOGD(SUB_RTP, "stream %08x: send to %J: %m", s->ssrc,
		     &s->dst, err);
		sent = 0;
	}

	if (sent > 0) {
		if (!s->started) {
			s->started = true;
			s->stats.first_seq = s->seq;
			s->stats.first_ts = s->ts0 +
				s->k * MEDIA_FRAME_SAMPLES;
			s->stats.started_ms = now;
		}

		s->marker = false;
		s->ts_last = s->ts0 +
			(s->k + (uint32_t)sent - 1) * MEDIA_FRAME_SAMPLES;
		s->seq += (uint16_t)sent;
		s->stats.packets += (uint32_t)sent;
		s->stats.octets += (uint32_t)sent * MEDIA_FRAME_SAMPLES;

		LOGD(SUB_RTP, "stream %08x: %d packet(s) to %J, frame %u",
		     s->ssrc, sent, &s->dst, s->k);
	}

	/* Frames not sent are lost, not queued: the stream keeps time. */
	s->k += n;

 rtcp:
	if (now < s->rtcp_next || !s->stats.packets)
		return;

	rtcp_send(s, now, false);

	s->rtcp_next += s->st->rtcp_ms;
	if (s->rtcp_next <= now)
		s->rtcp_next = now + s->st->rtcp_ms;
}


static void tick(void *arg)
{
	struct streamer *st = arg;
	uint64_t now = loop_now_ms();
	struct le *le = list_head(&st->running);

	while (le) {
		struct stream *s = le->data;

		/* pump() may take s off the list. */
		le = le->next;
		pump(s, now);
	}

	if (!list_isempty(&st->running))
		tmr_start(&st->tmr, TICK_MS, tick, st);
}


static void streamer_destructor(void *arg)
{
	struct streamer *st = arg;

	/* Every stream holds a reference, so none is left running. */
	tmr_cancel(&st->tmr);
}


int streamer_alloc(struct streamer **sp, const struct sa *ip, uint16_t lo,
		   uint16_t hi)
{
	struct streamer *st;
	uint32_t first;

	/* The unspecified address is fine (a server on 0.0.0.0): each
	 * packet then leaves from the address the kernel picks. */
	if (!sp || !ip || (sa_af(ip) != AF_INET && sa_af(ip) != AF_INET6) ||
	    !lo || lo > hi)
		return EINVAL;

	/* RTP takes even ports (RFC 3550 section 11), RTCP the next. */
	first = lo + (lo & 1u);
	if (first + 1 > hi)
		return EINVAL;

	st = mem_zalloc(sizeof(*st), streamer_destructor);
	if (!st)
		return ENOMEM;

	sa_cpy(&st->ip, ip);
	sa_set_port(&st->ip, 0);
	st->first = (uint16_t)first;
	st->npairs = (hi - first + 1) / 2;
	st->next = 0;
	st->rtcp_ms = RTCP_INTERVAL_MS;
	(void)re_snprintf(st->cname, sizeof(st->cname), "cmrlab@%j", ip);
	tmr_init(&st->tmr);
	list_init(&st->running);

	*sp = st;

	return 0;
}


unsigned streamer_active(const struct streamer *st)
{
	return st ? list_count(&st->running) : 0;
}


void streamer_announce_set(struct streamer *st, const struct sa *ip)
{
	if (!st || !ip || !sa_isset(ip, SA_ADDR))
		return;

	sa_cpy(&st->announce, ip);
	sa_set_port(&st->announce, 0);
	(void)re_snprintf(st->cname, sizeof(st->cname), "cmrlab@%j", ip);
}


void streamer_set_rtcp_interval(struct streamer *st, uint32_t ms)
{
	if (!st)
		return;

	st->rtcp_ms = ms ? ms : RTCP_INTERVAL_MS;
}


/* Incoming RTP (symmetric RTP, comfort noise) means nothing to us. */
static void rtp_recv(const struct sa *src, struct mbuf *mb, void *arg)
{
	(void)src;
	(void)mb;
	(void)arg;
}


static void rtcp_recv(const struct sa *src, struct mbuf *mb, void *arg)
{
	struct stream *s = arg;

	LOGD(SUB_RTP, "stream %08x: RTCP from %J (%zu bytes) ignored",
	     s->ssrc, src, mbuf_get_left(mb));
}


/* libre calls this with the error a read returned: on the connected RTP
 * socket, ECONNREFUSED is the peer's ICMP port unreachable. */
static void rtp_error(int err, void *arg)
{
	struct stream *s = arg;

	if (err == ECONNREFUSED)
		fail(s, err);
	else
		LOGD(SUB_RTP, "stream %08x: socket error: %m", s->ssrc, err);
}


static void stream_destructor(void *arg)
{
	struct stream *s = arg;

	stream_stop(s);
	mem_deref(s->rtp);
	mem_deref(s->rtcp);
	mem_deref(s->st);
}


/* Binds the pair at port and port + 1; EADDRINUSE when either is taken. */
static int bind_pair(struct stream *s, uint16_t port)
{
	struct sa a;
	int err;

	sa_cpy(&a, &s->st->ip);
	sa_set_port(&a, port);
	err = udp_listen(&s->rtp, &a, rtp_recv, s);
	if (err)
		return err;

	sa_set_port(&a, port + 1);
	err = udp_listen(&s->rtcp, &a, rtcp_recv, s);
	if (err) {
		s->rtp = mem_deref(s->rtp);
		return err;
	}

	udp_error_handler_set(s->rtp, rtp_error);

	err = udp_local_get(s->rtp, &s->laddr);
	if (!err && sa_isset(&s->st->announce, SA_ADDR)) {
		uint16_t p = sa_port(&s->laddr);

		sa_cpy(&s->laddr, &s->st->announce);
		sa_set_port(&s->laddr, p);
	}

	return err;
}


int stream_alloc(struct stream **sp, struct streamer *st)
{
	struct stream *s;
	unsigned i;
	int err = ENOSPC;

	if (!sp || !st)
		return EINVAL;

	s = mem_zalloc(sizeof(*s), stream_destructor);
	if (!s)
		return ENOMEM;

	s->st = mem_ref(st);
	s->ssrc = rand_u32();
	s->seq = rand_u16();
	s->ts0 = rand_u32();

	/* Scan from where the last scan succeeded, so that a freed pair
	 * is not handed out again at once (a late packet of the old call
	 * would land in the new one). */
	for (i = 0; i < st->npairs; i++) {
		unsigned idx = (st->next + i) % st->npairs;

		err = bind_pair(s, (uint16_t)(st->first + 2 * idx));
		if (err == EADDRINUSE) {
			err = ENOSPC;
			continue;
		}
		if (err)
			break;

		st->next = (idx + 1) % st->npairs;
		break;
	}

	if (err) {
		if (err == ENOSPC)
			LOGW(SUB_RTP, "no free port pair in %u-%u",
			     st->first, st->first + 2 * st->npairs - 1);
		mem_deref(s);
		return err;
	}

	*sp = s;

	return 0;
}


const struct sa *stream_laddr(const struct stream *s)
{
	return s ? &s->laddr : NULL;
}


int stream_start(struct stream *s, struct media *m, uint8_t pt,
		 const struct sa *dst)
{
	uint64_t now = loop_now_ms();
	struct streamer *st;
	socklen_t len;
	int err, so_err;

	if (!s || !m || !dst || !sa_isset(dst, SA_ALL))
		return EINVAL;
	if (pt != MEDIA_PT_PCMU && pt != MEDIA_PT_PCMA)
		return EINVAL;
	if (!media_frames(m) || sa_port(dst) == 65535)
		return EINVAL;

	st = s->st;

	/* A start while running replaces media and destination: the same
	 * stream goes on, without a BYE. */
	if (s->running)
		halt(s);

	err = udp_connect(s->rtp, dst);
	if (err) {
		LOGW(SUB_RTP, "stream %08x: connect to %J: %m", s->ssrc, dst,
		     err);
		return err;
	}

	/* An ICMP error from an earlier destination may still be pending
	 * on the socket; reading SO_ERROR clears it. */
	len = sizeof(so_err);
	(void)getsockopt(udp_sock_fd(s->rtp, sa_af(dst)), SOL_SOCKET,
			 SO_ERROR, &so_err, &len);

	sa_cpy(&s->dst, dst);
	sa_cpy(&s->dst_rtcp, dst);
	sa_set_port(&s->dst_rtcp, sa_port(dst) + 1);

	/* A restart keeps SSRC and sequence numbers, and the RTP clock
	 * keeps running through the pause, as one source's clock does.
	 * It never goes back to the last timestamp sent. */
	if (s->started) {
		uint32_t ts = ts_at(s, now);
		uint32_t min = s->ts_last + MEDIA_FRAME_SAMPLES;

		s->ts0 = (int32_t)(ts - min) < 0 ? min : ts;
	}

	s->m = mem_ref(m);
	s->pt = pt;
	s->t0 = now;
	s->k = 0;
	s->marker = true;
	s->rtcp_next = now;
	s->running = true;
	list_append(&st->running, &s->le, s);

	LOGD(SUB_RTP, "stream %08x: %s to %J from %J", s->ssrc,
	     pt == MEDIA_PT_PCMU ? "PCMU" : "PCMA", dst, &s->laddr);

	/* Frame 0 is due now: send it at once rather than at the next
	 * tick, and the first sender report with it. */
	pump(s, now);

	if (!list_isempty(&st->running) && !tmr_isrunning(&st->tmr))
		tmr_start(&st->tmr, TICK_MS, tick, st);

	return 0;
}


void stream_stop(struct stream *s)
{
	if (!s || !s->running)
		return;

	LOGD(SUB_RTP, "stream %08x: stop (%u packets)", s->ssrc,
	     s->stats.packets);

	if (s->stats.packets)
		rtcp_send(s, loop_now_ms(), true);

	halt(s);
}


bool stream_running(const struct stream *s)
{
	return s ? s->running : false;
}


/* The counts run over the stream's whole life (one SSRC), as the sender
 * reports give them; first_seq, first_ts and started_ms are those of the
 * first packet it ever sent. */
void stream_stats_get(const struct stream *s, struct stream_stats *stats)
{
	if (!s || !stats)
		return;

	*stats = s->stats;
	stats->ssrc = s->ssrc;
}
