/*
 * csv: a streaming RFC 4180 parser with hard bounds.
 *
 * Feed bytes in chunks of any size (csv_feed), then csv_finish; each
 * complete record is handed to a callback with its fields NUL-terminated
 * and the line number (1-based) it starts on.  Line numbers count every
 * line break, including ones inside quoted fields, so an error or a row is
 * reported at the line an editor shows.
 *
 * Accepted: fields separated by ',', records by CRLF, LF or a lone CR; a
 * field in double quotes may hold ',', line breaks and "" for a quote; a
 * UTF-8 BOM at the very start is skipped; a completely empty line is
 * skipped.  Rejected (error with line number): a quote inside an unquoted
 * field, anything but a separator after a closing quote, end of input
 * inside quotes, a NUL byte, and anything over the bounds (field bytes,
 * record bytes, field count).  After an error the parser stays failed.
 *
 * Ownership: the parser owns one row buffer (at most max_row bytes) and
 * the field arrays; a row passed to the callback is valid only during the
 * call.
 */
#ifndef HERALD_CSV_H
#define HERALD_CSV_H

#include <stddef.h>

enum csv_err {
	CSV_OK = 0,
	CSV_ERR_QUOTE,       /* '"' inside an unquoted field */
	CSV_ERR_AFTER_QUOTE, /* a character after a closing quote */
	CSV_ERR_EOF_QUOTE,   /* input ended inside a quoted field */
	CSV_ERR_NUL,         /* NUL byte */
	CSV_ERR_FIELD_SIZE,  /* a field over max_field bytes */
	CSV_ERR_ROW_SIZE,    /* a record over max_row bytes */
	CSV_ERR_COLUMNS,     /* more than max_cols fields */
	CSV_ERR_STOPPED,     /* the callback returned non-zero */
	CSV_ERR_NOMEM,
};

struct csv_row {
	size_t nfields;
	char **fields;      /* NUL-terminated */
	size_t *lens;
	long line;          /* line the record starts on */
	long end_line;      /* line it ends on */
};

typedef int (*csv_row_fn)(void *ud, const struct csv_row *row);

struct csv {
	size_t max_field, max_row, max_cols;
	csv_row_fn fn;
	void *ud;
	/* state */
	int state, bom_checked, pending_cr;
	long line, row_line;
	char *buf;          /* the current record's bytes, fields NUL-separated */
	size_t len, field_start, field_len;
	size_t *starts, nfields;
	char **ptrs;
	size_t *lens;
	enum csv_err err;
	long err_line;
	unsigned char bom[3];
	size_t nbom;
};

/* bounds: 0 picks the defaults (64 KiB field, 256 KiB record, 64 fields) */
int csv_init(struct csv *p, size_t max_field, size_t max_row, size_t max_cols, csv_row_fn fn,
	     void *ud);
/* 0, or -1 with p->err / p->err_line set */
int csv_feed(struct csv *p, const char *data, size_t len);
/* flush the last record (one without a final line break); 0 or -1 */
int csv_finish(struct csv *p);
void csv_free(struct csv *p);
const char *csv_strerror(enum csv_err e);

#endif
