/*
 * store_analytics: the queries of analytics (issue #4): the sampling jobs
 * the engine runs (analytics_jobs) and the samples they record
 * (metric_samples).  See store.h for the interface.
 *
 * A job is one row per published root item.  due_at is when the next
 * sample is due; a job is claimed like the engine's other jobs with
 * lease_owner/lease_until (FOR UPDATE SKIP LOCKED on PostgreSQL), so two
 * herald processes on one database never sample the same item twice, and
 * a job whose worker died is claimable again once its lease expires.
 * Samples and the job's next due time are written in one transaction by
 * the lease owner only.
 */
#include "store_int.h"
#include "../core/ids.h"

#include <stdio.h>
#include <string.h>

int store_analytics_schedule(struct store *st, const char *item_id, const char *org_id,
			     const char *channel_id, int64_t published_at, int64_t due_at)
{
	struct db_stmt *s = prep(st, "INSERT INTO analytics_jobs(item_id, org_id, channel_id,"
				     " published_at, due_at) VALUES ($1, $2, $3, $4, $5)"
				     " ON CONFLICT (item_id) DO UPDATE SET published_at = $4,"
				     " due_at = $5, samples = 0, attempts = 0, done = 0,"
				     " lease_owner = NULL, lease_until = NULL, last_error = NULL");
	if (!s)
		return -1;
	bt(st, s, 1, item_id);
	bt(st, s, 2, org_id);
	bt(st, s, 3, channel_id);
	bi(st, s, 4, published_at);
	bi(st, s, 5, due_at);
	return run(st, s, NULL);
}

int store_analytics_backfill(struct store *st, const char *provider, int64_t since, int64_t now,
			     int *out_n)
{
	struct db_stmt *s = prep(st, "INSERT INTO analytics_jobs(item_id, org_id, channel_id,"
				     " published_at, due_at)"
				     " SELECT p.id, p.org_id, p.channel_id, p.published_at, $3"
				     " FROM posts p JOIN channels c ON c.id = p.channel_id"
				     " WHERE c.provider = $1 AND p.parent_id IS NULL"
				     " AND p.deleted_at IS NULL AND p.release_id IS NOT NULL"
				     " AND p.published_at IS NOT NULL AND p.published_at >= $2"
				     " AND p.state = 'published' AND NOT EXISTS"
				     " (SELECT 1 FROM analytics_jobs j WHERE j.item_id = p.id)");
	if (!s)
		return -1;
	bt(st, s, 1, provider);
	bi(st, s, 2, since);
	bi(st, s, 3, now);
	return run(st, s, out_n);
}

static void read_job(struct store *st, struct arena *a, struct db_stmt *s, void *elem)
{
	struct store_analytics_job *j = elem;
	j->item_id = ct(st, a, s, 0);
	j->org_id = ct(st, a, s, 1);
	j->channel_id = ct(st, a, s, 2);
	j->published_at = ci(st, s, 3);
	j->samples = (int)ci(st, s, 4);
	j->attempts = (int)ci(st, s, 5);
	j->due_at = ci(st, s, 6);
	j->lease_until = ci(st, s, 7);
}

/* statements are cached by their text's address: two static texts */
#define CLAIM_SQL(lock)                                                                          \
	"UPDATE analytics_jobs SET lease_owner = $1, lease_until = $2"                            \
	" WHERE item_id IN (SELECT item_id FROM analytics_jobs WHERE done = 0 AND due_at <= $3"   \
	" AND (lease_until IS NULL OR lease_until < $3) ORDER BY due_at LIMIT $4" lock ")"      \
	" AND done = 0 AND (lease_until IS NULL OR lease_until < $3)"                             \
	" RETURNING item_id, org_id, channel_id, published_at, samples, attempts, due_at,"        \
	" lease_until"
static const char claim_sqlite[] = CLAIM_SQL("");
static const char claim_pg[] = CLAIM_SQL(" FOR UPDATE SKIP LOCKED");

int store_analytics_claim(struct store *st, struct arena *a, const char *owner, int64_t now,
			  int64_t lease_ms, int limit, struct store_analytics_job **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	/* a read first: a tick almost never finds anything due, and a read
	 * takes no write lock (SQLite serializes writers) */
	struct db_stmt *s = prep(st, "SELECT 1 FROM analytics_jobs WHERE done = 0 AND due_at <= $1"
				     " AND (lease_until IS NULL OR lease_until < $1) LIMIT 1");
	if (!s)
		return -1;
	bi(st, s, 1, now);
	int rc = step(st, s);
	reset(st, s);
	if (rc < 0)
		return -1;
	if (rc != DB_ROW)
		return 0;
	s = prep(st, DRV(st)->dialect == DB_PG ? claim_pg : claim_sqlite);
	if (!s)
		return -1;
	bt(st, s, 1, owner);
	bi(st, s, 2, now + lease_ms);
	bi(st, s, 3, now);
	bi(st, s, 4, limit);
	return collect(st, a, s, sizeof(**out), read_job, (void **)out, n);
}

int store_analytics_record(struct store *st, const struct store_analytics_job *j,
			   const char *owner, const char *const *names, const int64_t *values,
			   size_t n, int64_t now, int64_t next_due)
{
	if (begin(st))
		return -1;
	struct db_stmt *s = prep(st, "UPDATE analytics_jobs SET samples = samples + 1, attempts = 0,"
				     " due_at = $3, done = $4, lease_owner = NULL, lease_until = NULL,"
				     " last_error = NULL, last_sampled_at = $5"
				     " WHERE item_id = $1 AND lease_owner = $2");
	if (!s)
		goto fail;
	bt(st, s, 1, j->item_id);
	bt(st, s, 2, owner);
	bi(st, s, 3, next_due ? next_due : now);
	bi(st, s, 4, next_due ? 0 : 1);
	bi(st, s, 5, now);
	int changed = 0;
	if (run(st, s, &changed))
		goto fail;
	if (!changed) {
		rollback(st);
		return STORE_CONFLICT;
	}
	for (size_t i = 0; i < n; i++) {
		char id[ULID_LEN + 1];
		ulid_new(id);
		s = prep(st, "INSERT INTO metric_samples(id, org_id, item_id, channel_id, name, value,"
			     " sampled_at) VALUES ($1, $2, $3, $4, $5, $6, $7)");
		if (!s)
			goto fail;
		bt(st, s, 1, id);
		bt(st, s, 2, j->org_id);
		bt(st, s, 3, j->item_id);
		bt(st, s, 4, j->channel_id);
		bt(st, s, 5, names[i]);
		bi(st, s, 6, values[i]);
		bi(st, s, 7, now);
		if (run(st, s, NULL))
			goto fail;
	}
	return commit(st);
fail:
	rollback(st);
	return -1;
}

int store_analytics_defer(struct store *st, const char *item_id, const char *owner,
			  int64_t due_at, int skip, const char *error)
{
	struct db_stmt *s;
	if (skip)
		s = prep(st, "UPDATE analytics_jobs SET attempts = 0, due_at = $3, done = $5,"
			     " lease_owner = NULL, lease_until = NULL, last_error = $4"
			     " WHERE item_id = $1 AND lease_owner = $2");
	else
		s = prep(st, "UPDATE analytics_jobs SET attempts = attempts + 1, due_at = $3,"
			     " lease_owner = NULL, lease_until = NULL, last_error = $4"
			     " WHERE item_id = $1 AND lease_owner = $2");
	if (!s)
		return -1;
	bt(st, s, 1, item_id);
	bt(st, s, 2, owner);
	bi(st, s, 3, due_at);
	bt(st, s, 4, error);
	if (skip)
		bi(st, s, 5, due_at ? 0 : 1);
	int n = 0;
	if (run(st, s, &n))
		return -1;
	return n ? 0 : STORE_CONFLICT;
}

int store_analytics_due_now(struct store *st, const char *org_id, const char *item_id,
			    int64_t now, int *out_n)
{
	/* a finished schedule is reopened for one sample: after it the
	 * schedule is over again */
	struct db_stmt *s = prep(st, "UPDATE analytics_jobs SET due_at = $3, attempts = 0, done = 0"
				     " WHERE item_id = $2 AND org_id = $1"
				     " AND (lease_until IS NULL OR lease_until < $3)");
	if (!s)
		return -1;
	bt(st, s, 1, org_id);
	bt(st, s, 2, item_id);
	bi(st, s, 3, now);
	return run(st, s, out_n);
}

static void read_sample(struct store *st, struct arena *a, struct db_stmt *s, void *elem)
{
	struct store_sample *x = elem;
	x->item_id = ct(st, a, s, 0);
	x->name = ct(st, a, s, 1);
	x->value = ci(st, s, 2);
	x->sampled_at = ci(st, s, 3);
}

int store_analytics_samples(struct store *st, struct arena *a, const char *org_id,
			    const char *channel_id, const char *item_id, int64_t from, int64_t to,
			    struct store_sample **out, size_t *n)
{
	/* bounded: a 30-day schedule makes ~35 samples of 4 counters per post */
	struct db_stmt *s = prep(st, item_id
		? "SELECT item_id, name, value, sampled_at FROM metric_samples WHERE org_id = $1"
		  " AND item_id = $2 AND sampled_at >= $3 AND sampled_at < $4"
		  " ORDER BY sampled_at, name LIMIT 200000"
		: "SELECT item_id, name, value, sampled_at FROM metric_samples WHERE org_id = $1"
		  " AND channel_id = $2 AND sampled_at >= $3 AND sampled_at < $4"
		  " ORDER BY sampled_at, item_id, name LIMIT 200000");
	if (!s)
		return -1;
	bt(st, s, 1, org_id);
	bt(st, s, 2, item_id ? item_id : channel_id);
	bi(st, s, 3, from);
	bi(st, s, 4, to);
	return collect(st, a, s, sizeof(**out), read_sample, (void **)out, n);
}

int store_analytics_job_get(struct store *st, struct arena *a, const char *item_id,
			    struct store_analytics_job **out, char **last_error, int *done)
{
	struct db_stmt *s = prep(st, "SELECT item_id, org_id, channel_id, published_at, samples,"
				     " attempts, due_at, lease_until, last_error, done"
				     " FROM analytics_jobs WHERE item_id = $1");
	if (!s)
		return -1;
	bt(st, s, 1, item_id);
	int rc = step(st, s);
	if (rc == DB_ROW) {
		struct store_analytics_job *j = arena_alloc(a, sizeof(*j));
		read_job(st, a, s, j);
		*last_error = ct(st, a, s, 8);
		*done = (int)ci(st, s, 9);
		*out = j;
	}
	reset(st, s);
	if (rc < 0)
		return -1;
	return rc == DB_ROW ? 0 : STORE_NOTFOUND;
}
