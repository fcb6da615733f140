/**
 * @file fuzz_fetch.c  Fuzz harness of the HTTP client's pure parts
 *                     (http/fetch_parse.c): the URL and the chunked
 *                     transfer coding
 *
 * Every input is read twice:
 *
 *  1. as a URL: the whole input, as a C string in a heap block of its
 *     own exact size (a NUL byte in it ends the URL there), through
 *     fetch_url_parse();
 *  2. as a chunked body, after a header that says how the decoder gets
 *     it:
 *       byte 0     bits 0-2: k, the number of piece sizes (0 to 7);
 *                  bits 3-7: the body limit, an index into limits[]
 *                  below (modulo its size);
 *       bytes 1-k  the sizes of the pieces fed to fetch_chunked_feed(),
 *                  one after the other and again from the first; a 0
 *                  feeds everything left; k = 0 feeds the body at once;
 *       the rest   the body, in a heap block of its own exact size.
 *
 * Checked for the URL: fetch_url_parse() answers 0 or EINVAL; what it
 * accepts has a Host that is the authority as written (NUL-terminated in
 * its array, only printable ASCII), a target that is the rest of the URL
 * up to the fragment with a '/' in front when it has none, an address of
 * the family the host's form says and the same address that host names
 * ("localhost" is 127.0.0.1), a port that is the one written or 80; and
 * "http://" HOST TARGET parses again into the same.
 *
 * Checked for the body: the decoder answers 0, EBADMSG or EFBIG; it
 * consumes a whole piece unless it failed or the body ended inside it,
 * and nothing after the end; what it decoded is never longer than what
 * it consumed nor than the limit; a body fed in pieces decodes as the
 * same body fed at once (the same answer, bytes consumed and data); and
 * a body taken whole is read again the plain way (hex size, the line's
 * end, that many bytes, up to the size 0 and an empty line), which must
 * give the same data, and sizes that fit in 64 bits.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <re.h>
#include "core/core.h"
#include "http/http_int.h"
#include "tests/fuzz/fuzz.h"

enum { PIECES_MAX = 7 };

/* The body limits, from nothing to none at all; 64 MiB is what the
 * client's downloads take. */
static const size_t limits[] = {
	0, 1, 10, 100, 4096, (size_t)64 << 20, SIZE_MAX,
};


/* ---- the URL ---------------------------------------------------------- */

static bool printable(const char *s)
{
	for (; *s; s++) {
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			return false;
	}

	return true;
}


/* The address and port that the Host names, as the URL's grammar reads
 * them (fetch.h). */
static void host_check(const struct fetch_url *u)
{
	const char *h = u->host, *after;
	char name[FETCH_HOST_MAX];
	struct sa want;
	uint32_t port = 80;
	size_t n;

	if (h[0] == '[') {
		after = strchr(h, ']');
		FUZZ_CHECK(after != NULL && after > h + 1);
		n = (size_t)(after - h - 1);
		memcpy(name, h + 1, n);
		name[n] = '\0';
		FUZZ_CHECK(sa_af(&u->addr) == AF_INET6);
		FUZZ_CHECK(sa_set_str(&want, name, 0) == 0);
		++after;
	}
	else {
		n = strcspn(h, ":");
		FUZZ_CHECK(n > 0);
		memcpy(name, h, n);
		name[n] = '\0';
		FUZZ_CHECK(sa_af(&u->addr) == AF_INET);
		if (!strcasecmp(name, "localhost"))
			FUZZ_CHECK(sa_set_str(&want, "127.0.0.1", 0) == 0);
		else
			FUZZ_CHECK(sa_set_str(&want, name, 0) == 0);
		after = h + n;
	}
	FUZZ_CHECK(sa_cmp(&u->addr, &want, SA_ADDR));

	if (*after) {
		FUZZ_CHECK(*after == ':' && after[1] != '\0');
		for (port = 0, ++after; *after; after++) {
			FUZZ_CHECK(*after >= '0' && *after <= '9');
			port = port * 10 + (uint32_t)(*after - '0');
			FUZZ_CHECK(port <= 65535);
		}
	}
	FUZZ_CHECK(port != 0);
	FUZZ_CHECK(sa_port(&u->addr) == port);
}


static void url_check(const char *url)
{
	struct fetch_url *u, *v;
	const char *rest;
	size_t hl, tl;
	char *again;
	int err;

	/* On the heap: a read past either is seen. */
	u = malloc(sizeof(*u));
	v = malloc(sizeof(*v));
	if (!u || !v)
		abort();
	memset(u, 0x55, sizeof(*u));

	err = fetch_url_parse(u, url);
	FUZZ_CHECK(err == 0 || err == EINVAL);
	if (err)
		goto out;

	FUZZ_CHECK(memchr(u->host, '\0', sizeof(u->host)) != NULL);
	FUZZ_CHECK(memchr(u->target, '\0', sizeof(u->target)) != NULL);
	FUZZ_CHECK(printable(u->host) && printable(u->target));

	/* The Host is the authority as written, after the scheme. */
	hl = strlen(u->host);
	FUZZ_CHECK(hl > 0);
	FUZZ_CHECK(!strncasecmp(url, "http://", 7));
	FUZZ_CHECK(!strncmp(url + 7, u->host, hl));

	/* The target is what follows, less the fragment. */
	rest = url + 7 + hl;
	FUZZ_CHECK(*rest == '\0' || *rest == '/' || *rest == '?' ||
		   *rest == '#');
	tl = strcspn(rest, "#");
	FUZZ_CHECK(u->target[0] == '/');
	if (*rest == '/') {
		FUZZ_CHECK(strlen(u->target) == tl);
		FUZZ_CHECK(!memcmp(u->target, rest, tl));
	}
	else {
		FUZZ_CHECK(strlen(u->target) == tl + 1);
		FUZZ_CHECK(!memcmp(u->target + 1, rest, tl));
	}

	host_check(u);

	/* Put together again (unless the '/' put in front takes it over
	 * the length): the same URL. */
	if (re_sdprintf(&again, "http://%s%s", u->host, u->target))
		abort();
	if (strlen(again) <= FETCH_URL_MAX) {
		FUZZ_CHECK(fetch_url_parse(v, again) == 0);
		FUZZ_CHECK(sa_cmp(&u->addr, &v->addr, SA_ALL));
		FUZZ_CHECK(!strcmp(u->host, v->host));
		FUZZ_CHECK(!strcmp(u->target, v->target));
	}
	mem_deref(again);

 out:
	free(u);
	free(v);
}


/* ---- the chunked body ------------------------------------------------- */

struct decoded {
	int err;
	bool done;
	size_t used;          /* bytes consumed in all */
	struct mbuf *out;
};


/* Feeds body in pieces of the sizes given (none: at once), as fetch.c
 * does: until the body ends, fails or runs out. */
static void decode(struct decoded *d, const uint8_t *body, size_t n,
		   size_t max, const uint8_t *sizes, size_t nsizes)
{
	struct fetch_chunked ch;
	size_t off = 0, k = 0, used;

	memset(&ch, 0, sizeof(ch));
	memset(d, 0, sizeof(*d));
	d->out = mbuf_alloc(64);
	if (!d->out)
		abort();

	while (off < n) {
		size_t piece = n - off;

		if (nsizes) {
			if (sizes[k] && sizes[k] < piece)
				piece = sizes[k];
			k = (k + 1) % nsizes;
		}

		used = SIZE_MAX;
		d->err = fetch_chunked_feed(&ch, body + off, piece, d->out,
					    max, &used);
		FUZZ_CHECK(used <= piece);
		off += used;

		FUZZ_CHECK(d->err == 0 || d->err == EBADMSG ||
			   d->err == EFBIG);
		FUZZ_CHECK(d->out->end <= off);
		FUZZ_CHECK(d->out->end <= max);
		if (d->err)
			break;

		if (fetch_chunked_done(&ch)) {
			d->done = true;
			break;
		}
		FUZZ_CHECK(used == piece);
	}

	/* An ended body takes nothing more. */
	if (d->done && off < n) {
		FUZZ_CHECK(fetch_chunked_feed(&ch, body + off, n - off,
					      d->out, max, &used) == 0);
		FUZZ_CHECK(used == 0);
	}

	d->used = off;
}


/* A body the decoder took whole, read again the plain way. */
static void reread(const uint8_t *p, size_t n, const struct mbuf *out)
{
	size_t i = 0, off = 0;
	uint64_t sz;
	int h;

	for (;;) {
		for (sz = 0; i < n && (h = text_hexval(p[i])) >= 0; i++) {
			/* A size taken must be one the line wrote. */
			FUZZ_CHECK(sz <= UINT64_MAX >> 4);
			sz = sz * 16 + (uint64_t)h;
		}
		while (i < n && p[i] != '\n')
			++i;
		FUZZ_CHECK(i < n);
		++i;
		if (!sz)
			break;

		FUZZ_CHECK(sz <= n - i && sz <= out->end - off);
		FUZZ_CHECK(!memcmp(p + i, out->buf + off, (size_t)sz));
		i += (size_t)sz;
		off += (size_t)sz;
		if (i < n && p[i] == '\r')
			++i;
		FUZZ_CHECK(i < n && p[i] == '\n');
		++i;
	}

	FUZZ_CHECK(off == out->end);
	/* The trailer section ends in an empty line, the body's last. */
	FUZZ_CHECK(p[n - 1] == '\n');
}


static void chunked_check(const uint8_t *data, size_t size)
{
	const size_t nsizes = data[0] & PIECES_MAX;
	const size_t max = limits[(data[0] >> 3) % ARRAY_SIZE(limits)];
	struct decoded a, b;
	struct pl pl;
	char *body;

	if (size < 1 + nsizes)
		return;

	body = dup_exact(data + 1 + nsizes, size - 1 - nsizes, &pl);

	decode(&a, (const uint8_t *)body, pl.l, max, data + 1, nsizes);
	decode(&b, (const uint8_t *)body, pl.l, max, NULL, 0);

	FUZZ_CHECK(a.err == b.err);
	FUZZ_CHECK(a.done == b.done);
	FUZZ_CHECK(a.used == b.used);
	FUZZ_CHECK(a.out->end == b.out->end);
	FUZZ_CHECK(!a.out->end || !memcmp(a.out->buf, b.out->buf,
					  a.out->end));

	if (a.done)
		reread((const uint8_t *)body, a.used, a.out);

	mem_deref(a.out);
	mem_deref(b.out);
	free(body);
}


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *url = malloc(size + 1);

	if (!url)
		abort();
	if (size)
		memcpy(url, data, size);
	url[size] = '\0';
	url_check(url);
	free(url);

	if (size)
		chunked_check(data, size);

	return 0;
}
