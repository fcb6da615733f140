/**
 * @file rawmsg.c  The SIP datagrams libre's decoder would drop, read as
 *                 written: what to answer, a branch for an RFC 2543
 *                 request, where the answer goes
 *
 * Pure functions over the bytes of one datagram; rawin.c puts them on the
 * SIP socket.
 */
#include <string.h>
#include <strings.h>
#include <re.h>
#include "sip/sip_int.h"

struct rawhdrs {
	struct pl via[16];         /* every Via header line */
	unsigned nvia;
	struct pl from, to, callid, cseq;
};


static bool is_lws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}




static bool name_is(const struct pl *name, const char *lng, char cpt)
{
	if (name->l == 1)
		return cpt && (name->p[0] | 0x20) == cpt;

	return !pl_strcasecmp(name, lng);
}


/*
 * The headers as written, after the start line and up to the blank line;
 * a line that starts with SP or HT continues the one before (RFC 3261
 * 7.3.1).  Only the ones a response copies are kept.
 */
static void raw_headers(const struct pl *msg, struct rawhdrs *rh)
{
	const char *p = msg->p, *end = msg->p + msg->l;
	const char *nl;

	memset(rh, 0, sizeof(*rh));

	/* Past the start line */
	nl = memchr(p, '\n', (size_t)(end - p));
	if (!nl)
		return;
	p = nl + 1;

	while (p < end && *p != '\r' && *p != '\n') {
		const char *colon, *q = p;
		struct pl name, val;

		/* The end of this header, folded lines included */
		for (;;) {
			nl = memchr(q, '\n', (size_t)(end - q));
			if (!nl) {
				nl = end;
				break;
			}
			if (nl + 1 < end && (nl[1] == ' ' || nl[1] == '\t')) {
				q = nl + 1;
				continue;
			}
			break;
		}

		colon = memchr(p, ':', (size_t)(nl - p));
		if (colon) {
			name.p = p;
			name.l = (size_t)(colon - p);
			val.p = colon + 1;
			val.l = (size_t)(nl - colon - 1);
			sipval_trim(&name);
			sipval_trim(&val);

			if (name_is(&name, "Via", 'v')) {
				if (rh->nvia < ARRAY_SIZE(rh->via))
					rh->via[rh->nvia++] = val;
			}
			else if (name_is(&name, "From", 'f'))
				rh->from = val;
			else if (name_is(&name, "To", 't'))
				rh->to = val;
			else if (name_is(&name, "Call-ID", 'i'))
				rh->callid = val;
			else if (name_is(&name, "CSeq", 0))
				rh->cseq = val;
		}

		p = nl < end ? nl + 1 : end;
	}
}


/* The first comma-separated value of a header, outside quotes. */
static void first_value(const struct pl *val, struct pl *first)
{
	bool quote = false;
	size_t i;

	for (i = 0; i < val->l; i++) {
		if (val->p[i] == '"')
			quote = !quote;
		else if (val->p[i] == '\\' && quote)
			++i;
		else if (val->p[i] == ',' && !quote)
			break;
	}

	first->p = val->p;
	first->l = MIN(i, val->l);
	sipval_trim(first);
}


/* Whether the ;-parameters after pos in v name one called name. */
static bool has_param(const struct pl *v, size_t pos, const char *name)
{
	size_t n = strlen(name);
	bool quote = false;

	for (size_t i = pos; i < v->l; i++) {
		size_t k;

		if (v->p[i] == '"')
			quote = !quote;
		if (quote || v->p[i] != ';')
			continue;

		for (k = i + 1; k < v->l && is_lws(v->p[k]); k++)
			;
		if (k + n <= v->l && !strncasecmp(v->p + k, name, n) &&
		    (k + n == v->l || is_lws(v->p[k + n]) ||
		     v->p[k + n] == '=' || v->p[k + n] == ';'))
			return true;
	}

	return false;
}


/* Where the parameters of an address header start: after the '>' of a
 * name-addr, else at the start. */
static size_t addr_params_at(const struct pl *v)
{
	bool quote = false;

	for (size_t i = 0; i < v->l; i++) {
		if (v->p[i] == '"')
			quote = !quote;
		else if (v->p[i] == '\\' && quote)
			++i;
		else if (v->p[i] == '>' && !quote)
			return i + 1;
	}

	return 0;
}


static bool try_decode(struct mbuf *mb)
{
	struct sip_msg *msg = NULL;
	size_t pos = mb->pos;
	int err;

	err = sip_msg_decode(&msg, mb);
	mb->pos = pos;
	mem_deref(msg);

	return err == 0;
}


static int insert(struct mbuf *mb, size_t at, const char *s, size_t n)
{
	size_t end = mb->end;
	int err;

	err = mbuf_resize(mb, end + n);
	if (err)
		return err;

	memmove(mb->buf + at + n, mb->buf + at, end - at);
	memcpy(mb->buf + at, s, n);
	mb->end = end + n;

	return 0;
}


/*
 * RFC 2543 (RFC 4475 3.4): a top Via without a branch.  The branch we add
 * is a function of the request's RFC 2543 transaction identity, the same
 * for its retransmissions and for the ACK or CANCEL that follows it.
 */
static bool add_branch(struct mbuf *mb, const struct pl *msgpl,
		       const struct pl *ruri, const struct rawhdrs *rh)
{
	struct pl top, num = PL_INIT;
	char branch[48];
	uint32_t h1, h2;
	size_t at, i;

	if (!rh->nvia || !pl_isset(&rh->callid) || !pl_isset(&rh->cseq))
		return false;

	first_value(&rh->via[0], &top);
	if (!top.l || has_param(&top, 0, "branch"))
		return false;

	for (i = 0; i < rh->cseq.l && rh->cseq.p[i] >= '0' &&
		     rh->cseq.p[i] <= '9'; i++)
		;
	num.p = rh->cseq.p;
	num.l = i;

	h1 = hash_joaat((const uint8_t *)rh->callid.p, rh->callid.l) ^
		hash_joaat((const uint8_t *)num.p, num.l);
	h2 = hash_joaat((const uint8_t *)ruri->p, ruri->l) ^
		hash_joaat((const uint8_t *)top.p, top.l);
	(void)re_snprintf(branch, sizeof(branch),
			  ";branch=cmrlab2543.%08x%08x", h1, h2);

	at = mb->pos + (size_t)(top.p + top.l - msgpl->p);
	if (insert(mb, at, branch, strlen(branch)))
		return false;

	return true;
}


static bool version_ok(const struct pl *ver, bool *other)
{
	size_t i = 4, d1 = 0, d2 = 0;

	*other = false;
	if (!pl_strcmp(ver, "SIP/2.0"))
		return true;

	/* SIP-Version = "SIP" "/" 1*DIGIT "." 1*DIGIT */
	if (ver->l < 7 || strncasecmp(ver->p, "SIP/", 4))
		return false;
	for (; i < ver->l && ver->p[i] >= '0' && ver->p[i] <= '9'; i++)
		++d1;
	if (i >= ver->l || ver->p[i++] != '.')
		return false;
	for (; i < ver->l && ver->p[i] >= '0' && ver->p[i] <= '9'; i++)
		++d2;

	*other = d1 && d2 && i == ver->l;

	return false;
}


/* ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":" */
static bool scheme_of(const struct pl *uri, struct pl *scheme)
{
	size_t i;

	if (!uri->l || !((uri->p[0] | 0x20) >= 'a' &&
			 (uri->p[0] | 0x20) <= 'z'))
		return false;

	for (i = 1; i < uri->l && uri->p[i] != ':'; i++) {
		char c = uri->p[i];

		if (!(((c | 0x20) >= 'a' && (c | 0x20) <= 'z') ||
		      (c >= '0' && c <= '9') || c == '+' || c == '-' ||
		      c == '.'))
			return false;
	}

	if (i >= uri->l)
		return false;

	scheme->p = uri->p;
	scheme->l = i;

	return true;
}


enum rawin_verdict rawin_check(struct mbuf *mb, uint16_t *scode,
			       const char **why)
{
	struct pl msg, line, met, ruri, ver, scheme;
	const char *nl, *sp1, *sp2;
	struct rawhdrs rh;
	bool other, ack = false;

	*scode = 0;
	*why = NULL;

	msg.p = (const char *)mbuf_buf(mb);
	msg.l = mbuf_get_left(mb);

	/* STUN, keep-alives and responses are libre's business. */
	if (!msg.l || !sipval_tokenc(msg.p[0]) ||
	    (msg.l >= 4 && !memcmp(msg.p, "SIP/", 4)))
		return RAWIN_PASS;

	if (try_decode(mb))
		return RAWIN_PASS;

	raw_headers(&msg, &rh);

	/* Request-Line = Method SP Request-URI SP SIP-Version CRLF: single
	 * spaces, no LWS in the URI, none at the end (RFC 3261 25.1; RFC
	 * 4475 3.1.2.8 to 3.1.2.10). */
	nl = pl_strchr(&msg, '\n');
	line.p = msg.p;
	line.l = nl ? (size_t)(nl - msg.p) : msg.l;
	if (line.l && line.p[line.l - 1] == '\r')
		--line.l;

	*scode = 400;
	sp1 = pl_strchr(&line, ' ');
	if (!sp1) {
		*why = "malformed Request-Line";
		goto answer;
	}
	met.p = line.p;
	met.l = (size_t)(sp1 - line.p);
	ack = !pl_strcmp(&met, "ACK");
	ruri.p = sp1 + 1;
	ruri.l = line.l - met.l - 1;
	sp2 = pl_strchr(&ruri, ' ');
	if (!sp2) {
		*why = "malformed Request-Line";
		goto answer;
	}
	ver.p = sp2 + 1;
	ver.l = (size_t)(line.p + line.l - ver.p);
	ruri.l = (size_t)(sp2 - ruri.p);

	if (!version_ok(&ver, &other)) {
		if (other) {
			/* RFC 3261 8.2.6, RFC 4475 3.1.2.16 */
			*scode = 505;
			*why = "Version Not Supported";
		}
		else {
			*why = "malformed Request-Line";
		}
		goto answer;
	}

	for (size_t i = 0; i < met.l; i++) {
		if (!sipval_tokenc(met.p[i])) {
			*why = "malformed Request-Line";
			goto answer;
		}
	}

	if (!met.l || !ruri.l || pl_strchr(&ruri, '\t')) {
		*why = "malformed Request-Line";
		goto answer;
	}

	/* RFC 3261 8.2.2.1, RFC 4475 3.3.2 and 3.3.3 */
	if (!scheme_of(&ruri, &scheme)) {
		*why = "malformed Request-URI";
		goto answer;
	}
	if (pl_strcasecmp(&scheme, "sip") && pl_strcasecmp(&scheme, "sips")) {
		*scode = 416;
		*why = "Unsupported URI Scheme";
		goto answer;
	}

	/* add_branch() grows mb, which may move it: after it, nothing here
	 * reads the request through msg, line or rh (their pl's are only
	 * tested for being set). */
	if (add_branch(mb, &msg, &ruri, &rh)) {
		*scode = 0;
		if (try_decode(mb))
			return RAWIN_REWRITTEN;

		/* Rewritten, and still not decodable: the branch stays in
		 * what we copy into the 400. */
		*scode = 400;
	}

	*why = "malformed request";

 answer:
	/* Never a response to an ACK (RFC 3261 17.2.1), and none without
	 * the headers that tell the client what it answers. */
	if (ack || !rh.nvia || !pl_isset(&rh.callid) || !pl_isset(&rh.cseq) ||
	    !pl_isset(&rh.from) || !pl_isset(&rh.to))
		return RAWIN_DROP;

	return RAWIN_ANSWER;
}


/*
 * A stateless response to a request libre could not decode, from its
 * headers as written (RFC 3261 8.2.6.2): every Via, From, To with a tag
 * added when it has none, Call-ID and CSeq.
 */
int rawin_answer(struct mbuf **mbp, const struct mbuf *req, uint16_t scode,
		 const char *reason, uint64_t tag)
{
	struct rawhdrs rh;
	struct mbuf *mb;
	struct pl msg;
	int err = 0;

	if (!mbp || !req || !reason)
		return EINVAL;

	msg.p = (const char *)mbuf_buf(req);
	msg.l = mbuf_get_left(req);
	raw_headers(&msg, &rh);
	if (!rh.nvia || !pl_isset(&rh.callid) || !pl_isset(&rh.cseq) ||
	    !pl_isset(&rh.from) || !pl_isset(&rh.to))
		return EBADMSG;

	mb = mbuf_alloc(512);
	if (!mb)
		return ENOMEM;

	err |= mbuf_printf(mb, "SIP/2.0 %u %s\r\n", scode, reason);
	for (unsigned i = 0; i < rh.nvia; i++)
		err |= mbuf_printf(mb, "Via: %r\r\n", &rh.via[i]);
	err |= mbuf_printf(mb, "From: %r\r\n", &rh.from);
	err |= mbuf_printf(mb, "To: %r", &rh.to);
	if (!has_param(&rh.to, addr_params_at(&rh.to), "tag"))
		err |= mbuf_printf(mb, ";tag=%016llx", tag);
	err |= mbuf_printf(mb, "\r\nCall-ID: %r\r\n"
			   "CSeq: %r\r\n"
			   "Server: cmrlab/" CMRLAB_VERSION "\r\n"
			   "Content-Length: 0\r\n\r\n", &rh.callid, &rh.cseq);
	if (err) {
		mem_deref(mb);
		return err;
	}

	mb->pos = 0;
	*mbp = mb;

	return 0;
}




/*
 * Where a response goes, as libre sends its own (sip_reply_addr): over
 * UDP to the source address and the top Via's sent-by port, 5060 when it
 * has none, or to the source port with rport (RFC 3261 18.2.2, RFC
 * 3581).
 */
void rawin_reply_addr(const struct mbuf *req, const struct sa *src,
		       struct sa *dst)
{
	struct rawhdrs rh;
	struct pl msg, top;
	uint32_t port = 0;
	size_t i = 0, n = 0;

	*dst = *src;

	msg.p = (const char *)mbuf_buf(req);
	msg.l = mbuf_get_left(req);
	raw_headers(&msg, &rh);
	if (!rh.nvia)
		return;

	first_value(&rh.via[0], &top);
	if (has_param(&top, 0, "rport"))
		return;

	/* SIP / 2.0 / transport LWS sent-by */
	for (; i < top.l && n < 2; i++)
		n += top.p[i] == '/';
	while (i < top.l && is_lws(top.p[i]))
		++i;
	while (i < top.l && !is_lws(top.p[i]))
		++i;
	while (i < top.l && is_lws(top.p[i]))
		++i;

	if (i < top.l && top.p[i] == '[') {
		while (i < top.l && top.p[i] != ']')
			++i;
	}
	while (i < top.l && top.p[i] != ':' && top.p[i] != ';' &&
	       !is_lws(top.p[i]))
		++i;
	if (i < top.l && top.p[i] == ':') {
		for (++i; i < top.l && top.p[i] >= '0' && top.p[i] <= '9';
		     i++)
			port = port * 10 + (uint32_t)(top.p[i] - '0');
	}

	sa_set_port(dst, port && port <= 65535 ? (uint16_t)port : 5060);
}
