// Types of format.js, written by hand (see realtime.d.ts), which re-exports them as realtime.js
// re-exports the functions. The realtime API's types they take are realtime.d.ts's: a type-only
// import, so format.js itself still imports nothing.

import type { FeedEntry, GoalCount, RealtimeView } from './realtime.js';

// Only what is marked `export` is exported.
export {};

/** Percent-decoded UTF-8 for display; invalid sequences and control characters stay encoded. */
export declare function decodePath(path: string): string;
/** `DE` → 🇩🇪; '' for anything but two letters. */
export declare function countryFlag(code: string): string;
/** `DE` → `Germany`, in `locale` or the browser's language. */
export declare function countryName(code: string, locale?: string): string;
/** `12 s ago`; timestamp as ISO string or ms. */
export declare function formatAgo(timestamp: string | number, now?: number): string;
export declare function hostOf(url: string): string;
/** Grouped digits; '–' for anything but a finite number. */
export declare function formatNumber(n: number | null | undefined): string;
/** `0.07` → `7%`; `<0.1%` for tiny rates; '–' when not a number. */
export declare function formatRate(rate: number | null | undefined, locale?: string): string;
/** Two decimals at most; '–' for 0 (no values). */
export declare function formatGoalValue(value: number | null | undefined, locale?: string): string;

export interface GoalRow {
  goal: string;
  /** The figures, formatted. */
  conversions: string;
  visitors: string;
  value: string;
  rate: string;
  /** The rate bar's length, 0–1. */
  share: number;
  source: GoalCount;
}

/** The goals panel's rows, and whether any goal has a value. */
export declare function goalRows(
  goals: Pick<RealtimeView, 'goals'> | readonly GoalCount[] | null | undefined,
  locale?: string,
): { rows: GoalRow[]; showValue: boolean };

export interface FeedEntryDescription {
  icon: string;
  kind: string;
  text: string;
  detail: string;
}

export declare function describeFeedEntry(entry: FeedEntry): FeedEntryDescription;
