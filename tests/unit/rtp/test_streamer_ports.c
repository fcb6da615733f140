/**
 * @file test_streamer_ports.c  The RTP streamer's ports and arguments: the
 *                              port range and its scan, refused arguments,
 *                              and a stream stopped by ICMP port
 *                              unreachable
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <re.h>
#include "core/core.h"
#include "rtp/rtp.h"
#include "tests/unit/leakcheck.h"
#include "tests/unit/looprun.h"
#include "tests/unit/lebytes.h"
#include "tests/unit/rtp/streamrx.h"
#include "tests/unit/rtp/udpports.h"


/* ---- ports and arguments ---------------------------------------------- */

static void test_ports_and_arguments(void **state)
{
	long mark = leakcheck_mark();
	struct stream *s1 = NULL, *s2 = NULL, *s3 = NULL, *s4 = NULL;
	struct streamer *st = NULL;
	struct media *m = NULL;
	struct sa ip, dst;
	uint16_t p = free_range6(41000, 64000);
	int blocker;
	(void)state;

	assert_int_equal(sa_set_str(&ip, "127.0.0.1", 0), 0);
	assert_int_equal(sa_set_str(&dst, "127.0.0.1", 9), 0);

	/* Bad ranges and arguments. */
	assert_int_equal(streamer_alloc(NULL, &ip, p, p + 5), EINVAL);
	assert_int_equal(streamer_alloc(&st, NULL, p, p + 5), EINVAL);
	assert_int_equal(streamer_alloc(&st, &ip, p + 5, p), EINVAL);
	assert_int_equal(streamer_alloc(&st, &ip, p, p), EINVAL);
	assert_int_equal(streamer_alloc(&st, &ip, p - 1, p), EINVAL);
	assert_int_equal(streamer_alloc(&st, &ip, 0, 10), EINVAL);
	assert_null(st);
	assert_int_equal(stream_alloc(&s1, NULL), EINVAL);

	/* [p - 1, p + 5]: the odd low end is not an RTP port, so the pairs
	 * are p, p + 2 and p + 4.  The RTCP port of the middle one is
	 * taken: it is skipped. */
	blocker = bind_plain((uint16_t)(p + 3));
	assert_true(blocker >= 0);
	st = streamer_local((uint16_t)(p - 1), (uint16_t)(p + 5));

	assert_int_equal(stream_alloc(&s1, st), 0);
	assert_int_equal(sa_port(stream_laddr(s1)), p);
	assert_int_equal(stream_alloc(&s2, st), 0);
	assert_int_equal(sa_port(stream_laddr(s2)), p + 4);
	assert_int_equal(stream_alloc(&s3, st), ENOSPC);
	assert_null(s3);

	/* A freed pair comes back once the scan comes round to it... */
	s1 = mem_deref(s1);
	assert_int_equal(stream_alloc(&s3, st), 0);
	assert_int_equal(sa_port(stream_laddr(s3)), p);

	/* ...but the scan goes on from there rather than handing the same
	 * pair out again at once. */
	close(blocker);
	s3 = mem_deref(s3);
	assert_int_equal(stream_alloc(&s4, st), 0);
	assert_int_equal(sa_port(stream_laddr(s4)), p + 2);

	/* stream_start: G.711 only, and everything given. */
	make_media(&m, 2);
	assert_int_equal(stream_start(s4, m, 3, &dst), EINVAL);
	assert_int_equal(stream_start(s4, m, 9, &dst), EINVAL);
	assert_int_equal(stream_start(s4, NULL, MEDIA_PT_PCMU, &dst),
			 EINVAL);
	assert_int_equal(stream_start(s4, m, MEDIA_PT_PCMU, NULL), EINVAL);
	assert_int_equal(stream_start(NULL, m, MEDIA_PT_PCMU, &dst), EINVAL);
	sa_set_port(&dst, 0);
	assert_int_equal(stream_start(s4, m, MEDIA_PT_PCMU, &dst), EINVAL);
	assert_false(stream_running(s4));
	assert_int_equal(streamer_active(st), 0);

	/* Harmless on stopped or missing streams. */
	stream_stop(s4);
	stream_stop(NULL);
	assert_false(stream_running(NULL));
	assert_int_equal(streamer_active(NULL), 0);

	mem_deref(s2);
	mem_deref(s4);
	mem_deref(st);
	mem_deref(m);
	leakcheck_assert(mark);
}


/* ---- ICMP port unreachable -------------------------------------------- */

struct icmp {
	struct stream *s;
	struct tmr t;
	unsigned polls;
};


static void icmp_poll(void *arg)
{
	struct icmp *c = arg;

	++c->polls;
	if (!stream_running(c->s) || c->polls > 100) {
		loop_stop();
		return;
	}

	tmr_start(&c->t, 10, icmp_poll, c);
}


static void test_icmp_unreachable_stops(void **state)
{
	long mark = leakcheck_mark();
	struct streamer *st;
	struct media *m = NULL;
	struct stream_stats ss;
	struct icmp c;
	struct sa dst;
	int fd;
	(void)state;

	memset(&c, 0, sizeof(c));
	tmr_init(&c.t);

	/* A port that was just free and is closed again: nobody there. */
	fd = bind_plain(0);
	assert_true(fd >= 0);
	dst.len = sizeof(dst.u);
	assert_int_equal(getsockname(fd, &dst.u.sa, &dst.len), 0);
	close(fd);

	make_media(&m, TEST_FRAMES);
	st = streamer_local(30000, 39999);
	assert_int_equal(stream_alloc(&c.s, st), 0);
	assert_int_equal(stream_start(c.s, m, MEDIA_PT_PCMU, &dst), 0);

	tmr_start(&c.t, 10, icmp_poll, &c);
	looprun(WATCHDOG_MS);
	tmr_cancel(&c.t);

	/* Stopped by the error within a few packets, not by the poll
	 * giving up after a second. */
	assert_false(stream_running(c.s));
	assert_true(c.polls <= 100);
	assert_int_equal(streamer_active(st), 0);
	stream_stats_get(c.s, &ss);
	assert_in_range(ss.packets, 1, 10);

	mem_deref(c.s);
	mem_deref(st);
	mem_deref(m);
	leakcheck_assert(mark);
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ports_and_arguments),
		cmocka_unit_test(test_icmp_unreachable_stops),
	};

	return cmocka_run_group_tests_name("rtp/streamer_ports", tests,
					   streamrx_group_setup,
					   looprun_teardown);
}
