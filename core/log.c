/**
 * @file log.c  The one log sink, with a level per subsystem
 *
 * libre's debug output, libevent's log callback and libmicrohttpd's
 * external logger all end up here, so an operator reads one stream (on
 * stderr; stdout carries only the readiness line).
 *
 * log_emit() may also be called from a job's thread (core/job.c): it
 * formats into its own stack buffer (libre's %m uses strerror_r), reads
 * levels that change only at start-up, and writes one line with one
 * fprintf, which stdio locks, so lines never interleave.
 */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <event2/event.h>
#include <re.h>
#define DEBUG_MODULE "cmrlab"
#define DEBUG_LEVEL 0
#include <re_dbg.h>
#include "core.h"

static enum log_lvl levels[SUB_COUNT] = {
	LVL_INFO, LVL_INFO, LVL_INFO, LVL_INFO, LVL_WARN
};

static const char *subname[SUB_COUNT] = {
	"core", "sip", "http", "rtp", "lib"
};

static const char *lvlname[] = { "error", "warn", "info", "debug" };


static void emitv(enum log_sub sub, enum log_lvl lvl, const char *fmt,
		  va_list ap)
{
	struct timespec ts;
	struct tm tm;
	char buf[1024];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);

	(void)re_vsnprintf(buf, sizeof(buf), fmt, ap);

	fprintf(stderr, "%02d:%02d:%02d.%03ld %-5s %-4s %s\n",
		tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
		lvlname[lvl], subname[sub], buf);
}


bool log_enabled(enum log_sub sub, enum log_lvl lvl)
{
	if (sub >= SUB_COUNT)
		return false;

	return lvl <= levels[sub];
}


void log_emit(enum log_sub sub, enum log_lvl lvl, const char *fmt, ...)
{
	va_list ap;

	if (!log_enabled(sub, lvl))
		return;

	va_start(ap, fmt);
	emitv(sub, lvl, fmt, ap);
	va_end(ap);
}


void log_level_set(enum log_sub sub, enum log_lvl lvl)
{
	if (sub < SUB_COUNT)
		levels[sub] = lvl;
}


/* libre prints its debug lines already formatted, with a newline. */
static void re_dbg_cb(int level, const char *p, size_t len, void *arg)
{
	enum log_lvl lvl = level <= DBG_ERR ? LVL_ERROR :
		level <= DBG_WARNING ? LVL_WARN :
		level <= DBG_INFO ? LVL_INFO : LVL_DEBUG;
	(void)arg;

	while (len && (p[len - 1] == '\n' || p[len - 1] == '\r'))
		--len;

	log_emit(SUB_LIB, lvl, "re: %b", p, len);
}


static void libevent_log_cb(int severity, const char *msg)
{
	enum log_lvl lvl = severity >= EVENT_LOG_ERR ? LVL_ERROR :
		severity == EVENT_LOG_WARN ? LVL_WARN :
		severity == EVENT_LOG_MSG ? LVL_INFO : LVL_DEBUG;

	log_emit(SUB_LIB, lvl, "libevent: %s", msg);
}


void log_setup(enum log_lvl lvl)
{
	for (int i = 0; i < SUB_COUNT; i++)
		levels[i] = lvl;

	if (lvl < LVL_DEBUG)
		levels[SUB_LIB] = LVL_WARN;

	dbg_init(DBG_WARNING, DBG_NONE);
	dbg_handler_set(re_dbg_cb, NULL);
	event_set_log_callback(libevent_log_cb);
}
