/*
 * timeutil: wall-clock milliseconds and ISO 8601 in UTC.
 *
 * All stored times are int64 milliseconds since the Unix epoch, UTC.  The
 * parser accepts what Postiz clients send (dayjs/JS Date strings): a date,
 * optional time with optional fraction, and an optional Z or +hh:mm offset;
 * a string without an offset is UTC, as Postiz runs with TZ=UTC.
 */
#ifndef HERALD_TIMEUTIL_H
#define HERALD_TIMEUTIL_H

#include <stdint.h>
#include <stddef.h>

int64_t now_ms(void);
int64_t mono_us(void);

/* 0 on success; -1 on anything that is not a valid date-time. */
int iso_parse(const char *s, int64_t *out_ms);

/* "2026-11-22T10:00:00.000Z" */
void iso_format(int64_t ms, char out[32]);
/* Postiz's dayjs format "YYYY-MM-DDTHH:mm:ss" (no zone, UTC). */
void iso_format_postiz(int64_t ms, char out[32]);

#endif
