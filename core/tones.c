/**
 * @file tones.c  Built-in ringback and ringtone audio, and the WAV reader
 *
 * Every subscriber has a CMRBT and a CMRT resource even when the profile
 * names no file, so the two defaults are synthesized here at start-up
 * instead of being shipped as binary files.  They are 6 s of 8 kHz mono
 * 16-bit PCM: long enough that a client hears more than one ring cycle
 * (at least 5 s) and small (96 kB each).
 *
 * The sound is built from a short list of notes.  Each note is a few
 * sine partials under an envelope with a soft attack and a faded end, so
 * no sample jumps and nothing clicks; partials that would reach past
 * 3.6 kHz are left out so nothing aliases at 8 kHz.  The mix is scaled
 * so that its peak sits at -12 dBFS: loud enough to be heard, with room
 * left for a G.711 encoder and for the terminal's own gain.
 *
 * Nothing here is random, so the bytes (and their ETags) are the same at
 * every start.
 */
#include <math.h>
#include <string.h>
#include <strings.h>
#include <re.h>
#include "core.h"

enum {
	RATE     = 8000,
	SECONDS  = 6,
	NSAMP    = RATE * SECONDS,
	WAV_HDR  = 44,
};

#define PI         3.14159265358979323846
#define PEAK_DBFS  (-12.0)
#define NYQ_LIMIT  (0.45 * RATE)

/* One partial of a note: a multiple of the fundamental, its level
 * relative to the fundamental, and its own decay time constant. */
struct partial {
	double ratio;
	double amp;
	double tau;     /* seconds; 0 means no decay beyond the envelope */
};

/* A timbre: the partials, the attack time, and the decay of the whole
 * note toward a sustain floor. */
struct voice {
	const struct partial *pv;
	size_t pc;
	double attack;  /* seconds, raised-cosine rise */
	double tau;     /* seconds, decay of the note's body */
	double floor;   /* level the body decays toward (0..1) */
	double release; /* seconds, raised-cosine fade at the note's end */
};

struct note {
	double t0;      /* start, seconds into the cycle */
	double freq;    /* Hz */
	double dur;     /* seconds, including the release */
	double amp;     /* relative level */
};


/*
 * Ringback: a soft A-major arpeggio that swells and fades, two seconds of
 * sound then one of silence, the rhythm callers know from a ringback
 * tone.  The partials are almost pure sine so the tone stays gentle.
 */
static const struct partial ringback_partials[] = {
	{ 1.0, 1.00, 0.0 },
	{ 2.0, 0.12, 0.8 },
	{ 3.0, 0.04, 0.4 },
};

static const struct voice ringback_voice = {
	ringback_partials, ARRAY_SIZE(ringback_partials),
	0.060, 0.70, 0.45, 0.250
};

static const struct note ringback_notes[] = {
	{ 0.00, 440.00, 1.95, 1.00 },  /* A4 */
	{ 0.25, 554.37, 1.70, 0.80 },  /* C#5 */
	{ 0.50, 659.26, 1.45, 0.70 },  /* E5 */
};


/*
 * Ringtone: a brighter, marimba-like arpeggio.  A struck bar has a strong
 * fundamental and an overtone near four times it that dies away within
 * tens of milliseconds; that short bright onset over a ringing body is
 * what makes it sound like a mallet instrument and not a beep.
 */
static const struct partial ringtone_partials[] = {
	{ 1.00, 1.00, 0.0   },
	{ 3.93, 0.35, 0.045 },
	{ 2.00, 0.06, 0.150 },
};

static const struct voice ringtone_voice = {
	ringtone_partials, ARRAY_SIZE(ringtone_partials),
	0.003, 0.30, 0.0, 0.060
};

static const struct note ringtone_notes[] = {
	{ 0.000,  523.25, 0.90, 1.00 },  /* C5 */
	{ 0.125,  659.26, 0.90, 0.85 },  /* E5 */
	{ 0.250,  783.99, 0.90, 0.85 },  /* G5 */
	{ 0.375, 1046.50, 0.90, 0.80 },  /* C6 */
	{ 0.500,  783.99, 0.90, 0.75 },  /* G5 */
	{ 0.625,  659.26, 0.90, 0.75 },  /* E5 */
	{ 0.750,  783.99, 0.90, 0.85 },  /* G5 */
	{ 0.875, 1046.50, 1.10, 0.95 },  /* C6, held a little longer */
};


/* Raised-cosine ramp from 0 to 1 over len seconds. */
static double ramp(double t, double len)
{
	if (len <= 0.0 || t >= len)
		return 1.0;
	if (t <= 0.0)
		return 0.0;

	return 0.5 - 0.5 * cos(PI * t / len);
}


static void render_note(double *buf, size_t n, double offset,
			const struct voice *v, const struct note *nt)
{
	size_t start = (size_t)lround((offset + nt->t0) * RATE);
	size_t len = (size_t)lround(nt->dur * RATE);

	for (size_t i = 0; i < len && start + i < n; i++) {
		double t = (double)i / RATE;
		double body, env, s = 0.0;

		body = v->floor + (1.0 - v->floor) * exp(-t / v->tau);
		env = ramp(t, v->attack) * ramp(nt->dur - t, v->release);

		for (size_t p = 0; p < v->pc; p++) {
			const struct partial *pt = &v->pv[p];
			double f = nt->freq * pt->ratio;
			double a = pt->amp;

			if (f >= NYQ_LIMIT)
				continue;
			if (pt->tau > 0.0)
				a *= exp(-t / pt->tau);

			s += a * sin(2.0 * PI * f * t);
		}

		buf[start + i] += nt->amp * env * body * s;
	}
}


/* Renders the note list once per cycle until the buffer is full. */
static void render(double *buf, size_t n, double cycle,
		   const struct voice *v, const struct note *notes,
		   size_t count)
{
	for (double off = 0.0; off * RATE < (double)n; off += cycle) {
		for (size_t k = 0; k < count; k++)
			render_note(buf, n, off, v, &notes[k]);
	}
}


static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v & 0xff);
	p[1] = (uint8_t)(v >> 8);
}


static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v & 0xff);
	p[1] = (uint8_t)((v >> 8) & 0xff);
	p[2] = (uint8_t)((v >> 16) & 0xff);
	p[3] = (uint8_t)(v >> 24);
}


static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}


static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 |
		(uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}


/*
 * Scales the mix to the target peak and writes a canonical 44-byte-header
 * WAV.  Scaling after mixing, rather than choosing note levels by hand,
 * keeps the level right whatever the notes add up to.
 */
static uint8_t *wav_build(const double *buf, size_t n, size_t *sizep)
{
	const size_t datasz = n * 2;
	double peak = 0.0, gain;
	uint8_t *wav, *p;

	wav = mem_alloc(WAV_HDR + datasz, NULL);
	if (!wav)
		return NULL;

	for (size_t i = 0; i < n; i++) {
		if (fabs(buf[i]) > peak)
			peak = fabs(buf[i]);
	}

	gain = peak > 0.0 ? 32767.0 * pow(10.0, PEAK_DBFS / 20.0) / peak
		: 0.0;

	memcpy(wav, "RIFF", 4);
	put32(wav + 4, (uint32_t)(WAV_HDR - 8 + datasz));
	memcpy(wav + 8, "WAVEfmt ", 8);
	put32(wav + 16, 16);
	put16(wav + 20, 1);                    /* PCM */
	put16(wav + 22, 1);                    /* mono */
	put32(wav + 24, RATE);
	put32(wav + 28, RATE * 2);             /* byte rate */
	put16(wav + 32, 2);                    /* block align */
	put16(wav + 34, 16);                   /* bits per sample */
	memcpy(wav + 36, "data", 4);
	put32(wav + 40, (uint32_t)datasz);

	p = wav + WAV_HDR;
	for (size_t i = 0; i < n; i++) {
		long v = lround(buf[i] * gain);

		if (v > 32767)
			v = 32767;
		else if (v < -32768)
			v = -32768;

		put16(p + 2 * i, (uint16_t)(int16_t)v);
	}

	*sizep = WAV_HDR + datasz;

	return wav;
}


static int tone_add(struct table *t, const char *id, double cycle,
		    const struct voice *v, const struct note *notes,
		    size_t count)
{
	double *buf;
	uint8_t *wav;
	size_t size = 0;
	int err;

	buf = mem_zalloc(NSAMP * sizeof(*buf), NULL);
	if (!buf)
		return ENOMEM;

	render(buf, NSAMP, cycle, v, notes, count);

	wav = wav_build(buf, NSAMP, &size);
	mem_deref(buf);
	if (!wav)
		return ENOMEM;

	err = table_resource_add(t, id, "audio/wav", wav, size);
	mem_deref(wav);

	return err;
}


int tones_add_builtin(struct table *t)
{
	int err;

	if (!t)
		return EINVAL;

	err = tone_add(t, "ringback-default", 3.0, &ringback_voice,
		       ringback_notes, ARRAY_SIZE(ringback_notes));
	if (err)
		return err;

	return tone_add(t, "ringtone-default", 2.0, &ringtone_voice,
			ringtone_notes, ARRAY_SIZE(ringtone_notes));
}


enum {
	WAVE_EXTENSIBLE = 0xfffe,
};


/*
 * Reads a "fmt " chunk.  The format tag is checked before the numbers, so
 * that a compressed format (whose block size follows other rules) is
 * reported as unsupported rather than as broken.
 */
static int fmt_parse(struct wav_info *w, const uint8_t *p, uint32_t len)
{
	uint32_t byte_rate;

	if (len < 16)
		return EBADMSG;

	w->format      = get16(p);
	w->channels    = get16(p + 2);
	w->rate        = get32(p + 4);
	byte_rate      = get32(p + 8);
	w->block_align = get16(p + 12);
	w->bits        = get16(p + 14);

	/* WAVE_FORMAT_EXTENSIBLE carries the real format in the first two
	 * bytes of its sub-format GUID, after cbSize and two more fields. */
	if (w->format == WAVE_EXTENSIBLE) {
		if (len < 40)
			return EBADMSG;
		w->format = get16(p + 24);
	}

	if (w->format != WAV_PCM && w->format != WAV_FLOAT)
		return ENOTSUP;

	if (!w->channels || !w->rate || !byte_rate || !w->bits)
		return EBADMSG;

	/* Uncompressed audio fixes the frame size and the byte rate; a
	 * header that says otherwise cannot be trusted for a duration or
	 * for the layout of the samples either. */
	if (w->block_align != w->channels * ((w->bits + 7u) / 8u))
		return EBADMSG;

	if ((uint64_t)w->rate * w->block_align != byte_rate)
		return EBADMSG;

	return 0;
}


/*
 * Walks the RIFF chunks in whatever order they come (LIST or fact chunks
 * may sit anywhere), checking every length against the buffer before
 * reading.  Both a valid "fmt " and a complete "data" chunk are needed.
 */
int wav_parse(struct wav_info *wi, const uint8_t *data, size_t size)
{
	struct wav_info w;
	bool have_fmt = false, have_data = false;
	uint64_t riff;
	size_t pos, end;
	int err;

	if (!wi || !data)
		return EINVAL;

	memset(&w, 0, sizeof(w));

	if (size < 12)
		return EBADMSG;

	if (memcmp(data, "RIFF", 4) || memcmp(data + 8, "WAVE", 4))
		return EBADMSG;

	/* A RIFF length beyond the buffer means a truncated file; the chunk
	 * walk below then finds the incomplete chunk and refuses it.  A
	 * shorter one bounds the walk so trailing bytes are not parsed. */
	riff = (uint64_t)get32(data + 4) + 8;
	if (riff < 12)
		return EBADMSG;
	end = riff < size ? (size_t)riff : size;

	for (pos = 12; end - pos >= 8; ) {
		const uint8_t *hdr = data + pos;
		uint32_t len = get32(hdr + 4);

		pos += 8;
		if (len > end - pos)
			return EBADMSG;

		if (!memcmp(hdr, "fmt ", 4)) {
			if (have_fmt)
				return EBADMSG;
			err = fmt_parse(&w, data + pos, len);
			if (err)
				return err;
			have_fmt = true;
		}
		else if (!memcmp(hdr, "data", 4)) {
			if (have_data)
				return EBADMSG;
			w.data = data + pos;
			w.datasz = len;
			have_data = true;
		}

		/* Chunks are padded to an even length; a missing pad byte
		 * at the very end is tolerated. */
		pos += len;
		if ((len & 1) && pos < end)
			++pos;
	}

	if (!have_fmt || !have_data)
		return EBADMSG;

	*wi = w;

	return 0;
}


/* The Content-Types a WAV file is served with; parameters after ';' do
 * not change what the bytes are. */
bool wav_type(const char *type)
{
	static const char *names[] = {
		"audio/wav", "audio/x-wav", "audio/wave",
	};
	size_t len;

	if (!type)
		return false;

	len = strcspn(type, "; \t");

	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		if (strlen(names[i]) == len &&
		    !strncasecmp(type, names[i], len))
			return true;
	}

	return false;
}


uint32_t wav_duration_ms(const uint8_t *data, size_t size)
{
	struct wav_info w;
	uint64_t ms;

	/* The table and the profile use the duration to decide what is
	 * playable audio, so it is 0 for what rtp/media.c does not
	 * convert: of the float formats that is all but 32 and 64 bits. */
	if (wav_parse(&w, data, size))
		return 0;
	if (w.format == WAV_FLOAT && w.bits != 32 && w.bits != 64)
		return 0;

	ms = (uint64_t)w.datasz * 1000 / ((uint64_t)w.rate * w.block_align);

	return ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
}
