import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import * as format from '../public/format.js';
import {
  countryFlag,
  countryName,
  decodePath,
  describeFeedEntry,
  formatAgo,
  formatGoalValue,
  formatRate,
  goalRows,
} from '../public/format.js';
import * as realtime from '../public/realtime.js';

describe('decodePath', () => {
  test('decodes percent-encoded UTF-8', () => {
    assert.equal(decodePath('/blog/%C3%BCn%C3%AFcode'), '/blog/ünïcode');
    assert.equal(decodePath('/blog/%c3%bcn%c3%afcode'), '/blog/ünïcode', 'lower-case hex too');
    assert.equal(decodePath('/%E6%97%A5%E6%9C%AC'), '/日本');
    assert.equal(decodePath('/%F0%9F%98%80'), '/😀');
    assert.equal(decodePath('/hello%20world'), '/hello world');
  });

  test('leaves invalid sequences encoded, exactly as they were, and decodes the valid rest', () => {
    assert.equal(decodePath('/a%E0%A4%A'), '/a%E0%A4%A', 'truncated sequence and a stray %A');
    assert.equal(decodePath('/a%E0%A4%A/%C3%BC'), '/a%E0%A4%A/ü');
    assert.equal(decodePath('/x%C3%BC%FF'), '/xü%FF');
    assert.equal(decodePath('/%80abc'), '/%80abc', 'lone continuation byte');
    assert.equal(decodePath('/%C3'), '/%C3', 'lead byte at the end');
    assert.equal(decodePath('/%C3%28'), '/%C3(', 'lead byte followed by a non-continuation');
    assert.equal(decodePath('/%C0%AF'), '/%C0%AF', 'overlong /');
    assert.equal(decodePath('/%E0%80%AF'), '/%E0%80%AF', 'overlong, three bytes');
    assert.equal(decodePath('/%ED%A0%80'), '/%ED%A0%80', 'UTF-16 surrogate');
    assert.equal(decodePath('/%F4%90%80%80'), '/%F4%90%80%80', 'beyond U+10FFFF');
    assert.equal(decodePath('/100%'), '/100%');
    assert.equal(decodePath('/%zz'), '/%zz');
  });

  test('control characters stay encoded: they would garble the display', () => {
    assert.equal(decodePath('/a%00b%0A%7F'), '/a%00b%0A%7F');
  });

  test('passes through paths without escapes and non-strings', () => {
    assert.equal(decodePath('/pricing'), '/pricing');
    assert.equal(decodePath(''), '');
    assert.equal(decodePath(undefined), undefined);
    assert.equal(decodePath(null), null);
  });
});

describe('display helpers', () => {
  test('countryFlag uses regional indicator letters', () => {
    assert.equal(countryFlag('DE'), '🇩🇪');
    assert.equal(countryFlag('us'), '🇺🇸');
    assert.equal(countryFlag('XYZ'), '');
    assert.equal(countryFlag(''), '');
    assert.equal(countryFlag(undefined), '');
  });

  test('countryName uses Intl.DisplayNames', () => {
    assert.equal(countryName('DE', 'en'), 'Germany');
    assert.equal(countryName('JP', 'de'), 'Japan');
    assert.equal(countryName('', 'en'), '');
  });

  test('formatAgo ticks in seconds, then minutes and hours', () => {
    const now = Date.parse('2026-01-15T10:30:12.000Z');
    assert.equal(formatAgo('2026-01-15T10:30:12.000Z', now), 'just now');
    assert.equal(formatAgo('2026-01-15T10:30:00.000Z', now), '12 s ago');
    assert.equal(formatAgo('2026-01-15T10:27:00.000Z', now), '3 min ago');
    assert.equal(formatAgo('2026-01-15T08:00:00.000Z', now), '2 h ago');
    assert.equal(formatAgo('2026-01-15T10:31:00.000Z', now), 'just now', 'a clock slightly ahead');
    assert.equal(formatAgo('garbage', now), '');
  });

  test('describeFeedEntry: the text of each kind of row', () => {
    assert.equal(describeFeedEntry({ type: 'pageview', path: '/blog/%C3%BCn%C3%AFcode' }).text, '/blog/ünïcode');
    assert.equal(describeFeedEntry({ type: 'pageview', path: '/', referrer: 'news.ycombinator.com' }).detail, 'from news.ycombinator.com');
    assert.equal(describeFeedEntry({ type: 'event', name: 'signup_click', value: 1, path: '/pricing' }).text, 'signup_click (1)');
    assert.equal(describeFeedEntry({ type: 'event', name: 'signup_click', path: '/pricing' }).text, 'signup_click');
    assert.equal(describeFeedEntry({ type: 'outbound', url: 'https://example.org/x?y', path: '/' }).text, 'example.org');
    assert.equal(describeFeedEntry({ type: 'goal', goal: 'signup' }).text, 'Goal completed: signup');
    assert.equal(describeFeedEntry({ type: 'goal', goal: 'signup', value: 49 }).text, 'Goal completed: signup (49)');
    assert.equal(describeFeedEntry({ type: 'mystery', path: '/x' }).text, '/x');
  });
});

describe('describeFeedEntry for goal entries', () => {
  // As the API sends them (realtime-helpers.test.mjs merges the same entries into the feed): a goal
  // entry's id is its event's id, ':' and the goal's name; page goals carry the path, event goals the
  // event's name.
  const EVENT_1 = '0194a3b2-0000-7000-8000-000000000001';
  const EVENT_2 = '0194a3b2-0000-7000-8000-000000000002';
  const timestamp = '2026-01-15T10:30:10.000Z';
  const pageGoal = { type: 'goal', id: `${EVENT_1}:signup`, goal: 'signup', path: '/signup/done', value: 10, timestamp, device: 'desktop' };
  const eventGoal = { type: 'goal', id: `${EVENT_2}:pro plan`, goal: 'pro plan', name: 'button_click', timestamp, device: 'mobile' };

  test('page goals name the page, event goals the event; the value is shown', () => {
    assert.deepEqual(describeFeedEntry(pageGoal), {
      icon: '🎯',
      kind: 'Goal',
      text: 'Goal completed: signup (10)',
      detail: 'on /signup/done',
    });
    assert.deepEqual(describeFeedEntry(eventGoal), {
      icon: '🎯',
      kind: 'Goal',
      text: 'Goal completed: pro plan',
      detail: 'event button_click',
    });
    assert.equal(describeFeedEntry({ ...eventGoal, value: 3 }).text, 'Goal completed: pro plan (3)');
    assert.equal(describeFeedEntry({ ...pageGoal, path: '/blog/%C3%BC' }).detail, 'on /blog/ü');
  });
});

describe('goals panel formatting', () => {
  test('formatRate: a percentage to one decimal, never a misleading 0%', () => {
    assert.equal(formatRate(0.07, 'en'), '7%');
    assert.equal(formatRate(1 / 15, 'en'), '6.7%');
    assert.equal(formatRate(1 / 3, 'en'), '33.3%');
    assert.equal(formatRate(1, 'en'), '100%');
    assert.equal(formatRate(0, 'en'), '0%');
    assert.equal(formatRate(0.0004, 'en'), '<0.1%');
    assert.equal(formatRate(0.0005, 'en'), '0.1%');
    assert.match(formatRate(0.25, 'de'), /^25\s%$/, 'in the reader’s language (German puts a no-break space)');
    for (const junk of [undefined, null, NaN, Infinity, -0.1, '0.5']) assert.equal(formatRate(junk, 'en'), '–');
  });

  test('formatGoalValue: up to two decimals; 0 (no value) is a dash', () => {
    assert.equal(formatGoalValue(30, 'en'), '30');
    assert.equal(formatGoalValue(19.99 * 3, 'en'), '59.97', 'float noise from summed prices is not shown');
    assert.equal(formatGoalValue(0.1 + 0.2, 'en'), '0.3');
    assert.equal(formatGoalValue(12500, 'en'), '12,500');
    assert.equal(formatGoalValue(-5, 'en'), '-5');
    assert.equal(formatGoalValue(0, 'en'), '–');
    assert.equal(formatGoalValue(undefined, 'en'), '–');
  });

  test('goalRows: the API order, formatted figures, and the value column only when a goal has a value', () => {
    const view = {
      goals: [
        { goal: 'signup', conversions: 1234, visitors: 3, value: 30, conversionRate: 0.07 },
        { goal: 'docs', conversions: 2, visitors: 2, value: 0, conversionRate: 1 / 21 },
      ],
    };
    const { rows, showValue } = goalRows(view, 'en');
    assert.equal(showValue, true);
    assert.deepEqual(
      rows.map(({ source, ...row }) => row),
      [
        { goal: 'signup', conversions: '1,234', visitors: '3', value: '30', rate: '7%', share: 0.07 },
        { goal: 'docs', conversions: '2', visitors: '2', value: '–', rate: '4.8%', share: 1 / 21 },
      ],
    );
    assert.equal(rows[0].source, view.goals[0]);
    assert.equal(goalRows(view.goals.slice(1), 'en').showValue, false, 'no goal with a value: no column');
  });

  test('goalRows: empty, missing (an older server) or junk goals give no rows', () => {
    for (const input of [null, undefined, {}, { goals: [] }, { goals: 'x' }, [null, 1, { conversions: 1 }]]) {
      assert.deepEqual(goalRows(input, 'en'), { rows: [], showValue: false });
    }
    const [row] = goalRows([{ goal: 'odd', conversions: 1, visitors: 1, conversionRate: 1.5 }], 'en').rows;
    assert.equal(row.share, 1, 'the bar never overflows');
    assert.equal(row.rate, '150%');
  });
});

test('realtime.js re-exports every display helper, the very same functions (its importers keep working)', () => {
  const names = Object.keys(format).sort();
  assert.deepEqual(names, [
    'countryFlag',
    'countryName',
    'decodePath',
    'describeFeedEntry',
    'formatAgo',
    'formatGoalValue',
    'formatNumber',
    'formatRate',
    'goalRows',
    'hostOf',
  ]);
  for (const name of names) assert.equal(realtime[name], format[name], name);
});
