/**
 * @file state.c  The changes made through the HTTP API, over the profile
 *
 * The profile is what the operator wrote; the API changes the live table
 * on top of it.  This file keeps those changes as an overlay: the
 * subscribers and resources put (in a table of the overlay's own) and the
 * ids deleted.  Every table that goes live gets the overlay put onto it,
 * the one loaded at start and each one a SIGHUP loads, so a reload never
 * undoes a change made through the API.
 *
 * With --state DIR the overlay is also on disk (state_file.c): DIR/state.json
 * names every change, and each resource put has its bytes in a file of
 * DIR/res/ of its own.  A change is written before it takes effect:
 * state.json is replaced whole (temporary file, fsync, rename, fsync of
 * the folder), and that rename is the moment a change is made.  A crash
 * at any point leaves the state.json before or after it; a resource file
 * that no state.json names is removed at the next start.
 *
 * The JSON goes through libre's odict and json; nothing here writes JSON
 * by hand.  Everything runs on the loop, except state_blob_write().
 */
#include <string.h>
#include <re.h>
#include "core/core.h"
#include "core/state_int.h"


enum {
	HASH_SIZE = 32,
	CONTACTS_MAX = 16,
	PASSWORD_MAX = 128,
};


static void state_destructor(void *data)
{
	struct state *st = data;

	list_flush(&st->subdel);
	list_flush(&st->resdel);
	list_flush(&st->files);
	list_flush(&st->ownsub);
	list_flush(&st->ownres);
	mem_deref(st->t);
	mem_deref(st->dir);
}


static void idnode_destructor(void *data)
{
	struct idnode *n = data;

	list_unlink(&n->le);
	mem_deref(n->id);
	mem_deref(n->file);
}


int state_alloc(struct state **stp, const char *dir)
{
	struct state *st;
	int err;

	if (!stp)
		return EINVAL;

	st = mem_zalloc(sizeof(*st), state_destructor);
	if (!st)
		return ENOMEM;

	err = table_alloc(&st->t);
	if (!err && dir)
		err = str_dup(&st->dir, dir);

	if (err)
		mem_deref(st);
	else
		*stp = st;

	return err;
}


const char *state_dir(const struct state *st)
{
	return st ? st->dir : NULL;
}


struct idnode *state_idfind(const struct list *l, const char *id)
{
	struct le *le;

	LIST_FOREACH(l, le) {
		struct idnode *n = le->data;

		if (!strcmp(n->id, id))
			return n;
	}

	return NULL;
}


int state_idadd(struct list *l, const char *id, const char *file)
{
	struct idnode *n = state_idfind(l, id);
	int err = 0;

	if (!n) {
		n = mem_zalloc(sizeof(*n), idnode_destructor);
		if (!n)
			return ENOMEM;
		err = str_dup(&n->id, id);
		if (err) {
			mem_deref(n);
			return err;
		}
		list_append(l, &n->le, n);
	}

	n->file = mem_deref(n->file);
	if (file)
		err = str_dup(&n->file, file);

	return err;
}


void state_iddel(struct list *l, const char *id)
{
	mem_deref(state_idfind(l, id));
}


const char *state_file_of(const struct state *st, const char *id)
{
	const struct idnode *n = st ? state_idfind(&st->files, id) : NULL;

	return n ? n->file : NULL;
}


/* ---- a subscriber as JSON ----------------------------------------------- */

static int fail(struct state_err *e, const char *field, const char *msg)
{
	if (e) {
		e->field = field;
		e->msg = msg;
	}

	return EINVAL;
}


/* An optional string member: absent or null leaves *sp NULL. */
static int member_str(const struct odict *o, const char *key,
		      const char **sp, bool nullable, struct state_err *e)
{
	const struct odict_entry *oe = odict_lookup(o, key);

	*sp = NULL;
	if (!oe)
		return 0;
	if (oe->type == ODICT_NULL && nullable)
		return 0;
	if (oe->type != ODICT_STRING)
		return fail(e, key, nullable ? "must be a string or null" :
			    "must be a string");

	*sp = oe->u.str;

	return 0;
}


int state_spec_decode(struct table *scratch, const char *id,
		      const struct odict *o, struct subscriber **sp,
		      struct state_err *e)
{
	static const char *keys[] = {
		"id", "mode", "cmrbt", "cmrt", "password", "contacts",
		"password_set", "bindings",
	};
	const char *mode = NULL, *bt = NULL, *rt = NULL, *pw = NULL;
	const char *sid = NULL;
	const struct odict_entry *ce;
	struct subscriber *s = NULL;
	enum cmr_mode m = MODE_AUTO;
	struct le *le;
	int err;

	if (!scratch || !id || !o || !sp)
		return EINVAL;

	/* A typing mistake in a field name would otherwise go unnoticed. */
	LIST_FOREACH(&o->lst, le) {
		const struct odict_entry *oe = le->data;
		size_t i;

		for (i = 0; i < ARRAY_SIZE(keys); i++) {
			if (!strcmp(oe->key, keys[i]))
				break;
		}
		if (i == ARRAY_SIZE(keys))
			return fail(e, oe->key, "unknown field");
	}

	err  = member_str(o, "id", &sid, false, e);
	err |= member_str(o, "mode", &mode, false, e);
	err |= member_str(o, "cmrbt", &bt, false, e);
	err |= member_str(o, "cmrt", &rt, false, e);
	err |= member_str(o, "password", &pw, true, e);
	if (err)
		return EINVAL;

	/* What GET returns may be sent back as it is: the id must then be
	 * the one in the path, and the read-only fields are ignored. */
	if (!id_user_valid(id))
		return fail(e, "id", "a subscriber id is 1 to 64 characters "
			    "of A-Z a-z 0-9 . _ ~ + -");
	if (sid && strcmp(sid, id))
		return fail(e, "id", "differs from the id in the path");
	if (mode && (cmr_mode_parse(&m, mode) || m == MODE_EARLY))
		return fail(e, "mode", "must be auto, http, as, gateway or "
			    "off");
	if (bt && !id_resource_valid(bt))
		return fail(e, "cmrbt", "not a resource id");
	if (rt && !id_resource_valid(rt))
		return fail(e, "cmrt", "not a resource id");
	if (pw && (!*pw || strlen(pw) > PASSWORD_MAX))
		return fail(e, "password", "must be 1 to 128 bytes, or null");

	ce = odict_lookup(o, "contacts");
	if (ce && ce->type != ODICT_ARRAY && ce->type != ODICT_NULL)
		return fail(e, "contacts", "must be an array of SIP URIs");
	if (ce && ce->type == ODICT_ARRAY) {
		if (odict_count(ce->u.odict, false) > CONTACTS_MAX)
			return fail(e, "contacts", "at most 16 contacts");
		LIST_FOREACH(&ce->u.odict->lst, le) {
			const struct odict_entry *c = le->data;

			if (c->type != ODICT_STRING ||
			    !id_contact_valid(c->u.str))
				return fail(e, "contacts", "must be an array "
					    "of sip: or sips: URIs");
		}
	}

	(void)table_subscriber_remove(scratch, id);
	err = table_subscriber_add(scratch, id, &s);
	if (err)
		return err;

	subscriber_mode_set(s, m);
	if (bt)
		err |= subscriber_cmr_set(s, DIR_BT, bt);
	if (rt)
		err |= subscriber_cmr_set(s, DIR_RT, rt);
	if (pw)
		err |= subscriber_password_set(s, pw);
	if (ce && ce->type == ODICT_ARRAY) {
		LIST_FOREACH(&ce->u.odict->lst, le) {
			const struct odict_entry *c = le->data;

			err |= subscriber_contact_add(s, c->u.str);
		}
	}
	if (err) {
		(void)table_subscriber_remove(scratch, id);
		return ENOMEM;
	}

	*sp = s;

	return 0;
}


int state_spec_encode(struct odict *o, const struct subscriber *s,
		      bool secret)
{
	struct odict *contacts = NULL;
	const char *pw = subscriber_password(s);
	int err;

	err = odict_alloc(&contacts, HASH_SIZE);
	if (err)
		return err;

	for (unsigned i = 0; !err && i < subscriber_contact_count(s); i++)
		err = jsonw_arr_str(contacts, subscriber_contact(s, i));

	err |= odict_entry_add(o, "id", ODICT_STRING, subscriber_id(s));
	err |= odict_entry_add(o, "mode", ODICT_STRING,
			       cmr_mode_name(subscriber_mode(s)));
	err |= odict_entry_add(o, "cmrbt", ODICT_STRING,
			       subscriber_cmr(s, DIR_BT, NULL));
	err |= odict_entry_add(o, "cmrt", ODICT_STRING,
			       subscriber_cmr(s, DIR_RT, NULL));
	if (secret && pw)
		err |= odict_entry_add(o, "password", ODICT_STRING, pw);
	else if (secret)
		err |= odict_entry_add(o, "password", ODICT_NULL);
	else
		err |= odict_entry_add(o, "password_set", ODICT_BOOL,
				       pw && *pw);
	err |= odict_entry_add(o, "contacts", ODICT_ARRAY, contacts);

	mem_deref(contacts);

	return err ? ENOMEM : 0;
}


/* ---- the overlay -------------------------------------------------------- */

struct apply {
	struct state *st;
	struct table *t;
	int err;
};


static bool sub_apply(struct subscriber *s, void *arg)
{
	struct apply *a = arg;
	const char *id = subscriber_id(s);

	if (table_subscriber(a->t, id))
		state_iddel(&a->st->ownsub, id);
	else if (!state_idfind(&a->st->ownsub, id))
		(void)state_idadd(&a->st->ownsub, id, NULL);

	a->err = table_subscriber_put(a->t, s, NULL);

	return a->err != 0;
}


static bool res_apply(struct resource *r, void *arg)
{
	struct apply *a = arg;

	if (table_resource(a->t, r->id))
		state_iddel(&a->st->ownres, r->id);
	else if (!state_idfind(&a->st->ownres, r->id))
		(void)state_idadd(&a->st->ownres, r->id, NULL);

	a->err = table_resource_link(a->t, r);

	return a->err != 0;
}


int state_apply(struct state *st, struct table *t)
{
	struct apply a = { st, t, 0 };
	struct le *le;

	if (!st || !t)
		return EINVAL;

	/* t is the profile alone: a deletion of an id it does not have
	 * (any more) is not needed; the next state.json leaves it out. */
	for (le = list_head(&st->resdel); le; ) {
		struct idnode *n = le->data;

		le = le->next;
		if (!table_resource_remove(t, n->id))
			mem_deref(n);
	}
	for (le = list_head(&st->subdel); le; ) {
		struct idnode *n = le->data;

		le = le->next;
		if (!table_subscriber_remove(t, n->id))
			mem_deref(n);
	}

	(void)table_resource_apply(st->t, res_apply, &a);
	if (!a.err)
		(void)table_subscriber_apply(st->t, sub_apply, &a);

	return a.err;
}


bool state_empty(const struct state *st)
{
	return !st || (!table_subscriber_count(st->t) &&
		       !table_resource_count(st->t) &&
		       list_isempty(&st->subdel) && list_isempty(&st->resdel));
}


/* Each change is written first (state_file.c), and made here only once
 * the new state.json is in place. */

/*
 * An id that the API put and the profile does not have is the API's own:
 * deleting it needs no record that it was deleted.  Only ids of the
 * profile get one (it would come back with the next reload), so the
 * lists of deleted ids stay as long as the profile at most.  An id is the
 * API's own when the live table lacked it and no deletion hid it there
 * (a subscriber or resource that neither the profile nor the API had).
 */
static void own_note(struct list *own, const struct list *del,
		     bool live_has, const char *id)
{
	if (state_idfind(own, id))
		return;

	if (!live_has && !state_idfind(del, id))
		(void)state_idadd(own, id, NULL);
}


int state_subscriber_put(struct state *st, const struct subscriber *spec,
			 const struct table *live)
{
	struct state_change ch = { CH_SUB_PUT, NULL, spec, NULL, NULL, false };
	int err;

	if (!st || !spec)
		return EINVAL;

	ch.id = subscriber_id(spec);

	err = state_commit(st, &ch);
	if (err)
		return err;

	own_note(&st->ownsub, &st->subdel,
		 !live || table_subscriber(live, ch.id), ch.id);
	state_iddel(&st->subdel, ch.id);

	return table_subscriber_put(st->t, spec, NULL);
}


int state_subscriber_delete(struct state *st, const char *id)
{
	struct state_change ch = { CH_SUB_DEL, id, NULL, NULL, NULL, true };
	int err;

	if (!st || !id)
		return EINVAL;

	ch.tomb = !state_idfind(&st->ownsub, id);

	err = state_commit(st, &ch);
	if (err)
		return err;

	(void)table_subscriber_remove(st->t, id);
	state_iddel(&st->ownsub, id);

	return ch.tomb ? state_idadd(&st->subdel, id, NULL) : 0;
}


int state_resource_put(struct state *st, const struct resource *r,
		       const char *file, const struct table *live)
{
	struct state_change ch = { CH_RES_PUT, NULL, NULL, r, file, false };
	char *old = NULL;
	int err;

	if (!st || !r || (st->dir && !file))
		return EINVAL;

	ch.id = r->id;

	err = state_commit(st, &ch);
	if (err)
		return err;

	/* The file of the resource this one replaces is no longer named. */
	if (state_file_of(st, r->id))
		err = str_dup(&old, state_file_of(st, r->id));

	own_note(&st->ownres, &st->resdel,
		 !live || table_resource(live, r->id), r->id);
	state_iddel(&st->resdel, r->id);
	err |= state_idadd(&st->files, r->id, file);
	err |= table_resource_link(st->t, r);

	if (old && (!file || strcmp(old, file)))
		state_file_unlink(st, old);
	mem_deref(old);

	return err;
}


int state_resource_delete(struct state *st, const char *id)
{
	struct state_change ch = { CH_RES_DEL, id, NULL, NULL, NULL, true };
	const char *file;
	int err;

	if (!st || !id)
		return EINVAL;

	ch.tomb = !state_idfind(&st->ownres, id);

	err = state_commit(st, &ch);
	if (err)
		return err;

	file = state_file_of(st, id);
	if (file)
		state_file_unlink(st, file);
	state_iddel(&st->files, id);
	state_iddel(&st->ownres, id);
	(void)table_resource_remove(st->t, id);

	return ch.tomb ? state_idadd(&st->resdel, id, NULL) : 0;
}
