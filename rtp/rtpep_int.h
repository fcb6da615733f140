/**
 * @file rtpep_int.h  What rtpep.c (sockets, sending) and rtpep_rx.c
 *                    (measuring) share
 */
#ifndef CMRLAB_RTPEP_INT_H
#define CMRLAB_RTPEP_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <re.h>
#include "rtp/rtp_int.h"
#include "rtp/rtpep.h"

enum {
	/* Sequence numbers below the highest that a segment remembers,
	 * to tell a duplicate from a late packet (a multiple of 64). */
	RTPEP_DUP_WIN = 512,
};

/* A segment: what rtpep_seg() shows, and the state behind it. */
struct rtpep_segst {
	struct rtpep_seg pub;
	int64_t max_ext;          /* highest extended sequence number */
	int64_t min_ext;          /* lowest */
	uint64_t win[RTPEP_DUP_WIN / 64];  /* bit ext % RTPEP_DUP_WIN set:
					    * ext received, for ext in
					    * (max_ext - RTPEP_DUP_WIN,
					    *  max_ext] */
	uint64_t prev_us;         /* arrival of the last packet measured */
	uint32_t prev_ts;         /* ... and its RTP timestamp */
	double jitter;            /* RFC 3550 A.8, in RTP clock units */
};

struct rtpep {
	struct udp_sock *rtp;
	struct udp_sock *rtcp;
	struct sa laddr;          /* RTP, as bound */
	struct sa laddr_rtcp;     /* its port + 1 */
	char cname[CNAME_MAX];

	/* receiving (rtpep_rx.c) */
	struct rtpep_segst *segs; /* mem array of nsegs (cap_segs) */
	unsigned nsegs, cap_segs;
	int16_t *pcm;             /* mem array of npcm (cap_pcm) */
	size_t npcm, cap_pcm;
	size_t keep_max;          /* samples kept at most */
	uint32_t rtcp_in, bad;
	bool paused;
	rtpep_pkt_h *h;
	void *arg;
	bool cap_rx, cap_tx;

	/* sending (rtpep.c) */
	struct tmr tmr;
	struct mbuf *mb;          /* the packet being sent */
	struct media *m;          /* referenced while sending */
	uint8_t pt;
	bool sending;
	bool started;             /* sent anything since allocation */
	bool marker;              /* the next packet starts a talkspurt */
	struct sa dst, dst_rtcp;
	uint32_t ssrc;
	uint16_t seq;             /* of the next packet */
	uint32_t ts0;             /* RTP timestamp of frame 0 of this run */
	uint64_t t0;              /* clock (us) of frame 0 of this run */
	uint32_t k;               /* next frame of this run */
	uint32_t ts_last;         /* timestamp of the last packet sent */
	uint64_t rtcp_next;       /* clock (us) of the next report */
	uint32_t sent, octets;
};

/** CLOCK_MONOTONIC in microseconds. */
uint64_t rtpep_mono_us(void);
/** Measures one RTP datagram from src that arrived at now (us). */
void rtpep_rx_packet(struct rtpep *ep, const struct sa *src,
		     const uint8_t *b, size_t len, uint64_t now);

#endif
