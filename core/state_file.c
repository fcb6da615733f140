/**
 * @file state_file.c  The API's overlay on disk: DIR/state.json and DIR/res/
 *
 * state.json is one JSON object:
 *
 *   {"version": 1,
 *    "subscribers": [{"id", "mode", "cmrbt", "cmrt", "password",
 *                     "contacts"}, ...],
 *    "subscribers_deleted": ["ID", ...],
 *    "resources": [{"id", "type", "bytes", "etag", "file"}, ...],
 *    "resources_deleted": ["ID", ...]}
 *
 * Every file is written the same way: to NAME.tmp, fsync, rename over
 * NAME, fsync of the folder.  rename() replaces NAME in one step, and the
 * fsyncs make the bytes durable before the name points at them and the
 * name durable before the request is answered.  A resource's bytes go
 * into a new file (res/ID.N, N counting up) before the state.json that
 * names it, so the state.json on disk only ever names complete files.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
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

#define STATE_MAX ((size_t)16 << 20)   /* the largest state.json read */
#define BLOB_MAX  ((size_t)64 << 20)   /* the largest resource file read */

static const char STATE_NAME[] = "state.json";
static const char RES_DIR[] = "res";


/* ---- files -------------------------------------------------------------- */

static int fsync_dir(const char *dir)
{
	int fd, err = 0;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno;

	if (fsync(fd))
		err = errno;
	(void)close(fd);

	return err;
}


/* dir/name replaced by the n bytes at p, atomically and durably. */
static int file_replace(const char *dir, const char *name, const uint8_t *p,
			size_t n)
{
	char path[PATH_MAX_LEN], tmp[PATH_MAX_LEN];
	int fd, err = 0;

	if (re_snprintf(path, sizeof(path), "%s/%s", dir, name) < 0 ||
	    re_snprintf(tmp, sizeof(tmp), "%s/%s.tmp", dir, name) < 0)
		return ENAMETOOLONG;

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return errno;

	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			err = w < 0 ? errno : EIO;
			break;
		}
		p += w;
		n -= (size_t)w;
	}

	if (!err && fsync(fd))
		err = errno;
	if (close(fd) && !err)
		err = errno;
	if (!err && rename(tmp, path))
		err = errno;
	if (err) {
		(void)unlink(tmp);
		return err;
	}

	return fsync_dir(dir);
}


static int file_read(const char *path, size_t max, uint8_t **bufp,
		     size_t *lenp)
{
	struct stat stt;
	uint8_t *buf;
	size_t got = 0;
	int fd, err = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;

	if (fstat(fd, &stt)) {
		err = errno;
		goto out;
	}
	if (!S_ISREG(stt.st_mode)) {
		err = EINVAL;
		goto out;
	}
	if ((uint64_t)stt.st_size > max) {
		err = EFBIG;
		goto out;
	}

	buf = mem_alloc((size_t)stt.st_size + 1, NULL);
	if (!buf) {
		err = ENOMEM;
		goto out;
	}

	while (got < (size_t)stt.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)stt.st_size - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			err = r < 0 ? errno : EIO;
			mem_deref(buf);
			goto out;
		}
		got += (size_t)r;
	}
	buf[got] = 0;

	*bufp = buf;
	*lenp = got;

 out:
	(void)close(fd);

	return err;
}


static int res_dir(const char *dir, char *buf, size_t sz)
{
	return re_snprintf(buf, sz, "%s/%s", dir, RES_DIR) < 0 ?
		ENAMETOOLONG : 0;
}


int state_blob_name(struct state *st, const char *id, char *buf, size_t sz)
{
	if (!st || !id || !buf)
		return EINVAL;

	return re_snprintf(buf, sz, "%s.%llu", id,
			   (unsigned long long)st->gen++) < 0 ?
		ENAMETOOLONG : 0;
}


int state_blob_write(const char *dir, const char *name, const uint8_t *p,
		     size_t n)
{
	char rd[PATH_MAX_LEN];
	int err;

	if (!dir || !name || (!p && n))
		return EINVAL;

	err = res_dir(dir, rd, sizeof(rd));
	if (err)
		return err;

	return file_replace(rd, name, p, n);
}


void state_file_unlink(const struct state *st, const char *file)
{
	char path[PATH_MAX_LEN];

	if (!st->dir || !file)
		return;

	if (re_snprintf(path, sizeof(path), "%s/%s/%s", st->dir, RES_DIR,
			file) < 0)
		return;

	if (unlink(path) && errno != ENOENT)
		LOGW(SUB_CORE, "state: cannot remove %s: %m", path, errno);
}


/* ---- state.json --------------------------------------------------------- */

static int arr_str(struct odict *arr, const char *s)
{
	char key[24];

	(void)re_snprintf(key, sizeof(key), "%zu", odict_count(arr, false));

	return odict_entry_add(arr, key, ODICT_STRING, s);
}


static int arr_obj(struct odict *arr, struct odict *o)
{
	char key[24];

	(void)re_snprintf(key, sizeof(key), "%zu", odict_count(arr, false));

	return odict_entry_add(arr, key, ODICT_OBJECT, o);
}


static int sub_add(struct odict *arr, const struct subscriber *s)
{
	struct odict *o = NULL;
	int err;

	err = odict_alloc(&o, HASH_SIZE);
	if (!err)
		err = state_spec_encode(o, s, true);
	if (!err)
		err = arr_obj(arr, o);
	mem_deref(o);

	return err;
}


static int res_add(struct odict *arr, const struct resource *r,
		   const char *file)
{
	struct odict *o = NULL;
	int err;

	err = odict_alloc(&o, HASH_SIZE);
	if (err)
		return err;

	err |= odict_entry_add(o, "id", ODICT_STRING, r->id);
	err |= odict_entry_add(o, "type", ODICT_STRING, r->type);
	err |= odict_entry_add(o, "bytes", ODICT_INT, (int64_t)r->size);
	err |= odict_entry_add(o, "etag", ODICT_STRING, r->etag);
	if (file)
		err |= odict_entry_add(o, "file", ODICT_STRING, file);
	if (!err)
		err = arr_obj(arr, o);
	mem_deref(o);

	return err ? ENOMEM : 0;
}


struct build {
	const struct state *st;
	const struct state_change *ch;
	struct odict *arr;
	bool seen;
	int err;
};


static bool sub_build(struct subscriber *s, void *arg)
{
	struct build *b = arg;
	const struct state_change *ch = b->ch;

	if (ch && !strcmp(ch->id, subscriber_id(s)) &&
	    (ch->kind == CH_SUB_PUT || ch->kind == CH_SUB_DEL)) {
		b->seen = true;
		if (ch->kind == CH_SUB_PUT)
			b->err = sub_add(b->arr, ch->spec);
	}
	else {
		b->err = sub_add(b->arr, s);
	}

	return b->err != 0;
}


static bool res_build(struct resource *r, void *arg)
{
	struct build *b = arg;
	const struct state_change *ch = b->ch;

	if (ch && !strcmp(ch->id, r->id) &&
	    (ch->kind == CH_RES_PUT || ch->kind == CH_RES_DEL)) {
		b->seen = true;
		if (ch->kind == CH_RES_PUT)
			b->err = res_add(b->arr, ch->res, ch->file);
	}
	else {
		b->err = res_add(b->arr, r, state_file_of(b->st, r->id));
	}

	return b->err != 0;
}


/* The list of deleted ids, without ch's id, then with it when ch deletes
 * it. */
static int ids_build(struct odict *arr, const struct list *l,
		     const struct state_change *ch, bool del)
{
	struct le *le;
	int err = 0;

	LIST_FOREACH(l, le) {
		const char *id = ((const struct idnode *)le->data)->id;

		if (ch && !strcmp(ch->id, id))
			continue;
		err |= arr_str(arr, id);
	}

	if (ch && del)
		err |= arr_str(arr, ch->id);

	return err;
}


/* The whole state with ch made, as an odict. */
static int state_build(struct odict **op, const struct state *st,
		       const struct state_change *ch)
{
	struct odict *o = NULL, *subs = NULL, *subdel = NULL, *res = NULL,
		*resdel = NULL;
	struct build b;
	bool subch = ch && (ch->kind == CH_SUB_PUT || ch->kind == CH_SUB_DEL);
	bool resch = ch && (ch->kind == CH_RES_PUT || ch->kind == CH_RES_DEL);
	int err;

	err  = odict_alloc(&o, HASH_SIZE);
	err |= odict_alloc(&subs, HASH_SIZE);
	err |= odict_alloc(&subdel, HASH_SIZE);
	err |= odict_alloc(&res, HASH_SIZE);
	err |= odict_alloc(&resdel, HASH_SIZE);
	if (err)
		goto out;

	memset(&b, 0, sizeof(b));
	b.st = st;
	b.ch = subch ? ch : NULL;
	b.arr = subs;
	(void)table_subscriber_apply(st->t, sub_build, &b);
	err = b.err;
	if (!err && subch && !b.seen && ch->kind == CH_SUB_PUT)
		err = sub_add(subs, ch->spec);

	if (!err)
		err = ids_build(subdel, &st->subdel, subch ? ch : NULL,
				subch && ch->kind == CH_SUB_DEL);

	memset(&b, 0, sizeof(b));
	b.st = st;
	b.ch = resch ? ch : NULL;
	b.arr = res;
	if (!err) {
		(void)table_resource_apply(st->t, res_build, &b);
		err = b.err;
	}
	if (!err && resch && !b.seen && ch->kind == CH_RES_PUT)
		err = res_add(res, ch->res, ch->file);

	if (!err)
		err = ids_build(resdel, &st->resdel, resch ? ch : NULL,
				resch && ch->kind == CH_RES_DEL);

	if (!err) {
		err |= odict_entry_add(o, "version", ODICT_INT,
				       (int64_t)STATE_VERSION);
		err |= odict_entry_add(o, "subscribers", ODICT_ARRAY, subs);
		err |= odict_entry_add(o, "subscribers_deleted", ODICT_ARRAY,
				       subdel);
		err |= odict_entry_add(o, "resources", ODICT_ARRAY, res);
		err |= odict_entry_add(o, "resources_deleted", ODICT_ARRAY,
				       resdel);
	}

 out:
	mem_deref(subs);
	mem_deref(subdel);
	mem_deref(res);
	mem_deref(resdel);
	if (err)
		mem_deref(o);
	else
		*op = o;

	return err ? (err == ENOMEM ? err : ENOMEM) : 0;
}


int state_commit(struct state *st, const struct state_change *ch)
{
	struct odict *o = NULL;
	char *text = NULL;
	int err;

	if (!st)
		return EINVAL;

	if (!st->dir)
		return 0;

	err = state_build(&o, st, ch);
	if (!err)
		err = re_sdprintf(&text, "%H\n", json_encode_odict, o);
	if (!err)
		err = file_replace(st->dir, STATE_NAME, (uint8_t *)text,
				   str_len(text));
	if (err)
		LOGE(SUB_CORE, "state: cannot write %s/%s: %m", st->dir,
		     STATE_NAME, err);
	else
		++st->commits;

	mem_deref(text);
	mem_deref(o);

	return err;
}


/* ---- reading it back ---------------------------------------------------- */

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

	if (re_snprintf(path, sizeof(path), "%s/%s/%s", st->dir, RES_DIR,
			file) < 0)
		return load_fail(lc, ENAMETOOLONG, "resource %s: path too "
				 "long", id);

	err = file_read(path, BLOB_MAX, &data, &len);
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

	if (res_dir(st->dir, rd, sizeof(rd)))
		return;

	d = opendir(rd);
	if (!d)
		return;

	while ((de = readdir(d))) {
		struct le *le;
		bool named = false;

		if (de->d_name[0] == '.')
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
			STATE_NAME) < 0 || res_dir(st->dir, rd, sizeof(rd)))
		return ENAMETOOLONG;

	lc.st = st;
	lc.msg = msg;
	lc.msgsz = msgsz;
	lc.path = path;

	if ((mkdir(st->dir, 0700) && errno != EEXIST) ||
	    (mkdir(rd, 0700) && errno != EEXIST))
		return load_fail(&lc, errno, "cannot create the folder: %m",
				 errno);

	err = file_read(path, STATE_MAX, &text, &len);
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
		orphans_remove(st);
		LOGI(SUB_CORE, "state: %u subscribers and %u resources put, "
		     "%u and %u deleted, from %s",
		     table_subscriber_count(st->t),
		     table_resource_count(st->t), list_count(&st->subdel),
		     list_count(&st->resdel), path);
	}

	return err;
}
