// The project's bot patterns, in isbot's syntax (JavaScript regexes, matched case-insensitively): the
// isbot npm package's list (the version pinned in web/package.json), less REMOVALS, plus ADDITIONS.
// refresh-bot-patterns.mjs translates them into crates/core/src/bot_patterns.txt; export-ua-corpus.mjs
// records their verdicts, which the Rust matcher must reproduce.
import { readFileSync } from 'node:fs';

import { createIsbotFromList, list } from 'isbot';

// Bots of the corpora that isbot lets through (crates/core/tests/bot_corpus.rs prints them). In-app and
// desktop-app browsers (Instagram, Facebook, Electron editors) are people: not here.
export const ADDITIONS = [
  'gtmetrix', // GTmetrix page-speed tests
  'miniature\\.io', // page screenshots
  '\\bylt\\b', // Yellow Lab Tools, a page-quality audit
  'turingos', // TSM-turingos, a crawler dressed as desktop Chrome
];

// isbot patterns the project leaves out, each with its reason: none so far.
export const REMOVALS = new Set([]);

export const isbotVersion = JSON.parse(
  readFileSync(new URL('../node_modules/isbot/package.json', import.meta.url), 'utf8'),
).version;

export const upstreamPatterns = list.filter((pattern) => !REMOVALS.has(pattern));
export const missingRemovals = [...REMOVALS].filter((pattern) => !list.includes(pattern));

/** isbot's verdict with the project's patterns. */
export const isProjectBot = createIsbotFromList([...upstreamPatterns, ...ADDITIONS]);
