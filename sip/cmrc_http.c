/**
 * @file cmrc_http.c  HTTP mode's client procedure: download the resource
 *                    the URL names and play it
 *
 * OMA CMR clause 1.1.1.4.  CMRBT: the calling party's client downloads
 * the CMR Resource from the URL in the provisional response (Alert-Info,
 * clause 1.1.1.3) and plays it until the final response.  CMRT: the called
 * party's client downloads it from the URL in the INVITE and plays it
 * until the call is answered.  The INVITE asks for nothing: the server
 * chooses HTTP mode for a caller that asks for neither early-session nor
 * P-Early-Media (and, with an SDP offer, a profile whose plain callers get
 * HTTP mode).
 */
#include <re.h>
#include "sip/cmrc_int.h"


static void http_prov_in(struct cmrc *c, const struct sip_msg *msg,
			 const struct body_view *bv, struct prack_out *pk)
{
	char url[256];
	(void)pk;

	if (cmrc_alertinfo_url(msg, url, sizeof(url)))
		cmrc_download(c, url);

	/* Early media alongside the URL is not what this client plays, but
	 * its packets must not count as the far end's. */
	cmrc_tone_from(c, &bv->session);
}


static void http_invite_in(struct cmrc *c, const struct sip_msg *msg,
			   const struct body_view *bv)
{
	char url[256];
	(void)bv;

	if (cmrc_alertinfo_url(msg, url, sizeof(url)))
		cmrc_download(c, url);
}


const struct cmrc_ops cmrc_http_ops = {
	.name      = "http",
	.prov_in   = http_prov_in,
	.invite_in = http_invite_in,
	.verdict   = cmrc_verdict_http,
};
