/*
 * fuzz_metrics: the platforms' answers to a metrics read (Mastodon's
 * GET /api/v1/statuses/:id, Bluesky's app.bsky.feed.getPosts), arbitrary
 * status and body, through every provider that has a `metrics` function.
 *
 * Input: byte 0 picks the provider, byte 1 the HTTP status (from a small
 * list that covers success, auth, rate limit, gone and server errors), the
 * rest is the body.  Oracles: no sanitizer report; the first call (no
 * answer) asks for a GET; an answer gives a defined status; PUB_OK comes
 * with an object whose every value is a non-negative integer (what the
 * engine stores); PUB_SEND after an answer is a GET or POST with a URL.
 */
#include "core/arena.h"
#include "http/client.h"
#include "providers/provider.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void die(const char *what)
{
	fprintf(stderr, "fuzz_metrics: %s\n", what);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const long statuses[] = {200, 201, 400, 401, 403, 404, 410, 429, 500, 502, 503};
	if (size < 2)
		return 0;
	size_t np = 0;
	const struct provider *list[16];
	for (size_t i = 0; i < provider_count() && np < 16; i++)
		if (provider_at(i)->metrics)
			list[np++] = provider_at(i);
	if (!np)
		return 0;
	const struct provider *pr = list[data[0] % np];
	long status = statuses[data[1] % (sizeof(statuses) / sizeof(statuses[0]))];
	struct arena *a = arena_new();
	json_t *cred = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "instance", "http://127.0.0.1:9",
				 "access_token", "tok", "service", "http://127.0.0.1:9",
				 "identifier", "alice.test", "password", "pw", "accessJwt", "acc",
				 "did", "did:plc:ewvi7nxzyoun6zhxrhs64oiz");
	struct pub_ctx c = {0};
	c.a = a;
	c.credentials = cred;
	c.item_id = "01jdbs1text000000000000000";
	c.settings = json_object();
	c.media = json_array();
	c.content = "";
	c.release_id = !strcmp(pr->identifier, "bluesky")
			       ? "at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/app.bsky.feed.post/3k7wiijrouhwq"
			       : "110000000000000001";
	enum pub_status st = pr->metrics(&c, NULL);
	if (st != PUB_SEND || !c.req.url || strcmp(c.req.method, "GET"))
		die("the first step is not a GET");
	char *body = malloc(size - 2 + 1);
	memcpy(body, data + 2, size - 2);
	body[size - 2] = 0;
	struct hresp r = {.status = status, .body = body, .body_len = size - 2, .headers = ""};
	c.step++;
	memset(&c.req, 0, sizeof(c.req));
	st = pr->metrics(&c, &r);
	switch (st) {
	case PUB_OK: {
		if (!json_is_object(c.output))
			die("PUB_OK without an object");
		const char *k;
		json_t *v;
		json_object_foreach(c.output, k, v)
		{
			if (!json_is_integer(v) || json_integer_value(v) < 0)
				die("a counter that is not a non-negative integer");
		}
		if (status < 200 || status >= 300)
			die("PUB_OK on an error status");
		break;
	}
	case PUB_SEND:
		if (!c.req.url || !c.req.method)
			die("PUB_SEND without a request");
		break;
	case PUB_RETRY:
	case PUB_FAILED:
	case PUB_AUTH_EXPIRED:
	case PUB_UNKNOWN:
		if (!c.error)
			die("a failure without a reason");
		break;
	default:
		die("an undefined status");
	}
	free(body);
	json_decref(c.settings);
	json_decref(c.media);
	json_decref(cred);
	arena_free(a);
	return 0;
}
