#!/usr/bin/env bash
# An unattended `make dev` for SOAK_MINUTES (default 60): each minute, moto's RSS, the time of
# `GET /sites/demo/realtime` for the 1, 5 and 30 minute windows through the local gateway, the time a
# dashboard's WebSocket connect takes to be accepted ($connect and its writes), and the demo tracker's
# hits that did not get a 204 so far (non-204 answers and failed requests), as a Markdown table row. It runs on ports of its own (SOAK_MOTO_PORT, SOAK_GATEWAY_PORT), so a `make dev`
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
# TERM, not INT: a background job of a non-interactive shell ignores SIGINT, so make dev would outlive the soak.
trap 'kill -TERM $dev 2>/dev/null || true; wait $dev 2>/dev/null || true' EXIT
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

# Milliseconds until a dashboard's WebSocket handshake is answered with 101, or the status otherwise.
connect_ms() {
  curl -s -o /dev/null --max-time 3 -w '%{http_code} %{time_starttransfer}\n' \
    -H 'Connection: Upgrade' -H 'Upgrade: websocket' -H 'Sec-WebSocket-Version: 13' \
    -H 'Sec-WebSocket-Key: c29hay1kYXNoYm9hcmQtMQ==' "http://$GATEWAY_ADDR/ws?siteId=demo&token=$token" |
    awk '{ if ($1 == 101) printf "%d ms", $2 * 1000; else printf "HTTP %s", $1 }'
}

# The demo tracker's failures so far, from its latest minute report: non-204 answers and failed requests.
tracker_failures() {
  grep 'demo-traffic: .*non-204' "$log" | tail -1 |
    sed -E 's/.*non-204 ([^,]*), failed: timeout ([0-9]+) connect ([0-9]+) other ([0-9]+).*/non-204 \1; failed \2+\3+\4/'
}

echo "| minute | moto RSS | 1 min window | 5 min window | 30 min window | WebSocket connect | tracker failures |"
echo "|---:|---:|---:|---:|---:|---:|---|"
start=$(date +%s)
for minute in $(seq 1 "$minutes"); do
  sleep $((start + minute * 60 - $(date +%s)))
  rss_kb=$(awk '/VmRSS/ { print $2 }' "/proc/$moto_pid/status")
  echo "| $minute | $((rss_kb / 1024)) MB | $(query_ms 1) | $(query_ms 5) | $(query_ms 30) | $(connect_ms) | $(tracker_failures) |"
done
