/**
 * @file leg_out.c  Requests of ours inside a dialog: ACK, BYE, an offer in
 *                  a re-INVITE or UPDATE, a relayed request
 *
 * A 408 or 481 to one of them, or no response at all, means the peer no
 * longer knows the dialog: it ends (RFC 3261 12.2.1.2) and the owner hears
 * so through its end handler.
 */
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


void leg_bye(struct leg *leg)
{
	int err;

	if (leg->gone || !leg->dlg)
		return;

	leg->gone = true;
	tmr_cancel(&leg->tmr_se);

	/* Fire and forget: libre keeps the request until it completes. */
	err = sip_drequestf(NULL, leg->ls->sip, true, "BYE", leg->dlg, 0,
			    NULL, leg_via_send, NULL, leg->ls,
			    "Content-Length: 0\r\n\r\n");
	if (err)
		LOGW(SUB_SIP, "BYE on %s: %m", sip_dialog_callid(leg->dlg),
		     err);
}


/* 12.2.1.2: the peer does not know the dialog, or cannot be reached. */
static bool peer_gone(int err, const struct sip_msg *msg)
{
	return err || !msg || msg->scode == 408 || msg->scode == 481;
}


static void offer_resp(int err, const struct sip_msg *msg, void *arg)
{
	struct leg *leg = arg;
	leg_resp_h *resph = leg->oresph;
	void *rarg = leg->oarg;

	if (!err && msg && msg->scode < 200)
		return;

	leg->oreq = mem_deref(leg->oreq);

	if (!err && msg && msg->scode < 300) {
		if (leg->oinvite)
			leg_ack_send(leg, msg->cseq.num, NULL);
		if (mbuf_get_left(msg->mb) && leg->oa.st == OA_LOCAL_OFFER) {
			leg_sdp_got(leg, msg);
			(void)oa_remote_answer(&leg->oa);
		}
		if (leg->se)
			leg_session_start(leg, msg, false);
	}
	else {
		oa_reject(&leg->oa);
	}

	mem_ref(leg);
	if (resph)
		resph(err, msg, rarg);

	if (peer_gone(err, msg) && !leg->gone) {
		leg->gone = true;
		tmr_cancel(&leg->tmr_se);
		if (leg->h && leg->h->endh)
			leg->h->endh(leg, err ? err : EPROTO,
				     "the peer is gone", leg->arg);
	}
	mem_deref(leg);
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

	if (leg->oreq || leg->pst || leg->gone)
		return EBUSY;

	if (with) {
		err = oa_local_offer(&leg->oa);
		if (err)
			return err;
	}

	leg->oresph = resph;
	leg->oarg = arg;
	leg->oinvite = invite;

	err = sip_drequestf(&leg->oreq, leg->ls->sip, true,
			    invite ? "INVITE" : "UPDATE", leg->dlg, 0, NULL,
			    leg_contact_send, offer_resp, leg,
			    "Allow: " LEG_ALLOW "\r\n"
			    "%s"
			    "%H",
			    leg->se ? "Supported: timer\r\n" : "",
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


/* msg (a request from the other side) on this leg: same method, body and
 * the headers that describe the body. */
int leg_relay(struct leg *leg, const struct sip_msg *msg,
	      leg_resp_h *resph, void *arg)
{
	struct mbuf *hdrs;
	struct le *le;
	char met[32];
	int err = 0;

	if (leg->gone || !leg->dlg)
		return ENOTCONN;

	hdrs = mbuf_alloc(256);
	if (!hdrs)
		return ENOMEM;

	pl_strcpy(&msg->met, met, sizeof(met));
	for (le = list_head(&msg->hdrl); le && !err; le = le->next)
		err = relay_hdr(le->data, msg, hdrs) ? ENOMEM : 0;
	if (err)
		goto out;

	err = sip_drequestf(NULL, leg->ls->sip, true, met, leg->dlg, 0, NULL,
			    leg_contact_send, resph, arg,
			    "%b"
			    "Content-Length: %zu\r\n"
			    "\r\n"
			    "%b",
			    hdrs->buf, hdrs->end, mbuf_get_left(msg->mb),
			    mbuf_buf(msg->mb), mbuf_get_left(msg->mb));
 out:
	mem_deref(hdrs);

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
