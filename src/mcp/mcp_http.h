/*
 * mcp_http: the header checks of POST /mcp (Streamable HTTP), pure
 * functions over header values so that the fuzz target can reach them.
 * The handler itself is h_mcp (declared with the other handlers in api.h).
 */
#ifndef HERALD_MCP_HTTP_H
#define HERALD_MCP_HTTP_H

/* Accept allows application/json (named, or by the application and any-type wildcards). */
int mcp_accept_ok(const char *accept);
/* http(s)://localhost|127.0.0.1|[::1] with an optional numeric port. */
int mcp_origin_loopback(const char *origin);
/* A loopback origin, or exactly the scheme://host[:port] of public_url. */
int mcp_origin_ok(const char *origin, const char *public_url);
/* Split "<32 chars>.<version>.<32 chars>"; 0 when it has that shape. */
int mcp_session_split(const char *sid, char nonce[33], char version[16], char mac[33]);

#endif
