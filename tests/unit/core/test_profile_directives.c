/**
 * @file test_profile_directives.c  The profile's directives, parsed from
 *                                  text: subscriber (every key, later
 *                                  lines, quoting, ranges), rule and
 *                                  limits, good lines and bad
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>
#include <re.h>
#include "core/core.h"
#include "tests/unit/leakcheck.h"
#include "tests/unit/core/profparse.h"


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


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_subscriber_directive_sets_every_key),
		cmocka_unit_test(test_later_subscriber_line_updates),
		cmocka_unit_test(test_quoted_values_comments_and_blanks),
		cmocka_unit_test(test_ranges_expand_to_each_number),
		cmocka_unit_test(test_rule_directive_per_caller),
		cmocka_unit_test(test_limits_default_without_line),
		cmocka_unit_test(test_limits_good_lines),
		cmocka_unit_test(test_limits_bad_lines),
	};

	return cmocka_run_group_tests_name("core/profile_directives", tests,
					   profparse_group_setup, NULL);
}
