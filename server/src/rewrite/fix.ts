/**
 * `sqlmigrate fix [dir] --target knex [--dry-run] [--format text|json]`: applies every verified
 * Knex rewrite under dir (the same edits as the editor's "fix all"), file by file.
 *
 *   { "applied": [ { "file", "startLine", "rule", "target" } ], "skipped": [ { "file", "startLine", "reason" } ] }
 *
 * A file is written only when its rewritten text parses with the TypeScript parser; writes go
 * to a temporary file renamed over the original. `--dry-run` writes nothing. Exit codes:
 * 0 done (skips are not errors), 2 usage or configuration error.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import * as ts from 'typescript';
import { analyzeText } from '../engine/analyze';
import { ConfigError, detectOptions, PathRules, type Config, type RewriteConfig } from '../engine/config';
import { applyEdits, fixAll, type RewriteOptions } from '../engine/rewrite';
import { listFiles, loadConfig, readSourceFile, type SkippedFile } from '../engine/scan';
import { loadTemplates } from './templates';

export interface FixIo {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
}

export const FIX_USAGE = `  fix [dir]       Rewrite raw SQL to verified Knex query-builder calls under dir (default: .)
      --target knex                  the rewrite target (required)
      --dry-run                      report what would change, write nothing
      --format text|json             output format (default: text)
`;

export interface FixReport {
  applied: Array<{ file: string; startLine: number; rule: string; target: string }>;
  skipped: Array<{ file: string; startLine: number; reason: string }>;
}

export function rewriteOptions(root: string, config: Config, rewrite: RewriteConfig = config.rewrite): RewriteOptions {
  return {
    knex: rewrite.knex,
    defaultDialect: config.dialect,
    workspaceRoot: root,
    templates: loadTemplates(root).templates,
    wrapperResults: rewrite.wrappers,
  };
}

function parses(text: string, fileName: string): boolean {
  const ext = path.extname(fileName).toLowerCase();
  const kind = ext === '.tsx' ? ts.ScriptKind.TSX : ext === '.jsx' ? ts.ScriptKind.JSX : /\.[cm]?js$/.test(ext) ? ts.ScriptKind.JS : ts.ScriptKind.TS;
  const sf = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true, kind);
  return ((sf as unknown as { parseDiagnostics?: unknown[] }).parseDiagnostics ?? []).length === 0;
}

function writeAtomic(file: string, text: string): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.sqlmigrate-${process.pid}.tmp`);
  const mode = fs.statSync(file).mode;
  fs.writeFileSync(tmp, text, { mode });
  fs.renameSync(tmp, file);
}

/** Runs the fix over a tree and returns the report (no output). */
export async function fixTree(root: string, options: { dryRun: boolean }): Promise<FixReport> {
  const config = loadConfig(root);
  const rules = new PathRules(config);
  const detect = detectOptions(config);
  const opts = rewriteOptions(root, config);
  const report: FixReport = { applied: [], skipped: [] };
  const skippedFiles: SkippedFile[] = [];
  for (const entry of listFiles(root, rules, skippedFiles)) {
    if (!/\.(ts|tsx|mts|cts|js|jsx|mjs|cjs)$/i.test(entry.rel)) continue;
    const read = readSourceFile(entry.abs, config.maxFileSize);
    if ('skip' in read) continue;
    const result = await analyzeText(read.text, entry.rel, detect);
    const findings = result.findings.filter((f) => f.rule === 'raw-sql' && !f.exception && !rules.exceptionFor(entry.rel, 'raw-sql'));
    if (!findings.length) continue;
    const fix = fixAll(read.text, entry.rel, findings, opts);
    for (const s of fix.skipped) report.skipped.push({ file: entry.rel, startLine: s.finding.range.start.line + 1, reason: s.reason });
    if (!fix.applied.length) continue;
    let next: string;
    try {
      next = applyEdits(read.text, fix.edits);
    } catch (e) {
      for (const a of fix.applied) report.skipped.push({ file: entry.rel, startLine: a.finding.range.start.line + 1, reason: `edits could not be applied: ${(e as Error).message}` });
      continue;
    }
    if (!parses(next, entry.rel)) {
      for (const a of fix.applied) report.skipped.push({ file: entry.rel, startLine: a.finding.range.start.line + 1, reason: 'the rewritten file would not parse; nothing written' });
      continue;
    }
    if (!options.dryRun) writeAtomic(entry.abs, next);
    for (const a of fix.applied) report.applied.push({ file: entry.rel, startLine: a.finding.range.start.line + 1, rule: 'raw-sql', target: a.target });
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
      options: { target: { type: 'string' }, 'dry-run': { type: 'boolean', default: false }, format: { type: 'string', default: 'text' }, help: { type: 'boolean', short: 'h' } },
    });
  } catch (e) {
    io.stderr(`sqlmigrate fix: ${(e as Error).message}\n${FIX_USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.stdout(`Usage: sqlmigrate fix [dir] --target knex [--dry-run] [--format text|json]\n${FIX_USAGE}`);
    return 0;
  }
  if (values.target !== 'knex') {
    io.stderr(`sqlmigrate fix: --target ${values.target ?? '(missing)'} is not supported; use --target knex\n`);
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
  let report: FixReport;
  try {
    report = await fixTree(root, { dryRun: !!values['dry-run'] });
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
    for (const a of report.applied) io.stdout(`${a.file}:${a.startLine}  ${verb} (${a.target})\n`);
    for (const s of report.skipped) io.stdout(`${s.file}:${s.startLine}  skipped: ${s.reason}\n`);
    io.stdout(`${report.applied.length} ${verb}, ${report.skipped.length} skipped\n`);
  }
  return 0;
}
