/*
 * util: helpers shared by the providers that talk JSON and multipart over
 * HTTP (telegram, discord, slack): a heap string builder, Postiz-HTML
 * tokenizing and entity decoding, UTF-16 length, media sniffing and file
 * names.  Pure functions of their inputs; nothing here touches the network.
 */
#ifndef HERALD_PROVIDERS_UTIL_H
#define HERALD_PROVIDERS_UTIL_H

#include <stddef.h>

struct arena;

struct sb {
	char *p;
	size_t len, cap;
};

void pv_sb_put(struct sb *b, const void *s, size_t n);

void pv_sb_puts(struct sb *b, const char *s);

char *pv_sb_done(struct sb *b, struct arena *a);

void pv_free_json(void *p);

/* UTF-16 units of UTF-8 text (what Telegram's limits count). */
size_t pv_u16len(const char *s, size_t n);

struct tag {
	char name[16];
	int close;
	const char *attrs;
	size_t attrs_len;
};

/* s[0] == '<'.  Returns the end of the tag (after '>') and fills t, or NULL
 * when this '<' does not start a tag (it is then text).  Comments come back
 * with name "!". */
const char *pv_parse_tag(const char *s, struct tag *t);

void pv_put_utf8(struct sb *b, unsigned long cp);

/* Append s[0..n) to b with HTML entities decoded. */
void pv_decode_entities(struct sb *b, const char *s, size_t n);

/* Value of attribute `name` in a tag, entities decoded; NULL when absent. */
char *pv_attr_get(struct arena *a, const struct tag *t, const char *name);

/* Whether content is HTML: it holds at least one tag the Postiz editor
 * writes.  "a <b> c" is HTML, "x <y> z" or "1 < 2" is plain text. */
int pv_has_tags(const char *s);

const char *pv_sniff(const unsigned char *p, size_t n);

const char *pv_ext_of(const char *mime);

/* A safe file name from the URL's last path segment. */
const char *pv_file_name(struct arena *a, const char *url, const char *mime, size_t idx);

const char *pv_strip_query(struct arena *a, const char *url);

#endif
