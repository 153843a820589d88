/**
 * The verified share: of the `simple` raw-sql findings in the detection fixtures
 * (test/fixtures/detect/typescript/) and the example service (examples/ts-service), how many get
 * a verified Knex rewrite, and why the others do not (grouped reasons). Drivers are resolved
 * across files as the scan resolves them (imports.ts `DriverIndex`: `pool` imported from
 * './pool' is pg); the count without that resolution is printed too. Prints the numbers:
 *
 *   npx mocha out/test/unit/rewrite/share.test.js
 *
 * and fails when the share drops below the floor (a ratchet: raise FLOOR when the share rises).
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { analyzeText } from '../../../server/src/engine/analyze';
import { detectOptions } from '../../../server/src/engine/config';
import { DriverIndex } from '../../../server/src/engine/imports';
import { loadConfig } from '../../../server/src/engine/scan';
import { rewriteActions, transactionRewriteActions, type RewriteOptions } from '../../../server/src/engine/rewrite';
import type { DetectOptions } from '../../../server/src/engine/types';
import { rewriteOptions } from '../../../server/src/rewrite/fix';

const REPO = path.join(__dirname, '..', '..', '..', '..');
/** Verified simple findings must stay at or above this many. */
const FLOOR = Number(process.env.SQLMIGRATE_SHARE_FLOOR ?? 40);

interface Corpus {
  name: string;
  root: string;
  files: string[];
  detect: DetectOptions;
  options: RewriteOptions;
}

function tsFiles(dir: string, base: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...tsFiles(p, base));
    else if (/\.(ts|tsx|js|jsx|mjs|cjs)$/.test(e.name)) out.push(path.relative(base, p).split(path.sep).join('/'));
  }
  return out.sort();
}

function corpora(): Corpus[] {
  const fixtures = path.join(REPO, 'test', 'fixtures', 'detect', 'typescript');
  const examples = path.join(REPO, 'examples');
  const config = loadConfig(examples);
  return [
    {
      name: 'test/fixtures/detect/typescript',
      root: fixtures,
      files: tsFiles(fixtures, fixtures),
      detect: { defaultDialect: 'postgresql', wrappers: [{ callee: 'DB.query', sqlArgument: 0 }], sessionFactories: [] },
      options: { knex: { instance: 'knexDb', import: './knex' }, defaultDialect: 'postgresql', workspaceRoot: fixtures },
    },
    {
      name: 'examples/ts-service',
      root: examples,
      files: tsFiles(path.join(examples, 'ts-service'), examples),
      detect: detectOptions(config),
      options: rewriteOptions(examples, config),
    },
  ];
}

/** A reason without its specifics (names, SQL), so equal causes group together. */
export function reasonGroup(reason: string): string {
  return reason
    .replace(/^not verified: /, 'not verified: ')
    .replace(/ at line \d+/, '')
    .replace(/`[^`]*`/g, '`…`')
    .replace(/'[^']*'/g, "'…'")
    .replace(/\(.*$/s, '')
    .replace(/:\s.*$/s, (m) => (/^not verified/.test(reason) ? m.slice(0, 50) : ''))
    .trim()
    .slice(0, 110);
}

describe('rewrite: verified share of simple raw-sql findings', function () {
  this.timeout(120_000);
  it('prints the share and the reasons, and keeps the share at or above the floor', async () => {
    let simple = 0;
    let verified = 0;
    let verifiedPerFile = 0;
    let transactions = 0;
    let transactionsVerified = 0;
    const reasons = new Map<string, number>();
    for (const c of corpora()) {
      let cs = 0;
      let cv = 0;
      const analysed = [];
      const drivers = new DriverIndex();
      for (const rel of c.files) {
        const text = fs.readFileSync(path.join(c.root, rel), 'utf8');
        const result = await analyzeText(text, rel, c.detect);
        drivers.add(rel, result.driverExports);
        analysed.push({ rel, text, findings: result.findings });
      }
      for (const { rel, text, findings } of analysed) {
        for (const f of findings) {
          if (f.rule === 'manual-transaction') {
            transactions++;
            if (transactionRewriteActions(text, rel, drivers.resolved(rel, f), c.options)[0].verified) transactionsVerified++;
          }
          if (f.rule !== 'raw-sql' || f.complexity !== 'simple') continue;
          cs++;
          if (rewriteActions(text, rel, f, c.options, findings)[0].verified) verifiedPerFile++;
          const resolved = { ...f };
          drivers.resolve(rel, resolved);
          const [builder] = rewriteActions(text, rel, resolved, c.options, findings);
          if (builder.verified) cv++;
          else {
            const g = reasonGroup(builder.reasonNotOffered ?? 'not verified');
            reasons.set(g, (reasons.get(g) ?? 0) + 1);
          }
        }
      }
      console.log(`      ${c.name}: ${cv}/${cs} simple findings get a verified Knex rewrite`);
      simple += cs;
      verified += cv;
    }
    const pct = simple ? Math.round((verified / simple) * 100) : 0;
    console.log(`      verified share: ${verified}/${simple} (${pct}%); without resolving drivers across files: ${verifiedPerFile}/${simple}`);
    console.log(`      hand-written transactions with a verified db.transaction() rewrite: ${transactionsVerified}/${transactions}`);
    for (const [r, n] of [...reasons].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))) console.log(`        ${String(n).padStart(3)}  ${r}`);
    assert.ok(simple > 100, `the corpus shrank to ${simple} simple findings`);
    assert.ok(verified >= FLOOR, `only ${verified} of ${simple} simple findings get a verified rewrite (floor ${FLOOR})`);
  });
});
