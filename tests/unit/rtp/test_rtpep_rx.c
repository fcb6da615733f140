/**
 * @file test_rtpep_rx.c  The RTP endpoint's receiving side: scripted
 *                        packets on the real loop (loss, duplicate,
 *                        reordering, segments, malformed packets, G.711,
 *                        the keep limit, RTCP, pause) and the jitter and
 *                        window arithmetic with arrival times of its own
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
#include "rtp/rtpep_int.h"
#include "tests/unit/leakcheck.h"
#include "tests/unit/looprun.h"
#include "tests/unit/lebytes.h"
#include "tests/unit/rtp/streamrx.h"
#include "tests/unit/rtp/rtpeptest.h"

enum { SSRC_A = 0x11112222, SSRC_B = 0x33334444 };


/* Sample j of the kept PCM is the decoded fill byte of its packet. */
static void check_pcm(const struct rtpep *ep, size_t off, size_t n,
		      int16_t v)
{
	size_t total;
	const int16_t *pcm = rtpep_pcm(ep, &total);

	assert_true(off + n <= total);
	for (size_t j = 0; j < n; j++)
		assert_int_equal(pcm[off + j], v);
}


/* ---- loss, duplicate, reordering -------------------------------------- */

static void test_sequence(void **state)
{
	/* Sent order, from just below the wrap of the 16-bit sequence
	 * number: 65533 is missing, 65535 comes twice, 1 before 0. */
	static const uint16_t seqs[] = { 65530, 65531, 65532, 65534, 65535,
					 65535, 1, 0, 2 };
	long mark = leakcheck_mark();
	const struct rtpep_seg *s;
	struct tally t;
	struct rtpep *ep;
	struct sa src;
	size_t n;
	int fd;
	(void)state;

	ep = ep_local();
	tally_init(&t, ep);
	fd = tx_sock(&src);
	for (unsigned i = 0; i < ARRAY_SIZE(seqs); i++)
		tx_rtp(fd, rtpep_laddr(ep), MEDIA_PT_PCMU, seqs[i],
		       1000 + (uint16_t)(seqs[i] - 65530) * 160u, SSRC_A,
		       (uint8_t)(0x80 + i), 160);
	tally_wait(&t, ARRAY_SIZE(seqs));

	assert_int_equal(rtpep_segs(ep), 1);
	assert_int_equal(t.firsts, 1);
	assert_int_equal(t.calls, ARRAY_SIZE(seqs));
	assert_int_equal(rtpep_bad(ep), 0);
	s = rtpep_seg(ep, 0);
	assert_non_null(s);
	assert_null(rtpep_seg(ep, 1));
	assert_int_equal(s->ssrc, SSRC_A);
	assert_true(sa_cmp(&s->src, &src, SA_ALL));
	assert_int_equal(s->pt, MEDIA_PT_PCMU);
	assert_int_equal(s->packets, 8);
	assert_int_equal(s->expected, 9);         /* 65530 .. 2 */
	assert_int_equal(s->lost, 1);
	assert_int_equal(s->dups, 1);
	assert_int_equal(s->reordered, 1);
	assert_true(s->first_us > 0);
	assert_true(s->last_us >= s->first_us);

	/* Arrival order, the duplicate left out. */
	rtpep_pcm(ep, &n);
	assert_int_equal(n, 8 * 160);
	assert_int_equal(s->pcm_off, 0);
	assert_int_equal(s->pcm_len, n);
	for (unsigned i = 0, k = 0; i < ARRAY_SIZE(seqs); i++) {
		if (i == 5)
			continue;
		check_pcm(ep, 160 * k++, 160,
			  g711_ulaw2pcm((uint8_t)(0x80 + i)));
	}

	close(fd);
	mem_deref(ep);
	leakcheck_assert(mark);
}


/* ---- segments --------------------------------------------------------- */

static void test_segments(void **state)
{
	long mark = leakcheck_mark();
	const struct rtpep_seg *s;
	struct sa src1, src2;
	struct tally t;
	struct rtpep *ep;
	size_t n;
	int fd1, fd2;
	(void)state;

	ep = ep_local();
	tally_init(&t, ep);
	fd1 = tx_sock(&src1);
	fd2 = tx_sock(&src2);

	/* A's ringback (PCMU), then B's voice (PCMA, 10 ms packets), then
	 * A once more: three segments, each sender's change a new one. */
	for (uint16_t i = 0; i < 3; i++)
		tx_rtp(fd1, rtpep_laddr(ep), MEDIA_PT_PCMU, 100 + i,
		       160u * i, SSRC_A, 0x9a, 160);
	tally_wait(&t, 3);
	for (uint16_t i = 0; i < 2; i++)
		tx_rtp(fd1, rtpep_laddr(ep), MEDIA_PT_PCMA, 7 + i, 80u * i,
		       SSRC_B, 0x55, 80);
	tally_wait(&t, 5);
	tx_rtp(fd1, rtpep_laddr(ep), MEDIA_PT_PCMU, 103, 480, SSRC_A, 0x1a,
	       160);
	tally_wait(&t, 6);

	/* The same SSRC from another address is another sender too. */
	tx_rtp(fd2, rtpep_laddr(ep), MEDIA_PT_PCMU, 104, 640, SSRC_A, 0x2a,
	       160);
	tally_wait(&t, 7);

	assert_int_equal(rtpep_segs(ep), 4);
	assert_int_equal(t.firsts, 4);
	assert_int_equal(t.seg[2], 0);
	assert_int_equal(t.seg[3], 1);
	assert_int_equal(t.seg[5], 2);
	assert_int_equal(t.seg[6], 3);

	s = rtpep_seg(ep, 0);
	assert_int_equal(s->ssrc, SSRC_A);
	assert_int_equal(s->packets, 3);
	assert_int_equal(s->lost, 0);
	assert_int_equal(s->pcm_off, 0);
	assert_int_equal(s->pcm_len, 480);
	check_pcm(ep, 0, 480, g711_ulaw2pcm(0x9a));

	s = rtpep_seg(ep, 1);
	assert_int_equal(s->ssrc, SSRC_B);
	assert_int_equal(s->pt, MEDIA_PT_PCMA);
	assert_true(sa_cmp(&s->src, &src1, SA_ALL));
	assert_int_equal(s->packets, 2);
	assert_int_equal(s->expected, 2);
	assert_int_equal(s->pcm_off, 480);
	assert_int_equal(s->pcm_len, 160);
	check_pcm(ep, 480, 160, g711_alaw2pcm(0x55));
	/* A-law, not u-law, decoded. */
	assert_int_not_equal(g711_alaw2pcm(0x55), g711_ulaw2pcm(0x55));

	s = rtpep_seg(ep, 2);
	assert_int_equal(s->ssrc, SSRC_A);
	assert_int_equal(s->packets, 1);
	assert_int_equal(s->pcm_off, 640);
	assert_int_equal(s->pcm_len, 160);
	check_pcm(ep, 640, 160, g711_ulaw2pcm(0x1a));

	s = rtpep_seg(ep, 3);
	assert_true(sa_cmp(&s->src, &src2, SA_ALL));
	assert_int_equal(s->pcm_off, 800);
	assert_int_equal(s->pcm_len, 160);
	assert_true(s->first_us >= rtpep_seg(ep, 2)->last_us);
	rtpep_pcm(ep, &n);
	assert_int_equal(n, 960);

	close(fd1);
	close(fd2);
	mem_deref(ep);
	leakcheck_assert(mark);
}


/* ---- malformed packets, and every header field honoured --------------- */

static void test_malformed(void **state)
{
	long mark = leakcheck_mark();
	const struct rtpep_seg *s;
	uint8_t b[64], g[64];
	struct tally t;
	struct rtpep *ep;
	size_t n, len;
	int fd;
	(void)state;

	ep = ep_local();
	tally_init(&t, ep);
	fd = tx_sock(NULL);

	/* Too short for a header. */
	tx_raw(fd, rtpep_laddr(ep), b, rtp_make(b, 0, 1, 0, SSRC_A, 0, 0)
	       - 1);
	/* Version 1. */
	len = rtp_make(b, 0, 1, 0, SSRC_A, 0xaa, 8);
	b[0] = 0x40;
	tx_raw(fd, rtpep_laddr(ep), b, len);
	/* 15 CSRCs announced, 2 words there. */
	b[0] = 0x8f;
	tx_raw(fd, rtpep_laddr(ep), b, len);
	/* An extension longer than the packet. */
	b[0] = 0x90;
	b[14] = 0;
	b[15] = 3;
	tx_raw(fd, rtpep_laddr(ep), b, len);
	/* Padding of count 0, and padding longer than the payload. */
	len = rtp_make(b, 0, 1, 0, SSRC_A, 0xaa, 8);
	b[0] = 0xa0;
	b[len - 1] = 0;
	tx_raw(fd, rtpep_laddr(ep), b, len);
	b[len - 1] = 9;
	tx_raw(fd, rtpep_laddr(ep), b, len);
	tally_wait(&t, 6);
	assert_int_equal(rtpep_bad(ep), 6);
	assert_int_equal(t.calls, 0);
	assert_int_equal(rtpep_segs(ep), 0);

	/* The next packet is fine: 2 CSRCs, a one-word extension, 10
	 * bytes of payload and 3 of padding; only the payload is audio. */
	memset(g, 0, sizeof(g));
	rtp_make(g, MEDIA_PT_PCMA | 0x80, 5, 800, SSRC_A, 0, 0);
	g[0] = 0x80 | 0x20 | 0x10 | 2;
	n = 12 + 8;                              /* the CSRCs */
	g[n + 2] = 0;
	g[n + 3] = 1;                            /* one word */
	memset(g + n + 4, 0x11, 4);
	n += 8;
	memset(g + n, 0x66, 10);
	n += 10;
	g[n + 2] = 3;
	n += 3;
	tx_raw(fd, rtpep_laddr(ep), g, n);

	/* A header alone, and another payload type: measured, no audio. */
	tx_rtp(fd, rtpep_laddr(ep), MEDIA_PT_PCMA, 6, 880, SSRC_A, 0, 0);
	tx_rtp(fd, rtpep_laddr(ep), 101, 7, 880, SSRC_A, 0x01, 4);
	tally_wait(&t, 9);

	assert_int_equal(rtpep_bad(ep), 6);
	assert_int_equal(rtpep_segs(ep), 1);
	s = rtpep_seg(ep, 0);
	assert_int_equal(s->pt, MEDIA_PT_PCMA);
	assert_int_equal(s->packets, 3);
	assert_int_equal(s->lost, 0);
	assert_int_equal(s->pcm_len, 10);
	rtpep_pcm(ep, &n);
	assert_int_equal(n, 10);
	check_pcm(ep, 0, 10, g711_alaw2pcm(0x66));

	close(fd);
	mem_deref(ep);
	leakcheck_assert(mark);
}


/* ---- the keep limit --------------------------------------------------- */

static void test_keep_limit(void **state)
{
	long mark = leakcheck_mark();
	const struct rtpep_seg *s;
	struct tally t;
	struct rtpep *ep;
	size_t n;
	int fd;
	(void)state;

	ep = ep_local();
	tally_init(&t, ep);
	fd = tx_sock(NULL);

	/* 50 ms: 400 samples, two and a half packets. */
	rtpep_keep_set(ep, 50);
	for (uint16_t i = 0; i < 5; i++)
		tx_rtp(fd, rtpep_laddr(ep), MEDIA_PT_PCMU, i, 160u * i,
		       SSRC_A, (uint8_t)(0x90 + i), 160);
	tally_wait(&t, 5);

	s = rtpep_seg(ep, 0);
	assert_int_equal(s->packets, 5);          /* still measured */
	assert_int_equal(s->pcm_len, 400);
	rtpep_pcm(ep, &n);
	assert_int_equal(n, 400);
	check_pcm(ep, 0, 160, g711_ulaw2pcm(0x90));
	check_pcm(ep, 320, 80, g711_ulaw2pcm(0x92));

	/* A second segment after the limit keeps nothing. */
	tx_rtp(fd, rtpep_laddr(ep), MEDIA_PT_PCMU, 0, 0, SSRC_B, 0, 160);
	tally_wait(&t, 6);
	assert_int_equal(rtpep_seg(ep, 1)->pcm_off, 400);
	assert_int_equal(rtpep_seg(ep, 1)->pcm_len, 0);

	/* A lower limit drops what is beyond it. */
	rtpep_keep_set(ep, 30);
	rtpep_pcm(ep, &n);
	assert_int_equal(n, 240);
	assert_int_equal(rtpep_seg(ep, 0)->pcm_len, 240);
	assert_int_equal(rtpep_seg(ep, 1)->pcm_off, 240);

	/* 0 is the default again: room for the next packet. */
	rtpep_keep_set(ep, 0);
	tx_rtp(fd, rtpep_laddr(ep), MEDIA_PT_PCMU, 1, 160, SSRC_B, 0x77,
	       160);
	tally_wait(&t, 7);
	rtpep_pcm(ep, &n);
	assert_int_equal(n, 400);
	assert_int_equal(rtpep_seg(ep, 1)->pcm_len, 160);
	check_pcm(ep, 240, 160, g711_ulaw2pcm(0x77));

	close(fd);
	mem_deref(ep);
	leakcheck_assert(mark);
}


/* ---- RTCP, and a pause ------------------------------------------------ */

static void test_rtcp_and_pause(void **state)
{
	static const uint8_t rr[8] = { 0x80, 201, 0, 1, 1, 2, 3, 4 };
	long mark = leakcheck_mark();
	struct sa rtcp;
	struct tally t;
	struct rtpep *ep;
	size_t n;
	int fd;
	(void)state;

	ep = ep_local();
	tally_init(&t, ep);
	fd = tx_sock(NULL);
	sa_cpy(&rtcp, rtpep_laddr(ep));
	sa_set_port(&rtcp, sa_port(&rtcp) + 1);
	assert_int_equal(sa_port(rtpep_laddr(ep)) % 2, 0);

	/* Two on port + 1, one multiplexed on the RTP port. */
	tx_raw(fd, &rtcp, rr, sizeof(rr));
	tx_raw(fd, &rtcp, rr, sizeof(rr));
	tx_raw(fd, rtpep_laddr(ep), rr, sizeof(rr));
	tally_wait(&t, 3);
	assert_int_equal(rtpep_rtcp_in(ep), 3);
	assert_int_equal(rtpep_bad(ep), 0);
	assert_int_equal(rtpep_segs(ep), 0);

	/* Paused: nothing is taken in. */
	rtpep_rx_pause(ep, true);
	tx_rtp(fd, rtpep_laddr(ep), MEDIA_PT_PCMU, 1, 0, SSRC_A, 0, 160);
	tx_raw(fd, &rtcp, rr, sizeof(rr));
	tx_raw(fd, rtpep_laddr(ep), (const uint8_t *)"bad", 3);
	run_ms(50);
	assert_int_equal(tally_seen(&t), 3);
	assert_int_equal(rtpep_segs(ep), 0);

	rtpep_rx_pause(ep, false);
	tx_rtp(fd, rtpep_laddr(ep), MEDIA_PT_PCMU, 2, 160, SSRC_A, 0, 160);
	tally_wait(&t, 4);
	assert_int_equal(rtpep_segs(ep), 1);
	assert_int_equal(rtpep_seg(ep, 0)->packets, 1);
	rtpep_pcm(ep, &n);
	assert_int_equal(n, 160);

	/* Harmless on no endpoint. */
	rtpep_rx_pause(NULL, true);
	rtpep_keep_set(NULL, 1);
	rtpep_handler_set(NULL, NULL, NULL);
	assert_int_equal(rtpep_segs(NULL), 0);
	assert_null(rtpep_seg(NULL, 0));
	assert_null(rtpep_pcm(NULL, &n));
	assert_int_equal(n, 0);
	assert_int_equal(rtpep_rtcp_in(NULL), 0);
	assert_int_equal(rtpep_bad(NULL), 0);
	assert_null(rtpep_laddr(NULL));

	close(fd);
	mem_deref(ep);
	leakcheck_assert(mark);
}


/* ---- the arithmetic, with arrival times of the test's own ------------- */

static void rx_at(struct rtpep *ep, uint32_t ssrc, uint16_t seq,
		  uint32_t ts, uint64_t now)
{
	static const struct sa *src;
	static struct sa a;
	uint8_t b[12 + 160];

	if (!src) {
		assert_int_equal(sa_set_str(&a, "192.0.2.1", 4000), 0);
		src = &a;
	}
	rtpep_rx_packet(ep, src, b, rtp_make(b, 0, seq, ts, ssrc, 0xff,
					     160), now);
}


static void test_jitter_and_window(void **state)
{
	long mark = leakcheck_mark();
	const struct rtpep_seg *s;
	struct rtpep *ep;
	double j;
	(void)state;

	ep = ep_local();

	/* On time: no jitter. */
	rx_at(ep, SSRC_A, 10, 0, 1000000);
	rx_at(ep, SSRC_A, 11, 160, 1020000);
	s = rtpep_seg(ep, 0);
	assert_true(s->jitter_ms == 0.0);

	/* 10 ms late: D = 80 samples, J = 80 / 16 = 5 samples. */
	rx_at(ep, SSRC_A, 12, 320, 1050000);
	j = 5.0;
	assert_float_equal(s->jitter_ms, j / 8, 1e-9);

	/* Back on time: D = |10 ms - 20 ms| = 80 samples again. */
	rx_at(ep, SSRC_A, 13, 480, 1060000);
	j += (80.0 - j) / 16;
	assert_float_equal(s->jitter_ms, j / 8, 1e-9);

	/* Steady: it decays by 15/16. */
	rx_at(ep, SSRC_A, 14, 640, 1080000);
	j -= j / 16;
	assert_float_equal(s->jitter_ms, j / 8, 1e-9);
	assert_int_equal(s->first_us, 1000000);
	assert_int_equal(s->last_us, 1080000);

	/* 600 ahead, then one of the skipped ones far back (older than the
	 * duplicate window): reordered, not a duplicate; then a true
	 * duplicate of a recent one. */
	rx_at(ep, SSRC_A, 614, 96000, 1100000);
	rx_at(ep, SSRC_A, 20, 1600, 1120000);
	rx_at(ep, SSRC_A, 614, 96000, 1140000);
	rx_at(ep, SSRC_A, 13, 480, 1160000);
	assert_int_equal(s->packets, 8);
	assert_int_equal(s->expected, 605);      /* 10 .. 614 */
	assert_int_equal(s->lost, 597);
	assert_int_equal(s->reordered, 2);
	assert_int_equal(s->dups, 1);

	/* A packet older than the first received lowers the base: the
	 * count starts from the lowest number, not a negative loss. */
	rx_at(ep, SSRC_A, 5, 0, 1180000);
	assert_int_equal(s->expected, 610);
	assert_int_equal(s->packets, 9);

	/* Segments stop at RTPEP_SEGS_MAX: the next sender is bad. */
	for (uint32_t i = 1; rtpep_segs(ep) < RTPEP_SEGS_MAX; i++)
		rx_at(ep, SSRC_A + i, 1, 0, 2000000);
	assert_int_equal(rtpep_bad(ep), 0);
	rx_at(ep, SSRC_B, 1, 0, 2000000);
	assert_int_equal(rtpep_bad(ep), 1);
	assert_int_equal(rtpep_segs(ep), RTPEP_SEGS_MAX);

	mem_deref(ep);
	leakcheck_assert(mark);
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sequence),
		cmocka_unit_test(test_segments),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_keep_limit),
		cmocka_unit_test(test_rtcp_and_pause),
		cmocka_unit_test(test_jitter_and_window),
	};

	return cmocka_run_group_tests_name("rtp/rtpep_rx", tests,
					   rtpeptest_group_setup,
					   looprun_teardown);
}
