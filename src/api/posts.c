/*
 * posts: the Postiz posts routes.
 *
 * Create follows Postiz's processing order (postiz.md 2.2): integration
 * ids, provider settings (`__type` overwritten with the channel's
 * provider), empty-content check, length check, then one transactional
 * write per `posts[]` entry with a fresh group.  Deliberate differences,
 * all backward compatible: unknown `type` values and a `schedule` in the
 * past are refused instead of published at once; unknown tag labels are
 * created instead of silently dropped; DELETE answers truthfully and 404s
 * an unknown id.
 */
#include "api.h"
#include "../core/arena.h"
#include "../core/ids.h"
#include "../core/timeutil.h"
#include "../preflight/rules.h"
#include "../preflight/text.h"
#include "../providers/provider.h"
#include "../store/store.h"

#include <stdio.h>
#include <string.h>

#define MAX_POSTS 100     /* posts[] entries per request */
#define MAX_THREAD 100    /* value[] items per entry */
#define MAX_IMAGES 20
#define PAST_GRACE_MS 60000

const char *postiz_state(const char *s)
{
	if (!strcmp(s, PS_DRAFT))
		return "DRAFT";
	if (!strcmp(s, PS_PUBLISHED) || !strcmp(s, PS_DELETING))
		return "PUBLISHED"; /* deleting: still on the platform */
	if (!strcmp(s, PS_DELETED))
		return "ERROR"; /* Postiz has no state for "deleted from the platform" */
	if (!strcmp(s, PS_FAILED) || !strcmp(s, PS_UNCONFIRMED) || !strcmp(s, PS_CANCELED))
		return "ERROR";
	return "QUEUE"; /* queued, publishing */
}

/* Length of the text a reader sees: HTML tags dropped, the five common
 * entities folded, counted in UTF-16 units as Postiz (JavaScript) counts.
 * Used for Postiz's empty-content check; lengths against platform limits
 * are preflight's (src/preflight). */
static size_t visible_length(const char *s, int *only_space)
{
	size_t n = 0;
	int in_tag = 0;
	*only_space = 1;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (in_tag) {
			if (*p == '>')
				in_tag = 0;
			continue;
		}
		if (*p == '<' && (p[1] == '/' || ((p[1] | 0x20) >= 'a' && (p[1] | 0x20) <= 'z'))) {
			in_tag = 1;
			continue;
		}
		if (*p == '&') {
			static const char *ents[] = {"&amp;", "&lt;", "&gt;", "&quot;", "&#39;", "&nbsp;"};
			size_t k;
			for (k = 0; k < 6; k++)
				if (!strncmp((const char *)p, ents[k], strlen(ents[k])))
					break;
			if (k < 6) {
				p += strlen(ents[k]) - 1;
				n++;
				if (k != 5)
					*only_space = 0;
				continue;
			}
		}
		if ((*p & 0xc0) == 0x80)
			continue; /* continuation byte */
		n += *p >= 0xf0 ? 2 : 1; /* astral code points are two UTF-16 units */
		if (*p != ' ' && *p != '\n' && *p != '\r' && *p != '\t')
			*only_space = 0;
	}
	return n;
}

static json_t *tags_json(const struct store_post *p)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < p->ntags; i++) {
		const struct store_tag *t = &p->tags[i];
		char c1[32], c2[32];
		iso_format(t->created_at, c1);
		iso_format(t->updated_at, c2);
		json_array_append_new(arr, json_pack("{s:{s:s,s:s,s:s,s:s,s:n,s:s,s:s}}", "tag", "id",
						     t->id, "name", t->name, "color", t->color, "orgId",
						     p->org_id, "deletedAt", "createdAt", c1,
						     "updatedAt", c2));
	}
	return arr;
}

static json_t *nullable(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *list_item(const struct store_post *p, int64_t when)
{
	char d[32];
	iso_format(when, d);
	json_t *o = json_object();
	json_object_set_new(o, "id", json_string(p->id));
	json_object_set_new(o, "content", json_string(p->content));
	json_object_set_new(o, "publishDate", json_string(d));
	json_object_set_new(o, "releaseURL", nullable(p->release_url));
	json_object_set_new(o, "releaseId", nullable(p->release_id));
	json_object_set_new(o, "state", json_string(postiz_state(p->state)));
	json_object_set_new(o, "status", json_string(p->state));
	json_object_set_new(o, "intervalInDays",
			    p->interval_days ? json_integer(p->interval_days) : json_null());
	json_object_set_new(o, "group", json_string(p->grp));
	json_object_set_new(o, "creationMethod", json_string(p->creation_method));
	json_object_set_new(o, "settings", json_string(p->settings));
	json_object_set_new(o, "error", nullable(p->error));
	json_object_set_new(o, "tags", tags_json(p));
	json_object_set_new(o, "integration",
			    json_pack("{s:s,s:s,s:s,s:s}", "id", p->channel_id, "providerIdentifier",
				      p->channel_provider, "name", p->channel_name, "picture",
				      p->channel_picture));
	if (when != p->publish_at) {
		char a[32];
		iso_format(p->publish_at, a);
		json_object_set_new(o, "actualDate", json_string(a));
	}
	return o;
}

void h_posts_list(void *p)
{
	struct call *c = p;
	const char *sd = http_query_param(c->r, "startDate");
	const char *ed = http_query_param(c->r, "endDate");
	const char *customer = http_query_param(c->r, "customer");
	int64_t from, to;
	if (!sd || iso_parse(sd, &from)) {
		api_fail(c, HERR_VALIDATION, "startDate",
			 "startDate must be an ISO 8601 date-time (e.g. 2026-01-01T00:00:00Z)");
		return;
	}
	if (!ed || iso_parse(ed, &to)) {
		api_fail(c, HERR_VALIDATION, "endDate",
			 "endDate must be an ISO 8601 date-time (e.g. 2026-01-31T23:59:59Z)");
		return;
	}
	if (to < from) {
		api_fail(c, HERR_VALIDATION, "endDate", "endDate must not be before startDate");
		return;
	}
	struct store_post_filter f = {c->org_id, from, to, customer && *customer ? customer : NULL};
	struct store_post *v;
	size_t n;
	if (store_post_list(c->st, c->a, &f, &v, &n)) {
		api_fail_storage(c);
		return;
	}
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++) {
		if (!v[i].interval_days) {
			json_array_append_new(arr, list_item(&v[i], v[i].publish_at));
			continue;
		}
		/* repeating: one item per occurrence inside the window */
		int64_t step = (int64_t)v[i].interval_days * 86400000;
		int64_t t = v[i].publish_at;
		if (t < from)
			t += (from - t + step - 1) / step * step;
		for (int k = 0; t <= to && k < 1000; t += step, k++)
			json_array_append_new(arr, list_item(&v[i], t));
	}
	api_reply(c, 200, json_pack("{s:o}", "posts", arr));
}

/* The root row is both the post and its first item: an item is published
 * when it has a publish time, whatever the post as a whole is doing. */
static const char *item_state(const struct store_post *v, size_t i)
{
	if (!strcmp(v[i].state, PS_DELETED) || !strcmp(v[i].state, PS_DELETING))
		return v[i].state;
	if (v[i].published_at)
		return PS_PUBLISHED;
	if (i == 0 && !strcmp(v[0].state, PS_PUBLISHED))
		return PS_QUEUED; /* a repeating post between occurrences */
	return v[i].state;
}

static json_t *post_full(const struct store_post *v, size_t n)
{
	json_t *o = list_item(&v[0], v[0].publish_at);
	json_t *items = json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *media = json_loads(v[i].media, 0, NULL);
		json_array_append_new(
			items, json_pack("{s:s,s:s,s:o,s:i,s:s,s:s,s:o,s:o,s:o}", "id", v[i].id, "content",
					 v[i].content, "image", media ? media : json_array(), "delay",
					 v[i].delay_min, "state", postiz_state(item_state(v, i)), "status",
					 item_state(v, i), "releaseURL", nullable(v[i].release_url),
					 "releaseId", nullable(v[i].release_id), "error",
					 nullable(v[i].error)));
	}
	json_object_set_new(o, "value", items);
	return o;
}

/* Load the thread containing params[0]; replies 404 when absent. */
static int load_thread(struct call *c, struct store_post **v, size_t *n)
{
	int rc = store_post_thread(c->st, c->a, c->org_id, c->params[0], v, n);
	if (rc == STORE_NOTFOUND) {
		api_fail(c, HERR_NOT_FOUND, "id", "Post not found");
		return -1;
	}
	if (rc) {
		api_fail_storage(c);
		return -1;
	}
	return 0;
}

/* Every publish attempt with the platform's raw answer (SPEC 4, 7). */
static json_t *attempts_json(struct call *c, const struct store_post *root)
{
	struct store_attempt *v;
	size_t n;
	json_t *arr = json_array();
	if (store_post_attempts(c->st, c->a, c->org_id, root->grp, &v, &n))
		return arr;
	for (size_t i = 0; i < n; i++) {
		char s1[32], s2[32];
		iso_format(v[i].started_at, s1);
		if (v[i].finished_at)
			iso_format(v[i].finished_at, s2);
		json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:o,s:o,s:o,s:o}", "id", v[i].id, "postId",
				      v[i].post_id, "outcome", v[i].outcome, "startedAt", s1,
				      "finishedAt", v[i].finished_at ? json_string(s2) : json_null(),
				      "request", nullable(v[i].request), "httpStatus",
				      v[i].http_status ? json_integer(v[i].http_status) : json_null(),
				      "error", nullable(v[i].error));
		json_object_set_new(o, "platformResponse", nullable(v[i].response));
		json_object_set_new(o, "kind", nullable(v[i].kind));
		json_array_append_new(arr, o);
	}
	return arr;
}

void h_post_get(void *p)
{
	struct call *c = p;
	struct store_post *v;
	size_t n;
	if (load_thread(c, &v, &n))
		return;
	json_t *o = post_full(v, n);
	json_object_set_new(o, "attempts", attempts_json(c, &v[0]));
	api_reply(c, 200, o);
}

static void reply_deleted(struct call *c, const char *group, int n, int inflight)
{
	api_reply(c, 200, json_pack("{s:b,s:b,s:s,s:i,s:b}", "error", 0, "deleted", 1, "group", group,
				    "count", n, "publishing", inflight));
}

void h_post_delete(void *p)
{
	struct call *c = p;
	struct store_post *v;
	size_t n;
	if (load_thread(c, &v, &n))
		return;
	/* herald extension: also delete it from the platform (unpublish.c) */
	if (api_unpublish_requested(c) && api_unpublish(c, c->params[0], UNPUB_REMOVE) <= 0)
		return;
	int cnt = 0, inflight = 0;
	int rc = store_post_delete_group(c->st, c->org_id, v[0].grp, &cnt, &inflight);
	if (rc == STORE_CONFLICT) {
		api_fail(c, HERR_INVALID_STATE, "id",
			 "the post is being published right now; its outcome will be recorded, "
			 "delete it afterwards");
		return;
	}
	if (rc == STORE_NOTFOUND) {
		api_fail(c, HERR_NOT_FOUND, "id", "Post not found");
		return;
	}
	if (rc) {
		api_fail_storage(c);
		return;
	}
	reply_deleted(c, v[0].grp, cnt, inflight);
}

void h_post_group_delete(void *p)
{
	struct call *c = p;
	int cnt = 0, inflight = 0;
	/* herald extension: also delete it from the platform (unpublish.c) */
	char *root = NULL;
	if (api_unpublish_requested(c) &&
	    store_group_root(c->st, c->a, c->org_id, c->params[0], &root) == 0 &&
	    api_unpublish(c, root, UNPUB_REMOVE) <= 0)
		return;
	int rc = store_post_delete_group(c->st, c->org_id, c->params[0], &cnt, &inflight);
	if (rc == STORE_CONFLICT) {
		api_fail(c, HERR_INVALID_STATE, "group",
			 "a post of this group is being published right now; delete it afterwards");
		return;
	}
	if (rc == STORE_NOTFOUND) {
		api_fail(c, HERR_NOT_FOUND, "group", "Post group not found");
		return;
	}
	if (rc) {
		api_fail_storage(c);
		return;
	}
	reply_deleted(c, c->params[0], cnt, inflight);
}

void h_post_status(void *p)
{
	struct call *c = p;
	json_t *body = api_body_object(c);
	if (!body)
		return;
	const char *status;
	if (api_get_str(c, body, "status", "status", 1, &status))
		return;
	int to_draft = !strcmp(status, "draft");
	if (!to_draft && strcmp(status, "schedule")) {
		api_fail(c, HERR_VALIDATION, "status", "status must be \"draft\" or \"schedule\"");
		return;
	}
	struct store_post *v;
	size_t n;
	if (load_thread(c, &v, &n))
		return;
	const char *want = to_draft ? PS_DRAFT : PS_QUEUED;
	if (!to_draft && (!strcmp(v[0].state, PS_FAILED) || !strcmp(v[0].state, PS_UNCONFIRMED))) {
		/* "schedule" again after a failure: retry the unpublished part now */
		int rc = store_post_requeue(c->st, c->org_id, v[0].id, now_ms());
		if (rc) {
			if (rc == STORE_CONFLICT)
				api_fail(c, HERR_INVALID_STATE, "status", "the post changed state meanwhile; retry");
			else
				api_fail_storage(c);
			return;
		}
	} else if (strcmp(v[0].state, want)) {
		const char *from = to_draft ? PS_QUEUED : PS_DRAFT;
		if (strcmp(v[0].state, from)) {
			api_fail(c, HERR_INVALID_STATE, "status",
				 "the post is %s; only drafts, scheduled, failed and unconfirmed posts change status",
				 v[0].state);
			return;
		}
		if (!to_draft && v[0].publish_at < now_ms() - PAST_GRACE_MS) {
			api_fail(c, HERR_VALIDATION, "status",
				 "the post's date has passed; set a new date before scheduling it");
			return;
		}
		int rc = store_post_set_state(c->st, c->org_id, v[0].id, from, want);
		if (rc == STORE_CONFLICT) {
			api_fail(c, HERR_INVALID_STATE, "status", "the post changed state meanwhile; retry");
			return;
		}
		if (rc) {
			api_fail_storage(c);
			return;
		}
	}
	api_reply(c, 200, json_pack("{s:s,s:s}", "id", v[0].id, "state", to_draft ? "DRAFT" : "QUEUE"));
}

void h_post_settings(void *p)
{
	struct call *c = p;
	json_t *body = api_body_object(c);
	if (!body)
		return;
	json_t *settings = json_object_get(body, "settings");
	if (!json_is_object(settings)) {
		api_fail(c, HERR_VALIDATION, "settings", "settings must be an object");
		return;
	}
	struct store_post *v;
	size_t n;
	if (load_thread(c, &v, &n))
		return;
	if (strcmp(v[0].id, c->params[0])) {
		api_fail(c, HERR_VALIDATION, "id",
			 "This id belongs to a comment; use the id of the main post");
		return;
	}
	if (strcmp(v[0].state, PS_QUEUED) && strcmp(v[0].state, PS_DRAFT)) {
		api_fail(c, HERR_INVALID_STATE, "id",
			 "Only scheduled posts and drafts can change settings (this one is %s)",
			 v[0].state);
		return;
	}
	if (!strcmp(v[0].state, PS_QUEUED) && v[0].publish_at <= now_ms()) {
		api_fail(c, HERR_INVALID_STATE, "id", "The publish time of this post already passed");
		return;
	}
	json_t *cur = json_loads(v[0].settings, 0, NULL);
	if (!json_is_object(cur)) {
		json_decref(cur);
		cur = json_object();
	}
	json_object_update(cur, settings);
	json_object_set_new(cur, "__type", json_string(v[0].channel_provider));
	char *s = json_dumps(cur, JSON_COMPACT);
	json_decref(cur);
	int rc = s ? store_post_set_settings(c->st, c->org_id, v[0].grp, s) : -1;
	free(s);
	if (rc) {
		api_fail_storage(c);
		return;
	}
	char d[32];
	iso_format_postiz(v[0].publish_at, d);
	api_reply(c, 200, json_pack("{s:s,s:s}", "postId", v[0].id, "publishDate", d));
}

void h_post_release_id(void *p)
{
	struct call *c = p;
	json_t *body = api_body_object(c);
	if (!body)
		return;
	const char *rid, *url;
	if (api_get_str(c, body, "releaseId", "releaseId", 1, &rid) ||
	    api_get_str(c, body, "releaseURL", "releaseURL", 0, &url))
		return;
	if (!*rid || strlen(rid) > 512) {
		api_fail(c, HERR_VALIDATION, "releaseId", "releaseId must be 1 to 512 characters");
		return;
	}
	struct store_post *v;
	size_t n;
	if (load_thread(c, &v, &n))
		return;
	struct store_post *t = NULL;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i].id, c->params[0]))
			t = &v[i];
	int missing = t->release_id && !strcmp(t->release_id, "missing");
	if (!missing && strcmp(t->state, PS_UNCONFIRMED)) {
		api_fail(c, HERR_INVALID_STATE, "releaseId",
			 "only a post whose release id is missing (or unconfirmed) can be connected");
		return;
	}
	if (store_post_set_release(c->st, c->org_id, t->id, rid, url)) {
		api_fail_storage(c);
		return;
	}
	/* the user found the post on the platform: an unconfirmed thread is
	 * resolved as published */
	if (!strcmp(v[0].state, PS_UNCONFIRMED) && store_post_resolve(c->st, c->org_id, v[0].id, now_ms()) < 0) {
		api_fail_storage(c);
		return;
	}
	if (load_thread(c, &v, &n))
		return;
	api_reply(c, 200, post_full(v, n));
}

void h_post_missing(void *p)
{
	struct call *c = p;
	struct store_post *v;
	size_t n;
	if (load_thread(c, &v, &n))
		return;
	/* no herald provider uploads without learning the platform id yet */
	api_reply(c, 200, json_array());
}

/* ---- create ---- */

struct entry {
	struct store_channel *ch;
	const struct provider *pr;
	const char *group;
	char *settings;
	struct store_post_item *items;
	size_t nitems;
};

static int parse_images(struct call *c, json_t *arr, const char *path, char **out)
{
	if (!arr || json_is_null(arr)) {
		*out = arena_strdup(c->a, "[]");
		return 0;
	}
	if (!json_is_array(arr)) {
		api_fail(c, HERR_VALIDATION, path, "%s must be an array", path);
		return -1;
	}
	if (json_array_size(arr) > MAX_IMAGES) {
		api_fail(c, HERR_VALIDATION, path, "%s has more than %d items", path, MAX_IMAGES);
		return -1;
	}
	json_t *clean = json_array();
	size_t i;
	json_t *im;
	json_array_foreach(arr, i, im) {
		const char *ip = arena_printf(c->a, "%s[%zu]", path, i);
		const char *id, *pth, *alt, *thumb;
		if (!json_is_object(im)) {
			json_decref(clean);
			api_fail(c, HERR_VALIDATION, ip, "%s must be an object {id, path}", ip);
			return -1;
		}
		if (api_get_str(c, im, "path", arena_printf(c->a, "%s.path", ip), 1, &pth) ||
		    api_get_str(c, im, "id", arena_printf(c->a, "%s.id", ip), 0, &id) ||
		    api_get_str(c, im, "alt", arena_printf(c->a, "%s.alt", ip), 0, &alt) ||
		    api_get_str(c, im, "thumbnail", arena_printf(c->a, "%s.thumbnail", ip), 0, &thumb)) {
			json_decref(clean);
			return -1;
		}
		if (strncmp(pth, "http://", 7) && strncmp(pth, "https://", 8)) {
			json_decref(clean);
			api_fail(c, HERR_VALIDATION, arena_printf(c->a, "%s.path", ip),
				 "%s.path must be an absolute http(s) URL", ip);
			return -1;
		}
		json_t *o = json_pack("{s:s,s:s}", "id", id ? id : "", "path", pth);
		if (alt)
			json_object_set_new(o, "alt", json_string(alt));
		if (thumb)
			json_object_set_new(o, "thumbnail", json_string(thumb));
		json_array_append_new(clean, o);
	}
	char *s = json_dumps(clean, JSON_COMPACT);
	json_decref(clean);
	*out = arena_strdup(c->a, s);
	free(s);
	return 0;
}

/* Preflight violations of the whole request (SPEC 6): every one of every
 * entry, reported together after the request is otherwise valid. */
struct pf_found {
	json_t *violations; /* array, owned by the request arena */
	const char *field, *rule, *platform, *message;
};

static void json_free(void *p)
{
	json_decref(p);
}

/* Where a violation points in the request body. */
static const char *violation_field(struct call *c, const struct pf_violation *v, size_t idx,
				   size_t item)
{
	const char *ip = arena_printf(c->a, "posts[%zu].value[%zu]", idx, item);
	switch (v->rule->kind) {
	case PF_TEXT_MAX:
	case PF_TEXT_OR_MEDIA:
	case PF_TEXT_FORBIDDEN:
	case PF_HASHTAGS_MAX:
		return arena_printf(c->a, "%s.content", ip);
	case PF_SETTING_MAX:
		return arena_printf(c->a, "posts[%zu].settings.%s", idx, v->rule->arg);
	default:
		if (v->media >= 0)
			return arena_printf(c->a, "%s.image[%ld]", ip, v->media);
		return arena_printf(c->a, "%s.image", ip);
	}
}

/* Preflight of one entry's thread.  Media facts other than the count and
 * the MIME type implied by the path's extension are not known before the
 * media pipeline fetches them; the rules needing them are skipped. */
static void preflight_entry(struct call *c, json_t *value, size_t idx, const struct entry *en,
			    struct pf_found *pf)
{
	json_t *settings = json_loads(en->settings, 0, NULL);
	struct pf_target *t = arena_alloc(c->a, en->nitems * sizeof(*t));
	for (size_t j = 0; j < en->nitems; j++) {
		const char *content = en->items[j].content;
		json_t *imgs = json_object_get(json_array_get(value, j), "image");
		size_t nm = json_is_array(imgs) ? json_array_size(imgs) : 0;
		struct pf_media *m = nm ? arena_alloc(c->a, nm * sizeof(*m)) : NULL;
		for (size_t k = 0; k < nm; k++) {
			json_t *im = json_array_get(imgs, k);
			const char *path = json_string_value(json_object_get(im, "path"));
			m[k].mime = pf_mime_from_path(path);
			api_media_facts(c, json_string_value(json_object_get(im, "id")), path,
					en->ch->provider, &m[k]);
		}
		t[j] = (struct pf_target){
			.platform = en->ch->provider,
			.text = content,
			.text_is_html = text_has_html_tags(content, strlen(content)),
			.media = m,
			.nmedia = nm,
			.settings = settings,
		};
	}
	struct pf_violation *v;
	size_t n;
	if (pf_check_thread(t, en->nitems, &v, &n, c->a) > 0) {
		if (!pf->violations) {
			pf->violations = json_array();
			arena_defer(c->a, json_free, pf->violations);
		}
		for (size_t i = 0; i < n; i++) {
			size_t item = v[i].item > 0 ? (size_t)v[i].item : 0;
			const char *field = violation_field(c, &v[i], idx, item);
			json_t *o = pf_violation_json(&v[i]);
			json_object_set_new(o, "field", json_string(field));
			json_object_set_new(o, "post", json_integer((json_int_t)idx));
			json_object_set_new(o, "integration", json_string(en->ch->id));
			json_array_append_new(pf->violations, o);
			if (!pf->rule) {
				pf->field = field;
				pf->rule = v[i].id;
				pf->platform = v[i].platform;
				pf->message = arena_printf(c->a, "%s: %s", field, v[i].message);
			}
		}
	}
	json_decref(settings);
}

static int parse_entry(struct call *c, json_t *e, size_t idx, int is_draft, struct entry *out,
		       struct pf_found *pf)
{
	const char *base = arena_printf(c->a, "posts[%zu]", idx);
	if (!json_is_object(e)) {
		api_fail(c, HERR_VALIDATION, base, "%s must be an object", base);
		return -1;
	}
	json_t *integ = json_object_get(e, "integration");
	json_t *iid = json_is_object(integ) ? json_object_get(integ, "id") : NULL;
	if (!json_is_string(iid) || !*json_string_value(iid)) {
		api_fail(c, HERR_VALIDATION, arena_printf(c->a, "%s.integration.id", base),
			 "All posts must have an integration id");
		return -1;
	}
	const char *chid = json_string_value(iid);
	int rc = id_valid(chid) ? store_channel_get(c->st, c->a, c->org_id, chid, &out->ch)
				: STORE_NOTFOUND;
	if (rc == STORE_NOTFOUND) {
		api_fail(c, HERR_VALIDATION, arena_printf(c->a, "%s.integration.id", base),
			 "Integration with id %s not found", chid);
		return -1;
	}
	if (rc) {
		api_fail_storage(c);
		return -1;
	}
	if (out->ch->disabled && !is_draft) {
		api_fail(c, HERR_INVALID_STATE, arena_printf(c->a, "%s.integration.id", base),
			 "Integration %s is disabled", chid);
		return -1;
	}
	out->pr = provider_find(out->ch->provider);
	if (api_get_str(c, e, "group", arena_printf(c->a, "%s.group", base), 0, &out->group))
		return -1;
	if (out->group && !id_valid(out->group)) {
		api_fail(c, HERR_VALIDATION, arena_printf(c->a, "%s.group", base),
			 "%s.group is not a valid group id", base);
		return -1;
	}
	json_t *settings = json_object_get(e, "settings");
	if (settings && !json_is_null(settings) && !json_is_object(settings)) {
		api_fail(c, HERR_VALIDATION, arena_printf(c->a, "%s.settings", base),
			 "%s.settings must be an object", base);
		return -1;
	}
	json_t *s2 = json_is_object(settings) ? json_deep_copy(settings) : json_object();
	json_object_set_new(s2, "__type", json_string(out->ch->provider));
	char *ss = json_dumps(s2, JSON_COMPACT);
	json_decref(s2);
	out->settings = arena_strdup(c->a, ss);
	free(ss);

	json_t *value = json_object_get(e, "value");
	const char *vpath = arena_printf(c->a, "%s.value", base);
	if (!json_is_array(value) || json_array_size(value) == 0) {
		api_fail(c, HERR_VALIDATION, vpath, "%s must be an array with at least one item", vpath);
		return -1;
	}
	if (json_array_size(value) > MAX_THREAD) {
		api_fail(c, HERR_VALIDATION, vpath, "%s has more than %d items", vpath, MAX_THREAD);
		return -1;
	}
	out->nitems = json_array_size(value);
	out->items = arena_alloc(c->a, out->nitems * sizeof(*out->items));
	for (size_t j = 0; j < out->nitems; j++) {
		json_t *it = json_array_get(value, j);
		const char *ip = arena_printf(c->a, "%s[%zu]", vpath, j);
		struct store_post_item *pi = &out->items[j];
		if (!json_is_object(it)) {
			api_fail(c, HERR_VALIDATION, ip, "%s must be an object", ip);
			return -1;
		}
		const char *content, *id;
		long long delay = 0;
		char *media;
		if (api_get_str(c, it, "content", arena_printf(c->a, "%s.content", ip), 1, &content) ||
		    api_get_str(c, it, "id", arena_printf(c->a, "%s.id", ip), 0, &id) ||
		    api_get_int(c, it, "delay", arena_printf(c->a, "%s.delay", ip), 0, 0, 525600, &delay) ||
		    parse_images(c, json_object_get(it, "image"), arena_printf(c->a, "%s.image", ip),
				 &media))
			return -1;
		if (id && !id_valid(id)) {
			api_fail(c, HERR_VALIDATION, arena_printf(c->a, "%s.id", ip),
				 "%s.id must be 1-64 letters, digits, '-' or '_'", ip);
			return -1;
		}
		int blank;
		visible_length(content, &blank);
		if (blank && !strcmp(media, "[]")) {
			api_fail(c, HERR_VALIDATION, arena_printf(c->a, "%s.content", ip),
				 "Your post should have at least one character or one image.");
			return -1;
		}
		pi->id = id;
		pi->content = content;
		pi->media = media;
		pi->delay_min = (int)delay;
	}
	/* Postiz validates non-drafts only */
	if (!is_draft)
		preflight_entry(c, value, idx, out, pf);
	return 0;
}

void h_posts_create(void *p)
{
	struct call *c = p;
	json_t *body = api_body_object(c);
	if (!body)
		return;
	const char *type, *date, *cm;
	long long inter = 0;
	int republish = 0, short_link = 0;
	if (api_get_str(c, body, "type", "type", 1, &type) ||
	    api_get_str(c, body, "date", "date", 0, &date) ||
	    api_get_bool(c, body, "shortLink", "shortLink", 0, &short_link) ||
	    api_get_bool(c, body, "republish", "republish", 0, &republish) ||
	    api_get_int(c, body, "inter", "inter", 0, 0, 3650, &inter) ||
	    api_get_str(c, body, "creationMethod", "creationMethod", 0, &cm))
		return;
	int is_now = !strcmp(type, "now"), is_draft = !strcmp(type, "draft");
	int is_update = !strcmp(type, "update"), is_sched = !strcmp(type, "schedule");
	if (!is_now && !is_draft && !is_update && !is_sched) {
		api_fail(c, HERR_VALIDATION, "type",
			 "type must be one of \"now\", \"schedule\", \"draft\", \"update\"");
		return;
	}
	int64_t now = now_ms(), when = now;
	if (!is_now) {
		if (!date) {
			api_fail(c, HERR_VALIDATION, "date", "date is required");
			return;
		}
		if (iso_parse(date, &when)) {
			api_fail(c, HERR_VALIDATION, "date",
				 "date must be an ISO 8601 date-time (e.g. 2026-12-01T10:00:00Z)");
			return;
		}
		if (is_sched && when < now - PAST_GRACE_MS) {
			api_fail(c, HERR_VALIDATION, "date",
				 "date %s is in the past; use type \"now\" to publish immediately", date);
			return;
		}
	} else if (date) {
		int64_t ignored;
		if (iso_parse(date, &ignored)) {
			api_fail(c, HERR_VALIDATION, "date", "date must be an ISO 8601 date-time");
			return;
		}
	}
	json_t *tags = json_object_get(body, "tags");
	const char **tag_names = NULL;
	size_t ntags = 0;
	if (tags && !json_is_null(tags)) {
		if (!json_is_array(tags)) {
			api_fail(c, HERR_VALIDATION, "tags", "tags must be an array of {value, label}");
			return;
		}
		tag_names = arena_alloc(c->a, (json_array_size(tags) + 1) * sizeof(char *));
		size_t i;
		json_t *t;
		json_array_foreach(tags, i, t) {
			json_t *l = json_is_object(t) ? json_object_get(t, "label") : t;
			if (json_is_object(t) && !json_is_string(l))
				l = json_object_get(t, "value");
			if (!json_is_string(l) || !*json_string_value(l) ||
			    json_string_length(l) > 100) {
				api_fail(c, HERR_VALIDATION, arena_printf(c->a, "tags[%zu]", i),
					 "tags[%zu] must be {value, label} with a label of 1-100 characters",
					 i);
				return;
			}
			tag_names[ntags++] = json_string_value(l);
		}
	}
	json_t *posts = json_object_get(body, "posts");
	if (!json_is_array(posts) || json_array_size(posts) == 0) {
		api_fail(c, HERR_VALIDATION, "posts", "posts must be an array with at least one item");
		return;
	}
	if (json_array_size(posts) > MAX_POSTS) {
		api_fail(c, HERR_VALIDATION, "posts", "posts has more than %d items", MAX_POSTS);
		return;
	}
	size_t ne = json_array_size(posts);
	struct entry *ents = arena_alloc(c->a, ne * sizeof(*ents));
	struct pf_found pf = {0};
	for (size_t i = 0; i < ne; i++)
		if (parse_entry(c, json_array_get(posts, i), i, is_draft, &ents[i], &pf))
			return;
	/* an id names one row: the same id twice would make a row its own
	 * parent or move it between entries */
	for (size_t i = 0; i < ne; i++)
		for (size_t j = 0; j < ents[i].nitems; j++) {
			const char *id = ents[i].items[j].id;
			if (!id)
				continue;
			for (size_t k = 0; k <= i; k++)
				for (size_t l = 0; l < (k == i ? j : ents[k].nitems); l++)
					if (ents[k].items[l].id && !strcmp(ents[k].items[l].id, id)) {
						api_fail(c, HERR_VALIDATION,
							 arena_printf(c->a, "posts[%zu].value[%zu].id", i, j),
							 "posts[%zu].value[%zu].id repeats id %s of posts[%zu].value[%zu]",
							 i, j, id, k, l);
						return;
					}
		}
	if (pf.rule) {
		size_t nv = json_array_size(pf.violations);
		const char *msg = nv > 1 ? arena_printf(c->a, "%s (and %zu more: see error.violations)",
							pf.message, nv - 1)
					 : pf.message;
		api_fail_violations(c, HERR_PREFLIGHT, pf.field, pf.rule, pf.platform, pf.violations,
				    "%s", msg);
		return;
	}
	for (size_t i = 0; i < ntags; i++) {
		char *tid;
		if (store_tag_ensure(c->st, c->a, c->org_id, tag_names[i], NULL, &tid)) {
			api_fail_storage(c);
			return;
		}
	}
	const char *method = c->creation_method     ? c->creation_method
			     : cm && !strcmp(cm, "CLI") ? "CLI"
							: "API";
	json_t *out = json_array();
	for (size_t i = 0; i < ne; i++) {
		char group[37];
		uuid_new(group);
		struct store_post_write w = {
			.org_id = c->org_id,
			.channel_id = ents[i].ch->id,
			.group = group,
			.old_group = ents[i].group,
			.settings = ents[i].settings,
			.state = is_draft ? PS_DRAFT : is_update ? NULL : PS_QUEUED,
			.publish_at = when,
			.interval_days = (int)inter,
			.creation_method = method,
			.republish = republish,
			.tag_names = tag_names,
			.ntags = ntags,
			.items = ents[i].items,
			.nitems = ents[i].nitems,
		};
		char *root = NULL, *msg = NULL;
		int rc = store_post_write(c->st, c->a, &w, &root, &msg);
		if (rc == STORE_NOTFOUND || rc == STORE_CONFLICT) {
			json_decref(out);
			api_fail(c, rc == STORE_NOTFOUND ? HERR_VALIDATION : HERR_INVALID_STATE,
				 arena_printf(c->a, "posts[%zu]", i), "%s%s", msg ? msg : "conflict",
				 i ? " (earlier entries of this request were saved)" : "");
			return;
		}
		if (rc) {
			json_decref(out);
			api_fail_storage(c);
			return;
		}
		json_array_append_new(out, json_pack("{s:s,s:s}", "postId", root, "integration",
						     ents[i].ch->id));
	}
	api_reply(c, 201, out);
}
