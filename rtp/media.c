/**
 * @file media.c  WAV resources as 20 ms G.711 frames, converted once
 *
 * A WAV resource is turned into RTP payloads once, when it enters the
 * table, so that sending costs nothing but a pointer per packet.  The
 * conversion has four steps:
 *
 *  1. core's wav_parse() checks the RIFF structure and the "fmt " chunk;
 *  2. every frame of the data chunk is decoded (8-bit unsigned, 16, 24 or
 *     32-bit signed PCM, or IEEE float) and its channels averaged into one
 *     mono sample on the 16-bit scale, held as a float;
 *  3. the mono signal is resampled to 8 kHz (below);
 *  4. each 8 kHz sample is encoded as u-law and as A-law into two frame
 *     buffers of MEDIA_FRAME_SAMPLES bytes per frame, the last frame
 *     padded with the code of silence.
 *
 * Resampling.  librem's auresamp is used where its filter suits the
 * ratio, which with librem 0.6.0 is 48 kHz only.  Its downsampler always
 * applies one 32-tap low-pass designed for a 48 kHz input (pass to 3 kHz,
 * stop from 5 kHz), whatever the input rate is, because the taps are fixed
 * in samples, not in hertz.  Measured with sines: at 48 kHz the pass band
 * is within 1.7 dB up to 3 kHz and everything from 5 kHz on is 42 dB down,
 * which telephony accepts.  At 16, 24 and 32 kHz the same taps cut at 1.3,
 * 2 and 2.7 kHz (a 2 kHz tone from 16 kHz comes out 52 dB down), at 96 and
 * 192 kHz they cut at 8 and 16 kHz so that 4.5-7 kHz folds into the band
 * almost unattenuated, and its 4 kHz to 8 kHz upsampler passes nothing
 * above 700 Hz.  It refuses the other ratios (44.1 kHz and its family,
 * 12 kHz) with ENOTSUP, and an equal rate with EINVAL.
 *
 * Every other rate goes through the windowed-sinc resampler here: each
 * output sample is the input convolved with a Kaiser-windowed sinc
 * centred on the output sample's exact time, so there is no delay and no
 * rounding of the ratio.  Its cutoff sits at 0.4625 of the lower of the
 * two rates (3.7 kHz when going down to 8 kHz), with 32 zero crossings on
 * each side: flat to about 3.4 kHz, and more than 80 dB down from about
 * 4 kHz, so nothing folds into the band the 8 kHz signal carries.  The
 * kernel is tabulated once per conversion and interpolated linearly.  For
 * the common rates only a few fractional positions occur, so their
 * weights are computed once into polyphase tables; other rates evaluate
 * the kernel at every output sample.  Either way the weights an output
 * sample uses are divided by their sum, which makes the gain at 0 Hz
 * exactly one at every position.
 *
 * The result never changes after media_from_wav() returns, so any number
 * of streams may send from the same frames at once.
 *
 * A conversion takes about 0.3 s of CPU per minute of 44.1 kHz audio, far
 * too long for the loop, so the table's WAV resources are converted on a
 * job's thread (media_table.c, core/reload.c).  Nothing here keeps state
 * between calls or touches anything but its arguments and its own
 * buffers, which is what makes that safe, and every long loop polls
 * job_cancelled() every few milliseconds of work, so that a cancelled
 * conversion ends at once with ECANCELED and frees what it made.
 */
#include <limits.h>
#include <math.h>
#include <string.h>
#include <re.h>
#include <rem.h>
#include "core/core.h"
#include "rtp/rtp.h"
#include "rtp/rtp_int.h"


enum {
	CH_MAX    = 8,
	RATE_MIN  = 4000,
	RATE_MAX  = 192000,
	REM_RATE  = 48000,      /* the one input rate given to auresamp */
	REM_CHUNK = 960,        /* input samples per auresamp call */

	SINC_ZEROS = 32,        /* zero crossings on each side */
	SINC_RES   = 256,       /* table entries per zero crossing */
	SINC_LEN   = SINC_ZEROS * SINC_RES + 2,
	POLY_MAX   = 1 << 20,   /* weights in the polyphase tables */

	/* How often the long loops ask whether the job was cancelled (a
	 * power of two, in units of their iterations): each stretch is
	 * well under a millisecond of work. */
	POLL_DECODE = 1 << 15,  /* input frames */
	POLL_POLY   = 1 << 10,  /* output samples, a few hundred taps each */
	POLL_DIRECT = 1 << 8,   /* output samples, evaluated kernel */
};

#define SINC_BETA   8.0     /* Kaiser window: about 80 dB side lobes */
#define SINC_CUTOFF 0.4625  /* of the lower rate's sampling frequency */
#define PI          3.14159265358979323846
#define FULL_SCALE  32768.0

/* G.711 codes of a zero sample, for the padding of the last frame. */
#define ULAW_SILENCE 0xff
#define ALAW_SILENCE 0xd5


struct media {
	uint8_t *buf;           /* frames of PCMU, then frames of PCMA */
	unsigned frames;
	uint32_t duration_ms;
};


static void destructor(void *arg)
{
	struct media *m = arg;

	mem_deref(m->buf);
}


static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 |
		(uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}


/* One sample of one channel on the 16-bit scale.  Integer samples are
 * left-justified in their container, so reading the whole container is
 * right whatever the count of valid bits is. */
static double sample_read(const uint8_t *p, uint16_t format, unsigned width)
{
	if (format == WAV_FLOAT) {
		double v;

		if (width == 4) {
			uint32_t u = rd32(p);
			float f;

			memcpy(&f, &u, sizeof(f));
			v = f;
		}
		else {
			uint64_t u = (uint64_t)rd32(p) |
				(uint64_t)rd32(p + 4) << 32;

			memcpy(&v, &u, sizeof(v));
		}

		/* A float file may hold anything; NaN would poison every
		 * output sample the filter reaches, so it becomes silence,
		 * and what lies beyond full scale is clipped here. */
		if (isnan(v))
			return 0.0;
		if (v > 1.0)
			v = 1.0;
		else if (v < -1.0)
			v = -1.0;

		return v * FULL_SCALE;
	}

	switch (width) {

	case 1:
		return ((int)p[0] - 128) * 256.0;

	case 2:
		return (int16_t)(uint16_t)(p[0] | p[1] << 8);

	case 3:
		return (int32_t)((uint32_t)p[0] << 8 | (uint32_t)p[1] << 16 |
				 (uint32_t)p[2] << 24) / 65536.0;

	default:
		return (int32_t)rd32(p) / 65536.0;
	}
}


/* Which sample layouts are converted; the rest is ENOTSUP. */
static int format_check(const struct wav_info *w, unsigned *widthp)
{
	unsigned width;

	if (w->channels > CH_MAX)
		return ENOTSUP;
	if (w->rate < RATE_MIN || w->rate > RATE_MAX)
		return ENOTSUP;

	width = w->block_align / w->channels;

	if (w->format == WAV_FLOAT) {
		if (w->bits != 32 && w->bits != 64)
			return ENOTSUP;
	}
	else if (width < 1 || width > 4) {
		return ENOTSUP;
	}

	*widthp = width;

	return 0;
}


/* Step 2: every frame of the data chunk as one mono sample. */
static int decode(float *mono, size_t n, const struct wav_info *w,
		  unsigned width, const struct job *job)
{
	const uint8_t *p = w->data;

	for (size_t i = 0; i < n; i++) {
		double sum = 0.0;

		if (!(i & (POLL_DECODE - 1)) && job_cancelled(job))
			return ECANCELED;

		for (unsigned c = 0; c < w->channels; c++) {
			sum += sample_read(p, w->format, width);
			p += width;
		}

		mono[i] = (float)(sum / w->channels);
	}

	return 0;
}


static int16_t clip16(double v)
{
	/* -32768 is left out: G.711's encoders negate the sample, which
	 * that one value does not survive. */
	if (v >= 32767.0)
		return 32767;
	if (v <= -32767.0)
		return -32767;

	return (int16_t)lrint(v);
}


/* Modified Bessel function of the first kind, order 0, for the Kaiser
 * window: its power series converges quickly for the beta used here. */
static double bessel_i0(double x)
{
	double sum = 1.0, term = 1.0, q = x * x / 4.0;

	for (unsigned k = 1; k < 64; k++) {
		term *= q / ((double)k * k);
		sum += term;
		if (term < sum * 1e-12)
			break;
	}

	return sum;
}


/* The windowed sinc at u = i / SINC_RES zero crossings from its centre.
 * The last entries are zero so that interpolation needs no test. */
static float *kernel_alloc(void)
{
	const double norm = bessel_i0(SINC_BETA);
	float *k;

	k = mem_zalloc(SINC_LEN * sizeof(*k), NULL);
	if (!k)
		return NULL;

	k[0] = 1.0f;
	for (unsigned i = 1; i < SINC_ZEROS * SINC_RES; i++) {
		double u = (double)i / SINC_RES;
		double r = u / SINC_ZEROS;
		double w = bessel_i0(SINC_BETA * sqrt(1.0 - r * r)) / norm;

		k[i] = (float)(w * sin(PI * u) / (PI * u));
	}

	return k;
}


/* The resampler's low-pass for one input rate. */
struct sinc {
	float *k;               /* kernel table (kernel_alloc) */
	double tscale;          /* table entries per input sample apart */
	double half;            /* reach on each side, in input samples */
};


/* The kernel's weight at a distance of x input samples. */
static double sinc_weight(const struct sinc *s, double x)
{
	double u = fabs(x) * s->tscale;
	size_t i = (size_t)u;

	if (i >= SINC_ZEROS * SINC_RES)
		return 0.0;

	return s->k[i] + (s->k[i + 1] - s->k[i]) * (u - (double)i);
}


static uint32_t gcd(uint32_t a, uint32_t b)
{
	while (b) {
		uint32_t r = a % b;

		a = b;
		b = r;
	}

	return a;
}


/*
 * The sinc resampler for a rate whose ratio to 8 kHz is a fraction with a
 * small denominator (all the common ones).  Output sample o lies at input
 * position o * num / den, so only den different fractional offsets occur;
 * a weight table per offset (normalised to a sum of one) leaves one
 * multiply-add per tap.  Returns ENOTSUP where the tables would be too
 * large, and the caller falls back to resample_direct().
 */
static int resample_poly(int16_t *out, size_t nout, const float *in,
			 size_t nin, uint32_t rate, const struct sinc *s,
			 const struct job *job)
{
	const uint32_t g = gcd(rate, MEDIA_SRATE);
	const uint32_t den = MEDIA_SRATE / g, num = rate / g;
	const size_t reach = (size_t)s->half + 1;
	const size_t taps = 2 * reach + 1;
	float *wt;

	if ((uint64_t)den * taps > POLY_MAX)
		return ENOTSUP;

	wt = mem_alloc((size_t)den * taps * sizeof(*wt), NULL);
	if (!wt)
		return ENOMEM;

	for (uint32_t p = 0; p < den; p++) {
		float *w = wt + (size_t)p * taps;
		double sum = 0.0;

		for (size_t d = 0; d < taps; d++) {
			double x = (double)d - (double)reach -
				(double)p / den;

			w[d] = (float)sinc_weight(s, x);
			sum += w[d];
		}

		for (size_t d = 0; d < taps; d++)
			w[d] = (float)(w[d] / sum);
	}

	for (size_t o = 0; o < nout; o++) {
		const uint64_t pos = (uint64_t)o * num;
		const size_t base = (size_t)(pos / den);
		const float *w = wt + (size_t)(pos % den) * taps;
		double acc = 0.0;

		if (!(o & (POLL_POLY - 1)) && job_cancelled(job)) {
			mem_deref(wt);
			return ECANCELED;
		}

		/* Away from the ends every tap has an input sample; near
		 * them the missing ones count as silence. */
		if (base >= reach && base + reach < nin) {
			const float *x = in + base - reach;

			for (size_t d = 0; d < taps; d++)
				acc += w[d] * x[d];
		}
		else {
			for (size_t d = 0; d < taps; d++) {
				size_t j = base + d;

				if (j >= reach && j - reach < nin)
					acc += w[d] * in[j - reach];
			}
		}

		out[o] = clip16(acc);
	}

	mem_deref(wt);

	return 0;
}


/* The sinc resampler for any rate: the kernel is evaluated afresh at the
 * exact time of every output sample. */
static int resample_direct(int16_t *out, size_t nout, const float *in,
			   size_t nin, uint32_t rate, const struct sinc *s,
			   const struct job *job)
{
	for (size_t o = 0; o < nout; o++) {
		const double t = (double)o * rate / MEDIA_SRATE;
		const double jlo = ceil(t - s->half), jhi = floor(t + s->half);
		double acc = 0.0, wsum = 0.0;

		if (!(o & (POLL_DIRECT - 1)) && job_cancelled(job))
			return ECANCELED;

		for (double j = jlo; j <= jhi; j += 1.0) {
			double w = sinc_weight(s, t - j);

			wsum += w;
			if (j >= 0.0 && j < (double)nin)
				acc += w * in[(size_t)j];
		}

		out[o] = clip16(wsum > 0.0 ? acc / wsum : 0.0);
	}

	return 0;
}


/* Step 3 for most rates: windowed-sinc interpolation at the exact time of
 * each output sample.  Samples before the start and after the end count
 * as silence. */
static int resample_sinc(int16_t *out, size_t nout, const float *in,
			 size_t nin, uint32_t rate, const struct job *job)
{
	const double lower = rate < MEDIA_SRATE ? rate : MEDIA_SRATE;
	/* Zero crossings of the kernel per input sample. */
	const double scale = 2.0 * SINC_CUTOFF * lower / rate;
	struct sinc s;
	int err;

	s.k = kernel_alloc();
	if (!s.k)
		return ENOMEM;
	s.tscale = scale * SINC_RES;
	s.half = SINC_ZEROS / scale;

	err = resample_poly(out, nout, in, nin, rate, &s, job);
	if (err == ENOTSUP)
		err = resample_direct(out, nout, in, nin, rate, &s, job);

	mem_deref(s.k);

	return err;
}


/* Step 3 at REM_RATE: librem's integer-ratio resampler.  Its FIR delays
 * the signal by half its length; the output samples of that delay are
 * dropped (to the nearest output sample) and silence is fed after the end,
 * so the result lines up with the input as the sinc resampler's does. */
static int resample_rem(int16_t *out, size_t nout, const float *in,
			size_t nin, uint32_t rate, const struct job *job)
{
	struct auresamp rs;
	int16_t ibuf[REM_CHUNK], obuf[REM_CHUNK];
	size_t pos = 0, done = 0, skip;
	int err;

	auresamp_init(&rs);
	err = auresamp_setup(&rs, rate, 1, MEDIA_SRATE, 1);
	if (err)
		return err;

	skip = (rs.tapc - 1 + rs.ratio) / (2 * rs.ratio);

	while (done < nout) {
		size_t oc = ARRAY_SIZE(obuf);

		/* A chunk is 20 ms of input: a few microseconds of work. */
		if (job_cancelled(job))
			return ECANCELED;

		for (size_t i = 0; i < ARRAY_SIZE(ibuf); i++, pos++)
			ibuf[i] = pos < nin ? clip16(in[pos]) : 0;

		err = auresamp(&rs, obuf, &oc, ibuf, ARRAY_SIZE(ibuf));
		if (err)
			return err;

		/* No progress would loop for ever. */
		if (!oc)
			return EPROTO;

		for (size_t i = 0; i < oc && done < nout; i++) {
			if (skip) {
				--skip;
				continue;
			}
			out[done++] = obuf[i];
		}
	}

	return 0;
}


/* Step 3: whichever resampler fits the rate. */
static int resample(int16_t *out, size_t nout, const float *in, size_t nin,
		    uint32_t rate, const struct job *job)
{
	if (rate == MEDIA_SRATE) {
		for (size_t i = 0; i < nout; i++)
			out[i] = clip16(in[i]);
		return 0;
	}

	if (rate == REM_RATE)
		return resample_rem(out, nout, in, nin, rate, job);

	return resample_sinc(out, nout, in, nin, rate, job);
}


int media_from_wav(struct media **mp, const uint8_t *wav, size_t size)
{
	return media_convert(mp, wav, size, NULL);
}


int media_convert(struct media **mp, const uint8_t *wav, size_t size,
		  const struct job *job)
{
	struct wav_info w;
	struct media *m = NULL;
	float *mono = NULL;
	int16_t *pcm = NULL;
	uint8_t *pcmu, *pcma;
	size_t nin, nout, bytes;
	uint64_t n8k, ms;
	unsigned width = 0;
	int err;

	if (!mp || !wav)
		return EINVAL;

	err = wav_parse(&w, wav, size);
	if (err)
		return err;

	err = format_check(&w, &width);
	if (err)
		return err;

	/* A trailing partial frame is ignored; no whole frame at all is
	 * nothing to play. */
	nin = w.datasz / w.block_align;
	if (!nin)
		return EBADMSG;

	/* Output sample o lies at time o / 8000 s; the samples that fall
	 * before the end of the input are kept. */
	n8k = ((uint64_t)nin * MEDIA_SRATE + w.rate - 1) / w.rate;
	if (n8k / MEDIA_FRAME_SAMPLES >= UINT_MAX ||
	    n8k > SIZE_MAX / (2 * sizeof(*pcm)) ||
	    nin > SIZE_MAX / sizeof(*mono))
		return EFBIG;
	nout = (size_t)n8k;

	m = mem_zalloc(sizeof(*m), destructor);
	if (!m)
		return ENOMEM;

	m->frames = (unsigned)((nout + MEDIA_FRAME_SAMPLES - 1) /
			       MEDIA_FRAME_SAMPLES);
	ms = (uint64_t)nin * 1000 / w.rate;
	m->duration_ms = ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;

	bytes = (size_t)m->frames * MEDIA_FRAME_SAMPLES;
	m->buf = mem_alloc(2 * bytes, NULL);
	mono = mem_alloc(nin * sizeof(*mono), NULL);
	pcm = mem_alloc(nout * sizeof(*pcm), NULL);
	if (!m->buf || !mono || !pcm) {
		err = ENOMEM;
		goto out;
	}

	err = decode(mono, nin, &w, width, job);
	if (err)
		goto out;

	err = resample(pcm, nout, mono, nin, w.rate, job);
	if (err)
		goto out;

	pcmu = m->buf;
	pcma = m->buf + bytes;
	memset(pcmu + nout, ULAW_SILENCE, bytes - nout);
	memset(pcma + nout, ALAW_SILENCE, bytes - nout);

	for (size_t i = 0; i < nout; i++) {
		/* librem's resampler saturates to -32768, which G.711's
		 * encoders cannot take: they negate the sample, and -32768
		 * stays negative, so u-law gives the code of silence and
		 * A-law reads 2 KiB before its table. */
		const int16_t x = pcm[i] == INT16_MIN ? -INT16_MAX : pcm[i];

		pcmu[i] = g711_pcm2ulaw(x);
		pcma[i] = g711_pcm2alaw(x);
	}

 out:
	mem_deref(pcm);
	mem_deref(mono);
	if (err)
		mem_deref(m);
	else
		*mp = m;

	return err;
}


unsigned media_frames(const struct media *m)
{
	return m ? m->frames : 0;
}


uint32_t media_duration_ms(const struct media *m)
{
	return m ? m->duration_ms : 0;
}


const uint8_t *media_frame(const struct media *m, uint8_t pt, unsigned i)
{
	size_t f;

	if (!m || !m->frames)
		return NULL;

	f = i % m->frames;

	switch (pt) {

	case MEDIA_PT_PCMU:
		return m->buf + f * MEDIA_FRAME_SAMPLES;

	case MEDIA_PT_PCMA:
		return m->buf + (m->frames + f) * MEDIA_FRAME_SAMPLES;

	default:
		return NULL;
	}
}
