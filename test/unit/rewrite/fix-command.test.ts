/**
 * `sqlmigrate fix --target knex` over a copy of the fixture tree: JSON report, every changed
 * file parses, a rescan no longer finds the rewritten statements, --dry-run writes nothing.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runFixCommand } from '../../../server/src/rewrite/fix';
import { parseProblems, rawFindings } from './check';

const FIXTURES = path.join(__dirname, '..', '..', '..', '..', 'test', 'fixtures', 'rewrite', 'knex');

function copyTree(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sqlmigrate-fix-'));
  for (const driver of fs.readdirSync(FIXTURES)) {
    const src = path.join(FIXTURES, driver);
    if (!fs.statSync(src).isDirectory()) continue;
    fs.mkdirSync(path.join(dir, driver));
    for (const f of fs.readdirSync(src)) if (!/\.output\./.test(f)) fs.copyFileSync(path.join(src, f), path.join(dir, driver, f));
  }
  fs.writeFileSync(path.join(dir, '.sqlmigrate.json'), JSON.stringify({ wrappers: ['DB.query'], rewrite: { knex: { instance: 'db', import: './db' } } }));
  return dir;
}

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runFixCommand(args, { stdout: (s) => (out += s), stderr: (s) => (err += s) });
  return { code, out, err };
}

describe('rewrite: sqlmigrate fix --target knex', () => {
  it('applies verified rewrites; changed files parse and a rescan shows those statements gone', async () => {
    const dir = copyTree();
    const before = new Map<string, string>();
    for (const d of fs.readdirSync(dir)) if (fs.statSync(path.join(dir, d)).isDirectory()) for (const f of fs.readdirSync(path.join(dir, d))) before.set(`${d}/${f}`, fs.readFileSync(path.join(dir, d, f), 'utf8'));
    const { code, out } = await run([dir, '--target', 'knex', '--format', 'json']);
    assert.equal(code, 0);
    const report = JSON.parse(out) as { applied: Array<{ file: string; startLine: number; rule: string; target: string }>; skipped: Array<{ file: string; startLine: number; reason: string }> };
    assert.ok(report.applied.length >= 25, `applied ${report.applied.length}`);
    assert.ok(report.applied.every((a) => a.rule === 'raw-sql' && a.target === 'knex'));
    assert.ok(report.skipped.some((s) => s.file === 'pg/na-dynamic.ts'));
    for (const [rel, old] of before) {
      const now = fs.readFileSync(path.join(dir, rel), 'utf8');
      const appliedHere = report.applied.filter((a) => a.file === rel);
      if (!appliedHere.length) {
        assert.equal(now, old, `${rel} changed without an applied rewrite`);
        continue;
      }
      assert.deepEqual(parseProblems(now, rel), [], `${rel} must parse`);
      const oldLines = old.split('\n');
      const remaining = await rawFindings(now, rel);
      for (const a of appliedHere) {
        const sqlLine = oldLines[a.startLine - 1];
        assert.ok(!remaining.some((f) => sqlLine.includes(f.sql!.text.slice(0, 30))), `${rel}:${a.startLine} is still found`);
      }
      // The import is relative to the workspace root.
      assert.match(now, /from '\.\.\/db'|require\('\.\.\/db'\)/);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  // The driver of `pool.query` in jobs.ts comes from the module that creates `pool` (as in the scan).
  const ACROSS: Array<{ name: string; pool: string; applied: number; reason?: RegExp }> = [
    { name: 'pg pool from another module', pool: "import { Pool } from 'pg';\nexport const pool = new Pool();\n", applied: 1 },
    { name: 'a pool whose driver is unknown', pool: "import { makePool } from './factory';\nexport const pool = makePool();\n", applied: 0, reason: /driver/ },
  ];
  for (const c of ACROSS) {
    it(`follows the driver across files: ${c.name}`, async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sqlmigrate-fix-across-'));
      fs.writeFileSync(path.join(dir, '.sqlmigrate.json'), JSON.stringify({ rewrite: { knex: { instance: 'db', import: './db' } } }));
      fs.writeFileSync(path.join(dir, 'pool.ts'), c.pool);
      fs.writeFileSync(path.join(dir, 'jobs.ts'), "import { pool } from './pool';\n\nexport async function getJob(id: number) {\n  const res = await pool.query('SELECT * FROM jobs WHERE id = $1', [id]);\n  return res.rows;\n}\n");
      const { code, out } = await run([dir, '--target', 'knex', '--format', 'json']);
      assert.equal(code, 0);
      const report = JSON.parse(out) as { applied: Array<{ file: string }>; skipped: Array<{ file: string; reason: string }> };
      assert.equal(report.applied.filter((a) => a.file === 'jobs.ts').length, c.applied, out);
      if (c.reason) assert.ok(report.skipped.some((x) => x.file === 'jobs.ts' && c.reason!.test(x.reason)), out);
      else assert.match(fs.readFileSync(path.join(dir, 'jobs.ts'), 'utf8'), /await db\('jobs'\)/);
      fs.rmSync(dir, { recursive: true, force: true });
    });
  }

  it('rewrites a hand-written transaction as a whole, never the statements inside it on their own', async () => {
    const TX = path.join(__dirname, '..', '..', '..', '..', 'test', 'fixtures', 'rewrite', 'knex-transaction');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sqlmigrate-fix-tx-'));
    fs.writeFileSync(path.join(dir, '.sqlmigrate.json'), JSON.stringify({ rewrite: { knex: { instance: 'db', import: './db' } } }));
    fs.copyFileSync(path.join(TX, 'transfer.input.ts'), path.join(dir, 'transfer.ts'));
    fs.copyFileSync(path.join(TX, 'na-savepoint.ts'), path.join(dir, 'savepoint.ts'));
    const before = fs.readFileSync(path.join(dir, 'savepoint.ts'), 'utf8');
    const { code, out } = await run([dir, '--target', 'knex', '--format', 'json']);
    assert.equal(code, 0);
    const report = JSON.parse(out) as { applied: Array<{ file: string; rule: string; target: string }>; skipped: Array<{ file: string; reason: string }> };
    assert.deepEqual(report.applied.map((a) => [a.file, a.rule, a.target]), [['transfer.ts', 'manual-transaction', 'knex-transaction']]);
    assert.equal(fs.readFileSync(path.join(dir, 'transfer.ts'), 'utf8'), fs.readFileSync(path.join(TX, 'transfer.output.ts'), 'utf8'));
    // The transaction that is not rewritten keeps its statements as they are, with the reason.
    assert.equal(fs.readFileSync(path.join(dir, 'savepoint.ts'), 'utf8'), before);
    assert.ok(report.skipped.some((x) => x.file === 'savepoint.ts' && /inside the hand-written transaction/.test(x.reason)), out);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('--dry-run writes nothing and prints the same report', async () => {
    const dir = copyTree();
    const snapshot = fs.readFileSync(path.join(dir, 'pg', 'rows-first.input.ts'), 'utf8');
    const { code, out } = await run([dir, '--target', 'knex', '--dry-run']);
    assert.equal(code, 0);
    assert.match(out, /would rewrite/);
    assert.equal(fs.readFileSync(path.join(dir, 'pg', 'rows-first.input.ts'), 'utf8'), snapshot);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('usage errors exit 2', async () => {
    // An empty temp directory, never '.': a usage error that is not caught would rewrite the repo.
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'sqlmigrate-fix-usage-'));
    assert.equal((await run([empty, '--target', 'hibernate'])).code, 2);
    assert.equal((await run([empty, '--target', 'knex', '--format', 'xml'])).code, 2);
    fs.rmSync(empty, { recursive: true, force: true });
    const dir = copyTree();
    fs.writeFileSync(path.join(dir, '.sqlmigrate.json'), JSON.stringify({ rewrite: { knex: { import: '../outside' } } }));
    const r = await run([dir, '--target', 'knex']);
    assert.equal(r.code, 2);
    assert.match(r.err, /leaves the workspace/);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
