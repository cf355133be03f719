/*
 * text: the counters of text.h.
 *
 * Decoding is utf8proc_iterate one code point at a time; a byte it refuses
 * is one unit of its own (see text.h).  Segmentation is
 * utf8proc_grapheme_break_stateful with the state reset at every invalid
 * byte, so an invalid byte is always a cluster by itself.
 *
 * Every loop advances at least one byte per step and URL/mention scans
 * never look back more than a few bytes, so all counters are linear in the
 * input (a failed URL attempt stops at the first character that cannot be
 * part of a host, and the next attempt starts after it).
 */
#include "text.h"
#include "../core/arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <utf8proc.h>

/* One unit at s[i] (i < n): its length (>= 1); *cp is the code point or -1
 * for an invalid byte. */
static size_t dec(const unsigned char *s, size_t n, size_t i, int32_t *cp)
{
	if (s[i] < 0x80) {
		*cp = s[i];
		return 1;
	}
	size_t rest = n - i;
	utf8proc_int32_t c;
	utf8proc_ssize_t k = utf8proc_iterate(s + i, (utf8proc_ssize_t)(rest > 4 ? 4 : rest), &c);
	if (k <= 0 || c < 0) {
		*cp = -1;
		return 1;
	}
	*cp = c;
	return (size_t)k;
}

/* End of the grapheme cluster that starts at `start`. */
static size_t cluster_end(const unsigned char *s, size_t n, size_t start)
{
	int32_t prev, cp;
	size_t pos = start + dec(s, n, start, &prev);
	if (prev < 0)
		return pos;
	utf8proc_int32_t state = 0;
	while (pos < n) {
		size_t k = dec(s, n, pos, &cp);
		if (cp < 0 || utf8proc_grapheme_break_stateful(prev, cp, &state))
			break;
		prev = cp;
		pos += k;
	}
	return pos;
}

void text_basic_counts(const char *str, size_t n, struct text_counts *out)
{
	const unsigned char *s = (const unsigned char *)str;
	memset(out, 0, sizeof(*out));
	out->bytes = n;
	for (size_t i = 0; i < n;) {
		int32_t cp;
		if (s[i] < 0x80) {
			out->code_points++;
			out->utf16++;
			i++;
			continue;
		}
		i += dec(s, n, i, &cp);
		out->code_points++;
		if (cp < 0) {
			out->invalid++;
			out->utf16++;
		} else {
			out->utf16 += cp > 0xffff ? 2 : 1;
		}
	}
}

size_t text_code_points(const char *s, size_t n)
{
	struct text_counts c;
	text_basic_counts(s, n, &c);
	return c.code_points;
}

size_t text_utf16(const char *s, size_t n)
{
	struct text_counts c;
	text_basic_counts(s, n, &c);
	return c.utf16;
}

size_t text_graphemes(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t count = 0;
	int32_t prev = -1;
	utf8proc_int32_t state = 0;
	for (size_t i = 0; i < n;) {
		int32_t cp;
		i += dec(s, n, i, &cp);
		if (cp < 0) {
			count++;
			prev = -1;
			state = 0;
			continue;
		}
		if (prev < 0 || utf8proc_grapheme_break_stateful(prev, cp, &state))
			count++;
		prev = cp;
	}
	return count;
}

/* ---- URLs ---- */

static int is_alpha(unsigned char c)
{
	return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
}

static int is_alnum(unsigned char c)
{
	return is_alpha(c) || (c >= '0' && c <= '9');
}

static int is_host_char(unsigned char c)
{
	return is_alnum(c) || c == '-' || c == '_';
}

/* generic TLDs accepted for URLs without a protocol (two-letter TLDs are
 * all accepted) */
static const char *const gtlds[] = {
	"com", "net", "org", "edu", "gov", "mil", "int", "info", "biz", "name", "pro", "mobi",
	"aero", "asia", "cat", "coop", "jobs", "museum", "tel", "travel", "app", "dev", "page",
	"blog", "shop", "store", "online", "site", "tech", "xyz", "club", "news", "live", "cloud",
	"social", "art", "design", "top", "space", "website", "wiki", "email", "digital",
	"network", "world", "life", "today", "media", "studio", "agency", "company", "group",
	"solutions", "systems", "services", "academy", "center", "education", "photography",
	"photos", "gallery", "link", "click", "global", "ninja", "guru", "rocks", "fun", "games",
	"help", "love", "codes", "software", "events", "video", "music", "film", "bio", "eco",
	"works", "zone", "run", "one", "land", "team", "chat", "host", "church", "xxx",
};

static int tld_ok(const unsigned char *t, size_t len, int bare)
{
	for (size_t i = 0; i < len; i++)
		if (!is_alpha(t[i]))
			return 0;
	if (len < 2)
		return 0;
	if (!bare || len == 2)
		return len <= 63;
	for (size_t i = 0; i < sizeof(gtlds) / sizeof(gtlds[0]); i++) {
		size_t gl = strlen(gtlds[i]);
		if (gl != len)
			continue;
		size_t k = 0;
		while (k < len && (t[k] | 0x20) == gtlds[i][k])
			k++;
		if (k == len)
			return 1;
	}
	return 0;
}

static int url_body_char(unsigned char c)
{
	if (c <= 0x20 || c >= 0x7f)
		return 0;
	return !strchr("\"<>{}^`\\", c);
}

static int url_end_char(unsigned char c)
{
	return is_alnum(c) || strchr("=_#/+-&", c);
}

/* May a URL start at pos?  (twitter-text valid_url_preceding_chars) */
static int url_preceding_ok(const unsigned char *s, size_t pos, int bare)
{
	if (pos == 0)
		return 1;
	unsigned char c = s[pos - 1];
	if (c < 0x80) {
		if (is_alnum(c) || c == '@' || c == '$' || c == '#')
			return 0;
		if (bare && (c == '-' || c == '_' || c == '.' || c == '/'))
			return 0;
		return 1;
	}
	/* U+FF20 ＠ EF BC A0, U+FF03 ＃ EF BC 83, U+202A-U+202E E2 80 AA-AE */
	if (pos >= 3) {
		const unsigned char *p = s + pos - 3;
		if (p[0] == 0xef && p[1] == 0xbc && (p[2] == 0xa0 || p[2] == 0x83))
			return 0;
		if (p[0] == 0xe2 && p[1] == 0x80 && p[2] >= 0xaa && p[2] <= 0xae)
			return 0;
	}
	return 1;
}

/* A URL starting exactly at pos: 1 and *end, else 0. */
static int url_at(const unsigned char *s, size_t n, size_t pos, unsigned flags, size_t *end)
{
	size_t i = pos;
	int proto = 0;
	if (n - pos >= 7 && (s[i] | 0x20) == 'h' && (s[i + 1] | 0x20) == 't' &&
	    (s[i + 2] | 0x20) == 't' && (s[i + 3] | 0x20) == 'p') {
		size_t j = i + 4;
		if (j < n && (s[j] | 0x20) == 's')
			j++;
		if (n - j >= 3 && s[j] == ':' && s[j + 1] == '/' && s[j + 2] == '/') {
			proto = 1;
			i = j + 3;
		}
	}
	int bare = !proto;
	if (bare && !(flags & TEXT_URL_BARE))
		return 0;
	if (!url_preceding_ok(s, pos, bare))
		return 0;
	if (i >= n || !is_alnum(s[i]))
		return 0;
	/* host: labels of [A-Za-z0-9_-] separated by single dots; keep the
	 * longest prefix of at least two labels that ends in a valid TLD */
	size_t labels = 0, good_end = 0, good_labels = 0, good_tld = 0;
	while (i < n && is_host_char(s[i])) {
		size_t ls = i;
		while (i < n && is_host_char(s[i]))
			i++;
		labels++;
		if (labels >= 2 && tld_ok(s + ls, i - ls, bare)) {
			good_end = i;
			good_labels = labels;
			good_tld = ls;
		}
		if (i + 1 < n && s[i] == '.' && is_alnum(s[i + 1])) {
			i++;
			continue;
		}
		break;
	}
	if (!good_end)
		return 0;
	i = good_end;
	/* the TLD must not run into an address ("a.com@b") */
	if (i < n && (s[i] == '@' || s[i] == '+'))
		return 0;
	if (i + 1 < n && s[i] == ':' && s[i + 1] >= '0' && s[i + 1] <= '9') {
		size_t j = i + 1;
		while (j < n && j - i <= 6 && s[j] >= '0' && s[j] <= '9')
			j++;
		if (j - i - 1 <= 5)
			i = j;
	}
	int path = 0;
	if (i < n && (s[i] == '/' || s[i] == '?' || s[i] == '#')) {
		size_t j = i;
		long depth = 0; /* '(' minus ')' in [i, j) */
		while (j < n && url_body_char(s[j])) {
			depth += s[j] == '(' ? 1 : s[j] == ')' ? -1 : 0;
			j++;
		}
		/* trim trailing punctuation, keeping balanced closing parens */
		while (j > i) {
			unsigned char c = s[j - 1];
			if (url_end_char(c) || (c == ')' && depth >= 0))
				break;
			depth += c == ')' ? 1 : c == '(' ? -1 : 0;
			j--;
		}
		if (j > i) {
			path = s[i] == '/' || j > i + 1;
			i = j;
		}
	}
	if (bare && !path && good_labels == 2 && good_end - good_tld == 2) {
		/* "name.cc" without a path is not a URL, except .co and .tv */
		unsigned char a = s[good_tld] | 0x20, b = s[good_tld + 1] | 0x20;
		if (!((a == 'c' && b == 'o') || (a == 't' && b == 'v')))
			return 0;
	}
	*end = i;
	return 1;
}

/* Next position to try after a failed attempt at pos: skip the run of
 * host characters so that a long word is scanned once. */
static size_t url_next(const unsigned char *s, size_t n, size_t pos)
{
	if (!is_alnum(s[pos]))
		return pos + 1;
	size_t i = pos;
	while (i < n && is_host_char(s[i]))
		i++;
	/* "http" inside a run can start a URL only after '-' or '_'; those
	 * positions are covered by stepping one character at a time when the
	 * run holds them */
	for (size_t k = pos + 1; k < i; k++)
		if (s[k - 1] == '-' || s[k - 1] == '_')
			return k;
	return i;
}

size_t text_urls(const char *str, size_t n, unsigned flags, struct text_url *out, size_t max)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t found = 0;
	for (size_t pos = 0; pos < n;) {
		size_t end;
		if (url_at(s, n, pos, flags, &end)) {
			if (found < max && out) {
				out[found].start = pos;
				out[found].end = end;
			}
			found++;
			pos = end;
			continue;
		}
		pos = url_next(s, n, pos);
	}
	return found;
}

/* ---- weighted counts ---- */

static int x_weight1(int32_t c)
{
	return (c >= 0 && c <= 4351) || (c >= 8192 && c <= 8205) || (c >= 8208 && c <= 8223) ||
	       (c >= 8242 && c <= 8247);
}

/* An emoji grapheme cluster [a, b) (see text.h). */
static int is_emoji_cluster(const unsigned char *s, size_t a, size_t b)
{
	int32_t first = -1, cp;
	size_t ncp = 0, nri = 0;
	int pict = 0, pict_plain = 0, keycap = 0;
	for (size_t i = a; i < b;) {
		i += dec(s, b, i, &cp);
		if (cp < 0)
			return 0;
		if (!ncp)
			first = cp;
		ncp++;
		const utf8proc_property_t *p = utf8proc_get_property(cp);
		if (p->boundclass == UTF8PROC_BOUNDCLASS_EXTENDED_PICTOGRAPHIC ||
		    p->boundclass == UTF8PROC_BOUNDCLASS_E_ZWG) {
			pict = 1;
			if (cp == 0xa9 || cp == 0xae)
				pict_plain = 1;
		}
		if (p->boundclass == UTF8PROC_BOUNDCLASS_REGIONAL_INDICATOR)
			nri++;
		if (cp == 0x20e3)
			keycap = 1;
	}
	if (pict && !(pict_plain && ncp == 1))
		return 1;
	if (nri == 2 && ncp == 2)
		return 1;
	if (keycap && ((first >= '0' && first <= '9') || first == '#' || first == '*'))
		return 1;
	return 0;
}

size_t text_x_weighted_length(const char *str, size_t n)
{
	utf8proc_uint8_t *nfc = NULL;
	const unsigned char *s = (const unsigned char *)str;
	struct text_counts bc;
	text_basic_counts(str, n, &bc);
	if (!bc.invalid && n) {
		utf8proc_ssize_t k = utf8proc_map((const utf8proc_uint8_t *)str, (utf8proc_ssize_t)n, &nfc,
						  UTF8PROC_STABLE | UTF8PROC_COMPOSE);
		if (k >= 0) {
			s = nfc;
			n = (size_t)k;
		} else {
			free(nfc);
			nfc = NULL;
		}
	}
	size_t total = 0;   /* in 1/100 characters */
	size_t no_url = 0;  /* below this position no URL can start */
	for (size_t pos = 0; pos < n;) {
		size_t end;
		if (pos >= no_url) {
			if (url_at(s, n, pos, TEXT_URL_BARE, &end)) {
				total += TEXT_X_URL_LENGTH * TEXT_X_SCALE;
				pos = end;
				no_url = end;
				continue;
			}
			no_url = url_next(s, n, pos);
		}
		size_t ce = cluster_end(s, n, pos);
		if (is_emoji_cluster(s, pos, ce)) {
			total += TEXT_X_DEFAULT_WEIGHT;
			pos = ce;
			continue;
		}
		/* not an emoji: each code point of the cluster weighs on its own
		 * (as twitter-text counts), and a URL may start inside it (after
		 * a prepended mark) */
		int32_t cp;
		pos += dec(s, n, pos, &cp);
		total += (cp < 0 || x_weight1(cp)) ? TEXT_X_SCALE : TEXT_X_DEFAULT_WEIGHT;
		while (pos < ce) {
			if (pos >= no_url && is_alnum(s[pos])) {
				if (url_at(s, n, pos, TEXT_URL_BARE, &end))
					break; /* the main loop takes it */
				no_url = url_next(s, n, pos);
			}
			pos += dec(s, n, pos, &cp);
			total += (cp < 0 || x_weight1(cp)) ? TEXT_X_SCALE : TEXT_X_DEFAULT_WEIGHT;
		}
	}
	free(nfc);
	return total / TEXT_X_SCALE;
}

static int is_word_cp(int32_t c)
{
	if (c < 0)
		return 0;
	if (c < 0x80)
		return is_alnum((unsigned char)c) || c == '_';
	switch (utf8proc_category(c)) {
	case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
	case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO: case UTF8PROC_CATEGORY_MN:
	case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME: case UTF8PROC_CATEGORY_ND:
	case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_NO: case UTF8PROC_CATEGORY_PC:
		return 1;
	default:
		return 0;
	}
}

/* The code point ending just before pos (-1 at the start or after an
 * invalid byte). */
static int32_t prev_cp(const unsigned char *s, size_t pos)
{
	if (pos == 0)
		return -1;
	size_t st = pos - 1;
	while (st > 0 && pos - st < 4 && (s[st] & 0xc0) == 0x80)
		st--;
	int32_t cp;
	size_t k = dec(s, pos, st, &cp);
	if (st + k != pos)
		return -1;
	return cp;
}

/* Mastodon's remote mention at pos: @user@domain -> length of "@user" in
 * *keep and the whole mention's end in *end. */
static int masto_mention(const unsigned char *s, size_t n, size_t pos, size_t *keep, size_t *end)
{
	if (s[pos] != '@')
		return 0;
	int32_t pc = prev_cp(s, pos);
	if (pc == '=' || pc == '/' || is_word_cp(pc))
		return 0;
	/* USERNAME_RE: [a-z0-9_]+([.-]+[a-z0-9_]+)* */
	size_t i = pos + 1, uend;
	if (i >= n || !(is_alnum(s[i]) || s[i] == '_'))
		return 0;
	while (i < n && (is_alnum(s[i]) || s[i] == '_'))
		i++;
	uend = i;
	for (;;) {
		size_t j = uend;
		while (j < n && (s[j] == '.' || s[j] == '-'))
			j++;
		if (j == uend || j >= n || !(is_alnum(s[j]) || s[j] == '_'))
			break;
		while (j < n && (is_alnum(s[j]) || s[j] == '_'))
			j++;
		uend = j;
	}
	/* @[[:word:]]+([.-]+[[:word:]]+)* */
	if (uend >= n || s[uend] != '@')
		return 0;
	size_t d = uend + 1, dend = d;
	int32_t cp;
	while (d < n) {
		size_t k = dec(s, n, d, &cp);
		if (!is_word_cp(cp))
			break;
		d += k;
	}
	if (d == dend)
		return 0;
	dend = d;
	for (;;) {
		size_t j = dend;
		while (j < n && (s[j] == '.' || s[j] == '-'))
			j++;
		if (j == dend || j >= n)
			break;
		size_t w = j;
		while (w < n) {
			size_t k = dec(s, n, w, &cp);
			if (!is_word_cp(cp))
				break;
			w += k;
		}
		if (w == j)
			break;
		dend = w;
	}
	*keep = uend - pos; /* ASCII: bytes == code points */
	*end = dend;
	return 1;
}

size_t text_mastodon_length(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t count = 0, no_url = 0;
	for (size_t pos = 0; pos < n;) {
		size_t end, keep;
		if (pos >= no_url) {
			if (url_at(s, n, pos, 0, &end)) {
				count += TEXT_MASTODON_URL_LENGTH;
				pos = end;
				no_url = end;
				continue;
			}
			no_url = url_next(s, n, pos);
		}
		if (s[pos] == '@' && masto_mention(s, n, pos, &keep, &end)) {
			count += keep;
			pos = end;
			continue;
		}
		int32_t cp;
		pos += dec(s, n, pos, &cp);
		count++;
	}
	return count;
}

size_t text_threads_length(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t count = 0;
	for (size_t pos = 0; pos < n;) {
		size_t ce = cluster_end(s, n, pos);
		if (is_emoji_cluster(s, pos, ce)) {
			count += ce - pos;
			pos = ce;
			continue;
		}
		for (; pos < ce; count++) {
			int32_t cp;
			pos += dec(s, n, pos, &cp);
		}
	}
	return count;
}

size_t text_hashtags(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t count = 0;
	for (size_t pos = 0; pos < n;) {
		size_t hl = 0;
		if (s[pos] == '#')
			hl = 1;
		else if (n - pos >= 3 && s[pos] == 0xef && s[pos + 1] == 0xbc && s[pos + 2] == 0x83)
			hl = 3;
		if (hl && pos + hl < n && !is_word_cp(prev_cp(s, pos)) && prev_cp(s, pos) != '&') {
			int32_t cp;
			dec(s, n, pos + hl, &cp);
			int ws = cp == 0xa0 || cp == 0x3000 || (cp >= 0x2000 && cp <= 0x200a);
			if (cp == '_' || (cp >= 0 && cp < 0x80 && is_alnum((unsigned char)cp)) ||
			    (cp >= 0x80 && !ws))
				count++;
		}
		pos += hl ? hl : 1;
	}
	return count;
}

/* ---- HTML ---- */

int text_has_html_tags(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	for (size_t i = 0; i + 1 < n; i++) {
		if (s[i] != '<')
			continue;
		unsigned char c1 = s[i + 1];
		if (is_alpha(c1) || c1 == '!' || (c1 == '/' && i + 2 < n && is_alpha(s[i + 2])))
			return 1;
	}
	return 0;
}

static size_t put_utf8(char *o, int32_t c)
{
	if (c < 0 || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff) || c == 0)
		c = 0xfffd;
	if (c < 0x80) {
		o[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		o[0] = (char)(0xc0 | (c >> 6));
		o[1] = (char)(0x80 | (c & 0x3f));
		return 2;
	}
	if (c < 0x10000) {
		o[0] = (char)(0xe0 | (c >> 12));
		o[1] = (char)(0x80 | ((c >> 6) & 0x3f));
		o[2] = (char)(0x80 | (c & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | (c >> 18));
	o[1] = (char)(0x80 | ((c >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((c >> 6) & 0x3f));
	o[3] = (char)(0x80 | (c & 0x3f));
	return 4;
}

static const struct {
	const char *name;
	int32_t cp;
} entities[] = {
	{"amp", '&'},      {"lt", '<'},       {"gt", '>'},       {"quot", '"'},
	{"apos", '\''},    {"nbsp", 0xa0},    {"ndash", 0x2013}, {"mdash", 0x2014},
	{"hellip", 0x2026}, {"lsquo", 0x2018}, {"rsquo", 0x2019}, {"ldquo", 0x201c},
	{"rdquo", 0x201d}, {"laquo", 0xab},   {"raquo", 0xbb},   {"bull", 0x2022},
	{"middot", 0xb7},  {"copy", 0xa9},    {"reg", 0xae},     {"trade", 0x2122},
	{"deg", 0xb0},     {"times", 0xd7},   {"euro", 0x20ac},
};

/* An entity at in[0] ('&'): bytes consumed (0: not an entity) and the
 * decoded UTF-8 in u[] (*ul bytes).  Every entity is at least as long as its
 * decoding (the output never outgrows the input). */
static size_t entity(const unsigned char *in, size_t n, char *u, size_t *ul)
{
	size_t semi = 0;
	for (size_t i = 1; i < n && i < 12; i++)
		if (in[i] == ';') {
			semi = i;
			break;
		}
	if (semi < 2)
		return 0;
	if (in[1] == '#') {
		int hex = semi > 2 && (in[2] | 0x20) == 'x';
		size_t i = hex ? 3 : 2;
		if (i >= semi)
			return 0;
		int64_t v = 0;
		for (; i < semi; i++) {
			unsigned char c = in[i];
			int d;
			if (c >= '0' && c <= '9')
				d = c - '0';
			else if (hex && (c | 0x20) >= 'a' && (c | 0x20) <= 'f')
				d = (c | 0x20) - 'a' + 10;
			else
				return 0;
			v = v * (hex ? 16 : 10) + d;
			if (v > 0x10ffff)
				v = 0x110000; /* stays invalid, never overflows */
		}
		*ul = put_utf8(u, (int32_t)v);
		/* the shortest forms: "&#0;" (4) -> U+FFFD (3 bytes), "&#128;"
		 * (6) -> 2 bytes, "&#2048;" (7) -> 3, "&#65536;" (8) -> 4;
		 * hex forms are no shorter */
		if (*ul > semi + 1) {
			*ul = 0;
			return 0;
		}
		return semi + 1;
	}
	for (size_t k = 0; k < sizeof(entities) / sizeof(entities[0]); k++) {
		size_t el = strlen(entities[k].name);
		if (el == semi - 1 && !memcmp(in + 1, entities[k].name, el)) {
			*ul = put_utf8(u, entities[k].cp);
			return semi + 1;
		}
	}
	return 0;
}

static int tag_is(const unsigned char *name, size_t nl, const char *want)
{
	size_t wl = strlen(want);
	if (wl != nl)
		return 0;
	for (size_t i = 0; i < nl; i++)
		if ((name[i] | 0x20) != want[i])
			return 0;
	return 1;
}

#define TAG_MAX 8192

static int ascii_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

char *text_from_html(struct arena *a, const char *str, size_t n, size_t *out_len)
{
	const unsigned char *in = (const unsigned char *)str;
	char *o = arena_alloc(a, n + 1);
	size_t ol = 0;
	/* Linear time: the next '>' is found once per stretch (a '<' with no
	 * '>' after it within TAG_MAX is text at once), and scanning quoted
	 * attribute values has a total budget; past it every further '<' is
	 * text (only hostile input gets there). */
	size_t next_gt = 0, budget = 8 * n + 65536;
	int tags_off = 0;
	for (size_t i = 0; i < n;) {
		unsigned char ch = in[i];
		if (ch == '&') {
			char u[4];
			size_t ul = 0, used = entity(in + i, n - i, u, &ul);
			if (used) {
				memcpy(o + ol, u, ul);
				ol += ul;
				i += used;
				continue;
			}
			o[ol++] = (char)ch;
			i++;
			continue;
		}
		if (ch != '<') {
			o[ol++] = (char)ch;
			i++;
			continue;
		}
		if (n - i >= 4 && !memcmp(in + i, "<!--", 4)) {
			const unsigned char *e = NULL;
			for (size_t k = i + 4; k + 3 <= n; k++)
				if (in[k] == '-' && in[k + 1] == '-' && in[k + 2] == '>') {
					e = in + k;
					break;
				}
			i = e ? (size_t)(e - in) + 3 : n;
			continue;
		}
		int is_tag = !tags_off && i + 1 < n &&
			     (is_alpha(in[i + 1]) || in[i + 1] == '!' ||
			      (in[i + 1] == '/' && i + 2 < n && is_alpha(in[i + 2])));
		size_t j = i + 1;
		/* a tag ends at the first '>' outside quotes, within TAG_MAX
		 * bytes (a longer one is text) */
		size_t lim = n - i > TAG_MAX ? i + TAG_MAX : n;
		if (is_tag && next_gt <= i) {
			const unsigned char *g = memchr(in + i + 1, '>', n - i - 1);
			next_gt = g ? (size_t)(g - in) : n;
		}
		if (is_tag && next_gt >= lim)
			is_tag = 0; /* quotes only hide a '>', never add one */
		if (is_tag) {
			unsigned char q = 0;
			while (j < lim && (q || in[j] != '>')) {
				if (q && in[j] == q)
					q = 0;
				else if (!q && (in[j] == '"' || in[j] == '\''))
					q = in[j];
				j++;
			}
			size_t cost = j - i;
			if (cost > budget) {
				tags_off = 1;
				is_tag = 0;
			} else {
				budget -= cost;
			}
		}
		if (!is_tag || j >= lim) {
			o[ol++] = (char)ch; /* a lone '<' is text */
			i++;
			continue;
		}
		const unsigned char *t = in + i + 1;
		int closing = t[0] == '/';
		const unsigned char *name = t + closing;
		size_t nl = 0;
		while (name + nl < in + j && is_alnum(name[nl]))
			nl++;
		i = j + 1;
		int at_line_start = ol == 0 || o[ol - 1] == '\n';
		if (tag_is(name, nl, "p")) {
			if (!closing && ol)
				o[ol++] = '\n';
		} else if (tag_is(name, nl, "br")) {
			o[ol++] = '\n';
		} else if (tag_is(name, nl, "div") || tag_is(name, nl, "li") ||
			   tag_is(name, nl, "blockquote") ||
			   (nl == 2 && (name[0] | 0x20) == 'h' && name[1] >= '1' && name[1] <= '6')) {
			if (!at_line_start)
				o[ol++] = '\n';
		}
	}
	/* trim ASCII whitespace at both ends */
	size_t st = 0;
	while (st < ol && ascii_ws((unsigned char)o[st]))
		st++;
	while (ol > st && ascii_ws((unsigned char)o[ol - 1]))
		ol--;
	if (st)
		memmove(o, o + st, ol - st);
	ol -= st;
	o[ol] = 0;
	if (out_len)
		*out_len = ol;
	return o;
}

int text_is_blank(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	for (size_t i = 0; i < n; i++) {
		if (ascii_ws(s[i]))
			continue;
		if (s[i] == 0xc2 && i + 1 < n && s[i + 1] == 0xa0) {
			i++;
			continue;
		}
		return 0;
	}
	return 1;
}
