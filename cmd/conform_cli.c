/**
 * @file conform_cli.c  cmrlab conform --dut client: the box is CMR Server,
 *                      CMR Resource Server and far end, the device a CMR
 *                      Client
 *
 * The box runs cmrlab's own server, resource server and streamer on
 * --listen with a profile of its own: the device's user (--dut-user), and
 * three subscribers whose ringback goes in one mode each, cmr-http,
 * cmr-as and cmr-gw, reached at the box's far end (a user agent of
 * sip/ua.h).  In a ringback run the device is made to call one of them
 * (--dut-dial); in a ringtone run the far end calls the device, whose
 * ringtone mode the box pins for the run.  The box's server records what
 * it exchanges with the device, the far end what it exchanges with the
 * box, and the resource server every download.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <re.h>
#include "core/core.h"
#include "sip/sip.h"
#include "sip/ua.h"
#include "http/http.h"
#include "rtp/rtp.h"
#include "cmd/conform_int.h"

enum { POLL_MS = 100, KILL_GRACE_MS = 1000 };

/* What the box does in each client run. */
static const struct {
	const char *run;
	const char *callee;        /* a ringback run: whom the device calls */
	const char *mode;          /* ... its {mode}; else the device's */
	enum cmr_mode rt_mode;     /* a ringtone run: the device's mode */
} plays[] = {
	{ "c-http-bt", "cmr-http", "http",    MODE_AUTO },
	{ "c-http-rt", NULL,       "http",    MODE_HTTP },
	{ "c-as-bt",   "cmr-as",   "as",      MODE_AUTO },
	{ "c-as-rt",   NULL,       "as",      MODE_AS   },
	{ "c-gw-bt",   "cmr-gw",   "gateway", MODE_AUTO },
};


static unsigned play_of(const char *run)
{
	for (unsigned i = 0; i < ARRAY_SIZE(plays); i++) {
		if (!strcmp(plays[i].run, run))
			return i;
	}

	return 0;
}


static void served(const struct sa *peer, const char *path, unsigned status,
		   uint64_t bytes, void *arg)
{
	struct conform *cf = arg;
	struct cf_run *run;
	struct cf_get *g;
	(void)peer;

	if (!cf->runs || cf->ri >= cf_nruns)
		return;
	run = &cf->runs[cf->ri];
	if (run->getc >= CF_GETS_MAX)
		return;
	g = &run->getv[run->getc++];
	g->t_ms = (uint32_t)(loop_now_ms() - cf->t_run);
	str_ncpy(g->path, path, sizeof(g->path));
	g->status = (uint16_t)status;
	g->bytes = bytes;
}


int conf_cli_setup(struct conform *cf)
{
	struct sipsrv_conf sc;
	struct ua_conf uc;
	struct sa ip;
	char *prof = NULL, far[64], err[256];
	struct subscriber *s;
	int e;

	cf->tr_far.cf = cf->tr_srv.cf = cf;
	cf->tr_far.party = CF_FAR;
	cf->tr_srv.party = CF_DUT;

	sa_cpy(&ip, &cf->listen);
	sa_set_port(&ip, 0);

	memset(&uc, 0, sizeof(uc));
	uc.laddr = ip;
	uc.cap_rtp_rx = uc.cap_rtp_tx = true;
	uc.traceh = conf_trace;
	uc.trace_arg = &cf->tr_far;
	e = ua_alloc(&cf->far, &uc);
	if (e)
		return e;

	/* The far end is every CMR subscriber's static contact. */
	(void)re_snprintf(far, sizeof(far), "sip:far@%J", ua_laddr(cf->far));
	e = re_sdprintf(&prof,
			"subscriber %s\n"
			"subscriber cmr-http mode=http contact=%s\n"
			"subscriber cmr-as mode=as contact=%s\n"
			"subscriber cmr-gw mode=gateway contact=%s\n",
			cf->dut_user, far, far, far);
	if (e)
		return e;

	e = table_alloc(&cf->table);
	if (!e)
		e = tones_add_builtin(cf->table);
	if (!e)
		e = profile_parse(cf->table, "<conform>", NULL, prof,
				  strlen(prof), err, sizeof(err));
	mem_deref(prof);
	if (e) {
		fprintf(stderr, "cmrlab conform: %s\n", err);
		return e;
	}
	s = table_subscriber(cf->table, cf->dut_user);
	if (cf->dut_contact && s) {
		e = subscriber_contact_add(s, cf->dut_contact);
		if (e) {
			fprintf(stderr, "cmrlab conform: --dut-contact: '%s' "
				"is not a SIP URI\n", cf->dut_contact);
			return CONF_EXIT_USAGE;
		}
	}
	if (media_attach_table(cf->table))
		return EINVAL;
	table_live_set(cf->table);

	e = httpd_alloc(&cf->httpd, &ip);
	if (e)
		return e;
	httpd_served_set(cf->httpd, served, cf);
	e = streamer_alloc(&cf->streamer, &ip, 20000, 29999);
	if (e)
		return e;
	streamer_capture_set(cf->streamer, pcapw_active());

	memset(&sc, 0, sizeof(sc));
	sc.laddr = cf->listen;
	sc.http_laddr = *httpd_laddr(cf->httpd);
	sc.streamer = cf->streamer;
	sc.traceh = conf_trace;
	sc.trace_arg = &cf->tr_srv;
	e = httpd_url(cf->httpd, sc.http_base, sizeof(sc.http_base));
	if (!e)
		e = sipsrv_alloc(&cf->srv, &sc);
	if (e) {
		re_fprintf(stderr, "cmrlab conform: --listen %J: %m\n",
			   &cf->listen, e);
		return CONF_EXIT_USAGE;
	}
	(void)re_snprintf(cf->box_uri, sizeof(cf->box_uri), "sip:%J",
			  sipsrv_laddr(cf->srv));

	printf("cmrlab conform: the device, a CMR Client, registers as %s at "
	       "%s", cf->dut_user, cf->box_uri);
	(void)re_printf("; resources at http://%J\n",
			httpd_laddr(cf->httpd));
	fflush(stdout);

	return 0;
}


/* ---- the device's commands -------------------------------------------- */

/* The command line with its {keys} replaced (else the URI appended). */
static int command(struct conform *cf, char **cmdp, const char *line,
		   const char *user, const char *mode)
{
	char uri[128], target[96];
	struct mbuf *mb = mbuf_alloc(256);
	const char *p = line;
	bool used = false;
	int err = 0;

	if (!mb)
		return ENOMEM;
	(void)re_snprintf(uri, sizeof(uri), "sip:%s@%J", user,
			  sipsrv_laddr(cf->srv));
	str_ncpy(target, cf->box_uri, sizeof(target));

	while (*p && !err) {
		static const char *const keys[] = { "{uri}", "{user}",
			"{mode}", "{target}" };
		const char *vals[] = { uri, user, mode, target };
		size_t k;

		for (k = 0; k < ARRAY_SIZE(keys); k++) {
			if (!strncmp(p, keys[k], strlen(keys[k])))
				break;
		}
		if (k < ARRAY_SIZE(keys)) {
			err = mbuf_write_str(mb, vals[k]);
			p += strlen(keys[k]);
			used = true;
		}
		else {
			err = mbuf_write_u8(mb, (uint8_t)*p++);
		}
	}
	if (!used && !err)
		err = mbuf_printf(mb, " '%s'", uri);
	if (!err) {
		mb->pos = 0;
		err = mbuf_strdup(mb, cmdp, mb->end);
	}
	mem_deref(mb);

	return err;
}


static int spawn(struct conform *cf, const char *line, const char *user,
		 const char *mode)
{
	char *cmd = NULL;
	pid_t pid;
	int err;

	err = command(cf, &cmd, line, user, mode);
	if (err)
		return err;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		err = errno;
		mem_deref(cmd);
		return err;
	}
	if (pid == 0) {
		int in = open("/dev/null", O_RDONLY);
		int out = open(cf->dial_log ? cf->dial_log : "/dev/null",
			       O_WRONLY | O_CREAT | O_APPEND, 0644);

		(void)setpgid(0, 0);
		if (in >= 0)
			(void)dup2(in, STDIN_FILENO);
		if (out >= 0) {
			(void)dup2(out, STDOUT_FILENO);
			(void)dup2(out, STDERR_FILENO);
		}
		/* Nothing of the box's but the three: its SIP, HTTP and RTP
		 * sockets and the capture would outlive it in a device that
		 * stays up (the next box could not bind --listen). */
		if (close_range(3, ~0U, 0)) {
			long max = sysconf(_SC_OPEN_MAX);

			for (int fd = 3; fd < (max > 0 ? max : 1024); fd++)
				(void)close(fd);
		}
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	(void)setpgid(pid, pid);
	cf->dial_pid = pid;
	mem_deref(cmd);

	return 0;
}


/* Ends the command and whatever it started (its process group): SIGTERM
 * first, and the loop goes on (a user agent removes its registration on
 * the way out); conf_cli_reap() makes sure of it before the next run. */
void conf_cli_stop(struct conform *cf)
{
	if (cf->dial_pid <= 0)
		return;
	(void)kill(-cf->dial_pid, SIGTERM);
	cf->reap_pid = cf->dial_pid;
	cf->dial_pid = -1;
}


void conf_cli_reap(struct conform *cf)
{
	pid_t pid = cf->reap_pid;

	conf_cli_stop(cf);
	pid = cf->reap_pid;
	if (pid <= 0)
		return;
	cf->reap_pid = -1;

	/* The group is signalled while its leader is not reaped: until
	 * then no other process can have the leader's id as its group's. */
	for (int i = 0; i < KILL_GRACE_MS / 20; i++) {
		siginfo_t si;

		memset(&si, 0, sizeof(si));
		if (waitid(P_PID, (id_t)pid, &si,
			   WEXITED | WNOHANG | WNOWAIT)) {
			if (errno == ECHILD)
				return;        /* not ours any more */
		}
		else if (si.si_pid == pid) {
			break;
		}
		(void)usleep(20000);
	}
	/* what it left behind in its group goes too */
	(void)kill(-pid, SIGKILL);
	(void)waitpid(pid, NULL, 0);
}


/* ---- the runs ------------------------------------------------------------- */

static bool has(const struct cf_run *run, const char *sel)
{
	size_t i;

	return cf_select(run, sel, &i, 1) > 0;
}


static void end(struct conform *cf)
{
	struct cf_run *run = &cf->runs[cf->ri];
	unsigned k = play_of(run->id);

	if (plays[k].callee) {
		run->made = has(run, "dut<INVITE");
		if (!run->made && !run->why[0])
			(void)re_snprintf(run->why, sizeof(run->why), "the "
					  "device did not call %s within %u s",
					  plays[k].callee, cf->wait_ms / 1000);
	}
	else {
		run->made = has(run, "dut>INVITE");
		if (!run->made && !run->why[0])
			str_ncpy(run->why, "the box's INVITE did not reach the "
				 "device", sizeof(run->why));
	}
	conf_run_end(cf);
}


static void far_done(struct cmrc *c, const struct cmrc_result *r, void *arg)
{
	struct conform *cf = arg;
	struct cf_run *run = &cf->runs[cf->ri];

	if (cf->ended || cf->cb_done) {
		if (c != cf->ca)
			mem_deref(c);
		return;
	}
	cf->cb_done = true;
	run->res[CF_FAR] = *r;
	run->res[CF_FAR].pcm = NULL;
	run->res[CF_FAR].npcm = 0;
	run->has_res[CF_FAR] = true;
	if (c != cf->ca)
		mem_deref(c);
	end(cf);
}


static void run_limit(void *arg)
{
	struct conform *cf = arg;
	struct cf_run *run = &cf->runs[cf->ri];

	if (!run->why[0] && (has(run, "dut<INVITE") || has(run, "dut>INVITE")))
		str_ncpy(run->why, "the call did not end in time",
			 sizeof(run->why));
	end(cf);
}


/* A ringback run: the device's INVITE must come within --wait. */
static void poll_invite(void *arg)
{
	struct conform *cf = arg;
	struct cf_run *run = &cf->runs[cf->ri];

	if (has(run, "dut<INVITE"))
		return;
	if (loop_now_ms() - cf->t_run >= cf->wait_ms) {
		end(cf);
		return;
	}
	tmr_start(&cf->tmr_poll, POLL_MS, poll_invite, cf);
}


static void call_device(struct conform *cf)
{
	struct cf_run *run = &cf->runs[cf->ri];
	unsigned k = play_of(run->id);
	struct subscriber *s = table_subscriber(cf->table, cf->dut_user);
	struct cmrc_conf conf;
	int err;

	if (s)
		subscriber_mode_set(s, plays[k].rt_mode);

	memset(&conf, 0, sizeof(conf));
	conf.mode = CMRC_PLAIN;
	str_ncpy(conf.from, "far", sizeof(conf.from));
	str_ncpy(conf.to, cf->dut_user, sizeof(conf.to));
	str_ncpy(conf.target, cf->box_uri, sizeof(conf.target));
	conf.talk_ms = CONF_TALK_MS;
	conf.limit_ms = CONF_RUN_LIMIT_MS - 2000;

	err = cmrc_call(&cf->ca, cf->far, &conf, far_done, cf);
	if (err) {
		(void)re_snprintf(run->why, sizeof(run->why), "the far end's "
				  "INVITE could not be sent: %m", err);
		end(cf);
		return;
	}
	tmr_start(&cf->tmr_limit, CONF_RUN_LIMIT_MS, run_limit, cf);
}


/* A ringtone run: the device must be registered (or --dut-contact). */
static void poll_register(void *arg)
{
	struct conform *cf = arg;
	struct cf_run *run = &cf->runs[cf->ri];
	struct subscriber *s = table_subscriber(cf->table, cf->dut_user);

	if (cf->dut_contact || (s && subscriber_binding_count(s))) {
		call_device(cf);
		return;
	}
	if (loop_now_ms() - (cf->dut_answer ? cf->t_run : cf->t_start) >=
	    cf->wait_ms) {
		(void)re_snprintf(run->why, sizeof(run->why), "the device did "
				  "not register as %s within %u s",
				  cf->dut_user, cf->wait_ms / 1000);
		end(cf);
		return;
	}
	tmr_start(&cf->tmr_poll, POLL_MS, poll_register, cf);
}


void conf_cli_start(struct conform *cf, struct cf_run *run)
{
	unsigned k = play_of(run->id);
	struct cmrc_conf conf;
	int err;

	cf->ca = NULL;

	if (!plays[k].callee) {
		(void)ua_answer_set(cf->far, NULL, NULL, NULL);
		if (cf->dut_answer) {
			struct subscriber *s = table_subscriber(cf->table,
								cf->dut_user);

			/* the registration that counts is the command's */
			if (s)
				(void)subscriber_binding_remove_all(s);
			err = spawn(cf, cf->dut_answer, cf->dut_user,
				    plays[k].mode);
			if (err) {
				(void)re_snprintf(run->why, sizeof(run->why),
						  "--dut-answer could not be "
						  "run: %m", err);
				end(cf);
				return;
			}
		}
		poll_register(cf);
		return;
	}

	if (!cf->dut_dial) {
		str_ncpy(run->why, "no --dut-dial: the box cannot make the "
			 "device call", sizeof(run->why));
		end(cf);
		return;
	}

	memset(&conf, 0, sizeof(conf));
	conf.callee = true;
	conf.mode = CMRC_PLAIN;
	conf.ring_ms = CONF_RING_MS;
	conf.talk_ms = CONF_TALK_MS;
	conf.hangup_callee = true;
	conf.limit_ms = CONF_RUN_LIMIT_MS - 2000;
	(void)ua_answer_set(cf->far, &conf, far_done, cf);

	err = spawn(cf, cf->dut_dial, plays[k].callee, plays[k].mode);
	if (err) {
		(void)re_snprintf(run->why, sizeof(run->why), "--dut-dial "
				  "could not be run: %m", err);
		end(cf);
		return;
	}
	tmr_start(&cf->tmr_limit, cf->wait_ms + CONF_RUN_LIMIT_MS, run_limit,
		  cf);
	tmr_start(&cf->tmr_poll, POLL_MS, poll_invite, cf);
}
