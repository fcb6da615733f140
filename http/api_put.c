/**
 * @file api_put.c  PUT and DELETE of /api/v1/subscribers/ID and
 *                  /api/v1/resources/ID
 *
 * Each change is checked whole first (400 naming the field), then written
 * through core/state.c (the state folder, when there is one) and only then
 * made in the live table, so that what a 2xx answered is what a restart
 * finds.  A change never touches a call in progress: calls keep what they
 * chose when they began, and a resource that a stream plays or a download
 * sends lives on until it is done with.
 *
 * A resource's bytes are hashed, converted to frames when they are WAV,
 * and written to the state folder on a job's thread; the request waits
 * suspended meanwhile (httpd_defer), and the loop goes on with calls.
 */
#include <string.h>
#include <microhttpd.h>
#include <re.h>
#include "core/core.h"
#include "http/http_int.h"


enum {
	HASH_SIZE = 16,
	JSON_DEPTH = 8,
	TYPE_MAX = 255,
	FILE_MAX = 96,
};


static enum MHD_Result no_content(struct httpreq *rq)
{
	return httpd_send(rq, 204, httpd_resp_mem(NULL, 0, NULL));
}


static enum MHD_Result state_failed(struct httpreq *rq, int err)
{
	char msg[128];

	(void)re_snprintf(msg, sizeof(msg), "cannot write the state: %m",
			  err);

	return httpd_error(rq, 500, msg, NULL);
}


/* ---- subscribers -------------------------------------------------------- */

/* The body as a JSON object; an empty body is an empty object (every
 * field is optional). */
static int body_object(struct odict **op, const uint8_t *p, size_t n)
{
	size_t i = 0;

	while (i < n && strchr(" \t\r\n", p[i]) && p[i])
		++i;

	if (i == n)
		return odict_alloc(op, HASH_SIZE);

	if (p[i] != '{' || !json_strict((const char *)p, n, JSON_DEPTH))
		return EINVAL;

	return json_decode_odict(op, HASH_SIZE, (const char *)p + i, n - i,
				 JSON_DEPTH) ? EINVAL : 0;
}


static enum MHD_Result sub_put(struct httpreq *rq, const char *id)
{
	struct state_err se = { NULL, NULL };
	struct table *live = table_live();
	struct table *scratch = NULL;
	struct subscriber *spec = NULL, *s;
	struct odict *o = NULL;
	const uint8_t *body;
	const char *old_pw;
	enum MHD_Result ret;
	bool created = false, keep = false;
	size_t len;
	int err;

	body = httpd_body(rq, &len);
	if (body_object(&o, body, len))
		return httpd_error(rq, 400, "the body must be a JSON object",
				   "body");

	err = table_alloc(&scratch);
	if (err) {
		ret = httpd_error(rq, 500, "out of memory", NULL);
		goto out;
	}

	err = state_spec_decode(scratch, id, o, &spec, &se);
	if (err) {
		ret = httpd_error(rq, err == EINVAL ? 400 : 500,
				  se.msg ? se.msg : "out of memory",
				  se.field);
		goto out;
	}

	/* What GET showed, sent back: "password_set": true without a
	 * "password" keeps the password the subscriber has (GET never
	 * shows it), so a read-modify-write does not drop it. */
	old_pw = subscriber_password(table_subscriber(live, id));
	if (!odict_lookup(o, "password") &&
	    odict_get_boolean(o, &keep, "password_set") && keep && old_pw &&
	    subscriber_password_set(spec, old_pw)) {
		ret = httpd_error(rq, 500, "out of memory", NULL);
		goto out;
	}

	/* Assignments name resources that exist now; a later reload that
	 * drops one is the profile's business, as with its own lines. */
	if (!table_resource(live, subscriber_cmr(spec, DIR_BT, NULL))) {
		ret = httpd_error(rq, 400, "no such resource", "cmrbt");
		goto out;
	}
	if (!table_resource(live, subscriber_cmr(spec, DIR_RT, NULL))) {
		ret = httpd_error(rq, 400, "no such resource", "cmrt");
		goto out;
	}

	err = state_subscriber_put(rq->h->state, spec, live);
	if (err) {
		ret = state_failed(rq, err);
		goto out;
	}

	err = table_subscriber_put(live, spec, &created);
	s = err ? NULL : table_subscriber(live, id);
	if (!s) {
		ret = httpd_error(rq, 500, "out of memory", NULL);
		goto out;
	}

	LOGI(SUB_HTTP, "api: subscriber %s %s", id,
	     created ? "created" : "replaced");

	ret = api_sub_answer(rq, created ? 201 : 200, s);

 out:
	mem_deref(scratch);
	mem_deref(o);

	return ret;
}


static enum MHD_Result sub_delete(struct httpreq *rq, const char *id)
{
	struct table *live = table_live();
	int err;

	if (!table_subscriber(live, id))
		return httpd_error(rq, 404, "no such subscriber", "id");

	err = state_subscriber_delete(rq->h->state, id);
	if (err)
		return state_failed(rq, err);

	(void)table_subscriber_remove(live, id);
	LOGI(SUB_HTTP, "api: subscriber %s deleted", id);

	return no_content(rq);
}


/* ---- resources ---------------------------------------------------------- */

/* A resource being put: made ready on a job's thread. */
struct resput {
	struct httpctx *ctx;
	struct state *state;
	struct job *job;
	reload_prep_h *prep;
	void *prep_arg;
	struct table *t;           /* the job's: the resource alone */
	char *type;
	char *dir;                 /* the state folder, or NULL */
	const uint8_t *data;       /* the body, which the request keeps */
	size_t size;
	char id[ID_LEN_MAX + 1];
	char file[FILE_MAX];
	char base[72];             /* for the answer's "url" */
	bool sign;                 /* ... signed (off loopback) */
};


static void resput_destructor(void *arg)
{
	struct resput *rp = arg;

	/* Cancels and joins a job still running; its handler never runs. */
	mem_deref(rp->job);
	mem_deref(rp->t);
	mem_deref(rp->type);
	mem_deref(rp->dir);
}


/* On the job's thread: only rp's own memory is touched. */
static int resput_work(const struct job *job, void *arg)
{
	struct resput *rp = arg;
	const struct resource *r;
	int err;

	err = table_resource_add(rp->t, rp->id, rp->type, rp->data, rp->size);
	if (err)
		return err;

	if (rp->prep) {
		err = rp->prep(rp->t, job, rp->prep_arg);
		if (err)
			return err;
	}

	r = table_resource(rp->t, rp->id);
	if (wav_type(r->type) && !r->media)
		return EBADMSG;

	if (job_cancelled(job))
		return ECANCELED;

	return rp->dir ? state_blob_write(rp->dir, rp->file, rp->data,
					  rp->size) : 0;
}


/* On the loop: the change is made, and the request answered. */
static void resput_done(int err, void *arg)
{
	struct resput *rp = arg;
	struct table *live = table_live();
	const struct resource *r;
	struct MHD_Response *resp;
	bool created;
	char msg[128];

	if (err == EBADMSG) {
		httpd_answer(rp->ctx, 400, httpd_resp_error(
			"a WAV file that cannot be streamed (PCM or float, "
			"mono or stereo, 8 to 48 kHz)", "body"));
		return;
	}
	if (err) {
		(void)re_snprintf(msg, sizeof(msg), "cannot store the "
				  "resource: %m", err);
		httpd_answer(rp->ctx, 500, httpd_resp_error(msg, NULL));
		return;
	}

	r = table_resource(rp->t, rp->id);
	created = !table_resource(live, rp->id);

	err = state_resource_put(rp->state, r, rp->dir ? rp->file : NULL,
				 live);
	if (err) {
		(void)re_snprintf(msg, sizeof(msg), "cannot write the state: "
				  "%m", err);
		httpd_answer(rp->ctx, 500, httpd_resp_error(msg, NULL));
		return;
	}

	err = table_resource_link(live, r);
	r = table_resource(live, rp->id);
	if (err || !r) {
		httpd_answer(rp->ctx, 500, httpd_resp_error("out of memory",
							    NULL));
		return;
	}

	LOGI(SUB_HTTP, "api: resource %s %s (%s, %zu bytes)", rp->id,
	     created ? "created" : "replaced", r->type, r->size);

	resp = api_res_resp(r, rp->base, rp->sign);
	httpd_answer(rp->ctx, resp ? (created ? 201 : 200) : 500, resp);
}


/* The Content-Type as the resource's type: a media type of RFC 6838
 * restricted names, with parameters if any; printable ASCII only, since
 * it goes back out in a header. */
static bool type_ok(const char *type)
{
	char main[TYPE_MAX + 1];
	size_t l, i;

	if (!type)
		return false;

	l = strlen(type);
	if (!l || l > TYPE_MAX)
		return false;

	for (i = 0; i < l; i++) {
		if ((unsigned char)type[i] < 0x20 ||
		    (unsigned char)type[i] > 0x7e)
			return false;
	}

	l = strcspn(type, "; \t");
	memcpy(main, type, l);
	main[l] = '\0';

	return id_mime_valid(main);
}


static enum MHD_Result res_put(struct httpreq *rq, const char *id)
{
	struct state *st = rq->h->state;
	struct wav_info wi;
	struct resput *rp;
	const char *type;
	const uint8_t *body;
	size_t len;
	int err;

	if (!id_resource_valid(id))
		return httpd_error(rq, 400, "a resource id is 1 to 64 "
				   "characters of A-Z a-z 0-9 . _ -", "id");

	type = MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND,
					   MHD_HTTP_HEADER_CONTENT_TYPE);
	if (!type)
		return httpd_error(rq, 400, "the media type of the body is "
				   "needed", "Content-Type");
	if (!type_ok(type))
		return httpd_error(rq, 400, "not a media type",
				   "Content-Type");

	body = httpd_body(rq, &len);
	if (!len)
		return httpd_error(rq, 400, "the body is empty", "body");

	/* The header walk is quick; the conversion is the job's. */
	if (wav_type(type) && wav_parse(&wi, body, len))
		return httpd_error(rq, 400, "not a WAV file", "body");

	rp = mem_zalloc(sizeof(*rp), resput_destructor);
	if (!rp)
		return httpd_error(rq, 500, "out of memory", NULL);

	rp->ctx = rq->ctx;
	rp->state = st;
	rp->prep = rq->h->prep;
	rp->prep_arg = rq->h->prep_arg;
	rp->data = body;
	rp->size = len;
	str_ncpy(rp->id, id, sizeof(rp->id));
	str_ncpy(rp->base, httpd_req_base(rq), sizeof(rp->base));
	rp->sign = !httpd_loopback(rq->h);

	err  = str_dup(&rp->type, type);
	err |= table_alloc(&rp->t);
	if (!err && state_dir(st)) {
		err |= str_dup(&rp->dir, state_dir(st));
		err |= state_blob_name(st, id, rp->file, sizeof(rp->file));
	}
	if (err) {
		mem_deref(rp);
		return httpd_error(rq, 500, "out of memory", NULL);
	}

	err = job_start(&rp->job, resput_work, resput_done, rp);
	if (err) {
		mem_deref(rp);
		return httpd_error(rq, 500, "cannot start the work", NULL);
	}

	/* The request owns rp from here: a server that stops first cancels
	 * the job through it. */
	return httpd_defer(rq, rp);
}


static bool uses_h(struct subscriber *s, void *arg)
{
	return subscriber_uses(s, arg) != NULL;
}


static enum MHD_Result res_delete(struct httpreq *rq, const char *id)
{
	struct table *live = table_live();
	const struct subscriber *user = NULL;
	char msg[160];
	int err;

	if (!table_resource(live, id))
		return httpd_error(rq, 404, "no such resource", "id");

	user = table_subscriber_apply(live, uses_h, (void *)id);
	if (user) {
		(void)re_snprintf(msg, sizeof(msg), "the resource is "
				  "assigned to subscriber %s",
				  subscriber_id(user));
		return httpd_error(rq, 409, msg, "id");
	}

	err = state_resource_delete(rq->h->state, id);
	if (err)
		return state_failed(rq, err);

	(void)table_resource_remove(live, id);
	LOGI(SUB_HTTP, "api: resource %s deleted", id);

	return no_content(rq);
}


enum MHD_Result api_change(struct httpreq *rq, enum httpd_route route,
			   const char *id)
{
	bool put = !strcmp(rq->method, MHD_HTTP_METHOD_PUT);

	if (!table_live())
		return httpd_error(rq, 503, "no table yet", NULL);

	if (route == ROUTE_SUB)
		return put ? sub_put(rq, id) : sub_delete(rq, id);

	return put ? res_put(rq, id) : res_delete(rq, id);
}
