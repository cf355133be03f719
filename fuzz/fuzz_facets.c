/*
 * fuzz_facets: Bluesky's rich-text facet extraction (links, @mentions,
 * #tags, and the spans of Postiz HTML anchors) on arbitrary text or HTML.
 *
 * Oracles: no sanitizer report; deterministic; every facet lies inside the
 * text, is non-empty, starts and ends on UTF-8 character boundaries, and
 * facets are sorted and never overlap (the AppView rejects a record whose
 * facets overlap or point outside the text); text-detected links begin
 * with http:// or https://; tags are 1 to 64 characters and not all digits
 * is the detector's business, but a tag value is never empty; valid UTF-8
 * in, valid UTF-8 out.  Inputs that are not valid UTF-8 are skipped: post
 * text reaches the provider through JSON, which cannot carry them.
 */
#include "core/arena.h"
#include "providers/bluesky.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <utf8proc.h>

static void die(const char *what, long a, long b)
{
	fprintf(stderr, "fuzz_facets: %s (%ld, %ld)\n", what, a, b);
	abort();
}

static int valid_utf8(const char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		utf8proc_int32_t c;
		utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + i,
						      (utf8proc_ssize_t)(n - i), &c);
		if (k <= 0 || c < 0)
			return 0;
		i += (size_t)k;
	}
	return 1;
}

static int cont(unsigned char c)
{
	return (c & 0xc0) == 0x80;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 64 * 1024 || memchr(data, 0, size) || !valid_utf8((const char *)data, size))
		return 0;
	char *in = malloc(size + 1);
	memcpy(in, data, size);
	in[size] = 0;
	struct arena *a = arena_new();
	char *text = NULL, *text2 = NULL;
	json_t *f = bsky_facets_json(a, in, &text);
	json_t *g = bsky_facets_json(a, in, &text2);
	if (!json_equal(f, g) || strcmp(text, text2))
		die("not deterministic", 0, 0);
	size_t n = strlen(text);
	if (!valid_utf8(text, n))
		die("valid UTF-8 in, invalid text out", 0, (long)n);
	long prev_end = -1;
	size_t i;
	json_t *x;
	json_array_foreach(f, i, x) {
		long s = (long)json_integer_value(json_object_get(x, "start"));
		long e = (long)json_integer_value(json_object_get(x, "end"));
		const char *kind = json_string_value(json_object_get(x, "kind"));
		const char *v = json_string_value(json_object_get(x, "value"));
		if (s < 0 || e <= s || (size_t)e > n)
			die("facet outside the text or empty", s, e);
		if (s < prev_end)
			die("facets overlap or are not sorted", s, prev_end);
		if (cont((unsigned char)text[s]) || ((size_t)e < n && cont((unsigned char)text[e])))
			die("facet splits a UTF-8 character", s, e);
		if (!kind || !v || !*v)
			die("facet without kind or value", s, e);
		if (!strcmp(kind, "tag") && (strlen(v) > 64 * 4))
			die("tag longer than 64 characters", s, (long)strlen(v));
		/* a link found in the text itself covers exactly its URL */
		if (!strcmp(kind, "link") && !strncasecmp(text + s, "http", 4) &&
		    strncasecmp(v, "http://", 7) && strncasecmp(v, "https://", 8))
			die("text link without http(s) scheme", s, e);
		prev_end = e;
	}
	json_decref(f);
	json_decref(g);
	arena_free(a);
	free(in);
	return 0;
}
