/**
 * @file conform_msg.c  What the conformance judge reads of a SIP message
 *                     (headers, option tags, Alert-Info, RSeq, RAck)
 *                     and how it writes the lines that decided a case
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <re.h>
#include "sip/sip_int.h"
#include "sip/conform_int.h"


void cf_ev_add(struct cf_ev *e, const char *fmt, ...)
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
	r = (size_t)r < e->sz - e->n ? r : (int)(e->sz - e->n - 1);

	/* A NUL byte off the wire (a header, a reason phrase) would end the
	 * evidence there, and what decided the case with it. */
	for (char *p = e->p + e->n; p < e->p + e->n + r; p++) {
		if (!*p)
			*p = '?';
	}
	e->n += (size_t)r;
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


void cf_ev_msg(struct cf_ev *e, const struct cf_run *run, size_t i)
{
	const struct cf_msg *cm = &run->msgv[i];
	struct pl sl = start_line(cm->msg);

	cf_ev_add(e, "+%u.%03us %s %s %r\n", cm->t_ms / 1000, cm->t_ms % 1000,
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


static bool hval_collect(const struct sip_hdr *hdr, const struct sip_msg *m,
			 void *arg)
{
	struct cf_hvals *hv = arg;
	(void)m;

	if (hv->n < ARRAY_SIZE(hv->v))
		hv->v[hv->n++] = hdr->val;

	return false;
}


/* The first values of the header (comma lists split by libre), for the
 * evidence: a check asks cf_has_value(), which sees every one. */
static void hvals_get(struct cf_hvals *hv, const struct sip_msg *m,
		      const char *name)
{
	const char *c = compact(name);

	hv->n = 0;
	(void)sip_msg_xhdr_apply(m, true, name, hval_collect, hv);
	if (c)
		(void)sip_msg_xhdr_apply(m, true, c, hval_collect, hv);
}


void cf_ev_hdr(struct cf_ev *e, const struct sip_msg *m, const char *name)
{
	struct cf_hvals hv;

	hvals_get(&hv, m, name);
	if (!hv.n) {
		cf_ev_add(e, "    (no %s header)\n", name);
		return;
	}
	cf_ev_add(e, "    %s: ", name);
	for (size_t i = 0; i < hv.n; i++)
		cf_ev_add(e, "%s%r", i ? ", " : "", &hv.v[i]);
	cf_ev_add(e, "%s\n", hv.n == ARRAY_SIZE(hv.v) ? ", ..." : "");
}


/* "Hdr:a,b" into the header's name and the list. */
void cf_arg_split(const char *arg, char *name, size_t sz,
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


struct hmatch {
	const struct pl *tok;      /* NULL or empty: any value */
	bool found;
};


static bool hval_match(const struct sip_hdr *hdr, const struct sip_msg *m,
		       void *arg)
{
	struct hmatch *hm = arg;
	struct pl v = hdr->val;
	(void)m;

	/* a value may carry parameters: "sendrecv;x=y" is not
	 * "sendrecv" for a token list, but RFC 5009 has none */
	while (v.l && (v.p[v.l - 1] == ' ' || v.p[v.l - 1] == '\t'))
		--v.l;
	hm->found = !hm->tok || !hm->tok->l || !pl_casecmp(&v, hm->tok);

	return hm->found;
}


/* Whether one value of the header (comma lists split by libre) is tok
 * (empty: whether it has one), however many values it has. */
bool cf_has_value(const struct sip_msg *m, const char *name,
		  const struct pl *tok)
{
	struct hmatch hm = { tok, false };
	const char *c = compact(name);

	(void)sip_msg_xhdr_apply(m, true, name, hval_match, &hm);
	if (!hm.found && c)
		(void)sip_msg_xhdr_apply(m, true, c, hval_match, &hm);

	return hm.found;
}


/* Whether the message's header holds every token of the comma list;
 * the ones it lacks are written to e (if any). */
bool cf_has_tokens(const struct sip_msg *m, const char *name,
		   const struct pl *list, struct cf_ev *e)
{
	struct pl rest = *list, tok;
	bool all = true;

	while (rest.l) {
		const char *c = pl_strchr(&rest, ',');

		tok.p = rest.p;
		tok.l = c ? (size_t)(c - rest.p) : rest.l;
		if (!cf_has_value(m, name, &tok)) {
			if (e)
				cf_ev_add(e, "%s%r", all ? "" : ", ", &tok);
			all = false;
		}
		if (!c)
			break;
		rest.l -= (size_t)(c + 1 - rest.p);
		rest.p = c + 1;
	}

	return all;
}


static bool url_match(const struct sip_hdr *hdr, const struct sip_msg *m,
		      void *arg)
{
	struct pl *url = arg;
	(void)m;

	if (re_regex(hdr->val.p, hdr->val.l, "<[^>]+>", url))
		return false;

	return (url->l > 7 && !strncasecmp(url->p, "http://", 7)) ||
		(url->l > 8 && !strncasecmp(url->p, "https://", 8));
}


/* The URL of the message's Alert-Info, if it is http(s): the first such
 * of its values, however many come before it. */
bool cf_url_of(const struct sip_msg *m, struct pl *url)
{
	return sip_msg_xhdr_apply(m, true, "Alert-Info", url_match,
				  url) != NULL;
}


bool cf_rseq_of(const struct sip_msg *m, uint32_t *v)
{
	const struct sip_hdr *h = sip_msg_xhdr(m, "RSeq");
	struct pl n;

	if (!h || re_regex(h->val.p, h->val.l, "[0-9]+", &n) ||
	    n.l > 10)
		return false;
	*v = (uint32_t)pl_u64(&n);

	return pl_u64(&n) <= 0xffffffffu;
}


bool cf_rack_of(const struct sip_msg *m, uint32_t *rseq, uint32_t *cseq,
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


bool cf_none_of(struct cf_ctx *x, const char *sel)
{
	cf_ev_add(x->e, "no message %s\n", sel);
	return false;
}


enum cf_party cf_party_arg(const char *a)
{
	for (unsigned p = 0; a && p < CF_NPARTY; p++) {
		if (!strcmp(a, cf_party_name((enum cf_party)p)))
			return (enum cf_party)p;
	}

	return CF_NPARTY;
}


/* When the party's INVITE went or came: its media times count from it. */
bool cf_invite_t(const struct cf_run *run, enum cf_party p,
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


const struct cmrc_result *cf_res_of(struct cf_ctx *x, enum cf_party *pp)
{
	enum cf_party p = cf_party_arg(x->t->arg);

	*pp = p;
	if (p == CF_NPARTY || !x->run->has_res[p]) {
		cf_ev_add(x->e, "no media figures of the %s\n", x->t->arg);
		return NULL;
	}

	return &x->run->res[p];
}
