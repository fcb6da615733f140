/**
 * @file httpresp.c  The server's responses: memory bodies, JSON through
 *                   libre's encoder, errors, 405, and the bearer token
 *                   check
 */
#include <string.h>
#include <strings.h>
#include <microhttpd.h>
#include <re.h>
#include "core/core.h"
#include "http/http_int.h"


static void body_free(void *cls)
{
	mem_deref(cls);
}


struct MHD_Response *httpd_resp_mem(char *body, size_t len,
				    const char *type)
{
	struct MHD_Response *resp;

	resp = MHD_create_response_from_buffer_with_free_callback_cls(
		len, body, body_free, body);
	if (!resp) {
		mem_deref(body);
		return NULL;
	}

	if (type && MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
					    type) != MHD_YES) {
		MHD_destroy_response(resp);
		return NULL;
	}

	return resp;
}


enum MHD_Result httpd_send(struct httpreq *rq, unsigned code,
			   struct MHD_Response *resp)
{
	enum MHD_Result ret;

	if (!resp) {
		LOGW(SUB_HTTP, "%s %s: out of memory, closing", rq->method,
		     rq->url);
		return MHD_NO;
	}

	ret = MHD_queue_response(rq->conn, code, resp);
	MHD_destroy_response(resp);

	if (code / 100 < HTTPD_CLASSES)
		++rq->h->reqs[code / 100];

	LOGD(SUB_HTTP, "%s %s -> %u", rq->method, rq->url, code);

	return ret;
}


enum MHD_Result httpd_json(struct httpreq *rq, unsigned code, int err,
			   char *body)
{
	if (err) {
		mem_deref(body);
		LOGW(SUB_HTTP, "%s %s: printing the answer failed (%m)",
		     rq->method, rq->url, err);
		return httpd_send(rq, 500, httpd_resp_mem(NULL, 0, NULL));
	}

	return httpd_send(rq, code, httpd_resp_mem(body, str_len(body),
						   "application/json"));
}


/* An odict printed as one JSON document and a newline. */
static int odict_print(struct re_printf *pf, const struct odict *o)
{
	return re_hprintf(pf, "%H\n", json_encode_odict, o);
}


struct MHD_Response *httpd_resp_odict(const struct odict *o)
{
	char *body = NULL;

	if (re_sdprintf(&body, "%H", odict_print, o))
		return NULL;

	return httpd_resp_mem(body, str_len(body), "application/json");
}


struct MHD_Response *httpd_resp_error(const char *msg, const char *field)
{
	struct MHD_Response *resp = NULL;
	struct odict *o = NULL;
	int err;

	err = odict_alloc(&o, 4);
	if (err)
		return NULL;

	err = odict_entry_add(o, "error", ODICT_STRING, msg);
	if (!err && field)
		err = odict_entry_add(o, "field", ODICT_STRING, field);
	if (!err)
		resp = httpd_resp_odict(o);
	mem_deref(o);

	return resp;
}


enum MHD_Result httpd_error(struct httpreq *rq, unsigned code,
			    const char *msg, const char *field)
{
	return httpd_send(rq, code, httpd_resp_error(msg, field));
}


/*
 * RFC 6750 section 2.1: credentials = "Bearer" 1*SP b64token.  The scheme
 * is case-insensitive (RFC 9110 section 11.1) and the whitespace around a
 * field value is not part of it (section 5.5); the token must match
 * exactly.  libre's mem_seccmp compares it in constant time, so the time
 * taken does not tell a client how much of its guess was right; only the
 * length may show, as with every comparison of this kind.
 */
int httpd_auth_check(const char *authz, const char *token)
{
	static const char scheme[] = "Bearer";
	const size_t sl = sizeof(scheme) - 1;
	size_t len;

	if (!token || !*token)
		return EINVAL;
	if (!authz)
		return ENOENT;

	while (*authz == ' ' || *authz == '\t')
		++authz;
	len = strlen(authz);
	while (len && (authz[len - 1] == ' ' || authz[len - 1] == '\t'))
		--len;
	if (!len)
		return ENOENT;

	if (len < sl || strncasecmp(authz, scheme, sl) ||
	    (len > sl && authz[sl] != ' '))
		return EPROTO;

	authz += sl;
	len -= sl;
	while (len && *authz == ' ') {
		++authz;
		--len;
	}

	if (len != strlen(token) ||
	    mem_seccmp((const uint8_t *)authz, (const uint8_t *)token, len))
		return EACCES;

	return 0;
}


enum MHD_Result httpd_not_allowed(struct httpreq *rq, const char *allow)
{
	struct MHD_Response *resp;

	resp = httpd_resp_error("method not allowed", NULL);
	if (resp && MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW,
					    allow ? allow : "GET, HEAD")
	    != MHD_YES) {
		MHD_destroy_response(resp);
		resp = NULL;
	}

	return httpd_send(rq, 405, resp);
}
