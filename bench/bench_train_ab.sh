#!/bin/bash
# bench/bench_train_ab.sh — per-step cost of two lhost builds (and of a plugin), interleaved.
#
#   bash bench/bench_train_ab.sh A/lhost B/lhost [rounds=5] [extra args for a third run of B]
#
# Each round trains, in turn with A, with B, and with B plus the extra arguments (for instance
# --callbacks.grad_norm.norm_type=2), 8 epochs of 50 steps of a small CNN (conv 1->32 + relu +
# pool + linear, 63k parameters) on Fashion-MNIST, batch 64, 1 thread, log_every_n_steps 1,
# trainer.profiler=simple, and prints per run: the mean step time over epochs 1-7 (from the
# epoch lines), the profiler's "host (everything else)" (time outside the backend's ops, the
# whole fit) and its norm_partials row (mean ms, calls) when there is one. On a shared machine
# compare the runs of one round (ratios), never figures from different rounds.
set -euo pipefail
A=$(realpath "$1") B=$(realpath "$2") ROUNDS=${3:-5} EXTRA=${4:-}
WORK=$(mktemp -d /tmp/lhost_bench_ab.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
cat > "$WORK/cfg.yaml" <<'YAML'
seed: 0
data: {batch_size: 64, num_classes: 10}
model:
  input_shape: [1, 28, 28]
  layers:
    - {type: conv2d, name: conv1.0, out_channels: 32, kernel_size: 3, padding: 1}
    - {type: relu, name: conv1.1}
    - {type: maxpool2d, name: conv1.2, kernel_size: 2}
    - {type: flatten}
    - {type: linear, name: fc, out_features: 10}
optimizer: {name: adam, lr: 1.0e-3}
trainer: {max_epochs: 8, device: cpu, threads: 1, limit_train_batches: 50, limit_val_batches: 2,
          log_every_n_steps: 1, enable_progress_bar: false, enable_model_summary: false,
          default_root_dir: ., profiler: simple}
YAML
run() { # label binary [args]
    local d
    d=$(mktemp -d "$WORK/run.XXXX")
    cp "$WORK/cfg.yaml" "$d/"
    (cd "$d" && "$2" train --config cfg.yaml ${3:-} > out.txt 2>&1)
    local ms host norm
    ms=$(grep -E "^Epoch [1-7]:" "$d/out.txt" | sed -E 's/.* in ([0-9.]+)s.*/\1/' |
         awk '{s += $1} END {printf "%.3f", s / NR / 50 * 1000}')
    host=$(grep "host (everything else)" "$d/out.txt" | awk -F'|' '{print $4}' | tr -d ' ')
    norm=$(grep "norm_partials" "$d/out.txt" | awk -F'|' '{print $2, $3}' | tr -s ' ' || true)
    echo "$1 step_ms=$ms host_s=$host norm_partials_ms_calls=${norm:-none}"
}
for r in $(seq "$ROUNDS"); do
    echo "round $r"
    run A "$A"
    run B "$B"
    if [ -n "$EXTRA" ]; then run B+ "$B" "$EXTRA"; fi
done
