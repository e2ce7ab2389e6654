#!/usr/bin/env bash
# tests/e2e/test_new_plugin.sh — `lhost new-plugin` from an installed prefix: the rendered callback
# and metric skeletons build out of tree against the installed SDK (CMake and make+pkg-config),
# the command refuses bad names and existing directories with the documented exit codes. A probe
# appended to each skeleton calls expf and clock_gettime: the SDK links libm, and the template's
# -std=c11 still sees POSIX clocks (its _POSIX_C_SOURCE).
# Env (set by tests/CMakeLists.txt): LHOST, LH_SOURCE_DIR, LH_BUILD_DIR.
# Run: ctest --test-dir build -R e2e_test_new_plugin --output-on-failure
set -euo pipefail
: "${LHOST:?}" "${LH_SOURCE_DIR:?}" "${LH_BUILD_DIR:?}"

tmp=$(mktemp -d /tmp/lh_new_plugin.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
fail() { echo "FAIL: $*" >&2; exit 1; }

cmake --install "$LH_BUILD_DIR" --prefix "$prefix" > "$tmp/install.log" ||
    { cat "$tmp/install.log"; fail "cmake --install"; }
lhost=$prefix/bin/lhost
[ -f "$prefix/share/lhost/template/CMakeLists.txt" ] || fail "template not installed"
pc=$(find "$prefix" -path "$prefix/lib*/pkgconfig/lhost.pc" | head -n1)
[ -n "$pc" ] || fail "lhost.pc not installed"

expect_rc() { # expect_rc RC CMD... : run CMD, check its exit status
    local want=$1 rc=0
    shift
    "$@" > "$tmp/out.log" 2>&1 || rc=$?
    [ "$rc" = "$want" ] || { cat "$tmp/out.log"; fail "'$*' exited $rc, expected $want"; }
}

for kind in callback metric; do
    name=my_$kind
    dir=$tmp/$name
    expect_rc 0 "$lhost" new-plugin "$name" --kind "$kind" --dir "$dir"
    ! grep -rq "@NAME@" "$dir" || fail "$kind: placeholder left in $dir"
    cat >> "$dir/plugin.c" <<'PROBE'

#include <math.h>
#include <time.h>
double probe_libm_and_clock(double x);
double probe_libm_and_clock(double x)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)expf((float)x) + (double)ts.tv_nsec;
}
PROBE

    cmake -S "$dir" -B "$dir/build" -DCMAKE_PREFIX_PATH="$prefix" > "$tmp/cmake.log" 2>&1 ||
        { cat "$tmp/cmake.log"; fail "$kind: configure against the installed SDK"; }
    cmake --build "$dir/build" > "$tmp/build.log" 2>&1 ||
        { cat "$tmp/build.log"; fail "$kind: build with CMake"; }
    nm -D --defined-only "$dir/build/$name.so" | grep -q " T lhost_plugin_entry$" ||
        fail "$kind: $name.so (CMake) does not export lhost_plugin_entry"

    PKG_CONFIG_PATH=$(dirname "$pc") make -s -C "$dir" CFLAGS="-O2 -Wall -Wextra -Wno-unused-parameter -Werror" \
        > "$tmp/make.log" 2>&1 || { cat "$tmp/make.log"; fail "$kind: build with make + pkg-config"; }
    nm -D --defined-only "$dir/$name.so" | grep -q " T lhost_plugin_entry$" ||
        fail "$kind: $name.so (make) does not export lhost_plugin_entry"
done

# The default directory is ./NAME; an existing directory is refused and left alone.
(cd "$tmp" && expect_rc 0 "$lhost" new-plugin plain)
[ -f "$tmp/plain/plugin.c" ] || fail "default directory ./plain not created"
echo keep > "$tmp/plain/mine.txt"
(cd "$tmp" && expect_rc 1 "$lhost" new-plugin plain)
grep -q "already exists; refusing to overwrite it" "$tmp/out.log" || fail "no refusal message"
[ "$(cat "$tmp/plain/mine.txt")" = keep ] || fail "existing directory was modified"

# Usage errors exit 2.
expect_rc 2 "$lhost" new-plugin Bad-Name --dir "$tmp/bad"
grep -q "plugin name 'Bad-Name': expected \[a-z\]\[a-z0-9_\]\*" "$tmp/out.log" || fail "bad name message"
expect_rc 2 "$lhost" new-plugin ok --kind logger --dir "$tmp/bad"
expect_rc 2 "$lhost" new-plugin
[ ! -e "$tmp/bad" ] || fail "a refused command created a directory"

echo "PASS: lhost new-plugin skeletons build against the installed SDK"
