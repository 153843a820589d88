/**
 * `sqlmigrate fix [dir] --target knex|sqlalchemy2|repository [--rule <id>] [--dry-run] [--format text|json]`:
 * applies every verified rewrite under dir (the same edits as the editor's "fix all"), file by
 * file: `knex` rewrites hand-written pg transactions (first) and raw SQL in TS/JS files, `sqlalchemy2` rewrites SQLAlchemy 1.x
 * `session.query(...)` chains (rule session-legacy-query) in .py files to 2.0 `select()` style,
 * `repository` moves raw SQL call sites (TS/JS and Python) into repository methods
 * (fixRepository.ts), creating or extending repository files and generating missing models.
 *
 *   { "applied": [ { "file", "startLine", "rule", "target", "method"? } ], "skipped": [ { "file", "startLine", "reason" } ],
 *     "files"?: [ { "file", "created" } ] }   (files: repository --target only)
 *
 * A file is written only when its rewritten text parses (the TypeScript parser; tree-sitter-python
 * for .py files); writes go to a temporary file renamed over the original. `--dry-run` writes
 * nothing. A dir inside a git work tree with uncommitted changes is refused (exit 2) unless
 * `--force`. Exit codes:
 * 0 done (skips are not errors), 2 usage or configuration error.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import * as ts from 'typescript';
import { analyzeText } from '../engine/analyze';
import { DriverIndex } from '../engine/imports';
import type { Finding } from '../engine/types';
import { ConfigError, detectOptions, PathRules, type Config, type RewriteConfig } from '../engine/config';
import { applyEdits, fixAll, transactionFixAll, type RewriteOptions, type TextEdit } from '../engine/rewrite';
import { applyTextEdits, pythonParses, sqlalchemyFixAll } from '../engine/rewrite/python';
import { listFiles, loadConfig, readSourceFile, type SkippedFile } from '../engine/scan';
import { fixRepositoryTree } from './fixRepository';
import { loadSqlalchemyTemplates, loadTemplates } from './templates';

export interface FixIo {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
}

export const FIX_USAGE = `  fix [dir]       Apply verified rewrites under dir (default: .)
      --target knex                  raw SQL → Knex query-builder calls, hand-written transactions → db.transaction() (TS/JS; rules raw-sql, manual-transaction)
      --target sqlalchemy2           session.query() chains → SQLAlchemy 2.0 select() (Python; rule session-legacy-query)
      --target repository            raw SQL call sites → repository methods (TS/JS: Knex-backed class; Python: SQLAlchemy 2.0
                                     repository + models generated from CREATE TABLE where missing; rule raw-sql)
      --rule <id>                    only findings of this rule (the target's rule is the only one rewritten)
      --dry-run                      report what would change, write nothing
      --force                        write even when dir has uncommitted git changes
      --format text|json             output format (default: text)
`;

export interface FixReport {
  applied: Array<{ file: string; startLine: number; rule: string; target: string; method?: string }>;
  skipped: Array<{ file: string; startLine: number; reason: string }>;
  /** Repository and model files created or changed (`--target repository`). */
  files?: Array<{ file: string; created: boolean }>;
}

export function rewriteOptions(root: string, config: Config, rewrite: RewriteConfig = config.rewrite): RewriteOptions {
  return {
    knex: rewrite.knex,
    defaultDialect: config.dialect,
    workspaceRoot: root,
    templates: loadTemplates(root).templates,
    wrapperResults: rewrite.wrappers,
    schemaMapping: rewrite.schemaMapping,
  };
}

export function parses(text: string, fileName: string): boolean {
  const ext = path.extname(fileName).toLowerCase();
  const kind = ext === '.tsx' ? ts.ScriptKind.TSX : ext === '.jsx' ? ts.ScriptKind.JSX : /\.[cm]?js$/.test(ext) ? ts.ScriptKind.JS : ts.ScriptKind.TS;
  const sf = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true, kind);
  return ((sf as unknown as { parseDiagnostics?: unknown[] }).parseDiagnostics ?? []).length === 0;
}

/**
 * Uncommitted changes under `root` when it is inside a git work tree (tracked files only), or
 * undefined (clean, not a repository, or git unavailable). A bulk rewrite over uncommitted work
 * would mix the two in one diff, and could not be undone by git alone.
 */
export function uncommittedChanges(root: string): string[] | undefined {
  const r = spawnSync('git', ['status', '--porcelain', '--untracked-files=no', '--', '.'], { cwd: root, encoding: 'utf8', timeout: 30_000 });
  if (r.error || r.status !== 0) return undefined;
  const lines = r.stdout.split('\n').filter(Boolean);
  return lines.length ? lines.map((l) => l.slice(3)) : undefined;
}

export type FixTarget = 'knex' | 'sqlalchemy2' | 'repository';
export const TARGET_RULE: Record<FixTarget, string> = { knex: 'raw-sql', sqlalchemy2: 'session-legacy-query', repository: 'raw-sql' };

/** Writes through a temporary file renamed over `file`, keeping its mode; a new file (and its folder) is created. */
export function writeAtomic(file: string, text: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.sqlmigrate-${process.pid}.tmp`);
  const mode = fs.existsSync(file) ? fs.statSync(file).mode : 0o644;
  fs.writeFileSync(tmp, text, { mode });
  fs.renameSync(tmp, file);
}

/** Runs the fix over a tree and returns the report (no output). */
export async function fixTree(root: string, options: { dryRun: boolean; target?: FixTarget }): Promise<FixReport> {
  if (options.target === 'sqlalchemy2') return fixPythonTree(root, options);
  if (options.target === 'repository') return fixRepositoryTree(root, loadConfig(root), { dryRun: options.dryRun, parsesTs: parses });
  const config = loadConfig(root);
  const rules = new PathRules(config);
  const detect = detectOptions(config);
  const opts = rewriteOptions(root, config);
  const report: FixReport = { applied: [], skipped: [] };
  const skippedFiles: SkippedFile[] = [];
  // Two passes, as the scan does: a `pool.query` in jobs.ts is pg only once pool.ts is read.
  const drivers = new DriverIndex();
  const kept = (rel: string, f: Finding) => !!f.exception || !!rules.exceptionFor(rel, f.rule);
  const candidates: Array<{ entry: { rel: string; abs: string }; text: string; findings: Finding[] }> = [];
  for (const entry of listFiles(root, rules, skippedFiles)) {
    if (!/\.(ts|tsx|mts|cts|js|jsx|mjs|cjs)$/i.test(entry.rel)) continue;
    const read = readSourceFile(entry.abs, config.maxFileSize);
    if ('skip' in read) continue;
    const result = await analyzeText(read.text, entry.rel, detect);
    drivers.add(entry.rel, result.driverExports);
    if (result.findings.some((f) => (f.rule === 'raw-sql' || f.rule === 'manual-transaction') && !kept(entry.rel, f))) candidates.push({ entry, text: read.text, findings: result.findings });
  }
  const skip = (rel: string, items: Array<{ finding: Finding }>, reason: string) => {
    for (const a of items) report.skipped.push({ file: rel, startLine: a.finding.range.start.line + 1, reason });
  };
  /** The text with the edits, when they apply and the result parses; else the reason. */
  const attempt = (text: string, rel: string, edits: TextEdit[]): { text: string } | { reason: string } => {
    let next: string;
    try {
      next = applyEdits(text, edits);
    } catch (e) {
      return { reason: `edits could not be applied: ${(e as Error).message}` };
    }
    return parses(next, rel) ? { text: next } : { reason: 'the rewritten file would not parse; nothing written' };
  };
  for (const { entry, text: original, findings: first } of candidates) {
    let text = original;
    let all = first.map((f) => drivers.resolved(entry.rel, f));
    // Hand-written transactions first: the statements inside them must not move to `db` on their own.
    const transactions = all.filter((f) => f.rule === 'manual-transaction' && !kept(entry.rel, f));
    if (transactions.length) {
      const t = transactionFixAll(text, entry.rel, transactions, opts);
      for (const x of t.skipped) report.skipped.push({ file: entry.rel, startLine: x.finding.range.start.line + 1, reason: x.reason });
      if (t.applied.length) {
        const r = attempt(text, entry.rel, t.edits);
        if ('reason' in r) skip(entry.rel, t.applied, r.reason);
        else {
          for (const a of t.applied) report.applied.push({ file: entry.rel, startLine: a.finding.range.start.line + 1, rule: 'manual-transaction', target: a.target });
          text = r.text;
          all = (await analyzeText(text, entry.rel, detect)).findings.map((f) => drivers.resolved(entry.rel, f));
        }
      }
    }
    const statements = all.filter((f) => f.rule === 'raw-sql' && !kept(entry.rel, f));
    const fix = fixAll(text, entry.rel, statements, opts, all);
    for (const x of fix.skipped) report.skipped.push({ file: entry.rel, startLine: x.finding.range.start.line + 1, reason: x.reason });
    if (fix.applied.length) {
      const r = attempt(text, entry.rel, fix.edits);
      if ('reason' in r) skip(entry.rel, fix.applied, r.reason);
      else {
        for (const a of fix.applied) report.applied.push({ file: entry.rel, startLine: a.finding.range.start.line + 1, rule: 'raw-sql', target: a.target });
        text = r.text;
      }
    }
    if (text !== original && !options.dryRun) writeAtomic(entry.abs, text);
  }
  const order = (a: { file: string; startLine: number }, b: { file: string; startLine: number }) => a.file.localeCompare(b.file) || a.startLine - b.startLine;
  report.applied.sort(order);
  report.skipped.sort(order);
  return report;
}

/** Rewrite passes per Python file (each pass only rewrites chains that no other rewrite contains). */
const MAX_PY_PASSES = 5;

/** `--target sqlalchemy2`: session.query() chains in .py files (startLine: the line in the text of the pass that rewrote it). */
async function fixPythonTree(root: string, options: { dryRun: boolean }): Promise<FixReport> {
  const config = loadConfig(root);
  const rules = new PathRules(config);
  const detect = detectOptions(config);
  const report: FixReport = { applied: [], skipped: [] };
  const skippedFiles: SkippedFile[] = [];
  const rule = 'session-legacy-query';
  const { templates } = loadSqlalchemyTemplates(root);
  for (const entry of listFiles(root, rules, skippedFiles)) {
    if (!/\.py$/i.test(entry.rel)) continue;
    const read = readSourceFile(entry.abs, config.maxFileSize);
    if ('skip' in read) continue;
    const result = await analyzeText(read.text, entry.rel, detect);
    let findings = result.findings.filter((f) => f.rule === rule && !f.exception && !rules.exceptionFor(entry.rel, rule));
    if (!findings.length) continue;
    // Passes: a chain nested in another (`x.in_(session.query(…))`) is rewritten on the next pass.
    let text = read.text;
    let lastSkipped: FixReport['skipped'] = [];
    const applied: FixReport['applied'] = [];
    for (let pass = 0; pass < MAX_PY_PASSES && findings.length; pass++) {
      const fix = sqlalchemyFixAll(text, entry.rel, findings, { templates });
      lastSkipped = fix.skipped.map((s) => ({ file: entry.rel, startLine: s.finding.range.start.line + 1, reason: s.reason }));
      if (!fix.applied.length) break;
      let next: string;
      try {
        next = applyTextEdits(text, fix.edits);
      } catch (e) {
        lastSkipped.push(...fix.applied.map((a) => ({ file: entry.rel, startLine: a.finding.range.start.line + 1, reason: `edits could not be applied: ${(e as Error).message}` })));
        break;
      }
      if (!pythonParses(next)) {
        lastSkipped.push(...fix.applied.map((a) => ({ file: entry.rel, startLine: a.finding.range.start.line + 1, reason: 'the rewritten file would not parse; nothing written' })));
        break;
      }
      applied.push(...fix.applied.map((a) => ({ file: entry.rel, startLine: a.finding.range.start.line + 1, rule, target: a.target })));
      text = next;
      findings = (await analyzeText(text, entry.rel, detect)).findings.filter((f) => f.rule === rule && !f.exception && !rules.exceptionFor(entry.rel, rule));
    }
    report.skipped.push(...lastSkipped);
    if (!applied.length) continue;
    if (!options.dryRun) writeAtomic(entry.abs, text);
    report.applied.push(...applied);
  }
  const order = (a: { file: string; startLine: number }, b: { file: string; startLine: number }) => a.file.localeCompare(b.file) || a.startLine - b.startLine;
  report.applied.sort(order);
  report.skipped.sort(order);
  return report;
}

/** `sqlmigrate fix …` (argv after the command name). */
export async function runFixCommand(argv: string[], io: FixIo): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { target: { type: 'string' }, rule: { type: 'string' }, 'dry-run': { type: 'boolean', default: false }, force: { type: 'boolean', default: false }, format: { type: 'string', default: 'text' }, help: { type: 'boolean', short: 'h' } },
    });
  } catch (e) {
    io.stderr(`sqlmigrate fix: ${(e as Error).message}\n${FIX_USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.stdout(`Usage: sqlmigrate fix [dir] --target knex|sqlalchemy2|repository [--rule <id>] [--dry-run] [--force] [--format text|json]\n${FIX_USAGE}`);
    return 0;
  }
  if (values.target !== 'knex' && values.target !== 'sqlalchemy2' && values.target !== 'repository') {
    io.stderr(`sqlmigrate fix: --target ${values.target ?? '(missing)'} is not supported; use --target knex, sqlalchemy2 or repository\n`);
    return 2;
  }
  const target: FixTarget = values.target;
  if (values.rule !== undefined && values.rule !== TARGET_RULE[target]) {
    io.stderr(`sqlmigrate fix: --target ${target} rewrites rule ${TARGET_RULE[target]} only, not ${values.rule}\n`);
    return 2;
  }
  if (values.format !== 'text' && values.format !== 'json') {
    io.stderr(`sqlmigrate fix: --format must be text or json\n`);
    return 2;
  }
  if (positionals.length > 1) {
    io.stderr('sqlmigrate fix: one directory at most\n');
    return 2;
  }
  const root = path.resolve(positionals[0] ?? '.');
  if (!fs.existsSync(root) || !fs.statSync(root).isDirectory()) {
    io.stderr(`sqlmigrate fix: ${root} is not a directory\n`);
    return 2;
  }
  if (!values['dry-run'] && !values.force) {
    const dirty = uncommittedChanges(root);
    if (dirty) {
      io.stderr(`sqlmigrate fix: ${root} has uncommitted changes (${dirty.slice(0, 3).join(', ')}${dirty.length > 3 ? `, … ${dirty.length} files` : ''}); commit or stash them so the rewrite is its own diff, use --dry-run, or pass --force\n`);
      return 2;
    }
  }
  let report: FixReport;
  try {
    report = await fixTree(root, { dryRun: !!values['dry-run'], target });
  } catch (e) {
    if (e instanceof ConfigError) {
      io.stderr(`sqlmigrate fix: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  if (values.format === 'json') {
    io.stdout(JSON.stringify(report, null, 2) + '\n');
  } else {
    const verb = values['dry-run'] ? 'would rewrite' : 'rewrote';
    for (const a of report.applied) io.stdout(`${a.file}:${a.startLine}  ${verb} (${a.target}${a.method ? `: ${a.method}` : ''})\n`);
    for (const f of report.files ?? []) io.stdout(`${f.file}  ${values['dry-run'] ? (f.created ? 'would create' : 'would change') : f.created ? 'created' : 'changed'}\n`);
    for (const s of report.skipped) io.stdout(`${s.file}:${s.startLine}  skipped: ${s.reason}\n`);
    io.stdout(`${report.applied.length} ${verb}, ${report.skipped.length} skipped\n`);
  }
  return 0;
}
