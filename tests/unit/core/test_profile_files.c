/**
 * @file test_profile_files.c  Profiles loaded: the embedded default, a
 *                             file with media beside it, files that
 *                             cannot be loaded, and profiles/'s example
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <re.h>
#include "core/core.h"
#include "tests/unit/leakcheck.h"
#include "tests/unit/lebytes.h"
#include "tests/unit/core/profparse.h"


/* ---- helpers ------------------------------------------------------------ */

/* Writes a PCM WAV file of silence: 8 kHz, mono, 16 bit. */
static void wav_write(const char *path, uint32_t samples)
{
	uint8_t hdr[44];
	FILE *f;
	uint32_t i;

	le_wav_header(hdr, 1, 1, 8000, 16, samples * 2);

	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(hdr, 1, sizeof(hdr), f), sizeof(hdr));
	for (i = 0; i < samples * 2; i++)
		assert_int_equal(fputc(0, f), 0);
	assert_int_equal(fclose(f), 0);
}


static void file_write(const char *path, const char *text, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}


/* A temporary folder, removed with everything in it at the end. */
struct tmpdir {
	char path[64];
};


static void tmpdir_make(struct tmpdir *d)
{
	str_ncpy(d->path, "/tmp/cmrlab-profile-XXXXXX", sizeof(d->path));
	assert_non_null(mkdtemp(d->path));
}


static int remove_one(const char *path, const struct stat *st, int flag,
		      struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;

	return remove(path);
}


static void tmpdir_remove(struct tmpdir *d)
{
	assert_int_equal(nftw(d->path, remove_one, 8, FTW_DEPTH | FTW_PHYS),
			 0);
}


/* ---- the embedded default ----------------------------------------------- */

static void test_default_profile_has_104_subscribers(void **state)
{
	static const char *ids[] = {
		"alice", "bob", "carol", "dave", "1000", "1001", "1050",
		"1099",
	};
	long mark = leakcheck_mark();
	struct table *t = table_new();
	char err[256];
	size_t i;

	(void)state;

	assert_int_equal(profile_load(t, NULL, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_int_equal(table_subscriber_count(t), 104);

	for (i = 0; i < ARRAY_SIZE(ids); i++) {
		struct subscriber *s = sub(t, ids[i]);

		assert_int_equal(subscriber_mode(s), MODE_AUTO);
		assert_string_equal(subscriber_cmr(s, DIR_BT, NULL),
				    "ringback-default");
		assert_string_equal(subscriber_cmr(s, DIR_RT, "bob"),
				    "ringtone-default");
		assert_null(subscriber_password(s));
		assert_int_equal(subscriber_contact_count(s), 0);
	}

	assert_null(table_subscriber(t, "0999"));
	assert_null(table_subscriber(t, "999"));
	assert_null(table_subscriber(t, "1100"));
	assert_null(table_subscriber(t, "Alice"));
	assert_null(table_subscriber(t, "eve"));

	/* profile_load put the built-in tones in first. */
	assert_non_null(table_resource(t, "ringback-default"));
	assert_non_null(table_resource(t, "ringtone-default"));

	mem_deref(t);
	leakcheck_assert(mark);
}


/* ---- files -------------------------------------------------------------- */

static void test_load_file_with_relative_resources(void **state)
{
	long mark = leakcheck_mark();
	struct table *t = table_new();
	struct tmpdir d;
	char path[128], wav[128], sub_dir[128], err[256], cwd[512];
	const struct resource *r;
	static const char profile[] =
		"# media next to the profile\n"
		"resource ring file=media/ring.wav\n"
		"resource clip file=media/CLIP.MP4\n"
		"resource song file=media/song.mp3\n"
		"resource ogg file=media/a.b.ogg\n"
		"resource blob file=media/blob\n"
		"resource note file=media/blob type=text/plain\n"
		"resource ringback-default file=media/ring.wav\n"
		"subscriber alice cmrbt=ring cmrt=clip\n"
		"rule alice from=bob cmrbt=note\n";

	(void)state;

	tmpdir_make(&d);
	re_snprintf(sub_dir, sizeof(sub_dir), "%s/media", d.path);
	assert_int_equal(mkdir(sub_dir, 0700), 0);

	re_snprintf(wav, sizeof(wav), "%s/media/ring.wav", d.path);
	wav_write(wav, 16000);
	re_snprintf(path, sizeof(path), "%s/media/CLIP.MP4", d.path);
	file_write(path, "mp4-bytes", 9);
	re_snprintf(path, sizeof(path), "%s/media/song.mp3", d.path);
	file_write(path, "ID3", 3);
	re_snprintf(path, sizeof(path), "%s/media/a.b.ogg", d.path);
	file_write(path, "OggS", 4);
	re_snprintf(path, sizeof(path), "%s/media/blob", d.path);
	file_write(path, "\0\1\2", 3);
	re_snprintf(path, sizeof(path), "%s/test.profile", d.path);
	file_write(path, profile, strlen(profile));

	/* The working directory is elsewhere: paths follow the profile. */
	assert_int_equal(profile_load(t, path, err, sizeof(err)), 0);
	assert_string_equal(err, "");

	r = table_resource(t, "ring");
	assert_non_null(r);
	assert_string_equal(r->type, "audio/wav");
	assert_int_equal(r->size, 44 + 32000);
	assert_int_equal(r->duration_ms, 2000);

	assert_string_equal(table_resource(t, "clip")->type, "video/mp4");
	assert_memory_equal(table_resource(t, "clip")->data, "mp4-bytes", 9);
	assert_string_equal(table_resource(t, "song")->type, "audio/mpeg");
	assert_string_equal(table_resource(t, "ogg")->type, "audio/ogg");
	assert_string_equal(table_resource(t, "blob")->type,
			    "application/octet-stream");
	assert_int_equal(table_resource(t, "blob")->size, 3);
	assert_string_equal(table_resource(t, "note")->type, "text/plain");

	/* A profile may replace a built-in sound by its id. */
	assert_int_equal(table_resource(t, "ringback-default")->duration_ms,
			 2000);
	assert_non_null(table_resource(t, "ringtone-default"));

	assert_string_equal(subscriber_cmr(sub(t, "alice"), DIR_BT, "bob"),
			    "note");
	mem_deref(t);

	/* A relative profile path is named as given. */
	t = table_new();
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(d.path), 0);
	assert_int_equal(profile_load(t, "./test.profile", err, sizeof(err)),
			 0);
	assert_int_equal(chdir(cwd), 0);
	assert_int_equal(table_resource(t, "ring")->duration_ms, 2000);
	mem_deref(t);

	/* A bad media file is named with its path, on its line. */
	file_write(wav, "RIFF", 4);
	t = table_new();
	assert_int_equal(profile_load(t, path, err, sizeof(err)), EINVAL);
	re_snprintf(wav, sizeof(wav), "%s:2: resource file '%s/media/ring.wav'"
		    " is not a WAV file", path, d.path);
	assert_int_equal(strncmp(err, wav, strlen(wav)), 0);
	mem_deref(t);

	tmpdir_remove(&d);
	leakcheck_assert(mark);
}


static void test_load_file_errors(void **state)
{
	long mark = leakcheck_mark();
	struct table *t;
	struct tmpdir d;
	char path[128], err[256], want[256];
	char *big;
	size_t i;

	(void)state;

	tmpdir_make(&d);

	t = table_new();
	re_snprintf(path, sizeof(path), "%s/none.profile", d.path);
	assert_int_equal(profile_load(t, path, err, sizeof(err)), EINVAL);
	re_snprintf(want, sizeof(want), "%s:0: cannot read profile: %s",
		    path, strerror(ENOENT));
	assert_string_equal(err, want);
	mem_deref(t);

	t = table_new();
	assert_int_equal(profile_load(t, d.path, err, sizeof(err)), EINVAL);
	re_snprintf(want, sizeof(want), "%s:0: cannot read profile: %s",
		    d.path, strerror(EISDIR));
	assert_string_equal(err, want);
	mem_deref(t);

	/* 1 MiB loads, one byte more does not. */
	big = malloc((1 << 20) + 1);
	assert_non_null(big);
	/* Comment lines of 64 bytes: long, but each within its limit. */
	for (i = 0; i < (1 << 20) + 1; i++)
		big[i] = i % 64 == 63 ? '\n' : '#';
	re_snprintf(path, sizeof(path), "%s/big.profile", d.path);
	file_write(path, big, 1 << 20);
	t = table_new();
	assert_int_equal(profile_load(t, path, err, sizeof(err)), 0);
	mem_deref(t);

	file_write(path, big, (1 << 20) + 1);
	t = table_new();
	assert_int_equal(profile_load(t, path, err, sizeof(err)), EINVAL);
	re_snprintf(want, sizeof(want), "%s:0: profile is larger than 1 MiB",
		    path);
	assert_string_equal(err, want);
	mem_deref(t);
	free(big);

	/* A parse error in a file carries the path as given. */
	re_snprintf(path, sizeof(path), "%s/bad.profile", d.path);
	file_write(path, "subscriber alice\nresource x file=missing.wav\n",
		   strlen("subscriber alice\nresource x file=missing.wav\n"));
	t = table_new();
	assert_int_equal(profile_load(t, path, err, sizeof(err)), EINVAL);
	re_snprintf(want, sizeof(want), "%s:2: cannot read resource file"
		    " '%s/missing.wav': %s", path, d.path, strerror(ENOENT));
	assert_string_equal(err, want);
	mem_deref(t);

	tmpdir_remove(&d);
	leakcheck_assert(mark);
}


/* The example in profiles/ must load as it is documented to. */
static void test_example_profile_loads(void **state)
{
	long mark = leakcheck_mark();
	struct table *t = table_new();
	char path[512], err[256];
	struct subscriber *s;
	ssize_t n;
	unsigned i;

	(void)state;

	/* From the repository root (make unit), or else found from where
	 * the binary is: BUILD/tests/unit/core/test_profile_files. */
	str_ncpy(path, "profiles/example.profile", sizeof(path));
	if (access(path, R_OK)) {
		n = readlink("/proc/self/exe", path, sizeof(path) - 32);
		assert_true(n > 0);
		path[n] = '\0';
		for (i = 0; i < 5; i++)
			*strrchr(path, '/') = '\0';
		strcat(path, "/profiles/example.profile");
	}

	assert_int_equal(profile_load(t, path, err, sizeof(err)), 0);
	assert_int_equal(table_subscriber_count(t), 7 + 10);
	assert_non_null(table_resource(t, "profile-notes"));

	s = sub(t, "carol");
	assert_int_equal(subscriber_mode(s), MODE_AS);
	assert_string_equal(subscriber_password(s), "correct horse # battery");
	assert_int_equal(subscriber_contact_count(sub(t, "dave")), 2);
	assert_int_equal(subscriber_mode(sub(t, "eve")), MODE_OFF);
	assert_int_equal(subscriber_mode(sub(t, "frank")), MODE_EARLY);
	assert_int_equal(subscriber_plain(sub(t, "grace")), MODE_HTTP);
	assert_int_equal(table_plain(t), MODE_EARLY);
	assert_string_equal(subscriber_cmr(sub(t, "alice"), DIR_BT, "bob"),
			    "ringtone-default");
	assert_string_equal(subscriber_cmr(sub(t, "2009"), DIR_RT, "2000"),
			    "ringback-default");
	assert_string_equal(subscriber_password(sub(t, "2005")), "lab");
	assert_int_equal(table_limits(t)->ring_s, 60);
	assert_int_equal(table_limits(t)->call_s, 7200);

	mem_deref(t);
	leakcheck_assert(mark);
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_profile_has_104_subscribers),
		cmocka_unit_test(test_load_file_with_relative_resources),
		cmocka_unit_test(test_load_file_errors),
		cmocka_unit_test(test_example_profile_loads),
	};

	return cmocka_run_group_tests_name("core/profile_files", tests,
					   profparse_group_setup, NULL);
}
