/*
 * store_metrics: what GET /metrics reads from the database at a scrape.
 * Both queries are one statement; the due count walks the due-time index
 * (posts_due), the per-state count reads every live root post (a scrape
 * of a very large store costs a scan: scrape it every 15 s or slower).
 */
#include "store_int.h"

#include <string.h>

static void read_count(struct store *st, struct arena *a, struct db_stmt *s, void *elem)
{
	struct store_count *c = elem;
	c->name = ct(st, a, s, 0);
	c->n = ci(st, s, 1);
}

int store_post_state_counts(struct store *st, struct arena *a, struct store_count **out, size_t *n)
{
	struct db_stmt *s = prep(st, "SELECT state, COUNT(*) FROM posts"
				     " WHERE parent_id IS NULL AND deleted_at IS NULL GROUP BY state");
	if (!s)
		return -1;
	return collect(st, a, s, sizeof(**out), read_count, (void **)out, n);
}

int store_post_due_count(struct store *st, int64_t now, int64_t *out)
{
	struct db_stmt *s = prep(st, "SELECT COUNT(*) FROM posts WHERE state = 'queued'"
				     " AND parent_id IS NULL AND deleted_at IS NULL AND due_at <= $1");
	if (!s)
		return -1;
	bi(st, s, 1, now);
	int rc = step(st, s);
	if (rc == DB_ROW)
		*out = ci(st, s, 0);
	reset(st, s);
	return rc == DB_ROW ? 0 : -1;
}
