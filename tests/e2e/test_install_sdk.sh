#!/usr/bin/env bash
# tests/e2e/test_install_sdk.sh — `cmake --install` into a temporary prefix gives a working SDK:
# the installed tree has lhost, the headers, the CMake package and lhost.pc, and
# examples/hello_callback builds out of tree against it both ways (find_package and pkg-config),
# each result exporting lhost_plugin_entry and nothing else.
# Env (set by tests/CMakeLists.txt): LHOST, LH_SOURCE_DIR, LH_BUILD_DIR.
# Run: ctest --test-dir build -R e2e_test_install_sdk --output-on-failure
set -euo pipefail
: "${LHOST:?}" "${LH_SOURCE_DIR:?}" "${LH_BUILD_DIR:?}"

tmp=$(mktemp -d /tmp/lh_install_sdk.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
fail() { echo "FAIL: $*" >&2; exit 1; }

cmake --install "$LH_BUILD_DIR" --prefix "$prefix" > "$tmp/install.log" ||
    { cat "$tmp/install.log"; fail "cmake --install"; }

# The installed tree.
[ -x "$prefix/bin/lhost" ] || fail "bin/lhost not installed"
"$prefix/bin/lhost" --version > /dev/null || fail "installed lhost does not run"
for h in "$LH_SOURCE_DIR"/sdk/include/lhost/*.h; do
    [ -f "$prefix/include/lhost/$(basename "$h")" ] || fail "include/lhost/$(basename "$h") not installed"
done
config=$(find "$prefix" -path "$prefix/lib*/cmake/lhost/lhostConfig.cmake" | head -n1)
[ -n "$config" ] || fail "lib*/cmake/lhost/lhostConfig.cmake not installed"
pc=$(find "$prefix" -path "$prefix/lib*/pkgconfig/lhost.pc" | head -n1)
[ -n "$pc" ] || fail "lhost.pc not installed"
grep -q "lhost_plugin_entry\|LHOST_EXPORT" "$prefix/include/lhost/plugin.h" || fail "plugin.h content"

# pkg-config resolves to the prefix given at install time, not the configured one.
export PKG_CONFIG_PATH
PKG_CONFIG_PATH=$(dirname "$pc")
cflags=$(pkg-config --cflags lhost)
incdir=$(pkg-config --variable=includedir lhost)
[ "$(cd "$incdir" && pwd -P)" = "$(cd "$prefix/include" && pwd -P)" ] ||
    fail "pkg-config includedir '$incdir' is not $prefix/include"
[ "$(pkg-config --variable=abi_version lhost)" = "1.1.0" ] || fail "pkg-config abi_version"

# Exactly one dynamic symbol defined by the plugin: the entry.
check_exports() {
    local so=$1 defined
    [ -f "$so" ] || fail "$so not built"
    defined=$(nm -D --defined-only "$so" | awk '$2 ~ /^[TDBR]$/ {print $3}')
    [ "$defined" = "lhost_plugin_entry" ] ||
        fail "$so exports '$(echo $defined)', expected only lhost_plugin_entry"
}

# 1. CMake: find_package(lhost) + lhost_add_plugin, source tree untouched.
src=$tmp/hello_callback
cp -r "$LH_SOURCE_DIR/examples/hello_callback" "$src"
cmake -S "$src" -B "$tmp/build_cmake" -DCMAKE_PREFIX_PATH="$prefix" > "$tmp/cmake.log" 2>&1 ||
    { cat "$tmp/cmake.log"; fail "configure hello_callback with find_package(lhost)"; }
cmake --build "$tmp/build_cmake" > "$tmp/build.log" 2>&1 ||
    { cat "$tmp/build.log"; fail "build hello_callback with CMake"; }
check_exports "$tmp/build_cmake/hello_callback.so"

# The package must not point back into the lhost source or build tree.
if grep -rq -e "$LH_SOURCE_DIR" -e "$LH_BUILD_DIR" "$(dirname "$config")" "$pc"; then
    fail "installed package files mention the source or build tree"
fi

# 2. pkg-config, by hand and through the example's Makefile.
mkdir -p "$tmp/build_pc"
cc -std=c11 -Wall -Wextra -Wno-unused-parameter -Werror $cflags -fPIC -fvisibility=hidden -shared \
    -Wl,--no-undefined -o "$tmp/build_pc/hello_callback.so" "$src/hello_callback.c" ||
    fail "build hello_callback with pkg-config --cflags lhost"
check_exports "$tmp/build_pc/hello_callback.so"
make -s -C "$src" > "$tmp/make.log" 2>&1 || { cat "$tmp/make.log"; fail "make in hello_callback"; }
check_exports "$src/hello_callback.so"

echo "PASS: installed SDK builds hello_callback with find_package and pkg-config"
