/**
 * @file sipcap.c  The addresses under which serve --pcap records a SIP
 *                 message
 *
 * libre hands every SIP message it sends or receives to one trace handler
 * (server.c), with a source and a destination address.  For a message
 * received, and for one sent on UDP, both are the real ones: libre gives
 * a message received on TCP the peer and local address of its tcp_conn.
 * For a response sent on TCP (or TLS) the destination is not: libre sends
 * it on the connection the request came in on (RFC 3261 section 18.2.2),
 * but the address it passes along is what sip_reply_addr() makes of the
 * top Via, the peer's IP with the port of its sent-by.  That is the
 * client's listening port, or 5060 when the Via names none, and not the
 * ephemeral port of the connection.  The source, the connection's local
 * address, is right.
 *
 * The trace handler does not say which connection a message travels on,
 * so this file remembers it per server transaction.  For each request
 * received on TCP it keeps the transaction's key (top Via branch and
 * CSeq method, RFC 3261 section 17.2.3), the destination libre will give
 * its responses, and the connection's real addresses.  A response sent on
 * TCP whose key, destination and source match is recorded as sent to the
 * connection's peer.  Everything else keeps libre's addresses: requests
 * we send (their destination is the connection's peer already), and a
 * response that libre sends on a new connection because the request's
 * has gone (its source is another local address, so it does not match).
 *
 * An entry lives for an hour after its request, as an INVITE may ring
 * that long, or for 64*T1 after its first final response, which covers
 * the retransmissions of a 2xx that go on over TCP too (RFC 3261 section
 * 13.3.1.4).  Both lists are in the order of expiry, so the expired
 * entries are at their heads.  At most SIPCAP_MAX entries are kept; the
 * oldest finished one (else the oldest open one) makes room for a new
 * one, and any later response of it is recorded with libre's addresses.
 */
#include <string.h>
#include <re.h>
#include "sip/sip_int.h"

enum { SIPCAP_HASH = 256 };

struct sipcap {
	struct hash *ht;                /* struct captx by branch */
	struct list open;               /* no final response yet */
	struct list done;               /* final response sent */
	uint32_t n;
};

/* One server transaction whose request came in on TCP or TLS. */
struct captx {
	struct le he;
	struct le le;
	struct sipcap *sc;              /* not a reference: sc owns us */
	char *branch;
	char *met;
	struct sa reply;                /* where libre says it replies */
	struct sa local;                /* the connection's addresses */
	struct sa peer;
	uint64_t expires;
	bool done;
};


static void captx_destructor(void *arg)
{
	struct captx *t = arg;

	if (t->sc) {
		hash_unlink(&t->he);
		list_unlink(&t->le);
		--t->sc->n;
	}
	mem_deref(t->branch);
	mem_deref(t->met);
}


static void destructor(void *arg)
{
	struct sipcap *sc = arg;

	/* The entries' destructors unlink them from the lists. */
	list_flush(&sc->open);
	list_flush(&sc->done);
	mem_deref(sc->ht);
}


int sipcap_alloc(struct sipcap **scp)
{
	struct sipcap *sc;
	int err;

	if (!scp)
		return EINVAL;

	sc = mem_zalloc(sizeof(*sc), destructor);
	if (!sc)
		return ENOMEM;

	err = hash_alloc(&sc->ht, SIPCAP_HASH);
	if (err)
		mem_deref(sc);
	else
		*scp = sc;

	return err;
}


static bool reliable(enum sip_transp tp)
{
	return tp == SIP_TRANSP_TCP || tp == SIP_TRANSP_TLS;
}


static bool is_response(const uint8_t *pkt, size_t len)
{
	return len >= 8 && !memcmp(pkt, "SIP/2.0 ", 8);
}


/* The message in pkt, decoded from a copy (libre keeps a reference to
 * the buffer it decodes). */
static int decode(struct sip_msg **msgp, const uint8_t *pkt, size_t len)
{
	struct mbuf *mb;
	int err;

	mb = mbuf_alloc(len);
	if (!mb)
		return ENOMEM;

	err = mbuf_write_mem(mb, pkt, len);
	if (!err) {
		mb->pos = 0;
		err = sip_msg_decode(msgp, mb);
	}

	mem_deref(mb);

	return err;
}


static uint32_t key_hash(const struct sip_msg *msg)
{
	return hash_joaat((const uint8_t *)msg->via.branch.p,
			  msg->via.branch.l);
}


static bool key_cmp(struct le *le, void *arg)
{
	const struct captx *t = le->data;
	const struct sip_msg *msg = arg;

	return !pl_strcmp(&msg->via.branch, t->branch) &&
		!pl_strcmp(&msg->cseq.met, t->met);
}


static struct captx *lookup(struct sipcap *sc, const struct sip_msg *msg)
{
	struct le *le;

	le = hash_lookup(sc->ht, key_hash(msg), key_cmp, (void *)msg);

	return le ? le->data : NULL;
}


static void purge(struct list *l, uint64_t now)
{
	struct le *le;

	while ((le = list_head(l)) != NULL &&
	       ((struct captx *)le->data)->expires <= now)
		mem_deref(le->data);
}


/* A request received on a connection: remember the connection for its
 * transaction's responses. */
static void request_seen(struct sipcap *sc, enum sip_transp tp,
			 const struct sa *src, const struct sa *dst,
			 const uint8_t *pkt, size_t len, uint64_t now)
{
	struct sip_msg *msg = NULL;
	struct captx *t;
	struct le *le;

	/* An ACK gets no response. */
	if (decode(&msg, pkt, len) || !pl_isset(&msg->via.branch) ||
	    !pl_isset(&msg->cseq.met) || !pl_strcmp(&msg->met, "ACK"))
		goto out;

	t = lookup(sc, msg);
	if (!t) {
		t = mem_zalloc(sizeof(*t), captx_destructor);
		if (!t)
			goto out;

		if (pl_strdup(&t->branch, &msg->via.branch) ||
		    pl_strdup(&t->met, &msg->cseq.met)) {
			mem_deref(t);
			goto out;
		}

		/* Full: the oldest finished transaction makes room, or
		 * else the oldest open one. */
		if (sc->n >= SIPCAP_MAX) {
			le = list_head(&sc->done);
			if (!le)
				le = list_head(&sc->open);
			mem_deref(le->data);
		}

		t->sc = sc;
		++sc->n;
		t->expires = now + SIPCAP_OPEN_MS;
		hash_append(sc->ht, key_hash(msg), &t->he, t);
		list_append(&sc->open, &t->le, t);
	}

	/* A retransmission may come on another connection: the latest
	 * one is where the responses go. */
	msg->src = *src;
	msg->dst = *dst;
	msg->tp = tp;
	sip_reply_addr(&t->reply, msg, true);
	t->peer = *src;
	t->local = *dst;

 out:
	mem_deref(msg);
}


/* A response sent: the connection's peer, when its request came on one
 * that sent from src to the address libre gave as dst. */
static void response_sent(struct sipcap *sc, const struct sa *src,
			  struct sa *dst, const uint8_t *pkt, size_t len,
			  uint64_t now)
{
	struct sip_msg *msg = NULL;
	struct captx *t;

	if (decode(&msg, pkt, len))
		goto out;

	t = lookup(sc, msg);
	if (!t || !sa_cmp(&t->reply, dst, SA_ALL) ||
	    !sa_cmp(&t->local, src, SA_ALL)) {
		LOGD(SUB_SIP, "--pcap: %u %r to %J: no connection known, "
		     "recorded to the Via address", msg->scode,
		     &msg->cseq.met, dst);
		goto out;
	}

	*dst = t->peer;

	if (msg->scode >= 200 && !t->done) {
		t->done = true;
		t->expires = now + SIPCAP_DONE_MS;
		list_unlink(&t->le);
		list_append(&sc->done, &t->le, t);
	}

 out:
	mem_deref(msg);
}


void sipcap_addrs(struct sipcap *sc, bool tx, enum sip_transp tp,
		  struct sa *src, struct sa *dst, const uint8_t *pkt,
		  size_t len, uint64_t now)
{
	if (!sc || !src || !dst || !pkt)
		return;

	purge(&sc->done, now);
	purge(&sc->open, now);

	if (!reliable(tp))
		return;

	if (!tx && !is_response(pkt, len))
		request_seen(sc, tp, src, dst, pkt, len, now);
	else if (tx && is_response(pkt, len))
		response_sent(sc, src, dst, pkt, len, now);
}


uint32_t sipcap_count(const struct sipcap *sc)
{
	return sc ? sc->n : 0;
}
