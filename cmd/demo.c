/**
 * @file demo.c  cmrlab demo: the server and CMR Clients in one process,
 *               every delivery case, shown, heard and measured
 *
 * The CMR Server, the HTTP resource server and the RTP streamer run on
 * 127.0.0.1 (free ports) with the demo's own profile; a calling party's
 * user agent (and a second one whose Allow lacks UPDATE) and a called
 * party's user agent run beside them on the same loop.  One case after
 * the other, the called party registers as the case's subscriber, the
 * calling party calls it, and both follow their mode's client procedure.
 * As the SIP messages go, the terminal draws the ladder (caller | cmrlab
 * | callee); at the end of each case come the figures and the verdict.
 * Then demo-report.html (the ladders, figures, the waveform of what the
 * CMR Client received and a player for it) and demo.pcap (SIP, RTP and
 * HTTP) are written to --out.  Exit status 0 only if every case passed.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <re.h>
#include "core/core.h"
#include "core/report.h"
#include "sip/sip.h"
#include "sip/ua.h"
#include "sip/ladder.h"
#include "http/http.h"
#include "rtp/rtp.h"
#include "rtp/rtpep.h"
#include "cmd/cmd.h"
#include "cmd/demo_int.h"

/* The demo's subscribers: bob gives plain callers the URL alone (HTTP
 * mode), erin the ringback as early media. */
static const char demo_profile[] =
	"defaults plain=early-media\n"
	"subscriber alice\n"
	"subscriber bob plain=http\n"
	"subscriber erin\n";

const struct dcase demo_cases[] = {
	{ "http-bt", "HTTP mode, ringback (CMRBT): the URL in the 180",
	  CMRC_HTTP, CMRC_PLAIN, "bob", false, false },
	{ "http-rt", "HTTP mode, ringtone (CMRT): the URL in the INVITE",
	  CMRC_PLAIN, CMRC_HTTP, "bob", false, true },
	{ "as-bt", "Application server mode, ringback (CMRBT): "
	  "early-session offer in the reliable 180, answer in the PRACK",
	  CMRC_AS, CMRC_PLAIN, "bob", false, false },
	{ "as-rt", "Application server mode, ringtone (CMRT): "
	  "early-session offer in the PRACK, answer in its 200",
	  CMRC_PLAIN, CMRC_AS, "bob", false, true },
	{ "gw-update", "Gateway mode, ringback (CMRBT): SDP answer and "
	  "P-Early-Media in the 180, UPDATE at the answer",
	  CMRC_GATEWAY, CMRC_PLAIN, "bob", false, false },
	{ "gw-reinvite", "Gateway mode, ringback (CMRBT), a caller "
	  "without UPDATE: re-INVITE after the ACK",
	  CMRC_GATEWAY, CMRC_PLAIN, "bob", true, false },
	{ "early-media", "Early media to a plain caller: SDP answer and "
	  "the URL in the 180, re-INVITE after the ACK",
	  CMRC_PLAIN, CMRC_PLAIN, "erin", false, false },
};




static void dres_free(struct dres *r)
{
	r->pcm = mem_deref(r->pcm);
	r->wav = mem_deref(r->wav);
}


/* ---- the ladder, live --------------------------------------------------- */

/* A line of ours (a case's title, a verdict) within the ladder's width:
 * the first line after lead spaces, the rest after indent spaces, each
 * in color (if any, on a terminal) by itself. */
static void print_wrapped(const struct demo *d, const char *color,
			  size_t lead, size_t indent, const char *s)
{
	size_t n = strlen(s), pad = lead;
	const bool on = d->color && color;

	while (n) {
		size_t l = report_wrap(s, n, TERM_W - pad);

		printf("%*s%s%.*s%s\n", (int)pad, "", on ? color : "",
		       (int)l, s, on ? "\033[0m" : "");
		s += l;
		n -= l;
		while (n && *s == ' ') {
			++s;
			--n;
		}
		pad = indent;
	}
}


static void trace(bool tx, const struct sa *src, const struct sa *dst,
		  const uint8_t *pkt, size_t len, void *arg)
{
	struct dtrace *t = arg;
	struct demo *d = t->d;
	struct dres *r = &d->res[d->idx];
	struct report_row *row;
	struct sip_msg *msg = NULL;
	struct mbuf *mb;
	(void)src;
	(void)dst;

	if (d->idx >= NCASES || r->nrows >= MAX_ROWS)
		return;

	mb = mbuf_alloc(len);
	if (!mb)
		return;
	(void)mbuf_write_mem(mb, pkt, len);
	mb->pos = 0;
	if (sip_msg_decode(&msg, mb)) {
		mem_deref(mb);
		return;
	}

	row = &r->rows[r->nrows++];
	memset(row, 0, sizeof(*row));
	row->t_ms = loop_now_ms() - d->t_case;
	if (t->callee) {
		row->from = tx ? RCOL_CALLEE : RCOL_SERVER;
		row->to = tx ? RCOL_SERVER : RCOL_CALLEE;
	}
	else {
		row->from = tx ? RCOL_CALLER : RCOL_SERVER;
		row->to = tx ? RCOL_SERVER : RCOL_CALLER;
	}
	ladder_describe(row, msg);

	if (d->tty)
		printf("\r\033[K");
	ladder_row_print(stdout, row, d->color);
	fflush(stdout);

	mem_deref(msg);
	mem_deref(mb);
}


static void progress_cb(void *arg)
{
	struct demo *d = arg;
	const struct dcase *dc = &demo_cases[d->idx];
	struct cmrc *c = dc->rt ? ua_call_first(d->callee) : d->ca;
	unsigned n = c && !(dc->rt ? d->cb_done : d->ca_done) ?
		cmrc_packets(c) : 0;

	printf("\r\033[K  ... %.1f s, %s packets received by the %s: %u",
	       (double)(loop_now_ms() - d->t_case) / 1000.0,
	       dc->rt ? "ringtone and talk" : "ringback and talk",
	       dc->rt ? "callee" : "caller", n);
	fflush(stdout);
	tmr_start(&d->tmr_progress, PROGRESS_MS, progress_cb, d);
}


static void next_case(void *arg);


static void case_end(struct demo *d)
{
	const struct dcase *dc = &demo_cases[d->idx];
	struct dres *r = &d->res[d->idx];
	const char *why = NULL;

	tmr_cancel(&d->tmr_progress);
	tmr_cancel(&d->tmr_limit);
	if (d->tty)
		printf("\r\033[K");

	/* A party's own reason says more than the other's silence. */
	if (d->ca_done && !d->ra.ok)
		why = d->ra.reason;
	else if (d->cb_done && !d->rb.ok)
		why = d->rb.reason;
	else if (!d->ca_done)
		why = "the caller did not finish";
	else if (!d->cb_done)
		why = "the callee did not finish";
	else
		why = demo_case_check(dc, &d->ra, &d->rb);

	r->passed = why == NULL;
	if (r->passed)
		(void)re_snprintf(r->verdict, sizeof(r->verdict), "pass: %s",
				  dc->rt ? d->rb.reason : d->ra.reason);
	else
		(void)re_snprintf(r->verdict, sizeof(r->verdict), "FAIL: %s",
				  why);
	if (r->passed)
		++d->passed;

	if (d->ca_done)
		demo_figures(r, "caller", &d->ra);
	if (d->cb_done)
		demo_figures(r, "callee", &d->rb);
	for (size_t i = 0; i < r->nfigs; i++)
		printf("  %-28s %s\n", r->figs[i].name, r->figs[i].value);
	print_wrapped(d, r->passed ? "\033[32m" : "\033[31m", 2, 8,
		      r->verdict);
	printf("\n");
	fflush(stdout);

	d->ca = mem_deref(d->ca);
	d->cb = mem_deref(d->cb);
	++d->idx;
	tmr_start(&d->tmr, GAP_MS, next_case, d);
}


static void keep_heard(struct demo *d, const struct cmrc_result *x)
{
	struct dres *r = &d->res[d->idx];

	if (!x->npcm)
		return;

	r->pcm = mem_alloc(x->npcm * sizeof(int16_t), NULL);
	r->wav = mbuf_alloc(44 + 2 * x->npcm);
	if (!r->pcm || !r->wav) {
		dres_free(r);
		return;
	}
	memcpy(r->pcm, x->pcm, x->npcm * sizeof(int16_t));
	r->npcm = x->npcm;
	if (wavw_mbuf(r->wav, x->pcm, x->npcm, MEDIA_SRATE))
		r->wav = mem_deref(r->wav);
}


static void caller_done(struct cmrc *c, const struct cmrc_result *r,
			void *arg)
{
	struct demo *d = arg;
	(void)c;

	d->ca_done = true;
	d->ra = *r;
	d->ra.pcm = NULL;
	if (!demo_cases[d->idx].rt)
		keep_heard(d, r);

	/* A callee that got no call (the server answered the caller
	 * itself) has nothing to finish: the case ends now, not at its
	 * limit. */
	if (d->cb_done || !ua_calls(d->callee))
		case_end(d);
}


static void callee_done(struct cmrc *c, const struct cmrc_result *r,
			void *arg)
{
	struct demo *d = arg;

	/* A call of an earlier case that ends late is not this case's. */
	if (d->cb_done) {
		mem_deref(c);
		return;
	}

	d->cb = c;
	d->cb_done = true;
	d->rb = *r;
	d->rb.pcm = NULL;
	if (demo_cases[d->idx].rt)
		keep_heard(d, r);
	if (d->ca_done)
		case_end(d);
}


static void case_limit(void *arg)
{
	case_end(arg);
}


static void registered(int err, uint16_t scode, const char *reason,
		       void *arg)
{
	struct demo *d = arg;
	const struct dcase *dc = &demo_cases[d->idx];
	struct cmrc_conf conf;

	if (err || scode != 200) {
		d->ca_done = d->cb_done = true;
		d->ra.ok = false;
		if (err)
			(void)re_snprintf(d->ra.reason, sizeof(d->ra.reason),
					  "REGISTER of %s: %m", dc->to, err);
		else
			(void)re_snprintf(d->ra.reason, sizeof(d->ra.reason),
					  "REGISTER of %s: %u %s", dc->to,
					  scode, reason);
		case_end(d);
		return;
	}

	memset(&conf, 0, sizeof(conf));
	conf.mode = dc->caller;
	str_ncpy(conf.from, "alice", sizeof(conf.from));
	str_ncpy(conf.to, dc->to, sizeof(conf.to));
	str_ncpy(conf.target, d->target, sizeof(conf.target));
	conf.talk_ms = TALK_MS;
	conf.limit_ms = CASE_LIMIT_MS;

	/* The times stay those of the case (next_case()): a clock started
	 * again here ran the ladder back after the REGISTER's rows. */
	err = cmrc_call(&d->ca, dc->no_update ? d->caller_noupd : d->caller,
			&conf, caller_done, d);
	if (err) {
		d->ca_done = d->cb_done = true;
		str_ncpy(d->ra.reason, "the INVITE could not be sent",
			 sizeof(d->ra.reason));
		case_end(d);
		return;
	}

	tmr_start(&d->tmr_limit, CASE_LIMIT_MS + 2000, case_limit, d);
	if (d->tty)
		tmr_start(&d->tmr_progress, PROGRESS_MS, progress_cb, d);
}


static void finish(struct demo *d);


_Static_assert(ARRAY_SIZE(demo_cases) == NCASES, "one result per case");


static void next_case(void *arg)
{
	struct demo *d = arg;
	const struct dcase *dc;
	struct cmrc_conf conf;
	static const char *const names[3] = { "alice (caller)", "cmrlab",
		"callee" };
	const char *heads[3];
	char callee[48];

	if (d->idx >= NCASES) {
		finish(d);
		return;
	}

	dc = &demo_cases[d->idx];
	d->ca_done = d->cb_done = false;
	memset(&d->ra, 0, sizeof(d->ra));
	memset(&d->rb, 0, sizeof(d->rb));

	/* The id on a line of its own, the title under it: most titles
	 * are longer than what the ladder's width leaves beside the id. */
	printf("%s== %u/%zu %s ==%s\n", d->color ? "\033[1m" : "",
	       d->idx + 1, (size_t)NCASES, dc->id, d->color ? "\033[0m" : "");
	print_wrapped(d, NULL, 3, 3, dc->title);
	(void)re_snprintf(callee, sizeof(callee), "%s (callee)", dc->to);
	heads[0] = names[0];
	heads[1] = names[1];
	heads[2] = callee;
	ladder_head_print(stdout, heads, d->color);

	memset(&conf, 0, sizeof(conf));
	conf.callee = true;
	conf.mode = dc->callee;
	conf.ring_ms = RING_MS;
	conf.talk_ms = TALK_MS;
	conf.limit_ms = CASE_LIMIT_MS;
	(void)ua_answer_set(d->callee, &conf, callee_done, d);

	/* The callee's registration is the first thing on the ladder. */
	d->t_case = loop_now_ms();
	if (ua_register(d->callee, d->target, dc->to, 3600, registered, d))
		registered(EIO, 0, "not sent", d);
}


/* ---- set-up and the end ------------------------------------------------- */

static void down_done(void *arg)
{
	(void)arg;
	loop_stop();
}


static void finish(struct demo *d)
{
	char path[512];
	int err;

	err = demo_report_write(d, path, sizeof(path));
	if (err) {
		re_fprintf(stderr, "cmrlab demo: cannot write %s: %m\n", path,
			   err);
		d->ret = 1;
	}
	else {
		printf("report: %s\n", path);
	}
	pcapw_close();
	printf("capture: %s/demo.pcap\n", d->out);

	printf("%s%u of %zu cases passed%s\n", d->color ? "\033[1m" : "",
	       d->passed, (size_t)NCASES, d->color ? "\033[0m" : "");
	if (d->passed != NCASES)
		d->ret = 1;

	ua_shutdown(d->callee, NULL, NULL);
	ua_shutdown(d->caller_noupd, NULL, NULL);
	ua_shutdown(d->caller, down_done, d);
}


static int ua_make(struct ua **uap, bool no_update, struct dtrace *t)
{
	struct ua_conf uc;

	memset(&uc, 0, sizeof(uc));
	(void)sa_set_str(&uc.laddr, "127.0.0.1", 0);
	uc.no_update = no_update;
	/* The server writes every SIP message and the tones it sends; the
	 * clients add their own RTP and their downloads. */
	uc.cap_rtp_tx = true;
	uc.cap_http = true;
	uc.fetchh = cmd_fetch;
	uc.traceh = trace;
	uc.trace_arg = t;

	return ua_alloc(uap, &uc);
}


static int platform(struct demo *d)
{
	struct sipsrv_conf conf;
	struct sa ip;
	char err[256];
	int e;

	e = table_alloc(&d->table);
	if (e)
		return e;
	e = tones_add_builtin(d->table);
	if (!e)
		e = profile_parse(d->table, "<demo>", NULL, demo_profile,
				  strlen(demo_profile), err, sizeof(err));
	if (e) {
		fprintf(stderr, "cmrlab demo: %s\n", err);
		return e;
	}
	if (media_attach_table(d->table))
		return EINVAL;
	table_live_set(d->table);

	(void)sa_set_str(&ip, "127.0.0.1", 0);
	e = httpd_alloc(&d->httpd, &ip);
	if (e)
		return e;
	e = streamer_alloc(&d->streamer, &ip, 20000, 29999);
	if (e)
		return e;
	streamer_capture_set(d->streamer, true);

	memset(&conf, 0, sizeof(conf));
	conf.laddr = ip;
	conf.http_laddr = *httpd_laddr(d->httpd);
	conf.streamer = d->streamer;
	e = httpd_url(d->httpd, conf.http_base, sizeof(conf.http_base));
	if (!e)
		e = sipsrv_alloc(&d->srv, &conf);
	if (e)
		return e;

	(void)re_snprintf(d->target, sizeof(d->target), "sip:%J",
			  sipsrv_laddr(d->srv));

	d->tr_a.d = d->tr_a2.d = d->tr_b.d = d;
	d->tr_b.callee = true;
	e  = ua_make(&d->caller, false, &d->tr_a);
	e |= ua_make(&d->caller_noupd, true, &d->tr_a2);
	e |= ua_make(&d->callee, false, &d->tr_b);

	return e;
}


static void usage_demo(FILE *f)
{
	fprintf(f,
		"usage: cmrlab demo [--out DIR]\n"
		"\n"
		"Runs the CMR Server and CMR Clients in one process on "
		"127.0.0.1 and\nplays every delivery case: HTTP mode "
		"(ringback and ringtone),\napplication server mode (ringback "
		"and ringtone), gateway mode\n(UPDATE, and re-INVITE for a "
		"caller without UPDATE) and early\nmedia to a plain caller.  "
		"Prints each SIP ladder, the media figures\nand a verdict; "
		"writes demo-report.html and demo.pcap.  Exit status 0\n"
		"only if every case passed.\n"
		"\n"
		"options:\n"
		"  --out DIR     where the report and the capture go "
		"(default .)\n"
		"  -h, --help    this text\n");
}


int cmd_demo(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "out",  required_argument, NULL, 'o' },
		{ "help", no_argument,       NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	static struct demo d;
	const char *nocolor;
	char path[512];
	int ch, e;

	memset(&d, 0, sizeof(d));
	d.out = ".";

	optind = 1;
	while ((ch = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (ch) {

		case 'o': d.out = optarg; break;
		case 'h': usage_demo(stdout); return 0;
		default:  usage_demo(stderr); return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "cmrlab demo: unexpected argument '%s'\n",
			argv[optind]);
		return EXIT_USAGE;
	}
	if (mkdir(d.out, 0755) && errno != EEXIST) {
		fprintf(stderr, "cmrlab demo: --out: cannot create '%s': "
			"%s\n", d.out, strerror(errno));
		return EXIT_USAGE;
	}

	/* no-color.org: a NO_COLOR that is set and not empty. */
	d.tty = isatty(STDOUT_FILENO);
	nocolor = getenv("NO_COLOR");
	d.color = d.tty && !(nocolor && *nocolor);

	if (libre_init())
		return 1;
	log_setup(LVL_WARN);
	if (loop_init()) {
		libre_close();
		return 1;
	}

	(void)re_snprintf(path, sizeof(path), "%s/demo.pcap", d.out);
	e = pcapw_open(path);
	if (e) {
		fprintf(stderr, "cmrlab demo: cannot write '%s': %s\n", path,
			strerror(e));
		d.ret = EXIT_USAGE;
		goto out;
	}

	e = platform(&d);
	if (e) {
		re_fprintf(stderr, "cmrlab demo: cannot start: %m\n", e);
		d.ret = 1;
		goto out;
	}

	printf("cmrlab demo: server at %s, resources at ", d.target);
	(void)re_printf("http://%J\n\n", httpd_laddr(d.httpd));
	fflush(stdout);

	d.ret = 0;
	tmr_start(&d.tmr, 0, next_case, &d);
	(void)loop_run();

 out:
	tmr_cancel(&d.tmr);
	tmr_cancel(&d.tmr_progress);
	tmr_cancel(&d.tmr_limit);
	d.ca = mem_deref(d.ca);
	d.cb = mem_deref(d.cb);
	d.caller = mem_deref(d.caller);
	d.caller_noupd = mem_deref(d.caller_noupd);
	d.callee = mem_deref(d.callee);
	d.srv = mem_deref(d.srv);
	d.streamer = mem_deref(d.streamer);
	d.httpd = mem_deref(d.httpd);
	table_live_set(NULL);
	d.table = mem_deref(d.table);
	for (size_t i = 0; i < NCASES; i++)
		dres_free(&d.res[i]);
	pcapw_close();
	evlog_reset();

	loop_close();
	libre_close();

	return d.ret;
}
