/**
 * @file report_int.h  Inside the report: what report.c (the page) and
 *                     report_svg.c (its drawings) share
 */
#ifndef CMRLAB_REPORT_INT_H
#define CMRLAB_REPORT_INT_H

#include <stdio.h>
#include "core/report.h"

/** Prints n bytes of s as HTML text (also safe inside a quoted
 *  attribute): markup characters as entities, controls other than tab and
 *  line ends and what is not UTF-8 as U+FFFD. */
void report_esc(FILE *f, const char *s, size_t n);
/** The same for a C string; NULL prints nothing. */
void report_escz(FILE *f, const char *s);

/** The case's ladder as an <svg> element. */
void report_svg_ladder(FILE *f, const struct report_case *c);
/** The waveform of n samples (8 kHz) as an <svg> element. */
void report_svg_wave(FILE *f, const int16_t *pcm, size_t n);

#endif
