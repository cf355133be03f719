/*
 * store: the one persistence interface of herald.
 *
 * Callers see only `struct store` and the functions below; a backend
 * (store_sqlite.c now, store_pg.c next) fills a `struct store_ops`.  A store
 * handle is used by one thread at a time: every event loop opens its own.
 *
 * Ownership: everything a store function returns is allocated in the arena
 * the caller passes and lives as long as that arena.  Inputs are borrowed.
 *
 * Status convention: 0 success; STORE_NOTFOUND when the row does not exist
 * in the caller's organization (never leak whether it exists elsewhere);
 * STORE_CONFLICT when a state rule refused the write; -1 for storage
 * failure (logged by the backend).
 *
 * Times are int64 milliseconds since the epoch, UTC.
 */
#ifndef HERALD_STORE_H
#define HERALD_STORE_H

#include <stddef.h>
#include <stdint.h>

struct arena;

#define STORE_NOTFOUND 1
#define STORE_CONFLICT 2

/* Post states (SPEC 7).  Stored as these lowercase strings. */
#define PS_DRAFT "draft"
#define PS_QUEUED "queued"
#define PS_PUBLISHING "publishing"
#define PS_PUBLISHED "published"
#define PS_FAILED "failed"
#define PS_CANCELED "canceled"
#define PS_UNCONFIRMED "unconfirmed"
/* deleting from the platform (an unpublish job), and deleted there */
#define PS_DELETING "deleting"
#define PS_DELETED "deleted"

struct store;

struct store_key {
	char *id, *org_id, *org_name, *hint;
	int64_t created_at, revoked_at;
};

struct store_channel {
	char *id, *org_id, *provider, *name, *picture, *profile;
	char *customer_id, *customer_name; /* NULL when none */
	char *credentials;                 /* sealed (see core/crypto.h) */
	char *posting_times;               /* JSON text [{"time":minutes}] */
	char *timezone;
	int disabled;
	int64_t created_at;
};

struct store_tag {
	char *id, *name, *color;
	int64_t created_at, updated_at;
};

struct store_post {
	char *id, *org_id, *channel_id, *grp, *parent_id;
	int position;
	char *content, *media, *settings; /* media and settings: JSON text */
	int delay_min;
	char *state;
	int64_t publish_at;
	int interval_days; /* 0: not repeating */
	char *creation_method;
	char *release_id, *release_url, *error;
	int attempts;
	int64_t created_at, updated_at, published_at;
	char *batch;            /* native post id, or NULL (Postiz-created) */
	int64_t deleted_at;     /* 0: live */
	char *release_data;     /* provider's JSON about the release, or NULL */
	/* joined from the channel */
	char *channel_provider, *channel_name, *channel_picture;
	/* tags of a root post */
	struct store_tag *tags;
	size_t ntags;
};

struct store_post_item {
	const char *id; /* NULL: new */
	const char *content;
	const char *media; /* JSON text */
	int delay_min;
};

/* One Postiz `posts[]` entry written as a thread in one transaction. */
struct store_post_write {
	const char *org_id, *channel_id;
	const char *group;      /* new group id for every row */
	const char *old_group;  /* rows of it not re-sent are soft-deleted */
	const char *settings;   /* JSON text */
	const char *state;      /* NULL: keep each existing row's state (type update) */
	int64_t publish_at;
	int interval_days;
	const char *creation_method;
	int republish;          /* allow rewriting a published root */
	const char *const *tag_names;
	size_t ntags;
	const struct store_post_item *items;
	size_t nitems;
	const char *batch;      /* native post id shared by the targets, or NULL */
};

struct store_post_filter {
	const char *org_id;
	int64_t from, to;       /* publish_at range, inclusive */
	const char *customer_id;
};

int store_open(const char *database_url, const char *data_dir, struct store **out,
	       char *err, size_t errlen);
/* Apply pending migrations; run once per process before serving. */
int store_migrate(struct store *st, char *err, size_t errlen);
void store_close(struct store *st);
const char *store_backend(const struct store *st);
int store_ping(struct store *st);

/* organizations and keys */
int store_org_ensure(struct store *st, struct arena *a, const char *name, char **out_id);
int store_key_create(struct store *st, struct arena *a, const char *org_id, const char *hash,
		     const char *hint, char **out_id);
int store_key_list(struct store *st, struct arena *a, struct store_key **out, size_t *n);
int store_key_revoke(struct store *st, const char *id);
int store_key_lookup(struct store *st, struct arena *a, const char *hash, char **out_org_id,
		     char **out_key_id);

/* channels */
int store_channel_create(struct store *st, struct arena *a, const struct store_channel *c,
			 char **out_id);
int store_channel_list(struct store *st, struct arena *a, const char *org_id,
		       const char *customer_id, struct store_channel **out, size_t *n);
int store_channel_get(struct store *st, struct arena *a, const char *org_id, const char *id,
		      struct store_channel **out);
/* Soft-delete the channel and cancel its unpublished posts. */
int store_channel_delete(struct store *st, const char *org_id, const char *id);
/* Replace the sealed credentials (refreshed tokens); no org filter: the
 * engine calls it for a channel it has already loaded. */
int store_channel_set_credentials(struct store *st, const char *id, const char *sealed);
int store_channel_set_times(struct store *st, const char *org_id, const char *id,
			    const char *posting_times);

struct store_customer {
	char *id, *name;
};
int store_customer_list(struct store *st, struct arena *a, const char *org_id,
			struct store_customer **out, size_t *n);
int store_customer_ensure(struct store *st, struct arena *a, const char *org_id,
			  const char *name, char **out_id);
int store_channel_set_customer(struct store *st, const char *org_id, const char *id,
			       const char *customer_id);

/* posts */
int store_post_write(struct store *st, struct arena *a, const struct store_post_write *w,
		     char **out_root_id, char **out_msg);
/* Several threads in ONE transaction (a native post's targets): all are
 * written or none; *failed is the index of the write that was refused. */
int store_post_write_many(struct store *st, struct arena *a, const struct store_post_write *w,
			  size_t n, char **out_roots, char **out_msg, size_t *failed);
/* Root posts in range (or repeating), with tags and channel fields. */
int store_post_list(struct store *st, struct arena *a, const struct store_post_filter *f,
		    struct store_post **out, size_t *n);
/* Any row of a thread by id; *out is the whole thread, root first. */
int store_post_thread(struct store *st, struct arena *a, const char *org_id, const char *id,
		      struct store_post **out, size_t *n);
/* Soft-delete the group and cancel what has not been published; *out_n is
 * the number of rows deleted.  When a row is in `publishing` nothing is
 * deleted, *out_inflight is set and STORE_CONFLICT returned: a delete that
 * answers success must mean the post will never be published. */
int store_post_delete_group(struct store *st, const char *org_id, const char *group,
			    int *out_n, int *out_inflight);
/* draft <-> queued on the root's group; STORE_CONFLICT from other states. */
int store_post_set_state(struct store *st, const char *org_id, const char *root_id,
			 const char *from_state, const char *to_state);
/* Retry a failed or unconfirmed post now: the unpublished part of its
 * thread goes back to queued (attempts reset).  STORE_CONFLICT from other
 * states. */
int store_post_requeue(struct store *st, const char *org_id, const char *root_id, int64_t now);
/* Resolve an unconfirmed post as published (the user checked the platform). */
int store_post_resolve(struct store *st, const char *org_id, const char *root_id, int64_t now);
int store_post_set_settings(struct store *st, const char *org_id, const char *group,
			    const char *settings);
int store_post_set_release(struct store *st, const char *org_id, const char *id,
			   const char *release_id, const char *release_url);
/* Number of live root posts of the org in [from, to). */
int store_post_count_at(struct store *st, const char *org_id, int64_t from, int64_t to,
			int *out);

/* ---- native posts (store_native.c) ----
 * A native post is a batch of threads, one per target; a Postiz-created
 * thread is a native post of one target whose id is its group. */
struct store_native_filter {
	const char *org_id;
	const char *state, *channel_id, *provider, *tag;
	int64_t from, to;        /* publish_at; 0: open */
	int64_t cursor_created;  /* 0: first page */
	const char *cursor_id;
	int limit;
};
struct store_native_ref {
	char *id;
	int64_t created_at;
};
/* One page of native post ids, newest first. */
int store_native_list(struct store *st, struct arena *a, const struct store_native_filter *f,
		      struct store_native_ref **out, size_t *n);
/* Every live row of the native post `id` (roots with their tags first in
 * target order, then thread items by position); STORE_NOTFOUND. */
int store_native_rows(struct store *st, struct arena *a, const char *org_id, const char *id,
		      struct store_post **out, size_t *n);
/* Cancel what is not published yet; STORE_CONFLICT (and *inflight) while a
 * target is being published or when nothing is left to cancel. */
int store_native_cancel(struct store *st, const char *org_id, const char *id, int *out_n,
			int *out_inflight);
/* Move every target from one state to another (approve: draft -> queued);
 * *out_n rows changed. */
int store_native_set_state(struct store *st, const char *org_id, const char *id,
			   const char *from, const char *to, int *out_n);
/* Edit while every target is draft or queued: publish time (0: keep), root
 * text/media per target (NULL: keep), thread items replaced when
 * replace_thread.  STORE_CONFLICT when a target has left draft/queued. */
struct store_native_edit {
	const char *org_id, *id;
	int64_t publish_at;
	size_t ntargets;
	const char *const *root_ids;      /* per target */
	const char *const *contents;      /* per target, NULL: keep */
	const char *const *medias;        /* per target, NULL: keep */
	int replace_thread;
	const struct store_post_item *const *thread; /* per target: items after the root */
	const size_t *nthread;
	int set_tags;
	const char *const *tag_names;
	size_t ntags;
};
int store_native_edit(struct store *st, struct arena *a, const struct store_native_edit *e);

/* ---- Idempotency-Key records (src/api/idempotency.c) ---- */
enum store_idem {
	IDEM_NEW,         /* recorded as running: the caller handles the request */
	IDEM_REPLAY,      /* done before with the same body: *status, *body */
	IDEM_CONFLICT,    /* same key, different body */
	IDEM_IN_PROGRESS, /* same key, still running */
};
/* Claim (org, route, key) for a request with body hash `hash`.  A record
 * older than ttl_ms is forgotten; a running one older than stale_ms is
 * taken over (its process died before finishing). */
int store_idem_claim(struct store *st, struct arena *a, const char *org_id, const char *route,
		     const char *key, const char *hash, int64_t now, int64_t ttl_ms,
		     int64_t stale_ms, enum store_idem *out, int *status, char **body);
/* Record the response (the request ended) or drop the record (it may be
 * retried: a server error or a refusal that changes nothing). */
int store_idem_finish(struct store *st, const char *org_id, const char *route, const char *key,
		      int status, const char *body);
/* Many claims (or answers) in one transaction: a batch of posts, each with
 * its own key.  out/status/body are arrays of n. */
int store_idem_claim_many(struct store *st, struct arena *a, const char *org_id,
			  const char *route, const char *const *keys, const char *const *hashes,
			  size_t n, int64_t now, int64_t ttl_ms, int64_t stale_ms,
			  enum store_idem *out, int *status, char **body);
int store_idem_finish_many(struct store *st, const char *org_id, const char *route,
			   const char *const *keys, const int *status, const char *const *bodies,
			   size_t n);
int store_idem_drop(struct store *st, const char *org_id, const char *route, const char *key);
int store_idem_expire(struct store *st, int64_t before, int *out_n);

int store_tag_list(struct store *st, struct arena *a, const char *org_id,
		   struct store_tag **out, size_t *n);
int store_tag_ensure(struct store *st, struct arena *a, const char *org_id, const char *name,
		     const char *color, char **out_id);

/* ---- delivery engine (src/engine) ----
 *
 * Every state change of a post happens in one of these functions, each a
 * single guarded statement or transaction:
 *   queued -> publishing        store_engine_claim (lease, owner)
 *   publishing -> published     store_engine_published, only by the lease owner
 *   publishing -> queued        store_engine_finish (retry later, thread delay)
 *   publishing -> failed        store_engine_finish
 *   publishing -> unconfirmed   store_engine_finish, store_engine_recover
 *   publishing(expired) -> queued | unconfirmed   store_engine_recover
 *   queued(overdue) -> failed   store_engine_sweep_overdue
 * The API moves draft <-> queued and queued/draft -> canceled (store.c).
 */
struct store_job {
	char *root_id, *org_id, *channel_id, *provider;
	int attempts, interval_days;
	int64_t publish_at, lease_until;
	int64_t due_at; /* store_engine_claim: when it was due (lag metrics) */
};

int store_engine_claim(struct store *st, struct arena *a, const char *owner, int64_t now,
		       int64_t lease_ms, int limit, struct store_job **out, size_t *n);
/* The whole thread of a root, without the organization filter. */
int store_engine_thread(struct store *st, struct arena *a, const char *root_id,
			struct store_post **out, size_t *n);
int store_engine_renew(struct store *st, const char *root_id, const char *owner,
		       int64_t lease_until);
int store_engine_attempt_begin(struct store *st, const char *item_id, int64_t now,
			       const char *request, char out_id[32]);
int store_engine_attempt_end(struct store *st, const char *attempt_id, int64_t now,
			     const char *outcome, long http_status, const char *response,
			     const char *error);
/* Move a claimed root out of publishing.  `state` is one of queued,
 * published, failed, unconfirmed; due_at applies to queued; add_attempt
 * counts a failed try.  STORE_CONFLICT when the lease is no longer ours. */
int store_engine_finish(struct store *st, const char *root_id, const char *owner,
			const char *state, const char *error, int64_t due_at, int add_attempt);
/* The common end of a publish, in one transaction: the attempt's answer,
 * the item published and, when `last`, the root published and its lease
 * released.  STORE_CONFLICT when the lease was lost (the item and attempt
 * are recorded all the same: the platform has the post). */
int store_engine_published(struct store *st, const char *root_id, const char *owner,
			   const char *item_id, const char *attempt_id, const char *release_id,
			   const char *release_url, const char *release_data, long http_status,
			   const char *response, int last, int64_t now);
/* Repeating post published: the thread starts over at next_at. */
int store_engine_repeat(struct store *st, const char *root_id, const char *owner,
			int64_t next_at);
/* Roots in publishing whose lease ended before `now` (or, with
 * any_owner_but, every lease not held by that owner). */
int store_engine_expired(struct store *st, struct arena *a, int64_t now,
			 const char *any_owner_but, struct store_job **out, size_t *n);
/* Resolve an expired lease: to queued (idempotent provider) or
 * unconfirmed.  Guarded on the old lease_until so two recoverers agree. */
int store_engine_recover(struct store *st, const char *root_id, int64_t old_lease_until,
			 const char *state, const char *error, int64_t now);
int store_engine_sweep_overdue(struct store *st, int64_t now, int64_t horizon_ms, int *out_n);
/* Earliest due_at of a queued root; STORE_NOTFOUND when none. */
int store_engine_next_due(struct store *st, int64_t *out);
/* Public feeds (rss provider): a live channel by id with no organization
 * filter, and its published root posts, newest first. */
int store_feed_channel(struct store *st, struct arena *a, const char *id,
		       struct store_channel **out);
int store_feed_posts(struct store *st, struct arena *a, const char *channel_id, int limit,
		     struct store_post **out, size_t *n);

/* Whether an attempt of this thread started and never finished (the
 * process died while the request may have been in flight). */
int store_engine_open_attempt(struct store *st, const char *root_id, int *out);
int store_engine_close_open_attempts(struct store *st, const char *root_id, const char *outcome,
				     int64_t now);

struct store_attempt {
	char *id, *post_id, *outcome, *request, *response, *error;
	char *kind; /* publish | unpublish */
	int64_t started_at, finished_at;
	int http_status;
};
/* Every publish attempt of a post group, oldest first. */
int store_post_attempts(struct store *st, struct arena *a, const char *org_id, const char *group,
			struct store_attempt **out, size_t *n);

/* metrics (store_metrics.c): live root posts per state, and queued roots
 * already due (the engine's backlog) */
struct store_count {
	char *name;
	int64_t n;
};
int store_post_state_counts(struct store *st, struct arena *a, struct store_count **out, size_t *n);
int store_post_due_count(struct store *st, int64_t now, int64_t *out);

/* ---- unpublish: deleting published posts from their platform ----
 * (store_unpublish.c; the engine's src/engine/unpublish.c runs the jobs)
 *   published | failed | unconfirmed -> deleting   store_unpublish_request
 *   deleting (due, lease free or expired) -> leased store_unpublish_claim
 *   deleting -> deleted (records kept, or soft-deleted with mode remove)
 *            -> deleting later (retry) | the state before (refused)
 *                                                    store_unpublish_finish
 * Deleting is idempotent on every platform, so an expired lease (a crash
 * mid-delete) makes the job claimable again: never lost, never stuck. */
#define UNPUB_KEEP 0   /* the record stays, state deleted */
#define UNPUB_REMOVE 1 /* the record is soft-deleted once the platform confirms */
/* *why on STORE_CONFLICT: */
#define UNPUB_BUSY 1        /* being published right now */
#define UNPUB_NOTHING 2     /* nothing of the post is on the platform */
#define UNPUB_ALREADY 3     /* already being deleted */
#define UNPUB_STATE 4       /* queued/draft repeating post: cancel it instead */
int store_unpublish_request(struct store *st, const char *org_id, const char *group, int mode,
			    int64_t now, int *why);
int store_unpublish_claim(struct store *st, struct arena *a, const char *owner, int64_t now,
			  int64_t lease_ms, int limit, struct store_job **out, size_t *n);
int store_unpublish_renew(struct store *st, const char *root_id, const char *owner,
			  int64_t lease_until);
/* Free every unpublish lease not held by `owner` (SQLite at start: one
 * process serves the file, so every other lease is a dead one). */
int store_unpublish_release(struct store *st, const char *owner);
/* The live root post of a group (Postiz DELETE by group). */
int store_group_root(struct store *st, struct arena *a, const char *org_id, const char *group,
		     char **out_id);
int store_unpublish_attempt_begin(struct store *st, const char *item_id, int64_t now,
				  const char *request, char out_id[32]);
/* One item is gone from the platform: the attempt's answer and the item's
 * state in one transaction. */
int store_unpublish_item_done(struct store *st, const char *item_id, const char *attempt_id,
			      long http_status, const char *response, int64_t now);
/* outcome: PS_DELETED (done), PS_DELETING (retry at due_at) or NULL
 * (refused: back to the state before, error says why).  STORE_CONFLICT
 * when the lease is no longer ours. */
int store_unpublish_finish(struct store *st, const char *root_id, const char *owner,
			   const char *outcome, const char *error, int64_t due_at, int add_attempt);

/* ---- media library (store_media.c) ---- */
struct store_media {
	char *id, *org_id, *name, *original_name, *mime, *sha256, *alt, *source_url;
	int64_t bytes, duration_ms, created_at;
	int width, height;
};
int store_media_create(struct store *st, const struct store_media *m);
int store_media_get(struct store *st, struct arena *a, const char *org_id, const char *id,
		    struct store_media **out);
/* By storage name; org_id NULL: any organization (serving /uploads). */
int store_media_by_name(struct store *st, struct arena *a, const char *org_id, const char *name,
			struct store_media **out);
/* Newest first; cursor is the last id of the previous page or NULL. */
int store_media_list(struct store *st, struct arena *a, const char *org_id, const char *cursor,
		     int limit, struct store_media **out, size_t *n);
/* Soft delete; STORE_CONFLICT when a draft or queued post of the org
 * references the media (by id or by its /uploads/ name). */
int store_media_delete(struct store *st, const char *org_id, const char *id, const char *name);


/* ---- analytics (store_analytics.c) ----
 * A job per published root item of a provider with metrics; the engine
 * claims due jobs with a lease (owner, lease_until), samples the platform
 * and records the counters with the job's next due time in one
 * transaction. */
struct store_analytics_job {
	char *item_id, *org_id, *channel_id;
	int samples, attempts;
	int64_t published_at, due_at, lease_until;
};
struct store_sample {
	char *item_id, *name;
	int64_t value, sampled_at;
};
/* Sampling starts at due_at (insert, or restart the schedule of an item
 * published again: a repeating post). */
int store_analytics_schedule(struct store *st, const char *item_id, const char *org_id,
			     const char *channel_id, int64_t published_at, int64_t due_at);
/* Jobs for published roots of `provider` since `since` that have none
 * (published while a crash cut the scheduling short); *out_n added. */
int store_analytics_backfill(struct store *st, const char *provider, int64_t since, int64_t now,
			     int *out_n);
int store_analytics_claim(struct store *st, struct arena *a, const char *owner, int64_t now,
			  int64_t lease_ms, int limit, struct store_analytics_job **out, size_t *n);
/* Record one sample (n counters) and move the job on: next_due 0 ends it.
 * STORE_CONFLICT when the lease is no longer ours. */
int store_analytics_record(struct store *st, const struct store_analytics_job *j,
			   const char *owner, const char *const *names, const int64_t *values,
			   size_t n, int64_t now, int64_t next_due);
/* No sample this time: retry at due_at (attempts + 1) or, with skip, give
 * this sample up and go on at due_at (attempts reset); next_due 0 ends. */
int store_analytics_defer(struct store *st, const char *item_id, const char *owner,
			  int64_t due_at, int skip, const char *error);
/* Make the job of this root due now, reopening a finished one (a refresh);
 * *out_n jobs changed. */
int store_analytics_due_now(struct store *st, const char *org_id, const char *item_id,
			    int64_t now, int *out_n);
/* Samples of one item, or of a channel (item_id NULL), of the org, in
 * [from, to), oldest first. */
int store_analytics_samples(struct store *st, struct arena *a, const char *org_id,
			    const char *channel_id, const char *item_id, int64_t from, int64_t to,
			    struct store_sample **out, size_t *n);
/* The job state of an item (for the API): 0, or STORE_NOTFOUND. */
int store_analytics_job_get(struct store *st, struct arena *a, const char *item_id,
			    struct store_analytics_job **out, char **last_error, int *done);

#endif
