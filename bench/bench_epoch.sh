#!/usr/bin/env bash
# bench/bench_epoch.sh — one epoch of the tutorial (train 60k + validate 10k, batch 64) in lhost
# and, when python3 has torch, in plain PyTorch with the same thread count; prints both and the
# ratio. Never run two benchmarks at once on a 2-core machine.
#   bash bench/bench_epoch.sh [build-dir] [threads]
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$src/build}" && pwd)
threads=${2:-2}
data=${LHOST_BENCH_DATA:-/usr/share/datasets/fashion-mnist}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cd "$work"
/usr/bin/time -f 'peak_rss_kib %M' -o time.txt \
  "$build/host/lhost" train --config "$src/examples/seed.yaml" --trainer.max_epochs=1 \
  --trainer.threads="$threads" --trainer.enable_progress_bar=false --data.path="$data" \
  --trainer.default_root_dir="$work" --callbacks.model_checkpoint.dirpath="$work/ckpt" > lhost.log
grep -E 'setup|Epoch 0' lhost.log
train_s=$(sed -n 's/.*batches in \([0-9.]*\)s.*/\1/p' lhost.log | head -1)
val_s=$(sed -n 's/.*validation \([0-9.]*\)s.*/\1/p' lhost.log | head -1)
first_ms=$(sed -n 's/.*first batch after \([0-9.]*\) ms.*/\1/p' lhost.log | head -1)
rss=$(awk '{print int($2/1024)}' time.txt)
echo "lhost:   train ${train_s} s, validate ${val_s} s, peak RSS ${rss} MiB, start to first batch ${first_ms} ms (threads ${threads})"
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3
if "$PY" -c "import torch" 2>/dev/null; then
  py=$("$PY" "$src/bench/torch_epoch.py" --data "$data" --threads "$threads" --epochs 1 | tail -1)
  echo "pytorch: $py"
  pt=$("$PY" -c 'import json,sys; print(json.loads(sys.argv[1])["train_s"])' "$py")
  awk -v a="$pt" -v b="$train_s" 'BEGIN { printf "ratio (pytorch / lhost train epoch): %.2fx\n", a / b }'
else
  echo "pytorch: python3-torch not installed; skipped"
fi
