/**
 * @file sip.h  The SIP CMR Server: transports, registrar, B2BUA, policy
 */
#ifndef CMRLAB_SIP_H
#define CMRLAB_SIP_H

#include <re.h>

struct sipsrv;

struct sipsrv_conf {
	struct sa laddr;           /* UDP and TCP listen address */
	char http_base[128];       /* "http://ADDR:PORT" for Alert-Info URLs */
	unsigned max_calls;        /* 503 beyond this many live calls */
	struct streamer *streamer; /* RTP for the AS mode; NULL: no RTP */
};

typedef void (sipsrv_done_h)(void *arg);

int  sipsrv_alloc(struct sipsrv **sp, const struct sipsrv_conf *conf);
/** The bound UDP address (TCP is on the same port). */
const struct sa *sipsrv_laddr(const struct sipsrv *s);
/** Ends every call (BYE, CANCEL, 503) and calls doneh once no SIP
 *  transaction of ours is pending any more. */
void sipsrv_shutdown(struct sipsrv *s, sipsrv_done_h *doneh, void *arg);

#endif
