#!/usr/bin/env bash
# The whole local stack: moto, the table, a demo site for localhost, and the local gateway serving the
# HTTP routes (the dashboard and the tracker included) with the real handler code, feeding the table's
# stream to the stream consumers, and simulated visitors (DEMO_VISITORS_PER_MINUTE, default 60;
# DEMO_TRAFFIC=0 leaves them out).
# Ctrl-C stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/../.."
source infra/local/env.sh
source infra/local/moto.sh

infra/local/venv.sh infra/local/requirements.txt
cargo build --quiet -p local-gateway -p pulse-admin -p demo-traffic

# Cargo builds into CARGO_TARGET_DIR when it is set.
bin="${CARGO_TARGET_DIR:-target}/debug"
pids=()
cleanup() {
  trap - INT TERM EXIT
  echo
  echo "stopping the local stack"
  stop_processes "${pids[@]}"
  wait 2>/dev/null || true
}
trap cleanup INT TERM EXIT

start_moto
pids+=("$MOTO_PID")
admin="$bin/pulse-admin"
"$admin" table create
if token=$("$admin" site create --id demo --domain localhost --domain 127.0.0.1 2>/dev/null); then :; else
  token=$("$admin" site rotate-token --id demo 2>/dev/null)
fi

# Goals on the demo pages, so the dashboard's goals panel and feed show conversions; a table kept from
# an earlier run may have them already.
add_goal() {
  local name=$1
  shift
  "$admin" goal list --site demo | grep -q "^$name " || "$admin" goal add --site demo --name "$name" "$@"
}
# The simulated visitors' events and pages, and the demo pages you click yourself.
add_goal "sign-up" --event signup --value 20
add_goal "cart" --event add_to_cart
add_goal "started docs" --page-prefix /docs/
add_goal "demo sign-up" --event signup_click --value 5
add_goal "demo pricing" --page "${BASE_PATH:-}/demo/pricing.html"

# BASE_PATH (e.g. /api/analytics) moves every HTTP route under it, as the template's BasePath does.
api="http://$GATEWAY_ADDR${BASE_PATH:-}"
"$bin/local-gateway" &
pids+=("$!")
# The simulated visitors start once the gateway answers, so their first hits are not refused.
wait_for_start "$!" "$GATEWAY_PORT" "the local gateway"
if [[ ${DEMO_TRAFFIC:-1} != 0 ]]; then
  "$bin/demo-traffic" --base "$api" --site demo &
  pids+=("$!")
fi

cat <<EOT

  moto (DynamoDB + Streams)  $AWS_ENDPOINT_URL_DYNAMODB   table: $TABLE_NAME
  local gateway              $api
  dashboard                  $api/dashboard#site=demo&token=$token
  demo pages (tracked)       $api/demo/index.html
  collect                    POST $api/collect
  realtime                   GET  $api/sites/demo/realtime
  demo site                  id: demo   domains: localhost, 127.0.0.1
  demo goals                 sign-up, cart, started docs (simulated visitors); demo sign-up, demo
                             pricing (the demo pages' button and pricing page): pulse-admin goal list
  demo read token            $token
  admin, from another shell  export MOTO_PORT=$MOTO_PORT && source infra/local/env.sh
                             cargo run -q -p pulse-admin -- --stack $LOCAL_STACK_NAME site list

  Send a page view:
    curl -i -X POST $api/collect -H 'content-type: text/plain' \\
      -A 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0' \\
      -d '{"s":"demo","e":"pageview","u":"http://localhost:8080/pricing","r":"https://news.ycombinator.com/"}'

  Watch it live (rollups appear within about a second):
    curl -s -H "Authorization: Bearer $token" '$api/sites/demo/realtime?minutes=5'

  Simulated visitors are on; DEMO_TRAFFIC=0 make dev leaves them out.   Ctrl-C stops everything.
EOT
# Until Ctrl-C, or until either process dies on its own.
wait -n "${pids[@]}" || true
