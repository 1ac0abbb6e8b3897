#!/usr/bin/env bash
# Every fixture in events/ through `cargo lambda watch` + `cargo lambda invoke`, as the README shows them,
# checked against infra/local/invoke-expectations.tsv. Starts its own moto (INVOKE_CHECK_MOTO_PORT) and
# emulator (INVOKE_CHECK_PORT); the functions run as cargo-lambda runs them (debug builds, the emulator's
# constant deadline).
set -euo pipefail
cd "$(dirname "$0")/../.."
export MOTO_PORT="${INVOKE_CHECK_MOTO_PORT:-8769}"
port="${INVOKE_CHECK_PORT:-9768}"
source infra/local/env.sh
source infra/local/moto.sh
export TABLE_NAME="invoke-check"

infra/local/venv.sh infra/local/requirements.txt infra/local/requirements-build.txt
export PATH="$PWD/.venv/bin:$PATH"
cargo build --quiet -p pulse-admin -p collect -p aggregate -p realtime -p websocket -p broadcast -p web --bins
admin="${CARGO_TARGET_DIR:-target}/debug/pulse-admin"

pids=()
trap 'stop_processes "${pids[@]}"' EXIT
start_moto
pids+=("$MOTO_PID")
"$admin" table create 2>/dev/null
"$admin" site create --id demo --domain localhost >/dev/null 2>&1
"$admin" site create --id docs-site --domain docs.example.com >/dev/null 2>&1
"$admin" goal add --site demo --name signup --page /signup/done --value 10 2>/dev/null
"$admin" goal add --site demo --name "pro plan" --event button_click --event-prop plan=pro 2>/dev/null
# The fixtures' token.
.venv/bin/python - <<'PY'
import hashlib, os
import boto3
table = boto3.resource("dynamodb", endpoint_url=os.environ["AWS_ENDPOINT_URL_DYNAMODB"], region_name=os.environ["AWS_REGION"]).Table(os.environ["TABLE_NAME"])
table.update_item(
    Key={"pk": "SITES", "sk": "SITE#demo"},
    UpdateExpression="SET token_hash = :h",
    ExpressionAttributeValues={":h": hashlib.sha256(b"pt_demo-token").hexdigest()},
)
PY

WEBSOCKET_URL="ws://127.0.0.1:1/ws" WEBSOCKET_ENDPOINT="http://127.0.0.1:1" \
  cargo lambda watch -A 127.0.0.1 -P "$port" >/tmp/invoke-check-watch.log 2>&1 &
pids+=("$!")
for _ in $(seq 1 300); do port_open "$port" && break; sleep 0.2; done
port_open "$port" || { echo "cargo lambda watch did not start" >&2; cat /tmp/invoke-check-watch.log >&2; exit 1; }

passed=0
failed=0
while IFS=$'\t' read -r function fixture status expect; do
  [[ -z $function || $function == \#* ]] && continue
  answer=$(cargo lambda invoke "$function" -A 127.0.0.1 -P "$port" --data-file "$fixture" 2>&1) || true
  got=$(printf '%s' "$answer" | .venv/bin/python -c 'import json,sys
try:
    print(json.loads(sys.stdin.read()).get("statusCode", "-"))
except Exception:
    print("not JSON")')
  ok=1
  [[ $status == "$got" ]] || ok=0
  [[ $expect == - ]] || [[ $answer == *"$expect"* ]] || ok=0
  if ((ok)); then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "FAIL $function $fixture: expected $status${expect:+ with $expect}, got $got: ${answer:0:300}" >&2
  fi
done <infra/local/invoke-expectations.tsv
echo "invoke-check: $passed passed, $failed failed"
((failed == 0))
