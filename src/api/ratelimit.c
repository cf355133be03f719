#include "ratelimit.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define RL_SLOTS 8192
#define RL_KEY 80

struct slot {
	char key[RL_KEY];
	int64_t start, end;
	long count;
};

static struct slot slots[RL_SLOTS];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static uint32_t hash(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

void rl_hit(const char *key, long limit, int64_t window_ms, int64_t now, struct rl_result *out)
{
	uint32_t h = hash(key) % RL_SLOTS;
	pthread_mutex_lock(&mu);
	struct slot *hit = NULL, *free_slot = NULL, *oldest = NULL;
	for (int i = 0; i < 16; i++) {
		struct slot *s = &slots[(h + (uint32_t)i) % RL_SLOTS];
		if (s->key[0] && !strncmp(s->key, key, RL_KEY - 1)) {
			hit = s;
			break;
		}
		if (!free_slot && (!s->key[0] || s->end <= now))
			free_slot = s;
		if (!oldest || s->start < oldest->start)
			oldest = s;
	}
	if (hit && hit->end <= now) {
		hit->start = now;
		hit->end = now + window_ms;
		hit->count = 0;
	}
	if (!hit) {
		hit = free_slot ? free_slot : oldest;
		snprintf(hit->key, RL_KEY, "%s", key);
		hit->start = now;
		hit->end = now + window_ms;
		hit->count = 0;
	}
	hit->count++;
	out->limit = limit;
	out->allowed = hit->count <= limit;
	out->remaining = out->allowed ? limit - hit->count : 0;
	out->reset_s = (hit->end - now + 999) / 1000;
	pthread_mutex_unlock(&mu);
}
