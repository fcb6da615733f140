/**
 * @file sipuri.c  Equivalence of SIP and SIPS URIs (RFC 3261 19.1.4)
 *
 * The registrar keys bindings by Contact URI, and RFC 3261 section 10.3
 * step 7 finds an existing binding with the comparison rules of section
 * 19.1.4, not by spelling: a UA may refresh or remove its binding with
 * the same URI written another way.  The rules, in short: SIP and SIPS
 * never match; userinfo is case-sensitive, everything else is not; the
 * order of parameters and headers does not count; an escaped character
 * outside RFC 2396's reserved set equals the character itself; user,
 * password, host and port must match, and an absent component does not
 * match its default (no port is not 5060); a parameter in both URIs must
 * match, one in only one URI is ignored unless it is user, ttl, method,
 * maddr or transport; every header must be in both and match.
 *
 * The URIs are compared where they lie, as struct pl, without copies.  A
 * URI that cannot be cut into those parts (another scheme, no host, a bad
 * port) equals only the same bytes, which is what the registrar did for
 * every URI before.
 */
#include <ctype.h>
#include <string.h>
#include <re.h>
#include "core/core.h"


/* The parts of a SIP or SIPS URI, pointing into its text. */
struct parts {
	struct pl scheme;
	struct pl user;
	struct pl password;
	struct pl host;
	struct pl port;
	struct pl params;     /* after the first ';', up to any '?' */
	struct pl headers;    /* after the '?' */
	bool pw;              /* a password component, even empty */
};


/* The first of the characters of set in [p, end), or NULL. */
static const char *find(const char *p, const char *end, const char *set)
{
	for (; p < end; p++) {
		if (*p && strchr(set, *p))
			return p;
	}

	return NULL;
}


/*
 * Cuts a URI into its parts.  The userinfo ends at an '@' before any '?':
 * a user may contain ';' (telephone-subscriber), which is common, and may
 * contain '?', which nobody sends; a header value with an unescaped '@'
 * is not valid but is sent, and it must not be taken for a userinfo.
 */
static int split(struct parts *u, const struct pl *pl)
{
	const char *p = pl->p, *end = pl->p + pl->l;
	const char *c, *q, *at, *hp;
	size_t i;

	memset(u, 0, sizeof(*u));

	c = find(p, end, ":");
	if (!c)
		return EINVAL;

	u->scheme.p = p;
	u->scheme.l = (size_t)(c - p);
	if (pl_strcasecmp(&u->scheme, "sip") &&
	    pl_strcasecmp(&u->scheme, "sips"))
		return EINVAL;

	p = c + 1;
	q = find(p, end, "?");
	if (q) {
		u->headers.p = q + 1;
		u->headers.l = (size_t)(end - q - 1);
		end = q;
	}

	at = find(p, end, "@");
	if (at) {
		c = find(p, at, ":");
		u->user.p = p;
		u->user.l = (size_t)((c ? c : at) - p);
		if (c) {
			u->pw = true;
			u->password.p = c + 1;
			u->password.l = (size_t)(at - c - 1);
		}
		if (!u->user.l)
			return EINVAL;
		p = at + 1;
	}

	hp = find(p, end, ";");
	if (hp) {
		u->params.p = hp + 1;
		u->params.l = (size_t)(end - hp - 1);
		end = hp;
	}

	/* An IPv6 reference keeps its brackets; a port follows them. */
	if (p < end && *p == '[') {
		c = find(p, end, "]");
		if (!c)
			return EINVAL;
		++c;
		if (c < end && *c != ':')
			return EINVAL;
	}
	else {
		c = find(p, end, ":");
		if (!c)
			c = end;
	}

	u->host.p = p;
	u->host.l = (size_t)(c - p);
	if (!u->host.l)
		return EINVAL;

	if (c < end) {
		u->port.p = c + 1;
		u->port.l = (size_t)(end - c - 1);
		if (!u->port.l || u->port.l > 5)
			return EINVAL;
		for (i = 0; i < u->port.l; i++) {
			if (!isdigit((unsigned char)u->port.p[i]))
				return EINVAL;
		}
	}

	return 0;
}


/*
 * The character of s at *i, and moves *i past it.  An escape "%" HEX HEX
 * is decoded; *esc says whether it was the escape of a character of RFC
 * 2396's reserved set, which stays different from the character itself
 * (%40 is not '@').  A '%' without two hex digits is taken as it is.
 */
static int next(const struct pl *s, size_t *i, bool *esc)
{
	int c = (unsigned char)s->p[*i];
	int h, l;

	*esc = false;

	if (c == '%' && *i + 2 < s->l &&
	    (h = text_hexval(s->p[*i + 1])) >= 0 &&
	    (l = text_hexval(s->p[*i + 2])) >= 0) {
		c = h << 4 | l;
		*esc = c && strchr(";/?:@&=+$,", c) != NULL;
		*i += 3;
		return c;
	}

	++*i;

	return c;
}


static bool same(const struct pl *a, const struct pl *b, bool icase)
{
	size_t i = 0, j = 0;

	while (i < a->l && j < b->l) {
		bool ea, eb;
		int ca = next(a, &i, &ea);
		int cb = next(b, &j, &eb);

		if (icase) {
			ca = tolower(ca);
			cb = tolower(cb);
		}

		if (ca != cb || ea != eb)
			return false;
	}

	return i == a->l && j == b->l;
}


/* The next name[=value] of a list separated by sep; false at its end. */
static bool item(struct pl *list, char sep, struct pl *name,
		 struct pl *val)
{
	const char *end, *eq;

	while (list->l && *list->p == sep)
		pl_advance(list, 1);

	if (!list->l)
		return false;

	end = memchr(list->p, sep, list->l);
	if (!end)
		end = list->p + list->l;

	eq = memchr(list->p, '=', (size_t)(end - list->p));

	name->p = list->p;
	name->l = (size_t)((eq ? eq : end) - list->p);
	val->p = eq ? eq + 1 : end;
	val->l = eq ? (size_t)(end - eq - 1) : 0;

	pl_advance(list, (size_t)(end - list->p));

	return true;
}


/* The value of the first item called name, compared case-insensitively. */
static bool lookup(const struct pl *list, char sep, const struct pl *name,
		   struct pl *val)
{
	struct pl l = *list, n, v;

	while (item(&l, sep, &n, &v)) {
		if (same(&n, name, true)) {
			*val = v;
			return true;
		}
	}

	return false;
}


/* The parameters whose absence does not match their presence: transport,
 * user, ttl and method have defaults that an absent one does not equal,
 * and maddr is named on its own. */
static bool must_be_in_both(const struct pl *name)
{
	static const char *v[] = {"transport", "user", "ttl", "method",
				  "maddr"};
	size_t i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct pl n;

		pl_set_str(&n, v[i]);
		if (same(name, &n, true))
			return true;
	}

	return false;
}


/* Every parameter of a matches b: the same value where b has it too. */
static bool params_match(const struct pl *a, const struct pl *b)
{
	struct pl l = *a, n, v, w;

	while (item(&l, ';', &n, &v)) {
		if (!lookup(b, ';', &n, &w)) {
			if (must_be_in_both(&n))
				return false;
			continue;
		}
		if (!same(&v, &w, true))
			return false;
	}

	return true;
}


/*
 * Every header of a is in b with the same value.  Section 19.1.4 leaves
 * the value comparison to each header's own rules (section 20); those
 * are not applied here, so a value is compared exactly, after decoding
 * escapes.  That can keep two equivalent URIs apart, never make two
 * different ones one.
 */
static bool headers_match(const struct pl *a, const struct pl *b)
{
	struct pl l = *a, n, v, w;

	while (item(&l, '&', &n, &v)) {
		if (!lookup(b, '&', &n, &w) || !same(&v, &w, false))
			return false;
	}

	return true;
}


static bool port_match(const struct pl *a, const struct pl *b)
{
	if (!pl_isset(a) || !pl_isset(b))
		return pl_isset(a) == pl_isset(b);

	return pl_u32(a) == pl_u32(b);
}


/**
 * Whether two SIP or SIPS URIs are equivalent (RFC 3261 section 19.1.4).
 * The relation is not transitive: sip:c@h equals both sip:c@h;x=1 and
 * sip:c@h;x=2, which differ.
 *
 * @param a  A URI, without the angle brackets of a name-addr
 * @param b  Another one
 *
 * @return true if equivalent; URIs that are not SIP or SIPS, or cannot be
 *         read, are equivalent only if they are the same bytes
 */
bool sipuri_equal(const struct pl *a, const struct pl *b)
{
	struct parts x, y;

	if (!a || !b)
		return false;

	if (split(&x, a) || split(&y, b))
		return 0 == pl_cmp(a, b);

	return 0 == pl_casecmp(&x.scheme, &y.scheme) &&
		pl_isset(&x.user) == pl_isset(&y.user) &&
		same(&x.user, &y.user, false) &&
		x.pw == y.pw &&
		same(&x.password, &y.password, false) &&
		same(&x.host, &y.host, true) &&
		port_match(&x.port, &y.port) &&
		params_match(&x.params, &y.params) &&
		params_match(&y.params, &x.params) &&
		headers_match(&x.headers, &y.headers) &&
		headers_match(&y.headers, &x.headers);
}


/* The user part of a SIP URI with its escapes undone (RFC 3261 19.1.4:
 * "%61lice" is "alice"); EINVAL for a bad escape, an escaped NUL or a
 * name too long for buf. */
int sipuri_user_unescape(const struct pl *in, char *buf, size_t sz)
{
	size_t i, n = 0;

	for (i = 0; i < in->l; i++) {
		int c = (unsigned char)in->p[i];

		if (c == '%') {
			int hi, lo;

			if (i + 2 >= in->l)
				return EINVAL;
			hi = text_hexval(in->p[i + 1]);
			lo = text_hexval(in->p[i + 2]);
			if (hi < 0 || lo < 0)
				return EINVAL;
			c = hi * 16 + lo;
			i += 2;
			if (!c)
				return EINVAL;
		}

		if (n + 1 >= sz)
			return EINVAL;
		buf[n++] = (char)c;
	}

	buf[n] = '\0';

	return 0;
}
