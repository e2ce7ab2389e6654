#!/usr/bin/env bash
# tests/fuzz/run.sh — run every libFuzzer target of a -DLHOST_FUZZ=ON build, one after another.
#   tests/fuzz/run.sh BUILD_DIR [-max_total_time=60 | -runs=10000000 ...] [-- TARGET...]
# Each target starts from its committed corpus (read only) plus BUILD_DIR/tests/fuzz_work/TARGET
# (where libFuzzer keeps what it finds new), with its dictionary, a 1 s timeout and a 2 GB memory
# limit. A finding is written to BUILD_DIR/tests/fuzz_work/TARGET-crash-* (or -timeout-, -oom-,
# -leak-) and makes the script exit 1 after the other targets ran. Prints one line per target:
#   fuzz TARGET: N executions in S s (E exec/s), 0 findings
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="$1"; shift
opts=(); targets=()
while [ $# -gt 0 ]; do
  if [ "$1" = -- ]; then shift; targets=("$@"); break; fi
  opts+=("$1"); shift
done
[ ${#opts[@]} -gt 0 ] || opts=(-max_total_time=60)
[ ${#targets[@]} -gt 0 ] || targets=(bare_parse idx ckpt config params ckpt_name plugin_desc)
export LHOST_DATA_CACHE=0
# No allocation stacks kept: ASan finds the same errors without them, at a quarter less time
# per input for the allocation-heavy parsers (config, ckpt). A finding replayed directly
# (build-fuzz/tests/fuzz_TARGET FILE) prints them in full. The caller's options come after.
export ASAN_OPTIONS="malloc_context_size=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
status=0
for t in "${targets[@]}"; do
  exe="$build/tests/fuzz_$t"
  work="$build/tests/fuzz_work/$t"
  log="$build/tests/fuzz_work/$t.log"
  mkdir -p "$work"
  dict=(); [ -f "$here/$t.dict" ] && dict=(-dict="$here/$t.dict")
  # A YAML config past 2 KiB reaches no limit that a shorter one cannot (depth 64, 64 override
  # parts), only costs time; the other targets keep libFuzzer's default (4 KiB, or the largest
  # seed). A -max_len given to the script comes later and wins.
  len=(); [ "$t" = config ] && len=(-max_len=2048)
  start=$(date +%s)
  # The limits come before the caller's options, so that a caller can raise them (libFuzzer
  # takes a flag's last value): -timeout is wall-clock time, and a loaded machine may need more.
  "$exe" "${len[@]}" -timeout=1 -rss_limit_mb=2048 -malloc_limit_mb=2048 "${opts[@]}" \
    "${dict[@]}" -print_final_stats=1 -artifact_prefix="$build/tests/fuzz_work/$t-" \
    "$work" "$here/corpus_$t" >"$log" 2>&1
  rc=$?
  secs=$(( $(date +%s) - start ))
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  if [ $rc -eq 0 ]; then
    echo "fuzz $t: ${runs:-?} executions in $secs s (${rate:-?} exec/s), 0 findings"
  else
    echo "fuzz $t: FAILED (rc $rc) after ${runs:-?} executions in $secs s; log: $log"
    grep -E 'ERROR|invariant|SUMMARY' "$log" | head -5
    status=1
  fi
done
exit $status
