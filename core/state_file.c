/**
 * @file state_file.c  Writing the API's overlay to DIR/state.json and
 *                     DIR/res/
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
	PATH_MAX_LEN = 4096,
};



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


int state_file_read(const char *path, size_t max, uint8_t **bufp,
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


int state_res_dir(const char *dir, char *buf, size_t sz)
{
	return re_snprintf(buf, sz, "%s/%s", dir, STATE_RES_DIR) < 0 ?
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

	err = state_res_dir(dir, rd, sizeof(rd));
	if (err)
		return err;

	return file_replace(rd, name, p, n);
}


void state_file_unlink(const struct state *st, const char *file)
{
	char path[PATH_MAX_LEN];

	if (!st->dir || !file)
		return;

	if (re_snprintf(path, sizeof(path), "%s/%s/%s", st->dir, STATE_RES_DIR,
			file) < 0)
		return;

	if (unlink(path) && errno != ENOENT)
		LOGW(SUB_CORE, "state: cannot remove %s: %m", path, errno);
}


/* ---- state.json --------------------------------------------------------- */

static int sub_add(struct odict *arr, const struct subscriber *s)
{
	struct odict *o = NULL;
	int err;

	err = odict_alloc(&o, HASH_SIZE);
	if (!err)
		err = state_spec_encode(o, s, true);
	if (!err)
		err = jsonw_arr_obj(arr, o);
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
		err = jsonw_arr_obj(arr, o);
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
		err |= jsonw_arr_str(arr, id);
	}

	if (ch && del)
		err |= jsonw_arr_str(arr, ch->id);

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
				subch && ch->kind == CH_SUB_DEL && ch->tomb);

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
				resch && ch->kind == CH_RES_DEL && ch->tomb);

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
	if (!err && str_len(text) > STATE_MAX)
		err = EFBIG;
	if (!err)
		err = file_replace(st->dir, STATE_FILE, (uint8_t *)text,
				   str_len(text));
	if (err)
		LOGE(SUB_CORE, "state: cannot write %s/%s: %m", st->dir,
		     STATE_FILE, err);
	else
		++st->commits;

	mem_deref(text);
	mem_deref(o);

	return err;
}
