/*
 * test_store: the store interface (store.h) against each backend.
 *
 * The same tests run against SQLite in a fresh temp dir and, when
 * HERALD_TEST_PG_URL is set (tests/pg.sh), against PostgreSQL in a fresh
 * database herald_t<pid> created next to the one the URL names and dropped
 * at the end.  Without the URL the PostgreSQL group is skipped, loudly.
 *
 * Every test gets two fresh organizations, so tests share a database
 * without seeing each other's rows.  Checks the interface cannot express
 * (soft-deleted rows, schema_migrations) go through a second raw driver
 * connection; the driver-level tests hold both drivers to the same
 * semantics, since store.c is written once for both.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/arena.h"
#include "core/crypto.h"
#include "core/ids.h"
#include "core/log.h"
#include "store/db.h"
#include "store/schema.h"
#include "store/store.h"

#if __has_include(<libpq-fe.h>)
#include <libpq-fe.h>
#else
#include <postgresql/libpq-fe.h>
#endif
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define T0 1900000000000LL /* 2030-03-17, ms */
#define HOUR 3600000LL
#define DAY (24 * HOUR)

struct fx {
	const struct db_driver *drv;
	const char *url;     /* NULL for SQLite */
	char dir[64];        /* SQLite data dir */
	char *admin_url;     /* HERALD_TEST_PG_URL */
	char dbname[32];
	struct store *st;
	struct db *raw;      /* second connection, for checks behind the interface */
	/* per test */
	struct arena *a;
	char *org_a, *org_b, *org_a_name;
};

#define assert_str(actual, expected)                     \
	do {                                             \
		const char *act_ = (actual);             \
		assert_non_null(act_);                   \
		assert_string_equal(act_, (expected));   \
	} while (0)

/* Expected failures log errors; keep them out of the test output. */
static void quiet(int on)
{
	log_set_level(on ? (enum log_level)(LOG_ERROR + 1) : LOG_WARN);
}

/* ---- raw driver helpers ---- */

static struct db_stmt *raw_run(struct fx *f, const char *sql, const char *p1, const char *p2)
{
	struct db_stmt *s = NULL;
	assert_int_equal(f->drv->prepare(f->raw, sql, &s), 0);
	f->drv->bind_text(s, 1, p1);
	if (p2)
		f->drv->bind_text(s, 2, p2);
	return s;
}

/* First column of the first row; NULL for no row or a NULL value. */
static char *raw_text(struct fx *f, const char *sql, const char *p1, const char *p2)
{
	struct db_stmt *s = raw_run(f, sql, p1, p2);
	int rc = f->drv->step(s);
	assert_true(rc == DB_ROW || rc == DB_DONE);
	char *v = rc == DB_ROW ? arena_strdup(f->a, f->drv->col_text(s, 0)) : NULL;
	f->drv->reset(s);
	return v;
}

static int64_t raw_int(struct fx *f, const char *sql, const char *p1, const char *p2)
{
	struct db_stmt *s = raw_run(f, sql, p1, p2);
	assert_int_equal(f->drv->step(s), DB_ROW);
	int64_t v = f->drv->col_int64(s, 0);
	f->drv->reset(s);
	return v;
}

/* Run a write; returns the number of rows changed. */
static int raw_write(struct fx *f, const char *sql, const char *p1, const char *p2)
{
	struct db_stmt *s = raw_run(f, sql, p1, p2);
	assert_int_equal(f->drv->step(s), DB_DONE);
	int n = f->drv->changes(s);
	f->drv->reset(s);
	return n;
}

static void raw_set_state(struct fx *f, const char *id, const char *state)
{
	assert_int_equal(raw_write(f, "UPDATE posts SET state = $2 WHERE id = $1", id, state), 1);
}

static char *raw_state(struct fx *f, const char *id)
{
	return raw_text(f, "SELECT state FROM posts WHERE id = $1", id, NULL);
}

static int raw_deleted(struct fx *f, const char *id)
{
	return (int)raw_int(f, "SELECT COUNT(*) FROM posts WHERE id = $1 AND deleted_at IS NOT NULL",
			    id, NULL);
}

/* ---- store helpers ---- */

static char *uniq(struct fx *f, const char *prefix)
{
	char id[ULID_LEN + 1];
	ulid_new(id);
	return arena_printf(f->a, "%s-%s", prefix, id);
}

static char *new_group(struct fx *f)
{
	char *g = arena_alloc(f->a, 37);
	uuid_new(g);
	return g;
}

static char *mk_channel(struct fx *f, const char *org, const char *name)
{
	struct store_channel c = {0};
	c.org_id = (char *)org;
	c.provider = "x";
	c.name = (char *)name;
	c.picture = "https://img.example/p.png";
	c.profile = "handle";
	c.credentials = "sealed-credentials";
	char *id = NULL;
	assert_int_equal(store_channel_create(f->st, f->a, &c, &id), 0);
	assert_non_null(id);
	return id;
}

static struct store_post_write pw(const char *org, const char *chan, const char *group,
				  const char *state, int64_t at,
				  const struct store_post_item *items, size_t n)
{
	struct store_post_write w = {0};
	w.org_id = org;
	w.channel_id = chan;
	w.group = group;
	w.settings = "{}";
	w.state = state;
	w.publish_at = at;
	w.items = items;
	w.nitems = n;
	return w;
}

/* A one-item thread in a new group; returns the root id. */
static char *post1(struct fx *f, const char *org, const char *chan, const char *state,
		   int64_t at, char **group_out)
{
	struct store_post_item it = {NULL, "single", NULL, 0};
	char *g = new_group(f);
	struct store_post_write w = pw(org, chan, g, state, at, &it, 1);
	char *root = NULL, *msg = NULL;
	assert_int_equal(store_post_write(f->st, f->a, &w, &root, &msg), 0);
	if (group_out)
		*group_out = g;
	return root;
}

/* A three-item thread; ids[] gets root, second, third. */
static void thread3(struct fx *f, const char *org, const char *chan, const char *state,
		    const char *group, char *ids[3])
{
	struct store_post_item it[3] = {
		{NULL, "one", "[{\"path\":\"a.png\"}]", 0},
		{NULL, "two", NULL, 5},
		{NULL, "three", NULL, 10},
	};
	struct store_post_write w = pw(org, chan, group, state, T0, it, 3);
	char *root = NULL, *msg = NULL;
	assert_int_equal(store_post_write(f->st, f->a, &w, &root, &msg), 0);
	struct store_post *p = NULL;
	size_t n = 0;
	assert_int_equal(store_post_thread(f->st, f->a, org, root, &p, &n), 0);
	assert_int_equal(n, 3);
	for (int i = 0; i < 3; i++)
		ids[i] = p[i].id;
}

/* ---- tests ---- */

static void test_migrate_twice(void **state)
{
	struct fx *f = *state;
	char err[256] = "";
	char *before = f->org_a;
	assert_int_equal(store_migrate(f->st, err, sizeof(err)), 0);
	assert_int_equal(raw_int(f, "SELECT COUNT(*) FROM schema_migrations", NULL, NULL),
			 SCHEMA_VERSION);
	assert_int_equal(raw_int(f, "SELECT MAX(version) FROM schema_migrations", NULL, NULL),
			 SCHEMA_VERSION);
	/* a restarted process: a new handle migrates again, data survives */
	struct store *st2 = NULL;
	assert_int_equal(store_open(f->url, f->dir, &st2, err, sizeof(err)), 0);
	assert_int_equal(store_migrate(st2, err, sizeof(err)), 0);
	assert_int_equal(store_ping(st2), 0);
	assert_string_equal(store_backend(st2), f->drv->name);
	char *again = NULL;
	assert_int_equal(store_org_ensure(st2, f->a, f->org_a_name, &again), 0);
	assert_str(again, before);
	store_close(st2);
	assert_int_equal(raw_int(f, "SELECT COUNT(*) FROM schema_migrations", NULL, NULL),
			 SCHEMA_VERSION);
}

static void test_org_ensure(void **state)
{
	struct fx *f = *state;
	char *name = uniq(f, "acme"), *id1 = NULL, *id2 = NULL, *other = NULL;
	assert_int_equal(store_org_ensure(f->st, f->a, name, &id1), 0);
	assert_non_null(id1);
	assert_int_equal(strlen(id1), ULID_LEN);
	assert_int_equal(store_org_ensure(f->st, f->a, name, &id2), 0);
	assert_str(id2, id1);
	assert_int_equal(store_org_ensure(f->st, f->a, uniq(f, "acme"), &other), 0);
	assert_non_null(other);
	assert_string_not_equal(other, id1);
	assert_int_equal(raw_int(f, "SELECT COUNT(*) FROM orgs WHERE name = $1", name, NULL), 1);
}

static const struct store_key *find_key(const struct store_key *v, size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i].id, id))
			return &v[i];
	return NULL;
}

static void test_keys(void **state)
{
	struct fx *f = *state;
	char hash[KEY_HASH_LEN + 1], hash2[KEY_HASH_LEN + 1];
	random_hex(32, hash);
	random_hex(32, hash2);
	char *kid = NULL, *kid2 = NULL, *org = NULL, *key = NULL, *dup = NULL;
	assert_int_equal(store_key_create(f->st, f->a, f->org_a, hash, "…abcd", &kid), 0);
	assert_int_equal(store_key_create(f->st, f->a, f->org_a, hash2, "…ef01", &kid2), 0);
	assert_string_not_equal(kid, kid2);

	assert_int_equal(store_key_lookup(f->st, f->a, hash, &org, &key), 0);
	assert_str(org, f->org_a);
	assert_str(key, kid);
	assert_int_equal(store_key_lookup(f->st, f->a, "no-such-hash", &org, &key), STORE_NOTFOUND);

	/* a hash is unique */
	quiet(1);
	assert_int_equal(store_key_create(f->st, f->a, f->org_b, hash, "dup", &dup), -1);
	quiet(0);
	assert_null(dup);

	struct store_key *v = NULL;
	size_t n = 0;
	assert_int_equal(store_key_list(f->st, f->a, &v, &n), 0);
	const struct store_key *k = find_key(v, n, kid);
	assert_non_null(k);
	assert_str(k->org_id, f->org_a);
	assert_str(k->org_name, f->org_a_name);
	assert_str(k->hint, "…abcd");
	assert_true(k->created_at > 0);
	assert_int_equal(k->revoked_at, 0);

	assert_int_equal(store_key_revoke(f->st, kid), 0);
	assert_int_equal(store_key_lookup(f->st, f->a, hash, &org, &key), STORE_NOTFOUND);
	assert_int_equal(store_key_revoke(f->st, kid), STORE_NOTFOUND);
	assert_int_equal(store_key_revoke(f->st, "no-such-key"), STORE_NOTFOUND);
	/* the other key of the org is untouched */
	org = key = NULL;
	assert_int_equal(store_key_lookup(f->st, f->a, hash2, &org, &key), 0);
	assert_str(org, f->org_a);
	assert_str(key, kid2);

	assert_int_equal(store_key_list(f->st, f->a, &v, &n), 0);
	k = find_key(v, n, kid);
	assert_non_null(k);
	assert_true(k->revoked_at >= k->created_at);
	k = find_key(v, n, kid2);
	assert_non_null(k);
	assert_int_equal(k->revoked_at, 0);
}

static const struct store_channel *find_channel(const struct store_channel *v, size_t n,
						const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i].id, id))
			return &v[i];
	return NULL;
}

static void test_channels(void **state)
{
	struct fx *f = *state;
	char *c1 = mk_channel(f, f->org_a, "Chan 1");
	char *c2 = mk_channel(f, f->org_a, "Chan 2");
	char *c3 = mk_channel(f, f->org_b, "Chan 3");

	struct store_channel *v = NULL, *c = NULL;
	size_t n = 0;
	assert_int_equal(store_channel_list(f->st, f->a, f->org_a, NULL, &v, &n), 0);
	assert_int_equal(n, 2);
	const struct store_channel *l1 = find_channel(v, n, c1);
	assert_non_null(l1);
	assert_non_null(find_channel(v, n, c2));
	assert_str(l1->org_id, f->org_a);
	assert_str(l1->provider, "x");
	assert_str(l1->name, "Chan 1");
	assert_str(l1->picture, "https://img.example/p.png");
	assert_str(l1->profile, "handle");
	assert_null(l1->customer_id);
	assert_null(l1->customer_name);
	assert_str(l1->credentials, "sealed-credentials");
	assert_str(l1->posting_times, "[{\"time\":120},{\"time\":400},{\"time\":700}]");
	assert_str(l1->timezone, "UTC");
	assert_int_equal(l1->disabled, 0);
	assert_true(l1->created_at > 0);

	/* org isolation */
	assert_int_equal(store_channel_get(f->st, f->a, f->org_b, c1, &c), STORE_NOTFOUND);
	assert_int_equal(store_channel_delete(f->st, f->org_b, c1), STORE_NOTFOUND);
	assert_int_equal(store_channel_set_times(f->st, f->org_b, c1, "[]"), STORE_NOTFOUND);
	assert_int_equal(store_channel_get(f->st, f->a, f->org_a, c1, &c), 0);
	assert_str(c->id, c1);
	assert_str(c->name, "Chan 1");
	assert_int_equal(store_channel_list(f->st, f->a, f->org_b, NULL, &v, &n), 0);
	assert_int_equal(n, 1);
	assert_str(v[0].id, c3);

	assert_int_equal(store_channel_set_times(f->st, f->org_a, c1, "[{\"time\":60}]"), 0);
	assert_int_equal(store_channel_get(f->st, f->a, f->org_a, c1, &c), 0);
	assert_str(c->posting_times, "[{\"time\":60}]");

	/* customers */
	char *cu = NULL, *cu2 = NULL;
	assert_int_equal(store_customer_ensure(f->st, f->a, f->org_a, "Customer", &cu), 0);
	assert_int_equal(store_customer_ensure(f->st, f->a, f->org_a, "Customer", &cu2), 0);
	assert_str(cu2, cu);
	assert_int_equal(store_channel_set_customer(f->st, f->org_b, c2, cu), STORE_NOTFOUND);
	assert_int_equal(store_channel_set_customer(f->st, f->org_a, c2, cu), 0);
	assert_int_equal(store_channel_list(f->st, f->a, f->org_a, cu, &v, &n), 0);
	assert_int_equal(n, 1);
	assert_str(v[0].id, c2);
	assert_str(v[0].customer_id, cu);
	assert_str(v[0].customer_name, "Customer");
	struct store_customer *cv = NULL;
	assert_int_equal(store_customer_list(f->st, f->a, f->org_a, &cv, &n), 0);
	assert_int_equal(n, 1);
	assert_str(cv[0].id, cu);
	assert_int_equal(store_customer_list(f->st, f->a, f->org_b, &cv, &n), 0);
	assert_int_equal(n, 0);

	/* delete: gone from reads, its unpublished posts canceled */
	char *queued = post1(f, f->org_a, c1, PS_QUEUED, T0, NULL);
	char *done = post1(f, f->org_a, c1, PS_QUEUED, T0, NULL);
	raw_set_state(f, done, PS_PUBLISHED);
	char *other = post1(f, f->org_a, c2, PS_QUEUED, T0, NULL);
	assert_int_equal(store_channel_delete(f->st, f->org_a, c1), 0);
	assert_int_equal(store_channel_get(f->st, f->a, f->org_a, c1, &c), STORE_NOTFOUND);
	assert_int_equal(store_channel_delete(f->st, f->org_a, c1), STORE_NOTFOUND);
	assert_int_equal(store_channel_list(f->st, f->a, f->org_a, NULL, &v, &n), 0);
	assert_int_equal(n, 1);
	assert_str(v[0].id, c2);
	assert_str(raw_state(f, queued), PS_CANCELED);
	assert_int_equal(raw_deleted(f, queued), 1);
	assert_str(raw_state(f, done), PS_PUBLISHED);
	assert_int_equal(raw_deleted(f, done), 1);
	assert_str(raw_state(f, other), PS_QUEUED);
	assert_int_equal(raw_deleted(f, other), 0);
	struct store_post *p = NULL;
	assert_int_equal(store_post_thread(f->st, f->a, f->org_a, queued, &p, &n), STORE_NOTFOUND);
	/* org B untouched */
	assert_int_equal(store_channel_get(f->st, f->a, f->org_b, c3, &c), 0);
}

static void test_tags(void **state)
{
	struct fx *f = *state;
	char *t1 = NULL, *t1b = NULL, *t2 = NULL, *tb = NULL;
	assert_int_equal(store_tag_ensure(f->st, f->a, f->org_a, "red", "#ff0000", &t1), 0);
	assert_int_equal(store_tag_ensure(f->st, f->a, f->org_a, "red", "#000000", &t1b), 0);
	assert_str(t1b, t1);
	assert_int_equal(store_tag_ensure(f->st, f->a, f->org_a, "blue", NULL, &t2), 0);
	assert_int_equal(store_tag_ensure(f->st, f->a, f->org_b, "red", NULL, &tb), 0);
	assert_string_not_equal(tb, t1);
	struct store_tag *v = NULL;
	size_t n = 0;
	assert_int_equal(store_tag_list(f->st, f->a, f->org_a, &v, &n), 0);
	assert_int_equal(n, 2);
	assert_str(v[0].name, "blue");
	assert_str(v[0].color, "#6366f1");
	assert_str(v[0].id, t2);
	assert_str(v[1].name, "red");
	assert_str(v[1].color, "#ff0000");
	assert_int_equal(store_tag_list(f->st, f->a, f->org_b, &v, &n), 0);
	assert_int_equal(n, 1);
}

static void test_thread_write(void **state)
{
	struct fx *f = *state;
	char *chan = mk_channel(f, f->org_a, "Thread chan");
	char *tag = NULL, *tag_b = NULL;
	assert_int_equal(store_tag_ensure(f->st, f->a, f->org_a, "launch", NULL, &tag), 0);
	assert_int_equal(store_tag_ensure(f->st, f->a, f->org_b, "launch", NULL, &tag_b), 0);

	struct store_post_item it[3] = {
		{NULL, "one", "[{\"path\":\"a.png\"}]", 0},
		{NULL, "two", NULL, 5},
		{NULL, "three", NULL, 10},
	};
	const char *tags[] = {"launch", "no-such-tag"};
	char *g = new_group(f);
	struct store_post_write w = pw(f->org_a, chan, g, PS_QUEUED, T0, it, 3);
	w.settings = "{\"k\":1}";
	w.tag_names = tags;
	w.ntags = 2;
	char *root = NULL, *msg = NULL;
	assert_int_equal(store_post_write(f->st, f->a, &w, &root, &msg), 0);
	assert_non_null(root);

	struct store_post *p = NULL;
	size_t n = 0;
	assert_int_equal(store_post_thread(f->st, f->a, f->org_a, root, &p, &n), 0);
	assert_int_equal(n, 3);
	/* any row of the thread finds the whole thread */
	char *third = p[2].id;
	assert_int_equal(store_post_thread(f->st, f->a, f->org_a, third, &p, &n), 0);
	assert_int_equal(n, 3);
	assert_str(p[0].id, root);
	assert_null(p[0].parent_id);
	assert_str(p[1].parent_id, p[0].id);
	assert_str(p[2].parent_id, p[1].id);
	const char *content[] = {"one", "two", "three"};
	for (int i = 0; i < 3; i++) {
		assert_int_equal(p[i].position, i);
		assert_str(p[i].grp, g);
		assert_str(p[i].org_id, f->org_a);
		assert_str(p[i].channel_id, chan);
		assert_str(p[i].content, content[i]);
		assert_str(p[i].state, PS_QUEUED);
		assert_int_equal(p[i].publish_at, T0);
		assert_int_equal(p[i].delay_min, i * 5);
		assert_str(p[i].settings, "{\"k\":1}");
		assert_str(p[i].creation_method, "API");
		assert_int_equal(p[i].interval_days, 0);
		assert_int_equal(p[i].attempts, 0);
		assert_null(p[i].release_id);
		assert_null(p[i].error);
		assert_str(p[i].channel_provider, "x");
		assert_str(p[i].channel_name, "Thread chan");
		assert_str(p[i].channel_picture, "https://img.example/p.png");
		assert_true(p[i].created_at > 0);
	}
	assert_str(p[0].media, "[{\"path\":\"a.png\"}]");
	assert_str(p[1].media, "[]");
	/* tags: the root's, from the org's own tags; unknown names ignored */
	assert_int_equal(p[0].ntags, 1);
	assert_str(p[0].tags[0].id, tag);
	assert_str(p[0].tags[0].name, "launch");
	assert_int_equal(raw_int(f, "SELECT COUNT(*) FROM post_tags WHERE post_id = $1", root, NULL),
			 1);

	/* isolation and absence */
	assert_int_equal(store_post_thread(f->st, f->a, f->org_b, root, &p, &n), STORE_NOTFOUND);
	assert_int_equal(store_post_thread(f->st, f->a, f->org_a, "no-such-post", &p, &n),
			 STORE_NOTFOUND);
}

static void test_edit_rotates_group(void **state)
{
	struct fx *f = *state;
	char *chan = mk_channel(f, f->org_a, "Edit chan");
	char *ids[3];
	char *g1 = new_group(f);
	thread3(f, f->org_a, chan, PS_QUEUED, g1, ids);

	/* re-send the root edited, drop the 2nd and 3rd, add a new one */
	struct store_post_item it[2] = {
		{ids[0], "one v2", NULL, 0},
		{NULL, "new", NULL, 0},
	};
	char *g2 = new_group(f);
	struct store_post_write w = pw(f->org_a, chan, g2, PS_QUEUED, T0 + HOUR, it, 2);
	w.old_group = g1;
	char *root = NULL, *msg = NULL;
	assert_int_equal(store_post_write(f->st, f->a, &w, &root, &msg), 0);
	assert_str(root, ids[0]);

	struct store_post *p = NULL;
	size_t n = 0;
	assert_int_equal(store_post_thread(f->st, f->a, f->org_a, ids[0], &p, &n), 0);
	assert_int_equal(n, 2);
	assert_str(p[0].id, ids[0]);
	assert_str(p[0].grp, g2);
	assert_str(p[0].content, "one v2");
	assert_int_equal(p[0].publish_at, T0 + HOUR);
	assert_str(p[1].grp, g2);
	assert_str(p[1].content, "new");
	assert_str(p[1].parent_id, ids[0]);
	assert_string_not_equal(p[1].id, ids[1]);
	assert_string_not_equal(p[1].id, ids[2]);
	char *added = p[1].id;

	/* rows not re-sent: soft-deleted and canceled */
	for (int i = 1; i < 3; i++) {
		assert_int_equal(store_post_thread(f->st, f->a, f->org_a, ids[i], &p, &n),
				 STORE_NOTFOUND);
		assert_int_equal(raw_deleted(f, ids[i]), 1);
		assert_str(raw_state(f, ids[i]), PS_CANCELED);
	}
	assert_int_equal(raw_deleted(f, ids[0]), 0);
	int dn = -1, inflight = -1;
	assert_int_equal(store_post_delete_group(f->st, f->org_a, g1, &dn, &inflight),
			 STORE_NOTFOUND);
	assert_int_equal(dn, 0);

	/* a client-chosen id for a new row is kept */
	char *custom = uniq(f, "client");
	struct store_post_item it3[2] = {
		{ids[0], "one v3", NULL, 0},
		{custom, "client row", NULL, 0},
	};
	char *g3 = new_group(f);
	w = pw(f->org_a, chan, g3, PS_QUEUED, T0, it3, 2);
	w.old_group = g2;
	assert_int_equal(store_post_write(f->st, f->a, &w, &root, &msg), 0);
	assert_int_equal(store_post_thread(f->st, f->a, f->org_a, custom, &p, &n), 0);
	assert_int_equal(n, 2);
	assert_str(p[0].id, ids[0]);
	assert_str(p[1].id, custom);
	assert_str(p[1].parent_id, ids[0]);
	assert_int_equal(raw_deleted(f, added), 1);

	/* type update (state NULL) keeps each row's state */
	assert_int_equal(store_post_set_state(f->st, f->org_a, ids[0], PS_QUEUED, PS_DRAFT), 0);
	char *g4 = new_group(f);
	w = pw(f->org_a, chan, g4, NULL, T0, it3, 2);
	w.old_group = g3;
	assert_int_equal(store_post_write(f->st, f->a, &w, &root, &msg), 0);
	assert_int_equal(store_post_thread(f->st, f->a, f->org_a, ids[0], &p, &n), 0);
	assert_int_equal(n, 2);
	assert_str(p[0].grp, g4);
	assert_str(p[0].state, PS_DRAFT);
	assert_str(p[1].state, PS_DRAFT);
}

static void test_republish_guard(void **state)
{
	struct fx *f = *state;
	char *chan = mk_channel(f, f->org_a, "Guard chan");
	char *g1 = NULL;
	char *r = post1(f, f->org_a, chan, PS_QUEUED, T0, &g1);
	raw_set_state(f, r, PS_PUBLISHED);

	struct store_post_item it = {r, "again", NULL, 0};
	char *g2 = new_group(f);
	struct store_post_write w = pw(f->org_a, chan, g2, PS_QUEUED, T0, &it, 1);
	w.old_group = g1;
	char *root = NULL, *msg = NULL;
	assert_int_equal(store_post_write(f->st, f->a, &w, &root, &msg), STORE_CONFLICT);
	assert_non_null(msg);
	assert_non_null(strstr(msg, "already published"));
	/* refused writes change nothing */
	struct store_post *p = NULL;
	size_t n = 0;
	assert_int_equal(store_post_thread(f->st, f->a, f->org_a, r, &p, &n), 0);
	assert_str(p[0].grp, g1);
	assert_str(p[0].content, "single");
	assert_str(p[0].state, PS_PUBLISHED);

	/* type update: allowed, state kept */
	w.state = NULL;
	assert_int_equal(store_post_write(f->st, f->a, &w, &root, &msg), 0);
	assert_int_equal(store_post_thread(f->st, f->a, f->org_a, r, &p, &n), 0);
	assert_str(p[0].grp, g2);
	assert_str(p[0].content, "again");
	assert_str(p[0].state, PS_PUBLISHED);

	/* republish: true */
	char *g3 = new_group(f);
	w = pw(f->org_a, chan, g3, PS_QUEUED, T0, &it, 1);
	w.old_group = g2;
	w.republish = 1;
	assert_int_equal(store_post_write(f->st, f->a, &w, &root, &msg), 0);
	assert_int_equal(store_post_thread(f->st, f->a, f->org_a, r, &p, &n), 0);
	assert_str(p[0].grp, g3);
	assert_str(p[0].state, PS_QUEUED);

	/* a row being published cannot be edited, even with republish */
	raw_set_state(f, r, PS_PUBLISHING);
	char *g4 = new_group(f);
	w = pw(f->org_a, chan, g4, PS_QUEUED, T0, &it, 1);
	w.old_group = g3;
	w.republish = 1;
	msg = NULL;
	assert_int_equal(store_post_write(f->st, f->a, &w, &root, &msg), STORE_CONFLICT);
	assert_non_null(msg);
	assert_non_null(strstr(msg, "being published"));

	/* another org cannot write over the id */
	char *chan_b = mk_channel(f, f->org_b, "B chan");
	w = pw(f->org_b, chan_b, new_group(f), PS_QUEUED, T0, &it, 1);
	msg = NULL;
	assert_int_equal(store_post_write(f->st, f->a, &w, &root, &msg), STORE_NOTFOUND);
	assert_non_null(msg);
	assert_non_null(strstr(msg, "not found"));
	assert_int_equal(store_post_thread(f->st, f->a, f->org_a, r, &p, &n), 0);
	assert_str(p[0].org_id, f->org_a);
	assert_str(p[0].grp, g3);
}

static void test_post_list(void **state)
{
	struct fx *f = *state;
	char *ca1 = mk_channel(f, f->org_a, "A1");
	char *ca2 = mk_channel(f, f->org_a, "A2");
	char *cb = mk_channel(f, f->org_b, "B1");
	char *cu = NULL, *t = NULL;
	assert_int_equal(store_customer_ensure(f->st, f->a, f->org_a, "Cust", &cu), 0);
	assert_int_equal(store_channel_set_customer(f->st, f->org_a, ca1, cu), 0);
	assert_int_equal(store_tag_ensure(f->st, f->a, f->org_a, "red", NULL, &t), 0);
	assert_int_equal(store_tag_ensure(f->st, f->a, f->org_a, "blue", NULL, &t), 0);

	/* p1: at the range start, tagged */
	struct store_post_item one = {NULL, "p1", NULL, 0};
	const char *tags[] = {"red", "blue"};
	struct store_post_write w = pw(f->org_a, ca1, new_group(f), PS_QUEUED, T0, &one, 1);
	w.tag_names = tags;
	w.ntags = 2;
	char *p1 = NULL, *msg = NULL;
	assert_int_equal(store_post_write(f->st, f->a, &w, &p1, &msg), 0);
	/* p2: a two-item thread at the range end (inclusive) */
	struct store_post_item two[2] = {{NULL, "p2", NULL, 0}, {NULL, "p2 child", NULL, 0}};
	w = pw(f->org_a, ca2, new_group(f), PS_DRAFT, T0 + HOUR, two, 2);
	char *p2 = NULL;
	assert_int_equal(store_post_write(f->st, f->a, &w, &p2, &msg), 0);
	/* p3: past the range */
	post1(f, f->org_a, ca1, PS_QUEUED, T0 + HOUR + 1, NULL);
	/* p4: long before, but repeating */
	struct store_post_item four = {NULL, "p4", NULL, 0};
	w = pw(f->org_a, ca2, new_group(f), PS_QUEUED, T0 - 10 * DAY, &four, 1);
	w.interval_days = 7;
	char *p4 = NULL;
	assert_int_equal(store_post_write(f->st, f->a, &w, &p4, &msg), 0);
	/* p5: in range, deleted */
	char *g5 = NULL;
	post1(f, f->org_a, ca1, PS_QUEUED, T0 + 60000, &g5);
	int dn = 0, inflight = 0;
	assert_int_equal(store_post_delete_group(f->st, f->org_a, g5, &dn, &inflight), 0);
	/* another org's post in range */
	char *pb = post1(f, f->org_b, cb, PS_QUEUED, T0, NULL);

	struct store_post_filter flt = {f->org_a, T0, T0 + HOUR, NULL};
	struct store_post *v = NULL;
	size_t n = 0;
	assert_int_equal(store_post_list(f->st, f->a, &flt, &v, &n), 0);
	assert_int_equal(n, 3);
	assert_str(v[0].id, p4);
	assert_int_equal(v[0].interval_days, 7);
	assert_int_equal(v[0].publish_at, T0 - 10 * DAY);
	assert_int_equal(v[0].ntags, 0);
	assert_str(v[1].id, p1);
	assert_str(v[1].content, "p1");
	assert_str(v[1].channel_name, "A1");
	assert_int_equal(v[1].ntags, 2);
	assert_str(v[1].tags[0].name, "blue");
	assert_str(v[1].tags[1].name, "red");
	assert_str(v[2].id, p2);
	assert_str(v[2].state, PS_DRAFT);
	assert_int_equal(v[2].ntags, 0);
	for (size_t i = 0; i < n; i++)
		assert_null(v[i].parent_id);

	/* by customer: only channel A1 */
	flt.customer_id = cu;
	assert_int_equal(store_post_list(f->st, f->a, &flt, &v, &n), 0);
	assert_int_equal(n, 1);
	assert_str(v[0].id, p1);

	/* a narrower range still has the repeating post */
	struct store_post_filter late = {f->org_a, T0 + 1, T0 + HOUR - 1, NULL};
	assert_int_equal(store_post_list(f->st, f->a, &late, &v, &n), 0);
	assert_int_equal(n, 1);
	assert_str(v[0].id, p4);

	struct store_post_filter fb = {f->org_b, T0, T0 + HOUR, NULL};
	assert_int_equal(store_post_list(f->st, f->a, &fb, &v, &n), 0);
	assert_int_equal(n, 1);
	assert_str(v[0].id, pb);
}

static void test_delete_group(void **state)
{
	struct fx *f = *state;
	char *chan = mk_channel(f, f->org_a, "Del chan");
	char *ids[3];
	char *g = new_group(f);
	thread3(f, f->org_a, chan, PS_QUEUED, g, ids);

	int dn = -1, inflight = -1;
	assert_int_equal(store_post_delete_group(f->st, f->org_b, g, &dn, &inflight),
			 STORE_NOTFOUND);
	assert_int_equal(dn, 0);
	assert_int_equal(inflight, 0);
	struct store_post *p = NULL;
	size_t n = 0;
	assert_int_equal(store_post_thread(f->st, f->a, f->org_a, ids[0], &p, &n), 0);
	assert_int_equal(n, 3);

	assert_int_equal(store_post_delete_group(f->st, f->org_a, g, &dn, &inflight), 0);
	assert_int_equal(dn, 3);
	assert_int_equal(inflight, 0);
	assert_int_equal(store_post_thread(f->st, f->a, f->org_a, ids[0], &p, &n), STORE_NOTFOUND);
	for (int i = 0; i < 3; i++) {
		assert_str(raw_state(f, ids[i]), PS_CANCELED);
		assert_int_equal(raw_deleted(f, ids[i]), 1);
	}
	assert_int_equal(store_post_delete_group(f->st, f->org_a, g, &dn, &inflight),
			 STORE_NOTFOUND);
	assert_int_equal(dn, 0);

	/* drafts are canceled too; published rows keep their state */
	char *g2 = new_group(f);
	thread3(f, f->org_a, chan, PS_DRAFT, g2, ids);
	raw_set_state(f, ids[0], PS_PUBLISHED);
	assert_int_equal(store_post_delete_group(f->st, f->org_a, g2, &dn, &inflight), 0);
	assert_int_equal(dn, 3);
	assert_int_equal(inflight, 0);
	assert_str(raw_state(f, ids[0]), PS_PUBLISHED);
	assert_str(raw_state(f, ids[1]), PS_CANCELED);
	assert_int_equal(raw_deleted(f, ids[0]), 1);

	/* a row being published: refused, reported, nothing changed */
	char *g3 = new_group(f);
	thread3(f, f->org_a, chan, PS_QUEUED, g3, ids);
	raw_set_state(f, ids[0], PS_PUBLISHING);
	dn = -1;
	assert_int_equal(store_post_delete_group(f->st, f->org_a, g3, &dn, &inflight),
			 STORE_CONFLICT);
	assert_int_equal(inflight, 1);
	assert_int_equal(dn, 0);
	assert_str(raw_state(f, ids[0]), PS_PUBLISHING);
	assert_str(raw_state(f, ids[2]), PS_QUEUED);
	for (int i = 0; i < 3; i++)
		assert_int_equal(raw_deleted(f, ids[i]), 0);
	/* another org learns nothing, not even that it is in flight */
	assert_int_equal(store_post_delete_group(f->st, f->org_b, g3, &dn, &inflight),
			 STORE_NOTFOUND);
	assert_int_equal(inflight, 0);
}

static void test_set_state(void **state)
{
	struct fx *f = *state;
	char *chan = mk_channel(f, f->org_a, "State chan");
	char *ids[3];
	char *g = new_group(f);
	thread3(f, f->org_a, chan, PS_DRAFT, g, ids);
	struct store_post *p = NULL;
	size_t n = 0;

	assert_int_equal(store_post_set_state(f->st, f->org_a, ids[0], PS_DRAFT, PS_QUEUED), 0);
	assert_int_equal(store_post_thread(f->st, f->a, f->org_a, ids[0], &p, &n), 0);
	for (size_t i = 0; i < n; i++)
		assert_str(p[i].state, PS_QUEUED);
	/* from a state the group is not in */
	assert_int_equal(store_post_set_state(f->st, f->org_a, ids[0], PS_DRAFT, PS_QUEUED),
			 STORE_CONFLICT);
	/* another org: refused, nothing changes */
	assert_int_not_equal(store_post_set_state(f->st, f->org_b, ids[0], PS_QUEUED, PS_DRAFT), 0);
	assert_str(raw_state(f, ids[0]), PS_QUEUED);
	assert_str(raw_state(f, ids[2]), PS_QUEUED);
	assert_int_equal(store_post_set_state(f->st, f->org_a, ids[0], PS_QUEUED, PS_DRAFT), 0);
	assert_str(raw_state(f, ids[1]), PS_DRAFT);

	/* settings and release */
	assert_int_equal(store_post_set_settings(f->st, f->org_a, g, "{\"x\":2}"), 0);
	assert_int_equal(store_post_set_settings(f->st, f->org_b, g, "{}"), STORE_NOTFOUND);
	assert_int_equal(store_post_set_release(f->st, f->org_a, ids[0], "rel-1", "https://u/1"), 0);
	assert_int_equal(store_post_set_release(f->st, f->org_a, ids[0], "rel-2", NULL), 0);
	assert_int_equal(store_post_set_release(f->st, f->org_b, ids[0], "x", "y"), STORE_NOTFOUND);
	assert_int_equal(store_post_thread(f->st, f->a, f->org_a, ids[0], &p, &n), 0);
	assert_str(p[0].release_id, "rel-2");
	assert_str(p[0].release_url, "https://u/1");
	assert_str(p[2].settings, "{\"x\":2}");
	assert_null(p[1].release_id);
	assert_null(p[0].release_data);

	/* a published item keeps the provider's release data (a Telegram
	 * album's message ids), read back with the thread the engine loads */
	assert_int_equal(store_engine_published(f->st, ids[0], "owner-x", ids[1], NULL, "10",
						"https://t.me/c/1/10", "{\"message_ids\":[10,12,15]}", 200,
						NULL, 0, T0),
			 0);
	struct store_post *t;
	size_t tn;
	assert_int_equal(store_engine_thread(f->st, f->a, ids[0], &t, &tn), 0);
	assert_int_equal(tn, 3);
	assert_str(t[1].release_id, "10");
	assert_str(t[1].release_data, "{\"message_ids\":[10,12,15]}");
	assert_null(t[0].release_data);
}

static void test_count_at(void **state)
{
	struct fx *f = *state;
	char *chan = mk_channel(f, f->org_a, "Count chan");
	char *chan_b = mk_channel(f, f->org_b, "Count B");
	char *ids[3];
	thread3(f, f->org_a, chan, PS_QUEUED, new_group(f), ids); /* root at T0, 2 children */
	post1(f, f->org_a, chan, PS_DRAFT, T0 + 59999, NULL);
	post1(f, f->org_a, chan, PS_QUEUED, T0 + 60000, NULL);
	char *gd = NULL;
	post1(f, f->org_a, chan, PS_QUEUED, T0 + 1, &gd);
	int dn = 0, inflight = 0;
	assert_int_equal(store_post_delete_group(f->st, f->org_a, gd, &dn, &inflight), 0);
	post1(f, f->org_b, chan_b, PS_QUEUED, T0, NULL);

	int c = -1;
	assert_int_equal(store_post_count_at(f->st, f->org_a, T0, T0 + 60000, &c), 0);
	assert_int_equal(c, 2);
	assert_int_equal(store_post_count_at(f->st, f->org_a, T0, T0 + 60001, &c), 0);
	assert_int_equal(c, 3);
	assert_int_equal(store_post_count_at(f->st, f->org_a, T0 + 1, T0 + 60000, &c), 0);
	assert_int_equal(c, 1);
	assert_int_equal(store_post_count_at(f->st, f->org_b, T0, T0 + 60000, &c), 0);
	assert_int_equal(c, 1);
	assert_int_equal(store_post_count_at(f->st, f->org_a, 0, 1, &c), 0);
	assert_int_equal(c, 0);
}

/* The driver contract of db.h, identical on both drivers. */
static void test_driver(void **state)
{
	struct fx *f = *state;
	const struct db_driver *d = f->drv;
	struct db *db = f->raw;
	assert_int_equal(d->exec(db, "CREATE TABLE IF NOT EXISTS drv_t ("
				     " k TEXT PRIMARY KEY, n BIGINT NOT NULL, note TEXT);"
				     " DELETE FROM drv_t"),
			 0);
	static const char *const ins = "INSERT INTO drv_t(k, n, note) VALUES ($1, $2, $3)";
	struct db_stmt *s = NULL, *s2 = NULL;
	assert_int_equal(d->prepare(db, ins, &s), 0);
	assert_int_equal(d->prepare(db, ins, &s2), 0);
	assert_ptr_equal(s, s2); /* cached per SQL pointer */
	const int64_t big = 9007199254740993LL; /* 2^53 + 1: not a double */
	d->bind_text(s, 1, "a");
	d->bind_int64(s, 2, big);
	d->bind_text(s, 3, NULL);
	assert_int_equal(d->step(s), DB_DONE);
	assert_int_equal(d->changes(s), 1);
	d->reset(s);
	d->bind_text(s, 1, "b");
	d->bind_int64(s, 2, -5);
	d->bind_null(s, 3);
	assert_int_equal(d->step(s), DB_DONE);
	d->reset(s);
	d->bind_text(s, 1, "c");
	d->bind_int64(s, 2, 0);
	d->bind_text(s, 3, "x");
	assert_int_equal(d->step(s), DB_DONE);
	d->reset(s);
	assert_false(d->is_unique_violation(db));

	/* unique violation: reported, then cleared by the next success */
	quiet(1);
	d->bind_text(s, 1, "a");
	d->bind_int64(s, 2, 1);
	assert_int_equal(d->step(s), -1);
	quiet(0);
	d->reset(s);
	assert_true(d->is_unique_violation(db));
	assert_true(strlen(d->errmsg(db)) > 0);
	d->bind_text(s, 1, "d");
	d->bind_int64(s, 2, 1);
	assert_int_equal(d->step(s), DB_DONE);
	d->reset(s);
	assert_false(d->is_unique_violation(db));

	/* other failures are not unique violations */
	quiet(1);
	d->bind_text(s, 1, "e");
	assert_int_equal(d->step(s), -1); /* n NOT NULL */
	quiet(0);
	d->reset(s);
	assert_false(d->is_unique_violation(db));

	struct db_stmt *q = NULL;
	assert_int_equal(d->prepare(db, "SELECT k, n, note FROM drv_t ORDER BY k", &q), 0);
	assert_int_equal(d->step(q), DB_ROW);
	assert_string_equal(d->col_text(q, 0), "a");
	assert_true(d->col_int64(q, 1) == big);
	assert_true(d->col_null(q, 2));
	assert_null(d->col_text(q, 2));
	assert_false(d->col_null(q, 0));
	assert_int_equal(d->step(q), DB_ROW);
	assert_string_equal(d->col_text(q, 0), "b");
	assert_true(d->col_int64(q, 1) == -5);
	assert_true(d->col_null(q, 2));
	assert_int_equal(d->step(q), DB_ROW);
	assert_string_equal(d->col_text(q, 0), "c");
	assert_string_equal(d->col_text(q, 2), "x");
	assert_int_equal(d->step(q), DB_ROW);
	assert_string_equal(d->col_text(q, 0), "d");
	assert_int_equal(d->step(q), DB_DONE);
	d->reset(q);
	/* reset re-runs from the top */
	assert_int_equal(d->step(q), DB_ROW);
	assert_string_equal(d->col_text(q, 0), "a");
	d->reset(q);

	/* an unbound parameter is NULL */
	struct db_stmt *c = NULL;
	/* (PostgreSQL types an untyped parameter at its first use, and
	 * "$1 IS NULL" does not give one: hence the CAST) */
	assert_int_equal(d->prepare(db, "SELECT COUNT(*) FROM drv_t"
					" WHERE (CAST($1 AS TEXT) IS NULL OR k = $1)", &c),
			 0);
	assert_int_equal(d->step(c), DB_ROW);
	assert_int_equal(d->col_int64(c, 0), 4);
	d->reset(c);
	d->bind_text(c, 1, "b");
	assert_int_equal(d->step(c), DB_ROW);
	assert_int_equal(d->col_int64(c, 0), 1);
	d->reset(c);

	/* changes counts every row an UPDATE touched */
	struct db_stmt *u = NULL;
	assert_int_equal(d->prepare(db, "UPDATE drv_t SET note = $1 WHERE n <= $2", &u), 0);
	d->bind_text(u, 1, "y");
	d->bind_int64(u, 2, 1);
	assert_int_equal(d->step(u), DB_DONE);
	assert_int_equal(d->changes(u), 3);
	d->reset(u);

	/* transactions */
	assert_int_equal(d->exec(db, "BEGIN"), 0);
	d->bind_text(s, 1, "t1");
	d->bind_int64(s, 2, 1);
	assert_int_equal(d->step(s), DB_DONE);
	d->reset(s);
	assert_int_equal(d->exec(db, "ROLLBACK"), 0);
	assert_int_equal(d->exec(db, "BEGIN"), 0);
	d->bind_text(s, 1, "t2");
	d->bind_int64(s, 2, 1);
	assert_int_equal(d->step(s), DB_DONE);
	d->reset(s);
	assert_int_equal(d->exec(db, "COMMIT"), 0);
	assert_int_equal(d->step(c), DB_ROW);
	assert_int_equal(d->col_int64(c, 0), 5);
	d->reset(c);

	/* bad SQL fails at prepare */
	struct db_stmt *bad = NULL;
	quiet(1);
	assert_int_equal(d->prepare(db, "SELEC 1", &bad), -1);
	assert_int_equal(d->exec(db, "SELEC 1"), -1);
	quiet(0);
	assert_true(strlen(d->errmsg(db)) > 0);
}

/* PostgreSQL only: a broken connection comes back, but never mid-transaction. */
static void test_pg_reconnect(void **state)
{
	struct fx *f = *state;
	const struct db_driver *d = &db_pg_driver;
	struct db *db = NULL;
	char err[256];
	assert_int_equal(d->open(f->url, NULL, &db, err, sizeof(err)), 0);
	static const char *const kill = "SELECT pg_terminate_backend(pg_backend_pid())";
	static const char *const add = "SELECT $1::bigint + 1";
	struct db_stmt *s = NULL;
	assert_int_equal(d->prepare(db, add, &s), 0);
#define ADD_OK()                                         \
	do {                                             \
		d->bind_int64(s, 1, 41);                 \
		assert_int_equal(d->step(s), DB_ROW);    \
		assert_int_equal(d->col_int64(s, 0), 42); \
		d->reset(s);                             \
	} while (0)
	ADD_OK();

	/* outside a transaction: the next statement reconnects and re-prepares */
	quiet(1);
	assert_int_equal(d->exec(db, kill), -1);
	ADD_OK();

	/* inside: refused until ROLLBACK */
	assert_int_equal(d->exec(db, "BEGIN"), 0);
	assert_int_equal(d->exec(db, kill), -1);
	d->bind_int64(s, 1, 41);
	assert_int_equal(d->step(s), -1);
	d->reset(s);
	assert_int_equal(d->exec(db, "SELECT 1"), -1);
	assert_int_equal(d->exec(db, "ROLLBACK"), 0);
	ADD_OK();

	/* a COMMIT that fails with the connection ends the transaction too */
	assert_int_equal(d->exec(db, "BEGIN"), 0);
	assert_int_equal(d->exec(db, kill), -1);
	assert_int_equal(d->exec(db, "COMMIT"), -1);
	ADD_OK();

	/* COMMIT of a transaction an error aborted is a failure, not a rollback
	 * that reports success */
	assert_int_equal(d->exec(db, "BEGIN"), 0);
	assert_int_equal(d->exec(db, "SELECT 1/0"), -1);
	assert_int_equal(d->exec(db, "COMMIT"), -1);
	quiet(0);
	ADD_OK();
#undef ADD_OK
	d->close(db);
}

/* ---- fixtures ---- */

static int per_test_setup(void **state)
{
	struct fx *f = *state;
	f->a = arena_new();
	f->org_a_name = uniq(f, "org-a");
	if (store_org_ensure(f->st, f->a, f->org_a_name, &f->org_a))
		return -1;
	return store_org_ensure(f->st, f->a, uniq(f, "org-b"), &f->org_b);
}

static int per_test_teardown(void **state)
{
	struct fx *f = *state;
	arena_free(f->a);
	f->a = NULL;
	return 0;
}

static int open_store(struct fx *f)
{
	char err[256];
	if (store_open(f->url, f->dir, &f->st, err, sizeof(err)) ||
	    store_migrate(f->st, err, sizeof(err))) {
		fprintf(stderr, "store: %s\n", err);
		return -1;
	}
	if (f->drv->open(f->url, f->dir, &f->raw, err, sizeof(err))) {
		fprintf(stderr, "raw: %s\n", err);
		return -1;
	}
	return 0;
}

static void rm_dir(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	char path[512];
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			unlink(path);
		}
	closedir(d);
	rmdir(dir);
}

static struct fx sqlite_fx;

static int sqlite_setup(void **state)
{
	struct fx *f = &sqlite_fx;
	f->drv = &db_sqlite_driver;
	snprintf(f->dir, sizeof(f->dir), "/tmp/herald-test-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	*state = f;
	return open_store(f);
}

static int close_store(struct fx *f)
{
	if (f->raw)
		f->drv->close(f->raw);
	store_close(f->st);
	f->raw = NULL;
	f->st = NULL;
	return 0;
}

static int sqlite_teardown(void **state)
{
	struct fx *f = *state;
	close_store(f);
	rm_dir(f->dir);
	return 0;
}

static void no_notice(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

static int admin_exec(const char *url, const char *sql)
{
	PGconn *c = PQconnectdb(url);
	int ok = PQstatus(c) == CONNECTION_OK;
	if (ok) {
		PQsetNoticeProcessor(c, no_notice, NULL); /* "does not exist, skipping" */
		PGresult *r = PQexec(c, sql);
		ok = PQresultStatus(r) == PGRES_COMMAND_OK;
		if (!ok)
			fprintf(stderr, "%s: %s", sql, PQresultErrorMessage(r));
		PQclear(r);
	} else {
		fprintf(stderr, "cannot connect to %s: %s", url, PQerrorMessage(c));
	}
	PQfinish(c);
	return ok ? 0 : -1;
}

/* The admin URL with its database replaced by name. */
static char *url_with_db(const char *url, const char *name)
{
	const char *auth = strstr(url, "://");
	auth = auth ? auth + 3 : url;
	const char *q = strchr(auth, '?');
	const char *slash = strchr(auth, '/');
	if (slash && q && slash > q)
		slash = NULL;
	size_t head = slash ? (size_t)(slash - url) : q ? (size_t)(q - url) : strlen(url);
	size_t n = strlen(url) + strlen(name) + 2;
	char *out = xmalloc(n);
	snprintf(out, n, "%.*s/%s%s", (int)head, url, name, q ? q : "");
	return out;
}

static struct fx pg_fx;

static int pg_setup(void **state)
{
	struct fx *f = &pg_fx;
	f->drv = &db_pg_driver;
	snprintf(f->dbname, sizeof(f->dbname), "herald_t%ld", (long)getpid());
	char sql[128];
	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s", f->dbname);
	if (admin_exec(f->admin_url, sql))
		return -1;
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", f->dbname);
	if (admin_exec(f->admin_url, sql))
		return -1;
	f->url = url_with_db(f->admin_url, f->dbname);
	*state = f;
	return open_store(f);
}

static int pg_teardown(void **state)
{
	struct fx *f = *state;
	close_store(f);
	char sql[128];
	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s", f->dbname);
	admin_exec(f->admin_url, sql);
	free((char *)f->url);
	f->url = NULL;
	return 0;
}

static struct store_media mk_media(struct fx *f, const char *org, const char *id, const char *name)
{
	struct store_media m = {0};
	m.id = (char *)id;
	m.org_id = (char *)org;
	m.name = (char *)name;
	m.original_name = "cat.png";
	m.mime = "image/png";
	m.sha256 = "ab";
	m.bytes = 1234;
	m.width = 4;
	m.height = 3;
	m.created_at = T0;
	assert_int_equal(store_media_create(f->st, &m), 0);
	return m;
}

static void test_media(void **state)
{
	struct fx *f = *state;
	/* ids unique per test run: the PostgreSQL database is shared */
	char ids[3][27], names[3][40];
	for (int i = 0; i < 3; i++) {
		ulid_new(ids[i]);
		snprintf(names[i], sizeof(names[i]), "%s.png", ids[i]);
		for (char *p = names[i]; *p; p++)
			*p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
	}
	mk_media(f, f->org_a, ids[0], names[0]);
	mk_media(f, f->org_a, ids[1], names[1]);
	mk_media(f, f->org_b, ids[2], names[2]);
	struct store_media *m = NULL, *v = NULL;
	size_t n = 0;
	assert_int_equal(store_media_get(f->st, f->a, f->org_a, ids[0], &m), 0);
	assert_str(m->name, names[0]);
	assert_int_equal(m->bytes, 1234);
	assert_int_equal(m->width, 4);
	assert_int_equal(m->duration_ms, 0);
	assert_null(m->alt);
	/* tenancy: another org's id and name are not found */
	assert_int_equal(store_media_get(f->st, f->a, f->org_a, ids[2], &m), STORE_NOTFOUND);
	assert_int_equal(store_media_by_name(f->st, f->a, f->org_a, names[2], &m), STORE_NOTFOUND);
	assert_int_equal(store_media_by_name(f->st, f->a, NULL, names[2], &m), 0);
	assert_str(m->org_id, f->org_b);
	/* list: newest (greatest id) first, cursor pages */
	assert_int_equal(store_media_list(f->st, f->a, f->org_a, NULL, 1, &v, &n), 0);
	assert_int_equal(n, 1);
	assert_str(v[0].id, ids[1]);
	assert_int_equal(store_media_list(f->st, f->a, f->org_a, ids[1], 10, &v, &n), 0);
	assert_int_equal(n, 1);
	assert_str(v[0].id, ids[0]);
	/* a queued post referencing it (by /uploads/ name) blocks the delete */
	char *ch = mk_channel(f, f->org_a, "media");
	char media_json[160];
	snprintf(media_json, sizeof(media_json), "[{\"id\":\"m1\",\"path\":\"http://h/uploads/%s\"}]",
		 names[0]);
	struct store_post_item it = {NULL, "with media", media_json, 0};
	struct store_post_write w = pw(f->org_a, ch, new_group(f), PS_QUEUED, T0, &it, 1);
	char *root = NULL, *msg = NULL;
	assert_int_equal(store_post_write(f->st, f->a, &w, &root, &msg), 0);
	assert_int_equal(store_media_delete(f->st, f->org_a, ids[0], names[0]), STORE_CONFLICT);
	assert_int_equal(store_media_delete(f->st, f->org_b, ids[1], names[1]), STORE_NOTFOUND);
	assert_int_equal(store_media_delete(f->st, f->org_a, ids[1], names[1]), 0);
	assert_int_equal(store_media_get(f->st, f->a, f->org_a, ids[1], &m), STORE_NOTFOUND);
	assert_int_equal(store_media_delete(f->st, f->org_a, ids[1], names[1]), STORE_NOTFOUND);
	/* once the post is canceled, the media can go */
	int nd = 0, inflight = 0;
	assert_int_equal(store_post_delete_group(f->st, f->org_a, w.group, &nd, &inflight), 0);
	assert_int_equal(store_media_delete(f->st, f->org_a, ids[0], names[0]), 0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, per_test_setup, per_test_teardown)
#define COMMON_TESTS                                                                          \
	T(test_migrate_twice), T(test_org_ensure), T(test_keys), T(test_channels), T(test_tags), \
	T(test_thread_write), T(test_edit_rotates_group), T(test_republish_guard),             \
	T(test_post_list), T(test_delete_group), T(test_set_state), T(test_count_at),          \
	T(test_driver), T(test_media)

int main(void)
{
	if (crypto_init()) {
		fprintf(stderr, "crypto_init failed\n");
		return 1;
	}
	log_set_level(LOG_WARN);
	const struct CMUnitTest sqlite_tests[] = {COMMON_TESTS};
	const struct CMUnitTest pg_tests[] = {COMMON_TESTS, T(test_pg_reconnect)};
	int failed = cmocka_run_group_tests_name("store_sqlite", sqlite_tests, sqlite_setup,
						 sqlite_teardown);
	const char *url = getenv("HERALD_TEST_PG_URL");
	if (url && *url) {
		pg_fx.admin_url = (char *)url;
		failed += cmocka_run_group_tests_name("store_postgres", pg_tests, pg_setup,
						      pg_teardown);
	} else {
		printf("[  SKIPPED ] store_postgres: HERALD_TEST_PG_URL is not set "
		       "(source tests/pg.sh; pg_start)\n");
	}
	return failed ? 1 : 0;
}
