/**
 * @file cmrc_callee.c  The CMR Client as the called party: ring, answer
 *                      or reject
 *
 * An INVITE makes a call of ours: 100 Trying (the layer), the mode's look
 * at the INVITE (an Alert-Info URL for HTTP mode), a 180 (reliable with
 * "Supported: early-session" in application server mode, so that the
 * server's PRACK can carry its early-session offer), conf.ring_ms of
 * ringing, then our 200 with the answer to the INVITE's offer, or the
 * rejection the configuration asks for.
 */
#include <string.h>
#include <re.h>
#include <rem.h>
#include "sip/cmrc_int.h"


/* RFC 3261 section 21's phrases of the statuses a called party may
 * answer with; another status gets its class's words. */
static const char *reject_reason(uint16_t scode)
{
	switch (scode) {

	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 480: return "Temporarily Unavailable";
	case 486: return "Busy Here";
	case 488: return "Not Acceptable Here";
	case 600: return "Busy Everywhere";
	case 603: return "Decline";
	case 604: return "Does Not Exist Anywhere";
	default:
		return scode < 400 ? "Redirection" : scode < 500 ?
			"Request Failure" : scode < 600 ? "Server Failure" :
			"Global Failure";
	}
}


static int ring_hdrs(struct re_printf *pf, struct cmrc *c)
{
	return re_hprintf(pf, "%s", c->ops->ring_hdrs ? c->ops->ring_hdrs :
			  "");
}


static void ring_over(void *arg)
{
	struct cmrc *c = arg;
	struct mbuf *mb = NULL;
	struct pl offer, sdp;
	int err;

	if (c->conf.reject) {
		c->answer_at = loop_now_ms();
		cmrc_tone_stop(c);
		c->r.final = c->conf.reject;
		c->r.ms_final = (int32_t)(loop_now_ms() - c->t0);
		if (uas_reject(c->uas, c->conf.reject,
			       reject_reason(c->conf.reject), NULL))
			c->fail = "our final response could not be sent";
		cmrc_finish(c);
		return;
	}

	if (!leg_sdp(&c->uas->leg, false, &offer))
		err = cmrc_sdp_answer(&mb, &offer, rtpep_laddr(c->ep),
				      cmrc_sdp_id(c), c->sdp_ver, NULL);
	else
		err = cmrc_sdp_offer(&mb, rtpep_laddr(c->ep), cmrc_sdp_id(c),
				     c->sdp_ver);
	if (err) {
		c->r.final = 488;
		(void)uas_reject(c->uas, 488, "Not Acceptable Here", NULL);
		cmrc_fail(c, "the INVITE's offer has neither PCMU nor PCMA");
		return;
	}

	sdp.p = (const char *)mb->buf;
	sdp.l = mb->end;
	err = uas_answer(c->uas, 200, "OK", NULL, NULL, &sdp);
	mem_deref(c->lsdp);
	c->lsdp = mb;
	if (err == EAGAIN) {
		/* Our reliable 180 awaits its PRACK: answer once it came. */
		tmr_start(&c->tmr_ring, 20, ring_over, c);
		return;
	}
	if (err) {
		cmrc_fail(c, "our 200 could not be sent");
		return;
	}

	c->leg = &c->uas->leg;
	c->r.final = 200;
	c->r.ms_final = (int32_t)(loop_now_ms() - c->t0);
	cmrc_answered(c);
}


static void callee_done(struct cmrc *c, const struct cmrc_result *r,
			void *arg)
{
	struct ua *ua = arg;

	if (ua && ua->adoneh)
		ua->adoneh(c, r, ua->aarg);
	else
		mem_deref(c);
}


int cmrc_incoming(struct ua *ua, const struct sip_msg *msg)
{
	struct body_view bv;
	struct cmrc *c = NULL;
	char user[64] = "";
	bool reliable;
	int err;

	if (pl_isset(&msg->uri.user))
		(void)pl_strcpy(&msg->uri.user, user, sizeof(user));

	err = cmrc_alloc(&c, ua, &ua->aconf);
	if (err)
		return err;
	c->doneh = callee_done;
	c->arg = ua;
	(void)pl_strcpy(&msg->callid, c->r.callid, sizeof(c->r.callid));

	err = uas_alloc(&c->uas, &ua->ls, msg, user[0] ? user : "cmrlab",
			&cmrc_leg_h, c);
	if (err) {
		mem_deref(c);
		return err;
	}

	evlog_event(cmrc_cr(c, msg), "invite-in", "\"alert_info\":%s",
		    sip_msg_hdr(msg, SIP_HDR_ALERT_INFO) ? "true" : "false");
	if (body_parse(&bv, msg))
		memset(&bv, 0, sizeof(bv));
	if (c->ops->invite_in)
		c->ops->invite_in(c, msg, &bv);

	reliable = c->ops->ring_reliable;
	if (reliable && !c->uas->rel100) {
		reliable = false;
		c->fail = "the INVITE does not support 100rel: no reliable "
			"18x for an early-session offer";
	}

	err = uas_progress(c->uas, 180, "Ringing", reliable,
			   (re_printf_h *)ring_hdrs, c, NULL, NULL);
	if (err) {
		cmrc_fail(c, "our 180 could not be sent");
		return 0;
	}

	tmr_start(&c->tmr_ring, c->conf.ring_ms, ring_over, c);
	tmr_start(&c->tmr_limit, cmrc_limit_ms(&c->conf), cmrc_limit_over, c);

	return 0;
}
