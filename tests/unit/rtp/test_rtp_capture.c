/**
 * @file test_rtp_capture.c  RTP and RTCP in the pcap file: what a
 *                           streamer's stream sends, and what an RTP
 *                           endpoint sends and receives, read back record
 *                           by record and held against what arrived
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <netinet/in.h>
#include <re.h>
#include "core/core.h"
#include "rtp/rtp.h"
#include "rtp/rtpep.h"
#include "tests/unit/leakcheck.h"
#include "tests/unit/looprun.h"
#include "tests/unit/lebytes.h"
#include "tests/unit/tmpfiles.h"
#include "tests/unit/pcapread.h"
#include "tests/unit/rtp/streamrx.h"
#include "tests/unit/rtp/rtpeptest.h"

enum { LOOPBACK = 0x7f000001, MAX_REC = 256 };

static char path[64];


static int setup(void **state)
{
	(void)state;
	return tmpfile_new(path, sizeof(path), "/tmp/cmrlab-rtpcap-XXXXXX");
}


static int teardown(void **state)
{
	(void)state;
	pcapw_close();
	unlink(path);

	return 0;
}


/* The datagrams of the file at path; *bufp, which they point into, to
 * free. */
static unsigned records(struct udp4 *u, uint8_t **bufp)
{
	struct rec *r = calloc(MAX_REC, sizeof(*r));
	size_t len;
	unsigned n;

	assert_non_null(r);
	*bufp = slurp(path, &len);
	n = parse(*bufp, len, r, MAX_REC);
	for (unsigned i = 0; i < n; i++)
		udp4_get(&u[i], &r[i]);
	free(r);

	return n;
}


/* ---- the streamer ----------------------------------------------------- */

static void test_streamer_capture(void **state)
{
	long mark = leakcheck_mark();
	struct stream_stats ss;
	struct streamer *st;
	struct stream *s = NULL;
	struct media *m = NULL;
	struct udp4 *r;
	struct rx *rx;
	uint8_t *buf;
	unsigned n, nrtp = 0, nrtcp = 0;
	uint16_t sport;
	(void)state;

	r = calloc(MAX_REC, sizeof(*r));
	assert_non_null(r);
	make_media(&m, TEST_FRAMES);
	rx = rx_alloc();
	st = streamer_local(30000, 39999);
	streamer_set_rtcp_interval(st, 100);
	assert_int_equal(stream_alloc(&s, st), 0);
	sport = sa_port(stream_laddr(s));

	/* Off (the default): a stream sends nothing to an open capture. */
	assert_int_equal(pcapw_open(path), 0);
	assert_int_equal(stream_start(s, m, MEDIA_PT_PCMU, &rx->addr), 0);
	run_ms(60);
	stream_stop(s);
	run_ms(30);
	assert_int_equal(records(r, &buf), 0);
	free(buf);

	/* On, with no capture open: nothing, and no harm. */
	pcapw_close();
	streamer_capture_set(st, true);
	assert_int_equal(stream_start(s, m, MEDIA_PT_PCMU, &rx->addr), 0);
	run_ms(60);
	stream_stop(s);
	run_ms(30);
	streamer_capture_set(NULL, true);

	/* On and open: every packet the stream sends from now on. */
	assert_int_equal(pcapw_open(path), 0);
	rx->n_rtp = rx->n_rtcp = 0;
	stream_stats_get(s, &ss);
	n = ss.packets;
	assert_int_equal(stream_start(s, m, MEDIA_PT_PCMA, &rx->addr), 0);
	run_ms(300);
	stream_stop(s);
	run_ms(30);
	pcapw_close();

	stream_stats_get(s, &ss);
	assert_int_equal(rx->n_rtp, ss.packets - n);
	assert_true(rx->n_rtcp >= 3);
	n = records(r, &buf);
	assert_int_equal(n, rx->n_rtp + rx->n_rtcp);

	for (unsigned i = 0; i < n; i++) {
		const struct pkt *want;

		assert_int_equal(r[i].saddr, LOOPBACK);
		assert_int_equal(r[i].daddr, LOOPBACK);
		if (r[i].dport == sa_port(&rx->addr)) {
			assert_int_equal(r[i].sport, sport);
			want = &rx->rtp_pk[nrtp++];
		}
		else {
			assert_int_equal(r[i].dport, sa_port(&rx->addr) + 1);
			assert_int_equal(r[i].sport, sport + 1);
			want = &rx->rtcp_pk[nrtcp++];
		}

		/* Byte for byte what arrived, in the order it was sent. */
		assert_int_equal(r[i].len, want->len);
		assert_memory_equal(r[i].data, want->b, want->len);
	}
	assert_int_equal(nrtp, rx->n_rtp);
	assert_int_equal(nrtcp, rx->n_rtcp);

	free(buf);
	free(r);
	mem_deref(s);
	mem_deref(st);
	mem_deref(rx);
	mem_deref(m);
	leakcheck_assert(mark);
}


/* ---- the endpoint ----------------------------------------------------- */

static void test_rtpep_capture(void **state)
{
	long mark = leakcheck_mark();
	struct media *m = NULL;
	struct rtpep *a, *b;
	struct udp4 *r;
	uint16_t pa, pb;
	uint8_t *buf;
	unsigned n, a_rtp = 0, a_rtcp = 0, b_rtp = 0, b_rtcp = 0;
	uint32_t sent1;
	(void)state;

	r = calloc(MAX_REC, sizeof(*r));
	assert_non_null(r);
	make_media(&m, TEST_FRAMES);
	a = ep_local();
	b = ep_local();
	pa = sa_port(rtpep_laddr(a));
	pb = sa_port(rtpep_laddr(b));
	assert_int_equal(pcapw_open(path), 0);

	/* a captures both ways, b nothing. */
	rtpep_capture_set(a, true, true);
	rtpep_capture_set(NULL, true, true);
	assert_int_equal(rtpep_send_start(a, m, MEDIA_PT_PCMU,
					  rtpep_laddr(b)), 0);
	assert_int_equal(rtpep_send_start(b, m, MEDIA_PT_PCMA,
					  rtpep_laddr(a)), 0);
	run_ms(200);
	rtpep_send_stop(a);
	rtpep_send_stop(b);
	run_ms(30);
	sent1 = rtpep_sent(a);

	/* Then only what a receives. */
	rtpep_capture_set(a, true, false);
	assert_int_equal(rtpep_send_start(a, m, MEDIA_PT_PCMU,
					  rtpep_laddr(b)), 0);
	run_ms(30);
	rtpep_send_stop(a);
	run_ms(30);
	pcapw_close();

	n = records(r, &buf);
	for (unsigned i = 0; i < n; i++) {
		assert_int_equal(r[i].saddr, LOOPBACK);
		if (r[i].sport == pa) {
			assert_int_equal(r[i].dport, pb);
			assert_int_equal(r[i].len, 12 + 160);
			assert_int_equal(r[i].data[1] & 0x7f, MEDIA_PT_PCMU);
			a_rtp++;
		}
		else if (r[i].sport == pa + 1) {
			assert_int_equal(r[i].dport, pb + 1);
			assert_int_equal(r[i].data[1], 200);
			a_rtcp++;
		}
		else if (r[i].sport == pb) {
			assert_int_equal(r[i].dport, pa);
			assert_int_equal(r[i].data[1] & 0x7f, MEDIA_PT_PCMA);
			b_rtp++;
		}
		else {
			assert_int_equal(r[i].sport, pb + 1);
			assert_int_equal(r[i].dport, pa + 1);
			b_rtcp++;
		}
	}

	/* a's first run, all of it, and nothing of its second; all that
	 * reached a from b. */
	assert_true(a_rtp >= 5);
	assert_int_equal(a_rtp, sent1);
	assert_true(rtpep_sent(a) > sent1);
	assert_int_equal(a_rtcp, 2);
	assert_int_equal(b_rtp, rtpep_seg(a, 0)->packets);
	assert_int_equal(b_rtp, rtpep_sent(b));
	assert_int_equal(b_rtcp, rtpep_rtcp_in(a));
	assert_int_equal(b_rtcp, 2);

	free(buf);
	free(r);
	mem_deref(a);
	mem_deref(b);
	mem_deref(m);
	leakcheck_assert(mark);
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_streamer_capture, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_rtpep_capture, setup,
						teardown),
	};

	return cmocka_run_group_tests_name("rtp/capture", tests,
					   rtpeptest_group_setup,
					   looprun_teardown);
}
