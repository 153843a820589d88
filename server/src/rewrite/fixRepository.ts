/**
 * `sqlmigrate fix --target repository`: raw SQL call sites → calls of repository methods, in
 * TS/JS (a Knex-backed repository class, engine/rewrite/repository.ts) and Python (a SQLAlchemy
 * 2.0 repository taking a Session, engine/rewrite/python/repository.ts). Python repositories need
 * the table's mapped class: classes found in the tree are used; for a table with none, a model is
 * generated from the CREATE TABLE found in the tree (engine/rewrite/python/model.ts) into the
 * configured models file.
 *
 * The whole tree is rewritten in memory first: every file's text, including repository and model
 * files created or extended by earlier call sites (a second file's identical statement reuses the
 * first one's method). Then only files whose new text parses are written, atomically; a
 * call site whose own file would not parse is skipped with that reason, and the repository
 * methods only it needed are not written either (the repository texts are rebuilt from the
 * accepted call sites only).
 */
import * as path from 'node:path';
import { analyzeTextSync } from '../engine/analyze';
import { detectOptions, PathRules, type Config } from '../engine/config';
import { DriverIndex } from '../engine/imports';
import { applyEdits } from '../engine/rewrite';
import { applyTextEdits, pythonParses } from '../engine/rewrite/python';
import { createTablesIn, generateModel, initModelGeneration, modelsInPython, usesSqlModel, type DdlTable } from '../engine/rewrite/python/model';
import { pythonRepositoryFixAll } from '../engine/rewrite/python/repository';
import { tsRepositoryFixAll } from '../engine/rewrite/repository';
import { repositoryConfig, withPackageRoot, type FileChange, type PythonModel } from '../engine/rewrite/repositoryTypes';
import type { Finding } from '../engine/types';
import { listFiles, readSourceFile, type SkippedFile } from '../engine/scan';
import { rewriteOptions, writeAtomic } from './fix';
import { loadModelTemplates, loadPythonRepositoryTemplates, loadTsRepositoryTemplates } from './templates';

export interface RepositoryFixReport {
  applied: Array<{ file: string; startLine: number; rule: string; target: string; method?: string }>;
  skipped: Array<{ file: string; startLine: number; reason: string }>;
  /** Files created or changed besides the call sites' own (repositories, models). */
  files: Array<{ file: string; created: boolean }>;
}

const DDL_FILE = /\.(sql|py|ts|js|mjs|cjs)$/i;

/** The tree's texts in memory, by workspace-relative '/'-separated path; changes recorded. */
class Tree {
  private readonly texts = new Map<string, string | undefined>();
  readonly changed = new Map<string, { before: string | undefined; after: string }>();

  constructor(private readonly source: (rel: string) => string | undefined) {}

  read = (rel: string): string | undefined => {
    const norm = rel.replace(/\\/g, '/');
    if (this.changed.has(norm)) return this.changed.get(norm)!.after;
    if (!this.texts.has(norm)) this.texts.set(norm, norm.split('/').includes('..') ? undefined : this.source(norm));
    return this.texts.get(norm);
  };

  set(rel: string, after: string): void {
    const norm = rel.replace(/\\/g, '/');
    const prior = this.changed.get(norm);
    this.changed.set(norm, { before: prior ? prior.before : this.read(norm), after });
  }

  apply(changes: FileChange[]): void {
    for (const c of changes) this.set(c.file, c.after);
  }
}

/** A file of the tree as it is on disk (undefined when absent, unreadable or not text). */
export function diskReader(root: string, maxFileSize: number): (rel: string) => string | undefined {
  return (rel) => {
    const abs = path.join(root, ...rel.split('/'));
    if (!abs.startsWith(root + path.sep)) return undefined;
    const r = readSourceFile(abs, maxFileSize);
    return 'skip' in r ? undefined : r.text;
  };
}

export interface RepositoryTreeOptions {
  /** The tree's files by workspace-relative path: the disk (diskReader), or the editor's buffers first. */
  read: (rel: string) => string | undefined;
  parsesTs: (text: string, file: string) => boolean;
  /** Only these files' call sites (all files are still read for models and CREATE TABLEs). */
  files?: string[];
  /** Only these findings (default: every raw-sql finding not kept on purpose). */
  select?: (rel: string, f: Finding) => boolean;
  /** Drivers across modules when the host already knows them (else built from the tree). */
  drivers?: DriverIndex;
}

/**
 * The repository fix over a tree, in memory: the report and every file's new text. Synchronous;
 * the Python parser must be loaded (initModelGeneration).
 */
export function planRepositoryTree(root: string, config: Config, options: RepositoryTreeOptions): { report: RepositoryFixReport; changes: Map<string, { before: string | undefined; after: string }> } {
  const rules = new PathRules(config);
  const detect = detectOptions(config);
  const repo = repositoryConfig(config.rewrite.repository);
  const report: RepositoryFixReport = { applied: [], skipped: [], files: [] };
  const tree = new Tree(options.read);
  const only = options.files ? new Set(options.files) : undefined;
  const kept = (rel: string, f: Finding) => !!f.exception || !!rules.exceptionFor(rel, f.rule);

  // One pass over the tree: findings, drivers, models and DDL.
  const skippedFiles: SkippedFile[] = [];
  const drivers = options.drivers ?? new DriverIndex();
  const sources: Array<{ rel: string; text: string; findings: Finding[] }> = [];
  const models: PythonModel[] = [];
  const ddl = new Map<string, DdlTable>();
  const pyTexts: Array<{ file: string; text: string }> = [];
  for (const entry of listFiles(root, rules, skippedFiles, (rel) => rules.isScanned(rel) || (/\.sql$/i.test(rel) && rules.isIncluded(rel)))) {
    const rel = entry.rel.split(path.sep).join('/');
    const text = tree.read(rel);
    if (text === undefined) continue;
    if (/\.py$/i.test(rel)) {
      pyTexts.push({ file: rel, text });
      for (const m of modelsInPython(text, rel)) {
        const importable = withPackageRoot(m, repo.python.packageRoot);
        if (importable) models.push(importable);
      }
    }
    if (DDL_FILE.test(rel) && /create\s+table/i.test(text)) for (const t of createTablesIn(text, rel)) if (!ddl.has(t.table.toLowerCase())) ddl.set(t.table.toLowerCase(), t);
    if (/\.sql$/i.test(rel)) continue;
    // With `files` (the editor's "every call site" fix), only those are analysed; drivers then come from the host.
    if (only && !only.has(rel)) continue;
    const result = analyzeTextSync(text, rel, detect);
    if (!options.drivers) drivers.add(rel, result.driverExports);
    if (result.findings.some((f) => f.rule === 'raw-sql' && !kept(rel, f) && (!options.select || options.select(rel, f)))) sources.push({ rel, text, findings: result.findings });
  }

  const style = repo.python.modelStyle === 'auto' ? (usesSqlModel(pyTexts) ? 'sqlmodel' : 'declarative') : repo.python.modelStyle;
  const modelTemplates = loadModelTemplates(root).templates;
  /** A mapped class for every table a Python statement names, generating one from DDL where none exists. */
  const ensureModels = (findings: Finding[]) => {
    for (const f of findings) {
      for (const table of f.tables) {
        if (models.some((m) => m.table.toLowerCase() === table.toLowerCase())) continue;
        const t = ddl.get(table.toLowerCase());
        if (!t) continue;
        const g = generateModel(t, { modelsFile: repo.python.models, modelsFileText: tree.read(repo.python.models), style, templates: modelTemplates });
        if ('reason' in g) continue; // the repository rewrite then says "no mapped class", with the reason below
        const importable = withPackageRoot(g.model, repo.python.packageRoot);
        if (!importable) continue;
        models.push(importable);
        tree.apply([g.change]);
      }
    }
  };

  const tsOpts = { ...rewriteOptions(root, config), repository: repo.typescript, readFile: tree.read, repositoryTemplates: loadTsRepositoryTemplates(root).templates };
  const pyTemplates = loadPythonRepositoryTemplates(root).templates;
  for (const { rel, text, findings: first } of sources) {
    const all = first.map((f) => drivers.resolved(rel, f));
    const statements = all.filter((f) => f.rule === 'raw-sql' && !kept(rel, f) && (!options.select || options.select(rel, f)));
    const isPy = /\.py$/i.test(rel);
    // The tree as it is before this file, to roll back to when this file's result does not parse.
    const snapshot = new Map(tree.changed);
    const modelCount = models.length;
    const rollback = () => {
      restore(tree, snapshot);
      models.length = modelCount;
    };
    if (isPy) ensureModels(statements);
    const fix = isPy
      ? pythonRepositoryFixAll(text, rel, statements, { config: repo.python, models, readFile: tree.read, templates: pyTemplates })
      : tsRepositoryFixAll(text, rel, statements, tsOpts, all);
    for (const s of fix.skipped) report.skipped.push({ file: rel, startLine: s.finding.range.start.line + 1, reason: s.reason });
    if (!fix.applied.length) {
      rollback();
      continue;
    }
    let next: string | undefined;
    let reason: string | undefined;
    try {
      next = isPy ? applyTextEdits(text, fix.edits) : applyEdits(text, fix.edits);
    } catch (e) {
      reason = `edits could not be applied: ${(e as Error).message}`;
    }
    const parsesAll = (t: string, file: string) => (/\.py$/i.test(file) ? pythonParses(t) : options.parsesTs(t, file));
    if (next !== undefined && !parsesAll(next, rel)) reason = 'the rewritten file would not parse; nothing written';
    const bad = next === undefined || reason ? undefined : fix.files.find((c) => !parsesAll(c.after, c.file));
    if (bad) reason = `${bad.file} would not parse; nothing written`;
    if (reason || next === undefined) {
      rollback();
      for (const a of fix.applied) report.skipped.push({ file: rel, startLine: a.finding.range.start.line + 1, reason: reason ?? 'not applied' });
      continue;
    }
    tree.apply(fix.files);
    tree.set(rel, next);
    for (const a of fix.applied) report.applied.push({ file: rel, startLine: a.finding.range.start.line + 1, rule: 'raw-sql', target: 'repository', method: `${a.method.className}.${a.method.name}` });
  }

  const changes = new Map<string, { before: string | undefined; after: string }>();
  for (const [rel, c] of tree.changed) {
    if (c.before === c.after) continue;
    changes.set(rel, c);
    if (!sources.some((s) => s.rel === rel)) report.files.push({ file: rel, created: c.before === undefined });
  }
  const order = (a: { file: string; startLine: number }, b: { file: string; startLine: number }) => a.file.localeCompare(b.file) || a.startLine - b.startLine;
  report.applied.sort(order);
  report.skipped.sort(order);
  report.files.sort((a, b) => a.file.localeCompare(b.file));
  return { report, changes };
}

/** `sqlmigrate fix --target repository`: plans over the files on disk, writes (unless a dry run), returns the report. */
export async function fixRepositoryTree(root: string, config: Config, options: { dryRun: boolean; parsesTs: (text: string, file: string) => boolean }): Promise<RepositoryFixReport> {
  await initModelGeneration(); // the Python parser, for models and analysis
  const { report, changes } = planRepositoryTree(root, config, { read: diskReader(root, config.maxFileSize), parsesTs: options.parsesTs });
  if (!options.dryRun) for (const [rel, c] of changes) writeAtomic(path.join(root, ...rel.split('/')), c.after);
  return report;
}

function restore(tree: Tree, snapshot: Map<string, { before: string | undefined; after: string }>): void {
  tree.changed.clear();
  for (const [k, v] of snapshot) tree.changed.set(k, v);
}
