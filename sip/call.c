/**
 * @file call.c  The B2BUA's call: the caller's INVITE (the A-leg, UAS),
 *               its answer and its end, and the CMR modes' hooks
 *
 * A call is the caller's UAS leg, one UAC INVITE per callee contact
 * (callee.c), the policy's choice per direction (route.c) and the
 * procedure of each chosen mode, called through its hook table.
 * Provisional responses travel to the caller as the CMRBT mode shapes
 * them; they are
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

/* ---- helpers ---------------------------------------------------------- */

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


void call_streams_stop(struct call *call, const char *why)
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
char *call_pem_values(const struct sip_msg *msg)
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

	v = call_pem_values(ph->bmsg);
	if (!v)
		return 0;

	err = re_hprintf(pf, "P-Early-Media: %s\r\n", v);
	mem_deref(v);

	return err;
}


/* A provisional response of the callee, on its way to the caller. */
void call_provisional(struct call *call, struct leg *fork,
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

	/* An unreliable 1xx carries no SDP after a reliable answer, and
	 * none to a caller that made no offer: an offer must be in a
	 * reliable response (RFC 3261 13.2.1). */
	if (a->leg.oa.st == OA_IDLE && !po.reliable)
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
		call_callee_answered(call, call->held_fork, next);
		mem_deref(next);
	}
	else if (call->queued_1xx && !call->a->final) {
		next = call->queued_1xx;
		call->queued_1xx = NULL;
		call_provisional(call, NULL, next);
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

	/* The PRACK of the fork's INVITE (uac_prack refuses the others'). */
	if (call->late_fork) {
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

	evlog_event(call->cr, "limit", "\"limit\":\"call duration\","
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


void call_callee_answered(struct call *call, struct leg *fork,
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

	call_streams_stop(call, "final response");

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
	evlog_call_outcome(call->cr, OUTCOME_CANCELLED);
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
		evlog_call_outcome(call->cr, OUTCOME_TIMEOUT);
		call_end(call, 504, "no PRACK from the caller");
		return;
	}

	if (caller && !call->a->acked)
		evlog_event(call->cr, "no-ack", NULL);
	if (err == ETIMEDOUT)
		evlog_call_outcome(call->cr, OUTCOME_TIMEOUT);

	re_snprintf(buf, sizeof(buf), "%s: %s", caller ? "caller" : "callee",
		    why);
	call_end(call, 0, buf);
}


static void refusedh(struct leg *leg, const struct sip_msg *msg,
		     uint16_t scode, void *arg)
{
	struct call *call = arg;

	evlog_event(call->cr, "offer-refused", "\"by\":\"%s\","
		    "\"method\":%H,\"code\":%u,\"state\":\"%s\"",
		    leg->uas ? "caller" : "callee", jsonw_pl, &msg->met, scode,
		    oa_state_name(leg->oa.st));
}


const struct leg_h call_caller_h = {
	.offerh     = relay_offerh,
	.reqh       = relay_reqh,
	.endh       = endh,
	.ackh       = a_ackh,
	.prackh     = a_prackh,
	.refusedh   = refusedh,
	.ackanswerh = relay_ackanswerh,
	.cancelh    = a_cancelh,
};

const struct leg_h call_callee_h = {
	.offerh     = relay_offerh,
	.reqh       = relay_reqh,
	.endh       = endh,
	.refusedh   = refusedh,
	.ackanswerh = relay_ackanswerh,
};

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
	if (call->le.list) {
		list_unlink(&call->le);
		--call->srv->ncalls;
	}
	mem_deref(call->cr);
}


int call_alloc(struct call **callp, struct sipsrv *srv,
	       struct callrec *cr)
{
	struct call *call;

	call = mem_zalloc(sizeof(*call), call_destructor);
	if (!call)
		return ENOMEM;

	call->srv = srv;
	call->cr = mem_ref(cr);
	tmr_init(&call->tmr_ring);
	tmr_init(&call->tmr_talk);
	list_append(&srv->calls, &call->le, call);
	++srv->ncalls;
	*callp = call;

	return 0;
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
	call_streams_stop(call, why);

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


void call_ring_over(void *arg)
{
	struct call *call = arg;

	evlog_event(call->cr, "limit", "\"limit\":\"ring time\","
		    "\"seconds\":%u", call->ring_s);
	evlog_call_outcome(call->cr, OUTCOME_TIMEOUT);
	call_end(call, 408, "maximum ring time");
}

/* ---- entry points ------------------------------------------------------ */

bool b2bua_request(struct sipsrv *srv, const struct sip_msg *msg)
{
	if (pl_isset(&msg->to.tag))
		return legset_request(&srv->ls, msg);

	if (!pl_strcmp(&msg->met, "INVITE")) {
		route_invite(srv, msg);
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
