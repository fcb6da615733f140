/**
 * @file media_table.c  The table's WAV resources as G.711 frames
 *
 * Every resource of a new table whose Content-Type says WAV gets its
 * frames (media.c) before the table goes live, so a stream only ever
 * points into frames that are already there.  The conversion runs on the
 * profile's load job (core/reload.c): the table is the job's own until it
 * is handed to the loop, so setting resource->media needs no lock.  A WAV
 * that cannot be converted leaves its resource without media: it is still
 * served over HTTP, and a call that would stream it is told so by the
 * policy.  That failure is logged from the worker thread; log_emit() may
 * be called from any thread (core/log.c).
 */
#include <string.h>
#include <re.h>
#include "core/core.h"
#include "rtp/rtp.h"
#include "rtp/rtp_int.h"


struct attach {
	const struct job *job;
	unsigned failed;
	int err;                /* ECANCELED stops the walk */
};


static bool attach_handler(struct resource *r, void *arg)
{
	struct attach *a = arg;
	struct media *m = NULL;
	int err;

	if (r->media || !wav_type(r->type))
		return false;

	err = media_convert(&m, r->data, r->size, a->job);
	if (err == ECANCELED) {
		a->err = err;
		return true;
	}
	if (err) {
		log_emit(SUB_RTP, LVL_WARN, "media: resource %s: %m",
			 r->id, err);
		++a->failed;
		return false;
	}

	LOGD(SUB_RTP, "media: resource %s: %u frames, %u ms", r->id,
	     media_frames(m), media_duration_ms(m));

	r->media = m;

	return false;
}


int media_attach_job(struct table *t, const struct job *job,
		     unsigned *failedp)
{
	struct attach a;

	memset(&a, 0, sizeof(a));
	a.job = job;

	(void)table_resource_apply(t, attach_handler, &a);

	if (failedp)
		*failedp = a.failed;

	return a.err;
}


int media_reload_prep(struct table *t, const struct job *job, void *arg)
{
	(void)arg;

	return media_attach_job(t, job, NULL);
}


unsigned media_attach_table(struct table *t)
{
	unsigned failed = 0;

	(void)media_attach_job(t, NULL, &failed);

	return failed;
}
