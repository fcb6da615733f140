/**
 * @file test_media_convert.c  WAV to G.711 frames: every sample format
 *                             and rate, the resampler's band, and a
 *                             full-scale square through each resampler
 *
 * The frames are decoded back with G.711's own decoders and compared with
 * the same sine evaluated at the 8 kHz output times, so a wrong scale,
 * sign, channel mix, rate or delay shows as a difference far larger than
 * G.711's quantisation.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <re.h>
#include <rem.h>
#include "core/core.h"
#include "rtp/rtp.h"
#include "tests/unit/leakcheck.h"
#include "tests/unit/lebytes.h"
#include "tests/unit/rtp/wavsynth.h"


/* ---- the sine in the frames --------------------------------------------- */

/* The least-squares fit of A sin(w k + phi) to y[lo..hi): returns the
 * amplitude, the phase as a shift in output samples, and the RMS of what
 * the sine leaves unexplained, relative to the amplitude. */
struct fit {
	double amp;
	double shift;
	double resid;
};


static struct fit sine_fit(const double *y, size_t lo, size_t hi, double f)
{
	const double w = 2.0 * PI * f / 8000.0;
	double ss = 0, cc = 0, sc = 0, ys = 0, yc = 0, det, a, b, e = 0;
	struct fit r;

	for (size_t k = lo; k < hi; k++) {
		double s = sin(w * k), c = cos(w * k);

		ss += s * s;
		cc += c * c;
		sc += s * c;
		ys += y[k] * s;
		yc += y[k] * c;
	}

	det = ss * cc - sc * sc;
	a = (ys * cc - yc * sc) / det;
	b = (yc * ss - ys * sc) / det;

	for (size_t k = lo; k < hi; k++) {
		double d = y[k] - a * sin(w * k) - b * cos(w * k);

		e += d * d;
	}

	r.amp = hypot(a, b);
	r.shift = atan2(b, a) / w;
	r.resid = sqrt(e / (double)(hi - lo)) / r.amp;

	return r;
}


/* ---- conversions that must succeed -------------------------------------- */

struct gvec {
	const char *name;
	struct wspec s;
	bool exact;     /* compare every sample with the sine */
	double amp_tol; /* of the fitted amplitude, relative */
	double shift;   /* largest shift allowed, in output samples */
};


/* 8 kHz, every sample format: the frames hold the sine itself. */
#define AT8K(name, tag, sub, ch, bits, n) \
	{ name, { tag, sub, ch, 8000, bits, n, 400.0, 0.4, false, false }, \
	  true, 0.03, 0.02 }
/* Other rates through the sinc resampler: no delay, a flat pass band. */
#define SINC(name, tag, sub, ch, rate, bits) \
	{ name, { tag, sub, ch, rate, bits, (rate) / 2, 400.0, 0.4, false, \
		  false }, true, 0.03, 0.02 }
/* 48 kHz through librem's auresamp: its 32-tap filter ripples by up to
 * 1.7 dB in the pass band (400 Hz comes out 1.4 dB low) and its delay is
 * compensated to the nearest output sample only. */
#define REM(name, tag, sub, ch, bits) \
	{ name, { tag, sub, ch, 48000, bits, 24000, 400.0, 0.4, false, \
		  false }, false, 0.20, 0.5 }

static const struct gvec gvecs[] = {
	AT8K("8 kHz mono 16 bit", TAG_PCM, 0, 1, 16, 8000),
	AT8K("8 kHz mono 8 bit unsigned", TAG_PCM, 0, 1, 8, 4000),
	AT8K("8 kHz mono 24 bit", TAG_PCM, 0, 1, 24, 4000),
	AT8K("8 kHz mono 32 bit", TAG_PCM, 0, 1, 32, 4000),
	AT8K("8 kHz mono float", TAG_FLOAT, 0, 1, 32, 4000),
	AT8K("8 kHz mono double", TAG_FLOAT, 0, 1, 64, 4000),
	AT8K("8 kHz stereo 16 bit", TAG_PCM, 0, 2, 16, 4000),
	AT8K("8 kHz stereo 8 bit", TAG_PCM, 0, 2, 8, 4000),
	AT8K("8 kHz 8 channels 24 bit", TAG_PCM, 0, 8, 24, 4000),
	AT8K("8 kHz extensible PCM 16 bit", TAG_EXT, TAG_PCM, 2, 16, 4000),
	AT8K("8 kHz extensible float", TAG_EXT, TAG_FLOAT, 1, 32, 4000),
	AT8K("8 kHz, 8001 samples: a padded last frame", TAG_PCM, 0, 1, 16,
	     8001),
	AT8K("8 kHz, one sample", TAG_PCM, 0, 1, 16, 1),
	{ "8 kHz, LIST first, data before fmt",
	  { TAG_PCM, 0, 1, 8000, 16, 4000, 400.0, 0.4, true, true },
	  true, 0.03, 0.02 },
	SINC("4 kHz mono 16 bit (up)", TAG_PCM, 0, 1, 4000, 16),
	SINC("11025 Hz mono 16 bit", TAG_PCM, 0, 1, 11025, 16),
	SINC("16 kHz mono 16 bit", TAG_PCM, 0, 1, 16000, 16),
	SINC("16 kHz stereo 24 bit", TAG_PCM, 0, 2, 16000, 24),
	SINC("16 kHz 8 channels 16 bit", TAG_PCM, 0, 8, 16000, 16),
	SINC("22050 Hz mono 8 bit", TAG_PCM, 0, 1, 22050, 8),
	SINC("32 kHz mono 32 bit", TAG_PCM, 0, 1, 32000, 32),
	SINC("44.1 kHz mono 16 bit", TAG_PCM, 0, 1, 44100, 16),
	SINC("44.1 kHz stereo 16 bit", TAG_PCM, 0, 2, 44100, 16),
	SINC("44.1 kHz stereo float", TAG_FLOAT, 0, 2, 44100, 32),
	SINC("44.1 kHz extensible 24 bit", TAG_EXT, TAG_PCM, 2, 44100, 24),
	{ "44.1 kHz, 22051 samples: 4000.18 at 8 kHz, so 4001",
	  { TAG_PCM, 0, 1, 44100, 16, 22051, 400.0, 0.4, false, false },
	  true, 0.03, 0.02 },
	SINC("44101 Hz mono 16 bit (no short period)", TAG_PCM, 0, 1, 44101,
	     16),
	SINC("96 kHz mono 24 bit", TAG_PCM, 0, 1, 96000, 24),
	SINC("192 kHz stereo 32 bit", TAG_PCM, 0, 2, 192000, 32),
	REM("48 kHz mono 16 bit", TAG_PCM, 0, 1, 16),
	REM("48 kHz stereo float", TAG_FLOAT, 0, 2, 32),
	REM("48 kHz extensible 32 bit", TAG_EXT, TAG_PCM, 2, 32),
	REM("48 kHz mono 8 bit", TAG_PCM, 0, 1, 8),
};


/* Every decoded sample within G.711's error of the sine at its time:
 * both laws step by at most 1/16 of the value (1/32 each side), plus a
 * few units near zero and the input's own quantisation at 8 bit. */
static void check_exact(const struct gvec *v, const double *y, size_t n,
			const char *law)
{
	const struct wspec *s = &v->s;
	const double q = (s->bits == 8 ? 128.0 : 0.0) + 48.0;
	const size_t edge = s->rate == 8000 ? 0 : EDGE;

	for (size_t k = edge; k + edge < n; k++) {
		double x = s->amp * 32768.0 * sin(2.0 * PI * s->freq * k /
						  8000.0);

		if (fabs(y[k] - x) > fabs(x) / 16.0 + q) {
			print_error("%s, %s: sample %zu is %.0f, want %.0f\n",
				    v->name, law, k, y[k], x);
			fail();
		}
	}
}


static void check_good(const struct gvec *v)
{
	const struct wspec *s = &v->s;
	const size_t n = n8k(s);
	const unsigned frames = (unsigned)((n + 159) / 160);
	struct media *m = NULL;
	size_t size;
	uint8_t *wav;
	double *yu, *ya;

	wav = wav_make(s, &size);
	if (media_from_wav(&m, wav, size)) {
		print_error("%s: refused\n", v->name);
		fail();
	}
	free(wav);
	assert_non_null(m);

	/* ceil(samples at 8 kHz / 160) frames, and the input's duration. */
	assert_int_equal(media_frames(m), frames);
	assert_int_equal(media_duration_ms(m),
			 (uint64_t)s->n * 1000 / s->rate);

	/* The last frame is padded with the code of silence. */
	for (size_t i = n; i < (size_t)frames * 160; i++) {
		assert_int_equal(media_frame(m, 0, frames - 1)[i % 160], 0xff);
		assert_int_equal(media_frame(m, 8, frames - 1)[i % 160], 0xd5);
	}

	yu = frames_decode(m, MEDIA_PT_PCMU, n);
	ya = frames_decode(m, MEDIA_PT_PCMA, n);

	if (v->exact) {
		check_exact(v, yu, n, "u-law");
		check_exact(v, ya, n, "A-law");
	}

	/* The level, the timing and the frequency: one sine at the input's
	 * frequency, level and phase explains almost all of the output. */
	if (n > 4 * EDGE) {
		struct fit f = sine_fit(yu, EDGE, n - EDGE, s->freq);
		double want = s->amp * 32768.0;

		if (fabs(f.amp / want - 1.0) > v->amp_tol ||
		    fabs(f.shift) > v->shift || f.resid > 0.05) {
			print_error("%s: amplitude %.0f (want %.0f), shift "
				    "%.3f samples, residue %.4f\n", v->name,
				    f.amp, want, f.shift, f.resid);
			fail();
		}
	}

	free(ya);
	free(yu);
	mem_deref(m);
}


static void test_formats_and_rates(void **state)
{
	long mark = leakcheck_mark();
	(void)state;

	for (size_t i = 0; i < ARRAY_SIZE(gvecs); i++)
		check_good(&gvecs[i]);

	leakcheck_assert(mark);
}


/* ---- the resampler's band ----------------------------------------------- */

/* Tones the 8 kHz signal can carry keep their level, and tones above
 * 4 kHz vanish instead of folding back into the band as other tones. */
static void test_band(void **state)
{
	static const struct {
		uint32_t rate;
		double freq;
		double gain;    /* wanted output level over input level */
		double tol;     /* absolute, of that ratio */
	} bv[] = {
		{ 16000, 3000.0, 1.0, 0.03 },
		{ 16000, 3400.0, 1.0, 0.03 },
		{ 16000, 4200.0, 0.0, 0.003 },    /* would fold to 3.8 kHz */
		{ 16000, 5000.0, 0.0, 0.003 },    /* would fold to 3 kHz */
		{ 22050, 7000.0, 0.0, 0.003 },
		{ 44100, 3000.0, 1.0, 0.03 },
		{ 44100, 4400.0, 0.0, 0.003 },
		{ 44100, 6000.0, 0.0, 0.003 },    /* would fold to 2 kHz */
		{ 44100, 12000.0, 0.0, 0.003 },
		{ 96000, 5000.0, 0.0, 0.003 },
		{ 192000, 7000.0, 0.0, 0.003 },
		{ 4000, 1500.0, 1.0, 0.03 },      /* no image at 2.5 kHz */
		{ 48000, 6000.0, 0.0, 0.01 },
		{ 48000, 2000.0, 1.0, 0.20 },
	};
	long mark = leakcheck_mark();
	(void)state;

	for (size_t i = 0; i < ARRAY_SIZE(bv); i++) {
		struct wspec s = { TAG_PCM, 0, 1, bv[i].rate, 16,
				   bv[i].rate / 2, bv[i].freq, 0.5, false,
				   false };
		struct media *m = NULL;
		size_t size, n = n8k(&s);
		uint8_t *wav = wav_make(&s, &size);
		double *y, e = 0.0, gain;

		assert_int_equal(media_from_wav(&m, wav, size), 0);
		free(wav);

		y = frames_decode(m, MEDIA_PT_PCMU, n);
		for (size_t k = EDGE; k < n - EDGE; k++)
			e += y[k] * y[k];
		gain = sqrt(e / (double)(n - 2 * EDGE)) /
			(s.amp * 32768.0 / sqrt(2.0));

		if (fabs(gain - bv[i].gain) > bv[i].tol) {
			print_error("%u Hz input, %.0f Hz tone: gain %.4f, "
				    "want %.4f\n", bv[i].rate, bv[i].freq,
				    gain, bv[i].gain);
			fail();
		}

		free(y);
		mem_deref(m);
	}

	leakcheck_assert(mark);
}


/* ---- full scale through the resamplers ---------------------------------- */

/* A full-scale square wave, 16-bit, at every kind of rate: the sinc
 * resampler, librem's (48 kHz) and none (8 kHz).  A resampler's overshoot
 * at the edges reaches -32768, which G.711's encoders cannot take (they
 * negate the sample): every byte must still decode to the sign and about
 * the level of the square, and the two laws must agree. */
static void test_square_every_rate(void **state)
{
	static const uint32_t rates[] = {
		8000, 11025, 16000, 22050, 24000, 32000, 44100, 48000, 96000,
	};
	long mark = leakcheck_mark();
	(void)state;

	for (size_t r = 0; r < ARRAY_SIZE(rates); r++) {
		const uint32_t rate = rates[r];
		const size_t n = rate / 4, half = rate / 400;
		struct wspec s = { TAG_PCM, 0, 1, rate, 16, n, 200.0, 1.0,
				   false, false };
		struct media *m = NULL;
		size_t size, nout;
		uint8_t *wav = wav_make(&s, &size);
		uint8_t *p = wav + size - 2 * n;

		/* Replace the sine by a square of the same period. */
		for (size_t i = 0; i < n; i++)
			le_put16(p + 2 * i, (i / half) & 1 ? 0x8000 : 0x7fff);

		assert_int_equal(media_from_wav(&m, wav, size), 0);
		nout = n8k(&s);
		for (size_t i = 0; i < nout; i++) {
			const uint8_t *u, *a;
			int du, da;

			u = media_frame(m, MEDIA_PT_PCMU,
					(unsigned)(i / MEDIA_FRAME_SAMPLES));
			a = media_frame(m, MEDIA_PT_PCMA,
					(unsigned)(i / MEDIA_FRAME_SAMPLES));
			du = g711_ulaw2pcm(u[i % MEDIA_FRAME_SAMPLES]);
			da = g711_alaw2pcm(a[i % MEDIA_FRAME_SAMPLES]);
			if (abs(du - da) > 1100)
				fail_msg("%u Hz sample %zu: u-law %d, "
					 "A-law %d", rate, i, du, da);
		}

		mem_deref(m);
		free(wav);
	}

	leakcheck_assert(mark);
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_formats_and_rates),
		cmocka_unit_test(test_band),
		cmocka_unit_test(test_square_every_rate),
	};

	return cmocka_run_group_tests_name("rtp/media_convert", tests,
					   wavsynth_group_setup, NULL);
}
