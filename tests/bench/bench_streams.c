/**
 * @file bench_streams.c  RTP streamer capacity: N streams on the real loop
 *
 * For each stream count N (100, 500, 1000 and 2000 unless others are
 * given) the benchmark starts N streams of the built-in ringback tone,
 * PCMU, from the port range 30000-39999 on 127.0.0.1 toward a few sink
 * sockets, runs the real loop for a warm-up and then for a measured window
 * (5 s unless -s says otherwise), and prints one line of figures per N.
 *
 * The sinks live in a forked child that drains them with recvmmsg(), so
 * that receiving costs the streamer's process nothing: getrusage() of the
 * parent over the window is the streamer's own CPU time (the loop, the
 * tick and the kernel's send path, which on loopback also delivers into
 * the sinks' queues).  Each sink is a pair of sockets, an RTP port and the
 * RTCP port above it, so that no sender report meets a closed port.  Their
 * receive buffers are made large so that the child falls behind only when
 * the machine really is out of time; what it received is printed next to
 * what was sent.
 *
 * The streamer exposes no timing of its own, so a probe timer on the same
 * loop, re-armed every 10 ms as the streamer's tick is, measures how late
 * the loop runs timers: its largest lateness, and how many firings were
 * more than one frame (20 ms) late.  A stream keeps time by its own clock
 * and skips what is more than a few frames late, so lateness shows as a
 * shortfall of packets sent against the expected N * 50 per second.
 *
 * Nothing here asserts a speed: the machines are shared and noisy, so the
 * figures are printed for people to read.  The benchmark stops every
 * stream and the child, frees what it allocated and exits 0.  A count the
 * port range or the descriptor limit cannot hold, or whose streams cannot
 * all get ports (another program may use the range), is not run, with a
 * line that says so.  The exit status is 1 only when the benchmark could
 * not start (libraries, media, sinks) or a round's loop did not end.  A
 * watchdog timer ends such a round, and alarm() ends the whole process as
 * a last resort (the child dies with it, PR_SET_PDEATHSIG).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <re.h>
#include "core/core.h"
#include "rtp/rtp.h"

enum {
	PORT_LO = 30000,
	PORT_HI = 39999,
	SINKS = 4,                    /* sink port pairs */
	SINK_RCVBUF = 8 << 20,        /* asked for; the kernel may cap it */
	VLEN = 64,                    /* datagrams per recvmmsg() */
	RECV_LEN = 2048,
	WARM_MS = 500,                /* before the window opens */
	PROBE_MS = 10,                /* the streamer's tick period */
	FRAME_MS = 20,
	PPS_PER_STREAM = 1000 / FRAME_MS,
	MAX_SECONDS = 60,
	MAX_COUNTS = 16,
	FD_SPARE = 64,                /* beyond two per stream */
};


/* ---- time and resources ----------------------------------------------- */

static uint64_t mono_us(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);

	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000;
}


/* User plus system CPU time of this process only: the sink child is not
 * counted, as RUSAGE_SELF leaves children out. */
static uint64_t cpu_us(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru))
		return 0;

	return (uint64_t)ru.ru_utime.tv_sec * 1000000u +
		(uint64_t)ru.ru_utime.tv_usec +
		(uint64_t)ru.ru_stime.tv_sec * 1000000u +
		(uint64_t)ru.ru_stime.tv_usec;
}


/* A line of /proc/self/status in KiB: VmRSS now, VmHWM its peak.  Both
 * come from one source, so the peak is never below the current figure,
 * which getrusage()'s ru_maxrss, counted differently, can be. */
static long status_kib(const char *key)
{
	size_t klen = strlen(key);
	char line[256];
	long kib = 0;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return 0;

	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, key, klen) && line[klen] == ':') {
			kib = strtol(line + klen + 1, NULL, 10);
			break;
		}
	}

	fclose(f);

	return kib;
}


/* Every stream needs two descriptors; take what the hard limit allows,
 * but no more than the loop can map (it indexes events by fd). */
static rlim_t fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return 1024;

	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (rl.rlim_cur > 65536)
			rl.rlim_cur = 65536;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
		(void)getrlimit(RLIMIT_NOFILE, &rl);
	}

	return rl.rlim_cur;
}


/* ---- the sinks, drained in a child process ---------------------------- */

struct sink_counts {
	uint64_t rtp;
	uint64_t rtcp;
};

struct sinks {
	int fd[2 * SINKS];            /* RTP at even index, RTCP above */
	struct sa addr[SINKS];        /* the RTP addresses */
	int rcvbuf;                   /* what the kernel granted, bytes */
	pid_t pid;
	int rd;                       /* the child's report */
};

static volatile sig_atomic_t sink_stop;


static void sink_on_term(int sig)
{
	(void)sig;
	sink_stop = 1;
}


static int sink_socket(uint16_t port, int *fdp, uint16_t *portp)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd, sz = SINK_RCVBUF;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errno;

	/* SO_RCVBUFFORCE passes net.core.rmem_max where the process may;
	 * elsewhere SO_RCVBUF gets what the limit allows. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)))
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));

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
static int sink_pair(struct sinks *sk, unsigned i)
{
	for (int tries = 0; tries < 50; tries++) {
		uint16_t port, port2;
		int err;

		err = sink_socket(0, &sk->fd[2 * i], &port);
		if (err)
			return err;

		if (port < 65535 &&
		    !sink_socket((uint16_t)(port + 1), &sk->fd[2 * i + 1],
				 &port2)) {
			(void)sa_set_str(&sk->addr[i], "127.0.0.1", port);
			return 0;
		}

		close(sk->fd[2 * i]);
		sk->fd[2 * i] = -1;
	}

	return EADDRINUSE;
}


/* Reads whatever is queued on fd without waiting; returns datagrams. */
static uint64_t sink_drain(int fd)
{
	static uint8_t buf[VLEN][RECV_LEN];
	struct mmsghdr msgs[VLEN];
	struct iovec iov[VLEN];
	uint64_t n = 0;

	for (;;) {
		int got;

		memset(msgs, 0, sizeof(msgs));
		for (int i = 0; i < VLEN; i++) {
			iov[i].iov_base = buf[i];
			iov[i].iov_len = RECV_LEN;
			msgs[i].msg_hdr.msg_iov = &iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
		}

		got = recvmmsg(fd, msgs, VLEN, MSG_DONTWAIT, NULL);
		if (got <= 0)
			break;

		n += (uint64_t)got;
		if (got < VLEN)
			break;
	}

	return n;
}


static void sink_child(struct sinks *sk, int wr, pid_t parent)
{
	struct sink_counts c = { 0, 0 };
	struct pollfd pfd[2 * SINKS];
	struct sigaction sa;
	ssize_t w;

	/* The child must not outlive the benchmark, however that ends. */
	(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(0);

	/* No SA_RESTART: SIGTERM interrupts poll() at once. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = sink_on_term;
	sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGTERM, &sa, NULL);

	for (int i = 0; i < 2 * SINKS; i++) {
		pfd[i].fd = sk->fd[i];
		pfd[i].events = POLLIN;
	}

	while (!sink_stop) {
		if (poll(pfd, 2 * SINKS, 100) <= 0)
			continue;

		for (int i = 0; i < 2 * SINKS; i++) {
			uint64_t n;

			if (!(pfd[i].revents & POLLIN))
				continue;

			n = sink_drain(pfd[i].fd);
			if (i & 1)
				c.rtcp += n;
			else
				c.rtp += n;
		}
	}

	/* What was still queued when the parent said stop counts too. */
	for (int i = 0; i < 2 * SINKS; i++) {
		uint64_t n = sink_drain(sk->fd[i]);

		if (i & 1)
			c.rtcp += n;
		else
			c.rtp += n;
	}

	w = write(wr, &c, sizeof(c));
	_exit(w == (ssize_t)sizeof(c) ? 0 : 1);
}


static void sinks_close_fds(struct sinks *sk)
{
	for (int i = 0; i < 2 * SINKS; i++) {
		if (sk->fd[i] >= 0)
			close(sk->fd[i]);
		sk->fd[i] = -1;
	}
}


static int sinks_start(struct sinks *sk)
{
	socklen_t len = sizeof(sk->rcvbuf);
	pid_t parent = getpid();
	int p[2], err = 0;

	memset(sk, 0, sizeof(*sk));
	sk->pid = -1;
	sk->rd = -1;
	for (int i = 0; i < 2 * SINKS; i++)
		sk->fd[i] = -1;

	for (unsigned i = 0; i < SINKS; i++) {
		err = sink_pair(sk, i);
		if (err)
			goto out;
	}

	(void)getsockopt(sk->fd[0], SOL_SOCKET, SO_RCVBUF, &sk->rcvbuf,
			 &len);

	if (pipe2(p, O_CLOEXEC)) {
		err = errno;
		goto out;
	}

	/* The child leaves with _exit() and never writes stdio's buffers,
	 * but a flush here keeps the output in order all the same. */
	fflush(stdout);
	fflush(stderr);

	sk->pid = fork();
	if (sk->pid < 0) {
		err = errno;
		close(p[0]);
		close(p[1]);
		goto out;
	}

	if (sk->pid == 0) {
		close(p[0]);
		sink_child(sk, p[1], parent);
	}

	close(p[1]);
	sk->rd = p[0];

	/* The child holds the sockets now; the streamer's process keeps no
	 * copy, so nothing of the receive side is charged to it. */
	sinks_close_fds(sk);

 out:
	if (err)
		sinks_close_fds(sk);

	return err;
}


/* Stops the child and reads what it received; zeros if it said nothing. */
static void sinks_stop(struct sinks *sk, struct sink_counts *c)
{
	memset(c, 0, sizeof(*c));

	if (sk->pid > 0) {
		(void)kill(sk->pid, SIGTERM);
		if (read(sk->rd, c, sizeof(*c)) != (ssize_t)sizeof(*c))
			memset(c, 0, sizeof(*c));
		while (waitpid(sk->pid, NULL, 0) < 0 && errno == EINTR)
			;
		sk->pid = -1;
	}

	if (sk->rd >= 0) {
		close(sk->rd);
		sk->rd = -1;
	}
}


/* ---- one round -------------------------------------------------------- */

struct round {
	unsigned n;
	struct stream **s;
	struct tmr t_open;            /* the window opens */
	struct tmr t_close;           /* the window closes */
	struct tmr t_probe;
	struct tmr t_watchdog;
	uint32_t window_ms;
	bool timed_out;

	/* At the window's opening and closing. */
	uint64_t pk0, pk1;
	uint64_t wall0, wall1;        /* us */
	uint64_t cpu0, cpu1;          /* us */
	unsigned running1;            /* streams still running at the close */

	/* The probe timer. */
	bool probing;
	uint64_t probe_due;           /* us */
	uint64_t late_max;            /* us */
	uint64_t late_sum;            /* us */
	unsigned probes;
	unsigned late_frames;         /* firings more than a frame late */
};


static uint64_t packets_sum(const struct round *r, unsigned *running)
{
	struct stream_stats st;
	uint64_t sum = 0;

	if (running)
		*running = 0;

	for (unsigned i = 0; i < r->n; i++) {
		if (!r->s[i])
			continue;

		stream_stats_get(r->s[i], &st);
		sum += st.packets;
		if (running && stream_running(r->s[i]))
			++*running;
	}

	return sum;
}


static void probe(void *arg)
{
	struct round *r = arg;
	uint64_t now = mono_us();

	if (!r->probing)
		return;

	if (now > r->probe_due) {
		uint64_t late = now - r->probe_due;

		if (late > r->late_max)
			r->late_max = late;
		if (late > FRAME_MS * 1000u)
			++r->late_frames;
		r->late_sum += late;
	}
	++r->probes;

	r->probe_due = now + PROBE_MS * 1000u;
	tmr_start(&r->t_probe, PROBE_MS, probe, r);
}


static void window_close(void *arg)
{
	struct round *r = arg;

	r->wall1 = mono_us();
	r->cpu1 = cpu_us();
	r->pk1 = packets_sum(r, &r->running1);
	r->probing = false;
	tmr_cancel(&r->t_probe);

	loop_stop();
}


static void window_open(void *arg)
{
	struct round *r = arg;

	r->pk0 = packets_sum(r, NULL);
	r->cpu0 = cpu_us();
	r->wall0 = mono_us();

	r->probing = true;
	r->probe_due = r->wall0 + PROBE_MS * 1000u;
	tmr_start(&r->t_probe, PROBE_MS, probe, r);
	tmr_start(&r->t_close, r->window_ms, window_close, r);
}


static void watchdog(void *arg)
{
	struct round *r = arg;

	r->timed_out = true;
	loop_stop();
}


static void print_header(void)
{
	printf("%7s %9s %9s %6s %8s %9s %6s %8s %9s %8s %10s %8s %8s\n",
	       "streams", "sent", "expected", "sent%", "window_s", "pkt/s",
	       "cpu%",
	       "setup_ms", "late_max", "late>20", "recv_lost", "rss_kib",
	       "peak_kib");
	fflush(stdout);
}


/*
 * One round of n streams.  Returns 0 when it ran (a line of figures) or
 * when its streams could not all be set up (a line says why), an error
 * when the sinks could not start or the loop did not end; either way
 * everything it started is stopped and freed.
 */
static int round_run(struct streamer *st, struct media *m, unsigned n,
		     uint32_t seconds)
{
	struct round r;
	struct sinks sk;
	struct sink_counts rx;
	uint64_t t_setup, total = 0, expected;
	bool ran = false;
	double wall_s, pps, cpu_pct, setup_ms = 0;
	int err;

	memset(&r, 0, sizeof(r));
	r.n = n;
	r.window_ms = seconds * 1000u;
	tmr_init(&r.t_open);
	tmr_init(&r.t_close);
	tmr_init(&r.t_probe);
	tmr_init(&r.t_watchdog);

	r.s = mem_zalloc(n * sizeof(*r.s), NULL);
	if (!r.s)
		return ENOMEM;

	err = sinks_start(&sk);
	if (err) {
		fprintf(stderr, "bench_streams: sinks: %s\n", strerror(err));
		mem_deref(r.s);
		return err;
	}

	/* Set-up time covers binding both ports and the first packet,
	 * which stream_start() sends at once. */
	t_setup = mono_us();
	for (unsigned i = 0; i < n; i++) {
		err = stream_alloc(&r.s[i], st);
		if (!err)
			err = stream_start(r.s[i], m, MEDIA_PT_PCMU,
					   &sk.addr[i % SINKS]);
		if (err) {
			/* Another program may hold much of the range:
			 * that round is not run, the others still are. */
			printf("%7u  not run: stream %u: %s\n", n, i,
			       strerror(err));
			err = 0;
			goto out;
		}
	}
	setup_ms = (double)(mono_us() - t_setup) / 1000.0;

	tmr_start(&r.t_open, WARM_MS, window_open, &r);
	tmr_start(&r.t_watchdog, WARM_MS + r.window_ms + 10000u, watchdog,
		  &r);
	err = loop_run();

	tmr_cancel(&r.t_open);
	tmr_cancel(&r.t_close);
	tmr_cancel(&r.t_probe);
	tmr_cancel(&r.t_watchdog);

	if (err || r.timed_out || !r.wall1) {
		fprintf(stderr, "bench_streams: %u streams: the loop %s\n", n,
			r.timed_out ? "did not end in time" : "failed");
		err = err ? err : ETIMEDOUT;
		goto out;
	}

	/* Every RTP packet of the round, for the comparison with what the
	 * sinks received (the window's figures are pk1 - pk0). */
	total = packets_sum(&r, NULL);
	ran = true;

 out:
	for (unsigned i = 0; i < n; i++)
		r.s[i] = mem_deref(r.s[i]);
	mem_deref(r.s);

	/* After the streams: their BYEs reach open sockets. */
	sinks_stop(&sk, &rx);

	if (err || !ran)
		return err;

	wall_s = (double)(r.wall1 - r.wall0) / 1e6;
	expected = (uint64_t)n * PPS_PER_STREAM * seconds;
	pps = wall_s > 0 ? (double)(r.pk1 - r.pk0) / wall_s : 0;
	cpu_pct = wall_s > 0 ?
		(double)(r.cpu1 - r.cpu0) / 1e4 / wall_s : 0;

	printf("%7u %9llu %9llu %6.1f %8.3f %9.0f %6.1f %8.1f %7.1fms %8u "
	       "%10lld %8ld %8ld\n",
	       n, (unsigned long long)(r.pk1 - r.pk0),
	       (unsigned long long)expected,
	       expected ? 100.0 * (double)(r.pk1 - r.pk0) /
			  (double)expected : 0,
	       wall_s, pps, cpu_pct, setup_ms, (double)r.late_max / 1000.0,
	       r.late_frames, (long long)total - (long long)rx.rtp,
	       status_kib("VmRSS"), status_kib("VmHWM"));

	if (r.running1 < n)
		printf("        (%u of %u streams had stopped by the end)\n",
		       n - r.running1, n);
	fflush(stdout);

	return 0;
}


/* ---- main ------------------------------------------------------------- */

static void usage(void)
{
	fprintf(stderr, "usage: bench_streams [-s SECONDS] [STREAMS ...]\n"
		"  default: -s 5 100 500 1000 2000 (ports %u-%u on "
		"127.0.0.1)\n", PORT_LO, PORT_HI);
}


int main(int argc, char *argv[])
{
	unsigned counts[MAX_COUNTS] = { 100, 500, 1000, 2000 };
	unsigned ncounts = 4, pairs;
	uint32_t seconds = 5;
	struct streamer *st = NULL;
	struct table *t = NULL;
	struct resource *res;
	struct media *m;
	struct sa ip;
	rlim_t fds;
	int opt, err, ret = 1;
	unsigned long budget = 0;

	while ((opt = getopt(argc, argv, "s:h")) != -1) {
		switch (opt) {

		case 's':
			seconds = (uint32_t)strtoul(optarg, NULL, 10);
			if (!seconds || seconds > MAX_SECONDS) {
				usage();
				return 2;
			}
			break;

		default:
			usage();
			return opt == 'h' ? 0 : 2;
		}
	}

	if (optind < argc) {
		ncounts = 0;
		for (int i = optind; i < argc && ncounts < MAX_COUNTS; i++) {
			unsigned long v = strtoul(argv[i], NULL, 10);

			if (!v || v > 100000) {
				usage();
				return 2;
			}
			counts[ncounts++] = (unsigned)v;
		}
	}

	/* A last resort that ends everything: each round's warm-up, window
	 * and set-up, with a generous margin. */
	for (unsigned i = 0; i < ncounts; i++)
		budget += WARM_MS / 1000 + 1 + seconds + 10;
	alarm((unsigned)budget + 30);

	fds = fd_limit();
	pairs = (PORT_HI - PORT_LO + 1) / 2;

	if (libre_init()) {
		fprintf(stderr, "bench_streams: libre_init failed\n");
		return 1;
	}
	err = loop_init();
	if (err) {
		fprintf(stderr, "bench_streams: loop: %s\n", strerror(err));
		goto out;
	}

	/* Only what goes wrong reaches stderr. */
	log_setup(LVL_WARN);

	err = table_alloc(&t);
	if (!err)
		err = tones_add_builtin(t);
	if (err || media_attach_table(t)) {
		fprintf(stderr, "bench_streams: built-in media: %s\n",
			err ? strerror(err) : "conversion failed");
		goto out;
	}

	res = table_resource(t, "ringback-default");
	m = res ? res->media : NULL;
	if (!m) {
		fprintf(stderr, "bench_streams: no ringback-default media\n");
		goto out;
	}

	(void)sa_set_str(&ip, "127.0.0.1", 0);
	err = streamer_alloc(&st, &ip, PORT_LO, PORT_HI);
	if (err) {
		fprintf(stderr, "bench_streams: streamer: %s\n",
			strerror(err));
		goto out;
	}

	printf("# RTP streamer: PCMU 20 ms, ports %u-%u on 127.0.0.1, "
	       "%u sink pairs in a child, %u s window after %u ms warm-up\n",
	       PORT_LO, PORT_HI, SINKS, seconds, WARM_MS);
	printf("# sent: RTP packets in the window (stream_stats_get); "
	       "expected: streams * 50 * %u;\n"
	       "# window_s: the window as it ran (its end is a timer too, "
	       "so it can run late); pkt/s: sent / window_s;\n"
	       "# cpu%%: this process's user+sys time over the window, of "
	       "one core;\n"
	       "# late_max, late>20: a %u ms probe timer on the same loop, "
	       "its largest lateness\n"
	       "#   and firings later than one frame; recv_lost: RTP sent "
	       "in the round minus received by the sinks\n",
	       seconds, PROBE_MS);
	print_header();

	for (unsigned i = 0; i < ncounts; i++) {
		unsigned n = counts[i];

		if (n > pairs || (rlim_t)n * 2 + FD_SPARE > fds) {
			printf("%7u  skipped: needs %u port pairs (range has "
			       "%u) and %u descriptors (limit %llu)\n", n, n,
			       pairs, 2 * n + FD_SPARE,
			       (unsigned long long)fds);
			continue;
		}

		if (round_run(st, m, n, seconds))
			goto out;
	}

	ret = 0;

 out:
	mem_deref(st);
	mem_deref(t);
	loop_close();
	libre_close();

	return ret;
}
