/**
 * @file test_state.c  The API's overlay (core/state*.c): subscriber JSON
 *                     read and checked, changes put onto a profile's
 *                     table, the state folder written and read back, and
 *                     what a bad folder gets
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


static struct odict *json(const char *text)
{
	struct odict *o = NULL;

	assert_int_equal(json_decode_odict(&o, 16, text, strlen(text), 8), 0);

	return o;
}


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

/* A table as a profile would give it: alice and bob, two resources, and
 * bob's rule for calls from carol. */
static struct table *profile_table(void)
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


static struct subscriber *spec_of(struct table *scratch, const char *id,
				  const char *text)
{
	struct state_err e = { NULL, NULL };
	struct subscriber *s = NULL;
	struct odict *o = json(text);

	assert_int_equal(state_spec_decode(scratch, id, o, &s, &e), 0);
	mem_deref(o);

	return s;
}


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


/* ---- the folder --------------------------------------------------------- */

static void dir_make(char *dir, size_t sz)
{
	(void)snprintf(dir, sz, "/tmp/cmrlab-state-XXXXXX");
	assert_non_null(mkdtemp(dir));
}


static void dir_remove(const char *dir)
{
	char cmd[300];

	(void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}


static void file_put(const char *dir, const char *name, const char *text)
{
	char path[300];
	FILE *f;

	(void)snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}


static unsigned res_files(const char *dir)
{
	char path[300];
	struct dirent *de;
	unsigned n = 0;
	DIR *d;

	(void)snprintf(path, sizeof(path), "%s/res", dir);
	d = opendir(path);
	assert_non_null(d);
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);

	return n;
}


/* A resource put the way the API puts one: bytes to the folder, then the
 * state that names them. */
static void res_put(struct state *st, const char *dir, const char *id,
		    const char *type, const char *bytes)
{
	struct table *t = table_new();
	char file[96];

	assert_int_equal(table_resource_add(t, id, type,
					    (const uint8_t *)bytes,
					    strlen(bytes)), 0);
	assert_int_equal(state_blob_name(st, id, file, sizeof(file)), 0);
	assert_int_equal(state_blob_write(dir, file, (const uint8_t *)bytes,
					  strlen(bytes)), 0);
	assert_int_equal(state_resource_put(st, table_resource(t, id), file,
					    NULL), 0);
	mem_deref(t);
}


static void test_folder_roundtrip(void **state)
{
	long mark = leakcheck_mark();
	struct table *scratch = table_new(), *t;
	struct state *st = NULL, *st2 = NULL;
	char dir[64], msg[256], path[300];
	struct stat sb;
	(void)state;

	dir_make(dir, sizeof(dir));

	assert_int_equal(state_alloc(&st, dir), 0);
	assert_int_equal(state_load(st, NULL, NULL, msg, sizeof(msg)), 0);

	res_put(st, dir, "clip", "video/mp4", "first");
	res_put(st, dir, "clip", "video/mp4", "second");   /* replaced */
	res_put(st, dir, "gone", "text/plain", "bye");
	assert_int_equal(res_files(dir), 2);
	assert_int_equal(state_resource_delete(st, "gone"), 0);
	assert_int_equal(res_files(dir), 1);
	assert_int_equal(state_subscriber_put(st, spec_of(scratch, "zed",
		"{\"mode\":\"http\",\"cmrt\":\"clip\",\"password\":\"s3\","
		"\"contacts\":[\"sip:zed@192.0.2.3\"]}"), NULL), 0);
	assert_int_equal(state_subscriber_delete(st, "alice"), 0);

	(void)snprintf(path, sizeof(path), "%s/state.json", dir);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);

	/* A leftover of a crash: named by nothing, it goes at the load. */
	file_put(dir, "res/clip.99", "torn");
	file_put(dir, "state.json.tmp", "{\"torn");

	assert_int_equal(state_alloc(&st2, dir), 0);
	assert_int_equal(state_load(st2, NULL, NULL, msg, sizeof(msg)), 0);
	assert_int_equal(res_files(dir), 1);
	(void)snprintf(path, sizeof(path), "%s/state.json.tmp", dir);
	assert_int_not_equal(stat(path, &sb), 0);

	t = profile_table();
	assert_int_equal(state_apply(st2, t), 0);
	assert_memory_equal(table_resource(t, "clip")->data, "second", 6);
	assert_string_equal(table_resource(t, "clip")->type, "video/mp4");
	assert_null(table_resource(t, "gone"));
	assert_null(table_subscriber(t, "alice"));
	assert_int_equal(subscriber_mode(table_subscriber(t, "zed")),
			 MODE_HTTP);
	assert_string_equal(subscriber_password(table_subscriber(t, "zed")),
			    "s3");
	assert_string_equal(subscriber_cmr(table_subscriber(t, "zed"), DIR_RT,
					   NULL), "clip");
	mem_deref(t);

	/* The next file number follows the ones on disk. */
	res_put(st2, dir, "clip", "video/mp4", "third");
	assert_int_equal(res_files(dir), 1);

	mem_deref(st);
	mem_deref(st2);
	mem_deref(scratch);
	dir_remove(dir);
	leakcheck_assert(mark);
}


/* Only ids of the profile are recorded as deleted: the API's own ones
 * go without a trace, and a deletion the profile no longer needs is
 * dropped at the next load. */
static void test_deleted_ids_bounded(void **state)
{
	long mark = leakcheck_mark();
	struct table *scratch = table_new(), *live = profile_table();
	struct state *st = NULL;
	char dir[64], msg[256], path[300];
	uint8_t *text = NULL;
	FILE *f;
	(void)state;

	dir_make(dir, sizeof(dir));
	assert_int_equal(state_alloc(&st, dir), 0);
	assert_int_equal(state_load(st, NULL, NULL, msg, sizeof(msg)), 0);
	assert_int_equal(state_apply(st, live), 0);

	for (int i = 0; i < 50; i++) {
		char id[16];

		(void)snprintf(id, sizeof(id), "u%d", i);
		assert_int_equal(state_subscriber_put(st, spec_of(scratch, id,
							   "{}"), live), 0);
		assert_int_equal(table_subscriber_put(live,
			table_subscriber(scratch, id), NULL), 0);
		assert_int_equal(state_subscriber_delete(st, id), 0);
		assert_true(table_subscriber_remove(live, id));
	}
	assert_int_equal(state_subscriber_delete(st, "alice"), 0);
	assert_true(table_subscriber_remove(live, "alice"));

	(void)snprintf(path, sizeof(path), "%s/state.json", dir);
	f = fopen(path, "r");
	assert_non_null(f);
	text = mem_zalloc(4096, NULL);
	assert_true(fread(text, 1, 4095, f) > 0);
	fclose(f);
	assert_non_null(strstr((char *)text,
			       "\"subscribers_deleted\":[\"alice\"]"));
	assert_null(strstr((char *)text, "u49"));
	mem_deref(text);

	/* A profile without alice: her deletion is no longer kept. */
	mem_deref(live);
	live = table_new();
	assert_int_equal(state_apply(st, live), 0);
	assert_true(state_empty(st));

	mem_deref(live);
	mem_deref(st);
	mem_deref(scratch);
	dir_remove(dir);
	leakcheck_assert(mark);
}


/* A state folder that cannot be read whole stops the start, naming it. */
static void test_folder_bad(void **state)
{
	static const struct {
		const char *json;
		const char *says;
	} v[] = {
		{ "{\"version\":1,\"subscribers\":[", "not valid JSON" },
		{ "[1]", "not a JSON object" },
		{ "{\"version\":2,\"subscribers\":[],\"resources\":[]}",
		  "version must be 1" },
		{ "{\"version\":1,\"subscribers\":{},\"resources\":[]}",
		  "must be arrays" },
		{ "{\"version\":1,\"subscribers\":[{\"id\":\"b\","
		  "\"mode\":\"x\"}],\"resources\":[],"
		  "\"subscribers_deleted\":[],\"resources_deleted\":[]}",
		  "subscriber b: mode" },
		{ "{\"version\":1,\"subscribers\":[],\"resources\":[{\"id\":"
		  "\"r\",\"type\":\"text/plain\",\"bytes\":2,\"etag\":\"x\","
		  "\"file\":\"r.0\"}],\"subscribers_deleted\":[],"
		  "\"resources_deleted\":[]}", "cannot read" },
		{ "{\"version\":1,\"subscribers\":[],\"resources\":[{\"id\":"
		  "\"r\",\"type\":\"text/plain\",\"bytes\":2,\"etag\":\"x\","
		  "\"file\":\"../r.0\"}],\"subscribers_deleted\":[],"
		  "\"resources_deleted\":[]}", "needs a valid id" },
		{ "{\"version\":1,\"subscribers\":[],\"resources\":[],"
		  "\"subscribers_deleted\":[\"a b\"],"
		  "\"resources_deleted\":[]}", "not an id" },
	};
	long mark = leakcheck_mark();
	char dir[64], msg[256];
	(void)state;

	for (size_t i = 0; i < ARRAY_SIZE(v); i++) {
		struct state *st = NULL;

		dir_make(dir, sizeof(dir));
		assert_int_equal(mkdir(strcat(strcpy(msg, dir), "/res"), 0700),
				 0);
		file_put(dir, "state.json", v[i].json);

		assert_int_equal(state_alloc(&st, dir), 0);
		assert_int_not_equal(state_load(st, NULL, NULL, msg,
						sizeof(msg)), 0);
		if (!strstr(msg, dir) || !strstr(msg, "state.json") ||
		    !strstr(msg, v[i].says))
			fail_msg("%s: message '%s', expected '%s'", v[i].json,
				 msg, v[i].says);
		mem_deref(st);
		dir_remove(dir);
	}

	leakcheck_assert(mark);
}


/* A resource file whose bytes are not those state.json names. */
static void test_folder_altered(void **state)
{
	long mark = leakcheck_mark();
	struct state *st = NULL, *st2 = NULL;
	char dir[64], msg[256];
	(void)state;

	dir_make(dir, sizeof(dir));
	assert_int_equal(state_alloc(&st, dir), 0);
	assert_int_equal(state_load(st, NULL, NULL, msg, sizeof(msg)), 0);
	res_put(st, dir, "clip", "video/mp4", "abcd");
	file_put(dir, "res/clip.0", "abce");

	assert_int_equal(state_alloc(&st2, dir), 0);
	assert_int_equal(state_load(st2, NULL, NULL, msg, sizeof(msg)),
			 EBADMSG);
	assert_non_null(strstr(msg, "res/clip.0 does not hold the bytes"));

	mem_deref(st);
	mem_deref(st2);
	dir_remove(dir);
	leakcheck_assert(mark);
}


/* A change that cannot be written is not made. */
static void test_write_fails(void **state)
{
	struct table *scratch;
	struct state *st = NULL;
	char buf[64];
	long mark;
	(void)state;

	/* The first message of an errno and the first line to stderr load
	 * what the C library keeps for good: not a leak of this test's. */
	(void)re_snprintf(buf, sizeof(buf), "%m", ENOENT);
	LOGE(SUB_CORE, "test_state: a state that cannot be written (%s)",
	     buf);
	mark = leakcheck_mark();
	scratch = table_new();

	assert_int_equal(state_alloc(&st, "/nonexistent/cmrlab-state"), 0);
	assert_int_not_equal(state_subscriber_put(st, spec_of(scratch, "zed",
							      "{}"), NULL), 0);
	assert_int_not_equal(state_subscriber_delete(st, "alice"), 0);
	assert_int_not_equal(state_resource_delete(st, "old"), 0);
	assert_true(state_empty(st));

	mem_deref(st);
	mem_deref(scratch);
	leakcheck_assert(mark);
}


/* A resource id may begin with a dot: its crash leftovers go at the
 * load like any other, and its named file stays. */
static void test_orphan_dotted(void **state)
{
	long mark = leakcheck_mark();
	struct state *st = NULL, *st2 = NULL;
	char dir[64], msg[256], path[300];
	struct stat sb;
	(void)state;

	dir_make(dir, sizeof(dir));
	assert_int_equal(state_alloc(&st, dir), 0);
	assert_int_equal(state_load(st, NULL, NULL, msg, sizeof(msg)), 0);
	res_put(st, dir, ".hid", "text/plain", "kept");
	file_put(dir, "res/.hid.99", "torn");
	file_put(dir, "res/.hid.99.tmp", "torn");

	assert_int_equal(state_alloc(&st2, dir), 0);
	assert_int_equal(state_load(st2, NULL, NULL, msg, sizeof(msg)), 0);
	(void)snprintf(path, sizeof(path), "%s/res/.hid.0", dir);
	assert_int_equal(stat(path, &sb), 0);
	(void)snprintf(path, sizeof(path), "%s/res/.hid.99", dir);
	assert_int_not_equal(stat(path, &sb), 0);
	(void)snprintf(path, sizeof(path), "%s/res/.hid.99.tmp", dir);
	assert_int_not_equal(stat(path, &sb), 0);

	mem_deref(st);
	mem_deref(st2);
	dir_remove(dir);
	leakcheck_assert(mark);
}


/* A state.json larger than state_load() reads is never written: the
 * change is refused, and the folder still loads. */
static void test_state_too_big(void **state)
{
	const size_t len = (size_t)5 << 20;
	struct table *scratch;
	struct subscriber *s;
	struct state *st = NULL, *st2 = NULL;
	char dir[64], msg[256];
	char *uri;
	long mark;
	(void)state;

	mark = leakcheck_mark();
	scratch = table_new();
	dir_make(dir, sizeof(dir));
	assert_int_equal(state_alloc(&st, dir), 0);
	assert_int_equal(state_load(st, NULL, NULL, msg, sizeof(msg)), 0);

	/* Four contacts of 5 MiB: 20 MiB of state.json. */
	s = spec_of(scratch, "big", "{}");
	uri = mem_alloc(len + 1, NULL);
	assert_non_null(uri);
	memcpy(uri, "sip:", 4);
	memset(uri + 4, 'a', len - 4);
	uri[len] = '\0';
	for (char c = '1'; c <= '4'; c++) {
		uri[len - 1] = c;
		assert_int_equal(subscriber_contact_add(s, uri), 0);
	}
	mem_deref(uri);

	assert_int_equal(state_subscriber_put(st, s, NULL), EFBIG);
	assert_true(state_empty(st));

	assert_int_equal(state_alloc(&st2, dir), 0);
	assert_int_equal(state_load(st2, NULL, NULL, msg, sizeof(msg)), 0);
	assert_true(state_empty(st2));

	mem_deref(st);
	mem_deref(st2);
	mem_deref(scratch);
	dir_remove(dir);
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
		cmocka_unit_test(test_deleted_ids_bounded),
		cmocka_unit_test(test_folder_roundtrip),
		cmocka_unit_test(test_folder_bad),
		cmocka_unit_test(test_folder_altered),
		cmocka_unit_test(test_write_fails),
		cmocka_unit_test(test_state_too_big),
		cmocka_unit_test(test_orphan_dotted),
	};
	int r;

	(void)libre_init();
	log_setup(LVL_ERROR);
	r = cmocka_run_group_tests(tests, NULL, NULL);
	libre_close();

	return r;
}
