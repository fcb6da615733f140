/**
 * @file text.c  Bytes read as text: UTF-8 characters and hex digits
 *
 * What the program prints comes off the wire in the end (a Call-ID, a
 * reason phrase, a URI), and it goes out as JSON (jsonw.c), as HTML
 * (report.c) and to a terminal (sip/ladder.c), each of which must tell a
 * well-formed UTF-8 character from bytes that only look like one.  That
 * test is here once: RFC 3629 section 4, so no overlong forms, no
 * surrogates and nothing above U+10FFFF.  The hex digit is for the
 * parsers of hex numbers and escapes (a chunk size, a URI's %XX).
 */
#include <re.h>
#include "core/core.h"


size_t text_utf8_char(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	unsigned char lo = 0x80, hi = 0xbf;
	size_t len;

	if (!n)
		return 0;
	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		len = 3;
		if (p[0] == 0xe0)
			lo = 0xa0;          /* no overlong form */
		else if (p[0] == 0xed)
			hi = 0x9f;          /* no surrogate */
	}
	else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		len = 4;
		if (p[0] == 0xf0)
			lo = 0x90;
		else if (p[0] == 0xf4)
			hi = 0x8f;          /* nothing above U+10FFFF */
	}
	else
		return 0;

	if (n < len || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++) {
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	}

	return len;
}


size_t text_chars(const char *s, size_t n)
{
	size_t i = 0, k = 0;

	while (i < n) {
		size_t l = text_utf8_char(s + i, n - i);

		i += l ? l : 1;
		++k;
	}

	return k;
}


int text_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;

	return -1;
}
