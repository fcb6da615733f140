/**
 * @file report.h  The demo's report: per case a SIP ladder, figures, the
 *                 audio received and a verdict, as one HTML page
 *
 * The demo runs every delivery case in one process and shows each one in
 * the terminal as it goes (sip/ladder.h) and, at the end, in
 * demo-report.html: a page that a browser opens from the disk with nothing
 * else, so that it can be mailed or attached to a ticket.  It has inline
 * CSS, inline SVG and the audio as a data: URL; no script and no network.
 *
 * The rows are what the terminal printed; sip/ladder.c fills them from the
 * SIP messages.  core/ knows nothing of SIP: a row is plain text.
 */
#ifndef CMRLAB_REPORT_H
#define CMRLAB_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** The three lifelines of a ladder. */
enum report_col { RCOL_CALLER = 0, RCOL_SERVER, RCOL_CALLEE };

/** One arrow of a ladder. */
struct report_row {
	uint64_t t_ms;             /* since the case started */
	uint8_t from, to;          /* enum report_col */
	char what[48];             /* "INVITE", "183 Session Progress",
				    * "200 OK (PRACK)" */
	char note[160];            /* the CMR part that mattered, "" if none */
};

/** One figure of a case: "ringback packets", "1502". */
struct report_fig {
	char name[48];
	char value[64];
};

/** One delivery case. */
struct report_case {
	const char *id;            /* "http-bt": the section's id is
				    * "case-http-bt" */
	const char *title;         /* "HTTP mode, ringback (CMRBT)" */
	bool passed;
	const char *verdict;       /* "pass: ..." or why it failed */
	const struct report_row *rows;
	size_t nrows;
	const struct report_fig *figs;
	size_t nfigs;
	const int16_t *pcm;        /* what the client received, 8 kHz mono
				    * (may be NULL) */
	size_t npcm;
	const uint8_t *wav;        /* the same as a WAV file, for the audio
				    * player (may be NULL) */
	size_t wavsz;
	const char *cols[3];       /* the lifelines' names; NULL: "caller",
				    * "cmrlab", "callee" */
	const char *badge;         /* NULL: PASS or FAIL by passed; else
				    * this (class "other"), e.g.
				    * "INCONCLUSIVE" */
	const char *text;          /* shown as it is under the verdict
				    * (may be NULL) */
	bool no_audio;             /* no "what the client received" */
};

/**
 * Writes the page to path: a title with the date, a summary table (case,
 * verdict), then per case a <section id="case-ID" class="case pass|fail">
 * with its ladder as inline SVG, its figures as a table, a waveform of
 * its pcm as inline SVG (min and max per pixel column, at most 800
 * columns, a time axis in seconds) and an <audio controls> player with the
 * WAV as a data: URL when wav is set.  Every text is HTML-escaped, and
 * what is not valid UTF-8 becomes U+FFFD.
 *
 * The page goes to path.tmp first and is renamed to path when it is
 * whole, so path holds a complete page or is left as it was.
 *
 * @return 0, EINVAL (no path or title, or cases NULL with n > 0), or the
 *         errno of the failed open, write or rename
 */
int report_html_write(const char *path, const char *title,
		      const struct report_case *cases, size_t n);

/* A text helper, shared with the terminal's ladder (sip/ladder.c). */

/** The bytes of s (n bytes) that make its next line of at most width
 *  characters: up to the last space within the width when there is one
 *  in its second half, else cut at the width; never inside a character.
 *  A byte that starts no character counts as one.  The caller skips the
 *  spaces that begin the next line. */
size_t report_wrap(const char *s, size_t n, size_t width);

#endif
