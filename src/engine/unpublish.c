/*
 * unpublish: the engine's jobs that delete published posts from their
 * platform (SPEC 8 "delete").  A job is requested by the API
 * (store_unpublish_request: the root goes to state 'deleting'), claimed
 * here on the loop's tick with a lease, and run with the same step loop as
 * publishing: the provider's `unpublish` function answers PUB_SEND with a
 * request, the answer comes back on this loop through its curl multi (or
 * the provider's own transport), and so on until PUB_OK (the item is gone)
 * or a final answer.
 *
 * Items are removed last first (replies before what they reply to).  Each
 * item that is gone is recorded with its attempt in one transaction, so a
 * job that runs again skips it.  Every request is an attempt of kind
 * 'unpublish' with the platform's raw answer.
 *
 * Deleting is idempotent everywhere ("already gone" is PUB_OK), so unlike
 * publishing nothing becomes unconfirmed: transport failures and unknown
 * outcomes are retried with the publish backoff, up to HERALD_RETRY_MAX
 * attempts; a refusal (permissions, a message too old to delete) puts the
 * post back in the state it had, with the platform's reason as its error.
 * A crash mid-delete leaves the lease to expire; the job is then claimed
 * again and its dangling attempt closed as 'interrupted'.
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

#include <ctype.h>
#include <event2/event.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RESPONSE_KEEP 65536

struct ujob {
	struct engine_loop *l;
	struct arena *a;  /* the job's lifetime */
	struct arena *ia; /* the current item's */
	struct store_job j;
	struct store_post *items;
	size_t nitems;
	long cur; /* counts down: replies go first */
	struct store_channel *ch;
	const struct provider *pr;
	json_t *cred;
	struct pub_ctx ctx;
	char attempt[32];
	int refreshed;
	int64_t lease_until;
};

static void ujob_next(struct ujob *u);

static void ujob_free(struct ujob *u)
{
	u->l->inflight--;
	atomic_fetch_sub(&u->l->e->inflight, 1);
	metrics_inflight(MET_UNPUBLISH, -1);
	json_decref(u->cred);
	arena_free(u->ia);
	arena_free(u->a);
	free(u);
}

/* outcome PS_DELETED, PS_DELETING (retry at due_at) or NULL (refused) */
static void finish(struct ujob *u, const char *outcome, const char *error, int64_t due_at,
		   int add_attempt)
{
	int rc = store_unpublish_finish(u->l->st, u->j.root_id, u->l->e->owner, outcome, error,
					due_at, add_attempt);
	if (rc == STORE_CONFLICT)
		log_msg(LOG_WARN, "engine", "unpublish %s: lease lost before finishing", u->j.root_id);
	else if (rc)
		log_msg(LOG_ERROR, "engine", "unpublish %s: cannot record the outcome", u->j.root_id);
	else
		log_msg(LOG_INFO, "engine", "unpublish %s -> %s%s%s", u->j.root_id,
			outcome ? outcome : "refused", error ? ": " : "", error ? error : "");
	ujob_free(u);
}

static void retry_later(struct ujob *u, const char *why, int64_t retry_after)
{
	int attempts = u->j.attempts + 1;
	const struct config *cfg = u->l->e->cfg;
	if (attempts >= cfg->retry_max) {
		finish(u, NULL,
		       arena_printf(u->a, "deleting from %s gave up after %d attempts; last error: %s",
				    u->pr->name, attempts, why),
		       now_ms(), 1);
		return;
	}
	finish(u, PS_DELETING,
	       arena_printf(u->a, "delete attempt %d failed, will retry: %s", attempts, why),
	       now_ms() + engine_backoff_ms(cfg, u->j.attempts, retry_after), 1);
}

static void attempt_end(struct ujob *u, const char *outcome, const struct hresp *r,
			const char *error)
{
	if (!u->attempt[0])
		return;
	metrics_attempt(MET_UNPUBLISH, u->pr ? u->pr->identifier : NULL, outcome);
	char *resp = NULL;
	if (r && r->body_len)
		resp = arena_strndup(u->ia, r->body,
				     r->body_len > RESPONSE_KEEP ? RESPONSE_KEEP : r->body_len);
	if (store_engine_attempt_end(u->l->st, u->attempt, now_ms(), outcome, r ? r->status : 0,
				     resp, error))
		log_msg(LOG_ERROR, "engine", "cannot record attempt %s", u->attempt);
	u->attempt[0] = 0;
}

static void save_credentials(struct ujob *u)
{
	char *plain = json_dumps(u->cred, JSON_COMPACT | JSON_SORT_KEYS);
	char *sealed = plain ? secret_seal(plain) : NULL;
	if (plain) {
		sodium_memzero(plain, strlen(plain));
		free(plain);
	}
	if (!sealed || store_channel_set_credentials(u->l->st, u->ch->id, sealed))
		log_msg(LOG_ERROR, "engine", "channel %s: cannot store refreshed credentials",
			u->ch->id);
	free(sealed);
}

static void handle(struct ujob *u, enum pub_status st, const struct hresp *r);

static void on_answer(void *arg, const struct hresp *r)
{
	struct ujob *u = arg;
	struct pub_ctx *c = &u->ctx;
	if (r->curl_code && !c->req.optional) {
		const char *why = arena_printf(u->a, "%s (%s)", r->error ? r->error : "transport error",
					       c->req.log_url ? c->req.log_url : c->req.url);
		attempt_end(u, "transport", r, why);
		retry_later(u, why, 0);
		return;
	}
	c->step++;
	memset(&c->req, 0, sizeof(c->req));
	handle(u, u->pr->unpublish(c, r), r);
}

static void send_now(struct ujob *u)
{
	struct pub_ctx *c = &u->ctx;
	if (!u->attempt[0]) {
		const char *summary = arena_printf(u->ia, "%s %s", c->req.method,
						   c->req.log_url ? c->req.log_url : c->req.url);
		if (store_unpublish_attempt_begin(u->l->st, u->items[u->cur].id, now_ms(), summary,
						  u->attempt)) {
			retry_later(u, "cannot record the attempt", 0);
			return;
		}
	}
	struct hreq hr = {
		.method = c->req.method,
		.url = c->req.url,
		.headers = c->req.headers,
		.body = c->req.body,
		.body_len = c->req.body_len,
		.timeout_ms = c->req.timeout_ms,
		.max_response = c->req.max_response,
	};
	int rc = u->pr->send ? u->pr->send(c, u->l->base, on_answer, u)
			     : hclient_send(u->l->http, &hr, on_answer, u);
	if (rc) {
		attempt_end(u, "transport", NULL, "cannot start the request");
		retry_later(u, "cannot start the request", 0);
	}
}

static void on_delay(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	send_now(arg);
}

static void handle(struct ujob *u, enum pub_status st, const struct hresp *r)
{
	struct pub_ctx *c = &u->ctx;
	if (c->credentials_changed) {
		save_credentials(u);
		c->credentials_changed = 0;
	}
	switch (st) {
	case PUB_SEND: {
		long d = c->req.delay_ms;
		struct timeval tv = {d / 1000, (d % 1000) * 1000};
		if (d > 0 && event_base_once(u->l->base, -1, EV_TIMEOUT, on_delay, u, &tv) == 0)
			return;
		send_now(u);
		return;
	}
	case PUB_OK: {
		char *resp = NULL;
		if (r && r->body_len)
			resp = arena_strndup(u->ia, r->body,
					     r->body_len > RESPONSE_KEEP ? RESPONSE_KEEP : r->body_len);
		if (store_unpublish_item_done(u->l->st, u->items[u->cur].id, u->attempt,
					      r ? r->status : 0, resp, now_ms())) {
			/* gone from the platform, not recorded: the next run deletes
			 * it again, which the platform answers as already gone */
			attempt_end(u, "deleted", r, NULL);
			retry_later(u, "the platform's answer could not be recorded", 0);
			return;
		}
		if (u->attempt[0])
			metrics_attempt(MET_UNPUBLISH, u->pr->identifier, "deleted");
		u->attempt[0] = 0;
		u->items[u->cur].state = (char *)PS_DELETED;
		u->cur--;
		ujob_next(u);
		return;
	}
	case PUB_RETRY:
	case PUB_UNKNOWN:
		attempt_end(u, "retry", r, c->error);
		retry_later(u, c->error ? c->error : "temporary failure", c->retry_after_ms);
		return;
	case PUB_AUTH_EXPIRED:
		if (u->pr->refresh && !u->refreshed) {
			const char *err = NULL;
			u->refreshed = 1;
			if (u->pr->refresh(u->a, u->cred, &err) == 0) {
				save_credentials(u);
				attempt_end(u, "auth_refreshed", r, c->error);
				ujob_next(u);
				return;
			}
		}
		attempt_end(u, "auth", r, c->error);
		finish(u, NULL,
		       arena_printf(u->a, "platform_auth_failed: cannot delete from %s: %s", u->pr->name,
				    c->error ? c->error : "the platform refused the credentials"),
		       now_ms(), 0);
		return;
	case PUB_FAILED:
	default:
		attempt_end(u, "failed", r, c->error);
		finish(u, NULL,
		       arena_printf(u->a, "%s refused to delete the post: %s", u->pr->name,
				    c->error ? c->error : "no reason given"),
		       now_ms(), 0);
		return;
	}
}

/* something of this item is on the platform and not deleted yet */
static int live(const struct store_post *it)
{
	return it->release_id && *it->release_id && it->published_at &&
	       strcmp(it->state, PS_DELETED);
}

static void ujob_next(struct ujob *u)
{
	struct engine *e = u->l->e;
	int64_t now = now_ms();
	while (u->cur >= 0 && !live(&u->items[u->cur]))
		u->cur--;
	if (u->cur < 0) {
		finish(u, PS_DELETED, NULL, now, 0);
		return;
	}
	if (atomic_load(&e->stopping)) {
		finish(u, PS_DELETING, NULL, now, 0);
		return;
	}
	int64_t lease_ms = e->cfg->lease_seconds * 1000;
	if (u->lease_until - now < lease_ms / 2) {
		u->lease_until = now + lease_ms;
		if (store_unpublish_renew(u->l->st, u->j.root_id, e->owner, u->lease_until)) {
			log_msg(LOG_WARN, "engine", "unpublish %s: lease lost", u->j.root_id);
			ujob_free(u);
			return;
		}
	}
	struct store_post *it = &u->items[u->cur];
	arena_free(u->ia);
	u->ia = arena_new();
	struct pub_ctx *c = &u->ctx;
	engine_item_ctx(c, u->ia, u->cred, u->pr, e->cfg, u->ch, u->items, u->cur);
	c->release_id = it->release_id;
	c->release_url = it->release_url;
	c->release_data = it->release_data;
	handle(u, u->pr->unpublish(c, NULL), NULL);
}

static void ujob_start(struct engine_loop *l, const struct store_job *sj)
{
	struct ujob *u = xcalloc(1, sizeof(*u));
	u->l = l;
	u->a = arena_new();
	u->j = *sj;
	u->j.root_id = arena_strdup(u->a, sj->root_id);
	u->j.org_id = arena_strdup(u->a, sj->org_id);
	u->j.channel_id = arena_strdup(u->a, sj->channel_id);
	u->lease_until = sj->lease_until;
	l->inflight++;
	atomic_fetch_add(&l->e->inflight, 1);
	metrics_inflight(MET_UNPUBLISH, 1);
	/* whatever attempt of this post is still open belongs to a run that
	 * died (nothing else works on a post in state deleting) */
	store_engine_close_open_attempts(l->st, u->j.root_id, "interrupted", now_ms());
	if (store_engine_thread(l->st, u->a, u->j.root_id, &u->items, &u->nitems)) {
		finish(u, NULL, "the post's records could not be read", now_ms(), 0);
		return;
	}
	if (store_channel_get(l->st, u->a, u->j.org_id, u->j.channel_id, &u->ch)) {
		finish(u, NULL, "the channel was removed: herald can no longer reach the platform",
		       now_ms(), 0);
		return;
	}
	u->pr = provider_find(u->ch->provider);
	if (!u->pr || !u->pr->unpublish) {
		finish(u, NULL,
		       arena_printf(u->a, "deleting from %s is not supported", u->ch->provider),
		       now_ms(), 0);
		return;
	}
	u->cred = secret_open_json(u->ch->credentials);
	if (!json_is_object(u->cred)) {
		finish(u, NULL,
		       "the channel's credentials cannot be decrypted (was HERALD_SECRET_KEY changed?)",
		       now_ms(), 0);
		return;
	}
	u->cur = (long)u->nitems - 1;
	ujob_next(u);
}

void unpublish_tick(struct engine_loop *l, int64_t now, int room)
{
	struct engine *e = l->e;
	struct arena *a = arena_new();
	struct store_job *v;
	size_t n = 0;
	if (store_unpublish_claim(l->st, a, e->owner, now, e->cfg->lease_seconds * 1000, room, &v,
				  &n) == 0)
		for (size_t i = 0; i < n; i++)
			ujob_start(l, &v[i]);
	arena_free(a);
}
