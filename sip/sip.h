/**
 * @file sip.h  The SIP CMR Server: transports, registrar, B2BUA, policy
 */
#ifndef CMRLAB_SIP_H
#define CMRLAB_SIP_H

#include <re.h>

struct sipsrv;

struct sipsrv_conf {
	struct sa laddr;           /* UDP and TCP listen address; 0.0.0.0 or
				    * ::, every local address (listen.c) */
	struct sa advertise;       /* --advertise (port unused), or unset:
				    * names us in Via, Contact, SDP, URLs */
	struct sa http_laddr;      /* the HTTP listener as bound, or unset */
	char http_base[128];       /* "http://ADDR:PORT" for Alert-Info URLs;
				    * sipsrv_alloc makes it concrete */
	unsigned max_calls;        /* 503 beyond this many live calls */
	const char *digest;        /* --digest: algorithms offered, in order;
				    * NULL: SHA-256,MD5 */
	struct streamer *streamer; /* RTP for the AS mode; NULL: no RTP */
	/* Every SIP message sent or received, as on the wire (the
	 * conformance box judges a device by them); NULL: none. */
	void (*traceh)(bool tx, const struct sa *src, const struct sa *dst,
		       const uint8_t *pkt, size_t len, void *arg);
	void *trace_arg;
};

typedef void (sipsrv_done_h)(void *arg);

int  sipsrv_alloc(struct sipsrv **sp, const struct sipsrv_conf *conf);
/** 0 if list is good for --digest: SHA-256 and MD5, comma-separated, each
 *  at most once, in the order the challenges offer them; else EINVAL. */
int  sipauth_algs_check(const char *list);
/** The bound UDP address (TCP is on the same port): the --sip address
 *  with its port, also when that is 0.0.0.0 or ::. */
const struct sa *sipsrv_laddr(const struct sipsrv *s);
/** The address requests leave from (the first transport's); the same as
 *  sipsrv_laddr() unless that is the unspecified address. */
const struct sa *sipsrv_primary(const struct sipsrv *s);
/** Ends every call (BYE, CANCEL, 503) and calls doneh once no SIP
 *  transaction of ours is pending any more. */
void sipsrv_shutdown(struct sipsrv *s, sipsrv_done_h *doneh, void *arg);


/* ---- messages counted for /metrics (sipstat.c) ------------------------ */

/* The methods counted by name; the last index is "other". */
enum { SIPSTAT_METHODS = 15 };

enum sipstat_kind {
	SIPSTAT_NONE = 0,
	SIPSTAT_REQUEST,
	SIPSTAT_RESPONSE,
};

/** A message's start line: a request (*methodp: its index) or a response
 *  with a code of 100-699 (*scodep); SIPSTAT_NONE for anything else. */
enum sipstat_kind sipstat_classify(const uint8_t *pkt, size_t len,
				   unsigned *methodp, uint16_t *scodep);
/** Counts one message the server sent (tx) or received. */
void sipstat_count(bool tx, const uint8_t *pkt, size_t len);
/** "INVITE" ... "other" for 0 .. SIPSTAT_METHODS - 1, else NULL. */
const char *sipstat_method_name(unsigned i);
uint64_t sipstat_requests(bool tx, unsigned method);
/** The responses with status code scode (100-699; 0 outside). */
uint64_t sipstat_responses(bool tx, uint16_t scode);
void sipstat_reset(void);

#endif
