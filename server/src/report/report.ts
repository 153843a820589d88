/**
 * The migration report a team commits: where the migration stands against the baseline and
 * the target, the trend (SVG), per-rule and per-folder tables, what is kept on purpose and
 * why, and the remaining work ranked by complexity. Built once as a document model, rendered
 * as Markdown or as a self-contained HTML page (no script; every workspace string escaped).
 *
 *   const model = await buildReport(root);
 *   toReportMarkdown(model, { chartHref: 'migration-report.trend.svg' });
 *   toReportHtml(model);
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Config } from '../engine/config';
import { ruleTitle } from '../engine/report/inventory';
import { loadConfig, scanDirectory, type ScanFinding, type ScanReport } from '../engine/scan';
import type { RuleId } from '../engine/types';
import { countedRules, gitCommit, readBaseline, type Baseline } from '../ledger/baseline';
import { ledgerFiles } from '../ledger/cli';
import { computeProgress, formatPercent, type LedgerProgress } from '../ledger/progress';
import { pointFromScan, readHistory } from '../history/points';
import { buildBurndown, type BurndownData } from '../history/trend';
import { escapeXml, trendSvg } from './svg';

export interface FolderRow {
  folder: string;
  files: number;
  baseline: number;
  remaining: number;
  kept: number;
  progress: number | null;
}

export interface WorkRow {
  file: string;
  remaining: number;
  complex: number;
  medium: number;
  simple: number;
  dynamic: number;
  session: number;
  /** complex ×3, medium ×2, simple ×1, +1 per statement built at run time, session patterns ×1. */
  effort: number;
}

export interface ReportModel {
  root: string;
  generatedAt: string;
  commit: string | null;
  rules: RuleId[];
  baseline: Baseline | null;
  progress: LedgerProgress;
  burndown: BurndownData;
  perRule: Array<{ rule: RuleId; baseline: number | null; remaining: number; kept: number }>;
  folders: FolderRow[];
  kept: ScanFinding[];
  work: WorkRow[];
  skipped: ScanReport['summary']['skipped'];
  /** Unreadable history lines and the like. */
  warnings: string[];
}

export interface BuildReportOptions {
  config?: Config;
  report?: ScanReport;
  now?: Date;
}

function dirOf(file: string): string {
  const i = file.lastIndexOf('/');
  return i < 0 ? '.' : file.slice(0, i);
}

export async function buildReport(root: string, options: BuildReportOptions = {}): Promise<ReportModel> {
  const config = options.config ?? loadConfig(root);
  const baseline = readBaseline(root);
  const scan = options.report ?? (await scanDirectory(root, { config }));
  const rules = baseline ? baseline.rules : countedRules(config);
  const now = options.now ?? new Date();
  const commit = gitCommit(root);
  const progress = computeProgress(ledgerFiles(scan), baseline, rules, config.target.reduction, (rel) => fs.existsSync(path.join(root, rel)));
  const history = readHistory(root);
  const warnings = history.invalid.slice(0, 5).map((x) => `.sqlmigrate/history.jsonl line ${x.line} skipped: ${x.reason}`);
  const burndown = buildBurndown(history.points, {
    baseline,
    rules,
    targetReduction: config.target.reduction,
    current: pointFromScan(scan, { commit, date: now, source: 'history' }),
    now,
  });

  const perRule = rules.map((rule) => ({
    rule,
    baseline: baseline ? baseline.perRule[rule]?.remaining ?? 0 : null,
    remaining: scan.findings.filter((f) => f.rule === rule && !f.exception).length,
    kept: scan.findings.filter((f) => f.rule === rule && f.exception).length,
  }));

  const folderMap = new Map<string, FolderRow>();
  for (const f of progress.files) {
    const key = dirOf(f.path);
    const row = folderMap.get(key) ?? { folder: key, files: 0, baseline: 0, remaining: 0, kept: 0, progress: null };
    row.files++;
    row.baseline += f.baseline;
    row.remaining += f.remaining;
    row.kept += f.kept;
    folderMap.set(key, row);
  }
  const folders = [...folderMap.values()]
    .map((r) => ({ ...r, progress: baseline && r.baseline > 0 ? 1 - r.remaining / r.baseline : null }))
    .sort((a, b) => b.remaining - a.remaining || (a.folder < b.folder ? -1 : 1));

  const counted = new Set(rules);
  const work = new Map<string, WorkRow>();
  for (const f of scan.findings) {
    if (!counted.has(f.rule) || f.exception) continue;
    const row = work.get(f.file) ?? { file: f.file, remaining: 0, complex: 0, medium: 0, simple: 0, dynamic: 0, session: 0, effort: 0 };
    row.remaining++;
    if (f.rule === 'raw-sql') {
      row[f.complexity]++;
      row.effort += f.complexity === 'complex' ? 3 : f.complexity === 'medium' ? 2 : 1;
      if (f.dynamic) {
        row.dynamic++;
        row.effort++;
      }
    } else {
      row.session++;
      row.effort++;
    }
    work.set(f.file, row);
  }
  return {
    root,
    generatedAt: now.toISOString(),
    commit,
    rules,
    baseline,
    progress,
    burndown,
    perRule,
    folders,
    kept: scan.findings.filter((f) => f.exception && f.rule !== 'exception-missing-reason'),
    work: [...work.values()].sort((a, b) => b.effort - a.effort || b.complex - a.complex || (a.file < b.file ? -1 : 1)),
    skipped: scan.summary.skipped,
    warnings,
  };
}

// ---------- a small document model, rendered as Markdown or HTML ----------

type Cell = string | number | { code: string } | { strong: string };
type Block =
  | { h: 1 | 2 | 3; text: string }
  | { p: Array<string | { code: string }> }
  | { table: { head: string[]; align?: Array<'l' | 'r'>; rows: Cell[][] } }
  | { chart: true };

const plural = (n: number, w: string) => `${n} ${w}${n === 1 ? '' : 's'}`;
const day = (iso: string | null | undefined) => (iso ? iso.slice(0, 10) : '—');
const MAX_ROWS = 100;

function limitRows(rows: Cell[][], cols: number, what: string): Cell[][] {
  if (rows.length <= MAX_ROWS) return rows;
  const more: Cell[] = [`… and ${rows.length - MAX_ROWS} more ${what}`, ...Array.from({ length: cols - 1 }, () => '')];
  return [...rows.slice(0, MAX_ROWS), more];
}

function lines(f: ScanFinding): string {
  return f.startLine === f.endLine ? `${f.startLine}` : `${f.startLine}–${f.endLine}`;
}

export function reportBlocks(m: ReportModel): Block[] {
  const b: Block[] = [];
  const p = m.progress;
  b.push({ h: 1, text: 'Migration report: raw SQL and legacy session patterns' });
  b.push({ p: [`Generated by `, { code: 'sqlmigrate report' }, ` on ${day(m.generatedAt)}${m.commit ? ` at commit ${m.commit.slice(0, 10)}` : ''}. Counted rules: ${m.rules.join(', ')}. Statements kept on purpose are counted apart and never as left.`] });

  b.push({ h: 2, text: 'Summary' });
  const rows: Cell[][] = [[{ strong: 'Left to migrate' }, p.remaining]];
  if (m.baseline) {
    rows.push(['Baseline', `${m.baseline.remaining} (recorded ${day(m.baseline.recordedAt)}${m.baseline.commit ? ` at ${m.baseline.commit.slice(0, 10)}` : ''})`]);
    rows.push(['Migrated since the baseline', `${p.migrated} (${formatPercent(p.progress)})`]);
  } else {
    rows.push(['Baseline', 'none yet — run `sqlmigrate baseline` and commit .sqlmigrate/baseline.json']);
  }
  rows.push(['Kept on purpose', p.kept]);
  if (p.target) rows.push(['Target', `${Math.round(p.target.reduction * 100)}% fewer than the baseline: at most ${p.target.remaining} left — ${p.target.reached ? 'reached' : `${p.remaining - p.target.remaining} to go`}`]);
  const proj = m.burndown.projection;
  if (proj) {
    rows.push(['Recent rate', `${proj.ratePerWeek > 0 ? proj.ratePerWeek : 0} migrated per week (${day(proj.from)} → ${day(proj.to)})`]);
    rows.push(['Projected completion', proj.completion ? day(proj.completion) : 'not going down at the recent rate']);
    if (p.target && !p.target.reached) rows.push(['Projected target date', proj.targetDate ? day(proj.targetDate) : '—']);
  }
  b.push({ table: { head: ['measure', 'value'], align: ['l', 'r'], rows } });

  b.push({ h: 2, text: 'Trend' });
  const history = m.burndown.points.filter((x) => x.source === 'history');
  if (history.length === 0) b.push({ p: ['No history recorded yet: ', { code: 'sqlmigrate history' }, ' records a point per commit from git into ', { code: '.sqlmigrate/history.jsonl' }, '.'] });
  b.push({ chart: true });
  const recent = m.burndown.points.slice(-12);
  if (recent.length) {
    b.push({
      table: {
        head: ['date', 'commit', 'left', 'kept', 'source'],
        align: ['l', 'l', 'r', 'r', 'l'],
        rows: recent.map((x) => [day(x.date), x.commit ? { code: x.commit.slice(0, 10) } : '—', x.remaining, x.kept, x.source === 'current' ? 'work tree now' : x.source]),
      },
    });
  }

  b.push({ h: 2, text: 'Per rule' });
  b.push({
    table: {
      head: ['rule', 'what', 'baseline', 'left', 'change', 'kept'],
      align: ['l', 'l', 'r', 'r', 'r', 'r'],
      rows: m.perRule.map((r) => [{ code: r.rule }, ruleTitle(r.rule), r.baseline ?? '—', r.remaining, r.baseline === null ? '—' : signed(r.remaining - r.baseline), r.kept]),
    },
  });

  b.push({ h: 2, text: 'Per folder' });
  if (!m.folders.length) b.push({ p: ['No raw SQL or legacy session patterns left.'] });
  else {
    b.push({
      table: {
        head: ['folder', 'files', 'baseline', 'left', 'kept', 'progress'],
        align: ['l', 'r', 'r', 'r', 'r', 'r'],
        rows: limitRows(m.folders.map((f) => [{ code: f.folder }, f.files, m.baseline ? f.baseline : '—', f.remaining, f.kept, formatPercent(f.progress)]), 6, 'folders'),
      },
    });
  }

  b.push({ h: 2, text: 'Kept on purpose' });
  if (!m.kept.length) b.push({ p: ['Nothing is kept on purpose.'] });
  else {
    b.push({
      table: {
        head: ['file', 'lines', 'rule', 'reason', 'recorded in'],
        rows: limitRows(m.kept.map((f) => [{ code: f.file }, lines(f), { code: f.rule }, f.exception!.reason, f.exception!.source === 'config' ? '.sqlmigrate.json' : f.exception!.source === 'file' ? 'file comment' : 'comment']), 5, 'statements'),
      },
    });
  }

  b.push({ h: 2, text: 'Remaining work, ranked by complexity' });
  if (!m.work.length) b.push({ p: ['Nothing left to migrate.'] });
  else {
    b.push({ p: ['Hardest first. Effort = complex ×3 + medium ×2 + simple ×1 + 1 per statement built at run time + 1 per session pattern.'] });
    b.push({
      table: {
        head: ['file', 'left', 'complex', 'medium', 'simple', 'built at run time', 'session patterns', 'effort'],
        align: ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
        rows: limitRows(m.work.map((w) => [{ code: w.file }, w.remaining, w.complex, w.medium, w.simple, w.dynamic, w.session, w.effort]), 8, 'files'),
      },
    });
    const quick = m.work.filter((w) => w.complex === 0 && w.medium === 0 && w.dynamic === 0).map((w) => w.file).reverse().slice(0, 10);
    if (quick.length) b.push({ p: ['Quick wins (only simple statements): ', ...quick.flatMap((q, i) => (i ? [', ', { code: q }] : [{ code: q }])), '.'] });
  }
  if (m.skipped.length) {
    b.push({ h: 2, text: 'Not analysed' });
    b.push({ table: { head: ['file', 'reason'], rows: limitRows(m.skipped.map((s) => [{ code: s.file }, s.reason]), 2, 'files') } });
  }
  return b;
}

function signed(n: number): string {
  return n > 0 ? `+${n}` : `${n}`;
}

// ---------- Markdown ----------

function mdText(s: string): string {
  return s
    .replace(/\\/g, '\\\\')
    .replace(/([`*_[\]|#<>!])/g, '\\$1')
    .replace(/\r?\n/g, ' ');
}

function mdCode(s: string): string {
  const clean = s.replace(/\r?\n/g, ' ').replace(/\|/g, '\\|');
  const ticks = (clean.match(/`+/g) ?? []).reduce((n, t) => Math.max(n, t.length), 0);
  const fence = '`'.repeat(ticks + 1);
  return ticks ? `${fence} ${clean} ${fence}` : `${fence}${clean}${fence}`;
}

function mdCell(c: Cell): string {
  if (typeof c === 'number') return String(c);
  if (typeof c === 'string') return mdText(c);
  if ('code' in c) return mdCode(c.code);
  return `**${mdText(c.strong)}**`;
}

export interface MarkdownOptions {
  /** Where the trend SVG is (a file written next to the report), linked as an image; without it the SVG is inlined (rendered by VS Code's preview and most viewers; GitHub strips inline SVG). */
  chartHref?: string;
}

export function toReportMarkdown(m: ReportModel, options: MarkdownOptions = {}): string {
  const out: string[] = [];
  for (const block of reportBlocks(m)) {
    if ('h' in block) out.push(`${'#'.repeat(block.h)} ${mdText(block.text)}`, '');
    else if ('p' in block) out.push(block.p.map((x) => (typeof x === 'string' ? mdText(x) : mdCode(x.code))).join(''), '');
    else if ('chart' in block) {
      if (options.chartHref) out.push(`![Statements left to migrate over time](${encodeURI(options.chartHref)})`, '');
      else out.push(trendSvg(m.burndown).trimEnd(), '');
    } else {
      const t = block.table;
      const align = t.head.map((_, i) => ((t.align?.[i] ?? 'l') === 'r' ? '---:' : '---'));
      out.push(`| ${t.head.map(mdText).join(' | ')} |`, `| ${align.join(' | ')} |`);
      for (const r of t.rows) out.push(`| ${r.map(mdCell).join(' | ')} |`);
      out.push('');
    }
  }
  return out.join('\n').replace(/\n+$/, '') + '\n';
}

// ---------- HTML ----------

const escapeHtml = escapeXml;

function htmlCell(c: Cell): string {
  if (typeof c === 'number') return String(c);
  if (typeof c === 'string') return escapeHtml(c);
  if ('code' in c) return `<code>${escapeHtml(c.code)}</code>`;
  return `<strong>${escapeHtml(c.strong)}</strong>`;
}

const CSS = `
:root { color-scheme: light dark; --fg: #24292f; --muted: #57606a; --border: #d0d7de; --bg: #ffffff; --code: #f6f8fa; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6edf3; --muted: #8b949e; --border: #30363d; --bg: #0d1117; --code: #161b22; } }
body { font: 14px/1.5 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: var(--fg); background: var(--bg); max-width: 1000px; margin: 2rem auto; padding: 0 1rem; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.25rem; border-bottom: 1px solid var(--border); padding-bottom: .3rem; margin-top: 2rem; }
table { border-collapse: collapse; margin: .75rem 0; } th, td { border: 1px solid var(--border); padding: .3rem .6rem; vertical-align: top; }
th { text-align: left; } td.r, th.r { text-align: right; font-variant-numeric: tabular-nums; }
code { background: var(--code); padding: .1rem .3rem; border-radius: 4px; font-size: 90%; overflow-wrap: anywhere; }
figure { margin: 1rem 0; } svg { max-width: 100%; height: auto; }
`;

export function toReportHtml(m: ReportModel): string {
  const out: string[] = [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<title>Migration report</title>',
    `<style>${CSS}</style>`,
    '</head>',
    '<body>',
  ];
  for (const block of reportBlocks(m)) {
    if ('h' in block) out.push(`<h${block.h}>${escapeHtml(block.text)}</h${block.h}>`);
    else if ('p' in block) out.push(`<p>${block.p.map((x) => (typeof x === 'string' ? escapeHtml(x) : `<code>${escapeHtml(x.code)}</code>`)).join('')}</p>`);
    else if ('chart' in block) out.push(`<figure>${trendSvg(m.burndown)}</figure>`);
    else {
      const t = block.table;
      const cls = (i: number) => ((t.align?.[i] ?? 'l') === 'r' ? ' class="r"' : '');
      const head = t.head.every((h) => !h) ? '' : `<thead><tr>${t.head.map((h, i) => `<th${cls(i)}>${escapeHtml(h)}</th>`).join('')}</tr></thead>`;
      out.push(`<table>${head}<tbody>`);
      for (const r of t.rows) out.push(`<tr>${r.map((c, i) => `<td${cls(i)}>${htmlCell(c)}</td>`).join('')}</tr>`);
      out.push('</tbody></table>');
    }
  }
  out.push('</body>', '</html>');
  return out.join('\n') + '\n';
}
