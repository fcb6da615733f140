/**
 * @file rtp_int.h  What the files of rtp/ share among themselves
 */
#ifndef CMRLAB_RTP_INT_H
#define CMRLAB_RTP_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct job;
struct media;

/** media_from_wav() that polls job_cancelled(job) (job may be NULL) and
 *  then stops with ECANCELED, having freed everything it made. */
int media_convert(struct media **mp, const uint8_t *wav, size_t size,
		  const struct job *job);


/* sched.c: streams by the time their next frame is due (a min-heap of
 * entries embedded in them; O(log n) add, move and remove). */
struct sched_ent {
	uint64_t due;             /* microseconds on the streamer's clock */
	unsigned idx;             /* position in the heap */
	bool queued;
};

struct sched {
	struct sched_ent **v;
	unsigned n;
	unsigned cap;
};

void sched_init(struct sched *q);
/** Frees the heap; entries still on it are marked not queued. */
void sched_reset(struct sched *q);
/** Adds e due at due (moves it when already queued); ENOMEM. */
int  sched_add(struct sched *q, struct sched_ent *e, uint64_t due);
void sched_move(struct sched *q, struct sched_ent *e, uint64_t due);
void sched_remove(struct sched *q, struct sched_ent *e);
struct sched_ent *sched_top(const struct sched *q);

#endif
