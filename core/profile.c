/**
 * @file profile.c  The profile: subscribers, resources and rules as text
 *
 * A profile is read line by line; each line is one directive followed by
 * KEY=VALUE fields (profiles/README.md describes the format).  Every line
 * is checked completely before it changes the table, and every error
 * stops the parse with one message that names the file and the line, so
 * that a person editing a profile is sent to the exact place.  A table
 * that saw an error is incomplete: the caller discards it.
 *
 * This file reads the profile and splits its lines into fields;
 * profile_dir.c checks and applies each directive.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <re.h>
#include "core/core.h"
#include "core/profile_int.h"


#define PROFILE_MAX ((size_t)1 << 20)    /* 1 MiB */
#define READ_CHUNK  ((size_t)1 << 20)    /* bytes per fread */


const char profile_default_text[] =
	"# The embedded default profile (profiles/README.md).  Every\n"
	"# subscriber rings with the built-in tones, picks the delivery\n"
	"# mode per call and needs no password.\n"
	"subscriber alice mode=auto cmrbt=ringback-default"
	" cmrt=ringtone-default\n"
	"subscriber bob mode=auto cmrbt=ringback-default"
	" cmrt=ringtone-default\n"
	"subscriber carol mode=auto cmrbt=ringback-default"
	" cmrt=ringtone-default\n"
	"subscriber dave mode=auto cmrbt=ringback-default"
	" cmrt=ringtone-default\n"
	"subscriber 1000-1099 mode=auto cmrbt=ringback-default"
	" cmrt=ringtone-default\n";


int profile_fail(struct parser *p, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!p->err || !p->errsz)
		return EINVAL;

	n = snprintf(p->err, p->errsz, "%s:%u: ", p->name, p->line);
	if (n >= 0 && (size_t)n < p->errsz) {
		va_start(ap, fmt);
		(void)vsnprintf(p->err + n, p->errsz - (size_t)n, fmt, ap);
		va_end(ap);
	}

	return EINVAL;
}


/* Failures that are not the profile's fault (out of memory) keep their
 * own error code, but still get a message in the same format. */
int profile_fail_errno(struct parser *p, int err)
{
	(void)profile_fail(p, "%s", strerror(err));

	return err;
}


static void parser_destructor(void *data)
{
	struct parser *p = data;

	list_flush(&p->refs);
}


/* Reads a whole file into a mem buffer, refusing more than max bytes.
 * On a job's thread (a reload) it reads in READ_CHUNK pieces and stops
 * with ECANCELED when the job is cancelled, so that a shutdown does not
 * wait for a 64 MiB file. */
int profile_read_all(const char *path, size_t max, uint8_t **bufp,
		     size_t *lenp)
{
	uint8_t *buf = NULL;
	size_t cap = 0, len = 0;
	FILE *f;
	int err = 0;

	f = fopen(path, "rb");
	if (!f)
		return errno;

	for (;;) {
		size_t n;

		if (len == cap) {
			uint8_t *nbuf;

			/* Grow up to one byte past the limit: reading that
			 * byte is how a file that is too large shows. */
			if (cap > max) {
				err = EFBIG;
				break;
			}
			cap = cap ? cap * 2 : 65536;
			if (cap > max + 1)
				cap = max + 1;

			/* libre's mem_realloc does not take NULL. */
			nbuf = buf ? mem_realloc(buf, cap) :
				mem_alloc(cap, NULL);
			if (!nbuf) {
				err = ENOMEM;
				break;
			}
			buf = nbuf;
		}

		if (job_self_cancelled()) {
			err = ECANCELED;
			break;
		}

		errno = 0;
		n = fread(buf + len, 1, MIN(cap - len, READ_CHUNK), f);
		len += n;

		if (len > max) {
			err = EFBIG;
			break;
		}
		if (n == 0) {
			if (ferror(f))
				err = errno ? errno : EIO;
			break;
		}
	}

	(void)fclose(f);

	if (err) {
		mem_deref(buf);
		return err;
	}

	*bufp = buf;
	*lenp = len;

	return 0;
}


/* ---- lines -------------------------------------------------------------- */

/*
 * Splits the line in p->buf into fields, in place.  A field ends at a
 * space or tab.  Its value may be double-quoted to hold spaces, tabs or
 * '#'; inside the quotes \" is a quote and \\ a backslash.  A field that
 * starts with '#' begins a comment that runs to the end of the line.
 */
static int tokenize(struct parser *p)
{
	char *s = p->buf;

	p->tokc = 0;

	for (;;) {
		char *start, *out, *eq = NULL;
		struct tok *tok;
		bool quoted = false;
		char sep;

		while (*s == ' ' || *s == '\t')
			++s;
		if (!*s || *s == '#')
			return 0;

		start = out = s;

		while (*s && *s != ' ' && *s != '\t') {

			if (*s != '"') {
				/* Before a quote nothing has moved: out is
				 * s, so eq marks the '=' in the output. */
				if (*s == '=' && !eq && !quoted)
					eq = out;
				*out++ = *s++;
				continue;
			}

			if (quoted || (s != start && !(eq && s == eq + 1)))
				return profile_fail(p, "a quote may only open"
						    " a whole value (write"
						    " KEY=\"...\")");

			quoted = true;
			++s;
			while (*s != '"') {
				if (!*s)
					return profile_fail(p, "missing"
							    " closing quote");
				if (*s == '\\' &&
				    (s[1] == '"' || s[1] == '\\'))
					++s;
				*out++ = *s++;
			}
			++s;

			if (*s && *s != ' ' && *s != '\t')
				return profile_fail(p, "text after a closing"
						    " quote (put a space"
						    " between fields)");
		}

		sep = *s;
		*out = '\0';
		if (sep)
			++s;

		if (p->tokc >= TOKENS_MAX)
			return profile_fail(p, "too many fields");

		tok = &p->tokv[p->tokc++];
		if (eq) {
			if (eq == start)
				return profile_fail(p, "'=' without a key"
						    " before it");
			*eq = '\0';
			tok->key = start;
			tok->val = eq + 1;
		}
		else {
			tok->key = NULL;
			tok->val = start;
		}

		if (!sep)
			return 0;
	}
}


/* Checks the KEY=VALUE fields after the directive's id against the keys
 * the directive takes; only the keys listed in repeat may occur twice. */
int profile_check_keys(struct parser *p, const char *dir,
		       const char * const *keys, size_t nkeys,
		       const char *repeat, const char *usage)
{
	unsigned i, j;

	for (i = 2; i < p->tokc; i++) {
		const struct tok *tok = &p->tokv[i];
		bool known = false;
		size_t k;

		if (!tok->key)
			return profile_fail(p, "unexpected word '%s' (usage:"
					    " %s)", tok->val, usage);

		for (k = 0; k < nkeys; k++)
			known |= 0 == strcmp(tok->key, keys[k]);
		if (!known)
			return profile_fail(p, "unknown key '%s' for %s"
					    " (usage: %s)", tok->key, dir,
					    usage);

		if (!*tok->val)
			return profile_fail(p, "empty value for '%s'",
					    tok->key);

		if (repeat && 0 == strcmp(tok->key, repeat))
			continue;

		for (j = 2; j < i; j++) {
			if (0 == strcmp(p->tokv[j].key, tok->key))
				return profile_fail(p, "duplicate key"
						    " '%s'", tok->key);
		}
	}

	return 0;
}


const char *profile_value(const struct parser *p, const char *key)
{
	unsigned i;

	for (i = 2; i < p->tokc; i++) {
		if (0 == strcmp(p->tokv[i].key, key))
			return p->tokv[i].val;
	}

	return NULL;
}


/* ---- the file ----------------------------------------------------------- */

static int parse_line(struct parser *p, const char *s, size_t l)
{
	const char *dir;
	size_t i;
	int err;

	/* Profiles written on Windows end their lines with CR LF. */
	if (l && s[l - 1] == '\r')
		--l;

	if (l > LINE_MAX_BYTES)
		return profile_fail(p, "line is longer than %d bytes",
				    LINE_MAX_BYTES);

	for (i = 0; i < l; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == 0)
			return profile_fail(p, "NUL byte in line");
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return profile_fail(p, "control character 0x%02x in"
					    " line", c);
	}

	memcpy(p->buf, s, l);
	p->buf[l] = '\0';

	err = tokenize(p);
	if (err || !p->tokc)
		return err;

	dir = p->tokv[0].val;
	if (p->tokv[0].key)
		return profile_fail(p, "a line starts with a directive"
				    " (subscriber, resource, rule, limits or"
				    " defaults),"
				    " not with '%s='", p->tokv[0].key);

	if (0 == strcmp(dir, "subscriber"))
		return profile_do_subscriber(p);
	else if (0 == strcmp(dir, "resource"))
		return profile_do_resource(p);
	else if (0 == strcmp(dir, "rule"))
		return profile_do_rule(p);
	else if (0 == strcmp(dir, "limits"))
		return profile_do_limits(p);
	else if (0 == strcmp(dir, "defaults"))
		return profile_do_defaults(p);

	return profile_fail(p, "unknown directive '%s' (expected"
			    " subscriber, resource, rule, limits or defaults)",
			    dir);
}


static int check_refs(struct parser *p)
{
	struct le *le;

	LIST_FOREACH(&p->refs, le) {
		const struct ref *r = le->data;

		if (table_resource(p->t, r->id))
			continue;

		p->line = r->line;
		return profile_fail(p, "%s=%s: no resource '%s' is defined",
				    r->key, r->id, r->id);
	}

	return 0;
}


int profile_parse(struct table *t, const char *name, const char *basedir,
		  const char *text, size_t len, char *err, size_t errsz)
{
	struct parser *p;
	size_t pos = 0;
	int e = 0;

	if (err && errsz)
		err[0] = '\0';

	if (!t || (!text && len))
		return EINVAL;

	p = mem_zalloc(sizeof(*p), parser_destructor);
	if (!p)
		return ENOMEM;

	p->t = t;
	p->name = name ? name : "<profile>";
	p->basedir = basedir;
	p->err = err;
	p->errsz = errsz;

	while (pos < len) {
		const char *s = text + pos;
		const char *nl = memchr(s, '\n', len - pos);
		size_t l = nl ? (size_t)(nl - s) : len - pos;

		++p->line;
		e = parse_line(p, s, l);
		if (e)
			goto out;

		pos += l + (nl ? 1 : 0);
	}

	e = check_refs(p);

 out:
	mem_deref(p);

	return e;
}


static void load_fail(char *err, size_t errsz, const char *name,
		      const char *what)
{
	if (err && errsz)
		(void)snprintf(err, errsz, "%s:0: %s", name, what);
}


int profile_load(struct table *t, const char *path, char *err,
		 size_t errsz)
{
	const char *name = path ? path : "<default>";
	const char *slash;
	char *basedir = NULL;
	uint8_t *text = NULL;
	size_t len = 0;
	int e;

	if (err && errsz)
		err[0] = '\0';

	if (!t)
		return EINVAL;

	/* The built-in tones come first so that references to them
	 * resolve, and so that a profile may replace them by id. */
	e = tones_add_builtin(t);
	if (e) {
		load_fail(err, errsz, name, "cannot make the built-in tones");
		return e;
	}

	if (!path)
		return profile_parse(t, name, NULL, profile_default_text,
				     strlen(profile_default_text), err,
				     errsz);

	e = profile_read_all(path, PROFILE_MAX, &text, &len);
	if (e == EFBIG) {
		load_fail(err, errsz, name, "profile is larger than 1 MiB");
		return EINVAL;
	}
	else if (e) {
		char msg[256];

		(void)snprintf(msg, sizeof(msg), "cannot read profile: %s",
			       strerror(e));
		load_fail(err, errsz, name, msg);
		return EINVAL;
	}

	slash = strrchr(path, '/');
	if (slash) {
		size_t l = slash == path ? 1 : (size_t)(slash - path);

		e = re_sdprintf(&basedir, "%b", path, l);
		if (e) {
			load_fail(err, errsz, name, strerror(e));
			goto out;
		}
	}

	e = profile_parse(t, name, basedir, (const char *)text, len, err,
			  errsz);

 out:
	mem_deref(basedir);
	mem_deref(text);

	return e;
}
