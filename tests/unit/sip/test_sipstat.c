/**
 * @file test_sipstat.c  SIP messages counted for /metrics: the start line
 *                       read, methods outside the list as "other"
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include <re.h>
#include "sip/sip.h"


static enum sipstat_kind kind(const char *s, unsigned *m, uint16_t *code)
{
	return sipstat_classify((const uint8_t *)s, strlen(s), m, code);
}


static unsigned method_index(const char *name)
{
	for (unsigned i = 0; i < SIPSTAT_METHODS; i++) {
		if (!strcmp(sipstat_method_name(i), name))
			return i;
	}

	return SIPSTAT_METHODS;
}


static void test_classify(void **state)
{
	unsigned m = 99;
	uint16_t code = 0;
	(void)state;

	assert_int_equal(kind("INVITE sip:bob@h SIP/2.0\r\n", &m, &code),
			 SIPSTAT_REQUEST);
	assert_string_equal(sipstat_method_name(m), "INVITE");
	assert_int_equal(kind("ACK sip:x SIP/2.0\r\n", &m, NULL),
			 SIPSTAT_REQUEST);
	assert_string_equal(sipstat_method_name(m), "ACK");
	assert_int_equal(kind("PUBLISH sip:x SIP/2.0\r\n", &m, NULL),
			 SIPSTAT_REQUEST);
	assert_string_equal(sipstat_method_name(m), "PUBLISH");

	/* Methods are case-sensitive; unknown ones are "other", and a
	 * method that only starts like a known one is not that one. */
	assert_int_equal(kind("invite sip:x SIP/2.0\r\n", &m, NULL),
			 SIPSTAT_REQUEST);
	assert_string_equal(sipstat_method_name(m), "other");
	assert_int_equal(kind("INVITEX sip:x SIP/2.0\r\n", &m, NULL),
			 SIPSTAT_REQUEST);
	assert_string_equal(sipstat_method_name(m), "other");
	assert_int_equal(kind("INV sip:x SIP/2.0\r\n", &m, NULL),
			 SIPSTAT_REQUEST);
	assert_string_equal(sipstat_method_name(m), "other");

	assert_int_equal(kind("SIP/2.0 180 Ringing\r\n", NULL, &code),
			 SIPSTAT_RESPONSE);
	assert_int_equal(code, 180);
	assert_int_equal(kind("SIP/2.0 699\r\n", NULL, &code),
			 SIPSTAT_RESPONSE);
	assert_int_equal(code, 699);
	assert_int_equal(kind("SIP/2.0 404", NULL, &code), SIPSTAT_RESPONSE);
	assert_int_equal(code, 404);

	/* Not a start line we count. */
	assert_int_equal(kind("SIP/2.0 099 x\r\n", NULL, &code),
			 SIPSTAT_NONE);
	assert_int_equal(kind("SIP/2.0 700 x\r\n", NULL, &code),
			 SIPSTAT_NONE);
	assert_int_equal(kind("SIP/2.0 2x0 x\r\n", NULL, &code),
			 SIPSTAT_NONE);
	assert_int_equal(kind("SIP/2.0 2000 x\r\n", NULL, &code),
			 SIPSTAT_NONE);
	assert_int_equal(kind("SIP/2.0 20", NULL, &code), SIPSTAT_NONE);
	assert_int_equal(kind("\r\n\r\n", &m, NULL), SIPSTAT_NONE);
	assert_int_equal(kind("INVITE", &m, NULL), SIPSTAT_NONE);
	assert_int_equal(kind(" INVITE sip:x", &m, NULL), SIPSTAT_NONE);
	assert_int_equal(kind("IN\"VITE sip:x", &m, NULL), SIPSTAT_NONE);
	assert_int_equal(sipstat_classify(NULL, 0, &m, &code), SIPSTAT_NONE);

	assert_null(sipstat_method_name(SIPSTAT_METHODS));
	assert_int_equal(method_index("other"), SIPSTAT_METHODS - 1);
}


static void count(bool tx, const char *s)
{
	sipstat_count(tx, (const uint8_t *)s, strlen(s));
}


static void test_count(void **state)
{
	unsigned inv = method_index("INVITE"), other = method_index("other");
	(void)state;

	sipstat_reset();
	count(false, "INVITE sip:bob@h SIP/2.0\r\n\r\n");
	count(false, "INVITE sip:bob@h SIP/2.0\r\n\r\n");
	count(true, "INVITE sip:bob@h SIP/2.0\r\n\r\n");
	count(false, "FOO sip:bob@h SIP/2.0\r\n\r\n");
	count(true, "SIP/2.0 404 Not Found\r\n\r\n");
	count(false, "SIP/2.0 180 Ringing\r\n\r\n");
	count(false, "garbage");

	assert_int_equal(sipstat_requests(false, inv), 2);
	assert_int_equal(sipstat_requests(true, inv), 1);
	assert_int_equal(sipstat_requests(false, other), 1);
	assert_int_equal(sipstat_requests(false, SIPSTAT_METHODS), 0);
	assert_int_equal(sipstat_responses(true, 404), 1);
	assert_int_equal(sipstat_responses(false, 404), 0);
	assert_int_equal(sipstat_responses(false, 180), 1);
	assert_int_equal(sipstat_responses(false, 99), 0);
	assert_int_equal(sipstat_responses(false, 700), 0);

	sipstat_reset();
	assert_int_equal(sipstat_requests(false, inv), 0);
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_count),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
