/*
 * store_native: the queries behind the native /v1/posts API.
 *
 * A native post is a batch: one thread per target, all rows sharing
 * posts.batch (its id).  Threads created through the Postiz API have no
 * batch; natively they are posts of one target whose id is their group.
 * The engine knows nothing of batches: it publishes threads (groups), so
 * every target keeps its own state, lease, retries and attempts.
 *
 * "Rows of a post" below means: batch = id, or (batch IS NULL and grp = id).
 */
#include "store_int.h"
#include "../core/ids.h"
#include "../core/timeutil.h"

#include <stdlib.h>
#include <string.h>

#define OF_POST " (p.batch = $2 OR (p.batch IS NULL AND p.grp = $2))"
#define OF_POST_BARE " (batch = $2 OR (batch IS NULL AND grp = $2))"

int store_native_list(struct store *st, struct arena *a, const struct store_native_filter *f,
		      struct store_native_ref **out, size_t *n)
{
	/* newest first by creation, ties broken by id; the cursor is the last
	 * (created_at, id) of the previous page */
	struct db_stmt *s = prep(st,
		"SELECT COALESCE(p.batch, p.grp) AS pid, MIN(p.created_at) AS cr"
		" FROM posts p JOIN channels c ON c.id = p.channel_id"
		" WHERE p.org_id = $1 AND p.parent_id IS NULL AND p.deleted_at IS NULL"
		" AND (CAST($2 AS TEXT) IS NULL OR p.state = $2)"
		" AND (CAST($3 AS TEXT) IS NULL OR p.channel_id = $3)"
		" AND (CAST($4 AS TEXT) IS NULL OR c.provider = $4)"
		" AND (CAST($5 AS TEXT) IS NULL OR EXISTS (SELECT 1 FROM post_tags pt JOIN tags t"
		"  ON t.id = pt.tag_id WHERE pt.post_id = p.id AND t.name = $5 AND t.deleted_at IS NULL))"
		/* PostgreSQL would type a bare $6 = 0 as integer: say BIGINT */
		" AND (CAST($6 AS BIGINT) = 0 OR p.publish_at >= $6)"
		" AND (CAST($7 AS BIGINT) = 0 OR p.publish_at <= $7)"
		" GROUP BY COALESCE(p.batch, p.grp)"
		" HAVING (CAST($8 AS BIGINT) = 0 OR MIN(p.created_at) < $8"
		"  OR (MIN(p.created_at) = $8 AND COALESCE(p.batch, p.grp) < CAST($9 AS TEXT)))"
		" ORDER BY cr DESC, pid DESC LIMIT $10");
	if (!s)
		return -1;
	bt(st, s, 1, f->org_id);
	bt(st, s, 2, f->state);
	bt(st, s, 3, f->channel_id);
	bt(st, s, 4, f->provider);
	bt(st, s, 5, f->tag);
	bi(st, s, 6, f->from);
	bi(st, s, 7, f->to);
	bi(st, s, 8, f->cursor_created);
	bt(st, s, 9, f->cursor_id ? f->cursor_id : "");
	bi(st, s, 10, f->limit);
	size_t cap = (size_t)f->limit + 1, cnt = 0;
	struct store_native_ref *v = arena_alloc(a, cap * sizeof(*v));
	int rc;
	while ((rc = step(st, s)) == DB_ROW && cnt < cap) {
		v[cnt].id = ct(st, a, s, 0);
		v[cnt].created_at = ci(st, s, 1);
		cnt++;
	}
	reset(st, s);
	if (rc != DB_DONE && rc != DB_ROW)
		return -1;
	*out = v;
	*n = cnt;
	return 0;
}

static int cmp_rows(const void *x, const void *y)
{
	const struct store_post *a = x, *b = y;
	/* roots first, in the order the targets were written (ULIDs grow) */
	int ra = a->parent_id == NULL, rb = b->parent_id == NULL;
	if (ra != rb)
		return rb - ra;
	if (a->position != b->position)
		return a->position - b->position;
	return strcmp(a->id, b->id);
}

int store_native_rows(struct store *st, struct arena *a, const char *org_id, const char *id,
		      struct store_post **out, size_t *n)
{
	struct db_stmt *s = prep(st, "SELECT " POST_COLS POST_FROM
				     " WHERE p.org_id = $1 AND p.deleted_at IS NULL AND" OF_POST
				     " LIMIT 20000");
	if (!s)
		return -1;
	bt(st, s, 1, org_id);
	bt(st, s, 2, id);
	struct store_post *v;
	size_t cnt;
	if (collect(st, a, s, sizeof(*v), read_post_cb, (void **)&v, &cnt))
		return -1;
	if (!cnt)
		return STORE_NOTFOUND;
	qsort(v, cnt, sizeof(*v), cmp_rows);
	for (size_t i = 0; i < cnt && !v[i].parent_id; i++)
		if (store_load_tags(st, a, &v[i]))
			return -1;
	*out = v;
	*n = cnt;
	return 0;
}

/* Lock the post's rows (PostgreSQL) and count those being published. */
static int count_publishing(struct store *st, const char *org_id, const char *id, int *out)
{
	struct db_stmt *s = prep(st, DRV(st)->dialect == DB_PG
		? "SELECT COUNT(*) FROM (SELECT state FROM posts WHERE org_id = $1 AND" OF_POST_BARE
		  " AND deleted_at IS NULL FOR UPDATE) x WHERE state = 'publishing'"
		: "SELECT COUNT(*) FROM posts WHERE org_id = $1 AND" OF_POST_BARE
		  " AND deleted_at IS NULL AND state = 'publishing'");
	if (!s)
		return -1;
	bt(st, s, 1, org_id);
	bt(st, s, 2, id);
	if (step(st, s) != DB_ROW) {
		reset(st, s);
		return -1;
	}
	*out = (int)ci(st, s, 0);
	reset(st, s);
	return 0;
}

int store_native_cancel(struct store *st, const char *org_id, const char *id, int *out_n,
			int *out_inflight)
{
	*out_n = 0;
	*out_inflight = 0;
	if (begin(st))
		return -1;
	if (count_publishing(st, org_id, id, out_inflight))
		goto fail;
	if (*out_inflight) {
		rollback(st);
		return STORE_CONFLICT;
	}
	struct db_stmt *s = prep(st, "UPDATE posts SET state = 'canceled', updated_at = $3,"
				     " lease_owner = NULL, lease_until = NULL"
				     " WHERE org_id = $1 AND" OF_POST_BARE " AND deleted_at IS NULL"
				     " AND state IN ('queued', 'draft', 'failed')");
	if (!s)
		goto fail;
	bt(st, s, 1, org_id);
	bt(st, s, 2, id);
	bi(st, s, 3, now_ms());
	if (run(st, s, out_n))
		goto fail;
	if (commit(st))
		goto fail;
	return *out_n ? 0 : STORE_CONFLICT;
fail:
	rollback(st);
	return -1;
}

int store_native_set_state(struct store *st, const char *org_id, const char *id,
			   const char *from, const char *to, int *out_n)
{
	struct db_stmt *s = prep(st, "UPDATE posts SET state = $4, updated_at = $5"
				     " WHERE org_id = $1 AND" OF_POST_BARE " AND deleted_at IS NULL"
				     " AND state = $3");
	if (!s)
		return -1;
	bt(st, s, 1, org_id);
	bt(st, s, 2, id);
	bt(st, s, 3, from);
	bt(st, s, 4, to);
	bi(st, s, 5, now_ms());
	return run(st, s, out_n);
}

int store_native_edit(struct store *st, struct arena *a, const struct store_native_edit *e)
{
	int64_t now = now_ms();
	if (begin(st))
		return -1;
	/* every live row must still be draft or queued: a target that started
	 * publishing (or finished) cannot be edited under the engine */
	struct db_stmt *s = prep(st, DRV(st)->dialect == DB_PG
		? "SELECT COUNT(*) FROM (SELECT state FROM posts WHERE org_id = $1 AND" OF_POST_BARE
		  " AND deleted_at IS NULL FOR UPDATE) x WHERE state NOT IN ('draft', 'queued')"
		: "SELECT COUNT(*) FROM posts WHERE org_id = $1 AND" OF_POST_BARE
		  " AND deleted_at IS NULL AND state NOT IN ('draft', 'queued')");
	if (!s)
		goto fail;
	bt(st, s, 1, e->org_id);
	bt(st, s, 2, e->id);
	if (step(st, s) != DB_ROW) {
		reset(st, s);
		goto fail;
	}
	int64_t busy = ci(st, s, 0);
	reset(st, s);
	if (busy) {
		rollback(st);
		return STORE_CONFLICT;
	}
	if (e->publish_at) {
		s = prep(st, "UPDATE posts SET publish_at = $3, due_at = $3, updated_at = $4"
			     " WHERE org_id = $1 AND" OF_POST_BARE " AND deleted_at IS NULL");
		if (!s)
			goto fail;
		bt(st, s, 1, e->org_id);
		bt(st, s, 2, e->id);
		bi(st, s, 3, e->publish_at);
		bi(st, s, 4, now);
		if (run(st, s, NULL))
			goto fail;
	}
	for (size_t t = 0; t < e->ntargets; t++) {
		const char *root = e->root_ids[t];
		if (e->contents[t] || e->medias[t]) {
			s = prep(st, "UPDATE posts SET content = COALESCE($2, content),"
				     " media = COALESCE($3, media), updated_at = $4 WHERE id = $1");
			if (!s)
				goto fail;
			bt(st, s, 1, root);
			bt(st, s, 2, e->contents[t]);
			bt(st, s, 3, e->medias[t]);
			bi(st, s, 4, now);
			if (run(st, s, NULL))
				goto fail;
		}
		if (e->replace_thread) {
			/* the old items go (soft), the new ones chain under the root */
			s = prep(st, "UPDATE posts SET deleted_at = $2, state = 'canceled', updated_at = $2"
				     " WHERE grp = (SELECT grp FROM posts WHERE id = $1)"
				     " AND parent_id IS NOT NULL AND deleted_at IS NULL");
			if (!s)
				goto fail;
			bt(st, s, 1, root);
			bi(st, s, 2, now);
			if (run(st, s, NULL))
				goto fail;
			const char *prev = root;
			for (size_t k = 0; k < e->nthread[t]; k++) {
				const struct store_post_item *it = &e->thread[t][k];
				char *nid = arena_alloc(a, ULID_LEN + 1);
				ulid_new(nid);
				s = prep(st, "INSERT INTO posts(id, org_id, channel_id, grp, parent_id, position,"
					     " content, media, settings, delay_min, state, publish_at, due_at,"
					     " interval_days, creation_method, created_at, updated_at, batch)"
					     " SELECT $2, org_id, channel_id, grp, $3, $4, $5, $6, settings, $7,"
					     " state, publish_at, due_at, interval_days, creation_method, $8, $8, batch"
					     " FROM posts WHERE id = $1");
				if (!s)
					goto fail;
				bt(st, s, 1, root);
				bt(st, s, 2, nid);
				bt(st, s, 3, prev);
				bi(st, s, 4, (int64_t)(k + 1));
				bt(st, s, 5, it->content);
				bt(st, s, 6, it->media ? it->media : "[]");
				bi(st, s, 7, it->delay_min);
				bi(st, s, 8, now);
				if (run(st, s, NULL))
					goto fail;
				prev = nid;
			}
		}
		if (e->set_tags) {
			s = prep(st, "DELETE FROM post_tags WHERE post_id = $1");
			if (!s)
				goto fail;
			bt(st, s, 1, root);
			if (run(st, s, NULL))
				goto fail;
			for (size_t k = 0; k < e->ntags; k++) {
				s = prep(st, "INSERT INTO post_tags(post_id, tag_id)"
					     " SELECT $1, id FROM tags WHERE org_id = $2 AND name = $3"
					     " AND deleted_at IS NULL ON CONFLICT DO NOTHING");
				if (!s)
					goto fail;
				bt(st, s, 1, root);
				bt(st, s, 2, e->org_id);
				bt(st, s, 3, e->tag_names[k]);
				if (run(st, s, NULL))
					goto fail;
			}
		}
	}
	if (commit(st))
		goto fail;
	return 0;
fail:
	rollback(st);
	return -1;
}
