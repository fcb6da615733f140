/**
 * @file download.c  The CMR Client's downloads (sip/ua.h's cmrc_fetch_h)
 *                   on http/fetch.c, for cmrlab call and cmrlab demo
 *
 * sip/ keeps to core/ and rtp/, so the command hands the client its HTTP
 * client: one GET per resource URL, 10 s at most, 64 MiB at most.
 */
#include <string.h>
#include <re.h>
#include "core/core.h"
#include "cmd/cmd.h"


struct dlglue {
	cmrc_dl_h *dh;
	void *arg;
	struct fetch *f;
};


static void glue_destructor(void *arg)
{
	struct dlglue *g = arg;

	mem_deref(g->f);
}


static void glue_done(const struct fetch_result *fr, void *arg)
{
	struct dlglue *g = arg;
	struct cmrc_dl dl;

	memset(&dl, 0, sizeof(dl));
	dl.err = fr->err;
	dl.why = fr->why;
	dl.scode = fr->scode;
	dl.ctype = fr->ctype;
	dl.bytes = fr->bytes;
	dl.body = fr->body;

	g->dh(&dl, g->arg);
}


int cmd_fetch(void **hp, const char *url, bool capture, cmrc_dl_h *dh,
	      void *arg)
{
	struct dlglue *g;
	int err;

	g = mem_zalloc(sizeof(*g), glue_destructor);
	if (!g)
		return ENOMEM;

	g->dh = dh;
	g->arg = arg;
	err = fetch_get(&g->f, url, 10000, 64u << 20, glue_done, g);
	if (err) {
		mem_deref(g);
		return err;
	}
	fetch_capture_set(g->f, capture);

	*hp = g;

	return 0;
}
