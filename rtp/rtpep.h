/**
 * @file rtpep.h  A client's RTP endpoint: one RTP/RTCP port pair that
 *                measures and keeps what it receives and talks back
 *
 * The CMR client places calls and checks what the far end plays.  Its
 * media side is one endpoint per call: an RTP socket on an even port and
 * an RTCP socket on the port above it (rtpep.c).  Every RTP packet that
 * arrives is measured (RFC 3550 loss, duplicates, reordering, jitter) and
 * its G.711 payload decoded into one PCM buffer, in segments that start
 * whenever the sender changes (its SSRC or its address), so that a
 * ringback tone and the voice after it are told apart.  The same socket
 * sends a media (symmetric RTP) on a 20 ms schedule of its own.
 *
 * wavw.c writes PCM as a WAV file or into an mbuf.  rtp/ uses only core/.
 */
#ifndef CMRLAB_RTPEP_H
#define CMRLAB_RTPEP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <re.h>

struct media;


/* ---- the endpoint (rtpep.c) ------------------------------------------- */

/** One RTP/RTCP port pair of a client; mem_deref stops and frees it. */
struct rtpep;

/** Binds RTP on an even port and RTCP on port + 1 of laddr's address
 *  (its port ignored), the first free pair in [lo, hi]; lo = hi = 0: any
 *  pair, from ports the kernel gives.  EINVAL for bad arguments, ENOSPC
 *  when no pair is free. */
int  rtpep_alloc(struct rtpep **ep, const struct sa *laddr, uint16_t lo,
		 uint16_t hi);
/** The bound RTP address (RTCP is its port + 1). */
const struct sa *rtpep_laddr(const struct rtpep *ep);

/*
 * Receiving.  Every RTP packet is measured; PCMU (pt 0) and PCMA (pt 8)
 * payloads are decoded, other payload types are counted only.  A segment
 * starts whenever the SSRC or the source address changes from the
 * previous packet's.  At most RTPEP_SEGS_MAX segments are made; a packet
 * that would start one more is counted in rtpep_bad() and dropped.
 */
enum { RTPEP_SEGS_MAX = 1024, RTPEP_KEEP_DEFAULT_MS = 120000 };

struct rtpep_seg {
	uint32_t ssrc;
	struct sa src;
	uint8_t  pt;                  /* of the segment's first packet */
	uint32_t packets;             /* received, duplicates excluded */
	uint32_t expected;            /* highest ext seq - lowest + 1 */
	int32_t  lost;                /* expected - packets */
	uint32_t dups, reordered;
	double   jitter_ms;           /* RFC 3550 A.8, 8 kHz clock, in ms */
	uint64_t first_us, last_us;   /* arrival, CLOCK_MONOTONIC us */
	size_t   pcm_off, pcm_len;    /* its samples in rtpep_pcm() */
};

/** Called for every measured packet (duplicates included), after it was
 *  measured; seg is its segment.  It must not free the endpoint. */
typedef void (rtpep_pkt_h)(struct rtpep *ep, unsigned seg, bool first_of_seg,
			   void *arg);
void rtpep_handler_set(struct rtpep *ep, rtpep_pkt_h *h, void *arg);
unsigned rtpep_segs(const struct rtpep *ep);
/** Segment i, or NULL; the pointer is good until the next packet. */
const struct rtpep_seg *rtpep_seg(const struct rtpep *ep, unsigned i);
/** RTCP packets received on port + 1 (and any multiplexed on the RTP
 *  port, RFC 5761). */
uint32_t rtpep_rtcp_in(const struct rtpep *ep);
/** Malformed RTP packets (and those beyond RTPEP_SEGS_MAX segments). */
uint32_t rtpep_bad(const struct rtpep *ep);
/** Every decoded sample, in arrival order, 8 kHz mono; at most the
 *  keep limit's worth, later packets are measured only. */
const int16_t *rtpep_pcm(const struct rtpep *ep, size_t *n);
/** The keep limit in ms of audio (0: the default, 120000); samples
 *  already kept beyond a lower limit are dropped. */
void rtpep_keep_set(struct rtpep *ep, uint32_t max_ms);
/** Ignores what arrives (no measuring, keeping, handler or RTCP count)
 *  while paused, the socket staying open; capture goes on. */
void rtpep_rx_pause(struct rtpep *ep, bool pause);

/*
 * Sending: m (20 ms G.711 frames, looped) as payload type pt to dst from
 * the RTP socket, one packet every 20 ms on an absolute schedule, and an
 * RTCP sender report every 5 s to dst's port + 1 (a BYE with the last).
 * Random SSRC, sequence number and timestamp; the marker bit on the
 * first packet of each start.  m is referenced while it plays.  A start
 * while sending retargets: the same source goes on with the new media
 * and destination.
 */
int  rtpep_send_start(struct rtpep *ep, struct media *m, uint8_t pt,
		      const struct sa *dst);
void rtpep_send_stop(struct rtpep *ep);
/** RTP packets sent over the endpoint's life. */
uint32_t rtpep_sent(const struct rtpep *ep);

/** While pcapw_active(): every RTP and RTCP packet received (rx) and/or
 *  sent (tx) is written as a UDP record.  Off by default. */
void rtpep_capture_set(struct rtpep *ep, bool rx, bool tx);


/* ---- WAV writer (wavw.c) ---------------------------------------------- */

/** Writes a 16-bit PCM mono RIFF/WAVE file (44-byte header).  The file
 *  is complete or absent: written to path.tmp, then renamed.  errno
 *  values: EINVAL, EFBIG (over 4 GiB), or the system's. */
int  wavw_write(const char *path, const int16_t *pcm, size_t n,
		uint32_t rate);
/** The same file written into mb at its position (as mbuf_write_mem()
 *  writes), which ends after it. */
int  wavw_mbuf(struct mbuf *mb, const int16_t *pcm, size_t n,
	       uint32_t rate);

#endif
