/* csv: see csv.h.  A byte-at-a-time state machine; no allocation per row. */
#include "csv.h"

#include <stdlib.h>
#include <string.h>

enum { S_START, S_UNQUOTED, S_QUOTED, S_QUOTE_END };

int csv_init(struct csv *p, size_t max_field, size_t max_row, size_t max_cols, csv_row_fn fn,
	     void *ud)
{
	memset(p, 0, sizeof(*p));
	p->max_field = max_field ? max_field : 64 * 1024;
	p->max_row = max_row ? max_row : 256 * 1024;
	p->max_cols = max_cols ? max_cols : 64;
	p->fn = fn;
	p->ud = ud;
	p->line = 1;
	p->buf = malloc(p->max_row);
	p->starts = calloc(p->max_cols, sizeof(*p->starts));
	p->lens = calloc(p->max_cols, sizeof(*p->lens));
	p->ptrs = calloc(p->max_cols + 1, sizeof(*p->ptrs));
	if (!p->buf || !p->starts || !p->lens || !p->ptrs) {
		csv_free(p);
		p->err = CSV_ERR_NOMEM;
		return -1;
	}
	return 0;
}

void csv_free(struct csv *p)
{
	free(p->buf);
	free(p->starts);
	free(p->lens);
	free(p->ptrs);
	p->buf = NULL;
	p->starts = p->lens = NULL;
	p->ptrs = NULL;
}

static int fail(struct csv *p, enum csv_err e)
{
	p->err = e;
	p->err_line = p->line;
	return -1;
}

static int push(struct csv *p, char c)
{
	if (p->field_len >= p->max_field)
		return fail(p, CSV_ERR_FIELD_SIZE);
	if (p->len + 2 > p->max_row) /* the byte and the field's NUL */
		return fail(p, CSV_ERR_ROW_SIZE);
	p->buf[p->len++] = c;
	p->field_len++;
	return 0;
}

static int end_field(struct csv *p)
{
	if (p->nfields >= p->max_cols)
		return fail(p, CSV_ERR_COLUMNS);
	if (p->len + 1 > p->max_row)
		return fail(p, CSV_ERR_ROW_SIZE);
	p->buf[p->len++] = 0;
	p->starts[p->nfields] = p->field_start;
	p->lens[p->nfields] = p->field_len;
	p->nfields++;
	p->field_start = p->len;
	p->field_len = 0;
	return 0;
}

static int end_record(struct csv *p)
{
	if (end_field(p))
		return -1;
	for (size_t i = 0; i < p->nfields; i++)
		p->ptrs[i] = p->buf + p->starts[i];
	p->ptrs[p->nfields] = NULL;
	struct csv_row row = {p->nfields, p->ptrs, p->lens, p->row_line, p->line};
	int stop = p->fn ? p->fn(p->ud, &row) : 0;
	p->len = p->field_start = p->field_len = p->nfields = 0;
	p->state = S_START;
	p->row_line = 0;
	if (stop)
		return fail(p, CSV_ERR_STOPPED);
	return 0;
}

static int step(struct csv *p, char c)
{
	int crlf_tail = c == '\n' && p->pending_cr;
	int nl = c == '\r' || (c == '\n' && !crlf_tail);
	int eol = c == '\r' || c == '\n';
	p->pending_cr = c == '\r';
	if (c == 0)
		return fail(p, CSV_ERR_NUL);
	int rc = 0;
	switch (p->state) {
	case S_START:
		if (!p->row_line) {
			if (eol)
				break; /* an empty line, or the LF of a CRLF */
			p->row_line = p->line;
		}
		if (c == '"')
			p->state = S_QUOTED;
		else if (c == ',')
			rc = end_field(p);
		else if (eol)
			rc = end_record(p);
		else if ((rc = push(p, c)) == 0)
			p->state = S_UNQUOTED;
		break;
	case S_UNQUOTED:
		if (c == ',') {
			rc = end_field(p);
			p->state = S_START;
		} else if (eol) {
			rc = end_record(p);
		} else if (c == '"') {
			rc = fail(p, CSV_ERR_QUOTE);
		} else {
			rc = push(p, c);
		}
		break;
	case S_QUOTED:
		if (c == '"')
			p->state = S_QUOTE_END;
		else
			rc = push(p, c);
		break;
	case S_QUOTE_END:
		if (c == '"') {
			rc = push(p, '"');
			p->state = S_QUOTED;
		} else if (c == ',') {
			rc = end_field(p);
			p->state = S_START;
		} else if (eol) {
			rc = end_record(p);
		} else {
			rc = fail(p, CSV_ERR_AFTER_QUOTE);
		}
		break;
	}
	if (nl)
		p->line++;
	return rc;
}

static const unsigned char BOM[3] = {0xEF, 0xBB, 0xBF};

int csv_feed(struct csv *p, const char *data, size_t len)
{
	if (p->err)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (!p->bom_checked) {
			if ((unsigned char)data[i] == BOM[p->nbom]) {
				p->bom[p->nbom++] = (unsigned char)data[i];
				if (p->nbom == 3) {
					p->bom_checked = 1; /* a whole BOM: dropped */
					p->nbom = 0;
				}
				continue;
			}
			p->bom_checked = 1;
			for (size_t k = 0; k < p->nbom; k++)
				if (step(p, (char)p->bom[k]))
					return -1;
			p->nbom = 0;
		}
		if (step(p, data[i]))
			return -1;
	}
	return 0;
}

int csv_finish(struct csv *p)
{
	if (p->err)
		return -1;
	if (!p->bom_checked) {
		p->bom_checked = 1;
		for (size_t k = 0; k < p->nbom; k++)
			if (step(p, (char)p->bom[k]))
				return -1;
		p->nbom = 0;
	}
	if (p->state == S_QUOTED) {
		p->err = CSV_ERR_EOF_QUOTE;
		p->err_line = p->row_line;
		return -1;
	}
	if (p->row_line)
		return end_record(p);
	return 0;
}

const char *csv_strerror(enum csv_err e)
{
	switch (e) {
	case CSV_OK: return "ok";
	case CSV_ERR_QUOTE: return "a quote inside an unquoted field (quote the whole field and double the quote: \"say \"\"hi\"\"\")";
	case CSV_ERR_AFTER_QUOTE: return "text after a closing quote (a field's quote must be followed by a comma or a line break)";
	case CSV_ERR_EOF_QUOTE: return "a quoted field is never closed";
	case CSV_ERR_NUL: return "a NUL byte (not a text file?)";
	case CSV_ERR_FIELD_SIZE: return "a field is too long";
	case CSV_ERR_ROW_SIZE: return "a row is too long";
	case CSV_ERR_COLUMNS: return "too many columns";
	case CSV_ERR_STOPPED: return "stopped";
	case CSV_ERR_NOMEM: return "out of memory";
	}
	return "error";
}
