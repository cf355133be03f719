#!/bin/sh
# The official MCP TypeScript SDK (@modelcontextprotocol/sdk) from the npm
# registry, installed into build/mcp-node (never committed), for the MCP
# client test (tests/integration/mcp_sdk_client.mjs driven by test_mcp.py).
# The test skips with a reason when it is absent, so a machine without npm
# still runs the rest.
set -eu
cd "$(dirname "$0")/.."
if ! command -v npm >/dev/null 2>&1; then
	echo "mcp_sdk_setup: npm not found; the MCP SDK client test will skip" >&2
	exit 0
fi
mkdir -p build/mcp-node
[ -f build/mcp-node/package.json ] || echo '{"private":true,"type":"module"}' > build/mcp-node/package.json
if [ ! -f build/mcp-node/node_modules/@modelcontextprotocol/sdk/package.json ]; then
	npm install --prefix build/mcp-node --no-audit --no-fund --loglevel=error \
		@modelcontextprotocol/sdk@1 >&2 || echo "mcp_sdk_setup: npm install failed; the MCP SDK test will skip" >&2
fi
