/**
 * @file bench_streams.c  RTP streamer capacity: N streams on the real loop
 *
 * For each stream count N (1000, 2000, 5000 and 7500 unless others are
 * given) the benchmark starts N streams of the built-in ringback tone,
 * PCMU, from the port range 20000-39999 on 127.0.0.1 toward the sinks of
 * rtprx.c, runs the real loop for a warm-up and then for a measured
 * window (5 s unless -s says otherwise), and prints its figures.  This is
 * cmrlab's streamer library (rtp/streamer.c) on cmrlab's loop, driven
 * directly: no SIP, no binary.
 *
 * The sinks live in a forked child (rtprx.c), so that receiving costs
 * the streamer's process nothing: getrusage() of the parent over the
 * window is the streamer's own CPU time (the loop, the tick and the
 * kernel's send path, which on loopback also delivers into the sinks'
 * queues).  The child measures, over the same window by the kernel's
 * receive stamps: packets per second, loss (sequence gaps), drops at its
 * own queues, frames the streamer skipped, the inter-arrival time of
 * each stream's packets and the send-time error, each packet's arrival
 * against its stream's 20 ms grid.
 *
 * A probe timer on the same loop, re-armed every 10 ms as the streamer's
 * tick is, measures how late the loop runs timers: its largest lateness,
 * and how many firings were more than one frame (20 ms) late.
 *
 * Then, for the same N, the yardstick: a plain C sender (sendlimit.c)
 * with N sockets toward the same sinks sends unpaced RTP of the same
 * size for LIMIT_MS, in sendmmsg() batches of 1 and of 16 packets per
 * socket; its packet rate is the one-core limit, and the streamer's
 * packet rate and CPU time per packet are printed against it.
 *
 * Nothing here asserts a speed: the machines are shared and noisy, so
 * the figures are printed for people to read, as tables and, last, as
 * one line "streams: {JSON}".  A count the port range or the descriptor
 * limit cannot hold, or whose streams cannot all get ports, is not run,
 * with a line that says so.  The exit status is 1 only when the
 * benchmark could not start (libraries, media, sinks) or a round's loop
 * did not end; a watchdog timer ends such a round, and alarm() ends the
 * whole process as a last resort (the child dies with it).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include <arpa/inet.h>
#include <re.h>
#include "core/core.h"
#include "rtp/rtp.h"
#include "rtprx.h"
#include "sendlimit.h"
#include "benchtime.h"

enum {
	PORT_LO = 20000,
	PORT_HI = 39999,
	WARM_MS = 500,                /* before the window opens */
	PROBE_MS = 10,                /* the streamer's tick period */
	FRAME_MS = 20,
	PPS_PER_STREAM = 1000 / FRAME_MS,
	MAX_SECONDS = 60,
	MAX_COUNTS = 16,
	FD_SPARE = 64,                /* beyond two per stream */
	BATCH_BIG = 16,
};


struct figures {
	unsigned n;
	bool ran;
	double sent_pps, cpu_pct, us_per_pkt, setup_ms, late_max_ms;
	unsigned late_frames, stopped;
	struct rx_report rx;
	double rx_pps;
	long rss_kib;
	struct sendlimit lim[2];      /* batch 1, batch BATCH_BIG */
	struct rx_report lim_rx[2];
};

static uint32_t limit_ms = 2000;


/* ---- time and resources ----------------------------------------------- */

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


/* ---- one streamer round ----------------------------------------------- */

struct round {
	unsigned n;
	struct stream **s;
	struct tmr t_open, t_close, t_probe, t_watchdog;
	uint32_t window_ms;
	bool timed_out;

	uint64_t pk0, pk1;            /* packets at the window's ends */
	uint64_t wall0, wall1;        /* us */
	uint64_t cpu0, cpu1;          /* us */
	unsigned running1;

	bool probing;
	uint64_t probe_due;           /* us */
	uint64_t late_max;            /* us */
	unsigned late_frames;
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
	uint64_t now = bench_mono_us();

	if (!r->probing)
		return;

	if (now > r->probe_due) {
		uint64_t late = now - r->probe_due;

		if (late > r->late_max)
			r->late_max = late;
		if (late > FRAME_MS * 1000u)
			++r->late_frames;
	}

	r->probe_due = now + PROBE_MS * 1000u;
	tmr_start(&r->t_probe, PROBE_MS, probe, r);
}


static void window_close(void *arg)
{
	struct round *r = arg;

	r->wall1 = bench_mono_us();
	r->cpu1 = bench_cpu_us();
	r->pk1 = packets_sum(r, &r->running1);
	r->probing = false;
	tmr_cancel(&r->t_probe);

	loop_stop();
}


static void window_open(void *arg)
{
	struct round *r = arg;

	r->pk0 = packets_sum(r, NULL);
	r->cpu0 = bench_cpu_us();
	r->wall0 = bench_mono_us();

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


static void sa_from(struct sa *sa, const struct sockaddr_in *sin)
{
	sa_init(sa, AF_INET);
	sa_set_in(sa, ntohl(sin->sin_addr.s_addr), ntohs(sin->sin_port));
}


/*
 * One round of n streams into f.  Returns 0 when it ran (f->ran) or when
 * its streams could not all be set up (a line says why), an error when
 * the sinks could not start or the loop did not end; either way
 * everything it started is stopped and freed.
 */
static int round_run(struct streamer *st, struct media *m, unsigned n,
		     uint32_t seconds, struct figures *f)
{
	struct round r;
	struct rx rx;
	struct sa dst[RX_SINKS];
	uint64_t t_setup;
	int64_t open_ns;
	double wall_s;
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

	err = rx_start(&rx);
	if (err) {
		fprintf(stderr, "bench_streams: sinks: %s\n", strerror(err));
		mem_deref(r.s);
		return err;
	}
	for (unsigned i = 0; i < RX_SINKS; i++)
		sa_from(&dst[i], &rx.addr[i]);

	/* Set-up time covers binding both ports and the first packet,
	 * which stream_start() sends at once. */
	t_setup = bench_mono_us();
	for (unsigned i = 0; i < n; i++) {
		err = stream_alloc(&r.s[i], st);
		if (!err)
			err = stream_start(r.s[i], m, MEDIA_PT_PCMU,
					   &dst[i % RX_SINKS]);
		if (err) {
			/* Another program may hold much of the range:
			 * that round is not run, the others still are. */
			printf("%7u  not run: stream %u: %s\n", n, i,
			       strerror(err));
			err = 0;
			goto out;
		}
	}
	f->setup_ms = (double)(bench_mono_us() - t_setup) / 1000.0;

	/* The receiver's window is the same span by the kernel's clock. */
	open_ns = rx_realtime_ns() + (int64_t)WARM_MS * 1000000;
	(void)rx_window(&rx, open_ns, open_ns + (int64_t)r.window_ms *
			1000000);

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

	f->ran = true;
	f->rss_kib = status_kib("VmRSS");

 out:
	for (unsigned i = 0; i < n; i++)
		r.s[i] = mem_deref(r.s[i]);
	mem_deref(r.s);

	/* After the streams: their BYEs reach open sockets. */
	rx_stop(&rx, &f->rx);

	if (err || !f->ran)
		return err;

	wall_s = (double)(r.wall1 - r.wall0) / 1e6;
	f->sent_pps = wall_s > 0 ? (double)(r.pk1 - r.pk0) / wall_s : 0;
	f->cpu_pct = wall_s > 0 ? (double)(r.cpu1 - r.cpu0) / 1e4 / wall_s
		: 0;
	f->us_per_pkt = r.pk1 > r.pk0 ?
		(double)(r.cpu1 - r.cpu0) / (double)(r.pk1 - r.pk0) : 0;
	f->late_max_ms = (double)r.late_max / 1000.0;
	f->late_frames = r.late_frames;
	f->stopped = n - r.running1;
	f->rx_pps = (double)f->rx.rtp / seconds;

	return 0;
}


/* The yardstick for n: the plain sender with n sockets, batch 1 and
 * BATCH_BIG, each toward a fresh receiver. */
static int limit_run(unsigned n, struct figures *f)
{
	static const unsigned batch[2] = { 1, BATCH_BIG };

	for (unsigned b = 0; b < 2; b++) {
		struct rx rx;
		int64_t now;
		int err;

		err = rx_start(&rx);
		if (err)
			return err;

		now = rx_realtime_ns();
		(void)rx_window(&rx, now, now + (int64_t)(limit_ms + 60000) *
				1000000);
		err = sendlimit_run(rx.addr, RX_SINKS, n, batch[b], limit_ms,
				    &f->lim[b]);
		rx_stop(&rx, &f->lim_rx[b]);
		if (err) {
			printf("%7u  limit not run: %s\n", n, strerror(err));
			memset(&f->lim[b], 0, sizeof(f->lim[b]));
		}
	}

	return 0;
}


/* ---- output ----------------------------------------------------------- */

static double lim_pps(const struct sendlimit *l)
{
	return l->wall_us ? (double)l->packets * 1e6 / (double)l->wall_us : 0;
}


static double lim_us_per_pkt(const struct sendlimit *l)
{
	return l->packets ? (double)l->cpu_us / (double)l->packets : 0;
}


/* The better of the two batches: the one-core limit. */
static const struct sendlimit *best(const struct figures *f, unsigned *b)
{
	*b = lim_pps(&f->lim[1]) > lim_pps(&f->lim[0]) ? 1 : 0;

	return &f->lim[*b];
}


static double ms(int64_t us)
{
	return (double)us / 1000.0;
}


static void print_tables(const struct figures *fs, unsigned nf,
			 uint32_t seconds)
{
	printf("streamer, send side (%u s window after %u ms warm-up; "
	       "cpu%%: the streamer's process, of one core; us/pkt: its CPU "
	       "per packet sent;\n  late_max, late>20: a %u ms probe timer on "
	       "the same loop, its largest lateness and firings later than "
	       "one frame):\n", seconds, WARM_MS, PROBE_MS);
	printf("  %7s %9s %9s %7s %6s %7s %8s %8s %7s %8s %8s\n", "streams",
	       "pkt/s", "expected", "sent%", "cpu%", "us/pkt", "setup_ms",
	       "late_max", "late>20", "stopped", "rss_kib");
	for (unsigned i = 0; i < nf; i++) {
		const struct figures *f = &fs[i];

		if (!f->ran)
			continue;
		printf("  %7u %9.0f %9u %7.1f %6.1f %7.2f %8.1f %8.1f %7u "
		       "%8u %8ld\n", f->n, f->sent_pps,
		       f->n * PPS_PER_STREAM,
		       100.0 * f->sent_pps / (f->n * PPS_PER_STREAM),
		       f->cpu_pct, f->us_per_pkt, f->setup_ms,
		       f->late_max_ms, f->late_frames, f->stopped,
		       f->rss_kib);
	}

	printf("\nstreamer, at the receiver (recvmmsg, kernel receive "
	       "stamps, same window; lost: sequence gaps; drops: at the "
	       "sinks' queues;\n  skipped: frames the streamer left out; "
	       "ia: inter-arrival per stream; err: arrival - (first arrival "
	       "+ 20 ms x frames since), ms):\n");
	printf("  %7s %9s %7s %6s %7s %6s %6s %6s %6s %6s %6s\n",
	       "streams", "rx_pkt/s", "lost", "drops", "skipped", "ia_p50",
	       "ia_p99", "ia_max", "er_p50", "er_p99", "er_max");
	for (unsigned i = 0; i < nf; i++) {
		const struct figures *f = &fs[i];

		if (!f->ran)
			continue;
		printf("  %7u %9.0f %7llu %6llu %7llu %6.1f %6.1f %6.1f %6.1f "
		       "%6.1f %6.1f\n", f->n, f->rx_pps,
		       (unsigned long long)f->rx.lost,
		       (unsigned long long)f->rx.drops,
		       (unsigned long long)f->rx.skipped,
		       ms(f->rx.ia.p50_us), ms(f->rx.ia.p99_us),
		       ms(f->rx.ia.max_us), ms(f->rx.err.p50_us),
		       ms(f->rx.err.p99_us), ms(f->rx.err.max_us));
	}

	printf("\nthe one-core limit: a plain C sender, same sockets and "
	       "sinks, unpaced sendmmsg() of 1 and of %u packets a socket, "
	       "%u ms each\n  (limit: the better; pps_ratio: streamer pkt/s "
	       "/ limit; cpu_ratio: streamer us/pkt / limit us/pkt):\n",
	       BATCH_BIG, limit_ms);
	printf("  %7s %9s %7s %9s %7s %7s %9s %9s %9s\n", "streams",
	       "b1_pkt/s", "b1_us", "b16_pkt/s", "b16_us", "rx_lost",
	       "limit", "pps_ratio", "cpu_ratio");
	for (unsigned i = 0; i < nf; i++) {
		const struct figures *f = &fs[i];
		const struct sendlimit *l;
		unsigned b;

		if (!f->ran)
			continue;
		l = best(f, &b);
		printf("  %7u %9.0f %7.2f %9.0f %7.2f %7llu %9.0f %9.3f "
		       "%9.2f\n", f->n, lim_pps(&f->lim[0]),
		       lim_us_per_pkt(&f->lim[0]), lim_pps(&f->lim[1]),
		       lim_us_per_pkt(&f->lim[1]),
		       (unsigned long long)(f->lim_rx[0].lost +
					    f->lim_rx[1].lost),
		       lim_pps(l), lim_pps(l) ? f->sent_pps / lim_pps(l) : 0,
		       lim_us_per_pkt(l) ? f->us_per_pkt / lim_us_per_pkt(l)
		       : 0);
	}
}


static void print_json(const struct figures *fs, unsigned nf,
		       uint32_t seconds)
{
	bool first = true;

	printf("streams: {\"driver\":\"streamer library on the real loop\","
	       "\"window_s\":%u,\"rounds\":[", seconds);
	for (unsigned i = 0; i < nf; i++) {
		const struct figures *f = &fs[i];
		const struct sendlimit *l;
		unsigned b;

		if (!f->ran)
			continue;
		l = best(f, &b);
		printf("%s{\"streams\":%u,\"pps\":%.0f,\"expected_pps\":%u,"
		       "\"cpu_pct\":%.1f,\"us_per_pkt\":%.3f,"
		       "\"rx_pps\":%.0f,\"lost\":%llu,\"drops\":%llu,"
		       "\"skipped\":%llu,\"ia_ms\":[%.2f,%.2f,%.2f],"
		       "\"err_ms\":[%.2f,%.2f,%.2f],\"late_max_ms\":%.1f,"
		       "\"rss_kib\":%ld,\"limit_pps\":%.0f,\"limit_batch\":%u,"
		       "\"limit_b1_pps\":%.0f,\"limit_us_per_pkt\":%.3f,"
		       "\"pps_ratio\":%.3f,\"cpu_ratio\":%.3f}",
		       first ? "" : ",", f->n, f->sent_pps,
		       f->n * PPS_PER_STREAM, f->cpu_pct, f->us_per_pkt,
		       f->rx_pps, (unsigned long long)f->rx.lost,
		       (unsigned long long)f->rx.drops,
		       (unsigned long long)f->rx.skipped,
		       ms(f->rx.ia.p50_us), ms(f->rx.ia.p99_us),
		       ms(f->rx.ia.max_us), ms(f->rx.err.p50_us),
		       ms(f->rx.err.p99_us), ms(f->rx.err.max_us),
		       f->late_max_ms, f->rss_kib, lim_pps(l),
		       b ? BATCH_BIG : 1, lim_pps(&f->lim[0]),
		       lim_us_per_pkt(l),
		       lim_pps(l) ? f->sent_pps / lim_pps(l) : 0,
		       lim_us_per_pkt(l) ? f->us_per_pkt / lim_us_per_pkt(l)
		       : 0);
		first = false;
	}
	printf("]}\n");
}


/* ---- main ------------------------------------------------------------- */

static void usage(void)
{
	fprintf(stderr, "usage: bench_streams [-q] [-s SECONDS] "
		"[STREAMS ...]\n"
		"  default: -s 5 1000 2000 5000 7500 (ports %u-%u on "
		"127.0.0.1)\n"
		"  -q: a short smoke run, -s 2 200 500\n", PORT_LO, PORT_HI);
}


int main(int argc, char *argv[])
{
	unsigned counts[MAX_COUNTS] = { 1000, 2000, 5000, 7500 };
	struct figures fs[MAX_COUNTS];
	unsigned ncounts = 4, pairs, nf = 0;
	uint32_t seconds = 5;
	struct streamer *st = NULL;
	struct table *t = NULL;
	struct resource *res;
	struct media *m;
	struct sa ip;
	rlim_t fds;
	int opt, err, ret = 1;
	unsigned long budget = 0;

	while ((opt = getopt(argc, argv, "qs:h")) != -1) {
		switch (opt) {

		case 'q':
			seconds = 2;
			limit_ms = 1000;
			counts[0] = 200;
			counts[1] = 500;
			ncounts = 2;
			break;

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

	/* A last resort that ends everything: each round's warm-up, window,
	 * set-up and limit, with a generous margin. */
	for (unsigned i = 0; i < ncounts; i++)
		budget += WARM_MS / 1000 + 1 + seconds + 2 * limit_ms / 1000 +
			15;
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

	printf("# RTP streamer: PCMU 20 ms, ports %u-%u on 127.0.0.1, %u "
	       "sink pairs in a child\n", PORT_LO, PORT_HI, RX_SINKS);

	memset(fs, 0, sizeof(fs));
	for (unsigned i = 0; i < ncounts; i++) {
		unsigned n = counts[i];
		struct figures *f = &fs[nf++];

		f->n = n;
		if (n > pairs || (rlim_t)n * 2 + FD_SPARE > fds) {
			printf("%7u  skipped: needs %u port pairs (range has "
			       "%u) and %u descriptors (limit %llu)\n", n, n,
			       pairs, 2 * n + FD_SPARE,
			       (unsigned long long)fds);
			continue;
		}

		if (round_run(st, m, n, seconds, f))
			goto out;
		if (f->ran && limit_run(n, f))
			goto out;
		fflush(stdout);
	}

	print_tables(fs, nf, seconds);
	print_json(fs, nf, seconds);
	ret = 0;

 out:
	fflush(stdout);
	mem_deref(st);
	mem_deref(t);
	loop_close();
	libre_close();

	return ret;
}
