/**
 * @file mode_http.c  HTTP mode: the resource URL in Alert-Info
 *
 * OMA CMR clause 1.1.1.3: for CMRBT the CMR Server SHALL insert the URL of
 * the CMR Resource into the provisional response forwarded to the calling
 * party; for CMRT into the call initiation message (INVITE) forwarded to
 * the called party.  RFC 3261 section 20.4 gives Alert-Info's syntax (the
 * angle brackets are mandatory); RFC 7462 allows it in any non-100
 * provisional response, not only in 180.
 *
 * The URL names the call and is signed with an expiry, so its fetch can
 * be told apart from anyone else's and recorded as the call's event.
 */
#include <string.h>
#include <re.h>
#include "core/urlsign.h"
#include "sip/sip_int.h"


/* A URL-safe copy of a query value: our call ids are [a-z0-9] already,
 * anything else is percent-encoded. */
static int query_print(struct re_printf *pf, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	int err = 0;

	for (; s && *s && !err; s++) {
		unsigned char ch = (unsigned char)*s;

		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || strchr("-._~", ch))
			err = re_hprintf(pf, "%c", ch);
		else
			err = re_hprintf(pf, "%%%c%c", hex[ch >> 4],
					 hex[ch & 0xf]);
	}

	return err;
}


int modehttp_url(char *buf, size_t sz, const char *http_base,
		 const char *resid, const char *callid, uint64_t exp)
{
	char sig[URLSIGN_HEX + 1];
	int n, err;

	if (!buf || !sz || !http_base || !resid || !*resid)
		return EINVAL;

	if (!callid) {
		n = re_snprintf(buf, sz, "%s/r/%H", http_base, query_print,
				resid);
		goto out;
	}

	/* The fetch of a URL that names a call becomes one of the call's
	 * events: only a URL signed here may do that (core/urlsign.c). */
	err = urlsign_sign(sig, sizeof(sig), resid, callid, exp);
	if (err)
		return err;

	n = re_snprintf(buf, sz, "%s/r/%H?call=%H&exp=%llu&sig=%s",
			http_base, query_print, resid, query_print, callid,
			(unsigned long long)exp, sig);
 out:
	if (n < 0 || (size_t)n >= sz - 1)
		return ENAMETOOLONG;

	return 0;
}


int modehttp_alertinfo_print(struct re_printf *pf, const char *url)
{
	if (!url || !*url)
		return 0;

	return re_hprintf(pf, "Alert-Info: <%s>\r\n", url);
}


/* ---- the procedure ------------------------------------------------------ */

/* Clause 1.1.1.3, CMRBT: the URL in every provisional response that goes
 * to the calling party. */
static void bt_prov_in(struct call *call, const struct sip_msg *msg,
		       struct prov_out *po)
{
	(void)msg;

	if (call->url_bt[0])
		po->alert_url = call->url_bt;
}


static void bt_prov_sent(struct call *call, const struct sip_msg *msg,
			 const struct prov_out *po)
{
	if (!po->alert_url)
		return;

	evlog_event(call->cr, "cmr-inserted", "\"dir\":\"bt\","
		    "\"mode\":\"http\",\"resource\":%H,\"url\":%H,"
		    "\"in\":\"%u\"", jsonw_str, call->bt.resid, jsonw_str,
		    call->url_bt, msg->scode);
}


/* Clause 1.1.1.3, CMRT: the URL in the INVITE to the called party. */
static int rt_invite_out(struct re_printf *pf, struct call *call)
{
	if (!call->url_rt[0])
		return 0;

	evlog_event(call->cr, "cmr-inserted", "\"dir\":\"rt\","
		    "\"mode\":\"http\",\"resource\":%H,\"url\":%H,"
		    "\"in\":\"INVITE\"", jsonw_str, call->rt.resid, jsonw_str,
		    call->url_rt);

	return modehttp_alertinfo_print(pf, call->url_rt);
}


const struct mode_ops modehttp_bt = {
	.name      = "http",
	.prov_in   = bt_prov_in,
	.prov_sent = bt_prov_sent,
};

const struct mode_ops modehttp_rt = {
	.name       = "http",
	.invite_out = rt_invite_out,
};
