/*
 * store: every query herald makes, written once against the db driver
 * layer (db.h).  See store.h for the contract.
 *
 * Invariants kept here:
 *  - every query that reads or writes tenant data filters on org_id, so a
 *    caller cannot reach another organization's rows by guessing an id;
 *  - deletes are soft (deleted_at) and a deleted post is never in a state
 *    the engine claims (queued rows become canceled in the same statement);
 *  - a thread is written in one transaction; readers never see half of it.
 */
#include "store.h"
#include "db.h"
#include "schema.h"
#include "../core/arena.h"
#include "../core/ids.h"
#include "../core/log.h"
#include "../core/timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

int collect(struct store *st, struct arena *a, struct db_stmt *s, size_t size, row_reader read,
	    void **out, size_t *n)
{
	size_t cap = 8, cnt = 0;
	char *v = arena_alloc(a, cap * size);
	int rc;
	while ((rc = step(st, s)) == DB_ROW) {
		if (cnt == cap) {
			char *nv = arena_alloc(a, 2 * cap * size);
			memcpy(nv, v, cnt * size);
			v = nv;
			cap *= 2;
		}
		read(st, a, s, v + cnt++ * size);
	}
	reset(st, s);
	if (rc < 0)
		return -1;
	*out = v;
	*n = cnt;
	return 0;
}

static void read_key(struct store *st, struct arena *a, struct db_stmt *s, void *elem)
{
	struct store_key *k = elem;
	k->id = ct(st, a, s, 0);
	k->org_id = ct(st, a, s, 1);
	k->org_name = ct(st, a, s, 2);
	k->hint = ct(st, a, s, 3);
	k->created_at = ci(st, s, 4);
	k->revoked_at = ci(st, s, 5);
}

static void read_customer(struct store *st, struct arena *a, struct db_stmt *s, void *elem)
{
	struct store_customer *c = elem;
	c->id = ct(st, a, s, 0);
	c->name = ct(st, a, s, 1);
}

static void read_tag(struct store *st, struct arena *a, struct db_stmt *s, void *elem)
{
	struct store_tag *t = elem;
	t->id = ct(st, a, s, 0);
	t->name = ct(st, a, s, 1);
	t->color = ct(st, a, s, 2);
	t->created_at = ci(st, s, 3);
	t->updated_at = ci(st, s, 4);
}

int store_open(const char *database_url, const char *data_dir, struct store **out, char *err,
	       size_t errlen)
{
	const struct db_driver *drv = &db_sqlite_driver;
	if (database_url && *database_url) {
		if (strncmp(database_url, "postgres://", 11) && strncmp(database_url, "postgresql://", 13)) {
			snprintf(err, errlen, "HERALD_DATABASE_URL must start with postgres://");
			return -1;
		}
		drv = &db_pg_driver;
	}
	struct db *db = NULL;
	if (drv->open(database_url, data_dir, &db, err, errlen))
		return -1;
	struct store *st = xcalloc(1, sizeof(*st));
	st->db = db;
	*out = st;
	return 0;
}

void store_close(struct store *st)
{
	if (!st)
		return;
	st->db->drv->close(st->db);
	free(st);
}

const char *store_backend(const struct store *st)
{
	return st->db->drv->name;
}

int store_ping(struct store *st)
{
	struct db_stmt *s = prep(st, "SELECT 1");
	if (!s)
		return -1;
	int rc = step(st, s);
	reset(st, s);
	return rc == DB_ROW ? 0 : -1;
}

int store_migrate(struct store *st, char *err, size_t errlen)
{
	if (begin(st)) {
		snprintf(err, errlen, "cannot begin migration: %s", DRV(st)->errmsg(st->db));
		return -1;
	}
	/* PostgreSQL: one migrator at a time, taken before anything is read */
	if (DRV(st)->dialect == DB_PG &&
	    DRV(st)->exec(st->db, "SELECT pg_advisory_xact_lock(7243001)")) {
		rollback(st);
		snprintf(err, errlen, "cannot lock for migration");
		return -1;
	}
	if (DRV(st)->exec(st->db, "CREATE TABLE IF NOT EXISTS schema_migrations ("
				  " version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)")) {
		snprintf(err, errlen, "cannot create schema_migrations: %s", DRV(st)->errmsg(st->db));
		rollback(st);
		return -1;
	}
	int64_t have = 0;
	struct db_stmt *s = prep(st, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
	if (!s || step(st, s) != DB_ROW) {
		rollback(st);
		snprintf(err, errlen, "cannot read schema version");
		return -1;
	}
	have = ci(st, s, 0);
	reset(st, s);
	if (have > SCHEMA_VERSION) {
		rollback(st);
		snprintf(err, errlen, "database schema %lld is newer than this herald (%d)",
			 (long long)have, SCHEMA_VERSION);
		return -1;
	}
	for (int v = (int)have + 1; v <= SCHEMA_VERSION; v++) {
		if (DRV(st)->exec(st->db, schema_migrations[v - 1])) {
			snprintf(err, errlen, "migration %d failed: %s", v, DRV(st)->errmsg(st->db));
			rollback(st);
			return -1;
		}
		s = prep(st, "INSERT INTO schema_migrations(version, applied_at) VALUES ($1, $2)");
		if (!s) {
			rollback(st);
			return -1;
		}
		bi(st, s, 1, v);
		bi(st, s, 2, now_ms());
		if (run(st, s, NULL)) {
			rollback(st);
			snprintf(err, errlen, "cannot record migration %d", v);
			return -1;
		}
		log_msg(LOG_INFO, "migrate", "applied schema migration %d", v);
	}
	if (commit(st)) {
		snprintf(err, errlen, "cannot commit migrations: %s", DRV(st)->errmsg(st->db));
		return -1;
	}
	return 0;
}

/* ---- organizations and keys ---- */

int store_org_ensure(struct store *st, struct arena *a, const char *name, char **out_id)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		struct db_stmt *s = prep(st, "SELECT id FROM orgs WHERE name = $1");
		if (!s)
			return -1;
		bt(st, s, 1, name);
		int rc = step(st, s);
		if (rc == DB_ROW) {
			*out_id = ct(st, a, s, 0);
			reset(st, s);
			return 0;
		}
		reset(st, s);
		if (rc < 0)
			return -1;
		char id[ULID_LEN + 1];
		ulid_new(id);
		s = prep(st, "INSERT INTO orgs(id, name, created_at) VALUES ($1, $2, $3)"
			     " ON CONFLICT (name) DO NOTHING");
		if (!s)
			return -1;
		bt(st, s, 1, id);
		bt(st, s, 2, name);
		bi(st, s, 3, now_ms());
		int n = 0;
		if (run(st, s, &n))
			return -1;
		if (n == 1) {
			*out_id = arena_strdup(a, id);
			return 0;
		}
		/* lost a race with another creator: read theirs */
	}
	return -1;
}

int store_key_create(struct store *st, struct arena *a, const char *org_id, const char *hash,
		     const char *hint, char **out_id)
{
	char id[ULID_LEN + 1];
	ulid_new(id);
	struct db_stmt *s = prep(st, "INSERT INTO api_keys(id, org_id, key_hash, hint, created_at)"
				     " VALUES ($1, $2, $3, $4, $5)");
	if (!s)
		return -1;
	bt(st, s, 1, id);
	bt(st, s, 2, org_id);
	bt(st, s, 3, hash);
	bt(st, s, 4, hint);
	bi(st, s, 5, now_ms());
	if (run(st, s, NULL))
		return -1;
	*out_id = arena_strdup(a, id);
	return 0;
}

int store_key_list(struct store *st, struct arena *a, struct store_key **out, size_t *n)
{
	struct db_stmt *s = prep(st, "SELECT k.id, k.org_id, o.name, k.hint, k.created_at, k.revoked_at"
				     " FROM api_keys k JOIN orgs o ON o.id = k.org_id ORDER BY k.created_at, k.id");
	if (!s)
		return -1;
	return collect(st, a, s, sizeof(**out), read_key, (void **)out, n);
}

int store_key_revoke(struct store *st, const char *id)
{
	struct db_stmt *s = prep(st, "UPDATE api_keys SET revoked_at = $2"
				     " WHERE id = $1 AND revoked_at IS NULL");
	if (!s)
		return -1;
	bt(st, s, 1, id);
	bi(st, s, 2, now_ms());
	int n = 0;
	if (run(st, s, &n))
		return -1;
	return n ? 0 : STORE_NOTFOUND;
}

int store_key_lookup(struct store *st, struct arena *a, const char *hash, char **out_org_id,
		     char **out_key_id)
{
	struct db_stmt *s = prep(st, "SELECT org_id, id FROM api_keys"
				     " WHERE key_hash = $1 AND revoked_at IS NULL");
	if (!s)
		return -1;
	bt(st, s, 1, hash);
	int rc = step(st, s);
	if (rc == DB_ROW) {
		*out_org_id = ct(st, a, s, 0);
		*out_key_id = ct(st, a, s, 1);
	}
	reset(st, s);
	return rc == DB_ROW ? 0 : rc == DB_DONE ? STORE_NOTFOUND : -1;
}

/* ---- channels ---- */

#define CHANNEL_COLS                                                                        \
	"c.id, c.org_id, c.provider, c.name, c.picture, c.profile, c.customer_id, cu.name," \
	" c.credentials, c.posting_times, c.timezone, c.disabled, c.created_at"
#define CHANNEL_FROM " FROM channels c LEFT JOIN customers cu ON cu.id = c.customer_id"

static void read_channel(struct store *st, struct arena *a, struct db_stmt *s,
			 struct store_channel *c)
{
	c->id = ct(st, a, s, 0);
	c->org_id = ct(st, a, s, 1);
	c->provider = ct(st, a, s, 2);
	c->name = ct(st, a, s, 3);
	c->picture = ct(st, a, s, 4);
	c->profile = ct(st, a, s, 5);
	c->customer_id = ct(st, a, s, 6);
	c->customer_name = ct(st, a, s, 7);
	c->credentials = ct(st, a, s, 8);
	c->posting_times = ct(st, a, s, 9);
	c->timezone = ct(st, a, s, 10);
	c->disabled = (int)ci(st, s, 11);
	c->created_at = ci(st, s, 12);
}

static void read_channel_cb(struct store *st, struct arena *a, struct db_stmt *s, void *elem)
{
	read_channel(st, a, s, elem);
}

int store_channel_create(struct store *st, struct arena *a, const struct store_channel *c,
			 char **out_id)
{
	char id[ULID_LEN + 1];
	ulid_new(id);
	struct db_stmt *s = prep(st, "INSERT INTO channels(id, org_id, provider, name, picture, profile,"
				     " credentials, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)");
	if (!s)
		return -1;
	bt(st, s, 1, id);
	bt(st, s, 2, c->org_id);
	bt(st, s, 3, c->provider);
	bt(st, s, 4, c->name);
	bt(st, s, 5, c->picture ? c->picture : "");
	bt(st, s, 6, c->profile ? c->profile : "");
	bt(st, s, 7, c->credentials);
	bi(st, s, 8, now_ms());
	if (run(st, s, NULL))
		return -1;
	*out_id = arena_strdup(a, id);
	return 0;
}

int store_channel_list(struct store *st, struct arena *a, const char *org_id,
		       const char *customer_id, struct store_channel **out, size_t *n)
{
	struct db_stmt *s = prep(st, "SELECT " CHANNEL_COLS CHANNEL_FROM
				     " WHERE c.org_id = $1 AND c.deleted_at IS NULL"
				     " AND (CAST($2 AS TEXT) IS NULL OR c.customer_id = $2) ORDER BY c.created_at, c.id");
	if (!s)
		return -1;
	bt(st, s, 1, org_id);
	bt(st, s, 2, customer_id);
	return collect(st, a, s, sizeof(**out), read_channel_cb, (void **)out, n);
}

int store_channel_get(struct store *st, struct arena *a, const char *org_id, const char *id,
		      struct store_channel **out)
{
	struct db_stmt *s = prep(st, "SELECT " CHANNEL_COLS CHANNEL_FROM
				     " WHERE c.org_id = $1 AND c.id = $2 AND c.deleted_at IS NULL");
	if (!s)
		return -1;
	bt(st, s, 1, org_id);
	bt(st, s, 2, id);
	int rc = step(st, s);
	if (rc == DB_ROW) {
		*out = arena_alloc(a, sizeof(**out));
		read_channel(st, a, s, *out);
	}
	reset(st, s);
	return rc == DB_ROW ? 0 : rc == DB_DONE ? STORE_NOTFOUND : -1;
}

int store_channel_delete(struct store *st, const char *org_id, const char *id)
{
	int64_t now = now_ms();
	if (begin(st))
		return -1;
	struct db_stmt *s = prep(st, "UPDATE channels SET deleted_at = $3"
				     " WHERE org_id = $1 AND id = $2 AND deleted_at IS NULL");
	if (!s)
		goto fail;
	bt(st, s, 1, org_id);
	bt(st, s, 2, id);
	bi(st, s, 3, now);
	int n = 0;
	if (run(st, s, &n))
		goto fail;
	if (!n) {
		rollback(st);
		return STORE_NOTFOUND;
	}
	s = prep(st, "UPDATE posts SET deleted_at = $3, updated_at = $3,"
		     " state = CASE WHEN state IN ('queued', 'draft') THEN 'canceled' ELSE state END"
		     " WHERE org_id = $1 AND channel_id = $2 AND deleted_at IS NULL");
	if (!s)
		goto fail;
	bt(st, s, 1, org_id);
	bt(st, s, 2, id);
	bi(st, s, 3, now);
	if (run(st, s, NULL))
		goto fail;
	return commit(st);
fail:
	rollback(st);
	return -1;
}

int store_channel_set_credentials(struct store *st, const char *id, const char *sealed)
{
	struct db_stmt *s = prep(st, "UPDATE channels SET credentials = $2 WHERE id = $1");
	if (!s)
		return -1;
	bt(st, s, 1, id);
	bt(st, s, 2, sealed);
	int n = 0;
	if (run(st, s, &n))
		return -1;
	return n ? 0 : STORE_NOTFOUND;
}

int store_channel_set_times(struct store *st, const char *org_id, const char *id,
			    const char *times)
{
	struct db_stmt *s = prep(st, "UPDATE channels SET posting_times = $3"
				     " WHERE org_id = $1 AND id = $2 AND deleted_at IS NULL");
	if (!s)
		return -1;
	bt(st, s, 1, org_id);
	bt(st, s, 2, id);
	bt(st, s, 3, times);
	int n = 0;
	if (run(st, s, &n))
		return -1;
	return n ? 0 : STORE_NOTFOUND;
}

int store_customer_list(struct store *st, struct arena *a, const char *org_id,
			struct store_customer **out, size_t *n)
{
	struct db_stmt *s = prep(st, "SELECT id, name FROM customers WHERE org_id = $1"
				     " AND deleted_at IS NULL ORDER BY name, id");
	if (!s)
		return -1;
	bt(st, s, 1, org_id);
	return collect(st, a, s, sizeof(**out), read_customer, (void **)out, n);
}

int store_customer_ensure(struct store *st, struct arena *a, const char *org_id,
			  const char *name, char **out_id)
{
	struct db_stmt *s = prep(st, "SELECT id FROM customers WHERE org_id = $1 AND name = $2"
				     " AND deleted_at IS NULL");
	if (!s)
		return -1;
	bt(st, s, 1, org_id);
	bt(st, s, 2, name);
	int rc = step(st, s);
	if (rc == DB_ROW)
		*out_id = ct(st, a, s, 0);
	reset(st, s);
	if (rc == DB_ROW)
		return 0;
	if (rc < 0)
		return -1;
	char id[ULID_LEN + 1];
	ulid_new(id);
	s = prep(st, "INSERT INTO customers(id, org_id, name, created_at) VALUES ($1, $2, $3, $4)");
	if (!s)
		return -1;
	bt(st, s, 1, id);
	bt(st, s, 2, org_id);
	bt(st, s, 3, name);
	bi(st, s, 4, now_ms());
	if (run(st, s, NULL))
		return -1;
	*out_id = arena_strdup(a, id);
	return 0;
}

int store_channel_set_customer(struct store *st, const char *org_id, const char *id,
			       const char *customer_id)
{
	struct db_stmt *s = prep(st, "UPDATE channels SET customer_id = $3"
				     " WHERE org_id = $1 AND id = $2 AND deleted_at IS NULL");
	if (!s)
		return -1;
	bt(st, s, 1, org_id);
	bt(st, s, 2, id);
	bt(st, s, 3, customer_id);
	int n = 0;
	if (run(st, s, &n))
		return -1;
	return n ? 0 : STORE_NOTFOUND;
}

/* ---- tags ---- */

int store_tag_list(struct store *st, struct arena *a, const char *org_id, struct store_tag **out,
		   size_t *n)
{
	struct db_stmt *s = prep(st, "SELECT id, name, color, created_at, updated_at FROM tags"
				     " WHERE org_id = $1 AND deleted_at IS NULL ORDER BY name");
	if (!s)
		return -1;
	bt(st, s, 1, org_id);
	return collect(st, a, s, sizeof(**out), read_tag, (void **)out, n);
}

int store_tag_ensure(struct store *st, struct arena *a, const char *org_id, const char *name,
		     const char *color, char **out_id)
{
	int retried = 0;
again:;
	struct db_stmt *s = prep(st, "SELECT id FROM tags WHERE org_id = $1 AND name = $2"
				     " AND deleted_at IS NULL");
	if (!s)
		return -1;
	bt(st, s, 1, org_id);
	bt(st, s, 2, name);
	int rc = step(st, s);
	if (rc == DB_ROW)
		*out_id = ct(st, a, s, 0);
	reset(st, s);
	if (rc == DB_ROW)
		return 0;
	if (rc < 0)
		return -1;
	char id[ULID_LEN + 1];
	ulid_new(id);
	s = prep(st, "INSERT INTO tags(id, org_id, name, color, created_at, updated_at)"
		     " VALUES ($1, $2, $3, $4, $5, $5)");
	if (!s)
		return -1;
	bt(st, s, 1, id);
	bt(st, s, 2, org_id);
	bt(st, s, 3, name);
	bt(st, s, 4, color ? color : "#6366f1");
	bi(st, s, 5, now_ms());
	if (run(st, s, NULL)) {
		/* another request made the same tag between the SELECT and the
		 * INSERT (two posts with one new tag at once): take that one */
		if (!DRV(st)->is_unique_violation(st->db) || retried)
			return -1;
		retried = 1;
		goto again;
	}
	*out_id = arena_strdup(a, id);
	return 0;
}

/* ---- posts ---- */

void store_read_post(struct store *st, struct arena *a, struct db_stmt *s, struct store_post *p)
{
	p->id = ct(st, a, s, 0);
	p->org_id = ct(st, a, s, 1);
	p->channel_id = ct(st, a, s, 2);
	p->grp = ct(st, a, s, 3);
	p->parent_id = ct(st, a, s, 4);
	p->position = (int)ci(st, s, 5);
	p->content = ct(st, a, s, 6);
	p->media = ct(st, a, s, 7);
	p->settings = ct(st, a, s, 8);
	p->delay_min = (int)ci(st, s, 9);
	p->state = ct(st, a, s, 10);
	p->publish_at = ci(st, s, 11);
	p->interval_days = (int)ci(st, s, 12);
	p->creation_method = ct(st, a, s, 13);
	p->release_id = ct(st, a, s, 14);
	p->release_url = ct(st, a, s, 15);
	p->error = ct(st, a, s, 16);
	p->attempts = (int)ci(st, s, 17);
	p->created_at = ci(st, s, 18);
	p->updated_at = ci(st, s, 19);
	p->channel_provider = ct(st, a, s, 20);
	p->channel_name = ct(st, a, s, 21);
	p->channel_picture = ct(st, a, s, 22);
	p->published_at = ci(st, s, 23);
	p->batch = ct(st, a, s, 24);
	p->deleted_at = ci(st, s, 25);
	p->release_data = ct(st, a, s, 26);
}

void read_post_cb(struct store *st, struct arena *a, struct db_stmt *s, void *elem)
{
	store_read_post(st, a, s, elem);
}

int store_load_tags(struct store *st, struct arena *a, struct store_post *p)
{
	struct db_stmt *s = prep(st, "SELECT t.id, t.name, t.color, t.created_at, t.updated_at"
				     " FROM post_tags pt JOIN tags t ON t.id = pt.tag_id"
				     " WHERE pt.post_id = $1 AND t.deleted_at IS NULL ORDER BY t.name");
	if (!s)
		return -1;
	bt(st, s, 1, p->id);
	struct store_tag *v;
	size_t cnt;
	if (collect(st, a, s, sizeof(*v), read_tag, (void **)&v, &cnt))
		return -1;
	p->tags = v;
	p->ntags = cnt;
	return 0;
}

static char *fail_msg(struct arena *a, char **out_msg, const char *fmt, const char *arg)
{
	if (out_msg)
		*out_msg = arena_printf(a, fmt, arg);
	return NULL;
}

/* One thread, inside the caller's transaction. */
static int write_thread(struct store *st, struct arena *a, const struct store_post_write *w,
			int64_t now, char **out_root_id, char **out_msg)
{
	int status = -1;
	char *prev = NULL, *root = NULL;
	/* type update keeps states; an item it adds takes the thread's state */
	const char *new_state = w->state ? w->state : PS_QUEUED;
	for (size_t i = 0; i < w->nitems; i++) {
		const struct store_post_item *it = &w->items[i];
		char *id = NULL;
		int exists = 0;
		if (it->id) {
			/* PostgreSQL: lock the row so the engine cannot claim it between
			 * this check and the write (SQLite's BEGIN IMMEDIATE already does) */
			struct db_stmt *s = prep(st, DRV(st)->dialect == DB_PG
				? "SELECT org_id, state, channel_id FROM posts WHERE id = $1 FOR UPDATE"
				: "SELECT org_id, state, channel_id FROM posts WHERE id = $1");
			if (!s)
				goto out;
			bt(st, s, 1, it->id);
			int rc = step(st, s);
			char *org = NULL, *state = NULL;
			if (rc == DB_ROW) {
				org = ct(st, a, s, 0);
				state = ct(st, a, s, 1);
			}
			reset(st, s);
			if (rc < 0)
				goto out;
			if (rc == DB_ROW) {
				if (strcmp(org, w->org_id)) {
					fail_msg(a, out_msg, "Post with id %s not found", it->id);
					status = STORE_NOTFOUND;
					goto out;
				}
				if (!strcmp(state, PS_PUBLISHING)) {
					fail_msg(a, out_msg,
						 "Post %s is being published right now and cannot be edited",
						 it->id);
					status = STORE_CONFLICT;
					goto out;
				}
				if (i == 0 && !strcmp(state, PS_PUBLISHED) && w->state && !w->republish) {
					fail_msg(a, out_msg,
						 "This post (%s) was already published. To change its data use "
						 "type 'update'; to publish it again pass republish: true.",
						 it->id);
					status = STORE_CONFLICT;
					goto out;
				}
				exists = 1;
				if (!w->state && i == 0)
					new_state = state;
			}
			id = arena_strdup(a, it->id);
		} else {
			id = arena_alloc(a, ULID_LEN + 1);
			ulid_new(id);
		}
		struct db_stmt *s;
		if (exists) {
			s = prep(st, "UPDATE posts SET channel_id = $2, grp = $3, parent_id = $4,"
				     " position = $5, content = $6, media = $7, settings = $8,"
				     " delay_min = $9, state = COALESCE($10, state), publish_at = $11, due_at = $11,"
				     " interval_days = $12, updated_at = $13, deleted_at = NULL,"
				     " error = CASE WHEN $10 IS NULL THEN error ELSE NULL END,"
				     " published_at = CASE WHEN $10 IS NULL THEN published_at ELSE NULL END"
				     " WHERE id = $1");
		} else {
			s = prep(st, "INSERT INTO posts(id, channel_id, grp, parent_id, position, content,"
				     " media, settings, delay_min, state, publish_at, due_at, interval_days,"
				     " created_at, updated_at, org_id, creation_method, batch)"
				     " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, COALESCE($10, 'queued'), $11, $11, $12,"
				     " $13, $13, $14, $15, $16)");
		}
		if (!s)
			goto out;
		bt(st, s, 1, id);
		bt(st, s, 2, w->channel_id);
		bt(st, s, 3, w->group);
		bt(st, s, 4, prev);
		bi(st, s, 5, (int64_t)i);
		bt(st, s, 6, it->content);
		bt(st, s, 7, it->media ? it->media : "[]");
		bt(st, s, 8, w->settings ? w->settings : "{}");
		bi(st, s, 9, it->delay_min);
		bt(st, s, 10, exists ? w->state : new_state);
		bi(st, s, 11, w->publish_at);
		if (w->interval_days > 0)
			bi(st, s, 12, w->interval_days);
		else
			DRV(st)->bind_null(s, 12);
		bi(st, s, 13, now);
		if (!exists) {
			bt(st, s, 14, w->org_id);
			bt(st, s, 15, w->creation_method ? w->creation_method : "API");
			bt(st, s, 16, w->batch);
		}
		if (run(st, s, NULL)) {
			if (DRV(st)->is_unique_violation(st->db)) {
				fail_msg(a, out_msg, "Post id %s is already in use", id);
				status = STORE_CONFLICT;
			}
			goto out;
		}
		if (i == 0)
			root = id;
		prev = id;
	}
	if (w->old_group) {
		struct db_stmt *s = prep(st, "UPDATE posts SET deleted_at = $3, updated_at = $3,"
					     " state = CASE WHEN state IN ('queued', 'draft') THEN 'canceled' ELSE state END"
					     " WHERE org_id = $1 AND grp = $2 AND deleted_at IS NULL");
		if (!s)
			goto out;
		bt(st, s, 1, w->org_id);
		bt(st, s, 2, w->old_group);
		bi(st, s, 3, now);
		if (run(st, s, NULL))
			goto out;
	}
	/* tags attach to the root only; unknown labels are ignored, as in Postiz */
	struct db_stmt *s = prep(st, "DELETE FROM post_tags WHERE post_id = $1");
	if (!s)
		goto out;
	bt(st, s, 1, root);
	if (run(st, s, NULL))
		goto out;
	for (size_t i = 0; i < w->ntags; i++) {
		s = prep(st, "INSERT INTO post_tags(post_id, tag_id)"
			     " SELECT $1, id FROM tags WHERE org_id = $2 AND name = $3 AND deleted_at IS NULL"
			     " ON CONFLICT DO NOTHING");
		if (!s)
			goto out;
		bt(st, s, 1, root);
		bt(st, s, 2, w->org_id);
		bt(st, s, 3, w->tag_names[i]);
		if (run(st, s, NULL))
			goto out;
	}
	*out_root_id = root;
	return 0;
out:
	return status;
}

int store_post_write(struct store *st, struct arena *a, const struct store_post_write *w,
		     char **out_root_id, char **out_msg)
{
	size_t failed;
	char *roots[1];
	int rc = store_post_write_many(st, a, w, 1, roots, out_msg, &failed);
	if (!rc)
		*out_root_id = roots[0];
	return rc;
}

int store_post_write_many(struct store *st, struct arena *a, const struct store_post_write *w,
			  size_t n, char **out_roots, char **out_msg, size_t *failed)
{
	int64_t now = now_ms();
	*failed = 0;
	if (begin(st))
		return -1;
	for (size_t i = 0; i < n; i++) {
		int rc = write_thread(st, a, &w[i], now, &out_roots[i], out_msg);
		if (rc) {
			*failed = i;
			rollback(st);
			return rc;
		}
	}
	if (commit(st)) {
		rollback(st);
		return -1;
	}
	return 0;
}

int store_post_list(struct store *st, struct arena *a, const struct store_post_filter *f,
		    struct store_post **out, size_t *n)
{
	struct db_stmt *s = prep(st, "SELECT " POST_COLS POST_FROM
				     " WHERE p.org_id = $1 AND p.parent_id IS NULL AND p.deleted_at IS NULL"
				     " AND c.deleted_at IS NULL AND p.state <> 'canceled'"
				     " AND ((p.publish_at >= $2 AND p.publish_at <= $3) OR p.interval_days IS NOT NULL)"
				     " AND (CAST($4 AS TEXT) IS NULL OR c.customer_id = $4)"
				     " ORDER BY p.publish_at, p.id LIMIT 10000");
	if (!s)
		return -1;
	bt(st, s, 1, f->org_id);
	bi(st, s, 2, f->from);
	bi(st, s, 3, f->to);
	bt(st, s, 4, f->customer_id);
	struct store_post *v;
	size_t cnt;
	if (collect(st, a, s, sizeof(*v), read_post_cb, (void **)&v, &cnt))
		return -1;
	for (size_t i = 0; i < cnt; i++)
		if (store_load_tags(st, a, &v[i]))
			return -1;
	*out = v;
	*n = cnt;
	return 0;
}

int store_post_thread(struct store *st, struct arena *a, const char *org_id, const char *id,
		      struct store_post **out, size_t *n)
{
	struct db_stmt *s = prep(st, "SELECT " POST_COLS POST_FROM
				     " WHERE p.org_id = $1 AND p.deleted_at IS NULL AND p.grp ="
				     " (SELECT grp FROM posts WHERE id = $2 AND org_id = $1 AND deleted_at IS NULL)"
				     " ORDER BY p.position");
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
	if (store_load_tags(st, a, &v[0]))
		return -1;
	*out = v;
	*n = cnt;
	return 0;
}

int store_post_delete_group(struct store *st, const char *org_id, const char *group, int *out_n,
			    int *out_inflight)
{
	int64_t now = now_ms();
	*out_n = 0;
	*out_inflight = 0;
	if (begin(st))
		return -1;
	/* PostgreSQL: lock the group's rows first (see store_post_write) */
	struct db_stmt *s = prep(st, DRV(st)->dialect == DB_PG
		? "SELECT COUNT(*) FROM (SELECT state FROM posts WHERE org_id = $1 AND grp = $2"
		  " AND deleted_at IS NULL FOR UPDATE) x WHERE state IN ('publishing', 'deleting')"
		: "SELECT COUNT(*) FROM posts WHERE org_id = $1 AND grp = $2"
		  " AND deleted_at IS NULL AND state IN ('publishing', 'deleting')");
	if (s) {
		bt(st, s, 1, org_id);
		bt(st, s, 2, group);
	}
	if (!s || step(st, s) != DB_ROW) {
		if (s)
			reset(st, s);
		goto fail;
	}
	*out_inflight = ci(st, s, 0) > 0;
	reset(st, s);
	if (*out_inflight) {
		/* being published right now: refuse rather than answer a delete
		 * that cannot stop it */
		rollback(st);
		return STORE_CONFLICT;
	}
	s = prep(st, "UPDATE posts SET deleted_at = $3, updated_at = $3,"
		     " state = CASE WHEN state IN ('queued', 'draft') THEN 'canceled' ELSE state END"
		     " WHERE org_id = $1 AND grp = $2 AND deleted_at IS NULL");
	if (!s)
		goto fail;
	bt(st, s, 1, org_id);
	bt(st, s, 2, group);
	bi(st, s, 3, now);
	if (run(st, s, out_n))
		goto fail;
	if (commit(st))
		goto fail;
	return *out_n ? 0 : STORE_NOTFOUND;
fail:
	rollback(st);
	return -1;
}

int store_post_set_state(struct store *st, const char *org_id, const char *root_id,
			 const char *from_state, const char *to_state)
{
	struct db_stmt *s = prep(st, "UPDATE posts SET state = $4, updated_at = $5"
				     " WHERE org_id = $1 AND deleted_at IS NULL AND state = $3 AND grp ="
				     " (SELECT grp FROM posts WHERE id = $2 AND org_id = $1 AND deleted_at IS NULL)");
	if (!s)
		return -1;
	bt(st, s, 1, org_id);
	bt(st, s, 2, root_id);
	bt(st, s, 3, from_state);
	bt(st, s, 4, to_state);
	bi(st, s, 5, now_ms());
	int n = 0;
	if (run(st, s, &n))
		return -1;
	return n ? 0 : STORE_CONFLICT;
}

int store_post_requeue(struct store *st, const char *org_id, const char *root_id, int64_t now)
{
	if (begin(st))
		return -1;
	struct db_stmt *s = prep(st, "UPDATE posts SET state = 'queued', attempts = 0, error = NULL,"
				     " publish_at = CASE WHEN publish_at < $3 THEN $3 ELSE publish_at END,"
				     " due_at = CASE WHEN publish_at < $3 THEN $3 ELSE publish_at END, updated_at = $3"
				     " WHERE id = $2 AND org_id = $1 AND parent_id IS NULL AND deleted_at IS NULL"
				     " AND state IN ('failed', 'unconfirmed')");
	if (!s)
		goto fail;
	bt(st, s, 1, org_id);
	bt(st, s, 2, root_id);
	bi(st, s, 3, now);
	int n = 0;
	if (run(st, s, &n))
		goto fail;
	if (!n) {
		rollback(st);
		return STORE_CONFLICT;
	}
	s = prep(st, "UPDATE posts SET state = 'queued', error = NULL, updated_at = $3"
		     " WHERE org_id = $1 AND parent_id IS NOT NULL AND published_at IS NULL"
		     " AND deleted_at IS NULL AND grp = (SELECT grp FROM posts WHERE id = $2)");
	if (!s)
		goto fail;
	bt(st, s, 1, org_id);
	bt(st, s, 2, root_id);
	bi(st, s, 3, now);
	if (run(st, s, NULL))
		goto fail;
	return commit(st);
fail:
	rollback(st);
	return -1;
}

int store_post_resolve(struct store *st, const char *org_id, const char *root_id, int64_t now)
{
	struct db_stmt *s = prep(st, "UPDATE posts SET state = 'published', error = NULL,"
				     " published_at = COALESCE(published_at, $3), updated_at = $3"
				     " WHERE org_id = $1 AND deleted_at IS NULL AND state IN ('unconfirmed', 'published')"
				     " AND grp = (SELECT grp FROM posts WHERE id = $2 AND parent_id IS NULL)");
	if (!s)
		return -1;
	bt(st, s, 1, org_id);
	bt(st, s, 2, root_id);
	bi(st, s, 3, now);
	int n = 0;
	if (run(st, s, &n))
		return -1;
	return n ? 0 : STORE_CONFLICT;
}

int store_post_set_settings(struct store *st, const char *org_id, const char *group,
			    const char *settings)
{
	struct db_stmt *s = prep(st, "UPDATE posts SET settings = $3, updated_at = $4"
				     " WHERE org_id = $1 AND grp = $2 AND deleted_at IS NULL");
	if (!s)
		return -1;
	bt(st, s, 1, org_id);
	bt(st, s, 2, group);
	bt(st, s, 3, settings);
	bi(st, s, 4, now_ms());
	int n = 0;
	if (run(st, s, &n))
		return -1;
	return n ? 0 : STORE_NOTFOUND;
}

int store_post_set_release(struct store *st, const char *org_id, const char *id,
			   const char *release_id, const char *release_url)
{
	struct db_stmt *s = prep(st, "UPDATE posts SET release_id = $3,"
				     " release_url = COALESCE($4, release_url), updated_at = $5"
				     " WHERE org_id = $1 AND id = $2 AND deleted_at IS NULL");
	if (!s)
		return -1;
	bt(st, s, 1, org_id);
	bt(st, s, 2, id);
	bt(st, s, 3, release_id);
	bt(st, s, 4, release_url);
	bi(st, s, 5, now_ms());
	int n = 0;
	if (run(st, s, &n))
		return -1;
	return n ? 0 : STORE_NOTFOUND;
}

int store_post_count_at(struct store *st, const char *org_id, int64_t from, int64_t to, int *out)
{
	struct db_stmt *s = prep(st, "SELECT COUNT(*) FROM posts WHERE org_id = $1"
				     " AND parent_id IS NULL AND deleted_at IS NULL"
				     " AND publish_at >= $2 AND publish_at < $3");
	if (!s)
		return -1;
	bt(st, s, 1, org_id);
	bi(st, s, 2, from);
	bi(st, s, 3, to);
	int rc = step(st, s);
	if (rc == DB_ROW)
		*out = (int)ci(st, s, 0);
	reset(st, s);
	return rc == DB_ROW ? 0 : -1;
}
