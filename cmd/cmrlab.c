/**
 * @file cmrlab.c  Command line: serve | call | demo | conform | version
 *                  (docs/cli.md)
 *
 * Exit status: 0 success, 1 a failure at run time, 2 bad usage or
 * configuration.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <event2/event.h>
#include <microhttpd.h>
#include <re.h>
#include "core/core.h"
#include "core/urlsign.h"
#include "sip/sip.h"
#include "http/http.h"
#include "rtp/rtp.h"
#include "cmd/args.h"
#include "cmd/cmd.h"

enum {
	EXIT_USAGE = 2,
	HARD_STOP_MS = 1500,
};

struct serve {
	struct sa sip_addr;
	struct sa http_addr;
	struct sa advertise;      /* unset unless --advertise */
	uint16_t rtp_lo, rtp_hi;
	const char *profile;
	const char *log_json;
	const char *pcap;
	const char *state_dir;
	const char *token_file;
	char token[TOKEN_MAX + 1];  /* the API's bearer token, or "" */
	unsigned max_calls;
	const char *digest;          /* --digest, or NULL */
	struct sipsrv *sip;
	struct httpd *httpd;
	struct streamer *streamer;
	struct reload *reload;       /* the profile, loaded off the loop */
	struct state *state;         /* the API's changes (--state DIR) */
	int load_err;                /* of the load at start-up */
	char load_msg[512];
	struct event *sig_int, *sig_term, *sig_hup, *hard_stop;
	bool stopping;
};


static void usage_main(FILE *f)
{
	fprintf(f,
		"usage: cmrlab <command> [options]\n"
		"\n"
		"commands:\n"
		"  serve     run the CMR Server, the HTTP resource server "
		"and the API\n"
		"  call      a CMR Client: call, or answer, in one mode\n"
		"  demo      every delivery case in one process, with a "
		"report\n"
		"  conform   judge a CMR Server or Client, clause by clause\n"
		"  version   print the version\n"
		"\n"
		"'cmrlab <command> --help' describes a command.\n");
}


static void usage_serve(FILE *f)
{
	fprintf(f,
		"usage: cmrlab serve [options]\n"
		"\n"
		"Runs the SIP CMR Server (UDP and TCP), the HTTP resource "
		"server and\nthe API on one loop.  Prints one readiness line "
		"on stdout when every\nlistener is up.  SIGINT/SIGTERM end "
		"every call and exit 0; SIGHUP\nreloads the profile.\n"
		"\n"
		"options:\n"
		"  --sip ADDR:PORT      SIP listen address (default "
		"127.0.0.1:5060)\n"
		"  --http ADDR:PORT     HTTP listen address (default "
		"127.0.0.1:8080)\n"
		"                       0.0.0.0 or [::] listen on every "
		"local address\n"
		"  --advertise ADDR     the address put in Via, Contact, SDP "
		"and URLs\n"
		"                       (default: the address a request "
		"arrived on)\n"
		"  --api-token-file FILE\n"
		"                       the API (/api/...) needs "
		"'Authorization: Bearer\n"
		"                       TOKEN', TOKEN the first line of FILE "
		"(16-256\n"
		"                       printable ASCII characters, no "
		"spaces); required\n"
		"                       when --http is not a loopback "
		"address\n"
		"  --rtp-ports LO-HI    RTP port range (default "
		"20000-29999)\n"
		"  --profile FILE       profile file (default: the embedded "
		"profile)\n"
		"  --log-json FILE      append call events as JSON lines\n"
		"  --pcap FILE          write every SIP message sent or "
		"received to a pcap\n"
		"                       file, one UDP packet each (TCP "
		"messages too)\n"
		"  --state DIR          keep the API's changes in DIR and "
		"load them at start\n"
		"  --log-level LEVEL    error|warn|info|debug (default "
		"info)\n"
		"  --max-calls N        live calls before 503 (default "
		"1000)\n"
		"  --digest ALGS        digest algorithms offered to "
		"subscribers with a\n"
		"                       password, in order (default "
		"SHA-256,MD5)\n"
		"  --url-ttl S          seconds a signed resource URL stays "
		"valid, 1..86400\n"
		"                       (default: 300, or the call's ring "
		"limit + 60 if longer)\n"
		"  -h, --help           this text\n");
}


static void hard_stop_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;

	LOGW(SUB_CORE, "shutdown: calls did not finish in time");
	loop_stop();
}


static void shutdown_done(void *arg)
{
	(void)arg;

	LOGI(SUB_CORE, "shutdown: every call ended");
	loop_stop();
}


/* On the loop, when a load of the profile has finished: at start-up (no
 * live table yet) the first table goes live; after a SIGHUP the new one
 * replaces the old in one step, or the old one stays when the load
 * failed. */
static void loaded(int err, struct table *t, const char *msg, void *arg)
{
	struct serve *sv = arg;

	/* The API's changes go onto every table before it goes live. */
	if (!err && state_apply(sv->state, t)) {
		err = ENOMEM;
		msg = "out of memory putting the API's changes on the profile";
	}

	if (!table_live()) {
		sv->load_err = err;
		if (err)
			str_ncpy(sv->load_msg, msg, sizeof(sv->load_msg));
		else
			table_live_set(t);
		loop_stop();
		return;
	}

	if (err) {
		LOGE(SUB_CORE, "reload failed, keeping the old profile: %s",
		     msg);
		return;
	}

	table_bindings_move(t, table_live());
	table_live_set(t);

	LOGI(SUB_CORE, "reload: %u subscribers, %u resources",
	     table_subscriber_count(table_live()),
	     table_resource_count(table_live()));
}


static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct serve *sv = arg;
	struct timeval tv = { HARD_STOP_MS / 1000,
			      (HARD_STOP_MS % 1000) * 1000 };
	(void)what;

	if (sig == SIGHUP) {
		if (sv->stopping)
			return;
		if (reload_busy(sv->reload))
			LOGI(SUB_CORE, "SIGHUP: a reload is running; the "
			     "profile is read again when it is done");
		else
			LOGI(SUB_CORE, "SIGHUP: reloading the profile");
		if (reload_start(sv->reload))
			LOGE(SUB_CORE, "reload failed, keeping the old "
			     "profile: cannot start the load");
		return;
	}

	if (sv->stopping) {
		loop_stop();
		return;
	}

	LOGI(SUB_CORE, "%s: ending every call",
	     sig == SIGINT ? "SIGINT" : "SIGTERM");
	sv->stopping = true;

	sv->hard_stop = evtimer_new(loop_base(), hard_stop_cb, sv);
	if (sv->hard_stop)
		evtimer_add(sv->hard_stop, &tv);

	sipsrv_shutdown(sv->sip, shutdown_done, sv);
}


static int serve_run(struct serve *sv)
{
	struct sipsrv_conf conf;
	int ret = 1;

	/* The API's changes of earlier runs, before the profile they go
	 * onto; their WAV resources are converted here, before the ready
	 * line, as nothing else runs yet. */
	if (state_alloc(&sv->state, sv->state_dir))
		goto out;
	if (state_load(sv->state, media_reload_prep, NULL, sv->load_msg,
		       sizeof(sv->load_msg))) {
		fprintf(stderr, "cmrlab: --state: %s\n", sv->load_msg);
		ret = EXIT_USAGE;
		goto out;
	}

	/* The profile and its media load the way a SIGHUP loads them, off
	 * the loop; nothing else is on the loop yet, so wait for it here. */
	if (reload_alloc(&sv->reload, sv->profile, media_reload_prep,
			 loaded, sv) ||
	    reload_start(sv->reload) || loop_run())
		goto out;
	if (sv->load_err) {
		fprintf(stderr, "cmrlab: %s\n", sv->load_msg);
		ret = EXIT_USAGE;
		goto out;
	}

	if (sv->log_json && evlog_open(sv->log_json)) {
		fprintf(stderr, "cmrlab: --log-json: cannot open '%s': %s\n",
			sv->log_json, strerror(errno));
		ret = EXIT_USAGE;
		goto out;
	}

	if (sv->pcap) {
		int e = pcapw_open(sv->pcap);

		if (e) {
			fprintf(stderr, "cmrlab: --pcap: cannot open '%s': "
				"%s\n", sv->pcap, strerror(e));
			ret = EXIT_USAGE;
			goto out;
		}
	}

	if (httpd_alloc(&sv->httpd, &sv->http_addr)) {
		fprintf(stderr, "cmrlab: cannot listen for HTTP on %s\n",
			"the --http address");
		goto out;
	}
	if (sa_isset(&sv->advertise, SA_ADDR))
		(void)httpd_advertise(sv->httpd, &sv->advertise);
	(void)httpd_state_set(sv->httpd, sv->state, media_reload_prep, NULL);
	/* Before the loop runs, so no request is ever answered without it. */
	if (sv->token[0] && httpd_token_set(sv->httpd, sv->token)) {
		fprintf(stderr, "cmrlab: out of memory\n");
		goto out;
	}

	/* RTP goes out from the SIP address's IP, ports from --rtp-ports. */
	if (streamer_alloc(&sv->streamer, &sv->sip_addr, sv->rtp_lo,
			   sv->rtp_hi)) {
		fprintf(stderr, "cmrlab: cannot set up the RTP streamer\n");
		goto out;
	}

	memset(&conf, 0, sizeof(conf));
	conf.laddr = sv->sip_addr;
	conf.advertise = sv->advertise;
	conf.http_laddr = *httpd_laddr(sv->httpd);
	conf.streamer = sv->streamer;
	conf.max_calls = sv->max_calls;
	conf.digest = sv->digest;
	/* sipsrv_alloc replaces a base on 0.0.0.0 or :: with one that names
	 * a concrete address (the advertised one, or the first SIP
	 * transport's); per call the B2BUA asks sipsrv_http_base(). */
	if (httpd_url(sv->httpd, conf.http_base, sizeof(conf.http_base)))
		goto out;

	if (sipsrv_alloc(&sv->sip, &conf)) {
		fprintf(stderr, "cmrlab: cannot listen for SIP on %s\n",
			"the --sip address");
		goto out;
	}

	/* libre must have handed its sockets to our loop (core/loop.c). */
	if (!loop_adapter_ok() || loop_fd_count() == 0) {
		fprintf(stderr, "cmrlab: libre's sockets did not reach the "
			"libevent adapter: libre must be the shared libre.so "
			"without -Bsymbolic; refusing to start\n");
		goto out;
	}

	sv->sig_int = evsignal_new(loop_base(), SIGINT, signal_cb, sv);
	sv->sig_term = evsignal_new(loop_base(), SIGTERM, signal_cb, sv);
	sv->sig_hup = evsignal_new(loop_base(), SIGHUP, signal_cb, sv);
	if (!sv->sig_int || !sv->sig_term || !sv->sig_hup ||
	    evsignal_add(sv->sig_int, NULL) || evsignal_add(sv->sig_term, NULL)
	    || evsignal_add(sv->sig_hup, NULL))
		goto out;

	/* The addresses as bound: 0.0.0.0 or [::] when listening on every
	 * local address (the log names each one and the advertised). */
	memtrim_start();

	(void)re_printf("ready sip=udp:%J http=http://%J\n",
			sipsrv_laddr(sv->sip), httpd_laddr(sv->httpd));
	fflush(stdout);

	if (loop_run())
		goto out;

	ret = 0;

 out:
	memtrim_stop();
	if (sv->hard_stop)
		event_free(sv->hard_stop);
	if (sv->sig_int)
		event_free(sv->sig_int);
	if (sv->sig_term)
		event_free(sv->sig_term);
	if (sv->sig_hup)
		event_free(sv->sig_hup);
	/* A load still running is cancelled and its thread joined. */
	sv->reload = mem_deref(sv->reload);
	sv->sip = mem_deref(sv->sip);
	sv->streamer = mem_deref(sv->streamer);
	sv->httpd = mem_deref(sv->httpd);
	sv->state = mem_deref(sv->state);
	table_live_set(NULL);
	evlog_reset();
	evlog_close();
	pcapw_close();

	return ret;
}


static int cmd_serve(int argc, char *argv[])
{
	enum { O_SIP = 256, O_HTTP, O_RTP, O_PROFILE, O_LOGJSON, O_PCAP,
	       O_STATE, O_LEVEL, O_MAXCALLS, O_ADVERTISE, O_TOKEN,
	       O_DIGEST, O_URLTTL };
	static const struct option opts[] = {
		{"sip",       required_argument, NULL, O_SIP},
		{"http",      required_argument, NULL, O_HTTP},
		{"rtp-ports", required_argument, NULL, O_RTP},
		{"profile",   required_argument, NULL, O_PROFILE},
		{"log-json",  required_argument, NULL, O_LOGJSON},
		{"pcap",      required_argument, NULL, O_PCAP},
		{"state",     required_argument, NULL, O_STATE},
		{"log-level", required_argument, NULL, O_LEVEL},
		{"max-calls", required_argument, NULL, O_MAXCALLS},
		{"advertise", required_argument, NULL, O_ADVERTISE},
		{"api-token-file", required_argument, NULL, O_TOKEN},
		{"digest",    required_argument, NULL, O_DIGEST},
		{"url-ttl",   required_argument, NULL, O_URLTTL},
		{"help",      no_argument,       NULL, 'h'},
		{NULL, 0, NULL, 0}
	};
	struct serve sv;
	enum log_lvl lvl = LVL_INFO;
	int c, ret;

	memset(&sv, 0, sizeof(sv));
	(void)sa_set_str(&sv.sip_addr, "127.0.0.1", 5060);
	(void)sa_set_str(&sv.http_addr, "127.0.0.1", 8080);
	sv.rtp_lo = 20000;
	sv.rtp_hi = 29999;
	sv.max_calls = 1000;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {

		case O_SIP:
			if (args_addr(&sv.sip_addr, optarg, "--sip"))
				return EXIT_USAGE;
			break;

		case O_HTTP:
			if (args_addr(&sv.http_addr, optarg, "--http"))
				return EXIT_USAGE;
			break;

		case O_RTP:
			if (args_ports(&sv.rtp_lo, &sv.rtp_hi, optarg))
				return EXIT_USAGE;
			break;

		case O_ADVERTISE:
			if (args_advertise(&sv.advertise, optarg))
				return EXIT_USAGE;
			break;

		case O_PROFILE:  sv.profile = optarg; break;
		case O_LOGJSON:  sv.log_json = optarg; break;
		case O_PCAP:     sv.pcap = optarg; break;
		case O_STATE:    sv.state_dir = optarg; break;
		case O_TOKEN:    sv.token_file = optarg; break;

		case O_LEVEL:
			if (!args_log_level(&lvl, optarg, "cmrlab"))
				return EXIT_USAGE;
			break;

		case O_MAXCALLS: {
			char *end = NULL;
			unsigned long n = strtoul(optarg, &end, 10);

			if (!*optarg || *end || n < 1 || n > 100000) {
				fprintf(stderr, "cmrlab: --max-calls: '%s' is "
					"not a number in 1..100000\n", optarg);
				return EXIT_USAGE;
			}
			sv.max_calls = (unsigned)n;
			break;
		}

		case O_DIGEST:
			if (sipauth_algs_check(optarg)) {
				fprintf(stderr, "cmrlab: --digest: '%s' is not "
					"SHA-256 and/or MD5, comma-separated"
					"\n", optarg);
				return EXIT_USAGE;
			}
			sv.digest = optarg;
			break;

		case O_URLTTL: {
			char *end = NULL;
			unsigned long n = strtoul(optarg, &end, 10);

			if (!*optarg || *end || n < 1 ||
			    n > URLSIGN_TTL_MAX) {
				fprintf(stderr, "cmrlab: --url-ttl: '%s' is "
					"not a number in 1..%u\n", optarg,
					URLSIGN_TTL_MAX);
				return EXIT_USAGE;
			}
			urlsign_ttl_set((uint32_t)n);
			break;
		}

		case 'h':
			usage_serve(stdout);
			return 0;

		default:
			usage_serve(stderr);
			return EXIT_USAGE;
		}
	}

	if (optind < argc) {
		fprintf(stderr, "cmrlab: serve: unexpected argument '%s'\n",
			argv[optind]);
		usage_serve(stderr);
		return EXIT_USAGE;
	}

	/* Via, Contact and the SDP name the advertised address to the peers
	 * of the SIP transports: it must be of their family. */
	if (sa_isset(&sv.advertise, SA_ADDR) &&
	    sa_af(&sv.advertise) != sa_af(&sv.sip_addr)) {
		fprintf(stderr, "cmrlab: --advertise: an %s address, but "
			"--sip listens on %s\n",
			sa_af(&sv.advertise) == AF_INET6 ? "IPv6" : "IPv4",
			sa_af(&sv.sip_addr) == AF_INET6 ? "IPv6" : "IPv4");
		return EXIT_USAGE;
	}

	/* Given, the token guards the API on any address (the operator
	 * asked for it); not given, only loopback keeps the API, which can
	 * change the live table, off the network. */
	if (sv.token_file) {
		if (args_token(sv.token, sizeof(sv.token), sv.token_file))
			return EXIT_USAGE;
	}
	else if (!args_loopback(&sv.http_addr)) {
		re_fprintf(stderr, "cmrlab: --http %J is not a loopback "
			   "address: the API would be open to the network; "
			   "give --api-token-file FILE\n", &sv.http_addr);
		return EXIT_USAGE;
	}

	if (libre_init())
		return 1;
	log_setup(lvl);
	if (loop_init()) {
		libre_close();
		return 1;
	}

	ret = serve_run(&sv);
	memset(sv.token, 0, sizeof(sv.token));

	loop_close();
	libre_close();

	return ret;
}


int main(int argc, char *argv[])
{
	const char *cmd;

	if (argc < 2) {
		usage_main(stderr);
		return EXIT_USAGE;
	}

	cmd = argv[1];

	if (!strcmp(cmd, "serve"))
		return cmd_serve(argc - 1, argv + 1);
	if (!strcmp(cmd, "call"))
		return cmd_call(argc - 1, argv + 1);
	if (!strcmp(cmd, "demo"))
		return cmd_demo(argc - 1, argv + 1);
	if (!strcmp(cmd, "conform"))
		return cmd_conform(argc - 1, argv + 1);

	if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
		if (argc > 2 && (!strcmp(argv[2], "--help") ||
				 !strcmp(argv[2], "-h"))) {
			printf("usage: cmrlab version\n\nPrints the version "
			       "of cmrlab and of the libraries it runs on.\n");
			return 0;
		}
		printf("cmrlab %s (libre %s, libevent %s, libmicrohttpd "
		       "%s)\n", CMRLAB_VERSION, sys_libre_version_get(),
		       event_get_version(), MHD_get_version());
		return 0;
	}

	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") ||
	    !strcmp(cmd, "help")) {
		usage_main(stdout);
		return 0;
	}

	fprintf(stderr, "cmrlab: unknown command '%s'\n", cmd);
	usage_main(stderr);

	return EXIT_USAGE;
}
