/**
 * @file rtprx.h  The RTP receiver of bench_streams: sinks in a child
 *
 * A few sink port pairs (RTP, and RTCP above it) on 127.0.0.1, drained
 * in a forked child with recvmmsg(), so that receiving costs the
 * measured sender nothing.  Every datagram carries the kernel's receive
 * time (SO_TIMESTAMPNS), and every sink its queue's drop counter
 * (SO_RXQ_OVFL).  The child follows each RTP source by its source port:
 * sequence gaps (loss), the time between two packets of a source
 * (inter-arrival), and the send-time error, the arrival against the
 * source's own 20 ms grid: arrival - (first arrival + 20 ms x frames
 * since the first, from the RTP timestamp).  Figures cover the window
 * given by rx_window(), in CLOCK_REALTIME, which the kernel's stamps use.
 */
#ifndef BENCH_RTPRX_H
#define BENCH_RTPRX_H

#include <stdint.h>
#include <sys/types.h>
#include <netinet/in.h>

enum { RX_SINKS = 4 };

struct rx_dist {
	uint64_t n;
	int64_t p50_us, p99_us, max_us;
};

struct rx_report {
	uint64_t rtp;                 /* RTP datagrams in the window */
	uint64_t rtp_all;             /* in the whole round */
	uint64_t rtcp;                /* RTCP datagrams, the whole round */
	uint64_t lost;                /* sequence numbers never seen */
	uint64_t disorder;            /* duplicates and reordered */
	uint64_t skipped;             /* frames the sender skipped (ts) */
	uint64_t drops;               /* dropped at the sinks' queues */
	uint32_t sources;             /* RTP sources seen */
	uint64_t cpu_us;              /* the child's CPU time */
	struct rx_dist ia;            /* inter-arrival */
	struct rx_dist err;           /* send-time error (signed) */
};

struct rx {
	struct sockaddr_in addr[RX_SINKS];  /* the RTP sinks */
	int rcvbuf;                   /* bytes the kernel granted a sink */
	pid_t pid;
	int ctl;                      /* to the child */
	int rd;                       /* its report */
};

/** Binds the sinks and forks the child that drains them. */
int  rx_start(struct rx *rx);
/** The window the figures cover, CLOCK_REALTIME nanoseconds. */
int  rx_window(struct rx *rx, int64_t open_ns, int64_t close_ns);
/** Stops the child after it has drained what is queued; its report
 *  (zeros when it gave none). */
void rx_stop(struct rx *rx, struct rx_report *rep);
int64_t rx_realtime_ns(void);

#endif
