/**
 * @file fuzz_cmrc.c  Fuzz harness of what the CMR Client reads from a
 *                    message: sip/cmrc_sdp.c's answer, the Alert-Info
 *                    URL, P-Early-Media, the body, and sip/ladder.c's row
 *
 * The input is one SIP message, in an mbuf of its exact size, decoded by
 * libre's sip_msg_decode() as the client's listener gets it.  What
 * decodes goes through:
 *  - body_parse(), and cmrc_sdp_answer() on the body as it came and on
 *    each SDP of the body view (session, early-session);
 *  - cmrc_alertinfo_url() into a buffer of the client's size, then one
 *    of the URL's exact size and one a byte short;
 *  - cmrc_has_pem_sendrecv();
 *  - ladder_describe() (and ladder_describe_as() both ways) into a row,
 *    which ladder_row_print() prints into memory.
 * The whole input is also taken as an SDP offer, in a heap block of its
 * own exact size, by cmrc_sdp_answer().
 *
 * Checked:
 *  - an answer is made only of an offer that modegw_peek() reads with
 *    PCMU or PCMA first; it names that payload type, reads back through
 *    modegw_peek() as our address and that codec, and has exactly one
 *    direction line; a refused offer leaves no answer;
 *  - body_parse() answers 0, EBADMSG or ENOTSUP, with views inside the
 *    message;
 *  - an Alert-Info URL is the whole text between the first '<' and '>'
 *    of the header (an empty "<>" passed over), NUL-terminated in the
 *    buffer, refused rather than cut when it does not fit;
 *  - P-Early-Media: sendrecv is seen only where there is a P-Early-Media;
 *  - the row's what and note are NUL-terminated within their arrays;
 *    what is the start of the method, or starts with a status code; the
 *    printed row has no control byte but its line ends (and ESC of the
 *    colours when asked), and no line wider than 100 columns.  The row's
 *    time is below 1000 s, as in the demo.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <re.h>
#include "sip/cmrc_int.h"
#include "sip/ladder.h"
#include "tests/fuzz/fuzz.h"

enum { URL_SZ = 256, TERM_W = 100 };   /* cmrc_http.c's URL buffer */

static struct sa addr4, addr6;


int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;

	log_setup(LVL_ERROR);
	if (sa_set_str(&addr4, "127.0.0.1", 40010) ||
	    sa_set_str(&addr6, "::1", 40012))
		abort();

	return 0;
}


static bool inside(const struct pl *v, const struct mbuf *mb)
{
	const char *b = (const char *)mb->buf, *e = b + mb->end;

	if (!v->p)
		return v->l == 0;

	return v->p >= b && v->p <= e && v->l <= (size_t)(e - v->p);
}


static size_t occurs(const struct mbuf *mb, const char *s)
{
	const size_t n = strlen(s);
	size_t k = 0;

	for (size_t i = 0; i + n <= mb->end; i++) {
		if (!memcmp(mb->buf + i, s, n))
			++k;
	}

	return k;
}


/* ---- cmrc_sdp.c ------------------------------------------------------- */

static void answer_check(const struct pl *offer, const struct sa *addr)
{
	struct mbuf *mb = NULL;
	struct sa got;
	struct pl ans;
	char mline[48];
	int pt = -1, opt = -1, apt = -1, err;

	err = cmrc_sdp_answer(&mb, offer, addr, 9, 2, &pt);
	if (err) {
		FUZZ_CHECK(mb == NULL);
		FUZZ_CHECK(pt == -1);
		return;
	}

	FUZZ_CHECK(mb != NULL);
	FUZZ_CHECK(pt == MEDIA_PT_PCMU || pt == MEDIA_PT_PCMA);
	FUZZ_CHECK(modegw_peek(offer, &got, &opt) == 0 && opt == pt);

	(void)re_snprintf(mline, sizeof(mline), "m=audio %u RTP/AVP %d\r\n",
			  sa_port(addr), pt);
	FUZZ_CHECK(occurs(mb, mline) == 1);
	FUZZ_CHECK(occurs(mb, "a=sendrecv\r\n") + occurs(mb, "a=sendonly\r\n")
		   + occurs(mb, "a=recvonly\r\n")
		   + occurs(mb, "a=inactive\r\n") == 1);

	ans.p = (const char *)mb->buf;
	ans.l = mb->end;
	FUZZ_CHECK(modegw_peek(&ans, &got, &apt) == 0);
	FUZZ_CHECK(apt == pt);
	FUZZ_CHECK(sa_cmp(&got, addr, SA_ALL));

	mem_deref(mb);
}


/* ---- cmrc.c ----------------------------------------------------------- */

static void alertinfo_check(const struct sip_msg *msg)
{
	const struct sip_hdr *h = sip_msg_hdr(msg, SIP_HDR_ALERT_INFO);
	const char *lt;
	char *buf;
	size_t n;

	buf = malloc(URL_SZ);
	if (!buf)
		abort();

	if (!cmrc_alertinfo_url(msg, buf, URL_SZ)) {
		free(buf);
		return;
	}

	/* The text between the header's first '<' that an empty "<>" does
	 * not follow and the '>' after it, all of it. */
	FUZZ_CHECK(h != NULL);
	FUZZ_CHECK(memchr(buf, '\0', URL_SZ) != NULL);
	n = strlen(buf);
	FUZZ_CHECK(n > 0);
	for (lt = h->val.p; lt + 1 < h->val.p + h->val.l; lt++) {
		if (lt[0] == '<' && lt[1] != '>')
			break;
	}
	FUZZ_CHECK(lt + 1 < h->val.p + h->val.l);
	++lt;
	FUZZ_CHECK((size_t)(lt - h->val.p) + n < h->val.l);
	FUZZ_CHECK(!memcmp(lt, buf, n));
	FUZZ_CHECK(lt[n] == '>');
	free(buf);

	/* Exactly its size is enough; a byte short is no URL. */
	buf = malloc(n + 1);
	if (!buf)
		abort();
	FUZZ_CHECK(cmrc_alertinfo_url(msg, buf, n + 1));
	FUZZ_CHECK(strlen(buf) == n);
	FUZZ_CHECK(!cmrc_alertinfo_url(msg, buf, n));
	free(buf);
}


/* ---- ladder.c --------------------------------------------------------- */

/* what: the method (as a C string: up to a NUL byte, which libre's
 * decoder lets through), or the status code first. */
static void row_check(const struct report_row *row,
		      const struct sip_msg *msg)
{
	size_t n;

	FUZZ_CHECK(memchr(row->what, '\0', sizeof(row->what)) != NULL);
	FUZZ_CHECK(memchr(row->note, '\0', sizeof(row->note)) != NULL);

	n = strlen(row->what);
	if (msg->req) {
		FUZZ_CHECK(n <= msg->met.l);
		FUZZ_CHECK(!memcmp(row->what, msg->met.p, n));
		FUZZ_CHECK(n || msg->met.p[0] == '\0');
	}
	else {
		FUZZ_CHECK(n > 0 && row->what[0] >= '0' &&
			   row->what[0] <= '9');
	}
}


/* The terminal's line: no control byte but LF (and the colours' ESC),
 * at most TERM_W columns each, the colours' sequences left out. */
static void print_check(const struct report_row *row, bool color)
{
	char *out = NULL;
	size_t len = 0, cols = 0;
	FILE *f;

	f = open_memstream(&out, &len);
	if (!f)
		abort();
	ladder_row_print(f, row, color);
	if (fclose(f))
		abort();

	FUZZ_CHECK(len > 0 && out[len - 1] == '\n');
	for (size_t i = 0; i < len; i++) {
		const unsigned char c = (unsigned char)out[i];

		if (c == '\n') {
			cols = 0;
			continue;
		}
		if (c == 0x1b) {
			FUZZ_CHECK(color);
			while (i < len && out[i] != 'm')
				++i;
			continue;
		}
		FUZZ_CHECK(c >= 0x20 && c != 0x7f);
		if ((c & 0xc0) != 0x80)
			FUZZ_CHECK(++cols <= TERM_W);
	}

	free(out);
}


static void ladder_check(const struct sip_msg *msg, size_t size)
{
	struct report_row *row = malloc(sizeof(*row));

	if (!row)
		abort();

	memset(row, 0x55, sizeof(*row));
	ladder_describe_as(row, msg, LADDER_SDP_OFFER);
	row_check(row, msg);
	memset(row, 0x55, sizeof(*row));
	ladder_describe_as(row, msg, LADDER_SDP_ANSWER);
	row_check(row, msg);

	memset(row, 0x55, sizeof(*row));
	ladder_describe(row, msg);
	row_check(row, msg);

	/* Any lifelines (beyond the three too), a time the demo takes. */
	row->t_ms = (uint64_t)size * 7919 % 1000000;
	row->from = (uint8_t)(size % 4);
	row->to = (uint8_t)(size / 4 % 4);
	print_check(row, size & 16);

	free(row);
}


static void message_check(struct sip_msg *msg)
{
	struct body_view bv;
	struct pl body;
	int err;

	body.p = (const char *)mbuf_buf(msg->mb);
	body.l = mbuf_get_left(msg->mb);
	answer_check(&body, &addr4);

	err = body_parse(&bv, msg);
	FUZZ_CHECK(err == 0 || err == EBADMSG || err == ENOTSUP);
	if (!err) {
		FUZZ_CHECK(inside(&bv.session, msg->mb));
		FUZZ_CHECK(inside(&bv.early, msg->mb));
		if (bv.session.l)
			answer_check(&bv.session, &addr4);
		if (bv.early.l)
			answer_check(&bv.early, &addr6);
	}

	alertinfo_check(msg);

	if (cmrc_has_pem_sendrecv(msg))
		FUZZ_CHECK(sip_msg_xhdr(msg, "P-Early-Media") != NULL);
}


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sip_msg *msg = NULL;
	struct mbuf *mb;
	struct pl sdp;
	char *raw;

	mb = mbuf_alloc(size ? size : 1);
	if (!mb || mbuf_write_mem(mb, data, size))
		abort();
	mb->pos = 0;

	if (!sip_msg_decode(&msg, mb)) {
		message_check(msg);
		ladder_check(msg, size);
	}
	mem_deref(msg);
	mem_deref(mb);

	raw = dup_exact(data, size, &sdp);
	answer_check(&sdp, size & 1 ? &addr6 : &addr4);
	free(raw);

	return 0;
}
