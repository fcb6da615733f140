/**
 * @file rawin.c  A look at every SIP datagram before libre decodes it
 *
 * libre's sip_msg_decode() drops some requests without a word, and some
 * of them the torture tests of RFC 4475 want answered:
 *
 *  - a SIP-Version other than SIP/2.0 (3.1.2.16): libre takes the line
 *    for a status line, fails, and drops it; RFC 3261 8.2.6 wants 505;
 *  - a Request-Line with extra or embedded spaces (3.1.2.8 to 3.1.2.10)
 *    and header values libre cannot decode (3.3.4): 400;
 *  - a top Via without a branch parameter: libre refuses the whole
 *    message, so an RFC 2543 request (3.4) or one that only a proxy of
 *    that age touched (3.1.1.7) is never processed.
 *
 * A UDP helper on the SIP socket sees each datagram first.  When libre
 * decodes it, the helper does nothing more.  Otherwise it answers the
 * request statelessly with 505, 416 or 400, built from the headers as
 * written (RFC 3261 8.2.6.2), or, for the missing branch, adds one and
 * lets libre have the datagram: the branch is made from the RFC 2543
 * transaction identity (Request-URI, Call-ID, CSeq number, top Via; RFC
 * 3261 17.2.3), without the magic cookie, so that retransmissions, the
 * ACK and a CANCEL of that request get the same one.  The response then
 * carries that branch in its top Via, which an RFC 2543 client ignores.
 *
 * libre gives no handle on its SIP UDP socket except msg->sock of a
 * received request, so at start-up we send one OPTIONS to ourselves from
 * a socket of our own; the request listener hands it to rawin_adopt(),
 * which registers the helper on that socket and swallows the probe.  Any
 * UDP request that comes first does the same.
 *
 * Over TCP there is no such hook (libre reads its connections itself):
 * a request libre cannot decode there closes the connection.
 */
#include <string.h>
#include <strings.h>
#include <re.h>
#include "sip/sip_int.h"

enum {
	PROBE_INTERVAL_MS = 100,
	PROBE_TRIES = 30,
	HELPER_LAYER = 0,
};

struct rawin {
	struct udp_sock *us;       /* libre's SIP UDP socket, once known */
	struct udp_helper *uh;
	struct udp_sock *probe;
	struct sa dst;             /* where the probe goes */
	struct tmr tmr;
	unsigned tries;
	char callid[48];
};


static bool recv_handler(struct sa *src, struct mbuf *mb, void *arg)
{
	struct rawin *r = arg;
	struct mbuf *out = NULL;
	struct sa laddr, dst;
	const char *why;
	uint16_t scode;

	switch (rawin_check(mb, &scode, &why)) {

	case RAWIN_PASS:
		return false;

	case RAWIN_REWRITTEN:
		LOGD(SUB_SIP, "RFC 2543 request from %J: branch added", src);
		return false;

	case RAWIN_DROP:
		LOGD(SUB_SIP, "undecodable datagram from %J dropped", src);
		return true;

	case RAWIN_ANSWER:
		break;
	}

	LOGI(SUB_SIP, "%u to an undecodable request from %J: %s", scode, src,
	     why);

	if (rawin_answer(&out, mb, scode, scode == 400 ? why :
			 sipval_reason(scode), rand_u64()))
		return true;

	rawin_reply_addr(mb, src, &dst);

	/* libre traces what it decodes and sends; these two it never sees. */
	sipstat_count(false, mbuf_buf(mb), mbuf_get_left(mb));
	sipstat_count(true, mbuf_buf(out), mbuf_get_left(out));
	if (pcapw_active() && !udp_local_get(r->us, &laddr)) {
		(void)pcapw_udp(src, &laddr, mbuf_buf(mb), mbuf_get_left(mb));
		(void)pcapw_udp(&laddr, &dst, mbuf_buf(out),
				mbuf_get_left(out));
	}

	(void)udp_send(r->us, &dst, out);
	mem_deref(out);

	return true;
}


static void probe_recv(const struct sa *src, struct mbuf *mb, void *arg)
{
	(void)src;
	(void)mb;
	(void)arg;
}


static void probe_send(void *arg)
{
	struct rawin *r = arg;
	struct mbuf *mb;
	struct sa local;

	if (r->uh || !r->probe)
		return;

	if (r->tries++ >= PROBE_TRIES) {
		LOGW(SUB_SIP, "no probe came back: RFC 2543 requests and "
		     "bad SIP versions get no answer over UDP");
		r->probe = mem_deref(r->probe);
		return;
	}

	mb = mbuf_alloc(512);
	if (mb && !udp_local_get(r->probe, &local) &&
	    !mbuf_printf(mb, "OPTIONS sip:%J SIP/2.0\r\n"
			 "Via: SIP/2.0/UDP %J;branch=z9hG4bK%s.%u\r\n"
			 "From: <sip:rawin@%J>;tag=%s\r\n"
			 "To: <sip:%J>\r\n"
			 "Call-ID: %s\r\n"
			 "CSeq: %u OPTIONS\r\n"
			 "Max-Forwards: 0\r\n"
			 "Content-Length: 0\r\n\r\n",
			 &r->dst, &local, r->callid, r->tries, &local,
			 r->callid, &r->dst, r->callid, r->tries)) {
		mb->pos = 0;
		(void)udp_send(r->probe, &r->dst, mb);
	}
	mem_deref(mb);

	tmr_start(&r->tmr, PROBE_INTERVAL_MS, probe_send, r);
}


static void destructor(void *arg)
{
	struct rawin *r = arg;

	tmr_cancel(&r->tmr);
	/* The helper goes before the socket that lists it. */
	mem_deref(r->uh);
	mem_deref(r->us);
	mem_deref(r->probe);
}


int rawin_alloc(struct rawin **rp, const struct sa *laddr)
{
	struct rawin *r;
	struct sa local;
	int err;

	if (!rp || !laddr)
		return EINVAL;

	r = mem_zalloc(sizeof(*r), destructor);
	if (!r)
		return ENOMEM;

	tmr_init(&r->tmr);
	(void)re_snprintf(r->callid, sizeof(r->callid), "cmrlab-rawin-%016llx",
			  rand_u64());

	/* To a wildcard address, the probe goes to loopback. */
	r->dst = *laddr;
	if (!sa_isset(&r->dst, SA_ADDR)) {
		(void)sa_set_str(&r->dst, sa_af(laddr) == AF_INET6 ?
				 "::1" : "127.0.0.1", sa_port(laddr));
	}

	(void)sa_set_str(&local, sa_af(&r->dst) == AF_INET6 ? "::" :
			 "0.0.0.0", 0);

	err = udp_listen(&r->probe, &local, probe_recv, r);
	if (err) {
		LOGW(SUB_SIP, "rawin: no probe socket: %m", err);
		err = 0;
	}
	else {
		probe_send(r);
	}

	*rp = r;

	return err;
}


/*
 * Called with every request before anything else looks at it: the first
 * one over UDP tells us libre's socket.  True for our probe, which is
 * then handled.
 */
bool rawin_adopt(struct rawin *r, const struct sip_msg *msg)
{
	int err;

	if (!r || !msg || msg->tp != SIP_TRANSP_UDP)
		return false;

	if (!r->uh && msg->sock) {
		r->us = mem_ref(msg->sock);
		err = udp_register_helper(&r->uh, r->us, HELPER_LAYER, NULL,
					  recv_handler, r);
		if (err) {
			LOGW(SUB_SIP, "rawin: no UDP helper: %m", err);
			r->us = mem_deref(r->us);
		}
		tmr_cancel(&r->tmr);
		r->probe = mem_deref(r->probe);
	}

	return !pl_strcmp(&msg->callid, r->callid);
}


/* Whether a received packet is our probe, which no capture shows. */
bool rawin_is_probe(const struct rawin *r, const uint8_t *pkt, size_t len)
{
	if (!r || !pkt)
		return false;

	return memmem(pkt, len, r->callid, strlen(r->callid)) != NULL;
}
