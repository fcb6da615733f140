/**
 * @file call_int.h  cmrlab call's state, shared by call.c (the run) and
 *                   call_out.c (what it prints)
 */
#ifndef CMRLAB_CMD_CALL_INT_H
#define CMRLAB_CMD_CALL_INT_H

enum {
	EXIT_USAGE = 2,
	REG_EXPIRES = 3600,
	MAX_REASONS = 8,
	MAX_CALLS = 100000,
	PLACE_BURST = 64,          /* calls placed in one turn, at most */
};

struct reason {
	char text[192];
	unsigned n;
};

struct callcmd {
	struct ua_conf uc;
	struct cmrc_conf cc;
	char registrar[128];
	bool answer, json, no_register, progress;
	bool progress_open;        /* a progress line without its end */
	const char *save, *pcap, *log_json;
	unsigned calls;
	double rate;
	struct ua *ua;
	unsigned placed, done, passed, failed;
	struct reason reasons[MAX_REASONS];
	uint32_t *setup;           /* ms to the final response, per call */
	unsigned nsetup;
	bool first_kept;
	struct cmrc_result first;  /* the first call's result (no pcm) */
	char *first_json;
	int saved;                 /* --save: 0, or an errno */
	struct tmr tmr_next;
	struct event *sig_int, *sig_term;
	uint64_t t_start;
	uint64_t t_place;          /* the first INVITE */
	bool stopping;
	char why[192];             /* what ended the run before its calls */
	int ret;
};

/* call_out.c */
void call_reason_count(struct callcmd *cc, const char *text, unsigned n);
void call_progress(struct callcmd *cc, bool last);
void call_report(struct callcmd *cc);

#endif
