/**
 * @file cmrc.c  The CMR Client's call: the calling or the called party,
 *               its media, the conversation and the hang-up
 *
 * A call of ours is one INVITE on the leg layer: as the caller a UAC
 * (uac_alloc: PRACKs, ACKs and forks are the layer's), as the callee a
 * UAS that rings (180), waits conf.ring_ms and answers or rejects.  The
 * mode's procedure (cmrc_ops, one file per clause) shapes the INVITE,
 * reads the provisional responses or the PRACK, and judges its part at
 * the end.  This file keeps what every mode shares: our SDP and RTP
 * endpoints, the talk (a tone of our own to the far end's SDP address),
 * the BYE, the timers, and the result with its figures.
 *
 * Which packets are the tone: those of the early-session endpoint (RFC
 * 3959), and on the session endpoint those from the address the 18x's SDP
 * named (the resource server's stream, RFC 3960); everything else is the
 * far end.
 */
#include <string.h>
#include <time.h>
#include <math.h>
#include <re.h>
#include <rem.h>
#include "sip/cmrc_int.h"

enum {
	LIMIT_BASE_MS = 60000,
	BYE_WAIT_MS = 10000,       /* the far end's BYE after its talk */
	TONE_JUDGE_MS = 300,       /* a shorter ring may carry no packet */
	KEEP_DEFAULT_MS = 120000,
	TALK_HZ_CALLER = 400,
	TALK_HZ_CALLEE = 1200,
	TALK_AMP = 8000,
	TALK_SECONDS = 2,          /* of tone, looped */
};


uint64_t cmrc_now_us(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);

	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000;
}


const char *cmrc_mode_name(enum cmrc_mode m)
{
	switch (m) {

	case CMRC_HTTP:    return "http";
	case CMRC_AS:      return "as";
	case CMRC_GATEWAY: return "gateway";
	case CMRC_PLAIN:   return "plain";
	default:           return "?";
	}
}


int cmrc_mode_parse(enum cmrc_mode *mp, const char *s)
{
	static const enum cmrc_mode all[] = { CMRC_HTTP, CMRC_AS,
		CMRC_GATEWAY, CMRC_PLAIN };

	if (!mp || !s)
		return EINVAL;

	for (size_t i = 0; i < ARRAY_SIZE(all); i++) {
		if (!strcmp(s, cmrc_mode_name(all[i]))) {
			*mp = all[i];
			return 0;
		}
	}

	return EINVAL;
}


static const struct cmrc_ops *mode_ops(enum cmrc_mode m)
{
	switch (m) {

	case CMRC_HTTP:    return &cmrc_http_ops;
	case CMRC_AS:      return &cmrc_as_ops;
	case CMRC_GATEWAY: return &cmrc_gw_ops;
	default:           return &cmrc_plain_ops;
	}
}


static void destructor(void *arg)
{
	struct cmrc *c = arg;

	tmr_cancel(&c->tmr_ring);
	tmr_cancel(&c->tmr_talk);
	tmr_cancel(&c->tmr_limit);
	tmr_cancel(&c->tmr_done);
	c->dl = mem_deref(c->dl);
	if (c->uac)
		uac_close(c->uac);
	if (c->uas)
		uas_close(c->uas, 480, "Temporarily Unavailable");
	ua_call_unlink(c);
	mem_deref(c->ep);
	mem_deref(c->ep_early);
	mem_deref(c->talk);
	mem_deref(c->played);
	mem_deref(c->lsdp);
	mem_deref(c->early_mb);
	mem_deref(c->heard);
	if (c->cr) {
		/* Our own call has no B2BUA states: its final tells. */
		evlog_call_outcome(c->cr, c->r.final >= 200 &&
				   c->r.final < 300 ? OUTCOME_ANSWERED :
				   c->r.final >= 300 ? OUTCOME_REJECTED :
				   OUTCOME_FAILED);
		evlog_call_end(c->cr, c->r.reason[0] ? c->r.reason : "freed");
	}
	mem_deref(c->cr);
}


void ua_call_unlink(struct cmrc *c)
{
	if (!c || !c->ua)
		return;

	list_unlink(&c->le);
	c->ua = NULL;
}


struct callrec *cmrc_cr(struct cmrc *c, const struct sip_msg *msg)
{
	char callid[96] = "";

	if (c->cr || !c->ua || !c->ua->conf.events || !msg)
		return c->cr;

	(void)pl_strcpy(&msg->callid, callid, sizeof(callid));
	if (!evlog_call_alloc(&c->cr, callid, c->conf.callee ? "" :
			      c->conf.from, c->conf.to)) {
		evlog_call_modes(c->cr, c->conf.callee ? NULL :
				 cmrc_mode_name(c->conf.mode),
				 c->conf.callee ? cmrc_mode_name(c->conf.mode)
				 : NULL);
		evlog_call_state(c->cr, c->conf.callee ? "client-callee" :
				 "client-caller");
	}

	return c->cr;
}


/* A tone of our own for the conversation, as G.711 frames. */
static int talk_media(struct media **mp, unsigned hz)
{
	const size_t n = TALK_SECONDS * MEDIA_SRATE;
	struct mbuf *mb = mbuf_alloc(44 + 2 * n);
	int16_t *pcm = mem_alloc(n * sizeof(*pcm), NULL);
	int err = ENOMEM;

	if (!mb || !pcm)
		goto out;

	for (size_t i = 0; i < n; i++)
		pcm[i] = (int16_t)(TALK_AMP * sin(2 * M_PI * hz * (double)i /
						  MEDIA_SRATE));

	err = wavw_mbuf(mb, pcm, n, MEDIA_SRATE);
	if (!err)
		err = media_from_wav(mp, mb->buf, mb->end);

 out:
	mem_deref(mb);
	mem_deref(pcm);

	return err;
}


int cmrc_alloc(struct cmrc **cp, struct ua *ua,
		      const struct cmrc_conf *conf)
{
	struct cmrc *c;
	struct sa ip;
	int err;

	c = mem_zalloc(sizeof(*c), destructor);
	if (!c)
		return ENOMEM;

	c->ua = ua;
	c->conf = *conf;
	c->ops = mode_ops(conf->mode);
	c->r.callee = conf->callee;
	c->r.mode = conf->mode;
	c->t0 = loop_now_ms();
	c->t0_us = cmrc_now_us();
	c->sdp_ver = 1;
	tmr_init(&c->tmr_ring);
	tmr_init(&c->tmr_talk);
	tmr_init(&c->tmr_limit);
	tmr_init(&c->tmr_done);
	list_append(&ua->calls, &c->le, c);

	sa_cpy(&ip, &ua->laddr);
	sa_set_port(&ip, 0);
	err = rtpep_alloc(&c->ep, &ip, ua->conf.rtp_lo, ua->conf.rtp_hi);
	if (err)
		goto out;
	rtpep_keep_set(c->ep, conf->keep_ms ? conf->keep_ms :
		       KEEP_DEFAULT_MS);
	rtpep_capture_set(c->ep, ua->conf.cap_rtp_rx, ua->conf.cap_rtp_tx);

	/* Made once per user agent: it is the same for every call. */
	if (!ua->talk[conf->callee])
		err = talk_media(&ua->talk[conf->callee], conf->callee ?
				 TALK_HZ_CALLEE : TALK_HZ_CALLER);
	if (!err)
		c->talk = mem_ref(ua->talk[conf->callee]);

 out:
	if (err)
		mem_deref(c);
	else
		*cp = c;

	return err;
}


uint32_t cmrc_sdp_id(const struct cmrc *c)
{
	return (uint32_t)((uintptr_t)c >> 4) ^ (uint32_t)c->t0;
}


/* ---- what every mode shares --------------------------------------------- */

void cmrc_finish(struct cmrc *c)
{
	if (c->finished)
		return;

	c->finished = true;
	tmr_cancel(&c->tmr_ring);
	tmr_cancel(&c->tmr_talk);
	tmr_cancel(&c->tmr_limit);
	rtpep_send_stop(c->ep);
	rtpep_rx_pause(c->ep, true);
	if (c->ep_early)
		rtpep_rx_pause(c->ep_early, true);

	/* Never from inside a handler of the layer: the owner may free us. */
	tmr_start(&c->tmr_done, 0, cmrc_done, c);
}


void cmrc_fail(struct cmrc *c, const char *why)
{
	if (!c || c->finished)
		return;

	if (!c->fail)
		c->fail = why;

	if (c->uac && !c->answered)
		uac_cancel(c->uac);
	else if (c->uas && !c->answered)
		(void)uas_reject(c->uas, 480, "Temporarily Unavailable",
				 NULL);
	else if (c->leg && !c->ended) {
		leg_bye(c->leg);
		c->r.bye_sent = true;
	}

	cmrc_finish(c);
}


/* The tone stops: at the final response (caller) or our answer (callee). */
void cmrc_tone_stop(struct cmrc *c)
{
	if (c->play_from && !c->play_to)
		c->play_to = loop_now_ms();
	c->dl = mem_deref(c->dl);
}


static void dl_handler(const struct cmrc_dl *dl, void *arg)
{
	struct cmrc *c = arg;
	struct cmrc_result *r = &c->r;

	c->dl_done = true;
	r->ms_download = (int32_t)(loop_now_ms() - c->t0);
	r->dl_status = dl->scode;
	r->dl_bytes = dl->bytes;
	str_ncpy(r->dl_why, dl->why ? dl->why : "", sizeof(r->dl_why));
	str_ncpy(r->dl_type, dl->ctype ? dl->ctype : "", sizeof(r->dl_type));

	evlog_event(c->cr, "download", "\"status\":%u,\"bytes\":%zu,"
		    "\"type\":%H,\"why\":%H", dl->scode, dl->bytes,
		    jsonw_str, r->dl_type, jsonw_str, r->dl_why);

	if (dl->err || dl->scode < 200 || dl->scode > 299)
		goto out;

	/* Clause 1.1.1.4: play it, from now until the final response (or
	 * the answer); a WAV is decoded, any other type counted only.  A
	 * plain client that has early media as well hears that instead:
	 * its WAV is only measured. */
	if (c->ops == &cmrc_http_ops || (!c->tone_src_set && !c->ep_early)) {
		if (!media_from_wav(&c->played, dl->body, dl->bytes))
			r->dl_duration_ms = (int32_t)
				media_duration_ms(c->played);
	}
	else if (wav_duration_ms(dl->body, dl->bytes)) {
		r->dl_duration_ms = (int32_t)wav_duration_ms(dl->body,
							     dl->bytes);
	}

	if (!c->answered && !c->finished)
		c->play_from = loop_now_ms();

 out:
	/* Last: dl and its body belong to the download. */
	c->dl = mem_deref(c->dl);
}


void cmrc_download(struct cmrc *c, const char *url)
{
	struct ua *ua = c->ua;
	int err;

	if (c->dl_started || !url || !*url)
		return;

	c->dl_started = true;
	str_ncpy(c->r.url, url, sizeof(c->r.url));

	if (!ua || !ua->conf.fetchh) {
		str_ncpy(c->r.dl_why, "no HTTP client", sizeof(c->r.dl_why));
		c->dl_done = true;
		return;
	}

	err = ua->conf.fetchh(&c->dl, url, ua->conf.cap_http, dl_handler, c);
	if (err) {
		(void)re_snprintf(c->r.dl_why, sizeof(c->r.dl_why),
				  "bad URL (%m)", err);
		c->dl_done = true;
	}
}


bool cmrc_alertinfo_url(const struct sip_msg *msg, char *buf, size_t sz)
{
	const struct sip_hdr *h;
	struct pl url;

	h = sip_msg_hdr(msg, SIP_HDR_ALERT_INFO);
	if (!h || re_regex(h->val.p, h->val.l, "<[^>]+>", &url))
		return false;
	/* A URL cut to fit would fetch another resource; so would one cut
	 * at a NUL byte, which the decoder lets through in a header. */
	if (url.l >= sz || memchr(url.p, '\0', url.l))
		return false;

	return pl_strcpy(&url, buf, sz) == 0;
}


/* The session SDP of an 18x names where the tone comes from (RFC 3960:
 * the resource server answers with its own stream's address). */
void cmrc_tone_from(struct cmrc *c, const struct pl *sdp)
{
	int pt;

	if (c->tone_src_set || !pl_isset(sdp))
		return;

	if (!modegw_peek(sdp, &c->tone_src, &pt))
		c->tone_src_set = true;
	if (!c->early_from)
		c->early_from = loop_now_ms();
}


bool cmrc_has_pem_sendrecv(const struct sip_msg *msg)
{
	return sip_msg_xhdr_has_value(msg, "P-Early-Media", "sendrecv");
}


/* Our answer to an early-session offer (RFC 3959), on an endpoint of its
 * own; its packets are the tone. */
int cmrc_early_answer(struct cmrc *c, const struct pl *offer,
		      struct mbuf **mbp)
{
	struct sa ip;
	int err;

	if (!c->ep_early) {
		sa_cpy(&ip, &c->ua->laddr);
		sa_set_port(&ip, 0);
		err = rtpep_alloc(&c->ep_early, &ip, c->ua->conf.rtp_lo,
				  c->ua->conf.rtp_hi);
		if (err)
			return err;
		rtpep_keep_set(c->ep_early, c->conf.keep_ms ?
			       c->conf.keep_ms : KEEP_DEFAULT_MS);
		rtpep_capture_set(c->ep_early, c->ua->conf.cap_rtp_rx,
				  c->ua->conf.cap_rtp_tx);
	}

	err = cmrc_sdp_answer(mbp, offer, rtpep_laddr(c->ep_early),
			      cmrc_sdp_id(c) + 1, 1, NULL);
	if (!err && !c->early_from)
		c->early_from = loop_now_ms();

	return err;
}


/* The tone came by RTP where the mode says; a ring of TONE_JUDGE_MS or
 * more without a packet is a failure. */
const char *cmrc_verdict_rtp(struct cmrc *c)
{
	static char why[96];
	uint64_t end = c->answer_at ? c->answer_at : loop_now_ms();

	if (c->r.tone_packets || !c->early_from)
		return NULL;
	if (end - c->early_from < TONE_JUDGE_MS)
		return NULL;

	(void)re_snprintf(why, sizeof(why), "no RTP came in the %llu ms "
			  "between the %s and the %s",
			  (unsigned long long)(end - c->early_from),
			  c->conf.callee ? "PRACK" : "18x",
			  c->conf.callee ? "answer" : "final response");
	return why;
}


const char *cmrc_verdict_http(struct cmrc *c)
{
	static char why[160];

	if (!c->r.url[0])
		return c->conf.callee ? "no Alert-Info URL in the INVITE" :
			"no Alert-Info URL in any 18x";
	if (!c->dl_done) {
		(void)re_snprintf(why, sizeof(why), "the download of %s was "
				  "not complete at the %s", c->r.url,
				  c->conf.callee ? "answer" :
				  "final response");
		return why;
	}
	if (c->r.dl_status < 200 || c->r.dl_status > 299) {
		(void)re_snprintf(why, sizeof(why), "the resource URL failed:"
				  " %s", c->r.dl_why[0] ? c->r.dl_why :
				  "no response");
		return why;
	}
	if (!c->r.dl_bytes)
		return "the resource URL gave an empty body";

	return NULL;
}


/* ---- the conversation --------------------------------------------------- */

static void talk_target(struct cmrc *c)
{
	struct sa addr;
	struct pl sdp;
	int pt;

	if (!c->leg || c->finished || !c->answered)
		return;
	if (leg_sdp(c->leg, false, &sdp) || modegw_peek(&sdp, &addr, &pt))
		return;
	if (pt != MEDIA_PT_PCMU && pt != MEDIA_PT_PCMA)
		return;

	/* RFC 3264 section 6.1: nothing to a peer that only sends (the
	 * ringback's answer) or takes no media. */
	if (!re_regex(sdp.p, sdp.l, "a=sendonly") ||
	    !re_regex(sdp.p, sdp.l, "a=inactive")) {
		rtpep_send_stop(c->ep);
		return;
	}

	(void)rtpep_send_start(c->ep, c->talk, (uint8_t)pt, &addr);
}


static void bye_overdue(void *arg)
{
	cmrc_fail(arg, "the far end sent no BYE after the talk");
}


static void talk_over(void *arg)
{
	struct cmrc *c = arg;

	if (c->conf.hangup_callee == c->conf.callee) {
		if (c->leg && !c->ended) {
			leg_bye(c->leg);
			c->r.bye_sent = true;
		}
		cmrc_finish(c);
		return;
	}

	/* The far end hangs up; its BYE ends the call (endh). */
	tmr_start(&c->tmr_limit, BYE_WAIT_MS, bye_overdue, c);
}


void cmrc_answered(struct cmrc *c)
{
	c->answered = true;
	c->answer_at = loop_now_ms();
	cmrc_tone_stop(c);
	talk_target(c);
	tmr_start(&c->tmr_talk, c->conf.talk_ms, talk_over, c);
}


/* ---- leg handlers (both roles) ----------------------------------------- */

static void offerh(struct leg *leg, const struct sip_msg *msg,
		   const struct pl *sdp, void *arg)
{
	struct cmrc *c = arg;
	struct mbuf *mb = NULL;
	struct pl pl;
	int err;

	evlog_event(c->cr, "offer-in", "\"method\":\"%r\",\"sdp\":%s",
		    &msg->met, pl_isset(sdp) ? "true" : "false");

	if (!pl_isset(sdp)) {
		/* A re-INVITE without offer: ours goes in the 200. */
		err = cmrc_sdp_offer(&mb, rtpep_laddr(c->ep), cmrc_sdp_id(c),
				     ++c->sdp_ver);
	}
	else {
		err = cmrc_sdp_answer(&mb, sdp, rtpep_laddr(c->ep),
				      cmrc_sdp_id(c), ++c->sdp_ver, NULL);
		if (!pl_strcmp(&msg->met, "UPDATE"))
			++c->r.updates;
		else
			++c->r.reinvites;
	}

	if (err) {
		(void)leg_answer(leg, 488, "Not Acceptable Here", NULL);
		mem_deref(mb);
		return;
	}

	pl.p = (const char *)mb->buf;
	pl.l = mb->end;
	(void)leg_answer(leg, 200, "OK", &pl);
	mem_deref(mb);

	if (c->answered)
		talk_target(c);
}


static void ackanswerh(struct leg *leg, const struct sip_msg *ack, void *arg)
{
	struct cmrc *c = arg;
	(void)leg;
	(void)ack;

	talk_target(c);
}


/* The callee: an INVITE without SDP got our offer in the 200, and the
 * ACK brings the answer, the far end's address (RFC 3261 13.2.1). */
static void ackh(struct leg *leg, const struct sip_msg *ack, void *arg)
{
	(void)leg;

	if (mbuf_get_left(ack->mb))
		talk_target(arg);
}


static void endh(struct leg *leg, int err, const char *why, void *arg)
{
	struct cmrc *c = arg;
	(void)leg;
	(void)err;

	c->ended = true;
	if (!c->answered) {
		/* The peer's BYE in the early dialog: as the callee, the layer
		 * has answered the INVITE 487 (RFC 3261 15.1.2). */
		if (!err && c->uas) {
			c->r.final = 487;
			c->r.ms_final = (int32_t)(loop_now_ms() - c->t0);
		}
		/* RFC 3262 section 3: no PRACK came for our reliable 1xx;
		 * the INVITE gets a 5xx. */
		if (err == ETIMEDOUT && c->uas && !uas_reject(c->uas, 504,
							     "Server Time-out",
							     NULL)) {
			c->r.final = 504;
			c->r.ms_final = (int32_t)(loop_now_ms() - c->t0);
		}
		cmrc_fail(c, err ? why : "the far end hung up before the "
			  "answer");
		return;
	}

	/* The BYE is the end of the talk: early only if it came before. */
	if (tmr_isrunning(&c->tmr_talk) && c->conf.talk_ms &&
	    loop_now_ms() - c->answer_at + 50 < c->conf.talk_ms &&
	    c->conf.hangup_callee == c->conf.callee && !c->fail)
		c->fail = "the far end hung up before the talk was over";
	cmrc_finish(c);
}


static void cancelh(struct leg *leg, void *arg)
{
	struct cmrc *c = arg;
	(void)leg;

	c->ended = true;
	c->r.final = 487;
	c->r.ms_final = (int32_t)(loop_now_ms() - c->t0);
	cmrc_fail(c, "the caller cancelled before the answer");
}


static void prack200h(struct leg *leg, const struct sip_msg *prack,
		      const struct pl *early, struct mbuf **earlyp,
		      void *arg)
{
	struct cmrc *c = arg;
	(void)leg;
	(void)prack;

	evlog_event(c->cr, "prack-in", "\"early_session_offer\":%s",
		    pl_isset(early) ? "true" : "false");
	if (c->ops->prack_in)
		c->ops->prack_in(c, early, earlyp);
}


const struct leg_h cmrc_leg_h = {
	.offerh     = offerh,
	.endh       = endh,
	.ackh       = ackh,
	.ackanswerh = ackanswerh,
	.cancelh    = cancelh,
	.prack200h  = prack200h,
};


void cmrc_limit_over(void *arg)
{
	cmrc_fail(arg, "the call took longer than its limit");
}


uint32_t cmrc_limit_ms(const struct cmrc_conf *conf)
{
	return conf->limit_ms ? conf->limit_ms :
		LIMIT_BASE_MS + conf->ring_ms + conf->talk_ms;
}


static unsigned ep_packets(const struct rtpep *ep)
{
	unsigned n = 0;

	for (unsigned i = 0; ep && i < rtpep_segs(ep); i++)
		n += rtpep_seg(ep, i)->packets;

	return n;
}


unsigned cmrc_packets(const struct cmrc *c)
{
	return c ? ep_packets(c->ep) + ep_packets(c->ep_early) : 0;
}
