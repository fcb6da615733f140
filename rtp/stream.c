/**
 * @file stream.c  One RTP stream: its port pair and sockets, start, stop
 *                 and figures (streamer.c schedules and sends)
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <re.h>
#include "core/core.h"
#include "rtp/rtp.h"
#include "rtp/rtp_int.h"
#include "rtp/streamer_int.h"


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
		stream_fail(s, err);
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
		streamer_fq_push(s->st, s->pair);
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
		uint16_t idx = streamer_fq_pop(st);

		err = bind_pair(s, (uint16_t)(st->first + 2 * idx));
		if (!err) {
			s->pair = idx;
			s->has_pair = true;
			break;
		}

		streamer_fq_push(st, idx);
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
		stream_halt(s);

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
		uint32_t ts = stream_ts_at(s, now);
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
	++streamer_totals_w()->running;

	LOGD(SUB_RTP, "stream %08x: %s to %J from %J", s->ssrc,
	     pt == MEDIA_PT_PCMU ? "PCMU" : "PCMA", dst, &s->laddr);

	/* Frame 0 is due now: send it at once, and the first sender report
	 * with it; then wait for frame 1. */
	stream_pump(s, now);
	if (!s->running)
		return 0;

	err = sched_add(&st->q, &s->ent, stream_due(s));
	if (err) {
		s->running = false;
		--streamer_totals_w()->running;
		s->m = mem_deref(s->m);
		return err;
	}
	streamer_arm(st);

	return 0;
}


void stream_stop(struct stream *s)
{
	if (!s || !s->running)
		return;

	LOGD(SUB_RTP, "stream %08x: stop (%u packets)", s->ssrc,
	     s->stats.packets);

	if (s->stats.packets)
		stream_rtcp_send(s, s->st->clock(), true);

	stream_halt(s);
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
