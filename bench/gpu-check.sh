#!/usr/bin/env bash
# The engine on an NVIDIA GPU through WebGPU (Dawn, Vulkan) beside PyTorch, in one call.
#
# Here, in the project root (about 1.5 min; `.gpu/` is git-excluded):
#   bash ../shared/gpu/prepare.sh bench/engine.ts .gpu
# On the GPU machine, from the project root (the device tool: carry [".gpu"], timeout_s 540):
#   bash bench/gpu-check.sh [more bench flags]
#
# Prints the adapter's features and subgroupMatrixConfigs (the Dawn instance is created with
# enable-dawn-features=allow_unsafe_apis), then runs micro@32 b1024 and DeiT-Tiny@224/16/RGB b256
# on the compiled WebGPU step in both precisions (fp32, and mixed: f16 matmul inputs through the
# subgroup-matrix kernels where the adapter lists an f16→f32 configuration, else f16 register-
# tiled, with loss scaling) and on tfjs-webgpu (fp32) (--json lines: precision, matmul family,
# dispatches, host ms, GPU ms, images/s, skipped steps), after one forward matmul per precision at
# DeiT-Tiny's shapes (--matmul-bench: TFLOP/s, the tensor-core gain over fp32); volo-micro@32 b256
# and VOLO-D1's sizes @224/16/RGB b32 on tfjs-webgpu (the compiled step is ViT-only: those cases
# report that and go on); then the ViTs in PyTorch (torch_reference.py: fp32 and bf16, TORCH_CASES;
# it knows no VOLO) on the same card. CASES overrides the shapes (variant:side:patch:channels:batch,…),
# ENGINES the engines, PRECISIONS the precisions, STEPS the timed steps, CASE_SECONDS the time each
# case may spend on timed steps. Logs land in $OUT (entry.log, torch.log) when set.
set -uo pipefail
cd "$(dirname "$0")/.."
[ -f .gpu/entry.mjs ] || { echo ".gpu/entry.mjs is missing: run bash ../shared/gpu/prepare.sh bench/engine.ts .gpu" >&2; exit 1; }
vit_cases=micro:32:4:1:1024,tiny:224:16:3:256
cases=${CASES:-$vit_cases,volo-micro:32:4:1:256,volo-d1:224:16:3:32}
export TORCH_CASES=${TORCH_CASES-$vit_cases}
export AUTOPROG_DAWN_FLAGS="${AUTOPROG_DAWN_FLAGS:-enable-dawn-features=allow_unsafe_apis}"
# The outer timeout keeps one hung step from eating the whole device budget; torch has its own 120 s.
timeout "${CHECK_SECONDS:-400}" bash .gpu/run.sh --engine "${ENGINES:-compiled,tfjs}" --backends webgpu \
  --precision "${PRECISIONS:-fp32,mixed}" --matmul-bench \
  --cases "$cases" --steps "${STEPS:-5}" --case-seconds "${CASE_SECONDS:-30}" --adapter-report --json --profile "$@"
