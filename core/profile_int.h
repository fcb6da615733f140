/**
 * @file profile_int.h  The profile parser, shared by profile.c (the file,
 *                      its lines and fields) and profile_dir.c (the
 *                      directives)
 */
#ifndef CMRLAB_PROFILE_INT_H
#define CMRLAB_PROFILE_INT_H

#include <stddef.h>
#include <stdint.h>
#include <re.h>
#include "core/core.h"


enum {
	LINE_MAX_BYTES = 4096,
	TOKENS_MAX = LINE_MAX_BYTES / 2 + 1,   /* "a b c ..." is the most */
	ID_MAX = 64,
};


/* One field of a line: KEY=VALUE, or a bare word (key NULL). */
struct tok {
	const char *key;
	const char *val;
};

/* A resource id named by a subscriber or rule line.  Resources may be
 * defined further down, so the references are checked after the last
 * line, each against the line that made it. */
struct ref {
	struct le le;
	unsigned line;
	const char *key;             /* "cmrbt" or "cmrt" */
	char id[ID_MAX + 1];
};

struct parser {
	struct table *t;
	const char *name;
	const char *basedir;
	unsigned line;
	char *err;
	size_t errsz;
	struct list refs;
	char buf[LINE_MAX_BYTES + 1];
	struct tok tokv[TOKENS_MAX];
	unsigned tokc;
};


/* profile.c: every error stops the parse with "NAME:LINE: message" in
 * p->err; both return the error code. */
int profile_fail(struct parser *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int profile_fail_errno(struct parser *p, int err);
int profile_read_all(const char *path, size_t max, uint8_t **bufp,
		     size_t *lenp);
int profile_check_keys(struct parser *p, const char *dir,
		       const char * const *keys, size_t nkeys,
		       const char *repeat, const char *usage);
const char *profile_value(const struct parser *p, const char *key);


/* profile_dir.c: one line's directive, in p->tokv. */
int profile_do_subscriber(struct parser *p);
int profile_do_resource(struct parser *p);
int profile_do_rule(struct parser *p);
int profile_do_limits(struct parser *p);
int profile_do_defaults(struct parser *p);

#endif
