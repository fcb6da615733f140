/**
 * @file leg.c  One dialog with one peer: what every part of the leg layer
 *              shares (the registry of dialogs, Contact, the SDPs each
 *              side sent last, resent responses)
 *
 * The layer's files: leg.c (this), leg_in.c (requests from the peer),
 * leg_out.c (requests of ours), leg_session.c (RFC 4028 session timers),
 * leg_uas.c (the INVITE server side), leg_uac.c (the INVITE client side
 * and its forks).  leg.h says what a leg is and how its owner uses it.
 */
#include <string.h>
#include <re.h>
#include "sip/sip_int.h"

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
	leg_offer_abandon(leg);
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


/*
 * Whether the Contact of msg may become a dialog's remote target.  One
 * whose URI libre decodes with the scheme past the first byte
 * (sipval_contact_misparsed) leaves the dialog's route pointing into the
 * target string, which the next target refresh frees under it; the
 * layer never makes or refreshes a dialog with one.  Without a Contact
 * libre refuses the dialog itself.
 */
bool leg_target_ok(const struct sip_msg *msg)
{
	const struct sip_hdr *h = sip_msg_hdr(msg, SIP_HDR_CONTACT);

	return !h || !sipval_contact_misparsed(&h->val);
}


/* 12.2.1.2, 12.2.2: the remote target from msg's Contact; EBADMSG (the
 * target stays) for one leg_target_ok() refuses. */
int leg_target_update(struct leg *leg, const struct sip_msg *msg)
{
	if (!leg_target_ok(msg)) {
		LOGI(SUB_SIP, "%s: Contact URI does not start with its "
		     "scheme: target kept", sip_dialog_callid(leg->dlg));
		return EBADMSG;
	}

	return sip_dialog_update(leg->dlg, msg);
}


/* Our Contact as seen from local: the address a request of the peer
 * arrived on, or the one a request of ours leaves from. */
static void contact_at(const struct leg *leg, const struct sa *local,
		       enum sip_transp tp, struct sa *addr,
		       struct sip_contact *contact)
{
	leg->ls->advh(local, addr, leg->ls->arg);
	sip_contact_set(contact, leg->cuser, addr, tp);
}


/* The Contact of a response to cm->msg (RFC 3261 12.1.1, 12.2.2). */
int leg_contact_print(struct re_printf *pf, const struct leg_cmsg *cm)
{
	struct sip_contact contact;
	struct sa addr;

	contact_at(cm->leg, &cm->msg->dst, cm->msg->tp, &addr, &contact);

	return sip_contact_print(pf, &contact);
}


/* Where the responses to msg and their copies go: RFC 3261 18.2.2, the
 * source port only when the Via asks for it (RFC 3581). */
void leg_reply_dst(struct sa *dst, const struct sip_msg *msg)
{
	struct pl pl;

	sip_reply_addr(dst, msg, !msg_param_exists(&msg->via.params,
						   "rport", &pl));
}


int leg_via_send(enum sip_transp tp, const struct sa *src,
		 const struct sa *dst, struct mbuf *mb, void *arg)
{
	struct legset *ls = arg;
	(void)tp;
	(void)dst;

	return ls->viah ? ls->viah(src, mb, ls->arg) : 0;
}


/* A request's Contact, from the address it leaves from. */
int leg_contact_send(enum sip_transp tp, const struct sa *src,
		     const struct sa *dst, struct mbuf *mb, void *arg)
{
	struct leg *leg = arg;
	struct sip_contact contact;
	struct sa addr;
	int err;

	err = leg_via_send(tp, src, dst, mb, leg->ls);
	if (err)
		return err;

	contact_at(leg, src, tp, &addr, &contact);

	return mbuf_printf(mb, "%H", sip_contact_print, &contact);
}


void leg_sdp_sent(struct leg *leg, const struct pl *sdp)
{
	struct mbuf *mb = body_sdp_copy(sdp);

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

	mb = body_sdp_copy(&bv.session);
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
bool leg_sdp_unchanged(const struct leg *leg, const struct pl *sdp)
{
	struct pl old, o1, o2;

	if (leg_sdp(leg, false, &old))
		return false;

	if (origin_line(&old, &o1) || origin_line(sdp, &o2))
		return 0 == pl_cmp(&old, sdp);

	return 0 == pl_cmp(&o1, &o2);
}
