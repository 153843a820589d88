/**
 * Throwaway git repositories for the history, report and check tests: files written and
 * committed with fixed dates, each commit's id returned.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export class TestRepo {
  readonly dir: string;
  readonly commits: string[] = [];

  constructor(prefix = 'sqlmigrate-history-') {
    this.dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), prefix)));
    this.git('init', '-q', '-b', 'main');
    this.git('config', 'user.name', 'Test');
    this.git('config', 'user.email', 'test@example.com');
    this.git('config', 'commit.gpgsign', 'false');
  }

  git(...args: string[]): string {
    return execFileSync('git', args, { cwd: this.dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...this.env } });
  }

  private env: Record<string, string> = {};

  /** Writes (string) or deletes (null) files, then commits them all at the given date. */
  commit(message: string, date: string, files: Record<string, string | null>): string {
    this.write(files);
    this.git('add', '-A');
    this.env = { GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date };
    try {
      this.git('commit', '-q', '--allow-empty', '-m', message);
    } finally {
      this.env = {};
    }
    const id = this.git('rev-parse', 'HEAD').trim();
    this.commits.push(id);
    return id;
  }

  write(files: Record<string, string | null>): void {
    for (const [rel, text] of Object.entries(files)) {
      const abs = path.join(this.dir, rel);
      if (text === null) fs.rmSync(abs, { force: true });
      else {
        fs.mkdirSync(path.dirname(abs), { recursive: true });
        fs.writeFileSync(abs, text);
      }
    }
  }

  /** Checks a commit out into a new temporary worktree (tests only; the code under test never does). */
  worktree(commit: string): string {
    const wt = fs.mkdtempSync(path.join(os.tmpdir(), 'sqlmigrate-wt-'));
    fs.rmSync(wt, { recursive: true });
    this.git('worktree', 'add', '-q', '--detach', wt, commit);
    return wt;
  }

  removeWorktree(wt: string): void {
    this.git('worktree', 'remove', '--force', wt);
  }

  dispose(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

export const pgFile = (queries: string[]) =>
  `import { Pool } from 'pg';\nconst pool = new Pool();\n\n` +
  queries.map((q, i) => `export async function q${i}(id: number) {\n  return pool.query('${q}', [id]);\n}\n`).join('\n');

export function capture() {
  const out = { stdout: '', stderr: '' };
  return { out, io: { stdout: (s: string) => void (out.stdout += s), stderr: (s: string) => void (out.stderr += s) } };
}
