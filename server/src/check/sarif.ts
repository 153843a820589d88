/**
 * SARIF 2.1.0 for `sqlmigrate scan --format sarif` and `sqlmigrate check --format sarif`, so
 * GitHub code scanning (and any SARIF viewer) shows findings on the lines they are about.
 *
 *   io.stdout(toSarif(report));                       // a scan
 *   io.stdout(toSarif(report, { added, failure }));   // a check: what rose above the baseline is an error
 *
 * One run, tool `sqlmigrate` with a rule descriptor per rule id, one result per finding;
 * findings kept on purpose carry a suppression with the reason; each result has a partial
 * fingerprint that survives line moves (rule, file, statement, occurrence).
 */
import { sqlmigrateVersion as currentVersion } from '../version';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ruleTitle } from '../engine/report/inventory';
import type { ScanFinding, ScanReport } from '../engine/scan';
import { RULES, type RuleId } from '../engine/types';

export const SARIF_SCHEMA_URI = 'https://json.schemastore.org/sarif-2.1.0.json';

type Level = 'error' | 'warning' | 'note' | 'none';

const RULE_INFO: Record<RuleId, { name: string; level: Level; full: string; tags: string[] }> = {
  'raw-sql': {
    name: 'RawSql',
    level: 'warning',
    full: 'A SQL statement sent through a database driver or wrapper. Migrate it to the query builder or ORM, or keep it on purpose with a `sqlmigrate-keep: <reason>` comment.',
    tags: ['maintainability', 'sql'],
  },
  'session-legacy-query': {
    name: 'SessionLegacyQuery',
    level: 'note',
    full: 'A SQLAlchemy 1.x `session.query(...)` chain; SQLAlchemy 2.0 style uses `select()` with `session.execute()` / `session.scalars()`.',
    tags: ['maintainability', 'sqlalchemy'],
  },
  'session-usage': {
    name: 'SessionUsage',
    level: 'note',
    full: 'A use of a legacy session factory (`get_session()` style) that the migration replaces.',
    tags: ['maintainability'],
  },
  'sync-in-async': {
    name: 'SyncInAsync',
    level: 'warning',
    full: 'Synchronous database work inside an `async def`: it blocks the event loop.',
    tags: ['performance', 'correctness'],
  },
  'manual-transaction': {
    name: 'ManualTransaction',
    level: 'note',
    full: 'A hand-written BEGIN / COMMIT / ROLLBACK (or release) around driver calls; the query builder or ORM has a transaction helper.',
    tags: ['maintainability', 'sql'],
  },
  'exception-missing-reason': {
    name: 'KeepWithoutReason',
    level: 'warning',
    full: 'A `sqlmigrate-keep` comment without a reason keeps nothing. Say why the statement stays: `sqlmigrate-keep: <reason>`.',
    tags: ['maintainability'],
  },
};

export interface SarifOptions {
  /** Findings that rose above the baseline (a check): reported as errors. */
  added?: ReadonlySet<ScanFinding>;
  /** A check that failed: the message goes into the invocation, which is marked as such. */
  failure?: string;
  /** sqlmigrate's version (read from package.json when absent). */
  version?: string;
  /** Include `originalUriBaseIds` with the scanned folder's file URI (default true). */
  includeRoot?: boolean;
}

export { sqlmigrateVersion } from '../version';

function artifactUri(rel: string): string {
  return rel.split('/').map(encodeURIComponent).join('/');
}

function statementText(f: ScanFinding): string {
  if (f.rule === 'raw-sql') return (f.sql?.text ?? f.message).replace(/\s+/g, ' ').trim();
  return `${f.callee ?? ''}|${(f.entities ?? []).join(',')}|${f.message}`;
}

function resultMessage(f: ScanFinding, added: boolean): string {
  const parts = [f.message.replace(/\s+/g, ' ').trim()];
  if (f.rule === 'raw-sql') {
    const facts = [f.kind === 'ddl' ? 'DDL' : f.kind.toUpperCase(), f.tables.length ? `tables: ${f.tables.join(', ')}` : '', `complexity: ${f.complexity}`, f.dynamic ? 'built at run time (injection risk)' : ''].filter(Boolean);
    parts.push(`(${facts.join('; ')})`);
  }
  if (added) parts.push('— more statements of this rule in this file than at the baseline.');
  if (f.exception) parts.push(`Kept on purpose: ${f.exception.reason}`);
  return parts.join(' ');
}

/** The SARIF log object. */
export function sarifLog(report: ScanReport, options: SarifOptions = {}): Record<string, unknown> {
  const version = options.version ?? currentVersion();
  const rules = RULES.map((id) => {
    const info = RULE_INFO[id];
    return {
      id,
      name: info.name,
      shortDescription: { text: ruleTitle(id) },
      fullDescription: { text: info.full },
      help: { text: `${info.full} (Rules are described in sqlmigrate's README.)` },
      defaultConfiguration: { level: info.level },
      properties: { tags: info.tags, precision: 'high' },
    };
  });
  const occurrences = new Map<string, number>();
  const results = report.findings.map((f) => {
    const added = options.added?.has(f) ?? false;
    const key = `${f.rule}\0${f.file}\0${statementText(f)}`;
    const n = occurrences.get(key) ?? 0;
    occurrences.set(key, n + 1);
    const fingerprint = createHash('sha256').update(`${key}\0${n}`).digest('hex').slice(0, 32);
    const level: Level = added ? 'error' : f.dynamic && f.rule === 'raw-sql' ? 'warning' : RULE_INFO[f.rule].level;
    const result: Record<string, unknown> = {
      ruleId: f.rule,
      ruleIndex: RULES.indexOf(f.rule),
      level,
      message: { text: resultMessage(f, added) },
      locations: [
        {
          physicalLocation: {
            artifactLocation: { uri: artifactUri(f.file), uriBaseId: '%SRCROOT%' },
            region: { startLine: f.startLine, startColumn: f.startColumn, endLine: f.endLine, endColumn: Math.max(f.endColumn, f.endLine === f.startLine ? f.startColumn : 1) },
          },
        },
      ],
      partialFingerprints: { 'sqlmigrate/v1': fingerprint },
      properties: {
        language: f.language,
        driver: f.driver,
        kind: f.kind,
        tables: f.tables,
        complexity: f.complexity,
        dynamic: f.dynamic,
        ...(added ? { addedSinceBaseline: true } : {}),
      },
    };
    if (f.exception) {
      result.suppressions = [{ kind: f.exception.source === 'config' ? 'external' : 'inSource', status: 'accepted', justification: f.exception.reason }];
    }
    return result;
  });
  const notifications: Array<Record<string, unknown>> = [];
  if (options.failure) notifications.push({ level: 'error', message: { text: options.failure }, descriptor: { id: 'sqlmigrate-check' } });
  for (const s of report.summary.skipped.slice(0, 1000)) {
    notifications.push({
      level: 'note',
      message: { text: `Skipped: ${s.reason}` },
      locations: [{ physicalLocation: { artifactLocation: { uri: artifactUri(s.file), uriBaseId: '%SRCROOT%' } } }],
    });
  }
  const run: Record<string, unknown> = {
    tool: { driver: { name: 'sqlmigrate', version, semanticVersion: version, rules } },
    automationDetails: { id: 'sqlmigrate/' },
    columnKind: 'utf16CodeUnits',
    invocations: [{ executionSuccessful: !options.failure, ...(notifications.length ? { toolExecutionNotifications: notifications } : {}) }],
    results,
  };
  if (options.includeRoot !== false) {
    let uri = pathToFileURL(report.root).href;
    if (!uri.endsWith('/')) uri += '/';
    run.originalUriBaseIds = { '%SRCROOT%': { uri } };
  }
  return { $schema: SARIF_SCHEMA_URI, version: '2.1.0', runs: [run] };
}

/** The SARIF log as text (what `--format sarif` prints). */
export function toSarif(report: ScanReport, options: SarifOptions = {}): string {
  return JSON.stringify(sarifLog(report, options), null, 2) + '\n';
}
