/**
 * @file table.c  The table, its resources and call limits, the live table
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
 *
 * A table's subscribers, with their rules and contacts, are in
 * subscriber.c; their registrar bindings are in binding.c.
 */
#include <stdio.h>
#include <string.h>
#include <re.h>
#include "core/core.h"
#include "core/table_int.h"


enum {
	SUB_BUCKETS = 1024,
	RES_BUCKETS = 64,
	TYPE_MAX = 255,
	HASH_CHUNK = 1 << 20,     /* bytes hashed between two cancel checks */
};


/* The public struct resource comes first, so that a struct resource
 * pointer is the mem object itself and can be referenced with mem_ref. */
struct resnode {
	struct resource r;
	struct le he;         /* in table->resh */
	struct le le;         /* in table->resl */
};


static struct table *live_table;


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
	t->plain = MODE_EARLY;

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
 * ETag; the same bytes give the same tag across restarts.  A reload
 * hashes on a job's thread, and 64 MiB take most of a second there, so
 * it asks after every HASH_CHUNK bytes whether the job was cancelled
 * (ECANCELED). */
static int fnv1a64(uint64_t *hp, const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	while (n) {
		size_t k = MIN(n, HASH_CHUNK);

		if (job_self_cancelled())
			return ECANCELED;

		n -= k;
		while (k--) {
			h ^= *p++;
			h *= 0x100000001b3ULL;
		}
	}

	*hp = h;

	return 0;
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


/* Puts node n into t under its id, in the place of a resource of that id
 * if there is one. */
static void resnode_insert(struct table *t, struct resnode *n)
{
	struct resnode *old = resnode_find(t, n->r.id);

	/* Replacing takes the old one out of the table only; whoever holds
	 * a reference to it (a response being sent) keeps it alive. */
	if (old) {
		list_insert_after(&t->resl, &old->le, &n->le, n);
		hash_unlink(&old->he);
		list_unlink(&old->le);
		mem_deref(old);
	}
	else {
		list_append(&t->resl, &n->le, n);
	}
	hash_append(t->resh, hash_joaat_str(n->r.id), &n->he, n);
}


int table_resource_link(struct table *t, const struct resource *r)
{
	struct resnode *n;
	int err;

	if (!t || !r)
		return EINVAL;

	n = mem_zalloc(sizeof(*n), resnode_destructor);
	if (!n)
		return ENOMEM;

	err  = str_dup(&n->r.id, r->id);
	err |= str_dup(&n->r.type, r->type);
	if (err) {
		mem_deref(n);
		return ENOMEM;
	}

	/* The bytes and the frames are immutable once set: shared. */
	n->r.data = mem_ref(r->data);
	n->r.size = r->size;
	n->r.media = mem_ref(r->media);
	n->r.duration_ms = r->duration_ms;
	memcpy(n->r.etag, r->etag, sizeof(n->r.etag));

	resnode_insert(t, n);

	return 0;
}


bool table_resource_remove(struct table *t, const char *id)
{
	struct resnode *n;

	if (!t || !id)
		return false;

	n = resnode_find(t, id);
	if (!n)
		return false;

	hash_unlink(&n->he);
	list_unlink(&n->le);
	mem_deref(n);

	return true;
}


int table_resource_add(struct table *t, const char *id, const char *type,
		       const uint8_t *data, size_t size)
{
	struct resnode *n;
	uint64_t hash;
	int err;

	if (!t || !id || (!data && size))
		return EINVAL;

	if (!type)
		type = "application/octet-stream";

	if (!id_resource_valid(id) || !type_valid(type))
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

	err = fnv1a64(&hash, n->r.data, size);
	if (err)
		goto out;

	(void)snprintf(n->r.etag, sizeof(n->r.etag), "\"%016llx\"",
		       (unsigned long long)hash);
	n->r.duration_ms = wav_duration_ms(n->r.data, size);

	resnode_insert(t, n);

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


enum cmr_mode table_plain(const struct table *t)
{
	return t ? t->plain : MODE_EARLY;
}


void table_plain_set(struct table *t, enum cmr_mode m)
{
	if (t && (m == MODE_EARLY || m == MODE_HTTP))
		t->plain = m;
}
