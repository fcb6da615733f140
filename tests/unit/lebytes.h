/**
 * @file lebytes.h  Little-endian fields for the WAV files the unit tests
 *                  build
 *
 * Several unit tests write WAV files byte by byte, good and broken ones,
 * and RIFF stores its numbers little-endian whatever the host is.  The
 * writers are static inline so that a test file that uses only one of
 * them builds without unused-function warnings.
 */
#ifndef CMRLAB_TESTS_LEBYTES_H
#define CMRLAB_TESTS_LEBYTES_H


/** Store v at p, least significant byte first. */
static inline void le_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}


/** Store v at p, least significant byte first. */
static inline void le_put32(uint8_t *p, uint32_t v)
{
	le_put16(p, (uint16_t)v);
	le_put16(p + 2, (uint16_t)(v >> 16));
}


#endif
