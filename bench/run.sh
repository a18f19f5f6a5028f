#!/usr/bin/env bash
# Runs the benchmarks and the node references (ethers, vodozemac) in one go and prints the
# markdown tables of docs/benchmarks.md (ratios computed from this run only).
#   bench/run.sh [BUILD_DIR]      (default: build; needs `npm ci` for the node references)
# Node to node (two mrt::Node and matrix-js-sdk over `mrt serve`) is bench/node_run.sh.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

"$build/bench/mrt_bench" --benchmark_repetitions=5 --benchmark_min_time=0.3 \
  --benchmark_enable_random_interleaving=true --benchmark_format=json >"$out/mrt.json"
node "$root/bench/ethers_verify.mjs" --seconds 3 >"$out/ethers.json"
node "$root/bench/vodozemac_megolm.mjs" --seconds 2 >"$out/vodozemac.json"
node "$root/bench/report.mjs" "$out/mrt.json" "$out/ethers.json" "$out/vodozemac.json"
