#include "router.h"
#include "../core/arena.h"

#include <string.h>

/* Compare one pattern with a path; fill captures. 1 on match. */
static int match_one(const char *pat, const char *path, struct arena *a, struct route_match *m)
{
	int np = 0;
	const char *p = pat, *s = path;
	while (*p && *s) {
		if (*p != '/' || *s != '/')
			return 0;
		p++;
		s++;
		const char *pe = strchr(p, '/');
		const char *se = strchr(s, '/');
		size_t pl = pe ? (size_t)(pe - p) : strlen(p);
		size_t sl = se ? (size_t)(se - s) : strlen(s);
		if (pl >= 2 && p[0] == '{' && p[pl - 1] == '}') {
			if (sl == 0 || np >= ROUTE_MAX_PARAMS)
				return 0;
			if (a)
				m->params[np] = arena_strndup(a, s, sl);
			np++;
		} else if (pl != sl || memcmp(p, s, pl)) {
			return 0;
		}
		p += pl;
		s += sl;
	}
	/* tolerate one trailing slash on the request path */
	if (*s == '/' && s[1] == 0)
		s++;
	if (*p || *s)
		return 0;
	if (a)
		m->nparams = np;
	return 1;
}

int router_match(const struct route *table, size_t n, enum http_method meth, const char *path,
		 struct arena *a, struct route_match *out)
{
	memset(out, 0, sizeof(*out));
	if (!path || path[0] != '/')
		return 0;
	for (size_t i = 0; i < n; i++) {
		enum http_method want = table[i].method;
		int method_ok = want == meth || (meth == HM_HEAD && want == HM_GET);
		if (!match_one(table[i].pattern, path, NULL, out))
			continue;
		if (!method_ok) {
			out->path_matched = 1;
			continue;
		}
		match_one(table[i].pattern, path, a, out);
		out->route = &table[i];
		return 1;
	}
	return 0;
}
