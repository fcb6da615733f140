/**
 * @file cmrc_int.h  The CMR Client inside sip/: a call and its mode hooks
 */
#ifndef CMRLAB_SIP_CMRC_INT_H
#define CMRLAB_SIP_CMRC_INT_H

#include "sip/sip_int.h"
#include "sip/ua.h"
#include "rtp/rtpep.h"

struct ua {
	struct ua_conf conf;
	struct sip *sip;
	struct dnsc *dnsc;
	struct sip_lsnr *lsnr_req;
	struct sip_lsnr *lsnr_rsp;
	struct legset ls;
	struct sa laddr;           /* the bound UDP address */
	struct list calls;         /* struct cmrc */
	bool answering;
	struct cmrc_conf aconf;    /* how INVITEs are answered */
	cmrc_done_h *adoneh;
	void *aarg;
	/* REGISTER */
	struct sip_request *reg;
	char reg_callid[40];
	uint32_t reg_cseq;
	ua_reg_h *regh;
	void *reg_arg;
	struct media *talk[2];     /* our talk tones, caller's and callee's:
				    * made once, shared by the calls */
	/* shutdown */
	struct tmr tmr_down;
	uint64_t down_deadline;
	void (*downh)(void *arg);
	void *down_arg;
};

/*
 * One mode's client procedure, as hooks the call invokes; any may be
 * NULL.  cmrc_http.c, cmrc_as.c, cmrc_gw.c and cmrc_plain.c each hold
 * one table and name their clause.
 */
struct cmrc_ops {
	const char *name;
	/* Caller: header lines of the INVITE. */
	const char *invite_hdrs;
	/* Caller: a provisional response (pk set when it is reliable: what
	 * the PRACK carries). */
	void (*prov_in)(struct cmrc *c, const struct sip_msg *msg,
			const struct body_view *bv, struct prack_out *pk);
	/* Callee: the INVITE; and whether the ring (180) is reliable with
	 * its header lines. */
	void (*invite_in)(struct cmrc *c, const struct sip_msg *msg,
			  const struct body_view *bv);
	bool ring_reliable;
	const char *ring_hdrs;
	/* Callee: a PRACK's early-session offer; sets *earlyp to the
	 * answer for its 200. */
	void (*prack_in)(struct cmrc *c, const struct pl *early,
			 struct mbuf **earlyp);
	/* The final response (caller) or our answer (callee): the tone
	 * stops; then the verdict on the mode's own part, NULL if it went
	 * as the clause says. */
	const char *(*verdict)(struct cmrc *c);
};

extern const struct cmrc_ops cmrc_http_ops, cmrc_as_ops, cmrc_gw_ops,
	cmrc_plain_ops;

struct cmrc {
	struct le le;              /* ua->calls */
	struct ua *ua;
	struct cmrc_conf conf;
	const struct cmrc_ops *ops;
	cmrc_done_h *doneh;
	void *arg;
	struct uac *uac;           /* caller */
	struct uas *uas;           /* callee */
	struct leg *leg;           /* the answered dialog */
	struct rtpep *ep;          /* session media */
	struct rtpep *ep_early;    /* RFC 3959 early-session media */
	struct media *talk;        /* what we send to the far end */
	struct mbuf *lsdp;         /* our session SDP */
	uint32_t sdp_ver;
	uint64_t t0;               /* loop_now_ms() of the INVITE */
	uint64_t t0_us;            /* the same on the RTP clock */
	struct tmr tmr_ring;
	struct tmr tmr_talk;
	struct tmr tmr_limit;
	struct tmr tmr_done;
	/* HTTP delivery */
	void *dl;
	bool dl_started, dl_done;
	struct media *played;      /* the downloaded WAV, decoded */
	uint64_t play_from, play_to;   /* loop_now_ms() */
	/* RTP delivery */
	uint64_t early_from;       /* the 18x/PRACK that enabled RTP */
	struct sa tone_src;        /* where the 18x's SDP said it comes from */
	bool tone_src_set;
	struct mbuf *early_mb;     /* our early-session answer (PRACK) */
	struct pl early_pl;        /* ... as the PRACK's body */
	uint64_t answer_at;        /* loop_now_ms() of the final/answer */
	bool rel_seen;             /* a reliable 18x came */
	bool sdp_18x;              /* an 18x with SDP came */
	const char *fail;          /* a procedure error seen on the way */
	char fail_buf[128];        /* ... when its words are made up */
	bool answered, ended, finished;
	int16_t *heard;            /* result pcm */
	struct callrec *cr;        /* events, when ua_conf.events */
	struct cmrc_result r;
};

/* cmrc.c, for the mode files and the roles */
extern const struct leg_h cmrc_leg_h;
uint64_t cmrc_now_us(void);
int  cmrc_alloc(struct cmrc **cp, struct ua *ua,
		const struct cmrc_conf *conf);
uint32_t cmrc_sdp_id(const struct cmrc *c);
void cmrc_finish(struct cmrc *c);
void cmrc_answered(struct cmrc *c);
void cmrc_tone_stop(struct cmrc *c);
void cmrc_limit_over(void *arg);
uint32_t cmrc_limit_ms(const struct cmrc_conf *conf);
/* cmrc_result.c: the result, then the owner's done handler */
void cmrc_done(void *arg);
void cmrc_fail(struct cmrc *c, const char *why);
/* The call's event record, made at the first message (its Call-ID). */
struct callrec *cmrc_cr(struct cmrc *c, const struct sip_msg *msg);
void cmrc_download(struct cmrc *c, const char *url);
int  cmrc_early_answer(struct cmrc *c, const struct pl *offer,
		       struct mbuf **mbp);
bool cmrc_alertinfo_url(const struct sip_msg *msg, char *buf, size_t sz);
const char *cmrc_verdict_rtp(struct cmrc *c);
const char *cmrc_verdict_http(struct cmrc *c);
bool cmrc_has_pem_sendrecv(const struct sip_msg *msg);
void cmrc_tone_from(struct cmrc *c, const struct pl *sdp);

/* cmrc_sdp.c: the client's SDP */
int  cmrc_sdp_offer(struct mbuf **mbp, const struct sa *addr, uint32_t id,
		    uint32_t ver);
int  cmrc_sdp_answer(struct mbuf **mbp, const struct pl *offer,
		     const struct sa *addr, uint32_t id, uint32_t ver,
		     int *ptp);

/* ua.c */
void ua_call_unlink(struct cmrc *c);

/* cmrc.c: the callee side's start */
int  cmrc_incoming(struct ua *ua, const struct sip_msg *msg);

#endif
