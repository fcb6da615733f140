/**
 * @file call_out.c  What cmrlab call prints: the progress line of a run of
 *                   calls, one call's verdict and figures (text or JSON),
 *                   the totals of several
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <re.h>
#include "core/core.h"
#include "sip/ua.h"
#include "cmd/call_int.h"


void call_reason_count(struct callcmd *cc, const char *text, unsigned n)
{
	for (unsigned i = 0; i < MAX_REASONS; i++) {
		struct reason *r = &cc->reasons[i];

		if (!r->n) {
			str_ncpy(r->text, text, sizeof(r->text));
			r->n = n;
			return;
		}
		if (!strcmp(r->text, text)) {
			r->n += n;
			return;
		}
	}
}


void call_progress(struct callcmd *cc, bool last)
{
	if (!cc->progress)
		return;

	/* The called party places nothing: it counts what came. */
	if (cc->answer)
		fprintf(stderr, "\r%u/%u calls done: %u passed, %u failed%s",
			cc->done, cc->calls, cc->passed, cc->failed,
			last ? "\n" : "");
	else
		fprintf(stderr, "\r%u/%u calls placed, %u done: %u passed, "
			"%u failed%s", cc->placed, cc->calls, cc->done,
			cc->passed, cc->failed, last ? "\n" : "");
	fflush(stderr);
	cc->progress_open = !last;
}


static int setup_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}


static int totals_json(struct re_printf *pf, struct callcmd *cc)
{
	uint64_t sum = 0;
	int err;

	qsort(cc->setup, cc->nsetup, sizeof(*cc->setup), setup_cmp);
	for (unsigned i = 0; i < cc->nsetup; i++)
		sum += cc->setup[i];

	err = re_hprintf(pf, "{\"ok\":%s,\"calls\":%u,\"passed\":%u,"
			 "\"failed\":%u,\"rate\":%.2f,\"seconds\":%.3f,",
			 cc->failed || cc->done < cc->calls ? "false" :
			 "true", cc->calls, cc->passed, cc->failed,
			 cc->rate, (double)(loop_now_ms() - cc->t_start) /
			 1000.0);
	if (cc->nsetup)
		err |= re_hprintf(pf, "\"ms_final\":{\"min\":%u,\"mean\":%u,"
				  "\"p95\":%u,\"max\":%u},",
				  cc->setup[0],
				  (unsigned)(sum / cc->nsetup),
				  cc->setup[(cc->nsetup * 95 + 99) / 100 - 1],
				  cc->setup[cc->nsetup - 1]);
	err |= re_hprintf(pf, "\"reasons\":[");
	for (unsigned i = 0; i < MAX_REASONS && cc->reasons[i].n; i++)
		err |= re_hprintf(pf, "%s{\"reason\":%H,\"calls\":%u}",
				  i ? "," : "", jsonw_str,
				  cc->reasons[i].text, cc->reasons[i].n);
	err |= re_hprintf(pf, "],\"first\":%s}", cc->first_json ?
			  cc->first_json : "null");

	return err;
}


void call_report(struct callcmd *cc)
{
	const struct cmrc_result *r = &cc->first;

	/* A signal ends the run in the middle of the progress line: what
	 * follows on the terminal starts a line of its own. */
	if (cc->progress_open) {
		fputc('\n', stderr);
		cc->progress_open = false;
	}

	if (cc->json) {
		if (cc->calls == 1 && cc->first_json)
			printf("%s\n", cc->first_json);
		else
			(void)re_printf("%H\n", totals_json, cc);
		return;
	}

	if (cc->calls == 1 && cc->first_kept) {
		printf("%s: %s\n", r->ok ? "pass" : "FAIL", r->reason);
		if (r->url[0] && r->ms_download >= 0)
			printf("  download: %s -> %u %s, %zu bytes, complete "
			       "%d ms after the INVITE\n", r->url, r->dl_status,
			       r->dl_type, r->dl_bytes, r->ms_download);
		else if (r->url[0])
			printf("  download: %s -> %u %s, %zu bytes, not "
			       "complete\n", r->url, r->dl_status, r->dl_type,
			       r->dl_bytes);
		if (r->tone_packets)
			printf("  tone: %u packets, lost %d, jitter %.2f ms, "
			       "first after %d ms\n", r->tone_packets,
			       r->tone_lost, r->tone_jitter_ms,
			       r->ms_first_tone);
		printf("  talk: %u packets in, %u out", r->far_packets,
		       r->sent_packets);
		if (r->gap_known)
			printf(", gap tone -> far end %d ms", r->gap_ms);
		printf("\n");
		return;
	}

	(void)re_printf("%u calls: %u passed, %u failed\n", cc->calls,
			cc->passed, cc->failed);
	for (unsigned i = 0; i < MAX_REASONS && cc->reasons[i].n; i++)
		printf("  %u x %s\n", cc->reasons[i].n, cc->reasons[i].text);
}
