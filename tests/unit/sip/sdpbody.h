/**
 * @file sdpbody.h  SDPs, bodies and helpers of the message-body unit tests
 *
 * The body's tests (test_body_parse.c, test_body_out.c, test_body_sdp.c)
 * feed the parser, the printer and the SDP decoder the same few SDPs,
 * framed in the same multipart parts and the same INVITE, so these are
 * defined once here, with the helpers more than one of them needs and the
 * group setup that all of them run.
 *
 * The helpers are static inline so that a test file that uses only some
 * of them builds without unused-function warnings.  Include this header
 * after <cmocka.h>, <re.h>, "sip/sip_int.h" and leakcheck.h.
 */
#ifndef CMRLAB_TESTS_SIP_SDPBODY_H
#define CMRLAB_TESTS_SIP_SDPBODY_H


#define SDP_S "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\n" \
	"c=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"
#define SDP_E "v=0\r\no=- 2 2 IN IP4 192.0.2.9\r\ns=-\r\n" \
	"c=IN IP4 192.0.2.9\r\nt=0 0\r\nm=audio 5000 RTP/AVP 8\r\n"
#define SDP_LF "v=0\no=- 3 3 IN IP4 192.0.2.3\ns=-\n" \
	"c=IN IP4 192.0.2.3\nt=0 0\nm=audio 6000 RTP/AVP 0\n"

/* The same SDPs with no line end after their last line, as a sender
 * leaves them when it counts the CRLF before a delimiter as the part's. */
#define SDP_S_NOEOL "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\n" \
	"c=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0"
#define SDP_E_NOEOL "v=0\r\no=- 2 2 IN IP4 192.0.2.9\r\ns=-\r\n" \
	"c=IN IP4 192.0.2.9\r\nt=0 0\r\nm=audio 5000 RTP/AVP 8"
#define SDP_LF_NOEOL "v=0\no=- 3 3 IN IP4 192.0.2.3\ns=-\n" \
	"c=IN IP4 192.0.2.3\nt=0 0\nm=audio 6000 RTP/AVP 0"

#define CT_SDP "Content-Type: application/sdp\r\n"
#define PART_S CT_SDP "Content-Disposition: session\r\n\r\n" SDP_S
#define PART_E CT_SDP "Content-Disposition: early-session\r\n\r\n" SDP_E
#define MP "multipart/mixed;boundary=b"


#define INVITE "INVITE sip:bob@cmrlab.test SIP/2.0\r\n" \
	"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\n" \
	"From: <sip:alice@cmrlab.test>;tag=a\r\n" \
	"To: <sip:bob@cmrlab.test>\r\n" \
	"Call-ID: body\r\n" \
	"CSeq: 1 INVITE\r\n" \
	"Max-Forwards: 70\r\n"


static inline void pl_of(struct pl *pl, const char *p, size_t n)
{
	pl->p = p;
	pl->l = n;
}


/* An exact-size heap copy, so that the sanitizer build catches a read
 * one byte past the end. */
static inline char *dup_exact(const char *s, size_t n)
{
	char *p = malloc(n ? n : 1);

	assert_non_null(p);
	if (n)
		memcpy(p, s, n);

	return p;
}


/* libre and libc allocate some things once, on first use (the random
 * generator, stdio); one round of what the tests do makes those before
 * any mark is taken. */
static inline int sdpbody_group_setup(void **state)
{
	static const struct pl s = PL(SDP_S);
	struct body_out bo;
	struct mbuf *mb = mbuf_alloc(1024);
	struct sip_msg *msg = NULL;
	char *str = NULL;

	(void)state;

	if (!mb || body_out_init(&bo, &s, &s) ||
	    mbuf_printf(mb, INVITE "%H", body_print, &bo) ||
	    re_sdprintf(&str, "%H", body_print, &bo))
		return -1;

	mb->pos = 0;
	if (sip_msg_decode(&msg, mb))
		return -1;

	mem_deref(msg);
	mem_deref(str);
	mem_deref(mb);

	return 0;
}


#endif
