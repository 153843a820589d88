#!/usr/bin/env node
'use strict';
/**
 * Runs every test tier and ends with one line `N passed, N failed` totalling them all
 * (CI reads that line, not mocha's own summary). Tiers:
 *   unit  — engine, CLI and fixture tables (mocha, in this process)
 *   lsp   — the ledger, and the language server driven over stdio (mocha, in this process)
 *   e2e   — the extension in a real VS Code (code-server + Chromium; see test/e2e/run.ts)
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
  process.exitCode = failed > 0 || passed === 0 ? 1 : 0;
})();
