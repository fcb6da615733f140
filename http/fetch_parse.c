/**
 * @file fetch_parse.c  The HTTP client's pure parts: the URL and the
 *                      chunked transfer coding
 *
 * Both read bytes a caller or a server chose, and neither needs a socket,
 * a timer or the loop: they are functions of their input alone, kept
 * apart from the exchange (fetch.c) so that the unit tests reach every
 * branch without a connection.  The URL gives the address to connect to,
 * the Host header and the request target; the decoder takes a chunked
 * body in whatever pieces the socket hands over.
 */
#include <errno.h>
#include <string.h>
#include <strings.h>
#include <re.h>
#include "core/core.h"
#include "http/http_int.h"

enum {
	CHUNK_LINE_MAX = 4096, /* a chunk-size line with its extensions */
	TRAILER_MAX = 8192,    /* the trailer section of a chunked body */
};


/* ---- the URL ---------------------------------------------------------- */

int fetch_url_parse(struct fetch_url *u, const char *url)
{
	const char *auth, *aend, *hend, *p, *t;
	char host[FETCH_HOST_MAX];
	uint32_t port = 80;
	size_t n;

	if (!u || !url)
		return EINVAL;

	memset(u, 0, sizeof(*u));

	n = strlen(url);
	if (n > FETCH_URL_MAX || strncasecmp(url, "http://", 7))
		return EINVAL;

	/* Every byte goes into the request line or the Host header as it
	 * is: no controls, no spaces, nothing outside ASCII. */
	for (p = url; *p; p++) {
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			return EINVAL;
	}

	auth = url + 7;
	aend = auth + strcspn(auth, "/?#");
	if (aend == auth || (size_t)(aend - auth) >= sizeof(u->host))
		return EINVAL;

	/* No user information: "user@host" is no host of ours. */
	if (memchr(auth, '@', (size_t)(aend - auth)))
		return EINVAL;

	if (*auth == '[') {
		hend = memchr(auth, ']', (size_t)(aend - auth));
		if (!hend || hend == auth + 1)
			return EINVAL;
		memcpy(host, auth + 1, (size_t)(hend - auth - 1));
		host[hend - auth - 1] = '\0';
		if (sa_set_str(&u->addr, host, 0) ||
		    sa_af(&u->addr) != AF_INET6)
			return EINVAL;
		p = hend + 1;
	}
	else {
		hend = memchr(auth, ':', (size_t)(aend - auth));
		if (!hend)
			hend = aend;
		if (hend == auth)
			return EINVAL;
		memcpy(host, auth, (size_t)(hend - auth));
		host[hend - auth] = '\0';

		/* localhost is the one name: it needs no resolver. */
		if (!strcasecmp(host, "localhost"))
			(void)sa_set_str(&u->addr, "127.0.0.1", 0);
		else if (sa_set_str(&u->addr, host, 0) ||
			 sa_af(&u->addr) != AF_INET)
			return EINVAL;
		p = hend;
	}

	if (p < aend) {
		if (*p != ':' || ++p == aend)
			return EINVAL;
		for (port = 0; p < aend; p++) {
			if (*p < '0' || *p > '9')
				return EINVAL;
			port = port * 10 + (uint32_t)(*p - '0');
			if (port > 65535)
				return EINVAL;
		}
		if (!port)
			return EINVAL;
	}
	sa_set_port(&u->addr, (uint16_t)port);

	memcpy(u->host, auth, (size_t)(aend - auth));
	u->host[aend - auth] = '\0';

	/* The target: the path and query, without the fragment, which is
	 * the client's own business. */
	t = aend + strcspn(aend, "#");
	n = 0;
	if (*aend != '/')
		u->target[n++] = '/';
	memcpy(u->target + n, aend, (size_t)(t - aend));
	u->target[n + (size_t)(t - aend)] = '\0';

	return 0;
}


/* ---- chunked transfer coding ------------------------------------------ */

enum chunk_state {
	CH_SIZE = 0,       /* the chunk-size line */
	CH_SIZE_LF,        /* its CR came, its LF must follow */
	CH_DATA,           /* the chunk's data */
	CH_DATA_CR,        /* the CRLF after the data */
	CH_DATA_LF,
	CH_TRAILER,        /* after the last chunk: trailer lines */
	CH_TRAILER_LF,     /* a trailer line's CR came */
	CH_DONE,
};


/* One byte of a chunk-size line, which ends in a state of its own. */
static int size_byte(struct fetch_chunked *ch, uint8_t c, size_t room)
{
	int d = text_hexval(c);

	if (++ch->line > CHUNK_LINE_MAX)
		return EBADMSG;

	if (d >= 0 && !ch->ext) {
		/* The size is checked as it grows: no overflow, and no
		 * waiting for a chunk that could never be kept.  Room alone
		 * does not stop the overflow: a limit of 2^60 bytes or more
		 * lets a size past 64 bits wrap (to 0, the last chunk). */
		if (ch->left > (UINT64_MAX - (uint64_t)d) / 16)
			return EFBIG;
		ch->left = ch->left * 16 + (uint64_t)d;
		ch->digit = true;
		return ch->left > room ? EFBIG : 0;
	}

	if (c == '\r' || c == '\n') {
		if (!ch->digit)
			return EBADMSG;
		if (c == '\r') {
			ch->st = CH_SIZE_LF;
			return 0;
		}
		ch->st = ch->left ? CH_DATA : CH_TRAILER;
		ch->line = 0;
		return 0;
	}

	/* After the digits: whitespace, then ";name=value" extensions,
	 * which are ignored but must not hold control bytes. */
	if (!ch->digit)
		return EBADMSG;
	if (ch->ext < 2 && (c == ' ' || c == '\t')) {
		ch->ext = 1;
		return 0;
	}
	if (c == ';') {
		ch->ext = 2;
		return 0;
	}
	if (ch->ext < 2 || (c < 0x20 && c != '\t') || c == 0x7f)
		return EBADMSG;

	return 0;
}


/*
 * A byte at a time, but for the data, which is copied in runs.  A line
 * may end in CRLF or a bare LF (RFC 9112 section 2.2 lets a recipient
 * take the latter); a CR must be followed by its LF.
 */
int fetch_chunked_feed(struct fetch_chunked *ch, const uint8_t *p,
		       size_t n, struct mbuf *out, size_t max,
		       size_t *usedp)
{
	size_t i = 0, k;
	int err = 0;

	if (!ch || (!p && n) || !out || !usedp)
		return EINVAL;

	while (!err && i < n && ch->st != CH_DONE) {
		uint8_t c = p[i];

		switch (ch->st) {

		case CH_SIZE:
			++i;
			err = size_byte(ch, c, out->end < max ?
					max - out->end : 0);
			break;

		case CH_SIZE_LF:
			++i;
			if (c != '\n') {
				err = EBADMSG;
				break;
			}
			ch->st = ch->left ? CH_DATA : CH_TRAILER;
			ch->line = 0;
			break;

		case CH_DATA:
			k = n - i;
			if (k > ch->left)
				k = (size_t)ch->left;
			err = mbuf_write_mem(out, p + i, k);
			if (err)
				break;
			i += k;
			ch->left -= k;
			if (!ch->left)
				ch->st = CH_DATA_CR;
			break;

		case CH_DATA_CR:
			++i;
			if (c == '\r')
				ch->st = CH_DATA_LF;
			else if (c == '\n')
				ch->st = CH_SIZE;
			else
				err = EBADMSG;
			ch->digit = false;
			ch->ext = 0;
			break;

		case CH_DATA_LF:
			++i;
			if (c != '\n')
				err = EBADMSG;
			ch->st = CH_SIZE;
			break;

		case CH_TRAILER:
		case CH_TRAILER_LF:
			++i;
			if (++ch->trailer > TRAILER_MAX) {
				err = EBADMSG;
			}
			else if (c == '\n') {
				/* An empty line ends the body. */
				ch->st = ch->line ? CH_TRAILER : CH_DONE;
				ch->line = 0;
			}
			else if (ch->st == CH_TRAILER_LF) {
				err = EBADMSG;
			}
			else if (c == '\r') {
				ch->st = CH_TRAILER_LF;
			}
			else {
				++ch->line;
			}
			break;

		default:
			err = EBADMSG;
			break;
		}
	}

	*usedp = i;
	return err;
}


bool fetch_chunked_done(const struct fetch_chunked *ch)
{
	return ch && ch->st == CH_DONE;
}
