/* Pulse for sites that embed ts-analytics' snippet, served as {base}/sites/{siteId}/tracker.js: the
 * Pulse tracker, configured from this script's own URL, with ts-analytics' window.sa mapped onto it. */
(() => {
  let s = document.currentScript,
    m = s && /^(.*)\/sites\/([^/?#]+)\/tracker\.js(?:[?#].*)?$/.exec(s.src);
  if (!m) return;
  // The snippet's <script> has no attributes: the tracker below reads these. Localhost is not skipped,
  // as ts-analytics' tracker did not skip it; collect still accepts only the site's domains.
  for (let [k, v] of [['site', decodeURIComponent(m[2])], ['api', m[1]], ['allow-localhost', '']])
    if (s.getAttribute('data-' + k) == null) s.setAttribute('data-' + k, v);
})();
//@include script.js
(() => {
  let w = window,
    q = w.sa?.q || [];
  // 'init', 'identify', 'setProperty' and 'debug' do nothing: the site comes from the URL, and Pulse
  // identifies no one. A page title given to trackPageView is not sent: the document's is.
  w.sa = (c, a, props, category, value) => {
    if (c == 'track' || c == 'trackPageView') w.pulse('pageview', a);
    else if (c == 'event' || c == 'trackEvent')
      w.pulse('event', a, { value, props: category == null ? props : { ...props, category } });
  };
  for (let x of q) w.sa(...x);
})();
