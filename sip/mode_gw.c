/**
 * @file mode_gw.c  Gateway mode's procedure: the CMR Server answers the
 *                  caller's offer itself and plays the ringback (RFC 3960
 *                  section 2.1, RFC 5009)
 *
 * OMA CMR clause 1.1.1.10 (with 1.1.1.9 and 1.1.1.11 for the client and
 * resource server sides).  The provisional response to the calling party
 * carries our SDP answer to its offer (gwsdp.c), "P-Early-Media:
 * sendrecv" and "Require: 100rel"; the resource plays to the caller's
 * offered address.  On the callee's 2xx the stream stops and, before the
 * 2xx goes on without SDP, an UPDATE gives the caller the callee's SDP:
 * from the 2xx, or from the callee's reliable 18x when its 2xx has none.
 * A caller that does not allow UPDATE cannot be re-INVITEd while its
 * INVITE is pending (RFC 3261 14.1): it gets the 200 first and the
 * re-INVITE after its ACK.  When the caller's answer moves its media,
 * the callee is re-INVITEd with it.
 */
#include <string.h>
#include <re.h>
#include "sip/sip_int.h"

enum { GLARE_MAX = 5, BUSY_RETRY_MS = 200 };

struct gwcall {
	struct gwmedia *m;
	struct mbuf *offer;        /* the caller's first offer */
	struct mbuf *callee_sdp;   /* the SDP the caller gets on answer */
	uint16_t scode;            /* the callee's 2xx */
	bool answered;             /* our SDP answer went to the caller */
	bool use_update;           /* the caller allows UPDATE */
	bool reinvite_due;         /* re-INVITE the caller after its ACK */
	bool busy;                 /* an offer of ours is out */
	unsigned glare;
	struct tmr tmr;
};


static void destructor(void *arg)
{
	struct gwcall *g = arg;

	tmr_cancel(&g->tmr);
	mem_deref(g->m);
	mem_deref(g->offer);
	mem_deref(g->callee_sdp);
}


static int gw_start(struct call *call)
{
	struct streamer *st = call->srv->conf.streamer;
	struct pl offer = PL_INIT;
	struct gwcall *g;
	struct sa ip;
	int err;

	(void)leg_sdp(&call->a->leg, false, &offer);

	g = mem_zalloc(sizeof(*g), destructor);
	if (!g)
		return ENOMEM;

	tmr_init(&g->tmr);
	g->use_update = call->a->leg.peer_update;
	g->offer = body_sdp_copy(&offer);

	/* Without a codec we can stream there is no gateway mode, and
	 * never a broken SDP. */
	err = modegw_alloc(&g->m, st, &offer);
	if (err || !g->offer) {
		call->bt.mode = MODE_HTTP;
		call->bt.why = err == ENOENT ? "P-Early-Media: supported, "
			"but the offer has no PCMU or PCMA to stream to: http" :
			"gateway mode unavailable (no RTP port): http";
		mem_deref(g);
		return err ? err : ENOMEM;
	}

	/* Our answer names the address the caller's INVITE arrived on, or
	 * the advertised one (never the streamer's 0.0.0.0). */
	sipsrv_advertised(call->srv, &call->msg->dst, &ip);
	modegw_sdp_addr(g->m, &ip);

	call->gw = g;

	return 0;
}


/* Clause 1.1.1.10: our answer replaces the callee's SDP, once; every
 * provisional response is reliable and authorises early media. */
static void gw_prov_in(struct call *call, const struct sip_msg *msg,
		       struct prov_out *po)
{
	struct gwcall *g = call->gw;
	int err;
	(void)msg;

	po->sdp = pl_null;
	po->reliable = true;
	po->pem_sendrecv = true;

	if (g->answered)
		return;

	err = modegw_answer(g->m, &po->mb);
	if (err) {
		LOGW(SUB_SIP, "%s: gateway SDP answer: %m",
		     evlog_call_id(call->cr), err);
		return;
	}

	pl_set_mbuf(&po->sdp, po->mb);
}


static void gw_prov_sent(struct call *call, const struct sip_msg *msg,
			 const struct prov_out *po)
{
	struct gwcall *g = call->gw;

	if (g->answered || !pl_isset(&po->sdp))
		return;

	g->answered = true;
	evlog_event(call->cr, "cmr-inserted", "\"dir\":\"bt\","
		    "\"mode\":\"gateway\",\"resource\":%H,\"in\":\"%u\","
		    "\"rseq\":%u", jsonw_str, call->bt.resid, msg->scode,
		    call->a->rseq);
	(void)modegw_start(g->m, call_media(call, DIR_BT), call->cr);
}


static void offer_send(struct call *call);


static void retry(void *arg)
{
	offer_send(arg);
}


static const char *method(const struct gwcall *g)
{
	return g->use_update ? "UPDATE" : "INVITE";
}


static void failed(struct call *call, uint16_t scode)
{
	char why[96];

	re_snprintf(why, sizeof(why), "%s to the caller failed (%u)",
		    method(call->gw), scode);
	evlog_event(call->cr, call->gw->use_update ? "update-failed" :
		    "reinvite-failed", "\"code\":%u", scode);
	/* The caller's INVITE is still open after a failed UPDATE: it gets a
	 * 500; a confirmed caller gets BYE; the callee gets BYE either way. */
	call_end(call, 500, why);
}


static void callee_resp(int err, const struct sip_msg *msg, void *arg)
{
	struct call *call = arg;

	if (call->ended)
		goto out;

	if (err || !msg || msg->scode >= 300) {
		evlog_event(call->cr, "reinvite-callee-failed", "\"code\":%u",
			    msg ? msg->scode : 0);
		call_end(call, 0, "re-INVITE to the callee failed");
		goto out;
	}

	evlog_event(call->cr, "reinvite-callee-answered", "\"code\":%u",
		    msg->scode);
 out:
	mem_deref(call);
}


/* The caller's answer to our re-offer: when its media moved away from
 * what the callee was given, the callee is re-INVITEd with it. */
static void media_check(struct call *call, const struct sip_msg *msg)
{
	struct leg *b = call_callee_leg(call);
	struct body_view bv;
	struct pl offer;
	struct sa a0, a1;
	int pt0, pt1;

	if (body_parse(&bv, msg) || !pl_isset(&bv.session) || !b)
		return;

	pl_set_mbuf(&offer, call->gw->offer);
	if (modegw_peek(&offer, &a0, &pt0) ||
	    modegw_peek(&bv.session, &a1, &pt1) ||
	    (sa_cmp(&a0, &a1, SA_ALL) && pt0 == pt1))
		return;

	evlog_event(call->cr, "caller-media-changed", "\"from\":\"%J\","
		    "\"to\":\"%J\",\"pt\":%d", &a0, &a1, pt1);

	if (leg_offer(b, true, &bv.session, callee_resp, mem_ref(call))) {
		mem_deref(call);
		LOGW(SUB_SIP, "%s: re-INVITE to the callee not sent",
		     evlog_call_id(call->cr));
		return;
	}

	evlog_event(call->cr, "reinvite-callee-sent", NULL);
}


static void offer_resp(int err, const struct sip_msg *msg, void *arg)
{
	struct call *call = arg;
	struct gwcall *g = call->gw;

	if (call->ended || !g)
		goto out;

	g->busy = false;

	if (err || !msg) {
		failed(call, 408);
		goto out;
	}

	/* RFC 3261 14.1: glare; the caller owns the Call-ID, so we retry
	 * after a random 0 to 2 s. */
	if (msg->scode == 491 && g->glare < GLARE_MAX) {
		++g->glare;
		evlog_event(call->cr, "glare", "\"method\":\"%s\",\"try\":%u",
			    method(g), g->glare);
		tmr_start(&g->tmr, rand_u32() % 2001, retry, call);
		goto out;
	}

	if (msg->scode >= 300) {
		failed(call, msg->scode);
		goto out;
	}

	if (g->use_update) {
		evlog_event(call->cr, "update-answered", "\"code\":%u",
			    msg->scode);
		call_answer(call, g->scode, NULL);
	}
	else {
		evlog_event(call->cr, "reinvite-answered", "\"code\":%u",
			    msg->scode);
	}

	if (!call->ended)
		media_check(call, msg);
 out:
	mem_deref(call);
}


/* Clause 1.1.1.10: the callee's SDP, as our next offer to the caller. */
static void offer_send(struct call *call)
{
	struct gwcall *g = call->gw;
	struct mbuf *mb = NULL;
	struct pl sdp, csdp;
	int err;

	if (call->ended || g->busy)
		return;

	pl_set_mbuf(&csdp, g->callee_sdp);
	err = modegw_reoffer(g->m, &csdp, &mb);
	if (err) {
		failed(call, 500);
		return;
	}
	pl_set_mbuf(&sdp, mb);

	err = leg_offer(&call->a->leg, !g->use_update, &sdp, offer_resp,
			mem_ref(call));
	mem_deref(mb);
	if (err == EBUSY) {
		/* The caller's own offer is outstanding: ours waits. */
		mem_deref(call);
		tmr_start(&g->tmr, BUSY_RETRY_MS, retry, call);
		return;
	}
	if (err) {
		mem_deref(call);
		failed(call, 500);
		return;
	}

	g->busy = true;
	evlog_event(call->cr, g->use_update ? "update-sent" :
		    "reinvite-sent", "\"sdp\":\"callee\"");
}


static bool gw_answer_in(struct call *call, struct leg *fork,
			 const struct sip_msg *msg, const struct pl *sdp)
{
	struct gwcall *g = call->gw;
	(void)fork;

	if (!g->answered)
		return false;

	if (!pl_isset(sdp)) {
		evlog_event(call->cr, "gateway-no-callee-sdp", NULL);
		call_answer(call, msg->scode, NULL);
		return true;
	}

	mem_deref(g->callee_sdp);
	g->callee_sdp = body_sdp_copy(sdp);
	g->scode = msg->scode;
	if (!g->callee_sdp) {
		call_end(call, 500, "out of memory");
		return true;
	}

	if (g->use_update) {
		offer_send(call);
		return true;
	}

	g->reinvite_due = true;
	call_answer(call, msg->scode, NULL);

	return true;
}


static void gw_ack_in(struct call *call, const struct sip_msg *ack)
{
	struct gwcall *g = call->gw;
	(void)ack;

	if (!g->reinvite_due)
		return;

	g->reinvite_due = false;
	offer_send(call);
}


/* After the answer, the callee's SDPs reach the caller under our o=
 * line (RFC 3264 section 8). */
static int gw_sdp_to_caller(struct call *call, const struct pl *sdp,
			    struct mbuf **mbp)
{
	if (!call->gw->answered || !pl_isset(sdp))
		return ENOENT;

	return modegw_reoffer(call->gw->m, sdp, mbp);
}


static void gw_stop(struct call *call, const char *why)
{
	if (call->gw) {
		tmr_cancel(&call->gw->tmr);
		modegw_stop(call->gw->m, call->cr, why);
	}
}


/* Clause 1.1.1.7 says when the stream ends; this table says how gateway
 * mode does everything else. */
const struct mode_ops modegw_bt = {
	.name          = "gateway",
	.start         = gw_start,
	.prov_in       = gw_prov_in,
	.prov_sent     = gw_prov_sent,
	.answer_in     = gw_answer_in,
	.ack_in        = gw_ack_in,
	.sdp_to_caller = gw_sdp_to_caller,
	.stop          = gw_stop,
};
