/**
 * @file api.c  /api/v1: routing by method, the read side, and /healthz
 *
 * Every answer is made from the live table or the call event log at the
 * moment of the request; nothing is cached, so a reload, an API change or
 * a new call shows up in the next request.  Subscribers and resources are
 * built as libre odicts and printed by its JSON encoder; calls come from
 * core's event stream, never from SIP state.  PUT and DELETE are in
 * api_put.c.
 */
#include <string.h>
#include <microhttpd.h>
#include <re.h>
#include "core/core.h"
#include "core/urlsign.h"
#include "http/http_int.h"


enum {
	HASH_SIZE = 16,
	SUB_BODY_MAX = 64 << 10,        /* a subscriber's JSON */
};

#define RES_BODY_MAX ((size_t)64 << 20)   /* a resource's bytes */

static const char ALLOW_ITEM[] = "GET, HEAD, PUT, DELETE";


/* ---- JSON of the table -------------------------------------------------- */

int api_sub_encode(struct odict *o, const struct subscriber *s)
{
	const uint64_t now = loop_now_ms();
	struct odict *arr = NULL;
	int err;

	err = state_spec_encode(o, s, false);
	if (!err)
		err = odict_alloc(&arr, HASH_SIZE);

	for (unsigned i = 0; !err && i < subscriber_binding_count(s); i++) {
		const struct binding *b = subscriber_binding(s, i);
		struct odict *bo = NULL;
		uint64_t left;

		if (!b)
			continue;

		/* Rounded up, so a binding that is still live never shows
		 * 0 s left. */
		left = b->expires > now ? (b->expires - now + 999) / 1000 : 0;

		err = odict_alloc(&bo, 4);
		if (err)
			break;
		err |= odict_entry_add(bo, "uri", ODICT_STRING, b->uri);
		err |= odict_entry_add(bo, "expires_in_s", ODICT_INT,
				       (int64_t)left);
		err |= jsonw_arr_obj(arr, bo);
		mem_deref(bo);
	}

	if (!err)
		err = odict_entry_add(o, "bindings", ODICT_ARRAY, arr);
	mem_deref(arr);

	return err ? ENOMEM : 0;
}


/*
 * A listener off loopback serves an unsigned /r/ID only to those with the
 * API's token, which a browser's audio player cannot send: there the
 * "url" is signed, for no call, valid as long as a call's URL would be
 * (urlsign.h), so that what the API shows can be played.
 */
int api_res_encode(struct odict *o, const struct resource *r,
		   const char *base, bool sign)
{
	char url[320], sig[URLSIGN_HEX + 1];
	uint64_t exp;
	int err = 0;

	if (sign) {
		exp = urlsign_expiry(0);
		err = urlsign_sign(sig, sizeof(sig), r->id, "", exp);
		if (err)
			return err;
		if (re_snprintf(url, sizeof(url), "%s/r/%s?call=&exp=%llu"
				"&sig=%s", base, r->id,
				(unsigned long long)exp, sig) < 0)
			return ENOMEM;
	}
	else if (re_snprintf(url, sizeof(url), "%s/r/%s", base, r->id) < 0) {
		return ENOMEM;
	}

	err |= odict_entry_add(o, "id", ODICT_STRING, r->id);
	err |= odict_entry_add(o, "type", ODICT_STRING, r->type);
	err |= odict_entry_add(o, "bytes", ODICT_INT, (int64_t)r->size);
	err |= odict_entry_add(o, "duration_ms", ODICT_INT,
			       (int64_t)r->duration_ms);
	err |= odict_entry_add(o, "url", ODICT_STRING, url);

	return err ? ENOMEM : 0;
}


/* A JSON array printed from a list of objects, each made by its own
 * odict (libre's encoder prints an object, never a bare array). */
struct listctx {
	struct re_printf *pf;
	const char *base;
	bool sign;
	bool first;
	int err;
};


static int item_print(struct listctx *lc, struct odict *o)
{
	int err;

	err = re_hprintf(lc->pf, "%s%H", lc->first ? "" : ",",
			 json_encode_odict, o);
	lc->first = false;

	return err;
}


static bool sub_item(struct subscriber *s, void *arg)
{
	struct listctx *lc = arg;
	struct odict *o = NULL;

	lc->err = odict_alloc(&o, HASH_SIZE);
	if (!lc->err)
		lc->err = api_sub_encode(o, s);
	if (!lc->err)
		lc->err = item_print(lc, o);
	mem_deref(o);

	return lc->err != 0;
}


static bool res_item(struct resource *r, void *arg)
{
	struct listctx *lc = arg;
	struct odict *o = NULL;

	lc->err = odict_alloc(&o, HASH_SIZE);
	if (!lc->err)
		lc->err = api_res_encode(o, r, lc->base, lc->sign);
	if (!lc->err)
		lc->err = item_print(lc, o);
	mem_deref(o);

	return lc->err != 0;
}


static int subs_print(struct re_printf *pf, struct httpreq *rq)
{
	struct listctx lc = { pf, httpd_req_base(rq), false, true, 0 };
	const struct table *t = table_live();
	int err;

	err = re_hprintf(pf, "[");
	if (!err && t) {
		(void)table_subscriber_apply(t, sub_item, &lc);
		err = lc.err;
	}

	return err ? err : re_hprintf(pf, "]\n");
}


static int ress_print(struct re_printf *pf, struct httpreq *rq)
{
	struct listctx lc = { pf, httpd_req_base(rq),
			      !httpd_loopback(rq->h), true, 0 };
	const struct table *t = table_live();
	int err;

	err = re_hprintf(pf, "[");
	if (!err && t) {
		(void)table_resource_apply(t, res_item, &lc);
		err = lc.err;
	}

	return err ? err : re_hprintf(pf, "]\n");
}


/* Prints a handler into a new string and answers it. */
static enum MHD_Result json_list(struct httpreq *rq,
				 int (*ph)(struct re_printf *pf,
					   struct httpreq *rq))
{
	char *body = NULL;
	int err;

	err = re_sdprintf(&body, "%H", ph, rq);

	return httpd_json(rq, 200, err, body);
}


enum MHD_Result api_sub_answer(struct httpreq *rq, unsigned code,
			       const struct subscriber *s)
{
	struct MHD_Response *resp = NULL;
	struct odict *o = NULL;

	if (!odict_alloc(&o, HASH_SIZE) && !api_sub_encode(o, s))
		resp = httpd_resp_odict(o);
	mem_deref(o);

	return httpd_send(rq, resp ? code : 500, resp ? resp :
			  httpd_resp_mem(NULL, 0, NULL));
}


struct MHD_Response *api_res_resp(const struct resource *r,
				  const char *base, bool sign)
{
	struct MHD_Response *resp = NULL;
	struct odict *o = NULL;

	if (!odict_alloc(&o, HASH_SIZE) && !api_res_encode(o, r, base, sign))
		resp = httpd_resp_odict(o);
	mem_deref(o);

	return resp;
}


/* ---- routing ------------------------------------------------------------ */

static enum MHD_Result healthz(struct httpreq *rq)
{
	char *body = NULL;

	if (str_dup(&body, "ok\n"))
		return httpd_send(rq, 500, NULL);

	return httpd_send(rq, 200, httpd_resp_mem(body, str_len(body),
						  "text/plain"));
}


static bool changes(const struct httpreq *rq)
{
	return !strcmp(rq->method, MHD_HTTP_METHOD_PUT) ||
		!strcmp(rq->method, MHD_HTTP_METHOD_DELETE);
}


size_t api_body_max(const struct httpreq *rq)
{
	if (!rq->h->state)
		return 0;

	switch (rq->route) {

	case ROUTE_SUB:
		return SUB_BODY_MAX;

	case ROUTE_RESX:
		return strcmp(rq->method, MHD_HTTP_METHOD_PUT) ?
			SUB_BODY_MAX : RES_BODY_MAX;

	default:
		return 0;
	}
}


static enum MHD_Result get_handle(struct httpreq *rq, enum httpd_route route,
				  const char *id)
{
	const struct table *t = table_live();
	struct callrec *cr;
	char *body = NULL;
	int err;

	switch (route) {

	case ROUTE_HEALTHZ:
		return healthz(rq);

	case ROUTE_METRICS:
		return metrics_handle(rq);

	case ROUTE_CALLS:
		err = re_sdprintf(&body, "%H\n", evlog_calls_print, NULL);
		return httpd_json(rq, 200, err, body);

	case ROUTE_CALL:
		cr = evlog_call_find(id);
		if (!cr)
			return httpd_error(rq, 404, "no such call", "id");
		err = re_sdprintf(&body, "%H\n", evlog_call_print, cr);
		return httpd_json(rq, 200, err, body);

	case ROUTE_SUBS:
		return json_list(rq, subs_print);

	case ROUTE_SUB:
		{
			struct subscriber *s = t ? table_subscriber(t, id) :
				NULL;

			if (!s)
				return httpd_error(rq, 404,
						   "no such subscriber", "id");
			return api_sub_answer(rq, 200, s);
		}

	case ROUTE_RESS:
		return json_list(rq, ress_print);

	case ROUTE_RESX:
		{
			struct resource *r = t ? table_resource(t, id) : NULL;

			if (!r)
				return httpd_error(rq, 404,
						   "no such resource", "id");
			return httpd_send(rq, 200, api_res_resp(
						  r, httpd_req_base(rq),
						  !httpd_loopback(rq->h)));
		}

	default:
		return httpd_error(rq, 404, "not found", NULL);
	}
}


enum MHD_Result api_handle(struct httpreq *rq, enum httpd_route route,
			   const char *id)
{
	bool item = route == ROUTE_SUB || route == ROUTE_RESX;

	if (!strcmp(rq->method, MHD_HTTP_METHOD_GET) || rq->head)
		return get_handle(rq, route, id);

	/* A request with a body comes here only once it has been read
	 * (httpd.c); the collections and calls take no changes. */
	if (item && rq->h->state && changes(rq) && rq->ctx)
		return api_change(rq, route, id);

	return httpd_not_allowed(rq, item && rq->h->state ? ALLOW_ITEM :
				 NULL);
}
