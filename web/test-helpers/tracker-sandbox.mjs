// Runs public/script.js, unchanged, in a node:vm context that plays the browser: window, document,
// navigator, location, history, screen, fetch, sendBeacon and timers are fakes the tests control and
// inspect. The tracker's decisions are then visible as the requests it makes. COMPAT_SOURCE is
// compat/tracker.js as the web function serves it, for the same sandbox.

import { readFileSync } from 'node:fs';
import { webcrypto } from 'node:crypto';
import vm from 'node:vm';

const SOURCE = readFileSync(new URL('../public/script.js', import.meta.url), 'utf8');

/** compat/tracker.js with its include line replaced by public/script.js, as the web function does. */
export const COMPAT_SOURCE = readFileSync(new URL('../compat/tracker.js', import.meta.url), 'utf8')
  .replace(/^\/\/@include script\.js$/m, () => SOURCE);

function listeners() {
  const map = new Map();
  return {
    addEventListener(type, fn) {
      if (!map.has(type)) map.set(type, []);
      map.get(type).push(fn);
    },
    removeEventListener(type, fn) {
      map.set(type, (map.get(type) ?? []).filter((f) => f !== fn));
    },
    dispatch(type, event = {}) {
      for (const fn of map.get(type) ?? []) fn({ type, ...event });
    },
    count: (type) => (map.get(type) ?? []).length,
  };
}

class FakeLocation {
  #url;
  constructor(href) {
    this.#url = new URL(href);
  }
  get href() { return this.#url.href; }
  set href(v) { this.#url = new URL(v, this.#url); }
  get protocol() { return this.#url.protocol; }
  get host() { return this.#url.host; }
  get hostname() { return this.#url.hostname; }
  get port() { return this.#url.port; }
  get pathname() { return this.#url.pathname; }
  get search() { return this.#url.search; }
  get hash() { return this.#url.hash; }
  set hash(v) { this.#url.hash = v; }
  get origin() { return this.#url.origin; }
  toString() { return this.#url.href; }
}

/** An <a href> as the tracker sees it: closest() finds it, host/protocol/href are resolved. */
function fakeAnchor(href, base) {
  const url = new URL(href, base);
  const anchor = {
    tagName: 'A',
    href: url.href,
    host: url.host,
    protocol: url.protocol,
    closest: (selector) => (selector === 'a[href]' ? anchor : null),
  };
  return anchor;
}

/**
 * Loads the tracker. Options:
 *   url            the page URL
 *   attrs          data-* attributes of the script tag (value true → present without value)
 *   src            the script's own URL
 *   navigator      extra navigator properties (doNotTrack, globalPrivacyControl, …)
 *   window         extra window properties (doNotTrack, …)
 *   referrer, title
 *   fetch          false to leave fetch out; else answers come from `respond(hit, attempt)`
 *   respond        (body, callIndex) → status number | { status, headers } | 'network' (default 204)
 *   random         the page's Math.random (default: the real one)
 *   sendBeacon     false to leave it out; `beaconResult` is what it returns
 *   before         source run in the page before the tracker (e.g. the queue snippet)
 *   source         the script to run instead of public/script.js (COMPAT_SOURCE)
 *   now            the page's clock, a function (default: fixed)
 */
export function loadTracker({
  url = 'https://www.example.com/',
  attrs = { site: 'demo' },
  src = 'https://pulse.example.net/script.js',
  navigator = {},
  window: windowProps = {},
  referrer = '',
  title = 'Home',
  fetch: withFetch = true,
  respond = () => 204,
  sendBeacon: withBeacon = true,
  beaconResult = true,
  before = '',
  source = SOURCE,
  now,
  random,
} = {}) {
  const requests = [];
  const timers = [];
  const location = new FakeLocation(url);
  const win = listeners();
  const doc = listeners();

  const attributes = Object.fromEntries(
    Object.entries(attrs).map(([k, v]) => [`data-${k}`, v === true ? '' : v === false ? null : String(v)]),
  );
  const script = {
    src,
    getAttribute: (name) => (name in attributes && attributes[name] !== null ? attributes[name] : null),
    setAttribute: (name, value) => {
      attributes[name] = String(value);
    },
  };
  const document = {
    currentScript: script,
    referrer,
    title,
    visibilityState: 'visible',
    addEventListener: doc.addEventListener,
    removeEventListener: doc.removeEventListener,
    querySelector: (sel) => (sel === 'script[data-site]' ? script : null),
  };
  const history = {
    length: 1,
    pushState(state, _title, next) {
      if (next != null) location.href = new URL(next, location.href).href;
      this.state = state;
    },
    replaceState(state, _title, next) {
      if (next != null) location.href = new URL(next, location.href).href;
      this.state = state;
    },
  };
  const nav = { userAgent: 'Mozilla/5.0', doNotTrack: null, ...navigator };
  if (withBeacon) {
    nav.sendBeacon = (target, body) => {
      requests.push({ via: 'beacon', url: String(target), body: JSON.parse(body), raw: body });
      return beaconResult;
    };
  }

  const context = {
    document,
    navigator: nav,
    location,
    history,
    screen: { width: 1440, height: 900 },
    crypto: webcrypto,
    URL,
    console,
    setTimeout: (fn, ms, ...args) => {
      timers.push({ fn, ms, args });
      return timers.length;
    },
    clearTimeout: () => {},
    addEventListener: win.addEventListener,
    removeEventListener: win.removeEventListener,
    ...windowProps,
  };
  if (withFetch) {
    context.fetch = (target, init) => {
      const body = JSON.parse(init.body);
      const index = requests.length;
      requests.push({ via: 'fetch', url: String(target), body, raw: init.body, init });
      const answer = respond(body, index);
      if (answer === 'network') return Promise.reject(new TypeError('Failed to fetch'));
      const { status, headers = {} } = typeof answer === 'number' ? { status: answer } : answer;
      const named = new Map(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), String(v)]));
      return Promise.resolve({
        status,
        ok: status >= 200 && status < 300,
        headers: { get: (name) => named.get(name.toLowerCase()) ?? null },
      });
    };
  }
  context.window = context;
  vm.createContext(context);
  if (now) vm.runInContext('Date', context).now = now;
  if (random) vm.runInContext('Math', context).random = random;
  if (before) vm.runInContext(before, context);
  vm.runInContext(source, context, { filename: source === SOURCE ? 'script.js' : 'tracker.js' });

  const page = {
    window: context,
    location,
    history,
    document,
    requests,
    /** The hits sent, in order (bodies, parsed). */
    get hits() {
      return requests.map((r) => r.body);
    },
    /** Runs and clears the timers set so far (the tracker's retries). */
    runTimers() {
      const due = timers.splice(0);
      for (const t of due) t.fn(...t.args);
      return due.length;
    },
    get timers() {
      return timers.map((t) => t.ms);
    },
    /** Runs code in the page, e.g. window.pulse(...) calls. */
    run: (code) => vm.runInContext(code, context),
    dispatchWindow: (type, event) => win.dispatch(type, event),
    dispatchDocument: (type, event) => doc.dispatch(type, event),
    listenerCount: (type) => win.count(type) + doc.count(type),
    /** A click (or middle click: type 'auxclick', button 1) on a link. */
    click(href, { type = 'click', button = 0 } = {}) {
      doc.dispatch(type, { target: fakeAnchor(href, location.href), button });
    },
    /** A click on something that is not a link. */
    clickElsewhere() {
      doc.dispatch('click', { target: { closest: () => null }, button: 0 });
    },
  };
  return page;
}

/** Lets the tracker's fetch promise chains settle. */
export const settle = async () => {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
};
