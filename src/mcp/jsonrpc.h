/*
 * jsonrpc: decoding and building JSON-RPC 2.0 messages, as MCP uses them.
 *
 * Pure functions over jansson values, no I/O: both MCP transports (stdio
 * lines and POST /mcp bodies) and the fuzz target go through jr_decode and
 * jr_classify.  MCP narrows JSON-RPC: an id is a string or an integer
 * (never null or fractional), params is an object.  A message that breaks
 * those rules is classified JR_INVALID with the reason, and with its id
 * when the id itself was usable, so the error reply can name it.
 *
 * Ownership: jr_decode hands back a new reference; jr_classify borrows
 * from the value it is given (valid while that value lives).
 */
#ifndef HERALD_JSONRPC_H
#define HERALD_JSONRPC_H

#include <jansson.h>
#include <stddef.h>

#define JR_PARSE_ERROR      -32700
#define JR_INVALID_REQUEST  -32600
#define JR_METHOD_NOT_FOUND -32601
#define JR_INVALID_PARAMS   -32602
#define JR_INTERNAL_ERROR   -32603

/* most messages in one batch; a bigger batch is refused as a whole */
#define JR_MAX_BATCH 100

enum jr_kind { JR_REQUEST, JR_NOTIFICATION, JR_RESPONSE, JR_INVALID };

struct jr_msg {
	enum jr_kind kind;
	json_t *id;         /* requests, and invalid messages with a usable id */
	const char *method; /* requests and notifications */
	json_t *params;     /* object or NULL */
	const char *why;    /* JR_INVALID: what is wrong (static text) */
};

/* Parse one message or batch.  Returns the value (new reference), or NULL
 * with a message in err (a parse error: reply -32700 with a null id). */
json_t *jr_decode(const char *buf, size_t len, char *err, size_t errlen);

/* Classify one message (an element of a batch, or a lone message). */
void jr_classify(json_t *v, struct jr_msg *out);

/* Build replies; id is borrowed (NULL -> null), result and data stolen. */
json_t *jr_result(json_t *id, json_t *result);
json_t *jr_error(json_t *id, int code, const char *message, json_t *data);

#endif
