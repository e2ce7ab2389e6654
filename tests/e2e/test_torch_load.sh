#!/usr/bin/env bash
# tests/e2e/test_torch_load.sh — a checkpoint from `lhost train` loads into the same PyTorch
# model with load_state_dict(strict=True) and gives the same predictions on the whole test set
# as `lhost predict`: the tutorial's CNN (examples/seed.yaml), then a small ResNet with
# batchnorm and residual blocks (examples/resnet.yaml, briefly trained, so its running
# statistics are real). Label: slow; skipped without python3-torch or the dataset.
set -euo pipefail
: "${LHOST:?}" "${LH_SOURCE_DIR:?}"
data=/usr/share/datasets/fashion-mnist
[ -e "$data/t10k-images-idx3-ubyte.gz" ] || { echo "SKIP: dataset-fashion-mnist not installed"; exit 77; }
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3
"$PY" -c "import torch, numpy" 2>/dev/null || { echo "SKIP: python3-torch not installed"; exit 77; }
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cd "$work"
# The sanitizer build predicts the first 640 test samples only (its memory checks need no more).
limit=() first=()
[ "${LH_SANITIZED:-0}" = 1 ] && limit=(--trainer.limit_predict_batches=10) first=(640)
"$LHOST" train --config "$LH_SOURCE_DIR/examples/seed.yaml" --trainer.max_epochs=1 \
  --trainer.limit_train_batches=60 --trainer.limit_val_batches=2 \
  --trainer.enable_progress_bar=false \
  --trainer.default_root_dir="$work" --callbacks.model_checkpoint.dirpath="$work/ckpt"
ck=$(ls "$work"/ckpt/modelo-val_acc=*.ckpt)
"$LHOST" predict --ckpt "$ck" --data "$data" --out pred.csv "${limit[@]}"
"$PY" "$LH_SOURCE_DIR/tests/golden/torch_load_check.py" "$ck" "$data" pred.csv "${first[@]}"

"$LHOST" train --config "$LH_SOURCE_DIR/examples/resnet.yaml" --trainer.max_epochs=1 \
  --trainer.limit_train_batches=30 --trainer.limit_val_batches=2 \
  --trainer.enable_progress_bar=false --trainer.default_root_dir="$work" \
  --callbacks.model_checkpoint.dirpath="$work/rckpt"
ck=$(ls "$work"/rckpt/resnet-val_acc=*.ckpt)
"$LHOST" predict --ckpt "$ck" --data "$data" --out rpred.csv "${limit[@]}"
"$PY" "$LH_SOURCE_DIR/tests/golden/torch_load_check.py" "$ck" "$data" rpred.csv "${first[@]}"
