/**
 * @file sched.c  The streamer's schedule: streams ordered by the time
 *                their next frame is due
 *
 * A binary min-heap of entries embedded in the streams, each holding its
 * deadline (microseconds on the streamer's clock) and its own position,
 * so that adding, moving and removing a stream cost O(log n) and the next
 * deadline is read in O(1).  Ties go either way: two streams due at the
 * same microsecond are sent in the same pass anyway.
 */
#include <errno.h>
#include <stdlib.h>
#include <re.h>
#include "rtp/rtp_int.h"


static void put(struct sched *q, struct sched_ent *e, unsigned i)
{
	q->v[i] = e;
	e->idx = i;
}


static void up(struct sched *q, unsigned i)
{
	struct sched_ent *e = q->v[i];

	while (i > 0) {
		unsigned p = (i - 1) / 2;

		if (q->v[p]->due <= e->due)
			break;

		put(q, q->v[p], i);
		i = p;
	}

	put(q, e, i);
}


static void down(struct sched *q, unsigned i)
{
	struct sched_ent *e = q->v[i];

	for (;;) {
		unsigned c = 2 * i + 1;

		if (c >= q->n)
			break;
		if (c + 1 < q->n && q->v[c + 1]->due < q->v[c]->due)
			++c;
		if (e->due <= q->v[c]->due)
			break;

		put(q, q->v[c], i);
		i = c;
	}

	put(q, e, i);
}


void sched_init(struct sched *q)
{
	q->v = NULL;
	q->n = 0;
	q->cap = 0;
}


void sched_reset(struct sched *q)
{
	for (unsigned i = 0; i < q->n; i++)
		q->v[i]->queued = false;

	free(q->v);
	sched_init(q);
}


int sched_add(struct sched *q, struct sched_ent *e, uint64_t due)
{
	if (e->queued) {
		sched_move(q, e, due);
		return 0;
	}

	if (q->n == q->cap) {
		unsigned cap = q->cap ? q->cap * 2 : 64;
		struct sched_ent **v = realloc(q->v, cap * sizeof(*v));

		if (!v)
			return ENOMEM;

		q->v = v;
		q->cap = cap;
	}

	e->due = due;
	e->queued = true;
	q->v[q->n] = e;
	up(q, q->n++);

	return 0;
}


void sched_move(struct sched *q, struct sched_ent *e, uint64_t due)
{
	uint64_t was = e->due;

	if (!e->queued)
		return;

	e->due = due;
	if (due < was)
		up(q, e->idx);
	else
		down(q, e->idx);
}


void sched_remove(struct sched *q, struct sched_ent *e)
{
	struct sched_ent *last;
	unsigned i = e->idx;

	if (!e->queued)
		return;

	e->queued = false;
	last = q->v[--q->n];
	if (last == e)
		return;

	put(q, last, i);
	if (i > 0 && last->due < q->v[(i - 1) / 2]->due)
		up(q, i);
	else
		down(q, i);
}


struct sched_ent *sched_top(const struct sched *q)
{
	return q->n ? q->v[0] : NULL;
}
