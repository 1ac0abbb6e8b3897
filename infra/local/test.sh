#!/usr/bin/env bash
# The test suite: unit tests and the integration tests, which run through the local gateway against a
# moto server started here on its own port and stopped afterwards; then, for the whole suite (no
# arguments), the local AWS layer's own tests (infra/local/tests, servers of their own), every fixture
# in events/ through cargo-lambda (infra/local/invoke-check.sh, its own moto), the API description
# against a gateway (infra/local/api-check.sh, its own moto) and the browser tests
# (infra/local/browser-test.sh), with a gateway of their own on that moto.
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
  .venv/bin/python -m pytest infra/local/tests -q
  infra/local/invoke-check.sh
  infra/local/api-check.sh
  infra/local/browser-test.sh
fi
