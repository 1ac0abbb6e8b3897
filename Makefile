# Entry points. Each target installs what it needs (project-local .venv) on a fresh machine.
.PHONY: dev test lint bench release clean load soak fuzz deploy-check invoke-check api-check scale

# The Lambda binaries, as template.yaml names them in BuildProperties.Binary.
FUNCTIONS := collect aggregate realtime ws-connect ws-disconnect ws-default broadcast web

## dev: run the local stack (moto, table, demo site, local gateway) until Ctrl-C
dev:
	infra/local/dev.sh

## test: unit and integration tests (starts and stops its own moto)
test:
	infra/local/test.sh

## lint: rustfmt, clippy, cfn-lint, and the README's tree and the documents' links against the workspace
lint:
	infra/local/venv.sh infra/local/requirements.txt
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	.venv/bin/cfn-lint template.yaml
	.venv/bin/python infra/local/check-template.py
	.venv/bin/python infra/local/check-docs.py

## deploy-check: what a first `sam deploy` trips on, offline: cfn-lint, `sam validate --lint`, the SAM
## transform, IAM conformance and parameter ranges on the local stack, `sam build` (DEPLOY_CHECK_BUILD=0 skips it)
deploy-check:
	infra/local/deploy-check.sh

## invoke-check: every fixture in events/ through `cargo lambda watch` + `cargo lambda invoke`, checked
## against the README's answers (infra/local/invoke-expectations.tsv)
invoke-check:
	infra/local/invoke-check.sh

## api-check: schemathesis's generated requests from docs/openapi.yaml against a local gateway of its own;
## every answer must be documented there (status, content type, body schema, headers) and none a 5xx
api-check:
	infra/local/api-check.sh

## fuzz: every fuzz target with 1,000,000 inputs, release build (PULSE_FUZZ_CASES overrides; README, "Fuzzing")
fuzz:
	PULSE_FUZZ_CASES=$${PULSE_FUZZ_CASES:-1000000} cargo test --release --no-fail-fast -p collect -p realtime \
		-p websocket -p pulse-dynamodb --test fuzz --test fuzz_stream -- --nocapture

## bench: collect handler cost, each function's arm64 size and its size/cold start/CPU/RSS before → after
## (BENCH_BASELINE, a commit; empty for no "before"), realtime fold/query/latency figures
# The last commit before the cold-start work (current-thread runtimes, the Amazon trust store, fat LTO).
BENCH_BASELINE ?= 71d16818dabf5b0b8a1dd5d68c8721d91c0b9b82
bench: release
	BENCH_BASELINE=$(BENCH_BASELINE) \
	infra/local/bench.sh

## scale: one site at 10,000 events/s for a minute through the real fold, in memory: each partition
## key's units per second against DynamoDB's limits, the largest item, counted against the truth
scale:
	cargo bench -p local-gateway --bench realtime -- scale

## load: the zero-loss load run (LOAD_VISITORS, LOAD_SECONDS, LOAD_DASHBOARDS, LOAD_SPREADS, LOAD_PARTITION_WCU) on a moto of its own
load:
	infra/local/load.sh

## soak: an unattended `make dev` for SOAK_MINUTES (60), moto's RSS and realtime latencies each minute
soak:
	infra/local/soak.sh

## release: arm64 release builds of the Lambda functions, as `sam build` makes them
release:
	infra/local/venv.sh infra/local/requirements-build.txt
	PATH="$(CURDIR)/.venv/bin:$$PATH" cargo lambda build --release --arm64 $(addprefix --bin ,$(FUNCTIONS))

clean:
	cargo clean
	rm -rf .venv .venv-sam .aws-sam
