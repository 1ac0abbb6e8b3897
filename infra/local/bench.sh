#!/usr/bin/env bash
# Benchmarks: the collect handler's own cost (no I/O); each Lambda binary as Lambda runs it, against a
# DynamoDB stub (size, cold start, warm CPU, peak RSS); then the realtime figures on the local stack (a
# moto of its own: latencies there measure moto; request counts and sizes carry over to DynamoDB).
set -euo pipefail
cd "$(dirname "$0")/../.."
export MOTO_PORT="${BENCH_MOTO_PORT:-8766}"
source infra/local/env.sh
source infra/local/moto.sh

infra/local/venv.sh infra/local/requirements.txt
cargo bench -p collect
FUNCTION_CRATES=(-p collect -p aggregate -p realtime -p websocket -p broadcast -p web)
cargo build --release --quiet "${FUNCTION_CRATES[@]}"
# The "before" of the functions' figures: the release binaries of $BENCH_BASELINE (a commit), built
# once from `git archive` into a cache of their own, so both builds are measured in this one run.
if [ -n "${BENCH_BASELINE:-}" ]; then
  baseline_commit=$(git rev-parse --verify "$BENCH_BASELINE^{commit}")
  baseline_cache="${XDG_CACHE_HOME:-$HOME/.cache}/pulse-analytics/bench-baseline"
  baseline_src="$baseline_cache/$baseline_commit"
  if [ ! -d "$baseline_src" ]; then
    mkdir -p "$baseline_src.partial"
    git archive "$baseline_commit" | tar -x -C "$baseline_src.partial"
    mv "$baseline_src.partial" "$baseline_src"
  fi
  echo "Building the baseline ${baseline_commit:0:12} (once per commit)"
  (cd "$baseline_src" && CARGO_TARGET_DIR="$baseline_cache/target" cargo build --release --quiet "${FUNCTION_CRATES[@]}")
  export BENCH_BASELINE_DIR="$baseline_cache/target/release"
fi
cargo bench -p local-gateway --bench functions
start_moto
trap 'stop_processes "$MOTO_PID"' EXIT
cargo bench -p local-gateway --bench realtime
cargo bench -p local-gateway --bench live
