// Writes the User-Agent corpora the bot detection is measured on, from packages the project does not
// write (pinned devDependencies), one user agent per line:
//   DIR/bots.txt      every example of the crawler-user-agents package
//   DIR/browsers.txt  the distinct user agents of the user-agents package (a sample of real browser
//                     traffic), most frequent first
//   DIR/isbot.txt     "1<TAB>ua" or "0<TAB>ua": isbot's verdict with the project's patterns
//                     (bot-patterns.mjs) on both, as they are and in upper case, which the Rust
//                     translation of those patterns must reproduce
// crates/core/tests/bot_corpus.rs reads them.
//
//   node web/tools/export-ua-corpus.mjs DIR
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import crawlers from 'crawler-user-agents';
import UserAgent from 'user-agents';

import { isProjectBot } from './bot-patterns.mjs';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: node web/tools/export-ua-corpus.mjs DIR');
  process.exit(2);
}

// A line per user agent, so none may hold a line break; blank ones say nothing about a classifier.
const usable = (ua) => typeof ua === 'string' && ua.trim() !== '' && !/[\r\n]/.test(ua);
const distinct = (list) => [...new Set(list.filter(usable))];

const bots = distinct(crawlers.flatMap((crawler) => crawler.instances ?? []));
// top() with no count is the whole weighted sample, sorted by weight: deterministic, unlike random().
const browsers = distinct(UserAgent.top().map((entry) => entry.userAgent));
const checked = distinct([...bots, ...browsers].flatMap((ua) => [ua, ua.toUpperCase()]));

// Their package.json files are not exported, so they are read from where npm installed them.
const version = (name) =>
  JSON.parse(readFileSync(new URL(`../node_modules/${name}/package.json`, import.meta.url), 'utf8')).version;

mkdirSync(dir, { recursive: true });
const lines = (list) => `${list.join('\n')}\n`;
writeFileSync(join(dir, 'bots.txt'), lines(bots));
writeFileSync(join(dir, 'browsers.txt'), lines(browsers));
writeFileSync(join(dir, 'isbot.txt'), lines(checked.map((ua) => `${isProjectBot(ua) ? 1 : 0}\t${ua}`)));
console.log(
  `${dir}: ${bots.length} bot user agents (crawler-user-agents ${version('crawler-user-agents')}), ` +
    `${browsers.length} browser user agents (user-agents ${version('user-agents')}), ` +
    `isbot ${version('isbot')}'s verdicts on ${checked.length}`,
);
