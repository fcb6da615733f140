/**
 * @file test_httpd_life.c  The HTTP server's lifetime and start-up: a
 *                          reload and a stop while a big body is on its
 *                          way, binding and the server's URL
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <re.h>
#include "core/core.h"
#include "http/http.h"
#include "tests/unit/leakcheck.h"
#include "tests/unit/looprun.h"
#include "tests/unit/http/httpclient.h"

enum {
	BIG_SIZE = 8 * 1024 * 1024,
};


/* ---- lifetime and start-up -------------------------------------------- */

struct swap {
	struct env *env;
	struct table *other;
	bool done;
};


/* Replaces the live table while the big body is still on its way. */
static void swap_h(size_t got, void *arg)
{
	struct swap *sw = arg;
	(void)got;

	if (sw->done)
		return;

	sw->done = true;
	table_live_set(sw->other);
	sw->env->t = mem_deref(sw->env->t);
}


static void test_reload_during_download(void **state)
{
	struct env env;
	struct reply rep;
	struct swap sw = { &env, NULL, false };
	uint8_t *big;
	(void)state;

	env_start(&env);

	big = malloc(BIG_SIZE);
	assert_non_null(big);
	for (size_t i = 0; i < BIG_SIZE; i++)
		big[i] = (uint8_t)(i * 7 + (i >> 12));
	assert_int_equal(table_resource_add(env.t, "big",
					    "application/octet-stream", big,
					    BIG_SIZE), 0);
	assert_int_equal(table_alloc(&sw.other), 0);

	fetch_hook(&env, &rep, "GET", "/r/big", NULL, swap_h, &sw);
	assert_true(sw.done);
	assert_int_equal(rep.code, 200);
	assert_int_equal(rep.blen, BIG_SIZE);
	assert_memory_equal(rep.body, big, BIG_SIZE);
	reply_reset(&rep);

	/* The new table has no such resource. */
	fetch(&env, &rep, "GET", "/r/big", NULL);
	assert_int_equal(rep.code, 404);
	reply_reset(&rep);

	free(big);
	mem_deref(sw.other);
	env_stop(&env);
}


/* Stops the server from the client side while the big body is on its
 * way. */
static void stop_h(size_t got, void *arg)
{
	struct env *env = arg;
	(void)got;

	env->h = mem_deref(env->h);
}


/* Stopping the server mid-download closes the connection and releases the
 * response, and with it the reference on the resource's bytes. */
static void test_stop_during_download(void **state)
{
	struct env env;
	struct reply rep;
	uint8_t *big;
	(void)state;

	env_start(&env);

	big = calloc(1, BIG_SIZE);
	assert_non_null(big);
	assert_int_equal(table_resource_add(env.t, "big",
					    "application/octet-stream", big,
					    BIG_SIZE), 0);
	free(big);

	fetch_hook(&env, &rep, "GET", "/r/big", NULL, stop_h, &env);
	assert_null(env.h);
	assert_true(rep.mb->end < BIG_SIZE);
	reply_reset(&rep);

	env_stop(&env);
}


static void test_bind(void **state)
{
	struct env env;
	struct httpd *h2 = NULL;
	struct sa sa;
	char url[64], want[64];
	(void)state;

	env_start(&env);

	re_snprintf(want, sizeof(want), "http://127.0.0.1:%u",
		    sa_port(httpd_laddr(env.h)));
	assert_int_equal(httpd_url(env.h, url, sizeof(url)), 0);
	assert_string_equal(url, want);
	assert_int_equal(httpd_url(env.h, url, 10), ENOMEM);
	assert_int_equal(httpd_url(NULL, url, sizeof(url)), EINVAL);

	/* The port is taken: a clear error, nothing left behind. */
	assert_int_not_equal(httpd_alloc(&h2, httpd_laddr(env.h)), 0);
	assert_null(h2);

	assert_int_equal(httpd_alloc(&h2, NULL), EINVAL);
	sa_init(&sa, AF_UNSPEC);
	assert_int_equal(httpd_alloc(&h2, &sa), EINVAL);

	/* 0.0.0.0 listens on every local address (--http 0.0.0.0:P). */
	sa_init(&sa, AF_INET);
	assert_int_equal(httpd_alloc(&h2, &sa), 0);
	assert_false(sa_isset(httpd_laddr(h2), SA_ADDR));
	assert_int_not_equal(sa_port(httpd_laddr(h2)), 0);
	h2 = mem_deref(h2);

	/* IPv6 URLs carry brackets (skipped where ::1 cannot be bound). */
	assert_int_equal(sa_set_str(&sa, "::1", 0), 0);
	if (!httpd_alloc(&h2, &sa)) {
		assert_int_equal(httpd_url(h2, url, sizeof(url)), 0);
		assert_true(!strncmp(url, "http://[::1]:", 13));
		h2 = mem_deref(h2);
	}

	env_stop(&env);
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reload_during_download),
		cmocka_unit_test(test_stop_during_download),
		cmocka_unit_test(test_bind),
	};

	return cmocka_run_group_tests_name("http/httpd_life", tests,
					   httpclient_group_setup,
					   looprun_teardown);
}
