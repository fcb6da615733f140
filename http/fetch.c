/**
 * @file fetch.c  The HTTP client: one GET on the loop, with its bytes
 *
 * libre has an HTTP client, but it resolves every host through a DNS
 * client of its own and hands back a parsed message, never the bytes on
 * the wire; a fetch written to the capture file needs those bytes, and
 * its hosts are address literals anyway.  So a fetch is libre's TCP
 * client (tcp_connect, whose socket runs on the loop through core/loop.c)
 * with libre's response parser (http_msg_decode) for the head, and the
 * little that is left done here: the URL, the request, the body's three
 * framings (Content-Length, chunked, until close), the limits and the
 * timings.
 *
 * Every way a fetch ends goes through finish(), which closes the
 * connection, stops the timers and then calls the done handler as the
 * very last thing, so that the handler may free the fetch.  libre touches
 * neither the connection nor our state after it calls our handlers, which
 * is what lets finish() run from inside them.
 */
#include <errno.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <re.h>
#include "core/core.h"
#include "http/fetch.h"
#include "http/http_int.h"

enum {
	HEAD_MAX    = 16384,   /* the response's status line and headers */
	SEG_MAX     = 1400,    /* the largest captured segment */
	CHUNK_LINE_MAX = 4096, /* a chunk-size line with its extensions */
	TRAILER_MAX = 8192,    /* the trailer section of a chunked body */
};

enum fetch_state {
	ST_CONNECT = 0,        /* the connection is not up yet */
	ST_HEAD,               /* the request is sent; reading the head */
	ST_BODY_LEN,           /* a body of Content-Length bytes */
	ST_BODY_CHUNKED,       /* a chunked body */
	ST_BODY_CLOSE,         /* a body that ends when the server closes */
};

struct fetch {
	struct tcp_conn *tc;
	struct tmr tmr;            /* the whole exchange */
	struct tmr later;          /* reports a failure of tcp_connect */
	int later_err;
	struct fetch_url url;
	struct mbuf *req;          /* the request, as sent */
	struct mbuf *head;         /* the response until its head ends */
	struct mbuf *body;
	struct fetch_chunked ch;
	enum fetch_state st;
	uint64_t clen;             /* ST_BODY_LEN: the body's length */
	size_t max;
	uint32_t timeout_ms;
	uint64_t t0_us;            /* fetch_get, CLOCK_MONOTONIC */
	bool got_byte;
	char status[128];          /* "404 Not Found" */
	struct fetch_result res;
	fetch_done_h *done;        /* NULL once called */
	void *arg;

	/* The capture (fetch_capture_set). */
	bool cap_on;               /* asked for */
	bool cap;                  /* written: the SYN is in the file */
	struct sa local, peer;
	uint32_t cseq, sseq;       /* the next sequence number each way */
};


static uint64_t now_us(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);

	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}


static uint32_t since_ms(const struct fetch *f)
{
	uint64_t ms = (now_us() - f->t0_us) / 1000u;

	return ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
}


/* ---- the URL ---------------------------------------------------------- */

int fetch_url_parse(struct fetch_url *u, const char *url)
{
	const char *auth, *aend, *hend, *p, *t;
	char host[FETCH_HOST_MAX];
	uint32_t port = 80;
	size_t n;

	if (!u || !url)
		return EINVAL;

	memset(u, 0, sizeof(*u));

	n = strlen(url);
	if (n > FETCH_URL_MAX || strncasecmp(url, "http://", 7))
		return EINVAL;

	/* Every byte goes into the request line or the Host header as it
	 * is: no controls, no spaces, nothing outside ASCII. */
	for (p = url; *p; p++) {
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			return EINVAL;
	}

	auth = url + 7;
	aend = auth + strcspn(auth, "/?#");
	if (aend == auth || (size_t)(aend - auth) >= sizeof(u->host))
		return EINVAL;

	/* No user information: "user@host" is no host of ours. */
	if (memchr(auth, '@', (size_t)(aend - auth)))
		return EINVAL;

	if (*auth == '[') {
		hend = memchr(auth, ']', (size_t)(aend - auth));
		if (!hend || hend == auth + 1)
			return EINVAL;
		memcpy(host, auth + 1, (size_t)(hend - auth - 1));
		host[hend - auth - 1] = '\0';
		if (sa_set_str(&u->addr, host, 0) ||
		    sa_af(&u->addr) != AF_INET6)
			return EINVAL;
		p = hend + 1;
	}
	else {
		hend = memchr(auth, ':', (size_t)(aend - auth));
		if (!hend)
			hend = aend;
		if (hend == auth)
			return EINVAL;
		memcpy(host, auth, (size_t)(hend - auth));
		host[hend - auth] = '\0';

		/* localhost is the one name: it needs no resolver. */
		if (!strcasecmp(host, "localhost"))
			(void)sa_set_str(&u->addr, "127.0.0.1", 0);
		else if (sa_set_str(&u->addr, host, 0) ||
			 sa_af(&u->addr) != AF_INET)
			return EINVAL;
		p = hend;
	}

	if (p < aend) {
		if (*p != ':' || ++p == aend)
			return EINVAL;
		for (port = 0; p < aend; p++) {
			if (*p < '0' || *p > '9')
				return EINVAL;
			port = port * 10 + (uint32_t)(*p - '0');
			if (port > 65535)
				return EINVAL;
		}
		if (!port)
			return EINVAL;
	}
	sa_set_port(&u->addr, (uint16_t)port);

	memcpy(u->host, auth, (size_t)(aend - auth));
	u->host[aend - auth] = '\0';

	/* The target: the path and query, without the fragment, which is
	 * the client's own business. */
	t = aend + strcspn(aend, "#");
	n = 0;
	if (*aend != '/')
		u->target[n++] = '/';
	memcpy(u->target + n, aend, (size_t)(t - aend));
	u->target[n + (size_t)(t - aend)] = '\0';

	return 0;
}


/* ---- chunked transfer coding ------------------------------------------ */

enum chunk_state {
	CH_SIZE = 0,       /* the chunk-size line */
	CH_SIZE_LF,        /* its CR came, its LF must follow */
	CH_DATA,           /* the chunk's data */
	CH_DATA_CR,        /* the CRLF after the data */
	CH_DATA_LF,
	CH_TRAILER,        /* after the last chunk: trailer lines */
	CH_TRAILER_LF,     /* a trailer line's CR came */
	CH_DONE,
};


static int hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;

	return -1;
}


/* One byte of a chunk-size line, which ends in a state of its own. */
static int size_byte(struct fetch_chunked *ch, uint8_t c, size_t room)
{
	int d = hexval(c);

	if (++ch->line > CHUNK_LINE_MAX)
		return EBADMSG;

	if (d >= 0 && !ch->ext) {
		/* The size is checked as it grows: no overflow, and no
		 * waiting for a chunk that could never be kept. */
		ch->left = ch->left * 16 + (uint64_t)d;
		ch->digit = true;
		return ch->left > room ? EFBIG : 0;
	}

	if (c == '\r' || c == '\n') {
		if (!ch->digit)
			return EBADMSG;
		if (c == '\r') {
			ch->st = CH_SIZE_LF;
			return 0;
		}
		ch->st = ch->left ? CH_DATA : CH_TRAILER;
		ch->line = 0;
		return 0;
	}

	/* After the digits: whitespace, then ";name=value" extensions,
	 * which are ignored but must not hold control bytes. */
	if (!ch->digit)
		return EBADMSG;
	if (ch->ext < 2 && (c == ' ' || c == '\t')) {
		ch->ext = 1;
		return 0;
	}
	if (c == ';') {
		ch->ext = 2;
		return 0;
	}
	if (ch->ext < 2 || (c < 0x20 && c != '\t') || c == 0x7f)
		return EBADMSG;

	return 0;
}


/*
 * A byte at a time, but for the data, which is copied in runs.  A line
 * may end in CRLF or a bare LF (RFC 9112 section 2.2 lets a recipient
 * take the latter); a CR must be followed by its LF.
 */
int fetch_chunked_feed(struct fetch_chunked *ch, const uint8_t *p,
		       size_t n, struct mbuf *out, size_t max,
		       size_t *usedp)
{
	size_t i = 0, k;
	int err = 0;

	if (!ch || (!p && n) || !out || !usedp)
		return EINVAL;

	while (!err && i < n && ch->st != CH_DONE) {
		uint8_t c = p[i];

		switch (ch->st) {

		case CH_SIZE:
			++i;
			err = size_byte(ch, c, out->end < max ?
					max - out->end : 0);
			break;

		case CH_SIZE_LF:
			++i;
			if (c != '\n') {
				err = EBADMSG;
				break;
			}
			ch->st = ch->left ? CH_DATA : CH_TRAILER;
			ch->line = 0;
			break;

		case CH_DATA:
			k = n - i;
			if (k > ch->left)
				k = (size_t)ch->left;
			err = mbuf_write_mem(out, p + i, k);
			if (err)
				break;
			i += k;
			ch->left -= k;
			if (!ch->left)
				ch->st = CH_DATA_CR;
			break;

		case CH_DATA_CR:
			++i;
			if (c == '\r')
				ch->st = CH_DATA_LF;
			else if (c == '\n')
				ch->st = CH_SIZE;
			else
				err = EBADMSG;
			ch->digit = false;
			ch->ext = 0;
			break;

		case CH_DATA_LF:
			++i;
			if (c != '\n')
				err = EBADMSG;
			ch->st = CH_SIZE;
			break;

		case CH_TRAILER:
		case CH_TRAILER_LF:
			++i;
			if (++ch->trailer > TRAILER_MAX) {
				err = EBADMSG;
			}
			else if (c == '\n') {
				/* An empty line ends the body. */
				ch->st = ch->line ? CH_TRAILER : CH_DONE;
				ch->line = 0;
			}
			else if (ch->st == CH_TRAILER_LF) {
				err = EBADMSG;
			}
			else if (c == '\r') {
				ch->st = CH_TRAILER_LF;
			}
			else {
				++ch->line;
			}
			break;

		default:
			err = EBADMSG;
			break;
		}
	}

	*usedp = i;
	return err;
}


bool fetch_chunked_done(const struct fetch_chunked *ch)
{
	return ch && ch->st == CH_DONE;
}


/* ---- the capture ------------------------------------------------------ */

/* One segment, client to server (out) or back; SYN and FIN count one in
 * the sequence space, as in TCP. */
static void cap_seg(struct fetch *f, bool out, uint8_t flags,
		    const uint8_t *p, size_t n)
{
	uint32_t *seq = out ? &f->cseq : &f->sseq;
	uint32_t ack = (flags & PCAPW_ACK) ? (out ? f->sseq : f->cseq) : 0;

	(void)pcapw_tcp(out ? &f->local : &f->peer, out ? &f->peer : &f->local,
			*seq, ack, flags, p, n);

	*seq += (uint32_t)n + ((flags & (PCAPW_SYN | PCAPW_FIN)) ? 1 : 0);
}


/* Bytes one way, cut into segments that the other side acknowledges one
 * by one. */
static void cap_data(struct fetch *f, bool out, const uint8_t *p, size_t n)
{
	if (!f->cap)
		return;

	while (n) {
		size_t k = n < SEG_MAX ? n : SEG_MAX;

		cap_seg(f, out, PCAPW_ACK | (k == n ? PCAPW_PSH : 0), p, k);
		cap_seg(f, !out, PCAPW_ACK, NULL, 0);
		p += k;
		n -= k;
	}
}


static void cap_start(struct fetch *f)
{
	if (!f->cap_on || !pcapw_active())
		return;

	if (tcp_conn_local_get(f->tc, &f->local) ||
	    tcp_conn_peer_get(f->tc, &f->peer)) {
		LOGD(SUB_HTTP, "fetch: no addresses to capture with");
		return;
	}

	f->cseq = rand_u32();
	f->sseq = rand_u32();
	f->cap = true;

	cap_seg(f, true, PCAPW_SYN, NULL, 0);
	cap_seg(f, false, PCAPW_SYN | PCAPW_ACK, NULL, 0);
	cap_seg(f, true, PCAPW_ACK, NULL, 0);
}


enum cap_end { END_SERVER_FIN, END_CLIENT_FIN, END_RESET };

static void cap_end(struct fetch *f, enum cap_end how)
{
	bool first_out = how == END_CLIENT_FIN;

	if (!f->cap)
		return;
	f->cap = false;

	if (how == END_RESET) {
		cap_seg(f, true, PCAPW_RST | PCAPW_ACK, NULL, 0);
		return;
	}

	cap_seg(f, first_out, PCAPW_FIN | PCAPW_ACK, NULL, 0);
	cap_seg(f, !first_out, PCAPW_FIN | PCAPW_ACK, NULL, 0);
	cap_seg(f, first_out, PCAPW_ACK, NULL, 0);
}


/* ---- the exchange ----------------------------------------------------- */

static const char *err_words(int err)
{
	switch (err) {

	case ECONNREFUSED: return "connection refused";
	case ECONNRESET:   return "connection reset";
	case EBADMSG:      return "bad response";
	case EFBIG:        return "body too large";
	default:           return NULL;
	}
}


/*
 * Ends the fetch: err 0 for a response read whole.  how says what the
 * capture shows of the end.  The done handler is the last thing called,
 * and nothing of f is touched after it.
 */
static void finish(struct fetch *f, int err, enum cap_end how)
{
	struct fetch_result *r = &f->res;
	fetch_done_h *done = f->done;
	const char *w;

	if (!done)
		return;
	f->done = NULL;

	tmr_cancel(&f->tmr);
	tmr_cancel(&f->later);
	cap_end(f, how);
	f->tc = mem_deref(f->tc);

	r->err = err;
	r->ms_done = since_ms(f);
	r->bytes = f->body ? f->body->end : 0;
	r->body = r->bytes ? f->body->buf : NULL;

	if (!r->why[0]) {
		w = err_words(err);
		if (!err)
			str_ncpy(r->why, f->status, sizeof(r->why));
		else if (w)
			str_ncpy(r->why, w, sizeof(r->why));
		else
			(void)re_snprintf(r->why, sizeof(r->why), "%m", err);
	}

	LOGD(SUB_HTTP, "fetch http://%s%s: %s (%u ms, %zu bytes)",
	     f->url.host, f->url.target, r->why, r->ms_done, r->bytes);

	done(r, f->arg);
}


static void timeout_h(void *arg)
{
	struct fetch *f = arg;

	(void)re_snprintf(f->res.why, sizeof(f->res.why),
			  "%s within %u ms",
			  f->st == ST_CONNECT ? "no connection" :
			  f->st == ST_HEAD ? "no response" :
			  "body not complete", f->timeout_ms);
	finish(f, ETIMEDOUT, END_RESET);
}


static void later_h(void *arg)
{
	struct fetch *f = arg;

	finish(f, f->later_err, END_RESET);
}


/* Takes body bytes; ends the fetch when the body is complete. */
static void body_feed(struct fetch *f, const uint8_t *p, size_t n)
{
	size_t used, k;
	int err;

	switch (f->st) {

	case ST_BODY_LEN:
		k = n;
		if (k > f->clen - f->body->end)
			k = (size_t)(f->clen - f->body->end);
		err = mbuf_write_mem(f->body, p, k);
		if (err)
			finish(f, err, END_RESET);
		else if (f->body->end == f->clen)
			finish(f, 0, END_CLIENT_FIN);
		break;

	case ST_BODY_CHUNKED:
		err = fetch_chunked_feed(&f->ch, p, n, f->body, f->max, &used);
		if (err == EFBIG)
			(void)re_snprintf(f->res.why, sizeof(f->res.why),
					  "a chunk takes the body over %zu "
					  "bytes", f->max);
		else if (err == EBADMSG)
			str_ncpy(f->res.why, "bad chunked body",
				 sizeof(f->res.why));
		if (err)
			finish(f, err, END_RESET);
		else if (fetch_chunked_done(&f->ch))
			finish(f, 0, END_CLIENT_FIN);
		break;

	case ST_BODY_CLOSE:
		k = n;
		if (k > f->max - f->body->end)
			k = f->max - f->body->end;
		err = mbuf_write_mem(f->body, p, k);
		if (!err && k < n) {
			(void)re_snprintf(f->res.why, sizeof(f->res.why),
					  "body over %zu bytes", f->max);
			err = EFBIG;
		}
		if (err)
			finish(f, err, END_RESET);
		break;

	default:
		break;
	}
}


/* A Content-Length value: digits only, and no more than 19 of them. */
static int clen_parse(const struct pl *v, uint64_t *lenp)
{
	uint64_t len = 0;
	size_t i;

	if (!v->l || v->l > 19)
		return EBADMSG;

	for (i = 0; i < v->l; i++) {
		if (v->p[i] < '0' || v->p[i] > '9')
			return EBADMSG;
		len = len * 10 + (uint64_t)(v->p[i] - '0');
	}

	*lenp = len;
	return 0;
}


static bool clen_apply(const struct http_hdr *hdr, void *arg)
{
	uint64_t *lens = arg, len;

	/* lens[0]: the length; lens[1]: 1 once one was read, 2 on a bad or
	 * differing one (the message's framing is then unknowable). */
	if (clen_parse(&hdr->val, &len) || (lens[1] && len != lens[0])) {
		lens[1] = 2;
		return true;
	}
	lens[0] = len;
	lens[1] = 1;

	return false;
}


/*
 * The head is in: takes the status and the framing of the body (RFC 9112
 * section 6.3) and hands the rest of the bytes to body_feed.  Returns an
 * error for finish(), or 0 when the fetch goes on (or has ended).
 */
static int head_done(struct fetch *f, const struct http_msg *msg)
{
	const struct http_hdr *te, *ct;
	uint64_t lens[2] = { 0, 0 };
	struct mbuf *rest = f->head;
	const char *why = NULL;

	f->res.scode = msg->scode;
	(void)re_snprintf(f->status, sizeof(f->status), "%u %r",
			  msg->scode, &msg->reason);
	ct = http_msg_hdr(msg, HTTP_HDR_CONTENT_TYPE);
	if (ct)
		(void)pl_strcpy(&ct->val, f->res.ctype, sizeof(f->res.ctype));

	f->body = mbuf_alloc(1024);
	if (!f->body)
		return ENOMEM;

	te = http_msg_hdr(msg, HTTP_HDR_TRANSFER_ENCODING);
	(void)http_msg_hdr_apply(msg, true, HTTP_HDR_CONTENT_LENGTH,
				 clen_apply, lens);

	if (msg->scode == 204 || msg->scode == 304) {
		finish(f, 0, END_CLIENT_FIN);
		return 0;
	}
	else if (te) {
		/* libre splits the list at its commas: one element, and
		 * that one chunked, is the only coding read here. */
		if (http_msg_hdr_count(msg, HTTP_HDR_TRANSFER_ENCODING) != 1 ||
		    pl_strcasecmp(&te->val, "chunked"))
			why = "unsupported Transfer-Encoding";
		f->st = ST_BODY_CHUNKED;
	}
	else if (lens[1] == 2) {
		why = "bad Content-Length";
	}
	else if (lens[1]) {
		if (lens[0] > f->max) {
			(void)re_snprintf(f->res.why, sizeof(f->res.why),
					  "Content-Length %llu over %zu "
					  "bytes", (unsigned long long)lens[0],
					  f->max);
			return EFBIG;
		}
		f->clen = lens[0];
		f->st = ST_BODY_LEN;
		if (!f->clen) {
			finish(f, 0, END_CLIENT_FIN);
			return 0;
		}
		if (mbuf_resize(f->body, (size_t)f->clen))
			return ENOMEM;
	}
	else {
		f->st = ST_BODY_CLOSE;
	}

	if (why) {
		str_ncpy(f->res.why, why, sizeof(f->res.why));
		return EBADMSG;
	}

	if (mbuf_get_left(rest))
		body_feed(f, mbuf_buf(rest), mbuf_get_left(rest));

	return 0;
}


/* Reads the head from what has arrived; 0 when more is needed or the
 * fetch went on to the body. */
static int head_parse(struct fetch *f)
{
	struct http_msg *msg = NULL;
	int err;

	for (;;) {
		err = http_msg_decode(&msg, f->head, false);
		if (err == ENODATA) {
			if (mbuf_get_left(f->head) <= HEAD_MAX)
				return 0;
			str_ncpy(f->res.why, "response head too long",
				 sizeof(f->res.why));
			return EBADMSG;
		}
		if (err) {
			str_ncpy(f->res.why, "bad status line or header",
				 sizeof(f->res.why));
			return err == ENOMEM ? ENOMEM : EBADMSG;
		}

		/* libre's pattern takes any digits for the code and any
		 * version; an answer must be HTTP/1.x with a code of three
		 * digits. */
		if (msg->scode < 100 || msg->scode > 599 ||
		    msg->ver.l < 2 || msg->ver.p[0] != '1' ||
		    msg->ver.p[1] != '.') {
			mem_deref(msg);
			str_ncpy(f->res.why, "bad status line",
				 sizeof(f->res.why));
			return EBADMSG;
		}

		/* An interim response (100 Continue, 103 Early Hints)
		 * precedes the real one; 101 would switch protocols, which
		 * a GET of ours never asks for. */
		if (msg->scode >= 100 && msg->scode < 200 &&
		    msg->scode != 101) {
			msg = mem_deref(msg);
			continue;
		}
		if (msg->scode == 101) {
			mem_deref(msg);
			str_ncpy(f->res.why, "unexpected 101",
				 sizeof(f->res.why));
			return EBADMSG;
		}

		break;
	}

	err = head_done(f, msg);
	mem_deref(msg);

	return err;
}


static void estab_h(void *arg)
{
	struct fetch *f = arg;
	int err;

	f->res.ms_connect = since_ms(f);
	f->st = ST_HEAD;
	cap_start(f);

	f->req->pos = 0;
	err = tcp_send(f->tc, f->req);
	if (err) {
		finish(f, err, END_RESET);
		return;
	}

	cap_data(f, true, f->req->buf, f->req->end);
}


static void recv_h(struct mbuf *mb, void *arg)
{
	struct fetch *f = arg;
	size_t pos;
	int err;

	if (!f->done)
		return;

	if (!f->got_byte) {
		f->got_byte = true;
		f->res.ms_first_byte = since_ms(f);
	}

	cap_data(f, false, mbuf_buf(mb), mbuf_get_left(mb));

	if (f->st != ST_HEAD) {
		body_feed(f, mbuf_buf(mb), mbuf_get_left(mb));
		return;
	}

	/* The head so far is kept whole; http_msg_decode starts over on
	 * it each time (heads are short). */
	pos = f->head->pos;
	f->head->pos = f->head->end;
	err = mbuf_write_mem(f->head, mbuf_buf(mb), mbuf_get_left(mb));
	f->head->pos = pos;
	if (!err)
		err = head_parse(f);
	if (err)
		finish(f, err, END_RESET);
}


static void close_h(int err, void *arg)
{
	struct fetch *f = arg;
	enum cap_end how = err ? END_RESET : END_SERVER_FIN;

	switch (f->st) {

	case ST_CONNECT:
		finish(f, err ? err : ECONNRESET, END_RESET);
		break;

	case ST_HEAD:
		if (!err)
			str_ncpy(f->res.why, f->got_byte ?
				 "connection closed inside the response head" :
				 "connection closed without a response",
				 sizeof(f->res.why));
		finish(f, err ? err : EBADMSG, how);
		break;

	case ST_BODY_LEN:
		if (!err)
			(void)re_snprintf(f->res.why, sizeof(f->res.why),
					  "connection closed after %zu of "
					  "%llu body bytes", f->body->end,
					  (unsigned long long)f->clen);
		finish(f, err ? err : EBADMSG, how);
		break;

	case ST_BODY_CHUNKED:
		if (!err)
			str_ncpy(f->res.why,
				 "connection closed inside the chunked body",
				 sizeof(f->res.why));
		finish(f, err ? err : EBADMSG, how);
		break;

	case ST_BODY_CLOSE:
		finish(f, err, how);
		break;
	}
}


static void destructor(void *arg)
{
	struct fetch *f = arg;

	tmr_cancel(&f->tmr);
	tmr_cancel(&f->later);

	/* Cancelled with the connection up: the client resets it. */
	if (f->done)
		cap_end(f, END_RESET);

	mem_deref(f->tc);
	mem_deref(f->req);
	mem_deref(f->head);
	mem_deref(f->body);
}


int fetch_get(struct fetch **fp, const char *url, uint32_t timeout_ms,
	      size_t max_bytes, fetch_done_h *done, void *arg)
{
	struct fetch *f;
	int err;

	if (!fp || !url || !timeout_ms || !done)
		return EINVAL;

	f = mem_zalloc(sizeof(*f), destructor);
	if (!f)
		return ENOMEM;

	tmr_init(&f->tmr);
	tmr_init(&f->later);
	f->t0_us = now_us();
	f->max = max_bytes;
	f->timeout_ms = timeout_ms;
	f->done = done;
	f->arg = arg;

	err = fetch_url_parse(&f->url, url);
	if (err)
		goto out;

	f->req = mbuf_alloc(256 + strlen(f->url.target));
	f->head = mbuf_alloc(1024);
	if (!f->req || !f->head) {
		err = ENOMEM;
		goto out;
	}

	err = mbuf_printf(f->req, "GET %s HTTP/1.1\r\n"
			  "Host: %s\r\n"
			  "User-Agent: cmrlab/" CMRLAB_VERSION "\r\n"
			  "Accept: */*\r\n"
			  "Connection: close\r\n"
			  "\r\n", f->url.target, f->url.host);
	if (err)
		goto out;

	tmr_start(&f->tmr, timeout_ms, timeout_h, f);

	/* A failure here (no route, no socket) is the fetch's outcome, not
	 * a bad call: it is reported like every other, from the loop. */
	err = tcp_connect(&f->tc, &f->url.addr, estab_h, recv_h, close_h, f);
	if (err == ENOMEM)
		goto out;
	if (err) {
		f->later_err = err;
		tmr_start(&f->later, 0, later_h, f);
		err = 0;
	}

 out:
	if (err) {
		f->done = NULL;
		mem_deref(f);
	}
	else {
		*fp = f;
	}

	return err;
}


void fetch_capture_set(struct fetch *f, bool on)
{
	if (!f || f->st != ST_CONNECT)
		return;

	f->cap_on = on;
}
