/**
 * @file test_urlsign.c  Signed resource URLs: what verifies, and what not
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>
#include <time.h>
#include <re.h>
#include "core/urlsign.h"

enum { EXP = 1800000000 };
static const char exp_s[] = "1800000000";


static void sign(char sig[URLSIGN_HEX + 1], const char *id,
		 const char *call, uint64_t exp)
{
	assert_int_equal(urlsign_sign(sig, URLSIGN_HEX + 1, id, call, exp),
			 0);
	assert_int_equal(strlen(sig), URLSIGN_HEX);
	assert_int_equal(strspn(sig, "0123456789abcdef"), URLSIGN_HEX);
}


static void test_good(void **state)
{
	char sig[URLSIGN_HEX + 1], again[URLSIGN_HEX + 1];
	(void)state;

	sign(sig, "ringback-default", "c1", EXP);
	assert_int_equal(urlsign_verify("ringback-default", "c1", exp_s, sig,
					EXP - 10), 0);
	/* Valid up to and including the second it names. */
	assert_int_equal(urlsign_verify("ringback-default", "c1", exp_s, sig,
					EXP), 0);

	/* One key per process: the same triple, the same signature. */
	sign(again, "ringback-default", "c1", EXP);
	assert_string_equal(sig, again);
}


static void test_altered(void **state)
{
	char sig[URLSIGN_HEX + 1], other[URLSIGN_HEX + 1];
	(void)state;

	sign(sig, "t1", "c1", EXP);

	assert_int_equal(urlsign_verify("t2", "c1", exp_s, sig, EXP - 1),
			 EACCES);
	assert_int_equal(urlsign_verify("t1", "c2", exp_s, sig, EXP - 1),
			 EACCES);
	assert_int_equal(urlsign_verify("t1", "c1", "1800000001", sig,
					EXP - 1), EACCES);
	/* The same number written otherwise is an edit too. */
	assert_int_equal(urlsign_verify("t1", "c1", "01800000000", sig,
					EXP - 1), EACCES);

	/* Every hex digit of the signature counts. */
	for (size_t i = 0; i < URLSIGN_HEX; i++) {
		memcpy(other, sig, sizeof(other));
		other[i] = other[i] == 'f' ? '0' : 'f';
		assert_int_equal(urlsign_verify("t1", "c1", exp_s, other,
						EXP - 1), EACCES);
	}

	/* Fields are separated: moving a character from one to the next
	 * does not keep the signature. */
	sign(other, "t1c", "1", EXP);
	assert_string_not_equal(sig, other);
	assert_int_equal(urlsign_verify("t1c", "1", exp_s, sig, EXP - 1),
			 EACCES);
}


static void test_expired(void **state)
{
	char sig[URLSIGN_HEX + 1];
	(void)state;

	sign(sig, "t1", "c1", EXP);
	assert_int_equal(urlsign_verify("t1", "c1", exp_s, sig, EXP + 1),
			 ETIMEDOUT);

	/* An altered URL is refused as altered, whenever it comes. */
	assert_int_equal(urlsign_verify("t1", "c2", exp_s, sig, EXP + 1),
			 EACCES);
}


static void test_malformed(void **state)
{
	char sig[URLSIGN_HEX + 1], bad[URLSIGN_HEX + 2];
	(void)state;

	sign(sig, "t1", "c1", EXP);

	/* Not hex; uppercase is not how the signature is written. */
	memcpy(bad, sig, sizeof(sig));
	bad[7] = 'g';
	assert_int_equal(urlsign_verify("t1", "c1", exp_s, bad, EXP - 1),
			 EACCES);
	memcpy(bad, sig, sizeof(sig));
	for (size_t i = 0; bad[i]; i++) {
		if (bad[i] >= 'a')
			bad[i] = (char)(bad[i] - 'a' + 'A');
	}
	if (strcmp(bad, sig))
		assert_int_equal(urlsign_verify("t1", "c1", exp_s, bad,
						EXP - 1), EACCES);

	/* Truncated, and one digit too many. */
	memcpy(bad, sig, sizeof(sig));
	bad[URLSIGN_HEX - 1] = '\0';
	assert_int_equal(urlsign_verify("t1", "c1", exp_s, bad, EXP - 1),
			 EACCES);
	memcpy(bad, sig, sizeof(sig));
	bad[URLSIGN_HEX] = '0';
	bad[URLSIGN_HEX + 1] = '\0';
	assert_int_equal(urlsign_verify("t1", "c1", exp_s, bad, EXP - 1),
			 EACCES);

	/* Empty or missing fields. */
	assert_int_equal(urlsign_verify("t1", "c1", exp_s, "", EXP - 1),
			 EACCES);
	assert_int_equal(urlsign_verify("t1", "c1", "", sig, EXP - 1),
			 EACCES);
	assert_int_equal(urlsign_verify("", "c1", exp_s, sig, EXP - 1),
			 EACCES);
	assert_int_equal(urlsign_verify("t1", "", exp_s, sig, EXP - 1),
			 EACCES);
	assert_int_equal(urlsign_verify("t1", NULL, exp_s, sig, EXP - 1),
			 EACCES);
	assert_int_equal(urlsign_verify("t1", "c1", NULL, sig, EXP - 1),
			 EACCES);
	assert_int_equal(urlsign_verify("t1", "c1", exp_s, NULL, EXP - 1),
			 EACCES);
	assert_int_equal(urlsign_verify(NULL, "c1", exp_s, sig, EXP - 1),
			 EACCES);

	/* exp: digits only, and no more than fit in 64 bits. */
	assert_int_equal(urlsign_verify("t1", "c1", "-1", sig, 0), EACCES);
	assert_int_equal(urlsign_verify("t1", "c1", "+1800000000", sig, 0),
			 EACCES);
	assert_int_equal(urlsign_verify("t1", "c1", "1800000000 ", sig, 0),
			 EACCES);
	assert_int_equal(urlsign_verify("t1", "c1", "99999999999999999999",
					sig, 0), EACCES);

	/* Signing: an id is needed, and room for the digits and the NUL. */
	assert_int_equal(urlsign_sign(sig, sizeof(sig), "", "c1", EXP),
			 EINVAL);
	assert_int_equal(urlsign_sign(sig, sizeof(sig), NULL, "c1", EXP),
			 EINVAL);
	assert_int_equal(urlsign_sign(sig, sizeof(sig), "t1", NULL, EXP),
			 EINVAL);
	assert_int_equal(urlsign_sign(sig, URLSIGN_HEX, "t1", "c1", EXP),
			 EINVAL);
}


static void test_ttl(void **state)
{
	uint64_t now;
	(void)state;

	now = (uint64_t)time(NULL);
	urlsign_ttl_set(0);
	assert_in_range(urlsign_expiry(0), now + URLSIGN_TTL_DEF,
			now + URLSIGN_TTL_DEF + 2);
	/* A long ring limit keeps the URL valid while the call rings. */
	assert_in_range(urlsign_expiry(1000), now + 1000 + URLSIGN_MARGIN,
			now + 1000 + URLSIGN_MARGIN + 2);

	urlsign_ttl_set(5);
	assert_in_range(urlsign_expiry(1000), now + 5, now + 5 + 2);
	urlsign_ttl_set(0);
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_altered),
		cmocka_unit_test(test_expired),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_ttl),
	};
	int r;

	if (libre_init())
		return 1;
	r = cmocka_run_group_tests_name("core/urlsign", tests, NULL, NULL);
	libre_close();

	return r;
}
