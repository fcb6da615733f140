/**
 * @file cmrc_caller.c  The CMR Client as the calling party: the INVITE,
 *                      its provisional responses and its final response
 *
 * The leg layer sends the PRACK of each reliable 18x (with the mode's
 * early-session answer when there is one) and the ACK of the 2xx; the
 * mode's prov_in hook reads each 18x (cmrc_http.c, cmrc_as.c, cmrc_gw.c,
 * cmrc_plain.c).
 */
#include <string.h>
#include <re.h>
#include <rem.h>
#include "sip/cmrc_int.h"


static void provh(struct uac *uac, struct leg *fork, const struct sip_msg *msg,
		  struct prack_out *pk, void *arg)
{
	struct cmrc *c = arg;
	struct body_view bv;
	(void)uac;
	(void)fork;

	if (!c->r.callid[0])
		(void)pl_strcpy(&msg->callid, c->r.callid,
				sizeof(c->r.callid));
	if (c->finished)
		return;

	if (pk) {
		c->rel_seen = true;
		c->r.reliable_18x = true;
	}

	evlog_event(cmrc_cr(c, msg), "provisional", "\"code\":%u,"
		    "\"reliable\":%s,\"alert_info\":%s,"
		    "\"p_early_media\":%s", msg->scode, pk ? "true" : "false",
		    sip_msg_hdr(msg, SIP_HDR_ALERT_INFO) ? "true" : "false",
		    sip_msg_xhdr(msg, "P-Early-Media") ? "true" : "false");

	if (body_parse(&bv, msg)) {
		if (!c->fail)
			c->fail = "an 18x with a body we cannot read";
		return;
	}

	if (c->ops->prov_in)
		c->ops->prov_in(c, msg, &bv, pk);
}


/* RFC 3264 section 6.1: the answer names one of our offer's formats, on
 * a stream it did not refuse (port 0). */
static bool answer_usable(const struct leg *leg)
{
	struct pl sdp;
	struct sa addr;
	int pt;

	return !leg_sdp(leg, false, &sdp) && !modegw_peek(&sdp, &addr, &pt) &&
		(pt == MEDIA_PT_PCMU || pt == MEDIA_PT_PCMA) &&
		sa_port(&addr);
}


static bool answerh(struct uac *uac, struct leg *fork,
		    const struct sip_msg *msg, void *arg)
{
	struct cmrc *c = arg;
	(void)uac;

	c->leg = fork;
	(void)pl_strcpy(&msg->callid, c->r.callid, sizeof(c->r.callid));
	/* RFC 3261 13.2.1: the answer to the INVITE's offer is in the 2xx
	 * unless a reliable 18x brought it; without one there is nothing to
	 * talk to. */
	if (fork->oa.st == OA_LOCAL_OFFER && !c->fail)
		c->fail = "the 2xx has no SDP answer to our offer";
	else if (!answer_usable(fork) && !c->fail)
		c->fail = "the SDP answer has no PCMU or PCMA stream to talk "
			"to";
	c->r.final = msg->scode;
	c->r.ms_final = (int32_t)(loop_now_ms() - c->t0);
	evlog_event(cmrc_cr(c, msg), "final", "\"code\":%u", msg->scode);
	cmrc_answered(c);

	return false;
}


static void failh(struct uac *uac, int err, const struct sip_msg *msg,
		  void *arg)
{
	struct cmrc *c = arg;
	(void)uac;

	c->answer_at = loop_now_ms();
	cmrc_tone_stop(c);
	c->r.ms_final = (int32_t)(loop_now_ms() - c->t0);
	if (msg) {
		c->r.final = msg->scode;
		(void)pl_strcpy(&msg->callid, c->r.callid,
				sizeof(c->r.callid));
		evlog_event(cmrc_cr(c, msg), "final", "\"code\":%u",
			    msg->scode);
	}
	else if (!c->fail) {
		(void)re_snprintf(c->fail_buf, sizeof(c->fail_buf),
				  "the INVITE failed: %m", err);
		c->fail = c->fail_buf;
	}
	cmrc_finish(c);
}


static const struct uac_h uac_handlers = {
	.provh   = provh,
	.answerh = answerh,
	.failh   = failh,
};


static int invite_hdrs(struct re_printf *pf, struct cmrc *c)
{
	return re_hprintf(pf, "%s", c->ops->invite_hdrs ?
			  c->ops->invite_hdrs : "");
}


/* "sip:HOST:PORT" (or "sip:user@HOST:PORT") to "sip:TO@HOST:PORT". */
static int ruri(char *buf, size_t sz, const char *target, const char *to)
{
	const char *hp = target, *at;
	int n;

	if (!strncmp(hp, "sip:", 4))
		hp += 4;
	at = strchr(hp, '@');
	if (at)
		hp = at + 1;
	if (!*hp)
		return EINVAL;

	n = re_snprintf(buf, sz, "sip:%s@%s", to, hp);

	return n < 0 || (size_t)n >= sz ? ENAMETOOLONG : 0;
}


int cmrc_call(struct cmrc **cp, struct ua *ua, const struct cmrc_conf *conf,
	      cmrc_done_h *doneh, void *arg)
{
	char uri[256], from[160];
	struct cmrc *c = NULL;
	struct pl sdp;
	int err;

	if (!cp || !ua || !conf || conf->callee || !conf->to[0] ||
	    !conf->from[0])
		return EINVAL;

	err = ruri(uri, sizeof(uri), conf->target, conf->to);
	if (err)
		return err;
	if (re_snprintf(from, sizeof(from), "sip:%s@%j", conf->from,
			&ua->laddr) < 0)
		return ENOMEM;

	err = cmrc_alloc(&c, ua, conf);
	if (err)
		return err;
	c->doneh = doneh;
	c->arg = arg;

	err = cmrc_sdp_offer(&c->lsdp, rtpep_laddr(c->ep), cmrc_sdp_id(c),
			     c->sdp_ver);
	if (err)
		goto out;

	sdp.p = (const char *)c->lsdp->buf;
	sdp.l = c->lsdp->end;
	err = uac_alloc(&c->uac, &ua->ls, uri, uri, NULL, from, conf->from,
			&uac_handlers, c, &cmrc_leg_h, c,
			(re_printf_h *)invite_hdrs, c, &sdp);
	if (err)
		goto out;

	tmr_start(&c->tmr_limit, cmrc_limit_ms(conf), cmrc_limit_over, c);

 out:
	if (err)
		mem_deref(c);
	else
		*cp = c;

	return err;
}
