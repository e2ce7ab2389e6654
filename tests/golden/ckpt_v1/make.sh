#!/bin/sh
# tests/golden/ckpt_v1/make.sh — write the format-1 checkpoints test_ckpt_compat loads.
#
#   tests/golden/ckpt_v1/make.sh LHOST_EXE
#
# LHOST_EXE is an lhost built from a tree whose checkpoints are format 1 (SGD's momentum saved
# as optimizer.exp_avg.*; the last such commit is fad22e9), with its plugins built next to it
# (cmake -DLHOST_CUDA=OFF, then `cmake --build build`). For each of sgd.yaml and adam.yaml it
# trains 2 epochs of 3 batches on the synthetic data of tests/unit/synth_data.h (64 training and
# 32 test images, 10 classes, as synth_dataset writes them) and keeps
#   <opt>-step4.ckpt  saved after global step 4, inside epoch 1 (resume_batch 1)
#   <opt>-last.ckpt   the end of the run (step 6), what resuming from step 4 must reach
set -eu
exe=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/lhost_ckpt_v1_XXXXXX)
trap 'rm -rf "$work"' EXIT
cat > "$work/synth.c" <<'C'
#include "synth_data.h"
int main(int argc, char **argv)
{
    return argc == 2 && synth_dataset(argv[1], 64, 32, 10) == 0 ? 0 : 1;
}
C
cc -O2 -I "$here/../../unit" -o "$work/synth" "$work/synth.c" -lz
mkdir "$work/data"
"$work/synth" "$work/data"
for opt in sgd adam; do
    mkdir "$work/$opt"
    cp "$here/$opt.yaml" "$work/$opt/cfg.yaml"
    (cd "$work/$opt" && "$exe" train --config cfg.yaml > train.log 2>&1) || {
        cat "$work/$opt/train.log"; exit 1; }
    cp "$work/$opt/ckpt/epoch=1-step=4.ckpt" "$here/$opt-step4.ckpt"
    cp "$work/$opt/ckpt/last.ckpt" "$here/$opt-last.ckpt"
done
ls -l "$here"/*.ckpt
