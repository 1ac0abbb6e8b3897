import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { COMPAT_SOURCE } from '../test-helpers/tracker-sandbox.mjs';

const publicDir = new URL('../public/', import.meta.url);
const gzipped = (name) => gzipSync(readFileSync(new URL(name, publicDir)), { level: 9 }).length;

// 1,500 until the tracker retried 429s with backoff, jitter and Retry-After (+105 bytes): a hit lost to
// throttling costs more than those bytes do.
const TRACKER_BUDGET = 1600;

test('the tracker stays within its budget, gzipped', (t) => {
  const size = gzipped('script.js');
  t.diagnostic(`script.js: ${size} bytes gzipped (zlib level 9; gzip -9c adds the file name)`);
  assert.ok(size <= TRACKER_BUDGET, `script.js is ${size} bytes gzipped`);
});

test('the ts-analytics tracker (compat/tracker.js with the tracker included) adds at most 600 bytes', (t) => {
  const size = gzipSync(COMPAT_SOURCE, { level: 9 }).length;
  t.diagnostic(`sites/{siteId}/tracker.js: ${size} bytes gzipped`);
  assert.ok(size <= gzipped('script.js') + 600, `the compat tracker is ${size} bytes gzipped`);
});

test('the dashboard transfer size is reported', (t) => {
  // Every file the page loads: its own three and the modules (format.js through the other two).
  const files = ['dashboard.html', 'dashboard.css', 'dashboard.js', 'components.js', 'realtime.js', 'format.js'];
  const total = files.reduce((sum, f) => sum + gzipped(f), 0);
  t.diagnostic(`dashboard (${files.join(' + ')}): ${total} bytes gzipped`);
  assert.ok(total < 30_000, `dashboard is ${total} bytes gzipped`);
});

test('public/ holds only what browsers are served', () => {
  // The client package's manifest and declarations too (realtime.d.ts lets URL importers get types).
  assert.deepEqual(readdirSync(publicDir).sort(), [
    'components.d.ts',
    'components.js',
    'dashboard.css',
    'dashboard.html',
    'dashboard.js',
    'format.d.ts',
    'format.js',
    'package.json',
    'realtime.d.ts',
    'realtime.js',
    'script.js',
  ]);
});
