/**
 * @file urlsign.c  Signed resource URLs: HMAC-SHA256 with a process key
 *
 * A resource URL that names a call lets its fetcher add a resource-fetched
 * event to that call, so only the URLs this process handed out may do so:
 * each carries an expiry and an HMAC-SHA256 over the resource id, the call
 * id and that expiry.  The key is 32 random bytes drawn on first use and
 * never leaves the process; a restart invalidates every URL handed out
 * before it, as it ends every call they could name.
 *
 * The fields are joined with NUL bytes, which none of them can contain,
 * so no two different triples sign the same message.  The expiry is
 * signed as its canonical decimal: a URL whose exp was edited, even to
 * the same number written otherwise, fails.
 */
#include <string.h>
#include <time.h>
#include <re.h>
#include "core/urlsign.h"

enum {
	KEY_LEN = 32,
	MAC_LEN = 32,
	EXP_DIGITS = 20,
};

static uint8_t key[KEY_LEN];
static bool key_set;
static uint32_t ttl_opt;


void urlsign_ttl_set(uint32_t s)
{
	ttl_opt = s > URLSIGN_TTL_MAX ? URLSIGN_TTL_MAX : s;
}


uint64_t urlsign_expiry(uint32_t ring_s)
{
	uint64_t ttl = ttl_opt;

	if (!ttl) {
		ttl = (uint64_t)ring_s + URLSIGN_MARGIN;
		if (ttl < URLSIGN_TTL_DEF)
			ttl = URLSIGN_TTL_DEF;
	}

	return (uint64_t)time(NULL) + ttl;
}


static int mac(uint8_t out[MAC_LEN], const char *resid, const char *callid,
	       uint64_t exp)
{
	struct hmac *hm = NULL;
	struct mbuf *mb;
	int err;

	if (!key_set) {
		rand_bytes(key, sizeof(key));
		key_set = true;
	}

	mb = mbuf_alloc(128);
	if (!mb)
		return ENOMEM;

	err  = mbuf_write_str(mb, resid);
	err |= mbuf_write_u8(mb, 0);
	err |= mbuf_write_str(mb, callid);
	err |= mbuf_write_u8(mb, 0);
	err |= mbuf_printf(mb, "%llu", (unsigned long long)exp);
	if (err)
		goto out;

	/* libre built without OpenSSL has HMAC-SHA1 only: ENOTSUP. */
	err = hmac_create(&hm, HMAC_HASH_SHA256, key, sizeof(key));
	if (err)
		goto out;

	err = hmac_digest(hm, out, MAC_LEN, mb->buf, mb->end);

 out:
	mem_deref(hm);
	mem_deref(mb);

	return err;
}


int urlsign_sign(char *sig, size_t sz, const char *resid,
		 const char *callid, uint64_t exp)
{
	static const char hex[] = "0123456789abcdef";
	uint8_t md[MAC_LEN];
	size_t i;
	int err;

	if (!sig || sz <= URLSIGN_HEX || !resid || !*resid || !callid)
		return EINVAL;

	err = mac(md, resid, callid, exp);
	if (err)
		return err;

	for (i = 0; i < MAC_LEN; i++) {
		sig[2 * i]     = hex[md[i] >> 4];
		sig[2 * i + 1] = hex[md[i] & 0xf];
	}
	sig[URLSIGN_HEX] = '\0';

	return 0;
}


/* Lowercase only, as urlsign_sign() writes it: a signature has one
 * spelling. */
static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;

	return -1;
}


/* The canonical decimal only: 1..20 digits, no sign, no leading zero. */
static bool exp_parse(uint64_t *vp, const char *s)
{
	uint64_t v = 0;
	size_t n;

	n = strlen(s);
	if (n == 0 || n > EXP_DIGITS || (s[0] == '0' && n > 1))
		return false;

	for (; *s; s++) {
		unsigned d;

		if (*s < '0' || *s > '9')
			return false;
		d = (unsigned)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}

	*vp = v;

	return true;
}


int urlsign_verify(const char *resid, const char *callid, const char *exp,
		   const char *sig, uint64_t now)
{
	uint8_t want[MAC_LEN], got[MAC_LEN];
	uint64_t t;
	size_t i;
	int err;

	if (!resid || !*resid || !callid || !exp || !sig)
		return EACCES;

	if (!exp_parse(&t, exp) || strlen(sig) != URLSIGN_HEX)
		return EACCES;

	for (i = 0; i < MAC_LEN; i++) {
		int hi = hexval(sig[2 * i]), lo = hexval(sig[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return EACCES;
		got[i] = (uint8_t)(hi << 4 | lo);
	}

	err = mac(want, resid, callid, t);
	if (err)
		return EACCES;

	/* In constant time: the answer must not tell how many leading
	 * bytes of a guess were right. */
	if (mem_seccmp(want, got, MAC_LEN))
		return EACCES;

	/* Checked after the signature: only a URL we issued is old. */
	if (now > t)
		return ETIMEDOUT;

	return 0;
}
