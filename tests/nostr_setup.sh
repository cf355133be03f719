#!/bin/sh
# Install nostr-tools from the npm registry into tests/node_modules/ (gitignored).
# The Nostr tests use it as an independent implementation of NIP-01 (event
# id, BIP-340 signature) and NIP-19 (npub, nsec, nevent) to check what herald
# sends.  Idempotent: does nothing when the pinned version is there.
#
#   tests/nostr_setup.sh          install (needs node and npm)
#   tests/nostr_setup.sh --check  exit 0 when installed, 1 otherwise
set -eu
VERSION=2.25.2
cd "$(dirname "$0")"
installed() {
	[ -f node_modules/nostr-tools/package.json ] &&
		grep -q "\"version\": \"$VERSION\"" node_modules/nostr-tools/package.json
}
if installed; then
	exit 0
fi
[ "${1:-}" = "--check" ] && exit 1
for tool in node npm; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "nostr_setup: $tool is not installed (Debian: apt-get install nodejs npm)" >&2
		exit 1
	fi
done
echo "nostr_setup: installing nostr-tools@$VERSION into $(pwd)/node_modules" >&2
npm install --no-save --no-package-lock --no-audit --no-fund --loglevel=error \
	--prefix . "nostr-tools@$VERSION" >&2
installed
