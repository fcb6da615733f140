/**
 * @file demo_int.h  cmrlab demo's cases and state, shared by demo.c (the
 *                   run) and demo_out.c (figures, checks, the report)
 */
#ifndef CMRLAB_CMD_DEMO_INT_H
#define CMRLAB_CMD_DEMO_INT_H

#include "core/report.h"
#include "sip/ua.h"

enum {
	EXIT_USAGE = 2,
	RING_MS = 2000,
	TALK_MS = 1000,
	CASE_LIMIT_MS = 20000,
	GAP_MS = 300,              /* between cases */
	PROGRESS_MS = 250,
	MAX_ROWS = 64,
	MAX_FIGS = 16,
	TERM_W = 100,              /* the ladder's width (sip/ladder.h) */
};

enum { NCASES = 7 };

struct dcase {
	const char *id;
	const char *title;
	enum cmrc_mode caller, callee;
	const char *to;
	bool no_update;            /* the caller's Allow lacks UPDATE */
	bool rt;                   /* about the callee's ringtone */
};

extern const struct dcase demo_cases[];

/* What one case leaves for the report. */
struct dres {
	bool passed;
	char verdict[256];
	struct report_row rows[MAX_ROWS];
	size_t nrows;
	struct report_fig figs[MAX_FIGS];
	size_t nfigs;
	int16_t *pcm;
	size_t npcm;
	struct mbuf *wav;
};

struct demo {
	const char *out;
	bool color, tty;
	struct table *table;
	struct httpd *httpd;
	struct streamer *streamer;
	struct sipsrv *srv;
	char target[64];
	struct ua *caller, *caller_noupd, *callee;
	struct dtrace { struct demo *d; bool callee; } tr_a, tr_a2, tr_b;
	unsigned idx;
	struct cmrc *ca, *cb;
	bool ca_done, cb_done;
	struct cmrc_result ra, rb;     /* without their pcm */
	struct dres res[NCASES];
	uint64_t t_case;
	struct tmr tmr;
	struct tmr tmr_progress;
	struct tmr tmr_limit;
	unsigned passed;
	int ret;
};

/* demo_out.c */
void demo_figures(struct dres *r, const char *who,
		  const struct cmrc_result *x);
const char *demo_case_check(const struct dcase *dc,
			    const struct cmrc_result *a,
			    const struct cmrc_result *b);
int  demo_report_write(struct demo *d, char *path, size_t sz);

#endif
