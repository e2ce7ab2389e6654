# tests/dist/test_accumulate.sh — accumulation under data parallelism: 2 ranks x batch 16 x
# accumulate_grad_batches 2 step as 1 process x batch 64 (each rank's gradient all-reduced per
# batch, the sum / 2 clipped once per step): every weight and momentum within 1e-5.
# Run: ctest --test-dir build -R dist_test_accumulate --output-on-failure
source "$(dirname "$0")/common.sh"
"$LH_SYNTH" "$WORK/data" 256 64
cat > "$WORK/cfg.yaml" <<'YAML'
seed: 11
data: {path: ../data, batch_size: 64}
model:
  layers:
    - {type: flatten}
    - {type: linear, name: fc, out_features: 10}
    - {type: relu}
    - {type: linear, name: out, out_features: 10}
optimizer: {name: sgd, lr: 0.5, momentum: 0.9}
trainer: {max_epochs: 1, limit_val_batches: 0, threads: 1, gradient_clip_val: 0.5,
          enable_progress_bar: false, default_root_dir: .}
callbacks:
  model_checkpoint: {dirpath: ckpt, save_last: true}
YAML
mkdir "$WORK/one" "$WORK/two"
cp "$WORK/cfg.yaml" "$WORK/one/" && cp "$WORK/cfg.yaml" "$WORK/two/"
(cd "$WORK/one" && "$LHOST" train -c cfg.yaml > out.txt 2>&1) ||
    { cat "$WORK/one/out.txt"; fail "1 x 64 failed"; }
(cd "$WORK/two" && mpi 2 train -c cfg.yaml --data.batch_size=16 \
    --trainer.accumulate_grad_batches=2 > out.txt 2>&1) ||
    { cat "$WORK/two/out.txt"; fail "2 x 16 x 2 failed"; }
[ -e "$WORK/two/ckpt/epoch=0-step=4.ckpt" ] || fail "no epoch=0-step=4.ckpt: $(ls "$WORK/two/ckpt")"
"$LH_CKPT_CMP" "$WORK/one/ckpt/last.ckpt" "$WORK/two/ckpt/last.ckpt" 1e-5 ||
    fail "2 x 16 x 2 trained other weights than 1 x 64"
echo PASS
