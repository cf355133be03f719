/*
 * store_engine: the delivery engine's queries.  See the state table in
 * store.h: every transition is one guarded statement here, so the engine's
 * C code decides *what* should happen and this file makes sure it happens
 * only from the state the engine saw (a lease owner check, or the old
 * lease value), never twice.
 */
#include "store_int.h"
#include "../core/ids.h"
#include "../core/timeutil.h"

#include <stdio.h>
#include <string.h>

/* INDEXED BY: without statistics SQLite's planner may walk every root post
 * instead of the due-time index, making a tick cost what is stored rather
 * than what is due (bench/engine_burst.py showed it: 100k posts, seconds) */
static const char claim_sqlite[] =
	"UPDATE posts SET state = 'publishing', lease_owner = $1, lease_until = $2, updated_at = $3"
	" WHERE id IN (SELECT id FROM posts INDEXED BY posts_due WHERE state = 'queued' AND parent_id IS NULL"
	" AND deleted_at IS NULL AND due_at <= $3 ORDER BY due_at LIMIT $4)"
	" AND state = 'queued'"
	" RETURNING id, org_id, channel_id, attempts, interval_days, publish_at, due_at";

/* PostgreSQL: concurrent workers skip each other's rows instead of waiting */
static const char claim_pg[] =
	"UPDATE posts SET state = 'publishing', lease_owner = $1, lease_until = $2, updated_at = $3"
	" WHERE id IN (SELECT id FROM posts WHERE state = 'queued' AND parent_id IS NULL"
	" AND deleted_at IS NULL AND due_at <= $3 ORDER BY due_at LIMIT $4 FOR UPDATE SKIP LOCKED)"
	" AND state = 'queued'"
	" RETURNING id, org_id, channel_id, attempts, interval_days, publish_at, due_at";

static void read_job(struct store *st, struct arena *a, struct db_stmt *s, void *elem)
{
	struct store_job *j = elem;
	j->root_id = ct(st, a, s, 0);
	j->org_id = ct(st, a, s, 1);
	j->channel_id = ct(st, a, s, 2);
	j->attempts = (int)ci(st, s, 3);
	j->interval_days = (int)ci(st, s, 4);
	j->publish_at = ci(st, s, 5);
}

static void read_job_claimed(struct store *st, struct arena *a, struct db_stmt *s, void *elem)
{
	struct store_job *j = elem;
	read_job(st, a, s, elem);
	j->due_at = ci(st, s, 6);
}

static void read_job_leased(struct store *st, struct arena *a, struct db_stmt *s, void *elem)
{
	struct store_job *j = elem;
	read_job(st, a, s, elem);
	j->lease_until = ci(st, s, 6);
	j->provider = ct(st, a, s, 7);
}

static void read_attempt(struct store *st, struct arena *a, struct db_stmt *s, void *elem)
{
	struct store_attempt *t = elem;
	t->id = ct(st, a, s, 0);
	t->post_id = ct(st, a, s, 1);
	t->started_at = ci(st, s, 2);
	t->finished_at = ci(st, s, 3);
	t->outcome = ct(st, a, s, 4);
	t->http_status = (int)ci(st, s, 5);
	t->request = ct(st, a, s, 6);
	t->response = ct(st, a, s, 7);
	t->error = ct(st, a, s, 8);
	t->kind = ct(st, a, s, 9);
}

int store_engine_claim(struct store *st, struct arena *a, const char *owner, int64_t now,
		       int64_t lease_ms, int limit, struct store_job **out, size_t *n)
{
	struct db_stmt *s = prep(st, DRV(st)->dialect == DB_PG ? claim_pg : claim_sqlite);
	if (!s)
		return -1;
	bt(st, s, 1, owner);
	bi(st, s, 2, now + lease_ms);
	bi(st, s, 3, now);
	bi(st, s, 4, limit);
	return collect(st, a, s, sizeof(**out), read_job_claimed, (void **)out, n);
}

int store_engine_thread(struct store *st, struct arena *a, const char *root_id,
			struct store_post **out, size_t *n)
{
	struct db_stmt *s = prep(st, "SELECT " POST_COLS POST_FROM
				     " WHERE p.grp = (SELECT grp FROM posts WHERE id = $1)"
				     " AND (p.deleted_at IS NULL OR p.id = $1) ORDER BY p.position");
	if (!s)
		return -1;
	bt(st, s, 1, root_id);
	struct store_post *v;
	size_t cnt;
	if (collect(st, a, s, sizeof(*v), read_post_cb, (void **)&v, &cnt))
		return -1;
	if (!cnt)
		return STORE_NOTFOUND;
	*out = v;
	*n = cnt;
	return 0;
}

int store_engine_renew(struct store *st, const char *root_id, const char *owner,
		       int64_t lease_until)
{
	struct db_stmt *s = prep(st, "UPDATE posts SET lease_until = $3 WHERE id = $1"
				     " AND state = 'publishing' AND lease_owner = $2");
	if (!s)
		return -1;
	bt(st, s, 1, root_id);
	bt(st, s, 2, owner);
	bi(st, s, 3, lease_until);
	int n = 0;
	if (run(st, s, &n))
		return -1;
	return n ? 0 : STORE_CONFLICT;
}

int store_engine_attempt_begin(struct store *st, const char *item_id, int64_t now,
			       const char *request, char out_id[32])
{
	char id[ULID_LEN + 1];
	ulid_new(id);
	struct db_stmt *s = prep(st, "INSERT INTO attempts(id, post_id, started_at, outcome, request)"
				     " VALUES ($1, $2, $3, 'started', $4)");
	if (!s)
		return -1;
	bt(st, s, 1, id);
	bt(st, s, 2, item_id);
	bi(st, s, 3, now);
	bt(st, s, 4, request);
	if (run(st, s, NULL))
		return -1;
	snprintf(out_id, 32, "%s", id);
	return 0;
}

int store_engine_attempt_end(struct store *st, const char *attempt_id, int64_t now,
			     const char *outcome, long http_status, const char *response,
			     const char *error)
{
	struct db_stmt *s = prep(st, "UPDATE attempts SET finished_at = $2, outcome = $3,"
				     " http_status = $4, response = $5, error = $6 WHERE id = $1");
	if (!s)
		return -1;
	bt(st, s, 1, attempt_id);
	bi(st, s, 2, now);
	bt(st, s, 3, outcome);
	if (http_status)
		bi(st, s, 4, http_status);
	else
		DRV(st)->bind_null(s, 4);
	bt(st, s, 5, response);
	bt(st, s, 6, error);
	return run(st, s, NULL);
}

int store_engine_finish(struct store *st, const char *root_id, const char *owner,
			const char *state, const char *error, int64_t due_at, int add_attempt)
{
	int64_t now = now_ms();
	if (begin(st))
		return -1;
	struct db_stmt *s = prep(st, "UPDATE posts SET state = $3, error = $4, due_at = $5,"
				     " attempts = attempts + $6, lease_owner = NULL, lease_until = NULL,"
				     " updated_at = $7"
				     " WHERE id = $1 AND state = 'publishing' AND lease_owner = $2");
	if (!s)
		goto fail;
	bt(st, s, 1, root_id);
	bt(st, s, 2, owner);
	bt(st, s, 3, state);
	bt(st, s, 4, error);
	bi(st, s, 5, due_at);
	bi(st, s, 6, add_attempt ? 1 : 0);
	bi(st, s, 7, now);
	int n = 0;
	if (run(st, s, &n))
		goto fail;
	if (!n) {
		rollback(st);
		return STORE_CONFLICT;
	}
	/* a thread that ends failed or unconfirmed: the unpublished rest says why */
	if (strcmp(state, PS_QUEUED) && strcmp(state, PS_PUBLISHED)) {
		s = prep(st, "UPDATE posts SET state = $2, error = $3, updated_at = $4"
			     " WHERE parent_id IS NOT NULL AND published_at IS NULL AND deleted_at IS NULL"
			     " AND grp = (SELECT grp FROM posts WHERE id = $1)");
		if (!s)
			goto fail;
		bt(st, s, 1, root_id);
		bt(st, s, 2, state);
		bt(st, s, 3, error);
		bi(st, s, 4, now);
		if (run(st, s, NULL))
			goto fail;
	}
	return commit(st);
fail:
	rollback(st);
	return -1;
}

int store_engine_published(struct store *st, const char *root_id, const char *owner,
			   const char *item_id, const char *attempt_id, const char *release_id,
			   const char *release_url, const char *release_data, long http_status,
			   const char *response, int last, int64_t now)
{
	int lost = 0;
	if (begin(st))
		return -1;
	if (attempt_id && attempt_id[0] &&
	    store_engine_attempt_end(st, attempt_id, now, "ok", http_status, response, NULL))
		goto fail;
	struct db_stmt *s = prep(st, "UPDATE posts SET published_at = $4, release_id = $2,"
				     " release_url = $3, release_data = $5, updated_at = $4, error = NULL,"
				     " state = CASE WHEN parent_id IS NULL THEN state ELSE 'published' END"
				     " WHERE id = $1");
	if (!s)
		goto fail;
	bt(st, s, 1, item_id);
	bt(st, s, 2, release_id);
	bt(st, s, 3, release_url);
	bi(st, s, 4, now);
	bt(st, s, 5, release_data);
	if (run(st, s, NULL))
		goto fail;
	if (last) {
		s = prep(st, "UPDATE posts SET state = 'published', error = NULL, attempts = 0,"
			     " lease_owner = NULL, lease_until = NULL, updated_at = $3"
			     " WHERE id = $1 AND state = 'publishing' AND lease_owner = $2");
		if (!s)
			goto fail;
		bt(st, s, 1, root_id);
		bt(st, s, 2, owner);
		bi(st, s, 3, now);
		int n = 0;
		if (run(st, s, &n))
			goto fail;
		lost = n == 0;
	} else {
		/* the retry budget is per item: the next one starts afresh */
		s = prep(st, "UPDATE posts SET attempts = 0 WHERE id = $1");
		if (!s)
			goto fail;
		bt(st, s, 1, root_id);
		if (run(st, s, NULL))
			goto fail;
	}
	if (commit(st))
		goto fail;
	return lost ? STORE_CONFLICT : 0;
fail:
	rollback(st);
	return -1;
}

int store_engine_repeat(struct store *st, const char *root_id, const char *owner, int64_t next_at)
{
	int64_t now = now_ms();
	if (begin(st))
		return -1;
	struct db_stmt *s = prep(st, "UPDATE posts SET state = 'queued', publish_at = $3, due_at = $3,"
				     " published_at = NULL, attempts = 0, error = NULL,"
				     " lease_owner = NULL, lease_until = NULL, updated_at = $4"
				     " WHERE id = $1 AND state = 'publishing' AND lease_owner = $2");
	if (!s)
		goto fail;
	bt(st, s, 1, root_id);
	bt(st, s, 2, owner);
	bi(st, s, 3, next_at);
	bi(st, s, 4, now);
	int n = 0;
	if (run(st, s, &n))
		goto fail;
	if (!n) {
		rollback(st);
		return STORE_CONFLICT;
	}
	s = prep(st, "UPDATE posts SET state = 'queued', publish_at = $2, due_at = $2,"
		     " published_at = NULL, updated_at = $3"
		     " WHERE parent_id IS NOT NULL AND deleted_at IS NULL"
		     " AND grp = (SELECT grp FROM posts WHERE id = $1)");
	if (!s)
		goto fail;
	bt(st, s, 1, root_id);
	bi(st, s, 2, next_at);
	bi(st, s, 3, now);
	if (run(st, s, NULL))
		goto fail;
	return commit(st);
fail:
	rollback(st);
	return -1;
}

int store_engine_expired(struct store *st, struct arena *a, int64_t now,
			 const char *any_owner_but, struct store_job **out, size_t *n)
{
	struct db_stmt *s = prep(st, "SELECT p.id, p.org_id, p.channel_id, p.attempts, p.interval_days,"
				     " p.publish_at, p.lease_until, c.provider"
				     " FROM posts p JOIN channels c ON c.id = p.channel_id"
				     " WHERE p.state = 'publishing' AND p.parent_id IS NULL"
				     " AND (p.lease_until < $1 OR (CAST($2 AS TEXT) IS NOT NULL AND p.lease_owner <> $2))"
				     " ORDER BY p.lease_until LIMIT 1000");
	if (!s)
		return -1;
	bi(st, s, 1, now);
	bt(st, s, 2, any_owner_but);
	return collect(st, a, s, sizeof(**out), read_job_leased, (void **)out, n);
}

int store_engine_recover(struct store *st, const char *root_id, int64_t old_lease_until,
			 const char *state, const char *error, int64_t now)
{
	struct db_stmt *s = prep(st, "UPDATE posts SET state = $3, error = $4, due_at = $5,"
				     " lease_owner = NULL, lease_until = NULL, updated_at = $5"
				     " WHERE id = $1 AND state = 'publishing' AND lease_until = $2");
	if (!s)
		return -1;
	bt(st, s, 1, root_id);
	bi(st, s, 2, old_lease_until);
	bt(st, s, 3, state);
	bt(st, s, 4, error);
	bi(st, s, 5, now);
	int n = 0;
	if (run(st, s, &n))
		return -1;
	return n ? 0 : STORE_CONFLICT;
}

int store_engine_sweep_overdue(struct store *st, int64_t now, int64_t horizon_ms, int *out_n)
{
	/* age is measured from due_at: a reply whose delay ended a moment ago
	 * is not overdue because its thread started long ago */
	char why[200];
	snprintf(why, sizeof(why),
		 "not published: it was due more than %lld seconds ago (herald was not running); "
		 "reschedule it to publish",
		 (long long)(horizon_ms / 1000));
	if (begin(st))
		return -1;
	struct db_stmt *s = prep(st, "UPDATE posts SET state = 'failed', error = $3, updated_at = $1"
				     " WHERE parent_id IS NOT NULL AND published_at IS NULL AND deleted_at IS NULL"
				     " AND grp IN (SELECT grp FROM posts WHERE state = 'queued'"
				     " AND parent_id IS NULL AND deleted_at IS NULL AND due_at < $2)");
	if (!s)
		goto fail;
	bi(st, s, 1, now);
	bi(st, s, 2, now - horizon_ms);
	bt(st, s, 3, why);
	if (run(st, s, NULL))
		goto fail;
	s = prep(st, "UPDATE posts SET state = 'failed', error = $3, updated_at = $1"
		     " WHERE state = 'queued' AND parent_id IS NULL AND deleted_at IS NULL AND due_at < $2");
	if (!s)
		goto fail;
	bi(st, s, 1, now);
	bi(st, s, 2, now - horizon_ms);
	bt(st, s, 3, why);
	if (run(st, s, out_n))
		goto fail;
	return commit(st);
fail:
	rollback(st);
	return -1;
}

int store_engine_next_due(struct store *st, int64_t *out)
{
	struct db_stmt *s = prep(st, "SELECT MIN(due_at) FROM posts WHERE state = 'queued'"
				     " AND parent_id IS NULL AND deleted_at IS NULL");
	if (!s)
		return -1;
	int rc = step(st, s);
	int found = rc == DB_ROW && !DRV(st)->col_null(s, 0);
	if (found)
		*out = ci(st, s, 0);
	reset(st, s);
	if (rc < 0)
		return -1;
	return found ? 0 : STORE_NOTFOUND;
}

int store_engine_open_attempt(struct store *st, const char *root_id, int *out)
{
	struct db_stmt *s = prep(st, "SELECT COUNT(*) FROM attempts a JOIN posts p ON p.id = a.post_id"
				     " WHERE p.grp = (SELECT grp FROM posts WHERE id = $1)"
				     " AND a.outcome = 'started'");
	if (!s)
		return -1;
	bt(st, s, 1, root_id);
	int rc = step(st, s);
	if (rc == DB_ROW)
		*out = ci(st, s, 0) > 0;
	reset(st, s);
	return rc == DB_ROW ? 0 : -1;
}

int store_engine_close_open_attempts(struct store *st, const char *root_id, const char *outcome,
				     int64_t now)
{
	struct db_stmt *s = prep(st, "UPDATE attempts SET outcome = $2, finished_at = $3,"
				     " error = 'herald stopped before the answer arrived'"
				     " WHERE outcome = 'started' AND post_id IN"
				     " (SELECT id FROM posts WHERE grp = (SELECT grp FROM posts WHERE id = $1))");
	if (!s)
		return -1;
	bt(st, s, 1, root_id);
	bt(st, s, 2, outcome);
	bi(st, s, 3, now);
	return run(st, s, NULL);
}

int store_post_attempts(struct store *st, struct arena *a, const char *org_id, const char *group,
			struct store_attempt **out, size_t *n)
{
	struct db_stmt *s = prep(st, "SELECT a.id, a.post_id, a.started_at, a.finished_at, a.outcome,"
				     " a.http_status, a.request, a.response, a.error, a.kind"
				     " FROM attempts a JOIN posts p ON p.id = a.post_id"
				     " WHERE p.org_id = $1 AND p.grp = $2 ORDER BY a.started_at, a.id");
	if (!s)
		return -1;
	bt(st, s, 1, org_id);
	bt(st, s, 2, group);
	return collect(st, a, s, sizeof(**out), read_attempt, (void **)out, n);
}

int store_feed_channel(struct store *st, struct arena *a, const char *id, struct store_channel **out)
{
	struct db_stmt *s = prep(st, "SELECT org_id FROM channels WHERE id = $1 AND deleted_at IS NULL");
	if (!s)
		return -1;
	bt(st, s, 1, id);
	int rc = step(st, s);
	char *org = rc == DB_ROW ? ct(st, a, s, 0) : NULL;
	reset(st, s);
	if (rc < 0)
		return -1;
	if (!org)
		return STORE_NOTFOUND;
	return store_channel_get(st, a, org, id, out);
}

int store_feed_posts(struct store *st, struct arena *a, const char *channel_id, int limit,
		     struct store_post **out, size_t *n)
{
	struct db_stmt *s = prep(st, "SELECT " POST_COLS POST_FROM
				     " WHERE p.channel_id = $1 AND p.parent_id IS NULL"
				     " AND p.deleted_at IS NULL AND p.state = 'published'"
				     " ORDER BY p.published_at DESC, p.id DESC LIMIT $2");
	if (!s)
		return -1;
	bt(st, s, 1, channel_id);
	bi(st, s, 2, limit);
	return collect(st, a, s, sizeof(**out), read_post_cb, (void **)out, n);
}
