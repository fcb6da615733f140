/**
 * @file leg_uas.c  The INVITE server side of a leg
 *
 * 100 Trying at once; provisional responses, reliable ones (RFC 3262)
 * with RSeq, resent until the PRACK that matches them and given up with
 * the owner told after 64*T1; the 2xx resent until the ACK (RFC 3261
 * 13.3.1.4); CANCEL answered 487.  Every response and every resent copy
 * goes to the one address RFC 3261 18.2.2 names for this INVITE (the
 * source port only when the Via asked for rport, RFC 3581).
 *
 * After uas_close() the layer keeps the leg until it has done what is
 * still due: a BYE waits for the caller's ACK of our 2xx (or for the
 * 2xx to time out), never crossing it (RFC 3261 section 15).
 */
#include <string.h>
#include <re.h>
#include "sip/sip_int.h"


static void destructor(void *arg)
{
	struct uas *u = arg;

	list_unlink(&u->cle);
	rtx_stop(&u->rel);
	leg_reset(&u->leg);
	mem_deref(u->st);
	mem_deref(u->msg);
}


/* The layer's work after uas_close() is done. */
static void finish(struct uas *u)
{
	if (!u->closed || u->bye_due || leg_reinvite_pending(&u->leg))
		return;

	u->closed = false;
	list_unlink(&u->cle);
	mem_deref(u);
}


static void end_notify(struct uas *u, int err, const char *why)
{
	if (u->leg.h && u->leg.h->endh)
		u->leg.h->endh(&u->leg, err, why, u->leg.arg);
}


static void rel_expired(struct rtx *r)
{
	struct uas *u = LEG_CONTAINER(r, struct uas, rel);

	/* RFC 3262 section 3: without a PRACK, the owner ends the INVITE
	 * with a 5xx.  (A closed leg has its final response: no 1xx of it
	 * is pending.) */
	end_notify(u, ETIMEDOUT, "no PRACK for the reliable provisional "
		   "response");
}


static void ok_expired(struct rtx *r)
{
	struct uas *u = LEG_CONTAINER(r, struct uas, leg.ok);

	/* 13.3.1.4: no ACK; the dialog ends with a BYE. */
	u->bye_due = false;
	leg_bye(&u->leg);
	if (u->closed) {
		finish(u);
		return;
	}

	end_notify(u, ETIMEDOUT, "no ACK for our 2xx");
}


static void cancel_handler(void *arg)
{
	struct uas *u = arg;

	/* libre has answered the CANCEL with 200 already; it calls here
	 * only before our final response, so never on a closed leg. */
	(void)uas_reject(u, 487, "Request Terminated", NULL);

	if (u->leg.h && u->leg.h->cancelh)
		u->leg.h->cancelh(&u->leg, u->leg.arg);
}


int uas_alloc(struct uas **up, struct legset *ls, const struct sip_msg *msg,
	      const char *cuser, const struct leg_h *h, void *arg)
{
	struct body_view bv;
	struct uas *u;
	int err;

	if (!up || !ls || !msg)
		return EINVAL;

	u = mem_zalloc(sizeof(*u), destructor);
	if (!u)
		return ENOMEM;

	leg_init(&u->leg, ls, h, arg, cuser);
	u->leg.uas = true;
	u->leg.ok.expireh = ok_expired;
	u->msg = mem_ref((void *)msg);
	rtx_init(&u->rel, ls->sip, rel_expired, false);
	leg_reply_dst(&u->dst, msg);
	u->rel100 = sip_msg_hdr_has_value(msg, SIP_HDR_SUPPORTED, "100rel") ||
		sip_msg_hdr_has_value(msg, SIP_HDR_REQUIRE, "100rel");
	u->leg.peer_update = sip_msg_hdr_has_value(msg, SIP_HDR_ALLOW,
						   "UPDATE");
	u->rseq = 1 + rand_u32() % 0x7ffffff0;

	if (!body_parse(&bv, msg) && pl_isset(&bv.session)) {
		leg_sdp_got(&u->leg, msg);
		(void)oa_remote_offer(&u->leg.oa);
	}

	err = sip_strans_alloc(&u->st, ls->sip, msg, cancel_handler, u);
	if (err)
		goto out;

	(void)sip_treply(&u->st, ls->sip, msg, 100, "Trying");

	/* The validator answers such an INVITE 400 already; the layer does
	 * not count on it (leg_target_ok). */
	if (!leg_target_ok(msg)) {
		err = EBADMSG;
		goto out;
	}

	err = sip_dialog_accept(&u->leg.dlg, msg);
	if (err)
		goto out;

	leg_link(&u->leg);

 out:
	if (err)
		mem_deref(u);
	else
		*up = u;

	return err;
}


struct relhdr {
	const struct uas *u;
	bool early;
};


static int rel_print(struct re_printf *pf, const struct relhdr *rh)
{
	return re_hprintf(pf, "Require: 100rel%s\r\nRSeq: %u\r\n",
			  rh->early ? ", early-session" : "", rh->u->rseq);
}


static int none_print(struct re_printf *pf, void *arg)
{
	(void)pf;
	(void)arg;
	return 0;
}


/*
 * A provisional response; reliable only toward a peer that supports
 * 100rel, one at a time (EBUSY while the last is unacknowledged: the
 * owner queues).  sdp and early are the session and early-session SDPs it
 * carries, if any.
 */
int uas_progress(struct uas *u, uint16_t scode, const char *reason,
		 bool reliable, re_printf_h *hdrs, void *harg,
		 const struct pl *sdp, const struct pl *early)
{
	struct relhdr rh = { u, pl_isset(early) };
	struct leg_cmsg cm = { &u->leg, u->msg };
	struct body_out bo;
	int err;

	if (!u || scode < 101 || scode > 199)
		return EINVAL;
	if (u->final)
		return EPROTO;
	if (reliable && !u->rel100)
		return ENOTSUP;
	if (reliable && u->rel.mb)
		return EBUSY;

	err = body_out_init(&bo, sdp, early);
	if (err)
		return err;

	/* The next RSeq counts only once its 1xx went (RFC 3262 s. 3). */
	if (reliable)
		++u->rseq;

	err = sip_treplyf(&u->st, reliable ? &u->rel.mb : NULL,
			  u->leg.ls->sip, u->msg, true, scode, reason,
			  "%H"
			  "%H"
			  "%H"
			  "%H",
			  leg_contact_print, &cm,
			  reliable ? (re_printf_h *)rel_print : none_print,
			  &rh,
			  hdrs ? hdrs : none_print, harg,
			  body_print, &bo);
	if (err) {
		if (reliable)
			--u->rseq;
		return err;
	}

	if (pl_isset(sdp))
		leg_sdp_sent(&u->leg, sdp);

	if (reliable) {
		/* An SDP in a reliable 1xx is the answer to the INVITE's
		 * offer, or our offer when it had none (section 5). */
		if (pl_isset(sdp) && u->leg.oa.st == OA_REMOTE_OFFER)
			(void)oa_local_answer(&u->leg.oa);
		else if (pl_isset(sdp) && u->leg.oa.st == OA_IDLE &&
			 !u->leg.oa.done)
			(void)oa_local_offer(&u->leg.oa);
		u->rel_sdp = pl_isset(sdp) || pl_isset(early);
		rtx_start(&u->rel, u->msg, &u->dst);
	}

	return 0;
}


/* The 2xx; EAGAIN while a reliable 1xx with SDP waits for its PRACK
 * (RFC 3262 section 3): the owner sends it after the PRACK. */
int uas_answer(struct uas *u, uint16_t scode, const char *reason,
	       re_printf_h *hdrs, void *harg, const struct pl *sdp)
{
	struct leg_cmsg cm = { &u->leg, u->msg };
	int err;

	if (!u || scode < 200 || scode > 299)
		return EINVAL;
	if (u->final)
		return EALREADY;
	if (u->rel.mb && u->rel_sdp)
		return EAGAIN;

	rtx_stop(&u->rel);

	if (pl_isset(sdp)) {
		if (u->leg.oa.st == OA_REMOTE_OFFER)
			(void)oa_local_answer(&u->leg.oa);
		else if (u->leg.oa.st == OA_IDLE && !u->leg.oa.done)
			(void)oa_local_offer(&u->leg.oa);  /* late offer */
	}

	leg_session_start(&u->leg, u->msg, true);

	err = sip_treplyf(&u->st, &u->leg.ok.mb, u->leg.ls->sip, u->msg,
			  true, scode, reason,
			  "%H"
			  "Allow: %s\r\n"
			  "%H"
			  "%H"
			  "%H",
			  leg_contact_print, &cm, leg_allow(u->leg.ls),
			  leg_session_print, &u->leg,
			  hdrs ? hdrs : none_print, harg,
			  body_print_sdp, sdp);
	if (err)
		return err;

	u->final = scode;
	if (pl_isset(sdp))
		leg_sdp_sent(&u->leg, sdp);
	rtx_start(&u->leg.ok, u->msg, &u->dst);

	return 0;
}


int uas_reject(struct uas *u, uint16_t scode, const char *reason,
	       const char *hdrs)
{
	int err;

	if (!u || scode < 300)
		return EINVAL;
	if (u->final)
		return EALREADY;

	rtx_stop(&u->rel);
	u->final = scode;
	oa_reject(&u->leg.oa);

	err = sip_treplyf(&u->st, NULL, u->leg.ls->sip, u->msg, false,
			  scode, reason,
			  "%s"
			  "Content-Length: 0\r\n\r\n",
			  hdrs ? hdrs : "");
	if (err)
		LOGW(SUB_SIP, "%u to %J: %m", scode, &u->dst, err);

	return err;
}


bool uas_rel_pending(const struct uas *u)
{
	return u && u->rel.mb != NULL;
}


/* The peer's PRACK (RFC 3262 section 4): it must name our last reliable
 * 1xx by RSeq and the INVITE's CSeq. */
void uas_prack_in(struct uas *u, const struct sip_msg *msg)
{
	struct sip *sip = u->leg.ls->sip;
	struct mbuf *early = NULL;
	struct body_view bv;
	int err;

	if (!u->rel.mb || !rel100_rack_matches(msg, u->rseq,
					       u->msg->cseq.num)) {
		(void)sip_treply(NULL, sip, msg, 481,
				 "Call/Transaction Does Not Exist");
		if (u->leg.h && u->leg.h->prackh && !u->closed)
			u->leg.h->prackh(&u->leg, NULL, u->leg.arg);
		return;
	}

	err = body_parse(&bv, msg);
	if (err) {
		(void)sip_treply(NULL, sip, msg, err == ENOTSUP ? 415 : 400,
				 err == ENOTSUP ? "Unsupported Media Type" :
				 "Bad Request");
		return;
	}

	if (u->leg.h && u->leg.h->prack200h && !u->closed)
		u->leg.h->prack200h(&u->leg, msg, &bv.early, &early,
				    u->leg.arg);

	if (early) {
		struct pl e = { (const char *)early->buf, early->end };
		struct body_out bo;

		err = body_out_init(&bo, NULL, &e);
		if (!err)
			err = sip_treplyf(NULL, NULL, sip, msg, false, 200,
					  "OK", "%H", body_print, &bo);
		mem_deref(early);
		if (err)
			(void)sip_treply(NULL, sip, msg, 500,
					 "Server Internal Error");
	}
	else {
		(void)sip_treply(NULL, sip, msg, 200, "OK");
	}
	rtx_stop(&u->rel);

	/* The answer to the offer we made in the reliable 1xx. */
	if (pl_isset(&bv.session) && u->leg.oa.st == OA_LOCAL_OFFER) {
		leg_sdp_got(&u->leg, msg);
		(void)oa_remote_answer(&u->leg.oa);
	}

	if (u->closed)
		return;

	if (u->leg.h && u->leg.h->prackh)
		u->leg.h->prackh(&u->leg, msg, u->leg.arg);
}


/* true when msg is the ACK of the INVITE's final response. */
bool uas_ack_in(struct uas *u, const struct sip_msg *msg)
{
	if (msg->cseq.num != u->msg->cseq.num)
		return false;

	if (u->acked || !u->final || u->final >= 300)
		return true;

	u->acked = true;
	rtx_stop(&u->leg.ok);

	/* The answer to an offer we made in the 2xx (late offer). */
	if (mbuf_get_left(msg->mb) && u->leg.oa.st == OA_LOCAL_OFFER) {
		leg_sdp_got(&u->leg, msg);
		(void)oa_remote_answer(&u->leg.oa);
	}

	if (u->bye_due) {
		u->bye_due = false;
		leg_bye(&u->leg);
		finish(u);
		return true;
	}

	if (u->leg.h && u->leg.h->ackh && !u->closed)
		u->leg.h->ackh(&u->leg, msg, u->leg.arg);

	return true;
}


/* The peer's BYE: before our final response, the INVITE gets 487. */
void uas_bye_in(struct uas *u)
{
	(void)uas_reject(u, 487, "Request Terminated", NULL);
	rtx_stop(&u->rel);
	rtx_stop(&u->leg.ok);
	finish(u);
}


/*
 * The owner is done with the leg: the INVITE gets its final response
 * (scode) if it has none; an answered dialog is ended with BYE, after the
 * ACK if that has not come yet.  The owner's reference passes to the
 * layer, which drops it when nothing is due any more.
 */
void uas_close(struct uas *u, uint16_t scode, const char *reason)
{
	if (!u)
		return;

	u->leg.h = NULL;
	u->leg.arg = NULL;

	if (!u->final)
		(void)uas_reject(u, scode ? scode : 500,
				 reason ? reason : "Server Internal Error",
				 NULL);
	else if (u->final < 300 && !u->leg.gone && u->acked)
		leg_bye(&u->leg);
	else if (u->final < 300 && !u->leg.gone)
		u->bye_due = true;   /* after the ACK, or the 2xx's end */

	/* Kept while the BYE waits for the ACK or for our re-INVITE. */
	u->closed = true;
	list_append(&u->leg.ls->closel, &u->cle, u);
	finish(u);
}


void uas_closed_check(struct uas *u)
{
	finish(u);
}
