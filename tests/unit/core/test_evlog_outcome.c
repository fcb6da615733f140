/**
 * @file test_evlog_outcome.c  Ended calls counted by modes and outcome
 *                             (/metrics cmrlab_calls_ended_total)
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include <re.h>
#include "core/core.h"


/* One call from allocation to its end; state NULL leaves "received". */
static void call(const char *bt, const char *rt, const char *state,
		 enum evlog_outcome o)
{
	struct callrec *cr = NULL;

	assert_int_equal(evlog_call_alloc(&cr, "cid", "a", "b"), 0);
	evlog_call_modes(cr, bt, rt);
	if (state)
		evlog_call_state(cr, state);
	if (o)
		evlog_call_outcome(cr, o);
	evlog_call_end(cr, "test");
	mem_deref(cr);
}


/* The count of (bt, rt, outcome), 0 when that entry does not exist. */
static uint64_t ended(const char *bt, const char *rt, const char *outcome)
{
	const char *b, *r, *o;
	uint64_t n;

	for (unsigned i = 0; evlog_ended_get(i, &b, &r, &o, &n); i++) {
		if (!strcmp(b, bt) && !strcmp(r, rt) && !strcmp(o, outcome))
			return n;
	}

	return 0;
}


static void test_outcomes(void **state)
{
	(void)state;

	evlog_reset();
	assert_int_equal(evlog_ended_count(), 0);
	assert_false(evlog_ended_get(0, NULL, NULL, NULL, NULL));

	call("http", "http", "confirmed", OUTCOME_NONE);
	call("http", "http", "answered", OUTCOME_NONE);
	/* Answered first: a timeout later does not make it one. */
	call("http", "http", "confirmed", OUTCOME_TIMEOUT);
	call("as", "off", "ringing", OUTCOME_CANCELLED);
	call("as", "off", "ringing", OUTCOME_REJECTED);
	call("none", "none", NULL, OUTCOME_REFUSED);
	/* Nothing said: failed. */
	call("gateway", "off", "ringing", OUTCOME_NONE);

	assert_int_equal(ended("http", "http", "answered"), 3);
	assert_int_equal(ended("as", "off", "cancelled"), 1);
	assert_int_equal(ended("as", "off", "rejected"), 1);
	assert_int_equal(ended("none", "none", "refused"), 1);
	assert_int_equal(ended("gateway", "off", "failed"), 1);
	assert_int_equal(evlog_ended_count(), 5);

	/* A call ends once, and counts once. */
	{
		struct callrec *cr = NULL;

		assert_int_equal(evlog_call_alloc(&cr, "x", "a", "b"), 0);
		evlog_call_end(cr, "one");
		evlog_call_outcome(cr, OUTCOME_TIMEOUT);
		evlog_call_end(cr, "two");
		mem_deref(cr);
	}
	assert_int_equal(ended("none", "none", "failed"), 1);
	assert_int_equal(ended("none", "none", "timeout"), 0);

	evlog_reset();
	assert_int_equal(evlog_ended_count(), 0);
}


static void test_names(void **state)
{
	(void)state;

	assert_string_equal(evlog_outcome_name(OUTCOME_ANSWERED), "answered");
	assert_string_equal(evlog_outcome_name(OUTCOME_REJECTED), "rejected");
	assert_string_equal(evlog_outcome_name(OUTCOME_REFUSED), "refused");
	assert_string_equal(evlog_outcome_name(OUTCOME_CANCELLED),
			    "cancelled");
	assert_string_equal(evlog_outcome_name(OUTCOME_TIMEOUT), "timeout");
	assert_string_equal(evlog_outcome_name(OUTCOME_FAILED), "failed");
	assert_string_equal(evlog_outcome_name(OUTCOME_MAX), "none");
}


/* More mode pairs than the table holds: the rest count as "other", and
 * the table stays bounded. */
static void test_overflow(void **state)
{
	char bt[12];
	unsigned i;
	(void)state;

	evlog_reset();
	for (i = 0; i < 300; i++) {
		re_snprintf(bt, sizeof(bt), "m%u", i);
		call(bt, "x", "confirmed", OUTCOME_NONE);
		call(bt, "x", NULL, OUTCOME_CANCELLED);
	}

	assert_true(evlog_ended_count() <= 128);
	assert_int_equal(ended("m0", "x", "answered"), 1);
	assert_int_equal(ended("other", "other", "answered") +
			 ended("other", "other", "cancelled"),
			 600 - (evlog_ended_count() - 2));

	/* Every call is in some entry. */
	{
		uint64_t sum = 0, n;

		for (i = 0; evlog_ended_get(i, NULL, NULL, NULL, &n); i++)
			sum += n;
		assert_int_equal(sum, 600);
	}

	evlog_reset();
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_outcomes),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_overflow),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
