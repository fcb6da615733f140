/**
 * @file jsonchk.c  A strict check of JSON text (RFC 8259) before libre's
 *                  decoder reads it
 *
 * libre's json_decode() is lenient: it takes trailing bytes after the
 * value, a comma before a closing bracket, and a member name twice (the
 * first wins).  Input from the network and the state file is checked here
 * first, so that what it accepts is exactly JSON: one value with white
 * space around it, well-formed UTF-8, escapes as the grammar has them.
 * Strings may not hold U+0000 (the decoder gives C strings, which would
 * end there), and members of one object must have distinct names.
 */
#include <string.h>
#include <re.h>
#include "core/core.h"


struct jc {
	const char *p;
	const char *end;
	unsigned depth;
	unsigned maxdepth;
};


static void ws(struct jc *c)
{
	while (c->p < c->end && strchr(" \t\r\n", *c->p) && *c->p)
		++c->p;
}


static bool lit(struct jc *c, const char *word)
{
	size_t l = strlen(word);

	if ((size_t)(c->end - c->p) < l || memcmp(c->p, word, l))
		return false;

	c->p += l;

	return true;
}


static bool digits(struct jc *c)
{
	const char *s = c->p;

	while (c->p < c->end && *c->p >= '0' && *c->p <= '9')
		++c->p;

	return c->p > s;
}


/* number = [ "-" ] int [ frac ] [ exp ] */
static bool number(struct jc *c)
{
	if (c->p < c->end && *c->p == '-')
		++c->p;

	if (c->p < c->end && *c->p == '0')
		++c->p;
	else if (!digits(c))
		return false;

	if (c->p < c->end && *c->p == '.') {
		++c->p;
		if (!digits(c))
			return false;
	}

	if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
		++c->p;
		if (c->p < c->end && (*c->p == '+' || *c->p == '-'))
			++c->p;
		if (!digits(c))
			return false;
	}

	return true;
}


static bool hex4(struct jc *c, unsigned *vp)
{
	unsigned v = 0;

	if (c->end - c->p < 4)
		return false;

	for (int i = 0; i < 4; i++) {
		int h = text_hexval((unsigned char)c->p[i]);

		if (h < 0)
			return false;
		v = v << 4 | (unsigned)h;
	}

	c->p += 4;
	*vp = v;

	return true;
}


/* A string, c->p at its opening quote; *sp and *lp: its raw contents. */
static bool string(struct jc *c, const char **sp, size_t *lp)
{
	const char *s;

	if (c->p >= c->end || *c->p != '"')
		return false;
	s = ++c->p;

	while (c->p < c->end) {
		unsigned char ch = (unsigned char)*c->p;
		unsigned u, lo;
		size_t n;

		if (ch == '"') {
			if (sp) {
				*sp = s;
				*lp = (size_t)(c->p - s);
			}
			++c->p;
			return true;
		}

		if (ch < 0x20)
			return false;

		if (ch != '\\') {
			n = text_utf8_char(c->p, (size_t)(c->end - c->p));
			if (!n)
				return false;
			c->p += n;
			continue;
		}

		if (++c->p >= c->end)
			return false;

		ch = (unsigned char)*c->p++;
		if (strchr("\"\\/bfnrt", ch) && ch)
			continue;
		if (ch != 'u' || !hex4(c, &u) || u == 0)
			return false;

		/* A surrogate only as a high-low pair. */
		if (u >= 0xdc00 && u <= 0xdfff)
			return false;
		if (u >= 0xd800 && u <= 0xdbff) {
			if (!lit(c, "\\u") || !hex4(c, &lo) ||
			    lo < 0xdc00 || lo > 0xdfff)
				return false;
		}
	}

	return false;
}


static bool value(struct jc *c);


/* Two members of one object named alike: their raw names compared (an
 * escaped and a plain spelling of one name also count as distinct here,
 * and libre would keep both; such input is not worth accepting twice). */
static bool name_seen(const char **names, const size_t *lens, unsigned n,
		      const char *s, size_t l)
{
	for (unsigned i = 0; i < n; i++) {
		if (lens[i] == l && !memcmp(names[i], s, l))
			return true;
	}

	return false;
}


enum { NAMES_MAX = 64 };


static bool object(struct jc *c)
{
	const char *names[NAMES_MAX];
	size_t lens[NAMES_MAX];
	unsigned n = 0;

	++c->p;
	ws(c);
	if (c->p < c->end && *c->p == '}') {
		++c->p;
		return true;
	}

	for (;;) {
		const char *s;
		size_t l;

		ws(c);
		if (!string(c, &s, &l))
			return false;
		if (n == NAMES_MAX || name_seen(names, lens, n, s, l))
			return false;
		names[n] = s;
		lens[n++] = l;

		ws(c);
		if (c->p >= c->end || *c->p++ != ':')
			return false;
		if (!value(c))
			return false;

		ws(c);
		if (c->p >= c->end)
			return false;
		if (*c->p == '}') {
			++c->p;
			return true;
		}
		if (*c->p++ != ',')
			return false;
	}
}


static bool array(struct jc *c)
{
	++c->p;
	ws(c);
	if (c->p < c->end && *c->p == ']') {
		++c->p;
		return true;
	}

	for (;;) {
		if (!value(c))
			return false;

		ws(c);
		if (c->p >= c->end)
			return false;
		if (*c->p == ']') {
			++c->p;
			return true;
		}
		if (*c->p++ != ',')
			return false;
	}
}


static bool value(struct jc *c)
{
	bool ok;

	ws(c);
	if (c->p >= c->end)
		return false;

	switch (*c->p) {

	case '{':
	case '[':
		if (++c->depth > c->maxdepth)
			return false;
		ok = *c->p == '{' ? object(c) : array(c);
		--c->depth;
		return ok;

	case '"':
		return string(c, NULL, NULL);

	case 't':
		return lit(c, "true");

	case 'f':
		return lit(c, "false");

	case 'n':
		return lit(c, "null");

	default:
		return number(c);
	}
}


bool json_strict(const char *p, size_t n, unsigned maxdepth)
{
	struct jc c;

	if (!p)
		return false;

	c.p = p;
	c.end = p + n;
	c.depth = 0;
	c.maxdepth = maxdepth;

	if (!value(&c))
		return false;

	ws(&c);

	return c.p == c.end;
}
