// Regenerates crates/core/src/bot_patterns.txt, the bot list collect matches User-Agents against, from
// the patterns of bot-patterns.mjs: isbot's list plus the project's additions.
// infra/local/refresh-bot-patterns.sh pins the latest isbot first and tests the result.
//
//   node web/tools/refresh-bot-patterns.mjs
//
// isbot's patterns are JavaScript regexes, joined into one case-insensitive regex. Collect pays no
// start-up cost for them (a Lambda's cold start): most are literal substrings (matched with
// Aho-Corasick); those with lookarounds, which Rust's regex crate lacks, become literals with guards on
// their surroundings; the rest stay regexes (Rust syntax, ASCII classes). A pattern that fits none of
// these stops the refresh with an error: translate it by hand into ADDITIONS and list it in REMOVALS
// (bot-patterns.mjs).
import { writeFileSync } from 'node:fs';

import { ADDITIONS, isbotVersion, missingRemovals, upstreamPatterns } from './bot-patterns.mjs';

const output = new URL('../../crates/core/src/bot_patterns.txt', import.meta.url);

class Unsupported extends Error {}

// Reads a JavaScript regex into items: {t: 'char', c}, {t: 'start'}, {t: 'end'}, {t: 'wb'} (\b),
// {t: 'alt', options: [items]}, {t: 'notbefore' | 'notafter', options: [items]} (lookarounds),
// {t: 'negclass', chars}. Anything else (\w, ., quantifiers but ?) throws Unsupported.
function parse(source) {
  let i = 0;
  const sequence = (inGroup) => {
    const options = [[]];
    while (i < source.length) {
      const c = source[i];
      if (c === ')') {
        if (!inGroup) throw new Unsupported('unbalanced )');
        i++;
        return options;
      }
      if (c === '|') {
        options.push([]);
        i++;
        continue;
      }
      const current = options[options.length - 1];
      if (c === '?') {
        if (current.length === 0) throw new Unsupported('? with nothing before it');
        current.push({ t: 'alt', options: [[current.pop()], []] });
        i++;
        continue;
      }
      if ('*+{'.includes(c)) throw new Unsupported(`quantifier ${c}`);
      current.push(atom());
    }
    if (inGroup) throw new Unsupported('unclosed group');
    return options;
  };
  const atom = () => {
    const c = source[i++];
    if (c === '^') return { t: 'start' };
    if (c === '$') return { t: 'end' };
    if (c === '.') throw new Unsupported('.');
    if (c === '\\') return escape(source[i++], false);
    if (c === '[') return charClass();
    if (c === '(') {
      for (const [opener, t] of [['?:', 'alt'], ['?<!', 'notbefore'], ['?!', 'notafter']]) {
        if (source.startsWith(opener, i)) {
          i += opener.length;
          const options = sequence(true);
          // (?:^|[^x]) before a literal is (?<!x): start of input or any character but x.
          const [a, b] = options;
          if (t === 'alt' && options.length === 2 && a.length === 1 && b.length === 1) {
            if (a[0].t === 'start' && b[0].t === 'negclass') {
              return { t: 'notbefore', options: [...b[0].chars].map((ch) => [{ t: 'char', c: ch }]) };
            }
          }
          return { t, options };
        }
      }
      throw new Unsupported('capturing group or lookaround other than (?<! and (?!');
    }
    return { t: 'char', c };
  };
  const escape = (c, inClass) => {
    if (c === 'b' && !inClass) return { t: 'wb' };
    if (c === undefined || /[0-9A-Za-z]/.test(c)) throw new Unsupported(`\\${c}`);
    return { t: 'char', c };
  };
  const charClass = () => {
    const negated = source[i] === '^';
    if (negated) i++;
    const chars = [];
    while (source[i] !== ']') {
      if (i >= source.length) throw new Unsupported('unclosed class');
      let c = source[i++];
      if (c === '\\') c = escape(source[i++], true).c;
      else if (c === '-' && chars.length > 0 && source[i] !== ']') throw new Unsupported('range');
      chars.push(c);
    }
    i++;
    if (negated) return { t: 'negclass', chars };
    return { t: 'alt', options: chars.map((c) => [{ t: 'char', c }]) };
  };
  const options = sequence(false);
  return options.length === 1 ? options[0] : [{ t: 'alt', options }];
}

// Every flat sequence an item list stands for (alternatives multiplied out), at most `limit`.
function expand(items, limit = 16) {
  let results = [[]];
  for (const item of items) {
    let choices = [[item]];
    if (item.t === 'alt') choices = item.options.flatMap((option) => expand(option, limit));
    else if (item.t === 'notbefore' || item.t === 'notafter') {
      const texts = item.options.flatMap((option) => expand(option, limit)).map(literalText);
      choices = [[{ t: item.t, texts }]];
    }
    results = results.flatMap((head) => choices.map((tail) => [...head, ...tail]));
    if (results.length > limit) throw new Unsupported('too many alternatives');
  }
  return results;
}

function literalText(flat) {
  if (flat.length === 0 || flat.some((item) => item.t !== 'char')) throw new Unsupported('lookaround of no literal');
  return flat.map((item) => item.c).join('');
}

// One flat sequence as a rule line: [^] [(?<!…)] [\b] literal [\b] [(?!…)] [$].
function literalRule(flat) {
  let i = 0;
  const take = (t) => (flat[i]?.t === t ? flat[i++] : null);
  const guards = [];
  const atStart = take('start');
  let before;
  while ((before = take('notbefore'))) guards.push(`unless-preceded-by=${before.texts.join('|')}`);
  if (take('wb')) guards.push('word-start');
  let text = '';
  let ch;
  while ((ch = take('char'))) text += ch.c;
  if (text === '') throw new Unsupported('no literal');
  if (take('wb')) guards.push('word-end');
  let after;
  while ((after = take('notafter'))) guards.push(`unless-followed-by=${after.texts.join('|')}`);
  if (take('end')) guards.push('end');
  if (i !== flat.length) throw new Unsupported(`${flat[i].t} in the middle`);
  return [atStart ? 'prefix' : 'contains', text, ...guards];
}

// The pattern in Rust's regex syntax: JavaScript takes a - next to a class escape or at the end of a
// class literally, Rust wants it escaped.
function rustRegex(source) {
  if (/\(\?<?[=!]|\\[1-9]|\\k</.test(source)) {
    throw new Error(`${source}: a lookaround or backreference that cannot become literals; translate it by hand`);
  }
  return source.replace(/\[\^?((?:\\.|[^\]\\])*)\]/g, (cls, body) => {
    const tokens = body.match(/\\.|./g) ?? [];
    const classEscape = (token) => /^\\[wdsWDS]$/.test(token ?? '');
    const fixed = tokens.map((token, k) =>
      token === '-' && (classEscape(tokens[k - 1]) || classEscape(tokens[k + 1]) || k === tokens.length - 1)
        ? '\\-'
        : token,
    );
    return `[${cls[1] === '^' ? '^' : ''}${fixed.join('')}]`;
  });
}

function rules(source) {
  try {
    return expand(parse(source)).map(literalRule);
  } catch (e) {
    if (!(e instanceof Unsupported)) throw e;
    const regex = rustRegex(source);
    // Matched case-sensitively against the lowercased User-Agent (cheaper to build), so in lower case;
    // escapes such as \W keep their meaning.
    if (/(?:^|[^\\])(?:\\\\)*[A-Z]/.test(regex)) throw new Error(`${source}: upper case in a regex`);
    return [['regex', regex]];
  }
}

const lines = [];
const seen = new Set();
const counts = { contains: 0, prefix: 0, regex: 0 };
for (const [origin, patterns] of [
  [`isbot ${isbotVersion}`, upstreamPatterns],
  ['project additions', ADDITIONS],
]) {
  lines.push('', `# ${origin}`);
  for (const pattern of patterns) {
    for (const fields of rules(pattern)) {
      if (fields[0] !== 'regex') fields[1] = fields[1].toLowerCase();
      if (fields.some((f) => /[\t\r\n]/.test(f))) throw new Error(`${pattern}: a tab or line break`);
      const line = fields.join('\t');
      if (seen.has(line)) continue;
      seen.add(line);
      lines.push(line);
      counts[fields[0]]++;
    }
  }
}
for (const pattern of missingRemovals) console.warn(`REMOVALS: isbot ${isbotVersion} no longer has ${pattern}`);

const header = `# Bot patterns: a User-Agent matching any rule is a bot (crates/core/src/bot.rs).
# Generated by web/tools/refresh-bot-patterns.mjs from the isbot npm package's list plus the project's
# additions (web/tools/bot-patterns.mjs); edit those, not this file, and regenerate with
# infra/local/refresh-bot-patterns.sh.
#
# One rule a line, fields separated by tabs and taken verbatim (spaces count), matched against the
# User-Agent in ASCII lower case:
#   contains TEXT [GUARD...]   TEXT occurs in it
#   prefix TEXT [GUARD...]     it starts with TEXT
#   regex REGEX                Rust regex syntax, ASCII classes, in lower case
# Guards, all of which must hold at the same occurrence of TEXT:
#   word-start, word-end       a word boundary (regex \\b) just before / just after TEXT
#   end                        TEXT ends the User-Agent
#   unless-preceded-by=A|B     the User-Agent does not read A, nor B, just before TEXT
#   unless-followed-by=A|B     nor just after it`;
writeFileSync(output, `${header}\n${lines.join('\n')}\n`);
console.log(
  `${output.pathname}: ${upstreamPatterns.length} isbot ${isbotVersion} patterns and ${ADDITIONS.length} additions ` +
    `as ${counts.contains} contains, ${counts.prefix} prefix and ${counts.regex} regex rules`,
);
