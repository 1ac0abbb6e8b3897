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
cargo build --release --quiet -p collect -p aggregate -p realtime -p websocket -p broadcast -p web
cargo bench -p local-gateway --bench functions
start_moto
trap 'stop_processes "$MOTO_PID"' EXIT
cargo bench -p local-gateway --bench realtime
cargo bench -p local-gateway --bench live
