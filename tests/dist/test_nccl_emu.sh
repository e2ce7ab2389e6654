# tests/dist/test_nccl_emu.sh — data parallel on the CUDA backend: under mpirun each rank takes
# its local rank's device and the gradients are all-reduced through NCCL (here the emulated CUDA
# module, tests/cuda_emu, whose NCCL meets the other ranks in shared memory), MPI carrying only
# rank 0's communicator id. 2 ranks x batch 32 on the emulated GPUs train every weight of 2 ranks
# on the CPU and of 1 process x batch 64 within 1e-5; two ranks on one device are refused as NCCL
# refuses them. 257 samples leave rank 1 none in the last step: it still takes part.
# Run: ctest --test-dir build -R dist_test_nccl_emu --output-on-failure
source "$(dirname "$0")/common.sh"
if [ -z "${LH_CUDA_EMU:-}" ]; then
    echo "SKIP: the emulated CUDA module (tests/cuda_emu) is not built"
    exit 77
fi
"$LH_SYNTH" "$WORK/data" 257 64
cat > "$WORK/cfg.yaml" <<'YAML'
seed: 5
data: {path: ../data, batch_size: 32}
model:
  layers:
    - {type: conv2d, name: conv1, out_channels: 4, kernel_size: 3, padding: 1}
    - {type: relu}
    - {type: maxpool2d, kernel_size: 2}
    - {type: flatten}
    - {type: linear, name: fc, out_features: 10}
trainer: {max_epochs: 1, threads: 1, enable_progress_bar: false, default_root_dir: .}
callbacks:
  model_checkpoint: {dirpath: ckpt, save_last: true, save_top_k: 0}
YAML
for d in one cpu gpu dup; do mkdir "$WORK/$d" && cp "$WORK/cfg.yaml" "$WORK/$d/"; done
# mpirun with the emulated module and `n` emulated devices on this machine.
emu() {
    local n=$1
    shift
    timeout 300 mpirun --allow-run-as-root --oversubscribe -np 2 -x LHOST_DATA_CACHE=0 \
        -x LHOST_CUDA_MODULE="$LH_CUDA_EMU" -x LHOST_CUDA_EMU_DEVICES="$n" \
        -x LHOST_CUDA_EMU_NCCL_TIMEOUT=60 "$LHOST" "$@"
}
(cd "$WORK/one" && "$LHOST" train -c cfg.yaml --data.batch_size=64 > out.txt 2>&1) ||
    { cat "$WORK/one/out.txt"; fail "1 x 64 failed"; }
(cd "$WORK/cpu" && mpi 2 train -c cfg.yaml > out.txt 2>&1) ||
    { cat "$WORK/cpu/out.txt"; fail "2 x 32 on the CPU failed"; }
(cd "$WORK/gpu" && emu 2 train -c cfg.yaml --trainer.device=cuda > out.txt 2>&1) ||
    { cat "$WORK/gpu/out.txt"; fail "2 x 32 on the emulated GPUs failed"; }
grep -q '^Data parallel: 2 ranks, .*(NCCL) after backward$' "$WORK/gpu/out.txt" ||
    { cat "$WORK/gpu/out.txt"; fail "the run did not say it all-reduces through NCCL"; }
# Rank 0 joined a 2-rank NCCL communicator (its Device line), on device 0.
grep -q '^Device: cuda:0: .*NCCL [0-9.]* rank 0 of 2' "$WORK/gpu/out.txt" ||
    { cat "$WORK/gpu/out.txt"; fail "rank 0 did not report its NCCL communicator"; }
"$LH_CKPT_CMP" "$WORK/cpu/ckpt/last.ckpt" "$WORK/gpu/ckpt/last.ckpt" 1e-5 ||
    fail "2 x 32 through NCCL trained other weights than 2 x 32 through MPI"
"$LH_CKPT_CMP" "$WORK/one/ckpt/last.ckpt" "$WORK/gpu/ckpt/last.ckpt" 1e-5 ||
    fail "2 x 32 through NCCL trained other weights than 1 x 64"
# One device for two ranks: both would take it; NCCL refuses that, and so does the job.
if (cd "$WORK/dup" && emu 1 train -c cfg.yaml --trainer.device=cuda:0 > out.txt 2>&1); then
    cat "$WORK/dup/out.txt"
    fail "two ranks on one device trained"
fi
grep -q 'joining the communicator as rank [01] of 2: .*invalid usage' "$WORK/dup/out.txt" ||
    { cat "$WORK/dup/out.txt"; fail "no message naming the communicator and the usage"; }
echo PASS
