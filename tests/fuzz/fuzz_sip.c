/**
 * @file fuzz_sip.c  libFuzzer harness of the whole SIP entry path: bytes
 *                   from a scripted caller and callee, the real loop
 *
 * One server (sipsrv_alloc on 127.0.0.1, port 0, with the RTP streamer
 * and the --pcap capture into /dev/null) lives for the whole run, on the
 * project's libevent loop, with a table of subscribers in every mode
 * whose registrations point at the harness's own sockets.  Each input is
 * a script of SIP messages, each one sent by the caller (over UDP or
 * TCP) or by the callee (over UDP); sipscript.h says how an input is
 * split and how its [placeholders] become the addresses, tags, branches
 * and dialog headers of this run, so that well-formed seeds reach early
 * dialogs, PRACK, UPDATE, re-INVITE, CANCEL and BYE, and the fuzzer
 * mutates around them.  After each message the loop runs without
 * blocking until nothing moves.
 *
 * At the end of an input every call is ended (b2bua_shutdown, the path
 * of SIGTERM) and the harness answers whatever the server still asks of
 * the caller and the callee (200 to BYE and CANCEL, 487 to an open
 * INVITE, 481 to the rest, ACK for every final response), so that no
 * call outlives its input.  What is left waits on libre's timers (32 s
 * at most): transactions in their completed states, and the few legs a
 * mutated input left waiting for an ACK or a response; memory stays
 * bounded by the execution rate.
 *
 * The server would send to any address a message names (a Via, a
 * Contact, an SDP c= line, a DNS server), so the harness first moves
 * the process into a network namespace of its own with only loopback
 * up: nothing the fuzzer writes can leave the machine.  It refuses to
 * run when it cannot.
 *
 * FUZZ_SIP_TRACE=1 (first lines) or 2 (whole messages) prints the
 * exchange on stderr; FUZZ_SIP_STATS=1 prints counters every 10000
 * inputs; FUZZ_SIP_LOG=debug|info|warn sets the server's log level
 * (default: errors only).
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <event2/event.h>
#include <re.h>
#include "sip/sip_int.h"
#include "tests/fuzz/fuzz.h"
#include "tests/fuzz/sipscript.h"
#include "tests/fuzz/sippeers.h"

enum {
	MAX_RECORDS = 24,          /* messages of one input */
	MAX_MSG = 32768,           /* bytes of one expanded message */
	QUIET_TICKS = 6,           /* loop turns without traffic: idle */
	INPUT_MS = 60,             /* the longest an input's script runs */
	CLEANUP_MS = 30,           /* ... and then the end of its calls */
	CLEANUP_ROUNDS = 8,
	RTP_LO = 20000, RTP_HI = 29999,
	STATS_EVERY = 10000,
};

static struct {
	bool ready;
	struct sipsrv *srv;
	struct streamer *st;
	struct event *tick_ev;
	bool tick_armed;
	struct peers peers;
	unsigned long long n;      /* inputs so far */
	uint64_t deadline;         /* loop_now_ms() the input must end by */
	bool stats_on;
	uint64_t records, calls_left, slow;
} fz;


/* ---- the namespace ------------------------------------------------------ */

static int isolate(void)
{
	struct ifreq ifr;
	int fd, err = 0;

	if (unshare(CLONE_NEWNET) &&
	    unshare(CLONE_NEWUSER | CLONE_NEWNET))
		return errno;

	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0)
		return errno;

	memset(&ifr, 0, sizeof(ifr));
	strncpy(ifr.ifr_name, "lo", sizeof(ifr.ifr_name) - 1);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		err = errno;
	ifr.ifr_flags |= IFF_UP;
	if (!err && ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
		err = errno;
	(void)close(fd);

	return err;
}


/* ---- the loop ----------------------------------------------------------- */

static void tick_stop(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	loop_stop();
}


/*
 * After every loop iteration.  Armed, it adds a libevent timer due now
 * (a libre timer would not do: libre rounds a due timer up to 1 ms):
 * loop_run() then polls with a zero timeout, runs whatever is ready (the
 * sockets first, then that timer, which stops the loop) and returns.
 * One tick is one turn of the real loop that never blocks.
 */
static void tick_idle(void *arg)
{
	static const struct timeval now = { 0, 0 };
	(void)arg;

	if (!fz.tick_armed)
		return;

	fz.tick_armed = false;
	(void)evtimer_add(fz.tick_ev, &now);
}


static void tick(void)
{
	fz.tick_armed = true;
	(void)loop_run();
}


/* Runs the loop until neither the server nor the harness has anything
 * more to say, or the input's time is up. */
static void pump(void)
{
	unsigned quiet = 0;

	while (quiet < QUIET_TICKS) {
		if (loop_now_ms() > fz.deadline) {
			++fz.slow;
			break;
		}
		tick();
		quiet = peers_drain(&fz.peers) ? 0 : quiet + 1;
	}
}


/* ---- the end of an input ------------------------------------------------ */

static void input_end(void)
{
	unsigned i;

	pump();

	/* What SIGTERM does: 503, CANCEL and BYE wherever a call is.  It
	 * has time of its own, also after a script that ran out of time. */
	fz.deadline = loop_now_ms() + CLEANUP_MS;
	b2bua_shutdown(fz.srv);

	/* Until the server asks nothing more of the peers: what is left is
	 * on libre's timers (a 2xx resent until its ACK, 64*T1 of a
	 * transaction's completed state). */
	for (i = 0; i < CLEANUP_ROUNDS; i++) {
		pump();
		if (!peers_settle(&fz.peers))
			break;
	}
	if (!list_isempty(&fz.srv->calls))
		++fz.calls_left;

	peers_close(&fz.peers);
}


/* ---- the table, the server, an input ------------------------------------ */

/* A subscriber in every mode; each one but "nobody" is registered at the
 * callee's socket for every input ("alice" at the caller's, "fork" twice),
 * "pw" authenticates its calls. */
static const char profile[] =
	"subscriber http mode=http\n"
	"subscriber as mode=as\n"
	"subscriber gw mode=gateway\n"
	"subscriber auto mode=auto\n"
	"subscriber off mode=off\n"
	"subscriber fork mode=auto\n"
	"subscriber pw mode=auto password=secret\n"
	"subscriber nobody mode=auto\n"
	"subscriber alice mode=auto\n";


static bool unbind(struct subscriber *s, void *arg)
{
	(void)arg;
	(void)subscriber_binding_remove_all(s);

	return false;
}


static void bind_at(const char *id, enum side_id side, const char *params)
{
	struct subscriber *s = table_subscriber(table_live(), id);
	char uri[128];

	if (!s)
		return;

	(void)re_snprintf(uri, sizeof(uri), "sip:%s@%J%s", id,
			  &fz.peers.side[side].laddr, params);
	(void)subscriber_binding_set(s, uri, "fuzz-registration", 1, 3600,
				     loop_now_ms());
}


/* Every input finds the same registrations, whatever the last one's
 * REGISTERs did. */
static void bindings_reset(void)
{
	static const char *callees[] = { "http", "as", "gw", "auto", "off",
					 "pw" };

	(void)table_subscriber_apply(table_live(), unbind, NULL);

	for (size_t i = 0; i < ARRAY_SIZE(callees); i++)
		bind_at(callees[i], SIDE_B, "");
	bind_at("fork", SIDE_B, ";line=1");
	bind_at("fork", SIDE_B, ";line=2");
	bind_at("alice", SIDE_A, "");
}


static enum log_lvl log_level(void)
{
	const char *v = getenv("FUZZ_SIP_LOG");

	if (!v)
		return LVL_ERROR;
	if (!strcmp(v, "debug"))
		return LVL_DEBUG;
	if (!strcmp(v, "info"))
		return LVL_INFO;
	if (!strcmp(v, "warn"))
		return LVL_WARN;

	return LVL_ERROR;
}


static int table_setup(void)
{
	struct table *t = NULL;
	char msg[256];
	int err;

	err = table_alloc(&t);
	if (!err)
		err = tones_add_builtin(t);
	if (!err)
		err = profile_parse(t, "fuzz", NULL, profile, strlen(profile),
				    msg, sizeof(msg));
	if (!err && media_attach_table(t))
		err = EINVAL;
	if (!err)
		table_live_set(t);

	mem_deref(t);

	return err;
}


static int setup(void)
{
	struct sipsrv_conf conf;
	struct sa ip;
	const char *v;
	int err;

	err = isolate();
	if (err) {
		(void)fprintf(stderr, "fuzz_sip: no network namespace of its "
			      "own (%s): refusing to send what the fuzzer "
			      "writes anywhere but loopback\n", strerror(err));
		exit(1);
	}

	err = libre_init();
	if (!err)
		err = loop_init();
	if (err)
		return err;

	log_setup(log_level());
	/* libre warns of every stray response the fuzzer writes. */
	if (log_level() < LVL_DEBUG)
		log_level_set(SUB_LIB, LVL_ERROR);
	fz.tick_ev = evtimer_new(loop_base(), tick_stop, NULL);
	if (!fz.tick_ev)
		return ENOMEM;

	err  = loop_idle_add(tick_idle, NULL);
	err |= table_setup();
	if (err)
		return err;

	(void)sa_set_str(&ip, "127.0.0.1", 0);
	err = streamer_alloc(&fz.st, &ip, RTP_LO, RTP_HI);
	if (err)
		return err;

	/* serve --pcap: every message also goes through sipcap.c, which
	 * pairs responses with requests; the file is thrown away. */
	err = pcapw_open("/dev/null");
	if (err)
		return err;

	memset(&conf, 0, sizeof(conf));
	conf.laddr = ip;
	conf.streamer = fz.st;
	(void)re_snprintf(conf.http_base, sizeof(conf.http_base),
			  "http://127.0.0.1:8080");
	err = sipsrv_alloc(&fz.srv, &conf);
	if (err)
		return err;

	v = getenv("FUZZ_SIP_TRACE");
	fz.stats_on = getenv("FUZZ_SIP_STATS") != NULL;
	err = peers_init(&fz.peers, sipsrv_laddr(fz.srv), v ? atoi(v) : 0);
	if (err)
		return err;

	/* The server's probe of its own socket (rawin.c). */
	fz.deadline = loop_now_ms() + 1000;
	pump();

	fz.ready = true;

	return 0;
}


static void record_run(const struct sipscript_rec *r, unsigned i,
		       struct mbuf *mb)
{
	struct peers *p = &fz.peers;
	enum side_id s = r->dir == SCRIPT_B ? SIDE_B : SIDE_A;
	bool tcp = r->dir == SCRIPT_T;
	const struct side *sd = &p->side[s];
	struct sipscript_ctx c;

	if (!r->payload.l || (tcp && p->tcp < 0 && peers_tcp_open(p)))
		return;

	memset(&c, 0, sizeof(c));
	c.server = sipsrv_laddr(fz.srv);
	c.local = tcp ? &p->tcp_laddr : &sd->laddr;
	c.caller = &p->side[SIDE_A].laddr;
	c.callee = &p->side[SIDE_B].laddr;
	c.tcp = tcp;
	c.media_port = p->media_port;
	c.input = fz.n;
	c.rec = i;
	c.tag = sd->tag;
	c.req = sd->req;
	c.inv = sd->inv;
	c.dmsg = sd->dmsg;
	c.contact = sd->contact;
	c.rseq = sd->rseq;

	if (sipscript_expand(mb, &r->payload, &c) || mb->end > MAX_MSG)
		return;

	peers_send(p, s, tcp, mb->buf, mb->end);
	pump();
}


static void stats_print(void)
{
	const struct peers *p = &fz.peers;

	(void)re_fprintf(stderr, "fuzz_sip: %llu inputs, %llu records, "
			 "%llu sent, %llu received (%llu undecoded), "
			 "%llu settled at the end, %llu with calls left after "
			 "it, %llu over time; now %u calls, %u closing legs, "
			 "%u live call records\n", fz.n,
			 (unsigned long long)fz.records,
			 (unsigned long long)p->sent,
			 (unsigned long long)p->received,
			 (unsigned long long)p->undecoded,
			 (unsigned long long)p->settled,
			 (unsigned long long)fz.calls_left,
			 (unsigned long long)fz.slow,
			 list_count(&fz.srv->calls),
			 list_count(&fz.srv->ls.closel),
			 evlog_live_count());
}


int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;

	if (!fz.ready && setup())
		abort();

	return 0;
}


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sipscript_rec r;
	struct mbuf *mb;
	uint64_t start;
	size_t pos = 0;
	unsigned i;

	if (!fz.ready && setup())
		abort();

	++fz.n;
	start = loop_now_ms();
	fz.deadline = start + INPUT_MS;
	mb = mbuf_alloc(1024);
	if (!mb || peers_open(&fz.peers, fz.n))
		abort();
	bindings_reset();

	for (i = 0; i < MAX_RECORDS && sipscript_next(data, size, &pos, &r);
	     i++)
		record_run(&r, i, mb);

	input_end();
	mem_deref(mb);

	fz.records += i;
	if (fz.peers.trace)
		(void)re_fprintf(stderr, "input %llu: %u records, %llu ms, "
				 "%u calls and %u closing legs left\n", fz.n,
				 i, (unsigned long long)(loop_now_ms() - start),
				 list_count(&fz.srv->calls),
				 list_count(&fz.srv->ls.closel));
	if (fz.stats_on && fz.n % STATS_EVERY == 0)
		stats_print();

	return 0;
}
