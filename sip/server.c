/**
 * @file server.c  SIP stack set-up and the first look at every request
 *
 * One libre SIP stack with UDP and TCP on the same address (or on every
 * local address: listen.c).  Our request
 * listener is registered before any other of ours, so every request is
 * checked here (well-formed, Max-Forwards, option tags) before the
 * registrar or the B2BUA see it.
 */
#include <string.h>
#include <re.h>
#include "sip/sip_int.h"

#define ALLOW "INVITE, ACK, CANCEL, BYE, OPTIONS, PRACK, UPDATE, INFO, REGISTER"

enum { SHUTDOWN_POLL_MS = 20, SHUTDOWN_MAX_MS = 1200 };


bool sipsrv_digits(const struct pl *pl, size_t maxlen)
{
	size_t i;

	if (!pl || !pl->l || pl->l > maxlen)
		return false;

	for (i = 0; i < pl->l; i++) {
		if (pl->p[i] < '0' || pl->p[i] > '9')
			return false;
	}

	return true;
}


static bool advertising(const struct sipsrv *srv)
{
	return srv && sa_isset(&srv->conf.advertise, SA_ADDR);
}


/* addr's address with port's port. */
static void addr_port(struct sa *out, const struct sa *addr,
		      const struct sa *port)
{
	sa_cpy(out, addr);
	sa_set_port(out, sa_port(port));
}


void sipsrv_advertised(const struct sipsrv *srv, const struct sa *local,
		       struct sa *out)
{
	if (!local || !out)
		return;

	if (advertising(srv))
		addr_port(out, &srv->conf.advertise, local);
	/* Never the unspecified address: a socket bound to it (a caller's
	 * own, or the streamer's) is named by the first transport's. */
	else if (srv && !sa_isset(local, SA_ADDR) &&
		 sa_isset(&srv->primary, SA_ADDR) &&
		 sa_af(&srv->primary) == sa_af(local))
		addr_port(out, &srv->primary, local);
	else
		sa_cpy(out, local);
}


/* The host of the HTTP URLs when nothing better is known: the advertised
 * address, the listener's own, or for a listener on the unspecified
 * address the first SIP transport's (or this host's default source
 * address when the families differ). */
static void http_default(const struct sipsrv *srv, struct sa *host)
{
	const struct sa *hl = &srv->conf.http_laddr;

	if (advertising(srv))
		addr_port(host, &srv->conf.advertise, hl);
	else if (sa_isset(hl, SA_ADDR))
		sa_cpy(host, hl);
	else if (sa_af(&srv->primary) == sa_af(hl))
		addr_port(host, &srv->primary, hl);
	else if (!net_default_source_addr_get(sa_af(hl), host))
		sa_set_port(host, sa_port(hl));
	else
		(void)sa_set_str(host, sa_af(hl) == AF_INET6 ? "::1" :
				 "127.0.0.1", sa_port(hl));
}


int sipsrv_http_base(const struct sipsrv *srv, const struct sa *local,
		     char *buf, size_t sz)
{
	const struct sa *hl;
	struct sa host;
	int n;

	if (!srv || !buf || !sz)
		return EINVAL;

	hl = &srv->conf.http_laddr;

	/* No listener address known (unit tests): the base as given. */
	if (!sa_isset(hl, SA_PORT)) {
		n = re_snprintf(buf, sz, "%s", srv->conf.http_base);
		return n < 0 || (size_t)n >= sz - 1 ? ENAMETOOLONG : 0;
	}

	if (!advertising(srv) && !sa_isset(hl, SA_ADDR) && local &&
	    sa_isset(local, SA_ADDR) && sa_af(local) == sa_af(hl))
		addr_port(&host, local, hl);
	else
		http_default(srv, &host);

	/* %J brackets an IPv6 address: "http://[::1]:8080". */
	n = re_snprintf(buf, sz, "http://%J", &host);

	return n < 0 || (size_t)n >= sz - 1 ? ENAMETOOLONG : 0;
}


/*
 * libre's request.c prints "METHOD URI SIP/2.0", then "Via: SIP/2.0/TP
 * SENT-BY;branch=...;rport", and then calls the send handler with mb
 * positioned at its end.  The sent-by is replaced in place; when mb does
 * not look like that, nothing is touched and EPROTO says so.
 */
static int via_rewrite(struct mbuf *mb, const struct sa *sentby)
{
	static const char via[] = "Via: SIP/2.0/";
	const char *p = (const char *)mb->buf, *end = p + mb->end;
	const char *eol, *host, *hend;
	struct mbuf *nb;
	int err;

	eol = memchr(p, '\n', (size_t)(end - p));
	if (!eol || (size_t)(end - eol - 1) < sizeof(via) - 1 ||
	    memcmp(eol + 1, via, sizeof(via) - 1))
		return EPROTO;

	host = memchr(eol + sizeof(via), ' ', (size_t)(end - eol -
							sizeof(via)));
	if (!host)
		return EPROTO;
	++host;
	for (hend = host; hend < end && *hend != ';' && *hend != '\r';
	     hend++)
		;
	if (hend == host || hend == end || *hend != ';')
		return EPROTO;

	nb = mbuf_alloc(mb->end + 64);
	if (!nb)
		return ENOMEM;

	err  = mbuf_write_mem(nb, mb->buf, (size_t)(host - p));
	err |= mbuf_printf(nb, "%J", sentby);
	err |= mbuf_write_mem(nb, (const uint8_t *)hend,
			      (size_t)(end - hend));
	if (!err) {
		mb->pos = 0;
		mb->end = 0;
		err = mbuf_write_mem(mb, nb->buf, nb->end);
	}

	mem_deref(nb);

	return err;
}


int sipsrv_request_prep(const struct sipsrv *srv, const struct sa *src,
			struct mbuf *mb, struct sa *contact)
{
	struct sa adv;
	int err = 0;

	if (!srv || !src || !mb)
		return EINVAL;

	sipsrv_advertised(srv, src, &adv);

	if (advertising(srv))
		err = via_rewrite(mb, &adv);

	if (!err && contact)
		*contact = adv;

	return err;
}


static void adv_handler(const struct sa *local, struct sa *out, void *arg)
{
	sipsrv_advertised(arg, local, out);
}


static int via_handler(const struct sa *src, struct mbuf *mb, void *arg)
{
	return sipsrv_request_prep(arg, src, mb, NULL);
}


/* RFC 3261 8.2.2.3: tags in Require that we do not support give 420,
 * with those tags in Unsupported. */
static bool require_unsupported(struct sipsrv *srv, const struct sip_msg *msg)
{
	static const char *ours[] = { "100rel", "early-session", "timer" };
	char tags[256] = "";
	size_t n = 0;
	struct le *le;

	for (le = list_head(&msg->hdrl); le; le = le->next) {
		const struct sip_hdr *h = le->data;
		bool known = false;

		if (h->id != SIP_HDR_REQUIRE)
			continue;

		/* libre splits comma lists into one sip_hdr per value. */
		for (size_t i = 0; i < ARRAY_SIZE(ours); i++)
			known |= !pl_strcasecmp(&h->val, ours[i]);
		if (known)
			continue;

		n += re_snprintf(tags + n, sizeof(tags) - n, "%s%r",
				 n ? ", " : "", &h->val);
		if (n >= sizeof(tags) - 1)
			break;
	}

	if (!n)
		return false;

	(void)sip_treplyf(NULL, NULL, srv->sip, msg, false, 420,
			  "Bad Extension",
			  "Unsupported: %s\r\n"
			  "Content-Length: 0\r\n\r\n", tags);
	return true;
}


static void options_reply(struct sipsrv *srv, const struct sip_msg *msg)
{
	(void)sip_treplyf(NULL, NULL, srv->sip, msg, false, 200, "OK",
			  "Allow: " ALLOW "\r\n"
			  "Accept: application/sdp, multipart/mixed\r\n"
			  "Supported: 100rel, early-session, timer\r\n"
			  "Content-Length: 0\r\n\r\n");
}


static bool request_handler(const struct sip_msg *msg, void *arg)
{
	struct sipsrv *srv = arg;
	bool ack = !pl_strcmp(&msg->met, "ACK");
	const char *why;
	uint16_t scode;
	uint32_t clen;

	if (rawin_adopt(srv->rawin, msg))
		return true;

	/* A new call while the server is behind: 503 before any work. */
	if (!pl_isset(&msg->to.tag) && !pl_strcmp(&msg->met, "INVITE") &&
	    overload_shed(srv, msg))
		return true;

	scode = sipval_request(msg, &why);
	if (scode == 501) {
		/* RFC 3261 21.5.2: a method nobody defined */
		LOGI(SUB_SIP, "501 to %r from %J", &msg->met, &msg->src);
		(void)sip_replyf(srv->sip, msg, 501, "Not Implemented",
				 "Allow: " ALLOW "\r\n"
				 "Content-Length: 0\r\n\r\n");
		return true;
	}
	if (scode) {
		LOGI(SUB_SIP, "%u to %r from %J: %s", scode, &msg->met,
		     &msg->src, why);
		if (!ack)
			(void)sip_reply(srv->sip, msg, scode,
					scode == 400 ? why :
					sipval_reason(scode));
		return true;
	}

	/* RFC 3261 18.3: octets of a datagram after Content-Length are not
	 * part of the message (RFC 4475 3.1.1.8). */
	if (msg->tp == SIP_TRANSP_UDP && pl_isset(&msg->clen) &&
	    sipval_u32(&msg->clen, &clen) && clen < mbuf_get_left(msg->mb))
		msg->mb->end = msg->mb->pos + clen;

	/* In-dialog requests belong to a call, or to nobody. */
	if (pl_isset(&msg->to.tag)) {
		if (b2bua_request(srv, msg))
			return true;
		if (!ack)
			(void)sip_reply(srv->sip, msg, 481,
					"Call/Transaction Does Not Exist");
		return true;
	}

	if (!pl_strcmp(&msg->met, "CANCEL"))
		return false;        /* libre answers 481 */

	if (ack)
		return true;

	if (!pl_strcmp(&msg->met, "INVITE") ||
	    !pl_strcmp(&msg->met, "OPTIONS")) {

		if (!pl_strcmp(&msg->met, "INVITE") &&
		    pl_isset(&msg->maxfwd) && pl_u32(&msg->maxfwd) == 0) {
			(void)sip_reply(srv->sip, msg, 483, "Too Many Hops");
			return true;
		}
		if (require_unsupported(srv, msg))
			return true;
	}

	/* RFC 4475 3.3.15: no answer of ours could carry an SDP. */
	if (!pl_strcmp(&msg->met, "INVITE") && !sipval_accepts_sdp(msg)) {
		(void)sip_replyf(srv->sip, msg, 406, "Not Acceptable",
				 "Accept: application/sdp\r\n"
				 "Warning: 399 cmrlab \"Accept allows no "
				 "application/sdp\"\r\n"
				 "Content-Length: 0\r\n\r\n");
		return true;
	}

	if (!pl_strcmp(&msg->met, "REGISTER")) {
		registrar_handle(srv, msg);
		return true;
	}
	if (!pl_strcmp(&msg->met, "OPTIONS")) {
		options_reply(srv, msg);
		return true;
	}
	if (!pl_strcmp(&msg->met, "INVITE")) {
		if (srv->shutting_down) {
			(void)sip_reply(srv->sip, msg, 503,
					"Service Unavailable");
			return true;
		}
		return b2bua_request(srv, msg);
	}
	if (!pl_strcmp(&msg->met, "BYE")) {
		(void)sip_reply(srv->sip, msg, 481,
				"Call/Transaction Does Not Exist");
		return true;
	}

	(void)sip_replyf(srv->sip, msg, 405, "Method Not Allowed",
			 "Allow: " ALLOW "\r\n"
			 "Content-Length: 0\r\n\r\n");
	return true;
}


static bool response_handler(const struct sip_msg *msg, void *arg)
{
	return b2bua_response(arg, msg);
}


static void expire_handler(void *arg)
{
	struct sipsrv *srv = arg;
	unsigned n;

	n = table_bindings_expire(table_live(), loop_now_ms());
	if (n)
		LOGI(SUB_SIP, "registrar: %u binding(s) expired", n);

	tmr_start(&srv->tmr_expire, 1000, expire_handler, srv);
}


/*
 * serve --pcap: libre passes every SIP message it sends or receives, on
 * UDP and TCP alike, to this handler.  Each one is written as one UDP
 * datagram between the same addresses and ports, also when it travelled
 * over TCP: one SIP message per packet is what Wireshark and tshark decode
 * without reassembly, and the capture is there to show the SIP exchange,
 * not TCP segments.  The ports of a TCP packet are its connection's:
 * sipcap.c (srv->cap) corrects the destination libre gives a response.
 * Every message is counted for /metrics first (sipstat.c).
 */
static void trace_handler(bool tx, enum sip_transp tp, const struct sa *src,
			  const struct sa *dst, const uint8_t *pkt,
			  size_t len, void *arg)
{
	struct sipsrv *srv = arg;
	struct sa s = *src, d = *dst;

	/* Our own start-up probe (rawin.c) is no traffic. */
	if (!tx && rawin_is_probe(srv->rawin, pkt, len))
		return;

	sipstat_count(tx, pkt, len);

	if (srv->cap) {
		sipcap_addrs(srv->cap, tx, tp, &s, &d, pkt, len,
			     loop_now_ms());
		(void)pcapw_udp(&s, &d, pkt, len);
	}
	if (srv->conf.traceh)
		srv->conf.traceh(tx, &s, &d, pkt, len, srv->conf.trace_arg);
}


static void destructor(void *arg)
{
	struct sipsrv *srv = arg;

	srv->rawin = mem_deref(srv->rawin); /* its UDP helper first */
	tmr_cancel(&srv->tmr_expire);
	tmr_cancel(&srv->tmr_shutdown);
	b2bua_shutdown(srv);
	legset_flush(&srv->ls);
	mem_deref(srv->lsnr_req);
	mem_deref(srv->lsnr_rsp);
	sip_close(srv->sip, true);
	/* The stack may outlive us; the trace handler's srv does not. */
	sip_set_trace_handler(srv->sip, NULL);
	mem_deref(srv->sip);
	mem_deref(srv->cap);
	mem_deref(srv->dnsc);
	mem_deref(srv->ls.legs);
	mem_deref(srv->auth);
}


static int dns_setup(struct dnsc **dnscp)
{
	struct sa nsv[4];
	uint32_t nsn = ARRAY_SIZE(nsv);
	char domain[64];
	int err;

	err = dns_srv_get(domain, sizeof(domain), nsv, &nsn);
	if (err || !nsn) {
		nsn = 1;
		sa_set_str(&nsv[0], "127.0.0.1", 53);
	}

	return dnsc_alloc(dnscp, NULL, nsv, nsn);
}


/*
 * What names us before any request says where it arrived: the HTTP base
 * of the URLs (conf.http_base, never the unspecified address), and the
 * address the streamer's SDP names (the advertised one, or for RTP
 * sockets on the unspecified address the first transport's).
 */
static void names_setup(struct sipsrv *srv)
{
	struct sa a;

	if (sa_isset(&srv->conf.http_laddr, SA_PORT) &&
	    sipsrv_http_base(srv, NULL, srv->conf.http_base,
			     sizeof(srv->conf.http_base)))
		LOGW(SUB_SIP, "HTTP base URL too long");

	if (srv->conf.streamer) {
		sipsrv_advertised(srv, &srv->primary, &a);
		if (advertising(srv) ||
		    !sa_isset(&srv->conf.laddr, SA_ADDR))
			streamer_announce_set(srv->conf.streamer, &a);
	}

	if (advertising(srv))
		LOGI(SUB_SIP, "advertising %j in Via, Contact, SDP and URLs",
		     &srv->conf.advertise);
}


int sipsrv_alloc(struct sipsrv **sp, const struct sipsrv_conf *conf)
{
	struct sipsrv *srv;
	int err;

	if (!sp || !conf)
		return EINVAL;

	srv = mem_zalloc(sizeof(*srv), destructor);
	if (!srv)
		return ENOMEM;

	srv->conf = *conf;
	if (!srv->conf.max_calls)
		srv->conf.max_calls = 1000;
	tmr_init(&srv->tmr_expire);
	tmr_init(&srv->tmr_shutdown);

	srv->ls.advh = adv_handler;
	srv->ls.viah = via_handler;
	srv->ls.arg = srv;
	srv->ls.max_se = 7200;
	err = hash_alloc(&srv->ls.legs, 4096);
	if (err)
		goto out;

	err = sipauth_alloc(&srv->auth, 0, conf->digest);
	if (err)
		goto out;

	err = dns_setup(&srv->dnsc);
	if (err) {
		LOGE(SUB_SIP, "DNS client: %m", err);
		goto out;
	}

	if (pcapw_active()) {
		err = sipcap_alloc(&srv->cap);
		if (err)
			goto out;
	}

	err = sip_alloc(&srv->sip, srv->dnsc, 4096, 4096, 1024,
			"cmrlab/" CMRLAB_VERSION, NULL, srv);
	if (err)
		goto out;
	srv->ls.sip = srv->sip;

	/* Always: /metrics counts what passes here. */
	sip_set_trace_handler(srv->sip, trace_handler);

	err = sipsrv_listen(srv);
	if (err)
		goto out;

	names_setup(srv);

	err  = sip_listen(&srv->lsnr_req, srv->sip, true, request_handler,
			  srv);
	err |= sip_listen(&srv->lsnr_rsp, srv->sip, false, response_handler,
			  srv);
	if (err)
		goto out;

	/* After the listener: the probe it sends comes back to it. */
	err = rawin_alloc(&srv->rawin, &srv->conf.laddr);
	if (err)
		goto out;

	tmr_start(&srv->tmr_expire, 1000, expire_handler, srv);

 out:
	if (err)
		mem_deref(srv);
	else
		*sp = srv;

	return err;
}


const struct sa *sipsrv_laddr(const struct sipsrv *s)
{
	return s ? &s->conf.laddr : NULL;
}


const struct sa *sipsrv_primary(const struct sipsrv *s)
{
	return s ? &s->primary : NULL;
}



static void shutdown_poll(void *arg)
{
	struct sipsrv *srv = arg;

	if (b2bua_idle(srv) || loop_now_ms() >= srv->deadline) {
		sipsrv_done_h *h = srv->doneh;

		srv->doneh = NULL;
		if (h)
			h(srv->done_arg);
		return;
	}

	tmr_start(&srv->tmr_shutdown, SHUTDOWN_POLL_MS, shutdown_poll, srv);
}


void sipsrv_shutdown(struct sipsrv *s, sipsrv_done_h *doneh, void *arg)
{
	if (!s)
		return;

	s->shutting_down = true;
	s->doneh = doneh;
	s->done_arg = arg;

	b2bua_shutdown(s);

	tmr_cancel(&s->tmr_expire);
	s->deadline = loop_now_ms() + SHUTDOWN_MAX_MS;

	tmr_start(&s->tmr_shutdown, 0, shutdown_poll, s);
}
