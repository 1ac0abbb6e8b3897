// Types of realtime.js, written by hand: the module is plain JavaScript, served as it is, so there is
// no compiler output to take them from. web/test/types.test.mjs keeps them and the module in step.
// Needs the DOM library (fetch, WebSocket, AbortSignal types), as any browser project has.

// Only what is marked `export` is exported (a declaration file otherwise exports everything).
export {};

// The display helpers are format.js's, re-exported by realtime.js so that imports from here keep working.
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
export type { FeedEntryDescription, GoalRow } from './format.js';

/** `live`: the socket is open. `polling`: it is not, but the last poll worked. `offline`: neither.
 *  `connecting`: nothing has worked or failed yet. */
export type Status = 'connecting' | 'live' | 'polling' | 'offline';

// --- the realtime API's answer: docs/api.md "The realtime API" ------------------------------------

/** `GET {baseUrl}/sites/{siteId}/realtime`. */
export interface RealtimeView {
  siteId: string;
  minutes: number;
  /** ISO 8601, milliseconds, UTC. */
  generatedAt: string;
  currentVisitors: number;
  pageViews: number;
  activePages: PathCount[];
  countries: CountryCount[];
  referrers: ReferrerCount[];
  /** One point per minute of the window, oldest first, zero-filled. */
  timeline: TimelinePoint[];
  /** Goals with a conversion in the window, most conversions first. */
  goals: GoalCount[];
  /** Newest first. */
  recentEvents: FeedEntry[];
}

export interface PathCount {
  path: string;
  visitors: number;
}

export interface CountryCount {
  /** ISO 3166-1 alpha-2. */
  country: string;
  visitors: number;
}

export interface ReferrerCount {
  referrer: string;
  visitors: number;
}

export interface TimelinePoint {
  /** UTC minute, `2026-01-15T10:26`. */
  minute: string;
  visitors: number;
  pageViews: number;
}

export interface GoalCount {
  goal: string;
  conversions: number;
  visitors: number;
  /** Summed value of the conversions; 0 for a goal without values. */
  value: number;
  /** Converting visitors / currentVisitors. */
  conversionRate: number;
}

/** What every feed entry has; optional fields are absent when unknown. */
export interface FeedEntryBase {
  /** The event's id (UUIDv7); the same in WebSocket pushes. */
  id: string;
  /** ISO 8601, milliseconds, UTC. */
  timestamp: string;
  country?: string;
  device: string;
}

export interface PageviewEntry extends FeedEntryBase {
  type: 'pageview';
  path: string;
  browser?: string;
  referrer?: string;
}

export interface EventEntry extends FeedEntryBase {
  type: 'event';
  name: string;
  value?: number;
  path: string;
}

export interface OutboundEntry extends FeedEntryBase {
  type: 'outbound';
  url: string;
  path: string;
}

/** A goal an event completed, just above that event in the feed. `id` is the event's id, `:` and
 *  the goal's name; `path` for a page goal, `name` for an event goal. */
export interface GoalEntry extends FeedEntryBase {
  type: 'goal';
  goal: string;
  path?: string;
  name?: string;
  value?: number;
}

/** One entry of `recentEvents` or of a WebSocket push; narrow on `type`. */
export type FeedEntry = PageviewEntry | EventEntry | OutboundEntry | GoalEntry;

// --- options ------------------------------------------------------------------------------------------

/** The structural part of a fetch answer the library reads, so tests can inject fakes. */
export interface FetchResponseLike {
  readonly ok: boolean;
  readonly status: number;
  json(): Promise<any>;
  readonly headers?: { get(name: string): string | null };
}

/** `globalThis.fetch` fits. */
export type FetchLike = (url: string, init?: RequestInit) => Promise<FetchResponseLike>;

/** The timer functions and clock the library uses; any subset may be injected. */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(id: unknown): void;
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(id: unknown): void;
  /** Milliseconds. */
  now(): number;
}

/** What connectRealtime needs of a WebSocket; the browser's fits. */
export interface WebSocketLike {
  onopen: ((event: Event) => void) | null;
  onmessage: ((event: MessageEvent) => void) | null;
  onerror: ((event: Event) => void) | null;
  onclose: ((event: CloseEvent) => void) | null;
  send(data: string): void;
  close(code?: number): void;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

/** The query of one realtime request. */
export interface RealtimeQuery {
  /** The API's URL, `{origin}{base}`; default '' (the page's own origin). */
  baseUrl?: string;
  siteId: string;
  /** The window, 1–30; default 5. */
  minutes?: number;
  /** Length of the top lists, 1–100. */
  limit?: number;
  /** Length of `recentEvents`, 0–100. */
  events?: number;
}

export interface RealtimeConfig extends RealtimeQuery {
  /** A read token; not needed for a public site. */
  token?: string;
  fetch?: FetchLike;
}

export interface PollerOptions extends RealtimeConfig {
  /** Milliseconds between polls; default 5000. */
  interval?: number;
  timers?: Partial<Timers>;
}

export interface ConnectOptions extends PollerOptions {
  /** Counter refresh while the socket is live (the window slides); default 15000 ms. */
  liveRefreshInterval?: number;
  /** Counter refresh after a push; default 1500 ms. */
  refreshDelay?: number;
  /** At most one counter refresh per this many ms; default 3000. */
  minRefreshGap?: number;
  /** Feed length; default 50. */
  maxFeed?: number;
  /** Default 5 minutes: API Gateway closes sockets idle for 10. */
  pingInterval?: number;
  /** A socket open this long resets the backoff; default 5000 ms. */
  stableAfter?: number;
  backoff?: { base?: number; cap?: number };
  /** Skips `GET {baseUrl}/config.json`. */
  websocketUrl?: string;
  WebSocket?: WebSocketConstructor;
  random?: () => number;
  /** Default true; false leaves the first `start()` to the caller. */
  autoStart?: boolean;
}

/** What `update()` may change on a running poller or connection. */
export type RealtimeUpdate = Partial<Pick<PollerOptions, 'minutes' | 'interval' | 'limit' | 'events' | 'token' | 'siteId' | 'baseUrl'>>;

// --- errors and state ---------------------------------------------------------------------------------

export declare class RealtimeError extends Error {
  constructor(message: string, options?: { status?: number; field?: string | null; retryAfter?: number | null; cause?: unknown });
  /** The HTTP status; 0 for a network error. */
  status: number;
  /** The query parameter a 400 names. */
  field: string | null;
  /** Seconds, from Retry-After (a 503). */
  retryAfter: number | null;
}

export interface PollerState {
  readonly data: RealtimeView | null;
  readonly isLoading: boolean;
  /** Usually a RealtimeError; an answer that is not JSON gives the parser's error. */
  readonly error: Error | null;
  /** Timer clock, ms. */
  readonly lastUpdated: number | null;
  /** Whether the last poll worked; null before the first. */
  readonly lastOk: boolean | null;
}

export interface RealtimeState {
  /** The last view, its `recentEvents` replaced by the merged feed. */
  readonly data: RealtimeView | null;
  readonly feed: FeedEntry[];
  readonly status: Status;
  readonly error: Error | null;
  readonly isLoading: boolean;
  readonly socket: 'open' | 'connecting' | 'closed';
  readonly lastUpdated: number | null;
}

export interface RealtimePoller {
  readonly data: RealtimeView | null;
  readonly isLoading: boolean;
  readonly error: Error | null;
  readonly state: PollerState;
  readonly running: boolean;
  /** When the last request started, timer clock. */
  readonly lastStarted: number;
  start(): void;
  /** Clears the timer, aborts the request in flight and ignores its result. */
  stop(): void;
  /** Polls now (a one-off when stopped). */
  refresh(): Promise<void>;
  update(patch?: RealtimeUpdate): void;
  /** Calls fn with the state now and on every change; returns the unsubscribe. */
  subscribe(fn: (state: PollerState) => void): () => void;
}

export interface RealtimeConnection {
  readonly data: RealtimeView | null;
  readonly feed: FeedEntry[];
  readonly status: Status;
  readonly error: Error | null;
  readonly isLoading: boolean;
  readonly state: RealtimeState;
  subscribe(fn: (state: RealtimeState) => void): () => void;
  start(): void;
  stop(): void;
  /** The same as stop(). */
  close(): void;
  /** Changes the window (or limit, events…) and refetches; the socket stays. */
  update(patch?: RealtimeUpdate): void;
  refresh(): Promise<void>;
}

// --- the module's exports -----------------------------------------------------------------------------

export declare const DEFAULTS: Readonly<{
  minutes: number;
  interval: number;
  liveRefreshInterval: number;
  refreshDelay: number;
  minRefreshGap: number;
  maxFeed: number;
  events: number;
  pingInterval: number;
  backoffBase: number;
  backoffCap: number;
  stableAfter: number;
}>;

export declare function connectRealtime(options: ConnectOptions): RealtimeConnection;
export declare function createRealtimePoller(options: PollerOptions): RealtimePoller;

/** One request; rejects with a RealtimeError (status 0 for a network error). */
export declare function fetchRealtime(config: RealtimeConfig, options?: { signal?: AbortSignal }): Promise<RealtimeView>;
export declare function fetchDashboardData(config: RealtimeConfig, options?: { realtime?: true }): Promise<{ realtime: RealtimeView }>;
export declare function fetchDashboardData(config: RealtimeConfig, options: { realtime: boolean }): Promise<{ realtime?: RealtimeView }>;
/** `GET {baseUrl}/config.json`. */
export declare function fetchClientConfig(options?: { baseUrl?: string; fetch?: FetchLike }): Promise<{ websocketUrl: string }>;

export declare function realtimeUrl(query: RealtimeQuery): string;
/** http(s) becomes ws(s); siteId and token go in the query string. */
export declare function socketUrl(websocketUrl: string | URL, options: { siteId: string; token?: string; baseUrl?: string }): string;
/** Uniform in [0, min(cap, base · 2^attempt)). */
export declare function backoffDelay(attempt: number, options?: { base?: number; cap?: number; random?: () => number }): number;
export declare function deriveStatus(state: { socketOpen: boolean; pollOk?: boolean | null }): Status;

/** The entry's id (or, without one, its content). */
export declare function feedKey(entry: FeedEntry): string;
/** De-duplicated by id, newest first, at most `max` (default 50). */
export declare function mergeFeed(current?: readonly FeedEntry[], incoming?: readonly FeedEntry[], max?: number): FeedEntry[];
/** ISO start of the window, or null for an unparsable `generatedAt`. */
export declare function windowStart(generatedAt: string, minutes: number): string | null;
export declare function trimFeedToWindow(feed: readonly FeedEntry[], generatedAt: string, minutes: number): FeedEntry[];
