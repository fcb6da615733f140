/**
 * @file test_media_bad.c  WAVs that media_from_wav() refuses: broken,
 *                         unsupported and truncated files, and every
 *                         prefix of a good one
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


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_prefixes),
	};

	return cmocka_run_group_tests_name("rtp/media_bad", tests,
					   wavsynth_group_setup, NULL);
}
