/**
 * @file sendlimit.h  A plain C RTP sender, as fast as one core goes
 *
 * The yardstick of bench_streams: nsock UDP sockets on 127.0.0.1, each
 * connected to one of the sinks (socket i to dst[i % ndst]), send RTP
 * packets of a 12-byte header and 160 bytes of payload, round-robin, one
 * sendmmsg() of batch packets per socket and turn, for ms milliseconds,
 * with no pacing.  No loop, no timers, no media: the packet rate one
 * core reaches through the kernel's UDP path with the same sockets and
 * destinations as the streamer.
 */
#ifndef BENCH_SENDLIMIT_H
#define BENCH_SENDLIMIT_H

#include <stdint.h>
#include <netinet/in.h>

struct sendlimit {
	uint64_t packets;             /* sent */
	uint64_t cpu_us;              /* this process's user + sys time */
	uint64_t wall_us;
	uint64_t errors;              /* sendmmsg() that failed */
};

int sendlimit_run(const struct sockaddr_in *dst, unsigned ndst,
		  unsigned nsock, unsigned batch, uint32_t ms,
		  struct sendlimit *r);

#endif
