/**
 * @file httpclient.h  The HTTP server's unit tests: the server on the real
 *                     loop and a client that fetches from it
 *
 * Each test of the server (test_httpd_resources.c, test_httpd_api.c,
 * test_httpd_life.c) starts it on 127.0.0.1 port 0 and talks to it with
 * a libre TCP client on the same loop, one request per connection
 * ("Connection: close"), so a request is finished when the server closes.
 * Callbacks only record; assertions come after the loop returns.  A
 * watchdog ends the loop if an answer never comes.
 *
 * The helpers are static inline so that a test file that uses only some
 * of them builds without unused-function warnings.  Include this header
 * after <cmocka.h>, <string.h>, <strings.h>, <re.h>, "core/core.h",
 * "http/http.h", leakcheck.h and looprun.h.
 */
#ifndef CMRLAB_TESTS_HTTP_HTTPCLIENT_H
#define CMRLAB_TESTS_HTTP_HTTPCLIENT_H

#include "core/urlsign.h"


enum {
	WATCHDOG_MS = 5000,
};


/* ---- the test environment --------------------------------------------- */

struct env {
	long mark;           /* live heap blocks at the start */
	struct table *t;
	struct httpd *h;
	struct callrec *cr;
};


static inline void env_start(struct env *env)
{
	static const char small[] = "0123456789";
	struct subscriber *s = NULL;
	struct sa laddr;

	memset(env, 0, sizeof(*env));
	env->mark = leakcheck_mark();

	assert_int_equal(table_alloc(&env->t), 0);
	assert_int_equal(tones_add_builtin(env->t), 0);
	assert_int_equal(table_resource_add(env->t, "t1", "text/plain",
					    (const uint8_t *)small,
					    sizeof(small) - 1), 0);
	assert_int_equal(table_subscriber_add(env->t, "alice", &s), 0);
	assert_int_equal(subscriber_cmr_set(s, DIR_BT, "t1"), 0);
	assert_int_equal(subscriber_contact_add(s, "sip:alice@192.0.2.1"),
			 0);
	assert_int_equal(subscriber_binding_set(s, "sip:alice@192.0.2.7:5062",
						"cid-1", 1, 600,
						loop_now_ms()), 0);
	table_live_set(env->t);

	assert_int_equal(sa_set_str(&laddr, "127.0.0.1", 0), 0);
	assert_int_equal(httpd_alloc(&env->h, &laddr), 0);
	assert_true(sa_port(httpd_laddr(env->h)) != 0);
}


static inline void env_release(struct env *env)
{
	env->h = mem_deref(env->h);
	table_live_set(NULL);
	env->t = mem_deref(env->t);
	env->cr = mem_deref(env->cr);
	evlog_reset();
}


static inline void env_stop(struct env *env)
{
	env_release(env);
	leakcheck_assert(env->mark);
}


/* ---- one request ------------------------------------------------------ */

typedef void (client_data_h)(size_t got, void *arg);

struct client {
	struct tcp_conn *tc;
	struct tmr wd;
	struct mbuf *req;
	struct mbuf *rx;
	client_data_h *dh;     /* called on received data, optional */
	void *arg;
	bool closed;
	bool timed_out;
};

struct reply {
	unsigned code;
	struct mbuf *mb;       /* the whole answer */
	size_t hdr_end;        /* offset of the body */
	const uint8_t *body;
	size_t blen;
	char val[256];         /* last header value looked up */
};


static inline void estab_h(void *arg)
{
	struct client *c = arg;

	c->req->pos = 0;
	(void)tcp_send(c->tc, c->req);
}


static inline void recv_h(struct mbuf *mb, void *arg)
{
	struct client *c = arg;

	(void)mbuf_write_mem(c->rx, mbuf_buf(mb), mbuf_get_left(mb));

	if (c->dh)
		c->dh(c->rx->end, c->arg);
}


static inline void close_h(int err, void *arg)
{
	struct client *c = arg;
	(void)err;

	c->closed = true;
	loop_stop();
}


static inline void reply_parse(struct reply *rep)
{
	const uint8_t *p = rep->mb->buf;
	size_t n = rep->mb->end;

	rep->code = 0;
	rep->body = NULL;
	rep->blen = 0;

	for (size_t i = 0; i + 4 <= n; i++) {
		if (!memcmp(p + i, "\r\n\r\n", 4)) {
			rep->hdr_end = i + 4;
			rep->body = p + i + 4;
			rep->blen = n - i - 4;
			break;
		}
	}

	if (!rep->body || n < 12 || memcmp(p, "HTTP/1.1 ", 9))
		return;

	rep->code = (unsigned)((p[9] - '0') * 100 + (p[10] - '0') * 10 +
			       (p[11] - '0'));
}


/* The value of header name, or NULL. */
static inline const char *hdr(struct reply *rep, const char *name)
{
	const char *p = (const char *)rep->mb->buf;
	const char *end = p + rep->hdr_end;
	size_t nl = strlen(name);

	for (p = memchr(p, '\n', (size_t)(end - p)); p && p < end;
	     p = memchr(p, '\n', (size_t)(end - p))) {
		const char *v, *eol;

		++p;
		if ((size_t)(end - p) <= nl + 1 || strncasecmp(p, name, nl) ||
		    p[nl] != ':')
			continue;

		v = p + nl + 1;
		while (*v == ' ')
			++v;
		eol = memchr(v, '\r', (size_t)(end - v));
		if (!eol || (size_t)(eol - v) >= sizeof(rep->val))
			return NULL;

		memcpy(rep->val, v, (size_t)(eol - v));
		rep->val[eol - v] = '\0';

		return rep->val;
	}

	return NULL;
}


static inline bool body_has(const struct reply *rep, const char *s)
{
	size_t n = strlen(s);

	for (size_t i = 0; rep->body && i + n <= rep->blen; i++) {
		if (!memcmp(rep->body + i, s, n))
			return true;
	}

	return false;
}


static inline void reply_reset(struct reply *rep)
{
	rep->mb = mem_deref(rep->mb);
}


/* Sends raw as is on a new connection and collects everything until the
 * server closes it. */
static inline void fetch_raw(struct env *env, struct reply *rep,
			     const char *raw, client_data_h *dh, void *arg)
{
	struct client c;

	memset(&c, 0, sizeof(c));
	tmr_init(&c.wd);
	c.dh = dh;
	c.arg = arg;
	c.req = mbuf_alloc(256);
	c.rx = mbuf_alloc(1024);
	assert_non_null(c.req);
	assert_non_null(c.rx);
	assert_int_equal(mbuf_write_str(c.req, raw), 0);

	assert_int_equal(tcp_connect(&c.tc, httpd_laddr(env->h), estab_h,
				     recv_h, close_h, &c), 0);
	tmr_start(&c.wd, WATCHDOG_MS, looprun_watchdog,
		  &c.timed_out);

	assert_int_equal(loop_run(), 0);

	tmr_cancel(&c.wd);
	c.tc = mem_deref(c.tc);
	mem_deref(c.req);

	assert_false(c.timed_out);
	assert_true(c.closed);

	memset(rep, 0, sizeof(*rep));
	rep->mb = c.rx;
	reply_parse(rep);
}


static inline void fetch_hook(struct env *env, struct reply *rep,
			      const char *method, const char *path,
			      const char *headers, client_data_h *dh,
			      void *arg)
{
	char *raw = NULL;

	assert_int_equal(re_sdprintf(&raw, "%s %s HTTP/1.1\r\n"
				     "Host: test\r\n"
				     "Connection: close\r\n"
				     "%s\r\n", method, path,
				     headers ? headers : ""), 0);
	fetch_raw(env, rep, raw, dh, arg);
	mem_deref(raw);
}


static inline void fetch(struct env *env, struct reply *rep,
			 const char *method, const char *path,
			 const char *headers)
{
	fetch_hook(env, rep, method, path, headers, NULL, NULL);
}


/* "/r/ID?call=CALLID&exp=EXP&sig=HEX", as the SIP side hands it out
 * (core/urlsign.h); ids and call ids of the tests need no escaping. */
static inline void signed_path(char *buf, size_t sz, const char *id,
			       const char *callid, uint64_t exp)
{
	char sig[URLSIGN_HEX + 1];

	assert_int_equal(urlsign_sign(sig, sizeof(sig), id, callid, exp), 0);
	assert_true(re_snprintf(buf, sz, "/r/%s?call=%s&exp=%llu&sig=%s",
				id, callid, (unsigned long long)exp, sig) > 0);
}


/* ---- the group setup -------------------------------------------------- */

/*
 * Libraries set up some state on first use (a few blocks in libc, libre,
 * libevent or MHD that stay for the life of the process); one round of
 * what the tests do makes it before any test takes its mark, so that it
 * stays out of the per-test balances (leakcheck.h).  Running a test body
 * twice in a row shows a zero balance the second time, so what the
 * balances catch are real per-request leaks.
 */
static inline int httpclient_group_setup(void **state)
{
	struct httpd *h2 = NULL;
	char path[192];
	struct env env;
	struct reply rep;
	struct sa sa;
	(void)state;

	if (libre_init() || loop_init())
		return -1;

	/* Only what goes wrong, in the test output. */
	log_level_set(SUB_HTTP, LVL_ERROR);

	env_start(&env);
	if (evlog_call_alloc(&env.cr, "x", "a", "b"))
		return -1;
	/* A signed fetch: the HMAC's first use, and an event. */
	signed_path(path, sizeof(path), "t1", "x", urlsign_expiry(0));
	fetch(&env, &rep, "GET", path, "Range: bytes=0-1\r\n");
	reply_reset(&rep);
	fetch(&env, &rep, "GET", "/api/v1/calls/x", NULL);
	reply_reset(&rep);
	fetch(&env, &rep, "GET", "/metrics", NULL);
	reply_reset(&rep);
	if (!httpd_alloc(&h2, httpd_laddr(env.h)))
		return -1;
	if (!sa_set_str(&sa, "::1", 0) && !httpd_alloc(&h2, &sa))
		h2 = mem_deref(h2);
	env_release(&env);

	return 0;
}


#endif
