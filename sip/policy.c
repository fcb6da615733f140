/**
 * @file policy.c  Which delivery mode applies to a call, per direction
 *
 * docs/wire.md, "Choosing the mode": a profile may pin a subscriber's
 * mode; in auto the caller's INVITE (CMRBT) or the callee's reliable 18x
 * (CMRT) decides.  A caller that asks for no CMR mode but offers SDP
 * gets early media, or HTTP mode when the profile's plain= says so.  A
 * mode that cannot apply falls back to HTTP mode, and the reason says
 * why.
 */
#include <string.h>
#include <re.h>
#include "sip/sip_int.h"


/* The assigned resource must exist, else nothing can be delivered. */
static bool resource_ok(struct cmr_choice *c, const struct subscriber *s,
			enum cmr_dir dir, const char *caller)
{
	c->resid = subscriber_cmr(s, dir, caller);

	if (!c->resid || !table_resource(table_live(), c->resid)) {
		c->mode = MODE_OFF;
		c->why = "assigned resource does not exist";
		c->resid = NULL;
		return false;
	}

	return true;
}


/* Application server mode streams the resource: it must have audio. */
static bool has_media(const struct subscriber *s, enum cmr_dir dir,
		      const char *caller)
{
	const char *id = subscriber_cmr(s, dir, caller);
	const struct resource *r = id ? table_resource(table_live(), id) :
		NULL;

	return r && r->media;
}


/* The INVITE offers a session SDP (early media answers it). */
static bool offers_sdp(const struct sip_msg *invite)
{
	struct body_view bv;

	return !body_parse(&bv, invite) && pl_isset(&bv.session);
}


/* What a caller that asks for no CMR mode gets: the subscriber's
 * plain=, else the profile's default. */
static enum cmr_mode plain_mode(const struct subscriber *callee)
{
	enum cmr_mode m = subscriber_plain(callee);

	return m != MODE_AUTO ? m : table_plain(table_live());
}


void policy_choose_bt(struct cmr_choice *c, const struct subscriber *callee,
		      const char *caller, const struct sip_msg *invite,
		      bool rtp)
{
	bool as_ok = modeas_caller_supports(invite);
	bool pem = modegw_caller_supports(invite);
	/* RFC 3261 8.2.2.3: a UAS may Require only what the UAC supports, and
	 * gateway mode requires 100rel (clause 1.1.1.10). */
	bool rel = sip_msg_hdr_has_value(invite, SIP_HDR_SUPPORTED, "100rel")
		|| sip_msg_hdr_has_value(invite, SIP_HDR_REQUIRE, "100rel");
	bool media = rtp && has_media(callee, DIR_BT, caller);
	bool sdp = offers_sdp(invite);

	memset(c, 0, sizeof(*c));
	c->mode = MODE_HTTP;

	switch (subscriber_mode(callee)) {

	case MODE_OFF:
		c->mode = MODE_OFF;
		c->why = "profile pins mode off";
		return;

	case MODE_HTTP:
		c->why = "profile pins mode http";
		break;

	case MODE_EARLY:
		if (sdp && media) {
			c->mode = MODE_EARLY;
			c->why = "profile pins mode early-media";
		}
		else {
			c->why = !sdp ? "profile pins mode early-media, but "
				"the INVITE has no SDP offer: http" :
				"profile pins mode early-media, but the "
				"resource has no audio to stream: http";
		}
		break;

	case MODE_AS:
		if (as_ok && media) {
			c->mode = MODE_AS;
			c->why = "profile pins mode as";
		}
		else {
			c->why = !as_ok ? "profile pins mode as, but the "
				"INVITE lacks early-session or 100rel in "
				"Supported: http" : "profile pins mode as, "
				"but the resource has no audio to stream: http";
		}
		break;

	case MODE_GATEWAY:
		if (pem && rel && media) {
			c->mode = MODE_GATEWAY;
			c->why = "profile pins mode gateway";
		}
		else {
			c->why = !pem ? "profile pins mode gateway, but the "
				"INVITE lacks P-Early-Media: supported: http" :
				!rel ? "profile pins mode gateway, but the "
				"INVITE does not support 100rel: http" :
				"profile pins mode gateway, but the resource "
				"has no audio to stream: http";
		}
		break;

	case MODE_AUTO:
	default:
		if (as_ok && media) {
			c->mode = MODE_AS;
			c->why = "auto: INVITE supports early-session and "
				"100rel";
		}
		else if (pem && rel && media) {
			c->mode = MODE_GATEWAY;
			c->why = "auto: INVITE has P-Early-Media: supported "
				"and supports 100rel";
		}
		else if (as_ok)
			c->why = "auto: INVITE supports early-session and "
				"100rel, but there is no audio to stream: http";
		else if (pem && rel)
			c->why = "auto: INVITE has P-Early-Media: supported, "
				"but there is no audio to stream: http";
		else if (!sdp)
			c->why = pem ? "auto: INVITE has P-Early-Media: "
				"supported but does not support 100rel, and "
				"has no SDP offer: http" :
				"auto: INVITE asks for neither early-session "
				"nor P-Early-Media and has no SDP offer: http";
		else if (plain_mode(callee) == MODE_HTTP)
			c->why = "auto: INVITE asks for neither early-session "
				"nor P-Early-Media; the profile's plain=http "
				"keeps HTTP mode";
		else if (!media)
			c->why = "auto: INVITE asks for neither early-session "
				"nor P-Early-Media, but there is no audio to "
				"stream: http";
		else {
			c->mode = MODE_EARLY;
			c->why = pem ? "auto: INVITE has P-Early-Media: "
				"supported but does not support 100rel, and "
				"offers SDP: early-media" :
				"auto: INVITE asks for neither early-session "
				"nor P-Early-Media and offers SDP: early-media";
		}
		break;
	}

	(void)resource_ok(c, callee, DIR_BT, caller);
}


void policy_choose_rt(struct cmr_choice *c, const struct subscriber *callee,
		      const char *caller, bool rtp)
{
	bool media = rtp && has_media(callee, DIR_RT, caller);

	memset(c, 0, sizeof(*c));
	c->mode = MODE_HTTP;

	switch (subscriber_mode(callee)) {

	case MODE_OFF:
		c->mode = MODE_OFF;
		c->why = "profile pins mode off";
		return;

	case MODE_HTTP:
		c->why = "profile pins mode http";
		break;

	case MODE_AS:
		/* Decided by the callee's reliable 18x; no URL meanwhile. */
		c->mode = MODE_AS;
		c->as_possible = media;
		c->why = media ? "profile pins mode as: offered in the PRACK "
			"if the callee's reliable 18x supports early-session" :
			"profile pins mode as, but the resource has no audio "
			"to stream";
		break;

	case MODE_GATEWAY:
		c->why = "gateway mode has no CMRT procedure: http";
		break;

	case MODE_EARLY:
		c->why = "early media has no CMRT procedure: http";
		break;

	case MODE_AUTO:
	default:
		/* The URL must travel in our INVITE (clause 1.1.1.3) before
		 * the callee's 18x can tell whether it supports early
		 * sessions; if it does, application server mode follows. */
		c->as_possible = media;
		c->why = "auto: the INVITE to the callee carries the URL";
		break;
	}

	(void)resource_ok(c, callee, DIR_RT, caller);
}
