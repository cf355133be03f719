/*
 * test_metrics: the lock-free counters behind GET /metrics (src/core/metrics.c).
 *
 * Counts added from several threads at once must all be there at a scrape
 * (the shards are summed), labels keep their slot, the slot tables
 * overflow into "other"/"unmatched" instead of growing, outcomes outside
 * the fixed list count as "other", and the lag histogram is cumulative
 * with the right bucket per observation.  The metrics are process-wide,
 * so each test uses its own label strings and compares differences.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/metrics.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

static int route_slot(const char *name)
{
	for (int i = 0; i < MET_ROUTES; i++)
		if (metrics_route_name(i) == name)
			return i;
	return -1;
}

static int provider_slot(const char *name)
{
	for (int i = 0; i < MET_PROVIDERS; i++)
		if (metrics_provider_name(i) == name)
			return i;
	return -1;
}

static int outcome_index(const char *name)
{
	for (int i = 0; metrics_outcome_name(i); i++)
		if (!strcmp(metrics_outcome_name(i), name))
			return i;
	return -1;
}

static const char ROUTE_A[] = "/test/a";
static const char PROV_A[] = "prov-a";

#define THREADS 8
#define PER_THREAD 20000

static void *hammer(void *arg)
{
	(void)arg;
	for (int i = 0; i < PER_THREAD; i++) {
		metrics_http(ROUTE_A, i % 2 ? 200 : 404);
		metrics_attempt(MET_PUBLISH, PROV_A, "ok");
	}
	return NULL;
}

static void test_threads_sum(void **state)
{
	(void)state;
	pthread_t t[THREADS];
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, hammer, NULL), 0);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	int r = route_slot(ROUTE_A);
	assert_true(r > 0);
	assert_int_equal(metrics_http_count(r, 2), THREADS * PER_THREAD / 2);
	assert_int_equal(metrics_http_count(r, 4), THREADS * PER_THREAD / 2);
	assert_int_equal(metrics_http_count(r, 5), 0);
	int p = provider_slot(PROV_A);
	assert_true(p > 0);
	assert_int_equal(metrics_attempt_count(MET_PUBLISH, p, outcome_index("ok")),
			 THREADS * PER_THREAD);
	assert_int_equal(metrics_attempt_count(MET_UNPUBLISH, p, outcome_index("ok")), 0);
}

static void test_labels_and_overflow(void **state)
{
	(void)state;
	static const char prov_b[] = "prov-b";
	metrics_attempt(MET_UNPUBLISH, prov_b, "deleted");
	metrics_attempt(MET_UNPUBLISH, prov_b, "no-such-outcome");
	int p = provider_slot(prov_b);
	assert_true(p > 0);
	assert_int_equal(metrics_attempt_count(MET_UNPUBLISH, p, outcome_index("deleted")), 1);
	assert_int_equal(metrics_attempt_count(MET_UNPUBLISH, p, outcome_index("other")), 1);
	/* no route matched */
	metrics_http(NULL, 500);
	assert_string_equal(metrics_route_name(0), "unmatched");
	assert_true(metrics_http_count(0, 5) >= 1);
	/* more routes than slots: the rest count under "unmatched", nothing grows */
	static char names[MET_ROUTES + 20][16];
	uint64_t before = metrics_http_count(0, 2);
	int overflow = 0;
	for (int i = 0; i < MET_ROUTES + 20; i++) {
		snprintf(names[i], sizeof(names[i]), "/r/%d", i);
		metrics_http(names[i], 201);
		if (route_slot(names[i]) < 0)
			overflow++;
	}
	assert_true(overflow >= 20);
	assert_int_equal(metrics_http_count(0, 2) - before, (uint64_t)overflow);
	/* a status outside 1xx..5xx counts as 5xx */
	int r = route_slot(ROUTE_A);
	uint64_t five = metrics_http_count(r, 5);
	metrics_http(ROUTE_A, 0);
	metrics_http(ROUTE_A, 999);
	assert_int_equal(metrics_http_count(r, 5) - five, 2);
}

static void test_lag_histogram(void **state)
{
	(void)state;
	uint64_t c0 = metrics_lag_count();
	uint64_t b[MET_LAG_BUCKETS];
	for (int i = 0; i < MET_LAG_BUCKETS; i++)
		b[i] = metrics_lag_bucket(i);
	double s0 = metrics_lag_sum_seconds();
	metrics_lag(0);       /* <= 0.01 s */
	metrics_lag(-5);      /* clock skew: counted as 0 */
	metrics_lag(700);     /* <= 1 s */
	metrics_lag(1000);    /* exactly 1 s: the 1 s bucket (le is inclusive) */
	metrics_lag(3600000); /* an hour: only +Inf */
	assert_int_equal(metrics_lag_count() - c0, 5);
	assert_true(metrics_lag_sum_seconds() - s0 > 3600.0 + 1.7 - 1e-6);
	int i1 = -1, i001 = -1;
	for (int i = 0; i < MET_LAG_BUCKETS; i++) {
		if (metrics_lag_bound(i) == 1)
			i1 = i;
		if (metrics_lag_bound(i) == 0.01)
			i001 = i;
	}
	assert_true(i1 > 0 && i001 == 0);
	assert_int_equal(metrics_lag_bucket(i001) - b[i001], 2);
	assert_int_equal(metrics_lag_bucket(i1) - b[i1], 4);
	assert_int_equal(metrics_lag_bucket(MET_LAG_BUCKETS - 2) - b[MET_LAG_BUCKETS - 2], 4);
	assert_int_equal(metrics_lag_bucket(MET_LAG_BUCKETS - 1) - b[MET_LAG_BUCKETS - 1], 5);
	for (int i = 1; i < MET_LAG_BUCKETS; i++)
		assert_true(metrics_lag_bucket(i) >= metrics_lag_bucket(i - 1));
}

static void test_inflight(void **state)
{
	(void)state;
	int64_t p = metrics_inflight_now(MET_PUBLISH), u = metrics_inflight_now(MET_UNPUBLISH);
	metrics_inflight(MET_PUBLISH, 1);
	metrics_inflight(MET_PUBLISH, 1);
	metrics_inflight(MET_UNPUBLISH, 1);
	metrics_inflight(MET_PUBLISH, -1);
	assert_int_equal(metrics_inflight_now(MET_PUBLISH) - p, 1);
	assert_int_equal(metrics_inflight_now(MET_UNPUBLISH) - u, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_threads_sum),
		cmocka_unit_test(test_labels_and_overflow),
		cmocka_unit_test(test_lag_histogram),
		cmocka_unit_test(test_inflight),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
