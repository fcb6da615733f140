/**
 * @file test_report.c  The demo's HTML report: sections, escaping, the
 *                      audio's data: URL, the waveform, whole file or none
 *
 * Every test writes a real page into a temporary folder and reads it back
 * as text.  The audio is checked the way a browser gets it: the data: URL
 * is cut out of the page and decoded, and must give back the WAV's bytes.
 *
 * CMRLAB_REPORT_KEEP=FILE in the environment also writes the two-case page
 * to FILE, for a look in a browser (tests/integration/chromium.py checks
 * such a page in a headless Chromium).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <re.h>
#include "core/report.h"
#include "tests/unit/leakcheck.h"
#include "tests/unit/lebytes.h"
#include "tests/unit/tmpfiles.h"

enum { RATE = 8000, NPCM = 2 * RATE, WAVHDR = 44 };

static char dir[64];
static char path[128];
static int16_t pcm[NPCM];
static uint8_t wav[WAVHDR + 2 * NPCM];

static const struct report_row rows_bt[] = {
	{0, RCOL_CALLER, RCOL_SERVER, "INVITE",
	 "Supported 100rel, early-session; SDP offer c=127.0.0.1:4000 PCMU"},
	{2, RCOL_SERVER, RCOL_CALLER, "100 Trying", ""},
	{3, RCOL_SERVER, RCOL_CALLEE, "INVITE",
	 "Alert-Info <http://127.0.0.1:8080/r/ringtone-default?call=c1>"},
	{9, RCOL_CALLEE, RCOL_SERVER, "180 Ringing", ""},
	{10, RCOL_SERVER, RCOL_CALLER, "180 Ringing",
	 "Alert-Info <http://127.0.0.1:8080/r/ringback-default?call=c1>"},
	{12, RCOL_CALLER, RCOL_SERVER, "MESSAGE",
	 "Contact <sip:a@b> & \"x\" 'y'"},
	{2010, RCOL_CALLEE, RCOL_SERVER, "200 OK", "SDP answer c=127.0.0.1:"
	 "6000 PCMU; and a note long enough to take more than one line of "
	 "the ladder's note column, which holds sixty-two characters"},
	{2011, RCOL_SERVER, RCOL_CALLER, "200 OK",
	 "SDP answer c=127.0.0.1:6000 PCMU"},
	{2015, RCOL_CALLER, RCOL_SERVER, "ACK", ""},
	{2016, RCOL_SERVER, RCOL_SERVER, "timer C", ""},
};

static const struct report_row rows_gw[] = {
	{0, RCOL_CALLER, RCOL_SERVER, "INVITE", "P-Early-Media supported"},
	{20, RCOL_CALLER, RCOL_CALLEE, "487 Request Terminated (INVITE)",
	 "an arrow across the middle lifeline"},
	{30, RCOL_SERVER, RCOL_CALLER,
	 "481 Call/Transaction Does Not Exist (BYE)", ""},
};

static const struct report_fig figs_bt[] = {
	{"ringback packets", "100"},
	{"first packet after 18x", "3 ms"},
	{"fig <&>", "\"quoted\""},
};


/* A ringback's cadence: 425 Hz for 1 s, then 1 s of silence. */
static void make_audio(void)
{
	for (size_t i = 0; i < NPCM; i++) {
		double s = i < RATE ? sin(2 * M_PI * 425 * i / RATE) : 0;

		pcm[i] = (int16_t)(s * 8000);
		le_put16(wav + WAVHDR + 2 * i, (uint16_t)pcm[i]);
	}

	le_wav_header(wav, 1, 1, RATE, 16, 2 * NPCM);
}


static void two_cases(struct report_case c[2])
{
	memset(c, 0, 2 * sizeof(*c));

	c[0].id = "http-bt";
	c[0].title = "HTTP mode, ringback (CMRBT)";
	c[0].passed = true;
	c[0].verdict = "pass: the 180 carried the URL & the GET got 200";
	c[0].rows = rows_bt;
	c[0].nrows = sizeof(rows_bt) / sizeof(rows_bt[0]);
	c[0].figs = figs_bt;
	c[0].nfigs = sizeof(figs_bt) / sizeof(figs_bt[0]);
	c[0].pcm = pcm;
	c[0].npcm = NPCM;
	c[0].wav = wav;
	c[0].wavsz = sizeof(wav);

	c[1].id = "gw-bt-update";
	c[1].title = "Gateway mode <UPDATE>";
	c[1].passed = false;
	c[1].verdict = "no RTP within 2 s of the 183";
	c[1].rows = rows_gw;
	c[1].nrows = sizeof(rows_gw) / sizeof(rows_gw[0]);
	c[1].cols[0] = "alice";
	c[1].cols[2] = "bob";
}


static bool exists(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0;
}


static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = strstr(hay, needle); p;
	     p = strstr(p + 1, needle))
		++n;

	return n;
}


static int setup(void **state)
{
	(void)state;

	strcpy(dir, "/tmp/report-unit-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/demo-report.html", dir);

	return 0;
}


static int teardown(void **state)
{
	char tmp[160];

	(void)state;
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	unlink(path);
	unlink(tmp);
	rmdir(dir);

	return 0;
}


static void test_two_cases(void **state)
{
	struct report_case c[2];
	const char *keep = getenv("CMRLAB_REPORT_KEEP");
	char *html, *p, *q, tmp[160];
	uint8_t *dec;
	size_t len, dlen;
	long mark;
	(void)state;

	two_cases(c);
	mark = leakcheck_mark();

	assert_int_equal(0, report_html_write(path, "cmrlab demo", c, 2));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	assert_false(exists(tmp));

	html = (char *)slurp(path, &len);
	assert_non_null(html);
	assert_int_equal(strlen(html), len);        /* no NUL inside */
	assert_ptr_equal(html, strstr(html, "<!DOCTYPE html>"));
	assert_non_null(strstr(html, "<meta charset=\"utf-8\">"));
	assert_non_null(strstr(html, "</html>\n"));

	/* The summary links to both sections, which are there once each. */
	assert_non_null(strstr(html, "<a href=\"#case-http-bt\">"));
	assert_non_null(strstr(html, "<a href=\"#case-gw-bt-update\">"));
	assert_int_equal(1, count(html,
		"<section id=\"case-http-bt\" class=\"case pass\">"));
	assert_int_equal(1, count(html,
		"<section id=\"case-gw-bt-update\" class=\"case fail\">"));
	assert_int_equal(2, count(html, "</section>"));
	assert_non_null(strstr(html, "1 of 2 cases passed"));

	/* Text from the wire is text, in notes, titles, figures, verdicts. */
	assert_null(strstr(html, "<sip:a@b>"));
	assert_non_null(strstr(html, "Contact &lt;sip:a@b&gt; &amp; "
			       "&quot;x&quot; &#39;y&#39;"));
	assert_non_null(strstr(html, "Gateway mode &lt;UPDATE&gt;"));
	assert_non_null(strstr(html, "fig &lt;&amp;&gt;"));
	assert_non_null(strstr(html, "the URL &amp; the GET"));
	assert_null(strstr(html, "<UPDATE>"));

	/* Ladders: three named lifelines each, one arrowhead per arrow. */
	assert_int_equal(2, count(html, "<svg class=\"ladder\""));
	assert_int_equal(6, count(html, "<line class=\"life\""));
	assert_non_null(strstr(html, ">alice</text>"));
	assert_non_null(strstr(html, ">cmrlab</text>"));
	assert_non_null(strstr(html, ">bob</text>"));
	assert_non_null(strstr(html, ">callee</text>"));
	assert_int_equal(sizeof(rows_bt) / sizeof(rows_bt[0]) +
			 sizeof(rows_gw) / sizeof(rows_gw[0]),
			 count(html, "<polygon class="));
	assert_non_null(strstr(html, "+2.010 s"));
	assert_non_null(strstr(html, "textLength="));    /* a long label */

	/* The waveform of case 1: 800 columns; case 2 has no audio. */
	p = strstr(html, "<path class=\"wave\" d=\"M");
	assert_non_null(p);
	q = strchr(p + 22, '"');
	assert_non_null(q);
	*q = '\0';
	assert_int_equal(800, count(p, "M"));
	*q = '"';
	assert_non_null(strstr(html, ">1.0 s</text>"));
	assert_non_null(strstr(html, ">2.0 s</text>"));
	assert_non_null(strstr(html, "<p>No audio.</p>"));

	/* One player, whose data: URL decodes to the WAV given. */
	assert_int_equal(1, count(html, "<audio controls"));
	p = strstr(html, "src=\"data:audio/wav;base64,");
	assert_non_null(p);
	p += strlen("src=\"data:audio/wav;base64,");
	q = strchr(p, '"');
	assert_non_null(q);
	dlen = (size_t)(q - p);
	dec = malloc(dlen);
	assert_non_null(dec);
	assert_int_equal(0, base64_decode(p, (size_t)(q - p), dec, &dlen));
	assert_int_equal(sizeof(wav), dlen);
	assert_memory_equal(wav, dec, sizeof(wav));
	free(dec);

	/* Nothing runs, nothing loads. */
	assert_null(strcasestr(html, "<script"));
	assert_null(strcasestr(html, "http-equiv"));
	assert_null(strcasestr(html, "src=\"http"));
	assert_null(strcasestr(html, "href=\"http"));
	free(html);

	if (keep && *keep)
		assert_int_equal(0, report_html_write(keep, "cmrlab demo",
						      c, 2));

	leakcheck_assert(mark);
}


static void test_bad_path(void **state)
{
	struct report_case c[2];
	char bad[160], tmp[160];
	long mark;
	(void)state;

	two_cases(c);
	mark = leakcheck_mark();

	assert_int_equal(EINVAL, report_html_write(NULL, "t", c, 2));
	assert_int_equal(EINVAL, report_html_write("", "t", c, 2));
	assert_int_equal(EINVAL, report_html_write(path, NULL, c, 2));
	assert_int_equal(EINVAL, report_html_write(path, "t", NULL, 2));
	assert_false(exists(path));

	/* A folder that does not exist: nothing is written. */
	snprintf(bad, sizeof(bad), "%s/no-such-dir/r.html", dir);
	assert_int_equal(ENOENT, report_html_write(bad, "t", c, 2));
	assert_false(exists(bad));

	/* The page is whole but cannot replace a folder: the temporary
	 * file goes, the folder stays. */
	assert_int_equal(0, mkdir(path, 0700));
	assert_int_equal(EISDIR, report_html_write(path, "t", c, 2));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	assert_false(exists(tmp));
	assert_int_equal(0, rmdir(path));

	/* An older page stays as it was when the new one fails. */
	assert_int_equal(0, report_html_write(path, "old", c, 0));
	assert_int_equal(0, mkdir(tmp, 0700));
	assert_true(report_html_write(path, "new", c, 2) != 0);
	{
		char *html = (char *)slurp(path, NULL);

		assert_non_null(html);
		assert_non_null(strstr(html, "<h1>old</h1>"));
		free(html);
	}
	assert_int_equal(0, rmdir(tmp));

	leakcheck_assert(mark);
}


static void test_text(void **state)
{
	static const struct report_row row = {
		5, RCOL_SERVER, RCOL_CALLER, "183 \xc3\xa9t\xc3\xa9",
		"bad \xff byte, \xed\xa0\x80 surrogate, ctl \x1b[2J end"
	};
	struct report_case c;
	char *html;
	long mark;
	(void)state;

	memset(&c, 0, sizeof(c));
	c.id = "x\"y";
	c.title = "t";
	c.passed = true;
	c.rows = &row;
	c.nrows = 1;
	c.pcm = pcm;
	c.npcm = 100;       /* fewer samples than columns: one each */
	mark = leakcheck_mark();

	assert_int_equal(0, report_html_write(path, "t", &c, 1));
	html = (char *)slurp(path, NULL);
	assert_non_null(html);

	assert_non_null(strstr(html, "id=\"case-x&quot;y\""));
	assert_non_null(strstr(html, "183 \xc3\xa9t\xc3\xa9"));
	assert_non_null(strstr(html, "bad \xef\xbf\xbd byte"));
	assert_non_null(strstr(html, ", \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
			       " surrogate"));
	assert_non_null(strstr(html, "ctl \xef\xbf\xbd[2J end"));
	assert_null(strchr(html, '\x1b'));
	assert_null(strstr(html, "\xff"));

	{
		char *p = strstr(html, "<path class=\"wave\" d=\"M"), *q;

		assert_non_null(p);
		q = strchr(p + 22, '"');
		*q = '\0';
		assert_int_equal(100, count(p, "M"));
	}
	free(html);

	leakcheck_assert(mark);
}


static void test_wrap(void **state)
{
	static const char s[] = "Require 100rel; RSeq 1; P-Early-Media x";
	(void)state;

	/* All fits; a break after a word; a hard cut; UTF-8 kept whole. */
	assert_int_equal(strlen(s), report_wrap(s, strlen(s), 100));
	assert_int_equal(20, report_wrap(s, strlen(s), 20));
	assert_int_equal(15, report_wrap(s, strlen(s), 18));
	assert_int_equal(4, report_wrap("abcdefgh", 8, 4));
	assert_int_equal(6, report_wrap("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9",
					8, 3));
	assert_int_equal(3, report_wrap("abc def", 7, 3));
}


/* The first localtime() loads the time zone, and stdio allocates its
 * buffers once: a first page before any mark. */
static int group_setup(void **state)
{
	struct report_case c[2];

	make_audio();
	if (setup(state))
		return -1;
	two_cases(c);
	if (report_html_write(path, "warm-up", c, 2))
		return -1;

	return teardown(state);
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_two_cases, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_bad_path, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_text, setup, teardown),
		cmocka_unit_test(test_wrap),
	};

	return cmocka_run_group_tests(tests, group_setup, NULL);
}
