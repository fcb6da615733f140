/**
 * @file route.c  A new INVITE becomes a call: the checks before a call
 *                exists, the callee's contacts, the CMR mode per direction
 *
 * In order: a loop (our own B-leg's Call-ID back), the calling
 * subscriber's digest authentication, the body (415 or 400), the callee
 * (404, or 480 without contacts), the call limit (503).  Then the A-leg
 * answers 100 Trying, the policy picks each direction's mode and the
 * callee's contacts are called.
 */
#include <string.h>
#include <re.h>
#include "core/urlsign.h"
#include "sip/sip_int.h"

enum { MAX_TARGETS = 8 };

/* A Contact user part that needs no escaping (RFC 3261 "user" chars). */
static void safe_user(char *buf, size_t sz, const struct pl *user,
		      const char *fallback)
{
	size_t i, n = 0;

	for (i = 0; user && i < user->l && n + 1 < sz; i++) {
		char c = user->p[i];

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || strchr("-_.!~+", c))
			buf[n++] = c;
		else
			break;
	}

	if (!n || (user && i < user->l))
		n = (size_t)re_snprintf(buf, sz, "%s", fallback);

	buf[n] = '\0';
}



static int user_print(struct re_printf *pf, const struct sip_taddr *ta)
{
	return re_hprintf(pf, "%r@%r", &ta->uri.user, &ta->uri.host);
}


static void reject(struct sipsrv *srv, const struct sip_msg *msg,
		   struct callrec *cr, uint16_t scode, const char *reason,
		   const char *why)
{
	(void)sip_treply(NULL, srv->sip, msg, scode, reason);
	evlog_event(cr, "routed", "\"result\":%u,\"why\":%H", scode,
		    jsonw_str, why);
	evlog_event(cr, "rejected", "\"code\":%u,\"reason\":%H", scode,
		    jsonw_str, reason);
	evlog_call_outcome(cr, OUTCOME_REFUSED);
	evlog_call_end(cr, why);
}


static void cmr_choose(struct call *call, const struct subscriber *callee,
		       const char *caller)
{
	const char *id = evlog_call_id(call->cr);
	uint64_t exp = urlsign_expiry(call->ring_s);
	char base[128];
	struct streamer *st = call->srv->conf.streamer;
	int err;

	policy_choose_bt(&call->bt, callee, caller, call->msg, st != NULL);
	policy_choose_rt(&call->rt, callee, caller, st != NULL);

	switch (call->bt.mode) {

	case MODE_HTTP:    call->bt_ops = &modehttp_bt; break;
	case MODE_AS:      call->bt_ops = &modeas_bt;   break;
	case MODE_GATEWAY: call->bt_ops = &modegw_bt;   break;
	case MODE_EARLY:   call->bt_ops = &modeem_bt;   break;
	default:           call->bt_ops = NULL;         break;
	}

	/* A mode that cannot prepare its media falls back to HTTP mode
	 * (its start hook says why). */
	if (call->bt_ops && call->bt_ops->start) {
		err = call->bt_ops->start(call);
		if (err)
			call->bt_ops = &modehttp_bt;
	}

	if (call->rt.as_possible) {
		err = modeas_rt.start(call);
		if (err) {
			call->rt.as_possible = false;
			if (call->rt.mode == MODE_AS)
				call->rt.mode = MODE_OFF;
		}
	}
	call->rt_ops[0] = call->rt.mode == MODE_HTTP ? &modehttp_rt : NULL;
	call->rt_ops[1] = call->rt.as_possible ? &modeas_rt : NULL;

	/* The caller's URL (HTTP mode, and early media's Alert-Info) names
	 * the address its INVITE arrived on (or the advertised one); the
	 * callee's keeps conf.http_base, the address our requests to it
	 * leave from. */
	if ((call->bt.mode == MODE_HTTP || call->bt.mode == MODE_EARLY) &&
	    (sipsrv_http_base(call->srv, &call->msg->dst, base,
			      sizeof(base)) ||
	     modehttp_url(call->url_bt, sizeof(call->url_bt), base,
			  call->bt.resid, id, exp))) {
		call->url_bt[0] = '\0';
		if (call->bt.mode == MODE_HTTP) {
			call->bt.mode = MODE_OFF;
			call->bt_ops = NULL;
		}
	}
	if (call->rt.mode == MODE_HTTP &&
	    modehttp_url(call->url_rt, sizeof(call->url_rt),
			 call->srv->conf.http_base, call->rt.resid, id,
			 exp)) {
		call->rt.mode = MODE_OFF;
		call->rt_ops[0] = NULL;
	}

	evlog_call_modes(call->cr, cmr_mode_name(call->bt.mode),
			 cmr_mode_name(call->rt.mode));
	evlog_event(call->cr, "mode", "\"dir\":\"bt\",\"mode\":\"%s\","
		    "\"why\":%H,\"resource\":%H",
		    cmr_mode_name(call->bt.mode), jsonw_str, call->bt.why,
		    jsonw_str, call->bt.resid);
	evlog_event(call->cr, "mode", "\"dir\":\"rt\",\"mode\":\"%s\","
		    "\"why\":%H,\"resource\":%H",
		    cmr_mode_name(call->rt.mode), jsonw_str, call->rt.why,
		    jsonw_str, call->rt.resid);
}


/* Checks that come before a call exists; true when msg was answered. */
static bool invite_refused(struct sipsrv *srv, const struct sip_msg *msg,
			   struct callrec *cr, struct subscriber **calleep)
{
	struct subscriber *callee, *calling;
	struct body_view bv;
	bool stale;
	int err;

	if (legset_callid_ours(&srv->ls, &msg->callid, true)) {
		reject(srv, msg, cr, 482, "Loop Detected",
		       "the INVITE came back to us");
		return true;
	}

	/* A calling subscriber with a password proves it first. */
	calling = table_subscriber_pl(table_live(), &msg->from.uri.user);
	if (calling && subscriber_password(calling) &&
	    (err = sipauth_check(srv->auth, msg, subscriber_id(calling),
				 subscriber_password(calling), true,
				 &stale))) {
		sipauth_reply(srv, msg, true, err, stale);
		evlog_event(cr, "rejected", "\"code\":%u,"
			    "\"reason\":\"authentication required\"",
			    err == EBADMSG ? 400 : 407);
		evlog_call_outcome(cr, OUTCOME_REFUSED);
		evlog_call_end(cr, "caller not authenticated");
		return true;
	}

	/* Only the session SDP travels on; a body we cannot read is the
	 * caller's error (RFC 3261 21.4.13, 21.4.19). */
	err = body_parse(&bv, msg);
	if (err == ENOTSUP) {
		(void)sip_treplyf(NULL, NULL, srv->sip, msg, false, 415,
				  "Unsupported Media Type",
				  "Accept: " BODY_ACCEPT "\r\n"
				  "Content-Length: 0\r\n\r\n");
		evlog_event(cr, "rejected", "\"code\":415,"
			    "\"reason\":\"unsupported body\"");
		evlog_call_outcome(cr, OUTCOME_REFUSED);
		evlog_call_end(cr, "unsupported body");
		return true;
	}
	if (err) {
		reject(srv, msg, cr, 400, "Malformed Body",
		       "malformed message body");
		return true;
	}

	callee = table_subscriber_pl(table_live(), &msg->uri.user);
	if (!callee) {
		reject(srv, msg, cr, 404, "Not Found", "unknown user");
		return true;
	}

	if (srv->ncalls >= srv->conf.max_calls) {
		(void)sip_treplyf(NULL, NULL, srv->sip, msg, false, 503,
				  "Service Unavailable",
				  "Retry-After: 5\r\n"
				  "Content-Length: 0\r\n\r\n");
		evlog_event(cr, "rejected", "\"code\":503,"
			    "\"reason\":\"call limit\"");
		evlog_call_outcome(cr, OUTCOME_REFUSED);
		evlog_call_end(cr, "call limit reached");
		return true;
	}

	*calleep = callee;

	return false;
}


void route_invite(struct sipsrv *srv, const struct sip_msg *msg)
{
	const struct table_limits *lim = table_limits(table_live());
	struct subscriber *callee = NULL;
	struct callrec *cr = NULL;
	struct call *call = NULL;
	const char *targets[MAX_TARGETS];
	char *caller = NULL, *callid = NULL, *from = NULL, *to = NULL;
	char cuser_a[64], cuser_b[64];
	unsigned i, n = 0, started = 0;
	int err;

	err  = pl_strdup(&callid, &msg->callid);
	err |= re_sdprintf(&from, "%H", user_print, &msg->from);
	err |= re_sdprintf(&to, "%H", user_print, &msg->to);
	err |= pl_strdup(&caller, &msg->from.uri.user);
	if (err)
		goto out;

	err = evlog_call_alloc(&cr, callid, from, to);
	if (err)
		goto out;

	evlog_event(cr, "received", "\"from\":%H,\"to\":%H,\"ruri\":%H,"
		    "\"transport\":\"%s\",\"src\":\"%J\"",
		    jsonw_str, from, jsonw_str, to, jsonw_pl, &msg->ruri,
		    sip_transp_name(msg->tp), &msg->src);

	if (invite_refused(srv, msg, cr, &callee))
		goto out;

	for (i = 0; i < subscriber_binding_count(callee) &&
		     n < MAX_TARGETS; i++)
		targets[n++] = subscriber_binding(callee, i)->uri;
	for (i = 0; i < subscriber_contact_count(callee) &&
		     n < MAX_TARGETS; i++)
		targets[n++] = subscriber_contact(callee, i);

	if (!n) {
		reject(srv, msg, cr, 480, "Temporarily Unavailable",
		       "no registered or static contact");
		goto out;
	}

	/* RFC 3261 8.1.1.8: an INVITE names its Contact, the dialog's
	 * remote target (an RFC 2543 one may not have it). */
	if (!sip_msg_hdr(msg, SIP_HDR_CONTACT)) {
		reject(srv, msg, cr, 400, "Missing Contact",
		       "the INVITE has no Contact");
		goto out;
	}

	err = call_alloc(&call, srv, cr);
	if (err)
		goto out;

	call->ring_s = lim->ring_s;
	call->talk_s = lim->call_s;

	safe_user(cuser_a, sizeof(cuser_a), &msg->uri.user, "cmrlab");
	safe_user(cuser_b, sizeof(cuser_b), &msg->from.uri.user, "cmrlab");

	err = uas_alloc(&call->a, &srv->ls, msg, cuser_a, &call_caller_h, call);
	if (err) {
		(void)sip_treply(NULL, srv->sip, msg, 500,
				 "Server Internal Error");
		LOGW(SUB_SIP, "INVITE from %J: %m", &msg->src, err);
		evlog_call_end(cr, "internal error");
		call->ended = true;
		mem_deref(call);
		goto out;
	}
	call->msg = call->a->msg;

	cmr_choose(call, callee, caller);

	evlog_call_state(call->cr, "routing");
	evlog_event(cr, "routed", "\"result\":\"targets\",\"targets\":%u",
		    n);

	if (call->ring_s)
		tmr_start(&call->tmr_ring, call->ring_s * 1000ULL, call_ring_over,
			  call);

	for (i = 0; i < n; i++) {
		if (!callee_start(call, targets[i], cuser_b))
			++started;
	}

	if (!started)
		call_end(call, 480, "no target could be reached");

 out:
	mem_deref(cr);
	mem_deref(callid);
	mem_deref(from);
	mem_deref(to);
	mem_deref(caller);
}

