/**
 * @file test_media_frames.c  The frames of converted media: their order,
 *                            the loop of the index, payload types, full
 *                            scale, and the table's resources converted
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


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frame_access),
		cmocka_unit_test(test_full_scale),
		cmocka_unit_test(test_attach_builtin),
		cmocka_unit_test(test_attach_types_and_failures),
	};

	return cmocka_run_group_tests_name("rtp/media_frames", tests,
					   wavsynth_group_setup, NULL);
}
