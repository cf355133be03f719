#!/bin/sh
# SPEC 11 "Bulk": a 100,000-row content calendar validated and scheduled in
# under 30 s.  Generates a CSV (RFC 4180 quoting, BOM, two channels by name,
# dates spread over a year ahead), starts `herald serve` on a throw-away data
# dir (access log off, per-key rate limit raised: bulk imports need
# HERALD_RATE_LIMIT above the row count per minute), then times with
# /usr/bin/time -v:
#   1. herald import --dry-run   (local checks + POST /v1/posts/validate per row)
#   2. herald import             (POST /v1/posts per row, Idempotency-Key per row)
#   3. herald import again       (every row replayed, nothing scheduled twice)
# Prints one JSON object; exits 1 when a run failed or a post is missing.
#   bench/import_csv.sh [ROWS] [PARALLEL]      (defaults 100000, 32)
# Needs build/herald (make build/herald).
set -eu
cd "$(dirname "$0")/.."
ROWS=${1:-100000}
PAR=${2:-32}
BIN=${HERALD_BENCH_BIN:-build/herald}
PORT=${HERALD_BENCH_PORT:-18491}
T=$(mktemp -d)
trap 'kill $HPID 2>/dev/null; sleep 0.3; rm -rf "$T"' EXIT
KEY=$($BIN keys create --org bench --data-dir "$T/data" 2>/dev/null)
$BIN channels add --org bench --data-dir "$T/data" --provider webhook --name "Blog Hook" \
	--credentials '{"url":"http://127.0.0.1:9/a"}' >/dev/null 2>&1
$BIN channels add --org bench --data-dir "$T/data" --provider webhook --name "News" \
	--credentials '{"url":"http://127.0.0.1:9/b"}' >/dev/null 2>&1
HERALD_ACCESS_LOG=0 HERALD_LOG_LEVEL=warn HERALD_RATE_LIMIT=100000000 \
	$BIN serve --listen 127.0.0.1:$PORT --data-dir "$T/data" >/dev/null 2>"$T/herald.err" & HPID=$!

python3 - "$T/cal.csv" "$ROWS" <<'PY'
import sys, datetime as dt
path, n = sys.argv[1], int(sys.argv[2])
start = dt.datetime.utcnow().replace(microsecond=0, second=0) + dt.timedelta(days=2)
with open(path, "w", encoding="utf-8", newline="") as f:
    f.write("\ufeffdate,channel,content,tags\r\n")
    for i in range(n):
        d = start + dt.timedelta(minutes=5 * i)
        ch = "Blog Hook" if i % 2 else "news"
        text = 'Post %d of the calendar, with "quotes", commas and a second\nline ✓' % i
        f.write('%s,%s,"%s",w%d|bulk\r\n' % (d.strftime("%Y-%m-%d %H:%M"), ch,
                                             text.replace('"', '""'), i % 52))
PY
sleep 0.5
export HERALD_URL=http://127.0.0.1:$PORT HERALD_API_KEY=$KEY
run() { # label args...
	label=$1; shift
	/usr/bin/time -v -o "$T/$label.time" $BIN import "$T/cal.csv" --parallel "$PAR" --json "$@" \
		>"$T/$label.json" 2>"$T/$label.err" || { echo "$label failed:" >&2; head -c 2000 "$T/$label.json" "$T/$label.err" >&2; touch "$T/failed"; }
	wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$T/$label.time")
	rss=$(awk -F': ' '/Maximum resident/ {print $2}' "$T/$label.time")
	cpu=$(awk -F': ' '/User time/ {u=$2} /System time/ {s=$2} END {print u+s}' "$T/$label.time")
	echo "\"$label\":{\"wall_s\":$wall,\"client_cpu_s\":$cpu,\"client_max_rss_kb\":$rss,\"result\":$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); d.pop("errors",None); print(json.dumps(d))' "$T/$label.json")}"
}
D=$(run dry_run --dry-run)
I=$(run import)
R=$(run rerun)
STORED=$(sqlite3 "$T/data/herald.db" "select count(*) from posts" 2>/dev/null || echo null)
[ "$STORED" = "$ROWS" ] || touch "$T/failed"
echo "{\"rows\":$ROWS,\"parallel\":$PAR,$D,$I,$R,\"posts_in_db\":$STORED,\"herald_vm_hwm_kb\":$(awk '/VmHWM/ {print $2}' /proc/$HPID/status),\"load\":\"$(cut -d' ' -f1-3 /proc/loadavg)\"}"
[ ! -e "$T/failed" ]
