# tests/dist/test_dp_equivalence.sh — data parallel = one big batch: 2 ranks x batch 32 for one
# epoch give every weight of 1 process x batch 64 within 1e-5 (same seed), and exactly the
# checkpoint files one process writes (rank 0 alone writes them, and alone names them).
# Run: ctest --test-dir build -R dist_test_dp_equivalence --output-on-failure
source "$(dirname "$0")/common.sh"
"$LH_SYNTH" "$WORK/data" 512 96
cat > "$WORK/cfg.yaml" <<'YAML'
seed: 11
data: {path: ../data, batch_size: 32}
model:
  layers:
    - {type: conv2d, name: conv1, out_channels: 4, kernel_size: 3, padding: 1}
    - {type: relu}
    - {type: maxpool2d, kernel_size: 2}
    - {type: flatten}
    - {type: linear, name: fc, out_features: 10}
trainer: {max_epochs: 1, threads: 1, log_every_n_steps: 2, enable_progress_bar: false,
          default_root_dir: .}
metrics:
  acc: {plugin: accuracy, num_classes: 10}
callbacks:
  model_checkpoint: {dirpath: ckpt, monitor: val_acc, mode: max, save_top_k: 2, save_last: true,
                     filename: "m-{epoch}-{val_acc:.4f}"}
YAML
mkdir "$WORK/one" "$WORK/two"
cp "$WORK/cfg.yaml" "$WORK/one/" && cp "$WORK/cfg.yaml" "$WORK/two/"
(cd "$WORK/one" && "$LHOST" train -c cfg.yaml --data.batch_size=64 > out.txt 2>&1) ||
    { cat "$WORK/one/out.txt"; fail "1 x 64 failed"; }
(cd "$WORK/two" && mpi 2 train -c cfg.yaml > out.txt 2>&1) ||
    { cat "$WORK/two/out.txt"; fail "2 x 32 failed"; }
one=$(cd "$WORK/one" && find ckpt lightning_logs -type f | sort)
two=$(cd "$WORK/two" && find ckpt lightning_logs -type f | sort)
echo "files of 1 x 64:"; echo "$one"
[ "$one" = "$two" ] || { echo "files of 2 x 32:"; echo "$two"; fail "different files"; }
"$LH_CKPT_CMP" "$WORK/one/ckpt/last.ckpt" "$WORK/two/ckpt/last.ckpt" 1e-5 ||
    fail "2 x 32 trained other weights than 1 x 64"
# Rank 0 speaks for the job: one progress report, not two.
n=$(grep -c '^Logging to' "$WORK/two/out.txt" || true)
[ "$n" = 1 ] || { cat "$WORK/two/out.txt"; fail "expected one 'Logging to' line, got $n"; }
# Nor does any other rank name a checkpoint file: only rank 0 writes them, so another rank
# that named one would name rank 0's (or a -v1 next to it, having seen rank 0's file).
if grep '\.ckpt' "$WORK/two/out.txt" | grep -q '\[rank [0-9]*\]'; then
    grep '\.ckpt' "$WORK/two/out.txt"
    fail "a rank other than 0 named a checkpoint file"
fi
n=$(grep -c 'best_model_path=' "$WORK/two/out.txt" || true)
[ "$n" = 1 ] || { cat "$WORK/two/out.txt"; fail "expected one best_model_path line, got $n"; }
! grep -q -- '-v1' "$WORK/two/out.txt" || { cat "$WORK/two/out.txt"; fail "a -v1 name"; }
echo PASS
