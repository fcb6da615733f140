/**
 * @file test_registrar.c  REGISTER decisions and binding expiry, on a fake
 *                         clock
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


/* A REGISTER for USER with CALLID, CSEQ, extra header lines. */
static struct sip_msg *reg(const char *user, const char *callid,
			   unsigned cseq, const char *extra)
{
	return sipmsg_decodef(
		"REGISTER sip:cmrlab.test SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK%u\r\n"
		"From: <sip:%s@cmrlab.test>;tag=ft\r\n"
		"To: <sip:%s@cmrlab.test>\r\n"
		"Call-ID: %s\r\n"
		"CSeq: %u REGISTER\r\n"
		"%s"
		"Content-Length: 0\r\n\r\n",
		cseq, user, user, callid, cseq, extra);
}


static uint16_t apply(struct table *t, struct sip_msg *msg, uint64_t now,
		      struct reg_result *res)
{
	assert_int_equal(0, registrar_apply(t, msg, now, res));
	mem_deref(msg);

	return res->scode;
}


static int setup(void **state)
{
	struct table *t = NULL;

	if (table_alloc(&t))
		return -1;
	if (table_subscriber_add(t, "bob", NULL))
		return -1;
	*state = t;

	return 0;
}


static int teardown(void **state)
{
	mem_deref(*state);
	return 0;
}


static void test_bind_and_expire_on_fake_clock(void **state)
{
	struct table *t = *state;
	struct subscriber *bob = table_subscriber(t, "bob");
	struct reg_result res;
	const uint64_t t0 = 1000000;

	assert_int_equal(200, apply(t, reg("bob", "c1", 1,
		"Contact: <sip:bob@127.0.0.1:5070>\r\nExpires: 60\r\n"),
		t0, &res));
	assert_int_equal(1, subscriber_binding_count(bob));
	assert_string_equal("sip:bob@127.0.0.1:5070",
			    subscriber_binding(bob, 0)->uri);
	assert_true(subscriber_binding(bob, 0)->expires == t0 + 60000);

	/* One millisecond before expiry it is still there; then gone. */
	assert_int_equal(0, table_bindings_expire(t, t0 + 59999));
	assert_int_equal(1, subscriber_binding_count(bob));
	assert_int_equal(1, table_bindings_expire(t, t0 + 60000));
	assert_int_equal(0, subscriber_binding_count(bob));
}


static void test_refresh_extends_expiry(void **state)
{
	struct table *t = *state;
	struct subscriber *bob = table_subscriber(t, "bob");
	struct reg_result res;

	assert_int_equal(200, apply(t, reg("bob", "c1", 1,
		"Contact: <sip:bob@127.0.0.1:5070>;expires=120\r\n"),
		0, &res));
	assert_int_equal(200, apply(t, reg("bob", "c1", 2,
		"Contact: <sip:bob@127.0.0.1:5070>;expires=120\r\n"),
		100000, &res));
	assert_int_equal(1, subscriber_binding_count(bob));
	assert_int_equal(0, table_bindings_expire(t, 120000));
	assert_int_equal(1, table_bindings_expire(t, 220000));
}


static void test_several_contacts_and_removal(void **state)
{
	struct table *t = *state;
	struct subscriber *bob = table_subscriber(t, "bob");
	struct reg_result res;

	assert_int_equal(200, apply(t, reg("bob", "c1", 1,
		"Contact: <sip:bob@127.0.0.1:5070>, "
		"<sip:bob@127.0.0.1:5072>;expires=300\r\n"
		"Contact: <sip:bob@127.0.0.1:5074>\r\n"), 0, &res));
	assert_int_equal(3, subscriber_binding_count(bob));

	/* Expires: 0 on one contact removes only that one. */
	assert_int_equal(200, apply(t, reg("bob", "c1", 2,
		"Contact: <sip:bob@127.0.0.1:5072>;expires=0\r\n"), 0, &res));
	assert_int_equal(2, subscriber_binding_count(bob));

	/* Contact: * with Expires: 0 removes all. */
	assert_int_equal(200, apply(t, reg("bob", "c1", 3,
		"Contact: *\r\nExpires: 0\r\n"), 0, &res));
	assert_int_equal(0, subscriber_binding_count(bob));
}


static void test_default_and_capped_expiry(void **state)
{
	struct table *t = *state;
	struct subscriber *bob = table_subscriber(t, "bob");
	struct reg_result res;

	assert_int_equal(200, apply(t, reg("bob", "c1", 1,
		"Contact: <sip:bob@127.0.0.1:5070>\r\n"), 0, &res));
	assert_true(subscriber_binding(bob, 0)->expires ==
		    REG_EXPIRES_DEFAULT * 1000ULL);
	assert_int_equal(200, apply(t, reg("bob", "c1", 2,
		"Contact: <sip:bob@127.0.0.1:5070>\r\nExpires: 999999\r\n"),
		0, &res));
	assert_true(subscriber_binding(bob, 0)->expires ==
		    REG_EXPIRES_MAX * 1000ULL);
}


/* Requests that must fail whole, leaving the bindings as they were. */
static void test_rejections(void **state)
{
	static const struct {
		const char *user;
		unsigned cseq;
		const char *hdrs;
		uint16_t scode;
	} v[] = {
		{"nobody", 5, "Contact: <sip:x@127.0.0.1>\r\n", 404},
		{"bob", 5, "Contact: <sip:bob@127.0.0.1:5070>\r\n"
		 "Expires: 30\r\n", 423},
		{"bob", 5, "Contact: *\r\nExpires: 60\r\n", 400},
		{"bob", 5, "Contact: *, <sip:bob@h>\r\nExpires: 0\r\n", 400},
		{"bob", 5, "Contact: <mailto:bob@h>\r\n", 400},
		{"bob", 5, "Contact: <sip:bob@h>;expires=abc\r\n", 400},
		{"bob", 5, "Contact: <sip:bob@h>\r\nExpires: x1\r\n", 400},
		/* Same Call-ID, CSeq not higher than the stored 4. */
		{"bob", 4, "Contact: <sip:bob@127.0.0.1:5070>\r\n", 500},
		{"bob", 3, "Contact: <sip:bob@127.0.0.1:5070>\r\n", 500},
	};
	struct table *t = *state;
	struct subscriber *bob = table_subscriber(t, "bob");
	struct reg_result res;
	size_t i;

	assert_int_equal(200, apply(t, reg("bob", "c1", 4,
		"Contact: <sip:bob@127.0.0.1:5070>\r\n"), 0, &res));

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		uint16_t sc = apply(t, reg(v[i].user, "c1", v[i].cseq,
					   v[i].hdrs), 0, &res);
		if (sc != v[i].scode)
			fail_msg("vector %zu: got %u, want %u", i, sc,
				 v[i].scode);
		assert_int_equal(1, subscriber_binding_count(bob));
	}

	/* 423 names the minimum. */
	apply(t, reg("bob", "c1", 9, "Contact: <sip:bob@h>\r\n"
		     "Expires: 1\r\n"), 0, &res);
	assert_string_equal("Min-Expires: 60\r\n", res.extra);

	/* A new Call-ID may rebind with any CSeq; the next call works. */
	assert_int_equal(200, apply(t, reg("bob", "c2", 1,
		"Contact: <sip:bob@127.0.0.1:5070>\r\n"), 0, &res));
}


static void test_query_prints_bindings(void **state)
{
	struct table *t = *state;
	struct reg_result res;
	struct reg_view view;
	char buf[256];

	assert_int_equal(200, apply(t, reg("bob", "c1", 1,
		"Contact: <sip:bob@127.0.0.1:5070>\r\nExpires: 100\r\n"),
		0, &res));
	assert_int_equal(200, apply(t, reg("bob", "c1", 2, ""), 40000,
				    &res));

	view.s = table_subscriber(t, "bob");
	view.now = 40000;
	re_snprintf(buf, sizeof(buf), "%H", registrar_contacts_print, &view);
	assert_string_equal("Contact: <sip:bob@127.0.0.1:5070>;expires=60\r\n",
			    buf);
}

/* The seconds left on bob's only binding at now, as the 200 says them. */
static void assert_contact_expires(struct table *t, uint64_t now,
				   const char *want)
{
	struct reg_view view;
	char buf[256];

	view.s = table_subscriber(t, "bob");
	view.now = now;
	re_snprintf(buf, sizeof(buf), "%H", registrar_contacts_print, &view);
	assert_string_equal(want, buf);
}


/* RFC 3261 section 25 (delta-seconds) and 10.3 step 6: expires values
 * above 2^32-1 count as 2^32-1, which the registrar shortens to its
 * maximum.  They must not wrap to a short or zero interval (a removal),
 * nor be refused. */
static void test_expires_above_32_bits_capped(void **state)
{
	static const char *v[] = {
		"Expires: 4294967295\r\n",
		"Expires: 4294967296\r\n",     /* 2^32: was 0, a removal */
		"Expires: 4294967301\r\n",     /* 2^32+5: was 5, 423 */
		"Expires: 99999999999\r\n",
		"Expires: 18446744073709551616\r\n",     /* 2^64 */
		"Expires: 99999999999999999999\r\n",
		"Expires: 0000000000000000003600\r\n",
		"Expires: 000000000000000000004294967296\r\n",
		"Expires: 30\r\n"
		"Contact: <sip:bob@127.0.0.1:5070>;expires=4294967296\r\n",
		"Contact: <sip:bob@127.0.0.1:5070>;expires=99999999999\r\n",
		"Contact: <sip:bob@127.0.0.1:5070>;"
		"expires=18446744073709551621\r\n",
		"Expires: 0\r\n"
		"Contact: <sip:bob@127.0.0.1:5070>;"
		"expires=99999999999999999999\r\n",
	};
	struct table *t = *state;
	struct subscriber *bob = table_subscriber(t, "bob");
	struct reg_result res;
	size_t i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		const char *contact = strstr(v[i], "Contact:") ? "" :
			"Contact: <sip:bob@127.0.0.1:5070>\r\n";
		char hdrs[256];
		uint16_t sc;

		re_snprintf(hdrs, sizeof(hdrs), "%s%s", contact, v[i]);
		sc = apply(t, reg("bob", "c1", (unsigned)i + 1, hdrs),
			   1000, &res);
		if (sc != 200)
			fail_msg("vector %zu: got %u, want 200", i, sc);
		if (subscriber_binding_count(bob) != 1)
			fail_msg("vector %zu: %u bindings, want 1", i,
				 subscriber_binding_count(bob));
		if (subscriber_binding(bob, 0)->expires !=
		    1000 + REG_EXPIRES_MAX * 1000ULL)
			fail_msg("vector %zu: expiry not capped", i);
		assert_contact_expires(t, 1000,
			"Contact: <sip:bob@127.0.0.1:5070>;expires=3600\r\n");
	}

	/* Zero in any number of digits is still a removal. */
	assert_int_equal(200, apply(t, reg("bob", "c1", 100,
		"Contact: <sip:bob@127.0.0.1:5070>;"
		"expires=000000000000000000000\r\n"), 1000, &res));
	assert_int_equal(0, subscriber_binding_count(bob));
}


/* What is not delta-seconds, however long, is still refused whole. */
static void test_expires_bad_values_refused(void **state)
{
	static const struct {
		const char *hdrs;
		uint16_t scode;
	} v[] = {
		{"Expires: 4294967296x\r\n", 400},
		{"Expires: 99999999999999999999-1\r\n", 400},
		{"Expires: -1\r\n", 400},
		{"Expires: 1e10\r\n", 400},
		{"Expires: +3600\r\n", 400},
		{"Expires: 0x100000000\r\n", 400},
		{"Expires: 4294967296\r\n"
		 "Contact: <sip:bob@h>;expires=99999999999a\r\n", 400},
		{"Contact: <sip:bob@h>;expires=-4294967296\r\n", 400},
		/* Still too brief after the digits are read right. */
		{"Expires: 00000000000000000000059\r\n", 423},
	};
	struct table *t = *state;
	struct subscriber *bob = table_subscriber(t, "bob");
	struct reg_result res;
	size_t i;

	assert_int_equal(200, apply(t, reg("bob", "c1", 1,
		"Contact: <sip:bob@127.0.0.1:5070>\r\nExpires: 60\r\n"),
		0, &res));

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		const char *contact = strstr(v[i].hdrs, "Contact:") ? "" :
			"Contact: <sip:bob@127.0.0.1:5070>\r\n";
		char hdrs[256];
		uint16_t sc;

		re_snprintf(hdrs, sizeof(hdrs), "%s%s", contact, v[i].hdrs);
		sc = apply(t, reg("bob", "c1", (unsigned)i + 2, hdrs), 0,
			   &res);
		if (sc != v[i].scode)
			fail_msg("vector %zu: got %u, want %u", i, sc,
				 v[i].scode);
		assert_int_equal(1, subscriber_binding_count(bob));
		assert_true(subscriber_binding(bob, 0)->expires == 60000);
	}
}


/* RFC 3261 10.3 step 7 finds a binding with the URI comparison rules of
 * section 19.1.4, not by its spelling. */
static void test_equivalent_contact_refreshes_and_removes(void **state)
{
	struct table *t = *state;
	struct subscriber *bob = table_subscriber(t, "bob");
	struct reg_result res;

	assert_int_equal(200, apply(t, reg("bob", "c1", 1,
		"Contact: <sip:Bob@127.0.0.1:5070;transport=udp;lr>\r\n"
		"Expires: 60\r\n"), 0, &res));
	assert_int_equal(1, subscriber_binding_count(bob));

	/* Scheme and host case, an escaped unreserved character, the case
	 * of parameter names and values, their order: the same binding. */
	assert_int_equal(200, apply(t, reg("bob", "c1", 2,
		"Contact: <SIP:%42ob@127.0.0.1:5070;LR;Transport=UDP>\r\n"
		"Expires: 120\r\n"), 1000, &res));
	assert_int_equal(1, subscriber_binding_count(bob));
	assert_true(subscriber_binding(bob, 0)->expires == 121000);

	/* The CSeq rule applies to it too (step 7). */
	assert_int_equal(500, apply(t, reg("bob", "c1", 2,
		"Contact: <sip:%42ob@127.0.0.1:5070;transport=udp>\r\n"),
		2000, &res));
	assert_int_equal(1, subscriber_binding_count(bob));

	/* A parameter in only one of them is ignored. */
	assert_int_equal(200, apply(t, reg("bob", "c1", 3,
		"Contact: <sip:Bob@127.0.0.1:5070;transport=udp;x=1>\r\n"),
		3000, &res));
	assert_int_equal(1, subscriber_binding_count(bob));

	/* Not equivalent: user case, no transport, an explicit port. */
	assert_int_equal(200, apply(t, reg("bob", "c1", 4,
		"Contact: <sip:bob@127.0.0.1:5070;transport=udp>, "
		"<sip:Bob@127.0.0.1:5070>\r\n"
		"Contact: <sip:Bob@127.0.0.1;transport=udp>\r\n"),
		4000, &res));
	assert_int_equal(4, subscriber_binding_count(bob));

	/* Removal written another way removes the one it is equal to. */
	assert_int_equal(200, apply(t, reg("bob", "c1", 5,
		"Contact: <sip:%42ob@127.0.0.1:5070;TRANSPORT=udp>;"
		"expires=0\r\n"), 5000, &res));
	assert_int_equal(3, subscriber_binding_count(bob));
	assert_string_equal("sip:bob@127.0.0.1:5070;transport=udp",
			    subscriber_binding(bob, 0)->uri);
	assert_string_equal("sip:Bob@127.0.0.1:5070",
			    subscriber_binding(bob, 1)->uri);
	assert_string_equal("sip:Bob@127.0.0.1;transport=udp",
			    subscriber_binding(bob, 2)->uri);
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_bind_and_expire_on_fake_clock, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_refresh_extends_expiry, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_several_contacts_and_removal, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_default_and_capped_expiry, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_rejections, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_query_prints_bindings, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_expires_above_32_bits_capped, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_expires_bad_values_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_equivalent_contact_refreshes_and_removes, setup,
			teardown),
	};

	return cmocka_run_group_tests_name("sip/registrar", tests, NULL,
					   NULL);
}
