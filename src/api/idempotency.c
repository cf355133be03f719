/*
 * idempotency: the Idempotency-Key contract of SPEC 4 for every write
 * (POST, PUT, PATCH, DELETE) of an authenticated route.
 *
 *   same key, same body, within 24 h  -> the first answer again, byte for
 *                                        byte, with Idempotency-Replayed
 *   same key, other body              -> 409 idempotency_conflict
 *   same key while the first runs     -> 409 idempotency_in_progress
 *
 * Scope: organization + method + path (the /api alias folded), so one key
 * may be reused on another route.  The body hash covers the query string
 * too: DELETE ?x=1 and ?x=2 are different requests.
 *
 * What is not recorded (the record is dropped so that a retry runs again):
 * 5xx answers and 429s, since they changed nothing a client could rely on.
 * A record left `running` by a process that died is taken over after
 * IDEM_STALE_MS.
 */
#include "api.h"
#include "../core/arena.h"
#include "../core/log.h"
#include "../core/timeutil.h"
#include "../store/store.h"

#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#define IDEM_TTL_MS (24LL * 3600 * 1000)
#define IDEM_STALE_MS (5LL * 60 * 1000)
#define IDEM_KEY_MAX 255

struct idem {
	const char *route, *key;
};

static atomic_uint claims;

static int key_ok(const char *k)
{
	size_t n = strlen(k);
	if (n == 0 || n > IDEM_KEY_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)k[i] < 0x21 || (unsigned char)k[i] > 0x7e)
			return 0;
	return 1;
}

static int idem_hash_chunk(void *u, const char *p, size_t n)
{
	crypto_hash_sha256_update(u, (const unsigned char *)p, n);
	return 0;
}

int idem_begin(struct call *c)
{
	enum http_method m = c->r->method;
	if (m != HM_POST && m != HM_PUT && m != HM_PATCH && m != HM_DELETE)
		return 0;
	if (!c->org_id || (c->route && (c->route->flags & RF_NO_IDEM)))
		return 0;
	const char *key = http_header(c->r, "Idempotency-Key");
	if (!key)
		return 0;
	if (!key_ok(key)) {
		api_fail(c, HERR_VALIDATION, "Idempotency-Key",
			 "Idempotency-Key must be 1 to %d printable ASCII characters without spaces",
			 IDEM_KEY_MAX);
		return 1;
	}
	const char *path = c->r->path;
	if (!strncmp(path, "/api/public/", 12))
		path += 4;
	const char *route = arena_printf(c->a, "%s %s", c->r->method_name, path);

	unsigned char h[crypto_hash_sha256_BYTES];
	crypto_hash_sha256_state hs;
	crypto_hash_sha256_init(&hs);
	const char *q = c->r->query ? c->r->query : "";
	crypto_hash_sha256_update(&hs, (const unsigned char *)q, strlen(q));
	crypto_hash_sha256_update(&hs, (const unsigned char *)"\n", 1);
	/* an upload is judged by its parts, not its bytes: clients pick a new
	 * multipart boundary for every request */
	if (c->route && (c->route->flags & RF_UPLOAD))
		api_upload_fingerprint(c, &hs);
	else
		http_body_each(c->r, idem_hash_chunk, &hs);
	crypto_hash_sha256_final(&hs, h);
	char hex[2 * sizeof(h) + 1];
	sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));

	int64_t now = now_ms();
	/* now and then, forget what is past its day */
	if (atomic_fetch_add(&claims, 1) % 1024 == 0) {
		int n = 0;
		if (store_idem_expire(c->st, now - IDEM_TTL_MS, &n) == 0 && n)
			log_msg(LOG_DEBUG, "idempotency", "expired %d records", n);
	}

	enum store_idem res;
	int status;
	char *body;
	if (store_idem_claim(c->st, c->a, c->org_id, route, key, hex, now, IDEM_TTL_MS,
			     IDEM_STALE_MS, &res, &status, &body)) {
		api_fail_storage(c);
		return 1;
	}
	switch (res) {
	case IDEM_NEW:
		c->idem = arena_alloc(c->a, sizeof(*c->idem));
		c->idem->route = route;
		c->idem->key = arena_strdup(c->a, key);
		return 0;
	case IDEM_CONFLICT:
		api_fail(c, HERR_IDEMPOTENCY_CONFLICT, "Idempotency-Key",
			 "this Idempotency-Key was used with a different request body in the last "
			 "24 hours; use a new key for a new request");
		return 1;
	case IDEM_IN_PROGRESS:
		http_add_header(c->r, "Retry-After", "1");
		api_fail(c, HERR_IDEMPOTENCY_IN_PROGRESS, "Idempotency-Key",
			 "a request with this Idempotency-Key is still running; retry shortly to "
			 "get its answer");
		return 1;
	case IDEM_REPLAY:
		break;
	}
	http_add_header(c->r, "Idempotency-Replayed", "true");
	c->replied = 1;
	const char *b = body ? body : "";
	http_reply(c->r, status, "application/json; charset=utf-8", b, strlen(b));
	return 1;
}

void idem_finish(struct call *c, int status, const char *body, size_t len)
{
	struct idem *id = c->idem;
	if (!id)
		return;
	c->idem = NULL;
	int rc = status >= 500 || status == 429
		? store_idem_drop(c->st, c->org_id, id->route, id->key)
		: store_idem_finish(c->st, c->org_id, id->route, id->key, status, body);
	(void)len;
	if (rc)
		log_msg(LOG_ERROR, "idempotency", "could not record the answer for key %s on %s",
			id->key, id->route);
}
