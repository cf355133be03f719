/*
 * tools: the MCP tool table (see tools.h).  Schemas are JSON text so that
 * they read like what clients receive; a unit test parses every one and
 * checks it against the row's argument mapping and the route.
 */
#include "tools.h"
#include "../api/api.h"
#include "../core/log.h"

#include <stdio.h>

#include <string.h>

/* the post body of POST /v1/posts and /v1/posts/validate */
#define MEDIA_SCHEMA                                                                              \
	"{\"type\":\"array\",\"description\":\"media: a URL, {\\\"url\\\"} or {\\\"mediaId\\\"} of an upload\","\
	"\"items\":{\"anyOf\":[{\"type\":\"string\"},{\"type\":\"object\",\"properties\":{"            \
	"\"url\":{\"type\":\"string\"},\"mediaId\":{\"type\":\"string\"}}}]}}"
#define THREAD_SCHEMA                                                                             \
	"{\"type\":\"array\",\"description\":\"further items of a thread, in order\","                \
	"\"items\":{\"anyOf\":[{\"type\":\"string\"},{\"type\":\"object\",\"properties\":{"            \
	"\"text\":{\"type\":\"string\"},\"media\":" MEDIA_SCHEMA "},\"required\":[\"text\"]}]}}"
#define POST_PROPS                                                                                \
	"\"text\":{\"type\":\"string\",\"description\":\"the post text (plain text)\"},"             \
	"\"media\":" MEDIA_SCHEMA ","                                                                 \
	"\"thread\":" THREAD_SCHEMA ","                                                               \
	"\"targets\":{\"type\":\"array\",\"minItems\":1,\"maxItems\":50,\"description\":"             \
	"\"where to post: {accountId} (see list_accounts) or {platform} (the organization's only "    \
	"account of that platform), each optionally with its own text, media, thread and options\"," \
	"\"items\":{\"type\":\"object\",\"properties\":{\"accountId\":{\"type\":\"string\"},"          \
	"\"platform\":{\"type\":\"string\"},\"text\":{\"type\":\"string\"},\"media\":" MEDIA_SCHEMA "," \
	"\"thread\":" THREAD_SCHEMA ",\"options\":{\"type\":\"object\"}}}},"                         \
	"\"scheduledAt\":{\"type\":\"string\",\"format\":\"date-time\",\"description\":"              \
	"\"when to publish, ISO 8601 (e.g. 2026-12-01T10:00:00Z)\"},"                                 \
	"\"publishNow\":{\"type\":\"boolean\",\"description\":\"publish at once\"},"                  \
	"\"draft\":{\"type\":\"boolean\",\"description\":\"keep as a draft (not published)\"},"      \
	"\"queue\":{\"type\":\"boolean\",\"description\":\"take each account's next free slot\"},"  \
	"\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},"                             \
	"\"firstComment\":{\"type\":\"string\"}"
#define IDEMPOTENCY_PROP                                                                          \
	"\"idempotencyKey\":{\"type\":\"string\",\"maxLength\":255,\"description\":"                  \
	"\"repeat a call with the same key to get the first answer instead of a second effect\"}"
#define ID_PROP(n, what) "\"" n "\":{\"type\":\"string\",\"minLength\":1,\"description\":\"" what "\"}"

const struct mcp_tool mcp_tools[] = {
	{"list_accounts", "List accounts", "listAccounts",
	 "{\"type\":\"object\",\"properties\":{}}",
	 {{NULL}}, 0, MCP_READ_ONLY | MCP_IDEMPOTENT},
	{"validate_post", "Validate a post", "validatePost",
	 "{\"type\":\"object\",\"properties\":{" POST_PROPS "},\"required\":[\"targets\"]}",
	 {{NULL}}, 1, MCP_READ_ONLY | MCP_IDEMPOTENT},
	{"create_post", "Create a post", "createPost",
	 "{\"type\":\"object\",\"properties\":{" POST_PROPS "," IDEMPOTENCY_PROP "},\"required\":[\"targets\"]}",
	 {{"idempotencyKey", MCP_IN_HEADER, "Idempotency-Key"}, {NULL}}, 1, MCP_OPEN_WORLD},
	{"list_posts", "List posts", "listPosts",
	 "{\"type\":\"object\",\"properties\":{"
	 "\"status\":{\"type\":\"string\",\"enum\":[\"draft\",\"queued\",\"publishing\",\"published\","
	 "\"partially_published\",\"failed\",\"canceled\",\"unconfirmed\"]},"
	 "\"accountId\":{\"type\":\"string\"},\"platform\":{\"type\":\"string\"},"
	 "\"tag\":{\"type\":\"string\"},"
	 "\"from\":{\"type\":\"string\",\"format\":\"date-time\"},"
	 "\"to\":{\"type\":\"string\",\"format\":\"date-time\"},"
	 "\"limit\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":100},"
	 "\"cursor\":{\"type\":\"string\",\"description\":\"nextCursor of the previous page\"}}}",
	 {{"status", MCP_IN_QUERY, "status"},
	  {"accountId", MCP_IN_QUERY, "accountId"},
	  {"platform", MCP_IN_QUERY, "platform"},
	  {"tag", MCP_IN_QUERY, "tag"},
	  {"from", MCP_IN_QUERY, "from"},
	  {"to", MCP_IN_QUERY, "to"},
	  {"limit", MCP_IN_QUERY, "limit"},
	  {"cursor", MCP_IN_QUERY, "cursor"},
	  {NULL}},
	 0, MCP_READ_ONLY | MCP_IDEMPOTENT},
	{"get_post", "Get a post", "getPost",
	 "{\"type\":\"object\",\"properties\":{" ID_PROP("postId", "the post id") "},\"required\":[\"postId\"]}",
	 {{"postId", MCP_IN_PATH, "id"}, {NULL}}, 0, MCP_READ_ONLY | MCP_IDEMPOTENT},
	{"cancel_post", "Cancel a post", "cancelPost",
	 "{\"type\":\"object\",\"properties\":{" ID_PROP("postId", "the post id") "},\"required\":[\"postId\"]}",
	 {{"postId", MCP_IN_PATH, "id"}, {NULL}}, 0, MCP_DESTRUCTIVE | MCP_IDEMPOTENT},
	{"upload_media_from_url", "Upload media from a URL", "uploadMediaFromUrl",
	 "{\"type\":\"object\",\"properties\":{\"url\":{\"type\":\"string\",\"format\":\"uri\","
	 "\"description\":\"http(s) URL of an image or video to fetch into the media library\"},"
	 IDEMPOTENCY_PROP "},\"required\":[\"url\"]}",
	 {{"idempotencyKey", MCP_IN_HEADER, "Idempotency-Key"}, {NULL}}, 1, MCP_OPEN_WORLD},
	{"get_analytics", "Get a post's analytics", "getPostAnalytics",
	 "{\"type\":\"object\",\"properties\":{" ID_PROP("postId", "the post id") "},\"required\":[\"postId\"]}",
	 {{"postId", MCP_IN_PATH, "id"}, {NULL}}, 0, MCP_READ_ONLY | MCP_IDEMPOTENT},
	{"find_slot", "Find a free slot", "postizFindSlot",
	 "{\"type\":\"object\",\"properties\":{" ID_PROP("accountId", "the account (channel) id") "},"
	 "\"required\":[\"accountId\"]}",
	 {{"accountId", MCP_IN_PATH, "id"}, {NULL}}, 0, MCP_READ_ONLY},
};

const size_t mcp_ntools = sizeof(mcp_tools) / sizeof(mcp_tools[0]);

const struct route *mcp_route_by_op(const char *op_id)
{
	for (size_t i = 0; i < api_nroutes; i++)
		if (api_routes[i].op_id && !strcmp(api_routes[i].op_id, op_id))
			return &api_routes[i];
	return NULL;
}

const struct route *mcp_tool_route(const struct mcp_tool *t)
{
	return mcp_route_by_op(t->op_id);
}

const struct mcp_tool *mcp_tool_find(const char *name)
{
	for (size_t i = 0; i < mcp_ntools; i++)
		if (!strcmp(mcp_tools[i].name, name))
			return &mcp_tools[i];
	return NULL;
}

void mcp_log_unserved(void)
{
	char list[1024] = "";
	size_t n = 0;
	for (size_t i = 0; i < mcp_ntools; i++) {
		if (mcp_tool_route(&mcp_tools[i]) || n >= sizeof(list))
			continue;
		int w = snprintf(list + n, sizeof(list) - n, "%s%s (%s)", n ? ", " : "",
				 mcp_tools[i].name, mcp_tools[i].op_id);
		if (w > 0)
			n += (size_t)w;
	}
	if (n)
		log_msg(LOG_INFO, "mcp", "tools not offered, their operations are not served: %s", list);
}

void mcp_print_tools(FILE *f)
{
	for (size_t i = 0; i < mcp_ntools; i++) {
		const struct route *r = mcp_tool_route(&mcp_tools[i]);
		if (r)
			fprintf(f, "  %-22s %s %s: %s\n", mcp_tools[i].name, http_method_name(r->method),
				r->pattern, r->summary);
	}
}
