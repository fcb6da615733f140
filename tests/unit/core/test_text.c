/**
 * @file test_text.c  Bytes read as text: where a UTF-8 character starts
 *                    and ends, how many a string holds, hex digits
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <re.h>
#include "core/core.h"


static void test_utf8_char(void **state)
{
	(void)state;

	assert_int_equal(0, text_utf8_char("", 0));
	assert_int_equal(1, text_utf8_char("a", 1));
	assert_int_equal(2, text_utf8_char("\xc3\xa9", 2));
	assert_int_equal(0, text_utf8_char("\xc3", 1));
	assert_int_equal(0, text_utf8_char("\xc0\x80", 2));
	assert_int_equal(0, text_utf8_char("\xf4\x90\x80\x80", 4));
	assert_int_equal(4, text_utf8_char("\xf0\x9f\x8e\xb5", 4));
}


static void test_chars(void **state)
{
	(void)state;

	assert_int_equal(0, text_chars("", 0));
	assert_int_equal(3, text_chars("abc", 3));
	assert_int_equal(4, text_chars("caf\xc3\xa9", 5));
	/* A stray continuation byte, and each byte of a character cut
	 * short, count one each. */
	assert_int_equal(4, text_chars("\x80\xc3\xa9\xe2\x82", 5));
}


static void test_hexval(void **state)
{
	(void)state;

	assert_int_equal(0, text_hexval('0'));
	assert_int_equal(9, text_hexval('9'));
	assert_int_equal(10, text_hexval('a'));
	assert_int_equal(15, text_hexval('F'));
	assert_int_equal(-1, text_hexval('g'));
	assert_int_equal(-1, text_hexval('/'));
	assert_int_equal(-1, text_hexval(-1));
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_utf8_char),
		cmocka_unit_test(test_chars),
		cmocka_unit_test(test_hexval),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
