/**
 * @file sipstat.c  SIP messages the server received and sent, counted for
 *                  /metrics: requests by method, responses by status code
 *
 * server.c hands every message libre traces (received after decoding,
 * sent as it leaves) to sipstat_count(); rawin.c the datagrams libre
 * never decodes and the answers it makes to them.  Only the start line is
 * read.  The labels stay few: methods outside SIPSTAT_METHODS count as
 * "other", status codes outside 100-699 are not counted.  Retransmissions
 * are messages too and count each time.
 */
#include <string.h>
#include <re.h>
#include "sip/sip.h"

enum {
	CODE_MIN = 100,
	CODE_MAX = 699,
	CODES = CODE_MAX - CODE_MIN + 1,
};

/* RFC 3261 and its extensions that a SIP device sends; "other" last. */
static const char *methods[SIPSTAT_METHODS] = {
	"INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER", "PRACK",
	"UPDATE", "INFO", "SUBSCRIBE", "NOTIFY", "REFER", "MESSAGE",
	"PUBLISH", "other",
};

/* [0] received, [1] sent */
static struct {
	uint64_t req[2][SIPSTAT_METHODS];
	uint64_t rsp[2][CODES];
} st;


const char *sipstat_method_name(unsigned i)
{
	return i < SIPSTAT_METHODS ? methods[i] : NULL;
}


/*
 * The start line: "SIP/2.0 NNN ..." is a response (SIPSTAT_RESPONSE, the
 * code in *scodep), "METHOD SP ..." a request (SIPSTAT_REQUEST, the
 * method's index in *methodp; SIPSTAT_METHODS - 1 for one not in the
 * list).  SIPSTAT_NONE for anything else.  Methods are case-sensitive
 * (RFC 3261 7.1), so "invite" is "other".
 */
enum sipstat_kind sipstat_classify(const uint8_t *pkt, size_t len,
				   unsigned *methodp, uint16_t *scodep)
{
	static const char ver[] = "SIP/2.0 ";
	const size_t vl = sizeof(ver) - 1;
	size_t n;

	if (!pkt || !len)
		return SIPSTAT_NONE;

	if (len >= vl + 3 && !memcmp(pkt, ver, vl)) {
		uint16_t code = 0;

		for (size_t i = vl; i < vl + 3; i++) {
			if (pkt[i] < '0' || pkt[i] > '9')
				return SIPSTAT_NONE;
			code = (uint16_t)(code * 10 + (pkt[i] - '0'));
		}
		/* The reason phrase may be empty (and its space forgot). */
		if (len > vl + 3 && pkt[vl + 3] != ' ' && pkt[vl + 3] != '\r')
			return SIPSTAT_NONE;
		if (code < CODE_MIN || code > CODE_MAX)
			return SIPSTAT_NONE;
		if (scodep)
			*scodep = code;
		return SIPSTAT_RESPONSE;
	}

	/* A token (RFC 3261 25.1) and a space. */
	for (n = 0; n < len && pkt[n] != ' '; n++) {
		if (pkt[n] <= ' ' || pkt[n] >= 0x7f ||
		    strchr("()<>@,;:\\\"/[]?={}", pkt[n]))
			return SIPSTAT_NONE;
	}
	if (!n || n == len)
		return SIPSTAT_NONE;

	if (methodp) {
		unsigned i;

		for (i = 0; i < SIPSTAT_METHODS - 1; i++) {
			if (strlen(methods[i]) == n &&
			    !memcmp(pkt, methods[i], n))
				break;
		}
		*methodp = i;
	}

	return SIPSTAT_REQUEST;
}


void sipstat_count(bool tx, const uint8_t *pkt, size_t len)
{
	unsigned m = 0;
	uint16_t code = 0;

	switch (sipstat_classify(pkt, len, &m, &code)) {

	case SIPSTAT_REQUEST:
		++st.req[tx][m];
		break;

	case SIPSTAT_RESPONSE:
		++st.rsp[tx][code - CODE_MIN];
		break;

	default:
		break;
	}
}


uint64_t sipstat_requests(bool tx, unsigned method)
{
	return method < SIPSTAT_METHODS ? st.req[tx][method] : 0;
}


uint64_t sipstat_responses(bool tx, uint16_t scode)
{
	if (scode < CODE_MIN || scode > CODE_MAX)
		return 0;

	return st.rsp[tx][scode - CODE_MIN];
}


void sipstat_reset(void)
{
	memset(&st, 0, sizeof(st));
}
