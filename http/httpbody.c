/**
 * @file httpbody.c  Requests with a body (PUT, DELETE) and answers that
 *                   come later
 *
 * A PUT or DELETE of a route that takes one is read to the end into a
 * context of its own (up to the most the route takes, else 413), then
 * handed to its handler.  A handler with work off the loop defers: the
 * connection is suspended (MHD_suspend_connection) until httpd_answer()
 * resumes it with the answer, which access_h then queues.  The context is
 * MHD's con_cls and goes when MHD completes the request.
 */
#include <stdlib.h>
#include <string.h>
#include <microhttpd.h>
#include <re.h>
#include "core/core.h"
#include "http/http_int.h"


static void ctx_destructor(void *arg)
{
	struct httpctx *ctx = arg;

	list_unlink(&ctx->le);
	/* The work first: mem_deref of a running job joins its thread. */
	ctx->pend = mem_deref(ctx->pend);
	mem_deref(ctx->body);
	if (ctx->resp)
		MHD_destroy_response(ctx->resp);
}


/* What a request without a context of its own has as MHD's con_cls
 * after the first call. */
static int seen;


void *httpd_seen(void)
{
	return &seen;
}


void httpd_completed(void *cls, struct MHD_Connection *conn,
		     void **con_cls, enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)conn;
	(void)toe;

	if (*con_cls && *con_cls != &seen)
		mem_deref(*con_cls);
	*con_cls = NULL;
}


enum MHD_Result httpd_defer(struct httpreq *rq, void *pend)
{
	struct httpctx *ctx = rq->ctx;

	if (!ctx || ctx->waiting) {
		mem_deref(pend);
		return httpd_send(rq, 500, httpd_resp_mem(NULL, 0, NULL));
	}
	if (rq->h->stopping) {
		mem_deref(pend);
		return httpd_error(rq, 503, "the server is stopping", NULL);
	}

	ctx->pend = pend;
	ctx->waiting = true;
	MHD_suspend_connection(ctx->conn);

	return MHD_YES;
}


void httpd_answer(struct httpctx *ctx, unsigned code,
		  struct MHD_Response *resp)
{
	if (!ctx || !ctx->waiting || ctx->ready) {
		if (resp)
			MHD_destroy_response(resp);
		return;
	}

	ctx->code = code;
	ctx->resp = resp;
	ctx->ready = true;
	/* MHD calls access_h again, which queues the answer, on its next
	 * run; the resume itself wakes nothing here, and MHD_get_timeout()
	 * does not know of it until then: idle_h runs MHD at once. */
	MHD_resume_connection(ctx->conn);
	ctx->h->resumed = true;
}


const uint8_t *httpd_body(const struct httpreq *rq, size_t *lenp)
{
	const struct httpctx *ctx = rq->ctx;

	*lenp = ctx && ctx->body ? ctx->body->end : 0;

	return *lenp ? ctx->body->buf : NULL;
}


/* The first call of a PUT or DELETE of a route that takes one: false
 * when the route takes none (answered at once), else true with *retp:
 * refused (413), or to be read to the end into a context of its own. */
bool httpd_body_begin(struct httpreq *rq, void **con_cls,
		      enum MHD_Result *retp)
{
	struct httpctx *ctx;
	const char *cl;
	size_t max;

	max = api_body_max(rq);
	if (!max)
		return false;

	cl = MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND,
					 MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl && *cl && strspn(cl, "0123456789") == strlen(cl) &&
	    (strlen(cl) > 19 || strtoull(cl, NULL, 10) > max)) {
		*retp = httpd_error(rq, 413, "the body is too large", "body");
		return true;
	}

	ctx = mem_zalloc(sizeof(*ctx), ctx_destructor);
	if (!ctx) {
		*retp = MHD_NO;
		return true;
	}

	ctx->h = rq->h;
	ctx->conn = rq->conn;
	ctx->max = max;
	list_append(&rq->h->ctxl, &ctx->le, ctx);
	*con_cls = ctx;
	*retp = MHD_YES;

	return true;
}


int httpd_body_add(struct httpctx *ctx, const char *p, size_t n)
{
	if (ctx->too_big)
		return 0;

	if ((ctx->body ? ctx->body->end : 0) + n > ctx->max) {
		ctx->too_big = true;
		ctx->body = mem_deref(ctx->body);
		return 0;
	}

	if (!ctx->body) {
		ctx->body = mbuf_alloc(n > 4096 ? n : 4096);
		if (!ctx->body)
			return ENOMEM;
	}

	return mbuf_write_mem(ctx->body, (const uint8_t *)p, n);
}


bool httpd_ctx_stop(struct httpd *h)
{
	bool resumed = false;
	struct le *le;

	/* A suspended request cannot be stopped: its work is cancelled (and
	 * its thread joined) and it is resumed with a 503.  No request may
	 * be deferred from here on: MHD_stop_daemon() aborts the process
	 * when it finds a connection still suspended. */
	h->stopping = true;
	LIST_FOREACH(&h->ctxl, le) {
		struct httpctx *ctx = le->data;

		/* Not deferred, or its answer already queued. */
		if (!ctx->waiting || (ctx->ready && !ctx->resp))
			continue;
		resumed = true;
		if (ctx->ready)
			continue;
		ctx->pend = mem_deref(ctx->pend);
		ctx->ready = true;
		ctx->code = 503;
		ctx->resp = httpd_resp_error("the server is stopping", NULL);
		MHD_resume_connection(ctx->conn);
	}

	return resumed;
}
