/**
 * @file metrics.c  /metrics: counters and gauges in the Prometheus text
 *                   exposition format (version 0.0.4)
 *
 * Printed from the live state at the moment of the request.
 */
#include <string.h>
#include <microhttpd.h>
#include <re.h>
#include "core/core.h"
#include "http/http_int.h"


enum MHD_Result metrics_handle(struct httpreq *rq)
{
	static const char *cls[HTTPD_CLASSES] = {
		NULL, "1xx", "2xx", "3xx", "4xx", "5xx"
	};
	const struct table *t = table_live();
	struct mbuf *mb;
	char *body = NULL;
	int err;

	mb = mbuf_alloc(1024);
	if (!mb)
		return httpd_send(rq, 500, NULL);

	err = mbuf_printf(mb,
		"# HELP cmrlab_calls_total Calls seen since start.\n"
		"# TYPE cmrlab_calls_total counter\n"
		"cmrlab_calls_total %llu\n"
		"# HELP cmrlab_calls_active Calls in progress.\n"
		"# TYPE cmrlab_calls_active gauge\n"
		"cmrlab_calls_active %u\n"
		"# HELP cmrlab_sip_shed_total INVITEs answered 503 by load"
		" shedding.\n"
		"# TYPE cmrlab_sip_shed_total counter\n"
		"cmrlab_sip_shed_total %llu\n"
		"# HELP cmrlab_http_requests_total HTTP requests answered,"
		" by status class.\n"
		"# TYPE cmrlab_http_requests_total counter\n",
		(unsigned long long)evlog_total_count(), evlog_live_count(),
		(unsigned long long)evlog_shed_count());

	for (int i = 1; !err && i < HTTPD_CLASSES; i++)
		err = mbuf_printf(mb,
				  "cmrlab_http_requests_total{code=\"%s\"} "
				  "%llu\n", cls[i],
				  (unsigned long long)rq->h->reqs[i]);

	if (!err)
		err = mbuf_printf(mb,
			"# HELP cmrlab_subscribers Subscribers in the table.\n"
			"# TYPE cmrlab_subscribers gauge\n"
			"cmrlab_subscribers %u\n"
			"# HELP cmrlab_resources Resources in the table.\n"
			"# TYPE cmrlab_resources gauge\n"
			"cmrlab_resources %u\n",
			t ? table_subscriber_count(t) : 0,
			t ? table_resource_count(t) : 0);

	if (!err) {
		mb->pos = 0;
		err = mbuf_strdup(mb, &body, mb->end);
	}
	mem_deref(mb);

	if (err) {
		mem_deref(body);
		return httpd_send(rq, 500, NULL);
	}

	return httpd_send(rq, 200, httpd_resp_mem(body, str_len(body),
				"text/plain; version=0.0.4; charset=utf-8"));
}
