/**
 * @file test_mode_em.c  Early media: who gets it (the policy and the
 *                       profile's plain= setting)
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>
#include <re.h>
#include "sip/sip_int.h"
#include "tests/unit/sipmsg.h"

static const char sdp[] =
	"v=0\r\n"
	"o=- 1 1 IN IP4 127.0.0.1\r\n"
	"s=-\r\n"
	"c=IN IP4 127.0.0.1\r\n"
	"t=0 0\r\n"
	"m=audio 4000 RTP/AVP 0\r\n";


/* An INVITE with extra header lines, and the SDP offer when body. */
static struct sip_msg *invite(const char *hdrs, bool body)
{
	return sipmsg_invite(hdrs, body ? sdp : NULL);
}


struct fixture {
	struct table *t;
	struct subscriber *bob;
};


static int setup(void **state)
{
	static struct fixture f;

	memset(&f, 0, sizeof(f));
	if (table_alloc(&f.t) || tones_add_builtin(f.t) ||
	    table_subscriber_add(f.t, "bob", &f.bob) ||
	    media_attach_table(f.t))
		return -1;
	table_live_set(f.t);
	*state = &f;

	return 0;
}


static int teardown(void **state)
{
	struct fixture *f = *state;

	table_live_set(NULL);
	mem_deref(f->t);

	return 0;
}


static void test_auto_plain_caller(void **state)
{
	struct fixture *f = *state;
	struct cmr_choice c;
	struct sip_msg *msg;

	/* An offer and nothing asked for: early media, and why. */
	msg = invite("Supported: 100rel\r\nAllow: INVITE, UPDATE\r\n", true);
	policy_choose_bt(&c, f->bob, "alice", msg, true);
	assert_int_equal(MODE_EARLY, c.mode);
	assert_string_equal("ringback-default", c.resid);
	assert_non_null(strstr(c.why, "early-media"));
	assert_string_equal("early-media", cmr_mode_name(c.mode));

	/* Without the streamer there is nothing to play: HTTP mode. */
	policy_choose_bt(&c, f->bob, "alice", msg, false);
	assert_int_equal(MODE_HTTP, c.mode);
	assert_non_null(strstr(c.why, "no audio"));
	mem_deref(msg);

	/* No offer in the INVITE: nothing to answer, HTTP mode. */
	msg = invite("", false);
	policy_choose_bt(&c, f->bob, "alice", msg, true);
	assert_int_equal(MODE_HTTP, c.mode);
	assert_non_null(strstr(c.why, "no SDP offer"));
	mem_deref(msg);

	/* P-Early-Media without 100rel is no gateway mode: early media. */
	msg = invite("P-Early-Media: supported\r\n", true);
	policy_choose_bt(&c, f->bob, "alice", msg, true);
	assert_int_equal(MODE_EARLY, c.mode);
	assert_non_null(strstr(c.why, "100rel"));
	mem_deref(msg);

	/* The CMR modes keep their callers. */
	msg = invite("Supported: 100rel, early-session\r\n", true);
	policy_choose_bt(&c, f->bob, "alice", msg, true);
	assert_int_equal(MODE_AS, c.mode);
	mem_deref(msg);
	msg = invite("P-Early-Media: supported\r\nSupported: 100rel\r\n",
		     true);
	policy_choose_bt(&c, f->bob, "alice", msg, true);
	assert_int_equal(MODE_GATEWAY, c.mode);
	mem_deref(msg);
}


static void test_plain_setting(void **state)
{
	struct fixture *f = *state;
	struct cmr_choice c;
	struct sip_msg *msg = invite("", true);

	assert_int_equal(MODE_EARLY, table_plain(f->t));
	assert_int_equal(MODE_AUTO, subscriber_plain(f->bob));

	/* The profile's default ... */
	table_plain_set(f->t, MODE_HTTP);
	policy_choose_bt(&c, f->bob, "alice", msg, true);
	assert_int_equal(MODE_HTTP, c.mode);
	assert_non_null(strstr(c.why, "plain=http"));

	/* ... and the subscriber's own, which wins either way. */
	subscriber_plain_set(f->bob, MODE_EARLY);
	policy_choose_bt(&c, f->bob, "alice", msg, true);
	assert_int_equal(MODE_EARLY, c.mode);
	table_plain_set(f->t, MODE_EARLY);
	subscriber_plain_set(f->bob, MODE_HTTP);
	policy_choose_bt(&c, f->bob, "alice", msg, true);
	assert_int_equal(MODE_HTTP, c.mode);

	/* Only the two values are taken. */
	subscriber_plain_set(f->bob, MODE_GATEWAY);
	assert_int_equal(MODE_HTTP, subscriber_plain(f->bob));
	table_plain_set(f->t, MODE_AS);
	assert_int_equal(MODE_EARLY, table_plain(f->t));
	subscriber_plain_set(f->bob, MODE_AUTO);

	/* The CMRT side has no early media. */
	policy_choose_rt(&c, f->bob, "alice", true);
	assert_int_equal(MODE_HTTP, c.mode);
	mem_deref(msg);
}


static void test_pinned(void **state)
{
	struct fixture *f = *state;
	struct cmr_choice c;
	struct sip_msg *msg;

	subscriber_mode_set(f->bob, MODE_EARLY);

	/* Pinned, even a CMR Client in application server mode gets it. */
	msg = invite("Supported: 100rel, early-session\r\n", true);
	policy_choose_bt(&c, f->bob, "alice", msg, true);
	assert_int_equal(MODE_EARLY, c.mode);
	assert_string_equal("profile pins mode early-media", c.why);
	mem_deref(msg);

	/* Without an offer it cannot apply. */
	msg = invite("", false);
	policy_choose_bt(&c, f->bob, "alice", msg, true);
	assert_int_equal(MODE_HTTP, c.mode);
	assert_non_null(strstr(c.why, "no SDP offer"));
	policy_choose_rt(&c, f->bob, "alice", true);
	assert_int_equal(MODE_HTTP, c.mode);
	assert_non_null(strstr(c.why, "no CMRT procedure"));
	mem_deref(msg);

	/* A plain=http does not undo a pinned mode. */
	table_plain_set(f->t, MODE_HTTP);
	msg = invite("", true);
	policy_choose_bt(&c, f->bob, "alice", msg, true);
	assert_int_equal(MODE_EARLY, c.mode);
	mem_deref(msg);

	table_plain_set(f->t, MODE_EARLY);
	subscriber_mode_set(f->bob, MODE_AUTO);
}


/* ---- the profile ---------------------------------------------------------- */

static int parse(struct table *t, const char *text, char *err, size_t sz)
{
	return profile_parse(t, "em.profile", NULL, text, strlen(text), err,
			     sz);
}


static void test_profile_plain(void **state)
{
	static const struct {
		const char *text;
		const char *err;
	} bad[] = {
		{"subscriber bob plain=gateway\n", "em.profile:1: bad plain "
		 "'gateway' (expected early-media or http)"},
		{"subscriber bob plain=auto\n", "em.profile:1: bad plain "
		 "'auto' (expected early-media or http)"},
		{"subscriber bob plain=\n", "em.profile:1: empty value for "
		 "'plain'"},
		{"subscriber bob plain=http plain=http\n", "em.profile:1: "
		 "duplicate key 'plain'"},
		{"\ndefaults\n", "em.profile:2: defaults sets nothing (usage: "
		 "defaults plain=early-media|http)"},
		{"defaults plain=EARLY-MEDIA\n", "em.profile:1: bad plain "
		 "'EARLY-MEDIA' (expected early-media or http)"},
		{"defaults plain=http plain=http\n", "em.profile:1: duplicate"
		 " key 'plain'"},
		{"defaults ring=3\n", "em.profile:1: unknown key 'ring' for "
		 "defaults (usage: defaults plain=early-media|http)"},
		{"defaults http\n", "em.profile:1: unexpected word 'http' "
		 "(usage: defaults plain=early-media|http)"},
		{"defaults plain=\n", "em.profile:1: empty value for "
		 "'plain'"},
		{"subscriber bob mode=early\n", "em.profile:1: bad mode "
		 "'early' (expected auto, http, as, gateway, early-media or "
		 "off)"},
	};
	struct table *t = NULL;
	struct subscriber *s;
	char err[256];
	size_t i;
	(void)state;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		assert_int_equal(0, table_alloc(&t));
		err[0] = '\0';
		assert_int_equal(EINVAL, parse(t, bad[i].text, err,
					       sizeof(err)));
		if (strcmp(err, bad[i].err))
			print_error("case %zu: '%s'\n", i, err);
		assert_string_equal(bad[i].err, err);
		t = mem_deref(t);
	}

	/* Good lines, and the next parse after a bad one. */
	assert_int_equal(0, table_alloc(&t));
	assert_int_equal(0, parse(t, "subscriber bob plain=http\n"
				  "subscriber carol mode=early-media\n"
				  "subscriber dave\n"
				  "defaults plain=http\n"
				  "defaults plain=early-media # last wins\n",
				  err, sizeof(err)));
	assert_int_equal(MODE_EARLY, table_plain(t));
	s = table_subscriber(t, "bob");
	assert_int_equal(MODE_HTTP, subscriber_plain(s));
	assert_int_equal(MODE_AUTO, subscriber_mode(s));
	s = table_subscriber(t, "carol");
	assert_int_equal(MODE_EARLY, subscriber_mode(s));
	assert_int_equal(MODE_AUTO, subscriber_plain(s));
	s = table_subscriber(t, "dave");
	assert_int_equal(MODE_AUTO, subscriber_plain(s));

	/* A later line without plain= keeps it. */
	assert_int_equal(0, parse(t, "subscriber bob password=pw\n"
				  "defaults plain=http\n", err, sizeof(err)));
	assert_int_equal(MODE_HTTP,
			 subscriber_plain(table_subscriber(t, "bob")));
	assert_int_equal(MODE_HTTP, table_plain(t));
	mem_deref(t);
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_auto_plain_caller),
		cmocka_unit_test(test_plain_setting),
		cmocka_unit_test(test_pinned),
		cmocka_unit_test(test_profile_plain),
	};

	return cmocka_run_group_tests_name("sip/mode_em", tests, setup,
					   teardown);
}
