/**
 * @file test_body.c  Session and early-session SDP in message bodies:
 *                    parser vectors, truncations, printer, round trips
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


static void pl_of(struct pl *pl, const char *p, size_t n)
{
	pl->p = p;
	pl->l = n;
}


/* An exact-size heap copy, so that the sanitizer build catches a read
 * one byte past the end. */
static char *dup_exact(const char *s, size_t n)
{
	char *p = malloc(n ? n : 1);

	assert_non_null(p);
	if (n)
		memcpy(p, s, n);

	return p;
}


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


static char *printed(const struct body_out *bo, int *errp)
{
	char *s = NULL;

	*errp = re_sdprintf(&s, "%H", body_print, bo);

	return s;
}


static void expect_print(const struct body_out *bo, const char *want)
{
	int err;
	char *s = printed(bo, &err);

	assert_int_equal(0, err);
	assert_string_equal(want, s);
	mem_deref(s);
}


static void test_print(void **state)
{
	static const struct pl s = PL(SDP_S), e = PL(SDP_E), none = PL_INIT;
	static const struct pl s_noeol = PL(SDP_S_NOEOL);
	static const struct pl e_noeol = PL(SDP_E_NOEOL);
	static const struct pl lf = PL(SDP_LF), lf_noeol = PL(SDP_LF_NOEOL);
	long mark = leakcheck_mark();
	struct body_out bo;
	char *want;
	int err;

	(void)state;

	memset(&bo, 0, sizeof(bo));
	expect_print(&bo, "Content-Length: 0\r\n\r\n");

	bo.session = &none;
	bo.early = &none;
	expect_print(&bo, "Content-Length: 0\r\n\r\n");

	bo.session = &s;
	assert_int_equal(0, re_sdprintf(&want,
		"Content-Type: application/sdp\r\n"
		"Content-Length: %zu\r\n\r\n" SDP_S, strlen(SDP_S)));
	expect_print(&bo, want);
	mem_deref(want);

	bo.session = NULL;
	bo.early = &e;
	assert_int_equal(0, re_sdprintf(&want,
		"Content-Type: application/sdp\r\n"
		"Content-Disposition: early-session\r\n"
		"Content-Length: %zu\r\n\r\n" SDP_E, strlen(SDP_E)));
	expect_print(&bo, want);
	mem_deref(want);

	/* An SDP whose last line has no line end gets one, counted in
	 * Content-Length; an LF ending stays as it is. */
	bo.session = &s_noeol;
	bo.early = NULL;
	assert_int_equal(0, re_sdprintf(&want,
		"Content-Type: application/sdp\r\n"
		"Content-Length: %zu\r\n\r\n" SDP_S, strlen(SDP_S)));
	expect_print(&bo, want);
	mem_deref(want);

	bo.session = NULL;
	bo.early = &lf_noeol;
	assert_int_equal(0, re_sdprintf(&want,
		"Content-Type: application/sdp\r\n"
		"Content-Disposition: early-session\r\n"
		"Content-Length: %zu\r\n\r\n" SDP_LF_NOEOL "\r\n",
		strlen(SDP_LF_NOEOL "\r\n")));
	expect_print(&bo, want);
	mem_deref(want);

	bo.session = &lf;
	bo.early = NULL;
	assert_int_equal(0, re_sdprintf(&want,
		"Content-Type: application/sdp\r\n"
		"Content-Length: %zu\r\n\r\n" SDP_LF, strlen(SDP_LF)));
	expect_print(&bo, want);
	mem_deref(want);

	/* In a multipart each part gets its own CRLF before the
	 * delimiter's. */
	bo.session = &s_noeol;
	bo.early = &e_noeol;
	strcpy(bo.boundary, "cmrlab-x");
	assert_int_equal(0, re_sdprintf(&want,
		"Content-Type: multipart/mixed;boundary=cmrlab-x\r\n"
		"Content-Length: %zu\r\n\r\n"
		"--cmrlab-x\r\n" PART_S "\r\n"
		"--cmrlab-x\r\n" PART_E "\r\n"
		"--cmrlab-x--\r\n",
		strlen("--cmrlab-x\r\n" PART_S "\r\n"
		       "--cmrlab-x\r\n" PART_E "\r\n"
		       "--cmrlab-x--\r\n")));
	expect_print(&bo, want);
	mem_deref(want);

	/* Both need a boundary. */
	bo.session = &s;
	bo.early = &e;
	assert_int_equal(0, re_sdprintf(&want,
		"Content-Type: multipart/mixed;boundary=cmrlab-x\r\n"
		"Content-Length: %zu\r\n\r\n"
		"--cmrlab-x\r\n" PART_S "\r\n"
		"--cmrlab-x\r\n" PART_E "\r\n"
		"--cmrlab-x--\r\n",
		strlen("--cmrlab-x\r\n" PART_S "\r\n"
		       "--cmrlab-x\r\n" PART_E "\r\n"
		       "--cmrlab-x--\r\n")));
	strcpy(bo.boundary, "cmrlab-x");
	expect_print(&bo, want);
	mem_deref(want);

	/* A boundary that is no token is quoted. */
	strcpy(bo.boundary, "a b");
	assert_int_equal(0, re_sdprintf(&want,
		"Content-Type: multipart/mixed;boundary=\"a b\"\r\n"
		"Content-Length: %zu\r\n\r\n"
		"--a b\r\n" PART_S "\r\n"
		"--a b\r\n" PART_E "\r\n"
		"--a b--\r\n",
		strlen("--a b\r\n" PART_S "\r\n"
		       "--a b\r\n" PART_E "\r\n"
		       "--a b--\r\n")));
	expect_print(&bo, want);
	mem_deref(want);

	/* Boundaries that would not survive: refused, not printed. */
	strcpy(bo.boundary, "IN IP4");     /* occurs in the SDP */
	mem_deref(printed(&bo, &err));
	assert_int_equal(EINVAL, err);
	strcpy(bo.boundary, "");
	mem_deref(printed(&bo, &err));
	assert_int_equal(EINVAL, err);
	strcpy(bo.boundary, "b ");
	mem_deref(printed(&bo, &err));
	assert_int_equal(EINVAL, err);
	strcpy(bo.boundary, "b@");
	mem_deref(printed(&bo, &err));
	assert_int_equal(EINVAL, err);
	memset(bo.boundary, 'b', sizeof(bo.boundary));  /* no NUL */
	mem_deref(printed(&bo, &err));
	assert_int_equal(EINVAL, err);

	mem_deref(printed(NULL, &err));
	assert_int_equal(EINVAL, err);

	leakcheck_assert(mark);
}


static void test_out_init(void **state)
{
	static const struct pl s = PL(SDP_S);
	long mark = leakcheck_mark();
	struct body_out a, b;

	(void)state;

	assert_int_equal(EINVAL, body_out_init(NULL, &s, &s));

	assert_int_equal(0, body_out_init(&a, &s, NULL));
	assert_ptr_equal(&s, a.session);
	assert_null(a.early);
	assert_int_equal(strlen("cmrlab-") + 16, strlen(a.boundary));
	assert_int_equal(0, strncmp(a.boundary, "cmrlab-", 7));

	assert_int_equal(0, body_out_init(&b, NULL, NULL));
	assert_string_not_equal(a.boundary, b.boundary);

	leakcheck_assert(mark);
}


/* Splits the n bytes that body_print printed (NUL-terminated after them)
 * into its Content-Type and Content-Disposition values and the body,
 * checking Content-Length. */
static void split(const char *s, size_t n, struct pl *ct, struct pl *cd,
		  struct pl *body)
{
	const char *p = s, *eol;
	struct pl cl = PL_INIT;

	*ct = pl_null;
	*cd = pl_null;

	while ((eol = strstr(p, "\r\n")) != p) {
		struct pl line, name, val;

		assert_non_null(eol);
		pl_of(&line, p, eol - p);
		assert_int_equal(0, re_regex(line.p, line.l, "[^:]+: [^]*",
					     &name, &val));
		if (!pl_strcmp(&name, "Content-Type"))
			*ct = val;
		else if (!pl_strcmp(&name, "Content-Disposition"))
			*cd = val;
		else if (!pl_strcmp(&name, "Content-Length"))
			cl = val;
		else
			fail_msg("unexpected header %r", &name);
		p = eol + 2;
	}

	/* The body may hold a NUL byte: its length is what is left. */
	pl_of(body, p + 2, n - (p + 2 - s));
	assert_int_equal(pl_u32(&cl), body->l);
}


struct rt {
	const char *name;
	const char *s;             /* NULL: none */
	size_t sl;
	const char *e;
	size_t el;
	const char *ws;            /* what comes back; NULL: s */
	size_t wsl;
	const char *we;            /* NULL: e */
	size_t wel;
};

#define RT(name, s, e) {name, s, sizeof(s) - 1, e, sizeof(e) - 1, \
		NULL, 0, NULL, 0}
/* An SDP without a final line end comes back with it. */
#define RTW(name, s, e, ws, we) {name, s, sizeof(s) - 1, e, sizeof(e) - 1, \
		ws, sizeof(ws) - 1, we, sizeof(we) - 1}

static const char nul_sdp[] = "v=0\r\ns=\0binary\r\n";

static const struct rt rts[] = {
	RT("both", SDP_S, SDP_E),
	RT("session only", SDP_S, ""),
	RT("early only", "", SDP_E),
	RT("LF-only SDPs", SDP_LF, SDP_LF),
	RT("SDPs with dashes and our prefix", "v=0\r\n--cmrlab-\r\n--\r\n",
	   "--cmrlab-0123456789abcdef\r\n--cmrlab---\r\n"),
	RTW("no final line end", "v=0", "v=0\r\nm=audio 1 RTP/AVP 0",
	    "v=0\r\n", "v=0\r\nm=audio 1 RTP/AVP 0\r\n"),
	RTW("session without final line end", SDP_S_NOEOL, "",
	    SDP_S, ""),
	RTW("early-session without final line end", "", SDP_E_NOEOL,
	    "", SDP_E),
	RTW("lone CR at the end", "v=0\r", SDP_LF_NOEOL, "v=0\r\n",
	    SDP_LF_NOEOL "\r\n"),
	RT("LF at the end", "v=0\n", "v=0\r\nm=audio 1 RTP/AVP 0\n"),
	RT("CRLFs at both ends", "\r\n\r\nv=0\r\n\r\n", "\r\n"),
	{"a NUL byte", nul_sdp, sizeof(nul_sdp) - 1, SDP_E,
	 sizeof(SDP_E) - 1, NULL, 0, NULL, 0},
};


static void check_bytes(const struct pl *got, const char *want, size_t n)
{
	if (!n) {
		assert_null(got->p);
		assert_int_equal(0, got->l);
		return;
	}

	assert_int_equal(n, got->l);
	assert_memory_equal(want, got->p, n);
}


static void test_round_trip_raw(void **state)
{
	long mark = leakcheck_mark();
	size_t i;

	(void)state;

	for (i = 0; i < ARRAY_SIZE(rts); i++) {
		const struct rt *r = &rts[i];
		struct pl s, e, ct, cd, body;
		struct body_out bo;
		struct body_view bv;
		struct mbuf *mb = mbuf_alloc(512);

		pl_of(&s, r->s, r->sl);
		pl_of(&e, r->e, r->el);
		assert_int_equal(0, body_out_init(&bo, &s, &e));

		assert_non_null(mb);
		assert_int_equal(0, mbuf_printf(mb, "%H", body_print, &bo));
		assert_int_equal(0, mbuf_write_u8(mb, 0));
		split((char *)mb->buf, mb->end - 1, &ct, &cd, &body);

		assert_int_equal(0, body_parse_raw(&bv, &ct, &cd, &body));
		check_bytes(&bv.session, r->ws ? r->ws : r->s,
			    r->ws ? r->wsl : r->sl);
		check_bytes(&bv.early, r->we ? r->we : r->e,
			    r->we ? r->wel : r->el);
		assert_int_equal(r->sl && r->el, bv.multipart);

		mem_deref(mb);
	}

	leakcheck_assert(mark);
}


#define INVITE "INVITE sip:bob@cmrlab.test SIP/2.0\r\n" \
	"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\n" \
	"From: <sip:alice@cmrlab.test>;tag=a\r\n" \
	"To: <sip:bob@cmrlab.test>\r\n" \
	"Call-ID: body\r\n" \
	"CSeq: 1 INVITE\r\n" \
	"Max-Forwards: 70\r\n"


/* A whole SIP message built with body_print, decoded by libre, parsed by
 * body_parse. */
static void test_round_trip_msg(void **state)
{
	long mark = leakcheck_mark();
	size_t i;

	(void)state;

	for (i = 0; i < ARRAY_SIZE(rts); i++) {
		const struct rt *r = &rts[i];
		struct mbuf *mb = mbuf_alloc(1024);
		struct body_out bo;
		struct body_view bv;
		struct sip_msg *msg;
		struct pl s, e;

		pl_of(&s, r->s, r->sl);
		pl_of(&e, r->e, r->el);
		assert_int_equal(0, body_out_init(&bo, &s, &e));

		assert_non_null(mb);
		assert_int_equal(0, mbuf_printf(mb, INVITE "%H",
						body_print, &bo));
		msg = sipmsg_decode_mb(mb);
		assert_int_equal(pl_u32(&msg->clen),
				 mbuf_get_left(msg->mb));

		assert_int_equal(0, body_parse(&bv, msg));
		check_bytes(&bv.session, r->ws ? r->ws : r->s,
			    r->ws ? r->wsl : r->sl);
		check_bytes(&bv.early, r->we ? r->we : r->e,
			    r->we ? r->wel : r->el);
		assert_int_equal(r->sl && r->el, bv.multipart);

		mem_deref(msg);
		mem_deref(mb);
	}

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


/* libre and libc allocate some things once, on first use (the random
 * generator, stdio); one round of what the tests do makes those before
 * any mark is taken. */
static int group_setup(void **state)
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


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_part_limit),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_mutated),
		cmocka_unit_test(test_print),
		cmocka_unit_test(test_out_init),
		cmocka_unit_test(test_round_trip_raw),
		cmocka_unit_test(test_round_trip_msg),
		cmocka_unit_test(test_msg),
		cmocka_unit_test(test_sdp_decode),
		cmocka_unit_test(test_sdp_from_msg),
		cmocka_unit_test(test_sdp_decode_args),
	};

	return cmocka_run_group_tests(tests, group_setup, NULL);
}
