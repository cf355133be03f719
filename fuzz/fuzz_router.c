/*
 * fuzz_router: router_match of arbitrary paths against a small static table
 * with literal segments and captures.  The first input byte picks the
 * method, the rest is the (decoded) path.
 *
 * Oracles: captures are non-empty and contain no '/'; their count is the
 * number of {..} segments of the matched pattern; substituting them back
 * into the pattern gives the path (less one tolerated trailing slash); HEAD
 * matches exactly what GET matches; path_matched is only reported when some
 * other method does match the path.
 */
#include "core/arena.h"
#include "http/router.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct route table[] = {
	{HM_GET, "/", NULL, 0, "root", NULL},
	{HM_GET, "/public/v1/posts", NULL, 0, "list", NULL},
	{HM_POST, "/public/v1/posts", NULL, 0, "create", NULL},
	{HM_GET, "/public/v1/posts/{id}", NULL, 0, "get", NULL},
	{HM_DELETE, "/public/v1/posts/{id}", NULL, 0, "delete", NULL},
	{HM_PUT, "/public/v1/posts/{id}/status", NULL, 0, "status", NULL},
	{HM_GET, "/v1/orgs/{org}/channels/{ch}/posts/{id}", NULL, 0, "deep", NULL},
	{HM_GET, "/{a}/{b}", NULL, 0, "two", NULL},
	{HM_PATCH, "/{a}/{b}/{c}/{d}", NULL, 0, "four", NULL},
	{HM_GET, "/x/{a}/{b}/{c}/{d}/{e}", NULL, 0, "five", NULL}, /* > ROUTE_MAX_PARAMS */
};
#define N (sizeof(table) / sizeof(table[0]))

static const enum http_method methods[] = {HM_GET,    HM_POST, HM_PUT,     HM_PATCH,
					   HM_DELETE, HM_HEAD, HM_OPTIONS, HM_OTHER};

static void die(const char *what, const char *path, const struct route_match *m)
{
	fprintf(stderr, "fuzz_router: %s: path \"%s\" route %s\n", what, path,
		m && m->route ? m->route->pattern : "(none)");
	abort();
}

static void check_match(const char *path, const struct route_match *m)
{
	const char *pat = m->route->pattern;
	int want = 0;
	for (const char *p = pat; *p; p++)
		want += *p == '{';
	if (m->nparams != want || m->nparams > ROUTE_MAX_PARAMS)
		die("capture count", path, m);
	char rebuilt[4096];
	size_t rl = 0;
	int k = 0;
	for (const char *p = pat; *p;) {
		if (*p == '{') {
			const char *v = m->params[k++];
			if (!v || !*v || strchr(v, '/'))
				die("capture empty or with '/'", path, m);
			size_t vl = strlen(v);
			if (rl + vl >= sizeof(rebuilt))
				die("capture too long", path, m);
			memcpy(rebuilt + rl, v, vl);
			rl += vl;
			p = strchr(p, '}') + 1;
		} else {
			if (rl + 1 >= sizeof(rebuilt))
				die("rebuilt too long", path, m);
			rebuilt[rl++] = *p++;
		}
	}
	rebuilt[rl] = 0;
	size_t pl = strlen(path);
	if (!strcmp(rebuilt, path))
		return;
	if (pl == rl + 1 && path[rl] == '/' && !strncmp(rebuilt, path, rl))
		return;
	fprintf(stderr, "fuzz_router: rebuilt \"%s\"\n", rebuilt);
	die("captures do not rebuild the path", path, m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 2048)
		return 0;
	enum http_method meth = methods[data[0] % 8];
	char *path = malloc(size);
	memcpy(path, data + 1, size - 1);
	path[size - 1] = 0;

	struct arena *a = arena_new();
	struct route_match m;
	int hit = router_match(table, N, meth, path, a, &m);
	if (hit) {
		if (!m.route)
			die("match without route", path, &m);
		check_match(path, &m);
	} else if (m.route) {
		die("route set without a match", path, &m);
	}

	/* path_matched: some other method does take this path */
	if (!hit && m.path_matched) {
		int any = 0;
		for (size_t i = 0; i < 8 && !any; i++) {
			struct route_match o;
			any = router_match(table, N, methods[i], path, a, &o);
		}
		if (!any)
			die("path_matched but no method matches", path, &m);
	}

	/* HEAD behaves exactly like GET */
	if (meth == HM_HEAD || meth == HM_GET) {
		struct route_match g;
		int gh = router_match(table, N, HM_GET, path, a, &g);
		int hh = router_match(table, N, HM_HEAD, path, a, &m);
		if (gh != hh || g.route != m.route)
			die("HEAD differs from GET", path, &m);
	}
	arena_free(a);
	free(path);
	return 0;
}
