/**
 * @file test_advertise.c  The address that names us: --advertise, the
 *                         transports of a server on 0.0.0.0, the HTTP
 *                         base of a call, the Via rewrite, the SDP address
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <re.h>
#include "sip/sip_int.h"
#include "tests/unit/leakcheck.h"

enum { RTP_LO = 33100, RTP_HI = 33199 };


static struct sa addr(const char *s, uint16_t port)
{
	struct sa sa;

	if (sa_set_str(&sa, s, port))
		fail_msg("bad test address %s", s);

	return sa;
}


static struct pl plz(const char *s)
{
	struct pl pl;

	pl_set_str(&pl, s);
	return pl;
}


/* ---- pure: sipsrv_advertised, sipsrv_http_base, the Via rewrite ------ */

static void test_advertised(void **state)
{
	struct sipsrv srv;
	struct sa local, out;
	(void)state;

	memset(&srv, 0, sizeof(srv));

	/* No --advertise: the local address as it is. */
	local = addr("127.0.0.1", 5060);
	sipsrv_advertised(&srv, &local, &out);
	assert_true(sa_cmp(&out, &local, SA_ALL));

	/* --advertise: its address, local's port. */
	srv.conf.advertise = addr("203.0.113.7", 0);
	sipsrv_advertised(&srv, &local, &out);
	local = addr("203.0.113.7", 5060);
	assert_true(sa_cmp(&out, &local, SA_ALL));

	srv.conf.advertise = addr("2001:db8::5", 0);
	local = addr("::1", 5070);
	sipsrv_advertised(&srv, &local, &out);
	local = addr("2001:db8::5", 5070);
	assert_true(sa_cmp(&out, &local, SA_ALL));

	/* Never the unspecified address: the first transport's instead. */
	memset(&srv.conf.advertise, 0, sizeof(srv.conf.advertise));
	srv.primary = addr("192.0.2.2", 5060);
	local = addr("0.0.0.0", 31000);
	sipsrv_advertised(&srv, &local, &out);
	local = addr("192.0.2.2", 31000);
	assert_true(sa_cmp(&out, &local, SA_ALL));

	/* NULL server: the local address. */
	local = addr("127.0.0.1", 1);
	sipsrv_advertised(NULL, &local, &out);
	assert_true(sa_cmp(&out, &local, SA_ALL));
}


static void test_http_base(void **state)
{
	static const struct {
		const char *http;      /* listener, "" none */
		const char *adv;       /* --advertise, "" none */
		const char *local;     /* arrival address, "" NULL */
		const char *want;
	} v[] = {
		/* A concrete listener names itself, whatever the arrival. */
		{"127.0.0.1", "", "192.0.2.2", "http://127.0.0.1:8080"},
		/* On 0.0.0.0: the address the request arrived on. */
		{"0.0.0.0", "", "127.0.0.1", "http://127.0.0.1:8080"},
		{"0.0.0.0", "", "192.0.2.2", "http://192.0.2.2:8080"},
		/* No arrival address: the first transport's. */
		{"0.0.0.0", "", "", "http://192.0.2.9:8080"},
		{"0.0.0.0", "", "0.0.0.0", "http://192.0.2.9:8080"},
		/* --advertise wins everywhere. */
		{"0.0.0.0", "127.0.0.2", "127.0.0.1", "http://127.0.0.2:8080"},
		{"127.0.0.1", "127.0.0.2", "", "http://127.0.0.2:8080"},
		/* IPv6 in brackets. */
		{"::", "", "::1", "http://[::1]:8080"},
		{"::", "2001:db8::5", "::1", "http://[2001:db8::5]:8080"},
		/* A v6 arrival cannot name a v4 listener. */
		{"0.0.0.0", "", "::1", "http://192.0.2.9:8080"},
	};
	struct sipsrv srv;
	char buf[64];
	(void)state;

	for (size_t i = 0; i < ARRAY_SIZE(v); i++) {
		struct sa local;

		memset(&srv, 0, sizeof(srv));
		srv.conf.http_laddr = addr(v[i].http, 8080);
		if (*v[i].adv)
			srv.conf.advertise = addr(v[i].adv, 0);
		srv.primary = addr("192.0.2.9", 5060);
		if (*v[i].local)
			local = addr(v[i].local, 5060);

		assert_int_equal(0, sipsrv_http_base(&srv, *v[i].local ?
						     &local : NULL, buf,
						     sizeof(buf)));
		if (strcmp(buf, v[i].want))
			fail_msg("vector %zu: %s, want %s", i, buf, v[i].want);
	}

	/* No listener address: the configured base, as given. */
	memset(&srv, 0, sizeof(srv));
	strcpy(srv.conf.http_base, "http://127.0.0.1:9");
	assert_int_equal(0, sipsrv_http_base(&srv, NULL, buf, sizeof(buf)));
	assert_string_equal(buf, "http://127.0.0.1:9");

	/* Too small a buffer. */
	srv.conf.http_laddr = addr("127.0.0.1", 8080);
	assert_int_equal(ENAMETOOLONG, sipsrv_http_base(&srv, NULL, buf, 10));
	assert_int_equal(EINVAL, sipsrv_http_base(NULL, NULL, buf,
						  sizeof(buf)));
}


/* What libre's request() has written when it calls the send handler. */
#define REQ "INVITE sip:bob@127.0.0.1:5070 SIP/2.0\r\n"
#define VIA(h) "Via: SIP/2.0/UDP " h ";branch=z9hG4bK0123456789abcdef" \
	";rport\r\n"

static void test_request_prep(void **state)
{
	static const struct {
		const char *adv;       /* "" none */
		const char *src;
		const char *in;
		const char *out;       /* NULL: EPROTO, mb untouched */
		const char *contact;
	} v[] = {
		{"", "192.0.2.2", REQ VIA("192.0.2.2:5060"),
		 REQ VIA("192.0.2.2:5060"), "192.0.2.2:5060"},
		{"203.0.113.7", "192.0.2.2", REQ VIA("192.0.2.2:5060"),
		 REQ VIA("203.0.113.7:5060"), "203.0.113.7:5060"},
		{"2001:db8::5", "::1", REQ VIA("[::1]:5060"),
		 REQ VIA("[2001:db8::5]:5060"), "[2001:db8::5]:5060"},
		{"203.0.113.7", "192.0.2.2", REQ
		 "Via: SIP/2.0/TCP 192.0.2.2:5060;branch=z9hG4bK1\r\n"
		 "Contact: <sip:x@192.0.2.2:5060>\r\n",
		 REQ "Via: SIP/2.0/TCP 203.0.113.7:5060;branch=z9hG4bK1\r\n"
		 "Contact: <sip:x@192.0.2.2:5060>\r\n", "203.0.113.7:5060"},
		/* Not what libre writes: left alone. */
		{"203.0.113.7", "192.0.2.2", REQ "Max-Forwards: 70\r\n", NULL,
		 NULL},
		{"203.0.113.7", "192.0.2.2", REQ "Via: SIP/2.0/UDP x\r\n",
		 NULL, NULL},
		{"203.0.113.7", "192.0.2.2", "INVITE", NULL, NULL},
	};
	struct sipsrv srv;
	long mark = leakcheck_mark();
	(void)state;

	for (size_t i = 0; i < ARRAY_SIZE(v); i++) {
		struct mbuf *mb = mbuf_alloc(256);
		struct sa src, contact;
		char c[64];
		int err;

		memset(&srv, 0, sizeof(srv));
		if (*v[i].adv)
			srv.conf.advertise = addr(v[i].adv, 0);
		src = addr(v[i].src, 5060);
		memset(&contact, 0, sizeof(contact));

		assert_non_null(mb);
		assert_int_equal(0, mbuf_write_str(mb, v[i].in));
		err = sipsrv_request_prep(&srv, &src, mb, &contact);

		/* libre goes on writing at mb->pos: it must be the end. */
		assert_int_equal(mb->pos, mb->end);
		if (!v[i].out) {
			assert_int_equal(EPROTO, err);
			assert_int_equal(mb->end, strlen(v[i].in));
			assert_memory_equal(mb->buf, v[i].in, mb->end);
			mem_deref(mb);
			continue;
		}

		assert_int_equal(0, err);
		if (mb->end != strlen(v[i].out) ||
		    memcmp(mb->buf, v[i].out, mb->end))
			fail_msg("vector %zu: %b", i, mb->buf, mb->end);
		(void)re_snprintf(c, sizeof(c), "%J", &contact);
		assert_string_equal(c, v[i].contact);
		mem_deref(mb);
	}

	leakcheck_assert(mark);
}


static void test_listen_order(void **state)
{
	struct sa cand[6], out[8], adv, primary;
	unsigned n;
	char s[160];
	(void)state;

	cand[0] = addr("127.0.0.1", 0);
	cand[1] = addr("10.0.0.5", 0);
	cand[2] = addr("::1", 0);
	cand[3] = addr("192.0.2.2", 0);
	cand[4] = addr("fe80::1", 0);
	cand[5] = addr("fd00::2", 0);
	primary = addr("192.0.2.2", 0);
	memset(&adv, 0, sizeof(adv));

	/* The default-route address first, loopback last, one family. */
	n = sipsrv_listen_order(out, ARRAY_SIZE(out), cand, 6, AF_INET,
				&adv, &primary);
	assert_int_equal(3, n);
	(void)re_snprintf(s, sizeof(s), "%j %j %j", &out[0], &out[1],
			  &out[2]);
	assert_string_equal(s, "192.0.2.2 10.0.0.5 127.0.0.1");

	/* The advertised address before it, also when no interface has
	 * it; no duplicates. */
	adv = addr("127.0.0.2", 0);
	n = sipsrv_listen_order(out, ARRAY_SIZE(out), cand, 6, AF_INET,
				&adv, &primary);
	assert_int_equal(4, n);
	(void)re_snprintf(s, sizeof(s), "%j %j %j %j", &out[0], &out[1],
			  &out[2], &out[3]);
	assert_string_equal(s, "127.0.0.2 192.0.2.2 10.0.0.5 127.0.0.1");
	adv = addr("10.0.0.5", 0);
	n = sipsrv_listen_order(out, ARRAY_SIZE(out), cand, 6, AF_INET,
				&adv, &primary);
	assert_int_equal(3, n);
	(void)re_snprintf(s, sizeof(s), "%j %j %j", &out[0], &out[1],
			  &out[2]);
	assert_string_equal(s, "10.0.0.5 192.0.2.2 127.0.0.1");

	/* A primary that is no candidate is ignored; IPv6 link-local is
	 * left out; an advertised address of the other family too. */
	primary = addr("198.51.100.1", 0);
	n = sipsrv_listen_order(out, ARRAY_SIZE(out), cand, 6, AF_INET6,
				&adv, &primary);
	assert_int_equal(2, n);
	(void)re_snprintf(s, sizeof(s), "%j %j", &out[0], &out[1]);
	assert_string_equal(s, "fd00::2 ::1");

	/* Only loopback: loopback. */
	n = sipsrv_listen_order(out, ARRAY_SIZE(out), cand, 1, AF_INET,
				NULL, NULL);
	assert_int_equal(1, n);
	assert_true(sa_is_loopback(&out[0]));

	/* Bounded. */
	n = sipsrv_listen_order(out, 2, cand, 6, AF_INET, NULL, NULL);
	assert_int_equal(2, n);
	assert_int_equal(0, sipsrv_listen_order(out, 8, NULL, 3, AF_INET,
						NULL, NULL));
}


/* ---- the real transports of a server on 0.0.0.0 ---------------------- */

static struct sipsrv *server(const char *sip, const char *adv,
			     struct streamer *st);


/* The loop's fd table and libre's grow once, to the size of a server on
 * every local address: the leak checks count from after that. */
static int setup(void **state)
{
	(void)state;

	if (libre_init() || loop_init())
		return -1;

	mem_deref(server("0.0.0.0", "127.0.0.2", NULL));

	return 0;
}


static int teardown(void **state)
{
	(void)state;

	loop_close();
	libre_close();

	return 0;
}


static struct sipsrv *server(const char *sip, const char *adv,
			     struct streamer *st)
{
	struct sipsrv_conf conf;
	struct sipsrv *srv = NULL;

	memset(&conf, 0, sizeof(conf));
	conf.laddr = addr(sip, 0);
	if (adv)
		conf.advertise = addr(adv, 0);
	conf.http_laddr = addr(sa_af(&conf.laddr) == AF_INET6 ? "::" :
			       "0.0.0.0", 8080);
	conf.streamer = st;
	assert_int_equal(0, sipsrv_alloc(&srv, &conf));

	return srv;
}


static void test_wildcard_transports(void **state)
{
	struct sipsrv *srv;
	struct sa lo, a;
	long mark;
	(void)state;

	/* The first run makes libre's and getifaddrs' one-time blocks. */
	mem_deref(server("0.0.0.0", NULL, NULL));
	mark = leakcheck_mark();

	srv = server("0.0.0.0", NULL, NULL);

	/* It reports the unspecified address with the port it picked ... */
	assert_false(sa_isset(sipsrv_laddr(srv), SA_ADDR));
	assert_int_not_equal(0, sa_port(sipsrv_laddr(srv)));

	/* ... and listens on 127.0.0.1 at that port, UDP and TCP ... */
	lo = addr("127.0.0.1", sa_port(sipsrv_laddr(srv)));
	assert_true(sip_transp_isladdr(srv->sip, SIP_TRANSP_UDP, &lo));
	assert_true(sip_transp_isladdr(srv->sip, SIP_TRANSP_TCP, &lo));

	/* ... while requests leave from a concrete address, the
	 * default-route one where there is one. */
	assert_true(sa_isset(sipsrv_primary(srv), SA_ALL));
	assert_int_equal(0, sip_transp_laddr(srv->sip, &a, SIP_TRANSP_UDP,
					     &lo));
	assert_true(sa_cmp(&a, sipsrv_primary(srv), SA_ALL));
	if (!net_default_source_addr_get(AF_INET, &a))
		assert_true(sa_cmp(&a, sipsrv_primary(srv), SA_ADDR));

	/* The HTTP base is concrete from the start. */
	assert_null(strstr(srv->conf.http_base, "0.0.0.0"));
	assert_non_null(strstr(srv->conf.http_base, ":8080"));

	mem_deref(srv);
	leakcheck_assert(mark);
}


static void test_wildcard_advertise(void **state)
{
	struct sipsrv *srv;
	struct sa a;
	long mark = leakcheck_mark();
	(void)state;

	/* 127.0.0.2 is local on Linux without being an interface's: it is
	 * listened on, first, so requests leave from it. */
	srv = server("0.0.0.0", "127.0.0.2", NULL);
	a = addr("127.0.0.2", sa_port(sipsrv_laddr(srv)));
	assert_true(sa_cmp(sipsrv_primary(srv), &a, SA_ALL));
	assert_string_equal(srv->conf.http_base, "http://127.0.0.2:8080");
	mem_deref(srv);

	/* A NAT's address is not ours: advertised, not listened on. */
	srv = server("0.0.0.0", "203.0.113.7", NULL);
	a = addr("203.0.113.7", sa_port(sipsrv_laddr(srv)));
	assert_false(sip_transp_isladdr(srv->sip, SIP_TRANSP_UDP, &a));
	assert_true(sa_isset(sipsrv_primary(srv), SA_ADDR));
	assert_false(sa_cmp(sipsrv_primary(srv), &a, SA_ADDR));
	assert_string_equal(srv->conf.http_base, "http://203.0.113.7:8080");
	mem_deref(srv);

	/* A concrete --sip is listened on alone. */
	srv = server("127.0.0.1", "127.0.0.2", NULL);
	a = addr("127.0.0.1", sa_port(sipsrv_laddr(srv)));
	assert_true(sa_cmp(sipsrv_laddr(srv), &a, SA_ALL));
	assert_true(sa_cmp(sipsrv_primary(srv), &a, SA_ALL));
	mem_deref(srv);

	leakcheck_assert(mark);
}


static bool ipv6_loopback(void)
{
	struct sockaddr_in6 sin6;
	int fd = socket(AF_INET6, SOCK_DGRAM, 0);
	bool ok;

	if (fd < 0)
		return false;

	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_addr = in6addr_loopback;
	ok = bind(fd, (struct sockaddr *)&sin6, sizeof(sin6)) == 0;
	(void)close(fd);

	return ok;
}


static void test_wildcard_ipv6(void **state)
{
	struct sipsrv *srv;
	struct sa lo;
	char buf[64];
	long mark;
	(void)state;

	/* Where this host has no IPv6 loopback there is nothing to test. */
	if (!ipv6_loopback())
		skip();

	mem_deref(server("::", NULL, NULL));
	mark = leakcheck_mark();
	srv = server("::", NULL, NULL);
	lo = addr("::1", sa_port(sipsrv_laddr(srv)));
	assert_true(sip_transp_isladdr(srv->sip, SIP_TRANSP_UDP, &lo));
	assert_int_equal(0, sipsrv_http_base(srv, &lo, buf, sizeof(buf)));
	assert_string_equal(buf, "http://[::1]:8080");
	mem_deref(srv);
	leakcheck_assert(mark);
}


/* ---- the SDP address of both RTP modes -------------------------------- */

static char *as_offer(struct streamer *st, const char *ip)
{
	struct asmedia *a = NULL;
	struct mbuf *mb = NULL;
	char *text = NULL;
	struct sa sa;

	assert_int_equal(0, modeas_alloc(&a, st, DIR_BT));
	if (ip) {
		sa = addr(ip, 0);
		modeas_sdp_addr(a, &sa);
	}
	assert_int_equal(0, modeas_offer(a, &mb));
	assert_int_equal(0, mbuf_strdup(mb, &text, mbuf_get_left(mb)));
	mem_deref(mb);
	mem_deref(a);

	return text;
}


static void test_sdp_addr(void **state)
{
	struct streamer *st = NULL;
	struct sipsrv *srv;
	struct sa any = addr("0.0.0.0", 0);
	char *t;
	long mark;
	(void)state;

	assert_int_equal(0, streamer_alloc(&st, &any, RTP_LO, RTP_HI));
	srv = server("0.0.0.0", "127.0.0.2", st);
	mem_deref(as_offer(st, NULL));
	mem_deref(srv);
	mark = leakcheck_mark();

	/* The B2BUA names the address the request arrived on. */
	t = as_offer(st, "127.0.0.3");
	assert_non_null(strstr(t, "c=IN IP4 127.0.0.3\r\n"));
	assert_non_null(strstr(t, " IN IP4 127.0.0.3\r\n"));
	assert_non_null(strstr(t, "m=audio 331"));
	mem_deref(t);

	/* A server on 0.0.0.0 announces its streams at the advertised
	 * address, or at its first transport's: never 0.0.0.0. */
	srv = server("0.0.0.0", "127.0.0.2", st);
	t = as_offer(st, NULL);
	assert_non_null(strstr(t, "c=IN IP4 127.0.0.2\r\n"));
	assert_null(strstr(t, "0.0.0.0"));
	mem_deref(t);
	mem_deref(srv);

	srv = server("0.0.0.0", NULL, st);
	t = as_offer(st, NULL);
	assert_null(strstr(t, "0.0.0.0"));
	mem_deref(t);
	mem_deref(srv);

	leakcheck_assert(mark);
	mem_deref(st);
}


static void test_gw_sdp_addr(void **state)
{
	struct streamer *st = NULL;
	struct gwmedia *g = NULL;
	struct mbuf *mb = NULL, *re = NULL;
	struct sa any = addr("0.0.0.0", 0), ip = addr("127.0.0.3", 0);
	struct pl offer = plz("v=0\r\no=alice 42 1 IN IP4 127.0.0.1\r\n"
			      "s=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
			      "m=audio 40000 RTP/AVP 0\r\n");
	struct pl callee = plz("v=0\r\no=bob 7 1 IN IP4 127.0.0.9\r\n"
			       "s=-\r\nc=IN IP4 127.0.0.9\r\nt=0 0\r\n"
			       "m=audio 40100 RTP/AVP 0\r\n");
	char *t = NULL;
	(void)state;

	assert_int_equal(0, streamer_alloc(&st, &any, RTP_LO, RTP_HI));
	assert_int_equal(0, modegw_alloc(&g, st, &offer));
	modegw_sdp_addr(g, &ip);
	assert_int_equal(0, modegw_answer(g, &mb));
	assert_int_equal(0, mbuf_strdup(mb, &t, mbuf_get_left(mb)));
	assert_non_null(strstr(t, "c=IN IP4 127.0.0.3\r\n"));
	assert_non_null(strstr(t, " IN IP4 127.0.0.3\r\n"));
	t = mem_deref(t);

	/* The re-offer keeps that origin. */
	assert_int_equal(0, modegw_reoffer(g, &callee, &re));
	assert_int_equal(0, mbuf_strdup(re, &t, mbuf_get_left(re)));
	assert_non_null(strstr(t, " IN IP4 127.0.0.3\r\n"));
	assert_non_null(strstr(t, "c=IN IP4 127.0.0.9\r\n"));

	mem_deref(t);
	mem_deref(re);
	mem_deref(mb);
	mem_deref(g);
	mem_deref(st);
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_advertised),
		cmocka_unit_test(test_http_base),
		cmocka_unit_test(test_request_prep),
		cmocka_unit_test(test_listen_order),
		cmocka_unit_test(test_wildcard_transports),
		cmocka_unit_test(test_wildcard_advertise),
		cmocka_unit_test(test_wildcard_ipv6),
		cmocka_unit_test(test_sdp_addr),
		cmocka_unit_test(test_gw_sdp_addr),
	};

	return cmocka_run_group_tests_name("sip/advertise", tests, setup,
					   teardown);
}
