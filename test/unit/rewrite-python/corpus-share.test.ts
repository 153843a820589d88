/**
 * The verified share on a realistic corpus: of the `session-legacy-query` findings in
 * test/fixtures/corpus/sqlalchemy-legacy (a Flask-SQLAlchemy site and a plain SQLAlchemy service
 * layer written as 1.3/1.4 applications were, before this was measured), how many the SQLAlchemy
 * 2.0 rewrite removes, and why the others stay (grouped reasons). The fix is applied as
 * `sqlmigrate fix --target sqlalchemy2` applies it (server/src/rewrite/fix.ts `fixPythonTree`):
 * `sqlalchemyFixAll` in passes, re-analysing between passes, so a chain nested in another is
 * rewritten on the next pass. Prints the numbers:
 *
 *   npx mocha out/test/unit/rewrite-python/corpus-share.test.js
 *
 * and fails when the share drops below the floor (a ratchet: raise FLOOR when the share rises),
 * when a rewritten file does not parse or compile under /usr/bin/python3, or when a rescan does
 * not find exactly the rewritten findings gone.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { analyzeText } from '../../../server/src/engine/analyze';
import { detectOptions } from '../../../server/src/engine/config';
import { loadConfig } from '../../../server/src/engine/scan';
import type { DetectOptions, Finding } from '../../../server/src/engine/types';
import { applyTextEdits, pythonParses, sqlalchemyFixAll, sqlalchemyRewriteActions } from '../../../server/src/engine/rewrite/python';
import { compileErrors } from '../../python/run';

const REPO = path.join(__dirname, '..', '..', '..', '..');
const CORPUS = path.join(REPO, 'test', 'fixtures', 'corpus', 'sqlalchemy-legacy');
/** Findings the rewrite removes must stay at or above this many. */
const FLOOR = Number(process.env.SQLMIGRATE_SQLALCHEMY_SHARE_FLOOR ?? 116);
/** As fix.ts: rewrite passes per file. */
const MAX_PASSES = 5;
const RULE = 'session-legacy-query';

function pyFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...pyFiles(p));
    else if (e.name.endsWith('.py')) out.push(path.relative(CORPUS, p).split(path.sep).join('/'));
  }
  return out.sort();
}

async function legacy(text: string, rel: string, detect: DetectOptions): Promise<Finding[]> {
  return (await analyzeText(text, rel, detect)).findings.filter((f) => f.rule === RULE && !f.exception);
}

/**
 * A reason without its specifics (names, code, line numbers), so equal causes group together;
 * a method name (`.yield_per()`) is kept, it is the cause.
 */
export function reasonCategory(reason: string): string {
  return reason
    .replace(/^line \d+: /, '')
    .replace(/ \(line \d+\)| at line \d+/g, '')
    .replace(/`([^`]*)`/g, (m, inner: string) => (/^\.\w+\(\)$/.test(inner) ? m : '`…`'))
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 150);
}

/** `x.query(` calls and `Model.query` attributes as written: what a reader of the corpus counts. */
const TEXTUAL_USE = /\.query\(|\b[A-Za-z_]\w*\.query\b(?!\()/g;

interface FileResult {
  rel: string;
  /** Textual uses (TEXTUAL_USE). */
  uses: number;
  before: number;
  offered: number;
  rewritten: number;
  text: string;
  changed: boolean;
  reasons: string[];
}

async function measure(rel: string, detect: DetectOptions): Promise<FileResult> {
  const original = fs.readFileSync(path.join(CORPUS, rel), 'utf8');
  let findings = await legacy(original, rel, detect);
  const before = findings.length;
  const offered = findings.filter((f) => sqlalchemyRewriteActions(original, rel, f)[0].verified).length;
  let text = original;
  let applied = 0;
  let reasons: string[] = [];
  for (let pass = 0; pass < MAX_PASSES && findings.length; pass++) {
    const fix = sqlalchemyFixAll(text, rel, findings);
    reasons = fix.skipped.map((s) => s.reason);
    if (!fix.applied.length) break;
    const next = applyTextEdits(text, fix.edits);
    assert.ok(pythonParses(next), `${rel}: pass ${pass + 1} produced a file tree-sitter-python cannot parse`);
    applied += fix.applied.length;
    text = next;
    findings = await legacy(text, rel, detect);
  }
  // The rescan: exactly the rewritten findings are gone, and each one left has a reason.
  assert.equal(findings.length, before - applied, `${rel}: a rescan finds ${findings.length} legacy queries; expected ${before - applied}`);
  assert.equal(reasons.length, findings.length, `${rel}: ${findings.length} findings left but ${reasons.length} reasons`);
  const uses = original.split('\n').filter((l) => !/^\s*#/.test(l)).join('\n').match(TEXTUAL_USE)?.length ?? 0;
  return { rel, uses, before, offered, rewritten: applied, text, changed: text !== original, reasons };
}

describe('rewrite-python: verified share of session-legacy-query findings on a realistic corpus', function () {
  this.timeout(120_000);
  it('prints the share and the reasons; rewritten files parse and compile; the share stays at or above the floor', async () => {
    const detect = detectOptions(loadConfig(CORPUS));
    const files = pyFiles(CORPUS);
    const results: FileResult[] = [];
    for (const rel of files) results.push(await measure(rel, detect));
    const total = results.reduce((n, r) => n + r.before, 0);
    const rewritten = results.reduce((n, r) => n + r.rewritten, 0);
    const offered = results.reduce((n, r) => n + r.offered, 0);
    const uses = results.reduce((n, r) => n + r.uses, 0);
    const reasons = new Map<string, number>();
    for (const r of results) for (const x of r.reasons) reasons.set(reasonCategory(x), (reasons.get(reasonCategory(x)) ?? 0) + 1);
    const pct = total ? Math.round((rewritten / total) * 100) : 0;
    for (const r of results) if (r.uses) console.log(`      ${r.rel.padEnd(28)} ${String(r.rewritten).padStart(3)}/${String(r.before).padEnd(3)} findings rewritten (${r.uses} uses of .query in the text)`);
    console.log(`      findings: ${total} of ${uses} textual .query uses (the rest are not reported by ${RULE}, so they are neither rewritten nor counted below)`);
    console.log(`      rewritten: ${rewritten}/${total} (${pct}%); offered as a single quick fix before any pass: ${offered}/${total}`);
    console.log('      why the rest are not rewritten:');
    for (const [r, n] of [...reasons].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))) console.log(`        ${String(n).padStart(3)}  ${r}`);

    const changed = results.filter((r) => r.changed);
    assert.deepEqual(compileErrors(changed.map((r) => ({ name: r.rel, text: r.text }))), [], 'every rewritten file compiles under python3');
    assert.ok(total > 100, `the corpus shrank to ${total} session-legacy-query findings`);
    assert.ok(rewritten >= FLOOR, `only ${rewritten} of ${total} findings are rewritten (floor ${FLOOR})`);
  });
});
