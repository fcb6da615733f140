/**
 * @file test_listen.c  The SIP transports' port: when the kernel picks
 *                      it (port 0) and another transport finds it taken,
 *                      the whole set is bound again on a new one
 *
 * This binary defines sip_transp_add(): cmrlab's calls to it reach this
 * definition first, which can refuse a TCP bind with EADDRINUSE (as when
 * the port the kernel gave the UDP socket is taken for TCP) before it
 * passes the call on to libre's.
 */
#define _GNU_SOURCE 1
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <dlfcn.h>
#include <string.h>
#include <re.h>
#include "sip/sip_int.h"

typedef int (transp_add_h)(struct sip *sip, enum sip_transp tp,
			   const struct sa *laddr, ...);

static unsigned tcp_refusals;      /* TCP binds still to refuse */
static unsigned tcp_calls;
static uint16_t refused_port;


int sip_transp_add(struct sip *sip, enum sip_transp tp,
		   const struct sa *laddr, ...)
{
	static transp_add_h *next;

	if (!next)
		next = (transp_add_h *)dlsym(RTLD_NEXT, "sip_transp_add");
	if (!next)
		return ENOSYS;

	if (tp == SIP_TRANSP_TCP) {
		++tcp_calls;
		if (tcp_refusals) {
			--tcp_refusals;
			refused_port = sa_port(laddr);
			return EADDRINUSE;
		}
	}

	/* UDP and TCP take no further arguments. */
	return next(sip, tp, laddr);
}


static struct sipsrv *server(uint16_t port, int *errp)
{
	struct sipsrv_conf conf;
	struct sipsrv *srv = NULL;

	memset(&conf, 0, sizeof(conf));
	assert_int_equal(0, sa_set_str(&conf.laddr, "127.0.0.1", port));
	assert_int_equal(0, sa_set_str(&conf.http_laddr, "127.0.0.1",
				       8080));
	*errp = sipsrv_alloc(&srv, &conf);

	return srv;
}


static void test_picked_port_taken_for_tcp(void **state)
{
	struct sipsrv *srv;
	int err;
	(void)state;

	/* The first two ports the kernel picks are taken for TCP: a later
	 * set of transports stands, on a port of its own (the third, unless
	 * the kernel's pick happens to be in use for TCP by someone else on
	 * this machine, which costs one more try). */
	tcp_refusals = 2;
	tcp_calls = 0;
	srv = server(0, &err);
	assert_int_equal(0, err);
	assert_non_null(srv);
	assert_in_range(tcp_calls, 3, 16);
	assert_int_not_equal(0, sa_port(sipsrv_laddr(srv)));
	assert_int_not_equal(refused_port, sa_port(sipsrv_laddr(srv)));
	mem_deref(srv);

	/* Taken every time: the server gives up after a few ports. */
	tcp_refusals = 1000;
	tcp_calls = 0;
	srv = server(0, &err);
	assert_int_equal(EADDRINUSE, err);
	assert_null(srv);
	assert_in_range(tcp_calls, 2, 16);
	tcp_refusals = 0;
}


static void test_fixed_port_taken(void **state)
{
	struct sipsrv *srv;
	struct sa a;
	int err;
	(void)state;

	/* A port the user chose is not changed: taken is an error. */
	tcp_refusals = 0;
	srv = server(0, &err);
	assert_int_equal(0, err);
	a = *sipsrv_laddr(srv);
	mem_deref(srv);

	tcp_refusals = 1;
	tcp_calls = 0;
	srv = server(sa_port(&a), &err);
	assert_int_equal(EADDRINUSE, err);
	assert_null(srv);
	assert_int_equal(1, tcp_calls);
	assert_int_equal(sa_port(&a), refused_port);
	tcp_refusals = 0;
}


static int setup(void **state)
{
	(void)state;

	return libre_init() || loop_init() ? -1 : 0;
}


static int teardown(void **state)
{
	(void)state;

	loop_close();
	libre_close();

	return 0;
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_picked_port_taken_for_tcp),
		cmocka_unit_test(test_fixed_port_taken),
	};

	return cmocka_run_group_tests_name("sip/listen", tests, setup,
					   teardown);
}
