/**
 * @file state_load.c  The API's overlay read back from DIR/state.json and
 *                     DIR/res/ at start
 *
 * Everything is checked as the API checks it: a state.json that cannot be
 * read whole, or a resource file that does not hold the bytes it names,
 * stops the start with a message naming the file.  Files of DIR/res/ that
 * no state.json names are what a crash left between writing a resource's
 * bytes and the state.json that would have named them: they go.
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <re.h>
#include "core/core.h"
#include "core/state_int.h"


enum {
	STATE_VERSION = 1,
	HASH_SIZE = 32,
	JSON_DEPTH = 8,
	PATH_MAX_LEN = 4096,
};

#define BLOB_MAX  ((size_t)64 << 20)   /* the largest resource file read */


struct loadctx {
	struct state *st;
	char *msg;
	size_t msgsz;
	const char *path;
};


static int load_fail(struct loadctx *lc, int err, const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	(void)re_vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);

	(void)re_snprintf(lc->msg, lc->msgsz, "%s: %s", lc->path, buf);

	return err ? err : EINVAL;
}


static const struct odict *member_arr(const struct odict *o,
				      const char *key)
{
	const struct odict_entry *e = odict_lookup(o, key);

	return e && e->type == ODICT_ARRAY ? e->u.odict : NULL;
}


/* The N of a file name "ID.N", for the next number to hand out. */
static void gen_note(struct state *st, const char *file)
{
	const char *dot = strrchr(file, '.');
	uint64_t n;

	if (!dot)
		return;

	n = strtoull(dot + 1, NULL, 10);
	if (n >= st->gen)
		st->gen = n + 1;
}


static bool file_name_ok(const char *file, const char *id)
{
	size_t l = strlen(id);

	return !strncmp(file, id, l) && file[l] == '.' &&
		file[l + 1] && strspn(file + l + 1, "0123456789") ==
		strlen(file + l + 1);
}


static int load_resource(struct loadctx *lc, const struct odict *o,
			 unsigned idx)
{
	struct state *st = lc->st;
	const char *id = odict_string(o, "id");
	const char *type = odict_string(o, "type");
	const char *etag = odict_string(o, "etag");
	const char *file = odict_string(o, "file");
	char path[PATH_MAX_LEN];
	const struct resource *r;
	uint8_t *data = NULL;
	uint64_t bytes;
	size_t len;
	int err;

	if (!id || !id_resource_valid(id) || !type || !etag || !file ||
	    !odict_get_number(o, &bytes, "bytes") ||
	    !file_name_ok(file, id))
		return load_fail(lc, EINVAL, "resource %u: needs a valid id, "
				 "type, bytes, etag and file", idx);

	if (re_snprintf(path, sizeof(path), "%s/%s/%s", st->dir, STATE_RES_DIR,
			file) < 0)
		return load_fail(lc, ENAMETOOLONG, "resource %s: path too "
				 "long", id);

	err = state_file_read(path, BLOB_MAX, &data, &len);
	if (err)
		return load_fail(lc, err, "resource %s: cannot read %s: %m",
				 id, path, err);

	err = table_resource_add(st->t, id, type, data, len);
	mem_deref(data);
	if (err)
		return load_fail(lc, err, "resource %s: %m", id, err);

	r = table_resource(st->t, id);
	if (len != bytes || strcmp(r->etag, etag))
		return load_fail(lc, EBADMSG, "resource %s: %s does not hold "
				 "the bytes state.json names (%zu bytes, "
				 "ETag %s)", id, path, len, r->etag);

	gen_note(st, file);

	return state_idadd(&st->files, id, file);
}


static int load_ids(struct loadctx *lc, const struct odict *arr,
		    struct list *l, bool res, const char *key)
{
	struct le *le;

	if (!arr)
		return load_fail(lc, EINVAL, "\"%s\" must be an array", key);

	LIST_FOREACH(&arr->lst, le) {
		const struct odict_entry *e = le->data;

		if (e->type != ODICT_STRING ||
		    !(res ? id_resource_valid(e->u.str) :
		      id_user_valid(e->u.str)))
			return load_fail(lc, EINVAL, "\"%s\": not an id",
					 key);
		if (state_idadd(l, e->u.str, NULL))
			return ENOMEM;
	}

	return 0;
}


static int load_doc(struct loadctx *lc, const char *text, size_t len)
{
	struct state *st = lc->st;
	const struct odict *subs, *res;
	struct odict *o = NULL;
	struct le *le;
	uint64_t version;
	unsigned idx = 0;
	int err;

	while (len && strchr(" \t\r\n", *text)) {
		++text;
		--len;
	}
	if (!len || *text != '{')
		return load_fail(lc, EINVAL, "not a JSON object");
	if (!json_strict(text, len, JSON_DEPTH))
		return load_fail(lc, EINVAL, "not valid JSON");

	err = json_decode_odict(&o, HASH_SIZE, text, len, JSON_DEPTH);
	if (err)
		return load_fail(lc, err, "not valid JSON (%m)", err);

	if (!odict_get_number(o, &version, "version") ||
	    version != STATE_VERSION) {
		err = load_fail(lc, EINVAL, "version must be %d",
				STATE_VERSION);
		goto out;
	}

	res = member_arr(o, "resources");
	subs = member_arr(o, "subscribers");
	if (!res || !subs) {
		err = load_fail(lc, EINVAL, "\"resources\" and "
				"\"subscribers\" must be arrays");
		goto out;
	}

	LIST_FOREACH(&res->lst, le) {
		const struct odict_entry *e = le->data;

		if (e->type != ODICT_OBJECT) {
			err = load_fail(lc, EINVAL, "resource %u: not an "
					"object", idx);
			goto out;
		}
		err = load_resource(lc, e->u.odict, idx++);
		if (err)
			goto out;
	}

	idx = 0;
	LIST_FOREACH(&subs->lst, le) {
		const struct odict_entry *e = le->data;
		struct state_err se = { NULL, NULL };
		struct subscriber *s;
		const char *id;

		id = e->type == ODICT_OBJECT ? odict_string(e->u.odict, "id") :
			NULL;
		if (!id) {
			err = load_fail(lc, EINVAL, "subscriber %u: not an "
					"object with an id", idx);
			goto out;
		}
		err = state_spec_decode(st->t, id, e->u.odict, &s, &se);
		if (err) {
			err = load_fail(lc, err, "subscriber %s: %s: %s", id,
					se.field ? se.field : "?",
					se.msg ? se.msg : "cannot be read");
			goto out;
		}
		++idx;
	}

	err = load_ids(lc, member_arr(o, "subscribers_deleted"), &st->subdel,
		       false, "subscribers_deleted");
	if (!err)
		err = load_ids(lc, member_arr(o, "resources_deleted"),
			       &st->resdel, true, "resources_deleted");

 out:
	mem_deref(o);

	return err;
}


/* Files of DIR/res/ that no state names (a resource put or replaced
 * when the process died before or after its state.json) go. */
static void orphans_remove(const struct state *st)
{
	char rd[PATH_MAX_LEN], path[PATH_MAX_LEN];
	struct dirent *de;
	DIR *d;

	if (state_res_dir(st->dir, rd, sizeof(rd)))
		return;

	d = opendir(rd);
	if (!d)
		return;

	while ((de = readdir(d))) {
		struct le *le;
		bool named = false;

		/* Only the folder's own entries: a resource id may begin
		 * with a dot (".a"), and so may its files. */
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;

		LIST_FOREACH(&st->files, le) {
			const char *file = ((const struct idnode *)
					    le->data)->file;

			if (file && !strcmp(file, de->d_name)) {
				named = true;
				break;
			}
		}
		if (named)
			continue;

		if (re_snprintf(path, sizeof(path), "%s/%s", rd,
				de->d_name) > 0 && !unlink(path))
			LOGI(SUB_CORE, "state: removed %s, which no state "
			     "names", path);
	}

	(void)closedir(d);
}


int state_load(struct state *st, reload_prep_h *prep, void *arg,
	       char *msg, size_t msgsz)
{
	char path[PATH_MAX_LEN], rd[PATH_MAX_LEN];
	struct loadctx lc;
	uint8_t *text = NULL;
	size_t len;
	int err;

	if (!st || !msg || !msgsz)
		return EINVAL;

	*msg = '\0';
	if (!st->dir)
		return 0;

	if (re_snprintf(path, sizeof(path), "%s/%s", st->dir,
			STATE_FILE) < 0 || state_res_dir(st->dir, rd, sizeof(rd)))
		return ENAMETOOLONG;

	lc.st = st;
	lc.msg = msg;
	lc.msgsz = msgsz;
	lc.path = path;

	if ((mkdir(st->dir, 0700) && errno != EEXIST) ||
	    (mkdir(rd, 0700) && errno != EEXIST))
		return load_fail(&lc, errno, "cannot create the folder: %m",
				 errno);

	err = state_file_read(path, STATE_MAX, &text, &len);
	if (err == ENOENT) {
		err = 0;
	}
	else if (err) {
		return load_fail(&lc, err, "cannot read: %m", err);
	}
	else {
		err = load_doc(&lc, (char *)text, len);
		mem_deref(text);
	}

	if (!err && prep)
		err = prep(st->t, NULL, arg);

	if (!err) {
		char tmp[PATH_MAX_LEN];

		/* A state.json.tmp is a write that a crash cut short. */
		if (re_snprintf(tmp, sizeof(tmp), "%s.tmp", path) > 0)
			(void)unlink(tmp);
		orphans_remove(st);
		LOGI(SUB_CORE, "state: %u subscribers and %u resources put, "
		     "%u and %u deleted, from %s",
		     table_subscriber_count(st->t),
		     table_resource_count(st->t), list_count(&st->subdel),
		     list_count(&st->resdel), path);
	}

	return err;
}
