/**
 * @file streamer_int.h  The streamer and its streams, shared by
 *                       streamer.c (the schedule, the port range, sending)
 *                       and stream.c (a stream's sockets, start and stop)
 */
#ifndef CMRLAB_STREAMER_INT_H
#define CMRLAB_STREAMER_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <re.h>
#include "rtp/rtp.h"
#include "rtp/rtp_int.h"


enum {
	FRAME_US = 20000,         /* one frame of MEDIA_FRAME_SAMPLES */
	SLACK_US = 1000,          /* frames due this soon leave now */
	MAX_BURST = 3,            /* most frames one stream sends at once */
	RTCP_INTERVAL_MS = 5000,
};

struct streamer {
	struct sa ip;             /* the address streams bind, port unused */
	struct sa announce;       /* the address they name, or unset */
	uint16_t first;           /* the lowest even port of the range */
	unsigned npairs;          /* RTP/RTCP port pairs in the range */
	uint16_t *freeq;          /* ring of free pair indexes, FIFO */
	unsigned fq_head;         /* its first entry */
	unsigned fq_len;          /* its entries */
	uint32_t rtcp_ms;         /* sender report interval */
	char cname[CNAME_MAX];    /* SDES CNAME of every stream */
	struct sched q;           /* the running streams, by deadline */
	int tfd;                  /* timerfd, armed at the first deadline */
	struct loop_watch *watch; /* ... on the loop */
	uint64_t armed;           /* its expiry, 0 when disarmed */
	streamer_clock_h *clock;  /* microseconds, monotonic */
	bool capture;             /* sent packets to the pcap file */
};

struct stream {
	struct sched_ent ent;     /* on streamer->q while running */
	struct streamer *st;      /* referenced */
	struct udp_sock *rtp;
	struct udp_sock *rtcp;
	struct sa laddr;          /* local RTP address, as announced */
	struct sa bound;          /* ... as bound (the capture's source) */
	struct sa bound_rtcp;     /* its port + 1 */
	uint16_t pair;            /* index of its port pair ... */
	bool has_pair;            /* ... while it holds one */
	struct sa dst;            /* RTP destination */
	struct sa dst_rtcp;       /* its port + 1 */
	struct media *m;          /* referenced while running */
	uint8_t pt;
	bool running;
	bool started;             /* sent anything since allocation */
	bool marker;              /* the next packet starts a talkspurt */
	uint16_t seq;             /* sequence number of the next packet */
	uint32_t ssrc;
	uint32_t ts0;             /* RTP timestamp of frame 0 of this run */
	uint64_t t0;              /* clock (us) of frame 0 of this run */
	uint32_t k;               /* next frame of this run */
	uint32_t ts_last;         /* timestamp of the last packet sent */
	uint64_t rtcp_next;       /* clock (us) of the next SR */
	struct stream_stats stats;
	uint8_t hdr[MAX_BURST][RTP_HDR_SIZE];
};


/* streamer.c */
struct streamer_totals *streamer_totals_w(void);
/** The RTP clock (8 kHz) of the stream's run at clock time now (us). */
uint32_t stream_ts_at(const struct stream *s, uint64_t now);
/** When the stream's next frame is due (clock us). */
uint64_t stream_due(const struct stream *s);
/** Arms the timer at the earliest deadline of the running streams. */
void     streamer_arm(struct streamer *st);
/** Sends a sender report (with BYE when bye). */
void     stream_rtcp_send(struct stream *s, uint64_t now, bool bye);
/** Takes the stream off the schedule (it stays allocated). */
void     stream_halt(struct stream *s);
/** Stops the stream on a send error, once, saying why. */
void     stream_fail(struct stream *s, int err);
/** Sends what is due of the stream at now. */
void     stream_pump(struct stream *s, uint64_t now);
/** Runs every stream due at now; how many sent. */
unsigned streamer_run_due(struct streamer *st, uint64_t now);
/** A free port pair's index, taken; and one given back. */
uint16_t streamer_fq_pop(struct streamer *st);
void     streamer_fq_push(struct streamer *st, uint16_t idx);

#endif
