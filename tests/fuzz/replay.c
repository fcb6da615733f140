/**
 * @file replay.c  main() of the replay build of a fuzz harness: runs
 *                 LLVMFuzzerTestOneInput() once on every file of the
 *                 folders given, in name order, and on every file given
 *
 *   build/tests/fuzz/fuzz_NAME DIR|FILE...
 *
 * make test replays each harness's seed corpus (tests/fuzz/corpus/NAME)
 * and the inputs of its past crashes (tests/fuzz/regress/NAME), in build/
 * with the normal compiler and in build-asan/ under the sanitizers, so the
 * normal suites catch a regression without libFuzzer.  Each input is
 * handed over in a heap block of exactly its size, as libFuzzer does, so
 * that AddressSanitizer sees a read past its end.  Prints one line,
 * "NAME: N inputs replayed", and exits 1 when a folder or file cannot be
 * read or there is no input at all (a replay of nothing would prove
 * nothing); a harness that crashes ends the process with the crash.
 */
#include <sys/stat.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tests/fuzz/fuzz.h"

#pragma weak LLVMFuzzerInitialize


static int cmp(const void *a, const void *b)
{
	return strcmp(*(char * const *)a, *(char * const *)b);
}


/* The whole file in a block of exactly its size (1 byte for an empty
 * file, which the harness is told has size 0). */
static int slurp(const char *path, uint8_t **bufp, size_t *lenp)
{
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0;
	FILE *f;
	int err = 0;

	f = fopen(path, "rb");
	if (!f)
		return errno;

	for (;;) {
		size_t n;

		if (len == cap) {
			uint8_t *nb;

			cap = cap ? 2 * cap : 4096;
			nb = realloc(buf, cap);
			if (!nb) {
				err = ENOMEM;
				break;
			}
			buf = nb;
		}

		n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (!n) {
			if (ferror(f))
				err = EIO;
			break;
		}
	}

	fclose(f);

	if (!err) {
		uint8_t *exact = malloc(len ? len : 1);

		if (exact) {
			memcpy(exact, buf, len);
			*bufp = exact;
			*lenp = len;
		}
		else {
			err = ENOMEM;
		}
	}

	free(buf);

	return err;
}


static int replay_file(const char *path)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int err;

	err = slurp(path, &buf, &len);
	if (err) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(err));
		return err;
	}

	(void)LLVMFuzzerTestOneInput(buf, len);
	free(buf);

	return 0;
}


/* Replays every file of dir whose name does not start with a dot; adds
 * their count to *np. */
static int replay_dir(const char *dir, unsigned *np)
{
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0;
	int err = 0;
	DIR *d;

	d = opendir(dir);
	if (!d) {
		fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
		return errno;
	}

	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;

		if (n == cap) {
			char **nn;

			cap = cap ? 2 * cap : 64;
			nn = realloc(names, cap * sizeof(*names));
			if (!nn) {
				err = ENOMEM;
				break;
			}
			names = nn;
		}

		names[n] = strdup(de->d_name);
		if (!names[n]) {
			err = ENOMEM;
			break;
		}
		++n;
	}

	closedir(d);

	if (!err)
		qsort(names, n, sizeof(*names), cmp);

	for (size_t i = 0; i < n && !err; i++) {
		char path[4096];

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		err = replay_file(path);
		if (!err)
			++*np;
	}

	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);

	return err;
}


int main(int argc, char **argv)
{
	const char *name = strrchr(argv[0], '/');
	unsigned n = 0;

	name = name ? name + 1 : argv[0];

	if (argc < 2) {
		fprintf(stderr, "usage: %s DIR|FILE...\n", argv[0]);
		return 2;
	}

	if (LLVMFuzzerInitialize)
		(void)LLVMFuzzerInitialize(&argc, &argv);

	for (int i = 1; i < argc; i++) {
		struct stat sb;

		if (!stat(argv[i], &sb) && !S_ISDIR(sb.st_mode)) {
			if (replay_file(argv[i]))
				return 1;
			++n;
		}
		else if (replay_dir(argv[i], &n)) {
			return 1;
		}
	}

	printf("%s: %u inputs replayed\n", name, n);

	return n ? 0 : 1;
}
