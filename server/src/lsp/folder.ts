/**
 * One workspace folder as the server keeps it: its config, its baseline, and an index of the
 * findings in every file (from disk, or from the editor's buffer for open documents). The index
 * is what the tree, the status bar and "Record baseline" read; it is kept true by the start-up
 * scan, document edits and file events.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError, DEFAULT_CONFIG, detectOptions, PathRules, type Config } from '../engine/config';
import { DriverIndex } from '../engine/imports';
import { loadConfig } from '../engine/scan';
import type { DetectOptions, Finding } from '../engine/types';
import { computeProgress, countedRules, LedgerError, readBaseline, type Baseline, type LedgerFile } from '../ledger';
import type { FileProgress, FolderProgress } from '../protocol';

export interface IndexedFile {
  rel: string;
  findings: Finding[];
  /** Monotonic update stamp: lets a scan that started earlier leave newer entries alone. */
  stamp: number;
}

export class Folder {
  config: Config = DEFAULT_CONFIG;
  configError: string | null = null;
  rules: PathRules = new PathRules(DEFAULT_CONFIG);
  detect: DetectOptions = detectOptions(DEFAULT_CONFIG);
  baseline: Baseline | null = null;
  baselineError: string | null = null;
  readonly index = new Map<string, IndexedFile>();
  /** What each module exports bound to a driver (`export const pool = new Pool()`), for findings of other files. */
  readonly drivers = new DriverIndex();
  filesScanned = 0;
  /** Resolves when the running scan (if any) ends. */
  scanning: Promise<void> | undefined;
  scanGeneration = 0;

  constructor(readonly root: string, readonly uri: string, readonly name: string) {}

  /** Reads `.sqlmigrate.json`; invalid config falls back to defaults and is reported in configError. */
  loadConfig(): void {
    try {
      this.config = loadConfig(this.root);
      this.configError = null;
    } catch (e) {
      this.config = DEFAULT_CONFIG;
      this.configError = e instanceof ConfigError ? `${e.file}: ${e.details.join('; ')}` : String((e as Error)?.message ?? e);
    }
    this.rules = new PathRules(this.config);
    this.detect = detectOptions(this.config);
  }

  loadBaseline(): void {
    try {
      this.baseline = readBaseline(this.root);
      this.baselineError = null;
    } catch (e) {
      this.baseline = null;
      this.baselineError = e instanceof LedgerError ? e.message : String((e as Error)?.message ?? e);
    }
  }

  /** The path relative to the root with forward slashes, or undefined when outside. */
  relOf(fsPath: string): string | undefined {
    const rel = path.relative(this.root, fsPath);
    if (!rel || rel.startsWith('..') || path.isAbsolute(rel)) return undefined;
    return rel.split(path.sep).join('/');
  }

  uriOf(rel: string): string {
    return pathToFileURL(path.join(this.root, rel)).toString();
  }

  /** Adds config exceptions (the engine applies inline ones). */
  withConfigExceptions(rel: string, findings: Finding[]): Finding[] {
    return findings.map((f) => {
      if (f.exception || f.rule === 'exception-missing-reason') return f;
      const x = this.rules.exceptionFor(rel, f.rule);
      return x ? { ...f, exception: { reason: x.reason, source: 'config' as const } } : f;
    });
  }

  /** Records a file's findings (removing the entry when there are none). */
  setFile(rel: string, findings: Finding[], stamp: number): void {
    if (findings.length) this.index.set(rel, { rel, findings, stamp });
    else this.index.delete(rel);
  }

  /** Records what a freshly analysed file exports bound to a driver (nothing: forgets it). */
  setDriverExports(rel: string, exports: Record<string, string> | undefined): void {
    if (exports && Object.keys(exports).length) this.drivers.add(rel, exports);
    else this.drivers.remove(rel);
  }

  /** Findings of `rel` with drivers resolved across modules (read at use time: the other module may be analysed later). */
  withDrivers(rel: string, findings: Finding[]): Finding[] {
    return this.drivers.size ? findings.map((f) => this.drivers.resolved(rel, f)) : findings;
  }

  /** Removes a file, or every file under a folder path. Returns how many entries went. */
  removePath(rel: string): number {
    this.drivers.remove(rel);
    let n = this.index.delete(rel) ? 1 : 0;
    const prefix = rel + '/';
    for (const key of [...this.index.keys()]) {
      if (key.startsWith(prefix)) {
        this.index.delete(key);
        n++;
      }
    }
    return n;
  }

  ledgerFiles(): LedgerFile[] {
    return [...this.index.values()].map((e) => ({ path: e.rel, findings: e.findings.map((f) => ({ rule: f.rule, kept: !!f.exception })) }));
  }

  progress(summaryOnly = false): FolderProgress {
    const rules = countedRules(this.config);
    const p = computeProgress(this.ledgerFiles(), this.baseline, rules, this.config.target.reduction, (rel) => fs.existsSync(path.join(this.root, rel)));
    const files: FileProgress[] = summaryOnly
      ? []
      : p.files.map((f) => ({
          uri: this.uriOf(f.path),
          path: f.path,
          status: f.status,
          remaining: f.remaining,
          kept: f.kept,
          baseline: f.baseline,
          progress: f.progress,
          rules: f.rules as Record<string, number>,
          ...(f.deleted ? { deleted: true } : {}),
        }));
    return {
      uri: this.uri,
      name: this.name,
      baseline: this.baseline ? { recordedAt: this.baseline.recordedAt, commit: this.baseline.commit, remaining: this.baseline.remaining, kept: this.baseline.kept } : null,
      baselineError: this.baselineError,
      configError: this.configError,
      remaining: p.remaining,
      kept: p.kept,
      migrated: p.migrated,
      progress: p.progress,
      target: p.target,
      rules: p.rules as Record<string, number>,
      filesScanned: this.filesScanned,
      files,
    };
  }
}
