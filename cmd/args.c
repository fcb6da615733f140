/**
 * @file args.c  The values of cmrlab's command-line options: addresses,
 *               the RTP port range, the API token file
 *
 * Each parser prints its own error, naming the option, and returns a
 * positive errno; the caller exits 2.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <re.h>
#include "core/core.h"
#include "cmd/args.h"

int args_addr(struct sa *sa, const char *s, const char *what)
{
	const char *colon, *p;
	char host[64];
	size_t hl;
	unsigned long port;

	/* ADDR:PORT or [V6ADDR]:PORT */
	if (s[0] == '[') {
		const char *rb = strchr(s, ']');

		if (!rb || rb[1] != ':')
			goto bad;
		colon = rb + 1;
		s++;
		hl = (size_t)(rb - s);
	}
	else {
		colon = strrchr(s, ':');
		if (!colon || strchr(s, ':') != colon)
			goto bad;
		hl = (size_t)(colon - s);
	}

	if (!hl || hl >= sizeof(host) || !colon[1] || strlen(colon + 1) > 5)
		goto bad;
	for (p = colon + 1; *p; p++) {
		if (*p < '0' || *p > '9')
			goto bad;
	}
	port = strtoul(colon + 1, NULL, 10);
	if (port > 65535)
		goto bad;

	memcpy(host, s, hl);
	host[hl] = '\0';
	if (sa_set_str(sa, host, (uint16_t)port)) {
		fprintf(stderr, "cmrlab: %s: '%s' is not an IP address\n",
			what, host);
		return EINVAL;
	}

	return 0;

 bad:
	fprintf(stderr, "cmrlab: %s: '%s' is not ADDR:PORT\n", what, s);
	return EINVAL;
}


/* --advertise: an IPv4 or IPv6 literal (brackets allowed), without a
 * port, that a peer can send to: not 0.0.0.0, ::, or multicast. */
int args_advertise(struct sa *sa, const char *s)
{
	char host[64];
	uint8_t a6[16];
	size_t l = strlen(s);
	const char *arg = s;
	const char *why = "is not an IPv4 or IPv6 address";

	if (l >= 2 && s[0] == '[' && s[l - 1] == ']') {
		++s;
		l -= 2;
	}
	if (!l || l >= sizeof(host))
		goto bad;
	memcpy(host, s, l);
	host[l] = '\0';

	if (sa_set_str(sa, host, 0))
		goto bad;

	if (!sa_isset(sa, SA_ADDR)) {
		why = "is the unspecified address; name one that peers can "
			"reach";
		goto bad;
	}
	if (sa_af(sa) == AF_INET6)
		sa_in6(sa, a6);
	if ((sa_af(sa) == AF_INET && (sa_in(sa) >> 28) == 0xe) ||
	    (sa_af(sa) == AF_INET6 && a6[0] == 0xff)) {
		why = "is a multicast address";
		goto bad;
	}

	return 0;

 bad:
	fprintf(stderr, "cmrlab: --advertise: '%s' %s\n", arg, why);
	return EINVAL;
}


/* --api-token-file: the token is the file's first line without its
 * trailing CR and LF, 16 to 256 printable ASCII characters other than
 * the space (what RFC 6750's b64token allows and more, but nothing that
 * could not travel in a header as it is).  The rest of the file is
 * ignored.  Errors name the file and the reason. */
int args_token(char *tok, size_t sz, const char *path)
{
	char buf[TOKEN_MAX + 3];   /* a maximal line, CR, LF */
	const char *why = NULL;
	size_t n, len;
	FILE *f;
	int err = 0;

	f = fopen(path, "r");
	if (!f) {
		err = errno;
		goto out;
	}
	errno = 0;
	n = fread(buf, 1, sizeof(buf), f);
	if (ferror(f))
		err = errno ? errno : EIO;
	fclose(f);
	if (err)
		goto out;

	if (!n) {
		why = "the file is empty";
		goto out;
	}

	for (len = 0; len < n && buf[len] != '\n'; len++)
		;
	if (len == n && n == sizeof(buf)) {
		why = "the token is longer than 256 characters";
		goto out;
	}
	while (len && (buf[len - 1] == '\r' || buf[len - 1] == '\n'))
		--len;

	if (!len) {
		why = "the first line is empty";
		goto out;
	}
	if (len < TOKEN_MIN || len > TOKEN_MAX || len >= sz) {
		why = len < TOKEN_MIN ?
			"the token is shorter than 16 characters" :
			"the token is longer than 256 characters";
		goto out;
	}
	for (size_t i = 0; i < len; i++) {
		if (buf[i] < 0x21 || buf[i] > 0x7e) {
			why = "the token has a space or a byte that is not "
				"printable ASCII";
			goto out;
		}
	}

	memcpy(tok, buf, len);
	tok[len] = '\0';

 out:
	if (err)
		fprintf(stderr, "cmrlab: --api-token-file: %s: %s\n", path,
			strerror(err));
	else if (why)
		fprintf(stderr, "cmrlab: --api-token-file: %s: %s\n", path,
			why);
	memset(buf, 0, sizeof(buf));

	return err ? err : why ? EINVAL : 0;
}


/* 127.0.0.0/8 and ::1; 0.0.0.0 and :: listen on every address, so they
 * are not.  (libre 1.1.0's sa_is_args_loopback() takes 127.0.0.1 alone.) */
bool args_loopback(const struct sa *sa)
{
	uint8_t a6[16];

	if (sa_af(sa) == AF_INET)
		return (sa_in(sa) >> 24) == 127;

	if (sa_af(sa) == AF_INET6) {
		static const uint8_t one[16] = { [15] = 1 };

		sa_in6(sa, a6);
		return !memcmp(a6, one, sizeof(a6));
	}

	return false;
}


/* A decimal number of 1..5 digits at *sp, which moves past it. */
static bool port_num(const char **sp, uint32_t *v)
{
	const char *p = *sp;
	uint32_t n = 0;
	int digits = 0;

	while (*p >= '0' && *p <= '9' && digits < 6) {
		n = n * 10 + (uint32_t)(*p++ - '0');
		++digits;
	}
	if (!digits || digits > 5)
		return false;

	*sp = p;
	*v = n;

	return true;
}


int args_ports(uint16_t *lo, uint16_t *hi, const char *s)
{
	const char *p = s;
	uint32_t l, h;

	if (!port_num(&p, &l) || *p++ != '-' || !port_num(&p, &h) || *p)
		goto bad;

	/* RTP on even ports, RTCP on the next: the range holds a pair. */
	if (l < 1024 || h > 65535 || l + 1 > h || (l & 1))
		goto bad;

	*lo = (uint16_t)l;
	*hi = (uint16_t)h;

	return 0;

 bad:
	fprintf(stderr, "cmrlab: --rtp-ports: '%s' is not LO-HI with an "
		"even LO, 1024 <= LO < HI <= 65535\n", s);
	return EINVAL;
}


bool args_log_level(enum log_lvl *lvl, const char *s, const char *cmd)
{
	static const struct { const char *name; enum log_lvl lvl; } t[] = {
		{ "error", LVL_ERROR }, { "warn", LVL_WARN },
		{ "info", LVL_INFO },   { "debug", LVL_DEBUG },
	};

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		if (!strcmp(s, t[i].name)) {
			*lvl = t[i].lvl;
			return true;
		}
	}

	fprintf(stderr, "%s: --log-level: '%s' is not error|warn|info|debug\n",
		cmd, s);
	return false;
}


/* --target: sip:ADDR:PORT (or sip:USER@ADDR:PORT, [V6ADDR] in brackets),
 * ADDR an IP address of --sip's family.  The user agent asks no resolver
 * (sip/ua.c): a host name, like a port over 65535, would only time out. */
bool args_sip_target(const char *target, const struct sa *laddr)
{
	const char *hp = target + 4, *at, *colon, *p;
	char host[64];
	unsigned long port;
	struct sa sa;
	size_t hl;

	if (strncmp(target, "sip:", 4))
		return false;
	at = strchr(hp, '@');
	if (at)
		hp = at + 1;

	if (*hp == '[') {
		colon = strchr(hp, ']');
		if (!colon || colon[1] != ':')
			return false;
		++hp;
		hl = (size_t)(colon - hp);
		++colon;
	}
	else {
		colon = strrchr(hp, ':');
		if (!colon)
			return false;
		hl = (size_t)(colon - hp);
	}
	if (!hl || hl >= sizeof(host) || !colon[1] || strlen(colon + 1) > 5)
		return false;
	for (p = colon + 1; *p; p++) {
		if (*p < '0' || *p > '9')
			return false;
	}
	port = strtoul(colon + 1, NULL, 10);
	if (!port || port > 65535)
		return false;

	memcpy(host, hp, hl);
	host[hl] = '\0';
	if (sa_set_str(&sa, host, (uint16_t)port))
		return false;

	return sa_af(&sa) == sa_af(laddr);
}
