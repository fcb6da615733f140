/**
 * @file sip_int.h  Shared inside sip/ only
 */
#ifndef CMRLAB_SIP_INT_H
#define CMRLAB_SIP_INT_H

#include "core/core.h"
#include "sip/sip.h"
#include "rtp/rtp.h"

struct call;


/* registrar.c */
enum { REG_EXPIRES_DEFAULT = 3600, REG_EXPIRES_MAX = 3600,
       REG_EXPIRES_MIN = 60 };

struct reg_result {
	uint16_t scode;
	const char *reason;
	char extra[128];           /* extra header lines, e.g. Min-Expires */
};

int  registrar_apply(struct table *t, const struct sip_msg *msg,
		     uint64_t now, struct reg_result *res);
struct reg_view {
	const struct subscriber *s;
	uint64_t now;
};

int  registrar_contacts_print(struct re_printf *pf,
			      const struct reg_view *v);
void registrar_handle(struct sipsrv *srv, const struct sip_msg *msg);

/* policy.c: which delivery mode applies, per direction, and why */
struct cmr_choice {
	enum cmr_mode mode;        /* MODE_HTTP, MODE_AS, MODE_GATEWAY,
				    * MODE_EARLY or MODE_OFF */
	const char *why;
	const char *resid;         /* resource id, or NULL */
	bool as_possible;          /* CMRT: as, if the callee's 18x allows */
};

/* rtp: the streamer is there and may be used. */
void policy_choose_bt(struct cmr_choice *c, const struct subscriber *callee,
		      const char *caller, const struct sip_msg *invite,
		      bool rtp);
void policy_choose_rt(struct cmr_choice *c, const struct subscriber *callee,
		      const char *caller, bool rtp);

/* mode_as.c: application server mode, clauses 1.1.1.5 to 1.1.1.8 */
struct asmedia;
struct streamer;
struct media;

int  modeas_alloc(struct asmedia **ap, struct streamer *st,
		  enum cmr_dir dir);
/* The address the early-session SDP names (c= and o=), with the stream's
 * port: call before modeas_offer() with sipsrv_advertised() of the
 * address that faces the peer.  Without it the SDP names the stream's
 * own address (stream_laddr()). */
void modeas_sdp_addr(struct asmedia *a, const struct sa *ip);
int  modeas_offer(struct asmedia *a, struct mbuf **mbp);
bool modeas_offered(const struct asmedia *a);
int  modeas_answer(struct asmedia *a, const struct pl *sdp, struct media *m,
		   struct callrec *cr);
void modeas_stop(struct asmedia *a, struct callrec *cr, const char *why);
void cmrstream_stop(struct stream *s, struct callrec *cr, const char *dir,
		    const char *why);
bool modeas_caller_supports(const struct sip_msg *invite);
bool modeas_callee_supports(const struct sip_msg *rsp);

/* mode_http.c: HTTP mode, clauses 1.1.1.3 and 1.1.1.4 */
/* callid NULL: "BASE/r/ID"; else the signed "BASE/r/ID?call=CALLID&exp=
 * EXP&sig=HEX" (urlsign.h), valid until exp (UNIX seconds). */
int  modehttp_url(char *buf, size_t sz, const char *http_base,
		  const char *resid, const char *callid, uint64_t exp);
int  modehttp_alertinfo_print(struct re_printf *pf, const char *url);

/* auth.c: digest authentication of subscribers with a password.
 * sipauth_check() answers 0 (proven), EAUTH (challenge again, with
 * *stale) or EBADMSG (the digest uri is not the Request-URI: 400);
 * sipauth_reply() sends that answer.  max 0: the default table size;
 * algs: as serve --digest, NULL: SHA-256,MD5. */
struct sipauth;

int  sipauth_alloc(struct sipauth **ap, size_t max, const char *algs);
int  sipauth_check(struct sipauth *a, const struct sip_msg *msg,
		   const char *user, const char *password, bool proxy,
		   bool *stale);
void sipauth_reply(struct sipsrv *srv, const struct sip_msg *msg,
		   bool proxy, int err, bool stale);
int  sipauth_nonce(struct sipauth *a, char *buf, size_t sz, uint32_t t);
size_t sipauth_count(const struct sipauth *a);

/* gwsdp.c: gateway mode's media (its procedure: mode_gw.c) */
struct gwmedia;

int  modegw_alloc(struct gwmedia **gp, struct streamer *st,
		  const struct pl *offer);
/* As modeas_sdp_addr(), before modegw_answer(): the answer's o= is kept
 * for the re-offers. */
void modegw_sdp_addr(struct gwmedia *g, const struct sa *ip);
int  modegw_answer(struct gwmedia *g, struct mbuf **mbp);
int  modegw_reoffer(struct gwmedia *g, const struct pl *callee_sdp,
		    struct mbuf **mbp);
/* The next re-offer's version follows last, the SDP the caller got last,
 * when that has our origin. */
void modegw_version_from(struct gwmedia *g, const struct pl *last);
int  modegw_start(struct gwmedia *g, struct media *m, struct callrec *cr);
void modegw_stop(struct gwmedia *g, struct callrec *cr, const char *why);
bool modegw_caller_supports(const struct sip_msg *invite);
int  modegw_peek(const struct pl *sdp, struct sa *addr, int *pt);

/* oa.c: the offer/answer state of one leg */
enum oa_state { OA_IDLE = 0, OA_LOCAL_OFFER, OA_REMOTE_OFFER };

struct oa {
	enum oa_state st;
	unsigned done;             /* completed offer/answer exchanges */
};

const char *oa_state_name(enum oa_state st);
int  oa_local_offer(struct oa *o);
int  oa_remote_offer(struct oa *o);
int  oa_local_answer(struct oa *o);
int  oa_remote_answer(struct oa *o);
void oa_reject(struct oa *o);
uint16_t oa_refusal_scode(int err);

#include "sip/leg.h"

struct sipsrv {
	struct sipsrv_conf conf;
	struct sip *sip;
	struct sipcap *cap;        /* serve --pcap only */
	struct dnsc *dnsc;
	struct sip_lsnr *lsnr_req;
	struct sip_lsnr *lsnr_rsp;
	struct sa primary;         /* first transport: requests leave here */
	struct legset ls;          /* every dialog, by Call-ID */
	struct list calls;         /* struct call */
	unsigned ncalls;           /* list_count(&calls), kept */
	struct tmr tmr_expire;
	struct tmr tmr_shutdown;
	sipsrv_done_h *doneh;
	void *done_arg;
	uint64_t deadline;         /* shutdown gives up waiting then */
	bool shutting_down;
	struct rawin *rawin;       /* looks at datagrams before libre */
	struct sipauth *auth;      /* digest nonces issued */
};

/* overload.c: load shedding.  overload_shed() answers a new INVITE 503
 * (stateless, Retry-After) and returns true when the server is behind. */
bool overload_shed(struct sipsrv *srv, const struct sip_msg *msg);

/* rel100.c: RFC 3262 rules as pure functions */
enum rel100_rseq { RSEQ_NEW, RSEQ_RETRANSMISSION, RSEQ_OUT_OF_ORDER };

uint32_t rel100_interval(uint32_t txc);
uint32_t rel100_next(uint64_t start, uint64_t now, uint32_t txc);
bool rel100_expired(uint64_t start, uint64_t now);
int  rel100_rack_parse(const struct pl *val, uint32_t *rseq, uint32_t *cseq,
		       struct pl *met);
bool rel100_rack_matches(const struct sip_msg *prack, uint32_t rseq,
			 uint32_t cseq);
enum rel100_rseq rel100_rseq_check(bool first, uint32_t last, uint32_t rseq);

/* sipcap.c: the addresses serve --pcap records for each SIP message.
 * Given the trace handler's src and dst, sets dst of a response sent on
 * TCP or TLS to the peer of the connection its request came in on (libre
 * passes the Via address); now is loop_now_ms(). */
struct sipcap;

enum {
	SIPCAP_MAX = 4096,              /* transactions remembered */
	SIPCAP_OPEN_MS = 3600 * 1000,   /* kept that long for a final ... */
	SIPCAP_DONE_MS = 64 * 500,      /* ... and 64*T1 after it */
};

int  sipcap_alloc(struct sipcap **scp);
void sipcap_addrs(struct sipcap *sc, bool tx, enum sip_transp tp,
		  struct sa *src, struct sa *dst, const uint8_t *pkt,
		  size_t len, uint64_t now);
uint32_t sipcap_count(const struct sipcap *sc);

/* server.c helpers */
/* The address that names us toward a peer (Contact, SDP c= and o=, URLs):
 * the advertised address when one is configured, else local, the address
 * the peer's message arrived on or ours leaves from; the port is local's.
 * For a request we received, local is &msg->dst; in a send handler of
 * sip_request/sip_drequestf it is the src libre passes. */
void sipsrv_advertised(const struct sipsrv *srv, const struct sa *local,
		       struct sa *out);
/* "http://HOST:PORT" for the resource URLs of one call: HOST is the
 * advertised address, else the HTTP listener's own, else (a listener on
 * 0.0.0.0 or ::) local's address, local as for sipsrv_advertised(); NULL
 * local gives the start-up default (conf.http_base).  ENAMETOOLONG when
 * buf is too small. */
int  sipsrv_http_base(const struct sipsrv *srv, const struct sa *local,
		      char *buf, size_t sz);
/* For a send handler (sip_send_h) of every request the server sends:
 * with --advertise, rewrites the sent-by of the Via that libre has just
 * printed into mb (the only seam libre 1.1.0 leaves: its Via names the
 * transport's bound address), and sets *contact (if not NULL) to the
 * address the request's Contact must name.  Without --advertise mb is
 * left alone and *contact is src. */
int  sipsrv_request_prep(const struct sipsrv *srv, const struct sa *src,
			 struct mbuf *mb, struct sa *contact);

/* listen.c: the SIP transports, on one address or on every local one */
enum { SIPSRV_LISTEN_MAX = 32 };

int  sipsrv_listen(struct sipsrv *srv);
unsigned sipsrv_listen_order(struct sa *out, unsigned max,
			     const struct sa *cand, unsigned ncand, int af,
			     const struct sa *adv, const struct sa *primary);
bool sipsrv_digits(const struct pl *pl, size_t maxlen);

/* validate.c: is a decoded request well formed enough to be handled (RFC
 * 3261, RFC 4475)?  0, or the status code to answer (400, 416, 501) and
 * why; for 400 the why is the reason phrase. */
uint16_t sipval_request(const struct sip_msg *msg, const char **why);
bool sipval_method_known(const struct pl *met);
/* An INVITE whose Accept allows application/sdp (or has no Accept). */
bool sipval_accepts_sdp(const struct sip_msg *msg);
/* A Contact value whose URI libre decodes with the scheme past its first
 * byte (":sip:bob@h"): never a dialog's remote target (validate.c). */
bool sipval_contact_misparsed(const struct pl *val);
bool sipval_u32(const struct pl *pl, uint32_t *v);
bool sipval_tokenc(char c);
void sipval_trim(struct pl *pl);
const char *sipval_reason(uint16_t scode);

/* rawmsg.c and rawin.c: the UDP datagrams libre's decoder would drop
 * (RFC 4475) */
enum rawin_verdict {
	RAWIN_PASS = 0,            /* libre decodes it: nothing to do */
	RAWIN_REWRITTEN,           /* RFC 2543 request: a branch was added */
	RAWIN_ANSWER,              /* answer scode statelessly, drop it */
	RAWIN_DROP,                /* not a request we can answer */
};

struct rawin;

enum rawin_verdict rawin_check(struct mbuf *mb, uint16_t *scode,
			       const char **why);
int  rawin_answer(struct mbuf **mbp, const struct mbuf *req, uint16_t scode,
		  const char *reason, uint64_t tag);
void rawin_reply_addr(const struct mbuf *req, const struct sa *src,
		      struct sa *dst);
int  rawin_alloc(struct rawin **rp, const struct sa *laddr);
bool rawin_adopt(struct rawin *r, const struct sip_msg *msg);
bool rawin_is_probe(const struct rawin *r, const uint8_t *pkt, size_t len);

/* body.c: session and early-session SDP in message bodies (RFC 3959
 * early-session, RFC 2046 multipart/mixed, RFC 5621) */
enum { BODY_MAX_PARTS = 8, BODY_BOUNDARY_SZ = 40 };

/* What a 415 answer to body_parse()'s ENOTSUP lists in Accept. */
#define BODY_ACCEPT "application/sdp, multipart/mixed"

/* Both SDPs of a received body, pointing into it; an absent one is
 * empty (p NULL, l 0). */
struct body_view {
	struct pl session;         /* disposition session (or none) */
	struct pl early;           /* disposition early-session */
	bool multipart;            /* the body was multipart/mixed */
};

/* The SDPs of a body to send (either may be NULL or empty) and the
 * multipart boundary that body_out_init() chose for them. */
struct body_out {
	const struct pl *session;
	const struct pl *early;
	char boundary[BODY_BOUNDARY_SZ];
};

/* 0 (empty view without a body), EBADMSG (malformed), ENOTSUP (a body we
 * do not handle: answer 415 with Accept: BODY_ACCEPT). */
int  body_parse(struct body_view *bv, const struct sip_msg *msg);
bool body_occurs(const struct pl *pl, const char *s);
bool body_is_token(char c);
bool body_boundary_valid(const char *p, size_t l);
int  body_parse_raw(struct body_view *bv, const struct pl *ctype,
		    const struct pl *disp, const struct pl *body);
/* libre's sdp_decode() of a received SDP (a view of body_parse()), with
 * the final line end added when its last line has none. */
int  body_sdp_decode(struct sdp_session *sess, const struct pl *sdp,
		     bool offer);
int  body_out_init(struct body_out *bo, const struct pl *session,
		   const struct pl *early);
/* Content-Type, Content-Disposition, Content-Length, the blank line and
 * the body, for a %H that ends the format of sip_treplyf/sip_drequestf
 * (it ends the headers).  Both SDPs need body_out_init()'s boundary.
 * Each SDP is printed with a final line end, added when it has none. */
int  body_print(struct re_printf *pf, const struct body_out *bo);
/* The same for a session SDP alone, or no body when sdp is NULL/empty. */
int  body_print_sdp(struct re_printf *pf, const struct pl *sdp);
struct mbuf *body_sdp_copy(const struct pl *sdp);


/* ---- call.c: the B2BUA's call, an A-leg (UAS) and B-legs (UAC) -------- */

struct call;
struct gwcall;
struct asmedia;

/* What goes into a provisional response to the caller; the CMRBT mode's
 * prov_in hook shapes it.  mb holds what sdp or early point into. */
struct prov_out {
	struct pl sdp;             /* session SDP (default: the callee's) */
	struct pl early;           /* early-session SDP */
	bool reliable;
	const char *alert_url;     /* Alert-Info */
	bool pem_sendrecv;         /* our own P-Early-Media authorisation */
	struct mbuf *mb;
};

/*
 * The procedure of one delivery mode, as hooks the call invokes; any may
 * be NULL.  One table per mode and direction, in mode_http.c, mode_as.c
 * and mode_gw.c, each naming the clause it implements.
 */
struct mode_ops {
	const char *name;
	/* Prepare the call's media once the mode is chosen; an error makes
	 * the call fall back (*why says to what). */
	int  (*start)(struct call *call);
	/* Header lines for the INVITE to each callee contact. */
	int  (*invite_out)(struct re_printf *pf, struct call *call);
	/* A provisional response of the callee, before it goes on to the
	 * caller, and after. */
	void (*prov_in)(struct call *call, const struct sip_msg *msg,
			struct prov_out *po);
	void (*prov_sent)(struct call *call, const struct sip_msg *msg,
			  const struct prov_out *po);
	/* The caller's PRACK. */
	void (*prack_in)(struct call *call, const struct sip_msg *prack);
	/* A reliable provisional response of a callee fork: what its PRACK
	 * carries; and the response to that PRACK. */
	void (*callee_prov)(struct call *call, struct leg *fork,
			    const struct sip_msg *msg, struct prack_out *pk);
	void (*callee_prack)(struct call *call, struct leg *fork,
			     const struct sip_msg *msg);
	/* The callee answered; true when the mode sends the caller's 2xx
	 * itself.  sdp is the callee's session SDP (empty for none). */
	bool (*answer_in)(struct call *call, struct leg *fork,
			  const struct sip_msg *msg, const struct pl *sdp);
	/* The caller's ACK of our 2xx. */
	void (*ack_in)(struct call *call, const struct sip_msg *ack);
	/* An SDP of the callee's on its way to the caller after the
	 * answer (a relayed offer or answer): the mode may rewrite it. */
	int  (*sdp_to_caller)(struct call *call, const struct pl *sdp,
			      struct mbuf **mbp);
	/* The stream stops (final response, answer, end of the call). */
	void (*stop)(struct call *call, const char *why);
};

extern const struct mode_ops modehttp_bt, modehttp_rt, modeas_bt,
	modeas_rt, modegw_bt, modeem_bt;

/* gwmodel.c: RFC 3960's gateway model, shared by gateway mode (mode_gw.c)
 * and early media (mode_em.c).  gwmodel_start() prepares our answer to
 * the caller's offer (reliable: it goes in a reliable 18x), or falls back
 * to HTTP mode with why_nocodec when the offer has no codec to stream;
 * gwmodel_answer() gives that answer, the same bytes every time;
 * gwmodel_sent() says it went (once) and starts the stream. */
int  gwmodel_start(struct call *call, bool reliable, const char *why_nocodec);
bool gwmodel_answered(const struct call *call);
bool gwmodel_reliable(const struct call *call);
int  gwmodel_answer(struct call *call, struct pl *sdp);
int  gwmodel_sent(struct call *call);
bool gwmodel_answer_in(struct call *call, struct leg *fork,
		       const struct sip_msg *msg, const struct pl *sdp);
void gwmodel_ack_in(struct call *call, const struct sip_msg *ack);
int  gwmodel_sdp_to_caller(struct call *call, const struct pl *sdp,
			   struct mbuf **mbp);
void gwmodel_stop(struct call *call, const char *why);

/* One INVITE of the call to one callee contact. */
struct bleg {
	struct le le;              /* call->blegs */
	struct call *call;
	struct uac *uac;
	uint16_t final;
	bool remote;               /* final is the callee's, not ours */
	char *reason;
	char *contacts;            /* "Contact: ..." lines of a 3xx */
};

struct call {
	struct le le;              /* srv->calls */
	struct sipsrv *srv;
	struct callrec *cr;
	struct uas *a;             /* the caller's INVITE */
	const struct sip_msg *msg; /* ... that INVITE */
	struct list blegs;         /* struct bleg */
	struct bleg *winner;
	struct leg *wleg;          /* the winner's answered fork */
	struct cmr_choice bt, rt;
	const struct mode_ops *bt_ops;
	const struct mode_ops *rt_ops[2];  /* HTTP mode, AS mode */
	char url_bt[256];
	char url_rt[256];
	struct sip_msg *queued_1xx;   /* the callee's 1xx waiting for a PRACK */
	struct sip_msg *held_2xx;     /* the callee's 2xx waiting for one */
	struct leg *held_fork;
	struct leg *late_fork;        /* its reliable 1xx's offer awaits the
				       * caller's answer in the PRACK */
	struct tmr tmr_ring;          /* the longest ring */
	struct tmr tmr_talk;          /* the longest call */
	uint32_t ring_s, talk_s;      /* those limits, 0 for none */
	struct gwcall *gw;            /* gateway mode or early media */
	struct asmedia *as_bt;        /* application server mode, CMRBT */
	struct asmedia *as_rt;        /* ... and CMRT */
	struct leg *rt_leg;           /* the fork the CMRT offer went to */
	struct pl rt_offer;
	bool confirmed;
	bool ended;
};

/* A mode hook of CMRBT, or of both CMRT procedures (HTTP mode's URL in
 * the INVITE and application server mode's offer in the PRACK can both
 * apply until the callee's 18x tells). */
#define HOOK_BT(call, name, ...)					\
	do {								\
		if ((call)->bt_ops && (call)->bt_ops->name)		\
			(call)->bt_ops->name(__VA_ARGS__);		\
	} while (0)

#define HOOK_RT(call, name, ...)					\
	do {								\
		for (int i_ = 0; i_ < 2; i_++) {			\
			const struct mode_ops *o_ = (call)->rt_ops[i_];	\
			if (o_ && o_->name)				\
				o_->name(__VA_ARGS__);			\
		}							\
	} while (0)

/* call.c */
int  call_alloc(struct call **callp, struct sipsrv *srv,
		struct callrec *cr);
extern const struct leg_h call_caller_h, call_callee_h;
struct media *call_media(const struct call *call, enum cmr_dir dir);
void call_streams_stop(struct call *call, const char *why);
char *call_pem_values(const struct sip_msg *msg);
void call_provisional(struct call *call, struct leg *fork,
		      const struct sip_msg *bmsg);
void call_callee_answered(struct call *call, struct leg *fork,
			  const struct sip_msg *bmsg);
void call_ring_over(void *arg);

/* callee.c: the B-legs */
int  callee_start(struct call *call, const char *target, const char *cuser);
void callee_cancel_all(struct call *call);

/* route.c: a new INVITE becomes a call */
void route_invite(struct sipsrv *srv, const struct sip_msg *msg);
void call_end(struct call *call, uint16_t scode, const char *why);
void call_answer(struct call *call, uint16_t scode, const struct pl *sdp);

/* relay.c */
void relay_offerh(struct leg *leg, const struct sip_msg *msg,
		  const struct pl *sdp, void *arg);
void relay_reqh(struct leg *leg, const struct sip_msg *msg,
		struct sip_strans *st, void *arg);
void relay_ackanswerh(struct leg *leg, const struct sip_msg *ack,
		      void *arg);
struct leg *call_callee_leg(const struct call *call);

bool b2bua_request(struct sipsrv *srv, const struct sip_msg *msg);
bool b2bua_response(struct sipsrv *srv, const struct sip_msg *msg);
void b2bua_shutdown(struct sipsrv *srv);
bool b2bua_idle(const struct sipsrv *srv);

#endif
