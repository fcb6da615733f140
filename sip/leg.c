/**
 * @file leg.c  One dialog with one peer: in-dialog requests both ways,
 *              offer/answer, glare, target refresh, session timers
 *
 * Requests from the peer are taken in CSeq order (RFC 3261 12.2.2: a
 * lower CSeq gets 500).  A re-INVITE or UPDATE whose SDP is the one the
 * peer sent last (a session refresh, RFC 4028) is answered here with the
 * SDP we sent last; a changed offer goes to the owner, who relays it and
 * answers with leg_answer().  While an offer of ours is outstanding, the
 * peer's offer gets 491 (RFC 3261 14.2, RFC 3311 5.2); while we owe an
 * answer, a second offer gets 500 with Retry-After.  Every re-INVITE and
 * UPDATE refreshes the remote target (12.2.2).  A 408 or 481 to one of our
 * in-dialog requests ends the dialog (12.2.1.2).
 */
#include <string.h>
#include <re.h>
#include "sip/sip_int.h"

enum { SE_MIN = 90 };


/* ---- responses resent by the core (2xx, reliable 1xx) ----------------- */

static void rtx_handler(void *arg)
{
	struct rtx *r = arg;

	if (rel100_expired(r->start, loop_now_ms())) {
		tmr_cancel(&r->tmr);
		r->mb = mem_deref(r->mb);
		if (r->expireh)
			r->expireh(r);
		return;
	}

	if (!r->udp_only || r->req->tp == SIP_TRANSP_UDP)
		(void)sip_send(r->sip, r->req->sock, r->req->tp, &r->dst,
			       r->mb);

	++r->txc;
	tmr_start(&r->tmr, rel100_next(r->start, loop_now_ms(), r->txc),
		  rtx_handler, r);
}


void rtx_init(struct rtx *r, struct sip *sip, void (*expireh)(struct rtx *),
	      bool udp_only)
{
	memset(r, 0, sizeof(*r));
	tmr_init(&r->tmr);
	r->sip = sip;
	r->expireh = expireh;
	r->udp_only = udp_only;
}


/* r->mb was just sent for the first time, to dst. */
void rtx_start(struct rtx *r, const struct sip_msg *req,
	       const struct sa *dst)
{
	r->req = req;
	r->dst = *dst;
	r->start = loop_now_ms();
	r->txc = 0;
	tmr_start(&r->tmr, rel100_interval(0), rtx_handler, r);
}


void rtx_stop(struct rtx *r)
{
	tmr_cancel(&r->tmr);
	r->mb = mem_deref(r->mb);
}


/* ---- the leg ----------------------------------------------------------- */

static void ok_expired(struct rtx *r)
{
	struct leg *leg = LEG_CONTAINER(r, struct leg, ok);

	if (leg->h && leg->h->endh)
		leg->h->endh(leg, ETIMEDOUT, "no ACK for our 2xx", leg->arg);
}


void leg_init(struct leg *leg, struct legset *ls, const struct leg_h *h,
	      void *arg, const char *cuser)
{
	leg->ls = ls;
	leg->h = h;
	leg->arg = arg;
	str_ncpy(leg->cuser, cuser ? cuser : "cmrlab", sizeof(leg->cuser));
	tmr_init(&leg->tmr_se);
	rtx_init(&leg->ok, ls->sip, ok_expired, true);
}


void leg_link(struct leg *leg)
{
	hash_append(leg->ls->legs,
		    hash_joaat_str(sip_dialog_callid(leg->dlg)), &leg->he,
		    leg);
}


void leg_unlink(struct leg *leg)
{
	hash_unlink(&leg->he);
}


/* What a destructor of a struct holding a leg calls. */
void leg_reset(struct leg *leg)
{
	hash_unlink(&leg->he);
	tmr_cancel(&leg->tmr_se);
	rtx_stop(&leg->ok);
	if (leg->pst)
		(void)sip_treply(&leg->pst, leg->ls->sip, leg->pmsg, 500,
				 "Server Internal Error");
	leg->pst = mem_deref(leg->pst);
	leg->pmsg = mem_deref(leg->pmsg);
	leg->oreq = mem_deref(leg->oreq);
	leg->lsdp = mem_deref(leg->lsdp);
	leg->rsdp = mem_deref(leg->rsdp);
	leg->dlg = mem_deref(leg->dlg);
}


/* Frees the legs still finishing their close (the stack is going). */
void legset_flush(struct legset *ls)
{
	struct le *le;

	while ((le = list_head(&ls->closel))) {
		list_unlink(le);
		mem_deref(le->data);
	}
}


struct leg *legset_find(struct legset *ls, const struct sip_msg *msg)
{
	struct le *le;

	for (le = list_head(hash_list(ls->legs, hash_joaat_pl(&msg->callid)));
	     le; le = le->next) {
		struct leg *leg = le->data;

		if (leg->dlg && sip_dialog_cmp(leg->dlg, msg))
			return leg;
	}

	return NULL;
}


/* Is this Call-ID one of ours (a B2BUA's own INVITE came back)? */
bool legset_callid_ours(struct legset *ls, const struct pl *callid,
			bool uac_only)
{
	struct le *le;

	for (le = list_head(hash_list(ls->legs, hash_joaat_pl(callid)));
	     le; le = le->next) {
		struct leg *leg = le->data;

		if ((!uac_only || !leg->uas) && leg->dlg &&
		    !pl_strcmp(callid, sip_dialog_callid(leg->dlg)))
			return true;
	}

	return false;
}


int leg_contact_print(struct re_printf *pf, const struct leg *leg)
{
	const struct uas *u = (const struct uas *)(const void *)leg;
	struct sip_contact contact;
	struct sa addr;

	if (!leg->uas)
		return 0;

	leg->ls->advh(&u->msg->dst, &addr, leg->ls->arg);
	sip_contact_set(&contact, leg->cuser, &addr, u->msg->tp);

	return sip_contact_print(pf, &contact);
}


/* A request's Contact, from the address it leaves from. */
int leg_contact_send(enum sip_transp tp, const struct sa *src,
		     const struct sa *dst, struct mbuf *mb, void *arg)
{
	struct leg *leg = arg;
	struct sip_contact contact;
	struct sa addr;
	(void)dst;

	leg->ls->advh(src, &addr, leg->ls->arg);
	sip_contact_set(&contact, leg->cuser, &addr, tp);

	return mbuf_printf(mb, "%H", sip_contact_print, &contact);
}


static struct mbuf *sdp_copy(const struct pl *sdp)
{
	struct mbuf *mb;

	if (!pl_isset(sdp))
		return NULL;

	mb = mbuf_alloc(sdp->l);
	if (!mb)
		return NULL;

	(void)mbuf_write_pl(mb, sdp);
	mb->pos = 0;

	return mb;
}


void leg_sdp_sent(struct leg *leg, const struct pl *sdp)
{
	struct mbuf *mb = sdp_copy(sdp);

	if (!mb)
		return;

	mem_deref(leg->lsdp);
	leg->lsdp = mb;
}


/* The session SDP of a message from the peer, if it has one. */
void leg_sdp_got(struct leg *leg, const struct sip_msg *msg)
{
	struct body_view bv;
	struct mbuf *mb;

	if (body_parse(&bv, msg) || !pl_isset(&bv.session))
		return;

	mb = sdp_copy(&bv.session);
	if (!mb)
		return;

	mem_deref(leg->rsdp);
	leg->rsdp = mb;
}


int leg_sdp(const struct leg *leg, bool local, struct pl *pl)
{
	const struct mbuf *mb = local ? leg->lsdp : leg->rsdp;

	if (!mb)
		return ENOENT;

	pl->p = (const char *)mb->buf;
	pl->l = mb->end;

	return 0;
}


static bool origin_line(const struct pl *sdp, struct pl *o)
{
	return 0 == re_regex(sdp->p, sdp->l, "o=[^\r\n]+", o);
}


/* RFC 3264 section 8: an SDP whose o= line (version included) is the
 * one we had is the same session description. */
static bool sdp_unchanged(const struct leg *leg, const struct pl *sdp)
{
	struct pl old, o1, o2;

	if (leg_sdp(leg, false, &old))
		return false;

	if (origin_line(&old, &o1) || origin_line(sdp, &o2))
		return 0 == pl_cmp(&old, sdp);

	return 0 == pl_cmp(&o1, &o2);
}


/* ---- RFC 4028 session timers ------------------------------------------- */

static void session_tmr(void *arg);

static void session_arm(struct leg *leg)
{
	uint32_t s;

	if (!leg->se || leg->gone)
		return;

	/* Section 10: the refresher refreshes at half the interval; the
	 * other side gives up 32 s (or a third) before it ends. */
	if (leg->refresh_us)
		s = leg->se / 2;
	else
		s = leg->se - min(32u, leg->se / 3);

	tmr_start(&leg->tmr_se, s * 1000ULL, session_tmr, leg);
}


static void refresh_resp(int err, const struct sip_msg *msg, void *arg)
{
	(void)err;
	(void)msg;
	(void)arg;
}


static void session_tmr(void *arg)
{
	struct leg *leg = arg;

	if (!leg->refresh_us) {
		leg_bye(leg);
		if (leg->h && leg->h->endh)
			leg->h->endh(leg, ETIMEDOUT, "session expired",
				     leg->arg);
		return;
	}

	/* An UPDATE without SDP where the peer allows it, else a
	 * re-INVITE with the SDP we sent last (section 7.4). */
	if (!leg->oreq && !leg->pst) {
		struct pl sdp = PL_INIT;

		(void)leg_sdp(leg, true, &sdp);
		(void)leg_offer(leg, !leg->peer_update, leg->peer_update ?
				NULL : &sdp, refresh_resp, NULL);
	}

	session_arm(leg);
}


static bool session_param(const struct sip_hdr *h, uint32_t *se,
			  struct pl *refresher)
{
	struct pl v, params;

	if (!h || re_regex(h->val.p, h->val.l, "[0-9]+[^]*", &v, &params))
		return false;

	*se = pl_u32(&v);
	if (v.l > 9)
		*se = 86400;
	if (msg_param_decode(&params, "refresher", refresher))
		*refresher = pl_null;

	return true;
}


/*
 * The session interval of a dialog: from the peer's INVITE or UPDATE when
 * we are its UAS (uas true), or from the 2xx to our INVITE.  We act as the
 * UAS of section 9: a peer that supports "timer" refreshes unless it asked
 * us to; one that does not leaves it to us.
 */
void leg_session_start(struct leg *leg, const struct sip_msg *msg, bool uas)
{
	const struct sip_hdr *h = sip_msg_hdr(msg, SIP_HDR_SESSION_EXPIRES);
	struct pl refresher = PL_INIT;
	uint32_t se;

	if (!session_param(h, &se, &refresher)) {
		if (!leg->se)
			return;
		session_arm(leg);    /* a refresh without the header */
		return;
	}

	if (se < SE_MIN)
		se = SE_MIN;
	if (leg->ls->max_se && se > leg->ls->max_se)
		se = leg->ls->max_se;
	leg->se = se;

	if (uas) {
		if (!sip_msg_hdr_has_value(msg, SIP_HDR_SUPPORTED, "timer"))
			leg->refresh_us = true;
		else
			leg->refresh_us = !pl_strcasecmp(&refresher, "uas");
	}
	else {
		leg->refresh_us = !pl_strcasecmp(&refresher, "uac");
	}

	session_arm(leg);
}


/* Session-Expires (and Require: timer) for our 2xx to the peer's
 * INVITE or UPDATE; nothing when no session timer runs. */
int leg_session_print(struct re_printf *pf, const struct leg *leg)
{
	if (!leg->se)
		return 0;

	return re_hprintf(pf, "Session-Expires: %u;refresher=%s\r\n%s",
			  leg->se, leg->refresh_us ? "uas" : "uac",
			  leg->refresh_us ? "" : "Require: timer\r\n");
}


/* ---- requests of ours in the dialog ------------------------------------ */

void leg_ack_send(struct leg *leg, uint32_t cseq, const struct pl *sdp)
{
	int err;

	err = sip_drequestf(NULL, leg->ls->sip, false, "ACK", leg->dlg, cseq,
			    NULL, NULL, NULL, NULL, "%H", body_print_sdp, sdp);
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
			    NULL, NULL, NULL, NULL,
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


/* ---- requests from the peer ------------------------------------------- */

/* A 2xx to the peer's re-INVITE or UPDATE with our SDP (or none). */
static int ok_reply(struct leg *leg, struct sip_strans **stp,
		    const struct sip_msg *msg, const struct pl *sdp)
{
	bool invite = !pl_strcmp(&msg->met, "INVITE");
	struct mbuf *mb = NULL;
	struct sa dst;
	int err;

	err = sip_treplyf(stp, invite ? &mb : NULL, leg->ls->sip, msg, true,
			  200, "OK",
			  "%H"
			  "Allow: " LEG_ALLOW "\r\n"
			  "%H"
			  "%H",
			  leg_contact_print, leg,
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
		sip_reply_addr(&dst, msg, !msg_param_exists(&msg->via.params,
							   "rport", &(struct pl){0}));
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
	if (leg->pst || (invite && leg->ok.mb) ||
	    (pl_isset(&bv.session) && oa_remote_offer(&leg->oa))) {
		(void)sip_treplyf(NULL, NULL, sip, msg, false, 500,
				  "Server Internal Error",
				  "Retry-After: %u\r\n"
				  "Content-Length: 0\r\n\r\n",
				  1 + rand_u32() % 10);
		refused(leg, msg, 500);
		return;
	}

	/* 12.2.2: target refresh.  A Contact we cannot read leaves the
	 * target as it was. */
	if (sip_msg_hdr(msg, SIP_HDR_CONTACT))
		(void)sip_dialog_update(leg->dlg, msg);
	leg->peer_update = sip_msg_hdr_has_value(msg, SIP_HDR_ALLOW,
						 "UPDATE") || leg->peer_update;
	leg_session_start(leg, msg, true);

	/* A refresh: no SDP in an UPDATE, or the same SDP again. */
	if (!pl_isset(&bv.session) && !invite) {
		(void)ok_reply(leg, NULL, msg, NULL);
		return;
	}
	if (pl_isset(&bv.session) && sdp_unchanged(leg, &bv.session)) {
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
				  "OK", "Allow: " LEG_ALLOW "\r\n"
				  "Content-Length: 0\r\n\r\n");
		return;
	}

	if (!leg->h || !leg->h->reqh) {
		(void)sip_treplyf(NULL, NULL, leg->ls->sip, msg, false, 501,
				  "Not Implemented",
				  "Allow: " LEG_ALLOW "\r\n"
				  "Content-Length: 0\r\n\r\n");
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

	leg_ack_send(leg, msg->cseq.num, NULL);

	return true;
}
