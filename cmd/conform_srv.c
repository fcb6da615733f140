/**
 * @file conform_srv.c  cmrlab conform --dut server: the box is the calling
 *                      and the called party, the device a CMR Server
 *
 * Three user agents of sip/ua.h on 127.0.0.1: the calling party, the same
 * without UPDATE in its Allow (gw-reinvite), and the called party.  Each
 * run registers the called party at the device, has the calling party
 * call it in the run's mode, rings, answers, talks and hangs up; every
 * SIP message both exchange goes to the run's trace, their results (with
 * the media figures) to the run.
 */
#include <string.h>
#include <re.h>
#include "core/core.h"
#include "sip/ua.h"
#include "cmd/cmd.h"
#include "cmd/conform_int.h"

/* What the box's parties do in each server run. */
static const struct {
	const char *run;
	enum cmrc_mode caller, callee;
	bool no_update;
} plays[] = {
	{ "http-bt",     CMRC_HTTP,    CMRC_PLAIN, false },
	{ "http-rt",     CMRC_PLAIN,   CMRC_HTTP,  false },
	{ "as-bt",       CMRC_AS,      CMRC_PLAIN, false },
	{ "as-rt",       CMRC_PLAIN,   CMRC_AS,    false },
	{ "gw-bt",       CMRC_GATEWAY, CMRC_PLAIN, false },
	{ "gw-reinvite", CMRC_GATEWAY, CMRC_PLAIN, true  },
};


static int ua_make(struct ua **uap, bool no_update, struct conf_tr *t)
{
	struct ua_conf uc;

	memset(&uc, 0, sizeof(uc));
	(void)sa_set_str(&uc.laddr, "127.0.0.1", 0);
	uc.no_update = no_update;
	uc.cap_sip = true;
	uc.cap_rtp_rx = true;
	uc.cap_rtp_tx = true;
	uc.cap_http = true;
	uc.fetchh = cmd_fetch;
	uc.traceh = conf_trace;
	uc.trace_arg = t;

	return ua_alloc(uap, &uc);
}


int conf_srv_setup(struct conform *cf)
{
	int err;

	cf->tr_caller.cf = cf->tr_caller2.cf = cf->tr_callee.cf = cf;
	cf->tr_caller.party = cf->tr_caller2.party = CF_CALLER;
	cf->tr_callee.party = CF_CALLEE;

	err  = ua_make(&cf->caller, false, &cf->tr_caller);
	err |= ua_make(&cf->caller_noupd, true, &cf->tr_caller2);
	err |= ua_make(&cf->callee, false, &cf->tr_callee);
	if (err)
		return err;

	printf("cmrlab conform: the device, a CMR Server, at %s; the box's "
	       "caller %s and callee %s\n", cf->target, cf->caller_user,
	       cf->callee_user);

	return 0;
}


static void keep(struct conform *cf, enum cf_party p,
		 const struct cmrc_result *r)
{
	struct cf_run *run = &cf->runs[cf->ri];

	run->res[p] = *r;
	run->res[p].pcm = NULL;
	run->res[p].npcm = 0;
	run->has_res[p] = true;
}


static void caller_done(struct cmrc *c, const struct cmrc_result *r,
			void *arg)
{
	struct conform *cf = arg;
	(void)c;

	cf->ca_done = true;
	keep(cf, CF_CALLER, r);
	if (cf->cb_done || !ua_calls(cf->callee))
		conf_run_end(cf);
}


static void callee_done(struct cmrc *c, const struct cmrc_result *r,
			void *arg)
{
	struct conform *cf = arg;

	/* A call of an earlier run that ends late is not this run's. */
	if (cf->cb_done) {
		mem_deref(c);
		return;
	}
	cf->cb_done = true;
	keep(cf, CF_CALLEE, r);
	mem_deref(c);
	if (cf->ca_done)
		conf_run_end(cf);
}


static void run_limit(void *arg)
{
	struct conform *cf = arg;
	struct cf_run *run = &cf->runs[cf->ri];

	if (!run->why[0])
		str_ncpy(run->why, "the run's calls did not end in time",
			 sizeof(run->why));
	conf_run_end(cf);
}


static void reg_limit(void *arg)
{
	struct conform *cf = arg;
	struct cf_run *run = &cf->runs[cf->ri];

	(void)re_snprintf(run->why, sizeof(run->why), "no answer to the "
			  "REGISTER of %s at %s within %u s", cf->callee_user,
			  cf->target, cf->wait_ms / 1000);
	conf_run_end(cf);
}


static unsigned play_of(const char *run)
{
	for (unsigned i = 0; i < ARRAY_SIZE(plays); i++) {
		if (!strcmp(plays[i].run, run))
			return i;
	}

	return 0;
}


static void registered(int err, uint16_t scode, const char *reason,
		       void *arg)
{
	struct conform *cf = arg;
	struct cf_run *run = &cf->runs[cf->ri];
	unsigned k = play_of(run->id);
	struct cmrc_conf conf;

	if (err || scode < 200 || scode > 299) {
		if (err)
			(void)re_snprintf(run->why, sizeof(run->why),
					  "REGISTER of %s at %s: %m",
					  cf->callee_user, cf->target, err);
		else
			(void)re_snprintf(run->why, sizeof(run->why),
					  "REGISTER of %s at %s: %u %s",
					  cf->callee_user, cf->target, scode,
					  reason);
		conf_run_end(cf);
		return;
	}

	memset(&conf, 0, sizeof(conf));
	conf.mode = plays[k].caller;
	str_ncpy(conf.from, cf->caller_user, sizeof(conf.from));
	str_ncpy(conf.to, cf->callee_user, sizeof(conf.to));
	str_ncpy(conf.target, cf->target, sizeof(conf.target));
	conf.talk_ms = CONF_TALK_MS;
	conf.limit_ms = CONF_RUN_LIMIT_MS - 2000;

	err = cmrc_call(&cf->ca, plays[k].no_update ? cf->caller_noupd :
			cf->caller, &conf, caller_done, cf);
	if (err) {
		(void)re_snprintf(run->why, sizeof(run->why), "the INVITE "
				  "could not be sent: %m", err);
		conf_run_end(cf);
		return;
	}
	run->made = true;
	tmr_start(&cf->tmr_limit, CONF_RUN_LIMIT_MS, run_limit, cf);
}


void conf_srv_start(struct conform *cf, struct cf_run *run)
{
	unsigned k = play_of(run->id);
	struct cmrc_conf conf;

	memset(&conf, 0, sizeof(conf));
	conf.callee = true;
	conf.mode = plays[k].callee;
	conf.ring_ms = CONF_RING_MS;
	conf.talk_ms = CONF_TALK_MS;
	conf.limit_ms = CONF_RUN_LIMIT_MS - 2000;
	(void)ua_answer_set(cf->callee, &conf, callee_done, cf);

	tmr_start(&cf->tmr_limit, cf->wait_ms, reg_limit, cf);
	if (ua_register(cf->callee, cf->target, cf->callee_user, 3600,
			registered, cf))
		registered(EIO, 0, "not sent", cf);
}
