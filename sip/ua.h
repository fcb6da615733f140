/**
 * @file ua.h  The CMR Client: a SIP user agent that plays the calling or
 *             the called party of each delivery mode
 *
 * `cmrlab call` and `cmrlab demo` drive it.  A struct ua is one SIP stack
 * (UDP, its own port) with the leg layer's dialogs, an optional
 * registration, and the calls it places or answers.  Each call follows the
 * client procedure of its mode (OMA CMR clauses 1.1.1.4, 1.1.1.8 and
 * 1.1.1.11, in cmrc_http.c, cmrc_as.c and cmrc_gw.c), receives the
 * ringback or ringtone, talks with the far end, hangs up, and reports
 * what a user would have heard, with figures and a verdict.
 *
 * HTTP downloads are the owner's (the command wires http/fetch.c in), so
 * that sip/ keeps to core/ and rtp/.
 */
#ifndef CMRLAB_SIP_UA_H
#define CMRLAB_SIP_UA_H

#include <stdbool.h>
#include <stdint.h>
#include <re.h>

struct ua;
struct cmrc;

enum cmrc_mode { CMRC_HTTP = 0, CMRC_AS, CMRC_GATEWAY, CMRC_PLAIN };

const char *cmrc_mode_name(enum cmrc_mode m);
int  cmrc_mode_parse(enum cmrc_mode *mp, const char *s);

/* A finished download, as the owner's fetcher reports it. */
struct cmrc_dl {
	int err;                   /* 0, or why nothing usable came */
	const char *why;           /* "404 Not Found", "connection refused" */
	uint16_t scode;
	const char *ctype;
	size_t bytes;
	const uint8_t *body;       /* valid during the callback only */
};

typedef void (cmrc_dl_h)(const struct cmrc_dl *dl, void *arg);
/* Starts a GET of url; mem_deref(*hp) cancels it (no callback then).
 * The callback comes from the loop, never from inside the call. */
typedef int (cmrc_fetch_h)(void **hp, const char *url, bool capture,
			   cmrc_dl_h *dh, void *arg);

/* Every SIP message the stack sends or receives, as on the wire. */
typedef void (ua_trace_h)(bool tx, const struct sa *src,
			  const struct sa *dst, const uint8_t *pkt,
			  size_t len, void *arg);

struct ua_conf {
	struct sa laddr;           /* SIP over UDP; port 0: any free one */
	uint16_t rtp_lo, rtp_hi;   /* RTP ports (0, 0: any free pair) */
	bool no_update;            /* our Allow lacks UPDATE */
	/* What goes to the pcap (core/pcapw.c), when one is open. */
	bool cap_sip, cap_rtp_rx, cap_rtp_tx, cap_http;
	bool events;               /* each call's events to core/evlog.c */
	cmrc_fetch_h *fetchh;
	ua_trace_h *traceh;
	void *trace_arg;
};

int  ua_alloc(struct ua **uap, const struct ua_conf *conf);
const struct sa *ua_laddr(const struct ua *ua);

typedef void (ua_reg_h)(int err, uint16_t scode, const char *reason,
			void *arg);
/* REGISTER user's binding (this UA's Contact) at registrar, a SIP URI
 * ("sip:127.0.0.1:5060"); expires 0 removes it.  One at a time. */
int  ua_register(struct ua *ua, const char *registrar, const char *user,
		 uint32_t expires, ua_reg_h *rh, void *arg);

/* What one call should do. */
struct cmrc_conf {
	bool callee;               /* the called party (answers) */
	enum cmrc_mode mode;
	char from[64];             /* caller: our user; callee: unused */
	char to[64];               /* caller: the user called */
	char target[128];          /* caller: "sip:HOST:PORT" to send to */
	uint32_t ring_ms;          /* callee: ringing before the answer */
	uint16_t reject;           /* callee: this final status, no answer */
	uint16_t expect;           /* caller: the final status wanted
				    * (0: any 2xx) */
	uint32_t talk_ms;          /* after the answer, before the BYE */
	bool hangup_callee;        /* the callee sends the BYE */
	uint32_t limit_ms;         /* the whole call (0: 60 s + ring/talk) */
	uint32_t keep_ms;          /* audio kept for the result (0: 120 s) */
};

/* What the user got, measured.  Times are from the INVITE (sent by the
 * caller, received by the callee); -1 where nothing was measured. */
struct cmrc_result {
	bool ok;
	char reason[192];          /* why not ok, or what went as it should */
	bool callee;
	enum cmrc_mode mode;
	char callid[96];
	uint16_t final;            /* the INVITE's final status */
	int32_t ms_final;
	/* HTTP mode (and a plain client given a URL) */
	char url[256];
	uint16_t dl_status;
	char dl_why[96];
	char dl_type[80];
	size_t dl_bytes;
	int32_t dl_duration_ms;    /* of the WAV, -1 for another type */
	int32_t ms_download;       /* until the download was complete */
	/* the RTP modes */
	bool reliable_18x;
	bool early_offer;          /* an early-session offer came */
	bool pem_sendrecv;         /* P-Early-Media: sendrecv with SDP */
	unsigned updates;          /* UPDATEs with an offer, from the peer */
	unsigned reinvites;        /* re-INVITEs with an offer */
	int32_t ms_first_tone;     /* the first ringback/ringtone packet */
	int32_t ms_last_tone;      /* ... and the last */
	uint32_t tone_packets;
	int32_t tone_lost;
	double tone_jitter_ms;
	uint32_t tone_ms;          /* tone heard: played (HTTP) or received */
	/* the conversation */
	uint32_t far_packets;
	int32_t far_lost;
	double far_jitter_ms;
	int32_t gap_ms;            /* last tone packet to the far end's
				    * first (may be < 0: they overlapped) */
	bool gap_known;            /* ... both were there */
	uint32_t sent_packets;
	bool bye_sent;
	/* What was heard, 8 kHz mono: the tone, then the far end. */
	const int16_t *pcm;
	size_t npcm;
};

typedef void (cmrc_done_h)(struct cmrc *c, const struct cmrc_result *r,
			   void *arg);

/* Places a call (conf->callee false).  doneh is called once, from the
 * loop; the call is freed with mem_deref (in doneh or later). */
int  cmrc_call(struct cmrc **cp, struct ua *ua, const struct cmrc_conf *conf,
	       cmrc_done_h *doneh, void *arg);
/* Answers every INVITE from now on as conf says (conf->callee true);
 * doneh once per call.  NULL conf: 480 to every INVITE. */
int  ua_answer_set(struct ua *ua, const struct cmrc_conf *conf,
		   cmrc_done_h *doneh, void *arg);
/* The calls not yet done, and the oldest of them. */
unsigned ua_calls(const struct ua *ua);
struct cmrc *ua_call_first(const struct ua *ua);
/* RTP packets a call has received so far (tone and far end). */
unsigned cmrc_packets(const struct cmrc *c);
/* Ends every call (BYE, CANCEL) and the registration, then doneh once
 * no transaction of ours is pending (at most 2 s). */
void ua_shutdown(struct ua *ua, void (*doneh)(void *arg), void *arg);

/* JSON of a result: one object (jsonw style). */
int  cmrc_result_json(struct re_printf *pf, const struct cmrc_result *r);

#endif
