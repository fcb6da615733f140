/**
 * @file rtp_int.h  What the files of rtp/ share among themselves
 */
#ifndef CMRLAB_RTP_INT_H
#define CMRLAB_RTP_INT_H

#include <stddef.h>
#include <stdint.h>

struct job;
struct media;

/** media_from_wav() that polls job_cancelled(job) (job may be NULL) and
 *  then stops with ECANCELED, having freed everything it made. */
int media_convert(struct media **mp, const uint8_t *wav, size_t size,
		  const struct job *job);

#endif
