#!/usr/bin/env node
'use strict';
/**
 * Runs every test tier and ends with one line `N passed, N failed` totalling them all
 * (CI reads that line, not mocha's own summary). Tiers:
 *   unit  — engine, CLI and fixture tables (mocha, in this process)
 *   lsp   — the ledger, and the language server driven over stdio (mocha, in this process)
 *   equivalence — Knex rewrites executed next to the original SQL on SQLite (better-sqlite3) and
 *         PostgreSQL (PGlite): fixtures + a 2,000-statement property test per dialect
 *         (SQLMIGRATE_PROPERTY_RUNS=20000 for a longer run)
 *   e2e   — the packaged .vsix in a real VS Code (code-server + Chromium or test-electron; test/e2e/run.ts)
 *   python — SQLAlchemy 2.0 rewrites executed next to the original Python code (Debian's python3-sqlalchemy)
 *   reliability — edit safety, fuzzing, the language-server soak, kill tests on ledger writes
 *   browser — the burndown webview page in Debian's Chromium (playwright-core; test/browser/)
 * Usage: node test/run.js [tier ...]   (default: all tiers)
 */
const path = require('node:path');
const { Mocha } = require('mocha');

const root = path.join(__dirname, '..');

function runMocha(tier, pattern) {
  return new Promise((resolve) => {
    const mocha = new Mocha({ timeout: 120000, reporter: 'spec' });
    const glob = require('node:fs');
    const dir = path.join(root, 'out', 'test', pattern);
    const files = [];
    if (!glob.existsSync(dir)) {
      console.error(`tier ${tier}: no tests built under ${path.relative(root, dir)}`);
      return resolve({ tier, passed: 0, failed: 1 });
    }
    (function walk(d) {
      for (const e of glob.readdirSync(d, { withFileTypes: true })) {
        const p = path.join(d, e.name);
        if (e.isDirectory()) walk(p);
        else if (e.name.endsWith('.test.js')) files.push(p);
      }
    })(dir);
    files.sort().forEach((f) => mocha.addFile(f));
    let passed = 0;
    let failed = 0;
    const runner = mocha.run(() => resolve({ tier, passed, failed }));
    runner.on('pass', () => passed++);
    runner.on('fail', () => failed++);
  });
}

const TIERS = {
  unit: () => runMocha('unit', 'unit'),
  lsp: () => runMocha('lsp', 'lsp'),
  equivalence: () => runMocha('equivalence', 'equivalence'),
  python: () => runMocha('python', 'python'),
  reliability: () => runMocha('reliability', 'reliability'),
  browser: () => runMocha('browser', 'browser'),
  e2e: async () => {
    try {
      return await require(path.join(root, 'out', 'test', 'e2e', 'run.js')).runE2eTier();
    } catch (e) {
      console.error(`e2e runner failed: ${(e && e.stack) || e}`);
      return { tier: 'e2e', passed: 0, failed: 1 };
    }
  },
};

(async () => {
  const wanted = process.argv.slice(2);
  const names = wanted.length ? wanted : Object.keys(TIERS);
  let passed = 0;
  let failed = 0;
  for (const name of names) {
    if (!TIERS[name]) {
      console.error(`unknown tier ${name}; tiers: ${Object.keys(TIERS).join(', ')}`);
      process.exit(2);
    }
    const r = await TIERS[name]();
    console.log(`tier ${r.tier}: ${r.passed} passed, ${r.failed} failed`);
    passed += r.passed;
    failed += r.failed;
  }
  console.log(`${passed} passed, ${failed} failed`);
  // Exit explicitly: a tier that leaves a handle open (a pool, a PGlite instance, a watcher)
  // must not keep CI waiting after the totals are printed.
  process.exit(failed > 0 || passed === 0 ? 1 : 0);
})();
