import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { loadTracker, settle } from '../test-helpers/tracker-sandbox.mjs';

const UUID7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const QUEUE_SNIPPET = 'window.pulse = window.pulse || function () { (window.pulse.q = window.pulse.q || []).push(arguments) };';

describe('page view on load', () => {
  test('sends one page view with the wire fields, to the script origin, by fetch keepalive', () => {
    const page = loadTracker({ url: 'https://www.example.com/pricing?plan=pro', title: 'Pricing' });
    assert.equal(page.requests.length, 1);
    const [req] = page.requests;
    assert.equal(req.via, 'fetch');
    assert.equal(req.url, 'https://pulse.example.net/collect');
    assert.equal(req.init.method, 'POST');
    assert.equal(req.init.keepalive, true);
    assert.equal(typeof req.init.body, 'string', 'a string body goes as text/plain: no preflight');
    assert.equal(req.init.headers, undefined);
    const { id, ...rest } = req.body;
    assert.deepEqual(rest, {
      s: 'demo',
      e: 'pageview',
      u: 'https://www.example.com/pricing?plan=pro',
      t: 'Pricing',
      sw: 1440,
      sh: 900,
    });
    assert.match(id, UUID7);
  });

  test('carries the referrer when there is one, and leaves it out when empty', () => {
    assert.equal(loadTracker({ referrer: 'https://news.ycombinator.com/' }).hits[0].r, 'https://news.ycombinator.com/');
    assert.equal('r' in loadTracker({ referrer: '' }).hits[0], false);
  });

  test('by default collect is beside the script, under its base path', () => {
    const page = loadTracker({ src: 'https://stats.example.com/api/analytics/script.js?v=1f2e' });
    assert.equal(page.requests[0].url, 'https://stats.example.com/api/analytics/collect');
  });

  test('data-api overrides the endpoint origin (a trailing slash is fine)', () => {
    const page = loadTracker({ attrs: { site: 'demo', api: 'https://stats.example.org/' } });
    assert.equal(page.requests[0].url, 'https://stats.example.org/collect');
  });

  test('titles are cut to the 300 characters collect accepts', () => {
    assert.equal(loadTracker({ title: 'x'.repeat(400) }).hits[0].t.length, 300);
  });

  test('without data-site nothing is sent and pulse() is harmless', () => {
    const page = loadTracker({ attrs: {} });
    page.run("pulse('event', 'x')");
    assert.equal(page.requests.length, 0);
  });

  test('without fetch the hit goes by sendBeacon', () => {
    const page = loadTracker({ fetch: false });
    assert.equal(page.requests.length, 1);
    assert.equal(page.requests[0].via, 'beacon');
    assert.equal(page.requests[0].url, 'https://pulse.example.net/collect');
  });
});

describe('privacy', () => {
  for (const [label, options] of [
    ['navigator.doNotTrack = "1"', { navigator: { doNotTrack: '1' } }],
    ['navigator.doNotTrack = "yes" (old Firefox)', { navigator: { doNotTrack: 'yes' } }],
    ['window.doNotTrack = "1"', { window: { doNotTrack: '1' } }],
    ['navigator.msDoNotTrack = "1"', { navigator: { msDoNotTrack: '1' } }],
    ['navigator.globalPrivacyControl = true', { navigator: { globalPrivacyControl: true } }],
  ]) {
    test(`${label}: nothing is sent, not even events or outbound clicks`, () => {
      const page = loadTracker({ ...options, before: QUEUE_SNIPPET + "pulse('event', 'queued');" });
      page.run("pulse('event', 'signup_click', { value: 1 })");
      page.click('https://example.org/');
      page.history.pushState({}, '', '/other');
      assert.equal(page.requests.length, 0);
      assert.equal(page.listenerCount('click'), 0, 'no listeners either');
    });
  }

  test('doNotTrack "0" or "unspecified" and GPC false still count', () => {
    assert.equal(loadTracker({ navigator: { doNotTrack: '0', globalPrivacyControl: false } }).requests.length, 1);
    assert.equal(loadTracker({ navigator: { doNotTrack: 'unspecified' } }).requests.length, 1);
  });
});

describe('localhost', () => {
  for (const url of ['http://localhost:8080/', 'http://127.0.0.1:3000/demo/index.html', 'http://[::1]:8080/']) {
    test(`${url} sends nothing by default`, () => {
      assert.equal(loadTracker({ url }).requests.length, 0);
    });
    test(`${url} sends with data-allow-localhost`, () => {
      assert.equal(loadTracker({ url, attrs: { site: 'demo', 'allow-localhost': true } }).requests.length, 1);
    });
  }

  test('hosts that merely look local still count', () => {
    assert.equal(loadTracker({ url: 'https://localhost.example.com/' }).requests.length, 1);
    assert.equal(loadTracker({ url: 'http://127.0.0.10/' }).requests.length, 1);
  });
});

describe('data-exclude', () => {
  const attrs = { site: 'demo', exclude: '/admin/*, /drafts ,/a.b,/blog/*/edit' };
  const sends = (path) => loadTracker({ url: `https://www.example.com${path}`, attrs }).requests.length === 1;

  test('a * matches any run of characters, the rest matches literally and wholly', () => {
    assert.equal(sends('/admin/users'), false);
    assert.equal(sends('/admin/users/42'), false);
    assert.equal(sends('/admin/'), false);
    assert.equal(sends('/admin'), true);
    assert.equal(sends('/administrator'), true);
    assert.equal(sends('/drafts'), false);
    assert.equal(sends('/drafts/1'), true);
    assert.equal(sends('/a.b'), false);
    assert.equal(sends('/axb'), true, 'a dot is not a regex wildcard');
    assert.equal(sends('/blog/hello/edit'), false);
    assert.equal(sends('/blog/hello'), true);
    assert.equal(sends('/'), true);
  });

  test('an excluded page sends no events or outbound clicks; SPA navigation follows the rules', () => {
    const page = loadTracker({ url: 'https://www.example.com/', attrs });
    page.history.pushState({}, '', '/admin/settings');
    page.run("pulse('event', 'save')");
    page.click('https://example.org/');
    assert.equal(page.requests.length, 1);
    page.history.pushState({}, '', '/pricing');
    assert.equal(page.requests.length, 2);
    assert.equal(new URL(page.hits[1].u).pathname, '/pricing');
  });

  test('an empty or blank attribute excludes nothing', () => {
    assert.equal(loadTracker({ attrs: { site: 'demo', exclude: '' } }).requests.length, 1);
    assert.equal(loadTracker({ attrs: { site: 'demo', exclude: ' , ' } }).requests.length, 1);
  });
});

describe('SPA navigation', () => {
  test('pushState to a new path sends a page view; the same path sends nothing', () => {
    const page = loadTracker({ url: 'https://www.example.com/docs' });
    page.history.pushState({}, '', '/docs/install');
    assert.deepEqual(page.hits.map((h) => h.u), ['https://www.example.com/docs', 'https://www.example.com/docs/install']);
    page.history.pushState({}, '', '/docs/install');
    page.history.pushState({}, '', '/docs/install?tab=npm');
    page.history.replaceState({ scroll: 10 }, '');
    page.history.replaceState({}, '', '/docs/install#usage');
    assert.equal(page.requests.length, 2);
    assert.deepEqual(page.history.state, {}, 'the wrapped methods still do their job');
  });

  test('replaceState to a new path counts', () => {
    const page = loadTracker({ url: 'https://www.example.com/' });
    page.history.replaceState({}, '', '/login');
    assert.equal(page.hits.at(-1).u, 'https://www.example.com/login');
  });

  test('popstate (back/forward) sends when the path changed', () => {
    const page = loadTracker({ url: 'https://www.example.com/a' });
    page.history.pushState({}, '', '/b');
    page.location.href = 'https://www.example.com/a';
    page.dispatchWindow('popstate');
    assert.deepEqual(page.hits.map((h) => new URL(h.u).pathname), ['/a', '/b', '/a']);
    page.dispatchWindow('popstate');
    assert.equal(page.requests.length, 3);
  });

  test('hash routes are ignored without data-hash', () => {
    const page = loadTracker({ url: 'https://www.example.com/app#/home' });
    page.location.hash = '#/settings';
    page.dispatchWindow('hashchange');
    page.dispatchWindow('popstate');
    assert.equal(page.requests.length, 1);
    assert.equal(page.listenerCount('hashchange'), 0);
  });

  test('with data-hash, a hash change is a navigation', () => {
    const page = loadTracker({ url: 'https://www.example.com/app#/home', attrs: { site: 'demo', hash: true } });
    page.location.hash = '#/settings';
    page.dispatchWindow('hashchange');
    page.dispatchWindow('popstate'); // browsers fire both for one change: still one page view
    page.dispatchWindow('hashchange');
    assert.deepEqual(page.hits.map((h) => h.u), ['https://www.example.com/app#/home', 'https://www.example.com/app#/settings']);
  });
});

describe('sending and retrying', () => {
  /** Runs the pending retry timers, one round, and lets the sends they make settle. */
  const nextRound = async (page) => {
    const ran = page.runTimers();
    await settle();
    return ran;
  };
  /** Each retry's full-jitter ceiling: 1 s, 2 s, 4 s. */
  const CEILINGS = [1000, 2000, 4000];

  test('a 429 twice then 204: three sends of the same body, each retry after its jittered delay', async () => {
    const draws = [0.25, 0.75];
    const page = loadTracker({ respond: (_body, index) => (index < 2 ? 429 : 204), random: () => draws.shift() });
    await settle();
    const delays = [];
    while (page.timers.length) {
      delays.push(...page.timers);
      await nextRound(page);
    }
    assert.equal(page.requests.length, 3);
    assert.ok(page.requests.every((r) => r.raw === page.requests[0].raw), 'same body, same id: deduplicated server side');
    // Full jitter: the random draw times a ceiling that doubles with each attempt.
    assert.deepEqual(delays, [0.25 * 1000, 0.75 * 2000]);
  });

  test('the delays are full jitter: anywhere from 0 up to the doubling ceiling, and not all alike', async () => {
    const seen = [[], [], []];
    for (let run = 0; run < 40; run++) {
      const page = loadTracker({ respond: () => 429 });
      await settle();
      for (let k = 0; page.timers.length; k++) {
        seen[k].push(page.timers[0]);
        await nextRound(page);
      }
    }
    seen.forEach((delays, k) => {
      assert.equal(delays.length, 40);
      for (const ms of delays) assert.ok(ms >= 0 && ms < CEILINGS[k], `retry ${k + 1}: ${ms} ms`);
      assert.ok(new Set(delays).size > 30, `retry ${k + 1} is jittered: ${delays}`);
      // Uniform over [0, ceiling): some below half of it and some above.
      assert.ok(delays.some((ms) => ms < CEILINGS[k] / 2) && delays.some((ms) => ms >= CEILINGS[k] / 2), `retry ${k + 1}`);
    });
  });

  test('it gives up after three retries: four sends in all, then no timer', async () => {
    for (const answer of [429, 503, 'network']) {
      const page = loadTracker({ respond: () => answer });
      await settle();
      let rounds = 0;
      while (await nextRound(page)) rounds++;
      assert.equal(rounds, 3, String(answer));
      assert.equal(page.requests.length, 4, String(answer));
      assert.equal(new Set(page.hits.map((h) => h.id)).size, 1, 'one id throughout');
    }
  });

  test('Retry-After is honoured: its seconds, plus the jitter, capped at 30 s', async () => {
    const delayFor = async (retryAfter, status = 429) => {
      const page = loadTracker({
        respond: (_body, index) => (index === 0 ? { status, headers: { 'Retry-After': retryAfter } } : 204),
        random: () => 0.5,
      });
      await settle();
      assert.equal(page.timers.length, 1, `Retry-After: ${retryAfter}`);
      return page.timers[0];
    };
    assert.equal(await delayFor('5'), 5000 + 500);
    assert.equal(await delayFor('5', 503), 5000 + 500, 'on a 503 as well');
    assert.equal(await delayFor('2.5'), 2500 + 500);
    assert.equal(await delayFor('120'), 30_000 + 500, 'capped');
    assert.equal(await delayFor('86400'), 30_000 + 500, 'capped');
    // What is not a number of seconds (the date form, garbage, a negative) is taken as absent.
    for (const ignored of ['Wed, 21 Oct 2026 07:28:00 GMT', 'soon', '-3', '']) {
      assert.equal(await delayFor(ignored), 500, `Retry-After: ${ignored}`);
    }
  });

  test('a retry that succeeds stops there; a 503 retried into a 429 goes on', async () => {
    const page = loadTracker({ respond: (_body, index) => [503, 429, 204][index] });
    await settle();
    assert.equal(await nextRound(page), 1);
    assert.equal(await nextRound(page), 1);
    assert.equal(await nextRound(page), 0);
    assert.equal(page.requests.length, 3);
  });

  test('sending never waits: the page view is sent and pulse() returns before any retry runs', async () => {
    const page = loadTracker({ respond: () => 429 });
    page.run("pulse('event', 'right_away')");
    assert.deepEqual(page.hits.map((h) => h.e), ['pageview', 'event'], 'both sent at once');
    assert.equal(page.timers.length, 0, 'no retry before an answer');
    await settle();
    assert.equal(page.timers.length, 2, 'each hit waits on a timer of its own');
  });

  for (const status of [200, 202, 204, 400, 403, 404, 413, 415, 500]) {
    test(`a ${status} is not retried`, async () => {
      const page = loadTracker({ respond: () => status });
      await settle();
      assert.equal(page.timers.length, 0);
      assert.equal(page.requests.length, 1);
    });
  }

  test('a beacon (leaving the page) is never retried: it has no status to read', async () => {
    const page = loadTracker();
    page.click('https://example.org/');
    await settle();
    assert.equal(page.requests[1].via, 'beacon');
    assert.equal(page.timers.length, 0);
  });
});

describe('ids', () => {
  test('UUIDv7: canonical lower-case form, version 7, variant 10, the clock in the first 48 bits', () => {
    const now = Date.UTC(2026, 0, 15, 10, 30, 12, 345);
    const page = loadTracker({ now: () => now });
    const id = page.hits[0].id;
    assert.match(id, UUID7);
    assert.equal(id.length, 36);
    assert.equal(parseInt(id.replace(/-/g, '').slice(0, 12), 16), now);
  });

  test('ids are unique and strictly increasing, within one millisecond and when the clock steps back', () => {
    let clock = Date.UTC(2026, 0, 15, 10, 30, 12, 345);
    const page = loadTracker({ now: () => clock });
    for (let i = 0; i < 40; i++) page.run(`pulse('event', 'e${i}')`);
    clock -= 5000; // NTP correction
    for (let i = 0; i < 10; i++) page.run(`pulse('event', 'late${i}')`);
    const ids = page.hits.map((h) => h.id);
    assert.equal(new Set(ids).size, ids.length);
    for (let i = 1; i < ids.length; i++) assert.ok(ids[i - 1] < ids[i], `${ids[i - 1]} < ${ids[i]}`);
    for (const id of ids) assert.match(id, UUID7);
  });

  test('the time part follows a moving clock', () => {
    let clock = 1_700_000_000_000;
    const page = loadTracker({ now: () => clock });
    clock += 60_000;
    page.run("pulse('event', 'later')");
    const ms = (id) => parseInt(id.replace(/-/g, '').slice(0, 12), 16);
    assert.equal(ms(page.hits[1].id) - ms(page.hits[0].id), 60_000);
  });
});

describe('custom events and the queue', () => {
  test("pulse('event', name, { value, props }) sends name, value and the props in p", () => {
    const page = loadTracker();
    page.run("pulse('event', 'signup_click', { value: 1, props: { plan: 'pro', trial: true, seats: 3 } })");
    const hit = page.hits[1];
    assert.equal(hit.e, 'event');
    assert.deepEqual(hit.p, { plan: 'pro', trial: true, seats: 3, name: 'signup_click', value: 1 });
    assert.match(hit.id, UUID7);
    assert.notEqual(hit.id, page.hits[0].id);
  });

  test('name and value win over props of the same name; a value that is not a number is dropped', () => {
    const page = loadTracker();
    page.run("pulse('event', 'a', { value: '3', props: { name: 'spoof', value: 9 } })");
    assert.deepEqual(page.hits[1].p, { name: 'a' });
  });

  test('unknown commands and events without a name send nothing', () => {
    const page = loadTracker();
    page.run("pulse('event'); pulse('event', ''); pulse('identify', 'x'); pulse()");
    assert.equal(page.requests.length, 1);
  });

  test('calls queued before the script loaded are sent after the page view, in order', () => {
    const page = loadTracker({
      before: QUEUE_SNIPPET + "pulse('event', 'first'); pulse('event', 'second', { value: 2 });",
    });
    assert.deepEqual(page.hits.map((h) => h.e), ['pageview', 'event', 'event']);
    assert.deepEqual(page.hits.slice(1).map((h) => h.p), [{ name: 'first' }, { name: 'second', value: 2 }]);
    assert.equal(typeof page.window.pulse.q, 'undefined', 'the queue function is replaced');
  });
});

describe('manual page views', () => {
  test("pulse('pageview') sends a page view of the page now, even of the path just counted", () => {
    const page = loadTracker({ url: 'https://www.example.com/pricing?plan=pro', title: 'Pricing' });
    page.run("pulse('pageview')");
    assert.equal(page.requests.length, 2);
    const { id, ...rest } = page.hits[1];
    assert.deepEqual(rest, { s: 'demo', e: 'pageview', u: 'https://www.example.com/pricing?plan=pro', t: 'Pricing', sw: 1440, sh: 900 });
    assert.match(id, UUID7);
    assert.notEqual(id, page.hits[0].id);
  });

  test("pulse('pageview', path) counts a virtual path of this origin", () => {
    const page = loadTracker({ url: 'https://www.example.com/signup?step=1#form', referrer: 'https://news.ycombinator.com/' });
    page.run("pulse('pageview', '/virtual/step-2')");
    assert.equal(page.hits[1].e, 'pageview');
    assert.equal(page.hits[1].u, 'https://www.example.com/virtual/step-2');
    assert.equal(page.hits[1].r, 'https://news.ycombinator.com/');
  });

  test('SPA navigation still compares with the last automatic page view', () => {
    const page = loadTracker({ url: 'https://www.example.com/docs' });
    page.run("pulse('pageview', '/docs/install')");
    page.history.pushState({}, '', '/docs');
    page.history.pushState({}, '', '/docs/install');
    assert.deepEqual(page.hits.map((h) => new URL(h.u).pathname), ['/docs', '/docs/install', '/docs/install']);
  });

  test('queued calls work, and nothing goes from an excluded page or under Do Not Track', () => {
    const before = QUEUE_SNIPPET + "pulse('pageview', '/step-1');";
    assert.deepEqual(loadTracker({ before }).hits.map((h) => h.u), ['https://www.example.com/', 'https://www.example.com/step-1']);
    assert.equal(loadTracker({ before, url: 'https://www.example.com/admin', attrs: { site: 'demo', exclude: '/admin' } }).requests.length, 0);
    assert.equal(loadTracker({ before, navigator: { doNotTrack: '1' } }).requests.length, 0);
  });
});

describe('outbound links', () => {
  test('a click on a link to another host sends an outbound hit by sendBeacon', () => {
    const page = loadTracker({ url: 'https://www.example.com/docs' });
    page.click('https://github.com/pulse/pulse?tab=readme');
    const req = page.requests[1];
    assert.equal(req.via, 'beacon', 'the page is about to leave');
    assert.equal(req.body.e, 'outbound');
    assert.deepEqual(req.body.p, { url: 'https://github.com/pulse/pulse?tab=readme' });
    assert.equal(req.body.u, 'https://www.example.com/docs');
    assert.match(req.body.id, UUID7);
  });

  test('same-host links, other schemes and non-links are not outbound', () => {
    const page = loadTracker({ url: 'https://www.example.com/' });
    page.click('/pricing');
    page.click('https://www.example.com/docs');
    page.click('mailto:hello@example.com');
    page.click('tel:+4930123456');
    page.click('javascript:void(0)');
    page.clickElsewhere();
    assert.equal(page.requests.length, 1);
  });

  test('another port or subdomain is another host', () => {
    const page = loadTracker({ url: 'https://www.example.com/' });
    page.click('https://blog.example.com/');
    page.click('https://www.example.com:8443/');
    assert.equal(page.requests.filter((r) => r.body.e === 'outbound').length, 2);
  });

  test('a middle click counts; a right click does not', () => {
    const page = loadTracker();
    page.click('https://example.org/', { type: 'auxclick', button: 1 });
    page.click('https://example.org/', { type: 'auxclick', button: 2 });
    assert.equal(page.requests.filter((r) => r.body.e === 'outbound').length, 1);
  });

  test('when sendBeacon is missing or refuses, fetch keepalive takes the hit', () => {
    for (const options of [{ sendBeacon: false }, { beaconResult: false }]) {
      const page = loadTracker(options);
      page.click('https://example.org/');
      const sent = page.requests.filter((r) => r.via === 'fetch' && r.body.e === 'outbound');
      assert.equal(sent.length, 1, JSON.stringify(options));
      assert.equal(sent[0].init.keepalive, true);
    }
  });
});
