/**
 * @file metrics.c  /metrics: counters and gauges in the Prometheus text
 *                   exposition format (version 0.0.4)
 *
 * Printed from the live state at the moment of the request.  The figures
 * are kept where they happen (core/evlog.c for calls, rtp/streamer.c for
 * RTP, sip/sipstat.c for SIP messages, the server for HTTP); this file
 * only prints them.  Each family has its HELP and TYPE once, counters end
 * in _total, times are in seconds; label values go through
 * metrics_label_print() although today they all come from short fixed
 * lists.
 */
#include <string.h>
#include <microhttpd.h>
#include <re.h>
#include "core/core.h"
#include "sip/sip.h"
#include "rtp/rtp.h"
#include "http/http_int.h"


int metrics_label_print(struct re_printf *pf, const char *s)
{
	const char *p, *run;
	int err = 0;

	if (!s)
		return 0;

	/* The format escapes exactly these three in a label value. */
	for (run = p = s; *p && !err; p++) {
		const char *esc = *p == '\\' ? "\\\\" : *p == '"' ? "\\\"" :
			*p == '\n' ? "\\n" : NULL;

		if (!esc)
			continue;
		err |= pf->vph(run, (size_t)(p - run), pf->arg);
		err |= pf->vph(esc, 2, pf->arg);
		run = p + 1;
	}

	return err ? err : pf->vph(run, strlen(run), pf->arg);
}


static int family(struct mbuf *mb, const char *name, const char *type,
		  const char *help)
{
	return mbuf_printf(mb, "# HELP %s %s\n# TYPE %s %s\n", name, help,
			   name, type);
}


static int calls_print(struct mbuf *mb)
{
	const char *bt, *rt, *outcome;
	uint64_t n;
	int err;

	err = family(mb, "cmrlab_calls_total", "counter",
		     "Calls seen since start.");
	err |= mbuf_printf(mb, "cmrlab_calls_total %llu\n",
			   (unsigned long long)evlog_total_count());
	err |= family(mb, "cmrlab_calls_active", "gauge",
		      "Calls in progress.");
	err |= mbuf_printf(mb, "cmrlab_calls_active %u\n",
			   evlog_live_count());
	err |= family(mb, "cmrlab_calls_ended_total", "counter",
		      "Calls ended, by the mode of each direction and the"
		      " outcome.");

	for (unsigned i = 0; !err &&
		     evlog_ended_get(i, &bt, &rt, &outcome, &n); i++)
		err = mbuf_printf(mb, "cmrlab_calls_ended_total{mode_bt=\"%H\","
				  "mode_rt=\"%H\",outcome=\"%H\"} %llu\n",
				  metrics_label_print, bt,
				  metrics_label_print, rt,
				  metrics_label_print, outcome,
				  (unsigned long long)n);

	err |= family(mb, "cmrlab_sip_shed_total", "counter",
		      "INVITEs answered 503 by load shedding.");
	err |= mbuf_printf(mb, "cmrlab_sip_shed_total %llu\n",
			   (unsigned long long)evlog_shed_count());

	return err;
}


static int sip_print(struct mbuf *mb)
{
	static const char *dir[2] = { "in", "out" };
	int err;

	err = family(mb, "cmrlab_sip_requests_total", "counter",
		     "SIP requests received (in) and sent (out), by method.");
	for (int tx = 0; tx < 2; tx++) {
		for (unsigned m = 0; !err && m < SIPSTAT_METHODS; m++)
			err = mbuf_printf(mb, "cmrlab_sip_requests_total"
					  "{direction=\"%s\",method=\"%H\"}"
					  " %llu\n", dir[tx],
					  metrics_label_print,
					  sipstat_method_name(m),
					  (unsigned long long)
					  sipstat_requests(tx, m));
	}

	/* Only the codes that occurred: 600 series would mostly be 0. */
	err |= family(mb, "cmrlab_sip_responses_total", "counter",
		      "SIP responses received (in) and sent (out), by status"
		      " code.");
	for (int tx = 0; tx < 2; tx++) {
		for (uint16_t c = 100; !err && c < 700; c++) {
			uint64_t n = sipstat_responses(tx, c);

			if (n)
				err = mbuf_printf(mb,
					"cmrlab_sip_responses_total"
					"{direction=\"%s\",code=\"%u\"} %llu\n",
					dir[tx], c, (unsigned long long)n);
		}
	}

	return err;
}


static int http_print(struct mbuf *mb, const struct httpd *h)
{
	static const char *cls[HTTPD_CLASSES] = {
		NULL, "1xx", "2xx", "3xx", "4xx", "5xx"
	};
	int err;

	err = family(mb, "cmrlab_http_requests_total", "counter",
		     "HTTP requests answered, by status class.");
	for (int i = 1; !err && i < HTTPD_CLASSES; i++)
		err = mbuf_printf(mb, "cmrlab_http_requests_total"
				  "{code=\"%s\"} %llu\n", cls[i],
				  (unsigned long long)h->reqs[i]);

	err |= family(mb, "cmrlab_downloads_total", "counter",
		      "Resource requests (/r/ID) answered, by status code.");
	for (unsigned i = 0; !err && i < HTTPD_DL_CODES; i++) {
		if (h->dl[i])
			err = mbuf_printf(mb, "cmrlab_downloads_total"
					  "{code=\"%u\"} %llu\n", i + 100,
					  (unsigned long long)h->dl[i]);
	}

	err |= family(mb, "cmrlab_download_bytes_total", "counter",
		      "Body bytes of the resource answers.");
	err |= mbuf_printf(mb, "cmrlab_download_bytes_total %llu\n",
			   (unsigned long long)h->dl_bytes);

	return err;
}


static int rest_print(struct mbuf *mb)
{
	const struct table *t = table_live();
	struct streamer_totals rt;
	uint32_t lag = loop_lag_ms();
	int err;

	streamer_totals_get(&rt);

	err = family(mb, "cmrlab_rtp_streams_active", "gauge",
		     "RTP streams sending now (AS and gateway modes).");
	err |= mbuf_printf(mb, "cmrlab_rtp_streams_active %u\n", rt.running);
	err |= family(mb, "cmrlab_rtp_packets_sent_total", "counter",
		      "RTP packets sent by the streams.");
	err |= mbuf_printf(mb, "cmrlab_rtp_packets_sent_total %llu\n",
			   (unsigned long long)rt.packets);

	err |= family(mb, "cmrlab_loop_lag_seconds", "gauge",
		      "How late the event loop runs its timers.");
	err |= mbuf_printf(mb, "cmrlab_loop_lag_seconds %u.%03u\n",
			   lag / 1000, lag % 1000);

	err |= family(mb, "cmrlab_subscribers", "gauge",
		      "Subscribers in the table.");
	err |= mbuf_printf(mb, "cmrlab_subscribers %u\n",
			   t ? table_subscriber_count(t) : 0);
	err |= family(mb, "cmrlab_resources", "gauge",
		      "Resources in the table.");
	err |= mbuf_printf(mb, "cmrlab_resources %u\n",
			   t ? table_resource_count(t) : 0);

	return err;
}


enum MHD_Result metrics_handle(struct httpreq *rq)
{
	struct mbuf *mb;
	char *body = NULL;
	int err;

	mb = mbuf_alloc(4096);
	if (!mb)
		return httpd_send(rq, 500, NULL);

	err  = calls_print(mb);
	err |= http_print(mb, rq->h);
	err |= sip_print(mb);
	err |= rest_print(mb);

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
