/**
 * @file test_cmrc.c  The CMR Client's call, apart from SIP: what it keeps
 *                    of a finished download
 *
 * The owner's fetcher hands the call a result whose strings and body are
 * its own and valid during the callback only; the call frees the fetcher
 * itself once it is done with them.  The fake fetcher here scribbles over
 * everything it handed out when it is freed, so that a result read after
 * that shows (and a sanitizer build reports it).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>
#include <re.h>
#include "core/core.h"
#include "sip/cmrc_int.h"
#include "tests/unit/looprun.h"

struct fakedl {
	char why[32];
	char ctype[32];
	struct mbuf *body;
	cmrc_dl_h *dh;
	void *arg;
};

static struct fakedl *last_dl;


static void fakedl_destructor(void *arg)
{
	struct fakedl *f = arg;

	memset(f->why, 'X', sizeof(f->why) - 1);
	memset(f->ctype, 'X', sizeof(f->ctype) - 1);
	if (f->body)
		memset(f->body->buf, 0xee, f->body->size);
	mem_deref(f->body);
	if (last_dl == f)
		last_dl = NULL;
}


static int fake_fetch(void **hp, const char *url, bool capture,
		      cmrc_dl_h *dh, void *arg)
{
	struct fakedl *f;
	(void)url;
	(void)capture;

	f = mem_zalloc(sizeof(*f), fakedl_destructor);
	if (!f)
		return ENOMEM;

	f->dh = dh;
	f->arg = arg;
	last_dl = f;
	*hp = f;

	return 0;
}


/* The fetcher's callback with a result that lives in f. */
static void fake_done(struct fakedl *f, uint16_t scode, const char *why,
		      const char *ctype, struct mbuf *body)
{
	struct cmrc_dl dl;

	str_ncpy(f->why, why, sizeof(f->why));
	str_ncpy(f->ctype, ctype, sizeof(f->ctype));
	f->body = body;

	memset(&dl, 0, sizeof(dl));
	dl.why = f->why;
	dl.ctype = f->ctype;
	dl.scode = scode;
	dl.bytes = body ? body->end : 0;
	dl.body = body ? body->buf : NULL;

	f->dh(&dl, f->arg);
}


static void call_make(struct ua **uap, struct cmrc **cp)
{
	struct ua_conf uc;
	struct cmrc_conf conf;

	memset(&uc, 0, sizeof(uc));
	assert_int_equal(0, sa_set_str(&uc.laddr, "127.0.0.1", 0));
	uc.fetchh = fake_fetch;
	assert_int_equal(0, ua_alloc(uap, &uc));

	memset(&conf, 0, sizeof(conf));
	conf.mode = CMRC_HTTP;
	str_ncpy(conf.from, "alice", sizeof(conf.from));
	str_ncpy(conf.to, "bob", sizeof(conf.to));
	assert_int_equal(0, cmrc_alloc(cp, *uap, &conf));
}


static void test_download_failed_kept(void **state)
{
	struct ua *ua = NULL;
	struct cmrc *c = NULL;
	(void)state;

	call_make(&ua, &c);
	cmrc_download(c, "http://127.0.0.1:9/r/none");
	assert_non_null(last_dl);

	fake_done(last_dl, 404, "404 Not Found", "text/plain", NULL);
	assert_null(last_dl);     /* the call freed its fetcher */
	assert_string_equal("404 Not Found", c->r.dl_why);
	assert_string_equal("text/plain", c->r.dl_type);
	assert_int_equal(404, c->r.dl_status);
	assert_string_equal("the resource URL failed: 404 Not Found",
			    cmrc_verdict_http(c));

	mem_deref(c);
	mem_deref(ua);
}


static void test_download_wav_decoded(void **state)
{
	enum { N = 4000 };         /* half a second */
	struct ua *ua = NULL;
	struct cmrc *c = NULL;
	struct mbuf *wav;
	int16_t pcm[N];
	(void)state;

	for (size_t i = 0; i < N; i++)
		pcm[i] = (int16_t)((i % 16) * 1000 - 8000);
	wav = mbuf_alloc(44 + 2 * N);
	assert_non_null(wav);
	assert_int_equal(0, wavw_mbuf(wav, pcm, N, MEDIA_SRATE));

	call_make(&ua, &c);
	cmrc_download(c, "http://127.0.0.1:9/r/tone");
	assert_non_null(last_dl);

	fake_done(last_dl, 200, "200 OK", "audio/wav", wav);
	assert_null(last_dl);
	assert_string_equal("200 OK", c->r.dl_why);
	assert_string_equal("audio/wav", c->r.dl_type);
	assert_non_null(c->played);
	assert_int_equal(500, c->r.dl_duration_ms);
	assert_null(cmrc_verdict_http(c));

	mem_deref(c);
	mem_deref(ua);
}


static int group_setup(void **state)
{
	(void)state;

	if (libre_init() || loop_init())
		return -1;

	return 0;
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_download_failed_kept),
		cmocka_unit_test(test_download_wav_decoded),
	};

	return cmocka_run_group_tests_name("sip/cmrc", tests, group_setup,
					   looprun_teardown);
}
