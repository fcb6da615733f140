/**
 * @file test_body_out.c  Session and early-session SDP in message bodies,
 *                        written: the printer, the boundary, and round
 *                        trips through the parser, raw and in a message
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <re.h>
#include "sip/sip_int.h"
#include "tests/unit/leakcheck.h"
#include "tests/unit/sipmsg.h"
#include "tests/unit/sip/sdpbody.h"


static char *printed(const struct body_out *bo, int *errp)
{
	char *s = NULL;

	*errp = re_sdprintf(&s, "%H", body_print, bo);

	return s;
}


static void expect_print(const struct body_out *bo, const char *want)
{
	int err;
	char *s = printed(bo, &err);

	assert_int_equal(0, err);
	assert_string_equal(want, s);
	mem_deref(s);
}


static void test_print(void **state)
{
	static const struct pl s = PL(SDP_S), e = PL(SDP_E), none = PL_INIT;
	static const struct pl s_noeol = PL(SDP_S_NOEOL);
	static const struct pl e_noeol = PL(SDP_E_NOEOL);
	static const struct pl lf = PL(SDP_LF), lf_noeol = PL(SDP_LF_NOEOL);
	long mark = leakcheck_mark();
	struct body_out bo;
	char *want;
	int err;

	(void)state;

	memset(&bo, 0, sizeof(bo));
	expect_print(&bo, "Content-Length: 0\r\n\r\n");

	bo.session = &none;
	bo.early = &none;
	expect_print(&bo, "Content-Length: 0\r\n\r\n");

	bo.session = &s;
	assert_int_equal(0, re_sdprintf(&want,
		"Content-Type: application/sdp\r\n"
		"Content-Length: %zu\r\n\r\n" SDP_S, strlen(SDP_S)));
	expect_print(&bo, want);
	mem_deref(want);

	bo.session = NULL;
	bo.early = &e;
	assert_int_equal(0, re_sdprintf(&want,
		"Content-Type: application/sdp\r\n"
		"Content-Disposition: early-session\r\n"
		"Content-Length: %zu\r\n\r\n" SDP_E, strlen(SDP_E)));
	expect_print(&bo, want);
	mem_deref(want);

	/* An SDP whose last line has no line end gets one, counted in
	 * Content-Length; an LF ending stays as it is. */
	bo.session = &s_noeol;
	bo.early = NULL;
	assert_int_equal(0, re_sdprintf(&want,
		"Content-Type: application/sdp\r\n"
		"Content-Length: %zu\r\n\r\n" SDP_S, strlen(SDP_S)));
	expect_print(&bo, want);
	mem_deref(want);

	bo.session = NULL;
	bo.early = &lf_noeol;
	assert_int_equal(0, re_sdprintf(&want,
		"Content-Type: application/sdp\r\n"
		"Content-Disposition: early-session\r\n"
		"Content-Length: %zu\r\n\r\n" SDP_LF_NOEOL "\r\n",
		strlen(SDP_LF_NOEOL "\r\n")));
	expect_print(&bo, want);
	mem_deref(want);

	bo.session = &lf;
	bo.early = NULL;
	assert_int_equal(0, re_sdprintf(&want,
		"Content-Type: application/sdp\r\n"
		"Content-Length: %zu\r\n\r\n" SDP_LF, strlen(SDP_LF)));
	expect_print(&bo, want);
	mem_deref(want);

	/* In a multipart each part gets its own CRLF before the
	 * delimiter's. */
	bo.session = &s_noeol;
	bo.early = &e_noeol;
	strcpy(bo.boundary, "cmrlab-x");
	assert_int_equal(0, re_sdprintf(&want,
		"Content-Type: multipart/mixed;boundary=cmrlab-x\r\n"
		"Content-Length: %zu\r\n\r\n"
		"--cmrlab-x\r\n" PART_S "\r\n"
		"--cmrlab-x\r\n" PART_E "\r\n"
		"--cmrlab-x--\r\n",
		strlen("--cmrlab-x\r\n" PART_S "\r\n"
		       "--cmrlab-x\r\n" PART_E "\r\n"
		       "--cmrlab-x--\r\n")));
	expect_print(&bo, want);
	mem_deref(want);

	/* Both need a boundary. */
	bo.session = &s;
	bo.early = &e;
	assert_int_equal(0, re_sdprintf(&want,
		"Content-Type: multipart/mixed;boundary=cmrlab-x\r\n"
		"Content-Length: %zu\r\n\r\n"
		"--cmrlab-x\r\n" PART_S "\r\n"
		"--cmrlab-x\r\n" PART_E "\r\n"
		"--cmrlab-x--\r\n",
		strlen("--cmrlab-x\r\n" PART_S "\r\n"
		       "--cmrlab-x\r\n" PART_E "\r\n"
		       "--cmrlab-x--\r\n")));
	strcpy(bo.boundary, "cmrlab-x");
	expect_print(&bo, want);
	mem_deref(want);

	/* A boundary that is no token is quoted. */
	strcpy(bo.boundary, "a b");
	assert_int_equal(0, re_sdprintf(&want,
		"Content-Type: multipart/mixed;boundary=\"a b\"\r\n"
		"Content-Length: %zu\r\n\r\n"
		"--a b\r\n" PART_S "\r\n"
		"--a b\r\n" PART_E "\r\n"
		"--a b--\r\n",
		strlen("--a b\r\n" PART_S "\r\n"
		       "--a b\r\n" PART_E "\r\n"
		       "--a b--\r\n")));
	expect_print(&bo, want);
	mem_deref(want);

	/* Boundaries that would not survive: refused, not printed. */
	strcpy(bo.boundary, "IN IP4");     /* occurs in the SDP */
	mem_deref(printed(&bo, &err));
	assert_int_equal(EINVAL, err);
	strcpy(bo.boundary, "");
	mem_deref(printed(&bo, &err));
	assert_int_equal(EINVAL, err);
	strcpy(bo.boundary, "b ");
	mem_deref(printed(&bo, &err));
	assert_int_equal(EINVAL, err);
	strcpy(bo.boundary, "b@");
	mem_deref(printed(&bo, &err));
	assert_int_equal(EINVAL, err);
	memset(bo.boundary, 'b', sizeof(bo.boundary));  /* no NUL */
	mem_deref(printed(&bo, &err));
	assert_int_equal(EINVAL, err);

	mem_deref(printed(NULL, &err));
	assert_int_equal(EINVAL, err);

	leakcheck_assert(mark);
}


static void test_out_init(void **state)
{
	static const struct pl s = PL(SDP_S);
	long mark = leakcheck_mark();
	struct body_out a, b;

	(void)state;

	assert_int_equal(EINVAL, body_out_init(NULL, &s, &s));

	assert_int_equal(0, body_out_init(&a, &s, NULL));
	assert_ptr_equal(&s, a.session);
	assert_null(a.early);
	assert_int_equal(strlen("cmrlab-") + 16, strlen(a.boundary));
	assert_int_equal(0, strncmp(a.boundary, "cmrlab-", 7));

	assert_int_equal(0, body_out_init(&b, NULL, NULL));
	assert_string_not_equal(a.boundary, b.boundary);

	leakcheck_assert(mark);
}


/* Splits the n bytes that body_print printed (NUL-terminated after them)
 * into its Content-Type and Content-Disposition values and the body,
 * checking Content-Length. */
static void split(const char *s, size_t n, struct pl *ct, struct pl *cd,
		  struct pl *body)
{
	const char *p = s, *eol;
	struct pl cl = PL_INIT;

	*ct = pl_null;
	*cd = pl_null;

	while ((eol = strstr(p, "\r\n")) != p) {
		struct pl line, name, val;

		assert_non_null(eol);
		pl_of(&line, p, eol - p);
		assert_int_equal(0, re_regex(line.p, line.l, "[^:]+: [^]*",
					     &name, &val));
		if (!pl_strcmp(&name, "Content-Type"))
			*ct = val;
		else if (!pl_strcmp(&name, "Content-Disposition"))
			*cd = val;
		else if (!pl_strcmp(&name, "Content-Length"))
			cl = val;
		else
			fail_msg("unexpected header %r", &name);
		p = eol + 2;
	}

	/* The body may hold a NUL byte: its length is what is left. */
	pl_of(body, p + 2, n - (p + 2 - s));
	assert_int_equal(pl_u32(&cl), body->l);
}


struct rt {
	const char *name;
	const char *s;             /* NULL: none */
	size_t sl;
	const char *e;
	size_t el;
	const char *ws;            /* what comes back; NULL: s */
	size_t wsl;
	const char *we;            /* NULL: e */
	size_t wel;
};

#define RT(name, s, e) {name, s, sizeof(s) - 1, e, sizeof(e) - 1, \
		NULL, 0, NULL, 0}
/* An SDP without a final line end comes back with it. */
#define RTW(name, s, e, ws, we) {name, s, sizeof(s) - 1, e, sizeof(e) - 1, \
		ws, sizeof(ws) - 1, we, sizeof(we) - 1}

static const char nul_sdp[] = "v=0\r\ns=\0binary\r\n";

static const struct rt rts[] = {
	RT("both", SDP_S, SDP_E),
	RT("session only", SDP_S, ""),
	RT("early only", "", SDP_E),
	RT("LF-only SDPs", SDP_LF, SDP_LF),
	RT("SDPs with dashes and our prefix", "v=0\r\n--cmrlab-\r\n--\r\n",
	   "--cmrlab-0123456789abcdef\r\n--cmrlab---\r\n"),
	RTW("no final line end", "v=0", "v=0\r\nm=audio 1 RTP/AVP 0",
	    "v=0\r\n", "v=0\r\nm=audio 1 RTP/AVP 0\r\n"),
	RTW("session without final line end", SDP_S_NOEOL, "",
	    SDP_S, ""),
	RTW("early-session without final line end", "", SDP_E_NOEOL,
	    "", SDP_E),
	RTW("lone CR at the end", "v=0\r", SDP_LF_NOEOL, "v=0\r\n",
	    SDP_LF_NOEOL "\r\n"),
	RT("LF at the end", "v=0\n", "v=0\r\nm=audio 1 RTP/AVP 0\n"),
	RT("CRLFs at both ends", "\r\n\r\nv=0\r\n\r\n", "\r\n"),
	{"a NUL byte", nul_sdp, sizeof(nul_sdp) - 1, SDP_E,
	 sizeof(SDP_E) - 1, NULL, 0, NULL, 0},
};


static void check_bytes(const struct pl *got, const char *want, size_t n)
{
	if (!n) {
		assert_null(got->p);
		assert_int_equal(0, got->l);
		return;
	}

	assert_int_equal(n, got->l);
	assert_memory_equal(want, got->p, n);
}


static void test_round_trip_raw(void **state)
{
	long mark = leakcheck_mark();
	size_t i;

	(void)state;

	for (i = 0; i < ARRAY_SIZE(rts); i++) {
		const struct rt *r = &rts[i];
		struct pl s, e, ct, cd, body;
		struct body_out bo;
		struct body_view bv;
		struct mbuf *mb = mbuf_alloc(512);

		pl_of(&s, r->s, r->sl);
		pl_of(&e, r->e, r->el);
		assert_int_equal(0, body_out_init(&bo, &s, &e));

		assert_non_null(mb);
		assert_int_equal(0, mbuf_printf(mb, "%H", body_print, &bo));
		assert_int_equal(0, mbuf_write_u8(mb, 0));
		split((char *)mb->buf, mb->end - 1, &ct, &cd, &body);

		assert_int_equal(0, body_parse_raw(&bv, &ct, &cd, &body));
		check_bytes(&bv.session, r->ws ? r->ws : r->s,
			    r->ws ? r->wsl : r->sl);
		check_bytes(&bv.early, r->we ? r->we : r->e,
			    r->we ? r->wel : r->el);
		assert_int_equal(r->sl && r->el, bv.multipart);

		mem_deref(mb);
	}

	leakcheck_assert(mark);
}


/* A whole SIP message built with body_print, decoded by libre, parsed by
 * body_parse. */
static void test_round_trip_msg(void **state)
{
	long mark = leakcheck_mark();
	size_t i;

	(void)state;

	for (i = 0; i < ARRAY_SIZE(rts); i++) {
		const struct rt *r = &rts[i];
		struct mbuf *mb = mbuf_alloc(1024);
		struct body_out bo;
		struct body_view bv;
		struct sip_msg *msg;
		struct pl s, e;

		pl_of(&s, r->s, r->sl);
		pl_of(&e, r->e, r->el);
		assert_int_equal(0, body_out_init(&bo, &s, &e));

		assert_non_null(mb);
		assert_int_equal(0, mbuf_printf(mb, INVITE "%H",
						body_print, &bo));
		msg = sipmsg_decode_mb(mb);
		assert_int_equal(pl_u32(&msg->clen),
				 mbuf_get_left(msg->mb));

		assert_int_equal(0, body_parse(&bv, msg));
		check_bytes(&bv.session, r->ws ? r->ws : r->s,
			    r->ws ? r->wsl : r->sl);
		check_bytes(&bv.early, r->we ? r->we : r->e,
			    r->we ? r->wel : r->el);
		assert_int_equal(r->sl && r->el, bv.multipart);

		mem_deref(msg);
		mem_deref(mb);
	}

	leakcheck_assert(mark);
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_print),
		cmocka_unit_test(test_out_init),
		cmocka_unit_test(test_round_trip_raw),
		cmocka_unit_test(test_round_trip_msg),
	};

	return cmocka_run_group_tests_name("sip/body_out", tests,
					   sdpbody_group_setup, NULL);
}
