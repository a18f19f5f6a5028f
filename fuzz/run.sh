#!/usr/bin/env bash
# Runs the libFuzzer targets built by `cmake --preset fuzz && cmake --build build-fuzz -j1`.
#
#   fuzz/run.sh seeds                       (re)build the seed corpora from vectors/
#   fuzz/run.sh smoke [SECONDS]             every target for SECONDS (default 30) on a fresh copy
#                                           of its seeds, after replaying tests/fuzz_regressions;
#                                           fails on any crash, leak, timeout or OOM
#   fuzz/run.sh smoke-one TARGET [SECONDS]  the same for one target (what ctest runs)
#   fuzz/run.sh long TARGET [SECONDS] [-- libFuzzer flags…]
#                                           one target for SECONDS (default 3600, or until 10
#                                           million executions) on a corpus kept across runs
#   fuzz/run.sh regressions [TARGET]        replay tests/fuzz_regressions/<target>/* only
#   fuzz/run.sh list                        the targets
#
# Environment: MRT_FUZZ_BUILD_DIR (default build-fuzz, relative to the repository root),
# MRT_FUZZ_RUNS (long run's execution cap, default 10000000; 0 = no cap).
# Crashes land in $BUILD/fuzz-artifacts/<target>/ (crash-*, leak-*, timeout-*, oom-*);
# minimise one with `$BUILD/fuzz/<target>_fuzz -minimize_crash=1 -runs=100000 FILE` and save it
# under tests/fuzz_regressions/<target>/.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${MRT_FUZZ_BUILD_DIR:-build-fuzz}"
[[ "$BUILD" = /* ]] || BUILD="$ROOT/$BUILD"
TARGETS=(canonical_json ecrecover keystore hex_base64 address_userid vector_runner matrix_signing attestation envelope megolm_decrypt olm_decrypt key_export store_records e2ee_intake devserver_request matrix_response sync_batch oversized_element_filter capabilities live_challenge)

# Per-target options: -max_len and the dictionary.
target_flags() {
  local dict="-dict=$ROOT/fuzz/dict/json.dict"
  case "$1" in
    canonical_json|keystore|vector_runner|matrix_signing|attestation|envelope|store_records) echo "-max_len=4096 $dict" ;;
    megolm_decrypt|olm_decrypt|key_export|e2ee_intake) echo "-max_len=4096" ;;
    ecrecover|address_userid) echo "-max_len=512" ;;
    capabilities) echo "-max_len=1100 $dict" ;;
    live_challenge) echo "-max_len=1024 $dict" ;;
    hex_base64) echo "-max_len=1024" ;;
    matrix_response|sync_batch|oversized_element_filter) echo "-max_len=4096 -dict=$ROOT/fuzz/dict/json.dict" ;;
    devserver_request) echo "-max_len=4096 -dict=$ROOT/fuzz/dict/devserver.dict" ;;
    *) echo "unknown target $1" >&2; exit 2 ;;
  esac
}

common_flags() {
  # -timeout: no single input may take a second (kdf costs are capped by the harnesses).
  echo "-rss_limit_mb=2048 -timeout=10 -print_final_stats=1 -artifact_prefix=$BUILD/fuzz-artifacts/$1/"
}

binary() {
  local bin="$BUILD/fuzz/$1_fuzz"
  [[ -x "$bin" ]] || { echo "missing $bin: cmake --preset fuzz && cmake --build build-fuzz -j1" >&2; exit 2; }
  echo "$bin"
}

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

seeds() {
  if command -v node >/dev/null && [[ -d "$ROOT/node_modules/@noble/hashes" ]]; then
    (cd "$ROOT" && node fuzz/seeds.mjs vectors "$BUILD/corpus")
  else
    # Without node (or `npm ci`), the vector files themselves are the seeds of the JSON targets.
    echo "node or node_modules missing: seeding JSON targets with vectors/*.json only" >&2
    for t in "${TARGETS[@]}"; do rm -rf "$BUILD/corpus/$t"; mkdir -p "$BUILD/corpus/$t"; done
    for t in canonical_json keystore vector_runner matrix_signing attestation; do
      cp "$ROOT"/vectors/*.json "$BUILD/corpus/$t/"
    done
  fi
}

regressions() {
  local t bin files
  for t in "${@:-${TARGETS[@]}}"; do
    files=("$ROOT/tests/fuzz_regressions/$t"/*)
    [[ -e "${files[0]}" ]] || continue
    bin="$(binary "$t")"
    echo "== $t: replaying ${#files[@]} regression input(s)"
    "$bin" $(target_flags "$t") -runs=1 "${files[@]}"
  done
}

smoke_one() {
  local t="$1" seconds="${2:-30}" bin work rc=0
  bin="$(binary "$t")"
  [[ -d "$BUILD/corpus/$t" ]] || seeds
  work="$(mktemp -d)"
  cp -r "$BUILD/corpus/$t/." "$work/" 2>/dev/null || true
  mkdir -p "$BUILD/fuzz-artifacts/$t"
  echo "== $t: smoke run, ${seconds}s (log: $BUILD/fuzz-artifacts/$t/smoke.log)"
  "$bin" $(target_flags "$t") $(common_flags "$t") -max_total_time="$seconds" "$work" \
    > "$BUILD/fuzz-artifacts/$t/smoke.log" 2>&1 || rc=$?
  rm -rf "$work"
  if ((rc)); then
    tail -n 80 "$BUILD/fuzz-artifacts/$t/smoke.log"
    echo "== $t: FAILED (exit $rc), artifact in $BUILD/fuzz-artifacts/$t/" >&2
    return 1
  fi
  grep -E '^stat::(number_of_executed_units|peak_rss_mb)' "$BUILD/fuzz-artifacts/$t/smoke.log" || true
}

smoke() {
  local seconds="${1:-30}" t failed=()
  [[ -d "$BUILD/corpus" ]] || seeds
  regressions || failed+=(regressions)
  for t in "${TARGETS[@]}"; do
    smoke_one "$t" "$seconds" || failed+=("$t")
  done
  if ((${#failed[@]})); then
    echo "fuzz smoke FAILED: ${failed[*]} (artifacts in $BUILD/fuzz-artifacts/)" >&2
    exit 1
  fi
  echo "fuzz smoke passed: ${#TARGETS[@]} targets, ${seconds}s each"
}

long() {
  local t="${1:?usage: fuzz/run.sh long TARGET [SECONDS] [-- flags]}" seconds="${2:-3600}"
  shift; (($#)) && shift; [[ "${1:-}" == "--" ]] && shift
  local bin corpus
  bin="$(binary "$t")"
  [[ -d "$BUILD/corpus/$t" ]] || seeds
  corpus="$BUILD/corpus-long/$t"
  mkdir -p "$corpus" "$BUILD/fuzz-artifacts/$t"
  cp -rn "$BUILD/corpus/$t/." "$corpus/"
  local runs="${MRT_FUZZ_RUNS:-10000000}"
  ((runs > 0)) || runs=-1  # libFuzzer: -runs=-1 is no cap
  echo "== $t: long run, up to ${seconds}s / ${runs} executions, corpus $corpus"
  "$bin" $(target_flags "$t") $(common_flags "$t") -max_total_time="$seconds" \
    -runs="$runs" "$@" "$corpus"
}

case "${1:-}" in
  seeds) seeds ;;
  smoke) smoke "${2:-30}" ;;
  smoke-one) smoke_one "${2:?usage: fuzz/run.sh smoke-one TARGET [SECONDS]}" "${3:-30}" ;;
  long) shift; long "$@" ;;
  regressions) shift; regressions "$@" ;;
  list) printf '%s\n' "${TARGETS[@]}" ;;
  *) sed -n '2,19p' "$0"; exit 2 ;;
esac
