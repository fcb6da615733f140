/**
 * @file jsonw.c  JSON string output for re_printf's %H
 *
 * JSON text is UTF-8 (RFC 8259 section 8.1), and what goes into it here
 * comes off the wire: a Call-ID, a URI, a method.  Quotes, backslashes
 * and control characters are escaped; a byte that does not start a
 * well-formed UTF-8 sequence (RFC 3629 section 4: no overlong forms, no
 * surrogates, nothing above U+10FFFF: text_utf8_char()) is written as
 * U+FFFD, the replacement character.
 */
#include <string.h>
#include <re.h>
#include "core.h"


static int put_escaped(struct re_printf *pf, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, run = 0;
	int err = 0;

	err |= re_hprintf(pf, "\"");

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[7];

		if (c >= 0x80) {
			size_t len = text_utf8_char(s + i, n - i);

			if (len) {
				i += len - 1;
				continue;
			}
		}
		else if (c >= 0x20 && c != '"' && c != '\\')
			continue;

		if (i > run)
			err |= pf->vph(s + run, i - run, pf->arg);
		run = i + 1;

		switch (c) {
		case '"':  strcpy(esc, "\\\""); break;
		case '\\': strcpy(esc, "\\\\"); break;
		case '\n': strcpy(esc, "\\n"); break;
		case '\r': strcpy(esc, "\\r"); break;
		case '\t': strcpy(esc, "\\t"); break;
		default:
			if (c >= 0x80) {
				strcpy(esc, "\\ufffd");
				break;
			}
			esc[0] = '\\'; esc[1] = 'u'; esc[2] = '0';
			esc[3] = '0'; esc[4] = hex[c >> 4];
			esc[5] = hex[c & 0xf]; esc[6] = '\0';
			break;
		}
		err |= pf->vph(esc, strlen(esc), pf->arg);
	}

	if (n > run)
		err |= pf->vph(s + run, n - run, pf->arg);

	err |= re_hprintf(pf, "\"");

	return err;
}


int jsonw_str(struct re_printf *pf, const char *s)
{
	if (!s)
		return re_hprintf(pf, "null");

	return put_escaped(pf, s, strlen(s));
}


int jsonw_pl(struct re_printf *pf, const struct pl *pl)
{
	if (!pl || !pl->p)
		return re_hprintf(pf, "null");

	return put_escaped(pf, pl->p, pl->l);
}


/* Array members are keyed by their index, as libre's decoder keys them. */
static void arr_key(char *key, size_t sz, const struct odict *arr)
{
	(void)re_snprintf(key, sz, "%zu", odict_count(arr, false));
}


int jsonw_arr_str(struct odict *arr, const char *s)
{
	char key[24];

	arr_key(key, sizeof(key), arr);

	return odict_entry_add(arr, key, ODICT_STRING, s);
}


int jsonw_arr_obj(struct odict *arr, struct odict *o)
{
	char key[24];

	arr_key(key, sizeof(key), arr);

	return odict_entry_add(arr, key, ODICT_OBJECT, o);
}
