/*
 * db_sqlite: the embedded SQLite driver.
 *
 * One file $data_dir/herald.db in WAL mode with foreign keys on.  Writers
 * from the loop threads of one process serialize on a process-wide mutex
 * (write_mu) before they touch SQLite's lock: SQLite's own busy handler
 * sleeps in growing steps (up to 100 ms) when it finds the lock taken, which
 * under a burst of publishes costs far more than the writes themselves.
 * busy_timeout stays for other processes (the CLI) on the same file.
 * Transactions start IMMEDIATE so that a
 * read-then-write transaction never deadlocks on lock upgrade.
 * SQL arrives with $N parameters, which SQLite reads as named parameters;
 * binding goes through sqlite3_bind_parameter_index so "$1" maps correctly.
 */
#include "db.h"
#include "../core/arena.h"
#include "../core/log.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CACHE 96

static pthread_mutex_t write_mu = PTHREAD_MUTEX_INITIALIZER;

struct db_stmt {
	int holding; /* this statement holds write_mu (autocommit write) */
	struct sqlite_db *owner;
	sqlite3_stmt *s;
	const char *sql;
	int idx_map[DB_MAX_PARAMS + 1]; /* $N -> sqlite index */
};

struct sqlite_db {
	struct db base;
	sqlite3 *h;
	struct db_stmt cache[CACHE];
	int ncache;
	int last_rc;
	int in_txn; /* BEGIN took write_mu; COMMIT/ROLLBACK give it back */
};

static int sq_open(const char *url, const char *data_dir, struct db **out, char *err, size_t errlen)
{
	(void)url;
	char path[4096];
	mkdir(data_dir, 0700);
	snprintf(path, sizeof(path), "%s/herald.db", data_dir);
	struct sqlite_db *d = xcalloc(1, sizeof(*d));
	d->base.drv = &db_sqlite_driver;
	int rc = sqlite3_open_v2(path, &d->h,
				 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "cannot open %s: %s", path, d->h ? sqlite3_errmsg(d->h) : "?");
		sqlite3_close(d->h);
		free(d);
		return -1;
	}
	sqlite3_busy_timeout(d->h, 10000);
	sqlite3_extended_result_codes(d->h, 1);
	char *e = NULL;
	rc = sqlite3_exec(d->h,
			  "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
			  "PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY;",
			  NULL, NULL, &e);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "sqlite setup: %s", e ? e : "?");
		sqlite3_free(e);
		sqlite3_close(d->h);
		free(d);
		return -1;
	}
	*out = &d->base;
	return 0;
}

static void sq_close(struct db *db)
{
	struct sqlite_db *d = (struct sqlite_db *)db;
	if (!d)
		return;
	for (int i = 0; i < d->ncache; i++)
		sqlite3_finalize(d->cache[i].s);
	sqlite3_close(d->h);
	free(d);
}

static int sq_exec(struct db *db, const char *sql)
{
	struct sqlite_db *d = (struct sqlite_db *)db;
	const char *s = sql;
	/* BEGIN means IMMEDIATE here: see the header comment */
	int begin = !strcmp(sql, "BEGIN");
	int end = !strcmp(sql, "COMMIT") || !strcmp(sql, "ROLLBACK");
	if (begin) {
		s = "BEGIN IMMEDIATE";
		pthread_mutex_lock(&write_mu);
	}
	char *e = NULL;
	d->last_rc = sqlite3_exec(d->h, s, NULL, NULL, &e);
	int ok = d->last_rc == SQLITE_OK;
	if (begin) {
		if (ok)
			d->in_txn = 1;
		else
			pthread_mutex_unlock(&write_mu);
	}
	/* a failed COMMIT leaves the transaction open unless SQLite ended it */
	if (end && d->in_txn && (ok || sqlite3_get_autocommit(d->h))) {
		d->in_txn = 0;
		pthread_mutex_unlock(&write_mu);
	}
	if (!ok) {
		log_msg(LOG_ERROR, "db", "sqlite exec failed: %s", e ? e : "?");
		sqlite3_free(e);
		return -1;
	}
	return 0;
}

static int sq_prepare(struct db *db, const char *sql, struct db_stmt **out)
{
	struct sqlite_db *d = (struct sqlite_db *)db;
	for (int i = 0; i < d->ncache; i++)
		if (d->cache[i].sql == sql) {
			*out = &d->cache[i];
			return 0;
		}
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v3(d->h, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL);
	if (rc != SQLITE_OK) {
		log_msg(LOG_ERROR, "db", "prepare failed: %s in %.80s", sqlite3_errmsg(d->h), sql);
		return -1;
	}
	struct db_stmt *st;
	if (d->ncache < CACHE) {
		st = &d->cache[d->ncache++];
	} else {
		/* cache full: evict the oldest (never in practice: queries are finite) */
		st = &d->cache[0];
		sqlite3_finalize(st->s);
	}
	memset(st, 0, sizeof(*st));
	st->owner = d;
	st->s = s;
	st->sql = sql;
	for (int i = 1; i <= DB_MAX_PARAMS; i++) {
		char name[16];
		snprintf(name, sizeof(name), "$%d", i);
		st->idx_map[i] = sqlite3_bind_parameter_index(s, name);
	}
	*out = st;
	return 0;
}

static int map(struct db_stmt *s, int idx)
{
	return idx > 0 && idx <= DB_MAX_PARAMS ? s->idx_map[idx] : 0;
}

static void sq_bind_text(struct db_stmt *s, int idx, const char *v)
{
	if (!v)
		sqlite3_bind_null(s->s, map(s, idx));
	else
		sqlite3_bind_text(s->s, map(s, idx), v, -1, SQLITE_TRANSIENT);
}

static void sq_bind_int64(struct db_stmt *s, int idx, int64_t v)
{
	sqlite3_bind_int64(s->s, map(s, idx), v);
}

static void sq_bind_null(struct db_stmt *s, int idx)
{
	sqlite3_bind_null(s->s, map(s, idx));
}

static void release(struct db_stmt *s)
{
	if (s->holding) {
		s->holding = 0;
		pthread_mutex_unlock(&write_mu);
	}
}

static int sq_step(struct db_stmt *s)
{
	if (!s->holding && !s->owner->in_txn && !sqlite3_stmt_readonly(s->s)) {
		pthread_mutex_lock(&write_mu);
		s->holding = 1;
	}
	int rc = sqlite3_step(s->s);
	if (rc != SQLITE_ROW)
		release(s);
	s->owner->last_rc = rc;
	if (rc == SQLITE_ROW)
		return DB_ROW;
	if (rc == SQLITE_DONE)
		return DB_DONE;
	if ((rc & 0xff) != SQLITE_CONSTRAINT)
		log_msg(LOG_ERROR, "db", "step failed: %s", sqlite3_errmsg(s->owner->h));
	return -1;
}

static int sq_col_null(struct db_stmt *s, int i)
{
	return sqlite3_column_type(s->s, i) == SQLITE_NULL;
}

static const char *sq_col_text(struct db_stmt *s, int i)
{
	return (const char *)sqlite3_column_text(s->s, i);
}

static int64_t sq_col_int64(struct db_stmt *s, int i)
{
	return sqlite3_column_int64(s->s, i);
}

static int sq_changes(struct db_stmt *s)
{
	return sqlite3_changes(s->owner->h);
}

static void sq_reset(struct db_stmt *s)
{
	release(s);
	sqlite3_reset(s->s);
	sqlite3_clear_bindings(s->s);
}

static const char *sq_errmsg(struct db *db)
{
	return sqlite3_errmsg(((struct sqlite_db *)db)->h);
}

static int sq_is_unique(struct db *db)
{
	int rc = ((struct sqlite_db *)db)->last_rc;
	return rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY;
}

const struct db_driver db_sqlite_driver = {
	.name = "sqlite",
	.dialect = DB_SQLITE,
	.open = sq_open,
	.close = sq_close,
	.exec = sq_exec,
	.prepare = sq_prepare,
	.bind_text = sq_bind_text,
	.bind_int64 = sq_bind_int64,
	.bind_null = sq_bind_null,
	.step = sq_step,
	.col_null = sq_col_null,
	.col_text = sq_col_text,
	.col_int64 = sq_col_int64,
	.changes = sq_changes,
	.reset = sq_reset,
	.errmsg = sq_errmsg,
	.is_unique_violation = sq_is_unique,
};
