/**
 * @file test_server.c  The first look at every request: what is well
 *                      formed enough to be handled, byte-exact vectors
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>
#include <re.h>
#include "sip/sip_int.h"

#define VIA  "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\n"
#define FROM "From: <sip:alice@h>;tag=a\r\n"
#define TO   "To: <sip:bob@h>\r\n"
#define CID  "Call-ID: x\r\n"


static void test_msg_valid(void **state)
{
	static const struct {
		const char *text;
		const char *why;   /* NULL: valid */
	} v[] = {
		{"INVITE sip:bob@h SIP/2.0\r\n" VIA FROM TO CID
		 "CSeq: 1 INVITE\r\nMax-Forwards: 70\r\n"
		 "Content-Length: 0\r\n\r\n", NULL},
		{"INVITE sip:bob@h SIP/2.0\r\n" VIA "From: <sip:a@h>\r\n" TO
		 CID "CSeq: 1 INVITE\r\n\r\n", "missing From tag"},
		{"INVITE sip:bob@h SIP/2.0\r\n" VIA FROM TO
		 "CSeq: 1 INVITE\r\n\r\n", "missing Call-ID"},
		{"INVITE sip:bob@h SIP/2.0\r\n" VIA FROM TO CID
		 "\r\n", "missing or bad CSeq"},
		{"INVITE sip:bob@h SIP/2.0\r\n" VIA FROM TO CID
		 "CSeq: 1 BYE\r\n\r\n",
		 "CSeq method does not match the request"},
		/* No branch: libre drops it; over UDP rawin adds one
		 * (test_validate.c). */
		{"INVITE sip:bob@h SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP 127.0.0.1:5070\r\n" FROM TO CID
		 "CSeq: 1 INVITE\r\n\r\n", "not decoded"},
		/* RFC 4475 3.1.1.1: leading zeros */
		{"INVITE sip:bob@h SIP/2.0\r\n" VIA FROM TO CID
		 "CSeq: 0001 INVITE\r\nMax-Forwards: 0068\r\n\r\n", NULL},
		{"INVITE sip:bob@h SIP/2.0\r\n" VIA FROM TO CID
		 "CSeq: 1 INVITE\r\nMax-Forwards: 256\r\n\r\n",
		 "bad Max-Forwards"},
		{"INVITE sip:bob@h SIP/2.0\r\n" VIA FROM TO CID
		 "CSeq: 1 INVITE\r\nMax-Forwards: 7x\r\n\r\n",
		 "bad Max-Forwards"},
		{"INVITE sip:bob@h SIP/2.0\r\n" VIA FROM TO CID
		 "CSeq: 1 INVITE\r\nMax-Forwards: 1000\r\n\r\n",
		 "bad Max-Forwards"},
		{"INVITE sip:bob@h SIP/2.0\r\n" VIA FROM TO CID
		 "CSeq: 1 INVITE\r\nContent-Length: -5\r\n\r\n",
		 "bad Content-Length"},
		{"INVITE sip:bob@h SIP/2.0\r\n" VIA FROM TO CID
		 "CSeq: 1 INVITE\r\nContent-Length: 500\r\n\r\nv=0\r\n",
		 "Content-Length larger than the message"},
		/* ACK and CANCEL carry the INVITE's CSeq method. */
		{"ACK sip:bob@h SIP/2.0\r\n" VIA FROM TO CID
		 "CSeq: 1 ACK\r\n\r\n", NULL},
		{"CANCEL sip:bob@h SIP/2.0\r\n" VIA FROM TO CID
		 "CSeq: 1 CANCEL\r\n\r\n", NULL},
		{"OPTIONS sip:h SIP/2.0\r\n" VIA FROM TO CID
		 "CSeq: 9 OPTIONS\r\nContent-Length: 4\r\n\r\nabcd", NULL},
	};
	unsigned checked_bad = 0;
	(void)state;

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct mbuf *mb = mbuf_alloc(512);
		struct sip_msg *msg = NULL;
		const char *why = NULL;
		bool ok;

		assert_non_null(mb);
		assert_int_equal(0, mbuf_write_str(mb, v[i].text));
		mb->pos = 0;
		/* libre's decoder drops some malformed messages itself; those
		 * never reach the server, which is as good as a 400. */
		if (sip_msg_decode(&msg, mb)) {
			if (!v[i].why)
				fail_msg("vector %zu: not decoded", i);
			mem_deref(mb);
			continue;
		}
		msg->tp = SIP_TRANSP_UDP;

		ok = sipval_request(msg, &why) == 0;
		if (v[i].why)
			++checked_bad;
		if (ok != (v[i].why == NULL) ||
		    (v[i].why && (!why || strcmp(why, v[i].why))))
			fail_msg("vector %zu: got %s, want %s", i,
				 why ? why : "valid",
				 v[i].why ? v[i].why : "valid");

		mem_deref(msg);
		mem_deref(mb);
	}

	/* Most bad vectors must reach our check, not only the decoder. */
	assert_true(checked_bad >= 8);
}


static void test_digits(void **state)
{
	struct pl pl;
	(void)state;

	pl_set_str(&pl, "70");
	assert_true(sipsrv_digits(&pl, 3));
	pl_set_str(&pl, "700");
	assert_true(sipsrv_digits(&pl, 3));
	pl_set_str(&pl, "7000");
	assert_false(sipsrv_digits(&pl, 3));
	pl_set_str(&pl, "");
	assert_false(sipsrv_digits(&pl, 3));
	pl_set_str(&pl, "1 ");
	assert_false(sipsrv_digits(&pl, 3));
	pl_set_str(&pl, "x1");
	assert_false(sipsrv_digits(&pl, 3));
	assert_false(sipsrv_digits(NULL, 3));
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_msg_valid),
		cmocka_unit_test(test_digits),
	};

	return cmocka_run_group_tests_name("sip/server", tests, NULL, NULL);
}
