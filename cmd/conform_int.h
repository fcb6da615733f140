/**
 * @file conform_int.h  cmrlab conform's state, shared by conform.c (the
 *                      command line and the order of the runs),
 *                      conform_srv.c (the box as calling and called party),
 *                      conform_cli.c (the box as CMR Server and far end)
 *                      and conform_out.c (the table and the reports)
 */
#ifndef CMRLAB_CMD_CONFORM_INT_H
#define CMRLAB_CMD_CONFORM_INT_H

#include <sys/types.h>
#include "sip/conform.h"

enum {
	CONF_EXIT_USAGE = 2,
	CONF_PATS_MAX = 32,
	CONF_RING_MS = 2000,
	CONF_TALK_MS = 1000,
	CONF_RUN_LIMIT_MS = 25000,
	CONF_SETTLE_MS = 400,     /* after a run's calls, for its last
				   * messages (the BYE's 200) */
};

struct conform;

/* Which party of the box a user agent's messages belong to. */
struct conf_tr {
	struct conform *cf;
	enum cf_party party;
};

struct conform {
	/* options */
	enum cf_role dut;
	char target[128];          /* --target, server under test */
	char caller_user[64], callee_user[64];
	struct sa listen;          /* --listen, client under test */
	char dut_user[64];
	const char *dut_dial;      /* --dut-dial COMMAND */
	const char *dut_answer;    /* --dut-answer COMMAND */
	const char *dut_contact;   /* --dut-contact URI */
	uint32_t wait_ms;          /* for the DUT's REGISTER, its INVITE */
	const char *pats[CONF_PATS_MAX];
	size_t npats;
	const char *runpats[CONF_PATS_MAX];
	size_t nrunpats;
	const char *junit, *json, *html, *pcap, *dial_log;
	bool color, verbose;          /* colour: a terminal, no NO_COLOR */

	/* the box */
	struct ua *caller, *caller_noupd, *callee, *far;
	struct conf_tr tr_caller, tr_caller2, tr_callee, tr_far, tr_srv;
	struct table *table;
	struct httpd *httpd;
	struct streamer *streamer;
	struct sipsrv *srv;
	char box_uri[80];          /* "sip:127.0.0.1:PORT" of the box's
				    * server */

	/* the runs, one per cf_runs[] */
	struct cf_run *runs;
	bool *want;                /* the run is needed */
	bool *sel;                 /* the case is selected, per cf_cases[] */
	size_t ri;                 /* the run going on */
	uint64_t t_run, t_start;
	struct cmrc *ca;
	bool ca_done, cb_done;
	bool ended;                /* conf_run_end() came for the run */
	struct tmr tmr;
	struct tmr tmr_limit;
	struct tmr tmr_poll;
	pid_t dial_pid;            /* --dut-dial or --dut-answer running */
	pid_t reap_pid;            /* ... told to end */
	struct cf_verdict_t *verdicts;
	int ret;
};

/* conform.c */
void conf_trace(bool tx, const struct sa *src, const struct sa *dst,
		const uint8_t *pkt, size_t len, void *arg);
void conf_run_end(struct conform *cf);
void conf_next_run(void *arg);

/* conform_srv.c: the box as calling and called party */
int  conf_srv_setup(struct conform *cf);
void conf_srv_start(struct conform *cf, struct cf_run *run);

/* conform_cli.c: the box as CMR Server, resource server and far end */
int  conf_cli_setup(struct conform *cf);
void conf_cli_start(struct conform *cf, struct cf_run *run);
void conf_cli_stop(struct conform *cf);
void conf_cli_reap(struct conform *cf);

/* conform_out.c */
void conf_table_print(const struct conform *cf);
int  conf_junit_write(const struct conform *cf, const char *path);
int  conf_json_write(const struct conform *cf, const char *path);
int  conf_html_write(const struct conform *cf, const char *path);
void conf_list_print(bool markdown);

#endif
