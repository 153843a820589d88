/**
 * How findings look in an editor: diagnostics (code = rule id, severities from settings,
 * dynamic SQL as an injection risk), hover text, and the keep-on-purpose edit. Pure functions
 * of findings and settings; no connection, no state.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Diagnostic, DiagnosticSeverity, MarkupKind, type MarkupContent } from 'vscode-languageserver';
import type { Finding } from '../engine/types';
import { type FindingItem, type SeverityName, type Settings } from '../protocol';
import { formatSql } from './formatSql';

export const SOURCE = 'sqlmigrate';

const SEVERITY: Record<Exclude<SeverityName, 'off'>, DiagnosticSeverity> = {
  error: DiagnosticSeverity.Error,
  warning: DiagnosticSeverity.Warning,
  information: DiagnosticSeverity.Information,
  hint: DiagnosticSeverity.Hint,
};

/** The setting that decides a finding's severity: `kept`, `dynamic-sql` or the rule id. */
export function severityKey(f: Finding): string {
  if (f.exception) return 'kept';
  if (f.rule === 'raw-sql' && f.dynamic) return 'dynamic-sql';
  return f.rule;
}

export function severityOf(f: Finding, settings: Settings): SeverityName {
  const name = settings.severity[severityKey(f)] ?? (f.exception ? 'hint' : 'information');
  return name in SEVERITY || name === 'off' ? name : 'information';
}

/** What a diagnostic carries in `data`, so code actions can find their finding again. */
export interface DiagnosticData {
  rule: string;
  kept: boolean;
}

let docsDir: string | null | undefined;

/**
 * The rule's page, `docs/rules/<rule>.md`, shipped with the extension and the package: a
 * file URI, so the link works offline and in any editor. Found by walking up from this
 * module, which works from `out/` and from a bundle alike.
 */
export function ruleDocUri(rule: string): string | undefined {
  if (docsDir === undefined) {
    docsDir = null;
    for (let dir = __dirname, i = 0; i < 6; i++, dir = path.dirname(dir)) {
      const candidate = path.join(dir, 'docs', 'rules');
      if (fs.existsSync(path.join(candidate, 'raw-sql.md'))) {
        docsDir = candidate;
        break;
      }
    }
  }
  if (!docsDir) return undefined;
  // Per rule, once: every published diagnostic asks (a stat per diagnostic was ~7 ms per publish of 400).
  if (!ruleDocCache.has(rule)) {
    const file = path.join(docsDir, `${rule}.md`);
    ruleDocCache.set(rule, fs.existsSync(file) ? pathToFileURL(file).toString() : undefined);
  }
  return ruleDocCache.get(rule);
}

const ruleDocCache = new Map<string, string | undefined>();

export function toDiagnostic(f: Finding, settings: Settings): Diagnostic | undefined {
  const sev = severityOf(f, settings);
  if (sev === 'off') return undefined;
  let message = f.message;
  if (f.exception) message = `${message} — kept on purpose (${f.exception.source}): ${f.exception.reason}`;
  const d = Diagnostic.create(f.range, message, SEVERITY[sev], f.rule, SOURCE);
  const doc = ruleDocUri(f.rule);
  if (doc) d.codeDescription = { href: doc };
  d.data = { rule: f.rule, kept: !!f.exception } satisfies DiagnosticData;
  return d;
}

export function toFindingItem(f: Finding): FindingItem {
  return {
    rule: f.rule,
    range: f.range,
    kind: f.kind,
    tables: f.tables,
    complexity: f.complexity,
    dynamic: f.dynamic,
    message: f.message,
    kept: f.exception ? f.exception.reason : null,
  };
}

const code = (s: string) => '`' + s.replace(/`/g, 'ˋ') + '`';

/**
 * Hover Markdown for the findings under the cursor (innermost first). `rewriteStatus` gives the
 * rewrite section of a finding (see ./rewrites.ts `rewriteHover`): verified with the SQL it was
 * checked against, or the reason there is none.
 */
export function hoverFor(findings: Finding[], rewriteStatus: (f: Finding) => string[] = () => []): MarkupContent {
  const sections = findings.map((f) => {
    const lines: string[] = [];
    const title = f.rule === 'raw-sql' ? `Raw SQL ${f.kind === 'ddl' ? 'DDL' : f.kind === 'other' ? 'statement' : f.kind.toUpperCase()}` : f.rule;
    lines.push(`**sqlmigrate** · ${title} · \`${f.rule}\`${f.callee ? ` via ${code(f.callee)}` : ''}`);
    if (f.exception) lines.push('', `**Kept on purpose** (${f.exception.source}): ${f.exception.reason}`);
    if (f.dynamic) {
      const parts = f.sql?.dynamicParts.length ? ` from ${f.sql.dynamicParts.map((p) => code(p.length > 60 ? p.slice(0, 59) + '…' : p)).join(', ')}` : '';
      lines.push('', `⚠️ **Injection risk**: the SQL is built at run time${parts}. Pass values as parameters.`);
    }
    if (f.sql) {
      lines.push('', '```sql', formatSql(f.sql.text, f.sql.dynamicParts), '```');
    } else if (f.rule !== 'raw-sql') {
      lines.push('', f.message);
    }
    const rows: Array<[string, string]> = [];
    rows.push(['kind', f.kind]);
    if (f.tables.length) rows.push(['tables', f.tables.map(code).join(', ')]);
    if (f.entities?.length) rows.push(['entities', f.entities.map(code).join(', ')]);
    if (f.info) {
      if (f.info.columns.length) rows.push(['columns', f.info.columns.slice(0, 20).map(code).join(', ') + (f.info.columns.length > 20 ? ` … (${f.info.columns.length})` : '')]);
      const p = f.info.params;
      rows.push(['parameters', p.count ? `${p.count} (${p.style}${p.names.length ? `: ${p.names.map(code).join(', ')}` : ''})` : 'none']);
      rows.push(['complexity', `${f.info.complexity}${f.info.features.length ? ` (${f.info.features.join(', ')})` : ''}`]);
      rows.push(['dialect', f.info.dialect]);
      if (!f.info.parsed) rows.push(['parsed', `no: ${f.info.parseError ?? 'unknown reason'}`]);
    } else {
      rows.push(['complexity', f.complexity]);
    }
    if (f.driver && f.driver !== 'unknown') rows.push(['driver', f.driver]);
    lines.push('', '| | |', '|---|---|', ...rows.map(([k, v]) => `| ${k} | ${v.replace(/\|/g, '\\|')} |`));
    if (f.rule !== 'exception-missing-reason') {
      const status = rewriteStatus(f);
      if (status.length) lines.push('', ...status);
    }
    return lines.join('\n');
  });
  return { kind: MarkupKind.Markdown, value: sections.join('\n\n---\n\n') };
}

/** The placeholder the keep-on-purpose action inserts; the client selects it so typing replaces it. */
export const KEEP_REASON_PLACEHOLDER = '<reason>';

export interface KeepEdit {
  /** Zero-based line the comment is inserted before. */
  line: number;
  text: string;
  /** Where the placeholder sits in the inserted line. */
  placeholder: { start: number; end: number };
}

/** The comment line to insert above the statement's first line, indented like it. */
export function keepEdit(f: Finding, lineText: string): KeepEdit {
  const indent = /^[ \t]*/.exec(lineText)![0];
  const marker = f.language === 'python' ? '#' : '//';
  const prefix = `${indent}${marker} sqlmigrate-keep: `;
  return {
    line: f.range.start.line,
    text: `${prefix}${KEEP_REASON_PLACEHOLDER}\n`,
    placeholder: { start: prefix.length, end: prefix.length + KEEP_REASON_PLACEHOLDER.length },
  };
}
