#!/usr/bin/env bash
# The test suite: unit tests and the integration tests, which run through the local gateway against a
# moto server started here on its own port and stopped afterwards; then, for the whole suite (no
# arguments), the browser tests (infra/local/browser-test.sh), with a gateway of their own on that moto.
set -euo pipefail
cd "$(dirname "$0")/../.."
export MOTO_PORT="${TEST_MOTO_PORT:-8765}"
source infra/local/env.sh
source infra/local/moto.sh
export MOTO_SERVER="$PWD/infra/local/moto-server"

infra/local/venv.sh infra/local/requirements.txt
start_moto
trap 'stop_processes "$MOTO_PID"' EXIT
cargo test --workspace "$@"
if (($# == 0)); then
  infra/local/browser-test.sh
fi
