/**
 * @file test_oa.c  The per-leg offer/answer state: every transition, the
 *                  glare and pending-answer refusals, rejected offers
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>
#include <re.h>
#include "sip/sip_int.h"


/* INVITE with an offer, answer in a reliable 18x, then our UPDATE offer
 * answered in its 2xx: the gateway-mode sequence of the caller's leg. */
static void test_gateway_sequence(void **state)
{
	struct oa o;
	(void)state;

	memset(&o, 0, sizeof(o));
	assert_int_equal(0, oa_remote_offer(&o));        /* INVITE */
	assert_int_equal(OA_REMOTE_OFFER, o.st);
	assert_int_equal(0, oa_local_answer(&o));        /* reliable 18x */
	assert_int_equal(OA_IDLE, o.st);
	assert_int_equal(0, oa_local_offer(&o));         /* UPDATE */
	assert_int_equal(0, oa_remote_answer(&o));       /* its 2xx */
	assert_int_equal(OA_IDLE, o.st);
	assert_int_equal(2, o.done);
}


/* Late offer: the 2xx carries ours, the ACK the answer. */
static void test_late_offer(void **state)
{
	struct oa o;
	(void)state;

	memset(&o, 0, sizeof(o));
	assert_int_equal(0, oa_local_offer(&o));
	assert_int_equal(0, oa_remote_answer(&o));
	assert_int_equal(1, o.done);
}


static void test_refusals(void **state)
{
	struct oa o;
	(void)state;

	memset(&o, 0, sizeof(o));

	/* Answers without an offer are protocol errors. */
	assert_int_equal(EPROTO, oa_local_answer(&o));
	assert_int_equal(EPROTO, oa_remote_answer(&o));

	/* Our offer outstanding: theirs is glare (491); a second of ours
	 * is refused too; answering our own offer ourselves is wrong. */
	assert_int_equal(0, oa_local_offer(&o));
	assert_int_equal(EBUSY, oa_remote_offer(&o));
	assert_int_equal(491, oa_refusal_scode(EBUSY));
	assert_int_equal(EALREADY, oa_local_offer(&o));
	assert_int_equal(EPROTO, oa_local_answer(&o));
	assert_int_equal(OA_LOCAL_OFFER, o.st);

	/* The transaction failed: the offer is void, a new one may go. */
	oa_reject(&o);
	assert_int_equal(OA_IDLE, o.st);
	assert_int_equal(0, o.done);

	/* Their offer outstanding: another of theirs gets 500 with
	 * Retry-After; one of ours must wait. */
	assert_int_equal(0, oa_remote_offer(&o));
	assert_int_equal(EALREADY, oa_remote_offer(&o));
	assert_int_equal(500, oa_refusal_scode(EALREADY));
	assert_int_equal(EBUSY, oa_local_offer(&o));
	assert_int_equal(EPROTO, oa_remote_answer(&o));
	assert_int_equal(0, oa_local_answer(&o));

	assert_int_equal(EINVAL, oa_local_offer(NULL));
	assert_string_equal("idle", oa_state_name(OA_IDLE));
	assert_string_equal("local-offer", oa_state_name(OA_LOCAL_OFFER));
	assert_string_equal("remote-offer", oa_state_name(OA_REMOTE_OFFER));
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gateway_sequence),
		cmocka_unit_test(test_late_offer),
		cmocka_unit_test(test_refusals),
	};

	return cmocka_run_group_tests_name("sip/oa", tests, NULL, NULL);
}
