/*
 * store_int: helpers shared by the store's implementation files (store.c,
 * store_engine.c).  Not for callers outside src/store.
 */
#ifndef HERALD_STORE_INT_H
#define HERALD_STORE_INT_H

#include "store.h"
#include "db.h"
#include "../core/arena.h"

struct store {
	struct db *db;
};

#define DRV(st) ((st)->db->drv)

static inline struct db_stmt *prep(struct store *st, const char *sql)
{
	struct db_stmt *s = NULL;
	if (DRV(st)->prepare(st->db, sql, &s))
		return NULL;
	return s;
}

static inline void bt(struct store *st, struct db_stmt *s, int i, const char *v)
{
	DRV(st)->bind_text(s, i, v);
}

static inline void bi(struct store *st, struct db_stmt *s, int i, int64_t v)
{
	DRV(st)->bind_int64(s, i, v);
}

static inline char *ct(struct store *st, struct arena *a, struct db_stmt *s, int i)
{
	if (DRV(st)->col_null(s, i))
		return NULL;
	return arena_strdup(a, DRV(st)->col_text(s, i));
}

static inline int64_t ci(struct store *st, struct db_stmt *s, int i)
{
	return DRV(st)->col_null(s, i) ? 0 : DRV(st)->col_int64(s, i);
}

static inline int step(struct store *st, struct db_stmt *s)
{
	return DRV(st)->step(s);
}

static inline void reset(struct store *st, struct db_stmt *s)
{
	DRV(st)->reset(s);
}

/* Run a statement that returns no rows; *changes gets the affected count. */
static inline int run(struct store *st, struct db_stmt *s, int *changes)
{
	int rc = step(st, s);
	if (changes)
		*changes = rc == DB_DONE ? DRV(st)->changes(s) : 0;
	reset(st, s);
	return rc == DB_DONE ? 0 : -1;
}

static inline int begin(struct store *st)
{
	return DRV(st)->exec(st->db, "BEGIN");
}

static inline int commit(struct store *st)
{
	return DRV(st)->exec(st->db, "COMMIT");
}

static inline void rollback(struct store *st)
{
	DRV(st)->exec(st->db, "ROLLBACK");
}

#define POST_COLS                                                                           \
	"p.id, p.org_id, p.channel_id, p.grp, p.parent_id, p.position, p.content, p.media,"  \
	" p.settings, p.delay_min, p.state, p.publish_at, p.interval_days, p.creation_method," \
	" p.release_id, p.release_url, p.error, p.attempts, p.created_at, p.updated_at,"     \
	" c.provider, c.name, c.picture, p.published_at, p.batch, p.deleted_at,"        \
	" p.release_data"
#define POST_FROM " FROM posts p JOIN channels c ON c.id = p.channel_id"

void store_read_post(struct store *st, struct arena *a, struct db_stmt *s, struct store_post *p);

/* Read every row of an executed statement into an arena array of elements
 * of `size` bytes, filled by `read`; resets the statement.  0 or -1. */
typedef void (*row_reader)(struct store *st, struct arena *a, struct db_stmt *s, void *elem);
int collect(struct store *st, struct arena *a, struct db_stmt *s, size_t size, row_reader read,
	    void **out, size_t *n);
/* Tags of a root post into p->tags. */
int store_load_tags(struct store *st, struct arena *a, struct store_post *p);
void read_post_cb(struct store *st, struct arena *a, struct db_stmt *s, void *elem);

#endif
