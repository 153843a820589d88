/**
 * `sqlmigrate fix --target repository` on a small service tree (test/fixtures/fix-repository/tree):
 * TypeScript call sites on pg and Python call sites on sqlite3, a schema.sql, an existing
 * SQLAlchemy model for one table and none for the other, a JavaScript file and a kept statement.
 *
 *  - `--dry-run` writes nothing and reports what the run does;
 *  - the run creates the repositories, extends the models file with a model generated from the
 *    CREATE TABLE, and reuses one TS method for the identical statement of two files;
 *  - every changed Python file compiles with `python3 -m py_compile`, every changed TS file parses,
 *    and a rescan finds exactly the rewritten raw-sql findings gone (the kept one stays);
 *  - the Python service, imported and run before and after on the same seeded SQLite database,
 *    returns the same values and leaves the same tables;
 *  - a second run changes nothing.
 */
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { analyzeText } from '../../server/src/engine/analyze';
import { runFixCommand } from '../../server/src/rewrite/fix';
import { parseProblems } from '../unit/rewrite/check';
import { PYTHON } from './run';

const TREE = path.join(__dirname, '..', '..', '..', 'test', 'fixtures', 'fix-repository', 'tree');
const DETECT = { defaultDialect: 'sqlite' as const, wrappers: [], sessionFactories: ['get_session'] };

interface Report {
  applied: Array<{ file: string; startLine: number; rule: string; target: string; method?: string }>;
  skipped: Array<{ file: string; startLine: number; reason: string }>;
  files: Array<{ file: string; created: boolean }>;
}

function snapshot(dir: string, rel = ''): Map<string, string> {
  const out = new Map<string, string>();
  for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) for (const [k, v] of snapshot(dir, r)) out.set(k, v);
    else out.set(r, fs.readFileSync(path.join(dir, r), 'utf8'));
  }
  return out;
}

function copyTree(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sqlmigrate-fix-repo-'));
  fs.cpSync(TREE, dir, { recursive: true });
  return dir;
}

async function fix(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runFixCommand(args, { stdout: (s) => (out += s), stderr: (s) => (err += s) });
  return { code, out, err };
}

async function rawSql(text: string, rel: string): Promise<Array<{ sql: string | undefined; kept: boolean }>> {
  const r = await analyzeText(text, rel, DETECT);
  return r.findings.filter((f) => f.rule === 'raw-sql').map((f) => ({ sql: f.sql?.text, kept: !!f.exception }));
}

/** `python3 -m py_compile` on one file, bytecode kept out of the tree. */
function pyCompile(file: string, cacheDir: string): string {
  const r = spawnSync(PYTHON, ['-m', 'py_compile', file], { encoding: 'utf8', env: { ...process.env, PYTHONPYCACHEPREFIX: cacheDir } });
  return r.status === 0 ? '' : r.stderr || r.stdout || `exit ${r.status}`;
}

/** Imports app.jobs from `root` and calls every function on a fresh SQLite database made from schema.sql. */
const RUN_SERVICE = `
import json, os, sqlite3, sys, tempfile
root = sys.argv[1]
db = os.path.join(tempfile.mkdtemp(), "app.db")
os.environ["APP_DATABASE"] = db
conn = sqlite3.connect(db)
conn.executescript(open(os.path.join(root, "schema.sql")).read())
conn.executemany("INSERT INTO users (id, email) VALUES (?, ?)", [(1, "ada@example.com"), (2, "bob@example.com")])
conn.executemany("INSERT INTO jobs (id, owner_id, name, status) VALUES (?, ?, ?, ?)",
                 [(1, 1, "build", "pending"), (2, 1, "test", "done"), (3, 2, "deploy", "pending")])
conn.commit()
conn.close()
sys.path.insert(0, root)
import app.jobs as jobs

def plain(v):
    if v is None or isinstance(v, (int, float, str)):
        return v
    return [plain(x) for x in v]

calls = [("get_job", (3,)), ("get_job", (99,)), ("user_email", (2,)), ("user_email", (9,)),
         ("pending_jobs", ()), ("finish", (1,)), ("finish", (99,)), ("pending_jobs", ()), ("health", ())]
out = {"results": [[name, list(args), plain(getattr(jobs, name)(*args))] for name, args in calls]}
conn = sqlite3.connect(db)
out["tables"] = {t: [list(r) for r in conn.execute("SELECT * FROM %s ORDER BY id" % t)] for t in ("users", "jobs")}
print(json.dumps(out))
`;

function runService(root: string): unknown {
  const r = spawnSync(PYTHON, ['-c', RUN_SERVICE, root], { encoding: 'utf8', env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' } });
  if (r.status !== 0) throw new Error(`the service in ${root} failed: ${r.stderr.slice(-3000)}`);
  return JSON.parse(r.stdout);
}

describe('python: sqlmigrate fix --target repository on a service tree', function () {
  this.timeout(120_000);
  let dir = '';
  let initial = new Map<string, string>();
  let report: Report;

  before(async () => {
    dir = copyTree();
    initial = snapshot(dir);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('--dry-run writes nothing; the run reports the same and writes repositories and a generated model', async () => {
    const dry = await fix([dir, '--target', 'repository', '--dry-run', '--format', 'json']);
    assert.equal(dry.code, 0, dry.err);
    assert.deepEqual(snapshot(dir), initial, '--dry-run wrote files');
    const run = await fix([dir, '--target', 'repository', '--format', 'json']);
    assert.equal(run.code, 0, run.err);
    report = JSON.parse(run.out) as Report;
    assert.deepEqual(report, JSON.parse(dry.out), 'the dry run reports what the run does');

    assert.deepEqual(report.applied.map((a) => `${a.file}:${a.startLine} ${a.method}`), [
      'app/jobs.py:7 JobRepository.get_by_id',
      'app/jobs.py:13 UserRepository.get_by_id',
      'app/jobs.py:19 JobRepository.list_by_status',
      'app/jobs.py:25 JobRepository.update_status_by_id',
      'src/admin.ts:7 JobRepository.listByOwnerId',
      'src/jobs.ts:6 JobRepository.listByOwnerId',
      'src/jobs.ts:11 JobRepository.findById',
      'src/jobs.ts:16 JobRepository.updateStatusById',
    ]);
    assert.deepEqual(report.files, [
      { file: 'app/models.py', created: false },
      { file: 'app/repositories/job_repository.py', created: true },
      { file: 'app/repositories/user_repository.py', created: true },
      { file: 'src/repositories/jobRepository.ts', created: true },
    ]);
    assert.deepEqual(report.skipped.map((s) => s.file), ['src/report.js']);
    assert.match(report.skipped[0].reason, /TypeScript files only/);

    const models = fs.readFileSync(path.join(dir, 'app', 'models.py'), 'utf8');
    const userClass = initial.get('app/models.py')!.slice(initial.get('app/models.py')!.indexOf('class User'));
    assert.ok(models.includes(userClass), 'the existing User model is kept as it was');
    assert.match(models, /class User\(Base\):[\s\S]*class Job\(Base\):\n    __tablename__ = "jobs"/, 'the Job model is generated after the existing User model');
    const ts = fs.readFileSync(path.join(dir, 'src', 'repositories', 'jobRepository.ts'), 'utf8');
    assert.equal(ts.match(/async listByOwnerId\(/g)?.length, 1, 'the identical statement of two files shares one method');
  });

  it('every changed Python file compiles, every changed TS file parses, unchanged files are untouched', () => {
    const after = snapshot(dir);
    const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'sqlmigrate-pycache-'));
    const changed = [...after].filter(([rel, text]) => initial.get(rel) !== text).map(([rel]) => rel).sort();
    assert.deepEqual(changed, ['app/jobs.py', 'app/models.py', 'app/repositories/job_repository.py', 'app/repositories/user_repository.py', 'src/admin.ts', 'src/jobs.ts', 'src/repositories/jobRepository.ts']);
    for (const rel of changed) {
      if (rel.endsWith('.py')) assert.equal(pyCompile(path.join(dir, rel), cache), '', `${rel} must compile`);
      else assert.deepEqual(parseProblems(after.get(rel)!, rel), [], `${rel} must parse`);
    }
    for (const [rel, text] of initial) if (!changed.includes(rel)) assert.equal(after.get(rel), text, `${rel} changed`);
    fs.rmSync(cache, { recursive: true, force: true });
  });

  it('a rescan finds exactly the rewritten findings gone, and the kept statement still there', async () => {
    for (const rel of ['app/jobs.py', 'src/jobs.ts', 'src/admin.ts', 'src/report.js']) {
      const was = await rawSql(initial.get(rel)!, rel);
      const now = await rawSql(fs.readFileSync(path.join(dir, rel), 'utf8'), rel);
      const applied = report.applied.filter((a) => a.file === rel).length;
      assert.equal(now.length, was.length - applied, `${rel}: ${JSON.stringify(now)}`);
    }
    const py = await rawSql(fs.readFileSync(path.join(dir, 'app', 'jobs.py'), 'utf8'), 'app/jobs.py');
    assert.deepEqual(py, [{ sql: 'SELECT 1', kept: true }]);
  });

  it('the Python service returns the same values and leaves the same tables before and after', () => {
    const original = copyTree();
    try {
      const was = runService(original);
      const now = runService(dir);
      assert.deepEqual(now, was);
      assert.deepEqual((was as { results: unknown[][] }).results[0], ['get_job', [3], [3, 'deploy', 'pending']], 'the calls really ran');
    } finally {
      fs.rmSync(original, { recursive: true, force: true });
    }
  });

  it('with packageRoot, imports start at the package folder, and the service still runs the same', async () => {
    const top = fs.mkdtempSync(path.join(os.tmpdir(), 'sqlmigrate-fix-repo-root-'));
    const backend = path.join(top, 'backend');
    fs.cpSync(TREE, backend, { recursive: true });
    fs.rmSync(path.join(backend, '.sqlmigrate.json'));
    fs.writeFileSync(
      path.join(top, '.sqlmigrate.json'),
      JSON.stringify({ rewrite: { knex: { instance: 'db', import: 'backend/src/db' }, repository: { typescript: { dir: 'backend/src/repositories' }, python: { packageRoot: 'backend', dir: 'backend/app/repositories', session: 'get_session', sessionModule: 'app.db', models: 'backend/app/models.py' } } } }),
    );
    try {
      const run = await fix([top, '--target', 'repository', '--format', 'json']);
      assert.equal(run.code, 0, run.err);
      const r = JSON.parse(run.out) as Report;
      assert.equal(r.applied.filter((a) => a.file === 'backend/app/jobs.py').length, 4, JSON.stringify(r.skipped));
      const jobs = fs.readFileSync(path.join(backend, 'app', 'jobs.py'), 'utf8');
      assert.match(jobs, /^from app\.repositories\.job_repository import JobRepository$/m);
      assert.match(fs.readFileSync(path.join(backend, 'app', 'repositories', 'job_repository.py'), 'utf8'), /^from app\.models import Job$/m);
      const original = copyTree();
      try {
        assert.deepEqual(runService(backend), runService(original));
      } finally {
        fs.rmSync(original, { recursive: true, force: true });
      }
    } finally {
      fs.rmSync(top, { recursive: true, force: true });
    }
  });

  it('a second run changes nothing', async () => {
    const now = snapshot(dir);
    const again = await fix([dir, '--target', 'repository', '--format', 'json']);
    assert.equal(again.code, 0, again.err);
    const r = JSON.parse(again.out) as Report;
    assert.deepEqual(r.applied, []);
    assert.deepEqual(r.files, []);
    assert.deepEqual(snapshot(dir), now);
  });
});
