/**
 * @file body.c  Session and early-session SDP in SIP message bodies
 *
 * Application server mode (RFC 3959) sends and receives two kinds of SDP:
 * the session SDP, whose disposition is "session" (the default for
 * application/sdp, RFC 3261 section 20.11), and the early-session SDP,
 * whose disposition is "early-session".  Alone, either travels as the
 * message body; together they travel as the parts of a multipart/mixed
 * body (RFC 2046 section 5.1, RFC 5621).  This file finds both in a
 * received body and prints both into an outgoing message.
 *
 * The parser reads the body in place and returns pointer-length strings
 * into it; it allocates nothing.  It follows RFC 2046's grammar strictly,
 * because a sloppy multipart parser is where buffer over-reads hide:
 *
 * - Delimiter lines and part headers end in CRLF.  A body whose lines end
 *   in LF only has no valid delimiter and gets EBADMSG.  The content of a
 *   part is opaque here, so an SDP with LF line ends inside a correct
 *   multipart is accepted and handed on unchanged.
 * - The boundary parameter is required, quoted or not, 1 to 70 characters
 *   of RFC 2046's bchars not ending in a space.  The first delimiter may
 *   open the body or follow a preamble and a CRLF; transport padding
 *   (spaces, tabs) may follow the boundary on a delimiter line; the close
 *   delimiter may be followed by padding, then the end or a CRLF and an
 *   epilogue, which is ignored.  A line that starts with "--" and the
 *   boundary but is no delimiter is EBADMSG: RFC 2046 forbids the boundary
 *   as a line prefix inside the parts.
 * - A part is header lines, a blank line, then content up to the CRLF of
 *   the next delimiter.  A part that ends right after its header lines is
 *   a part without content; an empty part has neither.  A header line
 *   without a colon (e.g. SDP where the blank line was left out) or
 *   without its CRLF is EBADMSG.  Header names are compared without
 *   regard to case; "c" is the compact form of Content-Type.
 * - At most BODY_MAX_PARTS parts; one more is EBADMSG.
 *
 * What counts as ours: an application/sdp part (or body) whose
 * disposition is absent, "session" or "early-session", in the identity,
 * 7bit, 8bit or binary encoding, with content.  A second session or a
 * second early-session SDP is EBADMSG.  Everything else is a body we do
 * not understand (another type, another disposition, a nested multipart,
 * a transfer encoding such as base64, an SDP without content):
 *
 * - As the whole message body it is ENOTSUP, so that the caller answers
 *   415 with Accept (RFC 3261 section 8.2.3 assumes handling=required
 *   when the parameter is absent), unless its Content-Disposition says
 *   handling=optional, in which case it is ignored.
 * - As a part of a multipart/mixed it is ignored, unless its
 *   Content-Disposition says handling=required: then it is ENOTSUP.  This
 *   is more lenient than RFC 3261's default on purpose: gateways add
 *   parts (ISUP, location) next to the SDP, and a call should not fail
 *   because of a part that a ringback server has no use for.
 *
 * A message without a body (or with a Content-Length of 0) has no SDP
 * and no error, whatever its Content-Type says.
 *
 * The ways out (body_out.c) are described there.
 *
 * The last line of an SDP often has no line end of its own: inside a
 * multipart the CRLF before a delimiter belongs to the delimiter (RFC
 * 2046 section 5.1.1), so a sender that writes "m=...\r\n--boundary" gives
 * the part no final CRLF, and a lone body without one is common too.  The
 * view keeps the bytes as they are (it points into the message); the two
 * ways out of this file add what is missing instead:
 *
 * - body_sdp_decode() is the one place where an SDP we received reaches
 *   libre's sdp_decode(), which drops a last line without CR or LF
 *   (libre 1.1.0 answers EBADMSG).  It copies the SDP once, as its
 *   readers did before, with the missing line end appended.
 * - body_print() ends every SDP it prints with a line end, so an SDP we
 *   pass on (the caller's to the callee, the callee's re-offered to the
 *   caller) reaches the next parser whole.  An SDP that ends in a line
 *   end, CRLF or LF, is printed unchanged.
 */
#include <string.h>
#include <re.h>
#include "sip/sip_int.h"


enum {
	BOUNDARY_MAX = 70,         /* RFC 2046 section 5.1.1 */
};

enum disp_type { DISP_NONE, DISP_SESSION, DISP_EARLY, DISP_OTHER };
enum handling { HANDLING_NONE, HANDLING_OPTIONAL, HANDLING_REQUIRED };

struct disp {
	enum disp_type type;
	enum handling handling;
};

/* The headers of one part that matter here.  A header seen has a
 * non-NULL p, even when its value is empty. */
struct part {
	struct pl ctype;
	struct pl disp;
	struct pl cte;             /* Content-Transfer-Encoding */
	struct pl cenc;            /* Content-Encoding */
	struct pl content;
};


static bool is_wsp(char c)
{
	return c == ' ' || c == '\t';
}


static bool is_lws(char c)
{
	return is_wsp(c) || c == '\r' || c == '\n';
}


/* RFC 3261 section 25.1: token. */
bool body_is_token(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		(c >= '0' && c <= '9') || (c && strchr("-.!%*_+`'~", c));
}


/* RFC 2046 section 5.1.1: bchars. */
static bool is_bchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		(c >= '0' && c <= '9') || (c && strchr("'()+_,-./:=? ", c));
}


/* The first n bytes of needle in [p, p + l), or NULL; never reads
 * outside either. */
static const char *find(const char *p, size_t l, const char *needle,
			size_t n)
{
	if (!p || !n || l < n)
		return NULL;

	return memmem(p, l, needle, n);
}


bool body_occurs(const struct pl *pl, const char *s)
{
	return pl && pl->p && find(pl->p, pl->l, s, strlen(s)) != NULL;
}




bool body_boundary_valid(const char *p, size_t l)
{
	size_t i;

	if (!l || l > BOUNDARY_MAX || p[l - 1] == ' ')
		return false;

	for (i = 0; i < l; i++) {
		if (!is_bchar(p[i]))
			return false;
	}

	return true;
}


/* Reads one ";name[=value]" from the front of *rest into name and val
 * (val empty when there is no value; a quoted value without its quotes,
 * escapes left as they are).  ENOENT when *rest holds only white space,
 * EBADMSG when it is malformed. */
static int param_next(struct pl *rest, struct pl *name, struct pl *val)
{
	const char *p = rest->p, *end = rest->p + rest->l;

	while (p < end && is_lws(*p))
		++p;

	if (p == end)
		return ENOENT;

	if (*p++ != ';')
		return EBADMSG;

	while (p < end && is_lws(*p))
		++p;

	name->p = p;
	while (p < end && body_is_token(*p))
		++p;

	name->l = p - name->p;
	if (!name->l)
		return EBADMSG;

	while (p < end && is_lws(*p))
		++p;

	val->p = p;
	val->l = 0;

	if (p < end && *p == '=') {

		++p;
		while (p < end && is_lws(*p))
			++p;

		if (p < end && *p == '"') {

			val->p = ++p;
			while (p < end && *p != '"') {
				if (*p == '\\' && ++p == end)
					break;
				++p;
			}

			if (p == end)
				return EBADMSG;   /* no closing quote */

			val->l = p++ - val->p;
		}
		else {
			val->p = p;
			while (p < end && body_is_token(*p))
				++p;

			val->l = p - val->p;
			if (!val->l)
				return EBADMSG;
		}
	}

	rest->l = end - p;
	rest->p = p;

	return 0;
}


/* A Content-Type value, its parameters checked; *bnd is the boundary
 * parameter, empty when there is none. */
static int ctype_decode(struct msg_ctype *ct, struct pl *bnd,
			const struct pl *val)
{
	struct pl rest, name, v;
	int err;

	*bnd = pl_null;

	err = msg_ctype_decode(ct, val);
	if (err)
		return EBADMSG;

	rest = ct->params;
	while (0 == (err = param_next(&rest, &name, &v))) {

		if (pl_strcasecmp(&name, "boundary"))
			continue;

		if (bnd->p)
			return EBADMSG;   /* two boundaries */

		*bnd = v;
	}

	return err == ENOENT ? 0 : err;
}


/* A Content-Disposition value (RFC 3261 section 20.11); an absent or
 * empty one is DISP_NONE. */
static int disp_decode(struct disp *d, const struct pl *val)
{
	struct pl pl, type, name, v;
	int err;

	d->type = DISP_NONE;
	d->handling = HANDLING_NONE;

	if (!val || !val->p)
		return 0;

	pl = *val;
	sipval_trim(&pl);
	if (!pl.l)
		return 0;

	type.p = pl.p;
	while (pl.l && body_is_token(*pl.p)) {
		++pl.p;
		--pl.l;
	}

	type.l = pl.p - type.p;
	if (!type.l)
		return EBADMSG;

	if (!pl_strcasecmp(&type, "session"))
		d->type = DISP_SESSION;
	else if (!pl_strcasecmp(&type, "early-session"))
		d->type = DISP_EARLY;
	else
		d->type = DISP_OTHER;

	while (0 == (err = param_next(&pl, &name, &v))) {

		if (pl_strcasecmp(&name, "handling"))
			continue;

		/* RFC 3204: a handling value we do not know counts as
		 * required. */
		d->handling = pl_strcasecmp(&v, "optional") ?
			HANDLING_REQUIRED : HANDLING_OPTIONAL;
	}

	return err == ENOENT ? 0 : err;
}


/* Absent, or one of the given encodings that leave the bytes as they
 * are. */
static bool encoding_ok(const struct pl *val, bool transfer)
{
	struct pl pl;

	if (!val->p)
		return true;

	pl = *val;
	sipval_trim(&pl);

	if (transfer)
		return !pl_strcasecmp(&pl, "binary") ||
			!pl_strcasecmp(&pl, "8bit") ||
			!pl_strcasecmp(&pl, "7bit");

	return !pl_strcasecmp(&pl, "identity");
}


static int slot_set(struct body_view *v, bool early, const struct pl *sdp)
{
	struct pl *slot = early ? &v->early : &v->session;

	/* An SDP without content is no SDP. */
	if (!sdp->l)
		return 0;

	if (slot->p)
		return EBADMSG;

	*slot = *sdp;

	return 0;
}


static int part_apply(struct body_view *v, const struct part *pt)
{
	struct msg_ctype ct;
	struct pl bnd;
	struct disp d;
	bool sdp = false;
	int err;

	err = disp_decode(&d, &pt->disp);
	if (err)
		return err;

	/* Without a Content-Type a part is text/plain (RFC 2046 section
	 * 5.1), which is not ours. */
	if (pt->ctype.p) {
		err = ctype_decode(&ct, &bnd, &pt->ctype);
		if (err)
			return err;

		sdp = msg_ctype_cmp(&ct, "application", "sdp");
	}

	if (!sdp || d.type == DISP_OTHER || !encoding_ok(&pt->cte, true) ||
	    !encoding_ok(&pt->cenc, false))
		return d.handling == HANDLING_REQUIRED ? ENOTSUP : 0;

	/* slot_set() ignores an SDP part without content. */
	return slot_set(v, d.type == DISP_EARLY, &pt->content);
}


/* Where the value of a part header goes, by its name; NULL for headers
 * that do not matter here. */
static struct pl *part_slot(struct part *pt, const struct pl *name)
{
	if (!pl_strcasecmp(name, "Content-Type") ||
	    !pl_strcasecmp(name, "c"))
		return &pt->ctype;

	if (!pl_strcasecmp(name, "Content-Disposition"))
		return &pt->disp;

	if (!pl_strcasecmp(name, "Content-Transfer-Encoding"))
		return &pt->cte;

	if (!pl_strcasecmp(name, "Content-Encoding") ||
	    !pl_strcasecmp(name, "e"))
		return &pt->cenc;

	return NULL;
}


/* One part: the bytes in [p, end), between the CRLF that ends its
 * delimiter line and the CRLF that begins the next delimiter. */
static int part_parse(struct body_view *v, const char *p, const char *end)
{
	struct part pt;
	struct pl other, *last = NULL;

	memset(&pt, 0, sizeof(pt));

	while (p < end) {
		const char *eol = find(p, end - p, "\r\n", 2);
		const char *q = p;
		struct pl name, *slot;

		if (!eol)
			return EBADMSG;   /* no blank line before content */

		if (eol == p) {
			pt.content.p = eol + 2;
			pt.content.l = end - pt.content.p;
			return part_apply(v, &pt);
		}

		/* A line that starts with white space continues the value
		 * of the header before it (folding). */
		if (is_wsp(*p)) {
			if (!last)
				return EBADMSG;

			last->l = eol - last->p;
			p = eol + 2;
			continue;
		}

		while (q < eol && body_is_token(*q))
			++q;

		name.p = p;
		name.l = q - p;

		while (q < eol && is_wsp(*q))
			++q;

		if (!name.l || q == eol || *q != ':')
			return EBADMSG;

		slot = part_slot(&pt, &name);
		if (slot && slot->p)
			return EBADMSG;   /* the same header twice */

		last = slot ? slot : &other;
		last->p = q + 1;
		last->l = eol - last->p;

		p = eol + 2;
	}

	/* The header lines ran up to the delimiter: no content. */
	pt.content.p = end;
	pt.content.l = 0;

	return part_apply(v, &pt);
}


static int multipart_parse(struct body_view *v, const struct pl *bnd,
			   const struct pl *body)
{
	char delim[4 + BOUNDARY_MAX];   /* CRLF "--" boundary */
	const char *end = body->p + body->l;
	const char *d;                  /* at "--" boundary */
	size_t dl = 4 + bnd->l;
	unsigned n = 0;
	int err;

	memcpy(delim, "\r\n--", 4);
	memcpy(delim + 4, bnd->p, bnd->l);

	/* The first delimiter may open the body, without its CRLF. */
	if (body->l >= dl - 2 && !memcmp(body->p, delim + 2, dl - 2)) {
		d = body->p;
	}
	else {
		d = find(body->p, body->l, delim, dl);
		if (!d)
			return EBADMSG;

		d += 2;
	}

	for (;;) {
		const char *p = d + dl - 2, *next;

		if (end - p >= 2 && p[0] == '-' && p[1] == '-') {

			/* The close delimiter: padding, then the end or a
			 * CRLF and the epilogue. */
			p += 2;
			while (p < end && is_wsp(*p))
				++p;

			if (p == end || (end - p >= 2 && p[0] == '\r' &&
					 p[1] == '\n'))
				return 0;

			return EBADMSG;
		}

		while (p < end && is_wsp(*p))
			++p;

		if (end - p < 2 || p[0] != '\r' || p[1] != '\n')
			return EBADMSG;

		p += 2;

		if (++n > BODY_MAX_PARTS)
			return EBADMSG;

		next = find(p, end - p, delim, dl);
		if (!next)
			return EBADMSG;   /* no further delimiter */

		err = part_parse(v, p, next);
		if (err)
			return err;

		d = next + 2;
	}
}


int body_parse_raw(struct body_view *bv, const struct pl *ctype,
		   const struct pl *disp, const struct pl *body)
{
	struct body_view v;
	struct msg_ctype ct;
	struct pl bnd;
	struct disp d;
	int err;

	if (!bv || (body && body->l && !body->p))
		return EINVAL;

	memset(&v, 0, sizeof(v));

	if (!body || !body->l)
		goto out;

	/* RFC 3261 section 20.15: a body needs its Content-Type. */
	if (!ctype || !pl_isset(ctype))
		return EBADMSG;

	err = ctype_decode(&ct, &bnd, ctype);
	if (err)
		return err;

	err = disp_decode(&d, disp);
	if (err)
		return err;

	if (msg_ctype_cmp(&ct, "multipart", "mixed")) {

		if (!body_boundary_valid(bnd.p, bnd.l))
			return EBADMSG;

		v.multipart = true;
		err = multipart_parse(&v, &bnd, body);
		if (err)
			return err;
	}
	else if (msg_ctype_cmp(&ct, "application", "sdp") &&
		 d.type != DISP_OTHER) {

		err = slot_set(&v, d.type == DISP_EARLY, body);
		if (err)
			return err;
	}
	else if (d.handling != HANDLING_OPTIONAL) {
		return ENOTSUP;
	}

 out:
	*bv = v;

	return 0;
}


int body_parse(struct body_view *bv, const struct sip_msg *msg)
{
	const struct sip_hdr *ct, *cd;
	struct pl body;
	struct le *le;

	if (!bv || !msg || !msg->mb)
		return EINVAL;

	body.p = (const char *)mbuf_buf(msg->mb);
	body.l = mbuf_get_left(msg->mb);

	/* RFC 3261 section 18.3: over UDP, bytes past Content-Length are
	 * not part of the body; fewer bytes than it says is an error. */
	if (pl_isset(&msg->clen)) {
		uint32_t n = pl_u32(&msg->clen);

		if (n > body.l)
			return EBADMSG;

		body.l = n;
	}

	if (body.l) {
		if (sip_msg_hdr_count(msg, SIP_HDR_CONTENT_TYPE) > 1 ||
		    sip_msg_hdr_count(msg, SIP_HDR_CONTENT_DISPOSITION) > 1)
			return EBADMSG;

		/* A compressed body is one we cannot read (RFC 3261
		 * section 8.2.3: 415 as well). */
		for (le = list_head(&msg->hdrl); le; le = le->next) {
			const struct sip_hdr *h = le->data;

			if (h->id == SIP_HDR_CONTENT_ENCODING &&
			    !encoding_ok(&h->val, false))
				return ENOTSUP;
		}
	}

	ct = sip_msg_hdr(msg, SIP_HDR_CONTENT_TYPE);
	cd = sip_msg_hdr(msg, SIP_HDR_CONTENT_DISPOSITION);

	return body_parse_raw(bv, ct ? &ct->val : NULL, cd ? &cd->val : NULL,
			      &body);
}
