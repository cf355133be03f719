/*
 * test_mcp: the MCP tool table against the API route table, JSON-RPC
 * classification, and tool calls mapped onto API requests (with a stub in
 * place of api_handle that records the request it was given).
 *
 * Tools whose route is being built on other branches are listed in
 * PENDING: their rows are checked like the others except for the route,
 * and the test prints which are still pending.  Once such a route is in
 * api_routes it is checked fully; an operationId that is neither served
 * nor pending fails.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "api/api.h"
#include "core/arena.h"
#include "core/config.h"
#include "mcp/jsonrpc.h"
#include "mcp/mcp.h"
#include "mcp/tools.h"

#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const PENDING[] = {"uploadMediaFromUrl"};

static int pending(const char *op)
{
	for (size_t i = 0; i < sizeof(PENDING) / sizeof(PENDING[0]); i++)
		if (!strcmp(PENDING[i], op))
			return 1;
	return 0;
}

static void test_tool_rows(void **st)
{
	(void)st;
	size_t served = 0;
	for (size_t i = 0; i < mcp_ntools; i++) {
		const struct mcp_tool *t = &mcp_tools[i];
		/* names: unique, [a-z_] (every MCP client accepts those) */
		for (const char *p = t->name; *p; p++)
			assert_true((*p >= 'a' && *p <= 'z') || *p == '_');
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(mcp_tools[j].name, t->name);
		assert_ptr_equal(mcp_tool_find(t->name), t);
		assert_non_null(t->title);
		/* the schema parses, is an object schema, and declares every
		 * mapped argument; path arguments are required */
		json_error_t je;
		json_t *sc = json_loads(t->schema, JSON_REJECT_DUPLICATES, &je);
		if (!sc)
			fail_msg("%s: schema does not parse: %s at %d", t->name, je.text, je.column);
		assert_string_equal(json_string_value(json_object_get(sc, "type")), "object");
		json_t *props = json_object_get(sc, "properties");
		assert_true(json_is_object(props));
		json_t *req = json_object_get(sc, "required");
		for (const struct mcp_arg *a = t->args; a->name; a++) {
			if (!json_object_get(props, a->name))
				fail_msg("%s: argument %s is not in the schema", t->name, a->name);
			if (a->in == MCP_IN_PATH) {
				int found = 0;
				size_t k;
				json_t *v;
				json_array_foreach(req, k, v) found |= !strcmp(json_string_value(v), a->name);
				if (!found)
					fail_msg("%s: path argument %s must be required", t->name, a->name);
			}
		}
		/* a tool without a body has nothing but mapped arguments */
		if (!t->body) {
			const char *k;
			json_t *v;
			json_object_foreach(props, k, v) {
				int mapped = 0;
				for (const struct mcp_arg *a = t->args; a->name; a++)
					mapped |= !strcmp(a->name, k);
				if (!mapped)
					fail_msg("%s: %s is in the schema but goes nowhere", t->name, k);
			}
		}
		json_decref(sc);

		const struct route *r = mcp_tool_route(t);
		if (!r) {
			if (!pending(t->op_id))
				fail_msg("tool %s names operationId %s, which is not in api_routes",
					 t->name, t->op_id);
			printf("   pending: %s (%s) until its route is in api_routes\n", t->name, t->op_id);
			continue;
		}
		served++;
		assert_true(r->flags & RF_AUTH);
		assert_non_null(r->summary);
		if (t->body)
			assert_true(r->method == HM_POST || r->method == HM_PUT || r->method == HM_PATCH);
		/* every capture of the pattern is filled by exactly one argument,
		 * and every path argument names a capture */
		int caps = 0, pargs = 0;
		for (const char *s = strchr(r->pattern, '{'); s; s = strchr(s + 1, '{')) {
			const char *e = strchr(s, '}');
			int n = 0;
			for (const struct mcp_arg *a = t->args; a->name; a++)
				n += a->in == MCP_IN_PATH && strlen(a->as) == (size_t)(e - s - 1) &&
				     !strncmp(a->as, s + 1, (size_t)(e - s - 1));
			if (n != 1)
				fail_msg("%s: capture of %s is filled by %d arguments", t->name, r->pattern, n);
			caps++;
		}
		for (const struct mcp_arg *a = t->args; a->name; a++)
			pargs += a->in == MCP_IN_PATH;
		assert_int_equal(caps, pargs);
	}
	/* the routes on main today */
	assert_true(served >= 7);
	assert_non_null(mcp_tool_route(mcp_tool_find("list_accounts")));
	assert_non_null(mcp_tool_route(mcp_tool_find("validate_post")));
	assert_non_null(mcp_tool_route(mcp_tool_find("find_slot")));
}

static void test_classify(void **st)
{
	(void)st;
	static const struct {
		const char *json;
		enum jr_kind kind;
		int has_id;
	} cases[] = {
		{"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}", JR_REQUEST, 1},
		{"{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"method\":\"ping\",\"params\":{}}", JR_REQUEST, 1},
		{"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}", JR_NOTIFICATION, 0},
		{"{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{}}", JR_RESPONSE, 1},
		{"{\"jsonrpc\":\"2.0\",\"id\":3,\"error\":{\"code\":1,\"message\":\"x\"}}", JR_RESPONSE, 1},
		{"{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{},\"error\":{}}", JR_INVALID, 1},
		{"{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"ping\"}", JR_INVALID, 1},
		{"{\"id\":1,\"method\":\"ping\"}", JR_INVALID, 1},
		{"{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"ping\"}", JR_INVALID, 0},
		{"{\"jsonrpc\":\"2.0\",\"id\":1.5,\"method\":\"ping\"}", JR_INVALID, 0},
		{"{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"ping\"}", JR_INVALID, 0},
		{"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":5}", JR_INVALID, 1},
		{"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"\"}", JR_INVALID, 1},
		{"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"params\":[1]}", JR_INVALID, 1},
		{"[1]", JR_INVALID, 0},
		{"\"x\"", JR_INVALID, 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char err[200];
		json_t *v = jr_decode(cases[i].json, strlen(cases[i].json), err, sizeof(err));
		assert_non_null(v);
		struct jr_msg m;
		jr_classify(json_is_array(v) ? json_array_get(v, 0) : v, &m);
		if (m.kind != cases[i].kind || (m.id != NULL) != cases[i].has_id)
			fail_msg("%s: kind %d id %p", cases[i].json, m.kind, (void *)m.id);
		if (m.kind == JR_INVALID)
			assert_non_null(m.why);
		json_decref(v);
	}
	char err[200];
	assert_null(jr_decode("{\"a\":1,\"a\":2}", 13, err, sizeof(err)));
	assert_null(jr_decode("{", 1, err, sizeof(err)));
	/* NUL inside strings is refused by the decoder (no method or id can
	 * hide a NUL) */
	const char *nul = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"p\\u0000x\"}";
	assert_null(jr_decode(nul, strlen(nul), err, sizeof(err)));
	assert_non_null(strstr(err, "line 1"));
}

/* ---- tool calls through a stub handler ---- */

static struct {
	int calls;
	char method[16], path[256], query[256], body[1024], auth[128], idem[64], ctype[64];
	const char *via;
	int reply_status;
	const char *reply_body;
} seen;

static void stub_handler(struct http_req *r)
{
	seen.calls++;
	snprintf(seen.method, sizeof(seen.method), "%s", r->method_name);
	snprintf(seen.path, sizeof(seen.path), "%s", r->path);
	snprintf(seen.query, sizeof(seen.query), "%s", r->query ? r->query : "");
	snprintf(seen.body, sizeof(seen.body), "%.*s", (int)r->body_len, r->body);
	const char *h = http_header(r, "Authorization");
	snprintf(seen.auth, sizeof(seen.auth), "%s", h ? h : "");
	h = http_header(r, "Idempotency-Key");
	snprintf(seen.idem, sizeof(seen.idem), "%s", h ? h : "");
	h = http_header(r, "Content-Type");
	snprintf(seen.ctype, sizeof(seen.ctype), "%s", h ? h : "");
	seen.via = r->via;
	http_reply(r, seen.reply_status, "application/json", seen.reply_body, strlen(seen.reply_body));
}

static struct config cfg;
static struct app app;
static struct api_loop loop;

static json_t *call(struct mcp_session *s, const char *msg)
{
	struct mcp_env env = {.loop_ctx = &loop, .authorization = "Bearer k", .request_id = "req_t",
			      .handler = stub_handler};
	json_t *v = json_loads(msg, 0, NULL);
	assert_non_null(v);
	json_t *r;
	assert_int_equal(mcp_handle(s, &env, v, &r, NULL, NULL), MCP_DONE);
	json_decref(v);
	return r;
}

static void setup_env(void)
{
	cfg.public_url = "http://h.test";
	app.cfg = &cfg;
	loop.app = &app;
	memset(&seen, 0, sizeof(seen));
	seen.reply_status = 200;
	seen.reply_body = "{\"date\":\"2031-01-01T10:00:00.000Z\"}";
}

static void test_call_path_and_result(void **st)
{
	(void)st;
	setup_env();
	struct mcp_session s = {"2025-06-18", 1};
	json_t *r = call(&s, "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":"
			     "{\"name\":\"find_slot\",\"arguments\":{\"accountId\":\"ch 1\"}}}");
	assert_int_equal(seen.calls, 1);
	assert_string_equal(seen.method, "GET");
	assert_string_equal(seen.path, "/public/v1/find-slot/ch 1");
	assert_string_equal(seen.query, "");
	assert_string_equal(seen.auth, "Bearer k");
	assert_string_equal(seen.body, "");
	assert_string_equal(seen.via, "mcp");
	assert_int_equal(json_integer_value(json_object_get(r, "id")), 7);
	json_t *res = json_object_get(r, "result");
	assert_true(json_is_false(json_object_get(res, "isError")));
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(res, "structuredContent"), "date")),
		"2031-01-01T10:00:00.000Z");
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(json_object_get(res, "content"), 0), "text")),
			    seen.reply_body);
	json_decref(r);

	/* an API error: isError with the envelope only (Postiz fields dropped) */
	seen.reply_status = 404;
	seen.reply_body = "{\"statusCode\":404,\"msg\":\"x\",\"error\":{\"code\":\"not_found\",\"message\":\"x\"}}";
	r = call(&s, "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"tools/call\",\"params\":"
		     "{\"name\":\"find_slot\",\"arguments\":{\"accountId\":\"nope\"}}}");
	res = json_object_get(r, "result");
	assert_true(json_is_true(json_object_get(res, "isError")));
	json_t *sc = json_object_get(res, "structuredContent");
	assert_int_equal(json_object_size(sc), 1);
	assert_string_equal(json_string_value(json_object_get(json_object_get(sc, "error"), "code")),
			    "not_found");
	json_decref(r);

	/* older protocol versions get no structuredContent */
	struct mcp_session old = {"2025-03-26", 1};
	r = call(&old, "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"tools/call\",\"params\":"
		       "{\"name\":\"find_slot\",\"arguments\":{\"accountId\":\"x\"}}}");
	assert_null(json_object_get(json_object_get(r, "result"), "structuredContent"));
	json_decref(r);
}

static void test_call_argument_errors(void **st)
{
	(void)st;
	setup_env();
	struct mcp_session s = {"2025-06-18", 1};
	static const struct {
		const char *args, *field;
	} bad[] = {
		{"{}", "accountId"},
		{"{\"accountId\":\"\"}", "accountId"},
		{"{\"accountId\":5}", "accountId"},
		{"{\"accountId\":\"a/b\"}", "accountId"},
		{"{\"accountId\":\"a\",\"extra\":1}", "extra"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char msg[512];
		snprintf(msg, sizeof(msg),
			 "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":"
			 "{\"name\":\"find_slot\",\"arguments\":%s}}",
			 bad[i].args);
		json_t *r = call(&s, msg);
		json_t *res = json_object_get(r, "result");
		assert_true(json_is_true(json_object_get(res, "isError")));
		json_t *e = json_object_get(json_object_get(res, "structuredContent"), "error");
		assert_string_equal(json_string_value(json_object_get(e, "code")), "validation_failed");
		assert_string_equal(json_string_value(json_object_get(e, "field")), bad[i].field);
		assert_string_equal(json_string_value(json_object_get(e, "docUrl")),
				    "http://h.test/v1/errors#validation_failed");
		json_decref(r);
	}
	assert_int_equal(seen.calls, 0); /* none reached the API */

	/* protocol errors */
	json_t *r = call(&s, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"nope\"}}");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "error"), "code")),
			 JR_INVALID_PARAMS);
	json_decref(r);
	r = call(&s, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":"
		     "{\"name\":\"find_slot\",\"arguments\":[1]}}");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "error"), "code")),
			 JR_INVALID_PARAMS);
	json_decref(r);
}

static void test_call_body(void **st)
{
	(void)st;
	setup_env();
	seen.reply_body = "{\"valid\":true}";
	struct mcp_session s = {"2025-06-18", 1};
	json_t *r = call(&s, "{\"jsonrpc\":\"2.0\",\"id\":\"x\",\"method\":\"tools/call\",\"params\":"
			     "{\"name\":\"validate_post\",\"arguments\":{\"text\":\"hi\",\"targets\":[{\"platform\":\"x\"}]}}}");
	assert_string_equal(seen.method, "POST");
	assert_string_equal(seen.path, "/v1/posts/validate");
	assert_string_equal(seen.ctype, "application/json");
	json_t *b = json_loads(seen.body, 0, NULL);
	json_t *want = json_loads("{\"text\":\"hi\",\"targets\":[{\"platform\":\"x\"}]}", 0, NULL);
	assert_true(json_equal(b, want));
	json_decref(b);
	json_decref(want);
	json_decref(r);

	if (mcp_route_by_op("createPost")) {
		r = call(&s, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":"
			     "{\"name\":\"create_post\",\"arguments\":{\"text\":\"hi\",\"idempotencyKey\":\"k1\"}}}");
		assert_string_equal(seen.path, "/v1/posts");
		assert_string_equal(seen.idem, "k1");
		assert_string_equal(seen.body, "{\"text\":\"hi\"}");
		json_decref(r);
	}
	if (mcp_route_by_op("listPosts")) {
		r = call(&s, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":"
			     "{\"name\":\"list_posts\",\"arguments\":{\"limit\":5,\"tag\":\"a b&c\"}}}");
		assert_string_equal(seen.method, "GET");
		assert_string_equal(seen.query, "tag=a%20b%26c&limit=5");
		json_decref(r);
	}
}

static void test_lifecycle(void **st)
{
	(void)st;
	setup_env();
	struct mcp_session s = {{0}, 0};
	json_t *r = call(&s, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":"
			     "{\"protocolVersion\":\"2024-11-05\",\"capabilities\":{}}}");
	json_t *res = json_object_get(r, "result");
	assert_string_equal(json_string_value(json_object_get(res, "protocolVersion")), "2024-11-05");
	assert_string_equal(s.version, "2024-11-05");
	json_decref(r);
	r = call(&s, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":"
		     "{\"protocolVersion\":\"1999-01-01\"}}");
	assert_string_equal(json_string_value(json_object_get(json_object_get(r, "result"),
								"protocolVersion")),
			    MCP_LATEST_VERSION);
	json_decref(r);
	r = call(&s, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{}}");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "error"), "code")),
			 JR_INVALID_PARAMS);
	json_decref(r);
	assert_null(call(&s, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}"));
	assert_int_equal(s.initialized, 1);
	/* initialize inside a batch is refused; the rest of the batch answered */
	r = call(&s, "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":"
		     "{\"protocolVersion\":\"2025-06-18\"}},{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"},"
		     "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/x\"}]");
	assert_int_equal(json_array_size(r), 2);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(json_array_get(r, 0), "error"), "code")),
			 JR_INVALID_REQUEST);
	assert_non_null(json_object_get(json_array_get(r, 1), "result"));
	json_decref(r);
	assert_null(call(&s, "[{\"jsonrpc\":\"2.0\",\"method\":\"notifications/x\"}]"));
	/* tools/list with a cursor never handed out */
	r = call(&s, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\",\"params\":{\"cursor\":\"c\"}}");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "error"), "code")),
			 JR_INVALID_PARAMS);
	json_decref(r);
}

/* ---- deferred handlers (api_defer): the exchange finishes later ---- */

static struct event_base *tbase;

static void late_reply(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct http_req *r = arg;
	http_reply(r, 202, "application/json", "{\"late\":true}", 13); /* frees r's arena */
}

static void deferring_handler(struct http_req *r)
{
	seen.calls++;
	if (strstr(r->path, "/late")) {
		http_defer(r);
		struct timeval tv = {0, 2000};
		event_base_once(tbase, -1, EV_TIMEOUT, late_reply, r, &tv);
		return;
	}
	if (strstr(r->path, "/both")) { /* deferred, then answered on the spot */
		http_defer(r);
		http_reply(r, 200, "application/json", "{\"both\":true}", 13);
		return;
	}
	http_reply(r, 200, "application/json", "{\"now\":true}", 12);
}

static void done_cb(void *arg, json_t *reply)
{
	json_t **out = arg;
	assert_null(*out);
	*out = reply;
}

static void test_deferred_calls(void **st)
{
	(void)st;
	setup_env();
	tbase = event_base_new();
	struct mcp_session s = {"2025-06-18", 1};
	struct mcp_env env = {.loop_ctx = &loop, .base = tbase, .authorization = "Bearer k",
			      .request_id = "req_d", .handler = deferring_handler};
	json_t *msg = json_loads(
		"[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"find_slot\",\"arguments\":{\"accountId\":\"late\"}}},"
		"{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"},"
		"{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{\"name\":\"find_slot\",\"arguments\":{\"accountId\":\"both\"}}},"
		"{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tools/call\",\"params\":{\"name\":\"find_slot\",\"arguments\":{\"accountId\":\"late\"}}}]",
		0, NULL);
	assert_non_null(msg);
	json_t *reply = NULL, *later = NULL;
	assert_int_equal(mcp_handle(&s, &env, msg, &reply, done_cb, &later), MCP_PENDING);
	json_decref(msg); /* the exchange does not need the message any more */
	assert_null(reply);
	assert_null(later);
	event_base_dispatch(tbase);
	assert_non_null(later);
	assert_int_equal(json_array_size(later), 4);
	const char *want[] = {"late", NULL, "both", "late"};
	for (size_t i = 0; i < 4; i++) {
		json_t *x = json_array_get(later, i);
		assert_int_equal(json_integer_value(json_object_get(x, "id")), (json_int_t)i + 1);
		json_t *res = json_object_get(x, "result");
		assert_non_null(res);
		if (want[i])
			assert_true(json_is_true(json_object_get(
				json_object_get(res, "structuredContent"), want[i])));
	}
	json_decref(later);
	assert_int_equal(seen.calls, 3);
	event_base_free(tbase);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tool_rows),
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_call_path_and_result),
		cmocka_unit_test(test_call_argument_errors),
		cmocka_unit_test(test_call_body),
		cmocka_unit_test(test_lifecycle),
		cmocka_unit_test(test_deferred_calls),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
