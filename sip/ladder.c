/**
 * @file ladder.c  SIP ladders: what a message says for the CMR, and the
 *                 call flow in the terminal
 *
 * The note of a row is what a reader of the demo needs to see that the
 * mode did its job, in the order the modes are told apart: the URL of
 * HTTP mode, the early session of application server mode, the
 * reliability that both application server and gateway mode need, the
 * P-Early-Media of gateway mode, and last the ordinary session SDP that
 * early media and gateway mode answer with.  The note has 160 bytes; what
 * comes later is cut first.
 *
 * The SDP is summed up from its text, not through libre's decoder: a
 * summary must show what was sent, also when it is odd (no rtpmap, a
 * port 0, a second m= line), and must cost nothing.
 *
 * The terminal ladder puts the lifelines at fixed columns, so that rows
 * printed one at a time as the messages pass line up like sngrep's call
 * flow.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <re.h>
#include "sip/sip_int.h"
#include "sip/ladder.h"

enum {
	TERM_W    = 100,
	TIME_W    = 9,                     /* "+123.456s" */
	ARROW_MIN = 5,                     /* "--" + what + "-->" */
	NOTE_COL  = 65,
	NAME_MAX  = 24,
};

/* The lifelines' columns: 25 columns between two of them hold
 * "<--183 Session Progress--". */
static const size_t lane_col[3] = {10, 36, 62};


/* ---- the note ------------------------------------------------------- */

struct note {
	char *buf;
	size_t sz, len;
	bool full;
};


/* Cuts s (n bytes) to at most max bytes at a character boundary. */
static size_t cut_at(const char *s, size_t n, size_t max)
{
	size_t cut = 0;

	while (cut < n) {
		size_t l = text_utf8_char(s + cut, n - cut);

		if (!l)
			l = 1;
		if (cut + l > max)
			break;
		cut += l;
	}

	return cut;
}


/* Appends what fmt prints to the string in buf, cut to fit.  libre's
 * re_snprintf() leaves an empty string when the text is longer than the
 * buffer; a long URL or SDP line must be cut instead, so the text is
 * printed whole first. */
static void str_addf(char *buf, size_t sz, const char *fmt, ...)
{
	size_t len = strnlen(buf, sz), n;
	char *s = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (len + 1 >= sz || re_vsdprintf(&s, fmt, ap) || !s) {
		va_end(ap);
		return;
	}
	va_end(ap);

	n = cut_at(s, strlen(s), sz - 1 - len);
	memcpy(buf + len, s, n);
	buf[len + n] = '\0';
	mem_deref(s);
}


/* Appends one piece, after "; ".  A piece that does not fit whole is cut
 * at a character boundary and ends in "...", and nothing follows it. */
static void note_add(struct note *n, const char *fmt, ...)
{
	const char *sep = n->len ? "; " : "";
	char *piece = NULL;
	size_t need, room;
	va_list ap;

	if (n->full)
		return;

	va_start(ap, fmt);
	if (re_vsdprintf(&piece, fmt, ap) || !piece) {
		va_end(ap);
		return;
	}
	va_end(ap);

	need = strlen(sep) + strlen(piece);
	if (n->len + need < n->sz) {
		str_addf(n->buf, n->sz, "%s%s", sep, piece);
	}
	else {
		n->full = true;
		room = n->sz - 1 - n->len;
		if (room >= strlen(sep) + 4)
			str_addf(n->buf, n->sz, "%s%b...", sep, piece,
				 cut_at(piece, strlen(piece),
					room - strlen(sep) - 3));
	}

	n->len = strlen(n->buf);
	mem_deref(piece);
}


static const char *static_pt(const struct pl *pt)
{
	static const struct { const char *pt, *name; } tab[] = {
		{"0", "PCMU"}, {"3", "GSM"}, {"4", "G723"}, {"8", "PCMA"},
		{"9", "G722"}, {"18", "G729"},
	};

	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
		if (!pl_strcmp(pt, tab[i].pt))
			return tab[i].name;
	}

	return NULL;
}


/* The next whitespace-separated word of *s, which moves past it. */
static bool word(struct pl *s, struct pl *w)
{
	while (s->l && (*s->p == ' ' || *s->p == '\t'))
		pl_advance(s, 1);
	w->p = s->p;
	w->l = 0;
	while (w->l < s->l && s->p[w->l] != ' ' && s->p[w->l] != '\t')
		++w->l;
	pl_advance(s, w->l);

	return w->l > 0;
}


enum { SDP_FMTS = 3 };

/* What an SDP says about its first audio stream. */
struct sdp_sum {
	struct pl addr, port, dir;
	bool ip6, audio;
	struct pl fmt[SDP_FMTS], name[SDP_FMTS];
	unsigned nfmt, more;
};


static void sum_line(struct sdp_sum *ss, struct pl v, char type,
		     bool *in_m)
{
	struct pl w, a;

	switch (type) {

	case 'm':
		if (ss->audio) {
			*in_m = false;     /* past our stream: done */
			return;
		}
		if (!word(&v, &w) || pl_strcmp(&w, "audio")) {
			*in_m = true;      /* another stream: skipped */
			return;
		}
		ss->audio = true;
		*in_m = false;
		(void)word(&v, &ss->port);
		(void)word(&v, &w);        /* the transport */
		while (word(&v, &w)) {
			if (ss->nfmt < SDP_FMTS)
				ss->fmt[ss->nfmt++] = w;
			else
				++ss->more;
		}
		break;

	case 'c':
		if (*in_m)
			break;
		(void)word(&v, &w);        /* IN */
		(void)word(&v, &w);
		ss->ip6 = !pl_strcmp(&w, "IP6");
		if (word(&v, &a)) {
			const char *slash = pl_strchr(&a, '/');

			if (slash)
				a.l = (size_t)(slash - a.p);
			ss->addr = a;
		}
		break;

	case 'a':
		if (*in_m)
			break;
		if (!pl_strcmp(&v, "sendonly") || !pl_strcmp(&v, "recvonly") ||
		    !pl_strcmp(&v, "inactive") || !pl_strcmp(&v, "sendrecv"))
			ss->dir = v;
		else if (ss->audio && v.l > 7 && !strncmp(v.p, "rtpmap:", 7)) {
			pl_advance(&v, 7);
			(void)word(&v, &w);
			(void)word(&v, &a);
			if (pl_strchr(&a, '/'))
				a.l = (size_t)(pl_strchr(&a, '/') - a.p);
			for (unsigned i = 0; i < ss->nfmt; i++) {
				if (!pl_cmp(&w, &ss->fmt[i]))
					ss->name[i] = a;
			}
		}
		break;

	default:
		break;
	}
}


/* "c=IP:PORT PCMU PCMA sendonly" of the SDP's first audio stream. */
static void sdp_summary(char *buf, size_t sz, const struct pl *sdp)
{
	struct sdp_sum ss;
	struct pl rest = *sdp;
	bool in_m = false;

	memset(&ss, 0, sizeof(ss));

	while (rest.l) {
		const char *nl = pl_strchr(&rest, '\n');
		struct pl line = {rest.p, nl ? (size_t)(nl - rest.p) : rest.l};

		pl_advance(&rest, nl ? line.l + 1 : rest.l);
		if (line.l && line.p[line.l - 1] == '\r')
			--line.l;
		if (line.l < 2 || line.p[1] != '=')
			continue;
		if (ss.audio && line.p[0] == 'm')
			break;
		sum_line(&ss, (struct pl){line.p + 2, line.l - 2}, line.p[0],
			 &in_m);
	}

	buf[0] = '\0';
	if (!ss.audio) {
		str_addf(buf, sz, "no audio");
		return;
	}

	str_addf(buf, sz, ss.ip6 ? "c=[%r]:%r" : "c=%r:%r", &ss.addr,
		 &ss.port);
	for (unsigned i = 0; i < ss.nfmt; i++) {
		const char *st = static_pt(&ss.fmt[i]);

		if (ss.name[i].l)
			str_addf(buf, sz, " %r", &ss.name[i]);
		else
			str_addf(buf, sz, " %s", st ? st : "?");
	}
	if (ss.more)
		str_addf(buf, sz, " +%u", ss.more);
	if (ss.dir.l && pl_strcmp(&ss.dir, "sendrecv"))
		str_addf(buf, sz, " %r", &ss.dir);
}


static const char *sdp_role(const struct sip_msg *msg, enum ladder_sdp h)
{
	if (h == LADDER_SDP_OFFER)
		return "offer";
	if (h == LADDER_SDP_ANSWER)
		return "answer";
	if (!msg->req)
		return "answer";
	if (!pl_strcmp(&msg->met, "INVITE") || !pl_strcmp(&msg->met, "UPDATE"))
		return "offer";
	if (!pl_strcmp(&msg->met, "PRACK") || !pl_strcmp(&msg->met, "ACK"))
		return "answer";

	return "SDP";
}


/* An early session is offered where the session's offer is not: in a
 * reliable 18x toward the caller (CMRBT), in our PRACK toward the callee,
 * which requires early-session (CMRT); the caller's PRACK and the
 * callee's 200 to ours answer (docs/wire.md, application server mode). */
static const char *es_role(const struct sip_msg *msg, enum ladder_sdp h)
{
	if (h != LADDER_SDP_AUTO)
		return sdp_role(msg, h);
	if (!msg->req)
		return msg->scode < 200 ? "offer" : "answer";
	if (!pl_strcmp(&msg->met, "PRACK"))
		return sip_msg_hdr_has_value(msg, SIP_HDR_REQUIRE,
					     "early-session") ?
			"offer" : "answer";

	return sdp_role(msg, h);
}


static void note_tags(struct note *n, const struct sip_msg *msg,
		      enum sip_hdrid id, const char *name)
{
	bool rel = sip_msg_hdr_has_value(msg, id, "100rel");
	bool es = sip_msg_hdr_has_value(msg, id, "early-session");

	if (rel || es)
		note_add(n, "%s %s%s%s", name, rel ? "100rel" : "",
			 rel && es ? ", " : "", es ? "early-session" : "");
}


static void note_hdr(struct note *n, const struct sip_msg *msg,
		     enum sip_hdrid id, const char *name)
{
	const struct sip_hdr *h = sip_msg_hdr(msg, id);

	if (h)
		note_add(n, "%s %r", name, &h->val);
}


static void describe_what(struct report_row *row, const struct sip_msg *msg)
{
	char suffix[32] = "";
	size_t keep;

	if (msg->req) {
		str_addf(row->what, sizeof(row->what), "%r", &msg->met);
		return;
	}

	if (pl_strcmp(&msg->cseq.met, "INVITE"))
		str_addf(suffix, sizeof(suffix), " (%r)", &msg->cseq.met);

	/* The reason gives way to the method: "200 OK (PRACK)" keeps its
	 * "(PRACK)" whatever the reason's length. */
	keep = sizeof(row->what) - 1 - 4 - strlen(suffix);
	str_addf(row->what, sizeof(row->what), "%u %b%s", msg->scode,
		 msg->reason.p, cut_at(msg->reason.p, msg->reason.l, keep),
		 suffix);
}


void ladder_describe_as(struct report_row *row, const struct sip_msg *msg,
			enum ladder_sdp sdp)
{
	struct note n = {row ? row->note : NULL, sizeof(row->note), 0, false};
	struct body_view bv;
	char sum[96];
	int err;

	if (!row)
		return;
	row->what[0] = '\0';
	row->note[0] = '\0';
	if (!msg)
		return;

	describe_what(row, msg);

	note_hdr(&n, msg, SIP_HDR_ALERT_INFO, "Alert-Info");

	err = body_parse(&bv, msg);
	if (!err && bv.early.l) {
		sdp_summary(sum, sizeof(sum), &bv.early);
		note_add(&n, "early-session %s %s%s", es_role(msg, sdp), sum,
			 bv.multipart ? " (multipart)" : "");
	}

	note_tags(&n, msg, SIP_HDR_REQUIRE, "Require");
	note_tags(&n, msg, SIP_HDR_SUPPORTED, "Supported");
	note_hdr(&n, msg, SIP_HDR_RSEQ, "RSeq");
	note_hdr(&n, msg, SIP_HDR_RACK, "RAck");
	note_hdr(&n, msg, SIP_HDR_P_EARLY_MEDIA, "P-Early-Media");

	if (err == ENOTSUP)
		note_add(&n, "body %r/%r", &msg->ctyp.type,
			 &msg->ctyp.subtype);
	else if (err)
		note_add(&n, "malformed body");
	else if (bv.session.l) {
		const char *role = sdp_role(msg, sdp);

		sdp_summary(sum, sizeof(sum), &bv.session);
		note_add(&n, "%s%s %s", strcmp(role, "SDP") ? "SDP " : "",
			 role, sum);
	}
	else if (!msg->req && msg->scode >= 200 && msg->scode < 300 &&
		 !pl_strcmp(&msg->cseq.met, "INVITE"))
		note_add(&n, "no SDP");
}


void ladder_describe(struct report_row *row, const struct sip_msg *msg)
{
	ladder_describe_as(row, msg, LADDER_SDP_AUTO);
}


/* ---- the terminal ----------------------------------------------------- */

/* Prints at most max characters of s (n bytes): what is not UTF-8, and
 * controls (C0, DEL, C1, which a terminal may act on), as '?'.  Returns
 * the characters printed. */
static size_t put_text(FILE *f, const char *s, size_t n, size_t max)
{
	size_t i = 0, k = 0;

	while (i < n && k < max) {
		const unsigned char c = (unsigned char)s[i];
		size_t l = text_utf8_char(s + i, n - i);
		bool ctl = c < 0x20 || c == 0x7f ||
			(c == 0xc2 && l == 2 && (unsigned char)s[i + 1] < 0xa0);

		if (!l || ctl)
			fputc('?', f);
		else
			fwrite(s + i, 1, l, f);
		i += l ? l : 1;
		++k;
	}

	return k;
}


static void spaces(FILE *f, size_t n)
{
	while (n--)
		fputc(' ', f);
}


static const char *row_color(const struct report_row *row)
{
	if (row->what[0] < '0' || row->what[0] > '9')
		return "\x1b[36m";
	if (row->what[0] == '1')
		return "\x1b[33m";

	return row->what[0] == '2' ? "\x1b[32m" : "\x1b[31m";
}


/* Lifelines from column col up to, not including, column end; returns
 * end. */
static size_t lifelines(FILE *f, size_t col, size_t end)
{
	for (; col < end; col++)
		fputc(col == lane_col[0] || col == lane_col[1] ||
		      col == lane_col[2] ? '|' : ' ', f);

	return end;
}


void ladder_head_print(FILE *f, const char *const names[3], bool color)
{
	static const char *const dflt[3] = {"caller", "cmrlab", "callee"};
	size_t col = 0;

	if (!f)
		return;

	for (int i = 0; i < 3; i++) {
		const char *s = names && names[i] ? names[i] : dflt[i];
		size_t n = text_chars(s, strlen(s)), at;

		if (n > NAME_MAX)
			n = NAME_MAX;
		at = lane_col[i] > n / 2 ? lane_col[i] - n / 2 : 0;
		if (at < col)
			at = col;
		spaces(f, at - col);
		if (color)
			fputs("\x1b[1m", f);
		col = at + put_text(f, s, strlen(s), n);
		if (color)
			fputs("\x1b[0m", f);
	}

	fputc('\n', f);
	lifelines(f, 0, lane_col[2] + 1);
	fputc('\n', f);
}


/* The arrow between lifelines lo and hi (columns), which it replaces:
 * "--what---->" or "<--what----", what cut to fit. */
static void print_arrow(FILE *f, const struct report_row *row, size_t lo,
			size_t hi, bool right)
{
	size_t inner = hi - lo - 1;
	size_t wn = strnlen(row->what, sizeof(row->what));
	size_t wc = text_chars(row->what, wn), pad;

	if (wc > inner - ARROW_MIN)
		wc = inner - ARROW_MIN;
	pad = inner - 3 - wc;

	fputs(right ? "|--" : "|<--", f);
	(void)put_text(f, row->what, wn, wc);
	for (size_t i = 1; i < pad; i++)
		fputc('-', f);
	fputs(right ? "->|" : "-|", f);
}


void ladder_row_print(FILE *f, const struct report_row *row, bool color)
{
	uint8_t from, to;
	size_t col, lo, hi, nl, i, k;
	char t[24];

	if (!f || !row)
		return;

	from = row->from > RCOL_CALLEE ? RCOL_CALLEE : row->from;
	to = row->to > RCOL_CALLEE ? RCOL_CALLEE : row->to;

	snprintf(t, sizeof(t), "+%llu.%03llus",
		    (unsigned long long)(row->t_ms / 1000),
		    (unsigned long long)(row->t_ms % 1000));
	fprintf(f, "%*s ", TIME_W, t);
	col = strlen(t) > TIME_W ? strlen(t) + 1 : TIME_W + 1;

	lo = lane_col[from < to ? from : to];
	hi = lane_col[from < to ? to : from];
	col = lifelines(f, col < lo ? col : lo, lo);

	if (color)
		fputs(row_color(row), f);
	if (lo == hi) {
		/* A message a party sends itself: marked on its line. */
		fputs("*", f);
		col = lo + 1 + put_text(f, row->what,
					strnlen(row->what, sizeof(row->what)),
					NAME_MAX);
		if (color)
			fputs("\x1b[0m", f);
		if (col < lane_col[2] + 1)
			col = lifelines(f, col, lane_col[2] + 1);
	}
	else {
		print_arrow(f, row, lo, hi, to > from);
		if (color)
			fputs("\x1b[0m", f);
		col = lifelines(f, hi + 1, lane_col[2] + 1);
	}

	/* The note: on the arrow's line, then under it. */
	nl = strnlen(row->note, sizeof(row->note));
	i = 0;
	for (k = 0; ; k++) {
		size_t l;

		while (i < nl && row->note[i] == ' ')
			++i;
		if (i >= nl)
			break;
		/* A self-message's label may reach the note's column: the
		 * note then starts under it, not a space further right. */
		if (k || col >= NOTE_COL) {
			fputc('\n', f);
			col = lifelines(f, 0, lane_col[2] + 1);
		}
		l = report_wrap(row->note + i, nl - i, TERM_W - NOTE_COL);
		spaces(f, col < NOTE_COL ? NOTE_COL - col : 1);
		(void)put_text(f, row->note + i, l, TERM_W - NOTE_COL);
		i += l;
	}

	fputc('\n', f);
}
