/**
 * @file test_httpd_api.c  The HTTP server's API, health and metrics, and
 *                         the bearer token in front of the API
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <re.h>
#include "core/core.h"
#include "http/http.h"
#include "tests/unit/leakcheck.h"
#include "tests/unit/looprun.h"
#include "tests/unit/http/httpclient.h"


/* ---- API, health, metrics --------------------------------------------- */

/* A URL as libre's JSON encoder writes it: every '/' as "\/". */
static int slash_print(struct re_printf *pf, const char *s)
{
	int err = 0;

	for (; *s && !err; s++)
		err = *s == '/' ? re_hprintf(pf, "\\/") :
			re_hprintf(pf, "%c", *s);

	return err;
}


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
	/* libre's JSON encoder writes '/' as "\/", as JSON allows. */
	re_snprintf(want, sizeof(want), "{\"id\":\"t1\","
		    "\"type\":\"text\\/plain\",\"bytes\":10,"
		    "\"duration_ms\":0,\"url\":\"%H\\/r\\/t1\"}",
		    slash_print, url);
	assert_true(body_has(&rep, want));
	assert_true(body_has(&rep, "\"id\":\"ringback-default\","
			     "\"type\":\"audio\\/wav\",\"bytes\":96044,"
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
	char path[192];
	(void)state;

	env_start(&env);

	fetch(&env, &rep, "GET", "/api/v1/calls", NULL);
	assert_int_equal(rep.code, 200);
	assert_int_equal(rep.blen, 3);
	assert_memory_equal(rep.body, "[]\n", 3);
	reply_reset(&rep);

	assert_int_equal(evlog_call_alloc(&env.cr, "abc@host", "bob",
					  "alice"), 0);

	/* A signed fetch that names the call shows up among its events. */
	signed_path(path, sizeof(path), "t1", "abc@host", urlsign_expiry(0));
	fetch(&env, &rep, "GET", path, "Range: bytes=0-3\r\n");
	assert_int_equal(rep.code, 206);
	reply_reset(&rep);
	signed_path(path, sizeof(path), "nosuch", "abc@host",
		    urlsign_expiry(0));
	fetch(&env, &rep, "GET", path, NULL);
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


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_api),
		cmocka_unit_test(test_calls),
		cmocka_unit_test(test_metrics),
		cmocka_unit_test(test_token),
	};

	return cmocka_run_group_tests_name("http/httpd_api", tests,
					   httpclient_group_setup,
					   looprun_teardown);
}
