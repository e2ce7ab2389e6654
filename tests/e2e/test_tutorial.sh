#!/usr/bin/env bash
# tests/e2e/test_tutorial.sh — the tutorial end to end on Fashion-MNIST (label: slow).
# 3 epochs of examples/seed.yaml: val_acc after epoch 3 >= 0.905; the logged keys are there;
# exactly one modelo-val_acc=….ckpt whose value is the best val_acc; `lhost validate` on it
# prints that val_acc; `lhost predict` writes one row per test sample.
# Run: ctest --test-dir build -R e2e_test_tutorial --output-on-failure
set -euo pipefail
: "${LHOST:?}" "${LH_SOURCE_DIR:?}"
if [ ! -e /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
  echo "SKIP: Fashion-MNIST not installed (Debian package dataset-fashion-mnist)"; exit 77
fi
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cd "$work"
"$LHOST" train --config "$LH_SOURCE_DIR/examples/seed.yaml" --trainer.max_epochs=3 \
  --trainer.default_root_dir="$work" --callbacks.model_checkpoint.dirpath="$work/ckpt" | tee train.log

csv=$(ls "$work"/lightning_logs/version_*/metrics.csv)
head -1 "$csv"
# CSVLogger's names: a metric logged on step and on epoch is m_step / m_epoch
for key in loss train_loss acc_step acc_epoch precision_step precision_epoch recall_step \
  recall_epoch val_loss val_acc val_precision val_recall epoch step; do
  head -1 "$csv" | tr ',' '\n' | grep -qx "$key" || { echo "FAIL: metrics.csv lacks $key"; exit 1; }
done
# val_acc per epoch row (rows where val_acc is set)
col=$(head -1 "$csv" | tr ',' '\n' | grep -nx val_acc | cut -d: -f1)
vals=$(awk -F, -v c="$col" 'NR>1 && $c != "" {print $c}' "$csv")
echo "val_acc per epoch: $(echo $vals)"
last=$(echo "$vals" | tail -1)
best=$(echo "$vals" | sort -g | tail -1)
# 0.905: where a trajectory lands after 3 epochs depends on the CPU's rounding (each sgemm
# kernel is another path): lhost 0.9099 on an AVX2 EPYC, above 0.91 on AVX-512 Xeons; PyTorch
# 0.9106 on that EPYC, 0.916 on a Zen 4 (bench/README.md). A broken model or optimizer lands
# far below.
awk -v v="$last" 'BEGIN { exit !(v >= 0.905) }' ||
  { echo "FAIL: val_acc after epoch 3 is $last < 0.905"; exit 1; }

n=$(ls "$work/ckpt" | grep -c '^modelo-val_acc=.*\.ckpt$' || true)
[ "$n" = 1 ] || { echo "FAIL: expected exactly one modelo checkpoint, found $n: $(ls "$work/ckpt")"; exit 1; }
ck=$(ls "$work"/ckpt/modelo-val_acc=*.ckpt)
name_val=$(basename "$ck" .ckpt | sed 's/^modelo-val_acc=//')
want=$(printf '%.5f' "$best")
[ "$name_val" = "$want" ] || { echo "FAIL: checkpoint name $name_val, best val_acc $want"; exit 1; }

"$LHOST" validate --ckpt "$ck" | tee validate.log
got=$(awk '$1 == "val_acc" {print $2}' validate.log)
awk -v a="$got" -v b="$best" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d < 1e-6) }' \
  || { echo "FAIL: validate printed val_acc $got, training logged $best"; exit 1; }

"$LHOST" predict --ckpt "$ck" --data /usr/share/datasets/fashion-mnist --out pred.csv
rows=$(($(wc -l < pred.csv) - 1))
[ "$rows" = 10000 ] || { echo "FAIL: predict wrote $rows rows"; exit 1; }
echo "PASS: val_acc $last after 3 epochs, best $best in $(basename "$ck")"
