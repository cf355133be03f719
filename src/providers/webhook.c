/*
 * webhook: the generic signed-HTTP-POST channel.  Connecting checks the URL
 * and the signing secret; publishing (a POST of the post as JSON, signed per
 * Standard Webhooks with a webhook-id stable across retries) belongs to the
 * delivery engine.
 */
#include "provider.h"
#include "../core/arena.h"

#include <sodium.h>
#include <string.h>
#include <strings.h>

static const struct provider_field fields[] = {
	{"url", "url", 1, "http(s) URL that receives a POST per published post"},
	{"secret", "secret", 0, "Standard Webhooks signing secret (whsec_<base64>); generated when absent"},
	{NULL, NULL, 0, NULL},
};

static int url_ok(const char *u)
{
	const char *rest;
	if (!strncasecmp(u, "http://", 7))
		rest = u + 7;
	else if (!strncasecmp(u, "https://", 8))
		rest = u + 8;
	else
		return 0;
	if (!*rest || *rest == '/' || strlen(u) > 2048)
		return 0;
	for (const char *p = u; *p; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f)
			return 0;
	return 1;
}

static int webhook_connect(struct arena *a, json_t *cred, const char **profile, const char **err)
{
	json_t *u = json_object_get(cred, "url");
	if (!json_is_string(u)) {
		*err = "credentials.url is required and must be a string";
		return -1;
	}
	if (!url_ok(json_string_value(u))) {
		*err = "credentials.url must be an absolute http:// or https:// URL";
		return -1;
	}
	json_t *s = json_object_get(cred, "secret");
	if (s && !json_is_string(s)) {
		*err = "credentials.secret must be a string";
		return -1;
	}
	if (s && strlen(json_string_value(s)) < 16) {
		*err = "credentials.secret must be at least 16 characters";
		return -1;
	}
	if (!s) {
		unsigned char raw[24];
		char b64[64];
		randombytes_buf(raw, sizeof(raw));
		sodium_bin2base64(b64, sizeof(b64), raw, sizeof(raw), sodium_base64_VARIANT_ORIGINAL);
		json_object_set_new(cred, "secret", json_string(arena_printf(a, "whsec_%s", b64)));
	}
	*profile = arena_strdup(a, json_string_value(u));
	return 0;
}

const struct provider provider_webhook = {
	.identifier = "webhook",
	.name = "Webhook",
	.flags = PROV_THREADS | PROV_IMAGES | PROV_VIDEO | PROV_IDEMPOTENT | PROV_CREDENTIALS,
	.max_length = 100000,
	.editor = "none",
	.rules = "Posts are delivered as a signed JSON POST (Standard Webhooks). Any text, any media.",
	.credentials = fields,
	.settings_schema = NULL,
	.connect = webhook_connect,
};
