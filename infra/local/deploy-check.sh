#!/usr/bin/env bash
# Deploy readiness, with a short report: what a first `sam deploy` would trip on, checked offline.
# - the template: cfn-lint, `sam validate --lint`, and the SAM transform CloudFormation applies;
# - IAM conformance: each function's calls against its own policy on the local stack (no call denied,
#   no grant unused), and every parameter's allowed values against what the functions accept;
# - `sam build` of all eight functions (DEPLOY_CHECK_BUILD=0 skips it: ~4 minutes when crates changed).
# Starts its own moto for the conformance tests. Exit status: non-zero when any check fails.
set -uo pipefail
cd "$(dirname "$0")/../.."
export MOTO_PORT="${DEPLOY_CHECK_MOTO_PORT:-8767}"
source infra/local/env.sh
source infra/local/moto.sh
export MOTO_SERVER="$PWD/infra/local/moto-server"

infra/local/venv.sh infra/local/requirements.txt infra/local/requirements-build.txt || exit 1
# SAM CLI in a virtualenv of its own.
if [[ ! -x .venv-sam/bin/sam ]] || ! cmp -s infra/local/requirements-sam.txt .venv-sam/.installed; then
  python3 -m venv .venv-sam && .venv-sam/bin/pip install --quiet --disable-pip-version-check \
    -r infra/local/requirements-sam.txt && cp infra/local/requirements-sam.txt .venv-sam/.installed || exit 1
fi

results=()
check() {
  local name=$1
  shift
  local started=$SECONDS
  if "$@" >"/tmp/deploy-check-$$.log" 2>&1; then
    results+=("ok     $name ($((SECONDS - started)) s)")
  else
    results+=("FAILED $name ($((SECONDS - started)) s)")
    echo "--- $name failed:" >&2
    tail -n 40 "/tmp/deploy-check-$$.log" >&2
  fi
}

check "cfn-lint" .venv/bin/cfn-lint template.yaml
check "sam validate --lint" .venv-sam/bin/sam validate --lint --region us-east-1
check "SAM transform" .venv/bin/python infra/local/check-template.py
start_moto || exit 1
trap 'stop_processes "$MOTO_PID"' EXIT
check "IAM conformance and parameters" cargo test -p local-gateway --test api -- \
  aws_rules::every_function aws_rules::a_grant_taken_away parameters::
check "least privilege by partition" cargo test -p pulse-dynamodb --test permissions
if [[ ${DEPLOY_CHECK_BUILD:-1} != 0 ]]; then
  check "sam build" env PATH="$PWD/.venv/bin:$PATH" .venv-sam/bin/sam build
fi
rm -f "/tmp/deploy-check-$$.log"

echo
echo "deploy readiness:"
printf '  %s\n' "${results[@]}"
! printf '%s\n' "${results[@]}" | grep -q '^FAILED'
