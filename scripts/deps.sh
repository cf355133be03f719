#!/bin/sh
# Install the Debian 12 packages herald needs to build, run and test.
# Idempotent: packages already installed are not fetched again, and
# apt-get update runs only when something is missing.
set -eu
PKGS="build-essential clang pkg-config libevent-dev libjansson-dev libsqlite3-dev \
libsodium-dev libcurl4-openssl-dev libpq-dev libcmocka-dev libsecp256k1-dev libwebsockets-dev \
libutf8proc-dev libmagic-dev libvips-dev libvips-tools postgresql python3 curl"
[ "${1:-}" = "--bench" ] && PKGS="$PKGS wrk hyperfine nginx-light"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
	echo "herald: missing Debian packages:$missing" >&2
	echo "herald: run as root (or: sudo $0) to install them" >&2
	exit 1
fi
echo "herald: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends $missing
