/**
 * @file wavsynth.h  WAVs synthesised for the media unit tests, and their
 *                   frames read back
 *
 * Every WAV of the media tests (test_media_convert.c, test_media_frames.c,
 * test_media_bad.c) is synthesised here: a sine of known frequency and
 * level written in the format under test, with its chunks in the order
 * asked for.  The frames a conversion makes are decoded back with G.711's
 * own decoders, as the 8 kHz signal they carry.  The group setup that
 * all of them run is here too.
 *
 * The helpers are static inline so that a test file that uses only some
 * of them builds without unused-function warnings.  Include this header
 * after <cmocka.h>, <math.h>, <stdlib.h>, <string.h>, <re.h>, <rem.h>,
 * "core/core.h", "rtp/rtp.h", leakcheck.h and lebytes.h.
 */
#ifndef CMRLAB_TESTS_RTP_WAVSYNTH_H
#define CMRLAB_TESTS_RTP_WAVSYNTH_H


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
static inline double chan_gain(unsigned c, unsigned channels)
{
	return 2.0 * (c + 1) / (channels + 1);
}


static inline double clampd(double v, double lo, double hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}


static inline void sample_put(uint8_t *p, const struct wspec *s, double v)
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


static inline uint8_t *wav_make(const struct wspec *s, size_t *sizep)
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

static inline size_t n8k(const struct wspec *s)
{
	return (size_t)(((uint64_t)s->n * 8000 + s->rate - 1) / s->rate);
}


/* The 8 kHz signal in a frame buffer, decoded, as doubles. */
static inline double *frames_decode(const struct media *m, uint8_t pt,
				    size_t n)
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


/* ---- the group setup ---------------------------------------------------- */

/* Whatever the libraries set up once on first use is set up here, before
 * any test takes its mark (leakcheck.h): the log's first line and one
 * conversion through each resampler. */
static inline int wavsynth_group_setup(void **state)
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


#endif
