/**
 * @file report.c  The demo's report page: one self-contained HTML file
 *
 * The page is meant to be opened from the disk, mailed or attached, years
 * later: so it loads nothing (inline CSS, inline SVG, the audio as a
 * data: URL) and runs nothing (no script).  Whatever text it shows came
 * off the wire in the end (reason phrases, URLs, SDP), so every text goes
 * through report_esc(): the five markup characters become entities,
 * which keeps them harmless in text and in quoted attributes alike, and
 * bytes that are not UTF-8 become U+FFFD, as the page says it is UTF-8.
 *
 * The page is written to PATH.tmp and renamed over PATH when it is whole:
 * a reader (a browser, the test that checks it) sees the old page or the
 * new one, never half of one.  The drawings are in report_svg.c.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <re.h>
#include "core/core.h"
#include "core/report_int.h"

/* base64_encode() works on whole buffers: the WAV goes in slices of a
 * multiple of 3 bytes, so that the pieces join into one encoding. */
enum { B64_IN = 3 * 1024, B64_OUT = 4 * 1024 };

static const char css[] =
	"body{font-family:sans-serif;margin:24px auto;max-width:1100px;"
	"color:#222;background:#fff}\n"
	"h1{font-size:1.6em;margin-bottom:0}\n"
	".date{color:#666;margin-top:4px}\n"
	"table{border-collapse:collapse;margin:8px 0}\n"
	"th,td{border:1px solid #ccc;padding:3px 10px;text-align:left;"
	"vertical-align:top}\n"
	"th{background:#f3f3f3}\n"
	"td.num{text-align:right;font-family:monospace}\n"
	".badge{display:inline-block;min-width:3.2em;text-align:center;"
	"border-radius:3px;color:#fff;font-weight:bold;font-size:.85em;"
	"padding:1px 4px}\n"
	".pass .badge{background:#1a7f37}\n"
	".fail .badge{background:#c62828}\n"
	".other .badge{background:#8a6d00}\n"
	"pre.text{white-space:pre-wrap;font-size:12px;background:#f6f6f6;"
	"padding:6px}\n"
	"section.case{border-top:2px solid #ddd;margin-top:28px}\n"
	"section.fail h2{color:#c62828}\n"
	".verdict{font-weight:bold}\n"
	"svg{display:block;max-width:100%;height:auto}\n"
	"svg text{font-family:sans-serif;font-size:13px}\n"
	"svg .note,svg .time{font-family:monospace;font-size:11px;"
	"fill:#444}\n"
	"svg .name{font-weight:bold}\n"
	"svg .life{stroke:#999;stroke-dasharray:4 3}\n"
	"svg .req{stroke:#1f5fbf;fill:#1f5fbf}\n"
	"svg .s1{stroke:#a86400;fill:#a86400}\n"
	"svg .s2{stroke:#1a7f37;fill:#1a7f37}\n"
	"svg .s3{stroke:#c62828;fill:#c62828}\n"
	"svg text.req,svg text.s1,svg text.s2,svg text.s3{stroke:none}\n"
	"svg path.loop{fill:none}\n"
	"svg .wave{stroke:#1f5fbf;fill:none;stroke-width:1}\n"
	"svg .axis{stroke:#888;fill:none}\n"
	"audio{margin:8px 0}\n";


size_t report_wrap(const char *s, size_t n, size_t width)
{
	size_t i = 0, chars = 0, space = 0, space_at = 0;

	while (i < n && chars < width) {
		size_t l = text_utf8_char(s + i, n - i);

		if (s[i] == ' ') {
			space = i;
			space_at = chars;
		}
		i += l ? l : 1;
		++chars;
	}

	/* All of it fits, or the next character is a space anyway. */
	if (i >= n || s[i] == ' ')
		return i;
	if (space && space_at >= width / 2)
		return space;

	return i;
}


void report_esc(FILE *f, const char *s, size_t n)
{
	size_t i = 0, run = 0;

	while (i < n) {
		const unsigned char c = (unsigned char)s[i];
		const char *ent = NULL;
		size_t l = text_utf8_char(s + i, n - i);

		switch (c) {

		case '&':  ent = "&amp;";  break;
		case '<':  ent = "&lt;";   break;
		case '>':  ent = "&gt;";   break;
		case '"':  ent = "&quot;"; break;
		case '\'': ent = "&#39;";  break;
		default:
			/* HTML allows no controls but tab and line ends. */
			if (!l || (c < 0x20 && c != '\t' && c != '\n' &&
				   c != '\r') || c == 0x7f)
				ent = "\xef\xbf\xbd";
			break;
		}

		if (!ent) {
			i += l;
			run += l;
			continue;
		}

		fwrite(s + i - run, 1, run, f);
		fputs(ent, f);
		run = 0;
		i += l ? l : 1;
	}

	fwrite(s + n - run, 1, run, f);
}


void report_escz(FILE *f, const char *s)
{
	if (s)
		report_esc(f, s, strlen(s));
}


static void case_id(FILE *f, const struct report_case *c)
{
	fputs("case-", f);
	report_escz(f, c->id);
}


static void print_head(FILE *f, const char *title, const char *date)
{
	fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n"
	      "<meta charset=\"utf-8\">\n<title>", f);
	report_escz(f, title);
	fprintf(f, " (%s)</title>\n<style>\n%s</style>\n</head>\n<body>\n"
		"<h1>", date, css);
	report_escz(f, title);
	fprintf(f, "</h1>\n<p class=\"date\">%s</p>\n", date);
}


static const char *case_class(const struct report_case *c)
{
	return c->badge ? "other" : c->passed ? "pass" : "fail";
}


static const char *case_badge(const struct report_case *c)
{
	return c->badge ? c->badge : c->passed ? "PASS" : "FAIL";
}


static void print_summary(FILE *f, const struct report_case *cases,
			  size_t n)
{
	size_t npass = 0;

	for (size_t i = 0; i < n; i++)
		npass += cases[i].passed;

	fprintf(f, "<p>%zu of %zu cases passed.</p>\n"
		"<table class=\"summary\">\n"
		"<tr><th>case</th><th>result</th><th>verdict</th></tr>\n",
		npass, n);

	for (size_t i = 0; i < n; i++) {
		const struct report_case *c = &cases[i];

		fprintf(f, "<tr class=\"%s\"><td><a href=\"#",
			case_class(c));
		case_id(f, c);
		fputs("\">", f);
		report_escz(f, c->title ? c->title : c->id);
		fprintf(f, "</a></td><td><span class=\"badge\">%s</span></td>"
			"<td>", case_badge(c));
		report_escz(f, c->verdict);
		fputs("</td></tr>\n", f);
	}

	fputs("</table>\n", f);
}


static void print_figs(FILE *f, const struct report_case *c)
{
	if (!c->nfigs || !c->figs)
		return;

	fputs("<h3>Figures</h3>\n<table class=\"figs\">\n", f);
	for (size_t i = 0; i < c->nfigs; i++) {
		const struct report_fig *fg = &c->figs[i];

		fputs("<tr><th>", f);
		report_esc(f, fg->name, strnlen(fg->name, sizeof(fg->name)));
		fputs("</th><td class=\"num\">", f);
		report_esc(f, fg->value,
			   strnlen(fg->value, sizeof(fg->value)));
		fputs("</td></tr>\n", f);
	}
	fputs("</table>\n", f);
}


/* The WAV as a data: URL, so that the page plays it without a file next
 * to it. */
static void print_audio(FILE *f, const uint8_t *wav, size_t sz)
{
	char out[B64_OUT];

	fputs("<audio controls preload=\"metadata\" "
	      "src=\"data:audio/wav;base64,", f);

	for (size_t off = 0; off < sz; off += B64_IN) {
		size_t in = sz - off < B64_IN ? sz - off : B64_IN;
		size_t olen = sizeof(out);

		if (base64_encode(wav + off, in, out, &olen)) {
			/* Cannot happen with these sizes; a broken URL
			 * would only fail to play. */
			break;
		}
		fwrite(out, 1, olen, f);
	}

	fputs("\"></audio>\n", f);
}


static void print_case(FILE *f, const struct report_case *c)
{
	fputs("<section id=\"", f);
	case_id(f, c);
	fprintf(f, "\" class=\"case %s\">\n<h2>", case_class(c));
	report_escz(f, c->title ? c->title : c->id);
	fprintf(f, "</h2>\n<p class=\"verdict\"><span class=\"badge\">%s"
		"</span> ", case_badge(c));
	report_escz(f, c->verdict);
	fputs("</p>\n", f);
	if (c->text) {
		fputs("<pre class=\"text\">", f);
		report_escz(f, c->text);
		fputs("</pre>\n", f);
	}

	fputs("<h3>SIP ladder</h3>\n", f);
	if (c->nrows && c->rows)
		report_svg_ladder(f, c);
	else
		fputs("<p>No SIP messages.</p>\n", f);

	print_figs(f, c);

	if (c->no_audio)
		goto out;
	fputs("<h3>What the client received</h3>\n", f);
	if (c->npcm && c->pcm)
		report_svg_wave(f, c->pcm, c->npcm);
	else
		fputs("<p>No audio.</p>\n", f);

	if (c->wavsz && c->wav)
		print_audio(f, c->wav, c->wavsz);
 out:
	fputs("</section>\n", f);
}


int report_html_write(const char *path, const char *title,
		      const struct report_case *cases, size_t n)
{
	char tmp[4096], date[64];
	time_t now = time(NULL);
	struct tm tm;
	FILE *f;
	int err = 0;

	if (!path || !*path || !title || (n && !cases))
		return EINVAL;
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return ENAMETOOLONG;

	if (!localtime_r(&now, &tm) ||
	    !strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S %z", &tm))
		snprintf(date, sizeof(date), "%lld s after the epoch",
			 (long long)now);

	f = fopen(tmp, "w");
	if (!f)
		return errno;
	errno = 0;

	print_head(f, title, date);
	print_summary(f, cases, n);
	for (size_t i = 0; i < n; i++)
		print_case(f, &cases[i]);
	fputs("</body>\n</html>\n", f);

	/* A full disk shows in the stream's error flag, in the flush or in
	 * the close; the data is on the disk before the rename. */
	if (ferror(f) || fflush(f) || fsync(fileno(f)))
		err = errno ? errno : EIO;
	if (fclose(f) && !err)
		err = errno ? errno : EIO;
	if (!err && rename(tmp, path))
		err = errno;
	if (err)
		(void)unlink(tmp);

	return err;
}
