/**
 * @file test_media_table.c  The table's WAVs converted on a job's thread:
 *                           the same bytes as on the loop, cancellation,
 *                           and a profile load that brings its media
 *
 * The conversion itself is tested in test_media_convert.c and
 * test_media_frames.c; here it runs where the server runs it, on a job's
 * thread (core/job.c) or inside a profile load (core/reload.c), and must
 * give exactly the frames that the synchronous media_attach_table()
 * gives, every byte of them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <ftw.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <re.h>
#include "core/core.h"
#include "rtp/rtp.h"
#include "rtp/rtp_int.h"
#include "tests/unit/leakcheck.h"
#include "tests/unit/lebytes.h"
#include "tests/unit/looprun.h"

#define PI 3.14159265358979323846

enum {
	TAG_PCM = 1,
	TAG_FLOAT = 3,
	WATCHDOG_MS = 60000,    /* a slow sanitizer build converts slowly */
};


/* ---- WAVs --------------------------------------------------------------- */

/* A two-tone signal, different in every channel, as a canonical WAV in
 * malloc'd memory. */
static uint8_t *wav_make(uint16_t tag, uint16_t ch, uint32_t rate,
			 uint16_t bits, size_t frames, size_t *sizep)
{
	const size_t width = bits / 8u, block = width * ch;
	const size_t data = frames * block;
	uint8_t *w = malloc(44 + data), *p;

	assert_non_null(w);
	le_wav_header(w, tag, ch, rate, bits, (uint32_t)data);

	p = w + 44;
	for (size_t i = 0; i < frames; i++) {
		for (unsigned c = 0; c < ch; c++) {
			double t = (double)i / rate;
			double v = 0.3 * sin(2 * PI * 440.0 * t) +
				0.2 * (c + 1) / ch * sin(2 * PI * 1700.0 * t);

			if (tag == TAG_FLOAT) {
				float f = (float)v;
				uint32_t u;

				memcpy(&u, &f, 4);
				le_put32(p, u);
			}
			else if (bits == 16) {
				le_put16(p, (uint16_t)(int16_t)lrint(v * 32767));
			}
			else {
				int32_t x = (int32_t)lrint(v * 8388607.0);

				p[0] = (uint8_t)x;
				p[1] = (uint8_t)(x >> 8);
				p[2] = (uint8_t)(x >> 16);
			}
			p += width;
		}
	}

	*sizep = 44 + data;

	return w;
}


/* The formats and rates that take each path of the conversion: equal
 * rate, librem at 48 kHz, the polyphase sinc at 44.1 kHz and 11.025 kHz,
 * the directly evaluated sinc at 22051 Hz. */
static const struct {
	const char *id;
	uint16_t tag, ch;
	uint32_t rate;
	uint16_t bits;
	size_t frames;
} fmts[] = {
	{ "pcm8k",    TAG_PCM,   1,  8000, 16, 8000 },
	{ "rem48k",   TAG_PCM,   1, 48000, 24, 48000 },
	{ "cd",       TAG_PCM,   2, 44100, 16, 44100 },
	{ "low",      TAG_PCM,   2, 11025, 16, 11025 },
	{ "odd",      TAG_FLOAT, 1, 22051, 32, 22051 },
};


static struct table *table_fill(void)
{
	struct table *t = NULL;

	assert_int_equal(table_alloc(&t), 0);

	for (size_t i = 0; i < ARRAY_SIZE(fmts); i++) {
		size_t size;
		uint8_t *w = wav_make(fmts[i].tag, fmts[i].ch, fmts[i].rate,
				      fmts[i].bits, fmts[i].frames, &size);

		assert_int_equal(table_resource_add(t, fmts[i].id,
						    "audio/wav", w, size), 0);
		free(w);
	}

	return t;
}


/* Every frame of both payload types, byte for byte. */
static void media_equal(const struct media *a, const struct media *b)
{
	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(media_frames(a), media_frames(b));
	assert_int_equal(media_duration_ms(a), media_duration_ms(b));

	for (unsigned f = 0; f < media_frames(a); f++) {
		assert_memory_equal(media_frame(a, MEDIA_PT_PCMU, f),
				    media_frame(b, MEDIA_PT_PCMU, f),
				    MEDIA_FRAME_SAMPLES);
		assert_memory_equal(media_frame(a, MEDIA_PT_PCMA, f),
				    media_frame(b, MEDIA_PT_PCMA, f),
				    MEDIA_FRAME_SAMPLES);
	}
}


/* ---- a job that converts a table ---------------------------------------- */

struct conv {
	struct table *t;        /* the job's while it runs */
	struct job *job;
	atomic_bool started;
	unsigned failed;
	unsigned done_calls;
	int err;
	struct tmr poll;
};


static int conv_work(const struct job *job, void *arg)
{
	struct conv *c = arg;

	atomic_store(&c->started, true);

	return media_attach_job(c->t, job, &c->failed);
}


static void conv_done(int err, void *arg)
{
	struct conv *c = arg;

	++c->done_calls;
	c->err = err;
	loop_stop();
}


/* Cancels the job as soon as its work has begun. */
static void cancel_when_started(void *arg)
{
	struct conv *c = arg;

	if (atomic_load(&c->started))
		job_cancel(c->job);
	else
		tmr_start(&c->poll, 1, cancel_when_started, c);
}


/* ---- tests -------------------------------------------------------------- */

/* On a job's thread the table gets exactly the frames the loop would
 * have made. */
static void test_job_equals_sync(void **state)
{
	long mark = leakcheck_mark();
	struct table *sync = table_fill();
	struct conv c;
	(void)state;

	memset(&c, 0, sizeof(c));
	c.t = table_fill();

	assert_int_equal(media_attach_table(sync), 0);

	assert_int_equal(job_start(&c.job, conv_work, conv_done, &c), 0);
	looprun(WATCHDOG_MS);

	assert_int_equal(c.done_calls, 1);
	assert_int_equal(c.err, 0);
	assert_int_equal(c.failed, 0);

	for (size_t i = 0; i < ARRAY_SIZE(fmts); i++)
		media_equal(table_resource(sync, fmts[i].id)->media,
			    table_resource(c.t, fmts[i].id)->media);

	mem_deref(c.job);
	mem_deref(c.t);
	mem_deref(sync);
	leakcheck_assert(mark);
}


/* Cancelled in the middle of a long conversion, the work stops with
 * ECANCELED, the resource gets no media and nothing is left behind. */
static void test_cancel_midway(void **state)
{
	long mark = leakcheck_mark();
	struct resource *r;
	struct conv c;
	uint8_t *w;
	size_t size;
	(void)state;

	memset(&c, 0, sizeof(c));
	assert_int_equal(table_alloc(&c.t), 0);

	/* Two minutes at 44.1 kHz: far longer to convert than the loop
	 * takes to notice that the work has begun. */
	w = wav_make(TAG_PCM, 1, 44100, 16, 44100 * 120, &size);
	assert_int_equal(table_resource_add(c.t, "long", "audio/wav", w,
					    size), 0);
	free(w);

	tmr_init(&c.poll);
	assert_int_equal(job_start(&c.job, conv_work, conv_done, &c), 0);
	tmr_start(&c.poll, 1, cancel_when_started, &c);
	looprun(WATCHDOG_MS);
	tmr_cancel(&c.poll);

	assert_int_equal(c.done_calls, 1);
	assert_int_equal(c.err, ECANCELED);
	r = table_resource(c.t, "long");
	assert_null(r->media);

	mem_deref(c.job);
	mem_deref(c.t);
	leakcheck_assert(mark);
}


/* A cancelled job stops every conversion path at once and sets nothing;
 * without a job nothing is ever cancelled. */
static void test_convert_cancelled(void **state)
{
	long mark = leakcheck_mark();
	struct conv c;
	(void)state;

	memset(&c, 0, sizeof(c));
	assert_int_equal(table_alloc(&c.t), 0);
	tmr_init(&c.poll);

	/* A cancelled job to hand to media_convert(); its own work, on an
	 * empty table, has nothing to do. */
	assert_int_equal(job_start(&c.job, conv_work, conv_done, &c), 0);
	job_cancel(c.job);

	for (size_t i = 0; i < ARRAY_SIZE(fmts); i++) {
		struct media *m, *const sentinel = (struct media *)&m;
		size_t size;
		uint8_t *w = wav_make(fmts[i].tag, fmts[i].ch, fmts[i].rate,
				      fmts[i].bits, fmts[i].frames, &size);

		m = sentinel;
		assert_int_equal(media_convert(&m, w, size, c.job),
				 ECANCELED);
		assert_ptr_equal(m, sentinel);

		m = NULL;
		assert_int_equal(media_convert(&m, w, size, NULL), 0);
		assert_non_null(m);
		mem_deref(m);
		free(w);
	}

	looprun(WATCHDOG_MS);
	assert_int_equal(c.done_calls, 1);

	mem_deref(c.job);
	mem_deref(c.t);
	leakcheck_assert(mark);
}


/* ---- a profile load with its media -------------------------------------- */

struct load {
	unsigned done_calls;
	int err;
	struct table *t;
	char msg[256];
};


static void loaded(int err, struct table *t, const char *msg, void *arg)
{
	struct load *l = arg;

	++l->done_calls;
	l->err = err;
	l->t = mem_ref(t);
	str_ncpy(l->msg, msg, sizeof(l->msg));
	loop_stop();
}


static void file_write(const char *path, const uint8_t *p, size_t n)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}


static int remove_one(const char *path, const struct stat *st, int flag,
		      struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;

	return remove(path);
}


/* The table a reload hands to the loop already carries the frames of its
 * WAVs, float ones included (the profile accepts 32-bit float now), and
 * they are the frames of a conversion on the loop. */
static void test_reload_brings_media(void **state)
{
	static const char text[] =
		"resource cd file=cd.wav\n"
		"resource flt file=flt.wav\n"
		"subscriber zed mode=as cmrbt=cd cmrt=flt\n";
	long mark = leakcheck_mark();
	char dir[64], path[128];
	uint8_t *wavs[2];
	size_t sizes[2];
	struct reload *rl = NULL;
	struct load l;
	(void)state;

	memset(&l, 0, sizeof(l));
	str_ncpy(dir, "/tmp/cmrlab-media-XXXXXX", sizeof(dir));
	assert_non_null(mkdtemp(dir));

	wavs[0] = wav_make(TAG_PCM, 2, 44100, 16, 44100 / 2, &sizes[0]);
	wavs[1] = wav_make(TAG_FLOAT, 1, 16000, 32, 16000 / 4, &sizes[1]);
	(void)snprintf(path, sizeof(path), "%s/cd.wav", dir);
	file_write(path, wavs[0], sizes[0]);
	(void)snprintf(path, sizeof(path), "%s/flt.wav", dir);
	file_write(path, wavs[1], sizes[1]);
	(void)snprintf(path, sizeof(path), "%s/test.profile", dir);
	file_write(path, (const uint8_t *)text, sizeof(text) - 1);

	assert_int_equal(reload_alloc(&rl, path, media_reload_prep, loaded,
				      &l), 0);
	assert_int_equal(reload_start(rl), 0);
	looprun(WATCHDOG_MS);

	if (l.err)
		print_error("load failed: %s\n", l.msg);
	assert_int_equal(l.err, 0);
	assert_int_equal(table_resource(l.t, "cd")->duration_ms, 500);
	assert_int_equal(table_resource(l.t, "flt")->duration_ms, 250);

	/* The built-in tones are converted as well. */
	assert_non_null(table_resource(l.t, "ringback-default")->media);

	for (size_t i = 0; i < 2; i++) {
		struct media *m = NULL;

		assert_int_equal(media_from_wav(&m, wavs[i], sizes[i]), 0);
		media_equal(m, table_resource(l.t, i ? "flt" : "cd")->media);
		mem_deref(m);
		free(wavs[i]);
	}

	mem_deref(rl);
	mem_deref(l.t);
	assert_int_equal(nftw(dir, remove_one, 8, FTW_DEPTH | FTW_PHYS), 0);
	leakcheck_assert(mark);
}


/* One round of each before any mark (leakcheck.h): the first thread,
 * the first libevent timer, each resampler's first use. */
static int group_setup(void **state)
{
	struct table *t;
	struct conv c;
	(void)state;

	if (libre_init() || loop_init())
		return -1;

	t = table_fill();
	(void)media_attach_table(t);
	mem_deref(t);

	memset(&c, 0, sizeof(c));
	c.t = table_fill();
	tmr_init(&c.poll);
	tmr_start(&c.poll, WATCHDOG_MS, looprun_stop, NULL);
	if (job_start(&c.job, conv_work, conv_done, &c) || loop_run())
		return -1;
	tmr_cancel(&c.poll);
	mem_deref(c.job);
	mem_deref(c.t);

	return 0;
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_job_equals_sync),
		cmocka_unit_test(test_cancel_midway),
		cmocka_unit_test(test_convert_cancelled),
		cmocka_unit_test(test_reload_brings_media),
	};

	return cmocka_run_group_tests_name("rtp/media_table", tests,
					   group_setup, looprun_teardown);
}
