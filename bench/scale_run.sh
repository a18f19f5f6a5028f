#!/usr/bin/env bash
# Issue 7's scale curve: `mrt_network_bench scale` for 2, 10, 50 and 100 nodes, each in a fresh
# process with its own `mrt serve`, one after the other; writes the figures to
# docs/scale_curve.dat (with the date, commit and load in its header) and draws
# docs/scale_curve.svg with bench/scale_curve.gp.
#   bench/scale_run.sh [BUILD_DIR]     (default: build; gnuplot from Debian's gnuplot-nox)
# SCALE_NODES (default "2 10 50 100") and SCALE_ARGS (options of each run, e.g. "--rate 200
# --seconds 10") change the runs; each run's JSON line is also printed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for n in ${SCALE_NODES:-2 10 50 100}; do
  # shellcheck disable=SC2086
  "$build/bench/mrt_network_bench" scale --nodes "$n" ${SCALE_ARGS:-} | tee -a "$out/scale.jsonl"
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

dat=$root/docs/scale_curve.dat
{
  echo "# bench/scale_run.sh, $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git -C "$root" rev-parse --short HEAD)"
  echo "# runs: mrt_network_bench scale --nodes N ${SCALE_ARGS:-}; load average before $load_before, after $load_after"
  echo "# CPU in microseconds per delivered message; memory in MiB; idle CPU in ms per second"
  echo "# nodes node_cpu_us server_cpu_us total_cpu_us rss_per_node_mib server_rss_mib idle_node_ms_per_s idle_server_ms_per_s p50_ms p99_ms msgs_per_payload"
  jq -r '[.nodes, .cpu_us_per_msg, .server_cpu_us_per_msg, .total_cpu_us_per_msg,
          .rss_mib_per_node, .server_rss_mib, .idle_cpu_ms_per_s, .idle_server_cpu_ms_per_s,
          .latency_p50_ms, .latency_p99_ms, .msgs_per_payload] | @tsv' "$out/scale.jsonl"
} >"$dat"
gnuplot -e "datafile='$dat'; outfile='$root/docs/scale_curve.svg'" "$root/bench/scale_curve.gp"
echo "wrote $dat and docs/scale_curve.svg" >&2
