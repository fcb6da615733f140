/**
 * @file timers.c  libre's timers on a heap: start and cancel in O(log n)
 *
 * libre 1.1.0 keeps every pending timer in one list sorted by expiry, so
 * tmr_start() walks past every timer that expires earlier: with thousands
 * of 32 s transaction timers pending, arming one more costs a walk over all
 * of them, and the cost of a call grows with the call rate.  Like fd_listen
 * (core/loop.c), the timer functions are exported by libre.so and every
 * internal call reaches them through the PLT, so defining them here hands
 * us every timer libre arms: transactions, dialogs, TCP idle timers, ours.
 *
 * They live on a 4-ary min-heap of struct tmr pointers ordered by expiry,
 * then by start order, which keeps libre's rule that timers due at the
 * same millisecond fire in the order they were started.  struct tmr is
 * libre's and cannot grow, and its list element is used by nothing but the
 * timer code this file replaces, so the element carries our bookkeeping:
 * le.prev holds the heap index and le.next the start sequence number.  A
 * timer is on the heap exactly while tmr->th is set, as tmr_isrunning()
 * (inline in re_tmr.h) expects.
 *
 * tmr_jiffies() stays libre's (wall-clock milliseconds).  The list that
 * tmrl_get() returns stays empty; the argument of tmr_poll() and
 * tmr_next_timeout() is ignored.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <re.h>
#include "core.h"

enum { ARITY = 4 };

static struct {
	struct tmr **v;     /* the heap; v[0] expires first */
	size_t n;
	size_t cap;
	uint64_t seq;       /* start order, for ties */
} hp;


static inline size_t idx_of(const struct tmr *t)
{
	return (size_t)(uintptr_t)t->le.prev;
}


static inline uint64_t seq_of(const struct tmr *t)
{
	return (uint64_t)(uintptr_t)t->le.next;
}


static inline void place(struct tmr *t, size_t i)
{
	hp.v[i] = t;
	t->le.prev = (struct le *)(uintptr_t)i;
}


static inline bool before(const struct tmr *a, const struct tmr *b)
{
	if (a->jfs != b->jfs)
		return a->jfs < b->jfs;

	return seq_of(a) < seq_of(b);
}


static void sift_up(size_t i)
{
	struct tmr *t = hp.v[i];

	while (i > 0) {
		size_t p = (i - 1) / ARITY;

		if (!before(t, hp.v[p]))
			break;

		place(hp.v[p], i);
		i = p;
	}

	place(t, i);
}


static void sift_down(size_t i)
{
	struct tmr *t = hp.v[i];

	for (;;) {
		size_t c = i * ARITY + 1;
		size_t best;

		if (c >= hp.n)
			break;

		best = c;
		for (size_t k = c + 1; k < c + ARITY && k < hp.n; k++) {
			if (before(hp.v[k], hp.v[best]))
				best = k;
		}

		if (!before(hp.v[best], t))
			break;

		place(hp.v[best], i);
		i = best;
	}

	place(t, i);
}


/*
 * Takes t off the heap if it is there.  A running timer whose memory was
 * copied or reset has a position that does not point back at it: with
 * search, it is looked for (tmr_start, tmr_cancel), never trusted;
 * without, it is taken for not queued (tmr_init, which may see memory
 * that was never a timer, and must not walk the heap for it).
 */
static void heap_remove(struct tmr *t, bool search)
{
	size_t i = idx_of(t);
	struct tmr *last;

	if (i >= hp.n || hp.v[i] != t) {
		if (!search)
			return;
		for (i = 0; i < hp.n && hp.v[i] != t; i++)
			;
		if (i == hp.n)
			return;
	}

	last = hp.v[--hp.n];
	hp.v[hp.n] = NULL;
	if (last == t)
		return;

	place(last, i);
	if (i > 0 && before(last, hp.v[(i - 1) / ARITY]))
		sift_up(i);
	else
		sift_down(i);
}


static void heap_push(struct tmr *t)
{
	if (hp.n == hp.cap) {
		size_t cap = hp.cap ? hp.cap * 2 : 1024;
		struct tmr **v = realloc(hp.v, cap * sizeof(*v));

		/* tmr_start() cannot fail; a timer silently never firing
		 * would leave a transaction or a call hanging for ever. */
		if (!v) {
			fputs("cmrlab: out of memory for timers\n", stderr);
			abort();
		}
		hp.v = v;
		hp.cap = cap;
	}

	t->le.next = (struct le *)(uintptr_t)++hp.seq;
	hp.v[hp.n] = t;
	sift_up(hp.n++);
}


void tmr_init(struct tmr *tmr)
{
	if (!tmr)
		return;

	if (tmr->th)
		heap_remove(tmr, false);

	memset(tmr, 0, sizeof(*tmr));
}


void tmr_start(struct tmr *tmr, uint64_t delay, tmr_h *th, void *arg)
{
	if (!tmr)
		return;

	if (tmr->th)
		heap_remove(tmr, true);

	tmr->th = th;
	tmr->arg = arg;

	if (!th)
		return;

	tmr->jfs = delay + tmr_jiffies();
	heap_push(tmr);
}


void tmr_cancel(struct tmr *tmr)
{
	tmr_start(tmr, 0, NULL, NULL);
}


uint64_t tmr_get_expire(const struct tmr *tmr)
{
	uint64_t now;

	if (!tmr || !tmr->th)
		return 0;

	now = tmr_jiffies();

	return tmr->jfs > now ? tmr->jfs - now : 0;
}


unsigned timers_run(uint64_t now)
{
	unsigned ran = 0;

	while (hp.n && hp.v[0]->jfs <= now) {
		struct tmr *t = hp.v[0];
		tmr_h *th = t->th;
		void *arg = t->arg;

		heap_remove(t, false);
		t->th = NULL;
		++ran;

		/* The handler may start, cancel or free any timer, t too. */
		th(arg);
	}

	return ran;
}


void tmr_poll(struct list *tmrl)
{
	(void)tmrl;

	(void)timers_run(tmr_jiffies());
}


uint64_t tmr_next_timeout(struct list *tmrl)
{
	uint64_t now;

	(void)tmrl;

	if (!hp.n)
		return 0;

	now = tmr_jiffies();

	return hp.v[0]->jfs <= now ? 1 : hp.v[0]->jfs - now;
}


bool timers_next(uint64_t *jfs)
{
	if (!hp.n)
		return false;

	if (jfs)
		*jfs = hp.v[0]->jfs;

	return true;
}


size_t timers_count(void)
{
	return hp.n;
}


int tmr_status(struct re_printf *pf, void *unused)
{
	uint64_t now = tmr_jiffies();
	int err;

	(void)unused;

	if (!hp.n)
		return 0;

	err = re_hprintf(pf, "Timers (%zu):\n", hp.n);

	for (size_t i = 0; i < hp.n && i < 100; i++) {
		const struct tmr *t = hp.v[i];

		err |= re_hprintf(pf, "  %p: th=%p expire=%llums\n", t, t->th,
				  (unsigned long long)(t->jfs > now ?
						       t->jfs - now : 0));
	}

	if (hp.n > 100)
		err |= re_hprintf(pf, "    (Dumped Timers: 100 of %zu)\n",
				  hp.n);

	return err;
}


void tmr_debug(void)
{
	if (hp.n)
		(void)re_fprintf(stderr, "%H", tmr_status, NULL);
}

