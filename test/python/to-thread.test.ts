/**
 * Execution equivalence of the `asyncio.to_thread` fix (test/fixtures/rewrite/to-thread): every
 * coroutine of `<shape>.input.py` and of `<shape>.output.py` runs under asyncio on a fresh seeded
 * SQLite database (sqlite3 and SQLAlchemy 1.4 sessions); results, tables and session state must
 * match, and the statements that ran on the event loop's thread must have moved to workers.
 * The harness is test/python/to_thread_harness.py (harness.py's protocol is unchanged).
 */
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { compileErrors, HARNESS_DIR, PYTHON, type Pair } from './run';

const ROOT = path.join(__dirname, '..', '..', '..', 'test', 'fixtures', 'rewrite', 'to-thread');

interface Side {
  result: unknown;
  rows: unknown;
  session: unknown;
  threads: { loop: number; worker: number };
}

interface Output {
  sqlalchemy: string;
  python: string;
  results: Array<{ name: string; fn: string; kwargs: Record<string, unknown>; original: Side; rewritten: Side }>;
  errors: Array<{ name: string; side: string; error: string }>;
}

function runToThreadHarness(pairs: Pair[], strictSqlite = false): Output {
  if (!fs.existsSync(PYTHON)) throw new Error(`${PYTHON} is missing: apt-get install python3 python3-sqlalchemy`);
  const r = spawnSync(PYTHON, [path.join(HARNESS_DIR, 'to_thread_harness.py')], {
    input: JSON.stringify({ pairs, strict_sqlite: strictSqlite }),
    encoding: 'utf8',
    cwd: HARNESS_DIR,
    maxBuffer: 256 * 1024 * 1024,
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' },
  });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`to_thread_harness.py exited ${r.status}: ${r.stderr.slice(-2000)}`);
  const out = JSON.parse(r.stdout) as Output;
  if (!/^1\.4\./.test(out.sqlalchemy)) throw new Error(`expected SQLAlchemy 1.4 (Debian's python3-sqlalchemy), found ${out.sqlalchemy}`);
  return out;
}

const outcome = (s: Side) => ({ result: s.result, rows: s.rows, session: s.session });

describe('python: asyncio.to_thread fixture pairs executed both ways', function () {
  this.timeout(300_000);
  const pairs: Pair[] = fs
    .readdirSync(ROOT)
    .filter((f) => f.endsWith('.input.py'))
    .sort()
    .map((f) => ({ name: f.replace(/\.input\.py$/, ''), original: fs.readFileSync(path.join(ROOT, f), 'utf8'), rewritten: fs.readFileSync(path.join(ROOT, f.replace(/\.input\.py$/, '.output.py')), 'utf8') }));

  it('every fixture file compiles with python3', () => {
    const files = fs.readdirSync(ROOT).filter((f) => f.endsWith('.py'));
    assert.ok(files.length >= 15);
    assert.deepEqual(compileErrors(files.map((f) => ({ name: f, text: fs.readFileSync(path.join(ROOT, f), 'utf8') }))), []);
  });

  let output: Output | undefined;
  before(() => {
    output = runToThreadHarness(pairs);
  });

  it('loads every module', () => {
    assert.deepEqual(output!.errors, []);
  });

  for (const p of pairs) {
    it(`${p.name}: same results, rows and session state; the statements left the event loop`, () => {
      assert.match(p.rewritten, /await asyncio\.to_thread\(/, 'the output holds no to_thread call');
      const calls = output!.results.filter((r) => r.name === p.name);
      assert.ok(calls.length > 0, 'no coroutine was called');
      for (const c of calls) {
        const what = `${p.name}.${c.fn}(${JSON.stringify(c.kwargs)})`;
        assert.deepEqual(outcome(c.rewritten), outcome(c.original), `${what} differs`);
        assert.equal(c.original.threads.worker, 0, `${what}: the original ran statements off the loop`);
        assert.ok(c.original.threads.loop > 0, `${what}: the original ran no statement`);
        assert.ok(c.rewritten.threads.worker > 0, `${what}: nothing ran in a worker thread`);
        assert.ok(c.rewritten.threads.loop < c.original.threads.loop, `${what}: ${c.rewritten.threads.loop} statements still on the loop (was ${c.original.threads.loop})`);
      }
    });
  }

  it('the comparison can fail: sqlite3 opened without check_same_thread=False breaks in the worker (why that is refused)', () => {
    const pair = pairs.find((p) => p.name === 'sqlite3-cursor')!;
    const strip = (t: string) => t.split(', check_same_thread=False').join('');
    const broken = { name: 'same-thread', original: strip(pair.original), rewritten: strip(pair.rewritten) };
    assert.notEqual(broken.rewritten, pair.rewritten);
    const out = runToThreadHarness([broken]);
    assert.deepEqual(out.errors, []);
    for (const c of out.results) {
      assert.ok(!JSON.stringify(c.original.result).includes('ProgrammingError'), `${c.fn}: the original failed`);
      assert.deepEqual(c.rewritten.result, { error: 'ProgrammingError' }, `${c.fn}: ${JSON.stringify(c.rewritten.result)}`);
    }
  });

  it('the comparison can fail: a Session on a SQLite engine without check_same_thread=False breaks (why that is refused)', () => {
    const pair = pairs.find((p) => p.name === 'depends')!;
    const out = runToThreadHarness([pair], true);
    assert.deepEqual(out.errors, []);
    const original = out.results.map((r) => JSON.stringify(r.original.result));
    assert.ok(!original.some((r) => r.includes('ProgrammingError')), `the originals failed: ${original.join(', ')}`);
    const differing = out.results.filter((r) => JSON.stringify(outcome(r.original)) !== JSON.stringify(outcome(r.rewritten)));
    assert.ok(differing.some((r) => r.fn === 'get_job' && JSON.stringify(r.rewritten.result).includes('ProgrammingError')), `differing: ${differing.map((d) => `${d.fn} ${JSON.stringify(d.rewritten.result)}`).join('; ')}`);
  });

  it('the comparison can fail: a rewrite that changes the query is caught', () => {
    const pair = pairs.find((p) => p.name === 'depends')!;
    const broken = { name: 'changed', original: pair.original, rewritten: pair.rewritten.replace('lambda: db.query(Job).filter(Job.status == status)', 'lambda: db.query(Job).filter(Job.status != status)') };
    assert.notEqual(broken.rewritten, pair.rewritten);
    const out = runToThreadHarness([broken]);
    assert.ok(out.results.some((r) => r.fn === 'list_jobs' && JSON.stringify(r.original.result) !== JSON.stringify(r.rewritten.result)), 'the harness did not notice the difference');
  });
});
