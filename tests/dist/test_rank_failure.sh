# tests/dist/test_rank_failure.sh — a rank that dies or hangs ends the job with a message, not a
# silent hang: rank 1 killed mid-epoch (SIGKILL) ends the job well within trainer.dist_timeout;
# rank 1 frozen (SIGSTOP) makes rank 0's next collective time out and abort the job, naming
# the collective and trainer.dist_timeout.
# Run: ctest --test-dir build -R dist_test_rank_failure --output-on-failure
source "$(dirname "$0")/common.sh"
"$LH_SYNTH" "$WORK/data" 2048 64
mkdir "$WORK/run"
cd "$WORK/run"
cat > cfg.yaml <<'YAML'
seed: 1
data: {path: ../data, batch_size: 8}
model:
  layers:
    - {type: flatten}
    - {type: linear, name: fc, out_features: 10}
trainer: {max_epochs: 1000, threads: 1, enable_progress_bar: false, default_root_dir: .,
          dist_timeout: 5}
YAML
# Start 2 ranks; once they train, send `sig` to rank 1; the job must end within `limit` s.
run_and_hit() {
    local sig=$1 limit=$2 out=$3 pid r1="" i start
    mpirun --allow-run-as-root --oversubscribe -np 2 -x LHOST_DATA_CACHE=0 "$LHOST" train \
        -c cfg.yaml > "$out" 2>&1 &
    pid=$!
    for i in $(seq 100); do
        grep -q '^first batch' "$out" 2>/dev/null && break
        sleep 0.1
    done
    for p in $(pgrep -P $pid); do
        if tr '\0' '\n' < /proc/$p/environ 2>/dev/null | grep -qx 'OMPI_COMM_WORLD_RANK=1'; then
            r1=$p
        fi
    done
    [ -n "$r1" ] || { kill $pid; cat "$out"; fail "rank 1's process not found"; }
    sleep 0.5
    start=$(date +%s)
    kill -$sig $r1
    for i in $(seq $((limit * 10))); do
        kill -0 $pid 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 $pid 2>/dev/null; then
        kill -9 $pid $r1 2>/dev/null || true
        cat "$out"
        fail "the job still ran $limit s after rank 1 got SIG$sig"
    fi
    if wait $pid; then
        cat "$out"
        fail "the job exited 0 after rank 1 got SIG$sig"
    fi
    echo "SIG$sig: the job ended after $(($(date +%s) - start)) s"
}
run_and_hit KILL 30 kill.txt
grep -Eiq 'signal 9|killed|exited' kill.txt || { cat kill.txt; fail "no message naming the death"; }
run_and_hit STOP 30 stop.txt
grep -q 'did not complete within 5 s (trainer.dist_timeout)' stop.txt ||
    { cat stop.txt; fail "no timeout message"; }
grep -m1 'trainer.dist_timeout' stop.txt
echo PASS
