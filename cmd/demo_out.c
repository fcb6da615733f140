/**
 * @file demo_out.c  What cmrlab demo says of a case: its figures, what
 *                   its verdict needs beyond each client's own, and the
 *                   report page of every case (core/report.c)
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <re.h>
#include "core/core.h"
#include "core/report.h"
#include "sip/ua.h"
#include "cmd/demo_int.h"


static void fig(struct dres *r, const char *name, const char *fmt, ...)
{
	struct report_fig *f;
	va_list ap;

	if (r->nfigs >= MAX_FIGS)
		return;

	f = &r->figs[r->nfigs++];
	str_ncpy(f->name, name, sizeof(f->name));
	va_start(ap, fmt);
	(void)re_vsnprintf(f->value, sizeof(f->value), fmt, ap);
	va_end(ap);
}


void demo_figures(struct dres *r, const char *who,
		    const struct cmrc_result *x)
{
	char name[48];

	if (x->url[0]) {
		(void)re_snprintf(name, sizeof(name), "%s: download", who);
		fig(r, name, "%u %s, %zu bytes, %d ms after the INVITE",
		    x->dl_status, x->dl_type, x->dl_bytes, x->ms_download);
	}
	if (x->tone_packets) {
		(void)re_snprintf(name, sizeof(name), "%s: tone RTP", who);
		fig(r, name, "%u packets, lost %d, jitter %.2f ms",
		    x->tone_packets, x->tone_lost, x->tone_jitter_ms);
		(void)re_snprintf(name, sizeof(name), "%s: first tone packet",
				  who);
		fig(r, name, "%d ms after the INVITE", x->ms_first_tone);
	}
	if (x->tone_ms) {
		(void)re_snprintf(name, sizeof(name), "%s: tone heard", who);
		fig(r, name, "%.2f s", x->tone_ms / 1000.0);
	}
	(void)re_snprintf(name, sizeof(name), "%s: talk", who);
	fig(r, name, "%u packets in (jitter %.2f ms), %u out",
	    x->far_packets, x->far_jitter_ms, x->sent_packets);
	if (x->gap_known) {
		(void)re_snprintf(name, sizeof(name), "%s: gap", who);
		fig(r, name, "%d ms from the last tone packet to the far "
		    "end's first", x->gap_ms);
	}
}


/* What the case must show beyond each client's own verdict. */
const char *demo_case_check(const struct dcase *dc,
			      const struct cmrc_result *a,
			      const struct cmrc_result *b)
{
	const struct cmrc_result *cmr = dc->rt ? b : a;

	if (!cmr->tone_ms && !cmr->tone_packets)
		return "the CMR Client heard no tone";
	if (!strcmp(dc->id, "http-bt") || !strcmp(dc->id, "http-rt"))
		return cmr->dl_status == 200 ? NULL :
			"the resource was not downloaded";
	if (!strcmp(dc->id, "as-bt") || !strcmp(dc->id, "as-rt"))
		return cmr->early_offer ? NULL :
			"no early-session offer was answered";
	if (!strcmp(dc->id, "gw-update"))
		return a->updates ? NULL : "no UPDATE reached the caller";
	if (!strcmp(dc->id, "gw-reinvite"))
		return a->reinvites && !a->updates ? NULL :
			"no re-INVITE (and no UPDATE) reached the caller";
	if (!strcmp(dc->id, "early-media"))
		return a->url[0] && a->reinvites ? NULL :
			"no URL and re-INVITE reached the plain caller";

	return NULL;
}


int demo_report_write(struct demo *d, char *path, size_t sz)
{
	struct report_case rc[NCASES];

	for (size_t i = 0; i < NCASES; i++) {
		const struct dres *r = &d->res[i];

		memset(&rc[i], 0, sizeof(rc[i]));
		rc[i].id = demo_cases[i].id;
		rc[i].title = demo_cases[i].title;
		rc[i].passed = r->passed;
		rc[i].verdict = r->verdict[0] ? r->verdict : "FAIL: not run";
		rc[i].rows = r->rows;
		rc[i].nrows = r->nrows;
		rc[i].figs = r->figs;
		rc[i].nfigs = r->nfigs;
		rc[i].pcm = r->pcm;
		rc[i].npcm = r->npcm;
		rc[i].wav = r->wav ? r->wav->buf : NULL;
		rc[i].wavsz = r->wav ? r->wav->end : 0;
	}

	(void)re_snprintf(path, sz, "%s/demo-report.html", d->out);

	return report_html_write(path, "cmrlab demo: customized ringback "
				 "and ringtone delivery", rc, NCASES);
}
