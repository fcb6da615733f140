/**
 * @file rel100.c  RFC 3262 arithmetic: retransmission schedule, RAck and
 *                 RSeq checks
 *
 * Pure functions, so that the timing and the matching rules are unit
 * tested on a fake clock; b2bua.c drives them with the loop's clock.
 */
#include <re.h>
#include "sip/sip_int.h"


/* Section 3: the interval starts at T1 and doubles.  RFC 3262 names no
 * upper bound; like RFC 3261's 2xx retransmission (13.3.1.4) we cap it
 * at T2 (docs/wire.md), and still give up at exactly 64*T1
 * (rel100_next). */
uint32_t rel100_interval(uint32_t txc)
{
	if (txc >= 4)
		return SIP_T2;

	return MIN((uint32_t)SIP_T1 << txc, (uint32_t)SIP_T2);
}


/* The delay to the next timer: the next retransmission, or the give-up
 * moment if that comes first, so that giving up is at exactly 64*T1. */
uint32_t rel100_next(uint64_t start, uint64_t now, uint32_t txc)
{
	const uint64_t end = start + 64 * SIP_T1;

	if (now >= end)
		return 0;

	return (uint32_t)MIN((uint64_t)rel100_interval(txc), end - now);
}


/* Section 3: after 64*T1 without a PRACK the UAS gives up. */
bool rel100_expired(uint64_t start, uint64_t now)
{
	return now >= start && now - start >= 64 * SIP_T1;
}


/* The next whitespace-separated token of *pl, consumed from it. */
static struct pl token_next(struct pl *pl)
{
	struct pl tok;

	while (pl->l && (*pl->p == ' ' || *pl->p == '\t'))
		pl_advance(pl, 1);

	tok.p = pl->p;
	tok.l = 0;
	while (tok.l < pl->l && tok.p[tok.l] != ' ' && tok.p[tok.l] != '\t')
		++tok.l;
	pl_advance(pl, tok.l);

	return tok;
}


/* Section 7.2: RAck = response-num LWS CSeq-num LWS Method. */
int rel100_rack_parse(const struct pl *val, uint32_t *rseq, uint32_t *cseq,
		      struct pl *met)
{
	struct pl v, r, c, m;

	if (!val || !rseq || !cseq || !met)
		return EINVAL;

	v = *val;
	r = token_next(&v);
	c = token_next(&v);
	m = token_next(&v);

	if (!sipsrv_digits(&r, 10) || !sipsrv_digits(&c, 10) || !m.l ||
	    token_next(&v).l)
		return EBADMSG;

	if (pl_u64(&r) > UINT32_MAX || pl_u64(&c) > UINT32_MAX)
		return EBADMSG;

	*rseq = pl_u32(&r);
	*cseq = pl_u32(&c);
	*met = m;

	return 0;
}


bool rel100_rack_matches(const struct sip_msg *prack, uint32_t rseq,
			 uint32_t cseq)
{
	const struct sip_hdr *h = sip_msg_hdr(prack, SIP_HDR_RACK);
	uint32_t r, c;
	struct pl met;

	if (!h || rel100_rack_parse(&h->val, &r, &c, &met))
		return false;

	return r == rseq && c == cseq && !pl_strcmp(&met, "INVITE");
}


/* Section 4: the first reliable 1xx sets the RSeq space; then exactly one
 * higher is new, lower or equal is a retransmission, and a gap is out of
 * order (no PRACK). */
enum rel100_rseq rel100_rseq_check(bool first, uint32_t last, uint32_t rseq)
{
	if (first)
		return RSEQ_NEW;
	if (rseq <= last)
		return RSEQ_RETRANSMISSION;
	if (rseq != last + 1)
		return RSEQ_OUT_OF_ORDER;

	return RSEQ_NEW;
}
