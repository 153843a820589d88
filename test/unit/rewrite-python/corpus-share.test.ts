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
import { compileErrors } from '../../python/run';
import { corpusDetectOptions, corpusFiles, RULE, rewriteCorpusFile, type RewrittenFile } from './corpus';

/** Findings the rewrite removes must stay at or above this many. */
const FLOOR = Number(process.env.SQLMIGRATE_SQLALCHEMY_SHARE_FLOOR ?? 155);

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

/** `x.query(` calls and `Model.query` attributes as written (comment lines aside): what a reader of the corpus counts. */
function textualUses(text: string): number {
  return text.split('\n').filter((l) => !/^\s*#/.test(l)).join('\n').match(/\.query\(|\b[A-Za-z_]\w*\.query\b(?!\()/g)?.length ?? 0;
}

describe('rewrite-python: verified share of session-legacy-query findings on a realistic corpus', function () {
  this.timeout(120_000);
  it('prints the share and the reasons; rewritten files parse and compile; the share stays at or above the floor', async () => {
    const detect = corpusDetectOptions();
    const results: RewrittenFile[] = [];
    for (const rel of corpusFiles()) results.push(await rewriteCorpusFile(rel, detect));
    const sum = (f: (r: RewrittenFile) => number) => results.reduce((n, r) => n + f(r), 0);
    const total = sum((r) => r.before.length);
    const rewritten = sum((r) => r.rewritten);
    const offered = sum((r) => r.offered);
    const uses = sum((r) => textualUses(r.original));
    const reasons = new Map<string, number>();
    for (const r of results) for (const x of r.reasons) reasons.set(reasonCategory(x), (reasons.get(reasonCategory(x)) ?? 0) + 1);
    const pct = total ? Math.round((rewritten / total) * 100) : 0;
    for (const r of results) {
      const n = textualUses(r.original);
      if (n) console.log(`      ${r.rel.padEnd(28)} ${String(r.rewritten).padStart(3)}/${String(r.before.length).padEnd(3)} findings rewritten (${n} uses of .query in the text)`);
    }
    console.log(`      findings: ${total} of ${uses} textual .query uses (the rest are not reported by ${RULE}, so they are neither rewritten nor counted below)`);
    console.log(`      rewritten: ${rewritten}/${total} (${pct}%); offered as a single quick fix before any pass: ${offered}/${total}`);
    console.log('      why the rest are not rewritten:');
    for (const [r, n] of [...reasons].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))) console.log(`        ${String(n).padStart(3)}  ${r}`);

    const changed = results.filter((r) => r.text !== r.original);
    assert.deepEqual(compileErrors(changed.map((r) => ({ name: r.rel, text: r.text }))), [], 'every rewritten file compiles under python3');
    assert.ok(total > 100, `the corpus shrank to ${total} session-legacy-query findings`);
    assert.ok(rewritten >= FLOOR, `only ${rewritten} of ${total} findings are rewritten (floor ${FLOOR})`);
  });
});
