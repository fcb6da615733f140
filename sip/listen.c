/**
 * @file listen.c  SIP transports: on one address, or on every local one
 *
 * libre 1.1.0 cannot listen on the unspecified address: sip_transp_add()
 * refuses 0.0.0.0 and :: (EINVAL: it requires sa_isset(laddr, SA_ADDR)).
 * It would not help if it could: a UDP message's msg->dst is the
 * transport's bound address (transp.c, udp_recv_handler), so a wildcard
 * socket would report 0.0.0.0 as the address every request arrived on,
 * and the Via of every request we send is that bound address too
 * (request.c prints sip_transp_laddr() into it).  IP_PKTINFO would give
 * the true destination, but libre reads UDP with recvfrom() and offers no
 * way to see ancillary data.
 *
 * So "--sip 0.0.0.0:PORT" (or "[::]:PORT") binds one UDP and one TCP
 * transport per local address of that family, on the same port.  Every
 * socket then has a concrete address: msg->dst of a request is exactly
 * the address it arrived on (UDP: its transport's address; TCP: the
 * accepted connection's, from getsockname), and a response leaves from
 * the socket its request came in on (sip_treplyf uses msg->sock), so
 * the client sees the answer come from the address it sent to.
 *
 * What remains: libre picks the transport of an outgoing *request* by
 * family alone (transp.c, transp_find ignores the destination): every
 * request leaves from the first transport of its family and names that
 * address in Via (and the B2BUA's send handler gets it as src for
 * Contact).  That address is therefore chosen with care: the advertised
 * address when it is one of ours, else the address of the interface
 * that holds the default route (it reaches every destination; a socket
 * bound to 127.0.0.1 cannot send anywhere else), else the first
 * non-loopback address; loopback comes last.  Via and Contact are then
 * the real source of the packet, never the unspecified address, but for
 * a peer on loopback they name the default-route address, not
 * 127.0.0.1.  Addresses that appear after the start (DHCP, hot-plug) are
 * not listened on; IPv6 link-local addresses are left out (they need a
 * zone, which SIP and SDP cannot carry).
 *
 * The advertised address is tried as well: on Linux every 127.0.0.0/8
 * address is local without being any interface's, and a wildcard socket
 * would receive on it.  When it is not local (a NAT's public address)
 * the bind fails with EADDRNOTAVAIL and is skipped.
 */
#include <string.h>
#include <re.h>
#include "sip/sip_int.h"

enum { LISTEN_TRIES = 8 };    /* ports tried when the kernel picks */


static bool contains(const struct sa *v, unsigned n, const struct sa *a)
{
	for (unsigned i = 0; i < n; i++) {
		if (sa_cmp(&v[i], a, SA_ADDR))
			return true;
	}

	return false;
}


static void add(struct sa *out, unsigned *n, unsigned max,
		const struct sa *a, int af)
{
	if (*n >= max || !a || sa_af(a) != af || !sa_isset(a, SA_ADDR) ||
	    (af == AF_INET6 && sa_is_linklocal(a)) || contains(out, *n, a))
		return;

	sa_cpy(&out[*n], a);
	sa_set_port(&out[*n], 0);
	++*n;
}


unsigned sipsrv_listen_order(struct sa *out, unsigned max,
			     const struct sa *cand, unsigned ncand, int af,
			     const struct sa *adv, const struct sa *primary)
{
	unsigned n = 0, i;

	if (!out || (!cand && ncand))
		return 0;

	add(out, &n, max, adv, af);
	if (primary && contains(cand, ncand, primary))
		add(out, &n, max, primary, af);

	for (i = 0; i < ncand; i++) {
		if (!sa_is_loopback(&cand[i]))
			add(out, &n, max, &cand[i], af);
	}
	for (i = 0; i < ncand; i++)
		add(out, &n, max, &cand[i], af);

	return n;
}


struct ifscan {
	struct sa v[SIPSRV_LISTEN_MAX];
	unsigned n;
};


static bool if_handler(const char *ifname, const struct sa *sa, void *arg)
{
	struct ifscan *sc = arg;
	(void)ifname;

	if (sc->n < ARRAY_SIZE(sc->v))
		sa_cpy(&sc->v[sc->n++], sa);

	return false;
}


/* Every address the wildcard stands for, in the order described above. */
static int wildcard_addrs(const struct sipsrv *srv, int af, struct sa *out,
			  unsigned *n)
{
	struct ifscan sc;
	struct sa primary;
	int err;

	memset(&sc, 0, sizeof(sc));
	err = net_if_apply(if_handler, &sc);
	if (err)
		return err;

	if (net_default_source_addr_get(af, &primary))
		sa_init(&primary, AF_UNSPEC);

	*n = sipsrv_listen_order(out, SIPSRV_LISTEN_MAX, sc.v, sc.n, af,
				 &srv->conf.advertise, &primary);

	return *n ? 0 : EADDRNOTAVAIL;
}


/* UDP on a at port (0: any; *bound gets the address with its port). */
static int udp_add(struct sipsrv *srv, const struct sa *a, uint16_t port,
		   struct sa *bound)
{
	struct sa la = *a;
	int err;

	sa_set_port(&la, port);
	err = sip_transp_add(srv->sip, SIP_TRANSP_UDP, &la);
	if (err)
		return err;

	/* The transport just added is the last; only with port 0 does
	 * its port differ from la's, and then it is the only one. */
	if (!port)
		return sip_transp_laddr(srv->sip, bound, SIP_TRANSP_UDP, &la);

	*bound = la;

	return 0;
}


/* Every transport on addrs at port (0: the first UDP bind picks it);
 * *portp gets the port they share. */
static int listen_all(struct sipsrv *srv, const struct sa *addrs,
		      unsigned n, uint16_t port, uint16_t *portp)
{
	struct sa bound[SIPSRV_LISTEN_MAX];
	const struct sa *laddr = &srv->conf.laddr;
	unsigned nb = 0, i;
	int err;

	/* UDP first: with port 0 the first bind picks the port that every
	 * other transport then shares. */
	for (i = 0; i < n; i++) {
		err = udp_add(srv, &addrs[i], port, &bound[nb]);
		if (err == EADDRNOTAVAIL && n > 1) {
			if (sa_cmp(&addrs[i], &srv->conf.advertise, SA_ADDR))
				LOGI(SUB_SIP, "advertised address %j is not "
				     "local: not listened on", &addrs[i]);
			else
				LOGW(SUB_SIP, "cannot listen on udp:%j: %m",
				     &addrs[i], err);
			continue;
		}
		if (err)
			return err;
		port = sa_port(&bound[nb]);
		++nb;
	}

	if (!nb) {
		LOGE(SUB_SIP, "cannot listen on any address for %J", laddr);
		return EADDRNOTAVAIL;
	}

	for (i = 0; i < nb; i++) {
		err = sip_transp_add(srv->sip, SIP_TRANSP_TCP, &bound[i]);
		if (err)
			return err;
	}

	for (i = 0; n > 1 && i < nb; i++)
		LOGI(SUB_SIP, "listening on udp+tcp %J%s", &bound[i],
		     i ? "" : " (requests leave from here)");

	srv->primary = bound[0];
	*portp = port;

	return 0;
}


int sipsrv_listen(struct sipsrv *srv)
{
	struct sa addrs[SIPSRV_LISTEN_MAX];
	const struct sa *laddr = &srv->conf.laddr;
	uint16_t port = sa_port(laddr), got = 0;
	unsigned n = 0, tries = 0;
	int err;

	if (sa_isset(laddr, SA_ADDR)) {
		addrs[n++] = *laddr;
	}
	else {
		err = wildcard_addrs(srv, sa_af(laddr), addrs, &n);
		if (err) {
			LOGE(SUB_SIP, "no local address to listen on for %J: "
			     "%m", laddr, err);
			return err;
		}
	}

	/* With port 0 the kernel picks a port that is free for the first
	 * UDP socket only: the others (TCP, other addresses) may find it
	 * taken, and then the whole set is bound again on a new one. */
	do {
		sip_transp_flush(srv->sip);
		err = listen_all(srv, addrs, n, port, &got);
	} while (err == EADDRINUSE && !port && ++tries < LISTEN_TRIES);

	if (err) {
		sip_transp_flush(srv->sip);
		LOGE(SUB_SIP, "cannot listen on %J: %m", laddr, err);
		return err;
	}

	sa_set_port(&srv->conf.laddr, got);

	return 0;
}
