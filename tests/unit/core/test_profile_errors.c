/**
 * @file test_profile_errors.c  Profile text the parser refuses: every
 *                              message with its file and line, the line
 *                              length limit, a good parse after a bad
 *                              one, and a small or absent error buffer
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <re.h>
#include "core/core.h"
#include "tests/unit/leakcheck.h"
#include "tests/unit/core/profparse.h"


/* ---- bad input ---------------------------------------------------------- */

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


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_inputs_name_file_and_line),
		cmocka_unit_test(test_line_length_limit),
		cmocka_unit_test(test_good_parse_after_bad_one),
		cmocka_unit_test(test_error_buffer_small_or_absent),
	};

	return cmocka_run_group_tests_name("core/profile_errors", tests,
					   profparse_group_setup, NULL);
}
