// Content-Security-Policy in a real browser: the dashboard renders live numbers under its own strict
// policy without a single violation, and a page on another origin, with a strict policy of its own,
// still loads and renders the embeddable files (components.js, realtime.js, the format.js they import,
// script.js).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import {
  BASE,
  dashboardUrl,
  feedRow,
  realtime,
  SITE,
  SKIP,
  storedCount,
  TOKEN,
  useBrowser,
  visitDemo,
  waitFor,
  waitForStatus,
} from './lib.mjs';

const waitForVisitors = (page, timeout) =>
  page.waitForFunction(() => Number(document.querySelector('[data-testid=visitors]')?.dataset.value) >= 1, null, { timeout });

/**
 * Records, for every page of the context, what a policy refused: `securitypolicyviolation` events
 * (the init script runs before the page's own, whatever its policy) and console errors about CSP.
 */
async function watchPolicy(context) {
  await context.addInitScript(() => {
    window.__violations = [];
    document.addEventListener(
      'securitypolicyviolation',
      (e) => window.__violations.push(`${e.effectiveDirective} blocked ${e.blockedURI || 'inline'} (${e.sourceFile}:${e.lineNumber})`),
      true,
    );
  });
  const consoleErrors = [];
  context.on('console', (message) => {
    if (message.type() === 'error' && /Content.Security.Policy|Refused to/i.test(message.text())) consoleErrors.push(message.text());
  });
  return { consoleErrors, violations: (page) => page.evaluate(() => window.__violations) };
}

/**
 * Serves `files` (path → [content type, body]) with the policy `csp`, on a port of its own: another
 * origin than the stack's. A real server on the loopback, not a routed page: Chromium lets a page reach
 * loopback addresses only if it was itself served from one.
 */
async function siteServer(files, csp) {
  const server = http.createServer((request, response) => {
    const file = files[new URL(request.url, 'http://x').pathname];
    if (!file) return response.writeHead(404).end();
    response.writeHead(200, { 'content-type': file[0], 'content-security-policy': csp }).end(file[1]);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { origin: `http://127.0.0.1:${server.address().port}`, close: () => new Promise((resolve) => server.close(resolve)) };
}

describe('content security policy', () => {
  const browser = useBrowser();

  test('the dashboard renders live numbers, pushes and its form without a CSP violation', { skip: SKIP, timeout: 90_000 }, async () => {
    await browser.withContext(async (context) => {
      const policy = await watchPolicy(context);
      await visitDemo(context);
      await waitFor(async () => (await realtime()).currentVisitors >= 1, { message: 'the visitor in the rollups' });

      const dash = await context.newPage();
      const pageErrors = [];
      dash.on('pageerror', (error) => pageErrors.push(error.message));
      const response = await dash.goto(dashboardUrl());
      const csp = response.headers()['content-security-policy'];
      assert.match(csp, /script-src 'self';/);
      assert.match(csp, /frame-ancestors 'none'/);
      assert.doesNotMatch(csp, /unsafe/);
      assert.equal(response.headers()['referrer-policy'], 'no-referrer');

      await waitForVisitors(dash, 10_000);
      await waitForStatus(dash, 'live', 10_000);
      const next = await visitDemo(context, 'pricing.html');
      await feedRow(dash, next.hit.id).waitFor({ timeout: 5000 });
      await waitFor(async () => (await dash.locator('[data-testid=timeline] rect').count()) > 0, { message: 'timeline bars' });

      // The styles applied: the page's from dashboard.css, the components' from adopted sheets.
      const styled = await dash.evaluate(() => ({
        header: getComputedStyle(document.querySelector('header')).display,
        counter: getComputedStyle(document.querySelector('[data-testid=visitors]')).display,
        sheets: document.querySelector('[data-testid=visitors]').shadowRoot.adoptedStyleSheets.length,
      }));
      assert.deepEqual(styled, { header: 'flex', counter: 'block', sheets: 1 });

      // The set-up form submits through script only: form-action 'none' refuses nothing.
      await dash.click('[data-testid=change-site]');
      await dash.locator('[data-testid=setup]').waitFor();
      await dash.fill('[data-testid=setup-site]', SITE);
      if (TOKEN) await dash.fill('[data-testid=setup-token]', TOKEN);
      await dash.click('[data-testid=setup-form] button[type=submit]');
      await waitForVisitors(dash, 10_000);

      assert.deepEqual(await policy.violations(dash), []);
      assert.deepEqual(policy.consoleErrors, []);
      assert.deepEqual(pageErrors, []);
    });
  });

  test('a page on another origin, with a strict policy of its own, embeds the components and the tracker', { skip: SKIP, timeout: 90_000 }, async () => {
    const context = await browser.newContext();
    let site;
    try {
      const policy = await watchPolicy(context);
      const api = new URL(BASE);
      const { websocketUrl } = await (await fetch(`${BASE}/config.json`)).json();
      const socket = new URL(websocketUrl, BASE);
      // Nothing inline: the embedding site's policy allows its own files and Pulse's origin only.
      const hostPolicy = [
        "default-src 'none'",
        `script-src 'self' ${api.origin}`,
        "style-src 'self'",
        `connect-src 'self' ${api.origin} ${socket.protocol.replace('http', 'ws')}//${socket.host}`,
      ].join('; ');
      const files = {
        '/embed/index.html': [
          'text/html',
          `<!doctype html><meta charset="utf-8"><title>Another site</title>
<script defer src="${BASE}/script.js" data-site="${SITE}" data-allow-localhost></script>
<script type="module" src="embed.js"></script>
<pulse-status data-testid="status"></pulse-status>
<pulse-counter data-testid="visitors" key="currentVisitors" label="Visitors now"></pulse-counter>
<pulse-sparkline data-testid="timeline"></pulse-sparkline>
<pulse-feed data-testid="feed" max-items="20"></pulse-feed>
<pulse-top-list data-testid="active-pages" label-key="path"></pulse-top-list>`,
        ],
        '/embed/embed.js': [
          'text/javascript',
          `import '${BASE}/components.js';
import { connectRealtime } from '${BASE}/realtime.js';
const live = connectRealtime({ baseUrl: ${JSON.stringify(BASE)}, siteId: ${JSON.stringify(SITE)}, token: ${JSON.stringify(TOKEN)} });
for (const el of document.querySelectorAll('[data-testid]')) el.source = live;`,
        ],
      };
      site = await siteServer(files, hostPolicy);
      const { origin } = site;
      assert.notEqual(origin, api.origin);

      const page = await context.newPage();
      const pageErrors = [];
      page.on('pageerror', (error) => pageErrors.push(error.message));
      const sent = [];
      page.on('request', (r) => r.method() === 'POST' && r.url() === `${BASE}/collect` && sent.push(JSON.parse(r.postData())));
      await page.goto(`${origin}/embed/index.html`);

      await waitForVisitors(page, 10_000);
      await waitForStatus(page, 'live', 10_000);
      await waitFor(async () => (await page.locator('[data-testid=feed] li').count()) > 0, { message: 'feed rows' });
      await waitFor(async () => (await page.locator('[data-testid=timeline] rect').count()) > 0, { message: 'timeline bars' });
      const styled = await page.evaluate(() =>
        [...document.querySelectorAll('[data-testid]')].map((el) => [el.dataset.testid, getComputedStyle(el).display]),
      );
      for (const [name, display] of styled) assert.notEqual(display, 'inline', `${name} is styled (:host display)`);

      // The tracker, loaded from Pulse's origin, sent this page's view there, and it was stored.
      const hit = await waitFor(() => sent.find((h) => h.e === 'pageview'), { message: "the embedding page's page view" });
      assert.equal(new URL(hit.u).origin, origin);
      assert.equal(await storedCount(hit.id), 1);

      assert.deepEqual(await policy.violations(page), []);
      assert.deepEqual(policy.consoleErrors, []);
      assert.deepEqual(pageErrors, []);
    } finally {
      await context.close();
      await site?.close();
    }
  });
});
