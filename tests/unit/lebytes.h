/**
 * @file lebytes.h  Little-endian fields for the WAV files the unit tests
 *                  build, and the canonical WAV header
 *
 * Several unit tests write WAV files byte by byte, good and broken ones,
 * and RIFF stores its numbers little-endian whatever the host is.  Most
 * of the good ones start with the same 44-byte header, written here once.
 * The writers are static inline so that a test file that uses only one of
 * them builds without unused-function warnings.  Include this header
 * after <string.h>.
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


/** The canonical 44-byte header of a WAV at w: RIFF, a 16-byte "fmt "
 *  chunk (format tag, channels, rate and bits, with the byte rate and
 *  block align that follow from them) and the head of a "data" chunk of
 *  datasz bytes, which the caller writes after it. */
static inline void le_wav_header(uint8_t *w, uint16_t tag, uint16_t channels,
				 uint32_t rate, uint16_t bits, uint32_t datasz)
{
	const uint16_t block = (uint16_t)(channels * (bits / 8u));

	memcpy(w, "RIFF", 4);
	le_put32(w + 4, 36 + datasz);
	memcpy(w + 8, "WAVEfmt ", 8);
	le_put32(w + 16, 16);
	le_put16(w + 20, tag);
	le_put16(w + 22, channels);
	le_put32(w + 24, rate);
	le_put32(w + 28, rate * block);
	le_put16(w + 32, block);
	le_put16(w + 34, bits);
	memcpy(w + 36, "data", 4);
	le_put32(w + 40, datasz);
}


#endif
