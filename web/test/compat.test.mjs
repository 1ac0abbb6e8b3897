// web/compat/tracker.js, as the web function serves it at {base}/sites/{siteId}/tracker.js: the
// include line replaced by public/script.js. It runs in the same sandbox as the tracker.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { COMPAT_SOURCE, loadTracker } from '../test-helpers/tracker-sandbox.mjs';

// ts-analytics' loader, minus the <script> element it inserts (the sandbox plays that one).
const SA_QUEUE = 'window.sa = window.sa || function () { (window.sa.q = window.sa.q || []).push(arguments) };';
const SRC = 'https://stats.example.com/api/analytics/sites/my-site/tracker.js';

const load = (options = {}) => loadTracker({ source: COMPAT_SOURCE, src: SRC, attrs: {}, ...options });

test('the include line is there once, on a line of its own', () => {
  const raw = readFileSync(new URL('../compat/tracker.js', import.meta.url), 'utf8');
  assert.equal(raw.split('\n').filter((line) => line === '//@include script.js').length, 1);
  assert.equal(raw.match(/@include/g).length, 1);
});

describe('site and API from the script URL', () => {
  test('{base}/sites/{id}/tracker.js: site {id}, collect at {base}/collect', () => {
    const page = load();
    assert.equal(page.requests.length, 1);
    assert.equal(page.requests[0].url, 'https://stats.example.com/api/analytics/collect');
    assert.equal(page.hits[0].s, 'my-site');
    assert.equal(page.hits[0].e, 'pageview');
    assert.equal(page.document.currentScript.getAttribute('data-site'), 'my-site');
    assert.equal(page.document.currentScript.getAttribute('data-api'), 'https://stats.example.com/api/analytics');
  });

  test('without a base path, and with a query string', () => {
    const page = load({ src: 'https://stats.example.com/sites/docs.v2/tracker.js?v=3' });
    assert.equal(page.requests[0].url, 'https://stats.example.com/collect');
    assert.equal(page.hits[0].s, 'docs.v2');
  });

  test('data-site and data-api already on the element win', () => {
    const page = load({ attrs: { site: 'other', api: 'https://eu.example.net' } });
    assert.equal(page.requests[0].url, 'https://eu.example.net/collect');
    assert.equal(page.hits[0].s, 'other');
  });

  test('it sends from localhost, as ts-analytics did (collect checks the domain)', () => {
    assert.equal(load({ url: 'http://127.0.0.1:8080/' }).requests.length, 1);
  });

  test('any other URL configures nothing: nothing is sent, sa() is harmless', () => {
    for (const src of ['https://stats.example.com/script.js', 'https://stats.example.com/sites/tracker.js']) {
      const page = load({ src, before: SA_QUEUE + "sa('event', 'queued')" });
      page.run("sa('event', 'x'); sa('trackPageView', '/y')");
      assert.equal(page.requests.length, 0, src);
    }
  });

  test('Do Not Track still sends nothing', () => {
    const page = load({ navigator: { doNotTrack: '1' }, before: SA_QUEUE + "sa('event', 'queued')" });
    page.run("sa('event', 'x'); sa('track')");
    assert.equal(page.requests.length, 0);
  });
});

describe('window.sa', () => {
  test("sa('event', name, properties, category, value) → a Pulse event, the category a property", () => {
    const page = load();
    page.run("sa('event', 'signup', { plan: 'pro' }, 'forms', 10)");
    page.run("sa('trackEvent', 'scroll_depth', { depth: 75 }, 'engagement', 75)");
    page.run("sa('event', 'play')");
    assert.deepEqual(page.hits.slice(1).map((h) => [h.e, h.p]), [
      ['event', { plan: 'pro', category: 'forms', name: 'signup', value: 10 }],
      ['event', { depth: 75, category: 'engagement', name: 'scroll_depth', value: 75 }],
      ['event', { name: 'play' }],
    ]);
  });

  test("sa('track' | 'trackPageView', path?) → a page view, of the virtual path if given", () => {
    const page = load({ url: 'https://www.example.com/signup?step=1' });
    page.run("sa('trackPageView', '/virtual/step-2', 'Step 2')");
    page.run("sa('track')");
    assert.deepEqual(page.hits.map((h) => [h.e, h.u]), [
      ['pageview', 'https://www.example.com/signup?step=1'],
      ['pageview', 'https://www.example.com/virtual/step-2'],
      ['pageview', 'https://www.example.com/signup?step=1'],
    ]);
  });

  test("'init', 'identify', 'setProperty', 'debug' and unknown commands send nothing", () => {
    const page = load();
    page.run("sa('init', 'my-site'); sa('identify', 'user-1'); sa('setProperty', 'plan', 'pro'); sa('debug', true); sa('nope'); sa()");
    assert.equal(page.requests.length, 1);
  });

  test('calls queued before the script loaded run after the page view, in order; the queue is gone', () => {
    const page = load({
      url: 'https://www.example.com/pricing',
      before: SA_QUEUE + "sa('init', 'my-site'); sa('event', 'signup', { plan: 'pro' }, 'forms', 10); sa('trackPageView', '/virtual/step-2');",
    });
    assert.deepEqual(page.hits.map((h) => [h.e, h.p?.name ?? h.u]), [
      ['pageview', 'https://www.example.com/pricing'],
      ['event', 'signup'],
      ['pageview', 'https://www.example.com/virtual/step-2'],
    ]);
    assert.equal(page.window.sa.q, undefined);
    page.run("sa('event', 'later')");
    assert.equal(page.hits.at(-1).p.name, 'later');
  });

  test('the tracker underneath works as usual: ids, SPA navigation, outbound clicks', () => {
    const page = load({ url: 'https://www.example.com/docs' });
    page.history.pushState({}, '', '/docs/install');
    page.click('https://github.com/');
    assert.deepEqual(page.hits.map((h) => h.e), ['pageview', 'pageview', 'outbound']);
    assert.equal(new Set(page.hits.map((h) => h.id)).size, 3);
  });
});
