/**
 * Focused tests of the TypeScript / JavaScript detector: what the fixture tables cannot show
 * (recovered SQL details, comments, robustness on hostile input, speed).
 */
import * as assert from 'node:assert/strict';
import { detectTypeScript } from '../../server/src/engine/detect/ts';
import type { DetectOptions, DetectorResult, Finding } from '../../server/src/engine/types';

const OPTIONS: DetectOptions = { defaultDialect: 'postgresql', wrappers: [], sessionFactories: [] };
const PG = "import { Pool } from 'pg';\nconst pool = new Pool();\n";

function detect(text: string, fileName = 'a.ts', options: Partial<DetectOptions> = {}): DetectorResult {
  return detectTypeScript(text, fileName, { ...OPTIONS, ...options });
}

function raw(result: DetectorResult): Finding[] {
  return result.findings.filter((f) => f.rule === 'raw-sql');
}

function only(result: DetectorResult): Finding {
  const found = raw(result);
  assert.equal(found.length, 1, `expected one raw-sql finding, got ${found.map((f) => f.sql?.text).join(' | ')}`);
  return found[0];
}

describe('TypeScript detector', () => {
  describe('recovered SQL', () => {
    it('keeps a literal as written, with its range and callee', () => {
      const f = only(detect(PG + "export const q = () => pool.query('SELECT * FROM jobs WHERE id = $1', [1]);\n"));
      assert.equal(f.sql?.text, 'SELECT * FROM jobs WHERE id = $1');
      assert.equal(f.sql?.origin, 'literal');
      assert.equal(f.callee, 'pool.query');
      assert.equal(f.driver, 'pg');
      assert.equal(f.language, 'typescript');
      assert.deepEqual(f.range, { start: { line: 2, character: 23 }, end: { line: 2, character: 74 } });
    });

    it('replaces template substitutions with placeholders and lists their source', () => {
      const f = only(detect(PG + 'export const q = (col: string, id: number) => pool.query(`SELECT ${col} FROM jobs WHERE id = ${id + 1}`);\n'));
      assert.equal(f.sql?.text, 'SELECT __sqlm_dyn_1__ FROM jobs WHERE id = __sqlm_dyn_2__');
      assert.equal(f.sql?.dynamic, true);
      assert.deepEqual(f.sql?.dynamicParts, ['col', 'id + 1']);
      assert.equal(f.sql?.origin, 'template');
    });

    it('inlines consts from enclosing scopes, recursively, and reports the variable', () => {
      const f = only(detect(PG + "const T = 'jobs';\nconst COLS = `id, ${'name'}`;\nfunction f() {\n  const sql = `SELECT ${COLS} FROM ${T}`;\n  return pool.query(sql);\n}\n"));
      assert.equal(f.sql?.text, 'SELECT id, name FROM jobs');
      assert.equal(f.sql?.dynamic, false);
      assert.equal(f.sql?.origin, 'variable');
      assert.equal(f.sql?.variable, 'sql');
    });

    it('treats `+` concatenation of runtime values as dynamic, rooted in its variable', () => {
      const f = only(detect(PG + "const base = 'SELECT * FROM jobs WHERE status = ';\nexport const q = (s: string) => pool.query(base + s + ' LIMIT 10');\n"));
      assert.equal(f.sql?.text, 'SELECT * FROM jobs WHERE status = __sqlm_dyn_1__ LIMIT 10');
      assert.equal(f.sql?.origin, 'concatenation');
      assert.equal(f.sql?.variable, 'base');
      assert.deepEqual(f.sql?.dynamicParts, ['s']);
    });

    it('does not resolve a name shadowed by a parameter, nor a reassigned let', () => {
      const r = detect(PG + "const sql = 'SELECT * FROM jobs';\nexport const a = (sql: string) => pool.query(sql);\nlet b = 'SELECT 1';\nb = 'DELETE FROM jobs';\nexport const c = () => pool.query(b);\n");
      assert.deepEqual(raw(r), []);
    });

    it('treats `+=` onto a let as dynamic', () => {
      const f = only(detect(PG + "export function f(x?: string) {\n  let sql = 'SELECT * FROM jobs WHERE 1 = 1';\n  if (x) sql += ' AND status = $1';\n  return pool.query(sql, [x]);\n}\n"));
      assert.equal(f.sql?.text, 'SELECT * FROM jobs WHERE 1 = 1 AND status = $1');
      assert.equal(f.dynamic, true);
    });

    it('renders tagged-template values as bound parameters in the dialect of the driver', () => {
      const pg = only(detect("import { sql } from '@vercel/postgres';\nexport const f = (id: number) => sql`SELECT * FROM jobs WHERE id = ${id} AND owner = ${id}`;\n"));
      assert.equal(pg.sql?.text, 'SELECT * FROM jobs WHERE id = $1 AND owner = $2');
      assert.equal(pg.dynamic, false);
      const my = only(detect("import mysql from 'mysql2/promise';\nimport SQL from 'sql-template-strings';\nconst db = mysql.createPool({});\nexport const f = (id: number) => db.query(SQL`SELECT * FROM jobs WHERE id = ${id}`);\n"));
      assert.equal(my.sql?.text, 'SELECT * FROM jobs WHERE id = ?');
      assert.equal(my.driver, 'mysql2');
    });

    it('reports a tagged template passed to a driver call once, at the call', () => {
      const r = detect("import { createPool, sql } from 'slonik';\nexport async function f(id: number) {\n  const pool = await createPool('');\n  const q = sql.unsafe`DELETE FROM jobs WHERE id = ${id}`;\n  return pool.query(q);\n}\n");
      const f = only(r);
      assert.equal(f.callee, 'pool.query');
      assert.equal(f.range.start.line, 4);
    });
  });

  describe('call sites', () => {
    it('matches configured wrappers on the end of the callee text, with their SQL argument', () => {
      const r = detect("export class S {\n  run(id: number) {\n    return this.DB.exec(id, 'UPDATE jobs SET seen = true WHERE id = ?');\n  }\n}\n", 'a.ts', {
        wrappers: [{ callee: 'DB.exec', sqlArgument: 1, dialect: 'mysql' }],
      });
      const f = only(r);
      assert.equal(f.driver, 'wrapper');
      assert.equal(f.callee, 'this.DB.exec');
      assert.equal(f.info?.dialect, 'mysql');
    });

    it('needs parsed SQL with a table for unknown callees, but not for driver methods', () => {
      assert.deepEqual(raw(detect("setTitle('Update the settings');\nrender('Select an option');\nfoo('SELECT 1');\n")), []);
      assert.equal(raw(detect("runSql('SELECT id FROM jobs');\n")).length, 1);
      assert.equal(raw(detect(PG + "pool.query('SELECT id, FROM jobs');\n")).length, 1);
    });

    it('covers a better-sqlite3 statement chain', () => {
      const f = only(detect("import Database from 'better-sqlite3';\nconst db = new Database('x');\nexport const all = () => db\n  .prepare('SELECT * FROM jobs')\n  .raw()\n  .all();\n"));
      assert.equal(f.driver, 'better-sqlite3');
      assert.equal(f.range.start.line, 2);
      assert.equal(f.range.end.line, 5);
    });

    it('parses JSX in .js and .jsx files and reports them as javascript', () => {
      for (const name of ['a.js', 'a.jsx', 'a.mjs', 'a.cjs']) {
        const r = detect("const db = openDb();\nexport const C = () => <button onClick={() => db.run('DELETE FROM jobs WHERE id = ?', 1)}>Delete from jobs</button>;\n", name);
        const f = only(r);
        assert.equal(f.language, 'javascript', name);
        assert.deepEqual(r.problems, [], name);
      }
    });

    it('leaves transaction control alone outside a manual transaction', () => {
      const r = detect(PG + "export async function f(c: any) {\n  await c.query('COMMIT');\n}\nexport async function g(c: any) {\n  await c.query('BEGIN');\n}\n");
      assert.deepEqual(r.findings, []);
    });

    it('reports a manual transaction once, from connect() to release()', () => {
      const r = detect(PG + "export async function f() {\n  const c = await pool.connect();\n  try {\n    await c.query('BEGIN');\n    await c.query('DELETE FROM jobs');\n    await c.query('COMMIT');\n  } finally {\n    c.release();\n  }\n}\n");
      const tx = r.findings.filter((f) => f.rule === 'manual-transaction');
      assert.equal(tx.length, 1);
      assert.equal(tx[0].kind, 'other');
      assert.equal(tx[0].range.start.line, 3);
      assert.equal(tx[0].range.end.line, 9);
      assert.deepEqual(tx[0].tables, ['jobs']);
      assert.deepEqual(raw(r).map((f) => f.sql?.text), ['DELETE FROM jobs']);
    });
  });

  describe('comments', () => {
    it('lists every comment with zero-based lines, text without markers and trailing flags', () => {
      const text = [
        '#!/usr/bin/env node',
        '// leading',
        "const url = 'http://example.com/*not*/'; // trailing",
        'const re = /\\/\\/x/; const t = `// ${1 /* inside */} //`;',
        '/**',
        ' * JSDoc line',
        ' * sqlmigrate-keep: reason',
        ' */',
        'const el = <p>see http://x // not a comment</p>;',
        'const j = <div>',
        '  {/* jsx comment */}',
        '</div>;',
      ].join('\n');
      const r = detect(text, 'a.tsx');
      assert.deepEqual(
        r.comments.map((c) => [c.line, c.endLine, c.text, c.trailing]),
        [
          [1, 1, 'leading', false],
          [2, 2, 'trailing', true],
          [3, 3, 'inside', true],
          [4, 7, 'JSDoc line\nsqlmigrate-keep: reason', false],
          [10, 10, 'jsx comment', false],
        ],
      );
    });
  });

  describe('hostile input', () => {
    it('survives 20,000 nested parentheses and still reports what is around them', () => {
      const deep = '('.repeat(20000) + '1' + ')'.repeat(20000);
      const r = detect(PG + `pool.query('SELECT * FROM before_deep');\nconst x = ${deep};\npool.query('SELECT * FROM after_deep');\n`);
      assert.deepEqual(raw(r).map((f) => f.tables[0]), ['before_deep', 'after_deep']);
      assert.ok(r.problems.length > 0);
    });

    it('survives deep chains without brackets', () => {
      const chain = 'if (a) {} ' + 'else if (a) {} '.repeat(20000);
      const r = detect(PG + `pool.query('SELECT * FROM jobs');\n${chain}\n`);
      assert.equal(raw(r).length, 1);
      assert.ok(r.problems.some((p) => /nested too deeply/.test(p.message)));
    });

    it('reports syntax errors as problems with ranges and keeps the other findings', () => {
      const r = detect(PG + "pool.query('SELECT * FROM a');\nconst = ;\nif (x {\n  pool.query('SELECT * FROM b');\n}\nclass {\nconst s = 'unterminated\n");
      assert.ok(r.problems.length > 0 && r.problems.length <= 6);
      assert.ok(r.problems.every((p) => !p.message.startsWith('Syntax error') || p.range));
      assert.deepEqual(raw(r).map((f) => f.tables[0]), ['a', 'b']);
    });

    it('never throws on garbage', () => {
      for (const text of ['\u0000\u0001<<<>>>{{{', '`${'.repeat(2000), '/*', ')))]]]}}}', 'pool.query(`SELECT ${', "'a' + ".repeat(30000) + "'b'"]) {
        const r = detect(text);
        assert.ok(Array.isArray(r.findings));
      }
    });

    it('is fast on a large file', function () {
      this.timeout(20000);
      const fn = (i: number) => `export async function f${i}(id: number) {\n  // load ${i}\n  const { rows } = await pool.query('SELECT * FROM t${i % 50} WHERE id = $1', [id]);\n  console.log('SELECT failed', rows.length);\n  return rows;\n}\n`;
      const text = PG + Array.from({ length: 2000 }, (_, i) => fn(i)).join('');
      const started = Date.now();
      const r = detect(text);
      const ms = Date.now() - started;
      assert.equal(raw(r).length, 2000);
      assert.equal(r.comments.length, 2000);
      assert.ok(ms < 5000, `took ${ms} ms`);
    });
  });
});
