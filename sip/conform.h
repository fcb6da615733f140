/**
 * @file conform.h  cmrlab conform: the catalogue of conformance cases and
 *                  the judge that gives each a verdict from a run's trace
 *
 * A run is one call that the box makes with the device under test (DUT):
 * as calling and called party through a DUT that is a CMR Server, or as
 * CMR Server and far end for a DUT that is a CMR Client.  It leaves a
 * trace: every SIP message the box exchanged, which of the box's parties
 * sent or received it and when, the media figures of the box's user
 * agents, and the downloads the box's resource server answered.
 *
 * A case (conform_cat.c, the one place they are written) names a run, the
 * clause it checks and one or two tests; a test is a check over the
 * messages a selector picks.  The case passes when every test holds, fails
 * when one does not, and is inconclusive when its precondition does not
 * hold (the run did not reach the point the case is about, e.g. a DUT
 * that did not ask for the mode).  Every verdict comes with the lines of
 * the messages that decided it.
 *
 * Selectors: "PARTY DIR WHAT", no spaces.  PARTY is the box's side of the
 * exchange: caller, callee (the DUT is a server), dut (the box's server
 * talking to the DUT), far (the box's far end).  DIR is '<' for a message
 * the box received, '>' for one it sent.  WHAT is a method (INVITE is the
 * initial one, reINVITE one within the dialog), a response "CODE/METHOD"
 * with CODE a number, 1xx, 18x (101 to 199) or 2xx, "rel18x" (an 18x with
 * RSeq), or '*' for every message.  "caller<18x": the provisional
 * responses the box's calling party received.
 */
#ifndef CMRLAB_CONFORM_H
#define CMRLAB_CONFORM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "sip/ua.h"

enum cf_role { CF_SERVER = 0, CF_CLIENT };       /* the DUT's role */
enum cf_party { CF_CALLER = 0, CF_CALLEE, CF_DUT, CF_FAR, CF_NPARTY };
enum cf_verdict { CF_PASS = 0, CF_FAIL, CF_INCONC, CF_NOTRUN };

enum cf_chk {
	CK_NONE = 0,
	CK_HAS,        /* sel: a message was exchanged */
	CK_TOKENS,     /* sel, arg "Hdr:tok,tok": one has every option tag */
	CK_NOTOKEN,    /* sel, arg "Hdr:tok": none has it */
	CK_HDRVAL,     /* sel, arg "Hdr:value": one has the header so
			* ("Hdr:": one has the header) */
	CK_URL,        /* sel: one has Alert-Info <http://...> */
	CK_ES_OFFER,   /* sel: one carries an early-session SDP offer */
	CK_ES_ANSWER,  /* sel answers sel2's early-session offer */
	CK_SDP_ANSWER, /* sel's session SDP answers sel2's offer */
	CK_NO_SDP,     /* sel: the first has no SDP */
	CK_RSEQ,       /* sel: RSeq in range, +1 per new response */
	CK_RACK,       /* sel (PRACKs) acknowledge sel2 (reliable 1xx) */
	CK_PRACKED,    /* sel's first (a 2xx) comes after the PRACK (arg, a
			* selector) of each reliable 1xx of sel2 before it
			* that carried an SDP (RFC 3262 3) */
	CK_BEFORE,     /* sel's first comes before sel2's first */
	CK_OVERSION,   /* sel2's SDP follows sel's o= (RFC 3264 8) */
	CK_SAME_MEDIA, /* sel's SDP has sel2's connection and ports */
	CK_SAME_SDP,   /* sel: every SDP the same */
	CK_PEM_VALID,  /* sel: every P-Early-Media value of RFC 5009 */
	CK_TONE,       /* arg party: tone RTP before its final, not before
			* sel (the message that allowed it) */
	CK_TONE_STOP,  /* arg party: no tone RTP after the final */
	CK_FAR_MEDIA,  /* arg party: the other side's RTP after the answer */
	CK_DOWNLOAD,   /* arg party: its download of the URL got the media */
	CK_DUT_GET,    /* the DUT fetched the URL sel carried */
};

struct cf_test {
	enum cf_chk chk;
	const char *sel;
	const char *sel2;
	const char *arg;
};

struct cf_case {
	const char *id;            /* "CMR-AS-BT-SRV-01" */
	const char *clause;        /* "OMA CMR 1.1.1.7", "RFC 3262 3" */
	const char *quote;         /* the SHALL, as the text has it */
	enum cf_role role;         /* of the DUT */
	const char *run;           /* the call it is judged on */
	/* the test purpose, TS 34.229 style */
	const char *initial;       /* initial state */
	const char *ensure;        /* ensure that (what is checked) */
	const char *when;
	const char *then;
	struct cf_test pre;        /* else inconclusive (CK_NONE: none) */
	struct cf_test test[2];    /* every one must hold */
};

extern const struct cf_case cf_cases[];
extern const size_t cf_ncases;

/* One run's runs: what the box does in it (cmd/conform*.c). */
struct cf_rundef {
	const char *id;            /* "as-bt" */
	enum cf_role role;
	const char *title;
};
extern const struct cf_rundef cf_runs[];
extern const size_t cf_nruns;

/* One SIP message of a run. */
struct cf_msg {
	uint32_t t_ms;             /* since the run started */
	uint8_t party;             /* enum cf_party */
	bool rx;                   /* the box received it */
	struct sip_msg *msg;
};

/* A GET the box's resource server answered (the DUT is a client). */
struct cf_get {
	uint32_t t_ms;
	char path[128];
	uint16_t status;
	uint64_t bytes;
};

enum { CF_GETS_MAX = 16, CF_MSGS_MAX = 256, CF_EVIDENCE = 1536 };

struct cf_run {
	const char *id;
	bool made;                 /* the run took place */
	char why[192];             /* if not, why */
	struct cf_msg msgv[CF_MSGS_MAX];
	size_t msgc;
	size_t dropped;            /* messages past CF_MSGS_MAX, not kept */
	struct cmrc_result res[CF_NPARTY];  /* pcm NULL */
	bool has_res[CF_NPARTY];
	struct cf_get getv[CF_GETS_MAX];
	size_t getc;
};

struct cf_verdict_t {
	enum cf_verdict v;
	char evidence[CF_EVIDENCE];
};

const char *cf_party_name(enum cf_party p);
const char *cf_verdict_name(enum cf_verdict v);
const char *cf_role_name(enum cf_role r);
const struct cf_rundef *cf_rundef_find(const char *id);

/** Adds a message to the run, decoded (a message libre cannot decode is
 *  left out); EOVERFLOW past CF_MSGS_MAX (counted in dropped: the
 *  verdicts say so). */
int  cf_run_add(struct cf_run *run, uint32_t t_ms, enum cf_party party,
		bool rx, const uint8_t *pkt, size_t len);
/** Frees the run's messages and empties it. */
void cf_run_reset(struct cf_run *run);

/** Whether sel is a selector of the grammar above. */
bool cf_sel_valid(const char *sel);
/** The messages of run that sel picks, in order: at most n indexes into
 *  run->msgv; returns how many there are. */
size_t cf_select(const struct cf_run *run, const char *sel, size_t *idx,
		 size_t n);

/** The verdict of case c on the run (a run not made: inconclusive). */
void cf_judge(const struct cf_case *c, const struct cf_run *run,
	      struct cf_verdict_t *v);

/** Whether id matches the pattern: '*' matches any run of characters. */
bool cf_id_match(const char *pattern, const char *id);

#endif
