/* util: see util.h. */
#include "util.h"
#include "../core/arena.h"

#include <ctype.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

void pv_sb_put(struct sb *b, const void *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n + 1)
			cap *= 2;
		b->p = xrealloc(b->p, cap);
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = 0;
}

void pv_sb_puts(struct sb *b, const char *s)
{
	pv_sb_put(b, s, strlen(s));
}

char *pv_sb_done(struct sb *b, struct arena *a)
{
	char *r = arena_alloc(a, b->len + 1);
	if (b->len)
		memcpy(r, b->p, b->len);
	r[b->len] = 0;
	free(b->p);
	memset(b, 0, sizeof(*b));
	return r;
}

void pv_free_json(void *p)
{
	json_decref(p);
}

/* UTF-16 units of UTF-8 text (what Telegram's limits count). */
size_t pv_u16len(const char *s, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if ((ch & 0xc0) == 0x80)
			continue;
		k += ch >= 0xf0 ? 2 : 1;
	}
	return k;
}

/* s[0] == '<'.  Returns the end of the tag (after '>') and fills t, or NULL
 * when this '<' does not start a tag (it is then text).  Comments come back
 * with name "!". */
const char *pv_parse_tag(const char *s, struct tag *t)
{
	memset(t, 0, sizeof(*t));
	if (!strncmp(s, "<!--", 4)) {
		const char *e = strstr(s + 4, "-->");
		strcpy(t->name, "!");
		return e ? e + 3 : s + strlen(s);
	}
	const char *p = s + 1;
	if (*p == '/') {
		t->close = 1;
		p++;
	}
	if (!isalpha((unsigned char)*p))
		return NULL;
	size_t n = 0;
	while (isalnum((unsigned char)*p) || *p == '-') {
		if (n + 1 < sizeof(t->name))
			t->name[n++] = (char)tolower((unsigned char)*p);
		p++;
	}
	t->name[n] = 0;
	t->attrs = p;
	char q = 0;
	for (; *p; p++) {
		if (q) {
			if (*p == q)
				q = 0;
		} else if (*p == '"' || *p == '\'') {
			q = *p;
		} else if (*p == '>') {
			t->attrs_len = (size_t)(p - t->attrs);
			return p + 1;
		}
	}
	return NULL;
}

void pv_put_utf8(struct sb *b, unsigned long cp)
{
	char o[4];
	size_t n;
	if (cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		cp = 0xfffd;
	if (cp < 0x80) {
		o[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		o[0] = (char)(0xc0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		o[0] = (char)(0xe0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		o[0] = (char)(0xf0 | (cp >> 18));
		o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	pv_sb_put(b, o, n);
}

/* Append s[0..n) to b with HTML entities decoded. */
void pv_decode_entities(struct sb *b, const char *s, size_t n)
{
	static const struct {
		const char *name;
		unsigned long cp;
	} ents[] = {{"amp", '&'},   {"lt", '<'},      {"gt", '>'},      {"quot", '"'},
		    {"apos", '\''}, {"nbsp", 0xa0},   {"ndash", 0x2013}, {"mdash", 0x2014},
		    {"hellip", 0x2026}, {"laquo", 0xab}, {"raquo", 0xbb}, {"copy", 0xa9}};
	size_t i = 0;
	while (i < n) {
		if (s[i] != '&') {
			size_t j = i;
			while (j < n && s[j] != '&')
				j++;
			pv_sb_put(b, s + i, j - i);
			i = j;
			continue;
		}
		size_t j = i + 1;
		while (j < n && j - i < 12 && s[j] != ';' && s[j] != '&' && !isspace((unsigned char)s[j]))
			j++;
		if (j < n && s[j] == ';' && j > i + 1) {
			const char *e = s + i + 1;
			size_t el = j - i - 1;
			if (e[0] == '#') {
				char *end;
				unsigned long cp = (el > 1 && (e[1] == 'x' || e[1] == 'X'))
							   ? strtoul(e + 2, &end, 16)
							   : strtoul(e + 1, &end, 10);
				if (end == s + j && el > 1) {
					pv_put_utf8(b, cp);
					i = j + 1;
					continue;
				}
			} else {
				size_t k;
				for (k = 0; k < sizeof(ents) / sizeof(ents[0]); k++)
					if (strlen(ents[k].name) == el && !strncmp(ents[k].name, e, el))
						break;
				if (k < sizeof(ents) / sizeof(ents[0])) {
					pv_put_utf8(b, ents[k].cp);
					i = j + 1;
					continue;
				}
			}
		}
		pv_sb_put(b, "&", 1);
		i++;
	}
}

/* Value of attribute `name` in a tag, entities decoded; NULL when absent. */
char *pv_attr_get(struct arena *a, const struct tag *t, const char *name)
{
	size_t nl = strlen(name);
	const char *p = t->attrs, *end = t->attrs + t->attrs_len;
	while (p < end) {
		while (p < end && (isspace((unsigned char)*p) || *p == '/'))
			p++;
		const char *ks = p;
		while (p < end && !isspace((unsigned char)*p) && *p != '=' && *p != '/')
			p++;
		size_t kl = (size_t)(p - ks);
		while (p < end && isspace((unsigned char)*p))
			p++;
		const char *vs = NULL;
		size_t vl = 0;
		if (p < end && *p == '=') {
			p++;
			while (p < end && isspace((unsigned char)*p))
				p++;
			if (p < end && (*p == '"' || *p == '\'')) {
				char q = *p++;
				vs = p;
				while (p < end && *p != q)
					p++;
				vl = (size_t)(p - vs);
				if (p < end)
					p++;
			} else {
				vs = p;
				while (p < end && !isspace((unsigned char)*p))
					p++;
				vl = (size_t)(p - vs);
			}
		}
		if (kl == nl && !strncasecmp(ks, name, nl)) {
			struct sb v = {0};
			if (vs)
				pv_decode_entities(&v, vs, vl);
			return pv_sb_done(&v, a);
		}
		if (kl == 0 && p < end)
			p++;
	}
	return NULL;
}

/* Whether content is HTML: it holds at least one tag the Postiz editor
 * writes.  "a <b> c" is HTML, "x <y> z" or "1 < 2" is plain text. */
int pv_has_tags(const char *s)
{
	static const char *const known[] = {"p",  "br", "div", "span", "strong", "b",  "em",
					    "i",  "u",  "s",   "strike", "del",  "ins", "a",
					    "ul", "ol", "li",  "h1",   "h2",     "h3",  "h4",
					    "h5", "h6", "blockquote", "pre", "code", "hr",  "img"};
	for (const char *p = strchr(s, '<'); p; p = strchr(p + 1, '<')) {
		struct tag t;
		if (!pv_parse_tag(p, &t))
			continue;
		for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
			if (!strcmp(t.name, known[i]))
				return 1;
	}
	return 0;
}

const char *pv_sniff(const unsigned char *p, size_t n)
{
	if (n >= 8 && !memcmp(p, "\x89PNG\r\n\x1a\n", 8))
		return "image/png";
	if (n >= 3 && p[0] == 0xff && p[1] == 0xd8 && p[2] == 0xff)
		return "image/jpeg";
	if (n >= 6 && (!memcmp(p, "GIF87a", 6) || !memcmp(p, "GIF89a", 6)))
		return "image/gif";
	if (n >= 12 && !memcmp(p, "RIFF", 4) && !memcmp(p + 8, "WEBP", 4))
		return "image/webp";
	if (n >= 12 && !memcmp(p + 4, "ftyp", 4))
		return !memcmp(p + 8, "qt  ", 4) ? "video/quicktime" : "video/mp4";
	if (n >= 4 && !memcmp(p, "\x1a\x45\xdf\xa3", 4))
		return "video/webm";
	if (n >= 5 && !memcmp(p, "%PDF-", 5))
		return "application/pdf";
	return "application/octet-stream";
}

const char *pv_ext_of(const char *mime)
{
	static const char *const m[][2] = {
		{"image/png", "png"},   {"image/jpeg", "jpg"},      {"image/gif", "gif"},
		{"image/webp", "webp"}, {"video/mp4", "mp4"},       {"video/quicktime", "mov"},
		{"video/webm", "webm"}, {"application/pdf", "pdf"},
	};
	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++)
		if (!strcmp(m[i][0], mime))
			return m[i][1];
	return "bin";
}

/* A safe file name from the URL's last path segment. */
const char *pv_file_name(struct arena *a, const char *url, const char *mime, size_t idx)
{
	const char *s = url, *q = url + strcspn(url, "?#");
	for (const char *p = url; p < q; p++)
		if (*p == '/')
			s = p + 1;
	size_t n = (size_t)(q - s);
	if (n > 100)
		n = 100;
	char *name = arena_strndup(a, s, n);
	int dot = 0;
	for (char *p = name; *p; p++) {
		if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-' && *p != '_')
			*p = '_';
		if (*p == '.')
			dot = 1;
	}
	if (!*name || name[0] == '.')
		return arena_printf(a, "file%zu.%s", idx + 1, pv_ext_of(mime));
	if (!dot)
		return arena_printf(a, "%s.%s", name, pv_ext_of(mime));
	return name;
}

const char *pv_strip_query(struct arena *a, const char *url)
{
	return arena_strndup(a, url, strcspn(url, "?#"));
}
