/**
 * @file test_table_resources.c  The table's resources: copies and ETags,
 *                               ids and types checked, a re-add that
 *                               replaces, and the duration of a WAV
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <re.h>
#include "core/core.h"
#include "tests/unit/leakcheck.h"
#include "tests/unit/lebytes.h"
#include "tests/unit/core/tablenew.h"


/* ---- helpers ------------------------------------------------------------ */

/* A canonical 44-byte-header PCM WAV: 8 kHz, mono, 16 bit, silence. */
static uint8_t *wav_make(uint32_t samples, size_t *sizep)
{
	uint32_t datasz = samples * 2;
	size_t size = 44 + datasz;
	uint8_t *w = calloc(1, size);

	assert_non_null(w);
	le_wav_header(w, 1, 1, 8000, 16, datasz);

	*sizep = size;
	return w;
}


/* ---- resources ---------------------------------------------------------- */

static void test_resource_add_copies_and_tags(void **state)
{
	long mark = leakcheck_mark();
	struct table *t = table_new(), *t2 = table_new();
	uint8_t bytes[] = "hello";
	struct resource *r, *r2;
	char etag[32];

	(void)state;

	assert_int_equal(table_resource_add(t, "hello", "text/plain", bytes,
					    5), 0);
	r = table_resource(t, "hello");
	assert_non_null(r);
	assert_string_equal(r->id, "hello");
	assert_string_equal(r->type, "text/plain");
	assert_int_equal(r->size, 5);
	assert_memory_equal(r->data, "hello", 5);
	assert_int_equal(r->duration_ms, 0);

	/* The table keeps its own copy. */
	bytes[0] = 'j';
	assert_memory_equal(r->data, "hello", 5);

	/* A strong ETag: quoted, 16 hex digits. */
	assert_int_equal(strlen(r->etag), 18);
	assert_int_equal(r->etag[0], '"');
	assert_int_equal(r->etag[17], '"');
	str_ncpy(etag, r->etag, sizeof(etag));

	/* Stable: the same bytes give the same tag, whatever the id or the
	 * table; different bytes give a different one. */
	assert_int_equal(table_resource_add(t2, "other", NULL,
					    (const uint8_t *)"hello", 5), 0);
	r2 = table_resource(t2, "other");
	assert_string_equal(r2->etag, etag);
	assert_string_equal(r2->type, "application/octet-stream");

	assert_int_equal(table_resource_add(t2, "jello", NULL, bytes, 5), 0);
	assert_string_not_equal(table_resource(t2, "jello")->etag, etag);

	/* 64-bit FNV-1a of "a" is af63dc4c8601ec8c: the tag of the same
	 * bytes survives a restart. */
	assert_int_equal(table_resource_add(t2, "a", NULL,
					    (const uint8_t *)"a", 1), 0);
	assert_string_equal(table_resource(t2, "a")->etag,
			    "\"af63dc4c8601ec8c\"");
	assert_int_equal(table_resource_add(t2, "empty", NULL, NULL, 0), 0);
	assert_string_equal(table_resource(t2, "empty")->etag,
			    "\"cbf29ce484222325\"");

	assert_null(table_resource(t, "Hello"));
	assert_null(table_resource(t, "other"));
	assert_int_equal(table_resource_count(t), 1);
	assert_int_equal(table_resource_count(t2), 4);

	mem_deref(t2);
	mem_deref(t);
	leakcheck_assert(mark);
}


static void test_resource_ids_and_types_checked(void **state)
{
	static const char *bad_ids[] = {
		"", "a b", "a/b", "../x", "x?y", "%41", "caf\xc3\xa9",
		"0123456789012345678901234567890123456789"
		"0123456789012345678901234",  /* 65 */
	};
	long mark = leakcheck_mark();
	struct table *t = table_new();
	size_t i;

	(void)state;

	for (i = 0; i < ARRAY_SIZE(bad_ids); i++)
		assert_int_equal(table_resource_add(t, bad_ids[i], NULL,
						    (const uint8_t *)"x", 1),
				 EINVAL);

	assert_int_equal(table_resource_add(t, "ok", "text/plain\r\nX: y",
					    (const uint8_t *)"x", 1), EINVAL);
	assert_int_equal(table_resource_add(t, "ok", "", (const uint8_t *)"x",
					    1), EINVAL);
	assert_int_equal(table_resource_add(t, "ok", NULL, NULL, 3), EINVAL);
	assert_int_equal(table_resource_count(t), 0);

	assert_int_equal(table_resource_add(t,
		"A-Za-z0-9._0123456789012345678901234567890123456789012345678",
		"audio/mpeg", (const uint8_t *)"x", 1), 0);
	assert_int_equal(table_resource_count(t), 1);

	mem_deref(t);
	leakcheck_assert(mark);
}


static bool collect_res(struct resource *r, void *arg)
{
	(void)mbuf_printf(arg, "%s=%b,", r->id, r->data, r->size);

	return false;
}


static void test_resource_readd_replaces(void **state)
{
	long mark = leakcheck_mark();
	struct table *t = table_new();
	struct resource *old, *r;
	struct mbuf *mb;

	(void)state;

	assert_int_equal(table_resource_add(t, "a", NULL,
					    (const uint8_t *)"one", 3), 0);
	assert_int_equal(table_resource_add(t, "b", NULL,
					    (const uint8_t *)"two", 3), 0);
	assert_int_equal(table_resource_add(t, "c", NULL,
					    (const uint8_t *)"six", 3), 0);

	/* Someone is still sending the old bytes. */
	old = mem_ref(table_resource(t, "b"));

	assert_int_equal(table_resource_add(t, "b", "audio/ogg",
					    (const uint8_t *)"three", 5), 0);
	r = table_resource(t, "b");
	assert_ptr_not_equal(r, old);
	assert_string_equal(r->type, "audio/ogg");
	assert_int_equal(r->size, 5);
	assert_string_not_equal(r->etag, old->etag);
	assert_int_equal(table_resource_count(t), 3);

	/* The replacement takes the old one's place in the order. */
	mb = mbuf_alloc(64);
	assert_non_null(mb);
	assert_null(table_resource_apply(t, collect_res, mb));
	mbuf_write_u8(mb, 0);
	assert_string_equal((char *)mb->buf, "a=one,b=three,c=six,");
	mem_deref(mb);

	/* The old resource is out of the table but whole. */
	assert_memory_equal(old->data, "two", 3);
	assert_string_equal(old->id, "b");

	mem_deref(t);
	assert_memory_equal(old->data, "two", 3);
	mem_deref(old);
	leakcheck_assert(mark);
}


static void test_resource_wav_gets_duration(void **state)
{
	long mark = leakcheck_mark();
	struct table *t = table_new();
	size_t size;
	uint8_t *wav = wav_make(12000, &size);   /* 1.5 s at 8 kHz */

	(void)state;

	assert_int_equal(table_resource_add(t, "w", "audio/wav", wav, size),
			 0);
	assert_int_equal(table_resource(t, "w")->duration_ms, 1500);

	/* Cut short, it is no WAV any more. */
	assert_int_equal(table_resource_add(t, "w", "audio/wav", wav, 40), 0);
	assert_int_equal(table_resource(t, "w")->duration_ms, 0);

	free(wav);
	mem_deref(t);
	leakcheck_assert(mark);
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resource_add_copies_and_tags),
		cmocka_unit_test(test_resource_ids_and_types_checked),
		cmocka_unit_test(test_resource_readd_replaces),
		cmocka_unit_test(test_resource_wav_gets_duration),
	};

	return cmocka_run_group_tests_name("core/table_resources", tests, NULL,
					   NULL);
}
