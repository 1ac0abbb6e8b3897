// Pulse display helpers: how the realtime API's figures, paths, countries and feed entries read on
// screen. Pure functions, no dependencies; the components use them, and so can any other view of the
// data. realtime.js re-exports them, so imports from there keep working.

const hexValue = (c) => parseInt(c, 16);

/** Decodes percent-encoded UTF-8 for display (`/blog/%C3%BCn%C3%AFcode` → `/blog/ünïcode`). Bytes that
 *  are not part of a valid UTF-8 sequence stay encoded as they were, and so do control characters. */
export function decodePath(path) {
  if (typeof path !== 'string' || !path.includes('%')) return path;
  return path.replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => {
    const texts = run.match(/%[0-9A-Fa-f]{2}/g);
    const bytes = texts.map((t) => hexValue(t.slice(1)));
    let out = '';
    for (let i = 0; i < bytes.length; ) {
      const b = bytes[i];
      let len = 0, min = 0, cp = 0;
      if (b < 0x80) { len = 1; cp = b; }
      else if (b >= 0xc2 && b <= 0xdf) { len = 2; cp = b & 0x1f; min = 0x80; }
      else if (b >= 0xe0 && b <= 0xef) { len = 3; cp = b & 0x0f; min = 0x800; }
      else if (b >= 0xf0 && b <= 0xf4) { len = 4; cp = b & 0x07; min = 0x10000; }
      let ok = len > 0 && i + len <= bytes.length;
      for (let k = 1; ok && k < len; k++) {
        const c = bytes[i + k];
        if ((c & 0xc0) !== 0x80) ok = false;
        else cp = (cp << 6) | (c & 0x3f);
      }
      // Overlong forms, surrogates, beyond U+10FFFF and control characters are not decoded.
      if (ok && (cp < min || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff || cp < 0x20 || cp === 0x7f)) ok = false;
      if (ok) {
        out += String.fromCodePoint(cp);
        i += len;
      } else {
        out += texts[i];
        i += 1;
      }
    }
    return out;
  });
}

/** 'DE' → 🇩🇪 (regional indicator letters); '' for anything that is not two letters. */
export function countryFlag(code) {
  if (typeof code !== 'string' || !/^[A-Za-z]{2}$/.test(code)) return '';
  return String.fromCodePoint(...[...code.toUpperCase()].map((c) => 0x1f1e6 + c.charCodeAt(0) - 65));
}

const displayNames = new Map();
/** 'DE' → 'Germany' in the given (or the browser's) language; the code itself if unknown. */
export function countryName(code, locale) {
  if (typeof code !== 'string' || !code) return '';
  try {
    const key = locale ?? '';
    if (!displayNames.has(key)) displayNames.set(key, new Intl.DisplayNames(locale ? [locale] : undefined, { type: 'region' }));
    return displayNames.get(key).of(code.toUpperCase()) ?? code;
  } catch {
    return code;
  }
}

/** '12 s ago', '3 min ago', '2 h ago'. */
export function formatAgo(timestamp, now = Date.now()) {
  const t = typeof timestamp === 'number' ? timestamp : Date.parse(timestamp);
  if (!Number.isFinite(t)) return '';
  const s = Math.max(0, Math.floor((now - t) / 1000));
  if (s < 1) return 'just now';
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

export function hostOf(url) {
  try {
    return new URL(url).host;
  } catch {
    return String(url ?? '');
  }
}

const numberFormat = new Intl.NumberFormat();
export const formatNumber = (n) => (Number.isFinite(n) ? numberFormat.format(n) : '–');

const formats = new Map();
// Intl.NumberFormat is costly to build: one per locale and style.
function numberFormatFor(locale, options) {
  const key = `${locale ?? ''}|${JSON.stringify(options)}`;
  if (!formats.has(key)) formats.set(key, new Intl.NumberFormat(locale, options));
  return formats.get(key);
}

/** A conversion rate as a percentage: 0.07 → '7%', 0.0667 → '6.7%'; a rate too small to show as
 *  0.1% is '<0.1%' rather than a misleading '0%'; '–' when not a number. */
export function formatRate(rate, locale) {
  if (typeof rate !== 'number' || !Number.isFinite(rate) || rate < 0) return '–';
  const percent = numberFormatFor(locale, { style: 'percent', maximumFractionDigits: 1 });
  if (rate > 0 && rate < 0.0005) return `<${percent.format(0.001)}`;
  return percent.format(rate);
}

/** A goal's summed value, to two decimals at most (sums of prices like 19.99 carry float noise);
 *  '–' for 0, which is what the API reports for a goal without values. */
export function formatGoalValue(value, locale) {
  if (typeof value !== 'number' || !Number.isFinite(value) || value === 0) return '–';
  return numberFormatFor(locale, { maximumFractionDigits: 2 }).format(value);
}

/** The goals panel: the view's `goals` (or the array itself) as display rows, in the API's order,
 *  and whether any goal has a value (the value column is shown only then). */
export function goalRows(goals, locale) {
  const list = (Array.isArray(goals) ? goals : Array.isArray(goals?.goals) ? goals.goals : []).filter(
    (g) => g && typeof g === 'object' && g.goal != null,
  );
  const count = (n) => (Number.isFinite(n) ? numberFormatFor(locale, {}).format(n) : '–');
  const rows = list.map((g) => {
    const rate = Number.isFinite(g.conversionRate) ? g.conversionRate : null;
    return {
      goal: String(g.goal),
      conversions: count(g.conversions),
      visitors: count(g.visitors),
      value: formatGoalValue(g.value, locale),
      rate: formatRate(rate, locale),
      share: rate == null ? 0 : Math.min(1, Math.max(0, rate)), // for the rate bar
      source: g,
    };
  });
  const showValue = list.some((g) => typeof g.value === 'number' && Number.isFinite(g.value) && g.value !== 0);
  return { rows, showValue };
}

/** What a feed row shows: an icon, the main text and a secondary line. */
export function describeFeedEntry(entry) {
  const path = entry?.path != null ? decodePath(entry.path) : '';
  const withValue = (text) => (entry.value != null && Number.isFinite(entry.value) ? `${text} (${formatNumber(entry.value)})` : text);
  switch (entry?.type) {
    case 'pageview':
      return { icon: '📄', kind: 'Page view', text: path, detail: entry.referrer ? `from ${entry.referrer}` : '' };
    case 'event':
      return { icon: '⚡', kind: 'Event', text: withValue(entry.name ?? ''), detail: path ? `on ${path}` : '' };
    case 'outbound':
      return { icon: '↗', kind: 'Outbound link', text: hostOf(entry.url), detail: path ? `from ${path}` : '' };
    case 'goal':
      // Page goals carry the page's path, event goals the event's name.
      return {
        icon: '🎯',
        kind: 'Goal',
        text: withValue(`Goal completed: ${entry.goal ?? entry.name ?? ''}`),
        detail: path ? `on ${path}` : entry.goal != null && entry.name ? `event ${entry.name}` : '',
      };
    default:
      return { icon: '•', kind: String(entry?.type ?? 'Event'), text: path || String(entry?.name ?? ''), detail: '' };
  }
}
