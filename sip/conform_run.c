/**
 * @file conform_run.c  A conformance run's trace and the selectors that
 *                      pick its messages (the grammar is in conform.h)
 */
#include <string.h>
#include <re.h>
#include "sip/conform.h"

static const char *const party_names[CF_NPARTY] = {
	"caller", "callee", "dut", "far"
};


const char *cf_party_name(enum cf_party p)
{
	return (unsigned)p < CF_NPARTY ? party_names[p] : "?";
}


const char *cf_verdict_name(enum cf_verdict v)
{
	switch (v) {

	case CF_PASS:   return "pass";
	case CF_FAIL:   return "fail";
	case CF_INCONC: return "inconclusive";
	default:        return "not run";
	}
}


const char *cf_role_name(enum cf_role r)
{
	return r == CF_CLIENT ? "client" : "server";
}


const struct cf_rundef *cf_rundef_find(const char *id)
{
	for (size_t i = 0; id && i < cf_nruns; i++) {
		if (!strcmp(cf_runs[i].id, id))
			return &cf_runs[i];
	}

	return NULL;
}


bool cf_id_match(const char *pat, const char *id)
{
	if (!pat || !id)
		return false;

	while (*pat) {
		if (*pat == '*') {
			while (*pat == '*')
				++pat;
			if (!*pat)
				return true;
			for (; *id; id++) {
				if (cf_id_match(pat, id))
					return true;
			}
			return false;
		}
		if (!*id || (*pat | 0x20) != (*id | 0x20))
			return false;
		++pat;
		++id;
	}

	return *id == '\0';
}


int cf_run_add(struct cf_run *run, uint32_t t_ms, enum cf_party party,
	       bool rx, const uint8_t *pkt, size_t len)
{
	struct sip_msg *msg = NULL;
	struct cf_msg *m;
	struct mbuf *mb;
	int err;

	if (!run || !pkt || (unsigned)party >= CF_NPARTY)
		return EINVAL;
	if (run->msgc >= CF_MSGS_MAX) {
		++run->dropped;
		return EOVERFLOW;
	}

	mb = mbuf_alloc(len);
	if (!mb)
		return ENOMEM;
	err = mbuf_write_mem(mb, pkt, len);
	mb->pos = 0;
	if (!err)
		err = sip_msg_decode(&msg, mb);
	mem_deref(mb);
	if (err)
		return err;

	m = &run->msgv[run->msgc++];
	m->t_ms = t_ms;
	m->party = (uint8_t)party;
	m->rx = rx;
	m->msg = msg;

	return 0;
}


void cf_run_reset(struct cf_run *run)
{
	if (!run)
		return;

	for (size_t i = 0; i < run->msgc; i++)
		mem_deref(run->msgv[i].msg);
	memset(run, 0, sizeof(*run));
}


/* ---- selectors ----------------------------------------------------------- */

struct sel {
	enum cf_party party;
	bool rx;
	bool any;
	bool req;
	char method[16];           /* "INVITE" also for reINVITE */
	bool reinvite;
	uint16_t lo, hi;           /* a response's status range */
	bool rel;                  /* ... with RSeq */
};


static bool upper_word(const char *s, size_t n)
{
	if (!n || n >= 16)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < 'A' || s[i] > 'Z')
			return false;
	}

	return true;
}


static int status_parse(struct sel *s, const char *p, size_t n)
{
	if (n != 3 || p[0] < '1' || p[0] > '6')
		return EINVAL;

	if (p[1] == 'x' && p[2] == 'x') {
		s->lo = (uint16_t)((p[0] - '0') * 100);
		s->hi = (uint16_t)(s->lo + 99);
		if (s->lo == 100)
			s->lo = 101;
		return 0;
	}
	if (p[0] == '1' && p[1] == '8' && p[2] == 'x') {
		s->lo = 101;
		s->hi = 199;
		return 0;
	}
	if (p[1] < '0' || p[1] > '9' || p[2] < '0' || p[2] > '9')
		return EINVAL;
	s->lo = s->hi = (uint16_t)((p[0] - '0') * 100 + (p[1] - '0') * 10 +
				   (p[2] - '0'));

	return 0;
}


static int method_set(struct sel *s, const char *p, size_t n)
{
	if (n == 8 && !memcmp(p, "reINVITE", 8)) {
		s->reinvite = true;
		p += 2;
		n -= 2;
	}
	if (!upper_word(p, n))
		return EINVAL;
	memcpy(s->method, p, n);
	s->method[n] = '\0';

	return 0;
}


static int sel_parse(struct sel *s, const char *str)
{
	const char *d, *what, *slash;
	size_t n;
	unsigned i;

	memset(s, 0, sizeof(*s));
	if (!str)
		return EINVAL;

	d = strpbrk(str, "<>");
	if (!d)
		return EINVAL;
	for (i = 0; i < CF_NPARTY; i++) {
		if (strlen(party_names[i]) == (size_t)(d - str) &&
		    !memcmp(party_names[i], str, (size_t)(d - str)))
			break;
	}
	if (i == CF_NPARTY)
		return EINVAL;
	s->party = (enum cf_party)i;
	s->rx = *d == '<';
	what = d + 1;
	n = strlen(what);

	if (n == 1 && *what == '*') {
		s->any = true;
		return 0;
	}
	if (n == 6 && !memcmp(what, "rel18x", 6)) {
		s->rel = true;
		s->lo = 101;
		s->hi = 199;
		return method_set(s, "INVITE", 6);
	}

	slash = strchr(what, '/');
	if (slash) {
		if (status_parse(s, what, (size_t)(slash - what)))
			return EINVAL;
		return method_set(s, slash + 1, strlen(slash + 1));
	}
	if (n == 3 && (what[0] >= '1' && what[0] <= '6')) {
		if (status_parse(s, what, n))
			return EINVAL;
		return method_set(s, "INVITE", 6);
	}

	s->req = true;

	return method_set(s, what, n);
}


bool cf_sel_valid(const char *sel)
{
	struct sel s;

	return sel_parse(&s, sel) == 0;
}


/* Whether the party's response is one to an initial INVITE (no To tag):
 * the party may have sent it more than once, each time with a CSeq of
 * its own (after a 420, 422 or 488).  Without any in the trace, every
 * response is the INVITE's. */
static bool to_initial(const struct cf_run *run, enum cf_party p,
		       const struct sip_msg *rsp)
{
	bool any = false;

	for (size_t i = 0; i < run->msgc; i++) {
		const struct sip_msg *m = run->msgv[i].msg;

		if (run->msgv[i].party != p || !m->req ||
		    pl_strcmp(&m->met, "INVITE") || pl_isset(&m->to.tag))
			continue;
		if (m->cseq.num == rsp->cseq.num)
			return true;
		any = true;
	}

	return !any;
}


static bool sel_match(const struct cf_run *run, const struct sel *s,
		      const struct cf_msg *cm)
{
	const struct sip_msg *m = cm->msg;

	if (cm->party != s->party || cm->rx != s->rx)
		return false;
	if (s->any)
		return true;

	if (s->req) {
		if (!m->req || pl_strcmp(&m->met, s->method))
			return false;
		if (!strcmp(s->method, "INVITE"))
			return s->reinvite == pl_isset(&m->to.tag);
		return true;
	}

	if (m->req || m->scode < s->lo || m->scode > s->hi)
		return false;
	if (pl_strcmp(&m->cseq.met, s->method))
		return false;
	if (!strcmp(s->method, "INVITE") &&
	    s->reinvite == to_initial(run, s->party, m))
		return false;
	if (s->rel && !sip_msg_xhdr(m, "RSeq"))
		return false;

	return true;
}


size_t cf_select(const struct cf_run *run, const char *str, size_t *idx,
		 size_t n)
{
	struct sel s;
	size_t k = 0;

	if (!run || sel_parse(&s, str))
		return 0;

	for (size_t i = 0; i < run->msgc; i++) {
		if (!sel_match(run, &s, &run->msgv[i]))
			continue;
		if (k < n && idx)
			idx[k] = i;
		++k;
	}

	return k < n ? k : n;
}
