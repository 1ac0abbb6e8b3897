// The tracker in a real browser against the running stack: what it sends, what gets stored, and what
// it must not send.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BASE,
  BASE_PATH,
  captureHits,
  demoUrl,
  realtime,
  SKIP,
  sleep,
  storedCount,
  useBrowser,
  waitFor,
} from './lib.mjs';

const UUID7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('tracker', () => {
  const browser = useBrowser();

  test('an SPA navigation, an outbound click and a custom event each arrive once', { skip: SKIP, timeout: 90_000 }, async () => {
    await browser.withContext(async (context) => {
      const page = await context.newPage();
      const hits = captureHits(page);
      await page.goto(demoUrl('docs.html'));
      const load = await waitFor(() => hits.find((h) => h.e === 'pageview'), { message: 'the page view' });

      await page.click('[data-testid=view-install]');
      const spa = await waitFor(
        () => hits.find((h) => h.e === 'pageview' && new URL(h.u).pathname === `${BASE_PATH}/demo/docs/install`),
        { message: 'the SPA page view' },
      );
      await page.click('[data-testid=view-install]'); // the same path again: nothing to send

      await page.click('[data-testid=signup]');
      const event = await waitFor(() => hits.find((h) => h.e === 'event'), { message: 'the custom event' });

      await Promise.all([page.waitForURL(/example\.org/), page.click('[data-testid=outbound]')]);
      const outbound = await waitFor(() => hits.find((h) => h.e === 'outbound'), { message: 'the outbound click' });

      assert.equal(hits.filter((h) => h.e === 'pageview').length, 2, 'the load and the SPA navigation, nothing more');
      assert.equal(spa.t, 'Install · Docs · Acme Widgets');
      assert.deepEqual(event.p, { name: 'signup_click', value: 1 });
      assert.deepEqual(outbound.p, { url: 'https://example.org/docs' });
      assert.equal(outbound.via, 'ping', 'outbound clicks leave by sendBeacon');
      for (const hit of [load, spa, event, outbound]) {
        assert.equal(hit.to, `${BASE}/collect`, 'collect beside the script, under the base path');
        assert.match(hit.id, UUID7);
        assert.equal(await storedCount(hit.id), 1, `${hit.e} ${hit.id} stored once`);
      }

      // Nothing turns up twice later either, and the feed holds what was sent.
      await sleep(1500);
      const view = await realtime();
      const entry = (id) => view.recentEvents.filter((e) => e.id === id);
      for (const hit of [load, spa, event, outbound]) assert.equal(entry(hit.id).length, 1, `${hit.e} still once`);
      assert.equal(entry(spa.id)[0].path, `${BASE_PATH}/demo/docs/install`);
      assert.equal(entry(event.id)[0].name, 'signup_click');
      assert.equal(entry(event.id)[0].value, 1);
      assert.equal(entry(outbound.id)[0].url, 'https://example.org/docs');
    });
  });

  for (const [label, init] of [
    ['Do Not Track', () => Object.defineProperty(Navigator.prototype, 'doNotTrack', { get: () => '1', configurable: true })],
    ['Global Privacy Control', () => Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', { get: () => true, configurable: true })],
  ]) {
    test(`with ${label} on, nothing is sent`, { skip: SKIP, timeout: 90_000 }, async () => {
      await browser.withContext(async (context) => {
        await context.addInitScript(init);
        const page = await context.newPage();
        const sent = [];
        page.on('request', (r) => new URL(r.url()).pathname.endsWith('/collect') && sent.push(r.url()));
        await page.goto(demoUrl('docs.html'));
        await page.click('[data-testid=view-events]');
        await page.click('[data-testid=signup]');
        await Promise.all([page.waitForURL(/example\.org/), page.click('[data-testid=outbound]')]);
        await sleep(1500);
        assert.deepEqual(sent, []);
      });
    });
  }

  test('a 429 twice (Retry-After: 1) is retried after it, with the same id, and stored once', { skip: SKIP, timeout: 90_000 }, async () => {
    await browser.withContext(async (context) => {
      const sentAt = [];
      await context.route(
        (url) => url.pathname === `${BASE_PATH}/collect`,
        async (route) => {
          if (route.request().method() === 'POST') sentAt.push(Date.now());
          if (sentAt.length <= 2 && route.request().method() === 'POST') {
            return route.fulfill({
              status: 429,
              headers: { 'access-control-allow-origin': '*', 'retry-after': '1', 'content-type': 'application/json' },
              body: '{"message":"Too Many Requests"}',
            });
          }
          return route.continue();
        },
      );
      const page = await context.newPage();
      const hits = captureHits(page);
      await page.goto(demoUrl('pricing.html'));
      // Retry-After plus at most 1 s, then plus at most 2 s of jitter.
      await waitFor(() => hits.length >= 3, { timeout: 8000, message: 'two retries' });
      await sleep(1500); // a fourth send would be a retry after success
      assert.equal(hits.length, 3, 'one attempt and two retries');
      assert.ok(hits.every((h) => h.id === hits[0].id), 'the retries carry the same id');
      const gaps = sentAt.slice(1).map((t, i) => t - sentAt[i]);
      assert.ok(gaps.every((ms) => ms >= 1000), `each retry waits out Retry-After: ${gaps} ms`);
      assert.equal(await storedCount(hits[0].id), 1);
    });
  });
});
