# tests/dist/test_resume_world.sh — the data cursor is global: a 2-rank run's checkpoint taken
# mid-epoch (every_n_train_steps) resumes into 1 rank and into 3 ranks and finishes, each
# resuming at the same sample of the same order.
# Run: ctest --test-dir build -R dist_test_resume_world --output-on-failure
source "$(dirname "$0")/common.sh"
"$LH_SYNTH" "$WORK/data" 384 64
mkdir "$WORK/run"
cd "$WORK/run"
cat > cfg.yaml <<'YAML'
seed: 9
data: {path: ../data, batch_size: 8}
model:
  layers:
    - {type: flatten}
    - {type: linear, name: fc, out_features: 10}
trainer: {max_epochs: 2, threads: 1, enable_progress_bar: false, default_root_dir: .}
metrics:
  acc: {plugin: accuracy, num_classes: 10}
callbacks:
  model_checkpoint: {dirpath: ckpt, every_n_train_steps: 6, save_top_k: -1, save_last: true}
YAML
# 2 ranks x 8: 24 global batches of 16 an epoch; step 6 is 96 samples into epoch 0.
mpi 2 train -c cfg.yaml --trainer.max_epochs=1 > two.txt 2>&1 || { cat two.txt; fail "2 ranks"; }
ck=ckpt/epoch=0-step=6.ckpt
[ -f "$ck" ] || { ls ckpt; fail "no $ck"; }
for np in 1 3; do
    # 96 samples: batch 12 of 8 alone, batch 4 of 24 on 3 ranks.
    mpi $np train -c cfg.yaml --resume "$ck" > resume$np.txt 2>&1 ||
        { cat resume$np.txt; fail "resume into $np ranks failed"; }
    want=$((96 / (np * 8)))
    grep -q "^Resumed from $ck at epoch 0, batch $want " resume$np.txt ||
        { cat resume$np.txt; fail "$np ranks did not resume at batch $want"; }
    grep -q 'max_epochs=2. reached' resume$np.txt ||
        { cat resume$np.txt; fail "the $np-rank run did not finish"; }
done
echo PASS
