#!/usr/bin/env bash
# An unattended `make dev` for SOAK_MINUTES (default 60): each minute, moto's RSS and the time of
# `GET /sites/demo/realtime` for the 1, 5 and 30 minute windows through the local gateway, as a
# Markdown table row. It runs on ports of its own (SOAK_MOTO_PORT, SOAK_GATEWAY_PORT), so a `make dev`
# can stay up beside it. Latencies are moto's and this machine's, not DynamoDB's.
set -euo pipefail
cd "$(dirname "$0")/../.."
minutes="${SOAK_MINUTES:-60}"
export MOTO_PORT="${SOAK_MOTO_PORT:-8800}" GATEWAY_PORT="${SOAK_GATEWAY_PORT:-3100}"
export TABLE_NAME="pulse-soak-$$"
source infra/local/env.sh
log="$(mktemp -d)/dev.log"

infra/local/dev.sh >"$log" 2>&1 &
dev=$!
trap 'kill -INT $dev 2>/dev/null || true; wait $dev 2>/dev/null || true' EXIT
for _ in $(seq 1 600); do
  grep -q "demo read token" "$log" && break
  kill -0 $dev 2>/dev/null || { cat "$log" >&2; exit 1; }
  sleep 1
done
token=$(awk '/demo read token/ { print $NF }' "$log")
moto_pid=$(pgrep -f "moto_server.py -H 127.0.0.1 -p $MOTO_PORT" | head -1)

# Milliseconds of one realtime request, or its status when it is not a 200.
query_ms() {
  curl -s -o /dev/null -w '%{http_code} %{time_total}\n' -H "Authorization: Bearer $token" \
    "http://$GATEWAY_ADDR/sites/demo/realtime?minutes=$1" |
    awk '{ if ($1 == 200) printf "%d ms", $2 * 1000; else printf "HTTP %s", $1 }'
}

echo "| minute | moto RSS | 1 min window | 5 min window | 30 min window |"
echo "|---:|---:|---:|---:|---:|"
start=$(date +%s)
for minute in $(seq 1 "$minutes"); do
  sleep $((start + minute * 60 - $(date +%s)))
  rss_kb=$(awk '/VmRSS/ { print $2 }' "/proc/$moto_pid/status")
  echo "| $minute | $((rss_kb / 1024)) MB | $(query_ms 1) | $(query_ms 5) | $(query_ms 30) |"
done
