// Pulse Web Components: <pulse-counter>, <pulse-feed>, <pulse-top-list>, <pulse-goals>,
// <pulse-sparkline>, <pulse-status>. Standard custom elements with open shadow roots, so they work in
// plain HTML and in any framework. Feed each one either a `.source` (connectRealtime() or
// createRealtimePoller()) or `.data` (the realtime view, or just the part it shows). Themable through
// CSS custom properties (--pulse-*, see web/README.md) and ::part().

import {
  countryFlag,
  countryName,
  decodePath,
  describeFeedEntry,
  formatAgo,
  formatNumber,
  goalRows,
} from './format.js';

// Importable outside browsers (tests, server rendering) without defining anything.
const Base = globalThis.HTMLElement ?? class {};

const reducedMotion = () => globalThis.matchMedia?.('(prefers-reduced-motion: reduce)').matches ?? false;

const escapeHtml = (s) =>
  String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);

const SHARED_CSS = `
  :host { display: block; font: inherit; color: inherit; box-sizing: border-box; }
  :host([hidden]) { display: none; }
  *, *::before, *::after { box-sizing: inherit; }
  .muted { color: var(--pulse-muted, color-mix(in srgb, currentColor 62%, transparent)); }
  .sr-only { position: absolute; width: 1px; height: 1px; margin: -1px; overflow: hidden; clip-path: inset(50%); white-space: nowrap; }
`;

// One constructed style sheet per element class, adopted by every shadow root of that class. Not a
// <style> element: a page whose Content-Security-Policy allows no inline styles (the dashboard's, or
// that of a site embedding these elements) blocks those, in shadow roots too; adopted sheets are CSSOM
// and pass. Browsers without adoptedStyleSheets (Safari before 16.4) get the <style>.
const sheets = new Map();
function styleRoot(root, cls) {
  const css = SHARED_CSS + (cls.css ?? '');
  if (!('adoptedStyleSheets' in root) || !globalThis.CSSStyleSheet) return `<style>${css}</style>`;
  if (!sheets.has(cls)) {
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(css);
    sheets.set(cls, sheet);
  }
  root.adoptedStyleSheets = [sheets.get(cls)];
  return '';
}

/**
 * Shared plumbing: `.source` subscriptions (dropped while disconnected, so a removed element does not
 * leak), `.data`, and properties set before the element was defined (frameworks do that).
 */
class PulseElement extends Base {
  #source = null;
  #unsubscribe = null;
  #data = null;

  constructor() {
    super();
    const root = this.attachShadow({ mode: 'open' });
    root.innerHTML = styleRoot(root, this.constructor) + (this.constructor.html ?? '');
  }

  get source() {
    return this.#source;
  }
  set source(source) {
    this.#unsubscribe?.();
    this.#unsubscribe = null;
    this.#source = source ?? null;
    if (this.isConnected) this.#listen();
  }

  get data() {
    return this.#data;
  }
  set data(value) {
    this.#data = value ?? null;
    this.update();
  }

  connectedCallback() {
    for (const prop of ['data', 'source']) {
      if (Object.prototype.hasOwnProperty.call(this, prop)) {
        const value = this[prop];
        delete this[prop];
        this[prop] = value;
      }
    }
    if (this.#source && !this.#unsubscribe) this.#listen();
    this.update();
  }

  disconnectedCallback() {
    this.#unsubscribe?.();
    this.#unsubscribe = null;
  }

  attributeChangedCallback() {
    if (this.isConnected) this.update();
  }

  #listen() {
    if (typeof this.#source?.subscribe !== 'function') return;
    this.#unsubscribe = this.#source.subscribe((state) => {
      this.#data = this.select(state);
      this.update();
    });
  }

  /** The part of a source's state this element shows. */
  select(state) {
    return state?.data ?? null;
  }

  update() {}

  $(selector) {
    return this.shadowRoot.querySelector(selector);
  }
}

// --- <pulse-counter> ---------------------------------------------------------------------------------

/**
 * A number that counts to each new value and pulses when it changes.
 * Attributes: key (field of the view, default currentVisitors), label.
 * `.data`: a number or a realtime view. Reflects the shown value in `data-value`.
 */
export class PulseCounter extends PulseElement {
  static observedAttributes = ['key', 'label'];
  static css = `
    :host { --_accent: var(--pulse-accent, #6d5dfc); }
    .label { font-size: var(--pulse-label-size, .875rem); }
    .value {
      display: inline-block; font-size: var(--pulse-counter-size, 2.5rem); font-weight: 700;
      line-height: 1.1; font-variant-numeric: tabular-nums; transform-origin: left center;
    }
    .value.pulse { animation: pulse 700ms ease-out; }
    @keyframes pulse {
      0% { transform: scale(1); text-shadow: 0 0 0 transparent; }
      30% { transform: scale(1.08); color: var(--_accent); text-shadow: 0 0 .6em color-mix(in srgb, var(--_accent) 45%, transparent); }
      100% { transform: scale(1); text-shadow: 0 0 0 transparent; }
    }
    @media (prefers-reduced-motion: reduce) { .value.pulse { animation: none; } }
  `;
  static html = `
    <div class="label muted" part="label"></div>
    <div class="value" part="value" aria-hidden="true">–</div>
    <div class="sr-only" aria-live="polite" aria-atomic="true"></div>
  `;

  #shown = null; // the value on screen, mid-animation included
  #target = null;
  #frame = 0;

  get value() {
    return this.#target;
  }

  update() {
    const label = this.getAttribute('label') ?? '';
    this.$('.label').textContent = label;
    const d = this.data;
    const key = this.getAttribute('key') ?? 'currentVisitors';
    const next = typeof d === 'number' ? d : typeof d?.[key] === 'number' ? d[key] : null;
    if (next === this.#target) return;
    const previous = this.#target;
    this.#target = next;
    if (next == null) {
      this.removeAttribute('data-value');
      this.#paint(null);
      this.$('.sr-only').textContent = '';
      return;
    }
    this.setAttribute('data-value', String(next));
    this.$('.sr-only').textContent = `${label ? label + ': ' : ''}${formatNumber(next)}`;
    if (previous == null || reducedMotion() || typeof requestAnimationFrame !== 'function') {
      this.#paint(next);
    } else {
      this.#animate(this.#shown ?? previous, next);
    }
    if (previous != null) this.#pulse();
  }

  #paint(value) {
    this.#shown = value;
    this.$('.value').textContent = value == null ? '–' : formatNumber(Math.round(value));
  }

  #animate(from, to) {
    cancelAnimationFrame(this.#frame);
    const start = performance.now();
    const duration = 600;
    const step = (now) => {
      const t = Math.min(1, (now - start) / duration);
      const eased = 1 - (1 - t) ** 3;
      this.#paint(t === 1 ? to : from + (to - from) * eased);
      if (t < 1) this.#frame = requestAnimationFrame(step);
    };
    this.#frame = requestAnimationFrame(step);
  }

  #pulse() {
    const el = this.$('.value');
    el.classList.remove('pulse');
    void el.offsetWidth; // restart the animation
    el.classList.add('pulse');
  }

  disconnectedCallback() {
    super.disconnectedCallback();
    globalThis.cancelAnimationFrame?.(this.#frame);
  }
}

// --- <pulse-feed> ------------------------------------------------------------------------------------

// One ticking clock for every feed on the page.
const tickingFeeds = new Set();
let tickTimer = null;
function tickFeeds(feed, on) {
  if (on) tickingFeeds.add(feed);
  else tickingFeeds.delete(feed);
  if (tickingFeeds.size && tickTimer == null) {
    tickTimer = setInterval(() => tickingFeeds.forEach((f) => f.tick()), 1000);
  } else if (!tickingFeeds.size && tickTimer != null) {
    clearInterval(tickTimer);
    tickTimer = null;
  }
}

/**
 * The live feed, newest first. Attributes: max-items (default 50), show-location (country flag and
 * name), empty-text. `.data`: an array of feed entries or a realtime view. Rows keep their element
 * across updates (keyed by event id), so only new rows animate in and get announced.
 */
export class PulseFeed extends PulseElement {
  static observedAttributes = ['max-items', 'show-location', 'empty-text'];
  static css = `
    ol { list-style: none; margin: 0; padding: 0; }
    li {
      display: grid; grid-template-columns: 1.75em minmax(0, 1fr); gap: .15em .7em; align-items: baseline;
      padding: .5em 0; border-bottom: 1px solid var(--pulse-border, color-mix(in srgb, currentColor 14%, transparent));
    }
    li:last-child { border-bottom: 0; }
    li.new { animation: enter 450ms ease-out; }
    @keyframes enter {
      from { opacity: 0; transform: translateY(-.4em); background: color-mix(in srgb, var(--pulse-accent, #6d5dfc) 18%, transparent); }
      to { opacity: 1; transform: none; background: transparent; }
    }
    @media (prefers-reduced-motion: reduce) { li.new { animation: none; } }
    .icon { display: grid; place-items: center; align-self: center; width: 1.75em; height: 1.75em; border-radius: 50%;
      color: var(--_type); background: color-mix(in srgb, var(--_type) 14%, transparent); }
    li { --_type: var(--pulse-pageview, var(--pulse-accent, #6d5dfc)); }
    li[data-type=event] { --_type: var(--pulse-event, #d97706); }
    li[data-type=outbound] { --_type: var(--pulse-outbound, #0d9488); }
    li[data-type=goal] { --_type: var(--pulse-goal, #16a34a); }
    .text { font-weight: 600; overflow-wrap: anywhere; }
    .detail { display: block; font-size: .85em; overflow-wrap: anywhere; }
    time { white-space: nowrap; font-variant-numeric: tabular-nums; }
    .meta { grid-column: 2; font-size: .85em; display: flex; flex-wrap: wrap; gap: 0 .75em; }
    .empty { margin: .5em 0; }
  `;
  static html = `
    <ol part="list" aria-live="polite" aria-relevant="additions" aria-label="Live feed"></ol>
    <p class="empty muted" part="empty"></p>
  `;

  #rows = new Map(); // key → <li>
  #rendered = false;

  select(state) {
    return state?.feed ?? state?.data?.recentEvents ?? null;
  }

  connectedCallback() {
    super.connectedCallback();
    tickFeeds(this, true);
  }

  disconnectedCallback() {
    super.disconnectedCallback();
    tickFeeds(this, false);
  }

  update() {
    const d = this.data;
    const entries = Array.isArray(d) ? d : Array.isArray(d?.recentEvents) ? d.recentEvents : [];
    const max = Math.max(0, Number.parseInt(this.getAttribute('max-items') ?? '50', 10) || 50);
    const showLocation = this.hasAttribute('show-location');
    const list = this.$('ol');
    const now = Date.now();
    const keep = new Map();
    let previous = null;
    for (const entry of entries.slice(0, max)) {
      const key = entryKey(entry);
      if (keep.has(key)) continue;
      let li = this.#rows.get(key);
      if (!li) {
        li = renderRow(entry, showLocation, now);
        if (this.#rendered) {
          li.classList.add('new');
          // A row moved later must not replay its entrance.
          li.addEventListener('animationend', () => li.classList.remove('new'), { once: true });
        }
      }
      keep.set(key, li);
      // Insert in order, moving as little as possible.
      const expected = previous ? previous.nextSibling : list.firstChild;
      if (expected !== li) list.insertBefore(li, expected);
      previous = li;
    }
    for (const [key, li] of this.#rows) if (!keep.has(key)) li.remove();
    this.#rows = keep;
    this.#rendered = this.#rendered || d != null;
    const empty = this.$('.empty');
    empty.textContent = this.getAttribute('empty-text') ?? (d == null ? 'Waiting for data…' : 'No activity in this window yet.');
    empty.hidden = keep.size > 0;
    this.setAttribute('data-count', String(keep.size));
  }

  /** Advances the relative times ("12 s ago"). */
  tick() {
    const now = Date.now();
    for (const time of this.shadowRoot.querySelectorAll('time[datetime]')) {
      const text = formatAgo(time.getAttribute('datetime'), now);
      if (time.textContent !== text) time.textContent = text;
    }
  }
}

function entryKey(entry) {
  return entry?.id != null ? String(entry.id) : `${entry?.type}|${entry?.timestamp}|${entry?.path}|${entry?.name ?? entry?.url ?? entry?.goal ?? ''}`;
}

// Inline icons rather than emoji: the same on every platform, and coloured by the theme.
const svg = (body) =>
  `<svg viewBox="0 0 24 24" width="16" height="16" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true">${body}</svg>`;
const ICONS = {
  pageview: svg('<path d="M2 12s3.6-7 10-7 10 7 10 7-3.6 7-10 7S2 12 2 12z"/><circle cx="12" cy="12" r="3"/>'),
  event: svg('<path d="M13 2 3 14h9l-1 8 10-12h-9l1-8z"/>'),
  outbound: svg('<path d="M7 17 17 7M8 7h9v9"/>'),
  goal: svg('<circle cx="12" cy="12" r="9"/><circle cx="12" cy="12" r="5"/><circle cx="12" cy="12" r="1"/>'),
  other: svg('<circle cx="12" cy="12" r="3"/>'),
};

function renderRow(entry, showLocation, now) {
  const li = document.createElement('li');
  const { kind, text, detail } = describeFeedEntry(entry);
  const icon = ICONS[entry?.type] ?? ICONS.other;
  li.dataset.type = entry?.type ?? '';
  if (entry?.id != null) li.dataset.id = String(entry.id);
  li.setAttribute('part', `row row-${entry?.type ?? 'other'}`);
  const location =
    showLocation && entry?.country
      ? `<span class="location" title="${escapeHtml(entry.country)}">${countryFlag(entry.country)} ${escapeHtml(countryName(entry.country))}</span>`
      : '';
  const device = entry?.device ? `<span class="device">${escapeHtml(entry.device)}</span>` : '';
  const browser = entry?.browser ? `<span class="browser">${escapeHtml(entry.browser)}</span>` : '';
  li.innerHTML = `
    <span class="icon" role="img" aria-label="${escapeHtml(kind)}" title="${escapeHtml(kind)}">${icon}</span>
    <span><span class="text">${escapeHtml(text)}</span>${detail ? `<span class="detail muted">${escapeHtml(detail)}</span>` : ''}</span>
    <span class="meta muted"><time datetime="${escapeHtml(entry?.timestamp ?? '')}">${escapeHtml(formatAgo(entry?.timestamp, now))}</time>${location}${device}${browser}</span>`;
  return li;
}

// --- <pulse-top-list> --------------------------------------------------------------------------------

const LIST_FOR_LABEL = { path: 'activePages', country: 'countries', referrer: 'referrers' };

/**
 * A ranked list with proportional bars. Attributes: label-key (default path), value-key (default
 * visitors), heading, list (field of the view; by default activePages, countries or referrers after
 * label-key), empty-text. Paths are shown decoded, countries with flag and name.
 */
export class PulseTopList extends PulseElement {
  static observedAttributes = ['label-key', 'value-key', 'heading', 'list', 'empty-text'];
  static css = `
    h2 { font-size: var(--pulse-heading-size, 1rem); margin: 0 0 .5em; font-weight: 600; }
    h2:empty { display: none; }
    ol { list-style: none; margin: 0; padding: 0; }
    li { position: relative; display: flex; justify-content: space-between; gap: 1em; padding: .35em .5em; border-radius: .35em; }
    li::before {
      content: ''; position: absolute; inset: 0; width: calc(var(--share, 0) * 100%); border-radius: inherit;
      background: var(--pulse-bar, color-mix(in srgb, var(--pulse-accent, #6d5dfc) 16%, transparent));
      transition: width 400ms ease-out; z-index: 0;
    }
    @media (prefers-reduced-motion: reduce) { li::before { transition: none; } }
    .label, .value { position: relative; z-index: 1; }
    .label { overflow-wrap: anywhere; min-width: 0; }
    .value { font-variant-numeric: tabular-nums; font-weight: 600; }
    .empty { margin: .35em .5em; }
  `;
  static html = `
    <h2 part="heading"></h2>
    <ol part="list"></ol>
    <p class="empty muted" part="empty"></p>
  `;

  update() {
    const labelKey = this.getAttribute('label-key') ?? 'path';
    const valueKey = this.getAttribute('value-key') ?? 'visitors';
    const listKey = this.getAttribute('list') ?? LIST_FOR_LABEL[labelKey] ?? 'activePages';
    this.$('h2').textContent = this.getAttribute('heading') ?? '';
    const d = this.data;
    const rows = (Array.isArray(d) ? d : Array.isArray(d?.[listKey]) ? d[listKey] : []).filter((r) => r && typeof r === 'object');
    const max = Math.max(1, ...rows.map((r) => Number(r[valueKey]) || 0));
    const list = this.$('ol');
    list.replaceChildren(
      ...rows.map((row) => {
        const li = document.createElement('li');
        li.setAttribute('part', 'row');
        const raw = row[labelKey];
        const label = formatLabel(labelKey, raw);
        const value = Number(row[valueKey]) || 0;
        li.style.setProperty('--share', String(value / max));
        li.innerHTML = `<span class="label" title="${escapeHtml(raw)}">${escapeHtml(label)}</span><span class="value">${escapeHtml(formatNumber(value))}</span>`;
        li.dataset.label = String(raw ?? '');
        return li;
      }),
    );
    const empty = this.$('.empty');
    empty.textContent = this.getAttribute('empty-text') ?? (d == null ? 'Waiting for data…' : 'Nothing in this window yet.');
    empty.hidden = rows.length > 0;
  }
}

function formatLabel(key, value) {
  if (key === 'path') return decodePath(String(value ?? ''));
  if (key === 'country') {
    const flag = countryFlag(value);
    return flag ? `${flag} ${countryName(value)}` : String(value ?? '');
  }
  return String(value ?? '');
}

// --- <pulse-goals> -----------------------------------------------------------------------------------

const GOAL_COLUMNS = [
  ['conversions', 'Conversions'],
  ['visitors', 'Visitors'],
  ['value', 'Value'],
  ['rate', 'Rate'],
];

/**
 * Goals over the window: conversions, converting visitors, value (a column only when some goal has
 * one) and conversion rate, with a bar for the rate. Attributes: heading, empty-text; slot `hint`
 * replaces the empty state's hint. `.data`: the view's `goals` or a realtime view. Rows are keyed by
 * goal name; a row whose conversions grow flashes once. Narrower than 26rem (the element's width, not
 * the screen's), each goal is a compact block: name and rate, bar, then the labelled figures.
 */
export class PulseGoals extends PulseElement {
  static observedAttributes = ['heading', 'empty-text'];
  static css = `
    :host { --_goal: var(--pulse-goal, #16a34a); }
    [hidden] { display: none !important; }
    h2 { font-size: var(--pulse-heading-size, 1rem); margin: 0 0 .5em; font-weight: 600; }
    h2:empty { display: none; }
    /* The wrapper, not the host, is the size container: the host may be sized by its content. */
    .wrap { container-type: inline-size; }
    table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
    th, td { padding: .4em 0 .4em .9em; text-align: right; vertical-align: top; white-space: nowrap; }
    th:first-child { padding-left: 0; text-align: left; white-space: normal; width: 100%; }
    thead th { font-size: .75em; font-weight: 600; padding-top: 0; }
    tbody tr { border-top: 1px solid var(--pulse-border, color-mix(in srgb, currentColor 14%, transparent)); }
    tbody th, td.conversions { font-weight: 600; }
    .name { overflow-wrap: anywhere; }
    .bar { display: block; height: .25em; margin-top: .3em; border-radius: 999px;
      background: color-mix(in srgb, var(--_goal) 16%, transparent); overflow: hidden; }
    .bar::before { content: ''; display: block; height: 100%; width: calc(var(--share, 0) * 100%);
      background: var(--_goal); border-radius: inherit; transition: width 400ms ease-out; }
    table.no-value .value { display: none; }
    tr.bump td.conversions { animation: bump 900ms ease-out; }
    @keyframes bump { 25% { color: var(--_goal); text-shadow: 0 0 .6em color-mix(in srgb, var(--_goal) 45%, transparent); } }
    @media (prefers-reduced-motion: reduce) { .bar::before { transition: none; } tr.bump td.conversions { animation: none; } }
    .empty { margin: .35em 0; }
    .empty p { margin: 0 0 .25em; }
    .hint { display: block; font-size: .85em; }
    /* Compact, when the columns would squeeze the names: the name with the rate beside it, the bar,
       then the other figures on one line, each with its label. */
    @container (max-width: 26rem) {
      thead { position: absolute; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%); }
      table, tbody { display: block; }
      tbody tr { display: flex; flex-wrap: wrap; align-items: baseline; gap: .3em .9em; padding: .55em 0; }
      /* The bar across the whole row, which also breaks the line. */
      tbody tr::after { content: ''; flex-basis: 100%; order: 2; height: .25em; border-radius: 999px;
        background: linear-gradient(to right, var(--_goal) calc(var(--share, 0) * 100%), color-mix(in srgb, var(--_goal) 16%, transparent) 0); }
      .bar { display: none; }
      th, td { display: block; padding: 0; text-align: left; }
      tbody th { flex: 1 1 0; min-width: 0; order: 0; width: auto; }
      td { order: 3; font-size: .875em; }
      td.rate { order: 1; font-size: 1em; font-weight: 600; }
      td::before { content: attr(data-label) ' '; font-size: .8em; font-weight: 400;
        color: var(--pulse-muted, color-mix(in srgb, currentColor 62%, transparent)); }
    }
  `;
  static html = `
    <h2 part="heading" id="heading"></h2>
    <div class="wrap">
      <table part="table" role="table" aria-labelledby="heading" hidden>
        <thead role="rowgroup"><tr role="row"><th scope="col" role="columnheader" class="muted">Goal</th>${GOAL_COLUMNS.map(
          ([key, label]) => `<th scope="col" role="columnheader" class="muted ${key}">${label}</th>`,
        ).join('')}</tr></thead>
        <tbody role="rowgroup"></tbody>
      </table>
    </div>
    <div class="empty" part="empty">
      <p class="muted"></p>
      <slot name="hint" class="hint muted">Goals are defined with <code>pulse-admin goal add</code>.</slot>
    </div>
  `;

  #rows = new Map(); // goal name → <tr>
  #rendered = false;

  update() {
    this.$('h2').textContent = this.getAttribute('heading') ?? '';
    const d = this.data;
    const { rows, showValue } = goalRows(d);
    const table = this.$('table');
    table.classList.toggle('no-value', !showValue);
    const body = this.$('tbody');
    const keep = new Map();
    let previous = null;
    for (const row of rows) {
      if (keep.has(row.goal)) continue;
      let tr = this.#rows.get(row.goal);
      const before = tr ? Number(tr.dataset.conversions) : 0;
      if (!tr) tr = goalRow(row.goal);
      for (const [key] of GOAL_COLUMNS) {
        const cell = tr.querySelector(`td.${key}`);
        if (cell.textContent !== row[key]) cell.textContent = row[key];
      }
      tr.style.setProperty('--share', String(row.share));
      const { conversions, visitors, value, conversionRate } = row.source;
      for (const [key, raw] of Object.entries({ conversions, visitors, value, rate: conversionRate })) tr.dataset[key] = String(raw ?? '');
      // A conversion while the panel is on screen, not the figures it opened with.
      if (this.#rendered && Number(conversions) > before && !reducedMotion()) {
        tr.classList.remove('bump');
        void tr.offsetWidth; // restart the animation
        tr.classList.add('bump');
      }
      keep.set(row.goal, tr);
      const expected = previous ? previous.nextSibling : body.firstChild;
      if (expected !== tr) body.insertBefore(tr, expected);
      previous = tr;
    }
    for (const [goal, tr] of this.#rows) if (!keep.has(goal)) tr.remove();
    this.#rows = keep;
    this.#rendered = this.#rendered || d != null;
    table.hidden = keep.size === 0;
    this.$('.empty').hidden = keep.size > 0;
    this.$('.empty p').textContent =
      this.getAttribute('empty-text') ?? (d == null ? 'Waiting for data…' : 'No goals completed in this window.');
    this.$('.empty slot').hidden = d == null; // nothing to hint at before the first answer
    this.setAttribute('data-count', String(keep.size));
  }
}

function goalRow(goal) {
  const tr = document.createElement('tr');
  tr.setAttribute('part', 'row');
  tr.setAttribute('role', 'row');
  tr.dataset.goal = goal;
  tr.innerHTML = `<th scope="row" role="rowheader"><span class="name">${escapeHtml(goal)}</span><span class="bar" aria-hidden="true"></span></th>${GOAL_COLUMNS.map(
    ([key, label]) => `<td role="cell" class="${key}" data-label="${label}"></td>`,
  ).join('')}`;
  tr.addEventListener('animationend', () => tr.classList.remove('bump'));
  return tr;
}

// --- <pulse-sparkline> -------------------------------------------------------------------------------

/**
 * Per-minute bars of the timeline, inline SVG. Attributes: value-key (visitors or pageViews), label.
 * `.data`: the timeline array or a realtime view.
 */
export class PulseSparkline extends PulseElement {
  static observedAttributes = ['value-key', 'label'];
  static css = `
    :host { --_h: var(--pulse-sparkline-height, 4rem); }
    figure { margin: 0; }
    svg { display: block; width: 100%; height: var(--_h); overflow: visible; }
    rect { fill: var(--pulse-accent, #6d5dfc); transition: height 400ms ease-out, y 400ms ease-out; }
    rect.zero { fill: var(--pulse-border, color-mix(in srgb, currentColor 18%, transparent)); }
    @media (prefers-reduced-motion: reduce) { rect { transition: none; } }
    figcaption { display: flex; justify-content: space-between; font-size: .8em; margin-top: .25em; font-variant-numeric: tabular-nums; }
  `;
  static html = `
    <figure>
      <svg part="chart" role="img" preserveAspectRatio="none" viewBox="0 0 100 40"></svg>
      <figcaption class="muted" part="caption"><span class="from"></span><span class="peak"></span><span class="to"></span></figcaption>
    </figure>
  `;

  update() {
    const key = this.getAttribute('value-key') ?? 'visitors';
    const d = this.data;
    const points = (Array.isArray(d) ? d : Array.isArray(d?.timeline) ? d.timeline : []).filter((p) => p && typeof p === 'object');
    const svg = this.$('svg');
    const label = this.getAttribute('label') ?? (key === 'pageViews' ? 'Page views per minute' : 'Visitors per minute');
    const values = points.map((p) => Number(p[key]) || 0);
    const max = Math.max(1, ...values);
    const n = Math.max(1, points.length);
    const slot = 100 / n;
    const gap = Math.min(slot * 0.2, 1.5);
    const H = 40;
    svg.innerHTML = points
      .map((p, i) => {
        const v = values[i];
        const h = v === 0 ? 0.8 : Math.max(1.5, (v / max) * H);
        return `<rect class="${v === 0 ? 'zero' : ''}" x="${(i * slot + gap / 2).toFixed(3)}" y="${(H - h).toFixed(3)}" width="${(slot - gap).toFixed(3)}" height="${h.toFixed(3)}"><title>${escapeHtml(minuteLabel(p.minute))}: ${escapeHtml(formatNumber(v))}</title></rect>`;
      })
      .join('');
    svg.setAttribute(
      'aria-label',
      points.length ? `${label}: ${points.map((p, i) => `${minuteLabel(p.minute)} ${values[i]}`).join(', ')}` : `${label}: no data yet`,
    );
    this.$('.from').textContent = points.length ? minuteLabel(points[0].minute) : '';
    this.$('.to').textContent = points.length > 1 ? minuteLabel(points.at(-1).minute) : '';
    this.$('.peak').textContent = points.length ? `peak ${formatNumber(Math.max(0, ...values))}` : '';
  }
}

/** "2026-01-15T10:26" (UTC) → local "10:26" */
function minuteLabel(minute) {
  const t = Date.parse(`${minute}:00Z`);
  if (!Number.isFinite(t)) return String(minute ?? '');
  return new Date(t).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

// --- <pulse-status> ----------------------------------------------------------------------------------

const STATUS_TEXT = {
  live: ['Live', 'Updates are pushed as they happen'],
  polling: ['Polling', 'The live connection is down; refreshing every few seconds'],
  offline: ['Offline', 'The server cannot be reached; retrying'],
  connecting: ['Connecting…', 'Connecting to the server'],
};

/** live / polling / offline. `.data`: the status string or a connectRealtime state. Reflects `status`. */
export class PulseStatus extends PulseElement {
  static css = `
    :host { display: inline-block; }
    span.wrap { display: inline-flex; align-items: center; gap: .45em; font-size: .875rem; font-weight: 600;
      padding: .2em .65em; border-radius: 999px; border: 1px solid var(--pulse-border, color-mix(in srgb, currentColor 20%, transparent)); }
    .dot { width: .6em; height: .6em; border-radius: 50%; background: var(--_c); }
    :host { --_c: var(--pulse-muted, gray); }
    :host([status=live]) { --_c: var(--pulse-live, #16a34a); }
    :host([status=polling]) { --_c: var(--pulse-polling, #d97706); }
    :host([status=offline]) { --_c: var(--pulse-offline, #dc2626); }
    :host([status=live]) .dot { animation: beat 2s ease-in-out infinite; }
    @keyframes beat { 50% { box-shadow: 0 0 0 .3em color-mix(in srgb, var(--_c) 25%, transparent); } }
    @media (prefers-reduced-motion: reduce) { :host([status=live]) .dot { animation: none; } }
  `;
  static html = `<span class="wrap" part="badge" role="status" aria-live="polite"><span class="dot" part="dot"></span><span class="label" part="label">Connecting…</span></span>`;

  select(state) {
    return state ?? null;
  }

  update() {
    const d = this.data;
    const status = typeof d === 'string' ? d : d?.status ?? 'connecting';
    const [text, title] = STATUS_TEXT[status] ?? [status, ''];
    if (this.getAttribute('status') !== status) this.setAttribute('status', status);
    const label = this.$('.label');
    if (label.textContent !== text) label.textContent = text;
    this.$('.wrap').title = title;
  }
}

export function defineAll(registry = globalThis.customElements) {
  if (!registry) return;
  for (const [name, cls] of [
    ['pulse-counter', PulseCounter],
    ['pulse-feed', PulseFeed],
    ['pulse-top-list', PulseTopList],
    ['pulse-goals', PulseGoals],
    ['pulse-sparkline', PulseSparkline],
    ['pulse-status', PulseStatus],
  ]) {
    if (!registry.get(name)) registry.define(name, cls);
  }
}

defineAll();
