/**
 * @file auth.c  Digest authentication of subscribers with a password
 *               (RFC 3261 section 22, RFC 7616 with qop=auth, RFC 8760)
 *
 * A subscriber whose profile sets a password must authenticate its
 * REGISTER (401, WWW-Authenticate) and its INVITEs (407,
 * Proxy-Authenticate).  By default the challenge offers SHA-256 first and
 * MD5 second, one header each (RFC 8760 2.4); the response names the one
 * it used.  serve --digest chooses the algorithms offered and their
 * order: some clients answer only the first header, others refuse the
 * challenge altogether when one header names an algorithm they lack.
 *
 * Every nonce issued is remembered with the highest nonce count accepted
 * for it, so a response is good once per count: a repeated or lower nc is
 * a replay (RFC 7616 3.4).  The table is bounded: a nonce lives
 * NONCE_TTL_S seconds and, when NONCE_MAX are live, the oldest goes first.
 * A nonce also carries its issue time and a hash over a per-process secret,
 * so one that was ours but has expired or was dropped is told apart from
 * a forged one: the first earns stale=true, the second a plain challenge.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <re.h>
#include "sip/sip_int.h"

#define REALM "cmrlab"

enum {
	NONCE_TTL_S = 300,
	NONCE_MAX = 4096,
	NONCE_BUCKETS = 1024,
	MAC_SIZE = 16,             /* of the secret hash in a nonce */
	NONCE_LEN = 16 + 2 * MAC_SIZE,
	HASH_MAX = 32,             /* SHA-256 */
};

struct sipauth {
	struct hash *ht;           /* struct nonce, by text */
	struct list order;         /* struct nonce, oldest first */
	uint8_t secret[16];
	uint32_t serial;           /* makes nonces of one second differ */
	size_t max;
	size_t algv[2];            /* offered, as indexes of algs[] */
	size_t algc;
};

struct nonce {
	struct le he;
	struct le le;
	char text[NONCE_LEN + 1];
	uint32_t t;                /* issue time, s */
	uint32_t nc;               /* highest count accepted, 0 for none */
};

/* The algorithms we know, in the default order of the challenge. */
static const struct {
	const char *name;
	const EVP_MD *(*md)(void);
} algs[] = {
	{"SHA-256", EVP_sha256},
	{"MD5",     EVP_md5},
};

/* A Digest response as the client sent it (RFC 7616 3.4). */
struct cred {
	struct pl username, realm, nonce, uri, response;
	struct pl algorithm, qop, nc, cnonce;
};


static void nonce_destructor(void *arg)
{
	struct nonce *n = arg;

	hash_unlink(&n->he);
	list_unlink(&n->le);
}


static void destructor(void *arg)
{
	struct sipauth *a = arg;

	list_flush(&a->order);
	mem_deref(a->ht);
}


static bool offered(const size_t *algv, size_t algc, size_t i)
{
	size_t k;

	for (k = 0; k < algc; k++) {
		if (algv[k] == i)
			return true;
	}

	return false;
}


/* "SHA-256,MD5": the algorithms by name, each once, in that order. */
static int algs_decode(size_t *algv, size_t *algc, const char *list)
{
	struct pl rest, name;
	size_t i, n = 0;

	if (!list || !*list)
		return EINVAL;

	pl_set_str(&rest, list);
	while (rest.l) {
		name.p = rest.p;
		while (rest.l && *rest.p != ',')
			pl_advance(&rest, 1);
		name.l = rest.p - name.p;
		/* A comma must have a name after it, too. */
		if (rest.l == 1)
			return EINVAL;
		if (rest.l)
			pl_advance(&rest, 1);

		for (i = 0; i < ARRAY_SIZE(algs); i++) {
			if (!pl_strcasecmp(&name, algs[i].name))
				break;
		}
		if (i == ARRAY_SIZE(algs) || offered(algv, n, i))
			return EINVAL;
		algv[n++] = i;
	}

	*algc = n;

	return n ? 0 : EINVAL;
}


int sipauth_algs_check(const char *list)
{
	size_t algv[2], algc;

	return algs_decode(algv, &algc, list);
}


int sipauth_alloc(struct sipauth **ap, size_t max, const char *algs_list)
{
	struct sipauth *a;
	int err;

	if (!ap)
		return EINVAL;

	a = mem_zalloc(sizeof(*a), destructor);
	if (!a)
		return ENOMEM;

	err = algs_decode(a->algv, &a->algc, algs_list ? algs_list :
			  "SHA-256,MD5");
	if (err) {
		mem_deref(a);
		return err;
	}

	err = hash_alloc(&a->ht, NONCE_BUCKETS);
	if (err) {
		mem_deref(a);
		return err;
	}

	rand_bytes(a->secret, sizeof(a->secret));
	a->serial = rand_u32();
	a->max = max ? max : NONCE_MAX;
	*ap = a;

	return 0;
}


/* md = H(the formatted text); *mdlen its size. */
static int hash_printf(const EVP_MD *md, uint8_t *out, unsigned *mdlen,
		       const char *fmt, ...)
{
	char *s = NULL;
	va_list ap;
	int err;

	va_start(ap, fmt);
	err = re_vsdprintf(&s, fmt, ap);
	va_end(ap);
	if (err)
		return err;

	if (!EVP_Digest(s, strlen(s), out, mdlen, md, NULL))
		err = EPROTO;

	mem_deref(s);

	return err;
}


static int mac(const struct sipauth *a, uint32_t t, uint32_t serial,
	       uint8_t out[MAC_SIZE])
{
	uint8_t md[HASH_MAX];
	int err;

	err = hash_printf(EVP_sha256(), md, NULL, "%w:%08x:%08x",
			  a->secret, sizeof(a->secret), t, serial);
	if (!err)
		memcpy(out, md, MAC_SIZE);

	return err;
}


/* Who is too old, and the oldest while the table is full, goes. */
static void prune(struct sipauth *a, uint32_t now, size_t room)
{
	struct le *le;

	while ((le = list_head(&a->order))) {
		struct nonce *n = le->data;

		if (now - n->t <= NONCE_TTL_S &&
		    list_count(&a->order) + room <= a->max)
			break;

		mem_deref(n);
	}
}


int sipauth_nonce(struct sipauth *a, char *buf, size_t sz, uint32_t t)
{
	uint8_t m[MAC_SIZE];
	struct nonce *n;
	uint32_t serial;
	int err;

	if (!a || !buf)
		return EINVAL;

	if (sz <= NONCE_LEN)
		return ENOMEM;

	serial = a->serial++;
	err = mac(a, t, serial, m);
	if (err)
		return err;

	prune(a, (uint32_t)time(NULL), 1);

	n = mem_zalloc(sizeof(*n), nonce_destructor);
	if (!n)
		return ENOMEM;

	re_snprintf(n->text, sizeof(n->text), "%08x%08x%w", t, serial,
		    m, sizeof(m));
	n->t = t;
	hash_append(a->ht, hash_joaat_str(n->text), &n->he, n);
	list_append(&a->order, &n->le, n);
	str_ncpy(buf, n->text, sz);

	return 0;
}


size_t sipauth_count(const struct sipauth *a)
{
	return a ? list_count(&a->order) : 0;
}


/* Whether a nonce is one we made, whatever its age; *t its issue time. */
static bool nonce_ours(const struct sipauth *a, const struct pl *nonce,
		       uint32_t *t)
{
	uint8_t want[MAC_SIZE];
	char hex[2 * MAC_SIZE + 1];
	struct pl tpl, spl;
	size_t i;

	if (nonce->l != NONCE_LEN)
		return false;

	for (i = 0; i < nonce->l; i++) {
		char c = nonce->p[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
	}

	tpl.p = nonce->p;
	tpl.l = 8;
	spl.p = nonce->p + 8;
	spl.l = 8;
	*t = pl_x32(&tpl);
	if (mac(a, *t, pl_x32(&spl), want))
		return false;

	re_snprintf(hex, sizeof(hex), "%w", want, sizeof(want));

	return CRYPTO_memcmp(hex, nonce->p + 16, sizeof(hex) - 1) == 0;
}


static bool nonce_cmp(struct le *le, void *arg)
{
	const struct nonce *n = le->data;

	return !pl_strcmp(arg, n->text);
}


static struct nonce *nonce_find(const struct sipauth *a,
				const struct pl *nonce)
{
	struct le *le;

	le = hash_lookup(a->ht, hash_joaat_pl(nonce), nonce_cmp,
			 (void *)nonce);

	return le ? le->data : NULL;
}


static bool is_lws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}


static struct pl *cred_field(struct cred *c, const struct pl *name)
{
	static const struct {
		const char *name;
		size_t off;
	} fields[] = {
		{"username",  offsetof(struct cred, username)},
		{"realm",     offsetof(struct cred, realm)},
		{"nonce",     offsetof(struct cred, nonce)},
		{"uri",       offsetof(struct cred, uri)},
		{"response",  offsetof(struct cred, response)},
		{"algorithm", offsetof(struct cred, algorithm)},
		{"qop",       offsetof(struct cred, qop)},
		{"nc",        offsetof(struct cred, nc)},
		{"cnonce",    offsetof(struct cred, cnonce)},
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(fields); i++) {
		if (!pl_strcasecmp(name, fields[i].name))
			return (struct pl *)(void *)((char *)c +
						     fields[i].off);
	}

	return NULL;
}


/*
 * Credentials: "Digest" and comma-separated name=value pairs, a value a
 * token or a quoted string (RFC 7616 3.4).  A quoted string ends at the
 * first unescaped quote, so a comma inside one is part of the value.  A
 * directive given twice makes the whole header unusable: which one would
 * the client have hashed?
 */
static int cred_decode(struct cred *c, const struct pl *hval)
{
	const char *p = hval->p, *end = hval->p + hval->l;

	memset(c, 0, sizeof(*c));

	while (p < end && is_lws(*p))
		++p;
	if ((size_t)(end - p) < 7 || strncasecmp(p, "Digest", 6) ||
	    !is_lws(p[6]))
		return EBADMSG;
	p += 7;

	for (;;) {
		struct pl name, val, *f;

		while (p < end && (is_lws(*p) || *p == ','))
			++p;
		if (p == end)
			break;

		name.p = p;
		while (p < end && *p != '=' && *p != ',' && !is_lws(*p))
			++p;
		name.l = p - name.p;
		while (p < end && is_lws(*p))
			++p;
		if (!name.l || p == end || *p != '=')
			return EBADMSG;
		++p;
		while (p < end && is_lws(*p))
			++p;

		if (p < end && *p == '"') {
			val.p = ++p;
			while (p < end && *p != '"') {
				if (*p == '\\' && p + 1 < end)
					++p;
				++p;
			}
			if (p == end)
				return EBADMSG;
			val.l = p++ - val.p;
		}
		else {
			val.p = p;
			while (p < end && *p != ',' && !is_lws(*p))
				++p;
			val.l = p - val.p;
		}

		f = cred_field(c, &name);
		if (!f)
			continue;
		if (f->p)
			return EBADMSG;
		*f = val;
		/* An empty value is still given: keep it told from absent. */
		if (!f->l)
			f->p = val.p;
	}

	if (!c->username.p || !c->realm.p || !c->nonce.p || !c->uri.p ||
	    !c->response.p)
		return EBADMSG;

	return 0;
}


struct find {
	const char *user;
	struct cred cred;
	bool found;
};


static bool cred_handler(const struct sip_hdr *hdr, const struct sip_msg *msg,
			 void *arg)
{
	struct find *f = arg;
	struct cred c;
	(void)msg;

	if (cred_decode(&c, &hdr->val))
		return false;

	if (pl_strcmp(&c.realm, REALM) || pl_strcmp(&c.username, f->user))
		return false;

	f->cred = c;
	f->found = true;

	return true;
}


/* The algorithm a response names, MD5 when it names none (RFC 7616 3.4),
 * if we offered it. */
static const EVP_MD *cred_md(const struct sipauth *a, const struct cred *c)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(algs); i++) {
		if (pl_isset(&c->algorithm) ?
		    !pl_strcasecmp(&c->algorithm, algs[i].name) :
		    !strcmp(algs[i].name, "MD5"))
			break;
	}

	if (i == ARRAY_SIZE(algs) || !offered(a->algv, a->algc, i))
		return NULL;

	return algs[i].md();
}


/* nc is exactly 8 hex digits (RFC 7616 3.4) */
static int nc_decode(const struct pl *nc, uint32_t *v)
{
	size_t i;

	if (nc->l != 8)
		return EBADMSG;

	for (i = 0; i < nc->l; i++) {
		if (!isxdigit((unsigned char)nc->p[i]))
			return EBADMSG;
	}

	*v = pl_x32(nc);

	return 0;
}


/* The response the client should have sent, with qop=auth (RFC 7616 3.4.1) */
static int response_check(const EVP_MD *md, const struct cred *c,
			  const struct pl *met, const char *user,
			  const char *password)
{
	uint8_t ha1[HASH_MAX], ha2[HASH_MAX], r[HASH_MAX];
	char want[2 * HASH_MAX + 1], got[2 * HASH_MAX + 1];
	unsigned len;
	int err;

	err = hash_printf(md, ha1, &len, "%s:" REALM ":%s", user, password);
	if (!err)
		err = hash_printf(md, ha2, &len, "%r:%r", met, &c->uri);
	if (err)
		return err;

	err = hash_printf(md, r, &len, "%w:%r:%r:%r:%r:%w",
			  ha1, (size_t)len, &c->nonce, &c->nc, &c->cnonce,
			  &c->qop, ha2, (size_t)len);
	if (err)
		return err;

	if (c->response.l != 2 * len)
		return EAUTH;

	re_snprintf(want, sizeof(want), "%w", r, (size_t)len);
	pl_strcpy(&c->response, got, sizeof(got));
	for (err = 0; got[err]; err++)
		got[err] = (char)tolower((unsigned char)got[err]);

	return CRYPTO_memcmp(want, got, 2 * len) ? EAUTH : 0;
}


int sipauth_check(struct sipauth *a, const struct sip_msg *msg,
		  const char *user, const char *password, bool proxy,
		  bool *stale)
{
	uint32_t now = (uint32_t)time(NULL), t, nc;
	const EVP_MD *md;
	struct nonce *n;
	struct find f;
	int err;

	if (!a || !msg || !user || !password || !stale)
		return EINVAL;

	*stale = false;

	memset(&f, 0, sizeof(f));
	f.user = user;
	(void)sip_msg_hdr_apply(msg, true, proxy ?
				SIP_HDR_PROXY_AUTHORIZATION :
				SIP_HDR_AUTHORIZATION, cred_handler, &f);
	if (!f.found)
		return EAUTH;

	/* We offer only qop=auth, which brings nc and cnonce along; a
	 * response without them could be replayed at will. */
	md = cred_md(a, &f.cred);
	if (!md || pl_strcasecmp(&f.cred.qop, "auth") ||
	    !pl_isset(&f.cred.cnonce) || nc_decode(&f.cred.nc, &nc))
		return EAUTH;

	if (!nonce_ours(a, &f.cred.nonce, &t))
		return EAUTH;

	err = response_check(md, &f.cred, &msg->met, user, password);
	if (err)
		return err;

	/* The password is right.  A nonce of ours that has expired, or that
	 * a full table dropped, only asks the client to hash again. */
	prune(a, now, 0);
	n = nonce_find(a, &f.cred.nonce);
	if (!n || now - t > NONCE_TTL_S) {
		*stale = true;
		return EAUTH;
	}

	/* The response was hashed over the uri directive, not over the
	 * Request-URI: the two must name the same resource, else this is
	 * a response for another request (RFC 7616 3.4.6, RFC 2617
	 * 3.2.2.5: 400). */
	if (pl_cmp(&f.cred.uri, &msg->ruri))
		return EBADMSG;

	if (nc <= n->nc)
		return EAUTH;

	n->nc = nc;

	return 0;
}


struct chall {
	const struct sipauth *a;
	const char *hname;
	const char *nonce;
	bool stale;
};


static int challenges_print(struct re_printf *pf, void *arg)
{
	const struct chall *ch = arg;
	size_t i;
	int err = 0;

	for (i = 0; i < ch->a->algc && !err; i++) {
		err = re_hprintf(pf, "%s: Digest realm=\"" REALM "\", "
				 "nonce=\"%s\", algorithm=%s, qop=\"auth\"%s"
				 "\r\n", ch->hname, ch->nonce,
				 algs[ch->a->algv[i]].name,
				 ch->stale ? ", stale=true" : "");
	}

	return err;
}


void sipauth_reply(struct sipsrv *srv, const struct sip_msg *msg,
		   bool proxy, int err, bool stale)
{
	char nonce[NONCE_LEN + 1];
	struct chall ch;

	if (err == EBADMSG) {
		(void)sip_treplyf(NULL, NULL, srv->sip, msg, false, 400,
				  "Bad Request", "Warning: 399 cmrlab "
				  "\"the digest uri is not the Request-URI\""
				  "\r\nContent-Length: 0\r\n\r\n");
		return;
	}

	if (sipauth_nonce(srv->auth, nonce, sizeof(nonce),
			  (uint32_t)time(NULL))) {
		(void)sip_reply(srv->sip, msg, 500, "Server Internal Error");
		return;
	}

	/* One nonce for both challenges: whichever the client answers,
	 * the nonce and its count are the same. */
	ch.a = srv->auth;
	ch.hname = proxy ? "Proxy-Authenticate" : "WWW-Authenticate";
	ch.nonce = nonce;
	ch.stale = stale;
	(void)sip_treplyf(NULL, NULL, srv->sip, msg, false,
			  proxy ? 407 : 401, proxy ?
			  "Proxy Authentication Required" : "Unauthorized",
			  "%H"
			  "Content-Length: 0\r\n\r\n",
			  challenges_print, &ch);
}
