#!/usr/bin/env bash
# bench/bench_epoch.sh — one epoch of the tutorial (train 60k + validate 10k, batch 64) in lhost
# under each conv algorithm and precision and, when python3 has torch, in plain PyTorch with
# the same thread count; prints them all and the ratios. Never run two benchmarks at once on a
# 2-core machine.
#   bash bench/bench_epoch.sh [build-dir] [threads]
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$src/build}" && pwd)
threads=${2:-2}
data=${LHOST_BENCH_DATA:-/usr/share/datasets/fashion-mnist}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cd "$work"
# One lhost epoch per entry ALGORITHM[:PRECISION] of LHOST_BENCH_ALGOS (trainer.conv_algorithm,
# trainer.precision; default 32), in that order; the first one's time is what the others'
# ratios and PyTorch's are taken against. The bf16-mixed entries are left out where the CPU
# has neither avx512_bf16 nor AMX. LHOST_BENCH_BATCHES=N trains N batches only (0: the whole
# epoch), for a quicker comparison on a loaded machine.
algos=${LHOST_BENCH_ALGOS:-gemm direct winograd auto direct:bf16-mixed auto:bf16-mixed}
if ! grep -qwE 'avx512_bf16|amx_bf16' /proc/cpuinfo; then
  algos=$(printf '%s\n' $algos | grep -v bf16-mixed | tr '\n' ' ')
fi
batches=${LHOST_BENCH_BATCHES:-0}
gemm_s=""
for entry in $algos; do
  algo=${entry%%:*}; prec=32; [ "$entry" = "$algo" ] || prec=${entry#*:}
  rm -rf "$work/lightning_logs" "$work/ckpt"
  /usr/bin/time -f 'peak_rss_kib %M' -o time.txt \
    "$build/host/lhost" train --config "$src/examples/seed.yaml" --trainer.max_epochs=1 \
    --trainer.threads="$threads" --trainer.enable_progress_bar=false --data.path="$data" \
    --trainer.conv_algorithm="$algo" --trainer.precision="$prec" \
    --trainer.limit_train_batches="$batches" \
    --trainer.default_root_dir="$work" --callbacks.model_checkpoint.dirpath="$work/ckpt" \
    > lhost.log
  grep -E 'setup|Epoch 0' lhost.log
  train_s=$(sed -n 's/.*batches in \([0-9.]*\)s.*/\1/p' lhost.log | head -1)
  val_s=$(sed -n 's/.*validation \([0-9.]*\)s.*/\1/p' lhost.log | head -1)
  first_ms=$(sed -n 's/.*first batch after \([0-9.]*\) ms.*/\1/p' lhost.log | head -1)
  rss=$(awk '{print int($2/1024)}' time.txt)
  [ -n "$gemm_s" ] || gemm_s=$train_s
  ratio=$(awk -v a="$train_s" -v b="$gemm_s" 'BEGIN { printf "%.2f", a / b }')
  echo "lhost ${algo} ${prec}: train ${train_s} s (x${ratio} of ${algos%% *})," \
       "validate ${val_s} s, peak RSS ${rss} MiB, start to first batch ${first_ms} ms" \
       "(threads ${threads})"
done
if [ "$batches" != 0 ]; then
  echo "pytorch: skipped (LHOST_BENCH_BATCHES=${batches}: lhost trained part of an epoch)"
  exit 0
fi
train_s=$gemm_s
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3
if "$PY" -c "import torch" 2>/dev/null; then
  py=$("$PY" "$src/bench/torch_epoch.py" --data "$data" --threads "$threads" --epochs 1 | tail -1)
  echo "pytorch: $py"
  pt=$("$PY" -c 'import json,sys; print(json.loads(sys.argv[1])["train_s"])' "$py")
  awk -v a="$pt" -v b="$train_s" -v n="${algos%% *}" \
    'BEGIN { printf "ratio (pytorch / lhost %s train epoch): %.2fx\n", n, a / b }'
else
  echo "pytorch: python3-torch not installed; skipped"
fi
