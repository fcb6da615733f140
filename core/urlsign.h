/**
 * @file urlsign.h  Signed resource URLs: /r/ID?call=CALL&exp=T&sig=HEX
 *
 * The SIP side signs the URL it puts in Alert-Info; the HTTP side checks
 * it before it lets the request add an event to the call it names.
 */
#ifndef CMRLAB_URLSIGN_H
#define CMRLAB_URLSIGN_H

#include <stddef.h>
#include <stdint.h>

enum {
	URLSIGN_HEX       = 64,     /* HMAC-SHA256, lowercase hex */
	URLSIGN_TTL_DEF   = 300,    /* seconds, without --url-ttl */
	URLSIGN_TTL_MAX   = 86400,
	URLSIGN_MARGIN    = 60,     /* past the ring limit */
};

/** --url-ttl: every URL signed from now on is valid for s seconds
 *  (0: the default, see urlsign_expiry()). */
void urlsign_ttl_set(uint32_t s);
/** The expiry (UNIX seconds) of a URL signed now for a call that may
 *  ring ring_s seconds (0: no limit): now + --url-ttl when given, else
 *  now + the longer of URLSIGN_TTL_DEF and ring_s + URLSIGN_MARGIN. */
uint64_t urlsign_expiry(uint32_t ring_s);

/** Writes the signature of (resid, callid, exp) as URLSIGN_HEX hex digits
 *  and a NUL into sig (sz > URLSIGN_HEX).  EINVAL for an empty id, ENOTSUP
 *  when libre has no HMAC-SHA256. */
int  urlsign_sign(char *sig, size_t sz, const char *resid,
		  const char *callid, uint64_t exp);
/** Checks a URL's query values as received (any may be NULL): 0 when sig
 *  is the signature of (resid, callid, exp) and now is not past exp;
 *  ETIMEDOUT when it is, EACCES for any other mismatch (a malformed exp
 *  or sig, an altered field). */
int  urlsign_verify(const char *resid, const char *callid, const char *exp,
		    const char *sig, uint64_t now);

#endif
