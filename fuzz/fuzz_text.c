/*
 * fuzz_text: every counter of src/preflight/text.c and text_from_html on
 * arbitrary bytes (NUL bytes included: the functions take a length).
 *
 * Oracles: no sanitizer report; every count is deterministic;
 * bytes >= code points >= graphemes (for any input: an invalid byte is one
 * unit in each); code points <= UTF-16 units <= 2 x code points; valid
 * UTF-8 reports no invalid byte; Threads' count lies between the grapheme
 * and byte counts; Mastodon's count is at most the code points plus 23 per
 * URL; URLs are in bounds, non-empty, ordered and disjoint;
 * text_from_html never grows the text, NUL-terminates it, keeps valid
 * UTF-8 valid, and its output obeys the same count invariants.
 */
#include "core/arena.h"
#include "preflight/text.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

static void die(const char *what, size_t a, size_t b)
{
	fprintf(stderr, "fuzz_text: %s (%zu, %zu)\n", what, a, b);
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

static void check(const char *s, size_t n)
{
	struct text_counts c, c2;
	text_basic_counts(s, n, &c);
	text_basic_counts(s, n, &c2);
	if (memcmp(&c, &c2, sizeof(c)))
		die("basic counts not deterministic", 0, 0);
	if (c.bytes != n)
		die("bytes", c.bytes, n);
	size_t g = text_graphemes(s, n);
	if (g != text_graphemes(s, n))
		die("graphemes not deterministic", g, 0);
	if (!(c.bytes >= c.code_points && c.code_points >= g))
		die("bytes >= code points >= graphemes", c.code_points, g);
	if (n && !g)
		die("non-empty text without a grapheme", n, g);
	if (c.utf16 < c.code_points || c.utf16 > 2 * c.code_points)
		die("utf16 vs code points", c.utf16, c.code_points);
	if (c.invalid > c.code_points)
		die("invalid > code points", c.invalid, c.code_points);
	if (valid_utf8(s, n) != (c.invalid == 0))
		die("validity disagrees with utf8proc", c.invalid, n);
	if (text_code_points(s, n) != c.code_points || text_utf16(s, n) != c.utf16)
		die("single counters disagree", 0, 0);

	size_t x = text_x_weighted_length(s, n);
	if (x != text_x_weighted_length(s, n))
		die("x not deterministic", x, 0);
	size_t th = text_threads_length(s, n);
	if (th != text_threads_length(s, n))
		die("threads not deterministic", th, 0);
	if (th < g || th > c.bytes)
		die("threads between graphemes and bytes", th, g);
	size_t m = text_mastodon_length(s, n);
	if (m != text_mastodon_length(s, n))
		die("mastodon not deterministic", m, 0);
	size_t h = text_hashtags(s, n);
	if (h > n / 2 + 1)
		die("more hashtags than possible", h, n);

	struct text_url u[64];
	for (unsigned flags = 0; flags <= TEXT_URL_BARE; flags++) {
		size_t k = text_urls(s, n, flags, u, 64);
		size_t stored = k < 64 ? k : 64;
		size_t prev_end = 0;
		for (size_t i = 0; i < stored; i++) {
			if (u[i].start >= u[i].end || u[i].end > n || u[i].start < prev_end)
				die("URL out of order or bounds", u[i].start, u[i].end);
			prev_end = u[i].end;
		}
		if (k != text_urls(s, n, flags, NULL, 0))
			die("URL count depends on storage", k, 0);
		if (flags == 0 && m > c.code_points + 23 * k)
			die("mastodon over code points + 23 per URL", m, c.code_points);
		if (flags && x > 0 && n == 0)
			die("x of empty text", x, 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 64 * 1024)
		return 0;
	/* an exact-size heap copy: ASan sees any read past the end */
	char *s = malloc(size ? size : 1);
	if (size)
		memcpy(s, data, size);
	check(s, size);

	struct arena *a = arena_new();
	size_t ol = 12345;
	char *o = text_from_html(a, s, size, &ol);
	if (!o || ol > size || o[ol] != 0)
		die("text_from_html grew the text or lost its NUL", ol, size);
	size_t ol2 = 0;
	char *o2 = text_from_html(a, s, size, &ol2);
	if (ol2 != ol || memcmp(o, o2, ol))
		die("text_from_html not deterministic", ol, ol2);
	if (valid_utf8(s, size) && !valid_utf8(o, ol))
		die("text_from_html broke valid UTF-8", ol, size);
	(void)text_has_html_tags(s, size);
	(void)text_is_blank(s, size);
	check(o, ol);
	arena_free(a);
	free(s);
	return 0;
}
