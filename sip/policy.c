/**
 * @file policy.c  Which delivery mode applies to a call, per direction
 *
 * CONTRACT.md "Choosing the delivery mode": a profile may pin a
 * subscriber's mode; in auto the caller's INVITE (CMRBT) or the callee's
 * reliable 18x (CMRT) decides.  Until application server mode and gateway
 * mode exist, every choice that would pick them falls back to HTTP mode,
 * and the reason says so.
 */
#include <string.h>
#include <re.h>
#include "sip/sip_int.h"


static bool has_tag(const struct sip_msg *msg, enum sip_hdrid id,
		    const char *tag)
{
	return sip_msg_hdr_has_value(msg, id, tag);
}


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


/* A mode the profile pins; false when the subscriber is on auto. */
static bool pinned(struct cmr_choice *c, const struct subscriber *s,
		   enum cmr_dir dir)
{
	switch (subscriber_mode(s)) {

	case MODE_OFF:
		c->mode = MODE_OFF;
		c->why = "profile pins mode off";
		return true;

	case MODE_HTTP:
		c->why = "profile pins mode http";
		break;

	case MODE_AS:
		c->why = "profile pins mode as, not available yet: http";
		break;

	case MODE_GATEWAY:
		c->why = dir == DIR_BT ?
			"profile pins mode gateway, not available yet: http" :
			"gateway mode has no CMRT procedure: http";
		break;

	case MODE_AUTO:
	default:
		return false;
	}

	c->mode = MODE_HTTP;

	return true;
}


void policy_choose_bt(struct cmr_choice *c, const struct subscriber *callee,
		      const char *caller, const struct sip_msg *invite)
{
	memset(c, 0, sizeof(*c));

	if (!pinned(c, callee, DIR_BT)) {
		c->mode = MODE_HTTP;

		if (has_tag(invite, SIP_HDR_SUPPORTED, "early-session") &&
		    has_tag(invite, SIP_HDR_SUPPORTED, "100rel"))
			c->why = "auto: INVITE supports early-session and "
				"100rel, as mode not available yet: http";
		else if (sip_msg_xhdr_has_value(invite, "P-Early-Media",
						"supported"))
			c->why = "auto: INVITE has P-Early-Media: supported, "
				"gateway mode not available yet: http";
		else
			c->why = "auto: INVITE asks for neither early-session "
				"nor P-Early-Media: http";
	}

	if (c->mode == MODE_HTTP)
		(void)resource_ok(c, callee, DIR_BT, caller);
}


void policy_choose_rt(struct cmr_choice *c, const struct subscriber *callee,
		      const char *caller)
{
	memset(c, 0, sizeof(*c));

	if (!pinned(c, callee, DIR_RT)) {
		/* The callee's 18x comes after our INVITE, which must carry
		 * the URL in HTTP mode (clause 1.1.1.3). */
		c->mode = MODE_HTTP;
		c->why = "auto: the INVITE to the callee carries the URL";
	}

	if (c->mode == MODE_HTTP)
		(void)resource_ok(c, callee, DIR_RT, caller);
}
