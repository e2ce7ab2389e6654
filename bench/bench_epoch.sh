#!/usr/bin/env bash
# bench/bench_epoch.sh — one epoch of the tutorial (train 60k + validate 10k, batch 64): the
# machine's FP32 FMA peak (bench/fma_probe) and the direct-convolution floor it sets for the
# epoch, then lhost under each conv algorithm and precision, then plain PyTorch with the same
# thread count when /usr/bin/python3 has torch; prints each as it runs and a summary of them all
# with the ratios. Never run two benchmarks at once on a 2-core machine.
#   bash bench/bench_epoch.sh [build-dir] [threads]
# LHOST_BENCH_ALGOS: the lhost entries, ALGORITHM[:PRECISION] (trainer.conv_algorithm,
#   trainer.precision; default 32), in that order; default below. The bf16-mixed entries are
#   left out where the CPU has neither avx512_bf16 nor AMX.
# LHOST_BENCH_BATCHES=N: train the first N batches of the epoch only (lhost and PyTorch alike;
#   validation stays the whole 10k), for a quick run on a loaded machine; 0 (default): all.
# LHOST_BENCH_EPOCHS=E: train E epochs (default 1) and report the first epoch's times and the
#   last epoch's val_acc, for issue 15's "val_acc after 3 epochs within 0.3 pp of fp32" (lhost
#   and PyTorch alike; each setting then takes E times as long).
# LHOST_BENCH_TORCH=0: leave PyTorch out (a second run of more epochs for lhost's val_acc).
# LHOST_BENCH_DATA: the Fashion-MNIST folder.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$src/build}" && pwd)
threads=${2:-2}
data=${LHOST_BENCH_DATA:-/usr/share/datasets/fashion-mnist}
algos=${LHOST_BENCH_ALGOS:-gemm direct winograd auto direct:bf16-mixed auto:bf16-mixed}
if ! grep -qwE 'avx512_bf16|amx_bf16' /proc/cpuinfo; then
  algos=$(printf '%s\n' $algos | grep -v bf16-mixed | tr '\n' ' ')
fi
batches=${LHOST_BENCH_BATCHES:-0}
case $batches in ''|*[!0-9]*)
  echo "bench_epoch.sh: LHOST_BENCH_BATCHES: expected a whole number, got \"$batches\"" >&2
  exit 1;;
esac
epochs=${LHOST_BENCH_EPOCHS:-1}
case $epochs in ''|0|*[!0-9]*)
  echo "bench_epoch.sh: LHOST_BENCH_EPOCHS: expected a whole number >= 1, got \"$epochs\"" >&2
  exit 1;;
esac
[ -x "$build/host/lhost" ] || { echo "bench_epoch.sh: no $build/host/lhost; build first" >&2
                                exit 1; }
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cd "$work"
load0=$(cut -d' ' -f1-3 /proc/loadavg)
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
echo "cpu: $cpu, $(nproc) CPUs; load average $load0; threads $threads"

# Training FLOP per sample of examples/seed.yaml's model, multiply-adds as 2 FLOP: a conv's
# forward is 2*H*W*Cout*Cin*9, its weight gradient the same and its input gradient (not needed
# for conv1, whose input is the data) the same; fc 2*6272*10 each way. 88.9 MFLOP.
flop_sample=$(awk 'BEGIN { c1 = 2*28*28*64*1*9; c2 = 2*14*14*128*64*9; fc = 2*6272*10
                           printf "%.0f", 2*c1 + 3*c2 + 3*fc }')
samples=60000
[ "$batches" = 0 ] || samples=$(( batches * 64 < 60000 ? batches * 64 : 60000 ))
limit=1.0; [ "$batches" = 0 ] || limit=$batches

# The FMA probe on `threads` threads; its peak sets the floor: the epoch's FLOP at that rate.
peak=""; peak_cpu=""
if [ -x "$build/bench/fma_probe" ] && probe=$("$build/bench/fma_probe" "$threads" 0.3 2>&1)
then
  printf '%s\n' "$probe"
  line=$(printf '%s\n' "$probe" | grep "^threads $threads:" || true)
  peak=$(printf '%s\n' "$line" | awk '{print $3}')
  peak_cpu=$(printf '%s\n' "$line" | awk '{print $6}')
else
  echo "fma_probe: skipped (${probe:-no $build/bench/fma_probe}); no floor"
fi
floor=""; floor_cpu=""
if [ -n "$peak" ]; then
  floor=$(awk -v f="$flop_sample" -v n="$samples" -v p="$peak" \
    'BEGIN { printf "%.6g", f * n / (p * 1e9) }')
  floor_cpu=$(awk -v f="$flop_sample" -v n="$samples" -v p="$peak_cpu" \
    'BEGIN { if (p + 0 > 0) printf "%.6g", f * n / (p * 1e9); else print "-" }')
  awk -v f="$flop_sample" -v n="$samples" -v p="$peak" -v fl="$floor" -v fc="$floor_cpu" \
    'BEGIN { if (fc != "-") fc = sprintf("%.2f", fc)
             printf "floor: %.1f MFLOP x %d samples = %.3f TFLOP: %.2f s at %.1f GFLOP/s " \
             "(wall), %s s at the CPU-time peak\n", f / 1e6, n, f * n / 1e12, fl, p, fc }'
fi

ratio() { # a / b to 2 decimals, or "-" when either is missing
  awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "-"
                                   else printf "%.2f", a / b }'
}
xratio() { local r; r=$(ratio "$1" "$2"); [ "$r" = - ] && echo "n/a" || echo "x$r"; }
names=(); trains=(); vals=(); accs=(); rsss=()
for entry in $algos; do
  algo=${entry%%:*}; prec=32; [ "$entry" = "$algo" ] || prec=${entry#*:}
  rm -rf "$work/lightning_logs" "$work/ckpt"
  /usr/bin/time -f 'peak_rss_kib %M' -o time.txt \
    "$build/host/lhost" train --config "$src/examples/seed.yaml" --trainer.max_epochs="$epochs" \
    --trainer.threads="$threads" --trainer.enable_progress_bar=false --data.path="$data" \
    --trainer.conv_algorithm="$algo" --trainer.precision="$prec" \
    --trainer.limit_train_batches="$limit" \
    --trainer.default_root_dir="$work" --callbacks.model_checkpoint.dirpath="$work/ckpt" \
    > lhost.log 2> lhost.err || { cat lhost.log lhost.err >&2; exit 1; }
  grep -E 'setup|^Epoch [0-9]' lhost.log
  epoch=$(grep -m1 '^Epoch 0:' lhost.log)
  train_s=$(printf '%s\n' "$epoch" | sed -n 's/.*batches in \([0-9.]*\)s.*/\1/p')
  val_s=$(printf '%s\n' "$epoch" | sed -n 's/.*validation \([0-9.]*\)s.*/\1/p')
  last=$(grep "^Epoch $((epochs - 1)):" lhost.log | head -1)
  acc=$(printf '%s\n' "$last" | sed -n 's/.*[ ,]val_acc=\([0-9.]*\).*/\1/p')
  first_ms=$(sed -n 's/.*first batch after \([0-9.]*\) ms.*/\1/p' lhost.log | head -1)
  rss=$(awk '{print int($2/1024)}' time.txt)
  names+=("lhost $algo $prec"); trains+=("$train_s"); vals+=("$val_s"); accs+=("$acc")
  rsss+=("$rss")
  echo "lhost ${algo} ${prec}: train ${train_s} s ($(xratio "$train_s" "$floor") of the floor," \
       "$(xratio "$train_s" "${trains[0]}") of ${algos%% *}), validate ${val_s} s," \
       "val_acc ${acc:--}, peak RSS ${rss} MiB, start to first batch ${first_ms} ms"
done

pt=""; pt_line="skipped (/usr/bin/python3 has no torch)"
[ "${LHOST_BENCH_TORCH:-1}" = 0 ] && pt_line="skipped (LHOST_BENCH_TORCH=0)"
if [ "${LHOST_BENCH_TORCH:-1}" != 0 ] && /usr/bin/python3 -c "import torch" 2>/dev/null; then
  py=$(/usr/bin/python3 "$src/bench/torch_epoch.py" --data "$data" --threads "$threads" \
       --epochs "$epochs" --limit-train-batches "$batches")
  printf '%s\n' "$py" | sed 's/^/pytorch epoch: /'
  first=$(printf '%s\n' "$py" | head -1); py=$(printf '%s\n' "$py" | tail -1)
  echo "pytorch: $py"
  read -r pt pt_val pt_acc pt_rss < <(/usr/bin/python3 -c 'import json, sys
d, e = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(d["train_s"], d["val_s"], e["val_acc"], e["peak_rss_mib"])' "$first" "$py")
  pt_line="train ${pt} s ($(xratio "$pt" "$floor") of the floor), validate ${pt_val} s,"
  pt_line+=" val_acc ${pt_acc}, peak RSS ${pt_rss} MiB"
else
  echo "pytorch: $pt_line"
fi

what="one train epoch (60000 samples)"
[ "$batches" = 0 ] || what="$batches training batches ($samples samples), not a whole epoch"
[ "$epochs" = 1 ] || what="$what (the first of $epochs; val_acc after the last)"
echo
echo "== summary: $what, $threads threads"
echo "load average $load0 before, $(cut -d' ' -f1-3 /proc/loadavg) after"
if [ -n "$peak" ]; then
  echo "FP32 FMA peak: $peak GFLOP/s wall, $peak_cpu GFLOP/s CPU time"
  awk -v a="$floor" -v b="$floor_cpu" 'BEGIN { if (b != "-") b = sprintf("%.2f", b)
    printf "direct-convolution floor: %.2f s at the wall peak, %s s at the CPU-time peak\n", a, b }'
else
  echo "FP32 FMA peak: skipped; no floor"
fi
printf '%-26s %9s %8s %10s %9s %9s %8s\n' "" "train s" "x floor" "x pytorch" "x first" \
  "val_acc" "RSS MiB"
for i in "${!names[@]}"; do
  printf '%-26s %9s %8s %10s %9s %9s %8s\n' "${names[$i]}" "${trains[$i]}" \
    "$(ratio "${trains[$i]}" "$floor")" "$(ratio "${trains[$i]}" "$pt")" \
    "$(ratio "${trains[$i]}" "${trains[0]}")" "${accs[$i]:--}" "${rsss[$i]}"
done
echo "pytorch: $pt_line"
