/**
 * @file leg_out.c  Requests of ours inside a dialog: ACK, BYE, an offer in
 *                  a re-INVITE or UPDATE, a relayed request
 *
 * A 408 or 481 to one of them, or no response at all, means the peer no
 * longer knows the dialog: it ends (RFC 3261 12.2.1.2) and the owner hears
 * so through its end handler.
 */
#include <errno.h>
#include <string.h>
#include <re.h>
#include "sip/sip_int.h"

/* ---- requests of ours in the dialog ------------------------------------ */

void leg_ack_send(struct leg *leg, uint32_t cseq, const struct pl *sdp)
{
	int err;

	err = sip_drequestf(NULL, leg->ls->sip, false, "ACK", leg->dlg, cseq,
			    NULL, leg_via_send, NULL, leg->ls, "%H",
			    body_print_sdp, sdp);
	if (err)
		LOGW(SUB_SIP, "ACK on %s: %m", sip_dialog_callid(leg->dlg),
		     err);
	else if (pl_isset(sdp)) {
		leg_sdp_sent(leg, sdp);
		(void)oa_local_answer(&leg->oa);
	}
}


bool leg_reinvite_pending(const struct leg *leg)
{
	return leg->oreq && leg->oinvite;
}


static void bye_send(struct leg *leg)
{
	int err;

	/* Fire and forget: libre keeps the request until it completes. */
	err = sip_drequestf(NULL, leg->ls->sip, true, "BYE", leg->dlg, 0,
			    NULL, leg_via_send, NULL, leg->ls,
			    "Content-Length: 0\r\n\r\n");
	if (err)
		LOGW(SUB_SIP, "BYE on %s: %m", sip_dialog_callid(leg->dlg),
		     err);
}


/* Ends the dialog (RFC 3261 15).  A re-INVITE of ours still pending
 * keeps the leg (its closed owner waits, leg_reinvite_pending()) so that
 * a 2xx crossing the BYE is still ACKed (13.2.2.4). */
void leg_bye(struct leg *leg)
{
	if (leg->gone || !leg->dlg)
		return;

	leg->gone = true;
	tmr_cancel(&leg->tmr_se);
	/* 15.1.2 from our side: a request of the peer still pending gets
	 * its final response now, not when its relayed copy times out. */
	if (leg->pst)
		(void)leg_answer(leg, 487, "Request Terminated", NULL);
	bye_send(leg);
}


/* The owner of a closed leg may be done with it now. */
static void closed_check(struct leg *leg)
{
	if (leg->uas)
		uas_closed_check((struct uas *)(void *)leg);
	else if (leg->uac)
		uac_closed_check(leg->uac);
}


/* 12.2.1.2: the peer does not know the dialog, or cannot be reached. */
static bool peer_gone(int err, const struct sip_msg *msg)
{
	return err || !msg || msg->scode == 408 || msg->scode == 481;
}


/* Our offer is dropped unanswered (its leg is going): libre will not call
 * back, so the owner hears it here, once. */
void leg_offer_abandon(struct leg *leg)
{
	leg_resp_h *resph = leg->oresph;

	if (!leg->oreq)
		return;

	leg->oresph = NULL;
	leg->oreq = mem_deref(leg->oreq);
	if (resph)
		resph(ECONNABORTED, NULL, leg->oarg);
}


static void offer_resp(int err, const struct sip_msg *msg, void *arg)
{
	struct leg *leg = arg;
	leg_resp_h *resph = leg->oresph;
	void *rarg = leg->oarg;

	if (!err && msg && msg->scode < 200)
		return;

	leg->oreq = mem_deref(leg->oreq);

	leg->oresph = NULL;

	if (!err && msg && msg->scode < 300) {
		if (mbuf_get_left(msg->mb) && leg->oa.st == OA_LOCAL_OFFER) {
			leg_sdp_got(leg, msg);
			(void)oa_remote_answer(&leg->oa);
		}
		else if (mbuf_get_left(msg->mb) && leg->ohold &&
			 !oa_remote_offer(&leg->oa)) {
			/* Our re-INVITE had no offer: the 2xx has one and
			 * our ACK will carry the answer (leg_ack_held). */
			leg_sdp_got(leg, msg);
			leg->oack_due = true;
			leg->oack_cseq = msg->cseq.num;
		}
		/* Ending: the ACK goes at once, without an answer. */
		if (leg->gone)
			leg->oack_due = false;
		if (leg->oinvite && !leg->oack_due)
			leg_ack_send(leg, msg->cseq.num, NULL);
		if (leg->se)
			leg_session_start(leg, msg, false);
	}
	else {
		oa_reject(&leg->oa);
	}

	mem_ref(leg);
	if (resph)
		resph(err, msg, rarg);

	/* A closed owner waited for this response. */
	if (leg->gone)
		closed_check(leg);

	if (peer_gone(err, msg) && !leg->gone) {
		leg->gone = true;
		tmr_cancel(&leg->tmr_se);
		if (leg->h && leg->h->endh)
			leg->h->endh(leg, err ? err : EPROTO,
				     "the peer is gone", leg->arg);
	}
	mem_deref(leg);
}


/* RFC 4028 sections 7.4 and 8: a request that refreshes the session says
 * so, and who refreshes next. */
static int session_hdrs(struct re_printf *pf, const struct leg *leg)
{
	if (!leg->se)
		return 0;

	return re_hprintf(pf, "Supported: timer\r\n"
			  "Session-Expires: %u;refresher=%s\r\n",
			  leg->se, leg->refresh_us ? "uac" : "uas");
}


/* The ACK held for the offer in the 2xx to our offerless re-INVITE, with
 * the answer. */
int leg_ack_held(struct leg *leg, const struct pl *sdp)
{
	if (!leg->oack_due)
		return EINVAL;

	leg->oack_due = false;
	leg_ack_send(leg, leg->oack_cseq, sdp);

	return 0;
}


/*
 * An offer of ours: a re-INVITE (invite) or an UPDATE, with sdp (an
 * UPDATE without SDP refreshes the session).  resph gets the final
 * response; a 2xx is ACKed here.
 */
int leg_offer(struct leg *leg, bool invite, const struct pl *sdp,
	      leg_resp_h *resph, void *arg)
{
	bool with = pl_isset(sdp);
	int err;

	if (leg->oreq || leg->pst || leg->gone || leg->oack_due)
		return EBUSY;

	/* RFC 3261 14.1: no re-INVITE while an INVITE transaction of the
	 * dialog is open (our 2xx not yet ACKed, or our ACK held). */
	if (invite && (leg->ok.mb || leg->ack_held))
		return EBUSY;

	if (with) {
		err = oa_local_offer(&leg->oa);
		if (err)
			return err;
	}

	leg->oresph = resph;
	leg->oarg = arg;
	leg->oinvite = invite;
	leg->ohold = invite && !with;

	err = sip_drequestf(&leg->oreq, leg->ls->sip, true,
			    invite ? "INVITE" : "UPDATE", leg->dlg, 0, NULL,
			    leg_contact_send, offer_resp, leg,
			    "Allow: %s\r\n"
			    "%H"
			    "%H",
			    leg_allow(leg->ls), session_hdrs, leg,
			    body_print_sdp, with ? sdp : NULL);
	if (err) {
		if (with)
			oa_reject(&leg->oa);
		return err;
	}

	if (with)
		leg_sdp_sent(leg, sdp);

	return 0;
}


static bool relay_hdr(const struct sip_hdr *h, const struct sip_msg *msg,
		      void *arg)
{
	struct mbuf *mb = arg;
	(void)msg;

	switch (h->id) {

	case SIP_HDR_CONTENT_TYPE:
	case SIP_HDR_CONTENT_DISPOSITION:
	case SIP_HDR_EVENT:
	case SIP_HDR_SUBSCRIPTION_STATE:
		return 0 != mbuf_printf(mb, "%r: %r\r\n", &h->name, &h->val);

	default:
		break;
	}

	/* Headers libre has no id for (RFC 6086 Info-Package). */
	if (!pl_strcasecmp(&h->name, "Info-Package") ||
	    !pl_strcasecmp(&h->name, "Recv-Info"))
		return 0 != mbuf_printf(mb, "%r: %r\r\n", &h->name, &h->val);

	return false;
}


/* A relayed request in flight: its leg, for the Contact, and the owner's
 * handler. */
struct lrelay {
	struct leg *leg;
	leg_resp_h *resph;
	void *arg;
};


static void lrelay_destructor(void *arg)
{
	struct lrelay *lr = arg;

	mem_deref(lr->leg);
}


static int lrelay_send(enum sip_transp tp, const struct sa *src,
		       const struct sa *dst, struct mbuf *mb, void *arg)
{
	struct lrelay *lr = arg;

	return leg_contact_send(tp, src, dst, mb, lr->leg);
}


static void lrelay_resp(int err, const struct sip_msg *msg, void *arg)
{
	struct lrelay *lr = arg;

	if (!err && msg && msg->scode < 200)
		return;

	if (lr->resph)
		lr->resph(err, msg, lr->arg);
	mem_deref(lr);
}


/* msg (a request from the other side) on this leg: same method, body and
 * the headers that describe the body.  resph gets the final response (or
 * an error), exactly once. */
int leg_relay(struct leg *leg, const struct sip_msg *msg,
	      leg_resp_h *resph, void *arg)
{
	struct lrelay *lr = NULL;
	struct mbuf *hdrs;
	struct le *le;
	char met[32];
	int err = 0;

	if (leg->gone || !leg->dlg)
		return ENOTCONN;

	hdrs = mbuf_alloc(256);
	lr = mem_zalloc(sizeof(*lr), lrelay_destructor);
	if (!hdrs || !lr) {
		err = ENOMEM;
		goto out;
	}

	lr->leg = mem_ref(leg);
	lr->resph = resph;
	lr->arg = arg;

	pl_strcpy(&msg->met, met, sizeof(met));
	for (le = list_head(&msg->hdrl); le && !err; le = le->next)
		err = relay_hdr(le->data, msg, hdrs) ? ENOMEM : 0;
	if (err)
		goto out;

	err = sip_drequestf(NULL, leg->ls->sip, true, met, leg->dlg, 0, NULL,
			    lrelay_send, lrelay_resp, lr,
			    "%b"
			    "Content-Length: %zu\r\n"
			    "\r\n"
			    "%b",
			    hdrs->buf, hdrs->end, mbuf_get_left(msg->mb),
			    mbuf_buf(msg->mb), mbuf_get_left(msg->mb));
	if (!err)
		lr = NULL;       /* libre's now, until lrelay_resp */
 out:
	mem_deref(hdrs);
	mem_deref(lr);

	return err;
}


/* The answer to a request relayed with leg_relay(): the response's
 * status and body, or 408 for none. */
int leg_reply(struct sip *sip, struct sip_strans **stp,
	      const struct sip_msg *req, int err, const struct sip_msg *rsp)
{
	const struct sip_hdr *ct;
	char reason[64];

	if (err || !rsp)
		return sip_treply(stp, sip, req, 408, "Request Timeout");

	ct = mbuf_get_left(rsp->mb) ?
		sip_msg_hdr(rsp, SIP_HDR_CONTENT_TYPE) : NULL;
	pl_strcpy(&rsp->reason, reason, sizeof(reason));

	return sip_treplyf(stp, NULL, sip, req, false, rsp->scode, reason,
			   "%s%r%s"
			   "Content-Length: %zu\r\n"
			   "\r\n"
			   "%b",
			   ct ? "Content-Type: " : "",
			   ct ? &ct->val : &pl_null,
			   ct ? "\r\n" : "",
			   ct ? mbuf_get_left(rsp->mb) : (size_t)0,
			   ct ? mbuf_buf(rsp->mb) : NULL,
			   ct ? mbuf_get_left(rsp->mb) : (size_t)0);
}
