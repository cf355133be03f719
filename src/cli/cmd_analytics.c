/*
 * analytics: `herald analytics post ID | account ID [--from T] [--to T] |
 * refresh ID`, the native analytics routes of a herald server
 * (GET /v1/analytics/posts/{id}, GET /v1/analytics/accounts/{id},
 * POST /v1/analytics/posts/{id}/refresh) through remote.c.
 *
 * Text output: one line per target (latest counters, when sampled) or per
 * day; --json prints the server's JSON.  Exit codes as every client command.
 */
#include "cli.h"
#include "remote.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "likes 12  reposts 3 ..." of a {name: n} object, known names first */
static void print_counters(json_t *m)
{
	static const char *const order[] = {"likes", "reposts", "replies", "quotes", NULL};
	if (!json_is_object(m) || !json_object_size(m)) {
		printf("no samples yet");
		return;
	}
	int first = 1;
	for (int k = 0; order[k]; k++) {
		json_t *v = json_object_get(m, order[k]);
		if (json_is_integer(v)) {
			printf("%s%s %lld", first ? "" : "  ", order[k], (long long)json_integer_value(v));
			first = 0;
		}
	}
	const char *name;
	json_t *v;
	json_object_foreach(m, name, v)
	{
		int known = 0;
		for (int k = 0; order[k]; k++)
			known |= !strcmp(order[k], name);
		if (!known && json_is_integer(v)) {
			printf("%s%s %lld", first ? "" : "  ", name, (long long)json_integer_value(v));
			first = 0;
		}
	}
}

static const char *str(json_t *o, const char *k, const char *def)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : def;
}

static void print_post(json_t *b)
{
	size_t i;
	json_t *t;
	json_array_foreach(json_object_get(b, "targets"), i, t)
	{
		printf("%s  %s  ", str(t, "platform", "?"), str(t, "accountId", "?"));
		if (!json_is_true(json_object_get(t, "metricsSupported")))
			printf("no metrics on this platform");
		else
			print_counters(json_object_get(t, "metrics"));
		if (json_is_string(json_object_get(t, "sampledAt")))
			printf("  (sampled %s)", str(t, "sampledAt", ""));
		if (json_is_string(json_object_get(t, "lastError")))
			printf("  last error: %s", str(t, "lastError", ""));
		putchar('\n');
	}
}

static void print_account(json_t *b)
{
	if (!json_is_true(json_object_get(b, "metricsSupported"))) {
		printf("%s has no metrics\n", str(b, "platform", "this platform"));
		return;
	}
	size_t i;
	json_t *d;
	json_array_foreach(json_object_get(b, "days"), i, d)
	{
		printf("%s  ", str(d, "date", "?"));
		print_counters(json_object_get(d, "metrics"));
		putchar('\n');
	}
	if (!json_array_size(json_object_get(b, "days")))
		printf("no samples between %s and %s\n", str(b, "from", "?"), str(b, "to", "?"));
}

int cmd_analytics(int argc, char **argv, struct config *cfg)
{
	(void)cfg;
	struct client_args ca;
	if (client_args(&argc, argv, &ca))
		return CLI_USAGE;
	const char *sub = argc > 2 ? argv[1] : NULL;
	const char *from = NULL, *to = NULL;
	if (sub && !strcmp(sub, "account")) {
		for (int i = 3; i < argc; i++) {
			const char **dst = !strcmp(argv[i], "--from") ? &from
					   : !strcmp(argv[i], "--to") ? &to
									: NULL;
			if (!dst || i + 1 >= argc) {
				fprintf(stderr, "herald analytics account: unknown or incomplete option %s\n",
					argv[i]);
				return CLI_USAGE;
			}
			*dst = argv[++i];
		}
	} else if (sub && argc != 3) {
		sub = NULL;
	}
	if (!sub || (strcmp(sub, "post") && strcmp(sub, "account") && strcmp(sub, "refresh"))) {
		fprintf(stderr, "herald analytics: want post ID, account ID [--from T] [--to T] "
				"or refresh ID\n");
		return CLI_USAGE;
	}
	struct remote r;
	int rc = client_open("analytics", &ca, &r);
	if (rc)
		return rc;
	char *id = remote_escape(argv[2]);
	char *ef = from ? remote_escape(from) : NULL, *et = to ? remote_escape(to) : NULL;
	size_t n = strlen(id) + (ef ? strlen(ef) : 0) + (et ? strlen(et) : 0) + 64;
	char *path = malloc(n);
	if (!strcmp(sub, "account"))
		snprintf(path, n, "/v1/analytics/accounts/%s%s%s%s%s%s", id, ef || et ? "?" : "",
			 ef ? "from=" : "", ef ? ef : "", et ? (ef ? "&to=" : "to=") : "", et ? et : "");
	else
		snprintf(path, n, "/v1/analytics/posts/%s%s", id,
			 !strcmp(sub, "refresh") ? "/refresh" : "");
	free(id);
	free(ef);
	free(et);
	struct remote_resp resp;
	char cmd[32];
	snprintf(cmd, sizeof(cmd), "analytics %s", sub);
	remote_call(&r, !strcmp(sub, "refresh") ? "POST" : "GET", path, NULL, NULL, &resp);
	free(path);
	if (resp.status < 200 || resp.status >= 300) {
		rc = remote_exit_code(&resp);
		remote_print_error(cmd, &resp, stderr);
	} else if (ca.json) {
		char *s = json_dumps(resp.body, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		if (s)
			puts(s);
		free(s);
	} else if (!strcmp(sub, "account")) {
		print_account(resp.body);
	} else {
		if (resp.status == 202)
			printf("sampling has not finished yet; the new counters come shortly\n");
		print_post(resp.body);
	}
	remote_resp_free(&resp);
	remote_close(&r);
	return rc;
}
