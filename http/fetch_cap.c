/**
 * @file fetch_cap.c  The HTTP client's capture: its TCP connection as
 *                    packets in the capture file
 *
 * The socket hands over bytes, never segments, and libre's TCP client
 * shows none of the handshake; so the packets are made up here from what
 * did pass: a handshake once the connection is up, the bytes each way cut
 * into segments that the other side acknowledges one by one, and a close
 * that says who ended the exchange.  The sequence numbers are counted as
 * TCP counts them, so that a reader of the file follows the stream as if
 * it had been taken from the wire.  Nothing here knows HTTP: fetch.c says
 * when the connection came up, what passed and how it ended.
 */
#include <re.h>
#include "core/core.h"
#include "http/http_int.h"

enum {
	SEG_MAX = 1400,    /* the largest captured segment */
};


/* One segment, client to server (out) or back; SYN and FIN count one in
 * the sequence space, as in TCP. */
static void cap_seg(struct fetch_cap *c, bool out, uint8_t flags,
		    const uint8_t *p, size_t n)
{
	uint32_t *seq = out ? &c->cseq : &c->sseq;
	uint32_t ack = (flags & PCAPW_ACK) ? (out ? c->sseq : c->cseq) : 0;

	(void)pcapw_tcp(out ? &c->local : &c->peer, out ? &c->peer : &c->local,
			*seq, ack, flags, p, n);

	*seq += (uint32_t)n + ((flags & (PCAPW_SYN | PCAPW_FIN)) ? 1 : 0);
}


/* Bytes one way, cut into segments that the other side acknowledges one
 * by one. */
void fetch_cap_data(struct fetch_cap *c, bool out, const uint8_t *p,
		    size_t n)
{
	if (!c->written)
		return;

	while (n) {
		size_t k = n < SEG_MAX ? n : SEG_MAX;

		cap_seg(c, out, PCAPW_ACK | (k == n ? PCAPW_PSH : 0), p, k);
		cap_seg(c, !out, PCAPW_ACK, NULL, 0);
		p += k;
		n -= k;
	}
}


void fetch_cap_start(struct fetch_cap *c, const struct tcp_conn *tc)
{
	if (!c->on || !pcapw_active())
		return;

	if (tcp_conn_local_get(tc, &c->local) ||
	    tcp_conn_peer_get(tc, &c->peer)) {
		LOGD(SUB_HTTP, "fetch: no addresses to capture with");
		return;
	}

	c->cseq = rand_u32();
	c->sseq = rand_u32();
	c->written = true;

	cap_seg(c, true, PCAPW_SYN, NULL, 0);
	cap_seg(c, false, PCAPW_SYN | PCAPW_ACK, NULL, 0);
	cap_seg(c, true, PCAPW_ACK, NULL, 0);
}


void fetch_cap_end(struct fetch_cap *c, enum fetch_cap_end how)
{
	bool first_out = how == CAP_CLIENT_FIN;

	if (!c->written)
		return;
	c->written = false;

	if (how == CAP_RESET) {
		cap_seg(c, true, PCAPW_RST | PCAPW_ACK, NULL, 0);
		return;
	}

	cap_seg(c, first_out, PCAPW_FIN | PCAPW_ACK, NULL, 0);
	cap_seg(c, !first_out, PCAPW_FIN | PCAPW_ACK, NULL, 0);
	cap_seg(c, first_out, PCAPW_ACK, NULL, 0);
}
