/**
 * @file leg_uac.c  The INVITE client side: one INVITE, a leg per fork
 *
 * Every To tag in a response to our INVITE is a dialog of its own (RFC
 * 3261 12.1.2), made with libre's sip_dialog_fork from the INVITE's
 * dialog.  Each reliable provisional response of each fork gets its PRACK
 * (RFC 3262 section 4), in RSeq order, retransmissions none.  The first
 * 2xx wins; every later 2xx, of another fork, is ACKed and ended with BYE
 * (13.2.2.4).  Timer C (16.8) cancels an INVITE whose callee rings for
 * ever.  After uac_close() the layer keeps the INVITE until its final
 * response, so that a 2xx crossing our CANCEL is ACKed and ended too.
 */
#include <string.h>
#include <re.h>
#include "sip/sip_int.h"

enum { TIMER_C_MS = 180 * 1000 };

struct fork {
	struct leg leg;            /* first: a fork is a leg */
	struct le le;              /* uac->forks */
	uint32_t rseq;             /* RSeq of the last reliable 1xx */
	bool rseq_seen;
	uint32_t d_rseq, d_cseq;   /* a PRACK the owner sends later */
	bool d_due;
	struct sip_request *prack;
	bool answered;
	uint32_t ok_cseq;
	bool ack_due;              /* its 2xx waits for the owner's ACK */
};

struct uac {
	struct legset *ls;
	struct leg tleg;           /* the INVITE's dialog, before forks */
	struct sip_request *req;
	struct list forks;
	struct fork *winner;
	const struct uac_h *h;
	const struct leg_h *lh;
	void *arg;
	void *larg;
	char *target;
	uint32_t cseq;
	struct tmr tmr_c;
	bool ringing;
	bool timer_c;              /* Timer C cancelled the INVITE */
	bool closed;
	struct le cle;             /* legset closel while closed */
};


static void fork_destructor(void *arg)
{
	struct fork *f = arg;

	list_unlink(&f->le);
	mem_deref(f->prack);
	leg_reset(&f->leg);
}


static void destructor(void *arg)
{
	struct uac *c = arg;
	struct le *le;

	list_unlink(&c->cle);
	tmr_cancel(&c->tmr_c);
	mem_deref(c->req);

	/* A fork someone still holds outlives us: it forgets us and leaves
	 * the registry. */
	for (le = list_head(&c->forks); le; le = le->next) {
		struct fork *f = le->data;

		f->leg.uac = NULL;
		leg_unlink(&f->leg);
	}
	list_flush(&c->forks);
	leg_reset(&c->tleg);
	mem_deref(c->target);
}


/* A fork of ours still has a re-INVITE out (its BYE waits for it). */
static bool forks_busy(const struct uac *c)
{
	struct le *le;

	for (le = list_head(&c->forks); le; le = le->next) {
		const struct fork *f = le->data;

		if (leg_reinvite_pending(&f->leg))
			return true;
	}

	return false;
}


static void finish(struct uac *c)
{
	if (!c->closed || c->req || forks_busy(c))
		return;

	c->closed = false;
	list_unlink(&c->cle);
	mem_deref(c);
}


static struct fork *fork_find(const struct uac *c, const struct sip_msg *msg)
{
	struct le *le;

	for (le = list_head(&c->forks); le; le = le->next) {
		struct fork *f = le->data;

		if (sip_dialog_cmp(f->leg.dlg, msg))
			return f;
	}

	return NULL;
}


/* The fork of a response, made on its first response with a To tag. */
static struct fork *fork_get(struct uac *c, const struct sip_msg *msg)
{
	struct fork *f = fork_find(c, msg);
	int err;

	if (f || !pl_isset(&msg->to.tag))
		return f;

	/* A dialog with this target would read freed memory after its
	 * first target refresh (leg_target_ok): no fork, as for a response
	 * without Contact. */
	if (!leg_target_ok(msg)) {
		LOGW(SUB_SIP, "fork of %s: Contact URI does not start with "
		     "its scheme", c->target);
		return NULL;
	}

	f = mem_zalloc(sizeof(*f), fork_destructor);
	if (!f)
		return NULL;

	leg_init(&f->leg, c->ls, c->lh, c->larg, c->tleg.cuser);
	f->leg.uac = c;
	err = sip_dialog_fork(&f->leg.dlg, c->tleg.dlg, msg);
	if (err) {
		LOGW(SUB_SIP, "fork of %s: %m", c->target, err);
		mem_deref(f);
		return NULL;
	}

	/* The INVITE's offer was made on every fork. */
	f->leg.oa = c->tleg.oa;
	if (c->tleg.lsdp)
		f->leg.lsdp = mem_ref(c->tleg.lsdp);
	list_append(&c->forks, &f->le, f);
	leg_link(&f->leg);

	return f;
}


static void prack_resp(int err, const struct sip_msg *msg, void *arg)
{
	struct fork *f = arg;
	struct uac *c = f->leg.uac;

	if (!c || (!err && msg && msg->scode < 200))
		return;

	if (c->h && c->h->prackh && !c->closed)
		c->h->prackh(c, &f->leg, err ? NULL : msg, c->arg);
}


static int prack_via_send(enum sip_transp tp, const struct sa *src,
			  const struct sa *dst, struct mbuf *mb, void *arg)
{
	struct fork *f = arg;

	return leg_via_send(tp, src, dst, mb, f->leg.ls);
}


static int prack_send(struct fork *f, uint32_t rseq, uint32_t cseq,
		      const struct prack_out *pk)
{
	struct uac *c = f->leg.uac;
	const struct pl *sdp = pk ? pk->sdp : NULL;
	struct body_out bo;
	int err;

	err = body_out_init(&bo, sdp, pk ? pk->early : NULL);
	if (err)
		return err;

	/* A PRACK of ours still pending (its 1xx came right before): this
	 * one goes on its own, without a handler. */
	err = sip_drequestf(f->prack ? NULL : &f->prack, c->ls->sip, true,
			    "PRACK", f->leg.dlg, 0, NULL,
			    f->prack ? leg_via_send : prack_via_send,
			    f->prack ? NULL : prack_resp,
			    f->prack ? (void *)c->ls : (void *)f,
			    "RAck: %u %u INVITE\r\n"
			    "%s"
			    "%H",
			    rseq, cseq, pk && pk->hdrs ? pk->hdrs : "",
			    body_print, &bo);
	if (err) {
		LOGW(SUB_SIP, "PRACK to %s: %m", c->target, err);
		return err;
	}

	/* The answer to an offer the reliable 1xx made (RFC 3262 s. 5). */
	if (pl_isset(sdp)) {
		leg_sdp_sent(&f->leg, sdp);
		if (f->leg.oa.st == OA_REMOTE_OFFER)
			(void)oa_local_answer(&f->leg.oa);
	}

	return 0;
}


int uac_prack(struct uac *c, struct leg *fork, const struct pl *sdp)
{
	struct fork *f = (struct fork *)(void *)fork;
	struct prack_out pk = { .sdp = sdp };

	if (!c || !f || f->leg.uac != c || !f->d_due)
		return EINVAL;

	f->d_due = false;

	return prack_send(f, f->d_rseq, f->d_cseq, &pk);
}


/* RFC 3262 section 4: true for a new reliable 1xx, which needs a PRACK;
 * a retransmission (an RSeq seen already) sets *retx. */
static bool reliable_new(struct fork *f, const struct sip_msg *msg,
			 uint32_t *rseq, bool *retx)
{
	const struct sip_hdr *h = sip_msg_hdr(msg, SIP_HDR_RSEQ);

	*retx = false;
	if (!f || !sip_msg_hdr_has_value(msg, SIP_HDR_REQUIRE, "100rel") ||
	    !h || !sipsrv_digits(&h->val, 10))
		return false;

	*rseq = pl_u32(&h->val);

	switch (rel100_rseq_check(!f->rseq_seen, f->rseq, *rseq)) {

	case RSEQ_RETRANSMISSION:
		*retx = true;
		return false;

	case RSEQ_OUT_OF_ORDER:
		return false;

	default:
		f->rseq = *rseq;
		f->rseq_seen = true;
		return true;
	}
}


static void timer_c(void *arg);


static uint64_t timer_c_ms(const struct uac *c)
{
	return c->ls->timer_c_ms ? c->ls->timer_c_ms : TIMER_C_MS;
}


static bool has_session_sdp(const struct sip_msg *msg)
{
	struct body_view bv;

	return mbuf_get_left(msg->mb) && !body_parse(&bv, msg) &&
		pl_isset(&bv.session);
}


static void provisional(struct uac *c, const struct sip_msg *msg)
{
	struct fork *f = fork_get(c, msg);
	struct prack_out pk;
	uint32_t rseq = 0;
	bool rel, retx;

	rel = reliable_new(f, msg, &rseq, &retx);
	if (retx)
		return;

	c->ringing = true;
	tmr_start(&c->tmr_c, timer_c_ms(c), timer_c, c);

	/* Only a session SDP answers (or makes) an offer: an early-session
	 * part alone is a session of its own (RFC 3959 section 3). */
	if (f && has_session_sdp(msg)) {
		leg_sdp_got(&f->leg, msg);
		if (rel && f->leg.oa.st == OA_LOCAL_OFFER)
			(void)oa_remote_answer(&f->leg.oa);
		else if (rel && f->leg.oa.st == OA_IDLE && !f->leg.oa.done)
			(void)oa_remote_offer(&f->leg.oa);
	}

	memset(&pk, 0, sizeof(pk));
	if (!c->closed && !c->winner && c->h && c->h->provh)
		c->h->provh(c, f ? &f->leg : NULL, msg, rel ? &pk : NULL,
			    c->arg);

	if (!rel) {
		mem_deref(pk.mb);
		return;
	}

	if (pk.defer && !c->closed && !c->winner) {
		f->d_rseq = rseq;
		f->d_cseq = msg->cseq.num;
		f->d_due = true;
		mem_deref(pk.mb);
		return;
	}

	(void)prack_send(f, rseq, msg->cseq.num, &pk);
	mem_deref(pk.mb);
}


/* A 2xx of a fork: the first wins, any other is ACKed and ended. */
static void answered(struct uac *c, const struct sip_msg *msg)
{
	struct fork *f = fork_get(c, msg);
	bool defer = false;

	if (!f) {
		if (c->h && c->h->failh && !c->closed && !c->winner)
			c->h->failh(c, EPROTO, NULL, c->arg);
		return;
	}

	(void)leg_target_update(&f->leg, msg);
	f->answered = true;
	f->ok_cseq = msg->cseq.num;
	f->leg.peer_update = sip_msg_hdr_has_value(msg, SIP_HDR_ALLOW,
						   "UPDATE");
	if (mbuf_get_left(msg->mb)) {
		if (f->leg.oa.st == OA_LOCAL_OFFER) {
			leg_sdp_got(&f->leg, msg);
			(void)oa_remote_answer(&f->leg.oa);
		}
		else if (f->leg.oa.st == OA_IDLE && !f->leg.oa.done) {
			leg_sdp_got(&f->leg, msg);
			(void)oa_remote_offer(&f->leg.oa);  /* late offer */
		}
	}
	leg_session_start(&f->leg, msg, false);

	if (c->closed || c->winner) {
		leg_ack_send(&f->leg, f->ok_cseq, NULL);
		leg_bye(&f->leg);
		return;
	}

	/* The ACK is due from here on: should the owner end the call in
	 * its handler, uac_close() sends it before the BYE. */
	c->winner = f;
	f->ack_due = true;
	f->leg.ack_held = true;
	if (c->h && c->h->answerh)
		defer = c->h->answerh(c, &f->leg, msg, c->arg);

	if (!defer && f->ack_due) {
		f->ack_due = false;
		f->leg.ack_held = false;
		leg_ack_send(&f->leg, f->ok_cseq, NULL);
	}
}


static void resp_handler(int err, const struct sip_msg *msg, void *arg)
{
	struct uac *c = arg;

	if (!err && msg && msg->scode < 200) {
		if (msg->scode > 100)
			provisional(c, msg);
		return;
	}

	tmr_cancel(&c->tmr_c);

	/* A handler below may close and free c. */
	mem_ref(c);

	if (!err && msg && msg->scode < 300)
		answered(c, msg);
	else if (c->h && c->h->failh && !c->closed)
		c->h->failh(c, c->timer_c ? ETIMEDOUT : err, msg, c->arg);

	finish(c);
	mem_deref(c);
}


/* RFC 3261 16.8: a callee that rings too long is cancelled. */
static void timer_c(void *arg)
{
	struct uac *c = arg;

	c->timer_c = true;
	sip_request_cancel(c->req);
}


static int invite_contact(enum sip_transp tp, const struct sa *src,
			  const struct sa *dst, struct mbuf *mb, void *arg)
{
	struct uac *c = arg;

	return leg_contact_send(tp, src, dst, mb, &c->tleg);
}


static int none_print(struct re_printf *pf, void *arg)
{
	(void)pf;
	(void)arg;
	return 0;
}


int uac_alloc(struct uac **cp, struct legset *ls, const char *target,
	      const char *to_uri, const char *from_name,
	      const char *from_uri, const char *cuser,
	      const struct uac_h *uh, void *arg,
	      const struct leg_h *lh, void *larg,
	      re_printf_h *hdrs, void *harg, const struct pl *sdp)
{
	struct uac *c;
	int err;

	if (!cp || !ls || !target || !to_uri || !from_uri)
		return EINVAL;

	c = mem_zalloc(sizeof(*c), destructor);
	if (!c)
		return ENOMEM;

	c->ls = ls;
	c->h = uh;
	c->lh = lh;
	c->arg = arg;
	c->larg = larg;
	leg_init(&c->tleg, ls, NULL, NULL, cuser);
	c->tleg.uac = c;
	tmr_init(&c->tmr_c);

	err = str_dup(&c->target, target);
	if (err)
		goto out;

	err = sip_dialog_alloc(&c->tleg.dlg, target, to_uri, from_name,
			       from_uri, NULL, 0);
	if (err)
		goto out;

	leg_link(&c->tleg);

	if (pl_isset(sdp)) {
		(void)oa_local_offer(&c->tleg.oa);
		leg_sdp_sent(&c->tleg, sdp);
	}

	err = sip_drequestf(&c->req, ls->sip, true, "INVITE", c->tleg.dlg, 0,
			    NULL, invite_contact, resp_handler, c,
			    "Allow: %s\r\n"
			    "%H"
			    "%H",
			    leg_allow(ls), hdrs ? hdrs : none_print, harg,
			    body_print_sdp, sdp);
	if (err)
		goto out;

	/* libre counts the dialog's CSeq on as it prints the request. */
	c->cseq = sip_dialog_lseq(c->tleg.dlg) - 1;
	tmr_start(&c->tmr_c, timer_c_ms(c), timer_c, c);

 out:
	if (err)
		mem_deref(c);
	else
		*cp = c;

	return err;
}


int uac_ack(struct uac *c, const struct pl *sdp)
{
	struct fork *f = c ? c->winner : NULL;

	if (!f || !f->ack_due)
		return EINVAL;

	f->ack_due = false;
	f->leg.ack_held = false;
	leg_ack_send(&f->leg, f->ok_cseq, sdp);

	return 0;
}


void uac_cancel(struct uac *c)
{
	if (c && c->req)
		sip_request_cancel(c->req);
}


bool uac_pending(const struct uac *c)
{
	return c && c->req;
}


bool uac_ringing(const struct uac *c)
{
	return c && c->req && c->ringing;
}


struct leg *uac_winner(const struct uac *c)
{
	return c && c->winner ? &c->winner->leg : NULL;
}


const char *uac_target(const struct uac *c)
{
	return c ? c->target : NULL;
}


/*
 * A 2xx after the INVITE's client transaction ended: a retransmission
 * (ACK it again unless the owner still holds the ACK), or the answer of
 * another fork (ACK and BYE, 13.2.2.4).  leg is the fork the response
 * matched, or NULL.
 */
bool uac_late_2xx(struct legset *ls, struct leg *leg, const struct sip_msg *msg)
{
	struct uac *c = NULL;
	struct fork *f;
	struct le *le;

	if (leg) {
		c = leg->uac;
		if (!c)
			return false;
	}
	else {
		for (le = list_head(hash_list(ls->legs,
					      hash_joaat_pl(&msg->callid)));
		     le; le = le->next) {
			struct leg *l = le->data;

			if (l->uac && sip_dialog_cmp_half(l->dlg, msg)) {
				c = l->uac;
				break;
			}
		}
	}

	if (!c || msg->cseq.num != c->cseq)
		return false;

	f = fork_get(c, msg);
	if (!f)
		return true;

	if (f == c->winner) {
		if (!f->ack_due)
			leg_ack_send(&f->leg, msg->cseq.num, NULL);
		return true;
	}

	if (!f->answered) {
		f->answered = true;
		f->ok_cseq = msg->cseq.num;
		(void)leg_target_update(&f->leg, msg);
		leg_ack_send(&f->leg, f->ok_cseq, NULL);
		leg_bye(&f->leg);
	}
	else {
		leg_ack_send(&f->leg, msg->cseq.num, NULL);
	}

	return true;
}


/*
 * The owner is done: a pending INVITE is cancelled (and kept until its
 * final response), answered forks get their ACK if it was held and a BYE.
 * The owner's reference passes to the layer.
 */
void uac_close(struct uac *c)
{
	struct le *le;

	if (!c)
		return;

	/* Forks made from now on have no owner either. */
	c->h = NULL;
	c->lh = NULL;
	c->larg = NULL;
	for (le = list_head(&c->forks); le; le = le->next) {
		struct fork *f = le->data;

		f->leg.h = NULL;
		f->leg.arg = NULL;
		if (f->ack_due) {
			f->ack_due = false;
			f->leg.ack_held = false;
			leg_ack_send(&f->leg, f->ok_cseq, NULL);
		}
		if (f->answered)
			leg_bye(&f->leg);
	}

	sip_request_cancel(c->req);
	c->closed = true;
	list_append(&c->ls->closel, &c->cle, c);
	finish(c);
}


void uac_closed_check(struct uac *c)
{
	finish(c);
}
