import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  connectRealtime,
  createRealtimePoller,
  fetchDashboardData,
  fetchRealtime,
  RealtimeError,
} from '../public/realtime.js';
import { deferred, fakeTimers, fakeWebSocketClass, response, scriptedFetch, settle } from '../test-helpers/fakes.mjs';

const BASE = 'http://127.0.0.1:3000';
let clockForViews = Date.parse('2026-01-15T10:30:12.345Z');

function view(patch = {}) {
  return {
    siteId: 'demo',
    minutes: 5,
    generatedAt: new Date(clockForViews).toISOString(),
    currentVisitors: 1,
    pageViews: 1,
    activePages: [{ path: '/', visitors: 1 }],
    countries: [],
    referrers: [],
    timeline: [],
    recentEvents: [],
    ...patch,
  };
}

const feedEntry = (id, second) => ({
  type: 'pageview',
  id,
  path: `/${id}`,
  timestamp: `2026-01-15T10:30:${String(second).padStart(2, '0')}.000Z`,
  device: 'desktop',
});

const realtimeCalls = (fetch) => fetch.calls.filter((c) => c.url.includes('/realtime'));

describe('fetchRealtime', () => {
  test('sends the bearer token and the window parameters', async () => {
    const fetch = scriptedFetch(() => response(200, view()));
    const data = await fetchRealtime({ baseUrl: BASE, siteId: 'demo', token: 'pt_secret', minutes: 1, fetch });
    assert.equal(data.currentVisitors, 1);
    assert.equal(fetch.calls[0].url, `${BASE}/sites/demo/realtime?minutes=1`);
    assert.equal(fetch.calls[0].init.headers.authorization, 'Bearer pt_secret');
  });

  test('no token, no Authorization header (public sites)', async () => {
    const fetch = scriptedFetch(() => response(200, view()));
    await fetchRealtime({ baseUrl: BASE, siteId: 'demo', fetch });
    assert.equal('authorization' in fetch.calls[0].init.headers, false);
  });

  test('errors carry status, field and Retry-After', async () => {
    const cases = [
      [response(401, { error: 'missing or invalid token', field: null }), 401, null, null],
      [response(400, { error: 'minutes must be 1 to 30', field: 'minutes' }), 400, 'minutes', null],
      [response(503, { error: 'store unavailable', field: null }, { 'Retry-After': '5' }), 503, null, 5],
      [response(502, 'not json'), 502, null, null],
    ];
    for (const [answer, status, field, retryAfter] of cases) {
      const fetch = scriptedFetch(() => answer);
      const error = await fetchRealtime({ baseUrl: BASE, siteId: 'demo', fetch }).catch((e) => e);
      assert.ok(error instanceof RealtimeError);
      assert.equal(error.status, status);
      assert.equal(error.field, field);
      assert.equal(error.retryAfter, retryAfter);
    }
  });

  test('a network failure is a RealtimeError with status 0', async () => {
    const fetch = scriptedFetch(() => {
      throw new TypeError('Failed to fetch');
    });
    const error = await fetchRealtime({ baseUrl: BASE, siteId: 'demo', fetch }).catch((e) => e);
    assert.ok(error instanceof RealtimeError);
    assert.equal(error.status, 0);
  });

  test('fetchDashboardData wraps the view under realtime', async () => {
    const fetch = scriptedFetch(() => response(200, view({ currentVisitors: 7 })));
    const out = await fetchDashboardData({ baseUrl: BASE, siteId: 'demo', fetch }, { realtime: true });
    assert.equal(out.realtime.currentVisitors, 7);
    assert.deepEqual(await fetchDashboardData({ baseUrl: BASE, siteId: 'demo', fetch }, { realtime: false }), {});
  });
});

describe('createRealtimePoller', () => {
  test('polls at once, then every interval', async () => {
    const timers = fakeTimers();
    const fetch = scriptedFetch(() => response(200, view()));
    const poller = createRealtimePoller({ baseUrl: BASE, siteId: 'demo', token: 't', interval: 5000, fetch, timers });
    poller.start();
    poller.start(); // idempotent
    await settle();
    assert.equal(fetch.calls.length, 1);
    assert.equal(poller.data.currentVisitors, 1);
    assert.equal(poller.isLoading, false);
    await timers.advance(4999);
    assert.equal(fetch.calls.length, 1);
    await timers.advance(1);
    assert.equal(fetch.calls.length, 2);
    await timers.advance(10000);
    assert.equal(fetch.calls.length, 4);
    poller.stop();
  });

  test('a failed poll keeps the last good data and sets error; the next success clears it', async () => {
    const timers = fakeTimers();
    const answers = [
      () => response(200, view({ currentVisitors: 3 })),
      () => response(503, { error: 'store unavailable', field: null }),
      () => {
        throw new TypeError('Failed to fetch');
      },
      () => response(200, view({ currentVisitors: 4 })),
    ];
    const fetch = scriptedFetch((_url, _init, i) => answers[i]());
    const poller = createRealtimePoller({ baseUrl: BASE, siteId: 'demo', interval: 1000, fetch, timers });
    const seen = [];
    poller.subscribe((s) => seen.push(s));
    poller.start();
    await settle();
    assert.equal(poller.data.currentVisitors, 3);
    assert.equal(poller.error, null);

    await timers.advance(1000);
    assert.equal(poller.data.currentVisitors, 3, 'kept');
    assert.equal(poller.error.status, 503);

    await timers.advance(1000);
    assert.equal(poller.data.currentVisitors, 3, 'kept');
    assert.equal(poller.error.status, 0);

    await timers.advance(1000);
    assert.equal(poller.data.currentVisitors, 4);
    assert.equal(poller.error, null);
    assert.ok(seen.some((s) => s.isLoading), 'isLoading was reported while a request was in flight');
    poller.stop();
  });

  test('Retry-After on a 503 stretches the next poll', async () => {
    const timers = fakeTimers();
    const fetch = scriptedFetch((_u, _i, n) =>
      n === 0 ? response(503, { error: 'x', field: null }, { 'retry-after': '20' }) : response(200, view()),
    );
    const poller = createRealtimePoller({ baseUrl: BASE, siteId: 'demo', interval: 5000, fetch, timers });
    poller.start();
    await settle();
    await timers.advance(19_999);
    assert.equal(fetch.calls.length, 1);
    await timers.advance(1);
    assert.equal(fetch.calls.length, 2);
    poller.stop();
  });

  test('stop really stops: no more requests, the pending timer is cleared', async () => {
    const timers = fakeTimers();
    const fetch = scriptedFetch(() => response(200, view()));
    const poller = createRealtimePoller({ baseUrl: BASE, siteId: 'demo', interval: 1000, fetch, timers });
    poller.start();
    await settle();
    assert.equal(timers.pending().length, 1);
    poller.stop();
    assert.equal(timers.pending().length, 0);
    await timers.advance(60_000);
    assert.equal(fetch.calls.length, 1);
  });

  test('stop ignores (and aborts) the request in flight', async () => {
    const timers = fakeTimers();
    const gate = deferred();
    const fetch = scriptedFetch(() => gate.promise);
    const poller = createRealtimePoller({ baseUrl: BASE, siteId: 'demo', interval: 1000, fetch, timers });
    const seen = [];
    poller.subscribe((s) => seen.push(s));
    poller.start();
    await settle();
    assert.equal(poller.isLoading, true);
    poller.stop();
    assert.equal(fetch.calls[0].init.signal.aborted, true);
    const before = seen.length;
    gate.resolve(response(200, view({ currentVisitors: 99 })));
    await settle();
    await timers.advance(10_000);
    assert.equal(poller.data, null);
    assert.equal(poller.isLoading, false);
    assert.equal(seen.length, before, 'no state change after stop');
    assert.equal(fetch.calls.length, 1);
  });

  test('subscribe calls at once and on change; unsubscribe stops the calls', async () => {
    const timers = fakeTimers();
    const fetch = scriptedFetch(() => response(200, view()));
    const poller = createRealtimePoller({ baseUrl: BASE, siteId: 'demo', fetch, timers });
    let calls = 0;
    const unsubscribe = poller.subscribe(() => calls++);
    assert.equal(calls, 1);
    poller.start();
    await settle();
    const afterFirst = calls;
    assert.ok(afterFirst >= 3, 'loading, then data');
    unsubscribe();
    await timers.advance(5000);
    assert.equal(calls, afterFirst);
    poller.stop();
  });

  test('update changes the window for the next request', async () => {
    const timers = fakeTimers();
    const fetch = scriptedFetch(() => response(200, view()));
    const poller = createRealtimePoller({ baseUrl: BASE, siteId: 'demo', minutes: 5, fetch, timers });
    poller.start();
    await settle();
    poller.update({ minutes: 30 });
    await poller.refresh();
    assert.match(fetch.calls.at(-1).url, /minutes=30/);
    poller.stop();
  });
});

/** A backend double: config.json, the realtime view (or failures), and a WebSocket class. */
function backend({ realtime = () => response(200, view()) } = {}) {
  const WebSocket = fakeWebSocketClass();
  const fetch = scriptedFetch((url, init, n) => {
    if (url.endsWith('/config.json')) return response(200, { websocketUrl: 'ws://127.0.0.1:3000/ws' });
    return realtime(url, init, n);
  });
  return { WebSocket, fetch, sockets: WebSocket.instances };
}

function connect(b, timers, options = {}) {
  return connectRealtime({
    baseUrl: BASE,
    siteId: 'demo',
    token: 'pt_token',
    WebSocket: b.WebSocket,
    fetch: b.fetch,
    timers,
    random: () => 0.5,
    ...options,
  });
}

describe('connectRealtime', () => {
  test('connects to config.json’s websocketUrl with siteId and token; live once open', async () => {
    const timers = fakeTimers();
    const b = backend();
    const rt = connect(b, timers);
    const statuses = [];
    rt.subscribe((s) => statuses.push(s.status));
    assert.equal(rt.status, 'connecting');
    await settle();
    assert.equal(b.sockets.length, 1);
    assert.equal(b.sockets[0].url, 'ws://127.0.0.1:3000/ws?siteId=demo&token=pt_token');
    assert.equal(rt.status, 'polling', 'the first poll answered before the socket opened');
    b.sockets[0].open();
    assert.equal(rt.status, 'live');
    assert.equal(rt.data.currentVisitors, 1);
    assert.deepEqual([...new Set(statuses)], ['connecting', 'polling', 'live']);
    rt.stop();
  });

  test('status: live → polling when the socket drops → offline when polls fail too → live again', async () => {
    const timers = fakeTimers();
    let apiUp = true;
    const b = backend({
      realtime: () => {
        if (!apiUp) throw new TypeError('Failed to fetch');
        return response(200, view());
      },
    });
    const rt = connect(b, timers);
    await settle();
    b.sockets[0].open();
    assert.equal(rt.status, 'live');

    b.sockets[0].serverClose();
    await settle();
    assert.equal(rt.status, 'polling');

    apiUp = false;
    await timers.advance(5000); // a poll fails; the reconnect (500 ms) was refused meanwhile
    for (const s of b.sockets.slice(1)) s.serverClose();
    await timers.advance(5000);
    for (const s of b.sockets.slice(1)) s.serverClose();
    assert.equal(rt.status, 'offline');
    assert.ok(rt.error);

    apiUp = true;
    await timers.advance(60_000);
    const latest = b.sockets.at(-1);
    assert.equal(latest.readyState, 0);
    latest.open();
    assert.equal(rt.status, 'live');
    rt.stop();
  });

  test('polls every interval while the socket is down, and slowly while live', async () => {
    const timers = fakeTimers();
    const b = backend();
    const rt = connect(b, timers, { interval: 5000, liveRefreshInterval: 30_000, refreshDelay: 100, minRefreshGap: 0 });
    await settle();
    // Socket refused: stays down (every reconnect closes at once).
    const refuseAll = () => b.sockets.forEach((s) => s.readyState === 0 && s.serverClose());
    refuseAll();
    for (let i = 0; i < 6; i++) {
      await timers.advance(5000);
      refuseAll();
    }
    const whileDown = realtimeCalls(b.fetch).length;
    assert.ok(whileDown >= 7, `${whileDown} polls in 30 s while down`);
    await timers.advance(60_000);
    b.sockets.at(-1).open();
    await timers.advance(200); // the catch-up refresh after opening
    const atOpen = realtimeCalls(b.fetch).length;
    await timers.advance(60_000);
    const whileLive = realtimeCalls(b.fetch).length - atOpen;
    assert.ok(whileLive >= 1 && whileLive <= 3, `${whileLive} refreshes in 60 s while live`);
    rt.stop();
  });

  test('reconnects with full-jitter backoff, capped, starting over after a stable connection', async () => {
    const timers = fakeTimers();
    const b = backend();
    const rt = connect(b, timers, { backoff: { base: 1000, cap: 8000 }, random: () => 0.999, stableAfter: 5000 });
    await settle();
    const gaps = [];
    for (let i = 0; i < 6; i++) {
      const sock = b.sockets.at(-1);
      sock.serverClose();
      await settle();
      const count = b.sockets.length;
      const start = timers.now();
      while (b.sockets.length === count) await timers.advance(50);
      gaps.push(timers.now() - start);
    }
    // ceilings 1, 2, 4, 8, 8, 8 s; random 0.999 puts each delay just under its ceiling
    const expected = [1000, 2000, 4000, 8000, 8000, 8000];
    gaps.forEach((gap, i) => assert.ok(gap <= expected[i] && gap >= expected[i] * 0.95, `gap ${i}: ${gap}`));

    // Open for longer than stableAfter: the next drop reconnects from the base delay again.
    b.sockets.at(-1).open();
    await timers.advance(6000);
    b.sockets.at(-1).serverClose();
    await settle();
    const count = b.sockets.length;
    const start = timers.now();
    while (b.sockets.length === count) await timers.advance(50);
    assert.ok(timers.now() - start <= 1000);
    rt.stop();
  });

  test('a socket that opens and drops at once does not reset the backoff', async () => {
    const timers = fakeTimers();
    const b = backend();
    const rt = connect(b, timers, { backoff: { base: 1000, cap: 60_000 }, random: () => 0.999, stableAfter: 5000 });
    await settle();
    for (let i = 0; i < 4; i++) {
      const sock = b.sockets.at(-1);
      sock.open();
      sock.serverClose();
      await settle();
      while (b.sockets.length === i + 1) await timers.advance(100);
    }
    b.sockets.at(-1).open();
    b.sockets.at(-1).serverClose();
    await settle();
    assert.ok(timers.pending().some((d) => d > 8000), `pending: ${timers.pending()}`);
    rt.stop();
  });

  test('pushed events join the feed: de-duplicated by id, newest first, capped', async () => {
    const timers = fakeTimers();
    const b = backend({ realtime: () => response(200, view({ recentEvents: [feedEntry('b', 20), feedEntry('a', 10)] })) });
    const rt = connect(b, timers, { maxFeed: 4 });
    await settle();
    const sock = b.sockets[0];
    sock.open();
    assert.deepEqual(rt.feed.map((e) => e.id), ['b', 'a']);
    sock.message({ type: 'events', siteId: 'demo', events: [feedEntry('b', 20), feedEntry('c', 30), feedEntry('d', 40)] });
    assert.deepEqual(rt.feed.map((e) => e.id), ['d', 'c', 'b', 'a']);
    sock.message({ type: 'events', siteId: 'demo', events: [feedEntry('e', 50)] });
    assert.deepEqual(rt.feed.map((e) => e.id), ['e', 'd', 'c', 'b']);
    assert.deepEqual(rt.data.recentEvents.map((e) => e.id), ['e', 'd', 'c', 'b'], 'data carries the merged feed');

    sock.message({ type: 'events', siteId: 'other', events: [feedEntry('x', 59)] });
    sock.message('not json');
    sock.message({ type: 'pong' });
    sock.message({ type: 'events', siteId: 'demo', events: 'nope' });
    assert.deepEqual(rt.feed.map((e) => e.id), ['e', 'd', 'c', 'b']);

    // A later poll returning an event the push already delivered does not duplicate it.
    await timers.advance(20_000);
    assert.equal(new Set(rt.feed.map((e) => e.id)).size, rt.feed.length);
    rt.stop();
  });

  test('goal entries: pushed after their event, polled above it, shown once each; the refresh brings the goals', async () => {
    const timers = fakeTimers();
    const click = { type: 'event', id: 'e1', name: 'signup_click', value: 1, path: '/pricing', timestamp: '2026-01-15T10:30:05.000Z', device: 'desktop' };
    const goal = { type: 'goal', id: 'e1:signed up', goal: 'signed up', name: 'signup_click', value: 1, timestamp: click.timestamp, device: 'desktop' };
    let converted = false;
    const b = backend({
      realtime: () =>
        response(200, converted
          ? view({ recentEvents: [goal, click], goals: [{ goal: 'signed up', conversions: 1, visitors: 1, value: 1, conversionRate: 1 }] })
          : view({ goals: [] })),
    });
    const rt = connect(b, timers, { refreshDelay: 1500, minRefreshGap: 3000 });
    await settle();
    b.sockets[0].open();
    await timers.advance(5000);
    assert.deepEqual(rt.data.goals, []);

    converted = true;
    b.sockets[0].message({ type: 'events', siteId: 'demo', events: [click, goal] });
    assert.deepEqual(rt.feed.map((e) => e.id), ['e1:signed up', 'e1']);
    const shown = rt.feed[0];
    b.sockets[0].message({ type: 'events', siteId: 'demo', events: [click, goal] }); // redelivered
    await timers.advance(1500); // the refresh after the push: the polled feed holds both again
    assert.deepEqual(rt.feed.map((e) => e.id), ['e1:signed up', 'e1']);
    assert.equal(rt.feed[0], shown, 'the pushed entry stays: its row is not rebuilt');
    assert.deepEqual(rt.data.goals.map((g) => [g.goal, g.conversions]), [['signed up', 1]]);
    rt.stop();
  });

  test('pushes refresh the counters with one rate-limited fetch', async () => {
    const timers = fakeTimers();
    let visitors = 1;
    const b = backend({ realtime: () => response(200, view({ currentVisitors: visitors })) });
    const rt = connect(b, timers, { refreshDelay: 1500, minRefreshGap: 3000, liveRefreshInterval: 600_000 });
    await settle();
    b.sockets[0].open();
    await timers.advance(5000); // the catch-up refresh after opening
    const before = realtimeCalls(b.fetch).length;
    visitors = 2;
    for (let i = 0; i < 10; i++) {
      b.sockets[0].message({ type: 'events', siteId: 'demo', events: [feedEntry(`p${i}`, i)] });
      await timers.advance(100);
    }
    assert.equal(realtimeCalls(b.fetch).length, before, 'not yet: rollups trail the raw events');
    await timers.advance(500);
    assert.equal(realtimeCalls(b.fetch).length, before + 1, 'one fetch 1.5 s after the first push');
    await timers.advance(10_000);
    assert.equal(realtimeCalls(b.fetch).length, before + 1, 'and none after it without pushes');
    assert.equal(rt.data.currentVisitors, 2);
    rt.stop();
  });

  test('pings every pingInterval while open', async () => {
    const timers = fakeTimers();
    const b = backend();
    const rt = connect(b, timers, { pingInterval: 300_000 });
    await settle();
    const sock = b.sockets[0];
    sock.open();
    await timers.advance(299_000);
    assert.deepEqual(sock.sent, []);
    await timers.advance(1000);
    assert.deepEqual(sock.sent.map((s) => JSON.parse(s)), [{ action: 'ping' }]);
    await timers.advance(300_000);
    assert.equal(sock.sent.length, 2);
    rt.stop();
  });

  test('stop closes the socket and stops every timer', async () => {
    const timers = fakeTimers();
    const b = backend();
    const rt = connect(b, timers);
    await settle();
    b.sockets[0].open();
    b.sockets[0].message({ type: 'events', siteId: 'demo', events: [feedEntry('z', 1)] });
    rt.stop();
    await settle();
    assert.equal(b.sockets[0].readyState, 3);
    assert.equal(timers.pending().length, 0);
    const calls = b.fetch.calls.length;
    await timers.advance(600_000);
    assert.equal(b.fetch.calls.length, calls);
    assert.equal(b.sockets.length, 1, 'no reconnect after stop');
    assert.equal(rt.status, 'offline');
  });

  test('config.json failing means polling, and the socket is tried again later', async () => {
    const timers = fakeTimers();
    let configUp = false;
    const WebSocket = fakeWebSocketClass();
    const fetch = scriptedFetch((url) => {
      if (url.endsWith('/config.json')) return configUp ? response(200, { websocketUrl: 'ws://h/ws' }) : response(404, null);
      return response(200, view());
    });
    const rt = connectRealtime({ baseUrl: BASE, siteId: 'demo', WebSocket, fetch, timers, random: () => 0.5 });
    await settle();
    assert.equal(rt.status, 'polling');
    assert.equal(WebSocket.instances.length, 0);
    configUp = true;
    await timers.advance(2000);
    assert.equal(WebSocket.instances.length, 1);
    assert.equal(WebSocket.instances[0].url, 'ws://h/ws?siteId=demo');
    rt.stop();
  });

  test('without WebSocket support it just polls', async () => {
    const timers = fakeTimers();
    const fetch = scriptedFetch(() => response(200, view()));
    const rt = connectRealtime({ baseUrl: BASE, siteId: 'demo', WebSocket: undefined, fetch, timers, websocketUrl: 'ws://x' });
    await settle();
    assert.equal(rt.status, 'polling');
    rt.stop();
  });

  test('update({ minutes }) refetches and trims the feed to the new window', async () => {
    const timers = fakeTimers();
    let minutes = 30;
    const old = { ...feedEntry('old', 0), timestamp: '2026-01-15T10:05:00.000Z' };
    const b = backend({
      realtime: (url) => {
        minutes = Number(new URL(url).searchParams.get('minutes'));
        return response(200, view({ minutes, recentEvents: minutes === 30 ? [old, feedEntry('new', 1)] : [feedEntry('new', 1)] }));
      },
    });
    const rt = connect(b, timers, { minutes: 30 });
    await settle();
    assert.deepEqual(rt.feed.map((e) => e.id), ['new', 'old']);
    rt.update({ minutes: 1 });
    await settle();
    assert.equal(minutes, 1);
    assert.deepEqual(rt.feed.map((e) => e.id), ['new']);
    rt.stop();
  });
});
