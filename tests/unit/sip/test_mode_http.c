/**
 * @file test_mode_http.c  HTTP mode: the URL, the Alert-Info header, and
 *                         the mode choice that leads to it
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>
#include <re.h>
#include "core/urlsign.h"
#include "sip/sip_int.h"
#include "tests/unit/sipmsg.h"


static void test_url(void **state)
{
	char buf[200], sig[URLSIGN_HEX + 1];
	const char *p;
	(void)state;

	/* A URL that names the call is signed with its expiry. */
	assert_int_equal(0, modehttp_url(buf, sizeof(buf),
					 "http://127.0.0.1:8080",
					 "ringback-default", "c7",
					 1800000000));
	p = "http://127.0.0.1:8080/r/ringback-default?call=c7"
		"&exp=1800000000&sig=";
	assert_int_equal(0, strncmp(buf, p, strlen(p)));
	assert_int_equal(0, urlsign_sign(sig, sizeof(sig), "ringback-default",
					 "c7", 1800000000));
	assert_string_equal(buf + strlen(p), sig);
	assert_int_equal(0, urlsign_verify("ringback-default", "c7",
					   "1800000000", buf + strlen(p),
					   1800000000 - 1));

	/* Without a call id there is no query. */
	assert_int_equal(0, modehttp_url(buf, sizeof(buf),
					 "http://[::1]:80", "a.b_c-d", NULL, 0));
	assert_string_equal("http://[::1]:80/r/a.b_c-d", buf);

	/* Anything outside the unreserved set is percent-encoded; the
	 * signature covers the values as they are, which is what the
	 * server reads back once it has decoded the URL. */
	assert_int_equal(0, modehttp_url(buf, sizeof(buf), "http://h:1",
					 "x y>", "c1&z", 5));
	p = "http://h:1/r/x%20y%3E?call=c1%26z&exp=5&sig=";
	assert_int_equal(0, strncmp(buf, p, strlen(p)));
	assert_int_equal(0, urlsign_verify("x y>", "c1&z", "5",
					   buf + strlen(p), 5));

	assert_int_equal(EINVAL, modehttp_url(buf, sizeof(buf), "http://h",
					      "", "c1", 5));
	assert_int_equal(EINVAL, modehttp_url(buf, sizeof(buf), NULL, "r",
					      "c1", 5));
	assert_int_equal(ENAMETOOLONG, modehttp_url(buf, 20, "http://h:1",
						    "ringback-default",
						    "c1", 5));
	/* The signature must fit too. */
	assert_int_equal(ENAMETOOLONG, modehttp_url(buf, 100, "http://h:1",
						    "ringback-default",
						    "c1", 5));
}


/* The header we insert must come back out of a SIP parser intact: the
 * angle brackets are mandatory (RFC 3261 section 20.4). */
static void test_alert_info_round_trip(void **state)
{
	const char *url = "http://127.0.0.1:8080/r/ringback-default?call=c3";
	const struct sip_hdr *h;
	struct sip_msg *msg;
	char *text = NULL;
	struct pl uri;
	(void)state;

	assert_int_equal(0, re_sdprintf(&text,
		"SIP/2.0 180 Ringing\r\n"
		"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\n"
		"From: <sip:alice@h>;tag=a\r\n"
		"To: <sip:bob@h>;tag=b\r\n"
		"Call-ID: x\r\n"
		"CSeq: 1 INVITE\r\n"
		"%H"
		"Content-Length: 0\r\n\r\n",
		modehttp_alertinfo_print, url));

	msg = sipmsg_decode(text);
	h = sip_msg_hdr(msg, SIP_HDR_ALERT_INFO);
	assert_non_null(h);
	assert_int_equal(0, re_regex(h->val.p, h->val.l, "<[^>]+>", &uri));
	assert_int_equal(0, pl_strcmp(&uri, url));
	assert_int_equal(1, sip_msg_hdr_count(msg, SIP_HDR_ALERT_INFO));

	mem_deref(msg);
	mem_deref(text);

	/* No URL, no header. */
	assert_int_equal(0, re_sdprintf(&text, "%H", modehttp_alertinfo_print,
					 NULL));
	assert_string_equal("", text);
	mem_deref(text);
}


static struct sip_msg *invite(const char *hdrs)
{
	return sipmsg_invite(hdrs, NULL);
}


static void test_policy_choice(void **state)
{
	struct table *t = NULL;
	struct subscriber *bob = NULL;
	struct cmr_choice c;
	struct sip_msg *msg;
	(void)state;

	assert_int_equal(0, table_alloc(&t));
	assert_int_equal(0, tones_add_builtin(t));
	assert_int_equal(0, table_subscriber_add(t, "bob", &bob));
	assert_int_equal(0, table_resource_add(t, "jazz", "audio/mpeg",
					       (const uint8_t *)"x", 1));
	assert_int_equal(0, subscriber_rule_add(bob, "carol", DIR_BT,
						"jazz"));
	table_live_set(t);

	msg = invite("");
	policy_choose_bt(&c, bob, "alice", msg, false);
	assert_int_equal(MODE_HTTP, c.mode);
	assert_string_equal("ringback-default", c.resid);
	assert_non_null(strstr(c.why, "neither"));

	/* Per calling party assignment. */
	policy_choose_bt(&c, bob, "carol", msg, false);
	assert_string_equal("jazz", c.resid);

	policy_choose_rt(&c, bob, "alice", false);
	assert_int_equal(MODE_HTTP, c.mode);
	assert_string_equal("ringtone-default", c.resid);
	mem_deref(msg);

	/* Without the streamer, auto says why it fell back. */
	msg = invite("Supported: 100rel, early-session\r\n");
	policy_choose_bt(&c, bob, "alice", msg, false);
	assert_int_equal(MODE_HTTP, c.mode);
	assert_non_null(strstr(c.why, "early-session"));

	/* With the streamer and audio, the same INVITE gets application
	 * server mode, and CMRT may follow it. */
	assert_int_equal(0, media_attach_table(t));
	policy_choose_bt(&c, bob, "alice", msg, true);
	assert_int_equal(MODE_AS, c.mode);
	assert_string_equal("ringback-default", c.resid);
	policy_choose_rt(&c, bob, "alice", true);
	assert_int_equal(MODE_HTTP, c.mode);
	assert_true(c.as_possible);
	/* Per calling party, a resource without audio: back to HTTP. */
	policy_choose_bt(&c, bob, "carol", msg, true);
	assert_int_equal(MODE_HTTP, c.mode);
	assert_string_equal("jazz", c.resid);
	assert_non_null(strstr(c.why, "no audio"));
	mem_deref(msg);

	/* Only one of the two tags: not application server mode. */
	msg = invite("Supported: early-session\r\n");
	policy_choose_bt(&c, bob, "alice", msg, true);
	assert_int_equal(MODE_HTTP, c.mode);
	mem_deref(msg);

	/* Gateway mode needs P-Early-Media: supported and 100rel. */
	msg = invite("P-Early-Media: supported\r\nSupported: 100rel\r\n");
	policy_choose_bt(&c, bob, "alice", msg, true);
	assert_int_equal(MODE_GATEWAY, c.mode);
	policy_choose_bt(&c, bob, "alice", msg, false);
	assert_int_equal(MODE_HTTP, c.mode);
	assert_non_null(strstr(c.why, "no audio"));
	mem_deref(msg);

	msg = invite("P-Early-Media: supported\r\n");
	policy_choose_bt(&c, bob, "alice", msg, true);
	assert_int_equal(MODE_HTTP, c.mode);
	assert_non_null(strstr(c.why, "100rel"));
	policy_choose_bt(&c, bob, "alice", msg, false);
	assert_int_equal(MODE_HTTP, c.mode);
	assert_non_null(strstr(c.why, "P-Early-Media"));

	/* A pinned off means no CMR at all. */
	subscriber_mode_set(bob, MODE_OFF);
	policy_choose_bt(&c, bob, "alice", msg, false);
	assert_int_equal(MODE_OFF, c.mode);
	assert_null(c.resid);
	policy_choose_rt(&c, bob, "alice", false);
	assert_int_equal(MODE_OFF, c.mode);

	/* An assignment to a resource that vanished turns CMR off. */
	subscriber_mode_set(bob, MODE_HTTP);
	assert_int_equal(0, subscriber_cmr_set(bob, DIR_BT, "gone"));
	policy_choose_bt(&c, bob, "alice", msg, false);
	assert_int_equal(MODE_OFF, c.mode);
	mem_deref(msg);

	table_live_set(NULL);
	mem_deref(t);
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_url),
		cmocka_unit_test(test_alert_info_round_trip),
		cmocka_unit_test(test_policy_choice),
	};

	return cmocka_run_group_tests_name("sip/mode_http", tests, NULL,
					   NULL);
}
