#!/usr/bin/env bash
# The browser tests: web/test (unit tests of the browser code, in node) and web/e2e (Chromium, driven by
# playwright-core, against a running local stack). Installs what a fresh machine lacks: node's packages
# (npm ci, when web/package-lock.json changed) and Debian's chromium. In between, with node's packages
# at hand, the bot detection's corpus test (infra/local/bot-corpus-test.sh).
#
# Against a stack of its own (what `make test` does): a gateway on a free port and a fresh table, on the
# moto at MOTO_PORT (started here when none answers there; BROWSER_MOTO_PORT, default 8767, when
# MOTO_PORT is unset), with every HTTP route under the base path /api/analytics, as ts-analytics
# deployments have it, so that nothing in the browser code may assume the API sits at the root; the
# demo site gets the two goals the goals test completes.
# Against a running `make dev` (which defines the same goals): set PULSE_BASE_URL (with its base path,
# if it has one) and PULSE_TOKEN (both printed by `make dev`; PULSE_SITE defaults to demo), e.g.
#   PULSE_BASE_URL=http://127.0.0.1:3000 PULSE_TOKEN=… infra/local/browser-test.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
export MOTO_PORT="${MOTO_PORT:-${BROWSER_MOTO_PORT:-8767}}"
source infra/local/env.sh
source infra/local/moto.sh

# Installs Debian packages; CI runs as root on a fresh machine.
apt_install() {
  local sudo=()
  ((EUID == 0)) || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq && "${sudo[@]}" apt-get install -y -qq "$@" >/dev/null
}

# The test files of one folder, or nothing.
test_files() {
  compgen -G "web/$1/*.test.mjs" || true
}

# Node and Chromium.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "installing node and npm"
  command -v node >/dev/null || apt_install nodejs
  command -v npm >/dev/null || apt_install npm
fi
# The end-to-end tests launch CHROMIUM_PATH, default Debian's.
chromium="${CHROMIUM_PATH:-/usr/bin/chromium}"
if [[ ! -x $chromium && $chromium == /usr/bin/chromium ]]; then
  echo "installing chromium"
  apt_install chromium || { echo "could not install chromium: the browser tests cannot run" >&2; exit 1; }
fi
"$chromium" --headless --no-sandbox --version >/dev/null 2>&1 || {
  echo "$chromium does not start: the browser tests cannot run" >&2
  exit 1
}

# Node's packages, only when the lockfile changed since the last install.
stamp=web/node_modules/.installed-package-lock.json
if [[ ! -d web/node_modules || ! -f $stamp ]] || ! cmp -s web/package-lock.json "$stamp"; then
  npm ci --prefix web --no-audit --no-fund --loglevel=error
  cp web/package-lock.json "$stamp"
fi

mapfile -t unit_tests < <(test_files test)
mapfile -t e2e_tests < <(test_files e2e)
if ((${#unit_tests[@]} == 0 || ${#e2e_tests[@]} == 0)); then
  echo "browser tests: no web/test/*.test.mjs or no web/e2e/*.test.mjs" >&2
  exit 1
fi
node --test "${unit_tests[@]}"
infra/local/bot-corpus-test.sh

pids=()
log=
cleanup() {
  trap - INT TERM EXIT
  ((${#pids[@]} == 0)) || stop_processes "${pids[@]}"
  [[ -z $log ]] || rm -f "$log"
}
trap cleanup INT TERM EXIT

if [[ -z ${PULSE_BASE_URL:-} ]]; then
  # The same feature set as `cargo test --workspace`, so right after it this only links the binaries.
  cargo build --quiet --workspace --bins --tests
  bin="${CARGO_TARGET_DIR:-target}/debug"
  if ! port_open "$MOTO_PORT"; then
    start_moto
    pids+=("$MOTO_PID")
  fi
  export TABLE_NAME="browser-test-$(date +%s)-$$"
  "$bin/pulse-admin" table create >/dev/null
  PULSE_TOKEN=$("$bin/pulse-admin" site create --id demo --domain localhost --domain 127.0.0.1)
  base_path=/api/analytics
  # The goals web/e2e/goals.test.mjs completes, as make dev defines them: a page goal on the path the
  # browser reports for the demo's pricing page (under the base path), an event goal on its sign-up
  # button. Defined before the gateway starts, so no cached site lacks them.
  add_goal() {
    local out
    out=$("$bin/pulse-admin" goal add --site demo "$@" 2>&1) || { echo "$out" >&2; exit 1; }
  }
  add_goal --name "pricing viewed" --page "$base_path/demo/pricing.html"
  add_goal --name "signed up" --event signup_click --value 5
  port=$(free_port)
  export GATEWAY_ADDR="127.0.0.1:$port"
  log=$(mktemp)
  BASE_PATH=$base_path "$bin/local-gateway" >"$log" 2>&1 &
  pids+=("$!")
  wait_for_start "${pids[-1]}" "$port" "the local gateway" "$log"
  export PULSE_BASE_URL="http://$GATEWAY_ADDR$base_path" PULSE_SITE=demo PULSE_TOKEN
else
  : "${PULSE_TOKEN:?set PULSE_TOKEN to the read token make dev printed}"
  export PULSE_BASE_URL PULSE_TOKEN PULSE_SITE="${PULSE_SITE:-demo}"
fi

echo "end-to-end tests against $PULSE_BASE_URL (site $PULSE_SITE)"
# One file at a time: they share the stack and the demo site's numbers.
if ! node --test --test-concurrency=1 "${e2e_tests[@]}"; then
  [[ -z $log ]] || { echo "--- local gateway log (last 50 lines)" >&2; tail -n 50 "$log" >&2; }
  exit 1
fi
