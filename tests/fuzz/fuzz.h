/**
 * @file fuzz.h  What every fuzz harness shares: libFuzzer's entry points
 *               and the check that turns a broken invariant into a crash
 *
 * Each tests/fuzz/fuzz_NAME.c defines LLVMFuzzerTestOneInput() and may
 * define LLVMFuzzerInitialize().  The same source links either with
 * libFuzzer (make fuzz, build-fuzz/) or with replay.c, which runs it once
 * on every file of the folders it is given (make test).
 */
#ifndef CMRLAB_TESTS_FUZZ_H
#define CMRLAB_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* An invariant of the code under test: when it does not hold, the run
 * aborts, which libFuzzer reports as a crash and keeps the input. */
#define FUZZ_CHECK(cond)						\
	do {								\
		if (!(cond)) {						\
			fprintf(stderr, "%s:%d: invariant failed: %s\n",\
				__FILE__, __LINE__, #cond);		\
			abort();					\
		}							\
	} while (0)

/* A heap copy of exactly len bytes (one byte for none) behind pl: an
 * input's bytes with nothing after them, so that a read past the end is
 * seen by the sanitizer.  For harnesses that include <re.h> first. */
#ifdef RE_H__
static inline char *dup_exact(const uint8_t *p, size_t len, struct pl *pl)
{
	char *c = malloc(len ? len : 1);

	if (!c)
		abort();
	if (len)
		memcpy(c, p, len);
	pl->p = c;
	pl->l = len;

	return c;
}
#endif

#endif
