/**
 * @file test_jsonw.c  JSON strings from bytes off the wire: escapes, and
 *                     UTF-8 that is kept only when it is well-formed
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>
#include <re.h>
#include "core/core.h"


struct vec {
	const char *in;
	size_t len;             /* 0: strlen(in) */
	const char *want;
};

static const struct vec vecs[] = {
	{ "plain", 0, "\"plain\"" },
	{ "", 0, "\"\"" },
	{ "a\"b\\c", 0, "\"a\\\"b\\\\c\"" },
	{ "\r\n\t\x01\x1f", 0, "\"\\r\\n\\t\\u0001\\u001f\"" },
	{ "nul\0x", 5, "\"nul\\u0000x\"" },
	/* Well-formed UTF-8 of 2, 3 and 4 bytes is kept as it is. */
	{ "caf\xc3\xa9", 0, "\"caf\xc3\xa9\"" },
	{ "\xe2\x82\xac 1", 0, "\"\xe2\x82\xac 1\"" },
	{ "\xf0\x9f\x8e\xb5", 0, "\"\xf0\x9f\x8e\xb5\"" },
	{ "\xed\x9f\xbf", 0, "\"\xed\x9f\xbf\"" },              /* U+D7FF */
	{ "\xf4\x8f\xbf\xbf", 0, "\"\xf4\x8f\xbf\xbf\"" },      /* U+10FFFF */
	/* A Call-ID a fuzzer sent: a lead byte before an ASCII byte. */
	{ "id\xc3(", 0, "\"id\\ufffd(\"" },
	/* Overlong forms, surrogates, above U+10FFFF, stray continuation
	 * bytes, bytes that never occur, a sequence cut short. */
	{ "\xc0\x80", 0, "\"\\ufffd\\ufffd\"" },
	{ "\xc1\xbf", 0, "\"\\ufffd\\ufffd\"" },
	{ "\xe0\x80\xaf", 0, "\"\\ufffd\\ufffd\\ufffd\"" },
	{ "\xed\xa0\x80", 0, "\"\\ufffd\\ufffd\\ufffd\"" },
	{ "\xf0\x80\x80\xaf", 0, "\"\\ufffd\\ufffd\\ufffd\\ufffd\"" },
	{ "\xf4\x90\x80\x80", 0, "\"\\ufffd\\ufffd\\ufffd\\ufffd\"" },
	{ "\xf5\x80", 0, "\"\\ufffd\\ufffd\"" },
	{ "\x80x\xbf", 0, "\"\\ufffdx\\ufffd\"" },
	{ "\xfe\xff", 0, "\"\\ufffd\\ufffd\"" },
	{ "end\xe2\x82", 0, "\"end\\ufffd\\ufffd\"" },
};


static void test_vectors(void **state)
{
	(void)state;

	for (size_t i = 0; i < ARRAY_SIZE(vecs); i++) {
		const struct vec *v = &vecs[i];
		struct pl pl;
		char *out = NULL;

		pl.p = v->in;
		pl.l = v->len ? v->len : strlen(v->in);
		assert_int_equal(re_sdprintf(&out, "%H", jsonw_pl, &pl), 0);
		if (strcmp(out, v->want))
			fail_msg("vector %zu: got %s, want %s", i, out,
				 v->want);
		mem_deref(out);
	}
}


static void test_null(void **state)
{
	char *out = NULL;
	(void)state;

	assert_int_equal(re_sdprintf(&out, "%H", jsonw_str, NULL), 0);
	assert_string_equal(out, "null");
	out = mem_deref(out);
	assert_int_equal(re_sdprintf(&out, "%H", jsonw_str, "x\xc3"), 0);
	assert_string_equal(out, "\"x\\ufffd\"");
	mem_deref(out);
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_null),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
