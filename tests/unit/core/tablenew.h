/**
 * @file tablenew.h  New tables and subscribers for the table's unit tests
 *
 * The table's tests (test_table_subscribers.c, test_table_bindings.c,
 * test_table_resources.c) start from an empty table and add subscribers
 * to it; these helpers do that and fail the test at once if they cannot.
 * Every one of those tests compares the live heap blocks at its end with
 * those at its start (leakcheck.h).
 *
 * The helpers are static inline so that a test file that uses only some
 * of them builds without unused-function warnings.  Include this header
 * after <cmocka.h>, <re.h> and "core/core.h".
 */
#ifndef CMRLAB_TESTS_CORE_TABLENEW_H
#define CMRLAB_TESTS_CORE_TABLENEW_H


static inline struct table *table_new(void)
{
	struct table *t = NULL;

	assert_int_equal(table_alloc(&t), 0);
	assert_non_null(t);

	return t;
}


static inline struct subscriber *sub_new(struct table *t, const char *id)
{
	struct subscriber *s = NULL;

	assert_int_equal(table_subscriber_add(t, id, &s), 0);
	assert_non_null(s);

	return s;
}


#endif
