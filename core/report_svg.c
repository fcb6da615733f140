/**
 * @file report_svg.c  The report's drawings: a case's SIP ladder and the
 *                     waveform of what its client received
 *
 * Both are inline SVG with fixed coordinates in a viewBox, so the browser
 * scales them to the page's width.  SVG text does not wrap: a note is cut
 * into lines here, by character count in a monospace font, whose width is
 * known well enough (0.6 em a character).  A row's <title> holds its whole
 * text for the browser's tooltip.
 *
 * The waveform has one vertical stroke per pixel column from the lowest
 * to the highest sample of the column's slice, as audio editors draw a
 * zoomed-out track: at most WAVE_W strokes whatever the length, so a
 * minute of audio costs about as much page as a second.
 */
#include <stdio.h>
#include <string.h>
#include <re.h>
#include "core/core.h"
#include "core/report_int.h"

enum {
	LAD_W      = 1060,        /* the ladder's width */
	LAD_TOP    = 40,          /* the first row's top */
	LAD_ROW    = 32,          /* a row's height with a note of 1 line */
	LAD_LINE   = 13,          /* a note line's height */
	LAD_NOTE_X = 640,         /* notes start here ... */
	LAD_NOTE_W = 62,          /* ... and hold this many characters */
	LAD_NOTE_LINES = 4,
	LAD_HEAD   = 9,           /* an arrowhead's length */
	WAVE_X = 44, WAVE_W = 800, WAVE_TOP = 10, WAVE_H = 100,
	WAVE_RATE = 8000,
};

static const int lane_x[3] = {130, 370, 610};
static const char *const lane_name[3] = {"caller", "cmrlab", "callee"};


static int lane(uint8_t col)
{
	return lane_x[col > RCOL_CALLEE ? RCOL_CALLEE : col];
}


/* The colour class of a row: requests, 1xx, 2xx, 3xx to 6xx. */
static const char *row_class(const struct report_row *r)
{
	if (r->what[0] < '0' || r->what[0] > '9')
		return "req";
	if (r->what[0] == '1')
		return "s1";

	return r->what[0] == '2' ? "s2" : "s3";
}


static size_t skip_spaces(const char *s, size_t n, size_t i)
{
	while (i < n && s[i] == ' ')
		++i;

	return i;
}


/* Prints the lines of a row's note from baseline y down (nothing when f
 * is NULL); returns how many there are. */
static unsigned note_lines(FILE *f, const struct report_row *r, int y)
{
	size_t n = strnlen(r->note, sizeof(r->note));
	size_t i = skip_spaces(r->note, n, 0);
	unsigned k = 0;

	while (i < n && k < LAD_NOTE_LINES) {
		size_t l = report_wrap(r->note + i, n - i, LAD_NOTE_W);

		if (f) {
			fprintf(f, "<text class=\"note\" x=\"%d\" y=\"%d\">",
				LAD_NOTE_X, y + (int)k * LAD_LINE);
			report_esc(f, r->note + i, l);
			fputs("</text>\n", f);
		}
		i = skip_spaces(r->note, n, i + l);
		++k;
	}

	return k;
}


static int row_height(const struct report_row *r)
{
	unsigned k = note_lines(NULL, r, 0);
	int h = 19 + (int)k * LAD_LINE;

	return h > LAD_ROW ? h : LAD_ROW;
}


static void print_arrow(FILE *f, const struct report_row *r, int ay)
{
	const char *cls = row_class(r);
	size_t wl = strnlen(r->what, sizeof(r->what));
	int x1 = lane(r->from), x2 = lane(r->to);
	int dir = x2 > x1 ? 1 : -1;
	int room = (x2 - x1) * dir - 16;

	if (x1 == x2) {
		/* A message a party sends itself: a loop to the right. */
		fprintf(f, "<path class=\"%s loop\" d=\"M%d %d h30 "
			"v12 h-%d\"/>\n<polygon class=\"%s\" points=\"%d,%d "
			"%d,%d %d,%d\"/>\n"
			"<text class=\"%s\" x=\"%d\" y=\"%d\">",
			cls, x1, ay - 6, 30 - LAD_HEAD, cls,
			x1, ay + 6, x1 + LAD_HEAD, ay + 2, x1 + LAD_HEAD,
			ay + 10, cls, x1 + 36, ay + 4);
		report_esc(f, r->what, wl);
		fputs("</text>\n", f);
		return;
	}

	fprintf(f, "<line class=\"%s\" x1=\"%d\" y1=\"%d\" x2=\"%d\" "
		"y2=\"%d\" stroke-width=\"1.5\"/>\n"
		"<polygon class=\"%s\" points=\"%d,%d %d,%d %d,%d\"/>\n",
		cls, x1, ay, x2 - dir * LAD_HEAD, ay, cls,
		x2, ay, x2 - dir * LAD_HEAD, ay - 4, x2 - dir * LAD_HEAD,
		ay + 4);

	fprintf(f, "<text class=\"%s\" x=\"%d\" y=\"%d\" "
		"text-anchor=\"middle\"", cls, (x1 + x2) / 2, ay - 6);
	/* About 7.5 px a character at 13 px: a label wider than its arrow
	 * is squeezed to fit. */
	if (text_chars(r->what, wl) * 15 / 2 > (size_t)room)
		fprintf(f, " textLength=\"%d\" "
			"lengthAdjust=\"spacingAndGlyphs\"", room);
	fputs(">", f);
	report_esc(f, r->what, wl);
	fputs("</text>\n", f);
}


void report_svg_ladder(FILE *f, const struct report_case *c)
{
	int h = LAD_TOP + 8, y = LAD_TOP;

	for (size_t i = 0; i < c->nrows; i++)
		h += row_height(&c->rows[i]);

	fprintf(f, "<svg class=\"ladder\" xmlns=\"http://www.w3.org/2000/svg\""
		" viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" role=\"img\""
		" aria-label=\"SIP ladder\">\n", LAD_W, h, LAD_W, h);

	for (int i = 0; i < 3; i++) {
		fprintf(f, "<rect x=\"%d\" y=\"4\" width=\"140\" height=\"24\" "
			"rx=\"3\" fill=\"#f3f3f3\" stroke=\"#999\"/>\n"
			"<text class=\"name\" x=\"%d\" y=\"21\" "
			"text-anchor=\"middle\">", lane_x[i] - 70, lane_x[i]);
		report_escz(f, c->cols[i] ? c->cols[i] : lane_name[i]);
		fprintf(f, "</text>\n<line class=\"life\" x1=\"%d\" y1=\"28\" "
			"x2=\"%d\" y2=\"%d\"/>\n", lane_x[i], lane_x[i], h - 4);
	}

	for (size_t i = 0; i < c->nrows; i++) {
		const struct report_row *r = &c->rows[i];
		int ay = y + 22;

		fputs("<g class=\"row\"><title>", f);
		report_esc(f, r->what, strnlen(r->what, sizeof(r->what)));
		if (r->note[0]) {
			fputs(": ", f);
			report_esc(f, r->note,
				   strnlen(r->note, sizeof(r->note)));
		}
		fprintf(f, "</title>\n<text class=\"time\" x=\"8\" y=\"%d\">"
			"+%llu.%03llu s</text>\n", ay + 4,
			(unsigned long long)(r->t_ms / 1000),
			(unsigned long long)(r->t_ms % 1000));
		print_arrow(f, r, ay);
		(void)note_lines(f, r, y + 16);
		fputs("</g>\n", f);

		y += row_height(r);
	}

	fputs("</svg>\n", f);
}


/* Tick spacing in ms: the first that leaves at most 10 ticks. */
static unsigned tick_ms(uint64_t dur_ms)
{
	static const unsigned steps[] = {
		100, 200, 500, 1000, 2000, 5000, 10000, 20000, 30000, 60000,
		120000, 300000, 600000, 1800000, 3600000
	};
	size_t i;

	for (i = 0; i + 1 < sizeof(steps) / sizeof(steps[0]); i++) {
		if (dur_ms / steps[i] <= 10)
			break;
	}

	return steps[i];
}


/* Coordinates in tenths, printed without the locale's say: SVG numbers
 * take a full stop whatever LC_NUMERIC is. */
static void print_tenths(FILE *f, size_t v)
{
	fprintf(f, "%zu.%zu", v / 10, v % 10);
}


static int sample_y(int v)
{
	/* 32768 is half the height, less a pixel of margin each side. */
	return WAVE_TOP + WAVE_H / 2 - v * (WAVE_H / 2 - 2) / 32768;
}


void report_svg_wave(FILE *f, const int16_t *pcm, size_t n)
{
	const size_t ncol = n < WAVE_W ? n : WAVE_W;
	const uint64_t dur_ms = (uint64_t)n * 1000 / WAVE_RATE;
	const unsigned step = tick_ms(dur_ms);
	const int axis = WAVE_TOP + WAVE_H + 4;

	fprintf(f, "<svg class=\"waveform\" "
		"xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d 150\" "
		"width=\"%d\" height=\"150\" role=\"img\" "
		"aria-label=\"waveform, %llu.%03llu s\">\n"
		"<line class=\"axis\" x1=\"%d\" y1=\"%d\" x2=\"%d\" "
		"y2=\"%d\"/>\n"
		"<path class=\"wave\" d=\"",
		WAVE_X * 2 + WAVE_W, WAVE_X * 2 + WAVE_W,
		(unsigned long long)(dur_ms / 1000),
		(unsigned long long)(dur_ms % 1000),
		WAVE_X, WAVE_TOP + WAVE_H / 2, WAVE_X + WAVE_W,
		WAVE_TOP + WAVE_H / 2);

	for (size_t i = 0; i < ncol; i++) {
		size_t a = i * n / ncol, b = (i + 1) * n / ncol;
		int lo = 32767, hi = -32768, ylo, yhi;

		for (size_t j = a; j < b; j++) {
			if (pcm[j] < lo)
				lo = pcm[j];
			if (pcm[j] > hi)
				hi = pcm[j];
		}

		/* A flat column still shows as one pixel. */
		yhi = sample_y(hi);
		ylo = sample_y(lo);
		if (ylo <= yhi)
			ylo = yhi + 1;

		fprintf(f, "%sM", i ? " " : "");
		print_tenths(f, WAVE_X * 10 + (2 * i + 1) * WAVE_W * 5 / ncol);
		fprintf(f, " %dV%d", yhi, ylo);
	}

	fprintf(f, "\"/>\n<path class=\"axis\" d=\"M%d %dH%d\"/>\n",
		WAVE_X, axis, WAVE_X + WAVE_W);

	/* A tick where the sample at time t is drawn. */
	for (uint64_t t = 0; t * WAVE_RATE / 1000 <= n; t += step) {
		size_t x = WAVE_X * 10 +
			(size_t)(t * WAVE_RATE / 1000 * WAVE_W * 10 / n);

		fputs("<path class=\"axis\" d=\"M", f);
		print_tenths(f, x);
		fprintf(f, " %dv5\"/><text x=\"", axis);
		print_tenths(f, x);
		fprintf(f, "\" y=\"%d\" text-anchor=\"middle\">%llu",
			axis + 18, (unsigned long long)(t / 1000));
		if (step < 1000)
			fprintf(f, ".%llu",
				(unsigned long long)(t % 1000 / 100));
		fputs(" s</text>\n", f);
	}

	fputs("</svg>\n", f);
}
