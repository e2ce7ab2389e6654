# tests/dist/test_overlap.sh — the gradient all-reduce overlapped with backward
# (LHOST_DIST_OVERLAP=1: one nonblocking all-reduce per layer, started as backward finishes it)
# trains the same bits as the flat all-reduce after backward, and within 1e-5 of 1 process x
# batch 64; 257 samples leave rank 1 no sample in the last step, where it must still take part.
# Run: ctest --test-dir build -R dist_test_overlap --output-on-failure
source "$(dirname "$0")/common.sh"
"$LH_SYNTH" "$WORK/data" 257 64
cat > "$WORK/cfg.yaml" <<'YAML'
seed: 3
data: {path: ../data, batch_size: 32}
model:
  layers:
    - {type: conv2d, name: conv1, out_channels: 4, kernel_size: 3, padding: 1}
    - {type: relu}
    - {type: maxpool2d, kernel_size: 2}
    - {type: conv2d, name: conv2, out_channels: 6, kernel_size: 3, padding: 1}
    - {type: relu}
    - {type: flatten}
    - {type: linear, name: fc, out_features: 10}
trainer: {max_epochs: 2, threads: 1, enable_progress_bar: false, default_root_dir: .}
callbacks:
  model_checkpoint: {dirpath: ckpt, save_last: true, save_top_k: 0}
YAML
for d in one flat overlap; do mkdir "$WORK/$d" && cp "$WORK/cfg.yaml" "$WORK/$d/"; done
(cd "$WORK/one" && "$LHOST" train -c cfg.yaml --data.batch_size=64 > out.txt 2>&1) ||
    { cat "$WORK/one/out.txt"; fail "1 x 64 failed"; }
(cd "$WORK/flat" && mpi 2 train -c cfg.yaml > out.txt 2>&1) ||
    { cat "$WORK/flat/out.txt"; fail "2 x 32, flat all-reduce, failed"; }
(cd "$WORK/overlap" && LHOST_DIST_OVERLAP=1 mpi 2 train -c cfg.yaml \
    > out.txt 2>&1) || { cat "$WORK/overlap/out.txt"; fail "2 x 32, overlapped, failed"; }
grep -q '^Data parallel: 2 ranks, .*by MPI after backward$' "$WORK/flat/out.txt" ||
    { cat "$WORK/flat/out.txt"; fail "the flat run did not say how it all-reduces"; }
grep -q '^Data parallel: 2 ranks, .*by MPI under backward, 3 buckets$' "$WORK/overlap/out.txt" ||
    { cat "$WORK/overlap/out.txt"; fail "the overlapped run did not say it overlaps"; }
"$LH_CKPT_CMP" "$WORK/flat/ckpt/last.ckpt" "$WORK/overlap/ckpt/last.ckpt" 0 ||
    fail "the overlapped all-reduce trained other weights than the flat one"
"$LH_CKPT_CMP" "$WORK/one/ckpt/last.ckpt" "$WORK/overlap/ckpt/last.ckpt" 1e-5 ||
    fail "2 x 32 overlapped trained other weights than 1 x 64"
# A value that is neither 0 nor 1 is refused, naming the variable.
if (cd "$WORK/overlap" && LHOST_DIST_OVERLAP=yes mpi 2 train -c cfg.yaml > bad.txt 2>&1); then
    fail "LHOST_DIST_OVERLAP=yes trained"
fi
grep -q 'LHOST_DIST_OVERLAP: expected 0 .* or 1 .*, got "yes"' "$WORK/overlap/bad.txt" ||
    { cat "$WORK/overlap/bad.txt"; fail "no message naming LHOST_DIST_OVERLAP"; }
echo PASS
