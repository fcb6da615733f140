/**
 * @file test_wavw.c  The WAV writer: files and mbufs read back through
 *                    core's wav_parse, byte by byte, and its errors
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <re.h>
#include "core/core.h"
#include "rtp/rtpep.h"
#include "tests/unit/leakcheck.h"
#include "tests/unit/tmpfiles.h"

static char dir[64];
static char path[96];
static char tmp[128];


static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
		(uint32_t)p[3] << 24;
}


/* A whole 16-bit mono WAV of pcm[0..n) at rate, as wav_parse reads it
 * and as the canonical header spells it. */
static void check_wav(const uint8_t *b, size_t len, const int16_t *pcm,
		      size_t n, uint32_t rate)
{
	struct wav_info w;

	assert_int_equal(len, 44 + 2 * n);
	assert_int_equal(wav_parse(&w, b, len), 0);
	assert_int_equal(w.format, WAV_PCM);
	assert_int_equal(w.channels, 1);
	assert_int_equal(w.rate, rate);
	assert_int_equal(w.block_align, 2);
	assert_int_equal(w.bits, 16);
	assert_int_equal(w.datasz, 2 * n);
	assert_ptr_equal(w.data, b + 44);

	assert_memory_equal(b, "RIFF", 4);
	assert_int_equal(le32(b + 4), 36 + 2 * n);
	assert_memory_equal(b + 8, "WAVEfmt ", 8);
	assert_int_equal(le32(b + 16), 16);
	assert_int_equal(le32(b + 28), 2 * rate);
	assert_memory_equal(b + 36, "data", 4);

	for (size_t i = 0; i < n; i++) {
		int16_t v = (int16_t)(b[44 + 2 * i] | b[45 + 2 * i] << 8);

		assert_int_equal(v, pcm[i]);
	}
}


static int16_t *ramp(size_t n)
{
	int16_t *pcm = malloc(n * sizeof(*pcm) + 1);

	assert_non_null(pcm);
	for (size_t i = 0; i < n; i++)
		pcm[i] = (int16_t)((i * 2654435761u) >> 16);
	if (n > 2) {
		pcm[0] = INT16_MIN;
		pcm[1] = INT16_MAX;
		pcm[2] = -1;
	}

	return pcm;
}


static int setup(void **state)
{
	(void)state;
	(void)snprintf(dir, sizeof(dir), "/tmp/cmrlab-wavw-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	(void)snprintf(path, sizeof(path), "%s/a.wav", dir);
	(void)snprintf(tmp, sizeof(tmp), "%s.tmp", path);

	return 0;
}


static int teardown(void **state)
{
	(void)state;
	unlink(tmp);
	unlink(path);
	rmdir(dir);

	return 0;
}


static void test_file_round_trip(void **state)
{
	long mark = leakcheck_mark();
	/* More than one write's worth (2048 samples), and an odd count. */
	size_t n = 5001, len;
	int16_t *pcm = ramp(n);
	uint8_t *b;
	(void)state;

	assert_int_equal(wavw_write(path, pcm, n, 8000), 0);
	assert_int_equal(access(tmp, F_OK), -1);
	b = slurp(path, &len);
	check_wav(b, len, pcm, n, 8000);
	free(b);

	/* Written again, shorter and at another rate: replaced whole. */
	assert_int_equal(wavw_write(path, pcm + 7, 10, 16000), 0);
	b = slurp(path, &len);
	check_wav(b, len, pcm + 7, 10, 16000);
	free(b);

	/* No samples: a valid empty file. */
	assert_int_equal(wavw_write(path, NULL, 0, 8000), 0);
	b = slurp(path, &len);
	check_wav(b, len, NULL, 0, 8000);
	free(b);

	free(pcm);
	leakcheck_assert(mark);
}


static void test_mbuf(void **state)
{
	long mark = leakcheck_mark();
	size_t n = 700, len;
	int16_t *pcm = ramp(n);
	struct mbuf *mb = mbuf_alloc(16);
	uint8_t *b;
	(void)state;

	assert_non_null(mb);

	/* At the mbuf's position, after what it holds. */
	assert_int_equal(mbuf_write_str(mb, "<pre>"), 0);
	assert_int_equal(wavw_mbuf(mb, pcm, n, 8000), 0);
	assert_int_equal(mb->pos, 5 + 44 + 2 * n);
	assert_int_equal(mb->end, mb->pos);
	check_wav(mb->buf + 5, mb->end - 5, pcm, n, 8000);

	/* The same bytes as the file. */
	assert_int_equal(wavw_write(path, pcm, n, 8000), 0);
	b = slurp(path, &len);
	assert_int_equal(len, mb->end - 5);
	assert_memory_equal(b, mb->buf + 5, len);
	free(b);

	/* Over bytes already there, which it does not cut short. */
	mb->pos = 5;
	assert_int_equal(wavw_mbuf(mb, pcm, 1, 8000), 0);
	assert_int_equal(mb->pos, 5 + 44 + 2);
	assert_int_equal(mb->end, 5 + 44 + 2 * n);

	assert_int_equal(wavw_mbuf(NULL, pcm, n, 8000), EINVAL);
	assert_int_equal(wavw_mbuf(mb, NULL, n, 8000), EINVAL);
	assert_int_equal(wavw_mbuf(mb, pcm, n, 0), EINVAL);
	assert_int_equal(wavw_mbuf(mb, pcm, (size_t)UINT32_MAX, 8000),
			 EFBIG);

	mem_deref(mb);
	free(pcm);
	leakcheck_assert(mark);
}


static void test_errors(void **state)
{
	long mark = leakcheck_mark();
	int16_t pcm[4] = { 1, 2, 3, 4 };
	char bad[160];
	(void)state;

	assert_int_equal(wavw_write(NULL, pcm, 4, 8000), EINVAL);
	assert_int_equal(wavw_write("", pcm, 4, 8000), EINVAL);
	assert_int_equal(wavw_write(path, NULL, 4, 8000), EINVAL);
	assert_int_equal(wavw_write(path, pcm, 4, 0), EINVAL);
	assert_int_equal(wavw_write(path, pcm, (size_t)UINT32_MAX, 8000),
			 EFBIG);
	assert_int_equal(access(path, F_OK), -1);

	/* A folder that is not there. */
	(void)snprintf(bad, sizeof(bad), "%s/no/such.wav", dir);
	assert_int_equal(wavw_write(bad, pcm, 4, 8000), ENOENT);

	/* A name that is a folder: the rename fails, and neither it nor
	 * the temporary file is left. */
	assert_int_equal(mkdir(path, 0755), 0);
	assert_int_equal(wavw_write(path, pcm, 4, 8000), EISDIR);
	assert_int_equal(access(tmp, F_OK), -1);
	assert_int_equal(rmdir(path), 0);

	leakcheck_assert(mark);
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_file_round_trip, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_mbuf, setup, teardown),
		cmocka_unit_test_setup_teardown(test_errors, setup,
						teardown),
	};

	return cmocka_run_group_tests_name("rtp/wavw", tests, NULL, NULL);
}
