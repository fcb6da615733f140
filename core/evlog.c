/**
 * @file evlog.c  Call events: the one stream every view of a call reads
 *
 * Each state change of a call is one event.  An event is written as a JSON
 * line to the --log-json file (flushed at once, so a test or a dashboard
 * can follow it live) and kept on the call's record, which /api/v1/calls
 * lists.  Finished calls stay in a bounded ring of recent calls.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <re.h>
#include "core.h"

enum {
	RECENT_MAX = 100,      /* finished calls kept for the API */
	EVENTS_MAX = 256,      /* events kept per call (the file has all) */
	ENDED_MAX = 128,       /* (mode_bt, mode_rt, outcome) combinations */
	MODE_SZ = 12,
};

struct event_rec {
	struct le le;
	uint64_t t_ms;
	char *what;
	char *extra;           /* JSON members without braces, or NULL */
};

struct callrec {
	struct le le;
	char id[16];
	char *sip_callid;
	char *caller;
	char *callee;
	char state[24];
	char mode_bt[MODE_SZ];
	char mode_rt[MODE_SZ];
	char *end_why;
	enum evlog_outcome outcome;  /* evlog_call_outcome(), or none */
	uint64_t start_ms;     /* loop clock */
	uint64_t start_wall;   /* ms since the epoch */
	uint64_t end_ms;
	struct list events;
	unsigned nevents;
	unsigned dropped;
	bool ended;
};

/* Ended calls by modes and outcome.  The modes come from short fixed
 * lists (the policy's and the client's), so the combinations are few; a
 * table that is full anyway counts the rest under "other". */
struct ended_ent {
	char mode_bt[MODE_SZ];
	char mode_rt[MODE_SZ];
	enum evlog_outcome outcome;
	uint64_t n;
};

static struct {
	FILE *f;
	struct list live;
	struct list recent;
	uint32_t next_id;
	uint64_t total;
	uint64_t shed;           /* INVITEs refused by load shedding */
	unsigned nlive;          /* list_count() of each list, kept: */
	unsigned nrecent;        /* they are read for every call */
	struct ended_ent ended[ENDED_MAX];
	unsigned nended;
} el;


static uint64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);

	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}


static int wall_print(struct re_printf *pf, const uint64_t *ms)
{
	time_t sec = (time_t)(*ms / 1000);
	struct tm tm;

	gmtime_r(&sec, &tm);

	return re_hprintf(pf, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ",
			  tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
			  tm.tm_hour, tm.tm_min, tm.tm_sec,
			  (unsigned)(*ms % 1000));
}


static void event_destructor(void *arg)
{
	struct event_rec *e = arg;

	mem_deref(e->what);
	mem_deref(e->extra);
}


static void call_destructor(void *arg)
{
	struct callrec *cr = arg;

	list_unlink(&cr->le);
	list_flush(&cr->events);
	mem_deref(cr->sip_callid);
	mem_deref(cr->caller);
	mem_deref(cr->callee);
	mem_deref(cr->end_why);
}


int evlog_open(const char *path)
{
	if (el.f) {
		fclose(el.f);
		el.f = NULL;
	}
	if (!path)
		return 0;

	el.f = fopen(path, "a");
	if (!el.f)
		return errno ? errno : EIO;

	return 0;
}


void evlog_close(void)
{
	if (el.f) {
		fclose(el.f);
		el.f = NULL;
	}
}


void evlog_reset(void)
{
	struct le *le;

	/* The lists hold one reference each. */
	while ((le = list_head(&el.live))) {
		struct callrec *cr = le->data;
		list_unlink(le);
		mem_deref(cr);
	}
	while ((le = list_head(&el.recent))) {
		struct callrec *cr = le->data;
		list_unlink(le);
		mem_deref(cr);
	}
	el.total = 0;
	el.shed = 0;
	el.nlive = 0;
	el.nrecent = 0;
	el.next_id = 0;
	memset(el.ended, 0, sizeof(el.ended));
	el.nended = 0;
}


int evlog_call_alloc(struct callrec **crp, const char *callid,
		     const char *caller, const char *callee)
{
	struct callrec *cr;
	int err = 0;

	if (!crp)
		return EINVAL;

	cr = mem_zalloc(sizeof(*cr), call_destructor);
	if (!cr)
		return ENOMEM;

	re_snprintf(cr->id, sizeof(cr->id), "c%u", ++el.next_id);
	err |= str_dup(&cr->sip_callid, callid ? callid : "");
	err |= str_dup(&cr->caller, caller ? caller : "");
	err |= str_dup(&cr->callee, callee ? callee : "");
	if (err) {
		mem_deref(cr);
		return ENOMEM;
	}

	str_ncpy(cr->state, "received", sizeof(cr->state));
	str_ncpy(cr->mode_bt, "none", sizeof(cr->mode_bt));
	str_ncpy(cr->mode_rt, "none", sizeof(cr->mode_rt));
	cr->start_ms = loop_now_ms();
	cr->start_wall = wall_ms();

	list_append(&el.live, &cr->le, mem_ref(cr));
	++el.nlive;
	++el.total;

	*crp = cr;

	return 0;
}


const char *evlog_call_id(const struct callrec *cr)
{
	return cr ? cr->id : NULL;
}


void evlog_call_state(struct callrec *cr, const char *state)
{
	if (cr && state)
		str_ncpy(cr->state, state, sizeof(cr->state));
}


void evlog_call_modes(struct callrec *cr, const char *mode_bt,
		      const char *mode_rt)
{
	if (!cr)
		return;
	if (mode_bt)
		str_ncpy(cr->mode_bt, mode_bt, sizeof(cr->mode_bt));
	if (mode_rt)
		str_ncpy(cr->mode_rt, mode_rt, sizeof(cr->mode_rt));
}


void evlog_event(struct callrec *cr, const char *what, const char *fmt, ...)
{
	struct event_rec *e;
	char *extra = NULL;
	uint64_t now, wall;
	va_list ap;

	if (!cr || !what)
		return;

	if (fmt) {
		va_start(ap, fmt);
		(void)re_vsdprintf(&extra, fmt, ap);
		va_end(ap);
	}

	now = loop_now_ms() - cr->start_ms;
	wall = wall_ms();

	if (el.f) {
		(void)re_fprintf(el.f, "{\"ts\":\"%H\",\"call\":\"%s\","
				 "\"callid\":%H,\"t_ms\":%llu,\"what\":%H"
				 "%s%s}\n",
				 wall_print, &wall, cr->id,
				 jsonw_str, cr->sip_callid,
				 (unsigned long long)now, jsonw_str, what,
				 extra && *extra ? "," : "",
				 extra ? extra : "");
		fflush(el.f);
	}

	if (cr->nevents >= EVENTS_MAX) {
		++cr->dropped;
		mem_deref(extra);
		return;
	}

	e = mem_zalloc(sizeof(*e), event_destructor);
	if (!e || str_dup(&e->what, what)) {
		mem_deref(e);
		mem_deref(extra);
		return;
	}
	e->t_ms = now;
	e->extra = extra;
	list_append(&cr->events, &e->le, e);
	++cr->nevents;
}


void evlog_call_outcome(struct callrec *cr, enum evlog_outcome o)
{
	if (cr && !cr->ended && o < OUTCOME_MAX)
		cr->outcome = o;
}


const char *evlog_outcome_name(enum evlog_outcome o)
{
	switch (o) {

	case OUTCOME_ANSWERED:  return "answered";
	case OUTCOME_REJECTED:  return "rejected";
	case OUTCOME_REFUSED:   return "refused";
	case OUTCOME_CANCELLED: return "cancelled";
	case OUTCOME_TIMEOUT:   return "timeout";
	case OUTCOME_FAILED:    return "failed";
	default:                return "none";
	}
}


static struct ended_ent *ended_find(const char *bt, const char *rt,
				    enum evlog_outcome o)
{
	for (unsigned i = 0; i < el.nended; i++) {
		struct ended_ent *e = &el.ended[i];

		if (e->outcome == o && !strcmp(e->mode_bt, bt) &&
		    !strcmp(e->mode_rt, rt))
			return e;
	}

	return NULL;
}


static void ended_count(const struct callrec *cr)
{
	enum evlog_outcome o = cr->outcome;
	const char *bt = cr->mode_bt, *rt = cr->mode_rt;
	struct ended_ent *e;

	/* The caller had its 2xx: answered, however it ended later. */
	if (!strcmp(cr->state, "answered") || !strcmp(cr->state, "confirmed"))
		o = OUTCOME_ANSWERED;
	else if (o == OUTCOME_NONE)
		o = OUTCOME_FAILED;

	/* The last OUTCOME_MAX entries are kept for "other", so there is
	 * always room for it. */
	e = ended_find(bt, rt, o);
	if (!e && el.nended >= ENDED_MAX - OUTCOME_MAX) {
		bt = rt = "other";
		e = ended_find(bt, rt, o);
	}
	if (!e) {
		e = &el.ended[el.nended++];
		str_ncpy(e->mode_bt, bt, sizeof(e->mode_bt));
		str_ncpy(e->mode_rt, rt, sizeof(e->mode_rt));
		e->outcome = o;
	}

	++e->n;
}


unsigned evlog_ended_count(void)
{
	return el.nended;
}


bool evlog_ended_get(unsigned i, const char **mode_bt, const char **mode_rt,
		     const char **outcome, uint64_t *n)
{
	const struct ended_ent *e;

	if (i >= el.nended)
		return false;

	e = &el.ended[i];
	if (mode_bt)
		*mode_bt = e->mode_bt;
	if (mode_rt)
		*mode_rt = e->mode_rt;
	if (outcome)
		*outcome = evlog_outcome_name(e->outcome);
	if (n)
		*n = e->n;

	return true;
}


void evlog_call_end(struct callrec *cr, const char *why)
{
	struct le *le;

	if (!cr || cr->ended)
		return;

	ended_count(cr);
	cr->ended = true;
	cr->end_ms = loop_now_ms();
	str_ncpy(cr->state, "ended", sizeof(cr->state));
	(void)str_dup(&cr->end_why, why ? why : "");

	evlog_event(cr, "ended", "\"why\":%H", jsonw_str, why);

	/* Move from live to recent; the list's reference moves with it. */
	list_unlink(&cr->le);
	--el.nlive;
	list_append(&el.recent, &cr->le, cr);
	++el.nrecent;

	while (el.nrecent > RECENT_MAX) {
		le = list_head(&el.recent);
		list_unlink(le);
		--el.nrecent;
		mem_deref(le->data);
	}
}


static struct callrec *find_in(const struct list *l, const char *id)
{
	struct le *le;

	for (le = list_head(l); le; le = le->next) {
		struct callrec *cr = le->data;

		if (!strcmp(cr->id, id) || !strcmp(cr->sip_callid, id))
			return cr;
	}

	return NULL;
}


struct callrec *evlog_call_find(const char *id)
{
	struct callrec *cr;

	if (!id)
		return NULL;

	cr = find_in(&el.live, id);

	return cr ? cr : find_in(&el.recent, id);
}


/* One event as an object: t_ms, what, and its own members, which were
 * printed as JSON text when it happened and are read back here.  Text
 * that libre's decoder does not take (it never should) is kept as a
 * string under "raw", so nothing is lost. */
/* The call's media in figures, summed from its events. */
struct media_sum {
	uint64_t streams;      /* rtp-started */
	uint64_t packets;      /* rtp-stopped: packets sent */
	uint64_t octets;       /* ... payload octets sent */
	uint64_t downloads;    /* resource-fetched */
	uint64_t dl_bytes;     /* ... body bytes */
};


static void media_add(struct media_sum *m, const struct event_rec *e,
		      const struct odict *o)
{
	uint64_t v;

	if (!strcmp(e->what, "rtp-started")) {
		++m->streams;
	}
	else if (!strcmp(e->what, "rtp-stopped")) {
		if (odict_get_number(o, &v, "packets"))
			m->packets += v;
		if (odict_get_number(o, &v, "octets"))
			m->octets += v;
	}
	else if (!strcmp(e->what, "resource-fetched")) {
		++m->downloads;
		if (odict_get_number(o, &v, "bytes"))
			m->dl_bytes += v;
	}
}


static int media_encode(struct odict *o, const struct media_sum *m)
{
	struct odict *mo = NULL;
	int err;

	err = odict_alloc(&mo, 8);
	if (err)
		return err;

	err |= odict_entry_add(mo, "rtp_streams", ODICT_INT,
			       (int64_t)m->streams);
	err |= odict_entry_add(mo, "rtp_packets", ODICT_INT,
			       (int64_t)m->packets);
	err |= odict_entry_add(mo, "rtp_octets", ODICT_INT,
			       (int64_t)m->octets);
	err |= odict_entry_add(mo, "downloads", ODICT_INT,
			       (int64_t)m->downloads);
	err |= odict_entry_add(mo, "download_bytes", ODICT_INT,
			       (int64_t)m->dl_bytes);
	err |= odict_entry_add(o, "media", ODICT_OBJECT, mo);
	mem_deref(mo);

	return err ? ENOMEM : 0;
}


static int event_encode(struct odict *arr, const struct event_rec *e,
			struct media_sum *m)
{
	struct odict *o = NULL;
	char *text = NULL;
	int err;

	if (e->extra && *e->extra &&
	    !re_sdprintf(&text, "{\"t_ms\":%llu,\"what\":%H,%s}",
			 (unsigned long long)e->t_ms, jsonw_str, e->what,
			 e->extra) &&
	    json_decode_odict(&o, 16, text, str_len(text), 8))
		o = mem_deref(o);
	mem_deref(text);

	if (!o) {
		err = odict_alloc(&o, 4);
		if (err)
			return err;
		err |= odict_entry_add(o, "t_ms", ODICT_INT, (int64_t)e->t_ms);
		err |= odict_entry_add(o, "what", ODICT_STRING, e->what);
		if (e->extra && *e->extra)
			err |= odict_entry_add(o, "raw", ODICT_STRING,
					       e->extra);
		if (err) {
			mem_deref(o);
			return ENOMEM;
		}
	}

	media_add(m, e, o);

	err = jsonw_arr_obj(arr, o);
	mem_deref(o);

	return err;
}


int evlog_call_encode(struct odict *o, const struct callrec *cr)
{
	struct odict *events = NULL;
	struct media_sum m;
	char started[32];
	uint64_t dur;
	struct le *le;
	int err;

	if (!o || !cr)
		return EINVAL;

	dur = (cr->ended ? cr->end_ms : loop_now_ms()) - cr->start_ms;
	(void)re_snprintf(started, sizeof(started), "%H", wall_print,
			  &cr->start_wall);

	memset(&m, 0, sizeof(m));
	err = odict_alloc(&events, 32);
	for (le = list_head(&cr->events); le && !err; le = le->next)
		err = event_encode(events, le->data, &m);
	if (err) {
		mem_deref(events);
		return err;
	}

	err |= odict_entry_add(o, "id", ODICT_STRING, cr->id);
	err |= odict_entry_add(o, "callid", ODICT_STRING, cr->sip_callid);
	err |= odict_entry_add(o, "caller", ODICT_STRING, cr->caller);
	err |= odict_entry_add(o, "callee", ODICT_STRING, cr->callee);
	err |= odict_entry_add(o, "state", ODICT_STRING, cr->state);
	err |= odict_entry_add(o, "mode_bt", ODICT_STRING, cr->mode_bt);
	err |= odict_entry_add(o, "mode_rt", ODICT_STRING, cr->mode_rt);
	err |= odict_entry_add(o, "started", ODICT_STRING, started);
	err |= odict_entry_add(o, "duration_ms", ODICT_INT, (int64_t)dur);
	if (cr->ended && cr->end_why)
		err |= odict_entry_add(o, "end", ODICT_STRING, cr->end_why);
	else
		err |= odict_entry_add(o, "end", ODICT_NULL);
	err |= odict_entry_add(o, "events_dropped", ODICT_INT,
			       (int64_t)cr->dropped);
	err |= media_encode(o, &m);
	err |= odict_entry_add(o, "events", ODICT_ARRAY, events);
	mem_deref(events);

	return err ? ENOMEM : 0;
}


int evlog_call_print(struct re_printf *pf, const struct callrec *cr)
{
	struct odict *o = NULL;
	int err;

	if (!cr)
		return re_hprintf(pf, "null");

	err = odict_alloc(&o, 16);
	if (!err)
		err = evlog_call_encode(o, cr);
	if (!err)
		err = json_encode_odict(pf, o);
	mem_deref(o);

	return err;
}


/* An array of call objects: libre's encoder prints objects, not a bare
 * array, so the brackets and commas are the only text written here. */
int evlog_calls_print(struct re_printf *pf, void *unused)
{
	const struct list *lists[2] = { &el.live, &el.recent };
	bool first = true;
	int err = 0;
	(void)unused;

	err |= re_hprintf(pf, "[");
	for (int i = 0; i < 2; i++) {
		struct le *le;

		for (le = list_head(lists[i]); le && !err; le = le->next) {
			err |= re_hprintf(pf, "%s%H", first ? "" : ",",
					  evlog_call_print, le->data);
			first = false;
		}
	}

	return err | re_hprintf(pf, "]");
}


unsigned evlog_live_count(void)
{
	return el.nlive;
}


uint64_t evlog_total_count(void)
{
	return el.total;
}


/* An INVITE refused before it became a call (sip/overload.c): counted,
 * never logged as a call, so shedding costs no record. */
void evlog_shed_note(void)
{
	++el.shed;
}


uint64_t evlog_shed_count(void)
{
	return el.shed;
}
