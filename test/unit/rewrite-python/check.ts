/**
 * The only way the SQLAlchemy rewrite tests touch the rewriter (the Knex helpers' shape,
 * test/unit/rewrite/check.ts):
 *
 *   check(before, after, fileName)          every verified rewrite applied → after; after parses
 *                                           with tree-sitter-python, and a rescan finds exactly
 *                                           the rewritten chains gone
 *   checkNotApplicable(src, reason, file)   no rewrite offered for any finding; the reason says why
 */
import * as assert from 'node:assert/strict';
import { analyzeText, initEngine } from '../../../server/src/engine/analyze';
import { loadedPython, parseSafely } from '../../../server/src/engine/detect/python/parser';
import type { DetectOptions, Finding } from '../../../server/src/engine/types';
import { applyTextEdits, sqlalchemyFixAll, sqlalchemyRewriteActions, type SqlalchemyRewriteOptions } from '../../../server/src/engine/rewrite/python';

export const DETECT: DetectOptions = { defaultDialect: 'sqlite', wrappers: [], sessionFactories: ['get_session'] };

export async function legacyFindings(text: string, fileName: string): Promise<Finding[]> {
  const r = await analyzeText(text, fileName, DETECT);
  return r.findings.filter((f) => f.rule === 'session-legacy-query');
}

/** Syntax errors (ERROR and MISSING nodes) tree-sitter-python finds in the text. */
export async function pythonSyntaxErrors(text: string): Promise<string[]> {
  await initEngine();
  if (!loadedPython()) throw new Error('the Python parser did not load');
  const { tree } = parseSafely(text);
  if (!tree) return ['no tree'];
  try {
    const out: string[] = [];
    const stack = [tree.rootNode];
    while (stack.length) {
      const n = stack.pop()!;
      if (n.isError || n.isMissing) out.push(`${n.isMissing ? 'missing' : 'unexpected'} ${n.type} at ${n.startPosition.row + 1}:${n.startPosition.column + 1}`);
      if (!n.hasError && !n.isMissing) continue;
      for (let i = 0; i < n.childCount; i++) {
        const c = n.child(i);
        if (c) stack.push(c);
      }
    }
    return out;
  } finally {
    tree.delete();
  }
}

/** Applies every verified rewrite of the file. */
export async function rewriteAll(before: string, fileName: string, options: SqlalchemyRewriteOptions = {}): Promise<{ text: string; applied: number; skipped: string[]; findings: number }> {
  const findings = await legacyFindings(before, fileName);
  const fix = sqlalchemyFixAll(before, fileName, findings, options);
  return { text: applyTextEdits(before, fix.edits), applied: fix.applied.length, skipped: fix.skipped.map((s) => s.reason), findings: findings.length };
}

export async function check(before: string, after: string, fileName: string, options: SqlalchemyRewriteOptions = {}): Promise<void> {
  const { text, applied, findings } = await rewriteAll(before, fileName, options);
  assert.equal(text, after);
  assert.ok(applied > 0, 'no rewrite was applied');
  assert.deepEqual(await pythonSyntaxErrors(text), [], 'the rewritten file must parse');
  const again = await legacyFindings(text, fileName);
  assert.equal(again.length, findings - applied, `a rescan finds ${again.length} legacy queries; expected ${findings - applied}`);
}

export async function checkNotApplicable(src: string, reason: string, fileName: string, options: SqlalchemyRewriteOptions = {}): Promise<void> {
  const findings = await legacyFindings(src, fileName);
  assert.ok(findings.length > 0, 'the fixture holds no session-legacy-query finding');
  for (const f of findings) {
    const [action] = sqlalchemyRewriteActions(src, fileName, f, options);
    assert.equal(action.verified, false, `a rewrite was offered at line ${f.range.start.line + 1}: ${action.rendered}`);
    assert.deepEqual(action.edits, []);
    assert.ok(action.reasonNotOffered?.includes(reason), `reason "${action.reasonNotOffered}" does not mention "${reason}"`);
  }
}
