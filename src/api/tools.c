/*
 * tools: Postiz's POST /public/v1/integration-trigger/{id} with body
 * {"methodName", "data"} -> {"output": ...}: runs one of the channel's
 * provider tools (struct provider_tool, data in each provider's file) and
 * answers with what the platform said.  GET integration-settings/{id}
 * lists the same tools (integrations.c, tools_json below).
 *
 * A tool is a small step program like publishing (provider.h): every
 * PUB_SEND goes out on the loop's outbound client (c->hc) while the reply
 * is deferred (api_defer), and each answer goes back to the tool.  Tools
 * only read, so nothing is recorded as an attempt; refreshed credentials
 * are stored like the engine stores them.  Bounded: at most MAX_STEPS
 * requests per call and the request's own timeouts.
 *
 * Errors: unknown channel (or another organization's) 404 "Integration not
 * found"; unknown methodName 400 validation_failed naming the tools there
 * are; refused credentials 401 platform_auth_failed (Postiz's "Channel
 * disconnected due to expired token" as msg); the platform refusing
 * 422 platform_rejected, unreachable or busy 502 platform_unavailable,
 * both with the platform's words.
 */
#include "api.h"
#include "../core/arena.h"
#include "../core/crypto.h"
#include "../core/config.h"
#include "../core/log.h"
#include "../http/client.h"
#include "../providers/provider.h"
#include "../store/store.h"

#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_STEPS 12

struct trig {
	struct call *c;
	const struct provider *pr;
	const struct provider_tool *tool;
	struct store_channel *ch;
	json_t *cred;
	struct pub_ctx ctx;
	int steps, refreshed;
};

static void free_json(void *p)
{
	json_decref(p);
}

json_t *tools_json(const struct provider *pr)
{
	json_t *arr = json_array();
	for (const struct provider_tool *t = pr ? pr->tools : NULL; t && t->method; t++) {
		json_t *schema = t->data_schema ? json_loads(t->data_schema, 0, NULL) : NULL;
		json_array_append_new(arr, json_pack("{s:s,s:s,s:o}", "methodName", t->method,
						     "description", t->description, "dataSchema",
						     schema ? schema : json_array()));
	}
	return arr;
}

static void save_credentials(struct trig *t)
{
	char *plain = json_dumps(t->cred, JSON_COMPACT | JSON_SORT_KEYS);
	char *sealed = plain ? secret_seal(plain) : NULL;
	if (plain) {
		sodium_memzero(plain, strlen(plain));
		free(plain);
	}
	if (!sealed || store_channel_set_credentials(t->c->st, t->ch->id, sealed))
		log_msg(LOG_ERROR, "api", "channel %s: cannot store refreshed credentials", t->ch->id);
	free(sealed);
}

static void fail_platform(struct trig *t, enum herr e, const struct hresp *r, const char *why)
{
	struct call *c = t->c;
	(void)r;
	api_fail(c, e, "methodName", "%s %s: %s", t->pr->name, t->tool->method, why);
}

static void step(struct trig *t, enum pub_status st, const struct hresp *r);

static void on_answer(void *arg, const struct hresp *r)
{
	struct trig *t = arg;
	struct pub_ctx *pc = &t->ctx;
	if (r->curl_code) {
		fail_platform(t, HERR_PLATFORM_UNAVAILABLE, NULL,
			      arena_printf(t->c->a, "%s (%s)", r->error ? r->error : "transport error",
					   pc->req.log_url ? pc->req.log_url : pc->req.url));
		return;
	}
	pc->step++;
	memset(&pc->req, 0, sizeof(pc->req));
	step(t, t->tool->run(pc, r), r);
}

static void step(struct trig *t, enum pub_status st, const struct hresp *r)
{
	struct call *c = t->c;
	struct pub_ctx *pc = &t->ctx;
	if (pc->credentials_changed) {
		save_credentials(t);
		pc->credentials_changed = 0;
	}
	switch (st) {
	case PUB_SEND: {
		if (++t->steps > MAX_STEPS) {
			fail_platform(t, HERR_PLATFORM_UNAVAILABLE, r, "too many requests for one call");
			return;
		}
		if (!c->hc) {
			api_fail(c, HERR_UNAVAILABLE, NULL, "this process cannot reach platforms");
			return;
		}
		struct hreq hr = {
			.method = pc->req.method,
			.url = pc->req.url,
			.headers = pc->req.headers,
			.body = pc->req.body,
			.body_len = pc->req.body_len,
			.timeout_ms = pc->req.timeout_ms ? pc->req.timeout_ms : 20000,
			.max_response = pc->req.max_response,
		};
		api_defer(c);
		if (hclient_send(c->hc, &hr, on_answer, t))
			fail_platform(t, HERR_PLATFORM_UNAVAILABLE, r, "cannot start the request");
		return;
	}
	case PUB_OK:
		api_reply(c, 200, json_pack("{s:O}", "output", pc->output ? pc->output : json_null()));
		return;
	case PUB_AUTH_EXPIRED:
		if (t->pr->refresh && !t->refreshed) {
			const char *err = NULL;
			t->refreshed = 1;
			if (t->pr->refresh(c->a, t->cred, &err) == 0) {
				save_credentials(t);
				memset(&pc->req, 0, sizeof(pc->req));
				pc->step = 0;
				pc->state = NULL;
				step(t, t->tool->run(pc, NULL), NULL);
				return;
			}
		}
		fail_platform(t, HERR_PLATFORM_AUTH, r,
			      pc->error ? pc->error : "the platform refused the channel's credentials");
		return;
	case PUB_RETRY:
	case PUB_UNKNOWN:
		fail_platform(t, HERR_PLATFORM_UNAVAILABLE, r,
			      pc->error ? pc->error : "the platform is busy; try again");
		return;
	case PUB_FAILED:
	default:
		fail_platform(t, HERR_PLATFORM_REJECTED, r,
			      pc->error ? pc->error : "the platform refused the request");
		return;
	}
}

void h_integration_trigger(void *p)
{
	struct call *c = p;
	json_t *body = api_body_object(c);
	if (!body)
		return;
	const char *method;
	if (api_get_str(c, body, "methodName", "methodName", 1, &method))
		return;
	json_t *data = json_object_get(body, "data");
	if (data && !json_is_object(data) && !json_is_null(data)) {
		api_fail(c, HERR_VALIDATION, "data", "data must be an object");
		return;
	}
	struct trig *t = arena_alloc(c->a, sizeof(*t));
	t->c = c;
	int rc = store_channel_get(c->st, c->a, c->org_id, c->params[0], &t->ch);
	if (rc == STORE_NOTFOUND) {
		api_fail(c, HERR_NOT_FOUND, "id", "Integration not found");
		return;
	}
	if (rc) {
		api_fail_storage(c);
		return;
	}
	t->pr = provider_find(t->ch->provider);
	for (const struct provider_tool *k = t->pr ? t->pr->tools : NULL; k && k->method; k++)
		if (!strcmp(k->method, method))
			t->tool = k;
	if (!t->tool) {
		char names[256] = "";
		size_t used = 0;
		for (const struct provider_tool *k = t->pr ? t->pr->tools : NULL; k && k->method; k++) {
			int w = snprintf(names + used, sizeof(names) - used, "%s%s", used ? ", " : "",
					 k->method);
			if (w < 0 || (size_t)w >= sizeof(names) - used)
				break;
			used += (size_t)w;
		}
		api_fail(c, HERR_VALIDATION, "methodName", "%s has no tool \"%s\" (tools: %s)",
			 t->pr ? t->pr->name : t->ch->provider, method, used ? names : "none");
		return;
	}
	char *plain = secret_open(t->ch->credentials);
	t->cred = plain ? json_loads(plain, 0, NULL) : NULL;
	if (plain) {
		sodium_memzero(plain, strlen(plain));
		free(plain);
	}
	if (!json_is_object(t->cred)) {
		json_decref(t->cred);
		api_fail(c, HERR_PLATFORM_AUTH, "id",
			 "the channel's credentials cannot be decrypted (was HERALD_SECRET_KEY changed?)");
		return;
	}
	arena_defer(c->a, free_json, t->cred);
	struct pub_ctx *pc = &t->ctx;
	pc->a = c->a;
	pc->credentials = t->cred;
	char env[96];
	snprintf(env, sizeof(env), "HERALD_%s_BASE_URL", t->pr->identifier);
	for (char *q = env; *q; q++)
		*q = *q == '-' ? '_' : (char)toupper((unsigned char)*q);
	pc->base_url = getenv(env);
	pc->public_url = c->app->cfg->public_url;
	pc->channel_id = t->ch->id;
	pc->channel_name = t->ch->name;
	pc->settings = json_object();
	arena_defer(c->a, free_json, pc->settings);
	pc->media = json_array();
	arena_defer(c->a, free_json, pc->media);
	pc->data = json_is_object(data) ? data : pc->settings;
	step(t, t->tool->run(pc, NULL), NULL);
}
