#!/usr/bin/env bash
# Runs the crypto benchmarks and the ethers baseline in one go and prints the markdown table
# of docs/benchmarks.md (ratios computed from this run only).
#   bench/run.sh [BUILD_DIR]      (default: build; needs `npm ci` for the ethers baseline)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

"$build/bench/mrt_bench" --benchmark_repetitions=5 --benchmark_min_time=0.3 \
  --benchmark_enable_random_interleaving=true --benchmark_format=json >"$out/mrt.json"
node "$root/bench/ethers_verify.mjs" --seconds 3 >"$out/ethers.json"
node "$root/bench/report.mjs" "$out/mrt.json" "$out/ethers.json"
