#include "log.h"
#include "timeutil.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static enum log_level min_level = LOG_INFO;
static const char *names[] = {"debug", "info", "warn", "error"};

void log_set_level(enum log_level l)
{
	min_level = l;
}

void log_json_line(const char *json)
{
	size_t n = strlen(json);
	char *line = malloc(n + 2);
	if (!line)
		return;
	memcpy(line, json, n);
	line[n] = '\n';
	ssize_t w = write(2, line, n + 1);
	(void)w;
	free(line);
}

void log_msg(enum log_level l, const char *event, const char *fmt, ...)
{
	if (l < min_level)
		return;
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	char ts[32];
	iso_format(now_ms(), ts);
	json_t *o = json_pack("{s:s,s:s,s:s,s:s}", "ts", ts, "level", names[l], "event", event,
			      "msg", msg);
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	if (s)
		log_json_line(s);
	free(s);
	json_decref(o);
}
