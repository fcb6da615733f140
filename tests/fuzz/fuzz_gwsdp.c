/**
 * @file fuzz_gwsdp.c  Fuzz harness of gateway mode's SDP (sip/gwsdp.c):
 *                     modegw_peek, modegw_alloc, modegw_answer and
 *                     modegw_reoffer on a caller's and a callee's SDP
 *
 * Input: the caller's offer, a NUL byte, the callee's SDP, a NUL byte and
 * the address our answer names (modegw_sdp_addr, e.g. "::1"); without a
 * NUL the offer is re-offered as the callee's SDP, without a second one
 * the address is 127.0.0.1.  Each SDP is a heap block of its own exact
 * size.
 *
 * modegw_alloc() needs a real streamer: each accepted offer binds one
 * RTP/RTCP port pair on 127.0.0.1, from 61000-61999 (above the kernel's
 * ephemeral ports and the integration tests' RTP ports), and frees it
 * before the next input.  Nothing is sent.
 *
 * Checked:
 *  - an offer gateway mode accepts is one modegw_peek() reads, with PCMU
 *    or PCMA first among ours;
 *  - our answer is one our own peek reads, with that payload type, and is
 *    sendonly;
 *  - a re-offer of the callee's SDP says to modegw_peek() what the
 *    callee's SDP says (the "o=" line is all it may change), and the
 *    next re-offer is the same text with the version one up.
 */
#include <stdlib.h>
#include <string.h>
#include <re.h>
#include "sip/sip_int.h"
#include "tests/fuzz/fuzz.h"

enum { PORT_LO = 61000, PORT_HI = 61999 };

static struct streamer *st;


int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct sa ip;
	(void)argc;
	(void)argv;

	if (libre_init() || loop_init())
		abort();
	log_setup(LVL_ERROR);

	sa_set_str(&ip, "127.0.0.1", 0);
	if (streamer_alloc(&st, &ip, PORT_LO, PORT_HI))
		abort();

	return 0;
}


static bool same_peek(const struct pl *a, const struct pl *b)
{
	struct sa aa, ba;
	int apt, bpt, aerr, berr;

	aerr = modegw_peek(a, &aa, &apt);
	berr = modegw_peek(b, &ba, &bpt);
	if (aerr || berr)
		return aerr == berr;

	return apt == bpt && sa_cmp(&aa, &ba, SA_ALL);
}


/* Two successive re-offers: the same bytes but for the version, which
 * goes one up. */
static void reoffer_check(struct gwmedia *g, const struct pl *callee)
{
	struct mbuf *r1 = NULL, *r2 = NULL;
	struct pl p1, p2;
	int err;

	err = modegw_reoffer(g, callee, &r1);
	FUZZ_CHECK(err == 0 || err == EBADMSG);
	if (err)
		return;

	err = modegw_reoffer(g, callee, &r2);
	FUZZ_CHECK(err == 0);

	pl_set_mbuf(&p1, r1);
	pl_set_mbuf(&p2, r2);
	FUZZ_CHECK(same_peek(callee, &p1));
	FUZZ_CHECK(same_peek(&p1, &p2));

	/* Versions n and n + 1 have the same length unless n + 1 has one
	 * more digit; either way the texts agree up to the version. */
	FUZZ_CHECK(p2.l == p1.l || p2.l == p1.l + 1);

	mem_deref(r1);
	mem_deref(r2);
}


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *end = data + size, *z1, *z2 = NULL;
	struct pl offer, callee, ans;
	struct gwmedia *g = NULL;
	struct mbuf *mb = NULL;
	char *o, *c = NULL;
	struct sa addr, aaddr, ip;
	int pt = -2, apt, perr, err;

	z1 = memchr(data, 0, size);
	o = dup_exact(data, z1 ? (size_t)(z1 - data) : size, &offer);
	if (z1) {
		z2 = memchr(z1 + 1, 0, (size_t)(end - z1 - 1));
		c = dup_exact(z1 + 1, (size_t)((z2 ? z2 : end) - z1 - 1),
			      &callee);
	}
	else {
		callee = offer;
	}

	sa_set_str(&ip, "127.0.0.1", 0);
	if (z2 && end - z2 > 1) {
		struct pl a;

		a.p = (const char *)z2 + 1;
		a.l = (size_t)(end - z2 - 1);
		(void)sa_set(&ip, &a, 0);
	}

	perr = modegw_peek(&offer, &addr, &pt);
	if (!perr)
		FUZZ_CHECK(pt == -1 || pt == MEDIA_PT_PCMU ||
			   pt == MEDIA_PT_PCMA);

	err = modegw_alloc(&g, st, &offer);
	FUZZ_CHECK(err == 0 || err == ENOENT || err == ENOMEM ||
		   err == ENOSPC);
	if (err)
		goto out;

	FUZZ_CHECK(perr == 0);
	FUZZ_CHECK(pt == MEDIA_PT_PCMU || pt == MEDIA_PT_PCMA);

	modegw_sdp_addr(g, &ip);

	err = modegw_answer(g, &mb);
	FUZZ_CHECK(err == 0);

	pl_set_mbuf(&ans, mb);
	FUZZ_CHECK(modegw_peek(&ans, &aaddr, &apt) == 0);
	FUZZ_CHECK(apt == pt);
	FUZZ_CHECK(body_occurs(&ans, "a=sendonly\r\n"));

	reoffer_check(g, &callee);

 out:
	mem_deref(mb);
	mem_deref(g);
	free(c);
	free(o);

	return 0;
}
