#!/bin/sh
# Durable writes: POST /v1/posts (one target, scheduled a year ahead, so the
# engine does not publish during the run) against an authenticated GET
# measured in the same run on the same server.  Prints requests/s of each,
# the ratio, and how many posts were stored (every 202 must be a row).
#   bench/posts_wrk.sh [SECONDS] [CONNECTIONS] [DATABASE_URL]
# Needs: wrk (scripts/deps.sh --bench), build/herald.  Without DATABASE_URL
# the store is SQLite in a temp dir.
set -eu
cd "$(dirname "$0")/.."
DUR=${1:-10}
CONN=${2:-32}
DB=${3:-}
T=$(mktemp -d)
trap 'kill $HPID 2>/dev/null; sleep 0.3; rm -rf "$T"' EXIT
export HERALD_RATE_LIMIT=100000000 HERALD_ACCESS_LOG=0
[ -n "$DB" ] && export HERALD_DATABASE_URL="$DB"
KEY=$(build/herald keys create --org "bench$$" --data-dir "$T/data" 2>/dev/null)
build/herald serve --listen 127.0.0.1:18483 --data-dir "$T/data" >/dev/null 2>"$T/herald.err" & HPID=$!
sleep 0.7
CH=$(curl -sf -H "Authorization: Bearer $KEY" -d '{"provider":"webhook","name":"bench","credentials":{"url":"http://127.0.0.1:9/x"}}' \
	http://127.0.0.1:18483/v1/accounts | sed 's/.*"id":"\([^"]*\)".*/\1/')
AT=$(date -u -d '+365 days' +%Y-%m-%dT10:00:00Z)
cat > "$T/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $KEY"
wrk.body = '{"text":"benchmark post with some words in it","scheduledAt":"$AT","targets":[{"accountId":"$CH"}]}'
response = function(status) if status ~= 202 then io.stderr:write("status " .. status .. "\n") end end
LUA
rps() { wrk -t2 -c"$CONN" -d"${DUR}s" "$@" | awk '/Requests\/sec/ {print $2}'; }
GET=$(rps -H "Authorization: $KEY" http://127.0.0.1:18483/v1/accounts)
POST=$(rps -s "$T/post.lua" http://127.0.0.1:18483/v1/posts 2>"$T/wrk.err")
BAD=$(grep -c status "$T/wrk.err" || true)
echo "{\"auth_get_rps\":$GET,\"create_post_rps\":$POST,\"ratio_create_to_get\":$(echo "$POST/$GET" | bc -l | cut -c1-5),\"non_202\":$BAD}"
