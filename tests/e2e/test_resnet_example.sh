#!/usr/bin/env bash
# tests/e2e/test_resnet_example.sh — examples/resnet.yaml (label: slow): a small ResNet with
# batch norm and residual blocks on Fashion-MNIST, under its cosine learning rate shortened to
# the run (2 epochs of 235 batches, a quarter of each; the 4 whole epochs as written reach
# 0.92, bench/README.md), reaches val_acc >= 0.875; its one checkpoint is named after the best
# val_acc and `lhost validate` on it prints that value.
# Run: ctest --test-dir build -R e2e_test_resnet_example --output-on-failure
set -euo pipefail
: "${LHOST:?}" "${LH_SOURCE_DIR:?}"
if [ ! -e /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
  echo "SKIP: Fashion-MNIST not installed (Debian package dataset-fashion-mnist)"; exit 77
fi
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cd "$work"
if [ "${LH_SANITIZED:-0}" = 1 ]; then # the sanitizer build: the same config, 2 short epochs
  "$LHOST" train --config "$LH_SOURCE_DIR/examples/resnet.yaml" --trainer.default_root_dir="$work" \
    --callbacks.model_checkpoint.dirpath="$work/ckpt" --trainer.max_epochs=2 \
    --trainer.limit_train_batches=20 --trainer.limit_val_batches=5 > train.log 2>&1 || {
    tail -20 train.log; echo "FAIL: lhost train exited non-zero"; exit 1; }
  ls "$work"/ckpt/resnet-val_acc=*.ckpt > /dev/null || { echo "FAIL: no checkpoint"; exit 1; }
  echo "PASS: the short run (sanitizer build; the accuracy is checked in the Release build)"
  exit 0
fi
"$LHOST" train --config "$LH_SOURCE_DIR/examples/resnet.yaml" --trainer.default_root_dir="$work" \
  --callbacks.model_checkpoint.dirpath="$work/ckpt" --trainer.max_epochs=2 \
  --trainer.limit_train_batches=235 --callbacks.cosine_annealing.t_max=470 > train.log 2>&1 || {
  tail -20 train.log; echo "FAIL: lhost train exited non-zero"; exit 1; }
csv=$(ls "$work"/lightning_logs/version_*/metrics.csv)
col=$(head -1 "$csv" | tr ',' '\n' | grep -nx val_acc | cut -d: -f1)
vals=$(awk -F, -v c="$col" 'NR>1 && $c != "" {print $c}' "$csv")
echo "val_acc per epoch: $(echo $vals)"
[ "$(echo "$vals" | wc -l)" = 2 ] || { echo "FAIL: expected 2 validation rows"; exit 1; }
best=$(echo "$vals" | sort -g | tail -1)
# 0.875: this run lands at 0.8917 on an AVX2 EPYC (Zen 3); a broken block or norm far below.
awk -v v="$best" 'BEGIN { exit !(v >= 0.875) }' ||
  { echo "FAIL: best val_acc $best < 0.875"; exit 1; }
ck=$(ls "$work"/ckpt/resnet-val_acc=*.ckpt)
[ "$(echo "$ck" | wc -l)" = 1 ] || { echo "FAIL: expected one checkpoint: $ck"; exit 1; }
[ "$(basename "$ck" .ckpt | sed 's/^resnet-val_acc=//')" = "$(printf '%.5f' "$best")" ] ||
  { echo "FAIL: checkpoint $ck is not named after the best val_acc $best"; exit 1; }
"$LHOST" validate --ckpt "$ck" > validate.log 2>&1 || { cat validate.log; exit 1; }
got=$(awk '$1 == "val_acc" {print $2}' validate.log)
awk -v a="$got" -v b="$best" 'BEGIN { d = a - b; exit !(d < 1e-6 && d > -1e-6) }' ||
  { echo "FAIL: validate says val_acc $got, training logged $best"; exit 1; }
echo "PASS: best val_acc $best"
