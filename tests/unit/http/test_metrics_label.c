/**
 * @file test_metrics_label.c  /metrics label values as the Prometheus text
 *                             format escapes them
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include <re.h>
#include "core/core.h"
#include "http/http_int.h"


static void expect(const char *in, const char *out)
{
	char *s = NULL;

	assert_int_equal(re_sdprintf(&s, "{l=\"%H\"}", metrics_label_print,
				     in), 0);
	assert_string_equal(s, out);
	mem_deref(s);
}


static void test_escape(void **state)
{
	(void)state;

	expect("http", "{l=\"http\"}");
	expect("", "{l=\"\"}");
	expect(NULL, "{l=\"\"}");
	expect("a\"b", "{l=\"a\\\"b\"}");
	expect("a\\b", "{l=\"a\\\\b\"}");
	expect("a\nb", "{l=\"a\\nb\"}");
	expect("\"\\\n", "{l=\"\\\"\\\\\\n\"}");
	/* Only those three: a tab, a quote's neighbours, UTF-8 stay. */
	expect("t\tu caf\xc3\xa9", "{l=\"t\tu caf\xc3\xa9\"}");
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
