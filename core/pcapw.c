/**
 * @file pcapw.c  Capture file: every SIP message as one packet of a pcap
 *
 * serve --pcap FILE writes what the server sends and receives in the
 * classic pcap format, which Wireshark, tshark and tcpdump read.  The
 * packets are synthesized: an IPv4 or IPv6 header and a UDP header are
 * built around each message (or a TCP header around each segment of an
 * exchange whose sequence numbers the caller keeps, pcapw_tcp), so the
 * link type is LINKTYPE_RAW (a packet starts with its IP header) and both
 * address families fit in one file.
 * Every record is flushed at once, so a test or an operator can read the
 * file while the server runs.
 *
 * Numbers in the file headers are in this host's byte order, as libpcap
 * writes them: readers tell the order from the magic number.  The IP, UDP
 * and TCP headers are in network byte order, as on the wire.
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
	TCP_HDR = 20,
	IPPROTO_TCP_NUM = 6,
	IPPROTO_UDP_NUM = 17,
	TCP_WINDOW = 65535,
	HOP_LIMIT = 64,
};

/*
 * The largest payload of a UDP datagram over IPv4 (65535 minus the IP and
 * UDP headers).  Over IPv6 the cap is lower still, so that the whole
 * synthesized packet fits in the snap length the file header announces.
 */
#define PCAPW_MAX_PAYLOAD4 ((size_t)(PCAP_SNAPLEN - IP4_HDR - UDP_HDR))
#define PCAPW_MAX_PAYLOAD6 ((size_t)(PCAP_SNAPLEN - IP6_HDR - UDP_HDR))
#define PCAPW_MAX_TCP4 ((size_t)(PCAP_SNAPLEN - IP4_HDR - TCP_HDR))
#define PCAPW_MAX_TCP6 ((size_t)(PCAP_SNAPLEN - IP6_HDR - TCP_HDR))

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


/*
 * Writes one packet: the IP header for af, then the transport header th
 * (thlen bytes, its checksum field at th + csum_off still zero) and the
 * payload.  The transport checksum over the pseudo-header, the header and
 * the payload is filled in here; udp asks for RFC 768's rule that a sum
 * of zero goes out as all ones.
 */
static int write_packet(const struct sa *src, const struct sa *dst, int af,
			uint8_t proto, uint8_t *th, size_t thlen,
			size_t csum_off, bool udp, const uint8_t *data,
			size_t plen)
{
	uint8_t rec[16], ip[IP6_HDR], pseudo[40];
	size_t iplen = af == AF_INET ? IP4_HDR : IP6_HDR;
	size_t l4len = thlen + plen, total = iplen + l4len;
	struct timeval tv;
	uint32_t u32, acc;
	int err = 0;

	memset(ip, 0, sizeof(ip));
	memset(pseudo, 0, sizeof(pseudo));
	if (af == AF_INET) {
		ip[0] = 0x45;                          /* version 4, IHL 5 */
		put16(ip + 2, (uint16_t)total);
		put16(ip + 4, pc.ip_id++);
		put16(ip + 6, 0x4000);                 /* don't fragment */
		ip[8] = HOP_LIMIT;
		ip[9] = proto;
		addr_bytes(ip + 12, src, AF_INET);
		addr_bytes(ip + 16, dst, AF_INET);
		put16(ip + 10, fold(sum16(0, ip, IP4_HDR)));

		/* RFC 768 and RFC 9293 pseudo-header: addresses, zero,
		 * protocol, transport length. */
		memcpy(pseudo, ip + 12, 8);
		pseudo[9] = proto;
		put16(pseudo + 10, (uint16_t)l4len);
		acc = sum16(0, pseudo, 12);
	}
	else {
		ip[0] = 0x60;                          /* version 6 */
		put16(ip + 4, (uint16_t)l4len);
		ip[6] = proto;
		ip[7] = HOP_LIMIT;
		addr_bytes(ip + 8, src, AF_INET6);
		addr_bytes(ip + 24, dst, AF_INET6);

		/* RFC 8200 8.1 pseudo-header: addresses, 32-bit length,
		 * three zero bytes, next header. */
		memcpy(pseudo, ip + 8, 32);
		put16(pseudo + 34, (uint16_t)l4len);
		pseudo[39] = proto;
		acc = sum16(0, pseudo, 40);
	}

	/* Both transport headers have an even length, so the payload is
	 * the only piece that can end on an odd byte. */
	acc = sum16(acc, th, thlen);
	acc = sum16(acc, data, plen);
	u32 = fold(acc);
	if (udp && !u32)
		u32 = 0xffff;
	put16(th + csum_off, (uint16_t)u32);

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
	    fwrite(th, thlen, 1, pc.f) != 1 ||
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


/*
 * What both writers check first, in this order: the arguments, an open
 * capture, and the family of a packet from src to dst, which goes to *afp.
 * The family comes from the peer's address when that has one; libre gives
 * the local one as the bare family when it cannot tell it.
 */
static int packet_check(int *afp, const struct sa *src, const struct sa *dst,
			const uint8_t *data, size_t len)
{
	int af;

	if (!src || !dst || (!data && len))
		return EINVAL;
	if (!pc.f)
		return EBADF;

	af = sa_af(dst);
	if (af != AF_INET && af != AF_INET6)
		af = sa_af(src);
	if (af != AF_INET && af != AF_INET6)
		return EAFNOSUPPORT;

	*afp = af;

	return 0;
}


int pcapw_udp(const struct sa *src, const struct sa *dst,
	      const uint8_t *data, size_t len)
{
	uint8_t udp[UDP_HDR];
	size_t plen, max;
	int af, err;

	err = packet_check(&af, src, dst, data, len);
	if (err)
		return err;

	max = af == AF_INET ? PCAPW_MAX_PAYLOAD4 : PCAPW_MAX_PAYLOAD6;
	plen = len < max ? len : max;

	put16(udp, sa_port(src));
	put16(udp + 2, sa_port(dst));
	put16(udp + 4, (uint16_t)(UDP_HDR + plen));
	put16(udp + 6, 0);

	/* The UDP checksum is optional over IPv4 but mandatory over IPv6;
	 * it is written for both so that every packet checks. */
	return write_packet(src, dst, af, IPPROTO_UDP_NUM, udp, UDP_HDR, 6,
			    true, data, plen);
}


int pcapw_tcp(const struct sa *src, const struct sa *dst, uint32_t seq,
	      uint32_t ack, uint8_t flags, const uint8_t *data, size_t len)
{
	uint8_t tcp[TCP_HDR];
	int af, err;

	err = packet_check(&af, src, dst, data, len);
	if (err)
		return err;

	/* A stream is cut into segments by the caller, who must number
	 * them; cutting one here would break its sequence numbers. */
	if (len > (af == AF_INET ? PCAPW_MAX_TCP4 : PCAPW_MAX_TCP6))
		return EMSGSIZE;

	put16(tcp, sa_port(src));
	put16(tcp + 2, sa_port(dst));
	put16(tcp + 4, (uint16_t)(seq >> 16));
	put16(tcp + 6, (uint16_t)seq);
	put16(tcp + 8, (uint16_t)(ack >> 16));
	put16(tcp + 10, (uint16_t)ack);
	tcp[12] = (TCP_HDR / 4) << 4;              /* data offset, no options */
	tcp[13] = flags;
	put16(tcp + 14, TCP_WINDOW);
	put16(tcp + 16, 0);                        /* checksum, below */
	put16(tcp + 18, 0);                        /* urgent pointer */

	return write_packet(src, dst, af, IPPROTO_TCP_NUM, tcp, TCP_HDR, 16,
			    false, data, len);
}
