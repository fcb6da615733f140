/**
 * @file test_tones.c  Built-in ringback/ringtone audio and wav_duration_ms
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <re.h>
#include "core/core.h"
#include "tests/unit/leakcheck.h"


static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}


static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
		(uint32_t)p[3] << 24;
}


/* The canonical header tones.c writes, checked field by field. */
static void check_builtin(const struct resource *r)
{
	const uint8_t *d;
	uint32_t n, peak = 0, ms, silent_run = 0, max_silent = 0;
	uint64_t energy = 0;

	assert_non_null(r);
	assert_string_equal(r->type, "audio/wav");
	assert_true(r->size > 44);

	d = r->data;
	assert_memory_equal(d, "RIFF", 4);
	assert_int_equal(rd32(d + 4), r->size - 8);
	assert_memory_equal(d + 8, "WAVEfmt ", 8);
	assert_int_equal(rd32(d + 16), 16);
	assert_int_equal(rd16(d + 20), 1);       /* PCM */
	assert_int_equal(rd16(d + 22), 1);       /* mono */
	assert_int_equal(rd32(d + 24), 8000);
	assert_int_equal(rd32(d + 28), 16000);
	assert_int_equal(rd16(d + 32), 2);
	assert_int_equal(rd16(d + 34), 16);
	assert_memory_equal(d + 36, "data", 4);
	assert_int_equal(rd32(d + 40), r->size - 44);

	ms = wav_duration_ms(r->data, r->size);
	assert_true(ms >= 5000);
	assert_int_equal(ms, 6000);
	assert_int_equal(r->duration_ms, ms);

	n = (uint32_t)(r->size - 44) / 2;
	for (uint32_t i = 0; i < n; i++) {
		int16_t s = (int16_t)rd16(d + 44 + 2 * i);
		uint32_t a = (uint32_t)(s < 0 ? -s : s);

		if (a > peak)
			peak = a;
		energy += (uint64_t)a * a;

		silent_run = a < 8 ? silent_run + 1 : 0;
		if (silent_run > max_silent)
			max_silent = silent_run;
	}

	/* Peak near -12 dBFS (8231): audible, well below full scale. */
	assert_true(peak < 32767);
	assert_in_range(peak, 6500, 10400);

	/* Not silent: RMS above -30 dBFS (about 1036). */
	assert_true(energy / n > 1036ull * 1036ull);

	/* No click at the ends: the file starts and ends at rest. */
	assert_true(abs((int16_t)rd16(d + 44)) < 64);
	assert_true(abs((int16_t)rd16(d + r->size - 2)) < 64);

	/* Pauses are those of a ring cadence, never longer than 1.2 s. */
	assert_true(max_silent < 9600);
}


static void test_builtin(void **state)
{
	struct table *t = NULL, *t2 = NULL;
	const struct resource *bt, *rt;
	long mark = leakcheck_mark();
	(void)state;

	assert_int_equal(table_alloc(&t), 0);
	assert_int_equal(tones_add_builtin(t), 0);
	assert_int_equal(table_resource_count(t), 2);

	bt = table_resource(t, "ringback-default");
	rt = table_resource(t, "ringtone-default");
	check_builtin(bt);
	check_builtin(rt);

	/* Two different sounds. */
	assert_int_equal(bt->size, rt->size);
	assert_memory_not_equal(bt->data + 44, rt->data + 44, bt->size - 44);

	/* Deterministic: a second table gets the same bytes and ETags. */
	assert_int_equal(table_alloc(&t2), 0);
	assert_int_equal(tones_add_builtin(t2), 0);
	assert_string_equal(table_resource(t2, "ringback-default")->etag,
			    bt->etag);
	assert_string_equal(table_resource(t2, "ringtone-default")->etag,
			    rt->etag);

	assert_int_equal(tones_add_builtin(NULL), EINVAL);

	mem_deref(t2);
	mem_deref(t);
	leakcheck_assert(mark);
}


/* Ringback keeps the rhythm of a ringback tone: sound, then a pause. */
static void test_ringback_cadence(void **state)
{
	struct table *t = NULL;
	const struct resource *r;
	long mark = leakcheck_mark();
	(void)state;

	assert_int_equal(table_alloc(&t), 0);
	assert_int_equal(tones_add_builtin(t), 0);
	r = table_resource(t, "ringback-default");
	assert_non_null(r);

	/* Seconds 2.1-2.9 and 5.1-5.9 are the pauses; 0.2-1.8 sounds. */
	for (unsigned i = 0; i < 48000; i++) {
		int16_t s = (int16_t)rd16(r->data + 44 + 2 * i);
		unsigned ms = i / 8;

		if ((ms >= 2100 && ms < 2900) || (ms >= 5100 && ms < 5900))
			assert_int_equal(s, 0);
	}
	{
		uint32_t peak = 0;

		for (unsigned i = 1600; i < 14400; i++) {
			int16_t s = (int16_t)rd16(r->data + 44 + 2 * i);
			uint32_t a = (uint32_t)(s < 0 ? -s : s);

			if (a > peak)
				peak = a;
		}
		assert_true(peak > 4000);
	}

	mem_deref(t);
	leakcheck_assert(mark);
}


/* ---- wav_duration_ms vectors ------------------------------------------ */

/* Little-endian fields as string pieces, so every vector is byte-exact. */
#define FMT_8K_MONO16 \
	"fmt " "\x10\0\0\0" "\x01\0" "\x01\0" "\x40\x1f\0\0" "\x80\x3e\0\0" \
	"\x02\0" "\x10\0"
#define RIFF_HDR    "RIFF" "\0\0\0\0" "WAVE"

struct wvec {
	const char *name;
	const char *hdr;
	size_t hlen;       /* bytes of hdr */
	size_t zeros;      /* zero bytes appended (sample data) */
	size_t cut;        /* bytes cut off the end (truncation) */
	bool keep_riff;    /* keep hdr's RIFF size instead of fixing it */
	uint32_t want;
};

#define V(name, hdr, zeros, cut, keep, want) \
	{ name, hdr, sizeof(hdr) - 1, zeros, cut, keep, want }

static const struct wvec wvecs[] = {
	/* good */
	V("canonical 8k mono 16 bit, 1 s",
	  RIFF_HDR FMT_8K_MONO16 "data" "\x80\x3e\0\0", 16000, 0, false,
	  1000),
	V("LIST chunk (odd length, padded) before fmt",
	  RIFF_HDR "LIST" "\x05\0\0\0" "INFOx" "\0" FMT_8K_MONO16
	  "data" "\x40\x1f\0\0", 8000, 0, false, 500),
	V("data before fmt",
	  RIFF_HDR "data" "\x10\0\0\0" "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"
	  FMT_8K_MONO16, 0, 0, false, 1),
	V("odd chunk at the end without its pad byte",
	  RIFF_HDR FMT_8K_MONO16 "data" "\x20\0\0\0"
	  "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"
	  "junk" "\x03\0\0\0" "abc", 0, 0, false, 2),
	V("44.1 kHz stereo 16 bit, 100 ms",
	  RIFF_HDR "fmt " "\x10\0\0\0" "\x01\0" "\x02\0" "\x44\xac\0\0"
	  "\x10\xb1\x02\0" "\x04\0" "\x10\0" "data" "\xe8\x44\0\0", 17640,
	  0, false, 100),
	V("8 bit mono 8 kHz, 250 ms",
	  RIFF_HDR "fmt " "\x10\0\0\0" "\x01\0" "\x01\0" "\x40\x1f\0\0"
	  "\x40\x1f\0\0" "\x01\0" "\x08\0" "data" "\xd0\x07\0\0", 2000, 0,
	  false, 250),
	V("WAVE_FORMAT_EXTENSIBLE with PCM sub-format",
	  RIFF_HDR "fmt " "\x28\0\0\0" "\xfe\xff" "\x01\0" "\x40\x1f\0\0"
	  "\x80\x3e\0\0" "\x02\0" "\x10\0" "\x16\0" "\x10\0" "\x04\0\0\0"
	  "\x01\0\0\0\0\0\x10\0\x80\0\0\xaa\0\x38\x9b\x71"
	  "data" "\x80\x3e\0\0", 16000, 0, false, 1000),
	V("RIFF size past the end, chunks complete",
	  "RIFF" "\xff\xff\xff\xff" "WAVE" FMT_8K_MONO16
	  "data" "\x80\x3e\0\0", 16000, 0, true, 1000),
	V("IEEE float 32 bit mono 8 kHz, 500 ms",
	  RIFF_HDR "fmt " "\x10\0\0\0" "\x03\0" "\x01\0" "\x40\x1f\0\0"
	  "\x00\x7d\0\0" "\x04\0" "\x20\0" "data" "\x80\x3e\0\0", 16000, 0,
	  false, 500),
	V("IEEE float 64 bit mono 8 kHz, 250 ms",
	  RIFF_HDR "fmt " "\x10\0\0\0" "\x03\0" "\x01\0" "\x40\x1f\0\0"
	  "\x00\xfa\0\0" "\x08\0" "\x40\0" "data" "\x80\x3e\0\0", 16000, 0,
	  false, 250),
	V("empty data chunk",
	  RIFF_HDR FMT_8K_MONO16 "data" "\0\0\0\0", 0, 0, false, 0),

	/* bad */
	V("truncated sample data",
	  RIFF_HDR FMT_8K_MONO16 "data" "\x80\x3e\0\0", 16000, 100, false,
	  0),
	V("truncated inside fmt",
	  RIFF_HDR FMT_8K_MONO16, 0, 6, false, 0),
	V("wrong magic RIFX",
	  "RIFX" "\0\0\0\0" "WAVE" FMT_8K_MONO16 "data" "\x80\x3e\0\0",
	  16000, 0, false, 0),
	V("wrong form type",
	  "RIFF" "\0\0\0\0" "AVI " FMT_8K_MONO16 "data" "\x80\x3e\0\0",
	  16000, 0, false, 0),
	V("huge data chunk size",
	  RIFF_HDR FMT_8K_MONO16 "data" "\xf0\xff\xff\xff", 100, 0, false,
	  0),
	V("huge chunk size before fmt",
	  RIFF_HDR "LIST" "\xfe\xff\xff\xff" FMT_8K_MONO16
	  "data" "\x80\x3e\0\0", 16000, 0, false, 0),
	V("huge fmt chunk size",
	  RIFF_HDR "fmt " "\xff\xff\xff\x7f" "\x01\0\x01\0", 100, 0, false,
	  0),
	V("zero byte rate",
	  RIFF_HDR "fmt " "\x10\0\0\0" "\x01\0" "\x01\0" "\x40\x1f\0\0"
	  "\0\0\0\0" "\x02\0" "\x10\0" "data" "\x80\x3e\0\0", 16000, 0,
	  false, 0),
	V("zero channels",
	  RIFF_HDR "fmt " "\x10\0\0\0" "\x01\0" "\0\0" "\x40\x1f\0\0"
	  "\x80\x3e\0\0" "\x02\0" "\x10\0" "data" "\x80\x3e\0\0", 16000, 0,
	  false, 0),
	V("byte rate inconsistent with rate and block align",
	  RIFF_HDR "fmt " "\x10\0\0\0" "\x01\0" "\x01\0" "\x40\x1f\0\0"
	  "\x01\0\0\0" "\x02\0" "\x10\0" "data" "\x80\x3e\0\0", 16000, 0,
	  false, 0),
	V("IEEE float 16 bit (not converted)",
	  RIFF_HDR "fmt " "\x10\0\0\0" "\x03\0" "\x01\0" "\x40\x1f\0\0"
	  "\x80\x3e\0\0" "\x02\0" "\x10\0" "data" "\x80\x3e\0\0", 16000, 0,
	  false, 0),
	V("fmt chunk too short",
	  RIFF_HDR "fmt " "\x0e\0\0\0" "\x01\0" "\x01\0" "\x40\x1f\0\0"
	  "\x80\x3e\0\0" "\x02\0" "data" "\x80\x3e\0\0", 16000, 0, false,
	  0),
	V("no data chunk",
	  RIFF_HDR FMT_8K_MONO16, 0, 0, false, 0),
	V("no fmt chunk",
	  RIFF_HDR "data" "\x80\x3e\0\0", 16000, 0, false, 0),
	V("two fmt chunks",
	  RIFF_HDR FMT_8K_MONO16 FMT_8K_MONO16 "data" "\x80\x3e\0\0", 16000,
	  0, false, 0),
	V("RIFF size too small to hold the chunks",
	  "RIFF" "\x04\0\0\0" "WAVE" FMT_8K_MONO16 "data" "\x80\x3e\0\0",
	  16000, 0, true, 0),
	V("only the RIFF header",
	  RIFF_HDR, 0, 0, false, 0),
	V("shorter than a RIFF header",
	  "RIFF" "\0\0\0\0" "WAV", 0, 0, true, 0),
};


static void test_wav_vectors(void **state)
{
	static uint8_t buf[20000];
	long mark = leakcheck_mark();
	(void)state;

	for (size_t i = 0; i < ARRAY_SIZE(wvecs); i++) {
		const struct wvec *v = &wvecs[i];
		size_t full = v->hlen + v->zeros;
		uint32_t got;

		assert_true(full <= sizeof(buf));
		memset(buf, 0, sizeof(buf));
		memcpy(buf, v->hdr, v->hlen);

		/* A truncated file still claims its full length. */
		if (!v->keep_riff && full >= 8) {
			uint32_t rs = (uint32_t)(full - 8);

			buf[4] = (uint8_t)rs;
			buf[5] = (uint8_t)(rs >> 8);
			buf[6] = (uint8_t)(rs >> 16);
			buf[7] = (uint8_t)(rs >> 24);
		}

		got = wav_duration_ms(buf, full - v->cut);
		if (got != v->want)
			print_error("vector \"%s\": got %u, want %u\n",
				    v->name, got, v->want);
		assert_int_equal(got, v->want);
	}

	assert_int_equal(wav_duration_ms(NULL, 100), 0);
	assert_int_equal(wav_duration_ms(buf, 0), 0);
	leakcheck_assert(mark);
}


/* Every prefix of a valid file is refused or parsed without reading past
 * its end (an out-of-bounds read shows under the sanitizer build). */
static void test_wav_prefixes(void **state)
{
	const struct wvec *v = &wvecs[1];
	uint8_t *buf;
	size_t full = v->hlen + v->zeros;
	long mark = leakcheck_mark();
	(void)state;

	for (size_t n = 0; n < full; n++) {
		buf = malloc(n ? n : 1);
		assert_non_null(buf);
		memset(buf, 0, n);
		memcpy(buf, v->hdr, n < v->hlen ? n : v->hlen);
		if (n >= 8) {
			uint32_t rs = (uint32_t)(full - 8);

			buf[4] = (uint8_t)rs;
			buf[5] = (uint8_t)(rs >> 8);
			buf[6] = (uint8_t)(rs >> 16);
			buf[7] = (uint8_t)(rs >> 24);
		}
		assert_int_equal(wav_duration_ms(buf, n), 0);
		free(buf);
	}
	leakcheck_assert(mark);
}


/* Anything the libraries set up once on first use is set up here, before
 * any test takes its mark (leakcheck.h). */
static int group_setup(void **state)
{
	struct table *t = NULL;
	int err;
	(void)state;

	err = table_alloc(&t);
	if (!err)
		err = tones_add_builtin(t);
	mem_deref(t);

	return err;
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wav_vectors),
		cmocka_unit_test(test_wav_prefixes),
		cmocka_unit_test(test_builtin),
		cmocka_unit_test(test_ringback_cadence),
	};

	return cmocka_run_group_tests(tests, group_setup, NULL);
}
