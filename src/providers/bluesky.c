/*
 * bluesky: AT Protocol (app passwords on any PDS; default https://bsky.social).
 *
 * Credentials: {service, identifier, password}; connect checks their shape
 * offline.  The session (accessJwt, refreshJwt, did, handle) is cached in
 * the credentials (credentials_changed) because createSession is limited to
 * 30 per 5 minutes: an expired access token is refreshed inline with
 * refreshSession, and only when that fails is a new session created.
 *
 * One item is a small program of HTTP steps, each built from the state so
 * that a step interrupted by an expired token is simply issued again:
 *   [createSession] -> resolveHandle per mention -> getRecord of the parent
 *   (and root) for reply strong refs -> per image: GET bytes, uploadBlob
 *   -> link card (GET page, GET og:image, uploadBlob; optional) ->
 *   createRecord with rkey -> [getRecord when createRecord did not say ok].
 *
 * Exactly once: the record key is a TID derived from the item id alone, so
 * every attempt at an item (a retry, a restart after a crash) writes the
 * same at:// URI and the PDS refuses a second record there.  Whenever
 * createRecord does not answer 200 the record is read back: if it exists
 * with our text, the earlier attempt made it and the item is published.
 * That is what PROV_IDEMPOTENT promises the engine.
 *
 * release_id is the at:// URI; a reply reads its parent's and root's cid
 * back with getRecord (strong refs need both uri and cid).
 *
 * Text: Postiz HTML becomes plain text (bsky_html_text, shared with the
 * mastodon provider), facets are computed on it with UTF-8 byte offsets.
 *
 * Link card: the first link's page (bounded: Range, 8 MiB, 8 s, 3 redirects,
 * literal private addresses refused unless HERALD_FETCH_ALLOW_PRIVATE=1)
 * and its og:image.  Any HTTP answer that is not a usable page or image
 * drops the card (or its picture), never the post.  Limitation: a transport
 * failure of these fetches (refused, timeout, DNS) is handled by the engine
 * like any other (the item is retried), because struct pub_req has no way
 * to mark a request optional yet.
 */
#include "provider.h"
#include "bluesky.h"
#include "../core/arena.h"
#include "../core/timeutil.h"
#include "../http/client.h"
#include "../media/media.h" /* mp4_probe_mem: a video's aspect ratio */

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#define DEFAULT_SERVICE "https://bsky.social"
#define MAX_IMAGES 4
/* an image elsewhere may be larger than the blob cap: the engine fits it
 * (req.fit) after the fetch, so take what an upload to herald may be */
#define IMAGE_FETCH_MAX (10u << 20)
#define VIDEO_FETCH_MAX 100000000u /* preflight bluesky.video.max_bytes */
#define CARD_PAGE_MAX (8u << 20)
#define CARD_THUMB_MAX 1000000u      /* lexicon: external.thumb maxSize */
#define CARD_TITLE_MAX 300
#define CARD_DESC_MAX 1000
#define MAX_REDIRECTS 3
#define TAG_MAX_BYTES 640
#define TAG_MAX_CHARS 64

static const struct provider_field fields[] = {
	{"service", "url", 0, "PDS URL (default https://bsky.social)"},
	{"identifier", "string", 1, "handle (alice.bsky.social), DID or account email"},
	{"password", "secret", 1, "an app password (Settings > Privacy and security > App passwords)"},
	{NULL, NULL, 0, NULL},
};

static void free_json(void *p)
{
	json_decref(p);
}

/* ------------------------------------------------------------------ */
/* Postiz HTML -> plain text                                           */
/* ------------------------------------------------------------------ */

/* A range of the output text that the HTML marked up: an anchor (link) or
 * a Postiz mention span. */
struct bsky_span {
	size_t start, end; /* byte offsets into the text */
	int kind;          /* 1 link (value = href), 2 mention (value = id or handle) */
	const char *value;
};

struct tbuf {
	struct arena *a;
	char *p;
	size_t len, cap;
};

static void tb_add(struct tbuf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 256;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *np = arena_alloc(b->a, cap);
		if (b->len)
			memcpy(np, b->p, b->len);
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = 0;
}

static void tb_addc(struct tbuf *b, char ch)
{
	tb_add(b, &ch, 1);
}

static size_t utf8_put(unsigned long cp, char out[4])
{
	if (cp == 0 || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		cp = 0xfffd;
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

static const struct {
	const char *name;
	unsigned long cp;
} entities[] = {
	{"amp", '&'},      {"lt", '<'},        {"gt", '>'},        {"quot", '"'},
	{"apos", '\''},    {"nbsp", ' '},      {"ndash", 0x2013},  {"mdash", 0x2014},
	{"hellip", 0x2026}, {"lsquo", 0x2018}, {"rsquo", 0x2019},  {"ldquo", 0x201c},
	{"rdquo", 0x201d}, {"laquo", 0xab},    {"raquo", 0xbb},    {"copy", 0xa9},
	{"reg", 0xae},     {"trade", 0x2122},  {"euro", 0x20ac},   {"middot", 0xb7},
	{"bull", 0x2022},  {"deg", 0xb0},      {"times", 0xd7},    {"shy", 0xad},
};

/* Decode one entity at s (s[0] == '&'); returns bytes consumed, 0 if none. */
static size_t entity(const char *s, size_t n, char out[4], size_t *outn)
{
	size_t i = 1;
	if (i < n && s[i] == '#') {
		i++;
		int hex = i < n && (s[i] == 'x' || s[i] == 'X');
		if (hex)
			i++;
		unsigned long cp = 0;
		size_t digits = 0;
		while (i < n && digits < 8 &&
		       (hex ? isxdigit((unsigned char)s[i]) : isdigit((unsigned char)s[i]))) {
			int d = isdigit((unsigned char)s[i]) ? s[i] - '0'
							     : (tolower((unsigned char)s[i]) - 'a' + 10);
			cp = cp * (hex ? 16 : 10) + (unsigned long)d;
			i++;
			digits++;
		}
		if (!digits || i >= n || s[i] != ';')
			return 0;
		*outn = utf8_put(cp, out);
		return i + 1;
	}
	for (size_t k = 0; k < sizeof(entities) / sizeof(entities[0]); k++) {
		size_t l = strlen(entities[k].name);
		if (1 + l < n && !memcmp(s + 1, entities[k].name, l) && s[1 + l] == ';') {
			*outn = utf8_put(entities[k].cp, out);
			return l + 2;
		}
	}
	return 0;
}

/* Text with entities decoded (attribute values, og: content). */
static char *decode_entities(struct arena *a, const char *s, size_t n)
{
	struct tbuf b = {.a = a};
	tb_add(&b, "", 0);
	for (size_t i = 0; i < n;) {
		char u[4];
		size_t un = 0, used;
		if (s[i] == '&' && (used = entity(s + i, n - i, u, &un))) {
			tb_add(&b, u, un);
			i += used;
		} else {
			tb_addc(&b, s[i]);
			i++;
		}
	}
	return b.p;
}

/* Value of attribute `name` inside a tag's text (between '<' and '>'),
 * entities decoded; NULL when absent. */
static char *tag_attr(struct arena *a, const char *t, size_t n, const char *name)
{
	size_t i = 0, nl = strlen(name);
	/* skip the tag name */
	while (i < n && !isspace((unsigned char)t[i]) && t[i] != '/')
		i++;
	while (i < n) {
		while (i < n && (isspace((unsigned char)t[i]) || t[i] == '/'))
			i++;
		size_t ks = i;
		while (i < n && !isspace((unsigned char)t[i]) && t[i] != '=' && t[i] != '/')
			i++;
		size_t kl = i - ks;
		while (i < n && isspace((unsigned char)t[i]))
			i++;
		const char *v = NULL;
		size_t vl = 0;
		if (i < n && t[i] == '=') {
			i++;
			while (i < n && isspace((unsigned char)t[i]))
				i++;
			if (i < n && (t[i] == '"' || t[i] == '\'')) {
				char q = t[i++];
				v = t + i;
				while (i < n && t[i] != q)
					i++;
				vl = (size_t)(t + i - v);
				if (i < n)
					i++;
			} else {
				v = t + i;
				while (i < n && !isspace((unsigned char)t[i]))
					i++;
				vl = (size_t)(t + i - v);
			}
		}
		if (kl == nl && !strncasecmp(t + ks, name, nl))
			return v ? decode_entities(a, v, vl) : arena_strdup(a, "");
		if (kl == 0 && i < n && t[i] != '=')
			i++; /* stray character: never loop forever */
	}
	return NULL;
}

static int has_tags(const char *s)
{
	for (const char *p = strchr(s, '<'); p; p = strchr(p + 1, '<')) {
		unsigned char c1 = (unsigned char)p[1];
		if (isalpha(c1) || c1 == '!' || (c1 == '/' && isalpha((unsigned char)p[2])))
			return 1;
	}
	return 0;
}

static int tag_is(const char *name, size_t nl, const char *want)
{
	return strlen(want) == nl && !strncasecmp(name, want, nl);
}

#define SPAN_DEPTH 16

/*
 * Postiz HTML to plain text, the way Postiz's "normal" editor does it: the
 * first <p> opens the text, every further <p> starts a new line, tags are
 * stripped and entities decoded; <br> and other blocks (div, h1-h6, li,
 * blockquote) break lines too.  Content with no tags at all is returned
 * unchanged (as Postiz does).  Anchors and Postiz mention spans are
 * reported as spans of the output; with inline_links an anchor whose text
 * does not show its href gets " (href)" after it (for platforms without
 * hidden links).  Leading and trailing whitespace is trimmed.
 */
char *bsky_html_text(struct arena *a, const char *in, int inline_links, struct bsky_span **spans,
		     size_t *nspans)
{
	struct bsky_span *sp = NULL;
	size_t nsp = 0, capsp = 0;
	if (spans)
		*spans = NULL;
	if (nspans)
		*nspans = 0;
	if (!in)
		return arena_strdup(a, "");
	if (!has_tags(in))
		return arena_strdup(a, in);
	struct tbuf b = {.a = a};
	tb_add(&b, "", 0);
	size_t n = strlen(in);
	struct {
		int kind;
		size_t start;
		const char *value;
	} stack[SPAN_DEPTH];
	int depth = 0, a_open = -1;
	for (size_t i = 0; i < n;) {
		char ch = in[i];
		if (ch == '&') {
			char u[4];
			size_t un = 0, used = entity(in + i, n - i, u, &un);
			if (used) {
				tb_add(&b, u, un);
				i += used;
				continue;
			}
			tb_addc(&b, ch);
			i++;
			continue;
		}
		if (ch != '<') {
			tb_addc(&b, ch);
			i++;
			continue;
		}
		if (!strncmp(in + i, "<!--", 4)) {
			const char *e = strstr(in + i + 4, "-->");
			i = e ? (size_t)(e - in) + 3 : n;
			continue;
		}
		/* find the end of the tag, respecting quoted attribute values */
		size_t j = i + 1;
		char q = 0;
		while (j < n && (q || in[j] != '>')) {
			if (q && in[j] == q)
				q = 0;
			else if (!q && (in[j] == '"' || in[j] == '\''))
				q = in[j];
			j++;
		}
		int is_tag = isalpha((unsigned char)in[i + 1]) || in[i + 1] == '/' || in[i + 1] == '!';
		if (j >= n || !is_tag) {
			tb_addc(&b, ch); /* a lone '<' is text */
			i++;
			continue;
		}
		const char *t = in + i + 1;
		size_t tl = j - i - 1;
		int closing = t[0] == '/';
		const char *name = t + closing;
		size_t nl = 0;
		while (nl < tl - (size_t)closing && isalnum((unsigned char)name[nl]))
			nl++;
		i = j + 1;
		int ends_nl = b.len && b.p[b.len - 1] == '\n';
		if (tag_is(name, nl, "p")) {
			if (!closing && (t - 1) != in)
				tb_addc(&b, '\n');
		} else if (tag_is(name, nl, "br")) {
			tb_addc(&b, '\n');
		} else if (tag_is(name, nl, "div") || tag_is(name, nl, "blockquote") ||
			   (nl == 2 && (name[0] == 'h' || name[0] == 'H') && name[1] >= '1' &&
			    name[1] <= '6')) {
			if (b.len && !ends_nl)
				tb_addc(&b, '\n');
		} else if (tag_is(name, nl, "li")) {
			if (!closing) {
				if (b.len && !ends_nl)
					tb_addc(&b, '\n');
				tb_add(&b, "- ", 2);
			}
		} else if (tag_is(name, nl, "a") || tag_is(name, nl, "span")) {
			int is_a = tag_is(name, nl, "a");
			if (!closing) {
				const char *v = NULL;
				int kind = 0;
				if (is_a) {
					v = tag_attr(a, t, tl, "href");
					if (v && (!strncasecmp(v, "http://", 7) || !strncasecmp(v, "https://", 8)))
						kind = 1;
				} else {
					v = tag_attr(a, t, tl, "data-mention-id");
					const char *label = tag_attr(a, t, tl, "data-mention-label");
					if (v && !strncmp(v, "did:", 4))
						kind = 2;
					else if (label && *label)
						v = label, kind = 2;
					else if (v && *v)
						kind = 2;
				}
				if (depth < SPAN_DEPTH) {
					if (is_a && kind)
						a_open = depth;
					stack[depth].kind = kind;
					stack[depth].start = b.len;
					stack[depth].value = v;
					depth++;
				}
			} else if (depth > 0) {
				depth--;
				int kind = stack[depth].kind;
				size_t st = stack[depth].start;
				const char *v = stack[depth].value;
				if (is_a && a_open == depth)
					a_open = -1;
				if (kind && b.len > st) {
					if (kind == 1 && inline_links) {
						/* the reader must see where the link goes, as a
						 * URL the platform links (with its scheme) */
						char *txt = arena_strndup(a, b.p + st, b.len - st);
						const char *bare = strstr(v, "://") + 3;
						size_t bl = strlen(bare);
						if (bl && bare[bl - 1] == '/')
							bl--;
						if (strstr(txt, v)) {
							/* shown as is */
						} else if ((strlen(txt) == bl || strlen(txt) == bl + 1) &&
							   !strncmp(txt, bare, bl)) {
							b.len = st; /* "example.com/x" -> the full URL */
							tb_add(&b, v, strlen(v));
						} else {
							tb_add(&b, " (", 2);
							tb_add(&b, v, strlen(v));
							tb_addc(&b, ')');
						}
					} else if (spans) {
						if (nsp == capsp) {
							capsp = capsp ? capsp * 2 : 8;
							struct bsky_span *ns = arena_alloc(a, capsp * sizeof(*ns));
							if (nsp)
								memcpy(ns, sp, nsp * sizeof(*ns));
							sp = ns;
						}
						sp[nsp++] = (struct bsky_span){st, b.len, kind, v};
					}
				}
			}
		}
		/* every other tag is dropped */
	}
	/* trim */
	size_t lead = 0;
	while (lead < b.len && isspace((unsigned char)b.p[lead]))
		lead++;
	size_t end = b.len;
	while (end > lead && isspace((unsigned char)b.p[end - 1]))
		end--;
	char *out = arena_strndup(a, b.p + lead, end - lead);
	size_t len = end - lead, k = 0;
	for (size_t s = 0; s < nsp; s++) {
		size_t st = sp[s].start > lead ? sp[s].start - lead : 0;
		size_t en = sp[s].end > lead ? sp[s].end - lead : 0;
		if (en > len)
			en = len;
		if (en > st)
			sp[k++] = (struct bsky_span){st, en, sp[s].kind, sp[s].value};
	}
	if (spans)
		*spans = sp;
	if (nspans)
		*nspans = k;
	return out;
}

/* ------------------------------------------------------------------ */
/* Facets                                                              */
/* ------------------------------------------------------------------ */

enum { F_LINK = 1, F_MENTION = 2, F_TAG = 3 };

struct facet {
	size_t start, end;
	int kind;
	const char *value; /* uri, did (or handle until resolved), tag */
	int resolved;      /* mentions: value is a DID */
};

/* whitespace at s (ASCII, NBSP, ideographic space): its length, else 0 */
static size_t ws_len(const char *s, size_t n)
{
	unsigned char c0 = (unsigned char)s[0];
	if (c0 == ' ' || c0 == '\n' || c0 == '\t' || c0 == '\r' || c0 == '\f' || c0 == '\v')
		return 1;
	if (n >= 2 && c0 == 0xc2 && (unsigned char)s[1] == 0xa0)
		return 2;
	if (n >= 3 && c0 == 0xe3 && (unsigned char)s[1] == 0x80 && (unsigned char)s[2] == 0x80)
		return 3;
	if (n >= 3 && c0 == 0xe2 && (unsigned char)s[1] == 0x80 &&
	    ((unsigned char)s[2] <= 0x8a || (unsigned char)s[2] == 0xaf))
		return 3;
	return 0;
}

/* was the byte before i whitespace (or the start)?  also '(' when allowed */
static int boundary_before(const char *t, size_t i, int paren)
{
	if (i == 0)
		return 1;
	unsigned char c = (unsigned char)t[i - 1];
	if (c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\f' || c == '\v')
		return 1;
	if (paren && c == '(')
		return 1;
	if (i >= 2 && (unsigned char)t[i - 2] == 0xc2 && c == 0xa0)
		return 1;
	if (i >= 3 && ws_len(t + i - 3, 3) == 3)
		return 1;
	return 0;
}

static int label_ok(const char *s, size_t n)
{
	if (n < 1 || n > 63 || s[0] == '-' || s[n - 1] == '-')
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-')
			return 0;
	return 1;
}

/* atproto handle syntax: two or more DNS labels, TLD starting with a letter */
static int handle_ok(const char *s, size_t n)
{
	if (n < 3 || n > 253)
		return 0;
	size_t labels = 0, st = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i == n || s[i] == '.') {
			if (!label_ok(s + st, i - st))
				return 0;
			labels++;
			if (i == n && !isalpha((unsigned char)s[st]))
				return 0;
			st = i + 1;
		}
	}
	return labels >= 2;
}

static int overlaps(const struct facet *f, size_t nf, size_t s, size_t e)
{
	for (size_t i = 0; i < nf; i++)
		if (s < f[i].end && f[i].start < e)
			return 1;
	return 0;
}

static int is_tag_trail(unsigned char c)
{
	return ispunct(c) && c != '_' && c != '-' ? 1 : 0;
}

static int cmp_facet(const void *x, const void *y)
{
	const struct facet *a = x, *b = y;
	return a->start < b->start ? -1 : a->start > b->start;
}

/*
 * Facets of text: the spans the HTML marked (anchors, mention spans) first,
 * then what the text itself shows, with the rules of Bluesky's own
 * RichText.detectFacets: http(s) URLs after whitespace or '(' (trailing
 * .,;:!?"' and unbalanced ')' not included), @handles after whitespace or
 * '(' (a valid domain-like handle), #tags / ＃tags after whitespace (not
 * only digits, trailing punctuation dropped, at most 64 characters).
 * Offsets are UTF-8 bytes.  Sorted by start, never overlapping.
 */
static struct facet *detect_facets(struct arena *a, const char *t, const struct bsky_span *sp,
				   size_t nsp, size_t *nout)
{
	size_t n = strlen(t), nf = 0, cap = nsp + 8;
	struct facet *f = arena_alloc(a, cap * sizeof(*f));
#define PUSH(S, E, K, V, R)                                                        \
	do {                                                                       \
		if (nf == cap) {                                                   \
			struct facet *nf_ = arena_alloc(a, cap * 2 * sizeof(*f));  \
			memcpy(nf_, f, nf * sizeof(*f));                           \
			f = nf_;                                                   \
			cap *= 2;                                                  \
		}                                                                  \
		f[nf++] = (struct facet){(S), (E), (K), (V), (R)};                 \
	} while (0)
	for (size_t i = 0; i < nsp; i++) {
		if (overlaps(f, nf, sp[i].start, sp[i].end))
			continue;
		if (sp[i].kind == 1) {
			PUSH(sp[i].start, sp[i].end, F_LINK, sp[i].value, 1);
		} else {
			const char *v = sp[i].value;
			if (*v == '@')
				v++;
			if (!strncmp(v, "did:", 4))
				PUSH(sp[i].start, sp[i].end, F_MENTION, v, 1);
			else if (handle_ok(v, strlen(v)))
				PUSH(sp[i].start, sp[i].end, F_MENTION, v, 0);
		}
	}
	for (size_t i = 0; i < n;) {
		size_t e = i;
		if ((!strncasecmp(t + i, "https://", 8) || !strncasecmp(t + i, "http://", 7)) &&
		    boundary_before(t, i, 1)) {
			while (e < n && !ws_len(t + e, n - e))
				e++;
			/* trailing punctuation is the sentence's, not the URL's */
			for (;;) {
				if (e > i && strchr(".,;:!?\"'", t[e - 1])) {
					e--;
					continue;
				}
				if (e > i && t[e - 1] == ')') {
					/* a ')' closes the URL's own '(' or the sentence's */
					size_t open = 0, close = 0;
					for (size_t k = i; k < e; k++)
						open += t[k] == '(', close += t[k] == ')';
					if (close > open) {
						e--;
						continue;
					}
				}
				break;
			}
			size_t scheme = t[i + 4] == 's' || t[i + 4] == 'S' ? 8 : 7;
			if (e > i + scheme && !overlaps(f, nf, i, e))
				PUSH(i, e, F_LINK, arena_strndup(a, t + i, e - i), 1);
			i = e > i ? e : i + 1;
			continue;
		}
		if (t[i] == '@' && boundary_before(t, i, 1)) {
			e = i + 1;
			while (e < n && (isalnum((unsigned char)t[e]) || t[e] == '.' || t[e] == '-'))
				e++;
			while (e > i + 1 && (t[e - 1] == '.' || t[e - 1] == '-'))
				e--;
			if (handle_ok(t + i + 1, e - i - 1) && !overlaps(f, nf, i, e)) {
				char *h = arena_strndup(a, t + i + 1, e - i - 1);
				for (char *p = h; *p; p++)
					*p = (char)tolower((unsigned char)*p);
				PUSH(i, e, F_MENTION, h, 0);
				i = e;
				continue;
			}
		}
		size_t hash = 0;
		if (t[i] == '#')
			hash = 1;
		else if (i + 2 < n && (unsigned char)t[i] == 0xef && (unsigned char)t[i + 1] == 0xbc &&
			 (unsigned char)t[i + 2] == 0x83)
			hash = 3; /* U+FF03 FULLWIDTH NUMBER SIGN */
		if (hash && boundary_before(t, i, 0) &&
		    !(i + hash + 2 < n && (unsigned char)t[i + hash] == 0xef &&
		      (unsigned char)t[i + hash + 1] == 0xb8 && (unsigned char)t[i + hash + 2] == 0x8f)) {
			e = i + hash;
			while (e < n && !ws_len(t + e, n - e))
				e++;
			while (e > i + hash && is_tag_trail((unsigned char)t[e - 1]))
				e--;
			size_t tb = i + hash, chars = 0;
			int letters = 0;
			for (size_t k = tb; k < e; k++) {
				unsigned char c = (unsigned char)t[k];
				if ((c & 0xc0) != 0x80)
					chars++;
				if (!isdigit(c))
					letters = 1;
			}
			if (e > tb && letters && chars <= TAG_MAX_CHARS && e - tb <= TAG_MAX_BYTES &&
			    !overlaps(f, nf, i, e))
				PUSH(i, e, F_TAG, arena_strndup(a, t + tb, e - tb), 1);
			i = e > i ? e : i + 1;
			continue;
		}
		i++;
	}
#undef PUSH
	qsort(f, nf, sizeof(*f), cmp_facet);
	*nout = nf;
	return f;
}

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */
/* ------------------------------------------------------------------ */

static const char *url_encode(struct arena *a, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(s);
	char *o = arena_alloc(a, n * 3 + 1), *p = o;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
			*p++ = (char)c;
		} else {
			*p++ = '%';
			*p++ = hex[c >> 4];
			*p++ = hex[c & 15];
		}
	}
	*p = 0;
	return o;
}

static int http_url(const char *u)
{
	return u && (!strncasecmp(u, "http://", 7) || !strncasecmp(u, "https://", 8));
}

/* "scheme://host[:port]" prefix length of an absolute URL, 0 if not one */
static size_t origin_len(const char *u)
{
	const char *p = strstr(u, "://");
	if (!p || !http_url(u))
		return 0;
	p += 3;
	while (*p && *p != '/' && *p != '?' && *p != '#')
		p++;
	return (size_t)(p - u);
}

/* Resolve ref against base (absolute http(s) URL).  NULL if not possible. */
static const char *url_resolve(struct arena *a, const char *base, const char *ref)
{
	while (*ref == ' ' || *ref == '\t' || *ref == '\n' || *ref == '\r')
		ref++;
	if (!*ref)
		return NULL;
	if (http_url(ref))
		return arena_strdup(a, ref);
	size_t ol = origin_len(base);
	if (!ol)
		return NULL;
	if (ref[0] == '/' && ref[1] == '/') {
		const char *colon = strchr(base, ':');
		return arena_printf(a, "%.*s:%s", (int)(colon - base), base, ref);
	}
	if (ref[0] == '/')
		return arena_printf(a, "%.*s%s", (int)ol, base, ref);
	if (strchr(ref, ':') && strcspn(ref, ":") < strcspn(ref, "/?#"))
		return NULL; /* another scheme (data:, javascript:) */
	/* relative to the base's directory */
	const char *path = base + ol;
	size_t pl = strcspn(path, "?#");
	const char *slash = NULL;
	for (size_t i = 0; i < pl; i++)
		if (path[i] == '/')
			slash = path + i;
	if (!slash)
		return arena_printf(a, "%.*s/%s", (int)ol, base, ref);
	return arena_printf(a, "%.*s%s", (int)(slash + 1 - base), base, ref);
}

/* The URL for logs: no query string (signed URLs carry secrets there). */
static const char *log_url(struct arena *a, const char *u)
{
	size_t q = strcspn(u, "?#");
	return u[q] ? arena_printf(a, "%.*s?...", (int)q, u) : u;
}

/*
 * May herald fetch this user-supplied URL (link card)?  Literal loopback,
 * private, link-local and metadata addresses and "localhost" are refused
 * unless HERALD_FETCH_ALLOW_PRIVATE=1.  (A name that resolves to such an
 * address is not caught here: that needs the guard in the HTTP client.)
 */
static int fetch_allowed(const char *u)
{
	const char *allow = getenv("HERALD_FETCH_ALLOW_PRIVATE");
	if (allow && !strcmp(allow, "1"))
		return 1;
	size_t ol = origin_len(u);
	if (!ol)
		return 0;
	const char *h = strstr(u, "://") + 3;
	size_t hl = (size_t)(u + ol - h);
	const char *at = memchr(h, '@', hl);
	if (at) {
		hl -= (size_t)(at + 1 - h);
		h = at + 1;
	}
	char host[256];
	if (hl >= sizeof(host) || hl == 0)
		return 0;
	memcpy(host, h, hl);
	host[hl] = 0;
	if (host[0] == '[')
		return 0; /* IPv6 literals: not worth the risk */
	char *colon = strchr(host, ':');
	if (colon)
		*colon = 0;
	size_t l = strlen(host);
	while (l && host[l - 1] == '.')
		host[--l] = 0;
	if (!strcasecmp(host, "localhost") ||
	    (l > 10 && !strcasecmp(host + l - 10, ".localhost")))
		return 0;
	unsigned o[4];
	char tail;
	if (sscanf(host, "%u.%u.%u.%u%c", &o[0], &o[1], &o[2], &o[3], &tail) == 4) {
		if (o[0] == 0 || o[0] == 10 || o[0] == 127 || o[0] >= 224 ||
		    (o[0] == 169 && o[1] == 254) || (o[0] == 172 && o[1] >= 16 && o[1] <= 31) ||
		    (o[0] == 192 && o[1] == 168) || (o[0] == 100 && o[1] >= 64 && o[1] <= 127))
			return 0;
	} else {
		/* all-digit or hex forms that inet_aton would read as an address */
		int digits_only = 1;
		for (const char *p = host; *p; p++)
			if (!isdigit((unsigned char)*p) && *p != '.' && *p != 'x' && *p != 'X')
				digits_only = 0;
		if (digits_only)
			return 0;
	}
	return 1;
}

/* The path's name ends in an image extension (the first pl bytes). */
static int image_name(const char *p, size_t pl)
{
	static const char *const ext[] = {".png", ".jpg", ".jpeg", ".gif", ".webp", ".avif", ".bmp",
					  ".tiff"};
	for (size_t i = 0; i < sizeof(ext) / sizeof(ext[0]); i++) {
		size_t el = strlen(ext[i]);
		if (pl > el && !strncasecmp(p + pl - el, ext[i], el))
			return 1;
	}
	return 0;
}

/* MIME type from the first bytes; NULL when not an image/video we know. */
static const char *sniff_mime(const unsigned char *b, size_t n)
{
	if (n >= 8 && !memcmp(b, "\x89PNG\r\n\x1a\n", 8))
		return "image/png";
	if (n >= 3 && b[0] == 0xff && b[1] == 0xd8 && b[2] == 0xff)
		return "image/jpeg";
	if (n >= 6 && (!memcmp(b, "GIF87a", 6) || !memcmp(b, "GIF89a", 6)))
		return "image/gif";
	if (n >= 12 && !memcmp(b, "RIFF", 4) && !memcmp(b + 8, "WEBP", 4))
		return "image/webp";
	if (n >= 12 && !memcmp(b + 4, "ftyp", 4)) {
		if (!memcmp(b + 8, "qt  ", 4))
			return "video/quicktime";
		return "video/mp4";
	}
	return NULL;
}

static unsigned be16(const unsigned char *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* EXIF orientation (1-8) from an APP1 segment's payload, 1 when unknown */
static int exif_orientation(const unsigned char *p, size_t n)
{
	if (n < 14 || memcmp(p, "Exif\0\0", 6))
		return 1;
	const unsigned char *t = p + 6;
	size_t tn = n - 6;
	int le;
	if (!memcmp(t, "II*\0", 4))
		le = 1;
	else if (!memcmp(t, "MM\0*", 4))
		le = 0;
	else
		return 1;
#define RD16(q) (le ? (unsigned)((q)[0] | (q)[1] << 8) : be16(q))
#define RD32(q) (le ? ((uint32_t)(q)[0] | (uint32_t)(q)[1] << 8 | (uint32_t)(q)[2] << 16 | (uint32_t)(q)[3] << 24) : be32(q))
	uint32_t ifd = RD32(t + 4);
	if (ifd > tn || tn - ifd < 2)
		return 1;
	unsigned cnt = RD16(t + ifd);
	for (unsigned k = 0; k < cnt; k++) {
		size_t off = ifd + 2 + (size_t)k * 12;
		if (off + 12 > tn)
			break;
		if (RD16(t + off) == 0x0112) {
			unsigned v = RD16(t + off + 8);
			return v >= 1 && v <= 8 ? (int)v : 1;
		}
	}
#undef RD16
#undef RD32
	return 1;
}

/* Pixel size of a PNG, GIF, JPEG or WebP (as displayed: EXIF rotation
 * applied).  0 on success. */
static int image_size(const unsigned char *b, size_t n, unsigned *w, unsigned *h)
{
	if (n >= 24 && !memcmp(b, "\x89PNG\r\n\x1a\n", 8) && !memcmp(b + 12, "IHDR", 4)) {
		*w = be32(b + 16);
		*h = be32(b + 20);
		return *w && *h ? 0 : -1;
	}
	if (n >= 10 && !memcmp(b, "GIF8", 4)) {
		*w = (unsigned)b[6] | (unsigned)b[7] << 8;
		*h = (unsigned)b[8] | (unsigned)b[9] << 8;
		return *w && *h ? 0 : -1;
	}
	if (n >= 30 && !memcmp(b, "RIFF", 4) && !memcmp(b + 8, "WEBP", 4)) {
		if (!memcmp(b + 12, "VP8X", 4)) {
			*w = 1 + ((unsigned)b[24] | (unsigned)b[25] << 8 | (unsigned)b[26] << 16);
			*h = 1 + ((unsigned)b[27] | (unsigned)b[28] << 8 | (unsigned)b[29] << 16);
			return 0;
		}
		if (!memcmp(b + 12, "VP8L", 4) && b[20] == 0x2f) {
			*w = 1 + ((unsigned)b[21] | ((unsigned)b[22] & 0x3f) << 8);
			*h = 1 + ((unsigned)b[22] >> 6 | (unsigned)b[23] << 2 | ((unsigned)b[24] & 0x0f) << 10);
			return 0;
		}
		if (!memcmp(b + 12, "VP8 ", 4) && b[23] == 0x9d && b[24] == 0x01 && b[25] == 0x2a) {
			*w = ((unsigned)b[26] | (unsigned)b[27] << 8) & 0x3fff;
			*h = ((unsigned)b[28] | (unsigned)b[29] << 8) & 0x3fff;
			return *w && *h ? 0 : -1;
		}
		return -1;
	}
	if (n >= 4 && b[0] == 0xff && b[1] == 0xd8) {
		int orient = 1;
		size_t i = 2;
		while (i + 4 <= n) {
			if (b[i] != 0xff)
				return -1;
			unsigned char m = b[i + 1];
			if (m == 0xff) {
				i++;
				continue;
			}
			if (m == 0xd8 || m == 0x01 || (m >= 0xd0 && m <= 0xd7)) {
				i += 2;
				continue;
			}
			if (m == 0xd9 || m == 0xda)
				return -1;
			unsigned len = be16(b + i + 2);
			if (len < 2 || i + 2 + len > n)
				return -1;
			if (m == 0xe1)
				orient = exif_orientation(b + i + 4, len - 2);
			if (m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc) {
				if (len < 7)
					return -1;
				*h = be16(b + i + 5);
				*w = be16(b + i + 7);
				if (orient >= 5) {
					unsigned x = *w;
					*w = *h;
					*h = x;
				}
				return *w && *h ? 0 : -1;
			}
			i += 2 + len;
		}
	}
	return -1;
}

/* ------------------------------------------------------------------ */
/* Record keys                                                         */
/* ------------------------------------------------------------------ */

static const char S32[] = "234567abcdefghijklmnopqrstuvwxyz";
static const char CROCKFORD[] = "0123456789abcdefghjkmnpqrstvwxyz";

/*
 * The record key of an item: a TID (13 base32-sortable chars of a 64-bit
 * value: 0, 53 bits of microseconds, 10 bits of clock id) made from the
 * item id alone.  Its time is the item id's ULID time plus up to a second
 * chosen by a hash of the id, its clock id comes from the same hash, so
 * two items differ with near certainty (30 bits) even when minted in the
 * same millisecond, and the same item always gets the same key.  A
 * repeating post is a new post at each occurrence: there the occurrence's
 * scheduled time (stable across its retries) joins the id in the hash and
 * gives the TID its time.
 */
static const char *item_tid(struct arena *a, const char *item_id, int64_t occurrence_ms)
{
	unsigned char hbuf[8];
	const char *in = occurrence_ms ? arena_printf(a, "%s/%lld", item_id, (long long)occurrence_ms)
				       : item_id;
	crypto_generichash(hbuf, sizeof(hbuf), (const unsigned char *)in, strlen(in),
			   (const unsigned char *)"herald-bsky-rkey", 16);
	uint64_t h = 0;
	for (int i = 0; i < 8; i++)
		h = h << 8 | hbuf[i];
	uint64_t ms = 0;
	int ulid = strlen(item_id) == 26;
	for (int i = 0; ulid && i < 10; i++) {
		const char *p = strchr(CROCKFORD, tolower((unsigned char)item_id[i]));
		if (!p || !*p)
			ulid = 0;
		else
			ms = ms << 5 | (uint64_t)(p - CROCKFORD);
	}
	if (occurrence_ms > 0)
		ms = (uint64_t)occurrence_ms;
	else if (!ulid || ms > 0x7fffffffffffull / 1000)
		ms = 1672531200000ull + (h >> 20) % 31536000000ull; /* a time in 2023 */
	uint64_t us = ms * 1000 + (h % 1000000);
	uint64_t v = (us & ((1ull << 53) - 1)) << 10 | ((h >> 32) & 0x3ff);
	char *o = arena_alloc(a, 14);
	for (int i = 12; i >= 0; i--) {
		o[i] = S32[v & 31];
		v >>= 5;
	}
	o[13] = 0;
	return o;
}

/* at://<repo>/<collection>/<rkey> -> parts; 0 on success */
static int parse_at_uri(struct arena *a, const char *uri, const char **repo, const char **coll,
			const char **rkey)
{
	if (!uri || strncmp(uri, "at://", 5))
		return -1;
	const char *r = uri + 5, *s1 = strchr(r, '/');
	if (!s1)
		return -1;
	const char *s2 = strchr(s1 + 1, '/');
	if (!s2 || !s2[1] || strchr(s2 + 1, '/'))
		return -1;
	*repo = arena_strndup(a, r, (size_t)(s1 - r));
	*coll = arena_strndup(a, s1 + 1, (size_t)(s2 - s1 - 1));
	*rkey = arena_strdup(a, s2 + 1);
	return **repo && **coll ? 0 : -1;
}

/* ------------------------------------------------------------------ */
/* Connect                                                             */
/* ------------------------------------------------------------------ */

static int service_ok(const char *u)
{
	size_t ol = origin_len(u);
	if (!ol || strlen(u) > 512)
		return 0;
	const char *h = strstr(u, "://") + 3;
	if ((size_t)(u + ol - h) == 0)
		return 0;
	for (const char *p = u; *p; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f)
			return 0;
	return 1;
}

static int bsky_connect(struct arena *a, json_t *cred, const char **profile, const char **err)
{
	json_t *sv = json_object_get(cred, "service");
	if (sv && !json_is_null(sv) && !json_is_string(sv)) {
		*err = "credentials.service must be a string (the PDS URL)";
		return -1;
	}
	const char *service = json_is_string(sv) ? json_string_value(sv) : "";
	if (!*service) {
		service = DEFAULT_SERVICE;
	} else if (!service_ok(service)) {
		*err = "credentials.service must be an http:// or https:// URL such as https://bsky.social";
		return -1;
	}
	char *svc = arena_strdup(a, service);
	size_t l = strlen(svc);
	while (l > 8 && svc[l - 1] == '/')
		svc[--l] = 0;
	json_t *id = json_object_get(cred, "identifier");
	if (!json_is_string(id) || !json_string_length(id)) {
		*err = "credentials.identifier is required: your handle (alice.bsky.social), DID or email";
		return -1;
	}
	char *ident = arena_strdup(a, json_string_value(id));
	while (*ident == ' ')
		ident++;
	l = strlen(ident);
	while (l && ident[l - 1] == ' ')
		ident[--l] = 0;
	if (*ident == '@')
		ident++;
	l = strlen(ident);
	int ok;
	if (!strncmp(ident, "did:", 4)) {
		ok = (!strncmp(ident, "did:plc:", 8) && l == 32) || (!strncmp(ident, "did:web:", 8) && l > 8);
		for (size_t i = 0; ok && i < l; i++)
			if (!isalnum((unsigned char)ident[i]) && !strchr(":._-%", ident[i]))
				ok = 0;
	} else if (strchr(ident, '@')) {
		const char *at = strchr(ident, '@');
		ok = at != ident && strchr(at, '.') && !strchr(at + 1, '@') && !strpbrk(ident, " \t\r\n");
	} else {
		for (char *p = ident; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		ok = handle_ok(ident, l);
	}
	if (!ok) {
		*err = "credentials.identifier must be a handle (alice.bsky.social), a DID (did:plc:...) or an email";
		return -1;
	}
	json_t *pw = json_object_get(cred, "password");
	if (!json_is_string(pw) || !json_string_length(pw)) {
		*err = "credentials.password is required (an app password from Bluesky's settings)";
		return -1;
	}
	if (json_string_length(pw) > 256) {
		*err = "credentials.password is longer than 256 characters";
		return -1;
	}
	json_object_set_new(cred, "service", json_string(svc));
	json_object_set_new(cred, "identifier", json_string(ident));
	/* a session cached for other credentials must not survive a change */
	json_object_del(cred, "accessJwt");
	json_object_del(cred, "refreshJwt");
	json_object_del(cred, "did");
	json_object_del(cred, "handle");
	*profile = arena_printf(a, "@%s", ident);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Publish                                                             */
/* ------------------------------------------------------------------ */

enum op {
	OP_NONE,
	OP_SESSION,
	OP_REFRESH,
	OP_RESOLVE,
	OP_GET_PARENT,
	OP_GET_ROOT,
	OP_MEDIA_GET,
	OP_MEDIA_UP,
	OP_CARD_GET,
	OP_THUMB_GET,
	OP_THUMB_UP,
	OP_CREATE,
	OP_READBACK,
	OP_DELETE,
	OP_PROFILE,
	OP_METRICS,
};

enum card { CARD_OFF, CARD_PAGE, CARD_THUMB, CARD_UPLOAD, CARD_READY };

struct media {
	const char *url, *alt;
	const unsigned char *bytes;
	size_t len;
	const char *mime;
	unsigned w, h;
	json_t *blob;
};

struct bs {
	const char *pds;
	const char *text;
	struct facet *f;
	size_t nf, fi;
	const char *parent_uri, *parent_cid, *root_uri, *root_cid;
	struct media *m;
	size_t nm, mi;
	int video;
	int maybe_video; /* one media whose name says neither image nor video */
	int card;
	const char *card_url, *card_page, *card_title, *card_desc, *card_img;
	const unsigned char *thumb;
	size_t thumb_len;
	const char *thumb_mime;
	json_t *thumb_blob;
	int redirects;
	const char *rkey, *uri;
	enum op op, resume;
	int refreshed, sessioned;
	const char *del_repo, *del_coll, *del_rkey; /* unpublish: the record */
	int profile;                                /* tool "profile" */
	long create_status;
	const char *create_error;
	int64_t create_retry;
	int metrics; /* analytics: getPosts of c->release_id */
};

static const char *cred_str(struct pub_ctx *c, const char *k)
{
	const char *v = json_string_value(json_object_get(c->credentials, k));
	return v && *v ? v : NULL;
}

static const char *xrpc(struct pub_ctx *c, struct bs *s, const char *nsid)
{
	return arena_printf(c->a, "%s/xrpc/%s", s->pds, nsid);
}

/* "InvalidRequest: message" from an XRPC error body, else a bounded raw excerpt */
static const char *xrpc_error(struct pub_ctx *c, const struct hresp *r, const char **code)
{
	json_t *j = r->body_len ? json_loadb(r->body, r->body_len, 0, NULL) : NULL;
	const char *e = json_string_value(json_object_get(j, "error"));
	const char *m = json_string_value(json_object_get(j, "message"));
	const char *out;
	if (code)
		*code = e ? arena_strdup(c->a, e) : "";
	if (e && m)
		out = arena_printf(c->a, "%s: %s", e, m);
	else if (e || m)
		out = arena_strdup(c->a, e ? e : m);
	else
		out = arena_printf(c->a, "%.300s", r->body_len ? r->body : "(empty body)");
	json_decref(j);
	return out;
}

static int64_t reset_after(const struct hresp *r)
{
	int64_t ra = pub_retry_after(r);
	char v[32];
	if (!ra && !hresp_header(r, "RateLimit-Reset", v, sizeof(v))) {
		long long at = strtoll(v, NULL, 10);
		/* epoch seconds; tolerate a seconds-from-now value too */
		if (at > 1000000000LL)
			ra = (int64_t)at * 1000 - now_ms();
		else if (at > 0)
			ra = (int64_t)at * 1000;
		if (ra < 0)
			ra = 0;
	}
	return ra;
}

/* classify a non-2xx answer that is not an auth problem */
static enum pub_status fail(struct pub_ctx *c, const struct hresp *r, const char *what)
{
	const char *msg = xrpc_error(c, r, NULL);
	c->error = arena_printf(c->a, "Bluesky %s: HTTP %ld %s", what, r->status, msg);
	enum pub_status st = pub_classify_status(r->status);
	if (st == PUB_RETRY)
		c->retry_after_ms = reset_after(r);
	if (st == PUB_AUTH_EXPIRED || st == PUB_OK)
		st = PUB_FAILED;
	return st;
}

static int auth_problem(struct pub_ctx *c, const struct hresp *r)
{
	if (r->status == 401)
		return 1;
	if (r->status == 400) {
		const char *code = NULL;
		xrpc_error(c, r, &code);
		return !strcmp(code, "ExpiredToken") || !strcmp(code, "InvalidToken");
	}
	return 0;
}

static enum pub_status send_json(struct pub_ctx *c, const char *url, json_t *body, int auth)
{
	char *txt = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	if (!txt) {
		c->error = "cannot encode the request";
		return PUB_FAILED;
	}
	c->req.method = "POST";
	c->req.url = url;
	c->req.body = arena_strdup(c->a, txt);
	c->req.body_len = strlen(txt);
	free(txt);
	int h = 0;
	c->req.headers[h++] = "Content-Type: application/json";
	c->req.headers[h++] = "Accept: application/json";
	if (auth)
		c->req.headers[h++] = arena_printf(c->a, "Authorization: Bearer %s", cred_str(c, "accessJwt"));
	c->req.headers[h] = NULL;
	c->req.timeout_ms = 30000;
	return PUB_SEND;
}

static enum pub_status send_get(struct pub_ctx *c, const char *url, size_t max, long timeout)
{
	c->req.method = "GET";
	c->req.safe = 1; /* a read changes nothing on the platform */
	c->req.url = url;
	c->req.log_url = log_url(c->a, url);
	c->req.max_response = max;
	c->req.timeout_ms = timeout;
	c->req.headers[0] = NULL;
	return PUB_SEND;
}

static enum pub_status send_blob(struct pub_ctx *c, struct bs *s, const unsigned char *bytes,
				 size_t len, const char *mime)
{
	c->req.method = "POST";
	c->req.url = xrpc(c, s, "com.atproto.repo.uploadBlob");
	c->req.body = (const char *)bytes;
	c->req.body_len = len;
	c->req.headers[0] = arena_printf(c->a, "Content-Type: %s", mime);
	c->req.headers[1] = arena_printf(c->a, "Authorization: Bearer %s", cred_str(c, "accessJwt"));
	c->req.headers[2] = "Accept: application/json";
	c->req.headers[3] = NULL;
	c->req.timeout_ms = 120000;
	c->req.safe = 1; /* a blob no record references is garbage-collected */
	return PUB_SEND;
}

static json_t *build_record(struct pub_ctx *c, struct bs *s)
{
	char when[32];
	iso_format(now_ms(), when);
	json_t *rec = json_pack("{s:s,s:s,s:s}", "$type", "app.bsky.feed.post", "text", s->text,
				"createdAt", when);
	json_t *facets = json_array();
	for (size_t i = 0; i < s->nf; i++) {
		const struct facet *f = &s->f[i];
		json_t *feat;
		if (f->kind == F_LINK)
			feat = json_pack("{s:s,s:s}", "$type", "app.bsky.richtext.facet#link", "uri", f->value);
		else if (f->kind == F_MENTION && f->resolved)
			feat = json_pack("{s:s,s:s}", "$type", "app.bsky.richtext.facet#mention", "did", f->value);
		else if (f->kind == F_TAG)
			feat = json_pack("{s:s,s:s}", "$type", "app.bsky.richtext.facet#tag", "tag", f->value);
		else
			continue;
		json_array_append_new(facets,
				      json_pack("{s:{s:I,s:I},s:[o]}", "index", "byteStart",
						(json_int_t)f->start, "byteEnd", (json_int_t)f->end,
						"features", feat));
	}
	if (json_array_size(facets))
		json_object_set_new(rec, "facets", facets);
	else
		json_decref(facets);
	if (s->parent_uri)
		json_object_set_new(rec, "reply",
				    json_pack("{s:{s:s,s:s},s:{s:s,s:s}}", "root", "uri", s->root_uri,
					      "cid", s->root_cid, "parent", "uri", s->parent_uri, "cid",
					      s->parent_cid));
	if (s->nm && s->video) {
		struct media *m = &s->m[0];
		json_t *e = json_pack("{s:s,s:O}", "$type", "app.bsky.embed.video", "video", m->blob);
		if (m->alt && *m->alt)
			json_object_set_new(e, "alt", json_string(m->alt));
		if (m->w && m->h)
			json_object_set_new(e, "aspectRatio",
					    json_pack("{s:I,s:I}", "width", (json_int_t)m->w, "height",
						      (json_int_t)m->h));
		json_object_set_new(rec, "embed", e);
	} else if (s->nm) {
		json_t *imgs = json_array();
		for (size_t i = 0; i < s->nm; i++) {
			struct media *m = &s->m[i];
			json_t *im = json_pack("{s:O,s:s}", "image", m->blob, "alt", m->alt ? m->alt : "");
			if (m->w && m->h)
				json_object_set_new(im, "aspectRatio",
						    json_pack("{s:I,s:I}", "width", (json_int_t)m->w,
							      "height", (json_int_t)m->h));
			json_array_append_new(imgs, im);
		}
		json_object_set_new(rec, "embed",
				    json_pack("{s:s,s:o}", "$type", "app.bsky.embed.images", "images", imgs));
	} else if (s->card == CARD_READY) {
		json_t *ext = json_pack("{s:s,s:s,s:s}", "uri", s->card_url, "title",
					s->card_title ? s->card_title : "", "description",
					s->card_desc ? s->card_desc : "");
		if (s->thumb_blob)
			json_object_set(ext, "thumb", s->thumb_blob);
		json_object_set_new(rec, "embed",
				    json_pack("{s:s,s:o}", "$type", "app.bsky.embed.external", "external", ext));
	}
	/* langs from settings: "langs": ["en"] or "lang"/"language": "en" */
	json_t *langs = json_object_get(c->settings, "langs");
	const char *lang = json_string_value(json_object_get(c->settings, "lang"));
	if (!lang)
		lang = json_string_value(json_object_get(c->settings, "language"));
	if (json_is_array(langs) && json_array_size(langs) && json_array_size(langs) <= 3)
		json_object_set(rec, "langs", langs);
	else if (lang && *lang)
		json_object_set_new(rec, "langs", json_pack("[s]", lang));
	return rec;
}

static enum pub_status metrics_request(struct pub_ctx *c, struct bs *s);

static enum pub_status start(struct pub_ctx *c, struct bs *s, enum op op)
{
	s->op = op;
	switch (op) {
	case OP_SESSION:
		s->sessioned = 1;
		return send_json(c, xrpc(c, s, "com.atproto.server.createSession"),
				 json_pack("{s:s,s:s}", "identifier", cred_str(c, "identifier"),
					   "password", cred_str(c, "password")),
				 0);
	case OP_REFRESH:
		s->refreshed = 1;
		c->req.method = "POST";
		c->req.url = xrpc(c, s, "com.atproto.server.refreshSession");
		c->req.headers[0] = arena_printf(c->a, "Authorization: Bearer %s", cred_str(c, "refreshJwt"));
		c->req.headers[1] = "Accept: application/json";
		c->req.headers[2] = NULL;
		c->req.timeout_ms = 30000;
		return PUB_SEND;
	case OP_RESOLVE:
		return send_get(c,
				arena_printf(c->a, "%s?handle=%s",
					     xrpc(c, s, "com.atproto.identity.resolveHandle"),
					     url_encode(c->a, s->f[s->fi].value)),
				0, 15000);
	case OP_GET_PARENT:
	case OP_GET_ROOT:
	case OP_READBACK: {
		const char *uri = op == OP_GET_PARENT ? s->parent_uri : op == OP_GET_ROOT ? s->root_uri : NULL;
		const char *repo, *coll, *rkey;
		if (uri) {
			if (parse_at_uri(c->a, uri, &repo, &coll, &rkey)) {
				c->error = arena_printf(c->a, "the post to reply to has no valid at:// URI (%s)", uri);
				return PUB_FAILED;
			}
		} else {
			repo = cred_str(c, "did");
			coll = "app.bsky.feed.post";
			rkey = s->rkey;
		}
		return send_get(c,
				arena_printf(c->a, "%s?repo=%s&collection=%s&rkey=%s",
					     xrpc(c, s, "com.atproto.repo.getRecord"), url_encode(c->a, repo),
					     url_encode(c->a, coll), url_encode(c->a, rkey)),
				0, 15000);
	}
	case OP_MEDIA_GET: {
		struct media *m = &s->m[s->mi];
		/* one media of a type its name does not tell may be a video */
		send_get(c, m->url, s->video || s->maybe_video ? VIDEO_FETCH_MAX : IMAGE_FETCH_MAX,
			 120000);
		c->req.user_url = 1;
		/* herald-hosted images come as a copy under the blob cap; videos
		 * are never fitted (media_fit leaves them as they are) */
		c->req.fit = !s->video;
		return PUB_SEND;
	}
	case OP_MEDIA_UP: {
		struct media *m = &s->m[s->mi];
		return send_blob(c, s, m->bytes, m->len, m->mime);
	}
	case OP_CARD_GET:
		send_get(c, s->card_page, CARD_PAGE_MAX, 8000);
		c->req.user_url = 1;
		/* optional: a dead or huge page comes back here, never fails the post */
		c->req.safe = 0;
		c->req.optional = 1;
		c->req.headers[0] = "Accept: text/html,application/xhtml+xml;q=0.9,*/*;q=0.5";
		c->req.headers[1] = "Range: bytes=0-524287";
		c->req.headers[2] = NULL;
		return PUB_SEND;
	case OP_THUMB_GET:
		send_get(c, s->card_img, CARD_THUMB_MAX + 4096, 8000);
		c->req.user_url = 1;
		c->req.safe = 0;
		c->req.optional = 1;
		c->req.headers[0] = "Accept: image/*";
		c->req.headers[1] = NULL;
		return PUB_SEND;
	case OP_THUMB_UP:
		return send_blob(c, s, s->thumb, s->thumb_len, s->thumb_mime);
	case OP_CREATE: {
		json_t *body = json_pack("{s:s,s:s,s:s,s:o}", "repo", cred_str(c, "did"), "collection",
					 "app.bsky.feed.post", "rkey", s->rkey, "record", build_record(c, s));
		return send_json(c, xrpc(c, s, "com.atproto.repo.createRecord"), body, 1);
	}
	case OP_PROFILE:
		send_get(c,
			 arena_printf(c->a, "%s?actor=%s", xrpc(c, s, "app.bsky.actor.getProfile"),
				      url_encode(c->a, cred_str(c, "did"))),
			 0, 15000);
		c->req.headers[0] = arena_printf(c->a, "Authorization: Bearer %s", cred_str(c, "accessJwt"));
		c->req.headers[1] = "Accept: application/json";
		c->req.headers[2] = NULL;
		return PUB_SEND;
	case OP_METRICS:
		return metrics_request(c, s);
	case OP_DELETE:
		return send_json(c, xrpc(c, s, "com.atproto.repo.deleteRecord"),
				 json_pack("{s:s,s:s,s:s}", "repo", s->del_repo, "collection",
					   s->del_coll, "rkey", s->del_rkey),
				 1);
	case OP_NONE:
	default:
		break;
	}
	c->error = "internal error: unknown step";
	return PUB_FAILED;
}

/* Choose the next step once the previous one is done. */
static enum pub_status advance(struct pub_ctx *c, struct bs *s)
{
	if (!cred_str(c, "accessJwt") || !cred_str(c, "did")) {
		s->resume = OP_NONE;
		return start(c, s, OP_SESSION);
	}
	if (s->del_rkey)
		return start(c, s, OP_DELETE);
	if (s->profile)
		return start(c, s, OP_PROFILE);
	if (s->metrics)
		return start(c, s, OP_METRICS);
	for (; s->fi < s->nf; s->fi++)
		if (s->f[s->fi].kind == F_MENTION && !s->f[s->fi].resolved)
			return start(c, s, OP_RESOLVE);
	if (s->parent_uri && !s->parent_cid)
		return start(c, s, OP_GET_PARENT);
	if (s->root_uri && !s->root_cid) {
		if (!strcmp(s->root_uri, s->parent_uri)) {
			s->root_cid = s->parent_cid;
		} else {
			return start(c, s, OP_GET_ROOT);
		}
	}
	if (s->mi < s->nm)
		return start(c, s, s->m[s->mi].bytes ? OP_MEDIA_UP : OP_MEDIA_GET);
	switch (s->card) {
	case CARD_PAGE:
		return start(c, s, OP_CARD_GET);
	case CARD_THUMB:
		return start(c, s, OP_THUMB_GET);
	case CARD_UPLOAD:
		return start(c, s, OP_THUMB_UP);
	default:
		break;
	}
	return start(c, s, OP_CREATE);
}

static enum pub_status published(struct pub_ctx *c, struct bs *s, const char *uri)
{
	const char *repo, *coll, *rkey;
	c->release_id = arena_strdup(c->a, uri);
	if (parse_at_uri(c->a, uri, &repo, &coll, &rkey))
		rkey = s->rkey;
	const char *who = cred_str(c, "handle");
	if (!who)
		who = cred_str(c, "did");
	c->release_url = arena_printf(c->a, "https://bsky.app/profile/%s/post/%s", who, rkey);
	return PUB_OK;
}

/* og:/twitter: meta tags and <title> of an HTML page (bounded scan) */
static void read_card(struct pub_ctx *c, struct bs *s, const char *html, size_t n)
{
	const char *title = NULL, *desc = NULL, *img = NULL, *ttag = NULL, *mdesc = NULL, *timg = NULL;
	const char *twt = NULL, *twd = NULL;
	for (size_t i = 0; i + 5 < n; i++) {
		if (html[i] != '<')
			continue;
		if (!strncasecmp(html + i, "</head", 6) || !strncasecmp(html + i, "<body", 5))
			break;
		if (!strncasecmp(html + i, "<title", 6) && !ttag) {
			const char *gt = memchr(html + i, '>', n - i);
			if (!gt)
				break;
			const char *st = gt + 1;
			const char *en = st;
			while (en < html + n && strncasecmp(en, "</title", 7))
				en++;
			ttag = decode_entities(c->a, st, (size_t)(en - st));
			continue;
		}
		if (strncasecmp(html + i, "<meta", 5) || !isspace((unsigned char)html[i + 5]))
			continue;
		const char *gt = memchr(html + i, '>', n - i);
		if (!gt)
			break;
		const char *t = html + i + 1;
		size_t tl = (size_t)(gt - t);
		const char *prop = tag_attr(c->a, t, tl, "property");
		if (!prop)
			prop = tag_attr(c->a, t, tl, "name");
		const char *content = tag_attr(c->a, t, tl, "content");
		if (!prop || !content || !*content)
			continue;
		if (!strcasecmp(prop, "og:title") && !title)
			title = content;
		else if (!strcasecmp(prop, "og:description") && !desc)
			desc = content;
		else if ((!strcasecmp(prop, "og:image") || !strcasecmp(prop, "og:image:url") ||
			  !strcasecmp(prop, "og:image:secure_url")) && !img)
			img = content;
		else if (!strcasecmp(prop, "twitter:title") && !twt)
			twt = content;
		else if (!strcasecmp(prop, "twitter:description") && !twd)
			twd = content;
		else if ((!strcasecmp(prop, "twitter:image") || !strcasecmp(prop, "twitter:image:src")) && !timg)
			timg = content;
		else if (!strcasecmp(prop, "description") && !mdesc)
			mdesc = content;
		i = (size_t)(gt - html);
	}
	title = title ? title : twt ? twt : ttag;
	desc = desc ? desc : twd ? twd : mdesc;
	img = img ? img : timg;
	/* collapse whitespace and bound the lengths on character boundaries */
	const char *in[2] = {title, desc};
	size_t lim[2] = {CARD_TITLE_MAX, CARD_DESC_MAX};
	const char *outv[2] = {NULL, NULL};
	for (int k = 0; k < 2; k++) {
		if (!in[k])
			continue;
		char *o = arena_alloc(c->a, strlen(in[k]) + 4);
		size_t ol = 0;
		int sp = 1;
		for (const char *p = in[k]; *p; p++) {
			if (isspace((unsigned char)*p)) {
				if (!sp)
					o[ol++] = ' ';
				sp = 1;
			} else {
				o[ol++] = *p;
				sp = 0;
			}
		}
		while (ol && o[ol - 1] == ' ')
			ol--;
		if (ol > lim[k]) {
			ol = lim[k] - 3;
			while (ol && ((unsigned char)o[ol] & 0xc0) == 0x80)
				ol--;
			memcpy(o + ol, "...", 3);
			ol += 3;
		}
		o[ol] = 0;
		outv[k] = ol ? o : NULL;
	}
	s->card_title = outv[0];
	s->card_desc = outv[1];
	if (!s->card_title && !s->card_desc) {
		s->card = CARD_OFF;
		return;
	}
	s->card = CARD_READY;
	if (img) {
		const char *u = url_resolve(c->a, s->card_page, img);
		if (u && fetch_allowed(u)) {
			s->card_img = u;
			s->card = CARD_THUMB;
		}
	}
}

static enum pub_status begin(struct pub_ctx *c)
{
	struct bs *s = arena_alloc(c->a, sizeof(*s));
	c->state = s;
	const char *svc = c->base_url && *c->base_url ? c->base_url : cred_str(c, "service");
	if (!svc)
		svc = DEFAULT_SERVICE;
	char *pds = arena_strdup(c->a, svc);
	size_t l = strlen(pds);
	while (l > 8 && pds[l - 1] == '/')
		pds[--l] = 0;
	s->pds = pds;
	if (!cred_str(c, "identifier") || !cred_str(c, "password")) {
		c->error = "the channel has no identifier or app password; reconnect it";
		return PUB_AUTH_EXPIRED;
	}
	struct bsky_span *sp;
	size_t nsp;
	s->text = bsky_html_text(c->a, c->content, 0, &sp, &nsp);
	s->f = detect_facets(c->a, s->text, sp, nsp, &s->nf);
	s->rkey = item_tid(c->a, c->item_id, c->repeating ? c->publish_at : 0);
	if (c->parent_release_id) {
		const char *repo, *coll, *rkey;
		s->parent_uri = c->parent_release_id;
		s->root_uri = c->root_release_id ? c->root_release_id : c->parent_release_id;
		/* checked before any request: no terminal answer may follow a
		 * session answer (the attempt log keeps the last response) */
		if (parse_at_uri(c->a, s->parent_uri, &repo, &coll, &rkey) ||
		    parse_at_uri(c->a, s->root_uri, &repo, &coll, &rkey)) {
			c->error = arena_printf(c->a, "the post to reply to has no valid at:// URI (%s)",
						s->parent_uri);
			return PUB_FAILED;
		}
	}
	size_t nm = json_array_size(c->media);
	if (nm) {
		s->m = arena_alloc(c->a, nm * sizeof(*s->m));
		size_t i;
		json_t *it;
		int videos = 0;
		json_array_foreach(c->media, i, it) {
			const char *p = json_string_value(json_object_get(it, "path"));
			if (!http_url(p)) {
				c->error = arena_printf(c->a, "media[%zu] has no http(s) path", i);
				return PUB_FAILED;
			}
			s->m[i].url = p;
			s->m[i].alt = json_string_value(json_object_get(it, "alt"));
			size_t pl = strcspn(p, "?#");
			if ((pl > 4 && !strncasecmp(p + pl - 4, ".mp4", 4)) ||
			    (pl > 4 && !strncasecmp(p + pl - 4, ".mov", 4)))
				videos++;
			else if (nm == 1 && !image_name(p, pl))
				s->maybe_video = 1;
		}
		s->nm = nm;
		if (videos && nm > 1) {
			c->error = "Bluesky takes up to 4 images, or one video alone";
			return PUB_FAILED;
		}
		s->video = videos == 1;
		if (!s->video && nm > MAX_IMAGES) {
			c->error = arena_printf(c->a, "Bluesky takes at most %d images per post (this one has %zu)",
						MAX_IMAGES, nm);
			return PUB_FAILED;
		}
	}
	/* link card: first link, only when no media embed; "link_card": false turns it off */
	json_t *lc = json_object_get(c->settings, "link_card");
	if (!s->nm && !json_is_false(lc)) {
		for (size_t i = 0; i < s->nf; i++)
			if (s->f[i].kind == F_LINK) {
				if (fetch_allowed(s->f[i].value)) {
					s->card_url = s->f[i].value;
					s->card_page = s->card_url;
					s->card = CARD_PAGE;
				}
				break;
			}
	}
	return advance(c, s);
}

/* Keep the session of a createSession/refreshSession answer in the
 * credentials; -1 (c->error set) when the answer has none. */
static int session_store(struct pub_ctx *c, const struct hresp *r)
{
	json_t *j = json_loadb(r->body, r->body_len, 0, NULL);
	const char *acc = json_string_value(json_object_get(j, "accessJwt"));
	const char *ref = json_string_value(json_object_get(j, "refreshJwt"));
	const char *did = json_string_value(json_object_get(j, "did"));
	const char *handle = json_string_value(json_object_get(j, "handle"));
	if (!acc || !did) {
		json_decref(j);
		c->error = "Bluesky answered the login without accessJwt or did";
		return -1;
	}
	json_object_set_new(c->credentials, "accessJwt", json_string(acc));
	if (ref)
		json_object_set_new(c->credentials, "refreshJwt", json_string(ref));
	else
		json_object_del(c->credentials, "refreshJwt");
	json_object_set_new(c->credentials, "did", json_string(did));
	if (handle && strcmp(handle, "handle.invalid"))
		json_object_set_new(c->credentials, "handle", json_string(handle));
	json_decref(j);
	c->credentials_changed = 1;
	return 0;
}

static enum pub_status on_session(struct pub_ctx *c, struct bs *s, const struct hresp *r)
{
	if (session_store(c, r))
		return PUB_RETRY;
	return s->resume != OP_NONE ? start(c, s, s->resume) : advance(c, s);
}

/* the access token was refused: refresh, else a new session, else give up */
static enum pub_status reauth(struct pub_ctx *c, struct bs *s, const struct hresp *r)
{
	s->resume = s->op;
	if (!s->refreshed && cred_str(c, "refreshJwt"))
		return start(c, s, OP_REFRESH);
	if (!s->sessioned)
		return start(c, s, OP_SESSION);
	c->error = arena_printf(c->a, "Bluesky refused a fresh session: %s", xrpc_error(c, r, NULL));
	return PUB_AUTH_EXPIRED;
}

static enum pub_status on_create(struct pub_ctx *c, struct bs *s, const struct hresp *r)
{
	if (r->status == 200) {
		json_t *j = json_loadb(r->body, r->body_len, 0, NULL);
		const char *uri = json_string_value(json_object_get(j, "uri"));
		enum pub_status st;
		if (uri) {
			st = published(c, s, uri);
		} else {
			c->error = arena_printf(c->a, "Bluesky accepted the post but answered without a uri: %.200s",
						r->body);
			st = PUB_UNKNOWN;
		}
		json_decref(j);
		return st;
	}
	/* anything else: the record may exist already (an earlier attempt made
	 * it, and this one collided with its key) or be there despite an
	 * error: read it back before deciding */
	s->create_status = r->status;
	s->create_retry = reset_after(r);
	s->create_error = arena_printf(c->a, "Bluesky refused the post: HTTP %ld %s", r->status,
				       xrpc_error(c, r, NULL));
	return start(c, s, OP_READBACK);
}

static enum pub_status on_readback(struct pub_ctx *c, struct bs *s, const struct hresp *r)
{
	if (r->status == 200) {
		json_t *j = json_loadb(r->body, r->body_len, 0, NULL);
		const char *uri = json_string_value(json_object_get(j, "uri"));
		const char *text = json_string_value(json_object_get(json_object_get(j, "value"), "text"));
		enum pub_status st;
		if (uri && text && !strcmp(text, s->text)) {
			st = published(c, s, uri);
		} else {
			c->error = arena_printf(c->a,
						"Bluesky has another record under this post's key %s (%s); "
						"not overwriting it",
						s->rkey, s->create_error);
			st = PUB_FAILED;
		}
		json_decref(j);
		return st;
	}
	/* not there: the create's own answer decides */
	c->error = s->create_error;
	enum pub_status st = pub_classify_status(s->create_status);
	if (st == PUB_RETRY)
		c->retry_after_ms = s->create_retry;
	if (st == PUB_OK || st == PUB_AUTH_EXPIRED)
		st = PUB_FAILED;
	if (r->status >= 500 && st == PUB_FAILED)
		st = PUB_RETRY; /* cannot tell: do not give up on a maybe */
	return st;
}

static enum pub_status bsky_publish(struct pub_ctx *c, const struct hresp *r)
{
	if (!r)
		return begin(c);
	struct bs *s = c->state;
	int ok = r->status >= 200 && r->status < 300;
	switch (s->op) {
	case OP_SESSION:
		if (ok)
			return on_session(c, s, r);
		if (r->status == 429 || r->status >= 500)
			return fail(c, r, "createSession");
		c->error = arena_printf(c->a, "Bluesky refused the login for %s: %s",
					cred_str(c, "identifier"), xrpc_error(c, r, NULL));
		json_object_del(c->credentials, "accessJwt");
		json_object_del(c->credentials, "refreshJwt");
		c->credentials_changed = 1;
		return PUB_AUTH_EXPIRED;
	case OP_REFRESH:
		if (ok)
			return on_session(c, s, r);
		if (r->status == 429 || r->status >= 500)
			return fail(c, r, "refreshSession");
		/* the refresh token is expired or revoked: log in again */
		json_object_del(c->credentials, "refreshJwt");
		c->credentials_changed = 1;
		return start(c, s, OP_SESSION);
	case OP_RESOLVE: {
		struct facet *f = &s->f[s->fi];
		if (ok) {
			json_t *j = json_loadb(r->body, r->body_len, 0, NULL);
			const char *did = json_string_value(json_object_get(j, "did"));
			if (did && !strncmp(did, "did:", 4)) {
				f->value = arena_strdup(c->a, did);
				f->resolved = 1;
			} else {
				f->kind = 0;
			}
			json_decref(j);
		} else if (r->status == 429 || r->status >= 500) {
			return fail(c, r, "resolveHandle");
		} else {
			f->kind = 0; /* no such handle: plain text, not a mention */
		}
		s->fi++;
		return advance(c, s);
	}
	case OP_GET_PARENT:
	case OP_GET_ROOT: {
		if (!ok) {
			if (r->status == 400 || r->status == 404) {
				c->error = arena_printf(c->a, "the post this replies to is not on Bluesky (%s): %s",
							s->op == OP_GET_PARENT ? s->parent_uri : s->root_uri,
							xrpc_error(c, r, NULL));
				return PUB_FAILED;
			}
			return fail(c, r, "getRecord");
		}
		json_t *j = json_loadb(r->body, r->body_len, 0, NULL);
		const char *cid = json_string_value(json_object_get(j, "cid"));
		const char *uri = json_string_value(json_object_get(j, "uri"));
		if (!cid) {
			json_decref(j);
			c->error = "Bluesky's getRecord answer has no cid";
			return PUB_RETRY;
		}
		if (s->op == OP_GET_PARENT) {
			s->parent_cid = arena_strdup(c->a, cid);
			if (uri)
				s->parent_uri = arena_strdup(c->a, uri);
		} else {
			s->root_cid = arena_strdup(c->a, cid);
			if (uri)
				s->root_uri = arena_strdup(c->a, uri);
		}
		json_decref(j);
		return advance(c, s);
	}
	case OP_MEDIA_GET: {
		struct media *m = &s->m[s->mi];
		if (!ok) {
			c->error = arena_printf(c->a, "cannot fetch media %s: HTTP %ld", log_url(c->a, m->url),
						r->status);
			return r->status == 429 || r->status >= 500 ? PUB_RETRY : PUB_FAILED;
		}
		m->mime = sniff_mime((const unsigned char *)r->body, r->body_len);
		if (s->maybe_video && m->mime && !strncmp(m->mime, "video/", 6))
			s->video = 1; /* the bytes say what the name did not */
		if (s->video && m->mime && strcmp(m->mime, "video/mp4")) {
			c->error = arena_printf(c->a,
						"media %s is %s; Bluesky's video embed takes MP4 only "
						"(app.bsky.embed.video accepts video/mp4)",
						log_url(c->a, m->url), m->mime);
			return PUB_FAILED;
		}
		if (!m->mime || (s->video ? strncmp(m->mime, "video/", 6) : strncmp(m->mime, "image/", 6))) {
			c->error = arena_printf(c->a, "media %s is not a %s herald can send to Bluesky",
						log_url(c->a, m->url), s->video ? "video (mp4)" : "PNG, JPEG, GIF or WebP image");
			return PUB_FAILED;
		}
		unsigned char *b = arena_alloc(c->a, r->body_len + 1);
		memcpy(b, r->body, r->body_len);
		m->bytes = b;
		m->len = r->body_len;
		if (!s->video && image_size(b, m->len, &m->w, &m->h))
			m->w = m->h = 0;
		if (s->video) {
			int64_t dur;
			int vw = 0, vh = 0;
			/* the first video track's size, when the moov is readable */
			if (mp4_probe_mem(b, m->len, &dur, &vw, &vh) == 0 && vw > 0 && vh > 0) {
				m->w = (unsigned)vw;
				m->h = (unsigned)vh;
			}
		}
		return start(c, s, OP_MEDIA_UP);
	}
	case OP_MEDIA_UP:
	case OP_THUMB_UP: {
		if (auth_problem(c, r))
			return reauth(c, s, r);
		if (!ok) {
			if (s->op == OP_THUMB_UP && r->status != 429 && r->status < 500) {
				s->card = CARD_READY; /* a card without its picture */
				return advance(c, s);
			}
			return fail(c, r, "uploadBlob");
		}
		json_t *j = json_loadb(r->body, r->body_len, 0, NULL);
		json_t *blob = json_object_get(j, "blob");
		if (!json_is_object(blob)) {
			json_decref(j);
			c->error = arena_printf(c->a, "Bluesky's uploadBlob answer has no blob: %.200s", r->body);
			return PUB_RETRY;
		}
		json_incref(blob);
		json_decref(j);
		arena_defer(c->a, free_json, blob);
		if (s->op == OP_MEDIA_UP) {
			s->m[s->mi].blob = blob;
			s->mi++;
		} else {
			s->thumb_blob = blob;
			s->card = CARD_READY;
		}
		return advance(c, s);
	}
	case OP_CARD_GET: {
		/* a card is a nicety: nothing here may fail the post.  (A transport
		 * failure only reaches this point once the engine hands optional
		 * requests' failures to the provider: see the file comment.) */
		if (r->curl_code) {
			/* an answer cut at max_response still has the <head> */
			if (r->status >= 200 && r->status < 300 && r->body_len)
				read_card(c, s, r->body, r->body_len);
			else
				s->card = CARD_OFF;
			return advance(c, s);
		}
		char loc[2048];
		if (r->status >= 300 && r->status < 400 && s->redirects < MAX_REDIRECTS &&
		    !hresp_header(r, "Location", loc, sizeof(loc))) {
			const char *u = url_resolve(c->a, s->card_page, loc);
			s->redirects++;
			if (u && fetch_allowed(u)) {
				s->card_page = u;
				return start(c, s, OP_CARD_GET);
			}
		}
		char ct[128] = "";
		hresp_header(r, "Content-Type", ct, sizeof(ct));
		if (!ok || (ct[0] && !strcasestr(ct, "html"))) {
			s->card = CARD_OFF;
			return advance(c, s);
		}
		read_card(c, s, r->body, r->body_len);
		return advance(c, s);
	}
	case OP_THUMB_GET: {
		const char *mime = ok && !r->curl_code
					   ? sniff_mime((const unsigned char *)r->body, r->body_len)
					   : NULL;
		if (!mime || strncmp(mime, "image/", 6) || r->body_len > CARD_THUMB_MAX) {
			s->card = CARD_READY; /* the card without a picture */
			return advance(c, s);
		}
		unsigned char *b = arena_alloc(c->a, r->body_len + 1);
		memcpy(b, r->body, r->body_len);
		s->thumb = b;
		s->thumb_len = r->body_len;
		s->thumb_mime = mime;
		s->card = CARD_UPLOAD;
		return advance(c, s);
	}
	case OP_CREATE:
		if (auth_problem(c, r))
			return reauth(c, s, r);
		return on_create(c, s, r);
	case OP_READBACK:
		return on_readback(c, s, r);
	case OP_PROFILE: {
		if (auth_problem(c, r))
			return reauth(c, s, r);
		if (!ok)
			return fail(c, r, "getProfile");
		json_t *j = json_loadb(r->body, r->body_len, 0, NULL);
		if (!json_is_object(j)) {
			json_decref(j);
			c->error = "Bluesky answered getProfile with something that is not an object";
			return PUB_RETRY;
		}
		json_t *out = json_object();
		static const char *const keep[] = {"did", "handle", "displayName", "description",
						   "avatar", "followersCount", "followsCount",
						   "postsCount", NULL};
		for (int k = 0; keep[k]; k++) {
			json_t *v = json_object_get(j, keep[k]);
			if (v)
				json_object_set(out, keep[k], v);
		}
		json_decref(j);
		arena_defer(c->a, free_json, out);
		c->output = out;
		return PUB_OK;
	}
	case OP_DELETE:
		if (auth_problem(c, r))
			return reauth(c, s, r);
		/* deleteRecord is "delete or ensure it does not exist": 200 also
		 * when an earlier attempt removed it */
		if (ok)
			return PUB_OK;
		return fail(c, r, "deleteRecord");
	case OP_NONE:
	default:
		break;
	}
	c->error = "internal error: answer to an unknown step";
	return PUB_FAILED;
}

/* The state of a call that begins with a session (delete, tools, verify,
 * metrics): the PDS is the test base URL, else the channel's service,
 * else bsky.social, without trailing slashes. */
static struct bs *bs_begin(struct pub_ctx *c)
{
	struct bs *s = arena_alloc(c->a, sizeof(*s));
	c->state = s;
	const char *svc = c->base_url && *c->base_url ? c->base_url : cred_str(c, "service");
	char *pds = arena_strdup(c->a, svc ? svc : DEFAULT_SERVICE);
	size_t l = strlen(pds);
	while (l > 8 && pds[l - 1] == '/')
		pds[--l] = 0;
	s->pds = pds;
	return s;
}

/* Unpublish: com.atproto.repo.deleteRecord of the item's at:// URI (its
 * repo, collection and record key), with the cached session like publish
 * (createSession / refreshSession when it is missing or refused). */
static enum pub_status bsky_unpublish(struct pub_ctx *c, const struct hresp *r)
{
	if (r)
		return bsky_publish(c, r);
	struct bs *s = bs_begin(c);
	if (!cred_str(c, "identifier") || !cred_str(c, "password")) {
		c->error = "the channel has no identifier or app password; reconnect it";
		return PUB_AUTH_EXPIRED;
	}
	if (parse_at_uri(c->a, c->release_id, &s->del_repo, &s->del_coll, &s->del_rkey)) {
		c->error = arena_printf(c->a, "the post's release id is not an at:// URI (%s)",
					c->release_id ? c->release_id : "none");
		return PUB_FAILED;
	}
	return advance(c, s);
}

/* Tool "profile": app.bsky.actor.getProfile of the connected account (the
 * PDS hands it to its AppView), on the cached session like publish. */
static enum pub_status bsky_tool_profile(struct pub_ctx *c, const struct hresp *r)
{
	if (r)
		return bsky_publish(c, r);
	struct bs *s = bs_begin(c);
	if (!cred_str(c, "identifier") || !cred_str(c, "password")) {
		c->error = "the channel has no identifier or app password; reconnect it";
		return PUB_AUTH_EXPIRED;
	}
	s->profile = 1;
	return advance(c, s);
}

/* Verify: a fresh com.atproto.server.createSession with the identifier
 * and app password (a cached session would prove nothing about them).
 * The session is kept in the credentials like publish keeps it, so the
 * first publish reuses it instead of logging in again. */
static enum pub_status bsky_verify(struct pub_ctx *c, const struct hresp *r)
{
	if (!r) {
		struct bs *s = bs_begin(c);
		if (!cred_str(c, "identifier") || !cred_str(c, "password")) {
			c->error = "the channel has no identifier or app password";
			c->error_field = cred_str(c, "identifier") ? "credentials.password"
								   : "credentials.identifier";
			return PUB_FAILED;
		}
		return start(c, s, OP_SESSION);
	}
	if (r->status >= 200 && r->status < 300) {
		if (session_store(c, r))
			return PUB_RETRY;
		json_t *j = json_loadb(r->body, r->body_len, 0, NULL);
		json_t *out = json_object();
		arena_defer(c->a, free_json, out);
		const char *handle = json_string_value(json_object_get(j, "handle"));
		const char *did = json_string_value(json_object_get(j, "did"));
		if (handle && strcmp(handle, "handle.invalid"))
			json_object_set_new(out, "profile", json_string(arena_printf(c->a, "@%s", handle)));
		json_object_set_new(out, "handle", json_string(handle ? handle : ""));
		json_object_set_new(out, "did", json_string(did ? did : ""));
		json_object_set_new(out, "service", json_string(((struct bs *)c->state)->pds));
		json_t *email = json_object_get(j, "email");
		if (json_is_string(email))
			json_object_set(out, "email", email);
		json_t *active = json_object_get(j, "active");
		if (json_is_boolean(active))
			json_object_set(out, "active", active);
		json_decref(j);
		c->output = out;
		return PUB_OK;
	}
	if (r->status == 429 || r->status >= 500)
		return fail(c, r, "createSession");
	/* 401 AuthenticationRequired "Invalid identifier or password", 400
	 * InvalidRequest, AccountTakedown...: the login is refused */
	c->error = arena_printf(c->a, "Bluesky refused the login for %s: %s", cred_str(c, "identifier"),
				xrpc_error(c, r, NULL));
	c->error_field = "credentials.password";
	json_object_del(c->credentials, "accessJwt");
	json_object_del(c->credentials, "refreshJwt");
	return PUB_FAILED;
}

/* Metrics: app.bsky.feed.getPosts?uris=<at:// URI> on the cached session
 * (the PDS proxies app.bsky.* to its AppView) -> likeCount, repostCount,
 * replyCount, quoteCount.  An empty posts[] means the AppView does not have
 * the post (deleted, or not indexed yet): that sample is given up. */
static enum pub_status metrics_request(struct pub_ctx *c, struct bs *s)
{
	send_get(c,
		 arena_printf(c->a, "%s?uris=%s", xrpc(c, s, "app.bsky.feed.getPosts"),
			      url_encode(c->a, c->release_id)),
		 0, 20000);
	c->req.headers[0] = arena_printf(c->a, "Authorization: Bearer %s", cred_str(c, "accessJwt"));
	c->req.headers[1] = "Accept: application/json";
	c->req.headers[2] = NULL;
	return PUB_SEND;
}

static enum pub_status bsky_metrics(struct pub_ctx *c, const struct hresp *r)
{
	if (!r) {
		struct bs *s = bs_begin(c);
		if (!cred_str(c, "identifier") || !cred_str(c, "password")) {
			c->error = "the channel has no identifier or app password; reconnect it";
			return PUB_AUTH_EXPIRED;
		}
		const char *repo, *coll, *rkey;
		if (!c->release_id || parse_at_uri(c->a, c->release_id, &repo, &coll, &rkey)) {
			c->error = arena_printf(c->a, "the post's release id is not an at:// URI (%s)",
						c->release_id ? c->release_id : "none");
			return PUB_FAILED;
		}
		s->metrics = 1;
		return advance(c, s);
	}
	struct bs *s = c->state;
	if (s->op != OP_METRICS)
		return bsky_publish(c, r); /* the session steps */
	if (auth_problem(c, r))
		return reauth(c, s, r);
	if (r->status < 200 || r->status >= 300)
		return fail(c, r, "getPosts");
	json_t *j = json_loadb(r->body, r->body_len, 0, NULL);
	json_t *posts = json_object_get(j, "posts");
	if (!json_is_array(posts)) {
		json_decref(j);
		c->error = arena_printf(c->a, "Bluesky answered getPosts without posts: %.200s",
					r->body_len ? r->body : "(empty body)");
		return PUB_RETRY;
	}
	json_t *p = NULL;
	size_t i;
	json_t *it;
	json_array_foreach(posts, i, it)
	{
		const char *uri = json_string_value(json_object_get(it, "uri"));
		if (uri && !strcmp(uri, c->release_id))
			p = it;
	}
	if (!p) {
		json_decref(j);
		c->error = arena_printf(c->a, "Bluesky's AppView does not have %s (deleted, or not "
					      "indexed yet)", c->release_id);
		return PUB_FAILED;
	}
	static const struct {
		const char *wire, *name;
	} map[] = {{"likeCount", METRIC_LIKES},
		   {"repostCount", METRIC_REPOSTS},
		   {"replyCount", METRIC_REPLIES},
		   {"quoteCount", METRIC_QUOTES}};
	json_t *out = json_object();
	arena_defer(c->a, free_json, out);
	for (size_t k = 0; k < sizeof(map) / sizeof(map[0]); k++) {
		json_t *v = json_object_get(p, map[k].wire);
		/* the lexicon makes the counts optional: absent is zero */
		json_int_t n = json_is_integer(v) ? json_integer_value(v) : 0;
		json_object_set_new(out, map[k].name, json_integer(n < 0 ? 0 : n));
	}
	json_decref(j);
	c->output = out;
	return PUB_OK;
}

static const struct provider_tool bsky_tools[] = {
	{"profile", "the connected account's profile (handle, display name, counts)", "[]",
	 bsky_tool_profile},
	{NULL, NULL, NULL, NULL},
};

const struct provider provider_bluesky = {
	.api_version = "AT Protocol XRPC: com.atproto.repo, app.bsky.feed.post lexicon",
	.api_sunset = NULL,
	.identifier = "bluesky",
	.name = "Bluesky",
	.flags = PROV_THREADS | PROV_IMAGES | PROV_VIDEO | PROV_DELETE | PROV_IDEMPOTENT |
		 PROV_CREDENTIALS | PROV_METRICS,
	.max_length = 300,
	.editor = "normal",
	.rules = "Up to 300 characters (grapheme clusters). Up to 4 images (alt text supported), or "
		 "one video alone. Links, @handle mentions and #hashtags become rich-text facets; "
		 "the first link gets a preview card when the post has no media. Thread items "
		 "publish as replies.",
	.credentials = fields,
	.settings_schema = "{\"type\":\"object\",\"properties\":{"
			   "\"link_card\":{\"type\":\"boolean\",\"default\":true,"
			   "\"description\":\"show a preview card for the first link\"},"
			   "\"langs\":{\"type\":\"array\",\"items\":{\"type\":\"string\"},\"maxItems\":3,"
			   "\"description\":\"BCP-47 language tags of the text\"}}}",
	.connect = bsky_connect,
	.publish = bsky_publish,
	.unpublish = bsky_unpublish,
	.tools = bsky_tools,
	.refresh = NULL,
	.min_interval_ms = 0,
	.verify = bsky_verify,
	.metrics = bsky_metrics,
};

json_t *bsky_facets_json(struct arena *a, const char *content, char **text_out)
{
	struct bsky_span *sp;
	size_t nsp, nf;
	char *text = bsky_html_text(a, content, 0, &sp, &nsp);
	struct facet *f = detect_facets(a, text, sp, nsp, &nf);
	json_t *out = json_array();
	static const char *const kinds[] = {"", "link", "mention", "tag"};
	for (size_t i = 0; i < nf; i++)
		json_array_append_new(out, json_pack("{s:I,s:I,s:s,s:s}", "start",
						     (json_int_t)f[i].start, "end", (json_int_t)f[i].end,
						     "kind", kinds[f[i].kind], "value",
						     f[i].value ? f[i].value : ""));
	if (text_out)
		*text_out = text;
	return out;
}
