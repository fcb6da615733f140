/**
 * @file profparse.h  Tables and profile text for the profile's unit tests
 *
 * The profile's tests (test_profile_directives.c, test_profile_errors.c,
 * test_profile_files.c) parse profile text into tables and look at what
 * came out; the helpers for that, the form of a bad-input vector, and the
 * group setup that all of them run are here once.
 *
 * The helpers are static inline so that a test file that uses only some
 * of them builds without unused-function warnings.  Include this header
 * after <cmocka.h>, <string.h>, <re.h>, "core/core.h" and leakcheck.h.
 */
#ifndef CMRLAB_TESTS_CORE_PROFPARSE_H
#define CMRLAB_TESTS_CORE_PROFPARSE_H


static inline int profparse_group_setup(void **state)
{
	struct table *t = NULL;
	char err[256];

	(void)state;

	/* One load before any test counts blocks, so that whatever the
	 * built-in tones keep for the life of the process is made here. */
	if (table_alloc(&t) || profile_load(t, NULL, err, sizeof(err))) {
		mem_deref(t);
		return -1;
	}
	mem_deref(t);

	return 0;
}


static inline struct table *table_new(void)
{
	struct table *t = NULL;

	assert_int_equal(table_alloc(&t), 0);
	return t;
}


/* A table with the two built-in names, as profile_load prepares it, so
 * that profile_parse can be tested on text alone. */
static inline struct table *table_builtin(void)
{
	struct table *t = table_new();

	assert_int_equal(table_resource_add(t, "ringback-default", NULL,
					    (const uint8_t *)"bt", 2), 0);
	assert_int_equal(table_resource_add(t, "ringtone-default", NULL,
					    (const uint8_t *)"rt", 2), 0);
	return t;
}


static inline int parse(struct table *t, const char *text, char *err, size_t sz)
{
	return profile_parse(t, "test.profile", NULL, text, strlen(text),
			     err, sz);
}


static inline void parse_ok(struct table *t, const char *text)
{
	char err[256] = "unset";
	int e = parse(t, text, err, sizeof(err));

	if (e)
		print_error("unexpected error: %s\n", err);
	assert_int_equal(e, 0);
	assert_string_equal(err, "");
}


static inline struct subscriber *sub(const struct table *t, const char *id)
{
	struct subscriber *s = table_subscriber(t, id);

	if (!s)
		print_error("no subscriber '%s'\n", id);
	assert_non_null(s);
	return s;
}


/* A profile text that profile_parse must refuse, on the line given, with
 * msg in its message. */
struct bad {
	const char *text;
	size_t len;          /* 0: strlen(text) */
	unsigned line;
	const char *msg;     /* a part of the message after the prefix */
};


#endif
