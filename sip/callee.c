/**
 * @file callee.c  The B-legs of a call: one INVITE per callee contact
 *
 * The contacts are called in parallel (RFC 3261 16.6); the first 2xx
 * wins and the other INVITEs are cancelled; when every B-leg failed, the
 * best final response goes to the caller (16.7 step 6), a challenge or an
 * overload of the callee's turned into ours.  Each reliable provisional
 * response gets its PRACK from the leg layer; a late offer in one waits
 * for the caller's answer, in its PRACK (RFC 3262 section 5).
 */
#include <string.h>
#include <re.h>
#include "sip/sip_int.h"


static void blegs_cancel(struct call *call, const struct bleg *except)
{
	struct le *le;

	for (le = list_head(&call->blegs); le; le = le->next) {
		struct bleg *b = le->data;

		if (b != except)
			uac_cancel(b->uac);
	}
}


static bool blegs_pending(const struct call *call)
{
	struct le *le;

	for (le = list_head(&call->blegs); le; le = le->next) {
		const struct bleg *b = le->data;

		if (uac_pending(b->uac))
			return true;
	}

	return false;
}


/* RFC 3261 16.7 step 6: a 6xx wins; otherwise the lowest class, where
 * 4xx goes before 5xx; the first of a class stays. */
static struct bleg *best_final(const struct call *call)
{
	struct bleg *best = NULL;
	struct le *le;

	for (le = list_head(&call->blegs); le; le = le->next) {
		struct bleg *b = le->data;

		if (!b->final)
			continue;
		if (b->final >= 600)
			return b;
		if (!best || b->final / 100 < best->final / 100)
			best = b;
	}

	return best;
}


/* Every B-leg failed: relay the best final response to the caller. */
static void blegs_failed(struct call *call)
{
	struct bleg *best = best_final(call);
	uint16_t scode = best ? best->final : 480;
	const char *reason = best && best->reason ? best->reason :
		"Temporarily Unavailable";
	char why[96];

	/* A callee's challenge is for its own credentials, which the caller
	 * does not hold; a callee's overload is not ours (16.7 step 6). */
	if (scode == 401 || scode == 407) {
		scode = 403;
		reason = "Forbidden";
	}
	else if (scode == 503) {
		scode = 500;
		reason = "Server Internal Error";
	}

	/* A final response of the callee's is its answer; one we made for
	 * it says the INVITE went nowhere. */
	evlog_call_outcome(call->cr, !best ? OUTCOME_FAILED :
			   best->remote ? OUTCOME_REJECTED :
			   best->final == 408 ? OUTCOME_TIMEOUT :
			   OUTCOME_FAILED);

	call_streams_stop(call, "final response");
	(void)uas_reject(call->a, scode, reason,
			 scode < 400 && best ? best->contacts : NULL);
	re_snprintf(why, sizeof(why), "callee rejected: %u %s", scode,
		    reason);
	evlog_event(call->cr, "rejected", "\"code\":%u,\"reason\":%H",
		    scode, jsonw_str, reason);
	call_end(call, 0, why);
}


static bool contact_collect(const struct sip_hdr *hdr,
			    const struct sip_msg *msg, void *arg)
{
	struct mbuf *mb = arg;
	(void)msg;

	return 0 != mbuf_printf(mb, "Contact: %r\r\n", &hdr->val);
}


/* A 3xx is relayed with its Contact headers: the redirect targets. */
static void contacts_keep(struct bleg *b, const struct sip_msg *msg)
{
	struct mbuf *mb = mbuf_alloc(256);

	if (!mb)
		return;

	(void)sip_msg_hdr_apply(msg, true, SIP_HDR_CONTACT, contact_collect,
				mb);
	mb->pos = 0;
	if (mbuf_get_left(mb))
		(void)mbuf_strdup(mb, &b->contacts, mbuf_get_left(mb));
	mem_deref(mb);
}


static void b_failh(struct uac *c, int err, const struct sip_msg *msg,
		    void *arg)
{
	struct bleg *b = arg;
	struct call *call = b->call;
	(void)c;

	if (err == ETIMEDOUT && msg) {
		b->final = 408;
		(void)str_dup(&b->reason, "Request Timeout");
		evlog_event(call->cr, "timer-c", "\"target\":%H",
			    jsonw_str, uac_target(b->uac));
	}
	else if (err || !msg) {
		b->final = err == ETIMEDOUT ? 408 : 503;
		(void)str_dup(&b->reason, err == ETIMEDOUT ?
			      "Request Timeout" : "Service Unavailable");
	}
	else {
		b->final = msg->scode;
		b->remote = true;
		if (pl_isset(&msg->reason))
			(void)pl_strdup(&b->reason, &msg->reason);
		else
			(void)str_dup(&b->reason, "Rejected");
		if (msg->scode < 400)
			contacts_keep(b, msg);
	}

	/* The CMRT offer went to a fork of this INVITE: its stream ends
	 * with it, while other contacts may still ring. */
	if (call->rt_leg && call->rt_leg->uac == b->uac)
		HOOK_RT(call, stop, call, "callee rejected");

	evlog_event(call->cr, "leg-failed",
		    "\"target\":%H,\"code\":%u,\"reason\":%H",
		    jsonw_str, uac_target(b->uac), b->final, jsonw_str,
		    b->reason);

	if (b->final >= 600)
		blegs_cancel(call, b);

	if (!blegs_pending(call) && !call->winner)
		blegs_failed(call);
}


static void b_provh(struct uac *c, struct leg *fork,
		    const struct sip_msg *msg, struct prack_out *pk,
		    void *arg)
{
	struct bleg *b = arg;
	struct call *call = b->call;
	char *pem;
	(void)c;

	/* RFC 5009: the callee's values are accepted and logged. */
	pem = call_pem_values(msg);
	if (pem)
		evlog_event(call->cr, "p-early-media", "\"from\":\"callee\","
			    "\"code\":%u,\"values\":%H", msg->scode,
			    jsonw_str, pem);
	mem_deref(pem);

	if (pk) {
		HOOK_RT(call, callee_prov, call, fork, msg, pk);

		/* Late offer: the callee offers in a reliable 1xx; the
		 * caller's answer comes in its PRACK, for ours. */
		if (fork && fork->oa.st == OA_REMOTE_OFFER &&
		    !pl_isset(pk->sdp) && call->a->rel100 &&
		    !call->a->leg.oa.done && !call->late_fork) {
			pk->defer = true;
			call->late_fork = fork;
		}

		evlog_event(call->cr, "prack-sent", "\"target\":%H,"
			    "\"deferred\":%s,\"early_session_offer\":%s",
			    jsonw_str, uac_target(b->uac),
			    pk->defer ? "true" : "false",
			    pl_isset(pk->early) ? "true" : "false");
		if (pl_isset(pk->early))
			evlog_event(call->cr, "cmr-inserted", "\"dir\":\"rt\","
				    "\"mode\":\"as\",\"resource\":%H,"
				    "\"in\":\"PRACK\",\"target\":%H",
				    jsonw_str, call->rt.resid, jsonw_str,
				    uac_target(b->uac));
	}

	if (!call->ended && !call->winner && !call->a->final)
		call_provisional(call, fork, msg);
}


static void b_prackh(struct uac *c, struct leg *fork,
		     const struct sip_msg *msg, void *arg)
{
	struct bleg *b = arg;
	struct call *call = b->call;
	(void)c;

	if (!msg) {
		evlog_event(call->cr, "prack-failed", "\"target\":%H",
			    jsonw_str, uac_target(b->uac));
		return;
	}

	evlog_event(call->cr, "prack-answered", "\"target\":%H,\"code\":%u",
		    jsonw_str, uac_target(b->uac), msg->scode);

	if (msg->scode < 300)
		HOOK_RT(call, callee_prack, call, fork, msg);
}


static bool b_answerh(struct uac *c, struct leg *fork,
		      const struct sip_msg *msg, void *arg)
{
	struct bleg *b = arg;
	struct call *call = b->call;
	bool late, defer;
	(void)c;

	call->winner = b;
	call->wleg = fork;
	tmr_cancel(&call->tmr_ring);
	blegs_cancel(call, b);

	/* Late offer (no SDP in the caller's INVITE, none answered in a
	 * 1xx): the callee's 2xx holds the offer, the caller's answer
	 * comes in its ACK, which we relay in ours. */
	late = fork->oa.st == OA_REMOTE_OFFER;

	/* Answering may end the call (a 2xx that cannot be sent). */
	mem_ref(call);
	call_callee_answered(call, fork, msg);
	defer = late && !call->ended;
	mem_deref(call);

	return defer;
}


static const struct uac_h uac_handlers = {
	.provh   = b_provh,
	.prackh  = b_prackh,
	.answerh = b_answerh,
	.failh   = b_failh,
};


static void bleg_destructor(void *arg)
{
	struct bleg *b = arg;

	list_unlink(&b->le);
	uac_close(b->uac);
	mem_deref(b->reason);
	mem_deref(b->contacts);
}


struct invhdr {
	struct call *call;
};


static int invite_hdrs(struct re_printf *pf, struct call *call)
{
	int err;

	err = re_hprintf(pf, "Supported: 100rel%s\r\n%s",
			 call->rt.as_possible ? ", early-session" : "",
			 call->bt.mode != MODE_GATEWAY &&
			 modegw_caller_supports(call->msg) ?
			 "P-Early-Media: supported\r\n" : "");
	for (int i = 0; i < 2 && !err; i++) {
		const struct mode_ops *o = call->rt_ops[i];

		if (o && o->invite_out)
			err = o->invite_out(pf, call);
	}

	return err;
}


int callee_start(struct call *call, const char *target, const char *cuser)
{
	const struct sip_msg *msg = call->msg;
	char *to_uri = NULL, *from_uri = NULL, *from_name = NULL;
	struct pl sdp = PL_INIT;
	struct bleg *b;
	int err;

	b = mem_zalloc(sizeof(*b), bleg_destructor);
	if (!b)
		return ENOMEM;

	b->call = call;

	err  = pl_strdup(&to_uri, &msg->to.auri);
	err |= pl_strdup(&from_uri, &msg->from.auri);
	if (pl_isset(&msg->from.dname))
		err |= pl_strdup(&from_name, &msg->from.dname);
	if (err)
		goto out;

	(void)leg_sdp(&call->a->leg, false, &sdp);

	err = uac_alloc(&b->uac, &call->srv->ls, target, to_uri, from_name,
			from_uri, cuser, &uac_handlers, b, &call_callee_h, call,
			(re_printf_h *)invite_hdrs, call, &sdp);
	if (err)
		goto out;

	/* The B-legs' handlers get the call as their argument. */
	list_append(&call->blegs, &b->le, b);
	evlog_event(call->cr, "leg-invite", "\"target\":%H",
		    jsonw_str, target);

 out:
	mem_deref(to_uri);
	mem_deref(from_uri);
	mem_deref(from_name);
	if (err) {
		LOGW(SUB_SIP, "%s: INVITE to %s: %m",
		     evlog_call_id(call->cr), target, err);
		mem_deref(b);
	}

	return err;
}



/* Every B-leg still ringing is cancelled. */
void callee_cancel_all(struct call *call)
{
	blegs_cancel(call, NULL);
}
