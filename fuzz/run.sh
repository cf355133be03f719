#!/bin/sh
# Run every libFuzzer target for SECONDS each (default 10) and fail if any
# of them finds a crash, leak, timeout or sanitizer report.
#
#   fuzz/run.sh [SECONDS]
#
# Seeds come from fuzz/corpus/<target>/ (kept small, in git); what the
# fuzzer discovers goes to build/fuzz/corpus/<target>/, crash reproducers to
# build/fuzz/artifacts/<target>/, full logs to build/fuzz/logs/<target>.log.
# A dictionary fuzz/<target>.dict is used when present.  FUZZ_NO_BUILD=1
# skips the build step; extra libFuzzer flags go in FUZZ_FLAGS.
set -eu
cd "$(dirname "$0")/.."

SECONDS_EACH=${1:-10}
OUT=build/fuzz

[ "${FUZZ_NO_BUILD:-0}" = 1 ] || fuzz/build.sh

failed=""
for t in fuzz/fuzz_*.c; do
	name=$(basename "$t" .c)
	bin="$OUT/$name"
	seeds="fuzz/corpus/$name"
	work="$OUT/corpus/$name"
	art="$OUT/artifacts/$name"
	log="$OUT/logs/$name.log"
	mkdir -p "$seeds" "$work" "$art" "$OUT/logs"
	dict=""
	[ -f "fuzz/$name.dict" ] && dict="-dict=fuzz/$name.dict"
	echo "== $name (${SECONDS_EACH}s)"
	set +e
	# shellcheck disable=SC2086
	"$bin" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$art/" $dict ${FUZZ_FLAGS:-} \
		"$work" "$seeds" >"$log" 2>&1
	rc=$?
	set -e
	grep -E '^stat::number_of_executed_units|^Done [0-9]+ runs' "$log" | tail -n 2 || true
	if [ "$rc" -ne 0 ]; then
		echo "!! $name failed (exit $rc); log: $log" >&2
		grep -E 'ERROR|runtime error|SUMMARY|Test unit written|^fuzz_' "$log" | head -n 20 >&2 || true
		failed="$failed $name"
	fi
done

if [ -n "$failed" ]; then
	echo "fuzz: failures in:$failed" >&2
	exit 1
fi
echo "fuzz: all targets ran clean"
