/**
 * @file cmrc_as.c  Application server mode's client procedure: answer the
 *                  early-session offer and receive the resource's RTP
 *
 * OMA CMR clause 1.1.1.8 (RFC 3959, RFC 3262).  CMRBT: the calling
 * party's INVITE has "early-session" and "100rel" in Supported; the
 * reliable 18x carries the CMR Server's early-session offer, and our
 * PRACK its answer; RTP arrives at the answer's address until the final
 * response.  CMRT: the called party's reliable 180 has "early-session" in
 * Supported; the server's PRACK carries the offer, our 200 (PRACK) the
 * answer; RTP arrives until we answer.
 */
#include <re.h>
#include "sip/cmrc_int.h"


static void as_prov_in(struct cmrc *c, const struct sip_msg *msg,
		       const struct body_view *bv, struct prack_out *pk)
{
	(void)msg;

	/* An unreliable 18x cannot carry it (RFC 3959 section 3). */
	if (!pk)
		return;

	if (!pl_isset(&bv->early)) {
		if (!c->r.early_offer && !c->fail)
			c->fail = "no early-session offer in the reliable 18x";
		return;
	}

	if (c->r.early_offer)
		return;         /* answered once; later 18x repeat it */

	c->r.early_offer = true;
	if (cmrc_early_answer(c, &bv->early, &c->early_mb)) {
		c->fail = "the early-session offer has neither PCMU nor PCMA";
		return;
	}

	c->early_pl.p = (const char *)c->early_mb->buf;
	c->early_pl.l = c->early_mb->end;
	pk->early = &c->early_pl;
}


static void as_prack_in(struct cmrc *c, const struct pl *early,
			struct mbuf **earlyp)
{
	if (!pl_isset(early) || c->r.early_offer)
		return;

	c->r.early_offer = true;
	if (cmrc_early_answer(c, early, earlyp))
		c->fail = "the early-session offer has neither PCMU nor PCMA";
}


static const char *as_verdict(struct cmrc *c)
{
	if (!c->r.early_offer) {
		if (c->conf.callee)
			return "no early-session offer in the PRACK";
		return c->rel_seen ?
			"no early-session offer in the reliable 18x" :
			"no reliable 18x with an early-session offer";
	}

	return cmrc_verdict_rtp(c);
}


const struct cmrc_ops cmrc_as_ops = {
	.name          = "as",
	.invite_hdrs   = "Supported: 100rel, early-session\r\n",
	.prov_in       = as_prov_in,
	.ring_reliable = true,
	.ring_hdrs     = "Supported: 100rel, early-session\r\n",
	.prack_in      = as_prack_in,
	.verdict       = as_verdict,
};
