/**
 * @file test_rtpep_talk.c  The RTP endpoint on the real loop: its ports,
 *                          two endpoints talking to each other, the send
 *                          schedule read back packet by packet, a
 *                          retarget, and a pause while the far end talks
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <re.h>
#include <rem_g711.h>
#include "core/core.h"
#include "rtp/rtp.h"
#include "rtp/rtpep.h"
#include "tests/unit/leakcheck.h"
#include "tests/unit/looprun.h"
#include "tests/unit/lebytes.h"
#include "tests/unit/rtp/streamrx.h"
#include "tests/unit/rtp/udpports.h"
#include "tests/unit/rtp/rtpeptest.h"


static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}


static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
		(uint32_t)p[2] << 8 | (uint32_t)p[3];
}


/* ---- ports and arguments ---------------------------------------------- */

static void test_ports(void **state)
{
	long mark = leakcheck_mark();
	struct rtpep *e1 = NULL, *e2 = NULL, *e3 = NULL;
	struct media *m = NULL;
	uint16_t p = free_range6(20000, 32000);
	struct sa ip, none, dst;
	int blocker;
	(void)state;

	assert_int_equal(sa_set_str(&ip, "127.0.0.1", 0), 0);
	sa_init(&none, AF_UNSPEC);

	assert_int_equal(rtpep_alloc(NULL, &ip, p, p + 5), EINVAL);
	assert_int_equal(rtpep_alloc(&e1, NULL, p, p + 5), EINVAL);
	assert_int_equal(rtpep_alloc(&e1, &none, p, p + 5), EINVAL);
	assert_int_equal(rtpep_alloc(&e1, &ip, p + 5, p), EINVAL);
	assert_int_equal(rtpep_alloc(&e1, &ip, 0, p), EINVAL);
	assert_int_equal(rtpep_alloc(&e1, &ip, p + 1, p + 2), ENOSPC);
	assert_null(e1);

	/* [p - 1, p + 5]: pairs p, p + 2, p + 4; the RTCP port of the
	 * first is taken, so it is skipped. */
	blocker = bind_plain((uint16_t)(p + 1));
	assert_true(blocker >= 0);
	assert_int_equal(rtpep_alloc(&e1, &ip, p - 1, p + 5), 0);
	assert_int_equal(sa_port(rtpep_laddr(e1)), p + 2);
	assert_true(sa_is_loopback(rtpep_laddr(e1)));
	assert_int_equal(rtpep_alloc(&e2, &ip, p - 1, p + 5), 0);
	assert_int_equal(sa_port(rtpep_laddr(e2)), p + 4);
	assert_int_equal(rtpep_alloc(&e3, &ip, p - 1, p + 5), ENOSPC);
	assert_null(e3);

	/* Both ports of a pair are held: nothing else binds them. */
	assert_int_equal(bind_plain((uint16_t)(p + 2)), -1);
	assert_int_equal(bind_plain((uint16_t)(p + 3)), -1);
	close(blocker);
	e1 = mem_deref(e1);
	assert_int_equal(rtpep_alloc(&e1, &ip, p, p + 5), 0);
	assert_int_equal(sa_port(rtpep_laddr(e1)), p);

	/* Pairs from the kernel: always even, with the odd one held (one
	 * at a time: the loop keeps a slot for every descriptor number it
	 * has seen, and more at once than the warm-up had would show as a
	 * leak). */
	for (unsigned i = 0; i < 16; i++) {
		struct rtpep *any = NULL;
		uint16_t q;

		assert_int_equal(rtpep_alloc(&any, &ip, 0, 0), 0);
		q = sa_port(rtpep_laddr(any));
		assert_int_equal(q % 2, 0);
		assert_true(q > 0);
		assert_int_equal(bind_plain((uint16_t)(q + 1)), -1);
		mem_deref(any);
	}

	/* Sending: G.711 only, and everything given. */
	make_media(&m, 2);
	assert_int_equal(sa_set_str(&dst, "127.0.0.1", 9), 0);
	assert_int_equal(rtpep_send_start(e1, m, 3, &dst), EINVAL);
	assert_int_equal(rtpep_send_start(e1, NULL, 0, &dst), EINVAL);
	assert_int_equal(rtpep_send_start(e1, m, 0, NULL), EINVAL);
	assert_int_equal(rtpep_send_start(NULL, m, 0, &dst), EINVAL);
	sa_set_port(&dst, 65535);
	assert_int_equal(rtpep_send_start(e1, m, 0, &dst), EINVAL);
	sa_set_port(&dst, 0);
	assert_int_equal(rtpep_send_start(e1, m, 0, &dst), EINVAL);
	assert_int_equal(rtpep_sent(e1), 0);
	rtpep_send_stop(e1);
	rtpep_send_stop(NULL);
	assert_int_equal(rtpep_sent(NULL), 0);

	mem_deref(e1);
	mem_deref(e2);
	mem_deref(m);
	leakcheck_assert(mark);
}


/* ---- two endpoints ---------------------------------------------------- */

static bool frame_is(const int16_t *x, const struct media *m, uint8_t pt,
		     uint32_t k)
{
	const uint8_t *f = media_frame(m, pt, k);

	for (unsigned i = 0; i < MEDIA_FRAME_SAMPLES; i++) {
		if (x[i] != (pt == MEDIA_PT_PCMU ? g711_ulaw2pcm(f[i]) :
			     g711_alaw2pcm(f[i])))
			return false;
	}

	return true;
}


/* The kept samples of seg are the frames of m for pt, from frame 0 on,
 * in order: what the other endpoint sent, decoded.  (A late wake-up of
 * the sender may skip frames; the frames of the media all differ, so
 * each block still names the one it is.) */
static void check_audio(const struct rtpep *ep, const struct rtpep_seg *s,
			const struct media *m, uint8_t pt)
{
	const int16_t *pcm = rtpep_pcm(ep, NULL);
	uint32_t k = 0;

	assert_int_equal(s->pcm_len, (size_t)s->packets * 160);
	assert_true(frame_is(pcm + s->pcm_off, m, pt, 0));
	for (uint32_t j = 1; j < s->packets; j++) {
		const int16_t *x = pcm + s->pcm_off + 160 * j;
		uint32_t k0 = k;

		do
			++k;
		while (!frame_is(x, m, pt, k) && k < k0 + TEST_FRAMES);
		assert_true(k < k0 + TEST_FRAMES);
	}
}


static void test_two_endpoints(void **state)
{
	long mark = leakcheck_mark();
	struct rtpep *ep[2];
	struct media *m = NULL;
	static const uint8_t pt[2] = { MEDIA_PT_PCMU, MEDIA_PT_PCMA };
	(void)state;

	make_media(&m, TEST_FRAMES);
	ep[0] = ep_local();
	ep[1] = ep_local();
	for (int i = 0; i < 2; i++)
		assert_int_equal(rtpep_send_start(ep[i], m, pt[i],
						  rtpep_laddr(ep[!i])), 0);

	/* Each sent its first packet and report at once. */
	assert_int_equal(rtpep_sent(ep[0]), 1);
	run_ms(500);
	for (int i = 0; i < 2; i++)
		rtpep_send_stop(ep[i]);
	run_ms(50);

	for (int i = 0; i < 2; i++) {
		const struct rtpep_seg *s;

		/* What the other sent, all of it, in one segment from the
		 * other's RTP address (symmetric RTP). */
		assert_int_equal(rtpep_segs(ep[i]), 1);
		s = rtpep_seg(ep[i], 0);
		assert_true(sa_cmp(&s->src, rtpep_laddr(ep[!i]), SA_ALL));
		assert_int_equal(s->pt, pt[!i]);
		assert_int_equal(s->packets, rtpep_sent(ep[!i]));
		assert_in_range(s->packets, 15, 30);
		assert_int_equal(s->expected, s->packets);
		assert_int_equal(s->lost, 0);
		assert_int_equal(s->dups, 0);
		assert_int_equal(s->reordered, 0);
		assert_true(s->jitter_ms < 10.0);
		assert_true(s->last_us - s->first_us > 300000);
		assert_int_equal(rtpep_bad(ep[i]), 0);
		check_audio(ep[i], s, m, pt[!i]);

		/* The first report, and the report and BYE of the stop. */
		assert_int_equal(rtpep_rtcp_in(ep[i]), 2);
	}

	mem_deref(ep[0]);
	mem_deref(ep[1]);
	mem_deref(m);
	leakcheck_assert(mark);
}


/* Over IPv6 the same: a pair on ::1 and packets both ways. */
static void test_ipv6(void **state)
{
	long mark = leakcheck_mark();
	struct rtpep *ep[2];
	struct media *m = NULL;
	struct sa ip;
	(void)state;

	make_media(&m, TEST_FRAMES);
	assert_int_equal(sa_set_str(&ip, "::1", 0), 0);
	for (int i = 0; i < 2; i++) {
		ep[i] = NULL;
		assert_int_equal(rtpep_alloc(&ep[i], &ip, 0, 0), 0);
		assert_int_equal(sa_af(rtpep_laddr(ep[i])), AF_INET6);
		assert_int_equal(sa_port(rtpep_laddr(ep[i])) % 2, 0);
	}
	for (int i = 0; i < 2; i++)
		assert_int_equal(rtpep_send_start(ep[i], m, MEDIA_PT_PCMU,
						  rtpep_laddr(ep[!i])), 0);
	run_ms(100);
	for (int i = 0; i < 2; i++)
		rtpep_send_stop(ep[i]);
	run_ms(30);

	for (int i = 0; i < 2; i++) {
		const struct rtpep_seg *s = rtpep_seg(ep[i], 0);

		assert_int_equal(rtpep_segs(ep[i]), 1);
		assert_true(sa_cmp(&s->src, rtpep_laddr(ep[!i]), SA_ALL));
		assert_int_equal(s->packets, rtpep_sent(ep[!i]));
		assert_int_equal(s->lost, 0);
		assert_int_equal(rtpep_rtcp_in(ep[i]), 2);
	}

	mem_deref(ep[0]);
	mem_deref(ep[1]);
	mem_deref(m);
	leakcheck_assert(mark);
}


/* ---- the schedule, read back ------------------------------------------ */

/*
 * Packets [from, to) of rx are one run of ep's source: V=2, pt, the
 * marker on the first only, one SSRC, sequence numbers without a gap,
 * timestamps on the 20 ms grid, the payload the frame its timestamp
 * names (counted from frame0 at ts0).  Returns the frames the
 * timestamps passed over (skipped after late wake-ups).
 */
static unsigned check_run(const struct rx *rx, unsigned from, unsigned to,
			  const struct media *m, uint8_t pt, uint32_t ts0,
			  uint32_t frame0)
{
	const struct pkt *p0 = &rx->rtp_pk[from];
	unsigned skipped = 0;

	assert_true(to > from);
	for (unsigned i = from; i < to; i++) {
		const struct pkt *p = &rx->rtp_pk[i];
		uint32_t dts = rd32(p->b + 4) - ts0;

		assert_int_equal(p->len, RTP_LEN);
		assert_int_equal(p->b[0], 0x80);
		assert_int_equal(p->b[1] & 0x7f, pt);
		assert_int_equal(!!(p->b[1] & 0x80), i == from);
		assert_int_equal(rd32(p->b + 8), rd32(p0->b + 8));
		assert_int_equal(rd16(p->b + 2),
				 (uint16_t)(rd16(p0->b + 2) + (i - from)));
		assert_int_equal(dts % MEDIA_FRAME_SAMPLES, 0);
		assert_memory_equal(p->b + 12,
				    media_frame(m, pt, frame0 + dts / 160),
				    MEDIA_FRAME_SAMPLES);
		if (i > from) {
			uint32_t step = rd32(p->b + 4) - rd32(p[-1].b + 4);

			assert_true(step >= MEDIA_FRAME_SAMPLES);
			skipped += step / MEDIA_FRAME_SAMPLES - 1;
		}
	}

	return skipped;
}


static void test_schedule(void **state)
{
	long mark = leakcheck_mark();
	struct media *m = NULL;
	struct rtpep *ep;
	struct rx *rx;
	uint64_t t0, ms;
	unsigned n, skipped;
	long expect;
	(void)state;

	make_media(&m, TEST_FRAMES);
	rx = rx_alloc();
	ep = ep_local();

	t0 = loop_now_ms();
	assert_int_equal(rtpep_send_start(ep, m, MEDIA_PT_PCMA, &rx->addr),
			 0);
	run_ms(1000);
	rtpep_send_stop(ep);
	ms = loop_now_ms() - t0;
	run_ms(50);

	n = rx->n_rtp;
	assert_int_equal(n, rtpep_sent(ep));
	skipped = check_run(rx, 0, n, m, MEDIA_PT_PCMA,
			    rd32(rx->rtp_pk[0].b + 4), 0);

	/* One frame every 20 ms of the run, sent or skipped: 50 +- 3 over
	 * the second; and at least 40 sent, however late the loop ran. */
	expect = (long)(ms / 20) + 1;
	assert_in_range(n + skipped, (unsigned long)(expect - 3),
			(unsigned long)(expect + 3));
	assert_in_range(n, 40, 53);

	/* The report at the start and the report and BYE at the stop,
	 * from port + 1 to the receiver's port + 1. */
	assert_int_equal(rx->n_rtcp, 2);
	assert_int_equal(rx->rtcp_pk[0].b[1], 200);
	assert_int_equal(rd32(rx->rtcp_pk[1].b + 20), n);   /* packets */
	assert_int_equal(rx->rtcp_pk[1].b[rx->rtcp_pk[1].len - 7], 203);

	mem_deref(ep);
	mem_deref(rx);
	mem_deref(m);
	leakcheck_assert(mark);
}


/* ---- a retarget ------------------------------------------------------- */

static void test_retarget(void **state)
{
	long mark = leakcheck_mark();
	struct media *m1 = NULL, *m2 = NULL;
	struct rtpep *ep;
	struct rx *rx1, *rx2;
	const struct pkt *last, *first;
	unsigned n1;
	(void)state;

	make_media(&m1, TEST_FRAMES);
	make_media(&m2, 3);
	rx1 = rx_alloc();
	rx2 = rx_alloc();
	ep = ep_local();

	assert_int_equal(rtpep_send_start(ep, m1, MEDIA_PT_PCMU, &rx1->addr),
			 0);
	run_ms(200);
	n1 = rtpep_sent(ep);
	assert_int_equal(rtpep_send_start(ep, m2, MEDIA_PT_PCMA, &rx2->addr),
			 0);
	run_ms(200);
	rtpep_send_stop(ep);
	run_ms(50);

	/* Nothing more to the first after the retarget; the second got a
	 * run of its own, of the new media. */
	assert_int_equal(rx1->n_rtp, n1);
	assert_true(n1 >= 5);
	assert_true(rx2->n_rtp >= 5);
	assert_int_equal(rx1->n_rtp + rx2->n_rtp, rtpep_sent(ep));
	(void)check_run(rx1, 0, n1, m1, MEDIA_PT_PCMU,
			rd32(rx1->rtp_pk[0].b + 4), 0);
	(void)check_run(rx2, 0, rx2->n_rtp, m2, MEDIA_PT_PCMA,
			rd32(rx2->rtp_pk[0].b + 4), 0);

	/* One source: its SSRC, its sequence going on, its clock running
	 * on (never back). */
	last = &rx1->rtp_pk[n1 - 1];
	first = &rx2->rtp_pk[0];
	assert_int_equal(rd32(first->b + 8), rd32(last->b + 8));
	assert_int_equal(rd16(first->b + 2), (uint16_t)(rd16(last->b + 2) + 1));
	assert_true(rd32(first->b + 4) - rd32(last->b + 4) >= 160);
	assert_true(rd32(first->b + 4) - rd32(last->b + 4) < 8000);

	/* The first's only report is its first one; no BYE on retarget. */
	assert_int_equal(rx1->n_rtcp, 1);
	assert_int_equal(rx2->n_rtcp, 2);

	mem_deref(ep);
	mem_deref(rx1);
	mem_deref(rx2);
	mem_deref(m1);
	mem_deref(m2);
	leakcheck_assert(mark);
}


/* ---- a pause ---------------------------------------------------------- */

static void test_pause(void **state)
{
	long mark = leakcheck_mark();
	struct media *m = NULL;
	struct rtpep *a, *b;
	uint32_t at_pause, rtcp_at_pause;
	size_t n_at_pause, n;
	(void)state;

	make_media(&m, TEST_FRAMES);
	a = ep_local();
	b = ep_local();
	assert_int_equal(rtpep_send_start(a, m, MEDIA_PT_PCMU,
					  rtpep_laddr(b)), 0);
	run_ms(200);

	rtpep_rx_pause(b, true);
	at_pause = rtpep_seg(b, 0)->packets;
	rtcp_at_pause = rtpep_rtcp_in(b);
	rtpep_pcm(b, &n_at_pause);
	assert_true(at_pause >= 5);
	run_ms(200);

	/* The sender went on; the paused one took in nothing. */
	assert_true(rtpep_sent(a) >= at_pause + 5);
	assert_int_equal(rtpep_segs(b), 1);
	assert_int_equal(rtpep_seg(b, 0)->packets, at_pause);
	rtpep_pcm(b, &n);
	assert_int_equal(n, n_at_pause);

	rtpep_rx_pause(b, false);
	run_ms(100);
	rtpep_send_stop(a);
	run_ms(50);

	/* Measuring again: the packets of the pause count as lost. */
	assert_true(rtpep_seg(b, 0)->packets >= at_pause + 2);
	assert_true(rtpep_seg(b, 0)->lost >= 5);
	assert_int_equal(rtpep_rtcp_in(b), rtcp_at_pause + 1);

	mem_deref(a);
	mem_deref(b);
	mem_deref(m);
	leakcheck_assert(mark);
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ports),
		cmocka_unit_test(test_two_endpoints),
		cmocka_unit_test(test_ipv6),
		cmocka_unit_test(test_schedule),
		cmocka_unit_test(test_retarget),
		cmocka_unit_test(test_pause),
	};

	return cmocka_run_group_tests_name("rtp/rtpep_talk", tests,
					   rtpeptest_group_setup,
					   looprun_teardown);
}
