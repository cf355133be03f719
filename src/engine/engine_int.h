/*
 * engine_int: the engine's own structures, shared by engine.c (publishing)
 * and unpublish.c (deleting from platforms).  Not for callers outside
 * src/engine.  A loop's fields are touched only on that loop's thread; the
 * engine's are atomics or under mu.
 */
#ifndef HERALD_ENGINE_INT_H
#define HERALD_ENGINE_INT_H

#include "engine.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#define MAX_INFLIGHT 128
#define PACE_SLOTS 4096

struct arena;
struct config;
struct provider;
struct pub_ctx;
struct store_channel;
struct store_post;
struct event;
struct hclient;

struct pace {
	char channel[32];
	int64_t next;
};

struct engine {
	const struct config *cfg;
	char owner[40];
	atomic_int stopping;
	atomic_int inflight;
	int recovered_once;
	pthread_mutex_t mu;
	struct pace pace[PACE_SLOTS];
};

struct engine_loop {
	struct engine *e;
	int index;
	struct event_base *base;
	struct store *st;
	struct hclient *http;
	struct event *tick;
	int inflight;
	int64_t last_housekeep; /* engine_startup ran the first one */
	int saturated; /* the last claim was cut by the batch or in-flight cap */
};

/* Exponential backoff with jitter, at least retry_after (engine.c). */
int64_t engine_backoff_ms(const struct config *cfg, int attempts, int64_t retry_after);

/* Claim due unpublish jobs (at most `room`) and start them (unpublish.c). */
/* The provider context of thread item `cur` (media and settings parsed
 * into `ia`; base URL from HERALD_<PROVIDER>_BASE_URL), shared by publish
 * and unpublish jobs. */
void engine_item_ctx(struct pub_ctx *c, struct arena *ia, json_t *cred,
		     const struct provider *pr, const struct config *cfg,
		     const struct store_channel *ch, const struct store_post *items, size_t cur);
void unpublish_tick(struct engine_loop *l, int64_t now, int room);

/* analytics.c: sampling published posts' metrics.  The next sample time of
 * an item published at published_at, after now (0: the schedule is over);
 * schedule the first sample of a root item just published (nothing for a
 * provider without metrics); schedule posts a crash left without a job
 * (at start); claim due samples (at most `room`) and start them. */
struct store_analytics_job;
int64_t analytics_next_due(const struct config *cfg, int64_t published_at, int64_t now);
void analytics_schedule(struct engine_loop *l, const struct provider *pr, const char *item_id,
			const char *org_id, const char *channel_id, int64_t published_at);
void analytics_startup(struct engine *e, struct store *st);
void analytics_tick(struct engine_loop *l, int64_t now, int room);

#endif
