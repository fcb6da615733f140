/**
 * @file b2bua.c  The B2BUA: an A-leg toward the caller, B-legs toward the
 *                callee's contacts, and the CMR policy between them
 *
 * A call is the caller's INVITE server transaction and dialog (the A-leg)
 * and one client INVITE per target contact (the B-legs, forked in
 * parallel).  The first 2xx wins; the other B-legs are cancelled.  When
 * every B-leg failed, the best final response is relayed (RFC 3261
 * section 16.7, step 6).  The legs are small state machines on libre's
 * transactions and dialogs: libre 1.1.0's sipsess cannot send a 100 Trying
 * of its own, nor reliable provisional responses.
 *
 * Each leg owns its 100rel (RFC 3262): toward the caller we send reliable
 * provisional responses when the caller requires them or when application
 * server mode needs them, retransmit them until the PRACK and hold a 2xx
 * back while one with SDP is unacknowledged; toward the callee we
 * advertise 100rel and PRACK every reliable provisional response it
 * sends, whatever the caller supports.
 *
 * Ownership: srv->calls holds the one reference to a call.  A call is
 * freed only when it has ended and no B-leg INVITE is pending, so no libre
 * response handler can reach freed memory.
 */
#include <string.h>
#include <re.h>
#include "sip/sip_int.h"

#define ALLOW "INVITE, ACK, CANCEL, BYE, OPTIONS, PRACK, UPDATE"

enum { MAX_TARGETS = 8 };

struct leg {
	struct le he;             /* srv->legs, keyed by Call-ID */
	struct call *call;
	struct sip_dialog *dlg;
	bool is_a;
};

struct bleg {
	struct leg leg;
	struct le le;             /* call->blegs */
	struct sip_request *req;  /* the pending INVITE, NULL after final */
	char *target;
	uint16_t final;
	char *reason;
	char *contacts;           /* "Contact: ..." lines of a 3xx */
	uint32_t ok_cseq;         /* CSeq of its 2xx, for the ACK */
	bool ack_pending;         /* late offer: ACK waits for the caller's */
	bool answered;            /* its 2xx arrived: a confirmed dialog */
	bool gone;                /* it sent BYE, or we did */
	bool early;               /* early dialog made from a reliable 1xx */
	struct oa oa;             /* session offer/answer on this leg */
	uint32_t rseq;            /* RSeq of the last reliable 1xx PRACKed */
	struct sip_request *prack;/* our pending PRACK */
};

/*
 * A response the UAS core itself resends on the RFC 3261 13.3.1.4 / RFC
 * 3262 section 3 schedule (rel100.c): the 2xx until the ACK, a reliable
 * 1xx until its PRACK.  mb is set while it is outstanding.
 */
struct rtx {
	struct tmr tmr;
	struct mbuf *mb;
	uint64_t start;
	uint32_t txc;
	bool udp_only;            /* a 2xx is resent only over UDP */
	struct call *call;
	void (*expireh)(struct call *call);
};

struct call {
	struct le le;             /* srv->calls */
	struct sipsrv *srv;
	struct callrec *cr;
	struct leg a;
	struct sip_strans *st;    /* A's INVITE server transaction */
	struct sip_msg *msg;      /* A's INVITE */
	struct rtx ok;            /* A's 2xx, resent until the ACK */
	struct sa ok_dst;         /* where A's responses go */
	struct list blegs;
	struct bleg *winner;
	struct cmr_choice bt, rt;
	struct pl a_sdp;          /* the caller's session SDP, in msg */
	struct oa oa_a;           /* session offer/answer on the A-leg */
	char url_bt[256];
	char url_rt[256];
	char cuser_a[64];         /* Contact user toward the caller */
	char cuser_b[64];         /* Contact user toward the callee */
	uint16_t final_sent;      /* A's final status code, 0 if none */

	/* 100rel toward the caller (RFC 3262) */
	bool a_100rel;            /* our provisionals to A are reliable */
	uint32_t a_rseq;          /* RSeq of the last reliable 1xx sent */
	struct rtx rel;           /* the unacknowledged reliable 1xx */
	bool rel_sdp;             /* ... and it carried SDP */
	struct sip_msg *queued_1xx;   /* B's 1xx waiting for that PRACK */
	struct sip_msg *held_2xx;     /* B's 2xx waiting for that PRACK */

	/* gateway mode (CMRBT only) */
	struct gwmedia *bt_gw;
	bool gw_answered;         /* our SDP answer went to the caller */
	struct sip_msg *gw_ok;    /* the callee's 2xx whose SDP we relay */
	struct pl gw_sdp;         /* ... that SDP, in gw_ok */
	struct sip_request *gw_req;   /* our UPDATE/re-INVITE to the caller */
	struct sip_request *gw_breq;  /* our re-INVITE to the callee */
	bool gw_use_update;       /* the caller allows UPDATE */
	bool gw_reinvite_due;     /* re-INVITE the caller after its ACK */
	unsigned gw_glare;        /* 491s so far */
	struct tmr tmr_gw;

	/* application server mode, per direction */
	struct asmedia *bt_as;
	struct asmedia *rt_as;
	struct bleg *rt_leg;      /* the B-leg the CMRT offer went to */

	bool confirmed;           /* A's ACK arrived */
	bool a_gone;              /* A sent BYE, or we did */
	bool ended;
};


static void call_end(struct call *call, uint16_t scode, const char *why);


/* ---- helpers ---------------------------------------------------------- */

/* A Contact user part that needs no escaping (RFC 3261 "user" chars). */
static void safe_user(char *buf, size_t sz, const struct pl *user,
		      const char *fallback)
{
	size_t i, n = 0;

	for (i = 0; user && i < user->l && n + 1 < sz; i++) {
		char c = user->p[i];

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || strchr("-_.!~+", c))
			buf[n++] = c;
		else
			break;
	}

	if (!n || (user && i < user->l))
		n = (size_t)re_snprintf(buf, sz, "%s", fallback);

	buf[n] = '\0';
}


static const struct sip_hdr *ctype_hdr(const struct sip_msg *msg)
{
	if (!mbuf_get_left(msg->mb))
		return NULL;

	return sip_msg_hdr(msg, SIP_HDR_CONTENT_TYPE);
}


/* "Content-Type: ...\r\n" of a message that has a body, else nothing. */
static int ctype_print(struct re_printf *pf, const struct sip_msg *msg)
{
	const struct sip_hdr *h = msg ? ctype_hdr(msg) : NULL;

	if (!h)
		return 0;

	return re_hprintf(pf, "Content-Type: %r\r\n", &h->val);
}


static size_t body_len(const struct sip_msg *msg)
{
	return msg && ctype_hdr(msg) ? mbuf_get_left(msg->mb) : 0;
}


static const uint8_t *body_buf(const struct sip_msg *msg)
{
	return body_len(msg) ? mbuf_buf(msg->mb) : NULL;
}


/* A body of session SDP alone (or none), with its headers, for %H. */
static int sdp_body_print(struct re_printf *pf, const struct pl *sdp)
{
	struct body_out bo;
	int err;

	err = body_out_init(&bo, sdp, NULL);
	if (err)
		return err;

	return body_print(pf, &bo);
}


static const char *who(const struct leg *leg)
{
	return leg->is_a ? "caller" : "callee";
}


/* The reason phrases of the finals we originate. */
static const char *reason_phrase(uint16_t scode)
{
	switch (scode) {

	case 480: return "Temporarily Unavailable";
	case 487: return "Request Terminated";
	case 503: return "Service Unavailable";
	case 504: return "Server Time-out";
	default:  return "Server Internal Error";
	}
}


/* ---- the UAS core's own retransmissions -------------------------------- */

static void rtx_handler(void *arg)
{
	struct rtx *r = arg;
	struct call *call = r->call;

	if (rel100_expired(r->start, loop_now_ms())) {
		r->expireh(call);
		return;
	}

	if (!r->udp_only || call->msg->tp == SIP_TRANSP_UDP)
		(void)sip_send(call->srv->sip, call->msg->sock, call->msg->tp,
			       &call->ok_dst, r->mb);

	++r->txc;
	tmr_start(&r->tmr, rel100_next(r->start, loop_now_ms(), r->txc),
		  rtx_handler, r);
}


/* r->mb was just sent for the first time. */
static void rtx_start(struct rtx *r)
{
	r->start = loop_now_ms();
	r->txc = 0;
	tmr_start(&r->tmr, rel100_interval(0), rtx_handler, r);
}


static void rtx_stop(struct rtx *r)
{
	tmr_cancel(&r->tmr);
	r->mb = mem_deref(r->mb);
}


/* ---- lifetime --------------------------------------------------------- */

static void bleg_destructor(void *arg)
{
	struct bleg *b = arg;

	hash_unlink(&b->leg.he);
	list_unlink(&b->le);
	/* A still-pending request is cancelled by libre, with no callback. */
	mem_deref(b->req);
	mem_deref(b->prack);
	mem_deref(b->leg.dlg);
	mem_deref(b->target);
	mem_deref(b->reason);
	mem_deref(b->contacts);
}


static void call_destructor(void *arg)
{
	struct call *call = arg;

	rtx_stop(&call->ok);
	rtx_stop(&call->rel);
	hash_unlink(&call->a.he);
	tmr_cancel(&call->tmr_gw);
	mem_deref(call->gw_req);
	mem_deref(call->gw_breq);
	mem_deref(call->gw_ok);
	mem_deref(call->bt_gw);
	mem_deref(call->bt_as);
	mem_deref(call->rt_as);
	list_flush(&call->blegs);
	mem_deref(call->queued_1xx);
	mem_deref(call->held_2xx);
	list_unlink(&call->le);
	mem_deref(call->st);
	mem_deref(call->msg);
	mem_deref(call->a.dlg);
	mem_deref(call->cr);
}


static bool blegs_pending(const struct call *call)
{
	struct le *le;

	for (le = list_head(&call->blegs); le; le = le->next) {
		const struct bleg *b = le->data;

		if (b->req || b->prack)
			return true;
	}

	return false;
}


/* Frees the call once it ended and no INVITE of ours is outstanding. */
static void call_try_free(struct call *call)
{
	if (!call->ended || blegs_pending(call))
		return;

	mem_deref(call);
}


static void bye_send(struct sipsrv *srv, struct sip_dialog *dlg)
{
	int err;

	/* Fire and forget: libre keeps the request until it completes. */
	err = sip_drequestf(NULL, srv->sip, true, "BYE", dlg, 0, NULL,
			    NULL, NULL, NULL, "Content-Length: 0\r\n\r\n");
	if (err)
		LOGW(SUB_SIP, "BYE on %s: %m", sip_dialog_callid(dlg), err);
}


/* ---- the A-leg (UAS toward the caller) -------------------------------- */

static int contact_a_print(struct re_printf *pf, const struct call *call)
{
	struct sip_contact contact;

	sip_contact_set(&contact, call->cuser_a, &call->msg->dst,
			call->msg->tp);

	return sip_contact_print(pf, &contact);
}


static void a_final_hdrs(struct call *call, uint16_t scode,
			 const char *reason, const char *hdrs)
{
	int err;

	if (call->final_sent || !call->st)
		return;

	err = sip_treplyf(&call->st, NULL, call->srv->sip, call->msg, false,
			  scode, reason, "%sContent-Length: 0\r\n\r\n",
			  hdrs ? hdrs : "");
	if (err)
		LOGW(SUB_SIP, "%s: final %u to caller: %m",
		     evlog_call_id(call->cr), scode, err);

	call->final_sent = scode;
}


static void a_final(struct call *call, uint16_t scode, const char *reason)
{
	a_final_hdrs(call, scode, reason, NULL);
}


/* RFC 3261 13.3.1.4: without an ACK after 64*T1 the call ends (BYE). */
static void ok_expired(struct call *call)
{
	evlog_event(call->cr, "no-ack", NULL);
	call_end(call, 0, "no ACK from the caller");
}


/* RFC 3262 section 3: without a PRACK after 64*T1, a 5xx. */
static void rel_expired(struct call *call)
{
	evlog_event(call->cr, "prack-timeout", "\"rseq\":%u", call->a_rseq);
	rtx_stop(&call->rel);
	call_end(call, 504, "no PRACK from the caller");
}


/* The media of a call's resource in one direction, or NULL. */
static struct media *cmr_media(const struct cmr_choice *c)
{
	struct resource *r = c->resid ? table_resource(table_live(),
						       c->resid) : NULL;

	return r ? r->media : NULL;
}


/* Clause 1.1.1.7: the final response stops the CMRBT stream before it is
 * forwarded; the callee's answer stops the CMRT stream. */
static void streams_stop(struct call *call, const char *why)
{
	modegw_stop(call->bt_gw, call->cr, why);
	modeas_stop(call->bt_as, call->cr, why);
	modeas_stop(call->rt_as, call->cr, why);
}


static void gw_offer_send(struct call *call);


/* The 2xx to the caller's INVITE; with_sdp false for gateway mode, where
 * the session description travels in our UPDATE or re-INVITE. */
static void a_ok(struct call *call, const struct sip_msg *bmsg,
		 bool with_sdp)
{
	const struct sip_msg *body = with_sdp ? bmsg : NULL;
	int err;

	if (body_len(body)) {
		if (call->oa_a.st == OA_REMOTE_OFFER)
			(void)oa_local_answer(&call->oa_a);
		else if (call->oa_a.st == OA_IDLE && !call->oa_a.done)
			(void)oa_local_offer(&call->oa_a);  /* late offer */
	}

	rtx_stop(&call->rel);

	err = sip_treplyf(&call->st, &call->ok.mb, call->srv->sip, call->msg,
			  true, bmsg->scode, "OK",
			  "%H"
			  "Allow: " ALLOW "\r\n"
			  "%H"
			  "Content-Length: %zu\r\n"
			  "\r\n"
			  "%b",
			  contact_a_print, call,
			  ctype_print, body,
			  body_len(body), body_buf(body), body_len(body));
	if (err) {
		LOGW(SUB_SIP, "%s: 2xx to caller: %m",
		     evlog_call_id(call->cr), err);
		call_end(call, 500, "cannot send 2xx to the caller");
		return;
	}

	call->final_sent = bmsg->scode;
	rtx_start(&call->ok);

	evlog_call_state(call->cr, "answered");
	evlog_event(call->cr, "answered", "\"code\":%u,\"sdp\":%s",
		    bmsg->scode, with_sdp ? "true" : "false");
}


static void a_answer(struct call *call, const struct sip_msg *bmsg)
{
	struct body_view bv;

	/* RFC 3262 section 3: no 2xx while a reliable provisional response
	 * with a session description is unacknowledged.  (RFC 3311 5.1:
	 * our UPDATE, too, waits for that PRACK.) */
	if (call->rel.mb && call->rel_sdp) {
		mem_deref(call->held_2xx);
		call->held_2xx = mem_ref((void *)bmsg);
		evlog_event(call->cr, "2xx-held", "\"why\":\"reliable 1xx "
			    "with SDP not yet PRACKed\"");
		return;
	}

	streams_stop(call, "final response");

	/* Clause 1.1.1.10: before the final answer goes to the caller, it
	 * gets the callee's SDP in an UPDATE; without UPDATE in its Allow,
	 * the 200 goes first and a re-INVITE follows the ACK (RFC 3261
	 * 14.1 forbids a re-INVITE while its INVITE is pending). */
	if (call->gw_answered) {
		memset(&bv, 0, sizeof(bv));
		if (body_parse(&bv, bmsg) || !pl_isset(&bv.session)) {
			evlog_event(call->cr, "gateway-no-callee-sdp", NULL);
			a_ok(call, bmsg, false);
			return;
		}
		mem_deref(call->gw_ok);
		call->gw_ok = mem_ref((void *)bmsg);
		call->gw_sdp = bv.session;

		if (call->gw_use_update) {
			gw_offer_send(call);
			return;
		}

		call->gw_reinvite_due = true;
		a_ok(call, bmsg, false);
		return;
	}

	a_ok(call, bmsg, true);
}



struct pem_ctx {
	const struct call *call;
	const struct sip_msg *bmsg;
};


static bool pem_collect(const struct sip_hdr *hdr, const struct sip_msg *msg,
			void *arg)
{
	struct mbuf *mb = arg;
	(void)msg;

	return 0 != mbuf_printf(mb, "%s%r", mb->end ? ", " : "", &hdr->val);
}


/* The P-Early-Media values of a message, comma-joined, as a string. */
static char *pem_values(const struct sip_msg *msg)
{
	struct mbuf *mb = mbuf_alloc(64);
	char *v = NULL;

	if (!mb)
		return NULL;

	(void)sip_msg_hdr_apply(msg, true, SIP_HDR_P_EARLY_MEDIA, pem_collect,
				mb);
	if (mb->end) {
		mb->pos = 0;
		(void)mbuf_strdup(mb, &v, mb->end);
	}
	mem_deref(mb);

	return v;
}


/*
 * RFC 5009 toward the caller: in gateway mode our own authorisation,
 * "sendrecv" (clause 1.1.1.10), replaces whatever the callee sent; in the
 * other modes the callee's values travel on unchanged, to a caller whose
 * INVITE said "P-Early-Media: supported".
 */
static int pem_print(struct re_printf *pf, const struct pem_ctx *pc)
{
	char *v;
	int err;

	if (pc->call->bt.mode == MODE_GATEWAY)
		return re_hprintf(pf, "P-Early-Media: sendrecv\r\n");

	/* Only toward a caller that said it understands the header. */
	if (!modegw_caller_supports(pc->call->msg))
		return 0;

	v = pem_values(pc->bmsg);
	if (!v)
		return 0;

	err = re_hprintf(pf, "P-Early-Media: %s\r\n", v);
	mem_deref(v);

	return err;
}


static int rel_hdrs_print(struct re_printf *pf, const struct call *call)
{
	if (!call->a_100rel)
		return 0;

	return re_hprintf(pf, "Require: 100rel%s\r\nRSeq: %u\r\n",
			  modeas_offered(call->bt_as) ? ", early-session" : "",
			  call->a_rseq);
}


/*
 * A provisional response from the callee, forwarded to the caller.  In
 * HTTP mode the CMRBT URL goes into it (clause 1.1.1.3); in application
 * server mode the first one carries our early-session offer and becomes
 * reliable with "Require: 100rel, early-session" (clause 1.1.1.7).
 */
static void a_provisional(struct call *call, const struct sip_msg *bmsg)
{
	bool insert = call->bt.mode == MODE_HTTP && call->url_bt[0];
	struct mbuf *offer = NULL, *gw_answer = NULL;
	struct pl gw_sdp = PL_INIT;
	struct pem_ctx pc = { call, bmsg };
	struct body_view bv;
	struct body_out bo;
	struct pl early = PL_INIT;
	char reason[64];
	int err;

	/* One reliable provisional at a time (RFC 3262 section 3): the
	 * newest one waits for the PRACK. */
	if (call->rel.mb) {
		mem_deref(call->queued_1xx);
		call->queued_1xx = mem_ref((void *)bmsg);
		return;
	}

	memset(&bv, 0, sizeof(bv));
	if (body_parse(&bv, bmsg))
		memset(&bv, 0, sizeof(bv));

	/* Gateway mode (clause 1.1.1.10): our SDP answer replaces the
	 * callee's, once; the stream starts as it goes out. */
	if (call->bt.mode == MODE_GATEWAY && !call->gw_answered) {
		err = modegw_answer(call->bt_gw, &gw_answer);
		if (err)
			LOGW(SUB_SIP, "%s: gateway SDP answer: %m",
			     evlog_call_id(call->cr), err);
		else
			pl_set_mbuf(&gw_sdp, gw_answer);
	}
	if (call->bt.mode == MODE_GATEWAY)
		memset(&bv, 0, sizeof(bv));
	if (pl_isset(&gw_sdp))
		bv.session = gw_sdp;

	if (call->bt.mode == MODE_AS && !modeas_offered(call->bt_as)) {
		err = modeas_offer(call->bt_as, &offer);
		if (err) {
			LOGW(SUB_SIP, "%s: early-session offer: %m",
			     evlog_call_id(call->cr), err);
		}
		else {
			early.p = (const char *)mbuf_buf(offer);
			early.l = mbuf_get_left(offer);
		}
	}

	if (call->a_100rel)
		++call->a_rseq;

	if (body_out_init(&bo, &bv.session, &early)) {
		mem_deref(offer);
		mem_deref(gw_answer);
		return;
	}

	pl_strcpy(&bmsg->reason, reason, sizeof(reason));

	err = sip_treplyf(&call->st, call->a_100rel ? &call->rel.mb : NULL,
			  call->srv->sip, call->msg, true,
			  bmsg->scode, reason,
			  "%H"
			  "%H"
			  "%H"
			  "%H"
			  "%H",
			  contact_a_print, call,
			  modehttp_alertinfo_print,
			  insert ? call->url_bt : NULL,
			  rel_hdrs_print, call,
			  pem_print, &pc,
			  body_print, &bo);
	mem_deref(offer);
	mem_deref(gw_answer);
	if (err) {
		LOGW(SUB_SIP, "%s: %u to caller: %m",
		     evlog_call_id(call->cr), bmsg->scode, err);
		return;
	}

	if (call->a_100rel) {
		/* An answer in a reliable 1xx completes the exchange (RFC
		 * 3262 section 5). */
		if (pl_isset(&bv.session) && call->oa_a.st == OA_REMOTE_OFFER)
			(void)oa_local_answer(&call->oa_a);
		call->rel_sdp = pl_isset(&bv.session) || pl_isset(&early);
		rtx_start(&call->rel);
	}

	if (bmsg->scode == 180 || bmsg->scode == 183)
		evlog_call_state(call->cr, "ringing");
	evlog_event(call->cr, bmsg->scode == 180 ? "ringing" : "progress",
		    "\"code\":%u,\"sdp\":%s,\"reliable\":%s", bmsg->scode,
		    pl_isset(&bv.session) ? "true" : "false",
		    call->a_100rel ? "true" : "false");

	if (insert)
		evlog_event(call->cr, "cmr-inserted",
			    "\"dir\":\"bt\",\"mode\":\"http\","
			    "\"resource\":%H,\"url\":%H,\"in\":\"%u\"",
			    jsonw_str, call->bt.resid, jsonw_str,
			    call->url_bt, bmsg->scode);
	if (pl_isset(&gw_sdp)) {
		call->gw_answered = true;
		evlog_event(call->cr, "cmr-inserted",
			    "\"dir\":\"bt\",\"mode\":\"gateway\","
			    "\"resource\":%H,\"in\":\"%u\",\"rseq\":%u",
			    jsonw_str, call->bt.resid, bmsg->scode,
			    call->a_rseq);
		(void)modegw_start(call->bt_gw, cmr_media(&call->bt),
				   call->cr);
	}
	if (pl_isset(&early))
		evlog_event(call->cr, "cmr-inserted",
			    "\"dir\":\"bt\",\"mode\":\"as\","
			    "\"resource\":%H,\"in\":\"%u\",\"rseq\":%u",
			    jsonw_str, call->bt.resid, bmsg->scode,
			    call->a_rseq);
}


/* The caller's PRACK: the early-session answer of clause 1.1.1.8 may
 * ride in it; RTP starts toward it at once. */
static void a_prack(struct call *call, const struct sip_msg *msg)
{
	struct sip_msg *next;
	struct body_view bv;
	int err;

	if (!call->rel.mb || !rel100_rack_matches(msg, call->a_rseq,
						call->msg->cseq.num)) {
		(void)sip_treply(NULL, call->srv->sip, msg, 481,
				 "Call/Transaction Does Not Exist");
		evlog_event(call->cr, "prack-unmatched", NULL);
		return;
	}

	memset(&bv, 0, sizeof(bv));
	err = body_parse(&bv, msg);
	if (err) {
		(void)sip_treply(NULL, call->srv->sip, msg,
				 err == ENOTSUP ? 415 : 400,
				 err == ENOTSUP ? "Unsupported Media Type" :
				 "Bad Request");
		return;
	}

	(void)sip_treply(NULL, call->srv->sip, msg, 200, "OK");

	rtx_stop(&call->rel);
	evlog_event(call->cr, "prack", "\"by\":\"caller\",\"rseq\":%u,"
		    "\"early_session\":%s", call->a_rseq,
		    pl_isset(&bv.early) ? "true" : "false");

	if (pl_isset(&bv.early) && call->bt_as && !call->final_sent)
		(void)modeas_answer(call->bt_as, &bv.early,
				    cmr_media(&call->bt), call->cr);

	/* What waited for this PRACK goes now: a held 2xx first. */
	if (call->held_2xx) {
		next = call->held_2xx;
		call->held_2xx = NULL;
		call->queued_1xx = mem_deref(call->queued_1xx);
		a_answer(call, next);
		mem_deref(next);
	}
	else if (call->queued_1xx && !call->final_sent) {
		next = call->queued_1xx;
		call->queued_1xx = NULL;
		a_provisional(call, next);
		mem_deref(next);
	}
}


static void cancel_handler(void *arg)
{
	struct call *call = arg;

	/* libre has answered the CANCEL with 200 already. */
	evlog_event(call->cr, "cancelled", "\"by\":\"caller\"");
	a_final(call, 487, "Request Terminated");
	call->a_gone = true;
	call_end(call, 0, "caller cancelled");
}


/* ---- the B-legs (UAC toward the callee's contacts) -------------------- */

static int contact_b_send(enum sip_transp tp, const struct sa *src,
			  const struct sa *dst, struct mbuf *mb, void *arg)
{
	struct bleg *b = arg;
	struct sip_contact contact;
	(void)dst;

	sip_contact_set(&contact, b->leg.call->cuser_b, src, tp);

	return mbuf_printf(mb, "%H", sip_contact_print, &contact);
}


/* The ACK for a B-leg's 2xx; body is the caller's ACK when the caller
 * made a late offer (its answer travels in the ACK), else NULL. */
static void bleg_ack(struct call *call, struct bleg *b,
		     const struct sip_msg *body)
{
	int err;

	b->ack_pending = false;
	if (body_len(body) && b->oa.st == OA_REMOTE_OFFER)
		(void)oa_local_answer(&b->oa);
	err = sip_drequestf(NULL, call->srv->sip, false, "ACK", b->leg.dlg,
			    b->ok_cseq, NULL, NULL, NULL, NULL,
			    "%H"
			    "Content-Length: %zu\r\n"
			    "\r\n"
			    "%b",
			    ctype_print, body,
			    body_len(body), body_buf(body), body_len(body));
	if (err)
		LOGW(SUB_SIP, "%s: ACK to %s: %m", evlog_call_id(call->cr),
		     b->target, err);
}


static void blegs_cancel(struct call *call, const struct bleg *except)
{
	struct le *le;

	for (le = list_head(&call->blegs); le; le = le->next) {
		struct bleg *b = le->data;

		if (b != except && b->req)
			sip_request_cancel(b->req);
	}
}


/* RFC 3261 16.7 step 6: a 6xx wins; otherwise the lowest class, where
 * 4xx goes before 5xx; the first of a class stays. */
static struct bleg *best_final(const struct call *call)
{
	struct bleg *best = NULL;
	struct le *le;

	for (le = list_head(&call->blegs); le; le = le->next) {
		struct bleg *b = le->data;

		if (!b->final)
			continue;
		if (b->final >= 600)
			return b;
		if (!best || b->final / 100 < best->final / 100)
			best = b;
	}

	return best;
}


/* Every B-leg failed: relay the best final response to the caller. */
static void blegs_failed(struct call *call)
{
	struct bleg *best = best_final(call);
	uint16_t scode = best ? best->final : 480;
	const char *reason = best && best->reason ? best->reason :
		"Temporarily Unavailable";
	char why[96];

	/* A callee's challenge is for its own credentials, which the caller
	 * does not hold; a callee's overload is not ours (RFC 3261 16.7
	 * step 6 turns 503 into 500 for the same reason). */
	if (scode == 401 || scode == 407) {
		scode = 403;
		reason = "Forbidden";
	}
	else if (scode == 503) {
		scode = 500;
		reason = "Server Internal Error";
	}

	streams_stop(call, "final response");
	a_final_hdrs(call, scode, reason,
		     scode < 400 && best ? best->contacts : NULL);
	re_snprintf(why, sizeof(why), "callee rejected: %u %s", scode,
		    reason);
	evlog_event(call->cr, "rejected", "\"code\":%u,\"reason\":%H",
		    scode, jsonw_str, reason);
	call_end(call, 0, why);
}


static bool contact_collect(const struct sip_hdr *hdr,
			    const struct sip_msg *msg, void *arg)
{
	struct mbuf *mb = arg;
	(void)msg;

	return 0 != mbuf_printf(mb, "Contact: %r\r\n", &hdr->val);
}


/* A 3xx is relayed with its Contact headers: the redirect targets. */
static void contacts_keep(struct bleg *b, const struct sip_msg *msg)
{
	struct mbuf *mb = mbuf_alloc(256);

	if (!mb)
		return;

	(void)sip_msg_hdr_apply(msg, true, SIP_HDR_CONTACT, contact_collect,
				mb);
	mb->pos = 0;
	if (mbuf_get_left(mb))
		(void)mbuf_strdup(mb, &b->contacts, mbuf_get_left(mb));
	mem_deref(mb);
}


static void bleg_final(struct call *call, struct bleg *b, uint16_t scode,
		       const struct pl *reason, const char *fallback)
{
	b->final = scode;
	if (reason && pl_isset(reason))
		(void)pl_strdup(&b->reason, reason);
	else
		(void)str_dup(&b->reason, fallback);

	/* After the call's "ended" event, the legs' teardown is not news. */
	if (!call->ended)
		evlog_event(call->cr, "leg-failed",
			    "\"target\":%H,\"code\":%u,\"reason\":%H",
			    jsonw_str, b->target, scode, jsonw_str,
			    b->reason);

	if (call->ended) {
		call_try_free(call);
		return;
	}

	if (scode >= 600)
		blegs_cancel(call, b);

	if (!blegs_pending(call) && !call->winner)
		blegs_failed(call);
}


static void bleg_2xx(struct call *call, struct bleg *b,
		     const struct sip_msg *msg)
{
	int err;

	/* The early dialog of a reliable 1xx becomes the confirmed one. */
	if (b->early && sip_dialog_cmp(b->leg.dlg, msg))
		err = sip_dialog_update(b->leg.dlg, msg);
	else if (b->early)
		err = EPROTO;     /* another fork answered: not followed */
	else
		err = sip_dialog_create(b->leg.dlg, msg);
	if (err) {
		LOGW(SUB_SIP, "%s: unusable 2xx from %s: %m",
		     evlog_call_id(call->cr), b->target, err);
		bleg_final(call, b, 502, NULL, "Bad Gateway");
		return;
	}

	b->answered = true;
	b->ok_cseq = msg->cseq.num;
	if (body_len(msg)) {
		if (b->oa.st == OA_LOCAL_OFFER)
			(void)oa_remote_answer(&b->oa);
		else if (b->oa.st == OA_IDLE && !b->oa.done)
			(void)oa_remote_offer(&b->oa);   /* late offer */
	}

	/* Clause 1.1.1.7, CMRT: the call is answered, the ringtone stops. */
	if (call->rt_leg == b)
		modeas_stop(call->rt_as, call->cr, "callee answered");

	/* Lost the race, or the call is over: this callee hangs up now. */
	if (call->ended || call->winner || call->final_sent) {
		bleg_ack(call, b, NULL);
		bye_send(call->srv, b->leg.dlg);
		b->gone = true;
		call_try_free(call);
		return;
	}

	/* Late offer (no SDP in the caller's INVITE): the callee's 2xx holds
	 * the offer, and the caller's answer comes in its ACK, which we
	 * relay in ours.  Otherwise the ACK goes at once. */
	if (pl_isset(&call->a_sdp) || !body_len(msg))
		bleg_ack(call, b, NULL);
	else
		b->ack_pending = true;

	call->winner = b;
	blegs_cancel(call, b);
	a_answer(call, msg);
}


/* The callee's 200 (PRACK): for CMRT in application server mode it holds
 * the early-session answer, which stays with us (clause 1.1.1.7). */
static void prack_resp_handler(int err, const struct sip_msg *msg,
			       void *arg)
{
	struct bleg *b = arg;
	struct call *call = b->leg.call;
	struct body_view bv;

	if (call->ended)
		goto out;
	if (err || !msg) {
		evlog_event(call->cr, "prack-failed", "\"target\":%H,"
			    "\"why\":\"%m\"", jsonw_str, b->target, err);
		goto out;
	}
	if (msg->scode < 200)
		return;

	evlog_event(call->cr, "prack-answered", "\"target\":%H,\"code\":%u",
		    jsonw_str, b->target, msg->scode);

	if (msg->scode >= 300 || call->rt_leg != b || call->ended ||
	    b->answered)
		goto out;

	memset(&bv, 0, sizeof(bv));
	if (body_parse(&bv, msg) || !pl_isset(&bv.early)) {
		evlog_event(call->cr, "early-session-answer",
			    "\"dir\":\"rt\",\"usable\":false,"
			    "\"why\":\"no early-session answer in the 200 "
			    "(PRACK)\"");
		goto out;
	}

	(void)modeas_answer(call->rt_as, &bv.early, cmr_media(&call->rt),
			    call->cr);

 out:
	if (call->ended)
		call_try_free(call);
}


/* Clause 1.1.1.7, CMRT: does this reliable 1xx get our offer? */
static bool rt_as_applies(const struct call *call, const struct sip_msg *msg)
{
	return call->rt_as && !call->rt_leg && call->rt.as_possible &&
		modeas_callee_supports(msg);
}


/*
 * RFC 3262 section 4: one PRACK per reliable provisional response, in its
 * early dialog, for RSeq values in order; a retransmission (an RSeq seen
 * already) gets none.  Returns false for a retransmission, which is not
 * forwarded either.
 */
static bool bleg_reliable(struct call *call, struct bleg *b,
			  const struct sip_msg *msg)
{
	const struct sip_hdr *h = sip_msg_hdr(msg, SIP_HDR_RSEQ);
	struct mbuf *offer = NULL;
	struct body_out bo;
	struct pl early = PL_INIT;
	uint32_t rseq;
	int err;

	if (!h || !sipsrv_digits(&h->val, 10))
		return true;          /* malformed: treat as unreliable */
	rseq = pl_u32(&h->val);

	if (b->early && !sip_dialog_cmp(b->leg.dlg, msg))
		return true;          /* another fork: not followed */

	switch (rel100_rseq_check(!b->early, b->rseq, rseq)) {

	case RSEQ_RETRANSMISSION:
		return false;

	case RSEQ_OUT_OF_ORDER:
		return true;          /* no PRACK (section 4) */

	default:
		break;
	}

	if (!b->early) {
		if (!pl_isset(&msg->to.tag) ||
		    sip_dialog_create(b->leg.dlg, msg))
			return true;
		b->early = true;
	}

	b->rseq = rseq;

	if (!b->prack && rt_as_applies(call, msg)) {
		err = modeas_offer(call->rt_as, &offer);
		if (!err) {
			early.p = (const char *)mbuf_buf(offer);
			early.l = mbuf_get_left(offer);
			call->rt_leg = b;
			call->rt.mode = MODE_AS;
			call->rt.why = "auto: the callee's reliable 18x "
				"supports early-session";
			evlog_call_modes(call->cr, NULL, "as");
			evlog_event(call->cr, "mode", "\"dir\":\"rt\","
				    "\"mode\":\"as\",\"why\":%H,"
				    "\"resource\":%H", jsonw_str,
				    call->rt.why, jsonw_str, call->rt.resid);
		}
	}

	if (body_out_init(&bo, NULL, &early)) {
		mem_deref(offer);
		return true;
	}

	/* A PRACK of ours still pending (its 1xx came right before): this
	 * one goes on its own, without a handler that could outlive b. */
	err = sip_drequestf(b->prack ? NULL : &b->prack, call->srv->sip, true,
			    "PRACK", b->leg.dlg, 0, NULL, NULL,
			    b->prack ? NULL : prack_resp_handler,
			    b->prack ? NULL : b,
			    "RAck: %u %u INVITE\r\n"
			    "%s"
			    "%H",
			    rseq, msg->cseq.num,
			    pl_isset(&early) ? "Require: early-session\r\n" :
			    "",
			    body_print, &bo);
	mem_deref(offer);
	if (err) {
		LOGW(SUB_SIP, "%s: PRACK to %s: %m",
		     evlog_call_id(call->cr), b->target, err);
		return true;
	}

	evlog_event(call->cr, "prack-sent", "\"target\":%H,\"rseq\":%u,"
		    "\"early_session_offer\":%s", jsonw_str, b->target, rseq,
		    pl_isset(&early) ? "true" : "false");
	if (pl_isset(&early))
		evlog_event(call->cr, "cmr-inserted",
			    "\"dir\":\"rt\",\"mode\":\"as\","
			    "\"resource\":%H,\"in\":\"PRACK\",\"target\":%H",
			    jsonw_str, call->rt.resid, jsonw_str, b->target);

	return true;
}


static void bleg_resp_handler(int err, const struct sip_msg *msg, void *arg)
{
	struct bleg *b = arg;
	struct call *call = b->leg.call;

	if (err || !msg) {
		bleg_final(call, b, err == ETIMEDOUT ? 408 : 503, NULL,
			   err == ETIMEDOUT ? "Request Timeout" :
			   "Service Unavailable");
		return;
	}

	if (msg->scode < 200) {
		char *pem;

		if (msg->scode == 100)
			return;

		/* RFC 5009: gated, inactive, sendonly, recvonly, sendrecv
		 * from the callee are accepted and logged. */
		pem = pem_values(msg);
		if (pem && !call->ended)
			evlog_event(call->cr, "p-early-media",
				    "\"from\":\"callee\",\"code\":%u,"
				    "\"values\":%H", msg->scode, jsonw_str, pem);
		mem_deref(pem);

		/* The callee's 100rel is ours to honour even when the call
		 * is being torn down or another fork won. */
		if (sip_msg_hdr_has_value(msg, SIP_HDR_REQUIRE, "100rel")) {
			if (!bleg_reliable(call, b, msg))
				return;
			if (body_len(msg) && b->oa.st == OA_LOCAL_OFFER)
				(void)oa_remote_answer(&b->oa);
		}

		if (call->ended || call->winner || call->final_sent)
			return;
		a_provisional(call, msg);
		return;
	}

	if (msg->scode < 300) {
		bleg_2xx(call, b, msg);
		return;
	}

	if (msg->scode < 400)
		contacts_keep(b, msg);

	if (call->rt_leg == b)
		modeas_stop(call->rt_as, call->cr, "callee rejected");

	bleg_final(call, b, msg->scode, &msg->reason, "Rejected");
}


static int bleg_start(struct call *call, const char *target)
{
	const struct sip_msg *msg = call->msg;
	char *to_uri = NULL, *from_uri = NULL, *from_name = NULL;
	struct bleg *b;
	bool insert = call->rt.mode == MODE_HTTP && call->url_rt[0];
	int err;

	b = mem_zalloc(sizeof(*b), bleg_destructor);
	if (!b)
		return ENOMEM;

	b->leg.call = call;
	list_append(&call->blegs, &b->le, b);
	if (pl_isset(&call->a_sdp))
		(void)oa_local_offer(&b->oa);

	err  = str_dup(&b->target, target);
	err |= pl_strdup(&to_uri, &msg->to.auri);
	err |= pl_strdup(&from_uri, &msg->from.auri);
	if (pl_isset(&msg->from.dname))
		err |= pl_strdup(&from_name, &msg->from.dname);
	if (err)
		goto out;

	err = sip_dialog_alloc(&b->leg.dlg, target, to_uri, from_name,
			       from_uri, NULL, 0);
	if (err)
		goto out;

	hash_append(call->srv->legs,
		    hash_joaat_str(sip_dialog_callid(b->leg.dlg)),
		    &b->leg.he, &b->leg);

	err = sip_drequestf(&b->req, call->srv->sip, true, "INVITE",
			    b->leg.dlg, 0, NULL, contact_b_send,
			    bleg_resp_handler, b,
			    "Allow: " ALLOW "\r\n"
			    "Supported: 100rel%s\r\n"
			    "%s"
			    "%H"
			    "%H",
			    call->rt.as_possible ? ", early-session" : "",
			    call->bt.mode != MODE_GATEWAY &&
			    modegw_caller_supports(msg) ?
			    "P-Early-Media: supported\r\n" : "",
			    modehttp_alertinfo_print,
			    insert ? call->url_rt : NULL,
			    sdp_body_print, &call->a_sdp);
	if (err)
		goto out;

	evlog_event(call->cr, "leg-invite", "\"target\":%H",
		    jsonw_str, target);
	if (insert)
		evlog_event(call->cr, "cmr-inserted",
			    "\"dir\":\"rt\",\"mode\":\"http\","
			    "\"resource\":%H,\"url\":%H,\"in\":\"INVITE\","
			    "\"target\":%H",
			    jsonw_str, call->rt.resid, jsonw_str,
			    call->url_rt, jsonw_str, target);

 out:
	mem_deref(to_uri);
	mem_deref(from_uri);
	mem_deref(from_name);
	if (err) {
		LOGW(SUB_SIP, "%s: INVITE to %s: %m",
		     evlog_call_id(call->cr), target, err);
		mem_deref(b);
	}

	return err;
}


/* ---- gateway mode: the callee's SDP to the caller ---------------------- */

static int contact_a_send(enum sip_transp tp, const struct sa *src,
			  const struct sa *dst, struct mbuf *mb, void *arg)
{
	struct call *call = arg;
	struct sip_contact contact;
	(void)dst;

	sip_contact_set(&contact, call->cuser_a, src, tp);

	return mbuf_printf(mb, "%H", sip_contact_print, &contact);
}


static const char *gw_method(const struct call *call)
{
	return call->gw_use_update ? "UPDATE" : "INVITE";
}


static void gw_failed(struct call *call, uint16_t scode, const char *what)
{
	char why[96];

	re_snprintf(why, sizeof(why), "%s to the caller failed (%u)", what,
		    scode);
	evlog_event(call->cr, call->gw_use_update ? "update-failed" :
		    "reinvite-failed", "\"code\":%u", scode);
	/* The caller's INVITE is still open after a failed UPDATE: it gets a
	 * 500; a confirmed caller gets BYE; the callee gets BYE either way. */
	call_end(call, 500, why);
}


static void gw_retry(void *arg)
{
	gw_offer_send(arg);
}


/* The caller's answer to our re-offer; when its media moved away from
 * what the callee was given, the callee is re-INVITEd with it. */
static void gw_breq_handler(int err, const struct sip_msg *msg, void *arg)
{
	struct bleg *b = arg;
	struct call *call = b->leg.call;

	if (!err && msg && msg->scode < 200)
		return;

	if (err || !msg || msg->scode >= 300)
		oa_reject(&b->oa);
	else
		(void)oa_remote_answer(&b->oa);

	if (err || !msg || msg->scode >= 300) {
		evlog_event(call->cr, "reinvite-callee-failed", "\"code\":%u",
			    msg ? msg->scode : 0);
		if (!call->ended)
			call_end(call, 0, "re-INVITE to the callee failed");
		else
			call_try_free(call);
		return;
	}

	if (b->leg.dlg)
		(void)sip_drequestf(NULL, call->srv->sip, false, "ACK",
				    b->leg.dlg, msg->cseq.num, NULL, NULL,
				    NULL, NULL, "Content-Length: 0\r\n\r\n");
	evlog_event(call->cr, "reinvite-callee-answered", "\"code\":%u",
		    msg->scode);
	if (call->ended)
		call_try_free(call);
}


static void gw_media_check(struct call *call, const struct sip_msg *msg)
{
	struct body_view bv;
	struct sa a0, a1;
	int pt0, pt1;
	struct bleg *b = call->winner;
	int err;

	memset(&bv, 0, sizeof(bv));
	if (body_parse(&bv, msg) || !pl_isset(&bv.session) || !b)
		return;

	if (modegw_peek(&call->a_sdp, &a0, &pt0) ||
	    modegw_peek(&bv.session, &a1, &pt1) ||
	    (sa_cmp(&a0, &a1, SA_ALL) && pt0 == pt1))
		return;

	evlog_event(call->cr, "caller-media-changed", "\"from\":\"%J\","
		    "\"to\":\"%J\",\"pt\":%d", &a0, &a1, pt1);

	if (oa_local_offer(&b->oa))
		return;

	err = sip_drequestf(&call->gw_breq, call->srv->sip, true, "INVITE",
			    b->leg.dlg, 0, NULL, contact_b_send,
			    gw_breq_handler, b,
			    "%H",
			    sdp_body_print, &bv.session);
	if (err) {
		oa_reject(&b->oa);
		LOGW(SUB_SIP, "%s: re-INVITE to the callee: %m",
		     evlog_call_id(call->cr), err);
	}
	else
		evlog_event(call->cr, "reinvite-callee-sent", NULL);
}


static void gw_resp_handler(int err, const struct sip_msg *msg, void *arg)
{
	struct call *call = arg;

	if (!err && msg && msg->scode < 200)
		return;

	if (call->ended) {
		call_try_free(call);
		return;
	}

	if (err || !msg || msg->scode >= 300)
		oa_reject(&call->oa_a);
	else
		(void)oa_remote_answer(&call->oa_a);

	if (err || !msg) {
		gw_failed(call, 408, gw_method(call));
		return;
	}

	/* RFC 3261 14.1: glare; the caller owns the Call-ID, so we retry
	 * after a random 0 to 2 s. */
	if (msg->scode == 491 && call->gw_glare < 5) {
		++call->gw_glare;
		evlog_event(call->cr, "glare", "\"method\":\"%s\",\"try\":%u",
			    gw_method(call), call->gw_glare);
		tmr_start(&call->tmr_gw, rand_u32() % 2001, gw_retry, call);
		return;
	}

	if (msg->scode >= 300) {
		gw_failed(call, msg->scode, gw_method(call));
		return;
	}

	if (call->gw_use_update) {
		evlog_event(call->cr, "update-answered", "\"code\":%u",
			    msg->scode);
		a_ok(call, call->gw_ok, false);
	}
	else {
		(void)sip_drequestf(NULL, call->srv->sip, false, "ACK",
				    call->a.dlg, msg->cseq.num, NULL, NULL,
				    NULL, NULL, "Content-Length: 0\r\n\r\n");
		evlog_event(call->cr, "reinvite-answered", "\"code\":%u",
			    msg->scode);
	}

	gw_media_check(call, msg);
}


/* Clause 1.1.1.10: the callee's SDP, as our next offer to the caller. */
static void gw_offer_send(struct call *call)
{
	struct mbuf *offer = NULL;
	struct pl sdp;
	int err;

	if (call->ended || call->gw_req)
		return;

	/* The caller's own offer is outstanding: ours waits a moment. */
	err = oa_local_offer(&call->oa_a);
	if (err == EBUSY) {
		tmr_start(&call->tmr_gw, 200, gw_retry, call);
		return;
	}

	err = modegw_reoffer(call->bt_gw, &call->gw_sdp, &offer);
	if (err) {
		oa_reject(&call->oa_a);
		gw_failed(call, 500, gw_method(call));
		return;
	}
	pl_set_mbuf(&sdp, offer);

	err = sip_drequestf(&call->gw_req, call->srv->sip, true,
			    gw_method(call), call->a.dlg, 0, NULL,
			    contact_a_send, gw_resp_handler, call,
			    "Allow: " ALLOW "\r\n"
			    "%H",
			    sdp_body_print, &sdp);
	mem_deref(offer);
	if (err) {
		oa_reject(&call->oa_a);
		gw_failed(call, 500, gw_method(call));
		return;
	}

	evlog_event(call->cr, call->gw_use_update ? "update-sent" :
		    "reinvite-sent", "\"sdp\":\"callee\"");
}


/* ---- call end --------------------------------------------------------- */

/*
 * Ends a call from any state: a final response to the caller if none went
 * yet (scode), CANCEL for B-legs still ringing, BYE for every confirmed
 * dialog whose side has not hung up.
 */
static void call_end(struct call *call, uint16_t scode, const char *why)
{
	struct le *le;

	if (call->ended)
		return;

	call->ended = true;
	tmr_cancel(&call->ok.tmr);
	tmr_cancel(&call->rel.tmr);
	tmr_cancel(&call->tmr_gw);
	streams_stop(call, why);
	/* Pending offers of ours are abandoned, without callbacks. */
	call->gw_req = mem_deref(call->gw_req);
	call->gw_breq = mem_deref(call->gw_breq);

	if (!call->final_sent)
		a_final(call, scode ? scode : 500, reason_phrase(scode));
	else if (call->final_sent < 300 && !call->a_gone) {
		bye_send(call->srv, call->a.dlg);
		call->a_gone = true;
	}

	for (le = list_head(&call->blegs); le; le = le->next) {
		struct bleg *b = le->data;

		if (b->req)
			sip_request_cancel(b->req);
		else if (b->answered && !b->gone) {
			if (b->ack_pending)
				bleg_ack(call, b, NULL);
			bye_send(call->srv, b->leg.dlg);
			b->gone = true;
		}
	}

	evlog_call_end(call->cr, why);
	call_try_free(call);
}


/* ---- requests --------------------------------------------------------- */

static struct leg *leg_find(struct sipsrv *srv, const struct sip_msg *msg)
{
	struct le *le;

	for (le = list_head(hash_list(srv->legs,
				      hash_joaat_pl(&msg->callid)));
	     le; le = le->next) {
		struct leg *leg = le->data;

		if (leg->dlg && sip_dialog_cmp(leg->dlg, msg))
			return leg;
	}

	return NULL;
}


static bool callid_is_ours(struct sipsrv *srv, const struct sip_msg *msg)
{
	struct le *le;

	for (le = list_head(hash_list(srv->legs,
				      hash_joaat_pl(&msg->callid)));
	     le; le = le->next) {
		struct leg *leg = le->data;

		if (!leg->is_a && leg->dlg &&
		    !pl_strcmp(&msg->callid, sip_dialog_callid(leg->dlg)))
			return true;
	}

	return false;
}


static struct oa *leg_oa(struct leg *leg)
{
	return leg->is_a ? &leg->call->oa_a : &((struct bleg *)(void *)leg)->oa;
}


/*
 * A re-INVITE or UPDATE from either side.  Glare with an offer of ours
 * gets 491, an offer while we owe an answer 500 with Retry-After (RFC
 * 3261 14.2, RFC 3311 5.2).  Session changes are not relayed between the
 * legs: an offer gets 488, an UPDATE without one (a target refresh) 200.
 */
static void indialog_offer(struct sipsrv *srv, struct leg *leg,
			   const struct sip_msg *msg)
{
	struct oa *oa = leg_oa(leg);
	struct body_view bv;
	int err;

	memset(&bv, 0, sizeof(bv));
	if (body_parse(&bv, msg)) {
		(void)sip_treply(NULL, srv->sip, msg, 400, "Malformed Body");
		return;
	}

	if (!pl_isset(&bv.session) && !pl_strcmp(&msg->met, "UPDATE")) {
		(void)sip_treply(NULL, srv->sip, msg, 200, "OK");
		return;
	}

	err = pl_isset(&bv.session) ? oa_remote_offer(oa) : 0;
	if (err) {
		uint16_t sc = oa_refusal_scode(err);

		evlog_event(leg->call->cr, "offer-refused", "\"by\":\"%s\","
			    "\"method\":\"%r\",\"code\":%u,\"state\":\"%s\"",
			    who(leg), &msg->met, sc, oa_state_name(oa->st));
		(void)sip_treplyf(NULL, NULL, srv->sip, msg, false, sc,
				  sc == 491 ? "Request Pending" :
				  "Server Internal Error",
				  "%s"
				  "Content-Length: 0\r\n\r\n",
				  sc == 500 ? "Retry-After: 1\r\n" : "");
		return;
	}

	/* Not relayed: the offer is declined and the session stands. */
	if (pl_isset(&bv.session))
		oa_reject(oa);
	(void)sip_treplyf(NULL, NULL, srv->sip, msg, false, 488,
			  "Not Acceptable Here",
			  "Warning: 399 cmrlab \"session changes are not "
			  "relayed\"\r\n"
			  "Content-Length: 0\r\n\r\n");
}


static void indialog(struct sipsrv *srv, struct leg *leg,
		     const struct sip_msg *msg)
{
	struct call *call = leg->call;

	if (!pl_strcmp(&msg->met, "ACK")) {
		if (leg->is_a && !call->confirmed && call->final_sent < 300) {
			call->confirmed = true;
			rtx_stop(&call->ok);
			if (call->oa_a.st == OA_LOCAL_OFFER && body_len(msg))
				(void)oa_remote_answer(&call->oa_a);
			if (call->winner && call->winner->ack_pending)
				bleg_ack(call, call->winner, msg);
			evlog_call_state(call->cr, "confirmed");
			evlog_event(call->cr, "confirmed", NULL);
			if (call->gw_reinvite_due) {
				call->gw_reinvite_due = false;
				gw_offer_send(call);
			}
		}
		return;
	}

	if (!pl_strcmp(&msg->met, "BYE")) {
		char why[32];

		/* Stateful, so that a retransmitted BYE gets the same 200
		 * after the call is gone. */
		(void)sip_treply(NULL, srv->sip, msg, 200, "OK");
		if (leg->is_a) {
			call->a_gone = true;
			if (!call->final_sent)
				a_final(call, 487, "Request Terminated");
		}
		else {
			((struct bleg *)(void *)leg)->gone = true;
		}
		evlog_event(call->cr, "bye", "\"by\":\"%s\"", who(leg));
		re_snprintf(why, sizeof(why), "%s hung up", who(leg));
		call_end(call, 0, why);
		return;
	}

	if (!pl_strcmp(&msg->met, "INVITE") ||
	    !pl_strcmp(&msg->met, "UPDATE")) {
		indialog_offer(srv, leg, msg);
		return;
	}

	if (!pl_strcmp(&msg->met, "PRACK")) {
		if (leg->is_a)
			a_prack(call, msg);
		else
			(void)sip_treply(NULL, srv->sip, msg, 481,
					 "Call/Transaction Does Not Exist");
		return;
	}

	(void)sip_replyf(srv->sip, msg, 501, "Not Implemented",
			 "Allow: " ALLOW "\r\n"
			 "Content-Length: 0\r\n\r\n");
}


static int user_print(struct re_printf *pf, const struct sip_taddr *ta)
{
	return re_hprintf(pf, "%r@%r", &ta->uri.user, &ta->uri.host);
}


static void reject(struct sipsrv *srv, const struct sip_msg *msg,
		   struct callrec *cr, uint16_t scode, const char *reason,
		   const char *why)
{
	(void)sip_treply(NULL, srv->sip, msg, scode, reason);
	evlog_event(cr, "routed", "\"result\":%u,\"why\":%H", scode,
		    jsonw_str, why);
	evlog_event(cr, "rejected", "\"code\":%u,\"reason\":%H", scode,
		    jsonw_str, reason);
	evlog_call_end(cr, why);
}


static void cmr_choose(struct call *call, const struct subscriber *callee,
		       const char *caller)
{
	const char *id = evlog_call_id(call->cr);

	struct streamer *st = call->srv->conf.streamer;
	int err;

	policy_choose_bt(&call->bt, callee, caller, call->msg, st != NULL);
	policy_choose_rt(&call->rt, callee, caller, st != NULL);

	/* Gateway mode answers the caller's offer: without a codec we can
	 * stream there is no gateway mode, and never a broken SDP. */
	if (call->bt.mode == MODE_GATEWAY) {
		err = modegw_alloc(&call->bt_gw, st, &call->a_sdp);
		if (err) {
			call->bt.mode = MODE_HTTP;
			call->bt.why = err == ENOENT ? "P-Early-Media: "
				"supported, but the offer has no PCMU or PCMA "
				"to stream to: http" : "gateway mode "
				"unavailable (no RTP port): http";
		}
		call->gw_use_update = sip_msg_hdr_has_value(call->msg,
							    SIP_HDR_ALLOW,
							    "UPDATE");
	}

	/* The streams' ports are bound now so that the offers can name
	 * them; nothing is sent before an answer. */
	if (call->bt.mode == MODE_AS) {
		err = modeas_alloc(&call->bt_as, st, DIR_BT);
		if (err) {
			call->bt.mode = MODE_HTTP;
			call->bt.why = "no RTP port free: http";
		}
	}
	if (call->rt.as_possible) {
		err = modeas_alloc(&call->rt_as, st, DIR_RT);
		if (err) {
			call->rt.as_possible = false;
			if (call->rt.mode == MODE_AS)
				call->rt.mode = MODE_OFF;
		}
	}

	/* RFC 3262: a caller that requires 100rel gets reliable
	 * provisionals; application server mode needs them (1.1.1.7). */
	call->a_100rel = call->bt.mode == MODE_AS ||
		call->bt.mode == MODE_GATEWAY ||
		sip_msg_hdr_has_value(call->msg, SIP_HDR_REQUIRE, "100rel");
	if (call->a_100rel)
		call->a_rseq = 1 + rand_u32() % 0x7ffffff0;

	if (call->bt.mode == MODE_HTTP &&
	    modehttp_url(call->url_bt, sizeof(call->url_bt),
			 call->srv->conf.http_base, call->bt.resid, id))
		call->bt.mode = MODE_OFF;
	if (call->rt.mode == MODE_HTTP &&
	    modehttp_url(call->url_rt, sizeof(call->url_rt),
			 call->srv->conf.http_base, call->rt.resid, id))
		call->rt.mode = MODE_OFF;

	evlog_call_modes(call->cr, cmr_mode_name(call->bt.mode),
			 cmr_mode_name(call->rt.mode));
	evlog_event(call->cr, "mode", "\"dir\":\"bt\",\"mode\":\"%s\","
		    "\"why\":%H,\"resource\":%H",
		    cmr_mode_name(call->bt.mode), jsonw_str, call->bt.why,
		    jsonw_str, call->bt.resid);
	evlog_event(call->cr, "mode", "\"dir\":\"rt\",\"mode\":\"%s\","
		    "\"why\":%H,\"resource\":%H",
		    cmr_mode_name(call->rt.mode), jsonw_str, call->rt.why,
		    jsonw_str, call->rt.resid);
}


static void invite_new(struct sipsrv *srv, const struct sip_msg *msg)
{
	struct subscriber *callee, *calling;
	struct callrec *cr = NULL;
	struct body_view bv;
	bool stale;
	struct call *call = NULL;
	const char *targets[MAX_TARGETS];
	char *caller = NULL, *callid = NULL, *from = NULL, *to = NULL;
	unsigned i, n = 0, started = 0;
	int err;

	err  = pl_strdup(&callid, &msg->callid);
	err |= re_sdprintf(&from, "%H", user_print, &msg->from);
	err |= re_sdprintf(&to, "%H", user_print, &msg->to);
	err |= pl_strdup(&caller, &msg->from.uri.user);
	if (err)
		goto out;

	err = evlog_call_alloc(&cr, callid, from, to);
	if (err)
		goto out;

	evlog_event(cr, "received", "\"from\":%H,\"to\":%H,\"ruri\":%H,"
		    "\"transport\":\"%s\",\"src\":\"%J\"",
		    jsonw_str, from, jsonw_str, to, jsonw_pl, &msg->ruri,
		    sip_transp_name(msg->tp), &msg->src);

	if (callid_is_ours(srv, msg)) {
		reject(srv, msg, cr, 482, "Loop Detected",
		       "the INVITE came back to us");
		goto out;
	}

	/* A calling subscriber with a password proves it first. */
	calling = table_subscriber_pl(table_live(), &msg->from.uri.user);
	if (calling && subscriber_password(calling) &&
	    sipauth_check(msg, subscriber_id(calling),
			  subscriber_password(calling), true, &stale)) {
		sipauth_challenge(srv, msg, true, stale);
		evlog_event(cr, "rejected", "\"code\":407,"
			    "\"reason\":\"authentication required\"");
		evlog_call_end(cr, "caller not authenticated");
		goto out;
	}

	/* Only the session SDP travels on; a body we cannot read is the
	 * caller's error (RFC 3261 21.4.13, 21.4.19). */
	err = body_parse(&bv, msg);
	if (err == ENOTSUP) {
		(void)sip_treplyf(NULL, NULL, srv->sip, msg, false, 415,
				  "Unsupported Media Type",
				  "Accept: " BODY_ACCEPT "\r\n"
				  "Content-Length: 0\r\n\r\n");
		evlog_event(cr, "rejected", "\"code\":415,"
			    "\"reason\":\"unsupported body\"");
		evlog_call_end(cr, "unsupported body");
		err = 0;
		goto out;
	}
	if (err) {
		reject(srv, msg, cr, 400, "Malformed Body",
		       "malformed message body");
		err = 0;
		goto out;
	}

	callee = table_subscriber_pl(table_live(), &msg->uri.user);
	if (!callee) {
		reject(srv, msg, cr, 404, "Not Found", "unknown user");
		goto out;
	}

	if (list_count(&srv->calls) >= srv->conf.max_calls) {
		(void)sip_treplyf(NULL, NULL, srv->sip, msg, false, 503,
				  "Service Unavailable",
				  "Retry-After: 5\r\n"
				  "Content-Length: 0\r\n\r\n");
		evlog_event(cr, "rejected", "\"code\":503,"
			    "\"reason\":\"call limit\"");
		evlog_call_end(cr, "call limit reached");
		goto out;
	}

	for (i = 0; i < subscriber_binding_count(callee) &&
		     n < MAX_TARGETS; i++)
		targets[n++] = subscriber_binding(callee, i)->uri;
	for (i = 0; i < subscriber_contact_count(callee) &&
		     n < MAX_TARGETS; i++)
		targets[n++] = subscriber_contact(callee, i);

	if (!n) {
		reject(srv, msg, cr, 480, "Temporarily Unavailable",
		       "no registered or static contact");
		goto out;
	}

	call = mem_zalloc(sizeof(*call), call_destructor);
	if (!call) {
		err = ENOMEM;
		goto out;
	}

	call->srv = srv;
	call->cr = mem_ref(cr);
	call->msg = mem_ref((void *)msg);
	call->a.call = call;
	call->a.is_a = true;
	call->a_sdp = bv.session;
	if (pl_isset(&call->a_sdp))
		(void)oa_remote_offer(&call->oa_a);
	/* Responses to A go where RFC 3261 18.2.2 says, resent or not. */
	sip_reply_addr(&call->ok_dst, msg, true);
	call->ok.call = call;
	call->ok.udp_only = true;
	call->ok.expireh = ok_expired;
	call->rel.call = call;
	call->rel.expireh = rel_expired;
	tmr_init(&call->ok.tmr);
	tmr_init(&call->rel.tmr);
	tmr_init(&call->tmr_gw);
	safe_user(call->cuser_a, sizeof(call->cuser_a), &msg->uri.user,
		  "cmrlab");
	safe_user(call->cuser_b, sizeof(call->cuser_b), &msg->from.uri.user,
		  "cmrlab");
	list_append(&srv->calls, &call->le, call);

	err = sip_strans_alloc(&call->st, srv->sip, msg, cancel_handler,
			       call);
	if (err)
		goto fail;

	(void)sip_treply(&call->st, srv->sip, msg, 100, "Trying");

	err = sip_dialog_accept(&call->a.dlg, msg);
	if (err)
		goto fail;

	hash_append(srv->legs, hash_joaat_pl(&msg->callid), &call->a.he,
		    &call->a);

	cmr_choose(call, callee, caller);

	evlog_call_state(call->cr, "routing");
	evlog_event(cr, "routed", "\"result\":\"targets\",\"targets\":%u",
		    n);

	for (i = 0; i < n; i++) {
		if (!bleg_start(call, targets[i]))
			++started;
	}

	if (!started) {
		call_end(call, 480, "no target could be reached");
		call = NULL;
	}

	goto out;

 fail:
	LOGW(SUB_SIP, "INVITE from %J: %m", &msg->src, err);
	call_end(call, 500, "internal error");

 out:
	mem_deref(cr);
	mem_deref(callid);
	mem_deref(from);
	mem_deref(to);
	mem_deref(caller);
}


bool b2bua_request(struct sipsrv *srv, const struct sip_msg *msg)
{
	struct leg *leg;

	if (pl_isset(&msg->to.tag)) {
		leg = leg_find(srv, msg);
		if (!leg)
			return false;

		indialog(srv, leg, msg);
		return true;
	}

	if (!pl_strcmp(&msg->met, "INVITE")) {
		invite_new(srv, msg);
		return true;
	}

	return false;
}


/*
 * A 2xx to our INVITE that arrives after the client transaction ended is a
 * retransmission (our ACK was lost): ACK it again (RFC 3261 13.2.2.4).
 */
bool b2bua_response(struct sipsrv *srv, const struct sip_msg *msg)
{
	struct leg *leg;

	if (msg->scode < 200 || msg->scode >= 300 ||
	    pl_strcmp(&msg->cseq.met, "INVITE"))
		return false;

	leg = leg_find(srv, msg);
	if (!leg)
		return false;

	/* Still waiting for the caller's ACK with the answer: the callee
	 * keeps retransmitting, which is right. */
	if (!leg->is_a && ((struct bleg *)(void *)leg)->ack_pending)
		return true;

	/* Our INVITE or re-INVITE on either leg: ACK its CSeq again. */
	(void)sip_drequestf(NULL, srv->sip, false, "ACK", leg->dlg,
			    msg->cseq.num, NULL, NULL, NULL, NULL,
			    "Content-Length: 0\r\n\r\n");

	return true;
}


void b2bua_shutdown(struct sipsrv *srv)
{
	struct le *le = list_head(&srv->calls);

	while (le) {
		struct call *call = le->data;

		le = le->next;
		evlog_event(call->cr, "shutdown", NULL);
		call_end(call, 503, "server shutting down");
	}
}


bool b2bua_idle(const struct sipsrv *srv)
{
	return list_isempty(&srv->calls);
}
