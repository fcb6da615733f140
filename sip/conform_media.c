/**
 * @file conform_media.c  The checks of the media and downloads of a
 *                       conformance run: the resource played to the
 *                       box's party and stopped at the final response,
 *                       the far end's RTP, the downloads of the URL
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <re.h>
#include "sip/sip_int.h"
#include "sip/conform_int.h"


bool cf_chk_tone(struct cf_ctx *x)
{
	enum cf_party p;
	const struct cmrc_result *r = cf_res_of(x, &p);
	uint32_t t_inv, t_from;
	size_t i;

	if (!r)
		return false;
	if (!r->tone_packets || r->ms_first_tone < 0) {
		cf_ev_add(x->e, "%s: no RTP of the resource (final %u after "
			  "%d ms)\n", x->t->arg, r->final, r->ms_final);
		return false;
	}
	cf_ev_add(x->e, "%s: %u RTP packets of the resource, the first %d ms "
		  "and the last %d ms after the INVITE; final %u at %d ms\n",
		  x->t->arg, r->tone_packets, r->ms_first_tone, r->ms_last_tone,
		  r->final, r->ms_final);
	if (r->ms_final >= 0 && r->ms_first_tone > r->ms_final) {
		cf_ev_add(x->e, "  the first came after the final response\n");
		return false;
	}
	if (x->t->sel && cf_invite_t(x->run, p, &t_inv) &&
	    cf_select(x->run, x->t->sel, &i, 1)) {
		t_from = x->run->msgv[i].t_ms - t_inv;
		cf_ev_msg(x->e, x->run, i);
		/* The trace's clock is the loop's, in whole ms, and the
		 * signalling may take another path than the RTP (a proxy):
		 * one packet's time of slack. */
		if ((int64_t)r->ms_first_tone + TONE_EARLY_SLACK_MS <
		    (int64_t)t_from) {
			cf_ev_add(x->e, "  the first came %d ms before it\n",
				  (int)(t_from - (uint32_t)r->ms_first_tone));
			return false;
		}
	}

	return true;
}


bool cf_chk_tone_stop(struct cf_ctx *x)
{
	enum cf_party p;
	const struct cmrc_result *r = cf_res_of(x, &p);

	if (!r)
		return false;
	if (r->ms_final < 0) {
		cf_ev_add(x->e, "%s: no final response\n", x->t->arg);
		return false;
	}
	if (!r->tone_packets) {
		cf_ev_add(x->e, "%s: no RTP of the resource\n", x->t->arg);
		return false;
	}
	cf_ev_add(x->e, "%s: the last RTP packet of the resource %d ms after "
		  "the INVITE, the final response (%u) at %d ms\n", x->t->arg,
		  r->ms_last_tone, r->final, r->ms_final);
	if (r->ms_last_tone > r->ms_final + TONE_STOP_SLACK_MS) {
		cf_ev_add(x->e, "  it went on %d ms after the final response\n",
			  r->ms_last_tone - r->ms_final);
		return false;
	}

	return true;
}


bool cf_chk_far_media(struct cf_ctx *x)
{
	enum cf_party p;
	const struct cmrc_result *r = cf_res_of(x, &p);

	if (!r)
		return false;
	cf_ev_add(x->e, "%s: final %u, %u RTP packets from the other party "
		  "after the answer\n", x->t->arg, r->final, r->far_packets);

	return r->far_packets > 0;
}


bool cf_chk_download(struct cf_ctx *x)
{
	enum cf_party p;
	const struct cmrc_result *r = cf_res_of(x, &p);

	if (!r)
		return false;
	if (r->dl_why[0])
		cf_ev_add(x->e, "%s: GET %s: %s, %zu bytes of %s\n",
			  x->t->arg, r->url, r->dl_why, r->dl_bytes,
			  r->dl_type[0] ? r->dl_type : "no type");
	else
		cf_ev_add(x->e, "%s: GET %s: %u, %zu bytes of %s\n",
			  x->t->arg, r->url[0] ? r->url : "(no URL)",
			  r->dl_status, r->dl_bytes,
			  r->dl_type[0] ? r->dl_type : "no type");

	return r->dl_status >= 200 && r->dl_status < 300 && r->dl_bytes > 0;
}


bool cf_chk_dut_get(struct cf_ctx *x)
{
	size_t idx[SEL_MAX], n = cf_select(x->run, x->t->sel, idx, SEL_MAX);
	struct pl url, path;
	size_t i;

	for (i = 0; i < n; i++) {
		if (cf_url_of(x->run->msgv[idx[i]].msg, &url))
			break;
	}
	if (i == n) {
		cf_ev_add(x->e, "no URL %s\n", x->t->sel);
		return false;
	}
	cf_ev_msg(x->e, x->run, idx[i]);
	cf_ev_hdr(x->e, x->run->msgv[idx[i]].msg, "Alert-Info");
	if (re_regex(url.p, url.l, "http[s]*://[^/]+[^?]+", NULL, NULL,
		     &path)) {
		cf_ev_add(x->e, "  a URL without a path\n");
		return false;
	}

	for (size_t k = 0; k < x->run->getc; k++) {
		const struct cf_get *g = &x->run->getv[k];

		if (pl_strcmp(&path, g->path) ||
		    g->t_ms + 2 < x->run->msgv[idx[i]].t_ms)
			continue;
		cf_ev_add(x->e, "+%u.%03us GET %s: %u, %llu bytes\n",
			  g->t_ms / 1000, g->t_ms % 1000, g->path, g->status,
			  (unsigned long long)g->bytes);
		if (g->status == 200 || g->status == 206 || g->status == 304)
			return true;
	}
	cf_ev_add(x->e, "  the DUT did not fetch %r (%zu requests to the "
		  "resource server)\n", &path, x->run->getc);

	return false;
}
