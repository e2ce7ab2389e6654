# tests/dist/test_val_sharding.sh — validation sharded exactly: 3 ranks validate 100 samples
# (13 batches of 8, the last of 4: divisible by 3 neither) to the single process's val_acc,
# AUROC (a cat state, gathered in order) and confusion matrix counts (every sample once: 100 in
# all, none padded or twice) exactly and its val_loss within 1e-9 relative. SGD with
# lr 0 keeps the weights at their (seeded) initial values, so only validation can differ.
# Run: ctest --test-dir build -R dist_test_val_sharding --output-on-failure
source "$(dirname "$0")/common.sh"
"$LH_SYNTH" "$WORK/data" 240 100
for np in 1 3; do
    mkdir "$WORK/np$np"
    cat > "$WORK/np$np/cfg.yaml" <<'YAML'
seed: 3
data: {path: ../data, batch_size: 8}
model:
  layers:
    - {type: flatten}
    - {type: linear, name: fc, out_features: 10}
optimizer: {name: sgd, lr: 0.0}
trainer: {max_epochs: 1, threads: 1, limit_train_batches: 2, enable_progress_bar: false,
          default_root_dir: .}
metrics:
  acc: {plugin: accuracy, num_classes: 10}
  auroc: {plugin: auroc, num_classes: 10}
  cm: {plugin: confusion_matrix, num_classes: 10}
callbacks:
  model_checkpoint: {dirpath: ckpt, save_last: true}
YAML
    (cd "$WORK/np$np" && mpi $np train -c cfg.yaml > out.txt 2>&1) ||
        { cat "$WORK/np$np/out.txt"; fail "$np ranks failed"; }
done
for key in val_acc val_auroc val_loss; do
    a=$(logged "$WORK/np1/ckpt/last.ckpt" $key)
    b=$(logged "$WORK/np3/ckpt/last.ckpt" $key)
    echo "$key: 1 rank $a, 3 ranks $b"
    [ -n "$a" ] || fail "no $key logged"
    if [ $key = val_loss ]; then
        close "$b" "$a" 1e-9 || fail "$key differs by more than 1e-9 relative"
    else
        [ "$a" = "$b" ] || fail "$key differs"
    fi
done
counts() {
    "$LHOST" ckpt inspect --verbose "$1" | grep -o '"key":"val_cm_[0-9]*","value":"[^"]*"'
}
c1=$(counts "$WORK/np1/ckpt/last.ckpt")
c3=$(counts "$WORK/np3/ckpt/last.ckpt")
total=$(echo "$c1" | sed 's/.*"value":"\([^"]*\)"/\1/' | awk '{ s += $1 } END { print s }')
echo "confusion matrix: $(echo "$c1" | wc -l) cells, $total samples"
[ "$total" = 100 ] || fail "the single process counted $total samples, expected 100"
[ "$c1" = "$c3" ] || fail "3 ranks counted other confusion matrix cells than 1"
echo PASS
