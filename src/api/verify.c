/*
 * verify: credentials proved against the platform before a channel is
 * stored (POST /v1/accounts, integrations.c) and on demand for a stored
 * one (GET /v1/accounts/{id}/health, here).
 *
 * The provider's verify step program (provider.h) runs on the loop's
 * outbound client through providers/run.c, the runner the integration
 * tools use; the call is answered later (api_defer).  A provider without
 * verify (rss, webhook, nostr: nothing on a server to ask) succeeds at
 * once without any request.
 *
 * Failures, as SPEC 5 envelopes: the platform refusing the credentials is
 * 400 credentials_rejected (field naming the credential, platform,
 * platformResponse with secrets removed); down, busy or unreachable is
 * 502 platform_unavailable (429 platform_rate_limited), retryable.  Health
 * reports the same as data with 200 and changes nothing but refreshed
 * session tokens: an account is never disabled by a health check.
 */
#include "api.h"
#include "../core/arena.h"
#include "../core/config.h"
#include "../core/timeutil.h"
#include "../providers/provider.h"
#include "../providers/run.h"
#include "../store/store.h"

#include <string.h>

struct vjob {
	struct call *c;
	const struct provider *pr;
	json_t *cred;
	const char *channel_id;
	void (*done)(struct call *c, void *arg, const struct verify_result *vr);
	void *arg;
	struct prun run;
};

static void free_json(void *p)
{
	json_decref(p);
}

static void vjob_credentials(struct prun *p)
{
	struct vjob *v = p->arg;
	/* a channel being connected is stored with them afterwards */
	if (v->channel_id)
		api_channel_save_credentials(v->c, v->channel_id, v->cred);
}

static void vjob_defer(struct prun *p)
{
	struct vjob *v = p->arg;
	api_defer(v->c);
}

static void vjob_done(struct prun *p, enum pub_status st)
{
	struct vjob *v = p->arg;
	struct verify_result vr = {0};
	vr.e = prun_verify_error(p, st, &vr.message, &vr.field);
	vr.ok = vr.e == HERR_OK;
	if (vr.ok) {
		vr.profile = p->ctx.output;
		if (!json_is_object(vr.profile)) {
			vr.profile = json_object();
			arena_defer(v->c->a, free_json, vr.profile);
		}
	} else if (p->last_body) {
		vr.platform_response = prun_redact(p->last_body, v->cred);
		if (vr.platform_response)
			arena_defer(v->c->a, free_json, vr.platform_response);
	}
	v->done(v->c, v->arg, &vr);
}

void api_verify(struct call *c, const struct provider *pr, json_t *cred, const char *channel_id,
		void (*done)(struct call *c, void *arg, const struct verify_result *vr), void *arg)
{
	struct vjob *v = arena_alloc(c->a, sizeof(*v));
	v->c = c;
	v->pr = pr;
	v->cred = cred;
	v->channel_id = channel_id;
	v->done = done;
	v->arg = arg;
	if (!pr->verify) {
		struct verify_result vr = {.ok = 1, .e = HERR_OK};
		vr.profile = json_object();
		arena_defer(c->a, free_json, vr.profile);
		done(c, arg, &vr);
		return;
	}
	struct prun *run = &v->run;
	struct pub_ctx *pc = &run->ctx;
	pc->a = c->a;
	pc->credentials = cred;
	pc->base_url = provider_base_url(pr);
	pc->public_url = c->app->cfg->public_url;
	pc->channel_id = channel_id;
	pc->settings = json_object();
	arena_defer(c->a, free_json, pc->settings);
	pc->media = json_array();
	arena_defer(c->a, free_json, pc->media);
	pc->data = pc->settings;
	run->pr = pr;
	run->run = pr->verify;
	run->hc = c->hc;
	run->on_credentials = vjob_credentials;
	run->before_send = vjob_defer;
	run->done = vjob_done;
	run->arg = v;
	prun_start(run);
}

static json_t *error_object(const struct provider *pr, const struct verify_result *vr)
{
	const struct herr_info *hi = herr_info(vr->e);
	json_t *o = json_pack("{s:s,s:s,s:s,s:b}", "code", hi->code, "message",
			      vr->message ? vr->message : "", "platform", pr->identifier, "retryable",
			      hi->retryable);
	if (vr->field)
		json_object_set_new(o, "field", json_string(vr->field));
	if (vr->platform_response)
		json_object_set(o, "platformResponse", vr->platform_response);
	return o;
}

void api_verify_fail(struct call *c, const struct provider *pr, const struct verify_result *vr)
{
	json_t *extra = json_object();
	if (vr->platform_response)
		json_object_set(extra, "platformResponse", vr->platform_response);
	api_fail_extra(c, vr->e, vr->field, pr->identifier, extra, "%s",
		       vr->message ? vr->message : "the platform refused the credentials");
	json_decref(extra);
}

struct health {
	const struct provider *pr;
	struct store_channel *ch;
	int asked;
};

static void health_done(struct call *c, void *arg, const struct verify_result *vr)
{
	struct health *h = arg;
	char ts[32];
	iso_format(now_ms(), ts);
	json_t *o = json_pack("{s:s,s:s,s:b,s:s,s:b}", "id", h->ch->id, "platform",
			      h->pr->identifier, "ok", vr->ok, "checkedAt", ts, "verified", h->asked);
	if (vr->ok) {
		json_t *prof = json_deep_copy(vr->profile);
		if (!json_string_value(json_object_get(prof, "profile")))
			json_object_set_new(prof, "profile", json_string(h->ch->profile));
		json_object_set_new(o, "profile", prof);
	} else {
		json_object_set_new(o, "error", error_object(h->pr, vr));
	}
	api_reply(c, 200, o);
}

void h_account_health(void *p)
{
	struct call *c = p;
	struct health *h = arena_alloc(c->a, sizeof(*h));
	int rc = store_channel_get(c->st, c->a, c->org_id, c->params[0], &h->ch);
	if (rc == STORE_NOTFOUND) {
		api_fail(c, HERR_NOT_FOUND, "id", "no account %s in this organization", c->params[0]);
		return;
	}
	if (rc) {
		api_fail_storage(c);
		return;
	}
	h->pr = provider_find(h->ch->provider);
	if (!h->pr) {
		api_fail(c, HERR_INVALID_STATE, "id", "the account's platform '%s' is not known to this herald",
			 h->ch->provider);
		return;
	}
	json_t *cred = api_channel_credentials(c, h->ch);
	if (!cred)
		return;
	h->asked = h->pr->verify != NULL;
	api_verify(c, h->pr, cred, h->ch->id, health_done, h);
}
