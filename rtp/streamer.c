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
 * A stream's sockets, start and stop are in stream.c; the packets
 * themselves are built by packet.c.  With capture on
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
#include "rtp/streamer_int.h"

/* Every streamer of the process, for /metrics: there is one per process,
 * and the figures stay when it is freed and another is made. */
static struct streamer_totals totals;


struct streamer_totals *streamer_totals_w(void)
{
	return &totals;
}


/* The RTP clock (8 kHz) of this run at clock time now (us). */
uint32_t stream_ts_at(const struct stream *s, uint64_t now)
{
	return s->ts0 + (uint32_t)((now - s->t0) * MEDIA_SRATE / 1000000);
}


static uint64_t mono_us(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);

	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000;
}


uint64_t stream_due(const struct stream *s)
{
	return s->t0 + (uint64_t)s->k * FRAME_US;
}


/* The timerfd at the first deadline, or disarmed when nothing runs.  With
 * a clock of the tests' own there is no timerfd: they run the schedule. */
void streamer_arm(struct streamer *st)
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
void stream_rtcp_send(struct stream *s, uint64_t now, bool bye)
{
	struct rtcp_sr sr = {
		.ssrc = s->ssrc,
		.rtp_ts = stream_ts_at(s, now),
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
void stream_halt(struct stream *s)
{
	struct streamer *st = s->st;

	s->running = false;
	--totals.running;
	sched_remove(&st->q, &s->ent);
	s->m = mem_deref(s->m);

	if (!sched_top(&st->q))
		streamer_arm(st);
}


/* The peer is gone (ICMP port unreachable): stop, and say so once. */
void stream_fail(struct stream *s, int err)
{
	if (!s->running)
		return;

	LOGI(SUB_RTP, "stream %08x to %J stopped: %m", s->ssrc,
	     &s->dst, err);
	stream_halt(s);
}


/*
 * Sends the frames of s that are due by now + SLACK_US, and the sender
 * report when its time has come; s->k is then the first frame due later.
 * Frames more than MAX_BURST behind are skipped, not sent: their
 * timestamps pass unused, so the receiver sees a gap in time (as after a
 * loss), not a burst or a stream that runs late for ever.
 */
void stream_pump(struct stream *s, uint64_t now)
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
			stream_fail(s, err);
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

	stream_rtcp_send(s, now, false);

	s->rtcp_next += (uint64_t)s->st->rtcp_ms * 1000;
	if (s->rtcp_next <= now)
		s->rtcp_next = now + (uint64_t)s->st->rtcp_ms * 1000;
}


/* Every stream due by now + SLACK_US sends, then waits for its next
 * deadline; the timer goes to the first of those. */
unsigned streamer_run_due(struct streamer *st, uint64_t now)
{
	struct sched_ent *e;
	unsigned n = 0;

	while ((e = sched_top(&st->q)) && e->due <= now + SLACK_US) {
		struct stream *s = (struct stream *)(void *)
			((char *)e - offsetof(struct stream, ent));

		++n;
		stream_pump(s, now);

		/* stream_pump() may have stopped s (its peer is gone). */
		if (s->running)
			sched_move(&st->q, &s->ent, stream_due(s));
	}

	streamer_arm(st);

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
	(void)streamer_run_due(st, st->clock());
}


unsigned streamer_run(struct streamer *st)
{
	return st ? streamer_run_due(st, st->clock()) : 0;
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


uint16_t streamer_fq_pop(struct streamer *st)
{
	uint16_t idx = st->freeq[st->fq_head];

	st->fq_head = (st->fq_head + 1) % st->npairs;
	--st->fq_len;

	return idx;
}


void streamer_fq_push(struct streamer *st, uint16_t idx)
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


