/**
 * @file call.c  The B2BUA's call: the caller's INVITE (an A-leg, UAS), one
 *               INVITE per callee contact (B-legs, UAC), and between them
 *               the CMR delivery modes' hooks
 *
 * The callee's contacts are called in parallel; the first 2xx wins and
 * the others are cancelled; when every B-leg failed the best final
 * response goes to the caller (RFC 3261 16.7 step 6).  Provisional
 * responses travel to the caller as the CMRBT mode shapes them; they are
 * reliable when a mode needs it, when the caller requires 100rel, or
 * when they carry SDP for a caller that supports 100rel.  After the
 * answer, in-dialog requests of either side are relayed to the other
 * (relay.c).  The modes' procedures live in mode_http.c, mode_as.c and
 * mode_gw.c; this file only calls their hooks.
 *
 * Ownership: srv->calls holds a call's reference; callbacks that can
 * outlive it hold one of their own and check call->ended.  Ending a call
 * closes its legs: the leg layer sends what is still due and frees them.
 */
#include <string.h>
#include <re.h>
#include "sip/sip_int.h"

enum { MAX_TARGETS = 8 };

struct bleg {
	struct le le;              /* call->blegs */
	struct call *call;
	struct uac *uac;
	uint16_t final;
	char *reason;
	char *contacts;            /* "Contact: ..." lines of a 3xx */
};


/* A mode hook of CMRBT, or of both CMRT procedures (HTTP mode's URL in
 * the INVITE and application server mode's offer in the PRACK can both
 * apply until the callee's 18x tells). */
#define HOOK_BT(call, name, ...)					\
	do {								\
		if ((call)->bt_ops && (call)->bt_ops->name)		\
			(call)->bt_ops->name(__VA_ARGS__);		\
	} while (0)

#define HOOK_RT(call, name, ...)					\
	do {								\
		for (int i_ = 0; i_ < 2; i_++) {			\
			const struct mode_ops *o_ = (call)->rt_ops[i_];	\
			if (o_ && o_->name)				\
				o_->name(__VA_ARGS__);			\
		}							\
	} while (0)


/* ---- helpers ---------------------------------------------------------- */

/* A Contact user part that needs no escaping (RFC 3261 "user" chars). */
static void safe_user(char *buf, size_t sz, const struct pl *user,
		      const char *fallback)
{
	size_t i, n = 0;

	for (i = 0; user && i < user->l && n + 1 < sz; i++) {
		char c = user->p[i];

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || strchr("-_.!~+", c))
			buf[n++] = c;
		else
			break;
	}

	if (!n || (user && i < user->l))
		n = (size_t)re_snprintf(buf, sz, "%s", fallback);

	buf[n] = '\0';
}


/* The reason phrases of the finals we originate. */
static const char *reason_phrase(uint16_t scode)
{
	switch (scode) {

	case 408: return "Request Timeout";
	case 480: return "Temporarily Unavailable";
	case 487: return "Request Terminated";
	case 503: return "Service Unavailable";
	case 504: return "Server Time-out";
	default:  return "Server Internal Error";
	}
}


struct media *call_media(const struct call *call, enum cmr_dir dir)
{
	const struct cmr_choice *c = dir == DIR_BT ? &call->bt : &call->rt;
	struct resource *r = c->resid ? table_resource(table_live(),
						       c->resid) : NULL;

	return r ? r->media : NULL;
}


/* The callee's leg of an answered call, else NULL. */
struct leg *call_callee_leg(const struct call *call)
{
	return call->wleg;
}


static void streams_stop(struct call *call, const char *why)
{
	HOOK_BT(call, stop, call, why);
	HOOK_RT(call, stop, call, why);
}


static void pem_collect_one(struct mbuf *mb, const struct sip_msg *msg)
{
	struct le *le;

	for (le = list_head(&msg->hdrl); le; le = le->next) {
		const struct sip_hdr *h = le->data;

		if (h->id == SIP_HDR_P_EARLY_MEDIA)
			(void)mbuf_printf(mb, "%s%r", mb->end ? ", " : "",
					  &h->val);
	}
}


/* The P-Early-Media values of a message, comma-joined, or NULL. */
static char *pem_values(const struct sip_msg *msg)
{
	struct mbuf *mb = mbuf_alloc(64);
	char *v = NULL;

	if (!mb)
		return NULL;

	pem_collect_one(mb, msg);
	if (mb->end) {
		mb->pos = 0;
		(void)mbuf_strdup(mb, &v, mb->end);
	}
	mem_deref(mb);

	return v;
}


/* ---- the caller's side ------------------------------------------------- */

struct provhdr {
	const struct call *call;
	const struct sip_msg *bmsg;
	const struct prov_out *po;
};


/*
 * Alert-Info of HTTP mode; RFC 5009 toward the caller: a mode's own
 * authorisation replaces the callee's, otherwise the callee's values
 * travel on, to a caller whose INVITE said "P-Early-Media: supported".
 */
static int provhdr_print(struct re_printf *pf, const struct provhdr *ph)
{
	char *v;
	int err;

	err = modehttp_alertinfo_print(pf, ph->po->alert_url);
	if (err)
		return err;

	if (ph->po->pem_sendrecv)
		return re_hprintf(pf, "P-Early-Media: sendrecv\r\n");

	if (!modegw_caller_supports(ph->call->msg))
		return 0;

	v = pem_values(ph->bmsg);
	if (!v)
		return 0;

	err = re_hprintf(pf, "P-Early-Media: %s\r\n", v);
	mem_deref(v);

	return err;
}


static void a_answer(struct call *call, struct leg *fork,
		     const struct sip_msg *bmsg);


/* A provisional response of the callee, on its way to the caller. */
static void a_provisional(struct call *call, struct leg *fork,
			  const struct sip_msg *bmsg)
{
	const struct uas *a = call->a;
	struct provhdr ph;
	struct prov_out po;
	struct body_view bv;
	char reason[64];
	int err;

	/* One reliable provisional at a time (RFC 3262 section 3): the
	 * newest one waits for the PRACK. */
	if (uas_rel_pending(a)) {
		mem_deref(call->queued_1xx);
		call->queued_1xx = mem_ref((void *)bmsg);
		return;
	}

	memset(&po, 0, sizeof(po));
	if (!body_parse(&bv, bmsg))
		po.sdp = bv.session;

	/* RFC 3262: reliable when the caller requires it, or when an SDP
	 * goes to a caller that supports it (the callee's answer, or its
	 * offer to a caller that made none). */
	po.reliable = a->rel100 &&
		(sip_msg_hdr_has_value(call->msg, SIP_HDR_REQUIRE, "100rel") ||
		 (pl_isset(&po.sdp) && fork &&
		  sip_msg_hdr_has_value(bmsg, SIP_HDR_REQUIRE, "100rel")));

	HOOK_BT(call, prov_in, call, bmsg, &po);

	/* An SDP already answered reliably is not sent again. */
	if (a->leg.oa.done && a->leg.oa.st == OA_IDLE && !po.reliable)
		po.sdp = pl_null;

	ph.call = call;
	ph.bmsg = bmsg;
	ph.po = &po;
	pl_strcpy(&bmsg->reason, reason, sizeof(reason));

	err = uas_progress(call->a, bmsg->scode, reason, po.reliable,
			   (re_printf_h *)provhdr_print, &ph, &po.sdp,
			   &po.early);
	if (err) {
		LOGW(SUB_SIP, "%s: %u to caller: %m",
		     evlog_call_id(call->cr), bmsg->scode, err);
		mem_deref(po.mb);
		return;
	}

	if (bmsg->scode == 180 || bmsg->scode == 183)
		evlog_call_state(call->cr, "ringing");
	evlog_event(call->cr, bmsg->scode == 180 ? "ringing" : "progress",
		    "\"code\":%u,\"sdp\":%s,\"reliable\":%s", bmsg->scode,
		    pl_isset(&po.sdp) ? "true" : "false",
		    po.reliable ? "true" : "false");

	HOOK_BT(call, prov_sent, call, bmsg, &po);
	mem_deref(po.mb);
}


/* What waited for the caller's PRACK goes now: a held 2xx first. */
static void a_release(struct call *call)
{
	struct sip_msg *next;

	if (call->held_2xx) {
		next = call->held_2xx;
		call->held_2xx = NULL;
		call->queued_1xx = mem_deref(call->queued_1xx);
		a_answer(call, call->held_fork, next);
		mem_deref(next);
	}
	else if (call->queued_1xx && !call->a->final) {
		next = call->queued_1xx;
		call->queued_1xx = NULL;
		a_provisional(call, NULL, next);
		mem_deref(next);
	}
}


/* The caller's PRACK; it may answer an offer the callee made in a
 * reliable 1xx (late offer), which our PRACK to the callee then carries
 * (RFC 3262 section 5). */
static void a_prackh(struct leg *leg, const struct sip_msg *prack, void *arg)
{
	struct call *call = arg;
	struct body_view bv;
	(void)leg;

	if (!prack) {
		evlog_event(call->cr, "prack-unmatched", NULL);
		return;
	}

	if (body_parse(&bv, prack))
		memset(&bv, 0, sizeof(bv));

	evlog_event(call->cr, "prack", "\"by\":\"caller\",\"rseq\":%u,"
		    "\"early_session\":%s", call->a->rseq,
		    pl_isset(&bv.early) ? "true" : "false");

	if (call->late_fork && call->winner) {
		struct leg *f = call->late_fork;

		call->late_fork = NULL;
		(void)uac_prack(call->winner->uac, f, &bv.session);
	}
	else if (call->late_fork) {
		struct le *le;

		for (le = list_head(&call->blegs); le; le = le->next) {
			struct bleg *b = le->data;

			if (!uac_prack(b->uac, call->late_fork, &bv.session))
				break;
		}
		call->late_fork = NULL;
	}

	HOOK_BT(call, prack_in, call, prack);

	a_release(call);
}


static int ok_hdrs_print(struct re_printf *pf, struct call *call)
{
	(void)call;
	return re_hprintf(pf, "Supported: 100rel, timer\r\n");
}


static void talk_over(void *arg)
{
	struct call *call = arg;

	evlog_event(call->cr, "limit", "\"what\":\"call duration\","
		    "\"seconds\":%u", call->talk_s);
	call_end(call, 0, "maximum call duration");
}


/* The 2xx to the caller's INVITE. */
void call_answer(struct call *call, uint16_t scode, const struct pl *sdp)
{
	int err;

	err = uas_answer(call->a, scode, "OK", (re_printf_h *)ok_hdrs_print,
			 call, sdp);
	if (err) {
		LOGW(SUB_SIP, "%s: 2xx to caller: %m",
		     evlog_call_id(call->cr), err);
		call_end(call, 500, "cannot send 2xx to the caller");
		return;
	}

	evlog_call_state(call->cr, "answered");
	evlog_event(call->cr, "answered", "\"code\":%u,\"sdp\":%s",
		    scode, pl_isset(sdp) ? "true" : "false");

	if (call->talk_s)
		tmr_start(&call->tmr_talk, call->talk_s * 1000ULL, talk_over,
			  call);
}


static void a_answer(struct call *call, struct leg *fork,
		     const struct sip_msg *bmsg)
{
	struct body_view bv;
	struct pl sdp = PL_INIT;

	/* RFC 3262 section 3: no 2xx while a reliable provisional response
	 * with a session description is unacknowledged. */
	if (uas_rel_pending(call->a) && call->a->rel_sdp) {
		mem_deref(call->held_2xx);
		call->held_2xx = mem_ref((void *)bmsg);
		call->held_fork = fork;
		evlog_event(call->cr, "2xx-held", "\"why\":\"reliable 1xx "
			    "with SDP not yet PRACKed\"");
		return;
	}

	streams_stop(call, "final response");

	if (!body_parse(&bv, bmsg))
		sdp = bv.session;

	/* The callee answered in a reliable 1xx and its 2xx has no SDP:
	 * the caller still gets that answer, here, unless it had it
	 * reliably already. */
	if (!pl_isset(&sdp) && fork)
		(void)leg_sdp(fork, false, &sdp);

	if (call->bt_ops && call->bt_ops->answer_in &&
	    call->bt_ops->answer_in(call, fork, bmsg, &sdp))
		return;

	if (call->a->leg.oa.st != OA_REMOTE_OFFER &&
	    !(call->a->leg.oa.st == OA_IDLE && !call->a->leg.oa.done))
		sdp = pl_null;

	call_answer(call, bmsg->scode, &sdp);
}


static void a_ackh(struct leg *leg, const struct sip_msg *ack, void *arg)
{
	struct call *call = arg;
	struct body_view bv;
	(void)leg;

	if (call->confirmed)
		return;

	call->confirmed = true;

	/* Late offer: the caller's answer to the callee's offer in the 2xx
	 * rides in its ACK, and in ours. */
	if (call->winner && !body_parse(&bv, ack))
		(void)uac_ack(call->winner->uac, &bv.session);

	evlog_call_state(call->cr, "confirmed");
	evlog_event(call->cr, "confirmed", NULL);

	HOOK_BT(call, ack_in, call, ack);
}


static void a_cancelh(struct leg *leg, void *arg)
{
	struct call *call = arg;
	(void)leg;

	evlog_event(call->cr, "cancelled", "\"by\":\"caller\"");
	call_end(call, 487, "caller cancelled");
}


static void endh(struct leg *leg, int err, const char *why, void *arg)
{
	struct call *call = arg;
	bool caller = leg->uas;
	char buf[96];

	/* A fork that lost the race is not the call's business. */
	if (!caller && leg != call->wleg)
		return;

	if (!err) {
		evlog_event(call->cr, "bye", "\"by\":\"%s\"",
			    caller ? "caller" : "callee");
		re_snprintf(buf, sizeof(buf), "%s hung up",
			    caller ? "caller" : "callee");
		call_end(call, 487, buf);
		return;
	}

	if (caller && !call->a->final) {
		evlog_event(call->cr, "prack-timeout", "\"rseq\":%u",
			    call->a->rseq);
		call_end(call, 504, "no PRACK from the caller");
		return;
	}

	if (caller && !call->a->acked)
		evlog_event(call->cr, "no-ack", NULL);

	re_snprintf(buf, sizeof(buf), "%s: %s", caller ? "caller" : "callee",
		    why);
	call_end(call, 0, buf);
}


static void refusedh(struct leg *leg, const struct sip_msg *msg,
		     uint16_t scode, void *arg)
{
	struct call *call = arg;

	evlog_event(call->cr, "offer-refused", "\"by\":\"%s\","
		    "\"method\":\"%r\",\"code\":%u,\"state\":\"%s\"",
		    leg->uas ? "caller" : "callee", &msg->met, scode,
		    oa_state_name(leg->oa.st));
}


static const struct leg_h a_h = {
	.refusedh = refusedh,
	.offerh  = relay_offerh,
	.reqh    = relay_reqh,
	.endh    = endh,
	.ackh    = a_ackh,
	.prackh  = a_prackh,
	.cancelh = a_cancelh,
};

static const struct leg_h b_h = {
	.refusedh = refusedh,
	.offerh  = relay_offerh,
	.reqh    = relay_reqh,
	.endh    = endh,
};


/* ---- the callee's side ------------------------------------------------ */

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

	streams_stop(call, "final response");
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
		if (pl_isset(&msg->reason))
			(void)pl_strdup(&b->reason, &msg->reason);
		else
			(void)str_dup(&b->reason, "Rejected");
		if (msg->scode < 400)
			contacts_keep(b, msg);
	}

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
	pem = pem_values(msg);
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
		a_provisional(call, fork, msg);
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
	bool late;
	(void)c;

	call->winner = b;
	call->wleg = fork;
	tmr_cancel(&call->tmr_ring);
	blegs_cancel(call, b);

	/* Late offer (no SDP in the caller's INVITE, none answered in a
	 * 1xx): the callee's 2xx holds the offer, the caller's answer
	 * comes in its ACK, which we relay in ours. */
	late = fork->oa.st == OA_REMOTE_OFFER;

	a_answer(call, fork, msg);

	return late && !call->ended;
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


static int bleg_start(struct call *call, const char *target, const char *cuser)
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
			from_uri, cuser, &uac_handlers, b, &b_h, call,
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


/* ---- call end --------------------------------------------------------- */

static void call_destructor(void *arg)
{
	struct call *call = arg;

	tmr_cancel(&call->tmr_ring);
	tmr_cancel(&call->tmr_talk);
	list_flush(&call->blegs);
	uas_close(call->a, 500, "Server Internal Error");
	mem_deref(call->gw);
	mem_deref(call->as_bt);
	mem_deref(call->as_rt);
	mem_deref(call->queued_1xx);
	mem_deref(call->held_2xx);
	list_unlink(&call->le);
	mem_deref(call->cr);
}


/*
 * Ends a call from any state: the caller's INVITE gets its final response
 * (scode) if it had none, callees still ringing are cancelled, every
 * answered dialog gets its BYE (the caller's after its ACK).
 */
void call_end(struct call *call, uint16_t scode, const char *why)
{
	struct uas *a;

	if (!call || call->ended)
		return;

	call->ended = true;
	tmr_cancel(&call->tmr_ring);
	tmr_cancel(&call->tmr_talk);
	streams_stop(call, why);

	a = call->a;
	call->a = NULL;
	if (!scode)
		scode = 500;
	uas_close(a, scode, reason_phrase(scode));

	/* Each B-leg's destructor closes its INVITE. */
	list_flush(&call->blegs);
	call->winner = NULL;
	call->wleg = NULL;

	evlog_call_end(call->cr, why);
	mem_deref(call);
}


static void ring_over(void *arg)
{
	struct call *call = arg;

	evlog_event(call->cr, "limit", "\"what\":\"ring time\","
		    "\"seconds\":%u", call->ring_s);
	streams_stop(call, "ring time limit");
	call_end(call, 408, "maximum ring time");
}


/* ---- a new call -------------------------------------------------------- */

static int user_print(struct re_printf *pf, const struct sip_taddr *ta)
{
	return re_hprintf(pf, "%r@%r", &ta->uri.user, &ta->uri.host);
}


static void reject(struct sipsrv *srv, const struct sip_msg *msg,
		   struct callrec *cr, uint16_t scode, const char *reason,
		   const char *why)
{
	(void)sip_treply(NULL, srv->sip, msg, scode, reason);
	evlog_event(cr, "routed", "\"result\":%u,\"why\":%H", scode,
		    jsonw_str, why);
	evlog_event(cr, "rejected", "\"code\":%u,\"reason\":%H", scode,
		    jsonw_str, reason);
	evlog_call_end(cr, why);
}


static void cmr_choose(struct call *call, const struct subscriber *callee,
		       const char *caller)
{
	const char *id = evlog_call_id(call->cr);
	struct streamer *st = call->srv->conf.streamer;
	int err;

	policy_choose_bt(&call->bt, callee, caller, call->msg, st != NULL);
	policy_choose_rt(&call->rt, callee, caller, st != NULL);

	switch (call->bt.mode) {

	case MODE_HTTP:    call->bt_ops = &modehttp_bt; break;
	case MODE_AS:      call->bt_ops = &modeas_bt;   break;
	case MODE_GATEWAY: call->bt_ops = &modegw_bt;   break;
	default:           call->bt_ops = NULL;         break;
	}

	/* A mode that cannot prepare its media falls back to HTTP mode
	 * (its start hook says why). */
	if (call->bt_ops && call->bt_ops->start) {
		err = call->bt_ops->start(call);
		if (err)
			call->bt_ops = &modehttp_bt;
	}

	if (call->rt.as_possible) {
		err = modeas_rt.start(call);
		if (err) {
			call->rt.as_possible = false;
			if (call->rt.mode == MODE_AS)
				call->rt.mode = MODE_OFF;
		}
	}
	call->rt_ops[0] = call->rt.mode == MODE_HTTP ? &modehttp_rt : NULL;
	call->rt_ops[1] = call->rt.as_possible ? &modeas_rt : NULL;

	if (call->bt.mode == MODE_HTTP &&
	    modehttp_url(call->url_bt, sizeof(call->url_bt),
			 call->srv->conf.http_base, call->bt.resid, id)) {
		call->bt.mode = MODE_OFF;
		call->bt_ops = NULL;
	}
	if (call->rt.mode == MODE_HTTP &&
	    modehttp_url(call->url_rt, sizeof(call->url_rt),
			 call->srv->conf.http_base, call->rt.resid, id)) {
		call->rt.mode = MODE_OFF;
		call->rt_ops[0] = NULL;
	}

	evlog_call_modes(call->cr, cmr_mode_name(call->bt.mode),
			 cmr_mode_name(call->rt.mode));
	evlog_event(call->cr, "mode", "\"dir\":\"bt\",\"mode\":\"%s\","
		    "\"why\":%H,\"resource\":%H",
		    cmr_mode_name(call->bt.mode), jsonw_str, call->bt.why,
		    jsonw_str, call->bt.resid);
	evlog_event(call->cr, "mode", "\"dir\":\"rt\",\"mode\":\"%s\","
		    "\"why\":%H,\"resource\":%H",
		    cmr_mode_name(call->rt.mode), jsonw_str, call->rt.why,
		    jsonw_str, call->rt.resid);
}


/* Checks that come before a call exists; true when msg was answered. */
static bool invite_refused(struct sipsrv *srv, const struct sip_msg *msg,
			   struct callrec *cr, struct subscriber **calleep)
{
	struct subscriber *callee, *calling;
	struct body_view bv;
	bool stale;
	int err;

	if (legset_callid_ours(&srv->ls, &msg->callid, true)) {
		reject(srv, msg, cr, 482, "Loop Detected",
		       "the INVITE came back to us");
		return true;
	}

	/* A calling subscriber with a password proves it first. */
	calling = table_subscriber_pl(table_live(), &msg->from.uri.user);
	if (calling && subscriber_password(calling) &&
	    sipauth_check(msg, subscriber_id(calling),
			  subscriber_password(calling), true, &stale)) {
		sipauth_challenge(srv, msg, true, stale);
		evlog_event(cr, "rejected", "\"code\":407,"
			    "\"reason\":\"authentication required\"");
		evlog_call_end(cr, "caller not authenticated");
		return true;
	}

	/* Only the session SDP travels on; a body we cannot read is the
	 * caller's error (RFC 3261 21.4.13, 21.4.19). */
	err = body_parse(&bv, msg);
	if (err == ENOTSUP) {
		(void)sip_treplyf(NULL, NULL, srv->sip, msg, false, 415,
				  "Unsupported Media Type",
				  "Accept: " BODY_ACCEPT "\r\n"
				  "Content-Length: 0\r\n\r\n");
		evlog_event(cr, "rejected", "\"code\":415,"
			    "\"reason\":\"unsupported body\"");
		evlog_call_end(cr, "unsupported body");
		return true;
	}
	if (err) {
		reject(srv, msg, cr, 400, "Malformed Body",
		       "malformed message body");
		return true;
	}

	callee = table_subscriber_pl(table_live(), &msg->uri.user);
	if (!callee) {
		reject(srv, msg, cr, 404, "Not Found", "unknown user");
		return true;
	}

	if (list_count(&srv->calls) >= srv->conf.max_calls) {
		(void)sip_treplyf(NULL, NULL, srv->sip, msg, false, 503,
				  "Service Unavailable",
				  "Retry-After: 5\r\n"
				  "Content-Length: 0\r\n\r\n");
		evlog_event(cr, "rejected", "\"code\":503,"
			    "\"reason\":\"call limit\"");
		evlog_call_end(cr, "call limit reached");
		return true;
	}

	*calleep = callee;

	return false;
}


static void invite_new(struct sipsrv *srv, const struct sip_msg *msg)
{
	const struct table_limits *lim = table_limits(table_live());
	struct subscriber *callee = NULL;
	struct callrec *cr = NULL;
	struct call *call = NULL;
	const char *targets[MAX_TARGETS];
	char *caller = NULL, *callid = NULL, *from = NULL, *to = NULL;
	char cuser_a[64], cuser_b[64];
	unsigned i, n = 0, started = 0;
	int err;

	err  = pl_strdup(&callid, &msg->callid);
	err |= re_sdprintf(&from, "%H", user_print, &msg->from);
	err |= re_sdprintf(&to, "%H", user_print, &msg->to);
	err |= pl_strdup(&caller, &msg->from.uri.user);
	if (err)
		goto out;

	err = evlog_call_alloc(&cr, callid, from, to);
	if (err)
		goto out;

	evlog_event(cr, "received", "\"from\":%H,\"to\":%H,\"ruri\":%H,"
		    "\"transport\":\"%s\",\"src\":\"%J\"",
		    jsonw_str, from, jsonw_str, to, jsonw_pl, &msg->ruri,
		    sip_transp_name(msg->tp), &msg->src);

	if (invite_refused(srv, msg, cr, &callee))
		goto out;

	for (i = 0; i < subscriber_binding_count(callee) &&
		     n < MAX_TARGETS; i++)
		targets[n++] = subscriber_binding(callee, i)->uri;
	for (i = 0; i < subscriber_contact_count(callee) &&
		     n < MAX_TARGETS; i++)
		targets[n++] = subscriber_contact(callee, i);

	if (!n) {
		reject(srv, msg, cr, 480, "Temporarily Unavailable",
		       "no registered or static contact");
		goto out;
	}

	call = mem_zalloc(sizeof(*call), call_destructor);
	if (!call) {
		err = ENOMEM;
		goto out;
	}

	call->srv = srv;
	call->cr = mem_ref(cr);
	call->ring_s = lim->ring_s;
	call->talk_s = lim->call_s;
	tmr_init(&call->tmr_ring);
	tmr_init(&call->tmr_talk);
	list_append(&srv->calls, &call->le, call);

	safe_user(cuser_a, sizeof(cuser_a), &msg->uri.user, "cmrlab");
	safe_user(cuser_b, sizeof(cuser_b), &msg->from.uri.user, "cmrlab");

	err = uas_alloc(&call->a, &srv->ls, msg, cuser_a, &a_h, call);
	if (err) {
		(void)sip_treply(NULL, srv->sip, msg, 500,
				 "Server Internal Error");
		LOGW(SUB_SIP, "INVITE from %J: %m", &msg->src, err);
		evlog_call_end(cr, "internal error");
		call->ended = true;
		mem_deref(call);
		goto out;
	}
	call->msg = call->a->msg;

	cmr_choose(call, callee, caller);

	evlog_call_state(call->cr, "routing");
	evlog_event(cr, "routed", "\"result\":\"targets\",\"targets\":%u",
		    n);

	if (call->ring_s)
		tmr_start(&call->tmr_ring, call->ring_s * 1000ULL, ring_over,
			  call);

	for (i = 0; i < n; i++) {
		if (!bleg_start(call, targets[i], cuser_b))
			++started;
	}

	if (!started)
		call_end(call, 480, "no target could be reached");

 out:
	mem_deref(cr);
	mem_deref(callid);
	mem_deref(from);
	mem_deref(to);
	mem_deref(caller);
}


/* ---- entry points ------------------------------------------------------ */

bool b2bua_request(struct sipsrv *srv, const struct sip_msg *msg)
{
	if (pl_isset(&msg->to.tag))
		return legset_request(&srv->ls, msg);

	if (!pl_strcmp(&msg->met, "INVITE")) {
		invite_new(srv, msg);
		return true;
	}

	return false;
}


bool b2bua_response(struct sipsrv *srv, const struct sip_msg *msg)
{
	return legset_response(&srv->ls, msg);
}


void b2bua_shutdown(struct sipsrv *srv)
{
	struct le *le = list_head(&srv->calls);

	while (le) {
		struct call *call = le->data;

		le = le->next;
		evlog_event(call->cr, "shutdown", NULL);
		call_end(call, 503, "server shutting down");
	}
}


bool b2bua_idle(const struct sipsrv *srv)
{
	return list_isempty(&srv->calls) && list_isempty(&srv->ls.closel);
}
