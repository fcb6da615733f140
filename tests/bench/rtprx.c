/**
 * @file rtprx.c  The RTP receiver of bench_streams (rtprx.h)
 *
 * The child keeps, per RTP source port, the first packet's arrival and
 * RTP timestamp and the last packet's sequence number, timestamp and
 * arrival; two histograms of 10 us bins give the percentiles.  The
 * arrival time is the kernel's receive stamp, not the time the child
 * reads the packet, so a child that falls behind does not distort the
 * timing; it shows as drops at the sinks' queues instead (their receive
 * buffers are made large so that it rarely does).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include "rtprx.h"
#include "benchtime.h"

enum {
	SINK_RCVBUF = 16 << 20,       /* asked for; the kernel may cap it */
	VLEN = 64,                    /* datagrams per recvmmsg() */
	RECV_LEN = 2048,
	BIN_US = 10,
	FRAME_NS = 20000000,
	FRAME_TS = 160,
};

struct hist {
	int64_t lo_us;                /* the first bin's lower bound */
	unsigned nbins;               /* the last bin takes what is above */
	uint32_t *bin;
	uint64_t n;
	int64_t max_us;
};

struct source {
	int64_t t0, last;             /* ns */
	uint32_t ts0, last_ts;
	uint16_t last_seq;
	bool seen;
};

struct child {
	int fd[2 * RX_SINKS];         /* RTP at even index, RTCP above */
	int ctl;
	int64_t open_ns, close_ns;    /* 0, 0: no window yet */
	struct source *src;           /* by source port */
	struct hist ia, err;
	uint32_t ovfl[RX_SINKS];
	struct rx_report rep;
};

struct ctl_msg {
	char what;                    /* 'w' window, 'q' quit */
	int64_t open_ns, close_ns;
};


int64_t rx_realtime_ns(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_REALTIME, &ts);

	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}


/* ---- histograms ------------------------------------------------------- */

static int hist_init(struct hist *h, int64_t lo_us, int64_t hi_us)
{
	memset(h, 0, sizeof(*h));
	h->lo_us = lo_us;
	h->nbins = (unsigned)((hi_us - lo_us) / BIN_US) + 1;
	h->bin = calloc(h->nbins, sizeof(*h->bin));
	h->max_us = INT64_MIN;

	return h->bin ? 0 : ENOMEM;
}


static void hist_add(struct hist *h, int64_t ns)
{
	int64_t us = ns / 1000;
	int64_t i = (us - h->lo_us) / BIN_US;

	if (i < 0)
		i = 0;
	if (i >= (int64_t)h->nbins)
		i = h->nbins - 1;

	++h->bin[i];
	++h->n;
	if (us > h->max_us)
		h->max_us = us;
}


/* The upper bound of the bin that holds the p-th percentile. */
static int64_t hist_pct(const struct hist *h, double p)
{
	uint64_t want = (uint64_t)((double)h->n * p / 100.0 + 0.5), sum = 0;

	if (!want)
		want = 1;

	for (unsigned i = 0; i < h->nbins; i++) {
		sum += h->bin[i];
		if (sum >= want) {
			int64_t up = h->lo_us + (int64_t)(i + 1) * BIN_US;

			return up < h->max_us ? up : h->max_us;
		}
	}

	return h->max_us;
}


static void hist_out(const struct hist *h, struct rx_dist *d)
{
	d->n = h->n;
	if (!h->n)
		return;

	d->p50_us = hist_pct(h, 50);
	d->p99_us = hist_pct(h, 99);
	d->max_us = h->max_us;
}


/* ---- the child -------------------------------------------------------- */

static void on_rtp(struct child *c, const uint8_t *p, size_t len,
		   uint16_t port, int64_t t)
{
	struct source *s = &c->src[port];
	bool in = c->open_ns && t >= c->open_ns && t < c->close_ns;
	uint16_t seq, d;
	uint32_t ts;

	if (len < 12 || (p[0] >> 6) != 2)
		return;

	seq = (uint16_t)(p[2] << 8 | p[3]);
	ts = (uint32_t)p[4] << 24 | (uint32_t)p[5] << 16 |
		(uint32_t)p[6] << 8 | p[7];
	++c->rep.rtp_all;

	if (!s->seen) {
		s->seen = true;
		s->t0 = t;
		s->ts0 = ts;
		++c->rep.sources;
	}
	else {
		d = (uint16_t)(seq - s->last_seq);

		if (d == 0 || d >= 0x8000) {
			/* A duplicate or a late one: no new last packet. */
			if (in) {
				++c->rep.disorder;
				++c->rep.rtp;
			}
			return;
		}

		if (in) {
			uint32_t tsd = ts - s->last_ts;

			c->rep.lost += d - 1u;
			hist_add(&c->ia, t - s->last);
			if (d == 1 && tsd > FRAME_TS)
				c->rep.skipped += tsd / FRAME_TS - 1;
		}
	}

	if (in) {
		int64_t frames = (int64_t)((uint32_t)(ts - s->ts0) / FRAME_TS);

		++c->rep.rtp;
		hist_add(&c->err, t - (s->t0 + frames * FRAME_NS));
	}

	s->last_seq = seq;
	s->last_ts = ts;
	s->last = t;
}


/* Reads whatever is queued on sink i without waiting. */
static void drain(struct child *c, unsigned i)
{
	static uint8_t buf[VLEN][RECV_LEN];
	static uint8_t cbuf[VLEN][CMSG_SPACE(sizeof(struct timespec)) +
				  CMSG_SPACE(sizeof(uint32_t))];
	struct sockaddr_in from[VLEN];
	struct mmsghdr msgs[VLEN];
	struct iovec iov[VLEN];
	bool rtcp = i & 1;

	for (;;) {
		int got;

		memset(msgs, 0, sizeof(msgs));
		for (int k = 0; k < VLEN; k++) {
			iov[k].iov_base = buf[k];
			iov[k].iov_len = RECV_LEN;
			msgs[k].msg_hdr.msg_iov = &iov[k];
			msgs[k].msg_hdr.msg_iovlen = 1;
			msgs[k].msg_hdr.msg_name = &from[k];
			msgs[k].msg_hdr.msg_namelen = sizeof(from[k]);
			msgs[k].msg_hdr.msg_control = cbuf[k];
			msgs[k].msg_hdr.msg_controllen = sizeof(cbuf[k]);
		}

		got = recvmmsg(c->fd[i], msgs, VLEN, MSG_DONTWAIT, NULL);
		if (got <= 0)
			break;

		for (int k = 0; k < got; k++) {
			struct msghdr *mh = &msgs[k].msg_hdr;
			int64_t t = 0;

			for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm;
			     cm = CMSG_NXTHDR(mh, cm)) {
				if (cm->cmsg_level != SOL_SOCKET)
					continue;
				if (cm->cmsg_type == SO_TIMESTAMPNS) {
					struct timespec ts;

					memcpy(&ts, CMSG_DATA(cm), sizeof(ts));
					t = (int64_t)ts.tv_sec * 1000000000 +
						ts.tv_nsec;
				}
				else if (cm->cmsg_type == SO_RXQ_OVFL) {
					memcpy(&c->ovfl[i / 2], CMSG_DATA(cm),
					       sizeof(uint32_t));
				}
			}

			if (rtcp) {
				++c->rep.rtcp;
				continue;
			}
			if (!t)
				t = rx_realtime_ns();

			on_rtp(c, buf[k], msgs[k].msg_len,
			       ntohs(from[k].sin_port), t);
		}

		if (got < VLEN)
			break;
	}
}


static void child_run(struct child *c, int wr, pid_t parent)
{
	struct pollfd pfd[2 * RX_SINKS + 1];
	bool quit = false;
	ssize_t w;

	/* The child must not outlive the benchmark, however that ends. */
	(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(0);

	c->src = calloc(65536, sizeof(*c->src));
	if (!c->src || hist_init(&c->ia, 0, 2000000) ||
	    hist_init(&c->err, -1000000, 2000000))
		_exit(1);

	for (int i = 0; i < 2 * RX_SINKS; i++) {
		pfd[i].fd = c->fd[i];
		pfd[i].events = POLLIN;
	}
	pfd[2 * RX_SINKS].fd = c->ctl;
	pfd[2 * RX_SINKS].events = POLLIN;

	while (!quit) {
		if (poll(pfd, 2 * RX_SINKS + 1, 200) <= 0)
			continue;

		for (unsigned i = 0; i < 2 * RX_SINKS; i++) {
			if (pfd[i].revents & POLLIN)
				drain(c, i);
		}

		if (pfd[2 * RX_SINKS].revents) {
			struct ctl_msg m;

			if (read(c->ctl, &m, sizeof(m)) != sizeof(m) ||
			    m.what == 'q') {
				quit = true;
			}
			else {
				c->open_ns = m.open_ns;
				c->close_ns = m.close_ns;
			}
		}
	}

	/* What was still queued when the parent said stop counts too. */
	for (unsigned i = 0; i < 2 * RX_SINKS; i++)
		drain(c, i);

	for (unsigned i = 0; i < RX_SINKS; i++)
		c->rep.drops += c->ovfl[i];
	hist_out(&c->ia, &c->rep.ia);
	hist_out(&c->err, &c->rep.err);
	c->rep.cpu_us = bench_cpu_us();

	w = write(wr, &c->rep, sizeof(c->rep));
	_exit(w == (ssize_t)sizeof(c->rep) ? 0 : 1);
}


/* ---- the parent's side ------------------------------------------------ */

static int sink_socket(uint16_t port, int *fdp, uint16_t *portp)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd, sz = SINK_RCVBUF, on = 1;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errno;

	/* SO_RCVBUFFORCE passes net.core.rmem_max where the process may;
	 * elsewhere SO_RCVBUF gets what the limit allows. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)))
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	(void)setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof(on));
	(void)setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &on, sizeof(on));

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(port);

	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) ||
	    getsockname(fd, (struct sockaddr *)&sin, &len)) {
		int err = errno;

		close(fd);
		return err;
	}

	*fdp = fd;
	*portp = ntohs(sin.sin_port);

	return 0;
}


/* An ephemeral port and the one above it, retried while the upper one
 * is taken. */
static int sink_pair(struct child *c, struct rx *rx, unsigned i)
{
	for (int tries = 0; tries < 50; tries++) {
		uint16_t port, port2;
		int err;

		err = sink_socket(0, &c->fd[2 * i], &port);
		if (err)
			return err;

		if (port < 65535 &&
		    !sink_socket((uint16_t)(port + 1), &c->fd[2 * i + 1],
				 &port2)) {
			memset(&rx->addr[i], 0, sizeof(rx->addr[i]));
			rx->addr[i].sin_family = AF_INET;
			rx->addr[i].sin_addr.s_addr = htonl(INADDR_LOOPBACK);
			rx->addr[i].sin_port = htons(port);
			return 0;
		}

		close(c->fd[2 * i]);
		c->fd[2 * i] = -1;
	}

	return EADDRINUSE;
}


static void close_fds(struct child *c)
{
	for (int i = 0; i < 2 * RX_SINKS; i++) {
		if (c->fd[i] >= 0)
			close(c->fd[i]);
		c->fd[i] = -1;
	}
}


int rx_start(struct rx *rx)
{
	struct child c;
	socklen_t len = sizeof(rx->rcvbuf);
	pid_t parent = getpid();
	int rep[2] = { -1, -1 }, ctl[2] = { -1, -1 }, err = 0;

	memset(rx, 0, sizeof(*rx));
	memset(&c, 0, sizeof(c));
	rx->pid = -1;
	rx->ctl = rx->rd = -1;
	for (int i = 0; i < 2 * RX_SINKS; i++)
		c.fd[i] = -1;

	for (unsigned i = 0; i < RX_SINKS; i++) {
		err = sink_pair(&c, rx, i);
		if (err)
			goto out;
	}

	(void)getsockopt(c.fd[0], SOL_SOCKET, SO_RCVBUF, &rx->rcvbuf, &len);

	if (pipe2(rep, O_CLOEXEC) || pipe2(ctl, O_CLOEXEC)) {
		err = errno;
		goto out;
	}

	/* The child leaves with _exit() and never writes stdio's buffers. */
	rx->pid = fork();
	if (rx->pid < 0) {
		err = errno;
		goto out;
	}

	if (rx->pid == 0) {
		close(rep[0]);
		close(ctl[1]);
		c.ctl = ctl[0];
		child_run(&c, rep[1], parent);
	}

	rx->rd = rep[0];
	rx->ctl = ctl[1];
	rep[0] = ctl[1] = -1;

 out:
	/* The child holds the sockets; the sender's process keeps no copy,
	 * so nothing of the receive side is charged to it. */
	close_fds(&c);
	for (int i = 0; i < 2; i++) {
		if (rep[i] >= 0)
			close(rep[i]);
		if (ctl[i] >= 0)
			close(ctl[i]);
	}

	return err;
}


int rx_window(struct rx *rx, int64_t open_ns, int64_t close_ns)
{
	struct ctl_msg m;

	memset(&m, 0, sizeof(m));
	m.what = 'w';
	m.open_ns = open_ns;
	m.close_ns = close_ns;

	return write(rx->ctl, &m, sizeof(m)) == sizeof(m) ? 0 : EIO;
}


void rx_stop(struct rx *rx, struct rx_report *rep)
{
	struct ctl_msg m;

	memset(rep, 0, sizeof(*rep));
	memset(&m, 0, sizeof(m));
	m.what = 'q';

	if (rx->pid > 0) {
		if (write(rx->ctl, &m, sizeof(m)) != sizeof(m))
			(void)kill(rx->pid, SIGKILL);
		if (read(rx->rd, rep, sizeof(*rep)) != (ssize_t)sizeof(*rep))
			memset(rep, 0, sizeof(*rep));
		while (waitpid(rx->pid, NULL, 0) < 0 && errno == EINTR)
			;
		rx->pid = -1;
	}

	if (rx->ctl >= 0)
		close(rx->ctl);
	if (rx->rd >= 0)
		close(rx->rd);
	rx->ctl = rx->rd = -1;
}
