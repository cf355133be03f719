#include "slots.h"
#include "../store/store.h"

#include <jansson.h>

#define DAY_MS 86400000LL
#define MAX_TIMES 256

int slot_next(struct store *st, const char *org_id, const char *posting_times, int64_t after,
	      int64_t *out)
{
	json_t *times = json_loads(posting_times, 0, NULL);
	int mins[MAX_TIMES], nm = 0;
	size_t i;
	json_t *t;
	json_array_foreach(times, i, t) {
		json_t *m = json_object_get(t, "time");
		if (json_is_integer(m) && json_integer_value(m) >= 0 && json_integer_value(m) < 1440 &&
		    nm < MAX_TIMES)
			mins[nm++] = (int)json_integer_value(m);
	}
	json_decref(times);
	for (int a = 1; a < nm; a++) /* insertion sort: a handful of times */
		for (int b = a; b > 0 && mins[b - 1] > mins[b]; b--) {
			int x = mins[b];
			mins[b] = mins[b - 1];
			mins[b - 1] = x;
		}
	int64_t day0 = after - after % DAY_MS;
	for (int d = 0; d < 366 && nm; d++) {
		for (int k = 0; k < nm; k++) {
			int64_t slot = day0 + d * DAY_MS + (int64_t)mins[k] * 60000;
			if (slot <= after)
				continue;
			int cnt = 0;
			if (store_post_count_at(st, org_id, slot, slot + 60000, &cnt))
				return -1;
			if (cnt == 0) {
				*out = slot;
				return 0;
			}
		}
	}
	return 1;
}
