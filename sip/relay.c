/**
 * @file relay.c  In-dialog requests of an answered call, from one leg to
 *                the other
 *
 * A changed offer in a re-INVITE or UPDATE (hold, a new port, another
 * codec) goes to the other side as an offer of ours, and its answer comes
 * back as ours (RFC 3264); a refusal there is the refusal here.  The leg
 * layer already answered session refreshes and glare.  INFO (DTMF, RFC
 * 6086), MESSAGE, NOTIFY and the other requests travel with their body,
 * and the other side's final response comes back.  Before the answer
 * only the leg layer's rules apply: an early offer is declined with 488.
 */
#include <string.h>
#include <re.h>
#include "sip/sip_int.h"

struct relay {
	struct call *call;
	struct leg *from;          /* the leg whose request this is */
	struct sip_strans *st;     /* other requests: the transaction */
	struct sip_msg *req;
};


static void relay_destructor(void *arg)
{
	struct relay *r = arg;

	if (r->st)
		(void)sip_treply(&r->st, r->call->srv->sip, r->req, 500,
				 "Server Internal Error");
	mem_deref(r->st);
	mem_deref(r->req);
	mem_deref(r->from);
	mem_deref(r->call);
}


static struct relay *relay_alloc(struct call *call, struct leg *from,
				 const struct sip_msg *req)
{
	struct relay *r = mem_zalloc(sizeof(*r), relay_destructor);

	if (!r)
		return NULL;

	r->call = mem_ref(call);
	r->from = mem_ref(from);
	r->req = mem_ref((void *)req);

	return r;
}


/* The leg on the other side of an answered call, or NULL. */
static struct leg *other_leg(const struct call *call, const struct leg *leg)
{
	if (call->ended || !call->a || !call->wleg || !call->a->final)
		return NULL;

	return leg->uas ? call->wleg : &call->a->leg;
}


static const char *who(const struct leg *leg)
{
	return leg->uas ? "caller" : "callee";
}


/* An SDP on its way to leg to: toward the caller the CMRBT mode may
 * rewrite it (gateway mode keeps its own o= line going, RFC 3264 s. 8);
 * *mbp then holds the new text, which sdp points into. */
static void sdp_to(struct call *call, const struct leg *to, struct pl *sdp,
		   struct mbuf **mbp)
{
	if (to->uas && call->bt_ops && call->bt_ops->sdp_to_caller &&
	    !call->bt_ops->sdp_to_caller(call, sdp, mbp))
		pl_set_mbuf(sdp, *mbp);
}


static void offer_resp(int err, const struct sip_msg *msg, void *arg)
{
	struct relay *r = arg;
	struct call *call = r->call;
	struct leg *other;
	struct body_view bv;
	struct mbuf *mb = NULL;
	struct pl sdp = PL_INIT;
	char reason[64];

	if (call->ended || r->from->gone || !r->from->pst)
		goto out;

	other = other_leg(call, r->from);

	if (err || !msg || msg->scode >= 300) {
		uint16_t sc = msg ? msg->scode : 500;

		evlog_event(call->cr, "offer-relayed", "\"by\":\"%s\","
			    "\"code\":%u", who(r->from), sc);
		if (msg)
			pl_strcpy(&msg->reason, reason, sizeof(reason));
		(void)leg_answer(r->from, sc, msg ? reason : NULL, NULL);
		goto out;
	}

	if (!body_parse(&bv, msg))
		sdp = bv.session;
	if (!pl_isset(&sdp) && other)
		(void)leg_sdp(other, false, &sdp);

	/* A re-INVITE without an offer, relayed as one: the other side's
	 * offer in its 2xx is ours, and our ACK there waits for the answer
	 * in this side's ACK (relay_ackanswerh).  No offer came back: ours
	 * is the SDP we sent last on this side. */
	if (!pl_isset(&sdp))
		(void)leg_sdp(r->from, true, &sdp);

	sdp_to(call, r->from, &sdp, &mb);

	evlog_event(call->cr, "offer-relayed", "\"by\":\"%s\",\"code\":%u",
		    who(r->from), msg->scode);
	(void)leg_answer(r->from, 200, "OK", &sdp);

 out:
	mem_deref(mb);
	mem_deref(r);
}


/* A changed offer from one side: ours to the other. */
void relay_offerh(struct leg *leg, const struct sip_msg *msg,
		  const struct pl *sdp, void *arg)
{
	struct call *call = arg;
	struct leg *other = other_leg(call, leg);
	bool invite = !pl_strcmp(&msg->met, "INVITE");
	struct relay *r;
	struct mbuf *mb = NULL;
	struct pl out = *sdp;
	int err;

	if (!other) {
		evlog_event(call->cr, "offer-refused", "\"by\":\"%s\","
			    "\"method\":%H,\"code\":488,"
			    "\"why\":\"the call is not answered\"",
			    who(leg), jsonw_pl, &msg->met);
		(void)leg_answer(leg, 488, "Not Acceptable Here", NULL);
		return;
	}

	r = relay_alloc(call, leg, msg);
	if (!r) {
		(void)leg_answer(leg, 500, "Server Internal Error", NULL);
		return;
	}

	sdp_to(call, other, &out, &mb);

	err = leg_offer(other, invite, &out, offer_resp, r);
	mem_deref(mb);
	if (err) {
		/* An offer of the other side's is pending here: glare. */
		(void)leg_answer(leg, err == EBUSY || err == EALREADY ?
				 491 : 500, err == EBUSY || err == EALREADY ?
				 "Request Pending" : "Server Internal Error",
				 NULL);
		mem_deref(r);
		return;
	}

	evlog_event(call->cr, "offer-relay", "\"by\":\"%s\","
		    "\"method\":%H", who(leg), jsonw_pl, &msg->met);
}


/* The answer to an offer we made in a 2xx, in the ACK: for the other
 * side's held ACK (the offerless re-INVITE relayed above). */
void relay_ackanswerh(struct leg *leg, const struct sip_msg *ack,
		      void *arg)
{
	struct call *call = arg;
	struct leg *other = other_leg(call, leg);
	struct body_view bv;
	struct mbuf *mb = NULL;
	struct pl sdp;

	if (!other || !other->oack_due || body_parse(&bv, ack))
		return;

	sdp = bv.session;
	sdp_to(call, other, &sdp, &mb);

	(void)leg_ack_held(other, &sdp);
	mem_deref(mb);
}


static void req_resp(int err, const struct sip_msg *msg, void *arg)
{
	struct relay *r = arg;

	if (!err && msg && msg->scode < 200)
		return;

	(void)leg_reply(r->call->srv->sip, &r->st, r->req, err, msg);
	r->st = NULL;
	mem_deref(r);
}


/* INFO, MESSAGE, NOTIFY, ...: the same request on the other leg. */
void relay_reqh(struct leg *leg, const struct sip_msg *msg,
		struct sip_strans *st, void *arg)
{
	struct call *call = arg;
	struct leg *other = other_leg(call, leg);
	struct relay *r;
	int err;

	if (!other) {
		(void)sip_treply(&st, call->srv->sip, msg, 481,
				 "Call/Transaction Does Not Exist");
		mem_deref(st);
		return;
	}

	r = relay_alloc(call, leg, msg);
	if (!r) {
		(void)sip_treply(&st, call->srv->sip, msg, 500,
				 "Server Internal Error");
		mem_deref(st);
		return;
	}
	r->st = st;

	err = leg_relay(other, msg, req_resp, r);
	if (err) {
		mem_deref(r);
		return;
	}

	evlog_event(call->cr, "request-relayed", "\"by\":\"%s\","
		    "\"method\":%H", who(leg), jsonw_pl, &msg->met);
}
