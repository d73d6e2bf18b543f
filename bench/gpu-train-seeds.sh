#!/usr/bin/env bash
# Many seeds of a spec's arms at once on one NVIDIA GPU (webgpu), for accuracy where one run
# per arm says little. Each run is its own `autoprog train` process: a step of a small ViT is
# host-bound, so runs side by side keep the GPU busy. Their times contend with each other; read
# accuracy and FLOPs from them, not seconds (bench:paper-table --untimed).
#
# Here: bash bench/gpu-worker-check.sh --prepare   (the same .gpu/ bundle)
# There (the device tool: carry [".gpu"]):
#   bash bench/gpu-train-seeds.sh SPEC "ARM:SEED ARM:SEED …"
# Each run's result JSON and log go into $OUT/results.tar.gz (the device tool returns at most 8
# files). RUN_SECONDS bounds every run (default 400).
set -uo pipefail
cd "$(dirname "$0")/.."
spec=$1
runs=$2
out=${OUT:-/tmp/gpu-out}
mkdir -p "$out"
source bench/gpu-node.sh
results=/tmp/gpu-seeds
rm -rf "$results" && mkdir -p "$results"
start=$(date +%s)
for run in $runs; do
  arm=${run%%:*} seed=${run##*:}
  timeout "${RUN_SECONDS:-400}" "$node" .gpu/cli/entry.mjs train "$spec" --arm "$arm" --seed "$seed" \
    --backend "${BACKEND:-webgpu}" --no-progress --out "$results/$arm-$seed.json" \
    >"$results/$arm-$seed.log" 2>&1 &
done
wait
echo "all runs ended after $(($(date +%s) - start)) s"
(cd "$results" && grep -H "^done:" ./*.log)
tar -C "$results" -czf "$out/results.tar.gz" .
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null
