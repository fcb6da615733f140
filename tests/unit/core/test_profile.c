/**
 * @file test_profile.c  Unit tests of the profile parser and loader
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <re.h>
#include "core/core.h"
#include "tests/unit/leakcheck.h"
#include "tests/unit/lebytes.h"


static int group_setup(void **state)
{
	struct table *t = NULL;
	char err[256];

	(void)state;

	/* One load before any test counts blocks, so that whatever the
	 * built-in tones keep for the life of the process is made here. */
	if (table_alloc(&t) || profile_load(t, NULL, err, sizeof(err))) {
		mem_deref(t);
		return -1;
	}
	mem_deref(t);

	return 0;
}


/* ---- helpers ------------------------------------------------------------ */

static struct table *table_new(void)
{
	struct table *t = NULL;

	assert_int_equal(table_alloc(&t), 0);
	return t;
}


/* A table with the two built-in names, as profile_load prepares it, so
 * that profile_parse can be tested on text alone. */
static struct table *table_builtin(void)
{
	struct table *t = table_new();

	assert_int_equal(table_resource_add(t, "ringback-default", NULL,
					    (const uint8_t *)"bt", 2), 0);
	assert_int_equal(table_resource_add(t, "ringtone-default", NULL,
					    (const uint8_t *)"rt", 2), 0);
	return t;
}


static int parse(struct table *t, const char *text, char *err, size_t sz)
{
	return profile_parse(t, "test.profile", NULL, text, strlen(text),
			     err, sz);
}


static void parse_ok(struct table *t, const char *text)
{
	char err[256] = "unset";
	int e = parse(t, text, err, sizeof(err));

	if (e)
		print_error("unexpected error: %s\n", err);
	assert_int_equal(e, 0);
	assert_string_equal(err, "");
}


static struct subscriber *sub(const struct table *t, const char *id)
{
	struct subscriber *s = table_subscriber(t, id);

	if (!s)
		print_error("no subscriber '%s'\n", id);
	assert_non_null(s);
	return s;
}


/* Writes a PCM WAV file of silence: 8 kHz, mono, 16 bit. */
static void wav_write(const char *path, uint32_t samples)
{
	static const uint8_t fmt[16] = {
		1, 0, 1, 0, 0x40, 0x1f, 0, 0, 0x80, 0x3e, 0, 0, 2, 0, 16, 0
	};
	uint8_t hdr[44];
	FILE *f;
	uint32_t i;

	memcpy(hdr, "RIFF", 4);
	le_put32(hdr + 4, 36 + samples * 2);
	memcpy(hdr + 8, "WAVEfmt ", 8);
	le_put32(hdr + 16, 16);
	memcpy(hdr + 20, fmt, 16);
	memcpy(hdr + 36, "data", 4);
	le_put32(hdr + 40, samples * 2);

	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(hdr, 1, sizeof(hdr), f), sizeof(hdr));
	for (i = 0; i < samples * 2; i++)
		assert_int_equal(fputc(0, f), 0);
	assert_int_equal(fclose(f), 0);
}


static void file_write(const char *path, const char *text, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}


/* A temporary folder, removed with everything in it at the end. */
struct tmpdir {
	char path[64];
};


static void tmpdir_make(struct tmpdir *d)
{
	str_ncpy(d->path, "/tmp/cmrlab-profile-XXXXXX", sizeof(d->path));
	assert_non_null(mkdtemp(d->path));
}


static int remove_one(const char *path, const struct stat *st, int flag,
		      struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;

	return remove(path);
}


static void tmpdir_remove(struct tmpdir *d)
{
	assert_int_equal(nftw(d->path, remove_one, 8, FTW_DEPTH | FTW_PHYS),
			 0);
}


/* ---- the embedded default ----------------------------------------------- */

static void test_default_profile_has_104_subscribers(void **state)
{
	static const char *ids[] = {
		"alice", "bob", "carol", "dave", "1000", "1001", "1050",
		"1099",
	};
	long mark = leakcheck_mark();
	struct table *t = table_new();
	char err[256];
	size_t i;

	(void)state;

	assert_int_equal(profile_load(t, NULL, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_int_equal(table_subscriber_count(t), 104);

	for (i = 0; i < ARRAY_SIZE(ids); i++) {
		struct subscriber *s = sub(t, ids[i]);

		assert_int_equal(subscriber_mode(s), MODE_AUTO);
		assert_string_equal(subscriber_cmr(s, DIR_BT, NULL),
				    "ringback-default");
		assert_string_equal(subscriber_cmr(s, DIR_RT, "bob"),
				    "ringtone-default");
		assert_null(subscriber_password(s));
		assert_int_equal(subscriber_contact_count(s), 0);
	}

	assert_null(table_subscriber(t, "0999"));
	assert_null(table_subscriber(t, "999"));
	assert_null(table_subscriber(t, "1100"));
	assert_null(table_subscriber(t, "Alice"));
	assert_null(table_subscriber(t, "eve"));

	/* profile_load put the built-in tones in first. */
	assert_non_null(table_resource(t, "ringback-default"));
	assert_non_null(table_resource(t, "ringtone-default"));

	mem_deref(t);
	leakcheck_assert(mark);
}


/* ---- each directive ----------------------------------------------------- */

static void test_subscriber_directive_sets_every_key(void **state)
{
	long mark = leakcheck_mark();
	struct table *t = table_builtin();
	struct subscriber *s;

	(void)state;

	assert_int_equal(table_resource_add(t, "tune", NULL,
					    (const uint8_t *)"x", 1), 0);

	parse_ok(t,
		 "subscriber alice mode=gateway cmrbt=tune cmrt=tune"
		 " password=pw1 contact=sip:alice@10.0.0.1"
		 " contact=sips:alice@example.com:5061;transport=tcp\n"
		 "subscriber bob\n"
		 "subscriber carol mode=off\n"
		 "subscriber dave mode=as\n"
		 "subscriber eve mode=http\n"
		 "subscriber +4930123.x_y~z mode=auto\n");

	assert_int_equal(table_subscriber_count(t), 6);

	s = sub(t, "alice");
	assert_int_equal(subscriber_mode(s), MODE_GATEWAY);
	assert_string_equal(subscriber_cmr(s, DIR_BT, NULL), "tune");
	assert_string_equal(subscriber_cmr(s, DIR_RT, NULL), "tune");
	assert_string_equal(subscriber_password(s), "pw1");
	assert_int_equal(subscriber_contact_count(s), 2);
	assert_string_equal(subscriber_contact(s, 0), "sip:alice@10.0.0.1");
	assert_string_equal(subscriber_contact(s, 1),
			    "sips:alice@example.com:5061;transport=tcp");

	s = sub(t, "bob");
	assert_int_equal(subscriber_mode(s), MODE_AUTO);
	assert_string_equal(subscriber_cmr(s, DIR_BT, NULL),
			    "ringback-default");
	assert_null(subscriber_password(s));

	assert_int_equal(subscriber_mode(sub(t, "carol")), MODE_OFF);
	assert_int_equal(subscriber_mode(sub(t, "dave")), MODE_AS);
	assert_int_equal(subscriber_mode(sub(t, "eve")), MODE_HTTP);
	assert_int_equal(subscriber_mode(sub(t, "+4930123.x_y~z")),
			 MODE_AUTO);

	mem_deref(t);
	leakcheck_assert(mark);
}


static void test_later_subscriber_line_updates(void **state)
{
	long mark = leakcheck_mark();
	struct table *t = table_builtin();
	struct subscriber *s;

	(void)state;

	parse_ok(t,
		 "subscriber alice mode=http password=one"
		 " contact=sip:a@h1\n"
		 "subscriber alice mode=as contact=sip:a@h2"
		 " contact=sip:a@h1\n"
		 "subscriber alice cmrt=ringback-default\n");

	assert_int_equal(table_subscriber_count(t), 1);
	s = sub(t, "alice");
	assert_int_equal(subscriber_mode(s), MODE_AS);
	assert_string_equal(subscriber_password(s), "one");
	assert_string_equal(subscriber_cmr(s, DIR_RT, NULL),
			    "ringback-default");
	assert_string_equal(subscriber_cmr(s, DIR_BT, NULL),
			    "ringback-default");
	assert_int_equal(subscriber_contact_count(s), 2);
	assert_string_equal(subscriber_contact(s, 1), "sip:a@h2");

	mem_deref(t);
	leakcheck_assert(mark);
}


static void test_quoted_values_comments_and_blanks(void **state)
{
	long mark = leakcheck_mark();
	struct table *t = table_builtin();

	(void)state;

	parse_ok(t,
		 "# a comment line\n"
		 "   # an indented one\n"
		 "\n"
		 " \t \n"
		 "subscriber alice password=\"two words\"\r\n"
		 "subscriber bob password=\"say \\\"hi\\\" \\\\ \\n\"\n"
		 "\tsubscriber\tcarol\tpassword=ab#c   # trailing comment\n"
		 "subscriber dave password=\"#x\" mode=\"off\"\n"
		 "subscriber \"1234\" contact=\"sip:e@h\" # quoted id\n"
		 "subscriber erin password=\"\xc3\xa9t\xc3\xa9\"");

	assert_int_equal(table_subscriber_count(t), 6);
	assert_string_equal(subscriber_password(sub(t, "alice")),
			    "two words");
	assert_string_equal(subscriber_password(sub(t, "bob")),
			    "say \"hi\" \\ \\n");
	assert_string_equal(subscriber_password(sub(t, "carol")), "ab#c");
	assert_string_equal(subscriber_password(sub(t, "dave")), "#x");
	assert_int_equal(subscriber_mode(sub(t, "dave")), MODE_OFF);
	assert_string_equal(subscriber_contact(sub(t, "1234"), 0),
			    "sip:e@h");
	assert_string_equal(subscriber_password(sub(t, "erin")),
			    "\xc3\xa9t\xc3\xa9");

	mem_deref(t);
	leakcheck_assert(mark);
}


static void test_ranges_expand_to_each_number(void **state)
{
	static const char *present[] = {
		"0998", "0999", "1000", "1001", "5", "9", "10", "12", "7",
		"2000",
	};
	static const char *absent[] = {
		"998", "0997", "1002", "4", "05", "13", "6", "8",
		"0998-1001",
	};
	long mark = leakcheck_mark();
	struct table *t = table_builtin();
	size_t i;

	(void)state;

	parse_ok(t,
		 "subscriber 0998-1001 mode=http password=p\n"
		 "subscriber 5-5\n"
		 "subscriber 9-12\n"
		 "subscriber 7 mode=as\n"
		 "subscriber 2000-2000\n");

	assert_int_equal(table_subscriber_count(t), 4 + 1 + 4 + 1 + 1);

	for (i = 0; i < ARRAY_SIZE(present); i++)
		(void)sub(t, present[i]);
	for (i = 0; i < ARRAY_SIZE(absent); i++)
		assert_null(table_subscriber(t, absent[i]));

	/* The keys of a range line apply to every number in it. */
	assert_int_equal(subscriber_mode(sub(t, "0999")), MODE_HTTP);
	assert_string_equal(subscriber_password(sub(t, "1001")), "p");
	assert_int_equal(subscriber_mode(sub(t, "7")), MODE_AS);

	/* The largest range allowed. */
	parse_ok(t, "subscriber 100000-199999\n");
	assert_int_equal(table_subscriber_count(t), 11 + 100000);

	mem_deref(t);
	leakcheck_assert(mark);
}


static void test_rule_directive_per_caller(void **state)
{
	long mark = leakcheck_mark();
	struct table *t = table_builtin();
	struct subscriber *s;

	(void)state;

	parse_ok(t,
		 "subscriber alice\n"
		 "subscriber 1000-1002\n"
		 "rule alice from=bob cmrbt=jingle\n"
		 "rule alice from=carol cmrt=bells cmrbt=jingle\n"
		 "rule alice from=bob cmrt=bells\n"
		 "rule 1001-1002 from=1000 cmrt=bells\n"
		 "resource jingle file=/proc/self/stat type=text/plain\n"
		 "resource bells file=/proc/self/stat\n");

	s = sub(t, "alice");
	assert_string_equal(subscriber_cmr(s, DIR_BT, "bob"), "jingle");
	assert_string_equal(subscriber_cmr(s, DIR_RT, "bob"), "bells");
	assert_string_equal(subscriber_cmr(s, DIR_BT, "carol"), "jingle");
	assert_string_equal(subscriber_cmr(s, DIR_RT, "carol"), "bells");
	assert_string_equal(subscriber_cmr(s, DIR_BT, "dave"),
			    "ringback-default");

	assert_string_equal(subscriber_cmr(sub(t, "1002"), DIR_RT, "1000"),
			    "bells");
	assert_string_equal(subscriber_cmr(sub(t, "1001"), DIR_BT, "1000"),
			    "ringback-default");
	assert_string_equal(subscriber_cmr(sub(t, "1000"), DIR_RT, "1000"),
			    "ringtone-default");

	mem_deref(t);
	leakcheck_assert(mark);
}


/* ---- bad input ---------------------------------------------------------- */

struct bad {
	const char *text;
	size_t len;          /* 0: strlen(text) */
	unsigned line;
	const char *msg;     /* a part of the message after the prefix */
};

static const struct bad bad_inputs[] = {
	/* directives and keys */
	{"frobnicate x\n", 0, 1, "unknown directive 'frobnicate'"},
	{"Subscriber alice\n", 0, 1, "unknown directive 'Subscriber'"},
	{"mode=auto\n", 0, 1, "starts with a directive"},
	{"subscriber\n", 0, 1, "missing subscriber id"},
	{"subscriber mode=auto\n", 0, 1, "missing subscriber id"},
	{"subscriber alice colour=red\n", 0, 1, "unknown key 'colour'"},
	{"subscriber alice Mode=off\n", 0, 1, "unknown key 'Mode'"},
	{"subscriber alice file=x\n", 0, 1, "unknown key 'file'"},
	{"subscriber alice extra\n", 0, 1, "unexpected word 'extra'"},
	{"subscriber alice mode=auto mode=off\n", 0, 1,
	 "duplicate key 'mode'"},
	{"subscriber alice mode=\n", 0, 1, "empty value for 'mode'"},
	{"subscriber alice password=\"\"\n", 0, 1,
	 "empty value for 'password'"},
	{"subscriber alice =x\n", 0, 1, "'=' without a key"},
	{"resource\n", 0, 1, "missing resource id"},
	{"resource r1\n", 0, 1, "needs file="},
	{"resource r1 file=/dev/null file=/dev/null\n", 0, 1,
	 "duplicate key 'file'"},
	{"resource r1 file=/dev/null mode=off\n", 0, 1,
	 "unknown key 'mode'"},
	{"rule\n", 0, 1, "missing subscriber id"},
	{"subscriber alice\nrule alice cmrbt=ringback-default\n", 0, 2,
	 "needs from="},
	{"subscriber alice\nrule alice from=bob\n", 0, 2,
	 "neither cmrbt= nor cmrt="},
	{"subscriber alice\nrule alice from=bob password=x\n", 0, 2,
	 "unknown key 'password'"},

	/* values */
	{"subscriber alice mode=loud\n", 0, 1, "bad mode 'loud'"},
	{"subscriber alice mode=AUTO\n", 0, 1, "bad mode 'AUTO'"},
	{"subscriber ali/ce\n", 0, 1, "bad subscriber id 'ali/ce'"},
	{"subscriber al@ice\n", 0, 1, "bad subscriber id"},
	{"subscriber \"two words\"\n", 0, 1, "bad subscriber id"},
	{"subscriber 0123456789012345678901234567890123456789"
	 "01234567890123456789012345\n", 0, 1, "bad subscriber id"},
	{"subscriber alice contact=http://x.org/\n", 0, 1,
	 "bad contact 'http://x.org/'"},
	{"subscriber alice contact=bob\n", 0, 1, "bad contact"},
	{"subscriber alice contact=\"sip:a b@h\"\n", 0, 1, "bad contact"},
	{"subscriber alice cmrbt=bad/id\n", 0, 1, "bad resource id 'bad/id'"},
	{"subscriber alice cmrt=a?b\n", 0, 1,
	 "bad resource id 'a?b' in cmrt="},
	{"resource bad!id file=/dev/null\n", 0, 1, "bad resource id 'bad!id'"},
	{"resource r1 file=/dev/null type=audio\n", 0, 1, "bad type 'audio'"},
	{"resource r1 file=/dev/null type=audio/\n", 0, 1, "bad type"},
	{"resource r1 file=/dev/null type=\"audio/wav; x=y\"\n", 0, 1,
	 "bad type"},
	{"subscriber alice\nrule alice from=b@d cmrt=ringtone-default\n", 0,
	 2, "bad caller 'b@d'"},

	/* ranges */
	{"subscriber 1099-1000\n", 0, 1, "bad range '1099-1000'"},
	{"subscriber 1000-\n", 0, 1, "bad range '1000-'"},
	{"subscriber -1000\n", 0, 1, "bad range '-1000'"},
	{"subscriber 1-2-3\n", 0, 1, "bad range '1-2-3'"},
	{"subscriber 1--3\n", 0, 1, "bad range"},
	{"subscriber 0-1234567890\n", 0, 1, "bad range"},
	{"subscriber 0-100000\n", 0, 1, "more than 100000"},
	{"subscriber alice\nrule 5-3 from=alice cmrt=ringtone-default\n", 0,
	 2, "bad range '5-3'"},

	/* resources */
	{"resource r1 file=/nonexistent/cmrlab/x.wav\n", 0, 1,
	 "cannot read resource file '/nonexistent/cmrlab/x.wav'"},
	{"resource r1 file=/dev/null\n", 0, 1, "is empty"},
	{"resource r1 file=/\n", 0, 1, "cannot read resource file"},
	{"resource r1 file=/proc/self/stat type=audio/wav\n", 0, 1,
	 "not a WAV file"},
	{"resource r1 file=/proc/self/stat\nresource r2 file=/dev/null\n", 0,
	 2, "is empty"},

	/* references, checked at the end against the referring line */
	{"subscriber alice cmrbt=nope\n", 0, 1, "no resource 'nope'"},
	{"# comment\nsubscriber alice\n\nsubscriber bob cmrt=gone\n"
	 "subscriber carol cmrbt=gone2\n", 0, 4, "cmrt=gone: no resource"},
	{"subscriber alice\nsubscriber bob\n"
	 "rule bob from=alice cmrbt=later cmrt=missing\n"
	 "resource later file=/proc/self/stat\n", 0, 3,
	 "cmrt=missing: no resource 'missing'"},
	{"rule ghost from=alice cmrbt=ringback-default\n", 0, 1,
	 "unknown subscriber 'ghost'"},
	{"rule alice from=bob cmrt=ringtone-default\nsubscriber alice\n", 0,
	 1, "unknown subscriber 'alice'"},
	{"subscriber 1000-1001\nrule 1000-1002 from=a cmrt=ringtone-default\n",
	 0, 2, "unknown subscriber '1002'"},

	/* quoting and bytes */
	{"subscriber al\"ice\"\n", 0, 1, "a quote may only open"},
	{"subscriber alice password=a\"b\"\n", 0, 1, "a quote may only open"},
	{"subscriber alice password=\"open\n", 0, 1, "missing closing quote"},
	{"subscriber alice password=\"a\"b\n", 0, 1, "text after a closing"},
	{"subscriber alice password=\"a\"\"b\"\n", 0, 1,
	 "text after a closing"},
	{"subscriber alice\nsubscriber b\0b\n", 30, 2, "NUL byte"},
	{"\0", 1, 1, "NUL byte"},
	{"subscriber a\x01 b\n", 0, 1, "control character 0x01"},
	{"subscriber a\rb\n", 0, 1, "control character 0x0d"},
	{"subscriber alice\n\n\nsubscriber \x7f\n", 0, 4,
	 "control character 0x7f"},
};


static void test_bad_inputs_name_file_and_line(void **state)
{
	long mark = leakcheck_mark();
	size_t i;

	(void)state;

	for (i = 0; i < ARRAY_SIZE(bad_inputs); i++) {
		const struct bad *b = &bad_inputs[i];
		size_t len = b->len ? b->len : strlen(b->text);
		struct table *t = table_builtin();
		char err[512], prefix[64];
		int e;

		memset(err, 0, sizeof(err));
		e = profile_parse(t, "dir/bad.profile", NULL, b->text, len,
				  err, sizeof(err));
		if (e != EINVAL || !strstr(err, b->msg))
			print_error("case %zu: got %d '%s', want '%s'\n", i,
				    e, err, b->msg);
		assert_int_equal(e, EINVAL);

		/* Exactly "NAME:LINE: " and then a message. */
		re_snprintf(prefix, sizeof(prefix), "dir/bad.profile:%u: ",
			    b->line);
		if (strncmp(err, prefix, strlen(prefix)))
			print_error("case %zu: '%s' lacks '%s'\n", i, err,
				    prefix);
		assert_int_equal(strncmp(err, prefix, strlen(prefix)), 0);
		assert_non_null(strstr(err + strlen(prefix), b->msg));
		assert_true(strlen(err) > strlen(prefix) + strlen(b->msg) - 1);
		assert_null(strchr(err, '\n'));

		/* The failed table is only freed. */
		mem_deref(t);
	}

	leakcheck_assert(mark);
}


static void test_line_length_limit(void **state)
{
	long mark = leakcheck_mark();
	struct table *t = table_builtin();
	const size_t head = strlen("subscriber alice password=");
	char *text = malloc(8192);
	char err[256];

	(void)state;
	assert_non_null(text);

	/* 4096 bytes is the longest line, with or without CR LF. */
	memcpy(text, "subscriber alice password=", head);
	memset(text + head, 'x', 4096 - head);
	memcpy(text + 4096, "\r\nsubscriber bob\n", 18);
	assert_int_equal(profile_parse(t, "long", NULL, text, strlen(text),
				       err, sizeof(err)), 0);
	assert_int_equal(strlen(subscriber_password(sub(t, "alice"))),
			 4096 - head);
	mem_deref(t);

	/* One byte more fails, and names the line. */
	t = table_builtin();
	memcpy(text, "subscriber bob\nsubscriber alice password=",
	       15 + head);
	memset(text + 15 + head, 'x', 4097 - head);
	text[15 + 4097] = '\0';
	assert_int_equal(profile_parse(t, "long", NULL, text, strlen(text),
				       err, sizeof(err)), EINVAL);
	assert_string_equal(err, "long:2: line is longer than 4096 bytes");
	mem_deref(t);

	free(text);
	leakcheck_assert(mark);
}


static void test_good_parse_after_bad_one(void **state)
{
	long mark = leakcheck_mark();
	struct table *t = table_builtin();
	char err[256];

	(void)state;

	assert_int_equal(parse(t, "subscriber alice mode=nope\n", err,
			       sizeof(err)), EINVAL);
	assert_string_equal(err, "test.profile:1: bad mode 'nope' (expected"
			    " auto, http, as, gateway, early-media or off)");
	mem_deref(t);

	/* Nothing of the failed parse is left over to disturb the next. */
	t = table_builtin();
	assert_int_equal(parse(t, "subscriber alice mode=http\n"
			       "rule alice from=bob cmrt=ringtone-default\n",
			       err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_int_equal(subscriber_mode(sub(t, "alice")), MODE_HTTP);
	mem_deref(t);

	leakcheck_assert(mark);
}


static void test_error_buffer_small_or_absent(void **state)
{
	long mark = leakcheck_mark();
	struct table *t = table_builtin();
	char err[12];

	(void)state;

	memset(err, 'z', sizeof(err));
	assert_int_equal(parse(t, "subscriber alice mode=nope\n", err, 8),
			 EINVAL);
	assert_string_equal(err, "test.pr");
	assert_int_equal(err[8], 'z');

	assert_int_equal(parse(t, "bogus\n", NULL, 0), EINVAL);
	assert_int_equal(parse(t, "bogus\n", err, 0), EINVAL);
	assert_int_equal(err[0], 't');

	/* An empty profile is a valid one. */
	assert_int_equal(profile_parse(t, "empty", NULL, NULL, 0, err,
				       sizeof(err)), 0);
	assert_int_equal(profile_parse(NULL, "x", NULL, "", 0, err,
				       sizeof(err)), EINVAL);

	mem_deref(t);
	leakcheck_assert(mark);
}


/* ---- limits ------------------------------------------------------------- */

static void test_limits_default_without_line(void **state)
{
	long mark = leakcheck_mark();
	struct table *t = table_new();
	char err[256];

	(void)state;

	/* A new table, the embedded profile and a profile without a limits
	 * line all have the defaults. */
	assert_int_equal(table_limits(t)->ring_s, 180);
	assert_int_equal(table_limits(t)->call_s, 14400);
	assert_int_equal(profile_load(t, NULL, err, sizeof(err)), 0);
	assert_int_equal(table_limits(t)->ring_s, LIMIT_RING_DEFAULT);
	assert_int_equal(table_limits(t)->call_s, LIMIT_CALL_DEFAULT);
	mem_deref(t);

	t = table_builtin();
	parse_ok(t, "subscriber alice\n# limits ring=1 call=2\n");
	assert_int_equal(table_limits(t)->ring_s, 180);
	assert_int_equal(table_limits(t)->call_s, 14400);
	mem_deref(t);

	/* No table: the defaults too. */
	assert_int_equal(table_limits(NULL)->ring_s, 180);
	assert_int_equal(table_limits(NULL)->call_s, 14400);

	leakcheck_assert(mark);
}


struct limits_good {
	const char *text;
	uint32_t ring_s, call_s;
};

static const struct limits_good limits_good[] = {
	/* each key; the other keeps its default */
	{"limits ring=30\n", 30, 14400},
	{"limits call=60\n", 180, 60},
	/* both, in either order */
	{"limits ring=30 call=60\n", 30, 60},
	{"limits call=60 ring=30\n", 30, 60},
	/* 0 (no limit) and the largest value */
	{"limits ring=0 call=0\n", 0, 0},
	{"limits ring=86400 call=86400\n", 86400, 86400},
	{"limits ring=0\n", 0, 14400},
	{"limits call=86400\n", 180, 86400},
	/* later lines win per key */
	{"limits ring=10\nlimits call=20\nlimits ring=30\n", 30, 20},
	{"limits ring=10 call=20\nlimits call=0\n", 10, 0},
	{"limits ring=10 call=20\nlimits ring=180 call=14400\n", 180, 14400},
	/* CR LF line ends */
	{"limits ring=45\r\n", 45, 14400},
	{"limits ring=10 call=20\r\nlimits call=5\r\n", 10, 5},
	/* blanks, tabs, comments, quotes, leading zeros */
	{"\tlimits  ring=5\tcall=6   # five and six\n", 5, 6},
	{"limits ring=\"7\" # quoted\n", 7, 14400},
	{"limits ring=007 call=0000\n", 7, 0},
	/* among other lines; no trailing newline */
	{"subscriber alice\nlimits call=3600\nsubscriber bob", 180, 3600},
};


static void test_limits_good_lines(void **state)
{
	long mark = leakcheck_mark();
	size_t i;

	(void)state;

	for (i = 0; i < ARRAY_SIZE(limits_good); i++) {
		const struct limits_good *g = &limits_good[i];
		struct table *t = table_builtin();
		char err[256] = "unset";
		int e;

		e = parse(t, g->text, err, sizeof(err));
		if (e || table_limits(t)->ring_s != g->ring_s ||
		    table_limits(t)->call_s != g->call_s)
			print_error("case %zu: got %d '%s' ring=%u call=%u\n",
				    i, e, err, table_limits(t)->ring_s,
				    table_limits(t)->call_s);
		assert_int_equal(e, 0);
		assert_string_equal(err, "");
		assert_int_equal(table_limits(t)->ring_s, g->ring_s);
		assert_int_equal(table_limits(t)->call_s, g->call_s);

		mem_deref(t);
	}

	leakcheck_assert(mark);
}


#define LIMITS_USAGE "(usage: limits [ring=SECONDS] [call=SECONDS])"
#define LIMITS_RANGE ": not a number of seconds from 0 to 86400"

/* The whole message, after "NAME:LINE: ". */
static const struct bad limits_bad[] = {
	/* no keys */
	{"limits\n", 0, 1, "limits sets nothing " LIMITS_USAGE},
	{"limits   # nothing yet\n", 0, 1,
	 "limits sets nothing " LIMITS_USAGE},
	{"limits\r\n", 0, 1, "limits sets nothing " LIMITS_USAGE},
	/* unknown keys: the names are lower case */
	{"limits talk=60\n", 0, 1,
	 "unknown key 'talk' for limits " LIMITS_USAGE},
	{"limits ring=5 Call=60\n", 0, 1,
	 "unknown key 'Call' for limits " LIMITS_USAGE},
	{"limits ring_s=5\n", 0, 1,
	 "unknown key 'ring_s' for limits " LIMITS_USAGE},
	/* a key twice on one line */
	{"limits ring=5 ring=6\n", 0, 1, "duplicate key 'ring'"},
	{"limits call=5 ring=1 call=5\n", 0, 1, "duplicate key 'call'"},
	/* empty values */
	{"limits ring=\n", 0, 1, "empty value for 'ring'"},
	{"limits ring=5 call=\"\"\n", 0, 1, "empty value for 'call'"},
	/* not a number of seconds from 0 to 86400 */
	{"limits ring=-1\n", 0, 1, "ring=-1" LIMITS_RANGE},
	{"limits ring=-0\n", 0, 1, "ring=-0" LIMITS_RANGE},
	{"limits call=abc\n", 0, 1, "call=abc" LIMITS_RANGE},
	{"limits call=60s\n", 0, 1, "call=60s" LIMITS_RANGE},
	{"limits call=1.5\n", 0, 1, "call=1.5" LIMITS_RANGE},
	{"limits call=0x10\n", 0, 1, "call=0x10" LIMITS_RANGE},
	{"limits ring=86401\n", 0, 1, "ring=86401" LIMITS_RANGE},
	{"limits call=4294967296\n", 0, 1, "call=4294967296" LIMITS_RANGE},
	{"limits call=99999999999999999999\n", 0, 1,
	 "call=99999999999999999999" LIMITS_RANGE},
	{"limits ring=+5\n", 0, 1, "ring=+5" LIMITS_RANGE},
	{"limits ring=\" 5\"\n", 0, 1, "ring= 5" LIMITS_RANGE},
	{"limits ring=\"\t5\"\n", 0, 1, "ring=\t5" LIMITS_RANGE},
	{"limits ring=\" -0\"\n", 0, 1, "ring= -0" LIMITS_RANGE},
	{"limits ring=\"5 \"\n", 0, 1, "ring=5 " LIMITS_RANGE},
	/* bare words */
	{"limits forever\n", 0, 1,
	 "unexpected word 'forever' " LIMITS_USAGE},
	{"limits 60\n", 0, 1, "unexpected word '60' " LIMITS_USAGE},
	{"limits ring=5 call 60\n", 0, 1,
	 "unexpected word 'call' " LIMITS_USAGE},
	{"limits =5\n", 0, 1, "'=' without a key before it"},
	/* a key without the directive */
	{"ring=30\n", 0, 1, "a line starts with a directive (subscriber,"
	 " resource, rule, limits or defaults), not with 'ring='"},
	/* the line that has the error, with LF or CR LF line ends */
	{"subscriber alice\n\nlimits ring=x\n", 0, 3, "ring=x" LIMITS_RANGE},
	{"limits ring=5\r\nlimits ring=86401\r\n", 0, 2,
	 "ring=86401" LIMITS_RANGE},
	{"limits ring=5\nlimits call=1 call=2\n", 0, 2,
	 "duplicate key 'call'"},
};


static void test_limits_bad_lines(void **state)
{
	long mark = leakcheck_mark();
	size_t i;

	(void)state;

	for (i = 0; i < ARRAY_SIZE(limits_bad); i++) {
		const struct bad *b = &limits_bad[i];
		struct table *t = table_builtin();
		char err[512], want[512];
		int e;

		memset(err, 0, sizeof(err));
		e = profile_parse(t, "dir/bad.profile", NULL, b->text,
				  strlen(b->text), err, sizeof(err));
		re_snprintf(want, sizeof(want), "dir/bad.profile:%u: %s",
			    b->line, b->msg);
		if (e != EINVAL || strcmp(err, want))
			print_error("case %zu: got %d '%s', want '%s'\n", i,
				    e, err, want);
		assert_int_equal(e, EINVAL);
		assert_string_equal(err, want);

		mem_deref(t);
	}

	leakcheck_assert(mark);
}


/* ---- files -------------------------------------------------------------- */

static void test_load_file_with_relative_resources(void **state)
{
	long mark = leakcheck_mark();
	struct table *t = table_new();
	struct tmpdir d;
	char path[128], wav[128], sub_dir[128], err[256], cwd[512];
	const struct resource *r;
	static const char profile[] =
		"# media next to the profile\n"
		"resource ring file=media/ring.wav\n"
		"resource clip file=media/CLIP.MP4\n"
		"resource song file=media/song.mp3\n"
		"resource ogg file=media/a.b.ogg\n"
		"resource blob file=media/blob\n"
		"resource note file=media/blob type=text/plain\n"
		"resource ringback-default file=media/ring.wav\n"
		"subscriber alice cmrbt=ring cmrt=clip\n"
		"rule alice from=bob cmrbt=note\n";

	(void)state;

	tmpdir_make(&d);
	re_snprintf(sub_dir, sizeof(sub_dir), "%s/media", d.path);
	assert_int_equal(mkdir(sub_dir, 0700), 0);

	re_snprintf(wav, sizeof(wav), "%s/media/ring.wav", d.path);
	wav_write(wav, 16000);
	re_snprintf(path, sizeof(path), "%s/media/CLIP.MP4", d.path);
	file_write(path, "mp4-bytes", 9);
	re_snprintf(path, sizeof(path), "%s/media/song.mp3", d.path);
	file_write(path, "ID3", 3);
	re_snprintf(path, sizeof(path), "%s/media/a.b.ogg", d.path);
	file_write(path, "OggS", 4);
	re_snprintf(path, sizeof(path), "%s/media/blob", d.path);
	file_write(path, "\0\1\2", 3);
	re_snprintf(path, sizeof(path), "%s/test.profile", d.path);
	file_write(path, profile, strlen(profile));

	/* The working directory is elsewhere: paths follow the profile. */
	assert_int_equal(profile_load(t, path, err, sizeof(err)), 0);
	assert_string_equal(err, "");

	r = table_resource(t, "ring");
	assert_non_null(r);
	assert_string_equal(r->type, "audio/wav");
	assert_int_equal(r->size, 44 + 32000);
	assert_int_equal(r->duration_ms, 2000);

	assert_string_equal(table_resource(t, "clip")->type, "video/mp4");
	assert_memory_equal(table_resource(t, "clip")->data, "mp4-bytes", 9);
	assert_string_equal(table_resource(t, "song")->type, "audio/mpeg");
	assert_string_equal(table_resource(t, "ogg")->type, "audio/ogg");
	assert_string_equal(table_resource(t, "blob")->type,
			    "application/octet-stream");
	assert_int_equal(table_resource(t, "blob")->size, 3);
	assert_string_equal(table_resource(t, "note")->type, "text/plain");

	/* A profile may replace a built-in sound by its id. */
	assert_int_equal(table_resource(t, "ringback-default")->duration_ms,
			 2000);
	assert_non_null(table_resource(t, "ringtone-default"));

	assert_string_equal(subscriber_cmr(sub(t, "alice"), DIR_BT, "bob"),
			    "note");
	mem_deref(t);

	/* A relative profile path is named as given. */
	t = table_new();
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(d.path), 0);
	assert_int_equal(profile_load(t, "./test.profile", err, sizeof(err)),
			 0);
	assert_int_equal(chdir(cwd), 0);
	assert_int_equal(table_resource(t, "ring")->duration_ms, 2000);
	mem_deref(t);

	/* A bad media file is named with its path, on its line. */
	file_write(wav, "RIFF", 4);
	t = table_new();
	assert_int_equal(profile_load(t, path, err, sizeof(err)), EINVAL);
	re_snprintf(wav, sizeof(wav), "%s:2: resource file '%s/media/ring.wav'"
		    " is not a WAV file", path, d.path);
	assert_int_equal(strncmp(err, wav, strlen(wav)), 0);
	mem_deref(t);

	tmpdir_remove(&d);
	leakcheck_assert(mark);
}


static void test_load_file_errors(void **state)
{
	long mark = leakcheck_mark();
	struct table *t;
	struct tmpdir d;
	char path[128], err[256], want[256];
	char *big;
	size_t i;

	(void)state;

	tmpdir_make(&d);

	t = table_new();
	re_snprintf(path, sizeof(path), "%s/none.profile", d.path);
	assert_int_equal(profile_load(t, path, err, sizeof(err)), EINVAL);
	re_snprintf(want, sizeof(want), "%s:0: cannot read profile: %s",
		    path, strerror(ENOENT));
	assert_string_equal(err, want);
	mem_deref(t);

	t = table_new();
	assert_int_equal(profile_load(t, d.path, err, sizeof(err)), EINVAL);
	re_snprintf(want, sizeof(want), "%s:0: cannot read profile: %s",
		    d.path, strerror(EISDIR));
	assert_string_equal(err, want);
	mem_deref(t);

	/* 1 MiB loads, one byte more does not. */
	big = malloc((1 << 20) + 1);
	assert_non_null(big);
	/* Comment lines of 64 bytes: long, but each within its limit. */
	for (i = 0; i < (1 << 20) + 1; i++)
		big[i] = i % 64 == 63 ? '\n' : '#';
	re_snprintf(path, sizeof(path), "%s/big.profile", d.path);
	file_write(path, big, 1 << 20);
	t = table_new();
	assert_int_equal(profile_load(t, path, err, sizeof(err)), 0);
	mem_deref(t);

	file_write(path, big, (1 << 20) + 1);
	t = table_new();
	assert_int_equal(profile_load(t, path, err, sizeof(err)), EINVAL);
	re_snprintf(want, sizeof(want), "%s:0: profile is larger than 1 MiB",
		    path);
	assert_string_equal(err, want);
	mem_deref(t);
	free(big);

	/* A parse error in a file carries the path as given. */
	re_snprintf(path, sizeof(path), "%s/bad.profile", d.path);
	file_write(path, "subscriber alice\nresource x file=missing.wav\n",
		   strlen("subscriber alice\nresource x file=missing.wav\n"));
	t = table_new();
	assert_int_equal(profile_load(t, path, err, sizeof(err)), EINVAL);
	re_snprintf(want, sizeof(want), "%s:2: cannot read resource file"
		    " '%s/missing.wav': %s", path, d.path, strerror(ENOENT));
	assert_string_equal(err, want);
	mem_deref(t);

	tmpdir_remove(&d);
	leakcheck_assert(mark);
}


/* The example in profiles/ must load as it is documented to. */
static void test_example_profile_loads(void **state)
{
	long mark = leakcheck_mark();
	struct table *t = table_new();
	char path[512], err[256];
	struct subscriber *s;
	ssize_t n;
	unsigned i;

	(void)state;

	/* From the repository root (make unit), or else found from where
	 * the binary is: BUILD/tests/unit/core/test_profile. */
	str_ncpy(path, "profiles/example.profile", sizeof(path));
	if (access(path, R_OK)) {
		n = readlink("/proc/self/exe", path, sizeof(path) - 32);
		assert_true(n > 0);
		path[n] = '\0';
		for (i = 0; i < 5; i++)
			*strrchr(path, '/') = '\0';
		strcat(path, "/profiles/example.profile");
	}

	assert_int_equal(profile_load(t, path, err, sizeof(err)), 0);
	assert_int_equal(table_subscriber_count(t), 7 + 10);
	assert_non_null(table_resource(t, "profile-notes"));

	s = sub(t, "carol");
	assert_int_equal(subscriber_mode(s), MODE_AS);
	assert_string_equal(subscriber_password(s), "correct horse # battery");
	assert_int_equal(subscriber_contact_count(sub(t, "dave")), 2);
	assert_int_equal(subscriber_mode(sub(t, "eve")), MODE_OFF);
	assert_int_equal(subscriber_mode(sub(t, "frank")), MODE_EARLY);
	assert_int_equal(subscriber_plain(sub(t, "grace")), MODE_HTTP);
	assert_int_equal(table_plain(t), MODE_EARLY);
	assert_string_equal(subscriber_cmr(sub(t, "alice"), DIR_BT, "bob"),
			    "ringtone-default");
	assert_string_equal(subscriber_cmr(sub(t, "2009"), DIR_RT, "2000"),
			    "ringback-default");
	assert_string_equal(subscriber_password(sub(t, "2005")), "lab");
	assert_int_equal(table_limits(t)->ring_s, 60);
	assert_int_equal(table_limits(t)->call_s, 7200);

	mem_deref(t);
	leakcheck_assert(mark);
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_profile_has_104_subscribers),
		cmocka_unit_test(test_subscriber_directive_sets_every_key),
		cmocka_unit_test(test_later_subscriber_line_updates),
		cmocka_unit_test(test_quoted_values_comments_and_blanks),
		cmocka_unit_test(test_ranges_expand_to_each_number),
		cmocka_unit_test(test_rule_directive_per_caller),
		cmocka_unit_test(test_limits_default_without_line),
		cmocka_unit_test(test_limits_good_lines),
		cmocka_unit_test(test_limits_bad_lines),
		cmocka_unit_test(test_bad_inputs_name_file_and_line),
		cmocka_unit_test(test_line_length_limit),
		cmocka_unit_test(test_good_parse_after_bad_one),
		cmocka_unit_test(test_error_buffer_small_or_absent),
		cmocka_unit_test(test_load_file_with_relative_resources),
		cmocka_unit_test(test_load_file_errors),
		cmocka_unit_test(test_example_profile_loads),
	};

	return cmocka_run_group_tests_name("profile", tests, group_setup,
					   NULL);
}
