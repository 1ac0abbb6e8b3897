import { test } from 'node:test';
import assert from 'node:assert/strict';

// The elements themselves are exercised in Chromium by web/e2e; here only what holds without a DOM.
test('components.js loads outside a browser and defines the six elements on demand', async () => {
  const module = await import('../public/components.js');
  const defined = new Map([['pulse-status', class {}]]);
  const registry = { get: (name) => defined.get(name), define: (name, cls) => defined.set(name, cls) };
  module.defineAll(registry);
  assert.deepEqual([...defined.keys()].sort(), ['pulse-counter', 'pulse-feed', 'pulse-goals', 'pulse-sparkline', 'pulse-status', 'pulse-top-list']);
  assert.equal(defined.get('pulse-counter'), module.PulseCounter);
  assert.notEqual(defined.get('pulse-status'), module.PulseStatus, 'an element defined already is left alone');
  module.defineAll(undefined); // no registry (Node): nothing to do
});
