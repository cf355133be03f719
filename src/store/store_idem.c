/*
 * store_idem: Idempotency-Key records.  A record is born `running` by the
 * first request carrying a key and becomes `done` with that request's
 * status and body; a later request with the same key reads it back.
 *
 * The claim is one transaction: INSERT ... ON CONFLICT DO NOTHING decides
 * who is first even when two requests with one key race on different
 * loops or processes (the loser sees the winner's row, running or done).
 */
#include "store_int.h"

#include <string.h>

int store_idem_claim(struct store *st, struct arena *a, const char *org_id, const char *route,
		     const char *key, const char *hash, int64_t now, int64_t ttl_ms,
		     int64_t stale_ms, enum store_idem *out, int *status, char **body)
{
	int n = 0;
	*status = 0;
	*body = NULL;
	if (begin(st))
		return -1;
	struct db_stmt *s = prep(st, "INSERT INTO idempotency(org_id, route, key, body_hash, state,"
				     " created_at) VALUES ($1, $2, $3, $4, 'running', $5)"
				     " ON CONFLICT (org_id, route, key) DO NOTHING");
	if (!s)
		goto fail;
	bt(st, s, 1, org_id);
	bt(st, s, 2, route);
	bt(st, s, 3, key);
	bt(st, s, 4, hash);
	bi(st, s, 5, now);
	if (run(st, s, &n))
		goto fail;
	if (n == 1) {
		*out = IDEM_NEW;
		return commit(st) ? -1 : 0;
	}
	s = prep(st, DRV(st)->dialect == DB_PG
		? "SELECT body_hash, state, status, body, created_at FROM idempotency"
		  " WHERE org_id = $1 AND route = $2 AND key = $3 FOR UPDATE"
		: "SELECT body_hash, state, status, body, created_at FROM idempotency"
		  " WHERE org_id = $1 AND route = $2 AND key = $3");
	if (!s)
		goto fail;
	bt(st, s, 1, org_id);
	bt(st, s, 2, route);
	bt(st, s, 3, key);
	if (step(st, s) != DB_ROW) {
		reset(st, s);
		goto fail;
	}
	char *old_hash = ct(st, a, s, 0), *state = ct(st, a, s, 1);
	int old_status = (int)ci(st, s, 2);
	char *old_body = ct(st, a, s, 3);
	int64_t created = ci(st, s, 4);
	reset(st, s);
	int running = !strcmp(state, "running");
	if (created < now - ttl_ms || (running && created < now - stale_ms)) {
		/* forgotten, or its first request died: this one starts afresh */
		s = prep(st, "UPDATE idempotency SET body_hash = $4, state = 'running', status = NULL,"
			     " body = NULL, created_at = $5 WHERE org_id = $1 AND route = $2 AND key = $3");
		if (!s)
			goto fail;
		bt(st, s, 1, org_id);
		bt(st, s, 2, route);
		bt(st, s, 3, key);
		bt(st, s, 4, hash);
		bi(st, s, 5, now);
		if (run(st, s, NULL))
			goto fail;
		*out = IDEM_NEW;
	} else if (strcmp(old_hash, hash)) {
		*out = IDEM_CONFLICT;
	} else if (running) {
		*out = IDEM_IN_PROGRESS;
	} else {
		*out = IDEM_REPLAY;
		*status = old_status;
		*body = old_body;
	}
	return commit(st) ? -1 : 0;
fail:
	rollback(st);
	return -1;
}

int store_idem_finish(struct store *st, const char *org_id, const char *route, const char *key,
		      int status, const char *body)
{
	struct db_stmt *s = prep(st, "UPDATE idempotency SET state = 'done', status = $4, body = $5"
				     " WHERE org_id = $1 AND route = $2 AND key = $3 AND state = 'running'");
	if (!s)
		return -1;
	bt(st, s, 1, org_id);
	bt(st, s, 2, route);
	bt(st, s, 3, key);
	bi(st, s, 4, status);
	bt(st, s, 5, body);
	return run(st, s, NULL);
}

int store_idem_drop(struct store *st, const char *org_id, const char *route, const char *key)
{
	struct db_stmt *s = prep(st, "DELETE FROM idempotency WHERE org_id = $1 AND route = $2"
				     " AND key = $3 AND state = 'running'");
	if (!s)
		return -1;
	bt(st, s, 1, org_id);
	bt(st, s, 2, route);
	bt(st, s, 3, key);
	return run(st, s, NULL);
}

int store_idem_expire(struct store *st, int64_t before, int *out_n)
{
	struct db_stmt *s = prep(st, "DELETE FROM idempotency WHERE created_at < $1");
	if (!s)
		return -1;
	bi(st, s, 1, before);
	return run(st, s, out_n);
}
