/*
 * metrics: the process's counters for GET /metrics (src/api/metrics.c
 * renders them in the Prometheus text format).
 *
 * Recording never takes a lock: every thread adds to its own shard (a
 * cache-line aligned block picked on the thread's first use) with relaxed
 * atomic adds, so loops never contend; a scrape sums the shards with
 * relaxed loads.  Counters are monotonic (the sum of monotonic shards is
 * monotonic), a scrape is not a snapshot across counters (Prometheus does
 * not need one).
 *
 * Labels are bounded: routes and providers are keyed by the address of
 * their static name (the route table's pattern, the provider's
 * identifier), claimed into a fixed slot table with compare-and-swap on
 * first use; outcomes come from a fixed list.  Anything beyond the tables
 * is counted under "other", never dropped and never unbounded.
 */
#ifndef HERALD_METRICS_H
#define HERALD_METRICS_H

#include <stdint.h>

#define MET_ROUTES 160
#define MET_PROVIDERS 48
#define MET_OUTCOMES 12
#define MET_LAG_BUCKETS 13

enum met_kind { MET_PUBLISH = 0, MET_UNPUBLISH = 1, MET_ANALYTICS = 2 };
#define MET_KINDS 3

/* One HTTP answer (route: the matched route pattern, NULL when none). */
void metrics_http(const char *route, int status);
/* One publish, unpublish or metrics-sample attempt's end (provider: the provider's
 * identifier string from its table row). */
void metrics_attempt(enum met_kind kind, const char *provider, const char *outcome);
/* A due post claimed `late_ms` after its due time. */
void metrics_lag(int64_t late_ms);
/* Engine jobs in flight: +1 at start, -1 at the end. */
void metrics_inflight(enum met_kind kind, int delta);

/* ---- reading (scrape) ---- */
const char *metrics_outcome_name(int i); /* NULL past the end */
/* The name of slot i ("unmatched"/"other" for the reserved ones) or NULL
 * when the slot is unused. */
const char *metrics_route_name(int i);
const char *metrics_provider_name(int i);
uint64_t metrics_http_count(int route, int cls); /* cls 1..5: 1xx..5xx */
uint64_t metrics_attempt_count(enum met_kind kind, int provider, int outcome);
/* Histogram: upper bounds in seconds (the last is +Inf), cumulative counts. */
double metrics_lag_bound(int i);
uint64_t metrics_lag_bucket(int i); /* cumulative */
uint64_t metrics_lag_count(void);
double metrics_lag_sum_seconds(void);
int64_t metrics_inflight_now(enum met_kind kind);

#endif
