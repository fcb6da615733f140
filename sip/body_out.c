/**
 * @file body_out.c  SDP on its way out of, or into, this server: bodies
 *                   we print (one SDP, or session and early-session SDP
 *                   in multipart/mixed) and the one door to libre's SDP
 *                   decoder
 *
 * An SDP's last line may lack its line end (body.c says why).
 * body_sdp_decode() adds it before libre's sdp_decode() sees the SDP, and
 * body_print() before the SDP goes on, so the next parser gets it whole.
 */
#include <string.h>
#include <re.h>
#include "sip/sip_int.h"

/* Our boundaries: a fixed prefix that says who made them and 64 random
 * bits, so that one can be told from the SDP around it in a trace. */
#define BOUNDARY_PREFIX "cmrlab-"

enum { BOUNDARY_TRIES = 8 };


/* The line end that the SDP's last line lacks: none after a LF, the LF
 * after a lone CR, otherwise CRLF (RFC 4566 section 5). */
static const char *eol_missing(const struct pl *sdp)
{
	if (!sdp || !sdp->l)
		return "";

	switch (sdp->p[sdp->l - 1]) {

	case '\n':
		return "";

	case '\r':
		return "\n";

	default:
		return "\r\n";
	}
}


int body_sdp_decode(struct sdp_session *sess, const struct pl *sdp,
		    bool offer)
{
	const char *eol;
	struct mbuf *mb;
	int err;

	if (!sess || !sdp || (sdp->l && !sdp->p))
		return EINVAL;

	eol = eol_missing(sdp);

	mb = mbuf_alloc(sdp->l + strlen(eol));
	if (!mb)
		return ENOMEM;

	/* An empty SDP is decoded as such: no media, as before. */
	if (sdp->l) {
		err  = mbuf_write_pl(mb, sdp);
		err |= mbuf_write_str(mb, eol);
		if (err)
			goto out;
	}

	mb->pos = 0;
	err = sdp_decode(sess, mb, offer);

 out:
	mem_deref(mb);

	return err;
}


int body_out_init(struct body_out *bo, const struct pl *session,
		  const struct pl *early)
{
	char b[BODY_BOUNDARY_SZ];
	int i;

	if (!bo)
		return EINVAL;

	/* With 64 random bits a collision with the SDP is next to
	 * impossible, but the boundary must not occur in the parts at all,
	 * so it is checked rather than hoped for. */
	for (i = 0; i < BOUNDARY_TRIES; i++) {

		(void)re_snprintf(b, sizeof(b), BOUNDARY_PREFIX "%08x%08x",
				  rand_u32(), rand_u32());

		if (body_occurs(session, b) || body_occurs(early, b))
			continue;

		bo->session = session;
		bo->early = early;
		memcpy(bo->boundary, b, sizeof(b));

		return 0;
	}

	return EAGAIN;
}


/* The boundary parameter's value, quoted when it holds characters that a
 * token may not (RFC 2045 section 5.1). */
static int boundary_print(struct re_printf *pf, const char *b)
{
	const char *p;

	for (p = b; *p; p++) {
		if (!body_is_token(*p))
			return re_hprintf(pf, "\"%s\"", b);
	}

	return re_hprintf(pf, "%s", b);
}


static const char part_head[] =
	"Content-Type: application/sdp\r\nContent-Disposition: ";


int body_print(struct re_printf *pf, const struct body_out *bo)
{
	const struct pl *s, *e, *one;
	const char *b;
	size_t bl, len;

	if (!pf || !bo)
		return EINVAL;

	s = pl_isset(bo->session) ? bo->session : NULL;
	e = pl_isset(bo->early) ? bo->early : NULL;

	if (!s && !e)
		return re_hprintf(pf, "Content-Length: 0\r\n\r\n");

	if (!s || !e) {
		one = s ? s : e;
		return re_hprintf(pf, "Content-Type: application/sdp\r\n"
				  "%s"
				  "Content-Length: %zu\r\n"
				  "\r\n"
				  "%r%s",
				  e ? "Content-Disposition: early-session\r\n"
				  : "", one->l + strlen(eol_missing(one)), one,
				  eol_missing(one));
	}

	b = bo->boundary;
	bl = strnlen(b, sizeof(bo->boundary));
	if (bl == sizeof(bo->boundary) || !body_boundary_valid(b, bl) ||
	    body_occurs(s, b) || body_occurs(e, b))
		return EINVAL;

	/* Each part: "--" boundary CRLF, its two header lines, CRLF, the
	 * SDP with its final line end, CRLF; then "--" boundary "--"
	 * CRLF. */
	len = 2 * (2 + bl + 2 + (sizeof(part_head) - 1) + 2 + 2 + 2) +
		strlen("session") + s->l + strlen(eol_missing(s)) +
		strlen("early-session") + e->l + strlen(eol_missing(e)) +
		2 + bl + 2 + 2;

	return re_hprintf(pf, "Content-Type: multipart/mixed;boundary=%H\r\n"
			  "Content-Length: %zu\r\n"
			  "\r\n"
			  "--%s\r\n%ssession\r\n\r\n%r%s\r\n"
			  "--%s\r\n%searly-session\r\n\r\n%r%s\r\n"
			  "--%s--\r\n",
			  boundary_print, b, len,
			  b, part_head, s, eol_missing(s),
			  b, part_head, e, eol_missing(e),
			  b);
}


int body_print_sdp(struct re_printf *pf, const struct pl *sdp)
{
	struct body_out bo;
	int err;

	err = body_out_init(&bo, sdp, NULL);
	if (err)
		return err;

	return body_print(pf, &bo);
}


/* A copy of an SDP that outlives its message, or NULL for none. */
struct mbuf *body_sdp_copy(const struct pl *sdp)
{
	struct mbuf *mb;

	if (!pl_isset(sdp))
		return NULL;

	mb = mbuf_alloc(sdp->l);
	if (!mb)
		return NULL;

	(void)mbuf_write_pl(mb, sdp);
	mb->pos = 0;

	return mb;
}
