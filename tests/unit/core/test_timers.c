/**
 * @file test_timers.c  libre's timers on the heap of core/timers.c
 *
 * Order (by expiry, ties in start order), restart and cancel, handlers
 * that cancel, restart or start other timers, 100,000 pending timers with
 * half of them cancelled, and proof that libre's own timers (a SIP client
 * transaction) land on the heap and not on libre's list.  Timers are run
 * with timers_run() at chosen times, so nothing here sleeps.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <re.h>
#include "core/core.h"

extern struct list *tmrl_get(void);

enum { MAXLOG = 64 };

struct log {
	int ids[MAXLOG];
	unsigned n;
};

struct tt {
	struct tmr tmr;
	struct log *log;
	int id;
	struct tt *other;     /* acted on by the handler, if set */
	enum { NONE, CANCEL_OTHER, RESTART_SELF, START_OTHER } act;
};

static struct log g_log;


static void fired(void *arg)
{
	struct tt *t = arg;

	if (t->log->n < MAXLOG)
		t->log->ids[t->log->n++] = t->id;

	switch (t->act) {

	case CANCEL_OTHER:
		tmr_cancel(&t->other->tmr);
		break;

	case RESTART_SELF:
		t->act = NONE;
		tmr_start(&t->tmr, 100000, fired, t);
		break;

	case START_OTHER:
		tmr_start(&t->other->tmr, 0, fired, t->other);
		break;

	default:
		break;
	}
}


static void tt_init(struct tt *t, int id)
{
	memset(t, 0, sizeof(*t));
	tmr_init(&t->tmr);
	t->log = &g_log;
	t->id = id;
}


static int setup(void **state)
{
	(void)state;
	memset(&g_log, 0, sizeof(g_log));
	assert_int_equal(timers_count(), 0);

	return 0;
}


static void test_order_and_ties(void **state)
{
	struct tt t[6];
	const uint64_t delay[6] = {300, 100, 200, 100, 0, 100};
	const int want[6] = {4, 1, 3, 5, 2, 0};
	uint64_t now = tmr_jiffies(), next;
	(void)state;

	for (int i = 0; i < 6; i++) {
		tt_init(&t[i], i);
		tmr_start(&t[i].tmr, delay[i], fired, &t[i]);
		assert_true(tmr_isrunning(&t[i].tmr));
	}
	assert_int_equal(timers_count(), 6);
	assert_true(list_isempty(tmrl_get()));
	assert_true(timers_next(&next));
	assert_true(next >= now && next <= now + 50);
	assert_true(tmr_get_expire(&t[0].tmr) > 200);

	/* Far in the past: nothing is due. */
	assert_int_equal(timers_run(now - 1000), 0);

	/* Everything due: expiry order, ties (1, 3, 5) as started. */
	assert_int_equal(timers_run(now + 10000), 6);
	assert_int_equal(g_log.n, 6);
	assert_memory_equal(g_log.ids, want, sizeof(want));

	for (int i = 0; i < 6; i++) {
		assert_false(tmr_isrunning(&t[i].tmr));
		assert_int_equal(tmr_get_expire(&t[i].tmr), 0);
	}
	assert_int_equal(timers_count(), 0);
	assert_false(timers_next(NULL));
	assert_int_equal(tmr_next_timeout(NULL), 0);
}


static void test_restart_and_cancel(void **state)
{
	struct tt a, b, c;
	uint64_t now = tmr_jiffies();
	(void)state;

	tt_init(&a, 1);
	tt_init(&b, 2);
	tt_init(&c, 3);

	tmr_start(&a.tmr, 100, fired, &a);
	tmr_start(&b.tmr, 200, fired, &b);
	tmr_start(&c.tmr, 300, fired, &c);

	/* A restart moves the timer, it does not add a second one. */
	tmr_start(&a.tmr, 400, fired, &a);
	assert_int_equal(timers_count(), 3);

	tmr_cancel(&b.tmr);
	tmr_cancel(&b.tmr);             /* twice is harmless */
	assert_false(tmr_isrunning(&b.tmr));
	assert_int_equal(timers_count(), 2);

	/* A NULL handler cancels too. */
	tmr_start(&c.tmr, 10, NULL, &c);
	assert_false(tmr_isrunning(&c.tmr));

	/* tmr_init() on a running timer takes it off the heap. */
	tmr_start(&b.tmr, 50, fired, &b);
	tmr_init(&b.tmr);
	assert_int_equal(timers_count(), 1);

	assert_int_equal(timers_run(now + 350), 0);
	assert_int_equal(timers_run(now + 10000), 1);
	assert_int_equal(g_log.n, 1);
	assert_int_equal(g_log.ids[0], 1);

	tmr_cancel(NULL);
	tmr_start(NULL, 1, fired, NULL);
	assert_int_equal(tmr_get_expire(NULL), 0);
}


static void test_handlers_change_timers(void **state)
{
	struct tt a, b, c, d, e;
	uint64_t now = tmr_jiffies();
	(void)state;

	tt_init(&a, 1);
	tt_init(&b, 2);
	tt_init(&c, 3);
	tt_init(&d, 4);
	tt_init(&e, 5);

	/* a (due first) cancels b, which is also due in the same run. */
	a.act = CANCEL_OTHER;
	a.other = &b;
	/* c restarts itself, 100 s on: it fires again in a later run. */
	c.act = RESTART_SELF;
	/* d starts e with no delay: e is due within the same run. */
	d.act = START_OTHER;
	d.other = &e;

	tmr_start(&a.tmr, 10, fired, &a);
	tmr_start(&b.tmr, 20, fired, &b);
	tmr_start(&c.tmr, 30, fired, &c);
	tmr_start(&d.tmr, 40, fired, &d);

	assert_int_equal(timers_run(now + 1000), 4);
	assert_int_equal(g_log.n, 4);
	assert_int_equal(g_log.ids[0], 1);
	assert_int_equal(g_log.ids[1], 3);
	assert_int_equal(g_log.ids[2], 4);
	assert_int_equal(g_log.ids[3], 5);
	assert_false(tmr_isrunning(&b.tmr));
	assert_true(tmr_isrunning(&c.tmr));

	assert_int_equal(timers_run(now + 1000000), 1);
	assert_int_equal(g_log.ids[4], 3);
	assert_int_equal(timers_count(), 0);
}


/* 100,000 pending, random expiries, every other one cancelled: the rest
 * fire exactly once each, in non-decreasing expiry order. */
enum { MANY = 100000 };

struct many {
	struct tmr tmr;
	uint64_t jfs;
	unsigned fired;
};

static uint64_t g_last;
static unsigned g_order_bad;
static unsigned g_fired;

static void many_fired(void *arg)
{
	struct many *m = arg;

	if (m->tmr.jfs < g_last)
		++g_order_bad;
	g_last = m->tmr.jfs;
	++m->fired;
	++g_fired;
}


static void test_hundred_thousand_pending(void **state)
{
	struct many *m = calloc(MANY, sizeof(*m));
	uint64_t now = tmr_jiffies();
	uint32_t x = 2463534242u;
	(void)state;

	assert_non_null(m);

	for (unsigned i = 0; i < MANY; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		tmr_start(&m[i].tmr, 1000 + x % 32000, many_fired, &m[i]);
	}
	assert_int_equal(timers_count(), MANY);

	for (unsigned i = 0; i < MANY; i += 2)
		tmr_cancel(&m[i].tmr);
	assert_int_equal(timers_count(), MANY / 2);

	/* Half of the rest restarted later: the heap reorders them. */
	for (unsigned i = 1; i < MANY; i += 4)
		tmr_start(&m[i].tmr, 40000 + i % 977, many_fired, &m[i]);
	assert_int_equal(timers_count(), MANY / 2);

	g_last = 0;
	g_order_bad = 0;
	g_fired = 0;
	assert_int_equal(timers_run(now + 100000), MANY / 2);
	assert_int_equal(g_fired, MANY / 2);
	assert_int_equal(g_order_bad, 0);

	for (unsigned i = 0; i < MANY; i++)
		assert_int_equal(m[i].fired, i % 2);

	assert_int_equal(timers_count(), 0);
	free(m);
}


/* A client transaction to a port nobody answers: libre arms its timers,
 * and they are ours. */
static void resp_handler(int err, const struct sip_msg *msg, void *arg)
{
	(void)err;
	(void)msg;
	(void)arg;
}


static void test_libre_timers_reach_the_heap(void **state)
{
	struct sip *sip = NULL;
	struct sip_request *req = NULL;
	struct sa laddr;
	struct uri route;
	struct pl pl = PL("sip:127.0.0.1:9");
	(void)state;

	assert_int_equal(sip_alloc(&sip, NULL, 4, 4, 4, "t", NULL, NULL), 0);
	assert_int_equal(sa_set_str(&laddr, "127.0.0.1", 0), 0);
	assert_int_equal(sip_transp_add(sip, SIP_TRANSP_UDP, &laddr), 0);

	assert_int_equal(uri_decode(&route, &pl), 0);
	assert_int_equal(sip_requestf(&req, sip, true, "OPTIONS",
				      "sip:x@127.0.0.1:9", &route, NULL, NULL,
				      resp_handler, NULL,
				      "Call-ID: t1\r\nCSeq: 1 OPTIONS\r\n"
				      "From: <sip:a@127.0.0.1>;tag=1\r\n"
				      "To: <sip:x@127.0.0.1>\r\n"
				      "Content-Length: 0\r\n\r\n"), 0);

	assert_true(timers_count() > 0);
	assert_true(list_isempty(tmrl_get()));

	mem_deref(req);
	sip_close(sip, true);
	mem_deref(sip);
	assert_int_equal(timers_count(), 0);
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_order_and_ties, setup),
		cmocka_unit_test_setup(test_restart_and_cancel, setup),
		cmocka_unit_test_setup(test_handlers_change_timers, setup),
		cmocka_unit_test_setup(test_hundred_thousand_pending, setup),
		cmocka_unit_test_setup(test_libre_timers_reach_the_heap,
				       setup),
	};
	int err;

	err = libre_init();
	if (err || loop_init())
		return 1;

	err = cmocka_run_group_tests(tests, NULL, NULL);
	loop_close();
	libre_close();

	return err;
}
