/**
 * @file fetch.c  The HTTP client: one GET on the loop, with its bytes
 *
 * libre has an HTTP client, but it resolves every host through a DNS
 * client of its own and hands back a parsed message, never the bytes on
 * the wire; a fetch written to the capture file needs those bytes, and
 * its hosts are address literals anyway.  So a fetch is libre's TCP
 * client (tcp_connect, whose socket runs on the loop through core/loop.c)
 * with libre's response parser (http_msg_decode) for the head, and the
 * little that is left done here: the request, the body's three framings
 * (Content-Length, chunked, until close), the limits and the timings.
 * The URL and the chunked decoder, which need no socket, are in
 * fetch_parse.c; the packets of the capture are made in fetch_cap.c.
 *
 * Every way a fetch ends goes through finish(), which closes the
 * connection, stops the timers and then calls the done handler as the
 * very last thing, so that the handler may free the fetch.  libre touches
 * neither the connection nor our state after it calls our handlers, which
 * is what lets finish() run from inside them.
 */
#include <errno.h>
#include <string.h>
#include <time.h>
#include <re.h>
#include "core/core.h"
#include "http/fetch.h"
#include "http/http_int.h"

enum {
	HEAD_MAX = 16384,      /* the response's status line and headers */
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
	struct fetch_cap cap;      /* fetch_capture_set */
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
static void finish(struct fetch *f, int err, enum fetch_cap_end how)
{
	struct fetch_result *r = &f->res;
	fetch_done_h *done = f->done;
	const char *w;

	if (!done)
		return;
	f->done = NULL;

	tmr_cancel(&f->tmr);
	tmr_cancel(&f->later);
	fetch_cap_end(&f->cap, how);
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
	finish(f, ETIMEDOUT, CAP_RESET);
}


static void later_h(void *arg)
{
	struct fetch *f = arg;

	finish(f, f->later_err, CAP_RESET);
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
			finish(f, err, CAP_RESET);
		else if (f->body->end == f->clen)
			finish(f, 0, CAP_CLIENT_FIN);
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
			finish(f, err, CAP_RESET);
		else if (fetch_chunked_done(&f->ch))
			finish(f, 0, CAP_CLIENT_FIN);
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
			finish(f, err, CAP_RESET);
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
		finish(f, 0, CAP_CLIENT_FIN);
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
			finish(f, 0, CAP_CLIENT_FIN);
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
	fetch_cap_start(&f->cap, f->tc);

	f->req->pos = 0;
	err = tcp_send(f->tc, f->req);
	if (err) {
		finish(f, err, CAP_RESET);
		return;
	}

	fetch_cap_data(&f->cap, true, f->req->buf, f->req->end);
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

	fetch_cap_data(&f->cap, false, mbuf_buf(mb), mbuf_get_left(mb));

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
		finish(f, err, CAP_RESET);
}


static void close_h(int err, void *arg)
{
	struct fetch *f = arg;
	enum fetch_cap_end how = err ? CAP_RESET : CAP_SERVER_FIN;

	switch (f->st) {

	case ST_CONNECT:
		finish(f, err ? err : ECONNRESET, CAP_RESET);
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
		fetch_cap_end(&f->cap, CAP_RESET);

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

	f->cap.on = on;
}
