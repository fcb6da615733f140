/**
 * @file test_conform.c  The conformance catalogue, its selectors and checks
 *
 * The catalogue must be whole (every selector valid, every run known, ids
 * unique, every purpose written).  Each check is shown to pass on a trace
 * the way cmrlab's server writes it, and to fail, with the line that
 * decided it in the evidence, when one thing in that trace is broken; a
 * precondition that does not hold makes a case inconclusive.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <re.h>
#include "sip/conform.h"
#include "tests/unit/leakcheck.h"

#define SDP_OFFER "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\n" \
	"c=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0 8\r\n"
#define SDP_GW "v=0\r\no=- 15 17 IN IP4 127.0.0.1\r\ns=-\r\n" \
	"c=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 20002 RTP/AVP 0\r\n" \
	"a=sendonly\r\n"
#define SDP_GW_V19 "v=0\r\no=- 15 19 IN IP4 127.0.0.1\r\ns=-\r\n" \
	"c=IN IP4 192.0.2.9\r\nt=0 0\r\nm=audio 5000 RTP/AVP 0\r\n"
#define SDP_GW_V18 "v=0\r\no=- 15 18 IN IP4 127.0.0.1\r\ns=-\r\n" \
	"c=IN IP4 192.0.2.9\r\nt=0 0\r\nm=audio 5000 RTP/AVP 0\r\n"
#define SDP_CALLEE "v=0\r\no=- 2 2 IN IP4 192.0.2.9\r\ns=-\r\n" \
	"c=IN IP4 192.0.2.9\r\nt=0 0\r\nm=audio 5000 RTP/AVP 0\r\n"
#define SDP_ES "v=0\r\no=- 15 17 IN IP4 127.0.0.1\r\ns=-\r\n" \
	"c=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 20000 RTP/AVP 0 8\r\n" \
	"a=sendonly\r\n"
#define SDP_ES_ANS "v=0\r\no=- 3 3 IN IP4 192.0.2.1\r\ns=-\r\n" \
	"c=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4002 RTP/AVP 0\r\n" \
	"a=recvonly\r\n"


/* Adds one message: start line, CSeq, To tag (NULL: none), more header
 * lines, body. */
static void add_to(struct cf_run *run, uint32_t t, enum cf_party p,
		   bool rx, const char *start, const char *cseq,
		   const char *to_tag, const char *hdrs, const char *ctype,
		   const char *body)
{
	char *text = NULL;

	assert_int_equal(0, re_sdprintf(&text,
		"%s\r\n"
		"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\n"
		"From: <sip:alice@h>;tag=a\r\n"
		"To: <sip:bob@h>%s%s\r\n"
		"Call-ID: x\r\n"
		"CSeq: %s\r\n"
		"%s"
		"%s%s%s"
		"Content-Length: %zu\r\n\r\n%s", start,
		to_tag ? ";tag=" : "", to_tag ? to_tag : "", cseq,
		hdrs ? hdrs : "",
		ctype ? "Content-Type: " : "", ctype ? ctype : "",
		ctype ? "\r\n" : "", body ? strlen(body) : (size_t)0,
		body ? body : ""));
	assert_int_equal(0, cf_run_add(run, t, p, rx, (uint8_t *)text,
				       strlen(text)));
	mem_deref(text);
}


/* Adds one message of the dialog with To tag "b" (or none). */
static void add(struct cf_run *run, uint32_t t, enum cf_party p, bool rx,
		const char *start, const char *cseq, bool to_tag,
		const char *hdrs, const char *ctype, const char *body)
{
	add_to(run, t, p, rx, start, cseq, to_tag ? "b" : NULL, hdrs, ctype,
	       body);
}


/* Gateway mode as cmrlab's server plays it, seen by the box's parties;
 * breaks names one thing done wrong. */
static void gw_trace(struct cf_run *run, const char *brk)
{
	bool b_pem = !strcmp(brk, "pem"), b_ver = !strcmp(brk, "version");
	bool b_early2xx = !strcmp(brk, "2xx-before-prack");

	memset(run, 0, sizeof(*run));
	run->id = "gw-bt";
	run->made = true;
	add(run, 0, CF_CALLER, false, "INVITE sip:bob@h SIP/2.0",
	    "10 INVITE", false, "P-Early-Media: supported\r\n"
	    "Supported: 100rel\r\n", "application/sdp", SDP_OFFER);
	add(run, 5, CF_CALLEE, true, "INVITE sip:bob@h SIP/2.0",
	    "20 INVITE", false, NULL, "application/sdp", SDP_GW);
	add(run, 6, CF_CALLEE, false, "SIP/2.0 180 Ringing", "20 INVITE",
	    true, NULL, NULL, NULL);
	add(run, 7, CF_CALLER, true, "SIP/2.0 180 Ringing", "10 INVITE",
	    true, b_pem ? "Require: 100rel\r\nRSeq: 7\r\n" :
	    !strcmp(brk, "pem-supported") ?
	    "Require: 100rel\r\nRSeq: 7\r\nP-Early-Media: sendrecv\r\n"
	    "P-Early-Media: supported\r\n" :
	    "Require: 100rel\r\nRSeq: 7\r\nP-Early-Media: sendrecv\r\n",
	    "application/sdp", SDP_GW);
	if (!strcmp(brk, "rseq"))
		add(run, 8, CF_CALLER, true, "SIP/2.0 183 Progress",
		    "10 INVITE", true, "Require: 100rel\r\nRSeq: 9\r\n"
		    "P-Early-Media: sendrecv\r\n", "application/sdp",
		    SDP_GW_V18);
	if (b_early2xx)
		add(run, 9, CF_CALLER, true, "SIP/2.0 200 OK", "10 INVITE",
		    true, NULL, NULL, NULL);
	add(run, 10, CF_CALLER, false, "PRACK sip:bob@h SIP/2.0",
	    "11 PRACK", true, "RAck: 7 10 INVITE\r\n", NULL, NULL);
	add(run, 11, CF_CALLER, true, "SIP/2.0 200 OK", "11 PRACK", true,
	    NULL, NULL, NULL);
	add(run, 2000, CF_CALLEE, false, "SIP/2.0 200 OK", "20 INVITE", true,
	    NULL, "application/sdp", SDP_CALLEE);
	add(run, 2001, CF_CALLER, true, "UPDATE sip:alice@h SIP/2.0",
	    "30 UPDATE", true, NULL, "application/sdp",
	    b_ver ? SDP_GW_V19 : !strcmp(brk, "port") ?
	    "v=0\r\no=- 15 18 IN IP4 127.0.0.1\r\ns=-\r\n"
	    "c=IN IP4 192.0.2.9\r\nt=0 0\r\nm=audio 5002 RTP/AVP 0\r\n" :
	    SDP_GW_V18);
	add(run, 2002, CF_CALLER, false, "SIP/2.0 200 OK", "30 UPDATE", true,
	    NULL, "application/sdp", SDP_OFFER);
	if (!b_early2xx)
		add(run, 2003, CF_CALLER, true, "SIP/2.0 200 OK", "10 INVITE",
		    true, NULL, !strcmp(brk, "sdp-in-200") ?
		    "application/sdp" : NULL,
		    !strcmp(brk, "sdp-in-200") ? SDP_GW : NULL);

	run->has_res[CF_CALLER] = true;
	run->res[CF_CALLER].final = 200;
	run->res[CF_CALLER].ms_final = 2003;
	run->res[CF_CALLER].tone_packets = !strcmp(brk, "no-tone") ? 0 : 99;
	run->res[CF_CALLER].ms_first_tone = !strcmp(brk, "no-tone") ? -1 : 12;
	run->res[CF_CALLER].ms_last_tone = !strcmp(brk, "late-tone") ?
		2500 : 1990;
}


static const struct cf_case *case_of(const char *id)
{
	for (size_t i = 0; i < cf_ncases; i++) {
		if (!strcmp(cf_cases[i].id, id))
			return &cf_cases[i];
	}
	fail_msg("no case %s", id);

	return NULL;
}


static enum cf_verdict judge(const char *id, const struct cf_run *run,
			     const char *want_in_evidence)
{
	struct cf_verdict_t v;

	cf_judge(case_of(id), run, &v);
	if (want_in_evidence && !strstr(v.evidence, want_in_evidence))
		fail_msg("%s: \"%s\" not in the evidence:\n%s", id,
			 want_in_evidence, v.evidence);
	assert_true(strlen(v.evidence) < sizeof(v.evidence));

	return v.v;
}


static void test_catalogue(void **state)
{
	(void)state;

	assert_true(cf_ncases >= 40);
	for (size_t i = 0; i < cf_ncases; i++) {
		const struct cf_case *c = &cf_cases[i];
		const struct cf_rundef *rd = cf_rundef_find(c->run);
		const struct cf_test *t[3] = { &c->pre, &c->test[0],
			&c->test[1] };

		assert_non_null(rd);
		assert_int_equal(rd->role, c->role);
		assert_true(c->id && c->clause && c->quote && c->initial &&
			    c->ensure && c->when && c->then);
		assert_true(*c->quote && *c->initial && *c->ensure &&
			    *c->when && *c->then);
		assert_true(strstr(c->id, c->role == CF_SERVER ? "-SRV-" :
				   "-CLI-") != NULL);
		assert_int_not_equal(CK_NONE, c->test[0].chk);
		for (size_t k = i + 1; k < cf_ncases; k++)
			assert_string_not_equal(c->id, cf_cases[k].id);

		for (int k = 0; k < 3; k++) {
			if (t[k]->chk == CK_NONE)
				continue;
			if (t[k]->sel && !cf_sel_valid(t[k]->sel))
				fail_msg("%s: selector '%s'", c->id,
					 t[k]->sel);
			if (t[k]->sel2 && !cf_sel_valid(t[k]->sel2))
				fail_msg("%s: selector '%s'", c->id,
					 t[k]->sel2);
			if (t[k]->chk == CK_PRACKED &&
			    !cf_sel_valid(t[k]->arg))
				fail_msg("%s: selector '%s'", c->id,
					 t[k]->arg);
			/* the server's cases judge the box's caller and
			 * callee, the client's the device and the far end */
			if (t[k]->sel)
				assert_true(!strncmp(t[k]->sel, c->role ==
						     CF_SERVER ? "call" :
						     "dut", c->role ==
						     CF_SERVER ? 4 : 3));
		}
	}

	/* every run is some case's */
	for (size_t r = 0; r < cf_nruns; r++) {
		bool used = false;

		for (size_t i = 0; i < cf_ncases; i++)
			used |= !strcmp(cf_cases[i].run, cf_runs[r].id);
		assert_true(used);
	}
}


static void test_selectors(void **state)
{
	static const char *const good[] = { "caller<18x", "callee>200/PRACK",
		"dut<reINVITE", "far>*", "caller<rel18x", "dut<INVITE",
		"caller>2xx/UPDATE", "callee<1xx/INVITE", "caller<UPDATE",
		"caller<200/reINVITE", "dut>481/BYE" };
	static const char *const bad[] = { "", "caller", "bob<INVITE",
		"caller<invite", "caller<7xx", "caller<18", "caller<200/",
		"caller<x/INVITE", "caller<<INVITE", "caller<1x8",
		"caller<VERYLONGMETHODNAME", "dut<>", "caller<2xx/update" };
	long mark = leakcheck_mark();
	struct cf_run *run = mem_zalloc(sizeof(*run), NULL);
	size_t idx[8];
	(void)state;

	for (size_t i = 0; i < ARRAY_SIZE(good); i++)
		assert_true(cf_sel_valid(good[i]));
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		if (cf_sel_valid(bad[i]))
			fail_msg("'%s' taken", bad[i]);
	}
	assert_false(cf_sel_valid(NULL));

	gw_trace(run, "");
	assert_int_equal(1, cf_select(run, "caller>INVITE", idx, 8));
	assert_int_equal(0, idx[0]);
	assert_int_equal(1, cf_select(run, "caller<rel18x", idx, 8));
	assert_int_equal(1, cf_select(run, "caller<18x", idx, 8));
	assert_int_equal(3, idx[0]);
	/* the 200 of the INVITE, not of the PRACK */
	assert_int_equal(1, cf_select(run, "caller<200/INVITE", idx, 8));
	assert_int_equal(run->msgc - 1, idx[0]);
	assert_int_equal(1, cf_select(run, "caller<2xx/PRACK", idx, 8));
	assert_int_equal(0, cf_select(run, "caller<reINVITE", idx, 8));
	assert_int_equal(0, cf_select(run, "callee<PRACK", idx, 8));
	assert_int_equal(4, cf_select(run, "caller<*", idx, 8));
	assert_int_equal(3, cf_select(run, "caller>*", idx, 8));
	assert_int_equal(2, cf_select(run, "caller<*", idx, 2));
	assert_int_equal(0, cf_select(run, "nobody<*", idx, 8));

	/* a re-INVITE (To tag) and its 200, apart from the INVITE's */
	add(run, 3000, CF_CALLER, true, "INVITE sip:alice@h SIP/2.0",
	    "31 INVITE", true, NULL, "application/sdp", SDP_CALLEE);
	add(run, 3001, CF_CALLER, false, "SIP/2.0 200 OK", "31 INVITE", true,
	    NULL, "application/sdp", SDP_OFFER);
	assert_int_equal(1, cf_select(run, "caller<reINVITE", idx, 8));
	assert_int_equal(1, cf_select(run, "caller>200/reINVITE", idx, 8));
	assert_int_equal(0, cf_select(run, "caller>200/INVITE", idx, 8));
	assert_int_equal(1, cf_select(run, "caller<INVITE", idx, 8) + 1);

	cf_run_reset(run);
	assert_int_equal(0, run->msgc);
	mem_deref(run);
	leakcheck_assert(mark);
}


static void test_run_add(void **state)
{
	long mark = leakcheck_mark();
	struct cf_run *run = mem_zalloc(sizeof(*run), NULL);
	static const char junk[] = "not SIP at all\r\n\r\n";
	(void)state;

	assert_int_not_equal(0, cf_run_add(run, 0, CF_DUT, true,
					   (const uint8_t *)junk,
					   sizeof(junk) - 1));
	assert_int_equal(EINVAL, cf_run_add(run, 0, CF_NPARTY, true,
					    (const uint8_t *)junk, 4));
	assert_int_equal(0, run->msgc);
	for (int i = 0; i < CF_MSGS_MAX; i++)
		add(run, (uint32_t)i, CF_DUT, true, "OPTIONS sip:h SIP/2.0",
		    "1 OPTIONS", false, NULL, NULL, NULL);
	{
		static const char m[] = "OPTIONS sip:h SIP/2.0\r\nVia: SIP/2.0"
			"/UDP h;branch=z9hG4bKx\r\nFrom: <sip:a@h>;tag=1\r\n"
			"To: <sip:b@h>\r\nCall-ID: y\r\nCSeq: 1 OPTIONS\r\n"
			"Content-Length: 0\r\n\r\n";

		assert_int_equal(EOVERFLOW,
				 cf_run_add(run, 0, CF_DUT, true,
					    (const uint8_t *)m,
					    sizeof(m) - 1));
	}
	cf_run_reset(run);
	mem_deref(run);
	leakcheck_assert(mark);
}


static void test_id_match(void **state)
{
	(void)state;

	assert_true(cf_id_match("CMR-*-SRV-*", "CMR-AS-BT-SRV-01"));
	assert_true(cf_id_match("cmr-as-bt-srv-01", "CMR-AS-BT-SRV-01"));
	assert_true(cf_id_match("*", "x"));
	assert_true(cf_id_match("RFC3262-*", "RFC3262-RACK-SRV-01"));
	assert_true(cf_id_match("*-01", "RFC3262-RACK-SRV-01"));
	assert_false(cf_id_match("*-02", "RFC3262-RACK-SRV-01"));
	assert_false(cf_id_match("CMR", "CMR-AS-BT-SRV-01"));
	assert_false(cf_id_match("CMR-AS-BT-SRV-01x", "CMR-AS-BT-SRV-01"));
	assert_false(cf_id_match(NULL, "x"));
}


/* The gateway cases on a good trace, then each with its clause broken. */
static void test_gateway(void **state)
{
	static const char *const ids[] = { "CMR-GW-BT-SRV-01",
		"CMR-GW-BT-SRV-02", "CMR-GW-BT-SRV-03", "CMR-GW-BT-SRV-04",
		"CMR-GW-BT-SRV-05", "CMR-GW-BT-SRV-06", "CMR-GW-BT-SRV-07",
		"RFC3262-NO2XX-SRV-02", "RFC5009-PEM-SRV-01",
		"RFC3311-UPD-SRV-01", "RFC3264-OVER-SRV-01",
		"RFC3261-ANS-SRV-01" };
	static const struct { const char *brk, *id, *ev; } breaks[] = {
		{ "pem",              "CMR-GW-BT-SRV-02", "(no P-Early-Media" },
		{ "version",          "RFC3264-OVER-SRV-01", "version 19 after "
		  "17" },
		{ "port",             "CMR-GW-BT-SRV-06", "5002 is not" },
		{ "sdp-in-200",       "CMR-GW-BT-SRV-07", "carries an SDP" },
		{ "2xx-before-prack", "RFC3262-NO2XX-SRV-02", "was not "
		  "acknowledged" },
		{ "pem-supported",    "RFC5009-PEM-SRV-01", "\"supported\" is "
		  "no value" },
		{ "no-tone",          "CMR-GW-BT-SRV-04", "no RTP" },
		{ "late-tone",        "CMR-GW-BT-SRV-05", "went on 497 ms" },
		{ "rseq",             "RFC3261-ANS-SRV-01", "another SDP" },
	};
	long mark = leakcheck_mark();
	struct cf_run *run = mem_zalloc(sizeof(*run), NULL);
	(void)state;

	gw_trace(run, "");
	for (size_t i = 0; i < ARRAY_SIZE(ids); i++) {
		if (judge(ids[i], run, NULL) != CF_PASS) {
			struct cf_verdict_t v;

			cf_judge(case_of(ids[i]), run, &v);
			fail_msg("%s: %s", ids[i], v.evidence);
		}
	}
	assert_int_equal(CF_PASS, judge("CMR-GW-BT-SRV-02", run,
					"P-Early-Media: sendrecv"));
	cf_run_reset(run);

	for (size_t b = 0; b < ARRAY_SIZE(breaks); b++) {
		gw_trace(run, breaks[b].brk);
		if (judge(breaks[b].id, run, breaks[b].ev) != CF_FAIL)
			fail_msg("%s passed with %s", breaks[b].id,
				 breaks[b].brk);
		cf_run_reset(run);
	}

	/* RSeq one higher is fine; a jump is not */
	gw_trace(run, "rseq");
	assert_int_equal(CF_FAIL, judge("RFC3262-RSEQ-SRV-01", run,
					"RSeq 9 after 7"));
	cf_run_reset(run);

	/* the callee's 200 is the precondition of SRV-06 */
	gw_trace(run, "");
	run->msgv[6].msg = mem_deref(run->msgv[6].msg);
	memmove(&run->msgv[6], &run->msgv[7],
		(run->msgc - 7) * sizeof(run->msgv[0]));
	--run->msgc;
	assert_int_equal(CF_INCONC, judge("CMR-GW-BT-SRV-06", run,
					  "precondition not met"));
	cf_run_reset(run);

	/* a run not made */
	run->made = false;
	str_ncpy(run->why, "REGISTER of bob: 403 Forbidden", sizeof(run->why));
	assert_int_equal(CF_INCONC, judge("CMR-GW-BT-SRV-01", run, "403"));

	mem_deref(run);
	leakcheck_assert(mark);
}


/* Application server mode: the early-session offer, its tags, the RAck
 * and the answers of a client under test. */
static void test_as(void **state)
{
	long mark = leakcheck_mark();
	struct cf_run *run = mem_zalloc(sizeof(*run), NULL);
	(void)state;

	for (int brk = 0; brk < 4; brk++) {
		memset(run, 0, sizeof(*run));
		run->made = true;
		add(run, 0, CF_DUT, true, "INVITE sip:cmr-as@h SIP/2.0",
		    "5 INVITE", false, brk == 1 ? "Supported: 100rel\r\n" :
		    "k: 100rel\r\nk: early-session\r\n", "application/sdp",
		    SDP_OFFER);
		add(run, 3, CF_DUT, false, "SIP/2.0 180 Ringing", "5 INVITE",
		    true, "Require: 100rel, early-session\r\nRSeq: 1\r\n",
		    "application/sdp\r\nContent-Disposition: early-session",
		    SDP_ES);
		add(run, 4, CF_DUT, true, "PRACK sip:cmr-as@h SIP/2.0",
		    "6 PRACK", true, brk == 2 ? "RAck: 1 4 INVITE\r\n" :
		    "RAck: 1 5 INVITE\r\n", brk == 3 ? NULL :
		    "application/sdp\r\nContent-Disposition: early-session",
		    brk == 3 ? NULL : SDP_ES_ANS);

		assert_int_equal(brk == 1 ? CF_FAIL : CF_PASS,
				 judge("CMR-AS-BT-CLI-01", run, brk == 1 ?
				       "lacks early-session" :
				       "early-session"));
		assert_int_equal(brk == 3 ? CF_FAIL : CF_PASS,
				 judge("CMR-AS-BT-CLI-02", run, brk == 3 ?
				       "carries no early-session SDP" :
				       "m=audio 4002"));
		assert_int_equal(brk == 2 ? CF_FAIL : CF_PASS,
				 judge("RFC3262-RACK-CLI-01", run, brk == 2 ?
				       "not RSeq 1, CSeq 5 INVITE" :
				       "RAck: 1 5 INVITE"));
		/* not the gateway run's precondition */
		assert_int_equal(CF_FAIL, judge("CMR-GW-BT-CLI-01", run,
						"(no P-Early-Media"));
		cf_run_reset(run);
	}

	/* the answer's m-lines must be the offer's */
	memset(run, 0, sizeof(*run));
	run->made = true;
	add(run, 3, CF_DUT, false, "SIP/2.0 180 Ringing", "5 INVITE", true,
	    "Require: 100rel, early-session\r\nRSeq: 1\r\n",
	    "application/sdp\r\nContent-Disposition: early-session", SDP_ES);
	add(run, 4, CF_DUT, true, "PRACK sip:cmr-as@h SIP/2.0", "6 PRACK",
	    true, "RAck: 1 5 INVITE\r\n",
	    "application/sdp\r\nContent-Disposition: early-session",
	    "v=0\r\no=- 3 3 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\n"
	    "t=0 0\r\nm=audio 4002 RTP/AVP 18\r\n");
	assert_int_equal(CF_FAIL, judge("CMR-AS-BT-CLI-02", run,
					"no payload type of the offer"));
	cf_run_reset(run);

	mem_deref(run);
	leakcheck_assert(mark);
}


/* HTTP mode: the URL, the box's download and the device's. */
static void test_http(void **state)
{
	long mark = leakcheck_mark();
	struct cf_run *run = mem_zalloc(sizeof(*run), NULL);
	(void)state;

	run->made = true;
	add(run, 1, CF_DUT, false, "INVITE sip:dut@h SIP/2.0", "1 INVITE",
	    false, "Alert-Info: <http://127.0.0.1:8080/r/ringtone-default"
	    "?call=c1>\r\n", "application/sdp", SDP_OFFER);
	assert_int_equal(CF_FAIL, judge("CMR-HTTP-RT-CLI-01", run,
					"did not fetch /r/ringtone-default"));
	run->getv[0].t_ms = 5;
	str_ncpy(run->getv[0].path, "/r/ringtone-default",
		 sizeof(run->getv[0].path));
	run->getv[0].status = 404;
	run->getc = 1;
	assert_int_equal(CF_FAIL, judge("CMR-HTTP-RT-CLI-01", run, ": 404"));
	run->getv[1] = run->getv[0];
	run->getv[1].status = 200;
	run->getv[1].bytes = 96044;
	run->getc = 2;
	assert_int_equal(CF_PASS, judge("CMR-HTTP-RT-CLI-01", run,
					"200, 96044 bytes"));
	cf_run_reset(run);

	/* the server's side: a URL that is no http URL */
	run->made = true;
	add(run, 1, CF_CALLER, true, "SIP/2.0 180 Ringing", "1 INVITE", true,
	    "Alert-Info: <urn:alert:service:normal>\r\n", NULL, NULL);
	assert_int_equal(CF_FAIL, judge("CMR-HTTP-BT-SRV-01", run,
					"no <http://...> URL"));
	assert_int_equal(CF_INCONC, judge("CMR-HTTP-BT-SRV-02", run, NULL));
	cf_run_reset(run);

	run->made = true;
	add(run, 1, CF_CALLER, true, "SIP/2.0 180 Ringing", "1 INVITE", true,
	    "Alert-Info: <HTTP://127.0.0.1/r/x>\r\n", NULL, NULL);
	run->has_res[CF_CALLER] = true;
	run->res[CF_CALLER].dl_status = 404;
	assert_int_equal(CF_PASS, judge("CMR-HTTP-BT-SRV-01", run, NULL));
	assert_int_equal(CF_FAIL, judge("CMR-HTTP-BT-SRV-02", run, ": 404"));
	run->res[CF_CALLER].dl_status = 200;
	run->res[CF_CALLER].dl_bytes = 10;
	assert_int_equal(CF_PASS, judge("CMR-HTTP-BT-SRV-02", run, NULL));
	/* a reliable 18x to a caller that did not support 100rel */
	add(run, 0, CF_CALLER, false, "INVITE sip:bob@h SIP/2.0",
	    "1 INVITE", false, NULL, "application/sdp", SDP_OFFER);
	assert_int_equal(CF_PASS, judge("RFC3261-EXT-SRV-01", run, NULL));
	add(run, 2, CF_CALLER, true, "SIP/2.0 183 Session Progress",
	    "1 INVITE", true, "Require: 100rel\r\nRSeq: 1\r\n", NULL, NULL);
	assert_int_equal(CF_FAIL, judge("RFC3261-EXT-SRV-01", run,
					"has 100rel"));
	cf_run_reset(run);

	mem_deref(run);
	leakcheck_assert(mark);
}


/* Evidence off the wire stays within its buffer, however long. */
static void test_evidence_bounded(void **state)
{
	long mark = leakcheck_mark();
	struct cf_run *run = mem_zalloc(sizeof(*run), NULL);
	char hdrs[2100];
	(void)state;

	run->made = true;
	memset(hdrs, 'x', sizeof(hdrs));
	memcpy(hdrs, "RSeq: ", 6);
	memcpy(hdrs + sizeof(hdrs) - 3, "\r\n", 3);
	for (int i = 0; i < 40; i++)
		add(run, (uint32_t)i, CF_CALLER, true, "SIP/2.0 180 Ringing",
		    "1 INVITE", true, hdrs, NULL, NULL);
	assert_int_equal(CF_FAIL, judge("CMR-AS-BT-SRV-01", run, NULL));
	assert_int_equal(CF_INCONC, judge("CMR-AS-BT-SRV-02", run, NULL));
	assert_int_equal(CF_FAIL, judge("RFC3262-RSEQ-SRV-01", run,
					"not a number"));
	cf_run_reset(run);

	mem_deref(run);
	leakcheck_assert(mark);
}


/* RFC 3262 section 3 forbids a 2xx only while a reliable 18x that carried
 * a session description is unacknowledged: every such 18x counts, and an
 * 18x without one does not. */
static void test_no2xx_each_reliable(void **state)
{
	long mark = leakcheck_mark();
	struct cf_run *run = mem_zalloc(sizeof(*run), NULL);
	(void)state;

	/* the 180 is acknowledged, the 183 with the SDP is not: broken */
	run->made = true;
	add(run, 0, CF_CALLER, false, "INVITE sip:bob@h SIP/2.0",
	    "10 INVITE", false, "Supported: 100rel\r\n", "application/sdp",
	    SDP_OFFER);
	add(run, 5, CF_CALLER, true, "SIP/2.0 180 Ringing", "10 INVITE",
	    true, "Require: 100rel\r\nRSeq: 1\r\n", NULL, NULL);
	add(run, 6, CF_CALLER, false, "PRACK sip:bob@h SIP/2.0", "11 PRACK",
	    true, "RAck: 1 10 INVITE\r\n", NULL, NULL);
	add(run, 7, CF_CALLER, true, "SIP/2.0 200 OK", "11 PRACK", true,
	    NULL, NULL, NULL);
	add(run, 8, CF_CALLER, true, "SIP/2.0 183 Session Progress",
	    "10 INVITE", true, "Require: 100rel\r\nRSeq: 2\r\n",
	    "application/sdp", SDP_GW);
	add(run, 9, CF_CALLER, true, "SIP/2.0 200 OK", "10 INVITE", true,
	    NULL, NULL, NULL);
	add(run, 10, CF_CALLER, false, "PRACK sip:bob@h SIP/2.0",
	    "12 PRACK", true, "RAck: 2 10 INVITE\r\n", NULL, NULL);
	assert_int_equal(CF_FAIL, judge("RFC3262-NO2XX-SRV-02", run,
					"RSeq: 2"));
	cf_run_reset(run);

	/* a reliable 180 without SDP may be overtaken by the 200 */
	run->made = true;
	add(run, 0, CF_CALLER, false, "INVITE sip:bob@h SIP/2.0",
	    "10 INVITE", false, "Supported: 100rel\r\n", "application/sdp",
	    SDP_OFFER);
	add(run, 5, CF_CALLER, true, "SIP/2.0 180 Ringing", "10 INVITE",
	    true, "Require: 100rel\r\nRSeq: 1\r\n", NULL, NULL);
	add(run, 6, CF_CALLER, true, "SIP/2.0 200 OK", "10 INVITE", true,
	    NULL, "application/sdp", SDP_GW);
	add(run, 7, CF_CALLER, false, "PRACK sip:bob@h SIP/2.0", "11 PRACK",
	    true, "RAck: 1 10 INVITE\r\n", NULL, NULL);
	assert_int_equal(CF_PASS, judge("RFC3262-NO2XX-SRV-01", run, NULL));
	cf_run_reset(run);

	/* the reliable 183 with the SDP arrives after the 200: the device
	 * sent the 200 while it was unacknowledged */
	run->made = true;
	add(run, 0, CF_CALLER, false, "INVITE sip:bob@h SIP/2.0",
	    "10 INVITE", false, "Supported: 100rel\r\n", "application/sdp",
	    SDP_OFFER);
	add(run, 6, CF_CALLER, true, "SIP/2.0 200 OK", "10 INVITE", true,
	    NULL, NULL, NULL);
	add(run, 7, CF_CALLER, true, "SIP/2.0 183 Session Progress",
	    "10 INVITE", true, "Require: 100rel\r\nRSeq: 4\r\n",
	    "application/sdp", SDP_GW);
	add(run, 8, CF_CALLER, false, "PRACK sip:bob@h SIP/2.0", "11 PRACK",
	    true, "RAck: 4 10 INVITE\r\n", NULL, NULL);
	assert_int_equal(CF_FAIL, judge("RFC3262-NO2XX-SRV-01", run,
					"RSeq 4, with an SDP"));
	/* ... but a retransmission of one acknowledged before is fine */
	cf_run_reset(run);
	run->made = true;
	add(run, 0, CF_CALLER, false, "INVITE sip:bob@h SIP/2.0",
	    "10 INVITE", false, "Supported: 100rel\r\n", "application/sdp",
	    SDP_OFFER);
	add(run, 3, CF_CALLER, true, "SIP/2.0 183 Session Progress",
	    "10 INVITE", true, "Require: 100rel\r\nRSeq: 4\r\n",
	    "application/sdp", SDP_GW);
	add(run, 4, CF_CALLER, false, "PRACK sip:bob@h SIP/2.0", "11 PRACK",
	    true, "RAck: 4 10 INVITE\r\n", NULL, NULL);
	add(run, 6, CF_CALLER, true, "SIP/2.0 200 OK", "10 INVITE", true,
	    NULL, NULL, NULL);
	add(run, 7, CF_CALLER, true, "SIP/2.0 183 Session Progress",
	    "10 INVITE", true, "Require: 100rel\r\nRSeq: 4\r\n",
	    "application/sdp", SDP_GW);
	assert_int_equal(CF_PASS, judge("RFC3262-NO2XX-SRV-01", run, NULL));
	cf_run_reset(run);

	/* and the good gateway trace still passes, the broken one fails */
	gw_trace(run, "");
	assert_int_equal(CF_PASS, judge("RFC3262-NO2XX-SRV-02", run,
					"RAck: 7 10 INVITE"));
	cf_run_reset(run);
	gw_trace(run, "2xx-before-prack");
	assert_int_equal(CF_FAIL, judge("RFC3262-NO2XX-SRV-02", run,
					"RSeq: 7"));
	cf_run_reset(run);

	mem_deref(run);
	leakcheck_assert(mark);
}


/* A device that sends no P-Early-Media has none to judge: the missing
 * header is CMR-GW-BT-SRV-02's failure, not a malformed value. */
static void test_pem_absent(void **state)
{
	long mark = leakcheck_mark();
	struct cf_run *run = mem_zalloc(sizeof(*run), NULL);
	(void)state;

	gw_trace(run, "pem");
	assert_int_equal(CF_INCONC, judge("RFC5009-PEM-SRV-01", run,
					  "precondition not met"));
	cf_run_reset(run);
	gw_trace(run, "pem-supported");
	assert_int_equal(CF_FAIL, judge("RFC5009-PEM-SRV-01", run,
					"\"supported\""));
	cf_run_reset(run);

	mem_deref(run);
	leakcheck_assert(mark);
}


/* An option tag is found however many others the header lists. */
static void test_many_tokens(void **state)
{
	long mark = leakcheck_mark();
	struct cf_run *run = mem_zalloc(sizeof(*run), NULL);
	(void)state;

	run->made = true;
	add(run, 0, CF_DUT, true, "INVITE sip:cmr-as@h SIP/2.0", "5 INVITE",
	    false, "Supported: replaces, timer, path, gruu, outbound, "
	    "norefersub, histinfo, tdialog, from-change, join, sec-agree, "
	    "resource-priority, eventlist, answermode, recipient-list, "
	    "multiple-refer, early-session\r\nk: 100rel\r\n",
	    "application/sdp", SDP_OFFER);
	assert_int_equal(CF_PASS, judge("CMR-AS-BT-CLI-01", run, NULL));
	cf_run_reset(run);

	mem_deref(run);
	leakcheck_assert(mark);
}


/* A device that sends its INVITE again after a 4xx (420, 422, 488) gets
 * its answers to the new one judged as the INVITE's, not a re-INVITE's. */
static void test_invite_sent_again(void **state)
{
	long mark = leakcheck_mark();
	struct cf_run *run = mem_zalloc(sizeof(*run), NULL);
	size_t idx[4];
	(void)state;

	run->made = true;
	add(run, 0, CF_DUT, true, "INVITE sip:cmr-http@h SIP/2.0",
	    "1 INVITE", false, "Require: timer\r\n", "application/sdp",
	    SDP_OFFER);
	add(run, 1, CF_DUT, false, "SIP/2.0 420 Bad Extension", "1 INVITE",
	    true, "Unsupported: timer\r\n", NULL, NULL);
	add(run, 2, CF_DUT, true, "INVITE sip:cmr-http@h SIP/2.0",
	    "2 INVITE", false, NULL, "application/sdp", SDP_OFFER);
	add(run, 3, CF_DUT, false, "SIP/2.0 180 Ringing", "2 INVITE", true,
	    "Alert-Info: <http://127.0.0.1:8080/r/ringback-default>\r\n",
	    NULL, NULL);
	run->getv[0].t_ms = 5;
	str_ncpy(run->getv[0].path, "/r/ringback-default",
		 sizeof(run->getv[0].path));
	run->getv[0].status = 200;
	run->getv[0].bytes = 1000;
	run->getc = 1;
	assert_int_equal(1, cf_select(run, "dut>18x", idx, 4));
	assert_int_equal(0, cf_select(run, "dut>18x/reINVITE", idx, 4));
	assert_int_equal(2, cf_select(run, "dut>4xx/INVITE", idx, 4) +
			 cf_select(run, "dut>180/INVITE", idx, 4));
	assert_int_equal(CF_PASS, judge("CMR-HTTP-BT-CLI-01", run,
					"200, 1000 bytes"));
	cf_run_reset(run);

	mem_deref(run);
	leakcheck_assert(mark);
}


/* "Without SDP": a body the box cannot read may be one. */
static void test_no_sdp_unreadable(void **state)
{
	long mark = leakcheck_mark();
	struct cf_run *run = mem_zalloc(sizeof(*run), NULL);
	(void)state;

	run->made = true;
	add(run, 1, CF_CALLER, true, "UPDATE sip:alice@h SIP/2.0",
	    "30 UPDATE", true, NULL, "application/sdp", SDP_GW_V18);
	add(run, 2, CF_CALLER, false, "SIP/2.0 200 OK", "30 UPDATE", true,
	    NULL, "application/sdp", SDP_OFFER);
	/* two Content-Types: body_parse() gives up on it */
	add(run, 3, CF_CALLER, true, "SIP/2.0 200 OK", "10 INVITE", true,
	    "Content-Type: application/sdp\r\n", "application/sdp", SDP_GW);
	assert_int_equal(CF_FAIL, judge("CMR-GW-BT-SRV-07", run,
					"a body"));
	cf_run_reset(run);

	mem_deref(run);
	leakcheck_assert(mark);
}


/* Every message a selector picks is judged, not only the first 64. */
static void test_selector_whole(void **state)
{
	long mark = leakcheck_mark();
	struct cf_run *run = mem_zalloc(sizeof(*run), NULL);
	(void)state;

	run->made = true;
	add(run, 0, CF_CALLER, false, "INVITE sip:bob@h SIP/2.0", "1 INVITE",
	    false, NULL, "application/sdp", SDP_OFFER);
	for (int i = 0; i < 70; i++)
		add(run, (uint32_t)i + 1, CF_CALLER, true,
		    "SIP/2.0 180 Ringing", "1 INVITE", true, NULL, NULL,
		    NULL);
	add(run, 80, CF_CALLER, true, "SIP/2.0 183 Session Progress",
	    "1 INVITE", true, "Require: 100rel\r\nRSeq: 1\r\n", NULL, NULL);
	assert_int_equal(CF_FAIL, judge("RFC3261-EXT-SRV-01", run,
					"has 100rel"));
	cf_run_reset(run);

	mem_deref(run);
	leakcheck_assert(mark);
}


/* A NUL byte off the wire does not cut the evidence short; a trace that
 * was full says so. */
static void test_evidence_whole(void **state)
{
	static const char m[] = "SIP/2.0 200 O\0K\r\nVia: SIP/2.0/UDP h;"
		"branch=z9hG4bKx\r\nFrom: <sip:a@h>;tag=a\r\nTo: <sip:b@h>;"
		"tag=b\r\nCall-ID: x\r\nCSeq: 10 INVITE\r\n"
		"Content-Length: 0\r\n\r\n";
	long mark = leakcheck_mark();
	struct cf_run *run = mem_zalloc(sizeof(*run), NULL);
	(void)state;

	run->made = true;
	add(run, 0, CF_CALLER, false, "INVITE sip:bob@h SIP/2.0",
	    "10 INVITE", false, "Supported: 100rel\r\n", "application/sdp",
	    SDP_OFFER);
	add(run, 5, CF_CALLER, true, "SIP/2.0 183 Session Progress",
	    "10 INVITE", true, "Require: 100rel\r\nRSeq: 1\r\n",
	    "application/sdp", SDP_GW);
	assert_int_equal(0, cf_run_add(run, 6, CF_CALLER, true,
				       (const uint8_t *)m, sizeof(m) - 1));
	add(run, 7, CF_CALLER, false, "PRACK sip:bob@h SIP/2.0", "11 PRACK",
	    true, "RAck: 1 10 INVITE\r\n", NULL, NULL);
	assert_int_equal(CF_FAIL, judge("RFC3262-NO2XX-SRV-01", run,
					"RSeq 1"));
	cf_run_reset(run);

	run->made = true;
	for (int i = 0; i < CF_MSGS_MAX + 3; i++) {
		static const char o[] = "OPTIONS sip:h SIP/2.0\r\nVia: SIP/2.0"
			"/UDP h;branch=z9hG4bKx\r\nFrom: <sip:a@h>;tag=1\r\n"
			"To: <sip:b@h>\r\nCall-ID: y\r\nCSeq: 1 OPTIONS\r\n"
			"Content-Length: 0\r\n\r\n";

		(void)cf_run_add(run, (uint32_t)i, CF_CALLER, true,
				 (const uint8_t *)o, sizeof(o) - 1);
	}
	assert_int_equal(CF_FAIL, judge("CMR-HTTP-BT-SRV-01", run,
					"3 more were not kept"));
	cf_run_reset(run);

	mem_deref(run);
	leakcheck_assert(mark);
}

/* RFC 3262 3 (erratum 4600) and 4 (erratum 4603): the RSeq numbering is
 * per early dialog; each dialog's reliable 18x gets its own PRACK. */
static void test_rseq_per_dialog(void **state)
{
	long mark = leakcheck_mark();
	struct cf_run *run = mem_zalloc(sizeof(*run), NULL);
	(void)state;

	run->made = true;
	add(run, 0, CF_CALLEE, true, "INVITE sip:bob@h SIP/2.0", "20 INVITE",
	    false, NULL, "application/sdp", SDP_GW);
	add_to(run, 1, CF_CALLER, true, "SIP/2.0 183 Session Progress",
	       "10 INVITE", "as", "Require: 100rel\r\nRSeq: 100\r\n",
	       NULL, NULL);
	add_to(run, 2, CF_CALLER, true, "SIP/2.0 180 Ringing", "10 INVITE",
	       "b", "Require: 100rel\r\nRSeq: 5\r\n", NULL, NULL);
	add_to(run, 3, CF_CALLER, true, "SIP/2.0 180 Ringing", "10 INVITE",
	       "b", "Require: 100rel\r\nRSeq: 6\r\n", NULL, NULL);
	add_to(run, 4, CF_CALLER, true, "SIP/2.0 183 Session Progress",
	       "10 INVITE", "as", "Require: 100rel\r\nRSeq: 101\r\n",
	       NULL, NULL);
	assert_int_equal(CF_PASS, judge("RFC3262-RSEQ-SRV-01", run, NULL));
	add_to(run, 5, CF_CALLER, true, "SIP/2.0 183 Session Progress",
	       "10 INVITE", "as", "Require: 100rel\r\nRSeq: 103\r\n",
	       NULL, NULL);
	assert_int_equal(CF_FAIL, judge("RFC3262-RSEQ-SRV-01", run,
					"RSeq 103 after 101"));
	cf_run_reset(run);

	/* two early dialogs, both RSeq 1: one PRACK is not both */
	run->made = true;
	add_to(run, 1, CF_CALLEE, false, "SIP/2.0 180 Ringing", "20 INVITE",
	       "b", "Require: 100rel\r\nRSeq: 1\r\n", NULL, NULL);
	add_to(run, 2, CF_CALLEE, false, "SIP/2.0 180 Ringing", "20 INVITE",
	       "c", "Require: 100rel\r\nRSeq: 1\r\n", NULL, NULL);
	add_to(run, 3, CF_CALLEE, true, "PRACK sip:bob@h SIP/2.0",
	       "21 PRACK", "b", "RAck: 1 20 INVITE\r\n", NULL, NULL);
	assert_int_equal(CF_FAIL, judge("RFC3262-RACK-SRV-01", run,
					"no PRACK acknowledges RSeq 1"));
	add_to(run, 4, CF_CALLEE, true, "PRACK sip:bob@h SIP/2.0",
	       "22 PRACK", "c", "RAck: 1 20 INVITE\r\n", NULL, NULL);
	assert_int_equal(CF_PASS, judge("RFC3262-RACK-SRV-01", run, NULL));
	cf_run_reset(run);

	mem_deref(run);
	leakcheck_assert(mark);
}


/* libre's first decoding and printing set up what they keep for good;
 * that happens here, before any test's leak mark. */
static int group_setup(void **state)
{
	struct cf_run *run = mem_zalloc(sizeof(*run), NULL);
	struct cf_verdict_t v;
	(void)state;

	if (!run)
		return -1;
	gw_trace(run, "");
	for (size_t i = 0; i < cf_ncases; i++)
		cf_judge(&cf_cases[i], run, &v);
	cf_run_reset(run);
	mem_deref(run);

	return 0;
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_catalogue),
		cmocka_unit_test(test_selectors),
		cmocka_unit_test(test_run_add),
		cmocka_unit_test(test_id_match),
		cmocka_unit_test(test_gateway),
		cmocka_unit_test(test_as),
		cmocka_unit_test(test_http),
		cmocka_unit_test(test_evidence_bounded),
		cmocka_unit_test(test_no2xx_each_reliable),
		cmocka_unit_test(test_pem_absent),
		cmocka_unit_test(test_many_tokens),
		cmocka_unit_test(test_invite_sent_again),
		cmocka_unit_test(test_no_sdp_unreadable),
		cmocka_unit_test(test_selector_whole),
		cmocka_unit_test(test_evidence_whole),
		cmocka_unit_test(test_rseq_per_dialog),
	};

	return cmocka_run_group_tests(tests, group_setup, NULL);
}
