/**
 * @file test_mode_as.c  Application server mode: the early-session answer
 *                       in each framing, and the RTP it starts, read back
 *
 * The caller's early-session answer comes in a PRACK, alone or as a part
 * of a multipart/mixed, and its last line often has no CRLF of its own
 * (RFC 2046 section 5.1.1 gives the CRLF before a delimiter to the
 * delimiter).  Each test here builds the PRACK as text, takes the answer
 * from body_parse()'s view as the B2BUA does, hands it to modeas_answer()
 * and runs the real loop until RTP arrives at a libre UDP socket on the
 * answered address, or the watchdog fires.  The receiver only records;
 * the assertions come after the loop has returned.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>
#include <re.h>
#include "sip/sip_int.h"
#include "tests/unit/leakcheck.h"
#include "tests/unit/looprun.h"
#include "tests/unit/lebytes.h"
#include "tests/unit/sipmsg.h"

enum { FRAMES = 5, WATCHDOG_MS = 3000, RTP_HDR = 12 };

static struct streamer *st;
static struct media *media;


/* A WAV of FRAMES frames of a square wave: audio for the stream. */
static int media_make(struct media **mp)
{
	uint32_t nsamp = FRAMES * MEDIA_FRAME_SAMPLES;
	size_t size = 44 + 2 * (size_t)nsamp;
	uint8_t *w = mem_zalloc(size, NULL);
	int err;

	if (!w)
		return ENOMEM;

	le_wav_header(w, 1, 1, MEDIA_SRATE, 16, 2 * nsamp);

	for (uint32_t i = 0; i < nsamp; i++)
		le_put16(w + 44 + 2 * i, (uint16_t)((i & 8) ? 3000 : -3000));

	err = media_from_wav(mp, w, size);
	mem_deref(w);

	return err;
}


/* ---- the receiver: the caller's answered RTP address ------------------ */

struct rx {
	struct udp_sock *us;
	struct sa addr;
	unsigned packets;
	int pt;                        /* of the first packet, -1 before */
};


static void rx_handler(const struct sa *src, struct mbuf *mb, void *arg)
{
	struct rx *rx = arg;
	(void)src;

	if (mbuf_get_left(mb) < RTP_HDR)
		return;

	if (!rx->packets++)
		rx->pt = mbuf_buf(mb)[1] & 0x7f;

	loop_stop();
}


static void rx_open(struct rx *rx)
{
	struct sa any;

	memset(rx, 0, sizeof(*rx));
	rx->pt = -1;
	assert_int_equal(0, sa_set_str(&any, "127.0.0.1", 0));
	assert_int_equal(0, udp_listen(&rx->us, &any, rx_handler, rx));
	assert_int_equal(0, udp_local_get(rx->us, &rx->addr));
}


/* ---- the PRACKs ------------------------------------------------------- */

#define PRACK "PRACK sip:cmr@127.0.0.1 SIP/2.0\r\n" \
	"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKp1\r\n" \
	"From: <sip:alice@cmrlab.test>;tag=a\r\n" \
	"To: <sip:bob@cmrlab.test>;tag=b\r\n" \
	"Call-ID: as\r\n" \
	"CSeq: 2 PRACK\r\n" \
	"RAck: 1 1 INVITE\r\n"

/* The caller's answer; %u is its RTP port.  No line end after the last
 * line: each vector adds its own, or none. */
#define ANSWER "v=0\r\no=alice 7 7 IN IP4 127.0.0.1\r\ns=-\r\n" \
	"c=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio %u RTP/AVP %d\r\n" \
	"a=recvonly"
#define ANSWER_LF "v=0\no=alice 7 7 IN IP4 127.0.0.1\ns=-\n" \
	"c=IN IP4 127.0.0.1\nt=0 0\nm=audio %u RTP/AVP %d\na=recvonly"

#define SESSION_PART "Content-Type: application/sdp\r\n" \
	"Content-Disposition: session\r\n\r\n" \
	"v=0\r\no=alice 7 8 IN IP4 127.0.0.1\r\ns=-\r\n" \
	"c=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 9 RTP/AVP 0"
#define EARLY_HEAD "Content-Type: application/sdp\r\n" \
	"Content-Disposition: early-session\r\n\r\n"

struct vec {
	const char *name;
	const char *ctype;             /* the PRACK's Content-Type */
	const char *disp;              /* its Content-Disposition, or "" */
	const char *pre;               /* body before the answer */
	const char *answer;            /* ANSWER or ANSWER_LF */
	const char *post;              /* body after the answer */
	int pt;
};

static const struct vec vecs[] = {
	{"multipart, no CRLF before the delimiter",
	 "multipart/mixed;boundary=x", "",
	 "--x\r\n" EARLY_HEAD, ANSWER, "\r\n--x--\r\n", 0},
	{"multipart, its own CRLF before the delimiter's",
	 "multipart/mixed;boundary=x", "",
	 "--x\r\n" EARLY_HEAD, ANSWER, "\r\n\r\n--x--\r\n", 8},
	{"multipart with a session part, neither with its own CRLF",
	 "multipart/mixed;boundary=x", "",
	 "--x\r\n" SESSION_PART "\r\n--x\r\n" EARLY_HEAD, ANSWER,
	 "\r\n--x--", 8},
	{"lone early-session body without a final CRLF", "application/sdp",
	 "Content-Disposition: early-session\r\n", "", ANSWER, "", 0},
	{"lone early-session body with a final CRLF", "application/sdp",
	 "Content-Disposition: early-session\r\n", "", ANSWER, "\r\n", 8},
	{"LF-only answer without a final LF, in a multipart",
	 "multipart/mixed;boundary=x", "",
	 "--x\r\n" EARLY_HEAD, ANSWER_LF, "\r\n--x--\r\n", 0},
	{"LF-only lone answer without a final LF", "application/sdp",
	 "Content-Disposition: early-session\r\n", "", ANSWER_LF, "", 8},
};


/* The PRACK of vector v with the answer naming port. */
static struct sip_msg *prack(const struct vec *v, uint16_t port)
{
	struct sip_msg *msg;
	char *body = NULL, *fmt = NULL;

	assert_int_equal(0, re_sdprintf(&fmt, "%s%s%s", v->pre, v->answer,
					v->post));
	assert_int_equal(0, re_sdprintf(&body, fmt, port, v->pt));
	msg = sipmsg_decodef(PRACK "Content-Type: %s\r\n%s"
			     "Content-Length: %zu\r\n\r\n%s", v->ctype,
			     v->disp, strlen(body), body);
	mem_deref(fmt);
	mem_deref(body);

	return msg;
}


/* ---- set-up ----------------------------------------------------------- */

static int setup(void **state)
{
	struct sa ip;
	(void)state;

	if (libre_init() || loop_init())
		return -1;

	sa_set_str(&ip, "127.0.0.1", 0);
	if (streamer_alloc(&st, &ip, 32000, 32999) || media_make(&media))
		return -1;

	return 0;
}


static int teardown(void **state)
{
	media = mem_deref(media);
	st = mem_deref(st);

	return looprun_teardown(state);
}


/* One round of a test before any mark: libre's SDP tables, the
 * streamer's first socket and timer, stdio. */
static void answer_vec(const struct vec *v);

static int warm_up(void **state)
{
	(void)state;

	answer_vec(&vecs[1]);      /* its own CRLF: works anywhere */

	return 0;
}


/* ---- the tests -------------------------------------------------------- */

static void answer_vec(const struct vec *v)
{
	struct asmedia *a = NULL;
	struct mbuf *offer = NULL;
	struct body_view bv;
	struct sip_msg *msg;
	struct rx rx;
	int err;

	rx_open(&rx);
	assert_int_equal(0, modeas_alloc(&a, st, DIR_BT));
	assert_int_equal(0, modeas_offer(a, &offer));

	msg = prack(v, sa_port(&rx.addr));
	assert_int_equal(0, body_parse(&bv, msg));
	assert_true(pl_isset(&bv.early));

	err = modeas_answer(a, &bv.early, media, NULL);
	if (!err)
		looprun(WATCHDOG_MS);

	modeas_stop(a, NULL, "test");
	mem_deref(a);
	mem_deref(offer);
	mem_deref(msg);
	mem_deref(rx.us);

	if (err)
		fail_msg("\"%s\": answer refused (%d)", v->name, err);
	if (!rx.packets)
		fail_msg("\"%s\": no RTP at %J", v->name, &rx.addr);
	if (rx.pt != v->pt)
		fail_msg("\"%s\": RTP with pt %d, answered %d", v->name,
			 rx.pt, v->pt);
}


static void test_answer_framings(void **state)
{
	long mark = leakcheck_mark();
	(void)state;

	for (size_t i = 0; i < ARRAY_SIZE(vecs); i++)
		answer_vec(&vecs[i]);

	leakcheck_assert(mark);
}


/* An answer that names no usable stream starts none, with or without
 * its final CRLF: the line end changes nothing else. */
static void test_answer_port_zero(void **state)
{
	static const char *answers[] = {
		"v=0\r\no=a 1 1 IN IP4 127.0.0.1\r\ns=-\r\n"
		"c=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 0 RTP/AVP 0",
		"v=0\r\no=a 1 1 IN IP4 127.0.0.1\r\ns=-\r\n"
		"c=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 0 RTP/AVP 0\r\n",
	};
	long mark = leakcheck_mark();
	(void)state;

	for (size_t i = 0; i < ARRAY_SIZE(answers); i++) {
		struct asmedia *a = NULL;
		struct mbuf *offer = NULL;
		struct pl pl;

		pl_set_str(&pl, answers[i]);
		assert_int_equal(0, modeas_alloc(&a, st, DIR_BT));
		assert_int_equal(0, modeas_offer(a, &offer));
		assert_int_equal(ENOENT, modeas_answer(a, &pl, media, NULL));
		/* One answer per offer. */
		assert_int_equal(EPROTO, modeas_answer(a, &pl, media, NULL));
		assert_int_equal(0, streamer_active(st));

		mem_deref(offer);
		mem_deref(a);
	}

	leakcheck_assert(mark);
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_answer_framings, warm_up),
		cmocka_unit_test(test_answer_port_zero),
	};

	return cmocka_run_group_tests_name("sip/mode_as", tests, setup,
					   teardown);
}
