/**
 * @file test_cmrc_sdp.c  The CMR Client's SDP and what it reads from
 *                        messages: offers, answers, Alert-Info URLs,
 *                        P-Early-Media
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>
#include <re.h>
#include "sip/cmrc_int.h"
#include "tests/unit/sipmsg.h"


static bool has(const struct mbuf *mb, const char *s)
{
	struct pl pl = { (const char *)mb->buf, mb->end };
	size_t n = strlen(s);

	for (size_t i = 0; i + n <= pl.l; i++)
		if (!memcmp(pl.p + i, s, n))
			return true;

	return false;
}


static void test_offer(void **state)
{
	struct mbuf *mb = NULL;
	struct sa a;
	(void)state;

	assert_int_equal(0, sa_set_str(&a, "127.0.0.1", 40002));
	assert_int_equal(0, cmrc_sdp_offer(&mb, &a, 7, 3));
	assert_true(has(mb, "o=cmrlab 7 3 IN IP4 127.0.0.1\r\n"));
	assert_true(has(mb, "c=IN IP4 127.0.0.1\r\n"));
	assert_true(has(mb, "m=audio 40002 RTP/AVP 0 8\r\n"));
	assert_true(has(mb, "a=sendrecv\r\n"));
	mem_deref(mb);

	assert_int_equal(0, sa_set_str(&a, "::1", 40004));
	assert_int_equal(0, cmrc_sdp_offer(&mb, &a, 7, 4));
	assert_true(has(mb, "c=IN IP6 ::1\r\n"));
	mem_deref(mb);

	assert_int_equal(EINVAL, cmrc_sdp_offer(NULL, &a, 1, 1));
}


static void answer_of(const char *offer, int want_pt, const char *dir)
{
	struct pl pl;
	struct mbuf *mb = NULL;
	struct sa a;
	char line[64];
	int pt = -1;

	pl_set_str(&pl, offer);
	assert_int_equal(0, sa_set_str(&a, "127.0.0.1", 40010));
	assert_int_equal(0, cmrc_sdp_answer(&mb, &pl, &a, 9, 2, &pt));
	assert_int_equal(want_pt, pt);
	(void)re_snprintf(line, sizeof(line), "m=audio 40010 RTP/AVP %d\r\n",
			  want_pt);
	assert_true(has(mb, line));
	(void)re_snprintf(line, sizeof(line), "a=%s\r\n", dir);
	assert_true(has(mb, line));
	mem_deref(mb);
}


static void test_answer(void **state)
{
	(void)state;

	/* The first G.711 codec the offer lists; the direction mirrored. */
	answer_of("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\n"
		  "c=IN IP4 127.0.0.1\r\nt=0 0\r\n"
		  "m=audio 5000 RTP/AVP 8 0\r\na=sendonly\r\n", 8, "recvonly");
	answer_of("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\n"
		  "c=IN IP4 127.0.0.1\r\nt=0 0\r\n"
		  "m=audio 5000 RTP/AVP 18 0\r\n", 0, "sendrecv");
	answer_of("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\n"
		  "c=IN IP4 127.0.0.1\r\nt=0 0\r\n"
		  "m=audio 5000 RTP/AVP 0\r\na=recvonly\r\n", 0, "sendonly");
	/* No line end after the last line. */
	answer_of("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\n"
		  "c=IN IP4 127.0.0.1\r\nt=0 0\r\n"
		  "m=audio 5000 RTP/AVP 0", 0, "sendrecv");
}


static void test_answer_bad(void **state)
{
	static const char *bad[] = {
		/* no G.711 */
		"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\n"
		"c=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 5000 RTP/AVP 18\r\n",
		/* not SDP */
		"hello",
		"",
	};
	struct mbuf *mb = NULL;
	struct sa a;
	struct pl pl;
	(void)state;

	assert_int_equal(0, sa_set_str(&a, "127.0.0.1", 40010));
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		pl_set_str(&pl, bad[i]);
		assert_int_not_equal(0, cmrc_sdp_answer(&mb, &pl, &a, 1, 1,
							NULL));
		assert_null(mb);
	}
}


static void test_alertinfo(void **state)
{
	static const char fmt[] =
		"SIP/2.0 180 Ringing\r\n"
		"Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK1\r\n"
		"From: <sip:a@h>;tag=1\r\n"
		"To: <sip:b@h>;tag=2\r\n"
		"Call-ID: x\r\n"
		"CSeq: 1 INVITE\r\n"
		"%s"
		"Content-Length: 0\r\n\r\n";
	struct sip_msg *msg;
	struct mbuf *mb;
	uint8_t *nul;
	char url[64];
	(void)state;

	msg = sipmsg_decodef(fmt, "Alert-Info: <http://127.0.0.1:8080/r/"
			     "x?e=1>\r\nP-Early-Media: sendrecv\r\n");
	assert_true(cmrc_alertinfo_url(msg, url, sizeof(url)));
	assert_string_equal("http://127.0.0.1:8080/r/x?e=1", url);
	assert_true(cmrc_has_pem_sendrecv(msg));
	/* Too long for the buffer: no URL rather than a cut one. */
	assert_false(cmrc_alertinfo_url(msg, url, 10));
	mem_deref(msg);

	msg = sipmsg_decodef(fmt, "Alert-Info: http://no-brackets\r\n"
			     "P-Early-Media: gated\r\n");
	assert_false(cmrc_alertinfo_url(msg, url, sizeof(url)));
	assert_false(cmrc_has_pem_sendrecv(msg));
	mem_deref(msg);

	msg = sipmsg_decodef(fmt, "");
	assert_false(cmrc_alertinfo_url(msg, url, sizeof(url)));
	mem_deref(msg);

	/* A NUL byte in the URL: no URL rather than the part before it. */
	mb = mbuf_alloc(512);
	assert_non_null(mb);
	assert_int_equal(0, mbuf_printf(mb, fmt, "Alert-Info: <http://"
					"127.0.0.1:8080/r/a~~b>\r\n"));
	nul = memchr(mb->buf, '~', mb->end);
	assert_non_null(nul);
	nul[0] = nul[1] = '\0';
	msg = sipmsg_decode_mb(mb);
	assert_false(cmrc_alertinfo_url(msg, url, sizeof(url)));
	mem_deref(msg);
	mem_deref(mb);
}


static void test_mode_names(void **state)
{
	enum cmrc_mode m;
	(void)state;

	assert_int_equal(0, cmrc_mode_parse(&m, "as"));
	assert_int_equal(CMRC_AS, m);
	assert_string_equal("gateway", cmrc_mode_name(CMRC_GATEWAY));
	assert_int_equal(0, cmrc_mode_parse(&m, "plain"));
	assert_int_equal(EINVAL, cmrc_mode_parse(&m, "early-media"));
	assert_int_equal(EINVAL, cmrc_mode_parse(&m, "AS"));
	assert_int_equal(EINVAL, cmrc_mode_parse(&m, ""));
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_offer),
		cmocka_unit_test(test_answer),
		cmocka_unit_test(test_answer_bad),
		cmocka_unit_test(test_alertinfo),
		cmocka_unit_test(test_mode_names),
	};

	return cmocka_run_group_tests_name("sip/cmrc_sdp", tests, NULL, NULL);
}
