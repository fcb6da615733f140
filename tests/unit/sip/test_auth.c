/**
 * @file test_auth.c  Digest authentication: good, wrong, stale, forged and
 *                    malformed credentials
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>
#include <time.h>
#include <re.h>
#include "sip/sip_int.h"
#include "tests/unit/sipmsg.h"


/* What a client computes (RFC 2617 3.2.2 with qop=auth), as hex. */
static void client_response(char out[33], const char *user,
			    const char *pass, const char *met,
			    const char *uri, const char *nonce)
{
	uint8_t ha1[16], ha2[16], r[16];

	assert_int_equal(0, md5_printf(ha1, "%s:cmrlab:%s", user, pass));
	assert_int_equal(0, md5_printf(ha2, "%s:%s", met, uri));
	assert_int_equal(0, md5_printf(r, "%w:%s:00000001:abc:auth:%w",
				       ha1, sizeof(ha1), nonce,
				       ha2, sizeof(ha2)));
	re_snprintf(out, 33, "%w", r, sizeof(r));
}


static struct sip_msg *reg_with(const char *hname, const char *user,
				const char *nonce, const char *resp)
{
	char *text = NULL;
	struct sip_msg *msg;

	assert_int_equal(0, re_sdprintf(&text,
		"REGISTER sip:cmrlab SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\n"
		"From: <sip:%s@cmrlab>;tag=a\r\n"
		"To: <sip:%s@cmrlab>\r\n"
		"Call-ID: x\r\n"
		"CSeq: 2 REGISTER\r\n"
		"%s: Digest username=\"%s\", realm=\"cmrlab\", "
		"nonce=\"%s\", uri=\"sip:cmrlab\", response=\"%s\", "
		"algorithm=MD5, qop=auth, nc=00000001, cnonce=\"abc\"\r\n"
		"Content-Length: 0\r\n\r\n",
		user, user, hname, user, nonce, resp));
	msg = sipmsg_decode(text);
	mem_deref(text);

	return msg;
}


static int check(struct sip_msg *msg, const char *pass, bool proxy,
		 bool *stale)
{
	int err = sipauth_check(msg, "dave", pass, proxy, stale);

	mem_deref(msg);
	return err;
}


static void test_digest(void **state)
{
	char nonce[48], old[48], resp[33];
	uint32_t now = (uint32_t)time(NULL);
	bool stale;
	(void)state;

	assert_int_equal(0, sipauth_nonce(nonce, sizeof(nonce), now));
	assert_int_equal(40, strlen(nonce));

	client_response(resp, "dave", "s3cret", "REGISTER", "sip:cmrlab",
			nonce);

	/* Good credentials. */
	assert_int_equal(0, check(reg_with("Authorization", "dave", nonce,
					   resp), "s3cret", false, &stale));
	/* The INVITE path reads Proxy-Authorization, not Authorization. */
	assert_int_equal(EAUTH, check(reg_with("Authorization", "dave",
					       nonce, resp), "s3cret", true,
				      &stale));
	assert_int_equal(0, check(reg_with("Proxy-Authorization", "dave",
					   nonce, resp), "s3cret", true,
				  &stale));
	/* Wrong password. */
	assert_int_equal(EAUTH, check(reg_with("Authorization", "dave",
					       nonce, resp), "other", false,
				      &stale));
	assert_false(stale);
	/* Another user's name. */
	assert_int_equal(EAUTH, check(reg_with("Authorization", "bob",
					       nonce, resp), "s3cret", false,
				      &stale));

	/* A nonce we issued long ago: stale, so the client may retry. */
	assert_int_equal(0, sipauth_nonce(old, sizeof(old), now - 400));
	client_response(resp, "dave", "s3cret", "REGISTER", "sip:cmrlab",
			old);
	assert_int_equal(EAUTH, check(reg_with("Authorization", "dave", old,
					       resp), "s3cret", false,
				      &stale));
	assert_true(stale);

	/* A nonce we never issued. */
	memcpy(old, nonce, sizeof(old));
	old[20] = old[20] == 'a' ? 'b' : 'a';
	client_response(resp, "dave", "s3cret", "REGISTER", "sip:cmrlab",
			old);
	assert_int_equal(EAUTH, check(reg_with("Authorization", "dave", old,
					       resp), "s3cret", false,
				      &stale));
	assert_false(stale);

	/* Malformed values fail cleanly. */
	assert_int_equal(EAUTH, check(reg_with("Authorization", "dave",
					       "short", "zz"), "s3cret",
				      false, &stale));
	assert_int_equal(EAUTH, check(sipmsg_decode(
		"REGISTER sip:cmrlab SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\n"
		"From: <sip:dave@cmrlab>;tag=a\r\nTo: <sip:dave@cmrlab>\r\n"
		"Call-ID: x\r\nCSeq: 2 REGISTER\r\n"
		"Authorization: Digest garbage,,,=\"\r\n"
		"Content-Length: 0\r\n\r\n"), "s3cret", false, &stale));
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_digest),
	};

	return cmocka_run_group_tests_name("sip/auth", tests, NULL, NULL);
}
