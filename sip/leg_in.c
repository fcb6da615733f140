/**
 * @file leg_in.c  Requests from the peer inside a dialog
 *
 * Requests are taken in CSeq order (RFC 3261 12.2.2: a lower CSeq gets
 * 500).  A re-INVITE or UPDATE whose SDP is the one the peer sent last (a
 * session refresh, RFC 4028) is answered here with the SDP we sent last;
 * a changed offer goes to the owner, who relays it and answers with
 * leg_answer().  While an offer of ours is outstanding (in a request of
 * ours, the INVITE or a reliable 1xx), the peer's offer gets 491 (RFC
 * 3261 14.2, RFC 3311 5.2); while we owe an answer, a second offer gets
 * 500 with Retry-After, and so does an INVITE in the early dialog, before
 * our final response to the first one (14.2).  Every re-INVITE and UPDATE
 * refreshes the remote target (12.2.2).  BYE ends the dialog; other
 * requests go to the owner with their transaction, or get 501.
 */
#include <string.h>
#include <re.h>
#include "sip/sip_int.h"

/* ---- requests from the peer ------------------------------------------- */

/* A 2xx to the peer's re-INVITE or UPDATE with our SDP (or none). */
static int ok_reply(struct leg *leg, struct sip_strans **stp,
		    const struct sip_msg *msg, const struct pl *sdp)
{
	struct leg_cmsg cm = { leg, msg };
	bool invite = !pl_strcmp(&msg->met, "INVITE");
	struct mbuf *mb = NULL;
	struct sa dst;
	int err;

	err = sip_treplyf(stp, invite ? &mb : NULL, leg->ls->sip, msg, true,
			  200, "OK",
			  "%H"
			  "Allow: %s\r\n"
			  "%H"
			  "%H",
			  leg_contact_print, &cm, leg_allow(leg->ls),
			  leg_session_print, leg,
			  body_print_sdp, sdp);
	if (err)
		return err;

	if (pl_isset(sdp))
		leg_sdp_sent(leg, sdp);

	/* 13.3.1.4: the 2xx of a re-INVITE is ours to resend. */
	if (invite) {
		rtx_stop(&leg->ok);
		leg->ok.mb = mb;
		leg_reply_dst(&dst, msg);
		rtx_start(&leg->ok, msg, &dst);
	}

	return 0;
}


int leg_answer(struct leg *leg, uint16_t scode, const char *reason,
	       const struct pl *sdp)
{
	int err;

	if (!leg->pst)
		return EPROTO;

	if (scode < 300) {
		if (leg->oa.st == OA_REMOTE_OFFER && pl_isset(sdp))
			(void)oa_local_answer(&leg->oa);
		else if (pl_isset(sdp))
			(void)oa_local_offer(&leg->oa);
		err = ok_reply(leg, &leg->pst, leg->pmsg, sdp);
	}
	else {
		oa_reject(&leg->oa);
		err = sip_treplyf(&leg->pst, NULL, leg->ls->sip, leg->pmsg,
				  false, scode, reason ? reason : "Failed",
				  "%s"
				  "Content-Length: 0\r\n\r\n",
				  scode == 491 || scode == 500 ?
				  "Retry-After: 1\r\n" : "");
	}

	leg->pst = mem_deref(leg->pst);
	leg->pmsg = mem_deref(leg->pmsg);

	return err;
}


static void refused(struct leg *leg, const struct sip_msg *msg,
		    uint16_t scode)
{
	if (leg->h && leg->h->refusedh)
		leg->h->refusedh(leg, msg, scode, leg->arg);
}


static void offer_in(struct leg *leg, const struct sip_msg *msg)
{
	struct sip *sip = leg->ls->sip;
	bool invite = !pl_strcmp(&msg->met, "INVITE");
	struct body_view bv;
	struct pl sdp = PL_INIT;
	int err;

	if (body_parse(&bv, msg)) {
		(void)sip_treply(NULL, sip, msg, 400, "Malformed Body");
		return;
	}

	/* Glare, or an offer before we answered the last one. */
	if (leg->oreq && (invite || leg->oa.st == OA_LOCAL_OFFER ||
			  pl_isset(&bv.session))) {
		(void)sip_treplyf(NULL, NULL, sip, msg, false, 491,
				  "Request Pending",
				  "Content-Length: 0\r\n\r\n");
		refused(leg, msg, 491);
		return;
	}
	/* 14.2: also an INVITE before our final response to the one that
	 * made the dialog (in the early dialog).  An offer while one of
	 * ours is unanswered (the INVITE's, a reliable 1xx's) is glare, 491
	 * (RFC 3311 5.2); while we owe an answer, 500. */
	if (leg->pst || (invite && leg->ok.mb) ||
	    (invite && leg->uas && !((struct uas *)(void *)leg)->final))
		err = EALREADY;
	else if (pl_isset(&bv.session))
		err = oa_remote_offer(&leg->oa);
	else
		err = 0;
	if (err == EBUSY) {
		(void)sip_treplyf(NULL, NULL, sip, msg, false, 491,
				  "Request Pending",
				  "Content-Length: 0\r\n\r\n");
		refused(leg, msg, 491);
		return;
	}
	if (err) {
		(void)sip_treplyf(NULL, NULL, sip, msg, false, 500,
				  "Server Internal Error",
				  "Retry-After: %u\r\n"
				  "Content-Length: 0\r\n\r\n",
				  1 + rand_u32() % 10);
		refused(leg, msg, 500);
		return;
	}

	/* 12.2.2: target refresh.  A Contact we cannot read, or one that
	 * would break the dialog (leg_target_ok), leaves the target as it
	 * was. */
	if (sip_msg_hdr(msg, SIP_HDR_CONTACT))
		(void)leg_target_update(leg, msg);
	leg->peer_update = sip_msg_hdr_has_value(msg, SIP_HDR_ALLOW,
						 "UPDATE") || leg->peer_update;
	leg_session_start(leg, msg, true);

	/* A refresh: no SDP in an UPDATE, or the same SDP again. */
	if (!pl_isset(&bv.session) && !invite) {
		(void)ok_reply(leg, NULL, msg, NULL);
		return;
	}
	if (pl_isset(&bv.session) && leg_sdp_unchanged(leg, &bv.session)) {
		(void)oa_local_answer(&leg->oa);
		(void)leg_sdp(leg, true, &sdp);
		(void)ok_reply(leg, NULL, msg, &sdp);
		return;
	}

	if (!leg->h || !leg->h->offerh) {
		if (pl_isset(&bv.session))
			oa_reject(&leg->oa);
		(void)sip_treplyf(NULL, NULL, sip, msg, false, 488,
				  "Not Acceptable Here",
				  "Content-Length: 0\r\n\r\n");
		return;
	}

	err = sip_strans_alloc(&leg->pst, sip, msg, NULL, NULL);
	if (err) {
		if (pl_isset(&bv.session))
			oa_reject(&leg->oa);
		(void)sip_treply(NULL, sip, msg, 500, "Server Internal Error");
		return;
	}
	leg->pmsg = mem_ref((void *)msg);
	if (pl_isset(&bv.session))
		leg_sdp_got(leg, msg);

	leg->h->offerh(leg, msg, &bv.session, leg->arg);
}


static void bye_in(struct leg *leg, const struct sip_msg *msg)
{
	/* Stateful, so that a retransmitted BYE gets the same 200. */
	(void)sip_treply(NULL, leg->ls->sip, msg, 200, "OK");

	if (leg->gone)
		return;

	leg->gone = true;
	tmr_cancel(&leg->tmr_se);
	rtx_stop(&leg->ok);

	/* RFC 3261 15.1.2: requests of the peer still pending get 487. */
	if (leg->pst)
		(void)leg_answer(leg, 487, "Request Terminated", NULL);
	if (leg->uas)
		uas_bye_in((struct uas *)(void *)leg);

	if (leg->h && leg->h->endh)
		leg->h->endh(leg, 0, "bye", leg->arg);
}


static void other_in(struct leg *leg, const struct sip_msg *msg)
{
	struct sip_strans *st = NULL;
	int err;

	if (!pl_strcmp(&msg->met, "OPTIONS") && (!leg->h || !leg->h->reqh)) {
		(void)sip_treplyf(NULL, NULL, leg->ls->sip, msg, false, 200,
				  "OK", "Allow: %s\r\n"
				  "Content-Length: 0\r\n\r\n",
				  leg_allow(leg->ls));
		return;
	}

	if (!leg->h || !leg->h->reqh) {
		(void)sip_treplyf(NULL, NULL, leg->ls->sip, msg, false, 501,
				  "Not Implemented",
				  "Allow: %s\r\n"
				  "Content-Length: 0\r\n\r\n",
				  leg_allow(leg->ls));
		return;
	}

	err = sip_strans_alloc(&st, leg->ls->sip, msg, NULL, NULL);
	if (err) {
		(void)sip_treply(NULL, leg->ls->sip, msg, 500,
				 "Server Internal Error");
		return;
	}

	leg->h->reqh(leg, msg, st, leg->arg);
}


static void ack_in(struct leg *leg, const struct sip_msg *msg)
{
	if (leg->uas && uas_ack_in((struct uas *)(void *)leg, msg))
		return;

	/* The ACK of our 2xx to a re-INVITE: the answer to an offer we
	 * made in it rides here. */
	if (!leg->ok.mb)
		return;

	rtx_stop(&leg->ok);
	if (leg->oa.st == OA_LOCAL_OFFER && mbuf_get_left(msg->mb)) {
		leg_sdp_got(leg, msg);
		(void)oa_remote_answer(&leg->oa);
		if (leg->h && leg->h->ackanswerh)
			leg->h->ackanswerh(leg, msg, leg->arg);
	}
}


static void leg_request(struct leg *leg, const struct sip_msg *msg)
{
	if (!pl_strcmp(&msg->met, "ACK")) {
		ack_in(leg, msg);
		return;
	}

	/* 12.2.2: a CSeq lower than the last one is out of order. */
	if (!sip_dialog_rseq_valid(leg->dlg, msg)) {
		(void)sip_treply(NULL, leg->ls->sip, msg, 500,
				 "Server Internal Error");
		return;
	}

	if (!pl_strcmp(&msg->met, "BYE"))
		bye_in(leg, msg);
	else if (leg->gone)
		(void)sip_treply(NULL, leg->ls->sip, msg, 481,
				 "Call/Transaction Does Not Exist");
	else if (!pl_strcmp(&msg->met, "PRACK")) {
		if (leg->uas)
			uas_prack_in((struct uas *)(void *)leg, msg);
		else
			(void)sip_treply(NULL, leg->ls->sip, msg, 481,
					 "Call/Transaction Does Not Exist");
	}
	else if (!pl_strcmp(&msg->met, "INVITE") ||
		 !pl_strcmp(&msg->met, "UPDATE"))
		offer_in(leg, msg);
	else
		other_in(leg, msg);
}


bool legset_request(struct legset *ls, const struct sip_msg *msg)
{
	struct leg *leg;

	if (!pl_isset(&msg->to.tag))
		return false;

	leg = legset_find(ls, msg);
	if (!leg)
		return false;

	/* A handler may drop the last reference to the leg. */
	mem_ref(leg);
	leg_request(leg, msg);
	mem_deref(leg);

	return true;
}


/*
 * A 2xx to an INVITE of ours that arrives after its client transaction
 * ended: a retransmission (our ACK was lost), or another fork's answer.
 */
bool legset_response(struct legset *ls, const struct sip_msg *msg)
{
	struct leg *leg;

	if (msg->scode < 200 || msg->scode >= 300 ||
	    pl_strcmp(&msg->cseq.met, "INVITE"))
		return false;

	leg = legset_find(ls, msg);
	if (!leg || !leg->uas) {
		if (uac_late_2xx(ls, leg, msg))
			return true;
	}
	if (!leg)
		return false;

	/* Our offerless re-INVITE's 2xx again: its ACK is held. */
	if (leg->oack_due && msg->cseq.num == leg->oack_cseq)
		return true;

	leg_ack_send(leg, msg->cseq.num, NULL);

	return true;
}
