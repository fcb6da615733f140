/**
 * @file test_rel100.c  RFC 3262: the retransmission schedule on a fake
 *                      clock, RAck parsing and matching, RSeq order
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>
#include <re.h>
#include "sip/sip_int.h"
#include "tests/unit/sipmsg.h"


/* Drive the schedule the way b2bua.c does, on a fake clock: send at 0,
 * then each timer fires after rel100_interval(txc), until expiry. */
static void test_schedule_on_fake_clock(void **state)
{
	static const uint64_t want[] = {
		0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500,
		31500
	};
	uint64_t sent[32], now = 0;
	unsigned n = 0;
	uint32_t txc = 0;
	(void)state;

	sent[n++] = now;
	for (;;) {
		now += rel100_next(0, now, txc);
		if (rel100_expired(0, now))
			break;
		sent[n++] = now;
		++txc;
		assert_true(n < 32);
	}

	assert_int_equal(sizeof(want) / sizeof(want[0]), n);
	for (unsigned i = 0; i < n; i++)
		assert_true(sent[i] == want[i]);

	/* Giving up happens at 64*T1 = 32 s after the first send, not at
	 * the next retransmission (35.5 s). */
	assert_true(now == 32000);
	assert_int_equal(0, rel100_next(0, 32000, 11));
	assert_false(rel100_expired(0, 31999));
	assert_false(rel100_expired(1000, 999));    /* clock behind */

	/* T2 caps the interval however long it runs. */
	assert_int_equal(SIP_T2, rel100_interval(1000));
}


static void test_rack_parse(void **state)
{
	static const struct {
		const char *val;
		int err;
		uint32_t rseq, cseq;
		const char *met;
	} v[] = {
		{"776656 1 INVITE", 0, 776656, 1, "INVITE"},
		{"1 2 INVITE", 0, 1, 2, "INVITE"},
		{"  5\t\t7   INVITE", 0, 5, 7, "INVITE"},
		{"4294967295 4294967295 INVITE", 0, 4294967295u, 4294967295u,
		 "INVITE"},
		{"4294967296 1 INVITE", EBADMSG, 0, 0, NULL},
		{"1 INVITE", EBADMSG, 0, 0, NULL},
		{"1 2", EBADMSG, 0, 0, NULL},
		{"", EBADMSG, 0, 0, NULL},
		{"x 2 INVITE", EBADMSG, 0, 0, NULL},
		{"1 -2 INVITE", EBADMSG, 0, 0, NULL},
		{"1 2 INVITE extra", EBADMSG, 0, 0, NULL},
		{"12345678901 2 INVITE", EBADMSG, 0, 0, NULL},
	};
	(void)state;

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		uint32_t r = 0, c = 0;
		struct pl val, met;
		int err;

		pl_set_str(&val, v[i].val);
		err = rel100_rack_parse(&val, &r, &c, &met);
		if (err != v[i].err)
			fail_msg("vector %zu '%s': err %d, want %d", i,
				 v[i].val, err, v[i].err);
		if (!err) {
			assert_true(r == v[i].rseq);
			assert_true(c == v[i].cseq);
			assert_int_equal(0, pl_strcmp(&met, v[i].met));
		}
	}
}


static struct sip_msg *prack(const char *rack)
{
	return sipmsg_decodef(
		"PRACK sip:bob@h SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\n"
		"From: <sip:alice@h>;tag=a\r\nTo: <sip:bob@h>;tag=b\r\n"
		"Call-ID: x\r\nCSeq: 2 PRACK\r\n"
		"%s"
		"Content-Length: 0\r\n\r\n", rack);
}


static void test_rack_matches(void **state)
{
	struct sip_msg *m;
	(void)state;

	m = prack("RAck: 4711 1 INVITE\r\n");
	assert_true(rel100_rack_matches(m, 4711, 1));
	assert_false(rel100_rack_matches(m, 4712, 1));   /* RSeq */
	assert_false(rel100_rack_matches(m, 4711, 2));   /* CSeq */
	mem_deref(m);

	m = prack("RAck: 4711 1 BYE\r\n");              /* method */
	assert_false(rel100_rack_matches(m, 4711, 1));
	mem_deref(m);

	m = prack("");                                  /* no RAck */
	assert_false(rel100_rack_matches(m, 4711, 1));
	mem_deref(m);

	m = prack("RAck: garbage\r\n");
	assert_false(rel100_rack_matches(m, 4711, 1));
	mem_deref(m);
}


static void test_rseq_order(void **state)
{
	(void)state;

	/* The first one sets the space, whatever its value. */
	assert_int_equal(RSEQ_NEW, rel100_rseq_check(true, 0, 9000));
	assert_int_equal(RSEQ_NEW, rel100_rseq_check(false, 9000, 9001));
	assert_int_equal(RSEQ_RETRANSMISSION,
			 rel100_rseq_check(false, 9001, 9001));
	assert_int_equal(RSEQ_RETRANSMISSION,
			 rel100_rseq_check(false, 9001, 17));
	assert_int_equal(RSEQ_OUT_OF_ORDER,
			 rel100_rseq_check(false, 9001, 9003));
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_schedule_on_fake_clock),
		cmocka_unit_test(test_rack_parse),
		cmocka_unit_test(test_rack_matches),
		cmocka_unit_test(test_rseq_order),
	};

	return cmocka_run_group_tests_name("sip/rel100", tests, NULL, NULL);
}
