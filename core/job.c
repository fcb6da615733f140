/**
 * @file job.c  One piece of work off the loop, its result back on the loop
 *
 * Everything in cmrlab runs on the one loop thread, and so the loop must
 * never wait: a SIP answer or an RTP tick that falls due while a callback
 * computes for a second is a second late.  A few things are long by
 * nature, converting a WAV of several minutes into G.711 frames above
 * all, so a job runs such work on a thread of its own and hands the result
 * back to the loop.
 *
 * The rule that keeps this safe without a lock: the work touches only
 * memory that no other thread uses while it runs, which the starter hands
 * over through arg (a table the loop has never seen, buffers of its own),
 * and returns 0 or an errno; it never touches the live table, the loop,
 * libevent or libre's timers and sockets.  libre's mem objects may be
 * made and freed on the thread: in Debian's RELEASE build mem_alloc is a
 * malloc and a reference count in the object itself, and glibc's malloc
 * serves any thread; the counts are not atomic, which is why an object is
 * never shared while the work runs.  When the work returns, the thread
 * writes one byte into a pipe whose read end is a libevent event; the
 * loop joins the thread (which orders everything the work wrote before
 * everything the loop reads next) and calls the done handler with the
 * work's result.  Ownership of what the work made passes to the loop at
 * that moment.
 *
 * Stopping early is cooperative: job_cancel() raises an atomic flag that
 * the work polls with job_cancelled() every few milliseconds of its work
 * and then returns ECANCELED.  Code that runs inside a work without being
 * handed the job (the profile's file reading and the table's hashing)
 * polls job_self_cancelled(), which asks about the job of the calling
 * thread and is false on the loop.  Dropping the last reference to a job whose
 * work still runs cancels it and joins the thread right there, so the
 * caller may free what arg points to next; that waits until the work
 * next polls the flag, and it is meant for shutdown and for the owner's
 * destructor.
 * A job dropped that way never calls its done handler.
 *
 * The thread runs with every signal blocked, so that SIGHUP and SIGTERM
 * keep reaching the loop's signal events, and under SCHED_BATCH: the
 * scheduler treats it as the CPU-bound work it is and lets a waking loop
 * preempt it, without lowering its share of the CPU.  A lower priority
 * was tried and is worse: with both cores busy (two spinning processes
 * beside tests/bench/bench_reload.py), nice 10 stretched a 45 MiB reload
 * from 3 s to 27-37 s, and a shutdown waits for the work to reach its
 * next cancellation point, so a starved worker delays the exit too.
 * Measured the same way, the worst OPTIONS delay during the reload was
 * 21 ms with the default policy and 14 ms with SCHED_BATCH.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>
#include <event2/event.h>
#include <re.h>
#include "core.h"

struct job {
	pthread_t tid;
	bool started;           /* tid is a thread to join */
	bool joined;
	int fds[2];             /* pipe: the worker writes, the loop reads */
	struct event *ev;
	atomic_bool cancel;
	int err;                /* the work's result, read after the join */
	job_work_h *wh;
	job_done_h *dh;
	void *arg;
};


/* The job whose work runs on this thread, for job_self_cancelled(). */
static _Thread_local const struct job *self;


static void join(struct job *job)
{
	if (job->started && !job->joined) {
		(void)pthread_join(job->tid, NULL);
		job->joined = true;
	}
}


static void destructor(void *data)
{
	struct job *job = data;

	/* Still running: stop it and wait, so that nothing the work uses
	 * is freed under it. */
	atomic_store(&job->cancel, true);
	join(job);

	if (job->ev)
		event_free(job->ev);
	if (job->fds[0] >= 0)
		(void)close(job->fds[0]);
	if (job->fds[1] >= 0)
		(void)close(job->fds[1]);
}


static void *worker(void *arg)
{
	const struct sched_param batch = { .sched_priority = 0 };
	struct job *job = arg;
	const uint8_t one = 1;
	ssize_t n;

	(void)pthread_setschedparam(pthread_self(), SCHED_BATCH, &batch);

	self = job;
	job->err = job->wh(job, job->arg);
	self = NULL;

	/* The pipe is empty and holds far more than one byte, so this
	 * write cannot block or come up short; EINTR cannot happen with
	 * every signal blocked. */
	do {
		n = write(job->fds[1], &one, 1);
	} while (n < 0 && errno == EINTR);

	return NULL;
}


static void done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct job *job = arg;
	uint8_t b;
	ssize_t n;
	(void)what;

	/* One byte, and the join below does not depend on it. */
	n = read(fd, &b, 1);
	(void)n;

	join(job);

	/* The pipe and its event have served; they go before the handler,
	 * which may start the next job at once. */
	event_free(job->ev);
	job->ev = NULL;
	(void)close(job->fds[0]);
	(void)close(job->fds[1]);
	job->fds[0] = job->fds[1] = -1;

	/* The handler may drop the last reference to the job. */
	mem_ref(job);
	if (job->dh)
		job->dh(job->err, job->arg);
	mem_deref(job);
}


int job_start(struct job **jp, job_work_h *wh, job_done_h *dh, void *arg)
{
	sigset_t all, old;
	struct job *job;
	int err;

	if (!jp || !wh || !loop_base())
		return EINVAL;

	job = mem_zalloc(sizeof(*job), destructor);
	if (!job)
		return ENOMEM;

	job->fds[0] = job->fds[1] = -1;
	atomic_init(&job->cancel, false);
	job->wh = wh;
	job->dh = dh;
	job->arg = arg;

	if (pipe2(job->fds, O_CLOEXEC | O_NONBLOCK)) {
		err = errno;
		goto out;
	}

	job->ev = event_new(loop_base(), job->fds[0], EV_READ, done_cb, job);
	if (!job->ev || event_add(job->ev, NULL) < 0) {
		err = ENOMEM;
		goto out;
	}

	/* The thread inherits the mask in force when it is created. */
	(void)sigfillset(&all);
	(void)pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&job->tid, NULL, worker, job);
	(void)pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err)
		goto out;

	job->started = true;

 out:
	if (err)
		mem_deref(job);
	else
		*jp = job;

	return err;
}


void job_cancel(struct job *job)
{
	if (job)
		atomic_store(&job->cancel, true);
}


bool job_cancelled(const struct job *job)
{
	return job && atomic_load(&job->cancel);
}


bool job_self_cancelled(void)
{
	return job_cancelled(self);
}


bool job_running(const struct job *job)
{
	return job && job->started && !job->joined;
}
