/**
 * @file gwmodel.c  RFC 3960's gateway model, as the CMR Server plays it:
 *                  our SDP answer to the caller's offer, the ringback
 *                  to the caller's address, and the callee's SDP after
 *                  the answer
 *
 * Two procedures use it: gateway mode (mode_gw.c, OMA CMR clause
 * 1.1.1.10) and early media for callers that ask for no CMR mode
 * (mode_em.c).  They differ in what the provisional responses carry;
 * from the callee's 2xx on they are the same.  The stream stops and,
 * when our answer went in a reliable 18x and the caller allows UPDATE,
 * an UPDATE gives the caller the callee's SDP before the 2xx goes on
 * without SDP.  Otherwise the caller cannot be re-INVITEd while its
 * INVITE is pending (RFC 3261 14.1): it gets the 2xx first, repeating
 * our answer when that went unreliably (RFC 3261 13.2.1: the answer
 * is in the 2xx; RFC 6337 3.1: the same one), and the re-INVITE after
 * its ACK.  When the caller's answer moves its media, the callee is
 * re-INVITEd with it.
 */
#include <string.h>
#include <re.h>
#include "sip/sip_int.h"

enum { GLARE_MAX = 5, BUSY_RETRY_MS = 200 };

struct gwcall {
	struct gwmedia *m;
	struct mbuf *offer;        /* the caller's first offer */
	struct mbuf *answer;       /* our answer to it, as it went */
	struct mbuf *callee_sdp;   /* the SDP the caller gets on answer */
	uint16_t scode;            /* the callee's 2xx */
	bool answered;             /* our SDP answer went to the caller */
	bool reliable;             /* ... in a reliable 18x */
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
	mem_deref(g->answer);
	mem_deref(g->callee_sdp);
}


int gwmodel_start(struct call *call, bool reliable, const char *why_nocodec)
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
	g->reliable = reliable;
	g->offer = body_sdp_copy(&offer);

	/* Without a codec we can stream there is no gateway mode, and
	 * never a broken SDP. */
	err = modegw_alloc(&g->m, st, &offer);
	if (err || !g->offer) {
		call->bt.mode = MODE_HTTP;
		call->bt.why = err == ENOENT ? why_nocodec :
			"no RTP port for the ringback: http";
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


bool gwmodel_answered(const struct call *call)
{
	return call->gw && call->gw->answered;
}


bool gwmodel_reliable(const struct call *call)
{
	return call->gw && call->gw->reliable;
}


int gwmodel_answer(struct call *call, struct pl *sdp)
{
	struct gwcall *g = call->gw;
	int err;

	if (!g->answer) {
		err = modegw_answer(g->m, &g->answer);
		if (err) {
			LOGW(SUB_SIP, "%s: SDP answer to the caller: %m",
			     evlog_call_id(call->cr), err);
			return err;
		}
	}

	pl_set_mbuf(sdp, g->answer);

	return 0;
}


int gwmodel_sent(struct call *call)
{
	struct gwcall *g = call->gw;

	if (g->answered)
		return EALREADY;

	g->answered = true;

	return modegw_start(g->m, call_media(call, DIR_BT), call->cr);
}


static void offer_send(struct call *call);


static void retry(void *arg)
{
	offer_send(arg);
}


static bool by_update(const struct gwcall *g)
{
	return g->use_update && g->reliable;
}


static const char *method(const struct gwcall *g)
{
	return by_update(g) ? "UPDATE" : "INVITE";
}


static void failed(struct call *call, uint16_t scode)
{
	char why[96];

	re_snprintf(why, sizeof(why), "%s to the caller failed (%u)",
		    method(call->gw), scode);
	evlog_event(call->cr, by_update(call->gw) ? "update-failed" :
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

	if (by_update(g)) {
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


/* RFC 3264 section 8: each SDP of ours is one version up from the one the
 * caller got last.  Counting the re-offers made would skip a number for
 * each that never went: a relayed offer refused while our 2xx waits for
 * its ACK, a retry while the caller's own offer is out. */
static void version_sync(struct call *call)
{
	struct pl last;

	if (call->a && !leg_sdp(&call->a->leg, true, &last))
		modegw_version_from(call->gw->m, &last);
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
	version_sync(call);
	err = modegw_reoffer(g->m, &csdp, &mb);
	if (err) {
		failed(call, 500);
		return;
	}
	pl_set_mbuf(&sdp, mb);

	err = leg_offer(&call->a->leg, !by_update(g), &sdp, offer_resp,
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
	evlog_event(call->cr, by_update(g) ? "update-sent" :
		    "reinvite-sent", "\"sdp\":\"callee\"");
}


/* Our answer again, for a 2xx after an unreliable 18x; else none. */
static const struct pl *repeat(struct gwcall *g, struct pl *pl)
{
	if (g->reliable)
		return NULL;

	pl_set_mbuf(pl, g->answer);

	return pl;
}


bool gwmodel_answer_in(struct call *call, struct leg *fork,
		       const struct sip_msg *msg, const struct pl *sdp)
{
	struct gwcall *g = call->gw;
	struct pl ours;
	(void)fork;

	if (!g->answered)
		return false;

	if (!pl_isset(sdp)) {
		evlog_event(call->cr, "gateway-no-callee-sdp", NULL);
		call_answer(call, msg->scode, repeat(g, &ours));
		return true;
	}

	mem_deref(g->callee_sdp);
	g->callee_sdp = body_sdp_copy(sdp);
	g->scode = msg->scode;
	if (!g->callee_sdp) {
		call_end(call, 500, "out of memory");
		return true;
	}

	if (g->use_update && g->reliable) {
		offer_send(call);
		return true;
	}

	g->reinvite_due = true;
	call_answer(call, msg->scode, repeat(g, &ours));

	return true;
}


void gwmodel_ack_in(struct call *call, const struct sip_msg *ack)
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
int gwmodel_sdp_to_caller(struct call *call, const struct pl *sdp,
			    struct mbuf **mbp)
{
	if (!call->gw->answered || !pl_isset(sdp))
		return ENOENT;

	version_sync(call);

	return modegw_reoffer(call->gw->m, sdp, mbp);
}


void gwmodel_stop(struct call *call, const char *why)
{
	if (call->gw) {
		tmr_cancel(&call->gw->tmr);
		modegw_stop(call->gw->m, call->cr, why);
	}
}
