/**
 * @file packet.c  RTP and RTCP packets as bytes (RFC 3550)
 *
 * The streamer's packets, a few fixed fields each: the 12-byte RTP header
 * (version 2, no padding, extension or CSRC) and the compound RTCP packet
 * it sends, a sender report with no reception report blocks, an SDES
 * chunk with the CNAME, and a BYE when the stream ends.  The packet type
 * and SDES item numbers are libre's (re_rtp.h); nothing here sends.
 */
#include <string.h>
#include <time.h>
#include <re.h>
#include "rtp/rtp_int.h"

/* Seconds from the NTP epoch (1900) to the Unix epoch (1970). */
#define NTP_UNIX_OFFSET 2208988800UL


static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}


static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}


void rtp_hdr_put(uint8_t h[RTP_HDR_SIZE], uint8_t pt, bool marker,
		 uint16_t seq, uint32_t ts, uint32_t ssrc)
{
	h[0] = 0x80;                     /* V=2, P=0, X=0, CC=0 */
	h[1] = (uint8_t)(pt | (marker ? 0x80 : 0));
	put16(&h[2], seq);
	put32(&h[4], ts);
	put32(&h[8], ssrc);
}


/*
 * A compound RTCP packet: a sender report and an SDES CNAME, as RFC 3550
 * section 6.1 requires of every compound packet, then a BYE when the
 * stream ends.  The wall clock time is that of now (CLOCK_REALTIME).
 */
size_t rtcp_sr_put(uint8_t b[RTCP_MAX], const struct rtcp_sr *sr)
{
	size_t n = 0, clen = strlen(sr->cname), chunk;
	struct timespec tp;
	uint64_t frac;

	if (clen > CNAME_MAX - 1)
		clen = CNAME_MAX - 1;

	(void)clock_gettime(CLOCK_REALTIME, &tp);
	frac = ((uint64_t)tp.tv_nsec << 32) / 1000000000u;

	/* SR: V=2, no reception report blocks, length 6 words. */
	b[n++] = 0x80;
	b[n++] = RTCP_SR;
	put16(&b[n], 6);
	n += 2;
	put32(&b[n], sr->ssrc);
	n += 4;
	put32(&b[n], (uint32_t)((uint64_t)tp.tv_sec + NTP_UNIX_OFFSET));
	n += 4;
	put32(&b[n], (uint32_t)frac);
	n += 4;
	put32(&b[n], sr->rtp_ts);
	n += 4;
	put32(&b[n], sr->packets);
	n += 4;
	put32(&b[n], sr->octets);
	n += 4;

	/* SDES: one chunk, the CNAME item, a null end item, padded to
	 * a 32-bit boundary. */
	chunk = (4 + 2 + clen + 1 + 3) & ~(size_t)3;
	b[n++] = 0x81;
	b[n++] = RTCP_SDES;
	put16(&b[n], (uint16_t)((4 + chunk) / 4 - 1));
	n += 2;
	put32(&b[n], sr->ssrc);
	n += 4;
	b[n++] = RTCP_SDES_CNAME;
	b[n++] = (uint8_t)clen;
	memcpy(&b[n], sr->cname, clen);
	n += clen;
	memset(&b[n], 0, chunk - 4 - 2 - clen);
	n += chunk - 4 - 2 - clen;

	if (sr->bye) {
		b[n++] = 0x81;
		b[n++] = RTCP_BYE;
		put16(&b[n], 1);
		n += 2;
		put32(&b[n], sr->ssrc);
		n += 4;
	}

	return n;
}
