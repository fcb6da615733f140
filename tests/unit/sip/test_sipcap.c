/**
 * @file test_sipcap.c  The addresses --pcap records: a response sent on
 *                      TCP goes to its connection's peer, not to the Via
 *
 * Each test plays libre's trace handler calls as libre 1.1.0 makes them:
 * a request received on TCP comes with the connection's peer and local
 * address; its responses go out with the connection's local address as
 * source and, as destination, the peer's IP with the port of the top
 * Via's sent-by (sip_reply_addr()).  The messages are byte-exact texts.
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

#define SERVER "127.0.0.1:5080"     /* our listening address */


static struct sa addr(const char *s)
{
	struct sa sa;

	assert_int_equal(0, sa_decode(&sa, s, strlen(s)));
	return sa;
}


/* A request of method met (CSeq method cmet) in transaction branch, its
 * top Via's sent-by via (e.g. "127.0.0.1:5099" or "client.test"). */
static char *request(const char *met, const char *cmet, const char *branch,
		     const char *via)
{
	char *s = NULL;

	assert_int_equal(0, re_sdprintf(&s,
		"%s sip:bob@127.0.0.1 SIP/2.0\r\n"
		"Via: SIP/2.0/TCP %s;branch=%s;rport\r\n"
		"From: <sip:alice@127.0.0.1>;tag=f\r\n"
		"To: <sip:bob@127.0.0.1>\r\n"
		"Call-ID: sipcap\r\n"
		"CSeq: 1 %s\r\n"
		"Max-Forwards: 70\r\n"
		"Content-Length: 0\r\n\r\n", met, via, branch, cmet));

	return s;
}


/* The response to it, as libre builds it from the request. */
static char *response(unsigned scode, const char *cmet, const char *branch,
		      const char *via)
{
	char *s = NULL;

	assert_int_equal(0, re_sdprintf(&s,
		"SIP/2.0 %u X\r\n"
		"Via: SIP/2.0/TCP %s;branch=%s;rport=1;received=127.0.0.1\r\n"
		"From: <sip:alice@127.0.0.1>;tag=f\r\n"
		"To: <sip:bob@127.0.0.1>;tag=t\r\n"
		"Call-ID: sipcap\r\n"
		"CSeq: 1 %s\r\n"
		"Content-Length: 0\r\n\r\n", scode, via, branch, cmet));

	return s;
}


/* A request received: its addresses must come back unchanged. */
static void rx(struct sipcap *sc, enum sip_transp tp, const char *peer,
	       const char *text, uint64_t now)
{
	struct sa src = addr(peer), dst = addr(SERVER);
	struct sa src0 = src, dst0 = dst;

	sipcap_addrs(sc, false, tp, &src, &dst, (const uint8_t *)text,
		     strlen(text), now);
	assert_true(sa_cmp(&src, &src0, SA_ALL));
	assert_true(sa_cmp(&dst, &dst0, SA_ALL));
}


/* A message sent from src to dst as libre says; returns the destination
 * recorded (the source must stay). */
static struct sa tx_from(struct sipcap *sc, enum sip_transp tp,
			 const char *from, const char *to, const char *text,
			 uint64_t now)
{
	struct sa src = addr(from), dst = addr(to);
	struct sa src0 = src;

	sipcap_addrs(sc, true, tp, &src, &dst, (const uint8_t *)text,
		     strlen(text), now);
	assert_true(sa_cmp(&src, &src0, SA_ALL));

	return dst;
}


static struct sa tx(struct sipcap *sc, const char *to, const char *text,
		    uint64_t now)
{
	return tx_from(sc, SIP_TRANSP_TCP, SERVER, to, text, now);
}


static void assert_sa(const char *want, struct sa got)
{
	struct sa w = addr(want);

	if (!sa_cmp(&w, &got, SA_ALL))
		fail_msg("recorded %J, expected %s", &got, want);
}


static void test_response_to_connection_peer(void **state)
{
	struct sipcap *sc = NULL;
	char *req, *rsp;
	long mark = leakcheck_mark();
	(void)state;

	assert_int_equal(0, sipcap_alloc(&sc));

	/* Via names the client's listening port: the response is recorded
	 * to the connection's ephemeral port all the same. */
	req = request("OPTIONS", "OPTIONS", "z9hG4bK1", "127.0.0.1:5099");
	rsp = response(200, "OPTIONS", "z9hG4bK1", "127.0.0.1:5099");
	rx(sc, SIP_TRANSP_TCP, "127.0.0.1:40001", req, 1000);
	assert_sa("127.0.0.1:40001", tx(sc, "127.0.0.1:5099", rsp, 1001));
	mem_deref(req);
	mem_deref(rsp);

	/* Via without a port: libre replies "to" 5060. */
	req = request("OPTIONS", "OPTIONS", "z9hG4bK2", "127.0.0.1");
	rsp = response(200, "OPTIONS", "z9hG4bK2", "127.0.0.1");
	rx(sc, SIP_TRANSP_TCP, "127.0.0.1:40002", req, 1000);
	assert_sa("127.0.0.1:40002", tx(sc, "127.0.0.1:5060", rsp, 1001));
	mem_deref(req);
	mem_deref(rsp);

	/* TLS alike. */
	req = request("OPTIONS", "OPTIONS", "z9hG4bK3", "127.0.0.1:5099");
	rsp = response(200, "OPTIONS", "z9hG4bK3", "127.0.0.1:5099");
	rx(sc, SIP_TRANSP_TLS, "127.0.0.1:40003", req, 1000);
	assert_sa("127.0.0.1:40003", tx_from(sc, SIP_TRANSP_TLS, SERVER,
					     "127.0.0.1:5099", rsp, 1001));
	mem_deref(req);
	mem_deref(rsp);

	mem_deref(sc);
	leakcheck_assert(mark);
}


/* Two connections from one client with the same Via sent-by: each
 * transaction's responses go to its own connection. */
static void test_two_connections_one_via(void **state)
{
	struct sipcap *sc = NULL;
	char *r1, *r2, *a1, *a2, *b1, *b2;
	long mark = leakcheck_mark();
	(void)state;

	assert_int_equal(0, sipcap_alloc(&sc));
	r1 = request("INVITE", "INVITE", "z9hG4bKa", "127.0.0.1:5099");
	r2 = request("INVITE", "INVITE", "z9hG4bKb", "127.0.0.1:5099");
	a1 = response(180, "INVITE", "z9hG4bKa", "127.0.0.1:5099");
	a2 = response(180, "INVITE", "z9hG4bKb", "127.0.0.1:5099");
	b1 = response(200, "INVITE", "z9hG4bKa", "127.0.0.1:5099");
	b2 = response(486, "INVITE", "z9hG4bKb", "127.0.0.1:5099");

	rx(sc, SIP_TRANSP_TCP, "127.0.0.1:40011", r1, 10);
	rx(sc, SIP_TRANSP_TCP, "127.0.0.1:40012", r2, 11);
	assert_sa("127.0.0.1:40012", tx(sc, "127.0.0.1:5099", a2, 12));
	assert_sa("127.0.0.1:40011", tx(sc, "127.0.0.1:5099", a1, 13));
	assert_sa("127.0.0.1:40011", tx(sc, "127.0.0.1:5099", b1, 14));
	assert_sa("127.0.0.1:40012", tx(sc, "127.0.0.1:5099", b2, 15));
	assert_int_equal(2, sipcap_count(sc));

	mem_deref(r1);
	mem_deref(r2);
	mem_deref(a1);
	mem_deref(a2);
	mem_deref(b1);
	mem_deref(b2);
	mem_deref(sc);
	leakcheck_assert(mark);
}


/* What keeps libre's addresses: UDP, requests we send, a response that
 * leaves from another local address (a new connection to the Via), one
 * to another destination, an unknown transaction, an ACK. */
static void test_left_alone(void **state)
{
	struct sipcap *sc = NULL;
	char *req, *rsp, *ack, *other;
	long mark = leakcheck_mark();
	(void)state;

	assert_int_equal(0, sipcap_alloc(&sc));
	req = request("OPTIONS", "OPTIONS", "z9hG4bKu", "127.0.0.1:5099");
	rsp = response(200, "OPTIONS", "z9hG4bKu", "127.0.0.1:5099");
	ack = request("ACK", "ACK", "z9hG4bKk", "127.0.0.1:5099");
	other = response(200, "OPTIONS", "z9hG4bKother", "127.0.0.1:5099");

	rx(sc, SIP_TRANSP_UDP, "127.0.0.1:40021", req, 1);
	assert_sa("127.0.0.1:5099", tx_from(sc, SIP_TRANSP_UDP, SERVER,
					    "127.0.0.1:5099", rsp, 2));
	assert_int_equal(0, sipcap_count(sc));

	rx(sc, SIP_TRANSP_TCP, "127.0.0.1:40021", ack, 3);
	assert_int_equal(0, sipcap_count(sc));

	rx(sc, SIP_TRANSP_TCP, "127.0.0.1:40021", req, 3);
	assert_sa("127.0.0.1:5099", tx(sc, "127.0.0.1:5099", req, 4));
	assert_sa("127.0.0.1:5099", tx_from(sc, SIP_TRANSP_TCP,
					    "127.0.0.1:41000",
					    "127.0.0.1:5099", rsp, 5));
	assert_sa("127.0.0.2:5099", tx(sc, "127.0.0.2:5099", rsp, 6));
	assert_sa("127.0.0.1:5099", tx(sc, "127.0.0.1:5099", other, 7));
	assert_sa("127.0.0.1:40021", tx(sc, "127.0.0.1:5099", rsp, 8));

	/* Not SIP at all. */
	assert_sa("127.0.0.1:5099", tx(sc, "127.0.0.1:5099",
				       "SIP/2.0 200\r\n\r\n", 9));
	rx(sc, SIP_TRANSP_TCP, "127.0.0.1:40021", "\r\n\r\n", 9);

	mem_deref(req);
	mem_deref(rsp);
	mem_deref(ack);
	mem_deref(other);
	mem_deref(sc);
	leakcheck_assert(mark);
}


/* A CANCEL shares the INVITE's branch: each keeps its own connection. */
static void test_cancel(void **state)
{
	struct sipcap *sc = NULL;
	char *inv, *can, *r200, *r487;
	long mark = leakcheck_mark();
	(void)state;

	assert_int_equal(0, sipcap_alloc(&sc));
	inv = request("INVITE", "INVITE", "z9hG4bKc", "127.0.0.1:5099");
	can = request("CANCEL", "CANCEL", "z9hG4bKc", "127.0.0.1:5099");
	r200 = response(200, "CANCEL", "z9hG4bKc", "127.0.0.1:5099");
	r487 = response(487, "INVITE", "z9hG4bKc", "127.0.0.1:5099");

	rx(sc, SIP_TRANSP_TCP, "127.0.0.1:40031", inv, 1);
	rx(sc, SIP_TRANSP_TCP, "127.0.0.1:40032", can, 2);
	assert_sa("127.0.0.1:40032", tx(sc, "127.0.0.1:5099", r200, 3));
	assert_sa("127.0.0.1:40031", tx(sc, "127.0.0.1:5099", r487, 4));

	mem_deref(inv);
	mem_deref(can);
	mem_deref(r200);
	mem_deref(r487);
	mem_deref(sc);
	leakcheck_assert(mark);
}


/* 2xx retransmissions within 64*T1 of the final response are the
 * connection's; after that, and an hour after an unanswered request,
 * the transaction is forgotten. */
static void test_expiry(void **state)
{
	struct sipcap *sc = NULL;
	char *inv, *r180, *r200, *opt, *r408;
	const uint64_t t0 = 1000000;
	long mark = leakcheck_mark();
	(void)state;

	assert_int_equal(0, sipcap_alloc(&sc));
	inv = request("INVITE", "INVITE", "z9hG4bKe", "127.0.0.1:5099");
	r180 = response(180, "INVITE", "z9hG4bKe", "127.0.0.1:5099");
	r200 = response(200, "INVITE", "z9hG4bKe", "127.0.0.1:5099");
	opt = request("OPTIONS", "OPTIONS", "z9hG4bKo", "127.0.0.1:5099");
	r408 = response(408, "OPTIONS", "z9hG4bKo", "127.0.0.1:5099");

	rx(sc, SIP_TRANSP_TCP, "127.0.0.1:40041", inv, t0);
	rx(sc, SIP_TRANSP_TCP, "127.0.0.1:40042", opt, t0 + 1);
	assert_int_equal(2, sipcap_count(sc));

	/* Ringing for 50 minutes, then answered. */
	assert_sa("127.0.0.1:40041", tx(sc, "127.0.0.1:5099", r180, t0 + 5));
	assert_sa("127.0.0.1:40041", tx(sc, "127.0.0.1:5099", r200,
					t0 + 3000000));
	assert_sa("127.0.0.1:40041", tx(sc, "127.0.0.1:5099", r200,
					t0 + 3000000 + SIPCAP_DONE_MS - 1));
	assert_int_equal(2, sipcap_count(sc));
	assert_sa("127.0.0.1:5099", tx(sc, "127.0.0.1:5099", r200,
				       t0 + 3000000 + SIPCAP_DONE_MS));
	assert_int_equal(1, sipcap_count(sc));

	/* The OPTIONS never answered within the hour. */
	assert_sa("127.0.0.1:5099", tx(sc, "127.0.0.1:5099", r408,
				       t0 + 1 + SIPCAP_OPEN_MS));
	assert_int_equal(0, sipcap_count(sc));

	mem_deref(inv);
	mem_deref(r180);
	mem_deref(r200);
	mem_deref(opt);
	mem_deref(r408);
	mem_deref(sc);
	leakcheck_assert(mark);
}


/* At most SIPCAP_MAX transactions; finished ones make room first. */
static void test_limit(void **state)
{
	struct sipcap *sc = NULL;
	char branch[32], *req, *rsp;
	long mark = leakcheck_mark();
	(void)state;

	assert_int_equal(0, sipcap_alloc(&sc));

	for (unsigned i = 0; i < SIPCAP_MAX + 10; i++) {
		re_snprintf(branch, sizeof(branch), "z9hG4bK%u", i);
		req = request("OPTIONS", "OPTIONS", branch, "127.0.0.1:5099");
		rx(sc, SIP_TRANSP_TCP, "127.0.0.1:40051", req, 1);
		mem_deref(req);

		/* The first one is answered: it goes first. */
		if (i == 0) {
			rsp = response(200, "OPTIONS", branch,
				       "127.0.0.1:5099");
			assert_sa("127.0.0.1:40051",
				  tx(sc, "127.0.0.1:5099", rsp, 2));
			mem_deref(rsp);
		}
	}
	assert_int_equal(SIPCAP_MAX, sipcap_count(sc));

	/* The oldest open ones went next; the newest are still known. */
	rsp = response(200, "OPTIONS", "z9hG4bK5", "127.0.0.1:5099");
	assert_sa("127.0.0.1:5099", tx(sc, "127.0.0.1:5099", rsp, 3));
	mem_deref(rsp);
	re_snprintf(branch, sizeof(branch), "z9hG4bK%u", SIPCAP_MAX + 9);
	rsp = response(200, "OPTIONS", branch, "127.0.0.1:5099");
	assert_sa("127.0.0.1:40051", tx(sc, "127.0.0.1:5099", rsp, 3));
	mem_deref(rsp);

	mem_deref(sc);
	leakcheck_assert(mark);
}


static void test_args(void **state)
{
	struct sa a = addr(SERVER), b = addr(SERVER);
	(void)state;

	assert_int_equal(EINVAL, sipcap_alloc(NULL));
	sipcap_addrs(NULL, true, SIP_TRANSP_TCP, &a, &b,
		     (const uint8_t *)"x", 1, 0);
	assert_int_equal(0, sipcap_count(NULL));
}


/* libre's first SIP decode and re_sdprintf make one-time allocations. */
static int group_setup(void **state)
{
	struct sipcap *sc = NULL;
	char *req = request("OPTIONS", "OPTIONS", "z9hG4bKw",
			    "127.0.0.1:5099");
	(void)state;

	if (sipcap_alloc(&sc))
		return -1;
	rx(sc, SIP_TRANSP_TCP, "127.0.0.1:40000", req, 1);
	mem_deref(req);
	mem_deref(sc);

	return 0;
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_response_to_connection_peer),
		cmocka_unit_test(test_two_connections_one_via),
		cmocka_unit_test(test_left_alone),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_expiry),
		cmocka_unit_test(test_limit),
		cmocka_unit_test(test_args),
	};

	return cmocka_run_group_tests_name("sip/sipcap", tests, group_setup,
					   NULL);
}
