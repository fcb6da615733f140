/**
 * @file memtrim.c  Freed heap handed back to the system, twice a minute
 *
 * A server that sets up and tears down calls all day frees as much as it
 * allocates, but glibc's malloc keeps the pages it freed: the holes
 * between chunks still in use are not returned, and the resident size
 * creeps up for many minutes while the bytes in use stay flat.
 * malloc_trim(0) returns every whole free page inside the heap as well as
 * at its top (glibc 2.8 and later).  Measured with make soak (20 calls a
 * second in four modes): the resident size grew 8.5 MiB in the ten
 * minutes after the first 40 s without the trims, and 4.7 MiB with them,
 * nearly all of it in the first five minutes; each trim took 340 to
 * 470 us on that heap of 20-25 MiB, once every 30 s.  Its time is logged
 * at level debug.
 */
#include <malloc.h>
#include <time.h>
#include <re.h>
#include "core/core.h"


enum { TRIM_MS = 30000 };

static struct tmr tmr_trim;


static uint64_t now_us(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);

	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}


static void trim_h(void *arg)
{
	uint64_t t0 = now_us();
	int freed;
	(void)arg;

	freed = malloc_trim(0);
	LOGD(SUB_CORE, "malloc_trim: %s memory returned in %llu us",
	     freed ? "some" : "no", (unsigned long long)(now_us() - t0));

	tmr_start(&tmr_trim, TRIM_MS, trim_h, NULL);
}


/** Starts the trims on the loop (again from the start if running). */
void memtrim_start(void)
{
	tmr_start(&tmr_trim, TRIM_MS, trim_h, NULL);
}


void memtrim_stop(void)
{
	tmr_cancel(&tmr_trim);
}

