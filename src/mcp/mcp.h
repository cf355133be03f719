/*
 * mcp: the Model Context Protocol server core, independent of transport.
 *
 * `herald mcp` (stdio, src/cli/cmd_mcp.c) and POST /mcp (Streamable HTTP,
 * mcp_http.c) decode JSON-RPC with jsonrpc.h and hand each message or batch
 * to mcp_handle(), which answers initialize, ping, tools/list and
 * tools/call and ignores notifications.
 *
 * A tool call is an API request: mcp_handle builds a captured http_req
 * (server.h) from the tool's row (tools.h) and runs it through env->handler
 * (api_handle), so authentication with the caller's key, rate limits,
 * idempotency and the handlers are exactly those of HTTP.  The captured
 * reply becomes the tool result: 2xx -> the JSON body, 4xx/5xx -> isError
 * with the error envelope.
 *
 * A handler may defer its reply (api_defer: publishNow waiting for the
 * engine, a media download): mcp_handle then reports MCP_PENDING and calls
 * the transport's done() later, from the loop, once every tool call of the
 * message has its reply.  Memory of a pending exchange is mcp's own (not
 * any arena); the captured request's arena follows server.h's rule.
 */
#ifndef HERALD_MCP_H
#define HERALD_MCP_H

#include "../http/server.h"

#include <jansson.h>

#define MCP_LATEST_VERSION "2025-06-18"
#define MCP_DEFAULT_HTTP_VERSION "2025-03-26" /* HTTP without a version header */

struct mcp_session {
	char version[16]; /* negotiated; "" before initialize (latest assumed) */
	int initialized;  /* notifications/initialized seen */
};

struct event_base;

struct mcp_env {
	void *loop_ctx;           /* struct api_loop * */
	int loop_index;
	struct event_base *base;  /* the loop deferred tool calls finish on */
	const char *authorization; /* Authorization header of every tool call */
	const char *request_id;    /* tool calls get "<request_id>.<n>" */
	void (*handler)(struct http_req *r); /* api_handle (a stub when fuzzing) */
	int seq;                   /* tool calls made so far */
};

/* 1 when v is one of the protocol versions herald speaks. */
int mcp_version_supported(const char *v);
/* The version to answer to a client asking for `requested`. */
const char *mcp_negotiate(const char *requested);

#define MCP_DONE 0
#define MCP_PENDING 1

/* done(arg, reply): reply is stolen; NULL when nothing is to be sent. */
typedef void (*mcp_done_fn)(void *arg, json_t *reply);

/* Handle one decoded message or batch.  MCP_DONE: *reply is the answer
 * (object or array, new reference) or NULL when nothing is to be sent
 * back.  MCP_PENDING: some tool call answers later; done(arg, reply) runs
 * once, on the loop, when all have.  msg is only read during the call. */
int mcp_handle(struct mcp_session *s, struct mcp_env *env, json_t *msg, json_t **reply,
	       mcp_done_fn done, void *arg);

#endif
