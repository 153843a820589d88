/**
 * Where the burndown panel's data comes from.
 *
 * 1. The language server, through the custom request `sqlmigrate/burndown` (`BurndownRequest`,
 *    server/src/protocol.ts): the server already holds the engine, the parsed configuration and
 *    the findings, and answers `loadBurndown(folder.root)` (server/src/history/load.ts) with
 *    today's point from its index. A server that does not handle it ("method not found", an
 *    older or another server) gets the fallback (2).
 * 2. A read-only fallback in the extension host: `.sqlmigrate/history.jsonl` through
 *    server/src/history/points.ts (`readHistory`, `remainingOf`, `remainingByFile`), the baseline
 *    through server/src/ledger/baseline.ts (`readBaseline`, `countedRules`), and the target from
 *    `.sqlmigrate.json` read as plain JSON. It never writes and never runs git.
 *
 * Why not `loadBurndown` (server/src/history/load.ts) itself in the client: it validates the
 * config through the engine (engine/scan → the TypeScript compiler, node-sql-parser), which would
 * add ~6 MB to dist/extension.js. The burndown itself is trend.ts's `buildBurndown`, which has
 * no engine imports; only the target is read here, as plain JSON.
 *
 * No `vscode` import: this module is loaded by node tests too.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readHistory, type HistoryPoint } from '../../server/src/history/points';
import { countedRules, LedgerError, readBaseline, type Baseline } from '../../server/src/ledger/baseline';
import type { RuleId } from '../../server/src/engine/types';
import { buildBurndown, type BurndownData } from '../../server/src/history/trend';

export type { BurndownData } from '../../server/src/history/trend';

// ------------------------------------------------------------------ the request (declared in the shared protocol module)

import { BurndownRequest, type BurndownParams, type BurndownResult } from '../../server/src/protocol';
export { BurndownRequest, type BurndownParams, type BurndownResult };

/** JSON-RPC "method not found": a server that does not handle the request yet. */
export const METHOD_NOT_FOUND = -32601;

export interface FetchedBurndown extends BurndownResult {
  /** Who built the data. */
  source: 'server' | 'client';
}

/**
 * The burndown of `root` (the folder's path; `folderUri` its URI): from the server when
 * `request` is given and the server handles `sqlmigrate/burndown`, else read locally.
 * Errors other than "method not found" from the server are passed on.
 */
export async function fetchBurndown(
  root: string,
  folderUri: string,
  request?: (params: BurndownParams) => Promise<BurndownResult>,
): Promise<FetchedBurndown> {
  if (request) {
    try {
      const r = await request({ folderUri });
      if (r && r.data && Array.isArray(r.data.points)) return { data: r.data, warnings: r.warnings ?? [], source: 'server' };
    } catch (e) {
      if ((e as { code?: unknown })?.code !== METHOD_NOT_FOUND) throw e;
    }
  }
  return { ...loadLocalBurndown(root), source: 'client' };
}

// ------------------------------------------------------------------ the local fallback

const CONFIG_FILE = '.sqlmigrate.json';

/**
 * The `target` of `.sqlmigrate.json`, read as plain JSON (the server validates the whole file
 * against the schema; here only what the burndown needs is taken, and only when well-formed).
 */
export function readTarget(root: string, warnings: string[]): { reduction?: number; rules?: RuleId[] } {
  let text: string;
  try {
    text = fs.readFileSync(path.join(root, CONFIG_FILE), 'utf8');
  } catch {
    return {};
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (e) {
    warnings.push(`invalid configuration (${CONFIG_FILE} is not valid JSON: ${(e as Error).message}); using defaults`);
    return {};
  }
  const target = raw && typeof raw === 'object' ? (raw as { target?: unknown }).target : undefined;
  if (!target || typeof target !== 'object') return {};
  const t = target as { reduction?: unknown; rules?: unknown };
  const out: { reduction?: number; rules?: RuleId[] } = {};
  if (typeof t.reduction === 'number' && t.reduction > 0 && t.reduction <= 1) out.reduction = t.reduction;
  else if (t.reduction !== undefined) warnings.push(`invalid configuration (target.reduction must be a number above 0 and at most 1); no target drawn`);
  if (Array.isArray(t.rules) && t.rules.every((r) => typeof r === 'string')) out.rules = t.rules as RuleId[];
  return out;
}

/** `loadBurndown(root)` without the engine: history, baseline and target, read only. Never throws for bad files. */
export function loadLocalBurndown(root: string, now?: Date): BurndownResult {
  const warnings: string[] = [];
  const target = readTarget(root, warnings);
  let baseline: Baseline | null = null;
  try {
    baseline = readBaseline(root);
  } catch (e) {
    if (!(e instanceof LedgerError)) throw e;
    warnings.push(e.message);
  }
  let history: HistoryPoint[] = [];
  try {
    const read = readHistory(root);
    history = read.points;
    for (const x of read.invalid.slice(0, 5)) warnings.push(`.sqlmigrate/history.jsonl line ${x.line} skipped: ${x.reason}`);
  } catch (e) {
    warnings.push((e as Error).message);
  }
  const data = buildBurndown(history, { baseline, rules: countedRules({ target }), targetReduction: target.reduction, now });
  return { data, warnings };
}
