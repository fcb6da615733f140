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
	};

	return cmocka_run_group_tests_name("sip/registrar", tests, NULL,
					   NULL);
}
