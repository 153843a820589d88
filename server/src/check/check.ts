/**
 * The CI ratchet: the statements left to migrate must not rise above the committed baseline.
 *
 *   const result = await runCheck(root, { maxIncrease: 0 });
 *   result.ok          // false when the total, or any rule, rose by more than maxIncrease
 *   result.added       // per file: the rules that rose, and the findings of those rules there
 *
 * Only findings not kept on purpose count, for the baseline's rules. The baseline holds counts,
 * not statements, so "what was added" is the files whose count of a rule rose, with that rule's
 * findings in them (all of them for a file that was not in the baseline).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Config } from '../engine/config';
import { loadConfig, scanDirectory, type ScanFinding, type ScanReport } from '../engine/scan';
import type { RuleId } from '../engine/types';
import { BASELINE_FILE, baselinePath, LedgerError, parseBaseline, type Baseline } from '../ledger/baseline';

export interface CheckOptions {
  /** Path of the baseline file (default: `<root>/.sqlmigrate/baseline.json`). */
  baselineFile?: string;
  /** How many more statements than at the baseline are tolerated (default 0). */
  maxIncrease?: number;
  config?: Config;
  /** A scan already made (tests, or a caller that scanned for another output too). */
  report?: ScanReport;
}

export interface RuleDelta {
  rule: RuleId;
  baseline: number;
  current: number;
  delta: number;
}

export interface AddedFile {
  file: string;
  /** Not in the baseline at all. */
  newFile: boolean;
  baseline: number;
  current: number;
  /** The rules whose count rose in this file, with by how much. */
  rules: Partial<Record<RuleId, number>>;
  /** The file's remaining findings of those rules. */
  findings: ScanFinding[];
}

export interface CheckResult {
  ok: boolean;
  baseline: Baseline;
  baselineFile: string;
  maxIncrease: number;
  remaining: number;
  kept: number;
  increase: number;
  rules: RuleDelta[];
  added: AddedFile[];
  report: ScanReport;
}

export class CheckSetupError extends Error {}

export function readBaselineFile(file: string): Baseline {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new CheckSetupError(`no baseline at ${file}: record one with \`sqlmigrate baseline\` and commit it, so the check has something to compare with`);
    }
    throw new CheckSetupError(`${file} cannot be read: ${(e as Error).message}`);
  }
  try {
    return parseBaseline(text);
  } catch (e) {
    if (e instanceof LedgerError) throw new CheckSetupError(e.message.split(BASELINE_FILE).join(file));
    throw e;
  }
}

export function compareWithBaseline(report: ScanReport, baseline: Baseline, maxIncrease = 0, baselineFile = BASELINE_FILE): CheckResult {
  const counted = new Set<RuleId>(baseline.rules);
  const remainingFindings = report.findings.filter((f) => counted.has(f.rule) && !f.exception);
  const kept = report.findings.filter((f) => counted.has(f.rule) && f.exception).length;
  const byFile = new Map<string, ScanFinding[]>();
  for (const f of remainingFindings) {
    const list = byFile.get(f.file) ?? [];
    list.push(f);
    byFile.set(f.file, list);
  }
  const rules: RuleDelta[] = baseline.rules.map((rule) => {
    const current = remainingFindings.filter((f) => f.rule === rule).length;
    const before = baseline.perRule[rule]?.remaining ?? 0;
    return { rule, baseline: before, current, delta: current - before };
  });
  const added: AddedFile[] = [];
  for (const [file, list] of [...byFile.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    const base = baseline.files[file];
    const rose: Partial<Record<RuleId, number>> = {};
    for (const rule of baseline.rules) {
      const now = list.filter((f) => f.rule === rule).length;
      const then = base?.rules[rule] ?? 0;
      if (now > then) rose[rule] = now - then;
    }
    if (!Object.keys(rose).length) continue;
    added.push({
      file,
      newFile: !base,
      baseline: base?.remaining ?? 0,
      current: list.length,
      rules: rose,
      findings: list.filter((f) => rose[f.rule]),
    });
  }
  const remaining = remainingFindings.length;
  const increase = remaining - baseline.remaining;
  const ok = increase <= maxIncrease && rules.every((r) => r.delta <= maxIncrease);
  return { ok, baseline, baselineFile, maxIncrease, remaining, kept, increase, rules, added, report };
}

export async function runCheck(root: string, options: CheckOptions = {}): Promise<CheckResult> {
  const file = options.baselineFile ?? baselinePath(root);
  const baseline = readBaselineFile(file);
  const config = options.config ?? loadConfig(root);
  const report = options.report ?? (await scanDirectory(root, { config }));
  const shown = path.relative(process.cwd(), file) || file;
  return compareWithBaseline(report, baseline, options.maxIncrease ?? 0, shown);
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
const signed = (n: number) => (n > 0 ? `+${n}` : `${n}`);

function findingLine(f: ScanFinding): string {
  const what = f.rule === 'raw-sql'
    ? `${f.kind === 'ddl' ? 'DDL' : f.kind.toUpperCase()}${f.tables.length ? ` ${f.tables.join(', ')}` : ''}${f.dynamic ? ' (built at run time)' : ''}`
    : f.message;
  return `${f.file}:${f.startLine}  ${f.rule}  ${what.replace(/\s+/g, ' ').slice(0, 120)}${f.callee ? `  via ${f.callee}` : ''}`;
}

const MAX_LISTED = 20;

/** The message a person reads in the CI log. */
export function formatCheck(r: CheckResult): string {
  const b = r.baseline;
  const at = `${b.recordedAt.slice(0, 10)}${b.commit ? ` at ${b.commit.slice(0, 10)}` : ''}`;
  const out: string[] = [];
  if (r.ok) {
    const diff = r.increase < 0 ? `${-r.increase} fewer than` : r.increase === 0 ? 'as many as' : `${r.increase} more than (within --max-increase ${r.maxIncrease})`;
    out.push(`sqlmigrate check passed: ${plural(r.remaining, 'statement')} left to migrate, ${diff} the baseline (${b.remaining}, recorded ${at}); ${r.kept} kept on purpose.`);
  } else {
    out.push(
      `sqlmigrate check FAILED: ${plural(r.remaining, 'statement')} left to migrate, ${r.increase > 0 ? `${r.increase} more than` : `against`} the baseline (${b.remaining}, recorded ${at});` +
        ` at most ${r.maxIncrease} more ${r.maxIncrease === 1 ? 'is' : 'are'} allowed${r.rules.some((x) => x.delta > r.maxIncrease) ? ' per rule and in total' : ''}.`,
    );
  }
  const changed = r.rules.filter((x) => x.delta !== 0);
  if (changed.length) {
    out.push('', 'Per rule (baseline → now):');
    for (const x of changed) out.push(`  ${x.rule.padEnd(22)} ${String(x.baseline).padStart(5)} → ${String(x.current).padEnd(5)} (${signed(x.delta)})${x.delta > r.maxIncrease ? '  ✗' : ''}`);
  }
  if (!r.ok && r.added.length) {
    out.push('', 'Added since the baseline:');
    for (const a of r.added) {
      const rose = Object.entries(a.rules).map(([rule, n]) => `${rule} +${n}`).join(', ');
      out.push(`  ${a.file}${a.newFile ? ' (not in the baseline)' : ''}: ${rose}`);
      for (const f of a.findings.slice(0, MAX_LISTED)) out.push(`    ${findingLine(f)}`);
      if (a.findings.length > MAX_LISTED) out.push(`    … and ${a.findings.length - MAX_LISTED} more`);
    }
    if (r.added.some((a) => !a.newFile)) out.push('', '(The baseline counts statements per file, so for a file that already had some, all of that rule\'s statements there are listed.)');
  }
  if (!r.ok) {
    out.push(
      '',
      'Migrate the new statements to the query builder or ORM, or keep one on purpose with a reason',
      '(`// sqlmigrate-keep: <reason>` or `# sqlmigrate-keep: <reason>` above it). If the increase is',
      `intended, record a new baseline (\`sqlmigrate baseline --force\`) and commit ${r.baselineFile}.`,
    );
  }
  return out.join('\n') + '\n';
}

/** The check as JSON (for `--format json`). */
export function checkJson(r: CheckResult): string {
  return JSON.stringify(
    {
      ok: r.ok,
      maxIncrease: r.maxIncrease,
      baseline: { file: r.baselineFile, recordedAt: r.baseline.recordedAt, commit: r.baseline.commit, remaining: r.baseline.remaining },
      remaining: r.remaining,
      kept: r.kept,
      increase: r.increase,
      rules: r.rules,
      added: r.added.map((a) => ({ ...a, findings: a.findings.map((f) => ({ rule: f.rule, file: f.file, startLine: f.startLine, endLine: f.endLine, kind: f.kind, tables: f.tables, callee: f.callee, message: f.message })) })),
    },
    null,
    2,
  ) + '\n';
}
