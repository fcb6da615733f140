/**
 * @file test_leg.c  The leg layer without a B2BUA: a UAC INVITE and a UAS
 *                   INVITE of one SIP stack call each other on 127.0.0.1
 *
 * The flows a plain user agent needs: a reliable 183 with the answer,
 * its PRACK, a 2xx without SDP, the ACK and a BYE; a session refresh that
 * the layer answers itself; a changed offer its owner answers; glare on
 * both sides at once; the late offer of a 2xx answered in the ACK.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>
#include <re.h>
#include "sip/sip_int.h"
#include "tests/unit/leakcheck.h"
#include "tests/unit/looprun.h"
#include "tests/unit/sipmsg.h"

#define SDP_A "v=0\r\no=a 1 1 IN IP4 127.0.0.1\r\ns=-\r\n" \
	"c=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"
#define SDP_A2 "v=0\r\no=a 1 2 IN IP4 127.0.0.1\r\ns=-\r\n" \
	"c=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4002 RTP/AVP 0\r\n" \
	"a=sendonly\r\n"
#define SDP_B "v=0\r\no=b 7 1 IN IP4 127.0.0.1\r\ns=-\r\n" \
	"c=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 5000 RTP/AVP 0\r\n"
#define SDP_B2 "v=0\r\no=b 7 2 IN IP4 127.0.0.1\r\ns=-\r\n" \
	"c=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 5000 RTP/AVP 0\r\n" \
	"a=recvonly\r\n"

enum script { PLAIN, LATE, REFRESH, CHANGE, GLARE, TIMERC, EARLY };

struct fix {
	enum script script;
	struct legset ls;
	struct sip_lsnr *lreq, *lrsp;
	struct uas *uas;
	struct uac *uac;
	struct leg *fork;
	unsigned provs, pracks_in, prack_rsps, answers, acks, ends;
	unsigned offers_in, offer_rsps;
	uint16_t offer_codes[2];
	int end_err;
	int fail_err;
	uint16_t fail_code;
	bool reliable_seen;
	bool early_in_prack;       /* EARLY: the PRACK had our answer */
	bool early_in_200;         /* ... and its 200 the callee's */
	char got_sdp[256];         /* the last SDP an offer response had */
	struct tmr tmr;            /* the script's next step */
};


static struct pl pl_of(const char *s)
{
	struct pl pl;

	pl_set_str(&pl, s);

	return pl;
}


static void adv(const struct sa *local, struct sa *out, void *arg)
{
	(void)arg;
	*out = *local;
}


static void finish(struct fix *f)
{
	loop_stop();
	(void)f;
}


/* ---- the UAS side ------------------------------------------------------ */

static void uas_prackh(struct leg *leg, const struct sip_msg *prack,
		       void *arg)
{
	struct fix *f = arg;
	struct pl sdp = pl_of(SDP_B);
	(void)leg;

	assert_non_null(prack);
	++f->pracks_in;
	assert_int_equal(uas_answer(f->uas, 200, "OK", NULL, NULL,
				    f->script == LATE || f->script == EARLY ?
				    &sdp : NULL), 0);
}


/* EARLY: the 200 of the PRACK carries an early-session answer. */
static void uas_prack200h(struct leg *leg, const struct sip_msg *prack,
			  const struct pl *early, struct mbuf **earlyp,
			  void *arg)
{
	struct fix *f = arg;
	(void)leg;
	(void)prack;

	f->early_in_prack = pl_isset(early) && !pl_strcmp(early, SDP_A2);
	if (f->script == EARLY) {
		*earlyp = mbuf_alloc(128);
		assert_non_null(*earlyp);
		assert_int_equal(mbuf_write_str(*earlyp, SDP_B2), 0);
	}
}


static void uas_ackh(struct leg *leg, const struct sip_msg *ack, void *arg)
{
	struct fix *f = arg;
	(void)ack;

	++f->acks;
	if (f->script == LATE)
		leg_bye(leg);
}


static void uas_offerh(struct leg *leg, const struct sip_msg *msg,
		       const struct pl *sdp, void *arg)
{
	struct fix *f = arg;
	struct pl ans = pl_of(SDP_B2);
	(void)msg;

	++f->offers_in;
	assert_true(pl_isset(sdp));
	assert_int_equal(leg_answer(leg, 200, "OK", &ans), 0);
}


static void uas_endh(struct leg *leg, int err, const char *why, void *arg)
{
	struct fix *f = arg;
	(void)leg;
	(void)why;

	++f->ends;
	f->end_err = err;
	finish(f);
}


static const struct leg_h uas_h = {
	.prack200h = uas_prack200h,
	.offerh = uas_offerh,
	.endh   = uas_endh,
	.ackh   = uas_ackh,
	.prackh = uas_prackh,
};


static bool req_handler(const struct sip_msg *msg, void *arg)
{
	struct fix *f = arg;
	struct pl sdp = pl_of(SDP_B);

	if (legset_request(&f->ls, msg))
		return true;

	if (pl_strcmp(&msg->met, "INVITE") || f->uas)
		return false;

	assert_int_equal(uas_alloc(&f->uas, &f->ls, msg, "bob", &uas_h, f),
			 0);

	if (f->script == TIMERC) {
		/* A callee that rings for ever. */
		assert_int_equal(uas_progress(f->uas, 180, "Ringing", false,
					      NULL, NULL, NULL, NULL), 0);
		return true;
	}

	if (f->script == LATE) {
		/* No offer in the INVITE: ours goes in the 2xx. */
		assert_int_equal(uas_answer(f->uas, 200, "OK", NULL, NULL,
					    &sdp), 0);
		return true;
	}

	if (f->script == EARLY) {
		/* An early-session offer alone (RFC 3959): not the answer
		 * to the INVITE's offer, which the 2xx carries. */
		struct pl early = pl_of(SDP_B);

		assert_int_equal(uas_progress(f->uas, 183, "Session Progress",
					      true, NULL, NULL, NULL, &early),
				 0);
		return true;
	}

	assert_int_equal(uas_progress(f->uas, 183, "Session Progress", true,
				      NULL, NULL, &sdp, NULL), 0);
	/* One reliable provisional at a time. */
	assert_int_equal(uas_progress(f->uas, 180, "Ringing", true, NULL,
				      NULL, NULL, NULL), EBUSY);
	/* No 2xx before the PRACK of a reliable 1xx with SDP. */
	assert_int_equal(uas_answer(f->uas, 200, "OK", NULL, NULL, NULL),
			 EAGAIN);

	return true;
}


static bool rsp_handler(const struct sip_msg *msg, void *arg)
{
	struct fix *f = arg;

	return legset_response(&f->ls, msg);
}


/* ---- the UAC side ------------------------------------------------------ */

static void offer_resp(int err, const struct sip_msg *msg, void *arg)
{
	struct fix *f = arg;
	struct body_view bv;

	assert_int_equal(err, 0);
	f->offer_codes[f->offer_rsps++ % 2] = msg->scode;
	if (!body_parse(&bv, msg) && pl_isset(&bv.session))
		pl_strcpy(&bv.session, f->got_sdp, sizeof(f->got_sdp));

	if (f->script != GLARE || f->offer_rsps == 2)
		leg_bye(f->fork);
}


static void glare_resp(int err, const struct sip_msg *msg, void *arg)
{
	offer_resp(err, msg, arg);
}


static void uac_provh(struct uac *c, struct leg *fork,
		      const struct sip_msg *msg, struct prack_out *pk,
		      void *arg)
{
	struct fix *f = arg;
	(void)c;

	++f->provs;
	assert_int_equal(msg->scode, f->script == TIMERC ? 180 : 183);
	assert_non_null(fork);
	f->reliable_seen = pk != NULL;
	if (f->script == EARLY && pk) {
		static struct pl answer;

		answer = pl_of(SDP_A2);
		pk->early = &answer;
	}
}


static void uac_prackh(struct uac *c, struct leg *fork,
		       const struct sip_msg *msg, void *arg)
{
	struct fix *f = arg;
	(void)c;
	(void)fork;

	assert_non_null(msg);
	assert_int_equal(msg->scode, 200);
	++f->prack_rsps;
	if (f->script == EARLY) {
		struct body_view bv;

		f->early_in_200 = !body_parse(&bv, msg) &&
			pl_isset(&bv.early) && !pl_strcmp(&bv.early, SDP_B2);
	}
}


/* The script's step after the answer, once the ACK is out. */
static void step(void *arg)
{
	struct fix *f = arg;
	struct leg *fork = f->fork;
	struct pl same = pl_of(SDP_A), changed = pl_of(SDP_A2);
	struct pl ours = pl_of(SDP_B);

	switch (f->script) {

	case LATE:
		assert_int_equal(uac_ack(f->uac, &same), 0);
		break;

	case REFRESH:
		assert_int_equal(leg_offer(fork, false, &same, offer_resp, f),
				 0);
		break;

	case CHANGE:
		assert_int_equal(leg_offer(fork, true, &changed, offer_resp,
					   f), 0);
		/* One offer of ours at a time. */
		assert_int_equal(leg_offer(fork, false, &changed, offer_resp,
					   f), EBUSY);
		break;

	case GLARE:
		/* Both sides offer at once: each gets 491. */
		assert_int_equal(leg_offer(fork, false, &changed, glare_resp,
					   f), 0);
		assert_int_equal(leg_offer(&f->uas->leg, false, &ours,
					   glare_resp, f), 0);
		break;

	default:
		leg_bye(fork);
		break;
	}
}


static bool uac_answerh(struct uac *c, struct leg *fork,
			const struct sip_msg *msg, void *arg)
{
	struct fix *f = arg;
	(void)c;
	(void)msg;

	++f->answers;
	f->fork = fork;
	tmr_start(&f->tmr, 0, step, f);

	/* Late offer: the 2xx made the offer, our ACK answers it. */
	if (f->script == LATE) {
		assert_int_equal(fork->oa.st, OA_REMOTE_OFFER);
		return true;
	}

	return false;
}


static void uac_failh(struct uac *c, int err, const struct sip_msg *msg,
		      void *arg)
{
	struct fix *f = arg;
	(void)c;

	assert_int_equal(f->script, TIMERC);
	f->fail_err = err;
	f->fail_code = msg ? msg->scode : 0;
	finish(f);
}


static const struct uac_h uac_handlers = {
	.provh   = uac_provh,
	.prackh  = uac_prackh,
	.answerh = uac_answerh,
	.failh   = uac_failh,
};


static const struct leg_h fork_h = {
	.endh = uas_endh,
};


/* ---- the runs ---------------------------------------------------------- */

static int supported_print(struct re_printf *pf, void *arg)
{
	(void)arg;
	return re_hprintf(pf, "Supported: 100rel, timer\r\n");
}


static void run(struct fix *f, enum script script)
{
	struct sa laddr;
	struct pl offer = pl_of(SDP_A);
	char target[64];

	memset(f, 0, sizeof(*f));
	tmr_init(&f->tmr);
	f->script = script;
	f->ls.advh = adv;
	f->ls.max_se = 7200;
	f->ls.timer_c_ms = script == TIMERC ? 300 : 0;

	assert_int_equal(sip_alloc(&f->ls.sip, NULL, 32, 32, 32, "test",
				   NULL, NULL), 0);
	assert_int_equal(hash_alloc(&f->ls.legs, 16), 0);
	sa_set_str(&laddr, "127.0.0.1", 0);
	assert_int_equal(sip_transp_add(f->ls.sip, SIP_TRANSP_UDP, &laddr),
			 0);
	assert_int_equal(sip_transp_laddr(f->ls.sip, &laddr, SIP_TRANSP_UDP,
					  NULL), 0);
	assert_int_equal(sip_listen(&f->lreq, f->ls.sip, true, req_handler,
				    f), 0);
	assert_int_equal(sip_listen(&f->lrsp, f->ls.sip, false, rsp_handler,
				    f), 0);

	re_snprintf(target, sizeof(target), "sip:bob@%J", &laddr);
	assert_int_equal(uac_alloc(&f->uac, &f->ls, target,
				   "sip:bob@127.0.0.1", NULL,
				   "sip:alice@127.0.0.1", "alice",
				   &uac_handlers, f, &fork_h, f,
				   supported_print, NULL,
				   script == LATE ? NULL : &offer), 0);

	looprun(5000);
	tmr_cancel(&f->tmr);
}


static void teardown_fix(struct fix *f)
{
	f->uac = mem_deref(f->uac);
	f->uas = mem_deref(f->uas);
	f->lreq = mem_deref(f->lreq);
	f->lrsp = mem_deref(f->lrsp);
	sip_close(f->ls.sip, true);
	f->ls.sip = mem_deref(f->ls.sip);
	f->ls.legs = mem_deref(f->ls.legs);
}


/* A reliable 183 with the answer, PRACK, a 2xx without SDP, ACK, BYE. */
static void test_reliable_answer_then_bye(void **state)
{
	long mark = leakcheck_mark();
	struct fix f;
	struct pl pl;
	(void)state;

	run(&f, PLAIN);

	assert_int_equal(f.provs, 1);
	assert_true(f.reliable_seen);
	assert_int_equal(f.pracks_in, 1);
	assert_int_equal(f.prack_rsps, 1);
	assert_int_equal(f.answers, 1);
	assert_int_equal(f.acks, 1);
	assert_int_equal(f.ends, 1);
	assert_int_equal(f.end_err, 0);

	/* One completed exchange on each side; each knows both SDPs. */
	assert_int_equal(f.fork->oa.st, OA_IDLE);
	assert_int_equal(f.fork->oa.done, 1);
	assert_int_equal(f.uas->leg.oa.done, 1);
	assert_int_equal(leg_sdp(f.fork, false, &pl), 0);
	assert_int_equal(pl_strcmp(&pl, SDP_B), 0);
	assert_int_equal(leg_sdp(&f.uas->leg, false, &pl), 0);
	assert_int_equal(pl_strcmp(&pl, SDP_A), 0);

	teardown_fix(&f);
	leakcheck_assert(mark);
}


/* A reliable 183 with an early-session offer alone: its answer goes in
 * the PRACK, the callee's early-session answer in the PRACK's 200
 * (prack200h), and the 2xx's SDP is still the answer to the INVITE's
 * offer (it was taken for none while the 183's body counted). */
static void test_early_session_apart(void **state)
{
	long mark = leakcheck_mark();
	struct fix f;
	struct pl pl;
	(void)state;

	run(&f, EARLY);

	assert_true(f.reliable_seen);
	assert_true(f.early_in_prack);
	assert_true(f.early_in_200);
	assert_int_equal(f.answers, 1);
	assert_int_equal(f.fork->oa.st, OA_IDLE);
	assert_int_equal(f.fork->oa.done, 1);
	assert_int_equal(leg_sdp(f.fork, false, &pl), 0);
	assert_int_equal(pl_strcmp(&pl, SDP_B), 0);
	assert_int_equal(f.ends, 1);

	teardown_fix(&f);
	leakcheck_assert(mark);
}


/* The same SDP again is a refresh: the layer answers with its own last
 * SDP and the owner never hears of it. */
static void test_refresh_answered_by_layer(void **state)
{
	long mark = leakcheck_mark();
	struct fix f;
	(void)state;

	run(&f, REFRESH);

	assert_int_equal(f.offers_in, 0);
	assert_int_equal(f.offer_rsps, 1);
	assert_int_equal(f.offer_codes[0], 200);
	assert_string_equal(f.got_sdp, SDP_B);
	assert_int_equal(f.ends, 1);

	teardown_fix(&f);
	leakcheck_assert(mark);
}


/* A changed offer goes to the owner, whose answer comes back. */
static void test_changed_offer_to_owner(void **state)
{
	long mark = leakcheck_mark();
	struct fix f;
	(void)state;

	run(&f, CHANGE);

	assert_int_equal(f.offers_in, 1);
	assert_int_equal(f.offer_codes[0], 200);
	assert_string_equal(f.got_sdp, SDP_B2);
	assert_int_equal(f.fork->oa.done, 2);
	assert_int_equal(f.ends, 1);

	teardown_fix(&f);
	leakcheck_assert(mark);
}


/* Both sides offer at once: 491 on both (RFC 3311 5.2). */
static void test_glare_both_491(void **state)
{
	long mark = leakcheck_mark();
	struct fix f;
	(void)state;

	run(&f, GLARE);

	assert_int_equal(f.offer_rsps, 2);
	assert_int_equal(f.offer_codes[0], 491);
	assert_int_equal(f.offer_codes[1], 491);
	assert_int_equal(f.offers_in, 0);
	/* Neither offer took: both sides are idle again. */
	assert_int_equal(f.fork->oa.st, OA_IDLE);
	assert_int_equal(f.uas->leg.oa.st, OA_IDLE);

	teardown_fix(&f);
	leakcheck_assert(mark);
}


/* No offer in the INVITE: the 2xx offers and the ACK answers. */
static void test_late_offer_answer_in_ack(void **state)
{
	long mark = leakcheck_mark();
	struct fix f;
	struct pl pl;
	(void)state;

	run(&f, LATE);

	assert_int_equal(f.acks, 1);
	assert_int_equal(f.uas->leg.oa.st, OA_IDLE);
	assert_int_equal(f.uas->leg.oa.done, 1);
	assert_int_equal(leg_sdp(&f.uas->leg, false, &pl), 0);
	assert_int_equal(pl_strcmp(&pl, SDP_A), 0);
	assert_int_equal(f.fork->oa.done, 1);

	teardown_fix(&f);
	leakcheck_assert(mark);
}


/* RFC 3261 16.8: Timer C cancels a callee that rings for ever; the INVITE
 * ends with the 487 and the owner is told it timed out. */
static void test_timer_c_cancels(void **state)
{
	long mark = leakcheck_mark();
	struct fix f;
	(void)state;

	run(&f, TIMERC);

	assert_int_equal(f.provs, 1);
	assert_int_equal(f.fail_err, ETIMEDOUT);
	assert_int_equal(f.fail_code, 487);
	assert_int_equal(f.uas->final, 487);
	assert_false(uac_pending(f.uac));

	teardown_fix(&f);
	leakcheck_assert(mark);
}


/* RFC 4028 section 4: Session-Expires values, good and bad. */
static void test_session_expires_parse(void **state)
{
	static const struct {
		const char *val;
		int err;
		uint32_t se;
		const char *refresher;     /* "" for none */
	} v[] = {
		{"1800", 0, 1800, ""},
		{"90;refresher=uac", 0, 90, "uac"},
		{"90 ;refresher=UAS", 0, 90, "UAS"},
		{" 4000;foo=bar", 0, 4000, ""},
		{"0090", 0, 90, ""},
		{"86400", 0, 86400, ""},
		{"86401", 0, 86400, ""},
		{"99999999999999999999", 0, 86400, ""},
		{"", EBADMSG, 0, ""},
		{";refresher=uac", EBADMSG, 0, ""},
		{"abc", EBADMSG, 0, ""},
		{"90x", EBADMSG, 0, ""},
		{"-90", EBADMSG, 0, ""},
		{"90;refresher=me", EBADMSG, 0, ""},
		{"90 90", EBADMSG, 0, ""},
	};
	(void)state;

	for (size_t i = 0; i < ARRAY_SIZE(v); i++) {
		struct pl val, r = PL_INIT;
		uint32_t se = 0;
		int err;

		pl_set_str(&val, v[i].val);
		err = leg_session_parse(&val, &se, &r);
		if (err != v[i].err)
			fail_msg("vector %zu '%s': err %d, want %d", i,
				 v[i].val, err, v[i].err);
		if (err)
			continue;
		assert_int_equal(se, v[i].se);
		if (*v[i].refresher)
			assert_int_equal(pl_strcmp(&r, v[i].refresher), 0);
		else
			assert_false(pl_isset(&r));
	}
}


/* A remote target whose URI libre reads with the scheme past its first
 * byte (":sip:a@h") never enters a dialog: libre 1.1.0 would keep the
 * route in the target string and free it on the next refresh. */
static void test_target_scheme_first(void **state)
{
	static const char inv[] =
		"INVITE sip:b@127.0.0.1 SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKt1\r\n"
		"From: <sip:a@127.0.0.1>;tag=a1\r\n"
		"To: <sip:b@127.0.0.1>\r\n"
		"Call-ID: t1\r\n"
		"CSeq: 1 INVITE\r\n"
		"Contact: %s\r\n"
		"Content-Length: 0\r\n\r\n";
	static const char upd[] =
		"UPDATE sip:b@127.0.0.1 SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKt2\r\n"
		"From: <sip:a@127.0.0.1>;tag=a1\r\n"
		"To: <sip:b@127.0.0.1>;tag=b1\r\n"
		"Call-ID: t1\r\n"
		"CSeq: 2 UPDATE\r\n"
		"%s"
		"Content-Length: 0\r\n\r\n";
	struct sip_msg *good, *bad, *none, *bad180;
	struct leg leg;
	long mark;
	(void)state;

	mark = leakcheck_mark();

	good = sipmsg_decodef(inv, "<sip:a@127.0.0.1:5070>");
	bad = sipmsg_decodef(upd, "Contact: <:sip:a@127.0.0.1:5080>\r\n");
	none = sipmsg_decodef(upd, "");
	bad180 = sipmsg_decode("SIP/2.0 180 Ringing\r\n"
			       "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKt1"
			       "\r\n"
			       "From: <sip:a@127.0.0.1>;tag=a1\r\n"
			       "To: <sip:b@127.0.0.1>;tag=b1\r\n"
			       "Call-ID: t1\r\n"
			       "CSeq: 1 INVITE\r\n"
			       "Contact: <sip:/b:5090>\r\n"
			       "Content-Length: 0\r\n\r\n");

	assert_true(leg_target_ok(good));
	assert_true(leg_target_ok(none));     /* libre refuses it itself */
	assert_false(leg_target_ok(bad));
	assert_false(leg_target_ok(bad180));

	/* A refresh with such a target is refused and the dialog keeps
	 * its own; a good one goes through. */
	memset(&leg, 0, sizeof(leg));
	assert_int_equal(0, sip_dialog_accept(&leg.dlg, good));
	assert_int_equal(EBADMSG, leg_target_update(&leg, bad));
	assert_int_equal(0, leg_target_update(&leg, good));
	mem_deref(leg.dlg);

	mem_deref(bad180);
	mem_deref(none);
	mem_deref(bad);
	mem_deref(good);
	leakcheck_assert(mark);
}


static int group_setup(void **state)
{
	struct fix f;
	(void)state;

	if (libre_init() || loop_init())
		return -1;

	log_level_set(SUB_SIP, LVL_ERROR);

	/* One round first: libre's and libevent's lasting tables. */
	run(&f, PLAIN);
	teardown_fix(&f);

	return 0;
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reliable_answer_then_bye),
		cmocka_unit_test(test_early_session_apart),
		cmocka_unit_test(test_refresh_answered_by_layer),
		cmocka_unit_test(test_changed_offer_to_owner),
		cmocka_unit_test(test_glare_both_491),
		cmocka_unit_test(test_late_offer_answer_in_ack),
		cmocka_unit_test(test_timer_c_cancels),
		cmocka_unit_test(test_session_expires_parse),
		cmocka_unit_test(test_target_scheme_first),
	};

	return cmocka_run_group_tests_name("sip/leg", tests, group_setup,
					   looprun_teardown);
}
