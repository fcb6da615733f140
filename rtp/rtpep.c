/**
 * @file rtpep.c  A client's RTP endpoint: one port pair that measures what
 *                it receives and sends a media on its own schedule
 *
 * The sockets are libre's (udp_listen), so they live on the project's
 * libevent loop through core/loop.c, and the send schedule is a libre
 * timer on the same loop.  One socket receives and sends (symmetric RTP):
 * a far end that answers to the address it sees reaches us.
 *
 * Receiving.  Each packet is checked (version 2, CSRC list, header
 * extension and padding within the datagram) and measured in the segment
 * of its sender (rtpep_rx.c): a new segment starts whenever the SSRC or
 * the source address differs from the previous packet's.  RTCP on the RTP
 * port (RFC 5761 multiplexing) is counted as RTCP, not as a bad packet.
 *
 * Sending keeps an absolute schedule on CLOCK_MONOTONIC, as the streamer
 * does: frame k is due 20 ms * k after the start, and each timer wake-up
 * sends what is due by then.  A wake-up more than three frames late sends
 * the newest three and skips the older ones (their timestamps pass
 * unused), so the far end sees a gap, never a long burst.  The timer is a
 * libre timer (millisecond resolution), re-armed at every wake-up for the
 * next deadline, so its rounding never accumulates.
 */
#include <errno.h>
#include <string.h>
#include <time.h>
#include <re.h>
#include "core/core.h"
#include "rtp/rtp.h"
#include "rtp/rtp_int.h"
#include "rtp/rtpep.h"
#include "rtp/rtpep_int.h"

enum {
	FRAME_US = 20000,         /* one frame of MEDIA_FRAME_SAMPLES */
	SLACK_US = 1000,          /* frames due this soon leave now */
	MAX_BURST = 3,            /* most frames sent at one wake-up */
	RTCP_INTERVAL_US = 5000000,
	PORT_TRIES = 64,          /* kernel-given ports before giving up */
};


uint64_t rtpep_mono_us(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);

	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000;
}


/* ---- sending ---------------------------------------------------------- */

/* The RTP clock (8 kHz) of this run at clock time now (us). */
static uint32_t ts_at(const struct rtpep *ep, uint64_t now)
{
	return ep->ts0 + (uint32_t)((now - ep->t0) * MEDIA_SRATE / 1000000);
}


static int send_mb(struct rtpep *ep, struct udp_sock *us,
		   const struct sa *src, const struct sa *dst,
		   const uint8_t *a, size_t alen, const uint8_t *b,
		   size_t blen)
{
	struct mbuf *mb = ep->mb;
	int err;

	mbuf_rewind(mb);
	err  = mbuf_write_mem(mb, a, alen);
	err |= b ? mbuf_write_mem(mb, b, blen) : 0;
	if (err)
		return err;

	mb->pos = 0;
	err = udp_send(us, dst, mb);

	/* What left, as it left. */
	if (!err && ep->cap_tx && pcapw_active())
		(void)pcapw_udp(src, dst, mb->buf, mb->end);

	return err;
}


/* The sender report (packet.c builds it), with a BYE when the source
 * leaves.  Best effort, as RTCP is. */
static void rtcp_send(struct rtpep *ep, uint64_t now, bool bye)
{
	struct rtcp_sr sr = {
		.ssrc = ep->ssrc,
		.rtp_ts = ts_at(ep, now),
		.packets = ep->sent,
		.octets = ep->octets,
		.cname = ep->cname,
		.bye = bye,
	};
	uint8_t b[RTCP_MAX];
	size_t n = rtcp_sr_put(b, &sr);
	int err;

	err = send_mb(ep, ep->rtcp, &ep->laddr_rtcp, &ep->dst_rtcp, b, n,
		      NULL, 0);
	if (err)
		LOGD(SUB_RTP, "rtpep %08x: RTCP to %J: %m", ep->ssrc,
		     &ep->dst_rtcp, err);
}


/* Sends the frames due by now + SLACK_US (at most MAX_BURST, skipping
 * older ones) and the sender report when its time has come. */
static void pump(struct rtpep *ep, uint64_t now)
{
	uint8_t h[RTP_HDR_SIZE];
	uint32_t due, n, i;

	due = (uint32_t)((now + SLACK_US - ep->t0) / FRAME_US);
	if (due < ep->k)
		goto rtcp;

	n = due - ep->k + 1;
	if (n > MAX_BURST) {
		LOGD(SUB_RTP, "rtpep %08x: %u frames late, skipping %u",
		     ep->ssrc, n, n - MAX_BURST);
		ep->k += n - MAX_BURST;
		n = MAX_BURST;
	}

	for (i = 0; i < n; i++, ep->k++) {
		uint32_t ts = ep->ts0 + ep->k * MEDIA_FRAME_SAMPLES;
		int err;

		rtp_hdr_put(h, ep->pt, ep->marker, ep->seq, ts, ep->ssrc);
		err = send_mb(ep, ep->rtp, &ep->laddr, &ep->dst, h, sizeof(h),
			      media_frame(ep->m, ep->pt, ep->k),
			      MEDIA_FRAME_SAMPLES);
		if (err) {
			/* Lost, as on the network; the schedule goes on. */
			LOGD(SUB_RTP, "rtpep %08x: send to %J: %m",
			     ep->ssrc, &ep->dst, err);
			continue;
		}

		ep->marker = false;
		ep->started = true;
		ep->ts_last = ts;
		++ep->seq;
		++ep->sent;
		ep->octets += MEDIA_FRAME_SAMPLES;
	}

 rtcp:
	if (now < ep->rtcp_next || !ep->sent)
		return;

	rtcp_send(ep, now, false);
	ep->rtcp_next += RTCP_INTERVAL_US;
	if (ep->rtcp_next <= now)
		ep->rtcp_next = now + RTCP_INTERVAL_US;
}


static void tick(void *arg);


/* The timer at the next frame's deadline, rounded up to the next ms. */
static void arm(struct rtpep *ep, uint64_t now)
{
	uint64_t due = ep->t0 + (uint64_t)ep->k * FRAME_US;
	uint64_t ms = due > now ? (due - now + 999) / 1000 : 0;

	tmr_start(&ep->tmr, ms, tick, ep);
}


static void tick(void *arg)
{
	struct rtpep *ep = arg;
	uint64_t now = rtpep_mono_us();

	pump(ep, now);
	arm(ep, now);
}


int rtpep_send_start(struct rtpep *ep, struct media *m, uint8_t pt,
		     const struct sa *dst)
{
	uint64_t now;

	if (!ep || !m || !dst || !sa_isset(dst, SA_ALL))
		return EINVAL;
	if (pt != MEDIA_PT_PCMU && pt != MEDIA_PT_PCMA)
		return EINVAL;
	if (!media_frames(m) || sa_port(dst) == 65535)
		return EINVAL;

	now = rtpep_mono_us();

	/* A start while sending retargets: the same source goes on. */
	if (ep->sending) {
		tmr_cancel(&ep->tmr);
		ep->m = mem_deref(ep->m);
	}

	/* The RTP clock of one source runs on through a pause and never
	 * goes back to a timestamp already sent. */
	if (ep->started) {
		uint32_t ts = ts_at(ep, now);
		uint32_t min = ep->ts_last + MEDIA_FRAME_SAMPLES;

		ep->ts0 = (int32_t)(ts - min) < 0 ? min : ts;
	}

	sa_cpy(&ep->dst, dst);
	sa_cpy(&ep->dst_rtcp, dst);
	sa_set_port(&ep->dst_rtcp, sa_port(dst) + 1);
	ep->m = mem_ref(m);
	ep->pt = pt;
	ep->t0 = now;
	ep->k = 0;
	ep->marker = true;
	ep->rtcp_next = now;
	ep->sending = true;

	LOGD(SUB_RTP, "rtpep %08x: %s to %J from %J", ep->ssrc,
	     pt == MEDIA_PT_PCMU ? "PCMU" : "PCMA", dst, &ep->laddr);

	/* Frame 0 is due now, and the first report with it. */
	pump(ep, now);
	arm(ep, now);

	return 0;
}


void rtpep_send_stop(struct rtpep *ep)
{
	if (!ep || !ep->sending)
		return;

	if (ep->sent)
		rtcp_send(ep, rtpep_mono_us(), true);

	tmr_cancel(&ep->tmr);
	ep->m = mem_deref(ep->m);
	ep->sending = false;
}


uint32_t rtpep_sent(const struct rtpep *ep)
{
	return ep ? ep->sent : 0;
}


/* ---- receiving -------------------------------------------------------- */

static void rtp_recv(const struct sa *src, struct mbuf *mb, void *arg)
{
	struct rtpep *ep = arg;
	const uint8_t *b = mbuf_buf(mb);
	size_t len = mbuf_get_left(mb);

	if (ep->cap_rx && pcapw_active())
		(void)pcapw_udp(src, &ep->laddr, b, len);

	if (ep->paused)
		return;

	/* RTCP multiplexed on the RTP port (RFC 5761 4): its packet types
	 * 192-223 are what RTP payload types 64-95 with the marker look
	 * like, which no audio uses. */
	if (len >= 2 && b[1] >= 192 && b[1] <= 223) {
		++ep->rtcp_in;
		return;
	}

	rtpep_rx_packet(ep, src, b, len, rtpep_mono_us());
}


static void rtcp_recv(const struct sa *src, struct mbuf *mb, void *arg)
{
	struct rtpep *ep = arg;

	if (ep->cap_rx && pcapw_active())
		(void)pcapw_udp(src, &ep->laddr_rtcp, mbuf_buf(mb),
				mbuf_get_left(mb));

	if (!ep->paused)
		++ep->rtcp_in;
}


/* ---- the endpoint ----------------------------------------------------- */

static void destructor(void *arg)
{
	struct rtpep *ep = arg;

	rtpep_send_stop(ep);
	tmr_cancel(&ep->tmr);
	mem_deref(ep->rtp);
	mem_deref(ep->rtcp);
	mem_deref(ep->mb);
	mem_deref(ep->segs);
	mem_deref(ep->pcm);
}


/* Binds port (even) and port + 1; EADDRINUSE when either is taken. */
static int bind_pair(struct rtpep *ep, const struct sa *ip, uint16_t port)
{
	struct sa a;
	int err;

	sa_cpy(&a, ip);
	sa_set_port(&a, port);
	err = udp_listen(&ep->rtp, &a, rtp_recv, ep);
	if (err)
		return err;

	sa_set_port(&a, port + 1);
	err = udp_listen(&ep->rtcp, &a, rtcp_recv, ep);
	if (err)
		ep->rtp = mem_deref(ep->rtp);

	return err;
}


/*
 * A pair from the kernel's ports: it gives one port, and the pair is
 * that port and the one above it when it is even, or the one below it
 * when it is odd (the socket given then becomes the RTCP one).  Either
 * neighbour may be taken; then another port is asked for.
 */
static int bind_any(struct rtpep *ep, const struct sa *ip)
{
	for (int i = 0; i < PORT_TRIES; i++) {
		struct udp_sock *us = NULL;
		struct sa a;
		uint16_t p;
		int err;

		sa_cpy(&a, ip);
		sa_set_port(&a, 0);
		err = udp_listen(&us, &a, rtp_recv, ep);
		if (!err)
			err = udp_local_get(us, &a);
		if (err) {
			mem_deref(us);
			return err;
		}

		p = sa_port(&a);
		if (!(p & 1) && p < 65535) {
			ep->rtp = us;
			sa_set_port(&a, p + 1);
			if (!udp_listen(&ep->rtcp, &a, rtcp_recv, ep))
				return 0;
			ep->rtp = mem_deref(ep->rtp);
		}
		else if (p & 1) {
			ep->rtcp = us;
			udp_handler_set(us, rtcp_recv, ep);
			sa_set_port(&a, p - 1);
			if (!udp_listen(&ep->rtp, &a, rtp_recv, ep))
				return 0;
			ep->rtcp = mem_deref(ep->rtcp);
		}
		else {
			mem_deref(us);
		}
	}

	return ENOSPC;
}


int rtpep_alloc(struct rtpep **epp, const struct sa *laddr, uint16_t lo,
		uint16_t hi)
{
	struct rtpep *ep;
	uint32_t port;
	int err = ENOSPC;

	if (!epp || !laddr ||
	    (sa_af(laddr) != AF_INET && sa_af(laddr) != AF_INET6))
		return EINVAL;
	if ((lo || hi) && (!lo || lo > hi))
		return EINVAL;

	ep = mem_zalloc(sizeof(*ep), destructor);
	if (!ep)
		return ENOMEM;

	tmr_init(&ep->tmr);
	ep->keep_max = (size_t)RTPEP_KEEP_DEFAULT_MS * (MEDIA_SRATE / 1000);
	ep->ssrc = rand_u32();
	ep->seq = rand_u16();
	ep->ts0 = rand_u32();

	ep->mb = mbuf_alloc(RTP_HDR_SIZE + MEDIA_FRAME_SAMPLES);
	if (!ep->mb) {
		err = ENOMEM;
		goto out;
	}

	if (!lo) {
		err = bind_any(ep, laddr);
	}
	else {
		/* RTP takes even ports (RFC 3550 11), RTCP the next. */
		for (port = lo + (lo & 1u); port + 1 <= hi; port += 2) {
			err = bind_pair(ep, laddr, (uint16_t)port);
			if (err != EADDRINUSE)
				break;
			err = ENOSPC;
		}
	}
	if (err)
		goto out;

	err = udp_local_get(ep->rtp, &ep->laddr);
	if (err)
		goto out;
	sa_cpy(&ep->laddr_rtcp, &ep->laddr);
	sa_set_port(&ep->laddr_rtcp, sa_port(&ep->laddr) + 1);
	(void)re_snprintf(ep->cname, sizeof(ep->cname), "cmrlab@%j",
			  &ep->laddr);

 out:
	if (err) {
		if (err == ENOSPC)
			LOGW(SUB_RTP, "rtpep: no free port pair in %u-%u", lo,
			     hi);
		mem_deref(ep);
		return err;
	}

	*epp = ep;

	return 0;
}


const struct sa *rtpep_laddr(const struct rtpep *ep)
{
	return ep ? &ep->laddr : NULL;
}


void rtpep_handler_set(struct rtpep *ep, rtpep_pkt_h *h, void *arg)
{
	if (!ep)
		return;

	ep->h = h;
	ep->arg = arg;
}


uint32_t rtpep_rtcp_in(const struct rtpep *ep)
{
	return ep ? ep->rtcp_in : 0;
}


uint32_t rtpep_bad(const struct rtpep *ep)
{
	return ep ? ep->bad : 0;
}


void rtpep_rx_pause(struct rtpep *ep, bool pause)
{
	if (ep)
		ep->paused = pause;
}


void rtpep_capture_set(struct rtpep *ep, bool rx, bool tx)
{
	if (!ep)
		return;

	ep->cap_rx = rx;
	ep->cap_tx = tx;
}
