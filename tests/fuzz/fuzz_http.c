/**
 * @file fuzz_http.c  Fuzz harness of the HTTP server's request parsers:
 *                    Range, If-None-Match, resource ids (http/resreq.c),
 *                    the API's bearer token and the routes (http/httpd.c)
 *
 * Input: 8 bytes, a little-endian number shifted right by the low 6 bits
 * of its first byte, as the size of the representation (so that small
 * sizes are as likely as large ones); then LF-separated fields: the Range
 * value, the If-None-Match list, an ETag, a resource id, an Authorization
 * value, the API token and a URL path.  Each field is a C string in a
 * heap block of its own exact size, so that a read past its NUL is seen
 * by AddressSanitizer.
 *
 * Checked:
 *  - a range answered with 206 lies inside the representation and is not
 *    empty;
 *  - an ETag matches itself, its weak form, "*" and a list that ends with
 *    it; any list gives a plain yes or no;
 *  - resreq_id_valid() agrees with [A-Za-z0-9._-]{1,64};
 *  - httpd_auth_check() accepts "Bearer TOKEN" (any case, more spaces,
 *    trailing white space) and refuses another token; its answers are
 *    the four it documents;
 *  - a route's id points into the URL after its prefix.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "http/http_int.h"
#include "tests/fuzz/fuzz.h"

enum { FIELDS = 7, ID_MAX = 64 };


static char *str_exact(const char *p, size_t len)
{
	char *s = malloc(len + 1);

	if (!s)
		abort();
	memcpy(s, p, len);
	s[len] = '\0';

	return s;
}


/* a and b joined into a new exact-size string. */
static char *cat(const char *a, const char *b)
{
	size_t al = strlen(a), bl = strlen(b);
	char *s = malloc(al + bl + 1);

	if (!s)
		abort();
	memcpy(s, a, al);
	memcpy(s + al, b, bl + 1);

	return s;
}


static void range_check(const char *hdr, uint64_t size)
{
	uint64_t off = UINT64_MAX, len = UINT64_MAX;
	enum resreq_range r;

	r = resreq_range_parse(hdr, size, &off, &len);
	FUZZ_CHECK(r == RANGE_FULL || r == RANGE_PART || r == RANGE_UNSAT);

	if (r == RANGE_PART) {
		FUZZ_CHECK(len >= 1);
		FUZZ_CHECK(off < size);
		FUZZ_CHECK(len <= size - off);
	}
}


static void etag_check(const char *list, const char *field)
{
	size_t n = strlen(field), k = 0;
	char *tag, *weak, *star, *tail;

	(void)resreq_etag_match(list, field);

	/* The field as a quoted tag: its quotes dropped. */
	tag = malloc(n + 3);
	if (!tag)
		abort();
	tag[k++] = '"';
	for (size_t i = 0; i < n; i++) {
		if (field[i] != '"')
			tag[k++] = field[i];
	}
	tag[k++] = '"';
	tag[k] = '\0';

	weak = cat("W/", tag);
	star = cat(" \t*\t ", "");
	tail = cat("\"\x01\" ,, W/\"x\" ,", tag);

	FUZZ_CHECK(resreq_etag_match(tag, tag));
	FUZZ_CHECK(resreq_etag_match(weak, tag));
	FUZZ_CHECK(resreq_etag_match(tag, weak));
	FUZZ_CHECK(resreq_etag_match(star, tag));
	FUZZ_CHECK(resreq_etag_match(tail, tag));
	FUZZ_CHECK(resreq_etag_match(list, tag) ==
		   resreq_etag_match(list, weak));

	free(tail);
	free(star);
	free(weak);
	free(tag);
}


static bool id_ref(const char *id)
{
	size_t n = strlen(id);

	if (n < 1 || n > ID_MAX)
		return false;

	return strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		      "abcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}


static void auth_check(const char *authz, const char *token)
{
	size_t n = strlen(token);
	char *good, *loose, *half, *wrong;
	int err;

	err = httpd_auth_check(authz, token);
	if (!n) {
		FUZZ_CHECK(err == EINVAL);
		return;
	}
	FUZZ_CHECK(err == 0 || err == ENOENT || err == EPROTO ||
		   err == EACCES);
	FUZZ_CHECK(httpd_auth_check(NULL, token) == ENOENT);

	/* White space around the token is not part of a header value. */
	if (token[0] == ' ' || token[n - 1] == ' ' || token[n - 1] == '\t')
		return;

	good = cat("Bearer ", token);
	half = cat("  bEARER   ", token);
	loose = cat(half, " \t");
	wrong = cat(good, "x");

	FUZZ_CHECK(httpd_auth_check(good, token) == 0);
	FUZZ_CHECK(httpd_auth_check(loose, token) == 0);
	FUZZ_CHECK(httpd_auth_check(wrong, token) == EACCES);
	FUZZ_CHECK(httpd_auth_check(token, token) != 0);

	free(wrong);
	free(loose);
	free(half);
	free(good);
}


static void route_check(const char *url)
{
	const char *id = url;
	enum httpd_route r = httpd_route_parse(url, &id);

	if (r == ROUTE_PAGE)
		FUZZ_CHECK(!strcmp(url, "/"));

	if (r == ROUTE_NONE || r == ROUTE_PAGE || r == ROUTE_HEALTHZ ||
	    r == ROUTE_METRICS || r == ROUTE_CALLS || r == ROUTE_SUBS ||
	    r == ROUTE_RESS) {
		FUZZ_CHECK(id == NULL);
		return;
	}

	FUZZ_CHECK(id != NULL);
	FUZZ_CHECK(id > url && id <= url + strlen(url));
	if (r == ROUTE_RES)
		FUZZ_CHECK(id == url + 3);
	else
		FUZZ_CHECK(*id != '\0' && id[-1] == '/');
}


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p, *end = (const char *)data + size;
	char *f[FIELDS];
	uint64_t rsize = 0;

	if (size < 8)
		return 0;

	for (int i = 7; i >= 0; i--)
		rsize = rsize << 8 | data[i];
	rsize >>= data[0] & 63;

	p = (const char *)data + 8;
	for (int i = 0; i < FIELDS; i++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *e = nl ? nl : end;

		/* A NUL ends the C string early, as it would in a header. */
		f[i] = str_exact(p, (size_t)(e - p));
		p = nl ? nl + 1 : end;
	}

	range_check(f[0], rsize);
	etag_check(f[1], f[2]);
	FUZZ_CHECK(resreq_id_valid(f[3]) == id_ref(f[3]));
	auth_check(f[4], f[5]);
	route_check(f[6]);

	for (int i = 0; i < FIELDS; i++)
		free(f[i]);

	return 0;
}
