/**
 * @file oa.c  The offer/answer state of one leg (RFC 3264, RFC 6337)
 *
 * One offer at a time per session and per direction pair: an offer may
 * only be made when none is outstanding, and an answer only to the offer
 * outstanding from the other side.  An offer that arrives while ours is
 * unanswered is glare, answered with 491 (RFC 3261 14.2, RFC 3311 5.2);
 * one that arrives while we still owe an answer gets 500 with Retry-After.
 */
#include <re.h>
#include "sip/sip_int.h"


const char *oa_state_name(enum oa_state st)
{
	switch (st) {

	case OA_IDLE:         return "idle";
	case OA_LOCAL_OFFER:  return "local-offer";
	case OA_REMOTE_OFFER: return "remote-offer";
	default:              return "?";
	}
}


int oa_local_offer(struct oa *o)
{
	if (!o)
		return EINVAL;

	switch (o->st) {

	case OA_IDLE:
		o->st = OA_LOCAL_OFFER;
		return 0;

	case OA_LOCAL_OFFER:
		return EALREADY;

	default:
		return EBUSY;         /* we owe an answer first */
	}
}


int oa_remote_offer(struct oa *o)
{
	if (!o)
		return EINVAL;

	switch (o->st) {

	case OA_IDLE:
		o->st = OA_REMOTE_OFFER;
		return 0;

	case OA_LOCAL_OFFER:
		return EBUSY;         /* glare: 491 */

	default:
		return EALREADY;      /* we owe an answer: 500 Retry-After */
	}
}


int oa_local_answer(struct oa *o)
{
	if (!o)
		return EINVAL;
	if (o->st != OA_REMOTE_OFFER)
		return EPROTO;

	o->st = OA_IDLE;
	++o->done;

	return 0;
}


int oa_remote_answer(struct oa *o)
{
	if (!o)
		return EINVAL;
	if (o->st != OA_LOCAL_OFFER)
		return EPROTO;

	o->st = OA_IDLE;
	++o->done;

	return 0;
}


/* The transaction that carried the outstanding offer failed (a non-2xx,
 * a timeout): the offer is void and the previous session stands. */
void oa_reject(struct oa *o)
{
	if (o)
		o->st = OA_IDLE;
}


/* The SIP status for an incoming offer that oa_remote_offer refused. */
uint16_t oa_refusal_scode(int err)
{
	return err == EBUSY ? 491 : 500;
}
