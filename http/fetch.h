/**
 * @file fetch.h  cmrlab HTTP client: one GET on the loop, timed, and
 *                optionally written to the capture file
 *
 * A fetch is one HTTP/1.1 GET over one TCP connection ("Connection:
 * close") to an address literal or localhost: no DNS, no TLS, no
 * redirects, no keep-alive.  It runs on the libevent loop of core/ and
 * reports once, from the loop.
 */
#ifndef CMRLAB_HTTP_FETCH_H
#define CMRLAB_HTTP_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fetch;

/** The outcome of a fetch, as the done handler sees it. */
struct fetch_result {
	/** 0, or an errno: ECONNREFUSED, ETIMEDOUT, EBADMSG (a response
	 *  that cannot be read), EFBIG (a body over max_bytes), or what the
	 *  socket reported (ECONNRESET, ENETUNREACH, ...).  A response with
	 *  any status, 404 included, is err 0: look at scode. */
	int err;
	/** Human words: "404 Not Found" (the status line's code and
	 *  reason, for every response when err is 0), or what went wrong:
	 *  "connection refused", "no response within 300 ms", ... */
	char why[128];
	uint16_t scode;            /**< HTTP status, 0 when none came */
	char ctype[80];            /**< Content-Type as sent (cut to fit),
				    *   "" when none */
	/** Body bytes kept: the whole body when err is 0; on an error what
	 *  had arrived (at most max_bytes; 0 when a Content-Length over
	 *  max_bytes ended the fetch before its body). */
	size_t bytes;
	/** Since fetch_get, on CLOCK_MONOTONIC, in whole ms (cut, not
	 *  rounded: on loopback 0 is common); 0 also for what did not
	 *  happen (no connection, no byte received). */
	uint32_t ms_connect, ms_first_byte, ms_done;
	/** bytes of body (decoded when chunked); valid only during the
	 *  callback.  May be NULL when bytes is 0. */
	const uint8_t *body;
};

typedef void (fetch_done_h)(const struct fetch_result *r, void *arg);

/**
 * GETs url, "http://HOST[:PORT][/path][?query]" with HOST an IPv4
 * literal, a bracketed IPv6 literal or "localhost" (127.0.0.1); PORT
 * 1..65535, 80 when left out.  A fragment ("#...") is not sent.
 *
 * Sends HTTP/1.1 with Host (the URL's authority as written), User-Agent
 * cmrlab/VERSION and Connection: close.  Reads the body by
 * Content-Length, by chunked transfer coding (decoded), or until the
 * server closes; at most max_bytes of it (EFBIG past that).  timeout_ms
 * bounds the whole exchange, connecting included.  1xx responses before
 * the final one are skipped; 204 and 304 have no body.
 *
 * Returns EINVAL at once, without a callback, for a URL of another
 * scheme or host, a bad port, a NULL argument or timeout_ms 0; ENOMEM
 * likewise.  Otherwise returns 0 and done is called exactly once, from
 * the loop (never from inside fetch_get), however the fetch ends.
 * mem_deref of the fetch before then cancels it: no callback follows.
 * The fetch stays allocated after the callback until the caller's
 * mem_deref, which the callback may do itself.
 */
int  fetch_get(struct fetch **fp, const char *url, uint32_t timeout_ms,
	       size_t max_bytes, fetch_done_h *done, void *arg);

/**
 * When on and pcapw_active() once the connection is up, the exchange is
 * written to the capture file as TCP between the connection's real local
 * and remote addresses and ports: SYN, SYN-ACK, ACK; the request and the
 * response in segments of at most 1400 bytes, each acknowledged by the
 * next packet; then FIN/ACK both ways and a last ACK, the server's FIN
 * first when it closed, the client's when the body's end was known; or a
 * RST/ACK from the client when the client gave up (a timeout, a response
 * it refused, a cancel).  The sequence numbers start at random values and
 * count every byte, SYN and FIN one each.  The packets are synthesized
 * from what the socket passed, not taken from the wire.  Call it right
 * after fetch_get: a change once the connection is up is ignored.
 */
void fetch_capture_set(struct fetch *f, bool on);

#endif
