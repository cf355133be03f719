/*
 * ratelimit: fixed-window counters shared by all loop threads of one
 * process.  Used for the Postiz posts limit (per organization per hour)
 * and the per-key request limit.  Memory is bounded: at most RL_SLOTS live
 * windows; expired windows are reused, and when every slot is live the
 * oldest window is evicted (that key starts a fresh window: the limiter
 * fails open rather than refusing unrelated callers).
 */
#ifndef HERALD_RATELIMIT_H
#define HERALD_RATELIMIT_H

#include <stdint.h>

struct rl_result {
	int allowed;
	long limit, remaining;
	int64_t reset_s; /* seconds until the window ends */
};

void rl_hit(const char *key, long limit, int64_t window_ms, int64_t now, struct rl_result *out);

#endif
