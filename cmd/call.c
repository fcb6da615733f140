/**
 * @file call.c  cmrlab call: the CMR Client from the command line
 *
 * The calling party (--from U --to U) places one call, or --calls N at
 * --rate R per second, through the server at --target; the called party
 * (--answer --as U) registers and answers.  Each call follows the client
 * procedure of its --mode (sip/ua.h) and ends with a verdict: one line of
 * text, or with --json one JSON object (totals when several calls).
 * Exit status: 0 when every call went as its mode requires, 1 when one
 * did not, 2 for bad usage.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <event2/event.h>
#include <re.h>
#include "core/core.h"
#include "sip/ua.h"
#include "rtp/rtp.h"
#include "rtp/rtpep.h"
#include "cmd/args.h"
#include "cmd/cmd.h"
#include "cmd/call_int.h"


static void usage_call(FILE *f)
{
	fprintf(f,
		"usage: cmrlab call --from USER --to USER [options]\n"
		"       cmrlab call --answer --as USER [options]\n"
		"\n"
		"A CMR Client.  The calling party calls USER through the "
		"server and\nreceives the customized ringback (CMRBT); the "
		"called party (--answer)\nregisters, rings with the "
		"customized ringtone (CMRT) and answers.\nBoth talk, then "
		"hang up, and say what was delivered.\n"
		"\n"
		"options:\n"
		"  --mode MODE          http|as|gateway|plain (default "
		"plain: asks for\n"
		"                       nothing, takes what the server "
		"sends; gateway\n"
		"                       has no called party procedure)\n"
		"  --target URI         the server, sip:ADDR:PORT (default "
		"sip:127.0.0.1:5060)\n"
		"  --sip ADDR:PORT      our SIP address (default "
		"127.0.0.1:0, any port)\n"
		"  --rtp-ports LO-HI    our RTP ports (default: any free)\n"
		"  --no-register        do not REGISTER first\n"
		"  --no-update          our Allow lacks UPDATE\n"
		"  --ring SECONDS       called party: ring that long "
		"(default 3)\n"
		"  --reject CODE        called party: answer CODE "
		"(400-699) instead\n"
		"  --expect CODE        calling party: the final status "
		"wanted\n"
		"                       (default any 2xx)\n"
		"  --talk SECONDS       talk after the answer (default 2)\n"
		"  --hangup WHO         caller|callee sends the BYE "
		"(default caller)\n"
		"  --calls N            calls to place or answer (default "
		"1)\n"
		"  --rate R             calls per second when N > 1 "
		"(default 10)\n"
		"  --json               print one JSON object\n"
		"  --save FILE.wav      write what the first call heard\n"
		"  --pcap FILE          write our SIP, RTP and HTTP packets\n"
		"  --log-json FILE      append the calls' events as JSON "
		"lines\n"
		"  --log-level LEVEL    error|warn|info|debug (default "
		"warn)\n"
		"  -h, --help           this text\n");
}


/* ---- the run ------------------------------------------------------------ */

static void stop_done(void *arg)
{
	(void)arg;
	loop_stop();
}


static void stop(struct callcmd *cc)
{
	if (cc->stopping)
		return;

	cc->stopping = true;
	tmr_cancel(&cc->tmr_next);
	(void)ua_answer_set(cc->ua, NULL, NULL, NULL);

	/* The removal of our binding is waited for like the calls' ends,
	 * 2 s at most: a registrar that is gone must not keep us for the
	 * REGISTER's 32 s. */
	if (!cc->no_register)
		(void)ua_register(cc->ua, cc->registrar, cc->answer ?
				  cc->cc.to : cc->cc.from, 0, NULL, NULL);
	ua_shutdown(cc->ua, stop_done, cc);
}


static void call_done(struct cmrc *c, const struct cmrc_result *r,
		      void *arg)
{
	struct callcmd *cc = arg;

	++cc->done;
	if (r->ok)
		++cc->passed;
	else {
		++cc->failed;
		call_reason_count(cc, r->reason, 1);
	}
	if (r->ms_final >= 0 && cc->nsetup < cc->calls)
		cc->setup[cc->nsetup++] = (uint32_t)r->ms_final;

	if (!cc->first_kept) {
		cc->first_kept = true;
		cc->first = *r;
		cc->first.pcm = NULL;
		(void)re_sdprintf(&cc->first_json, "%H", cmrc_result_json, r);
		if (cc->save)
			cc->saved = wavw_write(cc->save, r->pcm, r->npcm,
					       MEDIA_SRATE);
	}

	mem_deref(c);
	call_progress(cc, cc->done == cc->calls);

	if (cc->done >= cc->calls)
		stop(cc);
}


/* Call k is due k / rate seconds after the first: a schedule from the
 * start, so that neither the work of placing a call nor a late wake-up
 * slows the rate down. */
static uint64_t due_ms(const struct callcmd *cc, unsigned k)
{
	return cc->t_place + (uint64_t)((double)k * 1000.0 / cc->rate);
}


/* The result of a call that did not get as far as a SIP exchange. */
static void result_none(const struct callcmd *cc, struct cmrc_result *r)
{
	memset(r, 0, sizeof(*r));
	r->callee = cc->answer;
	r->mode = cc->cc.mode;
	r->ms_final = -1;
	r->dl_duration_ms = -1;
	r->ms_download = -1;
	r->ms_first_tone = -1;
}


static void place_one(struct callcmd *cc)
{
	struct cmrc *c = NULL;
	int err;

	err = cmrc_call(&c, cc->ua, &cc->cc, call_done, cc);
	++cc->placed;
	if (err) {
		struct cmrc_result r;

		result_none(cc, &r);
		(void)re_snprintf(r.reason, sizeof(r.reason), "the INVITE "
				  "could not be sent: %m", err);
		call_done(NULL, &r, cc);
	}
	else {
		call_progress(cc, false);
	}
}


static void place_next(void *arg)
{
	struct callcmd *cc = arg;
	unsigned burst = 0;
	uint64_t now, due;

	/* Every call due by now (a rate over 1000/s has several per
	 * millisecond), PLACE_BURST at most before the loop turns. */
	do {
		place_one(cc);
	} while (cc->placed < cc->calls && !cc->stopping &&
		 due_ms(cc, cc->placed) <= loop_now_ms() &&
		 ++burst < PLACE_BURST);

	if (cc->placed >= cc->calls || cc->stopping)
		return;

	now = loop_now_ms();
	due = due_ms(cc, cc->placed);
	tmr_start(&cc->tmr_next, due > now ? due - now : 0, place_next, cc);
}


static void reg_done(int err, uint16_t scode, const char *reason, void *arg)
{
	struct callcmd *cc = arg;

	/* A signal came while the REGISTER was out: nothing starts now. */
	if (cc->stopping)
		return;

	if (err || scode < 200 || scode > 299) {
		if (err)
			(void)re_snprintf(cc->why, sizeof(cc->why), "REGISTER "
					  "at %s: %m", cc->registrar, err);
		else
			(void)re_snprintf(cc->why, sizeof(cc->why), "REGISTER "
					  "at %s: %u %s", cc->registrar, scode,
					  reason);
		fprintf(stderr, "cmrlab call: %s\n", cc->why);
		cc->ret = 1;
		cc->no_register = true;
		stop(cc);
		return;
	}

	if (cc->answer) {
		re_fprintf(stderr, "cmrlab call: answering as %s at "
			   "sip:%s@%J\n", cc->cc.to, cc->cc.to,
			   ua_laddr(cc->ua));
		return;
	}

	cc->t_place = loop_now_ms();
	place_next(cc);
}


static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct callcmd *cc = arg;
	(void)sig;
	(void)what;

	if (cc->stopping) {
		loop_stop();
		return;
	}
	str_ncpy(cc->why, cc->answer ? "no call came before the signal" :
		 "not placed before the signal", sizeof(cc->why));
	cc->ret = 1;
	stop(cc);
}


/* The calls that never ran (a refused REGISTER, a signal) failed, with
 * what stopped them: the totals add up, and a single call still ends in
 * its one verdict (and --save in a WAV, of nothing). */
static void calls_not_run(struct callcmd *cc)
{
	unsigned n = cc->calls - cc->done;
	struct cmrc_result r;

	if (cc->done >= cc->calls)
		return;

	result_none(cc, &r);
	str_ncpy(r.reason, cc->why[0] ? cc->why : "not run", sizeof(r.reason));
	cc->done += n;
	cc->failed += n;
	call_reason_count(cc, r.reason, n);

	if (!cc->first_kept) {
		cc->first_kept = true;
		cc->first = r;
		(void)re_sdprintf(&cc->first_json, "%H", cmrc_result_json, &r);
		if (cc->save)
			cc->saved = wavw_write(cc->save, NULL, 0, MEDIA_SRATE);
	}
}


static int run(struct callcmd *cc)
{
	int err;

	cc->uc.events = cc->log_json != NULL;
	if (cc->log_json && evlog_open(cc->log_json)) {
		fprintf(stderr, "cmrlab call: --log-json: cannot open '%s': "
			"%s\n", cc->log_json, strerror(errno));
		return EXIT_USAGE;
	}
	if (cc->pcap) {
		err = pcapw_open(cc->pcap);
		if (err) {
			fprintf(stderr, "cmrlab call: --pcap: cannot open "
				"'%s': %s\n", cc->pcap, strerror(err));
			return EXIT_USAGE;
		}
		cc->uc.cap_sip = cc->uc.cap_rtp_rx = true;
		cc->uc.cap_rtp_tx = cc->uc.cap_http = true;
	}

	/* --save is written at the end; a path that cannot take it is bad
	 * usage found now, like --pcap's, and not after the calls. */
	if (cc->save) {
		err = wavw_write(cc->save, NULL, 0, MEDIA_SRATE);
		if (err) {
			fprintf(stderr, "cmrlab call: --save: cannot write "
				"'%s': %s\n", cc->save, strerror(err));
			return EXIT_USAGE;
		}
	}

	cc->uc.fetchh = cmd_fetch;
	err = ua_alloc(&cc->ua, &cc->uc);
	if (err) {
		re_fprintf(stderr, "cmrlab call: cannot listen for SIP on "
			   "%J: %m\n", &cc->uc.laddr, err);
		return 1;
	}

	if (cc->answer)
		(void)ua_answer_set(cc->ua, &cc->cc, call_done, cc);

	cc->sig_int = evsignal_new(loop_base(), SIGINT, signal_cb, cc);
	cc->sig_term = evsignal_new(loop_base(), SIGTERM, signal_cb, cc);
	if (cc->sig_int)
		evsignal_add(cc->sig_int, NULL);
	if (cc->sig_term)
		evsignal_add(cc->sig_term, NULL);

	cc->t_start = loop_now_ms();
	if (cc->no_register)
		reg_done(0, 200, "OK", cc);
	else {
		err = ua_register(cc->ua, cc->registrar, cc->answer ?
				  cc->cc.to : cc->cc.from, REG_EXPIRES,
				  reg_done, cc);
		if (err)
			reg_done(err, 0, NULL, cc);
	}

	(void)loop_run();

	calls_not_run(cc);
	if (cc->failed)
		cc->ret = 1;
	call_report(cc);
	if (cc->save && cc->saved) {
		fprintf(stderr, "cmrlab call: --save: cannot write '%s': "
			"%s\n", cc->save, strerror(cc->saved));
		cc->ret = 1;
	}

	tmr_cancel(&cc->tmr_next);
	if (cc->sig_int)
		event_free(cc->sig_int);
	if (cc->sig_term)
		event_free(cc->sig_term);
	cc->ua = mem_deref(cc->ua);
	cc->first_json = mem_deref(cc->first_json);
	pcapw_close();
	evlog_close();

	return cc->ret;
}


static int number(const char *opt, const char *s, double lo, double hi,
		  double *v)
{
	char *end = NULL;
	double d = strtod(s, &end);

	if (!*s || *end || d < lo || d > hi) {
		fprintf(stderr, "cmrlab call: %s: '%s' is not a number in "
			"%g..%g\n", opt, s, lo, hi);
		return EINVAL;
	}

	*v = d;
	return 0;
}


/* A count or a status code: 1.5 calls, or status 486.5, is a typing
 * error to report, not a number to round down. */
static int integer(const char *opt, const char *s, double lo, double hi,
		   double *v)
{
	if (number(opt, s, lo, hi, v))
		return EINVAL;
	if (*v != (double)(long)*v) {
		fprintf(stderr, "cmrlab call: %s: '%s' is not a whole "
			"number\n", opt, s);
		return EINVAL;
	}

	return 0;
}


static bool user_ok(const char *s)
{
	size_t n = strlen(s);

	if (!n || n >= 64)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || strchr("-_.!~*'+", ch)))
			return false;
	}

	return true;
}


int cmd_call(int argc, char *argv[])
{
	enum { O_FROM = 256, O_TO, O_AS, O_MODE, O_TARGET, O_SIP, O_RTP,
	       O_NOREG, O_NOUPD, O_RING, O_REJECT, O_EXPECT, O_TALK,
	       O_HANGUP, O_CALLS, O_RATE, O_JSON, O_SAVE, O_PCAP, O_LOGJSON,
	       O_LEVEL, O_ANSWER };
	static const struct option opts[] = {
		{ "from",        required_argument, NULL, O_FROM },
		{ "to",          required_argument, NULL, O_TO },
		{ "as",          required_argument, NULL, O_AS },
		{ "answer",      no_argument,       NULL, O_ANSWER },
		{ "mode",        required_argument, NULL, O_MODE },
		{ "target",      required_argument, NULL, O_TARGET },
		{ "sip",         required_argument, NULL, O_SIP },
		{ "rtp-ports",   required_argument, NULL, O_RTP },
		{ "no-register", no_argument,       NULL, O_NOREG },
		{ "no-update",   no_argument,       NULL, O_NOUPD },
		{ "ring",        required_argument, NULL, O_RING },
		{ "reject",      required_argument, NULL, O_REJECT },
		{ "expect",      required_argument, NULL, O_EXPECT },
		{ "talk",        required_argument, NULL, O_TALK },
		{ "hangup",      required_argument, NULL, O_HANGUP },
		{ "calls",       required_argument, NULL, O_CALLS },
		{ "rate",        required_argument, NULL, O_RATE },
		{ "json",        no_argument,       NULL, O_JSON },
		{ "save",        required_argument, NULL, O_SAVE },
		{ "pcap",        required_argument, NULL, O_PCAP },
		{ "log-json",    required_argument, NULL, O_LOGJSON },
		{ "log-level",   required_argument, NULL, O_LEVEL },
		{ "help",        no_argument,       NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	static struct callcmd cc;
	enum log_lvl lvl = LVL_WARN;
	const char *target = "sip:127.0.0.1:5060";
	double v;
	int ch, ret;

	memset(&cc, 0, sizeof(cc));
	cc.calls = 1;
	cc.rate = 10;
	cc.cc.mode = CMRC_PLAIN;
	cc.cc.ring_ms = 3000;
	cc.cc.talk_ms = 2000;
	(void)sa_set_str(&cc.uc.laddr, "127.0.0.1", 0);

	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {

		switch (ch) {

		case O_FROM: str_ncpy(cc.cc.from, optarg, sizeof(cc.cc.from));
			break;
		case O_TO:   str_ncpy(cc.cc.to, optarg, sizeof(cc.cc.to));
			break;
		case O_AS:   str_ncpy(cc.cc.to, optarg, sizeof(cc.cc.to));
			break;
		case O_ANSWER: cc.answer = true; break;
		case O_MODE:
			if (cmrc_mode_parse(&cc.cc.mode, optarg)) {
				fprintf(stderr, "cmrlab call: --mode: '%s' is "
					"not http|as|gateway|plain\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case O_TARGET: target = optarg; break;
		case O_SIP:
			if (args_addr(&cc.uc.laddr, optarg, "--sip"))
				return EXIT_USAGE;
			break;
		case O_RTP:
			if (args_ports(&cc.uc.rtp_lo, &cc.uc.rtp_hi, optarg))
				return EXIT_USAGE;
			break;
		case O_NOREG: cc.no_register = true; break;
		case O_NOUPD: cc.uc.no_update = true; break;
		case O_RING:
			if (number("--ring", optarg, 0, 3600, &v))
				return EXIT_USAGE;
			cc.cc.ring_ms = (uint32_t)(v * 1000);
			break;
		case O_TALK:
			if (number("--talk", optarg, 0, 3600, &v))
				return EXIT_USAGE;
			cc.cc.talk_ms = (uint32_t)(v * 1000);
			break;
		case O_REJECT:
			if (integer("--reject", optarg, 400, 699, &v))
				return EXIT_USAGE;
			cc.cc.reject = (uint16_t)v;
			break;
		case O_EXPECT:
			if (integer("--expect", optarg, 200, 699, &v))
				return EXIT_USAGE;
			cc.cc.expect = (uint16_t)v;
			break;
		case O_HANGUP:
			if (!strcmp(optarg, "callee"))
				cc.cc.hangup_callee = true;
			else if (strcmp(optarg, "caller")) {
				fprintf(stderr, "cmrlab call: --hangup: '%s' "
					"is not caller|callee\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case O_CALLS:
			if (integer("--calls", optarg, 1, MAX_CALLS, &v))
				return EXIT_USAGE;
			cc.calls = (unsigned)v;
			break;
		case O_RATE:
			if (number("--rate", optarg, 0.01, 10000, &v))
				return EXIT_USAGE;
			cc.rate = v;
			break;
		case O_JSON:    cc.json = true; break;
		case O_SAVE:    cc.save = optarg; break;
		case O_PCAP:    cc.pcap = optarg; break;
		case O_LOGJSON: cc.log_json = optarg; break;
		case O_LEVEL:
			if (!args_log_level(&lvl, optarg, "cmrlab call"))
				return EXIT_USAGE;
			break;
		case 'h':
			usage_call(stdout);
			return 0;
		default:
			usage_call(stderr);
			return EXIT_USAGE;
		}
	}

	if (optind < argc) {
		fprintf(stderr, "cmrlab call: unexpected argument '%s'\n",
			argv[optind]);
		return EXIT_USAGE;
	}

	cc.cc.callee = cc.answer;
	if (cc.answer && !user_ok(cc.cc.to)) {
		fprintf(stderr, "cmrlab call: --answer needs --as USER\n");
		return EXIT_USAGE;
	}
	if (!cc.answer && (!user_ok(cc.cc.from) || !user_ok(cc.cc.to))) {
		fprintf(stderr, "cmrlab call: the calling party needs --from "
			"USER and --to USER (or --answer --as USER)\n");
		return EXIT_USAGE;
	}
	if (cc.answer && cc.cc.mode == CMRC_GATEWAY) {
		fprintf(stderr, "cmrlab call: gateway mode has no called "
			"party procedure (CMRT goes by http or as)\n");
		return EXIT_USAGE;
	}
	if (strlen(target) >= sizeof(cc.registrar) ||
	    !args_sip_target(target, &cc.uc.laddr)) {
		fprintf(stderr, "cmrlab call: --target: '%s' is not "
			"sip:ADDR:PORT, ADDR an IP address of --sip's family "
			"(no name is looked up)\n", target);
		return EXIT_USAGE;
	}
	str_ncpy(cc.cc.target, target, sizeof(cc.cc.target));
	str_ncpy(cc.registrar, target, sizeof(cc.registrar));
	if (!cc.cc.from[0])
		str_ncpy(cc.cc.from, cc.cc.to, sizeof(cc.cc.from));

	cc.setup = calloc(cc.calls, sizeof(*cc.setup));
	if (!cc.setup)
		return 1;
	cc.progress = cc.calls > 1 && isatty(STDERR_FILENO);

	if (libre_init()) {
		free(cc.setup);
		return 1;
	}
	log_setup(lvl);
	if (loop_init()) {
		libre_close();
		free(cc.setup);
		return 1;
	}

	ret = run(&cc);

	loop_close();
	libre_close();
	free(cc.setup);

	return ret;
}
