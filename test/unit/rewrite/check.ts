/**
 * The only way the rewrite tests touch the rewriter (rust-analyzer's check_assist style):
 *
 *   check(before, after, fileName)          every verified builder rewrite applied → after;
 *                                           after parses, and a rescan no longer finds them
 *   checkNotApplicable(src, reason, file)   no builder rewrite offered; the reason says why
 *
 * `after === undefined` with UPDATE_GOLDEN=1 means "write it": checkFixture refreshes outputs.
 */
import * as assert from 'node:assert/strict';
import * as ts from 'typescript';
import { analyzeText } from '../../../server/src/engine/analyze';
import type { DetectOptions, Finding } from '../../../server/src/engine/types';
import { applyEdits, fixAll, rewriteActions, transactionFixAll, transactionRewriteActions, type RewriteOptions } from '../../../server/src/engine/rewrite';

export const DETECT: DetectOptions = {
  defaultDialect: 'postgresql',
  wrappers: [{ callee: 'DB.query', sqlArgument: 0 }],
  sessionFactories: [],
};

export const OPTIONS: RewriteOptions = { knex: { instance: 'db', import: './db' }, defaultDialect: 'postgresql' };

export async function rawFindings(text: string, fileName: string): Promise<Finding[]> {
  const r = await analyzeText(text, fileName, DETECT);
  return r.findings.filter((f) => f.rule === 'raw-sql');
}

export function parseProblems(text: string, fileName: string): string[] {
  const kind = /\.js$/.test(fileName) ? ts.ScriptKind.JS : ts.ScriptKind.TS;
  const sf = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true, kind);
  const diags = (sf as unknown as { parseDiagnostics?: ts.Diagnostic[] }).parseDiagnostics ?? [];
  return diags.map((d) => ts.flattenDiagnosticMessageText(d.messageText, ' '));
}

/** Applies every verified rewrite; returns the new text and the SQL texts rewritten. */
export async function rewriteAll(before: string, fileName: string, options = OPTIONS): Promise<{ text: string; rewritten: string[]; skipped: string[] }> {
  const findings = await rawFindings(before, fileName);
  const fix = fixAll(before, fileName, findings, options);
  return {
    text: applyEdits(before, fix.edits),
    rewritten: fix.applied.map((a) => a.finding.sql!.text),
    skipped: fix.skipped.map((s) => s.reason),
  };
}

export async function check(before: string, after: string, fileName: string, options = OPTIONS): Promise<void> {
  const { text, rewritten } = await rewriteAll(before, fileName, options);
  assert.equal(text, after);
  assert.ok(rewritten.length > 0, 'no rewrite was applied');
  assert.deepEqual(parseProblems(text, fileName), [], 'the rewritten file must parse');
  const again = await rawFindings(text, fileName);
  for (const sql of rewritten) {
    assert.ok(!again.some((f) => f.sql?.text === sql), `a rescan still finds: ${sql}`);
  }
}

export async function checkNotApplicable(src: string, reason: string, fileName: string, options = OPTIONS): Promise<void> {
  const findings = await rawFindings(src, fileName);
  assert.ok(findings.length > 0, 'the fixture holds no raw-sql finding');
  for (const f of findings) {
    const [builder] = rewriteActions(src, fileName, f, options);
    assert.equal(builder.verified, false, `a rewrite was offered for: ${f.sql?.text}`);
    assert.deepEqual(builder.edits, []);
    assert.ok(builder.reasonNotOffered?.includes(reason), `reason "${builder.reasonNotOffered}" does not mention "${reason}"`);
  }
}

// ---- manual transactions → knex.transaction() (server/src/engine/rewrite/transaction.ts) ----

export async function transactionFindings(text: string, fileName: string): Promise<Finding[]> {
  const r = await analyzeText(text, fileName, DETECT);
  return r.findings.filter((f) => f.rule === 'manual-transaction');
}

/** Applies every verified transaction rewrite; returns the new text and how many were applied. */
export async function rewriteTransactions(before: string, fileName: string, options = OPTIONS): Promise<{ text: string; applied: number; skipped: string[] }> {
  const fix = transactionFixAll(before, fileName, await transactionFindings(before, fileName), options);
  return { text: applyEdits(before, fix.edits), applied: fix.applied.length, skipped: fix.skipped.map((s) => s.reason) };
}

/** Every manual transaction rewritten → after; after parses, and a rescan finds no manual transaction. */
export async function checkTransaction(before: string, after: string, fileName: string, options = OPTIONS): Promise<void> {
  const { text, applied, skipped } = await rewriteTransactions(before, fileName, options);
  assert.deepEqual(skipped, [], 'every transaction of a fixture pair must be rewritten');
  assert.equal(text, after);
  assert.ok(applied > 0, 'no rewrite was applied');
  assert.deepEqual(parseProblems(text, fileName), [], 'the rewritten file must parse');
  assert.deepEqual(await transactionFindings(text, fileName), [], 'a rescan still finds a manual transaction');
  for (const f of await transactionFindings(before, fileName)) {
    const [action] = transactionRewriteActions(before, fileName, f, options);
    assert.equal(action.verified, true);
    assert.equal(action.preferred, true);
    assert.equal(action.target, 'knex-transaction');
    assert.equal(action.title, `Rewrite as ${options.knex?.instance ?? 'db'}.transaction()`);
  }
}

/** No transaction rewrite offered for any manual transaction in src; the reason says why. */
export async function checkTransactionNotApplicable(src: string, reason: string, fileName: string, options = OPTIONS): Promise<void> {
  const findings = await transactionFindings(src, fileName);
  assert.ok(findings.length > 0, 'the fixture holds no manual-transaction finding');
  for (const f of findings) {
    const [action] = transactionRewriteActions(src, fileName, f, options);
    assert.equal(action.verified, false, `a rewrite was offered for the transaction at line ${f.range.start.line + 1}`);
    assert.deepEqual(action.edits, []);
    assert.ok(action.reasonNotOffered?.includes(reason), `reason "${action.reasonNotOffered}" does not mention "${reason}"`);
  }
}
