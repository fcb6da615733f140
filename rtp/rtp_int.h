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


/* packet.c: RTP and RTCP packets as bytes (RFC 3550). */
enum {
	RTP_HDR_SIZE = 12,
	CNAME_MAX = 64,
	/* SR (28) + SDES header and SSRC (8) + CNAME item (2 + 64) with its
	 * end and padding (4) + BYE (8). */
	RTCP_MAX = 28 + 8 + 2 + CNAME_MAX + 4 + 8,
};

struct rtcp_sr {
	uint32_t ssrc;
	uint32_t rtp_ts;          /* the RTP clock at the report's moment */
	uint32_t packets;
	uint32_t octets;
	const char *cname;        /* at most CNAME_MAX - 1 bytes are sent */
	bool bye;                 /* a BYE follows the SR and SDES */
};

void   rtp_hdr_put(uint8_t h[RTP_HDR_SIZE], uint8_t pt, bool marker,
		   uint16_t seq, uint32_t ts, uint32_t ssrc);
/** The compound packet (SR, SDES CNAME, BYE if sr->bye); its length. */
size_t rtcp_sr_put(uint8_t b[RTCP_MAX], const struct rtcp_sr *sr);

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
