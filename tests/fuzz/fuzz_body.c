/**
 * @file fuzz_body.c  Fuzz harness of the message body parser and printer
 *                    (sip/body.c, sip/body_out.c)
 *
 * Input: the Content-Type value up to the first LF, the
 * Content-Disposition value up to the second (an empty line: none), and
 * the body after it.  Each of the three is copied into a heap block of
 * its own exact size, so that a read past any of them is seen by
 * AddressSanitizer.
 *
 * What parsed is checked and sent on the ways out:
 *  - every view points inside the body; a lone SDP is the whole body;
 *  - body_sdp_copy() copies the view byte for byte;
 *  - body_sdp_decode() runs on both SDPs (its result is libre's);
 *  - body_print() of both SDPs, with body_out_init()'s boundary, prints a
 *    Content-Length equal to the length of what follows the blank line,
 *    and that body parses again into the same SDPs, each with at most the
 *    line end that the printer adds.
 */
#include <stdlib.h>
#include <string.h>
#include <re.h>
#include "sip/sip_int.h"
#include "tests/fuzz/fuzz.h"


/* The next line of [*p, end) without its LF (and a CR before it). */
static void line_next(const uint8_t **p, const uint8_t *end,
		      const uint8_t **lp, size_t *ll)
{
	const uint8_t *nl = memchr(*p, '\n', (size_t)(end - *p));
	size_t l = nl ? (size_t)(nl - *p) : (size_t)(end - *p);

	*lp = *p;
	*ll = l && (*p)[l - 1] == '\r' ? l - 1 : l;
	*p = nl ? nl + 1 : end;
}


static bool inside(const struct pl *v, const struct pl *body)
{
	if (!v->p)
		return v->l == 0;

	return v->p >= body->p && v->l <= body->l &&
		(size_t)(v->p - body->p) <= body->l - v->l;
}


static void copy_check(const struct pl *sdp)
{
	struct mbuf *mb = body_sdp_copy(sdp);

	if (!pl_isset(sdp)) {
		FUZZ_CHECK(mb == NULL);
		return;
	}

	FUZZ_CHECK(mb != NULL);
	FUZZ_CHECK(mbuf_get_left(mb) == sdp->l);
	FUZZ_CHECK(!memcmp(mbuf_buf(mb), sdp->p, sdp->l));
	mem_deref(mb);
}


static void decode_try(const struct pl *sdp)
{
	struct sdp_session *sess = NULL;
	struct sa laddr;

	if (!pl_isset(sdp))
		return;

	sa_set_str(&laddr, "127.0.0.1", 9);
	if (sdp_session_alloc(&sess, &laddr))
		return;

	(void)body_sdp_decode(sess, sdp, true);
	mem_deref(sess);
}


/* The re-parsed SDP is the original, plus at most the line end that the
 * printer adds when the last line has none. */
static void same_sdp(const struct pl *orig, const struct pl *again)
{
	size_t extra;

	if (!pl_isset(orig)) {
		FUZZ_CHECK(!pl_isset(again));
		return;
	}

	FUZZ_CHECK(again->l >= orig->l);
	FUZZ_CHECK(!memcmp(again->p, orig->p, orig->l));

	extra = again->l - orig->l;
	FUZZ_CHECK(extra <= 2);
	if (extra == 2)
		FUZZ_CHECK(!memcmp(again->p + orig->l, "\r\n", 2));
	else if (extra == 1)
		FUZZ_CHECK(again->p[orig->l] == '\n');
}


/* A header value of the printed text, or an empty pl. */
static void hdr_find(const struct pl *head, const char *name, struct pl *v)
{
	const char *p = head->p, *end = head->p + head->l;
	size_t n = strlen(name);

	*v = pl_null;

	while (p < end) {
		const char *eol = memchr(p, '\r', (size_t)(end - p));
		const char *le = eol ? eol : end;

		if ((size_t)(le - p) > n + 1 && !memcmp(p, name, n) &&
		    p[n] == ':') {
			v->p = p + n + 1;
			v->l = (size_t)(le - v->p);
			sipval_trim(v);
			return;
		}
		p = eol ? eol + 2 : end;
	}
}


static void print_check(const struct body_view *bv)
{
	struct body_out bo;
	struct body_view again;
	struct pl text, head, body, ct, cd, cl, bcopy, ctcopy, cdcopy;
	const char *blank;
	char *b = NULL, *c = NULL, *d = NULL;
	struct mbuf *mb;
	int err;

	/* EAGAIN: eight random boundaries all occur in the SDPs, which
	 * fuzzed input cannot arrange. */
	err = body_out_init(&bo, &bv->session, &bv->early);
	FUZZ_CHECK(err == 0);

	mb = mbuf_alloc(256);
	if (!mb)
		abort();

	err = mbuf_printf(mb, "%H", body_print, &bo);
	FUZZ_CHECK(err == 0);

	text.p = (const char *)mb->buf;
	text.l = mb->end;

	blank = memmem(text.p, text.l, "\r\n\r\n", 4);
	FUZZ_CHECK(blank != NULL);
	head.p = text.p;
	head.l = (size_t)(blank - text.p) + 2;
	body.p = blank + 4;
	body.l = text.l - head.l - 2;

	hdr_find(&head, "Content-Length", &cl);
	FUZZ_CHECK(pl_isset(&cl));
	FUZZ_CHECK(pl_u64(&cl) == body.l);

	hdr_find(&head, "Content-Type", &ct);
	hdr_find(&head, "Content-Disposition", &cd);

	c = dup_exact((const uint8_t *)ct.p, ct.l, &ctcopy);
	d = dup_exact((const uint8_t *)cd.p, cd.l, &cdcopy);
	b = dup_exact((const uint8_t *)body.p, body.l, &bcopy);

	err = body_parse_raw(&again, ct.p ? &ctcopy : NULL,
			     cd.p ? &cdcopy : NULL, &bcopy);
	FUZZ_CHECK(err == 0);
	same_sdp(&bv->session, &again.session);
	same_sdp(&bv->early, &again.early);
	FUZZ_CHECK(again.multipart ==
		   (pl_isset(&bv->session) && pl_isset(&bv->early)));

	free(b);
	free(c);
	free(d);
	mem_deref(mb);
}


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size, *lp;
	struct pl ctype, disp, body;
	struct body_view bv;
	char *c, *d, *b;
	size_t ll;
	int err;

	line_next(&p, end, &lp, &ll);
	c = dup_exact(lp, ll, &ctype);
	line_next(&p, end, &lp, &ll);
	d = dup_exact(lp, ll, &disp);
	b = dup_exact(p, (size_t)(end - p), &body);

	err = body_parse_raw(&bv, &ctype, disp.l ? &disp : NULL, &body);
	FUZZ_CHECK(err == 0 || err == EBADMSG || err == ENOTSUP);

	if (!err) {
		FUZZ_CHECK(inside(&bv.session, &body));
		FUZZ_CHECK(inside(&bv.early, &body));
		if (!bv.multipart && pl_isset(&bv.session))
			FUZZ_CHECK(bv.session.p == body.p &&
				   bv.session.l == body.l);

		copy_check(&bv.session);
		copy_check(&bv.early);
		decode_try(&bv.session);
		decode_try(&bv.early);
		print_check(&bv);
	}

	free(b);
	free(d);
	free(c);

	return 0;
}
