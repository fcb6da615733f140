/**
 * @file conform_chk.c  The judge of conform.h: the signalling checks (a
 *                     message, option tags, header values, Alert-Info,
 *                     RSeq, RAck, order, P-Early-Media) and the verdict of
 *                     a case from its precondition and tests
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <re.h>
#include "sip/sip_int.h"
#include "sip/conform_int.h"


static bool chk_has(struct cf_ctx *x)
{
	size_t i;

	if (!cf_select(x->run, x->t->sel, &i, 1))
		return cf_none_of(x, x->t->sel);
	cf_ev_msg(x->e, x->run, i);

	return true;
}


static bool chk_tokens(struct cf_ctx *x, bool none)
{
	size_t idx[SEL_MAX], n = cf_select(x->run, x->t->sel, idx, SEL_MAX);
	char name[32];
	struct pl list;

	cf_arg_split(x->t->arg, name, sizeof(name), &list);
	if (!n)
		return cf_none_of(x, x->t->sel);

	for (size_t i = 0; i < n; i++) {
		const struct sip_msg *m = x->run->msgv[idx[i]].msg;
		bool has = cf_has_tokens(m, name, &list, NULL);

		if (has != none) {
			if (none)
				continue;
			cf_ev_msg(x->e, x->run, idx[i]);
			cf_ev_hdr(x->e, m, name);
			return true;
		}
		if (none) {
			cf_ev_msg(x->e, x->run, idx[i]);
			cf_ev_hdr(x->e, m, name);
			cf_ev_add(x->e, "  has %r\n", &list);
			return false;
		}
	}
	if (none) {
		cf_ev_msg(x->e, x->run, idx[0]);
		cf_ev_hdr(x->e, x->run->msgv[idx[0]].msg, name);
		cf_ev_add(x->e, "  (none has %r)\n", &list);
		return true;
	}

	cf_ev_msg(x->e, x->run, idx[0]);
	cf_ev_hdr(x->e, x->run->msgv[idx[0]].msg, name);
	cf_ev_add(x->e, "  lacks ");
	(void)cf_has_tokens(x->run->msgv[idx[0]].msg, name, &list, x->e);
	cf_ev_add(x->e, "%s\n", n > 1 ? " (and no other has them all)" : "");

	return false;
}


static bool chk_hdrval(struct cf_ctx *x)
{
	size_t idx[SEL_MAX], n = cf_select(x->run, x->t->sel, idx, SEL_MAX);
	char name[32];
	struct pl want;

	cf_arg_split(x->t->arg, name, sizeof(name), &want);
	if (!n)
		return cf_none_of(x, x->t->sel);

	for (size_t i = 0; i < n; i++) {
		const struct sip_msg *m = x->run->msgv[idx[i]].msg;

		if (cf_has_value(m, name, &want)) {
			cf_ev_msg(x->e, x->run, idx[i]);
			cf_ev_hdr(x->e, m, name);
			return true;
		}
	}
	cf_ev_msg(x->e, x->run, idx[0]);
	cf_ev_hdr(x->e, x->run->msgv[idx[0]].msg, name);
	if (want.l)
		cf_ev_add(x->e, "  not %s: %r\n", name, &want);
	else
		cf_ev_add(x->e, "  no %s header in %s\n", name, x->t->sel);

	return false;
}


static bool chk_url(struct cf_ctx *x)
{
	size_t idx[SEL_MAX], n = cf_select(x->run, x->t->sel, idx, SEL_MAX);
	struct pl url;

	if (!n)
		return cf_none_of(x, x->t->sel);
	for (size_t i = 0; i < n; i++) {
		if (cf_url_of(x->run->msgv[idx[i]].msg, &url)) {
			cf_ev_msg(x->e, x->run, idx[i]);
			cf_ev_hdr(x->e, x->run->msgv[idx[i]].msg, "Alert-Info");
			return true;
		}
	}
	cf_ev_msg(x->e, x->run, idx[0]);
	cf_ev_hdr(x->e, x->run->msgv[idx[0]].msg, "Alert-Info");
	cf_ev_add(x->e, "  no <http://...> URL\n");

	return false;
}


/* Whether two responses are of one early dialog and one request: the
 * RSeq numbering is theirs (RFC 3262 3, erratum 4600). */
static bool same_space(const struct sip_msg *a, const struct sip_msg *b)
{
	return !pl_cmp(&a->to.tag, &b->to.tag) && a->cseq.num == b->cseq.num;
}


static bool chk_rseq(struct cf_ctx *x)
{
	size_t idx[SEL_MAX], n = cf_select(x->run, x->t->sel, idx, SEL_MAX);

	if (!n)
		return cf_none_of(x, x->t->sel);
	for (size_t i = 0; i < n; i++) {
		const struct sip_msg *m = x->run->msgv[idx[i]].msg;
		const struct sip_msg *pm = NULL;
		uint32_t v, prev = 0;

		cf_ev_msg(x->e, x->run, idx[i]);
		cf_ev_hdr(x->e, m, "RSeq");
		if (!cf_rseq_of(m, &v)) {
			cf_ev_add(x->e, "  RSeq is not a number\n");
			return false;
		}
		/* the previous one of its dialog */
		for (size_t k = i; k-- > 0 && !pm;) {
			const struct sip_msg *o = x->run->msgv[idx[k]].msg;

			if (same_space(o, m) && cf_rseq_of(o, &prev))
				pm = o;
		}
		if (!pm) {
			if (v < 1 || v > 0x7fffffffu) {
				cf_ev_add(x->e, "  the first RSeq is not in "
					  "1..2^31-1\n");
				return false;
			}
		}
		else if (!(v == prev && m->scode == pm->scode) &&
			 (uint64_t)v != (uint64_t)prev + 1) {
			cf_ev_add(x->e, "  RSeq %u after %u: neither a "
				  "retransmission nor one higher\n", v, prev);
			return false;
		}
	}

	return true;
}


static bool chk_rack(struct cf_ctx *x)
{
	size_t pi[SEL_MAX], ri[SEL_MAX];
	size_t np = cf_select(x->run, x->t->sel, pi, SEL_MAX);
	size_t nr = cf_select(x->run, x->t->sel2, ri, SEL_MAX);
	const struct sip_msg *lastm = NULL;
	uint32_t last = 0;
	bool ok = true, judged = false;

	if (!nr)
		return cf_none_of(x, x->t->sel2);

	for (size_t i = 0; i < nr; i++) {
		const struct sip_msg *r = x->run->msgv[ri[i]].msg;
		uint32_t rs;
		bool acked = false;

		if (!cf_rseq_of(r, &rs) || (judged && rs == last &&
					     same_space(r, lastm)))
			continue;      /* a retransmission */
		last = rs;
		lastm = r;
		judged = true;
		cf_ev_msg(x->e, x->run, ri[i]);
		cf_ev_hdr(x->e, r, "RSeq");
		for (size_t k = 0; k < np; k++) {
			const struct sip_msg *p = x->run->msgv[pi[k]].msg;
			uint32_t a, b;
			struct pl met;

			/* in the 1xx's early dialog (RFC 3262 4) */
			if (!cf_rack_of(p, &a, &b, &met) || a != rs ||
			    pl_cmp(&p->to.tag, &r->to.tag))
				continue;
			cf_ev_msg(x->e, x->run, pi[k]);
			cf_ev_hdr(x->e, p, "RAck");
			if (b != r->cseq.num || pl_cmp(&met, &r->cseq.met)) {
				cf_ev_add(x->e, "  the RAck is not RSeq %u, "
					  "CSeq %u %r\n", rs, r->cseq.num,
					  &r->cseq.met);
				return false;
			}
			acked = true;
			break;
		}
		if (!acked) {
			for (size_t k = 0; k < np; k++) {
				cf_ev_msg(x->e, x->run, pi[k]);
				cf_ev_hdr(x->e, x->run->msgv[pi[k]].msg, "RAck");
			}
			cf_ev_add(x->e, "  no PRACK acknowledges RSeq %u\n", rs);
			ok = false;
		}
	}
	if (!judged) {
		cf_ev_msg(x->e, x->run, ri[0]);
		cf_ev_hdr(x->e, x->run->msgv[ri[0]].msg, "RSeq");
		cf_ev_add(x->e, "  no RSeq that is a number\n");
		return false;
	}

	return ok;
}


/* RFC 3262 3: no 2xx while a reliable 1xx that carried a session
 * description (of either disposition) is unacknowledged.  Each reliable
 * 1xx counts, not only the first; one without an SDP may be overtaken by
 * the 2xx.  One that arrives after the 2xx counts as well: the UAS sent
 * it before (no new reliable 1xx after a final response), and it could
 * not have been acknowledged; a retransmission of one the caller had
 * acknowledged before the 2xx has its PRACK. */
static bool chk_pracked(struct cf_ctx *x)
{
	size_t ri[SEL_MAX], pi[SEL_MAX], f;
	size_t nr, np;
	unsigned with_sdp = 0;

	if (!cf_select(x->run, x->t->sel, &f, 1))
		return cf_none_of(x, x->t->sel);
	nr = cf_select(x->run, x->t->sel2, ri, SEL_MAX);
	np = cf_select(x->run, x->t->arg, pi, SEL_MAX);

	for (size_t i = 0; i < nr; i++) {
		const struct sip_msg *r = x->run->msgv[ri[i]].msg;
		struct pl s = cf_msg_sdp(r, false), es = cf_msg_sdp(r, true);
		bool acked = false;
		uint32_t rs;

		if (!pl_isset(&s) && !pl_isset(&es))
			continue;
		++with_sdp;
		if (!cf_rseq_of(r, &rs))
			continue;      /* CK_RSEQ's to judge */
		for (size_t k = 0; k < np && pi[k] < f && !acked; k++) {
			const struct sip_msg *p = x->run->msgv[pi[k]].msg;
			uint32_t a, b;
			struct pl met;

			acked = cf_rack_of(p, &a, &b, &met) && a == rs &&
				b == r->cseq.num &&
				!pl_cmp(&p->to.tag, &r->to.tag);
			if (acked) {
				cf_ev_msg(x->e, x->run, ri[i]);
				cf_ev_msg(x->e, x->run, pi[k]);
				cf_ev_hdr(x->e, p, "RAck");
			}
		}
		if (!acked) {
			cf_ev_msg(x->e, x->run, ri[i] < f ? ri[i] : f);
			if (ri[i] < f)
				cf_ev_hdr(x->e, r, "RSeq");
			cf_ev_msg(x->e, x->run, ri[i] < f ? f : ri[i]);
			if (ri[i] > f)
				cf_ev_hdr(x->e, r, "RSeq");
			cf_ev_add(x->e, "  %s came while RSeq %u, with an SDP, "
				  "was not acknowledged\n", x->t->sel, rs);
			return false;
		}
	}

	cf_ev_msg(x->e, x->run, f);
	if (!with_sdp)
		cf_ev_add(x->e, "  no reliable provisional response with an "
			  "SDP\n");

	return true;
}


static bool chk_before(struct cf_ctx *x)
{
	size_t a, b;

	if (!cf_select(x->run, x->t->sel, &a, 1))
		return cf_none_of(x, x->t->sel);
	if (!cf_select(x->run, x->t->sel2, &b, 1))
		return cf_none_of(x, x->t->sel2);
	cf_ev_msg(x->e, x->run, a < b ? a : b);
	cf_ev_msg(x->e, x->run, a < b ? b : a);
	if (a > b) {
		cf_ev_add(x->e, "  %s came before %s\n", x->t->sel2, x->t->sel);
		return false;
	}

	return true;
}


struct pem_scan {
	unsigned seen;
	struct pl bad;
};


/* Stops at the first value that is none of RFC 5009's. */
static bool pem_bad(const struct sip_hdr *hdr, const struct sip_msg *m,
		    void *arg)
{
	static const char *const ok[] = { "sendrecv", "sendonly", "recvonly",
		"inactive", "gated" };
	struct pem_scan *ps = arg;
	bool good = m->req && !pl_strcasecmp(&hdr->val, "supported");

	for (size_t j = 0; j < ARRAY_SIZE(ok); j++)
		good |= !pl_strcasecmp(&hdr->val, ok[j]);
	++ps->seen;
	if (!good)
		ps->bad = hdr->val;

	return !good;
}


/* Every value of every message, however many there are. */
static bool chk_pem_valid(struct cf_ctx *x)
{
	size_t idx[SEL_MAX], n = cf_select(x->run, x->t->sel, idx, SEL_MAX);
	unsigned seen = 0;

	for (size_t i = 0; i < n; i++) {
		const struct sip_msg *m = x->run->msgv[idx[i]].msg;
		struct pem_scan ps = { 0, PL_INIT };
		bool bad = sip_msg_xhdr_apply(m, true, "P-Early-Media",
					      pem_bad, &ps) != NULL;

		if (ps.seen && (!seen || bad)) {
			cf_ev_msg(x->e, x->run, idx[i]);
			cf_ev_hdr(x->e, m, "P-Early-Media");
		}
		seen += ps.seen;
		if (bad) {
			cf_ev_add(x->e, "  \"%r\" is no value of RFC 5009%s\n",
				  &ps.bad, m->req ? "" : " for a response");
			return false;
		}
	}
	if (!seen)
		cf_ev_add(x->e, "no P-Early-Media %s\n", x->t->sel);

	return seen > 0;
}


/* One test: true if it holds. */
static bool test_eval(const struct cf_run *run, const struct cf_test *t,
		      struct cf_ev *e)
{
	struct cf_ctx x = { run, t, e };

	switch (t->chk) {

	case CK_HAS:        return chk_has(&x);
	case CK_TOKENS:     return chk_tokens(&x, false);
	case CK_NOTOKEN:    return chk_tokens(&x, true);
	case CK_HDRVAL:     return chk_hdrval(&x);
	case CK_URL:        return chk_url(&x);
	case CK_ES_OFFER:   return cf_chk_es_offer(&x);
	case CK_ES_ANSWER:  return cf_chk_answer(&x, true);
	case CK_SDP_ANSWER: return cf_chk_answer(&x, false);
	case CK_NO_SDP:     return cf_chk_no_sdp(&x);
	case CK_RSEQ:       return chk_rseq(&x);
	case CK_RACK:       return chk_rack(&x);
	case CK_PRACKED:    return chk_pracked(&x);
	case CK_BEFORE:     return chk_before(&x);
	case CK_OVERSION:   return cf_chk_oversion(&x);
	case CK_SAME_MEDIA: return cf_chk_same_media(&x);
	case CK_SAME_SDP:   return cf_chk_same_sdp(&x);
	case CK_PEM_VALID:  return chk_pem_valid(&x);
	case CK_TONE:       return cf_chk_tone(&x);
	case CK_TONE_STOP:  return cf_chk_tone_stop(&x);
	case CK_FAR_MEDIA:  return cf_chk_far_media(&x);
	case CK_DOWNLOAD:   return cf_chk_download(&x);
	case CK_DUT_GET:    return cf_chk_dut_get(&x);
	default:
		cf_ev_add(e, "unknown check %d\n", (int)t->chk);
		return false;
	}
}


void cf_judge(const struct cf_case *c, const struct cf_run *run,
	      struct cf_verdict_t *v)
{
	struct cf_ev e;

	if (!v)
		return;
	memset(v, 0, sizeof(*v));
	e.p = v->evidence;
	e.sz = sizeof(v->evidence);
	e.n = 0;

	if (!c || !run || !run->made) {
		v->v = CF_INCONC;
		cf_ev_add(&e, "the run %s could not be made: %s\n",
			  c ? c->run : "?", run && run->why[0] ? run->why :
			  "not run");
		return;
	}

	if (c->pre.chk != CK_NONE) {
		struct cf_ev pe = { e.p, e.sz, 0 };

		if (!test_eval(run, &c->pre, &pe)) {
			v->v = CF_INCONC;
			cf_ev_add(&pe, "precondition not met: the run did not "
				  "reach what this case is about\n");
			goto out;
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

 out:
	/* A device that flooded the run: what it sent later was not
	 * judged, and the verdict must not look like it was. */
	if (run->dropped) {
		struct cf_ev te = { v->evidence, sizeof(v->evidence),
				    strlen(v->evidence) };

		if (te.n + 100 >= te.sz)
			te.n = te.sz - 100;
		cf_ev_add(&te, "\n(the trace keeps the first %u messages: %zu "
			  "more were not kept)\n", (unsigned)CF_MSGS_MAX,
			  run->dropped);
	}
}
