/**
 * Scanning a directory: walk it (following symbolic links, never in a loop), read each
 * supported file, skip what cannot be analysed with a reason, analyse the rest, and
 * attach config exceptions. The only part of the engine that touches the file system;
 * it reads and never writes.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { analyzeTextSync, initEngine, type AnalyzeResult } from './analyze';
import { DriverIndex } from './imports';
import { CONFIG_FILE, ConfigError, DEFAULT_CONFIG, detectOptions, parseConfig, PathRules, type Config } from './config';
import { sharedPool, defaultWorkerCount, type PoolTask } from './pool';
import { RULES, type DetectOptions, type Finding, type Language, type MappedModel, type Problem, type RuleId } from './types';

/** A finding as the scan reports it: paths relative to the scanned root, 1-based lines. */
export interface ScanFinding extends Omit<Finding, 'range'> {
  file: string;
  startLine: number;
  endLine: number;
  startColumn: number;
  endColumn: number;
}

export interface SkippedFile {
  file: string;
  reason: string;
}

export interface FileProblem {
  file: string;
  line?: number;
  message: string;
}

export interface ScanSummary {
  /** Every finding per rule, kept ones included. */
  totals: Record<RuleId, number>;
  /** Findings kept on purpose (inline comment, file comment or config), per rule. */
  kept: Record<RuleId, number>;
  /** totals − kept: what is left to migrate. */
  remaining: Record<RuleId, number>;
  filesScanned: number;
  filesWithFindings: number;
  skipped: SkippedFile[];
  problems: FileProblem[];
}

export interface ScanReport {
  root: string;
  summary: ScanSummary;
  findings: ScanFinding[];
  files: FileEntry[];
}

export interface FileEntry {
  file: string;
  language: Language;
  findings: number;
  kept: number;
}

export interface ScanOptions {
  /** Config to use; when absent it is read from `<root>/.sqlmigrate.json` (defaults if missing). */
  config?: Config;
  /** Called after each file, for progress reporting. */
  onProgress?: (done: number, file: string) => void;
  /**
   * Per-file results from an earlier scan (see server/src/cache): a file whose size and mtime,
   * or else whose content hash, still match is not analysed again. The engine only reads and
   * fills it; persisting it is the cache's business.
   */
  cache?: ResultCache;
  /** Worker threads for large scans, besides this thread (default: cores − 1; 0 = this thread only). */
  workers?: number;
}

/** What one file's analysis leaves behind: a skip reason, or the analysis (plain data). */
export type CachedAnalysis =
  | { skip: string; /** a reading problem (size, binary, encoding), not an analysis one */ read?: boolean }
  | { language: Language; findings: Finding[]; problems: Problem[]; models?: MappedModel[]; driverExports?: Record<string, string> };

/** A per-file store of analyses keyed by path and validated by stat and content hash. */
export interface ResultCache {
  /** The entry for rel when its size and mtime match (trusted without reading the file). */
  lookup(rel: string, size: number, mtimeMs: number): CachedAnalysis | undefined;
  /** The content hash recorded for rel, to compare with the file's current content. */
  hashOf(rel: string): string | undefined;
  /** rel's content is unchanged (same hash) under a new stat: keep the entry, return it. */
  touch(rel: string, size: number, mtimeMs: number): CachedAnalysis | undefined;
  set(rel: string, size: number, mtimeMs: number, hash: string, value: CachedAnalysis): void;
  /** Forgets every path not in `rels` (deleted or excluded files). */
  retain(rels: Set<string>): void;
}

/** One file read and analysed: what a worker thread posts back, or the same computed here. */
export type FileOutcome =
  | { kind: 'readSkip'; reason: string }
  | { kind: 'same'; hash: string }
  | { kind: 'done'; hash: string; result: AnalyzeResult };

/**
 * Scans with at least this many files to analyse go to the worker threads: each worker loads
 * and warms up the engine (about a second of CPU), which only pays off on large trees.
 */
const POOL_MIN_FILES = 512;

/** Reads and analyses one file (in a worker or in this thread). */
export function processFile(abs: string, rel: string, maxFileSize: number, detect: DetectOptions, opts: { hash?: boolean; knownHash?: string } = {}): FileOutcome {
  const read = readSourceFile(abs, maxFileSize);
  if ('skip' in read) return { kind: 'readSkip', reason: read.skip };
  const hash = opts.hash || opts.knownHash ? contentHash(read.text) : '';
  if (opts.knownHash && hash === opts.knownHash) return { kind: 'same', hash };
  return { kind: 'done', hash, result: analyzeTextSync(read.text, rel, detect) };
}

export function contentHash(text: string): string {
  return createHash('sha1').update(text).digest('base64');
}

function toCached(o: FileOutcome): CachedAnalysis | undefined {
  if (o.kind === 'readSkip') return { skip: o.reason, read: true };
  if (o.kind === 'same') return undefined;
  const r = o.result;
  if (r.skipped) return { skip: r.skipped };
  return { language: r.language!, findings: r.findings, problems: r.problems, ...(r.models?.length ? { models: r.models } : {}), ...(r.driverExports ? { driverExports: r.driverExports } : {}) };
}

export function emptyCounts(): Record<RuleId, number> {
  return Object.fromEntries(RULES.map((r) => [r, 0])) as Record<RuleId, number>;
}

/** Reads `<root>/.sqlmigrate.json`; defaults when absent; throws ConfigError when invalid. */
export function loadConfig(root: string): Config {
  const file = path.join(root, CONFIG_FILE);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return DEFAULT_CONFIG;
    throw new ConfigError(CONFIG_FILE, [`cannot be read: ${(e as Error).message}`]);
  }
  return parseConfig(text, CONFIG_FILE);
}

export interface WalkEntry {
  rel: string;
  abs: string;
}

/** Lists the files to scan under root (or those `accept` takes), in a stable order, recording what is skipped and why. */
export function listFiles(root: string, rules: PathRules, skipped: SkippedFile[], accept: (rel: string) => boolean = (rel) => rules.isScanned(rel)): WalkEntry[] {
  const out: WalkEntry[] = [];
  const visited = new Set<string>();
  const rootReal = safeRealpath(root);
  if (rootReal) visited.add(rootReal);
  const stack: string[] = [''];
  while (stack.length) {
    const relDir = stack.pop()!;
    const absDir = relDir ? path.join(root, relDir) : root;
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(absDir, { withFileTypes: true });
    } catch (e) {
      skipped.push({ file: relDir || '.', reason: `folder cannot be read: ${errorText(e)}` });
      continue;
    }
    entries.sort((a, b) => (a.name < b.name ? 1 : a.name > b.name ? -1 : 0));
    const dirs: string[] = [];
    for (const entry of entries) {
      const rel = relDir ? `${relDir}/${entry.name}` : entry.name;
      const abs = path.join(absDir, entry.name);
      let isDir = entry.isDirectory();
      let isFile = entry.isFile();
      if (entry.isSymbolicLink()) {
        let st: fs.Stats;
        try {
          st = fs.statSync(abs);
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          if (code === 'ELOOP') skipped.push({ file: rel, reason: 'symbolic link loop' });
          else if (rules.isScanned(rel)) skipped.push({ file: rel, reason: `broken symbolic link (${code ?? errorText(e)})` });
          continue;
        }
        isDir = st.isDirectory();
        isFile = st.isFile();
      }
      if (isDir) {
        if (rules.isExcludedDirectory(rel)) continue;
        const real = safeRealpath(abs);
        if (!real) continue;
        if (visited.has(real)) {
          skipped.push({ file: rel, reason: `symbolic link loop (already scanned as ${path.relative(root, real).split(path.sep).join('/') || '.'})` });
          continue;
        }
        visited.add(real);
        dirs.push(rel);
      } else if (isFile && accept(rel)) {
        out.push({ rel, abs });
      }
    }
    for (const d of dirs) stack.push(d);
  }
  return out.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

export type ReadResult = { text: string } | { skip: string };

/** Reads one file as UTF-8 text, or says why it cannot be analysed. */
export function readSourceFile(abs: string, maxFileSize: number): ReadResult {
  let size: number;
  try {
    size = fs.statSync(abs).size;
  } catch (e) {
    return { skip: `cannot be read: ${errorText(e)}` };
  }
  if (size > maxFileSize) return { skip: `larger than the ${formatBytes(maxFileSize)} limit (${formatBytes(size)}; raise maxFileSize in ${CONFIG_FILE} to scan it)` };
  let buf: Buffer;
  try {
    buf = fs.readFileSync(abs);
  } catch (e) {
    return { skip: `cannot be read: ${errorText(e)}` };
  }
  const nul = buf.indexOf(0);
  if (nul >= 0) return { skip: `binary file (a NUL byte at offset ${nul})` };
  try {
    return { text: utf8.decode(buf) };
  } catch {
    return { skip: `not valid UTF-8 (first invalid byte at offset ${firstInvalidUtf8(buf)})` };
  }
}

export async function scanDirectory(root: string, options: ScanOptions = {}): Promise<ScanReport> {
  const config = options.config ?? loadConfig(root);
  const workers = options.workers ?? defaultWorkerCount();
  // Start the workers (they load the engine) while this thread walks the tree.
  const pool = workers > 0 ? sharedPool(workers) : undefined;
  await initEngine();
  const rules = new PathRules(config);
  const detect = detectOptions(config);
  const skipped: SkippedFile[] = [];
  const problems: FileProblem[] = [];
  const findings: ScanFinding[] = [];
  const files: FileEntry[] = [];
  const list = listFiles(root, rules, skipped);
  const models = new ModelIndex();
  const cache = options.cache;

  // 1. What the cache already knows (stat match), and what must be read.
  const analyses: Array<CachedAnalysis | undefined> = new Array(list.length);
  const stats: Array<{ size: number; mtimeMs: number } | undefined> = new Array(list.length);
  const todo: number[] = [];
  for (let i = 0; i < list.length; i++) {
    if (cache) {
      let st: fs.Stats | undefined;
      try {
        st = fs.statSync(list[i].abs);
      } catch {
        st = undefined;
      }
      if (st) {
        stats[i] = { size: st.size, mtimeMs: st.mtimeMs };
        const hit = cache.lookup(list[i].rel, st.size, st.mtimeMs);
        if (hit) {
          analyses[i] = hit;
          continue;
        }
      }
    }
    todo.push(i);
  }

  // 2. Read and analyse the rest: worker threads for many files, this thread for a few.
  // Progress is reported in list order, as soon as every file before it is settled.
  let reported = 0;
  const report = () => {
    while (reported < list.length && analyses[reported] !== undefined) {
      const a = analyses[reported]!;
      reported++;
      if (!('skip' in a && a.read)) options.onProgress?.(reported, list[reported - 1].rel);
    }
  };
  const settle = (i: number, o: FileOutcome) => {
    const rel = list[i].rel;
    let value = toCached(o);
    if (o.kind === 'same') value = stats[i] ? cache?.touch(rel, stats[i]!.size, stats[i]!.mtimeMs) : undefined;
    if (!value) value = toCached(processFile(list[i].abs, rel, config.maxFileSize, detect)); // the entry vanished meanwhile
    analyses[i] = value;
    if (cache && stats[i] && value && o.kind !== 'same') cache.set(rel, stats[i]!.size, stats[i]!.mtimeMs, o.kind === 'done' ? o.hash : '', value);
    if (options.onProgress) report();
  };
  if (options.onProgress) report();
  const tasks: PoolTask[] = todo.map((i) => ({ abs: list[i].abs, rel: list[i].rel, knownHash: cache?.hashOf(list[i].rel) }));
  let pooled = false;
  if (pool && todo.length >= POOL_MIN_FILES) {
    try {
      await pool.run(
        tasks,
        { detect, maxFileSize: config.maxFileSize, hash: !!cache },
        (k, o) => settle(todo[k], o),
        (t) => processFile(t.abs, t.rel, config.maxFileSize, detect, { hash: !!cache, knownHash: t.knownHash }),
      );
      pooled = true;
    } catch {
      pooled = false; // a worker failed: whatever is missing is analysed below, in this thread
    }
  }
  if (!pooled) {
    for (let k = 0; k < todo.length; k++) {
      const i = todo[k];
      if (analyses[i] === undefined) settle(i, processFile(list[i].abs, list[i].rel, config.maxFileSize, detect, { hash: !!cache, knownHash: tasks[k].knownHash }));
    }
  }
  if (cache) cache.retain(new Set(list.map((e) => e.rel)));

  // 3. Assemble in list order: the same report whichever way the files were analysed. Drivers
  // created in one module and used in another are joined first (imports.ts).
  const drivers = new DriverIndex();
  for (let i = 0; i < list.length; i++) {
    const a = analyses[i]!;
    if (!('skip' in a)) drivers.add(list[i].rel, a.driverExports);
  }
  for (let i = 0; i < list.length; i++) {
    const entry = list[i];
    const a = analyses[i]!;
    if ('skip' in a) {
      skipped.push({ file: entry.rel, reason: a.skip });
      continue;
    }
    models.add(a.models);
    for (const p of a.problems) problems.push({ file: entry.rel, line: p.range ? p.range.start.line + 1 : undefined, message: p.message });
    const fileFindings = a.findings.map((f) => toScanFinding(entry.rel, drivers.resolved(entry.rel, f), rules));
    for (const f of fileFindings) findings.push(f);
    files.push({ file: entry.rel, language: a.language, findings: fileFindings.length, kept: fileFindings.filter((f) => f.exception).length });
  }
  models.resolve(findings);
  return { root, summary: summarise(findings, files.length, skipped, problems), findings, files };
}

/**
 * ORM classes mapped anywhere in the tree (`class Job(Base): __tablename__ = "jobs"` in
 * models.py), so a `session.query(Job)` in another file still names its table. A class name
 * mapped to two different tables is ambiguous and resolves to nothing.
 */
export class ModelIndex {
  private readonly tables = new Map<string, string | null>();

  add(models: MappedModel[] | undefined): void {
    for (const m of models ?? []) {
      const known = this.tables.get(m.name);
      this.tables.set(m.name, known === undefined || known === m.table ? m.table : null);
    }
  }

  tableOf(entity: string): string | undefined {
    return this.tables.get(entity) ?? undefined;
  }

  /** Fills `tables` of session findings that name entities but found no table in their own file. */
  resolve<F extends { entities?: string[]; tables: string[] }>(findings: F[]): void {
    for (const f of findings) {
      if (!f.entities?.length || f.tables.length) continue;
      const tables = f.entities.map((e) => this.tableOf(e)).filter((t): t is string => !!t);
      if (tables.length) f.tables = [...new Set(tables)];
    }
  }
}

export function toScanFinding(rel: string, f: Finding, rules?: PathRules): ScanFinding {
  const { range, via: _via, ...rest } = f;
  let exception = f.exception;
  if (!exception && rules && f.rule !== 'exception-missing-reason') {
    const fromConfig = rules.exceptionFor(rel, f.rule);
    if (fromConfig) exception = { reason: fromConfig.reason, source: 'config' };
  }
  return {
    ...rest,
    file: rel,
    startLine: range.start.line + 1,
    endLine: range.end.line + 1,
    startColumn: range.start.character + 1,
    endColumn: range.end.character + 1,
    exception,
  };
}

export function summarise(findings: ScanFinding[], filesScanned: number, skipped: SkippedFile[], problems: FileProblem[]): ScanSummary {
  const totals = emptyCounts();
  const kept = emptyCounts();
  const remaining = emptyCounts();
  const withFindings = new Set<string>();
  for (const f of findings) {
    totals[f.rule]++;
    withFindings.add(f.file);
    if (f.exception) kept[f.rule]++;
    else remaining[f.rule]++;
  }
  return { totals, kept, remaining, filesScanned, filesWithFindings: withFindings.size, skipped, problems };
}

function safeRealpath(p: string): string | undefined {
  try {
    return fs.realpathSync(p);
  } catch {
    return undefined;
  }
}

function errorText(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  return err?.code ? `${err.code}` : String((e as Error)?.message ?? e);
}

export function formatBytes(n: number): string {
  if (n >= 1024 * 1024) return `${(n / 1024 / 1024).toFixed(n % (1024 * 1024) === 0 ? 0 : 1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(0)} KiB`;
  return `${n} B`;
}

function firstInvalidUtf8(buf: Buffer): number {
  let lo = 0;
  let hi = buf.length;
  // Binary search on the longest valid prefix (UTF-8 is self-synchronising enough for a position hint).
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    try {
      new TextDecoder('utf-8', { fatal: true }).decode(buf.subarray(0, mid), { stream: true });
      lo = mid;
    } catch {
      hi = mid - 1;
    }
  }
  // In streaming mode an incomplete multi-byte sequence is not yet an error: report where it starts.
  for (let back = 1; back <= 3 && lo - back >= 0; back++) {
    const b = buf[lo - back];
    if ((b & 0xc0) === 0xc0) return lo - back;
    if ((b & 0xc0) !== 0x80) break;
  }
  return lo;
}
