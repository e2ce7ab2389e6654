#!/usr/bin/env bash
# tests/e2e/test_plugins_cli.sh — the lhost binary: --version, --help, `plugins` exit codes, the
# table over a private copy of some fixture plugins (one crashing), --json and --verbose.
# Run: ctest --test-dir build -R e2e_test_plugins_cli --output-on-failure
# Needs LHOST (the binary) and LH_BUILD_DIR (set by tests/CMakeLists.txt).
set -u
fail() { echo "FAIL: $*" >&2; exit 1; }
: "${LHOST:?}" "${LH_BUILD_DIR:?}"
FIX="$LH_BUILD_DIR/tests/plugins"
D=$(mktemp -d) || fail "mktemp"
trap 'rm -rf "$D"' EXIT
chmod 700 "$D"
for c in good two segv; do install -m 755 "$FIX/$c/$c.so" "$D/" || fail "copy $c"; done

"$LHOST" --version | grep -q '^lhost [0-9.]* (plugin ABI 1\.1\.0)$' || fail "--version"
"$LHOST" --help | grep -q '^  plugins ' || fail "--help lists plugins"
"$LHOST" >/dev/null 2>&1; [ $? -eq 2 ] || fail "no command: exit 2"
"$LHOST" frobnicate >/dev/null 2>&1; [ $? -eq 2 ] || fail "unknown command: exit 2"
"$LHOST" plugins --help | grep -q '^usage: lhost plugins' || fail "plugins --help"
"$LHOST" plugins --bogus >/dev/null 2>&1; [ $? -eq 2 ] || fail "plugins --bogus: exit 2"
"$LHOST" plugins --plugin-dir /nonexistent >/dev/null 2>&1; [ $? -eq 1 ] || fail "missing dir: exit 1"

out=$("$LHOST" plugins --plugin-dir "$D") || fail "plugins exit code"
grep -q "^org.lhost.test.good .* ok$" <<<"$out" || fail "good row: $out"
grep -q "^org.lhost.test.two_metric .*metric .* ok$" <<<"$out" || fail "metric row: $out"
grep -q "^segv.so .* broken: entry crashed: SIGSEGV$" <<<"$out" || fail "segv row: $out"

"$LHOST" plugins --plugin-dir "$D" --json | python3 -c '
import json, sys
rows = [r for r in json.load(sys.stdin) if r["path"].startswith(sys.argv[1] + "/")]
assert [r["status"] for r in rows] == ["ok", "broken", "ok", "ok"], rows
' "$D" || fail "--json"

v=$("$LHOST" plugins --plugin-dir "$D" --verbose two_metric) || fail "--verbose exit code"
grep -q "^  total             i64\[1\], reduce sum, init 0$" <<<"$v" || fail "--verbose state: $v"
"$LHOST" plugins --plugin-dir "$D" --verbose nope >/dev/null 2>&1; [ $? -eq 1 ] || fail "--verbose nope: exit 1"

chmod 777 "$D"
"$LHOST" plugins --plugin-dir "$D" | grep -q "broken: directory is writable by group or others (mode 0777)" \
  || fail "insecure directory not refused"
"$LHOST" plugins --plugin-dir "$D" --allow-insecure-plugins | grep -q "org.lhost.test.good .* ok$" \
  || fail "--allow-insecure-plugins"
chmod 700 "$D"
echo "ok"
