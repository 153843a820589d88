/**
 * History from git: a repository built from scripted commits (statements added, migrated,
 * kept on purpose, excluded, deleted; a config that changes in history). Each recorded point
 * must equal `scan` of that commit's tree — checked out into a temporary worktree here, in the
 * test, while the history itself reads blobs only — and a second run must scan only the new
 * commits.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { scanDirectory } from '../../../server/src/engine/scan';
import {
  appendPoint,
  buildBurndown,
  HISTORY_FILE,
  parseEvery,
  parseHistory,
  pointFromScan,
  readHistory,
  recordHistory,
  runHistoryCommand,
  sampleCommits,
  type HistoryPoint,
} from '../../../server/src/history';
import { capture, pgFile, TestRepo } from './repo';

const PY_V1 = `import sqlite3
from sqlalchemy.orm import Session

def get_job(conn, job_id):
    return conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()

def list_users(session: Session):
    return session.query(User).filter(User.active == True).all()
`;

const HEALTH = `import { Pool } from 'pg';
const pool = new Pool();
export async function alive() {
  // sqlmigrate-keep: the liveness probe checks the connection itself
  return pool.query('SELECT 1');
}
`;

/** What history records, computed from a real scan of a checked-out tree. */
async function expectedPoint(repo: TestRepo, commit: string): Promise<Pick<HistoryPoint, 'totals' | 'kept' | 'files' | 'keptFiles' | 'filesScanned'>> {
  const wt = repo.worktree(commit);
  try {
    const report = await scanDirectory(wt);
    const p = pointFromScan(report, { commit, source: 'history' });
    return { totals: p.totals, kept: p.kept, files: p.files, keptFiles: p.keptFiles, filesScanned: p.filesScanned };
  } finally {
    repo.removeWorktree(wt);
  }
}

describe('history: points from git equal scans of each commit', function () {
  this.timeout(120_000);
  let repo: TestRepo;

  before(() => {
    repo = new TestRepo();
    repo.commit('start', '2024-01-01T10:00:00Z', {
      'src/db/jobs.ts': pgFile(['SELECT * FROM jobs WHERE id = $1', 'DELETE FROM jobs WHERE id = $1']),
      'src/util.ts': 'export const add = (a: number, b: number) => a + b;\n',
      'app/repo.py': PY_V1,
      'README.md': 'SELECT * FROM docs is not code\n',
    });
    repo.commit('add a query and a kept probe', '2024-01-03T10:00:00Z', {
      'src/db/jobs.ts': pgFile(['SELECT * FROM jobs WHERE id = $1', 'DELETE FROM jobs WHERE id = $1', 'UPDATE jobs SET done = true WHERE id = $1']),
      'src/health.ts': HEALTH,
    });
    repo.commit('migrate one query', '2024-01-10T10:00:00Z', {
      'src/db/jobs.ts': pgFile(['SELECT * FROM jobs WHERE id = $1', 'UPDATE jobs SET done = true WHERE id = $1']),
    });
    repo.commit('keep the python repo on purpose (config)', '2024-01-12T10:00:00Z', {
      '.sqlmigrate.json': JSON.stringify({ exceptions: [{ path: 'app/repo.py', reason: 'legacy reports stay on SQL' }] }),
    });
    repo.commit('delete the python repo; vendored and built code', '2024-01-20T10:00:00Z', {
      'app/repo.py': null,
      'node_modules/x/index.js': "const { Pool } = require('pg');\nnew Pool().query('SELECT * FROM vendored');\n",
      'dist/app.js': "const { Pool } = require('pg');\nnew Pool().query('SELECT * FROM built');\n",
      'src/db/nested/more.ts': pgFile(['INSERT INTO audit (msg) VALUES ($1)']),
    });
  });

  after(() => repo.dispose());

  it('records one point per commit, equal to scan of that commit, reading blobs only', async () => {
    const before = repo.git('status', '--porcelain');
    const result = await recordHistory(repo.dir);
    assert.equal(repo.git('status', '--porcelain').replace(/^\?\? \.sqlmigrate\/\n/m, ''), before, 'the work tree and the index are untouched');
    assert.equal(result.appended.length, 5);
    assert.equal(result.stats.commitsScanned, 5);
    assert.deepEqual(result.appended.map((p) => p.commit), repo.commits);

    const { points, invalid } = readHistory(repo.dir);
    assert.deepEqual(invalid, []);
    assert.equal(points.length, 5);
    for (const [i, commit] of repo.commits.entries()) {
      const expected = await expectedPoint(repo, commit);
      const got = points[i];
      assert.equal(got.commit, commit);
      assert.deepEqual(
        { totals: got.totals, kept: got.kept, files: got.files, keptFiles: got.keptFiles, filesScanned: got.filesScanned },
        expected,
        `commit ${i + 1} (${commit.slice(0, 8)}) differs from scan of its tree`,
      );
    }
    // The exact story, independently of scan: raw statements per commit, and the kept ones.
    assert.deepEqual(points.map((p) => p.totals['raw-sql']), [3, 5, 4, 4, 4]);
    assert.deepEqual(points.map((p) => p.kept['raw-sql']), [0, 1, 1, 2, 1]);
    assert.deepEqual(points.map((p) => p.files['src/db/jobs.ts']?.['raw-sql']), [2, 3, 2, 2, 2]);
    assert.deepEqual(points.map((p) => p.totals['session-legacy-query']), [1, 1, 1, 1, 0]);
    assert.equal(points[4].files['node_modules/x/index.js'], undefined);
    assert.equal(points[4].files['dist/app.js'], undefined);
    assert.deepEqual(points[4].files['src/db/nested/more.ts'], { 'raw-sql': 1 });
    assert.deepEqual(points.map((p) => p.date.slice(0, 10)), ['2024-01-01', '2024-01-03', '2024-01-10', '2024-01-12', '2024-01-20']);

    // Unchanged files were analysed once: util.ts, repo.py and health.ts are reused.
    assert.ok(result.stats.blobsReused >= 6, `reused ${result.stats.blobsReused}`);
  });

  it('lines are complete JSON with the documented shape', () => {
    const text = fs.readFileSync(path.join(repo.dir, HISTORY_FILE), 'utf8');
    assert.ok(text.endsWith('\n'));
    const first = JSON.parse(text.split('\n')[0]);
    assert.deepEqual(Object.keys(first).slice(0, 4), ['commit', 'date', 'totals', 'files']);
  });

  it('a second run scans only the new commits', async () => {
    repo.commit('migrate the rest of jobs', '2024-01-22T10:00:00Z', { 'src/db/jobs.ts': pgFile([]) });
    repo.commit('touch util', '2024-01-23T10:00:00Z', { 'src/util.ts': 'export const add = (a: number, b: number) => b + a;\n' });
    const again = await recordHistory(repo.dir);
    assert.equal(again.stats.commitsScanned, 2);
    assert.equal(again.stats.alreadyRecorded, 5);
    assert.deepEqual(again.appended.map((p) => p.commit), repo.commits.slice(5));
    // A run starts with an empty cache: commit 6's four files (jobs, util, health, more) are
    // analysed; commit 7 changed util only, so one more blob is analysed and three are reused.
    assert.equal(again.stats.blobsAnalysed, 5);
    assert.equal(again.stats.blobsReused, 3);
    const { points } = readHistory(repo.dir);
    assert.equal(points.length, 7);
    assert.deepEqual(points.map((p) => p.totals['raw-sql']), [3, 5, 4, 4, 4, 2, 2]);
    for (const commit of repo.commits.slice(5)) {
      const expected = await expectedPoint(repo, commit);
      const got = points.find((p) => p.commit === commit)!;
      assert.deepEqual({ totals: got.totals, kept: got.kept, files: got.files, keptFiles: got.keptFiles, filesScanned: got.filesScanned }, expected);
    }
    const third = await recordHistory(repo.dir);
    assert.equal(third.stats.commitsScanned, 0);
    assert.equal(third.stats.blobsAnalysed, 0);
    assert.equal(readHistory(repo.dir).points.length, 7);
  });

  it('the CLI reports what it recorded and is up to date on a re-run', async () => {
    const c = capture();
    assert.equal(await runHistoryCommand([repo.dir], c.io), 0, c.out.stderr);
    assert.match(c.out.stdout, /Up to date: all 7 selected commits are already in/);
    const j = capture();
    assert.equal(await runHistoryCommand([repo.dir, '--json'], j.io), 0);
    assert.equal(JSON.parse(j.out.stdout).stats.commitsScanned, 0);
  });
});

describe('history: selection, sampling and robustness', function () {
  this.timeout(120_000);
  let repo: TestRepo;

  before(() => {
    repo = new TestRepo();
    const days = ['2024-03-04T09:00:00Z', '2024-03-04T17:00:00Z', '2024-03-06T09:00:00Z', '2024-03-11T09:00:00Z', '2024-03-12T09:00:00Z'];
    days.forEach((d, i) => repo.commit(`c${i}`, d, { 'src/a.ts': pgFile(Array.from({ length: 5 - i }, (_, k) => `SELECT ${k} FROM t WHERE id = $1`)) }));
  });
  after(() => repo.dispose());

  it('--every samples the last commit of each day or week, or every nth, always the newest', () => {
    const commits = repo.commits.map((id, i) => ({ id, date: ['2024-03-04T09:00:00.000Z', '2024-03-04T17:00:00.000Z', '2024-03-06T09:00:00.000Z', '2024-03-11T09:00:00.000Z', '2024-03-12T09:00:00.000Z'][i] }));
    assert.deepEqual(sampleCommits(commits, { kind: 'day' }).map((c) => c.id), [1, 2, 3, 4].map((i) => repo.commits[i]));
    assert.deepEqual(sampleCommits(commits, { kind: 'week' }).map((c) => c.id), [2, 4].map((i) => repo.commits[i]));
    assert.deepEqual(sampleCommits(commits, { kind: 'n', n: 2 }).map((c) => c.id), [0, 2, 4].map((i) => repo.commits[i]));
    assert.deepEqual(sampleCommits(commits, { kind: 'n', n: 3 }).map((c) => c.id), [0, 3, 4].map((i) => repo.commits[i]));
    assert.equal(typeof parseEvery('fortnight'), 'string');
    assert.deepEqual(parseEvery('week'), { kind: 'week' });
  });

  it('--since a revision starts there; --every week records weekly points', async () => {
    const c = capture();
    assert.equal(await runHistoryCommand([repo.dir, '--since', repo.commits[2], '--every', 'week', '--json'], c.io), 0, c.out.stderr);
    const out = JSON.parse(c.out.stdout) as { points: HistoryPoint[] };
    assert.deepEqual(out.points.map((p) => p.commit), [repo.commits[2], repo.commits[4]]);
    assert.deepEqual(out.points.map((p) => p.totals['raw-sql']), [3, 1]);
  });

  it('usage errors and a folder outside git exit 2 with a message', async () => {
    const bad = capture();
    assert.equal(await runHistoryCommand([repo.dir, '--every', 'fortnight'], bad.io), 2);
    assert.match(bad.out.stderr, /--every must be/);
    const since = capture();
    assert.equal(await runHistoryCommand([repo.dir, '--since', 'no-such-rev-or-date'], since.io), 2);
    assert.match(since.out.stderr, /neither a revision/);
    const outside = new TestRepo('sqlmigrate-nogit-');
    fs.rmSync(path.join(outside.dir, '.git'), { recursive: true });
    const c = capture();
    assert.equal(await runHistoryCommand([outside.dir], c.io), 2);
    assert.match(c.out.stderr, /not inside a git repository/);
    outside.dispose();
  });

  it('a line cut by a crash is skipped, and the next append starts on a new line', async () => {
    const r = new TestRepo();
    r.commit('one', '2024-05-01T10:00:00Z', { 'src/a.ts': pgFile(['SELECT 1 FROM t']) });
    fs.mkdirSync(path.join(r.dir, '.sqlmigrate'));
    fs.writeFileSync(path.join(r.dir, HISTORY_FILE), '{"commit":"abc","date":"2024-');
    await recordHistory(r.dir);
    const read = parseHistory(fs.readFileSync(path.join(r.dir, HISTORY_FILE), 'utf8'));
    assert.equal(read.points.length, 1);
    assert.equal(read.invalid.length, 1);
    assert.equal(read.invalid[0].line, 1);
    r.dispose();
  });

  it('a subfolder of a repository is scanned with paths relative to it; a baseline point stays apart', async () => {
    const r = new TestRepo();
    r.commit('one', '2024-05-01T10:00:00Z', { 'svc/src/a.ts': pgFile(['SELECT 1 FROM t', 'SELECT 2 FROM t']), 'other/b.ts': pgFile(['SELECT 3 FROM t']) });
    const sub = path.join(r.dir, 'svc');
    const res = await recordHistory(sub);
    assert.deepEqual(Object.keys(res.appended[0].files), ['src/a.ts']);
    assert.ok(fs.existsSync(path.join(sub, HISTORY_FILE)));
    const report = await scanDirectory(sub);
    appendPoint(sub, pointFromScan(report, { commit: r.commits[0], source: 'baseline' }));
    const again = await recordHistory(sub);
    assert.equal(again.stats.commitsScanned, 0);
    const data = buildBurndown(readHistory(sub).points);
    assert.deepEqual(data.points.map((p) => [p.source, p.remaining]), [['history', 2], ['baseline', 2]]);
    r.dispose();
  });
});

describe('history: points from findings', () => {
  it('pointFromFindings counts like pointFromScan', async () => {
    const { pointFromFindings } = await import('../../../server/src/history');
    const p = pointFromFindings([{ path: 'a.ts', findings: [{ rule: 'raw-sql', kept: false }, { rule: 'raw-sql', kept: true }] }, { path: 'b.py', findings: [] }], { commit: null, date: new Date('2024-01-01T00:00:00Z') });
    assert.equal(p.totals['raw-sql'], 2);
    assert.equal(p.kept['raw-sql'], 1);
    assert.deepEqual(p.files, { 'a.ts': { 'raw-sql': 2 } });
    assert.deepEqual(p.keptFiles, { 'a.ts': { 'raw-sql': 1 } });
    assert.equal(p.filesScanned, 2);
    assert.equal(p.source, 'baseline');
  });
});
