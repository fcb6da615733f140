/**
 * @file cmrc_gw.c  Gateway mode's client procedure: take the server's SDP
 *                  answer with "P-Early-Media: sendrecv" and its RTP
 *
 * OMA CMR clause 1.1.1.11 (RFC 3960, RFC 5009).  The calling party's
 * INVITE carries "P-Early-Media: supported" (and 100rel, which the
 * server's reliable 18x needs); the 18x's SDP answer with "P-Early-Media:
 * sendrecv" authorises the early media, which arrives at our offer's
 * address until the final response.  After the callee's answer the server
 * gives us the callee's SDP in an UPDATE (or, when our Allow lacks UPDATE,
 * a re-INVITE after the ACK), which we accept.  Gateway mode has no
 * called party procedure.
 */
#include <re.h>
#include "sip/cmrc_int.h"

enum { SWITCH_JUDGE_MS = 1000 };


static void gw_prov_in(struct cmrc *c, const struct sip_msg *msg,
		       const struct body_view *bv, struct prack_out *pk)
{
	(void)pk;

	if (!pl_isset(&bv->session))
		return;

	c->sdp_18x = true;
	if (!cmrc_has_pem_sendrecv(msg)) {
		if (!c->r.pem_sendrecv && !c->fail)
			c->fail = "no P-Early-Media: sendrecv with the SDP "
				"answer in the 18x";
		return;
	}

	c->r.pem_sendrecv = true;
	cmrc_tone_from(c, &bv->session);
}


static const char *gw_verdict(struct cmrc *c)
{
	const char *why;

	if (!c->sdp_18x)
		return "no SDP answer in any 18x";
	if (!c->r.pem_sendrecv)
		return "no P-Early-Media: sendrecv with the SDP answer in "
			"the 18x";

	why = cmrc_verdict_rtp(c);
	if (why)
		return why;

	/* The callee's SDP must follow the answer, in an UPDATE before it
	 * or a re-INVITE after the ACK: judged when the call lasted. */
	if (c->answered && c->conf.talk_ms >= SWITCH_JUDGE_MS &&
	    !c->r.updates && !c->r.reinvites)
		return "no UPDATE or re-INVITE with the callee's SDP";

	return NULL;
}


const struct cmrc_ops cmrc_gw_ops = {
	.name        = "gateway",
	.invite_hdrs = "Supported: 100rel\r\nP-Early-Media: supported\r\n",
	.prov_in     = gw_prov_in,
	.verdict     = gw_verdict,
};
