/**
 * @file validate.c  Is a decoded request well formed enough to be handled?
 *
 * libre's sip_msg_decode() finds the headers the stack needs and checks
 * little else.  These checks come after it, before the registrar or the
 * B2BUA see a request, and say which answer RFC 3261 and the torture
 * tests of RFC 4475 (section 3) ask for: 400 for a malformed request,
 * 416 for a Request-URI scheme we do not serve, 501 for a method nobody
 * defined.  They are pure functions of the message, so the unit tests
 * drive them with the byte-exact torture messages of tests/rfc4475/.
 */
#include <string.h>
#include <strings.h>
#include <re.h>
#include "sip/sip_int.h"


static bool is_lws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}


/* RFC 3261 25.1: token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_"
 * / "+" / "`" / "'" / "~") */
bool sipval_tokenc(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		(c >= '0' && c <= '9') || (c && strchr("-.!%*_+`'~", c));
}


/* pl without the LWS (SP, HTAB, CR, LF) at either end. */
void sipval_trim(struct pl *pl)
{
	while (pl->l && is_lws(pl->p[0])) {
		++pl->p;
		--pl->l;
	}
	while (pl->l && is_lws(pl->p[pl->l - 1]))
		--pl->l;
}


/* A decimal number that fits in 32 bits; leading zeros are fine (RFC 4475
 * 3.1.1.1 writes Max-Forwards: 0068 and CSeq: 0009). */
bool sipval_u32(const struct pl *pl, uint32_t *v)
{
	uint64_t n = 0;
	size_t i;

	if (!pl || !pl->p || !pl->l)
		return false;

	for (i = 0; i < pl->l; i++) {
		if (pl->p[i] < '0' || pl->p[i] > '9')
			return false;
		n = n * 10 + (uint64_t)(pl->p[i] - '0');
		if (n > UINT32_MAX)
			return false;
	}

	if (v)
		*v = (uint32_t)n;

	return true;
}


/* Methods of RFC 3261 and its extensions.  Ours are served; the others
 * get 405 with Allow.  Any other method is unknown: 501 (RFC 3261
 * 21.5.2, RFC 4475 3.1.1.2, 3.1.1.5 and 3.1.2.18). */
bool sipval_method_known(const struct pl *met)
{
	static const char *known[] = {
		"INVITE", "ACK", "CANCEL", "BYE", "OPTIONS", "REGISTER",
		"PRACK", "UPDATE", "INFO", "MESSAGE", "SUBSCRIBE", "NOTIFY",
		"REFER", "PUBLISH",
	};

	for (size_t i = 0; i < ARRAY_SIZE(known); i++) {
		if (!pl_strcmp(met, known[i]))
			return true;
	}

	return false;
}


/*
 * The parameters after a URI or a Via sent-by: *( SEMI generic-param ),
 * generic-param = token [ EQUAL gen-value ], gen-value = token / host /
 * quoted-string, LWS allowed around SEMI and EQUAL.  An empty parameter
 * (";;" or a trailing ";") is malformed (RFC 4475 3.1.2.1).
 */
static bool params_ok(struct pl p)
{
	sipval_trim(&p);

	while (p.l) {
		size_t i = 0;

		if (p.p[0] != ';')
			return false;
		++i;
		while (i < p.l && is_lws(p.p[i]))
			++i;
		if (i >= p.l || !sipval_tokenc(p.p[i]))
			return false;
		while (i < p.l && sipval_tokenc(p.p[i]))
			++i;
		while (i < p.l && is_lws(p.p[i]))
			++i;

		if (i < p.l && p.p[i] == '=') {
			++i;
			while (i < p.l && is_lws(p.p[i]))
				++i;
			if (i >= p.l)
				return false;
			if (p.p[i] == '"') {
				for (++i; i < p.l && p.p[i] != '"'; i++) {
					if (p.p[i] == '\\')
						++i;
				}
				if (i >= p.l)
					return false;
				++i;
			}
			else if (p.p[i] == '[') {
				while (i < p.l && p.p[i] != ']')
					++i;
				if (i >= p.l)
					return false;
				++i;
			}
			else {
				if (!sipval_tokenc(p.p[i]) && p.p[i] != ':')
					return false;
				while (i < p.l && (sipval_tokenc(p.p[i]) ||
						   p.p[i] == ':'))
					++i;
			}
			while (i < p.l && is_lws(p.p[i]))
				++i;
		}

		p.p += i;
		p.l -= i;
	}

	return true;
}


/*
 * From, To and Contact (RFC 3261 20.10, 25.1): name-addr or addr-spec,
 * then parameters.  A display name is a quoted string (balanced, with
 * quoted-pairs) or tokens separated by LWS (RFC 4475 3.1.2.6, 3.1.2.15);
 * no LWS inside <> (3.1.2.14); an addr-spec without <> cannot carry '?'
 * or ',' (3.1.2.13).  LWS between a token and '<' may be missing
 * (3.1.1.6).
 */
static bool addr_ok(const struct pl *val)
{
	struct pl v = *val, uri, params;
	size_t i = 0, lt;

	sipval_trim(&v);
	if (!v.l)
		return false;

	/* Display name */
	if (v.p[0] == '"') {
		for (i = 1; i < v.l && v.p[i] != '"'; i++) {
			if (v.p[i] == '\\')
				++i;
		}
		if (i >= v.l)
			return false;
		++i;
		while (i < v.l && is_lws(v.p[i]))
			++i;
		if (i >= v.l || v.p[i] != '<')
			return false;
	}
	else {
		const char *q = pl_strchr(&v, '<');

		if (q) {
			for (i = 0; v.p + i < q; i++) {
				if (!sipval_tokenc(v.p[i]) && !is_lws(v.p[i]))
					return false;
			}
		}
	}

	if (i < v.l && v.p[i] == '<') {
		lt = i + 1;
		while (i < v.l && v.p[i] != '>')
			++i;
		if (i >= v.l)
			return false;
		uri.p = v.p + lt;
		uri.l = i - lt;
		params.p = v.p + i + 1;
		params.l = v.l - i - 1;
		if (!uri.l)
			return false;
		for (size_t k = 0; k < uri.l; k++) {
			if (is_lws(uri.p[k]))
				return false;
		}
	}
	else {
		/* addr-spec: parameters start at the first ';' */
		const char *semi = pl_strchr(&v, ';');

		uri.p = v.p;
		uri.l = semi ? (size_t)(semi - v.p) : v.l;
		params.p = uri.p + uri.l;
		params.l = v.l - uri.l;
		sipval_trim(&uri);
		if (!uri.l)
			return false;
		for (size_t k = 0; k < uri.l; k++) {
			if (is_lws(uri.p[k]) || uri.p[k] == '?' ||
			    uri.p[k] == ',' || uri.p[k] == '<' ||
			    uri.p[k] == '>' || uri.p[k] == '"')
				return false;
		}
	}

	return params_ok(params);
}


/*
 * libre decodes a URI with an unanchored pattern ("[^:]+:..." matched
 * from wherever it first fits), so a Contact URI that does not start
 * with its scheme (":sip:bob@h", "sip:/x:5060") decodes all the same,
 * with the scheme further in.  A dialog with such a remote target is a
 * trap in libre 1.1.0: sip_dialog_update() decodes the route again only
 * when it starts at the target's first byte, frees the target string
 * anyway, and the dialog's next request (ACK, BYE, re-INVITE) reads the
 * route out of freed memory.  True for such a value; false for any other,
 * also for one libre cannot decode at all (it refuses those itself).
 */
bool sipval_contact_misparsed(const struct pl *val)
{
	struct sip_addr addr;

	if (!val || sip_addr_decode(&addr, val))
		return false;

	return addr.uri.scheme.p != addr.auri.p;
}


/* RFC 3261 25.1: a URI starts with its scheme; one that libre reads
 * otherwise would end up as a dialog's broken remote target. */
static bool contact_uri_ok(const struct pl *val)
{
	return !sipval_contact_misparsed(val);
}


static bool sip_scheme(const struct pl *scheme)
{
	return !pl_strcasecmp(scheme, "sip") || !pl_strcasecmp(scheme, "sips");
}


/* The scheme of a URI as written: ALPHA *( ALPHA / DIGIT / "+" / "-" /
 * "." ) up to the colon.  False when there is no such scheme. */
static bool uri_scheme(const struct pl *uri, struct pl *scheme)
{
	size_t i;

	if (!uri->l || !((uri->p[0] >= 'a' && uri->p[0] <= 'z') ||
			 (uri->p[0] >= 'A' && uri->p[0] <= 'Z')))
		return false;

	for (i = 1; i < uri->l && uri->p[i] != ':'; i++) {
		char c = uri->p[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '+' || c == '-' ||
		      c == '.'))
			return false;
	}

	if (i >= uri->l || i + 1 >= uri->l)
		return false;

	scheme->p = uri->p;
	scheme->l = i;

	return true;
}


/* A '?' after the hostport starts the headers of a SIP URI; before the
 * '@' it is part of the user (RFC 3261 25.1 user-unreserved, RFC 4475
 * 3.1.1.2). */
static bool uri_headers(const struct pl *uri)
{
	const char *at = pl_strchr(uri, '@');
	struct pl rest = *uri;

	if (at) {
		rest.p = at + 1;
		rest.l = uri->l - (size_t)(rest.p - uri->p);
	}

	return pl_strchr(&rest, '?') != NULL;
}


/* The URI of an address header as written: inside <>, or up to the
 * first ';'. */
static void addr_uri(const struct pl *val, struct pl *uri)
{
	const char *lt = pl_strchr(val, '<');
	struct pl v = *val;

	if (lt) {
		const char *gt;

		v.p = lt + 1;
		v.l = val->l - (size_t)(v.p - val->p);
		gt = pl_strchr(&v, '>');
		if (gt)
			v.l = (size_t)(gt - v.p);
	}
	else {
		const char *semi = pl_strchr(&v, ';');

		if (semi)
			v.l = (size_t)(semi - v.p);
	}

	sipval_trim(&v);
	*uri = v;
}


/* Skips LWS from *i; true when it skipped any. */
static bool skip_lws(const struct pl *v, size_t *i)
{
	size_t i0 = *i;

	while (*i < v->l && is_lws(v->p[*i]))
		++*i;

	return *i > i0;
}


/* Skips a token from *i; true when it was not empty. */
static bool skip_token(const struct pl *v, size_t *i)
{
	size_t i0 = *i;

	while (*i < v->l && sipval_tokenc(v->p[*i]))
		++*i;

	return *i > i0;
}


/* RFC 3261 20.42: "SIP" SLASH version SLASH transport LWS sent-by *( SEMI
 * via-params ), SLASH allowing LWS around it (RFC 4475 3.1.1.1); every
 * comma-separated value on its own (libre splits them). */
static bool via_ok(const struct pl *val)
{
	struct pl v = *val, params;
	size_t i = 0;

	sipval_trim(&v);
	if (v.l < 3 || strncasecmp(v.p, "SIP", 3))
		return false;
	i = 3;

	for (int k = 0; k < 2; k++) {
		skip_lws(&v, &i);
		if (i >= v.l || v.p[i++] != '/')
			return false;
		skip_lws(&v, &i);
		if (!skip_token(&v, &i))
			return false;
	}

	if (!skip_lws(&v, &i))
		return false;

	/* sent-by: host [ ":" port ] */
	if (i >= v.l || v.p[i] == ';')
		return false;
	while (i < v.l && !is_lws(v.p[i]) && v.p[i] != ';')
		++i;

	params.p = v.p + i;
	params.l = v.l - i;

	return params_ok(params);
}


struct hdrcheck {
	bool (*ok)(const struct pl *val);
	bool star;                 /* Contact: * is fine */
	bool bad;
};


static bool hdr_handler(const struct sip_hdr *hdr, const struct sip_msg *msg,
			void *arg)
{
	struct hdrcheck *hc = arg;
	(void)msg;

	if (hc->star && !pl_strcmp(&hdr->val, "*"))
		return false;

	if (!hc->ok(&hdr->val)) {
		hc->bad = true;
		return true;
	}

	return false;
}


static bool hdrs_ok(const struct sip_msg *msg, enum sip_hdrid id,
		    bool (*ok)(const struct pl *val))
{
	struct hdrcheck hc = { ok, id == SIP_HDR_CONTACT, false };

	(void)sip_msg_hdr_apply(msg, true, id, hdr_handler, &hc);

	return !hc.bad;
}


/* RFC 3261 7.3.1: a header that is not a comma-separated list appears
 * once (RFC 4475 3.3.8 and 3.3.9). */
static const char *repeated(const struct sip_msg *msg)
{
	static const struct {
		enum sip_hdrid id;
		const char *why;
	} once[] = {
		{SIP_HDR_CALL_ID,        "several Call-ID values"},
		{SIP_HDR_CSEQ,           "several CSeq values"},
		{SIP_HDR_FROM,           "several From values"},
		{SIP_HDR_TO,             "several To values"},
		{SIP_HDR_MAX_FORWARDS,   "several Max-Forwards values"},
		{SIP_HDR_CONTENT_LENGTH, "several Content-Length values"},
		{SIP_HDR_CONTENT_TYPE,   "several Content-Type values"},
	};

	for (size_t i = 0; i < ARRAY_SIZE(once); i++) {
		if (sip_msg_hdr_count(msg, once[i].id) > 1)
			return once[i].why;
	}

	return NULL;
}


/* The CSeq as written: 1*DIGIT LWS Method, the number below 2**32 (RFC
 * 3261 8.1.1.5, RFC 4475 3.1.2.4); libre keeps the number modulo 2**32. */
static bool cseq_ok(const struct sip_msg *msg)
{
	const struct sip_hdr *h = sip_msg_hdr(msg, SIP_HDR_CSEQ);
	struct pl v, num;
	size_t i = 0;

	if (!h)
		return false;

	v = h->val;
	sipval_trim(&v);
	while (i < v.l && v.p[i] >= '0' && v.p[i] <= '9')
		++i;
	num.p = v.p;
	num.l = i;
	if (!sipval_u32(&num, NULL) || !skip_lws(&v, &i) ||
	    !skip_token(&v, &i))
		return false;

	return i == v.l;
}


uint16_t sipval_request(const struct sip_msg *msg, const char **why)
{
	const char *w = NULL;
	uint16_t scode = 400;
	struct pl scheme;
	uint32_t n;

	if (!msg)
		return 400;

	if (!pl_isset(&msg->callid))
		w = "missing Call-ID";
	else if (!pl_isset(&msg->cseq.met) || !cseq_ok(msg))
		w = "missing or bad CSeq";
	else if (!pl_isset(&msg->from.auri) || !pl_isset(&msg->to.auri))
		w = "missing From or To";
	else if (!pl_isset(&msg->via.sentby))
		w = "missing Via";
	else if ((w = repeated(msg)))
		;
	else if (!msg->req)
		;
	/* RFC 3261 8.2.2.1 (416), RFC 4475 3.1.2.7 (<> around it) */
	else if (!uri_scheme(&msg->ruri, &scheme))
		w = "malformed Request-URI";
	else if (!sip_scheme(&scheme)) {
		scode = 416;
		w = "Unsupported URI Scheme";
	}
	/* RFC 3261 19.1.1: no headers in a Request-URI (RFC 4475 3.1.2.11) */
	else if (uri_headers(&msg->ruri))
		w = "Request-URI with headers";
	else if (!sipval_method_known(&msg->met)) {
		scode = 501;
		w = "Not Implemented";
	}
	else if (pl_cmp(&msg->cseq.met, &msg->met) &&
		 !(!pl_strcmp(&msg->met, "ACK") &&
		   !pl_strcmp(&msg->cseq.met, "INVITE")) &&
		 !(!pl_strcmp(&msg->met, "CANCEL") &&
		   !pl_strcmp(&msg->cseq.met, "INVITE")))
		w = "CSeq method does not match the request";
	/* RFC 4475 3.2.1: the magic cookie and no transaction id */
	else if (!pl_strcmp(&msg->via.branch, "z9hG4bK"))
		w = "Via branch without a transaction id";
	else if (!hdrs_ok(msg, SIP_HDR_VIA, via_ok))
		w = "malformed Via";
	/* RFC 3261 8.1.1.3; an RFC 2543 request (branch without the magic
	 * cookie, RFC 4475 3.4) may come without a From tag. */
	else if (!pl_isset(&msg->from.tag) && msg->via.branch.l >= 7 &&
		 !memcmp(msg->via.branch.p, "z9hG4bK", 7))
		w = "missing From tag";
	else if (!addr_ok(&msg->from.val) || !addr_ok(&msg->to.val))
		w = "malformed From or To";
	else if (!hdrs_ok(msg, SIP_HDR_CONTACT, addr_ok) ||
		 !hdrs_ok(msg, SIP_HDR_CONTACT, contact_uri_ok))
		w = "malformed Contact";
	else if (pl_isset(&msg->maxfwd) &&
		 (!sipval_u32(&msg->maxfwd, &n) || n > 255))
		w = "bad Max-Forwards";
	else if (pl_isset(&msg->clen) && !sipval_u32(&msg->clen, &n))
		w = "bad Content-Length";
	/* RFC 3261 18.3: over UDP the body must be as long as stated
	 * (libre uses Content-Length only to frame TCP). */
	else if (pl_isset(&msg->clen) && msg->tp == SIP_TRANSP_UDP &&
		 n > mbuf_get_left(msg->mb))
		w = "Content-Length larger than the message";
	/* RFC 3261 10.2: the address-of-record is a SIP or SIPS URI (RFC
	 * 4475 3.3.4: a registrar answers 400 otherwise). */
	else if (!pl_strcmp(&msg->met, "REGISTER")) {
		struct pl uri;

		addr_uri(&msg->to.val, &uri);
		if (!uri_scheme(&uri, &scheme) || !sip_scheme(&scheme))
			w = "To is not a SIP URI";
	}

	if (why)
		*why = w;

	return w ? scode : 0;
}


/*
 * RFC 3261 8.2.3 and 21.4.7: an INVITE whose Accept lists no type our
 * answers can have (session descriptions in application/sdp or in
 * multipart/mixed) gets 406; every UA that supports INVITE must accept
 * application/sdp (RFC 4475 3.3.15).  No Accept means application/sdp.
 */
static bool accept_handler(const struct sip_hdr *hdr,
			   const struct sip_msg *msg, void *arg)
{
	static const char *ours[] = {
		"application/sdp", "application/*", "*/*",
	};
	struct pl v = hdr->val;
	const char *semi = pl_strchr(&v, ';');
	(void)msg;
	(void)arg;

	if (semi)
		v.l = (size_t)(semi - v.p);
	sipval_trim(&v);

	for (size_t i = 0; i < ARRAY_SIZE(ours); i++) {
		if (!pl_strcasecmp(&v, ours[i]))
			return true;
	}

	return false;
}


bool sipval_accepts_sdp(const struct sip_msg *msg)
{
	if (!sip_msg_hdr(msg, SIP_HDR_ACCEPT))
		return true;

	return sip_msg_hdr_apply(msg, true, SIP_HDR_ACCEPT, accept_handler,
				 NULL) != NULL;
}


const char *sipval_reason(uint16_t scode)
{
	switch (scode) {

	case 400: return "Bad Request";
	case 406: return "Not Acceptable";
	case 416: return "Unsupported URI Scheme";
	case 501: return "Not Implemented";
	case 505: return "Version Not Supported";
	default:  return "Bad Request";
	}
}
