/**
 * @file registrar.c  REGISTER: bindings of subscribers' contacts (RFC 3261
 *                    section 10.3)
 *
 * registrar_apply() is the whole decision, free of sockets, so that the
 * unit tests can drive it with decoded messages and a fake clock.
 */
#include <string.h>
#include <re.h>
#include "sip/sip_int.h"

enum { MAX_CONTACTS = 16 };

struct contact_in {
	struct pl uri;
	uint32_t expires;
	bool star;
};

struct collect {
	struct contact_in v[MAX_CONTACTS];
	unsigned n;
	uint32_t hdr_expires;
	bool bad;
	bool too_many;
};


/* delta-seconds (RFC 3261 section 25) into *secs.  Any number of digits
 * is valid; a value above 2^32-1 is taken as 2^32-1, as section 25 says
 * for delta-seconds, so that it is shortened to REG_EXPIRES_MAX like any
 * other long interval instead of wrapping to a short one or to 0, which
 * would remove the binding. */
static int delta_decode(const struct pl *pl, uint32_t *secs)
{
	uint64_t v = 0;
	size_t i;

	if (!pl || !pl->l)
		return EINVAL;

	for (i = 0; i < pl->l; i++) {
		if (pl->p[i] < '0' || pl->p[i] > '9')
			return EINVAL;

		v = v * 10 + (uint64_t)(pl->p[i] - '0');
		if (v > UINT32_MAX)
			v = UINT32_MAX;
	}

	*secs = (uint32_t)v;

	return 0;
}


static bool contact_handler(const struct sip_hdr *hdr,
			    const struct sip_msg *msg, void *arg)
{
	struct collect *c = arg;
	struct contact_in *ci;
	struct sip_addr addr;
	struct pl exp;
	(void)msg;

	if (c->n >= MAX_CONTACTS) {
		c->too_many = true;
		return true;
	}

	ci = &c->v[c->n];
	memset(ci, 0, sizeof(*ci));

	if (!pl_strcmp(&hdr->val, "*")) {
		ci->star = true;
		ci->expires = c->hdr_expires;
		++c->n;
		return false;
	}

	if (sip_addr_decode(&addr, &hdr->val) ||
	    (pl_strcasecmp(&addr.uri.scheme, "sip") &&
	     pl_strcasecmp(&addr.uri.scheme, "sips")) ||
	    !pl_isset(&addr.uri.host)) {
		c->bad = true;
		return true;
	}

	ci->uri = addr.auri;
	ci->expires = c->hdr_expires;

	if (!msg_param_decode(&addr.params, "expires", &exp) &&
	    delta_decode(&exp, &ci->expires)) {
		c->bad = true;
		return true;
	}

	++c->n;

	return false;
}


static void result(struct reg_result *res, uint16_t scode,
		   const char *reason)
{
	res->scode = scode;
	res->reason = reason;
}


int registrar_apply(struct table *t, const struct sip_msg *msg,
		    uint64_t now, struct reg_result *res)
{
	struct subscriber *s;
	struct collect c;
	char *callid = NULL;
	unsigned i;
	int err = 0;

	if (!t || !msg || !res)
		return EINVAL;

	memset(res, 0, sizeof(*res));
	memset(&c, 0, sizeof(c));

	s = table_subscriber_pl(t, &msg->to.uri.user);
	if (!s) {
		result(res, 404, "Not Found");
		return 0;
	}

	c.hdr_expires = REG_EXPIRES_DEFAULT;
	if (pl_isset(&msg->expires) &&
	    delta_decode(&msg->expires, &c.hdr_expires)) {
		result(res, 400, "Bad Expires");
		return 0;
	}

	(void)sip_msg_hdr_apply(msg, true, SIP_HDR_CONTACT, contact_handler,
				&c);
	if (c.bad) {
		result(res, 400, "Bad Contact");
		return 0;
	}
	if (c.too_many) {
		result(res, 403, "Too Many Contacts");
		return 0;
	}

	/* No Contact: a query for the current bindings. */
	if (!c.n) {
		result(res, 200, "OK");
		return 0;
	}

	for (i = 0; i < c.n; i++) {
		if (c.v[i].star && (c.n > 1 || c.v[i].expires != 0)) {
			result(res, 400, "Bad Wildcard Contact");
			return 0;
		}
		if (c.v[i].expires && c.v[i].expires < REG_EXPIRES_MIN) {
			result(res, 423, "Interval Too Brief");
			re_snprintf(res->extra, sizeof(res->extra),
				    "Min-Expires: %u\r\n", REG_EXPIRES_MIN);
			return 0;
		}
		if (c.v[i].expires > REG_EXPIRES_MAX)
			c.v[i].expires = REG_EXPIRES_MAX;
	}

	/* RFC 3261 10.3 step 7: an older or repeated CSeq in the same
	 * Call-ID must not change a binding; the request fails whole.  The
	 * binding is the one the contact is equivalent to (section 19.1.4),
	 * which subscriber_binding_set() below will refresh or remove. */
	for (i = 0; i < c.n && !c.v[0].star; i++) {
		const struct binding *b;

		b = subscriber_binding_find(s, &c.v[i].uri);
		if (b && !pl_strcmp(&msg->callid, b->callid) &&
		    msg->cseq.num <= b->cseq) {
			result(res, 500, "Stale CSeq");
			return 0;
		}
	}

	if (c.v[0].star) {
		(void)subscriber_binding_remove_all(s);
		result(res, 200, "OK");
		return 0;
	}

	err = pl_strdup(&callid, &msg->callid);
	if (err)
		return err;

	for (i = 0; i < c.n; i++) {
		char *uri = NULL;

		err = pl_strdup(&uri, &c.v[i].uri);
		if (err)
			break;

		err = subscriber_binding_set(s, uri, callid, msg->cseq.num,
					     c.v[i].expires, now);
		mem_deref(uri);
		if (err == ENOSPC) {
			err = 0;
			result(res, 403, "Too Many Bindings");
			goto out;
		}
		if (err)
			break;
	}

	if (!err)
		result(res, 200, "OK");

 out:
	mem_deref(callid);

	return err;
}


int registrar_contacts_print(struct re_printf *pf,
			     const struct reg_view *v)
{
	const struct subscriber *s = v ? v->s : NULL;
	uint64_t now = v ? v->now : 0;
	int err = 0;

	for (unsigned i = 0; i < subscriber_binding_count(s); i++) {
		const struct binding *b = subscriber_binding(s, i);
		uint64_t left = b->expires > now ? b->expires - now : 0;

		err |= re_hprintf(pf, "Contact: <%s>;expires=%llu\r\n",
				  b->uri,
				  (unsigned long long)((left + 999) / 1000));
	}

	return err;
}


void registrar_handle(struct sipsrv *srv, const struct sip_msg *msg)
{
	struct table *t = table_live();
	struct subscriber *s;
	struct reg_result res;
	struct reg_view view;
	uint64_t now = loop_now_ms();
	bool stale;
	int err;

	/* A subscriber with a password proves it first. */
	s = table_subscriber_pl(t, &msg->to.uri.user);
	if (s && subscriber_password(s) &&
	    (err = sipauth_check(srv->auth, msg, subscriber_id(s),
				 subscriber_password(s), false, &stale))) {
		LOGI(SUB_SIP, "registrar: %r from %J: %s",
		     &msg->to.auri, &msg->src, err == EBADMSG ?
		     "400, digest uri is not the Request-URI" :
		     "401 challenge");
		sipauth_reply(srv, msg, false, err, stale);
		return;
	}

	err = registrar_apply(t, msg, now, &res);
	if (err) {
		LOGW(SUB_SIP, "registrar: %r: %m", &msg->to.auri, err);
		(void)sip_reply(srv->sip, msg, 500, "Server Internal Error");
		return;
	}

	s = res.scode == 200 ? table_subscriber_pl(t, &msg->to.uri.user) :
		NULL;
	view.s = s;
	view.now = now;

	LOGI(SUB_SIP, "registrar: %r from %J: %u %s", &msg->to.auri,
	     &msg->src, res.scode, res.reason);

	(void)sip_treplyf(NULL, NULL, srv->sip, msg, false, res.scode,
			  res.reason,
			  "%H"
			  "%s"
			  "Content-Length: 0\r\n\r\n",
			  registrar_contacts_print, &view,
			  res.extra);
}
