/*
 * metrics: GET /metrics in the Prometheus text exposition format 0.0.4.
 *
 * Access (HERALD_METRICS): "token" (default) wants
 * `Authorization: Bearer <HERALD_METRICS_TOKEN>` (Prometheus'
 * `authorization: {credentials: ...}`), and answers 403 until a token is
 * configured; "public" serves anyone who reaches the port; "off" answers
 * 404.  Not an API key: these numbers are the whole instance's, across
 * organizations, so no organization's key may read them.
 *
 * Families: posts by state and the due backlog (read from the store at the
 * scrape), publish and unpublish attempts by provider and outcome, HTTP
 * answers by route and status class, the due -> claimed lag histogram and
 * in-flight counts (from src/core/metrics.c, summed over the loops).
 */
#include "api.h"
#include "../core/arena.h"
#include "../core/buf.h"
#include "../core/config.h"
#include "../core/metrics.h"
#include "../core/timeutil.h"
#include "../store/store.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define OUT_MAX (4u << 20)

/* a label value: backslash, double quote and newline escaped */
static void label(struct buf *b, const char *v)
{
	for (const char *p = v ? v : ""; *p; p++) {
		if (*p == '\\')
			(void)!buf_adds(b, "\\\\");
		else if (*p == '"')
			(void)!buf_adds(b, "\\\"");
		else if (*p == '\n')
			(void)!buf_adds(b, "\\n");
		else
			(void)!buf_add(b, p, 1);
	}
}

static void family(struct buf *b, const char *name, const char *type, const char *help)
{
	(void)!buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static int allowed(struct call *c)
{
	const struct config *cfg = c->app->cfg;
	if (!strcmp(cfg->metrics, "public"))
		return 1;
	if (!strcmp(cfg->metrics, "off")) {
		api_fail(c, HERR_NOT_FOUND, "path", "metrics are turned off (HERALD_METRICS=off)");
		return 0;
	}
	if (!cfg->metrics_token || !*cfg->metrics_token) {
		api_fail(c, HERR_UNAUTHORIZED, NULL,
			 "set HERALD_METRICS_TOKEN (and send it as a Bearer token), or "
			 "HERALD_METRICS=public to serve metrics without one");
		return 0;
	}
	const char *h = http_header(c->r, "Authorization");
	if (h && !strncmp(h, "Bearer ", 7))
		h += 7;
	size_t want = strlen(cfg->metrics_token);
	if (!h || strlen(h) != want || sodium_memcmp(h, cfg->metrics_token, want)) {
		api_fail(c, HERR_UNAUTHENTICATED, "Authorization",
			 "GET /metrics needs Authorization: Bearer <HERALD_METRICS_TOKEN>");
		return 0;
	}
	return 1;
}

static const char *const states[] = {PS_DRAFT,       PS_QUEUED,   PS_PUBLISHING, PS_PUBLISHED,
				      PS_FAILED,      PS_CANCELED, PS_UNCONFIRMED, PS_DELETING,
				      PS_DELETED,     NULL};

void h_metrics(void *p)
{
	struct call *c = p;
	if (!allowed(c))
		return;
	struct store_count *sc;
	size_t nsc;
	int64_t due = 0;
	if (store_post_state_counts(c->st, c->a, &sc, &nsc) ||
	    store_post_due_count(c->st, now_ms(), &due)) {
		api_fail_storage(c);
		return;
	}
	struct buf b;
	buf_init(&b, OUT_MAX);

	family(&b, "herald_posts", "gauge", "Live root posts (one per channel and thread) by state.");
	for (int i = 0; states[i]; i++) {
		int64_t n = 0;
		for (size_t k = 0; k < nsc; k++)
			if (sc[k].name && !strcmp(sc[k].name, states[i]))
				n = sc[k].n;
		(void)!buf_printf(&b, "herald_posts{state=\"%s\"} %lld\n", states[i], (long long)n);
	}
	family(&b, "herald_posts_due", "gauge",
	       "Queued posts whose time has come and that no worker has claimed yet.");
	(void)!buf_printf(&b, "herald_posts_due %lld\n", (long long)due);

	static const char *const kinds[MET_KINDS] = {"herald_publish_attempts_total",
						     "herald_unpublish_attempts_total",
						     "herald_analytics_samples_total"};
	static const char *const helps[MET_KINDS] = {
		"Requests to publish on a platform, by provider and outcome, since start.",
		"Requests to delete from a platform, by provider and outcome, since start.",
		"Metrics samples of published posts, by provider and outcome, since start."};
	for (int k = 0; k < MET_KINDS; k++) {
		family(&b, kinds[k], "counter", helps[k]);
		for (int pi = 0; pi < MET_PROVIDERS; pi++) {
			const char *pn = metrics_provider_name(pi);
			if (!pn)
				continue;
			for (int o = 0; metrics_outcome_name(o); o++) {
				uint64_t v = metrics_attempt_count((enum met_kind)k, pi, o);
				if (!v)
					continue;
				(void)!buf_printf(&b, "%s{provider=\"", kinds[k]);
				label(&b, pn);
				(void)!buf_printf(&b, "\",outcome=\"%s\"} %llu\n", metrics_outcome_name(o),
					   (unsigned long long)v);
			}
		}
	}

	family(&b, "herald_http_requests_total", "counter",
	       "HTTP answers by route pattern and status class, since start.");
	for (int ri = 0; ri < MET_ROUTES; ri++) {
		const char *rn = metrics_route_name(ri);
		if (!rn)
			continue;
		for (int cls = 1; cls <= 5; cls++) {
			uint64_t v = metrics_http_count(ri, cls);
			if (!v)
				continue;
			(void)!buf_adds(&b, "herald_http_requests_total{route=\"");
			label(&b, rn);
			(void)!buf_printf(&b, "\",code=\"%dxx\"} %llu\n", cls, (unsigned long long)v);
		}
	}

	family(&b, "herald_engine_lag_seconds", "histogram",
	       "How late due posts were claimed by a worker (due time to claim).");
	uint64_t total = 0;
	for (int i = 0; i < MET_LAG_BUCKETS; i++) {
		total = metrics_lag_bucket(i);
		if (i == MET_LAG_BUCKETS - 1)
			(void)!buf_printf(&b, "herald_engine_lag_seconds_bucket{le=\"+Inf\"} %llu\n",
				   (unsigned long long)total);
		else
			(void)!buf_printf(&b, "herald_engine_lag_seconds_bucket{le=\"%g\"} %llu\n",
				   metrics_lag_bound(i), (unsigned long long)total);
	}
	(void)!buf_printf(&b, "herald_engine_lag_seconds_sum %.3f\n", metrics_lag_sum_seconds());
	(void)!buf_printf(&b, "herald_engine_lag_seconds_count %llu\n", (unsigned long long)total);

	family(&b, "herald_inflight", "gauge",
	       "Work in progress: engine jobs publishing, deleting or sampling metrics, API calls waiting on a platform.");
	(void)!buf_printf(&b, "herald_inflight{kind=\"publish\"} %lld\n",
		   (long long)metrics_inflight_now(MET_PUBLISH));
	(void)!buf_printf(&b, "herald_inflight{kind=\"unpublish\"} %lld\n",
		   (long long)metrics_inflight_now(MET_UNPUBLISH));
	(void)!buf_printf(&b, "herald_inflight{kind=\"analytics\"} %lld\n",
		   (long long)metrics_inflight_now(MET_ANALYTICS));
	(void)!buf_printf(&b, "herald_inflight{kind=\"http_deferred\"} %d\n", api_deferred_count());

	family(&b, "herald_start_time_seconds", "gauge", "When this process started (Unix time).");
	(void)!buf_printf(&b, "herald_start_time_seconds %.3f\n", (double)c->app->started_ms / 1000.0);

	if (b.len + 256 >= OUT_MAX) { /* cannot happen with bounded label tables */
		buf_release(&b);
		api_fail(c, HERR_INTERNAL, NULL, "the metrics do not fit the output bound");
		return;
	}
	c->replied = 1;
	http_reply(c->r, 200, "text/plain; version=0.0.4; charset=utf-8", b.data ? b.data : "",
		   b.len);
	buf_release(&b);
}
