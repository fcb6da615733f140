/**
 * @file test_range.c  Range, If-None-Match, resource ids and routes,
 *                     without sockets
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>
#include "http/http_int.h"


struct rvec {
	const char *hdr;
	uint64_t size;
	enum resreq_range want;
	uint64_t off;
	uint64_t len;
};

static const struct rvec rvecs[] = {
	/* one satisfiable range: 206 */
	{ "bytes=0-499",        10000, RANGE_PART,  0,    500   },
	{ "bytes=500-999",      10000, RANGE_PART,  500,  500   },
	{ "bytes=9500-",        10000, RANGE_PART,  9500, 500   },
	{ "bytes=-500",         10000, RANGE_PART,  9500, 500   },
	{ "bytes=0-0",          10000, RANGE_PART,  0,    1     },
	{ "bytes=-1",           10000, RANGE_PART,  9999, 1     },
	{ "bytes=9999-9999",    10000, RANGE_PART,  9999, 1     },
	{ "bytes=0-",           10000, RANGE_PART,  0,    10000 },
	{ "bytes=0-99999",      10000, RANGE_PART,  0,    10000 },
	{ "bytes=100-99999999999999999999999",
				10000, RANGE_PART,  100,  9900  },
	{ "bytes=-20000",       10000, RANGE_PART,  0,    10000 },
	{ "bytes=-99999999999999999999999",
				10000, RANGE_PART,  0,    10000 },
	{ "BYTES=0-1",          10000, RANGE_PART,  0,    2     },
	{ "Bytes=2-3",          10000, RANGE_PART,  2,    2     },
	{ "bytes=0-1 ",         10000, RANGE_PART,  0,    2     },
	{ "bytes=0-1,",         10000, RANGE_PART,  0,    2     },
	{ "bytes=,0-1",         10000, RANGE_PART,  0,    2     },
	{ "bytes=0-",           1,     RANGE_PART,  0,    1     },
	{ "bytes=-5",           3,     RANGE_PART,  0,    3     },
	{ "bytes=007-008",      10000, RANGE_PART,  7,    2     },

	/* syntactically fine, nothing to send: 416 */
	{ "bytes=10000-",       10000, RANGE_UNSAT, 0,    0     },
	{ "bytes=10000-10001",  10000, RANGE_UNSAT, 0,    0     },
	{ "bytes=99999999999999999999999-",
				10000, RANGE_UNSAT, 0,    0     },
	{ "bytes=-0",           10000, RANGE_UNSAT, 0,    0     },
	{ "bytes=1-",           1,     RANGE_UNSAT, 0,    0     },
	{ "bytes=0-",           0,     RANGE_UNSAT, 0,    0     },
	{ "bytes=0-0",          0,     RANGE_UNSAT, 0,    0     },

	/* answered with the whole body: absent, several, or malformed */
	{ NULL,                 10000, RANGE_FULL,  0,    0     },
	{ "",                   10000, RANGE_FULL,  0,    0     },
	{ "bytes=0-1,5-6",      10000, RANGE_FULL,  0,    0     },
	{ "bytes=0-1, 5-6",     10000, RANGE_FULL,  0,    0     },
	{ "bytes=0-1,x",        10000, RANGE_FULL,  0,    0     },
	{ "bytes=5-1",          10000, RANGE_FULL,  0,    0     },
	{ "bytes=",             10000, RANGE_FULL,  0,    0     },
	{ "bytes=,",            10000, RANGE_FULL,  0,    0     },
	{ "bytes",              10000, RANGE_FULL,  0,    0     },
	{ "bytes=abc",          10000, RANGE_FULL,  0,    0     },
	{ "bytes=1",            10000, RANGE_FULL,  0,    0     },
	{ "bytes=-",            10000, RANGE_FULL,  0,    0     },
	{ "bytes=--1",          10000, RANGE_FULL,  0,    0     },
	{ "bytes=1-2-3",        10000, RANGE_FULL,  0,    0     },
	{ "bytes=0x10-",        10000, RANGE_FULL,  0,    0     },
	{ "bytes=+1-2",         10000, RANGE_FULL,  0,    0     },
	{ "bytes=1 -2",         10000, RANGE_FULL,  0,    0     },
	{ "bytes=1- 2",         10000, RANGE_FULL,  0,    0     },
	{ "bytes =0-1",         10000, RANGE_FULL,  0,    0     },
	{ "items=0-1",          10000, RANGE_FULL,  0,    0     },
	{ "bytes=-5",           0,     RANGE_FULL,  0,    0     },
};


static void test_range(void **state)
{
	(void)state;

	for (size_t i = 0; i < ARRAY_SIZE(rvecs); i++) {
		const struct rvec *v = &rvecs[i];
		uint64_t off = 12345, len = 12345;
		enum resreq_range got;

		got = resreq_range_parse(v->hdr, v->size, &off, &len);
		if (got != v->want)
			print_error("Range \"%s\" size %llu: got %d, "
				    "want %d\n",
				    v->hdr ? v->hdr : "(null)",
				    (unsigned long long)v->size, got, v->want);
		assert_int_equal(got, v->want);

		if (v->want != RANGE_PART)
			continue;

		if (off != v->off || len != v->len)
			print_error("Range \"%s\": got %llu+%llu\n", v->hdr,
				    (unsigned long long)off,
				    (unsigned long long)len);
		assert_int_equal(off, v->off);
		assert_int_equal(len, v->len);
		assert_true(off + len <= v->size);
	}

	/* Missing out-parameters are refused, not written. */
	assert_int_equal(resreq_range_parse("bytes=0-1", 10, NULL, NULL),
			 RANGE_FULL);
}


struct evec {
	const char *list;
	const char *etag;
	bool want;
};

static const struct evec evecs[] = {
	{ "\"abc\"",                 "\"abc\"",   true  },
	{ "*",                       "\"abc\"",   true  },
	{ " * ",                     "\"abc\"",   true  },
	{ "W/\"abc\"",               "\"abc\"",   true  },
	{ "\"abc\"",                 "W/\"abc\"", true  },
	{ "\"xyz\", \"abc\"",        "\"abc\"",   true  },
	{ "\"xyz\",\"abc\"",         "\"abc\"",   true  },
	{ "\"xyz\" ,\t\"abc\"",      "\"abc\"",   true  },
	{ ", ,\"abc\"",              "\"abc\"",   true  },
	{ "\"\"",                    "\"\"",      true  },
	{ "\"xyz\"",                 "\"abc\"",   false },
	{ "\"ab\"",                  "\"abc\"",   false },
	{ "\"abcd\"",                "\"abc\"",   false },
	{ "\"ABC\"",                 "\"abc\"",   false },
	{ "abc",                     "\"abc\"",   false },
	{ "\"abc",                   "\"abc\"",   false },
	{ "\"abc\"x",                "\"abc\"",   false },
	{ "\"xyz\" junk, \"abc\"",   "\"abc\"",   false },
	{ "*, \"abc\"",              "\"abc\"",   false },
	{ "w/\"abc\"",               "\"abc\"",   false },
	{ "",                        "\"abc\"",   false },
	{ NULL,                      "\"abc\"",   false },
	{ "\"abc\"",                 NULL,        false },
};


static void test_etag(void **state)
{
	(void)state;

	for (size_t i = 0; i < ARRAY_SIZE(evecs); i++) {
		const struct evec *v = &evecs[i];
		bool got = resreq_etag_match(v->list, v->etag);

		if (got != v->want)
			print_error("If-None-Match [%s] vs [%s]: got %d\n",
				    v->list ? v->list : "(null)",
				    v->etag ? v->etag : "(null)", got);
		assert_int_equal(got, v->want);
	}
}


static void test_id(void **state)
{
	static const struct {
		const char *id;
		bool want;
	} v[] = {
		{ "ringback-default", true },
		{ "a", true },
		{ "A.b_c-9", true },
		{ "..", true },
		{ "0123456789012345678901234567890123456789"
		  "012345678901234567890123", true },     /* 64 */
		{ "0123456789012345678901234567890123456789"
		  "0123456789012345678901234", false },   /* 65 */
		{ "", false },
		{ NULL, false },
		{ "a/b", false },
		{ "../etc/passwd", false },
		{ "a b", false },
		{ "a%2fb", false },
		{ "a?b", false },
		{ "a\tb", false },
		{ "caf\xc3\xa9", false },
	};
	(void)state;

	for (size_t i = 0; i < ARRAY_SIZE(v); i++) {
		if (resreq_id_valid(v[i].id) != v[i].want)
			print_error("id [%s]\n", v[i].id ? v[i].id : "(null)");
		assert_int_equal(resreq_id_valid(v[i].id), v[i].want);
	}
}


static void test_route(void **state)
{
	static const struct {
		const char *url;
		enum httpd_route want;
		const char *id;
	} v[] = {
		{ "/r/ringback-default",      ROUTE_RES,     "ringback-default"
		},
		{ "/r/",                      ROUTE_RES,     "" },
		{ "/healthz",                 ROUTE_HEALTHZ, NULL },
		{ "/metrics",                 ROUTE_METRICS, NULL },
		{ "/api/v1/calls",            ROUTE_CALLS,   NULL },
		{ "/api/v1/calls/abc@host",   ROUTE_CALL,    "abc@host" },
		{ "/api/v1/subscribers",      ROUTE_SUBS,    NULL },
		{ "/api/v1/subscribers/bob",  ROUTE_SUB,     "bob" },
		{ "/api/v1/resources",        ROUTE_RESS,    NULL },
		{ "/api/v1/resources/x.wav",  ROUTE_RESX,    "x.wav" },
		{ "/api/v1/calls/",           ROUTE_NONE,    NULL },
		{ "/api/v1/callsx",           ROUTE_NONE,    NULL },
		{ "/api/v1",                  ROUTE_NONE,    NULL },
		{ "/API/v1/calls",            ROUTE_NONE,    NULL },
		{ "/healthz/",                ROUTE_NONE,    NULL },
		{ "/r",                       ROUTE_NONE,    NULL },
		{ "/",                        ROUTE_PAGE,    NULL },
		{ "//",                       ROUTE_NONE,    NULL },
		{ "/index.html",              ROUTE_NONE,    NULL },
		{ "",                         ROUTE_NONE,    NULL },
		{ NULL,                       ROUTE_NONE,    NULL },
	};
	(void)state;

	for (size_t i = 0; i < ARRAY_SIZE(v); i++) {
		const char *id = "unset";
		enum httpd_route got = httpd_route_parse(v[i].url, &id);

		if (got != v[i].want)
			print_error("route [%s]: got %d\n",
				    v[i].url ? v[i].url : "(null)", got);
		assert_int_equal(got, v[i].want);

		if (v[i].id)
			assert_string_equal(id, v[i].id);
		else
			assert_null(id);
	}
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_range),
		cmocka_unit_test(test_etag),
		cmocka_unit_test(test_id),
		cmocka_unit_test(test_route),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
