#!/usr/bin/env bash
# tests/e2e/test_examples.sh — every example plugin builds out of tree against an installed
# prefix (SDK examples with find_package(lhost) and with pkg-config; the SDK-free one with plain
# CMake), then the installed lhost trains a few steps with all of them loaded from their own
# build folders, and each one's effect shows in metrics.csv:
#   hello_callback    logs hello_batches = batches seen so far (20.0, 40.0, ...)
#   lr_on_plateau     lowers lr by `factor` when val_loss stops "improving" (mode max here)
#   balanced_accuracy equals accuracy on Fashion-MNIST's test set (1000 images per class)
#   bare_c stop_at    stops the run after epoch 3 (its condition: epoch >= 3)
#   grad_histogram    (ABI 1.1 tensor services) logs grad_hist/<param>/<k> every 20 steps, the
#                     bins of each parameter summing to 1
# Env (set by tests/CMakeLists.txt): LHOST, LH_SOURCE_DIR, LH_BUILD_DIR.
set -euo pipefail
: "${LH_SOURCE_DIR:?}" "${LH_BUILD_DIR:?}"
data=/usr/share/datasets/fashion-mnist
[ -e "$data/train-images-idx3-ubyte.gz" ] || { echo "SKIP: dataset-fashion-mnist not installed"; exit 77; }
tmp=$(mktemp -d /tmp/lh_examples.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
prefix=$tmp/prefix
cmake --install "$LH_BUILD_DIR" --prefix "$prefix" > "$tmp/install.log" || { cat "$tmp/install.log"; fail install; }
export PKG_CONFIG_PATH
PKG_CONFIG_PATH=$(dirname "$(find "$prefix" -name lhost.pc | head -1)")

for ex in hello_callback lr_on_plateau balanced_accuracy grad_histogram; do
  cp -r "$LH_SOURCE_DIR/examples/$ex" "$tmp/src_$ex"
  cmake -S "$tmp/src_$ex" -B "$tmp/$ex" -DCMAKE_PREFIX_PATH="$prefix" > "$tmp/$ex.log" 2>&1 &&
    cmake --build "$tmp/$ex" >> "$tmp/$ex.log" 2>&1 || { cat "$tmp/$ex.log"; fail "$ex with find_package"; }
  make -s -C "$tmp/src_$ex" > "$tmp/$ex.make.log" 2>&1 || { cat "$tmp/$ex.make.log"; fail "$ex with pkg-config"; }
  [ -f "$tmp/$ex/$ex.so" ] && [ -f "$tmp/src_$ex/$ex.so" ] || fail "$ex.so not built both ways"
done
cmake -S "$LH_SOURCE_DIR/examples/bare_c" -B "$tmp/bare_c" > "$tmp/bare.log" 2>&1 &&
  cmake --build "$tmp/bare_c" >> "$tmp/bare.log" 2>&1 || { cat "$tmp/bare.log"; fail "bare_c"; }

"$prefix/bin/lhost" plugins --plugin-dir "$tmp/hello_callback" --plugin-dir "$tmp/bare_c" > "$tmp/plugins.txt"
grep -q 'org.lhost.examples.hello_callback' "$tmp/plugins.txt" || { cat "$tmp/plugins.txt"; fail "hello_callback not listed"; }
grep -q 'bare.stop_at' "$tmp/plugins.txt" || { cat "$tmp/plugins.txt"; fail "bare stop_at not listed"; }
grep -q 'org.lhost.accuracy' "$tmp/plugins.txt" || { cat "$tmp/plugins.txt"; fail "installed reference plugins not found"; }

mkdir "$tmp/run" && cd "$tmp/run"
cat > cfg.yaml <<YAML
seed: 0
data: {batch_size: 64}
model:
  layers:
    - {type: conv2d, name: conv1.0, out_channels: 8, kernel_size: 3, padding: 1}
    - {type: relu}
    - {type: maxpool2d, kernel_size: 2}
    - {type: flatten}
    - {type: linear, name: fc, out_features: 10}
trainer: {max_epochs: 8, limit_train_batches: 20, enable_progress_bar: false, default_root_dir: .}
plugin_dirs: [$tmp/hello_callback, $tmp/lr_on_plateau, $tmp/balanced_accuracy, $tmp/bare_c, $tmp/grad_histogram]
metrics:
  acc: {plugin: accuracy, average: micro}
  bacc: {plugin: balanced_accuracy}
callbacks:
  hello_callback: {greeting: hi}
  lr_on_plateau: {monitor: val_loss, mode: max, patience: 0, factor: 0.5}
  stop_at: {}
  grad_histogram: {bins: 4, lo: -8, hi: 0, every_n_steps: 20}
YAML
"$prefix/bin/lhost" train --config cfg.yaml > train.log 2>&1 || { cat train.log; fail "training with the example plugins"; }
cat train.log
grep -q "hi from an out-of-tree plugin" train.log || fail "hello_callback did not greet"
csv=lightning_logs/version_0/metrics.csv
col() { awk -F, -v k="$1" 'NR==1 {for (i=1;i<=NF;i++) if ($i==k) c=i; next} c && $c != "" {print $c}' "$csv"; }
# (floats as CSVLogger writes them: Python's repr)
[ "$(col hello_batches | tr '\n' ' ')" = "20.0 40.0 60.0 80.0 " ] || fail "hello_batches: $(col hello_batches | tr '\n' ' ')"
[ "$(col val_acc | wc -l)" = 4 ] || fail "stop_at should stop after epoch 3; epochs run: $(col val_acc | wc -l)"
paste -d' ' <(col val_acc) <(col val_bacc) | awk '{ d = $1 - $2; if (d < 0) d = -d; if (d > 1e-6) exit 1 }' ||
  fail "balanced accuracy differs from accuracy on a balanced test set: $(paste -d' ' <(col val_acc) <(col val_bacc) | tr '\n' ';')"
lrs=$(col lr | tr '\n' ' ')
echo "lr per epoch: $lrs"
awk -v l="$lrs" 'BEGIN { n = split(l, v, " "); if (v[1] != 0.001) exit 1;
  for (i = 2; i <= n; i++) { r = v[i-1] / v[i]; if (!(r == 1 || (r > 1.999 && r < 2.001))) exit 1 } }' ||
  fail "lr must start at 0.001 and only halve: $lrs"
[ "$(col lr | sort -g | head -1)" != "0.001" ] || fail "lr_on_plateau never lowered the lr: $lrs"
hist=$(paste -d' ' <(col grad_hist/fc.weight/0) <(col grad_hist/fc.weight/1) <(col grad_hist/fc.weight/2) <(col grad_hist/fc.weight/3))
[ "$(echo "$hist" | grep -c .)" = 4 ] || fail "grad_histogram: expected 4 rows of fc.weight bins: $hist"
echo "$hist" | awk '{ s = $1 + $2 + $3 + $4; if (s < 0.999999 || s > 1.000001) exit 1 }' ||
  fail "grad_histogram: bins do not sum to 1: $hist"
[ -n "$(col grad_absmax/conv1.0.weight | head -1)" ] || fail "grad_histogram: no grad_absmax"
echo "PASS: example plugins built both ways and trained with their effects visible"
