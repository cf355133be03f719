/*
 * test_csv: the RFC 4180 streaming parser (src/core/csv.c).  Each input is
 * parsed whole and again fed one byte at a time, which must give the same
 * rows, so chunk boundaries (inside a BOM, a CRLF, a doubled quote) are
 * covered.  Rows are rendered as "line:end|f1|f2..." for exact comparison.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/csv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct out {
	char text[8192];
	size_t len;
	int stop_after;
	int rows;
};

static int collect(void *ud, const struct csv_row *r)
{
	struct out *o = ud;
	o->len += (size_t)snprintf(o->text + o->len, sizeof(o->text) - o->len, "%ld:%ld", r->line,
				   r->end_line);
	for (size_t i = 0; i < r->nfields; i++) {
		assert_int_equal(strlen(r->fields[i]), r->lens[i]);
		o->len += (size_t)snprintf(o->text + o->len, sizeof(o->text) - o->len, "|%s", r->fields[i]);
	}
	o->len += (size_t)snprintf(o->text + o->len, sizeof(o->text) - o->len, "\n");
	o->rows++;
	return o->stop_after && o->rows >= o->stop_after;
}

/* parse in one go and byte by byte; both must agree; returns the error */
static enum csv_err parse(const char *in, size_t n, struct out *o, long *err_line, size_t max_field,
			  size_t max_row, size_t max_cols)
{
	struct csv p;
	struct out o2 = {0};
	memset(o, 0, sizeof(*o));
	assert_int_equal(csv_init(&p, max_field, max_row, max_cols, collect, o), 0);
	int rc = csv_feed(&p, in, n);
	if (!rc)
		rc = csv_finish(&p);
	enum csv_err e = rc ? p.err : CSV_OK;
	*err_line = p.err_line;
	csv_free(&p);

	assert_int_equal(csv_init(&p, max_field, max_row, max_cols, collect, &o2), 0);
	rc = 0;
	for (size_t i = 0; i < n && !rc; i++)
		rc = csv_feed(&p, in + i, 1);
	if (!rc)
		rc = csv_finish(&p);
	assert_int_equal(rc ? p.err : CSV_OK, e);
	assert_int_equal(p.err_line, *err_line);
	assert_string_equal(o2.text, o->text);
	csv_free(&p);
	return e;
}

#define OK(in, want)                                                                   \
	do {                                                                           \
		struct out o;                                                          \
		long el;                                                               \
		assert_int_equal(parse(in, sizeof(in) - 1, &o, &el, 0, 0, 0), CSV_OK); \
		assert_string_equal(o.text, want);                                     \
	} while (0)

#define ERR(in, code, line)                                                           \
	do {                                                                          \
		struct out o;                                                         \
		long el;                                                              \
		assert_int_equal(parse(in, sizeof(in) - 1, &o, &el, 0, 0, 0), code);  \
		assert_int_equal(el, line);                                           \
	} while (0)

static void test_plain(void **s)
{
	(void)s;
	OK("a,b,c\n1,2,3\n", "1:1|a|b|c\n2:2|1|2|3\n");
	OK("a,b\r\n1,2\r\n", "1:1|a|b\n2:2|1|2\n");
	OK("a,b\r1,2", "1:1|a|b\n2:2|1|2\n");   /* lone CR, no final break */
	OK("a,,\n", "1:1|a||\n");                  /* empty fields kept */
	OK(",\n", "1:1||\n");
	OK("", "");
	OK("\n\n", "");
	OK("a\n\n\nb\n", "1:1|a\n4:4|b\n");        /* empty lines skipped, lines still counted */
	OK(" x , y \n", "1:1| x | y \n");          /* spaces are data */
}

static void test_quoted(void **s)
{
	(void)s;
	OK("\"a,b\",c\n", "1:1|a,b|c\n");
	OK("\"say \"\"hi\"\"\",x\n", "1:1|say \"hi\"|x\n");
	OK("\"line1\nline2\",z\nnext,row\n", "1:2|line1\nline2|z\n3:3|next|row\n");
	OK("\"a\r\nb\"\r\nc\r\n", "1:2|a\r\nb\n3:3|c\n");
	OK("\"\"\n", "1:1|\n");                   /* one empty quoted field */
	OK("\"\",\"\"\n", "1:1||\n");
	OK("\"x\"", "1:1|x\n");
	OK("a,\"\"\"\"\n", "1:1|a|\"\n");
	OK("h\n\"héllo, wörld ✓\"\n", "1:1|h\n2:2|héllo, wörld ✓\n");
}

static void test_bom(void **s)
{
	(void)s;
	OK("\xEF\xBB\xBF" "date,channel\n1,2\n", "1:1|date|channel\n2:2|1|2\n");
	OK("\xEF\xBB" "x\n", "1:1|\xEF\xBBx\n");   /* half a BOM is data */
	OK("\xEF\xBB", "1:1|\xEF\xBB\n");
	OK("a\xEF\xBB\xBF\n", "1:1|a\xEF\xBB\xBF\n"); /* only at the start */
}

static void test_errors(void **s)
{
	(void)s;
	ERR("a,b\nx\"y,z\n", CSV_ERR_QUOTE, 2);
	ERR("\"a\"b,c\n", CSV_ERR_AFTER_QUOTE, 1);
	ERR("ok\n\"never\nclosed,\n", CSV_ERR_EOF_QUOTE, 2);
	ERR("a\n\n\"x\n\ny\"z\n", CSV_ERR_AFTER_QUOTE, 5); /* line counted through quoted breaks */
	ERR("a,b\nc\0d\n", CSV_ERR_NUL, 2);
}

static void test_bounds(void **s)
{
	(void)s;
	struct out o;
	long el;
	assert_int_equal(parse("abcd,e\n", 7, &o, &el, 4, 0, 0), CSV_OK);
	assert_int_equal(parse("abcde,e\n", 8, &o, &el, 4, 0, 0), CSV_ERR_FIELD_SIZE);
	assert_int_equal(parse("\"abcde\"\n", 8, &o, &el, 4, 0, 0), CSV_ERR_FIELD_SIZE);
	assert_int_equal(parse("a,b,c\n", 6, &o, &el, 0, 0, 3), CSV_OK);
	assert_int_equal(parse("x\na,b,c,d\n", 10, &o, &el, 0, 0, 3), CSV_ERR_COLUMNS);
	assert_int_equal(el, 2);
	/* record bound: "ab,cd" needs 6 bytes (two fields + two NULs) */
	assert_int_equal(parse("ab,cd\n", 6, &o, &el, 0, 6, 0), CSV_OK);
	assert_int_equal(parse("ab,cde\n", 7, &o, &el, 0, 6, 0), CSV_ERR_ROW_SIZE);
	/* the buffer is reused: many rows under a small record bound */
	char big[4000];
	size_t n = 0;
	for (int i = 0; i < 500; i++)
		n += (size_t)snprintf(big + n, sizeof(big) - n, "%d,x\n", i % 10);
	assert_int_equal(parse(big, n, &o, &el, 0, 8, 2), CSV_OK);
	assert_int_equal(o.rows, 500);
}

static void test_stop(void **s)
{
	(void)s;
	struct csv p;
	struct out o = {0};
	o.stop_after = 2;
	assert_int_equal(csv_init(&p, 0, 0, 0, collect, &o), 0);
	assert_int_equal(csv_feed(&p, "a\nb\nc\n", 6), -1);
	assert_int_equal(p.err, CSV_ERR_STOPPED);
	assert_int_equal(o.rows, 2);
	assert_int_equal(csv_feed(&p, "d\n", 2), -1); /* stays failed */
	assert_int_equal(o.rows, 2);
	csv_free(&p);
	assert_non_null(strstr(csv_strerror(CSV_ERR_QUOTE), "quote"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain),  cmocka_unit_test(test_quoted),
		cmocka_unit_test(test_bom),    cmocka_unit_test(test_errors),
		cmocka_unit_test(test_bounds), cmocka_unit_test(test_stop),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
