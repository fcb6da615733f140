/**
 * @file cmrc_sdp.c  The CMR Client's SDP: one audio stream, PCMU and PCMA
 *
 * Our offer names both G.711 codecs (RFC 3551 payload types 0 and 8); an
 * answer takes the first of them the offer lists (RFC 3264 section 6.1)
 * and the opposite of the offer's direction (a sendonly ringback offer
 * gets recvonly).  The origin's version counts up with every new SDP of
 * ours (RFC 3264 section 8).
 */
#include <string.h>
#include <re.h>
#include "sip/cmrc_int.h"


static int head_print(struct mbuf *mb, const struct sa *addr, uint32_t id,
		      uint32_t ver)
{
	const char *ipv = sa_af(addr) == AF_INET6 ? "IP6" : "IP4";

	return mbuf_printf(mb,
			   "v=0\r\n"
			   "o=cmrlab %u %u IN %s %j\r\n"
			   "s=cmrlab\r\n"
			   "c=IN %s %j\r\n"
			   "t=0 0\r\n",
			   id, ver, ipv, addr, ipv, addr);
}


int cmrc_sdp_offer(struct mbuf **mbp, const struct sa *addr, uint32_t id,
		   uint32_t ver)
{
	struct mbuf *mb;
	int err;

	if (!mbp || !addr)
		return EINVAL;

	mb = mbuf_alloc(512);
	if (!mb)
		return ENOMEM;

	err  = head_print(mb, addr, id, ver);
	err |= mbuf_printf(mb,
			   "m=audio %u RTP/AVP 0 8\r\n"
			   "a=rtpmap:0 PCMU/8000\r\n"
			   "a=rtpmap:8 PCMA/8000\r\n"
			   "a=ptime:20\r\n"
			   "a=sendrecv\r\n", sa_port(addr));
	if (err)
		mem_deref(mb);
	else
		*mbp = mb;

	return err;
}


/* The direction attribute of an SDP with one media stream. */
static const char *answer_dir(const struct pl *offer)
{
	struct pl pl = *offer;

	if (!re_regex(pl.p, pl.l, "a=sendonly"))
		return "recvonly";
	if (!re_regex(pl.p, pl.l, "a=recvonly"))
		return "sendonly";
	if (!re_regex(pl.p, pl.l, "a=inactive"))
		return "inactive";

	return "sendrecv";
}


int cmrc_sdp_answer(struct mbuf **mbp, const struct pl *offer,
		    const struct sa *addr, uint32_t id, uint32_t ver,
		    int *ptp)
{
	struct mbuf *mb;
	struct sa raddr;
	int pt = -1, err;

	if (!mbp || !offer || !addr)
		return EINVAL;

	err = modegw_peek(offer, &raddr, &pt);
	if (err)
		return err;
	if (pt != MEDIA_PT_PCMU && pt != MEDIA_PT_PCMA)
		return ENOTSUP;

	mb = mbuf_alloc(512);
	if (!mb)
		return ENOMEM;

	err  = head_print(mb, addr, id, ver);
	err |= mbuf_printf(mb,
			   "m=audio %u RTP/AVP %d\r\n"
			   "a=rtpmap:%d %s/8000\r\n"
			   "a=ptime:20\r\n"
			   "a=%s\r\n", sa_port(addr), pt, pt,
			   pt == MEDIA_PT_PCMU ? "PCMU" : "PCMA",
			   answer_dir(offer));
	if (err) {
		mem_deref(mb);
		return err;
	}

	if (ptp)
		*ptp = pt;
	*mbp = mb;

	return 0;
}
