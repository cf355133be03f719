/*
 * analytics: the engine's jobs that sample the public counters of
 * published posts (SPEC 10 "providers that expose metrics are polled on a
 * schedule").
 *
 * When a root item of a provider with PROV_METRICS is published, a job is
 * scheduled (analytics_schedule, called by the publish job; posts published
 * while a crash cut that short are picked up by analytics_startup).  Each
 * job is one row of analytics_jobs with the due time of its next sample,
 * claimed on the loop's tick with a lease (as unpublish jobs are), so two
 * processes on one PostgreSQL never sample one item twice.  A sample runs
 * the provider's `metrics` step function through the loop's curl multi (or
 * the provider's own transport): never blocking the loop.
 *
 * The schedule is HERALD_ANALYTICS_INTERVALS seconds after publishing
 * (default 1 h, 6 h, 24 h), then daily until HERALD_ANALYTICS_DAYS.  A
 * sample that fails transiently (transport, 5xx, 429) is retried with the
 * publish backoff, at least the platform's Retry-After, up to
 * HERALD_RETRY_MAX times; then, or at once for a final refusal (the post is
 * gone, credentials refused after a refresh), that sample is given up and
 * the job goes on with the next one: a failure never stops later samples.
 * Only roots are sampled (the post a user sees; replies of a thread are
 * not counted separately).
 */
#include "engine_int.h"
#include "../core/arena.h"
#include "../core/config.h"
#include "../core/crypto.h"
#include "../core/log.h"
#include "../core/metrics.h"
#include "../core/timeutil.h"
#include "../http/client.h"
#include "../providers/provider.h"
#include "../store/store.h"

#include <event2/event.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define DAY_MS 86400000LL
#define MAX_COUNTERS 16

struct ajob {
	struct engine_loop *l;
	struct arena *a;
	struct store_analytics_job j;
	struct store_post *items;
	size_t nitems;
	struct store_channel *ch;
	const struct provider *pr;
	json_t *cred;
	struct pub_ctx ctx;
	int refreshed;
};

int64_t analytics_next_due(const struct config *cfg, int64_t published_at, int64_t now)
{
	int n = cfg->analytics_niv;
	if (n <= 0)
		return 0;
	for (int k = 0; k < n; k++) {
		int64_t t = published_at + (int64_t)cfg->analytics_iv[k] * 1000;
		if (t > now)
			return t;
	}
	int64_t horizon = published_at + (int64_t)cfg->analytics_days * DAY_MS;
	int64_t t = published_at + (int64_t)cfg->analytics_iv[n - 1] * 1000;
	if (t <= now)
		t += ((now - t) / DAY_MS + 1) * DAY_MS;
	return t <= horizon ? t : 0;
}

void analytics_schedule(struct engine_loop *l, const struct provider *pr, const char *item_id,
			const char *org_id, const char *channel_id, int64_t published_at)
{
	if (!pr || !pr->metrics || !(pr->flags & PROV_METRICS))
		return;
	int64_t due = analytics_next_due(l->e->cfg, published_at, published_at);
	if (!due)
		return;
	if (store_analytics_schedule(l->st, item_id, org_id, channel_id, published_at, due))
		log_msg(LOG_ERROR, "analytics", "post %s: cannot schedule its metrics", item_id);
}

void analytics_startup(struct engine *e, struct store *st)
{
	const struct config *cfg = e->cfg;
	if (cfg->analytics_niv <= 0)
		return;
	int64_t now = now_ms();
	int64_t span = (int64_t)cfg->analytics_iv[cfg->analytics_niv - 1] * 1000;
	if ((int64_t)cfg->analytics_days * DAY_MS > span)
		span = (int64_t)cfg->analytics_days * DAY_MS;
	for (size_t i = 0; i < provider_count(); i++) {
		const struct provider *pr = provider_at(i);
		if (!pr->metrics || !(pr->flags & PROV_METRICS))
			continue;
		int n = 0;
		if (store_analytics_backfill(st, pr->identifier, now - span, now, &n))
			log_msg(LOG_ERROR, "analytics", "cannot schedule the metrics of %s posts",
				pr->identifier);
		else if (n)
			log_msg(LOG_INFO, "analytics", "scheduled metrics of %d %s posts", n,
				pr->identifier);
	}
}

static void ajob_free(struct ajob *x)
{
	metrics_inflight(MET_ANALYTICS, -1);
	x->l->inflight--;
	atomic_fetch_sub(&x->l->e->inflight, 1);
	json_decref(x->cred);
	arena_free(x->a);
	free(x);
}

/* Give this sample up (or end the job: next 0) and free the job. */
static const char *prov_id(const struct ajob *x)
{
	return x->pr ? x->pr->identifier : NULL;
}

static void skip(struct ajob *x, const char *why, int end)
{
	if (x->pr)
		metrics_attempt(MET_ANALYTICS, prov_id(x),
				strstr(why, "platform_auth_failed") ? "auth" : "failed");
	int64_t next = end ? 0 : analytics_next_due(x->l->e->cfg, x->j.published_at, now_ms());
	log_msg(LOG_INFO, "analytics", "post %s: no sample this time%s: %s", x->j.item_id,
		next ? "" : " (sampling ends)", why);
	if (store_analytics_defer(x->l->st, x->j.item_id, x->l->e->owner, next, 1, why))
		log_msg(LOG_WARN, "analytics", "post %s: cannot record the skipped sample",
			x->j.item_id);
	ajob_free(x);
}

static void retry_later(struct ajob *x, const char *why, int64_t retry_after)
{
	const struct config *cfg = x->l->e->cfg;
	if (x->j.attempts + 1 >= cfg->retry_max) {
		skip(x, arena_printf(x->a, "gave up after %d attempts: %s", x->j.attempts + 1, why), 0);
		return;
	}
	metrics_attempt(MET_ANALYTICS, prov_id(x), "retry");
	int64_t due = now_ms() + engine_backoff_ms(cfg, x->j.attempts, retry_after);
	log_msg(LOG_INFO, "analytics", "post %s: sample will be retried: %s", x->j.item_id, why);
	if (store_analytics_defer(x->l->st, x->j.item_id, x->l->e->owner, due, 0, why))
		log_msg(LOG_WARN, "analytics", "post %s: cannot record the retry", x->j.item_id);
	ajob_free(x);
}

static void save_credentials(struct ajob *x)
{
	char *plain = json_dumps(x->cred, JSON_COMPACT | JSON_SORT_KEYS);
	char *sealed = plain ? secret_seal(plain) : NULL;
	if (plain) {
		sodium_memzero(plain, strlen(plain));
		free(plain);
	}
	if (!sealed || store_channel_set_credentials(x->l->st, x->ch->id, sealed))
		log_msg(LOG_ERROR, "analytics", "channel %s: cannot store refreshed credentials",
			x->ch->id);
	free(sealed);
}

static void record(struct ajob *x, json_t *out)
{
	const char *names[MAX_COUNTERS];
	int64_t values[MAX_COUNTERS];
	size_t n = 0;
	const char *k;
	json_t *v;
	json_object_foreach(out, k, v)
	{
		if (n < MAX_COUNTERS && json_is_integer(v) && json_integer_value(v) >= 0) {
			names[n] = k;
			values[n++] = json_integer_value(v);
		}
	}
	int64_t now = now_ms();
	int64_t next = analytics_next_due(x->l->e->cfg, x->j.published_at, now);
	metrics_attempt(MET_ANALYTICS, prov_id(x), "ok");
	int rc = store_analytics_record(x->l->st, &x->j, x->l->e->owner, names, values, n, now, next);
	if (rc == STORE_CONFLICT)
		log_msg(LOG_WARN, "analytics", "post %s: lease lost before recording", x->j.item_id);
	else if (rc)
		log_msg(LOG_ERROR, "analytics", "post %s: cannot record the sample", x->j.item_id);
	else
		log_msg(LOG_DEBUG, "analytics", "post %s: sampled %zu counters", x->j.item_id, n);
	ajob_free(x);
}

static void run_first(struct ajob *x);
static void handle(struct ajob *x, enum pub_status st, const struct hresp *r);

static void on_answer(void *arg, const struct hresp *r)
{
	struct ajob *x = arg;
	struct pub_ctx *c = &x->ctx;
	if (r->curl_code && !c->req.optional) {
		retry_later(x,
			    arena_printf(x->a, "%s (%s)", r->error ? r->error : "transport error",
					 c->req.log_url ? c->req.log_url : c->req.url),
			    0);
		return;
	}
	c->step++;
	memset(&c->req, 0, sizeof(c->req));
	handle(x, x->pr->metrics(c, r), r);
}

static void send_now(struct ajob *x)
{
	struct pub_ctx *c = &x->ctx;
	struct hreq hr = {
		.method = c->req.method,
		.url = c->req.url,
		.headers = c->req.headers,
		.body = c->req.body,
		.body_len = c->req.body_len,
		.timeout_ms = c->req.timeout_ms,
		.max_response = c->req.max_response,
	};
	int rc = x->pr->send ? x->pr->send(c, x->l->base, on_answer, x)
			     : hclient_send(x->l->http, &hr, on_answer, x);
	if (rc)
		retry_later(x, "cannot start the request", 0);
}

static void on_delay(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	send_now(arg);
}

static void handle(struct ajob *x, enum pub_status st, const struct hresp *r)
{
	(void)r;
	struct pub_ctx *c = &x->ctx;
	if (c->credentials_changed) {
		save_credentials(x);
		c->credentials_changed = 0;
	}
	switch (st) {
	case PUB_SEND: {
		long d = c->req.delay_ms;
		struct timeval tv = {d / 1000, (d % 1000) * 1000};
		if (d > 0 && event_base_once(x->l->base, -1, EV_TIMEOUT, on_delay, x, &tv) == 0)
			return;
		send_now(x);
		return;
	}
	case PUB_OK:
		if (!json_is_object(c->output)) {
			skip(x, "the provider returned no counters", 0);
			return;
		}
		record(x, c->output);
		return;
	case PUB_RETRY:
	case PUB_UNKNOWN:
		retry_later(x, c->error ? c->error : "temporary failure", c->retry_after_ms);
		return;
	case PUB_AUTH_EXPIRED:
		if (x->pr->refresh && !x->refreshed) {
			const char *err = NULL;
			x->refreshed = 1;
			if (x->pr->refresh(x->a, x->cred, &err) == 0) {
				save_credentials(x);
				run_first(x);
				return;
			}
		}
		skip(x,
		     arena_printf(x->a, "platform_auth_failed: %s",
				  c->error ? c->error : "the platform refused the credentials"),
		     0);
		return;
	case PUB_FAILED:
	default:
		skip(x, c->error ? c->error : "the platform refused", 0);
		return;
	}
}

static void run_first(struct ajob *x)
{
	struct pub_ctx *c = &x->ctx;
	engine_item_ctx(c, x->a, x->cred, x->pr, x->l->e->cfg, x->ch, x->items, 0);
	c->release_id = x->items[0].release_id;
	c->release_url = x->items[0].release_url;
	handle(x, x->pr->metrics(c, NULL), NULL);
}

static void ajob_start(struct engine_loop *l, const struct store_analytics_job *sj)
{
	struct ajob *x = xcalloc(1, sizeof(*x));
	x->l = l;
	x->a = arena_new();
	x->j = *sj;
	x->j.item_id = arena_strdup(x->a, sj->item_id);
	x->j.org_id = arena_strdup(x->a, sj->org_id);
	x->j.channel_id = arena_strdup(x->a, sj->channel_id);
	l->inflight++;
	atomic_fetch_add(&l->e->inflight, 1);
	metrics_inflight(MET_ANALYTICS, 1);
	if (store_engine_thread(l->st, x->a, x->j.item_id, &x->items, &x->nitems)) {
		retry_later(x, "the post's record could not be read", 0);
		return;
	}
	if (!x->nitems) {
		skip(x, "the post's record is gone", 1);
		return;
	}
	const struct store_post *p = &x->items[0];
	if (p->deleted_at || !p->release_id || !*p->release_id || !strcmp(p->state, PS_DELETED) ||
	    !strcmp(p->state, PS_DELETING)) {
		skip(x, "the post is no longer on the platform", 1);
		return;
	}
	if (store_channel_get(l->st, x->a, x->j.org_id, x->j.channel_id, &x->ch)) {
		skip(x, "the channel was removed", 1);
		return;
	}
	x->pr = provider_find(x->ch->provider);
	if (!x->pr || !x->pr->metrics) {
		skip(x, "the platform has no metrics", 1);
		return;
	}
	x->cred = secret_open_json(x->ch->credentials);
	if (!json_is_object(x->cred)) {
		skip(x, "the channel's credentials cannot be decrypted", 0);
		return;
	}
	run_first(x);
}

void analytics_tick(struct engine_loop *l, int64_t now, int room)
{
	struct engine *e = l->e;
	struct arena *a = arena_new();
	struct store_analytics_job *v;
	size_t n = 0;
	if (store_analytics_claim(l->st, a, e->owner, now, e->cfg->lease_seconds * 1000, room, &v,
				  &n) == 0)
		for (size_t i = 0; i < n; i++)
			ajob_start(l, &v[i]);
	arena_free(a);
}
