/**
 * @file httpd.c  libmicrohttpd on the libevent loop, and routing
 *
 * The daemon runs in MHD's "external event loop" epoll mode: MHD keeps
 * its sockets in an epoll set of its own and exposes that set's fd.  The
 * fd becomes readable whenever any of MHD's sockets has work, so one
 * persistent read event on the loop is enough to drive every connection.
 * MHD also has timeouts (idle connections) and work it has already read
 * but not yet processed; MHD_get_timeout() reports both, and after every
 * loop iteration an idle handler re-arms one timer from it.  No thread is
 * started, so request handlers run on the loop like everything else.
 * Responses are made in httpresp.c; bodies and deferred answers are in
 * httpbody.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <event2/event.h>
#include <microhttpd.h>
#include <re.h>
#include "core/core.h"
#include "http/http.h"
#include "http/http_int.h"

enum {
	CONN_TIMEOUT_S = 30,
	CONN_LIMIT     = 1000,
	STOP_RUNS      = 4,       /* MHD runs that answer deferred requests */
};


/* libmicrohttpd formats its own messages; they arrive here with a newline
 * that the log sink adds itself. */
static void mhd_log(void *cls, const char *fm, va_list ap)
{
	char buf[512];
	size_t n;
	(void)cls;

	vsnprintf(buf, sizeof(buf), fm, ap);

	n = strlen(buf);
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';

	LOGW(SUB_HTTP, "libmicrohttpd: %s", buf);
}


static void mhd_run(struct httpd *h)
{
	if (MHD_run(h->mhd) != MHD_YES)
		LOGW(SUB_HTTP, "MHD_run failed");
}


static void watch_h(void *arg)
{
	mhd_run(arg);
}


static void tmr_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;

	mhd_run(arg);
}


/*
 * Runs after every loop iteration.  MHD_get_timeout() answers 0 when MHD
 * holds work it cannot signal through the epoll fd (data already read
 * into a connection's buffer, say), so the timer also serves as "run again
 * at once".
 */
static void idle_h(void *arg)
{
	struct httpd *h = arg;
	MHD_UNSIGNED_LONG_LONG ms;
	struct timeval tv;

	if (h->resumed) {
		h->resumed = false;
		ms = 0;
	}
	else if (MHD_get_timeout(h->mhd, &ms) != MHD_YES) {
		evtimer_del(h->tmr);
		return;
	}

	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)((ms % 1000) * 1000);
	evtimer_add(h->tmr, &tv);
}


enum httpd_route httpd_route_parse(const char *url, const char **idp)
{
	static const struct {
		const char *prefix;
		enum httpd_route list;
		enum httpd_route item;
	} api[] = {
		{ "/api/v1/calls",       ROUTE_CALLS, ROUTE_CALL },
		{ "/api/v1/subscribers", ROUTE_SUBS,  ROUTE_SUB  },
		{ "/api/v1/resources",   ROUTE_RESS,  ROUTE_RESX },
	};

	*idp = NULL;

	if (!url)
		return ROUTE_NONE;

	if (!strcmp(url, "/"))
		return ROUTE_PAGE;
	if (!strncmp(url, "/r/", 3)) {
		*idp = url + 3;
		return ROUTE_RES;
	}
	if (!strcmp(url, "/healthz"))
		return ROUTE_HEALTHZ;
	if (!strcmp(url, "/metrics"))
		return ROUTE_METRICS;

	for (size_t i = 0; i < ARRAY_SIZE(api); i++) {
		size_t n = strlen(api[i].prefix);

		if (strncmp(url, api[i].prefix, n))
			continue;
		if (url[n] == '\0')
			return api[i].list;
		if (url[n] == '/' && url[n + 1] != '\0') {
			*idp = url + n + 1;
			return api[i].item;
		}
	}

	return ROUTE_NONE;
}


/* 401 with the challenge of RFC 6750 section 3 and a JSON body that says
 * what was wrong; the log names the client. */
static enum MHD_Result unauthorized(struct httpreq *rq, int why)
{
	const union MHD_ConnectionInfo *ci;
	struct MHD_Response *resp;
	const char *msg;
	struct sa peer;

	switch (why) {

	case ENOENT:
		msg = "the API needs Authorization: Bearer TOKEN";
		break;

	case EPROTO:
		msg = "Authorization is not a Bearer token";
		break;

	default:
		msg = "wrong token";
		break;
	}

	ci = MHD_get_connection_info(rq->conn,
				     MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	sa_init(&peer, AF_UNSPEC);
	if (ci && ci->client_addr)
		(void)sa_set_sa(&peer, ci->client_addr);
	LOGI(SUB_HTTP, "%s %s from %J: 401, %s", rq->method, rq->url, &peer,
	     msg);

	resp = httpd_resp_error(msg, "authorization");
	if (resp && MHD_add_response_header(resp,
					    MHD_HTTP_HEADER_WWW_AUTHENTICATE,
					    "Bearer realm=\"cmrlab\"")
	    != MHD_YES) {
		MHD_destroy_response(resp);
		resp = NULL;
	}

	return httpd_send(rq, 401, resp);
}


/* /api and everything under it: the routes of api.c that change or show
 * the table and the calls, and any path a later version adds there. */
static bool api_path(const char *url)
{
	return !strncmp(url, "/api", 4) &&
		(url[4] == '\0' || url[4] == '/');
}


/*
 * MHD calls this once when the headers are in and again for the body.
 * GET and HEAD are answered on the last call, when the request is
 * complete: a response queued earlier makes MHD close the connection,
 * and clients fetching a resource and then its ranges should keep it.
 * One exception: "Expect: 100-continue" on a request without a body
 * (which RFC 9110 section 10.1.1 forbids the client to send).  MHD
 * 0.9.75 answers it with "100 Continue" and, if more bytes are already
 * in its buffer, calls again in a state where it refuses any response,
 * then closes with none.  Such a request is answered on the first call,
 * in place of the 100, and the connection closes after it.
 * PUT and DELETE of the API's subscribers and resources are read to the
 * end (up to the most their route takes, else 413) and then answered,
 * at once or, when the handler defers, once its work is done.  Every
 * other method is answered at once, before any body is read: closing is
 * the right end for an upload nobody asked for.
 */
/* An Expect header on a request that announces no body (RFC 9112
 * section 6.3): answered on the first call (see below). */
static bool expect_without_body(struct MHD_Connection *conn)
{
	const char *cl;

	if (!MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
					 MHD_HTTP_HEADER_EXPECT) ||
	    MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
					MHD_HTTP_HEADER_TRANSFER_ENCODING))
		return false;

	cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
					 MHD_HTTP_HEADER_CONTENT_LENGTH);

	return !cl || strspn(cl, "0") == strlen(cl);
}


static enum MHD_Result access_h(void *cls, struct MHD_Connection *conn,
				const char *url, const char *method,
				const char *version, const char *upload,
				size_t *upload_size, void **con_cls)
{
	struct httpreq rq;
	enum httpd_route route;
	const char *id;
	bool getlike, bodied;
	(void)version;

	getlike = !strcmp(method, MHD_HTTP_METHOD_GET) ||
		!strcmp(method, MHD_HTTP_METHOD_HEAD);
	bodied = !strcmp(method, MHD_HTTP_METHOD_PUT) ||
		!strcmp(method, MHD_HTTP_METHOD_DELETE);

	memset(&rq, 0, sizeof(rq));
	rq.h = cls;
	rq.conn = conn;
	rq.method = method;
	rq.url = url;
	rq.head = !strcmp(method, MHD_HTTP_METHOD_HEAD);
	if (*con_cls && *con_cls != httpd_seen())
		rq.ctx = *con_cls;

	if (rq.ctx) {
		struct httpctx *ctx = rq.ctx;

		if (ctx->ready) {
			enum MHD_Result ret = httpd_send(&rq, ctx->code,
							 ctx->resp);

			ctx->resp = NULL;
			return ret;
		}
		if (ctx->waiting)
			return MHD_YES;
		if (*upload_size) {
			if (httpd_body_add(ctx, upload, *upload_size))
				return MHD_NO;
			*upload_size = 0;
			return MHD_YES;
		}
		if (ctx->too_big)
			return httpd_error(&rq, 413, "the body is too large",
					   "body");
	}
	else if (!*con_cls) {
		*con_cls = httpd_seen();
		if (getlike && !expect_without_body(conn))
			return MHD_YES;
	}
	else if (*upload_size) {
		/* A body sent with GET means nothing here; drop it. */
		*upload_size = 0;
		return MHD_YES;
	}

	/* With a token, the API answers only those who show it, whatever
	 * they ask for: 401 before 404 or 405.  /healthz, /metrics and the
	 * resources that phones fetch from Alert-Info URLs stay open. */
	if (!rq.ctx && rq.h->token && api_path(url)) {
		int why = httpd_auth_check(
			MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
				MHD_HTTP_HEADER_AUTHORIZATION),
			rq.h->token);

		if (why)
			return unauthorized(&rq, why);
	}

	route = httpd_route_parse(url, &id);
	rq.route = route;
	rq.id = id;

	/* The first call of a PUT or DELETE that the route takes: read the
	 * body first. */
	if (bodied && !rq.ctx) {
		enum MHD_Result ret;

		if (httpd_body_begin(&rq, con_cls, &ret))
			return ret;
	}

	switch (route) {

	case ROUTE_NONE:
		return httpd_error(&rq, 404, "not found", NULL);

	case ROUTE_RES:
		return resreq_handle(&rq, id);

	case ROUTE_PAGE:
		return page_handle(&rq);

	default:
		return api_handle(&rq, route, id);
	}
}


static void destructor(void *arg)
{
	struct httpd *h = arg;

	loop_idle_remove(idle_h, h);

	/* The watch goes before the daemon: stopping MHD closes the epoll
	 * fd, and libevent must forget it while it is still open. */
	h->watch = mem_deref(h->watch);

	if (h->tmr)
		event_free(h->tmr);

	/* MHD_stop_daemon() closes a resumed connection without calling
	 * access_h again, so its answer (the 503, or the one its work gave
	 * just before the stop) would never leave: MHD runs a few times
	 * first (each run is non-blocking), which queues the answers and
	 * writes them. */
	if (httpd_ctx_stop(h)) {
		for (int i = 0; h->mhd && i < STOP_RUNS; i++)
			(void)MHD_run(h->mhd);
	}

	if (h->mhd)
		MHD_stop_daemon(h->mhd);

	list_flush(&h->ctxl);

	mem_deref(h->token);
}


static int url_make(struct httpd *h)
{
	const struct sa *a = sa_isset(&h->adv, SA_ADDR) ? &h->adv : &h->laddr;
	char addr[64];
	int n;

	if (sa_ntop(a, addr, sizeof(addr)))
		return EINVAL;

	if (sa_af(a) == AF_INET6)
		n = re_snprintf(h->url, sizeof(h->url), "http://[%s]:%u",
				addr, sa_port(&h->laddr));
	else
		n = re_snprintf(h->url, sizeof(h->url), "http://%s:%u",
				addr, sa_port(&h->laddr));

	return n < 0 ? ENOMEM : 0;
}


int httpd_advertise(struct httpd *h, const struct sa *ip)
{
	if (!h || !ip || !sa_isset(ip, SA_ADDR))
		return EINVAL;

	sa_cpy(&h->adv, ip);

	return url_make(h);
}


void httpd_served_set(struct httpd *h, httpd_served_h *sh, void *arg)
{
	if (!h)
		return;
	h->servedh = sh;
	h->served_arg = arg;
}


int httpd_state_set(struct httpd *h, struct state *st, reload_prep_h *prep,
		    void *prep_arg)
{
	if (!h)
		return EINVAL;

	h->state = st;
	h->prep = prep;
	h->prep_arg = prep_arg;

	return 0;
}


int httpd_token_set(struct httpd *h, const char *token)
{
	char *t = NULL;
	int err;

	if (!h)
		return EINVAL;

	if (token && *token) {
		err = str_dup(&t, token);
		if (err)
			return err;
	}

	mem_deref(h->token);
	h->token = t;

	return 0;
}


/* 127.0.0.0/8 and ::1: only this host can reach the listener. */
bool httpd_loopback(const struct httpd *h)
{
	const struct sa *sa = &h->laddr;
	static const uint8_t one[16] = { [15] = 1 };
	uint8_t a6[16];

	if (sa_af(sa) == AF_INET)
		return (sa_in(sa) >> 24) == 127;

	if (sa_af(sa) == AF_INET6) {
		sa_in6(sa, a6);
		return !memcmp(a6, one, sizeof(a6));
	}

	return false;
}


const char *httpd_req_base(struct httpreq *rq)
{
	const union MHD_ConnectionInfo *ci;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct sa local;

	if (rq->base[0])
		return rq->base;

	/* A listener on the unspecified address: the connection's own
	 * local address is the one the client reached us on. */
	if (!sa_isset(&rq->h->adv, SA_ADDR) &&
	    !sa_isset(&rq->h->laddr, SA_ADDR) &&
	    (ci = MHD_get_connection_info(rq->conn,
					  MHD_CONNECTION_INFO_CONNECTION_FD)) &&
	    !getsockname(ci->connect_fd, (struct sockaddr *)&ss, &len) &&
	    !sa_set_sa(&local, (struct sockaddr *)&ss) &&
	    re_snprintf(rq->base, sizeof(rq->base), "http://%J", &local) > 0)
		return rq->base;

	(void)re_snprintf(rq->base, sizeof(rq->base), "%s", rq->h->url);

	return rq->base;
}


int httpd_alloc(struct httpd **hp, const struct sa *laddr)
{
	const union MHD_DaemonInfo *info;
	unsigned int flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG |
		MHD_ALLOW_SUSPEND_RESUME;
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	struct httpd *h;
	int fd, err;

	/* 0.0.0.0 or :: listens on every local address. */
	if (!hp || !laddr || (sa_af(laddr) != AF_INET &&
			      sa_af(laddr) != AF_INET6) || !loop_base())
		return EINVAL;

	h = mem_zalloc(sizeof(*h), destructor);
	if (!h)
		return ENOMEM;

	if (sa_af(laddr) == AF_INET6)
		flags |= MHD_USE_IPv6;

	errno = 0;
	h->mhd = MHD_start_daemon(flags, sa_port(laddr), NULL, NULL,
				  access_h, h,
				  MHD_OPTION_EXTERNAL_LOGGER, mhd_log, h,
				  MHD_OPTION_SOCK_ADDR, &laddr->u.sa,
				  MHD_OPTION_CONNECTION_TIMEOUT,
				  (unsigned int)CONN_TIMEOUT_S,
				  MHD_OPTION_CONNECTION_LIMIT,
				  (unsigned int)CONN_LIMIT,
				  MHD_OPTION_NOTIFY_COMPLETED, httpd_completed, h,
				  MHD_OPTION_END);
	if (!h->mhd) {
		err = errno ? errno : EADDRNOTAVAIL;
		LOGE(SUB_HTTP, "cannot listen on %J: %m", laddr, err);
		goto out;
	}

	/* With port 0 only the socket knows which port it got. */
	info = MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_LISTEN_FD);
	fd = info ? info->listen_fd : -1;
	if (fd < 0 || getsockname(fd, (struct sockaddr *)&ss, &sslen) < 0) {
		err = fd < 0 ? EBADF : errno;
		goto out;
	}
	err = sa_set_sa(&h->laddr, (struct sockaddr *)&ss);
	if (err)
		goto out;

	err = url_make(h);
	if (err)
		goto out;

	info = MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	if (!info || info->epoll_fd < 0) {
		err = EBADF;
		goto out;
	}

	h->tmr = evtimer_new(loop_base(), tmr_cb, h);
	if (!h->tmr) {
		err = ENOMEM;
		goto out;
	}

	err = loop_watch_alloc(&h->watch, info->epoll_fd, watch_h, h);
	if (err)
		goto out;

	err = loop_idle_add(idle_h, h);
	if (err)
		goto out;

	LOGI(SUB_HTTP, "listening on %s", h->url);

 out:
	if (err)
		mem_deref(h);
	else
		*hp = h;

	return err;
}


const struct sa *httpd_laddr(const struct httpd *h)
{
	return h ? &h->laddr : NULL;
}


int httpd_url(const struct httpd *h, char *buf, size_t sz)
{
	size_t n;

	if (!h || !buf || !sz)
		return EINVAL;

	n = strlen(h->url);
	if (n >= sz)
		return ENOMEM;

	memcpy(buf, h->url, n + 1);

	return 0;
}
