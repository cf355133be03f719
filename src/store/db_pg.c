/*
 * db_pg: the PostgreSQL driver, over libpq.
 *
 * It gives store.c the same behaviour as db_sqlite.c, so that a query
 * written once runs on both:
 *  - a statement is cached per SQL text pointer and prepared once per
 *    server session under a generated name (stmt_N) with no parameter
 *    types: the server infers them from the query, and every value is sent
 *    as text (int64 as decimal, NULL as SQL NULL);
 *  - the parameter count comes from the server (PQdescribePrepared), and a
 *    parameter that was not bound is sent as NULL, as SQLite treats it;
 *  - step() runs the statement on its first call after bind or reset and
 *    then walks the rows of the one PGresult; values stay valid until the
 *    next bind, reset or re-execution, as the db.h contract says;
 *  - is_unique_violation() reports SQLSTATE 23505 of the last statement run
 *    on the connection, cleared by the next one that succeeds;
 *  - exec("COMMIT") fails when the server answers ROLLBACK (a statement of
 *    the transaction had failed), instead of reporting success.
 *
 * A dropped connection is re-established only between transactions.  Inside
 * one, the server has already rolled it back; running the rest in
 * autocommit would commit half of it, and a later COMMIT would "succeed"
 * with a warning.  So every statement fails until the caller's ROLLBACK,
 * which reconnects.  A failed statement is never retried: the server may
 * have applied it before the connection broke.  Before sending, a
 * non-blocking read notices a connection the server closed while we were
 * idle (restart, idle timeout), so that case costs no failed request.
 */
#include "db.h"
#include "../core/arena.h"
#include "../core/log.h"

#if __has_include(<libpq-fe.h>)
#include <libpq-fe.h>
#else
#include <postgresql/libpq-fe.h>
#endif
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PARAMS DB_MAX_PARAMS

struct db_stmt {
	struct pg_db *owner;
	const char *sql;
	char name[24];               /* stmt_N, unique per connection */
	int prepared;                /* exists in the current server session */
	int nparams;                 /* as the server counted them */
	char *params[MAX_PARAMS];    /* $1 is params[0]; NULL sends SQL NULL */
	PGresult *res;               /* of the current execution, or NULL */
	int row;                     /* current row; -1 before the first */
	int failed;                  /* execution failed: step says -1 until bind/reset */
};

struct pg_db {
	struct db base;
	PGconn *conn;
	struct db_stmt **stmts;      /* each allocated alone: callers keep pointers */
	int nstmts, cap;
	int next_name;
	int in_tx;                   /* a transaction was open at the last round trip */
	char sqlstate[6];            /* of the last statement; "" after success */
	char err[512];               /* message of the last failure */
};

static void chomp(char *s)
{
	size_t n = strlen(s);
	while (n && (s[n - 1] == '\n' || s[n - 1] == ' '))
		s[--n] = 0;
}

/* Remember why the last operation failed (res may be NULL). */
static void note_error(struct pg_db *d, const PGresult *res)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	snprintf(d->sqlstate, sizeof(d->sqlstate), "%s", state ? state : "");
	snprintf(d->err, sizeof(d->err), "%s", msg ? msg : PQerrorMessage(d->conn));
	chomp(d->err);
	if (!d->err[0])
		snprintf(d->err, sizeof(d->err), "unknown postgres error");
}

static int result_ok(const PGresult *res)
{
	ExecStatusType t = PQresultStatus(res);
	return t == PGRES_COMMAND_OK || t == PGRES_TUPLES_OK || t == PGRES_EMPTY_QUERY;
}

/* After a round trip: keep in_tx current while the connection is up.  On a
 * broken connection the status is unknown; the last known value stands. */
static void track_tx(struct pg_db *d)
{
	PGTransactionStatusType t = PQtransactionStatus(d->conn);
	if (t != PQTRANS_UNKNOWN)
		d->in_tx = t != PQTRANS_IDLE;
}

/* Server notices (warnings, since client_min_messages=warning) go to the
 * log instead of libpq's default of raw stderr. */
static void on_notice(void *arg, const char *msg)
{
	(void)arg;
	char buf[512];
	snprintf(buf, sizeof(buf), "%s", msg);
	chomp(buf);
	log_msg(LOG_WARN, "db", "postgres: %s", buf);
}

/* Per-session settings; run after every (re)connect. */
static int session_setup(struct pg_db *d)
{
	PQsetNoticeProcessor(d->conn, on_notice, NULL);
	PGresult *r = PQexec(d->conn, "SET client_min_messages = warning");
	int ok = result_ok(r);
	if (!ok)
		note_error(d, r);
	PQclear(r);
	return ok ? 0 : -1;
}

/* The connection can take a command.  PQconsumeInput reads what the server
 * sent while we were idle without blocking; a close turns into
 * CONNECTION_BAD here instead of failing the command we are about to send. */
static int alive(struct pg_db *d)
{
	if (PQstatus(d->conn) == CONNECTION_OK)
		PQconsumeInput(d->conn);
	return PQstatus(d->conn) == CONNECTION_OK;
}

/* Make a broken connection usable again, if that is safe (header comment). */
static int reconnect(struct pg_db *d)
{
	if (d->in_tx) {
		snprintf(d->sqlstate, sizeof(d->sqlstate), "08006");
		snprintf(d->err, sizeof(d->err),
			 "connection lost inside a transaction; waiting for ROLLBACK");
		return -1;
	}
	PQreset(d->conn);
	d->in_tx = 0;
	for (int i = 0; i < d->nstmts; i++)
		d->stmts[i]->prepared = 0;
	if (PQstatus(d->conn) != CONNECTION_OK)
		note_error(d, NULL);
	if (PQstatus(d->conn) != CONNECTION_OK || session_setup(d)) {
		log_msg(LOG_ERROR, "db", "postgres reconnect failed: %s", d->err);
		return -1;
	}
	log_msg(LOG_WARN, "db", "reconnected to postgres");
	return 0;
}

static int pg_open(const char *url, const char *data_dir, struct db **out, char *err,
		   size_t errlen)
{
	(void)data_dir;
	/* the url is expanded in place of "dbname"; its own settings win over
	 * the defaults listed before it */
	const char *const keys[] = {"connect_timeout", "dbname", "fallback_application_name", NULL};
	const char *const vals[] = {"10", url, "herald", NULL};
	struct pg_db *d = xcalloc(1, sizeof(*d));
	d->base.drv = &db_pg_driver;
	d->conn = PQconnectdbParams(keys, vals, 1);
	if (!d->conn || PQstatus(d->conn) != CONNECTION_OK) {
		char msg[512];
		snprintf(msg, sizeof(msg), "%s", d->conn ? PQerrorMessage(d->conn) : "out of memory");
		chomp(msg);
		snprintf(err, errlen, "cannot connect to postgres: %s", msg);
		PQfinish(d->conn);
		free(d);
		return -1;
	}
	if (session_setup(d)) {
		snprintf(err, errlen, "postgres session setup: %s", d->err);
		PQfinish(d->conn);
		free(d);
		return -1;
	}
	*out = &d->base;
	return 0;
}

static void clear_params(struct db_stmt *s)
{
	for (int i = 0; i < MAX_PARAMS; i++) {
		free(s->params[i]);
		s->params[i] = NULL;
	}
}

static void clear_result(struct db_stmt *s)
{
	PQclear(s->res);
	s->res = NULL;
	s->row = -1;
	s->failed = 0;
}

static void pg_close(struct db *db)
{
	struct pg_db *d = (struct pg_db *)db;
	if (!d)
		return;
	for (int i = 0; i < d->nstmts; i++) {
		clear_result(d->stmts[i]);
		clear_params(d->stmts[i]);
		free(d->stmts[i]);
	}
	free(d->stmts);
	PQfinish(d->conn);
	free(d);
}

static int pg_exec(struct db *db, const char *sql)
{
	struct pg_db *d = (struct pg_db *)db;
	int is_rollback = !strcmp(sql, "ROLLBACK");
	int is_commit = !strcmp(sql, "COMMIT");
	if (!alive(d)) {
		/* any transaction died with the session: ROLLBACK has nothing
		 * left to do, COMMIT cannot succeed, and both end it for us */
		if (is_commit || is_rollback)
			d->in_tx = 0;
		if (reconnect(d)) {
			log_msg(LOG_ERROR, "db", "postgres exec failed: %s", d->err);
			return -1;
		}
		if (is_rollback)
			return 0;
		if (is_commit) {
			snprintf(d->sqlstate, sizeof(d->sqlstate), "08006");
			snprintf(d->err, sizeof(d->err),
				 "connection lost before COMMIT; the transaction was rolled back");
			log_msg(LOG_ERROR, "db", "postgres exec failed: %s", d->err);
			return -1;
		}
	}
	PGresult *r = PQexec(d->conn, sql);
	int ok = result_ok(r);
	/* COMMIT of an aborted transaction rolls back and reports success */
	if (ok && is_commit && !strcmp(PQcmdStatus(r), "ROLLBACK")) {
		ok = 0;
		snprintf(d->sqlstate, sizeof(d->sqlstate), "25P02");
		snprintf(d->err, sizeof(d->err), "transaction was aborted; COMMIT rolled it back");
	} else if (!ok) {
		note_error(d, r);
	} else {
		d->sqlstate[0] = 0;
	}
	PQclear(r);
	track_tx(d);
	/* whatever happened, the caller considers the transaction over; do not
	 * refuse the next one if the connection broke on COMMIT */
	if ((is_commit || is_rollback) && PQstatus(d->conn) != CONNECTION_OK)
		d->in_tx = 0;
	if (!ok) {
		log_msg(LOG_ERROR, "db", "postgres exec failed: %s [%s] in %.80s", d->err,
			d->sqlstate, sql);
		return -1;
	}
	return 0;
}

/* Create the server-side statement for s in the current session.  Every
 * attempt takes a fresh name, so one that failed half-way (prepared but not
 * described) can never collide with the next. */
static int server_prepare(struct pg_db *d, struct db_stmt *s)
{
	snprintf(s->name, sizeof(s->name), "stmt_%d", ++d->next_name);
	PGresult *r = PQprepare(d->conn, s->name, s->sql, 0, NULL);
	int ok = result_ok(r);
	if (!ok)
		note_error(d, r);
	PQclear(r);
	if (ok) {
		r = PQdescribePrepared(d->conn, s->name);
		ok = result_ok(r);
		if (ok)
			s->nparams = PQnparams(r);
		else
			note_error(d, r);
		PQclear(r);
	}
	track_tx(d);
	if (!ok) {
		log_msg(LOG_ERROR, "db", "prepare failed: %s [%s] in %.80s", d->err, d->sqlstate,
			s->sql);
		return -1;
	}
	if (s->nparams > MAX_PARAMS) {
		snprintf(d->err, sizeof(d->err), "statement has %d parameters, at most %d supported",
			 s->nparams, MAX_PARAMS);
		log_msg(LOG_ERROR, "db", "prepare failed: %s in %.80s", d->err, s->sql);
		return -1;
	}
	s->prepared = 1;
	return 0;
}

static int pg_prepare(struct db *db, const char *sql, struct db_stmt **out)
{
	struct pg_db *d = (struct pg_db *)db;
	for (int i = 0; i < d->nstmts; i++)
		if (d->stmts[i]->sql == sql) {
			*out = d->stmts[i];
			return 0;
		}
	if (!alive(d) && reconnect(d)) {
		log_msg(LOG_ERROR, "db", "prepare failed: %s in %.80s", d->err, sql);
		return -1;
	}
	struct db_stmt *s = xcalloc(1, sizeof(*s));
	s->owner = d;
	s->sql = sql;
	s->row = -1;
	if (server_prepare(d, s)) {
		free(s);
		return -1;
	}
	if (d->nstmts == d->cap) {
		d->cap = d->cap ? 2 * d->cap : 64;
		d->stmts = xrealloc(d->stmts, d->cap * sizeof(*d->stmts));
	}
	d->stmts[d->nstmts++] = s;
	*out = s;
	return 0;
}

/* Binding starts a new execution: the old result goes. */
static void set_param(struct db_stmt *s, int idx, char *v)
{
	clear_result(s);
	if (idx < 1 || idx > MAX_PARAMS) {
		free(v);
		return;
	}
	free(s->params[idx - 1]);
	s->params[idx - 1] = v;
}

static void pg_bind_text(struct db_stmt *s, int idx, const char *v)
{
	set_param(s, idx, v ? xstrdup(v) : NULL);
}

static void pg_bind_int64(struct db_stmt *s, int idx, int64_t v)
{
	char buf[24];
	snprintf(buf, sizeof(buf), "%" PRId64, v);
	set_param(s, idx, xstrdup(buf));
}

static void pg_bind_null(struct db_stmt *s, int idx)
{
	set_param(s, idx, NULL);
}

static int execute(struct db_stmt *s)
{
	struct pg_db *d = s->owner;
	if (!alive(d) && reconnect(d)) {
		log_msg(LOG_ERROR, "db", "step failed: %s", d->err);
		return -1;
	}
	if (!s->prepared && server_prepare(d, s))
		return -1;
	s->res = PQexecPrepared(d->conn, s->name, s->nparams, (const char *const *)s->params,
				NULL, NULL, 0);
	track_tx(d);
	if (!result_ok(s->res)) {
		note_error(d, s->res);
		PQclear(s->res);
		s->res = NULL;
		/* a unique violation is an answer for the caller, not a fault */
		if (strcmp(d->sqlstate, "23505"))
			log_msg(LOG_ERROR, "db", "step failed: %s [%s]", d->err, d->sqlstate);
		return -1;
	}
	d->sqlstate[0] = 0;
	s->row = -1;
	return 0;
}

static int pg_step(struct db_stmt *s)
{
	if (s->failed)
		return -1;
	if (!s->res && execute(s)) {
		s->failed = 1;
		return -1;
	}
	int n = PQntuples(s->res);
	if (s->row + 1 < n) {
		s->row++;
		return DB_ROW;
	}
	s->row = n;
	return DB_DONE;
}

/* The current row has column i. */
static int at_row(struct db_stmt *s, int i)
{
	return s->res && s->row >= 0 && s->row < PQntuples(s->res) && i >= 0 &&
	       i < PQnfields(s->res);
}

static int pg_col_null(struct db_stmt *s, int i)
{
	return !at_row(s, i) || PQgetisnull(s->res, s->row, i);
}

static const char *pg_col_text(struct db_stmt *s, int i)
{
	return pg_col_null(s, i) ? NULL : PQgetvalue(s->res, s->row, i);
}

static int64_t pg_col_int64(struct db_stmt *s, int i)
{
	const char *v = pg_col_text(s, i);
	return v ? strtoll(v, NULL, 10) : 0;
}

static int pg_changes(struct db_stmt *s)
{
	return s->res ? atoi(PQcmdTuples(s->res)) : 0;
}

static void pg_reset(struct db_stmt *s)
{
	clear_result(s);
	clear_params(s);
}

static const char *pg_errmsg(struct db *db)
{
	struct pg_db *d = (struct pg_db *)db;
	return d->err[0] ? d->err : "not an error";
}

static int pg_is_unique(struct db *db)
{
	return !strcmp(((struct pg_db *)db)->sqlstate, "23505");
}

const struct db_driver db_pg_driver = {
	.name = "postgres",
	.dialect = DB_PG,
	.open = pg_open,
	.close = pg_close,
	.exec = pg_exec,
	.prepare = pg_prepare,
	.bind_text = pg_bind_text,
	.bind_int64 = pg_bind_int64,
	.bind_null = pg_bind_null,
	.step = pg_step,
	.col_null = pg_col_null,
	.col_text = pg_col_text,
	.col_int64 = pg_col_int64,
	.changes = pg_changes,
	.reset = pg_reset,
	.errmsg = pg_errmsg,
	.is_unique_violation = pg_is_unique,
};
