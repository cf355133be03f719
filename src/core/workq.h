/*
 * workq: a few threads for the blocking work an event loop must not do
 * (libvips resizing, libmagic, a whole object to or from S3).
 *
 * A task runs work(arg) on a worker thread, then done(arg) back on the
 * event base it was submitted from, so everything but the blocking part
 * (store handles, arenas' owners, replies) stays on its loop.  While a
 * task is out, the submitter must leave whatever the task touches alone;
 * the hand-over through libevent's queue orders the memory.
 *
 * Bounded: WORKQ_MAX tasks waiting; beyond that (or before workq_start)
 * submit refuses and the caller runs the work inline, so nothing is ever
 * dropped.  Workers keep their thread-local handles (a libmagic database)
 * between tasks.
 */
#ifndef HERALD_WORKQ_H
#define HERALD_WORKQ_H

struct event_base;

#define WORKQ_MAX 256

/* Start n worker threads (once, before serving); 0 or -1. */
int workq_start(int n);
/* Finish the task in hand, drop none queued (their done never runs: only
 * at exit, after the loops stopped), join the workers. */
void workq_stop(void);
/* 0 when queued; -1 when not started or full: run it inline then. */
int workq_submit(struct event_base *base, void (*work)(void *), void (*done)(void *), void *arg);

#endif
