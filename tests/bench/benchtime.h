/**
 * @file benchtime.h  The clocks the C benchmarks read: monotonic time and
 *                    the process's own CPU time, in microseconds
 */
#ifndef CMRLAB_BENCHTIME_H
#define CMRLAB_BENCHTIME_H

#include <stdint.h>
#include <time.h>
#include <sys/resource.h>


static inline uint64_t bench_mono_us(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);

	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000;
}


/** User and system CPU time of this process (not of its children). */
static inline uint64_t bench_cpu_us(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru))
		return 0;

	return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) *
		1000000u + (uint64_t)(ru.ru_utime.tv_usec +
				      ru.ru_stime.tv_usec);
}

#endif
