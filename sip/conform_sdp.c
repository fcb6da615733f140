/**
 * @file conform_sdp.c  The SDP of a message as the conformance judge reads
 *                     it (o=, c=, m= lines), RFC 3264 answers, and the
 *                     checks about SDP: early-session offer and answer,
 *                     answer, none, o= version, same media, same SDP
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <re.h>
#include "sip/sip_int.h"
#include "sip/conform_int.h"


static struct pl field(struct pl *rest)
{
	struct pl f = PL_INIT;
	size_t i = 0;

	while (i < rest->l && rest->p[i] == ' ')
		++i;
	f.p = rest->p + i;
	while (i < rest->l && rest->p[i] != ' ')
		++i;
	f.l = (size_t)(rest->p + i - f.p);
	rest->p += i;
	rest->l -= i;

	return f;
}


static struct pl c_addr(struct pl v)
{
	(void)field(&v);               /* IN */
	(void)field(&v);               /* IP4 */

	return field(&v);
}


int cf_sdp_read(struct cf_sdpv *s, const struct pl *sdp)
{
	const char *p = sdp->p, *end = sdp->p + sdp->l;
	bool have_o = false;

	memset(s, 0, sizeof(*s));
	if (!sdp->p || !sdp->l)
		return ENOENT;

	while (p < end) {
		const char *e = p;
		struct pl v;

		while (e < end && *e != '\r' && *e != '\n')
			++e;
		v.p = p + 2;
		v.l = e - p >= 2 ? (size_t)(e - p - 2) : 0;

		if (e - p >= 2 && p[1] == '=') {
			switch (p[0]) {

			case 'o':
				s->o_user = field(&v);
				s->o_id = field(&v);
				s->o_ver = field(&v);
				s->o_net = v;
				have_o = true;
				break;

			case 'c':
				if (s->nm)
					s->m[s->nm - 1].c = c_addr(v);
				else
					s->c_sess = c_addr(v);
				break;

			case 'm':
				if (s->nm < SDP_M_MAX) {
					struct pl port, proto, pt;
					unsigned k = s->nm++;

					s->m[k].media = field(&v);
					port = field(&v);
					s->m[k].port = pl_u32(&port);
					proto = field(&v);
					(void)proto;
					for (pt = field(&v); pt.l &&
					     s->m[k].npt < SDP_PT_MAX;
					     pt = field(&v))
						s->m[k].pt[s->m[k].npt++] =
							(uint16_t)pl_u32(&pt);
				}
				break;

			default:
				break;
			}
		}
		while (e < end && (*e == '\r' || *e == '\n'))
			++e;
		if (p[0] == 'o' && have_o && !s->after_o.p) {
			s->after_o.p = e;
			s->after_o.l = (size_t)(end - e);
		}
		p = e;
	}

	return have_o && s->nm ? 0 : EBADMSG;
}


struct pl cf_m_conn(const struct cf_sdpv *s, unsigned k)
{
	return pl_isset(&s->m[k].c) ? s->m[k].c : s->c_sess;
}


/* The session (early false) or early-session SDP of a message. */
struct pl cf_msg_sdp(const struct sip_msg *m, bool early)
{
	struct body_view bv;
	struct pl none = PL_INIT;

	if (body_parse(&bv, m))
		return none;

	return early ? bv.early : bv.session;
}


/* The first message of sel with the SDP (session or early). */
bool cf_first_with_sdp(const struct cf_run *run, const char *sel,
		       bool early, size_t *ip, struct pl *sdp)
{
	size_t idx[SEL_MAX], n = cf_select(run, sel, idx, SEL_MAX);

	for (size_t i = 0; i < n; i++) {
		*sdp = cf_msg_sdp(run->msgv[idx[i]].msg, early);
		if (pl_isset(sdp)) {
			*ip = idx[i];
			return true;
		}
	}

	return false;
}


void cf_ev_sdp_lines(struct cf_ev *e, const struct pl *sdp, const char *pfx)
{
	const char *p = sdp->p, *end = sdp->p + sdp->l;

	while (p < end) {
		const char *l = p;

		while (p < end && *p != '\r' && *p != '\n')
			++p;
		if (p - l >= 2 && strchr(pfx, l[0]) && l[1] == '=')
			cf_ev_add(e, "    %b\n", l, (size_t)(p - l));
		while (p < end && (*p == '\r' || *p == '\n'))
			++p;
	}
}


/* Whether ans cf_answers off (RFC 3264 6): one m-line per offered one, of
 * the same media; an accepted one (port not 0) with a payload type of
 * the offer's; at least one accepted. */
const char *cf_answers(const struct cf_sdpv *ans, const struct cf_sdpv *off)
{
	unsigned accepted = 0;

	if (ans->nm != off->nm)
		return "its m-lines are not the offer's in number";

	for (unsigned k = 0; k < ans->nm; k++) {
		bool common = false;

		if (pl_cmp(&ans->m[k].media, &off->m[k].media))
			return "an m-line is not of the offer's media";
		if (!ans->m[k].port)
			continue;
		for (unsigned a = 0; a < ans->m[k].npt; a++) {
			for (unsigned o = 0; o < off->m[k].npt; o++)
				common |= ans->m[k].pt[a] == off->m[k].pt[o];
		}
		if (!common)
			return "an accepted m-line has no payload type of "
				"the offer's";
		if (!pl_isset(&ans->m[k].c) && !pl_isset(&ans->c_sess))
			return "an accepted m-line has no c= address";
		++accepted;
	}
	if (!accepted)
		return "every m-line has port 0 (the offer is declined)";

	return NULL;
}


bool cf_chk_es_offer(struct cf_ctx *x)
{
	size_t idx[SEL_MAX], n = cf_select(x->run, x->t->sel, idx, SEL_MAX);

	if (!n)
		return cf_none_of(x, x->t->sel);
	for (size_t i = 0; i < n; i++) {
		const struct sip_msg *m = x->run->msgv[idx[i]].msg;
		struct pl sdp = cf_msg_sdp(m, true);
		struct cf_sdpv s;

		if (!pl_isset(&sdp) || cf_sdp_read(&s, &sdp))
			continue;
		for (unsigned k = 0; k < s.nm; k++) {
			if (!s.m[k].port)
				continue;
			cf_ev_msg(x->e, x->run, idx[i]);
			cf_ev_hdr(x->e, m, "Content-Type");
			cf_ev_add(x->e, "    early-session part:\n");
			cf_ev_sdp_lines(x->e, &sdp, "cm");
			return true;
		}
	}
	cf_ev_msg(x->e, x->run, idx[0]);
	cf_ev_hdr(x->e, x->run->msgv[idx[0]].msg, "Content-Type");
	cf_ev_hdr(x->e, x->run->msgv[idx[0]].msg, "Content-Disposition");
	cf_ev_add(x->e, "  no early-session SDP offer with a port in %s\n",
		  x->t->sel);

	return false;
}


bool cf_chk_answer(struct cf_ctx *x, bool early)
{
	size_t ia, io;
	struct pl a, o;
	struct cf_sdpv sa, so;
	const char *why;

	if (!cf_first_with_sdp(x->run, x->t->sel2, early, &io, &o)) {
		cf_ev_add(x->e, "no %sSDP offer %s\n", early ? "early-session " :
			  "", x->t->sel2);
		return false;
	}
	if (!cf_first_with_sdp(x->run, x->t->sel, early, &ia, &a)) {
		size_t i;

		if (cf_select(x->run, x->t->sel, &i, 1)) {
			cf_ev_msg(x->e, x->run, i);
			cf_ev_hdr(x->e, x->run->msgv[i].msg, "Content-Type");
			cf_ev_add(x->e, "  carries no %sSDP\n", early ?
				  "early-session " : "");
			return false;
		}
		return cf_none_of(x, x->t->sel);
	}

	cf_ev_msg(x->e, x->run, io);
	cf_ev_sdp_lines(x->e, &o, "cm");
	cf_ev_msg(x->e, x->run, ia);
	cf_ev_sdp_lines(x->e, &a, "cma");
	if (cf_sdp_read(&so, &o) || cf_sdp_read(&sa, &a)) {
		cf_ev_add(x->e, "  an SDP without o= or m= lines\n");
		return false;
	}
	why = cf_answers(&sa, &so);
	if (why) {
		cf_ev_add(x->e, "  not an answer: %s\n", why);
		return false;
	}

	return true;
}


bool cf_chk_no_sdp(struct cf_ctx *x)
{
	size_t i;
	const struct sip_msg *m;
	struct body_view bv;
	struct pl s, e;

	if (!cf_select(x->run, x->t->sel, &i, 1))
		return cf_none_of(x, x->t->sel);
	m = x->run->msgv[i].msg;
	s = cf_msg_sdp(m, false);
	e = cf_msg_sdp(m, true);
	cf_ev_msg(x->e, x->run, i);
	cf_ev_hdr(x->e, m, "Content-Type");
	cf_ev_add(x->e, "    Content-Length: %zu\n", mbuf_get_left(m->mb));
	/* a body that does not parse (no or two Content-Types, a length
	 * past its end) may well be an SDP: not "without SDP" */
	if (body_parse(&bv, m)) {
		cf_ev_add(x->e, "  carries a body the box cannot read\n");
		return false;
	}
	if (pl_isset(&s) || pl_isset(&e)) {
		cf_ev_sdp_lines(x->e, pl_isset(&s) ? &s : &e, "cm");
		cf_ev_add(x->e, "  carries an SDP\n");
		return false;
	}

	return true;
}


bool cf_chk_oversion(struct cf_ctx *x)
{
	size_t ia, ib;
	struct pl a, b;
	struct cf_sdpv sa, sb;
	uint64_t va, vb;

	if (!cf_first_with_sdp(x->run, x->t->sel, false, &ia, &a)) {
		cf_ev_add(x->e, "no SDP %s\n", x->t->sel);
		return false;
	}
	if (!cf_first_with_sdp(x->run, x->t->sel2, false, &ib, &b)) {
		cf_ev_add(x->e, "no SDP %s\n", x->t->sel2);
		return false;
	}
	cf_ev_msg(x->e, x->run, ia);
	cf_ev_sdp_lines(x->e, &a, "o");
	cf_ev_msg(x->e, x->run, ib);
	cf_ev_sdp_lines(x->e, &b, "o");
	if (cf_sdp_read(&sa, &a) || cf_sdp_read(&sb, &b)) {
		cf_ev_add(x->e, "  an SDP without o= or m= lines\n");
		return false;
	}
	if (pl_cmp(&sa.o_user, &sb.o_user) || pl_cmp(&sa.o_id, &sb.o_id) ||
	    pl_cmp(&sa.o_net, &sb.o_net)) {
		cf_ev_add(x->e, "  the o= lines differ beyond the version\n");
		return false;
	}
	va = pl_u64(&sa.o_ver);
	vb = pl_u64(&sb.o_ver);
	if (vb == va + 1)
		return true;
	if (vb == va && !pl_cmp(&sa.after_o, &sb.after_o))
		return true;
	if (vb == va)
		cf_ev_add(x->e, "  the SDP changed but its version did not\n");
	else
		cf_ev_add(x->e, "  version %llu after %llu, not one higher\n",
			  (unsigned long long)vb, (unsigned long long)va);

	return false;
}


bool cf_chk_same_media(struct cf_ctx *x)
{
	size_t ia, ib;
	struct pl a, b;
	struct cf_sdpv sa, sb;

	if (!cf_first_with_sdp(x->run, x->t->sel2, false, &ib, &b)) {
		cf_ev_add(x->e, "no SDP %s\n", x->t->sel2);
		return false;
	}
	if (!cf_first_with_sdp(x->run, x->t->sel, false, &ia, &a)) {
		size_t i;

		if (cf_select(x->run, x->t->sel, &i, 1)) {
			cf_ev_msg(x->e, x->run, i);
			cf_ev_add(x->e, "  carries no SDP\n");
			return false;
		}
		return cf_none_of(x, x->t->sel);
	}
	cf_ev_msg(x->e, x->run, ib);
	cf_ev_sdp_lines(x->e, &b, "cm");
	cf_ev_msg(x->e, x->run, ia);
	cf_ev_sdp_lines(x->e, &a, "cm");
	if (cf_sdp_read(&sa, &a) || cf_sdp_read(&sb, &b) || sa.nm != sb.nm) {
		cf_ev_add(x->e, "  not the same media lines\n");
		return false;
	}
	for (unsigned k = 0; k < sa.nm; k++) {
		struct pl ca = cf_m_conn(&sa, k), cb = cf_m_conn(&sb, k);

		if (sa.m[k].port != sb.m[k].port || pl_cmp(&ca, &cb)) {
			cf_ev_add(x->e, "  m-line %u: %r:%u is not %r:%u\n",
				  k + 1, &ca, sa.m[k].port, &cb, sb.m[k].port);
			return false;
		}
	}

	return true;
}


bool cf_chk_same_sdp(struct cf_ctx *x)
{
	size_t idx[SEL_MAX], n = cf_select(x->run, x->t->sel, idx, SEL_MAX);
	struct pl first = PL_INIT;
	size_t fi = 0;

	if (!n)
		return cf_none_of(x, x->t->sel);
	for (size_t i = 0; i < n; i++) {
		struct pl s = cf_msg_sdp(x->run->msgv[idx[i]].msg, false);

		if (!pl_isset(&s))
			continue;
		if (!pl_isset(&first)) {
			first = s;
			fi = idx[i];
			cf_ev_msg(x->e, x->run, fi);
			cf_ev_sdp_lines(x->e, &s, "ocm");
			continue;
		}
		if (pl_cmp(&first, &s)) {
			cf_ev_msg(x->e, x->run, idx[i]);
			cf_ev_sdp_lines(x->e, &s, "ocm");
			cf_ev_add(x->e, "  another SDP than the first\n");
			return false;
		}
	}
	if (!pl_isset(&first)) {
		cf_ev_add(x->e, "no SDP %s\n", x->t->sel);
		return false;
	}

	return true;
}
