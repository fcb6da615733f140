/**
 * @file page.c  GET /: the live page
 *
 * The page holds no data.  Its script fetches /api/v1/calls, the
 * subscribers, the resources and /metrics from the same origin every
 * second and shows them; so the page itself is served without the API's
 * token, and asks for the token when the API answers 401.  Everything it
 * shows goes in as text, never as markup, and the Content-Security-Policy
 * below keeps it from loading anything from another origin even if that
 * failed: inline script and style (the page is one document), fetches
 * and media from its own origin only, no frames, no base or form target;
 * images only as data: URLs, for the page's empty icon, which spares the
 * browser a request for /favicon.ico (a 404 here).
 */
#include <string.h>
#include <microhttpd.h>
#include <re.h>
#include "http/http_int.h"


static const char page_csp[] =
	"default-src 'self'; script-src 'unsafe-inline'; "
	"style-src 'unsafe-inline'; media-src 'self'; img-src data:; "
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'";


enum MHD_Result page_handle(struct httpreq *rq)
{
	static const struct {
		const char *name;
		const char *value;
	} hdrs[] = {
		{ MHD_HTTP_HEADER_CONTENT_TYPE,  "text/html; charset=utf-8" },
		{ MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache" },
		{ "Content-Security-Policy",     page_csp },
		{ "X-Content-Type-Options",      "nosniff" },
		{ "Referrer-Policy",             "no-referrer" },
	};
	struct MHD_Response *resp;

	if (strcmp(rq->method, MHD_HTTP_METHOD_GET) && !rq->head)
		return httpd_not_allowed(rq, NULL);

	/* The document is a constant: MHD sends it from where it is. */
	resp = MHD_create_response_from_buffer(page_html_len,
					       (void *)page_html,
					       MHD_RESPMEM_PERSISTENT);

	for (size_t i = 0; resp && i < ARRAY_SIZE(hdrs); i++) {
		if (MHD_add_response_header(resp, hdrs[i].name,
					    hdrs[i].value) != MHD_YES) {
			MHD_destroy_response(resp);
			resp = NULL;
		}
	}

	return httpd_send(rq, 200, resp);
}
