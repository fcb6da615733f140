/**
 * @file overload.c  Load shedding: a new INVITE is answered 503 at once
 *                   while the server is behind
 *
 * Past its capacity a SIP server that takes every INVITE collapses: the
 * datagrams it has no time for wait in the socket, the peers retransmit,
 * the retransmissions queue behind the originals, and soon every call
 * times out.  RFC 3261 section 21.5.4 (and RFC 6357's discussion of it)
 * gives the way out: refuse new work cheaply, with 503 and Retry-After,
 * and keep serving the transactions already under way.
 *
 * The check runs first for every INVITE outside a dialog, before any
 * validation, routing or allocation.  The server is behind when
 *  - the next datagram waiting on the UDP socket the INVITE came in on
 *    has waited more than QUEUE_MAX_MS (its kernel receive timestamp,
 *    SO_TIMESTAMP, read with MSG_PEEK): the delay of the queue itself,
 *    what a peer's retransmission timer (T1, 500 ms) races against, or
 *  - the loop runs its timers more than LAG_MAX_MS late (loop_lag_ms()),
 *    which catches a loop busy with TCP, HTTP or RTP work.
 * (The call limit, --max-calls, is checked later, in route.c, where the
 * refusal is logged as a call.)  The byte count of the queue would be the
 * obvious measure, but Linux releases a UDP socket's receive memory in
 * batches of a quarter of its buffer, so SO_MEMINFO lags by megabytes.
 *
 * The 503 is stateless (no transaction is kept for a call we refuse; a
 * retransmitted INVITE is simply judged again) and carries Retry-After.
 * Requests inside dialogs, responses and ACKs never reach this check:
 * calls in progress go on.
 *
 * The kernel's default receive buffer (about 200 KiB) holds a fraction of
 * a second of traffic at a few thousand messages per second: a burst
 * beyond it is lost before the server can judge it.  The first INVITE
 * seen on each UDP socket therefore raises the socket's buffer to RCVBUF
 * (SO_RCVBUFFORCE when the process may, else as far as
 * net.core.rmem_max allows) and turns its receive timestamps on.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <re.h>
#include "core/core.h"
#include "sip/sip_int.h"

enum {
	RCVBUF = 8 * 1024 * 1024,
	QUEUE_MAX_MS = 100,       /* the oldest datagram's wait */
	LAG_MAX_MS = 200,
	RETRY_AFTER_S = 2,
	TUNED_MAX = 8,            /* sockets remembered as tuned */
};

static const void *tuned[TUNED_MAX];
static unsigned ntuned;


static void sock_tune(int fd)
{
	int size = RCVBUF, on = 1;

	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size,
		       sizeof(size)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size,
				 sizeof(size));

	(void)setsockopt(fd, SOL_SOCKET, SO_TIMESTAMP, &on, sizeof(on));
}


/* The UDP socket's descriptor, tuned the first time. */
static int udp_fd(const struct sip_msg *msg)
{
	int fd = udp_sock_fd(msg->sock, sa_af(&msg->dst));
	unsigned i;

	if (fd < 0)
		return fd;

	for (i = 0; i < ntuned && tuned[i] != msg->sock; i++)
		;
	if (i == ntuned && ntuned < TUNED_MAX) {
		tuned[ntuned++] = msg->sock;
		sock_tune(fd);
	}

	return fd;
}


/* How long the next datagram waiting on msg's UDP socket has waited. */
static uint32_t queue_ms(const struct sip_msg *msg)
{
	union {
		char buf[CMSG_SPACE(sizeof(struct timeval))];
		struct cmsghdr align;
	} ctl;
	struct msghdr mh;
	struct iovec iov;
	struct cmsghdr *c;
	struct timeval now;
	char b;
	int fd;

	if (!msg || msg->tp != SIP_TRANSP_UDP || !msg->sock)
		return 0;

	fd = udp_fd(msg);
	if (fd < 0)
		return 0;

	iov.iov_base = &b;
	iov.iov_len = 1;
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = ctl.buf;
	mh.msg_controllen = sizeof(ctl.buf);

	/* Nothing waiting (EAGAIN) is no delay at all. */
	if (recvmsg(fd, &mh, MSG_PEEK | MSG_DONTWAIT | MSG_TRUNC) < 0)
		return 0;

	for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		struct timeval tv;
		int64_t ms;

		if (c->cmsg_level != SOL_SOCKET ||
		    c->cmsg_type != SCM_TIMESTAMP)
			continue;

		memcpy(&tv, CMSG_DATA(c), sizeof(tv));
		(void)gettimeofday(&now, NULL);
		ms = ((int64_t)now.tv_sec - tv.tv_sec) * 1000 +
			(now.tv_usec - tv.tv_usec) / 1000;

		return ms > 0 ? (uint32_t)MIN(ms, UINT32_MAX) : 0;
	}

	return 0;
}


/* Why the server should take no new call now, or NULL; the check that
 * costs no system call first. */
static const char *behind(const struct sip_msg *msg)
{
	if (loop_lag_ms() > LAG_MAX_MS)
		return "loop lag";

	if (queue_ms(msg) > QUEUE_MAX_MS)
		return "receive queue";

	return NULL;
}


bool overload_shed(struct sipsrv *srv, const struct sip_msg *msg)
{
	const char *why;

	if (!srv || !msg)
		return false;

	why = behind(msg);
	if (!why)
		return false;

	evlog_shed_note();
	LOGD(SUB_SIP, "503 to INVITE %r from %J: %s", &msg->callid,
	     &msg->src, why);

	(void)sip_treplyf(NULL, NULL, srv->sip, msg, false, 503,
			  "Service Unavailable",
			  "Retry-After: %u\r\n"
			  "Content-Length: 0\r\n\r\n", RETRY_AFTER_S);

	return true;
}
