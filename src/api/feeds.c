/*
 * feeds: the public Atom and RSS 2.0 feeds of `rss` channels.  No API key:
 * a feed is meant to be read by anyone who has its URL (channel ids carry
 * 80 random bits).  Conditional GET (ETag / If-None-Match) lets feed
 * readers poll cheaply.
 */
#include "api.h"
#include "../core/arena.h"
#include "../core/buf.h"
#include "../core/config.h"
#include "../core/crypto.h"
#include "../core/timeutil.h"
#include "../providers/util.h"
#include "../store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FEED_ITEMS 50
#define FEED_MAX (8u << 20)

static int esc(struct buf *b, const char *s)
{
	for (; s && *s; s++) {
		int rc;
		switch (*s) {
		case '<': rc = buf_adds(b, "&lt;"); break;
		case '>': rc = buf_adds(b, "&gt;"); break;
		case '&': rc = buf_adds(b, "&amp;"); break;
		case '"': rc = buf_adds(b, "&quot;"); break;
		default:
			/* XML 1.0 forbids most C0 controls even escaped */
			if ((unsigned char)*s < 0x20 && *s != '\n' && *s != '\t' && *s != '\r')
				continue;
			rc = buf_add(b, s, 1);
		}
		if (rc)
			return -1;
	}
	return 0;
}

static void rfc822(int64_t ms, char out[64])
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 64, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

/* Plain text as HTML: escaped, one paragraph, line breaks kept. */
static int text_html(struct buf *out, const char *s)
{
	if (buf_adds(out, "<p>"))
		return -1;
	for (const char *p = s; *p; p++) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		char *line = strndup(p, n);
		int rc = !line || esc(out, line) || (nl && buf_adds(out, "<br/>"));
		free(line);
		if (rc)
			return -1;
		if (!nl)
			break;
		p = nl;
	}
	return buf_adds(out, "</p>");
}

/* The entry's HTML: every published item of the thread, in order. */
static int entry_html(struct call *c, const struct store_post *root, struct buf *out)
{
	struct store_post *v;
	size_t n;
	if (store_engine_thread(c->st, c->a, root->id, &v, &n))
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!v[i].published_at)
			continue;
		/* Postiz sends HTML; the native API plain text, which is shown
		 * as text (the same test the providers make: pv_has_tags) */
		if (pv_has_tags(v[i].content) ? buf_adds(out, v[i].content) : text_html(out, v[i].content))
			return -1;
		json_t *media = json_loads(v[i].media, 0, NULL);
		size_t k;
		json_t *m;
		json_array_foreach(media, k, m) {
			const char *p = json_string_value(json_object_get(m, "path"));
			const char *alt = json_string_value(json_object_get(m, "alt"));
			if (!p)
				continue;
			if (buf_adds(out, "<p><img src=\"") || esc(out, p) || buf_adds(out, "\" alt=\"") ||
			    esc(out, alt ? alt : "") || buf_adds(out, "\"/></p>")) {
				json_decref(media);
				return -1;
			}
		}
		json_decref(media);
	}
	return 0;
}

static void feed(struct call *c, int atom)
{
	struct store_channel *ch;
	int rc = store_feed_channel(c->st, c->a, c->params[0], &ch);
	if (rc || strcmp(ch->provider, "rss")) {
		if (rc && rc != STORE_NOTFOUND)
			api_fail_storage(c);
		else
			api_fail(c, HERR_NOT_FOUND, "id", "no feed %s", c->params[0]);
		return;
	}
	struct store_post *v;
	size_t n;
	if (store_feed_posts(c->st, c->a, ch->id, FEED_ITEMS, &v, &n)) {
		api_fail_storage(c);
		return;
	}
	int64_t updated = n ? v[0].published_at : ch->created_at;
	char etag[64];
	snprintf(etag, sizeof(etag), "\"%lld-%zu-%d\"", (long long)updated, n, atom);
	const char *inm = http_header(c->r, "If-None-Match");
	http_add_header(c->r, "ETag", etag);
	http_add_header(c->r, "Cache-Control", "public, max-age=60");
	if (inm && !strcmp(inm, etag)) {
		c->replied = 1;
		http_reply(c->r, 304, NULL, NULL, 0);
		return;
	}
	/* the feed's presentation lives in the channel's credentials (sealed
	 * like every channel's, though nothing in them is secret) */
	const char *title = ch->name, *desc = "";
	const char *base = c->app->cfg->public_url;
	const char *self = arena_printf(c->a, "%s/feeds/%s/%s", base, ch->id, atom ? "atom.xml" : "rss.xml");
	const char *link = self;
	json_t *cred = secret_open_json(ch->credentials);
	if (json_is_string(json_object_get(cred, "title")))
		title = arena_strdup(c->a, json_string_value(json_object_get(cred, "title")));
	if (json_is_string(json_object_get(cred, "description")))
		desc = arena_strdup(c->a, json_string_value(json_object_get(cred, "description")));
	if (json_is_string(json_object_get(cred, "link")))
		link = arena_strdup(c->a, json_string_value(json_object_get(cred, "link")));
	json_decref(cred);
	struct buf b;
	buf_init(&b, FEED_MAX);
	char ts[64];
	int bad = 0;
	if (atom) {
		iso_format(updated, ts);
		bad |= buf_adds(&b, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
				    "<feed xmlns=\"http://www.w3.org/2005/Atom\">\n<title>") ||
		       esc(&b, title) || buf_adds(&b, "</title>\n<subtitle>") || esc(&b, desc) ||
		       buf_printf(&b, "</subtitle>\n<id>urn:herald:feed:%s</id>\n<updated>%s</updated>\n",
				  ch->id, ts) ||
		       buf_adds(&b, "<link rel=\"self\" href=\"") || esc(&b, self) || buf_adds(&b, "\"/>\n") ||
		       buf_adds(&b, "<link rel=\"alternate\" href=\"") || esc(&b, link) ||
		       buf_adds(&b, "\"/>\n<author><name>") || esc(&b, title) ||
		       buf_adds(&b, "</name></author>\n");
		for (size_t i = 0; i < n && !bad; i++) {
			struct buf h;
			buf_init(&h, FEED_MAX);
			iso_format(v[i].published_at, ts);
			bad |= entry_html(c, &v[i], &h) ||
			       buf_printf(&b, "<entry>\n<id>urn:herald:post:%s</id>\n<title type=\"html\">", v[i].id);
			/* a title is required: the first line of text, tags stripped */
			char t[121];
			size_t k = 0;
			int in_tag = 0, html = pv_has_tags(v[i].content);
			for (const char *p = v[i].content; *p && k < sizeof(t) - 1; p++) {
				if (!html) {
					if (*p == '\n')
						break;
					t[k++] = *p;
					continue;
				}
				if (*p == '<')
					in_tag = 1;
				else if (*p == '>')
					in_tag = 0;
				else if (!in_tag && *p != '\n')
					t[k++] = *p;
				if (in_tag && k && (!strncmp(p, "</p>", 4) || !strncmp(p, "<br", 3)))
					break;
			}
			while (k && ((unsigned char)t[k - 1] & 0xc0) == 0x80)
				k--; /* never cut a UTF-8 sequence in half */
			if (k && ((unsigned char)t[k - 1] & 0xc0) == 0xc0)
				k--;
			t[k] = 0;
			bad |= esc(&b, t) ||
			       buf_printf(&b, "</title>\n<updated>%s</updated>\n<published>%s</published>\n", ts, ts) ||
			       buf_adds(&b, "<content type=\"html\">") || esc(&b, h.data ? h.data : "") ||
			       buf_adds(&b, "</content>\n</entry>\n");
			buf_release(&h);
		}
		bad |= buf_adds(&b, "</feed>\n");
	} else {
		rfc822(updated, ts);
		bad |= buf_adds(&b, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
				    "<rss version=\"2.0\">\n<channel>\n<title>") ||
		       esc(&b, title) || buf_adds(&b, "</title>\n<link>") || esc(&b, link) ||
		       buf_adds(&b, "</link>\n<description>") || esc(&b, desc) ||
		       buf_printf(&b, "</description>\n<lastBuildDate>%s</lastBuildDate>\n", ts);
		for (size_t i = 0; i < n && !bad; i++) {
			struct buf h;
			buf_init(&h, FEED_MAX);
			rfc822(v[i].published_at, ts);
			bad |= entry_html(c, &v[i], &h) ||
			       buf_printf(&b, "<item>\n<guid isPermaLink=\"false\">urn:herald:post:%s</guid>\n"
					      "<pubDate>%s</pubDate>\n<description>",
					  v[i].id, ts) ||
			       esc(&b, h.data ? h.data : "") || buf_adds(&b, "</description>\n</item>\n");
			buf_release(&h);
		}
		bad |= buf_adds(&b, "</channel>\n</rss>\n");
	}
	if (bad) {
		buf_release(&b);
		api_fail(c, HERR_INTERNAL, NULL, "the feed is larger than %u bytes", FEED_MAX);
		return;
	}
	c->replied = 1;
	http_reply(c->r, 200, atom ? "application/atom+xml; charset=utf-8" : "application/rss+xml; charset=utf-8",
		   b.data, b.len);
	buf_release(&b);
}

void h_feed_atom(void *p)
{
	feed(p, 1);
}

void h_feed_rss(void *p)
{
	feed(p, 0);
}
