/**
 * @file conform_int.h  Inside the conformance judge: the evidence being
 *                      written, what a message and its SDP say, and the
 *                      checks, shared by conform_chk.c (the signalling
 *                      checks and the judge), conform_msg.c (reading a
 *                      message, writing evidence), conform_sdp.c (SDP
 *                      and its checks) and conform_media.c (the media
 *                      and download checks)
 */
#ifndef CMRLAB_SIP_CONFORM_INT_H
#define CMRLAB_SIP_CONFORM_INT_H

#include <re.h>
#include "sip/conform.h"

/* A selector may pick every message of the trace: a device that sends
 * many of one kind must not hide the last ones from a check. */
enum { SEL_MAX = CF_MSGS_MAX, SDP_M_MAX = 8, SDP_PT_MAX = 16,
       TONE_STOP_SLACK_MS = 100, TONE_EARLY_SLACK_MS = 20 };

/* The evidence being written. */
struct cf_ev {
	char *p;
	size_t sz, n;
};

struct cf_hvals {
	struct pl v[16];
	size_t n;
};

/* An SDP as the checks read it. */
struct cf_sdpv {
	struct pl o_user, o_id, o_ver, o_net;  /* o= fields */
	struct pl after_o;                     /* the text after the o= line */
	struct pl c_sess;                      /* session c= address */
	unsigned nm;
	struct {
		struct pl media;
		uint32_t port;
		struct pl c;                   /* its own c= address */
		unsigned npt;
		uint16_t pt[SDP_PT_MAX];
	} m[SDP_M_MAX];
};

/* What a check works on. */
struct cf_ctx {
	const struct cf_run *run;
	const struct cf_test *t;
	struct cf_ev *e;
};

/* conform_msg.c */
void cf_ev_add(struct cf_ev *e, const char *fmt, ...);
void cf_ev_msg(struct cf_ev *e, const struct cf_run *run, size_t i);
void cf_ev_hdr(struct cf_ev *e, const struct sip_msg *m, const char *name);
void cf_arg_split(const char *arg, char *name, size_t sz,
		  struct pl *list);
bool cf_has_value(const struct sip_msg *m, const char *name,
		  const struct pl *tok);
bool cf_has_tokens(const struct sip_msg *m, const char *name,
		   const struct pl *list, struct cf_ev *e);
bool cf_url_of(const struct sip_msg *m, struct pl *url);
bool cf_rseq_of(const struct sip_msg *m, uint32_t *v);
bool cf_rack_of(const struct sip_msg *m, uint32_t *rseq, uint32_t *cseq,
		struct pl *met);
bool cf_none_of(struct cf_ctx *x, const char *sel);
enum cf_party cf_party_arg(const char *a);
bool cf_invite_t(const struct cf_run *run, enum cf_party p,
		 uint32_t *t);
const struct cmrc_result *cf_res_of(struct cf_ctx *x, enum cf_party *pp);

/* conform_sdp.c */
int cf_sdp_read(struct cf_sdpv *s, const struct pl *sdp);
struct pl cf_m_conn(const struct cf_sdpv *s, unsigned k);
struct pl cf_msg_sdp(const struct sip_msg *m, bool early);
bool cf_first_with_sdp(const struct cf_run *run, const char *sel,
		       bool early, size_t *ip, struct pl *sdp);
void cf_ev_sdp_lines(struct cf_ev *e, const struct pl *sdp, const char *pfx);
const char *cf_answers(const struct cf_sdpv *ans, const struct cf_sdpv *off);
bool cf_chk_es_offer(struct cf_ctx *x);
bool cf_chk_answer(struct cf_ctx *x, bool early);
bool cf_chk_no_sdp(struct cf_ctx *x);
bool cf_chk_oversion(struct cf_ctx *x);
bool cf_chk_same_media(struct cf_ctx *x);
bool cf_chk_same_sdp(struct cf_ctx *x);

/* conform_media.c */
bool cf_chk_tone(struct cf_ctx *x);
bool cf_chk_tone_stop(struct cf_ctx *x);
bool cf_chk_far_media(struct cf_ctx *x);
bool cf_chk_download(struct cf_ctx *x);
bool cf_chk_dut_get(struct cf_ctx *x);

#endif
