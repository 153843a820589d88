/**
 * The per-file result cache, persisted across runs: for each path the size, mtime and content
 * hash of the file as last analysed, and what the analysis found (plain findings, no syntax
 * trees). `scanDirectory` trusts an entry whose size and mtime match, else compares the content
 * hash before analysing again (see `ResultCache` in engine/scan.ts).
 *
 * One JSON file per (workspace root, detect options, engine build) under the cache directory —
 * the CLI's `--cache-dir`, the server's storage path from initializationOptions (`cacheDir`) or
 * its `--cache-dir` flag. A different engine build or config simply uses another file; a
 * corrupt file is ignored. Lives outside server/src/engine because it writes.
 *
 *   const cache = FileResultCache.open(cacheDir, root, detectOptions(config));
 *   const report = await scanDirectory(root, { config, cache });
 *   cache.save();
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { AnalyzeResult } from '../engine/analyze';
import { processFile, type CachedAnalysis, type FileOutcome, type ResultCache } from '../engine/scan';
import type { DetectOptions } from '../engine/types';

const FORMAT = 1;
/** Files modified this recently may change again within the same mtime tick: check their hash next time. */
const RACY_MS = 2000;

type Entry = [size: number, mtimeMs: number, hash: string, value: CachedAnalysis];

interface CacheFile {
  format: number;
  fingerprint: string;
  root: string;
  entries: Record<string, Entry>;
}

let engineFingerprint: string | undefined;

/** A hash of the engine's own code (every compiled module under engine/), so a new build never reuses old results. */
export function engineBuildFingerprint(): string {
  if (engineFingerprint) return engineFingerprint;
  const h = createHash('sha1');
  const engineDir = path.join(__dirname, '..', 'engine');
  const stack = [engineDir];
  const files: string[] = [];
  while (stack.length) {
    const dir = stack.pop()!;
    let entries: fs.Dirent[] = [];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const e of entries) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) stack.push(p);
      else if (/\.(js|ts)$/.test(e.name) && !e.name.endsWith('.d.ts')) files.push(p);
    }
  }
  // In a bundle (dist/server.js) there is no engine folder: the bundle itself is the engine's code.
  if (!files.length) files.push(__filename);
  for (const f of files.sort()) {
    h.update(path.relative(engineDir, f));
    try {
      h.update(fs.readFileSync(f));
    } catch {
      h.update('?');
    }
  }
  engineFingerprint = h.digest('hex').slice(0, 16);
  return engineFingerprint;
}

export class FileResultCache implements ResultCache {
  private entries = new Map<string, Entry>();
  private dirty = false;
  /** Entries reused and analyses stored since open (for logs and tests). */
  readonly stats = { hits: 0, touched: 0, stored: 0, dropped: 0 };

  private constructor(readonly file: string, private readonly fingerprint: string, private readonly root: string) {}

  /** Opens (or starts) the cache of `root` analysed with `detect` under `cacheDir`. Never throws for a bad file. */
  static open(cacheDir: string, root: string, detect: DetectOptions): FileResultCache {
    const absRoot = path.resolve(root);
    const fingerprint = createHash('sha1').update(JSON.stringify([FORMAT, engineBuildFingerprint(), detect])).digest('hex').slice(0, 16);
    const name = `scan-${createHash('sha1').update(absRoot).digest('hex').slice(0, 12)}-${fingerprint}.json`;
    const cache = new FileResultCache(path.join(cacheDir, name), fingerprint, absRoot);
    try {
      const data = JSON.parse(fs.readFileSync(cache.file, 'utf8')) as CacheFile;
      if (data && data.format === FORMAT && data.fingerprint === fingerprint && data.root === absRoot && data.entries && typeof data.entries === 'object') {
        for (const [rel, e] of Object.entries(data.entries)) if (Array.isArray(e) && e.length === 4) cache.entries.set(rel, e);
      }
    } catch {
      // absent or unreadable: start empty
    }
    return cache;
  }

  /** An in-memory cache that is never saved (tests, one-off scans that still want incremental rescans). */
  static memory(): FileResultCache {
    return new FileResultCache('', '', '');
  }

  get size(): number {
    return this.entries.size;
  }

  lookup(rel: string, size: number, mtimeMs: number): CachedAnalysis | undefined {
    const e = this.entries.get(rel);
    if (!e || e[0] !== size || e[1] !== mtimeMs || e[1] < 0) return undefined;
    this.stats.hits++;
    return e[3];
  }

  hashOf(rel: string): string | undefined {
    return this.entries.get(rel)?.[2] || undefined;
  }

  touch(rel: string, size: number, mtimeMs: number): CachedAnalysis | undefined {
    const e = this.entries.get(rel);
    if (!e) return undefined;
    this.stats.touched++;
    this.entries.set(rel, [size, stableMtime(mtimeMs), e[2], e[3]]);
    this.dirty = true;
    return e[3];
  }

  set(rel: string, size: number, mtimeMs: number, hash: string, value: CachedAnalysis): void {
    this.stats.stored++;
    this.entries.set(rel, [size, stableMtime(mtimeMs), hash, value]);
    this.dirty = true;
  }

  /** Drops one path (a deleted file). */
  delete(rel: string): void {
    if (this.entries.delete(rel)) this.dirty = true;
  }

  retain(rels: Set<string>): void {
    for (const rel of [...this.entries.keys()]) {
      if (!rels.has(rel)) {
        this.entries.delete(rel);
        this.stats.dropped++;
        this.dirty = true;
      }
    }
  }

  /** Writes the cache if it changed (atomically: a temporary file renamed over the old one). Returns false on failure. */
  save(): boolean {
    if (!this.file || !this.dirty) return true;
    const data: CacheFile = { format: FORMAT, fingerprint: this.fingerprint, root: this.root, entries: Object.fromEntries(this.entries) };
    const tmp = `${this.file}.${process.pid}.tmp`;
    try {
      fs.mkdirSync(path.dirname(this.file), { recursive: true });
      fs.writeFileSync(tmp, JSON.stringify(data));
      fs.renameSync(tmp, this.file);
      this.dirty = false;
      return true;
    } catch {
      try {
        fs.rmSync(tmp, { force: true });
      } catch {
        // nothing more to do
      }
      return false;
    }
  }
}

function stableMtime(mtimeMs: number): number {
  return Date.now() - mtimeMs < RACY_MS ? -1 : mtimeMs;
}

/**
 * One file through the cache: an entry whose size and mtime match is returned as is; else the
 * file is read, and unchanged content (same hash) keeps its entry; else it is analysed and stored.
 * Without a cache, simply reads and analyses. (The language server's scan and file events use this.)
 */
export function analyseFileCached(cache: FileResultCache | undefined, abs: string, rel: string, maxFileSize: number, detect: DetectOptions): CachedAnalysis {
  let st: fs.Stats | undefined;
  if (cache) {
    try {
      st = fs.statSync(abs);
    } catch {
      st = undefined;
    }
    if (st) {
      const hit = cache.lookup(rel, st.size, st.mtimeMs);
      if (hit) return hit;
    }
  }
  let o: FileOutcome = processFile(abs, rel, maxFileSize, detect, { hash: !!cache, knownHash: cache?.hashOf(rel) });
  if (o.kind === 'same') {
    const kept = st ? cache!.touch(rel, st.size, st.mtimeMs) : undefined;
    if (kept) return kept;
    o = processFile(abs, rel, maxFileSize, detect, { hash: true });
  }
  const value: CachedAnalysis = o.kind === 'done' ? processedValue(o.result) : o.kind === 'readSkip' ? { skip: o.reason, read: true } : { skip: 'changed while read' };
  if (cache && st) cache.set(rel, st.size, st.mtimeMs, o.kind === 'done' ? o.hash : '', value);
  return value;
}

function processedValue(r: AnalyzeResult): CachedAnalysis {
  if (r.skipped || !r.language) return { skip: r.skipped ?? 'not analysed' };
  return { language: r.language, findings: r.findings, problems: r.problems, ...(r.models?.length ? { models: r.models } : {}), ...(r.driverExports ? { driverExports: r.driverExports } : {}) };
}
