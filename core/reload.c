/**
 * @file reload.c  A profile loaded into a new table off the loop
 *
 * Loading a profile reads every resource file (up to 64 MiB each), hashes
 * it for its ETag and, through the caller's prepare hook, converts its WAV
 * resources into G.711 frames: seconds of work for a long recording, which
 * the loop must not spend (job.c says why).  So a load runs as one job:
 * on the worker thread it makes a table that nobody else has seen, loads
 * the profile into it and calls the prepare hook on it; back on the loop
 * the done handler receives the finished table, or the error with its
 * "FILE:LINE: message" text.  The table belongs to one thread at a time,
 * the worker while it builds it and the loop from the done handler on, so
 * it needs no lock; the live table is never touched by the worker.  The
 * caller installs the new table (table_live_set) when it has it, so the
 * old one serves every request until that moment.
 *
 * A load that is asked for while one runs is queued: the running one is
 * finished and handed over first, then one more starts, reading the
 * profile as it is by then.  Any number of requests during a load make
 * that one more load, so a burst of SIGHUPs costs two loads at most and
 * the last state of the file is what ends up live; a load always
 * completes, however often the signal comes.  Dropping the reload cancels
 * a load in progress and waits for the worker to let go of it, a few
 * milliseconds at most: the media conversion polls the job, and so do
 * profile_load()'s file reads and the table's hashing of a resource
 * (job_self_cancelled(), every MiB); what is not polled is the copy of
 * one resource into the table, about 20 ms for 45 MiB.
 */
#include <stdio.h>
#include <string.h>
#include <re.h>
#include "core.h"

enum { MSG_MAX = 512 };

/* What one load's worker owns until the job is done: the loop does not
 * touch it in the meantime. */
struct loadctx {
	struct reload *r;       /* for the loop's side only */
	const char *path;       /* the reload's, which outlives the job */
	reload_prep_h *ph;
	void *arg;
	struct table *t;        /* set on success only */
	char msg[MSG_MAX];
};

struct reload {
	char *path;             /* NULL: the embedded default profile */
	reload_prep_h *ph;
	reload_done_h *dh;
	void *arg;
	struct job *job;        /* the load in progress, or NULL */
	struct loadctx *ctx;    /* its context */
	bool again;             /* asked for once more while it ran */
};


static void ctx_destructor(void *data)
{
	struct loadctx *c = data;

	mem_deref(c->t);
}


static void destructor(void *data)
{
	struct reload *r = data;

	/* The job first: it joins the worker, which may still use ctx. */
	r->job = mem_deref(r->job);
	r->ctx = mem_deref(r->ctx);
	mem_deref(r->path);
}


/* On the worker thread: everything here works on c and the new table. */
static int work(const struct job *job, void *arg)
{
	struct loadctx *c = arg;
	const char *name = c->path ? c->path : "<default>";
	struct table *t = NULL;
	char buf[128];
	int err;

	err = table_alloc(&t);
	if (err) {
		(void)snprintf(c->msg, sizeof(c->msg), "%s:0: %s", name,
			       str_error(err, buf, sizeof(buf)));
		return err;
	}

	/* A cancelled load stops inside profile_load() too (its file reads
	 * and hashing poll job_self_cancelled()), with some error. */
	err = profile_load(t, c->path, c->msg, sizeof(c->msg));
	if (err && job_cancelled(job))
		err = ECANCELED;
	if (err)
		goto out;

	if (job_cancelled(job)) {
		err = ECANCELED;
		goto out;
	}

	if (c->ph) {
		err = c->ph(t, job, c->arg);
		if (err)
			(void)snprintf(c->msg, sizeof(c->msg), "%s:0: %s",
				       name, str_error(err, buf, sizeof(buf)));
	}

 out:
	if (err)
		mem_deref(t);
	else
		c->t = t;

	return err;
}


static void done(int err, void *arg);


static int begin(struct reload *r)
{
	struct loadctx *c;
	int err;

	c = mem_zalloc(sizeof(*c), ctx_destructor);
	if (!c)
		return ENOMEM;

	c->r = r;
	c->path = r->path;
	c->ph = r->ph;
	c->arg = r->arg;

	err = job_start(&r->job, work, done, c);
	if (err) {
		mem_deref(c);
		return err;
	}

	r->ctx = c;

	return 0;
}


/* On the loop, once the worker has returned. */
static void done(int err, void *arg)
{
	struct loadctx *c = arg;
	struct reload *r = c->r;
	char msg[MSG_MAX], buf[128];

	r->ctx = NULL;
	r->job = mem_deref(r->job);

	/* The handler may drop the reload. */
	mem_ref(r);

	r->dh(err, err ? NULL : c->t, c->msg, r->arg);
	mem_deref(c);

	/* No second load for a reload its handler has just dropped. */
	if (r->again && mem_nrefs(r) > 1) {
		r->again = false;
		err = begin(r);
		if (err) {
			(void)snprintf(msg, sizeof(msg), "%s:0: cannot start "
				       "the load: %s", r->path ? r->path :
				       "<default>",
				       str_error(err, buf, sizeof(buf)));
			r->dh(err, NULL, msg, r->arg);
		}
	}

	mem_deref(r);
}


int reload_alloc(struct reload **rp, const char *path, reload_prep_h *ph,
		 reload_done_h *dh, void *arg)
{
	struct reload *r;
	int err = 0;

	if (!rp || !dh)
		return EINVAL;

	r = mem_zalloc(sizeof(*r), destructor);
	if (!r)
		return ENOMEM;

	if (path)
		err = str_dup(&r->path, path);

	r->ph = ph;
	r->dh = dh;
	r->arg = arg;

	if (err)
		mem_deref(r);
	else
		*rp = r;

	return err;
}


int reload_start(struct reload *r)
{
	if (!r)
		return EINVAL;

	if (r->job) {
		r->again = true;
		return 0;
	}

	return begin(r);
}


bool reload_busy(const struct reload *r)
{
	return r && r->job;
}


bool reload_queued(const struct reload *r)
{
	return r && r->again;
}
