/*
 * tools: the MCP tools, as rows that point into the API route table.
 *
 * A tool is one API operation: its row names the route by operationId
 * (src/api/routes.c), and says how the tool's arguments become the HTTP
 * request: some arguments fill the route's {captures}, some become query
 * parameters or headers, and with `body` set every other argument forms the
 * JSON body.  The method, the path and the description come from the route
 * row, so a tool cannot drift from the route it calls; the tool only adds
 * its input JSON Schema and hints.  A tool whose operationId is not in the
 * route table is not offered (mcp_tool_route() gives NULL).
 *
 * Calls run through api_handle like any HTTP request (see mcp.c).
 */
#ifndef HERALD_MCP_TOOLS_H
#define HERALD_MCP_TOOLS_H

#include "../http/router.h"

#include <stddef.h>
#include <stdio.h>

enum mcp_arg_in { MCP_IN_PATH = 1, MCP_IN_QUERY, MCP_IN_HEADER };

struct mcp_arg {
	const char *name;   /* the tool argument */
	enum mcp_arg_in in;
	const char *as;     /* route capture, query parameter or header name */
};

/* tool annotation hints (MCP ToolAnnotations) */
#define MCP_READ_ONLY   (1u << 0)
#define MCP_DESTRUCTIVE (1u << 1)
#define MCP_IDEMPOTENT  (1u << 2)
#define MCP_OPEN_WORLD  (1u << 3)

#define MCP_MAX_ARGS 10

struct mcp_tool {
	const char *name;
	const char *title;
	const char *op_id;   /* the route's operationId */
	const char *schema;  /* JSON Schema (JSON text) of the arguments object */
	struct mcp_arg args[MCP_MAX_ARGS]; /* arguments not sent in the body; ends at name NULL */
	int body;            /* 1: the remaining arguments are the JSON body */
	unsigned hints;
};

extern const struct mcp_tool mcp_tools[];
extern const size_t mcp_ntools;

const struct route *mcp_route_by_op(const char *op_id);
/* The tool's route, NULL when its operation is not served (yet). */
const struct route *mcp_tool_route(const struct mcp_tool *t);
const struct mcp_tool *mcp_tool_find(const char *name);
/* "  name  METHOD /path  summary" for every tool offered (CLI help). */
void mcp_print_tools(FILE *f);
/* Log (info) the tools not offered because their route is not served. */
void mcp_log_unserved(void);

#endif
