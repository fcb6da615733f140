/**
 * @file tmpfiles.h  Files in the unit tests: a fresh temporary one, and a
 *                   whole one read back
 *
 * The tests of what the program writes to disk (the capture, the WAV
 * writer, the report page) give the code under test a path of their own
 * and then read back the whole file it wrote.
 *
 * The helpers are static inline so that a test file that uses only one of
 * them builds without unused-function warnings.  Include this header
 * after <cmocka.h>, <stdio.h>, <stdlib.h> and <unistd.h>.
 */
#ifndef CMRLAB_TESTS_TMPFILES_H
#define CMRLAB_TESTS_TMPFILES_H


/* A new empty file named after tmpl, which ends in "XXXXXX" (mkstemp(3)):
 * its name in path (size bytes); 0, or -1 when it could not be made. */
static inline int tmpfile_new(char *path, size_t size, const char *tmpl)
{
	int fd;

	(void)snprintf(path, size, "%s", tmpl);
	fd = mkstemp(path);
	if (fd < 0)
		return -1;
	close(fd);

	return 0;
}


/* The whole file at path, malloc'd, with a NUL after its last byte so that
 * a text file reads as a string; its length in *lenp unless lenp is NULL.
 * A file that cannot be read fails the test. */
static inline uint8_t *slurp(const char *path, size_t *lenp)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	if (lenp)
		*lenp = (size_t)n;

	return buf;
}


#endif
