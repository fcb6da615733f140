/**
 * @file test_state.c  The API's overlay (core/state*.c): subscriber JSON
 *                     read and checked, ids, changes put onto a
 *                     profile's table (the folder: test_state_folder.c)
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <re.h>
#include "core/core.h"
#include "tests/unit/leakcheck.h"
#include "tests/unit/lebytes.h"
#include "tests/unit/core/tablenew.h"
#include "tests/unit/core/statehelp.h"


/* Decodes text as subscriber id's spec: the error's field, or NULL. */
static const char *spec_field(const char *id, const char *text)
{
	static char field[64];
	struct state_err e = { NULL, NULL };
	struct table *t = table_new();
	struct subscriber *s = NULL;
	struct odict *o = json(text);
	int err;

	err = state_spec_decode(t, id, o, &s, &e);
	field[0] = '\0';
	if (err) {
		assert_int_equal(err, EINVAL);
		assert_non_null(e.field);
		assert_non_null(e.msg);
		assert_null(table_subscriber(t, id));
		str_ncpy(field, e.field, sizeof(field));
	}
	else {
		assert_ptr_equal(table_subscriber(t, id), s);
	}

	mem_deref(o);
	mem_deref(t);

	return err ? field : NULL;
}


static void test_spec_good(void **state)
{
	long mark = leakcheck_mark();
	struct state_err e = { NULL, NULL };
	struct table *t = table_new();
	struct subscriber *s = NULL;
	struct odict *o;
	(void)state;

	o = json("{\"mode\":\"gateway\",\"cmrbt\":\"rb1\",\"cmrt\":\"rt.2\","
		 "\"password\":\"pw\",\"contacts\":[\"sip:a@192.0.2.1:5070\","
		 "\"sips:b@example.com\"]}");
	assert_int_equal(state_spec_decode(t, "+4930", o, &s, &e), 0);
	assert_string_equal(subscriber_id(s), "+4930");
	assert_int_equal(subscriber_mode(s), MODE_GATEWAY);
	assert_string_equal(subscriber_cmr(s, DIR_BT, NULL), "rb1");
	assert_string_equal(subscriber_cmr(s, DIR_RT, NULL), "rt.2");
	assert_string_equal(subscriber_password(s), "pw");
	assert_int_equal(subscriber_contact_count(s), 2);
	assert_string_equal(subscriber_contact(s, 1), "sips:b@example.com");
	mem_deref(o);

	/* Every field is optional: the defaults of a profile line. */
	o = json("{}");
	assert_int_equal(state_spec_decode(t, "bob", o, &s, &e), 0);
	assert_int_equal(subscriber_mode(s), MODE_AUTO);
	assert_string_equal(subscriber_cmr(s, DIR_BT, NULL),
			    "ringback-default");
	assert_null(subscriber_password(s));
	assert_int_equal(subscriber_contact_count(s), 0);
	mem_deref(o);

	mem_deref(t);
	leakcheck_assert(mark);

	/* What GET shows may be PUT back as it is. */
	assert_null(spec_field("bob", "{\"id\":\"bob\",\"mode\":\"auto\","
			       "\"cmrbt\":\"ringback-default\","
			       "\"cmrt\":\"ringtone-default\","
			       "\"password_set\":false,\"contacts\":[],"
			       "\"bindings\":[{\"uri\":\"sip:b@h\","
			       "\"expires_in_s\":3}]}"));
	assert_null(spec_field("bob", "{\"password\":null,"
			       "\"contacts\":null}"));
	leakcheck_assert(mark);
}


static void test_spec_bad(void **state)
{
	static const struct {
		const char *id;
		const char *text;
		const char *field;
	} v[] = {
		{ "bob", "{\"mdoe\":\"as\"}",                  "mdoe" },
		{ "bob", "{\"mode\":\"bogus\"}",               "mode" },
		{ "bob", "{\"mode\":\"early-media\"}",         "mode" },
		{ "bob", "{\"mode\":3}",                       "mode" },
		{ "bob", "{\"mode\":null}",                    "mode" },
		{ "bob", "{\"cmrbt\":\"a/b\"}",                "cmrbt" },
		{ "bob", "{\"cmrbt\":\"..\"}",                 "cmrbt" },
		{ "bob", "{\"cmrt\":\"\"}",                    "cmrt" },
		{ "bob", "{\"cmrt\":[\"x\"]}",                 "cmrt" },
		{ "bob", "{\"password\":\"\"}",                "password" },
		{ "bob", "{\"password\":7}",                   "password" },
		{ "bob", "{\"contacts\":\"sip:a@b\"}",         "contacts" },
		{ "bob", "{\"contacts\":[\"http://a\"]}",      "contacts" },
		{ "bob", "{\"contacts\":[\"sip:a b@c\"]}",     "contacts" },
		{ "bob", "{\"contacts\":[1]}",                 "contacts" },
		{ "bob", "{\"id\":\"alice\"}",                 "id" },
		{ "bob", "{\"id\":5}",                         "id" },
		{ "a b", "{}",                                 "id" },
		{ "a=b", "{}",                                 "id" },
		{ "",    "{}",                                 "id" },
	};
	long mark = leakcheck_mark();
	char many[1200], pw[200];
	(void)state;

	for (size_t i = 0; i < ARRAY_SIZE(v); i++) {
		const char *f = spec_field(v[i].id, v[i].text);

		if (!f || strcmp(f, v[i].field))
			fail_msg("%s %s: field %s, expected %s", v[i].id,
				 v[i].text, f ? f : "(none)", v[i].field);
	}

	/* At most 16 contacts, and a password of at most 128 bytes. */
	strcpy(many, "{\"contacts\":[");
	for (int i = 0; i < 17; i++)
		sprintf(many + strlen(many), "%s\"sip:u%d@h\"", i ? "," : "",
			i);
	strcat(many, "]}");
	assert_string_equal(spec_field("bob", many), "contacts");
	many[strlen(many) - 2] = '\0';
	*strrchr(many, ',') = '\0';
	strcat(many, "]}");
	assert_null(spec_field("bob", many));

	memset(pw, 'x', 129);
	pw[129] = '\0';
	(void)snprintf(many, sizeof(many), "{\"password\":\"%s\"}", pw);
	assert_string_equal(spec_field("bob", many), "password");
	pw[128] = '\0';
	(void)snprintf(many, sizeof(many), "{\"password\":\"%s\"}", pw);
	assert_null(spec_field("bob", many));

	leakcheck_assert(mark);
}


static void test_ids(void **state)
{
	char longid[80];
	(void)state;

	memset(longid, 'a', 65);
	longid[65] = '\0';

	assert_true(id_resource_valid("ringback-default"));
	assert_true(id_resource_valid("a.b_c-9"));
	assert_true(id_resource_valid("..a"));
	assert_false(id_resource_valid("."));
	assert_false(id_resource_valid(".."));
	assert_false(id_resource_valid("a/b"));
	assert_false(id_resource_valid(""));
	assert_false(id_resource_valid(NULL));
	assert_false(id_resource_valid(longid));
	longid[64] = '\0';
	assert_true(id_resource_valid(longid));

	assert_true(id_user_valid("+4930~x.y_z-1"));
	assert_false(id_user_valid("a@b"));
	assert_false(id_user_valid("a%20"));

	assert_true(id_mime_valid("video/mp4"));
	assert_true(id_mime_valid("application/vnd.a+json"));
	assert_false(id_mime_valid("video"));
	assert_false(id_mime_valid("video/"));
	assert_false(id_mime_valid("/mp4"));
	assert_false(id_mime_valid("audio/wav; rate=8000"));

	assert_true(id_contact_valid("sip:bob@127.0.0.1:5070;transport=tcp"));
	assert_true(id_contact_valid("SIPS:bob@example.com"));
	assert_false(id_contact_valid("tel:+4930"));
	assert_false(id_contact_valid("sip:bob@host\r\nX: y"));
	assert_false(id_contact_valid("sip:"));
}


/* ---- the overlay on a table ------------------------------------------- */

static void test_overlay_apply(void **state)
{
	long mark = leakcheck_mark();
	struct table *scratch = table_new(), *res = table_new();
	struct table *t;
	struct state *st = NULL;
	struct subscriber *bob;
	(void)state;

	assert_int_equal(state_alloc(&st, NULL), 0);
	assert_true(state_empty(st));

	assert_int_equal(table_resource_add(res, "new", "video/mp4",
					    (const uint8_t *)"mp4", 3), 0);
	assert_int_equal(state_resource_put(st, table_resource(res, "new"),
					    NULL, NULL), 0);
	assert_int_equal(state_resource_delete(st, "old"), 0);
	assert_int_equal(state_subscriber_put(st, spec_of(scratch, "bob",
		"{\"mode\":\"as\",\"cmrbt\":\"new\"}"), NULL), 0);
	assert_int_equal(state_subscriber_put(st, spec_of(scratch, "zed",
		"{\"contacts\":[\"sip:zed@192.0.2.3\"]}"), NULL), 0);
	assert_int_equal(state_subscriber_delete(st, "alice"), 0);
	assert_false(state_empty(st));

	/* What a reload loads gets the changes on top, every time. */
	for (int round = 0; round < 2; round++) {
		t = profile_table();

		assert_int_equal(subscriber_binding_set(
			table_subscriber(t, "bob"), "sip:bob@192.0.2.7", "c1",
			1, 60, 0), 0);
		assert_int_equal(state_apply(st, t), 0);

		assert_null(table_subscriber(t, "alice"));
		assert_null(table_resource(t, "old"));
		assert_memory_equal(table_resource(t, "new")->data, "mp4", 3);
		assert_ptr_equal(table_resource(t, "new")->data,
				 table_resource(res, "new")->data);

		bob = table_subscriber(t, "bob");
		assert_int_equal(subscriber_mode(bob), MODE_AS);
		assert_string_equal(subscriber_cmr(bob, DIR_BT, NULL), "new");
		/* A PUT replaces the whole subscriber: the profile's rule and
		 * contact go; the registration stays. */
		assert_string_equal(subscriber_cmr(bob, DIR_BT, "carol"),
				    "new");
		assert_int_equal(subscriber_contact_count(bob), 0);
		assert_int_equal(subscriber_binding_count(bob), 1);
		assert_string_equal(subscriber_contact(
			table_subscriber(t, "zed"), 0), "sip:zed@192.0.2.3");

		mem_deref(t);
	}

	/* Deleting a put subscriber and putting a deleted one back. */
	assert_int_equal(state_subscriber_delete(st, "zed"), 0);
	assert_int_equal(state_subscriber_put(st, spec_of(scratch, "alice",
						   "{}"), NULL), 0);
	t = profile_table();
	assert_int_equal(state_apply(st, t), 0);
	assert_null(table_subscriber(t, "zed"));
	assert_non_null(table_subscriber(t, "alice"));
	mem_deref(t);

	mem_deref(st);
	mem_deref(scratch);
	mem_deref(res);
	leakcheck_assert(mark);
}


static void test_uses(void **state)
{
	long mark = leakcheck_mark();
	struct table *t = profile_table();
	struct subscriber *bob = table_subscriber(t, "bob");
	(void)state;

	assert_string_equal(subscriber_uses(bob, "rb-x"), "bob");
	assert_string_equal(subscriber_uses(bob, "ringtone-default"), "bob");
	assert_null(subscriber_uses(bob, "old"));
	assert_null(subscriber_uses(table_subscriber(t, "alice"), "rb-x"));

	assert_true(table_resource_remove(t, "old"));
	assert_false(table_resource_remove(t, "old"));
	assert_true(table_subscriber_remove(t, "alice"));
	assert_false(table_subscriber_remove(t, "alice"));
	assert_int_equal(table_subscriber_count(t), 1);

	mem_deref(t);
	leakcheck_assert(mark);
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spec_good),
		cmocka_unit_test(test_spec_bad),
		cmocka_unit_test(test_ids),
		cmocka_unit_test(test_overlay_apply),
		cmocka_unit_test(test_uses),
	};
	int r;

	(void)libre_init();
	log_setup(LVL_ERROR);
	r = cmocka_run_group_tests_name("core/state", tests, NULL, NULL);
	libre_close();

	return r;
}
