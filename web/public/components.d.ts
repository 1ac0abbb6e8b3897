// Types of components.js, written by hand (see realtime.d.ts). Importing the module defines the
// elements; the HTMLElementTagNameMap entries below type querySelector and createElement.

import type {
  CountryCount,
  FeedEntry,
  GoalCount,
  PathCount,
  RealtimeState,
  RealtimeView,
  ReferrerCount,
  Status,
  TimelinePoint,
} from './realtime.js';

/** A connectRealtime() connection or a createRealtimePoller() poller: anything whose states carry S. */
export interface RealtimeSource<S = { readonly data: RealtimeView | null }> {
  // A property, not a method, so a source whose states lack S is refused (methods compare loosely).
  subscribe: (fn: (state: S) => void) => () => void;
}

// The module exports only what is marked so (not PulseElement, the base declared below).
export {};

// The base of every element, declared for its shared members.
declare abstract class PulseElement<D, S = { readonly data: RealtimeView | null }> extends HTMLElement {
  /** Subscribed to while the element is in the document. */
  get source(): RealtimeSource<S> | null;
  set source(source: RealtimeSource<S> | null | undefined);
  /** What is shown; setting it renders. A source's updates replace it. */
  get data(): D | null;
  set data(value: D | null | undefined);
  connectedCallback(): void;
  disconnectedCallback(): void;
  attributeChangedCallback(): void;
  /** Renders again from `data` and the attributes. */
  update(): void;
}

/** `<pulse-counter key="currentVisitors|pageViews" label>`; reflects the value in `data-value`. */
export declare class PulseCounter extends PulseElement<number | Partial<Pick<RealtimeView, 'currentVisitors' | 'pageViews'>>> {
  /** The value counted to; null before any. */
  readonly value: number | null;
}

/** `<pulse-feed max-items="50" show-location empty-text>`. Its source may also be a state with `feed`. */
export declare class PulseFeed extends PulseElement<readonly FeedEntry[] | Pick<RealtimeView, 'recentEvents'>> {}

/** A row of a top list: one of the view's, or any object with the label and value keys. */
export type TopListRow = PathCount | CountryCount | ReferrerCount | { readonly [key: string]: unknown };

/** `<pulse-top-list label-key="path|country|referrer" value-key="visitors" heading list empty-text>`. */
export declare class PulseTopList extends PulseElement<readonly TopListRow[] | Partial<Pick<RealtimeView, 'activePages' | 'countries' | 'referrers'>>> {}

/** `<pulse-goals heading empty-text>`, slot `hint`. */
export declare class PulseGoals extends PulseElement<readonly GoalCount[] | Pick<RealtimeView, 'goals'>> {}

/** `<pulse-sparkline value-key="visitors|pageViews" label>`. */
export declare class PulseSparkline extends PulseElement<readonly TimelinePoint[] | Pick<RealtimeView, 'timeline'>> {}

/** `<pulse-status>`; reflects `status`. Its source is a connection (a poller has no status). */
export declare class PulseStatus extends PulseElement<Status | Pick<RealtimeState, 'status'>, Pick<RealtimeState, 'status'>> {}

/** Defines the elements in `registry` (already done on import, in `customElements`); names already
 *  defined are left alone. */
export declare function defineAll(registry?: Pick<CustomElementRegistry, 'get' | 'define'> | null): void;

declare global {
  interface HTMLElementTagNameMap {
    'pulse-counter': PulseCounter;
    'pulse-feed': PulseFeed;
    'pulse-top-list': PulseTopList;
    'pulse-goals': PulseGoals;
    'pulse-sparkline': PulseSparkline;
    'pulse-status': PulseStatus;
  }
}
