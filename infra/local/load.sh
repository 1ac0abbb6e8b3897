#!/usr/bin/env bash
# The zero-loss load run (crates/local-gateway/src/load.rs) on a moto of its own: LOAD_VISITORS
# synthetic visitors (default 20) for LOAD_SECONDS (30), LOAD_DASHBOARDS listening (2), the site spread
# over LOAD_SPREADS keys (1), every partition key of moto's tables limited to LOAD_PARTITION_WCU writes
# a second (unlimited); it fails when any accepted hit is missing, doubled, miscounted or not pushed.
# Loopback only.
set -euo pipefail
cd "$(dirname "$0")/../.."
export MOTO_PORT="${LOAD_MOTO_PORT:-8768}"
source infra/local/env.sh
source infra/local/moto.sh
if [[ -n ${LOAD_PARTITION_WCU:-} ]]; then
  export LOCAL_DYNAMODB_PARTITION_WCU="$LOAD_PARTITION_WCU"
fi

infra/local/venv.sh infra/local/requirements.txt
cargo build --release --quiet -p local-gateway --bin pulse-load
start_moto
trap 'stop_processes "$MOTO_PID"' EXIT
/usr/bin/time -f "moto and load run: %e s wall" \
  "${CARGO_TARGET_DIR:-target}/release/pulse-load" \
  --visitors "${LOAD_VISITORS:-20}" --seconds "${LOAD_SECONDS:-30}" --dashboards "${LOAD_DASHBOARDS:-2}" \
  --spreads "${LOAD_SPREADS:-1}" &
load=$!
peak=0
while kill -0 $load 2>/dev/null; do
  rss=$(awk '/VmRSS/ { print $2 }' "/proc/$MOTO_PID/status" 2>/dev/null || echo 0)
  ((rss > peak)) && peak=$rss
  sleep 1
done
wait $load
echo "moto peak RSS: $((peak / 1024)) MB"
