// The dashboard's script: a file of its own, not an inline <script>, so that its
// Content-Security-Policy allows scripts from 'self' only.
import './components.js';
import { connectRealtime } from './realtime.js';

const $ = (id) => document.querySelector(`[data-testid="${id}"]`);
const WINDOWS = [1, 5, 30];
// The API is where this page is, base path included: {base}/dashboard → {base}/sites/…, {base}/config.json.
const API = new URL('.', location.href).href.replace(/\/$/, '');
let connection = null;
let firstNumber = false;

// #site=demo&token=…&minutes=5. Read here only: the fragment never reaches the server or the logs.
function readFragment() {
  const params = new URLSearchParams(location.hash.slice(1));
  const minutes = Number(params.get('minutes'));
  return {
    site: params.get('site')?.trim() || '',
    token: params.get('token') ?? '',
    minutes: WINDOWS.includes(minutes) ? minutes : 5,
  };
}

function writeFragment({ site, token, minutes }, { replace = false } = {}) {
  const params = new URLSearchParams({ site });
  if (token) params.set('token', token);
  if (minutes !== 5) params.set('minutes', String(minutes));
  const hash = `#${params}`;
  if (replace) history.replaceState(history.state, '', hash);
  else location.hash = hash; // fires hashchange → start()
}

function showSetup(site = '', message = '') {
  connection?.stop();
  connection = null;
  $('board').hidden = true;
  $('window').hidden = true;
  $('status').hidden = true;
  $('change-site').hidden = true;
  $('site-name').textContent = '';
  showError(message);
  $('setup').hidden = false;
  const form = $('setup-form');
  form.site.value = site;
  form.token.value = '';
  (site ? form.token : form.site).focus();
  document.title = 'Pulse · realtime';
}

function showError(message, { warn = false } = {}) {
  const box = $('error');
  box.textContent = message;
  box.classList.toggle('warn', warn);
  box.hidden = !message;
}

function start() {
  const { site, token, minutes } = readFragment();
  connection?.stop();
  connection = null;
  if (!site) return showSetup();

  $('setup').hidden = true;
  $('board').hidden = false;
  $('window').hidden = false;
  $('status').hidden = false;
  $('change-site').hidden = false;
  $('site-name').textContent = site;
  document.querySelector(`input[name=minutes][value="${minutes}"]`).checked = true;
  showError('');

  connection = connectRealtime({ baseUrl: API, siteId: site, token, minutes, events: 50 });
  for (const el of document.querySelectorAll('[data-source]')) el.source = connection;
  const current = connection;
  current.subscribe((state) => {
    if (current !== connection) return;
    const visitors = state.data?.currentVisitors;
    if (typeof visitors === 'number') {
      document.title = `${visitors} now · ${site} · Pulse`;
      if (!firstNumber) {
        firstNumber = true;
        performance.mark('pulse:first-number');
      }
    }
    const error = state.error;
    if (!error) return showError('');
    if (error.status === 401 || error.status === 404) {
      // Retrying cannot fix these: ask again.
      const message = error.status === 401
        ? `The token was not accepted for site “${site}”.`
        : `There is no site “${site}”.`;
      queueMicrotask(() => showSetup(site, message));
      return;
    }
    const what = error.status === 0 ? 'The server cannot be reached' : error.status === 503 ? 'The data store is unavailable' : `The server answered ${error.status}`;
    showError(`${what}; retrying.${state.data ? ' The numbers shown may be stale.' : ''}`, { warn: !!state.data });
  });
}

$('setup-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  if (!form.reportValidity()) return;
  const site = form.site.value.trim();
  const token = form.token.value.trim();
  const before = location.hash;
  writeFragment({ site, token, minutes: readFragment().minutes });
  // The same fragment as before (a retry after a rejected token) fires no hashchange.
  if (location.hash === before) start();
});

$('window').addEventListener('change', (event) => {
  const minutes = Number(event.target.value);
  const state = readFragment();
  writeFragment({ ...state, minutes }, { replace: true });
  connection?.update({ minutes });
});

$('change-site').addEventListener('click', () => showSetup(readFragment().site));
addEventListener('hashchange', start);
start();
