/**
 * The burndown of a folder on disk: its history, baseline and config read, then trend.ts's
 * `buildBurndown`. Kept apart from trend.ts because the config is read through the engine
 * (schema validation), which the extension host does not bundle.
 */
import { ConfigError } from '../engine/config';
import { loadConfig } from '../engine/scan';
import { countedRules, LedgerError, readBaseline, type Baseline } from '../ledger/baseline';
import { readHistory, type HistoryPoint } from './points';
import { buildBurndown, type BurndownData, type BurndownOptions } from './trend';

export interface LoadedBurndown {
  data: BurndownData;
  /** What could not be used (unreadable lines, an unusable baseline or config), for a log. */
  warnings: string[];
}

/** Reads root's history, baseline and config and builds the burndown. Never throws for bad files. */
export interface LoadBurndownOptions extends Pick<BurndownOptions, 'current' | 'now'> {
  /** Today's point, asked for only when the history holds a point (a lone live point is no trend). */
  live?: () => HistoryPoint | null;
}

export function loadBurndown(root: string, options: LoadBurndownOptions = {}): LoadedBurndown {
  const warnings: string[] = [];
  let config;
  try {
    config = loadConfig(root);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    warnings.push(`invalid configuration (${e.message}); using defaults`);
    config = undefined;
  }
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
  const data = buildBurndown(history, {
    baseline,
    rules: countedRules(config),
    targetReduction: config?.target.reduction,
    current: options.current ?? (history.length && options.live ? options.live() : null),
    now: options.now,
  });
  return { data, warnings };
}
