#!/usr/bin/env bash
# The federation benchmark: starts two Synapse instances on free loopback ports through
# ../shared/synapse/synapse.sh (installing it first if its venv is missing), runs
# build/bench/mrt_federation_bench against them (one Synapse, then the two federating), and
# stops and wipes both instances whatever happens. Prints the tables and writes, to FED_OUT
# (default build/federation-<UTC time>): results.md (the tables, with the date, commit, machine
# and load), results.json (every figure) and run.log (progress).
#   bench/federation_run.sh [BUILD_DIR] [-- ARGS for mrt_federation_bench, e.g. --samples 50]
# Env: SYNAPSE_SH (default ../shared/synapse/synapse.sh beside the repository), MRT_SYNAPSE_ROOT
# (synapse.sh's, default /tmp/mrt-synapse), FED_OUT.
#
# Before wiping, it lists the content sizes of the m.room.encrypted events that the first
# instance stored (mrt's DM room payloads: messages and acks), a check of the size the raw room
# events were given (the program computes it with two E2eeMachines).
set -euo pipefail
cmdline="bench/federation_run.sh${*:+ $*}"
root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build
if [[ $# -gt 0 && $1 != -- ]]; then build=$1; shift; fi
[[ ${1:-} == -- ]] && shift
bench=$build/bench/mrt_federation_bench
[[ -x $bench ]] || { echo "no $bench: cmake --build $build -j1 --target mrt_federation_bench" >&2; exit 2; }
synapse=${SYNAPSE_SH:-$root/../shared/synapse/synapse.sh}
[[ -x $synapse ]] || { echo "no $synapse (set SYNAPSE_SH)" >&2; exit 2; }
sroot=${MRT_SYNAPSE_ROOT:-/tmp/mrt-synapse}
[[ -x $sroot/venv/bin/python ]] || "$synapse" install

stamp=$(date -u '+%Y%m%d-%H%M%S')
out=${FED_OUT:-$build/federation-$stamp}
mkdir -p "$out"
names=("fedbench-$$-1" "fedbench-$$-2")
# shellcheck disable=SC2317  # run by the trap
cleanup() {
  for n in "${names[@]}"; do "$synapse" wipe "$n" >/dev/null 2>&1 || true; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Four free ports (asked of the kernel, then released: another process could take one before
# Synapse binds it, in which case synapse.sh says "port in use" and this run stops).
read -r c1 f1 c2 f2 < <(/usr/bin/python3 -c '
import socket
socks = [socket.socket() for _ in range(4)]
for s in socks: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
for s in socks: s.close()')
"$synapse" start "${names[0]}" "$c1" "$f1" >&2
"$synapse" start "${names[1]}" "$c2" "$f2" >&2
pid1=$(cat "$sroot/${names[0]}/pid")
pid2=$(cat "$sroot/${names[1]}/pid")

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date -u '+%Y-%m-%d %H:%M UTC')
status=0
"$bench" --hs1 "127.0.0.1:$f1=http://127.0.0.1:$c1" --hs2 "127.0.0.1:$f2=http://127.0.0.1:$c2" \
  --pid1 "$pid1" --pid2 "$pid2" --json "$out/results.json" "$@" \
  >"$out/tables.md" 2> >(tee "$out/run.log" >&2) || status=$?
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# mrt's Megolm payloads as the first server stored them: content bytes, how many events.
sizes=$(/usr/bin/python3 - "$sroot/${names[0]}/homeserver.db" <<'PY'
import collections, json, sqlite3, sys
db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
counts = collections.Counter()
for (text,) in db.execute("SELECT json FROM event_json JOIN events USING (event_id) "
                          "WHERE events.type = 'm.room.encrypted'"):
    content = json.loads(text)["content"]
    counts[len(json.dumps(content, separators=(",", ":"), ensure_ascii=False))] += 1
print(", ".join(f"{n} x {size} B" for size, n in counts.most_common(6)))
PY
) || sizes="(not read)"

{
  echo "# Federation benchmark, $started"
  echo
  echo "$cmdline, commit $(git -C "$root" rev-parse --short HEAD)$(git -C "$root" diff --quiet HEAD -- . || echo ' (with uncommitted changes)'),"
  echo "$(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), load average $load_before before, $load_after after;"
  echo "Synapse instances ${names[0]} (127.0.0.1:$f1, client $c1) and ${names[1]} (127.0.0.1:$f2, client $c2)."
  echo "m.room.encrypted contents stored by the first (most common sizes): $sizes."
  echo
  cat "$out/tables.md"
} >"$out/results.md"
cat "$out/results.md"
echo "wrote $out/results.md, results.json, run.log" >&2
exit "$status"
