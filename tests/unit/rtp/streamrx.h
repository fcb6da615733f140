/**
 * @file streamrx.h  The RTP streamer's unit tests: their receiver, their
 *                   media, a streamer on 127.0.0.1 and the group setup
 *
 * The streamer's tests (test_streamer_send.c, test_streamer_ports.c) run
 * the real libevent loop with a watchdog.  Receivers are libre UDP
 * sockets on 127.0.0.1 (an RTP port and the RTCP port above it) that only
 * record what arrives; the assertions come after the loop has returned.
 * The media is a WAV made here whose frames all differ, so the payloads
 * show which frame went out when, and that the media loops.
 *
 * The helpers are static inline so that a test file that uses only some
 * of them builds without unused-function warnings.  Include this header
 * after <cmocka.h>, <string.h>, <re.h>, "core/core.h", "rtp/rtp.h",
 * leakcheck.h, looprun.h and lebytes.h.
 */
#ifndef CMRLAB_TESTS_RTP_STREAMRX_H
#define CMRLAB_TESTS_RTP_STREAMRX_H


enum {
	MAX_RTP = 512,
	MAX_RTCP = 64,
	RTP_LEN = 12 + MEDIA_FRAME_SAMPLES,
	TEST_FRAMES = 20,              /* 400 ms of media, then it loops */
	RTCP_TEST_MS = 200,
	WATCHDOG_MS = 5000,
};


/* ---- the media -------------------------------------------------------- */

/*
 * An 8 kHz mono 16-bit WAV of nframes frames.  Frame f is a square wave
 * of amplitude (f + 1) * 1400, so that every frame encodes to different
 * G.711 bytes and a payload names the frame it came from.
 */
static inline void make_media(struct media **mp, unsigned nframes)
{
	uint32_t nsamp = nframes * MEDIA_FRAME_SAMPLES;
	size_t size = 44 + 2 * (size_t)nsamp;
	uint8_t *w = mem_zalloc(size, NULL);

	assert_non_null(w);
	le_wav_header(w, 1, 1, MEDIA_SRATE, 16, 2 * nsamp);

	for (uint32_t i = 0; i < nsamp; i++) {
		int amp = (int)(i / MEDIA_FRAME_SAMPLES + 1) * 1400;
		int16_t v = (int16_t)((i & 8) ? amp : -amp);

		le_put16(w + 44 + 2 * i, (uint16_t)v);
	}

	assert_int_equal(media_from_wav(mp, w, size), 0);
	assert_int_equal(media_frames(*mp), nframes);
	mem_deref(w);
}


/* ---- the receiver ----------------------------------------------------- */

struct pkt {
	uint8_t b[RTP_LEN + 16];
	size_t len;
	uint64_t t;
};

struct rx {
	struct udp_sock *rtp;
	struct udp_sock *rtcp;
	struct sa addr;                /* RTP; RTCP is its port + 1 */
	struct pkt rtp_pk[MAX_RTP];
	unsigned n_rtp;
	unsigned lost_rtp;             /* beyond MAX_RTP, counted only */
	struct pkt rtcp_pk[MAX_RTCP];
	unsigned n_rtcp;
};


static inline void record(struct pkt *pk, struct mbuf *mb)
{
	pk->len = mbuf_get_left(mb);
	memcpy(pk->b, mbuf_buf(mb), MIN(pk->len, sizeof(pk->b)));
	pk->t = loop_now_ms();
}


static inline void rx_rtp(const struct sa *src, struct mbuf *mb, void *arg)
{
	struct rx *rx = arg;
	(void)src;

	if (rx->n_rtp < MAX_RTP)
		record(&rx->rtp_pk[rx->n_rtp++], mb);
	else
		++rx->lost_rtp;
}


static inline void rx_rtcp(const struct sa *src, struct mbuf *mb, void *arg)
{
	struct rx *rx = arg;
	(void)src;

	if (rx->n_rtcp < MAX_RTCP)
		record(&rx->rtcp_pk[rx->n_rtcp++], mb);
}


static inline void rx_destructor(void *arg)
{
	struct rx *rx = arg;

	mem_deref(rx->rtp);
	mem_deref(rx->rtcp);
}


/* Two sockets on 127.0.0.1, an ephemeral port and the one above it. */
static inline struct rx *rx_alloc(void)
{
	struct rx *rx = mem_zalloc(sizeof(*rx), rx_destructor);
	struct sa a;

	assert_non_null(rx);

	for (int tries = 0; tries < 50; tries++) {
		assert_int_equal(sa_set_str(&a, "127.0.0.1", 0), 0);
		assert_int_equal(udp_listen(&rx->rtp, &a, rx_rtp, rx), 0);
		assert_int_equal(udp_local_get(rx->rtp, &rx->addr), 0);

		if (sa_port(&rx->addr) < 65535) {
			sa_set_port(&a, sa_port(&rx->addr) + 1);
			if (!udp_listen(&rx->rtcp, &a, rx_rtcp, rx))
				return rx;
		}

		rx->rtp = mem_deref(rx->rtp);
	}

	fail_msg("no free port pair for the receiver");
	return NULL;
}


/* ---- a streamer on 127.0.0.1 ------------------------------------------ */

static inline struct streamer *streamer_local(uint16_t lo, uint16_t hi)
{
	struct streamer *st = NULL;
	struct sa ip;

	assert_int_equal(sa_set_str(&ip, "127.0.0.1", 0), 0);
	assert_int_equal(streamer_alloc(&st, &ip, lo, hi), 0);
	return st;
}


/* ---- the group setup -------------------------------------------------- */

/*
 * Libraries set up some state on first use: libre's random source, and
 * in libevent the timer heap and an entry for every descriptor number it
 * has ever watched, kept until the base is freed.  A round of streams in
 * the group setup, with more sockets open at once than any test opens,
 * makes that happen before any test takes its mark (leakcheck.h).
 */
static inline int streamrx_group_setup(void **state)
{
	enum { WARM = 6 };
	struct stream *s[WARM] = { NULL };
	struct rx *rx[WARM] = { NULL };
	struct streamer *st = NULL;
	struct media *m = NULL;
	struct tmr t;
	(void)state;

	if (libre_init() || loop_init())
		return -1;

	/* Only what goes wrong, in the test output. */
	log_level_set(SUB_RTP, LVL_ERROR);

	make_media(&m, 2);
	st = streamer_local(30000, 39999);
	for (int i = 0; i < WARM; i++) {
		rx[i] = rx_alloc();
		if (stream_alloc(&s[i], st) ||
		    stream_start(s[i], m, MEDIA_PT_PCMU, &rx[i]->addr))
			return -1;
	}

	/* The loop itself: libevent sizes its timer heap on first use. */
	tmr_init(&t);
	tmr_start(&t, 50, looprun_stop, NULL);
	if (loop_run())
		return -1;

	for (int i = 0; i < WARM; i++) {
		mem_deref(s[i]);
		mem_deref(rx[i]);
	}
	mem_deref(st);
	mem_deref(m);

	return 0;
}


#endif
