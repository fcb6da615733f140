/**
 * @file fuzz_conform.c  Fuzz harness of the conformance box's judge:
 *                       sip/conform_run.c's trace and selectors and
 *                       sip/conform_chk.c's checks, on whatever a device
 *                       under test sends
 *
 * The input is 12 bytes of media figures, then records: one byte (bits 0
 * and 1: the party, bit 2: received by the box), two bytes of length
 * (little-endian), and that many bytes of one SIP message, each in a heap
 * block of its exact size.  The messages go into one run (at most
 * CF_MSGS_MAX; a record longer than the rest of the input takes the
 * rest); the figures fill the results of every party and one download.
 * Then every case of the catalogue is judged on the run.
 *
 * Checked: every verdict is pass, fail or inconclusive; the evidence is
 * NUL-terminated inside its buffer and holds no byte that a terminal
 * would take for a control sequence other than what came off the wire
 * (only the tab and line ends are added by the judge, so this checks
 * nothing of that); the evidence is not empty; a case whose run was not
 * made is inconclusive.
 */
#include <string.h>
#include <re.h>
#include "sip/conform.h"
#include "tests/fuzz/fuzz.h"

static struct cf_run *run;


int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;

	run = calloc(1, sizeof(*run));
	if (!run)
		abort();

	return 0;
}


static void figures(const uint8_t *f)
{
	for (int p = 0; p < CF_NPARTY; p++) {
		struct cmrc_result *r = &run->res[p];

		run->has_res[p] = f[0] & (1u << p);
		r->final = (uint16_t)(100 + f[1] % 600);
		r->ms_final = (int8_t)f[2] * 40;
		r->tone_packets = f[3];
		r->ms_first_tone = (int8_t)f[4] * 40;
		r->ms_last_tone = (int8_t)f[5] * 40;
		r->far_packets = f[6];
		r->dl_status = (uint16_t)(f[7] * 3);
		r->dl_bytes = f[8];
	}
	run->getc = f[9] % 3;
	for (size_t i = 0; i < run->getc; i++) {
		run->getv[i].t_ms = f[10];
		run->getv[i].status = (uint16_t)(f[11] * 2);
		str_ncpy(run->getv[i].path, i ? "/r/ringtone-default" :
			 "/r/ringback-default", sizeof(run->getv[i].path));
	}
}


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cf_verdict_t v;
	size_t pos = 12;

	if (size < 12)
		return 0;

	memset(run, 0, sizeof(*run));
	run->made = true;
	figures(data);

	while (pos + 3 <= size && run->msgc < CF_MSGS_MAX) {
		uint8_t h = data[pos];
		size_t len = (size_t)data[pos + 1] | (size_t)data[pos + 2] << 8;
		uint8_t *m;

		pos += 3;
		if (len > size - pos)
			len = size - pos;
		m = malloc(len ? len : 1);
		if (!m)
			abort();
		memcpy(m, data + pos, len);
		(void)cf_run_add(run, (uint32_t)pos, (enum cf_party)(h & 3),
				 h & 4, m, len);
		free(m);
		pos += len;
	}

	for (size_t i = 0; i < cf_ncases; i++) {
		memset(&v, 0xa5, sizeof(v));
		cf_judge(&cf_cases[i], run, &v);
		FUZZ_CHECK(v.v == CF_PASS || v.v == CF_FAIL ||
			   v.v == CF_INCONC);
		FUZZ_CHECK(memchr(v.evidence, '\0', sizeof(v.evidence)));
		/* every verdict comes with what decided it */
		FUZZ_CHECK(v.evidence[0] != '\0');
	}

	run->made = false;
	cf_judge(&cf_cases[0], run, &v);
	FUZZ_CHECK(v.v == CF_INCONC);

	cf_run_reset(run);

	return 0;
}
