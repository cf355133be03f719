/*
 * native_posts: the native /v1/posts API (SPEC 4).
 *
 * One request, many targets.  A target names an account (`accountId`) or a
 * `platform`: validate takes a bare platform (a dry run before any account
 * is connected); create resolves it to the organization's only account of
 * that platform.  Per-target `text`, `media`, `thread` and `options`
 * override the post's.  Text is plain text (not Postiz HTML).
 *
 * Storage: a native post is a batch (store_native.c) of one thread per
 * target, written in one transaction: all targets or none.  Each target
 * then lives its own life in the engine (state, retries, attempts); the
 * post's status is derived from its targets' states.
 *
 * Media items are stored in Postiz's shape [{id, path, alt?}] so that the
 * providers read one format whichever API created the post.
 */
#include "api.h"
#include "../media/media.h"
#include "../core/arena.h"
#include "../core/config.h"
#include "../core/ids.h"
#include "../core/log.h"
#include "../core/timeutil.h"
#include "../engine/slots.h"
#include "../preflight/rules.h"
#include "../preflight/text.h"
#include "../providers/provider.h"
#include "../store/store.h"

#include <event2/event.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TARGETS 50
#define MAX_ITEMS 100
#define MAX_MEDIA 50
#define MAX_TAGS 50
#define PAST_GRACE_MS 60000
#define NOW_WAIT_MS 10000  /* publishNow: how long the answer waits for results */
#define NOW_POLL_MS 200

struct item_in {
	const char *text;
	struct pf_media *media;
	size_t nmedia;
	const char *media_json; /* stored form, [{id, path, alt?}] */
};

struct target {
	const char *acc, *plat;
	struct store_channel *ch; /* NULL: a bare platform (validate only) */
	const char *text;
	struct item_in root;
	struct item_in *thread;
	size_t nthread;
	json_t *opts;
	int has_text, has_media, has_thread; /* overrides present */
};

struct native_req {
	const char *text;
	struct item_in media; /* the post's media (text unused) */
	struct item_in *thread;
	size_t nthread;
	const char *first_comment;
	struct target *t;
	size_t nt;
};

/* media: [ "url" | {url?, mediaId?, alt?, mime?, bytes?, width?, height?, duration?} ] */
static int parse_media(struct call *c, json_t *arr, const char *path, struct item_in *out)
{
	out->media = NULL;
	out->nmedia = 0;
	out->media_json = "[]";
	if (!arr || json_is_null(arr))
		return 0;
	if (!json_is_array(arr) || json_array_size(arr) > MAX_MEDIA) {
		api_fail(c, HERR_VALIDATION, path, "%s must be an array of at most %d media", path,
			 MAX_MEDIA);
		return -1;
	}
	size_t n = json_array_size(arr);
	out->nmedia = n;
	out->media = arena_alloc(c->a, (n + 1) * sizeof(*out->media));
	json_t *stored = json_array();
	size_t i;
	json_t *m;
	json_array_foreach(arr, i, m) {
		struct pf_media *pm = &out->media[i];
		const char *ip = arena_printf(c->a, "%s[%zu]", path, i);
		if (!json_is_string(m) && !json_is_object(m)) {
			api_fail(c, HERR_VALIDATION, ip, "%s must be a URL or an object", ip);
			goto fail;
		}
		const char *url = json_is_string(m) ? json_string_value(m) : NULL;
		const char *mime = NULL, *mid = NULL, *alt = NULL;
		long long bytes = 0, w = 0, h = 0;
		if (json_is_object(m) &&
		    (api_get_str(c, m, "url", arena_printf(c->a, "%s.url", ip), 0, &url) ||
		     api_get_str(c, m, "mediaId", arena_printf(c->a, "%s.mediaId", ip), 0, &mid) ||
		     api_get_str(c, m, "alt", arena_printf(c->a, "%s.alt", ip), 0, &alt) ||
		     api_get_str(c, m, "mime", arena_printf(c->a, "%s.mime", ip), 0, &mime) ||
		     api_get_int(c, m, "bytes", arena_printf(c->a, "%s.bytes", ip), 0, 0, (1LL << 40), &bytes) ||
		     api_get_int(c, m, "width", arena_printf(c->a, "%s.width", ip), 0, 0, 1000000, &w) ||
		     api_get_int(c, m, "height", arena_printf(c->a, "%s.height", ip), 0, 0, 1000000, &h)))
			goto fail;
		json_t *d = json_is_object(m) ? json_object_get(m, "duration") : NULL;
		if (d && !json_is_number(d)) {
			api_fail(c, HERR_VALIDATION, arena_printf(c->a, "%s.duration", ip),
				 "%s.duration must be a number of seconds", ip);
			goto fail;
		}
		if (mid) {
			/* a media library id: its URL under HERALD_PUBLIC_URL/uploads */
			struct store_media *sm;
			int rc = store_media_get(c->st, c->a, c->org_id, mid, &sm);
			if (rc == STORE_NOTFOUND) {
				api_fail(c, HERR_VALIDATION, arena_printf(c->a, "%s.mediaId", ip),
					 "%s.mediaId: no media %s in this organization (upload it with POST /v1/media)",
					 ip, mid);
				goto fail;
			}
			if (rc) {
				api_fail_storage(c);
				goto fail;
			}
			if (!url)
				url = arena_printf(c->a, "%s/uploads/%s", c->app->cfg->public_url, sm->name);
		}
		if (!url || (strncmp(url, "http://", 7) && strncmp(url, "https://", 8))) {
			api_fail(c, HERR_VALIDATION, arena_printf(c->a, "%s.url", ip),
				 "%s.url must be an absolute http(s) URL", ip);
			goto fail;
		}
		pm->mime = mime ? mime : pf_mime_from_path(url);
		pm->bytes = bytes;
		pm->width = (int)w;
		pm->height = (int)h;
		pm->duration_s = d ? json_number_value(d) : 0;
		/* media herald hosts: the stored facts win over declared ones */
		api_media_facts(c, mid, url, NULL, pm);
		json_t *o = json_pack("{s:s,s:s}", "id", mid ? mid : "", "path", url);
		if (alt)
			json_object_set_new(o, "alt", json_string(alt));
		json_array_append_new(stored, o);
	}
	char *sj = json_dumps(stored, JSON_COMPACT);
	out->media_json = arena_strdup(c->a, sj ? sj : "[]");
	free(sj);
	json_decref(stored);
	return 0;
fail:
	json_decref(stored);
	return -1;
}

static int media_fits_any(const char *plat)
{
	return media_fit_for(plat) != NULL;
}

/* A copy of n media adjusted for plat (api_media_fit_facts); the shared
 * arrays of the request are never changed, other targets read them too. */
static struct pf_media *fit_copy(struct call *c, struct pf_media *m, size_t n, const char *plat)
{
	if (!m || !n || !media_fits_any(plat))
		return m;
	struct pf_media *cp = arena_alloc(c->a, n * sizeof(*cp));
	memcpy(cp, m, n * sizeof(*cp));
	api_media_fit_facts(plat, cp, n);
	return cp;
}

/* Stored media [{id, path}] back into preflight's facts: the stored facts
 * of media herald hosts, else the MIME from the path (the stored form has
 * no more). */
static void media_from_stored(struct call *c, const char *stored, struct item_in *it)
{
	json_t *m = json_loads(stored ? stored : "[]", 0, NULL);
	size_t n = json_is_array(m) ? json_array_size(m) : 0;
	it->media = arena_alloc(c->a, (n + 1) * sizeof(*it->media));
	it->nmedia = n;
	it->media_json = stored;
	for (size_t i = 0; i < n; i++) {
		json_t *e = json_array_get(m, i);
		const char *path = json_string_value(json_object_get(e, "path"));
		it->media[i] = (struct pf_media){0};
		it->media[i].mime = path ? pf_mime_from_path(arena_strdup(c->a, path)) : NULL;
		api_media_facts(c, json_string_value(json_object_get(e, "id")), path, NULL, &it->media[i]);
	}
	json_decref(m);
}

/* thread: [ "text" | {text, media?} ] */
static int parse_thread(struct call *c, json_t *arr, const char *path, struct item_in **out,
			size_t *n)
{
	*out = NULL;
	*n = 0;
	if (!arr || json_is_null(arr))
		return 0;
	if (!json_is_array(arr) || json_array_size(arr) > MAX_ITEMS) {
		api_fail(c, HERR_VALIDATION, path, "%s must be an array of at most %d items", path,
			 MAX_ITEMS);
		return -1;
	}
	*n = json_array_size(arr);
	*out = arena_alloc(c->a, (*n + 1) * sizeof(**out));
	size_t i;
	json_t *t;
	json_array_foreach(arr, i, t) {
		const char *ip = arena_printf(c->a, "%s[%zu]", path, i);
		struct item_in *it = &(*out)[i];
		it->media_json = "[]";
		if (json_is_string(t)) {
			it->text = json_string_value(t);
			continue;
		}
		if (!json_is_object(t)) {
			api_fail(c, HERR_VALIDATION, ip, "%s must be a string or {text, media}", ip);
			return -1;
		}
		if (api_get_str(c, t, "text", arena_printf(c->a, "%s.text", ip), 0, &it->text) ||
		    parse_media(c, json_object_get(t, "media"), arena_printf(c->a, "%s.media", ip), it))
			return -1;
	}
	return 0;
}

/* The organization's one account on `plat` (create with {platform}). */
static int account_of_platform(struct call *c, const char *plat, const char *tp,
			       struct store_channel **out)
{
	struct store_channel *v;
	size_t n, found = 0;
	if (store_channel_list(c->st, c->a, c->org_id, NULL, &v, &n)) {
		api_fail_storage(c);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i].provider, plat)) {
			if (!found)
				*out = &v[i];
			found++;
		}
	if (found == 1)
		return 0;
	if (!found)
		api_fail(c, HERR_VALIDATION, arena_printf(c->a, "%s.platform", tp),
			 "no %s account is connected in this organization; connect one "
			 "(POST /v1/accounts) or name an accountId", plat);
	else
		api_fail(c, HERR_VALIDATION, arena_printf(c->a, "%s.platform", tp),
			 "%zu %s accounts are connected; name the one to use with accountId", found,
			 plat);
	return -1;
}

/* Body -> request.  for_create: every target resolves to an account. */
static int parse_req(struct call *c, json_t *body, int for_create, struct native_req *q)
{
	memset(q, 0, sizeof(*q));
	if (api_get_str(c, body, "text", "text", 0, &q->text) ||
	    parse_media(c, json_object_get(body, "media"), "media", &q->media) ||
	    parse_thread(c, json_object_get(body, "thread"), "thread", &q->thread, &q->nthread) ||
	    api_get_str(c, body, "firstComment", "firstComment", 0, &q->first_comment))
		return -1;
	json_t *targets = json_object_get(body, "targets");
	if (!json_is_array(targets) || json_array_size(targets) == 0 ||
	    json_array_size(targets) > MAX_TARGETS) {
		api_fail(c, HERR_VALIDATION, "targets",
			 "targets must be an array of 1 to %d {accountId} or {platform}", MAX_TARGETS);
		return -1;
	}
	q->nt = json_array_size(targets);
	q->t = arena_alloc(c->a, q->nt * sizeof(*q->t));
	size_t ti;
	json_t *t;
	json_array_foreach(targets, ti, t) {
		struct target *g = &q->t[ti];
		memset(g, 0, sizeof(*g));
		const char *tp = arena_printf(c->a, "targets[%zu]", ti);
		if (!json_is_object(t)) {
			api_fail(c, HERR_VALIDATION, tp, "%s must be {accountId} or {platform}", tp);
			return -1;
		}
		if (api_get_str(c, t, "accountId", arena_printf(c->a, "%s.accountId", tp), 0, &g->acc) ||
		    api_get_str(c, t, "platform", arena_printf(c->a, "%s.platform", tp), 0, &g->plat) ||
		    api_get_str(c, t, "text", arena_printf(c->a, "%s.text", tp), 0, &g->text))
			return -1;
		if (g->acc) {
			int rc = id_valid(g->acc)
				? store_channel_get(c->st, c->a, c->org_id, g->acc, &g->ch)
				: STORE_NOTFOUND;
			if (rc == STORE_NOTFOUND) {
				api_fail(c, HERR_NOT_FOUND, arena_printf(c->a, "%s.accountId", tp),
					 "no account %s in this organization", g->acc);
				return -1;
			}
			if (rc) {
				api_fail_storage(c);
				return -1;
			}
			if (g->plat && strcmp(g->plat, g->ch->provider)) {
				api_fail(c, HERR_VALIDATION, arena_printf(c->a, "%s.platform", tp),
					 "account %s is on %s, not %s", g->acc, g->ch->provider, g->plat);
				return -1;
			}
			g->plat = g->ch->provider;
		}
		if (!g->plat) {
			api_fail(c, HERR_VALIDATION, tp, "%s needs an accountId or a platform", tp);
			return -1;
		}
		if (!pf_platform_name(g->plat)) {
			api_fail(c, HERR_VALIDATION, arena_printf(c->a, "%s.platform", tp),
				 "unknown platform '%s'; GET /v1/platforms lists them", g->plat);
			return -1;
		}
		if (for_create && !g->ch) {
			if (account_of_platform(c, g->plat, tp, &g->ch))
				return -1;
			g->acc = g->ch->id;
		}
		if (for_create) {
			for (size_t k = 0; k < ti; k++)
				if (!strcmp(q->t[k].ch->id, g->ch->id)) {
					api_fail(c, HERR_VALIDATION, tp,
						 "%s names account %s again (targets[%zu]); one target per account",
						 tp, g->ch->id, k);
					return -1;
				}
			if (g->ch->disabled) {
				api_fail(c, HERR_INVALID_STATE, arena_printf(c->a, "%s.accountId", tp),
					 "account %s is disabled", g->ch->id);
				return -1;
			}
		}
		json_t *opts = json_object_get(t, "options");
		if (opts && !json_is_null(opts) && !json_is_object(opts)) {
			api_fail(c, HERR_VALIDATION, arena_printf(c->a, "%s.options", tp),
				 "%s.options must be an object", tp);
			return -1;
		}
		g->opts = json_is_object(opts) ? opts : NULL;
		g->root = q->media;
		g->root.text = g->text ? g->text : q->text ? q->text : "";
		g->thread = q->thread;
		g->nthread = q->nthread;
		if (json_object_get(t, "media") &&
		    parse_media(c, json_object_get(t, "media"), arena_printf(c->a, "%s.media", tp),
				&g->root))
			return -1;
		g->root.text = g->text ? g->text : q->text ? q->text : "";
		if (json_object_get(t, "thread") &&
		    parse_thread(c, json_object_get(t, "thread"), arena_printf(c->a, "%s.thread", tp),
				 &g->thread, &g->nthread))
			return -1;
		if (q->first_comment && *q->first_comment) {
			/* a first comment is the author's own first reply: it exists
			 * where the platform has replies */
			const struct provider *pr = provider_find(g->plat);
			if (for_create && (!pr || !(pr->flags & PROV_THREADS))) {
				api_fail(c, HERR_VALIDATION, "firstComment",
					 "%s (%s) has no replies to carry a first comment; remove "
					 "firstComment or this target", tp, g->plat);
				return -1;
			}
			struct item_in *nt = arena_alloc(c->a, (g->nthread + 2) * sizeof(*nt));
			if (g->nthread)
				memcpy(nt, g->thread, g->nthread * sizeof(*nt));
			nt[g->nthread] = (struct item_in){q->first_comment, NULL, 0, "[]"};
			g->thread = nt;
			g->nthread++;
		}
	}
	return 0;
}

/* Preflight of one target: violations appended to `all` (and `tv`). */
static int preflight_target(struct call *c, const struct target *g, size_t ti, json_t *all,
			    json_t *tv)
{
	size_t n = 1 + g->nthread;
	struct pf_target *items = arena_alloc(c->a, n * sizeof(*items));
	/* per platform: an image herald will send as a fitting copy */
	items[0] = (struct pf_target){g->plat, g->root.text, 0,
				      fit_copy(c, g->root.media, g->root.nmedia, g->plat), g->root.nmedia,
				      g->opts};
	for (size_t k = 0; k < g->nthread; k++)
		items[k + 1] = (struct pf_target){g->plat, g->thread[k].text ? g->thread[k].text : "", 0,
						  fit_copy(c, g->thread[k].media, g->thread[k].nmedia, g->plat),
						  g->thread[k].nmedia, g->opts};
	struct pf_violation *v;
	size_t nv;
	if (pf_check_thread(items, n, &v, &nv, c->a) < 0)
		return -1;
	for (size_t k = 0; k < nv; k++) {
		json_t *j = pf_violation_json(&v[k]);
		json_object_set_new(j, "target", json_integer((json_int_t)ti));
		if (g->acc)
			json_object_set_new(j, "accountId", json_string(g->acc));
		json_array_append(all, j);
		if (tv)
			json_array_append(tv, j);
		json_decref(j);
	}
	return 0;
}

void h_posts_validate(void *p)
{
	struct call *c = p;
	json_t *body = api_body_object(c);
	if (!body)
		return;
	struct native_req q;
	if (parse_req(c, body, 0, &q))
		return;
	json_t *all = json_array(), *per = json_array();
	for (size_t ti = 0; ti < q.nt; ti++) {
		json_t *tv = json_array();
		if (preflight_target(c, &q.t[ti], ti, all, tv)) {
			json_decref(tv);
			json_decref(all);
			json_decref(per);
			api_fail(c, HERR_INTERNAL, NULL, "preflight could not run");
			return;
		}
		json_array_append_new(per, json_pack("{s:i,s:s,s:s?,s:b,s:o}", "target", (int)ti,
						     "platform", q.t[ti].plat, "accountId", q.t[ti].acc,
						     "valid", json_array_size(tv) == 0, "violations", tv));
	}
	api_reply(c, 200, json_pack("{s:b,s:o,s:o}", "valid", json_array_size(all) == 0, "violations",
				    all, "targets", per));
}

/* ---- the post as the API shows it ---- */

static json_t *nullable(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *iso_or_null(int64_t ms)
{
	char b[32];
	if (!ms)
		return json_null();
	iso_format(ms, b);
	return json_string(b);
}

/* The post's status from its targets' states. */
static const char *aggregate(const struct store_post *rows, size_t n)
{
	int cnt_pub = 0, cnt_fail = 0, cnt_unc = 0, cnt_q = 0, cnt_draft = 0, cnt_publishing = 0,
	    cnt_cancel = 0, cnt_deleting = 0, cnt_deleted = 0, roots = 0;
	for (size_t i = 0; i < n && !rows[i].parent_id; i++) {
		const char *s = rows[i].state;
		roots++;
		if (!strcmp(s, PS_PUBLISHED)) cnt_pub++;
		else if (!strcmp(s, PS_FAILED)) cnt_fail++;
		else if (!strcmp(s, PS_UNCONFIRMED)) cnt_unc++;
		else if (!strcmp(s, PS_QUEUED)) cnt_q++;
		else if (!strcmp(s, PS_DRAFT)) cnt_draft++;
		else if (!strcmp(s, PS_PUBLISHING)) cnt_publishing++;
		else if (!strcmp(s, PS_CANCELED)) cnt_cancel++;
		else if (!strcmp(s, PS_DELETING)) cnt_deleting++;
		else if (!strcmp(s, PS_DELETED)) cnt_deleted++;
	}
	if (cnt_publishing)
		return PS_PUBLISHING;
	/* unpublish (unpublish.c): being deleted from, or deleted on, the platform */
	if (cnt_deleting)
		return PS_DELETING;
	if (cnt_deleted && cnt_deleted + cnt_cancel == roots)
		return PS_DELETED;
	if (cnt_q)
		return cnt_pub ? PS_PUBLISHING : PS_QUEUED;
	if (cnt_draft)
		return PS_DRAFT;
	if (cnt_pub == roots)
		return PS_PUBLISHED;
	if (cnt_pub)
		return "partially_published";
	if (cnt_unc)
		return PS_UNCONFIRMED;
	if (cnt_fail)
		return PS_FAILED;
	return PS_CANCELED;
}

static int terminal(const char *s)
{
	return strcmp(s, PS_QUEUED) && strcmp(s, PS_PUBLISHING) && strcmp(s, PS_DRAFT);
}

static json_t *media_of(const char *stored)
{
	json_t *m = json_loads(stored ? stored : "[]", 0, NULL);
	return m ? m : json_array();
}

static json_t *attempts_of(struct call *c, const struct store_post *root)
{
	struct store_attempt *v;
	size_t n;
	json_t *arr = json_array();
	if (store_post_attempts(c->st, c->a, c->org_id, root->grp, &v, &n))
		return arr;
	for (size_t i = 0; i < n; i++) {
		json_t *o = json_pack("{s:s,s:s,s:o,s:o,s:s,s:o,s:o,s:o,s:o}", "id", v[i].id, "itemId",
				      v[i].post_id, "startedAt", iso_or_null(v[i].started_at),
				      "finishedAt", iso_or_null(v[i].finished_at), "outcome",
				      v[i].outcome, "httpStatus",
				      v[i].http_status ? json_integer(v[i].http_status) : json_null(),
				      "error", nullable(v[i].error), "request", nullable(v[i].request),
				      "platformResponse", nullable(v[i].response));
		json_object_set_new(o, "kind", nullable(v[i].kind)); /* publish | unpublish */
		json_array_append_new(arr, o);
	}
	return arr;
}

static json_t *post_json(struct call *c, const char *id, const struct store_post *rows, size_t n,
			 int with_attempts)
{
	const struct store_post *first = &rows[0];
	json_t *targets = json_array();
	int64_t created = first->created_at, updated = 0, sched = first->publish_at;
	for (size_t i = 0; i < n && !rows[i].parent_id; i++) {
		const struct store_post *r = &rows[i];
		if (r->created_at < created)
			created = r->created_at;
		if (r->publish_at < sched)
			sched = r->publish_at;
		json_t *thread = json_array();
		for (size_t k = 0; k < n; k++) {
			const struct store_post *it = &rows[k];
			if (it->parent_id && !strcmp(it->grp, r->grp))
				json_array_append_new(
					thread, json_pack("{s:s,s:s,s:o,s:s,s:o,s:o,s:i}", "id", it->id,
							  "text", it->content, "media", media_of(it->media),
							  "status", it->state, "releaseId",
							  nullable(it->release_id), "releaseUrl",
							  nullable(it->release_url), "delayMinutes",
							  it->delay_min));
		}
		for (size_t k = 0; k < n; k++)
			if (rows[k].updated_at > updated && !strcmp(rows[k].grp, r->grp))
				updated = rows[k].updated_at;
		json_t *settings = json_loads(r->settings ? r->settings : "{}", 0, NULL);
		if (json_is_object(settings))
			json_object_del(settings, "__type");
		json_t *o = json_pack(
			"{s:s,s:s,s:s,s:s,s:s,s:s,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "id", r->id,
			"accountId", r->channel_id, "platform", r->channel_provider, "accountName",
			r->channel_name, "status", r->state, "text", r->content, "media",
			media_of(r->media), "scheduledAt", iso_or_null(r->publish_at), "releaseId",
			nullable(r->release_id), "releaseUrl", nullable(r->release_url), "error",
			nullable(r->error), "publishedAt", iso_or_null(r->published_at), "options",
			settings ? settings : json_object(), "thread", thread);
		json_object_set_new(o, "attemptCount", json_integer(r->attempts));
		if (with_attempts)
			json_object_set_new(o, "attempts", attempts_of(c, r));
		json_array_append_new(targets, o);
	}
	json_t *tags = json_array();
	for (size_t k = 0; k < first->ntags; k++)
		json_array_append_new(tags, json_string(first->tags[k].name));
	return json_pack("{s:s,s:s,s:s,s:o,s:o,s:o,s:s,s:o,s:o}", "id", id, "status",
			 aggregate(rows, n), "text", first->content, "scheduledAt", iso_or_null(sched),
			 "createdAt", iso_or_null(created), "updatedAt", iso_or_null(updated),
			 "creationMethod", first->creation_method ? first->creation_method : "API",
			 "tags", tags, "targets", targets);
}

/* Load and answer the post; 0 when found and answered. */
static int reply_post(struct call *c, const char *id, int status)
{
	struct store_post *rows;
	size_t n;
	int rc = store_native_rows(c->st, c->a, c->org_id, id, &rows, &n);
	if (rc == STORE_NOTFOUND) {
		api_fail(c, HERR_NOT_FOUND, "id", "no post %s in this organization", id);
		return -1;
	}
	if (rc) {
		api_fail_storage(c);
		return -1;
	}
	api_reply(c, status, post_json(c, id, rows, n, 1));
	return 0;
}

/* ---- publishNow: answer with the results when they come in time ---- */

struct now_wait {
	struct call *c;
	struct event *ev;
	const char *id;
	int64_t deadline;
};

static void now_poll(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct now_wait *w = arg;
	struct call *c = w->c;
	struct store_post *rows;
	size_t n;
	int rc = store_native_rows(c->st, c->a, c->org_id, w->id, &rows, &n);
	int done = 1;
	for (size_t i = 0; rc == 0 && i < n && !rows[i].parent_id; i++)
		if (!terminal(rows[i].state))
			done = 0;
	if (rc == 0 && !done && now_ms() < w->deadline) {
		struct timeval tv = {0, NOW_POLL_MS * 1000};
		evtimer_add(w->ev, &tv);
		return;
	}
	event_free(w->ev);
	if (rc) {
		api_fail_storage(c);
		return;
	}
	/* finished in time: 200 with every target's result; else 202 as queued */
	api_reply(c, done ? 200 : 202, post_json(c, w->id, rows, n, 1));
}

static void wait_then_reply(struct call *c, const char *id)
{
	if (!c->base) {
		reply_post(c, id, 202);
		return;
	}
	struct now_wait *w = arena_alloc(c->a, sizeof(*w));
	w->c = c;
	w->id = id;
	w->deadline = now_ms() + NOW_WAIT_MS;
	w->ev = evtimer_new(c->base, now_poll, w);
	if (!w->ev) {
		reply_post(c, id, 202);
		return;
	}
	api_defer(c);
	struct timeval tv = {0, NOW_POLL_MS * 1000};
	evtimer_add(w->ev, &tv);
}

/* ---- routes ---- */

static int parse_tags(struct call *c, json_t *body, const char ***out, size_t *n)
{
	*out = NULL;
	*n = 0;
	json_t *tags = json_object_get(body, "tags");
	if (!tags || json_is_null(tags))
		return 0;
	if (!json_is_array(tags) || json_array_size(tags) > MAX_TAGS) {
		api_fail(c, HERR_VALIDATION, "tags", "tags must be an array of at most %d labels",
			 MAX_TAGS);
		return -1;
	}
	*out = arena_alloc(c->a, (json_array_size(tags) + 1) * sizeof(char *));
	size_t i;
	json_t *t;
	json_array_foreach(tags, i, t) {
		if (!json_is_string(t) || !json_string_length(t) || json_string_length(t) > 100) {
			api_fail(c, HERR_VALIDATION, arena_printf(c->a, "tags[%zu]", i),
				 "tags[%zu] must be a label of 1 to 100 characters", i);
			return -1;
		}
		(*out)[(*n)++] = json_string_value(t);
	}
	for (size_t k = 0; k < *n; k++) {
		char *tid;
		if (store_tag_ensure(c->st, c->a, c->org_id, (*out)[k], NULL, &tid)) {
			api_fail_storage(c);
			return -1;
		}
	}
	return 0;
}

static int fail_preflight(struct call *c, json_t *all)
{
	size_t nv = json_array_size(all);
	if (!nv)
		return 0;
	json_t *v0 = json_array_get(all, 0);
	int t0 = (int)json_integer_value(json_object_get(v0, "target"));
	long item = (long)json_integer_value(json_object_get(v0, "item"));
	const char *field = item > 0 ? arena_printf(c->a, "targets[%d].thread[%ld]", t0, item - 1)
				     : arena_printf(c->a, "targets[%d]", t0);
	const char *msg = json_string_value(json_object_get(v0, "message"));
	api_fail_violations(c, HERR_PREFLIGHT, field,
			    json_string_value(json_object_get(v0, "rule")),
			    json_string_value(json_object_get(v0, "platform")), all,
			    "%s: %s%s", field, msg ? msg : "preflight failed",
			    nv > 1 ? arena_printf(c->a, " (and %zu more: see error.violations)", nv - 1)
				   : "");
	return -1;
}

/* A create request made ready to write: every check done, nothing stored. */
struct prepared {
	char id[ULID_LEN + 1];
	struct store_post_write *w;
	size_t nt;
	int now_flag;
};

/* Parse, check and preflight one create body; 0, or -1 when it has
 * answered (the error). */
static int create_prepare(struct call *c, json_t *body, struct prepared *out)
{
	const char *sched = NULL;
	int now_flag = 0, draft = 0, queue = 0;
	if (api_get_str(c, body, "scheduledAt", "scheduledAt", 0, &sched) ||
	    api_get_bool(c, body, "publishNow", "publishNow", 0, &now_flag) ||
	    api_get_bool(c, body, "draft", "draft", 0, &draft) ||
	    api_get_bool(c, body, "queue", "queue", 0, &queue))
		return -1;
	if ((sched != NULL) + now_flag + queue > 1) {
		api_fail(c, HERR_VALIDATION, sched ? "scheduledAt" : "publishNow",
			 "give one of scheduledAt, publishNow and queue");
		return -1;
	}
	if (!sched && !now_flag && !queue && !draft) {
		api_fail(c, HERR_VALIDATION, "scheduledAt",
			 "say when: scheduledAt (ISO 8601), publishNow: true, queue: true (the "
			 "account's next free slot) or draft: true");
		return -1;
	}
	if (draft && now_flag) {
		api_fail(c, HERR_VALIDATION, "publishNow", "a draft cannot be published now");
		return -1;
	}
	int64_t now = now_ms(), when = now;
	if (sched) {
		if (iso_parse(sched, &when)) {
			api_fail(c, HERR_VALIDATION, "scheduledAt",
				 "scheduledAt must be an ISO 8601 date-time with a zone, e.g. "
				 "2026-12-01T10:00:00Z");
			return -1;
		}
		if (!draft && when < now - PAST_GRACE_MS) {
			api_fail(c, HERR_VALIDATION, "scheduledAt",
				 "scheduledAt %s is in the past; use publishNow: true to publish now",
				 sched);
			return -1;
		}
	}
	struct native_req q;
	if (parse_req(c, body, 1, &q))
		return -1;
	const char **tags;
	size_t ntags;
	if (parse_tags(c, body, &tags, &ntags))
		return -1;
	/* preflight every target before anything is stored (drafts too: a
	 * draft that cannot be published is better known now) */
	json_t *all = json_array();
	for (size_t ti = 0; ti < q.nt; ti++)
		if (preflight_target(c, &q.t[ti], ti, all, NULL)) {
			json_decref(all);
			api_fail(c, HERR_INTERNAL, NULL, "preflight could not run");
			return -1;
		}
	int bad = fail_preflight(c, all);
	json_decref(all);
	if (bad)
		return -1;

	ulid_new(out->id);
	out->nt = q.nt;
	out->now_flag = now_flag;
	out->w = arena_alloc(c->a, q.nt * sizeof(*out->w));
	int64_t after = now;
	for (size_t ti = 0; ti < q.nt; ti++) {
		struct target *g = &q.t[ti];
		int64_t at = when;
		if (queue) {
			int rc = slot_next(c->st, c->org_id, g->ch->posting_times, after, &at);
			if (rc == 1) {
				api_fail(c, HERR_INVALID_STATE, arena_printf(c->a, "targets[%zu]", ti),
					 "account %s has no free posting slot within a year", g->ch->id);
				return -1;
			}
			if (rc) {
				api_fail_storage(c);
				return -1;
			}
			after = at; /* the next target takes a later slot */
		}
		json_t *s2 = g->opts ? json_deep_copy(g->opts) : json_object();
		json_object_set_new(s2, "__type", json_string(g->plat));
		char *ss = json_dumps(s2, JSON_COMPACT);
		json_decref(s2);
		size_t ni = 1 + g->nthread;
		struct store_post_item *items = arena_alloc(c->a, ni * sizeof(*items));
		items[0] = (struct store_post_item){NULL, g->root.text, g->root.media_json, 0};
		for (size_t k = 0; k < g->nthread; k++)
			items[k + 1] = (struct store_post_item){
				NULL, g->thread[k].text ? g->thread[k].text : "", g->thread[k].media_json, 0};
		char group[ULID_LEN + 1];
		ulid_new(group);
		out->w[ti] = (struct store_post_write){
			.org_id = c->org_id,
			.channel_id = g->ch->id,
			.group = arena_strdup(c->a, group),
			.settings = arena_strdup(c->a, ss ? ss : "{}"),
			.state = draft ? PS_DRAFT : PS_QUEUED,
			.publish_at = at,
			.creation_method = c->creation_method ? c->creation_method : "API",
			.tag_names = tags,
			.ntags = ntags,
			.items = items,
			.nitems = ni,
			.batch = out->id,
		};
		free(ss);
	}
	return 0;
}

/* Write prepared posts (one transaction for all); answers on failure. */
static int write_prepared(struct call *c, struct prepared *p, size_t n)
{
	size_t total = 0, k = 0;
	for (size_t i = 0; i < n; i++)
		total += p[i].nt;
	if (!total)
		return 0;
	struct store_post_write *w = arena_alloc(c->a, total * sizeof(*w));
	for (size_t i = 0; i < n; i++)
		for (size_t t = 0; t < p[i].nt; t++)
			w[k++] = p[i].w[t];
	char **roots = arena_alloc(c->a, total * sizeof(char *));
	char *msg = NULL;
	size_t failed = 0;
	int rc = store_post_write_many(c->st, c->a, w, total, roots, &msg, &failed);
	if (rc == STORE_NOTFOUND || rc == STORE_CONFLICT) {
		api_fail(c, HERR_INVALID_STATE, NULL, "%s", msg ? msg : "conflict");
		return -1;
	}
	if (rc) {
		api_fail_storage(c);
		return -1;
	}
	return 0;
}

void h_native_create(void *p)
{
	struct call *c = p;
	json_t *body = api_body_object(c);
	if (!body)
		return;
	struct prepared pr;
	if (create_prepare(c, body, &pr) || write_prepared(c, &pr, 1))
		return;
	const char *pid = arena_strdup(c->a, pr.id);
	if (pr.now_flag)
		wait_then_reply(c, pid);
	else
		reply_post(c, pid, 202);
}

#define MAX_BATCH 100

/* The error object of a batch item (the envelope's "error"). */
static json_t *item_err(struct call *c, enum herr e, const char *field, const char *msg)
{
	json_t *env = api_envelope(c->app, c->r->request_id, e, field, msg);
	json_t *err = json_incref(json_object_get(env, "error"));
	json_decref(env);
	return err;
}
#define BATCH_ROUTE "POST /v1/posts (batch item)"

/* POST /v1/posts/batch {"posts": [create body + idempotencyKey?, ...],
 * "dryRun"?}: (a dry run answers each item {status, valid, error?} and
 * stores nothing)
 * each item is checked on its own and answered on its own (results[i] is
 * {status, post} or {status, error}); the items that pass are written in
 * ONE transaction, their idempotency keys claimed and recorded in one
 * each.  What makes bulk imports fast: three commits per 100 posts
 * instead of three per post. */
void h_native_batch(void *p)
{
	struct call *c = p;
	json_t *body = api_body_object(c);
	if (!body)
		return;
	json_t *posts = json_object_get(body, "posts");
	if (!json_is_array(posts) || !json_array_size(posts) || json_array_size(posts) > MAX_BATCH) {
		api_fail(c, HERR_VALIDATION, "posts", "posts must be an array of 1 to %d post bodies",
			 MAX_BATCH);
		return;
	}
	int dry = 0;
	if (api_get_bool(c, body, "dryRun", "dryRun", 0, &dry))
		return;
	size_t n = json_array_size(posts);
	struct prepared *pr = arena_alloc(c->a, n * sizeof(*pr));
	json_t **res = arena_alloc(c->a, n * sizeof(json_t *));
	int *st = arena_alloc(c->a, n * sizeof(int));
	int *ok = arena_alloc(c->a, n * sizeof(int));
	const char **keys = arena_alloc(c->a, n * sizeof(char *));
	const char **hashes = arena_alloc(c->a, n * sizeof(char *));
	size_t *kidx = arena_alloc(c->a, n * sizeof(size_t));
	size_t nk = 0;
	/* 1: item keys: malformed ones answer that item */
	for (size_t i = 0; i < n; i++) {
		json_t *it = json_array_get(posts, i);
		res[i] = NULL;
		ok[i] = 0;
		if (!json_is_object(it)) {
			st[i] = 400;
			res[i] = item_err(c, HERR_VALIDATION, arena_printf(c->a, "posts[%zu]", i),
					  "each post must be an object (a POST /v1/posts body)");
			continue;
		}
		json_t *k = json_object_get(it, "idempotencyKey");
		if (!k || dry)
			continue;
		const char *ks = json_string_value(k);
		size_t kl = ks ? strlen(ks) : 0;
		int good = kl > 0 && kl <= 255;
		for (size_t j = 0; good && j < kl; j++)
			good = (unsigned char)ks[j] > 0x20 && (unsigned char)ks[j] < 0x7f;
		if (!good) {
			st[i] = 400;
			res[i] = item_err(c, HERR_VALIDATION,
					  arena_printf(c->a, "posts[%zu].idempotencyKey", i),
					  "idempotencyKey must be 1 to 255 printable ASCII characters");
			continue;
		}
		for (size_t j = 0; j < nk && good; j++)
			good = strcmp(keys[j], ks) != 0;
		if (!good) {
			st[i] = 400;
			res[i] = item_err(c, HERR_VALIDATION,
					  arena_printf(c->a, "posts[%zu].idempotencyKey", i),
					  "the same idempotencyKey appears twice in this batch");
			continue;
		}
		json_t *cp = json_deep_copy(it);
		json_object_del(cp, "idempotencyKey");
		char *canon = json_dumps(cp, JSON_COMPACT | JSON_SORT_KEYS);
		json_decref(cp);
		unsigned char h[32];
		crypto_hash_sha256(h, (const unsigned char *)(canon ? canon : ""), canon ? strlen(canon) : 0);
		free(canon);
		char *hex = arena_alloc(c->a, 65);
		sodium_bin2hex(hex, 65, h, sizeof(h));
		keys[nk] = ks;
		hashes[nk] = hex;
		kidx[nk++] = i;
	}
	/* 2: claim every key at once; replays and conflicts answer their item */
	enum store_idem *claim = arena_alloc(c->a, (nk + 1) * sizeof(*claim));
	int *cstatus = arena_alloc(c->a, (nk + 1) * sizeof(int));
	char **cbody = arena_alloc(c->a, (nk + 1) * sizeof(char *));
	if (nk && store_idem_claim_many(c->st, c->a, c->org_id, BATCH_ROUTE, keys, hashes, nk,
					now_ms(), 24LL * 3600 * 1000, 5LL * 60 * 1000, claim,
					cstatus, cbody)) {
		api_fail_storage(c);
		return;
	}
	for (size_t j = 0; j < nk; j++) {
		size_t i = kidx[j];
		if (claim[j] == IDEM_REPLAY) {
			st[i] = cstatus[j];
			json_t *old = json_loads(cbody[j] ? cbody[j] : "null", 0, NULL);
			res[i] = old ? old : json_null();
			ok[i] = -1; /* answered by the replay */
		} else if (claim[j] == IDEM_CONFLICT || claim[j] == IDEM_IN_PROGRESS) {
			int conflict = claim[j] == IDEM_CONFLICT;
			st[i] = 409;
			res[i] = item_err(c, conflict ? HERR_IDEMPOTENCY_CONFLICT
							   : HERR_IDEMPOTENCY_IN_PROGRESS,
					  arena_printf(c->a, "posts[%zu].idempotencyKey", i),
					  conflict ? "this idempotencyKey was used with another post body"
						   : "a request with this idempotencyKey is still running");
			kidx[j] = (size_t)-1; /* not ours to record */
		}
	}
	/* 3: check every remaining item; its answer is captured, not sent */
	c->capture = 1;
	for (size_t i = 0; i < n; i++) {
		if (res[i])
			continue;
		c->replied = 0;
		c->cap_body = NULL;
		if (create_prepare(c, json_array_get(posts, i), &pr[i]) == 0) {
			ok[i] = 1;
			continue;
		}
		st[i] = c->cap_status;
		json_t *err = json_object_get(c->cap_body, "error");
		json_t *e = err ? json_deep_copy(err) : json_object();
		const char *f = json_string_value(json_object_get(e, "field"));
		json_object_set_new(e, "field", json_string(arena_printf(c->a, "posts[%zu]%s%s", i,
									 f ? "." : "", f ? f : "")));
		res[i] = e;
		json_decref(c->cap_body);
		c->cap_body = NULL;
	}
	c->capture = 0;
	c->replied = 0;
	if (dry) {
		/* a dry run: every check of create, nothing written or claimed */
		json_t *out = json_array();
		size_t valid = 0;
		for (size_t i = 0; i < n; i++) {
			json_t *r = json_pack("{s:i,s:i,s:b}", "index", (int)i, "status",
					      ok[i] == 1 ? 200 : st[i], "valid", ok[i] == 1);
			if (ok[i] == 1)
				valid++;
			else
				json_object_set_new(r, "error", res[i]);
			json_array_append_new(out, r);
		}
		api_reply(c, 200, json_pack("{s:b,s:i,s:i,s:o}", "dryRun", 1, "valid", (int)valid,
					    "failed", (int)(n - valid), "results", out));
		return;
	}
	/* 4: one transaction for every good item */
	size_t ngood = 0;
	struct prepared *good = arena_alloc(c->a, n * sizeof(*good));
	for (size_t i = 0; i < n; i++)
		if (ok[i] == 1)
			good[ngood++] = pr[i];
	if (write_prepared(c, good, ngood)) {
		/* nothing was written: let the claimed keys go */
		for (size_t j = 0; j < nk; j++)
			if (kidx[j] != (size_t)-1 && ok[kidx[j]] != -1)
				store_idem_drop(c->st, c->org_id, BATCH_ROUTE, keys[j]);
		for (size_t i = 0; i < n; i++)
			json_decref(res[i]);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (ok[i] != 1)
			continue;
		struct store_post *rows;
		size_t nr;
		if (store_native_rows(c->st, c->a, c->org_id, pr[i].id, &rows, &nr)) {
			st[i] = 500;
			res[i] = item_err(c, HERR_INTERNAL, arena_printf(c->a, "posts[%zu]", i),
					  "stored, but could not be read back; GET /v1/posts lists it");
			continue;
		}
		st[i] = 202;
		res[i] = post_json(c, pr[i].id, rows, nr, 0);
	}
	/* 5: record every claimed key's answer in one transaction */
	const char **rk = arena_alloc(c->a, (nk + 1) * sizeof(char *));
	const char **rb = arena_alloc(c->a, (nk + 1) * sizeof(char *));
	int *rs = arena_alloc(c->a, (nk + 1) * sizeof(int));
	size_t nr = 0;
	for (size_t j = 0; j < nk; j++) {
		if (kidx[j] == (size_t)-1 || ok[kidx[j]] == -1)
			continue;
		size_t i = kidx[j];
		char *sj = json_dumps(res[i], JSON_COMPACT | JSON_ENCODE_ANY);
		rk[nr] = keys[j];
		rb[nr] = arena_strdup(c->a, sj ? sj : "null");
		rs[nr++] = st[i];
		free(sj);
	}
	if (nr && store_idem_finish_many(c->st, c->org_id, BATCH_ROUTE, rk, rs, rb, nr))
		log_msg(LOG_ERROR, "batch", "could not record the answers of %zu idempotency keys", nr);
	json_t *out = json_array();
	size_t created = 0, failed = 0, replayed = 0;
	for (size_t i = 0; i < n; i++) {
		json_t *r = json_pack("{s:i,s:i}", "index", (int)i, "status", st[i]);
		if (ok[i] == -1)
			json_object_set_new(r, "replayed", json_true());
		if (st[i] >= 200 && st[i] < 300) {
			json_object_set_new(r, "post", res[i]);
			if (ok[i] == -1)
				replayed++;
			else
				created++;
		} else {
			json_object_set_new(r, "error", res[i]);
			failed++;
		}
		json_array_append_new(out, r);
	}
	api_reply(c, 200, json_pack("{s:i,s:i,s:i,s:o}", "created", (int)created, "replayed",
				    (int)replayed, "failed", (int)failed, "results", out));
}

static const char *post_id_param(struct call *c)
{
	const char *id = c->params[0];
	if (!id || !id_valid(id)) {
		api_fail(c, HERR_NOT_FOUND, "id", "no post %s in this organization", id ? id : "");
		return NULL;
	}
	return id;
}

void h_native_get(void *p)
{
	struct call *c = p;
	const char *id = post_id_param(c);
	if (id)
		reply_post(c, id, 200);
}

void h_native_list(void *p)
{
	struct call *c = p;
	struct store_native_filter f = {.org_id = c->org_id, .limit = 20};
	const char *v;
	if ((v = http_query_param(c->r, "limit"))) {
		char *end;
		long l = strtol(v, &end, 10);
		if (*end || end == v || l < 1 || l > 100) {
			api_fail(c, HERR_VALIDATION, "limit", "limit must be a number from 1 to 100");
			return;
		}
		f.limit = (int)l;
	}
	f.state = http_query_param(c->r, "status");
	static const char *const states[] = {PS_DRAFT, PS_QUEUED, PS_PUBLISHING, PS_PUBLISHED,
					     PS_FAILED, PS_CANCELED, PS_UNCONFIRMED, PS_DELETING,
					     PS_DELETED, NULL};
	if (f.state) {
		int ok = 0;
		for (int i = 0; states[i]; i++)
			ok |= !strcmp(states[i], f.state);
		if (!ok) {
			api_fail(c, HERR_VALIDATION, "status",
				 "status must be one of draft, queued, publishing, published, failed, "
				 "canceled, unconfirmed, deleting, deleted");
			return;
		}
	}
	f.channel_id = http_query_param(c->r, "accountId");
	f.provider = http_query_param(c->r, "platform");
	f.tag = http_query_param(c->r, "tag");
	const char *names[2] = {"from", "to"};
	int64_t *dst[2] = {&f.from, &f.to};
	for (int i = 0; i < 2; i++)
		if ((v = http_query_param(c->r, names[i])) && iso_parse(v, dst[i])) {
			api_fail(c, HERR_VALIDATION, names[i], "%s must be an ISO 8601 date-time",
				 names[i]);
			return;
		}
	if ((v = http_query_param(c->r, "cursor"))) {
		/* "<created ms>.<post id>" as handed out by nextCursor */
		char *end;
		long long cr = strtoll(v, &end, 10);
		if (end == v || *end != '.' || cr <= 0 || !id_valid(end + 1)) {
			api_fail(c, HERR_VALIDATION, "cursor",
				 "cursor is not one this server handed out (nextCursor)");
			return;
		}
		f.cursor_created = cr;
		f.cursor_id = end + 1;
	}
	struct store_native_ref *refs;
	size_t n;
	int lim = f.limit;
	f.limit = lim + 1; /* one more tells whether there is a next page */
	if (store_native_list(c->st, c->a, &f, &refs, &n)) {
		api_fail_storage(c);
		return;
	}
	json_t *data = json_array();
	size_t shown = n > (size_t)lim ? (size_t)lim : n;
	for (size_t i = 0; i < shown; i++) {
		struct store_post *rows;
		size_t nr;
		int rc = store_native_rows(c->st, c->a, c->org_id, refs[i].id, &rows, &nr);
		if (rc == STORE_NOTFOUND)
			continue; /* deleted between the two reads */
		if (rc) {
			json_decref(data);
			api_fail_storage(c);
			return;
		}
		json_array_append_new(data, post_json(c, refs[i].id, rows, nr, 0));
	}
	json_t *next = json_null();
	if (n > (size_t)lim)
		next = json_string(arena_printf(c->a, "%lld.%s", (long long)refs[lim - 1].created_at,
						refs[lim - 1].id));
	api_reply(c, 200, json_pack("{s:o,s:o}", "data", data, "nextCursor", next));
}

void h_native_cancel(void *p)
{
	struct call *c = p;
	const char *id = post_id_param(c);
	if (!id)
		return;
	int n, inflight;
	int rc = store_native_cancel(c->st, c->org_id, id, &n, &inflight);
	if (rc == STORE_CONFLICT) {
		struct store_post *rows;
		size_t nr;
		if (store_native_rows(c->st, c->a, c->org_id, id, &rows, &nr) == STORE_NOTFOUND) {
			api_fail(c, HERR_NOT_FOUND, "id", "no post %s in this organization", id);
			return;
		}
		if (inflight)
			api_fail(c, HERR_INVALID_STATE, "id",
				 "post %s is being published right now and cannot be canceled; "
				 "retry in a few seconds", id);
		else
			api_fail(c, HERR_INVALID_STATE, "id",
				 "post %s has nothing left to cancel (status %s)", id,
				 aggregate(rows, nr));
		return;
	}
	if (rc) {
		api_fail_storage(c);
		return;
	}
	reply_post(c, id, 200);
}

void h_native_approve(void *p)
{
	struct call *c = p;
	const char *id = post_id_param(c);
	if (!id)
		return;
	struct store_post *rows;
	size_t nr;
	int rc = store_native_rows(c->st, c->a, c->org_id, id, &rows, &nr);
	if (rc == STORE_NOTFOUND) {
		api_fail(c, HERR_NOT_FOUND, "id", "no post %s in this organization", id);
		return;
	}
	if (rc) {
		api_fail_storage(c);
		return;
	}
	int n;
	if (store_native_set_state(c->st, c->org_id, id, PS_DRAFT, PS_QUEUED, &n)) {
		api_fail_storage(c);
		return;
	}
	if (!n) {
		api_fail(c, HERR_INVALID_STATE, "id", "post %s is not a draft (status %s)", id,
			 aggregate(rows, nr));
		return;
	}
	reply_post(c, id, 200);
}

void h_native_retry(void *p)
{
	struct call *c = p;
	const char *id = post_id_param(c);
	if (!id)
		return;
	struct store_post *rows;
	size_t nr;
	int rc = store_native_rows(c->st, c->a, c->org_id, id, &rows, &nr);
	if (rc == STORE_NOTFOUND) {
		api_fail(c, HERR_NOT_FOUND, "id", "no post %s in this organization", id);
		return;
	}
	if (rc) {
		api_fail_storage(c);
		return;
	}
	int requeued = 0;
	int64_t now = now_ms();
	for (size_t i = 0; i < nr && !rows[i].parent_id; i++) {
		if (strcmp(rows[i].state, PS_FAILED) && strcmp(rows[i].state, PS_UNCONFIRMED))
			continue;
		rc = store_post_requeue(c->st, c->org_id, rows[i].id, now);
		if (rc == 0)
			requeued++;
		else if (rc != STORE_CONFLICT) {
			api_fail_storage(c);
			return;
		}
	}
	if (!requeued) {
		api_fail(c, HERR_INVALID_STATE, "id",
			 "post %s has no failed or unconfirmed target to retry (status %s)", id,
			 aggregate(rows, nr));
		return;
	}
	reply_post(c, id, 202);
}

void h_native_patch(void *p)
{
	struct call *c = p;
	const char *id = post_id_param(c);
	if (!id)
		return;
	json_t *body = api_body_object(c);
	if (!body)
		return;
	static const char *const allowed[] = {"text", "media", "thread", "scheduledAt", "tags", NULL};
	const char *key;
	json_t *val;
	json_object_foreach(body, key, val) {
		int ok = 0;
		for (int i = 0; allowed[i]; i++)
			ok |= !strcmp(allowed[i], key);
		if (!ok) {
			api_fail(c, HERR_VALIDATION, key,
				 "%s cannot be changed; PATCH takes text, media, thread, scheduledAt "
				 "and tags (cancel and create again to change targets)", key);
			return;
		}
	}
	struct store_post *rows;
	size_t nr;
	int rc = store_native_rows(c->st, c->a, c->org_id, id, &rows, &nr);
	if (rc == STORE_NOTFOUND) {
		api_fail(c, HERR_NOT_FOUND, "id", "no post %s in this organization", id);
		return;
	}
	if (rc) {
		api_fail_storage(c);
		return;
	}
	const char *text = NULL, *sched = NULL;
	struct item_in media = {0};
	struct item_in *thread = NULL;
	size_t nthread = 0;
	if (api_get_str(c, body, "text", "text", 0, &text) ||
	    api_get_str(c, body, "scheduledAt", "scheduledAt", 0, &sched) ||
	    parse_media(c, json_object_get(body, "media"), "media", &media) ||
	    parse_thread(c, json_object_get(body, "thread"), "thread", &thread, &nthread))
		return;
	int64_t when = 0;
	if (sched) {
		if (iso_parse(sched, &when)) {
			api_fail(c, HERR_VALIDATION, "scheduledAt",
				 "scheduledAt must be an ISO 8601 date-time with a zone");
			return;
		}
		if (when < now_ms() - PAST_GRACE_MS) {
			api_fail(c, HERR_VALIDATION, "scheduledAt", "scheduledAt %s is in the past",
				 sched);
			return;
		}
	}
	const char **tags;
	size_t ntags;
	if (parse_tags(c, body, &tags, &ntags))
		return;
	for (size_t i = 0; i < nr; i++)
		if (strcmp(rows[i].state, PS_DRAFT) && strcmp(rows[i].state, PS_QUEUED)) {
			api_fail(c, HERR_INVALID_STATE, "id",
				 "post %s can be edited while draft or queued; it is %s", id,
				 aggregate(rows, nr));
			return;
		}
	size_t nt = 0;
	while (nt < nr && !rows[nt].parent_id)
		nt++;
	const char **root_ids = arena_alloc(c->a, nt * sizeof(char *));
	const char **contents = arena_alloc(c->a, nt * sizeof(char *));
	const char **medias = arena_alloc(c->a, nt * sizeof(char *));
	const struct store_post_item **th = arena_alloc(c->a, nt * sizeof(*th));
	size_t *nth = arena_alloc(c->a, nt * sizeof(size_t));
	int has_media = json_object_get(body, "media") != NULL;
	int has_thread = json_object_get(body, "thread") != NULL;
	/* preflight of the result, per target, as create does */
	json_t *all = json_array();
	for (size_t t = 0; t < nt; t++) {
		const struct store_post *r = &rows[t];
		root_ids[t] = r->id;
		contents[t] = text;
		medias[t] = has_media ? media.media_json : NULL;
		struct target g = {.acc = r->channel_id, .plat = r->channel_provider};
		g.root.text = text ? text : r->content;
		if (has_media) {
			g.root.media = media.media;
			g.root.nmedia = media.nmedia;
		} else {
			media_from_stored(c, r->media, &g.root);
		}
		json_t *settings = json_loads(r->settings ? r->settings : "{}", 0, NULL);
		g.opts = settings;
		if (has_thread) {
			g.thread = thread;
			g.nthread = nthread;
			struct store_post_item *items = arena_alloc(c->a, (nthread + 1) * sizeof(*items));
			for (size_t k = 0; k < nthread; k++)
				items[k] = (struct store_post_item){NULL, thread[k].text ? thread[k].text : "",
								    thread[k].media_json, 0};
			th[t] = items;
			nth[t] = nthread;
		} else {
			size_t cnt = 0;
			for (size_t k = 0; k < nr; k++)
				cnt += rows[k].parent_id && !strcmp(rows[k].grp, r->grp);
			struct item_in *ti = arena_alloc(c->a, (cnt + 1) * sizeof(*ti));
			size_t j = 0;
			for (size_t k = 0; k < nr; k++)
				if (rows[k].parent_id && !strcmp(rows[k].grp, r->grp)) {
					ti[j].text = rows[k].content;
					media_from_stored(c, rows[k].media, &ti[j++]);
				}
			g.thread = ti;
			g.nthread = cnt;
			th[t] = NULL;
			nth[t] = 0;
		}
		int prc = preflight_target(c, &g, t, all, NULL);
		json_decref(settings);
		if (prc) {
			json_decref(all);
			api_fail(c, HERR_INTERNAL, NULL, "preflight could not run");
			return;
		}
	}
	int bad = fail_preflight(c, all);
	json_decref(all);
	if (bad)
		return;
	struct store_native_edit e = {
		.org_id = c->org_id,
		.id = id,
		.publish_at = when,
		.ntargets = nt,
		.root_ids = root_ids,
		.contents = contents,
		.medias = medias,
		.replace_thread = has_thread,
		.thread = th,
		.nthread = nth,
		.set_tags = json_object_get(body, "tags") != NULL,
		.tag_names = tags,
		.ntags = ntags,
	};
	rc = store_native_edit(c->st, c->a, &e);
	if (rc == STORE_CONFLICT) {
		api_fail(c, HERR_INVALID_STATE, "id",
			 "post %s started publishing and can no longer be edited", id);
		return;
	}
	if (rc) {
		api_fail_storage(c);
		return;
	}
	reply_post(c, id, 200);
}
