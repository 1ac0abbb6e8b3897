#!/usr/bin/env bash
# Every fixture in events/ through `cargo lambda watch` + `cargo lambda invoke`, as the README shows them,
# checked against infra/local/invoke-expectations.tsv. Starts its own moto (INVOKE_CHECK_MOTO_PORT) and
# emulator (INVOKE_CHECK_PORT); the functions run as cargo-lambda runs them (debug builds, the emulator's
# constant deadline), under the real Lambda runtime and its log subscriber.
#
# It is also the log canary test: the fixtures carry a read token, addresses, the origin secret and a URL
# query, and no log line of any function may show one of them, at every LogLevel the template allows
# (all fixtures at DEBUG, the most verbose; one per function at each other level).
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

# The fixtures' secrets: none may appear in any log line.
canaries=(pt_demo-token s3cret-s3cret-s3cret-s3cret-s3cret 198.51.100.23 utm_source=hn)
levels=$(.venv/bin/python -c 'import yaml
class L(yaml.SafeLoader): pass
L.add_multi_constructor("!", lambda loader, suffix, node: None)
print(" ".join(yaml.load(open("template.yaml"), Loader=L)["Parameters"]["LogLevel"]["AllowedValues"]))')

watch_pid=""
start_watch() { # LEVEL LOG
  AWS_LAMBDA_LOG_LEVEL="$1" WEBSOCKET_URL="ws://127.0.0.1:1/ws" WEBSOCKET_ENDPOINT="http://127.0.0.1:1" \
    cargo lambda watch -A 127.0.0.1 -P "$port" >"$2" 2>&1 &
  watch_pid=$!
  pids+=("$watch_pid")
  for _ in $(seq 1 300); do port_open "$port" && break; sleep 0.2; done
  port_open "$port" || { echo "cargo lambda watch did not start" >&2; cat "$2" >&2; exit 1; }
}
stop_watch() {
  stop_processes "$watch_pid"
  for _ in $(seq 1 50); do port_open "$port" || break; sleep 0.1; done
}

passed=0
failed=0
leaks=0
check_logs() { # LEVEL LOG
  local canary expected=$1
  # The level reached the functions: their metrics lines carry it (INFO below INFO, see metrics.rs).
  [[ $1 == DEBUG ]] && expected=INFO
  if ! grep -q "\"level\":\"$expected\"" "$2"; then
    leaks=$((leaks + 1))
    echo "LogLevel $1 did not reach the functions (no metrics line at $expected)" >&2
  fi
  for canary in "${canaries[@]}"; do
    if grep -qF -- "$canary" "$2"; then
      leaks=$((leaks + 1))
      echo "LEAK at $1: a log line shows '$canary':" >&2
      grep -F -- "$canary" "$2" | head -3 | cut -c1-300 >&2
    fi
  done
}

run_fixtures() { # FIXTURES-FILE: invoke each, compare with the expectation
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
  done <"$1"
}

logs=$(mktemp -d)
# The first fixture of each function, for the other levels.
awk -F'\t' '!/^#/ && NF && !seen[$1]++' infra/local/invoke-expectations.tsv >"$logs/one-per-function.tsv"
for level in $levels; do
  start_watch "$level" "$logs/$level.log"
  if [[ $level == DEBUG ]]; then
    run_fixtures infra/local/invoke-expectations.tsv
  else
    run_fixtures "$logs/one-per-function.tsv"
  fi
  stop_watch
  check_logs "$level" "$logs/$level.log"
done
cp "$logs/DEBUG.log" /tmp/invoke-check-watch.log 2>/dev/null || true
echo "invoke-check: $passed passed, $failed failed; log levels $levels: $leaks problems (leaked canaries, a level not applied)"
((failed == 0 && leaks == 0))
