/**
 * @file http_int.h  Shared inside http/: the server, routing, and the pure
 *                   request logic that the unit tests reach without
 *                   sockets; the same for the client, and its capture
 */
#ifndef CMRLAB_HTTP_INT_H
#define CMRLAB_HTTP_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <microhttpd.h>
#include <re.h>
#include "core/core.h"
#include "http/http.h"

struct event;
struct loop_watch;

/* ---- routing (httpd.c) ------------------------------------------------ */

enum httpd_route {
	ROUTE_NONE = 0,
	ROUTE_PAGE,         /* / */
	ROUTE_RES,          /* /r/ID */
	ROUTE_HEALTHZ,      /* /healthz */
	ROUTE_METRICS,      /* /metrics */
	ROUTE_CALLS,        /* /api/v1/calls */
	ROUTE_CALL,         /* /api/v1/calls/ID */
	ROUTE_SUBS,         /* /api/v1/subscribers */
	ROUTE_SUB,          /* /api/v1/subscribers/ID */
	ROUTE_RESS,         /* /api/v1/resources */
	ROUTE_RESX,         /* /api/v1/resources/ID */
};

/* Status classes counted for /metrics: index status / 100 (1xx..5xx). */
enum { HTTPD_CLASSES = 6 };
/* Resource answers (/r/ID) counted by status: index status - 100. */
enum { HTTPD_DL_CODES = 500 };

struct httpd {
	struct MHD_Daemon *mhd;
	struct loop_watch *watch;   /* MHD's epoll fd on the loop */
	struct event *tmr;          /* MHD's next timeout */
	struct sa laddr;            /* as bound */
	struct sa adv;              /* --advertise, or unset */
	char *token;                /* the API's bearer token, or NULL */
	char url[64];               /* "http://ADDR:PORT" */
	uint64_t reqs[HTTPD_CLASSES];
	uint64_t dl[HTTPD_DL_CODES];  /* resreq.c */
	uint64_t dl_bytes;          /* body bytes of those answers */
	httpd_served_h *servedh;    /* httpd_served_set() */
	void *served_arg;
	struct list ctxl;           /* struct httpctx: PUT and DELETE */
	bool resumed;               /* a deferred request has its answer */
	bool stopping;              /* in the destructor: nothing defers */
	struct state *state;        /* httpd_state_set() */
	reload_prep_h *prep;        /* converts a resource put */
	void *prep_arg;
};

/* The context of a PUT or DELETE under /api: its body as it arrives, and
 * when its handler waits for work off the loop, the answer to come. */
struct httpctx {
	struct le le;               /* in httpd->ctxl */
	struct httpd *h;
	struct MHD_Connection *conn;
	struct mbuf *body;
	size_t max;                 /* the most the route takes */
	bool too_big;
	bool waiting;               /* suspended until httpd_answer() */
	bool ready;                 /* the answer is in code and resp */
	unsigned code;
	struct MHD_Response *resp;
	void *pend;                 /* the handler's work, released here */
};

/* One request while its handler runs; nothing keeps it afterwards. */
struct httpreq {
	struct httpd *h;
	struct MHD_Connection *conn;
	const char *method;
	const char *url;
	bool head;                  /* HEAD: MHD sends the headers only */
	enum httpd_route route;
	const char *id;             /* the route's ID, or NULL */
	struct httpctx *ctx;        /* PUT, DELETE: the body and answer */
	char base[72];              /* httpd_req_base(), once computed */
};


/** Maps a decoded path to a route; *idp points into url at the ID (or is
 *  NULL for routes without one). */
enum httpd_route httpd_route_parse(const char *url, const char **idp);
/* "http://HOST:PORT" for the URLs of one response: the server's URL, or
 * for a server on 0.0.0.0 or :: without --advertise the address this
 * request arrived on (never the unspecified address). */
const char *httpd_req_base(struct httpreq *rq);

/** Whether the listener is on 127.0.0.0/8 or ::1, so that only this
 *  host can reach it. */
bool httpd_loopback(const struct httpd *h);

/** Checks an Authorization header value (NULL: none) against the API's
 *  bearer token: 0 when it is "Bearer TOKEN", ENOENT when there is none,
 *  EPROTO when its scheme is not Bearer, EACCES for another token. */
int httpd_auth_check(const char *authz, const char *token);

/** Queues resp with the status, counts it, and releases resp (NULL resp:
 *  out of memory, the connection is closed). */
enum MHD_Result httpd_send(struct httpreq *rq, unsigned code,
			   struct MHD_Response *resp);
/** A response whose body is the mem object body (taken over, may be
 *  NULL when len is 0), with Content-Type type if not NULL. */
struct MHD_Response *httpd_resp_mem(char *body, size_t len,
				    const char *type);
/* ---- requests with a body (httpbody.c) ------------------------------- */

/** MHD's con_cls of a request without a context of its own. */
void *httpd_seen(void);
/** MHD_OPTION_NOTIFY_COMPLETED: a request's context goes. */
void httpd_completed(void *cls, struct MHD_Connection *conn,
		     void **con_cls, enum MHD_RequestTerminationCode toe);
/** The first call of a PUT or DELETE: false when its route takes no body
 *  (answer at once), else true with *retp (413, or MHD_YES with a new
 *  context in *con_cls). */
bool httpd_body_begin(struct httpreq *rq, void **con_cls,
		      enum MHD_Result *retp);
/** Appends upload bytes (past the route's most: the body is dropped and
 *  the request gets 413 when it ends). */
int  httpd_body_add(struct httpctx *ctx, const char *p, size_t n);
/** Server stop: deferred requests are cancelled and answered 503, and
 *  none defers from now on; true when one was resumed (MHD must run to
 *  send the answers before it stops). */
bool httpd_ctx_stop(struct httpd *h);
/** The body of a PUT or DELETE, all of it once the handler runs (NULL
 *  when empty). */
const uint8_t *httpd_body(const struct httpreq *rq, size_t *lenp);
/** Suspends the request until httpd_answer(); pend (a mem object: the
 *  handler's work) is released when the request ends or the server
 *  stops, whichever comes first. */
enum MHD_Result httpd_defer(struct httpreq *rq, void *pend);
/** The answer of a deferred request (resp taken over). */
void httpd_answer(struct httpctx *ctx, unsigned code,
		  struct MHD_Response *resp);
/** A response of one JSON document: the odict and a newline. */
struct MHD_Response *httpd_resp_odict(const struct odict *o);
/** {"error": msg, "field": field} (field may be NULL). */
struct MHD_Response *httpd_resp_error(const char *msg, const char *field);
/** {"error": msg, "field": field} (field may be NULL) with code. */
enum MHD_Result httpd_error(struct httpreq *rq, unsigned code,
			    const char *msg, const char *field);
/** 405 with Allow: allow (NULL: "GET, HEAD"). */
enum MHD_Result httpd_not_allowed(struct httpreq *rq, const char *allow);
/** Answers a mem string (taken over) as application/json, or 500 when
 *  printing it failed (err != 0). */
enum MHD_Result httpd_json(struct httpreq *rq, unsigned code, int err,
			   char *body);


/* ---- resources: /r/ID (resreq.c) -------------------------------------- */

enum resreq_range {
	RANGE_FULL = 0,     /* no Range, malformed, or several: send all */
	RANGE_PART,         /* one satisfiable range: 206 */
	RANGE_UNSAT,        /* 416 */
};

/** Evaluates a Range header value (RFC 9110 section 14) against a
 *  representation of size bytes.  On RANGE_PART sets *offp and *lenp. */
enum resreq_range resreq_range_parse(const char *hdr, uint64_t size,
				     uint64_t *offp, uint64_t *lenp);
/** If-None-Match: true when the list names etag (weak comparison) or is
 *  "*".  A malformed list matches nothing. */
bool resreq_etag_match(const char *list, const char *etag);
/** Resource ids are [A-Za-z0-9._-]{1,64}. */
bool resreq_id_valid(const char *id);
enum MHD_Result resreq_handle(struct httpreq *rq, const char *id);


/* ---- API and health (api.c) ------------------------------------------ */

enum MHD_Result api_handle(struct httpreq *rq, enum httpd_route route,
			   const char *id);
/** The largest body the request's method and route take, 0 for none. */
size_t api_body_max(const struct httpreq *rq);
/** The members of a subscriber as the API shows it (with "bindings"). */
int  api_sub_encode(struct odict *o, const struct subscriber *s);
/** The members of a resource; its "url" on base, signed (for no call)
 *  when sign is set. */
int  api_res_encode(struct odict *o, const struct resource *r,
		    const char *base, bool sign);
/** Answers the subscriber as the API shows it, with code. */
enum MHD_Result api_sub_answer(struct httpreq *rq, unsigned code,
			       const struct subscriber *s);
/** A response of the resource as the API shows it, or NULL. */
struct MHD_Response *api_res_resp(const struct resource *r,
				  const char *base, bool sign);


/* ---- PUT and DELETE (api_put.c) --------------------------------------- */

/** A PUT or DELETE of ROUTE_SUB or ROUTE_RESX, its body read. */
enum MHD_Result api_change(struct httpreq *rq, enum httpd_route route,
			   const char *id);


/* ---- /metrics (metrics.c) --------------------------------------------- */

enum MHD_Result metrics_handle(struct httpreq *rq);
/** A label value as the text format writes it: backslash, double quote
 *  and newline escaped (NULL prints nothing). */
int metrics_label_print(struct re_printf *pf, const char *s);


/* ---- the live page: / (page.c, page_html.c) --------------------------- */

extern const char page_html[];      /* the document, NUL-terminated */
extern const size_t page_html_len;  /* its length without the NUL */

enum MHD_Result page_handle(struct httpreq *rq);


/* ---- the client's pure parts (fetch_parse.c) -------------------------- */

enum {
	FETCH_URL_MAX  = 2048,   /* the longest URL fetch_get takes */
	FETCH_HOST_MAX = 64,     /* "[IPv6]:PORT" and then some */
};

/** A URL that fetch_get accepts, taken apart. */
struct fetch_url {
	struct sa addr;                  /* where to connect */
	char host[FETCH_HOST_MAX];       /* the Host header: the authority
					  * as written */
	char target[FETCH_URL_MAX + 2];  /* path and query, "/" when none */
};

/** Parses "http://HOST[:PORT][/path][?query][#fragment]" (fetch.h says
 *  which HOSTs and PORTs); EINVAL for anything else. */
int fetch_url_parse(struct fetch_url *u, const char *url);

/** The state of a chunked body's decoder (RFC 9112 section 7.1);
 *  zeroed to start. */
struct fetch_chunked {
	int st;
	uint64_t left;      /* bytes of the chunk (or its size) so far */
	size_t line;        /* bytes of the current size or trailer line */
	size_t trailer;     /* bytes of the trailer section */
	bool digit;         /* the size line has a hex digit */
	uint8_t ext;        /* 0: in the size, 1: in whitespace after it,
			     * 2: in the extensions */
};

/** Decodes the next n bytes of a chunked body: the chunks' data goes to
 *  the end of out, which may hold at most max bytes.  *usedp: the bytes
 *  consumed, fewer than n only when the body ended inside them.  0, or
 *  EBADMSG for a malformed coding, EFBIG when a chunk would take out past
 *  max (out keeps the chunks before it), ENOMEM. */
int  fetch_chunked_feed(struct fetch_chunked *ch, const uint8_t *p,
			size_t n, struct mbuf *out, size_t max,
			size_t *usedp);
/** Whether the last chunk and the trailer section have ended. */
bool fetch_chunked_done(const struct fetch_chunked *ch);


/* ---- the client's capture (fetch_cap.c) ------------------------------- */

/** How the capture shows the end of an exchange. */
enum fetch_cap_end {
	CAP_SERVER_FIN = 0, /* the server closed: its FIN first */
	CAP_CLIENT_FIN,     /* the body's end was known: the client's first */
	CAP_RESET,          /* the client gave up: a RST/ACK of its own */
};

/** One fetch's capture (fetch.h, fetch_capture_set); zeroed to start. */
struct fetch_cap {
	bool on;            /* asked for */
	bool written;       /* written: the SYN is in the file */
	struct sa local, peer;
	uint32_t cseq, sseq;  /* the next sequence number each way */
};

/** The connection tc is up: when on and pcapw_active(), writes its
 *  handshake and from then on the rest of the exchange. */
void fetch_cap_start(struct fetch_cap *c, const struct tcp_conn *tc);
/** n bytes that passed client to server (out) or back, as segments each
 *  acknowledged by the other side. */
void fetch_cap_data(struct fetch_cap *c, bool out, const uint8_t *p,
		    size_t n);
/** The end of the exchange, as how says; nothing is written after it. */
void fetch_cap_end(struct fetch_cap *c, enum fetch_cap_end how);

#endif
