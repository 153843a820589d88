/**
 * Scanning past commits straight from git: for each commit, the tree is listed with
 * `git ls-tree`, the config is read from that tree, and each file's blob is read with
 * `git cat-file --batch` and analysed as `scanDirectory` would analyse the file on disk. A blob
 * analysed once (same content, same file extension, same detection options) is never analysed
 * again, so unchanged files cost nothing from one commit to the next. The work tree and the
 * index are never touched.
 *
 *   const result = await recordHistory(root, { every: 'week' });
 *   result.appended          // the points written to .sqlmigrate/history.jsonl
 *   result.stats             // commits scanned, blobs analysed, blobs reused
 *
 * Differences from a scan of a checked-out tree, by design: submodules are not entered, and a
 * symbolic link is followed only when it points at a file inside the scanned tree (a link to a
 * folder is not followed).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { analyzeTextSync, initEngine } from '../engine/analyze';
import { CONFIG_FILE, ConfigError, DEFAULT_CONFIG, detectOptions, parseConfig, PathRules, type Config } from '../engine/config';
import type { RuleId } from '../engine/types';
import { BlobReader, firstParentCommits, headCommit, listTree, openRepository, resolveCommit, type CommitInfo, type Repository, type TreeEntry } from './git';
import { appendPoints, historyPath, HistoryError, normalisePoint, readHistory, zeroCounts, type HistoryPoint } from './points';

export type Every = { kind: 'all' } | { kind: 'n'; n: number } | { kind: 'day' } | { kind: 'week' };

export interface HistoryOptions {
  /** A revision (that commit and the ones after it on the first-parent line) or a date. */
  since?: string;
  every?: Every;
  /** Do not write; return the points. */
  dryRun?: boolean;
  /** Called after each commit. */
  onProgress?: (done: number, total: number, commit: CommitInfo) => void;
  /** Called for each commit skipped with a reason (an invalid config in that commit). */
  onWarning?: (message: string) => void;
}

export interface HistoryStats {
  /** Commits on the selected line of history (after --since and --every). */
  candidates: number;
  /** Of those, already in the history file. */
  alreadyRecorded: number;
  /** Commits scanned in this run. */
  commitsScanned: number;
  /** Blobs read and analysed (a cache miss). */
  blobsAnalysed: number;
  /** File entries answered from the cache of analysed blobs. */
  blobsReused: number;
}

export interface HistoryResult {
  appended: HistoryPoint[];
  skipped: Array<{ commit: string; reason: string }>;
  stats: HistoryStats;
  file: string;
}

/** Parses `--every`: a count (every nth commit), `day` or `week` (the last commit of each). */
export function parseEvery(v: string | undefined): Every | string {
  if (v === undefined || v === '' || v === '1') return { kind: 'all' };
  if (v === 'day' || v === 'daily') return { kind: 'day' };
  if (v === 'week' || v === 'weekly') return { kind: 'week' };
  if (/^\d+$/.test(v) && Number(v) >= 1) return Number(v) === 1 ? { kind: 'all' } : { kind: 'n', n: Number(v) };
  return `--every must be a number of commits, "day" or "week", not "${v}"`;
}

/** Monday of the ISO week holding the date (UTC), as YYYY-MM-DD. */
function weekKey(iso: string): string {
  const d = new Date(iso);
  const day = (d.getUTCDay() + 6) % 7;
  d.setUTCDate(d.getUTCDate() - day);
  return d.toISOString().slice(0, 10);
}

/** The commits a history samples: all, every nth (by position, stable across runs), or the last of each day/week; the newest always. */
export function sampleCommits(commits: CommitInfo[], every: Every): CommitInfo[] {
  if (every.kind === 'all' || commits.length === 0) return commits;
  if (every.kind === 'n') return commits.filter((_, i) => i % every.n === 0 || i === commits.length - 1);
  const key = every.kind === 'day' ? (c: CommitInfo) => c.date.slice(0, 10) : (c: CommitInfo) => weekKey(c.date);
  // First-parent order is the order of the line; the last commit of a period is the one that ends it.
  return commits.filter((c, i) => i === commits.length - 1 || key(commits[i + 1]) !== key(c));
}

/** Selects the commits after `since`: a revision on the first-parent line (inclusive) or a date. */
export function selectSince(repo: Repository, commits: CommitInfo[], since: string | undefined): CommitInfo[] {
  if (!since) return commits;
  const id = resolveCommit(repo, since);
  if (id) {
    const at = commits.findIndex((c) => c.id === id);
    if (at < 0) throw new HistoryError(`--since ${since} is not on the first-parent history of HEAD`);
    return commits.slice(at);
  }
  const t = Date.parse(since);
  if (Number.isNaN(t)) throw new HistoryError(`--since ${since} is neither a revision of this repository nor a date`);
  return commits.filter((c) => Date.parse(c.date) >= t);
}

interface CachedAnalysis {
  /** null when the file is skipped (binary, invalid UTF-8, minified, not analysable). */
  findings: Array<{ rule: RuleId; kept: boolean }> | null;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Scans commits with one blob reader and one cache of analysed blobs. */
export class HistoryScanner {
  private readonly blobs: BlobReader;
  private readonly analyses = new Map<string, CachedAnalysis>();
  private readonly configs = new Map<string, Config | ConfigError>();
  readonly stats = { blobsAnalysed: 0, blobsReused: 0, commitsScanned: 0 };

  constructor(private readonly repo: Repository) {
    this.blobs = new BlobReader(repo.toplevel);
  }

  close(): void {
    this.blobs.close();
  }

  private async configAt(entries: Map<string, TreeEntry>): Promise<Config> {
    const entry = entries.get(CONFIG_FILE);
    if (!entry || entry.type !== 'blob') return DEFAULT_CONFIG;
    let cached = this.configs.get(entry.oid);
    if (!cached) {
      const buf = await this.blobs.read(entry.oid);
      try {
        cached = parseConfig(buf ? buf.toString('utf8') : '', CONFIG_FILE);
      } catch (e) {
        if (!(e instanceof ConfigError)) throw e;
        cached = e;
      }
      this.configs.set(entry.oid, cached);
    }
    if (cached instanceof ConfigError) throw cached;
    return cached;
  }

  /** Scans one commit's tree into a point, as `scan` of that tree would count it. */
  async scanCommit(commit: CommitInfo): Promise<HistoryPoint> {
    await initEngine();
    const list = listTree(this.repo, commit.id);
    const byPath = new Map(list.map((e) => [e.path, e]));
    const config = await this.configAt(byPath);
    const rules = new PathRules(config);
    const detect = detectOptions(config);
    const optionsKey = JSON.stringify(detect);

    // The files scan would list: scanned by the rules, under no excluded folder.
    const excludedDir = new Map<string, boolean>();
    const dirExcluded = (rel: string): boolean => {
      const parts = rel.split('/');
      for (let i = 1; i < parts.length; i++) {
        const d = parts.slice(0, i).join('/');
        let x = excludedDir.get(d);
        if (x === undefined) excludedDir.set(d, (x = rules.isExcludedDirectory(d)));
        if (x) return true;
      }
      return false;
    };
    const files: Array<{ rel: string; blob: TreeEntry }> = [];
    for (const e of list) {
      if (e.type !== 'blob' || !rules.isScanned(e.path) || dirExcluded(e.path)) continue;
      if (e.mode === '120000') {
        const target = await this.symlinkTarget(e, byPath);
        if (target) files.push({ rel: e.path, blob: target });
        continue;
      }
      files.push({ rel: e.path, blob: e });
    }
    files.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));

    // Read every blob not analysed yet in one pipelined batch, then analyse in order.
    const keyOf = (f: { rel: string; blob: TreeEntry }) => `${f.blob.oid}\0${path.extname(f.rel).toLowerCase()}\0${optionsKey}`;
    const missing = new Map<string, Promise<Buffer | null>>();
    for (const f of files) {
      const key = keyOf(f);
      if (this.analyses.has(key) || missing.has(key) || f.blob.size > config.maxFileSize) continue;
      missing.set(key, this.blobs.read(f.blob.oid));
    }

    const point: HistoryPoint = { commit: commit.id, date: commit.date, totals: zeroCounts(), files: {}, kept: zeroCounts(), keptFiles: {}, filesScanned: 0, source: 'history', v: 1 };
    for (const f of files) {
      if (f.blob.size > config.maxFileSize) continue;
      const key = keyOf(f);
      let analysis = this.analyses.get(key);
      if (analysis) this.stats.blobsReused++;
      else {
        const buf = await missing.get(key)!;
        analysis = this.analyse(buf, f.rel, detect);
        this.analyses.set(key, analysis);
        this.stats.blobsAnalysed++;
      }
      if (!analysis.findings) continue;
      point.filesScanned++;
      for (const finding of analysis.findings) {
        const kept = finding.kept || (finding.rule !== 'exception-missing-reason' && !!rules.exceptionFor(f.rel, finding.rule));
        point.totals[finding.rule]++;
        const slot = (point.files[f.rel] ??= {});
        slot[finding.rule] = (slot[finding.rule] ?? 0) + 1;
        if (kept) {
          point.kept[finding.rule]++;
          const k = (point.keptFiles[f.rel] ??= {});
          k[finding.rule] = (k[finding.rule] ?? 0) + 1;
        }
      }
    }
    this.stats.commitsScanned++;
    return normalisePoint(point);
  }

  private analyse(buf: Buffer | null, rel: string, detect: ReturnType<typeof detectOptions>): CachedAnalysis {
    if (!buf) return { findings: null };
    if (buf.indexOf(0) >= 0) return { findings: null };
    let text: string;
    try {
      text = utf8.decode(buf);
    } catch {
      return { findings: null };
    }
    const result = analyzeTextSync(text, rel, detect);
    if (result.skipped) return { findings: null };
    return { findings: result.findings.map((f) => ({ rule: f.rule, kept: !!f.exception })) };
  }

  /** The blob a file symbolic link points at, when it stays inside the scanned tree. */
  private async symlinkTarget(link: TreeEntry, byPath: Map<string, TreeEntry>): Promise<TreeEntry | undefined> {
    let entry: TreeEntry | undefined = link;
    for (let hops = 0; entry && entry.mode === '120000' && hops < 16; hops++) {
      const buf = await this.blobs.read(entry.oid);
      if (!buf) return undefined;
      const target = buf.toString('utf8');
      if (target.startsWith('/')) return undefined;
      const resolved = path.posix.normalize(path.posix.join(path.posix.dirname(entry.path), target));
      if (resolved.startsWith('../') || resolved === '..') return undefined;
      entry = byPath.get(resolved);
    }
    return entry && entry.type === 'blob' && entry.mode !== '120000' ? entry : undefined;
  }
}

/**
 * Records the history of root's repository into root/.sqlmigrate/history.jsonl: the
 * selected commits that are not in the file yet, oldest first, one line each as it is done.
 */
export async function recordHistory(root: string, options: HistoryOptions = {}): Promise<HistoryResult> {
  const repo = openRepository(root);
  const file = historyPath(root);
  const stats: HistoryStats = { candidates: 0, alreadyRecorded: 0, commitsScanned: 0, blobsAnalysed: 0, blobsReused: 0 };
  const result: HistoryResult = { appended: [], skipped: [], stats, file };
  if (!headCommit(repo)) return result;
  const selected = sampleCommits(selectSince(repo, firstParentCommits(repo), options.since), options.every ?? { kind: 'all' });
  stats.candidates = selected.length;
  const existing = readHistory(root);
  const recorded = new Set(existing.points.filter((p) => p.source === 'history' && p.commit).map((p) => p.commit!));
  const todo = selected.filter((c) => !recorded.has(c.id));
  stats.alreadyRecorded = selected.length - todo.length;
  if (!todo.length) return result;

  const release = options.dryRun ? () => undefined : lock(root);
  const scanner = new HistoryScanner(repo);
  try {
    let done = 0;
    for (const commit of todo) {
      let point: HistoryPoint;
      try {
        point = await scanner.scanCommit(commit);
      } catch (e) {
        if (!(e instanceof ConfigError)) throw e;
        const reason = `invalid ${CONFIG_FILE} in that commit: ${e.details.join('; ')}`;
        result.skipped.push({ commit: commit.id, reason });
        options.onWarning?.(`commit ${commit.id.slice(0, 10)} skipped: ${reason}`);
        continue;
      } finally {
        options.onProgress?.(++done, todo.length, commit);
      }
      if (!options.dryRun) appendPoints(root, [point]);
      result.appended.push(point);
    }
  } finally {
    scanner.close();
    release();
  }
  Object.assign(stats, { commitsScanned: scanner.stats.commitsScanned, blobsAnalysed: scanner.stats.blobsAnalysed, blobsReused: scanner.stats.blobsReused });
  return result;
}

const STALE_LOCK_MS = 30 * 60_000;

/**
 * Whether the lock was taken by a process of this machine that no longer runs (killed, or
 * stopped with Ctrl-C, which skips the release): then the lock is stale at once, not after
 * STALE_LOCK_MS. A lock from another machine (a shared folder) or an older format is not judged.
 */
function lockHolderGone(file: string): boolean {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return false;
  }
  const m = /^(\d+) (.+)\n?$/.exec(text);
  if (!m || m[2] !== os.hostname()) return false;
  const pid = Number(m[1]);
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** One history run at a time per folder: a lock file next to the history, removed at the end. */
function lock(root: string): () => void {
  const file = `${historyPath(root)}.lock`;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = fs.openSync(file, 'wx');
      fs.writeSync(fd, `${process.pid} ${os.hostname()}\n`);
      fs.closeSync(fd);
      return () => {
        try { fs.unlinkSync(file); } catch { /* already gone */ }
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new HistoryError(`cannot create ${file}: ${(e as Error).message}`);
      let age = 0;
      try { age = Date.now() - fs.statSync(file).mtimeMs; } catch { continue; }
      if (age > STALE_LOCK_MS || lockHolderGone(file)) {
        try { fs.unlinkSync(file); } catch { /* raced with another run */ }
        continue;
      }
      throw new HistoryError(`another \`sqlmigrate history\` is recording into this folder (${path.basename(file)} exists); wait for it, or delete the lock file if no run is going on`);
    }
  }
  throw new HistoryError(`cannot take the lock ${file}`);
}
