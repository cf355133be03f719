/*
 * native_posts: the native /v1 posts API.  So far: POST /v1/posts/validate,
 * the dry run that reports EVERY violation of EVERY target at once.
 *
 * A target names an account (`accountId`, its platform's rules apply) or
 * just a `platform`, so that content can be checked before any account of
 * that platform is connected.  Per-target `text`, `media`, `thread` and
 * `options` override the post's.  Text is plain text here (not Postiz HTML).
 */
#include "api.h"
#include "../media/media.h"
#include "../core/arena.h"
#include "../preflight/rules.h"
#include "../store/store.h"

#include <string.h>

#define MAX_TARGETS 50
#define MAX_ITEMS 100
#define MAX_MEDIA 50

/* media: [ "url" | {url?, mediaId?, mime?, bytes?, width?, height?, duration?} ] */
static int parse_media(struct call *c, json_t *arr, const char *path, struct pf_media **out,
		       size_t *n)
{
	*out = NULL;
	*n = 0;
	if (!arr || json_is_null(arr))
		return 0;
	if (!json_is_array(arr) || json_array_size(arr) > MAX_MEDIA) {
		api_fail(c, HERR_VALIDATION, path, "%s must be an array of at most %d media", path,
			 MAX_MEDIA);
		return -1;
	}
	*n = json_array_size(arr);
	*out = arena_alloc(c->a, (*n + 1) * sizeof(**out));
	size_t i;
	json_t *m;
	json_array_foreach(arr, i, m) {
		struct pf_media *pm = &(*out)[i];
		const char *ip = arena_printf(c->a, "%s[%zu]", path, i);
		const char *url = json_string_value(json_is_object(m) ? json_object_get(m, "url") : m);
		if (!json_is_string(m) && !json_is_object(m)) {
			api_fail(c, HERR_VALIDATION, ip, "%s must be a URL or an object", ip);
			return -1;
		}
		const char *mime = NULL;
		long long bytes = 0, w = 0, h = 0;
		if (json_is_object(m) &&
		    (api_get_str(c, m, "mime", arena_printf(c->a, "%s.mime", ip), 0, &mime) ||
		     api_get_int(c, m, "bytes", arena_printf(c->a, "%s.bytes", ip), 0, 0, (1LL << 40), &bytes) ||
		     api_get_int(c, m, "width", arena_printf(c->a, "%s.width", ip), 0, 0, 1000000, &w) ||
		     api_get_int(c, m, "height", arena_printf(c->a, "%s.height", ip), 0, 0, 1000000, &h)))
			return -1;
		json_t *d = json_is_object(m) ? json_object_get(m, "duration") : NULL;
		if (d && !json_is_number(d)) {
			api_fail(c, HERR_VALIDATION, arena_printf(c->a, "%s.duration", ip),
				 "%s.duration must be a number of seconds", ip);
			return -1;
		}
		pm->mime = mime ? mime : url ? pf_mime_from_path(url) : NULL;
		pm->bytes = bytes;
		pm->width = (int)w;
		pm->height = (int)h;
		pm->duration_s = d ? json_number_value(d) : 0;
		/* media herald hosts: the stored facts win over declared ones */
		const char *mid = json_is_object(m) ? json_string_value(json_object_get(m, "mediaId")) : NULL;
		api_media_facts(c, mid, url, NULL, pm);
	}
	return 0;
}

static int media_fits_any(const char *plat)
{
	return media_fit_for(plat) != NULL;
}

/* A copy of n media adjusted for plat (api_media_fit_facts); the shared
 * array of the body is never changed, other targets read it too. */
static struct pf_media *fit_copy(struct call *c, struct pf_media *m, size_t n, const char *plat)
{
	if (!m || !n || !media_fits_any(plat))
		return m;
	struct pf_media *cp = arena_alloc(c->a, n * sizeof(*cp));
	memcpy(cp, m, n * sizeof(*cp));
	api_media_fit_facts(plat, cp, n);
	return cp;
}

struct item_in {
	const char *text;
	struct pf_media *media;
	size_t nmedia;
};

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
		if (json_is_string(t)) {
			it->text = json_string_value(t);
			continue;
		}
		if (!json_is_object(t)) {
			api_fail(c, HERR_VALIDATION, ip, "%s must be a string or {text, media}", ip);
			return -1;
		}
		if (api_get_str(c, t, "text", arena_printf(c->a, "%s.text", ip), 0, &it->text) ||
		    parse_media(c, json_object_get(t, "media"), arena_printf(c->a, "%s.media", ip),
				&it->media, &it->nmedia))
			return -1;
	}
	return 0;
}

void h_posts_validate(void *p)
{
	struct call *c = p;
	json_t *body = api_body_object(c);
	if (!body)
		return;
	const char *text;
	struct pf_media *media;
	size_t nmedia, nthread;
	struct item_in *thread;
	if (api_get_str(c, body, "text", "text", 0, &text) ||
	    parse_media(c, json_object_get(body, "media"), "media", &media, &nmedia) ||
	    parse_thread(c, json_object_get(body, "thread"), "thread", &thread, &nthread))
		return;
	json_t *targets = json_object_get(body, "targets");
	if (!json_is_array(targets) || json_array_size(targets) == 0 ||
	    json_array_size(targets) > MAX_TARGETS) {
		api_fail(c, HERR_VALIDATION, "targets",
			 "targets must be an array of 1 to %d {accountId} or {platform}", MAX_TARGETS);
		return;
	}
	json_t *all = json_array(), *per = json_array();
	size_t ti;
	json_t *t;
	json_array_foreach(targets, ti, t) {
		const char *tp = arena_printf(c->a, "targets[%zu]", ti);
		const char *acc = NULL, *plat = NULL, *ttext = NULL;
		if (!json_is_object(t)) {
			api_fail(c, HERR_VALIDATION, tp, "%s must be {accountId} or {platform}", tp);
			goto out;
		}
		if (api_get_str(c, t, "accountId", arena_printf(c->a, "%s.accountId", tp), 0, &acc) ||
		    api_get_str(c, t, "platform", arena_printf(c->a, "%s.platform", tp), 0, &plat) ||
		    api_get_str(c, t, "text", arena_printf(c->a, "%s.text", tp), 0, &ttext))
			goto out;
		if (acc) {
			struct store_channel *ch;
			int rc = store_channel_get(c->st, c->a, c->org_id, acc, &ch);
			if (rc == STORE_NOTFOUND) {
				api_fail(c, HERR_NOT_FOUND, arena_printf(c->a, "%s.accountId", tp),
					 "no account %s in this organization", acc);
				goto out;
			}
			if (rc) {
				api_fail_storage(c);
				goto out;
			}
			if (plat && strcmp(plat, ch->provider)) {
				api_fail(c, HERR_VALIDATION, arena_printf(c->a, "%s.platform", tp),
					 "account %s is on %s, not %s", acc, ch->provider, plat);
				goto out;
			}
			plat = ch->provider;
		}
		if (!plat) {
			api_fail(c, HERR_VALIDATION, tp, "%s needs an accountId or a platform", tp);
			goto out;
		}
		if (!pf_platform_name(plat)) {
			api_fail(c, HERR_VALIDATION, arena_printf(c->a, "%s.platform", tp),
				 "unknown platform '%s'; GET /v1/preflight/rules lists them", plat);
			goto out;
		}
		struct pf_media *tm = media;
		size_t ntm = nmedia, ntt = nthread;
		struct item_in *tt = thread;
		json_t *opts = json_object_get(t, "options");
		if (opts && !json_is_null(opts) && !json_is_object(opts)) {
			api_fail(c, HERR_VALIDATION, arena_printf(c->a, "%s.options", tp),
				 "%s.options must be an object", tp);
			goto out;
		}
		if ((json_object_get(t, "media") &&
		     parse_media(c, json_object_get(t, "media"), arena_printf(c->a, "%s.media", tp), &tm, &ntm)) ||
		    (json_object_get(t, "thread") &&
		     parse_thread(c, json_object_get(t, "thread"), arena_printf(c->a, "%s.thread", tp), &tt, &ntt)))
			goto out;
		/* per platform: an image herald will send as a fitting copy */
		tm = fit_copy(c, tm, ntm, plat);
		if (media_fits_any(plat)) {
			struct item_in *ct = arena_alloc(c->a, (ntt + 1) * sizeof(*ct));
			if (ntt)
				memcpy(ct, tt, ntt * sizeof(*ct));
			for (size_t k = 0; k < ntt; k++)
				ct[k].media = fit_copy(c, ct[k].media, ct[k].nmedia, plat);
			tt = ct;
		}
		size_t n = 1 + ntt;
		struct pf_target *items = arena_alloc(c->a, n * sizeof(*items));
		items[0] = (struct pf_target){plat, ttext ? ttext : text ? text : "", 0, tm, ntm,
					      json_is_object(opts) ? opts : NULL};
		for (size_t k = 0; k < ntt; k++)
			items[k + 1] = (struct pf_target){plat, tt[k].text ? tt[k].text : "", 0, tt[k].media,
							  tt[k].nmedia, json_is_object(opts) ? opts : NULL};
		struct pf_violation *v;
		size_t nv;
		if (pf_check_thread(items, n, &v, &nv, c->a) < 0) {
			api_fail(c, HERR_INTERNAL, NULL, "preflight could not run");
			goto out;
		}
		json_t *tv = json_array();
		for (size_t k = 0; k < nv; k++) {
			json_t *j = pf_violation_json(&v[k]);
			json_object_set_new(j, "target", json_integer((json_int_t)ti));
			if (acc)
				json_object_set_new(j, "accountId", json_string(acc));
			json_array_append(all, j);
			json_array_append_new(tv, j);
		}
		json_array_append_new(per, json_pack("{s:i,s:s,s:s?,s:b,s:o}", "target", (int)ti,
						     "platform", plat, "accountId", acc, "valid", nv == 0,
						     "violations", tv));
	}
	api_reply(c, 200, json_pack("{s:b,s:o,s:o}", "valid", json_array_size(all) == 0, "violations",
				    all, "targets", per));
	return;
out:
	json_decref(all);
	json_decref(per);
}
