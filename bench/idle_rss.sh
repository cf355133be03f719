#!/bin/sh
# Idle resident memory and time-to-ready of `herald serve` (SPEC 11: under
# 20 MB idle, ready in under 200 ms).  Prints JSON.
set -eu
cd "$(dirname "$0")/.."
T=$(mktemp -d)
trap 'kill $PID 2>/dev/null; sleep 0.2; rm -rf "$T"' EXIT
build/herald keys create --org idle --data-dir "$T" >/dev/null
START=$(date +%s%N)
build/herald serve --listen 127.0.0.1:0 --data-dir "$T" >"$T/out" 2>"$T/err" & PID=$!
while ! grep -q listening "$T/out" 2>/dev/null; do sleep 0.005; done
READY=$(( ($(date +%s%N) - START) / 1000000 ))
PORT=$(grep -o '127.0.0.1:[0-9]*' "$T/out" | head -1 | cut -d: -f2)
curl -s "http://127.0.0.1:$PORT/readyz" >/dev/null
sleep 2
RSS=$(awk '/VmRSS/ {print $2}' /proc/$PID/status)
HWM=$(awk '/VmHWM/ {print $2}' /proc/$PID/status)
echo "{\"idle_rss_kb\":$RSS,\"peak_rss_kb\":$HWM,\"ready_ms\":$READY}"
