/*
 * db: the driver layer under the store.  store.c writes every query once,
 * with PostgreSQL-style numbered parameters ($1, $2 ...); a driver runs it.
 * db_sqlite.c drives embedded SQLite, db_pg.c drives libpq.
 *
 * A `struct db` is one connection, used by one thread at a time.
 * Statements are cached per SQL text pointer (pass string literals), so a
 * hot query is parsed once per connection.  A statement is used as
 * prepare -> bind* -> step* -> reset; column values are valid until the
 * next step or reset (copy them into an arena).
 */
#ifndef HERALD_DB_H
#define HERALD_DB_H

#include <stdint.h>
#include <stddef.h>

#define DB_ROW 1
#define DB_DONE 0
/* the most $N parameters one statement may use (both drivers) */
#define DB_MAX_PARAMS 24

enum db_dialect { DB_SQLITE, DB_PG };

struct db;
struct db_stmt;

struct db_driver {
	const char *name;
	enum db_dialect dialect;
	int (*open)(const char *url, const char *data_dir, struct db **out, char *err, size_t errlen);
	void (*close)(struct db *);
	int (*exec)(struct db *, const char *sql);
	int (*prepare)(struct db *, const char *sql, struct db_stmt **out);
	void (*bind_text)(struct db_stmt *, int idx, const char *v);
	void (*bind_int64)(struct db_stmt *, int idx, int64_t v);
	void (*bind_null)(struct db_stmt *, int idx);
	int (*step)(struct db_stmt *);
	int (*col_null)(struct db_stmt *, int i);
	const char *(*col_text)(struct db_stmt *, int i);
	int64_t (*col_int64)(struct db_stmt *, int i);
	int (*changes)(struct db_stmt *);
	void (*reset)(struct db_stmt *);
	const char *(*errmsg)(struct db *);
	/* error of the last step was a unique-constraint violation */
	int (*is_unique_violation)(struct db *);
};

struct db {
	const struct db_driver *drv;
};

extern const struct db_driver db_sqlite_driver;
extern const struct db_driver db_pg_driver;

#endif
