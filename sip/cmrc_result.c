/**
 * @file cmrc_result.c  What the user of a CMR Client call got: the
 *                      figures, what was heard, and the verdict
 *
 * Computed once the call is over, from the RTP endpoints' segments (the
 * tone's: the early-session endpoint, or the packets from the address the
 * 18x's SDP named; the far end's: the rest) or, in HTTP mode, from the
 * decoded download and how long it played.
 */
#include <string.h>
#include <re.h>
#include <rem.h>
#include "sip/cmrc_int.h"


static bool is_tone(const struct cmrc *c, const struct rtpep_seg *s)
{
	return c->tone_src_set && sa_cmp(&s->src, &c->tone_src, SA_ALL);
}


static int heard_add(struct cmrc *c, size_t *n, const int16_t *pcm,
		     size_t len)
{
	int16_t *h;

	if (!len)
		return 0;

	/* libre's mem_realloc() takes only what mem_alloc() gave. */
	h = c->heard ? mem_realloc(c->heard, (*n + len) * sizeof(*h)) :
		mem_alloc((*n + len) * sizeof(*h), NULL);
	if (!h)
		return ENOMEM;

	memcpy(h + *n, pcm, len * sizeof(*h));
	c->heard = h;
	*n += len;

	return 0;
}


/* The tone's samples (an early-session endpoint, or the tone's segments)
 * then the far end's; and the figures of each. */
static void rtp_figures(struct cmrc *c, size_t *n, bool tone_pcm)
{
	struct cmrc_result *r = &c->r;
	uint64_t tone_last = 0, far_first = 0;
	const int16_t *pcm;
	size_t npcm;
	double jit = 0, fjit = 0;

	for (int pass = 0; pass < 2; pass++) {
		struct rtpep *ep = pass == 0 ? c->ep_early : c->ep;

		if (!ep)
			continue;

		pcm = rtpep_pcm(ep, &npcm);
		for (unsigned i = 0; i < rtpep_segs(ep); i++) {
			const struct rtpep_seg *s = rtpep_seg(ep, i);
			bool tone = ep == c->ep_early || is_tone(c, s);

			if (!tone)
				continue;
			if (!r->tone_packets)
				r->ms_first_tone = (int32_t)
					((s->first_us - c->t0_us) / 1000);
			r->tone_packets += s->packets;
			r->tone_lost += s->lost;
			jit = s->jitter_ms > jit ? s->jitter_ms : jit;
			tone_last = s->last_us > tone_last ? s->last_us :
				tone_last;
			if (tone_pcm && s->pcm_off + s->pcm_len <= npcm)
				(void)heard_add(c, n, pcm + s->pcm_off,
						s->pcm_len);
		}
	}

	pcm = rtpep_pcm(c->ep, &npcm);
	for (unsigned i = 0; i < rtpep_segs(c->ep); i++) {
		const struct rtpep_seg *s = rtpep_seg(c->ep, i);

		if (is_tone(c, s))
			continue;
		if (!far_first || s->first_us < far_first)
			far_first = s->first_us;
		r->far_packets += s->packets;
		r->far_lost += s->lost;
		fjit = s->jitter_ms > fjit ? s->jitter_ms : fjit;
		if (s->pcm_off + s->pcm_len <= npcm)
			(void)heard_add(c, n, pcm + s->pcm_off, s->pcm_len);
	}

	r->tone_jitter_ms = jit;
	r->far_jitter_ms = fjit;
	if (tone_pcm)
		r->tone_ms = r->tone_packets * 20;
	r->gap_known = tone_last && far_first;
	if (tone_last)
		r->ms_last_tone = (int32_t)(((int64_t)tone_last -
					     (int64_t)c->t0_us) / 1000);
	if (r->gap_known)
		r->gap_ms = (int32_t)(((int64_t)far_first -
				       (int64_t)tone_last) / 1000);
}


/* HTTP mode: what was played, from the decoded download, looped. */
static void http_figures(struct cmrc *c, size_t *n)
{
	uint64_t ms;
	unsigned frames, nf;
	int16_t buf[MEDIA_FRAME_SAMPLES];

	if (!c->play_from)
		return;

	ms = (c->play_to ? c->play_to : loop_now_ms()) - c->play_from;
	c->r.tone_ms = (uint32_t)ms;
	if (!c->played)
		return;

	nf = media_frames(c->played);
	frames = (unsigned)(ms / 20);
	if (frames * 20u > c->conf.keep_ms && c->conf.keep_ms)
		frames = c->conf.keep_ms / 20;

	for (unsigned i = 0; nf && i < frames; i++) {
		const uint8_t *f = media_frame(c->played, MEDIA_PT_PCMU,
					       i % nf);

		for (unsigned k = 0; k < MEDIA_FRAME_SAMPLES; k++)
			buf[k] = g711_ulaw2pcm(f[k]);
		if (heard_add(c, n, buf, MEDIA_FRAME_SAMPLES))
			break;
	}
}


static void summary(struct cmrc *c)
{
	struct cmrc_result *r = &c->r;
	const char *what = c->conf.callee ? "ringtone" : "ringback";

	bool url_ok = r->url[0] && r->dl_status >= 200 &&
		r->dl_status < 300;

	/* A plain client with both hears the early media; the URL too
	 * was there and worked. */
	if (url_ok && r->tone_packets && c->ops == &cmrc_plain_ops)
		(void)re_snprintf(r->reason, sizeof(r->reason),
				  "%s mode %s: early media, %u RTP packets "
				  "(%u ms), first %d ms after the INVITE; the "
				  "URL gave %zu bytes (%s); final %u",
				  cmrc_mode_name(r->mode), what,
				  r->tone_packets, r->tone_ms,
				  r->ms_first_tone, r->dl_bytes, r->dl_type,
				  r->final);
	else if (url_ok)
		(void)re_snprintf(r->reason, sizeof(r->reason),
				  "%s mode %s: downloaded %zu bytes (%s), "
				  "played %u ms; final %u",
				  cmrc_mode_name(r->mode), what, r->dl_bytes,
				  r->dl_type, r->tone_ms, r->final);
	else if (r->tone_packets)
		(void)re_snprintf(r->reason, sizeof(r->reason),
				  "%s mode %s: %u RTP packets (%u ms), first "
				  "%d ms after the INVITE; final %u",
				  cmrc_mode_name(r->mode), what,
				  r->tone_packets, r->tone_ms,
				  r->ms_first_tone, r->final);
	else
		(void)re_snprintf(r->reason, sizeof(r->reason),
				  "%s mode: no %s delivered; final %u",
				  cmrc_mode_name(r->mode), what, r->final);
}


void cmrc_done(void *arg)
{
	struct cmrc *c = arg;
	struct cmrc_result *r = &c->r;
	const char *why = c->fail;
	size_t n = 0;
	bool final_ok, http_heard;

	if (!c->dl_done)
		r->ms_download = -1;
	if (!c->played)
		r->dl_duration_ms = -1;
	if (!r->ms_final && !r->final)
		r->ms_final = -1;

	/* HTTP mode hears its download; a plain client the early media when
	 * it had both. */
	http_heard = c->ops == &cmrc_http_ops ||
		(c->play_from && !c->tone_src_set && !c->ep_early);
	if (http_heard)
		http_figures(c, &n);
	rtp_figures(c, &n, !http_heard);
	if (!r->tone_packets)
		r->ms_first_tone = r->ms_last_tone = -1;
	r->sent_packets = rtpep_sent(c->ep);
	r->pcm = c->heard;
	r->npcm = n;

	final_ok = c->conf.callee ? true :
		c->conf.expect ? r->final == c->conf.expect :
		r->final >= 200 && r->final < 300;

	if (!why && !final_ok) {
		static char fw[96];

		(void)re_snprintf(fw, sizeof(fw), "the final response was %u"
				  " (expected %s%u)", r->final,
				  c->conf.expect ? "" : "2xx, not ",
				  c->conf.expect ? c->conf.expect : r->final);
		why = fw;
	}
	if (!why && c->ops->verdict)
		why = c->ops->verdict(c);

	r->ok = why == NULL;
	if (why)
		str_ncpy(r->reason, why, sizeof(r->reason));
	else
		summary(c);

	evlog_event(c->cr, "client-result", "\"result\":%H",
		    cmrc_result_json, r);

	if (c->doneh)
		c->doneh(c, r, c->arg);
}


static int num_or_null(struct re_printf *pf, int32_t v)
{
	return v < 0 ? re_hprintf(pf, "null") : re_hprintf(pf, "%d", v);
}


static int gap_print(struct re_printf *pf, const struct cmrc_result *r)
{
	return r->gap_known ? re_hprintf(pf, "%d", r->gap_ms) :
		re_hprintf(pf, "null");
}


int cmrc_result_json(struct re_printf *pf, const struct cmrc_result *r)
{
	int err;

	if (!r)
		return EINVAL;

	err  = re_hprintf(pf, "{\"ok\":%s,\"reason\":%H,\"role\":\"%s\","
			  "\"mode\":\"%s\",\"call_id\":%H,\"final\":%u,"
			  "\"ms_final\":%H,",
			  r->ok ? "true" : "false", jsonw_str, r->reason,
			  r->callee ? "callee" : "caller",
			  cmrc_mode_name(r->mode), jsonw_str, r->callid,
			  r->final, num_or_null, r->ms_final);
	err |= re_hprintf(pf, "\"http\":{\"url\":%H,\"status\":%u,"
			  "\"why\":%H,\"type\":%H,\"bytes\":%zu,"
			  "\"duration_ms\":%H,\"ms_download\":%H},",
			  jsonw_str, r->url, r->dl_status, jsonw_str,
			  r->dl_why, jsonw_str, r->dl_type, r->dl_bytes,
			  num_or_null, r->dl_duration_ms,
			  num_or_null, r->ms_download);
	err |= re_hprintf(pf, "\"early\":{\"reliable_18x\":%s,"
			  "\"early_session_offer\":%s,"
			  "\"p_early_media_sendrecv\":%s,\"updates\":%u,"
			  "\"reinvites\":%u},",
			  r->reliable_18x ? "true" : "false",
			  r->early_offer ? "true" : "false",
			  r->pem_sendrecv ? "true" : "false",
			  r->updates, r->reinvites);
	err |= re_hprintf(pf, "\"tone\":{\"ms_first_packet\":%H,"
			  "\"packets\":%u,\"lost\":%d,\"jitter_ms\":%.2f,"
			  "\"heard_ms\":%u},",
			  num_or_null, r->ms_first_tone, r->tone_packets,
			  r->tone_lost, r->tone_jitter_ms, r->tone_ms);
	err |= re_hprintf(pf, "\"talk\":{\"packets\":%u,\"lost\":%d,"
			  "\"jitter_ms\":%.2f,\"sent\":%u,\"gap_ms\":%H,"
			  "\"bye_sent\":%s},\"heard_samples\":%zu}",
			  r->far_packets, r->far_lost, r->far_jitter_ms,
			  r->sent_packets, gap_print, r,
			  r->bye_sent ? "true" : "false", r->npcm);

	return err;
}
