/**
 * @file conform_chk.c  The checks of conform.h: each one decides a test of
 *                      a case from a run's messages and media figures, and
 *                      writes the lines that decided it
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <re.h>
#include "sip/sip_int.h"
#include "sip/conform.h"

enum { SEL_MAX = 64, SDP_M_MAX = 8, SDP_PT_MAX = 16,
       TONE_STOP_SLACK_MS = 100 };

/* The evidence being written. */
struct ev {
	char *p;
	size_t sz, n;
};


static void ev_add(struct ev *e, const char *fmt, ...)
{
	va_list ap;
	int r;

	if (e->n + 1 >= e->sz)
		return;
	va_start(ap, fmt);
	r = re_vsnprintf(e->p + e->n, e->sz - e->n, fmt, ap);
	va_end(ap);
	if (r < 0)
		return;
	e->n += (size_t)r < e->sz - e->n ? (size_t)r : e->sz - e->n - 1;
}


/* The start line of a message as it came: up to its first line end. */
static struct pl start_line(const struct sip_msg *m)
{
	struct pl pl = PL_INIT;
	const uint8_t *b = m->mb->buf;
	size_t i, n = m->mb->end;

	for (i = 0; i < n && b[i] != '\r' && b[i] != '\n'; i++)
		;
	pl.p = (const char *)b;
	pl.l = i < 120 ? i : 120;

	return pl;
}


static void ev_msg(struct ev *e, const struct cf_run *run, size_t i)
{
	const struct cf_msg *cm = &run->msgv[i];
	struct pl sl = start_line(cm->msg);

	ev_add(e, "+%u.%03us %s %s %r\n", cm->t_ms / 1000, cm->t_ms % 1000,
	       cf_party_name((enum cf_party)cm->party),
	       cm->rx ? "received" : "sent", &sl);
}


/* A header's compact form (RFC 3261 7.3.3), for the ones CMR needs. */
static const char *compact(const char *name)
{
	static const struct { const char *l, *c; } t[] = {
		{ "Supported", "k" }, { "Content-Type", "c" },
		{ "Content-Length", "l" }, { "Contact", "m" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		if (!str_casecmp(t[i].l, name))
			return t[i].c;
	}

	return NULL;
}


struct hvals {
	struct pl v[16];
	size_t n;
};


static bool hval_collect(const struct sip_hdr *hdr, const struct sip_msg *m,
			 void *arg)
{
	struct hvals *hv = arg;
	(void)m;

	if (hv->n < ARRAY_SIZE(hv->v))
		hv->v[hv->n++] = hdr->val;

	return false;
}


/* Every value of the header (comma lists split by libre). */
static void hvals_get(struct hvals *hv, const struct sip_msg *m,
		      const char *name)
{
	const char *c = compact(name);

	hv->n = 0;
	(void)sip_msg_xhdr_apply(m, true, name, hval_collect, hv);
	if (c)
		(void)sip_msg_xhdr_apply(m, true, c, hval_collect, hv);
}


static void ev_hdr(struct ev *e, const struct sip_msg *m, const char *name)
{
	struct hvals hv;

	hvals_get(&hv, m, name);
	if (!hv.n) {
		ev_add(e, "    (no %s header)\n", name);
		return;
	}
	ev_add(e, "    %s: ", name);
	for (size_t i = 0; i < hv.n; i++)
		ev_add(e, "%s%r", i ? ", " : "", &hv.v[i]);
	ev_add(e, "\n");
}


/* "Hdr:a,b" into the header's name and the list. */
static void arg_split(const char *arg, char *name, size_t sz,
		      struct pl *list)
{
	const char *c = arg ? strchr(arg, ':') : NULL;
	size_t n = c ? (size_t)(c - arg) : 0;

	if (n >= sz)
		n = sz - 1;
	memcpy(name, arg ? arg : "", n);
	name[n] = '\0';
	pl_set_str(list, c ? c + 1 : "");
}


static bool has_value(const struct hvals *hv, const struct pl *tok)
{
	for (size_t i = 0; i < hv->n; i++) {
		struct pl v = hv->v[i];

		/* a value may carry parameters: "sendrecv;x=y" is not
		 * "sendrecv" for a token list, but RFC 5009 has none */
		while (v.l && (v.p[v.l - 1] == ' ' || v.p[v.l - 1] == '\t'))
			--v.l;
		if (!pl_casecmp(&v, tok))
			return true;
	}

	return false;
}


/* Whether the message's header holds every token of the comma list;
 * the ones it lacks are written to e (if any). */
static bool has_tokens(const struct sip_msg *m, const char *name,
		       const struct pl *list, struct ev *e)
{
	struct hvals hv;
	struct pl rest = *list, tok;
	bool all = true;

	hvals_get(&hv, m, name);
	while (rest.l) {
		const char *c = pl_strchr(&rest, ',');

		tok.p = rest.p;
		tok.l = c ? (size_t)(c - rest.p) : rest.l;
		if (!has_value(&hv, &tok)) {
			if (e)
				ev_add(e, "%s%r", all ? "" : ", ", &tok);
			all = false;
		}
		if (!c)
			break;
		rest.l -= (size_t)(c + 1 - rest.p);
		rest.p = c + 1;
	}

	return all;
}


/* ---- SDP, as far as the checks read it ---------------------------------- */

struct sdpv {
	struct pl o_user, o_id, o_ver, o_net;  /* o= fields */
	struct pl after_o;                     /* the text after the o= line */
	struct pl c_sess;                      /* session c= address */
	unsigned nm;
	struct {
		struct pl media;
		uint32_t port;
		struct pl c;                   /* its own c= address */
		unsigned npt;
		uint16_t pt[SDP_PT_MAX];
	} m[SDP_M_MAX];
};


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


static int sdp_read(struct sdpv *s, const struct pl *sdp)
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


static struct pl m_conn(const struct sdpv *s, unsigned k)
{
	return pl_isset(&s->m[k].c) ? s->m[k].c : s->c_sess;
}


/* The session (early false) or early-session SDP of a message. */
static struct pl msg_sdp(const struct sip_msg *m, bool early)
{
	struct body_view bv;
	struct pl none = PL_INIT;

	if (body_parse(&bv, m))
		return none;

	return early ? bv.early : bv.session;
}


/* The first message of sel with the SDP (session or early). */
static bool first_with_sdp(const struct cf_run *run, const char *sel,
			   bool early, size_t *ip, struct pl *sdp)
{
	size_t idx[SEL_MAX], n = cf_select(run, sel, idx, SEL_MAX);

	for (size_t i = 0; i < n; i++) {
		*sdp = msg_sdp(run->msgv[idx[i]].msg, early);
		if (pl_isset(sdp)) {
			*ip = idx[i];
			return true;
		}
	}

	return false;
}


static void ev_sdp_lines(struct ev *e, const struct pl *sdp, const char *pfx)
{
	const char *p = sdp->p, *end = sdp->p + sdp->l;

	while (p < end) {
		const char *l = p;

		while (p < end && *p != '\r' && *p != '\n')
			++p;
		if (p - l >= 2 && strchr(pfx, l[0]) && l[1] == '=')
			ev_add(e, "    %b\n", l, (size_t)(p - l));
		while (p < end && (*p == '\r' || *p == '\n'))
			++p;
	}
}


/* Whether ans answers off (RFC 3264 6): one m-line per offered one, of
 * the same media; an accepted one (port not 0) with a payload type of
 * the offer's; at least one accepted. */
static const char *answers(const struct sdpv *ans, const struct sdpv *off)
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


/* ---- the checks ---------------------------------------------------------- */

struct ctx {
	const struct cf_run *run;
	const struct cf_test *t;
	struct ev *e;
};


static bool none_of(struct ctx *x, const char *sel)
{
	ev_add(x->e, "no message %s\n", sel);
	return false;
}


static bool chk_has(struct ctx *x)
{
	size_t i;

	if (!cf_select(x->run, x->t->sel, &i, 1))
		return none_of(x, x->t->sel);
	ev_msg(x->e, x->run, i);

	return true;
}


static bool chk_tokens(struct ctx *x, bool none)
{
	size_t idx[SEL_MAX], n = cf_select(x->run, x->t->sel, idx, SEL_MAX);
	char name[32];
	struct pl list;

	arg_split(x->t->arg, name, sizeof(name), &list);
	if (!n)
		return none_of(x, x->t->sel);

	for (size_t i = 0; i < n; i++) {
		const struct sip_msg *m = x->run->msgv[idx[i]].msg;
		bool has = has_tokens(m, name, &list, NULL);

		if (has != none) {
			if (none)
				continue;
			ev_msg(x->e, x->run, idx[i]);
			ev_hdr(x->e, m, name);
			return true;
		}
		if (none) {
			ev_msg(x->e, x->run, idx[i]);
			ev_hdr(x->e, m, name);
			ev_add(x->e, "  has %r\n", &list);
			return false;
		}
	}
	if (none) {
		ev_msg(x->e, x->run, idx[0]);
		ev_hdr(x->e, x->run->msgv[idx[0]].msg, name);
		ev_add(x->e, "  (none has %r)\n", &list);
		return true;
	}

	ev_msg(x->e, x->run, idx[0]);
	ev_hdr(x->e, x->run->msgv[idx[0]].msg, name);
	ev_add(x->e, "  lacks ");
	(void)has_tokens(x->run->msgv[idx[0]].msg, name, &list, x->e);
	ev_add(x->e, "%s\n", n > 1 ? " (and no other has them all)" : "");

	return false;
}


static bool chk_hdrval(struct ctx *x)
{
	size_t idx[SEL_MAX], n = cf_select(x->run, x->t->sel, idx, SEL_MAX);
	char name[32];
	struct pl want;

	arg_split(x->t->arg, name, sizeof(name), &want);
	if (!n)
		return none_of(x, x->t->sel);

	for (size_t i = 0; i < n; i++) {
		const struct sip_msg *m = x->run->msgv[idx[i]].msg;
		struct hvals hv;

		hvals_get(&hv, m, name);
		if (has_value(&hv, &want)) {
			ev_msg(x->e, x->run, idx[i]);
			ev_hdr(x->e, m, name);
			return true;
		}
	}
	ev_msg(x->e, x->run, idx[0]);
	ev_hdr(x->e, x->run->msgv[idx[0]].msg, name);
	ev_add(x->e, "  not %s: %r\n", name, &want);

	return false;
}


/* The URL of the message's Alert-Info, if it is http(s). */
static bool url_of(const struct sip_msg *m, struct pl *url)
{
	struct hvals hv;

	hvals_get(&hv, m, "Alert-Info");
	for (size_t i = 0; i < hv.n; i++) {
		if (re_regex(hv.v[i].p, hv.v[i].l, "<[^>]+>", url))
			continue;
		if ((url->l > 7 && !strncasecmp(url->p, "http://", 7)) ||
		    (url->l > 8 && !strncasecmp(url->p, "https://", 8)))
			return true;
	}

	return false;
}


static bool chk_url(struct ctx *x)
{
	size_t idx[SEL_MAX], n = cf_select(x->run, x->t->sel, idx, SEL_MAX);
	struct pl url;

	if (!n)
		return none_of(x, x->t->sel);
	for (size_t i = 0; i < n; i++) {
		if (url_of(x->run->msgv[idx[i]].msg, &url)) {
			ev_msg(x->e, x->run, idx[i]);
			ev_hdr(x->e, x->run->msgv[idx[i]].msg, "Alert-Info");
			return true;
		}
	}
	ev_msg(x->e, x->run, idx[0]);
	ev_hdr(x->e, x->run->msgv[idx[0]].msg, "Alert-Info");
	ev_add(x->e, "  no <http://...> URL\n");

	return false;
}


static bool chk_es_offer(struct ctx *x)
{
	size_t idx[SEL_MAX], n = cf_select(x->run, x->t->sel, idx, SEL_MAX);

	if (!n)
		return none_of(x, x->t->sel);
	for (size_t i = 0; i < n; i++) {
		const struct sip_msg *m = x->run->msgv[idx[i]].msg;
		struct pl sdp = msg_sdp(m, true);
		struct sdpv s;

		if (!pl_isset(&sdp) || sdp_read(&s, &sdp))
			continue;
		for (unsigned k = 0; k < s.nm; k++) {
			if (!s.m[k].port)
				continue;
			ev_msg(x->e, x->run, idx[i]);
			ev_hdr(x->e, m, "Content-Type");
			ev_add(x->e, "    early-session part:\n");
			ev_sdp_lines(x->e, &sdp, "cm");
			return true;
		}
	}
	ev_msg(x->e, x->run, idx[0]);
	ev_hdr(x->e, x->run->msgv[idx[0]].msg, "Content-Type");
	ev_hdr(x->e, x->run->msgv[idx[0]].msg, "Content-Disposition");
	ev_add(x->e, "  no early-session SDP offer with a port in %s\n",
	       x->t->sel);

	return false;
}


static bool chk_answer(struct ctx *x, bool early)
{
	size_t ia, io;
	struct pl a, o;
	struct sdpv sa, so;
	const char *why;

	if (!first_with_sdp(x->run, x->t->sel2, early, &io, &o)) {
		ev_add(x->e, "no %sSDP offer %s\n", early ? "early-session " :
		       "", x->t->sel2);
		return false;
	}
	if (!first_with_sdp(x->run, x->t->sel, early, &ia, &a)) {
		size_t i;

		if (cf_select(x->run, x->t->sel, &i, 1)) {
			ev_msg(x->e, x->run, i);
			ev_hdr(x->e, x->run->msgv[i].msg, "Content-Type");
			ev_add(x->e, "  carries no %sSDP\n", early ?
			       "early-session " : "");
			return false;
		}
		return none_of(x, x->t->sel);
	}

	ev_msg(x->e, x->run, io);
	ev_sdp_lines(x->e, &o, "cm");
	ev_msg(x->e, x->run, ia);
	ev_sdp_lines(x->e, &a, "cma");
	if (sdp_read(&so, &o) || sdp_read(&sa, &a)) {
		ev_add(x->e, "  an SDP without o= or m= lines\n");
		return false;
	}
	why = answers(&sa, &so);
	if (why) {
		ev_add(x->e, "  not an answer: %s\n", why);
		return false;
	}

	return true;
}


static bool chk_no_sdp(struct ctx *x)
{
	size_t i;
	const struct sip_msg *m;
	struct pl s, e;

	if (!cf_select(x->run, x->t->sel, &i, 1))
		return none_of(x, x->t->sel);
	m = x->run->msgv[i].msg;
	s = msg_sdp(m, false);
	e = msg_sdp(m, true);
	ev_msg(x->e, x->run, i);
	ev_hdr(x->e, m, "Content-Type");
	ev_add(x->e, "    Content-Length: %zu\n", mbuf_get_left(m->mb));
	if (pl_isset(&s) || pl_isset(&e)) {
		ev_sdp_lines(x->e, pl_isset(&s) ? &s : &e, "cm");
		ev_add(x->e, "  carries an SDP\n");
		return false;
	}

	return true;
}


static bool rseq_of(const struct sip_msg *m, uint32_t *v)
{
	const struct sip_hdr *h = sip_msg_xhdr(m, "RSeq");
	struct pl n;

	if (!h || re_regex(h->val.p, h->val.l, "[0-9]+", &n) ||
	    n.l > 10)
		return false;
	*v = (uint32_t)pl_u64(&n);

	return pl_u64(&n) <= 0xffffffffu;
}


static bool chk_rseq(struct ctx *x)
{
	size_t idx[SEL_MAX], n = cf_select(x->run, x->t->sel, idx, SEL_MAX);
	uint32_t prev = 0, v;
	uint16_t prev_code = 0;

	if (!n)
		return none_of(x, x->t->sel);
	for (size_t i = 0; i < n; i++) {
		const struct sip_msg *m = x->run->msgv[idx[i]].msg;

		ev_msg(x->e, x->run, idx[i]);
		ev_hdr(x->e, m, "RSeq");
		if (!rseq_of(m, &v)) {
			ev_add(x->e, "  RSeq is not a number\n");
			return false;
		}
		if (i == 0) {
			if (v < 1 || v > 0x7fffffffu) {
				ev_add(x->e, "  the first RSeq is not in "
				       "1..2^31-1\n");
				return false;
			}
		}
		else if (!(v == prev && m->scode == prev_code) &&
			 v != prev + 1) {
			ev_add(x->e, "  RSeq %u after %u: neither a "
			       "retransmission nor one higher\n", v, prev);
			return false;
		}
		prev = v;
		prev_code = m->scode;
	}

	return true;
}


static bool rack_of(const struct sip_msg *m, uint32_t *rseq, uint32_t *cseq,
		    struct pl *met)
{
	const struct sip_hdr *h = sip_msg_xhdr(m, "RAck");
	struct pl a, b;

	if (!h || re_regex(h->val.p, h->val.l, "[0-9]+[ \t]+[0-9]+[ \t]+[^ \t]+",
			   &a, NULL, &b, NULL, met))
		return false;
	if (a.l > 10 || b.l > 10)
		return false;
	*rseq = pl_u32(&a);
	*cseq = pl_u32(&b);

	return true;
}


static bool chk_rack(struct ctx *x)
{
	size_t pi[SEL_MAX], ri[SEL_MAX];
	size_t np = cf_select(x->run, x->t->sel, pi, SEL_MAX);
	size_t nr = cf_select(x->run, x->t->sel2, ri, SEL_MAX);
	uint32_t last = 0;
	bool ok = true;

	if (!nr)
		return none_of(x, x->t->sel2);

	for (size_t i = 0; i < nr; i++) {
		const struct sip_msg *r = x->run->msgv[ri[i]].msg;
		uint32_t rs;
		bool acked = false;

		if (!rseq_of(r, &rs) || (i && rs == last))
			continue;      /* a retransmission */
		last = rs;
		ev_msg(x->e, x->run, ri[i]);
		ev_hdr(x->e, r, "RSeq");
		for (size_t k = 0; k < np; k++) {
			const struct sip_msg *p = x->run->msgv[pi[k]].msg;
			uint32_t a, b;
			struct pl met;

			if (!rack_of(p, &a, &b, &met) || a != rs)
				continue;
			ev_msg(x->e, x->run, pi[k]);
			ev_hdr(x->e, p, "RAck");
			if (b != r->cseq.num || pl_cmp(&met, &r->cseq.met)) {
				ev_add(x->e, "  the RAck is not RSeq %u, "
				       "CSeq %u %r\n", rs, r->cseq.num,
				       &r->cseq.met);
				return false;
			}
			acked = true;
			break;
		}
		if (!acked) {
			for (size_t k = 0; k < np; k++) {
				ev_msg(x->e, x->run, pi[k]);
				ev_hdr(x->e, x->run->msgv[pi[k]].msg, "RAck");
			}
			ev_add(x->e, "  no PRACK acknowledges RSeq %u\n", rs);
			ok = false;
		}
	}

	return ok;
}


static bool chk_before(struct ctx *x)
{
	size_t a, b;

	if (!cf_select(x->run, x->t->sel, &a, 1))
		return none_of(x, x->t->sel);
	if (!cf_select(x->run, x->t->sel2, &b, 1))
		return none_of(x, x->t->sel2);
	ev_msg(x->e, x->run, a < b ? a : b);
	ev_msg(x->e, x->run, a < b ? b : a);
	if (a > b) {
		ev_add(x->e, "  %s came before %s\n", x->t->sel2, x->t->sel);
		return false;
	}

	return true;
}


static bool chk_oversion(struct ctx *x)
{
	size_t ia, ib;
	struct pl a, b;
	struct sdpv sa, sb;
	uint64_t va, vb;

	if (!first_with_sdp(x->run, x->t->sel, false, &ia, &a)) {
		ev_add(x->e, "no SDP %s\n", x->t->sel);
		return false;
	}
	if (!first_with_sdp(x->run, x->t->sel2, false, &ib, &b)) {
		ev_add(x->e, "no SDP %s\n", x->t->sel2);
		return false;
	}
	ev_msg(x->e, x->run, ia);
	ev_sdp_lines(x->e, &a, "o");
	ev_msg(x->e, x->run, ib);
	ev_sdp_lines(x->e, &b, "o");
	if (sdp_read(&sa, &a) || sdp_read(&sb, &b)) {
		ev_add(x->e, "  an SDP without o= or m= lines\n");
		return false;
	}
	if (pl_cmp(&sa.o_user, &sb.o_user) || pl_cmp(&sa.o_id, &sb.o_id) ||
	    pl_cmp(&sa.o_net, &sb.o_net)) {
		ev_add(x->e, "  the o= lines differ beyond the version\n");
		return false;
	}
	va = pl_u64(&sa.o_ver);
	vb = pl_u64(&sb.o_ver);
	if (vb == va + 1)
		return true;
	if (vb == va && !pl_cmp(&sa.after_o, &sb.after_o))
		return true;
	if (vb == va)
		ev_add(x->e, "  the SDP changed but its version did not\n");
	else
		ev_add(x->e, "  version %llu after %llu, not one higher\n",
		       (unsigned long long)vb, (unsigned long long)va);

	return false;
}


static bool chk_same_media(struct ctx *x)
{
	size_t ia, ib;
	struct pl a, b;
	struct sdpv sa, sb;

	if (!first_with_sdp(x->run, x->t->sel2, false, &ib, &b)) {
		ev_add(x->e, "no SDP %s\n", x->t->sel2);
		return false;
	}
	if (!first_with_sdp(x->run, x->t->sel, false, &ia, &a)) {
		size_t i;

		if (cf_select(x->run, x->t->sel, &i, 1)) {
			ev_msg(x->e, x->run, i);
			ev_add(x->e, "  carries no SDP\n");
			return false;
		}
		return none_of(x, x->t->sel);
	}
	ev_msg(x->e, x->run, ib);
	ev_sdp_lines(x->e, &b, "cm");
	ev_msg(x->e, x->run, ia);
	ev_sdp_lines(x->e, &a, "cm");
	if (sdp_read(&sa, &a) || sdp_read(&sb, &b) || sa.nm != sb.nm) {
		ev_add(x->e, "  not the same media lines\n");
		return false;
	}
	for (unsigned k = 0; k < sa.nm; k++) {
		struct pl ca = m_conn(&sa, k), cb = m_conn(&sb, k);

		if (sa.m[k].port != sb.m[k].port || pl_cmp(&ca, &cb)) {
			ev_add(x->e, "  m-line %u: %r:%u is not %r:%u\n",
			       k + 1, &ca, sa.m[k].port, &cb, sb.m[k].port);
			return false;
		}
	}

	return true;
}


static bool chk_same_sdp(struct ctx *x)
{
	size_t idx[SEL_MAX], n = cf_select(x->run, x->t->sel, idx, SEL_MAX);
	struct pl first = PL_INIT;
	size_t fi = 0;

	if (!n)
		return none_of(x, x->t->sel);
	for (size_t i = 0; i < n; i++) {
		struct pl s = msg_sdp(x->run->msgv[idx[i]].msg, false);

		if (!pl_isset(&s))
			continue;
		if (!pl_isset(&first)) {
			first = s;
			fi = idx[i];
			ev_msg(x->e, x->run, fi);
			ev_sdp_lines(x->e, &s, "oc");
			continue;
		}
		if (pl_cmp(&first, &s)) {
			ev_msg(x->e, x->run, idx[i]);
			ev_sdp_lines(x->e, &s, "oc");
			ev_add(x->e, "  another SDP than the first\n");
			return false;
		}
	}
	if (!pl_isset(&first)) {
		ev_add(x->e, "no SDP %s\n", x->t->sel);
		return false;
	}

	return true;
}


static bool chk_pem_valid(struct ctx *x)
{
	static const char *const ok[] = { "sendrecv", "sendonly", "recvonly",
		"inactive", "gated" };
	size_t idx[SEL_MAX], n = cf_select(x->run, x->t->sel, idx, SEL_MAX);
	unsigned seen = 0;

	for (size_t i = 0; i < n; i++) {
		const struct sip_msg *m = x->run->msgv[idx[i]].msg;
		struct hvals hv;

		hvals_get(&hv, m, "P-Early-Media");
		for (size_t k = 0; k < hv.n; k++) {
			bool good = false;

			for (size_t j = 0; j < ARRAY_SIZE(ok); j++)
				good |= !pl_strcasecmp(&hv.v[k], ok[j]);
			good |= m->req && !pl_strcasecmp(&hv.v[k],
							"supported");
			if (!seen++ || !good) {
				ev_msg(x->e, x->run, idx[i]);
				ev_hdr(x->e, m, "P-Early-Media");
			}
			if (!good) {
				ev_add(x->e, "  \"%r\" is no value of RFC 5009"
				       "%s\n", &hv.v[k], m->req ? "" :
				       " for a response");
				return false;
			}
		}
	}
	if (!seen)
		ev_add(x->e, "no P-Early-Media %s\n", x->t->sel);

	return seen > 0;
}


static enum cf_party party_arg(const char *a)
{
	for (unsigned p = 0; a && p < CF_NPARTY; p++) {
		if (!strcmp(a, cf_party_name((enum cf_party)p)))
			return (enum cf_party)p;
	}

	return CF_NPARTY;
}


/* When the party's INVITE went or came: its media times count from it. */
static bool invite_t(const struct cf_run *run, enum cf_party p,
		     uint32_t *t)
{
	for (size_t i = 0; i < run->msgc; i++) {
		const struct sip_msg *m = run->msgv[i].msg;

		if (run->msgv[i].party == p && m->req &&
		    !pl_strcmp(&m->met, "INVITE") && !pl_isset(&m->to.tag)) {
			*t = run->msgv[i].t_ms;
			return true;
		}
	}

	return false;
}


static const struct cmrc_result *res_of(struct ctx *x, enum cf_party *pp)
{
	enum cf_party p = party_arg(x->t->arg);

	*pp = p;
	if (p == CF_NPARTY || !x->run->has_res[p]) {
		ev_add(x->e, "no media figures of the %s\n", x->t->arg);
		return NULL;
	}

	return &x->run->res[p];
}


static bool chk_tone(struct ctx *x)
{
	enum cf_party p;
	const struct cmrc_result *r = res_of(x, &p);
	uint32_t t_inv, t_from;
	size_t i;

	if (!r)
		return false;
	if (!r->tone_packets || r->ms_first_tone < 0) {
		ev_add(x->e, "%s: no RTP of the resource (final %u after "
		       "%d ms)\n", x->t->arg, r->final, r->ms_final);
		return false;
	}
	ev_add(x->e, "%s: %u RTP packets of the resource, the first %d ms "
	       "and the last %d ms after the INVITE; final %u at %d ms\n",
	       x->t->arg, r->tone_packets, r->ms_first_tone, r->ms_last_tone,
	       r->final, r->ms_final);
	if (r->ms_final >= 0 && r->ms_first_tone > r->ms_final) {
		ev_add(x->e, "  the first came after the final response\n");
		return false;
	}
	if (x->t->sel && invite_t(x->run, p, &t_inv) &&
	    cf_select(x->run, x->t->sel, &i, 1)) {
		t_from = x->run->msgv[i].t_ms - t_inv;
		ev_msg(x->e, x->run, i);
		/* the trace's clock is the loop's, in whole ms */
		if ((int64_t)r->ms_first_tone + 2 < (int64_t)t_from) {
			ev_add(x->e, "  the first came %d ms before it\n",
			       (int)(t_from - (uint32_t)r->ms_first_tone));
			return false;
		}
	}

	return true;
}


static bool chk_tone_stop(struct ctx *x)
{
	enum cf_party p;
	const struct cmrc_result *r = res_of(x, &p);

	if (!r)
		return false;
	if (r->ms_final < 0) {
		ev_add(x->e, "%s: no final response\n", x->t->arg);
		return false;
	}
	if (!r->tone_packets) {
		ev_add(x->e, "%s: no RTP of the resource\n", x->t->arg);
		return false;
	}
	ev_add(x->e, "%s: the last RTP packet of the resource %d ms after "
	       "the INVITE, the final response (%u) at %d ms\n", x->t->arg,
	       r->ms_last_tone, r->final, r->ms_final);
	if (r->ms_last_tone > r->ms_final + TONE_STOP_SLACK_MS) {
		ev_add(x->e, "  it went on %d ms after the final response\n",
		       r->ms_last_tone - r->ms_final);
		return false;
	}

	return true;
}


static bool chk_far_media(struct ctx *x)
{
	enum cf_party p;
	const struct cmrc_result *r = res_of(x, &p);

	if (!r)
		return false;
	ev_add(x->e, "%s: final %u, %u RTP packets from the other party "
	       "after the answer\n", x->t->arg, r->final, r->far_packets);

	return r->far_packets > 0;
}


static bool chk_download(struct ctx *x)
{
	enum cf_party p;
	const struct cmrc_result *r = res_of(x, &p);

	if (!r)
		return false;
	ev_add(x->e, "%s: GET %s: %u %s, %zu bytes of %s\n", x->t->arg,
	       r->url, r->dl_status, r->dl_why, r->dl_bytes,
	       r->dl_type[0] ? r->dl_type : "no type");

	return r->dl_status >= 200 && r->dl_status < 300 && r->dl_bytes > 0;
}


static bool chk_dut_get(struct ctx *x)
{
	size_t idx[SEL_MAX], n = cf_select(x->run, x->t->sel, idx, SEL_MAX);
	struct pl url, path;
	size_t i;

	for (i = 0; i < n; i++) {
		if (url_of(x->run->msgv[idx[i]].msg, &url))
			break;
	}
	if (i == n) {
		ev_add(x->e, "no URL %s\n", x->t->sel);
		return false;
	}
	ev_msg(x->e, x->run, idx[i]);
	ev_hdr(x->e, x->run->msgv[idx[i]].msg, "Alert-Info");
	if (re_regex(url.p, url.l, "http[s]*://[^/]+[^?]+", NULL, NULL,
		     &path)) {
		ev_add(x->e, "  a URL without a path\n");
		return false;
	}

	for (size_t k = 0; k < x->run->getc; k++) {
		const struct cf_get *g = &x->run->getv[k];

		if (pl_strcmp(&path, g->path) ||
		    g->t_ms + 2 < x->run->msgv[idx[i]].t_ms)
			continue;
		ev_add(x->e, "+%u.%03us GET %s: %u, %llu bytes\n",
		       g->t_ms / 1000, g->t_ms % 1000, g->path, g->status,
		       (unsigned long long)g->bytes);
		if (g->status == 200 || g->status == 206 || g->status == 304)
			return true;
	}
	ev_add(x->e, "  the DUT did not fetch %r (%zu requests to the "
	       "resource server)\n", &path, x->run->getc);

	return false;
}


/* One test: true if it holds. */
static bool test_eval(const struct cf_run *run, const struct cf_test *t,
		      struct ev *e)
{
	struct ctx x = { run, t, e };

	switch (t->chk) {

	case CK_HAS:        return chk_has(&x);
	case CK_TOKENS:     return chk_tokens(&x, false);
	case CK_NOTOKEN:    return chk_tokens(&x, true);
	case CK_HDRVAL:     return chk_hdrval(&x);
	case CK_URL:        return chk_url(&x);
	case CK_ES_OFFER:   return chk_es_offer(&x);
	case CK_ES_ANSWER:  return chk_answer(&x, true);
	case CK_SDP_ANSWER: return chk_answer(&x, false);
	case CK_NO_SDP:     return chk_no_sdp(&x);
	case CK_RSEQ:       return chk_rseq(&x);
	case CK_RACK:       return chk_rack(&x);
	case CK_BEFORE:     return chk_before(&x);
	case CK_OVERSION:   return chk_oversion(&x);
	case CK_SAME_MEDIA: return chk_same_media(&x);
	case CK_SAME_SDP:   return chk_same_sdp(&x);
	case CK_PEM_VALID:  return chk_pem_valid(&x);
	case CK_TONE:       return chk_tone(&x);
	case CK_TONE_STOP:  return chk_tone_stop(&x);
	case CK_FAR_MEDIA:  return chk_far_media(&x);
	case CK_DOWNLOAD:   return chk_download(&x);
	case CK_DUT_GET:    return chk_dut_get(&x);
	default:
		ev_add(e, "unknown check %d\n", (int)t->chk);
		return false;
	}
}


void cf_judge(const struct cf_case *c, const struct cf_run *run,
	      struct cf_verdict_t *v)
{
	struct ev e;

	if (!v)
		return;
	memset(v, 0, sizeof(*v));
	e.p = v->evidence;
	e.sz = sizeof(v->evidence);
	e.n = 0;

	if (!c || !run || !run->made) {
		v->v = CF_INCONC;
		ev_add(&e, "the run %s could not be made: %s\n",
		       c ? c->run : "?", run && run->why[0] ? run->why :
		       "not run");
		return;
	}

	if (c->pre.chk != CK_NONE) {
		struct ev pe = { e.p, e.sz, 0 };

		if (!test_eval(run, &c->pre, &pe)) {
			v->v = CF_INCONC;
			ev_add(&pe, "precondition not met: the run did not "
			       "reach what this case is about\n");
			return;
		}
		/* what met the precondition is no evidence of the test */
		e.p[0] = '\0';
	}

	v->v = CF_PASS;
	for (size_t i = 0; i < ARRAY_SIZE(c->test); i++) {
		if (c->test[i].chk == CK_NONE)
			continue;
		if (!test_eval(run, &c->test[i], &e)) {
			v->v = CF_FAIL;
			break;
		}
	}
}
