#!/usr/bin/env bash
# bench/gpu/run.sh — everything a short GPU slot is for, in one go, on a CUDA machine (H100/H200):
#   1. configure + build (Release, sm_90) into build-gpu/
#   2. the CUDA parity test (every op vs the CPU backend, worst element per op), the device
#      selection test, and the precision test (bf16-mixed, TF32, the fused conv block)
#   3. lhost: 3 epochs of examples/seed.yaml on the GPU (train-epoch times, val_acc), then the
#      best checkpoint validated on the GPU and on the CPU (device-independent checkpoints)
#   4. bench_step on the GPU: a step's time per op, with the trainer's one wait per step, and
#      with all steps queued (what the wait costs)
#   5. the precisions: one short tutorial epoch (300 batches) on the GPU in 32, with
#      float32_matmul_precision high (TF32) and in bf16-mixed, seconds per setting
#   6. the Lightning peer (plain PyTorch, PyTorch with resident data, Lightning) for 3 epochs
#   7. a summary: lhost's and the peers' train-epoch times and the ratios
# Needs only what the tree carries: run bench/gpu/prepare.sh first on a machine with apt, which
# fills the git-ignored .device/ (build dependencies as a sysroot, the IDX files, the peer).
#   bash bench/gpu/run.sh [epochs]
# LHOST_GPU_SANITIZE=1: build, then compute-sanitizer's tools over the parity test and a short
# training instead of the benchmark.
# A rehearsal on a machine without a GPU (LHOST_GPU_REHEARSAL=1) runs every step against the
# CUDA emulation of tests/cuda_emu on one training batch of 8 per epoch: it checks the script,
# the carried sysroot and the build, not the GPU. LHOST_GPU_BUILT=1: LHOST_GPU_BUILD is a tree
# configured and built already (the CI's): its targets are checked, not built.
set -uo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
epochs=${1:-3}
dev=$src/.device
build=${LHOST_GPU_BUILD:-$src/build-gpu}
data=${LHOST_BENCH_DATA:-$dev/fashion-mnist}
[ -d "$data" ] || data=/usr/share/datasets/fashion-mnist
work=$(mktemp -d)
# The step logs go to $OUT, where a device run brings files back (at most 8), when it is set.
keep() {
  [ -n "${OUT:-}" ] || return 0
  for f in parity.log lhost.log profile.log precision.log step.log peer.log metrics.csv \
           san-memcheck.log \
           san-racecheck.log san-synccheck.log san-initcheck.log; do
    [ -f "$work/$f" ] && cp "$work/$f" "$OUT/"
  done
}
trap 'keep; rm -rf "$work"' EXIT
status=0
step() { printf '\n== %s (at %d s)\n' "$*" "$SECONDS"; }
limits=()
if [ "${LHOST_GPU_REHEARSAL:-0}" = 1 ]; then
  export LHOST_CUDA_MODULE=$build/tests/cuda_emu/liblhost_cuda_emu.so
  # Batches of 8: the emulation runs a CUDA thread per fiber, and a warp shuffle costs every
  # thread of the block two context switches (conv1's direct dW: ~34 s per batch of 64).
  limits=(--trainer.limit_train_batches=1 --trainer.limit_val_batches=2 --data.batch_size=8)
  echo "rehearsal: the CUDA emulation stands in for the GPU ($LHOST_CUDA_MODULE)"
fi

step "machine"
command -v nvidia-smi >/dev/null &&
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
nvcc=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
"$nvcc" --version | tail -2

step "configure + build"
cfg=(-DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90 -DCMAKE_CUDA_COMPILER="$nvcc")
command -v ninja >/dev/null && cfg+=(-G Ninja)
sysroot=$dev/sysroot
if [ ! -d "$sysroot" ] && [ -f "$dev/sysroot.tar.gz" ]; then
  tar -xzf "$dev/sysroot.tar.gz" -C "$dev" || { echo "run: cannot unpack the sysroot"; exit 1; }
fi
if [ -d "$sysroot" ]; then
  # The carried Debian -dev packages: a pkg-config wrapper that sees only them.
  lib=$sysroot/usr/lib/x86_64-linux-gnu
  mkdir -p "$build"
  printf '#!/bin/sh\nLD_LIBRARY_PATH=%s PKG_CONFIG_SYSROOT_DIR=%s PKG_CONFIG_LIBDIR=%s exec %s "$@"\n' \
    "$lib" "$sysroot" "$lib/pkgconfig:$sysroot/usr/share/pkgconfig" "$sysroot/usr/bin/pkgconf" \
    > "$build/pkg-config"
  chmod +x "$build/pkg-config"
  # oneDNN is found by find_path/find_library, which search the sysroot as a prefix; Debian's
  # multiarch headers (ffi.h) sit where only the system compiler looks by itself.
  multiarch="-isystem $sysroot/usr/include/x86_64-linux-gnu"
  cfg+=(-DPKG_CONFIG_EXECUTABLE="$build/pkg-config" -DCMAKE_PREFIX_PATH="$sysroot/usr"
        -DCMAKE_C_FLAGS="$multiarch" -DCMAKE_CXX_FLAGS="$multiarch")
  pkgconf=$build/pkg-config
  # The binaries' RUNPATH finds their direct libraries there, not those libraries' own
  # (oneDNN's OpenCL loader): the loader path covers both.
  export LD_LIBRARY_PATH=$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
else
  pkgconf=pkg-config
fi
if ! "$pkgconf" --exists check 2>/dev/null; then
  echo "run: Check not found: building without tests (no parity test)"
  cfg+=(-DLHOST_TESTS=OFF)
fi
# Only what the steps below run (the rest of the suite is the CPU CI's).
targets=(lhost lhost_reference_plugins lhost_cuda)
if ! grep -q -- '-DLHOST_TESTS=OFF' <<< "${cfg[*]}"; then # tests and bench/ come together
  targets+=(bench_step test_cuda_parity test_backend_select test_device_ckpt test_cuda_precision)
fi
[ "${LHOST_GPU_REHEARSAL:-0}" = 1 ] && targets+=(lhost_cuda_emu)
if [ "${LHOST_GPU_BUILT:-0}" = 1 ]; then
  # $build is a tree already configured and built (the CI rehearsal: the suite's own build,
  # which a test must not rebuild while others run from it). The target names are still
  # checked, so a GPU run cannot fail on one.
  have=$(cmake --build "$build" --target help 2>/dev/null)
  for t in "${targets[@]}"; do
    grep -qE "(^|[ .])$t(:| |\$)" <<< "$have" || { echo "run: $build has no target $t"; exit 1; }
  done
  echo "prebuilt: $build (${#targets[@]} targets there)"
else
  if ! cmake -S "$src" -B "$build" "${cfg[@]}" > "$work/configure.log" 2>&1; then
    cat "$work/configure.log"; echo "run: configure failed"; exit 1
  fi
  grep -E 'lhost:' "$work/configure.log"
  if ! cmake --build "$build" -j"$(nproc)" --target "${targets[@]}" > "$work/build.log" 2>&1; then
    grep -E -B2 -A8 'error|Error' "$work/build.log" | head -80; echo "run: build failed"; exit 1
  fi
  grep -ciE 'warning' "$work/build.log" | sed 's/^/build warnings: /'
  grep -iE -A3 'warning' "$work/build.log" | head -12
fi
ls -l "$build/kernels/cuda/liblhost_cuda.so"
lhost=$build/host/lhost
common=(--data.path="$data" --trainer.enable_progress_bar=false
        --trainer.default_root_dir="$work" ${limits[@]+"${limits[@]}"})

if [ "${LHOST_GPU_SANITIZE:-0}" = 1 ]; then
  # A checking run instead of the benchmark: compute-sanitizer's four tools over the parity
  # test (every kernel at the tutorial's shapes and at odd ones) and memcheck and initcheck over
  # a short training (the dataset's gather and the trainer's own buffers). One log per tool.
  step "compute-sanitizer: memcheck, racecheck, synccheck, initcheck"
  san=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null)
  [ -n "$san" ] || { echo "run: compute-sanitizer not found"; exit 1; }
  short=(--trainer.max_epochs=1 --trainer.limit_train_batches=10 --trainer.limit_val_batches=3
         --trainer.enable_model_summary=false --callbacks.model_checkpoint.dirpath="$work/ckpt-san")
  for tool in memcheck racecheck synccheck initcheck; do
    log=$work/san-$tool.log
    CK_FORK=no timeout 75 "$san" --tool $tool --error-exitcode 9 --print-limit 10 \
      "$build/tests/test_cuda_parity" > "$log" 2>&1; rc=$?
    found=$(grep -E 'ERROR SUMMARY|Checks:' "$log" | tr '\n' ' ')
    echo "$tool, test_cuda_parity: exit $rc, $found"
    [ $rc -eq 0 ] || { status=1; grep -E '^=========' "$log" | head -12; }
    case $tool in racecheck | synccheck) continue ;; esac
    (cd "$work" && timeout 60 "$san" --tool $tool --error-exitcode 9 --print-limit 10 \
       "$lhost" train --config "$src/examples/seed.yaml" --trainer.device=cuda "${common[@]}" \
       "${short[@]}") >> "$log" 2>&1; rc=$?
    echo "$tool, lhost train (10 batches): exit $rc, $(grep -E 'ERROR SUMMARY' "$log" | tail -1)"
    [ $rc -eq 0 ] || { status=1; grep -E '^=========' "$log" | tail -12; }
  done
  exit $status
fi

step "parity: every CUDA op vs the CPU backend"
if [ -x "$build/tests/test_cuda_parity" ]; then
  # Every op's worst element is in parity.log; the eight worst and the verdict are shown here.
  timeout 180 "$build/tests/test_cuda_parity" > "$work/parity.log" 2>&1; rc=$?
  grep -E '^describe:' "$work/parity.log"
  grep -E 'worst rel' "$work/parity.log" |
    awk '{for (i = 1; i <= NF; i++) if ($i == "rel") print $(i + 1), $0}' | sort -gr | head -8 |
    cut -d' ' -f2-
  grep -E 'Checks:|:F:|:E:|SKIP' "$work/parity.log"
  echo "test_cuda_parity exit $rc"; [ $rc -eq 0 ] || status=1
  san=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null)
  if [ $rc -ne 0 ] && [ -n "$san" ] && [ "${LHOST_GPU_REHEARSAL:-0}" != 1 ]; then
    # A failing op on the real chip: the memory checker's first findings, in the same call.
    CK_FORK=no timeout 240 "$san" --tool memcheck --print-limit 20 \
      "$build/tests/test_cuda_parity" 2>&1 | grep -vE '^ *$' | head -60
  fi
  for t in test_backend_select test_device_ckpt test_cuda_precision; do
    timeout 240 "$build/tests/$t" > "$work/$t.log" 2>&1; rc=$?
    grep -E 'rel |SKIP|Checks:|:F:|:E:|refused' "$work/$t.log"
    echo "$t exit $rc"; [ $rc -eq 0 ] || status=1
  done
else
  echo "parity test not built"
fi

step "lhost: $epochs epochs of examples/seed.yaml on the GPU"
(cd "$work" && timeout 300 "$lhost" train --config "$src/examples/seed.yaml" \
   --trainer.device=cuda --trainer.max_epochs="$epochs" \
   --callbacks.model_checkpoint.dirpath="$work/ckpt" \
   "${common[@]}") > "$work/lhost.log" 2>&1
rc=$?
cat "$work/lhost.log"
echo "lhost train exit $rc"; [ $rc -eq 0 ] || status=1
lhost_train=$(sed -n 's/.*batches in \([0-9.]*\)s.*/\1/p' "$work/lhost.log" | tr '\n' ' ')
cp "$work"/lightning_logs/version_0/metrics.csv "$work/metrics.csv" 2>/dev/null

ckpt=$(ls "$work"/ckpt/modelo-*.ckpt 2>/dev/null | head -1)
if [ -n "$ckpt" ]; then
  for d in cuda cpu; do
    step "lhost validate --ckpt $(basename "$ckpt") on $d"
    (cd "$work" && timeout 120 "$lhost" validate --ckpt "$ckpt" --trainer.device=$d \
       "${common[@]}") 2>&1 |
      tail -15
  done
fi

step "lhost: one epoch on the GPU with the simple profiler (time per op)"
(cd "$work" && timeout 120 "$lhost" train --config "$src/examples/seed.yaml" \
   --trainer.device=cuda --trainer.max_epochs=1 --trainer.profiler=simple \
   --trainer.enable_model_summary=false \
   "${common[@]}" --callbacks.model_checkpoint.dirpath="$work/ckpt-prof") > "$work/profile.log" 2>&1
sed -n '/batches in/p;/Profiler Report/,$p' "$work/profile.log"

step "precisions: 300 batches of examples/seed.yaml on the GPU in 32, TF32, bf16-mixed"
# The rehearsal's limits (in common, after ours) keep it to two batches there.
precision_s=()
: > "$work/precision.log"
for setting in "32" "high" "bf16-mixed"; do
  case $setting in
    high) flags=(--trainer.float32_matmul_precision=high) ;;
    *) flags=(--trainer.precision="$setting") ;;
  esac
  (cd "$work" && timeout 180 "$lhost" train --config "$src/examples/seed.yaml" \
     --trainer.device=cuda --trainer.max_epochs=1 --trainer.limit_train_batches=300 \
     --trainer.limit_val_batches=20 --trainer.enable_model_summary=false "${flags[@]}" \
     "${common[@]}" --callbacks.model_checkpoint.dirpath="$work/ckpt-$setting") \
    > "$work/precision-$setting.log" 2>&1
  rc=$?
  cat "$work/precision-$setting.log" >> "$work/precision.log"
  t=$(sed -n 's/.*batches in \([0-9.]*\)s.*/\1/p' "$work/precision-$setting.log" | tail -1)
  acc=$(grep -oE 'val_acc[= ][0-9.]+' "$work/precision-$setting.log" | tail -1)
  echo "precision $setting: train ${t:-?} s, $acc, exit $rc"
  [ $rc -eq 0 ] || { status=1; tail -5 "$work/precision-$setting.log"; }
  precision_s+=("$setting=${t:-?}")
done

step "bench_step --device=cuda 200: one step's time per op, as the trainer waits, and queued"
if [ "${LHOST_GPU_REHEARSAL:-0}" = 1 ]; then
  echo "skipped (rehearsal)"
else
  timeout 120 "$build/bench/bench_step" --device=cuda 200 2>&1 | tee "$work/step.log"
  [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
fi

step "peers: python3 lightning_gpu.py --epochs $epochs --mode all"
peer=$dev/lightning_gpu.py
if [ "${LHOST_GPU_REHEARSAL:-0}" = 1 ]; then
  echo "peer skipped (rehearsal)"
elif [ -f "$peer" ] && python3 -c 'import torch' 2>/dev/null; then
  PYTHONUNBUFFERED=1 timeout 300 python3 "$peer" --data "$data" --epochs "$epochs" --mode all \
    2> "$work/peer.err" | tee "$work/peer.log"
  [ -s "$work/peer.err" ] && tail -5 "$work/peer.err"
else
  echo "peer skipped (no $peer or no torch)"
fi

step "summary (train epoch, seconds)"
echo "lhost cuda:     $lhost_train"
echo "lhost cuda 300 batches by precision: ${precision_s[*]}"
if [ -s "$work/peer.log" ]; then
  python3 - "$work/peer.log" "$lhost_train" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
lh = [float(x) for x in sys.argv[2].split()]
for mode in ("torch-resident", "torch", "lightning"):
    t = [r["train_s"] for r in rows if r.get("mode") == mode and "train_s" in r]
    acc = [r.get("val_acc") for r in rows if r.get("mode") == mode and "train_s" in r]
    if not t:
        continue
    line = f"{mode + ':':15} {' '.join(str(x) for x in t)}  val_acc {acc}"
    if lh:  # last epoch against last epoch: both warm
        line += f"  -> {t[-1] / lh[-1]:.1f}x lhost's time"
    print(line)
PY
fi
exit $status
