/**
 * @file profile.c  The profile: subscribers, resources and rules as text
 *
 * A profile is read line by line; each line is one directive followed by
 * KEY=VALUE fields (profiles/README.md describes the format).  Every line
 * is checked completely before it changes the table, and every error
 * stops the parse with one message that names the file and the line, so
 * that a person editing a profile is sent to the exact place.  A table
 * that saw an error is incomplete: the caller discards it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <re.h>
#include "core/core.h"


enum {
	LINE_MAX_BYTES = 4096,
	TOKENS_MAX = LINE_MAX_BYTES / 2 + 1,   /* "a b c ..." is the most */
	ID_MAX = 64,
	RANGE_DIGITS_MAX = 9,                  /* fits in 32 bits */
	RANGE_MAX = 100000,                    /* numbers in one range */
	MIME_PART_MAX = 127,
};

#define PROFILE_MAX ((size_t)1 << 20)    /* 1 MiB */
#define RESFILE_MAX ((size_t)64 << 20)   /* 64 MiB */


const char profile_default_text[] =
	"# The embedded default profile (CONTRACT.md).  Every subscriber\n"
	"# rings with the built-in tones, picks the delivery mode per call\n"
	"# and needs no password.\n"
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

/* A subscriber id field: one id, or a range of numbers. */
struct idspec {
	const char *id;              /* the single id, or NULL for a range */
	uint32_t lo, hi;
	int width;                   /* numbers are zero-padded to this */
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

typedef int (id_h)(struct parser *p, const char *id, void *arg);


static int fail(struct parser *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int fail(struct parser *p, const char *fmt, ...)
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
static int fail_errno(struct parser *p, int err)
{
	(void)fail(p, "%s", strerror(err));

	return err;
}


static void parser_destructor(void *data)
{
	struct parser *p = data;

	list_flush(&p->refs);
}


/* ---- values ------------------------------------------------------------- */

static bool is_alnum(char c)
{
	return ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') ||
		('0' <= c && c <= '9');
}


/* Same rule as the table's: resource ids end up in URLs and file names. */
static bool resid_valid(const char *id)
{
	size_t i, l = strlen(id);

	if (l < 1 || l > ID_MAX)
		return false;

	for (i = 0; i < l; i++) {
		if (!is_alnum(id[i]) && !strchr("._-", id[i]))
			return false;
	}

	return true;
}


/* Subscriber and caller ids are SIP user parts; the profile allows the
 * ones that need no escaping in a URI, which covers names and numbers
 * including E.164 ("+4930...").  '=' and '"' would be ambiguous here. */
static bool userid_valid(const char *id)
{
	size_t i, l = strlen(id);

	if (l < 1 || l > ID_MAX)
		return false;

	for (i = 0; i < l; i++) {
		if (!is_alnum(id[i]) && !strchr("._~+-", id[i]))
			return false;
	}

	return true;
}


/* RFC 6838 restricted-name characters on both sides of the slash. */
static bool mime_part_valid(const char *s, size_t l)
{
	size_t i;

	if (l < 1 || l > MIME_PART_MAX || !is_alnum(s[0]))
		return false;

	for (i = 0; i < l; i++) {
		if (!is_alnum(s[i]) && !strchr("!#$&^_.+-", s[i]))
			return false;
	}

	return true;
}


static bool mime_valid(const char *type)
{
	const char *slash = strchr(type, '/');

	if (!slash)
		return false;

	return mime_part_valid(type, (size_t)(slash - type)) &&
		mime_part_valid(slash + 1, strlen(slash + 1));
}


static const char *mime_from_name(const char *file)
{
	static const struct {
		const char *ext;
		const char *type;
	} map[] = {
		{".wav", "audio/wav"},
		{".mp3", "audio/mpeg"},
		{".ogg", "audio/ogg"},
		{".mp4", "video/mp4"},
	};
	const char *base = strrchr(file, '/');
	const char *dot;
	size_t i;

	dot = strrchr(base ? base : file, '.');
	if (dot) {
		for (i = 0; i < ARRAY_SIZE(map); i++) {
			if (0 == strcasecmp(dot, map[i].ext))
				return map[i].type;
		}
	}

	return "application/octet-stream";
}


/* A static contact must be a SIP URI that the router can send to. */
static bool contact_valid(const char *uri)
{
	struct uri u;
	struct pl pl;

	if (strpbrk(uri, " \t"))
		return false;

	pl_set_str(&pl, uri);
	if (uri_decode(&u, &pl))
		return false;

	return (0 == pl_strcasecmp(&u.scheme, "sip") ||
		0 == pl_strcasecmp(&u.scheme, "sips")) && pl_isset(&u.host);
}


static bool ends_with_slash(const char *s)
{
	size_t l = strlen(s);

	return l && s[l - 1] == '/';
}


/* Reads a whole file into a mem buffer, refusing more than max bytes. */
static int read_all(const char *path, size_t max, uint8_t **bufp,
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

		errno = 0;
		n = fread(buf + len, 1, cap - len, f);
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
				return fail(p, "a quote may only open a whole"
					    " value (write KEY=\"...\")");

			quoted = true;
			++s;
			while (*s != '"') {
				if (!*s)
					return fail(p, "missing closing"
						    " quote");
				if (*s == '\\' &&
				    (s[1] == '"' || s[1] == '\\'))
					++s;
				*out++ = *s++;
			}
			++s;

			if (*s && *s != ' ' && *s != '\t')
				return fail(p, "text after a closing quote"
					    " (put a space between fields)");
		}

		sep = *s;
		*out = '\0';
		if (sep)
			++s;

		if (p->tokc >= TOKENS_MAX)
			return fail(p, "too many fields");

		tok = &p->tokv[p->tokc++];
		if (eq) {
			if (eq == start)
				return fail(p, "'=' without a key before it");
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
static int check_keys(struct parser *p, const char *dir,
		      const char * const *keys, size_t nkeys,
		      const char *repeat, const char *usage)
{
	unsigned i, j;

	for (i = 2; i < p->tokc; i++) {
		const struct tok *tok = &p->tokv[i];
		bool known = false;
		size_t k;

		if (!tok->key)
			return fail(p, "unexpected word '%s' (usage: %s)",
				    tok->val, usage);

		for (k = 0; k < nkeys; k++)
			known |= 0 == strcmp(tok->key, keys[k]);
		if (!known)
			return fail(p, "unknown key '%s' for %s (usage: %s)",
				    tok->key, dir, usage);

		if (!*tok->val)
			return fail(p, "empty value for '%s'", tok->key);

		if (repeat && 0 == strcmp(tok->key, repeat))
			continue;

		for (j = 2; j < i; j++) {
			if (0 == strcmp(p->tokv[j].key, tok->key))
				return fail(p, "duplicate key '%s'",
					    tok->key);
		}
	}

	return 0;
}


static const char *value(const struct parser *p, const char *key)
{
	unsigned i;

	for (i = 2; i < p->tokc; i++) {
		if (0 == strcmp(p->tokv[i].key, key))
			return p->tokv[i].val;
	}

	return NULL;
}


static bool all_digits(const char *s, size_t l)
{
	size_t i;

	for (i = 0; i < l; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
	}

	return true;
}


/*
 * A subscriber field is one id, or a range of numbers "LO-HI" when it is
 * made of digits and one '-' only.  The numbers are zero-padded to the
 * width of LO, so "0998-1001" gives 0998, 0999, 1000, 1001.
 */
static int idspec_parse(struct parser *p, const char *s,
			struct idspec *spec)
{
	const char *dash = strchr(s, '-');
	size_t llo, lhi;

	memset(spec, 0, sizeof(*spec));

	if (!dash || strspn(s, "0123456789-") != strlen(s)) {
		if (!userid_valid(s))
			return fail(p, "bad subscriber id '%s' (1 to %d of"
				    " A-Z a-z 0-9 . _ ~ + -)", s, ID_MAX);
		spec->id = s;
		return 0;
	}

	llo = (size_t)(dash - s);
	lhi = strlen(dash + 1);
	if (!llo || !lhi || llo > RANGE_DIGITS_MAX ||
	    lhi > RANGE_DIGITS_MAX || !all_digits(dash + 1, lhi))
		return fail(p, "bad range '%s' (expected FIRST-LAST, each"
			    " 1 to %d digits)", s, RANGE_DIGITS_MAX);

	spec->lo = (uint32_t)strtoul(s, NULL, 10);
	spec->hi = (uint32_t)strtoul(dash + 1, NULL, 10);
	spec->width = (int)llo;

	if (spec->lo > spec->hi)
		return fail(p, "bad range '%s' (first number above last)", s);

	if (spec->hi - spec->lo >= RANGE_MAX)
		return fail(p, "bad range '%s' (more than %d numbers)", s,
			    RANGE_MAX);

	return 0;
}


static int idspec_apply(struct parser *p, const struct idspec *spec,
			id_h *h, void *arg)
{
	char id[RANGE_DIGITS_MAX + 1];
	uint32_t n;
	int err;

	if (spec->id)
		return h(p, spec->id, arg);

	for (n = spec->lo; ; n++) {
		(void)snprintf(id, sizeof(id), "%0*u", spec->width,
			       (unsigned)n);
		err = h(p, id, arg);
		if (err || n == spec->hi)
			return err;
	}
}


static int ref_add(struct parser *p, const char *key, const char *id)
{
	struct ref *r;

	if (!resid_valid(id))
		return fail(p, "bad resource id '%s' in %s= (1 to %d of"
			    " A-Z a-z 0-9 . _ -)", id, key, ID_MAX);

	r = mem_zalloc(sizeof(*r), NULL);
	if (!r)
		return fail_errno(p, ENOMEM);

	r->line = p->line;
	r->key = key;
	str_ncpy(r->id, id, sizeof(r->id));
	list_append(&p->refs, &r->le, r);

	return 0;
}


/* ---- subscriber --------------------------------------------------------- */

static const char subscriber_usage[] =
	"subscriber ID [mode=MODE] [cmrbt=RES] [cmrt=RES] [password=PW]"
	" [contact=URI]...";

struct subscriber_args {
	bool has_mode;
	enum cmr_mode mode;
	const char *cmr[2];
	const char *password;
};


static int subscriber_apply(struct parser *p, const char *id, void *arg)
{
	const struct subscriber_args *a = arg;
	struct subscriber *s;
	unsigned i;
	int err = 0;

	s = table_subscriber(p->t, id);
	if (!s) {
		err = table_subscriber_add(p->t, id, &s);
		if (err)
			return fail_errno(p, err);
	}

	if (a->has_mode)
		subscriber_mode_set(s, a->mode);
	if (a->cmr[DIR_BT])
		err |= subscriber_cmr_set(s, DIR_BT, a->cmr[DIR_BT]);
	if (a->cmr[DIR_RT])
		err |= subscriber_cmr_set(s, DIR_RT, a->cmr[DIR_RT]);
	if (a->password)
		err |= subscriber_password_set(s, a->password);

	for (i = 2; i < p->tokc; i++) {
		if (0 == strcmp(p->tokv[i].key, "contact"))
			err |= subscriber_contact_add(s, p->tokv[i].val);
	}

	return err ? fail_errno(p, ENOMEM) : 0;
}


static int do_subscriber(struct parser *p)
{
	static const char * const keys[] = {
		"mode", "cmrbt", "cmrt", "password", "contact"
	};
	struct subscriber_args a;
	struct idspec spec;
	const char *mode;
	unsigned i;
	int err;

	if (p->tokc < 2 || p->tokv[1].key)
		return fail(p, "missing subscriber id (usage: %s)",
			    subscriber_usage);

	err = idspec_parse(p, p->tokv[1].val, &spec);
	if (err)
		return err;

	err = check_keys(p, "subscriber", keys, ARRAY_SIZE(keys), "contact",
			 subscriber_usage);
	if (err)
		return err;

	memset(&a, 0, sizeof(a));

	mode = value(p, "mode");
	if (mode) {
		if (cmr_mode_parse(&a.mode, mode))
			return fail(p, "bad mode '%s' (expected auto, http,"
				    " as, gateway or off)", mode);
		a.has_mode = true;
	}

	a.cmr[DIR_BT] = value(p, "cmrbt");
	a.cmr[DIR_RT] = value(p, "cmrt");
	a.password = value(p, "password");

	if (a.cmr[DIR_BT] && (err = ref_add(p, "cmrbt", a.cmr[DIR_BT])))
		return err;
	if (a.cmr[DIR_RT] && (err = ref_add(p, "cmrt", a.cmr[DIR_RT])))
		return err;

	for (i = 2; i < p->tokc; i++) {
		const struct tok *tok = &p->tokv[i];

		if (0 == strcmp(tok->key, "contact") &&
		    !contact_valid(tok->val))
			return fail(p, "bad contact '%s' (expected a sip: or"
				    " sips: URI)", tok->val);
	}

	return idspec_apply(p, &spec, subscriber_apply, &a);
}


/* ---- resource ----------------------------------------------------------- */

static const char resource_usage[] = "resource ID file=PATH [type=MIME]";


static int do_resource(struct parser *p)
{
	static const char * const keys[] = {"file", "type"};
	const char *id, *file, *type;
	char *path = NULL;
	uint8_t *data = NULL;
	size_t size = 0;
	int err;

	if (p->tokc < 2 || p->tokv[1].key)
		return fail(p, "missing resource id (usage: %s)",
			    resource_usage);

	id = p->tokv[1].val;
	if (!resid_valid(id))
		return fail(p, "bad resource id '%s' (1 to %d of"
			    " A-Z a-z 0-9 . _ -)", id, ID_MAX);

	err = check_keys(p, "resource", keys, ARRAY_SIZE(keys), NULL,
			 resource_usage);
	if (err)
		return err;

	file = value(p, "file");
	if (!file)
		return fail(p, "resource '%s' needs file=PATH", id);

	type = value(p, "type");
	if (type && !mime_valid(type))
		return fail(p, "bad type '%s' (expected TYPE/SUBTYPE, e.g."
			    " audio/wav)", type);
	if (!type)
		type = mime_from_name(file);

	/* Relative paths follow the profile, not the working directory, so
	 * that a profile and its media can move together. */
	if (file[0] != '/' && p->basedir && *p->basedir)
		err = re_sdprintf(&path, "%s%s%s", p->basedir,
				  ends_with_slash(p->basedir) ? "" : "/",
				  file);
	else
		err = str_dup(&path, file);
	if (err)
		return fail_errno(p, err);

	err = read_all(path, RESFILE_MAX, &data, &size);
	if (err == EFBIG) {
		err = fail(p, "resource file '%s' is larger than %zu MiB",
			   path, RESFILE_MAX >> 20);
		goto out;
	}
	else if (err) {
		err = fail(p, "cannot read resource file '%s': %s", path,
			   strerror(err));
		goto out;
	}

	if (!size) {
		err = fail(p, "resource file '%s' is empty", path);
		goto out;
	}

	/* A WAV that cannot be read would only fail later, at the first
	 * call that streams it; say so while the line is known. */
	if (0 == strcasecmp(type, "audio/wav") &&
	    !wav_duration_ms(data, size)) {
		err = fail(p, "resource file '%s' is not a WAV file with"
			   " audio in it", path);
		goto out;
	}

	err = table_resource_add(p->t, id, type, data, size);
	if (err)
		err = fail_errno(p, err);

 out:
	mem_deref(data);
	mem_deref(path);

	return err;
}


/* ---- rule --------------------------------------------------------------- */

static const char rule_usage[] =
	"rule SUBSCRIBER from=CALLER [cmrbt=RES] [cmrt=RES]";

struct rule_args {
	const char *from;
	const char *cmr[2];
};


static int rule_check(struct parser *p, const char *id, void *arg)
{
	(void)arg;

	if (!table_subscriber(p->t, id))
		return fail(p, "rule for unknown subscriber '%s' (define it"
			    " on an earlier subscriber line)", id);

	return 0;
}


static int rule_apply(struct parser *p, const char *id, void *arg)
{
	const struct rule_args *a = arg;
	struct subscriber *s = table_subscriber(p->t, id);
	int err = 0;

	if (a->cmr[DIR_BT])
		err |= subscriber_rule_add(s, a->from, DIR_BT,
					   a->cmr[DIR_BT]);
	if (a->cmr[DIR_RT])
		err |= subscriber_rule_add(s, a->from, DIR_RT,
					   a->cmr[DIR_RT]);

	return err ? fail_errno(p, ENOMEM) : 0;
}


static int do_rule(struct parser *p)
{
	static const char * const keys[] = {"from", "cmrbt", "cmrt"};
	struct rule_args a;
	struct idspec spec;
	int err;

	if (p->tokc < 2 || p->tokv[1].key)
		return fail(p, "missing subscriber id (usage: %s)",
			    rule_usage);

	err = idspec_parse(p, p->tokv[1].val, &spec);
	if (err)
		return err;

	err = check_keys(p, "rule", keys, ARRAY_SIZE(keys), NULL,
			 rule_usage);
	if (err)
		return err;

	memset(&a, 0, sizeof(a));
	a.from = value(p, "from");
	a.cmr[DIR_BT] = value(p, "cmrbt");
	a.cmr[DIR_RT] = value(p, "cmrt");

	if (!a.from)
		return fail(p, "rule needs from=CALLER (usage: %s)",
			    rule_usage);
	if (!userid_valid(a.from))
		return fail(p, "bad caller '%s' in from= (1 to %d of"
			    " A-Z a-z 0-9 . _ ~ + -)", a.from, ID_MAX);
	if (!a.cmr[DIR_BT] && !a.cmr[DIR_RT])
		return fail(p, "rule sets neither cmrbt= nor cmrt=");

	if (a.cmr[DIR_BT] && (err = ref_add(p, "cmrbt", a.cmr[DIR_BT])))
		return err;
	if (a.cmr[DIR_RT] && (err = ref_add(p, "cmrt", a.cmr[DIR_RT])))
		return err;

	/* Every subscriber of a range must exist before any one changes. */
	err = idspec_apply(p, &spec, rule_check, NULL);
	if (err)
		return err;

	return idspec_apply(p, &spec, rule_apply, &a);
}


static const char limits_usage[] = "limits [ring=SECONDS] [call=SECONDS]";


/* "limits ring=S call=S": the longest ring and the longest call, 0 for
 * none; each 0 to 86400 seconds. */
static int do_limits(struct parser *p)
{
	struct table_limits lim = *table_limits(p->t);
	unsigned i, j;

	if (p->tokc < 2)
		return fail(p, "limits sets nothing (usage: %s)",
			    limits_usage);

	for (i = 1; i < p->tokc; i++) {
		const struct tok *tok = &p->tokv[i];
		uint32_t *v;
		char *end;
		unsigned long n;

		if (!tok->key)
			return fail(p, "unexpected word '%s' (usage: %s)",
				    tok->val, limits_usage);
		if (0 == strcmp(tok->key, "ring"))
			v = &lim.ring_s;
		else if (0 == strcmp(tok->key, "call"))
			v = &lim.call_s;
		else
			return fail(p, "unknown key '%s' for limits (usage:"
				    " %s)", tok->key, limits_usage);

		for (j = 1; j < i; j++) {
			if (0 == strcmp(p->tokv[j].key, tok->key))
				return fail(p, "duplicate key '%s'",
					    tok->key);
		}

		errno = 0;
		n = strtoul(tok->val, &end, 10);
		if (!*tok->val || *end || tok->val[0] == '-' || errno ||
		    n > 86400)
			return fail(p, "%s=%s: not a number of seconds from 0"
				    " to 86400", tok->key, tok->val);
		*v = (uint32_t)n;
	}

	table_limits_set(p->t, &lim);

	return 0;
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
		return fail(p, "line is longer than %d bytes",
			    LINE_MAX_BYTES);

	for (i = 0; i < l; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == 0)
			return fail(p, "NUL byte in line");
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return fail(p, "control character 0x%02x in line", c);
	}

	memcpy(p->buf, s, l);
	p->buf[l] = '\0';

	err = tokenize(p);
	if (err || !p->tokc)
		return err;

	dir = p->tokv[0].val;
	if (p->tokv[0].key)
		return fail(p, "a line starts with a directive (subscriber,"
			    " resource or rule), not with '%s='",
			    p->tokv[0].key);

	if (0 == strcmp(dir, "subscriber"))
		return do_subscriber(p);
	else if (0 == strcmp(dir, "resource"))
		return do_resource(p);
	else if (0 == strcmp(dir, "rule"))
		return do_rule(p);
	else if (0 == strcmp(dir, "limits"))
		return do_limits(p);

	return fail(p, "unknown directive '%s' (expected subscriber,"
		    " resource, rule or limits)", dir);
}


static int check_refs(struct parser *p)
{
	struct le *le;

	LIST_FOREACH(&p->refs, le) {
		const struct ref *r = le->data;

		if (table_resource(p->t, r->id))
			continue;

		p->line = r->line;
		return fail(p, "%s=%s: no resource '%s' is defined", r->key,
			    r->id, r->id);
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

	e = read_all(path, PROFILE_MAX, &text, &len);
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
