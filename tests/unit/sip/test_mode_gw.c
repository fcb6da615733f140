/**
 * @file test_mode_gw.c  Gateway mode's SDP: the answer to the caller's
 *                       offer, the re-offer of the callee's SDP, and the
 *                       offers it must refuse
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>
#include <re.h>
#include "sip/sip_int.h"
#include "tests/unit/leakcheck.h"

static struct streamer *st;


static int setup(void **state)
{
	struct sa ip;
	(void)state;

	if (libre_init() || loop_init())
		return -1;
	sa_set_str(&ip, "127.0.0.1", 0);

	if (streamer_alloc(&st, &ip, 31000, 31999))
		return -1;

	return 0;
}


/* The first use makes one-time allocations (libre's SDP tables, the
 * streamer's first socket); the leak checks count from after it. */
static char *answer_for(const char *offer, int *errp);

static int warm_up(void **state)
{
	int err;
	char *a;
	(void)state;

	a = answer_for("v=0\r\no=a 1 1 IN IP4 127.0.0.1\r\ns=-\r\n"
		       "c=IN IP4 127.0.0.1\r\nt=0 0\r\n"
		       "m=audio 40000 RTP/AVP 0\r\n", &err);
	mem_deref(a);

	return err;
}


static int teardown(void **state)
{
	(void)state;

	st = mem_deref(st);
	loop_close();
	libre_close();

	return 0;
}


static struct pl plz(const char *s)
{
	struct pl pl;

	pl_set_str(&pl, s);
	return pl;
}


#define OFFER(m, extra) \
	"v=0\r\no=alice 42 1 IN IP4 127.0.0.1\r\ns=-\r\n" \
	"c=IN IP4 127.0.0.1\r\nt=0 0\r\n" m extra

/* The answer as text, and the gateway object's stream port. */
static char *answer_for(const char *offer, int *errp)
{
	struct gwmedia *g = NULL;
	struct mbuf *mb = NULL;
	struct pl o = plz(offer);
	char *text = NULL;
	int err;

	err = modegw_alloc(&g, st, &o);
	if (!err)
		err = modegw_answer(g, &mb);
	if (!err)
		err = mbuf_strdup(mb, &text, mbuf_get_left(mb));

	mem_deref(mb);
	mem_deref(g);
	*errp = err;

	return text;
}


static void test_answer_picks_first_offered_codec(void **state)
{
	long mark = leakcheck_mark();
	char *a;
	int err;
	(void)state;

	/* PCMA offered first: the answer names PCMA only, at our address
	 * and an even port of the streamer's range, sendonly. */
	a = answer_for(OFFER("m=audio 40000 RTP/AVP 8 0\r\n", ""), &err);
	assert_int_equal(0, err);
	assert_non_null(strstr(a, "c=IN IP4 127.0.0.1\r\n"));
	assert_non_null(strstr(a, " RTP/AVP 8\r\n"));
	assert_null(strstr(a, "PCMU"));
	assert_non_null(strstr(a, "a=sendonly"));
	assert_non_null(strstr(a, "m=audio 31"));
	mem_deref(a);

	/* Other codecs around PCMU: PCMU, and only it. */
	a = answer_for(OFFER("m=audio 40000 RTP/AVP 18 0 8 101\r\n",
			     "a=rtpmap:18 G729/8000\r\n"
			     "a=rtpmap:101 telephone-event/8000\r\n"), &err);
	assert_int_equal(0, err);
	assert_non_null(strstr(a, " RTP/AVP 0\r\n"));
	assert_null(strstr(a, "G729"));
	mem_deref(a);

	leakcheck_assert(mark);
}


/* Offers gateway mode cannot serve: no SDP answer, never a broken one. */
static void test_offers_refused(void **state)
{
	static const char *bad[] = {
		OFFER("m=audio 40000 RTP/AVP 18\r\n",
		      "a=rtpmap:18 G729/8000\r\n"),
		OFFER("m=audio 0 RTP/AVP 0\r\n", ""),
		OFFER("m=audio 40000 RTP/AVP 0\r\n", "a=sendonly\r\n"),
		OFFER("m=audio 40000 RTP/AVP 0\r\n", "a=inactive\r\n"),
		OFFER("m=video 40000 RTP/AVP 96\r\n", ""),
		"v=0\r\nthis is not SDP\r\n",
		"",
	};
	long mark = leakcheck_mark();
	(void)state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int err;
		char *a = answer_for(bad[i], &err);

		if (!err)
			fail_msg("offer %zu got an answer: %s", i, a);
		mem_deref(a);
	}

	leakcheck_assert(mark);
}


/* RFC 3264 section 8: the callee's SDP goes out under our origin, the
 * version one higher each time; the rest is the callee's, unchanged. */
static void test_reoffer_keeps_origin(void **state)
{
	static const char callee[] =
		"v=0\r\no=bob 7 7 IN IP4 10.0.0.9\r\ns=call\r\n"
		"c=IN IP4 127.0.0.1\r\nt=0 0\r\n"
		"m=audio 17094 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\n";
	struct pl o = plz(OFFER("m=audio 40000 RTP/AVP 0 8\r\n", ""));
	struct pl c = plz(callee);
	struct gwmedia *g = NULL;
	struct mbuf *ans = NULL, *re1 = NULL, *re2 = NULL;
	char user[32], id[32], want[128], *t1 = NULL, *t2 = NULL;
	unsigned long long ver;
	long mark = leakcheck_mark();
	const char *op;
	(void)state;

	assert_int_equal(0, modegw_alloc(&g, st, &o));
	/* No re-offer before our answer fixed the origin. */
	assert_int_equal(EINVAL, modegw_reoffer(g, &c, &re1));
	assert_int_equal(0, modegw_answer(g, &ans));

	op = strstr((const char *)ans->buf, "o=");
	assert_non_null(op);
	assert_int_equal(3, sscanf(op, "o=%31s %31s %llu", user, id, &ver));

	assert_int_equal(0, modegw_reoffer(g, &c, &re1));
	assert_int_equal(0, modegw_reoffer(g, &c, &re2));
	assert_int_equal(0, mbuf_strdup(re1, &t1, mbuf_get_left(re1)));
	assert_int_equal(0, mbuf_strdup(re2, &t2, mbuf_get_left(re2)));

	re_snprintf(want, sizeof(want), "v=0\r\no=%s %s %llu IN IP4 127.0.0.1"
		    "\r\ns=call\r\n", user, id, ver + 1);
	assert_memory_equal(want, t1, strlen(want));
	re_snprintf(want, sizeof(want), "o=%s %s %llu ", user, id, ver + 2);
	assert_non_null(strstr(t2, want));
	/* Everything after the origin is the callee's. */
	assert_string_equal(strstr(callee, "\r\ns=call"),
			    strstr(t1, "\r\ns=call"));

	/* A callee SDP without an origin is refused, not patched. */
	c = plz("v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio 1 RTP/AVP 0\r\n");
	mem_deref(re1);
	re1 = NULL;
	assert_int_equal(EBADMSG, modegw_reoffer(g, &c, &re1));

	mem_deref(t1);
	mem_deref(t2);
	mem_deref(re1);
	mem_deref(re2);
	mem_deref(ans);
	mem_deref(g);
	leakcheck_assert(mark);
}


/* The next re-offer follows the SDP the caller got last, when that has
 * our origin: one made and never sent takes no version number; another
 * party's SDP changes nothing. */
static void test_version_from_last_sent(void **state)
{
	static const char callee[] =
		"v=0\r\no=bob 7 7 IN IP4 10.0.0.9\r\ns=-\r\n"
		"c=IN IP4 127.0.0.1\r\nt=0 0\r\n"
		"m=audio 17094 RTP/AVP 8\r\n";
	struct pl o = plz(OFFER("m=audio 40000 RTP/AVP 0\r\n", ""));
	struct pl c = plz(callee), last;
	struct gwmedia *g = NULL;
	struct mbuf *ans = NULL, *re1 = NULL, *re2 = NULL, *re3 = NULL;
	char user[32], id[32], want[96], *t2 = NULL, *t3 = NULL;
	unsigned long long ver;
	long mark = leakcheck_mark();
	(void)state;

	assert_int_equal(0, modegw_alloc(&g, st, &o));
	assert_int_equal(0, modegw_answer(g, &ans));
	assert_int_equal(3, sscanf(strstr((const char *)ans->buf, "o="),
				   "o=%31s %31s %llu", user, id, &ver));

	/* re1 never went: the answer is still the caller's last SDP. */
	assert_int_equal(0, modegw_reoffer(g, &c, &re1));
	pl_set_mbuf(&last, ans);
	modegw_version_from(g, &last);
	assert_int_equal(0, modegw_reoffer(g, &c, &re2));
	assert_int_equal(0, mbuf_strdup(re2, &t2, mbuf_get_left(re2)));
	re_snprintf(want, sizeof(want), "o=%s %s %llu ", user, id, ver + 1);
	assert_non_null(strstr(t2, want));

	/* Another origin (the caller's own, the callee's) is not ours. */
	modegw_version_from(g, &c);
	last = pl_null;
	modegw_version_from(g, &last);
	modegw_version_from(g, NULL);
	assert_int_equal(0, modegw_reoffer(g, &c, &re3));
	assert_int_equal(0, mbuf_strdup(re3, &t3, mbuf_get_left(re3)));
	re_snprintf(want, sizeof(want), "o=%s %s %llu ", user, id, ver + 2);
	assert_non_null(strstr(t3, want));

	mem_deref(t2);
	mem_deref(t3);
	mem_deref(re1);
	mem_deref(re2);
	mem_deref(re3);
	mem_deref(ans);
	mem_deref(g);
	leakcheck_assert(mark);
}


/* The origin line ends where libre's SDP decoder ends it, at a CR or a
 * LF: the re-offer replaces that line's text and keeps every byte after
 * it, whatever the line end.  (A CR alone used to be read as part of the
 * line, so the line after it was lost from the re-offer.) */
static void test_reoffer_line_ends(void **state)
{
	static const char *const tails[] = {
		"\r\ns=call\r\nc=IN IP4 127.0.0.1\r\n"
		"m=audio 17094 RTP/AVP 8\r\n",
		"\ns=call\nc=IN IP4 127.0.0.1\nm=audio 17094 RTP/AVP 8\n",
		"\rs=call\rc=IN IP4 127.0.0.1\rm=audio 17094 RTP/AVP 8\r",
		"\r\x9f\ns=call\r\n",
		"",
	};
	struct pl o = plz(OFFER("m=audio 40000 RTP/AVP 0\r\n", ""));
	struct gwmedia *g = NULL;
	struct mbuf *ans = NULL;
	long mark = leakcheck_mark();
	(void)state;

	assert_int_equal(0, modegw_alloc(&g, st, &o));
	assert_int_equal(0, modegw_answer(g, &ans));

	for (size_t i = 0; i < ARRAY_SIZE(tails); i++) {
		struct mbuf *re = NULL;
		char callee[160], *t = NULL;
		struct pl c, r;
		struct sa ca, ra;
		int cpt, rpt;
		size_t n;

		re_snprintf(callee, sizeof(callee),
			    "v=0\r\no=bob 7 7 IN IP4 10.0.0.9%s", tails[i]);
		c = plz(callee);
		assert_int_equal(0, modegw_reoffer(g, &c, &re));
		assert_int_equal(0, mbuf_strdup(re, &t, mbuf_get_left(re)));

		/* Our origin, one line, in place of the callee's ... */
		assert_memory_equal("v=0\r\no=", t, 7);
		assert_non_null(strstr(t, " IN IP4 127.0.0.1"));
		assert_null(strstr(t, "bob"));

		/* ... and every byte after it the callee's. */
		n = strlen(t);
		assert_true(n >= 5 + strlen(tails[i]));
		assert_string_equal(tails[i], t + n - strlen(tails[i]));
		assert_int_equal(n - strlen(tails[i]) - 5,
				 strcspn(t + 5, "\r\n"));

		/* The decoder reads both alike. */
		pl_set_str(&r, t);
		if (0 == modegw_peek(&c, &ca, &cpt)) {
			assert_int_equal(0, modegw_peek(&r, &ra, &rpt));
			assert_int_equal(cpt, rpt);
			assert_true(sa_cmp(&ca, &ra, SA_ALL));
		}
		else {
			assert_int_not_equal(0, modegw_peek(&r, &ra, &rpt));
		}

		mem_deref(t);
		mem_deref(re);
	}

	mem_deref(ans);
	mem_deref(g);
	leakcheck_assert(mark);
}


static void test_peek(void **state)
{
	struct pl o = plz(OFFER("m=audio 40010 RTP/AVP 8 0\r\n", ""));
	struct sa a;
	int pt;
	(void)state;

	assert_int_equal(0, modegw_peek(&o, &a, &pt));
	assert_int_equal(40010, sa_port(&a));
	assert_int_equal(8, pt);
}


/* An offer whose last line has no line end of its own (a lone body
 * sent that way, or the last part of a multipart, RFC 2046 5.1.1) is
 * answered like any other; LF-only line ends too. */
static void test_offer_without_final_crlf(void **state)
{
	static const struct {
		const char *offer;
		const char *mline;     /* in the answer */
		uint16_t port;         /* the offer's, for peek */
		int pt;
	} v[] = {
		{OFFER("m=audio 40020 RTP/AVP 8 0", ""), " RTP/AVP 8\r\n",
		 40020, 8},
		{OFFER("m=audio 40022 RTP/AVP 0\r\n", "a=rtpmap:0 PCMU/8000"),
		 " RTP/AVP 0\r\n", 40022, 0},
		{OFFER("m=audio 40024 RTP/AVP 0 8\r\n", "a=sendrecv"),
		 " RTP/AVP 0\r\n", 40024, 0},
		{"v=0\no=alice 42 1 IN IP4 127.0.0.1\ns=-\n"
		 "c=IN IP4 127.0.0.1\nt=0 0\nm=audio 40026 RTP/AVP 8",
		 " RTP/AVP 8\r\n", 40026, 8},
		{"v=0\no=alice 42 1 IN IP4 127.0.0.1\ns=-\n"
		 "c=IN IP4 127.0.0.1\nt=0 0\nm=audio 40028 RTP/AVP 0\n",
		 " RTP/AVP 0\r\n", 40028, 0},
	};
	long mark = leakcheck_mark();
	(void)state;

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct pl o = plz(v[i].offer);
		struct sa a;
		int err, pt;
		char *ans = answer_for(v[i].offer, &err);

		if (err)
			fail_msg("offer %zu: no answer (%d)", i, err);
		assert_non_null(strstr(ans, v[i].mline));
		assert_non_null(strstr(ans, "a=sendonly"));
		mem_deref(ans);

		assert_int_equal(0, modegw_peek(&o, &a, &pt));
		assert_int_equal(v[i].port, sa_port(&a));
		assert_int_equal(v[i].pt, pt);
	}

	leakcheck_assert(mark);
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_answer_picks_first_offered_codec,
				       warm_up),
		cmocka_unit_test(test_offers_refused),
		cmocka_unit_test(test_reoffer_keeps_origin),
		cmocka_unit_test(test_version_from_last_sent),
		cmocka_unit_test(test_reoffer_line_ends),
		cmocka_unit_test(test_peek),
		cmocka_unit_test(test_offer_without_final_crlf),
	};

	return cmocka_run_group_tests_name("sip/mode_gw", tests, setup,
					   teardown);
}
