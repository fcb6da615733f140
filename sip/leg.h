/**
 * @file leg.h  The leg layer: INVITE dialogs with one peer each, for the
 *              B2BUA and for a plain user agent alike
 *
 * A leg is one SIP dialog and what RFC 3261, 3262, 3264, 3311 and 4028 ask
 * of either end of it: in-dialog requests in CSeq order, offer/answer
 * state with the last SDP each side sent, glare, target refresh, session
 * timers, BYE.  A UAS INVITE (leg_uas.c) is a leg with the server
 * transaction of the INVITE: 100 Trying, reliable and unreliable
 * provisional responses, the 2xx resent until the ACK.  A UAC INVITE
 * (leg_uac.c) is the client transaction and one leg per To tag of its
 * responses (forks): PRACK for every reliable provisional response of
 * every fork, ACK for every 2xx, the first 2xx wins and later ones are
 * ACKed and ended with BYE (RFC 3261 13.2.2.4).
 *
 * The layer knows nothing of CMR or of calls: its owner gets callbacks
 * with a void pointer, and answers relayed requests when it can.  Closing
 * a leg hands it over to the layer, which finishes what the RFCs still
 * require (the final response, the BYE after the ACK, the ACK and BYE of
 * a late 2xx) and then frees it.
 */
#ifndef CMRLAB_SIP_LEG_H
#define CMRLAB_SIP_LEG_H

#include <stddef.h>
#include <re.h>

/* The struct that holds member m at address p (libre 1.1.0 has none). */
#define LEG_CONTAINER(p, type, m) \
	((type *)(void *)((char *)(p) - offsetof(type, m)))

#define LEG_ALLOW \
	"INVITE, ACK, CANCEL, BYE, OPTIONS, PRACK, UPDATE, INFO, MESSAGE, NOTIFY"

struct leg;
struct uas;
struct uac;

typedef void (legset_adv_h)(const struct sa *local, struct sa *out,
			    void *arg);
/* Fixes up the Via libre has printed into one of our requests. */
typedef int (legset_via_h)(const struct sa *src, struct mbuf *mb,
			   void *arg);

/* What the legs of one SIP stack share. */
struct legset {
	struct sip *sip;
	struct hash *legs;         /* struct leg by Call-ID */
	legset_adv_h *advh;        /* our address toward a peer */
	legset_via_h *viah;        /* our requests' Via, or NULL */
	void *arg;
	struct list closel;        /* legs finishing after their close */
	uint32_t max_se;           /* session interval we accept, s */
	uint32_t timer_c_ms;       /* RFC 3261 16.8 Timer C; 0: 180 s */
	const char *allow;         /* our Allow; NULL: LEG_ALLOW */
};

static inline const char *leg_allow(const struct legset *ls)
{
	return ls && ls->allow ? ls->allow : LEG_ALLOW;
}

/*
 * A resent response: the 2xx of an INVITE until the ACK (RFC 3261
 * 13.3.1.4), a reliable 1xx until its PRACK (RFC 3262 section 3), on
 * rel100.c's schedule.  mb is set while it is outstanding.
 */
struct rtx {
	struct tmr tmr;
	struct mbuf *mb;
	const struct sip_msg *req;  /* its request: socket and transport */
	struct sa dst;
	struct sip *sip;
	uint64_t start;
	uint32_t txc;
	bool udp_only;
	void (*expireh)(struct rtx *r);
};

/* The owner's handlers; any may be NULL. */
struct leg_h {
	/* A changed offer in a re-INVITE or UPDATE (or a re-INVITE without
	 * one): answer it with leg_answer(). */
	void (*offerh)(struct leg *leg, const struct sip_msg *msg,
		       const struct pl *sdp, void *arg);
	/* Another in-dialog request (INFO, MESSAGE, NOTIFY, ...): the
	 * handler owns st and answers with leg_reply(). */
	void (*reqh)(struct leg *leg, const struct sip_msg *msg,
		     struct sip_strans *st, void *arg);
	/* The dialog ended: the peer's BYE (err 0), or the peer is gone
	 * (a request timed out or met 481, the session expired, no ACK). */
	void (*endh)(struct leg *leg, int err, const char *why, void *arg);
	/* UAS: the ACK for our 2xx, with the answer to a late offer. */
	void (*ackh)(struct leg *leg, const struct sip_msg *ack, void *arg);
	/* UAS: a matching PRACK (answered 200 already) and its body. */
	void (*prackh)(struct leg *leg, const struct sip_msg *prack,
		       void *arg);
	/* The layer refused the peer's offer (491 glare, 500 while an
	 * answer is owed). */
	void (*refusedh)(struct leg *leg, const struct sip_msg *msg,
			 uint16_t scode, void *arg);
	/* The answer to an offer we made in a 2xx (to the peer's re-INVITE
	 * without SDP) came in the peer's ACK. */
	void (*ackanswerh)(struct leg *leg, const struct sip_msg *ack,
			   void *arg);
	/* UAS: the caller's CANCEL (487 went already). */
	void (*cancelh)(struct leg *leg, void *arg);
	/* UAS: a matching PRACK about to be answered 200; *earlyp may be
	 * set to an early-session SDP the 200 carries (RFC 3959: the
	 * answer to an early-session offer in the PRACK).  The layer frees
	 * it. */
	void (*prack200h)(struct leg *leg, const struct sip_msg *prack,
			  const struct pl *early, struct mbuf **earlyp,
			  void *arg);
};

typedef void (leg_resp_h)(int err, const struct sip_msg *msg, void *arg);

struct leg {
	struct le he;              /* legset->legs */
	struct legset *ls;
	struct sip_dialog *dlg;
	const struct leg_h *h;
	void *arg;
	char cuser[64];            /* the user part of our Contact */
	struct oa oa;              /* session offer/answer */
	struct mbuf *lsdp;         /* the last SDP we sent */
	struct mbuf *rsdp;         /* the last SDP the peer sent */
	bool uas;                  /* this is a struct uas */
	struct uac *uac;           /* a fork of this INVITE of ours */
	bool peer_update;          /* the peer's Allow has UPDATE */
	bool gone;                 /* BYE sent or received */

	/* The peer's re-INVITE, UPDATE or other request we answer later. */
	struct sip_strans *pst;
	struct sip_msg *pmsg;
	struct rtx ok;             /* our 2xx to its re-INVITE */

	/* Our offer (re-INVITE or UPDATE), its handler and CSeq. */
	struct sip_request *oreq;
	leg_resp_h *oresph;
	void *oarg;
	bool oinvite;
	bool ohold;                /* hold the ACK of an offer in its 2xx */
	bool oack_due;             /* ... held: leg_ack_held() sends it */
	uint32_t oack_cseq;
	bool ack_held;             /* UAC: the INVITE's ACK waits (late
				    * offer): no re-INVITE before it */

	/* RFC 4028 session timer. */
	struct tmr tmr_se;
	uint32_t se;               /* session interval, s (0: none) */
	bool refresh_us;           /* we are the refresher */
};

/* leg.c, leg_in.c, leg_out.c, leg_session.c */
void leg_init(struct leg *leg, struct legset *ls, const struct leg_h *h,
	      void *arg, const char *cuser);
void leg_link(struct leg *leg);
void leg_unlink(struct leg *leg);
void leg_reset(struct leg *leg);
void legset_flush(struct legset *ls);
struct leg *legset_find(struct legset *ls, const struct sip_msg *msg);
bool legset_callid_ours(struct legset *ls, const struct pl *callid,
			bool uac_only);
bool legset_request(struct legset *ls, const struct sip_msg *msg);
bool legset_response(struct legset *ls, const struct sip_msg *msg);
/* A request of the peer's on a leg, for the Contact of our response. */
struct leg_cmsg {
	const struct leg *leg;
	const struct sip_msg *msg;
};

int  leg_contact_print(struct re_printf *pf, const struct leg_cmsg *cm);
void leg_reply_dst(struct sa *dst, const struct sip_msg *msg);
bool leg_target_ok(const struct sip_msg *msg);
int  leg_target_update(struct leg *leg, const struct sip_msg *msg);
/* The send handler of a request without Contact; arg is the legset. */
int  leg_via_send(enum sip_transp tp, const struct sa *src,
		  const struct sa *dst, struct mbuf *mb, void *arg);
int  leg_contact_send(enum sip_transp tp, const struct sa *src,
		      const struct sa *dst, struct mbuf *mb, void *arg);
void leg_sdp_sent(struct leg *leg, const struct pl *sdp);
void leg_sdp_got(struct leg *leg, const struct sip_msg *msg);
int  leg_sdp(const struct leg *leg, bool local, struct pl *pl);
bool leg_sdp_unchanged(const struct leg *leg, const struct pl *sdp);
int  leg_offer(struct leg *leg, bool invite, const struct pl *sdp,
	       leg_resp_h *resph, void *arg);
int  leg_answer(struct leg *leg, uint16_t scode, const char *reason,
		const struct pl *sdp);
int  leg_ack_held(struct leg *leg, const struct pl *sdp);
void leg_offer_abandon(struct leg *leg);
bool leg_reinvite_pending(const struct leg *leg);
int  leg_relay(struct leg *leg, const struct sip_msg *msg,
	       leg_resp_h *resph, void *arg);
int  leg_reply(struct sip *sip, struct sip_strans **stp,
	       const struct sip_msg *req, int err, const struct sip_msg *rsp);
void leg_bye(struct leg *leg);
void leg_session_start(struct leg *leg, const struct sip_msg *msg,
		       bool uas);
int  leg_session_parse(const struct pl *val, uint32_t *se,
		       struct pl *refresher);
int  leg_session_print(struct re_printf *pf, const struct leg *leg);
void leg_ack_send(struct leg *leg, uint32_t cseq, const struct pl *sdp);

/* rtx (leg.c) */
void rtx_init(struct rtx *r, struct sip *sip, void (*expireh)(struct rtx *),
	      bool udp_only);
void rtx_start(struct rtx *r, const struct sip_msg *req,
	       const struct sa *dst);
void rtx_stop(struct rtx *r);

/* leg_uas.c: the INVITE server side */
struct uas {
	struct leg leg;
	struct sip_strans *st;
	struct sip_msg *msg;       /* the INVITE */
	struct sa dst;             /* where its responses go (18.2.2) */
	struct rtx rel;            /* the unacknowledged reliable 1xx */
	bool rel100;               /* the peer supports 100rel */
	bool rel_sdp;              /* ... that 1xx carries SDP */
	uint32_t rseq;             /* RSeq of the last reliable 1xx */
	uint16_t final;            /* our final status, 0 before it */
	bool acked;
	bool bye_due;              /* hang up as soon as the ACK is in */
	bool closed;
	struct le cle;             /* legset closel while closed */
};

int  uas_alloc(struct uas **up, struct legset *ls, const struct sip_msg *msg,
	       const char *cuser, const struct leg_h *h, void *arg);
int  uas_progress(struct uas *u, uint16_t scode, const char *reason,
		  bool reliable, re_printf_h *hdrs, void *harg,
		  const struct pl *sdp, const struct pl *early);
int  uas_answer(struct uas *u, uint16_t scode, const char *reason,
		re_printf_h *hdrs, void *harg, const struct pl *sdp);
int  uas_reject(struct uas *u, uint16_t scode, const char *reason,
		const char *hdrs);
bool uas_rel_pending(const struct uas *u);
void uas_close(struct uas *u, uint16_t scode, const char *reason);
void uas_prack_in(struct uas *u, const struct sip_msg *msg);
bool uas_ack_in(struct uas *u, const struct sip_msg *msg);
void uas_bye_in(struct uas *u);
void uas_closed_check(struct uas *u);

/* leg_uac.c: the INVITE client side */
struct prack_out {
	const struct pl *sdp;      /* session SDP for the PRACK */
	const struct pl *early;    /* early-session SDP for the PRACK */
	const char *hdrs;          /* extra header lines */
	struct mbuf *mb;           /* what sdp or early point into; the
				    * layer frees it once the PRACK went */
	bool defer;                /* the owner sends it: uac_prack() */
};

struct uac_h {
	/* A provisional response of a fork (not a retransmission); for a
	 * reliable one, pk says what goes into its PRACK. */
	void (*provh)(struct uac *c, struct leg *fork,
		      const struct sip_msg *msg, struct prack_out *pk,
		      void *arg);
	/* The response to a PRACK. */
	void (*prackh)(struct uac *c, struct leg *fork,
		       const struct sip_msg *msg, void *arg);
	/* The first 2xx; return true to send its ACK later (uac_ack). */
	bool (*answerh)(struct uac *c, struct leg *fork,
			const struct sip_msg *msg, void *arg);
	/* The final failure (err set, or msg a 3xx-6xx). */
	void (*failh)(struct uac *c, int err, const struct sip_msg *msg,
		      void *arg);
};

int  uac_alloc(struct uac **cp, struct legset *ls, const char *target,
	       const char *to_uri, const char *from_name,
	       const char *from_uri, const char *cuser,
	       const struct uac_h *uh, void *arg,
	       const struct leg_h *lh, void *larg,
	       re_printf_h *hdrs, void *harg, const struct pl *sdp);
int  uac_prack(struct uac *c, struct leg *fork, const struct pl *sdp);
int  uac_ack(struct uac *c, const struct pl *sdp);
void uac_cancel(struct uac *c);
bool uac_pending(const struct uac *c);
bool uac_ringing(const struct uac *c);
struct leg *uac_winner(const struct uac *c);
const char *uac_target(const struct uac *c);
void uac_close(struct uac *c);
void uac_closed_check(struct uac *c);
bool uac_late_2xx(struct legset *ls, struct leg *leg,
		  const struct sip_msg *msg);

#endif
