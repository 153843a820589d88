/**
 * The realistic SQLAlchemy 1.x corpus (test/fixtures/corpus/sqlalchemy-legacy) rewritten the way
 * `sqlmigrate fix --target sqlalchemy2` rewrites a tree (server/src/rewrite/fix.ts
 * `fixPythonTree`): `sqlalchemyFixAll` in passes, re-analysing between passes, so a chain nested
 * in another is rewritten on the next pass. Shared by the share measurement
 * (corpus-share.test.ts) and the execution tier (test/python/corpus.test.ts).
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { analyzeText } from '../../../server/src/engine/analyze';
import { detectOptions } from '../../../server/src/engine/config';
import { loadConfig } from '../../../server/src/engine/scan';
import type { DetectOptions, Finding } from '../../../server/src/engine/types';
import { applyTextEdits, pythonParses, sqlalchemyFixAll, sqlalchemyRewriteActions } from '../../../server/src/engine/rewrite/python';

export const CORPUS = path.join(__dirname, '..', '..', '..', '..', 'test', 'fixtures', 'corpus', 'sqlalchemy-legacy');
export const RULE = 'session-legacy-query';
/** As fix.ts: rewrite passes per file. */
const MAX_PASSES = 5;

/** The corpus's .py files, relative to CORPUS with forward slashes, sorted. */
export function corpusFiles(dir = CORPUS): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...corpusFiles(p));
    else if (e.name.endsWith('.py')) out.push(path.relative(CORPUS, p).split(path.sep).join('/'));
  }
  return out.sort();
}

/** The detect options the CLI would use on the corpus (its config, or the defaults). */
export function corpusDetectOptions(): DetectOptions {
  return detectOptions(loadConfig(CORPUS));
}

export async function legacyFindings(text: string, rel: string, detect: DetectOptions): Promise<Finding[]> {
  return (await analyzeText(text, rel, detect)).findings.filter((f) => f.rule === RULE && !f.exception);
}

export interface RewrittenFile {
  rel: string;
  original: string;
  /** The file after every pass. */
  text: string;
  /** Findings in the original. */
  before: Finding[];
  /** Findings a single quick fix would rewrite (verified actions on the original, before any pass). */
  offered: number;
  /** Findings rewritten over all passes. */
  rewritten: number;
  /** Findings left in `text` (the rescan) and the last pass's reason for each. */
  remaining: Finding[];
  reasons: string[];
}

/**
 * Rewrites one corpus file. Asserts what every pass must give: a file tree-sitter-python parses,
 * and a rescan that finds exactly the rewritten findings gone, each one left with a reason.
 */
export async function rewriteCorpusFile(rel: string, detect: DetectOptions): Promise<RewrittenFile> {
  const original = fs.readFileSync(path.join(CORPUS, rel), 'utf8');
  const before = await legacyFindings(original, rel, detect);
  const offered = before.filter((f) => sqlalchemyRewriteActions(original, rel, f)[0].verified).length;
  let findings = before;
  let text = original;
  let rewritten = 0;
  let reasons: string[] = [];
  for (let pass = 0; pass < MAX_PASSES && findings.length; pass++) {
    const fix = sqlalchemyFixAll(text, rel, findings);
    reasons = fix.skipped.map((s) => s.reason);
    if (!fix.applied.length) break;
    const next = applyTextEdits(text, fix.edits);
    assert.ok(pythonParses(next), `${rel}: pass ${pass + 1} produced a file tree-sitter-python cannot parse`);
    rewritten += fix.applied.length;
    text = next;
    findings = await legacyFindings(text, rel, detect);
  }
  assert.equal(findings.length, before.length - rewritten, `${rel}: a rescan finds ${findings.length} legacy queries; expected ${before.length - rewritten}`);
  assert.equal(reasons.length, findings.length, `${rel}: ${findings.length} findings left but ${reasons.length} reasons`);
  return { rel, original, text, before, offered, rewritten, remaining: findings, reasons };
}
