/*
 * rss: a channel whose posts appear in a feed that herald serves itself,
 * at /feeds/<channel id>/atom.xml and /feeds/<channel id>/rss.xml.
 *
 * Publishing needs no network: the post is "on the platform" once it is
 * recorded as published, which the engine does when publish answers
 * PUB_OK.  That makes it idempotent by construction and usable offline
 * (blogs, testing a pipeline end to end).  The feed itself is rendered by
 * the api layer (src/api/feeds.c) from the published posts.
 */
#include "provider.h"
#include "../core/arena.h"

#include <string.h>

static const struct provider_field fields[] = {
	{"title", "string", 0, "feed title (default: the channel name)"},
	{"description", "string", 0, "feed subtitle"},
	{"link", "url", 0, "site the feed belongs to"},
	{NULL, NULL, 0, NULL},
};

static int rss_connect(struct arena *a, json_t *cred, const char **profile, const char **err)
{
	const char *keys[] = {"title", "description", "link"};
	for (size_t i = 0; i < 3; i++) {
		json_t *v = json_object_get(cred, keys[i]);
		if (v && !json_is_string(v)) {
			*err = arena_printf(a, "credentials.%s must be a string", keys[i]);
			return -1;
		}
		if (v && json_string_length(v) > 1000) {
			*err = arena_printf(a, "credentials.%s is longer than 1000 characters", keys[i]);
			return -1;
		}
	}
	json_t *link = json_object_get(cred, "link");
	if (link && strncmp(json_string_value(link), "http://", 7) &&
	    strncmp(json_string_value(link), "https://", 8)) {
		*err = "credentials.link must be an http(s) URL";
		return -1;
	}
	json_t *t = json_object_get(cred, "title");
	*profile = t ? json_string_value(t) : "feed";
	return 0;
}

static enum pub_status rss_publish(struct pub_ctx *c, const struct hresp *prev)
{
	(void)prev;
	c->release_id = c->item_id;
	c->release_url = arena_printf(c->a, "%s/feeds/%s/atom.xml#%s", c->public_url ? c->public_url : "",
				      c->channel_id, c->root_id);
	return PUB_OK;
}

const struct provider provider_rss = {
	.api_version = "Atom 1.0 (RFC 4287) and RSS 2.0 served by herald",
	.api_sunset = NULL,
	.identifier = "rss",
	.name = "RSS/Atom feed",
	.flags = PROV_THREADS | PROV_IMAGES | PROV_IDEMPOTENT | PROV_CREDENTIALS,
	.max_length = 100000,
	.editor = "html",
	.rules = "Posts appear in an Atom and an RSS 2.0 feed served by herald at "
		 "/feeds/<channel id>/atom.xml and /feeds/<channel id>/rss.xml. Thread items "
		 "become paragraphs of one entry; images become enclosures.",
	.credentials = fields,
	.connect = rss_connect,
	.publish = rss_publish,
};
