#!/bin/sh
# Build the libFuzzer targets fuzz/fuzz_*.c into build/fuzz/.
#
# The library sources (everything under src/ but the CLI, as the unit tests
# link them) are compiled once with -fsanitize=fuzzer-no-link into
# build/fuzz/libherald.a; each target links that archive.  Compile flags
# and libraries are those of the top-level Makefile (its PKGS, -lpq); sanitizers are
# address + undefined with UBSan fatal, so UB is a crash the fuzzer keeps.
#
#   fuzz/build.sh            build (incremental)
#   FUZZ_CC=clang-18 fuzz/build.sh
set -eu
cd "$(dirname "$0")/.."

CC=${FUZZ_CC:-clang}
OUT=build/fuzz
# the package list is the Makefile's (PKGS), so both builds link alike
PKGS=$(make -s --no-print-directory --eval '__fuzz_pkgs: ; @echo $(PKGS)' __fuzz_pkgs 2>/dev/null ||
	echo "libevent libevent_pthreads jansson sqlite3 libsodium libcurl")

command -v "$CC" >/dev/null 2>&1 || { echo "fuzz/build.sh: $CC not found (set FUZZ_CC)" >&2; exit 1; }

CFLAGS="-g -O1 -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wno-unused-parameter -Wshadow \
 -Wno-missing-field-initializers -Isrc $(pkg-config --cflags $PKGS vips) \
 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined"
LDLIBS="$(pkg-config --libs $PKGS) -lpq -lpthread -lm -ldl"

mkdir -p "$OUT/obj"

# newest header: any header change rebuilds every object
newest_hdr=$(ls -t src/*/*.h | head -n 1)

objs=""
for src in $(ls src/core/*.c src/http/*.c src/store/*.c src/api/*.c src/providers/*.c \
		src/engine/*.c src/preflight/*.c src/mcp/*.c src/media/*.c 2>/dev/null | sort); do
	obj="$OUT/obj/$(echo "$src" | sed 's|^src/||; s|/|_|g; s|\.c$|.o|')"
	if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] || [ "$newest_hdr" -nt "$obj" ] ||
	   [ fuzz/build.sh -nt "$obj" ] || [ Makefile -nt "$obj" ]; then
		echo "CC $src"
		$CC $CFLAGS -fsanitize=fuzzer-no-link -c -o "$obj" "$src"
	fi
	objs="$objs $obj"
done

lib="$OUT/libherald.a"
rm -f "$lib"
ar rcs "$lib" $objs

for t in fuzz/fuzz_*.c; do
	name=$(basename "$t" .c)
	echo "LD $OUT/$name"
	$CC $CFLAGS -fsanitize=fuzzer -o "$OUT/$name" "$t" "$lib" $LDLIBS
done
