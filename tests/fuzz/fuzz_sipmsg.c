/**
 * @file fuzz_sipmsg.c  Fuzz harness of the first look at every SIP
 *                      datagram: sip/rawmsg.c before libre's decoder,
 *                      sip/validate.c and the body parser after it
 *
 * The input is one UDP datagram, in an mbuf of its exact size, taken
 * through the server's order: rawin_check() on the raw bytes (which may
 * add a branch to an RFC 2543 request), rawin_answer() and
 * rawin_reply_addr() when it answers statelessly, then libre's
 * sip_msg_decode() and, for what decodes, sipval_request(),
 * sipval_accepts_sdp() and body_parse().
 *
 * Checked: each verdict keeps its promise (a pass or a rewrite decodes,
 * an answer has a status of 400, 416 or 505 and the headers to build
 * it, the answer is a response with that status); sipval_request()
 * answers 0, 400 (with its reason), 416 or 501; body_parse() answers 0,
 * EBADMSG or ENOTSUP with views inside the message; a reply address
 * always has a port.
 */
#include <stdlib.h>
#include <string.h>
#include <re.h>
#include "sip/sip_int.h"
#include "tests/fuzz/fuzz.h"


int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;

	log_setup(LVL_ERROR);

	return 0;
}


static bool inside(const struct pl *v, const struct mbuf *mb)
{
	const char *b = (const char *)mb->buf, *e = b + mb->end;

	if (!v->p)
		return v->l == 0;

	return v->p >= b && v->p <= e && v->l <= (size_t)(e - v->p);
}


static void answer_check(const struct mbuf *req, uint16_t scode,
			 const char *why)
{
	struct mbuf *rsp = NULL;
	char start[32];
	size_t n;
	int err;

	FUZZ_CHECK(scode == 400 || scode == 416 || scode == 505);
	FUZZ_CHECK(why != NULL);

	err = rawin_answer(&rsp, req, scode, why, 0x0123456789abcdefULL);
	FUZZ_CHECK(err == 0);

	n = (size_t)snprintf(start, sizeof(start), "SIP/2.0 %u ", scode);
	FUZZ_CHECK(rsp->end > n + 4);
	FUZZ_CHECK(!memcmp(rsp->buf, start, n));
	FUZZ_CHECK(!memcmp(rsp->buf + rsp->end - 4, "\r\n\r\n", 4));

	mem_deref(rsp);
}


static void reply_addr_check(const struct mbuf *mb)
{
	struct sa src, dst;

	sa_set_str(&src, "192.0.2.7", 5070);
	rawin_reply_addr(mb, &src, &dst);
	FUZZ_CHECK(sa_port(&dst) != 0);
	FUZZ_CHECK(sa_cmp(&src, &dst, SA_ADDR));
}


static void decoded_check(struct sip_msg *msg)
{
	struct body_view bv;
	const char *why = NULL;
	uint16_t scode;
	int err;

	msg->tp = SIP_TRANSP_UDP;

	scode = sipval_request(msg, &why);
	FUZZ_CHECK(scode == 0 || scode == 400 || scode == 416 ||
		   scode == 501);
	FUZZ_CHECK((scode == 0) == (why == NULL));

	(void)sipval_accepts_sdp(msg);
	(void)sipval_method_known(&msg->met);

	err = body_parse(&bv, msg);
	FUZZ_CHECK(err == 0 || err == EBADMSG || err == ENOTSUP);
	if (!err) {
		FUZZ_CHECK(inside(&bv.session, msg->mb));
		FUZZ_CHECK(inside(&bv.early, msg->mb));
	}
}


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sip_msg *msg = NULL;
	enum rawin_verdict v;
	const char *why = NULL;
	uint16_t scode = 0;
	struct mbuf *mb;
	int err;

	mb = mbuf_alloc(size ? size : 1);
	if (!mb || mbuf_write_mem(mb, data, size))
		abort();
	mb->pos = 0;

	v = rawin_check(mb, &scode, &why);
	FUZZ_CHECK(mb->pos == 0);

	switch (v) {

	case RAWIN_PASS:
	case RAWIN_DROP:
		break;

	case RAWIN_REWRITTEN:
		FUZZ_CHECK(mb->end > size);
		FUZZ_CHECK(scode == 0);
		break;

	case RAWIN_ANSWER:
		answer_check(mb, scode, why);
		break;

	default:
		FUZZ_CHECK(!"a verdict rawin.h names");
	}

	reply_addr_check(mb);

	err = sip_msg_decode(&msg, mb);
	if (v == RAWIN_REWRITTEN)
		FUZZ_CHECK(err == 0);

	if (!err)
		decoded_check(msg);

	mem_deref(msg);
	mem_deref(mb);

	return 0;
}
