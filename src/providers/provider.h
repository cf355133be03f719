/*
 * provider: the contract every platform implements, and the one table of
 * providers (providers.c).  Adding a platform means one .c file, one row in
 * that table and its test cases.
 *
 * Capabilities are data (flags, limits), read by preflight, the settings
 * route and /v1/platforms without branching on the platform name.  The
 * functions a provider implements are all optional except `connect`:
 * a provider whose publishing is not implemented yet has publish == NULL
 * and the engine fails its posts with a clear reason instead of pretending.
 */
#ifndef HERALD_PROVIDER_H
#define HERALD_PROVIDER_H

#include <jansson.h>
#include <stddef.h>

struct arena;
struct hresp;
struct event_base;

/* What a provider's publish step asks the engine to do next. */
enum pub_status {
	PUB_SEND,         /* send ctx->req, then call publish again with the answer */
	PUB_OK,           /* the item is on the platform: release_id (and url) set */
	PUB_RETRY,        /* transient: try again later (retry_after_ms if known) */
	PUB_FAILED,       /* permanent: error says why, in the platform's words */
	PUB_AUTH_EXPIRED, /* the token expired: refresh, then one retry */
	PUB_UNKNOWN,      /* the platform may or may not have it: never retry blindly */
};

#define PUB_MAX_HEADERS 12

struct pub_req {
	const char *method, *url;
	const char *headers[PUB_MAX_HEADERS + 1]; /* "Name: value", NULL-terminated */
	const char *body;
	size_t body_len;
	long timeout_ms;
	size_t max_response;  /* 0: 1 MiB; raise it to fetch media bytes */
	int safe;             /* has no effect on the platform (a media GET, an
			       * upload slot): a transport failure is retried,
			       * never unconfirmed */
	int optional;         /* the provider copes without it (a link card):
			       * transport failures come back to publish as
			       * answers with curl_code set, not to the engine */
	long delay_ms;        /* send after this long (polling a platform) */
	const char *log_url;  /* url with secrets removed, for attempt records */
	/* A GET of media herald hosts (HERALD_PUBLIC_URL/uploads/...) is read
	 * from storage by the engine; fit asks for the copy this platform
	 * takes (media_fit_for(provider), made once and cached, the original
	 * kept) instead of the original. */
	int fit;
	/* The URL came from the post (a media file hosted elsewhere), not from
	 * the platform's API: the engine connects only to addresses the SSRF
	 * guard of upload-from-url allows (no loopback, private, link-local,
	 * metadata... unless HERALD_FETCH_ALLOW_PRIVATE / _CIDRS say so), so a
	 * post cannot make herald read its own network and publish it. */
	int user_url;
};

/* One thread item being published.  Everything is allocated in `a`, which
 * lives until the item is finished (all of its steps). */
struct pub_ctx {
	struct arena *a;
	json_t *credentials;   /* decrypted, owned by the engine */
	const char *base_url;  /* HERALD_<PROVIDER>_BASE_URL, or NULL */
	const char *public_url; /* HERALD_PUBLIC_URL: where herald itself is reached */
	const char *item_id, *root_id, *group;
	int position;
	const char *content;   /* as stored (Postiz HTML or plain text) */
	json_t *media;         /* array of {id, path, alt?} */
	json_t *settings;      /* object */
	int64_t publish_at;
	int repeating;         /* a repeating post: each occurrence is a new post */
	const char *channel_id, *channel_name;
	const char *parent_release_id, *root_release_id; /* NULL for the root */
	int step;              /* 0 on the first call; the provider's own counter */
	int credentials_changed; /* set after updating credentials (tokens): the
				  * engine re-seals and stores them */
	void *state;           /* provider's own, in the arena */
	/* out */
	struct pub_req req;
	const char *release_id, *release_url;
	/* JSON text the provider keeps about the release beyond its id (NULL:
	 * none), stored with the item; an input of unpublish like release_id.
	 * Rows published before it existed have none: unpublish copes. */
	const char *release_data;
	const char *error;     /* platform message, for failed/retry/unknown */
	int64_t retry_after_ms;
	/* tools (integration-trigger): the caller's `data` object (borrowed)
	 * and the answer the tool builds (owned by the tool: free it with
	 * arena_defer on c->a) */
	json_t *data;
	json_t *output;
	/* verify: the credential the platform refused ("credentials.token"),
	 * set with PUB_FAILED / PUB_AUTH_EXPIRED; NULL: "credentials" */
	const char *error_field;
};

#define PROV_THREADS      (1u << 0) /* value[1..] publish as replies */
#define PROV_IMAGES       (1u << 1)
#define PROV_VIDEO        (1u << 2)
#define PROV_DELETE       (1u << 3)
#define PROV_IDEMPOTENT   (1u << 4) /* a retry can never create a second post */
#define PROV_METRICS      (1u << 5)
#define PROV_CREDENTIALS  (1u << 6) /* connects with credentials (no OAuth) */

/* A helper a provider offers through Postiz's integration-trigger (a
 * list of channels, the account's profile...).  `run` follows the publish
 * step protocol: PUB_SEND with c->req, called again with the answer, and
 * PUB_OK with c->output set; it never changes anything on the platform
 * (its requests are reads).  data_schema is the JSON text of Postiz's
 * dataSchema: an array of {key, type, description, required?}. */
struct provider_tool {
	const char *method;
	const char *description;
	const char *data_schema;
	enum pub_status (*run)(struct pub_ctx *c, const struct hresp *prev);
};

struct provider_field {
	const char *name;
	const char *type; /* "string", "url", "secret" */
	int required;
	const char *help;
};

struct provider {
	const char *identifier; /* Postiz providerIdentifier */
	const char *name;
	unsigned flags;
	int max_length;         /* Postiz maxLength(), in the platform's own unit */
	const char *editor;     /* none | normal | markdown | html */
	const char *rules;      /* human text served by integration-settings */
	const struct provider_field *credentials; /* NULL-name terminated */
	/* JSON Schema text of the settings DTO, or NULL when there are none */
	const char *settings_schema;
	/* Check credentials (object) and fill *profile with a display handle.
	 * 0 ok, or -1 with *err set (arena string) naming the bad field. */
	int (*connect)(struct arena *a, json_t *credentials, const char **profile,
		       const char **err);
	/* Called with prev == NULL first, then with each answer to a PUB_SEND
	 * (only HTTP answers: transport failures are the engine's business).
	 * NULL: publishing to this platform is not implemented yet. */
	enum pub_status (*publish)(struct pub_ctx *c, const struct hresp *prev);
	/* Remove one published item from the platform (PROV_DELETE).  The
	 * same step protocol as publish, run by the engine's unpublish jobs
	 * (src/engine/unpublish.c): the item is named by c->release_id and
	 * c->release_url (inputs here; parent/root as for publish).  PUB_OK
	 * means the item is gone, including "it was already gone", so that a
	 * delete cut short by a crash can simply run again: deleting is
	 * idempotent on every platform, and the engine retries transport
	 * failures and PUB_UNKNOWN instead of marking anything unconfirmed.
	 * NULL: the platform cannot delete (or herald cannot yet). */
	enum pub_status (*unpublish)(struct pub_ctx *c, const struct hresp *prev);
	/* integration-trigger tools, NULL-method terminated; NULL: none */
	const struct provider_tool *tools;
	/* Refresh expired credentials in place; NULL when not applicable. */
	int (*refresh)(struct arena *a, json_t *credentials, const char **err);
	/* Own transport for PUB_SEND instead of HTTP (NULL: HTTP through the
	 * loop's curl multi).  Must call done(arg, resp) exactly once, on the
	 * thread running `base` (event_base_once is safe from other threads),
	 * with resp->curl_code != 0 for transport failures and resp->sent set
	 * when the request may have left.  0 when started. */
	int (*send)(struct pub_ctx *c, struct event_base *base,
		    void (*done)(void *arg, const struct hresp *r), void *arg);
	/* Least time between two publishes on one account (queueing, not
	 * failing, keeps a post under the platform's limit). */
	long min_interval_ms;
	/* The upstream API this provider is written against, and the date its
	 * owner announced it stops working ("YYYY-MM-DD"), NULL when none is
	 * announced.  Served by /v1/platforms; a test fails 90 days before. */
	const char *api_version;
	const char *api_sunset;
	/* Prove the credentials against the platform with its "who am I"
	 * call(s), before a channel is stored (POST /v1/accounts, channels
	 * add) and for GET /v1/accounts/{id}/health.  The publish step
	 * protocol; its requests only read.  PUB_OK with c->output = {profile:
	 * the display handle, name?: a display name, platform ids...} (owned
	 * by the provider: arena_defer on c->a); PUB_FAILED / PUB_AUTH_EXPIRED
	 * when the platform refuses, c->error in its words and c->error_field
	 * naming the credential; PUB_RETRY when it is down or busy.  Session
	 * tokens it obtains go into c->credentials (credentials_changed), so
	 * the first publish reuses them.  NULL: nothing to ask the platform
	 * (rss, webhook, nostr: checked offline by connect). */
	enum pub_status (*verify)(struct pub_ctx *c, const struct hresp *prev);
	/* Read the public counters of one published item (PROV_METRICS), named
	 * by c->release_id and c->release_url; the same step protocol as
	 * publish (PUB_SEND with c->req, called again with the answer; reads
	 * only).  PUB_OK with c->output = an object of non-negative integers
	 * under herald's metric names (METRIC_* below; owned by the function:
	 * freed with c->a).  PUB_FAILED when the item is gone or unreadable,
	 * PUB_RETRY/PUB_AUTH_EXPIRED as for publishing.  Run by the engine's
	 * analytics jobs (src/engine/analytics.c).  NULL: no metrics. */
	enum pub_status (*metrics)(struct pub_ctx *c, const struct hresp *prev);
};

/* HERALD_<PROVIDER>_BASE_URL (identifier upper-cased, '-' as '_'): where
 * tests point a provider instead of the platform; NULL when unset. */
const char *provider_base_url(const struct provider *pr);

/* herald's metric names: the same counter has one name on every platform */
#define METRIC_LIKES "likes"
#define METRIC_REPOSTS "reposts"
#define METRIC_REPLIES "replies"
#define METRIC_QUOTES "quotes"

/* Standard Webhooks signature "v1,<base64>" of body (webhook.c). */
int webhook_sign(const char *secret, const char *msg_id, const char *ts, const char *body,
		 size_t body_len, char out[128]);

/* Retry-After (seconds or HTTP date) of an answer, in ms; 0 when absent. */
int64_t pub_retry_after(const struct hresp *r);
/* Shared classification of an HTTP status for simple JSON APIs. */
enum pub_status pub_classify_status(long status);

/* The configuration providers read (timeouts, CA files), set once by
 * `serve` before any loop runs; NULL (defaults) until then. */
struct config;
void providers_configure(const struct config *cfg);
const struct config *providers_config(void);

const struct provider *provider_find(const char *identifier);
size_t provider_count(void);
const struct provider *provider_at(size_t i);

#endif
