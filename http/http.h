/**
 * @file http.h  cmrlab HTTP: resource server and API on the one loop
 *
 * One libmicrohttpd daemon serves the media of HTTP mode (/r/ID), the
 * JSON API (/api/v1/...), /metrics and /healthz.  It runs without threads
 * on the libevent loop of core/, so its handlers read the live table
 * directly.  Every request looks the table up afresh: a SIGHUP that
 * replaces the table is visible to the next request.
 */
#ifndef CMRLAB_HTTP_H
#define CMRLAB_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include "core/core.h"

struct sa;
struct httpd;

/** Starts the server on laddr (port 0 picks a free port).  loop_init()
 *  must have run.  mem_deref of the server stops it and closes every
 *  connection; do not do that from inside one of its requests. */
int httpd_alloc(struct httpd **hp, const struct sa *laddr);
/** The address actually bound. */
const struct sa *httpd_laddr(const struct httpd *h);
/** Writes "http://ADDR:PORT" (IPv6 in brackets), the base of every URL
 *  the server hands out.  ENOMEM if buf is too small.  For a server on
 *  0.0.0.0 or :: the API's URLs name the address each request arrived
 *  on instead, unless an address is advertised. */
int httpd_url(const struct httpd *h, char *buf, size_t sz);
/** --advertise: the address the URLs the server hands out name. */
int httpd_advertise(struct httpd *h, const struct sa *ip);
/** --api-token-file: from now on every /api/... request needs
 *  "Authorization: Bearer TOKEN" (token copied; NULL or "" lifts the
 *  requirement).  /healthz, /metrics and /r/ID stay open. */
int httpd_token_set(struct httpd *h, const char *token);

/** The API's PUT and DELETE change the live table through st (kept by
 *  the caller, who outlives the server); prep converts a resource put
 *  (WAV to frames) on a job's thread, as a reload's does.  Without st
 *  the API is read-only (PUT and DELETE get 405). */
int httpd_state_set(struct httpd *h, struct state *st, reload_prep_h *prep,
		    void *prep_arg);

/** Called once per request for a resource (/r/ID) with its answer: the
 *  peer, the path without the query, the status and the bytes of the
 *  body.  The conformance box sees by it what a device fetched. */
typedef void (httpd_served_h)(const struct sa *peer, const char *path,
			      unsigned status, uint64_t bytes, void *arg);
void httpd_served_set(struct httpd *h, httpd_served_h *sh, void *arg);

#endif
