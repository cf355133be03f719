#!/bin/sh
# Front-end test tools from the npm registry, installed into build/node
# (never committed): @redocly/cli (OpenAPI lint) and postiz (the official
# Postiz CLI, driven against herald).  Tests that need them skip with a
# reason when they are absent, so a machine without npm still runs the rest.
set -eu
cd "$(dirname "$0")/.."
if ! command -v npm >/dev/null 2>&1; then
	echo "node_setup: npm not found; the OpenAPI lint and postiz CLI tests will skip" >&2
	exit 0
fi
mkdir -p build/node
[ -f build/node/package.json ] || echo '{"private":true}' > build/node/package.json
if [ ! -x build/node/node_modules/.bin/redocly ] || [ ! -x build/node/node_modules/.bin/postiz ]; then
	npm install --prefix build/node --no-audit --no-fund --loglevel=error \
		@redocly/cli@2 postiz@2.1.0 >&2 || echo "node_setup: npm install failed; dependent tests will skip" >&2
fi
