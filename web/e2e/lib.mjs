// Shared set-up for the end-to-end tests: the stack under test (from the environment), Chromium, the
// realtime API, and waiting helpers.

import { mkdirSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { fileURLToPath } from 'node:url';
import { after, before } from 'node:test';
import { chromium } from 'playwright-core';

// The API's URL, base path included (http://127.0.0.1:3000, or …/api/analytics): every route is under it.
export const BASE = process.env.PULSE_BASE_URL?.replace(/\/+$/, '') ?? '';
/** The base path alone ('' or /api/analytics), for comparing with the paths pages and the store see. */
export const BASE_PATH = BASE && new URL(BASE).pathname.replace(/\/+$/, '');
export const SITE = process.env.PULSE_SITE || 'demo';
export const TOKEN = process.env.PULSE_TOKEN ?? '';

/** Passed as `skip` to every test: a reason when there is no stack to test against. */
export const SKIP = BASE
  ? false
  : 'PULSE_BASE_URL is not set: start the stack (make dev) and set PULSE_BASE_URL, PULSE_TOKEN (and PULSE_SITE, default demo)';

// Collect drops HeadlessChrome as a bot: the tests browse as a regular desktop Chrome.
export const DESKTOP_UA =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';

export const ARTIFACTS = fileURLToPath(new URL('./artifacts/', import.meta.url));

export function artifactPath(name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  return `${ARTIFACTS}${name}`;
}

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu'],
  });
}

export async function newContext(browser, options = {}) {
  const context = await browser.newContext({ userAgent: DESKTOP_UA, viewport: { width: 1280, height: 900 }, ...options });
  // Outbound links of the demo site point at example.org: answer them here, never from the network.
  await context.route(/^https?:\/\/(www\.)?example\.org\//, (route) =>
    route.fulfill({ status: 200, contentType: 'text/html', body: '<!doctype html><title>example.org</title><p>outside</p>' }),
  );
  return context;
}

/**
 * One Chromium for the enclosing `describe` (launched before its tests, closed after them) and a fresh
 * context per test: `const browser = useBrowser();`, then in a test
 * `await browser.withContext(async (context) => { … })`, which closes the context whatever happens.
 */
export function useBrowser() {
  let browser;
  before(async () => {
    if (!SKIP) browser = await launch();
  });
  after(async () => {
    await browser?.close();
  });
  return {
    newContext: (options) => newContext(browser, options),
    async withContext(run, options) {
      const context = await newContext(browser, options);
      try {
        return await run(context);
      } finally {
        await context.close();
      }
    },
  };
}

export const demoUrl = (page = 'index.html') => `${BASE}/demo/${page}`;

export function dashboardUrl({ minutes } = {}) {
  const params = new URLSearchParams({ site: SITE });
  if (TOKEN) params.set('token', TOKEN);
  if (minutes) params.set('minutes', String(minutes));
  return `${BASE}/dashboard#${params}`;
}

/** Records every hit the page sends to /collect (fetch or sendBeacon), body parsed, with `to` its URL. */
export function captureHits(page) {
  const hits = [];
  page.on('request', (request) => {
    if (request.method() !== 'POST' || !new URL(request.url()).pathname.endsWith('/collect')) return;
    const sent = { via: request.resourceType(), to: request.url() };
    try {
      hits.push({ ...JSON.parse(request.postData() ?? ''), ...sent });
    } catch {
      hits.push({ unparsable: request.postData(), ...sent });
    }
  });
  return hits;
}

/** The realtime view, read as the dashboard reads it. */
export async function realtime({ minutes = 5, events = 100 } = {}) {
  const response = await fetch(`${BASE}/sites/${encodeURIComponent(SITE)}/realtime?minutes=${minutes}&events=${events}`, {
    headers: TOKEN ? { authorization: `Bearer ${TOKEN}` } : {},
  });
  if (!response.ok) throw new Error(`realtime API: HTTP ${response.status} ${await response.text()}`);
  return response.json();
}

/** Calls `check` until it returns something truthy, or throws after `timeout` ms. */
export async function waitFor(check, { timeout = 10_000, interval = 200, message = 'condition' } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${message}${last ? `: ${last.message}` : ''}`);
    await sleep(interval);
  }
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until the store's feed holds `id`, and returns how many entries carry it. */
export async function storedCount(id, { timeout = 10_000 } = {}) {
  const view = await waitFor(
    async () => {
      const v = await realtime();
      return v.recentEvents.some((e) => e.id === id) && v;
    },
    { timeout, message: `event ${id} in recentEvents` },
  );
  return view.recentEvents.filter((e) => e.id === id).length;
}

/** Bytes of a file (a path under BASE) as served with `Accept-Encoding: gzip` (what a browser transfers, headers aside). */
export function servedBytes(path) {
  const url = new URL(BASE + path);
  const get = url.protocol === 'https:' ? https.get : http.get;
  return new Promise((resolve, reject) => {
    get(url, { headers: { 'accept-encoding': 'gzip' } }, (response) => {
      let size = 0;
      response.on('data', (chunk) => (size += chunk.length));
      response.on('end', () =>
        response.statusCode === 200
          ? resolve({ size, encoding: response.headers['content-encoding'] ?? 'identity' })
          : reject(new Error(`GET ${path}: HTTP ${response.statusCode}`)),
      );
    }).on('error', reject);
  });
}

/** The dashboard's status attribute (live, polling, offline, connecting). */
export const dashboardStatus = (page) => page.locator('[data-testid=status]').getAttribute('status');

export const waitForStatus = (page, status, timeout) =>
  page.waitForFunction((s) => document.querySelector('[data-testid=status]')?.getAttribute('status') === s, status, { timeout });

/** The dashboard feed's row for a feed entry id (the locator reaches into the shadow root). */
export const feedRow = (page, id) => page.locator(`[data-testid=feed] li[data-id="${id}"]`);

/** Loads a demo page and returns its page view hit (as the tracker sent it). */
export async function visitDemo(context, file = 'index.html') {
  const page = await context.newPage();
  const hits = captureHits(page);
  await page.goto(demoUrl(file));
  const hit = await waitFor(() => hits.find((h) => h.e === 'pageview'), { message: `the page view of ${file}` });
  return { page, hits, hit };
}
