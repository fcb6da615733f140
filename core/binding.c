/**
 * @file binding.c  Registrar bindings of subscribers (RFC 3261 section 10.3)
 */
#include <string.h>
#include <re.h>
#include "core/core.h"
#include "core/table_int.h"


static void binding_clear(struct binding *b)
{
	b->uri = mem_deref(b->uri);
	b->callid = mem_deref(b->callid);
}


/* The first binding equivalent to uri by RFC 3261 section 19.1.4, as
 * section 10.3 step 7 asks.  Equivalence is not transitive, so uri may
 * be equivalent to more than one binding that are not equivalent to each
 * other (sip:c@h against sip:c@h;x=1 and sip:c@h;x=2); the one that was
 * registered first is the one a REGISTER refreshes or removes. */
static int binding_find(const struct subscriber *s, const struct pl *uri)
{
	unsigned i;

	for (i = 0; i < s->bindc; i++) {
		struct pl b;

		pl_set_str(&b, s->bindv[i].uri);
		if (sipuri_equal(uri, &b))
			return (int)i;
	}

	return -1;
}


/* Removes binding i and closes the gap, so that bindings keep the order
 * in which they were first registered. */
static void binding_drop(struct subscriber *s, unsigned i)
{
	binding_clear(&s->bindv[i]);
	memmove(&s->bindv[i], &s->bindv[i + 1],
		(s->bindc - i - 1) * sizeof(s->bindv[0]));
	--s->bindc;
	memset(&s->bindv[s->bindc], 0, sizeof(s->bindv[0]));
}


static unsigned bindings_expire(struct subscriber *s, uint64_t now)
{
	unsigned i = 0, n = 0;

	while (i < s->bindc) {
		if (s->bindv[i].expires <= now) {
			binding_drop(s, i);
			++n;
		}
		else {
			++i;
		}
	}

	return n;
}


/* Adds or refreshes the binding for uri with an absolute expiry time.
 * The new strings are made first so that a failure changes nothing. */
static int binding_put(struct subscriber *s, const struct pl *uri,
		       const char *callid, uint32_t cseq, uint64_t expires)
{
	struct binding *b;
	char *u = NULL, *c = NULL;
	int i, err;

	i = binding_find(s, uri);
	if (i < 0 && s->bindc >= BINDINGS_MAX)
		return ENOSPC;

	err = pl_strdup(&u, uri);
	if (!err && callid)
		err = str_dup(&c, callid);
	if (err) {
		mem_deref(u);
		return err;
	}

	if (i < 0)
		b = &s->bindv[s->bindc++];
	else
		b = &s->bindv[i];

	binding_clear(b);
	b->uri = u;
	b->callid = c;
	b->cseq = cseq;
	b->expires = expires;

	return 0;
}


int subscriber_binding_set(struct subscriber *s, const char *uri,
			   const char *callid, uint32_t cseq,
			   uint32_t expires_s, uint64_t now)
{
	struct pl key;
	int i;

	if (!s || !uri)
		return EINVAL;

	table_trim(&key, uri);
	if (!key.l)
		return EINVAL;

	i = binding_find(s, &key);

	/* Removing a binding that is not there is not an error: a REGISTER
	 * with Expires: 0 for an unknown contact is answered 200 (RFC 3261
	 * section 10.3, step 6). */
	if (expires_s == 0) {
		if (i >= 0)
			binding_drop(s, (unsigned)i);
		return 0;
	}

	/* A binding that has already run out must not hold a place that a
	 * new contact could use. */
	if (i < 0)
		(void)bindings_expire(s, now);

	return binding_put(s, &key, callid, cseq,
			   now + (uint64_t)expires_s * 1000);
}


int subscriber_binding_remove_all(struct subscriber *s)
{
	if (!s)
		return EINVAL;

	while (s->bindc)
		binding_drop(s, s->bindc - 1);

	return 0;
}


unsigned subscriber_binding_count(const struct subscriber *s)
{
	return s ? s->bindc : 0;
}


const struct binding *subscriber_binding(const struct subscriber *s,
					 unsigned i)
{
	if (!s || i >= s->bindc)
		return NULL;

	return &s->bindv[i];
}


const struct binding *subscriber_binding_find(const struct subscriber *s,
					      const struct pl *uri)
{
	int i;

	if (!s || !uri)
		return NULL;

	i = binding_find(s, uri);

	return i < 0 ? NULL : &s->bindv[i];
}


unsigned table_bindings_expire(struct table *t, uint64_t now)
{
	struct le *le;
	unsigned n = 0;

	if (!t)
		return 0;

	LIST_FOREACH(&t->subl, le)
		n += bindings_expire(le->data, now);

	return n;
}


/* The bindings are copied, not taken: src stays whole until its owner
 * drops it, so a reload that fails later loses nothing. */
void table_bindings_move(struct table *dst, struct table *src)
{
	struct le *le;

	if (!dst || !src || dst == src)
		return;

	LIST_FOREACH(&src->subl, le) {
		const struct subscriber *from = le->data;
		struct subscriber *to;
		unsigned i;

		if (!from->bindc)
			continue;

		to = table_subscriber(dst, from->id);
		if (!to)
			continue;

		for (i = 0; i < from->bindc; i++) {
			const struct binding *b = &from->bindv[i];
			struct pl uri;

			pl_set_str(&uri, b->uri);

			/* A full subscriber keeps the bindings it has. */
			(void)binding_put(to, &uri, b->callid, b->cseq,
					  b->expires);
		}
	}
}
