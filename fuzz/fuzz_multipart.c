/*
 * fuzz_multipart: the streaming multipart/form-data parser on arbitrary
 * bodies.  The first input byte picks a boundary; the rest is the body.
 *
 * Oracles: no sanitizer report; the parse outcome and every event (part
 * headers, concatenated part data, part ends) are the same whether the body
 * arrives in one piece or split at fuzzer-chosen points, one byte at a time
 * included (evhttp hands the body over in arbitrary chunks).
 */
#include "media/multipart.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rec {
	char log[1 << 16];
	size_t n;
	int overflow;
};

static void put(struct rec *r, const void *p, size_t n)
{
	if (r->n + n > sizeof(r->log)) {
		r->overflow = 1;
		return;
	}
	memcpy(r->log + r->n, p, n);
	r->n += n;
}

static int on_begin(void *u, const struct mp_part *p)
{
	put(u, "B", 1);
	put(u, p->name, strlen(p->name) + 1);
	put(u, p->filename, strlen(p->filename) + 1);
	put(u, p->content_type, strlen(p->content_type) + 1);
	return 0;
}

static int on_data(void *u, const char *d, size_t n)
{
	put(u, d, n);
	return 0;
}

static int on_end(void *u)
{
	put(u, "E", 1);
	return 0;
}

static const struct mp_callbacks cb = {on_begin, on_data, on_end};
static const char *const boundaries[] = {"b", "XyZ", "----WebKitFormBoundary7MA4YWxkTrZu0gW", "a-b"};

static struct rec r1, r2, r3;

static int run(struct rec *r, const char *b, const uint8_t *d, size_t n, size_t step, int *fin)
{
	struct mp p;
	memset(r, 0, sizeof(*r));
	mp_init(&p, b, &cb, r);
	int rc = 0;
	for (size_t off = 0; off < n && !rc; off += step)
		rc = mp_feed(&p, (const char *)d + off, n - off < step ? n - off : step);
	*fin = rc ? -2 : mp_finish(&p);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 8192)
		return 0;
	const char *b = boundaries[data[0] % 4];
	size_t step = 1 + (data[0] >> 2);
	data++;
	size--;
	int f1, f2, f3;
	int a = run(&r1, b, data, size, size ? size : 1, &f1);
	int c = run(&r2, b, data, size, 1, &f2);
	int d = run(&r3, b, data, size, step, &f3);
	if (a != c || a != d || f1 != f2 || f1 != f3 || r1.n != r2.n || r1.n != r3.n ||
	    memcmp(r1.log, r2.log, r1.n) || memcmp(r1.log, r3.log, r1.n)) {
		fprintf(stderr, "fuzz_multipart: split parse differs (%d %d %d / %d %d %d / %zu %zu %zu)\n",
			a, c, d, f1, f2, f3, r1.n, r2.n, r3.n);
		abort();
	}
	char ct[128];
	snprintf(ct, sizeof(ct), "multipart/form-data; boundary=\"%.*s\"", (int)(size < 80 ? size : 80),
		 (const char *)data);
	char out[MP_MAX_BOUNDARY + 1];
	if (!memchr(ct, 0, strlen(ct)) && mp_boundary(ct, out, sizeof(out)) == 0 &&
	    strlen(out) > MP_MAX_BOUNDARY)
		abort();
	return 0;
}
