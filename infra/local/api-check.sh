#!/usr/bin/env bash
# The API description against the running API: schemathesis sends requests generated from
# docs/openapi.yaml (its examples, then the coverage and fuzzing phases, positive and negative, a
# bounded number per operation) to a local gateway, and checks each answer: no 5xx, a documented
# status, a documented content type, a body matching its schema, the documented headers.
#
# Starts its own moto (API_CHECK_MOTO_PORT, default 8771) and gateway (a free port), with a fresh table
# and a `demo` site on localhost, the domain of the description's examples, with two goals; the realtime
# route gets the site's read token (infra/local/api-check.toml). The gateway's route throttling and
# collect's per-site limit are lifted, so that the check measures answers, not throttling.
# API_CHECK_EXAMPLES (default 50) bounds the generated cases per operation and phase; API_CHECK_SEED
# (default 1, so that `make test` runs the same cases each time; `random` for a new draw) replays a
# run; arguments go to `schemathesis run` (e.g. --report har).
set -euo pipefail
cd "$(dirname "$0")/../.."
export MOTO_PORT="${API_CHECK_MOTO_PORT:-8771}"
source infra/local/env.sh
source infra/local/moto.sh
export TABLE_NAME="api-check-$(date +%s)-$$"

infra/local/venv.sh infra/local/requirements.txt infra/local/requirements-api.txt
# The description itself first: valid OpenAPI 3.1 (openapi-spec-validator comes with schemathesis).
.venv/bin/python -c 'from openapi_spec_validator import validate
from openapi_spec_validator.readers import read_from_filename
validate(read_from_filename("docs/openapi.yaml")[0])'
cargo build --quiet -p pulse-admin -p local-gateway --bins
bin="${CARGO_TARGET_DIR:-target}/debug"

pids=()
log=$(mktemp)
cleanup() {
  trap - INT TERM EXIT
  ((${#pids[@]} == 0)) || stop_processes "${pids[@]}"
  rm -f "$log"
}
trap cleanup INT TERM EXIT

started=$SECONDS
start_moto
pids+=("$MOTO_PID")
"$bin/pulse-admin" table create >/dev/null
PULSE_TOKEN=$("$bin/pulse-admin" site create --id demo --domain localhost)
export PULSE_TOKEN
# A page goal and an event goal the description's examples complete, so that the view's goals and its
# feed's goal entries are checked too.
"$bin/pulse-admin" goal add --site demo --name "pricing viewed" --page /pricing >/dev/null
"$bin/pulse-admin" goal add --site demo --name "signed up" --event signup --value 10 >/dev/null

port=$(free_port)
GATEWAY_ADDR="127.0.0.1:$port" HTTP_API_RATE_LIMIT=1000000 HTTP_API_BURST_LIMIT=1000000 SITE_HIT_RATE_LIMIT=0 \
  "$bin/local-gateway" >"$log" 2>&1 &
pids+=("$!")
wait_for_start "${pids[-1]}" "$port" "the local gateway" "$log"

# Collect drops a bot's hit (schemathesis's own User-Agent is one) with 204 before it looks at the site.
browser="Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
seed=(--seed "${API_CHECK_SEED:-1}")
[[ ${API_CHECK_SEED:-} != random ]] || seed=()
status=0
# One worker: with more, hypothesis's threads trip over Python 3.11's parser (a SystemError in ast.parse).
.venv/bin/schemathesis --config-file infra/local/api-check.toml run docs/openapi.yaml \
  --url "http://127.0.0.1:$port" \
  --header "User-Agent: $browser" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance \
  --phases examples,coverage,fuzzing \
  --max-examples "${API_CHECK_EXAMPLES:-50}" \
  --workers 1 \
  --request-timeout 15 \
  --suppress-health-check too_slow,filter_too_much \
  --no-color \
  "${seed[@]}" "$@" || status=$?
if ((status != 0)); then
  echo "--- local gateway log (last 40 lines)" >&2
  tail -n 40 "$log" >&2
fi
echo "api-check: $((SECONDS - started)) s"
exit "$status"
