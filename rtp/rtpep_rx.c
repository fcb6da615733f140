/**
 * @file rtpep_rx.c  What a client's RTP endpoint receives: checked,
 *                   measured per sender segment, decoded and kept
 *
 * Parsing.  A packet is RTP version 2 whose CSRC list, header extension
 * and padding all lie within the datagram, padding of at least its own
 * count byte; anything else is counted as bad and changes nothing.
 *
 * Segments.  The packets of one sender (one SSRC from one address) in a
 * row form a segment, measured on its own: a call's ringback and the
 * voice after it, or a far end that restarted its source.  Sequence
 * numbers are extended to 64 bits from the highest seen (RFC 3550 A.1,
 * without its probation: a measuring client counts every packet).  The
 * packets expected are those from the lowest extended sequence number
 * received to the highest (RFC 3550 A.3 counts from the first received;
 * the lowest is the same unless the first arrived out of order, and then
 * it does not count that reordering as a loss).  A bitmap of the last
 * RTPEP_DUP_WIN sequence numbers tells a duplicate (received already)
 * from a late packet (reordered); one older than that window counts as
 * reordered.  Duplicates are neither counted as received nor decoded.
 *
 * Jitter is RFC 3550 A.8's running estimate over the packets in arrival
 * order, on the 8 kHz clock of G.711.
 *
 * The decoded samples of every segment go into one buffer in arrival
 * order, up to the keep limit: a segment is the slice [pcm_off, pcm_off +
 * pcm_len) of it, so the client can write any of them out as it is.
 */
#include <errno.h>
#include <string.h>
#include <re.h>
#include <rem_g711.h>
#include "core/core.h"
#include "rtp/rtp.h"
#include "rtp/rtpep.h"
#include "rtp/rtpep_int.h"

enum {
	PCM_CHUNK = MEDIA_SRATE,  /* the first buffer: one second */
	EXT_BASE = 65536,         /* a segment's first extended seq is this
				   * plus its sequence number, so that
				   * earlier ones stay positive */
};


struct rtp_view {
	uint8_t pt;
	uint16_t seq;
	uint32_t ts;
	uint32_t ssrc;
	const uint8_t *payload;
	size_t plen;
};


static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}


static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
		(uint32_t)p[2] << 8 | (uint32_t)p[3];
}


/* RFC 3550 5.1 and 5.3.1, every length checked against the datagram. */
static bool rtp_parse(struct rtp_view *v, const uint8_t *b, size_t len)
{
	size_t off, end = len;

	if (len < RTP_HDR_SIZE || (b[0] >> 6) != 2)
		return false;

	off = RTP_HDR_SIZE + 4 * (size_t)(b[0] & 0x0f);
	if (off > len)
		return false;

	if (b[0] & 0x10) {
		if (off + 4 > len)
			return false;
		off += 4 + 4 * (size_t)rd16(b + off + 2);
		if (off > len)
			return false;
	}

	/* The last byte counts the padding, itself included. */
	if (b[0] & 0x20) {
		uint8_t pad = b[len - 1];

		if (!pad || off + pad > len)
			return false;
		end = len - pad;
	}

	v->pt = b[1] & 0x7f;
	v->seq = rd16(b + 2);
	v->ts = rd32(b + 4);
	v->ssrc = rd32(b + 8);
	v->payload = b + off;
	v->plen = end - off;

	return true;
}


/* ---- the window of sequence numbers ----------------------------------- */

static bool win_test(const struct rtpep_segst *s, int64_t ext)
{
	uint64_t i = (uint64_t)ext % RTPEP_DUP_WIN;

	return (s->win[i / 64] >> (i % 64)) & 1;
}


static void win_set(struct rtpep_segst *s, int64_t ext)
{
	uint64_t i = (uint64_t)ext % RTPEP_DUP_WIN;

	s->win[i / 64] |= (uint64_t)1 << (i % 64);
}


/* The window moves up to new_max: the slots it takes over were those of
 * numbers now too old to remember. */
static void win_advance(struct rtpep_segst *s, int64_t new_max)
{
	int64_t e;

	if (new_max - s->max_ext >= RTPEP_DUP_WIN) {
		memset(s->win, 0, sizeof(s->win));
		return;
	}

	for (e = s->max_ext + 1; e <= new_max; e++) {
		uint64_t i = (uint64_t)e % RTPEP_DUP_WIN;

		s->win[i / 64] &= ~((uint64_t)1 << (i % 64));
	}
}


/* ---- measuring -------------------------------------------------------- */

/* Returns false for a duplicate, which changes nothing but its count. */
static bool measure(struct rtpep_segst *s, const struct rtp_view *v,
		    uint64_t now)
{
	struct rtpep_seg *p = &s->pub;
	int32_t d;
	int64_t ext;

	if (!p->packets) {
		ext = EXT_BASE + v->seq;
		s->max_ext = s->min_ext = ext;
		win_set(s, ext);
		p->first_us = now;
		goto count;
	}

	/* The nearer of the two readings of a 16-bit difference. */
	d = (int32_t)((v->seq - (uint16_t)s->max_ext) & 0xffff);
	if (d >= 32768)
		d -= 65536;
	ext = s->max_ext + d;

	if (ext > s->max_ext) {
		win_advance(s, ext);
		s->max_ext = ext;
		win_set(s, ext);
	}
	else if (s->max_ext - ext >= RTPEP_DUP_WIN) {
		++p->reordered;
	}
	else if (win_test(s, ext)) {
		++p->dups;
		return false;
	}
	else {
		++p->reordered;
		win_set(s, ext);
	}

	if (ext < s->min_ext)
		s->min_ext = ext;

	/* RFC 3550 A.8: D is the difference of the transit times of this
	 * packet and the last, in RTP clock units. */
	{
		double dt = (double)(now - s->prev_us) * MEDIA_SRATE / 1e6;
		double dd = dt - (double)(int32_t)(v->ts - s->prev_ts);

		if (dd < 0)
			dd = -dd;
		s->jitter += (dd - s->jitter) / 16.0;
		p->jitter_ms = s->jitter * 1000.0 / MEDIA_SRATE;
	}

 count:
	++p->packets;
	p->expected = (uint32_t)(s->max_ext - s->min_ext + 1);
	p->lost = (int32_t)(p->expected - p->packets);
	p->last_us = now;
	s->prev_us = now;
	s->prev_ts = v->ts;

	return true;
}


/* The segment of a packet from ssrc at src: the last one, or a new one
 * when the sender changed; -1 when no more may be made. */
static int seg_for(struct rtpep *ep, uint32_t ssrc, const struct sa *src,
		   uint8_t pt, bool *first)
{
	struct rtpep_segst *s;

	*first = false;
	if (ep->nsegs) {
		s = &ep->segs[ep->nsegs - 1];
		if (s->pub.ssrc == ssrc && sa_cmp(&s->pub.src, src, SA_ALL))
			return (int)ep->nsegs - 1;
	}

	if (ep->nsegs >= RTPEP_SEGS_MAX)
		return -1;

	if (ep->nsegs == ep->cap_segs) {
		unsigned cap = ep->cap_segs ? ep->cap_segs * 2 : 4;
		struct rtpep_segst *v;

		/* libre's mem_realloc() takes no NULL. */
		v = ep->segs ? mem_realloc(ep->segs, cap * sizeof(*v)) :
			mem_alloc(cap * sizeof(*v), NULL);
		if (!v)
			return -1;
		ep->segs = v;
		ep->cap_segs = cap;
	}

	s = &ep->segs[ep->nsegs];
	memset(s, 0, sizeof(*s));
	s->pub.ssrc = ssrc;
	sa_cpy(&s->pub.src, src);
	s->pub.pt = pt;
	s->pub.pcm_off = ep->npcm;
	*first = true;

	LOGD(SUB_RTP, "rtpep %J: segment %u, ssrc %08x from %J, pt %u",
	     &ep->laddr, ep->nsegs, ssrc, src, pt);

	return (int)ep->nsegs++;
}


/* Decodes a G.711 payload into the buffer, as much as the limit keeps. */
static void keep(struct rtpep *ep, struct rtpep_seg *p,
		 const struct rtp_view *v)
{
	size_t n = v->plen, i;
	int16_t *out;

	if (v->pt != MEDIA_PT_PCMU && v->pt != MEDIA_PT_PCMA)
		return;

	if (ep->npcm >= ep->keep_max)
		return;
	if (n > ep->keep_max - ep->npcm)
		n = ep->keep_max - ep->npcm;
	if (!n)
		return;

	if (ep->npcm + n > ep->cap_pcm) {
		size_t cap = ep->cap_pcm ? ep->cap_pcm * 2 : PCM_CHUNK;
		int16_t *b;

		while (cap < ep->npcm + n)
			cap *= 2;
		if (cap > ep->keep_max)
			cap = ep->keep_max;

		b = ep->pcm ? mem_realloc(ep->pcm, cap * sizeof(*b)) :
			mem_alloc(cap * sizeof(*b), NULL);
		if (!b) {
			LOGW(SUB_RTP, "rtpep %J: no memory for %zu samples",
			     &ep->laddr, cap);
			return;
		}
		ep->pcm = b;
		ep->cap_pcm = cap;
	}

	out = ep->pcm + ep->npcm;
	if (v->pt == MEDIA_PT_PCMU) {
		for (i = 0; i < n; i++)
			out[i] = g711_ulaw2pcm(v->payload[i]);
	}
	else {
		for (i = 0; i < n; i++)
			out[i] = g711_alaw2pcm(v->payload[i]);
	}

	ep->npcm += n;
	p->pcm_len += n;
}


void rtpep_rx_packet(struct rtpep *ep, const struct sa *src,
		     const uint8_t *b, size_t len, uint64_t now)
{
	struct rtpep_segst *s;
	struct rtp_view v;
	bool first;
	int i;

	if (!rtp_parse(&v, b, len)) {
		++ep->bad;
		LOGD(SUB_RTP, "rtpep %J: malformed RTP from %J (%zu bytes)",
		     &ep->laddr, src, len);
		return;
	}

	i = seg_for(ep, v.ssrc, src, v.pt, &first);
	if (i < 0) {
		++ep->bad;
		return;
	}

	s = &ep->segs[i];
	if (measure(s, &v, now))
		keep(ep, &s->pub, &v);

	if (ep->h)
		ep->h(ep, (unsigned)i, first, ep->arg);
}


/* ---- what it shows ---------------------------------------------------- */

unsigned rtpep_segs(const struct rtpep *ep)
{
	return ep ? ep->nsegs : 0;
}


const struct rtpep_seg *rtpep_seg(const struct rtpep *ep, unsigned i)
{
	if (!ep || i >= ep->nsegs)
		return NULL;

	return &ep->segs[i].pub;
}


const int16_t *rtpep_pcm(const struct rtpep *ep, size_t *n)
{
	if (n)
		*n = ep ? ep->npcm : 0;

	return ep ? ep->pcm : NULL;
}


void rtpep_keep_set(struct rtpep *ep, uint32_t max_ms)
{
	if (!ep)
		return;

	if (!max_ms)
		max_ms = RTPEP_KEEP_DEFAULT_MS;
	ep->keep_max = (size_t)max_ms * (MEDIA_SRATE / 1000);

	if (ep->npcm <= ep->keep_max)
		return;

	/* Under the new limit: the samples beyond it go, and the slices of
	 * the segments end with them. */
	ep->npcm = ep->keep_max;
	for (unsigned i = 0; i < ep->nsegs; i++) {
		struct rtpep_seg *p = &ep->segs[i].pub;

		if (p->pcm_off > ep->npcm)
			p->pcm_off = ep->npcm;
		if (p->pcm_len > ep->npcm - p->pcm_off)
			p->pcm_len = ep->npcm - p->pcm_off;
	}
}
