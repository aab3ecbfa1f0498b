#!/bin/bash
# Scaling table from `ltrain benchmark`: batch size, image size, threads.
cd "$(dirname "$0")/.."
B=${LTRAIN:-build/core/ltrain}
row() { # label, args...
  local label=$1; shift
  $B benchmark "$@" --steps 10 --warmup 2 --json 2>/dev/null | python3 -c "
import json,sys; d=json.load(sys.stdin)
print(f\"| $label | {d['ms_median']:.1f} | {d['img_per_s']:.0f} | {d['gflops']:.0f} | {d['peak_rss_mb']:.0f} |\")"
}
echo "resnet18-cls-64 train, 2 threads, batch sweep"
echo "| batch | ms/step | img/s | GFLOP/s | peak RSS MiB |"; echo "|---|---|---|---|---|"
for b in 8 16 32 64; do row "$b" --config configs/benchmarks/resnet18-cls-64.yaml --batch $b --threads 2; done
echo; echo "resnet18 train, batch 8, 2 threads, image-size sweep"
echo "| image | ms/step | img/s | GFLOP/s | peak RSS MiB |"; echo "|---|---|---|---|---|"
for s in 64 128 224; do row "${s}x${s}" --config configs/benchmarks/resnet18-cls-224.yaml --threads 2 trainer.preprocessing.train_image_size "[$s,$s]"; done
echo; echo "threads 1 -> 2 (train)"
echo "| workload / threads | ms/step | img/s | GFLOP/s | peak RSS MiB |"; echo "|---|---|---|---|---|"
for c in resnet18-cls-64 resnet18-cls-224 small-cnn-mnist unet-seg mlp; do for t in 1 2; do row "$c / $t" --config configs/benchmarks/$c.yaml --threads $t; done; done
