/**
 * @file test_job.c  Work off the loop: it runs beside the loop, its result
 *                   comes back on the loop, cancelling stops it
 *
 * The work functions here never assert (cmocka's assertions belong to the
 * test's thread); they record into atomics, and the tests assert after
 * the loop has returned.  That the loop really runs while a job works is
 * shown without any timing: the work waits until the loop's timer has
 * ticked a few times, which can only happen if the loop is free.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>
#include <re.h>
#include "core/core.h"
#include "core/profile_int.h"
#include "tests/unit/leakcheck.h"
#include "tests/unit/looprun.h"

enum {
	TICK_MS = 2,
	TICKS_NEEDED = 5,
	WORK_LIMIT_MS = 10000,  /* a work never spins longer than this */
	WATCHDOG_MS = 15000,
	BIG_BYTES = 3 << 20,    /* more than one chunk of hashing */
};

struct rec {
	/* written by the work */
	atomic_bool work_ran;
	atomic_bool work_on_loop_thread;
	atomic_bool saw_cancel;
	/* written by the loop */
	atomic_uint ticks;
	unsigned done_calls;
	int done_err;
	bool done_on_loop_thread;
	pthread_t loop_thread;
	struct job *job;        /* dropped by the done handler if set */
	bool drop_in_done;
	struct tmr tick;
	/* work_self_cancelled's */
	const char *profile;
	const char *file;
	int add_err;
	int load_err;
	int read_err;
	char msg[256];
};


static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);

	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}


static void pause_ms(unsigned ms)
{
	struct timespec ts = { 0, (long)ms * 1000000L };

	(void)nanosleep(&ts, NULL);
}


static void rec_init(struct rec *r)
{
	memset(r, 0, sizeof(*r));
	r->loop_thread = pthread_self();
	tmr_init(&r->tick);
}


static void tick_h(void *arg)
{
	struct rec *r = arg;

	atomic_fetch_add(&r->ticks, 1);
	tmr_start(&r->tick, TICK_MS, tick_h, r);
}


static void done_h(int err, void *arg)
{
	struct rec *r = arg;

	++r->done_calls;
	r->done_err = err;
	r->done_on_loop_thread = pthread_equal(pthread_self(),
					       r->loop_thread);
	if (r->drop_in_done)
		r->job = mem_deref(r->job);
	loop_stop();
}


/* Returns EALREADY once the loop has ticked TICKS_NEEDED times. */
static int work_waits_for_ticks(const struct job *job, void *arg)
{
	struct rec *r = arg;
	const uint64_t t0 = now_ms();
	(void)job;

	atomic_store(&r->work_ran, true);
	atomic_store(&r->work_on_loop_thread,
		     pthread_equal(pthread_self(), r->loop_thread));

	while (atomic_load(&r->ticks) < TICKS_NEEDED) {
		if (now_ms() - t0 > WORK_LIMIT_MS)
			return ETIMEDOUT;
		pause_ms(1);
	}

	return EALREADY;
}


/* Runs until cancelled, as a long conversion would. */
static int work_until_cancelled(const struct job *job, void *arg)
{
	struct rec *r = arg;
	const uint64_t t0 = now_ms();

	atomic_store(&r->work_ran, true);

	while (!job_cancelled(job)) {
		if (now_ms() - t0 > WORK_LIMIT_MS)
			return ETIMEDOUT;
		pause_ms(1);
	}

	atomic_store(&r->saw_cancel, true);

	return ECANCELED;
}


/* Waits for the cancel through job_self_cancelled(), then runs what a
 * reload runs inside profile_load(): both must stop at once. */
static int work_self_cancelled(const struct job *job, void *arg)
{
	struct rec *r = arg;
	const uint64_t t0 = now_ms();
	struct table *t = NULL;
	uint8_t *big;
	int err;
	(void)job;

	atomic_store(&r->work_ran, true);

	while (!job_self_cancelled()) {
		if (now_ms() - t0 > WORK_LIMIT_MS)
			return ETIMEDOUT;
		pause_ms(1);
	}
	atomic_store(&r->saw_cancel, true);

	big = mem_zalloc(BIG_BYTES, NULL);
	err = table_alloc(&t);
	if (!err && big)
		r->add_err = table_resource_add(t, "big", "audio/wav", big,
						BIG_BYTES);
	mem_deref(t);
	mem_deref(big);

	/* The tones of profile_load() fail first; the file reading on its
	 * own. */
	err = table_alloc(&t);
	if (!err)
		r->load_err = profile_load(t, r->profile, r->msg,
					   sizeof(r->msg));
	mem_deref(t);
	{
		uint8_t *buf = NULL;
		size_t len = 0;

		r->read_err = profile_read_all(r->file, BIG_BYTES, &buf,
					       &len);
		mem_deref(buf);
	}

	return ECANCELED;
}


static void cancel_h(void *arg)
{
	struct rec *r = arg;

	job_cancel(r->job);
}


/* The work runs on another thread while the loop keeps ticking; its
 * result arrives on the loop thread, once. */
static void test_done_on_loop(void **state)
{
	long mark = leakcheck_mark();
	struct rec r;
	(void)state;

	rec_init(&r);
	tmr_start(&r.tick, TICK_MS, tick_h, &r);

	assert_int_equal(job_start(&r.job, work_waits_for_ticks, done_h, &r),
			 0);
	assert_true(job_running(r.job));
	looprun(WATCHDOG_MS);
	tmr_cancel(&r.tick);

	assert_true(atomic_load(&r.work_ran));
	assert_false(atomic_load(&r.work_on_loop_thread));
	assert_int_equal(r.done_calls, 1);
	assert_int_equal(r.done_err, EALREADY);
	assert_true(r.done_on_loop_thread);
	assert_false(job_running(r.job));
	assert_false(job_cancelled(r.job));

	r.job = mem_deref(r.job);
	leakcheck_assert(mark);
}


/* job_cancel reaches the work; its done handler still comes. */
static void test_cancel_reports(void **state)
{
	long mark = leakcheck_mark();
	struct tmr t;
	struct rec r;
	(void)state;

	rec_init(&r);
	tmr_init(&t);

	assert_int_equal(job_start(&r.job, work_until_cancelled, done_h, &r),
			 0);
	tmr_start(&t, 20, cancel_h, &r);
	looprun(WATCHDOG_MS);
	tmr_cancel(&t);

	assert_true(atomic_load(&r.saw_cancel));
	assert_int_equal(r.done_calls, 1);
	assert_int_equal(r.done_err, ECANCELED);
	assert_true(job_cancelled(r.job));

	r.job = mem_deref(r.job);
	leakcheck_assert(mark);
}


/* Dropping a running job cancels it and joins the thread at once; the
 * done handler never comes, not even from a later loop run. */
static void test_deref_running(void **state)
{
	long mark = leakcheck_mark();
	struct tmr t;
	struct rec r;
	(void)state;

	rec_init(&r);
	tmr_init(&t);

	assert_int_equal(job_start(&r.job, work_until_cancelled, done_h, &r),
			 0);
	tmr_start(&t, 20, looprun_stop, NULL);
	looprun(WATCHDOG_MS);

	assert_true(job_running(r.job));
	r.job = mem_deref(r.job);

	/* mem_deref returned: the thread was joined. */
	assert_true(atomic_load(&r.work_ran));
	assert_true(atomic_load(&r.saw_cancel));

	tmr_start(&t, 20, looprun_stop, NULL);
	looprun(WATCHDOG_MS);
	assert_int_equal(r.done_calls, 0);

	leakcheck_assert(mark);
}


/* Inside a cancelled job's work, the table's hashing (and so the built-in
 * tones of profile_load()) and the profile's file reading stop with
 * ECANCELED (they poll job_self_cancelled()); on the loop
 * job_self_cancelled() is always false. */
static void test_self_cancelled(void **state)
{
	char dir[] = "/tmp/cmrlab-job-XXXXXX", prof[64], file[64];
	long mark = leakcheck_mark();
	struct tmr t;
	struct rec r;
	FILE *f;
	(void)state;

	assert_non_null(mkdtemp(dir));
	(void)snprintf(file, sizeof(file), "%s/big.bin", dir);
	(void)snprintf(prof, sizeof(prof), "%s/p.profile", dir);
	f = fopen(file, "wb");
	assert_non_null(f);
	for (unsigned i = 0; i < BIG_BYTES / 4096; i++) {
		static const uint8_t page[4096];

		assert_int_equal(fwrite(page, 1, sizeof(page), f),
				 sizeof(page));
	}
	assert_int_equal(fclose(f), 0);
	f = fopen(prof, "w");
	assert_non_null(f);
	assert_true(fprintf(f, "resource big file=big.bin\n") > 0);
	assert_int_equal(fclose(f), 0);

	rec_init(&r);
	r.profile = prof;
	r.file = file;
	tmr_init(&t);

	assert_int_equal(job_start(&r.job, work_self_cancelled, done_h, &r),
			 0);
	tmr_start(&t, 20, cancel_h, &r);
	looprun(WATCHDOG_MS);
	tmr_cancel(&t);

	assert_true(job_cancelled(r.job));
	assert_false(job_self_cancelled());
	assert_true(atomic_load(&r.saw_cancel));
	assert_int_equal(r.done_err, ECANCELED);
	assert_int_equal(r.add_err, ECANCELED);
	assert_int_not_equal(r.load_err, 0);
	assert_non_null(strstr(r.msg, ":0: cannot make the built-in tones"));
	assert_int_equal(r.read_err, ECANCELED);

	r.job = mem_deref(r.job);
	assert_int_equal(remove(file), 0);
	assert_int_equal(remove(prof), 0);
	assert_int_equal(rmdir(dir), 0);
	leakcheck_assert(mark);
}


/* The done handler may drop the last reference to its own job. */
static void test_done_drops_job(void **state)
{
	long mark = leakcheck_mark();
	struct rec r;
	(void)state;

	rec_init(&r);
	r.drop_in_done = true;
	tmr_start(&r.tick, TICK_MS, tick_h, &r);

	assert_int_equal(job_start(&r.job, work_waits_for_ticks, done_h, &r),
			 0);
	looprun(WATCHDOG_MS);
	tmr_cancel(&r.tick);

	assert_int_equal(r.done_calls, 1);
	assert_null(r.job);

	leakcheck_assert(mark);
}


static void test_args(void **state)
{
	struct job *job = NULL;
	long mark = leakcheck_mark();
	(void)state;

	assert_int_equal(job_start(NULL, work_until_cancelled, done_h, NULL),
			 EINVAL);
	assert_int_equal(job_start(&job, NULL, done_h, NULL), EINVAL);
	assert_null(job);
	assert_false(job_cancelled(NULL));
	assert_false(job_running(NULL));
	job_cancel(NULL);

	leakcheck_assert(mark);
}


static int group_setup(void **state)
{
	struct rec r;
	(void)state;

	if (libre_init() || loop_init())
		return -1;

	/* The first thread of the process makes allocations that stay
	 * (leakcheck.h): one round here, before any mark. */
	rec_init(&r);
	tmr_start(&r.tick, TICK_MS, tick_h, &r);
	if (job_start(&r.job, work_waits_for_ticks, done_h, &r))
		return -1;
	if (loop_run())
		return -1;
	tmr_cancel(&r.tick);
	mem_deref(r.job);

	return 0;
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_done_on_loop),
		cmocka_unit_test(test_cancel_reports),
		cmocka_unit_test(test_deref_running),
		cmocka_unit_test(test_done_drops_job),
		cmocka_unit_test(test_self_cancelled),
		cmocka_unit_test(test_args),
	};

	return cmocka_run_group_tests_name("core/job", tests, group_setup,
					   looprun_teardown);
}
