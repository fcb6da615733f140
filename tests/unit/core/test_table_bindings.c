/**
 * @file test_table_bindings.c  The subscribers' registered bindings:
 *                              added, refreshed and removed, expiring on
 *                              time, at most sixteen, and moved to a
 *                              reloaded table
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


/* ---- bindings ----------------------------------------------------------- */

static void test_binding_add_refresh_remove(void **state)
{
	long mark = leakcheck_mark();
	struct table *t = table_new();
	struct subscriber *s = sub_new(t, "alice");
	const struct binding *b;

	(void)state;

	assert_int_equal(subscriber_binding_set(s, "sip:alice@10.0.0.1",
						"call-1", 1, 60, 1000), 0);
	assert_int_equal(subscriber_binding_count(s), 1);
	b = subscriber_binding(s, 0);
	assert_non_null(b);
	assert_string_equal(b->uri, "sip:alice@10.0.0.1");
	assert_string_equal(b->callid, "call-1");
	assert_int_equal(b->cseq, 1);
	assert_int_equal(b->expires, 61000);

	/* The same contact, with blanks around it, refreshes. */
	assert_int_equal(subscriber_binding_set(s, "  sip:alice@10.0.0.1\t",
						"call-2", 2, 120, 5000), 0);
	assert_int_equal(subscriber_binding_count(s), 1);
	b = subscriber_binding(s, 0);
	assert_string_equal(b->uri, "sip:alice@10.0.0.1");
	assert_string_equal(b->callid, "call-2");
	assert_int_equal(b->cseq, 2);
	assert_int_equal(b->expires, 125000);

	/* Another contact is another binding.  The key is the URI up to
	 * RFC 3261 19.1.4 equivalence: the scheme's case does not count
	 * (the binding takes the new spelling), the user's does. */
	assert_int_equal(subscriber_binding_set(s, "sip:alice@10.0.0.2",
						"call-3", 7, 30, 5000), 0);
	assert_int_equal(subscriber_binding_set(s, "SIP:alice@10.0.0.2",
						"call-4", 1, 30, 5000), 0);
	assert_int_equal(subscriber_binding_count(s), 2);
	assert_string_equal(subscriber_binding(s, 1)->uri,
			    "SIP:alice@10.0.0.2");
	assert_string_equal(subscriber_binding(s, 1)->callid, "call-4");
	assert_int_equal(subscriber_binding_set(s, "sip:Alice@10.0.0.2",
						"call-5", 1, 30, 5000), 0);
	assert_int_equal(subscriber_binding_count(s), 3);

	/* Expires 0 removes that one binding; the others keep order. */
	assert_int_equal(subscriber_binding_set(s, "sip:alice@10.0.0.1",
						"call-2", 3, 0, 6000), 0);
	assert_int_equal(subscriber_binding_count(s), 2);
	assert_string_equal(subscriber_binding(s, 0)->uri,
			    "SIP:alice@10.0.0.2");
	assert_string_equal(subscriber_binding(s, 1)->uri,
			    "sip:Alice@10.0.0.2");
	assert_null(subscriber_binding(s, 2));

	/* Removing what is not bound is not an error. */
	assert_int_equal(subscriber_binding_set(s, "sip:nobody@h", NULL, 1,
						0, 6000), 0);
	assert_int_equal(subscriber_binding_count(s), 2);

	/* A missing Call-ID is stored as none. */
	assert_int_equal(subscriber_binding_set(s, "sip:alice@h3", NULL, 9,
						10, 6000), 0);
	assert_null(subscriber_binding(s, 2)->callid);

	assert_int_equal(subscriber_binding_set(s, " ", "c", 1, 10, 0),
			 EINVAL);
	assert_int_equal(subscriber_binding_set(s, NULL, "c", 1, 10, 0),
			 EINVAL);

	assert_int_equal(subscriber_binding_remove_all(s), 0);
	assert_int_equal(subscriber_binding_count(s), 0);

	mem_deref(t);
	leakcheck_assert(mark);
}


static void test_bindings_expire_at_exact_times(void **state)
{
	long mark = leakcheck_mark();
	struct table *t = table_new();
	struct subscriber *a = sub_new(t, "alice");
	struct subscriber *b = sub_new(t, "bob");

	(void)state;

	assert_int_equal(subscriber_binding_set(a, "sip:a@1", "c", 1, 10, 0),
			 0);  /* expires 10000 */
	assert_int_equal(subscriber_binding_set(a, "sip:a@2", "c", 1, 20, 0),
			 0);  /* expires 20000 */
	assert_int_equal(subscriber_binding_set(b, "sip:b@1", "c", 1, 10, 0),
			 0);  /* expires 10000 */

	assert_int_equal(table_bindings_expire(t, 9999), 0);
	assert_int_equal(subscriber_binding_count(a), 2);

	/* A binding whose expiry time has come is gone. */
	assert_int_equal(table_bindings_expire(t, 10000), 2);
	assert_int_equal(subscriber_binding_count(a), 1);
	assert_string_equal(subscriber_binding(a, 0)->uri, "sip:a@2");
	assert_int_equal(subscriber_binding_count(b), 0);

	assert_int_equal(table_bindings_expire(t, 19999), 0);
	assert_int_equal(table_bindings_expire(t, 30000), 1);
	assert_int_equal(subscriber_binding_count(a), 0);
	assert_int_equal(table_bindings_expire(t, 40000), 0);

	mem_deref(t);
	leakcheck_assert(mark);
}


static void test_bindings_limited_to_sixteen(void **state)
{
	long mark = leakcheck_mark();
	struct table *t = table_new();
	struct subscriber *s = sub_new(t, "1000");
	char uri[64];
	unsigned i;

	(void)state;

	for (i = 0; i < 16; i++) {
		re_snprintf(uri, sizeof(uri), "sip:1000@10.0.0.%u", i);
		assert_int_equal(subscriber_binding_set(s, uri, "c", i,
							3601 + i, 0), 0);
	}
	assert_int_equal(subscriber_binding_count(s), 16);

	assert_int_equal(subscriber_binding_set(s, "sip:1000@10.0.1.1", "c",
						1, 3600, 0), ENOSPC);
	assert_int_equal(subscriber_binding_count(s), 16);

	/* A refresh of a bound contact still works when full. */
	assert_int_equal(subscriber_binding_set(s, "sip:1000@10.0.0.3", "c",
						99, 60, 1000), 0);
	assert_int_equal(subscriber_binding(s, 3)->cseq, 99);

	/* Bindings that have run out make room for a new contact: the one
	 * refreshed to 61000 ms is past at 3600000. */
	assert_int_equal(subscriber_binding_set(s, "sip:1000@10.0.1.1", "c",
						1, 60, 3600000), 0);
	assert_int_equal(subscriber_binding_count(s), 16);
	assert_string_equal(subscriber_binding(s, 15)->uri,
			    "sip:1000@10.0.1.1");

	mem_deref(t);
	leakcheck_assert(mark);
}


static void test_bindings_move_to_reloaded_table(void **state)
{
	long mark = leakcheck_mark();
	struct table *src = table_new(), *dst = table_new();
	struct subscriber *sa = sub_new(src, "alice");
	struct subscriber *sb = sub_new(src, "bob");
	struct subscriber *sz = sub_new(src, "zed");
	struct subscriber *da = sub_new(dst, "alice");
	struct subscriber *db = sub_new(dst, "bob");
	const struct binding *b;

	(void)state;

	(void)sub_new(dst, "carol");

	assert_int_equal(subscriber_binding_set(sa, "sip:a@1", "ca1", 4, 60,
						1000), 0);
	assert_int_equal(subscriber_binding_set(sa, "sip:a@2", "ca2", 5, 90,
						1000), 0);
	assert_int_equal(subscriber_binding_set(sz, "sip:z@1", "cz", 1, 60,
						1000), 0);
	assert_int_equal(subscriber_binding_set(db, "sip:b@old", "cb", 1, 60,
						1000), 0);

	table_bindings_move(dst, src);

	/* Same-id subscribers get the bindings as they were. */
	assert_int_equal(subscriber_binding_count(da), 2);
	b = subscriber_binding(da, 0);
	assert_string_equal(b->uri, "sip:a@1");
	assert_string_equal(b->callid, "ca1");
	assert_int_equal(b->cseq, 4);
	assert_int_equal(b->expires, 61000);
	b = subscriber_binding(da, 1);
	assert_string_equal(b->uri, "sip:a@2");
	assert_int_equal(b->expires, 91000);

	/* bob had none in src: his bindings in dst stay; carol has none;
	 * zed is not in dst and is left behind. */
	assert_int_equal(subscriber_binding_count(db), 1);
	assert_int_equal(subscriber_binding_count(
				 table_subscriber(dst, "carol")), 0);
	assert_null(table_subscriber(dst, "zed"));

	/* src is left whole. */
	assert_int_equal(subscriber_binding_count(sa), 2);
	assert_int_equal(subscriber_binding_count(sb), 0);

	mem_deref(src);
	assert_string_equal(subscriber_binding(da, 1)->callid, "ca2");

	mem_deref(dst);
	leakcheck_assert(mark);
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_binding_add_refresh_remove),
		cmocka_unit_test(test_bindings_expire_at_exact_times),
		cmocka_unit_test(test_bindings_limited_to_sixteen),
		cmocka_unit_test(test_bindings_move_to_reloaded_table),
	};

	return cmocka_run_group_tests_name("core/table_bindings", tests, NULL,
					   NULL);
}
