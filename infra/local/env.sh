# Environment for the local stack: sourced by the Makefile's scripts, safe to source by hand.
# Ports can be overridden from the environment.
export MOTO_PORT="${MOTO_PORT:-8000}"
export GATEWAY_PORT="${GATEWAY_PORT:-3000}"
export GATEWAY_ADDR="127.0.0.1:${GATEWAY_PORT}"
export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:${MOTO_PORT}"
export AWS_ENDPOINT_URL_DYNAMODB_STREAMS="http://127.0.0.1:${MOTO_PORT}"
# The local gateway registers the local stack there, with a deployed stack's outputs, under
# LOCAL_STACK_NAME: `pulse-admin --stack pulse-local` then finds its tables and management API.
export AWS_ENDPOINT_URL_CLOUDFORMATION="http://127.0.0.1:${MOTO_PORT}"
export LOCAL_STACK_NAME="${LOCAL_STACK_NAME:-pulse-local}"
# moto accepts any credentials; these keep the SDK from looking for real ones.
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-local}"
export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-local}"
export AWS_REGION="${AWS_REGION:-us-east-1}"
export TABLE_NAME="${TABLE_NAME:-pulse-local}"
