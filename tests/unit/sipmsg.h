/**
 * @file sipmsg.h  SIP messages of the unit tests, decoded from their text
 *
 * Several unit tests build a SIP message as text and need it as libre's
 * struct sip_msg, the form the server's handlers take.  These helpers do
 * that one way for all of them: the text goes into an mbuf, libre decodes
 * it, and the test fails at once if libre cannot, since every test that
 * uses them means its message to be well formed.  Tests that feed the
 * decoder malformed input on purpose call sip_msg_decode() themselves.
 *
 * The helpers are static inline so that a test file that uses only some of
 * them builds without unused-function warnings.  Include this header after
 * <cmocka.h> and <re.h>.
 */
#ifndef CMRLAB_TESTS_SIPMSG_H
#define CMRLAB_TESTS_SIPMSG_H


/**
 * Decode the message in mb from its start.  The mbuf stays the caller's:
 * libre's message keeps a reference of its own.
 */
static inline struct sip_msg *sipmsg_decode_mb(struct mbuf *mb)
{
	struct sip_msg *msg = NULL;

	mb->pos = 0;
	assert_int_equal(0, sip_msg_decode(&msg, mb));

	return msg;
}


/** Decode the message text, taken as it is. */
static inline struct sip_msg *sipmsg_decode(const char *text)
{
	struct sip_msg *msg;
	struct mbuf *mb = mbuf_alloc(1024);

	assert_non_null(mb);
	assert_int_equal(0, mbuf_write_str(mb, text));
	msg = sipmsg_decode_mb(mb);
	mem_deref(mb);

	return msg;
}


/** Decode the message that libre's printf makes of fmt and its arguments. */
static inline struct sip_msg *sipmsg_decodef(const char *fmt, ...)
{
	struct sip_msg *msg;
	struct mbuf *mb = mbuf_alloc(1024);
	va_list ap;

	assert_non_null(mb);
	va_start(ap, fmt);
	assert_int_equal(0, mbuf_vprintf(mb, fmt, ap));
	va_end(ap);
	msg = sipmsg_decode_mb(mb);
	mem_deref(mb);

	return msg;
}


/**
 * An INVITE from alice to bob with the header lines hdrs (each ending in
 * CRLF) and, when sdp is not NULL, that SDP as an application/sdp body.
 */
static inline struct sip_msg *sipmsg_invite(const char *hdrs,
					    const char *sdp)
{
	return sipmsg_decodef(
		"INVITE sip:bob@h SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\n"
		"From: <sip:alice@h>;tag=a\r\n"
		"To: <sip:bob@h>\r\n"
		"Call-ID: x\r\n"
		"CSeq: 1 INVITE\r\n"
		"%s"
		"%s"
		"Content-Length: %zu\r\n\r\n%s", hdrs,
		sdp ? "Content-Type: application/sdp\r\n" : "",
		sdp ? strlen(sdp) : (size_t)0, sdp ? sdp : "");
}


#endif
