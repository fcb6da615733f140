/**
 * @file pcapw.c  Capture file: every SIP message as one packet of a pcap
 *
 * serve --pcap FILE writes what the server sends and receives in the
 * classic pcap format, which Wireshark, tshark and tcpdump read.  The
 * packets are synthesized: an IPv4 or IPv6 header and a UDP header are
 * built around each message, so the link type is LINKTYPE_RAW (a packet
 * starts with its IP header) and both address families fit in one file.
 * Every record is flushed at once, so a test or an operator can read the
 * file while the server runs.
 *
 * Numbers in the file headers are in this host's byte order, as libpcap
 * writes them: readers tell the order from the magic number.  The IP and
 * UDP headers are in network byte order, as on the wire.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <netinet/in.h>
#include <re.h>
#include "core.h"

#define PCAP_MAGIC 0xa1b2c3d4u     /* classic pcap, microseconds */

enum {
	PCAP_VMAJOR   = 2,
	PCAP_VMINOR   = 4,
	PCAP_SNAPLEN  = 65535,
	LINKTYPE_RAW  = 101,
	IP4_HDR = 20,
	IP6_HDR = 40,
	UDP_HDR = 8,
	IPPROTO_UDP_NUM = 17,
	HOP_LIMIT = 64,
};

/*
 * The largest payload of a UDP datagram over IPv4 (65535 minus the IP and
 * UDP headers).  Over IPv6 the cap is lower still, so that the whole
 * synthesized packet fits in the snap length the file header announces.
 */
#define PCAPW_MAX_PAYLOAD4 ((size_t)(PCAP_SNAPLEN - IP4_HDR - UDP_HDR))
#define PCAPW_MAX_PAYLOAD6 ((size_t)(PCAP_SNAPLEN - IP6_HDR - UDP_HDR))

static struct {
	FILE *f;
	uint16_t ip_id;            /* IPv4 identification, one per packet */
} pc;


static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}


/* One's complement sum of big-endian 16-bit words.  An odd length is
 * padded with a zero byte, which is only right for the last piece of a
 * checksummed area; every piece before it here has an even length. */
static uint32_t sum16(uint32_t acc, const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		acc += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		acc += (uint32_t)(p[n - 1] << 8);

	return acc;
}


static uint16_t fold(uint32_t acc)
{
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);

	return (uint16_t)~acc;
}


/* The address bytes of sa in network order, or zeros when sa is of
 * another family: libre reports an unknown local address that way.  The
 * accessors of libre are used because its headers show the IPv6 member
 * of struct sa only to builds that define HAVE_INET6. */
static void addr_bytes(uint8_t *out, const struct sa *sa, int af)
{
	if (af == AF_INET) {
		uint32_t a = sa_af(sa) == AF_INET ? sa_in(sa) : 0;

		out[0] = (uint8_t)(a >> 24);
		out[1] = (uint8_t)(a >> 16);
		out[2] = (uint8_t)(a >> 8);
		out[3] = (uint8_t)a;
	}
	else {
		memset(out, 0, 16);
		if (sa_af(sa) == AF_INET6)
			sa_in6(sa, out);
	}
}


int pcapw_open(const char *path)
{
	uint8_t hdr[24];
	uint32_t u32;
	uint16_t u16;
	int32_t i32 = 0;
	int err = 0;

	if (!path || !*path)
		return EINVAL;

	pcapw_close();

	pc.f = fopen(path, "wb");
	if (!pc.f)
		return errno ? errno : EIO;

	u32 = PCAP_MAGIC;
	memcpy(hdr, &u32, 4);
	u16 = PCAP_VMAJOR;
	memcpy(hdr + 4, &u16, 2);
	u16 = PCAP_VMINOR;
	memcpy(hdr + 6, &u16, 2);
	memcpy(hdr + 8, &i32, 4);          /* thiszone: timestamps are UTC */
	u32 = 0;
	memcpy(hdr + 12, &u32, 4);         /* sigfigs */
	u32 = PCAP_SNAPLEN;
	memcpy(hdr + 16, &u32, 4);
	u32 = LINKTYPE_RAW;
	memcpy(hdr + 20, &u32, 4);

	/* The header goes to the disk now: a full disk or a device that
	 * refuses writes is an error of the option, not of the first call. */
	errno = 0;
	if (fwrite(hdr, sizeof(hdr), 1, pc.f) != 1 || fflush(pc.f))
		err = errno ? errno : EIO;

	if (err) {
		fclose(pc.f);
		pc.f = NULL;
	}

	return err;
}


void pcapw_close(void)
{
	if (!pc.f)
		return;

	fclose(pc.f);
	pc.f = NULL;
}


bool pcapw_active(void)
{
	return pc.f != NULL;
}


int pcapw_udp(const struct sa *src, const struct sa *dst,
	      const uint8_t *data, size_t len)
{
	uint8_t rec[16], ip[IP6_HDR], udp[UDP_HDR], pseudo[40];
	size_t iplen, plen, total;
	struct timeval tv;
	uint32_t u32, acc;
	int af, err = 0;

	if (!src || !dst || (!data && len))
		return EINVAL;
	if (!pc.f)
		return EBADF;

	/* The family comes from the peer's address when it has one; libre
	 * gives the local one as the bare family when it cannot tell it. */
	af = sa_af(dst);
	if (af != AF_INET && af != AF_INET6)
		af = sa_af(src);
	if (af != AF_INET && af != AF_INET6)
		return EAFNOSUPPORT;

	iplen = af == AF_INET ? IP4_HDR : IP6_HDR;
	plen = len;
	if (plen > (af == AF_INET ? PCAPW_MAX_PAYLOAD4 : PCAPW_MAX_PAYLOAD6))
		plen = af == AF_INET ? PCAPW_MAX_PAYLOAD4 : PCAPW_MAX_PAYLOAD6;
	total = iplen + UDP_HDR + plen;

	put16(udp, sa_port(src));
	put16(udp + 2, sa_port(dst));
	put16(udp + 4, (uint16_t)(UDP_HDR + plen));
	put16(udp + 6, 0);

	memset(ip, 0, sizeof(ip));
	memset(pseudo, 0, sizeof(pseudo));
	if (af == AF_INET) {
		ip[0] = 0x45;                          /* version 4, IHL 5 */
		put16(ip + 2, (uint16_t)total);
		put16(ip + 4, pc.ip_id++);
		put16(ip + 6, 0x4000);                 /* don't fragment */
		ip[8] = HOP_LIMIT;
		ip[9] = IPPROTO_UDP_NUM;
		addr_bytes(ip + 12, src, AF_INET);
		addr_bytes(ip + 16, dst, AF_INET);
		put16(ip + 10, fold(sum16(0, ip, IP4_HDR)));

		/* RFC 768 pseudo-header: addresses, zero, protocol,
		 * UDP length. */
		memcpy(pseudo, ip + 12, 8);
		pseudo[9] = IPPROTO_UDP_NUM;
		put16(pseudo + 10, (uint16_t)(UDP_HDR + plen));
		acc = sum16(0, pseudo, 12);
	}
	else {
		ip[0] = 0x60;                          /* version 6 */
		put16(ip + 4, (uint16_t)(UDP_HDR + plen));
		ip[6] = IPPROTO_UDP_NUM;
		ip[7] = HOP_LIMIT;
		addr_bytes(ip + 8, src, AF_INET6);
		addr_bytes(ip + 24, dst, AF_INET6);

		/* RFC 8200 8.1 pseudo-header: addresses, 32-bit length,
		 * three zero bytes, next header. */
		memcpy(pseudo, ip + 8, 32);
		put16(pseudo + 34, (uint16_t)(UDP_HDR + plen));
		pseudo[39] = IPPROTO_UDP_NUM;
		acc = sum16(0, pseudo, 40);
	}

	/* The UDP checksum is optional over IPv4 but mandatory over IPv6;
	 * it is written for both so that every packet checks.  A sum of
	 * zero is sent as all ones (RFC 768), zero meaning "none". */
	acc = sum16(acc, udp, UDP_HDR);
	acc = sum16(acc, data, plen);
	u32 = fold(acc);
	put16(udp + 6, u32 ? (uint16_t)u32 : 0xffff);

	gettimeofday(&tv, NULL);
	u32 = (uint32_t)tv.tv_sec;
	memcpy(rec, &u32, 4);
	u32 = (uint32_t)tv.tv_usec;
	memcpy(rec + 4, &u32, 4);
	u32 = (uint32_t)total;
	memcpy(rec + 8, &u32, 4);          /* bytes in the file */
	memcpy(rec + 12, &u32, 4);         /* bytes of the packet */

	errno = 0;
	if (fwrite(rec, sizeof(rec), 1, pc.f) != 1 ||
	    fwrite(ip, iplen, 1, pc.f) != 1 ||
	    fwrite(udp, UDP_HDR, 1, pc.f) != 1 ||
	    (plen && fwrite(data, plen, 1, pc.f) != 1) ||
	    fflush(pc.f))
		err = errno ? errno : EIO;

	/* A record cut short leaves the rest of the file unreadable, so the
	 * capture ends at the first failed write, with one line saying so. */
	if (err) {
		LOGE(SUB_CORE, "--pcap: write failed: %m; capture stopped",
		     err);
		pcapw_close();
	}

	return err;
}
