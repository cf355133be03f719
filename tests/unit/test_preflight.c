/*
 * test_preflight: the counters of src/preflight/text.c and the rule table
 * of src/preflight/rules.c.
 *
 * Expected counts are computed by hand from the code points written out
 * next to each string (UTF-8 bytes per code point: U+0000-007F 1,
 * U+0080-07FF 2, U+0800-FFFF 3, above 4; UTF-16 units: 2 above U+FFFF),
 * not by the code under test.  Limits are tested exactly AT the limit and
 * one unit OVER it, in several scripts.
 *
 * The catalog test walks every rule of the table and, from its kind and
 * limits alone, builds one input that must trigger it and one that must
 * not, so a rule added to the table is exercised without a new test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/arena.h"
#include "preflight/rules.h"
#include "preflight/text.h"
#include "providers/provider.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

static struct arena *A;

static int setup(void **st)
{
	A = arena_new();
	return 0;
}

static int teardown(void **st)
{
	arena_free(A);
	A = NULL;
	return 0;
}

/* s repeated k times, in the arena */
static char *rep(const char *s, size_t k)
{
	size_t l = strlen(s);
	char *o = arena_alloc(A, l * k + 1);
	if (l == 1) {
		memset(o, s[0], k);
		o[k] = 0;
		return o;
	}
	for (size_t i = 0; i < k; i++)
		memcpy(o + i * l, s, l);
	o[l * k] = 0;
	return o;
}

static char *cat(const char *a, const char *b)
{
	return arena_printf(A, "%s%s", a, b);
}

/* ======================================================================
 * counters
 * ==================================================================== */

struct want {
	const char *what, *s;
	size_t bytes, cp, utf16, graphemes, x, masto, threads;
};

static void check_counts(const struct want *w)
{
	size_t n = strlen(w->s);
	struct text_counts c;
	text_basic_counts(w->s, n, &c);
	size_t g = text_graphemes(w->s, n), x = text_x_weighted_length(w->s, n);
	size_t m = text_mastodon_length(w->s, n), t = text_threads_length(w->s, n);
	if (c.bytes != w->bytes || c.code_points != w->cp || c.utf16 != w->utf16 ||
	    g != w->graphemes || x != w->x || m != w->masto || t != w->threads) {
		print_error("%s: bytes %zu/%zu cp %zu/%zu utf16 %zu/%zu graphemes %zu/%zu x %zu/%zu "
			    "mastodon %zu/%zu threads %zu/%zu (got/want)\n",
			    w->what, c.bytes, w->bytes, c.code_points, w->cp, c.utf16, w->utf16, g,
			    w->graphemes, x, w->x, m, w->masto, t, w->threads);
		fail();
	}
	assert_int_equal(text_code_points(w->s, n), w->cp);
	assert_int_equal(text_utf16(w->s, n), w->utf16);
}

/* Devanagari conjuncts: utf8proc >= 2.9 implements GB9c (Unicode 15.1) */
#if UTF8PROC_VERSION_MAJOR > 2 || (UTF8PROC_VERSION_MAJOR == 2 && UTF8PROC_VERSION_MINOR >= 9)
#define NAMASTE_GRAPHEMES 3
#else
#define NAMASTE_GRAPHEMES 4
#endif

static void test_counts_scripts(void **st)
{
	const struct want w[] = {
		{"empty", "", 0, 0, 0, 0, 0, 0, 0},
		{"ascii", "hello", 5, 5, 5, 5, 5, 5, 5},
		/* h U+00E9 l l o */
		{"latin precomposed", "h\xc3\xa9llo", 6, 5, 5, 5, 5, 5, 5},
		/* h e U+0301 l l o: NFC for X makes it 5 weight-1 characters */
		{"latin combining", "he\xcc\x81llo", 7, 6, 6, 5, 5, 6, 6},
		/* U+65E5 U+672C U+8A9E: CJK weighs 2 on X */
		{"cjk", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", 9, 3, 3, 3, 6, 3, 3},
		/* U+0928 U+092E U+0938 U+094D U+0924 U+0947 */
		{"devanagari", "\xe0\xa4\xa8\xe0\xa4\xae\xe0\xa4\xb8\xe0\xa5\x8d\xe0\xa4\xa4\xe0\xa5\x87",
		 18, 6, 6, NAMASTE_GRAPHEMES, 6, 6, 6},
		/* U+0645 U+0631 U+062D U+0628 U+0627 */
		{"arabic", "\xd9\x85\xd8\xb1\xd8\xad\xd8\xa8\xd8\xa7", 10, 5, 5, 5, 5, 5, 5},
		/* U+0645 U+064E U+0631 U+0652 U+062D U+064E U+0628 U+064B U+0627: marks join */
		{"arabic harakat",
		 "\xd9\x85\xd9\x8e\xd8\xb1\xd9\x92\xd8\xad\xd9\x8e\xd8\xa8\xd9\x8b\xd8\xa7", 18, 9, 9,
		 5, 9, 9, 9},
		/* U+1F468 ZWJ U+1F469 ZWJ U+1F467 ZWJ U+1F466: one emoji */
		{"zwj family",
		 "\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x91\xa7\xe2\x80\x8d"
		 "\xf0\x9f\x91\xa6",
		 25, 7, 11, 1, 2, 7, 25},
		/* U+1F1EF U+1F1F5 */
		{"flag", "\xf0\x9f\x87\xaf\xf0\x9f\x87\xb5", 8, 2, 4, 1, 2, 2, 8},
		/* U+1F44D U+1F3FD */
		{"skin tone", "\xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd", 8, 2, 4, 1, 2, 2, 8},
		/* 1 U+FE0F U+20E3 */
		{"keycap", "1\xef\xb8\x8f\xe2\x83\xa3", 7, 3, 3, 1, 2, 3, 7},
		/* a U+0301 U+0302 U+0303: one cluster; NFC makes it U+00E1 U+0302
		 * U+0303, weight 3 on X */
		{"stacked marks", "a\xcc\x81\xcc\x82\xcc\x83", 7, 4, 4, 1, 3, 4, 4},
		/* U+00A9 alone is in the weight-1 range; with U+FE0F it is an emoji */
		{"copyright", "\xc2\xa9", 2, 1, 1, 1, 1, 1, 1},
		{"copyright emoji", "\xc2\xa9\xef\xb8\x8f", 5, 2, 2, 1, 2, 2, 5},
		/* U+1F600 */
		{"astral", "\xf0\x9f\x98\x80", 4, 1, 2, 1, 2, 1, 4},
		/* U+2014 (em dash) is in X's weight-1 range 8208-8223 */
		{"em dash", "\xe2\x80\x94", 3, 1, 1, 1, 1, 1, 1},
		/* CR LF is one grapheme cluster */
		{"crlf", "a\r\nb", 4, 4, 4, 3, 4, 4, 4},
		{"url counts 23", "see https://example.com/a/very/long/path/to/somewhere/else ok",
		 61, 61, 61, 61, 4 + 23 + 3, 4 + 23 + 3, 61},
		/* bare domain: a URL for X, text for Mastodon */
		{"bare domain", "visit example.com now", 21, 21, 21, 21, 6 + 23 + 4, 21, 21},
		/* remote mention counts its local part on Mastodon */
		{"remote mention", "@alice@example.social hi", 24, 24, 24, 24, 24, 6 + 3, 24},
		{"local mention", "@alice hi", 9, 9, 9, 9, 9, 9, 9},
		{"email is not a URL", "mail john@example.com", 21, 21, 21, 21, 21, 21, 21},
	};
	for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++)
		check_counts(&w[i]);
}

static void test_counts_invalid_utf8(void **st)
{
	/* every invalid byte is one unit in every count */
	const struct want w[] = {
		{"lone 0xff", "\xff", 1, 1, 1, 1, 1, 1, 1},
		{"two bad", "\xff\xfe", 2, 2, 2, 2, 2, 2, 2},
		{"stray continuation", "a\x80" "b", 3, 3, 3, 3, 3, 3, 3},
		{"truncated", "\xc3", 1, 1, 1, 1, 1, 1, 1},
		{"truncated 3-byte", "\xe6\x97", 2, 2, 2, 2, 2, 2, 2},
		{"overlong 2-byte", "\xc0\x80", 2, 2, 2, 2, 2, 2, 2},
		{"overlong 3-byte", "\xe0\x80\x80", 3, 3, 3, 3, 3, 3, 3},
		{"surrogate", "\xed\xa0\x80", 3, 3, 3, 3, 3, 3, 3},
		{"above U+10FFFF", "\xf4\x90\x80\x80", 4, 4, 4, 4, 4, 4, 4},
		/* an invalid byte never joins a cluster: e, bad, U+0301 */
		{"bad before mark", "e\xff\xcc\x81", 4, 3, 3, 3, 3, 3, 3},
	};
	for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++)
		check_counts(&w[i]);
	/* NUL bytes are characters */
	struct text_counts c;
	text_basic_counts("a\0b", 3, &c);
	assert_int_equal(c.code_points, 3);
	assert_int_equal(text_graphemes("a\0b", 3), 3);
}

static void check_urls(const char *s, unsigned flags, const char *const *want, size_t nwant)
{
	struct text_url u[16];
	size_t n = text_urls(s, strlen(s), flags, u, 16);
	if (n != nwant) {
		print_error("\"%s\": %zu URLs, expected %zu\n", s, n, nwant);
		for (size_t i = 0; i < n && i < 16; i++)
			print_error("  [%.*s]\n", (int)(u[i].end - u[i].start), s + u[i].start);
		fail();
	}
	for (size_t i = 0; i < n; i++) {
		size_t l = u[i].end - u[i].start;
		if (l != strlen(want[i]) || memcmp(s + u[i].start, want[i], l)) {
			print_error("\"%s\": URL %zu is [%.*s], expected [%s]\n", s, i, (int)l,
				    s + u[i].start, want[i]);
			fail();
		}
	}
}

static void test_urls(void **st)
{
	const char *a[] = {"https://example.com/path?q=1"};
	check_urls("go to https://example.com/path?q=1.", TEXT_URL_BARE, a, 1);
	const char *b[] = {"http://EXAMPLE.org"};
	check_urls("(http://EXAMPLE.org)", 0, b, 1);
	const char *c[] = {"https://en.wikipedia.org/wiki/Foo_(bar)"};
	check_urls("(https://en.wikipedia.org/wiki/Foo_(bar))!", 0, c, 1);
	const char *d[] = {"example.com", "foo.io/x", "t.co", "www.test.co.uk/a"};
	check_urls("example.com, foo.io and foo.io/x and t.co and www.test.co.uk/a", TEXT_URL_BARE,
		   d, 4);
	/* without TEXT_URL_BARE only http(s) */
	check_urls("example.com and foo.io/x", 0, NULL, 0);
	/* not URLs: one label, an email, preceded by a letter or '@', unknown
	 * long TLD without protocol, a file name */
	check_urls("http://localhost:8080/x john@example.com xhttp://a.com @example.com "
		   "readme.txt example.invalidtld",
		   TEXT_URL_BARE, NULL, 0);
	const char *e[] = {"https://a.b-c.dev:8443/x#frag"};
	check_urls("https://a.b-c.dev:8443/x#frag", 0, e, 1);
	/* a new long TLD works with a protocol */
	const char *f[] = {"https://shop.photography/x"};
	check_urls("https://shop.photography/x", 0, f, 1);
	/* non-ASCII stops the path */
	const char *g[] = {"https://example.com/caf"};
	check_urls("https://example.com/caf\xc3\xa9", 0, g, 1);
}

static void check_html(const char *in, const char *want)
{
	size_t ol = 0;
	char *o = text_from_html(A, in, strlen(in), &ol);
	if (strcmp(o, want) || ol != strlen(want)) {
		print_error("text_from_html(\"%s\") = \"%s\"; expected \"%s\"\n", in, o, want);
		fail();
	}
	assert_true(ol <= strlen(in));
}

static void test_html(void **st)
{
	check_html("<p>Hello <strong>world</strong></p>", "Hello world");
	check_html("<p>a</p><p>b</p>", "a\nb");
	check_html("<p>a</p><p></p><p>b</p>", "a\n\nb");
	check_html("a<br>b<br/>c<br />d", "a\nb\nc\nd");
	check_html("<p>&amp; &lt;3 &gt; &quot;q&quot; &apos;a&#39; &nbsp;x</p>",
		   "& <3 > \"q\" 'a' \xc2\xa0x");
	check_html("<p>&#x1F600;&#128512;&#xe9;</p>", "\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xc3\xa9");
	check_html("<p>&#0;&#xD800;&#1114112;</p>", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	check_html("<p>&bogus; &amp &#xZZ; & x</p>", "&bogus; &amp &#xZZ; & x");
	/* '<' before a space is text; before a letter it starts a tag */
	check_html("<p>1 < 2 and 3 <= 4</p>", "1 < 2 and 3 <= 4");
	check_html("<ul><li>one</li><li>two</li></ul>", "one\ntwo");
	check_html("<p><a href=\"https://x.com/?a=1&amp;b>2\">link</a></p>", "link");
	check_html("<p>x<!-- hidden --> y</p>", "x y");
	check_html("<p>  </p>", "");
	check_html("<p>unterminated <b", "unterminated <b");
	check_html("&hellip;&mdash;&ndash;&euro;&trade;", "\xe2\x80\xa6\xe2\x80\x94\xe2\x80\x93\xe2\x82\xac\xe2\x84\xa2");
	assert_true(text_has_html_tags("<p>x</p>", 8));
	assert_true(text_has_html_tags("a</b>", 5));
	assert_false(text_has_html_tags("1 < 2 > 0", 9));
	assert_false(text_has_html_tags("a &amp; b", 9));
	assert_true(text_is_blank(" \t\n\xc2\xa0", 5));
	assert_false(text_is_blank(" x", 2));
}

static void test_hashtags(void **st)
{
	const char *s = "#one #two a#not &#38; #3 #_x # ##dbl #\xc3\xa9t\xc3\xa9";
	/* #one #two #3 #_x #dbl (the second #) #été */
	assert_int_equal(text_hashtags(s, strlen(s)), 6);
}

/* ======================================================================
 * limits, AT and OVER, per platform
 * ==================================================================== */

static int has_rule(const struct pf_violation *v, size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i].id, id))
			return 1;
	return 0;
}

static void expect(const char *platform, const char *text, int html, const struct pf_media *m,
		   size_t nm, json_t *settings, const char *id, int present)
{
	struct pf_target t = {platform, text, html, m, nm, settings};
	struct pf_violation *v;
	size_t n;
	assert_true(pf_check(&t, &v, &n, A) >= 0);
	if (has_rule(v, n, id) != present) {
		print_error("%s: rule %s %s for a text of %zu bytes (\"%.40s...\")\n", platform, id,
			    present ? "did not fire" : "fired", strlen(text), text);
		for (size_t i = 0; i < n; i++)
			print_error("  %s: %s\n", v[i].id, v[i].message);
		fail();
	}
}

#define AT(p, text, id) expect(p, text, 0, NULL, 0, NULL, id, 0)
#define OVER(p, text, id) expect(p, text, 0, NULL, 0, NULL, id, 1)

#define E_ACUTE "\xc3\xa9"                     /* U+00E9 */
#define E_COMB "e\xcc\x81"                     /* e U+0301 */
#define CJK "\xe6\x97\xa5"                     /* U+65E5 */
#define NAMASTE "\xe0\xa4\xa8\xe0\xa4\xae\xe0\xa4\xb8\xe0\xa5\x8d\xe0\xa4\xa4\xe0\xa5\x87"
#define MARHABA_H "\xd9\x85\xd9\x8e\xd8\xb1\xd9\x92\xd8\xad\xd9\x8e\xd8\xa8\xd9\x8b\xd8\xa7"
#define FAMILY "\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x91\xa7\xe2\x80\x8d\xf0\x9f\x91\xa6"
#define FLAG "\xf0\x9f\x87\xaf\xf0\x9f\x87\xb5"
#define THUMB_TONE "\xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd"
#define GRIN "\xf0\x9f\x98\x80"

static void test_bluesky_limits(void **st)
{
	const char *g = "bluesky.text.max_graphemes", *b = "bluesky.text.max_bytes";
	AT("bluesky", rep("a", 300), g);
	OVER("bluesky", rep("a", 301), g);
	AT("bluesky", rep(E_ACUTE, 300), g);
	OVER("bluesky", rep(E_ACUTE, 301), g);
	AT("bluesky", rep(E_COMB, 300), g);       /* 900 bytes */
	OVER("bluesky", rep(E_COMB, 301), g);
	AT("bluesky", rep(CJK, 300), g);
	OVER("bluesky", rep(CJK, 301), g);
	/* NAMASTE_GRAPHEMES clusters per word */
	AT("bluesky", rep(NAMASTE, 300 / NAMASTE_GRAPHEMES), g);
	OVER("bluesky", cat(rep(NAMASTE, 300 / NAMASTE_GRAPHEMES), "a"), g);
	AT("bluesky", rep(MARHABA_H, 60), g);     /* 5 clusters each, 1080 bytes */
	OVER("bluesky", cat(rep(MARHABA_H, 60), "x"), g);
	AT("bluesky", rep(FLAG, 300), g);         /* 2400 bytes */
	OVER("bluesky", rep(FLAG, 301), g);
	AT("bluesky", rep(THUMB_TONE, 300), g);
	OVER("bluesky", rep(THUMB_TONE, 301), g);
	/* 300 families are 300 graphemes but 7500 bytes: over the byte cap */
	AT("bluesky", rep(FAMILY, 300), g);
	OVER("bluesky", rep(FAMILY, 300), b);
	AT("bluesky", rep(FAMILY, 120), b);       /* 3000 bytes */
	OVER("bluesky", cat(rep(FAMILY, 120), "a"), b);
	/* HTML is counted as the text the reader sees */
	expect("bluesky", cat(cat("<p>", rep("&amp;", 300)), "</p>"), 1, NULL, 0, NULL, g, 0);
	expect("bluesky", cat(cat("<p>", rep("&amp;", 301)), "</p>"), 1, NULL, 0, NULL, g, 1);
}

static void test_x_limits(void **st)
{
	const char *r = "x.text.max_weighted_length";
	AT("x", rep("a", 280), r);
	OVER("x", rep("a", 281), r);
	AT("x", rep(CJK, 140), r);                 /* CJK weighs 2 */
	OVER("x", rep(CJK, 141), r);
	OVER("x", cat(rep(CJK, 140), "a"), r);
	AT("x", cat(rep(CJK, 139), "ab"), r);
	AT("x", rep(FAMILY, 140), r);              /* any emoji sequence weighs 2 */
	OVER("x", rep(FAMILY, 141), r);
	AT("x", rep(FLAG, 140), r);
	OVER("x", cat(rep(FLAG, 140), "."), r);
	AT("x", rep(THUMB_TONE, 140), r);
	OVER("x", rep(THUMB_TONE, 141), r);
	AT("x", rep(E_COMB, 280), r);              /* NFC: one weight-1 character each */
	OVER("x", rep(E_COMB, 281), r);
	AT("x", cat(rep(NAMASTE, 46), "abcd"), r); /* Devanagari weighs 1 per code point */
	OVER("x", cat(rep(NAMASTE, 46), "abcde"), r);
	AT("x", rep("\xd8\xa8", 280), r);          /* Arabic U+0628 weighs 1 */
	OVER("x", rep("\xd8\xa8", 281), r);
	/* a URL is 23 whatever its length */
	const char *url = cat("https://example.com/", rep("p", 200));
	AT("x", cat(cat(rep("a", 256), " "), url), r);
	OVER("x", cat(cat(rep("a", 257), " "), url), r);
	AT("x", cat(rep("a", 256), " example.com"), r);
	OVER("x", cat(rep("a", 257), " example.com"), r);
	/* articles have their own limit */
	json_t *art = json_pack("{s:s}", "post_type", "article");
	expect("x", rep("a", 1000), 0, NULL, 0, art, r, 0);
	expect("x", rep("a", 100001), 0, NULL, 0, art, "x.article.max_length", 1);
	json_decref(art);
}

static void test_mastodon_limits(void **st)
{
	const char *r = "mastodon.text.max_characters";
	AT("mastodon", rep("a", 500), r);
	OVER("mastodon", rep("a", 501), r);
	const char *url = cat("https://example.com/", rep("p", 300));
	AT("mastodon", cat(cat(rep("a", 476), " "), url), r);
	OVER("mastodon", cat(cat(rep("a", 477), " "), url), r);
	/* a bare domain is text on Mastodon */
	AT("mastodon", cat(rep("a", 488), " example.com"), r);
	OVER("mastodon", cat(rep("a", 489), " example.com"), r);
	/* @alice@example.social counts as @alice */
	AT("mastodon", cat("@alice@example.social ", rep("a", 493)), r);
	OVER("mastodon", cat("@alice@example.social ", rep("a", 494)), r);
	/* code points: an emoji with a skin tone is 2 */
	AT("mastodon", rep(THUMB_TONE, 250), r);
	OVER("mastodon", cat(rep(THUMB_TONE, 250), "a"), r);
	AT("mastodon", rep(CJK, 500), r);
	OVER("mastodon", rep(CJK, 501), r);
	/* the content warning counts too */
	json_t *cw = json_pack("{s:s}", "spoiler_text", "cw");
	expect("mastodon", rep("a", 498), 0, NULL, 0, cw, r, 0);
	expect("mastodon", rep("a", 499), 0, NULL, 0, cw, r, 1);
	json_decref(cw);
}

static void test_telegram_limits(void **st)
{
	const char *t = "telegram.text.max_length", *c = "telegram.caption.max_length";
	AT("telegram", rep("a", 4096), t);
	OVER("telegram", rep("a", 4097), t);
	AT("telegram", rep(GRIN, 2048), t);        /* 2 UTF-16 units each */
	OVER("telegram", cat(rep(GRIN, 2048), "a"), t);
	AT("telegram", rep(CJK, 4096), t);
	OVER("telegram", rep(CJK, 4097), t);
	AT("telegram", rep(FAMILY, 372), t);       /* 11 units each: 4092 */
	OVER("telegram", rep(FAMILY, 373), t);
	expect("telegram", cat(cat("<p>", rep("a", 4096)), "</p>"), 1, NULL, 0, NULL, t, 0);
	expect("telegram", cat(cat("<p>", rep("a", 4097)), "</p>"), 1, NULL, 0, NULL, t, 1);
	/* with media the text is a caption of 1024 */
	struct pf_media m = {"image/jpeg", 0, 0, 0, 0};
	expect("telegram", rep(GRIN, 512), 0, &m, 1, NULL, c, 0);
	expect("telegram", cat(rep(GRIN, 512), "a"), 0, &m, 1, NULL, c, 1);
	expect("telegram", rep("a", 5000), 0, &m, 1, NULL, t, 0); /* not the text rule */
}

static void test_threads_limits(void **st)
{
	const char *r = "threads.text.max_characters";
	AT("threads", rep("a", 500), r);
	OVER("threads", rep("a", 501), r);
	AT("threads", rep(CJK, 500), r);
	OVER("threads", rep(CJK, 501), r);
	AT("threads", rep(GRIN, 125), r);          /* an emoji counts its 4 bytes */
	OVER("threads", cat(rep(GRIN, 125), "a"), r);
	AT("threads", rep(FAMILY, 20), r);         /* 25 bytes each */
	OVER("threads", cat(rep(FAMILY, 20), "a"), r);
	AT("threads", rep(E_COMB, 250), r);        /* 2 code points each */
	OVER("threads", cat(rep(E_COMB, 250), "a"), r);
}

static void test_webhook_compat(void **st)
{
	/* the integration suite matches ^webhook\.[a-z_]+\.[a-z_]+$ and counts
	 * UTF-16 units as Postiz does */
	const char *r = "webhook.text.max_length";
	AT("webhook", rep(GRIN, 50000), r);
	OVER("webhook", cat(rep(GRIN, 50000), "x"), r);
	expect("webhook", cat(cat("<p>", rep(E_ACUTE, 100000)), "</p>"), 1, NULL, 0, NULL, r, 0);
	struct pf_target t = {"webhook", rep("a", 100001), 0, NULL, 0, NULL};
	struct pf_violation *v;
	size_t n;
	assert_int_equal(pf_check(&t, &v, &n, A), 1);
	assert_string_equal(v[0].id, r);
	assert_non_null(strstr(v[0].message, "100000"));
	assert_non_null(strstr(v[0].message, "100001"));
	assert_true(v[0].limit == 100000 && v[0].actual == 100001);
}

/* ======================================================================
 * threads, media facts, JSON
 * ==================================================================== */

static void test_thread_items(void **st)
{
	struct pf_violation *v;
	size_t n;
	struct pf_target x[3] = {
		{"x", "first", 0, NULL, 0, NULL},
		{"x", rep("a", 281), 0, NULL, 0, NULL},
		{"x", rep(CJK, 141), 0, NULL, 0, NULL},
	};
	assert_int_equal(pf_check_thread(x, 3, &v, &n, A), 2);
	assert_int_equal(v[0].item, 1);
	assert_int_equal(v[1].item, 2);
	assert_string_equal(v[1].id, "x.text.max_weighted_length");
	/* Instagram: media required on the post, comments are text only */
	struct pf_media img = {"image/jpeg", 0, 0, 0, 0};
	struct pf_target ig[2] = {
		{"instagram", "post", 0, NULL, 0, NULL},
		{"instagram", "comment", 0, &img, 1, NULL},
	};
	assert_int_equal(pf_check_thread(ig, 2, &v, &n, A), 2);
	assert_string_equal(v[0].id, "instagram.media.required");
	assert_int_equal(v[0].item, 0);
	assert_string_equal(v[1].id, "instagram.comment.no_media");
	assert_int_equal(v[1].item, 1);
	/* YouTube publishes value[0] only: later items are not checked */
	struct pf_media vid = {"video/mp4", 0, 0, 0, 0};
	struct pf_target yt[2] = {
		{"youtube", "desc", 0, &vid, 1, NULL},
		{"youtube", rep("a", 6000), 0, NULL, 0, NULL},
	};
	assert_int_equal(pf_check_thread(yt, 2, &v, &n, A), 0);
	/* single target: item -1 */
	struct pf_target one = {"bluesky", rep("a", 301), 0, NULL, 0, NULL};
	assert_int_equal(pf_check(&one, &v, &n, A), 1);
	assert_int_equal(v[0].item, -1);
	/* unknown platform */
	struct pf_target unk = {"myspace", "x", 0, NULL, 0, NULL};
	assert_int_equal(pf_check(&unk, &v, &n, A), -1);
	assert_int_equal(n, 0);
	assert_int_equal(pf_check_thread(&unk, 1, &v, &n, A), -1);
}

static void test_unknown_facts_skipped(void **st)
{
	/* nothing known but the count: only count rules can fire */
	struct pf_media m[6] = {{0}};
	struct pf_target t = {"bluesky", "x", 0, m, 6, NULL};
	struct pf_violation *v;
	size_t n;
	assert_int_equal(pf_check(&t, &v, &n, A), 0); /* type unknown: neither images nor videos */
	t.platform = "mastodon";
	assert_int_equal(pf_check(&t, &v, &n, A), 1);
	assert_string_equal(v[0].id, "mastodon.media.max_count");
	/* the MIME known, the bytes not */
	struct pf_media big = {"image/png", 0, 0, 0, 0};
	struct pf_target b = {"bluesky", "x", 0, &big, 1, NULL};
	assert_int_equal(pf_check(&b, &v, &n, A), 0);
	big.bytes = 1000001;
	assert_int_equal(pf_check(&b, &v, &n, A), 1);
	assert_string_equal(v[0].id, "bluesky.image.max_bytes");
	assert_int_equal(v[0].media, 0);
	/* every violation of a target is reported, not only the first */
	struct pf_media mix[7] = {{"image/jpeg", 0, 0, 0, 0}, {"video/mp4", 0, 0, 0, 0},
				  {"video/mp4", 0, 0, 0, 0}, {"image/bmp", 0, 0, 0, 0},
				  {"image/png", 0, 0, 0, 0}, {"image/png", 0, 0, 0, 0},
				  {"image/gif", 0, 0, 0, 0}};
	struct pf_target all = {"bluesky", rep("a", 301), 0, mix, 7, NULL};
	pf_check(&all, &v, &n, A);
	const char *want[] = {"bluesky.text.max_graphemes", "bluesky.media.max_images",
			      "bluesky.media.max_videos", "bluesky.media.image_video_exclusive",
			      "bluesky.media.allowed_mime"};
	assert_int_equal(n, 5);
	for (size_t i = 0; i < 5; i++)
		assert_string_equal(v[i].id, want[i]);
	assert_string_equal(v[4].actual_str, "image/bmp");
	assert_int_equal(v[4].media, 3);
}

static void test_mime_from_path(void **st)
{
	assert_string_equal(pf_mime_from_path("https://a.b/x/photo.JPG?w=1#f"), "image/jpeg");
	assert_string_equal(pf_mime_from_path("https://a.b/v.mp4"), "video/mp4");
	assert_string_equal(pf_mime_from_path("https://a.b/v.MOV"), "video/quicktime");
	assert_string_equal(pf_mime_from_path("/uploads/a.webp"), "image/webp");
	assert_null(pf_mime_from_path("https://a.b/download?id=3"));
	assert_null(pf_mime_from_path("https://a.b/file.xyz"));
	assert_null(pf_mime_from_path("https://a.b.c/"));
	assert_null(pf_mime_from_path("https://a.com"));
	assert_null(pf_mime_from_path(NULL));
	assert_true(pf_mime_matches("image/png", "image/"));
	assert_true(pf_mime_matches("video/mp4; codecs=avc1", "video/mp4"));
	assert_false(pf_mime_matches("video/mp4", "image/,video/quicktime"));
	assert_true(pf_mime_matches("IMAGE/GIF", "image/jpeg,image/gif"));
}

static void test_violation_json(void **st)
{
	struct pf_media m = {"image/bmp", 0, 0, 0, 0};
	struct pf_target t = {"x", rep("a", 300), 0, &m, 1, NULL};
	struct pf_violation *v;
	size_t n;
	assert_int_equal(pf_check(&t, &v, &n, A), 2);
	json_t *o = pf_violation_json(&v[0]);
	assert_string_equal(json_string_value(json_object_get(o, "rule")),
			    "x.text.max_weighted_length");
	assert_string_equal(json_string_value(json_object_get(o, "platform")), "x");
	assert_int_equal(json_integer_value(json_object_get(o, "limit")), 280);
	assert_int_equal(json_integer_value(json_object_get(o, "actual")), 300);
	assert_string_equal(json_string_value(json_object_get(o, "unit")), "x_weighted_characters");
	assert_non_null(strstr(json_string_value(json_object_get(o, "message")), "280"));
	assert_non_null(strstr(json_string_value(json_object_get(o, "remediation")), "20"));
	json_decref(o);
	o = pf_violation_json(&v[1]);
	assert_string_equal(json_string_value(json_object_get(o, "rule")), "x.media.allowed_mime");
	assert_string_equal(json_string_value(json_object_get(o, "actual")), "image/bmp");
	assert_true(json_is_array(json_object_get(o, "limit")));
	assert_int_equal(json_integer_value(json_object_get(o, "media")), 0);
	json_decref(o);
}

/* ======================================================================
 * the catalog
 * ==================================================================== */

static int well_formed_id(const char *id)
{
	/* <platform [a-z-]+>.<surface [a-z_]+>.<check [a-z_]+> */
	const char *p = id;
	int parts = 0;
	for (;;) {
		const char *s = p;
		while (*p && *p != '.') {
			if (!(islower((unsigned char)*p) || *p == '_' || (parts == 0 && *p == '-')))
				return 0;
			p++;
		}
		if (p == s)
			return 0;
		parts++;
		if (!*p)
			break;
		p++;
	}
	return parts == 3;
}

static const char *const every_provider[] = {
	"x", "linkedin", "linkedin-page", "reddit", "instagram", "instagram-standalone", "facebook",
	"threads", "youtube", "gmb", "tiktok", "pinterest", "dribbble", "discord", "slack", "kick",
	"twitch", "mastodon", "bluesky", "lemmy", "telegram", "nostr", "vk", "medium", "devto",
	"hashnode", "wordpress", "listmonk", "tumblr", "webhook", "rss",
	/* the rest of postiz.md section 3 */
	"tiktok-business", "wrapcast", "moltbook", "whop", "skool", "mewe",
};

static void test_catalog_shape(void **st)
{
	size_t nr = pf_rule_count();
	assert_true(nr > 100);
	for (size_t i = 0; i < nr; i++) {
		const struct pf_rule *r = pf_rule_at(i);
		if (!well_formed_id(r->id)) {
			print_error("rule id %s is not <platform>.<surface>.<check>\n", r->id);
			fail();
		}
		char *want = arena_printf(A, "%s.%s.%s", r->platform, r->surface, r->check);
		assert_string_equal(r->id, want);
		assert_non_null(pf_platform_name(r->platform));
		assert_non_null(r->source);
		assert_true(*r->source);
		assert_non_null(r->confidence);
		assert_true(strchr("VCMH", r->confidence[0]) && !r->confidence[1]);
		assert_non_null(pf_kind_name(r->kind));
		for (size_t j = 0; j < i; j++)
			if (!strcmp(pf_rule_at(j)->id, r->id)) {
				print_error("rule id %s appears twice\n", r->id);
				fail();
			}
	}
	assert_null(pf_rule_at(nr));
	for (size_t i = 0; i < sizeof(every_provider) / sizeof(every_provider[0]); i++) {
		size_t k = 0;
		for (size_t j = 0; j < nr; j++)
			k += !strcmp(pf_rule_at(j)->platform, every_provider[i]);
		if (!k) {
			print_error("no rule for provider %s\n", every_provider[i]);
			fail();
		}
	}
	/* every provider herald implements has a text rule equal to its Postiz
	 * maxLength (integration-settings and preflight agree) */
	for (size_t i = 0; i < provider_count(); i++) {
		const struct provider *p = provider_at(i);
		int found = 0;
		for (size_t j = 0; j < nr; j++) {
			const struct pf_rule *r = pf_rule_at(j);
			if (!strcmp(r->platform, p->identifier) && r->kind == PF_TEXT_MAX &&
			    !strcmp(r->surface, "text") && !r->cond && r->when != PF_WITH_MEDIA &&
			    r->max == p->max_length)
				found = 1;
		}
		if (!found) {
			print_error("provider %s: no text rule with its max_length %d\n", p->identifier,
				    p->max_length);
			fail();
		}
	}
	/* the JSON catalog is the same table */
	json_t *cat_ = pf_catalog_json();
	assert_int_equal(json_array_size(cat_), nr);
	size_t i;
	json_t *o;
	json_array_foreach(cat_, i, o) {
		const struct pf_rule *r = pf_rule_at(i);
		assert_string_equal(json_string_value(json_object_get(o, "id")), r->id);
		assert_string_equal(json_string_value(json_object_get(o, "platform")), r->platform);
		assert_string_equal(json_string_value(json_object_get(o, "surface")), r->surface);
		assert_string_equal(json_string_value(json_object_get(o, "check")), r->check);
		assert_non_null(json_object_get(o, "limit"));
		assert_non_null(json_object_get(o, "unit"));
		assert_true(json_is_string(json_object_get(o, "message")));
		assert_true(json_is_string(json_object_get(o, "remediation")));
		assert_true(json_is_string(json_object_get(o, "source")));
		assert_true(json_is_string(json_object_get(o, "confidence")));
	}
	json_decref(cat_);
}

/* A MIME type matching a rule's filter, and one that does not. */
static const char *sample_mime(const char *filter)
{
	if (!filter || !*filter)
		return "image/jpeg";
	size_t el = strcspn(filter, ",");
	if (el && filter[el - 1] == '/')
		return !strncmp(filter, "image/", el) ? "image/jpeg" : "video/mp4";
	return arena_strndup(A, filter, el);
}

static const char *other_mime(const char *filter)
{
	const char *c[] = {"image/jpeg", "video/mp4", "application/pdf"};
	for (size_t i = 0; i < 3; i++)
		if (!pf_mime_matches(c[i], filter))
			return c[i];
	return "application/x-none";
}

/* settings making the rule's condition hold (NULL when none needed) */
static json_t *cond_settings(const char *cond)
{
	json_t *s = json_object();
	if (!cond)
		return s;
	const char *eq = strchr(cond, '=');
	if (!eq) {
		json_object_set_new(s, cond, json_string("1"));
		return s;
	}
	if (eq > cond && eq[-1] == '!')
		return s; /* absent: "key!=value" holds */
	char *key = arena_strndup(A, cond, (size_t)(eq - cond));
	if (!strcmp(eq + 1, "true"))
		json_object_set_new(s, key, json_true());
	else
		json_object_set_new(s, key, json_string(eq + 1));
	return s;
}

/* settings[path] = value, path "a.b" / "a[].b" */
static void set_path(json_t *s, const char *path, const char *value)
{
	size_t sl = strcspn(path, ".");
	int arr = sl >= 2 && path[sl - 2] == '[';
	char *key = arena_strndup(A, path, arr ? sl - 2 : sl);
	if (!path[sl]) {
		json_object_set_new(s, key, json_string(value));
		return;
	}
	json_t *child = json_object();
	set_path(child, path + sl + 1, value);
	if (arr)
		json_object_set_new(s, key, json_pack("[o]", child));
	else
		json_object_set_new(s, key, child);
}

struct case_ {
	const char *text;
	struct pf_media *m;
	size_t nm;
	json_t *settings; /* owned */
};

static struct pf_media *media_n(size_t n, const char *mime)
{
	struct pf_media *m = arena_alloc(A, (n ? n : 1) * sizeof(*m));
	for (size_t i = 0; i < n; i++)
		m[i].mime = mime;
	return m;
}

/* Build the failing (bad = 1) or passing input of rule r. */
static void build(const struct pf_rule *r, int bad, struct case_ *c)
{
	c->text = "ok";
	c->m = NULL;
	c->nm = 0;
	c->settings = cond_settings(r->cond);
	if (r->when == PF_WITH_MEDIA) {
		c->m = media_n(1, "image/jpeg");
		c->nm = 1;
	}
	const char *mime = sample_mime(r->arg);
	size_t lim = (size_t)r->max;
	switch (r->kind) {
	case PF_TEXT_MAX:
		c->text = rep("a", lim + (bad ? 1 : 0));
		break;
	case PF_TEXT_OR_MEDIA:
		c->text = bad ? " \n " : "x";
		break;
	case PF_TEXT_FORBIDDEN:
		c->text = bad ? arena_printf(A, "a%cb", r->arg[0]) : "ab";
		break;
	case PF_HASHTAGS_MAX:
		c->text = rep("#t ", lim + (bad ? 1 : 0));
		break;
	case PF_SETTING_MAX:
		set_path(c->settings, r->arg, rep("a", lim + (bad ? 1 : 0)));
		break;
	case PF_MEDIA_REQUIRED:
		c->nm = bad ? 0 : 1;
		c->m = media_n(1, mime);
		break;
	case PF_MEDIA_MIN:
		c->nm = bad ? (size_t)r->min - 1 : (size_t)r->min;
		c->m = media_n(c->nm, "image/jpeg");
		break;
	case PF_MEDIA_MAX:
	case PF_IMAGES_MAX:
		c->nm = lim + (bad ? 1 : 0);
		c->m = media_n(c->nm, "image/jpeg");
		break;
	case PF_VIDEOS_MAX:
		c->nm = lim + (bad ? 1 : 0);
		c->m = media_n(c->nm, "video/mp4");
		break;
	case PF_IMAGE_VIDEO_EXCLUSIVE:
		c->nm = bad ? 2 : 1;
		c->m = media_n(2, "image/jpeg");
		c->m[1].mime = "video/mp4";
		break;
	case PF_SOLO:
		c->nm = bad ? 2 : 1;
		c->m = media_n(2, mime);
		c->m[1].mime = other_mime(r->arg);
		break;
	case PF_EXACTLY_ONE:
		c->nm = bad ? 2 : 1;
		c->m = media_n(2, mime);
		break;
	case PF_FIRST_IS:
		c->nm = bad ? 2 : 1;
		c->m = media_n(2, mime);
		if (bad) {
			c->m[0].mime = other_mime(r->arg);
			c->m[1].mime = mime;
		}
		break;
	case PF_MIME_ALLOWED:
		c->nm = 1;
		c->m = media_n(1, bad ? "image/x-not-allowed" : sample_mime(r->arg));
		break;
	case PF_MAX_BYTES:
		c->nm = 1;
		c->m = media_n(1, mime);
		c->m[0].bytes = (int64_t)r->max + (bad ? 1 : 0);
		break;
	case PF_MIN_DURATION:
		c->nm = 1;
		c->m = media_n(1, mime);
		c->m[0].duration_s = bad ? r->min / 2 : r->min;
		break;
	case PF_MAX_DURATION:
		c->nm = 1;
		c->m = media_n(1, mime);
		c->m[0].duration_s = r->max + (bad ? 1 : 0);
		break;
	case PF_MIN_WIDTH:
		c->nm = 1;
		c->m = media_n(1, mime);
		c->m[0].width = (int)r->min - (bad ? 1 : 0);
		c->m[0].height = c->m[0].width;
		break;
	case PF_MAX_WIDTH:
		c->nm = 1;
		c->m = media_n(1, mime);
		c->m[0].width = (int)r->max + (bad ? 1 : 0);
		c->m[0].height = c->m[0].width;
		break;
	case PF_MIN_SHORT_EDGE:
		c->nm = 1;
		c->m = media_n(1, mime);
		c->m[0].width = 4000;
		c->m[0].height = (int)r->min - (bad ? 1 : 0);
		break;
	case PF_MAX_PIXELS:
		c->nm = 1;
		c->m = media_n(1, mime);
		c->m[0].width = (int)r->max;
		c->m[0].height = bad ? 2 : 1;
		break;
	case PF_ASPECT_RATIO:
		c->nm = 1;
		c->m = media_n(1, mime);
		c->m[0].height = 1000;
		c->m[0].width = bad ? (int)(r->max * 1200) : (int)((r->min + r->max) * 500);
		break;
	case PF_DIMENSIONS_IN: {
		c->nm = 1;
		c->m = media_n(1, "image/png");
		int w = 0, h = 0;
		sscanf(r->arg, "%dx%d", &w, &h);
		c->m[0].width = w + (bad ? 1 : 0);
		c->m[0].height = h;
		break;
	}
	default:
		fail_msg("rule %s: kind %d has no test input", r->id, r->kind);
	}
}

/* Run rule r's case: 1 when r fired (with a complete message). */
static int fires(const struct pf_rule *r, struct case_ *c)
{
	struct pf_target t = {r->platform, c->text, 0, c->m, c->nm, c->settings};
	struct pf_violation *v;
	size_t n;
	long want_item = -1;
	if (r->scope == PF_LATER_ITEMS) {
		struct pf_target th[2] = {{r->platform, "first", 0, NULL, 0, NULL}, t};
		assert_true(pf_check_thread(th, 2, &v, &n, A) >= 0);
		want_item = 1;
	} else {
		assert_true(pf_check(&t, &v, &n, A) >= 0);
	}
	int hit = 0;
	for (size_t i = 0; i < n; i++) {
		if (strstr(v[i].message, "{") || strstr(v[i].remediation, "{") || !*v[i].message ||
		    !*v[i].remediation) {
			print_error("%s: unexpanded or empty text: \"%s\" / \"%s\"\n", v[i].id,
				    v[i].message, v[i].remediation);
			fail();
		}
		if (v[i].rule == r) {
			hit = 1;
			if (want_item >= 0)
				assert_int_equal(v[i].item, want_item);
			json_t *o = pf_violation_json(&v[i]);
			assert_string_equal(json_string_value(json_object_get(o, "rule")), r->id);
			json_decref(o);
		}
	}
	return hit;
}

static void test_catalog_every_rule(void **st)
{
	size_t nr = pf_rule_count(), exercised = 0;
	for (size_t i = 0; i < nr; i++) {
		const struct pf_rule *r = pf_rule_at(i);
		struct case_ c;
		/* a fresh arena per rule: some limits are 100 MB of text */
		arena_free(A);
		A = arena_new();
		build(r, 1, &c);
		int bad = fires(r, &c);
		json_decref(c.settings);
		build(r, 0, &c);
		int good = fires(r, &c);
		json_decref(c.settings);
		if (!bad || good) {
			print_error("rule %s (%s): failing input %s, passing input %s\n", r->id,
				    pf_kind_name(r->kind), bad ? "fired" : "DID NOT FIRE",
				    good ? "FIRED" : "passed");
			fail();
		}
		exercised++;
	}
	assert_int_equal(exercised, nr);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_counts_scripts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_counts_invalid_utf8, setup, teardown),
		cmocka_unit_test_setup_teardown(test_urls, setup, teardown),
		cmocka_unit_test_setup_teardown(test_html, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hashtags, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bluesky_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_x_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mastodon_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_telegram_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_threads_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_webhook_compat, setup, teardown),
		cmocka_unit_test_setup_teardown(test_thread_items, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_facts_skipped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mime_from_path, setup, teardown),
		cmocka_unit_test_setup_teardown(test_violation_json, setup, teardown),
		cmocka_unit_test_setup_teardown(test_catalog_shape, setup, teardown),
		cmocka_unit_test_setup_teardown(test_catalog_every_rule, setup, teardown),
	};
	return cmocka_run_group_tests_name("preflight", tests, NULL, NULL);
}
