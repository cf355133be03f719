/*
 * mcp: protocol core (see mcp.h).  Every reply is built here; transports
 * only move bytes and map a few cases to HTTP statuses.
 */
#include "mcp.h"
#include "jsonrpc.h"
#include "tools.h"
#include "../api/api.h"
#include "../core/arena.h"
#include "../core/log.h"

#include <event2/http.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef HERALD_VERSION
#define HERALD_VERSION "0.1.0-dev"
#endif

/* newest first: an unknown request is answered with the first */
static const char *const versions[] = {"2025-06-18", "2025-03-26", "2024-11-05"};

int mcp_version_supported(const char *v)
{
	for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++)
		if (v && !strcmp(v, versions[i]))
			return 1;
	return 0;
}

const char *mcp_negotiate(const char *requested)
{
	for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++)
		if (requested && !strcmp(requested, versions[i]))
			return versions[i];
	return versions[0];
}

static const char *version_of(const struct mcp_session *s)
{
	return s->version[0] ? s->version : MCP_LATEST_VERSION;
}

/* ISO dates compare as strings */
static int at_least_v(const char *version, const char *v)
{
	return strcmp(version, v) >= 0;
}

static int at_least(const struct mcp_session *s, const char *v)
{
	return at_least_v(version_of(s), v);
}

static json_t *m_initialize(struct mcp_session *s, json_t *id, json_t *params)
{
	json_t *pv = json_object_get(params, "protocolVersion");
	if (!json_is_string(pv))
		return jr_error(id, JR_INVALID_PARAMS, "params.protocolVersion must be a string", NULL);
	json_t *caps = json_object_get(params, "capabilities");
	if (caps && !json_is_object(caps))
		return jr_error(id, JR_INVALID_PARAMS, "params.capabilities must be an object", NULL);
	json_t *ci = json_object_get(params, "clientInfo");
	if (ci && !json_is_object(ci))
		return jr_error(id, JR_INVALID_PARAMS, "params.clientInfo must be an object", NULL);
	snprintf(s->version, sizeof(s->version), "%s", mcp_negotiate(json_string_value(pv)));
	json_t *info = json_pack("{s:s,s:s}", "name", "herald", "version", HERALD_VERSION);
	if (at_least(s, "2025-06-18"))
		json_object_set_new(info, "title", json_string("herald social media publishing"));
	json_t *res = json_pack(
		"{s:s,s:{s:{s:b}},s:o,s:s}", "protocolVersion", s->version, "capabilities", "tools",
		"listChanged", 0, "serverInfo", info, "instructions",
		"herald publishes and schedules social media posts. Call list_accounts first to learn "
		"the account ids, validate_post to check content against every platform's rules, then "
		"create_post. Errors carry herald's error envelope (code, message, field, rule).");
	return jr_result(id, res);
}

static json_t *tool_entry(const struct mcp_session *s, const struct mcp_tool *t,
			  const struct route *r)
{
	json_t *schema = json_loads(t->schema, 0, NULL);
	if (!schema) /* the unit test parses every schema: cannot happen */
		schema = json_pack("{s:s}", "type", "object");
	json_t *o = json_pack("{s:s,s:s,s:o}", "name", t->name, "description", r->summary,
			      "inputSchema", schema);
	if (at_least(s, "2025-06-18"))
		json_object_set_new(o, "title", json_string(t->title));
	if (at_least(s, "2025-03-26")) {
		json_t *ann = json_pack("{s:b,s:b,s:b,s:b}", "readOnlyHint", !!(t->hints & MCP_READ_ONLY),
					"destructiveHint", !!(t->hints & MCP_DESTRUCTIVE),
					"idempotentHint", !!(t->hints & MCP_IDEMPOTENT), "openWorldHint",
					!!(t->hints & MCP_OPEN_WORLD));
		if (at_least(s, "2025-06-18"))
			json_object_set_new(ann, "title", json_string(t->title));
		json_object_set_new(o, "annotations", ann);
	}
	return o;
}

static json_t *m_tools_list(struct mcp_session *s, json_t *id, json_t *params)
{
	json_t *cursor = json_object_get(params, "cursor");
	if (cursor && !json_is_null(cursor))
		/* one page holds every tool: no cursor is ever handed out */
		return jr_error(id, JR_INVALID_PARAMS, "params.cursor: unknown cursor", NULL);
	json_t *arr = json_array();
	for (size_t i = 0; i < mcp_ntools; i++) {
		const struct route *r = mcp_tool_route(&mcp_tools[i]);
		if (r)
			json_array_append_new(arr, tool_entry(s, &mcp_tools[i], r));
	}
	return jr_result(id, json_pack("{s:o}", "tools", arr));
}

/* ---- tools/call ---- */

static json_t *text_content(const char *text, size_t len)
{
	json_t *t = json_stringn(text, len);
	if (!t) /* API bodies are JSON (UTF-8); guard anyway */
		t = json_string("(the answer was not UTF-8 text)");
	return json_pack("[{s:s,s:o}]", "type", "text", "text", t);
}

static json_t *tool_result_json(const char *version, json_t *structured, int is_error)
{
	char *txt = json_dumps(structured, JSON_COMPACT);
	json_t *res = json_object();
	json_object_set_new(res, "content", text_content(txt ? txt : "{}", txt ? strlen(txt) : 2));
	free(txt);
	if (at_least_v(version, "2025-06-18"))
		json_object_set(res, "structuredContent", structured);
	json_object_set_new(res, "isError", json_boolean(is_error));
	json_decref(structured);
	return res;
}

/* A tool error produced before the API was reached (argument mapping). */
static json_t *arg_error(const struct mcp_session *s, struct mcp_env *env, const char *rid,
			 const char *field, const char *msg)
{
	struct api_loop *l = env->loop_ctx;
	return tool_result_json(version_of(s), api_envelope(l->app, rid, HERR_VALIDATION, field, msg),
				1);
}

static json_t *captured_result(const char *version, struct http_capture *cap)
{
	json_t *v = cap->len ? json_loadb(cap->body, cap->len, 0, NULL) : NULL;
	int is_error = cap->status >= 400;
	json_t *structured;
	if (is_error) {
		json_t *env = json_object_get(v, "error");
		/* Postiz-route errors also carry statusCode/message/msg: the tool
		 * result is the envelope alone, the same on every route */
		structured = json_is_object(env) ? json_pack("{s:O}", "error", env)
						 : json_pack("{s:{s:s,s:s,s:i}}", "error", "code",
							     "internal_error", "message",
							     "the API answered without an error envelope",
							     "status", cap->status);
		json_decref(v);
		return tool_result_json(version, structured, 1);
	}
	if (json_is_object(v)) {
		structured = v;
	} else if (v) {
		structured = json_pack("{s:o}", "result", v);
	} else {
		structured = json_object();
	}
	/* the text is the API's body as sent, so a client sees exactly it */
	json_t *res = json_object();
	if (cap->len)
		json_object_set_new(res, "content", text_content(cap->body, cap->len));
	else
		json_object_set_new(res, "content", text_content("{}", 2));
	if (at_least_v(version, "2025-06-18"))
		json_object_set(res, "structuredContent", structured);
	json_object_set_new(res, "isError", json_false());
	json_decref(structured);
	return res;
}

/* ---- exchanges: one message or batch, possibly finishing later ---- */

struct exchange {
	int pending;     /* tool calls still to answer, +1 while dispatching */
	int batch;
	size_t n;
	json_t **slots;  /* reply per element (NULL: none) */
	mcp_done_fn done;
	void *arg;
};

struct pending_call {
	struct exchange *ex;
	size_t slot;
	json_t *id;
	char version[16];
	int in_dispatch; /* the handler is still on the stack */
	int done;
	int arena_freed; /* the reply came deferred: http_reply freed the arena */
	json_t *reply;
};

static json_t *assemble(struct exchange *ex)
{
	json_t *out = NULL;
	if (!ex->batch) {
		out = ex->slots[0];
	} else {
		out = json_array();
		for (size_t i = 0; i < ex->n; i++)
			if (ex->slots[i])
				json_array_append_new(out, ex->slots[i]);
		if (!json_array_size(out)) {
			json_decref(out);
			out = NULL;
		}
	}
	free(ex->slots);
	free(ex);
	return out;
}

static void on_tool_reply(struct http_req *r, void *arg)
{
	struct pending_call *pc = arg;
	pc->arena_freed = r->deferred;
	json_t *reply = jr_result(pc->id, captured_result(pc->version, r->cap));
	if (pc->in_dispatch) {
		pc->reply = reply;
		pc->done = 1;
		return;
	}
	struct exchange *ex = pc->ex;
	ex->slots[pc->slot] = reply;
	json_decref(pc->id);
	free(pc);
	if (--ex->pending == 0) {
		mcp_done_fn done = ex->done;
		void *darg = ex->arg;
		done(darg, assemble(ex));
	}
}

static int header_value_ok(const char *v)
{
	for (; *v; v++)
		if ((unsigned char)*v < 0x20 || *v == 0x7f)
			return 0;
	return 1;
}

/* NULL when the call answers later (ex->pending was counted up) */
static json_t *m_tools_call(struct mcp_session *s, struct mcp_env *env, json_t *id,
			    json_t *params, struct exchange *ex, size_t slot)
{
	json_t *jn = json_object_get(params, "name");
	if (!json_is_string(jn))
		return jr_error(id, JR_INVALID_PARAMS, "params.name must be a string", NULL);
	const char *name = json_string_value(jn);
	const struct mcp_tool *t = mcp_tool_find(name);
	const struct route *route = t ? mcp_tool_route(t) : NULL;
	if (!route) {
		struct arena *tmp = arena_new();
		json_t *e = jr_error(id, JR_INVALID_PARAMS,
				     arena_printf(tmp, "Unknown tool: %.100s (see tools/list)", name), NULL);
		arena_free(tmp);
		return e;
	}
	json_t *args = json_object_get(params, "arguments");
	if (args && !json_is_null(args) && !json_is_object(args))
		return jr_error(id, JR_INVALID_PARAMS, "params.arguments must be an object", NULL);

	struct arena *a = arena_new();
	char rid[64];
	snprintf(rid, sizeof(rid), "%.50s.%d", env->request_id, ++env->seq);
	json_t *result = NULL;
	json_t *body = t->body ? json_object() : NULL;
	const char *key;
	json_t *v;

	/* every argument must be mapped or (with a body) go into the body */
	if (json_is_object(args)) {
		json_object_foreach(args, key, v) {
			int mapped = 0;
			for (const struct mcp_arg *ma = t->args; ma->name; ma++)
				if (!strcmp(ma->name, key))
					mapped = 1;
			if (mapped)
				continue;
			if (!body) {
				result = arg_error(s, env, rid, key,
						   arena_printf(a, "%s is not an argument of %s", key, t->name));
				goto out;
			}
			json_object_set(body, key, v);
		}
	}

	/* the path: the route's pattern with its captures filled (each at
	 * most 512 bytes, so the buffer below always suffices) */
	char *path = arena_alloc(a, strlen(route->pattern) + ROUTE_MAX_PARAMS * 513 + 1);
	size_t pn = 0;
	for (const char *p = route->pattern; *p;) {
		const char *e = *p == '{' ? strchr(p, '}') : NULL;
		if (!e) {
			path[pn++] = *p++;
			continue;
		}
		size_t cl = (size_t)(e - p - 1);
		const struct mcp_arg *ma = NULL;
		for (const struct mcp_arg *x = t->args; x->name; x++)
			if (x->in == MCP_IN_PATH && strlen(x->as) == cl && !strncmp(x->as, p + 1, cl))
				ma = x;
		json_t *pv = ma ? json_object_get(args, ma->name) : NULL;
		const char *an = ma ? ma->name : "path";
		if (!json_is_string(pv) || !json_string_length(pv)) {
			result = arg_error(s, env, rid, an, arena_printf(a, "%s is required (a string)", an));
			goto out;
		}
		const char *sv = json_string_value(pv);
		size_t sl = strlen(sv);
		if (sl != json_string_length(pv) || strchr(sv, '/') || sl > 512) {
			result = arg_error(s, env, rid, an,
					   arena_printf(a, "%s must be an id: at most 512 characters, no '/'", an));
			goto out;
		}
		memcpy(path + pn, sv, sl);
		pn += sl;
		p = e + 1;
	}
	path[pn] = 0;

	/* the query string, percent-encoded */
	char *query = NULL;
	for (const struct mcp_arg *ma = t->args; ma->name; ma++) {
		if (ma->in != MCP_IN_QUERY)
			continue;
		json_t *qv = json_object_get(args, ma->name);
		if (!qv || json_is_null(qv))
			continue;
		const char *sv;
		if (json_is_string(qv) && strlen(json_string_value(qv)) == json_string_length(qv))
			sv = json_string_value(qv);
		else if (json_is_integer(qv))
			sv = arena_printf(a, "%lld", (long long)json_integer_value(qv));
		else if (json_is_boolean(qv))
			sv = json_is_true(qv) ? "true" : "false";
		else {
			result = arg_error(s, env, rid, ma->name,
					   arena_printf(a, "%s must be a string or a whole number", ma->name));
			goto out;
		}
		char *enc = evhttp_uriencode(sv, -1, 0);
		query = arena_printf(a, "%s%s%s=%s", query ? query : "", query ? "&" : "", ma->as,
				     enc ? enc : "");
		free(enc);
	}

	char *bs = NULL;
	if (body) {
		bs = json_dumps(body, JSON_COMPACT);
		if (bs) {
			char *copy = arena_strdup(a, bs);
			free(bs);
			bs = copy;
		}
	}
	struct http_req *r = http_req_captured(a, route->method, path, query, bs,
					       bs ? strlen(bs) : 0, rid, env->loop_ctx,
					       env->loop_index, env->base);
	r->via = "mcp";
	if (env->authorization)
		http_req_set_header(r, "Authorization", env->authorization);
	if (bs)
		http_req_set_header(r, "Content-Type", "application/json");
	for (const struct mcp_arg *ma = t->args; ma->name; ma++) {
		if (ma->in != MCP_IN_HEADER)
			continue;
		json_t *hv = json_object_get(args, ma->name);
		if (!hv || json_is_null(hv))
			continue;
		if (!json_is_string(hv) || strlen(json_string_value(hv)) != json_string_length(hv) ||
		    !header_value_ok(json_string_value(hv))) {
			result = arg_error(s, env, rid, ma->name,
					   arena_printf(a, "%s must be a string without control characters",
							ma->name));
			goto out;
		}
		http_req_set_header(r, ma->as, json_string_value(hv));
	}
	json_decref(body);
	struct pending_call *pc = xcalloc(1, sizeof(*pc));
	pc->ex = ex;
	pc->slot = slot;
	pc->id = json_incref(id);
	snprintf(pc->version, sizeof(pc->version), "%s", version_of(s));
	pc->in_dispatch = 1;
	r->cap->on_reply = on_tool_reply;
	r->cap->arg = pc;
	env->handler(r);
	pc->in_dispatch = 0;
	if (pc->done) {
		/* answered on the spot; the arena is still ours unless the
		 * handler had deferred first */
		json_t *reply = pc->reply;
		if (!pc->arena_freed)
			arena_free(a);
		json_decref(pc->id);
		free(pc);
		return reply;
	}
	if (!r->deferred) {
		/* no answer and none promised: api_handle guarantees one, so this
		 * only guards a stub handler */
		log_msg(LOG_ERROR, "mcp", "tool %s: the handler produced no answer", t->name);
		json_decref(pc->id);
		free(pc);
		arena_free(a);
		struct api_loop *l = env->loop_ctx;
		return jr_result(id, tool_result_json(version_of(s),
						      api_envelope(l->app, rid, HERR_INTERNAL, NULL,
								   "the operation produced no answer"),
						      1));
	}
	/* r and its arena now belong to the deferred handler; on_tool_reply
	 * finishes the call */
	ex->pending++;
	return NULL;
out:
	json_decref(body);
	arena_free(a);
	return jr_result(id, result);
}

/* One element: its reply, or NULL when none is due or (tools/call) when it
 * answers later through the exchange. */
static json_t *handle_one(struct mcp_session *s, struct mcp_env *env, json_t *msg, int in_batch,
			  struct exchange *ex, size_t slot)
{
	struct jr_msg m;
	jr_classify(msg, &m);
	switch (m.kind) {
	case JR_INVALID:
		return jr_error(m.id, JR_INVALID_REQUEST, m.why, NULL);
	case JR_RESPONSE:
		return NULL; /* herald sends no requests: nothing to match */
	case JR_NOTIFICATION:
		if (!strcmp(m.method, "notifications/initialized"))
			s->initialized = 1;
		return NULL; /* unknown notifications are ignored, as JSON-RPC says */
	case JR_REQUEST:
		break;
	}
	json_t *params = m.params;
	json_t *empty = NULL;
	if (!params)
		params = empty = json_object();
	json_t *res;
	if (!strcmp(m.method, "initialize")) {
		res = in_batch ? jr_error(m.id, JR_INVALID_REQUEST,
					  "initialize must not be part of a batch", NULL)
			       : m_initialize(s, m.id, params);
	} else if (!strcmp(m.method, "ping")) {
		res = jr_result(m.id, json_object());
	} else if (!strcmp(m.method, "tools/list")) {
		res = m_tools_list(s, m.id, params);
	} else if (!strcmp(m.method, "tools/call")) {
		res = m_tools_call(s, env, m.id, params, ex, slot);
	} else {
		struct arena *tmp = arena_new();
		res = jr_error(m.id, JR_METHOD_NOT_FOUND,
			       arena_printf(tmp, "Method not found: %.100s", m.method), NULL);
		arena_free(tmp);
	}
	json_decref(empty);
	return res;
}

int mcp_handle(struct mcp_session *s, struct mcp_env *env, json_t *msg, json_t **reply,
	       mcp_done_fn done, void *arg)
{
	*reply = NULL;
	int batch = json_is_array(msg);
	size_t n = batch ? json_array_size(msg) : 1;
	if (batch && n == 0) {
		*reply = jr_error(NULL, JR_INVALID_REQUEST, "an empty batch", NULL);
		return MCP_DONE;
	}
	if (n > JR_MAX_BATCH) {
		*reply = jr_error(NULL, JR_INVALID_REQUEST, "a batch holds at most 100 messages", NULL);
		return MCP_DONE;
	}
	struct exchange *ex = xcalloc(1, sizeof(*ex));
	ex->batch = batch;
	ex->n = n;
	ex->slots = xcalloc(n, sizeof(*ex->slots));
	ex->pending = 1; /* until every element was dispatched */
	ex->done = done;
	ex->arg = arg;
	for (size_t i = 0; i < n; i++)
		ex->slots[i] = handle_one(s, env, batch ? json_array_get(msg, i) : msg, batch, ex, i);
	if (--ex->pending == 0) {
		*reply = assemble(ex);
		return MCP_DONE;
	}
	return MCP_PENDING;
}
