/*
 * mcp_http: POST /mcp, the Streamable HTTP transport of MCP (protocol
 * 2025-06-18, also 2025-03-26 and 2024-11-05 clients).
 *
 * The route sits in the API route table with RF_AUTH, so the key check
 * (401), the per-key rate limit and the body bound (413) happened before
 * h_mcp runs, with herald's error envelope (an Idempotency-Key header is
 * not applied to the POST: tools take an idempotencyKey argument for their
 * own request).  Then, in order:
 *   Origin (403 envelope: DNS-rebinding defence; only this server's public
 *   origin and loopback origins are accepted when a browser sends one) ->
 *   Accept must allow application/json (406 envelope) -> a multipart body
 *   is refused (415 envelope; like the rest of the API, other labels are
 *   judged by the bytes) -> MCP-Protocol-Version must be
 *   supported when given (400, JSON-RPC error) -> Mcp-Session-Id must be
 *   one this server issued to this key (404, JSON-RPC error) -> the body
 *   (400 with -32700 / -32600 when it is not a JSON-RPC message at all).
 * Replies are JSON (never SSE): 200 with the response or batch of
 * responses, 202 with no body when the POST held only notifications or
 * responses.  GET and DELETE /mcp get 405 from the router (the spec lets a
 * server without a GET stream or client-side session ending do that).
 *
 * Each POST counts once against the key's rate limit, and each tool call
 * it makes counts again (it is a request of that key, run as one).
 *
 * A session is optional: a request without Mcp-Session-Id is served (curl
 * works), its protocol version taken from MCP-Protocol-Version or, as the
 * spec says, 2025-03-26.  An id that is sent must be valid.
 *
 * Sessions are stateless so that every loop and every herald process
 * sharing a database accepts them: the id is "<nonce>.<version>.<mac>",
 * the MAC (server secret) binding nonce and negotiated version to the key
 * that initialized it.  A session lives as long as its key.
 */
#include "jsonrpc.h"
#include "mcp.h"
#include "mcp_http.h"
#include "../api/api.h"
#include "../core/arena.h"
#include "../core/config.h"
#include "../core/crypto.h"
#include "../core/ids.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define SESSION_PURPOSE "herald mcp session v1"

static int session_mac(const char *key_id, const char *nonce, const char *version, char mac[65])
{
	char msg[256];
	int n = snprintf(msg, sizeof(msg), "%s|%s|%s", key_id, nonce, version);
	if (n < 0 || (size_t)n >= sizeof(msg))
		return -1;
	return secret_mac_hex(SESSION_PURPOSE, msg, (size_t)n, mac);
}

static const char *session_new(struct call *c, const char *version)
{
	char nonce[33], mac[65];
	random_hex(16, nonce);
	if (session_mac(c->key_id, nonce, version, mac))
		return NULL;
	return arena_printf(c->a, "%s.%s.%.32s", nonce, version, mac);
}

int mcp_session_split(const char *sid, char nonce[33], char version[16], char mac[33])
{
	const char *d1 = strchr(sid, '.');
	const char *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
	if (!d1 || !d2 || d1 - sid != 32 || d2 - d1 - 1 >= 16 || strlen(d2 + 1) != 32)
		return -1;
	memcpy(nonce, sid, 32);
	nonce[32] = 0;
	memcpy(version, d1 + 1, (size_t)(d2 - d1 - 1));
	version[d2 - d1 - 1] = 0;
	memcpy(mac, d2 + 1, 33);
	return 0;
}

/* 0 and the session's version in version_out when sid is valid for this key */
static int session_check(struct call *c, const char *sid, char version_out[16])
{
	char nonce[33], version[16], got[33], mac[65];
	if (mcp_session_split(sid, nonce, version, got) || !mcp_version_supported(version) ||
	    session_mac(c->key_id, nonce, version, mac))
		return -1;
	/* compare in constant time: the MAC is the session's only secret */
	unsigned diff = 0;
	for (int i = 0; i < 32; i++)
		diff |= (unsigned char)mac[i] ^ (unsigned char)got[i];
	if (diff)
		return -1;
	snprintf(version_out, 16, "%s", version);
	return 0;
}

int mcp_origin_loopback(const char *o)
{
	const char *h;
	if (!strncasecmp(o, "http://", 7))
		h = o + 7;
	else if (!strncasecmp(o, "https://", 8))
		h = o + 8;
	else
		return 0;
	size_t n;
	if (!strncasecmp(h, "localhost", 9))
		n = 9;
	else if (!strncmp(h, "127.0.0.1", 9))
		n = 9;
	else if (!strncmp(h, "[::1]", 5))
		n = 5;
	else
		return 0;
	h += n;
	if (!*h)
		return 1;
	if (*h++ != ':' || !*h)
		return 0;
	for (; *h; h++)
		if (*h < '0' || *h > '9')
			return 0;
	return 1;
}

int mcp_origin_ok(const char *origin, const char *pu)
{
	if (mcp_origin_loopback(origin))
		return 1;
	/* the origin of HERALD_PUBLIC_URL: scheme://host[:port] */
	const char *hs = strstr(pu, "://");
	if (!hs)
		return 0;
	size_t n = (size_t)(hs + 3 - pu) + strcspn(hs + 3, "/?#");
	return strlen(origin) == n && !strncasecmp(origin, pu, n);
}

/* Accept allows application/json (or has no opinion) */
int mcp_accept_ok(const char *a)
{
	while (*a) {
		while (*a == ' ' || *a == ',')
			a++;
		size_t n = strcspn(a, ";,");
		size_t m = n;
		while (m && a[m - 1] == ' ')
			m--;
		if ((m == 16 && !strncasecmp(a, "application/json", 16)) ||
		    (m == 13 && !strncasecmp(a, "application/*", 13)) || (m == 3 && !strncmp(a, "*/*", 3)))
			return 1;
		a += n;
		a += strcspn(a, ",");
	}
	return 0;
}

/* As the rest of the API (api_body_object): curl -d labels JSON as a
 * form, so judge by the bytes and refuse only multipart bodies, which
 * cannot be a JSON-RPC message. */
static int content_type_ok(const char *ct)
{
	return strncasecmp(ct, "multipart/", 10) != 0;
}

static void free_json(void *v)
{
	json_decref(v);
}

static void rpc_fail(struct call *c, int status, int code, const char *msg)
{
	api_reply(c, status, jr_error(NULL, code, msg, NULL));
}

/* the answer to the POST: 202 without a body when nothing is due */
static void http_done(void *arg, json_t *reply)
{
	struct call *c = arg;
	if (!reply) {
		api_reply_empty(c, 202);
		return;
	}
	api_reply(c, 200, reply);
}

void h_mcp(void *p)
{
	struct call *c = p;
	struct http_req *r = c->r;
	const char *origin = http_header(r, "Origin");
	if (origin && !mcp_origin_ok(origin, c->app->cfg->public_url)) {
		api_fail(c, HERR_ORIGIN_FORBIDDEN, "Origin",
			 "requests from origin %.200s are refused; only %s and loopback origins may call /mcp",
			 origin, c->app->cfg->public_url);
		return;
	}
	const char *accept = http_header(r, "Accept");
	if (accept && *accept && !mcp_accept_ok(accept)) {
		api_fail(c, HERR_NOT_ACCEPTABLE, "Accept",
			 "/mcp answers with application/json; send Accept: application/json, text/event-stream");
		return;
	}
	const char *ct = http_header(r, "Content-Type");
	if (ct && !content_type_ok(ct)) {
		api_fail(c, HERR_UNSUPPORTED_MEDIA, "Content-Type",
			 "send the JSON-RPC message as application/json");
		return;
	}
	const char *pvh = http_header(r, "MCP-Protocol-Version");
	if (pvh && !mcp_version_supported(pvh)) {
		rpc_fail(c, 400, JR_INVALID_REQUEST,
			 arena_printf(c->a, "unsupported MCP-Protocol-Version %.40s; supported: 2025-06-18, 2025-03-26, 2024-11-05",
				      pvh));
		return;
	}
	struct mcp_session s = {0};
	const char *sid = http_header(r, "Mcp-Session-Id");
	if (sid && session_check(c, sid, s.version)) {
		rpc_fail(c, 404, -32001, "unknown session: send initialize again without Mcp-Session-Id");
		return;
	}
	if (pvh)
		snprintf(s.version, sizeof(s.version), "%s", pvh);
	else if (!sid)
		snprintf(s.version, sizeof(s.version), "%s", MCP_DEFAULT_HTTP_VERSION);

	char err[200];
	json_t *msg = jr_decode(r->body, r->body_len, err, sizeof(err));
	if (!msg) {
		rpc_fail(c, 400, JR_PARSE_ERROR, arena_printf(c->a, "parse error: %s", err));
		return;
	}
	arena_defer(c->a, free_json, msg);
	struct jr_msg m;
	int single_init = 0;
	if (json_is_array(msg)) {
		if (!json_array_size(msg)) {
			rpc_fail(c, 400, JR_INVALID_REQUEST, "an empty batch");
			return;
		}
	} else {
		jr_classify(msg, &m);
		if (m.kind == JR_INVALID) {
			api_reply(c, 400, jr_error(m.id, JR_INVALID_REQUEST, m.why, NULL));
			return;
		}
		single_init = m.kind == JR_REQUEST && !strcmp(m.method, "initialize");
		if (single_init)
			s.version[0] = 0; /* initialize negotiates afresh */
	}
	struct mcp_env env = {
		.loop_ctx = r->loop_ctx,
		.loop_index = r->loop_index,
		.base = r->base,
		.authorization = http_header(r, "Authorization"),
		.request_id = r->request_id,
		.handler = api_handle,
	};
	json_t *reply;
	if (mcp_handle(&s, &env, msg, &reply, http_done, c) == MCP_PENDING) {
		/* a tool call answers later: so does this POST (http_done) */
		api_defer(c);
		return;
	}
	if (single_init && json_object_get(reply, "result")) {
		const char *nsid = session_new(c, s.version);
		if (nsid)
			http_add_header(r, "Mcp-Session-Id", nsid);
	}
	http_done(c, reply);
}
