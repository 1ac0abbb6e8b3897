#!/usr/bin/env bash
# Refreshes the bot list, crates/core/src/bot_patterns.txt: pins the isbot npm package in web/ at its
# latest version (or the one given: infra/local/refresh-bot-patterns.sh 5.2.3), regenerates the list
# from it (web/tools/refresh-bot-patterns.mjs), then runs the bot unit tests and the corpus test.
# Review `git diff crates/core/src/bot_patterns.txt` before committing it with web/package*.json.
set -euo pipefail
cd "$(dirname "$0")/../.."

npm install --prefix web --save-dev --save-exact --no-audit --no-fund --loglevel=error "isbot@${1:-latest}"
node web/tools/refresh-bot-patterns.mjs
cargo test --quiet -p pulse-core --lib -- bot:: enrich::
infra/local/bot-corpus-test.sh
