/*
 * integrations: channels as Postiz shows them (integrations, groups,
 * integration-settings, find-slot, delete) and as the native API connects
 * them (/v1/accounts).
 *
 * Connecting (POST /v1/accounts): the provider's offline check
 * (provider->connect: shape, normal form), then, unless the body says
 * "verify": false, the platform's own check (verify.c) before anything is
 * stored; the 201 carries what the platform said (platformProfile).
 */
#include "api.h"
#include "../core/arena.h"
#include "../core/config.h"
#include "../core/crypto.h"
#include "../core/ids.h"
#include "../core/timeutil.h"
#include "../engine/slots.h"
#include "../providers/provider.h"
#include "../store/store.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

static json_t *postiz_integration(const struct store_channel *ch)
{
	json_t *o = json_object();
	json_object_set_new(o, "id", json_string(ch->id));
	json_object_set_new(o, "name", json_string(ch->name));
	json_object_set_new(o, "identifier", json_string(ch->provider));
	json_object_set_new(o, "picture", json_string(ch->picture));
	json_object_set_new(o, "disabled", json_boolean(ch->disabled));
	json_object_set_new(o, "profile", json_string(ch->profile));
	if (ch->customer_id)
		json_object_set_new(o, "customer",
				    json_pack("{s:s,s:s}", "id", ch->customer_id, "name",
					      ch->customer_name ? ch->customer_name : ""));
	return o;
}

static json_t *native_account(const struct store_channel *ch)
{
	char ts[32];
	iso_format(ch->created_at, ts);
	json_error_t je;
	json_t *times = json_loads(ch->posting_times, 0, &je);
	json_t *o = json_object();
	json_object_set_new(o, "id", json_string(ch->id));
	json_object_set_new(o, "platform", json_string(ch->provider));
	json_object_set_new(o, "name", json_string(ch->name));
	json_object_set_new(o, "profile", json_string(ch->profile));
	json_object_set_new(o, "picture", json_string(ch->picture));
	json_object_set_new(o, "disabled", json_boolean(ch->disabled));
	json_object_set_new(o, "timezone", json_string(ch->timezone));
	json_object_set_new(o, "postingTimes", times ? times : json_array());
	json_object_set_new(o, "customer", ch->customer_id
						   ? json_pack("{s:s,s:s?}", "id", ch->customer_id, "name",
							       ch->customer_name)
						   : json_null());
	json_object_set_new(o, "createdAt", json_string(ts));
	return o;
}

void h_is_connected(void *p)
{
	struct call *c = p;
	api_reply(c, 200, json_pack("{s:b}", "connected", 1));
}

void h_integrations(void *p)
{
	struct call *c = p;
	const char *group = http_query_param(c->r, "group");
	struct store_channel *v;
	size_t n;
	if (store_channel_list(c->st, c->a, c->org_id, group && *group ? group : NULL, &v, &n)) {
		api_fail_storage(c);
		return;
	}
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, postiz_integration(&v[i]));
	api_reply(c, 200, arr);
}

void h_groups(void *p)
{
	struct call *c = p;
	struct store_customer *v;
	size_t n;
	if (store_customer_list(c->st, c->a, c->org_id, &v, &n)) {
		api_fail_storage(c);
		return;
	}
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, json_pack("{s:s,s:s}", "id", v[i].id, "name", v[i].name));
	api_reply(c, 200, arr);
}

/* Loads the channel named by the first path parameter, or replies 404. */
static struct store_channel *load_channel(struct call *c)
{
	struct store_channel *ch = NULL;
	int rc = store_channel_get(c->st, c->a, c->org_id, c->params[0], &ch);
	if (rc == STORE_NOTFOUND) {
		api_fail(c, HERR_NOT_FOUND, "id", "Integration not found");
		return NULL;
	}
	if (rc) {
		api_fail_storage(c);
		return NULL;
	}
	return ch;
}

void h_integration_delete(void *p)
{
	struct call *c = p;
	struct store_channel *ch = load_channel(c);
	if (!ch)
		return;
	int rc = store_channel_delete(c->st, c->org_id, ch->id);
	if (rc == STORE_NOTFOUND) {
		api_fail(c, HERR_NOT_FOUND, "id", "Integration not found");
		return;
	}
	if (rc) {
		api_fail_storage(c);
		return;
	}
	json_t *o = postiz_integration(ch);
	char ts[32];
	iso_format(now_ms(), ts);
	json_object_set_new(o, "deletedAt", json_string(ts));
	api_reply(c, 200, o);
}

void h_integration_settings(void *p)
{
	struct call *c = p;
	struct store_channel *ch = load_channel(c);
	if (!ch)
		return;
	const struct provider *pr = provider_find(ch->provider);
	json_t *settings = NULL;
	if (pr && pr->settings_schema)
		settings = json_loads(pr->settings_schema, 0, NULL);
	if (!settings)
		settings = json_string("No additional settings required");
	api_reply(c, 200,
		  json_pack("{s:{s:s,s:i,s:o,s:o}}", "output", "rules", pr ? pr->rules : "",
			    "maxLength", pr ? pr->max_length : 0, "settings", settings, "tools",
			    tools_json(pr)));
}

void h_find_slot(void *p)
{
	struct call *c = p;
	struct store_channel *ch = load_channel(c);
	if (!ch)
		return;
	int64_t slot;
	int rc = slot_next(c->st, c->org_id, ch->posting_times, now_ms(), &slot);
	if (rc < 0) {
		api_fail_storage(c);
		return;
	}
	if (rc) {
		api_fail(c, HERR_INVALID_STATE, "postingTimes",
			 "the channel has no free posting time in the next year; add posting times");
		return;
	}
	char out[32];
	iso_format_postiz(slot, out);
	/* Postiz answers minutes, never seconds */
	out[17] = out[18] = '0';
	api_reply(c, 200, json_pack("{s:s}", "date", out));
}

/* A channel being connected: what the caller gave, kept in the call's arena
 * while its credentials are verified. */
struct new_account {
	const struct provider *pr;
	json_t *cred;
	const char *name, *picture, *profile;
};

static void account_store(struct call *c, struct new_account *na, json_t *verified)
{
	/* the platform's own handle and display name beat the offline guess */
	const char *vprof = json_string_value(json_object_get(verified, "profile"));
	const char *vname = json_string_value(json_object_get(verified, "name"));
	const char *profile = vprof && *vprof ? vprof : na->profile;
	const char *name = na->name && *na->name ? na->name : vname && *vname ? vname : profile;
	char *plain = json_dumps(na->cred, JSON_COMPACT | JSON_SORT_KEYS);
	char *sealed = plain ? secret_seal(plain) : NULL;
	if (plain)
		sodium_memzero(plain, strlen(plain));
	free(plain);
	if (!sealed) {
		api_fail(c, HERR_INTERNAL, NULL, "cannot encrypt credentials");
		return;
	}
	struct store_channel ch = {
		.org_id = (char *)c->org_id,
		.provider = (char *)na->pr->identifier,
		.name = (char *)name,
		.picture = (char *)(na->picture ? na->picture : ""),
		.profile = (char *)profile,
		.credentials = sealed,
	};
	char *id = NULL;
	int rc = store_channel_create(c->st, c->a, &ch, &id);
	free(sealed);
	if (rc) {
		api_fail_storage(c);
		return;
	}
	struct store_channel *got = NULL;
	if (store_channel_get(c->st, c->a, c->org_id, id, &got)) {
		api_fail_storage(c);
		return;
	}
	json_t *o = native_account(got);
	json_object_set_new(o, "verified", json_boolean(verified != NULL));
	if (verified)
		json_object_set(o, "platformProfile", verified);
	/* a generated webhook secret is shown once, here: receivers need it */
	json_t *sec = json_object_get(na->cred, "secret");
	if (!strcmp(na->pr->identifier, "webhook") && sec)
		json_object_set(o, "secret", sec);
	api_reply(c, 201, o);
}

static void account_verified(struct call *c, void *arg, const struct verify_result *vr)
{
	struct new_account *na = arg;
	if (!vr->ok) {
		api_verify_fail(c, na->pr, vr); /* nothing stored */
		return;
	}
	account_store(c, na, na->pr->verify ? vr->profile : NULL);
}

void h_accounts_create(void *p)
{
	struct call *c = p;
	json_t *body = api_body_object(c);
	if (!body)
		return;
	struct new_account *na = arena_alloc(c->a, sizeof(*na));
	const char *provider;
	int verify = 1;
	if (api_get_str(c, body, "provider", "provider", 1, &provider) ||
	    api_get_str(c, body, "name", "name", 0, &na->name) ||
	    api_get_str(c, body, "picture", "picture", 0, &na->picture) ||
	    api_get_bool(c, body, "verify", "verify", 0, &verify))
		return;
	const struct provider *pr = provider_find(provider);
	if (!pr) {
		api_fail(c, HERR_VALIDATION, "provider", "unknown provider '%s'; see GET /v1/platforms",
			 provider);
		return;
	}
	if (!(pr->flags & PROV_CREDENTIALS) || !pr->connect) {
		api_fail(c, HERR_VALIDATION, "provider",
			 "provider '%s' does not connect with credentials", provider);
		return;
	}
	json_t *cred = json_object_get(body, "credentials");
	if (!json_is_object(cred)) {
		api_fail(c, HERR_VALIDATION, "credentials", "credentials must be an object");
		return;
	}
	const char *err = NULL;
	if (pr->connect(c->a, cred, &na->profile, &err)) {
		api_fail(c, HERR_VALIDATION, "credentials", "%s", err ? err : "invalid credentials");
		return;
	}
	na->pr = pr;
	na->cred = cred;
	/* the product default: the platform proves the credentials before
	 * anything is stored; "verify": false is for offline setups */
	if (verify && pr->verify)
		api_verify(c, pr, cred, NULL, account_verified, na);
	else
		account_store(c, na, NULL);
}

void h_accounts_list(void *p)
{
	struct call *c = p;
	struct store_channel *v;
	size_t n;
	if (store_channel_list(c->st, c->a, c->org_id, NULL, &v, &n)) {
		api_fail_storage(c);
		return;
	}
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, native_account(&v[i]));
	api_reply(c, 200, json_pack("{s:o}", "data", arr));
}

void h_account_get(void *p)
{
	struct call *c = p;
	struct store_channel *ch = load_channel(c);
	if (ch)
		api_reply(c, 200, native_account(ch));
}

void h_account_delete(void *p)
{
	struct call *c = p;
	struct store_channel *ch = load_channel(c);
	if (!ch)
		return;
	int rc = store_channel_delete(c->st, c->org_id, ch->id);
	if (rc) {
		api_fail_storage(c);
		return;
	}
	api_reply(c, 200, json_pack("{s:s,s:b}", "id", ch->id, "deleted", 1));
}
