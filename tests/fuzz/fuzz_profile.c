/**
 * @file fuzz_profile.c  Fuzz harness of the profile parser (core/profile.c,
 *                       core/profile_dir.c): the input is profile text
 *
 * The parser reads the file of every "resource ID file=PATH" line.  So
 * that fuzzed text reads nothing outside a sandbox, the harness makes one
 * temporary folder at start-up (removed at exit), puts a few media files
 * in it (tone.wav, clip.mp3, noise.wav which is no WAV, empty.bin), parses
 * with that folder as the profile's own, and is linked with
 * -Wl,--wrap=profile_read_all: every path the parser opens comes through
 * __wrap_profile_read_all() below, which resolves it and refuses (EACCES)
 * any that is not inside the folder.  The parser never writes.
 *
 * Each input parses into a fresh table that has the two built-in
 * resource ids, as profile_load() prepares it.  Checked:
 *  - the result is 0 or EINVAL (ENOMEM aside), and an error has its
 *    "NAME:LINE: " message;
 *  - after success every subscriber's tones name a resource of the table,
 *    every resource id is one the HTTP server serves (resreq_id_valid),
 *    and every audio/wav resource is a WAV with audio in it.
 */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/stat.h>
#include <re.h>
#include "core/core.h"
#include "http/http_int.h"
#include "tests/fuzz/fuzz.h"
#include "tests/unit/lebytes.h"

#define NAME "fuzz.profile"

/* The profile_read_all() of core/profile_int.h, and its wrapper. */
int __real_profile_read_all(const char *path, size_t max, uint8_t **bufp,
			    size_t *lenp);
int __wrap_profile_read_all(const char *path, size_t max, uint8_t **bufp,
			    size_t *lenp);

static char sandbox[PATH_MAX];   /* realpath of the folder */
static size_t sandbox_len;


int __wrap_profile_read_all(const char *path, size_t max, uint8_t **bufp,
			    size_t *lenp)
{
	char real[PATH_MAX];

	if (!realpath(path, real))
		return errno;

	if (strncmp(real, sandbox, sandbox_len) || real[sandbox_len] != '/')
		return EACCES;

	return __real_profile_read_all(real, max, bufp, lenp);
}


static void file_put(const char *name, const void *p, size_t len)
{
	char path[PATH_MAX + 32];
	FILE *f;

	(void)snprintf(path, sizeof(path), "%s/%s", sandbox, name);
	f = fopen(path, "wb");
	if (!f || fwrite(p, 1, len, f) != len || fclose(f))
		abort();
}


static int rm_one(const char *path, const struct stat *sb, int flag,
		  struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;

	return remove(path);
}


static void sandbox_remove(void)
{
	(void)nftw(sandbox, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}


int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = getenv("TMPDIR");
	char templ[PATH_MAX];
	uint8_t wav[44 + 1600];
	(void)argc;
	(void)argv;

	log_setup(LVL_ERROR);

	snprintf(templ, sizeof(templ), "%s/cmrlab-fuzz-profile-XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(templ) || !realpath(templ, sandbox))
		abort();
	sandbox_len = strlen(sandbox);
	atexit(sandbox_remove);

	/* 100 ms of 8 kHz mono 16-bit silence. */
	memset(wav, 0, sizeof(wav));
	le_wav_header(wav, 1, 1, 8000, 16, sizeof(wav) - 44);

	file_put("tone.wav", wav, sizeof(wav));
	file_put("clip.mp3", "ID3\3\0\0\0\0\0\0", 10);
	file_put("noise.wav", "not a wav file", 14);
	file_put("empty.bin", "", 0);

	return 0;
}


static bool sub_check(struct subscriber *s, void *arg)
{
	const struct table *t = arg;

	for (int dir = DIR_BT; dir <= DIR_RT; dir++) {
		const char *id = subscriber_cmr(s, dir, NULL);

		FUZZ_CHECK(!id || table_resource(t, id));
	}

	return false;
}


static bool res_check(struct resource *r, void *arg)
{
	(void)arg;

	FUZZ_CHECK(resreq_id_valid(r->id));
	if (!strcasecmp(r->type, "audio/wav"))
		FUZZ_CHECK(wav_duration_ms(r->data, r->size) > 0);

	return false;
}


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct table *t = NULL;
	char msg[256];
	char *text;
	int err;

	/* The text in a block of its own size, for AddressSanitizer. */
	text = malloc(size ? size : 1);
	if (!text)
		abort();
	if (size)
		memcpy(text, data, size);

	if (table_alloc(&t) ||
	    table_resource_add(t, "ringback-default", NULL,
			       (const uint8_t *)"bt", 2) ||
	    table_resource_add(t, "ringtone-default", NULL,
			       (const uint8_t *)"rt", 2))
		abort();

	err = profile_parse(t, NAME, sandbox, text, size, msg, sizeof(msg));
	FUZZ_CHECK(err == 0 || err == EINVAL || err == ENOMEM);

	if (err == EINVAL) {
		FUZZ_CHECK(!strncmp(msg, NAME ":", strlen(NAME ":")));
	}
	else if (!err) {
		(void)table_subscriber_apply(t, sub_check, t);
		(void)table_resource_apply(t, res_check, NULL);
	}

	mem_deref(t);
	free(text);

	return 0;
}
