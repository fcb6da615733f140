/**
 * @file profile_dir.c  The profile's directives: subscriber, resource,
 *                      rule and limits
 *
 * Each directive checks its whole line before it changes the table
 * (profile.c has the file, the lines and the fields).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <re.h>
#include "core/core.h"
#include "core/profile_int.h"


enum {
	RANGE_DIGITS_MAX = 9,                  /* fits in 32 bits */
	RANGE_MAX = 100000,                    /* numbers in one range */
	LIMIT_MAX_S = 86400,                   /* a day */
};

#define RESFILE_MAX ((size_t)64 << 20)   /* 64 MiB */


/* A subscriber id field: one id, or a range of numbers. */
struct idspec {
	const char *id;              /* the single id, or NULL for a range */
	uint32_t lo, hi;
	int width;                   /* numbers are zero-padded to this */
};

typedef int (id_h)(struct parser *p, const char *id, void *arg);


/* ---- values ------------------------------------------------------------- */

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


static bool ends_with_slash(const char *s)
{
	size_t l = strlen(s);

	return l && s[l - 1] == '/';
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
		if (!id_user_valid(s))
			return profile_fail(p, "bad subscriber id '%s' (1 to"
					    " %d of A-Z a-z 0-9 . _ ~ + -)", s,
					    ID_MAX);
		spec->id = s;
		return 0;
	}

	llo = (size_t)(dash - s);
	lhi = strlen(dash + 1);
	if (!llo || !lhi || llo > RANGE_DIGITS_MAX ||
	    lhi > RANGE_DIGITS_MAX || !all_digits(dash + 1, lhi))
		return profile_fail(p, "bad range '%s' (expected FIRST-LAST,"
				    " each 1 to %d digits)", s,
				    RANGE_DIGITS_MAX);

	spec->lo = (uint32_t)strtoul(s, NULL, 10);
	spec->hi = (uint32_t)strtoul(dash + 1, NULL, 10);
	spec->width = (int)llo;

	if (spec->lo > spec->hi)
		return profile_fail(p, "bad range '%s' (first number above"
				    " last)", s);

	if (spec->hi - spec->lo >= RANGE_MAX)
		return profile_fail(p, "bad range '%s' (more than %d numbers)",
				    s, RANGE_MAX);

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

	if (!id_resource_valid(id))
		return profile_fail(p, "bad resource id '%s' in %s= (1 to %d"
				    " of A-Z a-z 0-9 . _ -)", id, key, ID_MAX);

	r = mem_zalloc(sizeof(*r), NULL);
	if (!r)
		return profile_fail_errno(p, ENOMEM);

	r->line = p->line;
	r->key = key;
	str_ncpy(r->id, id, sizeof(r->id));
	list_append(&p->refs, &r->le, r);

	return 0;
}


/* ---- subscriber --------------------------------------------------------- */

/* "plain=": what a caller that asks for no CMR mode gets in auto. */
static int plain_parse(enum cmr_mode *mp, const char *s)
{
	if (cmr_mode_parse(mp, s) || (*mp != MODE_EARLY && *mp != MODE_HTTP))
		return EINVAL;

	return 0;
}


static const char subscriber_usage[] =
	"subscriber ID [mode=MODE] [plain=early-media|http] [cmrbt=RES]"
	" [cmrt=RES] [password=PW] [contact=URI]...";

struct subscriber_args {
	bool has_mode;
	enum cmr_mode mode;
	enum cmr_mode plain;       /* MODE_AUTO: not given */
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
			return profile_fail_errno(p, err);
	}

	if (a->has_mode)
		subscriber_mode_set(s, a->mode);
	if (a->plain != MODE_AUTO)
		subscriber_plain_set(s, a->plain);
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

	return err ? profile_fail_errno(p, ENOMEM) : 0;
}


int profile_do_subscriber(struct parser *p)
{
	static const char * const keys[] = {
		"mode", "plain", "cmrbt", "cmrt", "password", "contact"
	};
	struct subscriber_args a;
	struct idspec spec;
	const char *mode, *plain;
	unsigned i;
	int err;

	if (p->tokc < 2 || p->tokv[1].key)
		return profile_fail(p, "missing subscriber id (usage: %s)",
				    subscriber_usage);

	err = idspec_parse(p, p->tokv[1].val, &spec);
	if (err)
		return err;

	err = profile_check_keys(p, "subscriber", keys, ARRAY_SIZE(keys),
				 "contact", subscriber_usage);
	if (err)
		return err;

	memset(&a, 0, sizeof(a));

	mode = profile_value(p, "mode");
	if (mode) {
		if (cmr_mode_parse(&a.mode, mode))
			return profile_fail(p, "bad mode '%s' (expected auto,"
					    " http, as, gateway, early-media"
					    " or off)", mode);
		a.has_mode = true;
	}

	plain = profile_value(p, "plain");
	if (plain && plain_parse(&a.plain, plain))
		return profile_fail(p, "bad plain '%s' (expected early-media"
				    " or http)", plain);

	a.cmr[DIR_BT] = profile_value(p, "cmrbt");
	a.cmr[DIR_RT] = profile_value(p, "cmrt");
	a.password = profile_value(p, "password");

	if (a.cmr[DIR_BT] && (err = ref_add(p, "cmrbt", a.cmr[DIR_BT])))
		return err;
	if (a.cmr[DIR_RT] && (err = ref_add(p, "cmrt", a.cmr[DIR_RT])))
		return err;

	for (i = 2; i < p->tokc; i++) {
		const struct tok *tok = &p->tokv[i];

		if (0 == strcmp(tok->key, "contact") &&
		    !id_contact_valid(tok->val))
			return profile_fail(p, "bad contact '%s' (expected a"
					    " sip: or sips: URI)", tok->val);
	}

	return idspec_apply(p, &spec, subscriber_apply, &a);
}


/* ---- resource ----------------------------------------------------------- */

static const char resource_usage[] = "resource ID file=PATH [type=MIME]";


int profile_do_resource(struct parser *p)
{
	static const char * const keys[] = {"file", "type"};
	const char *id, *file, *type;
	char *path = NULL;
	uint8_t *data = NULL;
	size_t size = 0;
	int err;

	if (p->tokc < 2 || p->tokv[1].key)
		return profile_fail(p, "missing resource id (usage: %s)",
				    resource_usage);

	id = p->tokv[1].val;
	if (!id_resource_valid(id))
		return profile_fail(p, "bad resource id '%s' (1 to %d of A-Z"
				    " a-z 0-9 . _ -)", id, ID_MAX);

	err = profile_check_keys(p, "resource", keys, ARRAY_SIZE(keys), NULL,
				 resource_usage);
	if (err)
		return err;

	file = profile_value(p, "file");
	if (!file)
		return profile_fail(p, "resource '%s' needs file=PATH", id);

	type = profile_value(p, "type");
	if (type && !id_mime_valid(type))
		return profile_fail(p, "bad type '%s' (expected TYPE/SUBTYPE,"
				    " e.g. audio/wav)", type);
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
		return profile_fail_errno(p, err);

	err = profile_read_all(path, RESFILE_MAX, &data, &size);
	if (err == EFBIG) {
		err = profile_fail(p, "resource file '%s' is larger than %zu"
				   " MiB", path, RESFILE_MAX >> 20);
		goto out;
	}
	else if (err) {
		err = profile_fail(p, "cannot read resource file '%s': %s",
				   path, strerror(err));
		goto out;
	}

	if (!size) {
		err = profile_fail(p, "resource file '%s' is empty", path);
		goto out;
	}

	/* A WAV that cannot be read would only fail later, at the first
	 * call that streams it; say so while the line is known. */
	if (0 == strcasecmp(type, "audio/wav") &&
	    !wav_duration_ms(data, size)) {
		err = profile_fail(p, "resource file '%s' is not a WAV file"
				   " with audio in it", path);
		goto out;
	}

	err = table_resource_add(p->t, id, type, data, size);
	if (err)
		err = profile_fail_errno(p, err);

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
		return profile_fail(p, "rule for unknown subscriber '%s'"
				    " (define it on an earlier subscriber"
				    " line)", id);

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

	return err ? profile_fail_errno(p, ENOMEM) : 0;
}


int profile_do_rule(struct parser *p)
{
	static const char * const keys[] = {"from", "cmrbt", "cmrt"};
	struct rule_args a;
	struct idspec spec;
	int err;

	if (p->tokc < 2 || p->tokv[1].key)
		return profile_fail(p, "missing subscriber id (usage: %s)",
				    rule_usage);

	err = idspec_parse(p, p->tokv[1].val, &spec);
	if (err)
		return err;

	err = profile_check_keys(p, "rule", keys, ARRAY_SIZE(keys), NULL,
				 rule_usage);
	if (err)
		return err;

	memset(&a, 0, sizeof(a));
	a.from = profile_value(p, "from");
	a.cmr[DIR_BT] = profile_value(p, "cmrbt");
	a.cmr[DIR_RT] = profile_value(p, "cmrt");

	if (!a.from)
		return profile_fail(p, "rule needs from=CALLER (usage: %s)",
				    rule_usage);
	if (!id_user_valid(a.from))
		return profile_fail(p, "bad caller '%s' in from= (1 to %d of"
				    " A-Z a-z 0-9 . _ ~ + -)", a.from, ID_MAX);
	if (!a.cmr[DIR_BT] && !a.cmr[DIR_RT])
		return profile_fail(p, "rule sets neither cmrbt= nor cmrt=");

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
 * none; each 0 to 86400 seconds.  A key the line leaves out keeps what an
 * earlier limits line or the default gave it. */
int profile_do_limits(struct parser *p)
{
	struct table_limits lim = *table_limits(p->t);
	unsigned i, j;

	if (p->tokc < 2)
		return profile_fail(p, "limits sets nothing (usage: %s)",
				    limits_usage);

	for (i = 1; i < p->tokc; i++) {
		const struct tok *tok = &p->tokv[i];
		uint32_t *v;
		unsigned long n;

		if (!tok->key)
			return profile_fail(p, "unexpected word '%s' (usage:"
					    " %s)", tok->val, limits_usage);
		if (0 == strcmp(tok->key, "ring"))
			v = &lim.ring_s;
		else if (0 == strcmp(tok->key, "call"))
			v = &lim.call_s;
		else
			return profile_fail(p, "unknown key '%s' for limits"
					    " (usage: %s)", tok->key,
					    limits_usage);

		/* The same message as the other directives give. */
		if (!*tok->val)
			return profile_fail(p, "empty value for '%s'",
					    tok->key);

		for (j = 1; j < i; j++) {
			if (0 == strcmp(p->tokv[j].key, tok->key))
				return profile_fail(p, "duplicate key '%s'",
						    tok->key);
		}

		/* Digits only: strtoul alone would also take white space
		 * before the number (a quoted " 5") and a sign ("+5",
		 * " -0"). */
		errno = 0;
		n = strtoul(tok->val, NULL, 10);
		if (!all_digits(tok->val, strlen(tok->val)) || errno ||
		    n > LIMIT_MAX_S)
			return profile_fail(p, "%s=%s: not a number of seconds"
					    " from 0 to %d", tok->key,
					    tok->val, LIMIT_MAX_S);
		*v = (uint32_t)n;
	}

	table_limits_set(p->t, &lim);

	return 0;
}


/* ---- defaults ----------------------------------------------------------- */

static const char defaults_usage[] = "defaults plain=early-media|http";


/* "defaults plain=MODE": what a caller whose INVITE asks for no CMR mode
 * gets in auto, for every subscriber without a plain= of its own. */
int profile_do_defaults(struct parser *p)
{
	const char *plain = NULL;
	enum cmr_mode m = MODE_EARLY;

	if (p->tokc < 2)
		return profile_fail(p, "defaults sets nothing (usage: %s)",
				    defaults_usage);

	/* The line has no id: its fields start right after the word. */
	for (unsigned i = 1; i < p->tokc; i++) {
		const struct tok *tok = &p->tokv[i];

		if (!tok->key)
			return profile_fail(p, "unexpected word '%s' (usage:"
					    " %s)", tok->val, defaults_usage);
		if (strcmp(tok->key, "plain"))
			return profile_fail(p, "unknown key '%s' for defaults"
					    " (usage: %s)", tok->key,
					    defaults_usage);
		if (!*tok->val)
			return profile_fail(p, "empty value for '%s'",
					    tok->key);
		if (plain)
			return profile_fail(p, "duplicate key '%s'",
					    tok->key);
		plain = tok->val;
	}

	if (plain_parse(&m, plain))
		return profile_fail(p, "bad plain '%s' (expected early-media"
				    " or http)", plain);

	table_plain_set(p->t, m);

	return 0;
}
