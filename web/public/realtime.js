// Pulse realtime client: the realtime API poller, WebSocket push with a polling fallback, and the pure
// helpers they rest on (URLs, backoff, status, feed merging). No dependencies but format.js; fetch,
// WebSocket, timers and randomness are injectable so every decision can be tested without a browser or
// a server.

// The display helpers (formatting, paths, countries, feed rows) live in format.js; re-exported here so
// that imports of them from realtime.js keep working.
export {
  countryFlag,
  countryName,
  decodePath,
  describeFeedEntry,
  formatAgo,
  formatGoalValue,
  formatNumber,
  formatRate,
  goalRows,
  hostOf,
} from './format.js';

/** @typedef {'connecting'|'live'|'polling'|'offline'} Status */

export const DEFAULTS = Object.freeze({
  minutes: 5,
  interval: 5000, // polling period while the socket is down
  liveRefreshInterval: 15000, // counters still need refreshing while live: the window slides
  refreshDelay: 1500, // after a push; rollups trail raw events by the aggregate's ~1 s batching window
  minRefreshGap: 3000, // a busy site pushes constantly: at most one counter fetch per gap
  maxFeed: 50,
  events: 20,
  pingInterval: 5 * 60 * 1000, // API Gateway closes sockets idle for 10 minutes
  backoffBase: 1000,
  backoffCap: 30000,
  stableAfter: 5000, // a socket must stay up this long before the backoff starts over
});

export class RealtimeError extends Error {
  constructor(message, { status = 0, field = null, retryAfter = null, cause } = {}) {
    super(message, cause ? { cause } : undefined);
    this.name = 'RealtimeError';
    this.status = status; // 0: no HTTP answer (network error)
    this.field = field;
    this.retryAfter = retryAfter; // seconds, from Retry-After
  }
}

// --- pure helpers ----------------------------------------------------------------------------------

const trimSlash = (url) => String(url ?? '').replace(/\/+$/, '');

/** The realtime API URL for a config. */
export function realtimeUrl({ baseUrl = '', siteId, minutes = DEFAULTS.minutes, limit, events } = {}) {
  const query = new URLSearchParams({ minutes: String(minutes) });
  if (limit != null) query.set('limit', String(limit));
  if (events != null) query.set('events', String(events));
  return `${trimSlash(baseUrl)}/sites/${encodeURIComponent(siteId)}/realtime?${query}`;
}

/** The WebSocket URL to open: the configured endpoint plus siteId and token in the query (browsers
 *  cannot set headers on a WebSocket). A relative or http(s) endpoint becomes ws(s). */
export function socketUrl(websocketUrl, { siteId, token, baseUrl } = {}) {
  const base = baseUrl || globalThis.location?.href || 'http://localhost/';
  const url = new URL(websocketUrl, base);
  if (url.protocol === 'http:') url.protocol = 'ws:';
  if (url.protocol === 'https:') url.protocol = 'wss:';
  url.searchParams.set('siteId', siteId);
  if (token) url.searchParams.set('token', token);
  return url.toString();
}

/** Full-jitter exponential backoff: uniform in [0, min(cap, base * 2^attempt)). */
export function backoffDelay(attempt, { base = DEFAULTS.backoffBase, cap = DEFAULTS.backoffCap, random = Math.random } = {}) {
  const ceiling = Math.min(cap, base * 2 ** Math.max(0, attempt));
  return Math.floor(random() * ceiling);
}

/** live: the socket is open. polling: it is not, but the last poll worked. offline: neither works.
 *  connecting: nothing has succeeded or failed yet (only at start). */
export function deriveStatus({ socketOpen, pollOk }) {
  if (socketOpen) return 'live';
  if (pollOk === true) return 'polling';
  if (pollOk === false) return 'offline';
  return 'connecting';
}

/** The identity of a feed entry: its event id; older servers sent none, so fall back to its content. */
export function feedKey(entry) {
  if (entry?.id != null) return String(entry.id);
  const { type, timestamp, path, name, url, goal } = entry ?? {};
  return `${type}|${timestamp}|${path ?? ''}|${name ?? url ?? goal ?? ''}`;
}

const newestFirst = (a, b) => {
  const ta = a.timestamp ?? '', tb = b.timestamp ?? '';
  if (ta !== tb) return ta < tb ? 1 : -1;
  const ka = feedKey(a), kb = feedKey(b);
  return ka === kb ? 0 : ka < kb ? 1 : -1;
};

/** Merges feed entries (any order, possibly overlapping) into one list: de-duplicated by id, newest
 *  first, at most `max` long. Entries already present keep their object identity, so a view keyed by
 *  object or id does not re-render them. */
export function mergeFeed(current = [], incoming = [], max = DEFAULTS.maxFeed) {
  const byKey = new Map();
  for (const entry of current) if (entry) byKey.set(feedKey(entry), entry);
  for (const entry of incoming) {
    if (!entry || typeof entry !== 'object') continue;
    const key = feedKey(entry);
    if (!byKey.has(key)) byKey.set(key, entry);
  }
  return [...byKey.values()].sort(newestFirst).slice(0, Math.max(0, max));
}

/** Start of the view's window (ISO, whole minute): the current UTC minute and the N-1 before it. */
export function windowStart(generatedAt, minutes) {
  const t = Date.parse(generatedAt);
  if (!Number.isFinite(t)) return null;
  const start = Math.floor(t / 60000) * 60000 - (Math.max(1, minutes) - 1) * 60000;
  return new Date(start).toISOString();
}

/** Drops entries older than the window, as the server does: after a switch from 30 to 1 minute the
 *  feed must not keep showing half an hour of pushed events. */
export function trimFeedToWindow(feed, generatedAt, minutes) {
  const start = windowStart(generatedAt, minutes);
  return start ? feed.filter((e) => !e.timestamp || e.timestamp >= start) : feed;
}

// --- plumbing ---------------------------------------------------------------------------------------

const systemTimers = () => ({
  setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
  clearTimeout: (id) => globalThis.clearTimeout(id),
  setInterval: (fn, ms) => globalThis.setInterval(fn, ms),
  clearInterval: (id) => globalThis.clearInterval(id),
  now: () => Date.now(),
});

function withTimers(timers) {
  const base = systemTimers();
  return timers ? { ...base, ...timers } : base;
}

// Calling the global fetch as a method of another object throws "Illegal invocation" in browsers.
const resolveFetch = (f) => f ?? ((...args) => globalThis.fetch(...args));

function report(error) {
  if (typeof globalThis.reportError === 'function') globalThis.reportError(error);
  else console.error(error);
}

function createStore(initial) {
  let state = Object.freeze({ ...initial });
  const listeners = new Set();
  return {
    get: () => state,
    set(patch) {
      state = Object.freeze({ ...state, ...patch });
      for (const fn of [...listeners]) {
        try {
          fn(state);
        } catch (error) {
          report(error); // one broken subscriber must not starve the others
        }
      }
    },
    subscribe(fn) {
      listeners.add(fn);
      fn(state);
      return () => listeners.delete(fn);
    },
  };
}

function parseRetryAfter(value) {
  if (value == null) return null;
  const seconds = Number(value);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds : null;
}

/** One realtime API request. Rejects with a RealtimeError (status 0 for network errors). */
export async function fetchRealtime(config, { signal } = {}) {
  const doFetch = resolveFetch(config.fetch);
  const headers = { accept: 'application/json' };
  if (config.token) headers.authorization = `Bearer ${config.token}`;
  let response;
  try {
    response = await doFetch(realtimeUrl(config), { headers, signal, cache: 'no-store' });
  } catch (error) {
    if (error?.name === 'AbortError') throw error;
    throw new RealtimeError(`network error: ${error?.message ?? error}`, { cause: error });
  }
  if (!response.ok) {
    let body = null;
    try {
      body = await response.json();
    } catch {
      /* not JSON: keep the status */
    }
    throw new RealtimeError(body?.error ?? `HTTP ${response.status}`, {
      status: response.status,
      field: body?.field ?? null,
      retryAfter: parseRetryAfter(response.headers?.get?.('retry-after')),
    });
  }
  return response.json();
}

/** The dashboard's data in one call; more sections (history) will join `realtime`. */
export async function fetchDashboardData(config, { realtime = true } = {}) {
  const out = {};
  if (realtime) out.realtime = await fetchRealtime(config);
  return out;
}

/** `GET {baseUrl}/config.json` → `{ websocketUrl }`. */
export async function fetchClientConfig({ baseUrl = '', fetch } = {}) {
  const response = await resolveFetch(fetch)(`${trimSlash(baseUrl)}/config.json`, { cache: 'no-store' });
  if (!response.ok) throw new RealtimeError(`config.json: HTTP ${response.status}`, { status: response.status });
  return response.json();
}

// --- poller -----------------------------------------------------------------------------------------

/**
 * Polls the realtime API. A failed poll keeps the last good data and sets `error`; the next success
 * clears it. `stop()` really stops: the pending timer is cleared, an in-flight request is aborted and
 * its result ignored. `subscribe(fn)` calls fn with the state now and on every change.
 */
export function createRealtimePoller({
  baseUrl = '',
  siteId,
  token,
  minutes = DEFAULTS.minutes,
  interval = DEFAULTS.interval,
  limit,
  events,
  fetch,
  timers,
} = {}) {
  const t = withTimers(timers);
  const config = { baseUrl, siteId, token, minutes, limit, events, fetch };
  const store = createStore({ data: null, isLoading: false, error: null, lastUpdated: null, lastOk: null });
  let running = false;
  let timer = null;
  let generation = 0;
  let controller = null;
  let lastStarted = -Infinity;

  const clearTimer = () => {
    if (timer != null) t.clearTimeout(timer);
    timer = null;
  };
  const schedule = (ms) => {
    clearTimer();
    if (running) timer = t.setTimeout(poll, ms);
  };

  async function poll() {
    clearTimer();
    const gen = ++generation;
    controller?.abort();
    controller = typeof AbortController === 'function' ? new AbortController() : null;
    lastStarted = t.now();
    store.set({ isLoading: true });
    let next = interval;
    try {
      const data = await fetchRealtime(config, { signal: controller?.signal });
      if (gen !== generation) return;
      store.set({ data, error: null, isLoading: false, lastUpdated: t.now(), lastOk: true });
    } catch (error) {
      if (gen !== generation) return;
      // A 503 names how long the store needs; polling faster would only add load.
      if (error?.retryAfter) next = Math.max(interval, error.retryAfter * 1000);
      store.set({ error, isLoading: false, lastOk: false });
    }
    schedule(next);
  }

  return {
    get data() {
      return store.get().data;
    },
    get isLoading() {
      return store.get().isLoading;
    },
    get error() {
      return store.get().error;
    },
    get state() {
      return store.get();
    },
    get running() {
      return running;
    },
    /** When the last request started (timer clock), for callers that rate-limit refreshes. */
    get lastStarted() {
      return lastStarted;
    },
    start() {
      if (running) return;
      running = true;
      poll();
    },
    stop() {
      running = false;
      generation++;
      clearTimer();
      controller?.abort();
      controller = null;
      if (store.get().isLoading) store.set({ isLoading: false });
    },
    /** Polls now (also when stopped: a one-off request), then keeps the schedule if running. */
    refresh() {
      return poll();
    },
    /** Changes minutes, interval, token…; a running poller applies them from the next request. */
    update(patch = {}) {
      if (patch.interval != null) interval = patch.interval;
      for (const key of ['minutes', 'limit', 'events', 'token', 'siteId', 'baseUrl']) if (key in patch) config[key] = patch[key];
    },
    subscribe: (fn) => store.subscribe(fn),
  };
}

// --- push with fallback -----------------------------------------------------------------------------

/**
 * Live view of a site: WebSocket push, reconnecting with capped, fully jittered exponential backoff;
 * polling while the socket is down, and back to push when it returns. Pushed events are merged into
 * the feed (de-duplicated by id, newest first, capped); the counters are refreshed by a rate-limited
 * fetch after pushes, and periodically while live since the window slides.
 *
 * State: { data, feed, status, error, isLoading, socket, lastUpdated }; `data.recentEvents` is the
 * merged feed, so anything that reads a realtime view can read this one.
 */
export function connectRealtime({
  baseUrl = '',
  siteId,
  token,
  minutes = DEFAULTS.minutes,
  limit,
  events = DEFAULTS.events,
  interval = DEFAULTS.interval,
  liveRefreshInterval = DEFAULTS.liveRefreshInterval,
  refreshDelay = DEFAULTS.refreshDelay,
  minRefreshGap = DEFAULTS.minRefreshGap,
  maxFeed = DEFAULTS.maxFeed,
  pingInterval = DEFAULTS.pingInterval,
  stableAfter = DEFAULTS.stableAfter,
  backoff = {},
  websocketUrl,
  WebSocket: Socket = globalThis.WebSocket,
  fetch,
  timers,
  random = Math.random,
  autoStart = true,
} = {}) {
  const t = withTimers(timers);
  const backoffOptions = { base: backoff.base ?? DEFAULTS.backoffBase, cap: backoff.cap ?? DEFAULTS.backoffCap, random };
  const poller = createRealtimePoller({ baseUrl, siteId, token, minutes, interval, limit, events, fetch, timers: t });
  const store = createStore({
    data: null,
    feed: [],
    status: 'connecting',
    error: null,
    isLoading: false,
    socket: 'closed',
    lastUpdated: null,
  });

  let stopped = true;
  let socket = null;
  let socketOpen = false;
  let openedAt = 0;
  let attempt = 0;
  let reconnectTimer = null;
  let pingTimer = null;
  let refreshTimer = null;
  let resolvedSocketUrl = websocketUrl ?? null;
  let feed = [];
  let pollState = poller.state;
  let unsubscribePoller = null;

  const publish = (patch = {}) => {
    const data = pollState.data ? { ...pollState.data, recentEvents: feed } : null;
    store.set({
      data,
      feed,
      error: pollState.error,
      isLoading: pollState.isLoading,
      lastUpdated: pollState.lastUpdated,
      status: deriveStatus({ socketOpen, pollOk: pollState.lastOk }),
      socket: socketOpen ? 'open' : socket ? 'connecting' : 'closed',
      ...patch,
    });
  };

  const onPoll = (state) => {
    const fresh = state.data !== pollState.data && state.data;
    pollState = state;
    if (fresh) feed = trimFeedToWindow(mergeFeed(feed, state.data.recentEvents ?? [], maxFeed), state.data.generatedAt, state.data.minutes);
    publish();
  };

  /** Refreshes the counters soon, at most once per minRefreshGap, however many pushes arrive. */
  const scheduleRefresh = () => {
    if (stopped || refreshTimer != null) return;
    const wait = Math.max(refreshDelay, poller.lastStarted + minRefreshGap - t.now());
    refreshTimer = t.setTimeout(() => {
      refreshTimer = null;
      if (!stopped) poller.refresh();
    }, wait);
  };

  const clearSocketTimers = () => {
    if (pingTimer != null) t.clearInterval(pingTimer);
    pingTimer = null;
  };

  const scheduleReconnect = () => {
    if (stopped || reconnectTimer != null) return;
    const delay = backoffDelay(attempt, backoffOptions);
    attempt++;
    reconnectTimer = t.setTimeout(() => {
      reconnectTimer = null;
      openSocket();
    }, delay);
  };

  async function openSocket() {
    if (stopped || socket || typeof Socket !== 'function') return;
    if (!resolvedSocketUrl) {
      try {
        const config = await fetchClientConfig({ baseUrl, fetch });
        if (!config?.websocketUrl) throw new Error('config.json has no websocketUrl');
        resolvedSocketUrl = config.websocketUrl;
      } catch {
        if (!stopped) scheduleReconnect();
        return;
      }
      if (stopped || socket) return;
    }
    let ws;
    try {
      ws = new Socket(socketUrl(resolvedSocketUrl, { siteId, token, baseUrl: baseUrl || undefined }));
    } catch {
      scheduleReconnect();
      return;
    }
    socket = ws;
    publish();
    ws.onopen = () => {
      if (socket !== ws) return;
      socketOpen = true;
      openedAt = t.now();
      poller.update({ interval: liveRefreshInterval });
      clearSocketTimers();
      pingTimer = t.setInterval(() => {
        if (socket === ws && socketOpen) {
          try {
            ws.send(JSON.stringify({ action: 'ping' }));
          } catch {
            /* the close event follows */
          }
        }
      }, pingInterval);
      publish();
      // Catch up on what happened while the socket was down.
      scheduleRefresh();
    };
    ws.onmessage = (event) => {
      if (socket !== ws) return;
      let message;
      try {
        message = JSON.parse(typeof event.data === 'string' ? event.data : String(event.data));
      } catch {
        return;
      }
      if (message?.type !== 'events' || !Array.isArray(message.events)) return;
      if (message.siteId != null && message.siteId !== siteId) return;
      feed = mergeFeed(feed, message.events, maxFeed);
      publish();
      scheduleRefresh();
    };
    ws.onerror = () => {
      /* a close event always follows */
    };
    ws.onclose = () => {
      if (socket !== ws) return;
      const wasOpen = socketOpen;
      socket = null;
      socketOpen = false;
      clearSocketTimers();
      if (stopped) return;
      // A socket that closes right after opening (refused, blocked) keeps backing off.
      if (wasOpen && t.now() - openedAt >= stableAfter) attempt = 0;
      poller.update({ interval });
      if (wasOpen) poller.refresh(); // learn now whether polling works: 'polling' or 'offline'
      else publish();
      scheduleReconnect();
    };
  }

  const api = {
    get data() {
      return store.get().data;
    },
    get feed() {
      return store.get().feed;
    },
    get status() {
      return store.get().status;
    },
    get error() {
      return store.get().error;
    },
    get isLoading() {
      return store.get().isLoading;
    },
    get state() {
      return store.get();
    },
    subscribe: (fn) => store.subscribe(fn),
    start() {
      if (!stopped) return;
      stopped = false;
      attempt = 0;
      unsubscribePoller = poller.subscribe(onPoll);
      poller.start();
      openSocket();
    },
    stop() {
      if (stopped) return;
      stopped = true;
      unsubscribePoller?.();
      unsubscribePoller = null;
      poller.stop();
      for (const id of [reconnectTimer, refreshTimer]) if (id != null) t.clearTimeout(id);
      reconnectTimer = refreshTimer = null;
      clearSocketTimers();
      const ws = socket;
      socket = null;
      socketOpen = false;
      try {
        ws?.close(1000);
      } catch {
        /* already closing */
      }
      pollState = poller.state;
      publish({ status: 'offline' });
    },
    /** Changes the window (or limit/events) and refetches; the feed is trimmed to the new window. */
    update(patch = {}) {
      poller.update(patch);
      if (!stopped) poller.refresh();
    },
    refresh() {
      return poller.refresh();
    },
  };
  api.close = api.stop;
  if (autoStart) api.start();
  return api;
}
