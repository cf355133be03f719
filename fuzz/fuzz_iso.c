/*
 * fuzz_iso: iso_parse on arbitrary bytes (NUL-terminated copy).
 *
 * Oracles: no sanitizer report; an accepted string gives an instant within
 * the grammar's reach (years 0000..9999 shifted by at most a day of offset
 * and a leap second); and for instants in years 0000..9999 the formatters
 * produce text that parses back to the same millisecond (iso_format) or the
 * same second (iso_format_postiz).
 */
#include "core/timeutil.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MS_Y0000 (-62167219200000LL)   /* 0000-01-01T00:00:00.000Z */
#define MS_Y9999 (253402300799999LL)   /* 9999-12-31T23:59:59.999Z */
#define DAY_MS (86400000LL)

static void die(const char *what, const char *in, int64_t ms, const char *out)
{
	fprintf(stderr, "fuzz_iso: %s: input \"%s\" ms %lld formatted \"%s\"\n", what, in,
		(long long)ms, out ? out : "");
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 512)
		return 0;
	char *s = malloc(size + 1);
	memcpy(s, data, size);
	s[size] = 0;
	int64_t ms = 0;
	if (iso_parse(s, &ms) == 0) {
		if (ms < MS_Y0000 - DAY_MS || ms > MS_Y9999 + DAY_MS)
			die("accepted instant out of reach", s, ms, NULL);
		int64_t again = 0;
		if (iso_parse(s, &again) || again != ms)
			die("not deterministic", s, ms, NULL);
		if (ms >= MS_Y0000 && ms <= MS_Y9999) {
			char out[32];
			int64_t back = 0;
			iso_format(ms, out);
			if (strlen(out) != 24)
				die("iso_format length", s, ms, out);
			if (iso_parse(out, &back) || back != ms)
				die("iso_format does not parse back", s, ms, out);
			iso_format_postiz(ms, out);
			int64_t floor_s = ms - (((ms % 1000) + 1000) % 1000);
			if (strlen(out) != 19)
				die("iso_format_postiz length", s, ms, out);
			if (iso_parse(out, &back) || back != floor_s)
				die("iso_format_postiz does not parse back", s, ms, out);
		}
	}
	free(s);
	return 0;
}
