/**
 * Scanning a directory: walk it (following symbolic links, never in a loop), read each
 * supported file, skip what cannot be analysed with a reason, analyse the rest, and
 * attach config exceptions. The only part of the engine that touches the file system;
 * it reads and never writes.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { analyzeTextSync, initEngine } from './analyze';
import { CONFIG_FILE, ConfigError, DEFAULT_CONFIG, detectOptions, parseConfig, PathRules, type Config } from './config';
import { RULES, type Finding, type Language, type MappedModel, type RuleId } from './types';

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

/** Lists the files to scan under root, in a stable order, recording what is skipped and why. */
export function listFiles(root: string, rules: PathRules, skipped: SkippedFile[]): WalkEntry[] {
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
      } else if (isFile && rules.isScanned(rel)) {
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
  await initEngine();
  const rules = new PathRules(config);
  const detect = detectOptions(config);
  const skipped: SkippedFile[] = [];
  const problems: FileProblem[] = [];
  const findings: ScanFinding[] = [];
  const files: FileEntry[] = [];
  const list = listFiles(root, rules, skipped);
  const models = new ModelIndex();
  let done = 0;
  for (const entry of list) {
    done++;
    const read = readSourceFile(entry.abs, config.maxFileSize);
    if ('skip' in read) {
      skipped.push({ file: entry.rel, reason: read.skip });
      continue;
    }
    const result = analyzeTextSync(read.text, entry.rel, detect);
    options.onProgress?.(done, entry.rel);
    if (result.skipped) {
      skipped.push({ file: entry.rel, reason: result.skipped });
      continue;
    }
    models.add(result.models);
    for (const p of result.problems) problems.push({ file: entry.rel, line: p.range ? p.range.start.line + 1 : undefined, message: p.message });
    const fileFindings = result.findings.map((f) => toScanFinding(entry.rel, f, rules));
    findings.push(...fileFindings);
    files.push({ file: entry.rel, language: result.language!, findings: fileFindings.length, kept: fileFindings.filter((f) => f.exception).length });
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
  const { range, ...rest } = f;
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
