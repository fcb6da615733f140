/**
 * @file test_body_sdp.c  The SDPs of message bodies as the readers decode
 *                        them: body_sdp_decode() with and without a final
 *                        line end, from body_parse()'s view of whole
 *                        messages, and its arguments
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <re.h>
#include "sip/sip_int.h"
#include "tests/unit/leakcheck.h"
#include "tests/unit/sipmsg.h"
#include "tests/unit/sip/sdpbody.h"


/* An SDP session like the readers' (mode_as.c, mode_gw.c): one audio
 * line with PCMU and PCMA.  One that reads an answer has sent its offer
 * (libre matches the answer's m= lines against the offer's). */
static void sdp_reader(struct sdp_session **sessp, struct sdp_media **mp,
		       bool answer)
{
	struct mbuf *mb = NULL;
	struct sa laddr;

	assert_int_equal(0, sa_set_str(&laddr, "127.0.0.1", 30000));
	assert_int_equal(0, sdp_session_alloc(sessp, &laddr));
	assert_int_equal(0, sdp_media_add(mp, *sessp, "audio", 30000,
					  "RTP/AVP"));
	assert_int_equal(0, sdp_format_add(NULL, *mp, false, "0", "PCMU",
					   8000, 1, NULL, NULL, NULL, false,
					   NULL));
	assert_int_equal(0, sdp_format_add(NULL, *mp, false, "8", "PCMA",
					   8000, 1, NULL, NULL, NULL, false,
					   NULL));
	if (answer) {
		assert_int_equal(0, sdp_encode(&mb, *sessp, true));
		mem_deref(mb);
	}
}


struct dvec {
	const char *name;
	const char *sdp;
	const char *addr;          /* the media address it names */
	uint16_t port;
	int pt;
};

static const struct dvec dvecs[] = {
	{"CRLF line ends", SDP_S, "192.0.2.1", 4000, 0},
	{"no final CRLF", SDP_S_NOEOL, "192.0.2.1", 4000, 0},
	{"early-session, no final CRLF", SDP_E_NOEOL, "192.0.2.9", 5000, 8},
	{"LF line ends", SDP_LF, "192.0.2.3", 6000, 0},
	{"LF line ends, no final LF", SDP_LF_NOEOL, "192.0.2.3", 6000, 0},
	{"a lone CR at the end", SDP_E_NOEOL "\r", "192.0.2.9", 5000, 8},
	{"the last line is c=", "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\n"
	 "t=0 0\r\nm=audio 7000 RTP/AVP 8\r\nc=IN IP4 192.0.2.7",
	 "192.0.2.7", 7000, 8},
};


/* body_sdp_decode(): the last line counts whether or not it has a line
 * end, as an offer and as an answer; the bytes it reads stay as they
 * are. */
static void test_sdp_decode(void **state)
{
	long mark = leakcheck_mark();
	size_t i;
	int k;

	(void)state;

	for (i = 0; i < ARRAY_SIZE(dvecs); i++) {
		const struct dvec *v = &dvecs[i];
		size_t n = strlen(v->sdp);
		char *buf = dup_exact(v->sdp, n);

		for (k = 0; k < 2; k++) {
			struct sdp_session *sess = NULL;
			struct sdp_media *m = NULL;
			const struct sdp_format *fmt;
			struct pl pl;
			struct sa want;
			int err;

			pl_of(&pl, buf, n);
			sdp_reader(&sess, &m, k == 1);

			err = body_sdp_decode(sess, &pl, k == 0);
			if (err)
				fail_msg("\"%s\" (%s): error %d", v->name,
					 k ? "answer" : "offer", err);

			assert_int_equal(0, sa_set_str(&want, v->addr,
						       v->port));
			if (!sa_cmp(sdp_media_raddr(m), &want, SA_ALL))
				fail_msg("\"%s\": address %J", v->name,
					 sdp_media_raddr(m));
			fmt = sdp_media_rformat(m, NULL);
			assert_non_null(fmt);
			assert_int_equal(v->pt, fmt->pt);
			assert_memory_equal(v->sdp, buf, n);

			mem_deref(m);
			mem_deref(sess);
		}

		free(buf);
	}

	leakcheck_assert(mark);
}


/* What the readers get from whole messages: the early-session answer of
 * a PRACK and a gateway-mode offer, in each framing that leaves the last
 * line without a CRLF of its own, decoded from body_parse()'s view. */
struct wvec {
	const char *name;
	const char *hdrs;
	const char *body;
	bool early;                /* read the early-session SDP */
	const char *addr;
	uint16_t port;
	int pt;
};

#define PART_E_NOEOL CT_SDP "Content-Disposition: early-session\r\n\r\n" \
	SDP_E_NOEOL
#define PART_S_NOEOL CT_SDP "Content-Disposition: session\r\n\r\n" \
	SDP_S_NOEOL

static const struct wvec wvecs[] = {
	{"PRACK: multipart, no CRLF before the delimiter",
	 "Content-Type: " MP "\r\n",
	 "--b\r\n" PART_E_NOEOL "\r\n--b--\r\n", true, "192.0.2.9", 5000,
	 8},
	{"PRACK: multipart, its own CRLF before the delimiter's",
	 "Content-Type: " MP "\r\n",
	 "--b\r\n" PART_E "\r\n--b--\r\n", true, "192.0.2.9", 5000, 8},
	{"PRACK: multipart, both parts without CRLF",
	 "Content-Type: " MP "\r\n",
	 "--b\r\n" PART_S_NOEOL "\r\n--b\r\n" PART_E_NOEOL "\r\n--b--",
	 true, "192.0.2.9", 5000, 8},
	{"PRACK: lone early-session body without CRLF",
	 CT_SDP "Content-Disposition: early-session\r\n", SDP_E_NOEOL, true,
	 "192.0.2.9", 5000, 8},
	{"INVITE: lone offer without CRLF", CT_SDP, SDP_S_NOEOL, false,
	 "192.0.2.1", 4000, 0},
	{"INVITE: lone LF-only offer without LF", CT_SDP, SDP_LF_NOEOL, false,
	 "192.0.2.3", 6000, 0},
	{"INVITE: multipart offer, no CRLF before the delimiter",
	 "Content-Type: " MP "\r\n",
	 "--b\r\n" PART_S_NOEOL "\r\n--b--\r\n", false, "192.0.2.1", 4000,
	 0},
};


static void test_sdp_from_msg(void **state)
{
	long mark = leakcheck_mark();
	size_t i;

	(void)state;

	for (i = 0; i < ARRAY_SIZE(wvecs); i++) {
		const struct wvec *v = &wvecs[i];
		struct sdp_session *sess = NULL;
		struct sdp_media *m = NULL;
		struct body_view bv;
		struct sip_msg *msg;
		struct sa want;

		msg = sipmsg_decodef(INVITE "%sContent-Length: %zu\r\n\r\n%s",
				     v->hdrs, strlen(v->body), v->body);

		assert_int_equal(0, body_parse(&bv, msg));
		sdp_reader(&sess, &m, v->early);
		if (body_sdp_decode(sess, v->early ? &bv.early : &bv.session,
				    !v->early))
			fail_msg("\"%s\": not decoded", v->name);

		assert_int_equal(0, sa_set_str(&want, v->addr, v->port));
		if (!sa_cmp(sdp_media_raddr(m), &want, SA_ALL))
			fail_msg("\"%s\": address %J", v->name,
				 sdp_media_raddr(m));
		assert_non_null(sdp_media_rformat(m, NULL));
		assert_int_equal(v->pt, sdp_media_rformat(m, NULL)->pt);

		mem_deref(m);
		mem_deref(sess);
		mem_deref(msg);
	}

	leakcheck_assert(mark);
}


static void test_sdp_decode_args(void **state)
{
	static const struct pl s = PL(SDP_S);
	struct sdp_session *sess = NULL;
	struct sdp_media *m = NULL;
	struct pl bad = {NULL, 3};
	long mark = leakcheck_mark();

	(void)state;

	sdp_reader(&sess, &m, false);
	assert_int_equal(EINVAL, body_sdp_decode(NULL, &s, true));
	assert_int_equal(EINVAL, body_sdp_decode(sess, NULL, true));
	assert_int_equal(EINVAL, body_sdp_decode(sess, &bad, true));

	/* Nothing is no media, as libre decodes an empty buffer. */
	assert_int_equal(0, body_sdp_decode(sess, &pl_null, true));
	assert_int_equal(0, sdp_media_rport(m));

	mem_deref(m);
	mem_deref(sess);
	leakcheck_assert(mark);
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sdp_decode),
		cmocka_unit_test(test_sdp_from_msg),
		cmocka_unit_test(test_sdp_decode_args),
	};

	return cmocka_run_group_tests_name("sip/body_sdp", tests,
					   sdpbody_group_setup, NULL);
}
