/**
 * @file args.h  The values of cmrlab's command-line options, parsed
 */
#ifndef CMRLAB_CMD_ARGS_H
#define CMRLAB_CMD_ARGS_H

enum { TOKEN_MIN = 16, TOKEN_MAX = 256 };

int  args_addr(struct sa *sa, const char *s, const char *what);
int  args_advertise(struct sa *sa, const char *s);
int  args_token(char *tok, size_t sz, const char *path);
bool args_loopback(const struct sa *sa);
int  args_ports(uint16_t *lo, uint16_t *hi, const char *s);
/* error|warn|info|debug; else a message naming cmd and 0 is false. */
bool args_log_level(enum log_lvl *lvl, const char *s, const char *cmd);

/* sip:ADDR:PORT (sip:USER@ADDR:PORT, [V6] in brackets), an address of
 * laddr's family: what a user agent can send to without a resolver. */
bool args_sip_target(const char *target, const struct sa *laddr);

#endif
