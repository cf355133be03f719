/*
 * log: one JSON object per line on stderr.  Lines are written with a single
 * write() so that lines from several loop threads never interleave.
 */
#ifndef HERALD_LOG_H
#define HERALD_LOG_H

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

void log_set_level(enum log_level l);
void log_msg(enum log_level l, const char *event, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Write a preformatted JSON object line (used by the access log). */
void log_json_line(const char *json);

#endif
