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
 * are stored like the engine stores them.  Run by providers/run.c: at most 12
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
#include "../providers/run.h"
#include "../store/store.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct trig {
	struct call *c;
	const struct provider *pr;
	const struct provider_tool *tool;
	struct store_channel *ch;
	json_t *cred;
	struct prun run;
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

void api_channel_save_credentials(struct call *c, const char *channel_id, json_t *cred)
{
	char *plain = json_dumps(cred, JSON_COMPACT | JSON_SORT_KEYS);
	char *sealed = plain ? secret_seal(plain) : NULL;
	if (plain) {
		sodium_memzero(plain, strlen(plain));
		free(plain);
	}
	if (!sealed || store_channel_set_credentials(c->st, channel_id, sealed))
		log_msg(LOG_ERROR, "api", "channel %s: cannot store refreshed credentials", channel_id);
	free(sealed);
}

json_t *api_channel_credentials(struct call *c, const struct store_channel *ch)
{
	json_t *cred = secret_open_json(ch->credentials);
	if (!json_is_object(cred)) {
		json_decref(cred);
		api_fail(c, HERR_PLATFORM_AUTH, "id",
			 "the channel's credentials cannot be decrypted (was HERALD_SECRET_KEY changed?)");
		return NULL;
	}
	arena_defer(c->a, free_json, cred);
	return cred;
}

static void trig_credentials(struct prun *p)
{
	struct trig *t = p->arg;
	api_channel_save_credentials(t->c, t->ch->id, t->cred);
}

static void trig_defer(struct prun *p)
{
	struct trig *t = p->arg;
	api_defer(t->c);
}

static void fail_platform(struct trig *t, enum herr e, const char *why)
{
	api_fail(t->c, e, "methodName", "%s %s: %s", t->pr->name, t->tool->method, why);
}

static void trig_done(struct prun *p, enum pub_status st)
{
	struct trig *t = p->arg;
	struct call *c = t->c;
	struct pub_ctx *pc = &p->ctx;
	if (p->transport_error) {
		if (!p->hc)
			api_fail(c, HERR_UNAVAILABLE, NULL, "this process cannot reach platforms");
		else
			fail_platform(t, HERR_PLATFORM_UNAVAILABLE, p->transport_error);
		return;
	}
	switch (st) {
	case PUB_OK:
		api_reply(c, 200, json_pack("{s:O}", "output", pc->output ? pc->output : json_null()));
		return;
	case PUB_AUTH_EXPIRED:
		fail_platform(t, HERR_PLATFORM_AUTH,
			      pc->error ? pc->error : "the platform refused the channel's credentials");
		return;
	case PUB_RETRY:
	case PUB_UNKNOWN:
		fail_platform(t, HERR_PLATFORM_UNAVAILABLE,
			      pc->error ? pc->error : "the platform is busy; try again");
		return;
	case PUB_FAILED:
	default:
		fail_platform(t, HERR_PLATFORM_REJECTED,
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
	t->cred = api_channel_credentials(c, t->ch);
	if (!t->cred)
		return;
	struct prun *run = &t->run;
	struct pub_ctx *pc = &run->ctx;
	pc->a = c->a;
	pc->credentials = t->cred;
	pc->base_url = provider_base_url(t->pr);
	pc->public_url = c->app->cfg->public_url;
	pc->channel_id = t->ch->id;
	pc->channel_name = t->ch->name;
	pc->settings = json_object();
	arena_defer(c->a, free_json, pc->settings);
	pc->media = json_array();
	arena_defer(c->a, free_json, pc->media);
	pc->data = json_is_object(data) ? data : pc->settings;
	run->pr = t->pr;
	run->run = t->tool->run;
	run->hc = c->hc;
	run->allow_refresh = 1;
	run->on_credentials = trig_credentials;
	run->before_send = trig_defer;
	run->done = trig_done;
	run->arg = t;
	prun_start(run);
}
