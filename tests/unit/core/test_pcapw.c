/**
 * @file test_pcapw.c  The capture file: headers, checksums, truncation
 *
 * Every test writes a real file and reads it back byte by byte.  The
 * checksums are verified the way a receiver does (the sum over the
 * covered bytes, checksum included, folds to all ones), not by calling
 * the code under test again.
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

enum { GHDR = 24, RHDR = 16, IP4 = 20, IP6 = 40, UDP = 8,
       MAX4 = 65507, MAX6 = 65487 };

static char path[64];

/* One record as read back from the file. */
struct rec {
	uint32_t sec, usec, incl, orig;
	const uint8_t *pkt;
};


static uint32_t rd32(const uint8_t *p)
{
	uint32_t v;

	/* The file headers are in the writer's byte order. */
	memcpy(&v, p, 4);
	return v;
}


static uint16_t rd16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return v;
}


static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}


static uint32_t sum(uint32_t acc, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		acc += (i & 1) ? p[i] : (uint32_t)p[i] << 8;

	return acc;
}


static bool sum_ok(uint32_t acc)
{
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);

	return acc == 0xffff;
}


/* A receiver's check of the UDP checksum of a raw IP packet. */
static bool udp_sum_ok(const uint8_t *pkt)
{
	uint8_t ph[40];
	const uint8_t *udp;
	size_t ulen;
	uint32_t acc;

	memset(ph, 0, sizeof(ph));
	if ((pkt[0] >> 4) == 4) {
		udp = pkt + IP4;
		ulen = be16(udp + 4);
		memcpy(ph, pkt + 12, 8);
		ph[9] = 17;
		ph[10] = (uint8_t)(ulen >> 8);
		ph[11] = (uint8_t)ulen;
		acc = sum(0, ph, 12);
	}
	else {
		udp = pkt + IP6;
		ulen = be16(udp + 4);
		memcpy(ph, pkt + 8, 32);
		ph[34] = (uint8_t)(ulen >> 8);
		ph[35] = (uint8_t)ulen;
		ph[39] = 17;
		acc = sum(0, ph, 40);
	}

	return sum_ok(sum(acc, udp, ulen));
}


static uint8_t *slurp(size_t *lenp)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*lenp = (size_t)n;

	return buf;
}


/* Splits the file into records; checks the global header on the way. */
static unsigned parse(const uint8_t *buf, size_t len, struct rec *out,
		      unsigned max)
{
	size_t off = GHDR;
	unsigned n = 0;

	assert_true(len >= GHDR);
	assert_int_equal(rd32(buf), 0xa1b2c3d4);
	assert_int_equal(rd16(buf + 4), 2);
	assert_int_equal(rd16(buf + 6), 4);
	assert_int_equal(rd32(buf + 8), 0);
	assert_int_equal(rd32(buf + 12), 0);
	assert_int_equal(rd32(buf + 16), 65535);
	assert_int_equal(rd32(buf + 20), 101);

	while (off < len) {
		assert_true(n < max);
		assert_true(off + RHDR <= len);
		out[n].sec = rd32(buf + off);
		out[n].usec = rd32(buf + off + 4);
		out[n].incl = rd32(buf + off + 8);
		out[n].orig = rd32(buf + off + 12);
		out[n].pkt = buf + off + RHDR;
		assert_true(out[n].incl <= 65535);
		assert_true(off + RHDR + out[n].incl <= len);
		off += RHDR + out[n].incl;
		n++;
	}
	assert_int_equal(off, len);

	return n;
}


static void check_time(const struct rec *r)
{
	struct timeval now;

	gettimeofday(&now, NULL);
	assert_true(r->usec < 1000000);
	assert_true(r->sec + 60 >= (uint32_t)now.tv_sec);
	assert_true(r->sec <= (uint32_t)now.tv_sec);
}


static int setup(void **state)
{
	int fd;

	(void)state;
	(void)snprintf(path, sizeof(path), "/tmp/cmrlab-pcapw-XXXXXX");
	fd = mkstemp(path);
	if (fd < 0)
		return -1;
	close(fd);

	return 0;
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
	buf = slurp(&len);
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
	buf = slurp(&len);
	assert_int_equal(len, GHDR + RHDR + IP4 + UDP + mlen);
	free(buf);

	assert_int_equal(pcapw_udp(&dst, &src, NULL, 0), 0);
	pcapw_close();

	buf = slurp(&len);
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
	assert_true(udp_sum_ok(p));

	/* The checks can fail: one flipped bit breaks both sums. */
	p[IP4 + UDP] ^= 0x01;
	assert_false(udp_sum_ok(p));
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
	assert_true(udp_sum_ok(p));
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

	buf = slurp(&len);
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
	assert_true(udp_sum_ok(p));
	p[8 + 15] ^= 0x02;          /* the source address is covered too */
	assert_false(udp_sum_ok(p));

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

	buf = slurp(&len);
	assert_int_equal(parse(buf, len, r, 4), 4);

	/* IPv4: the largest datagram there is. */
	assert_int_equal(r[0].incl, 65535);
	assert_int_equal(r[0].orig, 65535);
	assert_int_equal(be16(r[0].pkt + 2), 65535);
	assert_int_equal(be16(r[0].pkt + 24), UDP + MAX4);
	assert_memory_equal(r[0].pkt + IP4 + UDP, big, MAX4);
	assert_true(sum_ok(sum(0, r[0].pkt, IP4)));
	assert_true(udp_sum_ok(r[0].pkt));

	/* IPv6: the whole packet still fits the snap length. */
	assert_int_equal(r[1].incl, 65535);
	assert_int_equal(be16(r[1].pkt + 4), UDP + MAX6);
	assert_int_equal(be16(r[1].pkt + 44), UDP + MAX6);
	assert_memory_equal(r[1].pkt + IP6 + UDP, big, MAX6);
	assert_true(udp_sum_ok(r[1].pkt));

	/* Exactly the limit, and one byte under it, are not cut. */
	assert_int_equal(r[2].incl, 65535);
	assert_memory_equal(r[2].pkt + IP4 + UDP, big, MAX4);
	assert_int_equal(r[3].incl, 65534);
	assert_int_equal(be16(r[3].pkt + 24), UDP + MAX4 - 1);
	assert_true(udp_sum_ok(r[3].pkt));

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

	buf = slurp(&len);
	assert_int_equal(parse(buf, len, r, 1), 1);
	assert_int_equal(r[0].pkt[0] >> 4, 6);
	assert_memory_equal(r[0].pkt + 8, zero, 16);
	assert_int_equal(be16(r[0].pkt + 40), 5060);
	assert_true(udp_sum_ok(r[0].pkt));
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
	buf = slurp(&len);
	assert_int_equal(len, GHDR);
	free(buf);
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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
