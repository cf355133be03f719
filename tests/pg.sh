#!/usr/bin/env bash
#
# pg.sh: a throwaway PostgreSQL 15 cluster for tests.
#
#   source tests/pg.sh; pg_start    # exports HERALD_TEST_PG_URL, prints it
#   ...                             # run tests
#   pg_stop                         # stops the cluster, removes its files
#
#   tests/pg.sh run CMD [ARGS...]   # start, run CMD with the URL, stop;
#                                   # exits with CMD's status (for make)
#
# The cluster lives entirely in a mktemp directory: its own data dir, its
# own unix socket dir, a free TCP port on 127.0.0.1, trust auth for
# 127.0.0.1 only.  It never uses pg_ctlcluster or /var/lib/postgresql, so
# a system cluster is never touched.  fsync is off: the data is disposable.
#
# PostgreSQL refuses to run as root, so as root the server runs as the
# `postgres` user the Debian package creates (or a `herald-pgtest` system
# user made on first use when there is none).  pg_start is idempotent (a
# running cluster of this shell is reused) and pg_stop is safe to repeat.

HERALD_PG_BIN=${HERALD_PG_BIN:-/usr/lib/postgresql/15/bin}

# Run a server-side command as the cluster owner.
_pg_as_owner() {
	if [ "$(id -u)" -ne 0 ]; then
		"$@"
		return
	fi
	# from a directory the owner can read, or initdb/pg_ctl warn about cwd
	(cd "$HERALD_TEST_PG_DIR" && runuser -u "$_HERALD_PG_USER" -- "$@")
}

_pg_pick_user() {
	_HERALD_PG_USER=$(id -un)
	[ "$(id -u)" -ne 0 ] && return 0
	if id postgres >/dev/null 2>&1; then
		_HERALD_PG_USER=postgres
	elif id herald-pgtest >/dev/null 2>&1; then
		_HERALD_PG_USER=herald-pgtest
	else
		useradd --system --no-create-home --shell /usr/sbin/nologin herald-pgtest ||
			return 1
		_HERALD_PG_USER=herald-pgtest
	fi
}

# A port nobody listens on now.  Another process can still take it before
# the server binds; pg_start then tries another.
_pg_free_port() {
	local port i
	for i in $(seq 1 50); do
		port=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			echo "$port"
			return 0
		fi
	done
	return 1
}

_pg_running() {
	[ -n "${HERALD_TEST_PG_DIR:-}" ] && [ -f "$HERALD_TEST_PG_DIR/data/postmaster.pid" ] &&
		_pg_as_owner "$HERALD_PG_BIN/pg_ctl" -D "$HERALD_TEST_PG_DIR/data" status >/dev/null 2>&1
}

pg_start() {
	if [ ! -x "$HERALD_PG_BIN/initdb" ]; then
		echo "pg.sh: $HERALD_PG_BIN/initdb not found (apt-get install postgresql)" >&2
		return 1
	fi
	_pg_pick_user || return 1
	if _pg_running && [ -n "${HERALD_TEST_PG_URL:-}" ]; then
		echo "$HERALD_TEST_PG_URL"
		return 0
	fi
	pg_stop # a dead cluster of this shell: clean it up first
	HERALD_TEST_PG_DIR=$(mktemp -d /tmp/herald-pg.XXXXXX) || return 1
	export HERALD_TEST_PG_DIR
	chown "$_HERALD_PG_USER" "$HERALD_TEST_PG_DIR" || { pg_stop; return 1; }
	# C collation: ORDER BY on text matches SQLite's byte order
	if ! _pg_as_owner "$HERALD_PG_BIN/initdb" -D "$HERALD_TEST_PG_DIR/data" -U herald \
		-A reject -E UTF8 --no-locale --no-sync >"$HERALD_TEST_PG_DIR/initdb.log" 2>&1; then
		echo "pg.sh: initdb failed:" >&2
		cat "$HERALD_TEST_PG_DIR/initdb.log" >&2
		pg_stop
		return 1
	fi
	# -A reject above, then exactly one way in
	printf 'host all all 127.0.0.1/32 trust\n' >"$HERALD_TEST_PG_DIR/data/pg_hba.conf"
	local port attempt
	for attempt in 1 2 3 4 5; do
		port=$(_pg_free_port) || break
		{
			echo "port = $port"
			echo "listen_addresses = '127.0.0.1'"
			echo "unix_socket_directories = '$HERALD_TEST_PG_DIR'"
			echo "fsync = off"
			echo "synchronous_commit = off"
			echo "full_page_writes = off"
			echo "max_connections = 100"
		} >"$HERALD_TEST_PG_DIR/data/postgresql.auto.conf"
		if _pg_as_owner "$HERALD_PG_BIN/pg_ctl" -D "$HERALD_TEST_PG_DIR/data" -w -t 30 \
			-l "$HERALD_TEST_PG_DIR/server.log" start >/dev/null 2>&1; then
			HERALD_TEST_PG_URL="postgres://herald@127.0.0.1:$port/herald"
			export HERALD_TEST_PG_URL
			if ! "$HERALD_PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 \
				"postgres://herald@127.0.0.1:$port/postgres" \
				-c "CREATE DATABASE herald" >/dev/null; then
				echo "pg.sh: cannot create database herald" >&2
				pg_stop
				return 1
			fi
			echo "$HERALD_TEST_PG_URL"
			return 0
		fi
		# most likely the port was taken meanwhile: try another
	done
	echo "pg.sh: cannot start postgres; server log:" >&2
	cat "$HERALD_TEST_PG_DIR/server.log" >&2 2>/dev/null
	pg_stop
	return 1
}

pg_stop() {
	if [ -n "${HERALD_TEST_PG_DIR:-}" ] && [ -d "$HERALD_TEST_PG_DIR" ]; then
		if [ -f "$HERALD_TEST_PG_DIR/data/postmaster.pid" ]; then
			_pg_pick_user &&
				_pg_as_owner "$HERALD_PG_BIN/pg_ctl" -D "$HERALD_TEST_PG_DIR/data" \
					-m immediate -w stop >/dev/null 2>&1
		fi
		case "$HERALD_TEST_PG_DIR" in
		/tmp/herald-pg.*) rm -rf "$HERALD_TEST_PG_DIR" ;;
		esac
	fi
	unset HERALD_TEST_PG_DIR HERALD_TEST_PG_URL
	return 0
}

# Executed rather than sourced.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	case "${1:-}" in
	run)
		shift
		[ $# -gt 0 ] || { echo "usage: $0 run CMD [ARGS...]" >&2; exit 2; }
		trap pg_stop EXIT
		trap 'exit 130' INT TERM
		pg_start >/dev/null || exit 1
		"$@"
		exit $?
		;;
	*)
		echo "usage: source $0; pg_start; ...; pg_stop" >&2
		echo "       $0 run CMD [ARGS...]" >&2
		exit 2
		;;
	esac
fi
