#!/bin/sh
# Install a real Bluesky PDS (npm @atproto/dev-env: PDS + in-memory PLC on
# loopback) for tests/integration/test_bluesky_pds.py.
#
#   tests/bluesky_pds_setup.sh            install into build/bluesky-pds
#   HERALD_PDS_DIR=/some/dir tests/bluesky_pds_setup.sh
#
# Idempotent: does nothing when the pinned version is already there.  The
# test looks in the same place (HERALD_PDS_DIR, default build/bluesky-pds)
# and skips itself when the package is missing.  Needs node >= 18 and npm.
set -eu
VERSION="${HERALD_PDS_VERSION:-0.6.7}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DIR="${HERALD_PDS_DIR:-$ROOT/build/bluesky-pds}"

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	echo "bluesky_pds_setup: node and npm are required" >&2
	exit 1
fi
mkdir -p "$DIR"
PKG="$DIR/node_modules/@atproto/dev-env/package.json"
if [ -f "$PKG" ] && node -e 'process.exit(require(process.argv[1]).version === process.argv[2] ? 0 : 1)' "$PKG" "$VERSION"; then
	echo "bluesky_pds_setup: @atproto/dev-env $VERSION already in $DIR"
	exit 0
fi
cd "$DIR"
[ -f package.json ] || printf '{"name":"herald-bluesky-pds","private":true}\n' >package.json
# --no-audit/--no-fund: quiet; better-sqlite3 builds from source when no
# prebuilt binary can be fetched (node headers from npm's nodedir)
npm install --no-audit --no-fund --loglevel=error "@atproto/dev-env@$VERSION"
node -e 'require("@atproto/dev-env"); console.log("bluesky_pds_setup: @atproto/dev-env", require("@atproto/dev-env/package.json").version, "ready in", process.cwd())'
