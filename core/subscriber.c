/**
 * @file subscriber.c  The subscribers of a table: modes, CMR assignments,
 *                     rules per caller, static contacts
 */
#include <string.h>
#include <re.h>
#include "core/core.h"
#include "core/table_int.h"


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


static const char *mode_names[] = {
	[MODE_AUTO]    = "auto",
	[MODE_HTTP]    = "http",
	[MODE_AS]      = "as",
	[MODE_GATEWAY] = "gateway",
	[MODE_OFF]     = "off",
	[MODE_EARLY]   = "early-media",
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


void table_trim(struct pl *pl, const char *s)
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


/* ---- subscribers -------------------------------------------------------- */

static void subscriber_destructor(void *data)
{
	struct subscriber *s = data;

	hash_unlink(&s->he);
	list_unlink(&s->le);
	list_flush(&s->contacts);
	list_flush(&s->rules);
	(void)subscriber_binding_remove_all(s);

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
	char buf[SUBSCRIBER_ID_MAX + 1];

	if (!t || !id || !id->p)
		return NULL;

	if (!memchr(id->p, '%', id->l))
		return list_ledata(hash_lookup(t->subh, hash_joaat_pl(id),
					       sub_cmp_pl, (void *)id));

	if (sipuri_user_unescape(id, buf, sizeof(buf)))
		return NULL;

	return table_subscriber(t, buf);
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


enum cmr_mode subscriber_plain(const struct subscriber *s)
{
	return s ? s->plain : MODE_AUTO;
}


void subscriber_plain_set(struct subscriber *s, enum cmr_mode m)
{
	if (s && (m == MODE_AUTO || m == MODE_EARLY || m == MODE_HTTP))
		s->plain = m;
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

	table_trim(&pl, uri);
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


/* ---- changes through the API -------------------------------------------- */

int subscriber_assign(struct subscriber *dst, const struct subscriber *src)
{
	char *cmr[2] = { NULL, NULL }, *pw = NULL;
	struct list contacts = LIST_INIT, rules = LIST_INIT;
	struct le *le;
	int err = 0;

	if (!dst || !src || dst == src)
		return EINVAL;

	/* Everything is copied first, so that a failure leaves dst as it
	 * was; then it is swapped in. */
	if (src->cmr[DIR_BT])
		err |= str_dup(&cmr[DIR_BT], src->cmr[DIR_BT]);
	if (src->cmr[DIR_RT])
		err |= str_dup(&cmr[DIR_RT], src->cmr[DIR_RT]);
	if (src->password)
		err |= str_dup(&pw, src->password);

	LIST_FOREACH(&src->contacts, le) {
		const struct contact *c = le->data;
		struct contact *n;

		if (err)
			break;
		n = mem_zalloc(sizeof(*n), contact_destructor);
		if (!n || str_dup(&n->uri, c->uri)) {
			mem_deref(n);
			err = ENOMEM;
			break;
		}
		list_append(&contacts, &n->le, n);
	}

	LIST_FOREACH(&src->rules, le) {
		const struct rule *r = le->data;
		struct rule *n;

		if (err)
			break;
		n = mem_zalloc(sizeof(*n), rule_destructor);
		if (!n || str_dup(&n->caller, r->caller) ||
		    (r->res[DIR_BT] && str_dup(&n->res[DIR_BT],
					       r->res[DIR_BT])) ||
		    (r->res[DIR_RT] && str_dup(&n->res[DIR_RT],
					       r->res[DIR_RT]))) {
			mem_deref(n);
			err = ENOMEM;
			break;
		}
		list_append(&rules, &n->le, n);
	}

	if (err) {
		mem_deref(cmr[DIR_BT]);
		mem_deref(cmr[DIR_RT]);
		mem_deref(pw);
		list_flush(&contacts);
		list_flush(&rules);
		return ENOMEM;
	}

	dst->mode = src->mode;
	dst->plain = src->plain;
	mem_deref(dst->cmr[DIR_BT]);
	mem_deref(dst->cmr[DIR_RT]);
	mem_deref(dst->password);
	dst->cmr[DIR_BT] = cmr[DIR_BT];
	dst->cmr[DIR_RT] = cmr[DIR_RT];
	dst->password = pw;
	list_flush(&dst->contacts);
	list_flush(&dst->rules);
	dst->contacts = contacts;
	dst->rules = rules;

	/* The lists were copied by value: their elements still point back
	 * at the local list heads. */
	LIST_FOREACH(&dst->contacts, le)
		le->list = &dst->contacts;
	LIST_FOREACH(&dst->rules, le)
		le->list = &dst->rules;

	return 0;
}


int table_subscriber_put(struct table *t, const struct subscriber *spec,
			 bool *createdp)
{
	struct subscriber *s;
	bool created = false;
	int err;

	if (!t || !spec)
		return EINVAL;

	s = table_subscriber(t, spec->id);
	if (!s) {
		err = table_subscriber_add(t, spec->id, &s);
		if (err)
			return err;
		created = true;
	}

	err = subscriber_assign(s, spec);
	if (err && created)
		mem_deref(s);
	if (!err && createdp)
		*createdp = created;

	return err;
}


bool table_subscriber_remove(struct table *t, const char *id)
{
	struct subscriber *s = table_subscriber(t, id);

	if (!s)
		return false;

	/* Out of the table now, even if someone holds a reference; the
	 * hash's reference goes, and the bindings with the object. */
	hash_unlink(&s->he);
	list_unlink(&s->le);
	mem_deref(s);

	return true;
}


const char *subscriber_uses(const struct subscriber *s, const char *resid)
{
	const struct le *le;

	if (!s || !resid)
		return NULL;

	if ((s->cmr[DIR_BT] && !strcmp(s->cmr[DIR_BT], resid)) ||
	    (s->cmr[DIR_RT] && !strcmp(s->cmr[DIR_RT], resid)))
		return s->id;

	LIST_FOREACH(&s->rules, le) {
		const struct rule *r = le->data;

		if ((r->res[DIR_BT] && !strcmp(r->res[DIR_BT], resid)) ||
		    (r->res[DIR_RT] && !strcmp(r->res[DIR_RT], resid)))
			return s->id;
	}

	return NULL;
}
