# herald: top-level build.
#
#   make run        install packages, build, run herald serve on ./data
#   make check      install packages, build, run every test (what CI runs)
#   make            build/herald (optimised)
#   make test       unit + integration tests on an ASan/UBSan build
#   make deps       install the Debian packages (as root; skips what is there)
#   make fuzz       build the libFuzzer targets (clang)
#   make bench      run the benchmarks in bench/
#   make man        build/herald.1 (the manual page, from the command table)

CC      ?= cc
PKGS    := libevent libevent_pthreads jansson sqlite3 libsodium libcurl libsecp256k1 libwebsockets libutf8proc libmagic
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wno-unused-parameter -Wshadow \
           -Wno-missing-field-initializers -Isrc $(shell pkg-config --cflags $(PKGS) vips)
# libvips is dlopen'ed at first use (src/media/media.c): headers only here
LDLIBS  += $(shell pkg-config --libs $(PKGS)) -lpq -lpthread -lm -ldl

SRC     := $(sort $(wildcard src/core/*.c src/http/*.c src/store/*.c src/api/*.c \
             src/providers/*.c src/engine/*.c src/preflight/*.c src/mcp/*.c src/media/*.c src/cli/*.c))
LIBSRC  := $(filter-out src/cli/%,$(SRC))
HDR     := $(wildcard src/*/*.h)

SAN     := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

.PHONY: all run check test unit integration integration-pg deps clean fuzz bench man

all: build/herald

build/herald: $(SRC) $(HDR) Makefile
	@mkdir -p build
	$(CC) $(CFLAGS) -o $@ $(SRC) $(LDLIBS)

build/asan/herald: $(SRC) $(HDR) Makefile
	@mkdir -p build/asan
	$(CC) $(CFLAGS) -O1 $(SAN) -o $@ $(SRC) $(LDLIBS)

# the manual page is generated from the command table in src/cli/main.c
man: build/herald.1

build/herald.1: build/herald
	build/herald man > $@

UNIT := $(patsubst tests/unit/%.c,build/asan/%,$(wildcard tests/unit/test_*.c))

build/asan/test_%: tests/unit/test_%.c $(LIBSRC) $(HDR) Makefile
	@mkdir -p build/asan
	$(CC) $(CFLAGS) -O1 $(SAN) -o $@ $< $(LIBSRC) $(LDLIBS) $(shell pkg-config --libs cmocka)

# unit tests run against SQLite and, through a throwaway local cluster,
# PostgreSQL (tests/pg.sh sets HERALD_TEST_PG_URL)
unit: $(UNIT)
	tests/pg.sh run sh -c 'set -e; for t in $(UNIT); do echo "== $$t"; $$t; done'

integration: build/asan/herald
	tests/node_setup.sh
	tests/mcp_sdk_setup.sh
	tests/nostr_setup.sh || true
	tests/bluesky_pds_setup.sh || echo "bluesky PDS not installed: its end-to-end test will skip" >&2
	HERALD_BIN=build/asan/herald python3 tests/integration/run.py

# the API, tenancy and engine suites again with PostgreSQL as the store
# (a throwaway local cluster from tests/pg.sh)
integration-pg: build/asan/herald
	tests/pg.sh run sh -c 'HERALD_DATABASE_URL=$$HERALD_TEST_PG_URL HERALD_BIN=build/asan/herald \
		python3 tests/integration/run.py test_postiz_api test_tenancy test_engine.EngineTest test_native_posts test_idempotency test_unpublish test_media test_analytics test_feeds'

# a short fuzzing pass of every target (longer: fuzz/run.sh SECONDS)
fuzz:
	fuzz/run.sh $(or $(FUZZ_SECONDS),10)

test: build/herald unit integration integration-pg fuzz

deps:
	@scripts/deps.sh

run: deps
	$(MAKE) build/herald
	build/herald serve

check: deps
	$(MAKE) test

clean:
	rm -rf build
