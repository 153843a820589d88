/**
 * The burndown: history points turned into what a chart draws — statements left over time,
 * the baseline and the target, a completion date projected from the recent rate, and a
 * per-folder breakdown. Plain JSON in and out: the report renders it as SVG on the server and
 * the VS Code webview draws it with uPlot.
 *
 *   const data = buildBurndown(readHistory(root).points, { baseline, rules, targetReduction });
 *   const { data } = loadBurndown(root);      // load.ts: reads history, baseline and config itself
 */
import type { RuleId } from '../engine/types';
import { countedRules, type Baseline } from '../ledger/baseline';
import { remainingByFile, remainingOf, type HistoryPoint } from './points';

export const BURNDOWN_VERSION = 1;
/** The window the projection's rate is measured over. */
export const PROJECTION_WINDOW_DAYS = 28;
const DAY = 86_400_000;
/** At most this many folders are drawn; the rest are summed as "(other)". */
export const MAX_FOLDERS = 8;
export const OTHER_FOLDER = '(other)';
export const ROOT_FOLDER = '(root)';

export interface BurndownPoint {
  date: string;
  commit: string | null;
  remaining: number;
  kept: number;
  /** Remaining per folder key (see `folders`). */
  folders: Record<string, number>;
  source: 'history' | 'baseline' | 'current';
}

export interface BurndownData {
  version: number;
  generatedAt: string;
  /** The rules counted (the baseline's, else the config's target rules). */
  rules: RuleId[];
  /** Sorted by date, one per commit (a commit recorded twice keeps its latest point). */
  points: BurndownPoint[];
  baseline: { date: string; commit: string | null; remaining: number } | null;
  target: { reduction: number; remaining: number } | null;
  projection: Projection | null;
  /** Folder keys drawn in the breakdown, most remaining first; `(other)` last when present. */
  folders: string[];
  /** Folder depth used for the keys (1: `src`, 2: `src/db`). */
  folderDepth: number;
}

export interface Projection {
  /** Statements migrated per week over the window (positive when going down). */
  ratePerWeek: number;
  /** The window actually used. */
  from: string;
  to: string;
  /** When none will be left at that rate; null when the count is not going down. */
  completion: string | null;
  /** When the target will be reached at that rate; null without a target or when not going down. */
  targetDate: string | null;
}

export interface BurndownOptions {
  baseline?: Baseline | null;
  rules?: readonly RuleId[];
  targetReduction?: number;
  /** A last point for the work tree as it is now (the language server's counts). */
  current?: HistoryPoint | null;
  now?: Date;
}

export function folderKey(file: string, depth: number): string {
  const parts = file.split('/');
  parts.pop();
  if (!parts.length) return ROOT_FOLDER;
  return parts.slice(0, depth).join('/');
}

/** Least-squares slope of remaining over time (per ms), over points in the window. */
function slope(points: Array<{ t: number; y: number }>): number | null {
  if (points.length < 2) return null;
  const n = points.length;
  const mt = points.reduce((s, p) => s + p.t, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.t - mt) * (p.y - my);
    den += (p.t - mt) ** 2;
  }
  return den === 0 ? null : num / den;
}

export function project(points: BurndownPoint[], target: BurndownData['target']): Projection | null {
  if (points.length < 2) return null;
  const last = points[points.length - 1];
  const lastT = Date.parse(last.date);
  let window = points.filter((p) => Date.parse(p.date) >= lastT - PROJECTION_WINDOW_DAYS * DAY);
  if (window.length < 2) window = points.slice(-Math.min(points.length, 5));
  const s = slope(window.map((p) => ({ t: Date.parse(p.date), y: p.remaining })));
  if (s === null) return null;
  const ratePerWeek = -s * 7 * DAY;
  const going = s < 0;
  const at = (left: number) => (going ? new Date(lastT + (last.remaining - left) / -s).toISOString() : null);
  return {
    ratePerWeek: Math.round(ratePerWeek * 100) / 100,
    from: window[0].date,
    to: last.date,
    completion: last.remaining === 0 ? last.date : at(0),
    targetDate: target ? (last.remaining <= target.remaining ? last.date : at(target.remaining)) : null,
  };
}

export function buildBurndown(history: HistoryPoint[], options: BurndownOptions = {}): BurndownData {
  const baseline = options.baseline ?? null;
  const rules = baseline ? baseline.rules : [...(options.rules ?? countedRules())];
  // One point per commit (the latest line wins), baseline points kept apart from git ones.
  const byKey = new Map<string, HistoryPoint>();
  for (const p of history) byKey.set(`${p.source}:${p.commit ?? p.date}`, p);
  const raw = [...byKey.values()];
  const sources = new Map<HistoryPoint, BurndownPoint['source']>();
  for (const p of raw) sources.set(p, p.source);
  if (options.current) {
    raw.push(options.current);
    sources.set(options.current, 'current');
  }
  raw.sort((a, b) => Date.parse(a.date) - Date.parse(b.date));

  // Folder depth: 2 when that gives few enough folders, else 1.
  const filesSeen = new Set<string>();
  for (const p of raw) for (const f of remainingByFile(p, rules).keys()) filesSeen.add(f);
  const keysAt = (depth: number) => new Set([...filesSeen].map((f) => folderKey(f, depth)));
  const folderDepth = keysAt(2).size <= MAX_FOLDERS ? 2 : 1;
  const perPoint = raw.map((p) => {
    const folders: Record<string, number> = {};
    for (const [file, n] of remainingByFile(p, rules)) {
      const k = folderKey(file, folderDepth);
      folders[k] = (folders[k] ?? 0) + n;
    }
    return folders;
  });
  // Rank folders by their peak; keep the top ones, sum the rest.
  const peak = new Map<string, number>();
  for (const f of perPoint) for (const [k, n] of Object.entries(f)) peak.set(k, Math.max(peak.get(k) ?? 0, n));
  const ranked = [...peak.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([k]) => k);
  const keep = new Set(ranked.length > MAX_FOLDERS ? ranked.slice(0, MAX_FOLDERS - 1) : ranked);
  const folders = ranked.filter((k) => keep.has(k));
  if (ranked.length > keep.size) folders.push(OTHER_FOLDER);

  const points: BurndownPoint[] = raw.map((p, i) => {
    const f: Record<string, number> = {};
    for (const k of folders) f[k] = 0;
    for (const [k, n] of Object.entries(perPoint[i])) {
      const key = keep.has(k) ? k : OTHER_FOLDER;
      f[key] = (f[key] ?? 0) + n;
    }
    let kept = 0;
    for (const r of rules) kept += p.kept[r] ?? 0;
    return { date: p.date, commit: p.commit, remaining: remainingOf(p, rules), kept, folders: f, source: sources.get(p)! };
  });

  const target = baseline && typeof options.targetReduction === 'number'
    ? { reduction: options.targetReduction, remaining: Math.floor(baseline.remaining * (1 - options.targetReduction)) }
    : null;
  const trend = points.filter((p) => p.source !== 'baseline');
  return {
    version: BURNDOWN_VERSION,
    generatedAt: (options.now ?? new Date()).toISOString(),
    rules: [...rules],
    points,
    baseline: baseline ? { date: baseline.recordedAt, commit: baseline.commit, remaining: baseline.remaining } : null,
    target,
    projection: project(trend.length >= 2 ? trend : points, target),
    folders,
    folderDepth,
  };
}
