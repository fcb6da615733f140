/**
 * @file table.c  Subscribers, resources, rules and registrar bindings
 *
 * A table is plain data owned by the loop.  Subscribers and resources are
 * each kept twice: in a libre hash for lookups by id, and in a list that
 * keeps the order in which they were added, so that listings (the API,
 * the demo's report) come out the same on every run.  The hash holds the
 * reference; the ordered list only links.
 *
 * Subscribers and resources are mem objects: code that keeps one across a
 * callback takes a reference, and the object outlives a table that is
 * replaced on SIGHUP in the meantime.
 */
#include <stdio.h>
#include <string.h>
#include <re.h>
#include "core/core.h"


enum {
	SUB_BUCKETS = 1024,
	RES_BUCKETS = 64,
	BINDINGS_MAX = 16,   /* per subscriber; one more is ENOSPC */
	RESID_MAX = 64,
	TYPE_MAX = 255,
};


struct table {
	struct hash *subh;    /* subscribers by id (holds the reference) */
	struct list subl;     /* subscribers in the order they were added */
	struct hash *resh;    /* resources by id (holds the reference) */
	struct list resl;     /* resources in the order they were added */
	struct table_limits limits;
};

struct contact {
	struct le le;
	char *uri;
};

/* Per calling party assignment; a NULL direction falls back to the
 * subscriber's own assignment. */
struct rule {
	struct le le;
	char *caller;
	char *res[2];         /* indexed by enum cmr_dir */
};

struct subscriber {
	struct le he;         /* in table->subh */
	struct le le;         /* in table->subl */
	char *id;
	enum cmr_mode mode;
	char *cmr[2];         /* resource ids, indexed by enum cmr_dir */
	char *password;       /* NULL: no authentication */
	struct list contacts; /* struct contact, static routes */
	struct list rules;    /* struct rule */
	struct binding bindv[BINDINGS_MAX];
	unsigned bindc;
};

/* The public struct resource comes first, so that a struct resource
 * pointer is the mem object itself and can be referenced with mem_ref. */
struct resnode {
	struct resource r;
	struct le he;         /* in table->resh */
	struct le le;         /* in table->resl */
};


static struct table *live_table;

static const char *mode_names[] = {
	[MODE_AUTO]    = "auto",
	[MODE_HTTP]    = "http",
	[MODE_AS]      = "as",
	[MODE_GATEWAY] = "gateway",
	[MODE_OFF]     = "off",
};


const char *cmr_mode_name(enum cmr_mode m)
{
	if ((unsigned)m >= ARRAY_SIZE(mode_names))
		return "unknown";

	return mode_names[m];
}


int cmr_mode_parse(enum cmr_mode *mp, const char *s)
{
	size_t i;

	if (!mp || !s)
		return EINVAL;

	for (i = 0; i < ARRAY_SIZE(mode_names); i++) {
		if (0 == strcmp(s, mode_names[i])) {
			*mp = (enum cmr_mode)i;
			return 0;
		}
	}

	return EINVAL;
}


/* ---- strings ------------------------------------------------------------ */

/* Replaces *dstp with a copy of src (NULL clears it).  On failure *dstp is
 * left as it was. */
static int str_replace(char **dstp, const char *src)
{
	char *s = NULL;
	int err;

	if (src) {
		err = str_dup(&s, src);
		if (err)
			return err;
	}

	mem_deref(*dstp);
	*dstp = s;

	return 0;
}


static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}


static void trim(struct pl *pl, const char *s)
{
	size_t l = strlen(s);

	while (l && is_space(*s)) {
		++s;
		--l;
	}
	while (l && is_space(s[l - 1]))
		--l;

	pl->p = s;
	pl->l = l;
}


static bool pl_equals(const struct pl *pl, const char *s)
{
	return s && strlen(s) == pl->l && 0 == memcmp(pl->p, s, pl->l);
}


/* ---- the table ---------------------------------------------------------- */

static void table_destructor(void *data)
{
	struct table *t = data;

	/* The ordered lists only link; the hashes hold the references. */
	list_clear(&t->subl);
	list_clear(&t->resl);
	hash_flush(t->subh);
	hash_flush(t->resh);
	mem_deref(t->subh);
	mem_deref(t->resh);
}


int table_alloc(struct table **tp)
{
	struct table *t;
	int err;

	if (!tp)
		return EINVAL;

	t = mem_zalloc(sizeof(*t), table_destructor);
	if (!t)
		return ENOMEM;

	t->limits.ring_s = LIMIT_RING_DEFAULT;
	t->limits.call_s = LIMIT_CALL_DEFAULT;

	err = hash_alloc(&t->subh, SUB_BUCKETS);
	if (err)
		goto out;

	err = hash_alloc(&t->resh, RES_BUCKETS);

 out:
	if (err)
		mem_deref(t);
	else
		*tp = t;

	return err;
}


/* ---- subscribers -------------------------------------------------------- */

static void binding_clear(struct binding *b)
{
	b->uri = mem_deref(b->uri);
	b->callid = mem_deref(b->callid);
}


static void subscriber_destructor(void *data)
{
	struct subscriber *s = data;
	unsigned i;

	hash_unlink(&s->he);
	list_unlink(&s->le);
	list_flush(&s->contacts);
	list_flush(&s->rules);

	for (i = 0; i < s->bindc; i++)
		binding_clear(&s->bindv[i]);

	mem_deref(s->id);
	mem_deref(s->cmr[DIR_BT]);
	mem_deref(s->cmr[DIR_RT]);
	mem_deref(s->password);
}


static bool sub_cmp(struct le *le, void *arg)
{
	const struct subscriber *s = le->data;

	return 0 == strcmp(s->id, arg);
}


static bool sub_cmp_pl(struct le *le, void *arg)
{
	const struct subscriber *s = le->data;

	return pl_equals(arg, s->id);
}


struct subscriber *table_subscriber(const struct table *t, const char *id)
{
	if (!t || !id)
		return NULL;

	return list_ledata(hash_lookup(t->subh, hash_joaat_str(id), sub_cmp,
				       (void *)id));
}


struct subscriber *table_subscriber_pl(const struct table *t,
				       const struct pl *id)
{
	if (!t || !id || !id->p)
		return NULL;

	return list_ledata(hash_lookup(t->subh, hash_joaat_pl(id),
				       sub_cmp_pl, (void *)id));
}


int table_subscriber_add(struct table *t, const char *id,
			 struct subscriber **sp)
{
	struct subscriber *s;
	int err;

	if (!t || !id || !*id)
		return EINVAL;

	if (table_subscriber(t, id))
		return EEXIST;

	s = mem_zalloc(sizeof(*s), subscriber_destructor);
	if (!s)
		return ENOMEM;

	s->mode = MODE_AUTO;

	err  = str_dup(&s->id, id);
	err |= str_dup(&s->cmr[DIR_BT], "ringback-default");
	err |= str_dup(&s->cmr[DIR_RT], "ringtone-default");
	if (err) {
		mem_deref(s);
		return ENOMEM;
	}

	hash_append(t->subh, hash_joaat_str(id), &s->he, s);
	list_append(&t->subl, &s->le, s);

	if (sp)
		*sp = s;

	return 0;
}


unsigned table_subscriber_count(const struct table *t)
{
	return t ? list_count(&t->subl) : 0;
}


struct subscriber *table_subscriber_apply(const struct table *t,
					  table_sub_h *h, void *arg)
{
	struct le *le;

	if (!t || !h)
		return NULL;

	for (le = t->subl.head; le; ) {
		struct subscriber *s = le->data;

		/* The handler may unlink this subscriber. */
		le = le->next;
		if (h(s, arg))
			return s;
	}

	return NULL;
}


const char *subscriber_id(const struct subscriber *s)
{
	return s ? s->id : NULL;
}


enum cmr_mode subscriber_mode(const struct subscriber *s)
{
	return s ? s->mode : MODE_AUTO;
}


void subscriber_mode_set(struct subscriber *s, enum cmr_mode m)
{
	if (s && (unsigned)m < ARRAY_SIZE(mode_names))
		s->mode = m;
}


int subscriber_cmr_set(struct subscriber *s, enum cmr_dir dir,
		       const char *resid)
{
	if (!s || (dir != DIR_BT && dir != DIR_RT))
		return EINVAL;

	return str_replace(&s->cmr[dir], resid);
}


const char *subscriber_password(const struct subscriber *s)
{
	return s ? s->password : NULL;
}


int subscriber_password_set(struct subscriber *s, const char *pw)
{
	if (!s)
		return EINVAL;

	return str_replace(&s->password, pw);
}


static void rule_destructor(void *data)
{
	struct rule *r = data;

	mem_deref(r->caller);
	mem_deref(r->res[DIR_BT]);
	mem_deref(r->res[DIR_RT]);
}


/* Calling party user parts are compared case-sensitively, as SIP compares
 * the user part of a URI (RFC 3261 section 19.1.4). */
static struct rule *rule_find(const struct subscriber *s, const char *caller)
{
	struct le *le;

	LIST_FOREACH(&s->rules, le) {
		struct rule *r = le->data;

		if (0 == strcmp(r->caller, caller))
			return r;
	}

	return NULL;
}


int subscriber_rule_add(struct subscriber *s, const char *caller,
			enum cmr_dir dir, const char *resid)
{
	struct rule *r;
	int err;

	if (!s || !caller || !*caller || (dir != DIR_BT && dir != DIR_RT))
		return EINVAL;

	r = rule_find(s, caller);
	if (r)
		return str_replace(&r->res[dir], resid);

	r = mem_zalloc(sizeof(*r), rule_destructor);
	if (!r)
		return ENOMEM;

	err = str_dup(&r->caller, caller);
	if (!err)
		err = str_replace(&r->res[dir], resid);
	if (err) {
		mem_deref(r);
		return err;
	}

	list_append(&s->rules, &r->le, r);

	return 0;
}


const char *subscriber_cmr(const struct subscriber *s, enum cmr_dir dir,
			   const char *caller)
{
	const struct rule *r;

	if (!s || (dir != DIR_BT && dir != DIR_RT))
		return NULL;

	if (caller) {
		r = rule_find(s, caller);
		if (r && r->res[dir])
			return r->res[dir];
	}

	return s->cmr[dir];
}


static void contact_destructor(void *data)
{
	struct contact *c = data;

	mem_deref(c->uri);
}


int subscriber_contact_add(struct subscriber *s, const char *uri)
{
	struct contact *c;
	struct le *le;
	struct pl pl;
	int err;

	if (!s || !uri)
		return EINVAL;

	trim(&pl, uri);
	if (!pl.l)
		return EINVAL;

	/* Adding a contact twice would only make the router try it twice. */
	LIST_FOREACH(&s->contacts, le) {
		c = le->data;
		if (pl_equals(&pl, c->uri))
			return 0;
	}

	c = mem_zalloc(sizeof(*c), contact_destructor);
	if (!c)
		return ENOMEM;

	err = pl_strdup(&c->uri, &pl);
	if (err) {
		mem_deref(c);
		return err;
	}

	list_append(&s->contacts, &c->le, c);

	return 0;
}


unsigned subscriber_contact_count(const struct subscriber *s)
{
	return s ? list_count(&s->contacts) : 0;
}


const char *subscriber_contact(const struct subscriber *s, unsigned i)
{
	struct le *le;

	if (!s)
		return NULL;

	for (le = s->contacts.head; le && i; le = le->next)
		--i;

	return le ? ((struct contact *)le->data)->uri : NULL;
}


/* ---- registrar bindings ------------------------------------------------- */

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

	trim(&key, uri);
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


/* ---- resources ---------------------------------------------------------- */

static void resnode_destructor(void *data)
{
	struct resnode *n = data;

	hash_unlink(&n->he);
	list_unlink(&n->le);
	mem_deref(n->r.id);
	mem_deref(n->r.type);
	mem_deref(n->r.data);
	mem_deref(n->r.media);
}


/* Resource ids become part of URLs (/r/ID) and of file names in the state
 * directory, so they are limited to characters that need no escaping in
 * either. */
static bool resid_valid(const char *id)
{
	size_t l = strlen(id);
	size_t i;

	if (l < 1 || l > RESID_MAX)
		return false;

	for (i = 0; i < l; i++) {
		char c = id[i];

		if (!(('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') ||
		      ('0' <= c && c <= '9') || c == '.' || c == '_' ||
		      c == '-'))
			return false;
	}

	return true;
}


/* The type goes verbatim into a Content-Type header: no control
 * characters, so it cannot end the header early. */
static bool type_valid(const char *type)
{
	size_t l = strlen(type);
	size_t i;

	if (l < 1 || l > TYPE_MAX)
		return false;

	for (i = 0; i < l; i++) {
		if ((unsigned char)type[i] < 0x20 ||
		    (unsigned char)type[i] > 0x7e)
			return false;
	}

	return true;
}


/* 64-bit FNV-1a: a stable, cheap fingerprint of the bytes for the strong
 * ETag; the same bytes give the same tag across restarts. */
static uint64_t fnv1a64(const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	while (n--) {
		h ^= *p++;
		h *= 0x100000001b3ULL;
	}

	return h;
}


static bool res_cmp(struct le *le, void *arg)
{
	const struct resnode *n = le->data;

	return 0 == strcmp(n->r.id, arg);
}


static struct resnode *resnode_find(const struct table *t, const char *id)
{
	return list_ledata(hash_lookup(t->resh, hash_joaat_str(id), res_cmp,
				       (void *)id));
}


struct resource *table_resource(const struct table *t, const char *id)
{
	struct resnode *n;

	if (!t || !id)
		return NULL;

	n = resnode_find(t, id);

	return n ? &n->r : NULL;
}


int table_resource_add(struct table *t, const char *id, const char *type,
		       const uint8_t *data, size_t size)
{
	struct resnode *n, *old;
	int err;

	if (!t || !id || (!data && size))
		return EINVAL;

	if (!type)
		type = "application/octet-stream";

	if (!resid_valid(id) || !type_valid(type))
		return EINVAL;

	n = mem_zalloc(sizeof(*n), resnode_destructor);
	if (!n)
		return ENOMEM;

	err  = str_dup(&n->r.id, id);
	err |= str_dup(&n->r.type, type);
	if (err) {
		err = ENOMEM;
		goto out;
	}

	n->r.data = mem_alloc(size ? size : 1, NULL);
	if (!n->r.data) {
		err = ENOMEM;
		goto out;
	}

	if (size)
		memcpy(n->r.data, data, size);
	n->r.size = size;

	(void)snprintf(n->r.etag, sizeof(n->r.etag), "\"%016llx\"",
		       (unsigned long long)fnv1a64(n->r.data, size));
	n->r.duration_ms = wav_duration_ms(n->r.data, size);

	/* Replacing takes the old one out of the table only; whoever holds
	 * a reference to it (a response being sent) keeps it alive. */
	old = resnode_find(t, id);
	if (old) {
		list_insert_after(&t->resl, &old->le, &n->le, n);
		hash_unlink(&old->he);
		list_unlink(&old->le);
		mem_deref(old);
	}
	else {
		list_append(&t->resl, &n->le, n);
	}
	hash_append(t->resh, hash_joaat_str(id), &n->he, n);

 out:
	if (err)
		mem_deref(n);

	return err;
}


unsigned table_resource_count(const struct table *t)
{
	return t ? list_count(&t->resl) : 0;
}


struct resource *table_resource_apply(const struct table *t,
				      table_res_h *h, void *arg)
{
	struct le *le;

	if (!t || !h)
		return NULL;

	for (le = t->resl.head; le; ) {
		struct resnode *n = le->data;

		le = le->next;
		if (h(&n->r, arg))
			return &n->r;
	}

	return NULL;
}


/* ---- the live table ----------------------------------------------------- */

struct table *table_live(void)
{
	return live_table;
}


void table_live_set(struct table *t)
{
	struct table *old = live_table;

	/* Reference the new table first: t may be the one already live. */
	live_table = mem_ref(t);
	mem_deref(old);
}


const struct table_limits *table_limits(const struct table *t)
{
	static const struct table_limits dflt = {
		LIMIT_RING_DEFAULT, LIMIT_CALL_DEFAULT
	};

	return t ? &t->limits : &dflt;
}


void table_limits_set(struct table *t, const struct table_limits *lim)
{
	if (t && lim)
		t->limits = *lim;
}
