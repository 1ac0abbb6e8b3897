// The dashboard in a real browser against the running stack: data, live push, the polling fallback,
// the set-up form, how it looks, and what it costs to load.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  artifactPath,
  dashboardStatus,
  dashboardUrl,
  feedRow,
  realtime,
  servedBytes,
  SITE,
  SKIP,
  sleep,
  storedCount,
  TOKEN,
  useBrowser,
  visitDemo,
  waitFor,
  waitForStatus,
} from './lib.mjs';

const waitForVisitors = (page, timeout) =>
  page.waitForFunction(() => Number(document.querySelector('[data-testid=visitors]')?.dataset.value) >= 1, null, { timeout });

describe('dashboard', () => {
  const browser = useBrowser();

  test('a demo page view is stored and shown within 2 s, and later ones arrive live', { skip: SKIP, timeout: 90_000 }, async () => {
    await browser.withContext(async (context) => {
      const demo = await visitDemo(context);
      assert.equal(await storedCount(demo.hit.id), 1);
      // The counters come from the rollups, which trail the raw events by about a second.
      await waitFor(async () => (await realtime()).currentVisitors >= 1, { message: 'the visitor in the rollups' });

      const dash = await context.newPage();
      const pageErrors = [];
      dash.on('pageerror', (error) => pageErrors.push(error.message));
      const frames = [];
      dash.on('websocket', (ws) => ws.on('framereceived', (frame) => frames.push(String(frame.payload))));
      const opened = Date.now();
      await dash.goto(dashboardUrl());
      const budget = () => Math.max(1, opened + 2000 - Date.now());
      await waitForVisitors(dash, budget());
      await feedRow(dash, demo.hit.id).waitFor({ timeout: budget() });
      const shownAfter = Date.now() - opened;
      console.log(`dashboard: visitor and feed entry shown ${shownAfter} ms after opening`);
      assert.ok(shownAfter <= 2000, `${shownAfter} ms`);
      await waitForStatus(dash, 'live', 10_000);

      // A page view made now reaches the open dashboard through the WebSocket.
      const next = await visitDemo(context, 'pricing.html');
      await feedRow(dash, next.hit.id).waitFor({ timeout: 5000 });
      assert.ok(frames.some((f) => f.includes(next.hit.id)), 'pushed over the WebSocket');
      assert.equal(await dashboardStatus(dash), 'live');
      const row = await feedRow(dash, next.hit.id).textContent();
      assert.match(row, /\/demo\/pricing\.html/);
      assert.match(row, /desktop/);
      assert.deepEqual(pageErrors, []);
    });
  });

  test('with the WebSocket blocked it polls and says so; unblocked, it is live again', { skip: SKIP, timeout: 90_000 }, async () => {
    await browser.withContext(async (context) => {
      let blocked = true;
      await context.routeWebSocket(
        () => true,
        (ws) => {
          if (blocked) ws.close({ code: 4000, reason: 'blocked by the test' });
          else ws.connectToServer();
        },
      );
      const dash = await context.newPage();
      await dash.goto(dashboardUrl());
      await waitForStatus(dash, 'polling', 15_000);
      assert.match(await dash.locator('[data-testid=status] .label').textContent(), /Polling/);

      // Data still flows, by polling.
      const demo = await visitDemo(context, 'docs.html');
      await feedRow(dash, demo.hit.id).waitFor({ timeout: 12_000 });
      assert.notEqual(await dashboardStatus(dash), 'live');

      blocked = false;
      await waitForStatus(dash, 'live', 40_000);
      await sleep(1500);
      assert.equal(await dashboardStatus(dash), 'live', 'and it stays live');
    });
  });

  test('without a site in the fragment it asks for one, and a wrong token sends it back there', { skip: SKIP, timeout: 90_000 }, async () => {
    await browser.withContext(async (context) => {
      const page = await context.newPage();
      await page.goto(`${dashboardUrl().split('#')[0]}`);
      await page.locator('[data-testid=setup]').waitFor();
      assert.equal(await page.locator('[data-testid=board]').isVisible(), false);

      await page.fill('[data-testid=setup-site]', SITE);
      await page.fill('[data-testid=setup-token]', 'pt_not-the-token');
      await page.click('[data-testid=setup-form] button[type=submit]');
      await page.waitForFunction(() => location.hash.includes('site='));
      if (TOKEN) {
        await page.locator('[data-testid=error]').waitFor();
        assert.match(await page.locator('[data-testid=error]').textContent(), /token was not accepted/);
        assert.equal(await page.locator('[data-testid=setup]').isVisible(), true);

        await page.fill('[data-testid=setup-token]', TOKEN);
        await page.click('[data-testid=setup-form] button[type=submit]');
      }
      await page.locator('[data-testid=board]').waitFor();
      await waitForVisitors(page, 10_000);
      const hash = await page.evaluate(() => location.hash);
      assert.match(hash, new RegExp(`site=${SITE}`));
    });
  });

  test('the window selector changes the window without reconnecting', { skip: SKIP, timeout: 90_000 }, async () => {
    await browser.withContext(async (context) => {
      const dash = await context.newPage();
      const sockets = [];
      dash.on('websocket', (ws) => sockets.push(ws.url()));
      const requests = [];
      dash.on('request', (r) => /\/sites\/[^/]+\/realtime\?/.test(r.url()) && requests.push(new URL(r.url()).searchParams.get('minutes')));
      await dash.goto(dashboardUrl());
      await waitForStatus(dash, 'live', 10_000);
      await dash.click('[data-testid=window] label:has(input[value="30"])');
      await waitFor(() => requests.includes('30'), { message: 'a 30-minute request' });
      await dash.waitForFunction(() => location.hash.includes('minutes=30'));
      // One bar per minute of the new window (the locator reaches into the shadow root).
      await waitFor(async () => (await dash.locator('[data-testid=timeline] rect').count()) === 30, { message: '30 bars' });
      assert.equal(sockets.length, 1);
    });
  });

  test('screenshots (wide, 320 px, dark) and load figures', { skip: SKIP, timeout: 90_000 }, async () => {
    await browser.withContext(async (context) => {
      await visitDemo(context, 'index.html');
      const dash = await context.newPage();
      const opened = Date.now();
      await dash.goto(dashboardUrl());
      await waitForVisitors(dash, 5000);
      const firstNumber = await dash.evaluate(() => performance.getEntriesByName('pulse:first-number')[0]?.startTime);
      console.log(`dashboard: first number after ${Math.round(firstNumber)} ms (navigation start to counter; ${Date.now() - opened} ms seen by the test)`);
      await waitForStatus(dash, 'live', 10_000);
      await sleep(800); // the counter's count-up animation

      const path = artifactPath('dashboard.png');
      await dash.screenshot({ path, fullPage: true });
      console.log('dashboard screenshot: ' + path);

      await dash.setViewportSize({ width: 320, height: 800 });
      await sleep(300);
      const overflow = await dash.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      assert.ok(overflow <= 0, `no horizontal scrolling at 320 px (overflow ${overflow} px)`);
      const narrow = artifactPath('dashboard-320.png');
      await dash.screenshot({ path: narrow, fullPage: true });
      console.log('dashboard screenshot (320 px): ' + narrow);

      await dash.setViewportSize({ width: 1280, height: 900 });
      await dash.emulateMedia({ colorScheme: 'dark' });
      await sleep(300);
      const dark = artifactPath('dashboard-dark.png');
      await dash.screenshot({ path: dark, fullPage: true });
      console.log('dashboard screenshot (dark): ' + dark);

      const tracker = await servedBytes('/script.js');
      console.log(`tracker: ${tracker.size} bytes served (${tracker.encoding})`);
      assert.ok(tracker.size <= 1600, `tracker is ${tracker.size} bytes (web/test/size.test.mjs has the budget)`);
      const compat = await servedBytes(`/sites/${SITE}/tracker.js`);
      console.log(`ts-analytics tracker: ${compat.size} bytes served (${compat.encoding})`);
      let total = 0;
      for (const file of ['/dashboard', '/dashboard.css', '/dashboard.js', '/components.js', '/realtime.js', '/format.js']) {
        const { size, encoding } = await servedBytes(file);
        console.log(`dashboard file ${file}: ${size} bytes (${encoding})`);
        total += size;
      }
      console.log(`dashboard: ${total} bytes transferred (sum of the served files, gzip)`);
    });
  });
});
