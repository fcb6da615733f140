/**
 * @file test_validate.c  RFC 4475's torture messages against the first
 *                        look at every request: rawin (before libre's
 *                        decoder) and sipval_request (after it)
 *
 * The messages are tests/rfc4475/<name>.sip, byte-exact, one per case of
 * RFC 4475 section 3, written from the RFC's descriptions (the names are
 * the RFC's).  The integration test tests/integration/test_torture.py
 * sends the same files to the running server.  Run from the top of the
 * tree (make does).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <re.h>
#include "sip/sip_int.h"
#include "../leakcheck.h"
#include "../sipmsg.h"

#define DIR "tests/rfc4475/"

/* Where a message is decided. */
enum stage {
	MSG,        /* libre decodes it; sipval_request says scode (0: ok) */
	REWRITE,    /* RFC 2543: rawin adds a branch, then as MSG */
	RAW,        /* libre cannot decode it; rawin answers scode */
	RESPONSE,   /* a response: libre decodes it, we never answer one */
};

static const struct tcase {
	const char *name;
	const char *section;       /* of RFC 4475 */
	enum stage stage;
	uint16_t scode;            /* of that stage; 0: accepted */
	const char *why;           /* the 400's reason phrase, or NULL */
} cases[] = {
	/* 3.1.1 Valid messages: "processed", 0 here.  What the server
	 * then answers (481, 501, 404, 200, ...) is the integration
	 * test's; the unknown methods are the validator's 501. */
	{"wsinv",      "3.1.1.1",  MSG,      0,   NULL},
	{"intmeth",    "3.1.1.2",  MSG,      501, NULL},
	{"esc01",      "3.1.1.3",  MSG,      0,   NULL},
	{"escnull",    "3.1.1.4",  MSG,      0,   NULL},
	{"esc02",      "3.1.1.5",  MSG,      501, NULL},
	{"lwsdisp",    "3.1.1.6",  MSG,      0,   NULL},
	/* The top Via has no branch: libre would drop it. */
	{"longreq",    "3.1.1.7",  REWRITE,  0,   NULL},
	{"dblreq",     "3.1.1.8",  MSG,      0,   NULL},
	{"semiuri",    "3.1.1.9",  MSG,      0,   NULL},
	{"transports", "3.1.1.10", MSG,      0,   NULL},
	{"mpart01",    "3.1.1.11", MSG,      0,   NULL},
	{"unreason",   "3.1.1.12", RESPONSE, 0,   NULL},
	{"noreason",   "3.1.1.13", RESPONSE, 0,   NULL},

	/* 3.1.2 Invalid messages.  "should respond with a 400" unless
	 * noted. */
	{"badinv01",   "3.1.2.1",  REWRITE,  400, "malformed Via"},
	{"clerr",      "3.1.2.2",  MSG,      400,
	 "Content-Length larger than the message"},
	{"ncl",        "3.1.2.3",  MSG,      400, "bad Content-Length"},
	/* "should respond with a 400 Bad Request due to the CSeq error" */
	{"scalar02",   "3.1.2.4",  MSG,      400, "missing or bad CSeq"},
	{"scalarlg",   "3.1.2.5",  RESPONSE, 0,   NULL},
	{"quotbal",    "3.1.2.6",  MSG,      400, "malformed From or To"},
	/* "reasonable always to reject ... with a 400" */
	{"ltgtruri",   "3.1.2.7",  MSG,      400, "malformed Request-URI"},
	{"lwsruri",    "3.1.2.8",  RAW,      400, "malformed Request-Line"},
	/* "acceptable to reject this request as malformed" */
	{"lwsstart",   "3.1.2.9",  RAW,      400, "malformed Request-Line"},
	{"trws",       "3.1.2.10", RAW,      400, "malformed Request-Line"},
	/* "acceptable for an element to reject this request with a 400" */
	{"escruri",    "3.1.2.11", MSG,      400, "Request-URI with headers"},
	/* Date is not important to us: "could ignore this value" */
	{"baddate",    "3.1.2.12", MSG,      0,   NULL},
	{"regbadct",   "3.1.2.13", MSG,      400, "malformed Contact"},
	{"badaspec",   "3.1.2.14", MSG,      400, "malformed From or To"},
	{"baddn",      "3.1.2.15", MSG,      400, "malformed From or To"},
	/* "should respond ... with a 505 Version Not Supported" */
	{"badvers",    "3.1.2.16", RAW,      505, NULL},
	{"mismatch01", "3.1.2.17", MSG,      400,
	 "CSeq method does not match the request"},
	/* "should respond with a 501 ... better future-proof" than 400 */
	{"mismatch02", "3.1.2.18", MSG,      501, NULL},
	{"bigcode",    "3.1.2.19", RESPONSE, 0,   NULL},

	/* 3.2.1: "could reject the request with a 400" (statelessly) */
	{"badbranch",  "3.2.1",    MSG,      400,
	 "Via branch without a transaction id"},

	/* 3.3 Application-layer semantics */
	/* "Ideally, it will respond with a 400" */
	{"insuf",      "3.3.1",    MSG,      400, "missing Call-ID"},
	/* "will reject it with a 416 Unsupported URI Scheme" */
	{"unkscm",     "3.3.2",    MSG,      416, NULL},
	/* "never accept this scheme ... return a 416" */
	{"novelsc",    "3.3.3",    MSG,      416, NULL},
	/* "A registrar would reject this request with a 400": To is not a
	 * SIP URI, which libre cannot even decode. */
	{"unksm2",     "3.3.4",    RAW,      400, "malformed request"},
	/* 420 from the Require check after validation */
	{"bext01",     "3.3.5",    MSG,      0,   NULL},
	/* 415 from the B2BUA's body check */
	{"invut",      "3.3.6",    MSG,      0,   NULL},
	{"regaut01",   "3.3.7",    MSG,      0,   NULL},
	/* "would respond with a 400 Bad Request error" */
	{"multi01",    "3.3.8",    MSG,      400, "several Call-ID values"},
	/* "should respond with an error" */
	{"mcl01",      "3.3.9",    MSG,      400,
	 "several Content-Length values"},
	{"bcast",      "3.3.10",   RESPONSE, 0,   NULL},
	/* an endpoint processes it "as if ... still positive" */
	{"zeromf",     "3.3.11",   MSG,      0,   NULL},
	{"cparam01",   "3.3.12",   MSG,      0,   NULL},
	{"cparam02",   "3.3.13",   MSG,      0,   NULL},
	{"regescrt",   "3.3.14",   MSG,      0,   NULL},
	/* 406 from sipval_accepts_sdp(), see test_accept */
	{"sdp01",      "3.3.15",   MSG,      0,   NULL},

	/* 3.4 "should be accepted by RFC 3261 elements that want to
	 * maintain backwards compatibility" */
	{"inv2543",    "3.4",      REWRITE,  0,   NULL},
};


static struct mbuf *load(const char *name)
{
	char path[128];
	uint8_t buf[8192];
	struct mbuf *mb;
	size_t n;
	FILE *f;

	(void)re_snprintf(path, sizeof(path), DIR "%s.sip", name);
	f = fopen(path, "rb");
	if (!f)
		fail_msg("%s: cannot open (run from the top of the tree)",
			 path);
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);

	mb = mbuf_alloc(n);
	assert_non_null(mb);
	assert_int_equal(0, mbuf_write_mem(mb, buf, n));
	mb->pos = 0;

	return mb;
}


static struct sip_msg *decode(struct mbuf *mb)
{
	struct sip_msg *msg = NULL;

	if (sip_msg_decode(&msg, mb))
		return NULL;
	msg->tp = SIP_TRANSP_UDP;

	return msg;
}


static void test_torture(void **state)
{
	unsigned seen = 0;
	long mark;
	(void)state;

	mark = leakcheck_mark();

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct tcase *c = &cases[i];
		struct mbuf *mb = load(c->name);
		struct sip_msg *msg;
		enum rawin_verdict v;
		const char *why = NULL;
		uint16_t scode;

		v = rawin_check(mb, &scode, &why);

		switch (c->stage) {

		case RAW:
			if (v != RAWIN_ANSWER || scode != c->scode)
				fail_msg("%s (%s): rawin %d %u, want an "
					 "answer %u", c->name, c->section, v,
					 scode, c->scode);
			if (c->why && (!why || strcmp(why, c->why)))
				fail_msg("%s: why %s, want %s", c->name,
					 why, c->why);
			break;

		case RESPONSE:
			if (v != RAWIN_PASS)
				fail_msg("%s: rawin %d on a response",
					 c->name, v);
			msg = decode(mb);
			if (!msg || msg->req)
				fail_msg("%s: not decoded as a response",
					 c->name);
			mem_deref(msg);
			break;

		case MSG:
		case REWRITE:
			if (v != (c->stage == MSG ? RAWIN_PASS :
				  RAWIN_REWRITTEN))
				fail_msg("%s (%s): rawin %d (%u %s)", c->name,
					 c->section, v, scode,
					 why ? why : "");
			msg = decode(mb);
			if (!msg || !msg->req)
				fail_msg("%s: libre does not decode it",
					 c->name);
			scode = sipval_request(msg, &why);
			if (scode != c->scode)
				fail_msg("%s (%s): %u %s, want %u", c->name,
					 c->section, scode, why ? why : "",
					 c->scode);
			if (c->why && (!why || strcmp(why, c->why)))
				fail_msg("%s: why %s, want %s", c->name,
					 why, c->why);
			mem_deref(msg);
			break;
		}

		++seen;
		mem_deref(mb);
	}

	/* Every case of RFC 4475 section 3 */
	assert_int_equal(seen, 49);
	leakcheck_assert(mark);
}


/* 3.1.1.1: what libre and we make of the tortuous header values */
static void test_wsinv(void **state)
{
	struct mbuf *mb;
	struct sip_msg *msg;
	uint32_t n;
	long mark;
	(void)state;

	mark = leakcheck_mark();
	mb = load("wsinv");
	msg = decode(mb);
	assert_non_null(msg);

	assert_true(sipval_u32(&msg->maxfwd, &n));
	assert_int_equal(n, 68);
	assert_int_equal(msg->cseq.num, 9);
	assert_int_equal(0, pl_strcmp(&msg->cseq.met, "INVITE"));
	assert_int_equal(0, pl_strcmp(&msg->to.tag, "8321234356"));
	assert_int_equal(0, pl_strcmp(&msg->from.tag, "9fxced76sl"));
	assert_int_equal(0, pl_strcmp(&msg->via.branch, "7xkvqa21wsinv"));
	assert_int_equal(sip_msg_hdr_count(msg, SIP_HDR_VIA), 3);
	assert_int_equal(0, sipval_request(msg, NULL));

	mem_deref(msg);
	mem_deref(mb);
	leakcheck_assert(mark);
}


/* 3.1.1.8: the datagram holds more than Content-Length says */
static void test_dblreq(void **state)
{
	struct mbuf *mb;
	struct sip_msg *msg;
	uint32_t clen;
	long mark;
	(void)state;

	mark = leakcheck_mark();
	mb = load("dblreq");
	msg = decode(mb);
	assert_non_null(msg);
	assert_true(sipval_u32(&msg->clen, &clen));
	assert_int_equal(clen, 0);
	assert_true(mbuf_get_left(msg->mb) > 400);
	assert_int_equal(0, pl_strcmp(&msg->met, "REGISTER"));

	mem_deref(msg);
	mem_deref(mb);
	leakcheck_assert(mark);
}


/* 3.1.1.4: the AOR keeps its escaped NUL; nothing shortens it */
static void test_escnull(void **state)
{
	struct mbuf *mb;
	struct sip_msg *msg;
	long mark;
	(void)state;

	mark = leakcheck_mark();
	mb = load("escnull");
	msg = decode(mb);
	assert_non_null(msg);
	assert_int_equal(0, pl_strcmp(&msg->to.uri.user, "null-%00-null"));
	assert_int_equal(sip_msg_hdr_count(msg, SIP_HDR_CONTACT), 2);

	mem_deref(msg);
	mem_deref(mb);
	leakcheck_assert(mark);
}


/* 3.3.15: no Accept value allows application/sdp */
static void test_accept(void **state)
{
	static const struct {
		const char *name;
		bool sdp;
	} v[] = {
		{"sdp01", false}, {"wsinv", true}, {"esc01", true},
		{"semiuri", true}, {"transports", true},
	};
	long mark;
	(void)state;

	mark = leakcheck_mark();
	for (size_t i = 0; i < ARRAY_SIZE(v); i++) {
		struct mbuf *mb = load(v[i].name);
		struct sip_msg *msg = decode(mb);

		assert_non_null(msg);
		if (sipval_accepts_sdp(msg) != v[i].sdp)
			fail_msg("%s: accepts sdp %d", v[i].name, !v[i].sdp);
		mem_deref(msg);
		mem_deref(mb);
	}
	leakcheck_assert(mark);
}


/* 3.1.2.16: the stateless 505 copies Via, From, To (a tag added),
 * Call-ID and CSeq as written. */
static void test_answer(void **state)
{
	static const char want[] =
		"SIP/2.0 505 Version Not Supported\r\n"
		"Via: SIP/7.0/UDP c.example.com;branch=z9hG4bKbadvers\r\n"
		"From: A. Bell <sip:a.g.bell@example.com>;tag=bver1\r\n"
		"To: T. Watson <sip:t.watson@example.org>;"
		"tag=0000000000001234\r\n"
		"Call-ID: badvers.31417@c.example.com\r\n"
		"CSeq: 1 OPTIONS\r\n";
	struct mbuf *mb, *out = NULL;
	const char *why;
	uint16_t scode;
	struct pl rsp;
	long mark;
	(void)state;

	mark = leakcheck_mark();
	mb = load("badvers");
	assert_int_equal(RAWIN_ANSWER, rawin_check(mb, &scode, &why));
	assert_int_equal(scode, 505);
	assert_int_equal(0, rawin_answer(&out, mb, scode,
					 sipval_reason(scode), 0x1234));

	rsp.p = (const char *)mbuf_buf(out);
	rsp.l = mbuf_get_left(out);
	assert_true(rsp.l > strlen(want));
	assert_int_equal(0, memcmp(rsp.p, want, strlen(want)));
	assert_non_null(memmem(rsp.p, rsp.l, "Content-Length: 0\r\n\r\n",
			       21));

	/* Without the headers a response needs, there is none. */
	mem_deref(out);
	out = NULL;
	mem_deref(mb);
	mb = mbuf_alloc(64);
	assert_int_equal(0, mbuf_write_str(mb, "HELLO WORLD SIP/7.0\r\n\r\n"));
	mb->pos = 0;
	assert_int_equal(RAWIN_DROP, rawin_check(mb, &scode, &why));
	assert_int_equal(EBADMSG, rawin_answer(&out, mb, 505, "x", 1));
	assert_null(out);

	mem_deref(mb);
	leakcheck_assert(mark);
}


/* 3.4: the branch rawin adds is the RFC 2543 transaction identity, the
 * same for a retransmission and for the ACK of a final response. */
static void test_2543_branch(void **state)
{
	struct mbuf *a, *b, *ack;
	struct sip_msg *ma, *mb_, *mack;
	const char *via = "Via: SIP/2.0/UDP iftgw.example.com;"
		"branch=cmrlab2543.";
	const char *why;
	uint16_t scode;
	struct pl hex;
	void *p;
	long mark;
	(void)state;

	mark = leakcheck_mark();
	a = load("inv2543");
	b = load("inv2543");
	ack = mbuf_alloc(512);
	assert_int_equal(0, mbuf_write_str(ack,
		"ACK sip:carol@example.com SIP/2.0\r\n"
		"Via: SIP/2.0/UDP iftgw.example.com\r\n"
		"From: <sip:+13035551111@ift.client.example.net"
		";user=phone>\r\n"
		"To: sip:+16505552222@ss1.example.net;user=phone;tag=x1\r\n"
		"Call-ID: inv2543.1717@ift.client.example.com\r\n"
		"CSeq: 56 ACK\r\n"
		"Content-Length: 0\r\n\r\n"));
	ack->pos = 0;

	assert_int_equal(RAWIN_REWRITTEN, rawin_check(a, &scode, &why));
	assert_int_equal(RAWIN_REWRITTEN, rawin_check(b, &scode, &why));
	assert_int_equal(RAWIN_REWRITTEN, rawin_check(ack, &scode, &why));

	ma = decode(a);
	mb_ = decode(b);
	mack = decode(ack);
	assert_non_null(ma);
	assert_non_null(mb_);
	assert_non_null(mack);

	assert_int_equal(0, re_regex(ma->via.branch.p, ma->via.branch.l,
				     "cmrlab2543.[0-9a-f]+", &hex));
	assert_int_equal(hex.l, 16);
	assert_int_equal(0, pl_cmp(&ma->via.branch, &mb_->via.branch));
	assert_int_equal(0, pl_cmp(&ma->via.branch, &mack->via.branch));
	/* Only the branch was added: the body is where it was. */
	assert_int_equal(mbuf_get_left(ma->mb), 102);
	p = memmem(ma->mb->buf, ma->mb->end, via, strlen(via));
	assert_non_null(p);

	/* Over UDP the missing From tag of RFC 2543 is fine. */
	assert_false(pl_isset(&ma->from.tag));
	assert_int_equal(0, sipval_request(ma, NULL));

	/* A request that has a branch is left alone. */
	mem_deref(b);
	b = load("wsinv");
	assert_int_equal(RAWIN_PASS, rawin_check(b, &scode, &why));

	mem_deref(mack);
	mem_deref(mb_);
	mem_deref(ma);
	mem_deref(ack);
	mem_deref(b);
	mem_deref(a);
	leakcheck_assert(mark);
}


/* An RFC 2543 request that does not decode even with the branch rawin
 * adds is answered 400, except an ACK, which is dropped.  Adding the
 * branch grows the buffer, which may move it: the verdict must not read
 * the request where it was (make asan saw it read there). */
static void test_2543_still_bad(void **state)
{
	static const char *text[] = {
		"ACK sip:b@h SIP/2.0\r\n"
		"Via: SIP/2.0/[trap:8 PCMA\r\n"
		"From: <sip:a@h>;tag=1\r\nTo: <sip:b@h>;tag=2\r\n"
		"Call-ID: c\r\nCSeq: 1 ACK\r\n"
		"Content-Length: 0\r\n\r\n",
		"BYE sip:b@h SIP/2.0\r\n"
		"Via: SIP/2.0/[trap:8 PCMA\r\n"
		"From: <sip:a@h>;tag=1\r\nTo: <sip:b@h>;tag=2\r\n"
		"Call-ID: c\r\nCSeq: 1 BYE\r\n"
		"Content-Length: 0\r\n\r\n",
	};
	static const enum rawin_verdict want[] = { RAWIN_DROP, RAWIN_ANSWER };
	const char *why;
	uint16_t scode;
	long mark;
	(void)state;

	mark = leakcheck_mark();
	for (size_t i = 0; i < ARRAY_SIZE(text); i++) {
		/* Exactly full: the branch cannot fit where it is. */
		struct mbuf *mb = mbuf_alloc(strlen(text[i]));

		assert_int_equal(0, mbuf_write_str(mb, text[i]));
		mb->pos = 0;
		assert_int_equal(want[i], rawin_check(mb, &scode, &why));
		assert_int_equal(400, scode);
		assert_non_null(memmem(mb->buf, mb->end, ";branch=cmrlab2543.",
				       19));
		mem_deref(mb);
	}
	leakcheck_assert(mark);
}


/* Datagrams that are not requests pass untouched: STUN, keep-alives. */
static void test_not_sip(void **state)
{
	static const uint8_t stun[] = {
		0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42,
		1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
	};
	struct mbuf *mb;
	const char *why;
	uint16_t scode;
	long mark;
	(void)state;

	mark = leakcheck_mark();
	mb = mbuf_alloc(64);
	assert_int_equal(0, mbuf_write_mem(mb, stun, sizeof(stun)));
	mb->pos = 0;
	assert_int_equal(RAWIN_PASS, rawin_check(mb, &scode, &why));
	mem_deref(mb);

	mb = mbuf_alloc(8);
	assert_int_equal(0, mbuf_write_str(mb, "\r\n\r\n"));
	mb->pos = 0;
	assert_int_equal(RAWIN_PASS, rawin_check(mb, &scode, &why));
	mem_deref(mb);

	leakcheck_assert(mark);
}


/* RFC 3261 25.1: a URI starts with its scheme.  libre decodes a Contact
 * URI with the scheme further in all the same (its pattern is not
 * anchored), and a dialog with that remote target read freed memory
 * after its next target refresh (fuzz_sip): such a Contact is
 * malformed. */
static void test_contact_scheme_first(void **state)
{
	static const struct {
		const char *val;
		bool misparsed;
	} v[] = {
		{"<sip:bob@127.0.0.1:5060>", false},
		{"\"Bob\" <sips:bob@example.com;transport=tcp>;q=0.5", false},
		{"sip:bob@127.0.0.1;expires=60", false},
		{"<tel:+15551234567>", false},
		{"*", false},                    /* not a URI: libre's own */
		{"<:sip:bob@127.0.0.1:5060>", true},
		{"::sip:bob@127.0.0.1", true},
		{"<sip:/x:5060>", true},         /* scheme "/x" */
	};
	struct sip_msg *msg;
	const char *why = NULL;
	long mark;
	(void)state;

	mark = leakcheck_mark();

	for (size_t i = 0; i < ARRAY_SIZE(v); i++) {
		struct pl val;

		pl_set_str(&val, v[i].val);
		if (sipval_contact_misparsed(&val) != v[i].misparsed)
			fail_msg("'%s': misparsed %d, want %d", v[i].val,
				 !v[i].misparsed, v[i].misparsed);
	}

	msg = sipmsg_decode("INVITE sip:bob@127.0.0.1 SIP/2.0\r\n"
			    "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKc1"
			    "\r\n"
			    "From: <sip:alice@127.0.0.1>;tag=a1\r\n"
			    "To: <sip:bob@127.0.0.1>\r\n"
			    "Call-ID: c1\r\n"
			    "CSeq: 1 INVITE\r\n"
			    "Contact: <:sip:alice@127.0.0.1:5070>\r\n"
			    "Content-Length: 0\r\n\r\n");
	assert_int_equal(400, sipval_request(msg, &why));
	assert_string_equal(why, "malformed Contact");
	mem_deref(msg);

	/* The second Contact counts too; "*" of a REGISTER stays fine. */
	msg = sipmsg_decode("UPDATE sip:bob@127.0.0.1 SIP/2.0\r\n"
			    "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKc2"
			    "\r\n"
			    "From: <sip:alice@127.0.0.1>;tag=a1\r\n"
			    "To: <sip:bob@127.0.0.1>;tag=b1\r\n"
			    "Call-ID: c1\r\n"
			    "CSeq: 2 UPDATE\r\n"
			    "Contact: <sip:alice@127.0.0.1:5070>, "
			    "<sip:/x:5060>\r\n"
			    "Content-Length: 0\r\n\r\n");
	assert_int_equal(400, sipval_request(msg, &why));
	mem_deref(msg);

	msg = sipmsg_decode("REGISTER sip:127.0.0.1 SIP/2.0\r\n"
			    "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKc3"
			    "\r\n"
			    "From: <sip:bob@127.0.0.1>;tag=r1\r\n"
			    "To: <sip:bob@127.0.0.1>\r\n"
			    "Call-ID: c2\r\n"
			    "CSeq: 3 REGISTER\r\n"
			    "Contact: *\r\n"
			    "Expires: 0\r\n"
			    "Content-Length: 0\r\n\r\n");
	assert_int_equal(0, sipval_request(msg, &why));
	mem_deref(msg);

	leakcheck_assert(mark);
}


static void test_u32(void **state)
{
	static const struct {
		const char *s;
		bool ok;
		uint32_t v;
	} v[] = {
		{"0068", true, 68}, {"0", true, 0}, {"4294967295", true,
		 4294967295u}, {"4294967296", false, 0},
		{"36893488147419103232", false, 0}, {"", false, 0},
		{"-1", false, 0}, {"1 ", false, 0}, {"00000000000000000001",
		 true, 1},
	};
	(void)state;

	for (size_t i = 0; i < ARRAY_SIZE(v); i++) {
		struct pl pl;
		uint32_t n = 0;

		pl_set_str(&pl, v[i].s);
		assert_int_equal(sipval_u32(&pl, &n), v[i].ok);
		if (v[i].ok)
			assert_int_equal(n, v[i].v);
	}
}


static int group_setup(void **state)
{
	struct mbuf *mb;
	struct sip_msg *msg;
	(void)state;

	/* One round first: libraries' one-time allocations happen here,
	 * before any test takes its leak-check mark. */
	mb = load("wsinv");
	msg = decode(mb);
	(void)sipval_request(msg, NULL);
	mem_deref(msg);
	mem_deref(mb);

	return 0;
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_torture),
		cmocka_unit_test(test_wsinv),
		cmocka_unit_test(test_dblreq),
		cmocka_unit_test(test_escnull),
		cmocka_unit_test(test_accept),
		cmocka_unit_test(test_answer),
		cmocka_unit_test(test_2543_branch),
		cmocka_unit_test(test_2543_still_bad),
		cmocka_unit_test(test_not_sip),
		cmocka_unit_test(test_contact_scheme_first),
		cmocka_unit_test(test_u32),
	};

	return cmocka_run_group_tests_name("sip/validate", tests,
					   group_setup, NULL);
}
