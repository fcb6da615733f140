/**
 * @file resreq.c  GET and HEAD /r/ID: the media of HTTP mode
 *
 * A resource id names an entry of the live table, never a file: the id is
 * checked against a small alphabet and then only used as a table key.
 * The body is the resource's own immutable memory.  A table reload may
 * drop the resource while a slow client is still downloading it, so each
 * response holds a reference on the bytes and releases it when MHD frees
 * the response.
 *
 * Conditional and range requests follow RFC 9110: If-None-Match first
 * (section 13.2.2), then Range, which applies to GET only; a Range this
 * server does not understand is ignored and the whole body is sent.
 *
 * Who may fetch, and which fetches become a call's events, is decided
 * first (access_check): a URL signed for a call, or an unsigned one from
 * where the listener lets it.
 */
#include <string.h>
#include <strings.h>
#include <time.h>
#include <microhttpd.h>
#include <re.h>
#include "core/core.h"
#include "core/urlsign.h"
#include "http/http_int.h"

enum { ID_MAX = 64 };


bool resreq_id_valid(const char *id)
{
	size_t n = 0;

	if (!id)
		return false;

	for (; id[n]; n++) {
		char c = id[n];

		if (n >= ID_MAX)
			return false;

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-'))
			return false;
	}

	return n > 0;
}


static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}


static const char *skip_ows(const char *p)
{
	while (is_ows(*p))
		++p;

	return p;
}


/* Strips the weak indicator; If-None-Match compares weakly. */
static const char *opaque(const char *tag)
{
	return strncmp(tag, "W/", 2) ? tag : tag + 2;
}


bool resreq_etag_match(const char *list, const char *etag)
{
	const char *p, *mine;
	size_t mlen;

	if (!list || !etag)
		return false;

	mine = opaque(etag);
	mlen = strlen(mine);

	p = skip_ows(list);
	if (*p == '*')
		return *skip_ows(p + 1) == '\0';

	while (*p) {
		const char *q, *end;

		/* Empty list elements are allowed (RFC 9110 section 5.6.1). */
		if (*p == ',' || is_ows(*p)) {
			++p;
			continue;
		}

		p = opaque(p);
		if (*p != '"')
			return false;

		q = strchr(p + 1, '"');
		if (!q)
			return false;

		/* A tag glued to junk is not a tag: the list is malformed. */
		end = skip_ows(q + 1);
		if (*end && *end != ',')
			return false;

		if ((size_t)(q + 1 - p) == mlen && !memcmp(p, mine, mlen))
			return true;

		p = end;
	}

	return false;
}


/* Reads 1*DIGIT, saturating at UINT64_MAX: a position past any size
 * behaves the same whatever its exact value. */
static const char *digits(const char *p, uint64_t *vp)
{
	uint64_t v = 0;
	const char *s = p;

	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned d = (unsigned)(*p - '0');

		v = v > (UINT64_MAX - d) / 10 ? UINT64_MAX : v * 10 + d;
	}

	if (p == s)
		return NULL;

	*vp = v;

	return p;
}


struct rspec {
	bool suffix;
	bool has_last;
	uint64_t first;
	uint64_t last;   /* suffix: the suffix length */
};


/* range-spec = int-range / suffix-range; returns the end or NULL. */
static const char *spec_parse(const char *p, struct rspec *rs)
{
	memset(rs, 0, sizeof(*rs));

	if (*p == '-') {
		rs->suffix = true;
		return digits(p + 1, &rs->last);
	}

	p = digits(p, &rs->first);
	if (!p || *p != '-')
		return NULL;
	++p;

	if (*p >= '0' && *p <= '9') {
		p = digits(p, &rs->last);
		rs->has_last = true;
		if (rs->last < rs->first)
			return NULL;
	}

	return p;
}


enum resreq_range resreq_range_parse(const char *hdr, uint64_t size,
				     uint64_t *offp, uint64_t *lenp)
{
	struct rspec rs = {0}, cur;
	unsigned count = 0;
	const char *p;

	if (!hdr || !offp || !lenp)
		return RANGE_FULL;

	/* The range unit is case-insensitive; "bytes" is the only one. */
	if (strncasecmp(hdr, "bytes=", 6))
		return RANGE_FULL;

	for (p = hdr + 6; *p; ) {
		if (*p == ',' || is_ows(*p)) {
			++p;
			continue;
		}

		p = spec_parse(p, &cur);
		if (!p)
			return RANGE_FULL;

		p = skip_ows(p);
		if (*p && *p != ',')
			return RANGE_FULL;

		if (!count++)
			rs = cur;
	}

	/* No range at all is malformed; several are allowed to be answered
	 * with the whole representation, which every client must accept. */
	if (count != 1)
		return RANGE_FULL;

	if (rs.suffix) {
		if (rs.last == 0)
			return RANGE_UNSAT;

		/* An empty body has no bytes to send in a 206. */
		if (size == 0)
			return RANGE_FULL;

		*lenp = rs.last < size ? rs.last : size;
		*offp = size - *lenp;

		return RANGE_PART;
	}

	if (rs.first >= size)
		return RANGE_UNSAT;

	if (!rs.has_last || rs.last >= size)
		rs.last = size - 1;

	*offp = rs.first;
	*lenp = rs.last - rs.first + 1;

	return RANGE_PART;
}


static void data_free(void *cls)
{
	mem_deref(cls);
}


static int hdr_add(struct MHD_Response *resp, const char *name,
		   const char *value)
{
	return MHD_add_response_header(resp, name, value) == MHD_YES ?
		0 : ENOMEM;
}


/* The headers every answer about an existing resource carries. */
static int hdrs_common(struct MHD_Response *resp, const struct resource *r)
{
	int err = 0;

	err |= hdr_add(resp, MHD_HTTP_HEADER_ETAG, r->etag);
	err |= hdr_add(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
	err |= hdr_add(resp, MHD_HTTP_HEADER_ACCEPT_RANGES, "bytes");

	return err;
}


/* Counted for /metrics: the answer's status and the body it queues (a
 * client that hangs up early does not take all of it). */
static void dl_count(struct httpreq *rq, unsigned code, size_t bytes)
{
	if (code >= 100 && code - 100 < HTTPD_DL_CODES)
		++rq->h->dl[code - 100];
	rq->h->dl_bytes += bytes;
}


/* httpd_served_set()'s handler, told of every answer to /r/ID. */
static void served(struct httpreq *rq, unsigned code, size_t bytes)
{
	const union MHD_ConnectionInfo *ci;
	struct sa peer;
	char path[128];
	size_t n;

	dl_count(rq, code, bytes);
	if (!rq->h->servedh)
		return;
	ci = MHD_get_connection_info(rq->conn,
				     MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	sa_init(&peer, AF_UNSPEC);
	if (ci && ci->client_addr)
		(void)sa_set_sa(&peer, ci->client_addr);
	n = strcspn(rq->url, "?");
	(void)re_snprintf(path, sizeof(path), "%b", rq->url,
			  n < sizeof(path) ? n : sizeof(path) - 1);
	rq->h->servedh(&peer, path, code, bytes, rq->h->served_arg);
}


/* Tells the served hook, and the call callid of a validly signed URL
 * (NULL: none) its event: only a URL the server handed out may add one
 * (core/urlsign.c). */
static void event_emit(struct httpreq *rq, const char *id,
		       const char *callid, unsigned code, size_t bytes)
{
	struct callrec *cr;

	served(rq, code, bytes);
	if (!callid)
		return;

	cr = evlog_call_find(callid);
	if (!cr)
		return;

	evlog_event(cr, "resource-fetched",
		    "\"resource\":%H,\"status\":%u,\"bytes\":%zu",
		    jsonw_str, id, code, bytes);
}


static const char *query(struct httpreq *rq, const char *key)
{
	return MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND,
					   key);
}


/*
 * Who may fetch.  A signed URL (exp or sig in the query) is checked and,
 * valid, names the call its fetch is recorded for (*callidp).  An
 * unsigned one records nothing; it is open on a loopback listener (the
 * API's "url" fields, the tests) and elsewhere needs the API's token, so
 * the network at large fetches only what a call handed out.  Returns 0,
 * or the 403 already queued in *resultp.
 */
static int access_check(struct httpreq *rq, const char *id,
			const char **callidp, enum MHD_Result *resultp)
{
	const char *callid = query(rq, "call");
	const char *exp = query(rq, "exp");
	const char *sig = query(rq, "sig");
	const char *authz;
	int err;

	*callidp = NULL;

	if (exp || sig) {
		err = urlsign_verify(id, callid, exp, sig,
				     (uint64_t)time(NULL));
		if (err == ETIMEDOUT) {
			served(rq, 403, 0);
			*resultp = httpd_error(rq, 403, "the URL has expired",
					       "exp");
			return err;
		}
		if (err) {
			served(rq, 403, 0);
			*resultp = httpd_error(rq, 403, "the URL's signature "
					       "does not match", "sig");
			return err;
		}

		*callidp = callid;
		return 0;
	}

	if (httpd_loopback(rq->h))
		return 0;

	authz = MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND,
					    MHD_HTTP_HEADER_AUTHORIZATION);
	if (!httpd_auth_check(authz, rq->h->token))
		return 0;

	served(rq, 403, 0);
	*resultp = httpd_error(rq, 403, "an unsigned resource URL needs "
			       "'Authorization: Bearer TOKEN' here", "sig");

	return EACCES;
}


/*
 * Decides the status and the slice of the body.  If-Range with anything
 * but our exact (strong) ETag means the client's partial copy is stale:
 * it gets the whole body, as RFC 9110 section 13.1.5 asks.
 */
static unsigned decide(struct httpreq *rq, const struct resource *r,
		       uint64_t *offp, uint64_t *lenp)
{
	const char *inm, *range, *ifrange;

	*offp = 0;
	*lenp = r->size;

	inm = MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND,
					  MHD_HTTP_HEADER_IF_NONE_MATCH);
	if (inm && resreq_etag_match(inm, r->etag))
		return 304;

	if (rq->head)
		return 200;

	range = MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND,
					    MHD_HTTP_HEADER_RANGE);
	if (!range)
		return 200;

	ifrange = MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND,
					      MHD_HTTP_HEADER_IF_RANGE);
	if (ifrange && strcmp(ifrange, r->etag))
		return 200;

	switch (resreq_range_parse(range, r->size, offp, lenp)) {

	case RANGE_PART:
		return 206;

	case RANGE_UNSAT:
		*offp = 0;
		*lenp = 0;
		return 416;

	default:
		*offp = 0;
		*lenp = r->size;
		return 200;
	}
}


enum MHD_Result resreq_handle(struct httpreq *rq, const char *id)
{
	struct MHD_Response *resp;
	const struct resource *r = NULL;
	enum MHD_Result result;
	const char *callid;
	char crange[80];
	uint64_t off, len;
	unsigned code;
	int err = 0;

	if (strcmp(rq->method, MHD_HTTP_METHOD_GET) && !rq->head) {
		dl_count(rq, 405, 0);
		return httpd_not_allowed(rq, NULL);
	}

	if (access_check(rq, id, &callid, &result))
		return result;

	if (resreq_id_valid(id))
		r = table_resource(table_live(), id);

	if (!r) {
		event_emit(rq, id, callid, 404, 0);
		return httpd_error(rq, 404, "not found", NULL);
	}

	code = decide(rq, r, &off, &len);

	if (code == 200 || code == 206) {
		/* The bytes stay alive as long as the response needs them,
		 * even if the table drops the resource meanwhile. */
		resp = MHD_create_response_from_buffer_with_free_callback_cls(
			(size_t)len, r->data ? r->data + off : NULL,
			data_free, mem_ref(r->data));
		if (!resp) {
			mem_deref(r->data);
			return httpd_send(rq, code, NULL);
		}
	}
	else {
		resp = MHD_create_response_from_buffer(0, NULL,
						       MHD_RESPMEM_PERSISTENT);
		if (!resp)
			return httpd_send(rq, code, NULL);
	}

	switch (code) {

	case 304:
		err |= hdr_add(resp, MHD_HTTP_HEADER_ETAG, r->etag);
		err |= hdr_add(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
			       "no-cache");
		break;

	case 206:
		(void)re_snprintf(crange, sizeof(crange),
				  "bytes %llu-%llu/%zu",
				  (unsigned long long)off,
				  (unsigned long long)(off + len - 1),
				  r->size);
		err |= hdr_add(resp, MHD_HTTP_HEADER_CONTENT_RANGE, crange);
		/*@fallthrough@*/
	case 200:
		err |= hdr_add(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->type);
		err |= hdrs_common(resp, r);
		break;

	default: /* 416 */
		(void)re_snprintf(crange, sizeof(crange), "bytes */%zu",
				  r->size);
		err |= hdr_add(resp, MHD_HTTP_HEADER_CONTENT_RANGE, crange);
		err |= hdrs_common(resp, r);
		break;
	}

	if (err) {
		MHD_destroy_response(resp);
		return httpd_send(rq, code, NULL);
	}

	event_emit(rq, id, callid, code, rq->head ? 0 : (size_t)len);

	return httpd_send(rq, code, resp);
}
