/**
 * @file test_loop.c  libre's sockets and timers run on the libevent loop
 *
 * This proves the seam of core/loop.c: a libre UDP socket and a libre
 * timer both fire while only libevent's event_base is being run, and the
 * program can tell that libre's fd_listen calls reached the adapter.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>
#include <re.h>
#include "core/core.h"

struct rec {
	unsigned timer_fired;
	unsigned udp_received;
	char payload[32];
	bool watchdog;
	uint64_t t_start;
	uint64_t t_timer;
};


static void watchdog_handler(void *arg)
{
	struct rec *r = arg;

	r->watchdog = true;
	loop_stop();
}


static void udp_recv(const struct sa *src, struct mbuf *mb, void *arg)
{
	struct rec *r = arg;
	(void)src;

	++r->udp_received;
	(void)mbuf_read_str(mb, r->payload,
			    MIN(mbuf_get_left(mb), sizeof(r->payload) - 1));
	loop_stop();
}


/* The timer sends a datagram from a plain socket to libre's socket. */
struct sender {
	struct rec *r;
	struct sa dst;
};

static void timer_handler(void *arg)
{
	struct sender *s = arg;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	++s->r->timer_fired;
	s->r->t_timer = loop_now_ms();
	assert_true(fd >= 0);
	(void)sendto(fd, "ping-cmrlab", 11, 0, &s->dst.u.sa, s->dst.len);
	close(fd);
}


static int setup(void **state)
{
	(void)state;
	if (libre_init())
		return -1;
	return loop_init();
}


static int teardown(void **state)
{
	struct memstat mstat;
	(void)state;

	loop_close();
	libre_close();

	/* Debian's libre keeps no allocation statistics (ENOSYS); where a
	 * libre with them runs the test, every block must be gone.  The
	 * sanitizer build (make asan) checks leaks everywhere. */
	if (mem_get_stat(&mstat) == 0)
		assert_int_equal(0, mstat.blocks_cur);

	return 0;
}


static void test_udp_and_timer_fire_on_libevent(void **state)
{
	struct udp_sock *us = NULL;
	struct tmr tmr, wd;
	struct sender snd;
	struct rec r;
	struct sa laddr;
	(void)state;

	memset(&r, 0, sizeof(r));
	tmr_init(&tmr);
	tmr_init(&wd);

	assert_false(loop_adapter_ok());
	assert_int_equal(0, loop_fd_count());

	sa_set_str(&laddr, "127.0.0.1", 0);
	assert_int_equal(0, udp_listen(&us, &laddr, udp_recv, &r));
	assert_int_equal(0, udp_local_get(us, &snd.dst));

	/* udp_listen registered its fd through our fd_listen. */
	assert_true(loop_adapter_ok());
	assert_int_equal(1, loop_fd_count());

	snd.r = &r;
	r.t_start = loop_now_ms();
	tmr_start(&tmr, 30, timer_handler, &snd);
	tmr_start(&wd, 3000, watchdog_handler, &r);

	assert_int_equal(0, loop_run());

	tmr_cancel(&tmr);
	tmr_cancel(&wd);

	assert_false(r.watchdog);
	assert_int_equal(1, r.timer_fired);
	assert_true(r.t_timer - r.t_start >= 30);
	assert_int_equal(1, r.udp_received);
	assert_string_equal("ping-cmrlab", r.payload);

	mem_deref(us);
	/* Closing the socket removed its event again. */
	assert_int_equal(0, loop_fd_count());
}


static void test_fd_listen_replace_and_remove(void **state)
{
	int sv[2];
	(void)state;

	assert_int_equal(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));

	assert_int_equal(0, fd_listen(sv[0], FD_READ, (fd_h *)1, NULL));
	assert_int_equal(1, loop_fd_count());
	/* A second call for the same fd replaces, it does not add. */
	assert_int_equal(0, fd_listen(sv[0], FD_READ | FD_WRITE,
				      (fd_h *)1, NULL));
	assert_int_equal(1, loop_fd_count());
	fd_close(sv[0]);
	assert_int_equal(0, loop_fd_count());
	/* Bad descriptors are refused. */
	assert_int_equal(EBADF, fd_listen(-1, FD_READ, (fd_h *)1, NULL));

	close(sv[0]);
	close(sv[1]);
}


struct idle_rec {
	unsigned calls;
};

static void idle_handler(void *arg)
{
	struct idle_rec *ir = arg;

	if (++ir->calls >= 3)
		loop_stop();
}

static void tick(void *arg)
{
	struct tmr *t = arg;

	tmr_start(t, 5, tick, t);
}


static void test_idle_handlers_run_each_iteration(void **state)
{
	struct idle_rec ir = {0};
	struct tmr t;
	(void)state;

	tmr_init(&t);
	tmr_start(&t, 5, tick, &t);
	assert_int_equal(0, loop_idle_add(idle_handler, &ir));
	assert_int_equal(0, loop_run());
	assert_true(ir.calls >= 3);
	loop_idle_remove(idle_handler, &ir);
	tmr_cancel(&t);
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_udp_and_timer_fire_on_libevent, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_fd_listen_replace_and_remove, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_idle_handlers_run_each_iteration, setup,
			teardown),
	};

	return cmocka_run_group_tests_name("core/loop", tests, NULL, NULL);
}
