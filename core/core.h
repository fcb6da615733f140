/**
 * @file core.h  cmrlab core: loop, timers, log, call events, table, profile, tones,
 *               SIP URI comparison
 *
 * core/ uses no other folder of the project.  Everything here runs on the
 * one libevent loop; nothing is locked.
 */
#ifndef CMRLAB_CORE_H
#define CMRLAB_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct odict;
struct re_printf;
struct pl;
struct sa;


/* ---- loop (loop.c) ---------------------------------------------------- */

int  loop_init(void);
void loop_close(void);
struct event_base *loop_base(void);
int  loop_run(void);
void loop_stop(void);
bool loop_adapter_ok(void);
unsigned loop_fd_count(void);
uint64_t loop_now_ms(void);
/** How late the loop runs its timers, in ms: the latest lateness, decaying
 *  slowly (sip/overload.c sheds load on it). */
uint32_t loop_lag_ms(void);

/** A plain fd watch on the loop (used for libmicrohttpd's epoll fd). */
typedef void (loop_fd_h)(void *arg);
struct loop_watch;
int  loop_watch_alloc(struct loop_watch **wp, int fd, loop_fd_h *fh,
		      void *arg);

/** After every loop iteration these run (MHD timeout re-arm, etc). */
typedef void (loop_idle_h)(void *arg);
int  loop_idle_add(loop_idle_h *ih, void *arg);
void loop_idle_remove(loop_idle_h *ih, void *arg);


/* ---- libre's timers on a heap (timers.c) ------------------------------ */

/** Runs every timer due at @p now (tmr_jiffies() scale); returns how many. */
unsigned timers_run(uint64_t now);
/** The expiry of the earliest pending timer, false when none is. */
bool     timers_next(uint64_t *jfs);
size_t   timers_count(void);


/* ---- work off the loop (job.c) ---------------------------------------- */

/*
 * A job runs one function on a thread of its own and reports its result
 * on the loop.  The work may touch only memory that the starter handed
 * over through arg and that no other thread uses until the done handler
 * runs: never the live table, the loop, libevent, or libre's timers and
 * sockets.  mem_deref of a running job cancels it and joins the thread;
 * its done handler is then never called.
 */
struct job;

/** On the worker thread: returns 0 or an errno; polls job_cancelled()
 *  every few milliseconds and then returns ECANCELED. */
typedef int  (job_work_h)(const struct job *job, void *arg);
/** On the loop, after the work returned; err is its return value. */
typedef void (job_done_h)(int err, void *arg);

/* memtrim.c: freed heap returned to the system every 30 s */
void memtrim_start(void);
void memtrim_stop(void);

int  job_start(struct job **jp, job_work_h *wh, job_done_h *dh, void *arg);
/** Asks the work to stop; its done handler still comes. */
void job_cancel(struct job *job);
/** From any thread: whether the job was asked to stop.  NULL: false. */
bool job_cancelled(const struct job *job);
/** Whether the job whose work runs on the calling thread was asked to
 *  stop: long loops of core/ poll it; always false on the loop. */
bool job_self_cancelled(void);
/** Whether the done handler is still to come. */
bool job_running(const struct job *job);


/* ---- log (log.c) ------------------------------------------------------ */

enum log_sub { SUB_CORE = 0, SUB_SIP, SUB_HTTP, SUB_RTP, SUB_LIB,
	       SUB_COUNT };
enum log_lvl { LVL_ERROR = 0, LVL_WARN, LVL_INFO, LVL_DEBUG };

void log_setup(enum log_lvl lvl);
void log_level_set(enum log_sub sub, enum log_lvl lvl);
bool log_enabled(enum log_sub sub, enum log_lvl lvl);
void log_emit(enum log_sub sub, enum log_lvl lvl, const char *fmt, ...);

#define LOGE(sub, ...) log_emit(sub, LVL_ERROR, __VA_ARGS__)
#define LOGW(sub, ...) log_emit(sub, LVL_WARN, __VA_ARGS__)
#define LOGI(sub, ...) log_emit(sub, LVL_INFO, __VA_ARGS__)
#define LOGD(sub, ...) \
	do { if (log_enabled(sub, LVL_DEBUG)) \
		log_emit(sub, LVL_DEBUG, __VA_ARGS__); } while (0)


/* ---- JSON output helpers (jsonw.c) ------------------------------------ */

/** %H handler: prints a C string as a quoted, escaped JSON string
 *  (NULL prints null). */
int jsonw_str(struct re_printf *pf, const char *s);
/** %H handler: same for a struct pl. */
int jsonw_pl(struct re_printf *pf, const struct pl *pl);
/** Append a string / an object (referenced) to an odict array, keyed by
 *  its index as libre's decoder keys array members. */
int jsonw_arr_str(struct odict *arr, const char *s);
int jsonw_arr_obj(struct odict *arr, struct odict *o);
/** Whether the n bytes at p are exactly one JSON value (RFC 8259) with
 *  white space around it, of well-formed UTF-8, no U+0000 in a string,
 *  no member name twice in an object, nested at most maxdepth deep
 *  (jsonchk.c).  libre's decoder is lenient; input is checked here
 *  first. */
bool json_strict(const char *p, size_t n, unsigned maxdepth);


/* ---- text (text.c) ---------------------------------------------------- */

/** The length (1 to 4) of the well-formed UTF-8 character at s, of the n
 *  bytes there; 0 when they do not start with one (a stray continuation
 *  byte, an overlong form, a surrogate, beyond U+10FFFF, cut short). */
size_t text_utf8_char(const char *s, size_t n);
/** The characters in s (n bytes); a byte that starts none counts as one. */
size_t text_chars(const char *s, size_t n);
/** The value of the hex digit c (either case), or -1. */
int text_hexval(int c);


/* ---- call events (evlog.c) -------------------------------------------- */

/*
 * Every state change of a call is one event.  The JSON-lines file, the
 * /api/v1/calls records and /metrics all come from here.
 */
struct callrec;

int  evlog_open(const char *path);
void evlog_close(void);
int  evlog_call_alloc(struct callrec **crp, const char *callid,
		      const char *caller, const char *callee);
const char *evlog_call_id(const struct callrec *cr);
void evlog_call_state(struct callrec *cr, const char *state);
void evlog_call_modes(struct callrec *cr, const char *mode_bt,
		      const char *mode_rt);
/** Emit an event; fmt (re_printf style) prints extra JSON members
 *  without braces, e.g. "\"code\":%u", or NULL. */
void evlog_event(struct callrec *cr, const char *what, const char *fmt,
		 ...);
void evlog_call_end(struct callrec *cr, const char *why);

/** How a call ended, for /metrics.  A call whose caller got a 2xx is
 *  answered whatever came after; otherwise what evlog_call_outcome() set
 *  before the end, or failed. */
enum evlog_outcome {
	OUTCOME_NONE = 0,
	OUTCOME_ANSWERED,
	OUTCOME_REJECTED,      /* the callee's final >= 300 */
	OUTCOME_REFUSED,       /* ours before any callee rang: 404, 480 ... */
	OUTCOME_CANCELLED,     /* the caller's CANCEL */
	OUTCOME_TIMEOUT,       /* ring time, or a transaction timed out */
	OUTCOME_FAILED,
	OUTCOME_MAX
};
void evlog_call_outcome(struct callrec *cr, enum evlog_outcome o);
const char *evlog_outcome_name(enum evlog_outcome o);
/** Ended calls counted by (mode_bt, mode_rt, outcome), one entry per
 *  combination seen, i < evlog_ended_count(); false past the end. */
unsigned evlog_ended_count(void);
bool evlog_ended_get(unsigned i, const char **mode_bt, const char **mode_rt,
		     const char **outcome, uint64_t *n);
struct callrec *evlog_call_find(const char *id);
/** Prints the JSON array of live and recent calls. */
int  evlog_calls_print(struct re_printf *pf, void *unused);
int  evlog_call_print(struct re_printf *pf, const struct callrec *cr);
/** The call's record as members of o (what the API shows). */
int  evlog_call_encode(struct odict *o, const struct callrec *cr);
unsigned evlog_live_count(void);
uint64_t evlog_total_count(void);
void     evlog_shed_note(void);
uint64_t evlog_shed_count(void);
void evlog_reset(void);


/* ---- capture (pcapw.c) ------------------------------------------------ */

/*
 * serve --pcap FILE: a classic pcap file (link type RAW, IPv4 and IPv6)
 * with one synthesized UDP packet per message, or one TCP packet per
 * segment, flushed per record.
 */
/** Creates or truncates path and writes the file header. */
int  pcapw_open(const char *path);
void pcapw_close(void);
bool pcapw_active(void);
/** Writes one packet from src to dst with a UDP header around data
 *  (truncated to what fits in one packet); EBADF when no file is open.
 *  A failed write logs once and ends the capture. */
int  pcapw_udp(const struct sa *src, const struct sa *dst,
	       const uint8_t *data, size_t len);

/** TCP header flags of pcapw_tcp(), as in the header's flags byte. */
enum { PCAPW_FIN = 0x01, PCAPW_SYN = 0x02, PCAPW_RST = 0x04,
       PCAPW_PSH = 0x08, PCAPW_ACK = 0x10 };
/** Writes one segment from src to dst: a 20-byte TCP header (window
 *  65535, no options, checksum filled in) around data, with the sequence
 *  and acknowledgement numbers the caller keeps.  EMSGSIZE when data does
 *  not fit in one packet (65495 bytes over IPv4, 65475 over IPv6): the
 *  caller cuts a stream into segments.  Otherwise as pcapw_udp(). */
int  pcapw_tcp(const struct sa *src, const struct sa *dst, uint32_t seq,
	       uint32_t ack, uint8_t flags, const uint8_t *data, size_t len);


/* ---- ids, media types, contacts (ids.c) ------------------------------- */

enum { ID_LEN_MAX = 64 };

/** [A-Za-z0-9._-]{1,64}, not only dots: it names a URL path and a file. */
bool id_resource_valid(const char *id);
/** A subscriber or caller id: [A-Za-z0-9._~+-]{1,64}. */
bool id_user_valid(const char *id);
/** TYPE/SUBTYPE of RFC 6838 restricted names, no parameters. */
bool id_mime_valid(const char *type);
/** A sip: or sips: URI with a host, no white space. */
bool id_contact_valid(const char *uri);


/* ---- the table (table.c, subscriber.c, binding.c) --------------------- */

enum cmr_mode { MODE_AUTO = 0, MODE_HTTP, MODE_AS, MODE_GATEWAY, MODE_OFF,
		MODE_EARLY };
enum cmr_dir  { DIR_BT = 0, DIR_RT };

const char *cmr_mode_name(enum cmr_mode m);
int cmr_mode_parse(enum cmr_mode *mp, const char *s);

/** A resource: immutable bytes served in HTTP mode (and decoded for RTP
 *  later).  data is a mem object, refcounted. */
struct resource {
	char *id;
	char *type;            /* Content-Type */
	uint8_t *data;         /* mem-allocated, never changed once set */
	size_t size;
	char etag[32];         /* quoted strong ETag */
	uint32_t duration_ms;  /* 0 if not audio/wav */
	void *media;           /* mem object: the resource as G.711 frames,
				  set once by rtp/ for WAV, NULL otherwise */
};

/** A live registration (REGISTER) binding of a subscriber. */
struct binding {
	char *uri;             /* Contact URI */
	char *callid;
	uint32_t cseq;
	uint64_t expires;      /* loop_now_ms() time of expiry */
};

struct subscriber;
struct table;

enum { SUBSCRIBER_ID_MAX = 64 };

/** Time limits of calls, from the profile's "limits" line; 0: none. */
struct table_limits {
	uint32_t ring_s;      /* the longest a callee rings (default 180) */
	uint32_t call_s;      /* the longest an answered call lasts
			       * (default 14400) */
};

enum { LIMIT_RING_DEFAULT = 180, LIMIT_CALL_DEFAULT = 14400 };

int  table_alloc(struct table **tp);
struct subscriber *table_subscriber(const struct table *t, const char *id);
struct subscriber *table_subscriber_pl(const struct table *t,
				       const struct pl *id);
int  table_subscriber_add(struct table *t, const char *id,
			  struct subscriber **sp);
unsigned table_subscriber_count(const struct table *t);
struct resource *table_resource(const struct table *t, const char *id);
int  table_resource_add(struct table *t, const char *id, const char *type,
			const uint8_t *data, size_t size);
unsigned table_resource_count(const struct table *t);
const struct table_limits *table_limits(const struct table *t);
void table_limits_set(struct table *t, const struct table_limits *lim);
/** The profile's "defaults plain=": MODE_EARLY (the default) or
 *  MODE_HTTP. */
enum cmr_mode table_plain(const struct table *t);
void table_plain_set(struct table *t, enum cmr_mode m);
/** Iterate; the handler returns true to stop. */
typedef bool (table_sub_h)(struct subscriber *s, void *arg);
typedef bool (table_res_h)(struct resource *r, void *arg);
struct subscriber *table_subscriber_apply(const struct table *t,
					  table_sub_h *h, void *arg);
struct resource *table_resource_apply(const struct table *t,
				      table_res_h *h, void *arg);

const char *subscriber_id(const struct subscriber *s);
enum cmr_mode subscriber_mode(const struct subscriber *s);
void subscriber_mode_set(struct subscriber *s, enum cmr_mode m);
/** What a caller that asks for no CMR mode gets in auto (CMRBT):
 *  MODE_EARLY or MODE_HTTP, or MODE_AUTO when the subscriber leaves it
 *  to the table's default (table_plain()). */
enum cmr_mode subscriber_plain(const struct subscriber *s);
void subscriber_plain_set(struct subscriber *s, enum cmr_mode m);
int  subscriber_cmr_set(struct subscriber *s, enum cmr_dir dir,
			const char *resid);
const char *subscriber_password(const struct subscriber *s);
int  subscriber_password_set(struct subscriber *s, const char *pw);
/** Per calling party assignment: caller is a user part ("bob"). */
int  subscriber_rule_add(struct subscriber *s, const char *caller,
			 enum cmr_dir dir, const char *resid);
/** The resource id assigned for a call from caller (may be NULL). */
const char *subscriber_cmr(const struct subscriber *s, enum cmr_dir dir,
			   const char *caller);
int  subscriber_contact_add(struct subscriber *s, const char *uri);
unsigned subscriber_contact_count(const struct subscriber *s);
const char *subscriber_contact(const struct subscriber *s, unsigned i);

/** Registrar bindings, keyed by contact URI and found by URI equivalence
 *  (sipuri_equal): a URI written another way refreshes or removes the
 *  first binding it is equivalent to.  expires_s 0 removes. */
int  subscriber_binding_set(struct subscriber *s, const char *uri,
			    const char *callid, uint32_t cseq,
			    uint32_t expires_s, uint64_t now);
int  subscriber_binding_remove_all(struct subscriber *s);
unsigned subscriber_binding_count(const struct subscriber *s);
const struct binding *subscriber_binding(const struct subscriber *s,
					 unsigned i);
/** The binding that a REGISTER for uri refreshes or removes, or NULL. */
const struct binding *subscriber_binding_find(const struct subscriber *s,
					      const struct pl *uri);
/** Drops expired bindings of every subscriber; returns how many. */
unsigned table_bindings_expire(struct table *t, uint64_t now);

/* Changes through the HTTP API (and core/state.c's replay of them). */
/** Makes the subscriber spec->id of t like spec (mode, assignments,
 *  password, contacts, rules), adding it when missing; its bindings stay.
 *  *createdp: whether it was added. */
int  table_subscriber_put(struct table *t, const struct subscriber *spec,
			  bool *createdp);
/** Copies everything but the id and the bindings of src into dst; on
 *  failure dst is unchanged. */
int  subscriber_assign(struct subscriber *dst, const struct subscriber *src);
/** Takes subscriber id (and its bindings) out of t; false when absent. */
bool table_subscriber_remove(struct table *t, const char *id);
/** The subscriber's id when it assigns resource resid, in any direction
 *  or rule, else NULL. */
const char *subscriber_uses(const struct subscriber *s, const char *resid);
/** Puts r into t (replacing one of the same id), sharing its bytes and
 *  frames. */
int  table_resource_link(struct table *t, const struct resource *r);
/** Takes resource id out of t; false when absent.  References to it (a
 *  response being sent, a stream) keep it alive. */
bool table_resource_remove(struct table *t, const char *id);

/** The live table that SIP and HTTP read; replaced whole on SIGHUP.
 *  table_live_set takes a reference and drops the previous one. */
struct table *table_live(void);
void table_live_set(struct table *t);
/** Moves live bindings of subscribers that exist in both (SIGHUP). */
void table_bindings_move(struct table *dst, struct table *src);


/* ---- SIP URI comparison (sipuri.c) ------------------------------------ */

/** RFC 3261 section 19.1.4 equivalence; not transitive. */
bool sipuri_equal(const struct pl *a, const struct pl *b);
int  sipuri_user_unescape(const struct pl *in, char *buf, size_t sz);


/* ---- profiles (profile.c, profile_dir.c) ------------------------------ */

/** The embedded default profile (profiles/README.md). */
extern const char profile_default_text[];

/** Parses profile text into t.  On error returns EINVAL and writes
 *  "NAME:LINE: message" into err. Relative file= paths resolve against
 *  basedir (may be NULL: current directory). */
int profile_parse(struct table *t, const char *name, const char *basedir,
		  const char *text, size_t len, char *err, size_t errsz);
/** Reads and parses a profile file (NULL path: the embedded default). */
int profile_load(struct table *t, const char *path, char *err,
		 size_t errsz);


/* ---- profile reload off the loop (reload.c) --------------------------- */

/*
 * Loads a profile into a new table on a job's thread (profile_load, then
 * the prepare hook, which converts the media), and hands the table to the
 * loop; the live table is not touched.  A start while a load runs queues
 * one more load (requests coalesce), which begins when the running one
 * has been reported.  mem_deref cancels a load in progress.
 */
struct reload;

/** On the worker thread, with the table just loaded: may change t only
 *  (and what arg owns), polls job_cancelled(job); 0 or an errno. */
typedef int  (reload_prep_h)(struct table *t, const struct job *job,
			     void *arg);
/** On the loop: err 0 and t the new table (reference it to keep it), or
 *  err, t NULL and msg a "FILE:LINE: message" text. */
typedef void (reload_done_h)(int err, struct table *t, const char *msg,
			     void *arg);

/** path NULL: the embedded default profile.  ph may be NULL. */
int  reload_alloc(struct reload **rp, const char *path, reload_prep_h *ph,
		  reload_done_h *dh, void *arg);
/** Starts a load, or queues one more behind the running load. */
int  reload_start(struct reload *r);
bool reload_busy(const struct reload *r);
/** Whether one more load is queued behind the running one. */
bool reload_queued(const struct reload *r);


/* ---- the API's changes over the profile (state.c, state_file.c) ------- */

/*
 * Subscribers and resources put and ids deleted through the HTTP API, kept
 * apart from the profile and put onto every table that goes live (at
 * start and after each SIGHUP).  With a folder, every change is written
 * there before it is made (DIR/state.json, replaced atomically, and
 * DIR/res/ for the resources' bytes) and read back by state_load().
 */
struct state;
struct odict;

/** What was wrong with a request's input: the field and a message. */
struct state_err {
	const char *field;
	const char *msg;
};

/** dir NULL: the changes are kept in memory only. */
int  state_alloc(struct state **stp, const char *dir);
const char *state_dir(const struct state *st);
/** Reads DIR/state.json and its resource files, runs prep on the
 *  resources read (on the calling thread, job NULL), and removes files
 *  no state names.  A missing state.json is an empty state.  0, or an
 *  errno with "FILE: message" in msg. */
int  state_load(struct state *st, reload_prep_h *prep, void *arg,
		char *msg, size_t msgsz);
/** Puts every change onto t, a table just loaded from the profile:
 *  deletions first, then resources, then subscribers.  Deletions of ids
 *  t does not have are dropped from the state. */
int  state_apply(struct state *st, struct table *t);
bool state_empty(const struct state *st);
/** Each writes the state with the change first, then makes it in the
 *  overlay (the live table is the caller's, who passes it as it is before
 *  the change, or NULL); an errno when the write failed, and nothing
 *  changed.  Only ids of the profile are recorded as deleted. */
int  state_subscriber_put(struct state *st, const struct subscriber *spec,
			  const struct table *live);
int  state_subscriber_delete(struct state *st, const char *id);
/** file: the resource's bytes in the folder (state_blob_write), or NULL
 *  without a folder. */
int  state_resource_put(struct state *st, const struct resource *r,
			const char *file, const struct table *live);
int  state_resource_delete(struct state *st, const char *id);

/** A subscriber from a JSON object (the API's PUT body, a state.json
 *  entry): made in scratch under id, every field checked; EINVAL with
 *  the field and why in e. */
int  state_spec_decode(struct table *scratch, const char *id,
		       const struct odict *o, struct subscriber **sp,
		       struct state_err *e);
/** The subscriber's members into o: with the password when secret (the
 *  state file), else with "password_set" (the API). */
int  state_spec_encode(struct odict *o, const struct subscriber *s,
		       bool secret);

/** On the loop: a new file name for the bytes of resource id. */
int  state_blob_name(struct state *st, const char *id, char *buf,
		     size_t sz);
/** On any thread: writes the bytes to DIR/res/NAME atomically and
 *  durably (temporary file, fsync, rename, fsync of the folder). */
int  state_blob_write(const char *dir, const char *name, const uint8_t *p,
		      size_t n);


/* ---- built-in audio (tones.c) ----------------------------------------- */

/** Adds ringback-default and ringtone-default (WAV, 8 kHz mono 16 bit,
 *  >= 5 s) to the table. */
int tones_add_builtin(struct table *t);
/** Whether a Content-Type names a WAV file (audio/wav, audio/x-wav,
 *  audio/wave, any case, parameters ignored). */
bool wav_type(const char *type);
/** Duration in ms of a RIFF/WAVE buffer, 0 if it is not one. */
uint32_t wav_duration_ms(const uint8_t *data, size_t size);

/** WAVE format tags that wav_parse accepts (EXTENSIBLE is resolved to
 *  its sub-format). */
enum { WAV_PCM = 0x0001, WAV_FLOAT = 0x0003 };

/** What a reader needs from a RIFF/WAVE buffer. */
struct wav_info {
	uint16_t format;       /* WAV_PCM or WAV_FLOAT */
	uint16_t channels;
	uint32_t rate;         /* frames per second */
	uint16_t block_align;  /* bytes per frame: channels * bytes/sample */
	uint16_t bits;         /* bits per sample, as in the header */
	const uint8_t *data;   /* the samples, inside the buffer given */
	size_t datasz;         /* bytes of samples */
};

/** Walks the chunks of a RIFF/WAVE buffer (in any order, every length
 *  checked) and reads its "fmt " chunk.  EINVAL for NULL, ENOTSUP for a
 *  format other than PCM or IEEE float, EBADMSG for anything else it
 *  cannot read. */
int wav_parse(struct wav_info *w, const uint8_t *data, size_t size);

#endif
