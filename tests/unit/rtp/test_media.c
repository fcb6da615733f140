/**
 * @file test_media.c  WAV to G.711 frames: formats, rates, frames, errors
 *
 * Every test WAV is synthesised here: a sine of known frequency and level
 * written in the format under test.  The frames are decoded back with
 * G.711's own decoders and compared with the same sine evaluated at the
 * 8 kHz output times, so a wrong scale, sign, channel mix, rate or delay
 * shows as a difference far larger than G.711's quantisation.
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


#define PI 3.14159265358979323846

enum {
	TAG_PCM = 1,
	TAG_FLOAT = 3,
	TAG_EXT = 0xfffe,
	/* Output samples at each end where the resampler's filter reaches
	 * past the input and the sine is not yet (or no longer) whole. */
	EDGE = 80,
};


/* ---- WAV synthesis ------------------------------------------------------ */

struct wspec {
	uint16_t tag;           /* TAG_PCM, TAG_FLOAT or TAG_EXT */
	uint16_t sub;           /* sub-format of TAG_EXT */
	uint16_t channels;
	uint32_t rate;
	uint16_t bits;
	size_t n;               /* frames */
	double freq;            /* Hz */
	double amp;             /* of full scale, as the channels' mean */
	bool list_first;        /* a LIST chunk before "fmt " */
	bool data_first;        /* "data" before "fmt " */
};


/* Channel c carries the sine at gain 2(c+1)/(channels+1): the gains
 * differ, so a reader that takes one channel or sums them gets the level
 * wrong, and their mean is 1, so the right mix is the sine at amp. */
static double chan_gain(unsigned c, unsigned channels)
{
	return 2.0 * (c + 1) / (channels + 1);
}


static double clampd(double v, double lo, double hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}


static void sample_put(uint8_t *p, const struct wspec *s, double v)
{
	const bool flt = s->tag == TAG_FLOAT ||
		(s->tag == TAG_EXT && s->sub == TAG_FLOAT);

	if (flt && s->bits == 32) {
		float f = (float)v;
		uint32_t u;

		memcpy(&u, &f, 4);
		le_put32(p, u);
		return;
	}
	if (flt) {
		uint64_t u;

		memcpy(&u, &v, 8);
		le_put32(p, (uint32_t)u);
		le_put32(p + 4, (uint32_t)(u >> 32));
		return;
	}

	switch (s->bits) {

	case 8:
		p[0] = (uint8_t)(clampd(lround(v * 128), -128, 127) + 128);
		break;

	case 16:
		le_put16(p, (uint16_t)(int16_t)clampd(lround(v * 32768),
						      -32768, 32767));
		break;

	case 24: {
		int32_t x = (int32_t)clampd(lround(v * 8388608.0),
					    -8388608, 8388607);

		p[0] = (uint8_t)x;
		p[1] = (uint8_t)(x >> 8);
		p[2] = (uint8_t)(x >> 16);
		break;
	}

	default:
		le_put32(p, (uint32_t)(int32_t)
			 clampd(llround(v * 2147483648.0), -2147483648.0,
				2147483647.0));
		break;
	}
}


static uint8_t *wav_make(const struct wspec *s, size_t *sizep)
{
	const unsigned width = s->bits / 8u;
	const size_t datasz = s->n * s->channels * width;
	const uint32_t fmtsz = s->tag == TAG_EXT ? 40 : 16;
	const size_t size = 12 + (s->list_first ? 8 + 4 : 0) + 8 + fmtsz +
		8 + datasz + (datasz & 1);
	uint8_t *w, *p, *fmt, *data;

	w = calloc(1, size);
	assert_non_null(w);

	memcpy(w, "RIFF", 4);
	le_put32(w + 4, (uint32_t)(size - 8));
	memcpy(w + 8, "WAVE", 4);
	p = w + 12;

	if (s->list_first) {
		memcpy(p, "LIST" "\x04\0\0\0" "INFO", 12);
		p += 12;
	}

	if (s->data_first) {
		data = p;
		fmt = p + 8 + datasz + (datasz & 1);
	}
	else {
		fmt = p;
		data = p + 8 + fmtsz;
	}

	memcpy(fmt, "fmt ", 4);
	le_put32(fmt + 4, fmtsz);
	le_put16(fmt + 8, s->tag);
	le_put16(fmt + 10, s->channels);
	le_put32(fmt + 12, s->rate);
	le_put32(fmt + 16, s->rate * s->channels * width);
	le_put16(fmt + 20, (uint16_t)(s->channels * width));
	le_put16(fmt + 22, s->bits);
	if (s->tag == TAG_EXT) {
		le_put16(fmt + 24, 22);         /* cbSize */
		le_put16(fmt + 26, s->bits);    /* valid bits */
		le_put32(fmt + 28, 0);          /* channel mask */
		le_put16(fmt + 32, s->sub);
		memcpy(fmt + 34, "\0\0\0\0\x10\0\x80\0\0\xaa\0\x38\x9b\x71",
		       14);
	}

	memcpy(data, "data", 4);
	le_put32(data + 4, (uint32_t)datasz);
	p = data + 8;
	for (size_t i = 0; i < s->n; i++) {
		double v = s->amp * sin(2.0 * PI * s->freq * (double)i /
					s->rate);

		for (unsigned c = 0; c < s->channels; c++) {
			sample_put(p, s, v * chan_gain(c, s->channels));
			p += width;
		}
	}

	*sizep = size;

	return w;
}


/* ---- reading the frames back -------------------------------------------- */

static size_t n8k(const struct wspec *s)
{
	return (size_t)(((uint64_t)s->n * 8000 + s->rate - 1) / s->rate);
}


/* The 8 kHz signal in a frame buffer, decoded, as doubles. */
static double *frames_decode(const struct media *m, uint8_t pt, size_t n)
{
	double *y = calloc(n, sizeof(*y));

	assert_non_null(y);
	for (size_t i = 0; i < n; i++) {
		const unsigned fi = (unsigned)(i / MEDIA_FRAME_SAMPLES);
		const uint8_t *f = media_frame(m, pt, fi);

		assert_non_null(f);
		y[i] = pt == MEDIA_PT_PCMU ?
			g711_ulaw2pcm(f[i % MEDIA_FRAME_SAMPLES]) :
			g711_alaw2pcm(f[i % MEDIA_FRAME_SAMPLES]);
	}

	return y;
}


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


/* ---- frames and payload types ------------------------------------------- */

static void test_frame_access(void **state)
{
	struct wspec s = { TAG_PCM, 0, 1, 8000, 16, 800, 400.0, 0.4, false,
			   false };
	struct media *m = NULL;
	const uint8_t *u0, *a0;
	long mark = leakcheck_mark();
	size_t size;
	uint8_t *wav;
	(void)state;

	wav = wav_make(&s, &size);
	assert_int_equal(media_from_wav(&m, wav, size), 0);
	free(wav);
	assert_int_equal(media_frames(m), 5);
	assert_int_equal(media_duration_ms(m), 100);

	u0 = media_frame(m, MEDIA_PT_PCMU, 0);
	a0 = media_frame(m, MEDIA_PT_PCMA, 0);
	assert_non_null(u0);
	assert_non_null(a0);
	assert_ptr_not_equal(u0, a0);

	/* Frames follow each other, and the index wraps: the media loops. */
	for (unsigned i = 0; i < 5; i++) {
		assert_ptr_equal(media_frame(m, MEDIA_PT_PCMU, i),
				 u0 + 160 * i);
		assert_ptr_equal(media_frame(m, MEDIA_PT_PCMA, i),
				 a0 + 160 * i);
		assert_ptr_equal(media_frame(m, MEDIA_PT_PCMU, i + 5),
				 media_frame(m, MEDIA_PT_PCMU, i));
		assert_ptr_equal(media_frame(m, MEDIA_PT_PCMA, i + 5000),
				 media_frame(m, MEDIA_PT_PCMA, i));
	}
	assert_ptr_equal(media_frame(m, MEDIA_PT_PCMU, UINT32_MAX),
			 media_frame(m, MEDIA_PT_PCMU, UINT32_MAX % 5));

	/* The two laws encode the same sample each. */
	for (unsigned i = 0; i < 160; i++) {
		int16_t x = (int16_t)lround(0.4 * 32768.0 *
					    sin(2.0 * PI * 400.0 * i /
						8000.0));

		assert_int_equal(u0[i], g711_pcm2ulaw(x));
		assert_int_equal(a0[i], g711_pcm2alaw(x));
	}

	/* Only PCMU and PCMA. */
	assert_null(media_frame(m, 1, 0));
	assert_null(media_frame(m, 9, 0));
	assert_null(media_frame(m, 18, 0));
	assert_null(media_frame(m, 255, 0));
	assert_null(media_frame(NULL, MEDIA_PT_PCMU, 0));
	assert_int_equal(media_frames(NULL), 0);
	assert_int_equal(media_duration_ms(NULL), 0);

	mem_deref(m);
	leakcheck_assert(mark);
}


/* Full scale in both directions: -32768 and beyond are clipped to the
 * largest code of each law, never wrapped to the other sign. */
static void test_full_scale(void **state)
{
	static const uint8_t samples[] = {
		0x00, 0x80,   0xff, 0x7f,   0x00, 0x00,   0x01, 0x80,
	};
	static const int16_t want[] = { -32767, 32767, 0, -32767 };
	uint8_t wav[44 + sizeof(samples)];
	struct media *m = NULL;
	const uint8_t *u, *a;
	long mark = leakcheck_mark();
	(void)state;

	memcpy(wav, "RIFF" "\0\0\0\0" "WAVEfmt " "\x10\0\0\0" "\x01\0\x01\0"
	       "\x40\x1f\0\0" "\x80\x3e\0\0" "\x02\0\x10\0" "data", 40);
	le_put32(wav + 4, sizeof(wav) - 8);
	le_put32(wav + 40, sizeof(samples));
	memcpy(wav + 44, samples, sizeof(samples));

	assert_int_equal(media_from_wav(&m, wav, sizeof(wav)), 0);
	u = media_frame(m, MEDIA_PT_PCMU, 0);
	a = media_frame(m, MEDIA_PT_PCMA, 0);
	for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
		assert_int_equal(u[i], g711_pcm2ulaw(want[i]));
		assert_int_equal(a[i], g711_pcm2alaw(want[i]));
	}
	assert_true(g711_ulaw2pcm(u[0]) < -30000);
	assert_true(g711_alaw2pcm(a[0]) < -30000);

	mem_deref(m);
	leakcheck_assert(mark);
}


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


/* ---- the table ---------------------------------------------------------- */

static void test_attach_builtin(void **state)
{
	struct table *t = NULL;
	struct resource *bt, *rt;
	const char *ids[] = { "ringback-default", "ringtone-default" };
	long mark = leakcheck_mark();
	(void)state;

	assert_int_equal(table_alloc(&t), 0);
	assert_int_equal(tones_add_builtin(t), 0);
	assert_int_equal(media_attach_table(t), 0);

	for (size_t i = 0; i < ARRAY_SIZE(ids); i++) {
		struct resource *r = table_resource(t, ids[i]);
		const uint8_t *u;

		assert_non_null(r);
		assert_non_null(r->media);
		assert_int_equal(media_frames(r->media), 6000 / 20);
		assert_int_equal(media_duration_ms(r->media), r->duration_ms);

		/* 8 kHz in, 8 kHz out: every sample encoded as it is. */
		for (unsigned k = 0; k < 48000; k++) {
			int16_t x = (int16_t)(r->data[44 + 2 * k] |
					      r->data[45 + 2 * k] << 8);

			u = media_frame(r->media, MEDIA_PT_PCMU, k / 160);
			assert_int_equal(u[k % 160], g711_pcm2ulaw(x));
		}
	}

	/* A second pass leaves converted resources alone. */
	bt = table_resource(t, ids[0]);
	rt = table_resource(t, ids[1]);
	{
		void *mb = bt->media, *mr = rt->media;

		assert_int_equal(media_attach_table(t), 0);
		assert_ptr_equal(bt->media, mb);
		assert_ptr_equal(rt->media, mr);
	}

	mem_deref(t);
	leakcheck_assert(mark);
}


static void test_attach_types_and_failures(void **state)
{
	struct wspec s = { TAG_PCM, 0, 1, 16000, 16, 1600, 400.0, 0.4, false,
			   false };
	struct table *t = NULL;
	long mark = leakcheck_mark();
	size_t size;
	uint8_t *wav;
	(void)state;

	assert_int_equal(table_alloc(&t), 0);
	wav = wav_make(&s, &size);

	assert_int_equal(table_resource_add(t, "a", "audio/wav", wav, size),
			 0);
	assert_int_equal(table_resource_add(t, "b", "audio/x-wav", wav,
					    size), 0);
	assert_int_equal(table_resource_add(t, "c", "Audio/WAVE", wav, size),
			 0);
	assert_int_equal(table_resource_add(t, "d", "audio/wav; codecs=1",
					    wav, size), 0);
	/* Not WAV by type: served as it is, never converted. */
	assert_int_equal(table_resource_add(t, "e", "audio/mpeg", wav, size),
			 0);
	assert_int_equal(table_resource_add(t, "f", "audio/wavx", wav, size),
			 0);
	/* WAV by type, but broken or unconvertible: counted and logged. */
	assert_int_equal(table_resource_add(t, "g", "audio/wav", wav, 30), 0);
	assert_int_equal(table_resource_add(t, "h", "audio/wav",
					    (const uint8_t *)"hello", 5), 0);
	free(wav);

	assert_int_equal(media_attach_table(t), 2);

	assert_non_null(table_resource(t, "a")->media);
	assert_non_null(table_resource(t, "b")->media);
	assert_non_null(table_resource(t, "c")->media);
	assert_non_null(table_resource(t, "d")->media);
	assert_null(table_resource(t, "e")->media);
	assert_null(table_resource(t, "f")->media);
	assert_null(table_resource(t, "g")->media);
	assert_null(table_resource(t, "h")->media);
	assert_int_equal(media_frames(table_resource(t, "a")->media), 5);

	/* The failures are tried again (and fail again) next time. */
	assert_int_equal(media_attach_table(t), 2);
	assert_int_equal(media_attach_table(NULL), 0);

	mem_deref(t);
	leakcheck_assert(mark);
}


/* ---- bad input ---------------------------------------------------------- */

#define FMT(tag, ch, rate, brate, align, bits) \
	"fmt " "\x10\0\0\0" tag ch rate brate align bits
#define FMT_8K_MONO16 \
	FMT("\x01\0", "\x01\0", "\x40\x1f\0\0", "\x80\x3e\0\0", "\x02\0", \
	    "\x10\0")
#define RIFF_HDR "RIFF" "\0\0\0\0" "WAVE"
#define DATA4    "data" "\x04\0\0\0" "\x01\0\x02\0"

struct bvec {
	const char *name;
	const char *bytes;
	size_t len;
	bool keep_riff;   /* keep the RIFF size as written */
	int err;
};

#define B(name, bytes, keep, err) { name, bytes, sizeof(bytes) - 1, keep, err }

static const struct bvec bvecs[] = {
	B("truncated in the data chunk (RIFF size of the whole file)",
	  "RIFF" "\x2c\0\0\0" "WAVE" FMT_8K_MONO16 "data" "\x08\0\0\0"
	  "\x01\0\x02\0", true, EBADMSG),
	B("data chunk past the end, RIFF size matching",
	  RIFF_HDR FMT_8K_MONO16 "data" "\x00\x10\0\0" "\x01\0\x02\0", false,
	  EBADMSG),
	B("truncated in fmt", RIFF_HDR "fmt " "\x10\0\0\0" "\x01\0\x01\0",
	  false, EBADMSG),
	B("only the RIFF header", RIFF_HDR, false, EBADMSG),
	B("eleven bytes", "RIFF" "\0\0\0\0" "WAV", true, EBADMSG),
	B("wrong magic", "RIFX" "\0\0\0\0" "WAVE" FMT_8K_MONO16 DATA4, false,
	  EBADMSG),
	B("wrong form", "RIFF" "\0\0\0\0" "AVI " FMT_8K_MONO16 DATA4, false,
	  EBADMSG),
	B("not a WAV at all", "<html><body>hello</body></html>", true,
	  EBADMSG),
	B("0 channels",
	  RIFF_HDR FMT("\x01\0", "\0\0", "\x40\x1f\0\0", "\x80\x3e\0\0",
		       "\x02\0", "\x10\0") DATA4, false, EBADMSG),
	B("rate 0",
	  RIFF_HDR FMT("\x01\0", "\x01\0", "\0\0\0\0", "\x80\x3e\0\0",
		       "\x02\0", "\x10\0") DATA4, false, EBADMSG),
	B("0 bits",
	  RIFF_HDR FMT("\x01\0", "\x01\0", "\x40\x1f\0\0", "\x80\x3e\0\0",
		       "\x02\0", "\0\0") DATA4, false, EBADMSG),
	B("block align not channels times sample size",
	  RIFF_HDR FMT("\x01\0", "\x01\0", "\x40\x1f\0\0", "\x00\x7d\0\0",
		       "\x04\0", "\x10\0") DATA4, false, EBADMSG),
	B("byte rate not rate times block align",
	  RIFF_HDR FMT("\x01\0", "\x01\0", "\x40\x1f\0\0", "\x81\x3e\0\0",
		       "\x02\0", "\x10\0") DATA4, false, EBADMSG),
	B("ADPCM (format 2)",
	  RIFF_HDR FMT("\x02\0", "\x01\0", "\x40\x1f\0\0", "\x00\x10\0\0",
		       "\x00\x01", "\x04\0") DATA4, false, ENOTSUP),
	B("G.711 u-law WAV (format 7)",
	  RIFF_HDR FMT("\x07\0", "\x01\0", "\x40\x1f\0\0", "\x40\x1f\0\0",
		       "\x01\0", "\x08\0") DATA4, false, ENOTSUP),
	B("extensible with ADPCM sub-format",
	  RIFF_HDR "fmt " "\x28\0\0\0" "\xfe\xff" "\x01\0" "\x40\x1f\0\0"
	  "\x80\x3e\0\0" "\x02\0" "\x10\0" "\x16\0" "\x10\0" "\0\0\0\0"
	  "\x02\0\0\0\0\0\x10\0\x80\0\0\xaa\0\x38\x9b\x71" DATA4, false,
	  ENOTSUP),
	B("extensible fmt too short",
	  RIFF_HDR FMT("\xfe\xff", "\x01\0", "\x40\x1f\0\0", "\x80\x3e\0\0",
		       "\x02\0", "\x10\0") DATA4, false, EBADMSG),
	B("9 channels",
	  RIFF_HDR FMT("\x01\0", "\x09\0", "\x40\x1f\0\0", "\x80\x32\x02\0",
		       "\x12\0", "\x10\0") DATA4, false, ENOTSUP),
	B("rate 3999",
	  RIFF_HDR FMT("\x01\0", "\x01\0", "\x9f\x0f\0\0", "\x3e\x1f\0\0",
		       "\x02\0", "\x10\0") DATA4, false, ENOTSUP),
	B("rate 192001",
	  RIFF_HDR FMT("\x01\0", "\x01\0", "\x01\xee\x02\0", "\x02\xdc\x05\0",
		       "\x02\0", "\x10\0") DATA4, false, ENOTSUP),
	B("16-bit float",
	  RIFF_HDR FMT("\x03\0", "\x01\0", "\x40\x1f\0\0", "\x80\x3e\0\0",
		       "\x02\0", "\x10\0") DATA4, false, ENOTSUP),
	B("40-bit PCM",
	  RIFF_HDR FMT("\x01\0", "\x01\0", "\x40\x1f\0\0", "\x40\x9c\0\0",
		       "\x05\0", "\x28\0") DATA4, false, ENOTSUP),
	B("empty data chunk", RIFF_HDR FMT_8K_MONO16 "data" "\0\0\0\0", false,
	  EBADMSG),
	B("less than one frame of data",
	  RIFF_HDR FMT_8K_MONO16 "data" "\x01\0\0\0" "\x01", false, EBADMSG),
	B("no data chunk", RIFF_HDR FMT_8K_MONO16, false, EBADMSG),
	B("no fmt chunk", RIFF_HDR DATA4, false, EBADMSG),
	B("two fmt chunks", RIFF_HDR FMT_8K_MONO16 FMT_8K_MONO16 DATA4,
	  false, EBADMSG),
	B("two data chunks", RIFF_HDR FMT_8K_MONO16 DATA4 DATA4, false,
	  EBADMSG),
	B("huge chunk before fmt",
	  RIFF_HDR "LIST" "\xf0\xff\xff\xff" FMT_8K_MONO16 DATA4, false,
	  EBADMSG),
};


static void test_bad_input(void **state)
{
	struct media *m, *const sentinel = (struct media *)&m;
	static uint8_t buf[512];
	long mark = leakcheck_mark();
	(void)state;

	for (size_t i = 0; i < ARRAY_SIZE(bvecs); i++) {
		const struct bvec *v = &bvecs[i];
		int err;

		assert_true(v->len <= sizeof(buf));
		memcpy(buf, v->bytes, v->len);
		if (!v->keep_riff)
			le_put32(buf + 4, (uint32_t)(v->len - 8));

		/* A copy of exactly the vector's size, so that the
		 * sanitizer build sees any read past its end. */
		{
			uint8_t *p = malloc(v->len);

			assert_non_null(p);
			memcpy(p, buf, v->len);
			m = sentinel;
			err = media_from_wav(&m, p, v->len);
			free(p);
		}

		if (err != v->err)
			print_error("vector \"%s\": got %d, want %d\n",
				    v->name, err, v->err);
		assert_int_equal(err, v->err);
		/* The out-parameter is set on success only. */
		assert_ptr_equal(m, sentinel);
	}

	m = NULL;
	assert_int_equal(media_from_wav(NULL, buf, sizeof(buf)), EINVAL);
	assert_int_equal(media_from_wav(&m, NULL, 100), EINVAL);
	assert_int_equal(media_from_wav(&m, buf, 0), EBADMSG);
	assert_null(m);

	leakcheck_assert(mark);
}


/* Every prefix of a valid file is refused without reading past its end,
 * and the whole file is accepted. */
static void test_prefixes(void **state)
{
	struct wspec s = { TAG_EXT, TAG_PCM, 2, 44100, 24, 40, 400.0, 0.4,
			   true, false };
	long mark = leakcheck_mark();
	size_t size;
	uint8_t *wav;
	(void)state;

	wav = wav_make(&s, &size);

	for (size_t n = 0; n <= size; n++) {
		struct media *m = NULL;
		uint8_t *p = malloc(n ? n : 1);
		int err;

		assert_non_null(p);
		memcpy(p, wav, n);
		err = media_from_wav(&m, p, n);
		free(p);

		if (n < size) {
			assert_int_equal(err, EBADMSG);
			assert_null(m);
		}
		else {
			assert_int_equal(err, 0);
			assert_int_equal(media_frames(m), 1);
			mem_deref(m);
		}
	}

	free(wav);
	leakcheck_assert(mark);
}


/* Whatever the libraries set up once on first use is set up here, before
 * any test takes its mark (leakcheck.h): the log's first line and one
 * conversion through each resampler. */
static int group_setup(void **state)
{
	static const uint32_t rates[] = { 8000, 16000, 48000 };
	struct table *t = NULL;
	(void)state;

	for (size_t i = 0; i < ARRAY_SIZE(rates); i++) {
		struct wspec s = { TAG_PCM, 0, 1, rates[i], 16, 480, 400.0,
				   0.4, false, false };
		struct media *m = NULL;
		size_t size;
		uint8_t *wav = wav_make(&s, &size);

		if (media_from_wav(&m, wav, size))
			return -1;
		free(wav);
		mem_deref(m);
	}

	if (table_alloc(&t))
		return -1;
	(void)table_resource_add(t, "warmup", "audio/wav",
				 (const uint8_t *)"x", 1);
	(void)media_attach_table(t);
	mem_deref(t);

	return 0;
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_formats_and_rates),
		cmocka_unit_test(test_band),
		cmocka_unit_test(test_frame_access),
		cmocka_unit_test(test_full_scale),
		cmocka_unit_test(test_square_every_rate),
		cmocka_unit_test(test_attach_builtin),
		cmocka_unit_test(test_attach_types_and_failures),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_prefixes),
	};

	return cmocka_run_group_tests(tests, group_setup, NULL);
}
