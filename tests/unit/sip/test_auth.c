/**
 * @file test_auth.c  Digest authentication: good, wrong, stale, forged,
 *                    replayed and malformed credentials, with SHA-256 and
 *                    MD5
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>
#include <time.h>
#include <openssl/evp.h>
#include <re.h>
#include "sip/sip_int.h"
#include "tests/unit/sipmsg.h"
#include "tests/unit/leakcheck.h"


/* H(text) as lowercase hex, by the named algorithm, as a client does it. */
static void hexhash(char *out, const char *alg, const char *fmt, ...)
{
	const EVP_MD *md = strcmp(alg, "SHA-256") ? EVP_md5() : EVP_sha256();
	uint8_t h[EVP_MAX_MD_SIZE];
	unsigned len;
	char *s = NULL;
	va_list ap;

	va_start(ap, fmt);
	assert_int_equal(0, re_vsdprintf(&s, fmt, ap));
	va_end(ap);
	assert_true(EVP_Digest(s, strlen(s), h, &len, md, NULL));
	mem_deref(s);
	re_snprintf(out, 2 * len + 1, "%w", h, (size_t)len);
}


/* The response of RFC 7616 3.4.1 with the qop given, or RFC 2069's
 * without one. */
static void client_response(char out[65], const char *alg, const char *pass,
			    const char *met, const char *uri,
			    const char *nonce, const char *nc, const char *qop)
{
	char ha1[65], ha2[65];

	hexhash(ha1, alg, "dave:cmrlab:%s", pass);
	hexhash(ha2, alg, "%s:%s", met, uri);
	if (*qop)
		hexhash(out, alg, "%s:%s:%s:abc:%s:%s", ha1, nonce, nc, qop,
			ha2);
	else
		hexhash(out, alg, "%s:%s:%s", ha1, nonce, ha2);
}


/* A REGISTER to sip:cmrlab with the header line given (without CRLF). */
static struct sip_msg *reg_hdr(const char *hline)
{
	return sipmsg_decodef(
		"REGISTER sip:cmrlab SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\n"
		"From: <sip:dave@cmrlab>;tag=a\r\n"
		"To: <sip:dave@cmrlab>\r\n"
		"Call-ID: x\r\n"
		"CSeq: 2 REGISTER\r\n"
		"%s\r\n"
		"Content-Length: 0\r\n\r\n", hline);
}


struct creds {
	const char *hname;     /* Authorization by default */
	const char *user;      /* dave */
	const char *alg;       /* hashed with; "SHA-256" or "MD5" */
	const char *alg_param; /* algorithm= sent, NULL: as alg; "": none */
	const char *pass;      /* s3cret */
	const char *uri;       /* hashed and sent; sip:cmrlab */
	const char *nc;        /* 00000001; "": none */
	const char *qop;       /* auth; "": none */
};


static struct sip_msg *reg_with(const char *nonce, const struct creds *c)
{
	const char *nc = c->nc ? c->nc : "00000001";
	const char *uri = c->uri ? c->uri : "sip:cmrlab";
	const char *alg = c->alg ? c->alg : "SHA-256";
	const char *algp = c->alg_param ? c->alg_param : alg;
	const char *qop = c->qop ? c->qop : "auth";
	char resp[65], *line = NULL;
	struct sip_msg *msg;

	client_response(resp, alg, c->pass ? c->pass : "s3cret",
			"REGISTER", uri, nonce, nc, qop);
	assert_int_equal(0, re_sdprintf(&line,
		"%s: Digest username=\"%s\", realm=\"cmrlab\", "
		"nonce=\"%s\", uri=\"%s\", response=\"%s\", "
		"cnonce=\"abc\"%s%s%s%s%s%s",
		c->hname ? c->hname : "Authorization",
		c->user ? c->user : "dave", nonce, uri, resp,
		*algp ? ", algorithm=" : "", algp,
		*qop ? ", qop=" : "", qop,
		*nc ? ", nc=" : "", nc));
	msg = reg_hdr(line);
	mem_deref(line);

	return msg;
}


static int check_with(struct sipauth *a, struct sip_msg *msg, bool proxy,
		      bool *stale)
{
	int err = sipauth_check(a, msg, "dave", "s3cret", proxy, stale);

	mem_deref(msg);
	return err;
}


static int check(struct sipauth *a, const char *nonce,
		 const struct creds *c, bool *stale)
{
	bool proxy = c->hname && !strcmp(c->hname, "Proxy-Authorization");

	return check_with(a, reg_with(nonce, c), proxy, stale);
}


static struct sipauth *auth_offering(size_t max, const char *algs)
{
	struct sipauth *a = NULL;

	assert_int_equal(0, sipauth_alloc(&a, max, algs));

	return a;
}


static struct sipauth *auth_new(size_t max)
{
	return auth_offering(max, NULL);
}


static void issue(struct sipauth *a, char nonce[64], uint32_t t)
{
	assert_int_equal(0, sipauth_nonce(a, nonce, 64, t));
	assert_int_equal(48, strlen(nonce));
}


static void test_algorithms(void **state)
{
	long mark = leakcheck_mark();
	struct sipauth *a = auth_new(0);
	uint32_t now = (uint32_t)time(NULL);
	char n1[64], n2[64], n3[64];
	bool stale = true;
	(void)state;

	issue(a, n1, now);
	issue(a, n2, now);
	issue(a, n3, now);
	/* Nonces of one second differ: each has a count of its own. */
	assert_string_not_equal(n1, n2);

	assert_int_equal(0, check(a, n1, &(struct creds){.alg = "SHA-256"},
				  &stale));
	assert_false(stale);
	assert_int_equal(0, check(a, n2, &(struct creds){.alg = "MD5"},
				  &stale));
	/* No algorithm directive: MD5 (RFC 7616 3.4). */
	assert_int_equal(0, check(a, n3, &(struct creds){.alg = "MD5",
				  .alg_param = ""}, &stale));

	/* The directive names a hash the response was not made with. */
	issue(a, n1, now);
	assert_int_equal(EAUTH, check(a, n1, &(struct creds){
		.alg = "MD5", .alg_param = "SHA-256"}, &stale));
	assert_int_equal(EAUTH, check(a, n1, &(struct creds){
		.alg = "SHA-256", .alg_param = "MD5"}, &stale));
	/* Algorithms not offered. */
	assert_int_equal(EAUTH, check(a, n1, &(struct creds){
		.alg = "SHA-256", .alg_param = "SHA-512-256"}, &stale));
	assert_int_equal(EAUTH, check(a, n1, &(struct creds){
		.alg = "MD5", .alg_param = "MD5-sess"}, &stale));
	assert_false(stale);
	/* The names are case-insensitive tokens. */
	assert_int_equal(0, check(a, n1, &(struct creds){
		.alg = "SHA-256", .alg_param = "sha-256"}, &stale));

	mem_deref(a);
	leakcheck_assert(mark);
}


/* serve --digest: only what is offered is accepted. */
static void test_offer(void **state)
{
	struct sipauth *a = auth_offering(0, "MD5");
	struct sipauth *b = auth_offering(0, "sha-256");
	struct sipauth *bad = NULL;
	uint32_t now = (uint32_t)time(NULL);
	char n[64];
	bool stale;
	(void)state;

	issue(a, n, now);
	assert_int_equal(EAUTH, check(a, n, &(struct creds){.alg = "SHA-256"},
				      &stale));
	assert_int_equal(0, check(a, n, &(struct creds){.alg = "MD5",
				  .alg_param = ""}, &stale));
	issue(b, n, now);
	assert_int_equal(EAUTH, check(b, n, &(struct creds){.alg = "MD5"},
				      &stale));
	assert_int_equal(EAUTH, check(b, n, &(struct creds){.alg = "MD5",
				      .alg_param = ""}, &stale));
	assert_int_equal(0, check(b, n, &(struct creds){.alg = "SHA-256"},
				  &stale));

	assert_int_equal(0, sipauth_algs_check("MD5,SHA-256"));
	assert_int_equal(0, sipauth_algs_check("sha-256"));
	assert_int_equal(EINVAL, sipauth_algs_check(""));
	assert_int_equal(EINVAL, sipauth_algs_check("MD5,"));
	assert_int_equal(EINVAL, sipauth_algs_check(",MD5"));
	assert_int_equal(EINVAL, sipauth_algs_check("MD5,md5"));
	assert_int_equal(EINVAL, sipauth_algs_check("MD5-sess"));
	assert_int_equal(EINVAL, sipauth_algs_check("MD5, SHA-256"));
	assert_int_equal(EINVAL, sipauth_alloc(&bad, 0, "SHA-1"));
	assert_null(bad);

	mem_deref(b);
	mem_deref(a);
}


static void test_nonce_count(void **state)
{
	struct sipauth *a = auth_new(0);
	uint32_t now = (uint32_t)time(NULL);
	char n[64];
	bool stale = true;
	(void)state;

	issue(a, n, now);
	assert_int_equal(0, check(a, n, &(struct creds){0}, &stale));
	/* The same response again: a replay. */
	assert_int_equal(EAUTH, check(a, n, &(struct creds){0}, &stale));
	assert_false(stale);
	/* The next count on the same nonce is good, a skipped one too. */
	assert_int_equal(0, check(a, n, &(struct creds){.nc = "00000002"},
				  &stale));
	assert_int_equal(0, check(a, n, &(struct creds){.nc = "0000000A"},
				  &stale));
	/* Lower than the highest seen, or equal to it. */
	assert_int_equal(EAUTH, check(a, n, &(struct creds){.nc = "00000003"},
				      &stale));
	assert_int_equal(EAUTH, check(a, n, &(struct creds){.nc = "0000000a"},
				      &stale));
	assert_int_equal(0, check(a, n, &(struct creds){.nc = "0000000b"},
				  &stale));

	/* nc and qop=auth go together; without either there is no count.
	 * auth-int is not offered (the response here hashes no body). */
	issue(a, n, now);
	assert_int_equal(EAUTH, check(a, n, &(struct creds){.nc = ""},
				      &stale));
	assert_int_equal(EAUTH, check(a, n, &(struct creds){.qop = ""},
				      &stale));
	assert_int_equal(EAUTH, check(a, n, &(struct creds){.qop = "auth-int"},
				      &stale));
	/* nc is 8 hex digits. */
	assert_int_equal(EAUTH, check(a, n, &(struct creds){.nc = "1"},
				      &stale));
	assert_int_equal(EAUTH, check(a, n, &(struct creds){.nc = "0000000g"},
				      &stale));
	assert_int_equal(EAUTH, check(a, n, &(struct creds){.nc = "00000000"},
				      &stale));
	/* None of these used the nonce up. */
	assert_int_equal(0, check(a, n, &(struct creds){0}, &stale));

	mem_deref(a);
}


static void test_uri(void **state)
{
	struct sipauth *a = auth_new(0);
	char n[64];
	bool stale;
	(void)state;

	issue(a, n, (uint32_t)time(NULL));
	/* Hashed right, but over another URI than the Request-URI. */
	assert_int_equal(EBADMSG, check(a, n, &(struct creds){
		.uri = "sip:other"}, &stale));
	assert_int_equal(EBADMSG, check(a, n, &(struct creds){
		.uri = "sip:cmrlab;transport=udp"}, &stale));
	/* ... and that did not count: the right one still passes. */
	assert_int_equal(0, check(a, n, &(struct creds){0}, &stale));

	mem_deref(a);
}


static void test_identity(void **state)
{
	struct sipauth *a = auth_new(0);
	char n[64];
	bool stale;
	(void)state;

	issue(a, n, (uint32_t)time(NULL));
	/* Wrong password. */
	assert_int_equal(EAUTH, check(a, n, &(struct creds){.pass = "other"},
				      &stale));
	assert_false(stale);
	/* Another user's name. */
	assert_int_equal(EAUTH, check(a, n, &(struct creds){.user = "bob"},
				      &stale));
	/* The INVITE path reads Proxy-Authorization, not Authorization. */
	assert_int_equal(EAUTH, check_with(a, reg_with(n, &(struct creds){0}),
					   true, &stale));
	assert_int_equal(0, check(a, n, &(struct creds){
		.hname = "Proxy-Authorization"}, &stale));

	mem_deref(a);
}


static void test_nonces(void **state)
{
	long mark = leakcheck_mark();
	struct sipauth *a = auth_new(4), *b = auth_new(0);
	uint32_t now = (uint32_t)time(NULL);
	char n[64], old[64], first[64];
	bool stale;
	int i;
	(void)state;

	/* A nonce we issued long ago: stale, so the client may retry. */
	issue(a, old, now - 400);
	assert_int_equal(EAUTH, check(a, old, &(struct creds){0}, &stale));
	assert_true(stale);
	/* Unless the password is wrong too (RFC 7616 3.3). */
	assert_int_equal(EAUTH, check(a, old, &(struct creds){
		.pass = "other"}, &stale));
	assert_false(stale);

	/* A nonce we never issued: its secret hash does not match. */
	issue(a, n, now);
	n[30] = n[30] == 'a' ? 'b' : 'a';
	assert_int_equal(EAUTH, check(a, n, &(struct creds){0}, &stale));
	assert_false(stale);
	/* Another server's (another secret), or not a nonce of ours. */
	issue(b, n, now);
	assert_int_equal(EAUTH, check(a, n, &(struct creds){0}, &stale));
	assert_false(stale);
	assert_int_equal(EAUTH, check(a, "short", &(struct creds){0},
				      &stale));
	assert_false(stale);

	/* The table holds 4: the oldest nonce goes first, and coming back
	 * with it earns a stale challenge. */
	issue(a, first, now);
	for (i = 0; i < 4; i++) {
		issue(a, n, now);
		assert_true(sipauth_count(a) <= 4);
	}
	assert_int_equal(4, sipauth_count(a));
	assert_int_equal(EAUTH, check(a, first, &(struct creds){0}, &stale));
	assert_true(stale);
	assert_int_equal(0, check(a, n, &(struct creds){0}, &stale));

	mem_deref(b);
	mem_deref(a);
	leakcheck_assert(mark);
}


static void test_malformed(void **state)
{
	struct sipauth *a = auth_new(0);
	char n[64], resp[65], line[512];
	bool stale;
	(void)state;

	issue(a, n, (uint32_t)time(NULL));

	assert_int_equal(EAUTH, check_with(a, reg_hdr(
		"Authorization: Digest garbage,,,=\""), false, &stale));
	assert_int_equal(EAUTH, check_with(a, reg_hdr(
		"Authorization: Basic ZGF2ZTpzM2NyZXQ="), false, &stale));
	assert_int_equal(EAUTH, check_with(a, reg_hdr(
		"Authorization: Digest username=\"dave\""), false, &stale));

	/* A directive twice, even with one value: which one was hashed? */
	client_response(resp, "SHA-256", "s3cret", "REGISTER", "sip:cmrlab",
			n, "00000001", "auth");
	re_snprintf(line, sizeof(line), "Authorization: Digest "
		    "username=\"dave\", realm=\"cmrlab\", nonce=\"%s\", "
		    "uri=\"sip:cmrlab\", response=\"%s\", algorithm=SHA-256, "
		    "qop=auth, nc=00000001, nc=00000001, cnonce=\"abc\"",
		    n, resp);
	assert_int_equal(EAUTH, check_with(a, reg_hdr(line), false, &stale));

	/* The same, once each, in another order and with quoted tokens and
	 * an unknown directive, is good. */
	re_snprintf(line, sizeof(line), "Authorization: Digest  "
		    "cnonce=\"abc\",qop=\"auth\" , nc=00000001, "
		    "opaque=\"x, y\", algorithm=\"SHA-256\", "
		    "username=\"dave\", realm=\"cmrlab\", nonce=\"%s\", "
		    "uri=\"sip:cmrlab\", response=\"%s\"", n, resp);
	assert_int_equal(0, check_with(a, reg_hdr(line), false, &stale));

	/* qop=auth without cnonce, hashed with an empty one (and a count
	 * not used yet). */
	hexhash(line, "SHA-256", "dave:cmrlab:s3cret");
	hexhash(line + 100, "SHA-256", "REGISTER:sip:cmrlab");
	hexhash(resp, "SHA-256", "%s:%s:00000002::auth:%s", line, n,
		line + 100);
	re_snprintf(line, sizeof(line), "Authorization: Digest "
		    "username=\"dave\", realm=\"cmrlab\", nonce=\"%s\", "
		    "uri=\"sip:cmrlab\", response=\"%s\", algorithm=SHA-256, "
		    "qop=auth, nc=00000002", n, resp);
	assert_int_equal(EAUTH, check_with(a, reg_hdr(line), false, &stale));

	mem_deref(a);
}


/* One round first, so that what libraries keep for good (OpenSSL's
 * digests, libre's) is made before a leak mark is taken. */
static int group_setup(void **state)
{
	struct sipauth *a = auth_new(0);
	char n[64];
	bool stale;
	(void)state;

	issue(a, n, (uint32_t)time(NULL));
	assert_int_equal(0, check(a, n, &(struct creds){.alg = "MD5"},
				  &stale));
	assert_int_equal(0, check(a, n, &(struct creds){.alg = "SHA-256",
				  .nc = "00000002"}, &stale));
	mem_deref(a);

	return 0;
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_algorithms),
		cmocka_unit_test(test_offer),
		cmocka_unit_test(test_nonce_count),
		cmocka_unit_test(test_uri),
		cmocka_unit_test(test_identity),
		cmocka_unit_test(test_nonces),
		cmocka_unit_test(test_malformed),
	};

	return cmocka_run_group_tests_name("sip/auth", tests, group_setup,
					   NULL);
}
