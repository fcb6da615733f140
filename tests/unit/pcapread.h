/**
 * @file pcapread.h  Reading a capture file back in the unit tests
 *
 * The tests of the capture writer (core/test_pcapw.c), of the HTTP
 * client's capture (http/test_fetch.c) and of the RTP capture
 * (rtp/test_rtp_capture.c) read the file the code under test wrote
 * (slurp() of tmpfiles.h), byte by byte, and check it the way a receiver
 * does: the global header, every record's lengths, and the IP and
 * transport checksums (the sum over the covered bytes, checksum included,
 * folds to all ones), without calling the code under test again.
 *
 * The helpers are static inline so that a test file that uses only some
 * of them builds without unused-function warnings.  Include this header
 * after <cmocka.h>, <string.h> and <sys/time.h>.
 */
#ifndef CMRLAB_TESTS_PCAPREAD_H
#define CMRLAB_TESTS_PCAPREAD_H

enum { PCAP_GHDR = 24, PCAP_RHDR = 16, PCAP_IP4 = 20, PCAP_IP6 = 40,
       PCAP_UDP = 8, PCAP_TCP = 20 };

/* One record as read back from the file. */
struct rec {
	uint32_t sec, usec, incl, orig;
	const uint8_t *pkt;
};


static inline uint32_t rd32(const uint8_t *p)
{
	uint32_t v;

	/* The file headers are in the writer's byte order. */
	memcpy(&v, p, 4);
	return v;
}


static inline uint16_t rd16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return v;
}


static inline uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}


static inline uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
		(uint32_t)p[2] << 8 | p[3];
}


static inline uint32_t sum(uint32_t acc, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		acc += (i & 1) ? p[i] : (uint32_t)p[i] << 8;

	return acc;
}


static inline bool sum_ok(uint32_t acc)
{
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);

	return acc == 0xffff;
}


/* The IP header length of a raw packet: 20 for IPv4, 40 for IPv6. */
static inline size_t ip_hlen(const uint8_t *pkt)
{
	return (pkt[0] >> 4) == 4 ? PCAP_IP4 : PCAP_IP6;
}


/* The transport protocol of a raw packet. */
static inline uint8_t ip_proto(const uint8_t *pkt)
{
	return (pkt[0] >> 4) == 4 ? pkt[9] : pkt[6];
}


/* The bytes after the IP header: taken from the IP header's length. */
static inline size_t ip_l4len(const uint8_t *pkt)
{
	return (pkt[0] >> 4) == 4 ? (size_t)be16(pkt + 2) - PCAP_IP4 :
		be16(pkt + 4);
}


/* A receiver's check of the UDP or TCP checksum of a raw IP packet: the
 * pseudo-header with the packet's own protocol and transport length. */
static inline bool l4_sum_ok(const uint8_t *pkt)
{
	uint8_t ph[40];
	size_t len = ip_l4len(pkt);
	uint32_t acc;

	memset(ph, 0, sizeof(ph));
	if ((pkt[0] >> 4) == 4) {
		memcpy(ph, pkt + 12, 8);
		ph[9] = pkt[9];
		ph[10] = (uint8_t)(len >> 8);
		ph[11] = (uint8_t)len;
		acc = sum(0, ph, 12);
	}
	else {
		memcpy(ph, pkt + 8, 32);
		ph[34] = (uint8_t)(len >> 8);
		ph[35] = (uint8_t)len;
		ph[39] = pkt[6];
		acc = sum(0, ph, 40);
	}

	return sum_ok(sum(acc, pkt + ip_hlen(pkt), len));
}


/* Splits the file into records; checks the global header on the way. */
static inline unsigned parse(const uint8_t *buf, size_t len, struct rec *out,
			     unsigned max)
{
	size_t off = PCAP_GHDR;
	unsigned n = 0;

	assert_true(len >= PCAP_GHDR);
	assert_int_equal(rd32(buf), 0xa1b2c3d4);
	assert_int_equal(rd16(buf + 4), 2);
	assert_int_equal(rd16(buf + 6), 4);
	assert_int_equal(rd32(buf + 8), 0);
	assert_int_equal(rd32(buf + 12), 0);
	assert_int_equal(rd32(buf + 16), 65535);
	assert_int_equal(rd32(buf + 20), 101);

	while (off < len) {
		assert_true(n < max);
		assert_true(off + PCAP_RHDR <= len);
		out[n].sec = rd32(buf + off);
		out[n].usec = rd32(buf + off + 4);
		out[n].incl = rd32(buf + off + 8);
		out[n].orig = rd32(buf + off + 12);
		out[n].pkt = buf + off + PCAP_RHDR;
		assert_true(out[n].incl <= 65535);
		assert_true(off + PCAP_RHDR + out[n].incl <= len);
		off += PCAP_RHDR + out[n].incl;
		n++;
	}
	assert_int_equal(off, len);

	return n;
}


static inline void check_time(const struct rec *r)
{
	struct timeval now;

	gettimeofday(&now, NULL);
	assert_true(r->usec < 1000000);
	assert_true(r->sec + 60 >= (uint32_t)now.tv_sec);
	assert_true(r->sec <= (uint32_t)now.tv_sec);
}


/* One record's UDP datagram over IPv4, as the RTP capture writes them. */
struct udp4 {
	uint32_t saddr, daddr;         /* host order */
	uint16_t sport, dport;
	const uint8_t *data;           /* the UDP payload */
	size_t len;
};


/* The addresses, ports and payload of a record that must be UDP over
 * IPv4 without options, its IP and UDP lengths those of the record. */
static inline void udp4_get(struct udp4 *u, const struct rec *r)
{
	const uint8_t *ip = r->pkt;

	assert_true(r->incl >= PCAP_IP4 + PCAP_UDP);
	assert_int_equal(ip[0], 0x45);
	assert_int_equal(ip[9], 17);
	assert_int_equal(be16(ip + 2), r->incl);

	u->saddr = be32(ip + 12);
	u->daddr = be32(ip + 16);
	u->sport = be16(ip + 20);
	u->dport = be16(ip + 22);
	u->data = ip + PCAP_IP4 + PCAP_UDP;
	u->len = r->incl - PCAP_IP4 - PCAP_UDP;
	assert_int_equal(be16(ip + 24), PCAP_UDP + u->len);
}


#endif
