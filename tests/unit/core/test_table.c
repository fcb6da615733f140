/**
 * @file test_table.c  Unit tests of the table: subscribers, rules,
 *                     bindings, resources and the live table
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


/* Every test compares the live heap blocks at its end with those at its
 * start (leakcheck.h). */
/* ---- helpers ------------------------------------------------------------ */

static struct table *table_new(void)
{
	struct table *t = NULL;

	assert_int_equal(table_alloc(&t), 0);
	assert_non_null(t);

	return t;
}


static struct subscriber *sub_new(struct table *t, const char *id)
{
	struct subscriber *s = NULL;

	assert_int_equal(table_subscriber_add(t, id, &s), 0);
	assert_non_null(s);

	return s;
}


/* A canonical 44-byte-header PCM WAV: 8 kHz, mono, 16 bit, silence. */
static uint8_t *wav_make(uint32_t samples, size_t *sizep)
{
	uint32_t datasz = samples * 2;
	size_t size = 44 + datasz;
	uint8_t *w = calloc(1, size);

	assert_non_null(w);
	memcpy(w, "RIFF", 4);
	le_put32(w + 4, (uint32_t)size - 8);
	memcpy(w + 8, "WAVEfmt ", 8);
	le_put32(w + 16, 16);
	le_put16(w + 20, 1);      /* PCM */
	le_put16(w + 22, 1);      /* mono */
	le_put32(w + 24, 8000);   /* rate */
	le_put32(w + 28, 16000);  /* byte rate */
	le_put16(w + 32, 2);      /* block align */
	le_put16(w + 34, 16);     /* bits */
	memcpy(w + 36, "data", 4);
	le_put32(w + 40, datasz);

	*sizep = size;
	return w;
}


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
		cmocka_unit_test(test_binding_add_refresh_remove),
		cmocka_unit_test(test_bindings_expire_at_exact_times),
		cmocka_unit_test(test_bindings_limited_to_sixteen),
		cmocka_unit_test(test_bindings_move_to_reloaded_table),
		cmocka_unit_test(test_resource_add_copies_and_tags),
		cmocka_unit_test(test_resource_ids_and_types_checked),
		cmocka_unit_test(test_resource_readd_replaces),
		cmocka_unit_test(test_resource_wav_gets_duration),
		cmocka_unit_test(test_live_table_references),
		cmocka_unit_test(test_null_arguments_are_refused),
	};

	return cmocka_run_group_tests_name("table", tests, NULL, NULL);
}
