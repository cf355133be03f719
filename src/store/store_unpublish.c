/*
 * store_unpublish: the queries of unpublish jobs (deleting a published post
 * from its platform).  The state table is in store.h.
 *
 * A job is the root row itself in state 'deleting': due_at says when to
 * (re)try, lease_owner/lease_until say who runs it, attempts counts failed
 * tries, unpublish_mode says whether the record stays (keep) or goes
 * (remove) at the end, and state_before_unpublish is restored when the
 * platform refuses.  Items that are already gone are state 'deleted', so a
 * job that runs again (after a retry or a crash) skips them.
 *
 * Unlike publishing there is no 'unconfirmed': a delete that may or may not
 * have landed is simply sent again, because every platform's delete is
 * idempotent ("already gone" counts as done), so an expired lease only
 * makes the job claimable again.
 */
#include "store_int.h"
#include "../core/ids.h"

#include <stdio.h>
#include <string.h>

static void read_job(struct store *st, struct arena *a, struct db_stmt *s, void *elem)
{
	struct store_job *j = elem;
	j->root_id = ct(st, a, s, 0);
	j->org_id = ct(st, a, s, 1);
	j->channel_id = ct(st, a, s, 2);
	j->attempts = (int)ci(st, s, 3);
	j->interval_days = (int)ci(st, s, 4);
	j->publish_at = ci(st, s, 5);
	j->lease_until = ci(st, s, 6);
}

int store_unpublish_request(struct store *st, const char *org_id, const char *group, int mode,
			    int64_t now, int *why)
{
	*why = 0;
	if (begin(st))
		return -1;
	/* PostgreSQL: lock the group's rows so that a claim or another request
	 * waits for this decision (SQLite writers are serialized already) */
	struct db_stmt *s = prep(st, DRV(st)->dialect == DB_PG
		? "SELECT p.id, p.state, (SELECT COUNT(*) FROM posts i WHERE i.grp = p.grp"
		  " AND i.deleted_at IS NULL AND i.published_at IS NOT NULL AND i.release_id IS NOT NULL"
		  " AND i.state <> 'deleted') FROM posts p WHERE p.org_id = $1 AND p.grp = $2"
		  " AND p.parent_id IS NULL AND p.deleted_at IS NULL FOR UPDATE"
		: "SELECT p.id, p.state, (SELECT COUNT(*) FROM posts i WHERE i.grp = p.grp"
		  " AND i.deleted_at IS NULL AND i.published_at IS NOT NULL AND i.release_id IS NOT NULL"
		  " AND i.state <> 'deleted') FROM posts p WHERE p.org_id = $1 AND p.grp = $2"
		  " AND p.parent_id IS NULL AND p.deleted_at IS NULL");
	if (!s)
		goto fail;
	bt(st, s, 1, org_id);
	bt(st, s, 2, group);
	int rc = step(st, s);
	if (rc != DB_ROW) {
		reset(st, s);
		if (rc < 0)
			goto fail;
		rollback(st);
		return STORE_NOTFOUND;
	}
	char root[64], state[32];
	snprintf(root, sizeof(root), "%s", DRV(st)->col_text(s, 0));
	snprintf(state, sizeof(state), "%s", DRV(st)->col_text(s, 1));
	int64_t live = ci(st, s, 2);
	reset(st, s);
	if (!strcmp(state, PS_PUBLISHING))
		*why = UNPUB_BUSY;
	else if (!strcmp(state, PS_DELETING))
		*why = UNPUB_ALREADY;
	else if (strcmp(state, PS_PUBLISHED) && strcmp(state, PS_FAILED) &&
		 strcmp(state, PS_UNCONFIRMED))
		*why = UNPUB_NOTHING;
	else if (!live)
		*why = UNPUB_NOTHING;
	if (*why) {
		rollback(st);
		return STORE_CONFLICT;
	}
	s = prep(st, "UPDATE posts SET state_before_unpublish = state, state = 'deleting',"
		     " unpublish_mode = $2, due_at = $3, attempts = 0, lease_owner = NULL,"
		     " lease_until = NULL, updated_at = $3 WHERE id = $1 AND state = $4");
	if (!s)
		goto fail;
	bt(st, s, 1, root);
	bt(st, s, 2, mode == UNPUB_REMOVE ? "remove" : "keep");
	bi(st, s, 3, now);
	bt(st, s, 4, state);
	int n = 0;
	if (run(st, s, &n))
		goto fail;
	if (!n) {
		rollback(st);
		*why = UNPUB_BUSY;
		return STORE_CONFLICT;
	}
	return commit(st);
fail:
	rollback(st);
	return -1;
}

/* statements are cached by their text's address: two static texts */
#define CLAIM_SQL(lock)                                                                        \
	"UPDATE posts SET lease_owner = $1, lease_until = $2, updated_at = $3"                  \
	" WHERE id IN (SELECT id FROM posts WHERE state = 'deleting' AND parent_id IS NULL"    \
	" AND due_at <= $3 AND (lease_until IS NULL OR lease_until < $3) ORDER BY due_at"      \
	" LIMIT $4" lock ") AND state = 'deleting' AND (lease_until IS NULL OR lease_until < $3)" \
	" RETURNING id, org_id, channel_id, attempts, interval_days, publish_at, lease_until"
static const char claim_sqlite[] = CLAIM_SQL("");
static const char claim_pg[] = CLAIM_SQL(" FOR UPDATE SKIP LOCKED");

int store_unpublish_claim(struct store *st, struct arena *a, const char *owner, int64_t now,
			  int64_t lease_ms, int limit, struct store_job **out, size_t *n)
{
	/* a read first: ticks find nothing almost always, and a read takes no
	 * write lock (SQLite serializes writers) */
	struct db_stmt *s = prep(st, "SELECT 1 FROM posts WHERE state = 'deleting'"
				     " AND parent_id IS NULL AND due_at <= $1"
				     " AND (lease_until IS NULL OR lease_until < $1) LIMIT 1");
	if (!s)
		return -1;
	bi(st, s, 1, now);
	int rc = step(st, s);
	reset(st, s);
	if (rc < 0)
		return -1;
	*out = NULL;
	*n = 0;
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

int store_unpublish_attempt_begin(struct store *st, const char *item_id, int64_t now,
				  const char *request, char out_id[32])
{
	char id[ULID_LEN + 1];
	ulid_new(id);
	struct db_stmt *s = prep(st, "INSERT INTO attempts(id, post_id, started_at, outcome, request, kind)"
				     " VALUES ($1, $2, $3, 'started', $4, 'unpublish')");
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

int store_unpublish_item_done(struct store *st, const char *item_id, const char *attempt_id,
			      long http_status, const char *response, int64_t now)
{
	if (begin(st))
		return -1;
	if (attempt_id && attempt_id[0] &&
	    store_engine_attempt_end(st, attempt_id, now, "deleted", http_status, response, NULL))
		goto fail;
	/* the root row is the job: store_unpublish_finish moves it */
	struct db_stmt *s = prep(st, "UPDATE posts SET state = 'deleted', updated_at = $2"
				     " WHERE id = $1 AND parent_id IS NOT NULL");
	if (!s)
		goto fail;
	bt(st, s, 1, item_id);
	bi(st, s, 2, now);
	if (run(st, s, NULL))
		goto fail;
	return commit(st);
fail:
	rollback(st);
	return -1;
}

int store_unpublish_finish(struct store *st, const char *root_id, const char *owner,
			   const char *outcome, const char *error, int64_t due_at, int add_attempt)
{
	int64_t now = due_at;
	struct db_stmt *s;
	if (begin(st))
		return -1;
	if (outcome && !strcmp(outcome, PS_DELETED)) {
		s = prep(st, "UPDATE posts SET state = 'deleted', error = NULL, lease_owner = NULL,"
			     " lease_until = NULL, updated_at = $3,"
			     " deleted_at = CASE WHEN unpublish_mode = 'remove' THEN $3 ELSE deleted_at END"
			     " WHERE id = $1 AND state = 'deleting' AND lease_owner = $2");
	} else if (outcome) {
		s = prep(st, "UPDATE posts SET error = $4, due_at = $3, attempts = attempts + $5,"
			     " lease_owner = NULL, lease_until = NULL, updated_at = $3"
			     " WHERE id = $1 AND state = 'deleting' AND lease_owner = $2");
	} else {
		s = prep(st, "UPDATE posts SET state = COALESCE(state_before_unpublish, 'published'),"
			     " error = $4, attempts = 0, unpublish_mode = NULL, lease_owner = NULL,"
			     " lease_until = NULL, due_at = $3, updated_at = $3"
			     " WHERE id = $1 AND state = 'deleting' AND lease_owner = $2");
	}
	if (!s)
		goto fail;
	bt(st, s, 1, root_id);
	bt(st, s, 2, owner);
	bi(st, s, 3, now);
	if (!outcome || strcmp(outcome, PS_DELETED))
		bt(st, s, 4, error);
	if (outcome && strcmp(outcome, PS_DELETED))
		bi(st, s, 5, add_attempt ? 1 : 0);
	int n = 0;
	if (run(st, s, &n))
		goto fail;
	if (!n) {
		rollback(st);
		return STORE_CONFLICT;
	}
	if (outcome && !strcmp(outcome, PS_DELETED)) {
		/* the rest of the thread follows its root (removed with it, or kept) */
		s = prep(st, "UPDATE posts SET state = 'deleted', updated_at = $2,"
			     " deleted_at = (SELECT deleted_at FROM posts WHERE id = $1)"
			     " WHERE parent_id IS NOT NULL AND deleted_at IS NULL"
			     " AND grp = (SELECT grp FROM posts WHERE id = $1)");
		if (!s)
			goto fail;
		bt(st, s, 1, root_id);
		bi(st, s, 2, now);
		if (run(st, s, NULL))
			goto fail;
	}
	return commit(st);
fail:
	rollback(st);
	return -1;
}

int store_unpublish_renew(struct store *st, const char *root_id, const char *owner,
			  int64_t lease_until)
{
	struct db_stmt *s = prep(st, "UPDATE posts SET lease_until = $3 WHERE id = $1"
				     " AND state = 'deleting' AND lease_owner = $2");
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

int store_unpublish_release(struct store *st, const char *owner)
{
	struct db_stmt *s = prep(st, "UPDATE posts SET lease_owner = NULL, lease_until = NULL"
				     " WHERE state = 'deleting' AND parent_id IS NULL"
				     " AND lease_owner IS NOT NULL AND lease_owner <> $1");
	if (!s)
		return -1;
	bt(st, s, 1, owner);
	return run(st, s, NULL);
}

int store_group_root(struct store *st, struct arena *a, const char *org_id, const char *group,
		     char **out_id)
{
	struct db_stmt *s = prep(st, "SELECT id FROM posts WHERE org_id = $1 AND grp = $2"
				     " AND parent_id IS NULL AND deleted_at IS NULL");
	if (!s)
		return -1;
	bt(st, s, 1, org_id);
	bt(st, s, 2, group);
	int rc = step(st, s);
	*out_id = rc == DB_ROW ? ct(st, a, s, 0) : NULL;
	reset(st, s);
	if (rc < 0)
		return -1;
	return *out_id ? 0 : STORE_NOTFOUND;
}
