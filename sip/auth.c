/**
 * @file auth.c  Digest authentication of subscribers with a password
 *               (RFC 3261 section 22, RFC 2617 with qop=auth)
 *
 * A subscriber whose profile sets a password must authenticate its
 * REGISTER (401, WWW-Authenticate) and its INVITEs (407,
 * Proxy-Authenticate).  Nonces are stateless: the issue time and an MD5
 * over a per-process secret and that time, so a forged or stale nonce is
 * recognised without a nonce table.
 */
#include <string.h>
#include <time.h>
#include <re.h>
#include "sip/sip_int.h"

#define REALM "cmrlab"

enum { NONCE_TTL_S = 300 };

static uint8_t secret[16];
static bool secret_set;


static void secret_init(void)
{
	if (secret_set)
		return;

	rand_bytes(secret, sizeof(secret));
	secret_set = true;
}


static int nonce_print(struct re_printf *pf, const uint32_t *t)
{
	uint8_t md[MD5_SIZE];
	int err;

	err = md5_printf(md, "%w:%08x", secret, sizeof(secret), *t);
	if (err)
		return err;

	return re_hprintf(pf, "%08x%w", *t, md, sizeof(md));
}


int sipauth_nonce(char *buf, size_t sz, uint32_t t)
{
	secret_init();

	return re_snprintf(buf, sz, "%H", nonce_print, &t) < 0 ? ENOMEM : 0;
}


/* 0: ours and fresh; ETIMEDOUT: ours but old; EAUTH: not ours. */
static int nonce_check(const struct pl *nonce, uint32_t now)
{
	char buf[41], want[41];
	struct pl tpl;
	uint32_t t;

	if (nonce->l != 40)
		return EAUTH;

	tpl.p = nonce->p;
	tpl.l = 8;
	t = pl_x32(&tpl);

	re_snprintf(want, sizeof(want), "%H", nonce_print, &t);
	pl_strcpy(nonce, buf, sizeof(buf));
	if (strcmp(buf, want))
		return EAUTH;

	if (now - t > NONCE_TTL_S)
		return ETIMEDOUT;

	return 0;
}


struct find {
	const char *user;
	struct httpauth_digest_resp resp;
	bool found;
};


static bool cred_handler(const struct sip_hdr *hdr, const struct sip_msg *msg,
			 void *arg)
{
	struct find *f = arg;
	struct httpauth_digest_resp resp;
	(void)msg;

	if (httpauth_digest_response_decode(&resp, &hdr->val))
		return false;

	if (pl_strcmp(&resp.realm, REALM) || pl_strcmp(&resp.username,
						       f->user))
		return false;

	f->resp = resp;
	f->found = true;

	return true;
}


int sipauth_check(const struct sip_msg *msg, const char *user,
		  const char *password, bool proxy, bool *stale)
{
	uint8_t ha1[MD5_SIZE];
	struct find f;
	int err;

	if (!msg || !user || !password)
		return EINVAL;

	secret_init();
	*stale = false;

	memset(&f, 0, sizeof(f));
	f.user = user;
	(void)sip_msg_hdr_apply(msg, true, proxy ?
				SIP_HDR_PROXY_AUTHORIZATION :
				SIP_HDR_AUTHORIZATION, cred_handler, &f);
	if (!f.found)
		return EAUTH;

	err = nonce_check(&f.resp.nonce, (uint32_t)time(NULL));
	if (err == ETIMEDOUT) {
		*stale = true;
		return EAUTH;
	}
	if (err)
		return EAUTH;

	err = md5_printf(ha1, "%s:%s:%s", user, REALM, password);
	if (err)
		return err;

	return httpauth_digest_response_auth(&f.resp, &msg->met, ha1);
}


void sipauth_challenge(struct sipsrv *srv, const struct sip_msg *msg,
		       bool proxy, bool stale)
{
	uint32_t now = (uint32_t)time(NULL);

	secret_init();

	(void)sip_treplyf(NULL, NULL, srv->sip, msg, false,
			  proxy ? 407 : 401, proxy ?
			  "Proxy Authentication Required" : "Unauthorized",
			  "%s: Digest realm=\"" REALM "\", nonce=\"%H\", "
			  "algorithm=MD5, qop=\"auth\"%s\r\n"
			  "Content-Length: 0\r\n\r\n",
			  proxy ? "Proxy-Authenticate" : "WWW-Authenticate",
			  nonce_print, &now, stale ? ", stale=true" : "");
}
