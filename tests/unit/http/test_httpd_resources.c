/**
 * @file test_httpd_resources.c  The HTTP server's resources, /r/ID: GET,
 *                               HEAD, ranges, conditional requests,
 *                               errors and two requests on one connection
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>
#include <strings.h>
#include <re.h>
#include "core/core.h"
#include "http/http.h"
#include "tests/unit/leakcheck.h"
#include "tests/unit/looprun.h"
#include "tests/unit/http/httpclient.h"


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


/* Whether the events of env's call so far, as the API prints them,
 * hold s. */
static bool events_have(struct env *env, const char *s)
{
	char *txt = NULL;
	bool has;

	assert_int_equal(re_sdprintf(&txt, "%H", evlog_call_print, env->cr),
			 0);
	has = strstr(txt, s) != NULL;
	mem_deref(txt);

	return has;
}


static void fetch_code(struct env *env, const char *path, unsigned code,
		       const char *body)
{
	struct reply rep;

	fetch(env, &rep, "GET", path, NULL);
	assert_int_equal(rep.code, code);
	if (body)
		assert_true(body_has(&rep, body));
	reply_reset(&rep);
}


/* Only a URL signed for the call adds the call's event; a signature that
 * does not match any of its fields, or has expired, is refused with 403
 * and adds nothing; an unsigned URL is served (loopback) but adds
 * nothing. */
static void test_signed(void **state)
{
	static const char bad_sig[] = "{\"error\":\"the URL's signature "
		"does not match\",\"field\":\"sig\"}";
	static const char expired[] = "{\"error\":\"the URL has expired\","
		"\"field\":\"exp\"}";
	uint64_t exp = urlsign_expiry(0);
	char good[192], path[224], sig[URLSIGN_HEX + 1];
	struct env env;
	(void)state;

	env_start(&env);
	assert_int_equal(evlog_call_alloc(&env.cr, "c9", "bob", "alice"), 0);
	assert_int_equal(urlsign_sign(sig, sizeof(sig), "t1", "c9", exp), 0);

	/* Unsigned: served, no event. */
	fetch_code(&env, "/r/t1?call=c9", 200, "0123456789");
	assert_false(events_have(&env, "resource-fetched"));

	/* Each field altered in turn. */
	re_snprintf(path, sizeof(path), "/r/t1?call=c8&exp=%llu&sig=%s",
		    (unsigned long long)exp, sig);
	fetch_code(&env, path, 403, bad_sig);
	re_snprintf(path, sizeof(path),
		    "/r/ringback-default?call=c9&exp=%llu&sig=%s",
		    (unsigned long long)exp, sig);
	fetch_code(&env, path, 403, bad_sig);
	re_snprintf(path, sizeof(path), "/r/t1?call=c9&exp=%llu&sig=%s",
		    (unsigned long long)exp + 1, sig);
	fetch_code(&env, path, 403, bad_sig);
	sig[0] = sig[0] == '0' ? '1' : '0';
	re_snprintf(path, sizeof(path), "/r/t1?call=c9&exp=%llu&sig=%s",
		    (unsigned long long)exp, sig);
	fetch_code(&env, path, 403, bad_sig);

	/* Half a signature: exp or sig alone. */
	re_snprintf(path, sizeof(path), "/r/t1?call=c9&exp=%llu",
		    (unsigned long long)exp);
	fetch_code(&env, path, 403, bad_sig);
	fetch_code(&env, "/r/t1?call=c9&sig=00", 403, bad_sig);
	assert_false(events_have(&env, "resource-fetched"));

	/* Signed, but the moment has passed. */
	signed_path(path, sizeof(path), "t1", "c9", 1000);
	fetch_code(&env, path, 403, expired);
	assert_false(events_have(&env, "resource-fetched"));

	/* Signed: served, and the call's event. */
	signed_path(good, sizeof(good), "t1", "c9", exp);
	fetch_code(&env, good, 200, "0123456789");
	assert_true(events_have(&env, "\"what\":\"resource-fetched\","
				"\"resource\":\"t1\",\"status\":200,"
				"\"bytes\":10}"));

	env_stop(&env);
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
		cmocka_unit_test(test_signed),
	};

	return cmocka_run_group_tests_name("http/httpd_resources", tests,
					   httpclient_group_setup,
					   looprun_teardown);
}
