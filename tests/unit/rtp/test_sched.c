/**
 * @file test_sched.c  The streamer's schedule on a clock of the test's own
 *
 * sched.c's heap against a brute-force model; then streams on a fake
 * clock (streamer_clock_set, streamer_run): each frame leaves at its own
 * absolute deadline (at most SLACK, 1 ms, early), streams keep the
 * phases they started with instead of leaving together, a late run sends
 * at most three frames per stream and skips the rest, and the port pairs
 * come back in the order they were freed.  Packets are read from plain
 * sockets: no loop runs here.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <re.h>
#include "core/core.h"
#include "rtp/rtp.h"
#include "rtp/rtp_int.h"
#include "tests/unit/lebytes.h"

enum { T0 = 1000000, FRAME = 20000, SLACK = 1000 };

static uint64_t g_now;

static uint64_t fake_clock(void)
{
	return g_now;
}


/* ---- the heap ----------------------------------------------------------- */

enum { NENT = 2000 };

static void test_heap_against_model(void **state)
{
	static struct sched_ent e[NENT];
	struct sched q;
	uint32_t x = 88172645u;
	(void)state;

	memset(e, 0, sizeof(e));
	sched_init(&q);
	assert_null(sched_top(&q));

	for (unsigned i = 0; i < NENT; i++) {
		x ^= x << 13; x ^= x >> 17; x ^= x << 5;
		assert_int_equal(sched_add(&q, &e[i], x % 100000), 0);
	}

	/* Random moves and removes, then drain: every pop is the minimum
	 * of what is queued, by brute force. */
	for (unsigned r = 0; r < 3 * NENT; r++) {
		unsigned i;

		x ^= x << 13; x ^= x >> 17; x ^= x << 5;
		i = x % NENT;
		if (x & 0x100)
			sched_remove(&q, &e[i]);
		else if (e[i].queued)
			sched_move(&q, &e[i], (x >> 9) % 100000);
		else
			assert_int_equal(sched_add(&q, &e[i], (x >> 9) %
						   100000), 0);
	}

	for (;;) {
		struct sched_ent *top = sched_top(&q);
		uint64_t min = UINT64_MAX;
		unsigned queued = 0;

		for (unsigned i = 0; i < NENT; i++) {
			if (e[i].queued) {
				++queued;
				if (e[i].due < min)
					min = e[i].due;
			}
		}
		assert_int_equal(queued, q.n);
		if (!top) {
			assert_int_equal(queued, 0);
			break;
		}
		assert_int_equal(top->due, min);
		sched_remove(&q, top);
		assert_false(top->queued);
	}

	sched_remove(&q, &e[0]);         /* not queued: nothing happens */
	sched_reset(&q);
}


/* ---- streams on a fake clock -------------------------------------------- */

static int rx_open(struct sa *addr)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	int size = 4 << 20;

	assert_true(fd >= 0);
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size));
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	assert_int_equal(sa_set_sa(addr, (struct sockaddr *)&a), 0);

	return fd;
}


/* The RTP timestamps of the packets waiting on fd, in order, as frame
 * numbers from ts0 (the first packet's unless *ts0 is set). */
static unsigned rx_frames(int fd, uint32_t *ts0, bool *have_ts0,
			  uint32_t *frames, unsigned max)
{
	uint8_t b[512];
	unsigned n = 0;
	ssize_t len;

	while ((len = recv(fd, b, sizeof(b), 0)) > 0) {
		uint32_t ts;

		assert_int_equal(len, 12 + MEDIA_FRAME_SAMPLES);
		ts = (uint32_t)b[4] << 24 | (uint32_t)b[5] << 16 |
			(uint32_t)b[6] << 8 | b[7];
		if (!*have_ts0) {
			*ts0 = ts;
			*have_ts0 = true;
		}
		assert_true(n < max);
		frames[n++] = (ts - *ts0) / MEDIA_FRAME_SAMPLES;
	}

	return n;
}


static void make_media(struct media **mp)
{
	/* A 8 kHz 16-bit mono WAV of 10 frames. */
	enum { SAMPLES = 10 * MEDIA_FRAME_SAMPLES };
	static uint8_t wav[44 + 2 * SAMPLES];
	const uint32_t data = 2 * SAMPLES;

	memset(wav, 0, sizeof(wav));
	le_wav_header(wav, 1, 1, 8000, 16, data);

	assert_int_equal(media_from_wav(mp, wav, sizeof(wav)), 0);
}


static struct streamer *streamer_fake(void)
{
	struct streamer *st = NULL;
	struct sa ip;

	assert_int_equal(sa_set_str(&ip, "127.0.0.1", 0), 0);
	assert_int_equal(streamer_alloc(&st, &ip, 30000, 39999), 0);
	streamer_clock_set(st, fake_clock);

	return st;
}


static void test_absolute_deadlines(void **state)
{
	struct streamer *st = streamer_fake();
	struct stream *a = NULL, *b = NULL;
	struct media *m = NULL;
	struct sa ra, rb;
	int fa = rx_open(&ra), fb = rx_open(&rb);
	uint32_t fr[16], ts0a = 0, ts0b = 0;
	bool ha = false, hb = false;
	(void)state;

	make_media(&m);
	assert_int_equal(stream_alloc(&a, st), 0);
	assert_int_equal(stream_alloc(&b, st), 0);

	/* a starts at T0, b 7 ms later: frame 0 of each leaves at once. */
	g_now = T0;
	assert_int_equal(stream_start(a, m, MEDIA_PT_PCMU, &ra), 0);
	g_now = T0 + 7000;
	assert_int_equal(stream_start(b, m, MEDIA_PT_PCMA, &rb), 0);
	assert_int_equal(streamer_next_due(st), T0 + FRAME);

	/* Just over SLACK before a's frame 1 nothing is due; just under,
	 * it is (and b's is not). */
	g_now = T0 + FRAME - SLACK - 100;
	assert_int_equal(streamer_run(st), 0);
	g_now = T0 + FRAME - SLACK + 100;
	assert_int_equal(streamer_run(st), 1);
	assert_int_equal(streamer_next_due(st), T0 + 7000 + FRAME);

	g_now = T0 + 7000 + FRAME;
	assert_int_equal(streamer_run(st), 1);
	assert_int_equal(streamer_next_due(st), T0 + 2 * FRAME);

	/* A run 5 frames late: each stream sends its newest three frames
	 * due, skips the older, and its next deadline stays on its own
	 * 20 ms grid. */
	g_now = T0 + 2 * FRAME + 5 * FRAME + 100;
	assert_int_equal(streamer_run(st), 2);
	assert_int_equal(streamer_next_due(st), T0 + 7000 + 7 * FRAME);

	assert_int_equal(rx_frames(fa, &ts0a, &ha, fr, 16), 5);
	assert_int_equal(fr[0], 0);
	assert_int_equal(fr[1], 1);
	assert_int_equal(fr[2], 5);
	assert_int_equal(fr[3], 6);
	assert_int_equal(fr[4], 7);
	assert_int_equal(rx_frames(fb, &ts0b, &hb, fr, 16), 5);
	assert_int_equal(fr[0], 0);
	assert_int_equal(fr[1], 1);
	assert_int_equal(fr[2], 4);
	assert_int_equal(fr[3], 5);
	assert_int_equal(fr[4], 6);

	/* Back on time: one frame each at its own deadline. */
	g_now = T0 + 7000 + 7 * FRAME;
	assert_int_equal(streamer_run(st), 1);
	g_now = T0 + 8 * FRAME;
	assert_int_equal(streamer_run(st), 1);
	assert_int_equal(rx_frames(fa, &ts0a, &ha, fr, 16), 1);
	assert_int_equal(fr[0], 8);
	assert_int_equal(rx_frames(fb, &ts0b, &hb, fr, 16), 1);
	assert_int_equal(fr[0], 7);

	stream_stop(a);
	assert_int_equal(streamer_next_due(st), T0 + 7000 + 8 * FRAME);
	stream_stop(b);
	assert_int_equal(streamer_next_due(st), 0);
	assert_int_equal(streamer_active(st), 0);

	mem_deref(a);
	mem_deref(b);
	mem_deref(st);
	mem_deref(m);
	close(fa);
	close(fb);
}


/* 200 streams started 100 us apart over one frame period: runs every
 * millisecond find only the streams due then, about 5 + a few, never
 * all of them at once, and every stream sends exactly its frames. */
enum { NSPREAD = 200, STEP = 100 };

static void test_streams_keep_their_phases(void **state)
{
	static struct stream *s[NSPREAD];
	struct streamer *st = streamer_fake();
	struct media *m = NULL;
	struct sa r;
	int fd = rx_open(&r);
	unsigned most = 0, total = 0;
	(void)state;

	make_media(&m);
	for (unsigned i = 0; i < NSPREAD; i++) {
		g_now = T0 + i * STEP;
		assert_int_equal(stream_alloc(&s[i], st), 0);
		assert_int_equal(stream_start(s[i], m, MEDIA_PT_PCMU, &r), 0);
	}

	/* 100 ms in 1 ms steps. */
	for (uint64_t t = T0 + 20000; t < T0 + 120000; t += 1000) {
		unsigned n;

		g_now = t;
		n = streamer_run(st);
		total += n;
		if (n > most)
			most = n;
	}

	/* 1 ms of starts is 10 streams, plus those the slack brings
	 * forward. */
	assert_true(most <= 16);
	for (unsigned i = 0; i < NSPREAD; i++) {
		struct stream_stats ss;
		/* frames 0 .. last due by the final run + slack, one per
		 * run after frame 0 */
		uint64_t last = (T0 + 119000 + SLACK - (T0 + i * STEP)) /
			FRAME;

		stream_stats_get(s[i], &ss);
		assert_int_equal(ss.packets, last + 1);
		total -= (unsigned)last;
	}
	assert_int_equal(total, 0);

	for (unsigned i = 0; i < NSPREAD; i++)
		mem_deref(s[i]);
	mem_deref(st);
	mem_deref(m);
	close(fd);
}


/* ---- port pairs --------------------------------------------------------- */

/* An even port p with p .. p + 7 all free on 127.0.0.1 just now. */
static uint16_t free_range8(void)
{
	for (unsigned base = 42000 + (unsigned)getpid() % 1000 * 8;
	     base < 64000; base += 8) {
		unsigned ok = 0;

		for (unsigned i = 0; i < 8; i++) {
			struct sockaddr_in a;
			int fd = socket(AF_INET, SOCK_DGRAM, 0);

			memset(&a, 0, sizeof(a));
			a.sin_family = AF_INET;
			a.sin_port = htons((uint16_t)(base + i));
			a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
			ok += bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
			close(fd);
		}
		if (ok == 8)
			return (uint16_t)base;
	}

	fail_msg("no eight free ports");
	return 0;
}


static void test_pairs_come_back_in_order(void **state)
{
	struct stream *s[4] = { NULL }, *x = NULL;
	struct streamer *st = NULL;
	struct sa ip;
	uint16_t p = free_range8();
	(void)state;

	/* 4 pairs: p .. p + 7. */
	assert_int_equal(sa_set_str(&ip, "127.0.0.1", 0), 0);
	assert_int_equal(streamer_alloc(&st, &ip, p, (uint16_t)(p + 7)), 0);

	for (unsigned i = 0; i < 4; i++) {
		assert_int_equal(stream_alloc(&s[i], st), 0);
		assert_int_equal(sa_port(stream_laddr(s[i])), p + 2 * i);
	}
	assert_int_equal(stream_alloc(&x, st), ENOSPC);

	/* Freed 2, 0, 3: handed out again as 2, 0, 3. */
	s[2] = mem_deref(s[2]);
	s[0] = mem_deref(s[0]);
	s[3] = mem_deref(s[3]);
	assert_int_equal(stream_alloc(&s[2], st), 0);
	assert_int_equal(sa_port(stream_laddr(s[2])), p + 4);
	assert_int_equal(stream_alloc(&s[0], st), 0);
	assert_int_equal(sa_port(stream_laddr(s[0])), p);
	assert_int_equal(stream_alloc(&s[3], st), 0);
	assert_int_equal(sa_port(stream_laddr(s[3])), p + 6);
	assert_int_equal(stream_alloc(&x, st), ENOSPC);

	for (unsigned i = 0; i < 4; i++)
		mem_deref(s[i]);
	mem_deref(st);
}


static int group_setup(void **state)
{
	(void)state;

	if (libre_init() || loop_init())
		return -1;

	log_level_set(SUB_RTP, LVL_ERROR);

	return 0;
}


static int group_teardown(void **state)
{
	(void)state;

	loop_close();
	libre_close();

	return 0;
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_heap_against_model),
		cmocka_unit_test(test_absolute_deadlines),
		cmocka_unit_test(test_streams_keep_their_phases),
		cmocka_unit_test(test_pairs_come_back_in_order),
	};

	return cmocka_run_group_tests_name("rtp/sched", tests, group_setup,
					   group_teardown);
}
