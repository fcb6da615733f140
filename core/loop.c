/**
 * @file loop.c  The one libevent loop, and libre's seam onto it
 *
 * cmrlab runs one thread with one libevent event_base.  libre brings its
 * own poll loop (re_main), which must never run here.  libre reaches its
 * loop through exactly two functions, fd_listen() and fd_close(), plus its
 * timer functions.  In Debian's shared libre.so every internal call to them
 * goes through the PLT, so defining them in this program hands us every
 * socket libre opens (SIP UDP and TCP, DNS, RTP) and every timer it arms.
 * We map each socket onto a persistent libevent event; the timers live on
 * the heap of core/timers.c, run from one libevent timer re-armed to the
 * earliest of them after every iteration.
 *
 * This works only with dynamic linking against libre.so.  A static libre,
 * or one linked with -Bsymbolic, would keep calling its own fd_listen and
 * its sockets would never fire; loop_adapter_ok() lets the program detect
 * that at start-up and refuse to run.  libre declined an external-loop API,
 * so this file is the one seam; the rest of cmrlab uses libre's public API.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <event2/event.h>
#include <re.h>
#include "core.h"

enum { MAX_FDS = 65536 };

struct fdslot {
	struct event *ev;
	fd_h *fh;
	void *arg;
	int flags;
};

struct idle {
	struct le le;
	loop_idle_h *ih;
	void *arg;
};

struct loop_watch {
	struct event *ev;
	loop_fd_h *fh;
	void *arg;
};

static struct {
	struct event_base *base;
	struct event *tmr_ev;       /* libre's timers */
	struct fdslot *fds;         /* indexed by fd */
	unsigned nfds;              /* fds currently registered */
	bool adapter_hit;           /* libre called our fd_listen */
	bool stop;
	struct list idles;
	uint32_t lag_ms;            /* loop_lag_ms() */
} lp;


static void fd_event_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fdslot *s = &lp.fds[fd];
	int flags = 0;
	(void)arg;

	if (what & EV_READ)
		flags |= FD_READ;
	if (what & EV_WRITE)
		flags |= FD_WRITE;

	if (s->fh)
		s->fh(flags, s->arg);
}


/*
 * libre's fd_listen contract: flags 0 or a NULL handler removes the fd; a
 * second call for the same fd replaces its flags and handler.
 */
int fd_listen(int fd, int flags, fd_h *fh, void *arg)
{
	struct fdslot *s;
	short what = EV_PERSIST;

	if (fd < 0 || fd >= MAX_FDS)
		return EBADF;

	lp.adapter_hit = true;

	if (!lp.base || !lp.fds)
		return EINVAL;

	s = &lp.fds[fd];

	if (s->ev) {
		event_free(s->ev);
		s->ev = NULL;
		--lp.nfds;
	}
	s->fh = NULL;
	s->arg = NULL;
	s->flags = 0;

	if (!flags || !fh)
		return 0;

	if (flags & FD_READ)
		what |= EV_READ;
	if (flags & FD_WRITE)
		what |= EV_WRITE;

	s->ev = event_new(lp.base, fd, what, fd_event_cb, NULL);
	if (!s->ev)
		return ENOMEM;

	if (event_add(s->ev, NULL) < 0) {
		event_free(s->ev);
		s->ev = NULL;
		return EBADF;
	}

	s->fh = fh;
	s->arg = arg;
	s->flags = flags;
	++lp.nfds;

	return 0;
}


void fd_close(int fd)
{
	(void)fd_listen(fd, 0, NULL, NULL);
}


static void tmr_event_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;

	tmr_poll(NULL);
}


/* Re-arms our one libevent timer to the next due timer (core/timers.c). */
static void tmr_rearm(void)
{
	uint64_t to = tmr_next_timeout(NULL);
	struct timeval tv;

	if (!to) {
		evtimer_del(lp.tmr_ev);
		return;
	}

	tv.tv_sec = (time_t)(to / 1000);
	tv.tv_usec = (suseconds_t)((to % 1000) * 1000);
	evtimer_add(lp.tmr_ev, &tv);
}


static void run_idles(void)
{
	struct le *le = list_head(&lp.idles);

	while (le) {
		struct idle *id = le->data;
		le = le->next;
		id->ih(id->arg);
	}
}


/*
 * The loop watches up to MAX_FDS descriptors, and a call with a stream
 * holds three or more (RTP, RTCP, TCP): the soft limit, often 1024, is
 * raised as far as the hard limit allows, as servers do.
 */
static void nofile_raise(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= MAX_FDS)
		return;

	rl.rlim_cur = rl.rlim_max < MAX_FDS ? rl.rlim_max : MAX_FDS;
	(void)setrlimit(RLIMIT_NOFILE, &rl);
}


int loop_init(void)
{
	if (lp.base)
		return EALREADY;

	nofile_raise();

	lp.fds = calloc(MAX_FDS, sizeof(*lp.fds));
	if (!lp.fds)
		return ENOMEM;

	lp.base = event_base_new();
	if (!lp.base) {
		free(lp.fds);
		lp.fds = NULL;
		return ENOMEM;
	}

	lp.tmr_ev = evtimer_new(lp.base, tmr_event_cb, NULL);
	if (!lp.tmr_ev) {
		loop_close();
		return ENOMEM;
	}

	lp.stop = false;
	lp.adapter_hit = false;
	lp.lag_ms = 0;
	list_init(&lp.idles);

	return 0;
}


void loop_close(void)
{
	if (lp.fds) {
		for (int i = 0; i < MAX_FDS; i++) {
			if (lp.fds[i].ev)
				event_free(lp.fds[i].ev);
		}
		free(lp.fds);
		lp.fds = NULL;
	}
	lp.nfds = 0;

	list_flush(&lp.idles);

	if (lp.tmr_ev) {
		event_free(lp.tmr_ev);
		lp.tmr_ev = NULL;
	}
	if (lp.base) {
		event_base_free(lp.base);
		lp.base = NULL;
	}
}


struct event_base *loop_base(void)
{
	return lp.base;
}


/*
 * The lateness of the earliest due timer, now.  It rises at once and falls
 * by an eighth of the difference per iteration, so one quick turn of a
 * loop that has been behind does not clear it.
 */
static void lag_update(void)
{
	uint64_t due, now;
	uint32_t late = 0;

	if (timers_next(&due)) {
		now = tmr_jiffies();
		if (now > due)
			late = (uint32_t)MIN(now - due, UINT32_MAX);
	}

	if (late >= lp.lag_ms)
		lp.lag_ms = late;
	else
		lp.lag_ms -= (lp.lag_ms - late + 7) / 8;
}


uint32_t loop_lag_ms(void)
{
	return lp.lag_ms;
}


/*
 * The pump: one libevent iteration, then libre's due timers, then the idle
 * handlers (which re-arm MHD's timeout), then our timer to libre's next.
 */
int loop_run(void)
{
	if (!lp.base)
		return EINVAL;

	lp.stop = false;

	while (!lp.stop) {
		lag_update();
		tmr_poll(NULL);
		run_idles();
		tmr_rearm();

		if (lp.stop)
			break;

		if (event_base_loop(lp.base, EVLOOP_ONCE) < 0)
			return EIO;
	}

	return 0;
}


void loop_stop(void)
{
	lp.stop = true;
	if (lp.base)
		event_base_loopbreak(lp.base);
}



bool loop_adapter_ok(void)
{
	return lp.adapter_hit;
}


unsigned loop_fd_count(void)
{
	return lp.nfds;
}


uint64_t loop_now_ms(void)
{
	return tmr_jiffies();
}


static void watch_cb(evutil_socket_t fd, short what, void *arg)
{
	struct loop_watch *w = arg;
	(void)fd;
	(void)what;

	w->fh(w->arg);
}


static void watch_destructor(void *arg)
{
	struct loop_watch *w = arg;

	if (w->ev)
		event_free(w->ev);
}


int loop_watch_alloc(struct loop_watch **wp, int fd, loop_fd_h *fh,
		     void *arg)
{
	struct loop_watch *w;

	if (!wp || fd < 0 || !fh || !lp.base)
		return EINVAL;

	w = mem_zalloc(sizeof(*w), watch_destructor);
	if (!w)
		return ENOMEM;

	w->fh = fh;
	w->arg = arg;
	w->ev = event_new(lp.base, fd, EV_READ | EV_PERSIST, watch_cb, w);
	if (!w->ev || event_add(w->ev, NULL) < 0) {
		mem_deref(w);
		return ENOMEM;
	}

	*wp = w;

	return 0;
}


int loop_idle_add(loop_idle_h *ih, void *arg)
{
	struct idle *id;

	if (!ih)
		return EINVAL;

	id = mem_zalloc(sizeof(*id), NULL);
	if (!id)
		return ENOMEM;

	id->ih = ih;
	id->arg = arg;
	list_append(&lp.idles, &id->le, id);

	return 0;
}


void loop_idle_remove(loop_idle_h *ih, void *arg)
{
	struct le *le;

	for (le = list_head(&lp.idles); le; le = le->next) {
		struct idle *id = le->data;

		if (id->ih == ih && id->arg == arg) {
			list_unlink(&id->le);
			mem_deref(id);
			return;
		}
	}
}
