// ts-analytics' trackers against the running stack: every hit shape they send, sent as they send it,
// lands in the feed (heatmap hits do not), and their loader snippet, pointed at
// {base}/sites/demo/tracker.js, runs Pulse unchanged.
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

/** Waits until the feed holds exactly the entries `match` picks (at least one), and returns them. */
async function feedEntries(match, message) {
  const view = await waitFor(async () => {
    const v = await realtime();
    return v.recentEvents.some(match) && v;
  }, { message });
  return view.recentEvents.filter(match);
}

/** Collect's answers to the page's POSTs, by request body. */
function collectAnswers(page) {
  const answers = [];
  page.on('response', (response) => {
    const request = response.request();
    if (request.method() === 'POST' && new URL(request.url()).pathname === `${BASE_PATH}/collect`)
      answers.push({ body: JSON.parse(request.postData() ?? 'null'), status: response.status() });
  });
  return answers;
}

describe('ts-analytics', () => {
  const browser = useBrowser();

  test("each hit shape of ts-analytics' trackers lands in the feed; heatmap hits do not", { skip: SKIP, timeout: 90_000 }, async () => {
    const run = `t${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
    const at = (name) => `/ts/${run}/${name}`;
    await browser.withContext(async (context) => {
      const page = await context.newPage();
      const answers = collectAnswers(page);
      await page.goto(demoUrl(`ts-analytics.html?run=${run}`));
      const other = await context.newPage();
      const otherAnswers = collectAnswers(other);
      await other.goto(demoUrl(`ts-analytics-no-referrer.html?run=${run}`));
      for (const p of [page, other]) {
        const sent = await p.evaluate(() => window.sent);
        for (const { label, queued } of sent) assert.equal(queued, true, `${label}: sendBeacon queued it`);
      }

      const once = async (label, match) => {
        const entries = await feedEntries(match, label);
        assert.equal(entries.length, 1, `${label}: once`);
        return entries[0];
      };
      const minimal = await once('the minimal page view', (e) => e.type === 'pageview' && e.path === at('minimal'));
      const full = await once('the full page view', (e) => e.type === 'pageview' && e.path === at('full'));
      const event = await once('the event', (e) => e.path === at('event'));
      const outbound = await once('the outbound click', (e) => e.path === at('outbound'));
      const engagement = await once('the scroll depth event', (e) => e.path === at('engagement'));
      const ga4 = await once('the GA4 event', (e) => e.name === `purchase_${run}`);
      const ga4NoReferrer = await once('the GA4 event without a Referer', (e) => e.name === `purchase_${run}_no_referrer`);

      assert.equal(minimal.type, 'pageview');
      assert.equal(full.type, 'pageview');
      assert.deepEqual([event.type, event.name, event.value], ['event', 'signup', 10]);
      assert.deepEqual([outbound.type, outbound.url], ['outbound', `https://example.org/ts/${run}`]);
      assert.deepEqual([engagement.type, engagement.name, engagement.value], ['event', 'scroll_depth', 75]);
      assert.deepEqual([ga4.type, ga4.path], ['event', `${BASE_PATH}/demo/ts-analytics.html`], 'the page from the Referer');
      assert.deepEqual([ga4NoReferrer.type, ga4NoReferrer.path], ['event', ''], 'only the Origin: no path');

      // Every hit was answered 204, the heatmap's too, and the heatmap's never shows.
      await waitFor(() => answers.length === 7 && otherAnswers.length === 1, { message: 'the answers to all eight hits' });
      for (const { body, status } of [...answers, ...otherAnswers]) assert.equal(status, 204, `${body.e} ${body.en ?? body.u}`);
      await sleep(1000);
      const view = await realtime();
      assert.deepEqual(view.recentEvents.filter((e) => e.path?.includes(`/ts/${run}/heatmap`) || e.type === 'hm_click'), []);
    });
  });

  test("ts-analytics' loader snippet: the page view, a queued event and a virtual page view arrive", { skip: SKIP, timeout: 90_000 }, async () => {
    await browser.withContext(async (context) => {
      const page = await context.newPage();
      const hits = captureHits(page);
      const tracker = page.waitForResponse((r) => new URL(r.url()).pathname.endsWith('/sites/demo/tracker.js'));
      await page.goto(demoUrl('ts-loader.html'));
      const script = await tracker;
      assert.equal(script.url(), `${BASE}/sites/demo/tracker.js`);
      assert.equal(script.status(), 200);

      await waitFor(() => hits.length >= 2, { message: 'the page view and the queued event' });
      await page.click('[data-testid=next-step]');
      await waitFor(() => hits.length >= 3, { message: 'the virtual page view' });
      await sleep(500);
      assert.equal(hits.length, 3, 'nothing more');
      const [view, event, virtual] = hits;
      for (const hit of hits) {
        assert.equal(hit.to, `${BASE}/collect`, 'the API from the script URL');
        assert.equal(hit.s, 'demo', 'the site from the script URL');
      }
      assert.deepEqual([view.e, new URL(view.u).pathname], ['pageview', `${BASE_PATH}/demo/ts-loader.html`]);
      assert.deepEqual([event.e, event.p], ['event', { plan: 'pro', category: 'forms', name: 'signup', value: 10 }]);
      assert.deepEqual([virtual.e, virtual.u], ['pageview', new URL('/virtual/step-2', BASE).href]);

      for (const hit of hits) assert.equal(await storedCount(hit.id), 1, `${hit.e} ${hit.id} stored once`);
      const feed = (await realtime()).recentEvents;
      const entry = (hit) => feed.find((e) => e.id === hit.id);
      assert.deepEqual([entry(view).type, entry(view).path], ['pageview', `${BASE_PATH}/demo/ts-loader.html`]);
      assert.deepEqual([entry(event).type, entry(event).name, entry(event).value], ['event', 'signup', 10]);
      assert.deepEqual([entry(virtual).type, entry(virtual).path], ['pageview', '/virtual/step-2']);
    });
  });
});
