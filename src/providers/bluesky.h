/*
 * bluesky.h: what bluesky.c shares beyond its provider row: the text and
 * rich-text facet extraction, for the Mastodon provider (text only), the
 * unit tests and the fuzz target.
 */
#ifndef HERALD_BLUESKY_H
#define HERALD_BLUESKY_H

#include <jansson.h>
#include <stddef.h>

struct arena;
struct bsky_span;

/* Postiz HTML (or plain text) -> the plain text of a post. */
char *bsky_html_text(struct arena *a, const char *in, int inline_links, struct bsky_span **spans,
		     size_t *nspans);

/* The facets the publish step would compute for `content` (HTML or text)
 * before resolving mentions: [{start, end, kind: "link"|"mention"|"tag",
 * value}] with UTF-8 byte offsets into *text_out. */
json_t *bsky_facets_json(struct arena *a, const char *content, char **text_out);

#endif
