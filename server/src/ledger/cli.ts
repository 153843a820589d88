/**
 * `sqlmigrate baseline [dir] [--force] [--json]` and `sqlmigrate progress [dir] [--json]`,
 * written so that `server/src/cli/main.ts` only has to dispatch to them:
 *
 *   case 'baseline': return runBaselineCommand(rest, io);
 *   case 'progress': return runProgressCommand(rest, io);
 *
 * Exit codes follow the CLI's: 0 success, 1 refused (a baseline exists or is unreadable and
 * --force was not given; for `progress`, the configured target is not reached), 2 usage or
 * configuration error.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { commandError, directoryArg, parseCommandArgs } from '../cli/args';
import { loadConfig, scanDirectory, type ScanReport } from '../engine/scan';
import { BASELINE_FILE, buildBaseline, countedRules, gitCommit, LedgerError, readBaseline, writeBaseline, type LedgerFile } from './baseline';
import { appendPoint, pointFromScan, type HistoryPoint } from '../history/points';
import { computeProgress, formatPercent } from './progress';

/**
 * The baseline is also the first point of the burndown (.sqlmigrate/history.jsonl). The history
 * is a convenience: failing to append to it never fails the baseline that was just written.
 */
export function recordBaselinePoint(root: string, point: () => HistoryPoint): void {
  try {
    appendPoint(root, point());
  } catch {
    // an unreadable or read-only history file; `sqlmigrate history` rebuilds it from git
  }
}

export interface LedgerIo {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
}

export const LEDGER_USAGE = `  baseline [dir]  Record the migration baseline in dir/.sqlmigrate/baseline.json (commit it)
      --force                        replace an existing or unreadable baseline
      --json                         print the recorded baseline as JSON
  progress [dir]  Compare the current findings with the baseline and the target
      --json                         print the progress as JSON
      --require-target               exit 1 unless the configured target is reached
`;

/** Relative to the current directory when inside it, else absolute. */
function displayPath(file: string): string {
  const rel = path.relative(process.cwd(), file);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : file;
}

/** The ledger's view of a scan: per file, each finding's rule and whether it is kept. */
export function ledgerFiles(report: ScanReport): LedgerFile[] {
  const byFile = new Map<string, LedgerFile>();
  for (const f of report.files) byFile.set(f.file, { path: f.file, findings: [] });
  for (const f of report.findings) {
    let entry = byFile.get(f.file);
    if (!entry) byFile.set(f.file, (entry = { path: f.file, findings: [] }));
    entry.findings.push({ rule: f.rule, kept: !!f.exception });
  }
  return [...byFile.values()];
}

async function guarded(io: LedgerIo, run: () => Promise<number>): Promise<number> {
  try {
    return await run();
  } catch (e) {
    // A baseline that exists, is corrupt or was edited by hand is a finding for CI (1), not a usage error.
    if (e instanceof LedgerError && (e.kind === 'exists' || e.kind === 'corrupt' || e.kind === 'edited')) {
      io.stderr(`sqlmigrate: ${e.message}\n`);
      return 1;
    }
    return commandError(e, io, LEDGER_USAGE);
  }
}

export function runBaselineCommand(argv: string[], io: LedgerIo): Promise<number> {
  return guarded(io, async () => {
    const { values, positionals } = parseCommandArgs(argv, { force: { type: 'boolean' }, json: { type: 'boolean' } });
    const root = directoryArg(positionals);
    const config = loadConfig(root);
    const report = await scanDirectory(root, { config });
    const baseline = buildBaseline(ledgerFiles(report), countedRules(config), { commit: gitCommit(root) });
    const file = writeBaseline(root, baseline, { force: !!values.force });
    recordBaselinePoint(root, () => pointFromScan(report, { commit: baseline.commit, date: new Date(baseline.recordedAt), source: 'baseline' }));
    if (values.json) io.stdout(JSON.stringify(baseline, null, 2) + '\n');
    else {
      const files = Object.keys(baseline.files).length;
      io.stdout(
        `Recorded the baseline: ${baseline.remaining} statement${baseline.remaining === 1 ? '' : 's'} to migrate` +
          ` (${baseline.kept} kept on purpose) in ${files} file${files === 1 ? '' : 's'}` +
          `${baseline.commit ? ` at commit ${baseline.commit.slice(0, 10)}` : ''}.\n` +
          `Wrote ${displayPath(file)}; commit it so everyone measures against the same baseline.\n`,
      );
    }
    return 0;
  });
}

export function runProgressCommand(argv: string[], io: LedgerIo): Promise<number> {
  return guarded(io, async () => {
    const { values, positionals } = parseCommandArgs(argv, { json: { type: 'boolean' }, 'require-target': { type: 'boolean' } });
    const root = directoryArg(positionals);
    const config = loadConfig(root);
    const baseline = readBaseline(root);
    const report = await scanDirectory(root, { config });
    const p = computeProgress(ledgerFiles(report), baseline, countedRules(config), config.target.reduction, (rel) => fs.existsSync(path.join(root, rel)));
    if (values.json) {
      io.stdout(JSON.stringify({ baseline: baseline ? { recordedAt: baseline.recordedAt, commit: baseline.commit, remaining: baseline.remaining, kept: baseline.kept } : null, ...p }, null, 2) + '\n');
    } else if (!baseline) {
      io.stdout(`${p.remaining} statements to migrate, ${p.kept} kept on purpose. No baseline yet: run \`sqlmigrate baseline\` to start measuring progress (${BASELINE_FILE}).\n`);
    } else {
      const lines = [
        `Progress: ${formatPercent(p.progress)} — ${p.remaining} left of ${baseline.remaining} at the baseline (${baseline.recordedAt.slice(0, 10)}), ${p.kept} kept on purpose.`,
      ];
      if (p.target) lines.push(`Target: ${Math.round(p.target.reduction * 100)}% fewer (≤ ${p.target.remaining} left) — ${p.target.reached ? 'reached' : `${p.remaining - p.target.remaining} to go`}.`);
      const counts = { 'not-started': 0, 'in-progress': 0, done: 0, kept: 0 };
      for (const f of p.files) counts[f.status]++;
      lines.push(`Files: ${counts.done} done, ${counts['in-progress']} in progress, ${counts['not-started']} not started, ${counts.kept} kept.`);
      io.stdout(lines.join('\n') + '\n');
    }
    // Being short of the target is the normal state of a migration; only a gate asks to fail on it.
    return values['require-target'] && !(p.target && p.target.reached) ? 1 : 0;
  });
}
