/**
 * @file conform_out.c  cmrlab conform's verdicts: the terminal's table, the
 *                      catalogue listing, JUnit XML, JSON and the HTML page
 *
 * The evidence holds bytes off the wire.  The terminal gets it with
 * control characters as '?'; JUnit and JSON with every byte that is not
 * printable ASCII as '?' too (JUnit XML must be well formed whatever a
 * device sent; JSON gets it escaped anyway); the HTML page escapes it
 * (core/report.c).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <re.h>
#include "core/core.h"
#include "core/report.h"
#include "sip/ladder.h"
#include "cmd/conform_int.h"

enum { W_ID = 21, W_VERDICT = 13 };


static const char *color_of(enum cf_verdict v)
{
	switch (v) {

	case CF_PASS: return "\033[32m";
	case CF_FAIL: return "\033[31m";
	default:      return "\033[33m";
	}
}


/* Text for a terminal: control characters (but the line ends) as '?'. */
static void put_clean(FILE *f, const char *s, const char *indent)
{
	bool bol = true;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (bol) {
			fputs(indent, f);
			bol = false;
		}
		if (c == '\n') {
			fputc('\n', f);
			bol = true;
		}
		else {
			fputc(c < 0x20 || c == 0x7f ? '?' : c, f);
		}
	}
	if (!bol)
		fputc('\n', f);
}


void conf_table_print(const struct conform *cf)
{
	printf("\n%-*s %-*s %s\n", W_ID, "case", W_VERDICT, "verdict",
	       "what is checked");

	for (size_t i = 0; i < cf_ncases; i++) {
		const struct cf_case *c = &cf_cases[i];
		const struct cf_verdict_t *v = &cf->verdicts[i];

		if (v->v == CF_NOTRUN)
			continue;
		printf("%-*s %s%-*s%s %s\n", W_ID, c->id,
		       cf->color ? color_of(v->v) : "", W_VERDICT,
		       cf_verdict_name(v->v), cf->color ? "\033[0m" : "",
		       c->ensure);
		if (v->v != CF_PASS || cf->verbose) {
			printf("%*s(%s)\n", W_ID + 1, "", c->clause);
			put_clean(stdout, v->evidence, "      ");
		}
	}
	printf("\n");
}


void conf_list_print(bool md)
{
	if (md) {
		printf("| id | clause | role | run | what is checked |\n"
		       "|---|---|---|---|---|\n");
	}
	for (size_t i = 0; i < cf_ncases; i++) {
		const struct cf_case *c = &cf_cases[i];

		if (md)
			printf("| `%s` | %s | %s | %s | %s |\n", c->id,
			       c->clause, cf_role_name(c->role), c->run,
			       c->ensure);
		else
			printf("%s\t%s\t%s\t%s\t%s\n", c->id,
			       cf_role_name(c->role), c->run, c->clause,
			       c->ensure);
	}
}


/* ---- JUnit XML ------------------------------------------------------------- */

static void xml_put(FILE *f, const char *s)
{
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;

		switch (c) {

		case '&':  fputs("&amp;", f);  break;
		case '<':  fputs("&lt;", f);   break;
		case '>':  fputs("&gt;", f);   break;
		case '"':  fputs("&quot;", f); break;
		case '\'': fputs("&apos;", f); break;
		case '\n': fputs("\n", f);     break;
		case '\t': fputs("\t", f);     break;
		default:
			fputc(c < 0x20 || c >= 0x7f ? '?' : c, f);
			break;
		}
	}
}


/* The first line of the evidence (the failure's message). */
static void first_line(char *buf, size_t sz, const char *s)
{
	size_t n = strcspn(s, "\n");

	if (n >= sz)
		n = sz - 1;
	memcpy(buf, s, n);
	buf[n] = '\0';
}


static void purpose_put(FILE *f, const struct cf_case *c)
{
	xml_put(f, c->clause);
	fputs(": ", f);
	xml_put(f, c->quote);
	fputs("\ninitial state: ", f);
	xml_put(f, c->initial);
	fputs("\nensure that: ", f);
	xml_put(f, c->ensure);
	fputs("\nwhen: ", f);
	xml_put(f, c->when);
	fputs("\nthen: ", f);
	xml_put(f, c->then);
	fputs("\n", f);
}


static int file_done(FILE *f, const char *tmp, const char *path)
{
	int err = 0;

	if (fflush(f) || ferror(f))
		err = errno ? errno : EIO;
	if (fclose(f) && !err)
		err = errno ? errno : EIO;
	if (!err && rename(tmp, path))
		err = errno;
	if (err) {
		(void)remove(tmp);
		fprintf(stderr, "cmrlab conform: cannot write '%s': %s\n",
			path, strerror(err));
	}

	return err;
}


static FILE *file_open(const char *path, char *tmp, size_t sz)
{
	FILE *f;

	(void)re_snprintf(tmp, sz, "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f)
		fprintf(stderr, "cmrlab conform: cannot write '%s': %s\n",
			path, strerror(errno));

	return f;
}


int conf_junit_write(const struct conform *cf, const char *path)
{
	unsigned n = 0, fail = 0, skip = 0;
	char tmp[512], msg[200];
	FILE *f = file_open(path, tmp, sizeof(tmp));

	if (!f)
		return errno ? errno : EIO;

	for (size_t i = 0; i < cf_ncases; i++) {
		if (cf->verdicts[i].v == CF_NOTRUN)
			continue;
		++n;
		fail += cf->verdicts[i].v == CF_FAIL;
		skip += cf->verdicts[i].v == CF_INCONC;
	}

	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<testsuites name=\"cmrlab conform\" tests=\"%u\" "
		"failures=\"%u\" errors=\"0\" skipped=\"%u\">\n"
		"<testsuite name=\"cmrlab conform --dut %s\" tests=\"%u\" "
		"failures=\"%u\" errors=\"0\" skipped=\"%u\">\n",
		n, fail, skip, cf_role_name(cf->dut), n, fail, skip);

	for (size_t i = 0; i < cf_ncases; i++) {
		const struct cf_case *c = &cf_cases[i];
		const struct cf_verdict_t *v = &cf->verdicts[i];

		if (v->v == CF_NOTRUN)
			continue;
		fputs("<testcase classname=\"", f);
		xml_put(f, cf_role_name(c->role));
		fputs(".", f);
		xml_put(f, c->run);
		fputs("\" name=\"", f);
		xml_put(f, c->id);
		fputs("\">\n", f);

		first_line(msg, sizeof(msg), v->evidence);
		if (v->v == CF_FAIL) {
			fputs("<failure type=\"fail\" message=\"", f);
			xml_put(f, msg);
			fputs("\">", f);
			xml_put(f, v->evidence);
			fputs("</failure>\n", f);
		}
		else if (v->v == CF_INCONC) {
			fputs("<skipped message=\"inconclusive: ", f);
			xml_put(f, msg);
			fputs("\"/>\n", f);
		}
		fputs("<system-out>", f);
		purpose_put(f, c);
		fputs("verdict: ", f);
		xml_put(f, cf_verdict_name(v->v));
		fputs("\n", f);
		xml_put(f, v->evidence);
		fputs("</system-out>\n</testcase>\n", f);
	}
	fputs("</testsuite>\n</testsuites>\n", f);

	return file_done(f, tmp, path);
}


/* ---- JSON ------------------------------------------------------------------- */

static int json_ascii(struct re_printf *pf, const char *s)
{
	char buf[CF_EVIDENCE];
	size_t i;

	for (i = 0; s && s[i] && i + 1 < sizeof(buf); i++) {
		unsigned char c = (unsigned char)s[i];

		buf[i] = c >= 0x80 || (c < 0x20 && c != '\n') || c == 0x7f ?
			'?' : (char)c;
	}
	buf[i] = '\0';

	return jsonw_str(pf, buf);
}


int conf_json_write(const struct conform *cf, const char *path)
{
	unsigned pass = 0, fail = 0, inc = 0;
	char tmp[512];
	FILE *f = file_open(path, tmp, sizeof(tmp));
	bool first = true;

	if (!f)
		return errno ? errno : EIO;

	for (size_t i = 0; i < cf_ncases; i++) {
		pass += cf->verdicts[i].v == CF_PASS;
		fail += cf->verdicts[i].v == CF_FAIL;
		inc += cf->verdicts[i].v == CF_INCONC;
	}

	(void)re_fprintf(f, "{\"dut\":\"%s\",", cf_role_name(cf->dut));
	if (cf->dut == CF_SERVER)
		(void)re_fprintf(f, "\"target\":%H,", jsonw_str, cf->target);
	else
		(void)re_fprintf(f, "\"box\":%H,\"dut_user\":%H,",
				 jsonw_str, cf->box_uri, jsonw_str,
				 cf->dut_user);
	(void)re_fprintf(f, "\"totals\":{\"pass\":%u,\"fail\":%u,"
			 "\"inconclusive\":%u},\"runs\":[", pass, fail, inc);
	for (size_t i = 0; i < cf_nruns; i++) {
		const struct cf_run *r = &cf->runs[i];

		if (!cf->want[i])
			continue;
		(void)re_fprintf(f, "%s{\"id\":%H,\"made\":%s,\"why\":%H,"
				 "\"messages\":%zu}", first ? "" : ",",
				 jsonw_str, cf_runs[i].id,
				 r->made ? "true" : "false", json_ascii,
				 r->why, r->msgc);
		first = false;
	}
	(void)re_fprintf(f, "],\"cases\":[");
	first = true;
	for (size_t i = 0; i < cf_ncases; i++) {
		const struct cf_case *c = &cf_cases[i];
		const struct cf_verdict_t *v = &cf->verdicts[i];

		if (v->v == CF_NOTRUN)
			continue;
		(void)re_fprintf(f, "%s\n{\"id\":%H,\"clause\":%H,"
				 "\"role\":\"%s\",\"run\":%H,\"ensure\":%H,"
				 "\"verdict\":\"%s\",\"evidence\":%H}",
				 first ? "" : ",", jsonw_str, c->id,
				 jsonw_str, c->clause, cf_role_name(c->role),
				 jsonw_str, c->run, jsonw_str, c->ensure,
				 cf_verdict_name(v->v), json_ascii,
				 v->evidence);
		first = false;
	}
	(void)re_fprintf(f, "\n]}\n");

	return file_done(f, tmp, path);
}


/* ---- HTML ------------------------------------------------------------------- */

/* The ladder of a run: the box's parties and the device on three
 * lifelines. */
static size_t ladder_rows(const struct conform *cf, const struct cf_run *run,
			  struct report_row *rows, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < run->msgc && n < max; i++) {
		const struct cf_msg *m = &run->msgv[i];
		struct report_row *row = &rows[n++];
		uint8_t box, peer;

		memset(row, 0, sizeof(*row));
		row->t_ms = m->t_ms;
		if (cf->dut == CF_SERVER) {
			box = m->party == CF_CALLER ? RCOL_CALLER :
				RCOL_CALLEE;
			peer = RCOL_SERVER;
		}
		else if (m->party == CF_DUT) {
			box = RCOL_SERVER;
			peer = RCOL_CALLER;
		}
		else {
			box = RCOL_CALLEE;
			peer = RCOL_SERVER;
		}
		row->from = m->rx ? peer : box;
		row->to = m->rx ? box : peer;
		ladder_describe(row, m->msg);
	}

	return n;
}


int conf_html_write(const struct conform *cf, const char *path)
{
	static const char *const srv_cols[3] = { "caller (box)",
		"CMR Server (device)", "callee (box)" };
	static const char *const cli_cols[3] = { "CMR Client (device)",
		"CMR Server (box)", "far end (box)" };
	struct report_case *rc;
	struct report_row **rows;
	char **texts, **verdicts;
	size_t n = 0;
	int err = ENOMEM;

	rc = mem_zalloc(cf_ncases * sizeof(*rc), NULL);
	rows = mem_zalloc(cf_nruns * sizeof(*rows), NULL);
	texts = mem_zalloc(cf_ncases * sizeof(*texts), NULL);
	verdicts = mem_zalloc(cf_ncases * sizeof(*verdicts), NULL);
	if (!rc || !rows || !texts || !verdicts)
		goto out;

	for (size_t i = 0; i < cf_ncases; i++) {
		const struct cf_case *c = &cf_cases[i];
		const struct cf_verdict_t *v = &cf->verdicts[i];
		size_t ri = (size_t)(cf_rundef_find(c->run) - cf_runs);
		struct report_case *r = &rc[n];

		if (v->v == CF_NOTRUN)
			continue;
		if (!rows[ri]) {
			rows[ri] = mem_zalloc(CF_MSGS_MAX * sizeof(**rows),
					      NULL);
			if (!rows[ri])
				goto out;
		}
		if (re_sdprintf(&texts[n], "%s: %s\n\ninitial state: %s\n"
				"ensure that: %s\nwhen: %s\nthen: %s\n\n"
				"run %s%s%s\n%s", c->clause, c->quote,
				c->initial, c->ensure, c->when, c->then,
				c->run, cf->runs[ri].made ? "" : ", not made: ",
				cf->runs[ri].made ? "" : cf->runs[ri].why,
				v->evidence))
			goto out;
		if (re_sdprintf(&verdicts[n], "%s: %s", c->id, c->ensure))
			goto out;

		r->id = c->id;
		r->title = verdicts[n];
		r->passed = v->v == CF_PASS;
		r->badge = v->v == CF_INCONC ? "INCONCLUSIVE" : NULL;
		r->verdict = cf_verdict_name(v->v);
		r->text = texts[n];
		r->no_audio = true;
		r->rows = rows[ri];
		r->nrows = ladder_rows(cf, &cf->runs[ri], rows[ri],
				       CF_MSGS_MAX);
		for (int k = 0; k < 3; k++)
			r->cols[k] = cf->dut == CF_SERVER ? srv_cols[k] :
				cli_cols[k];
		++n;
	}

	err = report_html_write(path, cf->dut == CF_SERVER ?
				"cmrlab conform: a CMR Server under test" :
				"cmrlab conform: a CMR Client under test",
				rc, n);
	if (err)
		fprintf(stderr, "cmrlab conform: cannot write '%s': %s\n",
			path, strerror(err));

 out:
	for (size_t i = 0; i < cf_ncases; i++) {
		if (texts)
			mem_deref(texts[i]);
		if (verdicts)
			mem_deref(verdicts[i]);
	}
	for (size_t i = 0; rows && i < cf_nruns; i++)
		mem_deref(rows[i]);
	mem_deref(rc);
	mem_deref(rows);
	mem_deref(texts);
	mem_deref(verdicts);

	return err;
}
