/* Pulse tracker: what it sends and why is in web/README.md. */
((w, d, n, l, h) => {
  let s = d.currentScript,
    a = k => s && s.getAttribute('data-' + k),
    site = a('site'),
    q = w.pulse?.q || [];
  w.pulse = () => {};
  if (!site || /1|yes/.test(n.doNotTrack || w.doNotTrack || n.msDoNotTrack) || n.globalPrivacyControl ||
    (a('allow-localhost') == null && /^(localhost|127\.0\.0\.1|\[::1])$/.test(l.hostname))) return;

  // {base}/script.js → {base}/collect
  let api = (a('api') || new URL('.', s.src).href).replace(/\/$/, '') + '/collect',
    hash = a('hash') != null,
    ex = RegExp('^(' + (a('exclude') || '').split(',').map(p => p.trim().replace(/\W/g, '\\$&')).join('|').replace(/\\\*/g, '.*') + ')$'),
    last, time = 0;

  // A burst within 1 ms borrows the next ms: ids sort in creation order.
  let uuid7 = () => {
    let x = (time = Math.max(Date.now(), time + 1)).toString(16).padStart(12, '0'),
      r = crypto.getRandomValues(new Uint8Array(19)), i = 0;
    return (x.slice(0, 8) + '-' + x.slice(8) + '-7xxx-yxxx-xxxxxxxxxxxx')
      .replace(/[xy]/g, c => (c > 'x' ? r[i++] & 3 | 8 : r[i++] & 15).toString(16));
  };

  let send = (e, p, leaving, u) => {
    if (ex.test(l.pathname)) return;
    let b = JSON.stringify({
        s: site, e, u: u || l.href, r: d.referrer || void 0, t: d.title.slice(0, 300),
        sw: screen.width, sh: screen.height, p, id: uuid7()
      }),
      // 429, 503, no answer: 3 retries, Retry-After (≤ 30 s) + full jitter
      go = k => fetch(api, { method: 'POST', body: b, keepalive: true })
        .then(r => (r.status == 429 || r.status == 503) && retry(k, r.headers.get('retry-after')), () => retry(k)),
      retry = (k, t) => k < 3 && setTimeout(go, Math.min(t > 0 ? t : 0, 30) * 1e3 + Math.random() * 1e3 * 2 ** k, k + 1);
    if ((leaving || !w.fetch) && n.sendBeacon?.(api, b) || !w.fetch) return;
    go(0);
  };

  let page = () => {
    let path = l.pathname + (hash ? l.hash : '');
    if (path != last) {
      last = path;
      send('pageview');
    }
  };
  for (let k of ['pushState', 'replaceState']) {
    let f = h[k];
    h[k] = (...x) => (f.apply(h, x), page());
  }
  w.addEventListener('popstate', page);
  hash && w.addEventListener('hashchange', page);

  // Capture phase: a page's stopPropagation must not hide the click.
  ['click', 'auxclick'].forEach(k => d.addEventListener(k, e => {
    let t = e.target.closest?.('a[href]');
    if (t && t.host != l.host && /^http/.test(t.protocol) && e.button < 2)
      send('outbound', { url: t.href }, 1);
  }, true));

  // pulse('pageview', path?): a page view now, of a virtual path if given.
  w.pulse = (c, name, o = {}) => c == 'pageview'
    ? send(c, void 0, 0, name && new URL(name, l).href)
    : c == 'event' && name && send(c, { ...o.props, name, value: typeof o.value == 'number' ? o.value : void 0 });
  page();
  q.forEach(x => w.pulse(...x));
})(window, document, navigator, location, history);
