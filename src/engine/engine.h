/*
 * engine: the delivery engine.  It runs on the same libevent loops as the
 * HTTP server: every loop claims due posts through the store, publishes
 * them through its own libcurl multi handle, and records the outcome.
 *
 * DESIGN
 *  - A post is claimed with a lease (state publishing, lease_owner,
 *    lease_until).  Only the lease owner can move it on; a lease that
 *    expires (process killed) is recovered by store_engine_recover: back to
 *    queued when the provider publishes idempotently or when no request of
 *    the post was in flight, otherwise to unconfirmed.  So a crash at any
 *    instant loses nothing and never duplicates silently.
 *  - A thread is one job: items publish in order, each as a reply to the
 *    previous one; an item with a delay re-queues the root until its time.
 *  - Retryable failures re-queue with exponential backoff and jitter (or
 *    the platform's Retry-After when longer); permanent ones fail at once
 *    with the platform's message; an expired token is refreshed once.
 *  - The due-time index makes a tick cost what is due, not what is stored.
 *  - Loop 0 also recovers expired leases and fails posts overdue past the
 *    horizon (after downtime).
 */
#ifndef HERALD_ENGINE_H
#define HERALD_ENGINE_H

struct config;
struct engine;
struct engine_loop;
struct event_base;
struct store;

struct engine *engine_new(const struct config *cfg);
void engine_free(struct engine *e);
/* Attach to a loop; the store handle is the loop's own. */
struct engine_loop *engine_loop_new(struct engine *e, int index, struct event_base *base,
				    struct store *st);
void engine_loop_free(struct engine_loop *l);
struct store *engine_loop_store(struct engine_loop *l);
/* Recover expired leases and sweep overdue posts once, before any loop
 * claims (so that no loop publishes what the sweep would fail). */
void engine_startup(struct engine *e, struct store *st);
/* Stop claiming; in-flight work finishes or is released. */
void engine_stop(struct engine *e);
int engine_inflight(struct engine *e);

#endif
