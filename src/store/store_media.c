/*
 * store_media: the media library rows (one per uploaded original).
 * Every read and write filters on org_id except store_media_by_name with a
 * NULL org, which serves the public /uploads/ route: the object names are
 * unguessable (ULID) and carry no tenant data beyond the bytes themselves.
 */
#include "store.h"
#include "db.h"
#include "../core/arena.h"
#include "../core/timeutil.h"

#include <string.h>

#include "store_int.h"

#define MEDIA_COLS                                                                            \
	"id, org_id, name, original_name, mime, bytes, sha256, width, height, duration_ms, alt," \
	" source_url, created_at"

static void read_media(struct store *st, struct arena *a, struct db_stmt *s, void *elem)
{
	struct store_media *m = elem;
	m->id = ct(st, a, s, 0);
	m->org_id = ct(st, a, s, 1);
	m->name = ct(st, a, s, 2);
	m->original_name = ct(st, a, s, 3);
	m->mime = ct(st, a, s, 4);
	m->bytes = ci(st, s, 5);
	m->sha256 = ct(st, a, s, 6);
	m->width = (int)ci(st, s, 7);
	m->height = (int)ci(st, s, 8);
	m->duration_ms = ci(st, s, 9);
	m->alt = ct(st, a, s, 10);
	m->source_url = ct(st, a, s, 11);
	m->created_at = ci(st, s, 12);
}

static void bind_opt_int(struct store *st, struct db_stmt *s, int i, int64_t v)
{
	if (v)
		bi(st, s, i, v);
	else
		DRV(st)->bind_null(s, i);
}

int store_media_create(struct store *st, const struct store_media *m)
{
	struct db_stmt *s = prep(st, "INSERT INTO media(" MEDIA_COLS ")"
				     " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)");
	if (!s)
		return -1;
	bt(st, s, 1, m->id);
	bt(st, s, 2, m->org_id);
	bt(st, s, 3, m->name);
	bt(st, s, 4, m->original_name);
	bt(st, s, 5, m->mime);
	bi(st, s, 6, m->bytes);
	bt(st, s, 7, m->sha256);
	bind_opt_int(st, s, 8, m->width);
	bind_opt_int(st, s, 9, m->height);
	bind_opt_int(st, s, 10, m->duration_ms);
	if (m->alt)
		bt(st, s, 11, m->alt);
	else
		DRV(st)->bind_null(s, 11);
	if (m->source_url)
		bt(st, s, 12, m->source_url);
	else
		DRV(st)->bind_null(s, 12);
	bi(st, s, 13, m->created_at);
	return run(st, s, NULL);
}

static int one(struct store *st, struct arena *a, struct db_stmt *s, struct store_media **out)
{
	struct store_media *v = NULL;
	size_t n = 0;
	if (collect(st, a, s, sizeof(*v), read_media, (void **)&v, &n))
		return -1;
	if (!n)
		return STORE_NOTFOUND;
	*out = v;
	return 0;
}

int store_media_get(struct store *st, struct arena *a, const char *org_id, const char *id,
		    struct store_media **out)
{
	struct db_stmt *s = prep(st, "SELECT " MEDIA_COLS " FROM media"
				     " WHERE org_id = $1 AND id = $2 AND deleted_at IS NULL");
	if (!s)
		return -1;
	bt(st, s, 1, org_id);
	bt(st, s, 2, id);
	return one(st, a, s, out);
}

int store_media_by_name(struct store *st, struct arena *a, const char *org_id, const char *name,
			struct store_media **out)
{
	struct db_stmt *s;
	if (org_id) {
		s = prep(st, "SELECT " MEDIA_COLS " FROM media"
			     " WHERE name = $1 AND org_id = $2 AND deleted_at IS NULL");
		if (!s)
			return -1;
		bt(st, s, 2, org_id);
	} else {
		s = prep(st, "SELECT " MEDIA_COLS " FROM media WHERE name = $1 AND deleted_at IS NULL");
		if (!s)
			return -1;
	}
	bt(st, s, 1, name);
	return one(st, a, s, out);
}

int store_media_list(struct store *st, struct arena *a, const char *org_id, const char *cursor,
		     int limit, struct store_media **out, size_t *n)
{
	struct db_stmt *s;
	if (cursor) {
		s = prep(st, "SELECT " MEDIA_COLS " FROM media WHERE org_id = $1 AND deleted_at IS NULL"
			     " AND id < $2 ORDER BY id DESC LIMIT $3");
		if (!s)
			return -1;
		bt(st, s, 2, cursor);
		bi(st, s, 3, limit);
	} else {
		s = prep(st, "SELECT " MEDIA_COLS " FROM media WHERE org_id = $1 AND deleted_at IS NULL"
			     " ORDER BY id DESC LIMIT $2");
		if (!s)
			return -1;
		bi(st, s, 2, limit);
	}
	bt(st, s, 1, org_id);
	return collect(st, a, s, sizeof(**out), read_media, (void **)out, n);
}

int store_media_delete(struct store *st, const char *org_id, const char *id, const char *name)
{
	struct arena *a = arena_new();
	int rc = -1;
	if (begin(st))
		goto out;
	/* posts.media is JSON text; a reference is the id or the object name
	 * inside it (ids and names are ULID-based, so no false positives) */
	struct db_stmt *s = prep(st, "SELECT id FROM posts WHERE org_id = $1 AND deleted_at IS NULL"
				     " AND state IN ('draft', 'queued')"
				     " AND (media LIKE $2 OR media LIKE $3) LIMIT 1");
	if (!s)
		goto fail;
	bt(st, s, 1, org_id);
	bt(st, s, 2, arena_printf(a, "%%\"%s\"%%", id));
	bt(st, s, 3, arena_printf(a, "%%/uploads/%s%%", name));
	int r = step(st, s);
	reset(st, s);
	if (r < 0)
		goto fail;
	if (r == DB_ROW) {
		rc = STORE_CONFLICT;
		goto fail;
	}
	s = prep(st, "UPDATE media SET deleted_at = $3 WHERE org_id = $1 AND id = $2"
		     " AND deleted_at IS NULL");
	if (!s)
		goto fail;
	bt(st, s, 1, org_id);
	bt(st, s, 2, id);
	bi(st, s, 3, now_ms());
	int changes = 0;
	if (run(st, s, &changes))
		goto fail;
	if (commit(st))
		goto out;
	rc = changes ? 0 : STORE_NOTFOUND;
	goto out;
fail:
	rollback(st);
out:
	arena_free(a);
	return rc;
}
