/**
 * @file ladder.h  SIP ladders: a message as a row of the report, and rows
 *                 printed as a call flow in the terminal
 *
 * A row (core/report.h) is one arrow between three lifelines, caller,
 * cmrlab and callee, with what the message is and the part of it that
 * matters for the CMR.  The demo fills one row per message it sees with
 * ladder_describe(), prints it at once with ladder_row_print() and hands
 * the rows of each case to report_html_write() at the end.
 */
#ifndef CMRLAB_LADDER_H
#define CMRLAB_LADDER_H

#include <stdbool.h>
#include <stdio.h>
#include "core/report.h"

struct sip_msg;

/** Whether an SDP of the message is an offer or an answer. */
enum ladder_sdp {
	LADDER_SDP_AUTO = 0,   /* by the message, see ladder_describe() */
	LADDER_SDP_OFFER,      /* e.g. the 2xx to an INVITE without SDP */
	LADDER_SDP_ANSWER,
};

/**
 * Fills row->what and row->note from one SIP message (t_ms, from and to
 * are the caller's).  what: the method, or "<status> <reason>", with
 * " (METHOD)" for a response to other than INVITE.  note: what matters
 * for the CMR, in this order, pieces joined by "; ", and the last piece
 * that does not fit cut short with "...":
 *
 * - "Alert-Info <URL>";
 * - an early-session SDP: "early-session offer c=IP:PORT PCMU sendonly",
 *   with " (multipart)" when it came in a multipart/mixed body;
 * - "Require 100rel, early-session", "Supported ..." (those two tags only);
 * - "RSeq N", "RAck N M METHOD";
 * - "P-Early-Media VALUE";
 * - the session SDP: "SDP offer c=IP:PORT PCMU" or "SDP answer ...", or
 *   "no SDP" on a 2xx of INVITE; a body the server cannot read is named
 *   by its type.
 *
 * Offer or answer goes by the message (LADDER_SDP_AUTO): a session SDP is
 * an offer in INVITE and UPDATE, an answer in responses, PRACK and ACK;
 * an early-session SDP is an offer in a 1xx and in a PRACK that requires
 * early-session, an answer in a 2xx and another PRACK.  ladder_describe_as
 * takes the caller's word for both instead.
 */
void ladder_describe(struct report_row *row, const struct sip_msg *msg);
void ladder_describe_as(struct report_row *row, const struct sip_msg *msg,
			enum ladder_sdp sdp);

/**
 * The terminal's call flow, at most 100 columns: the three names over
 * their lifelines, then per row one line with the time ("+1.234s"), an
 * arrow from lifeline to lifeline ("--INVITE--->", "<--180 Ringing--")
 * and the note after the last lifeline; a note longer than the line goes
 * on under it, between the lifelines' continuation.  ANSI colours only
 * when color is set: requests cyan, 1xx yellow, 2xx green, 3xx to 6xx
 * red.  Control characters of the text print as '?', so that what came
 * off the wire cannot drive the terminal.
 */
void ladder_head_print(FILE *f, const char *const names[3], bool color);
void ladder_row_print(FILE *f, const struct report_row *row, bool color);

#endif
