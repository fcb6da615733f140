/**
 * @file conform.c  cmrlab conform: the conformance box, its command line
 *                  and the order of its runs
 *
 * With --dut server the device under test is a CMR Server at --target and
 * the box plays calling and called party in every mode (conform_srv.c);
 * with --dut client it is a CMR Client that registers at the box, which
 * is CMR Server, resource server and far end (conform_cli.c).  The box
 * makes the runs that the selected cases need, one after the other,
 * records every SIP message of each, then judges every case of the
 * catalogue (sip/conform_cat.c) on its run and reports: a table on the
 * terminal, --junit, --json, --html, and --pcap of the whole session.
 * Exit status 0 when no case failed and at least one passed, 1 when one
 * failed (or none could be judged), 2 on bad usage.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <re.h>
#include "core/core.h"
#include "sip/sip.h"
#include "http/http.h"
#include "rtp/rtp.h"
#include "cmd/cmd.h"
#include "cmd/args.h"
#include "cmd/conform_int.h"


static void usage_conform(FILE *f)
{
	fprintf(f,
		"usage: cmrlab conform --dut server --target sip:ADDR:PORT "
		"[options]\n"
		"       cmrlab conform --dut client [--dut-dial COMMAND] "
		"[options]\n"
		"       cmrlab conform --list [--markdown]\n"
		"\n"
		"Judges a device under test, case by case, against the CMR "
		"procedures\n(OMA CMR 1.1.1.3 to 1.1.1.11) and the RFC rules "
		"under them.\n"
		"\n"
		"the device:\n"
		"  --dut server|client  what the device is: a CMR Server or a "
		"CMR Client\n"
		"  --target URI         server: where it is, sip:ADDR:PORT\n"
		"  --caller USER        server: the box's calling party "
		"(default alice)\n"
		"  --callee USER        server: the box's called party, "
		"registered at the\n"
		"                       device (default bob)\n"
		"  --listen ADDR:PORT   client: the box's SIP server "
		"(default 127.0.0.1:5060)\n"
		"  --dut-user USER      client: the user the device registers "
		"as (default dut)\n"
		"  --dut-dial COMMAND   client: run by /bin/sh to make the "
		"device call; {uri},\n"
		"                       {user}, {mode} and {target} are "
		"replaced (else the URI\n"
		"                       is appended)\n"
		"  --dut-answer COMMAND client: run by /bin/sh before each "
		"ringtone run, to\n"
		"                       register the device and answer one "
		"call; the same {keys}\n"
		"  --dut-contact URI    client: call the device there instead "
		"of waiting for\n"
		"                       its REGISTER\n"
		"  --dial-log FILE      client: the dial command's output "
		"(default /dev/null)\n"
		"  --wait S             how long to wait for the device: its "
		"answer to the\n"
		"                       box's REGISTER (server), its REGISTER "
		"and its calls\n"
		"                       (client); default 30\n"
		"\n"
		"which cases:\n"
		"  --case PATTERN       the cases whose id matches ('*' is "
		"any text); repeat\n"
		"  --run RUN            the cases of a run (see --list); "
		"repeat\n"
		"  --list               the catalogue: id, role, run, clause, "
		"what is checked\n"
		"  --markdown           ... as a Markdown table\n"
		"\n"
		"reports:\n"
		"  --junit FILE         JUnit XML, one testcase per case\n"
		"  --json FILE          one JSON object with every verdict\n"
		"  --html FILE          a page with each case's ladder and "
		"evidence\n"
		"  --pcap FILE          every packet of the session\n"
		"  -v, --verbose        the evidence of passed cases too\n"
		"  -h, --help           this text\n"
		"\n"
		"Exit status: 0 no case failed and one passed at least, 1 a "
		"case failed or\nnone could be judged, 2 bad usage.\n");
}


/* ---- the trace ------------------------------------------------------------ */

void conf_trace(bool tx, const struct sa *src, const struct sa *dst,
		const uint8_t *pkt, size_t len, void *arg)
{
	struct conf_tr *t = arg;
	struct conform *cf = t->cf;
	enum cf_party party = t->party;
	struct cf_run *run;
	(void)src;

	if (!cf->runs || cf->ri >= cf_nruns)
		return;
	run = &cf->runs[cf->ri];

	/* The box's own server: what it exchanges with its far end is the
	 * far end's to record. */
	if (t == &cf->tr_srv) {
		const struct sa *peer = tx ? dst : src;

		if (cf->far && sa_cmp(peer, ua_laddr(cf->far), SA_ALL))
			return;
		party = CF_DUT;
	}

	(void)cf_run_add(run, (uint32_t)(loop_now_ms() - cf->t_run), party,
			 !tx, pkt, len);
}


/* ---- the runs --------------------------------------------------------------- */

static void finish(struct conform *cf);


static void reaped(void *arg)
{
	struct conform *cf = arg;

	if (cf->dut == CF_CLIENT)
		conf_cli_reap(cf);
	++cf->ri;
	conf_next_run(cf);
}


/* The run's messages have settled: a device's command is told to end
 * now (it answered the BYE the box forwarded), and has one more settling
 * time to remove its registration before it is reaped. */
static void settled(void *arg)
{
	struct conform *cf = arg;

	if (cf->dut == CF_CLIENT && cf->dial_pid > 0) {
		conf_cli_stop(cf);
		tmr_start(&cf->tmr, CONF_SETTLE_MS, reaped, cf);
		return;
	}
	reaped(cf);
}


void conf_run_end(struct conform *cf)
{
	const struct cf_run *run = &cf->runs[cf->ri];

	if (cf->ended)
		return;
	cf->ended = true;
	tmr_cancel(&cf->tmr_limit);
	tmr_cancel(&cf->tmr_poll);
	cf->ca = mem_deref(cf->ca);

	printf("  %s: %s%s%s\n", run->id, run->made ? "made" : "not made",
	       run->made ? "" : ": ", run->made ? "" : run->why);
	fflush(stdout);

	/* The run's last messages (the 200 of the BYE) are still its own;
	 * the next run starts after them. */
	tmr_start(&cf->tmr, CONF_SETTLE_MS, settled, cf);
}


void conf_next_run(void *arg)
{
	struct conform *cf = arg;
	struct cf_run *run;

	while (cf->ri < cf_nruns && !cf->want[cf->ri])
		++cf->ri;
	if (cf->ri >= cf_nruns) {
		finish(cf);
		return;
	}

	run = &cf->runs[cf->ri];
	run->id = cf_runs[cf->ri].id;
	cf->ca_done = cf->cb_done = cf->ended = false;
	cf->t_run = loop_now_ms();
	printf("run %s: %s\n", run->id, cf_runs[cf->ri].title);
	fflush(stdout);

	if (cf->dut == CF_SERVER)
		conf_srv_start(cf, run);
	else
		conf_cli_start(cf, run);
}


static void down_done(void *arg)
{
	(void)arg;
	loop_stop();
}


static void finish(struct conform *cf)
{
	unsigned pass = 0, fail = 0, inc = 0;

	for (size_t i = 0; i < cf_ncases; i++) {
		const struct cf_case *c = &cf_cases[i];
		const struct cf_rundef *rd = cf_rundef_find(c->run);

		if (!cf->sel[i]) {
			cf->verdicts[i].v = CF_NOTRUN;
			continue;
		}
		cf_judge(c, &cf->runs[rd - cf_runs], &cf->verdicts[i]);
		switch (cf->verdicts[i].v) {

		case CF_PASS: ++pass; break;
		case CF_FAIL: ++fail; break;
		default:      ++inc;  break;
		}
	}

	conf_table_print(cf);
	printf("conform: %u cases: %u passed, %u failed, %u inconclusive\n",
	       pass + fail + inc, pass, fail, inc);

	if (cf->junit && conf_junit_write(cf, cf->junit))
		cf->ret = 1;
	if (cf->json && conf_json_write(cf, cf->json))
		cf->ret = 1;
	if (cf->html && conf_html_write(cf, cf->html))
		cf->ret = 1;
	if (cf->ret == 0)
		cf->ret = fail || !pass ? 1 : 0;
	fflush(stdout);

	if (cf->dut == CF_CLIENT) {
		ua_shutdown(cf->far, down_done, cf);
		return;
	}
	ua_shutdown(cf->caller_noupd, NULL, NULL);
	ua_shutdown(cf->callee, NULL, NULL);
	ua_shutdown(cf->caller, down_done, cf);
}


static void sig_handler(int sig)
{
	(void)sig;
	loop_stop();
}


/* ---- the command line ------------------------------------------------------ */

enum {
	O_DUT = 256, O_TARGET, O_CALLER, O_CALLEE, O_LISTEN, O_DUT_USER,
	O_DUT_DIAL, O_DUT_ANSWER, O_DUT_CONTACT, O_DIAL_LOG, O_WAIT, O_CASE, O_RUN,
	O_LIST, O_MARKDOWN, O_JUNIT, O_JSON, O_HTML, O_PCAP,
};


static bool user_ok(const char *s)
{
	size_t n = strlen(s);

	if (!n || n >= 64)
		return false;
	for (; *s; s++) {
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			    "0123456789._~+-", *s))
			return false;
	}

	return true;
}


/* The runs the selected cases need; false when no case is selected. */
static bool select_cases(struct conform *cf)
{
	bool any = false;

	for (size_t i = 0; i < cf_ncases; i++) {
		const struct cf_case *c = &cf_cases[i];
		bool s = c->role == cf->dut;

		if (s && cf->npats) {
			s = false;
			for (size_t k = 0; k < cf->npats; k++)
				s |= cf_id_match(cf->pats[k], c->id);
		}
		if (s && cf->nrunpats) {
			bool r = false;

			for (size_t k = 0; k < cf->nrunpats; k++)
				r |= cf_id_match(cf->runpats[k], c->run);
			s = r;
		}
		cf->sel[i] = s;
		if (s) {
			cf->want[cf_rundef_find(c->run) - cf_runs] = true;
			any = true;
		}
	}

	return any;
}


static int parse(struct conform *cf, int argc, char *argv[], bool *list,
		 bool *md)
{
	static const struct option opts[] = {
		{ "dut",         required_argument, NULL, O_DUT },
		{ "target",      required_argument, NULL, O_TARGET },
		{ "caller",      required_argument, NULL, O_CALLER },
		{ "callee",      required_argument, NULL, O_CALLEE },
		{ "listen",      required_argument, NULL, O_LISTEN },
		{ "dut-user",    required_argument, NULL, O_DUT_USER },
		{ "dut-dial",    required_argument, NULL, O_DUT_DIAL },
		{ "dut-answer",  required_argument, NULL, O_DUT_ANSWER },
		{ "dut-contact", required_argument, NULL, O_DUT_CONTACT },
		{ "dial-log",    required_argument, NULL, O_DIAL_LOG },
		{ "wait",        required_argument, NULL, O_WAIT },
		{ "case",        required_argument, NULL, O_CASE },
		{ "run",         required_argument, NULL, O_RUN },
		{ "list",        no_argument,       NULL, O_LIST },
		{ "markdown",    no_argument,       NULL, O_MARKDOWN },
		{ "junit",       required_argument, NULL, O_JUNIT },
		{ "json",        required_argument, NULL, O_JSON },
		{ "html",        required_argument, NULL, O_HTML },
		{ "pcap",        required_argument, NULL, O_PCAP },
		{ "verbose",     no_argument,       NULL, 'v' },
		{ "help",        no_argument,       NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *dut = NULL, *target = NULL, *listen = "127.0.0.1:5060";
	char *end;
	int ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
		switch (ch) {

		case O_DUT:         dut = optarg; break;
		case O_TARGET:      target = optarg; break;
		case O_CALLER:
			str_ncpy(cf->caller_user, optarg,
				 sizeof(cf->caller_user));
			if (!user_ok(optarg))
				goto bad_user;
			break;
		case O_CALLEE:
			str_ncpy(cf->callee_user, optarg,
				 sizeof(cf->callee_user));
			if (!user_ok(optarg))
				goto bad_user;
			break;
		case O_DUT_USER:
			str_ncpy(cf->dut_user, optarg, sizeof(cf->dut_user));
			if (!user_ok(optarg))
				goto bad_user;
			break;
		case O_LISTEN:      listen = optarg; break;
		case O_DUT_DIAL:    cf->dut_dial = optarg; break;
		case O_DUT_ANSWER:  cf->dut_answer = optarg; break;
		case O_DUT_CONTACT: cf->dut_contact = optarg; break;
		case O_DIAL_LOG:    cf->dial_log = optarg; break;
		case O_WAIT:
			errno = 0;
			{
				unsigned long w = strtoul(optarg, &end, 10);

				if (errno || end == optarg || *end || !w ||
				    w > 3600) {
					fprintf(stderr, "cmrlab conform: "
						"--wait: '%s' is not 1 to "
						"3600 seconds\n", optarg);
					return CONF_EXIT_USAGE;
				}
				cf->wait_ms = (uint32_t)w * 1000;
			}
			break;
		case O_CASE:
		case O_RUN:
			if ((ch == O_CASE ? cf->npats : cf->nrunpats) >=
			    CONF_PATS_MAX) {
				fprintf(stderr, "cmrlab conform: at most %d "
					"--case and --run each\n",
					CONF_PATS_MAX);
				return CONF_EXIT_USAGE;
			}
			if (ch == O_CASE)
				cf->pats[cf->npats++] = optarg;
			else
				cf->runpats[cf->nrunpats++] = optarg;
			break;
		case O_LIST:        *list = true; break;
		case O_MARKDOWN:    *md = true; break;
		case O_JUNIT:       cf->junit = optarg; break;
		case O_JSON:        cf->json = optarg; break;
		case O_HTML:        cf->html = optarg; break;
		case O_PCAP:        cf->pcap = optarg; break;
		case 'v':           cf->verbose = true; break;
		case 'h':           usage_conform(stdout); return -1;
		default:            usage_conform(stderr);
				    return CONF_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "cmrlab conform: unexpected argument '%s'\n",
			argv[optind]);
		return CONF_EXIT_USAGE;
	}
	if (*list)
		return 0;

	if (!dut || (strcmp(dut, "server") && strcmp(dut, "client"))) {
		fprintf(stderr, "cmrlab conform: --dut server or --dut client "
			"is needed\n");
		return CONF_EXIT_USAGE;
	}
	cf->dut = strcmp(dut, "server") ? CF_CLIENT : CF_SERVER;

	if (cf->dut == CF_SERVER) {
		struct sa lo;

		(void)sa_set_str(&lo, "127.0.0.1", 0);
		if (!target) {
			fprintf(stderr, "cmrlab conform: --dut server needs "
				"--target sip:ADDR:PORT\n");
			return CONF_EXIT_USAGE;
		}
		if (strlen(target) >= sizeof(cf->target) ||
		    !args_sip_target(target, &lo)) {
			fprintf(stderr, "cmrlab conform: --target: '%s' is "
				"not sip:ADDR:PORT with an IPv4 address\n",
				target);
			return CONF_EXIT_USAGE;
		}
		str_ncpy(cf->target, target, sizeof(cf->target));
		if (cf->dut_dial || cf->dut_answer || cf->dut_contact) {
			fprintf(stderr, "cmrlab conform: --dut-dial, "
				"--dut-answer and --dut-contact are for --dut "
				"client\n");
			return CONF_EXIT_USAGE;
		}
	}
	else {
		if (target) {
			fprintf(stderr, "cmrlab conform: --target is for --dut "
				"server (a client registers at --listen)\n");
			return CONF_EXIT_USAGE;
		}
		if (args_addr(&cf->listen, listen, "--listen"))
			return CONF_EXIT_USAGE;
		if (cf->dut_contact && cf->dut_answer) {
			fprintf(stderr, "cmrlab conform: --dut-contact or "
				"--dut-answer, not both\n");
			return CONF_EXIT_USAGE;
		}
		if (cf->dut_contact && (strncmp(cf->dut_contact, "sip:", 4) ||
					strlen(cf->dut_contact) > 200)) {
			fprintf(stderr, "cmrlab conform: --dut-contact: '%s' "
				"is not a sip: URI\n", cf->dut_contact);
			return CONF_EXIT_USAGE;
		}
	}

	if (!select_cases(cf)) {
		fprintf(stderr, "cmrlab conform: no %s case matches the "
			"--case and --run given\n", dut);
		return CONF_EXIT_USAGE;
	}

	return 0;

 bad_user:
	fprintf(stderr, "cmrlab conform: '%s' is not a user name (1 to 63 "
		"of A-Z a-z 0-9 . _ ~ + -)\n", optarg);
	return CONF_EXIT_USAGE;
}


static void destroy(struct conform *cf)
{
	tmr_cancel(&cf->tmr);
	tmr_cancel(&cf->tmr_limit);
	tmr_cancel(&cf->tmr_poll);
	if (cf->dut == CF_CLIENT)
		conf_cli_reap(cf);
	cf->ca = mem_deref(cf->ca);
	cf->caller = mem_deref(cf->caller);
	cf->caller_noupd = mem_deref(cf->caller_noupd);
	cf->callee = mem_deref(cf->callee);
	cf->far = mem_deref(cf->far);
	cf->srv = mem_deref(cf->srv);
	cf->streamer = mem_deref(cf->streamer);
	cf->httpd = mem_deref(cf->httpd);
	table_live_set(NULL);
	cf->table = mem_deref(cf->table);
	for (size_t i = 0; cf->runs && i < cf_nruns; i++)
		cf_run_reset(&cf->runs[i]);
	cf->runs = mem_deref(cf->runs);
	cf->want = mem_deref(cf->want);
	cf->sel = mem_deref(cf->sel);
	cf->verdicts = mem_deref(cf->verdicts);
}


int cmd_conform(int argc, char *argv[])
{
	static struct conform cf;
	bool list = false, md = false;
	int e;

	memset(&cf, 0, sizeof(cf));
	str_ncpy(cf.caller_user, "alice", sizeof(cf.caller_user));
	str_ncpy(cf.callee_user, "bob", sizeof(cf.callee_user));
	str_ncpy(cf.dut_user, "dut", sizeof(cf.dut_user));
	cf.wait_ms = 30000;
	cf.dial_pid = cf.reap_pid = -1;
	cf.color = isatty(STDOUT_FILENO) &&
		!(getenv("NO_COLOR") && *getenv("NO_COLOR"));

	if (libre_init())
		return 1;
	cf.runs = mem_zalloc(cf_nruns * sizeof(*cf.runs), NULL);
	cf.want = mem_zalloc(cf_nruns * sizeof(*cf.want), NULL);
	cf.sel = mem_zalloc(cf_ncases * sizeof(*cf.sel), NULL);
	cf.verdicts = mem_zalloc(cf_ncases * sizeof(*cf.verdicts), NULL);
	if (!cf.runs || !cf.want || !cf.sel || !cf.verdicts) {
		destroy(&cf);
		libre_close();
		return 1;
	}

	e = parse(&cf, argc, argv, &list, &md);
	if (e || list) {
		if (list && !e)
			conf_list_print(md);
		destroy(&cf);
		libre_close();
		return e < 0 ? 0 : e;
	}

	log_setup(LVL_ERROR);
	if (loop_init()) {
		destroy(&cf);
		libre_close();
		return 1;
	}
	if (cf.pcap) {
		e = pcapw_open(cf.pcap);
		if (e) {
			fprintf(stderr, "cmrlab conform: cannot write '%s': "
				"%s\n", cf.pcap, strerror(e));
			cf.ret = CONF_EXIT_USAGE;
			goto out;
		}
	}

	e = cf.dut == CF_SERVER ? conf_srv_setup(&cf) : conf_cli_setup(&cf);
	if (e) {
		if (e != CONF_EXIT_USAGE)
			re_fprintf(stderr, "cmrlab conform: cannot start: "
				   "%m\n", e);
		cf.ret = e == CONF_EXIT_USAGE ? CONF_EXIT_USAGE : 1;
		goto out;
	}

	(void)signal(SIGINT, sig_handler);
	(void)signal(SIGTERM, sig_handler);
	cf.t_start = loop_now_ms();
	tmr_start(&cf.tmr, 0, conf_next_run, &cf);
	(void)loop_run();
	(void)signal(SIGINT, SIG_DFL);
	(void)signal(SIGTERM, SIG_DFL);
	if (cf.ri < cf_nruns) {
		fprintf(stderr, "cmrlab conform: interrupted\n");
		cf.ret = 1;
	}

 out:
	destroy(&cf);
	pcapw_close();
	evlog_reset();
	loop_close();
	libre_close();

	return cf.ret;
}
