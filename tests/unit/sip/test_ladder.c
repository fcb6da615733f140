/**
 * @file test_ladder.c  SIP ladders: each mode's messages described for the
 *                      CMR, and rows printed as a terminal call flow
 *
 * The messages are the ones docs/wire.md shows for each mode, decoded by
 * libre as the server gets them; the notes are compared whole, so that a
 * change of wording or order shows here first.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <re.h>
#include "sip/ladder.h"
#include "tests/unit/sipmsg.h"
#include "tests/unit/leakcheck.h"

#define SDP_CALLER "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\n" \
	"c=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0 8 101\r\n" \
	"a=rtpmap:101 telephone-event/8000\r\n"
#define SDP_CALLEE "v=0\r\no=- 2 2 IN IP4 192.0.2.9\r\ns=-\r\n" \
	"c=IN IP4 192.0.2.9\r\nt=0 0\r\nm=audio 5000 RTP/AVP 8\r\n"
/* The server's early-session offer and gateway answer (docs/wire.md). */
#define SDP_AS "v=0\r\no=- 15 17 IN IP4 127.0.0.1\r\ns=-\r\n" \
	"c=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 20000 RTP/AVP 0 8\r\n" \
	"a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=sendonly\r\n"
#define SDP_GW "v=0\r\no=- 15 17 IN IP4 127.0.0.1\r\ns=-\r\n" \
	"c=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 20002 RTP/AVP 0\r\n" \
	"a=sendonly\r\n"
/* The caller's early-session answer; the address at media level. */
#define SDP_ES_ANSWER "v=0\r\no=- 3 3 IN IP6 ::1\r\ns=-\r\nt=0 0\r\n" \
	"m=video 0 RTP/AVP 31\r\nc=IN IP4 192.0.2.77\r\n" \
	"m=audio 4002 RTP/AVP 0\r\nc=IN IP6 2001:db8::1\r\na=recvonly\r\n"

#define URL_BT "<http://127.0.0.1:8080/r/ringback-default?call=c1>"
#define URL_RT "<http://127.0.0.1:8080/r/ringtone-default?call=c1>"


/* A response of the callee or the server: the status line, the CSeq,
 * header lines and an optional body of type ctype. */
static struct sip_msg *rsp(const char *status, const char *cseq,
			   const char *hdrs, const char *ctype,
			   const char *body)
{
	return sipmsg_decodef(
		"SIP/2.0 %s\r\n"
		"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\n"
		"From: <sip:alice@h>;tag=a\r\n"
		"To: <sip:bob@h>;tag=b\r\n"
		"Call-ID: x\r\n"
		"CSeq: %s\r\n"
		"%s"
		"%s%s%s"
		"Content-Length: %zu\r\n\r\n%s", status, cseq, hdrs,
		ctype ? "Content-Type: " : "", ctype ? ctype : "",
		ctype ? "\r\n" : "", body ? strlen(body) : (size_t)0,
		body ? body : "");
}


/* An in-dialog request. */
static struct sip_msg *req(const char *method, unsigned cseq,
			   const char *hdrs, const char *ctype,
			   const char *body)
{
	return sipmsg_decodef(
		"%s sip:alice@127.0.0.1:5070 SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK2\r\n"
		"From: <sip:alice@h>;tag=a\r\n"
		"To: <sip:bob@h>;tag=b\r\n"
		"Call-ID: x\r\n"
		"CSeq: %u %s\r\n"
		"%s"
		"%s%s%s"
		"Content-Length: %zu\r\n\r\n%s", method, cseq, method, hdrs,
		ctype ? "Content-Type: " : "", ctype ? ctype : "",
		ctype ? "\r\n" : "", body ? strlen(body) : (size_t)0,
		body ? body : "");
}


/* Describes msg, frees it and compares what and note whole. */
static void expect(struct sip_msg *msg, const char *what, const char *note)
{
	struct report_row row;

	memset(&row, 0x55, sizeof(row));
	ladder_describe(&row, msg);
	mem_deref(msg);

	assert_string_equal(what, row.what);
	assert_string_equal(note, row.note);
}


static void test_invite_as(void **state)
{
	long mark = leakcheck_mark();
	(void)state;

	expect(sipmsg_invite("Supported: 100rel, early-session\r\n"
			     "Allow: INVITE, ACK, BYE, PRACK, UPDATE\r\n",
			     SDP_CALLER),
	       "INVITE", "Supported 100rel, early-session; "
	       "SDP offer c=192.0.2.1:4000 PCMU PCMA telephone-event");

	/* The tags in two headers, in the other order. */
	expect(sipmsg_invite("Supported: early-session\r\n"
			     "Supported: timer, 100rel\r\n", NULL),
	       "INVITE", "Supported 100rel, early-session");

	leakcheck_assert(mark);
}


static void test_183_as_multipart(void **state)
{
	long mark = leakcheck_mark();
	(void)state;

	expect(rsp("183 Session Progress", "1 INVITE",
		   "Require: 100rel, early-session\r\n"
		   "RSeq: 77\r\n",
		   "multipart/mixed;boundary=cmrlab-0123456789abcdef",
		   "--cmrlab-0123456789abcdef\r\n"
		   "Content-Type: application/sdp\r\n"
		   "Content-Disposition: session\r\n\r\n" SDP_CALLEE
		   "\r\n--cmrlab-0123456789abcdef\r\n"
		   "Content-Type: application/sdp\r\n"
		   "Content-Disposition: early-session\r\n\r\n" SDP_AS
		   "\r\n--cmrlab-0123456789abcdef--\r\n"),
	       "183 Session Progress",
	       "early-session offer c=127.0.0.1:20000 PCMU PCMA sendonly "
	       "(multipart); Require 100rel, early-session; "
	       "RSeq 77; SDP answer c=192.0.2.9:5000 PCMA");

	/* The offer alone, as the body (no SDP from the callee). */
	expect(rsp("180 Ringing", "1 INVITE",
		   "Require: 100rel, early-session\r\nRSeq: 78\r\n"
		   "Content-Disposition: early-session\r\n",
		   "application/sdp", SDP_AS),
	       "180 Ringing",
	       "early-session offer c=127.0.0.1:20000 PCMU PCMA sendonly; "
	       "Require 100rel, early-session; RSeq 78");

	leakcheck_assert(mark);
}


static void test_http_alert_info(void **state)
{
	long mark = leakcheck_mark();
	(void)state;

	/* CMRBT: the 180 to the caller. */
	expect(rsp("180 Ringing", "1 INVITE", "Alert-Info: " URL_BT "\r\n",
		   NULL, NULL),
	       "180 Ringing", "Alert-Info " URL_BT);

	/* CMRT: the INVITE to the callee. */
	expect(sipmsg_invite("Alert-Info: " URL_RT "\r\n"
			     "Supported: 100rel\r\n", SDP_CALLER),
	       "INVITE", "Alert-Info " URL_RT "; Supported 100rel; "
	       "SDP offer c=192.0.2.1:4000 PCMU PCMA telephone-event");

	leakcheck_assert(mark);
}


static void test_gateway_and_early(void **state)
{
	long mark = leakcheck_mark();
	(void)state;

	expect(rsp("183 Session Progress", "1 INVITE",
		   "Require: 100rel\r\nRSeq: 1\r\n"
		   "P-Early-Media: sendrecv\r\n", "application/sdp", SDP_GW),
	       "183 Session Progress",
	       "Require 100rel; RSeq 1; P-Early-Media sendrecv; "
	       "SDP answer c=127.0.0.1:20002 PCMU sendonly");

	/* Early media to a plain caller: URL and answer, unreliable. */
	expect(rsp("180 Ringing", "1 INVITE", "Alert-Info: " URL_BT "\r\n",
		   "application/sdp", SDP_GW),
	       "180 Ringing", "Alert-Info " URL_BT "; "
	       "SDP answer c=127.0.0.1:20002 PCMU sendonly");

	/* The callee's SDP to the caller, in an UPDATE and a re-INVITE. */
	expect(req("UPDATE", 2, "", "application/sdp", SDP_CALLEE),
	       "UPDATE", "SDP offer c=192.0.2.9:5000 PCMA");
	expect(req("INVITE", 3, "", "application/sdp", SDP_CALLEE),
	       "INVITE", "SDP offer c=192.0.2.9:5000 PCMA");
	expect(rsp("200 OK", "2 UPDATE", "", "application/sdp", SDP_CALLER),
	       "200 OK (UPDATE)",
	       "SDP answer c=192.0.2.1:4000 PCMU PCMA telephone-event");

	leakcheck_assert(mark);
}


static void test_prack(void **state)
{
	long mark = leakcheck_mark();
	(void)state;

	expect(req("PRACK", 2, "RAck: 77 1 INVITE\r\n"
		   "Content-Disposition: early-session\r\n",
		   "application/sdp", SDP_ES_ANSWER),
	       "PRACK", "early-session answer c=[2001:db8::1]:4002 PCMU "
	       "recvonly; RAck 77 1 INVITE");

	expect(req("PRACK", 2, "RAck: 1 1 INVITE\r\n", NULL, NULL),
	       "PRACK", "RAck 1 1 INVITE");
	expect(rsp("200 OK", "2 PRACK", "", NULL, NULL), "200 OK (PRACK)", "");

	/* CMRT: our PRACK offers the early session, the callee's 200
	 * answers it. */
	expect(req("PRACK", 2, "RAck: 9 1 INVITE\r\n"
		   "Require: early-session\r\n"
		   "Content-Disposition: early-session\r\n",
		   "application/sdp", SDP_AS),
	       "PRACK", "early-session offer c=127.0.0.1:20000 PCMU PCMA "
	       "sendonly; Require early-session; RAck 9 1 INVITE");
	expect(rsp("200 OK", "2 PRACK", "Content-Disposition: early-session"
		   "\r\n", "application/sdp", SDP_CALLEE),
	       "200 OK (PRACK)",
	       "early-session answer c=192.0.2.9:5000 PCMA");

	leakcheck_assert(mark);
}


static void test_final(void **state)
{
	struct report_row row;
	struct sip_msg *msg;
	long mark = leakcheck_mark();
	(void)state;

	expect(rsp("200 OK", "1 INVITE", "Supported: 100rel, timer\r\n",
		   NULL, NULL),
	       "200 OK", "Supported 100rel; no SDP");
	expect(rsp("200 OK", "1 INVITE", "", "application/sdp", SDP_CALLEE),
	       "200 OK", "SDP answer c=192.0.2.9:5000 PCMA");
	expect(req("BYE", 4, "", NULL, NULL), "BYE", "");
	expect(req("ACK", 1, "", NULL, NULL), "ACK", "");
	expect(rsp("487 Request Terminated", "1 INVITE", "", NULL, NULL),
	       "487 Request Terminated", "");
	expect(rsp("415 Unsupported Media Type", "1 INVITE", "",
		   "text/plain", "hello"),
	       "415 Unsupported Media Type", "body text/plain");

	/* The caller's word on offer and answer: a late offer's 2xx. */
	msg = rsp("200 OK", "1 INVITE", "", "application/sdp", SDP_CALLEE);
	ladder_describe_as(&row, msg, LADDER_SDP_OFFER);
	assert_string_equal("SDP offer c=192.0.2.9:5000 PCMA", row.note);
	ladder_describe_as(&row, msg, LADDER_SDP_ANSWER);
	assert_string_equal("SDP answer c=192.0.2.9:5000 PCMA", row.note);
	mem_deref(msg);

	ladder_describe(&row, NULL);
	assert_string_equal("", row.what);
	ladder_describe(NULL, NULL);

	leakcheck_assert(mark);
}


/* Long values are cut to fit: the method of a response survives a long
 * reason, and the note ends in "..." within its 160 bytes. */
static void test_cut(void **state)
{
	char url[400], hdrs[512];
	struct report_row row;
	struct sip_msg *msg;
	long mark;
	(void)state;

	memset(url, 'u', sizeof(url));
	url[sizeof(url) - 1] = '\0';
	mark = leakcheck_mark();

	msg = rsp("481 Call/Transaction Does Not Exist, Really Not At All",
		  "5 PRACK", "", NULL, NULL);
	ladder_describe(&row, msg);
	mem_deref(msg);
	assert_true(strlen(row.what) < sizeof(row.what));
	assert_non_null(strstr(row.what, "481 Call/Transaction"));
	assert_non_null(strstr(row.what, " (PRACK)"));

	snprintf(hdrs, sizeof(hdrs), "Alert-Info: <http://%s>\r\n"
		 "RSeq: 5\r\n", url);
	msg = rsp("180 Ringing", "1 INVITE", hdrs, NULL, NULL);
	ladder_describe(&row, msg);
	mem_deref(msg);
	assert_int_equal(sizeof(row.note) - 1, strlen(row.note));
	assert_ptr_equal(row.note, strstr(row.note, "Alert-Info <http://uuu"));
	assert_non_null(strstr(row.note, "uuu..."));
	assert_null(strstr(row.note, "RSeq"));

	/* A first piece that fits and a second that does not. */
	snprintf(hdrs, sizeof(hdrs), "Alert-Info: <http://x>\r\n"
		 "P-Early-Media: %s\r\n", url);
	msg = rsp("180 Ringing", "1 INVITE", hdrs, NULL, NULL);
	ladder_describe(&row, msg);
	mem_deref(msg);
	assert_int_equal(sizeof(row.note) - 1, strlen(row.note));
	assert_ptr_equal(row.note, strstr(row.note, "Alert-Info <http://x>; "
					  "P-Early-Media uuu"));
	assert_non_null(strstr(row.note, "uuu..."));

	leakcheck_assert(mark);
}


/* Columns of a line: its characters, ESC sequences left out. */
static size_t columns(const char *s, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\x1b') {
			while (i < n && s[i] != 'm')
				++i;
			continue;
		}
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			++k;
	}

	return k;
}


static void check_width(const char *out)
{
	for (const char *p = out; *p; ) {
		const char *nl = strchr(p, '\n');

		assert_non_null(nl);
		assert_true(columns(p, (size_t)(nl - p)) <= 100);
		p = nl + 1;
	}
}


static char *print_rows(const struct report_row *rows, size_t n,
			bool color)
{
	static const char *const names[3] = {"alice", "cmrlab", "bob"};
	char *buf = NULL;
	size_t sz = 0;
	FILE *f = open_memstream(&buf, &sz);

	assert_non_null(f);
	ladder_head_print(f, names, color);
	for (size_t i = 0; i < n; i++)
		ladder_row_print(f, &rows[i], color);
	assert_int_equal(0, fclose(f));
	assert_non_null(buf);
	check_width(buf);

	return buf;
}


static void test_print(void **state)
{
	static const struct report_row rows[] = {
		{0, RCOL_CALLER, RCOL_SERVER, "INVITE",
		 "Supported 100rel, early-session; SDP offer "
		 "c=192.0.2.1:4000 PCMU"},
		{1234, RCOL_SERVER, RCOL_CALLER, "183 Session Progress",
		 "early-session offer c=127.0.0.1:20000 PCMU PCMA sendonly "
		 "(multipart); Require 100rel, early-session; RSeq 77; "
		 "SDP answer c=192.0.2.9:5000 PCMA"},
		{1300, RCOL_SERVER, RCOL_CALLEE, "200 OK (PRACK)", ""},
		{1400, RCOL_CALLEE, RCOL_CALLER, "487 Request Terminated "
		 "(INVITE)", "across"},
		{123456, RCOL_CALLEE, RCOL_CALLEE, "timer C", "self"},
		/* A label that ends right at the note's column. */
		{7, RCOL_CALLEE, RCOL_CALLEE, "XY",
		 "a note of thirty-five columns: here and more"},
		{5, 7, 9, "BYE", "bad \x1b[2J ctl \xc2\x9b c1 \xff byte"},
	};
	long mark = leakcheck_mark();
	char *out;
	(void)state;

	out = print_rows(rows, sizeof(rows) / sizeof(rows[0]), false);
	assert_null(strchr(out, '\x1b'));
	assert_null(strstr(out, "\xc2\x9b"));
	assert_null(strstr(out, "\xff"));
	assert_non_null(strstr(out, "alice"));
	assert_non_null(strstr(out, "bob"));

	/* Arrows both ways, with their text and time; the lifelines line
	 * up: the INVITE's arrow starts on the caller's. */
	assert_non_null(strstr(out, "  +0.000s |--INVITE"));
	assert_non_null(strstr(out, "-->|"));
	assert_non_null(strstr(out, "|<--183 Session Progress--|"));
	assert_non_null(strstr(out, "+1.234s |<--183"));
	assert_non_null(strstr(out, "|--200 OK (PRACK)-"));
	assert_non_null(strstr(out, "+123.456s"));
	assert_non_null(strstr(out, "|<--487 Request Terminated (INVITE)"));
	assert_non_null(strstr(out, "*timer C"));
	assert_non_null(strstr(out, "*XY\n"));

	/* Notes: after the lifelines, on as many lines as they need. */
	assert_non_null(strstr(out, "|  Supported 100rel, early-session;"));
	assert_non_null(strstr(out, "RSeq 77;"));
	assert_non_null(strstr(out, "          |  "
			       "answer c=192.0.2.9:5000 PCMA\n"));
	assert_non_null(strstr(out, "bad ?[2J ctl ? c1 ? byte"));
	free(out);

	/* Colours: cyan requests, yellow 1xx, green 2xx, red others. */
	out = print_rows(rows, sizeof(rows) / sizeof(rows[0]), true);
	assert_non_null(strstr(out, "\x1b[36m|--INVITE"));
	assert_non_null(strstr(out, "\x1b[33m|<--183"));
	assert_non_null(strstr(out, "\x1b[32m|--200 OK"));
	assert_non_null(strstr(out, "\x1b[31m|<--487"));
	assert_non_null(strstr(out, "\x1b[0m"));
	free(out);

	leakcheck_assert(mark);
}


/* libre's decoder and the memstream allocate some things once. */
static int group_setup(void **state)
{
	struct sip_msg *msg;
	char *buf = NULL;
	size_t sz = 0;
	FILE *f;

	(void)state;
	msg = sipmsg_invite("Supported: 100rel\r\n", SDP_CALLER);
	f = open_memstream(&buf, &sz);
	if (!msg || !f)
		return -1;
	ladder_row_print(f, &(struct report_row){0, 0, 1, "INVITE", "x"},
			 true);
	fclose(f);
	free(buf);
	mem_deref(msg);

	return 0;
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_invite_as),
		cmocka_unit_test(test_183_as_multipart),
		cmocka_unit_test(test_http_alert_info),
		cmocka_unit_test(test_gateway_and_early),
		cmocka_unit_test(test_prack),
		cmocka_unit_test(test_final),
		cmocka_unit_test(test_cut),
		cmocka_unit_test(test_print),
	};

	return cmocka_run_group_tests(tests, group_setup, NULL);
}
