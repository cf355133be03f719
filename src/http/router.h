/*
 * router: match a method and a decoded path against a route table.
 *
 * Patterns are literal segments and {name} captures ("/v1/posts/{id}").
 * A capture matches one non-empty segment.  The table itself lives in the
 * api layer (src/api/routes.c) and is the single list that the router, the
 * OpenAPI document, the MCP tools and the CLI help walk.
 */
#ifndef HERALD_ROUTER_H
#define HERALD_ROUTER_H

#include "server.h"

#define ROUTE_MAX_PARAMS 4

struct route {
	enum http_method method;
	const char *pattern;
	void (*handler)(void *call);
	unsigned flags;          /* meaning defined by the api layer */
	const char *op_id;       /* operationId */
	const char *summary;
};

struct route_match {
	const struct route *route;
	const char *params[ROUTE_MAX_PARAMS];
	int nparams;
	int path_matched; /* some route had this path with another method */
};

/* Segments of path are copied into arena a for the captures. */
int router_match(const struct route *table, size_t n, enum http_method m, const char *path,
		 struct arena *a, struct route_match *out);

#endif
