/**
 * @file test_streamer_send.c  The RTP streamer on the real loop, read
 *                             back: one stream, two on one schedule, a
 *                             restart and a mem_deref while running, and
 *                             a late loop
 *
 * What the receivers of streamrx.h recorded is checked here packet by
 * packet: the RTP header of every packet, the frame in its payload, the
 * rate, and the RTCP sender reports and BYE.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>
#include <time.h>
#include <re.h>
#include "core/core.h"
#include "rtp/rtp.h"
#include "tests/unit/leakcheck.h"
#include "tests/unit/looprun.h"
#include "tests/unit/lebytes.h"
#include "tests/unit/rtp/streamrx.h"

#define NTP_UNIX_OFFSET 2208988800UL


/* ---- helpers ---------------------------------------------------------- */

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}


static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
		(uint32_t)p[2] << 8 | (uint32_t)p[3];
}


/* ---- checks ----------------------------------------------------------- */

/*
 * Packets [from, to) of rx are one run of a stream: RTP version 2, no
 * padding, extension or CSRC, payload type pt, the marker on the first
 * only, sequence numbers without a gap, timestamps 160 apart, one SSRC,
 * and the payload of each packet the frame its timestamp names.
 */
static void check_run(const struct rx *rx, unsigned from, unsigned to,
		      const struct media *m, uint8_t pt, uint32_t ssrc)
{
	const struct pkt *p0 = &rx->rtp_pk[from];
	uint16_t seq0;
	uint32_t ts0;

	assert_true(to > from);
	assert_true(to <= rx->n_rtp);
	seq0 = rd16(p0->b + 2);
	ts0 = rd32(p0->b + 4);

	for (unsigned i = from; i < to; i++) {
		const struct pkt *p = &rx->rtp_pk[i];
		uint32_t frame = (uint32_t)(i - from);

		assert_int_equal(p->len, RTP_LEN);
		assert_int_equal(p->b[0], 0x80);          /* V=2, P X CC 0 */
		assert_int_equal(p->b[1] & 0x7f, pt);
		assert_int_equal(!!(p->b[1] & 0x80), i == from);
		assert_int_equal(rd16(p->b + 2), (uint16_t)(seq0 + frame));
		assert_int_equal(rd32(p->b + 4),
				 ts0 + frame * MEDIA_FRAME_SAMPLES);
		assert_int_equal(rd32(p->b + 8), ssrc);
		assert_memory_equal(p->b + 12, media_frame(m, pt, frame),
				    MEDIA_FRAME_SAMPLES);

		/* Independently of media_frame: frames differ from their
		 * neighbours and come back after the media's length. */
		if (frame)
			assert_memory_not_equal(p->b + 12, p[-1].b + 12,
						MEDIA_FRAME_SAMPLES);
		if (frame >= TEST_FRAMES)
			assert_memory_equal(p->b + 12,
					    p[-TEST_FRAMES].b + 12,
					    MEDIA_FRAME_SAMPLES);
	}
}


/* Roughly one packet per 20 ms of the run: n packets over ms. */
static void check_rate(unsigned n, uint64_t ms)
{
	long expect = (long)(ms / 20) + 1;

	assert_in_range(n, (unsigned long)MAX(expect - 5, 1),
			(unsigned long)(expect + 5));
}


struct sr {
	uint32_t ssrc;
	uint64_t unix_s;
	uint32_t ts;
	uint32_t packets;
	uint32_t octets;
	bool bye;
};


/*
 * One compound RTCP packet: an SR without report blocks, an SDES with one
 * chunk holding the CNAME, and optionally a BYE, nothing else.
 */
static void parse_rtcp(const struct pkt *p, struct sr *sr)
{
	const uint8_t *b = p->b;
	size_t n, chunk;
	uint16_t len;

	assert_true(p->len >= 28 + 12);
	assert_true(p->len <= sizeof(p->b));
	assert_int_equal(p->len % 4, 0);

	assert_int_equal(b[0], 0x80);                 /* V=2, RC=0 */
	assert_int_equal(b[1], 200);
	assert_int_equal(rd16(b + 2), 6);
	sr->ssrc = rd32(b + 4);
	sr->unix_s = rd32(b + 8) - NTP_UNIX_OFFSET;
	sr->ts = rd32(b + 16);
	sr->packets = rd32(b + 20);
	sr->octets = rd32(b + 24);

	b += 28;
	assert_int_equal(b[0], 0x81);                 /* V=2, SC=1 */
	assert_int_equal(b[1], 202);
	len = rd16(b + 2);
	chunk = 4 * ((size_t)len + 1);
	assert_true(28 + chunk <= p->len);
	assert_int_equal(rd32(b + 4), sr->ssrc);
	assert_int_equal(b[8], 1);                    /* CNAME */
	assert_int_equal(b[9], strlen("cmrlab@127.0.0.1"));
	assert_memory_equal(b + 10, "cmrlab@127.0.0.1", b[9]);
	for (n = 10 + b[9]; n < chunk; n++)
		assert_int_equal(b[n], 0);            /* end and padding */
	assert_true(chunk - (10 + b[9]) >= 1);

	b += chunk;
	n = p->len - 28 - chunk;
	sr->bye = n > 0;
	if (sr->bye) {
		assert_int_equal(n, 8);
		assert_int_equal(b[0], 0x81);
		assert_int_equal(b[1], 203);
		assert_int_equal(rd16(b + 2), 1);
		assert_int_equal(rd32(b + 4), sr->ssrc);
	}
}


/*
 * Every sender report of one stream: its SSRC, wall clock time, counts
 * that agree with the RTP packets sent, and an RTP timestamp of the
 * moment of the report (between the last frame sent and the next).  The
 * reports of a stream that ran once and was stopped end with one BYE.
 */
static void check_rtcp(const struct rx *rx, const struct stream_stats *st,
		       unsigned min_reports)
{
	time_t now = time(NULL);
	uint32_t last = 0;

	assert_true(rx->n_rtcp >= min_reports);
	assert_int_equal(rx->n_rtcp, st->rtcp_sr);

	for (unsigned i = 0; i < rx->n_rtcp; i++) {
		struct sr sr;
		uint32_t dts;

		parse_rtcp(&rx->rtcp_pk[i], &sr);
		assert_int_equal(sr.ssrc, st->ssrc);
		assert_in_range(sr.unix_s, (uint64_t)now - 30,
				(uint64_t)now + 30);
		assert_int_equal(sr.bye, i == rx->n_rtcp - 1);
		assert_true(sr.packets >= 1);
		assert_true(sr.packets >= last);
		assert_true(sr.packets <= rx->n_rtp);
		assert_int_equal(sr.octets,
				 sr.packets * MEDIA_FRAME_SAMPLES);
		last = sr.packets;

		/* A frame leaves up to a millisecond (8 samples) before it
		 * is due, so a report sent with it may name a moment just
		 * before that frame's timestamp. */
		dts = sr.ts - st->first_ts;
		assert_true(dts + 8 >= (sr.packets - 1) * MEDIA_FRAME_SAMPLES);
		if (sr.bye)
			assert_true(dts < (sr.packets + 1) *
				    MEDIA_FRAME_SAMPLES);
		else
			assert_true(dts < sr.packets * MEDIA_FRAME_SAMPLES);
	}

	assert_int_equal(last, st->packets);
}


/* ---- one stream ------------------------------------------------------- */

struct one {
	struct stream *s;
	struct streamer *st;
	struct rx *rx;
	struct tmr t;
	struct stream_stats at_stop;
	unsigned rx_at_stop;
	unsigned active_before, active_after;
	uint64_t t_stop;
};


static void one_stop(void *arg)
{
	struct one *o = arg;

	o->active_before = streamer_active(o->st);
	stream_stop(o->s);
	o->t_stop = loop_now_ms();
	stream_stats_get(o->s, &o->at_stop);
	o->rx_at_stop = o->rx->n_rtp;
	o->active_after = streamer_active(o->st);

	/* Whatever arrives from now on came after the stop. */
	tmr_start(&o->t, 100, looprun_stop, NULL);
}


static void test_one_stream(void **state)
{
	long mark = leakcheck_mark();
	struct stream_stats after;
	struct media *m = NULL;
	const struct sa *la;
	struct one o;
	(void)state;

	memset(&o, 0, sizeof(o));
	tmr_init(&o.t);
	o.rx = rx_alloc();
	make_media(&m, TEST_FRAMES);
	o.st = streamer_local(30000, 39999);
	streamer_set_rtcp_interval(o.st, RTCP_TEST_MS);

	assert_int_equal(stream_alloc(&o.s, o.st), 0);
	la = stream_laddr(o.s);
	assert_non_null(la);
	assert_true(sa_is_loopback(la));
	assert_in_range(sa_port(la), 30000, 39998);
	assert_int_equal(sa_port(la) % 2, 0);
	assert_false(stream_running(o.s));
	assert_int_equal(streamer_active(o.st), 0);

	assert_int_equal(stream_start(o.s, m, MEDIA_PT_PCMA, &o.rx->addr),
			 0);
	assert_true(stream_running(o.s));
	assert_int_equal(streamer_active(o.st), 1);

	tmr_start(&o.t, 1000, one_stop, &o);
	looprun(WATCHDOG_MS);

	/* RTP: the whole second is one correct run. */
	assert_int_equal(o.active_before, 1);
	assert_int_equal(o.active_after, 0);
	assert_false(stream_running(o.s));
	assert_int_equal(o.rx->lost_rtp, 0);
	check_run(o.rx, 0, o.rx->n_rtp, m, MEDIA_PT_PCMA, o.at_stop.ssrc);
	check_rate(o.rx->n_rtp, o.t_stop - o.at_stop.started_ms);
	assert_in_range(o.rx->n_rtp, 35, 65);
	assert_int_equal(rd16(o.rx->rtp_pk[0].b + 2), o.at_stop.first_seq);
	assert_int_equal(rd32(o.rx->rtp_pk[0].b + 4), o.at_stop.first_ts);

	/* What was sent before the stop arrived, nothing after it. */
	assert_int_equal(o.at_stop.packets, o.rx->n_rtp);
	assert_int_equal(o.at_stop.octets,
			 o.rx->n_rtp * MEDIA_FRAME_SAMPLES);
	stream_stats_get(o.s, &after);
	assert_int_equal(after.packets, o.at_stop.packets);

	/* RTCP: a report right away and every 200 ms, then the BYE. */
	check_rtcp(o.rx, &o.at_stop, 5);

	mem_deref(o.s);
	mem_deref(o.st);
	mem_deref(m);
	mem_deref(o.rx);
	leakcheck_assert(mark);
}


/* ---- two streams, one timer ------------------------------------------- */

struct two {
	struct stream *s[2];
	struct streamer *st;
	struct rx *rx[2];
	struct tmr t;
	struct stream_stats at_stop[2];
	unsigned timers_running, timers_stopped;
	uint64_t due_running, due_stopped;
	uint64_t t_stop;
};


static void two_stop(void *arg)
{
	struct two *w = arg;

	w->timers_running = (unsigned)timers_count();
	w->due_running = streamer_next_due(w->st);
	for (int i = 0; i < 2; i++) {
		stream_stop(w->s[i]);
		stream_stats_get(w->s[i], &w->at_stop[i]);
	}
	w->t_stop = loop_now_ms();
	w->timers_stopped = (unsigned)timers_count();
	w->due_stopped = streamer_next_due(w->st);

	tmr_start(&w->t, 100, looprun_stop, NULL);
}


static void test_two_streams_one_timer(void **state)
{
	static const uint8_t pts[2] = { MEDIA_PT_PCMU, MEDIA_PT_PCMA };
	long mark = leakcheck_mark();
	struct media *m = NULL;
	unsigned c0;
	uint64_t due1 = 0;
	struct two w;
	(void)state;

	memset(&w, 0, sizeof(w));
	tmr_init(&w.t);
	make_media(&m, TEST_FRAMES);
	w.st = streamer_local(30000, 39999);
	streamer_set_rtcp_interval(w.st, RTCP_TEST_MS);

	/* The streamer's schedule is its own (a timerfd), not one more
	 * libre timer per stream; its first deadline is frame 1 of the
	 * first stream, 20 ms after it started. */
	c0 = (unsigned)timers_count();
	assert_int_equal(streamer_next_due(w.st), 0);
	for (int i = 0; i < 2; i++) {
		w.rx[i] = rx_alloc();
		assert_int_equal(stream_alloc(&w.s[i], w.st), 0);
		assert_int_equal(stream_start(w.s[i], m, pts[i],
					      &w.rx[i]->addr), 0);
		assert_int_equal((unsigned)timers_count(), c0);
		assert_int_equal(streamer_active(w.st), i + 1);
		if (!i)
			due1 = streamer_next_due(w.st);
	}
	assert_true(due1 > 0);
	assert_int_equal(streamer_next_due(w.st), due1);
	assert_false(sa_cmp(stream_laddr(w.s[0]), stream_laddr(w.s[1]),
			    SA_ALL));

	tmr_start(&w.t, 600, two_stop, &w);
	looprun(WATCHDOG_MS);

	/* In the stop handler: our own watchdog alone, with the streams
	 * running or not; the schedule empties with the last stream. */
	assert_int_equal(w.timers_running, 1);
	assert_int_equal(w.timers_stopped, 1);
	assert_true(w.due_running > due1);
	assert_int_equal(w.due_stopped, 0);
	assert_int_equal(streamer_active(w.st), 0);
	assert_int_not_equal(w.at_stop[0].ssrc, w.at_stop[1].ssrc);

	for (int i = 0; i < 2; i++) {
		struct rx *rx = w.rx[i];

		check_run(rx, 0, rx->n_rtp, m, pts[i], w.at_stop[i].ssrc);
		check_rate(rx->n_rtp, w.t_stop - w.at_stop[i].started_ms);
		assert_int_equal(rx->n_rtp, w.at_stop[i].packets);
		check_rtcp(rx, &w.at_stop[i], 3);
	}

	for (int i = 0; i < 2; i++) {
		mem_deref(w.s[i]);
		mem_deref(w.rx[i]);
	}
	mem_deref(w.st);
	mem_deref(m);
	leakcheck_assert(mark);
}


/* ---- restart, and mem_deref while running ----------------------------- */

struct re3 {
	struct stream *s;
	struct streamer *st;
	struct media *m;
	struct rx *rx;
	struct tmr t;
	int step;
	int restart_err;
	unsigned n1;                    /* packets of the first run */
	uint64_t t1_stop, t2_start;
	struct stream_stats before_deref;
	unsigned active_after_deref;
	unsigned timers_after_deref;
};


static void re3_step(void *arg)
{
	struct re3 *r = arg;

	switch (r->step++) {

	case 0:
		stream_stop(r->s);
		r->t1_stop = loop_now_ms();
		tmr_start(&r->t, 100, re3_step, r);
		break;

	case 1:
		r->n1 = r->rx->n_rtp;
		r->t2_start = loop_now_ms();
		r->restart_err = stream_start(r->s, r->m, MEDIA_PT_PCMU,
					      &r->rx->addr);
		tmr_start(&r->t, 300, re3_step, r);
		break;

	default:
		/* Dropping the last reference stops the stream. */
		stream_stats_get(r->s, &r->before_deref);
		r->s = mem_deref(r->s);
		r->active_after_deref = streamer_active(r->st);
		r->timers_after_deref = (unsigned)timers_count();
		tmr_start(&r->t, 100, looprun_stop, NULL);
		break;
	}
}


static void test_restart_and_deref(void **state)
{
	long mark = leakcheck_mark();
	const struct pkt *last1, *first2;
	uint32_t dts;
	struct re3 r;
	struct sr sr;
	(void)state;

	memset(&r, 0, sizeof(r));
	tmr_init(&r.t);
	r.rx = rx_alloc();
	make_media(&r.m, TEST_FRAMES);
	r.st = streamer_local(30000, 39999);

	assert_int_equal(stream_alloc(&r.s, r.st), 0);
	assert_int_equal(stream_start(r.s, r.m, MEDIA_PT_PCMA, &r.rx->addr),
			 0);
	tmr_start(&r.t, 300, re3_step, &r);
	looprun(WATCHDOG_MS);

	assert_int_equal(r.restart_err, 0);
	assert_null(r.s);
	assert_int_equal(r.active_after_deref, 0);
	assert_int_equal(r.timers_after_deref, 1);   /* the watchdog */

	/* Two runs, each correct on its own, with the new payload type. */
	assert_true(r.n1 > 5);
	assert_true(r.rx->n_rtp > r.n1 + 5);
	assert_int_equal(r.rx->n_rtp, r.before_deref.packets);
	check_run(r.rx, 0, r.n1, r.m, MEDIA_PT_PCMA, r.before_deref.ssrc);
	check_run(r.rx, r.n1, r.rx->n_rtp, r.m, MEDIA_PT_PCMU,
		  r.before_deref.ssrc);

	/* One SSRC, and the sequence goes on without a gap; the RTP clock
	 * ran on through the pause (100 ms, 800 samples, or more). */
	last1 = &r.rx->rtp_pk[r.n1 - 1];
	first2 = &r.rx->rtp_pk[r.n1];
	assert_int_equal(rd16(first2->b + 2), (uint16_t)(rd16(last1->b + 2)
							 + 1));
	/* (Less 2 ms: the pause is measured in whole ms, and the last
	 * frame may have left up to 1 ms before it was due.) */
	dts = rd32(first2->b + 4) - rd32(last1->b + 4);
	assert_true(dts + 16 >= (uint32_t)(r.t2_start - r.t1_stop) * 8);
	assert_true(dts < 8 * 1000);
	assert_int_equal(rd16(r.rx->rtp_pk[0].b + 2),
			 r.before_deref.first_seq);

	/* A BYE after each run, and the last report has every packet. */
	assert_true(r.rx->n_rtcp >= 3);
	parse_rtcp(&r.rx->rtcp_pk[r.rx->n_rtcp - 1], &sr);
	assert_true(sr.bye);
	assert_int_equal(sr.packets, r.rx->n_rtp);
	/* The reports counted before the last mem_deref, and its BYE. */
	assert_int_equal(r.rx->n_rtcp, r.before_deref.rtcp_sr + 1);
	{
		unsigned byes = 0;

		for (unsigned i = 0; i < r.rx->n_rtcp; i++) {
			parse_rtcp(&r.rx->rtcp_pk[i], &sr);
			byes += sr.bye;
		}
		assert_int_equal(byes, 2);
	}

	mem_deref(r.st);
	mem_deref(r.m);
	mem_deref(r.rx);
	leakcheck_assert(mark);
}


/* ---- a late loop ------------------------------------------------------ */

struct late {
	struct stream *s;
	struct rx *rx;
	struct tmr t;
	int step;
	unsigned rx_before;            /* packets sent before the stall */
	struct stream_stats at_stop;
	uint64_t t_stop;
};


static void late_step(void *arg)
{
	struct late *l = arg;
	struct stream_stats ss;
	uint64_t until;

	switch (l->step++) {

	case 0:
		/* The loop stalls: 200 ms of work in one callback, ten
		 * frames' worth. */
		stream_stats_get(l->s, &ss);
		l->rx_before = ss.packets;
		until = loop_now_ms() + 200;
		while (loop_now_ms() < until)
			;
		tmr_start(&l->t, 200, late_step, l);
		break;

	default:
		stream_stop(l->s);
		l->t_stop = loop_now_ms();
		stream_stats_get(l->s, &l->at_stop);
		tmr_start(&l->t, 100, looprun_stop, NULL);
		break;
	}
}


static void test_late_loop_skips_ahead(void **state)
{
	long mark = leakcheck_mark();
	struct streamer *st;
	struct media *m = NULL;
	const struct pkt *pk;
	unsigned gaps = 0, i, n, skipped = 0;
	uint32_t ts0;
	struct late l;
	(void)state;

	memset(&l, 0, sizeof(l));
	tmr_init(&l.t);
	l.rx = rx_alloc();
	make_media(&m, TEST_FRAMES);
	st = streamer_local(30000, 39999);

	assert_int_equal(stream_alloc(&l.s, st), 0);
	assert_int_equal(stream_start(l.s, m, MEDIA_PT_PCMU, &l.rx->addr),
			 0);
	tmr_start(&l.t, 200, late_step, &l);
	looprun(WATCHDOG_MS);

	pk = l.rx->rtp_pk;
	n = l.rx->n_rtp;
	assert_int_equal(n, l.at_stop.packets);
	assert_true(n > l.rx_before + 5);
	ts0 = rd32(pk[0].b + 4);

	for (i = 0; i < n; i++) {
		uint32_t frame = (rd32(pk[i].b + 4) - ts0) /
			MEDIA_FRAME_SAMPLES;

		/* Sequence numbers have no gap, even where frames were
		 * skipped; the payload is the frame the timestamp names. */
		assert_int_equal(rd16(pk[i].b + 2),
				 (uint16_t)(rd16(pk[0].b + 2) + i));
		assert_int_equal(!!(pk[i].b[1] & 0x80), i == 0);
		assert_int_equal((rd32(pk[i].b + 4) - ts0) %
				 MEDIA_FRAME_SAMPLES, 0);
		assert_memory_equal(pk[i].b + 12,
				    media_frame(m, MEDIA_PT_PCMU, frame),
				    MEDIA_FRAME_SAMPLES);

		if (i && rd32(pk[i].b + 4) - rd32(pk[i - 1].b + 4) !=
		    MEDIA_FRAME_SAMPLES) {
			++gaps;
			skipped = (rd32(pk[i].b + 4) - rd32(pk[i - 1].b + 4))
				/ MEDIA_FRAME_SAMPLES - 1;
			/* The gap is right after the stall. */
			assert_int_equal(i, l.rx_before);
		}
	}

	/* Ten frames were overdue: the newest three are sent at once, the
	 * older seven or so are skipped (so no burst of more than three),
	 * and timestamps stay with wall time. */
	assert_int_equal(gaps, 1);
	assert_in_range(skipped, 6, 9);
	/* The stream's own count is what the timestamps pass over. */
	assert_int_equal(l.at_stop.skipped, skipped);
	assert_true(pk[l.rx_before + 2].t - pk[l.rx_before].t < 5);
	check_rate(n + skipped, l.t_stop - l.at_stop.started_ms);

	mem_deref(l.s);
	mem_deref(st);
	mem_deref(m);
	mem_deref(l.rx);
	leakcheck_assert(mark);
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_stream),
		cmocka_unit_test(test_two_streams_one_timer),
		cmocka_unit_test(test_restart_and_deref),
		cmocka_unit_test(test_late_loop_skips_ahead),
	};

	return cmocka_run_group_tests_name("rtp/streamer_send", tests,
					   streamrx_group_setup,
					   looprun_teardown);
}
