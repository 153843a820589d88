/**
 * Where a migration stands: the current findings compared with the baseline.
 *
 *   progress = 1 − remaining / baseline.remaining      (kept-on-purpose statements counted apart)
 *
 * Per-file status: `not-started` (as many left as at the baseline, or a file with findings that
 * was not in it), `in-progress` (fewer left), `done` (none left, none kept), `kept` (what is left
 * is all kept on purpose). Files of the baseline that no longer hold findings — or no longer
 * exist — are `done`.
 */
import type { RuleId } from '../engine/types';
import { countFile, type Baseline, type LedgerFile } from './baseline';

export type FileStatus = 'not-started' | 'in-progress' | 'done' | 'kept';

export interface FileLedger {
  path: string;
  status: FileStatus;
  remaining: number;
  kept: number;
  baseline: number;
  progress: number | null;
  rules: Partial<Record<RuleId, number>>;
  /** In the baseline but no longer among the current files. */
  deleted: boolean;
}

export interface LedgerProgress {
  remaining: number;
  kept: number;
  /** baseline − remaining; negative when statements were added since. */
  migrated: number;
  progress: number | null;
  baselineRemaining: number | null;
  target: { reduction: number; remaining: number; reached: boolean } | null;
  rules: Partial<Record<RuleId, number>>;
  files: FileLedger[];
}

export function fileStatus(remaining: number, kept: number, baseline: number): FileStatus {
  if (remaining === 0) return kept > 0 ? 'kept' : 'done';
  return baseline > 0 && remaining < baseline ? 'in-progress' : 'not-started';
}

/**
 * @param current every file scanned now (files without findings may be left out)
 * @param exists  tells whether a baseline file that is not in `current` still exists (so it is
 *                `done`, not `deleted`); by default it is taken as deleted.
 */
export function computeProgress(
  current: Iterable<LedgerFile>,
  baseline: Baseline | null,
  rules: readonly RuleId[],
  targetReduction?: number,
  exists: (path: string) => boolean = () => false,
): LedgerProgress {
  const counted = baseline ? baseline.rules : rules;
  const files: FileLedger[] = [];
  const seen = new Set<string>();
  const totals: Partial<Record<RuleId, number>> = {};
  let remaining = 0;
  let kept = 0;
  for (const file of current) {
    seen.add(file.path);
    const c = countFile(file.findings, counted);
    const base = baseline?.files[file.path]?.remaining ?? 0;
    if (c.remaining + c.kept === 0 && !baseline?.files[file.path]) continue;
    remaining += c.remaining;
    kept += c.kept;
    for (const [r, n] of Object.entries(c.rules) as Array<[RuleId, number]>) totals[r] = (totals[r] ?? 0) + n;
    files.push({
      path: file.path,
      status: fileStatus(c.remaining, c.kept, base),
      remaining: c.remaining,
      kept: c.kept,
      baseline: base,
      progress: base > 0 ? 1 - c.remaining / base : null,
      rules: c.rules,
      deleted: false,
    });
  }
  if (baseline) {
    for (const [p, fb] of Object.entries(baseline.files)) {
      if (seen.has(p)) continue;
      files.push({ path: p, status: 'done', remaining: 0, kept: 0, baseline: fb.remaining, progress: fb.remaining > 0 ? 1 : null, rules: {}, deleted: !exists(p) });
    }
  }
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const base = baseline ? baseline.remaining : null;
  const progress = base === null ? null : base === 0 ? (remaining === 0 ? 1 : 0) : 1 - remaining / base;
  let target: LedgerProgress['target'] = null;
  if (typeof targetReduction === 'number' && base !== null) {
    const targetRemaining = Math.floor(base * (1 - targetReduction));
    target = { reduction: targetReduction, remaining: targetRemaining, reached: remaining <= targetRemaining };
  }
  return { remaining, kept, migrated: base === null ? 0 : base - remaining, progress, baselineRemaining: base, target, rules: totals, files };
}

/** "62%" style, or "–" without a baseline. Negative progress (more statements than at the baseline) is shown as such. */
export function formatPercent(progress: number | null): string {
  if (progress === null) return '–';
  return `${Math.round(progress * 100)}%`;
}
