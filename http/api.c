/**
 * @file api.c  /api/v1 (read side) and /healthz
 *
 * Every answer is printed from the live table or the call event log at
 * the moment of the request; nothing is cached, so a reload or a new call
 * shows up in the next request.  Calls come from core's event stream,
 * never from SIP state.  Changing the table through PUT and DELETE is
 * not offered yet: those methods get 405 (docs/api.md).
 */
#include <string.h>
#include <microhttpd.h>
#include <re.h>
#include "core/core.h"
#include "http/http_int.h"


/* Carries a printer through table_*_apply, which cannot return errors. */
struct pctx {
	struct re_printf *pf;
	struct httpreq *rq;
	int err;
	bool first;
};


static int sub_print(struct re_printf *pf, const struct subscriber *s)
{
	const uint64_t now = loop_now_ms();
	const char *pw = subscriber_password(s);
	int err;

	err = re_hprintf(pf, "{\"id\":%H,\"mode\":%H,\"cmrbt\":%H,"
			 "\"cmrt\":%H,\"password_set\":%s,\"contacts\":[",
			 jsonw_str, subscriber_id(s),
			 jsonw_str, cmr_mode_name(subscriber_mode(s)),
			 jsonw_str, subscriber_cmr(s, DIR_BT, NULL),
			 jsonw_str, subscriber_cmr(s, DIR_RT, NULL),
			 pw && *pw ? "true" : "false");

	for (unsigned i = 0; !err && i < subscriber_contact_count(s); i++)
		err = re_hprintf(pf, "%s%H", i ? "," : "", jsonw_str,
				 subscriber_contact(s, i));

	if (!err)
		err = re_hprintf(pf, "],\"bindings\":[");

	for (unsigned i = 0; !err && i < subscriber_binding_count(s); i++) {
		const struct binding *b = subscriber_binding(s, i);
		uint64_t left;

		if (!b)
			continue;

		/* Rounded up, so a binding that is still live never shows
		 * 0 s left. */
		left = b->expires > now ? (b->expires - now + 999) / 1000 : 0;

		err = re_hprintf(pf, "%s{\"uri\":%H,\"expires_in_s\":%llu}",
				 i ? "," : "", jsonw_str, b->uri,
				 (unsigned long long)left);
	}

	if (!err)
		err = re_hprintf(pf, "]}");

	return err;
}


static int res_print(struct re_printf *pf, const struct resource *r,
		     const char *base)
{
	char url[160];

	if (re_snprintf(url, sizeof(url), "%s/r/%s", base, r->id) < 0)
		return ENOMEM;

	return re_hprintf(pf, "{\"id\":%H,\"type\":%H,\"bytes\":%zu,"
			  "\"duration_ms\":%u,\"url\":%H}",
			  jsonw_str, r->id, jsonw_str, r->type, r->size,
			  r->duration_ms, jsonw_str, url);
}


static bool sub_apply(struct subscriber *s, void *arg)
{
	struct pctx *pc = arg;

	pc->err = re_hprintf(pc->pf, "%s%H", pc->first ? "" : ",",
			     sub_print, s);
	pc->first = false;

	return pc->err != 0;
}


static bool res_apply(struct resource *r, void *arg)
{
	struct pctx *pc = arg;

	if (!pc->first)
		pc->err = re_hprintf(pc->pf, ",");
	if (!pc->err)
		pc->err = res_print(pc->pf, r, httpd_req_base(pc->rq));
	pc->first = false;

	return pc->err != 0;
}


static int subs_print(struct re_printf *pf, struct httpreq *rq)
{
	struct pctx pc = { pf, rq, 0, true };
	const struct table *t = table_live();
	int err;

	err = re_hprintf(pf, "[");
	if (!err && t) {
		(void)table_subscriber_apply(t, sub_apply, &pc);
		err = pc.err;
	}

	return err ? err : re_hprintf(pf, "]");
}


static int ress_print(struct re_printf *pf, struct httpreq *rq)
{
	struct pctx pc = { pf, rq, 0, true };
	const struct table *t = table_live();
	int err;

	err = re_hprintf(pf, "[");
	if (!err && t) {
		(void)table_resource_apply(t, res_apply, &pc);
		err = pc.err;
	}

	return err ? err : re_hprintf(pf, "]");
}


/* One resource and the base of its URL, for one %H. */
struct resview {
	const struct resource *r;
	const char *base;
};


static int resview_print(struct re_printf *pf, const struct resview *v)
{
	return res_print(pf, v->r, v->base);
}


static enum MHD_Result healthz(struct httpreq *rq)
{
	char *body = NULL;

	if (str_dup(&body, "ok\n"))
		return httpd_send(rq, 500, NULL);

	return httpd_send(rq, 200, httpd_resp_mem(body, str_len(body),
						  "text/plain"));
}


/* Prints "%H\n" of a handler into a new string and answers it. */
static enum MHD_Result json_list(struct httpreq *rq,
				 int (*ph)(struct re_printf *pf,
					   struct httpreq *rq))
{
	char *body = NULL;
	int err;

	err = re_sdprintf(&body, "%H\n", ph, rq);

	return httpd_json(rq, 200, err, body);
}


enum MHD_Result api_handle(struct httpreq *rq, enum httpd_route route,
			   const char *id)
{
	const struct table *t = table_live();
	struct callrec *cr;
	char *body = NULL;
	int err;

	if (strcmp(rq->method, MHD_HTTP_METHOD_GET) && !rq->head)
		return httpd_not_allowed(rq);

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
			struct subscriber *s = NULL;

			if (t)
				s = table_subscriber(t, id);
			if (!s)
				return httpd_error(rq, 404,
						   "no such subscriber", "id");
			err = re_sdprintf(&body, "%H\n", sub_print, s);
			return httpd_json(rq, 200, err, body);
		}

	case ROUTE_RESS:
		return json_list(rq, ress_print);

	case ROUTE_RESX:
		{
			struct resview v = { NULL, httpd_req_base(rq) };

			if (t)
				v.r = table_resource(t, id);
			if (!v.r)
				return httpd_error(rq, 404,
						   "no such resource", "id");
			err = re_sdprintf(&body, "%H\n", resview_print, &v);
			return httpd_json(rq, 200, err, body);
		}

	default:
		return httpd_error(rq, 404, "not found", NULL);
	}
}
