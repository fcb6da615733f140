/**
 * @file test_body_parse.c  Session and early-session SDP in message
 *                          bodies, read: parser vectors, the part limit,
 *                          truncations, mutations and whole messages
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


/* A body that exercises most of the grammar at once: a preamble, padding
 * on a delimiter line, a compact header name, a handling parameter and
 * an epilogue. */
#define GOOD "preamble\r\n--b \t\r\n" PART_S "\r\n--b\r\n" \
	"c: application/sdp\r\n" \
	"Content-Disposition: early-session;handling=required\r\n\r\n" \
	SDP_E "\r\n--b--\r\nepilogue"


struct vec {
	const char *name;
	const char *ctype;         /* Content-Type value, NULL for none */
	const char *disp;          /* Content-Disposition value or NULL */
	const char *body;
	int err;
	const char *session;       /* expected bytes, NULL for none */
	const char *early;
	bool multipart;
};


static const struct vec vecs[] = {
	/* One SDP as the message body. */
	{"plain SDP", "application/sdp", NULL, SDP_S, 0, SDP_S, NULL, false},
	{"SDP, disposition session", "application/sdp", "session", SDP_S,
	 0, SDP_S, NULL, false},
	{"SDP, type in capitals, handling=required", "Application/SDP",
	 "Session;handling=required", SDP_S, 0, SDP_S, NULL, false},
	{"early-session at message level", "application/sdp",
	 "early-session", SDP_E, 0, NULL, SDP_E, false},
	{"early-session, handling=optional", " application/sdp ",
	 " early-session ; handling=optional", SDP_E, 0, NULL, SDP_E,
	 false},
	{"SDP with LF line ends", "application/sdp", NULL, SDP_LF, 0,
	 SDP_LF, NULL, false},
	{"SDP without a final CRLF", "application/sdp", NULL, SDP_S_NOEOL,
	 0, SDP_S_NOEOL, NULL, false},
	{"early-session SDP without a final CRLF", "application/sdp",
	 "early-session", SDP_E_NOEOL, 0, NULL, SDP_E_NOEOL, false},
	{"LF-only SDP without a final LF", "application/sdp", NULL,
	 SDP_LF_NOEOL, 0, SDP_LF_NOEOL, NULL, false},
	{"no body", "application/sdp", NULL, "", 0, NULL, NULL, false},
	{"no body, no Content-Type", NULL, NULL, "", 0, NULL, NULL, false},
	{"no body, unknown type", "text/plain", NULL, "", 0, NULL, NULL,
	 false},
	{"body without Content-Type", NULL, NULL, SDP_S, EBADMSG, NULL, NULL,
	 false},
	{"malformed Content-Type", "application", NULL, SDP_S, EBADMSG,
	 NULL, NULL, false},
	{"garbage after Content-Type", "application/sdp x", NULL, SDP_S,
	 EBADMSG, NULL, NULL, false},
	{"malformed disposition", "application/sdp", "session;", SDP_S,
	 EBADMSG, NULL, NULL, false},
	{"unknown type", "text/plain", NULL, "hello", ENOTSUP, NULL, NULL,
	 false},
	{"unknown type, handling=required", "text/plain",
	 "render;handling=required", "hello", ENOTSUP, NULL, NULL, false},
	{"unknown type, handling=optional", "text/plain",
	 "render;handling=optional", "hello", 0, NULL, NULL, false},
	{"SDP with another disposition", "application/sdp", "render",
	 SDP_S, ENOTSUP, NULL, NULL, false},
	{"SDP with another disposition, optional", "application/sdp",
	 "render;handling=optional", SDP_S, 0, NULL, NULL, false},
	{"multipart/alternative", "multipart/alternative;boundary=b", NULL,
	 "--b\r\n" PART_S "\r\n--b--", ENOTSUP, NULL, NULL, false},

	/* multipart/mixed, good. */
	{"session then early", MP, NULL,
	 "--b\r\n" PART_S "\r\n--b\r\n" PART_E "\r\n--b--\r\n", 0,
	 SDP_S, SDP_E, true},
	{"early then session", MP, NULL,
	 "--b\r\n" PART_E "\r\n--b\r\n" PART_S "\r\n--b--\r\n", 0,
	 SDP_S, SDP_E, true},
	{"everything at once", MP, NULL, GOOD, 0, SDP_S, SDP_E, true},
	{"quoted boundary with space and colon",
	 "Multipart/Mixed; BOUNDARY=\"x y:z\"", "session",
	 "--x y:z\r\n" PART_S "\r\n--x y:z\r\n" PART_E "\r\n--x y:z--", 0,
	 SDP_S, SDP_E, true},
	{"boundary among other parameters", "multipart/mixed ; a=1 ;"
	 " boundary=b ; c=\"q\\\"q\"", NULL,
	 "--b\r\n" PART_S "\r\n--b--", 0, SDP_S, NULL, true},
	{"preamble and epilogue with the boundary", MP, NULL,
	 "this is a preamble\r\nmore of it\r\n--b\r\n" PART_E
	 "\r\n--b--\r\n--b\r\n" PART_S "\r\n--b--\r\n", 0, NULL, SDP_E,
	 true},
	{"CRLF before the first delimiter", MP, NULL,
	 "\r\n--b\r\n" PART_S "\r\n--b--", 0, SDP_S, NULL, true},
	{"padding on every delimiter line", MP, NULL,
	 "--b \t \r\n" PART_S "\r\n--b\t\r\n" PART_E "\r\n--b--  \r\n", 0,
	 SDP_S, SDP_E, true},
	{"part without disposition is session", MP, NULL,
	 "--b\r\n" CT_SDP "\r\n" SDP_S "\r\n--b--", 0, SDP_S, NULL, true},
	{"header names in any case, compact c, folding", MP, NULL,
	 "--b\r\nCONTENT-DISPOSITION: early-session;\r\n"
	 "\thandling=optional\r\nc:application/sdp\r\n"
	 "Content-ID: <x@y>\r\n\r\n" SDP_E "\r\n--b--", 0, NULL, SDP_E,
	 true},
	/* RFC 2046 5.1.1: the CRLF before a delimiter is the delimiter's,
	 * so these parts end without a CRLF of their own ... */
	{"last SDP line without its own CRLF", MP, NULL,
	 "--b\r\n" CT_SDP "Content-Disposition: session\r\n\r\n"
	 SDP_S_NOEOL "\r\n--b\r\n" CT_SDP
	 "Content-Disposition: early-session\r\n\r\n" SDP_E_NOEOL
	 "\r\n--b--\r\n", 0, SDP_S_NOEOL, SDP_E_NOEOL, true},
	{"early-session part alone without its own CRLF", MP, NULL,
	 "--b\r\n" CT_SDP "Content-Disposition: early-session\r\n\r\n"
	 SDP_E_NOEOL "\r\n--b--", 0, NULL, SDP_E_NOEOL, true},
	{"LF-only SDP without a final LF in a multipart", MP, NULL,
	 "--b\r\n" CT_SDP "\r\n" SDP_LF_NOEOL "\r\n--b--", 0,
	 SDP_LF_NOEOL, NULL, true},
	/* ... and these keep a CRLF of their own before it. */
	{"last SDP line with its own CRLF", MP, NULL,
	 "--b\r\n" PART_E "\r\n--b--\r\n", 0, NULL, SDP_E, true},
	{"SDP with LF line ends inside a CRLF multipart", MP, NULL,
	 "--b\r\n" CT_SDP "\r\n" SDP_LF "\r\n--b--", 0, SDP_LF, NULL, true},
	{"empty part", MP, NULL,
	 "--b\r\n\r\n--b\r\n" PART_S "\r\n--b--", 0, SDP_S, NULL, true},
	{"part without headers", MP, NULL,
	 "--b\r\n\r\nhello\r\n--b\r\n" PART_S "\r\n--b--", 0, SDP_S, NULL,
	 true},
	{"SDP part without content is ignored", MP, NULL,
	 "--b\r\n" CT_SDP "\r\n--b\r\n" PART_E "\r\n--b--", 0, NULL, SDP_E,
	 true},
	{"required SDP part without content is ignored", MP, NULL,
	 "--b\r\n" CT_SDP "Content-Disposition: session;handling=required"
	 "\r\n\r\n--b--", 0, NULL, NULL, true},
	{"SDP part, blank line, no content", MP, NULL,
	 "--b\r\n" CT_SDP "\r\n\r\n--b--", 0, NULL, NULL, true},
	{"other parts are ignored", MP, NULL,
	 "--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b\r\n"
	 "Content-Type: application/isup\r\n"
	 "Content-Disposition: signal;handling=optional\r\n\r\n\x01\x02"
	 "\r\n--b\r\n" PART_S "\r\n--b--", 0, SDP_S, NULL, true},
	{"part without Content-Type is text/plain", MP, NULL,
	 "--b\r\nContent-Disposition: session\r\n\r\n" SDP_S "\r\n--b--", 0,
	 NULL, NULL, true},
	{"nested multipart is ignored", MP, NULL,
	 "--b\r\nContent-Type: multipart/mixed;boundary=c\r\n\r\n"
	 "--c\r\n" PART_E "\r\n--c--\r\n--b\r\n" PART_S "\r\n--b--", 0,
	 SDP_S, NULL, true},
	{"base64 SDP is ignored", MP, NULL,
	 "--b\r\n" CT_SDP "Content-Transfer-Encoding: base64\r\n\r\n"
	 "dj0wDQo=\r\n--b--", 0, NULL, NULL, true},
	{"8bit SDP is fine", MP, NULL,
	 "--b\r\n" CT_SDP "Content-Transfer-Encoding: 8bit\r\n\r\n" SDP_S
	 "\r\n--b--", 0, SDP_S, NULL, true},
	{"SDP part with another disposition is ignored", MP, NULL,
	 "--b\r\n" CT_SDP "Content-Disposition: render\r\n\r\n" SDP_E
	 "\r\n--b\r\n" PART_S "\r\n--b--", 0, SDP_S, NULL, true},
	{"no parts at all", MP, NULL, "--b--", 0, NULL, NULL, true},
	{"boundary of 70 characters", "multipart/mixed;boundary="
	 "0123456789012345678901234567890123456789012345678901234567890123"
	 "456789", NULL,
	 "--0123456789012345678901234567890123456789012345678901234567890123"
	 "456789\r\n" PART_S "\r\n--012345678901234567890123456789012345678"
	 "9012345678901234567890123456789--", 0, SDP_S, NULL, true},

	/* multipart/mixed, bad. */
	{"unknown part with handling=required", MP, NULL,
	 "--b\r\nContent-Type: text/plain\r\n"
	 "Content-Disposition: render;handling=required\r\n\r\nhi\r\n--b\r\n"
	 PART_S "\r\n--b--", ENOTSUP, NULL, NULL, false},
	{"two early-session parts", MP, NULL,
	 "--b\r\n" PART_E "\r\n--b\r\n" PART_S "\r\n--b\r\n" PART_E
	 "\r\n--b--", EBADMSG, NULL, NULL, false},
	{"two session parts", MP, NULL,
	 "--b\r\n" PART_S "\r\n--b\r\n" CT_SDP "\r\n" SDP_E "\r\n--b--",
	 EBADMSG, NULL, NULL, false},
	{"missing close delimiter", MP, NULL,
	 "--b\r\n" PART_S "\r\n--b\r\n" PART_E, EBADMSG, NULL, NULL, false},
	{"missing close delimiter, CRLF at the end", MP, NULL,
	 "--b\r\n" PART_S "\r\n", EBADMSG, NULL, NULL, false},
	{"body ends with the last delimiter", MP, NULL,
	 "--b\r\n" PART_S "\r\n--b", EBADMSG, NULL, NULL, false},
	{"boundary absent from the body", MP, NULL,
	 "--x\r\n" PART_S "\r\n--x--", EBADMSG, NULL, NULL, false},
	{"no boundary parameter", "multipart/mixed", NULL,
	 "--b\r\n" PART_S "\r\n--b--", EBADMSG, NULL, NULL, false},
	{"empty boundary", "multipart/mixed;boundary=\"\"", NULL,
	 "--\r\n" PART_S "\r\n----", EBADMSG, NULL, NULL, false},
	{"boundary ending in a space", "multipart/mixed;boundary=\"b \"",
	 NULL, "--b \r\n" PART_S "\r\n--b --", EBADMSG, NULL, NULL, false},
	{"boundary of 71 characters", "multipart/mixed;boundary="
	 "0123456789012345678901234567890123456789012345678901234567890123"
	 "4567890", NULL,
	 "--0123456789012345678901234567890123456789012345678901234567890123"
	 "4567890\r\n" PART_S "\r\n--01234567890123456789012345678901234567"
	 "890123456789012345678901234567890--", EBADMSG, NULL, NULL,
	 false},
	{"boundary with a character outside bchars",
	 "multipart/mixed;boundary=\"b@\"", NULL,
	 "--b@\r\n" PART_S "\r\n--b@--", EBADMSG, NULL, NULL, false},
	{"two boundary parameters", MP ";boundary=c", NULL,
	 "--b\r\n" PART_S "\r\n--b--", EBADMSG, NULL, NULL, false},
	{"unterminated quoted boundary", "multipart/mixed;boundary=\"b",
	 NULL, "--b\r\n" PART_S "\r\n--b--", EBADMSG, NULL, NULL, false},
	{"LF-only line ends", MP, NULL,
	 "--b\nContent-Type: application/sdp\n\n" SDP_LF "\n--b--\n",
	 EBADMSG, NULL, NULL, false},
	{"part headers without a blank line", MP, NULL,
	 "--b\r\n" CT_SDP SDP_S "\r\n--b--", EBADMSG, NULL, NULL, false},
	{"part header without its CRLF", MP, NULL,
	 "--b\r\nContent-Type: application/sdp\r\n--b--", EBADMSG, NULL,
	 NULL, false},
	{"part header without a colon", MP, NULL,
	 "--b\r\nContent-Type application/sdp\r\n\r\n" SDP_S "\r\n--b--",
	 EBADMSG, NULL, NULL, false},
	{"part header with an empty name", MP, NULL,
	 "--b\r\n: x\r\n" CT_SDP "\r\n" SDP_S "\r\n--b--", EBADMSG, NULL,
	 NULL, false},
	{"folding before any header", MP, NULL,
	 "--b\r\n x\r\n" CT_SDP "\r\n" SDP_S "\r\n--b--", EBADMSG, NULL,
	 NULL, false},
	{"two Content-Types in a part", MP, NULL,
	 "--b\r\n" CT_SDP "c: text/plain\r\n\r\n" SDP_S "\r\n--b--",
	 EBADMSG, NULL, NULL, false},
	{"malformed Content-Type in a part", MP, NULL,
	 "--b\r\nContent-Type: sdp\r\n\r\n" SDP_S "\r\n--b--", EBADMSG,
	 NULL, NULL, false},
	{"malformed disposition in a part", MP, NULL,
	 "--b\r\n" CT_SDP "Content-Disposition: ;session\r\n\r\n" SDP_S
	 "\r\n--b--", EBADMSG, NULL, NULL, false},
	{"garbage after the boundary on a delimiter line", MP, NULL,
	 "--b x\r\n" PART_S "\r\n--b--", EBADMSG, NULL, NULL, false},
	{"boundary as a line prefix inside a part", MP, NULL,
	 "--b\r\n" PART_S "--bogus\r\n\r\n--b--", EBADMSG, NULL, NULL,
	 false},
	{"garbage after the close delimiter", MP, NULL,
	 "--b\r\n" PART_S "\r\n--b--x", EBADMSG, NULL, NULL, false},
	{"lone CR after the close delimiter", MP, NULL,
	 "--b\r\n" PART_S "\r\n--b--\r", EBADMSG, NULL, NULL, false},
	{"delimiter line directly after a delimiter line", MP, NULL,
	 "--b\r\n--b--", EBADMSG, NULL, NULL, false},
};


static void check_pl(const char *what, const struct pl *got,
		     const char *want, const char *buf, size_t len)
{
	if (!want) {
		if (got->p || got->l)
			fail_msg("%s: unexpected \"%.*s\"", what,
				 (int)got->l, got->p);
		return;
	}

	if (!got->p)
		fail_msg("%s: missing", what);

	assert_int_equal(strlen(want), got->l);
	assert_memory_equal(want, got->p, got->l);

	/* Zero copy: the SDP is a view into the body. */
	assert_true(got->p >= buf && got->p + got->l <= buf + len);
}


/* Parses body (n bytes) with the given header values, each in its own
 * exact-size heap copy; checks that the view is left alone on error. */
static int parse(struct body_view *bv, const char *ctype, const char *disp,
		 const char *body, size_t n, char **bufp)
{
	struct pl ct, cd, b;
	char *cbuf = ctype ? dup_exact(ctype, strlen(ctype)) : NULL;
	char *dbuf = disp ? dup_exact(disp, strlen(disp)) : NULL;
	struct body_view before;
	int err;

	*bufp = dup_exact(body, n);

	if (cbuf)
		pl_of(&ct, cbuf, strlen(ctype));
	if (dbuf)
		pl_of(&cd, dbuf, strlen(disp));
	pl_of(&b, *bufp, n);

	memset(bv, 0x5a, sizeof(*bv));
	before = *bv;

	err = body_parse_raw(bv, cbuf ? &ct : NULL, dbuf ? &cd : NULL, &b);
	if (err)
		assert_memory_equal(&before, bv, sizeof(*bv));

	free(cbuf);
	free(dbuf);

	return err;
}


static void test_vectors(void **state)
{
	long mark = leakcheck_mark();
	size_t i;

	(void)state;

	for (i = 0; i < ARRAY_SIZE(vecs); i++) {
		const struct vec *v = &vecs[i];
		size_t n = strlen(v->body);
		struct body_view bv;
		char *buf;
		int err;

		err = parse(&bv, v->ctype, v->disp, v->body, n, &buf);
		if (err != v->err)
			fail_msg("\"%s\": error %d, expected %d", v->name,
				 err, v->err);

		if (!err) {
			check_pl(v->name, &bv.session, v->session, buf, n);
			check_pl(v->name, &bv.early, v->early, buf, n);
			if (bv.multipart != v->multipart)
				fail_msg("\"%s\": multipart %d", v->name,
					 bv.multipart);
		}

		free(buf);
	}

	assert_int_equal(EINVAL, body_parse_raw(NULL, NULL, NULL, NULL));
	assert_int_equal(EINVAL, body_parse(NULL, NULL));

	leakcheck_assert(mark);
}


/* N parts: N - 1 text parts and the session SDP last. */
static int parts(size_t n)
{
	struct mbuf *mb = mbuf_alloc(64 * n + 256);
	struct body_view bv;
	char *buf;
	size_t i;
	int err;

	assert_non_null(mb);
	for (i = 1; i < n; i++)
		assert_int_equal(0, mbuf_printf(mb, "--b\r\nContent-Type: "
						"text/plain\r\n\r\n%zu\r\n",
						i));
	assert_int_equal(0, mbuf_printf(mb, "--b\r\n" PART_S
					"\r\n--b--\r\n"));

	err = parse(&bv, MP, NULL, (char *)mb->buf, mb->end, &buf);
	if (!err) {
		check_pl("parts", &bv.session, SDP_S, buf, mb->end);
		check_pl("parts", &bv.early, NULL, buf, mb->end);
	}

	free(buf);
	mem_deref(mb);

	return err;
}


static void test_part_limit(void **state)
{
	long mark = leakcheck_mark();

	(void)state;

	assert_int_equal(0, parts(1));
	assert_int_equal(0, parts(BODY_MAX_PARTS));
	assert_int_equal(EBADMSG, parts(BODY_MAX_PARTS + 1));
	assert_int_equal(EBADMSG, parts(100000));

	leakcheck_assert(mark);
}


/* Every prefix of a good multipart: the parser must stay inside the
 * bytes it is given, and only the prefixes that are complete bodies by
 * RFC 2046's grammar may succeed. */
static void test_truncated(void **state)
{
	static const char good[] = GOOD;
	const size_t len = sizeof(good) - 1;
	const size_t close = strstr(good, "--b--") - good + 5;
	long mark = leakcheck_mark();
	size_t n;

	(void)state;

	for (n = 0; n <= len; n++) {
		bool complete = n == 0 || n == close || n >= close + 2;
		struct body_view bv;
		char *buf;
		int err;

		err = parse(&bv, MP, NULL, good, n, &buf);
		if (err != (complete ? 0 : EBADMSG))
			fail_msg("prefix of %zu bytes: error %d", n, err);

		if (!err && n) {
			check_pl("prefix", &bv.session, SDP_S, buf, n);
			check_pl("prefix", &bv.early, SDP_E, buf, n);
		}

		free(buf);
	}

	leakcheck_assert(mark);
}


/* Each byte of the good body replaced by each of a few characters that
 * matter to the grammar: never a read out of bounds, never an error
 * other than EBADMSG or ENOTSUP, and any SDP found lies in the body. */
static void test_mutated(void **state)
{
	static const char good[] = GOOD;
	static const char subst[] = {'\0', '\r', '\n', '-', ' ', ':', 'b',
				     ';'};
	const size_t len = sizeof(good) - 1;
	long mark = leakcheck_mark();
	char *m = dup_exact(good, len);
	size_t i, j;

	(void)state;

	for (i = 0; i < len; i++) {
		for (j = 0; j < sizeof(subst); j++) {
			struct body_view bv;
			char *buf;
			int err;

			m[i] = subst[j];
			err = parse(&bv, MP, NULL, m, len, &buf);
			assert_true(err == 0 || err == EBADMSG ||
				    err == ENOTSUP);
			if (!err) {
				assert_true(!bv.session.p ||
					    (bv.session.p >= buf &&
					     bv.session.p + bv.session.l <=
					     buf + len));
				assert_true(!bv.early.p ||
					    (bv.early.p >= buf &&
					     bv.early.p + bv.early.l <=
					     buf + len));
			}
			free(buf);
		}
		m[i] = good[i];
	}

	free(m);
	leakcheck_assert(mark);
}


struct mvec {
	const char *name;
	const char *hdrs;          /* header lines, Content-Length included */
	const char *body;
	int err;
	const char *session;
	const char *early;
};

#define CL(s) "Content-Length: " #s "\r\n"

static const struct mvec mvecs[] = {
	{"no body", CT_SDP CL(0), "", 0, NULL, NULL},
	{"no body, no headers", CL(0), "", 0, NULL, NULL},
	{"compact Content-Type", "c: application/sdp\r\n", SDP_S, 0, SDP_S,
	 NULL},
	{"early-session at message level", CT_SDP
	 "Content-Disposition: early-session\r\n", SDP_E, 0, NULL, SDP_E},
	{"bytes past Content-Length are not the body", CT_SDP CL(3),
	 "v=0garbage", 0, "v=0", NULL},
	{"Content-Length past the end", CT_SDP CL(300), SDP_S, EBADMSG,
	 NULL, NULL},
	{"two Content-Types", CT_SDP CT_SDP, SDP_S, EBADMSG, NULL, NULL},
	{"two Content-Dispositions", CT_SDP "Content-Disposition: session\r\n"
	 "Content-Disposition: session\r\n", SDP_S, EBADMSG, NULL, NULL},
	{"gzip", CT_SDP "Content-Encoding: gzip\r\n", SDP_S, ENOTSUP, NULL,
	 NULL},
	{"identity encoding, compact", CT_SDP "e: identity\r\n", SDP_S, 0,
	 SDP_S, NULL},
	{"multipart", "Content-Type: " MP "\r\n",
	 "--b\r\n" PART_E "\r\n--b\r\n" PART_S "\r\n--b--\r\n", 0, SDP_S,
	 SDP_E},
	{"unknown type", "Content-Type: application/pidf+xml\r\n", "<x/>",
	 ENOTSUP, NULL, NULL},
};


static void test_msg(void **state)
{
	long mark = leakcheck_mark();
	size_t i;

	(void)state;

	for (i = 0; i < ARRAY_SIZE(mvecs); i++) {
		const struct mvec *v = &mvecs[i];
		struct mbuf *mb = mbuf_alloc(1024);
		struct body_view bv;
		struct sip_msg *msg;
		int err;

		assert_non_null(mb);
		assert_int_equal(0, mbuf_printf(mb, INVITE "%s\r\n%s",
						v->hdrs, v->body));
		msg = sipmsg_decode_mb(mb);

		err = body_parse(&bv, msg);
		if (err != v->err)
			fail_msg("\"%s\": error %d, expected %d", v->name,
				 err, v->err);
		if (!err) {
			check_pl(v->name, &bv.session, v->session,
				 (char *)mb->buf, mb->end);
			check_pl(v->name, &bv.early, v->early,
				 (char *)mb->buf, mb->end);
		}

		mem_deref(msg);
		mem_deref(mb);
	}

	leakcheck_assert(mark);
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_part_limit),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_mutated),
		cmocka_unit_test(test_msg),
	};

	return cmocka_run_group_tests_name("sip/body_parse", tests,
					   sdpbody_group_setup, NULL);
}
