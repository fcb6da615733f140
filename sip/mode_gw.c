/**
 * @file mode_gw.c  Gateway mode's procedure: the CMR Server answers the
 *                  caller's offer itself and plays the ringback (RFC 3960
 *                  section 2.1, RFC 5009)
 *
 * OMA CMR clause 1.1.1.10 (with 1.1.1.9 and 1.1.1.11 for the client and
 * resource server sides).  The provisional response to the calling party
 * carries our SDP answer to its offer (gwsdp.c), "P-Early-Media:
 * sendrecv" and "Require: 100rel"; the resource plays to the caller's
 * offered address.  On the callee's 2xx the stream stops and, before the
 * 2xx goes on without SDP, an UPDATE gives the caller the callee's SDP
 * (gwmodel.c, which also has the re-INVITE for a caller that does not
 * allow UPDATE).
 */
#include <string.h>
#include <re.h>
#include "sip/sip_int.h"


static int gw_start(struct call *call)
{
	return gwmodel_start(call, true, "P-Early-Media: supported, but the "
			     "offer has no PCMU or PCMA to stream to: http");
}


/* Clause 1.1.1.10: our answer replaces the callee's SDP, once; every
 * provisional response is reliable and authorises early media. */
static void gw_prov_in(struct call *call, const struct sip_msg *msg,
		       struct prov_out *po)
{
	(void)msg;

	po->sdp = pl_null;
	po->reliable = true;
	po->pem_sendrecv = true;

	if (!gwmodel_answered(call))
		(void)gwmodel_answer(call, &po->sdp);
}


static void gw_prov_sent(struct call *call, const struct sip_msg *msg,
			 const struct prov_out *po)
{
	if (gwmodel_answered(call) || !pl_isset(&po->sdp))
		return;

	evlog_event(call->cr, "cmr-inserted", "\"dir\":\"bt\","
		    "\"mode\":\"gateway\",\"resource\":%H,\"in\":\"%u\","
		    "\"rseq\":%u", jsonw_str, call->bt.resid, msg->scode,
		    call->a->rseq);
	(void)gwmodel_sent(call);
}


/* Clause 1.1.1.7 says when the stream ends; this table says how gateway
 * mode does everything else. */
const struct mode_ops modegw_bt = {
	.name          = "gateway",
	.start         = gw_start,
	.prov_in       = gw_prov_in,
	.prov_sent     = gw_prov_sent,
	.answer_in     = gwmodel_answer_in,
	.ack_in        = gwmodel_ack_in,
	.sdp_to_caller = gwmodel_sdp_to_caller,
	.stop          = gwmodel_stop,
};
