/**
 * Execution equivalence of the SQLAlchemy 2.0 fixture pairs (test/fixtures/rewrite/sqlalchemy2):
 * every function of `<shape>.input.py` and of `<shape>.output.py` runs on a fresh seeded SQLite
 * database under SQLAlchemy 1.4 (future=True); results, tables and session state must match.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runFixCommand } from '../../server/src/rewrite/fix';
import { compileErrors, runHarness, type Pair } from './run';

const ROOT = path.join(__dirname, '..', '..', '..', 'test', 'fixtures', 'rewrite', 'sqlalchemy2');

describe('python: SQLAlchemy 2.0 fixture pairs executed both ways', function () {
  this.timeout(300_000);
  const pairs: Pair[] = fs
    .readdirSync(ROOT)
    .filter((f) => f.endsWith('.input.py'))
    .sort()
    .map((f) => ({ name: f.replace(/\.input\.py$/, ''), original: fs.readFileSync(path.join(ROOT, f), 'utf8'), rewritten: fs.readFileSync(path.join(ROOT, f.replace(/\.input\.py$/, '.output.py')), 'utf8') }));

  it('every fixture file compiles with python3', () => {
    const files = fs.readdirSync(ROOT).filter((f) => f.endsWith('.py'));
    assert.deepEqual(compileErrors(files.map((f) => ({ name: f, text: fs.readFileSync(path.join(ROOT, f), 'utf8') }))), []);
  });

  let output: ReturnType<typeof runHarness> | undefined;
  before(() => {
    output = runHarness(pairs);
  });

  it('loads every module', () => {
    assert.deepEqual(output!.errors, []);
  });

  for (const p of pairs) {
    it(`${p.name}: same results, rows and session state`, () => {
      assert.match(p.original, /\.query\b/, 'the input holds no legacy query');
      assert.notEqual(p.rewritten, p.original, 'the output is the input: nothing was rewritten');
      const calls = output!.results.filter((r) => r.name === p.name);
      assert.ok(calls.length > 0, 'no function was called');
      for (const c of calls) {
        assert.deepEqual(c.rewritten, c.original, `${p.name}.${c.fn}(${JSON.stringify(c.kwargs)}) differs`);
      }
    });
  }

  it('sqlmigrate fix (every pass, nested chains included) gives files that compile and behave the same', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sqlmigrate-py-fix-'));
    for (const p of pairs) fs.writeFileSync(path.join(dir, `${p.name}.py`), p.original);
    let out = '';
    const code = await runFixCommand([dir, '--target', 'sqlalchemy2', '--format', 'json'], { stdout: (t) => (out += t), stderr: () => undefined });
    assert.equal(code, 0);
    const report = JSON.parse(out) as { applied: unknown[] };
    const fixed = pairs.map((p) => ({ name: `${p.name}-fixed`, original: p.original, rewritten: fs.readFileSync(path.join(dir, `${p.name}.py`), 'utf8') }));
    fs.rmSync(dir, { recursive: true, force: true });
    assert.ok(report.applied.length > pairs.length, `applied ${report.applied.length}`);
    assert.doesNotMatch(fixed.find((f) => f.name === 'subquery-fixed')!.rewritten, /\.query\(/, 'the nested chains are rewritten on later passes');
    assert.deepEqual(compileErrors(fixed.map((f) => ({ name: f.name, text: f.rewritten }))), []);
    const run = runHarness(fixed);
    assert.deepEqual(run.errors, []);
    for (const c of run.results) assert.deepEqual(c.rewritten, c.original, `${c.name}.${c.fn}(${JSON.stringify(c.kwargs)}) differs`);
  });

  it('the comparison can fail: a rewrite that drops synchronisation is caught', () => {
    const bulk = pairs.find((p) => p.name === 'bulk')!;
    const broken = { name: 'broken', original: bulk.original, rewritten: bulk.rewritten.replace('.execution_options(synchronize_session="fetch")', '.execution_options(synchronize_session=False)') };
    assert.notEqual(broken.rewritten, bulk.rewritten);
    const out = runHarness([broken]);
    assert.ok(out.results.some((r) => JSON.stringify(r.original) !== JSON.stringify(r.rewritten)), 'the harness did not notice the difference');
  });

  it('the comparison can fail: a rewrite without its module-level import is caught', () => {
    const local = pairs.find((p) => p.name === 'imports-local')!;
    const broken = { name: 'no-import', original: local.original, rewritten: local.rewritten.replace('from sqlalchemy import select\n', '') };
    assert.notEqual(broken.rewritten, local.rewritten);
    const out = runHarness([broken]);
    const legacy = out.results.find((r) => r.fn === 'legacy')!;
    assert.deepEqual(legacy.rewritten.result, { error: 'NameError' });
  });

  it('the comparison can fail: joined entity rows read without .unique() are caught', () => {
    const joins = pairs.find((p) => p.name === 'joins')!;
    const broken = { name: 'no-unique', original: joins.original, rewritten: joins.rewritten.split('.scalars().unique().all()').join('.scalars().all()') };
    assert.notEqual(broken.rewritten, joins.rewritten);
    const out = runHarness([broken]);
    const differing = out.results.filter((r) => JSON.stringify(r.original) !== JSON.stringify(r.rewritten)).map((r) => r.fn);
    assert.ok(differing.includes('jobs_with_failures') && differing.includes('implicit_join'), `differing: ${differing.join(', ')}`);
  });
});
