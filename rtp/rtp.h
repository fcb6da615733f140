/**
 * @file rtp.h  The CMR Resource Server's RTP side: media and the streamer
 *
 * media.c turns a WAV resource, once, into 20 ms G.711 frames (PCMU and
 * PCMA) held in immutable shared memory; media_table.c does that for
 * every WAV of a table, on the profile load's thread (core/reload.c).
 * streamer.c sends those frames as RTP, each stream on its own 20 ms
 * schedule, from one timer (sched.c orders the deadlines).  rtp/ uses
 * only core/.
 */
#ifndef CMRLAB_RTP_H
#define CMRLAB_RTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct job;
struct sa;
struct table;

enum {
	MEDIA_SRATE = 8000,
	MEDIA_FRAME_SAMPLES = 160,     /* 20 ms at 8 kHz */
	MEDIA_PT_PCMU = 0,
	MEDIA_PT_PCMA = 8,
};


/* ---- media (media.c) -------------------------------------------------- */

struct media;

/** Decodes a RIFF/WAVE buffer (PCM 8/16/24/32-bit or float, any common
 *  rate, any channel count) into 8 kHz mono G.711 frames.  The last frame
 *  is padded with silence.  EINVAL/EBADMSG for what it cannot read,
 *  ENOTSUP for a format it does not convert. */
int media_from_wav(struct media **mp, const uint8_t *wav, size_t size);
unsigned media_frames(const struct media *m);
uint32_t media_duration_ms(const struct media *m);
/** Frame i (modulo the frame count) for payload type pt (0 PCMU,
 *  8 PCMA): MEDIA_FRAME_SAMPLES bytes, or NULL for another pt. */
const uint8_t *media_frame(const struct media *m, uint8_t pt, unsigned i);
/** Converts every audio/wav resource of the table that has no media yet
 *  and sets resource->media; returns how many failed (logged). */
unsigned media_attach_table(struct table *t);
/** The same on a job's thread, for a table that thread owns (a profile
 *  load, core/reload.c): stops with ECANCELED when job_cancelled(job),
 *  else returns 0 and, in *failedp if not NULL, how many failed. */
int media_attach_job(struct table *t, const struct job *job,
		     unsigned *failedp);
/** media_attach_job() as core/reload.c's prepare hook (arg unused): a
 *  profile load converts its WAVs on its own thread. */
int media_reload_prep(struct table *t, const struct job *job, void *arg);


/* ---- the streamer (streamer.c) ---------------------------------------- */

struct streamer;
struct stream;

struct stream_stats {
	uint32_t packets;
	uint32_t octets;              /* payload octets, as in an RTCP SR */
	uint32_t rtcp_sr;             /* sender reports sent */
	uint32_t skipped;             /* frames skipped after late
				       * wake-ups (never sent) */
	uint32_t ssrc;
	uint16_t first_seq;
	uint32_t first_ts;
	uint64_t started_ms;          /* loop_now_ms() of the first packet */
};

/** One streamer for the process: RTP/RTCP port pairs from [lo, hi] on
 *  the address ip (port of ip ignored; 0.0.0.0 or :: binds every local
 *  address), one timer for every stream. */
int  streamer_alloc(struct streamer **sp, const struct sa *ip, uint16_t lo,
		    uint16_t hi);
/** The address streams allocated from now on name in stream_laddr() (and
 *  their RTCP CNAME) in place of the bound one: the advertised address,
 *  or a concrete one for sockets bound to the unspecified address. */
void streamer_announce_set(struct streamer *st, const struct sa *ip);
unsigned streamer_active(const struct streamer *st);

/** What every streamer of the process did, for /metrics. */
struct streamer_totals {
	unsigned running;             /* streams sending now */
	uint64_t packets;             /* RTP packets sent, ever */
};
void streamer_totals_get(struct streamer_totals *t);
/** For tests: RTCP sender report interval (default 5000 ms). */
void streamer_set_rtcp_interval(struct streamer *st, uint32_t ms);
/** While on and pcapw_active(): every RTP and RTCP packet a stream sends
 *  is written to the capture, from the stream's bound address to its
 *  destination.  Off by default. */
void streamer_capture_set(struct streamer *st, bool on);

/** The streamer's clock: microseconds, never going back (by default
 *  CLOCK_MONOTONIC). */
typedef uint64_t (streamer_clock_h)(void);
/** For tests and benchmarks: a clock of their own (NULL: the default),
 *  set before any stream runs.  With one, no timer runs the schedule:
 *  streamer_run() does. */
void streamer_clock_set(struct streamer *st, streamer_clock_h *clk);
/** Sends every frame due by the clock's now (and a little ahead); returns
 *  how many streams were due.  The timer does this by itself. */
unsigned streamer_run(struct streamer *st);
/** The clock time the next frame of any stream is due, 0 when none runs. */
uint64_t streamer_next_due(const struct streamer *st);

/** Binds a stream's RTP (even) and RTCP (odd) ports; nothing is sent
 *  yet.  mem_deref stops and frees it. */
int  stream_alloc(struct stream **sp, struct streamer *st);
/** The local RTP address for the SDP: the bound port, on the announced
 *  address when there is one (streamer_announce_set), else the bound. */
const struct sa *stream_laddr(const struct stream *s);
/** Starts sending m (looped) with payload type pt to dst (RTP) and
 *  dst's port + 1 (RTCP).  The media is referenced while it plays. */
int  stream_start(struct stream *s, struct media *m, uint8_t pt,
		  const struct sa *dst);
/** Stops sending; the stream may be freed or started again. */
void stream_stop(struct stream *s);
bool stream_running(const struct stream *s);
void stream_stats_get(const struct stream *s, struct stream_stats *stats);

#endif
