/**
 * @file looprun.h  Running the real loop in the unit tests: a watchdog, a
 *                  timer that stops the loop, and the group teardown
 *
 * The tests that drive the project's libevent loop all need the same few
 * pieces: a watchdog timer, so that a test whose event never comes fails
 * instead of hanging, a timer handler that only stops the loop, and a
 * group teardown that closes the loop and libre after the last test.
 * They are static inline so that a test file that uses only some of them
 * builds without unused-function warnings.  Include this header after
 * <cmocka.h>, <re.h> and "core/core.h".
 */
#ifndef CMRLAB_TESTS_LOOPRUN_H
#define CMRLAB_TESTS_LOOPRUN_H


/** Timer handler of a watchdog: arg is a bool that records the firing. */
static inline void looprun_watchdog(void *arg)
{
	bool *fired = arg;

	*fired = true;
	loop_stop();
}


/** Timer handler that ends loop_run(), for a test that runs a while. */
static inline void looprun_stop(void *arg)
{
	(void)arg;
	loop_stop();
}


/**
 * Run the loop until something calls loop_stop(); the test fails if the
 * watchdog has to, after watchdog_ms.
 */
static inline void looprun(uint64_t watchdog_ms)
{
	struct tmr wd;
	bool fired = false;

	tmr_init(&wd);
	tmr_start(&wd, watchdog_ms, looprun_watchdog, &fired);
	assert_int_equal(loop_run(), 0);
	tmr_cancel(&wd);
	assert_false(fired);
}


/** Group teardown of a test file that ran the loop: closes it and libre. */
static inline int looprun_teardown(void **state)
{
	(void)state;

	loop_close();
	libre_close();

	return 0;
}


#endif
