/*
 * fuzz_verify: the providers' credential checks (provider->verify) fed
 * arbitrary platform answers, and the redaction of those answers
 * (prun_redact) that error envelopes show as platformResponse.
 *
 * Input: byte 0 picks the provider (mastodon, bluesky, telegram, discord
 * bot, discord webhook, slack); then answers separated by 0xFF, each one
 * status byte (an index into typical statuses) and the body.  The verify
 * runs as the runner would run it, one answer per request, at most 8.
 *
 * Oracles: no sanitizer report; PUB_SEND always names a method and an
 * absolute URL; PUB_OK leaves an object in c->output; a refusal
 * (PUB_FAILED / PUB_AUTH_EXPIRED) says why; the redacted answer never
 * contains the secret credential.
 */
#include "core/arena.h"
#include "http/client.h"
#include "providers/provider.h"
#include "providers/run.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SECRET "tok-FUZZSECRET-0123456789"

static void die(const char *what)
{
	fprintf(stderr, "fuzz_verify: %s\n", what);
	abort();
}

static json_t *creds(int which, const char **provider)
{
	switch (which) {
	case 0:
		*provider = "mastodon";
		return json_pack("{s:s,s:s}", "instance", "http://127.0.0.1:1", "access_token", SECRET);
	case 1:
		*provider = "bluesky";
		return json_pack("{s:s,s:s,s:s}", "service", "http://127.0.0.1:1", "identifier",
				 "alice.test", "password", SECRET);
	case 2:
		*provider = "telegram";
		return json_pack("{s:s,s:s}", "token", "123456789:AAH" "FUZZSECRET0123456789abc",
				 "chat_id", "-1001234567890");
	case 3:
		*provider = "discord";
		return json_pack("{s:s,s:s}", "token",
				 "MTEyMjMzNDQ1NTY2Nzc4ODk5.GhIjKl.FUZZSECRETabcdefghijklmnopqrstuv",
				 "channel", "223344556677889900");
	case 4:
		*provider = "discord";
		return json_pack("{s:s}", "webhook_url",
				 "https://discord.com/api/webhooks/112233445566778899/FUZZSECRET_abc-123");
	default:
		*provider = "slack";
		return json_pack("{s:s,s:s}", "token", "xoxb-1111111111-FUZZSECRET0123456789",
				 "channel", "C0123456789");
	}
}

static void free_json(void *p)
{
	json_decref(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const long statuses[] = {200, 200, 201, 400, 401, 403, 404, 429, 500, 503};
	if (size < 1)
		return 0;
	const char *name;
	json_t *cred = creds(data[0] % 6, &name);
	const struct provider *pr = provider_find(name);
	struct arena *a = arena_new();
	const char *profile = NULL, *err = NULL;
	if (!pr || !pr->verify || pr->connect(a, cred, &profile, &err))
		die("the fixed credentials do not connect");
	const char *secret = json_string_value(json_object_get(cred, "token"));
	if (!secret)
		secret = json_string_value(json_object_get(cred, "access_token"));
	if (!secret)
		secret = json_string_value(json_object_get(cred, "password"));
	if (!secret)
		secret = "FUZZSECRET_abc-123";

	struct pub_ctx c = {0};
	c.a = a;
	c.credentials = cred;
	c.base_url = NULL;
	c.settings = json_object();
	arena_defer(a, free_json, c.settings);
	c.media = json_array();
	arena_defer(a, free_json, c.media);
	c.data = c.settings;
	enum pub_status st = pr->verify(&c, NULL);
	size_t off = 1;
	for (int steps = 0; st == PUB_SEND; steps++) {
		if (!c.req.method || !c.req.url || strncmp(c.req.url, "http", 4))
			die("PUB_SEND without a method or an absolute URL");
		if (steps >= 8 || off >= size)
			break;
		long status = statuses[data[off] % (sizeof(statuses) / sizeof(statuses[0]))];
		off++;
		const uint8_t *end = memchr(data + off, 0xFF, size - off);
		size_t n = end ? (size_t)(end - (data + off)) : size - off;
		char *body = malloc(n + 1);
		memcpy(body, data + off, n);
		body[n] = 0;
		off += n + (end ? 1 : 0);
		/* what an error envelope would show of it */
		json_t *shown = prun_redact(body, cred);
		if (shown) {
			char *txt = json_dumps(shown, JSON_ENCODE_ANY);
			if (txt && strstr(txt, secret))
				die("the redacted answer still holds the secret");
			free(txt);
			json_decref(shown);
		}
		struct hresp r = {.status = status, .body = body, .body_len = n, .headers = ""};
		c.step++;
		memset(&c.req, 0, sizeof(c.req));
		st = pr->verify(&c, &r);
		free(body);
	}
	if (st == PUB_OK && !json_is_object(c.output))
		die("PUB_OK without an output object");
	if ((st == PUB_FAILED || st == PUB_AUTH_EXPIRED) && !c.error)
		die("a refusal without a reason");
	arena_free(a);
	json_decref(cred);
	return 0;
}
