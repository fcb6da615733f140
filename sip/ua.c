/**
 * @file ua.c  The CMR Client's SIP stack: a UDP transport, the leg layer,
 *             REGISTER, and the dispatch of requests to its calls
 *
 * One struct ua is one user agent with its own port; the demo runs a
 * caller's and a callee's in the server's process, `cmrlab call` one.
 * Registration is a plain REGISTER transaction of ours (RFC 3261 section
 * 10.2), so that the binding can be removed (expires 0) and waited for
 * before the program exits.
 */
#include <string.h>
#include <re.h>
#include "sip/cmrc_int.h"

#define UA_ALLOW_NO_UPDATE "INVITE, ACK, CANCEL, BYE, OPTIONS, PRACK"

enum { DOWN_POLL_MS = 20, DOWN_MAX_MS = 2000 };


static void destructor(void *arg)
{
	struct ua *ua = arg;
	struct le *le;

	tmr_cancel(&ua->tmr_down);
	le = list_head(&ua->calls);
	while (le) {
		struct cmrc *c = le->data;

		le = le->next;
		ua_call_unlink(c);
	}
	ua->reg = mem_deref(ua->reg);
	legset_flush(&ua->ls);
	mem_deref(ua->lsnr_req);
	mem_deref(ua->lsnr_rsp);
	sip_close(ua->sip, true);
	sip_set_trace_handler(ua->sip, NULL);
	mem_deref(ua->sip);
	mem_deref(ua->dnsc);
	mem_deref(ua->ls.legs);
	mem_deref(ua->talk[0]);
	mem_deref(ua->talk[1]);
}


static void adv_handler(const struct sa *local, struct sa *out, void *arg)
{
	struct ua *ua = arg;

	/* Bound to one address: that is how we are reached. */
	if (sa_isset(local, SA_ADDR))
		sa_cpy(out, local);
	else
		sa_cpy(out, &ua->laddr);
}


static void trace_handler(bool tx, enum sip_transp tp, const struct sa *src,
			  const struct sa *dst, const uint8_t *pkt,
			  size_t len, void *arg)
{
	struct ua *ua = arg;
	(void)tp;

	if (ua->conf.traceh)
		ua->conf.traceh(tx, src, dst, pkt, len, ua->conf.trace_arg);
	if (ua->conf.cap_sip && pcapw_active())
		(void)pcapw_udp(src, dst, pkt, len);
}


static bool request_handler(const struct sip_msg *msg, void *arg)
{
	struct ua *ua = arg;
	bool ack = !pl_strcmp(&msg->met, "ACK");

	if (pl_isset(&msg->to.tag)) {
		if (legset_request(&ua->ls, msg))
			return true;
		if (!ack)
			(void)sip_reply(ua->sip, msg, 481,
					"Call/Transaction Does Not Exist");
		return true;
	}

	if (ack)
		return true;
	if (!pl_strcmp(&msg->met, "CANCEL"))
		return false;        /* libre matches it, or answers 481 */

	if (!pl_strcmp(&msg->met, "INVITE")) {
		if (!ua->answering) {
			(void)sip_reply(ua->sip, msg, 480,
					"Temporarily Unavailable");
			return true;
		}
		if (cmrc_incoming(ua, msg))
			(void)sip_reply(ua->sip, msg, 500,
					"Server Internal Error");
		return true;
	}
	if (!pl_strcmp(&msg->met, "OPTIONS")) {
		(void)sip_treplyf(NULL, NULL, ua->sip, msg, false, 200, "OK",
				  "Allow: %s\r\n"
				  "Supported: 100rel, early-session\r\n"
				  "Content-Length: 0\r\n\r\n",
				  leg_allow(&ua->ls));
		return true;
	}

	(void)sip_treplyf(NULL, NULL, ua->sip, msg, false, 405,
			  "Method Not Allowed", "Allow: %s\r\n"
			  "Content-Length: 0\r\n\r\n", leg_allow(&ua->ls));
	return true;
}


static bool response_handler(const struct sip_msg *msg, void *arg)
{
	struct ua *ua = arg;

	return legset_response(&ua->ls, msg);
}


int ua_alloc(struct ua **uap, const struct ua_conf *conf)
{
	struct sa ns;
	struct ua *ua;
	int err;

	if (!uap || !conf || !sa_isset(&conf->laddr, SA_ADDR))
		return EINVAL;

	ua = mem_zalloc(sizeof(*ua), destructor);
	if (!ua)
		return ENOMEM;

	ua->conf = *conf;
	tmr_init(&ua->tmr_down);
	ua->ls.advh = adv_handler;
	ua->ls.arg = ua;
	ua->ls.max_se = 7200;
	ua->ls.allow = conf->no_update ? UA_ALLOW_NO_UPDATE : NULL;
	err = hash_alloc(&ua->ls.legs, 64);
	if (err)
		goto out;

	/* Every target is a literal address: the resolver is never asked. */
	sa_set_str(&ns, "127.0.0.1", 53);
	err = dnsc_alloc(&ua->dnsc, NULL, &ns, 1);
	if (err)
		goto out;

	err = sip_alloc(&ua->sip, ua->dnsc, 64, 64, 64,
			"cmrlab/" CMRLAB_VERSION, NULL, ua);
	if (err)
		goto out;
	ua->ls.sip = ua->sip;
	/* libre passes the trace handler sip_alloc()'s arg. */
	sip_set_trace_handler(ua->sip, trace_handler);
	err = sip_transp_add(ua->sip, SIP_TRANSP_UDP, &conf->laddr);
	if (err)
		goto out;
	err = sip_transp_laddr(ua->sip, &ua->laddr, SIP_TRANSP_UDP, NULL);
	if (err)
		goto out;

	err  = sip_listen(&ua->lsnr_req, ua->sip, true, request_handler, ua);
	err |= sip_listen(&ua->lsnr_rsp, ua->sip, false, response_handler,
			  ua);

 out:
	if (err)
		mem_deref(ua);
	else
		*uap = ua;

	return err;
}


const struct sa *ua_laddr(const struct ua *ua)
{
	return ua ? &ua->laddr : NULL;
}


/* ---- REGISTER ----------------------------------------------------------- */

static void reg_resp(int err, const struct sip_msg *msg, void *arg)
{
	struct ua *ua = arg;
	ua_reg_h *h = ua->regh;
	char reason[64] = "";

	if (msg && msg->scode < 200)
		return;

	ua->reg = mem_deref(ua->reg);
	ua->regh = NULL;
	if (msg)
		(void)pl_strcpy(&msg->reason, reason, sizeof(reason));
	if (h)
		h(err, msg ? msg->scode : 0, reason, ua->reg_arg);
}


struct reghdr {
	const struct ua *ua;
	const char *user;
	uint32_t expires;
};


static int contact_print(struct re_printf *pf, const struct reghdr *rh)
{
	return re_hprintf(pf, "Contact: <sip:%s@%J>;expires=%u\r\n",
			  rh->user, &rh->ua->laddr, rh->expires);
}


int ua_register(struct ua *ua, const char *registrar, const char *user,
		uint32_t expires, ua_reg_h *rh, void *arg)
{
	struct reghdr hd = { ua, user, expires };
	struct uri uri;
	struct pl pl;
	int err;

	if (!ua || !registrar || !user || !*user)
		return EINVAL;
	if (ua->reg)
		return EBUSY;

	pl_set_str(&pl, registrar);
	err = uri_decode(&uri, &pl);
	if (err)
		return err;

	if (!ua->reg_callid[0])
		rand_str(ua->reg_callid, sizeof(ua->reg_callid));
	ua->regh = rh;
	ua->reg_arg = arg;

	err = sip_requestf(&ua->reg, ua->sip, true, "REGISTER", registrar,
			   NULL, NULL, NULL, reg_resp, ua,
			   "To: <sip:%s@%r>\r\n"
			   "From: <sip:%s@%r>;tag=%x\r\n"
			   "Call-ID: %s\r\n"
			   "CSeq: %u REGISTER\r\n"
			   "%H"
			   "Expires: %u\r\n"
			   "Content-Length: 0\r\n\r\n",
			   user, &uri.host, user, &uri.host, rand_u32(),
			   ua->reg_callid, ++ua->reg_cseq,
			   contact_print, &hd, expires);
	if (err)
		ua->regh = NULL;

	return err;
}


/* ---- answering and the end ---------------------------------------------- */

int ua_answer_set(struct ua *ua, const struct cmrc_conf *conf,
		  cmrc_done_h *doneh, void *arg)
{
	if (!ua)
		return EINVAL;

	ua->answering = conf != NULL;
	if (conf) {
		ua->aconf = *conf;
		ua->aconf.callee = true;
	}
	ua->adoneh = doneh;
	ua->aarg = arg;

	return 0;
}


unsigned ua_calls(const struct ua *ua)
{
	return ua ? list_count(&ua->calls) : 0;
}


struct cmrc *ua_call_first(const struct ua *ua)
{
	return ua ? list_ledata(list_head(&ua->calls)) : NULL;
}


static void down_poll(void *arg)
{
	struct ua *ua = arg;
	bool idle = list_isempty(&ua->calls) && list_isempty(&ua->ls.closel)
		&& !ua->reg;

	if (idle || loop_now_ms() >= ua->down_deadline) {
		void (*h)(void *) = ua->downh;

		ua->downh = NULL;
		if (h)
			h(ua->down_arg);
		return;
	}

	tmr_start(&ua->tmr_down, DOWN_POLL_MS, down_poll, ua);
}


void ua_shutdown(struct ua *ua, void (*doneh)(void *arg), void *arg)
{
	struct le *le;

	if (!ua)
		return;

	ua->answering = false;
	ua->downh = doneh;
	ua->down_arg = arg;
	ua->down_deadline = loop_now_ms() + DOWN_MAX_MS;

	le = list_head(&ua->calls);
	while (le) {
		struct cmrc *c = le->data;

		le = le->next;
		cmrc_fail(c, "stopped");
	}

	tmr_start(&ua->tmr_down, 0, down_poll, ua);
}
