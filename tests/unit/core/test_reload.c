/**
 * @file test_reload.c  A profile loaded into a new table off the loop
 *
 * Each test writes a profile into a temporary folder, loads it with
 * reload_start() and runs the loop until the done handler has what the
 * test waits for; the handlers only record, the assertions come after the
 * loop returns.  The prepare hooks run on the job's thread, so they too
 * only record (into atomics).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <ftw.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <re.h>
#include "core/core.h"
#include "tests/unit/leakcheck.h"
#include "tests/unit/looprun.h"

enum { WATCHDOG_MS = 15000, SPIN_LIMIT_MS = 10000 };

struct rec {
	char dir[64];
	char path[128];
	pthread_t loop_thread;
	/* the prepare hook's, on the job's thread */
	atomic_uint prep_calls;
	atomic_bool prep_on_loop_thread;
	atomic_bool prep_saw_cancel;
	int prep_err;           /* what the hook returns */
	bool prep_spin;         /* run until cancelled */
	/* the done handler's, on the loop */
	unsigned done_calls;
	unsigned stop_after;    /* stop the loop at this many calls */
	int err[4];
	struct table *t[4];     /* referenced */
	char msg[4][256];
	struct reload *drop;    /* dropped by the done handler if set */
	struct tmr *poll;
};


/* ---- helpers ------------------------------------------------------------ */

static int remove_one(const char *path, const struct stat *st, int flag,
		      struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;

	return remove(path);
}


static void file_put(const struct rec *r, const char *name,
		     const char *text)
{
	char path[192];
	FILE *f;

	(void)snprintf(path, sizeof(path), "%s/%s", r->dir, name);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}


static void rec_init(struct rec *r)
{
	memset(r, 0, sizeof(*r));
	str_ncpy(r->dir, "/tmp/cmrlab-reload-XXXXXX", sizeof(r->dir));
	assert_non_null(mkdtemp(r->dir));
	(void)snprintf(r->path, sizeof(r->path), "%s/test.profile", r->dir);
	r->loop_thread = pthread_self();
	r->stop_after = 1;
}


static void rec_close(struct rec *r)
{
	for (size_t i = 0; i < ARRAY_SIZE(r->t); i++)
		r->t[i] = mem_deref(r->t[i]);

	assert_int_equal(nftw(r->dir, remove_one, 8, FTW_DEPTH | FTW_PHYS),
			 0);
}


static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);

	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}


/* On the job's thread: marks the table so that the test can see the
 * hook's change arrive, or runs until cancelled. */
static int prep_h(struct table *t, const struct job *job, void *arg)
{
	struct rec *r = arg;
	struct subscriber *s;

	atomic_fetch_add(&r->prep_calls, 1);
	atomic_store(&r->prep_on_loop_thread,
		     pthread_equal(pthread_self(), r->loop_thread));

	if (r->prep_spin) {
		const uint64_t t0 = now_ms();
		const struct timespec ms = { 0, 1000000L };

		while (!job_cancelled(job)) {
			if (now_ms() - t0 > SPIN_LIMIT_MS)
				return ETIMEDOUT;
			(void)nanosleep(&ms, NULL);
		}
		atomic_store(&r->prep_saw_cancel, true);
		return ECANCELED;
	}

	s = table_subscriber(t, "zed");
	if (s)
		subscriber_mode_set(s, MODE_OFF);

	return r->prep_err;
}


static void done_h(int err, struct table *t, const char *msg, void *arg)
{
	struct rec *r = arg;
	unsigned i = r->done_calls++;

	if (i < ARRAY_SIZE(r->t)) {
		r->err[i] = err;
		r->t[i] = mem_ref(t);
		str_ncpy(r->msg[i], msg ? msg : "(null)", sizeof(r->msg[i]));
	}

	if (r->drop)
		r->drop = mem_deref(r->drop);

	if (r->done_calls >= r->stop_after)
		loop_stop();
}


static struct reload *load(struct rec *r, const char *path)
{
	struct reload *rl = NULL;

	assert_int_equal(reload_alloc(&rl, path, prep_h, done_h, r), 0);
	assert_false(reload_busy(rl));
	assert_int_equal(reload_start(rl), 0);
	assert_true(reload_busy(rl));

	return rl;
}


static const char profile_v1[] =
	"subscriber zed mode=http cmrbt=note\n"
	"resource note file=note.txt type=text/plain\n";


/* ---- tests -------------------------------------------------------------- */

/* The table comes to the loop whole, with the hook's changes, and the
 * live table is not touched. */
static void test_load(void **state)
{
	long mark = leakcheck_mark();
	struct reload *rl;
	struct rec r;
	struct resource *res;
	(void)state;

	rec_init(&r);
	file_put(&r, "note.txt", "hello");
	file_put(&r, "test.profile", profile_v1);

	rl = load(&r, r.path);
	looprun(WATCHDOG_MS);

	assert_int_equal(r.done_calls, 1);
	assert_int_equal(r.err[0], 0);
	assert_string_equal(r.msg[0], "");
	assert_non_null(r.t[0]);
	assert_int_equal(atomic_load(&r.prep_calls), 1);
	assert_false(atomic_load(&r.prep_on_loop_thread));
	assert_int_equal(subscriber_mode(table_subscriber(r.t[0], "zed")),
			 MODE_OFF);
	res = table_resource(r.t[0], "note");
	assert_non_null(res);
	assert_int_equal(res->size, 5);
	assert_memory_equal(res->data, "hello", 5);
	assert_non_null(table_resource(r.t[0], "ringback-default"));
	assert_null(table_live());
	assert_false(reload_busy(rl));

	mem_deref(rl);
	rec_close(&r);
	leakcheck_assert(mark);
}


/* A profile error comes back as FILE:LINE: text, and no table. */
static void test_profile_error(void **state)
{
	long mark = leakcheck_mark();
	struct reload *rl;
	struct rec r;
	char want[192];
	(void)state;

	rec_init(&r);
	file_put(&r, "test.profile", "subscriber zed\nsubscriber ? mode=x\n");

	rl = load(&r, r.path);
	looprun(WATCHDOG_MS);

	assert_int_equal(r.done_calls, 1);
	assert_int_equal(r.err[0], EINVAL);
	assert_null(r.t[0]);
	(void)snprintf(want, sizeof(want), "%s:2: ", r.path);
	assert_memory_equal(r.msg[0], want, strlen(want));
	/* The hook only sees a table that loaded. */
	assert_int_equal(atomic_load(&r.prep_calls), 0);

	mem_deref(rl);

	/* A missing file: line 0. */
	r.done_calls = 0;
	rl = load(&r, "/nonexistent/cmrlab.profile");
	looprun(WATCHDOG_MS);
	assert_int_equal(r.err[0], EINVAL);
	assert_string_equal(r.msg[0], "/nonexistent/cmrlab.profile:0: "
			    "cannot read profile: No such file or directory");
	mem_deref(rl);

	rec_close(&r);
	leakcheck_assert(mark);
}


/* The hook's error fails the load and names the file. */
static void test_prep_error(void **state)
{
	long mark = leakcheck_mark();
	struct reload *rl;
	struct rec r;
	char want[192];
	(void)state;

	rec_init(&r);
	r.prep_err = ENOSPC;
	file_put(&r, "note.txt", "hello");
	file_put(&r, "test.profile", profile_v1);

	rl = load(&r, r.path);
	looprun(WATCHDOG_MS);

	assert_int_equal(r.err[0], ENOSPC);
	assert_null(r.t[0]);
	(void)snprintf(want, sizeof(want), "%s:0: No space left on device",
		       r.path);
	assert_string_equal(r.msg[0], want);

	mem_deref(rl);
	rec_close(&r);
	leakcheck_assert(mark);
}


/* Starts while a load runs make one more load, which reads the file as
 * it is after the first load has been reported. */
static void test_queued(void **state)
{
	long mark = leakcheck_mark();
	struct reload *rl;
	struct rec r;
	struct tmr t;
	(void)state;

	rec_init(&r);
	r.stop_after = 2;
	file_put(&r, "note.txt", "hello");
	file_put(&r, "test.profile", profile_v1);

	rl = load(&r, r.path);
	assert_false(reload_queued(rl));
	assert_int_equal(reload_start(rl), 0);
	assert_int_equal(reload_start(rl), 0);
	assert_true(reload_queued(rl));
	file_put(&r, "test.profile", "subscriber late\n");

	looprun(WATCHDOG_MS);

	/* Nothing more comes: three starts, two loads. */
	tmr_init(&t);
	tmr_start(&t, 50, looprun_stop, NULL);
	looprun(WATCHDOG_MS);

	assert_int_equal(r.done_calls, 2);
	assert_int_equal(atomic_load(&r.prep_calls), 2);
	assert_int_equal(r.err[0], 0);
	assert_int_equal(r.err[1], 0);
	assert_non_null(table_subscriber(r.t[1], "late"));
	assert_null(table_subscriber(r.t[1], "zed"));
	assert_false(reload_busy(rl));
	assert_false(reload_queued(rl));

	mem_deref(rl);
	rec_close(&r);
	leakcheck_assert(mark);
}


/* Stops the loop once the prepare hook has begun. */
static void until_prep(void *arg)
{
	struct rec *r = arg;

	if (atomic_load(&r->prep_calls))
		loop_stop();
	else
		tmr_start(r->poll, 1, until_prep, r);
}


/* Dropping the reload while its hook runs cancels the job, joins the
 * worker and frees its table; no handler comes afterwards. */
static void test_deref_cancels(void **state)
{
	long mark = leakcheck_mark();
	struct reload *rl;
	struct rec r;
	struct tmr t;
	(void)state;

	rec_init(&r);
	r.prep_spin = true;
	file_put(&r, "note.txt", "hello");
	file_put(&r, "test.profile", profile_v1);

	rl = load(&r, r.path);
	assert_int_equal(reload_start(rl), 0);      /* queued, then dropped */
	tmr_init(&t);
	r.poll = &t;
	tmr_start(&t, 1, until_prep, &r);
	looprun(WATCHDOG_MS);
	assert_true(reload_busy(rl));

	mem_deref(rl);
	assert_true(atomic_load(&r.prep_saw_cancel));

	tmr_start(&t, 30, looprun_stop, NULL);
	looprun(WATCHDOG_MS);
	assert_int_equal(r.done_calls, 0);
	assert_int_equal(atomic_load(&r.prep_calls), 1);

	rec_close(&r);
	leakcheck_assert(mark);
}


/* A done handler that drops its reload ends it, queued load and all. */
static void test_done_drops_reload(void **state)
{
	long mark = leakcheck_mark();
	struct rec r;
	struct tmr t;
	(void)state;

	rec_init(&r);
	file_put(&r, "note.txt", "hello");
	file_put(&r, "test.profile", profile_v1);

	r.drop = load(&r, r.path);
	assert_int_equal(reload_start(r.drop), 0);
	looprun(WATCHDOG_MS);
	assert_null(r.drop);

	tmr_init(&t);
	tmr_start(&t, 30, looprun_stop, NULL);
	looprun(WATCHDOG_MS);
	assert_int_equal(r.done_calls, 1);
	assert_int_equal(atomic_load(&r.prep_calls), 1);

	rec_close(&r);
	leakcheck_assert(mark);
}


/* No path: the embedded default profile. */
static void test_default(void **state)
{
	long mark = leakcheck_mark();
	struct reload *rl;
	struct rec r;
	(void)state;

	rec_init(&r);
	rl = load(&r, NULL);
	looprun(WATCHDOG_MS);

	assert_int_equal(r.err[0], 0);
	assert_non_null(table_subscriber(r.t[0], "alice"));
	assert_int_equal(table_subscriber_count(r.t[0]), 104);

	mem_deref(rl);
	rec_close(&r);
	leakcheck_assert(mark);
}


static void test_args(void **state)
{
	struct reload *rl = NULL;
	long mark = leakcheck_mark();
	(void)state;

	assert_int_equal(reload_alloc(NULL, NULL, NULL, done_h, NULL),
			 EINVAL);
	assert_int_equal(reload_alloc(&rl, NULL, NULL, NULL, NULL), EINVAL);
	assert_null(rl);
	assert_int_equal(reload_start(NULL), EINVAL);
	assert_false(reload_busy(NULL));
	assert_false(reload_queued(NULL));

	leakcheck_assert(mark);
}


/* One load before any mark, under a timer as the tests run theirs: the
 * first thread, the first libevent timer and the built-in tones make
 * allocations that stay (leakcheck.h). */
static int group_setup(void **state)
{
	struct reload *rl = NULL;
	struct tmr t;
	struct rec r;
	(void)state;

	if (libre_init() || loop_init())
		return -1;

	memset(&r, 0, sizeof(r));
	r.loop_thread = pthread_self();
	r.stop_after = 1;
	tmr_init(&t);
	tmr_start(&t, WATCHDOG_MS, looprun_stop, NULL);
	if (reload_alloc(&rl, NULL, prep_h, done_h, &r) ||
	    reload_start(rl) || loop_run())
		return -1;
	tmr_cancel(&t);
	mem_deref(rl);
	mem_deref(r.t[0]);

	return 0;
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_profile_error),
		cmocka_unit_test(test_prep_error),
		cmocka_unit_test(test_queued),
		cmocka_unit_test(test_deref_cancels),
		cmocka_unit_test(test_done_drops_reload),
		cmocka_unit_test(test_default),
		cmocka_unit_test(test_args),
	};

	return cmocka_run_group_tests_name("core/reload", tests, group_setup,
					   looprun_teardown);
}
