/**
 * @file test_httpd.c  The HTTP server on the real loop, over real sockets
 *
 * Each test starts the server on 127.0.0.1 port 0 and talks to it with a
 * libre TCP client on the same loop, one request per connection
 * ("Connection: close"), so a request is finished when the server closes.
 * Callbacks only record; assertions come after the loop returns.  A
 * watchdog ends the loop if an answer never comes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <re.h>
#include "core/core.h"
#include "http/http.h"
#include "tests/unit/leakcheck.h"
#include "tests/unit/looprun.h"

enum {
	WATCHDOG_MS = 5000,
	BIG_SIZE    = 8 * 1024 * 1024,
};


/* ---- the test environment --------------------------------------------- */

struct env {
	long mark;           /* live heap blocks at the start */
	struct table *t;
	struct httpd *h;
	struct callrec *cr;
};


static void env_start(struct env *env)
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


static void env_release(struct env *env)
{
	env->h = mem_deref(env->h);
	table_live_set(NULL);
	env->t = mem_deref(env->t);
	env->cr = mem_deref(env->cr);
	evlog_reset();
}


static void env_stop(struct env *env)
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


static void estab_h(void *arg)
{
	struct client *c = arg;

	c->req->pos = 0;
	(void)tcp_send(c->tc, c->req);
}


static void recv_h(struct mbuf *mb, void *arg)
{
	struct client *c = arg;

	(void)mbuf_write_mem(c->rx, mbuf_buf(mb), mbuf_get_left(mb));

	if (c->dh)
		c->dh(c->rx->end, c->arg);
}


static void close_h(int err, void *arg)
{
	struct client *c = arg;
	(void)err;

	c->closed = true;
	loop_stop();
}


static void reply_parse(struct reply *rep)
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
static const char *hdr(struct reply *rep, const char *name)
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


static bool body_has(const struct reply *rep, const char *s)
{
	size_t n = strlen(s);

	for (size_t i = 0; rep->body && i + n <= rep->blen; i++) {
		if (!memcmp(rep->body + i, s, n))
			return true;
	}

	return false;
}


static void reply_reset(struct reply *rep)
{
	rep->mb = mem_deref(rep->mb);
}


/* Sends raw as is on a new connection and collects everything until the
 * server closes it. */
static void fetch_raw(struct env *env, struct reply *rep, const char *raw,
		      client_data_h *dh, void *arg)
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


static void fetch_hook(struct env *env, struct reply *rep,
		       const char *method, const char *path,
		       const char *headers, client_data_h *dh, void *arg)
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


static void fetch(struct env *env, struct reply *rep, const char *method,
		  const char *path, const char *headers)
{
	fetch_hook(env, rep, method, path, headers, NULL, NULL);
}


/* ---- resources -------------------------------------------------------- */

static void test_get(void **state)
{
	struct env env;
	struct reply rep;
	const struct resource *r;
	(void)state;

	env_start(&env);
	r = table_resource(env.t, "t1");

	fetch(&env, &rep, "GET", "/r/t1", NULL);
	assert_int_equal(rep.code, 200);
	assert_string_equal(hdr(&rep, "Content-Type"), "text/plain");
	assert_string_equal(hdr(&rep, "Content-Length"), "10");
	assert_string_equal(hdr(&rep, "ETag"), r->etag);
	assert_string_equal(hdr(&rep, "Accept-Ranges"), "bytes");
	assert_string_equal(hdr(&rep, "Cache-Control"), "no-cache");
	assert_null(hdr(&rep, "Content-Range"));
	assert_int_equal(rep.blen, 10);
	assert_memory_equal(rep.body, "0123456789", 10);
	reply_reset(&rep);

	/* The query string does not change what is served. */
	fetch(&env, &rep, "GET", "/r/t1?x=1&call=nosuch", NULL);
	assert_int_equal(rep.code, 200);
	assert_int_equal(rep.blen, 10);
	reply_reset(&rep);

	r = table_resource(env.t, "ringback-default");
	fetch(&env, &rep, "GET", "/r/ringback-default", NULL);
	assert_int_equal(rep.code, 200);
	assert_string_equal(hdr(&rep, "Content-Type"), "audio/wav");
	assert_int_equal(rep.blen, r->size);
	assert_memory_equal(rep.body, r->data, r->size);
	reply_reset(&rep);

	env_stop(&env);
}


static void test_head(void **state)
{
	struct env env;
	struct reply rep;
	(void)state;

	env_start(&env);

	fetch(&env, &rep, "HEAD", "/r/t1", NULL);
	assert_int_equal(rep.code, 200);
	assert_string_equal(hdr(&rep, "Content-Length"), "10");
	assert_string_equal(hdr(&rep, "Content-Type"), "text/plain");
	assert_non_null(hdr(&rep, "ETag"));
	assert_int_equal(rep.blen, 0);
	reply_reset(&rep);

	/* Range is defined for GET only; HEAD ignores it. */
	fetch(&env, &rep, "HEAD", "/r/t1", "Range: bytes=0-1\r\n");
	assert_int_equal(rep.code, 200);
	assert_int_equal(rep.blen, 0);
	reply_reset(&rep);

	env_stop(&env);
}


static void test_range(void **state)
{
	struct env env;
	struct reply rep;
	(void)state;

	env_start(&env);

	fetch(&env, &rep, "GET", "/r/t1", "Range: bytes=2-4\r\n");
	assert_int_equal(rep.code, 206);
	assert_string_equal(hdr(&rep, "Content-Range"), "bytes 2-4/10");
	assert_string_equal(hdr(&rep, "Content-Length"), "3");
	assert_string_equal(hdr(&rep, "Content-Type"), "text/plain");
	assert_int_equal(rep.blen, 3);
	assert_memory_equal(rep.body, "234", 3);
	reply_reset(&rep);

	fetch(&env, &rep, "GET", "/r/t1", "Range: bytes=-3\r\n");
	assert_int_equal(rep.code, 206);
	assert_string_equal(hdr(&rep, "Content-Range"), "bytes 7-9/10");
	assert_memory_equal(rep.body, "789", 3);
	reply_reset(&rep);

	fetch(&env, &rep, "GET", "/r/t1", "Range: bytes=8-\r\n");
	assert_int_equal(rep.code, 206);
	assert_string_equal(hdr(&rep, "Content-Range"), "bytes 8-9/10");
	assert_memory_equal(rep.body, "89", 2);
	reply_reset(&rep);

	fetch(&env, &rep, "GET", "/r/t1", "Range: bytes=10-\r\n");
	assert_int_equal(rep.code, 416);
	assert_string_equal(hdr(&rep, "Content-Range"), "bytes */10");
	assert_int_equal(rep.blen, 0);
	reply_reset(&rep);

	/* Malformed: ignored, the whole body. */
	fetch(&env, &rep, "GET", "/r/t1", "Range: bytes=x-y\r\n");
	assert_int_equal(rep.code, 200);
	assert_int_equal(rep.blen, 10);
	reply_reset(&rep);

	/* Several ranges: answered whole. */
	fetch(&env, &rep, "GET", "/r/t1", "Range: bytes=0-1,4-5\r\n");
	assert_int_equal(rep.code, 200);
	assert_int_equal(rep.blen, 10);
	reply_reset(&rep);

	/* If-Range with a stale validator: the whole body. */
	fetch(&env, &rep, "GET", "/r/t1",
	      "Range: bytes=0-1\r\nIf-Range: \"stale\"\r\n");
	assert_int_equal(rep.code, 200);
	assert_int_equal(rep.blen, 10);
	reply_reset(&rep);

	env_stop(&env);
}


static void test_conditional(void **state)
{
	struct env env;
	struct reply rep;
	char h[128];
	const struct resource *r;
	(void)state;

	env_start(&env);
	r = table_resource(env.t, "t1");

	re_snprintf(h, sizeof(h), "If-None-Match: %s\r\n", r->etag);
	fetch(&env, &rep, "GET", "/r/t1", h);
	assert_int_equal(rep.code, 304);
	assert_string_equal(hdr(&rep, "ETag"), r->etag);
	assert_int_equal(rep.blen, 0);
	reply_reset(&rep);

	fetch(&env, &rep, "GET", "/r/t1", "If-None-Match: *\r\n");
	assert_int_equal(rep.code, 304);
	reply_reset(&rep);

	fetch(&env, &rep, "HEAD", "/r/t1", h);
	assert_int_equal(rep.code, 304);
	reply_reset(&rep);

	/* If-None-Match wins over Range. */
	re_snprintf(h, sizeof(h), "If-None-Match: \"x\", %s\r\n"
		    "Range: bytes=0-1\r\n", r->etag);
	fetch(&env, &rep, "GET", "/r/t1", h);
	assert_int_equal(rep.code, 304);
	reply_reset(&rep);

	fetch(&env, &rep, "GET", "/r/t1", "If-None-Match: \"other\"\r\n");
	assert_int_equal(rep.code, 200);
	assert_int_equal(rep.blen, 10);
	reply_reset(&rep);

	env_stop(&env);
}


static void test_errors(void **state)
{
	struct env env;
	struct reply rep;
	(void)state;

	env_start(&env);

	fetch(&env, &rep, "GET", "/r/nosuch", NULL);
	assert_int_equal(rep.code, 404);
	assert_true(body_has(&rep, "{\"error\":\"not found\"}"));
	reply_reset(&rep);

	/* Ids outside the alphabet never reach the table. */
	fetch(&env, &rep, "GET", "/r/..%2Ft1", NULL);
	assert_int_equal(rep.code, 404);
	reply_reset(&rep);

	fetch(&env, &rep, "GET", "/r/", NULL);
	assert_int_equal(rep.code, 404);
	reply_reset(&rep);

	fetch(&env, &rep, "POST", "/r/t1", NULL);
	assert_int_equal(rep.code, 405);
	assert_string_equal(hdr(&rep, "Allow"), "GET, HEAD");
	reply_reset(&rep);

	fetch(&env, &rep, "DELETE", "/api/v1/subscribers/alice", NULL);
	assert_int_equal(rep.code, 405);
	assert_string_equal(hdr(&rep, "Allow"), "GET, HEAD");
	reply_reset(&rep);

	fetch(&env, &rep, "GET", "/nope", NULL);
	assert_int_equal(rep.code, 404);
	assert_string_equal(hdr(&rep, "Content-Type"), "application/json");
	assert_true(body_has(&rep, "{\"error\":\"not found\"}"));
	reply_reset(&rep);

	env_stop(&env);
}


/* Two requests in one write on one connection: both are answered, and
 * the first answer leaves the connection open. */
static void test_keepalive(void **state)
{
	struct env env;
	struct reply rep;
	const char *second;
	(void)state;

	env_start(&env);

	fetch_raw(&env, &rep,
		  "GET /r/t1 HTTP/1.1\r\nHost: test\r\n\r\n"
		  "GET /healthz HTTP/1.1\r\nHost: test\r\n"
		  "Connection: close\r\n\r\n", NULL, NULL);
	assert_int_equal(rep.code, 200);
	assert_null(hdr(&rep, "Connection"));
	assert_true(rep.blen > 10);
	assert_memory_equal(rep.body, "0123456789", 10);

	second = (const char *)rep.body + 10;
	assert_true(!strncmp(second, "HTTP/1.1 200 ", 13));
	assert_true(rep.blen >= 13 + 3);
	assert_memory_equal(rep.body + rep.blen - 3, "ok\n", 3);
	reply_reset(&rep);

	env_stop(&env);
}


/* ---- API, health, metrics --------------------------------------------- */

static void test_api(void **state)
{
	struct env env;
	struct reply rep;
	char url[64], want[160];
	(void)state;

	env_start(&env);
	assert_int_equal(httpd_url(env.h, url, sizeof(url)), 0);

	fetch(&env, &rep, "GET", "/healthz", NULL);
	assert_int_equal(rep.code, 200);
	assert_string_equal(hdr(&rep, "Content-Type"), "text/plain");
	assert_int_equal(rep.blen, 3);
	assert_memory_equal(rep.body, "ok\n", 3);
	reply_reset(&rep);

	fetch(&env, &rep, "GET", "/api/v1/resources", NULL);
	assert_int_equal(rep.code, 200);
	assert_string_equal(hdr(&rep, "Content-Type"), "application/json");
	assert_true(rep.blen > 2 && rep.body[0] == '[');
	re_snprintf(want, sizeof(want), "{\"id\":\"t1\","
		    "\"type\":\"text/plain\",\"bytes\":10,"
		    "\"duration_ms\":0,\"url\":\"%s/r/t1\"}", url);
	assert_true(body_has(&rep, want));
	assert_true(body_has(&rep, "\"id\":\"ringback-default\","
			     "\"type\":\"audio/wav\",\"bytes\":96044,"
			     "\"duration_ms\":6000"));
	reply_reset(&rep);

	fetch(&env, &rep, "GET", "/api/v1/resources/t1", NULL);
	assert_int_equal(rep.code, 200);
	assert_int_equal(rep.blen, strlen(want) + 1);
	assert_memory_equal(rep.body, want, strlen(want));
	reply_reset(&rep);

	fetch(&env, &rep, "GET", "/api/v1/resources/zz", NULL);
	assert_int_equal(rep.code, 404);
	assert_true(body_has(&rep, "{\"error\":\"no such resource\","
			     "\"field\":\"id\"}"));
	reply_reset(&rep);

	fetch(&env, &rep, "GET", "/api/v1/subscribers", NULL);
	assert_int_equal(rep.code, 200);
	assert_true(body_has(&rep, "[{\"id\":\"alice\",\"mode\":\"auto\","
			     "\"cmrbt\":\"t1\","
			     "\"cmrt\":\"ringtone-default\","
			     "\"password_set\":false,"
			     "\"contacts\":[\"sip:alice@192.0.2.1\"],"
			     "\"bindings\":[{\"uri\":"
			     "\"sip:alice@192.0.2.7:5062\","
			     "\"expires_in_s\":600}]}]"));
	reply_reset(&rep);

	fetch(&env, &rep, "GET", "/api/v1/subscribers/alice", NULL);
	assert_int_equal(rep.code, 200);
	assert_true(rep.body[0] == '{');
	assert_true(body_has(&rep, "\"id\":\"alice\""));
	reply_reset(&rep);

	fetch(&env, &rep, "GET", "/api/v1/subscribers/zed", NULL);
	assert_int_equal(rep.code, 404);
	assert_true(body_has(&rep, "\"field\":\"id\""));
	reply_reset(&rep);

	env_stop(&env);
}


static void test_calls(void **state)
{
	struct env env;
	struct reply rep;
	char *txt = NULL;
	(void)state;

	env_start(&env);

	fetch(&env, &rep, "GET", "/api/v1/calls", NULL);
	assert_int_equal(rep.code, 200);
	assert_int_equal(rep.blen, 3);
	assert_memory_equal(rep.body, "[]\n", 3);
	reply_reset(&rep);

	assert_int_equal(evlog_call_alloc(&env.cr, "abc@host", "bob",
					  "alice"), 0);

	/* A fetch that names the call shows up among its events. */
	fetch(&env, &rep, "GET", "/r/t1?call=abc@host",
	      "Range: bytes=0-3\r\n");
	assert_int_equal(rep.code, 206);
	reply_reset(&rep);
	fetch(&env, &rep, "GET", "/r/nosuch?call=abc@host", NULL);
	assert_int_equal(rep.code, 404);
	reply_reset(&rep);

	assert_int_equal(re_sdprintf(&txt, "%H", evlog_call_print, env.cr),
			 0);
	assert_non_null(strstr(txt, "\"what\":\"resource-fetched\","
			       "\"resource\":\"t1\",\"status\":206,"
			       "\"bytes\":4}"));
	assert_non_null(strstr(txt, "\"resource\":\"nosuch\","
			       "\"status\":404,\"bytes\":0}"));
	txt = mem_deref(txt);

	fetch(&env, &rep, "GET", "/api/v1/calls", NULL);
	assert_int_equal(rep.code, 200);
	assert_true(body_has(&rep, "\"callid\":\"abc@host\""));
	reply_reset(&rep);

	fetch(&env, &rep, "GET", "/api/v1/calls/abc@host", NULL);
	assert_int_equal(rep.code, 200);
	assert_true(rep.body[0] == '{');
	assert_true(body_has(&rep, "\"caller\":\"bob\""));
	reply_reset(&rep);

	fetch(&env, &rep, "GET", "/api/v1/calls/nosuch", NULL);
	assert_int_equal(rep.code, 404);
	assert_true(body_has(&rep, "{\"error\":\"no such call\","
			     "\"field\":\"id\"}"));
	reply_reset(&rep);

	env_stop(&env);
}


static void test_metrics(void **state)
{
	struct env env;
	struct reply rep;
	(void)state;

	env_start(&env);

	assert_int_equal(evlog_call_alloc(&env.cr, "m1", "bob", "alice"), 0);

	fetch(&env, &rep, "GET", "/nope", NULL);
	reply_reset(&rep);
	fetch(&env, &rep, "GET", "/healthz", NULL);
	reply_reset(&rep);

	fetch(&env, &rep, "GET", "/metrics", NULL);
	assert_int_equal(rep.code, 200);
	assert_non_null(hdr(&rep, "Content-Type"));
	assert_true(!strncmp(hdr(&rep, "Content-Type"), "text/plain", 10));
	assert_true(body_has(&rep, "\ncmrlab_calls_total 1\n"));
	assert_true(body_has(&rep, "\ncmrlab_calls_active 1\n"));
	assert_true(body_has(&rep, "\ncmrlab_http_requests_total"
			     "{code=\"2xx\"} 1\n"));
	assert_true(body_has(&rep, "\ncmrlab_http_requests_total"
			     "{code=\"4xx\"} 1\n"));
	assert_true(body_has(&rep, "\ncmrlab_subscribers 1\n"));
	assert_true(body_has(&rep, "\ncmrlab_resources 3\n"));
	assert_true(body_has(&rep, "# TYPE cmrlab_calls_total counter\n"));
	reply_reset(&rep);

	env_stop(&env);
}


/* ---- the API's bearer token ------------------------------------------- */

#define TOKEN "s3cr3t-T0ken_0123456789"


/* A 401 of the API: the challenge, and JSON that names the header. */
static void assert_401(struct reply *rep, const char *msg)
{
	char want[160];

	snprintf(want, sizeof(want),
		 "{\"error\":\"%s\",\"field\":\"authorization\"}\n", msg);

	assert_int_equal(rep->code, 401);
	assert_non_null(hdr(rep, "WWW-Authenticate"));
	assert_string_equal(hdr(rep, "WWW-Authenticate"),
			    "Bearer realm=\"cmrlab\"");
	assert_string_equal(hdr(rep, "Content-Type"), "application/json");
	assert_int_equal(rep->blen, strlen(want));
	assert_memory_equal(rep->body, want, rep->blen);
}


static void test_token(void **state)
{
	static const char *const open_paths[] = {
		"/healthz", "/metrics", "/r/t1", "/r/ringback-default",
	};
	static const char *const api_paths[] = {
		"/api/v1/calls", "/api/v1/calls/x", "/api/v1/subscribers",
		"/api/v1/subscribers/alice", "/api/v1/resources",
		"/api/v1/resources/t1", "/api/v1/nosuch", "/api/v2/calls",
		"/api", "/api/",
	};
	struct env env;
	struct reply rep;
	(void)state;

	env_start(&env);
	assert_int_equal(httpd_token_set(NULL, TOKEN), EINVAL);
	assert_int_equal(httpd_token_set(env.h, TOKEN), 0);

	/* Every API path, known or not, wants the token first. */
	for (size_t i = 0; i < ARRAY_SIZE(api_paths); i++) {
		fetch(&env, &rep, "GET", api_paths[i], NULL);
		assert_401(&rep, "the API needs Authorization: Bearer TOKEN");
		reply_reset(&rep);
	}

	fetch(&env, &rep, "GET", "/api/v1/calls",
	      "Authorization: Bearer " TOKEN "\r\n");
	assert_int_equal(rep.code, 200);
	assert_true(rep.body[0] == '[');
	reply_reset(&rep);

	fetch(&env, &rep, "GET", "/api/v1/subscribers/alice",
	      "authorization: bearer " TOKEN "\r\n");
	assert_int_equal(rep.code, 200);
	assert_true(body_has(&rep, "\"id\":\"alice\""));
	reply_reset(&rep);

	fetch(&env, &rep, "GET", "/api/v1/calls",
	      "Authorization: Bearer s3cr3t-T0ken_012345678\r\n");
	assert_401(&rep, "wrong token");
	reply_reset(&rep);

	fetch(&env, &rep, "GET", "/api/v1/calls",
	      "Authorization: Basic czNjcjN0\r\n");
	assert_401(&rep, "Authorization is not a Bearer token");
	reply_reset(&rep);

	/* HEAD: the same status and challenge, no body. */
	fetch(&env, &rep, "HEAD", "/api/v1/calls", NULL);
	assert_int_equal(rep.code, 401);
	assert_string_equal(hdr(&rep, "WWW-Authenticate"),
			    "Bearer realm=\"cmrlab\"");
	assert_int_equal(rep.blen, 0);
	reply_reset(&rep);

	/* 401 before 405 and 404: without the token nothing is told. */
	fetch(&env, &rep, "DELETE", "/api/v1/subscribers/alice", NULL);
	assert_401(&rep, "the API needs Authorization: Bearer TOKEN");
	reply_reset(&rep);
	fetch(&env, &rep, "DELETE", "/api/v1/subscribers/alice",
	      "Authorization: Bearer " TOKEN "\r\n");
	assert_int_equal(rep.code, 405);
	reply_reset(&rep);
	fetch(&env, &rep, "GET", "/api/v1/nosuch",
	      "Authorization: Bearer " TOKEN "\r\n");
	assert_int_equal(rep.code, 404);
	reply_reset(&rep);

	/* What phones and monitors fetch stays open. */
	for (size_t i = 0; i < ARRAY_SIZE(open_paths); i++) {
		fetch(&env, &rep, "GET", open_paths[i], NULL);
		assert_int_equal(rep.code, 200);
		assert_null(hdr(&rep, "WWW-Authenticate"));
		reply_reset(&rep);
	}

	/* Lifted again: the API answers without it. */
	assert_int_equal(httpd_token_set(env.h, NULL), 0);
	fetch(&env, &rep, "GET", "/api/v1/calls", NULL);
	assert_int_equal(rep.code, 200);
	reply_reset(&rep);

	/* Replaced: only the new one counts. */
	assert_int_equal(httpd_token_set(env.h, TOKEN), 0);
	assert_int_equal(httpd_token_set(env.h, TOKEN "-2"), 0);
	fetch(&env, &rep, "GET", "/api/v1/calls",
	      "Authorization: Bearer " TOKEN "\r\n");
	assert_401(&rep, "wrong token");
	reply_reset(&rep);
	fetch(&env, &rep, "GET", "/api/v1/calls",
	      "Authorization: Bearer " TOKEN "-2\r\n");
	assert_int_equal(rep.code, 200);
	reply_reset(&rep);

	/* The server frees the token (env_stop's balance). */
	env_stop(&env);
}


/* ---- lifetime and start-up -------------------------------------------- */

struct swap {
	struct env *env;
	struct table *other;
	bool done;
};


/* Replaces the live table while the big body is still on its way. */
static void swap_h(size_t got, void *arg)
{
	struct swap *sw = arg;
	(void)got;

	if (sw->done)
		return;

	sw->done = true;
	table_live_set(sw->other);
	sw->env->t = mem_deref(sw->env->t);
}


static void test_reload_during_download(void **state)
{
	struct env env;
	struct reply rep;
	struct swap sw = { &env, NULL, false };
	uint8_t *big;
	(void)state;

	env_start(&env);

	big = malloc(BIG_SIZE);
	assert_non_null(big);
	for (size_t i = 0; i < BIG_SIZE; i++)
		big[i] = (uint8_t)(i * 7 + (i >> 12));
	assert_int_equal(table_resource_add(env.t, "big",
					    "application/octet-stream", big,
					    BIG_SIZE), 0);
	assert_int_equal(table_alloc(&sw.other), 0);

	fetch_hook(&env, &rep, "GET", "/r/big", NULL, swap_h, &sw);
	assert_true(sw.done);
	assert_int_equal(rep.code, 200);
	assert_int_equal(rep.blen, BIG_SIZE);
	assert_memory_equal(rep.body, big, BIG_SIZE);
	reply_reset(&rep);

	/* The new table has no such resource. */
	fetch(&env, &rep, "GET", "/r/big", NULL);
	assert_int_equal(rep.code, 404);
	reply_reset(&rep);

	free(big);
	mem_deref(sw.other);
	env_stop(&env);
}


/* Stops the server from the client side while the big body is on its
 * way. */
static void stop_h(size_t got, void *arg)
{
	struct env *env = arg;
	(void)got;

	env->h = mem_deref(env->h);
}


/* Stopping the server mid-download closes the connection and releases the
 * response, and with it the reference on the resource's bytes. */
static void test_stop_during_download(void **state)
{
	struct env env;
	struct reply rep;
	uint8_t *big;
	(void)state;

	env_start(&env);

	big = calloc(1, BIG_SIZE);
	assert_non_null(big);
	assert_int_equal(table_resource_add(env.t, "big",
					    "application/octet-stream", big,
					    BIG_SIZE), 0);
	free(big);

	fetch_hook(&env, &rep, "GET", "/r/big", NULL, stop_h, &env);
	assert_null(env.h);
	assert_true(rep.mb->end < BIG_SIZE);
	reply_reset(&rep);

	env_stop(&env);
}


static void test_bind(void **state)
{
	struct env env;
	struct httpd *h2 = NULL;
	struct sa sa;
	char url[64], want[64];
	(void)state;

	env_start(&env);

	re_snprintf(want, sizeof(want), "http://127.0.0.1:%u",
		    sa_port(httpd_laddr(env.h)));
	assert_int_equal(httpd_url(env.h, url, sizeof(url)), 0);
	assert_string_equal(url, want);
	assert_int_equal(httpd_url(env.h, url, 10), ENOMEM);
	assert_int_equal(httpd_url(NULL, url, sizeof(url)), EINVAL);

	/* The port is taken: a clear error, nothing left behind. */
	assert_int_not_equal(httpd_alloc(&h2, httpd_laddr(env.h)), 0);
	assert_null(h2);

	assert_int_equal(httpd_alloc(&h2, NULL), EINVAL);
	sa_init(&sa, AF_UNSPEC);
	assert_int_equal(httpd_alloc(&h2, &sa), EINVAL);

	/* 0.0.0.0 listens on every local address (--http 0.0.0.0:P). */
	sa_init(&sa, AF_INET);
	assert_int_equal(httpd_alloc(&h2, &sa), 0);
	assert_false(sa_isset(httpd_laddr(h2), SA_ADDR));
	assert_int_not_equal(sa_port(httpd_laddr(h2)), 0);
	h2 = mem_deref(h2);

	/* IPv6 URLs carry brackets (skipped where ::1 cannot be bound). */
	assert_int_equal(sa_set_str(&sa, "::1", 0), 0);
	if (!httpd_alloc(&h2, &sa)) {
		assert_int_equal(httpd_url(h2, url, sizeof(url)), 0);
		assert_true(!strncmp(url, "http://[::1]:", 13));
		h2 = mem_deref(h2);
	}

	env_stop(&env);
}


/* ---- main ------------------------------------------------------------- */

/*
 * Libraries set up some state on first use (a few blocks in libc, libre,
 * libevent or MHD that stay for the life of the process); one round of
 * what the tests do makes it before any test takes its mark, so that it
 * stays out of the per-test balances (leakcheck.h).  Running a test body
 * twice in a row shows a zero balance the second time, so what the
 * balances catch are real per-request leaks.
 */
static int group_setup(void **state)
{
	struct httpd *h2 = NULL;
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
	fetch(&env, &rep, "GET", "/r/t1?call=x", "Range: bytes=0-1\r\n");
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


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_get),
		cmocka_unit_test(test_head),
		cmocka_unit_test(test_range),
		cmocka_unit_test(test_conditional),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_keepalive),
		cmocka_unit_test(test_api),
		cmocka_unit_test(test_calls),
		cmocka_unit_test(test_metrics),
		cmocka_unit_test(test_token),
		cmocka_unit_test(test_reload_during_download),
		cmocka_unit_test(test_stop_during_download),
		cmocka_unit_test(test_bind),
	};

	return cmocka_run_group_tests(tests, group_setup, looprun_teardown);
}
