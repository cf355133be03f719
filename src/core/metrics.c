#include "metrics.h"

#include <stdatomic.h>
#include <stddef.h>
#include <string.h>

#define SHARDS 16

/* slot 0 of each table is reserved: routes "unmatched", providers "other" */
static _Atomic(const char *) route_keys[MET_ROUTES];
static _Atomic(const char *) provider_keys[MET_PROVIDERS];

static const char *const outcomes[MET_OUTCOMES] = {
	"ok", "deleted", "retry", "failed", "transport", "unknown", "auth", "auth_refreshed",
	"interrupted", "other", NULL, NULL,
};
#define OUTCOME_OTHER 9

/* seconds; the last bucket is +Inf */
static const double lag_bounds[MET_LAG_BUCKETS] = {0.01, 0.05, 0.1, 0.25, 0.5, 1,   2.5,
						   5,    10,   30,  60,   300, 1e300};

struct shard {
	_Alignas(64) atomic_ullong http[MET_ROUTES][5];
	atomic_ullong attempts[MET_KINDS][MET_PROVIDERS][MET_OUTCOMES];
	atomic_ullong lag[MET_LAG_BUCKETS]; /* not cumulative here */
	atomic_ullong lag_count, lag_sum_ms;
};

static struct shard shards[SHARDS];
static atomic_uint next_shard;
static _Thread_local struct shard *mine;
static atomic_llong inflight[MET_KINDS];

static struct shard *shard(void)
{
	if (!mine)
		mine = &shards[atomic_fetch_add_explicit(&next_shard, 1, memory_order_relaxed) % SHARDS];
	return mine;
}

/* Slot of a static name in a table: found, claimed, or 0 when full. */
static int slot(_Atomic(const char *) *keys, int n, const char *name)
{
	if (!name)
		return 0;
	uintptr_t h = (uintptr_t)name;
	h ^= h >> 7;
	for (int k = 0; k < n - 1; k++) {
		int i = 1 + (int)((h + (uintptr_t)k) % (uintptr_t)(n - 1));
		const char *cur = atomic_load_explicit(&keys[i], memory_order_acquire);
		if (cur == name)
			return i;
		if (!cur) {
			const char *expect = NULL;
			if (atomic_compare_exchange_strong(&keys[i], &expect, name) || expect == name)
				return i;
		}
	}
	return 0;
}

static void add(atomic_ullong *v, uint64_t d)
{
	atomic_fetch_add_explicit(v, d, memory_order_relaxed);
}

void metrics_http(const char *route, int status)
{
	int cls = status / 100;
	if (cls < 1 || cls > 5)
		cls = 5;
	add(&shard()->http[slot(route_keys, MET_ROUTES, route)][cls - 1], 1);
}

void metrics_attempt(enum met_kind kind, const char *provider, const char *outcome)
{
	int o = OUTCOME_OTHER;
	for (int i = 0; outcome && outcomes[i]; i++)
		if (!strcmp(outcomes[i], outcome))
			o = i;
	add(&shard()->attempts[(unsigned)kind < MET_KINDS ? kind : 0][slot(provider_keys, MET_PROVIDERS, provider)][o], 1);
}

void metrics_lag(int64_t late_ms)
{
	if (late_ms < 0)
		late_ms = 0;
	struct shard *s = shard();
	int b = 0;
	while (b < MET_LAG_BUCKETS - 1 && (double)late_ms / 1000.0 > lag_bounds[b])
		b++;
	add(&s->lag[b], 1);
	add(&s->lag_count, 1);
	add(&s->lag_sum_ms, (uint64_t)late_ms);
}

void metrics_inflight(enum met_kind kind, int delta)
{
	atomic_fetch_add_explicit(&inflight[(unsigned)kind < MET_KINDS ? kind : 0], delta, memory_order_relaxed);
}

const char *metrics_outcome_name(int i)
{
	return i >= 0 && i < MET_OUTCOMES ? outcomes[i] : NULL;
}

const char *metrics_route_name(int i)
{
	if (i == 0)
		return "unmatched";
	return i > 0 && i < MET_ROUTES ? atomic_load(&route_keys[i]) : NULL;
}

const char *metrics_provider_name(int i)
{
	if (i == 0)
		return "other";
	return i > 0 && i < MET_PROVIDERS ? atomic_load(&provider_keys[i]) : NULL;
}

static uint64_t get(atomic_ullong *v)
{
	return atomic_load_explicit(v, memory_order_relaxed);
}

uint64_t metrics_http_count(int route, int cls)
{
	uint64_t n = 0;
	if (route < 0 || route >= MET_ROUTES || cls < 1 || cls > 5)
		return 0;
	for (int s = 0; s < SHARDS; s++)
		n += get(&shards[s].http[route][cls - 1]);
	return n;
}

uint64_t metrics_attempt_count(enum met_kind kind, int provider, int outcome)
{
	uint64_t n = 0;
	if (provider < 0 || provider >= MET_PROVIDERS || outcome < 0 || outcome >= MET_OUTCOMES)
		return 0;
	for (int s = 0; s < SHARDS; s++)
		n += get(&shards[s].attempts[(unsigned)kind < MET_KINDS ? kind : 0][provider][outcome]);
	return n;
}

double metrics_lag_bound(int i)
{
	return i >= 0 && i < MET_LAG_BUCKETS ? lag_bounds[i] : 0;
}

uint64_t metrics_lag_bucket(int i)
{
	uint64_t n = 0;
	for (int b = 0; b <= i && b < MET_LAG_BUCKETS; b++)
		for (int s = 0; s < SHARDS; s++)
			n += get(&shards[s].lag[b]);
	return n;
}

uint64_t metrics_lag_count(void)
{
	uint64_t n = 0;
	for (int s = 0; s < SHARDS; s++)
		n += get(&shards[s].lag_count);
	return n;
}

double metrics_lag_sum_seconds(void)
{
	uint64_t n = 0;
	for (int s = 0; s < SHARDS; s++)
		n += get(&shards[s].lag_sum_ms);
	return (double)n / 1000.0;
}

int64_t metrics_inflight_now(enum met_kind kind)
{
	return atomic_load_explicit(&inflight[(unsigned)kind < MET_KINDS ? kind : 0], memory_order_relaxed);
}
