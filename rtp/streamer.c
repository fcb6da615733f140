/**
 * @file streamer.c  The RTP streamer: every stream on its own 20 ms
 *                   schedule, from one timer
 *
 * One streamer serves the whole process.  It owns a port range, kept as a
 * queue of free RTP/RTCP port pairs (taken and returned in O(1)), and one
 * timerfd; a stream owns an RTP socket on an even port and an RTCP socket
 * on the odd port above it, from allocation to its end.
 *
 * Each running stream keeps its own schedule on the monotonic clock:
 * frame k is due FRAME_US * k after the stream started, an absolute time
 * that no late wake-up moves.  The streams wait on a heap ordered by
 * their next deadline (sched.c), and the timerfd is armed, with an
 * absolute expiry, at the earliest one.  When it fires, every stream due
 * within SLACK_US of now sends its frame and goes back on the heap at its
 * next deadline.  So the streams keep the phases they started with,
 * spread over the 20 ms period as their calls were, rather than all
 * leaving on one tick; the number of wake-ups is bounded by the slack (at
 * most one per SLACK_US however many streams run: on loopback each
 * wake-up also wakes the receiver, so the slack is what keeps that cost
 * down); and a wake-up that
 * comes late does not push the schedule back.  A stream more than
 * MAX_BURST frames behind (the loop was stalled) skips the oldest: their
 * timestamps pass unused, so the receiver sees a gap in time, as after a
 * loss, rather than a burst or a stream that runs late for ever.
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
 * The packets themselves are built by packet.c.  With capture on
 * (streamer_capture_set), each packet a stream sends is also written to
 * the pcap file; off, that costs one test of a flag per send.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <re.h>
#include "core/core.h"
#include "rtp/rtp.h"
#include "rtp/rtp_int.h"

enum {
	FRAME_US = 20000,         /* one frame of MEDIA_FRAME_SAMPLES */
	SLACK_US = 1000,          /* frames due this soon leave now */
	MAX_BURST = 3,            /* most frames one stream sends at once */
	RTCP_INTERVAL_MS = 5000,
};

struct streamer {
	struct sa ip;             /* the address streams bind, port unused */
	struct sa announce;       /* the address they name, or unset */
	uint16_t first;           /* the lowest even port of the range */
	unsigned npairs;          /* RTP/RTCP port pairs in the range */
	uint16_t *freeq;          /* ring of free pair indexes, FIFO */
	unsigned fq_head;         /* its first entry */
	unsigned fq_len;          /* its entries */
	uint32_t rtcp_ms;         /* sender report interval */
	char cname[CNAME_MAX];    /* SDES CNAME of every stream */
	struct sched q;           /* the running streams, by deadline */
	int tfd;                  /* timerfd, armed at the first deadline */
	struct loop_watch *watch; /* ... on the loop */
	uint64_t armed;           /* its expiry, 0 when disarmed */
	streamer_clock_h *clock;  /* microseconds, monotonic */
	bool capture;             /* sent packets to the pcap file */
};

struct stream {
	struct sched_ent ent;     /* on streamer->q while running */
	struct streamer *st;      /* referenced */
	struct udp_sock *rtp;
	struct udp_sock *rtcp;
	struct sa laddr;          /* local RTP address, as announced */
	struct sa bound;          /* ... as bound (the capture's source) */
	struct sa bound_rtcp;     /* its port + 1 */
	uint16_t pair;            /* index of its port pair ... */
	bool has_pair;            /* ... while it holds one */
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
	uint64_t t0;              /* clock (us) of frame 0 of this run */
	uint32_t k;               /* next frame of this run */
	uint32_t ts_last;         /* timestamp of the last packet sent */
	uint64_t rtcp_next;       /* clock (us) of the next SR */
	struct stream_stats stats;
	uint8_t hdr[MAX_BURST][RTP_HDR_SIZE];
};


/* Every streamer of the process, for /metrics: there is one per process,
 * and the figures stay when it is freed and another is made. */
static struct streamer_totals totals;


/* The RTP clock (8 kHz) of this run at clock time now (us). */
static uint32_t ts_at(const struct stream *s, uint64_t now)
{
	return s->ts0 + (uint32_t)((now - s->t0) * MEDIA_SRATE / 1000000);
}


static uint64_t mono_us(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);

	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000;
}


static uint64_t due_of(const struct stream *s)
{
	return s->t0 + (uint64_t)s->k * FRAME_US;
}


/* The timerfd at the first deadline, or disarmed when nothing runs.  With
 * a clock of the tests' own there is no timerfd: they run the schedule. */
static void arm(struct streamer *st)
{
	struct sched_ent *e = sched_top(&st->q);
	struct itimerspec its;
	uint64_t at = e ? e->due : 0;

	if (st->tfd < 0 || at == st->armed)
		return;

	memset(&its, 0, sizeof(its));
	if (at) {
		its.it_value.tv_sec = (time_t)(at / 1000000u);
		its.it_value.tv_nsec = (long)(at % 1000000u) * 1000;
	}

	if (timerfd_settime(st->tfd, at ? TFD_TIMER_ABSTIME : 0, &its,
			    NULL) < 0) {
		LOGW(SUB_RTP, "timerfd: %m", errno);
		return;
	}

	st->armed = at;
}


/* The first `sent` packets of msgs, each as one pcap record from the
 * stream's bound address (the header and the frame made contiguous). */
static void capture_rtp(const struct stream *s, const struct mmsghdr *msgs,
			int sent)
{
	uint8_t b[RTP_HDR_SIZE + MEDIA_FRAME_SAMPLES];

	if (!pcapw_active())
		return;

	for (int i = 0; i < sent; i++) {
		const struct iovec *iov = msgs[i].msg_hdr.msg_iov;

		memcpy(b, iov[0].iov_base, RTP_HDR_SIZE);
		memcpy(b + RTP_HDR_SIZE, iov[1].iov_base,
		       MEDIA_FRAME_SAMPLES);
		(void)pcapw_udp(&s->bound, &s->dst, b, sizeof(b));
	}
}


/* The stream's report (packet.c builds it).  RTCP is best effort: a
 * failed send is only logged. */
static void rtcp_send(struct stream *s, uint64_t now, bool bye)
{
	struct rtcp_sr sr = {
		.ssrc = s->ssrc,
		.rtp_ts = ts_at(s, now),
		.packets = s->stats.packets,
		.octets = s->stats.octets,
		.cname = s->st->cname,
		.bye = bye,
	};
	uint8_t b[RTCP_MAX];
	size_t n = rtcp_sr_put(b, &sr);
	int fd;

	fd = udp_sock_fd(s->rtcp, sa_af(&s->dst_rtcp));
	if (sendto(fd, b, n, 0, &s->dst_rtcp.u.sa, s->dst_rtcp.len) < 0) {
		int err = errno;

		LOGD(SUB_RTP, "stream %08x: RTCP to %J: %m", s->ssrc,
		     &s->dst_rtcp, err);
		return;
	}

	if (s->st->capture && pcapw_active())
		(void)pcapw_udp(&s->bound_rtcp, &s->dst_rtcp, b, n);

	/* The SR in front of a BYE counts too: it is one more report. */
	++s->stats.rtcp_sr;
}


/* Takes a running stream off the schedule; the timer rests with the
 * last. */
static void halt(struct stream *s)
{
	struct streamer *st = s->st;

	s->running = false;
	--totals.running;
	sched_remove(&st->q, &s->ent);
	s->m = mem_deref(s->m);

	if (!sched_top(&st->q))
		arm(st);
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
 * Sends the frames of s that are due by now + SLACK_US, and the sender
 * report when its time has come; s->k is then the first frame due later.
 * Frames more than MAX_BURST behind are skipped, not sent: their
 * timestamps pass unused, so the receiver sees a gap in time (as after a
 * loss), not a burst or a stream that runs late for ever.
 */
static void pump(struct stream *s, uint64_t now)
{
	struct mmsghdr msgs[MAX_BURST];
	struct iovec iov[MAX_BURST][2];
	uint32_t due, n, i;
	int fd, sent;

	if (now + SLACK_US < s->t0)
		return;

	/* The last frame due. */
	due = (uint32_t)((now + SLACK_US - s->t0) / FRAME_US);
	if (due < s->k)
		goto rtcp;

	n = due - s->k + 1;
	if (n > MAX_BURST) {
		LOGD(SUB_RTP, "stream %08x: %u frames late, skipping %u",
		     s->ssrc, n, n - MAX_BURST);
		s->k += n - MAX_BURST;
		s->stats.skipped += n - MAX_BURST;
		n = MAX_BURST;
	}

	memset(msgs, 0, sizeof(msgs));
	for (i = 0; i < n; i++) {
		uint8_t *h = s->hdr[i];
		uint32_t frame = s->k + i;

		rtp_hdr_put(h, s->pt, s->marker && !i,
			    (uint16_t)(s->seq + i),
			    s->ts0 + frame * MEDIA_FRAME_SAMPLES, s->ssrc);

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
		if (s->st->capture)
			capture_rtp(s, msgs, sent);

		if (!s->started) {
			s->started = true;
			s->stats.first_seq = s->seq;
			s->stats.first_ts = s->ts0 +
				s->k * MEDIA_FRAME_SAMPLES;
			s->stats.started_ms = loop_now_ms();
		}

		s->marker = false;
		s->ts_last = s->ts0 +
			(s->k + (uint32_t)sent - 1) * MEDIA_FRAME_SAMPLES;
		s->seq += (uint16_t)sent;
		s->stats.packets += (uint32_t)sent;
		s->stats.octets += (uint32_t)sent * MEDIA_FRAME_SAMPLES;
		totals.packets += (uint64_t)sent;

		LOGD(SUB_RTP, "stream %08x: %d packet(s) to %J, frame %u",
		     s->ssrc, sent, &s->dst, s->k);
	}

	/* Frames not sent are lost, not queued: the stream keeps time. */
	s->k += n;

 rtcp:
	if (now < s->rtcp_next || !s->stats.packets)
		return;

	rtcp_send(s, now, false);

	s->rtcp_next += (uint64_t)s->st->rtcp_ms * 1000;
	if (s->rtcp_next <= now)
		s->rtcp_next = now + (uint64_t)s->st->rtcp_ms * 1000;
}


/* Every stream due by now + SLACK_US sends, then waits for its next
 * deadline; the timer goes to the first of those. */
static unsigned run(struct streamer *st, uint64_t now)
{
	struct sched_ent *e;
	unsigned n = 0;

	while ((e = sched_top(&st->q)) && e->due <= now + SLACK_US) {
		struct stream *s = (struct stream *)(void *)
			((char *)e - offsetof(struct stream, ent));

		++n;
		pump(s, now);

		/* pump() may have stopped s (its peer is gone). */
		if (s->running)
			sched_move(&st->q, &s->ent, due_of(s));
	}

	arm(st);

	return n;
}


static void timer_fired(void *arg)
{
	struct streamer *st = arg;
	uint64_t expirations;

	if (read(st->tfd, &expirations, sizeof(expirations)) < 0 &&
	    errno != EAGAIN)
		LOGW(SUB_RTP, "timerfd read: %m", errno);

	/* The kernel disarmed it by firing. */
	st->armed = 0;
	(void)run(st, st->clock());
}


unsigned streamer_run(struct streamer *st)
{
	return st ? run(st, st->clock()) : 0;
}


uint64_t streamer_next_due(const struct streamer *st)
{
	struct sched_ent *e = st ? sched_top(&st->q) : NULL;

	return e ? e->due : 0;
}


void streamer_clock_set(struct streamer *st, streamer_clock_h *clk)
{
	if (!st || sched_top(&st->q))
		return;

	st->clock = clk ? clk : mono_us;

	/* A clock of the tests' own has no timerfd: they run the
	 * schedule themselves. */
	if (clk && st->tfd >= 0) {
		st->watch = mem_deref(st->watch);
		(void)close(st->tfd);
		st->tfd = -1;
		st->armed = 0;
	}
}


static void streamer_destructor(void *arg)
{
	struct streamer *st = arg;

	/* Every stream holds a reference, so none is left running. */
	sched_reset(&st->q);
	st->watch = mem_deref(st->watch);
	if (st->tfd >= 0)
		(void)close(st->tfd);
	mem_deref(st->freeq);
}


static uint16_t fq_pop(struct streamer *st)
{
	uint16_t idx = st->freeq[st->fq_head];

	st->fq_head = (st->fq_head + 1) % st->npairs;
	--st->fq_len;

	return idx;
}


static void fq_push(struct streamer *st, uint16_t idx)
{
	st->freeq[(st->fq_head + st->fq_len) % st->npairs] = idx;
	++st->fq_len;
}


int streamer_alloc(struct streamer **sp, const struct sa *ip, uint16_t lo,
		   uint16_t hi)
{
	struct streamer *st;
	uint32_t first;
	int err;

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

	st->tfd = -1;

	sa_cpy(&st->ip, ip);
	sa_set_port(&st->ip, 0);
	st->first = (uint16_t)first;
	st->npairs = (hi - first + 1) / 2;
	st->freeq = mem_alloc(st->npairs * sizeof(*st->freeq), NULL);
	if (!st->freeq) {
		mem_deref(st);
		return ENOMEM;
	}
	for (unsigned i = 0; i < st->npairs; i++)
		st->freeq[i] = (uint16_t)i;
	st->fq_head = 0;
	st->fq_len = st->npairs;
	st->rtcp_ms = RTCP_INTERVAL_MS;
	(void)re_snprintf(st->cname, sizeof(st->cname), "cmrlab@%j", ip);
	sched_init(&st->q);
	st->clock = mono_us;
	st->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (st->tfd < 0) {
		err = errno;
		mem_deref(st);
		return err;
	}
	err = loop_watch_alloc(&st->watch, st->tfd, timer_fired, st);
	if (err) {
		mem_deref(st);
		return err;
	}

	*sp = st;

	return 0;
}


unsigned streamer_active(const struct streamer *st)
{
	return st ? st->q.n : 0;
}


void streamer_totals_get(struct streamer_totals *t)
{
	if (t)
		*t = totals;
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


void streamer_capture_set(struct streamer *st, bool on)
{
	if (st)
		st->capture = on;
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
	if (s->has_pair)
		fq_push(s->st, s->pair);
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
	sa_cpy(&s->bound, &s->laddr);
	sa_cpy(&s->bound_rtcp, &s->laddr);
	sa_set_port(&s->bound_rtcp, sa_port(&s->laddr) + 1);
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

	/* Pairs come off the head of the free queue and go back at its
	 * tail, so a freed pair is handed out again last (a late packet of
	 * the old call would land in the new one).  A pair another program
	 * holds goes to the tail too; every pair is tried at most once. */
	for (i = st->fq_len; i > 0; i--) {
		uint16_t idx = fq_pop(st);

		err = bind_pair(s, (uint16_t)(st->first + 2 * idx));
		if (!err) {
			s->pair = idx;
			s->has_pair = true;
			break;
		}

		fq_push(st, idx);
		if (err != EADDRINUSE)
			break;
		err = ENOSPC;
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
	struct streamer *st;
	uint64_t now;
	socklen_t len;
	int err, so_err;

	if (!s || !m || !dst || !sa_isset(dst, SA_ALL))
		return EINVAL;
	if (pt != MEDIA_PT_PCMU && pt != MEDIA_PT_PCMA)
		return EINVAL;
	if (!media_frames(m) || sa_port(dst) == 65535)
		return EINVAL;

	st = s->st;
	now = st->clock();

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
	++totals.running;

	LOGD(SUB_RTP, "stream %08x: %s to %J from %J", s->ssrc,
	     pt == MEDIA_PT_PCMU ? "PCMU" : "PCMA", dst, &s->laddr);

	/* Frame 0 is due now: send it at once, and the first sender report
	 * with it; then wait for frame 1. */
	pump(s, now);
	if (!s->running)
		return 0;

	err = sched_add(&st->q, &s->ent, due_of(s));
	if (err) {
		s->running = false;
		--totals.running;
		s->m = mem_deref(s->m);
		return err;
	}
	arm(st);

	return 0;
}


void stream_stop(struct stream *s)
{
	if (!s || !s->running)
		return;

	LOGD(SUB_RTP, "stream %08x: stop (%u packets)", s->ssrc,
	     s->stats.packets);

	if (s->stats.packets)
		rtcp_send(s, s->st->clock(), true);

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
