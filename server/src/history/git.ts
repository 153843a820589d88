/**
 * The little of git that history needs, through the `git` executable (never a checkout):
 *
 *   const repo = openRepository(dir);          // toplevel + the prefix of dir inside it
 *   firstParentCommits(repo)                    // oldest first: { id, date }
 *   listTree(repo, commit)                      // git ls-tree -r -l -z under the prefix
 *   const blobs = new BlobReader(repo.toplevel); await blobs.read(oid); blobs.close();
 *
 * Every path is passed as an argument (no shell), and every output is read with -z or in a
 * length-prefixed form, so file names with spaces, quotes or newlines are data.
 */
import { spawn, execFileSync, type ChildProcessWithoutNullStreams } from 'node:child_process';

export class GitError extends Error {}

export interface Repository {
  /** Absolute path of the work tree's top folder. */
  toplevel: string;
  /** The scanned folder relative to toplevel with forward slashes and a trailing `/`, or ''. */
  prefix: string;
}

export interface CommitInfo {
  id: string;
  /** Committer date, ISO 8601 in UTC. */
  date: string;
}

export interface TreeEntry {
  /** Relative to the scanned folder (the prefix removed), forward slashes. */
  path: string;
  mode: string;
  type: 'blob' | 'tree' | 'commit';
  oid: string;
  /** Blob size in bytes; -1 for submodules. */
  size: number;
}

const MAX_BUFFER = 512 * 1024 * 1024;

export function git(cwd: string, args: string[], input?: string): string {
  try {
    return execFileSync('git', args, {
      cwd,
      encoding: 'utf8',
      input,
      maxBuffer: MAX_BUFFER,
      stdio: ['pipe', 'pipe', 'pipe'],
      windowsHide: true,
      env: { ...process.env, GIT_OPTIONAL_LOCKS: '0', LC_ALL: 'C' },
    });
  } catch (e) {
    const err = e as { stderr?: string; message: string; code?: string };
    if (err.code === 'ENOENT') throw new GitError('git is not installed (or not on PATH)');
    const detail = (err.stderr ?? '').toString().trim().split('\n')[0] || err.message;
    throw new GitError(`git ${args[0]} failed: ${detail}`);
  }
}

/** The repository holding dir, or a GitError saying why there is none. */
export function openRepository(dir: string): Repository {
  let out: string;
  try {
    out = git(dir, ['rev-parse', '--show-toplevel', '--show-prefix']);
  } catch (e) {
    if (e instanceof GitError && /not a git repository/i.test(e.message)) throw new GitError(`${dir} is not inside a git repository`);
    throw e;
  }
  const [toplevel, prefix = ''] = out.split('\n');
  return { toplevel, prefix: prefix.trim() };
}

/** HEAD's commit id, or null when the repository has no commit yet. */
export function headCommit(repo: Repository): string | null {
  try {
    const id = git(repo.toplevel, ['rev-parse', '--verify', '--quiet', 'HEAD^{commit}']).trim();
    return id || null;
  } catch {
    return null;
  }
}

/** Resolves a revision to a commit id, or null when it names none. */
export function resolveCommit(repo: Repository, rev: string): string | null {
  if (rev.startsWith('-')) return null;
  try {
    const id = git(repo.toplevel, ['rev-parse', '--verify', '--quiet', '--end-of-options', `${rev}^{commit}`]).trim();
    return id || null;
  } catch {
    return null;
  }
}

/** HEAD's first-parent history, oldest first: the mainline a burndown follows. */
export function firstParentCommits(repo: Repository, head = 'HEAD'): CommitInfo[] {
  const out = git(repo.toplevel, ['log', '--first-parent', '--reverse', '--format=%H %cI', head, '--']);
  const list: CommitInfo[] = [];
  for (const line of out.split('\n')) {
    if (!line) continue;
    const sp = line.indexOf(' ');
    const id = line.slice(0, sp);
    const date = new Date(line.slice(sp + 1));
    list.push({ id, date: Number.isNaN(date.getTime()) ? line.slice(sp + 1) : date.toISOString() });
  }
  return list;
}

/** Every entry under the prefix at a commit (recursively), paths relative to the prefix. */
export function listTree(repo: Repository, commit: string): TreeEntry[] {
  const args = ['ls-tree', '-r', '-l', '-z', '--full-tree', commit];
  if (repo.prefix) args.push('--', repo.prefix);
  const out = git(repo.toplevel, args);
  const entries: TreeEntry[] = [];
  for (const record of out.split('\0')) {
    if (!record) continue;
    const tab = record.indexOf('\t');
    const [mode, type, oid, size] = record.slice(0, tab).split(/ +/);
    const full = record.slice(tab + 1);
    if (repo.prefix && !full.startsWith(repo.prefix)) continue;
    entries.push({ path: full.slice(repo.prefix.length), mode, type: type as TreeEntry['type'], oid, size: size === '-' ? -1 : Number(size) });
  }
  return entries;
}

interface Pending {
  oid: string;
  resolve: (b: Buffer | null) => void;
  reject: (e: Error) => void;
}

/**
 * Reads objects through one long-lived `git cat-file --batch`: requests are written as they
 * come and answered in order, so many blobs are read with one process.
 */
export class BlobReader {
  private readonly proc: ChildProcessWithoutNullStreams;
  private chunks: Buffer[] = [];
  private buffered = 0;
  private readonly queue: Pending[] = [];
  private failure: Error | undefined;
  private stderr = '';

  constructor(toplevel: string) {
    this.proc = spawn('git', ['cat-file', '--batch'], {
      cwd: toplevel,
      windowsHide: true,
      env: { ...process.env, GIT_OPTIONAL_LOCKS: '0', LC_ALL: 'C' },
    });
    this.proc.stdout.on('data', (chunk: Buffer) => {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
      this.drain();
    });
    this.proc.stderr.on('data', (chunk: Buffer) => {
      if (this.stderr.length < 4000) this.stderr += chunk.toString();
    });
    const fail = (e: Error) => {
      this.failure ??= e;
      for (const p of this.queue.splice(0)) p.reject(this.failure);
    };
    this.proc.on('error', (e) => fail(new GitError(`git cat-file could not start: ${e.message}`)));
    this.proc.on('exit', (code) => fail(new GitError(`git cat-file exited (${code})${this.stderr ? `: ${this.stderr.trim()}` : ''}`)));
    this.proc.stdin.on('error', (e) => fail(new GitError(`git cat-file: ${e.message}`)));
  }

  /** The object's content, or null when the repository does not have it. */
  read(oid: string): Promise<Buffer | null> {
    if (this.failure) return Promise.reject(this.failure);
    if (!/^[0-9a-f]{40,64}$/.test(oid)) return Promise.reject(new GitError(`not an object id: ${oid}`));
    return new Promise((resolve, reject) => {
      this.queue.push({ oid, resolve, reject });
      this.proc.stdin.write(`${oid}\n`);
    });
  }

  close(): void {
    this.failure ??= new GitError('the blob reader is closed');
    this.proc.stdin.end();
  }

  private take(): Buffer {
    const all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.buffered);
    this.chunks = [all];
    return all;
  }

  private drain(): void {
    while (this.queue.length && this.buffered > 0) {
      const all = this.take();
      const nl = all.indexOf(10);
      if (nl < 0) return;
      const header = all.subarray(0, nl).toString('utf8');
      if (header.endsWith(' missing') || header.endsWith(' ambiguous')) {
        this.consume(all, nl + 1);
        this.queue.shift()!.resolve(null);
        continue;
      }
      const size = Number(header.split(' ')[2]);
      if (!Number.isFinite(size)) {
        const p = this.queue.shift()!;
        p.reject(new GitError(`unexpected answer from git cat-file: ${header.slice(0, 200)}`));
        this.consume(all, nl + 1);
        continue;
      }
      if (all.length < nl + 1 + size + 1) return;
      const content = Buffer.from(all.subarray(nl + 1, nl + 1 + size));
      this.consume(all, nl + 1 + size + 1);
      this.queue.shift()!.resolve(content);
    }
  }

  private consume(all: Buffer, n: number): void {
    const rest = all.subarray(n);
    this.chunks = rest.length ? [rest] : [];
    this.buffered = rest.length;
  }
}
