import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  backoffDelay,
  deriveStatus,
  feedKey,
  mergeFeed,
  realtimeUrl,
  socketUrl,
  trimFeedToWindow,
  windowStart,
} from '../public/realtime.js';

describe('backoffDelay (full jitter)', () => {
  test('is uniform in [0, min(cap, base·2^attempt))', () => {
    const base = 1000, cap = 30000;
    for (let attempt = 0; attempt < 12; attempt++) {
      const ceiling = Math.min(cap, base * 2 ** attempt);
      assert.equal(backoffDelay(attempt, { base, cap, random: () => 0 }), 0);
      const top = backoffDelay(attempt, { base, cap, random: () => 0.999999 });
      assert.ok(top < ceiling && top >= ceiling * 0.999, `attempt ${attempt}: ${top} vs ${ceiling}`);
      assert.equal(backoffDelay(attempt, { base, cap, random: () => 0.5 }), ceiling / 2);
    }
  });

  test('never exceeds the cap, with real randomness and absurd attempts', () => {
    for (let i = 0; i < 2000; i++) {
      const attempt = i % 40;
      const d = backoffDelay(attempt, { base: 500, cap: 10000 });
      assert.ok(d >= 0 && d < Math.min(10000, 500 * 2 ** attempt), `${attempt}: ${d}`);
    }
    assert.ok(backoffDelay(10_000, { random: () => 0.999 }) < 30000);
    assert.ok(Number.isFinite(backoffDelay(10_000)));
  });

  test('defaults: 1 s base, 30 s cap', () => {
    assert.equal(backoffDelay(0, { random: () => 0.5 }), 500);
    assert.equal(backoffDelay(20, { random: () => 0.5 }), 15000);
  });
});

describe('deriveStatus', () => {
  test('live whenever the socket is open, else polling or offline by the last poll', () => {
    assert.equal(deriveStatus({ socketOpen: true, pollOk: false }), 'live');
    assert.equal(deriveStatus({ socketOpen: true, pollOk: null }), 'live');
    assert.equal(deriveStatus({ socketOpen: false, pollOk: true }), 'polling');
    assert.equal(deriveStatus({ socketOpen: false, pollOk: false }), 'offline');
    assert.equal(deriveStatus({ socketOpen: false, pollOk: null }), 'connecting');
  });
});

const ev = (id, second, extra = {}) => ({
  type: 'pageview',
  id,
  path: `/${id}`,
  timestamp: `2026-01-15T10:30:${String(second).padStart(2, '0')}.000Z`,
  device: 'desktop',
  ...extra,
});

describe('mergeFeed', () => {
  test('de-duplicates by id, newest first', () => {
    const current = [ev('c', 30), ev('b', 20), ev('a', 10)];
    const pushed = [ev('b', 20), ev('d', 40), ev('e', 50)]; // pushes come oldest first
    const merged = mergeFeed(current, pushed, 50);
    assert.deepEqual(merged.map((e) => e.id), ['e', 'd', 'c', 'b', 'a']);
  });

  test('keeps the object already shown for a known id', () => {
    const shown = ev('a', 10);
    const merged = mergeFeed([shown], [{ ...ev('a', 10), country: 'DE' }]);
    assert.equal(merged[0], shown);
  });

  test('is capped, dropping the oldest', () => {
    const many = Array.from({ length: 30 }, (_, i) => ev(`e${String(i).padStart(2, '0')}`, i));
    const merged = mergeFeed([], many, 10);
    assert.equal(merged.length, 10);
    assert.equal(merged[0].id, 'e29');
    assert.equal(merged[9].id, 'e20');
    assert.deepEqual(mergeFeed(many, [], 0), []);
  });

  test('orders equal timestamps by id, so every merge order gives the same list', () => {
    const a = ev('0190a', 10), b = ev('0190b', 10);
    assert.deepEqual(mergeFeed([a], [b]).map((e) => e.id), ['0190b', '0190a']);
    assert.deepEqual(mergeFeed([b], [a]).map((e) => e.id), ['0190b', '0190a']);
  });

  test('entries without an id are keyed by their content; junk is skipped', () => {
    const noId = { type: 'event', name: 'x', path: '/', timestamp: '2026-01-15T10:30:00.000Z' };
    assert.equal(mergeFeed([noId], [{ ...noId }, null, 42, 'x']).length, 1);
    assert.equal(feedKey({ id: 7 }), '7');
  });
});

describe('goal entries in the feed', () => {
  // As the API sends them: an event's goal entries share its timestamp, and their id is the event's
  // id, ':' and the goal's name. How a feed row reads them: format.test.mjs.
  const EVENT_1 = '0194a3b2-0000-7000-8000-000000000001';
  const EVENT_2 = '0194a3b2-0000-7000-8000-000000000002';
  const pageview = ev(EVENT_1, 10, { path: '/signup/done' });
  const pageGoal = { type: 'goal', id: `${EVENT_1}:signup`, goal: 'signup', path: '/signup/done', value: 10, timestamp: pageview.timestamp, device: 'desktop' };
  const click = { type: 'event', id: EVENT_2, name: 'button_click', value: 3, path: '/pricing', timestamp: pageview.timestamp, device: 'mobile' };
  const eventGoal = { type: 'goal', id: `${EVENT_2}:pro plan`, goal: 'pro plan', name: 'button_click', timestamp: click.timestamp, device: 'mobile' };
  // The polled feed: newest first, each goal just above its event. Pushes: each event, then its goals.
  const polled = [eventGoal, click, pageGoal, pageview];
  const pushed = [pageview, pageGoal, click, eventGoal];

  test('merging pushes into the polled feed (and back) keeps one entry per id, each goal just above its event', () => {
    const ids = polled.map((e) => e.id);
    assert.deepEqual(mergeFeed(polled, pushed).map((e) => e.id), ids);
    assert.deepEqual(mergeFeed(pushed, polled).map((e) => e.id), ids);
    assert.deepEqual(mergeFeed([], pushed).map((e) => e.id), ids, 'pushes alone sort the same way');
    assert.deepEqual(mergeFeed(mergeFeed([], [pageview, pageGoal]), polled).map((e) => e.id), ids);
  });

  test('a goal entry is keyed by its own id, never confused with its event', () => {
    assert.equal(feedKey(pageGoal), `${EVENT_1}:signup`);
    assert.notEqual(feedKey(pageGoal), feedKey(pageview));
    const twoGoals = [pageview, pageGoal, { ...pageGoal, id: `${EVENT_1}:any page`, goal: 'any page', value: undefined }];
    assert.equal(mergeFeed(twoGoals, twoGoals).length, 3);
  });
});

describe('window', () => {
  test('windowStart: the current UTC minute and the N-1 before it', () => {
    assert.equal(windowStart('2026-01-15T10:30:12.345Z', 5), '2026-01-15T10:26:00.000Z');
    assert.equal(windowStart('2026-01-15T10:30:12.345Z', 1), '2026-01-15T10:30:00.000Z');
    assert.equal(windowStart('nonsense', 5), null);
  });

  test('trimFeedToWindow drops what the window no longer holds', () => {
    const feed = [ev('new', 5), { ...ev('old', 0), timestamp: '2026-01-15T10:29:59.999Z' }];
    const trimmed = trimFeedToWindow(feed, '2026-01-15T10:30:40.000Z', 1);
    assert.deepEqual(trimmed.map((e) => e.id), ['new']);
    assert.equal(trimFeedToWindow(feed, undefined, 1), feed);
  });
});

describe('URLs', () => {
  test('realtimeUrl', () => {
    assert.equal(
      realtimeUrl({ baseUrl: 'http://127.0.0.1:3000/', siteId: 'demo', minutes: 30, limit: 10, events: 50 }),
      'http://127.0.0.1:3000/sites/demo/realtime?minutes=30&limit=10&events=50',
    );
    assert.equal(realtimeUrl({ baseUrl: '', siteId: 'a b' }), '/sites/a%20b/realtime?minutes=5');
  });

  test('socketUrl adds siteId and token, keeps existing query and stage, maps http to ws', () => {
    assert.equal(
      socketUrl('ws://127.0.0.1:3000/ws', { siteId: 'demo', token: 'pt_x/y+z' }),
      'ws://127.0.0.1:3000/ws?siteId=demo&token=pt_x%2Fy%2Bz',
    );
    assert.equal(
      socketUrl('wss://abc.execute-api.eu-west-1.amazonaws.com/prod', { siteId: 'demo' }),
      'wss://abc.execute-api.eu-west-1.amazonaws.com/prod?siteId=demo',
    );
    assert.equal(socketUrl('/ws?v=1', { siteId: 's', baseUrl: 'https://pulse.example.net' }), 'wss://pulse.example.net/ws?v=1&siteId=s');
  });
});
