// The TypeScript declarations of realtime.js, format.js and components.js, and the package they ship
// in (web/public/package.json). Needs `npm ci --prefix web` (TypeScript); skipped without it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ts = (await import('typescript').catch(() => null))?.default;
const skip = ts ? false : 'TypeScript is not installed: npm ci --prefix web';
const publicDir = fileURLToPath(new URL('../public/', import.meta.url));
const consumer = fileURLToPath(new URL('fixtures/consumer.ts', import.meta.url));

// What `tsc --noEmit --strict` does, for a browser project: DOM types, no @types packages.
const options = () => ({
  noEmit: true,
  strict: true,
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
  lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'],
  types: [],
});

function check(files, compilerOptions = options()) {
  const program = ts.createProgram(files, compilerOptions);
  const messages = ts
    .getPreEmitDiagnostics(program)
    .map((d) => `${d.file ? `${d.file.fileName}:${d.file.getLineAndCharacterOfPosition(d.start).line + 1}: ` : ''}${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
  return { program, messages };
}

const MODULES = ['realtime', 'format', 'components'];

// One program for the consumer and the declaration files: the DOM's types take seconds to check.
let checked;
const consumerProgram = () => (checked ??= check([consumer, ...MODULES.map((name) => join(publicDir, `${name}.d.ts`))]));

test('a strict TypeScript consumer type-checks, and each misuse it marks is an error', { skip }, () => {
  // An unused @ts-expect-error is itself an error, so loose declarations fail here too.
  assert.deepEqual(consumerProgram().messages, []);
});

test('the declarations name exactly the values each module exports', { skip }, async () => {
  const { program } = consumerProgram();
  const checker = program.getTypeChecker();
  for (const name of MODULES) {
    const source = program.getSourceFile(join(publicDir, `${name}.d.ts`));
    const declared = checker
      .getExportsOfModule(checker.getSymbolAtLocation(source))
      // Interfaces and types have no runtime export. A re-export (realtime.d.ts's of format.d.ts) is an
      // alias, which counts as what it names.
      .filter((symbol) => (symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol).flags & ts.SymbolFlags.Value)
      .map((symbol) => symbol.name)
      .sort();
    const actual = Object.keys(await import(`../public/${name}.js`)).sort();
    assert.deepEqual(declared, actual, `${name}.d.ts against ${name}.js`);
  }
});

function pack(args) {
  return JSON.parse(execFileSync('npm', ['pack', '--json', ...args], { cwd: publicDir, encoding: 'utf8' }))[0];
}

test('the package holds the modules, their declarations and its manifest, nothing else', { skip }, () => {
  const { name, files } = pack(['--dry-run']);
  assert.equal(name, '@pulse-analytics/client');
  assert.deepEqual(files.map((f) => f.path).sort(), [
    'components.d.ts',
    'components.js',
    'format.d.ts',
    'format.js',
    'package.json',
    'realtime.d.ts',
    'realtime.js',
  ]);
});

test('installed from its tarball, the package type-checks by its own names', { skip, timeout: 120_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'pulse-client-'));
  try {
    const { filename } = pack(['--pack-destination', dir]);
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
    execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', '--loglevel=error', join(dir, filename)], { cwd: dir });
    const file = join(dir, 'app.ts');
    writeFileSync(
      file,
      [
        "import { connectRealtime, type RealtimeView } from '@pulse-analytics/client';",
        "import { PulseCounter } from '@pulse-analytics/client/components';",
        "import { formatRate, goalRows, type GoalRow } from '@pulse-analytics/client/format';",
        "const live = connectRealtime({ siteId: 'my-site' });",
        'const view: RealtimeView | null = live.data;',
        "const rows: GoalRow[] = goalRows(view, 'en').rows;",
        'console.log(rows, formatRate(view?.goals[0]?.conversionRate));',
        "const counter: PulseCounter | null = document.querySelector('pulse-counter');",
        'if (counter) counter.source = live;',
        'console.log(view);',
        '// @ts-expect-error the package is typed, not any',
        "connectRealtime({ siteId: 1 });",
        '// @ts-expect-error formatRate takes a number',
        "formatRate('7%');",
      ].join('\n'),
    );
    // Both resolutions TypeScript projects use: Node's (exports and types conditions) and bundlers'.
    for (const moduleResolution of [ts.ModuleResolutionKind.NodeNext, ts.ModuleResolutionKind.Bundler]) {
      const module = moduleResolution === ts.ModuleResolutionKind.Bundler ? ts.ModuleKind.ESNext : ts.ModuleKind.NodeNext;
      const { messages } = check([file], { ...options(), module, moduleResolution });
      assert.deepEqual(messages, [], `moduleResolution ${ts.ModuleResolutionKind[moduleResolution]}`);
    }
    // And it runs in Node as installed (components.js defines nothing without customElements).
    const run = [
      "Promise.all(['@pulse-analytics/client', '@pulse-analytics/client/components', '@pulse-analytics/client/format'].map((m) => import(m)))",
      '.then(([m, c, f]) => console.log(typeof m.connectRealtime, typeof c.defineAll, typeof f.formatRate, m.formatRate === f.formatRate))',
    ].join('');
    assert.equal(execFileSync(process.execPath, ['-e', run], { cwd: dir, encoding: 'utf8' }).trim(), 'function function function true');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the manifest points at files that exist', { skip }, () => {
  const manifest = JSON.parse(readFileSync(join(publicDir, 'package.json'), 'utf8'));
  for (const target of Object.values(manifest.exports).flatMap((e) => (typeof e === 'string' ? [e] : Object.values(e)))) {
    assert.doesNotThrow(() => readFileSync(join(publicDir, target)), target);
  }
});
