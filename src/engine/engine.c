/*
 * engine: see engine.h for the design.  The transitions themselves are in
 * store_engine.c; this file decides which one applies.
 */
#include "engine.h"
#include "../media/ssrf.h"
#include "../core/arena.h"
#include "../core/config.h"
#include "../core/crypto.h"
#include "../core/ids.h"
#include "../core/log.h"
#include "../core/metrics.h"
#include "../core/timeutil.h"
#include "../core/workq.h"
#include "../http/client.h"
#include "../media/media.h"
#include "../preflight/rules.h"
#include "../preflight/text.h"
#include "../providers/provider.h"
#include "../store/store.h"

#include <ctype.h>
#include <curl/curl.h>
#include <event2/event.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"

#define TICK_MS 200
#define CLAIM_BATCH 64
#define HOUSEKEEP_MS 5000
#define RESPONSE_KEEP 65536

struct job {
	struct engine_loop *l;
	struct arena *a;      /* the job's lifetime */
	struct arena *ia;     /* the current item's lifetime */
	struct store_job j;
	struct store_post *items;
	size_t nitems, cur;
	struct store_channel *ch;
	const struct provider *pr;
	json_t *cred;
	struct pub_ctx ctx;
	char attempt[32];
	int refreshed;
	int64_t lease_until;
	struct hresp local; /* answer of a GET served from herald's own storage */
	char refused_ip[64]; /* a media URL of the post led to this guarded address */
};

static void job_next(struct job *jb);

static void free_json(void *p)
{
	json_decref(p);
}

struct engine *engine_new(const struct config *cfg)
{
	struct engine *e = xcalloc(1, sizeof(*e));
	e->cfg = cfg;
	char u[ULID_LEN + 1];
	ulid_new(u);
	snprintf(e->owner, sizeof(e->owner), "w_%s", u);
	pthread_mutex_init(&e->mu, NULL);
	return e;
}

void engine_free(struct engine *e)
{
	if (!e)
		return;
	pthread_mutex_destroy(&e->mu);
	free(e);
}

void engine_stop(struct engine *e)
{
	atomic_store(&e->stopping, 1);
}

int engine_inflight(struct engine *e)
{
	return atomic_load(&e->inflight);
}

/* ---- pacing: per-account minimum interval, enforced by re-queueing ---- */

static int64_t pace_reserve(struct engine *e, const char *channel, long min_ms, int64_t now)
{
	if (min_ms <= 0)
		return 0;
	uint32_t h = 2166136261u;
	for (const char *p = channel; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	pthread_mutex_lock(&e->mu);
	struct pace *s = &e->pace[h % PACE_SLOTS];
	int64_t wait = 0;
	if (!strcmp(s->channel, channel) && s->next > now) {
		wait = s->next;
	} else {
		snprintf(s->channel, sizeof(s->channel), "%s", channel);
		s->next = now + min_ms;
	}
	pthread_mutex_unlock(&e->mu);
	return wait;
}

/* ---- finishing ---- */

static void job_free(struct job *jb)
{
	/* the last claim filled its batch: more is due, claim now instead of
	 * waiting for the next tick */
	if (jb->l->saturated && !atomic_load(&jb->l->e->stopping)) {
		jb->l->saturated = 0;
		event_active(jb->l->tick, EV_TIMEOUT, 0);
	}
	jb->l->inflight--;
	atomic_fetch_sub(&jb->l->e->inflight, 1);
	metrics_inflight(MET_PUBLISH, -1);
	json_decref(jb->cred);
	arena_free(jb->ia);
	arena_free(jb->a);
	free(jb);
}

static void finish(struct job *jb, const char *state, const char *error, int64_t due_at,
		   int add_attempt)
{
	int rc = store_engine_finish(jb->l->st, jb->j.root_id, jb->l->e->owner, state, error,
				     due_at, add_attempt);
	if (rc == STORE_CONFLICT)
		log_msg(LOG_WARN, "engine", "post %s: lease lost before finishing (%s)", jb->j.root_id,
			state);
	else if (rc)
		log_msg(LOG_ERROR, "engine", "post %s: cannot record state %s", jb->j.root_id, state);
	else
		log_msg(LOG_DEBUG, "engine", "post %s -> %s", jb->j.root_id, state);
	job_free(jb);
}

int64_t engine_backoff_ms(const struct config *cfg, int attempts, int64_t retry_after)
{
	int64_t d = cfg->retry_base_ms;
	for (int i = 0; i < attempts && d < 3600000; i++)
		d *= 2;
	if (d > 3600000)
		d = 3600000;
	/* jitter: 50-100% so that a burst of failures does not retry in step */
	d = d / 2 + (int64_t)(randombytes_uniform(1000) * (uint64_t)(d / 2) / 1000);
	return retry_after > d ? retry_after : d;
}

static void retry_later(struct job *jb, const char *why, int64_t retry_after)
{
	int attempts = jb->j.attempts + 1;
	if (attempts >= jb->l->e->cfg->retry_max) {
		finish(jb, PS_FAILED,
		       arena_printf(jb->a, "gave up after %d attempts; last error: %s", attempts, why),
		       now_ms(), 1);
		return;
	}
	finish(jb, PS_QUEUED, arena_printf(jb->a, "attempt %d failed, will retry: %s", attempts, why),
	       now_ms() + engine_backoff_ms(jb->l->e->cfg, jb->j.attempts, retry_after), 1);
}

static void attempt_end(struct job *jb, const char *outcome, const struct hresp *r,
			const char *error)
{
	if (!jb->attempt[0])
		return;
	metrics_attempt(MET_PUBLISH, jb->pr ? jb->pr->identifier : NULL, outcome);
	char *resp = NULL;
	if (r && r->body_len) {
		size_t n = r->body_len > RESPONSE_KEEP ? RESPONSE_KEEP : r->body_len;
		resp = arena_strndup(jb->ia, r->body, n);
	}
	if (store_engine_attempt_end(jb->l->st, jb->attempt, now_ms(), outcome, r ? r->status : 0,
				     resp, error))
		log_msg(LOG_ERROR, "engine", "cannot record attempt %s", jb->attempt);
	jb->attempt[0] = 0;
}

static void thread_done(struct job *jb)
{
	int64_t now = now_ms();
	if (jb->j.interval_days > 0) {
		int64_t step = (int64_t)jb->j.interval_days * 86400000;
		int64_t next = jb->j.publish_at + step;
		while (next <= now)
			next += step;
		if (store_engine_repeat(jb->l->st, jb->j.root_id, jb->l->e->owner, next))
			log_msg(LOG_ERROR, "engine", "post %s: cannot schedule the next repeat",
				jb->j.root_id);
		job_free(jb);
		return;
	}
	finish(jb, PS_PUBLISHED, NULL, now, 0);
}

/* ---- one item ---- */

static void send_step(struct job *jb);
static void handle(struct job *jb, enum pub_status st, const struct hresp *r);

/* A provider refreshed its tokens: keep them for the next post. */
static void save_credentials(struct job *jb)
{
	char *plain = json_dumps(jb->cred, JSON_COMPACT | JSON_SORT_KEYS);
	char *sealed = plain ? secret_seal(plain) : NULL;
	if (plain) {
		sodium_memzero(plain, strlen(plain));
		free(plain);
	}
	if (!sealed || store_channel_set_credentials(jb->l->st, jb->ch->id, sealed))
		log_msg(LOG_ERROR, "engine", "channel %s: cannot store refreshed credentials",
			jb->ch->id);
	free(sealed);
}

/* Hand an answer to the provider's next step. */
static void answer_step(struct job *jb, const struct hresp *r)
{
	struct pub_ctx *c = &jb->ctx;
	c->step++;
	memset(&c->req, 0, sizeof(c->req));
	handle(jb, jb->pr->publish(c, r), r);
}

/* Blocking media work off the loop (core/workq.h): its own arena, handed
 * to the item's arena when the task is back, since the loop may use the
 * item's arena meanwhile (lease renewals). */
struct media_task {
	struct job *jb;
	struct arena *a;
	const struct media_fit *fit;
	/* fetched bytes to fit (fit_fetched) */
	struct hresp r;
	int fitted;
	/* a stored object to read (serve_local_media) */
	const char *name;
	struct store_media *m;
	size_t max;
};

static void free_arena(void *p)
{
	arena_free(p);
}

static void fit_work(void *p)
{
	struct media_task *t = p;
	const void *nb = NULL;
	size_t nl = 0;
	if (media_fit_mem(t->a, t->r.body, t->r.body_len, t->fit, &nb, &nl) == 1) {
		t->r.body = (char *)nb;
		t->r.body_len = nl;
		t->r.headers = "HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\n\r\n";
	}
}

static void fit_done(void *p)
{
	struct media_task *t = p;
	struct job *jb = t->jb;
	arena_defer(jb->ia, free_arena, t->a);
	answer_step(jb, &t->r);
}

/* 1 when the answer went to a worker to be fitted (the step goes on from
 * there), 0 to go on with it as it is. */
static int fit_fetched(struct job *jb, const struct hresp *r)
{
	const struct media_fit *fit = media_fit_for(jb->pr->identifier);
	if (!fit)
		return 0;
	struct arena *a = arena_new();
	struct media_task *t = arena_alloc(a, sizeof(*t));
	memset(t, 0, sizeof(*t));
	t->jb = jb;
	t->a = a;
	t->fit = fit;
	/* curl's answer lives only during its callback: copy it */
	t->r = *r;
	char *b = arena_alloc(a, r->body_len + 1);
	memcpy(b, r->body, r->body_len);
	b[r->body_len] = 0;
	t->r.body = b;
	t->r.headers = r->headers ? arena_strdup(a, r->headers) : NULL;
	t->r.error = NULL;
	if (workq_submit(jb->l->base, fit_work, fit_done, t) == 0)
		return 1;
	fit_work(t);
	fit_done(t);
	return 1;
}

static void on_answer(void *arg, const struct hresp *r)
{
	struct job *jb = arg;
	struct pub_ctx *c = &jb->ctx;
	if (r->curl_code && !c->req.optional) {
		const char *why = arena_printf(jb->a, "%s (%s)", r->error ? r->error : "transport error",
					       c->req.log_url ? c->req.log_url : c->req.url);
		if (jb->refused_ip[0]) {
			attempt_end(jb, "failed", r, why);
			finish(jb, PS_FAILED,
			       arena_printf(jb->a,
					    "a media URL of the post leads to %s, a loopback, private or "
					    "metadata address herald does not fetch from (%s); host the file "
					    "with POST /v1/media, or allow the range with "
					    "HERALD_FETCH_ALLOW_CIDRS",
					    jb->refused_ip, c->req.log_url ? c->req.log_url : c->req.url),
			       now_ms(), 1);
		} else if (c->req.safe && r->curl_code == CURLE_FILESIZE_EXCEEDED) {
			attempt_end(jb, "failed", r, why);
			finish(jb, PS_FAILED,
			       arena_printf(jb->a, "a file of the post is larger than %zu bytes (%s)",
					    c->req.max_response ? c->req.max_response : (size_t)1 << 20,
					    c->req.log_url ? c->req.log_url : c->req.url),
			       now_ms(), 1);
		} else if (!r->sent || c->req.safe) {
			attempt_end(jb, "transport", r, why);
			retry_later(jb, why, 0);
		} else if (jb->pr->flags & PROV_IDEMPOTENT) {
			attempt_end(jb, "transport", r, why);
			retry_later(jb, why, 0);
		} else {
			attempt_end(jb, "unknown", r, why);
			finish(jb, PS_UNCONFIRMED,
			       arena_printf(jb->a,
					    "the request may have reached %s but no answer came (%s); "
					    "check the platform, then retry or resolve",
					    jb->pr->name, why),
			       now_ms(), 1);
		}
		return;
	}
	/* an image fetched from the post's own URL gets the same fitted copy
	 * as a herald-hosted one (serve_local_media), made on a worker and in
	 * memory (not kept: the URL's bytes may change) */
	if (c->req.fit && c->req.user_url && r != &jb->local && !r->curl_code && r->status == 200 &&
	    r->body_len && fit_fetched(jb, r))
		return;
	answer_step(jb, r);
}

/* Act on what the provider said, after the first call (r == NULL) or after
 * an answer. */
static void handle(struct job *jb, enum pub_status st, const struct hresp *r)
{
	struct pub_ctx *c = &jb->ctx;
	if (c->credentials_changed) {
		save_credentials(jb);
		c->credentials_changed = 0;
	}
	switch (st) {
	case PUB_SEND:
		send_step(jb);
		return;
	case PUB_OK: {
		struct store_post *it = &jb->items[jb->cur];
		int64_t now = now_ms();
		/* the last item of a post that does not repeat ends the job in the
		 * same transaction that records it */
		int last = jb->cur + 1 == jb->nitems && jb->j.interval_days <= 0;
		char *resp = NULL;
		if (r && r->body_len)
			resp = arena_strndup(jb->ia, r->body,
					     r->body_len > RESPONSE_KEEP ? RESPONSE_KEEP : r->body_len);
		if (jb->attempt[0])
			metrics_attempt(MET_PUBLISH, jb->pr->identifier, "ok");
		int rc = store_engine_published(jb->l->st, jb->j.root_id, jb->l->e->owner, it->id,
						jb->attempt, c->release_id, c->release_url,
						c->release_data, r ? r->status : 0, resp, last, now);
		jb->attempt[0] = 0;
		if (rc < 0) {
			/* the platform has it but we could not record it: do not retry */
			finish(jb, PS_UNCONFIRMED,
			       "published, but herald could not record the platform's answer", now, 0);
			return;
		}
		if (jb->cur == 0)
			analytics_schedule(jb->l, jb->pr, it->id, jb->j.org_id, jb->j.channel_id, now);
		if (last) {
			if (rc == STORE_CONFLICT)
				log_msg(LOG_WARN, "engine", "post %s: lease lost before finishing (published)",
					jb->j.root_id);
			job_free(jb);
			return;
		}
		it->release_id = arena_strdup(jb->a, c->release_id);
		it->published_at = now;
		jb->j.attempts = 0; /* the retry budget is per item */
		jb->cur++;
		job_next(jb);
		return;
	}
	case PUB_RETRY:
		attempt_end(jb, "retry", r, c->error);
		retry_later(jb, c->error ? c->error : "temporary failure", c->retry_after_ms);
		return;
	case PUB_AUTH_EXPIRED:
		if (jb->pr->refresh && !jb->refreshed) {
			const char *err = NULL;
			jb->refreshed = 1;
			if (jb->pr->refresh(jb->a, jb->cred, &err) == 0) {
				save_credentials(jb);
				attempt_end(jb, "auth_refreshed", r, c->error);
				job_next(jb);
				return;
			}
		}
		attempt_end(jb, "auth", r, c->error);
		finish(jb, PS_FAILED,
		       arena_printf(jb->a, "platform_auth_failed: %s",
				    c->error ? c->error : "the platform refused the credentials"),
		       now_ms(), 1);
		return;
	case PUB_UNKNOWN:
		attempt_end(jb, "unknown", r, c->error);
		finish(jb, PS_UNCONFIRMED, c->error ? c->error : "outcome unknown", now_ms(), 1);
		return;
	case PUB_FAILED:
	default:
		attempt_end(jb, "failed", r, c->error);
		finish(jb, PS_FAILED, c->error ? c->error : "the platform refused the post", now_ms(), 1);
		return;
	}
}

static void send_now(struct job *jb);
static int serve_local_media(struct job *jb);

static void on_delay(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	send_now(arg);
}

/* Keep the lease at least half its length ahead of the next request (sent
 * `delay_ms` from now): between items of a long thread, and between the
 * steps of one item (a video the platform processes for a minute, several
 * large uploads), so that no recoverer takes a post this worker is still
 * publishing.  0, or -1 when the lease is lost (the job is freed then). */
static int lease_keep(struct job *jb, long delay_ms)
{
	struct engine *e = jb->l->e;
	int64_t now = now_ms();
	int64_t lease_ms = e->cfg->lease_seconds * 1000;
	if (delay_ms < 0)
		delay_ms = 0;
	if (jb->lease_until - now >= lease_ms / 2 + delay_ms)
		return 0;
	jb->lease_until = now + delay_ms + lease_ms;
	if (store_engine_renew(jb->l->st, jb->j.root_id, e->owner, jb->lease_until)) {
		log_msg(LOG_WARN, "engine", "post %s: lease lost", jb->j.root_id);
		/* whoever took the post closed the open attempt */
		job_free(jb);
		return -1;
	}
	return 0;
}

static void send_step(struct job *jb)
{
	long d = jb->ctx.req.delay_ms;
	if (lease_keep(jb, d))
		return;
	if (d > 0) {
		struct timeval tv = {d / 1000, (d % 1000) * 1000};
		if (event_base_once(jb->l->base, -1, EV_TIMEOUT, on_delay, jb, &tv) == 0)
			return;
	}
	send_now(jb);
}

/* sock_check of a request to a URL taken from the post (pub_req.user_url) */
static int user_url_check(void *arg, const struct sockaddr *sa, unsigned len)
{
	struct job *jb = arg;
	const struct config *cfg = jb->l->e->cfg;
	return ssrf_refuse(sa, len, (int)cfg->fetch_allow_private, cfg->fetch_allow_cidrs,
			   jb->refused_ip, sizeof(jb->refused_ip));
}

static void send_now(struct job *jb)
{
	struct pub_ctx *c = &jb->ctx;
	struct hreq hr = {
		.method = c->req.method,
		.url = c->req.url,
		.headers = c->req.headers,
		.body = c->req.body,
		.body_len = c->req.body_len,
		.timeout_ms = c->req.timeout_ms,
		.max_response = c->req.max_response,
		.no_reuse = !(jb->pr->flags & PROV_IDEMPOTENT) && !c->req.safe,
	};
	jb->refused_ip[0] = 0;
	if (c->req.user_url) {
		hr.sock_check = user_url_check;
		hr.hook_arg = jb;
	}
	if (!jb->attempt[0]) {
		const char *summary = arena_printf(jb->ia, "%s %s", c->req.method,
						   c->req.log_url ? c->req.log_url : c->req.url);
		if (store_engine_attempt_begin(jb->l->st, jb->items[jb->cur].id, now_ms(), summary,
					       jb->attempt)) {
			/* nothing was sent: safe to try again */
			retry_later(jb, "cannot record the attempt", 0);
			return;
		}
	}
	/* a provider with its own transport (Nostr's WebSockets) answers on
	 * this loop through the same callback */
	if (!jb->pr->send && serve_local_media(jb))
		return;
	int rc = jb->pr->send ? jb->pr->send(c, jb->l->base, on_answer, jb)
			      : hclient_send(jb->l->http, &hr, on_answer, jb);
	if (rc) {
		attempt_end(jb, "transport", NULL, "cannot start the request");
		retry_later(jb, "cannot start the request", 0);
	}
}

static void on_local(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct job *jb = arg;
	on_answer(jb, &jb->local);
}

static void local_answer(struct job *jb, long status, const char *mime, char *body, size_t len)
{
	struct hresp *r = &jb->local;
	memset(r, 0, sizeof(*r));
	r->status = status;
	r->body = body ? body : "";
	r->body_len = len;
	r->headers = arena_printf(jb->ia, "HTTP/1.1 %ld\r\nContent-Type: %s\r\n"
					  "Content-Length: %zu\r\n\r\n", status, mime, len);
	r->sent = 1;
}

/* Making the fitted copy (libvips) and reading the object (a file, or
 * the bucket) block: a worker does both. */
static void local_work(void *p)
{
	struct media_task *t = p;
	struct job *jb = t->jb;
	const char *obj = t->name;
	if (t->fit && media_fit(t->a, t->name, t->m->mime, t->m->bytes, t->m->width, t->m->height,
				t->fit, &obj))
		obj = t->name; /* no copy could be made: the platform judges the original */
	char *body = NULL;
	size_t len = 0;
	int rc = media_read(t->a, obj, t->max, &body, &len);
	struct hresp *r = &jb->local;
	memset(r, 0, sizeof(*r));
	r->sent = 1;
	if (rc == -2) {
		r->status = 413;
		body = "media larger than this platform takes";
		len = strlen(body);
	} else if (rc) {
		r->status = 404;
		body = "media missing from storage";
		len = strlen(body);
	} else {
		r->status = 200;
	}
	r->body = body;
	r->body_len = len;
	r->headers = arena_printf(t->a, "HTTP/1.1 %ld\r\nContent-Type: %s\r\nContent-Length: %zu\r\n\r\n",
				  r->status, r->status == 200 ? media_mime_for_name(obj) : "text/plain", len);
}

static void local_done(void *p)
{
	struct media_task *t = p;
	struct job *jb = t->jb;
	arena_defer(jb->ia, free_arena, t->a);
	on_answer(jb, &jb->local);
}

/* A GET of HERALD_PUBLIC_URL/uploads/<name> is answered from storage
 * (the public URL may not even be reachable from here): only media of the
 * post's own organization, and when the provider asks for a fit, the
 * derivative that fits.  1 when handled (the answer comes on the loop). */
static int serve_local_media(struct job *jb)
{
	struct pub_ctx *c = &jb->ctx;
	const char *pu = jb->l->e->cfg->public_url;
	size_t pl = strlen(pu);
	if (!c->req.url || strcmp(c->req.method, "GET") || strncmp(c->req.url, pu, pl) ||
	    strncmp(c->req.url + pl, "/uploads/", 9))
		return 0;
	const char *name = arena_strndup(jb->ia, c->req.url + pl + 9,
					 strcspn(c->req.url + pl + 9, "?#"));
	size_t max = c->req.max_response ? c->req.max_response : 1 << 20;
	struct store_media *m = NULL;
	int rc = media_name_ok(name) ? store_media_by_name(jb->l->st, jb->ia, jb->j.org_id, name, &m)
				     : STORE_NOTFOUND;
	if (rc == STORE_NOTFOUND) {
		local_answer(jb, 404, "text/plain", "no such media in this organization", 34);
	} else if (rc) {
		local_answer(jb, 503, "text/plain", "storage error", 13);
	} else {
		struct arena *a = arena_new();
		struct media_task *t = arena_alloc(a, sizeof(*t));
		memset(t, 0, sizeof(*t));
		t->jb = jb;
		t->a = a;
		t->fit = c->req.fit ? media_fit_for(jb->pr->identifier) : NULL;
		t->name = arena_strdup(a, name);
		t->m = m; /* in jb->ia: only read by the worker */
		t->max = max;
		if (workq_submit(jb->l->base, local_work, local_done, t) == 0)
			return 1;
		local_work(t);
		arena_defer(jb->ia, free_arena, a);
	}
	struct timeval tv = {0, 0};
	if (event_base_once(jb->l->base, -1, EV_TIMEOUT, on_local, jb, &tv))
		on_answer(jb, &jb->local);
	return 1;
}

void engine_item_ctx(struct pub_ctx *c, struct arena *ia, json_t *cred,
		     const struct provider *pr, const struct config *cfg,
		     const struct store_channel *ch, const struct store_post *items, size_t cur)
{
	const struct store_post *it = &items[cur];
	memset(c, 0, sizeof(*c));
	c->a = ia;
	c->credentials = cred;
	c->base_url = provider_base_url(pr);
	c->public_url = cfg->public_url;
	c->item_id = it->id;
	c->root_id = items[0].id;
	c->group = it->grp;
	c->position = it->position;
	c->content = it->content;
	c->media = json_loads(it->media, 0, NULL);
	if (!json_is_array(c->media)) {
		json_decref(c->media);
		c->media = json_array();
	}
	c->settings = json_loads(it->settings, 0, NULL);
	if (!json_is_object(c->settings)) {
		json_decref(c->settings);
		c->settings = json_object();
	}
	/* freed with the item arena */
	arena_defer(ia, free_json, c->media);
	arena_defer(ia, free_json, c->settings);
	c->publish_at = it->publish_at;
	c->channel_id = ch->id;
	c->channel_name = ch->name;
	if (cur > 0) {
		c->parent_release_id = items[cur - 1].release_id;
		c->root_release_id = items[0].release_id;
	}
}

static void job_next(struct job *jb)
{
	struct engine *e = jb->l->e;
	int64_t now = now_ms();
	while (jb->cur < jb->nitems && jb->items[jb->cur].published_at)
		jb->cur++;
	if (jb->cur >= jb->nitems) {
		thread_done(jb);
		return;
	}
	struct store_post *it = &jb->items[jb->cur];
	if (jb->cur > 0 && it->delay_min > 0) {
		int64_t at = jb->items[jb->cur - 1].published_at + (int64_t)it->delay_min * 60000;
		if (at > now) {
			finish(jb, PS_QUEUED, NULL, at, 0);
			return;
		}
	}
	if (atomic_load(&e->stopping)) {
		/* between items: hand the rest back, due now, instead of starting a
		 * request (after the delay check, so the rest keeps its real time) */
		finish(jb, PS_QUEUED, NULL, now, 0);
		return;
	}
	int64_t wait = pace_reserve(e, jb->ch->id, jb->pr->min_interval_ms, now);
	if (wait) {
		finish(jb, PS_QUEUED, NULL, wait, 0);
		return;
	}
	/* keep the lease comfortably ahead of a long thread */
	if (lease_keep(jb, 0))
		return;
	arena_free(jb->ia);
	jb->ia = arena_new();
	struct pub_ctx *c = &jb->ctx;
	engine_item_ctx(c, jb->ia, jb->cred, jb->pr, e->cfg, jb->ch, jb->items, jb->cur);
	c->repeating = jb->j.interval_days > 0;
	handle(jb, jb->pr->publish(c, NULL), NULL);
}

/* SPEC 6: preflight runs again right before publishing.  A post can reach
 * the engine without the create-time check (a Postiz draft moved to
 * scheduled, a post edited through PUT settings) or its facts may have
 * changed; a post the platform would refuse fails here, permanently and
 * with the rule, instead of costing a request.  Media facts are what the
 * stored path tells (its MIME type); sizes were judged at upload.  NULL
 * when it passes. */
static const char *preflight_again(struct job *jb)
{
	struct pf_target *t = arena_alloc(jb->a, jb->nitems * sizeof(*t));
	json_t *settings = json_loads(jb->items[0].settings ? jb->items[0].settings : "{}", 0, NULL);
	for (size_t i = 0; i < jb->nitems; i++) {
		const struct store_post *it = &jb->items[i];
		json_t *m = json_loads(it->media ? it->media : "[]", 0, NULL);
		size_t nm = json_is_array(m) ? json_array_size(m) : 0;
		struct pf_media *pm = arena_alloc(jb->a, (nm + 1) * sizeof(*pm));
		for (size_t k = 0; k < nm; k++) {
			const char *path = json_string_value(json_object_get(json_array_get(m, k), "path"));
			pm[k] = (struct pf_media){0};
			pm[k].mime = path ? pf_mime_from_path(path) : NULL;
		}
		json_decref(m);
		const char *text = it->content ? it->content : "";
		t[i] = (struct pf_target){
			.platform = jb->ch->provider,
			.text = text,
			.text_is_html = text_has_html_tags(text, strlen(text)),
			.media = pm,
			.nmedia = nm,
			.settings = json_is_object(settings) ? settings : NULL,
		};
	}
	struct pf_violation *v;
	size_t n = 0;
	const char *why = NULL;
	if (pf_check_thread(t, jb->nitems, &v, &n, jb->a) > 0)
		why = arena_printf(jb->a, "preflight %s%s: %s%s", v[0].id,
				   v[0].item > 0 ? arena_printf(jb->a, " (thread item %ld)", v[0].item) : "",
				   v[0].message,
				   n > 1 ? arena_printf(jb->a, " (and %zu more)", n - 1) : "");
	json_decref(settings);
	return why;
}

static void job_start(struct engine_loop *l, const struct store_job *sj)
{
	struct job *jb = xcalloc(1, sizeof(*jb));
	jb->l = l;
	jb->a = arena_new();
	jb->j = *sj;
	jb->j.root_id = arena_strdup(jb->a, sj->root_id);
	jb->j.org_id = arena_strdup(jb->a, sj->org_id);
	jb->j.channel_id = arena_strdup(jb->a, sj->channel_id);
	jb->lease_until = now_ms() + l->e->cfg->lease_seconds * 1000;
	l->inflight++;
	atomic_fetch_add(&l->e->inflight, 1);
	metrics_inflight(MET_PUBLISH, 1);
	if (sj->due_at)
		metrics_lag(now_ms() - sj->due_at);

	int rc = store_engine_thread(l->st, jb->a, jb->j.root_id, &jb->items, &jb->nitems);
	if (rc) {
		finish(jb, PS_FAILED, "the post's content could not be read", now_ms(), 1);
		return;
	}
	if (store_channel_get(l->st, jb->a, jb->j.org_id, jb->j.channel_id, &jb->ch)) {
		finish(jb, PS_FAILED, "the channel was removed", now_ms(), 0);
		return;
	}
	jb->pr = provider_find(jb->ch->provider);
	if (!jb->pr || !jb->pr->publish) {
		finish(jb, PS_FAILED,
		       arena_printf(jb->a, "publishing to %s is not implemented in this herald yet",
				    jb->ch->provider),
		       now_ms(), 0);
		return;
	}
	jb->cred = secret_open_json(jb->ch->credentials);
	if (!json_is_object(jb->cred)) {
		finish(jb, PS_FAILED,
		       "the channel's credentials cannot be decrypted (was HERALD_SECRET_KEY changed?)",
		       now_ms(), 0);
		return;
	}
	const char *why = jb->items[0].published_at ? NULL : preflight_again(jb);
	if (why) {
		finish(jb, PS_FAILED, why, now_ms(), 0);
		return;
	}
	job_next(jb);
}

/* ---- housekeeping (loop 0) ---- */

static void housekeep_store(struct engine *e, struct store *st, int64_t now);

static void housekeep(struct engine_loop *l, int64_t now)
{
	housekeep_store(l->e, l->st, now);
}

void engine_startup(struct engine *e, struct store *st)
{
	housekeep_store(e, st, now_ms());
	analytics_startup(e, st);
}

static void housekeep_store(struct engine *e, struct store *st, int64_t now)
{
	struct arena *a = arena_new();
	struct store_job *v;
	size_t n;
	/* SQLite serves one process: at start every lease is a dead one */
	const char *not_ours = !e->recovered_once && !e->cfg->database_url[0] ? e->owner : NULL;
	if (store_engine_expired(st, a, now, not_ours, &v, &n) == 0) {
		for (size_t i = 0; i < n; i++) {
			const struct provider *pr = provider_find(v[i].provider);
			int open = 0;
			store_engine_open_attempt(st, v[i].root_id, &open);
			int safe = !open || (pr && (pr->flags & PROV_IDEMPOTENT));
			store_engine_close_open_attempts(st, v[i].root_id, safe ? "interrupted" : "unknown",
							 now);
			int rc = store_engine_recover(
				st, v[i].root_id, v[i].lease_until, safe ? PS_QUEUED : PS_UNCONFIRMED,
				safe ? NULL
				     : "herald stopped while the post was being sent; the platform may or may "
				       "not have it: check it, then retry or resolve",
				now);
			if (rc == 0)
				log_msg(LOG_INFO, "engine", "recovered post %s -> %s", v[i].root_id,
					safe ? PS_QUEUED : PS_UNCONFIRMED);
		}
	}
	/* unpublish jobs of a dead SQLite process: claimable at once (deleting
	 * is idempotent, so they simply run again) */
	if (not_ours && store_unpublish_release(st, e->owner))
		log_msg(LOG_ERROR, "engine", "cannot release old unpublish leases");
	e->recovered_once = 1;
	int swept = 0;
	if (store_engine_sweep_overdue(st, now, e->cfg->overdue_horizon * 1000, &swept) == 0 &&
	    swept)
		log_msg(LOG_WARN, "engine", "%d overdue posts failed (older than the horizon)", swept);
	arena_free(a);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct engine_loop *l = arg;
	struct engine *e = l->e;
	int64_t now = now_ms();
	struct timeval tv = {0, TICK_MS * 1000};
	if (atomic_load(&e->stopping))
		return;
	if (l->index == 0 && now - l->last_housekeep >= HOUSEKEEP_MS) {
		housekeep(l, now);
		l->last_housekeep = now;
	}
	int room = MAX_INFLIGHT - l->inflight;
	if (room > CLAIM_BATCH)
		room = CLAIM_BATCH;
	l->saturated = room <= 0;
	if (room > 0) {
		struct arena *a = arena_new();
		struct store_job *v;
		size_t n = 0;
		if (store_engine_claim(l->st, a, e->owner, now, e->cfg->lease_seconds * 1000, room, &v,
				       &n) == 0) {
			for (size_t i = 0; i < n; i++)
				job_start(l, &v[i]);
			if ((int)n == room)
				l->saturated = 1; /* more may be due */
		}
		arena_free(a);
		/* deletions from platforms share the loop's in-flight budget */
		room = MAX_INFLIGHT - l->inflight;
		if (room > 0)
			unpublish_tick(l, now, room > 8 ? 8 : room);
		/* metrics samples too, after the work that changes platforms
		 * (reads: a larger share, so a burst of due samples drains fast) */
		room = MAX_INFLIGHT - l->inflight;
		if (room > 0)
			analytics_tick(l, now, room > 32 ? 32 : room);
	}
	evtimer_add(l->tick, &tv);
}

struct engine_loop *engine_loop_new(struct engine *e, int index, struct event_base *base,
				    struct store *st)
{
	struct engine_loop *l = xcalloc(1, sizeof(*l));
	l->e = e;
	l->index = index;
	l->base = base;
	l->st = st;
	l->last_housekeep = now_ms();
	l->http = hclient_new(base);
	l->tick = evtimer_new(base, on_tick, l);
	/* spread the loops' ticks so that they do not claim in lockstep */
	struct timeval tv = {0, (index * 37 % TICK_MS) * 1000};
	evtimer_add(l->tick, &tv);
	return l;
}

void engine_loop_free(struct engine_loop *l)
{
	if (!l)
		return;
	event_free(l->tick);
	/* transfers still running are abandoned: their posts keep the lease and
	 * are recovered (queued or unconfirmed) at the next start */
	hclient_free(l->http);
	free(l);
}

struct store *engine_loop_store(struct engine_loop *l)
{
	return l->st;
}
