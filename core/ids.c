/**
 * @file ids.c  What the table accepts as ids, media types and contacts
 *
 * One set of rules for every way into the table: the profile and the
 * HTTP API's PUT requests both check with these.
 */
#include <string.h>
#include <re.h>
#include "core/core.h"


enum {
	MIME_PART_MAX = 127,
};


static bool is_alnum(char c)
{
	return ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') ||
		('0' <= c && c <= '9');
}


/* 1 to ID_LEN_MAX characters, each alphanumeric or one of extra. */
static bool chars_valid(const char *id, const char *extra)
{
	size_t i, l;

	if (!id)
		return false;

	l = strlen(id);
	if (l < 1 || l > ID_LEN_MAX)
		return false;

	for (i = 0; i < l; i++) {
		if (!is_alnum(id[i]) && !strchr(extra, id[i]))
			return false;
	}

	return true;
}


/* Resource ids end up in URLs (/r/ID) and in file names of the state
 * directory, so they are limited to characters that need no escaping in
 * either, and "." and ".." would name folders, not files. */
bool id_resource_valid(const char *id)
{
	return chars_valid(id, "._-") && strspn(id, ".") != strlen(id);
}


/* Subscriber and caller ids are SIP user parts; the ones that need no
 * escaping in a URI, which covers names and numbers including E.164
 * ("+4930...").  '=' and '"' would be ambiguous in the profile. */
bool id_user_valid(const char *id)
{
	return chars_valid(id, "._~+-");
}


/* RFC 6838 restricted-name characters on both sides of the slash. */
static bool mime_part_valid(const char *s, size_t l)
{
	size_t i;

	if (l < 1 || l > MIME_PART_MAX || !is_alnum(s[0]))
		return false;

	for (i = 0; i < l; i++) {
		if (!is_alnum(s[i]) && !strchr("!#$&^_.+-", s[i]))
			return false;
	}

	return true;
}


bool id_mime_valid(const char *type)
{
	const char *slash = type ? strchr(type, '/') : NULL;

	if (!slash)
		return false;

	return mime_part_valid(type, (size_t)(slash - type)) &&
		mime_part_valid(slash + 1, strlen(slash + 1));
}


/* A static contact must be a SIP URI that the router can send to. */
bool id_contact_valid(const char *uri)
{
	struct uri u;
	struct pl pl;

	if (!uri || strpbrk(uri, " \t\r\n"))
		return false;

	pl_set_str(&pl, uri);
	if (uri_decode(&u, &pl))
		return false;

	return (0 == pl_strcasecmp(&u.scheme, "sip") ||
		0 == pl_strcasecmp(&u.scheme, "sips")) && pl_isset(&u.host);
}
