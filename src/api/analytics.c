/*
 * analytics: the metrics the engine samples (src/engine/analytics.c), read
 * back through both APIs.
 *
 *   GET /public/v1/analytics/{integration}?date=N   Postiz: per-day totals
 *       of the channel's posts per metric, [{label, data:[{total, date}],
 *       percentageChange}]; [] for a platform without metrics
 *   GET /public/v1/analytics/post/{id}?date=N       Postiz: one post's
 *       per-day series in that shape; {"missing":true} while it has no
 *       release id
 *   GET /v1/analytics/posts/{id}                    every target's latest
 *       counters and every sample (a native post id, or a Postiz post id:
 *       that one target)
 *   GET /v1/analytics/accounts/{id}?from=&to=       per-day totals of an
 *       account
 *   POST /v1/analytics/posts/{id}/refresh           sample every target now:
 *       the engine's jobs are made due (so no sample runs twice, and the
 *       platform's limits and token refresh apply as always) and the
 *       answer waits up to 10 s for them: 200 with the new counters, else
 *       202 with what is known (the samples still come)
 *
 * Counters are cumulative (likes so far), so a day's value of a post is its
 * latest sample up to the end of that day (carried forward over days
 * without one) and a channel's day total is the sum of its posts' values.
 * Days are UTC.  percentageChange compares the first and the last day of
 * the window: (last - first) / first * 100, rounded to 2 places; 100 when
 * it grew from 0, 0 when nothing changed.  Unlike Postiz (500), an unknown
 * id is a 404 envelope; another organization's ids are unknown ids.
 */
#include "api.h"
#include "../core/arena.h"
#include "../core/ids.h"
#include "../core/timeutil.h"
#include "../providers/provider.h"
#include "../store/store.h"

#include <event2/event.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DAY_MS 86400000LL
#define MAX_DAYS 366

static const char *label_of(const char *name)
{
	static const struct {
		const char *name, *label;
	} map[] = {{METRIC_LIKES, "Likes"},
		   {METRIC_REPOSTS, "Reposts"},
		   {METRIC_REPLIES, "Replies"},
		   {METRIC_QUOTES, "Quotes"}};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (!strcmp(map[i].name, name))
			return map[i].label;
	return name;
}

static int metrics_supported(const char *provider)
{
	const struct provider *pr = provider_find(provider);
	return pr && pr->metrics && (pr->flags & PROV_METRICS);
}

/* Postiz ?date=N: days back, 1..366, default 7; -1 when answered */
static int date_param(struct call *c)
{
	const char *v = http_query_param(c->r, "date");
	if (!v)
		return 7;
	char *end;
	long n = strtol(v, &end, 10);
	if (end == v || *end || n < 1 || n > MAX_DAYS) {
		api_fail(c, HERR_VALIDATION, "date",
			 "date must be a number of days back from 1 to %d", MAX_DAYS);
		return -1;
	}
	return (int)n;
}

static void free_json(void *p)
{
	json_decref(p);
}

/* Per-day totals over [day0, day0 + ndays days) of samples sorted by time:
 * {"YYYY-MM-DD": {name: total}} for the days with any known value, in
 * order (a JSON object keeps insertion order).  Owned by the arena. */
static json_t *per_day(struct call *c, const struct store_sample *s, size_t n, int64_t day0,
		       int ndays)
{
	json_t *cur = json_object(); /* item -> {name: latest value} */
	json_t *days = json_object();
	arena_defer(c->a, free_json, cur);
	arena_defer(c->a, free_json, days);
	size_t i = 0;
	for (int d = 0; d < ndays; d++) {
		int64_t end = day0 + (int64_t)(d + 1) * DAY_MS;
		for (; i < n && s[i].sampled_at < end; i++) {
			json_t *o = json_object_get(cur, s[i].item_id);
			if (!o) {
				o = json_object();
				json_object_set_new(cur, s[i].item_id, o);
			}
			json_object_set_new(o, s[i].name, json_integer(s[i].value));
		}
		if (!json_object_size(cur))
			continue;
		json_t *tot = json_object();
		const char *item;
		json_t *o;
		json_object_foreach(cur, item, o)
		{
			const char *name;
			json_t *v;
			json_object_foreach(o, name, v)
			{
				json_int_t t = json_integer_value(json_object_get(tot, name));
				json_object_set_new(tot, name, json_integer(t + json_integer_value(v)));
			}
		}
		char ts[32];
		iso_format(day0 + (int64_t)d * DAY_MS, ts);
		ts[10] = 0;
		json_object_set_new(days, ts, tot);
	}
	return days;
}

static double pct_change(json_int_t first, json_int_t last)
{
	if (first == 0)
		return last > 0 ? 100.0 : 0.0;
	return round((double)(last - first) * 10000.0 / (double)first) / 100.0;
}

/* The Postiz AnalyticsData[] of per-day totals (new reference). */
static json_t *postiz_shape(json_t *days)
{
	json_t *out = json_array();
	static const char *const order[] = {METRIC_LIKES, METRIC_REPOSTS, METRIC_REPLIES,
					    METRIC_QUOTES, NULL};
	/* every name seen, known ones first in a fixed order */
	json_t *names = json_object();
	for (int k = 0; order[k]; k++) {
		const char *d;
		json_t *tot;
		json_object_foreach(days, d, tot) if (json_object_get(tot, order[k]))
			json_object_set_new(names, order[k], json_true());
	}
	const char *d;
	json_t *tot;
	json_object_foreach(days, d, tot)
	{
		const char *name;
		json_t *v;
		json_object_foreach(tot, name, v) if (!json_object_get(names, name))
			json_object_set_new(names, name, json_true());
	}
	const char *name;
	json_t *unused;
	json_object_foreach(names, name, unused)
	{
		json_t *data = json_array();
		json_int_t first = 0, last = 0;
		int seen = 0;
		json_object_foreach(days, d, tot)
		{
			json_t *v = json_object_get(tot, name);
			if (!v)
				continue;
			json_int_t t = json_integer_value(v);
			if (!seen++)
				first = t;
			last = t;
			char buf[32];
			snprintf(buf, sizeof(buf), "%lld", (long long)t);
			json_array_append_new(data, json_pack("{s:s,s:s}", "total", buf, "date", d));
		}
		json_array_append_new(out, json_pack("{s:s,s:o,s:f}", "label", label_of(name), "data",
						     data, "percentageChange",
						     pct_change(first, last)));
	}
	json_decref(names);
	return out;
}

static int64_t day_start(int64_t ms)
{
	return ms - ms % DAY_MS;
}

void h_analytics_channel(void *p)
{
	struct call *c = p;
	struct store_channel *ch = NULL;
	int rc = store_channel_get(c->st, c->a, c->org_id, c->params[0], &ch);
	if (rc == STORE_NOTFOUND) {
		api_fail(c, HERR_NOT_FOUND, "integration", "Integration not found");
		return;
	}
	if (rc) {
		api_fail_storage(c);
		return;
	}
	int ndays = date_param(c);
	if (ndays < 0)
		return;
	if (!metrics_supported(ch->provider)) {
		api_reply(c, 200, json_array());
		return;
	}
	int64_t now = now_ms();
	int64_t day0 = day_start(now) - (int64_t)(ndays - 1) * DAY_MS;
	struct store_sample *s;
	size_t n;
	/* from the beginning: a post sampled before the window still counts */
	if (store_analytics_samples(c->st, c->a, c->org_id, ch->id, NULL, 0, now + 1, &s, &n)) {
		api_fail_storage(c);
		return;
	}
	api_reply(c, 200, postiz_shape(per_day(c, s, n, day0, ndays)));
}

void h_analytics_post(void *p)
{
	struct call *c = p;
	struct store_post *v;
	size_t nv;
	int rc = store_post_thread(c->st, c->a, c->org_id, c->params[0], &v, &nv);
	if (rc == STORE_NOTFOUND || (!rc && !nv)) {
		api_fail(c, HERR_NOT_FOUND, "id", "Post not found");
		return;
	}
	if (rc) {
		api_fail_storage(c);
		return;
	}
	int ndays = date_param(c);
	if (ndays < 0)
		return;
	if (!v[0].release_id || !*v[0].release_id) {
		api_reply(c, 200, json_pack("{s:b}", "missing", 1));
		return;
	}
	if (!metrics_supported(v[0].channel_provider)) {
		api_reply(c, 200, json_array());
		return;
	}
	int64_t now = now_ms();
	int64_t day0 = day_start(now) - (int64_t)(ndays - 1) * DAY_MS;
	struct store_sample *s;
	size_t n;
	if (store_analytics_samples(c->st, c->a, c->org_id, NULL, v[0].id, 0, now + 1, &s, &n)) {
		api_fail_storage(c);
		return;
	}
	api_reply(c, 200, postiz_shape(per_day(c, s, n, day0, ndays)));
}

static json_t *iso_or_null(int64_t ms)
{
	if (!ms)
		return json_null();
	char ts[32];
	iso_format(ms, ts);
	return json_string(ts);
}

/* One target (root row) of a native post: latest counters and series. */
static json_t *target_json(struct call *c, const struct store_post *r)
{
	int sup = metrics_supported(r->channel_provider);
	json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:o,s:b}", "targetId", r->id, "accountId",
			      r->channel_id, "platform", r->channel_provider, "status", r->state,
			      "releaseUrl", r->release_url ? json_string(r->release_url) : json_null(),
			      "metricsSupported", sup);
	json_t *series = json_array();
	json_t *latest = json_null();
	int64_t last_at = 0;
	struct store_sample *s;
	size_t n = 0;
	if (sup && store_analytics_samples(c->st, c->a, c->org_id, NULL, r->id, 0, INT64_MAX, &s,
					   &n) == 0) {
		json_t *pt = NULL;
		for (size_t i = 0; i < n; i++) {
			if (!pt || s[i].sampled_at != last_at) {
				last_at = s[i].sampled_at;
				pt = json_object();
				json_array_append_new(series, json_pack("{s:o,s:o}", "sampledAt",
									iso_or_null(last_at), "metrics",
									pt));
			}
			json_object_set_new(pt, s[i].name, json_integer(s[i].value));
		}
		if (pt)
			latest = json_deep_copy(pt);
	}
	json_object_set_new(o, "metrics", latest);
	json_object_set_new(o, "sampledAt", iso_or_null(last_at));
	struct store_analytics_job *j = NULL;
	char *err = NULL;
	int done = 0;
	json_t *next = json_null(), *lerr = json_null();
	if (sup && store_analytics_job_get(c->st, c->a, r->id, &j, &err, &done) == 0) {
		if (!done)
			next = iso_or_null(j->due_at);
		if (err)
			lerr = json_string(err);
	}
	json_object_set_new(o, "nextSampleAt", next);
	json_object_set_new(o, "lastError", lerr);
	json_object_set_new(o, "series", series);
	return o;
}

static int load_native(struct call *c, struct store_post **v, size_t *n)
{
	const char *id = c->params[0];
	int rc = id && id_valid(id) ? store_native_rows(c->st, c->a, c->org_id, id, v, n)
				    : STORE_NOTFOUND;
	/* a Postiz post id (a thread's row) names that one target */
	if (rc == STORE_NOTFOUND && id && id_valid(id)) {
		rc = store_post_thread(c->st, c->a, c->org_id, id, v, n);
		if (!rc && *n)
			*n = 1;
		else if (!rc)
			rc = STORE_NOTFOUND;
	}
	if (rc == STORE_NOTFOUND) {
		api_fail(c, HERR_NOT_FOUND, "id", "no post %s in this organization", id ? id : "");
		return -1;
	}
	if (rc) {
		api_fail_storage(c);
		return -1;
	}
	return 0;
}

static json_t *post_json(struct call *c, const char *id, const struct store_post *v, size_t n)
{
	json_t *targets = json_array();
	for (size_t i = 0; i < n && !v[i].parent_id; i++)
		json_array_append_new(targets, target_json(c, &v[i]));
	return json_pack("{s:s,s:o}", "postId", id, "targets", targets);
}

void h_analytics_native_post(void *p)
{
	struct call *c = p;
	struct store_post *v;
	size_t n;
	if (load_native(c, &v, &n))
		return;
	api_reply(c, 200, post_json(c, c->params[0], v, n));
}

/* ---- refresh: the engine samples now; the answer waits for it ---- */

#define REFRESH_WAIT_MS 10000
#define REFRESH_POLL_MS 100

struct refresh_wait {
	struct call *c;
	struct event *ev;
	struct store_post *v;
	size_t n;
	const char **items; /* the targets made due */
	size_t nitems;
	int64_t t0, deadline;
};

/* a job made due at t0 has been through the engine since: sampled (or
 * retried, or given up with lastError) and not leased any more */
static int processed(struct call *c, const char *item, int64_t t0)
{
	struct store_analytics_job *j = NULL;
	char *err = NULL;
	int done = 0;
	if (store_analytics_job_get(c->st, c->a, item, &j, &err, &done))
		return 1; /* gone: nothing to wait for */
	return !j->lease_until && (done || j->due_at > t0);
}

static void refresh_poll(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct refresh_wait *w = arg;
	struct call *c = w->c;
	int all = 1;
	for (size_t i = 0; i < w->nitems && all; i++)
		all = processed(c, w->items[i], w->t0);
	if (!all && now_ms() < w->deadline) {
		struct timeval tv = {0, REFRESH_POLL_MS * 1000};
		evtimer_add(w->ev, &tv);
		return;
	}
	event_free(w->ev);
	/* sampled in time: 200 with the new counters; else 202, still coming */
	json_t *o = post_json(c, c->params[0], w->v, w->n);
	json_object_set_new(o, "refreshed", json_boolean(all));
	api_reply(c, all ? 200 : 202, o);
}

void h_analytics_refresh(void *p)
{
	struct call *c = p;
	struct refresh_wait *w = arena_alloc(c->a, sizeof(*w));
	w->c = c;
	if (load_native(c, &w->v, &w->n))
		return;
	w->items = arena_alloc(c->a, (w->n + 1) * sizeof(*w->items));
	w->t0 = now_ms();
	for (size_t i = 0; i < w->n && !w->v[i].parent_id; i++) {
		if (!metrics_supported(w->v[i].channel_provider))
			continue;
		int changed = 0;
		if (store_analytics_due_now(c->st, c->org_id, w->v[i].id, w->t0, &changed)) {
			api_fail_storage(c);
			return;
		}
		if (changed)
			w->items[w->nitems++] = w->v[i].id;
	}
	if (!w->nitems) {
		api_fail(c, HERR_INVALID_STATE, "id",
			 "nothing of this post can be sampled: no target is published on a platform "
			 "with metrics (or a sample is running right now)");
		return;
	}
	w->deadline = w->t0 + REFRESH_WAIT_MS;
	w->ev = c->base ? evtimer_new(c->base, refresh_poll, w) : NULL;
	if (!w->ev) {
		json_t *o = post_json(c, c->params[0], w->v, w->n);
		json_object_set_new(o, "refreshed", json_false());
		api_reply(c, 202, o);
		return;
	}
	api_defer(c);
	struct timeval tv = {0, REFRESH_POLL_MS * 1000};
	evtimer_add(w->ev, &tv);
}

void h_analytics_account(void *p)
{
	struct call *c = p;
	struct store_channel *ch = NULL;
	int rc = store_channel_get(c->st, c->a, c->org_id, c->params[0], &ch);
	if (rc == STORE_NOTFOUND) {
		api_fail(c, HERR_NOT_FOUND, "id", "no account %s in this organization", c->params[0]);
		return;
	}
	if (rc) {
		api_fail_storage(c);
		return;
	}
	int64_t now = now_ms(), from = 0, to = 0;
	const char *names[2] = {"from", "to"};
	int64_t *dst[2] = {&from, &to};
	for (int i = 0; i < 2; i++) {
		const char *q = http_query_param(c->r, names[i]);
		if (q && iso_parse(q, dst[i])) {
			api_fail(c, HERR_VALIDATION, names[i], "%s must be an ISO 8601 date or date-time",
				 names[i]);
			return;
		}
	}
	if (!to)
		to = now;
	if (!from)
		from = to - 29 * DAY_MS;
	if (from > to) {
		api_fail(c, HERR_VALIDATION, "from", "from must not be after to");
		return;
	}
	int64_t day0 = day_start(from);
	int64_t ndays = (day_start(to) - day0) / DAY_MS + 1;
	if (ndays > MAX_DAYS) {
		api_fail(c, HERR_VALIDATION, "from", "from and to may be at most %d days apart",
			 MAX_DAYS);
		return;
	}
	int sup = metrics_supported(ch->provider);
	json_t *days = json_array();
	json_t *totals = json_object();
	if (sup) {
		struct store_sample *s;
		size_t n;
		if (store_analytics_samples(c->st, c->a, c->org_id, ch->id, NULL, 0, day0 + ndays * DAY_MS,
					    &s, &n)) {
			json_decref(days);
			json_decref(totals);
			api_fail_storage(c);
			return;
		}
		json_t *pd = per_day(c, s, n, day0, (int)ndays);
		const char *d;
		json_t *tot;
		json_object_foreach(pd, d, tot)
		{
			json_array_append_new(days, json_pack("{s:s,s:O}", "date", d, "metrics", tot));
			json_object_update(totals, tot);
		}
	}
	json_t *o = json_pack("{s:s,s:s,s:b,s:o,s:o,s:o,s:o}", "accountId", ch->id, "platform",
			      ch->provider, "metricsSupported", sup, "from", iso_or_null(from), "to",
			      iso_or_null(to), "totals", totals, "days", days);
	api_reply(c, 200, o);
}
