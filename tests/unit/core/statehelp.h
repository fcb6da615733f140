/**
 * @file statehelp.h  Shared by the overlay's unit tests (test_state.c,
 *                    test_state_folder.c): JSON, a profile's table, a
 *                    subscriber's spec
 *
 * static inline, so that a file using only some builds without warnings.
 * Include after <cmocka.h>, <re.h>, "core/core.h" and tablenew.h.
 */
#ifndef CMRLAB_TESTS_CORE_STATEHELP_H
#define CMRLAB_TESTS_CORE_STATEHELP_H


static inline struct odict *json(const char *text)
{
	struct odict *o = NULL;

	assert_int_equal(json_decode_odict(&o, 16, text, strlen(text), 8), 0);

	return o;
}


/* A table as a profile would give it: alice and bob, two resources, and
 * bob's rule for calls from carol. */
static inline struct table *profile_table(void)
{
	struct table *t = table_new();
	struct subscriber *bob;

	sub_new(t, "alice");
	bob = sub_new(t, "bob");
	assert_int_equal(subscriber_rule_add(bob, "carol", DIR_BT, "rb-x"), 0);
	assert_int_equal(subscriber_contact_add(bob, "sip:bob@192.0.2.9"), 0);
	assert_int_equal(table_resource_add(t, "rb-x", "text/plain",
					    (const uint8_t *)"x", 1), 0);
	assert_int_equal(table_resource_add(t, "old", "text/plain",
					    (const uint8_t *)"o", 1), 0);

	return t;
}


static inline struct subscriber *spec_of(struct table *scratch, const char *id,
				  const char *text)
{
	struct state_err e = { NULL, NULL };
	struct subscriber *s = NULL;
	struct odict *o = json(text);

	assert_int_equal(state_spec_decode(scratch, id, o, &s, &e), 0);
	mem_deref(o);

	return s;
}


#endif
