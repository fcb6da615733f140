/**
 * @file test_state_folder.c  The API's overlay in its folder: written
 *                            and read back, leftovers of a crash, the
 *                            deleted ids kept bounded, a folder that
 *                            cannot be read or written
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
		cmocka_unit_test(test_folder_roundtrip),
		cmocka_unit_test(test_deleted_ids_bounded),
		cmocka_unit_test(test_folder_bad),
		cmocka_unit_test(test_folder_altered),
		cmocka_unit_test(test_write_fails),
		cmocka_unit_test(test_orphan_dotted),
		cmocka_unit_test(test_state_too_big),
	};
	int r;

	(void)libre_init();
	log_setup(LVL_ERROR);
	r = cmocka_run_group_tests_name("core/state_folder", tests, NULL, NULL);
	libre_close();

	return r;
}
