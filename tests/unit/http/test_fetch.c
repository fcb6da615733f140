/**
 * @file test_fetch.c  The HTTP client: URLs, the chunked decoder, fetches
 *                     from the embedded server and from scripted ones,
 *                     failures, cancelling, and the capture
 *
 * The fetches run on the real loop against real sockets on 127.0.0.1:
 * the embedded server (httpclient.h) for well-formed answers, and a tiny
 * scripted server (libre's tcp_listen on the same loop) that sends given
 * pieces with pauses between them, for the answers the embedded server
 * never gives.  Callbacks only record; assertions come after the loop
 * returns.  Every test ends with a leak check.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>
#include <re.h>
#include "core/core.h"
#include "http/http.h"
#include "http/fetch.h"
#include "http/http_int.h"
#include "tests/unit/leakcheck.h"
#include "tests/unit/looprun.h"
#include "tests/unit/http/httpclient.h"
#include "tests/unit/tmpfiles.h"
#include "tests/unit/pcapread.h"

enum { TIMEOUT_MS = 4000 };

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))


/* ---- one fetch -------------------------------------------------------- */

struct got {
	unsigned n;                /* callbacks */
	struct fetch_result r;     /* the last one, body cleared */
	uint8_t *body;             /* a copy (mem), or NULL */
	struct fetch *f;           /* freed by the callback when free_f */
	bool free_f;
};


static void done_h(const struct fetch_result *r, void *arg)
{
	struct got *g = arg;

	++g->n;
	g->r = *r;
	g->r.body = NULL;
	g->body = mem_deref(g->body);
	if (r->bytes) {
		assert_non_null(r->body);
		g->body = mem_alloc(r->bytes, NULL);
		assert_non_null(g->body);
		memcpy(g->body, r->body, r->bytes);
	}

	/* The handler may free the fetch: nothing of it is used after. */
	if (g->free_f)
		g->f = mem_deref(g->f);

	loop_stop();
}


static void got_reset(struct got *g)
{
	g->body = mem_deref(g->body);
	g->f = mem_deref(g->f);
	memset(g, 0, sizeof(*g));
}


/* Fetches url and runs the loop until the answer; the fetch stays in g. */
static void run(struct got *g, const char *url, uint32_t timeout_ms,
		size_t max, bool capture)
{
	memset(g, 0, sizeof(*g));
	assert_int_equal(fetch_get(&g->f, url, timeout_ms, max, done_h, g),
			 0);
	fetch_capture_set(g->f, capture);

	/* Never from inside fetch_get. */
	assert_int_equal(g->n, 0);

	looprun(WATCHDOG_MS);
	assert_int_equal(g->n, 1);
}


/* Runs the loop for ms: what should not happen has had its chance. */
static void idle(uint32_t ms)
{
	struct tmr t;

	tmr_init(&t);
	tmr_start(&t, ms, looprun_stop, NULL);
	looprun(WATCHDOG_MS);
	tmr_cancel(&t);
}


static void url_of(char *buf, size_t sz, const struct httpd *h,
		   const char *path)
{
	char base[64];

	assert_int_equal(httpd_url(h, base, sizeof(base)), 0);
	assert_true(re_snprintf(buf, sz, "%s%s", base, path) > 0);
}


static void check_times(const struct fetch_result *r)
{
	assert_true(r->ms_connect <= r->ms_first_byte);
	assert_true(r->ms_first_byte <= r->ms_done);
	assert_true(r->ms_done < WATCHDOG_MS);
}


/* ---- a scripted server ------------------------------------------------ */

/*
 * Accepts one connection at a time; once the request's head is in, sends
 * the pieces of its script gap_ms apart and then closes, or holds the
 * connection open (hold).
 */
struct srv {
	struct tcp_sock *ts;
	struct tcp_conn *tc;
	struct tmr tmr;
	struct sa laddr;
	const char *const *script;    /* NULL-terminated */
	unsigned next;
	uint32_t gap_ms;
	bool hold;
	struct mbuf *req;             /* what the client sent */
	unsigned conns;
	char url[96];
};


static void srv_send_next(void *arg)
{
	struct srv *s = arg;
	const char *piece;
	struct mbuf *mb;

	if (!s->tc)
		return;

	/* A client that has gone may make the send fail: not our test. */
	piece = s->script[s->next++];
	if (*piece) {
		mb = mbuf_alloc(256);
		assert_non_null(mb);
		assert_int_equal(mbuf_write_str(mb, piece), 0);
		mb->pos = 0;
		(void)tcp_send(s->tc, mb);
		mem_deref(mb);
	}

	if (s->script[s->next])
		tmr_start(&s->tmr, s->gap_ms, srv_send_next, s);
	else if (!s->hold)
		s->tc = mem_deref(s->tc);
}


static void srv_recv_h(struct mbuf *mb, void *arg)
{
	struct srv *s = arg;
	bool had;

	had = s->req->end >= 4 &&
		!memcmp(s->req->buf + s->req->end - 4, "\r\n\r\n", 4);
	s->req->pos = s->req->end;
	assert_int_equal(mbuf_write_mem(s->req, mbuf_buf(mb),
					mbuf_get_left(mb)), 0);

	if (!had && s->req->end >= 4 &&
	    !memcmp(s->req->buf + s->req->end - 4, "\r\n\r\n", 4))
		tmr_start(&s->tmr, s->gap_ms, srv_send_next, s);
}


static void srv_close_h(int err, void *arg)
{
	struct srv *s = arg;
	(void)err;

	tmr_cancel(&s->tmr);
	s->tc = mem_deref(s->tc);
}


static void srv_conn_h(const struct sa *peer, void *arg)
{
	struct srv *s = arg;
	(void)peer;

	++s->conns;
	s->next = 0;
	s->req->end = s->req->pos = 0;
	s->tc = mem_deref(s->tc);
	assert_int_equal(tcp_accept(&s->tc, s->ts, NULL, srv_recv_h,
				    srv_close_h, s), 0);
}


static void srv_start(struct srv *s, const char *const *script,
		      uint32_t gap_ms, bool hold)
{
	struct sa any;

	memset(s, 0, sizeof(*s));
	tmr_init(&s->tmr);
	s->script = script;
	s->gap_ms = gap_ms;
	s->hold = hold;
	s->req = mbuf_alloc(512);
	assert_non_null(s->req);

	assert_int_equal(sa_set_str(&any, "127.0.0.1", 0), 0);
	assert_int_equal(tcp_listen(&s->ts, &any, srv_conn_h, s), 0);
	assert_int_equal(tcp_sock_local_get(s->ts, &s->laddr), 0);
	assert_true(re_snprintf(s->url, sizeof(s->url), "http://%J/x",
				&s->laddr) > 0);
}


static void srv_stop(struct srv *s)
{
	tmr_cancel(&s->tmr);
	s->tc = mem_deref(s->tc);
	s->ts = mem_deref(s->ts);
	s->req = mem_deref(s->req);
}


/* The request as a C string (the scripted server's buffer, terminated). */
static const char *srv_req(struct srv *s)
{
	s->req->pos = s->req->end;
	assert_int_equal(mbuf_write_u8(s->req, 0), 0);
	--s->req->end;

	return (const char *)s->req->buf;
}


/* A plain socket on 127.0.0.1 of type, bound to a free port and
 * listening when listening; *port is its port. */
static int plain_socket(bool listening, uint16_t *port)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	if (listening)
		assert_int_equal(listen(fd, 4), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	*port = ntohs(sin.sin_port);

	return fd;
}


/* ---- URLs ------------------------------------------------------------- */

static void url_good(const char *url, const char *addr, uint16_t port,
		     const char *host, const char *target)
{
	struct fetch_url u;
	struct sa want;

	assert_int_equal(fetch_url_parse(&u, url), 0);
	assert_int_equal(sa_set_str(&want, addr, port), 0);
	if (!sa_cmp(&u.addr, &want, SA_ALL))
		fail_msg("%s: not the address %s port %u", url, addr, port);
	assert_string_equal(u.host, host);
	assert_string_equal(u.target, target);
}


static void test_url_good(void **state)
{
	(void)state;

	url_good("http://127.0.0.1:8080/r/x?call=1", "127.0.0.1", 8080,
		 "127.0.0.1:8080", "/r/x?call=1");
	url_good("http://192.0.2.1", "192.0.2.1", 80, "192.0.2.1", "/");
	url_good("http://192.0.2.1/", "192.0.2.1", 80, "192.0.2.1", "/");
	url_good("HTTP://LocalHost:81?q=1", "127.0.0.1", 81, "LocalHost:81",
		 "/?q=1");
	url_good("http://localhost", "127.0.0.1", 80, "localhost", "/");
	url_good("http://[::1]:5080/a/b#frag", "::1", 5080, "[::1]:5080",
		 "/a/b");
	url_good("http://[2001:db8::7]/", "2001:db8::7", 80, "[2001:db8::7]",
		 "/");
	url_good("http://10.0.0.1:65535/#", "10.0.0.1", 65535,
		 "10.0.0.1:65535", "/");
	url_good("http://10.0.0.1:1", "10.0.0.1", 1, "10.0.0.1:1", "/");
	url_good("http://10.0.0.1:00080/%41?a=%20", "10.0.0.1", 80,
		 "10.0.0.1:00080", "/%41?a=%20");
}


static void test_url_bad(void **state)
{
	static const char *const bad[] = {
		"", "127.0.0.1/x", "ftp://127.0.0.1/", "https://127.0.0.1/",
		"http:/127.0.0.1/", "http://", "http:///x", "http://?q",
		"http://:80/", "http://127.0.0.1:0/", "http://127.0.0.1:70000/",
		"http://127.0.0.1:65536/", "http://127.0.0.1:/",
		"http://127.0.0.1:8a/", "http://127.0.0.1:-1/",
		"http://127.0.0.1:99999999999999999999/",
		"http://example.com/", "http://localhost.localdomain/",
		"http://localhos/", "http://user@127.0.0.1/",
		"http://user:pw@localhost/", "http://[::1/", "http://[]/",
		"http://[127.0.0.1]/", "http://[::1]x/", "http://::1/",
		"http://1.2.3/", "http://256.1.1.1/", "http://1.2.3.4.5/",
		"http://127.0.0.1/a b", "http://127.0.0.1/\x01",
		"http://127.0.0.1/\xc3\xa9", "http://127.0.0.1/\r\nX: y",
		"http://[fe80::1%25eth0]/",
	};
	struct fetch_url u;
	struct fetch *f = NULL;
	struct got g;
	char *longurl;
	long mark = leakcheck_mark();
	(void)state;

	memset(&g, 0, sizeof(g));
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		if (fetch_url_parse(&u, bad[i]) != EINVAL)
			fail_msg("accepted: \"%s\"", bad[i]);
		assert_int_equal(fetch_get(&f, bad[i], 1000, 100, done_h, &g),
				 EINVAL);
		assert_null(f);
	}

	/* Just over the longest URL taken. */
	longurl = malloc(FETCH_URL_MAX + 2);
	assert_non_null(longurl);
	memcpy(longurl, "http://127.0.0.1/", 17);
	memset(longurl + 17, 'a', FETCH_URL_MAX + 1 - 17);
	longurl[FETCH_URL_MAX + 1] = '\0';
	assert_int_equal(fetch_url_parse(&u, longurl), EINVAL);
	longurl[FETCH_URL_MAX] = '\0';
	assert_int_equal(fetch_url_parse(&u, longurl), 0);
	assert_int_equal(strlen(u.target), FETCH_URL_MAX - 16);
	free(longurl);

	/* The other arguments. */
	assert_int_equal(fetch_url_parse(NULL, "http://127.0.0.1/"), EINVAL);
	assert_int_equal(fetch_url_parse(&u, NULL), EINVAL);
	assert_int_equal(fetch_get(NULL, "http://127.0.0.1/", 1000, 100,
				   done_h, &g), EINVAL);
	assert_int_equal(fetch_get(&f, NULL, 1000, 100, done_h, &g), EINVAL);
	assert_int_equal(fetch_get(&f, "http://127.0.0.1/", 0, 100, done_h,
				   &g), EINVAL);
	assert_int_equal(fetch_get(&f, "http://127.0.0.1/", 1000, 100, NULL,
				   &g), EINVAL);
	assert_null(f);
	fetch_capture_set(NULL, true);

	/* No callback comes later either. */
	idle(50);
	assert_int_equal(g.n, 0);
	leakcheck_assert(mark);
}


/* ---- the chunked decoder ---------------------------------------------- */

static const char chunked_ok[] =
	"4\r\nWiki\r\n"
	"5;name=value;x=\"q\"\r\npedia\r\n"
	"E  \r\n in\r\n\r\nchunks.\r\n"
	"000\r\n"
	"X-Trailer: 1\r\n"
	"\r\n";

static const char chunked_data[] = "Wikipedia in\r\n\r\nchunks.";


/* Feeds text in pieces of step bytes; returns the first error. */
static int chunked_run(const char *text, size_t len, size_t step,
		       size_t max, struct mbuf *out, size_t *usedp)
{
	struct fetch_chunked ch;
	size_t off = 0, used;
	int err = 0;

	memset(&ch, 0, sizeof(ch));
	*usedp = 0;
	while (off < len && !fetch_chunked_done(&ch)) {
		size_t n = len - off < step ? len - off : step;

		err = fetch_chunked_feed(&ch, (const uint8_t *)text + off, n,
					 out, max, &used);
		*usedp += used;
		if (err)
			return err;
		assert_true(used == n || fetch_chunked_done(&ch));
		off += used;
	}

	return fetch_chunked_done(&ch) ? 0 : ENODATA;
}


static void test_chunked(void **state)
{
	static const struct { const char *text; int err; } bad[] = {
		{ "x\r\n", EBADMSG },
		{ "\r\n", EBADMSG },
		{ ";x\r\n", EBADMSG },
		{ "4\rX", EBADMSG },
		{ "4\r\nWikiX", EBADMSG },
		{ "4\r\nWiki\rX", EBADMSG },
		{ "4;\x01\r\n", EBADMSG },
		{ "4 4\r\n", EBADMSG },
		{ "-4\r\n", EBADMSG },
		{ "0\r\nX: y\rZ", EBADMSG },
		{ "ffffffffffffffffffff\r\n", EFBIG },
		{ "4\r\nWiki\r\n", ENODATA },
		{ "0\r\nX: y\r\n", ENODATA },
	};
	static const size_t steps[] = { 1, 2, 3, 7, 1000 };
	char text[sizeof(chunked_ok) + 8];
	size_t used, n = strlen(chunked_ok);
	long mark = leakcheck_mark();
	struct mbuf *out = mbuf_alloc(64);
	(void)state;

	assert_non_null(out);

	/* Split anywhere, the same data; what follows the body stays. */
	memcpy(text, chunked_ok, n);
	memcpy(text + n, "EXTRA", 6);
	for (size_t i = 0; i < ARRAY_LEN(steps); i++) {
		mbuf_reset(out);
		assert_int_equal(chunked_run(text, n + 5, steps[i], 100, out,
					     &used), 0);
		assert_int_equal(used, n);
		assert_int_equal(out->end, strlen(chunked_data));
		assert_memory_equal(out->buf, chunked_data, out->end);
	}

	/* Whitespace before the extensions. */
	mbuf_reset(out);
	assert_int_equal(chunked_run("3 \t; x=\"a b\"\r\nabc\r\n0\r\n\r\n",
				     24, 1, 100, out, &used), 0);
	assert_int_equal(out->end, 3);

	/* Bare LFs end lines too. */
	mbuf_reset(out);
	assert_int_equal(chunked_run("3\nabc\n0\n\n", 9, 1, 100, out, &used),
			 0);
	assert_int_equal(out->end, 3);

	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		mbuf_reset(out);
		if (chunked_run(bad[i].text, strlen(bad[i].text), 1, 1000,
				out, &used) != bad[i].err)
			fail_msg("\"%s\": not %d", bad[i].text, bad[i].err);
	}

	/* The limit: exactly max is taken; one more byte is refused at the
	 * size line, keeping the chunks before it. */
	mbuf_reset(out);
	assert_int_equal(chunked_run("5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n",
				     27, 4, 10, out, &used), 0);
	assert_int_equal(out->end, 10);
	mbuf_reset(out);
	assert_int_equal(chunked_run("5\r\nhello\r\n6\r\nworld!\r\n0\r\n\r\n",
				     28, 4, 10, out, &used), EFBIG);
	assert_int_equal(out->end, 5);

	/* No limit at all: a size of 2^64 does not wrap to the last chunk
	 * (0), whose empty trailer would end the body. */
	mbuf_reset(out);
	assert_int_equal(chunked_run("10000000000000000\r\n\r\n", 21, 1,
				     SIZE_MAX, out, &used), EFBIG);
	assert_int_equal(used, 17);
	mbuf_reset(out);
	assert_int_equal(chunked_run("ffffffffffffffff\r\n", 18, 1, SIZE_MAX,
				     out, &used), ENODATA);

	/* Lines of endless extensions or trailers are refused. */
	{
		size_t big = 10000;
		char *t = malloc(big + 1);

		assert_non_null(t);
		memset(t, 'x', big);
		t[big] = '\0';
		memcpy(t, "1;", 2);
		mbuf_reset(out);
		assert_int_equal(chunked_run(t, big, 512, 100, out, &used),
				 EBADMSG);
		memcpy(t, "0\r\nX: ", 6);
		assert_int_equal(chunked_run(t, big, 512, 100, out, &used),
				 EBADMSG);
		free(t);
	}

	assert_int_equal(fetch_chunked_feed(NULL, (const uint8_t *)"0", 1,
					    out, 1, &used), EINVAL);
	assert_false(fetch_chunked_done(NULL));

	mem_deref(out);
	leakcheck_assert(mark);
}


/* ---- against the embedded server -------------------------------------- */

static void test_wav(void **state)
{
	const struct resource *res;
	struct env env;
	struct got g;
	char url[128];
	(void)state;

	env_start(&env);
	res = table_resource(env.t, "ringback-default");
	assert_non_null(res);

	url_of(url, sizeof(url), env.h, "/r/ringback-default?call=x");
	run(&g, url, TIMEOUT_MS, 1024 * 1024, false);
	assert_int_equal(g.r.err, 0);
	assert_int_equal(g.r.scode, 200);
	assert_string_equal(g.r.why, "200 OK");
	assert_string_equal(g.r.ctype, "audio/wav");
	assert_int_equal(g.r.bytes, res->size);
	assert_memory_equal(g.body, res->data, res->size);
	check_times(&g.r);
	got_reset(&g);

	/* By name, and with a limit of exactly the body's size. */
	(void)re_snprintf(url, sizeof(url), "http://localhost:%u/r/t1",
			  sa_port(httpd_laddr(env.h)));
	run(&g, url, TIMEOUT_MS, 10, false);
	assert_int_equal(g.r.err, 0);
	assert_int_equal(g.r.scode, 200);
	assert_string_equal(g.r.ctype, "text/plain");
	assert_int_equal(g.r.bytes, 10);
	assert_memory_equal(g.body, "0123456789", 10);

	/* The handler may free the fetch. */
	got_reset(&g);
	g.free_f = true;
	assert_int_equal(fetch_get(&g.f, url, TIMEOUT_MS, 10, done_h, &g), 0);
	looprun(WATCHDOG_MS);
	assert_int_equal(g.n, 1);
	assert_null(g.f);
	assert_int_equal(g.r.bytes, 10);
	got_reset(&g);

	env_stop(&env);
}


static void test_status(void **state)
{
	struct env env;
	struct got g;
	char url[128];
	(void)state;

	env_start(&env);

	/* Any status is an answer: err 0, the status line in why. */
	url_of(url, sizeof(url), env.h, "/r/nosuch");
	run(&g, url, TIMEOUT_MS, 4096, false);
	assert_int_equal(g.r.err, 0);
	assert_int_equal(g.r.scode, 404);
	assert_string_equal(g.r.why, "404 Not Found");
	check_times(&g.r);
	got_reset(&g);

	/* Another path of the server. */
	url_of(url, sizeof(url), env.h, "/healthz");
	run(&g, url, TIMEOUT_MS, 4096, false);
	assert_int_equal(g.r.err, 0);
	assert_int_equal(g.r.scode, 200);
	got_reset(&g);

	env_stop(&env);
}


static void test_efbig(void **state)
{
	struct env env;
	struct got g;
	char url[128];
	(void)state;

	env_start(&env);

	/* A Content-Length over the limit ends the fetch before the body. */
	url_of(url, sizeof(url), env.h, "/r/ringback-default");
	run(&g, url, TIMEOUT_MS, 1000, false);
	assert_int_equal(g.r.err, EFBIG);
	assert_int_equal(g.r.scode, 200);
	assert_string_equal(g.r.ctype, "audio/wav");
	assert_int_equal(g.r.bytes, 0);
	assert_non_null(strstr(g.r.why, "over 1000 bytes"));
	got_reset(&g);

	url_of(url, sizeof(url), env.h, "/r/t1");
	run(&g, url, TIMEOUT_MS, 9, false);
	assert_int_equal(g.r.err, EFBIG);
	got_reset(&g);

	env_stop(&env);
}


static void test_refused(void **state)
{
	struct got g;
	char url[64];
	uint16_t port;
	long mark = leakcheck_mark();
	int fd;
	(void)state;

	/* Bound but not listening: the port is ours, and refuses. */
	fd = plain_socket(false, &port);
	(void)re_snprintf(url, sizeof(url), "http://127.0.0.1:%u/r/x", port);
	run(&g, url, TIMEOUT_MS, 100, false);
	assert_int_equal(g.r.err, ECONNREFUSED);
	assert_string_equal(g.r.why, "connection refused");
	assert_int_equal(g.r.scode, 0);
	assert_string_equal(g.r.ctype, "");
	assert_int_equal(g.r.bytes, 0);
	assert_int_equal(g.r.ms_connect, 0);
	assert_int_equal(g.r.ms_first_byte, 0);
	assert_true(g.r.ms_done < WATCHDOG_MS);
	got_reset(&g);
	close(fd);

	leakcheck_assert(mark);
}


static void test_timeout(void **state)
{
	struct got g;
	char url[64];
	uint16_t port;
	long mark = leakcheck_mark();
	int fd;
	(void)state;

	/* The kernel completes the handshake on a listening socket that
	 * nobody accepts from; the request is taken and never answered. */
	fd = plain_socket(true, &port);
	(void)re_snprintf(url, sizeof(url), "http://127.0.0.1:%u/r/x", port);
	run(&g, url, 300, 100, false);
	assert_int_equal(g.r.err, ETIMEDOUT);
	assert_string_equal(g.r.why, "no response within 300 ms");
	assert_int_equal(g.r.scode, 0);
	assert_int_equal(g.r.ms_first_byte, 0);
	assert_true(g.r.ms_done >= 300);
	assert_true(g.r.ms_done < 300 + 2000);
	got_reset(&g);
	close(fd);

	leakcheck_assert(mark);
}


/* ---- against scripted servers ----------------------------------------- */

static void test_request(void **state)
{
	static const char *const script[] = {
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", NULL };
	struct srv s;
	struct got g;
	char url[160];
	const char *req;
	long mark = leakcheck_mark();
	(void)state;

	srv_start(&s, script, 0, false);
	(void)re_snprintf(url, sizeof(url), "http://localhost:%u?a=1&b=2#top",
			  sa_port(&s.laddr));
	run(&g, url, TIMEOUT_MS, 100, false);
	assert_int_equal(g.r.err, 0);
	assert_int_equal(g.r.bytes, 2);

	/* Exactly this, and nothing after it. */
	req = srv_req(&s);
	(void)re_snprintf(url, sizeof(url),
			  "GET /?a=1&b=2 HTTP/1.1\r\n"
			  "Host: localhost:%u\r\n"
			  "User-Agent: cmrlab/" CMRLAB_VERSION "\r\n"
			  "Accept: */*\r\n"
			  "Connection: close\r\n\r\n", sa_port(&s.laddr));
	assert_string_equal(req, url);
	got_reset(&g);
	srv_stop(&s);

	leakcheck_assert(mark);
}


static void test_chunked_server(void **state)
{
	static const char *const script[] = {
		"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8",
		"\r\nTransfer-Encoding: chunked\r\n\r",
		"\n4\r\nWi", "ki\r\n5\r", "\npedia\r\n",
		"E\r\n in\r\n\r\nchunks.",
		"\r\n0\r\n", "\r\n", NULL };
	struct srv s;
	struct got g;
	long mark = leakcheck_mark();
	(void)state;

	/* Pieces apart in time, so that the client sees them apart; the
	 * server holds the connection open: the body's end is its own. */
	srv_start(&s, script, 15, true);
	run(&g, s.url, TIMEOUT_MS, 100, false);
	assert_int_equal(g.r.err, 0);
	assert_int_equal(g.r.scode, 200);
	assert_string_equal(g.r.ctype, "text/plain; charset=utf-8");
	assert_int_equal(g.r.bytes, strlen(chunked_data));
	assert_memory_equal(g.body, chunked_data, g.r.bytes);
	assert_true(g.r.ms_done >= g.r.ms_first_byte + 15 * 6);
	check_times(&g.r);
	got_reset(&g);

	/* The same over the limit. */
	run(&g, s.url, TIMEOUT_MS, 8, false);
	assert_int_equal(g.r.err, EFBIG);
	assert_int_equal(g.r.bytes, 4);
	got_reset(&g);
	srv_stop(&s);

	leakcheck_assert(mark);
}


static void test_until_close(void **state)
{
	static const char *const script[] = {
		"HTTP/1.0 200 OK\r\nContent-Type: audio/wav\r\n\r\nab",
		"cd", "ef", NULL };
	struct srv s;
	struct got g;
	long mark = leakcheck_mark();
	(void)state;

	srv_start(&s, script, 10, false);
	run(&g, s.url, TIMEOUT_MS, 100, false);
	assert_int_equal(g.r.err, 0);
	assert_int_equal(g.r.scode, 200);
	assert_int_equal(g.r.bytes, 6);
	assert_memory_equal(g.body, "abcdef", 6);
	got_reset(&g);

	/* Over the limit: what fits is kept. */
	run(&g, s.url, TIMEOUT_MS, 3, false);
	assert_int_equal(g.r.err, EFBIG);
	assert_int_equal(g.r.bytes, 3);
	assert_memory_equal(g.body, "abc", 3);
	assert_string_equal(g.r.why, "body over 3 bytes");
	got_reset(&g);
	srv_stop(&s);

	leakcheck_assert(mark);
}


/* One scripted answer; returns the result with the body copy freed. */
static struct fetch_result scripted(const char *const *script, bool hold,
				    size_t max)
{
	struct fetch_result r;
	struct srv s;
	struct got g;

	srv_start(&s, script, 5, hold);
	run(&g, s.url, TIMEOUT_MS, max, false);
	r = g.r;
	got_reset(&g);
	srv_stop(&s);

	return r;
}


static void test_bad_responses(void **state)
{
	static const char *const bad_status[] = {
		"HTTP/1.1 OK 200\r\nContent-Length: 0\r\n\r\n", NULL };
	static const char *const bad_proto[] = {
		"ICY 200 OK\r\n\r\n", NULL };
	static const char *const bad_ver[] = {
		"HTTP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n", NULL };
	static const char *const bad_code[] = {
		"HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n", NULL };
	static const char *const bad_hdr[] = {
		"HTTP/1.1 200 OK\r\n: x\r\n\r\n", NULL };
	static const char *const bad_clen[] = {
		"HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\nab", NULL };
	static const char *const two_clen[] = {
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
		"Content-Length: 3\r\n\r\nabc", NULL };
	static const char *const short_body[] = {
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nabc", NULL };
	static const char *const short_chunks[] = {
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		"5\r\nab", NULL };
	static const char *const gzip[] = {
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
		"0\r\n\r\n", NULL };
	static const char *const bad_chunks[] = {
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		"zz\r\n", NULL };
	static const char *const half_head[] = {
		"HTTP/1.1 200 OK\r\nContent-", NULL };
	static const char *const nothing[] = { "", NULL };
	static const char *const switching[] = {
		"HTTP/1.1 101 Switching Protocols\r\n\r\n", NULL };
	struct fetch_result r;
	long mark = leakcheck_mark();
	(void)state;

	r = scripted(bad_status, false, 100);
	assert_int_equal(r.err, EBADMSG);
	assert_int_equal(r.scode, 0);
	assert_int_equal(scripted(bad_proto, false, 100).err, EBADMSG);
	assert_int_equal(scripted(bad_ver, false, 100).err, EBADMSG);
	assert_int_equal(scripted(bad_code, false, 100).err, EBADMSG);
	assert_int_equal(scripted(bad_hdr, false, 100).err, EBADMSG);

	r = scripted(bad_clen, false, 100);
	assert_int_equal(r.err, EBADMSG);
	assert_int_equal(r.scode, 200);
	assert_string_equal(r.why, "bad Content-Length");
	assert_int_equal(scripted(two_clen, false, 100).err, EBADMSG);

	r = scripted(short_body, false, 100);
	assert_int_equal(r.err, EBADMSG);
	assert_int_equal(r.bytes, 3);
	assert_string_equal(r.why, "connection closed after 3 of 5 body bytes");

	r = scripted(short_chunks, false, 100);
	assert_int_equal(r.err, EBADMSG);
	assert_int_equal(r.bytes, 2);
	r = scripted(gzip, false, 100);
	assert_int_equal(r.err, EBADMSG);
	assert_string_equal(r.why, "unsupported Transfer-Encoding");
	r = scripted(bad_chunks, true, 100);
	assert_int_equal(r.err, EBADMSG);
	assert_string_equal(r.why, "bad chunked body");

	r = scripted(half_head, false, 100);
	assert_int_equal(r.err, EBADMSG);
	assert_string_equal(r.why, "connection closed inside the response "
			    "head");
	r = scripted(nothing, false, 100);
	assert_int_equal(r.err, EBADMSG);
	assert_string_equal(r.why, "connection closed without a response");
	assert_int_equal(scripted(switching, true, 100).err, EBADMSG);

	/* A head that never ends is not waited for past 16 KiB. */
	{
		const char *script[] = { NULL, NULL };
		char *head = malloc(20001);
		static const char start[] = "HTTP/1.1 200 OK\r\nX-Long: ";

		assert_non_null(head);
		memcpy(head, start, strlen(start));
		memset(head + strlen(start), 'a', 20000 - strlen(start));
		head[20000] = '\0';
		script[0] = head;
		r = scripted(script, true, 100);
		assert_int_equal(r.err, EBADMSG);
		assert_string_equal(r.why, "response head too long");
		free(head);
	}

	leakcheck_assert(mark);
}


static void test_odd_responses(void **state)
{
	static const char *const interim[] = {
		"HTTP/1.1 100 Continue\r\n\r\n",
		"HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n"
		"HTTP/1.1 200 OK\r\n"
		"Content-Length: 3\r\n\r\nabc", NULL };
	static const char *const no_content[] = {
		"HTTP/1.1 204 No Content\r\n\r\n", NULL };
	static const char *const lf_only[] = {
		"HTTP/1.1 503 Service Unavailable\nContent-Length: 1\n\nx",
		NULL };
	static const char *const clen_zero[] = {
		"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", NULL };
	static const char *const extra[] = {
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nabEXTRA", NULL };
	struct fetch_result r;
	long mark = leakcheck_mark();
	(void)state;

	/* Interim answers are skipped, split or together. */
	r = scripted(interim, true, 100);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.scode, 200);
	assert_int_equal(r.bytes, 3);

	/* No body, and the end is known without a close. */
	r = scripted(no_content, true, 100);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.scode, 204);
	assert_string_equal(r.why, "204 No Content");
	assert_int_equal(r.bytes, 0);
	r = scripted(clen_zero, true, 100);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.bytes, 0);

	r = scripted(lf_only, true, 100);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.scode, 503);
	assert_string_equal(r.why, "503 Service Unavailable");
	assert_int_equal(r.bytes, 1);

	/* Bytes after the body are not the body. */
	r = scripted(extra, false, 100);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.bytes, 2);

	leakcheck_assert(mark);
}


static void test_unreachable(void **state)
{
	struct got g;
	long mark = leakcheck_mark();
	(void)state;

	/* Linux refuses a TCP connect to a broadcast address at once,
	 * without a packet: the failure still comes from the loop. */
	run(&g, "http://255.255.255.255:80/", TIMEOUT_MS, 100, false);
	assert_int_not_equal(g.r.err, 0);
	assert_int_not_equal(g.r.err, ETIMEDOUT);
	assert_true(g.r.why[0] != '\0');
	assert_int_equal(g.r.ms_connect, 0);
	got_reset(&g);

	leakcheck_assert(mark);
}


/* ---- cancelling ------------------------------------------------------- */

static void test_cancel(void **state)
{
	static const char *const script[] = {
		"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc", NULL };
	struct srv s;
	struct got g;
	uint16_t port;
	char url[64];
	long mark = leakcheck_mark();
	int fd;
	(void)state;

	/* Before the connection is up. */
	memset(&g, 0, sizeof(g));
	fd = plain_socket(true, &port);
	(void)re_snprintf(url, sizeof(url), "http://127.0.0.1:%u/", port);
	assert_int_equal(fetch_get(&g.f, url, 200, 100, done_h, &g), 0);
	g.f = mem_deref(g.f);
	idle(300);
	assert_int_equal(g.n, 0);

	/* Waiting for the answer, past what would have been the
	 * timeout. */
	assert_int_equal(fetch_get(&g.f, url, 200, 100, done_h, &g), 0);
	idle(50);
	g.f = mem_deref(g.f);
	idle(300);
	assert_int_equal(g.n, 0);
	close(fd);

	/* Inside the body. */
	srv_start(&s, script, 0, true);
	assert_int_equal(fetch_get(&g.f, s.url, 1000, 1000, done_h, &g), 0);
	idle(100);
	assert_int_equal(g.n, 0);
	assert_non_null(s.tc);
	g.f = mem_deref(g.f);
	idle(50);
	assert_int_equal(g.n, 0);

	/* The server saw the client go. */
	assert_null(s.tc);
	srv_stop(&s);

	leakcheck_assert(mark);
}


/* ---- the capture ------------------------------------------------------ */

/* The TCP payload of a captured packet. */
static const uint8_t *tcp_payload(const struct rec *r, size_t *lenp)
{
	size_t ip = ip_hlen(r->pkt);

	*lenp = ip_l4len(r->pkt) - PCAP_TCP;
	return r->pkt + ip + PCAP_TCP;
}


/*
 * Walks a captured exchange: the handshake first, then every segment's
 * sequence number must be where its side's stream stands and every ACK
 * where the other's does; the checksums hold; no payload is over 1400
 * bytes.  Appends each side's payload to cli and srv.
 */
static void walk(const struct rec *r, unsigned n, uint16_t cport,
		 uint16_t sport, struct mbuf *cli, struct mbuf *srv)
{
	uint32_t next[2];    /* [0]: the client's, [1]: the server's */

	assert_true(n >= 3);

	for (unsigned i = 0; i < n; i++) {
		const uint8_t *t = r[i].pkt + ip_hlen(r[i].pkt);
		bool out = be16(t) == cport;
		uint32_t seq = be32(t + 4), ack = be32(t + 8);
		uint8_t fl = t[13];
		const uint8_t *pl;
		size_t len;

		assert_int_equal(ip_proto(r[i].pkt), 6);
		assert_true(l4_sum_ok(r[i].pkt));
		assert_int_equal(be16(t), out ? cport : sport);
		assert_int_equal(be16(t + 2), out ? sport : cport);
		pl = tcp_payload(&r[i], &len);
		assert_true(len <= 1400);

		if (i == 0) {
			assert_true(out);
			assert_int_equal(fl, PCAPW_SYN);
			assert_int_equal(len, 0);
			next[0] = seq + 1;
			continue;
		}
		if (i == 1) {
			assert_false(out);
			assert_int_equal(fl, PCAPW_SYN | PCAPW_ACK);
			assert_int_equal(ack, next[0]);
			next[1] = seq + 1;
			continue;
		}

		assert_true(fl & PCAPW_ACK);
		assert_false(fl & PCAPW_SYN);
		assert_int_equal(seq, next[out ? 0 : 1]);
		assert_int_equal(ack, next[out ? 1 : 0]);
		assert_int_equal(mbuf_write_mem(out ? cli : srv, pl, len), 0);
		next[out ? 0 : 1] += (uint32_t)len + !!(fl & PCAPW_FIN);
	}
}


static void test_capture(void **state)
{
	const struct resource *res;
	struct mbuf *cli, *srv;
	struct env env;
	struct got g;
	struct rec *r;
	char path[64], url[128];
	uint8_t *buf;
	size_t len;
	unsigned n, i, data_in = 0;
	(void)state;

	assert_int_equal(tmpfile_new(path, sizeof(path),
				     "/tmp/cmrlab-fetch-XXXXXX"), 0);

	env_start(&env);
	res = table_resource(env.t, "ringback-default");
	url_of(url, sizeof(url), env.h, "/r/ringback-default");

	/* Without the capture asked for, nothing is written. */
	assert_int_equal(pcapw_open(path), 0);
	run(&g, url, TIMEOUT_MS, 1024 * 1024, false);
	got_reset(&g);
	buf = slurp(path, &len);
	assert_int_equal(len, PCAP_GHDR);
	free(buf);

	run(&g, url, TIMEOUT_MS, 1024 * 1024, true);
	assert_int_equal(g.r.err, 0);
	assert_int_equal(g.r.bytes, res->size);
	got_reset(&g);
	pcapw_close();

	buf = slurp(path, &len);
	r = calloc(4096, sizeof(*r));
	assert_non_null(r);
	n = parse(buf, len, r, 4096);

	cli = mbuf_alloc(512);
	srv = mbuf_alloc(res->size + 512);
	assert_non_null(cli);
	assert_non_null(srv);

	/* The real addresses: from 127.0.0.1 to the server's port. */
	assert_int_equal(r[0].pkt[0], 0x45);
	assert_memory_equal(r[0].pkt + 12, "\x7f\x00\x00\x01", 4);
	assert_memory_equal(r[0].pkt + 16, "\x7f\x00\x00\x01", 4);
	assert_int_equal(be16(r[0].pkt + PCAP_IP4 + 2),
			 sa_port(httpd_laddr(env.h)));
	walk(r, n, be16(r[0].pkt + PCAP_IP4), sa_port(httpd_laddr(env.h)),
	     cli, srv);

	/* The third packet is the handshake's ACK; the request follows. */
	assert_int_equal(r[2].pkt[PCAP_IP4 + 13], PCAPW_ACK);
	assert_int_equal(ip_l4len(r[2].pkt), PCAP_TCP);
	assert_true(cli->end > 40);
	assert_memory_equal(cli->buf, "GET /r/ringback-default HTTP/1.1\r\n",
			    34);
	assert_memory_equal(cli->buf + cli->end - 4, "\r\n\r\n", 4);

	/* The answer, whole: the status line, and the resource after the
	 * head. */
	assert_true(srv->end > res->size);
	assert_memory_equal(srv->buf, "HTTP/1.1 200 OK\r\n", 17);
	assert_memory_equal(srv->buf + srv->end - res->size, res->data,
			    res->size);

	/* Every data segment is acknowledged by the next packet. */
	for (i = 3; i + 1 < n; i++) {
		size_t plen = ip_l4len(r[i].pkt) - PCAP_TCP;

		if (!plen)
			continue;
		++data_in;
		assert_int_equal(ip_l4len(r[i + 1].pkt), PCAP_TCP);
		assert_int_equal(r[i + 1].pkt[PCAP_IP4 + 13], PCAPW_ACK);
		assert_int_not_equal(be16(r[i + 1].pkt + PCAP_IP4),
				     be16(r[i].pkt + PCAP_IP4));
	}
	assert_true(data_in >= 1 + (res->size + 1399) / 1400);

	/* The client had all of the body and closed first (the length was
	 * known): its FIN, the server's, the last ACK. */
	assert_int_equal(r[n - 3].pkt[PCAP_IP4 + 13], PCAPW_FIN | PCAPW_ACK);
	assert_int_equal(be16(r[n - 3].pkt + PCAP_IP4),
			 be16(r[0].pkt + PCAP_IP4));
	assert_int_equal(r[n - 2].pkt[PCAP_IP4 + 13], PCAPW_FIN | PCAPW_ACK);
	assert_int_equal(r[n - 1].pkt[PCAP_IP4 + 13], PCAPW_ACK);

	mem_deref(cli);
	mem_deref(srv);
	free(r);
	free(buf);
	unlink(path);
	env_stop(&env);
}


static void test_capture_ends(void **state)
{
	static const char *const closing[] = {
		"HTTP/1.1 200 OK\r\n\r\nuntil close", NULL };
	struct mbuf *cli, *srv;
	struct srv s;
	struct got g;
	struct rec r[64];
	char path[64];
	uint8_t *buf;
	size_t len;
	unsigned n;
	uint16_t cport;
	long mark = leakcheck_mark();
	(void)state;

	assert_int_equal(tmpfile_new(path, sizeof(path),
				     "/tmp/cmrlab-fetch-XXXXXX"), 0);
	cli = mbuf_alloc(512);
	srv = mbuf_alloc(512);

	/* The server closes first: its FIN comes first. */
	assert_int_equal(pcapw_open(path), 0);
	srv_start(&s, closing, 0, false);
	run(&g, s.url, TIMEOUT_MS, 100, true);
	assert_int_equal(g.r.err, 0);
	got_reset(&g);
	pcapw_close();

	buf = slurp(path, &len);
	n = parse(buf, len, r, ARRAY_LEN(r));
	cport = be16(r[0].pkt + PCAP_IP4);
	walk(r, n, cport, sa_port(&s.laddr), cli, srv);
	assert_int_equal(srv->end, strlen(closing[0]));
	assert_int_equal(r[n - 3].pkt[PCAP_IP4 + 13], PCAPW_FIN | PCAPW_ACK);
	assert_int_not_equal(be16(r[n - 3].pkt + PCAP_IP4), cport);
	assert_int_equal(r[n - 1].pkt[PCAP_IP4 + 13], PCAPW_ACK);
	free(buf);

	/* Cancelled while waiting: the client resets. */
	assert_int_equal(pcapw_open(path), 0);
	s.hold = true;
	s.script = (const char *const[]){ "HTTP/1.1 200 OK\r\n", NULL };
	assert_int_equal(fetch_get(&g.f, s.url, 1000, 100, done_h, &g), 0);
	fetch_capture_set(g.f, true);
	idle(50);
	g.f = mem_deref(g.f);
	pcapw_close();
	assert_int_equal(g.n, 0);

	buf = slurp(path, &len);
	n = parse(buf, len, r, ARRAY_LEN(r));
	mbuf_reset(cli);
	mbuf_reset(srv);
	walk(r, n, be16(r[0].pkt + PCAP_IP4), sa_port(&s.laddr), cli, srv);
	assert_int_equal(r[n - 1].pkt[PCAP_IP4 + 13], PCAPW_RST | PCAPW_ACK);
	assert_int_equal(srv->end, 17);
	free(buf);

	/* A capture asked for with no file open writes nothing, and
	 * costs nothing. */
	run(&g, s.url, 300, 100, true);
	assert_int_equal(g.r.err, ETIMEDOUT);
	got_reset(&g);

	srv_stop(&s);
	mem_deref(cli);
	mem_deref(srv);
	unlink(path);
	leakcheck_assert(mark);
}


static void test_ipv6(void **state)
{
	struct httpd *h6 = NULL;
	struct env env;
	struct got g;
	struct sa sa;
	char url[128];
	(void)state;

	env_start(&env);
	assert_int_equal(sa_set_str(&sa, "::1", 0), 0);
	if (httpd_alloc(&h6, &sa)) {
		env_stop(&env);
		skip();
	}

	(void)re_snprintf(url, sizeof(url), "http://[::1]:%u/r/t1",
			  sa_port(httpd_laddr(h6)));
	run(&g, url, TIMEOUT_MS, 100, false);
	assert_int_equal(g.r.err, 0);
	assert_int_equal(g.r.scode, 200);
	assert_int_equal(g.r.bytes, 10);
	got_reset(&g);

	h6 = mem_deref(h6);
	env_stop(&env);
}


/* The group setup makes the libraries' lasting first-use allocations
 * (httpclient.h) and runs one fetch of each kind before any test takes a
 * leak mark. */
static int group_setup(void **state)
{
	static const char *const script[] = {
		"HTTP/1.1 200 OK\r\n\r\nx", NULL };
	struct httpd *h6 = NULL;
	struct env env;
	struct srv s;
	struct got g;
	struct sa sa;
	char url[128];

	if (httpclient_group_setup(state))
		return -1;

	/* The capture numbers its streams from rand_u32(), whose first
	 * call sets up libre's random source (OpenSSL's, which keeps
	 * thousands of blocks for the life of the process). */
	env_start(&env);
	url_of(url, sizeof(url), env.h, "/r/t1");
	if (pcapw_open("/dev/null"))
		return -1;
	run(&g, url, TIMEOUT_MS, 100, true);
	got_reset(&g);
	pcapw_close();
	if (!sa_set_str(&sa, "::1", 0) && !httpd_alloc(&h6, &sa)) {
		(void)re_snprintf(url, sizeof(url), "http://[::1]:%u/r/t1",
				  sa_port(httpd_laddr(h6)));
		run(&g, url, TIMEOUT_MS, 100, false);
		got_reset(&g);
		h6 = mem_deref(h6);
	}
	env_release(&env);

	srv_start(&s, script, 0, false);
	run(&g, s.url, TIMEOUT_MS, 100, false);
	got_reset(&g);
	srv_stop(&s);

	return 0;
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_url_good),
		cmocka_unit_test(test_url_bad),
		cmocka_unit_test(test_chunked),
		cmocka_unit_test(test_wav),
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_efbig),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_unreachable),
		cmocka_unit_test(test_request),
		cmocka_unit_test(test_chunked_server),
		cmocka_unit_test(test_until_close),
		cmocka_unit_test(test_bad_responses),
		cmocka_unit_test(test_odd_responses),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_capture),
		cmocka_unit_test(test_capture_ends),
		cmocka_unit_test(test_ipv6),
	};

	return cmocka_run_group_tests(tests, group_setup, looprun_teardown);
}
