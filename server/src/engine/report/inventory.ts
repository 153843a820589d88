/**
 * Renders a scan as the inventory people read: a terminal table, a Markdown document a
 * team commits next to its migration plan, or the JSON contract machines rely on.
 */
import type { ScanFinding, ScanReport } from '../scan';
import { RULES, type RuleId } from '../types';

const RULE_TITLES: Record<RuleId, string> = {
  'raw-sql': 'raw SQL statements',
  'session-legacy-query': 'session.query() in 1.x style',
  'session-usage': 'session factory uses',
  'sync-in-async': 'sync DB calls inside async def',
  'manual-transaction': 'manual transactions',
  'exception-missing-reason': 'keep comments without a reason',
};

export function ruleTitle(rule: RuleId): string {
  return RULE_TITLES[rule];
}

/** The JSON contract: `{ summary, findings }`, stable field order. */
export function toJson(report: ScanReport): string {
  const findings = report.findings.map((f) => ({
    rule: f.rule,
    file: f.file,
    startLine: f.startLine,
    endLine: f.endLine,
    startColumn: f.startColumn,
    endColumn: f.endColumn,
    language: f.language,
    driver: f.driver,
    kind: f.kind,
    tables: f.tables,
    columns: f.info?.columns ?? [],
    entities: f.entities,
    complexity: f.complexity,
    dynamic: f.dynamic,
    parsed: f.info ? f.info.parsed : undefined,
    parseError: f.info?.parseError,
    params: f.info?.params,
    features: f.info?.features,
    callee: f.callee,
    message: f.message,
    sql: f.sql?.text,
    exception: f.exception ? { reason: f.exception.reason, source: f.exception.source } : null,
  }));
  return JSON.stringify({ summary: report.summary, findings }, null, 2) + '\n';
}

function lines(f: ScanFinding): string {
  return f.startLine === f.endLine ? `${f.startLine}` : `${f.startLine}–${f.endLine}`;
}

function what(f: ScanFinding): string {
  if (f.rule === 'raw-sql') return f.kind === 'ddl' ? 'DDL' : f.kind.toUpperCase();
  if (f.rule === 'session-legacy-query') return `query(${(f.entities ?? []).join(', ')})`;
  if (f.rule === 'session-usage') return f.callee ? `${f.callee}()` : 'session';
  if (f.rule === 'sync-in-async') return f.callee ? `${f.callee}() in async` : 'sync in async';
  if (f.rule === 'manual-transaction') return 'BEGIN…COMMIT';
  return 'keep comment';
}

function notes(f: ScanFinding): string {
  const n: string[] = [];
  if (f.dynamic) n.push('dynamic (injection risk)');
  if (f.info && !f.info.parsed) n.push(`unparsed: ${f.info.parseError}`);
  if (f.exception) n.push(`kept: ${f.exception.reason}`);
  return n.join('; ');
}

function byFile(findings: ScanFinding[]): Map<string, ScanFinding[]> {
  const m = new Map<string, ScanFinding[]>();
  for (const f of findings) {
    const list = m.get(f.file) ?? [];
    list.push(f);
    m.set(f.file, list);
  }
  return m;
}

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

function clip(s: string, n: number): string {
  return s.length > n ? s.slice(0, n - 1) + '…' : s;
}

/** A readable per-file inventory with totals, for a terminal. */
export function toTable(report: ScanReport): string {
  const out: string[] = [];
  const groups = byFile(report.findings);
  for (const [file, list] of groups) {
    const kept = list.filter((f) => f.exception).length;
    out.push(`${file}  (${list.length} finding${list.length === 1 ? '' : 's'}${kept ? `, ${kept} kept` : ''})`);
    for (const f of list) {
      const row = [
        pad(lines(f), 9),
        pad(f.rule, 21),
        pad(clip(what(f), 22), 22),
        pad(clip(f.tables.join(', ') || '-', 24), 24),
        pad(f.complexity, 8),
        notes(f),
      ];
      out.push('  ' + row.join(' ').trimEnd());
    }
    out.push('');
  }
  const s = report.summary;
  out.push(`Totals: ${s.filesScanned} files scanned, ${s.filesWithFindings} with findings`);
  for (const rule of RULES) {
    if (s.totals[rule] === 0) continue;
    out.push(`  ${pad(rule, 26)} ${String(s.totals[rule]).padStart(5)}  (${s.kept[rule]} kept, ${s.remaining[rule]} to migrate)  ${ruleTitle(rule)}`);
  }
  if (RULES.every((r) => s.totals[r] === 0)) out.push('  no raw SQL or legacy session patterns found');
  if (s.skipped.length) {
    out.push('', `Skipped ${s.skipped.length} file${s.skipped.length === 1 ? '' : 's'}:`);
    for (const k of s.skipped) out.push(`  ${k.file}: ${k.reason}`);
  }
  if (s.problems.length) {
    out.push('', `Problems in ${new Set(s.problems.map((p) => p.file)).size} file(s) (findings elsewhere in them are still reported):`);
    for (const p of s.problems.slice(0, 50)) out.push(`  ${p.file}${p.line ? `:${p.line}` : ''}: ${p.message}`);
    if (s.problems.length > 50) out.push(`  … and ${s.problems.length - 50} more`);
  }
  return out.join('\n') + '\n';
}

function mdEscape(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/</g, '&lt;').replace(/\r?\n/g, ' ');
}

function code(s: string): string {
  return '`' + s.replace(/`/g, 'ˋ') + '`';
}

/** The migration-inventory document a team commits. */
export function toMarkdown(report: ScanReport, title = 'Raw SQL migration inventory', date = new Date()): string {
  const s = report.summary;
  const out: string[] = [];
  out.push(`# ${title}`, '');
  out.push(`Generated by \`sqlmigrate scan --format markdown\` on ${date.toISOString().slice(0, 10)}: ${s.filesScanned} files scanned, ${s.filesWithFindings} with findings.`, '');
  out.push('## Totals', '', '| rule | what | found | kept on purpose | to migrate |', '| --- | --- | ---: | ---: | ---: |');
  for (const rule of RULES) {
    if (s.totals[rule] === 0 && rule === 'exception-missing-reason') continue;
    out.push(`| ${code(rule)} | ${ruleTitle(rule)} | ${s.totals[rule]} | ${s.kept[rule]} | ${s.remaining[rule]} |`);
  }
  const raw = report.findings.filter((f) => f.rule === 'raw-sql');
  if (raw.length) {
    const by = (k: string) => raw.filter((f) => f.complexity === k && !f.exception).length;
    out.push('', `Raw SQL left to migrate by complexity: ${by('simple')} simple, ${by('medium')} medium, ${by('complex')} complex; ${raw.filter((f) => f.dynamic && !f.exception).length} built at run time (injection risk).`);
  }
  const groups = byFile(report.findings);
  if (groups.size) {
    out.push('', '## Files', '', '| file | raw SQL | session patterns | kept | status |', '| --- | ---: | ---: | ---: | --- |');
    for (const [file, list] of groups) {
      const rawN = list.filter((f) => f.rule === 'raw-sql').length;
      const sess = list.filter((f) => f.rule !== 'raw-sql' && f.rule !== 'exception-missing-reason').length;
      const kept = list.filter((f) => f.exception).length;
      const status = kept === list.length ? 'kept' : kept > 0 ? 'to migrate (part kept)' : 'to migrate';
      out.push(`| ${code(file)} | ${rawN} | ${sess} | ${kept} | ${status} |`);
    }
    for (const [file, list] of groups) {
      const f0 = list[0];
      out.push('', `### ${code(file)}`, '', `${f0.language}${drivers(list)}`, '', '| lines | rule | statement | tables | complexity | notes |', '| --- | --- | --- | --- | --- | --- |');
      for (const f of list) {
        out.push(`| ${lines(f)} | ${code(f.rule)} | ${mdEscape(what(f))} | ${mdEscape(f.tables.join(', ') || '—')} | ${f.complexity} | ${mdEscape(notes(f))} |`);
      }
    }
  }
  const kept = report.findings.filter((f) => f.exception);
  if (kept.length) {
    out.push('', '## Kept on purpose', '', '| file | lines | rule | reason | recorded in |', '| --- | --- | --- | --- | --- |');
    for (const f of kept) out.push(`| ${code(f.file)} | ${lines(f)} | ${code(f.rule)} | ${mdEscape(f.exception!.reason)} | ${f.exception!.source === 'config' ? '.sqlmigrate.json' : f.exception!.source === 'file' ? 'file comment' : 'comment'} |`);
  }
  if (s.skipped.length) {
    out.push('', '## Skipped files', '', '| file | reason |', '| --- | --- |');
    for (const k of s.skipped) out.push(`| ${code(k.file)} | ${mdEscape(k.reason)} |`);
  }
  return out.join('\n') + '\n';
}

function drivers(list: ScanFinding[]): string {
  const d = [...new Set(list.map((f) => f.driver).filter((x) => x && x !== 'none' && x !== 'unknown'))];
  return d.length ? ` · ${d.join(', ')}` : '';
}
