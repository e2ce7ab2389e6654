#!/usr/bin/env bash
# tests/e2e/test_gpu_rehearsal.sh — bench/gpu/run.sh, the one script a GPU machine runs, rehearsed
# against the CUDA emulation (LHOST_GPU_REHEARSAL=1, one epoch of one batch) on this build
# (LHOST_GPU_BUILT=1: the targets the script would build are checked, not built again): the
# parity, device and precision tests, training, validation on both devices, the profiled epoch
# and the three precisions' epochs must all pass, so the script cannot rot between the rare
# runs on a machine with a GPU. Label: slow, rehearsal (not part of the sanitizer pass, whose
# build has no CUDA backend).
set -euo pipefail
: "${LH_SOURCE_DIR:?}" "${LH_BUILD_DIR:?}"
data=/usr/share/datasets/fashion-mnist
[ -e "$data/train-images-idx3-ubyte.gz" ] || { echo "SKIP: dataset-fashion-mnist not installed"; exit 77; }
[ -e "$LH_BUILD_DIR/kernels/cuda/liblhost_cuda.so" ] ||
  { echo "SKIP: this build has no CUDA backend (nvcc not found at configure time)"; exit 77; }
log=$LH_BUILD_DIR/gpu-rehearsal.log
status=0
LHOST_GPU_REHEARSAL=1 LHOST_GPU_BUILT=1 LHOST_GPU_BUILD="$LH_BUILD_DIR" LHOST_BENCH_DATA="$data" \
  bash "$LH_SOURCE_DIR/bench/gpu/run.sh" 1 > "$log" 2>&1 || status=$?
cat "$log"
for want in "test_cuda_parity exit 0" "test_backend_select exit 0" "test_device_ckpt exit 0" \
            "test_cuda_precision exit 0" "lhost train exit 0" "FIT Profiler Report" "val_acc " \
            "precision 32: train" "precision high: train" "precision bf16-mixed: train" \
            "by precision: 32="; do
  grep -q "$want" "$log" || { echo "FAIL: no \"$want\" in the run's output"; exit 1; }
done
[ "$status" = 0 ] || { echo "FAIL: bench/gpu/run.sh exited $status"; exit 1; }
echo "PASS: bench/gpu/run.sh rehearsed"
