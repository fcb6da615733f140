/**
 * @file rtpeptest.h  The RTP endpoint's unit tests: a scripted sender on a
 *                    plain socket, waiting on the loop for what it sent,
 *                    and the group setup
 *
 * The scripted sender writes RTP packets byte by byte from a plain UDP
 * socket, so that the tests choose every field (and break some); loopback
 * delivers the datagrams of one socket in order.  The tests then run the
 * real loop until the endpoint has taken in as many packets as were sent
 * (measured, bad or RTCP), with a watchdog.
 *
 * Static inline, for files that use only some of it.  Include after
 * <cmocka.h>, <string.h>, <unistd.h>, <sys/socket.h>, <netinet/in.h>,
 * <re.h>, "core/core.h", "rtp/rtp.h", "rtp/rtpep.h", leakcheck.h,
 * looprun.h, lebytes.h and streamrx.h.
 */
#ifndef CMRLAB_TESTS_RTP_RTPEPTEST_H
#define CMRLAB_TESTS_RTP_RTPEPTEST_H


/* ---- the scripted sender ---------------------------------------------- */

/* A plain UDP socket on 127.0.0.1, a port the kernel gives; its address
 * in *a when a is not NULL. */
static inline int tx_sock(struct sa *a)
{
	struct sockaddr_in in;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	assert_true(fd >= 0);
	memset(&in, 0, sizeof(in));
	in.sin_family = AF_INET;
	in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&in, sizeof(in)), 0);

	if (a) {
		a->len = sizeof(a->u);
		assert_int_equal(getsockname(fd, &a->u.sa, &a->len), 0);
	}

	return fd;
}


static inline void tx_raw(int fd, const struct sa *dst, const uint8_t *b,
			  size_t n)
{
	assert_int_equal(sendto(fd, b, n, 0, &dst->u.sa, dst->len),
			 (ssize_t)n);
}


/* A plain RTP packet (V=2, no CSRC, extension or padding) whose payload
 * is plen bytes of fill; its length. */
static inline size_t rtp_make(uint8_t *b, uint8_t pt, uint16_t seq,
			      uint32_t ts, uint32_t ssrc, uint8_t fill,
			      size_t plen)
{
	b[0] = 0x80;
	b[1] = pt;
	b[2] = (uint8_t)(seq >> 8);
	b[3] = (uint8_t)seq;
	b[4] = (uint8_t)(ts >> 24);
	b[5] = (uint8_t)(ts >> 16);
	b[6] = (uint8_t)(ts >> 8);
	b[7] = (uint8_t)ts;
	b[8] = (uint8_t)(ssrc >> 24);
	b[9] = (uint8_t)(ssrc >> 16);
	b[10] = (uint8_t)(ssrc >> 8);
	b[11] = (uint8_t)ssrc;
	memset(b + 12, fill, plen);

	return 12 + plen;
}


static inline void tx_rtp(int fd, const struct sa *dst, uint8_t pt,
			  uint16_t seq, uint32_t ts, uint32_t ssrc,
			  uint8_t fill, size_t plen)
{
	uint8_t b[12 + 320];

	assert_true(plen <= 320);
	tx_raw(fd, dst, b, rtp_make(b, pt, seq, ts, ssrc, fill, plen));
}


/* ---- waiting for it --------------------------------------------------- */

struct tally {
	struct rtpep *ep;
	struct tmr t;
	unsigned calls;                /* handler calls */
	unsigned firsts;               /* ... with first_of_seg */
	unsigned want;
	unsigned seg[64];              /* the segment of each call */
};


static inline void tally_h(struct rtpep *ep, unsigned seg, bool first,
			   void *arg)
{
	struct tally *t = arg;

	assert_ptr_equal(ep, t->ep);
	if (t->calls < 64)
		t->seg[t->calls] = seg;
	++t->calls;
	t->firsts += first;
}


/* Everything the endpoint took in: measured, bad, or RTCP. */
static inline unsigned tally_seen(const struct tally *t)
{
	return t->calls + rtpep_bad(t->ep) + rtpep_rtcp_in(t->ep);
}


static inline void tally_poll(void *arg)
{
	struct tally *t = arg;

	if (tally_seen(t) >= t->want) {
		loop_stop();
		return;
	}

	tmr_start(&t->t, 1, tally_poll, t);
}


static inline void tally_init(struct tally *t, struct rtpep *ep)
{
	memset(t, 0, sizeof(*t));
	tmr_init(&t->t);
	t->ep = ep;
	rtpep_handler_set(ep, tally_h, t);
}


/* Runs the loop until the endpoint has taken in want packets in all. */
static inline void tally_wait(struct tally *t, unsigned want)
{
	t->want = want;
	tmr_start(&t->t, 0, tally_poll, t);
	looprun(WATCHDOG_MS);
	tmr_cancel(&t->t);
	assert_int_equal(tally_seen(t), want);
}


/* Runs the loop for ms. */
static inline void run_ms(uint64_t ms)
{
	struct tmr t;

	tmr_init(&t);
	tmr_start(&t, ms, looprun_stop, NULL);
	looprun(WATCHDOG_MS);
	tmr_cancel(&t);
}


static inline struct rtpep *ep_local(void)
{
	struct rtpep *ep = NULL;
	struct sa ip;

	assert_int_equal(sa_set_str(&ip, "127.0.0.1", 0), 0);
	assert_int_equal(rtpep_alloc(&ep, &ip, 0, 0), 0);
	assert_non_null(ep);

	return ep;
}


/* ---- the group setup -------------------------------------------------- */

/*
 * The streamer's warm-up (streamrx.h), then a round of what the
 * endpoint's tests do, so that what the libraries keep for good is
 * made before any test takes its mark: two endpoints that talk.
 */
static inline int rtpeptest_group_setup(void **state)
{
	struct rtpep *a, *b;
	struct media *m = NULL;

	if (streamrx_group_setup(state))
		return -1;

	make_media(&m, 2);
	a = ep_local();
	b = ep_local();
	if (rtpep_send_start(a, m, MEDIA_PT_PCMU, rtpep_laddr(b)) ||
	    rtpep_send_start(b, m, MEDIA_PT_PCMA, rtpep_laddr(a)))
		return -1;
	run_ms(60);
	mem_deref(a);
	mem_deref(b);
	mem_deref(m);

	return 0;
}


#endif
