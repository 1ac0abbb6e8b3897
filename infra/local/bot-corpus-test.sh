#!/usr/bin/env bash
# Bot detection measured on corpora the project does not write: web/tools/export-ua-corpus.mjs exports
# the user agents of the crawler-user-agents (bots) and user-agents (browsers) npm packages, pinned in
# web/package.json, then crates/core/tests/bot_corpus.rs classifies them with collect's classifier,
# prints recall and false positives, and fails below 99% recall or above 1% false positives.
# infra/local/browser-test.sh (so `make test`) runs this; it needs node and npm.
set -euo pipefail
cd "$(dirname "$0")/../.."

if [[ ! -d web/node_modules/crawler-user-agents || ! -d web/node_modules/user-agents ]]; then
  npm ci --prefix web --no-audit --no-fund --loglevel=error
fi
corpus="${CARGO_TARGET_DIR:-$PWD/target}/ua-corpus"
node web/tools/export-ua-corpus.mjs "$corpus"
# --workspace: the features of `cargo test --workspace`, so nothing is rebuilt after it.
PULSE_UA_CORPUS_DIR="$corpus" cargo test --quiet --workspace --test bot_corpus -- --nocapture --test-threads=1
