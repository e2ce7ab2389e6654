#!/usr/bin/env bash
# bench/parity_seeds.sh — where lhost's and PyTorch's accuracy after a short run differ: the
# tutorial's CNN, 200 steps of batch 64 (12.8k samples, Adam 1e-3), then val_acc on the first
# 2048 Fashion-MNIST test images, for several seeds, each tool in three set-ups:
#   own      each tool its own init (seeded) and its own shuffle of the training set
#   ordered  each tool its own init, the dataset's order (data.shuffle: false)
#   same     both from PyTorch's initial weights (model.init_weights), the dataset's order
# One thread each, so the tools do not compete for the cores. Prints one line per run and a
# table of means. bench/README.md ("Early accuracy") has the figures.
#   bench/parity_seeds.sh [BUILD_DIR] [SEEDS...]      (default: build, seeds 0 1 2 3)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd); shift || true
seeds=${*:-0 1 2 3}
data=/usr/share/datasets/fashion-mnist
PY=/usr/bin/python3
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
out=$work/runs.jsonl

lhost_run() { # seed setup shuffle init
  local d=$work/l_$1_$2
  mkdir -p "$d"
  (cd "$d" && "$build/host/lhost" train --config "$root/tests/parity/parity.yaml" --seed "$1" \
     --data.shuffle="$3" --model.init_weights="$4" --trainer.limit_val_batches=32 \
     --trainer.default_root_dir="$d" --trainer.enable_model_summary=false > log.txt 2>&1) ||
    { cat "$d/log.txt"; exit 1; }
  $PY - "$d/lightning_logs/version_0/metrics.csv" "$1" "$2" >> "$out" <<'PYEOF'
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1])))
acc = [float(r["val_acc"]) for r in rows if r.get("val_acc")][-1]
loss = [float(r["loss"]) for r in rows if r.get("loss")][-1]
print(json.dumps({"tool": "lhost", "seed": int(sys.argv[2]), "setup": sys.argv[3],
                  "val_acc": round(acc, 6), "last_loss": round(loss, 6)}))
PYEOF
  tail -1 "$out"
}

torch_run() { # seed setup [--shuffle]
  $PY "$root/tests/parity/torch_parity.py" --seed "$1" --val 2048 ${3:-} |
    sed "s/\"tool\": \"torch\"/\"tool\": \"torch\", \"setup\": \"$2\"/" >> "$out"
  tail -1 "$out"
}

for s in $seeds; do
  $PY "$root/tests/parity/torch_parity.py" --seed "$s" --steps 1 --threads 2 --out "$work/init_$s" \
    > /dev/null
  lhost_run "$s" own true ""
  lhost_run "$s" ordered false ""
  lhost_run "$s" same false "$work/init_$s/init.safetensors"
  torch_run "$s" own --shuffle
  torch_run "$s" ordered
done
$PY - "$out" <<'PYEOF'
import json, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
print("\n| set-up | tool | val_acc per seed | mean |\n|---|---|---|---|")
for setup in ("own", "ordered", "same"):
    for tool in ("torch", "lhost"):
        rs = [r for r in runs if r["setup"] == setup and r["tool"] == tool]
        if setup == "same" and tool == "torch":
            rs = [r for r in runs if r["setup"] == "ordered" and r["tool"] == "torch"]
        if rs:
            accs = [r["val_acc"] for r in rs]
            print("| %s | %s | %s | %.4f |" % (setup, tool, " / ".join("%.4f" % a for a in accs),
                                               sum(accs) / len(accs)))
PYEOF
