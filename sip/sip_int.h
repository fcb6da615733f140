/**
 * @file sip_int.h  Shared inside sip/ only
 */
#ifndef CMRLAB_SIP_INT_H
#define CMRLAB_SIP_INT_H

#include "core/core.h"
#include "sip/sip.h"

struct call;

struct sipsrv {
	struct sipsrv_conf conf;
	struct sip *sip;
	struct dnsc *dnsc;
	struct sip_lsnr *lsnr_req;
	struct sip_lsnr *lsnr_rsp;
	struct hash *legs;         /* struct leg by Call-ID, every dialog */
	struct list calls;         /* struct call */
	struct tmr tmr_expire;
	struct tmr tmr_shutdown;
	sipsrv_done_h *doneh;
	void *done_arg;
	uint64_t deadline;         /* shutdown gives up waiting then */
	bool shutting_down;
};

/* registrar.c */
enum { REG_EXPIRES_DEFAULT = 3600, REG_EXPIRES_MAX = 3600,
       REG_EXPIRES_MIN = 60 };

struct reg_result {
	uint16_t scode;
	const char *reason;
	char extra[128];           /* extra header lines, e.g. Min-Expires */
};

int  registrar_apply(struct table *t, const struct sip_msg *msg,
		     uint64_t now, struct reg_result *res);
struct reg_view {
	const struct subscriber *s;
	uint64_t now;
};

int  registrar_contacts_print(struct re_printf *pf,
			      const struct reg_view *v);
void registrar_handle(struct sipsrv *srv, const struct sip_msg *msg);

/* policy.c: which delivery mode applies, per direction, and why */
struct cmr_choice {
	enum cmr_mode mode;        /* MODE_HTTP or MODE_OFF so far */
	const char *why;
	const char *resid;         /* resource id, or NULL */
};

void policy_choose_bt(struct cmr_choice *c, const struct subscriber *callee,
		      const char *caller, const struct sip_msg *invite);
void policy_choose_rt(struct cmr_choice *c, const struct subscriber *callee,
		      const char *caller);

/* mode_http.c: HTTP mode, clauses 1.1.1.3 and 1.1.1.4 */
int  modehttp_url(char *buf, size_t sz, const char *http_base,
		  const char *resid, const char *callid);
int  modehttp_alertinfo_print(struct re_printf *pf, const char *url);

/* b2bua.c */
bool b2bua_request(struct sipsrv *srv, const struct sip_msg *msg);
bool b2bua_response(struct sipsrv *srv, const struct sip_msg *msg);
void b2bua_shutdown(struct sipsrv *srv);
bool b2bua_idle(const struct sipsrv *srv);

/* auth.c: digest authentication of subscribers with a password */
int  sipauth_check(const struct sip_msg *msg, const char *user,
		   const char *password, bool proxy, bool *stale);
void sipauth_challenge(struct sipsrv *srv, const struct sip_msg *msg,
		       bool proxy, bool stale);
int  sipauth_nonce(char *buf, size_t sz, uint32_t t);

/* server.c helpers */
bool sipsrv_msg_valid(const struct sip_msg *msg, const char **why);
bool sipsrv_digits(const struct pl *pl, size_t maxlen);

#endif
