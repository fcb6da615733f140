/**
 * @file sippeers.h  The SIP harness's caller and callee: their sockets,
 *                   what they receive, and what they still owe the server
 *
 * Two UDP sockets on 127.0.0.1, new for each input (so that what the
 * server resends for an earlier input never reaches this one), a TCP
 * connection of the caller's, opened by the first @T record, and an RTP
 * sink for the streams of application server and gateway mode.  Every
 * message the server sends them is decoded: the last ones feed the
 * placeholders of the next record (sipscript.h), and the requests still
 * without a final response and the final responses to INVITEs still
 * without an ACK are listed, so that the end of an input can settle them
 * (peers_settle): 200 to BYE and CANCEL, 487 to an INVITE, 481 to any
 * other request, an ACK for each final response.  A message the peers
 * send that settles one of them (a final response, an ACK) takes it off.
 */
#ifndef CMRLAB_TESTS_SIPPEERS_H
#define CMRLAB_TESTS_SIPPEERS_H

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <re.h>

enum side_id { SIDE_A = 0, SIDE_B, SIDE_N };

enum {
	PEERS_MAX_RX = 64,         /* messages listed per input */
	PEERS_MAX_MSG = 32768,     /* the largest message framed on TCP */
};

/* The caller (A) or the callee (B): a UDP socket, and what the last
 * messages it received say about its dialog. */
struct side {
	const char *name;
	int fd;                    /* UDP */
	struct sa laddr;
	char tag[32];
	struct sip_msg *req;       /* the last request received */
	struct sip_msg *inv;       /* the last INVITE received */
	struct sip_msg *dmsg;      /* the last message with the peer's tag */
	char contact[256];         /* the last Contact URI received */
	uint32_t rseq;             /* the last RSeq received */
};

/* A request a side owes a final response, or a final response to an
 * INVITE it owes an ACK. */
struct rxent {
	struct le le;
	enum side_id side;
	bool tcp;
	struct sip_msg *msg;
	bool done;
};

struct peers {
	struct side side[SIDE_N];
	struct sa server;
	int tcp;                   /* the caller's TCP connection, or -1 */
	struct sa tcp_laddr;
	struct mbuf *tcpin;        /* bytes read from it, not yet framed */
	int media[2];              /* RTP and RTCP sink */
	uint16_t media_port;
	struct list rx;            /* struct rxent */
	unsigned nrx;
	unsigned long long input;  /* the input's number */
	int trace;                 /* 1: first lines, 2: whole messages */
	uint64_t sent, received, undecoded, settled;
};


static inline int peers_udp(struct sa *laddr, uint16_t port)
{
	struct sa a;
	socklen_t len = sizeof(a.u);
	int fd;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;

	(void)sa_set_str(&a, "127.0.0.1", port);
	if (bind(fd, &a.u.sa, a.len) < 0 ||
	    getsockname(fd, &a.u.sa, &len) < 0) {
		(void)close(fd);
		return -1;
	}
	a.len = len;
	if (laddr)
		*laddr = a;

	return fd;
}


/* Once: the RTP and RTCP sink (an even port and the one above). */
static inline int peers_init(struct peers *p, const struct sa *server,
			     int trace)
{
	memset(p, 0, sizeof(*p));
	p->server = *server;
	p->trace = trace;
	p->tcp = -1;
	p->side[SIDE_A].name = "caller";
	p->side[SIDE_B].name = "callee";
	p->side[SIDE_A].fd = p->side[SIDE_B].fd = -1;
	list_init(&p->rx);

	p->tcpin = mbuf_alloc(4096);
	if (!p->tcpin)
		return ENOMEM;

	for (uint16_t port = 40000; port < 41000; port += 2) {
		p->media[0] = peers_udp(NULL, port);
		if (p->media[0] < 0)
			continue;
		p->media[1] = peers_udp(NULL, (uint16_t)(port + 1));
		if (p->media[1] >= 0) {
			p->media_port = port;
			return 0;
		}
		(void)close(p->media[0]);
	}

	return EADDRINUSE;
}


/* For each input: new sockets and tags. */
static inline int peers_open(struct peers *p, unsigned long long input)
{
	p->input = input;

	for (int s = 0; s < SIDE_N; s++) {
		struct side *sd = &p->side[s];

		sd->fd = peers_udp(&sd->laddr, 0);
		if (sd->fd < 0)
			return errno;
		(void)re_snprintf(sd->tag, sizeof(sd->tag), "%c%llu",
				  s == SIDE_A ? 'a' : 'b', input);
	}

	return 0;
}


static inline void peers_close(struct peers *p)
{
	struct le *le;

	while ((le = list_head(&p->rx))) {
		struct rxent *e = le->data;

		list_unlink(le);
		mem_deref(e->msg);
		mem_deref(e);
	}
	p->nrx = 0;

	for (int s = 0; s < SIDE_N; s++) {
		struct side *sd = &p->side[s];

		if (sd->fd >= 0)
			(void)close(sd->fd);
		sd->fd = -1;
		sd->req = mem_deref(sd->req);
		sd->inv = mem_deref(sd->inv);
		sd->dmsg = mem_deref(sd->dmsg);
		sd->contact[0] = '\0';
		sd->rseq = 0;
	}

	if (p->tcp >= 0)
		(void)close(p->tcp);
	p->tcp = -1;
	mbuf_rewind(p->tcpin);
}


static inline void peers_trace(const struct peers *p, enum side_id s,
			       bool tcp, bool tx, const uint8_t *m, size_t n)
{
	const uint8_t *eol;

	if (!p->trace)
		return;

	eol = memchr(m, '\r', n);
	if (p->trace == 1 && eol)
		n = (size_t)(eol - m);

	(void)re_fprintf(stderr, "%s%s %s %b\n", p->side[s].name,
			 tcp ? "/tcp" : "", tx ? "->" : "<-", m, n);
}


static inline struct sip_msg *peers_decode(const uint8_t *m, size_t n)
{
	struct sip_msg *msg = NULL;
	struct mbuf *mb = mbuf_alloc(n);

	if (!mb)
		return NULL;

	(void)mbuf_write_mem(mb, m, n);
	mb->pos = 0;
	if (sip_msg_decode(&msg, mb))
		msg = NULL;
	mem_deref(mb);

	return msg;
}


static inline void peers_list(struct peers *p, enum side_id s, bool tcp,
			      struct sip_msg *msg)
{
	struct rxent *e;

	if (p->nrx >= PEERS_MAX_RX)
		return;

	e = mem_zalloc(sizeof(*e), NULL);
	if (!e)
		return;

	e->side = s;
	e->tcp = tcp;
	e->msg = mem_ref(msg);
	list_append(&p->rx, &e->le, e);
	++p->nrx;
}


static inline void peers_keep(struct sip_msg **slot, struct sip_msg *msg)
{
	mem_deref(*slot);
	*slot = mem_ref(msg);
}


/* A message the server sent to side s. */
static inline void peers_received(struct peers *p, enum side_id s,
				  bool tcp, const uint8_t *m, size_t n)
{
	struct side *sd = &p->side[s];
	const struct sip_hdr *h;
	struct sip_addr addr;
	struct sip_msg *msg;

	peers_trace(p, s, tcp, false, m, n);
	++p->received;

	msg = peers_decode(m, n);
	if (!msg) {
		++p->undecoded;
		return;
	}

	if (msg->req) {
		peers_keep(&sd->req, msg);
		if (!pl_strcmp(&msg->met, "INVITE"))
			peers_keep(&sd->inv, msg);
		if (pl_strcmp(&msg->met, "ACK"))
			peers_list(p, s, tcp, msg);
	}
	else if (msg->scode >= 200 && !pl_strcmp(&msg->cseq.met, "INVITE")) {
		peers_list(p, s, tcp, msg);
	}

	if (pl_isset(msg->req ? &msg->from.tag : &msg->to.tag))
		peers_keep(&sd->dmsg, msg);

	h = sip_msg_hdr(msg, SIP_HDR_CONTACT);
	if (h && !sip_addr_decode(&addr, &h->val))
		(void)pl_strcpy(&addr.auri, sd->contact, sizeof(sd->contact));

	h = sip_msg_hdr(msg, SIP_HDR_RSEQ);
	if (h)
		sd->rseq = pl_u32(&h->val);

	mem_deref(msg);
}


/* TCP is a stream: a message is its headers and Content-Length octets
 * of body. */
static inline void peers_tcp_frame(struct peers *p)
{
	struct mbuf *mb = p->tcpin;

	for (;;) {
		const uint8_t *m = mb->buf + mb->pos, *end;
		size_t left = mbuf_get_left(mb), hl, cl = 0;
		struct pl v;

		while (left >= 2 && m[0] == '\r' && m[1] == '\n') {
			m += 2;
			left -= 2;
			mb->pos += 2;
		}

		end = left >= 4 ? memmem(m, left, "\r\n\r\n", 4) : NULL;
		if (!end)
			break;
		hl = (size_t)(end - m) + 4;

		if (!re_regex((const char *)m, hl,
			      "\nContent-Length:[ \t]*[0-9]+", NULL, &v) ||
		    !re_regex((const char *)m, hl, "\nl:[ \t]*[0-9]+",
			      NULL, &v))
			cl = pl_u32(&v);
		if (cl > PEERS_MAX_MSG) {
			mb->pos = mb->end;
			break;
		}
		if (hl + cl > left)
			break;

		peers_received(p, SIDE_A, true, m, hl + cl);
		mb->pos += hl + cl;
	}

	if (mb->pos == mb->end)
		mbuf_rewind(mb);
}


static inline void peers_tcp_read(struct peers *p, uint8_t *buf,
				  size_t sz, unsigned *n)
{
	size_t pos;
	ssize_t r;
	int err;

	while (p->tcp >= 0) {
		r = recv(p->tcp, buf, sz, 0);
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (r <= 0) {
			(void)close(p->tcp);
			p->tcp = -1;
			return;
		}

		/* Append at the end; framing goes on where it stopped. */
		++*n;
		pos = p->tcpin->pos;
		p->tcpin->pos = p->tcpin->end;
		err = mbuf_write_mem(p->tcpin, buf, (size_t)r);
		p->tcpin->pos = pos;
		if (err)
			return;
		peers_tcp_frame(p);
	}
}


/* Reads everything that waits on the sockets; returns how many
 * datagrams and stream reads there were (RTP not counted). */
static inline unsigned peers_drain(struct peers *p)
{
	static uint8_t buf[65536];
	unsigned n = 0;
	ssize_t r;

	for (int s = 0; s < SIDE_N; s++) {
		while ((r = recv(p->side[s].fd, buf, sizeof(buf), 0)) > 0) {
			peers_received(p, (enum side_id)s, false, buf,
				       (size_t)r);
			++n;
		}
	}

	for (int i = 0; i < 2; i++) {
		while (recv(p->media[i], buf, sizeof(buf), 0) > 0)
			;
	}

	peers_tcp_read(p, buf, sizeof(buf), &n);

	return n;
}


static inline int peers_tcp_open(struct peers *p)
{
	socklen_t len = sizeof(p->tcp_laddr.u);
	int fd, err;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errno;

	if (connect(fd, &p->server.u.sa, p->server.len) < 0 ||
	    getsockname(fd, &p->tcp_laddr.u.sa, &len) < 0 ||
	    fcntl(fd, F_SETFL, O_NONBLOCK) < 0) {
		err = errno;
		(void)close(fd);
		return err;
	}
	p->tcp_laddr.len = len;
	p->tcp = fd;

	return 0;
}


/* Takes off the list what a message of side s settles: a final response
 * settles the request it answers, an ACK the final response it
 * acknowledges. */
static inline void peers_settled(struct peers *p, enum side_id s,
				 const uint8_t *m, size_t n)
{
	struct sip_msg *msg = peers_decode(m, n);
	struct le *le;
	bool ack;

	if (!msg)
		return;

	ack = msg->req && !pl_strcmp(&msg->met, "ACK");
	if ((msg->req && !ack) || (!msg->req && msg->scode < 200))
		goto out;

	for (le = list_head(&p->rx); le; le = le->next) {
		struct rxent *e = le->data;
		const struct sip_msg *o = e->msg;

		if (e->side != s || e->done)
			continue;

		if (ack && !o->req && !pl_cmp(&o->callid, &msg->callid) &&
		    o->cseq.num == msg->cseq.num)
			e->done = true;
		else if (!ack && o->req &&
			 !pl_cmp(&o->via.branch, &msg->via.branch) &&
			 !pl_cmp(&o->cseq.met, &msg->cseq.met))
			e->done = true;
	}

 out:
	mem_deref(msg);
}


static inline void peers_send(struct peers *p, enum side_id s, bool tcp,
			      const uint8_t *m, size_t n)
{
	ssize_t r;

	peers_trace(p, s, tcp, true, m, n);
	++p->sent;

	if (tcp && p->tcp < 0)
		return;

	if (tcp)
		r = send(p->tcp, m, n, MSG_NOSIGNAL);
	else
		r = sendto(p->side[s].fd, m, n, 0, &p->server.u.sa,
			   p->server.len);

	if (r == (ssize_t)n)
		peers_settled(p, s, m, n);
}


static inline int peers_hdrs(struct mbuf *mb, const struct sip_msg *msg,
			     enum sip_hdrid id, const char *name)
{
	struct le *le;
	int err = 0;

	for (le = list_head(&msg->hdrl); le; le = le->next) {
		const struct sip_hdr *h = le->data;

		if (h->id == id)
			err |= mbuf_printf(mb, "%s: %r\r\n", name, &h->val);
	}

	return err;
}


/* The final response to a request a side still owes one: enough for the
 * server to finish the transaction and the dialog. */
static inline int peers_reply(struct mbuf *mb, const struct peers *p,
			      const struct rxent *e)
{
	const struct sip_msg *req = e->msg;
	bool initial = !pl_isset(&req->to.tag);
	uint16_t scode = 481;
	const char *reason = "Call/Transaction Does Not Exist";
	int err;

	if (!pl_strcmp(&req->met, "BYE") || !pl_strcmp(&req->met, "CANCEL")) {
		scode = 200;
		reason = "OK";
	}
	else if (!pl_strcmp(&req->met, "INVITE") && initial) {
		scode = 487;
		reason = "Request Terminated";
	}

	err  = mbuf_printf(mb, "SIP/2.0 %u %s\r\n", scode, reason);
	err |= peers_hdrs(mb, req, SIP_HDR_VIA, "Via");
	err |= mbuf_printf(mb, "From: %r\r\nTo: %r%s%s\r\n"
			   "Call-ID: %r\r\nCSeq: %u %r\r\n"
			   "Content-Length: 0\r\n\r\n",
			   &req->from.val, &req->to.val,
			   initial ? ";tag=" : "",
			   initial ? p->side[e->side].tag : "",
			   &req->callid, req->cseq.num, &req->cseq.met);

	return err;
}


/* The ACK of a final response to an INVITE: in its transaction for an
 * error, in a new one to the Contact for a 2xx. */
static inline int peers_ack(struct mbuf *mb, const struct peers *p,
			    const struct rxent *e)
{
	const struct sip_msg *rsp = e->msg;
	const struct sip_hdr *h = sip_msg_hdr(rsp, SIP_HDR_CONTACT);
	struct sip_addr contact;
	struct pl ruri = rsp->to.auri;
	int err;

	if (rsp->scode < 300) {
		if (h && !sip_addr_decode(&contact, &h->val))
			ruri = contact.auri;
		err = mbuf_printf(mb, "ACK %r SIP/2.0\r\n"
				  "Via: SIP/2.0/%s %J;branch=z9hG4bK-fz%llu"
				  "-ack%u;rport\r\n", &ruri,
				  e->tcp ? "TCP" : "UDP",
				  e->tcp ? &p->tcp_laddr :
				  &p->side[e->side].laddr,
				  p->input, rsp->cseq.num);
	}
	else {
		err  = mbuf_printf(mb, "ACK %r SIP/2.0\r\n", &ruri);
		err |= mbuf_printf(mb, "Via: %r\r\n", &rsp->via.val);
	}

	err |= mbuf_printf(mb, "Max-Forwards: 70\r\nFrom: %r\r\nTo: %r\r\n"
			   "Call-ID: %r\r\nCSeq: %u ACK\r\n"
			   "Content-Length: 0\r\n\r\n",
			   &rsp->from.val, &rsp->to.val, &rsp->callid,
			   rsp->cseq.num);

	return err;
}


/* Answers and acknowledges everything still listed; returns how many. */
static inline unsigned peers_settle(struct peers *p)
{
	struct mbuf *mb = mbuf_alloc(512);
	unsigned n = 0;
	struct le *le;
	int err;

	if (!mb)
		return 0;

	for (le = list_head(&p->rx); le; le = le->next) {
		struct rxent *e = le->data;

		if (e->done)
			continue;

		mbuf_rewind(mb);
		if (e->msg->req)
			err = peers_reply(mb, p, e);
		else
			err = peers_ack(mb, p, e);
		if (!err)
			peers_send(p, e->side, e->tcp, mb->buf, mb->end);
		e->done = true;
		++n;
	}

	mem_deref(mb);
	p->settled += n;

	return n;
}

#endif
