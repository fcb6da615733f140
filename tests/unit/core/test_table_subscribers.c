/**
 * @file test_table_subscribers.c  The table's subscribers: mode names,
 *                                 adding and finding, settings, rules per
 *                                 calling party; the live table, and NULL
 *                                 arguments
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>
#include <re.h>
#include "core/core.h"
#include "tests/unit/leakcheck.h"
#include "tests/unit/core/tablenew.h"


/* ---- modes -------------------------------------------------------------- */

static void test_mode_names_parse_back(void **state)
{
	static const struct {
		const char *name;
		enum cmr_mode mode;
	} good[] = {
		{"auto", MODE_AUTO}, {"http", MODE_HTTP}, {"as", MODE_AS},
		{"gateway", MODE_GATEWAY}, {"off", MODE_OFF},
	};
	static const char *bad[] = {"", "AUTO", "Http", "gw", "auto ",
				    "offf"};
	enum cmr_mode m;
	size_t i;
	long mark = leakcheck_mark();

	(void)state;

	for (i = 0; i < ARRAY_SIZE(good); i++) {
		m = MODE_OFF + 1;
		assert_int_equal(cmr_mode_parse(&m, good[i].name), 0);
		assert_int_equal(m, good[i].mode);
		assert_string_equal(cmr_mode_name(good[i].mode),
				    good[i].name);
	}

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		m = MODE_HTTP;
		assert_int_equal(cmr_mode_parse(&m, bad[i]), EINVAL);
		assert_int_equal(m, MODE_HTTP);
	}

	assert_int_equal(cmr_mode_parse(&m, NULL), EINVAL);
	assert_string_equal(cmr_mode_name((enum cmr_mode)42), "unknown");
	leakcheck_assert(mark);
}


/* ---- subscribers -------------------------------------------------------- */

static bool collect_ids(struct subscriber *s, void *arg)
{
	struct mbuf *mb = arg;

	(void)mbuf_printf(mb, "%s,", subscriber_id(s));

	return 0 == strcmp(subscriber_id(s), "stop");
}


static void test_subscriber_add_find_and_defaults(void **state)
{
	long mark = leakcheck_mark();
	struct table *t = table_new();
	struct subscriber *s, *other = NULL;
	struct mbuf *mb;
	struct pl pl;

	(void)state;

	s = sub_new(t, "alice");
	assert_ptr_equal(table_subscriber(t, "alice"), s);
	assert_string_equal(subscriber_id(s), "alice");

	/* Ids are SIP user parts: compared case-sensitively. */
	assert_null(table_subscriber(t, "Alice"));
	assert_null(table_subscriber(t, "alic"));
	assert_null(table_subscriber(t, "alicee"));

	pl_set_str(&pl, "alice;tag=x");
	pl.l = 5;
	assert_ptr_equal(table_subscriber_pl(t, &pl), s);
	pl.l = 4;
	assert_null(table_subscriber_pl(t, &pl));

	/* RFC 3261 19.1.4: an escaped character is that character (RFC
	 * 4475 3.1.1.3); a bad escape or an escaped NUL names nobody. */
	{
		static const struct {
			const char *user;
			bool found;
		} v[] = {
			{"%61lice", true}, {"%61%6c%69%63%65", true},
			{"al%69ce", true}, {"alic%65", true},
			{"%41lice", false}, {"alice%00", false},
			{"al%00ice", false}, {"alic%6", false},
			{"alic%", false}, {"%zzlice", false},
			{"%61lic", false},
		};

		for (size_t i = 0; i < ARRAY_SIZE(v); i++) {
			pl_set_str(&pl, v[i].user);
			if ((table_subscriber_pl(t, &pl) == s) != v[i].found)
				fail_msg("'%s': found %d, want %d", v[i].user,
					 !v[i].found, v[i].found);
		}
	}

	/* What a new subscriber gets without being told. */
	assert_int_equal(subscriber_mode(s), MODE_AUTO);
	assert_string_equal(subscriber_cmr(s, DIR_BT, NULL),
			    "ringback-default");
	assert_string_equal(subscriber_cmr(s, DIR_RT, NULL),
			    "ringtone-default");
	assert_null(subscriber_password(s));
	assert_int_equal(subscriber_contact_count(s), 0);
	assert_int_equal(subscriber_binding_count(s), 0);

	/* A second add of the same id changes nothing. */
	assert_int_equal(table_subscriber_add(t, "alice", &other), EEXIST);
	assert_null(other);
	assert_int_equal(table_subscriber_add(t, "", &other), EINVAL);
	assert_int_equal(table_subscriber_add(t, NULL, &other), EINVAL);

	(void)sub_new(t, "bob");
	(void)sub_new(t, "stop");
	(void)sub_new(t, "1000");
	assert_int_equal(table_subscriber_count(t), 4);

	/* Iteration follows the order of adding and stops on request. */
	mb = mbuf_alloc(64);
	assert_non_null(mb);
	assert_ptr_equal(table_subscriber_apply(t, collect_ids, mb),
			 table_subscriber(t, "stop"));
	mbuf_write_u8(mb, 0);
	assert_string_equal((char *)mb->buf, "alice,bob,stop,");
	mem_deref(mb);

	mem_deref(t);
	leakcheck_assert(mark);
}


static void test_subscriber_settings_change(void **state)
{
	long mark = leakcheck_mark();
	struct table *t = table_new();
	struct subscriber *s = sub_new(t, "bob");

	(void)state;

	subscriber_mode_set(s, MODE_GATEWAY);
	assert_int_equal(subscriber_mode(s), MODE_GATEWAY);
	subscriber_mode_set(s, (enum cmr_mode)99);
	assert_int_equal(subscriber_mode(s), MODE_GATEWAY);

	assert_int_equal(subscriber_cmr_set(s, DIR_BT, "jingle"), 0);
	assert_int_equal(subscriber_cmr_set(s, DIR_RT, "bells"), 0);
	assert_string_equal(subscriber_cmr(s, DIR_BT, NULL), "jingle");
	assert_string_equal(subscriber_cmr(s, DIR_RT, "anyone"), "bells");
	assert_int_equal(subscriber_cmr_set(s, (enum cmr_dir)7, "x"),
			 EINVAL);

	assert_int_equal(subscriber_password_set(s, "s3cret"), 0);
	assert_string_equal(subscriber_password(s), "s3cret");
	assert_int_equal(subscriber_password_set(s, NULL), 0);
	assert_null(subscriber_password(s));

	/* Contacts are trimmed and kept once each, in order. */
	assert_int_equal(subscriber_contact_add(s, "sip:bob@10.0.0.1"), 0);
	assert_int_equal(subscriber_contact_add(s, " sip:bob@h2:5070 "), 0);
	assert_int_equal(subscriber_contact_add(s, "sip:bob@10.0.0.1"), 0);
	assert_int_equal(subscriber_contact_add(s, "   "), EINVAL);
	assert_int_equal(subscriber_contact_count(s), 2);
	assert_string_equal(subscriber_contact(s, 0), "sip:bob@10.0.0.1");
	assert_string_equal(subscriber_contact(s, 1), "sip:bob@h2:5070");
	assert_null(subscriber_contact(s, 2));

	mem_deref(t);
	leakcheck_assert(mark);
}


static void test_rules_per_calling_party(void **state)
{
	long mark = leakcheck_mark();
	struct table *t = table_new();
	struct subscriber *s = sub_new(t, "carol");

	(void)state;

	assert_int_equal(subscriber_rule_add(s, "bob", DIR_BT, "for-bob"),
			 0);
	assert_int_equal(subscriber_rule_add(s, "1000", DIR_RT, "rt-1000"),
			 0);

	/* A rule answers only for its direction and its caller. */
	assert_string_equal(subscriber_cmr(s, DIR_BT, "bob"), "for-bob");
	assert_string_equal(subscriber_cmr(s, DIR_RT, "bob"),
			    "ringtone-default");
	assert_string_equal(subscriber_cmr(s, DIR_RT, "1000"), "rt-1000");
	assert_string_equal(subscriber_cmr(s, DIR_BT, "1000"),
			    "ringback-default");
	assert_string_equal(subscriber_cmr(s, DIR_BT, "Bob"),
			    "ringback-default");
	assert_string_equal(subscriber_cmr(s, DIR_BT, "dave"),
			    "ringback-default");
	assert_string_equal(subscriber_cmr(s, DIR_BT, NULL),
			    "ringback-default");

	/* A second rule for the same caller updates the first. */
	assert_int_equal(subscriber_rule_add(s, "bob", DIR_BT, "newer"), 0);
	assert_int_equal(subscriber_rule_add(s, "bob", DIR_RT, "rt-bob"),
			 0);
	assert_string_equal(subscriber_cmr(s, DIR_BT, "bob"), "newer");
	assert_string_equal(subscriber_cmr(s, DIR_RT, "bob"), "rt-bob");

	/* The subscriber's own assignment still applies to the rest. */
	assert_int_equal(subscriber_cmr_set(s, DIR_BT, "own"), 0);
	assert_string_equal(subscriber_cmr(s, DIR_BT, "dave"), "own");
	assert_string_equal(subscriber_cmr(s, DIR_BT, "bob"), "newer");

	assert_int_equal(subscriber_rule_add(s, "", DIR_BT, "x"), EINVAL);
	assert_int_equal(subscriber_rule_add(s, NULL, DIR_BT, "x"), EINVAL);
	assert_null(subscriber_cmr(NULL, DIR_BT, "bob"));

	mem_deref(t);
	leakcheck_assert(mark);
}


/* ---- the live table ----------------------------------------------------- */

static void test_live_table_references(void **state)
{
	long mark = leakcheck_mark();
	struct table *t1 = table_new(), *t2 = table_new();

	(void)state;

	assert_null(table_live());

	table_live_set(t1);
	assert_ptr_equal(table_live(), t1);
	assert_int_equal(mem_nrefs(t1), 2);

	/* Setting the same table again keeps it alive. */
	table_live_set(t1);
	assert_ptr_equal(table_live(), t1);
	assert_int_equal(mem_nrefs(t1), 2);

	/* The caller can drop its reference: the live one remains. */
	(void)sub_new(t2, "alice");
	table_live_set(t2);
	mem_deref(t2);
	assert_ptr_equal(table_live(), t2);
	assert_int_equal(mem_nrefs(t1), 1);
	assert_non_null(table_subscriber(table_live(), "alice"));

	table_live_set(NULL);
	assert_null(table_live());

	mem_deref(t1);
	leakcheck_assert(mark);
}


static void test_null_arguments_are_refused(void **state)
{
	struct table *t = NULL;
	long mark = leakcheck_mark();

	(void)state;

	assert_int_equal(table_alloc(NULL), EINVAL);
	assert_null(table_subscriber(NULL, "a"));
	assert_null(table_subscriber_pl(NULL, NULL));
	assert_int_equal(table_subscriber_count(NULL), 0);
	assert_null(table_resource(NULL, "a"));
	assert_int_equal(table_resource_count(NULL), 0);
	assert_int_equal(table_resource_add(NULL, "a", NULL,
					    (const uint8_t *)"x", 1), EINVAL);
	assert_int_equal(table_bindings_expire(NULL, 0), 0);
	table_bindings_move(NULL, NULL);
	assert_null(subscriber_id(NULL));
	assert_int_equal(subscriber_binding_count(NULL), 0);
	assert_null(subscriber_binding(NULL, 0));
	assert_int_equal(subscriber_binding_set(NULL, "sip:a@b", "c", 1, 1,
						0), EINVAL);
	assert_int_equal(subscriber_contact_count(NULL), 0);
	assert_null(subscriber_contact(NULL, 0));
	assert_null(t);
	leakcheck_assert(mark);
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mode_names_parse_back),
		cmocka_unit_test(test_subscriber_add_find_and_defaults),
		cmocka_unit_test(test_subscriber_settings_change),
		cmocka_unit_test(test_rules_per_calling_party),
		cmocka_unit_test(test_live_table_references),
		cmocka_unit_test(test_null_arguments_are_refused),
	};

	return cmocka_run_group_tests_name("core/table_subscribers", tests, NULL,
					   NULL);
}
