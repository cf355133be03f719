/*
 * api: dispatch, authentication, rate limits, the error envelope and JSON
 * helpers.  Order of checks on every request (why: Postiz clients depend on
 * it, and cheap refusals must not touch the database):
 *   path decoding -> route match (404/405) -> body size (413) -> API key
 *   (401) -> per-key limit -> Postiz posts limit (429, counted before
 *   validation as Postiz does) -> handler.
 */
#include "api.h"
#include "ratelimit.h"
#include "../core/arena.h"
#include "../core/config.h"
#include "../core/crypto.h"
#include "../core/log.h"
#include "../core/timeutil.h"
#include "../store/store.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void free_json(void *p)
{
	json_decref(p);
}

static atomic_int deferred_calls;

int api_deferred_count(void)
{
	return atomic_load(&deferred_calls);
}

void api_defer(struct call *c)
{
	if (c->deferred || c->replied)
		return;
	c->deferred = 1;
	atomic_fetch_add(&deferred_calls, 1);
	http_defer(c->r);
}

void api_reply(struct call *c, int status, json_t *v)
{
	if (c->replied) {
		json_decref(v);
		return;
	}
	c->replied = 1;
	if (c->capture) {
		json_decref(c->cap_body);
		c->cap_status = status;
		c->cap_body = v;
		return;
	}
	char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(v);
	size_t len = s ? strlen(s) : 4;
	idem_finish(c, status, s ? s : "null", len);
	int deferred = c->deferred;
	/* a deferred reply frees the arena holding c: nothing after this */
	http_reply(c->r, status, "application/json; charset=utf-8", s ? s : "null", len);
	free(s);
	if (deferred)
		atomic_fetch_sub(&deferred_calls, 1);
}

void api_reply_empty(struct call *c, int status)
{
	if (c->replied)
		return;
	c->replied = 1;
	idem_finish(c, status, "", 0);
	int deferred = c->deferred;
	http_reply(c->r, status, NULL, "", 0); /* may free c (deferred) */
	if (deferred)
		atomic_fetch_sub(&deferred_calls, 1);
}

static json_t *envelope(struct call *c, enum herr e, const char *field, const char *msg);

static json_t *envelope_rule(struct call *c, enum herr e, const char *field, const char *msg,
			     const char *rule, const char *platform)
{
	json_t *err = envelope(c, e, field, msg);
	if (rule)
		json_object_set_new(err, "rule", json_string(rule));
	if (platform)
		json_object_set_new(err, "platform", json_string(platform));
	return err;
}

static json_t *envelope(struct call *c, enum herr e, const char *field, const char *msg)
{
	const struct herr_info *hi = herr_info(e);
	json_t *err = json_object();
	json_object_set_new(err, "code", json_string(hi->code));
	json_object_set_new(err, "message", json_string(msg));
	if (field)
		json_object_set_new(err, "field", json_string(field));
	json_object_set_new(err, "retryable", json_boolean(hi->retryable));
	json_object_set_new(err, "docUrl",
			    json_string(arena_printf(c->a, "%s/v1/errors#%s", c->app->cfg->public_url,
						     hi->code)));
	json_object_set_new(err, "requestId", json_string(c->r->request_id));
	return err;
}

/* extra: an object whose members join the envelope (borrowed) */
static void fail_v(struct call *c, int status_override, enum herr e, const char *field,
		   const char *rule, const char *platform, json_t *extra, const char *fmt,
		   va_list ap)
{
	char *msg = arena_vprintf(c->a, fmt, ap);
	int status = status_override ? status_override : herr_info(e)->status;
	json_t *body = json_object();
	int postiz = !c->route || (c->route->flags & RF_POSTIZ);
	if (postiz) {
		/* Postiz's NestJS errors carry statusCode+message, its middleware
		 * errors carry msg; clients read one or the other, so send both. */
		json_object_set_new(body, "statusCode", json_integer(status));
		json_object_set_new(body, "message", json_string(msg));
		json_object_set_new(body, "msg", json_string(msg));
	}
	json_t *err = envelope_rule(c, e, field, msg, rule, platform);
	if (extra)
		json_object_update(err, extra);
	json_object_set_new(body, "error", err);
	api_reply(c, status, body);
}

void api_fail(struct call *c, enum herr e, const char *field, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fail_v(c, 0, e, field, NULL, NULL, NULL, fmt, ap);
	va_end(ap);
}

void api_fail_rule(struct call *c, enum herr e, const char *field, const char *rule,
		   const char *platform, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fail_v(c, 0, e, field, rule, platform, NULL, fmt, ap);
	va_end(ap);
}

void api_fail_violations(struct call *c, enum herr e, const char *field, const char *rule,
			 const char *platform, json_t *violations, const char *fmt, ...)
{
	va_list ap;
	json_t *extra = json_pack("{s:O}", "violations", violations);
	va_start(ap, fmt);
	fail_v(c, 0, e, field, rule, platform, extra, fmt, ap);
	va_end(ap);
	json_decref(extra);
}

void api_fail_extra(struct call *c, enum herr e, const char *field, const char *platform,
		    json_t *extra, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fail_v(c, 0, e, field, NULL, platform, extra, fmt, ap);
	va_end(ap);
}

static void fail_msg(struct call *c, enum herr e, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void fail_msg(struct call *c, enum herr e, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fail_v(c, 0, e, NULL, NULL, NULL, NULL, fmt, ap);
	va_end(ap);
}

void api_fail_storage(struct call *c)
{
	api_fail(c, HERR_INTERNAL, NULL, "storage error; the request was not applied");
}

json_t *api_body_object(struct call *c)
{
	if (c->r->body_len == 0) {
		api_fail(c, HERR_VALIDATION, "body", "the request body must be a JSON object");
		return NULL;
	}
	const char *ct = http_header(c->r, "Content-Type");
	/* curl -d sends form-urlencoded by default: judge by the bytes, and
	 * refuse only what cannot be JSON */
	if (ct && !strncasecmp(ct, "multipart/", 10)) {
		api_fail(c, HERR_UNSUPPORTED_MEDIA, "Content-Type",
			 "send the body as application/json");
		return NULL;
	}
	json_error_t je;
	json_t *v = json_loadb(c->r->body, c->r->body_len, JSON_REJECT_DUPLICATES, &je);
	if (!v) {
		api_fail(c, HERR_VALIDATION, "body", "the body is not valid JSON: %s at line %d column %d",
			 je.text, je.line, je.column);
		return NULL;
	}
	arena_defer(c->a, free_json, v);
	if (!json_is_object(v)) {
		api_fail(c, HERR_VALIDATION, "body", "the request body must be a JSON object");
		return NULL;
	}
	return v;
}

int api_get_str(struct call *c, json_t *obj, const char *key, const char *path, int required,
		const char **out)
{
	json_t *v = json_object_get(obj, key);
	*out = NULL;
	if (!v || json_is_null(v)) {
		if (required) {
			api_fail(c, HERR_VALIDATION, path, "%s is required", path);
			return -1;
		}
		return 0;
	}
	if (!json_is_string(v)) {
		api_fail(c, HERR_VALIDATION, path, "%s must be a string", path);
		return -1;
	}
	*out = json_string_value(v);
	if (strlen(*out) != json_string_length(v)) {
		api_fail(c, HERR_VALIDATION, path, "%s must not contain NUL characters", path);
		return -1;
	}
	return 0;
}

int api_get_int(struct call *c, json_t *obj, const char *key, const char *path, int required,
		long long min, long long max, long long *out)
{
	json_t *v = json_object_get(obj, key);
	if (!v || json_is_null(v)) {
		if (required) {
			api_fail(c, HERR_VALIDATION, path, "%s is required", path);
			return -1;
		}
		return 0;
	}
	long long n;
	if (json_is_integer(v)) {
		n = json_integer_value(v);
	} else if (json_is_real(v) && json_real_value(v) == (double)(long long)json_real_value(v)) {
		n = (long long)json_real_value(v);
	} else {
		api_fail(c, HERR_VALIDATION, path, "%s must be a whole number", path);
		return -1;
	}
	if (n < min || n > max) {
		api_fail(c, HERR_VALIDATION, path, "%s must be between %lld and %lld", path, min, max);
		return -1;
	}
	*out = n;
	return 0;
}

int api_get_bool(struct call *c, json_t *obj, const char *key, const char *path, int required,
		 int *out)
{
	json_t *v = json_object_get(obj, key);
	if (!v || json_is_null(v)) {
		if (required) {
			api_fail(c, HERR_VALIDATION, path, "%s is required", path);
			return -1;
		}
		return 0;
	}
	if (!json_is_boolean(v)) {
		api_fail(c, HERR_VALIDATION, path, "%s must be true or false", path);
		return -1;
	}
	*out = json_is_true(v);
	return 0;
}

static void set_limit_headers(struct call *c, const struct rl_result *rl, const char *prefix)
{
	char v[32];
	char name[48];
	snprintf(v, sizeof(v), "%ld", rl->limit);
	snprintf(name, sizeof(name), "%sLimit", prefix);
	http_add_header(c->r, name, v);
	snprintf(v, sizeof(v), "%ld", rl->remaining);
	snprintf(name, sizeof(name), "%sRemaining", prefix);
	http_add_header(c->r, name, v);
	snprintf(v, sizeof(v), "%lld", (long long)rl->reset_s);
	snprintf(name, sizeof(name), "%sReset", prefix);
	http_add_header(c->r, name, v);
}

/* The organization and key id of an Authorization header's key, through
 * the loop's cache: 0, STORE_NOTFOUND for no such key (or none given), or
 * another store error.  org and key are allocated in a. */
static int key_lookup(struct api_loop *loop, struct arena *a, const char *h, char **org_out,
		      char **key_out)
{
	if (!h || !*h)
		return STORE_NOTFOUND;
	if (!strncasecmp(h, "Bearer ", 7))
		h += 7;
	while (*h == ' ')
		h++;
	if (strlen(h) > 512)
		return STORE_NOTFOUND;
	char hash[KEY_HASH_LEN + 1];
	api_key_hash(h, hash);
	struct auth_slot *slot = &loop->auth[strtoul((char[5]){hash[0], hash[1], hash[2], hash[3], 0},
						     NULL, 16) % AUTH_CACHE_SLOTS];
	int64_t now = now_ms();
	if (slot->until > now && !strcmp(slot->hash, hash)) {
		*org_out = arena_strdup(a, slot->org_id);
		*key_out = arena_strdup(a, slot->key_id);
		return 0;
	}
	char *org = NULL, *key = NULL;
	int rc = store_key_lookup(loop->st, a, hash, &org, &key);
	if (rc)
		return rc;
	if (strlen(org) < sizeof(slot->org_id) && strlen(key) < sizeof(slot->key_id)) {
		memcpy(slot->hash, hash, sizeof(slot->hash));
		strcpy(slot->org_id, org);
		strcpy(slot->key_id, key);
		slot->until = now + AUTH_CACHE_MS;
	}
	*org_out = org;
	*key_out = key;
	return 0;
}

int api_key_ok(struct api_loop *loop, const char *authorization)
{
	struct arena *a = arena_new();
	char *org = NULL, *key = NULL;
	int rc = key_lookup(loop, a, authorization, &org, &key);
	arena_free(a);
	return rc == 0;
}

static int authenticate(struct call *c)
{
	const char *h = http_header(c->r, "Authorization");
	if (!h || !*h) {
		fail_msg(c, HERR_UNAUTHENTICATED, "No API Key found");
		return -1;
	}
	char *org = NULL, *key = NULL;
	int rc = key_lookup(c->r->loop_ctx, c->a, h, &org, &key);
	if (rc == STORE_NOTFOUND) {
		fail_msg(c, HERR_UNAUTHENTICATED, "Invalid API key");
		return -1;
	}
	if (rc) {
		api_fail_storage(c);
		return -1;
	}
	c->org_id = org;
	c->key_id = key;
	c->r->org_id = org;
	return 0;
}

void api_handle(struct http_req *r)
{
	struct api_loop *loop = r->loop_ctx;
	struct call *c = arena_alloc(r->a, sizeof(*c));
	c->r = r;
	c->a = r->a;
	c->app = loop->app;
	c->st = loop->st;
	c->hc = loop->hc;
	c->base = loop->base;
	/* posts made through MCP tools say so, as in Postiz (creationMethod) */
	if (r->via && !strcmp(r->via, "mcp"))
		c->creation_method = "MCP";

	if (!r->path) {
		api_fail(c, HERR_VALIDATION, "path", "the request path is not valid percent-encoding");
		return;
	}
	const char *path = r->path;
	/* self-hosted Postiz sits behind nginx at /api: accept both */
	if (!strncmp(path, "/api/public/v1/", 15) || !strcmp(path, "/api/public/v1"))
		path += 4;

	struct route_match m;
	if (!router_match(api_routes, api_nroutes, r->method, path, r->a, &m)) {
		int postiz = !strncmp(path, "/public/", 8);
		c->route = NULL;
		if (!postiz) {
			static const struct route native = {0, "", NULL, RF_NATIVE, NULL, NULL};
			c->route = &native;
		}
		if (m.path_matched) {
			/* RFC 9110: a 405 names the methods the resource has */
			static const struct {
				enum http_method m;
				const char *name;
			} ms[] = {{HM_GET, "GET"}, {HM_POST, "POST"}, {HM_PUT, "PUT"},
				  {HM_PATCH, "PATCH"}, {HM_DELETE, "DELETE"}};
			char allow[64] = "";
			for (size_t i = 0; i < sizeof(ms) / sizeof(ms[0]); i++) {
				struct route_match m2;
				if (router_match(api_routes, api_nroutes, ms[i].m, path, r->a, &m2))
					snprintf(allow + strlen(allow), sizeof(allow) - strlen(allow), "%s%s",
						 *allow ? ", " : "", ms[i].name);
			}
			if (*allow)
				http_add_header(r, "Allow", allow);
			api_fail(c, HERR_METHOD_NOT_ALLOWED, "method", "%s is not allowed on %s",
				 r->method_name, r->raw_path);
		}
		else
			api_fail(c, HERR_NOT_FOUND, "path", "Cannot %s %s", r->method_name, r->raw_path);
		return;
	}
	c->route = m.route;
	r->route = m.route->pattern;
	memcpy(c->params, m.params, sizeof(c->params));
	c->nparams = m.nparams;

	/* a streamed body on a route that takes none was announced too large
	 * (api_stream_ops) and has been dropped */
	if ((r->body_too_large || r->stream) && !(m.route->flags & RF_UPLOAD)) {
		api_fail(c, HERR_PAYLOAD_TOO_LARGE, "body", "the body is larger than %ld bytes",
			 c->app->cfg->max_body);
		return;
	}
	if (r->body_total > (size_t)c->app->cfg->max_upload + 65536) {
		api_fail(c, HERR_PAYLOAD_TOO_LARGE, "file", "the upload is larger than %ld bytes",
			 c->app->cfg->max_upload);
		return;
	}
	if (m.route->flags & RF_AUTH) {
		if (authenticate(c))
			return;
		struct rl_result rl;
		char key[96];
		int64_t now = now_ms();
		snprintf(key, sizeof(key), "k:%s", c->key_id);
		rl_hit(key, c->app->cfg->rate_limit, 60000, now, &rl);
		set_limit_headers(c, &rl, "RateLimit-");
		/* native routes: the X- spelling too, for clients that only know
		 * it (Postiz routes keep Postiz's: X- is its hourly posts limit) */
		if (m.route->flags & RF_NATIVE)
			set_limit_headers(c, &rl, "X-RateLimit-");
		if (!rl.allowed) {
			char ra[24];
			snprintf(ra, sizeof(ra), "%lld", (long long)rl.reset_s);
			http_add_header(r, "Retry-After", ra);
			api_fail(c, HERR_RATE_LIMITED, NULL,
				 "more than %ld requests in a minute with this key; retry in %lld s",
				 rl.limit, (long long)rl.reset_s);
			return;
		}
		if (m.route->flags & RF_POST_RATE) {
			snprintf(key, sizeof(key), "p:%s", c->org_id);
			rl_hit(key, c->app->cfg->api_limit, 3600000, now, &rl);
			set_limit_headers(c, &rl, "X-RateLimit-");
			if (!rl.allowed) {
				char ra[24];
				snprintf(ra, sizeof(ra), "%lld", (long long)rl.reset_s);
				http_add_header(r, "Retry-After", ra);
				json_t *body = json_pack("{s:i,s:s}", "statusCode", 429, "message",
							 "ThrottlerException: Too Many Requests");
				json_object_set_new(
					body, "error",
					envelope(c, HERR_RATE_LIMITED, NULL,
						 arena_printf(c->a,
							      "more than %ld post requests this hour (HERALD_API_LIMIT); retry in %lld s",
							      rl.limit, (long long)rl.reset_s)));
				api_reply(c, 429, body);
				return;
			}
		}
	}
	if (idem_begin(c))
		return;
	m.route->handler(c);
	if (!c->replied && !c->deferred) {
		log_msg(LOG_ERROR, "api", "handler for %s did not reply", m.route->pattern);
		api_fail(c, HERR_INTERNAL, NULL, "the handler produced no answer");
	}
}

json_t *api_envelope(const struct app *app, const char *request_id, enum herr e, const char *field,
		     const char *msg)
{
	const struct herr_info *hi = herr_info(e);
	json_t *err = json_object();
	json_object_set_new(err, "code", json_string(hi->code));
	json_object_set_new(err, "message", json_string(msg));
	if (field)
		json_object_set_new(err, "field", json_string(field));
	json_object_set_new(err, "retryable", json_boolean(hi->retryable));
	size_t n = strlen(app->cfg->public_url) + strlen(hi->code) + 16;
	char *doc = xmalloc(n);
	snprintf(doc, n, "%s/v1/errors#%s", app->cfg->public_url, hi->code);
	json_object_set_new(err, "docUrl", json_string(doc));
	free(doc);
	json_object_set_new(err, "requestId", json_string(request_id));
	return json_pack("{s:o}", "error", err);
}
