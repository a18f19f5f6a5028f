#!/usr/bin/env bash
# The network's scale curve: `mrt_network_bench scale` for 2, 10, 50 and 100 nodes, each in a fresh
# process with its own `mrt serve`, in SCALE_ROUNDS interleaved rounds (2, 10, 50, 100, 2, ...);
# writes each node count's median (and the spread of the CPU figures) to docs/scale_curve.dat,
# with the date, commit and load in its header, and draws docs/scale_curve.svg with
# bench/scale_curve.gp.
#   bench/scale_run.sh [BUILD_DIR]     (default: build; gnuplot from Debian's gnuplot-nox)
# SCALE_NODES (default "2 10 50 100"), SCALE_ROUNDS (default 3) and SCALE_ARGS (default
# "--rate 200 --seconds 3 --idle 5") change the runs; each run's JSON line is also printed.
#
# Why 3 seconds at 200 msg/s: mrt serve rewrites a device's whole record, with every transaction
# id it has sent, on each send (devserver/model.cpp), so its cost per message grows with what
# each node has sent; in long runs that hits 2 nodes (each sending half the load) far more than
# 100, and the slower server makes those 2 nodes batch more. Short runs keep every node count
# in the same regime (docs/benchmarks.md, "Network").
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
args=${SCALE_ARGS:---rate 200 --seconds 3 --idle 5}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for round in $(seq "${SCALE_ROUNDS:-3}"); do
  for n in ${SCALE_NODES:-2 10 50 100}; do
    # shellcheck disable=SC2086
    "$build/bench/mrt_network_bench" scale --nodes "$n" $args | tee -a "$out/scale.jsonl"
  done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

dat=$root/docs/scale_curve.dat
{
  echo "# bench/scale_run.sh, $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git -C "$root" rev-parse --short HEAD)"
  echo "# runs: mrt_network_bench scale --nodes N $args, ${SCALE_ROUNDS:-3} rounds; load average before $load_before, after $load_after"
  echo "# each column: the median of the rounds, on its own; _min/_max: the rounds' spread"
  echo "# CPU in microseconds per delivered message; memory in MiB; idle CPU in ms per second"
  echo "# nodes node_cpu_us server_cpu_us total_cpu_us rss_per_node_mib server_rss_mib idle_node_ms_per_s p50_ms p99_ms msgs_per_payload node_cpu_min node_cpu_max total_cpu_min total_cpu_max"
  jq -s -r 'group_by(.nodes)[] | . as $g
    | def med(f): [$g[] | f] | sort | .[(length - 1) / 2 | floor];
    [$g[0].nodes, med(.cpu_us_per_msg), med(.server_cpu_us_per_msg), med(.total_cpu_us_per_msg),
     med(.rss_mib_per_node), med(.server_rss_mib), med(.idle_cpu_ms_per_s),
     med(.latency_p50_ms), med(.latency_p99_ms), med(.msgs_per_payload),
     ([$g[].cpu_us_per_msg] | min), ([$g[].cpu_us_per_msg] | max),
     ([$g[].total_cpu_us_per_msg] | min), ([$g[].total_cpu_us_per_msg] | max)] | @tsv' \
    "$out/scale.jsonl"
} >"$dat"
gnuplot -e "datafile='$dat'; outfile='$root/docs/scale_curve.svg'" "$root/bench/scale_curve.gp"
echo "wrote $dat and docs/scale_curve.svg" >&2
