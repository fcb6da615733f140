/**
 * @file conform_cat.c  The catalogue of conformance cases: one per SHALL of
 *                      OMA CMR clauses 1.1.1.3, 1.1.1.4, 1.1.1.7, 1.1.1.8,
 *                      1.1.1.10 and 1.1.1.11, and per RFC rule those
 *                      procedures rest on
 *
 * Data only: each case names its run, quotes its clause, states its test
 * purpose and gives the tests of conform.h that decide it.  The server
 * runs (the DUT is a CMR Server) have the box's calling party call its
 * called party through the DUT; the client runs (the DUT is a CMR Client)
 * have the DUT call the box's far end through the box's CMR Server, or
 * the far end call the DUT.  docs/conform.md holds this table as text; a
 * test keeps the two the same.
 */
#include <stddef.h>
#include "sip/conform.h"

const struct cf_rundef cf_runs[] = {
	{ "http-bt",     CF_SERVER, "HTTP mode, ringback: a caller that "
	  "asks for no other mode calls the callee" },
	{ "http-rt",     CF_SERVER, "HTTP mode, ringtone: the callee "
	  "asks for no other mode" },
	{ "as-bt",       CF_SERVER, "Application server mode, ringback: "
	  "the caller supports early-session and 100rel" },
	{ "as-rt",       CF_SERVER, "Application server mode, ringtone: "
	  "the callee's reliable 180 supports early-session" },
	{ "gw-bt",       CF_SERVER, "Gateway mode, ringback: the caller "
	  "sends P-Early-Media: supported and allows UPDATE" },
	{ "gw-reinvite", CF_SERVER, "Gateway mode, ringback: the same "
	  "caller without UPDATE in its Allow" },
	{ "c-http-bt",   CF_CLIENT, "The DUT calls a subscriber whose "
	  "ringback goes in HTTP mode" },
	{ "c-http-rt",   CF_CLIENT, "The far end calls the DUT, whose "
	  "ringtone goes in HTTP mode" },
	{ "c-as-bt",     CF_CLIENT, "The DUT calls a subscriber whose "
	  "ringback goes in application server mode" },
	{ "c-as-rt",     CF_CLIENT, "The far end calls the DUT, whose "
	  "ringtone goes in application server mode" },
	{ "c-gw-bt",     CF_CLIENT, "The DUT calls a subscriber whose "
	  "ringback goes in gateway mode" },
};

const size_t cf_nruns = sizeof(cf_runs) / sizeof(cf_runs[0]);


#define Q_HTTP_BT "For CMRBT, CMR Server SHALL insert the URL of CMR " \
	"Resource into the provisional response message and forward it " \
	"to calling party CMR Client."
#define Q_HTTP_RT "For CMRT, CMR Server SHALL insert the URL of CMR " \
	"Resource into the call initiation message and forward it to " \
	"called party CMR Client."
#define Q_AS_BT "For CMRBT, if there is an \"Early-Session\" option tag " \
	"and \"100rel\" in the \"Supported\" header of the call initiation " \
	"message, CMR Server SHALL perform the following process on the " \
	"provisional response message, and then forward it to the calling " \
	"party CMR Client."
#define Q_AS_RT "For CMRT, if there is an \"Early-Session\" option tag " \
	"and \"100rel\" in the \"Supported\" header of the provisional " \
	"response message, CMR Server SHALL perform the following process " \
	"on the confirmation message of provisional response, and then " \
	"forward it to the called party CMR Client."
#define Q_GW_BT "For CMRBT, if there is an \"P-Early-Media: supported\" " \
	"header in the call initiation message, CMR Server SHALL perform " \
	"the following process on the provisional response message, and " \
	"then forward it to the calling party CMR Client."
#define Q_GW_FINAL "Before forwarding the final answer, the CMR Server " \
	"SHALL send the UPDATE/re-INVITE request with the SDP answer of " \
	"the called party, then after updating the session description, " \
	"the CMR Server SHALL send it via a \"200 OK\" response without SDP " \
	"towards the calling party CMR Client."
#define Q_RSEQ "The value of the header field for the first reliable " \
	"provisional response in a transaction MUST be between 1 and " \
	"2**31 - 1. [...] The value of the RSeq in each subsequent " \
	"reliable provisional response for the same request MUST be " \
	"greater by exactly one. RSeq numbers MUST NOT wrap around. " \
	"[Erratum 4600: the numbering is per early dialog.]"
#define Q_NO2XX "A UAS MAY send a final response to the initial request " \
	"before having received PRACKs for all unacknowledged reliable " \
	"provisional responses, unless the final response is 2xx and any " \
	"of the unacknowledged reliable provisional responses contained a " \
	"session description."
#define Q_RACK "The RAck header field contains two numbers and a method " \
	"tag. The first number is the value from the RSeq header in the " \
	"provisional response that is being acknowledged. The next number, " \
	"and the method, are copied from the CSeq in the response that is " \
	"being acknowledged."
#define Q_PRACK "If a provisional response is received for an initial " \
	"request, and that response contains a Require header field " \
	"containing the option tag 100rel, the response is to be sent " \
	"reliably. [...] Assuming the response is to be transmitted " \
	"reliably, the UAC MUST create a new request with method PRACK."
#define Q_OVERSION "When issuing an offer that modifies the session, the " \
	"\"o=\" line of the new SDP MUST be identical to that in the " \
	"previous SDP, except that the version in the origin field MUST " \
	"increment by one from the previous SDP."

#define SRV_UP "The DUT (CMR Server) has the box's called party " \
	"registered; the box's calling party sends its INVITE to the DUT."
#define CLI_UP "The DUT (CMR Client) is registered at the box, which is " \
	"its CMR Server, CMR Resource Server and far end."


const struct cf_case cf_cases[] = {

	/* ---- 1.1.1.3 HTTP mode, CMR Server ---------------------------- */
	{ "CMR-HTTP-BT-SRV-01", "OMA CMR 1.1.1.3", Q_HTTP_BT, CF_SERVER,
	  "http-bt", SRV_UP,
	  "the provisional response to the caller carries the URL of the "
	  "CMR Resource",
	  "the callee rings (180)",
	  "the 18x the caller receives has Alert-Info: <http://...>",
	  { CK_NONE, NULL, NULL, NULL },
	  { { CK_URL, "caller<18x", NULL, NULL } } },

	{ "CMR-HTTP-BT-SRV-02", "OMA CMR 1.1.1.3", Q_HTTP_BT, CF_SERVER,
	  "http-bt", SRV_UP,
	  "the URL in the provisional response is that of a CMR Resource",
	  "the caller fetches the URL",
	  "the resource server answers 200 with the media",
	  { CK_URL, "caller<18x", NULL, NULL },
	  { { CK_DOWNLOAD, NULL, NULL, "caller" } } },

	{ "CMR-HTTP-RT-SRV-01", "OMA CMR 1.1.1.3", Q_HTTP_RT, CF_SERVER,
	  "http-rt", SRV_UP,
	  "the call initiation message to the callee carries the URL of "
	  "the CMR Resource",
	  "the DUT forwards the INVITE to the callee",
	  "that INVITE has Alert-Info: <http://...>",
	  { CK_NONE, NULL, NULL, NULL },
	  { { CK_URL, "callee<INVITE", NULL, NULL } } },

	{ "CMR-HTTP-RT-SRV-02", "OMA CMR 1.1.1.3", Q_HTTP_RT, CF_SERVER,
	  "http-rt", SRV_UP,
	  "the URL in the INVITE is that of a CMR Resource",
	  "the callee fetches the URL",
	  "the resource server answers 200 with the media",
	  { CK_URL, "callee<INVITE", NULL, NULL },
	  { { CK_DOWNLOAD, NULL, NULL, "callee" } } },

	/* ---- 1.1.1.7 application server mode, CMR Server --------------- */
	{ "CMR-AS-BT-SRV-01", "OMA CMR 1.1.1.7", Q_AS_BT
	  " - Insert an Early-Session SDP offer.", CF_SERVER, "as-bt",
	  SRV_UP " Its INVITE has Supported: 100rel, early-session.",
	  "the provisional response to the caller carries an "
	  "early-session SDP offer",
	  "the callee rings (180)",
	  "an 18x the caller receives has a body part with "
	  "Content-Disposition: early-session holding an SDP offer",
	  { CK_NONE, NULL, NULL, NULL },
	  { { CK_ES_OFFER, "caller<18x", NULL, NULL } } },

	{ "CMR-AS-BT-SRV-02", "OMA CMR 1.1.1.7", Q_AS_BT
	  " - Insert an \"Early-Session\" and \"100rel\" option tag into "
	  "the \"Require\" header field if they don't exist.", CF_SERVER,
	  "as-bt", SRV_UP " Its INVITE has Supported: 100rel, "
	  "early-session.",
	  "that provisional response requires early-session and 100rel",
	  "the callee rings (180)",
	  "the 18x with the early-session offer has Require: 100rel, "
	  "early-session",
	  { CK_ES_OFFER, "caller<18x", NULL, NULL },
	  { { CK_TOKENS, "caller<18x", NULL,
	      "Require:100rel,early-session" } } },

	{ "CMR-AS-BT-SRV-03", "OMA CMR 1.1.1.7", "After receiving the "
	  "Early-Session SDP answer from calling party CMR Client, CMR "
	  "Server SHALL instruct CMR Resource Server to play the CMR "
	  "Resource for calling party CMR Client until receiving the "
	  "final response from the Called Party.", CF_SERVER, "as-bt",
	  SRV_UP " The caller answers the early-session offer in its "
	  "PRACK.",
	  "the CMR Resource plays to the caller's early-session address",
	  "the caller has sent the early-session answer",
	  "RTP reaches the caller's early-session port after its PRACK "
	  "and before the final response",
	  { CK_ES_ANSWER, "caller>PRACK", "caller<rel18x", NULL },
	  { { CK_TONE, "caller>PRACK", NULL, "caller" } } },

	{ "CMR-AS-BT-SRV-04", "OMA CMR 1.1.1.7", "If a final answer is "
	  "received by the CMR Server, the CMR Server SHALL request the "
	  "CMR Resource Server to stop playing the CMR Resource.",
	  CF_SERVER, "as-bt", SRV_UP " The CMR Resource plays to the "
	  "caller.",
	  "the CMR Resource stops at the final answer",
	  "the callee answers (200)",
	  "no RTP of the resource reaches the caller later than 100 ms "
	  "after the 200 (INVITE)",
	  { CK_TONE, "caller>PRACK", NULL, "caller" },
	  { { CK_TONE_STOP, NULL, NULL, "caller" } } },

	{ "CMR-AS-RT-SRV-01", "OMA CMR 1.1.1.7", Q_AS_RT
	  " - Insert an Early-Session SDP offer.", CF_SERVER, "as-rt",
	  SRV_UP " The callee's reliable 180 has Supported: 100rel, "
	  "early-session.",
	  "the PRACK to the callee carries an early-session SDP offer",
	  "the caller's side acknowledges the callee's reliable 180",
	  "the PRACK the callee receives has a body part with "
	  "Content-Disposition: early-session holding an SDP offer",
	  { CK_TOKENS, "callee>rel18x", NULL, "Supported:early-session" },
	  { { CK_ES_OFFER, "callee<PRACK", NULL, NULL } } },

	{ "CMR-AS-RT-SRV-02", "OMA CMR 1.1.1.7", Q_AS_RT
	  " - Insert an \"Early-Session\" option tag into the \"Require\" "
	  "header field.", CF_SERVER, "as-rt",
	  SRV_UP " The callee's reliable 180 has Supported: 100rel, "
	  "early-session.",
	  "the PRACK with the early-session offer requires early-session",
	  "the caller's side acknowledges the callee's reliable 180",
	  "that PRACK has Require: early-session",
	  { CK_ES_OFFER, "callee<PRACK", NULL, NULL },
	  { { CK_TOKENS, "callee<PRACK", NULL, "Require:early-session" } } },

	{ "CMR-AS-RT-SRV-03", "OMA CMR 1.1.1.7", "After receiving the "
	  "Early-Session SDP answer from called party CMR Client, CMR "
	  "Server SHALL instruct CMR Resource Server to play the CMR "
	  "Resource for called party CMR Client until [...] the call is "
	  "answered.", CF_SERVER, "as-rt",
	  SRV_UP " The callee answers the early-session offer in the 200 "
	  "of the PRACK.",
	  "the CMR Resource plays to the callee's early-session address",
	  "the callee has sent the early-session answer",
	  "RTP reaches the callee's early-session port after its 200 "
	  "(PRACK) and before it answers",
	  { CK_ES_ANSWER, "callee>200/PRACK", "callee<PRACK", NULL },
	  { { CK_TONE, "callee>200/PRACK", NULL, "callee" } } },

	{ "CMR-AS-RT-SRV-04", "OMA CMR 1.1.1.7", "[...] play the CMR "
	  "Resource for called party CMR Client until receiving the final "
	  "response from called party the call is answered.", CF_SERVER,
	  "as-rt", SRV_UP " The CMR Resource plays to the callee.",
	  "the ringtone stops when the call is answered",
	  "the callee answers (200)",
	  "no RTP of the resource reaches the callee later than 100 ms "
	  "after its 200 (INVITE)",
	  { CK_TONE, "callee>200/PRACK", NULL, "callee" },
	  { { CK_TONE_STOP, NULL, NULL, "callee" } } },

	/* ---- 1.1.1.10 gateway mode, CMR Server ------------------------- */
	{ "CMR-GW-BT-SRV-01", "OMA CMR 1.1.1.10", Q_GW_BT
	  " - Insert a SDP answer for CMRBT based on calling party CMR "
	  "Client's SDP Offer.", CF_SERVER, "gw-bt",
	  SRV_UP " Its INVITE has P-Early-Media: supported and an SDP "
	  "offer.",
	  "the provisional response carries an SDP answer to the caller's "
	  "offer",
	  "the callee rings (180)",
	  "an 18x the caller receives has a session SDP with the offer's "
	  "m-lines, a port and codecs from the offer",
	  { CK_NONE, NULL, NULL, NULL },
	  { { CK_SDP_ANSWER, "caller<18x", "caller>INVITE", NULL } } },

	{ "CMR-GW-BT-SRV-02", "OMA CMR 1.1.1.10", Q_GW_BT
	  " - Insert a \"P-Early-Media: sendrecv\" header field.",
	  CF_SERVER, "gw-bt", SRV_UP " Its INVITE has P-Early-Media: "
	  "supported.",
	  "the provisional response authorises early media",
	  "the callee rings (180)",
	  "the 18x the caller receives has P-Early-Media: sendrecv",
	  { CK_NONE, NULL, NULL, NULL },
	  { { CK_HDRVAL, "caller<18x", NULL,
	      "P-Early-Media:sendrecv" } } },

	{ "CMR-GW-BT-SRV-03", "OMA CMR 1.1.1.10", Q_GW_BT
	  " - Insert \"100rel\" option tag in the Require header.",
	  CF_SERVER, "gw-bt", SRV_UP " Its INVITE has P-Early-Media: "
	  "supported and Supported: 100rel.",
	  "the provisional response is sent reliably",
	  "the callee rings (180)",
	  "the 18x with the SDP answer has Require: 100rel",
	  { CK_NONE, NULL, NULL, NULL },
	  { { CK_TOKENS, "caller<18x", NULL, "Require:100rel" } } },

	{ "CMR-GW-BT-SRV-04", "OMA CMR 1.1.1.10", "After that, CMR Server "
	  "SHALL instruct CMR Resource Server to play the CMR Resource to "
	  "calling party CMR Client.", CF_SERVER, "gw-bt",
	  SRV_UP " The caller has the 18x with the SDP answer and "
	  "P-Early-Media: sendrecv (a client plays early media only when "
	  "it is authorised so).",
	  "the CMR Resource plays to the caller's SDP address",
	  "the 18x with the answer has been sent",
	  "RTP reaches the caller's port before the final response",
	  { CK_HDRVAL, "caller<18x", NULL, "P-Early-Media:sendrecv" },
	  { { CK_TONE, "caller<18x", NULL, "caller" } } },

	{ "CMR-GW-BT-SRV-05", "OMA CMR 1.1.1.10", "If a final answer is "
	  "received by the CMR Server - The CMR Server SHALL request the "
	  "CMR Resource Server to stop playing the CMR Resource.",
	  CF_SERVER, "gw-bt", SRV_UP " The CMR Resource plays to the "
	  "caller.",
	  "the CMR Resource stops at the final answer",
	  "the callee answers (200)",
	  "no RTP of the resource reaches the caller later than 100 ms "
	  "after the 200 (INVITE)",
	  { CK_TONE, "caller<18x", NULL, "caller" },
	  { { CK_TONE_STOP, NULL, NULL, "caller" } } },

	{ "CMR-GW-BT-SRV-06", "OMA CMR 1.1.1.10", Q_GW_FINAL, CF_SERVER,
	  "gw-bt", SRV_UP " The caller allows UPDATE, and has PRACKed the "
	  "reliable 18x before the callee answers (an UPDATE needs the "
	  "early offer/answer complete, RFC 3311 5.1).",
	  "the caller gets the callee's SDP in an UPDATE before the final "
	  "answer",
	  "the callee answers (200) with its SDP",
	  "the caller receives an UPDATE whose SDP has the callee's "
	  "connection address and ports, before the 200 (INVITE)",
	  { CK_BEFORE, "caller>PRACK", "callee>200/INVITE", NULL },
	  { { CK_SAME_MEDIA, "caller<UPDATE", "callee>200/INVITE", NULL },
	    { CK_BEFORE, "caller<UPDATE", "caller<200/INVITE", NULL } } },

	{ "CMR-GW-BT-SRV-07", "OMA CMR 1.1.1.10", Q_GW_FINAL, CF_SERVER,
	  "gw-bt", SRV_UP " The caller allows UPDATE.",
	  "the final answer comes after the UPDATE's answer, without SDP",
	  "the caller has answered the UPDATE",
	  "the 200 (INVITE) the caller receives comes after its 2xx "
	  "(UPDATE) and has no SDP",
	  { CK_HAS, "caller<UPDATE", NULL, NULL },
	  { { CK_NO_SDP, "caller<200/INVITE", NULL, NULL },
	    { CK_BEFORE, "caller>2xx/UPDATE", "caller<200/INVITE",
	      NULL } } },

	{ "CMR-GW-RI-SRV-01", "OMA CMR 1.1.1.10", Q_GW_FINAL, CF_SERVER,
	  "gw-reinvite", SRV_UP " The caller's Allow lacks UPDATE: the "
	  "session description is updated by a re-INVITE, which RFC 3261 "
	  "14.1 allows only after the INVITE's transaction.",
	  "the caller gets the callee's SDP in a re-INVITE",
	  "the callee answers (200) with its SDP",
	  "the caller receives a re-INVITE whose SDP has the callee's "
	  "connection address and ports",
	  { CK_HAS, "callee>200/INVITE", NULL, NULL },
	  { { CK_SAME_MEDIA, "caller<reINVITE", "callee>200/INVITE",
	      NULL } } },

	{ "CMR-GW-RI-SRV-02", "OMA CMR 1.1.1.10", Q_GW_FINAL, CF_SERVER,
	  "gw-reinvite", SRV_UP " The caller's Allow lacks UPDATE.",
	  "the final answer to the caller has no SDP",
	  "the callee answers (200)",
	  "the 200 (INVITE) the caller receives has no SDP",
	  { CK_HAS, "caller<200/INVITE", NULL, NULL },
	  { { CK_NO_SDP, "caller<200/INVITE", NULL, NULL } } },

	/* ---- RFC rules under the server procedures --------------------- */
	{ "RFC3262-RSEQ-SRV-01", "RFC 3262 3", Q_RSEQ, CF_SERVER, "as-bt",
	  SRV_UP,
	  "the reliable provisional responses are numbered as RFC 3262 "
	  "says",
	  "the DUT sends reliable 18x to the caller",
	  "the first RSeq is in 1..2^31-1 and each new one is one higher; "
	  "a retransmission keeps its number",
	  { CK_HAS, "caller<rel18x", NULL, NULL },
	  { { CK_RSEQ, "caller<rel18x", NULL, NULL } } },

	{ "RFC3262-NO2XX-SRV-01", "RFC 3262 3", Q_NO2XX, CF_SERVER,
	  "as-bt", SRV_UP " The reliable 18x carries an SDP.",
	  "no 2xx reaches the caller before its PRACK",
	  "the callee answers (200)",
	  "the caller's PRACK precedes the 200 (INVITE) it receives",
	  { CK_HAS, "caller<rel18x", NULL, NULL },
	  { { CK_PRACKED, "caller<200/INVITE", "caller<rel18x",
	      "caller>PRACK" } } },

	{ "RFC3262-NO2XX-SRV-02", "RFC 3262 3", Q_NO2XX, CF_SERVER,
	  "gw-bt", SRV_UP " The reliable 18x carries the SDP answer.",
	  "no 2xx reaches the caller before its PRACK",
	  "the callee answers (200)",
	  "the caller's PRACK precedes the 200 (INVITE) it receives",
	  { CK_HAS, "caller<rel18x", NULL, NULL },
	  { { CK_PRACKED, "caller<200/INVITE", "caller<rel18x",
	      "caller>PRACK" } } },

	{ "RFC3262-RACK-SRV-01", "RFC 3262 7.2", Q_RACK, CF_SERVER,
	  "as-rt", SRV_UP " The callee sends a reliable 180.",
	  "the PRACK to the callee acknowledges its reliable 180",
	  "the callee's reliable 180 reaches the DUT",
	  "the RAck of the PRACK the callee receives is the 180's RSeq, "
	  "CSeq number and method",
	  { CK_HAS, "callee>rel18x", NULL, NULL },
	  { { CK_RACK, "callee<PRACK", "callee>rel18x", NULL } } },

	{ "RFC3261-EXT-SRV-01", "RFC 3261 8.2.2.3, RFC 3262 3",
	  "Of course, the server MUST NOT apply extensions not listed in "
	  "the Supported header field in the request. [RFC 3262: If the "
	  "request did not include either a Supported or Require header "
	  "field indicating this feature, the UAS MUST NOT send the "
	  "provisional response reliably.]", CF_SERVER, "http-bt",
	  SRV_UP " Its INVITE supports neither 100rel nor early-session.",
	  "no provisional response to the caller requires what it did "
	  "not support",
	  "the callee rings (180)",
	  "no 18x the caller receives has Require: 100rel or "
	  "early-session",
	  { CK_NOTOKEN, "caller>INVITE", NULL, "Supported:100rel" },
	  { { CK_NOTOKEN, "caller<18x", NULL, "Require:100rel" },
	    { CK_NOTOKEN, "caller<18x", NULL, "Require:early-session" } } },

	{ "RFC5009-PEM-SRV-01", "RFC 5009 5", "P-Early-Media = "
	  "\"P-Early-Media\" HCOLON [ em-param *(COMMA em-param) ]; "
	  "em-param = \"sendrecv\" / \"sendonly\" / \"recvonly\" / "
	  "\"inactive\" / \"gated\" / \"supported\" / token",
	  CF_SERVER, "gw-bt", SRV_UP,
	  "every P-Early-Media the caller receives is well formed",
	  "the DUT sends early media to the caller",
	  "each P-Early-Media value is one RFC 5009 defines for a "
	  "response: sendrecv, sendonly, recvonly, inactive or gated",
	  { CK_HDRVAL, "caller<*", NULL, "P-Early-Media:" },
	  { { CK_PEM_VALID, "caller<*", NULL, NULL } } },

	{ "RFC3311-UPD-SRV-01", "RFC 3311 5.1", "[In substance:] an UPDATE "
	  "with an offer may be sent in an early dialog only once the "
	  "offer/answer exchange of the INVITE is complete: the answer sent "
	  "in a reliable provisional response, and that response "
	  "acknowledged by its PRACK; and never while an offer of either "
	  "side is unanswered.", CF_SERVER, "gw-bt",
	  SRV_UP " The caller allows UPDATE.",
	  "the UPDATE comes after the early offer/answer is complete",
	  "the callee answers (200)",
	  "the caller has the 200 of its PRACK before the UPDATE (the box "
	  "reads the exchange as complete when the PRACK's transaction is)",
	  { CK_HAS, "caller<UPDATE", NULL, NULL },
	  { { CK_BEFORE, "caller<200/PRACK", "caller<UPDATE", NULL } } },

	{ "RFC3264-OVER-SRV-01", "RFC 3264 8", Q_OVERSION, CF_SERVER,
	  "gw-bt", SRV_UP " The caller allows UPDATE.",
	  "the UPDATE's SDP continues the 18x's SDP version",
	  "the DUT sends the callee's SDP in an UPDATE",
	  "its o= line is the 18x's with the version one higher",
	  { CK_HAS, "caller<UPDATE", NULL, NULL },
	  { { CK_OVERSION, "caller<18x", "caller<UPDATE", NULL } } },

	{ "RFC3264-OVER-SRV-02", "RFC 3264 8", Q_OVERSION, CF_SERVER,
	  "gw-reinvite", SRV_UP " The caller's Allow lacks UPDATE.",
	  "the re-INVITE's SDP continues the SDP of the early answer",
	  "the DUT sends the callee's SDP in a re-INVITE",
	  "its o= line is the 18x's with the version one higher",
	  { CK_HAS, "caller<reINVITE", NULL, NULL },
	  { { CK_OVERSION, "caller<18x", "caller<reINVITE", NULL } } },

	{ "RFC3261-ANS-SRV-01", "RFC 3261 13.2.1, RFC 6337 3.1",
	  "[...] the UAC MUST treat the first session description it "
	  "receives as the answer, and MUST ignore any session "
	  "descriptions in subsequent responses to the initial INVITE.",
	  CF_SERVER, "gw-bt", SRV_UP " An 18x has answered the caller's "
	  "offer.",
	  "every 18x repeats the one answer the caller has",
	  "the DUT sends provisional responses with SDP",
	  "the SDP of every 18x the caller receives is the same",
	  { CK_SDP_ANSWER, "caller<18x", "caller>INVITE", NULL },
	  { { CK_SAME_SDP, "caller<18x", NULL, NULL } } },

	/* ---- 1.1.1.4 HTTP mode, CMR Client ----------------------------- */
	{ "CMR-HTTP-BT-CLI-01", "OMA CMR 1.1.1.4", "For CMRBT, calling "
	  "party CMR Client SHALL download the CMR Resource from the CMR "
	  "Resource Server according to the URL in the provisional "
	  "response message, and then play the downloaded CMR Resource "
	  "for CMR End User until receiving the final response from "
	  "called party.", CF_CLIENT, "c-http-bt", CLI_UP,
	  "the calling DUT downloads the resource named in the 18x",
	  "the box sends a 180 with Alert-Info: <URL>",
	  "the DUT fetches that URL from the box's resource server",
	  { CK_URL, "dut>18x", NULL, NULL },
	  { { CK_DUT_GET, "dut>18x", NULL, NULL } } },

	{ "CMR-HTTP-RT-CLI-01", "OMA CMR 1.1.1.4", "For CMRT, called party "
	  "CMR Client SHALL download the CMR Resource from the CMR "
	  "Resource Server according to the URL in the call initiation "
	  "message, and then play the downloaded CMR Resource for CMR End "
	  "User until the call is answered.", CF_CLIENT, "c-http-rt",
	  CLI_UP, "the called DUT downloads the resource named in the "
	  "INVITE",
	  "the box sends it an INVITE with Alert-Info: <URL>",
	  "the DUT fetches that URL from the box's resource server",
	  { CK_URL, "dut>INVITE", NULL, NULL },
	  { { CK_DUT_GET, "dut>INVITE", NULL, NULL } } },

	/* ---- 1.1.1.8 application server mode, CMR Client --------------- */
	{ "CMR-AS-BT-CLI-01", "OMA CMR 1.1.1.8", "For CMRBT, calling party "
	  "CMR Client SHALL include an \"Early-Session\" option tag and "
	  "\"100rel\" in \"Supported\" header of the call initiation "
	  "message.", CF_CLIENT, "c-as-bt", CLI_UP,
	  "the calling DUT offers application server mode",
	  "the DUT places a call",
	  "its INVITE has Supported: 100rel, early-session",
	  { CK_HAS, "dut<INVITE", NULL, NULL },
	  { { CK_TOKENS, "dut<INVITE", NULL,
	      "Supported:100rel,early-session" } } },

	{ "CMR-AS-BT-CLI-02", "OMA CMR 1.1.1.8", "When receiving an "
	  "Early-Session SDP Offer from CMR Server, calling party CMR "
	  "Client SHALL respond with an Early-Session SDP answer and then "
	  "prepare for receiving the CMR Resource.", CF_CLIENT, "c-as-bt",
	  CLI_UP " The DUT's INVITE supports 100rel and early-session.",
	  "the calling DUT answers the early-session offer",
	  "the box sends a reliable 18x with an early-session offer",
	  "the DUT's PRACK carries an early-session SDP answer that "
	  "accepts the stream",
	  { CK_ES_OFFER, "dut>rel18x", NULL, NULL },
	  { { CK_ES_ANSWER, "dut<PRACK", "dut>rel18x", NULL } } },

	{ "CMR-AS-RT-CLI-01", "OMA CMR 1.1.1.8", "For CMRT, called party "
	  "CMR Client SHALL include an \"Early-Session\" option tag in "
	  "\"Supported\" header of the provisional response message.",
	  CF_CLIENT, "c-as-rt", CLI_UP,
	  "the called DUT offers application server mode",
	  "the box calls the DUT",
	  "the DUT's 18x has Supported: early-session",
	  { CK_HAS, "dut<18x", NULL, NULL },
	  { { CK_TOKENS, "dut<18x", NULL, "Supported:early-session" } } },

	{ "CMR-AS-RT-CLI-02", "OMA CMR 1.1.1.8", "When receiving an "
	  "Early-Session SDP Offer from CMR Server, called party CMR "
	  "Client SHALL respond with an Early-Session SDP answer and then "
	  "prepare for receiving the CMR Resource.", CF_CLIENT, "c-as-rt",
	  CLI_UP " The DUT's reliable 18x supports early-session.",
	  "the called DUT answers the early-session offer",
	  "the box's PRACK carries an early-session offer",
	  "the DUT's 200 (PRACK) carries an early-session SDP answer that "
	  "accepts the stream",
	  { CK_ES_OFFER, "dut>PRACK", NULL, NULL },
	  { { CK_ES_ANSWER, "dut<200/PRACK", "dut>PRACK", NULL } } },

	/* ---- 1.1.1.11 gateway mode, CMR Client ------------------------- */
	{ "CMR-GW-BT-CLI-01", "OMA CMR 1.1.1.11", "For CMRBT, calling party "
	  "CMR Client SHALL include a \"P-Early-Media: supported\" header "
	  "in the call initiation message.", CF_CLIENT, "c-gw-bt", CLI_UP,
	  "the calling DUT offers gateway mode",
	  "the DUT places a call",
	  "its INVITE has P-Early-Media: supported",
	  { CK_HAS, "dut<INVITE", NULL, NULL },
	  { { CK_HDRVAL, "dut<INVITE", NULL,
	      "P-Early-Media:supported" } } },

	{ "CMR-GW-BT-CLI-02", "OMA CMR 1.1.1.11", "When receiving an SDP "
	  "answer from CMR Server with a \"P-Early-Media: sendrecv\" "
	  "header, calling party CMR Client SHALL prepare for receiving "
	  "the media.", CF_CLIENT, "c-gw-bt",
	  CLI_UP " The DUT's INVITE has P-Early-Media: supported, and the "
	  "box's reliable 18x with P-Early-Media: sendrecv was PRACKed (the "
	  "box holds the far end's SDP back until then).",
	  "the calling DUT keeps the early media session and moves to the "
	  "far end's",
	  "the box sends the SDP answer with P-Early-Media: sendrecv, "
	  "then at the answer the far end's SDP",
	  "the far end receives the DUT's RTP after the answer",
	  { CK_HAS, "dut>2xx/PRACK", NULL, NULL },
	  { { CK_FAR_MEDIA, NULL, NULL, "far" } } },

	/* ---- RFC rules under the client procedures --------------------- */
	{ "RFC3262-RACK-CLI-01", "RFC 3262 4, 7.2", Q_PRACK " " Q_RACK,
	  CF_CLIENT, "c-as-bt", CLI_UP,
	  "the calling DUT acknowledges the reliable 18x",
	  "the box sends a reliable 18x with the early-session offer",
	  "the DUT sends a PRACK whose RAck is the 18x's RSeq, CSeq "
	  "number and method",
	  { CK_HAS, "dut>rel18x", NULL, NULL },
	  { { CK_RACK, "dut<PRACK", "dut>rel18x", NULL } } },

	{ "RFC3262-RACK-CLI-02", "RFC 3262 4, 7.2", Q_PRACK " " Q_RACK,
	  CF_CLIENT, "c-gw-bt", CLI_UP,
	  "the calling DUT acknowledges the reliable 18x of gateway mode",
	  "the box sends a reliable 18x with the SDP answer",
	  "the DUT sends a PRACK whose RAck is the 18x's RSeq, CSeq "
	  "number and method",
	  { CK_HAS, "dut>rel18x", NULL, NULL },
	  { { CK_RACK, "dut<PRACK", "dut>rel18x", NULL } } },

	{ "RFC3311-UPD-CLI-01", "RFC 3311 5.2", "If the UPDATE is being "
	  "sent with an offer [...] the UAS [...] MUST answer the offer in "
	  "the 2xx response to the UPDATE.", CF_CLIENT, "c-gw-bt",
	  CLI_UP " The DUT allows UPDATE.",
	  "the calling DUT answers the UPDATE with the far end's SDP",
	  "the far end answers and the box sends an UPDATE with its SDP",
	  "the DUT's 2xx (UPDATE) carries an SDP answer to it",
	  { CK_HAS, "dut>UPDATE", NULL, NULL },
	  { { CK_SDP_ANSWER, "dut<2xx/UPDATE", "dut>UPDATE", NULL } } },
};

const size_t cf_ncases = sizeof(cf_cases) / sizeof(cf_cases[0]);
