/**
 * `.sqlmigrate/history.jsonl`: one JSON line per point of the migration's history, appended
 * and never rewritten. A point is what `sqlmigrate scan` reports for one tree:
 *
 *   { "commit": "<id>", "date": "<ISO>", "totals": { "<rule>": n, ... }, "files": { "<path>": { "<rule>": n } },
 *     "kept": { "<rule>": n, ... }, "keptFiles": { "<path>": { "<rule>": n } }, "filesScanned": n, "source": "history" }
 *
 * `totals` and `kept` equal the scan's `summary.totals` and `summary.kept` (every rule listed);
 * `files` counts every finding per file and rule (rules with 0 left out), `keptFiles` the kept
 * ones (files without any left out). `source` is `history` (from git) or `baseline` (recorded
 * with the baseline, from the work tree).
 *
 * Appending writes one complete line with one `write` on a file opened for appending; a line
 * left incomplete by a crash is skipped by the reader (and reported), never merged into the
 * next one.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ScanReport } from '../engine/scan';
import { RULES, type RuleId } from '../engine/types';

export const HISTORY_FILE = '.sqlmigrate/history.jsonl';
export const HISTORY_VERSION = 1;

export type RuleCounts = Record<RuleId, number>;

export interface HistoryPoint {
  commit: string | null;
  date: string;
  totals: RuleCounts;
  files: Record<string, Partial<Record<RuleId, number>>>;
  kept: RuleCounts;
  keptFiles: Record<string, Partial<Record<RuleId, number>>>;
  filesScanned: number;
  source: 'history' | 'baseline';
  v: number;
}

export class HistoryError extends Error {}

export function historyPath(root: string): string {
  return path.join(root, HISTORY_FILE);
}

export function zeroCounts(): RuleCounts {
  return Object.fromEntries(RULES.map((r) => [r, 0])) as RuleCounts;
}

/** Orders a point's keys as documented and its files by path, so lines are stable. */
export function normalisePoint(p: HistoryPoint): HistoryPoint {
  const sortFiles = (m: HistoryPoint['files']) => {
    const out: HistoryPoint['files'] = {};
    for (const file of Object.keys(m).sort()) {
      const counts: Partial<Record<RuleId, number>> = {};
      for (const r of RULES) if (m[file][r]) counts[r] = m[file][r];
      if (Object.keys(counts).length) out[file] = counts;
    }
    return out;
  };
  const rules = (c: Partial<RuleCounts>) => Object.fromEntries(RULES.map((r) => [r, c[r] ?? 0])) as RuleCounts;
  return {
    commit: p.commit,
    date: p.date,
    totals: rules(p.totals),
    files: sortFiles(p.files),
    kept: rules(p.kept),
    keptFiles: sortFiles(p.keptFiles),
    filesScanned: p.filesScanned,
    source: p.source,
    v: HISTORY_VERSION,
  };
}

/** A point from a finished scan of the work tree (what recording a baseline appends). */
export function pointFromScan(report: ScanReport, meta: { commit: string | null; date?: Date; source?: HistoryPoint['source'] }): HistoryPoint {
  const files: HistoryPoint['files'] = {};
  const keptFiles: HistoryPoint['keptFiles'] = {};
  for (const f of report.findings) {
    const slot = (files[f.file] ??= {});
    slot[f.rule] = (slot[f.rule] ?? 0) + 1;
    if (f.exception) {
      const k = (keptFiles[f.file] ??= {});
      k[f.rule] = (k[f.rule] ?? 0) + 1;
    }
  }
  return normalisePoint({
    commit: meta.commit,
    date: (meta.date ?? new Date()).toISOString(),
    totals: { ...report.summary.totals },
    files,
    kept: { ...report.summary.kept },
    keptFiles,
    filesScanned: report.summary.filesScanned,
    source: meta.source ?? 'baseline',
    v: HISTORY_VERSION,
  });
}

/**
 * A point from per-file findings (the language server's index: each finding's rule and whether
 * it is kept). `filesScanned` is the number of files given.
 */
export function pointFromFindings(
  files: Iterable<{ path: string; findings: Array<{ rule: RuleId; kept: boolean }> }>,
  meta: { commit: string | null; date?: Date; source?: HistoryPoint['source'] },
): HistoryPoint {
  const point: HistoryPoint = { commit: meta.commit, date: (meta.date ?? new Date()).toISOString(), totals: zeroCounts(), files: {}, kept: zeroCounts(), keptFiles: {}, filesScanned: 0, source: meta.source ?? 'baseline', v: HISTORY_VERSION };
  for (const file of files) {
    point.filesScanned++;
    for (const f of file.findings) {
      point.totals[f.rule]++;
      const slot = (point.files[file.path] ??= {});
      slot[f.rule] = (slot[f.rule] ?? 0) + 1;
      if (f.kept) {
        point.kept[f.rule]++;
        const k = (point.keptFiles[file.path] ??= {});
        k[f.rule] = (k[f.rule] ?? 0) + 1;
      }
    }
  }
  return normalisePoint(point);
}

export interface HistoryRead {
  points: HistoryPoint[];
  /** Lines that could not be used, with why (1-based line numbers). */
  invalid: Array<{ line: number; reason: string }>;
}

function isCountMap(v: unknown): boolean {
  return !!v && typeof v === 'object' && !Array.isArray(v) && Object.entries(v as object).every(([r, n]) => RULES.includes(r as RuleId) && Number.isInteger(n) && (n as number) >= 0);
}

function isFileMap(v: unknown): boolean {
  return !!v && typeof v === 'object' && !Array.isArray(v) && Object.values(v as object).every(isCountMap);
}

/** Parses one line; returns the reason when it is not a point. */
export function parsePoint(line: string): HistoryPoint | string {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch (e) {
    return `not valid JSON (${(e as Error).message})`;
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return 'not an object';
  const o = raw as Record<string, unknown>;
  if (typeof o.v === 'number' && o.v > HISTORY_VERSION) return `written by a newer sqlmigrate (format ${o.v})`;
  if (o.commit !== null && (typeof o.commit !== 'string' || !/^[0-9a-f]{40,64}$/.test(o.commit))) return '"commit" is not a commit id';
  if (typeof o.date !== 'string' || Number.isNaN(Date.parse(o.date))) return '"date" is not a date';
  if (!isCountMap(o.totals)) return '"totals" is not a map of rule counts';
  if (!isFileMap(o.files)) return '"files" is not a map of files to rule counts';
  if (o.kept !== undefined && !isCountMap(o.kept)) return '"kept" is not a map of rule counts';
  if (o.keptFiles !== undefined && !isFileMap(o.keptFiles)) return '"keptFiles" is not a map of files to rule counts';
  return normalisePoint({
    commit: o.commit as string | null,
    date: new Date(o.date as string).toISOString(),
    totals: o.totals as RuleCounts,
    files: o.files as HistoryPoint['files'],
    kept: (o.kept as RuleCounts | undefined) ?? zeroCounts(),
    keptFiles: (o.keptFiles as HistoryPoint['keptFiles'] | undefined) ?? {},
    filesScanned: typeof o.filesScanned === 'number' ? o.filesScanned : 0,
    source: o.source === 'baseline' ? 'baseline' : 'history',
    v: HISTORY_VERSION,
  });
}

/** Reads the history file; an absent file is an empty history. Unusable lines are skipped and listed. */
export function readHistory(root: string): HistoryRead {
  let text: string;
  try {
    text = fs.readFileSync(historyPath(root), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { points: [], invalid: [] };
    throw new HistoryError(`${HISTORY_FILE} cannot be read: ${(e as Error).message}`);
  }
  return parseHistory(text);
}

export function parseHistory(text: string): HistoryRead {
  const points: HistoryPoint[] = [];
  const invalid: HistoryRead['invalid'] = [];
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    if (!line.trim()) return;
    const p = parsePoint(line);
    if (typeof p === 'string') invalid.push({ line: i + 1, reason: p });
    else points.push(p);
  });
  return { points, invalid };
}

/**
 * Appends points, each as one complete line written with one call. When the file does not end
 * with a newline (a crash cut the last line), a newline goes first so the next point is whole.
 */
export function appendPoints(root: string, points: HistoryPoint[]): void {
  if (!points.length) return;
  const file = historyPath(root);
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
  } catch (e) {
    throw new HistoryError(`cannot create ${path.dirname(file)}: ${(e as Error).message}`);
  }
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, 'a+');
    const size = fs.fstatSync(fd).size;
    let lead = '';
    if (size > 0) {
      const last = Buffer.alloc(1);
      fs.readSync(fd, last, 0, 1, size - 1);
      if (last[0] !== 0x0a) lead = '\n';
    }
    for (const [i, p] of points.entries()) {
      fs.writeSync(fd, (i === 0 ? lead : '') + JSON.stringify(normalisePoint(p)) + '\n');
    }
    fs.fsyncSync(fd);
  } catch (e) {
    throw new HistoryError(`cannot append to ${file}: ${(e as Error).message}`);
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** Appends one point; what recording a baseline calls. */
export function appendPoint(root: string, point: HistoryPoint): void {
  appendPoints(root, [point]);
}

/** Remaining (not kept) findings of the given rules in a point. */
export function remainingOf(p: HistoryPoint, rules: readonly RuleId[]): number {
  let n = 0;
  for (const r of rules) n += (p.totals[r] ?? 0) - (p.kept[r] ?? 0);
  return n;
}

/** Remaining (not kept) findings of the given rules per file. */
export function remainingByFile(p: HistoryPoint, rules: readonly RuleId[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const [file, counts] of Object.entries(p.files)) {
    let n = 0;
    for (const r of rules) n += (counts[r] ?? 0) - (p.keptFiles[file]?.[r] ?? 0);
    if (n > 0) out.set(file, n);
  }
  return out;
}
