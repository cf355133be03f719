/*
 * api: request handling shared by every resource file: dispatch through
 * the route table, authentication, the error envelope, JSON bodies and
 * field validation helpers.
 *
 * A `struct call` lives in the request arena; handlers answer exactly once
 * with api_reply() or api_fail() and return.  Handlers never hold state
 * between requests; the per-loop `struct api_loop` carries the loop's own
 * store handle.
 */
#ifndef HERALD_API_H
#define HERALD_API_H

#include "../core/error.h"
#include "../http/router.h"
#include "../http/server.h"

#include <jansson.h>
#include <stdint.h>

struct config;
struct store;

/* route flags */
#define RF_AUTH      (1u << 0) /* needs an API key */
#define RF_POSTIZ    (1u << 1) /* Postiz route: Postiz-shaped errors too */
#define RF_POST_RATE (1u << 2) /* counts against HERALD_API_LIMIT */
#define RF_NATIVE    (1u << 3) /* /v1 */
#define RF_NO_IDEM   (1u << 4) /* no Idempotency-Key: the body's own protocol rules (MCP) */
#define RF_UPLOAD    (1u << 5) /* body up to HERALD_MAX_UPLOAD, read through http_body_each */

struct app {
	const struct config *cfg;
	int64_t started_ms;
};

/* A loop's memory of recently verified keys: a key revoked elsewhere stops
 * working within AUTH_CACHE_MS, and a hot key costs no database read. */
#define AUTH_CACHE_SLOTS 64
#define AUTH_CACHE_MS 2000

struct auth_slot {
	char hash[65];
	char org_id[32], key_id[32];
	int64_t until;
};

struct hclient;
struct event_base;

struct api_loop {
	struct app *app;
	struct store *st;
	struct hclient *hc;       /* the loop's outbound HTTP (may be NULL) */
	struct event_base *base;
	struct auth_slot auth[AUTH_CACHE_SLOTS];
};

struct call {
	struct http_req *r;
	struct arena *a;
	struct app *app;
	struct store *st;
	const struct route *route;
	const char *params[ROUTE_MAX_PARAMS];
	int nparams;
	struct hclient *hc;       /* the loop's outbound HTTP, for deferred work */
	struct event_base *base;  /* the loop, for timers */
	const char *org_id, *key_id;
	int replied;
	int deferred;
	struct idem *idem;        /* Idempotency-Key bookkeeping, or NULL */
	const char *creation_method; /* posts created by this call (NULL: "API") */
	/* capture mode (one item of a batch): api_reply keeps the answer in
	 * cap_status/cap_body (owned) instead of sending it */
	int capture;
	int cap_status;
	json_t *cap_body;
};

extern const struct route api_routes[];
extern const size_t api_nroutes;

void api_handle(struct http_req *r);

void api_reply(struct call *c, int status, json_t *v); /* steals v */
/* api_reply without a body (MCP's 202 to notifications). */
void api_reply_empty(struct call *c, int status);
/* Answer later: the handler returns without replying and the call (with
 * its arena) stays alive until api_reply/api_fail is called from a
 * callback on the same loop.  Calls being answered later count as busy
 * for a graceful stop (api_deferred_count). */
void api_defer(struct call *c);
int api_deferred_count(void);
/* Error reply: the envelope of SPEC 5; on Postiz routes Postiz's own
 * fields (statusCode, message, msg) come first.  `field` may be NULL. */
void api_fail(struct call *c, enum herr e, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void api_fail_storage(struct call *c);
/* api_fail with the preflight rule id and platform of SPEC 5/6. */
void api_fail_rule(struct call *c, enum herr e, const char *field, const char *rule,
		   const char *platform, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* api_fail_rule whose envelope also carries `violations` (an array of
 * every preflight violation; borrowed, not stolen): the first one is the
 * envelope's rule, field and message. */
void api_fail_violations(struct call *c, enum herr e, const char *field, const char *rule,
			 const char *platform, json_t *violations, const char *fmt, ...)
	__attribute__((format(printf, 7, 8)));

/* api_fail_rule without a rule whose envelope also carries the members of
 * `extra` (an object, borrowed; e.g. platformResponse). */
void api_fail_extra(struct call *c, enum herr e, const char *field, const char *platform,
		    json_t *extra, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* The error envelope {"error":{...}} of SPEC 5 outside a call (MCP tool
 * arguments that never became a request).  New reference. */
json_t *api_envelope(const struct app *app, const char *request_id, enum herr e, const char *field,
		     const char *msg);

/* Parse the body as a JSON object; on failure the reply is sent and NULL
 * returned.  The value is freed with the request arena. */
json_t *api_body_object(struct call *c);

/* Field helpers: on a type error they reply (naming `path`) and return -1. */
int api_get_str(struct call *c, json_t *obj, const char *key, const char *path, int required,
		const char **out);
int api_get_int(struct call *c, json_t *obj, const char *key, const char *path, int required,
		long long min, long long max, long long *out);
int api_get_bool(struct call *c, json_t *obj, const char *key, const char *path, int required,
		 int *out);

/* idempotency.c: Idempotency-Key on writes (SPEC 4).  idem_begin runs
 * after authentication; it returns 1 when it has answered (a replay, a
 * conflict, a malformed key), else 0 and the handler runs.  idem_finish
 * records the answer the request got (called by api_reply). */
int idem_begin(struct call *c);
void idem_finish(struct call *c, int status, const char *body, size_t len);

/* Real facts (type, size, pixels, duration) of media herald hosts for the
 * caller's organization, found by media id or by its /uploads/ URL, into
 * pm for preflight; pm is left alone for anything else.  With a platform
 * herald makes fitting copies for, an image over its byte cap reports an
 * unknown size (the copy will fit). */
struct pf_media;
void api_media_facts(struct call *c, const char *media_id, const char *url, const char *platform,
		     struct pf_media *pm);
/* The size adjustment of api_media_facts for a platform, on n media whose
 * facts were read without one. */
void api_media_fit_facts(const char *platform, struct pf_media *pm, size_t n);

/* Idempotency fingerprint of a multipart upload into hs (a
 * crypto_hash_sha256_state): every part's name, file name, type and bytes,
 * so the same upload with another boundary is the same request; the raw
 * body when it is not well-formed multipart. */
void api_upload_fingerprint(struct call *c, void *hs);
/* 1 when an Authorization header value names a live key (loop's cache). */
int api_key_ok(struct api_loop *loop, const char *authorization);
/* The streamed-body hooks of the upload routes (http_server_opts.stream):
 * their multipart bodies go to a temporary file as they arrive. */
extern const struct http_stream_ops api_stream_ops;

/* handlers (one file per resource) */
void h_healthz(void *); void h_readyz(void *); void h_errors(void *); void h_preflight_rules(void *);
void h_is_connected(void *); void h_integrations(void *); void h_groups(void *);
void h_integration_delete(void *); void h_integration_settings(void *);
void h_find_slot(void *);
void h_posts_list(void *); void h_posts_create(void *); void h_post_get(void *);
void h_post_delete(void *); void h_post_group_delete(void *); void h_post_status(void *);
void h_post_settings(void *); void h_post_release_id(void *); void h_post_missing(void *);
void h_accounts_create(void *); void h_accounts_list(void *); void h_account_get(void *);
void h_account_delete(void *); void h_account_health(void *);
void h_feed_atom(void *); void h_feed_rss(void *); void h_openapi(void *);
void h_posts_validate(void *);
void h_mcp(void *); /* src/mcp/mcp_http.c */
void h_media_upload(void *); void h_media_from_url(void *); void h_media_list(void *);
void h_media_get(void *); void h_media_delete(void *); void h_uploads_serve(void *);
void h_native_create(void *); void h_native_list(void *); void h_native_get(void *);
void h_native_patch(void *); void h_native_cancel(void *); void h_native_retry(void *);
void h_native_approve(void *); void h_platforms(void *); void h_native_batch(void *);
void h_post_unpublish(void *);
void h_integration_trigger(void *);
void h_metrics(void *);
void h_analytics_channel(void *); void h_analytics_post(void *); void h_analytics_native_post(void *);
void h_analytics_account(void *); void h_analytics_refresh(void *);
struct provider;
/* tools.c: a provider's tools as integration-settings lists them */
json_t *tools_json(const struct provider *pr);
/* unpublish.c: ?platform=true on a Postiz DELETE, and the shared request
 * (mode UNPUB_KEEP or UNPUB_REMOVE): 0 answered, -1 error answered, 1
 * nothing of the post is on the platform (nothing answered) */
int api_unpublish_requested(struct call *c);
int api_unpublish(struct call *c, const char *id, int mode);

struct store_channel;
/* tools.c: a stored channel's credentials decrypted (freed with the call),
 * or NULL with the error answered; and storing changed ones sealed again. */
json_t *api_channel_credentials(struct call *c, const struct store_channel *ch);
void api_channel_save_credentials(struct call *c, const char *channel_id, json_t *cred);

/* verify.c: credentials proved against the platform (provider->verify),
 * on the loop (the call is answered later).  done is called exactly once;
 * on failure it answers, typically with api_verify_fail. */
struct verify_result {
	int ok;
	enum herr e;               /* failure: HERR_CREDENTIALS_REJECTED, HERR_PLATFORM_UNAVAILABLE
				    * or HERR_PLATFORM_RATE_LIMITED */
	const char *message;       /* the platform's words */
	const char *field;         /* the refused credential ("credentials.token") */
	json_t *platform_response; /* its last answer, secrets removed, or NULL (borrowed) */
	json_t *profile;           /* ok: {profile, name?, platform ids...} (borrowed) */
};
/* channel_id: the stored channel whose credentials these are (changed
 * tokens are stored), or NULL for a channel not stored yet. */
void api_verify(struct call *c, const struct provider *pr, json_t *cred, const char *channel_id,
		void (*done)(struct call *c, void *arg, const struct verify_result *vr), void *arg);
/* The error envelope of a failed verify (platform, platformResponse, field). */
void api_verify_fail(struct call *c, const struct provider *pr, const struct verify_result *vr);

#endif
