/*
 * fuzz_mcp_headers: the header values POST /mcp judges before it reads the
 * body: Accept (mcp_accept_ok), Origin (mcp_origin_loopback,
 * mcp_origin_ok against a fixed public URL) and Mcp-Session-Id
 * (mcp_session_split).  The input, cut at its first NUL, is the value.
 *
 * Oracles: no sanitizer report; an accepted Accept names application/json
 * or a wildcard covering it (case-insensitively); a loopback
 * origin starts with http:// or https:// and has no path; an accepted
 * origin that is not loopback is the public origin exactly
 * (case-insensitively); a session id that splits is rebuilt exactly from
 * its three parts.
 */
#include "mcp/mcp_http.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void die(const char *what)
{
	fprintf(stderr, "fuzz_mcp_headers: %s\n", what);
	abort();
}

static int contains_ci(const char *h, const char *n)
{
	size_t hl = strlen(h), nl = strlen(n);
	for (size_t i = 0; i + nl <= hl; i++)
		if (!strncasecmp(h + i, n, nl))
			return 1;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *v = malloc(size + 1);
	memcpy(v, data, size);
	v[size] = 0;

	if (mcp_accept_ok(v) && !contains_ci(v, "application/json") &&
	    !contains_ci(v, "application/*") && !strstr(v, "*/*"))
		die("accepted an Accept without application/json");

	int lb = mcp_origin_loopback(v);
	if (lb) {
		if (strncasecmp(v, "http://", 7) && strncasecmp(v, "https://", 8))
			die("loopback origin without http(s)://");
		if (strchr(strstr(v, "://") + 3, '/'))
			die("loopback origin with a path");
	}
	const char *pub = "https://Herald.Example:8443/base/";
	if (mcp_origin_ok(v, pub) && !lb && strcasecmp(v, "https://herald.example:8443"))
		die("accepted an origin that is neither loopback nor the public one");

	char nonce[33], version[16], mac[33];
	if (!mcp_session_split(v, nonce, version, mac)) {
		char back[128];
		snprintf(back, sizeof(back), "%s.%s.%s", nonce, version, mac);
		if (strcmp(back, v))
			die("a split session id does not rebuild");
	}
	free(v);
	return 0;
}
