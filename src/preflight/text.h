/*
 * text: counting text the way each platform counts it (SPEC 6), and the
 * Postiz HTML -> plain text step that comes before counting.
 *
 * Every function takes UTF-8 as (pointer, length); NUL bytes are ordinary
 * characters.  Invalid UTF-8 is handled deterministically: each byte that
 * does not start a well-formed sequence (stray continuation bytes, overlong
 * forms, surrogates, code points above U+10FFFF, truncated sequences) is
 * one unit in every count (one byte, one code point, one UTF-16 unit, one
 * grapheme cluster of its own, weight 1 for X, 1 for Mastodon and Threads).
 * Nothing here allocates except text_from_html (arena) and the X count
 * (one temporary NFC copy, freed before returning).
 *
 * Units:
 *   bytes        UTF-8 bytes (YouTube description, Bluesky's byte cap)
 *   code points  Unicode scalar values
 *   UTF-16       code units, as JavaScript's String.length (Postiz, Facebook,
 *                Telegram, TikTok): astral characters count 2
 *   graphemes    extended grapheme clusters of UAX #29 (utf8proc's
 *                segmentation; Bluesky, as Intl.Segmenter does it).  utf8proc
 *                2.8 implements Unicode 15.0 rules: Indic conjuncts
 *                (GB9c, Unicode 15.1) are not joined, so "स्ते" is two
 *                clusters here and one in ICU >= 74.  That over-counts
 *                Devanagari and similar scripts slightly (never under-counts).
 *   X weighted   twitter-text v3 (see text_x_weighted_length)
 *   Mastodon     see text_mastodon_length
 *   Threads      see text_threads_length
 */
#ifndef HERALD_TEXT_H
#define HERALD_TEXT_H

#include <stddef.h>

struct arena;

/* twitter-text config/v3.json */
#define TEXT_X_MAX_WEIGHTED 280
#define TEXT_X_URL_LENGTH 23      /* transformedURLLength */
#define TEXT_X_SCALE 100
#define TEXT_X_DEFAULT_WEIGHT 200
/* Mastodon: characters_reserved_per_url */
#define TEXT_MASTODON_URL_LENGTH 23

struct text_counts {
	size_t bytes;
	size_t code_points; /* invalid bytes included, one each */
	size_t utf16;
	size_t invalid;     /* bytes that were not valid UTF-8 */
};

/* bytes, code points, UTF-16 units in one pass (no segmentation). */
void text_basic_counts(const char *s, size_t n, struct text_counts *out);
size_t text_code_points(const char *s, size_t n);
size_t text_utf16(const char *s, size_t n);
size_t text_graphemes(const char *s, size_t n);

/*
 * X / Twitter weighted length (twitter-text v3 parseTweet):
 *  - the text is NFC-normalized first (skipped when it is not valid UTF-8);
 *  - every URL found by text_urls(TEXT_URL_BARE) counts 23;
 *  - every emoji grapheme cluster (one holding an Extended_Pictographic
 *    character, a flag of two regional indicators or a keycap sequence)
 *    counts 2, whatever its length (ZWJ sequences, skin tones, flags);
 *    a lone (c) or (R) without U+FE0F is not an emoji (it is in the
 *    weight-1 range);
 *  - any other code point counts 1 when it lies in U+0000-U+10FF,
 *    U+2000-U+200D, U+2010-U+201F or U+2032-U+2037, else 2 (CJK, ...).
 * Returns the weighted length in characters (X's limit is 280).
 */
size_t text_x_weighted_length(const char *s, size_t n);

/*
 * Mastodon (app/validators/status_length_validator.rb): every http(s) URL
 * (text_urls without TEXT_URL_BARE) counts 23; a remote mention
 * @user@domain counts as "@user" (Account::MENTION_RE); everything else is
 * counted in code points.  Note: Mastodon's server counts grapheme clusters
 * (Ruby each_grapheme_cluster / grapheme_length) while its web composer
 * counts code points (stringz); code points are never fewer, so this count
 * never lets through a status the server refuses.
 */
size_t text_mastodon_length(const char *s, size_t n);

/*
 * Threads: "500 characters; emojis are counted as their UTF-8 byte length"
 * (Meta's Threads docs, platforms.md section 4): an emoji grapheme cluster
 * (as for X) counts its UTF-8 bytes, every other code point counts 1.
 */
size_t text_threads_length(const char *s, size_t n);

/* Hashtags: '#' (or U+FF03) at the start or after a character that is not
 * a word character, followed by a letter, digit, '_' or any non-ASCII
 * character other than whitespace. */
size_t text_hashtags(const char *s, size_t n);

/*
 * URL extraction (a bounded, simplified twitter-text extractUrls):
 *  - a URL starts at a position not preceded by an ASCII letter or digit,
 *    '@', '$', '#', U+FF20, U+FF03 or U+202A-U+202E;
 *  - "http://" or "https://" (any case), then a host of ASCII labels
 *    ([A-Za-z0-9_-], separated by dots, at least two) whose last label is
 *    alphabetic and at least 2 letters long;
 *  - with TEXT_URL_BARE also a host without a protocol, when it is not
 *    preceded by '-', '_', '.' or '/', and its top-level domain is one of
 *    the common generic TLDs listed in text.c or any two-letter
 *    (country-code) TLD.  As in twitter-text, "name.cc" with a two-letter
 *    TLD and no path is not a URL, except under .co and .tv;
 *  - then an optional ":port" (1-5 digits) and an optional path, query and
 *    fragment of printable ASCII (no space, quotes, '<', '>', '{', '}',
 *    '^', '`', '\\'), without trailing punctuation other than
 *    [A-Za-z0-9=_#/+&-] and without an unbalanced trailing ')'.
 * Not handled (the text is then counted character by character, which
 * over-counts and so never lets an over-long post through): internationalized
 * domain names and punycode TLD lists, non-ASCII characters in paths,
 * user:password@ parts, IP-address hosts, t.co special cases, the exact
 * IANA TLD list (unknown two-letter TLDs are accepted for bare domains).
 * Returns how many URLs were found; stores at most `max` of them.
 */
#define TEXT_URL_BARE 1u
struct text_url {
	size_t start, end; /* byte offsets, end exclusive */
};
size_t text_urls(const char *s, size_t n, unsigned flags, struct text_url *out, size_t max);

/* 1 when the text holds an HTML tag (Postiz content without tags is plain
 * text and is passed to platforms unchanged). */
int text_has_html_tags(const char *s, size_t n);

/*
 * Postiz HTML to the plain text a platform receives: tags are dropped;
 * every <p> after the start of the text, every <br>, and <div>, <li>,
 * <blockquote>, <h1>-<h6> (when not already at a line start) begin a new
 * line; comments are dropped; the common named entities (amp lt gt quot
 * apos nbsp ndash mdash hellip lsquo rsquo ldquo rdquo laquo raquo bull
 * middot copy reg trade deg times euro) and decimal/hex numeric entities
 * (with ';') are decoded (invalid code points become U+FFFD); leading and
 * trailing ASCII whitespace is trimmed.  Unknown entities and a '<' that
 * starts no tag (not followed by a letter, '/' + letter or '!', or with no
 * '>' outside quotes within 8 KiB) stay as text; the work is linear (on
 * hostile input whose quoted attributes exhaust a budget of 8 bytes scanned
 * per input byte, every later '<' is text).  <strong>/<u> are plain text here (Postiz's
 * "normal" editor turns them into Unicode bold/underline letters at publish
 * time; herald's providers keep formatting as markup instead).
 * The output is never longer than the input (*out_len <= n), is
 * NUL-terminated, and is valid UTF-8 whenever the input is.
 */
char *text_from_html(struct arena *a, const char *in, size_t n, size_t *out_len);

/* 1 when the text is empty or only ASCII whitespace / U+00A0. */
int text_is_blank(const char *s, size_t n);

#endif
