/*
 * fuzz_csv: the RFC 4180 streaming parser (src/core/csv.c) on arbitrary
 * bytes, with small bounds so the bound checks are reached.
 *
 * Oracles: no sanitizer report; feeding the input whole and in two chunks
 * split at a fuzzer-chosen point gives the same rows and the same error at
 * the same line; every field's length matches its NUL-terminated text;
 * and when the input parses, writing the rows back out with every field
 * quoted and parsing that again gives the same rows (round trip).
 */
#include "core/csv.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXOUT (1 << 15) /* input <= 4 KiB: at most ~4 output bytes per input byte */

struct acc {
	char *out;   /* rows serialised: quoted fields, LF-separated */
	size_t len;
	int overflow;
	unsigned long long h;  /* hash over lines and fields */
};

static void put(struct acc *a, const char *s, size_t n)
{
	if (a->len + n > MAXOUT) {
		a->overflow = 1;
		return;
	}
	memcpy(a->out + a->len, s, n);
	a->len += n;
}

static int row(void *ud, const struct csv_row *r)
{
	struct acc *a = ud;
	if (r->line < 1 || r->end_line < r->line)
		abort();
	a->h = a->h * 1000003u + (unsigned long long)r->line;
	for (size_t i = 0; i < r->nfields; i++) {
		if (strlen(r->fields[i]) != r->lens[i])
			abort();
		for (size_t k = 0; k < r->lens[i]; k++)
			a->h = a->h * 131u + (unsigned char)r->fields[i][k];
		a->h = a->h * 7u + 1u;
		put(a, i ? ",\"" : "\"", i ? 2 : 1);
		for (size_t k = 0; k < r->lens[i]; k++) {
			if (r->fields[i][k] == '"')
				put(a, "\"", 1);
			put(a, r->fields[i] + k, 1);
		}
		put(a, "\"", 1);
	}
	put(a, "\n", 1);
	return 0;
}

static int run(const uint8_t *d, size_t n, size_t split, struct acc *a, long *err_line)
{
	struct csv p;
	if (csv_init(&p, 64, 256, 8, row, a))
		abort();
	int rc = csv_feed(&p, (const char *)d, split);
	if (!rc)
		rc = csv_feed(&p, (const char *)d + split, n - split);
	if (!rc)
		rc = csv_finish(&p);
	int e = rc ? (int)p.err : 0;
	*err_line = p.err_line;
	csv_free(&p);
	return e;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 4096)
		return 0;
	size_t split = data[0] % size;
	data++;
	size--;
	if (split > size)
		split = size;
	struct acc a = {malloc(MAXOUT), 0, 0, 0}, b = {malloc(MAXOUT), 0, 0, 0};
	long la, lb;
	int ea = run(data, size, size, &a, &la);
	int eb = run(data, size, split, &b, &lb);
	if (ea != eb || la != lb || a.h != b.h || a.len != b.len || memcmp(a.out, b.out, a.len)) {
		fprintf(stderr, "fuzz_csv: chunking changed the result (%d/%d line %ld/%ld)\n", ea, eb, la,
			lb);
		abort();
	}
	if (!ea && !a.overflow) {
		/* round trip: the quoted re-serialisation parses to the same fields.
		 * Field bytes must survive; bounds may differ (quotes cost nothing
		 * in a field), so only compare when it parses. */
		struct acc c = {malloc(MAXOUT), 0, 0, 0};
		long lc;
		int ec = run((const uint8_t *)a.out, a.len, a.len / 2, &c, &lc);
		if (!ec && (c.len != a.len || memcmp(c.out, a.out, a.len))) {
			fprintf(stderr, "fuzz_csv: round trip changed the rows\n");
			abort();
		}
		free(c.out);
	}
	free(a.out);
	free(b.out);
	return 0;
}
