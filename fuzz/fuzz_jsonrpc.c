/*
 * fuzz_jsonrpc: MCP messages as both transports receive them.  The bytes
 * are decoded with jr_decode, every message (or batch element) classified
 * with jr_classify, and the whole value handled by mcp_handle, whose tool
 * calls reach a stub in place of api_handle (it answers 200 or an error
 * envelope, alternately, so both result paths run).
 *
 * Oracles: no sanitizer report; a value that decodes is answered with a
 * reply exactly when it holds a request or something invalid (never for
 * notifications and responses alone); every reply object is JSON-RPC 2.0
 * with exactly one of result and error, and its id is the request's id
 * (or null); a batch answer is an array of at most as many replies as the
 * batch had elements; every request a tool call makes is routed by the
 * real route table to the tool's own route (arguments cannot steer a call
 * to another route); replies survive a dump and reload.
 */
#include "api/api.h"
#include "core/arena.h"
#include "core/config.h"
#include "mcp/jsonrpc.h"
#include "mcp/mcp.h"
#include "mcp/tools.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void die(const char *what)
{
	fprintf(stderr, "fuzz_jsonrpc: %s\n", what);
	abort();
}

static int calls;

static void stub(struct http_req *r)
{
	calls++;
	struct arena *a = arena_new();
	struct route_match m;
	if (!router_match(api_routes, api_nroutes, r->method, r->path, a, &m))
		die("a tool call made a request no route matches");
	int ok = 0;
	for (size_t i = 0; i < mcp_ntools; i++)
		if (mcp_tool_route(&mcp_tools[i]) == m.route)
			ok = 1;
	if (!ok)
		die("a tool call reached a route that is no tool's");
	arena_free(a);
	if (calls % 2)
		http_reply(r, 200, "application/json", "{\"ok\":true}", 11);
	else
		http_reply(r, 404, "application/json",
			   "{\"error\":{\"code\":\"not_found\",\"message\":\"x\"}}", 45);
}

static void check_reply(json_t *rep, json_t *req)
{
	if (!json_is_object(rep))
		die("a reply is not an object");
	if (strcmp(json_string_value(json_object_get(rep, "jsonrpc")) ?: "", "2.0"))
		die("reply without jsonrpc 2.0");
	int has_res = json_object_get(rep, "result") != NULL;
	int has_err = json_object_get(rep, "error") != NULL;
	if (has_res == has_err)
		die("reply needs exactly one of result and error");
	json_t *id = json_object_get(rep, "id");
	if (!id)
		die("reply without id");
	if (req && !json_is_null(id)) {
		json_t *rid = json_is_object(req) ? json_object_get(req, "id") : NULL;
		if (!rid || !json_equal(rid, id))
			die("reply id differs from the request id");
	}
	if (has_err && !json_is_integer(json_object_get(json_object_get(rep, "error"), "code")))
		die("error without an integer code");
}

/* 1 when a lone message needs a reply */
static int wants_reply(json_t *v)
{
	struct jr_msg m;
	jr_classify(v, &m);
	return m.kind == JR_REQUEST || m.kind == JR_INVALID;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct config cfg;
	static struct app app;
	static struct api_loop loop;
	cfg.public_url = "http://fuzz.test";
	app.cfg = &cfg;
	loop.app = &app;

	char err[200];
	json_t *v = jr_decode((const char *)data, size, err, sizeof(err));
	if (!v)
		return 0;
	struct mcp_session s = {{0}, 0};
	struct mcp_env env = {.loop_ctx = &loop, .authorization = "Bearer k", .request_id = "req_fuzz",
			      .handler = stub};
	json_t *rep;
	if (mcp_handle(&s, &env, v, &rep, NULL, NULL) != MCP_DONE)
		die("the stub answers at once: nothing may be pending");
	if (json_is_array(v)) {
		size_t n = json_array_size(v), want = 0;
		for (size_t i = 0; i < n; i++)
			want += wants_reply(json_array_get(v, i));
		if (n == 0 || n > JR_MAX_BATCH) {
			if (!rep || json_is_array(rep))
				die("an empty or oversized batch needs one error reply");
			check_reply(rep, NULL);
		} else if (!want) {
			if (rep)
				die("a batch of notifications and responses got a reply");
		} else {
			if (!json_is_array(rep) || json_array_size(rep) != want)
				die("batch reply count differs from the requests in it");
			size_t i;
			json_t *x;
			json_array_foreach(rep, i, x) check_reply(x, NULL);
		}
	} else {
		if (wants_reply(v) != (rep != NULL))
			die("reply presence differs from the message kind");
		if (rep)
			check_reply(rep, v);
	}
	if (rep) {
		char *s1 = json_dumps(rep, JSON_COMPACT | JSON_ENCODE_ANY);
		if (!s1)
			die("reply does not dump");
		json_t *back = json_loads(s1, JSON_DECODE_ANY, NULL);
		if (!back || !json_equal(back, rep))
			die("reply does not survive dump and reload");
		json_decref(back);
		free(s1);
	}
	json_decref(rep);
	json_decref(v);
	return 0;
}
