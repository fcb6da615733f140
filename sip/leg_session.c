/**
 * @file leg_session.c  RFC 4028 session timers of a dialog
 *
 * We take the session interval from the peer's INVITE or UPDATE (as its
 * UAS) or from the 2xx to ours (as UAC), within our maximum and at least
 * 90 s.  The refresher refreshes at half the interval: an UPDATE without
 * SDP where the peer allows UPDATE, else a re-INVITE with the SDP we sent
 * last (section 7.4); the other side ends the dialog with BYE when no
 * refresh came a third of the interval (at most 32 s) before it ends.
 */
#include <string.h>
#include <re.h>
#include "sip/sip_int.h"

enum { SE_MIN = 90 };

/* ---- RFC 4028 session timers ------------------------------------------- */

static void session_tmr(void *arg);

static void session_arm(struct leg *leg)
{
	uint32_t s;

	if (!leg->se || leg->gone)
		return;

	/* Section 10: the refresher refreshes at half the interval; the
	 * other side gives up 32 s (or a third) before it ends. */
	if (leg->refresh_us)
		s = leg->se / 2;
	else
		s = leg->se - min(32u, leg->se / 3);

	tmr_start(&leg->tmr_se, s * 1000ULL, session_tmr, leg);
}


static void refresh_resp(int err, const struct sip_msg *msg, void *arg)
{
	(void)err;
	(void)msg;
	(void)arg;
}


static void session_tmr(void *arg)
{
	struct leg *leg = arg;

	if (!leg->refresh_us) {
		leg_bye(leg);
		if (leg->h && leg->h->endh)
			leg->h->endh(leg, ETIMEDOUT, "session expired",
				     leg->arg);
		return;
	}

	/* An UPDATE without SDP where the peer allows it, else a
	 * re-INVITE with the SDP we sent last (section 7.4). */
	if (!leg->oreq && !leg->pst) {
		struct pl sdp = PL_INIT;

		(void)leg_sdp(leg, true, &sdp);
		(void)leg_offer(leg, !leg->peer_update, leg->peer_update ?
				NULL : &sdp, refresh_resp, NULL);
	}

	session_arm(leg);
}


/*
 * A Session-Expires value (RFC 4028 section 4): delta-seconds, then
 * parameters; refresher, when there, is "uac" or "uas".  Values above a
 * day count as a day.  EBADMSG for anything else.
 */
int leg_session_parse(const struct pl *val, uint32_t *se,
		      struct pl *refresher)
{
	struct pl v = PL_INIT, rest = PL_INIT, r;
	size_t i = 0;

	if (!val || !se || !refresher)
		return EINVAL;

	while (i < val->l && (val->p[i] == ' ' || val->p[i] == '\t'))
		++i;
	v.p = val->p + i;
	while (i < val->l && val->p[i] >= '0' && val->p[i] <= '9')
		++i;
	v.l = (size_t)(val->p + i - v.p);
	while (i < val->l && (val->p[i] == ' ' || val->p[i] == '\t'))
		++i;
	rest.p = val->p + i;
	rest.l = val->l - i;

	if (!v.l || (rest.l && rest.p[0] != ';'))
		return EBADMSG;

	r = pl_null;
	if (rest.l && !msg_param_decode(&rest, "refresher", &r) &&
	    pl_strcasecmp(&r, "uac") && pl_strcasecmp(&r, "uas"))
		return EBADMSG;

	*se = v.l > 5 ? 86400 : pl_u32(&v);
	if (*se > 86400)
		*se = 86400;
	*refresher = r;

	return 0;
}


static bool session_param(const struct sip_hdr *h, uint32_t *se,
			  struct pl *refresher)
{
	return h && !leg_session_parse(&h->val, se, refresher);
}


/*
 * The session interval of a dialog: from the peer's INVITE or UPDATE when
 * we are its UAS (uas true), or from the 2xx to our INVITE.  We act as the
 * UAS of section 9: a peer that supports "timer" refreshes unless it asked
 * us to; one that does not leaves it to us.
 */
void leg_session_start(struct leg *leg, const struct sip_msg *msg, bool uas)
{
	const struct sip_hdr *h = sip_msg_hdr(msg, SIP_HDR_SESSION_EXPIRES);
	struct pl refresher = PL_INIT;
	uint32_t se;

	if (!session_param(h, &se, &refresher)) {
		if (!leg->se)
			return;
		session_arm(leg);    /* a refresh without the header */
		return;
	}

	if (se < SE_MIN)
		se = SE_MIN;
	if (leg->ls->max_se && se > leg->ls->max_se)
		se = leg->ls->max_se;
	leg->se = se;

	if (uas) {
		if (!sip_msg_hdr_has_value(msg, SIP_HDR_SUPPORTED, "timer"))
			leg->refresh_us = true;
		else
			leg->refresh_us = !pl_strcasecmp(&refresher, "uas");
	}
	else {
		leg->refresh_us = !pl_strcasecmp(&refresher, "uac");
	}

	session_arm(leg);
}


/* Session-Expires (and Require: timer) for our 2xx to the peer's
 * INVITE or UPDATE; nothing when no session timer runs. */
int leg_session_print(struct re_printf *pf, const struct leg *leg)
{
	if (!leg->se)
		return 0;

	return re_hprintf(pf, "Session-Expires: %u;refresher=%s\r\n%s",
			  leg->se, leg->refresh_us ? "uas" : "uac",
			  leg->refresh_us ? "" : "Require: timer\r\n");
}
