/**
 * @file test_pcapw.c  The capture file: headers, checksums, truncation,
 *                     UDP and TCP
 *
 * Every test writes a real file and reads it back byte by byte
 * (tmpfiles.h, pcapread.h).  The checksums are verified the way a receiver does (the
 * sum over the covered bytes, checksum included, folds to all ones), not
 * by calling the code under test again.
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
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>
#include <re.h>
#include "core/core.h"
#include "tests/unit/tmpfiles.h"
#include "tests/unit/pcapread.h"

enum { GHDR = 24, RHDR = 16, IP4 = 20, IP6 = 40, UDP = 8,
       MAX4 = 65507, MAX6 = 65487 };

static char path[64];

static int setup(void **state)
{
	(void)state;
	return tmpfile_new(path, sizeof(path), "/tmp/cmrlab-pcapw-XXXXXX");
}


static int teardown(void **state)
{
	(void)state;
	pcapw_close();
	unlink(path);

	return 0;
}


static void test_global_header(void **state)
{
	struct rec r[1];
	uint8_t *buf;
	size_t len;
	FILE *f;

	(void)state;

	/* The file exists with content that open must truncate. */
	f = fopen(path, "wb");
	assert_non_null(f);
	fputs("stale bytes, not a capture", f);
	fclose(f);

	assert_false(pcapw_active());
	assert_int_equal(pcapw_open(path), 0);
	assert_true(pcapw_active());

	/* On the disk already, before any close. */
	buf = slurp(path, &len);
	assert_int_equal(len, GHDR);
	assert_int_equal(parse(buf, len, r, 1), 0);
	free(buf);

	pcapw_close();
	assert_false(pcapw_active());
	pcapw_close();
}


static void test_ipv4(void **state)
{
	static const char msg[] = "OPTIONS sip:bob@127.0.0.2 SIP/2.0\r\n\r\n"
		"odd!";
	struct sa src, dst;
	struct rec r[4];
	uint8_t *buf, *p;
	size_t len, mlen = strlen(msg);

	(void)state;
	assert_true(mlen & 1);
	assert_int_equal(sa_set_str(&src, "127.0.0.1", 5060), 0);
	assert_int_equal(sa_set_str(&dst, "192.0.2.10", 40001), 0);

	assert_int_equal(pcapw_open(path), 0);
	assert_int_equal(pcapw_udp(&src, &dst, (const uint8_t *)msg, mlen),
			 0);

	/* Flushed per record: readable while the file is open. */
	buf = slurp(path, &len);
	assert_int_equal(len, GHDR + RHDR + IP4 + UDP + mlen);
	free(buf);

	assert_int_equal(pcapw_udp(&dst, &src, NULL, 0), 0);
	pcapw_close();

	buf = slurp(path, &len);
	assert_int_equal(parse(buf, len, r, 4), 2);

	assert_int_equal(r[0].incl, IP4 + UDP + mlen);
	assert_int_equal(r[0].orig, r[0].incl);
	check_time(&r[0]);
	p = (uint8_t *)r[0].pkt;
	assert_int_equal(p[0], 0x45);
	assert_int_equal(be16(p + 2), IP4 + UDP + mlen);
	assert_int_equal(p[8], 64);
	assert_int_equal(p[9], 17);
	assert_true(sum_ok(sum(0, p, IP4)));
	assert_memory_equal(p + 12, "\x7f\x00\x00\x01", 4);
	assert_memory_equal(p + 16, "\xc0\x00\x02\x0a", 4);
	assert_int_equal(be16(p + 20), 5060);
	assert_int_equal(be16(p + 22), 40001);
	assert_int_equal(be16(p + 24), UDP + mlen);
	assert_memory_equal(p + IP4 + UDP, msg, mlen);
	assert_true(l4_sum_ok(p));

	/* The checks can fail: one flipped bit breaks both sums. */
	p[IP4 + UDP] ^= 0x01;
	assert_false(l4_sum_ok(p));
	p[IP4 + UDP] ^= 0x01;
	p[8] ^= 0x01;
	assert_false(sum_ok(sum(0, p, IP4)));
	p[8] ^= 0x01;

	/* The reply direction, empty. */
	assert_int_equal(r[1].incl, IP4 + UDP);
	p = (uint8_t *)r[1].pkt;
	assert_int_equal(be16(p + 2), IP4 + UDP);
	assert_true(sum_ok(sum(0, p, IP4)));
	assert_memory_equal(p + 12, "\xc0\x00\x02\x0a", 4);
	assert_memory_equal(p + 16, "\x7f\x00\x00\x01", 4);
	assert_int_equal(be16(p + 20), 40001);
	assert_int_equal(be16(p + 22), 5060);
	assert_int_equal(be16(p + 24), UDP);
	assert_true(l4_sum_ok(p));
	assert_true(r[1].sec > r[0].sec ||
		    (r[1].sec == r[0].sec && r[1].usec >= r[0].usec));

	free(buf);
}


static void test_ipv6(void **state)
{
	static const uint8_t lo6[16] = { [15] = 1 };
	static const uint8_t doc6[16] = { 0x20, 0x01, 0x0d, 0xb8,
					  [15] = 0x42 };
	static const char msg[] = "SIP/2.0 200 OK\r\nCSeq: 1 OPTIONS\r\n\r\n!";
	struct sa src, dst;
	struct rec r[2];
	uint8_t *buf, *p;
	size_t len, mlen = strlen(msg);

	(void)state;
	assert_int_equal(sa_set_str(&src, "::1", 5062), 0);
	assert_int_equal(sa_set_str(&dst, "2001:db8::42", 5999), 0);

	assert_int_equal(pcapw_open(path), 0);
	assert_int_equal(pcapw_udp(&src, &dst, (const uint8_t *)msg, mlen),
			 0);
	pcapw_close();

	buf = slurp(path, &len);
	assert_int_equal(parse(buf, len, r, 2), 1);
	assert_int_equal(r[0].incl, IP6 + UDP + mlen);
	assert_int_equal(r[0].orig, r[0].incl);
	check_time(&r[0]);

	p = (uint8_t *)r[0].pkt;
	assert_int_equal(p[0] >> 4, 6);
	assert_int_equal(be16(p + 4), UDP + mlen);
	assert_int_equal(p[6], 17);
	assert_int_equal(p[7], 64);
	assert_memory_equal(p + 8, lo6, 16);
	assert_memory_equal(p + 24, doc6, 16);
	assert_int_equal(be16(p + 40), 5062);
	assert_int_equal(be16(p + 42), 5999);
	assert_int_equal(be16(p + 44), UDP + mlen);
	assert_memory_equal(p + IP6 + UDP, msg, mlen);

	/* Zero means "no checksum", which IPv6 forbids. */
	assert_int_not_equal(be16(p + 46), 0);
	assert_true(l4_sum_ok(p));
	p[8 + 15] ^= 0x02;          /* the source address is covered too */
	assert_false(l4_sum_ok(p));

	free(buf);
}


static void test_truncate(void **state)
{
	struct sa s4, d4, s6, d6;
	struct rec r[4];
	uint8_t *big, *buf;
	size_t len, n = 70001;

	(void)state;
	big = malloc(n);
	assert_non_null(big);
	for (size_t i = 0; i < n; i++)
		big[i] = (uint8_t)(i * 7 + (i >> 8));

	assert_int_equal(sa_set_str(&s4, "10.0.0.1", 5060), 0);
	assert_int_equal(sa_set_str(&d4, "10.0.0.2", 5060), 0);
	assert_int_equal(sa_set_str(&s6, "fd00::1", 5060), 0);
	assert_int_equal(sa_set_str(&d6, "fd00::2", 5060), 0);

	assert_int_equal(pcapw_open(path), 0);
	assert_int_equal(pcapw_udp(&s4, &d4, big, n), 0);
	assert_int_equal(pcapw_udp(&s6, &d6, big, n), 0);
	assert_int_equal(pcapw_udp(&s4, &d4, big, MAX4), 0);
	assert_int_equal(pcapw_udp(&s4, &d4, big, MAX4 - 1), 0);
	pcapw_close();

	buf = slurp(path, &len);
	assert_int_equal(parse(buf, len, r, 4), 4);

	/* IPv4: the largest datagram there is. */
	assert_int_equal(r[0].incl, 65535);
	assert_int_equal(r[0].orig, 65535);
	assert_int_equal(be16(r[0].pkt + 2), 65535);
	assert_int_equal(be16(r[0].pkt + 24), UDP + MAX4);
	assert_memory_equal(r[0].pkt + IP4 + UDP, big, MAX4);
	assert_true(sum_ok(sum(0, r[0].pkt, IP4)));
	assert_true(l4_sum_ok(r[0].pkt));

	/* IPv6: the whole packet still fits the snap length. */
	assert_int_equal(r[1].incl, 65535);
	assert_int_equal(be16(r[1].pkt + 4), UDP + MAX6);
	assert_int_equal(be16(r[1].pkt + 44), UDP + MAX6);
	assert_memory_equal(r[1].pkt + IP6 + UDP, big, MAX6);
	assert_true(l4_sum_ok(r[1].pkt));

	/* Exactly the limit, and one byte under it, are not cut. */
	assert_int_equal(r[2].incl, 65535);
	assert_memory_equal(r[2].pkt + IP4 + UDP, big, MAX4);
	assert_int_equal(r[3].incl, 65534);
	assert_int_equal(be16(r[3].pkt + 24), UDP + MAX4 - 1);
	assert_true(l4_sum_ok(r[3].pkt));

	free(buf);
	free(big);
}


static void test_mixed_family(void **state)
{
	struct sa src, dst;
	struct rec r[1];
	uint8_t *buf;
	size_t len;
	static const uint8_t zero[16];

	(void)state;

	/* libre reports a local address it cannot read as the bare family
	 * of the peer; an IPv4 local address beside an IPv6 peer is
	 * written as the unspecified address, not dropped. */
	sa_init(&src, AF_INET);
	sa_set_port(&src, 5060);
	assert_int_equal(sa_set_str(&dst, "::1", 5070), 0);

	assert_int_equal(pcapw_open(path), 0);
	assert_int_equal(pcapw_udp(&src, &dst, (const uint8_t *)"x", 1), 0);
	pcapw_close();

	buf = slurp(path, &len);
	assert_int_equal(parse(buf, len, r, 1), 1);
	assert_int_equal(r[0].pkt[0] >> 4, 6);
	assert_memory_equal(r[0].pkt + 8, zero, 16);
	assert_int_equal(be16(r[0].pkt + 40), 5060);
	assert_true(l4_sum_ok(r[0].pkt));
	free(buf);
}


static void test_bad_input(void **state)
{
	struct sa a, none;
	uint8_t *buf;
	size_t len;

	(void)state;
	assert_int_equal(sa_set_str(&a, "127.0.0.1", 5060), 0);
	sa_init(&none, AF_UNSPEC);

	/* Nothing open: nothing written, no crash. */
	assert_int_equal(pcapw_udp(&a, &a, (const uint8_t *)"x", 1), EBADF);

	assert_int_equal(pcapw_open(NULL), EINVAL);
	assert_int_equal(pcapw_open(""), EINVAL);
	assert_int_equal(pcapw_open("/nonexistent-cmrlab-dir/x.pcap"),
			 ENOENT);
	assert_false(pcapw_active());
	assert_int_equal(pcapw_open("/tmp"), EISDIR);
	assert_false(pcapw_active());

	/* Opens, but the header cannot be written: still an error of open,
	 * and nothing stays open. */
	if (access("/dev/full", W_OK) == 0) {
		assert_int_equal(pcapw_open("/dev/full"), ENOSPC);
		assert_false(pcapw_active());
	}

	assert_int_equal(pcapw_open(path), 0);
	assert_int_equal(pcapw_udp(NULL, &a, (const uint8_t *)"x", 1),
			 EINVAL);
	assert_int_equal(pcapw_udp(&a, NULL, (const uint8_t *)"x", 1),
			 EINVAL);
	assert_int_equal(pcapw_udp(&a, &a, NULL, 1), EINVAL);
	assert_int_equal(pcapw_udp(&none, &none, (const uint8_t *)"x", 1),
			 EAFNOSUPPORT);
	assert_true(pcapw_active());
	pcapw_close();

	/* None of the refused packets reached the file. */
	buf = slurp(path, &len);
	assert_int_equal(len, GHDR);
	free(buf);
}


/* ---- TCP -------------------------------------------------------------- */

enum { TCP = 20, MAXT4 = 65495, MAXT6 = 65475 };


/* The fixed fields of every TCP header written: no options, the full
 * window, no urgent data. */
static void check_tcp_fixed(const uint8_t *t)
{
	assert_int_equal(t[12], 0x50);                /* data offset 5 */
	assert_int_equal(be16(t + 14), 65535);
	assert_int_equal(be16(t + 18), 0);
}


static void test_tcp_ipv4(void **state)
{
	static const char get[] = "GET /r/x HTTP/1.1\r\nHost: a\r\n\r\n!";
	struct sa cli, srv;
	struct rec r[4];
	uint8_t *buf, *p, *t;
	size_t len, glen = strlen(get);

	(void)state;
	assert_true(glen & 1);

	/* The flags are the bits of the header's flags byte. */
	assert_int_equal(PCAPW_FIN, 0x01);
	assert_int_equal(PCAPW_SYN, 0x02);
	assert_int_equal(PCAPW_RST, 0x04);
	assert_int_equal(PCAPW_PSH, 0x08);
	assert_int_equal(PCAPW_ACK, 0x10);

	assert_int_equal(sa_set_str(&cli, "127.0.0.1", 40000), 0);
	assert_int_equal(sa_set_str(&srv, "192.0.2.80", 80), 0);

	assert_int_equal(pcapw_open(path), 0);
	assert_int_equal(pcapw_tcp(&cli, &srv, 0xfffffffe, 0, PCAPW_SYN,
				   NULL, 0), 0);
	assert_int_equal(pcapw_tcp(&srv, &cli, 0x01020304, 0xffffffff,
				   PCAPW_SYN | PCAPW_ACK, NULL, 0), 0);
	assert_int_equal(pcapw_tcp(&cli, &srv, 0xffffffff, 0x01020305,
				   PCAPW_PSH | PCAPW_ACK,
				   (const uint8_t *)get, glen), 0);
	pcapw_close();

	buf = slurp(path, &len);
	assert_int_equal(parse(buf, len, r, 4), 3);

	/* The SYN. */
	assert_int_equal(r[0].incl, IP4 + TCP);
	assert_int_equal(r[0].orig, r[0].incl);
	check_time(&r[0]);
	p = (uint8_t *)r[0].pkt;
	t = p + IP4;
	assert_int_equal(p[0], 0x45);
	assert_int_equal(be16(p + 2), IP4 + TCP);
	assert_int_equal(p[9], 6);
	assert_true(sum_ok(sum(0, p, IP4)));
	assert_memory_equal(p + 12, "\x7f\x00\x00\x01", 4);
	assert_memory_equal(p + 16, "\xc0\x00\x02\x50", 4);
	assert_int_equal(be16(t), 40000);
	assert_int_equal(be16(t + 2), 80);
	assert_int_equal(be32(t + 4), 0xfffffffe);
	assert_int_equal(be32(t + 8), 0);
	assert_int_equal(t[13], 0x02);
	check_tcp_fixed(t);
	assert_true(l4_sum_ok(p));

	/* The SYN-ACK, the other way. */
	p = (uint8_t *)r[1].pkt;
	t = p + IP4;
	assert_memory_equal(p + 12, "\xc0\x00\x02\x50", 4);
	assert_int_equal(be16(t), 80);
	assert_int_equal(be16(t + 2), 40000);
	assert_int_equal(be32(t + 4), 0x01020304);
	assert_int_equal(be32(t + 8), 0xffffffff);
	assert_int_equal(t[13], 0x12);
	check_tcp_fixed(t);
	assert_true(l4_sum_ok(p));
	assert_int_not_equal(be16(p + 4), be16(r[0].pkt + 4));   /* IP id */

	/* The request, an odd number of bytes. */
	assert_int_equal(r[2].incl, IP4 + TCP + glen);
	p = (uint8_t *)r[2].pkt;
	t = p + IP4;
	assert_int_equal(be16(p + 2), IP4 + TCP + glen);
	assert_true(sum_ok(sum(0, p, IP4)));
	assert_int_equal(be32(t + 4), 0xffffffff);
	assert_int_equal(be32(t + 8), 0x01020305);
	assert_int_equal(t[13], 0x18);
	check_tcp_fixed(t);
	assert_memory_equal(t + TCP, get, glen);
	assert_true(l4_sum_ok(p));

	/* The check can fail: the payload, the header and the addresses
	 * are all covered. */
	t[TCP + glen - 1] ^= 0x01;
	assert_false(l4_sum_ok(p));
	t[TCP + glen - 1] ^= 0x01;
	t[13] ^= PCAPW_FIN;
	assert_false(l4_sum_ok(p));
	t[13] ^= PCAPW_FIN;
	p[15] ^= 0x01;
	assert_false(l4_sum_ok(p));
	p[15] ^= 0x01;
	assert_true(l4_sum_ok(p));

	free(buf);
}


static void test_tcp_ipv6(void **state)
{
	static const uint8_t lo6[16] = { [15] = 1 };
	static const uint8_t doc6[16] = { 0x20, 0x01, 0x0d, 0xb8,
					  [15] = 0x42 };
	static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
	struct sa cli, srv;
	struct rec r[2];
	uint8_t *buf, *p, *t;
	size_t len, olen = strlen(ok);

	(void)state;
	assert_int_equal(sa_set_str(&srv, "::1", 8080), 0);
	assert_int_equal(sa_set_str(&cli, "2001:db8::42", 51000), 0);

	assert_int_equal(pcapw_open(path), 0);
	assert_int_equal(pcapw_tcp(&srv, &cli, 7, 1234567, PCAPW_PSH |
				   PCAPW_ACK | PCAPW_FIN,
				   (const uint8_t *)ok, olen), 0);
	pcapw_close();

	buf = slurp(path, &len);
	assert_int_equal(parse(buf, len, r, 2), 1);
	assert_int_equal(r[0].incl, IP6 + TCP + olen);
	check_time(&r[0]);

	p = (uint8_t *)r[0].pkt;
	t = p + IP6;
	assert_int_equal(p[0] >> 4, 6);
	assert_int_equal(be16(p + 4), TCP + olen);
	assert_int_equal(p[6], 6);
	assert_int_equal(p[7], 64);
	assert_memory_equal(p + 8, lo6, 16);
	assert_memory_equal(p + 24, doc6, 16);
	assert_int_equal(be16(t), 8080);
	assert_int_equal(be16(t + 2), 51000);
	assert_int_equal(be32(t + 4), 7);
	assert_int_equal(be32(t + 8), 1234567);
	assert_int_equal(t[13], 0x19);
	check_tcp_fixed(t);
	assert_memory_equal(t + TCP, ok, olen);
	assert_true(l4_sum_ok(p));
	p[24 + 15] ^= 0x04;        /* the destination address is covered */
	assert_false(l4_sum_ok(p));

	free(buf);
}


static void test_tcp_limits(void **state)
{
	struct sa s4, d4, s6, d6, none;
	struct rec r[4];
	uint8_t *big, *buf;
	size_t len, n = MAXT4 + 1;

	(void)state;
	big = malloc(n);
	assert_non_null(big);
	for (size_t i = 0; i < n; i++)
		big[i] = (uint8_t)(i * 13 + (i >> 9));

	assert_int_equal(sa_set_str(&s4, "10.0.0.1", 1024), 0);
	assert_int_equal(sa_set_str(&d4, "10.0.0.2", 80), 0);
	assert_int_equal(sa_set_str(&s6, "fd00::1", 1024), 0);
	assert_int_equal(sa_set_str(&d6, "fd00::2", 80), 0);
	sa_init(&none, AF_UNSPEC);

	/* Nothing open. */
	assert_int_equal(pcapw_tcp(&s4, &d4, 1, 0, PCAPW_SYN, NULL, 0),
			 EBADF);

	assert_int_equal(pcapw_open(path), 0);

	/* A segment that does not fit is refused, not cut: the caller's
	 * sequence numbers would no longer match the bytes. */
	assert_int_equal(pcapw_tcp(&s4, &d4, 1, 1, PCAPW_ACK, big, MAXT4 + 1),
			 EMSGSIZE);
	assert_int_equal(pcapw_tcp(&s6, &d6, 1, 1, PCAPW_ACK, big, MAXT6 + 1),
			 EMSGSIZE);
	assert_int_equal(pcapw_tcp(NULL, &d4, 1, 1, PCAPW_ACK, big, 1),
			 EINVAL);
	assert_int_equal(pcapw_tcp(&s4, NULL, 1, 1, PCAPW_ACK, big, 1),
			 EINVAL);
	assert_int_equal(pcapw_tcp(&s4, &d4, 1, 1, PCAPW_ACK, NULL, 1),
			 EINVAL);
	assert_int_equal(pcapw_tcp(&none, &none, 1, 1, PCAPW_ACK, big, 1),
			 EAFNOSUPPORT);
	assert_true(pcapw_active());

	/* Exactly the limit fits the snap length. */
	assert_int_equal(pcapw_tcp(&s4, &d4, 1, 1, PCAPW_ACK, big, MAXT4), 0);
	assert_int_equal(pcapw_tcp(&s6, &d6, 1, 1, PCAPW_ACK, big, MAXT6), 0);
	pcapw_close();

	buf = slurp(path, &len);
	assert_int_equal(parse(buf, len, r, 4), 2);
	assert_int_equal(r[0].incl, 65535);
	assert_int_equal(be16(r[0].pkt + 2), 65535);
	assert_memory_equal(r[0].pkt + IP4 + TCP, big, MAXT4);
	assert_true(sum_ok(sum(0, r[0].pkt, IP4)));
	assert_true(l4_sum_ok(r[0].pkt));
	assert_int_equal(r[1].incl, 65535);
	assert_int_equal(be16(r[1].pkt + 4), TCP + MAXT6);
	assert_memory_equal(r[1].pkt + IP6 + TCP, big, MAXT6);
	assert_true(l4_sum_ok(r[1].pkt));

	free(buf);
	free(big);
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_global_header, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_ipv4, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ipv6, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncate, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_mixed_family, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_bad_input, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_tcp_ipv4, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_tcp_ipv6, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_tcp_limits, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
