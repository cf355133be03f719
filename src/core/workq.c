/*
 * workq: see workq.h.  One mutex-protected ring of tasks, n workers.
 */
#include "workq.h"

#include <event2/event.h>
#include <pthread.h>
#include <stdlib.h>

struct task {
	struct event_base *base;
	void (*work)(void *), (*done)(void *);
	void *arg;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static struct task ring[WORKQ_MAX];
static size_t head, count;
static int started, stopping, nthreads;
static pthread_t *threads;

static void on_done(evutil_socket_t fd, short what, void *p)
{
	(void)fd;
	(void)what;
	struct task *t = p;
	t->done(t->arg);
	free(t);
}

static void *worker(void *unused)
{
	(void)unused;
	for (;;) {
		pthread_mutex_lock(&mu);
		while (!count && !stopping)
			pthread_cond_wait(&cv, &mu);
		if (stopping) {
			pthread_mutex_unlock(&mu);
			return NULL;
		}
		struct task t = ring[head];
		head = (head + 1) % WORKQ_MAX;
		count--;
		pthread_mutex_unlock(&mu);
		t.work(t.arg);
		struct task *back = malloc(sizeof(*back));
		struct timeval now = {0, 0};
		if (!back) {
			/* cannot hand it back through the queue: the loop's own
			 * event allocation failing means the process is done for */
			abort();
		}
		*back = t;
		if (event_base_once(t.base, -1, EV_TIMEOUT, on_done, back, &now))
			abort();
	}
}

int workq_start(int n)
{
	pthread_mutex_lock(&mu);
	if (started || n <= 0) {
		pthread_mutex_unlock(&mu);
		return started ? 0 : -1;
	}
	threads = calloc((size_t)n, sizeof(*threads));
	if (!threads) {
		pthread_mutex_unlock(&mu);
		return -1;
	}
	stopping = 0;
	for (nthreads = 0; nthreads < n; nthreads++)
		if (pthread_create(&threads[nthreads], NULL, worker, NULL))
			break;
	started = nthreads > 0;
	pthread_mutex_unlock(&mu);
	return started ? 0 : -1;
}

void workq_stop(void)
{
	pthread_mutex_lock(&mu);
	if (!started) {
		pthread_mutex_unlock(&mu);
		return;
	}
	stopping = 1;
	started = 0;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	for (int i = 0; i < nthreads; i++)
		pthread_join(threads[i], NULL);
	free(threads);
	threads = NULL;
	nthreads = 0;
	head = count = 0;
}

int workq_submit(struct event_base *base, void (*work)(void *), void (*done)(void *), void *arg)
{
	if (!base)
		return -1;
	pthread_mutex_lock(&mu);
	if (!started || count == WORKQ_MAX) {
		pthread_mutex_unlock(&mu);
		return -1;
	}
	ring[(head + count) % WORKQ_MAX] = (struct task){base, work, done, arg};
	count++;
	pthread_cond_signal(&cv);
	pthread_mutex_unlock(&mu);
	return 0;
}
