/**
 * @file cmrc_plain.c  A client that asks for nothing and takes what comes
 *
 * Not a clause of the CMR text: an ordinary terminal.  Its INVITE has
 * neither early-session nor P-Early-Media, so the server gives it early
 * media (an 18x with an SDP answer and RTP, and the HTTP mode URL) or
 * HTTP mode.  It downloads a URL it is given and plays the early media it
 * is sent; the verdict judges whichever came.
 */
#include <re.h>
#include "sip/cmrc_int.h"


static void plain_prov_in(struct cmrc *c, const struct sip_msg *msg,
			  const struct body_view *bv, struct prack_out *pk)
{
	char url[256];
	(void)pk;

	if (pl_isset(&bv->session)) {
		c->sdp_18x = true;
		c->r.pem_sendrecv |= cmrc_has_pem_sendrecv(msg);
		cmrc_tone_from(c, &bv->session);
	}

	if (cmrc_alertinfo_url(msg, url, sizeof(url)))
		cmrc_download(c, url);
}


static void plain_invite_in(struct cmrc *c, const struct sip_msg *msg,
			    const struct body_view *bv)
{
	char url[256];
	(void)bv;

	if (cmrc_alertinfo_url(msg, url, sizeof(url)))
		cmrc_download(c, url);
}


static const char *plain_verdict(struct cmrc *c)
{
	const char *why = NULL;

	if (c->r.url[0])
		why = cmrc_verdict_http(c);
	if (!why && c->sdp_18x)
		why = cmrc_verdict_rtp(c);

	return why;
}


const struct cmrc_ops cmrc_plain_ops = {
	.name      = "plain",
	.prov_in   = plain_prov_in,
	.invite_in = plain_invite_in,
	.verdict   = plain_verdict,
};
