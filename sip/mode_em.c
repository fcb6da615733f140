/**
 * @file mode_em.c  Early media: the ringback for callers that ask for no
 *                  CMR mode (RFC 3960 section 3, the application server
 *                  plays early media in the gateway model)
 *
 * A caller whose INVITE offers SDP and has neither "early-session" nor
 * "P-Early-Media: supported" still plays early media from an 18x that
 * answers its offer: that is how the phones people have hear the
 * customized ringback.  The 18x carries our SDP answer (gwsdp.c, the
 * RTP streamer's address) and, for a CMR Client in HTTP mode, the
 * resource's URL in Alert-Info exactly as OMA CMR clause 1.1.1.3 puts it
 * there.  It is reliable when the caller supports 100rel and allows
 * UPDATE (or requires 100rel): then the callee's SDP follows in an UPDATE
 * before the 2xx, as in gateway mode without P-Early-Media.  Any other
 * caller gets every 18x unreliably with the same answer, the 2xx repeats
 * it and a re-INVITE after the ACK gives the callee's SDP (gwmodel.c).
 * A caller that supports P-Early-Media (but not 100rel) gets our
 * "P-Early-Media: sendrecv" authorisation as well (RFC 5009).
 */
#include <string.h>
#include <re.h>
#include "sip/sip_int.h"


static bool reliable(const struct call *call)
{
	const struct sip_msg *inv = call->msg;

	return sip_msg_hdr_has_value(inv, SIP_HDR_REQUIRE, "100rel") ||
		(call->a->rel100 && call->a->leg.peer_update);
}


static int em_start(struct call *call)
{
	return gwmodel_start(call, reliable(call), "early media: the offer "
			     "has no PCMU or PCMA to stream to: http");
}


static void em_prov_in(struct call *call, const struct sip_msg *msg,
		       struct prov_out *po)
{
	(void)msg;

	po->sdp = pl_null;
	po->reliable = gwmodel_reliable(call);
	po->pem_sendrecv = modegw_caller_supports(call->msg);
	if (call->url_bt[0])
		po->alert_url = call->url_bt;

	/* Unreliable, every 18x repeats the answer (RFC 6337 section 3.1);
	 * reliable, the first one carries it. */
	if (!po->reliable || !gwmodel_answered(call))
		(void)gwmodel_answer(call, &po->sdp);
}


static void em_prov_sent(struct call *call, const struct sip_msg *msg,
			 const struct prov_out *po)
{
	if (gwmodel_answered(call) || !pl_isset(&po->sdp))
		return;

	evlog_event(call->cr, "cmr-inserted", "\"dir\":\"bt\","
		    "\"mode\":\"early-media\",\"resource\":%H,\"url\":%H,"
		    "\"in\":\"%u\",\"reliable\":%s", jsonw_str, call->bt.resid,
		    jsonw_str, call->url_bt, msg->scode,
		    po->reliable ? "true" : "false");
	(void)gwmodel_sent(call);
}


const struct mode_ops modeem_bt = {
	.name          = "early-media",
	.start         = em_start,
	.prov_in       = em_prov_in,
	.prov_sent     = em_prov_sent,
	.answer_in     = gwmodel_answer_in,
	.ack_in        = gwmodel_ack_in,
	.sdp_to_caller = gwmodel_sdp_to_caller,
	.stop          = gwmodel_stop,
};
