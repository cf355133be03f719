#!/bin/sh
# API throughput against a ceiling measured in the same run: nginx serving a
# small static file on loopback.  Prints requests/s of each and the ratios.
#   bench/api_wrk.sh [SECONDS] [CONNECTIONS]
# Needs: wrk, nginx-light (scripts/deps.sh --bench), build/herald.
set -eu
cd "$(dirname "$0")/.."
DUR=${1:-10}
CONN=${2:-64}
T=$(mktemp -d)
trap 'kill $HPID $NPID 2>/dev/null; sleep 0.3; rm -rf "$T"' EXIT
mkdir -p "$T/www" "$T/ng"
printf '{"connected":true}' > "$T/www/index.json"
cat > "$T/ng/nginx.conf" <<NG
worker_processes 2;
pid $T/ng/nginx.pid;
error_log $T/ng/error.log;
daemon off;
events { worker_connections 1024; }
http {
  access_log off;
  server { listen 127.0.0.1:18481; root $T/www; location / { default_type application/json; } }
}
NG
nginx -c "$T/ng/nginx.conf" -p "$T/ng" & NPID=$!
KEY=$(build/herald keys create --org bench --data-dir "$T/data")
HERALD_ACCESS_LOG=0 build/herald serve --listen 127.0.0.1:18482 --data-dir "$T/data" >/dev/null 2>"$T/herald.err" & HPID=$!
sleep 0.5
rps() { wrk -t2 -c"$CONN" -d"${DUR}s" "$@" | awk '/Requests\/sec/ {print $2}'; }
NG=$(rps http://127.0.0.1:18481/index.json)
HZ=$(rps http://127.0.0.1:18482/healthz)
AU=$(rps -H "Authorization: $KEY" http://127.0.0.1:18482/public/v1/is-connected)
LI=$(rps -H "Authorization: $KEY" http://127.0.0.1:18482/public/v1/integrations)
RSS=$(awk '/VmRSS/ {print $2}' /proc/$HPID/status)
echo "{\"nginx_static_rps\":$NG,\"herald_healthz_rps\":$HZ,\"herald_auth_get_rps\":$AU,\"herald_integrations_rps\":$LI,\
\"ratio_healthz\":$(echo "$HZ/$NG" | bc -l | cut -c1-5),\"ratio_auth_get\":$(echo "$AU/$NG" | bc -l | cut -c1-5),\
\"ratio_integrations\":$(echo "$LI/$NG" | bc -l | cut -c1-5),\"herald_rss_kb_after\":$RSS}"
