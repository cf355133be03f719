/*
 * webhook: the generic signed-HTTP-POST channel.  Connecting checks the URL
 * and the signing secret; publishing (a POST of the post as JSON, signed per
 * Standard Webhooks) is one request per thread item.
 *
 * Idempotence: webhook-id is "msg_<item id>", the same on every retry and
 * after a crash, so a receiver that dedupes by webhook-id (as the Standard
 * Webhooks spec asks) never shows a post twice.  That is what lets the
 * engine retry an ambiguous attempt instead of marking it unconfirmed.
 *
 * Signature: base64(HMAC-SHA256(secret, "<id>.<timestamp>.<body>")) with
 * the secret being the base64 part after "whsec_", sent as "v1,<sig>".
 */
#include "provider.h"
#include "../core/arena.h"
#include "../core/timeutil.h"
#include "../http/client.h"

#include <stdio.h>
#include <stdlib.h>

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
	if (s) {
		/* refuse here what webhook_sign could not use at publish time */
		const char *sec = json_string_value(s);
		const char *b64 = !strncmp(sec, "whsec_", 6) ? sec + 6 : sec;
		unsigned char key[256];
		size_t klen = 0;
		if (sodium_base642bin(key, sizeof(key), b64, strlen(b64), NULL, &klen, NULL,
				      sodium_base64_VARIANT_ORIGINAL) || klen < 16) {
			*err = "credentials.secret must be whsec_ followed by base64 of at least 16 bytes";
			return -1;
		}
		sodium_memzero(key, sizeof(key));
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

static json_t *body_json(struct pub_ctx *c)
{
	char when[32], now[32];
	iso_format(c->publish_at, when);
	iso_format(now_ms(), now);
	return json_pack("{s:s,s:s,s:{s:s,s:s,s:s,s:i,s:s,s:O,s:O,s:s,s:{s:s,s:s},s:s?,s:s?}}",
			 "type", "post.publish", "timestamp", now, "data", "id", c->item_id, "postId",
			 c->root_id, "group", c->group, "position", c->position, "content",
			 c->content, "media", c->media, "settings", c->settings, "publishDate", when,
			 "channel", "id", c->channel_id, "name", c->channel_name, "inReplyTo",
			 c->parent_release_id, "rootReleaseId", c->root_release_id);
}

/* Sign per Standard Webhooks.  0, or -1 when the secret is malformed. */
int webhook_sign(const char *secret, const char *msg_id, const char *ts, const char *body,
		 size_t body_len, char out[128])
{
	const char *b64 = !strncmp(secret, "whsec_", 6) ? secret + 6 : secret;
	unsigned char key[256];
	size_t klen = 0;
	if (sodium_base642bin(key, sizeof(key), b64, strlen(b64), NULL, &klen, NULL,
			      sodium_base64_VARIANT_ORIGINAL) || klen == 0)
		return -1;
	crypto_auth_hmacsha256_state st;
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	crypto_auth_hmacsha256_init(&st, key, klen);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)msg_id, strlen(msg_id));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)".", 1);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)ts, strlen(ts));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)".", 1);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, body_len);
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_memzero(key, sizeof(key));
	char sig[96];
	sodium_bin2base64(sig, sizeof(sig), mac, sizeof(mac), sodium_base64_VARIANT_ORIGINAL);
	snprintf(out, 128, "v1,%s", sig);
	return 0;
}

static enum pub_status webhook_publish(struct pub_ctx *c, const struct hresp *prev)
{
	if (!prev) {
		const char *url = json_string_value(json_object_get(c->credentials, "url"));
		const char *secret = json_string_value(json_object_get(c->credentials, "secret"));
		if (!url || !secret) {
			c->error = "the channel has no url or secret; reconnect it";
			return PUB_FAILED;
		}
		json_t *b = body_json(c);
		char *body = json_dumps(b, JSON_COMPACT);
		json_decref(b);
		if (!body) {
			c->error = "cannot encode the post";
			return PUB_FAILED;
		}
		/* stable across retries; a repeating post's occurrences differ by
		 * their scheduled time so a deduping receiver keeps each one */
		const char *msg_id = c->repeating ? arena_printf(c->a, "msg_%s_%lld", c->item_id,
								  (long long)(c->publish_at / 1000))
						  : arena_printf(c->a, "msg_%s", c->item_id);
		char ts[24], sig[128];
		snprintf(ts, sizeof(ts), "%lld", (long long)(now_ms() / 1000));
		if (webhook_sign(secret, msg_id, ts, body, strlen(body), sig)) {
			free(body);
			c->error = "the channel's signing secret is not valid base64; reconnect it";
			return PUB_FAILED;
		}
		c->req.method = "POST";
		c->req.url = url;
		c->req.body = arena_strdup(c->a, body);
		c->req.body_len = strlen(body);
		free(body);
		c->req.headers[0] = "Content-Type: application/json";
		c->req.headers[1] = arena_printf(c->a, "webhook-id: %s", msg_id);
		c->req.headers[2] = arena_printf(c->a, "webhook-timestamp: %s", ts);
		c->req.headers[3] = arena_printf(c->a, "webhook-signature: %s", sig);
		c->req.headers[4] = arena_printf(c->a, "Idempotency-Key: %s", c->item_id);
		c->req.headers[5] = NULL;
		c->req.timeout_ms = 15000;
		return PUB_SEND;
	}
	enum pub_status st = pub_classify_status(prev->status);
	if (st == PUB_OK) {
		json_t *r = json_loadb(prev->body, prev->body_len, 0, NULL);
		const char *id = json_string_value(json_object_get(r, "id"));
		const char *url = json_string_value(json_object_get(r, "url"));
		c->release_id = arena_strdup(c->a, id ? id : arena_printf(c->a, "msg_%s", c->item_id));
		c->release_url = url ? arena_strdup(c->a, url) : NULL;
		json_decref(r);
		return PUB_OK;
	}
	c->error = arena_printf(c->a, "the receiver answered HTTP %ld: %.300s", prev->status,
				prev->body_len ? prev->body : "(empty body)");
	if (st == PUB_RETRY)
		c->retry_after_ms = pub_retry_after(prev);
	/* a webhook has no token to refresh: an auth refusal is permanent */
	return st == PUB_AUTH_EXPIRED ? PUB_FAILED : st;
}

const struct provider provider_webhook = {
	.api_version = "Standard Webhooks v1 (signed JSON POST)",
	.api_sunset = NULL,
	.identifier = "webhook",
	.name = "Webhook",
	.flags = PROV_THREADS | PROV_IMAGES | PROV_VIDEO | PROV_IDEMPOTENT | PROV_CREDENTIALS,
	.max_length = 100000,
	.editor = "none",
	.rules = "Posts are delivered as a signed JSON POST (Standard Webhooks). Any text, any media.",
	.credentials = fields,
	.settings_schema = NULL,
	.connect = webhook_connect,
	.publish = webhook_publish,
};
