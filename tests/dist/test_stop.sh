# tests/dist/test_stop.sh — stops reach every rank: EarlyStopping (which sees the same global
# val_loss on every rank) stops all ranks at the same epoch, and a stop asked on rank 1 alone
# (fixture stop_rank1, at step 3) stops the whole job after that epoch. A rank that went on
# alone would wait in a collective and the job would end by trainer.dist_timeout instead.
# Run: ctest --test-dir build -R dist_test_stop --output-on-failure
source "$(dirname "$0")/common.sh"
"$LH_SYNTH" "$WORK/data" 192 48
mkdir "$WORK/run"
cd "$WORK/run"
cat > cfg.yaml <<YAML
seed: 5
data: {path: ../data, batch_size: 16}
plugin_dirs: [$LH_DIST_FIXTURES/stop_rank1]
model:
  layers:
    - {type: flatten}
    - {type: linear, name: fc, out_features: 10}
trainer: {max_epochs: 8, threads: 1, enable_progress_bar: false, default_root_dir: .,
          dist_timeout: 30}
metrics:
  acc: {plugin: accuracy, num_classes: 10}
YAML
cp cfg.yaml es.yaml
cat >> es.yaml <<'YAML'
callbacks:
  early_stopping: {monitor: val_loss, mode: min, patience: 0, min_delta: 10.0}
YAML
mpi 2 train -c es.yaml > es.txt 2>&1 || { cat es.txt; fail "EarlyStopping run failed"; }
grep -q '^Stopped after epoch 1: ' es.txt || { cat es.txt; fail "EarlyStopping did not stop"; }
cp cfg.yaml rank1.yaml
cat >> rank1.yaml <<'YAML'
callbacks:
  stop_rank1: {}
YAML
mpi 2 train -c rank1.yaml > rank1.txt 2>&1 || { cat rank1.txt; fail "the rank-1 stop failed"; }
grep -q '^Stopped after epoch 0: ' rank1.txt ||
    { cat rank1.txt; fail "a stop on rank 1 did not stop the job after epoch 0"; }
echo PASS
