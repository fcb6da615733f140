/**
 * @file test_jsonchk.c  json_strict(): exactly RFC 8259, where libre's
 *                       decoder is lenient
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>
#include <re.h>
#include "core/core.h"


static bool ok(const char *s)
{
	return json_strict(s, strlen(s), 8);
}


static void test_good(void **state)
{
	static const char *v[] = {
		"{}", "[]", " {\"a\":1} \r\n", "0", "-0", "-12.5e+3", "1E9",
		"\"\"", "true", "false", "null",
		"{\"a\":[1,2,{\"b\":null}],\"c\":\"x\\\"y\\\\z\\/\\b\\f\\n\\r\\t\"}",
		"\"\\u00e9\\uD83D\\uDE00\"", "\"\xc3\xa9\xf0\x9f\x98\x80\"",
		"[[[[[[[1]]]]]]]",
		"{\"a\":1,\"b\":1}",
	};
	(void)state;

	for (size_t i = 0; i < ARRAY_SIZE(v); i++) {
		if (!ok(v[i]))
			fail_msg("refused: %s", v[i]);
	}

	/* The length counts, not a NUL. */
	assert_true(json_strict("{}xyz", 2, 8));
}


static void test_bad(void **state)
{
	static const char *v[] = {
		"", " ", "{\"mode\":\"as\"} xyz", "{\"a\":1}}", "{\"a\":1,}",
		"[1,]", "[,1]", "{\"a\":1 \"b\":2}", "{a:1}", "{'a':1}",
		"{\"a\"}", "{\"a\":}", "{\"a\":1,\"a\":2}", "01", "1.", ".5",
		"-", "1e", "+1", "0x10", "NaN", "Infinity", "tru", "nul",
		"\"abc", "\"a\\x\"", "\"\\u12\"", "\"\\u0000\"",
		"\"\\uD83D\"", "\"\\uDE00\"", "\"\\uD83D\\u0041\"",
		"\"\xff\"", "\"\xc3\"", "\"\xc0\xaf\"", "\"\xed\xa0\x80\"",
		"\"a\tb\"", "\"a\nb\"", "[1][2]", "{}{}",
		"[[[[[[[[[1]]]]]]]]]",
	};
	(void)state;

	for (size_t i = 0; i < ARRAY_SIZE(v); i++) {
		if (ok(v[i]))
			fail_msg("accepted: %s", v[i]);
	}

	/* A NUL byte inside the text is not white space. */
	assert_false(json_strict("{}\0", 3, 8));
	assert_false(json_strict("{\"a\":\"\0\"}", 8, 8));
	assert_false(json_strict(NULL, 0, 8));
	assert_false(json_strict("[1]", 3, 0));
	assert_true(json_strict("1", 1, 0));
}


/* A hundred members are more than one object may have here (64). */
static void test_members_max(void **state)
{
	char buf[2048];
	(void)state;

	strcpy(buf, "{");
	for (int i = 0; i < 64; i++)
		sprintf(buf + strlen(buf), "%s\"m%d\":%d", i ? "," : "", i, i);
	strcat(buf, "}");
	assert_true(ok(buf));

	buf[strlen(buf) - 1] = '\0';
	strcat(buf, ",\"m64\":1}");
	assert_false(ok(buf));
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_members_max),
	};

	return cmocka_run_group_tests_name("core/jsonchk", tests, NULL,
					   NULL);
}
