/**
 * Execution equivalence of the repository rewrite fixtures (test/fixtures/rewrite/repository-py):
 * every function of `<case>/input.py` (sqlite3 / psycopg2 through sqlm_repo_db.get_db) and of
 * `<case>/output.py` (a SQLAlchemy 1.4 Session through the repository files in
 * `<case>/expected/`) runs on a fresh seeded database; return values (compared with `==`) and the
 * tables afterwards must match. Cases whose input imports psycopg2 run against a throwaway
 * PostgreSQL server (postgres.ts), the others against SQLite.
 */
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startPostgres, type PostgresServer } from './postgres';
import { compileErrors, HARNESS_DIR, PYTHON } from './run';

const ROOT = path.join(__dirname, '..', '..', '..', 'test', 'fixtures', 'rewrite', 'repository-py');

interface Case {
  name: string;
  backend: 'sqlite' | 'postgresql';
  original: string;
  rewritten: string;
  files: Record<string, string>;
}

interface Result {
  name: string;
  fn: string;
  kwargs: Record<string, unknown>;
  equal: boolean;
  original: { result: unknown; tables: unknown };
  rewritten: { result: unknown; tables: unknown };
}

interface Output {
  sqlalchemy: string;
  results: Result[];
  errors: Array<{ name: string; side: string; error: string }>;
}

function filesUnder(dir: string, rel = ''): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(path.join(dir, e.name), `${rel}${e.name}/`) : [`${rel}${e.name}`]));
}

function loadCases(): Case[] {
  return fs.readdirSync(ROOT, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort().map((name) => {
    const dir = path.join(ROOT, name);
    const original = fs.readFileSync(path.join(dir, 'input.py'), 'utf8');
    const files: Record<string, string> = {};
    // The workspace after the rewrite: files present before, then what the rewrite wrote.
    for (const sub of ['existing', 'expected']) for (const f of filesUnder(path.join(dir, sub))) files[f] = fs.readFileSync(path.join(dir, sub, f), 'utf8');
    return { name, backend: /^\s*import psycopg2\b/m.test(original) ? 'postgresql' : 'sqlite', original, rewritten: fs.readFileSync(path.join(dir, 'output.py'), 'utf8'), files };
  });
}

function runRepositoryHarness(cases: Case[], postgres: string | undefined): Output {
  const r = spawnSync(PYTHON, [path.join(HARNESS_DIR, 'repository_harness.py')], { input: JSON.stringify({ cases, postgres: postgres ?? null }), encoding: 'utf8', cwd: HARNESS_DIR, maxBuffer: 256 * 1024 * 1024, env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' } });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`repository_harness.py exited ${r.status}: ${r.stderr.slice(-3000)}`);
  const out = JSON.parse(r.stdout) as Output;
  if (!/^1\.4\./.test(out.sqlalchemy)) throw new Error(`expected SQLAlchemy 1.4 (Debian's python3-sqlalchemy), found ${out.sqlalchemy}`);
  return out;
}

describe('python: repository rewrite fixtures executed both ways (SQLite, PostgreSQL)', function () {
  this.timeout(300_000);
  const cases = loadCases();
  let pg: PostgresServer | undefined;
  let output: Output | undefined;

  before(() => {
    if (cases.some((c) => c.backend === 'postgresql')) pg = startPostgres();
    output = runRepositoryHarness(cases, pg?.dsn);
  });
  after(() => {
    pg?.stop();
  });

  it('has SQLite and PostgreSQL cases', () => {
    assert.ok(cases.filter((c) => c.backend === 'sqlite').length >= 5);
    assert.ok(cases.filter((c) => c.backend === 'postgresql').length >= 1);
  });

  it('every output.py and repository file compiles with python3', () => {
    const sources = cases.flatMap((c) => [{ name: `${c.name}/output.py`, text: c.rewritten }, ...Object.entries(c.files).map(([f, text]) => ({ name: `${c.name}/${f}`, text }))]);
    assert.deepEqual(compileErrors(sources), []);
  });

  it('loads every module', () => {
    assert.deepEqual(output!.errors, []);
  });

  for (const c of cases) {
    it(`${c.name} (${c.backend}): same results and tables`, () => {
      assert.notEqual(c.rewritten, c.original, 'nothing was rewritten');
      const calls = output!.results.filter((r) => r.name === c.name);
      assert.ok(calls.length > 0, 'no function was called');
      for (const r of calls) {
        const label = `${c.name}.${r.fn}(${JSON.stringify(r.kwargs)})`;
        assert.ok(r.equal, `${label} returns ${JSON.stringify(r.rewritten.result)}, the original ${JSON.stringify(r.original.result)}`);
        assert.deepEqual(r.rewritten.tables, r.original.tables, `${label}: the tables afterwards`);
      }
    });
  }

  it('the comparison can fail: a method that orders the other way, or forgets the commit, is caught', () => {
    const base = cases.find((c) => c.name === 'sqlite-execute')!;
    const repo = 'repositories/job_repository.py';
    const reordered: Case = { ...base, name: 'broken-order', files: { ...base.files, [repo]: base.files[repo].replace('Job.priority.desc()', 'Job.priority') } };
    const writes = cases.find((c) => c.name === 'sqlite-writes')!;
    const uncommitted: Case = { ...writes, name: 'broken-commit', rewritten: writes.rewritten.split('session.commit()').join('pass') };
    assert.notEqual(reordered.files[repo], base.files[repo]);
    const out = runRepositoryHarness([reordered, uncommitted], undefined);
    assert.deepEqual(out.errors, []);
    assert.ok(out.results.some((r) => r.name === 'broken-order' && !r.equal), 'the reordered rows were not noticed');
    assert.ok(out.results.some((r) => r.name === 'broken-commit' && JSON.stringify(r.original.tables) !== JSON.stringify(r.rewritten.tables)), 'the missing commit was not noticed');
  });
});
