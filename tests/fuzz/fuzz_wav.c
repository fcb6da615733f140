/**
 * @file fuzz_wav.c  Fuzz harness of the WAV to G.711 conversion
 *                   (rtp/media.c, with core's wav_parse())
 *
 * Every input is converted twice:
 *
 *  1. as a WAV the harness builds around it: the first bytes choose the
 *     header, the rest is the data chunk, as it comes (a partial last
 *     frame included):
 *       byte 0  the rate: one of rates[] below, every rate media.c names
 *               (4 to 192 kHz: 8 kHz copied, 48 kHz through librem's
 *               resampler, the others through the sinc resampler), or,
 *               for the index past the list, any rate from 4000 to
 *               192000 in the three bytes after byte 3;
 *       byte 1  channels, 1 to 8;
 *       byte 2  the sample format: 8 (unsigned), 16, 24 or 32-bit PCM,
 *               32 or 64-bit float;
 *       byte 3  bit 0 WAVE_FORMAT_EXTENSIBLE, bit 1 a LIST chunk before
 *               "fmt ", bit 2 "data" before "fmt ";
 *  2. as it is, as a WAV file of its own.
 *
 * Checked: the built WAV converts (0 is the only answer for a valid
 * header with at least one whole frame of data, EBADMSG for less), into
 * as many frames and as long a duration as its sample count says; for
 * both conversions, the last frame is padded with silence and every
 * sample's u-law and A-law codes decode to nearly the same value (the
 * two laws quantise the same 16-bit sample), and media_frame() wraps.
 */
#include <stdlib.h>
#include <string.h>
#include <re.h>
#include <rem.h>
#include "core/core.h"
#include "rtp/rtp.h"
#include "rtp/rtp_int.h"
#include "tests/fuzz/fuzz.h"
#include "tests/unit/lebytes.h"

enum {
	TAG_PCM = 1, TAG_FLOAT = 3, TAG_EXT = 0xfffe,
	HDR = 4,                    /* header bytes of the input */
	RATE_LO = 4000, RATE_HI = 192000,
	FMT_MAX = 40,               /* the extensible fmt chunk */
	LIST_LEN = 10,
};

static const uint32_t rates[] = {
	4000, 8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000,
	88200, 96000, 176400, 192000,
};

static const struct {
	uint16_t tag;
	uint16_t bits;
} formats[] = {
	{ TAG_PCM, 8 }, { TAG_PCM, 16 }, { TAG_PCM, 24 }, { TAG_PCM, 32 },
	{ TAG_FLOAT, 32 }, { TAG_FLOAT, 64 },
};


int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;

	log_setup(LVL_ERROR);

	return 0;
}


static uint8_t *chunk(uint8_t *p, const char *id, const void *body,
		      size_t len)
{
	memcpy(p, id, 4);
	le_put32(p + 4, (uint32_t)len);
	memcpy(p + 8, body, len);
	p += 8 + len;
	if (len & 1)
		*p++ = 0;

	return p;
}


/* Every frame decoded from both laws: the same sample, quantised twice.
 * Each law is off by at most half a step, 1/32 of the value for large
 * ones and a few units near zero; 1/8 and 64 leave room. */
static void frames_check(const struct media *m)
{
	const unsigned n = media_frames(m);

	FUZZ_CHECK(n > 0);
	FUZZ_CHECK(media_frame(m, 9, 0) == NULL);
	FUZZ_CHECK(media_frame(m, MEDIA_PT_PCMU, n) ==
		   media_frame(m, MEDIA_PT_PCMU, 0));
	FUZZ_CHECK(media_frame(m, MEDIA_PT_PCMA, n) ==
		   media_frame(m, MEDIA_PT_PCMA, 0));

	for (unsigned f = 0; f < n; f++) {
		const uint8_t *u = media_frame(m, MEDIA_PT_PCMU, f);
		const uint8_t *a = media_frame(m, MEDIA_PT_PCMA, f);

		FUZZ_CHECK(u && a);
		for (unsigned i = 0; i < MEDIA_FRAME_SAMPLES; i++) {
			int du = g711_ulaw2pcm(u[i]);
			int da = g711_alaw2pcm(a[i]);
			int big = abs(du) > abs(da) ? abs(du) : abs(da);

			FUZZ_CHECK(abs(du - da) <= 64 + big / 8);
		}
	}
}


/* The padding after the last of nout samples: the code of silence. */
static void padding_check(const struct media *m, uint64_t nout)
{
	const unsigned n = media_frames(m);
	const uint8_t *u = media_frame(m, MEDIA_PT_PCMU, n - 1);
	const uint8_t *a = media_frame(m, MEDIA_PT_PCMA, n - 1);

	for (uint64_t i = nout - (uint64_t)(n - 1) * MEDIA_FRAME_SAMPLES;
	     i < MEDIA_FRAME_SAMPLES; i++) {
		FUZZ_CHECK(u[i] == 0xff);
		FUZZ_CHECK(a[i] == 0xd5);
	}
}


static void built_wav(const uint8_t *data, size_t size)
{
	const uint8_t *samples = data + HDR;
	size_t ns = size - HDR;
	uint8_t fmt[FMT_MAX], list[LIST_LEN] = "INFOIsft\0\0";
	uint16_t channels, tag, bits, align;
	uint32_t rate;
	size_t fmtlen, nin;
	unsigned ri = data[0] % (ARRAY_SIZE(rates) + 1);
	struct media *m = NULL;
	uint8_t *wav, *p;
	uint64_t nout;
	int err;

	if (ri < ARRAY_SIZE(rates)) {
		rate = rates[ri];
	}
	else {
		if (size < HDR + 3)
			return;
		rate = RATE_LO + ((uint32_t)data[4] | data[5] << 8 |
				  (uint32_t)data[6] << 16) %
			(RATE_HI - RATE_LO + 1);
		samples += 3;
		ns -= 3;
	}

	channels = 1 + data[1] % 8;
	tag = formats[data[2] % ARRAY_SIZE(formats)].tag;
	bits = formats[data[2] % ARRAY_SIZE(formats)].bits;
	align = (uint16_t)(channels * bits / 8);

	memset(fmt, 0, sizeof(fmt));
	le_put16(fmt, data[3] & 1 ? TAG_EXT : tag);
	le_put16(fmt + 2, channels);
	le_put32(fmt + 4, rate);
	le_put32(fmt + 8, rate * align);
	le_put16(fmt + 12, align);
	le_put16(fmt + 14, bits);
	fmtlen = 16;
	if (data[3] & 1) {
		le_put16(fmt + 16, 22);          /* cbSize */
		le_put16(fmt + 18, bits);        /* valid bits */
		le_put16(fmt + 24, tag);         /* the sub-format GUID */
		memcpy(fmt + 26, "\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa"
		       "\x00\x38\x9b\x71", 14);
		fmtlen = FMT_MAX;
	}

	wav = malloc(12 + 8 + LIST_LEN + 8 + FMT_MAX + 8 + ns + 1);
	if (!wav)
		abort();

	p = wav + 12;
	if (data[3] & 2)
		p = chunk(p, "LIST", list, sizeof(list));
	if (data[3] & 4)
		p = chunk(p, "data", samples, ns);
	p = chunk(p, "fmt ", fmt, fmtlen);
	if (!(data[3] & 4))
		p = chunk(p, "data", samples, ns);

	memcpy(wav, "RIFF", 4);
	le_put32(wav + 4, (uint32_t)(p - wav - 8));
	memcpy(wav + 8, "WAVE", 4);

	err = media_convert(&m, wav, (size_t)(p - wav), NULL);

	nin = ns / align;
	if (!nin) {
		FUZZ_CHECK(err == EBADMSG);
		goto out;
	}
	FUZZ_CHECK(err == 0);

	nout = ((uint64_t)nin * MEDIA_SRATE + rate - 1) / rate;
	FUZZ_CHECK(media_frames(m) ==
		   (nout + MEDIA_FRAME_SAMPLES - 1) / MEDIA_FRAME_SAMPLES);
	FUZZ_CHECK(media_duration_ms(m) == (uint64_t)nin * 1000 / rate);
	padding_check(m, nout);
	frames_check(m);

 out:
	mem_deref(m);
	free(wav);
}


static void raw_wav(const uint8_t *data, size_t size)
{
	struct media *m = NULL;
	struct wav_info w;
	uint64_t nin, nout;
	int err;

	err = media_from_wav(&m, data, size);
	FUZZ_CHECK(err == 0 || err == EBADMSG || err == ENOTSUP ||
		   err == EINVAL || err == EFBIG || err == ENOMEM);
	if (err)
		return;

	FUZZ_CHECK(wav_parse(&w, data, size) == 0);
	nin = w.datasz / w.block_align;
	nout = (nin * MEDIA_SRATE + w.rate - 1) / w.rate;
	FUZZ_CHECK(media_frames(m) ==
		   (nout + MEDIA_FRAME_SAMPLES - 1) / MEDIA_FRAME_SAMPLES);
	padding_check(m, nout);
	frames_check(m);

	mem_deref(m);
}


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size >= HDR)
		built_wav(data, size);

	raw_wav(data, size);

	return 0;
}
