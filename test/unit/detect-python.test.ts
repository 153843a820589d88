/**
 * Focused tests of the Python detector: loading, positions, comments, SQL recovery details,
 * options and hostile input. The fixture tables (detect-fixtures.test.ts) cover the rules.
 */
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { detectPython, initPython, pythonWasmPaths } from '../../server/src/engine/detect/python';
import type { DetectOptions, Finding } from '../../server/src/engine/types';

const OPTIONS: DetectOptions = { defaultDialect: 'postgresql', wrappers: [], sessionFactories: ['get_session'] };

function detect(text: string, options: DetectOptions = OPTIONS) {
  return detectPython(text, options);
}

function only(findings: Finding[], rule: Finding['rule']): Finding {
  const f = findings.filter((x) => x.rule === rule);
  assert.equal(f.length, 1, `expected one ${rule}, got ${f.length}: ${findings.map((x) => x.message).join(' | ')}`);
  return f[0];
}

describe('python detector', function () {
  this.timeout(120_000);

  before(async () => {
    await initPython();
  });

  describe('loading', () => {
    it('finds the wasm files next to the packages by default', () => {
      const p = pythonWasmPaths();
      assert.ok(fs.existsSync(p.runtime), p.runtime);
      assert.ok(fs.existsSync(p.python), p.python);
    });

    it('takes the wasm folder from the argument, then from SQLMIGRATE_WASM_DIR', () => {
      assert.equal(pythonWasmPaths('/opt/x').python, path.join('/opt/x', 'tree-sitter-python.wasm'));
      const saved = process.env.SQLMIGRATE_WASM_DIR;
      process.env.SQLMIGRATE_WASM_DIR = '/srv/wasm';
      try {
        assert.equal(pythonWasmPaths().runtime, path.join('/srv/wasm', 'web-tree-sitter.wasm'));
        assert.equal(pythonWasmPaths('/opt/x').runtime, path.join('/opt/x', 'web-tree-sitter.wasm'));
      } finally {
        if (saved === undefined) delete process.env.SQLMIGRATE_WASM_DIR;
        else process.env.SQLMIGRATE_WASM_DIR = saved;
      }
    });

    it('is idempotent', async () => {
      await Promise.all([initPython(), initPython(), initPython({ wasmDir: '/ignored/once/loaded' })]);
      assert.equal(detect('import sqlite3\nc.execute("SELECT * FROM t")\n').findings.length, 1);
    });

    it('throws a clear error when initPython was not awaited', () => {
      const entry = path.join(__dirname, '..', '..', 'server', 'src', 'engine', 'detect', 'python', 'index.js');
      const script = `try { require(${JSON.stringify(entry)}).detectPython('x = 1', {}); console.log('no error'); } catch (e) { console.log(e.message); }`;
      const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
      assert.match(r.stdout, /initPython\(\)/);
    });
  });

  describe('positions and comments', () => {
    it('reports UTF-16 columns on lines with non-ASCII text', () => {
      const text = 'import sqlite3\nx = "é😀"; cur.execute("SELECT * FROM jobs")  # ü\n';
      const f = only(detect(text).findings, 'raw-sql');
      const line = text.split('\n')[1];
      assert.deepEqual(f.range, {
        start: { line: 1, character: line.indexOf('cur.') },
        end: { line: 1, character: line.indexOf('  #') },
      });
    });

    it('keeps rows and columns with CRLF line ends and a multi-line call', () => {
      const text = 'import sqlite3\r\nconn.execute(\r\n    "UPDATE jobs SET status = ? WHERE id = ?", ("done", 1)\r\n)\r\n';
      const f = only(detect(text).findings, 'raw-sql');
      assert.deepEqual(f.range, { start: { line: 1, character: 0 }, end: { line: 3, character: 1 } });
    });

    it('lists every comment with its text, lines and whether code precedes it', () => {
      const text = '# top\nx = 1  # sqlmigrate-keep: reason\ns = "# not a comment"\n    ## indented\n';
      assert.deepEqual(detect(text).comments, [
        { line: 0, endLine: 0, text: 'top', trailing: false },
        { line: 1, endLine: 1, text: 'sqlmigrate-keep: reason', trailing: true },
        { line: 3, endLine: 3, text: 'indented', trailing: false },
      ]);
    });
  });

  describe('SQL recovery', () => {
    it('resolves a variable of the enclosing function and names it', () => {
      const r = detect('import sqlite3\ndef f(c):\n    schema = """CREATE TABLE t (id int)"""\n    c.executescript(schema)\n');
      const f = only(r.findings, 'raw-sql');
      assert.equal(f.kind, 'ddl');
      assert.equal(f.sql?.origin, 'variable');
      assert.equal(f.sql?.variable, 'schema');
      assert.equal(f.dynamic, false);
    });

    it('turns f-string parts into placeholders, but inlines string constants', () => {
      const r = detect('import psycopg2\nCOLS = "id, name"\ndef f(cur, table):\n    cur.execute(f"SELECT {COLS} FROM {table} WHERE id = %s", (1,))\n');
      const f = only(r.findings, 'raw-sql');
      assert.equal(f.sql?.text, 'SELECT id, name FROM __sqlm_dyn_1__ WHERE id = %s');
      assert.deepEqual(f.sql?.dynamicParts, ['table']);
      assert.equal(f.sql?.origin, 'template');
      assert.equal(f.dynamic, true);
    });

    it('treats % and .format() formatting as dynamic, not parameter binding', () => {
      const r = detect([
        'import pymysql',
        'def f(cur, col, t):',
        '    cur.execute("SELECT %s FROM jobs WHERE x LIKE \'a%%\'" % (col,))',
        '    cur.execute("SELECT * FROM {t} ORDER BY {}".format(col, t=t))',
        '    cur.execute("SELECT * FROM jobs WHERE id = %s", (col,))',
        '',
      ].join('\n'));
      const [a, b, c] = r.findings;
      assert.equal(a.sql?.text, "SELECT __sqlm_dyn_1__ FROM jobs WHERE x LIKE 'a%'");
      assert.deepEqual(a.sql?.dynamicParts, ['col']);
      assert.equal(a.sql?.origin, 'format');
      assert.equal(b.sql?.text, 'SELECT * FROM __sqlm_dyn_1__ ORDER BY __sqlm_dyn_2__');
      assert.deepEqual(b.sql?.dynamicParts, ['t', 'col']);
      assert.equal(c.dynamic, false);
    });

    it('appends unconditional `+=` text statically and conditional appends dynamically', () => {
      const base = 'import sqlite3\ndef f(c, s):\n    sql = "SELECT * FROM jobs"\n';
      const plain = only(detect(base + '    sql += " WHERE id = ?"\n    c.execute(sql)\n').findings, 'raw-sql');
      assert.equal(plain.sql?.text, 'SELECT * FROM jobs WHERE id = ?');
      assert.equal(plain.dynamic, false);
      const cond = only(detect(base + '    if s:\n        sql += " WHERE status = ?"\n    else:\n        sql += " WHERE status IS NULL"\n    c.execute(sql)\n').findings, 'raw-sql');
      assert.equal(cond.sql?.text, 'SELECT * FROM jobs WHERE status = ?');
      assert.equal(cond.dynamic, true);
      assert.equal(cond.info?.parsed, true);
    });

    it('reports a driver call with SQL it cannot see as dynamic, kind other', () => {
      const f = only(detect('import sqlite3\ndef run(conn, query):\n    return conn.execute(query)\n').findings, 'raw-sql');
      assert.equal(f.kind, 'other');
      assert.equal(f.dynamic, true);
      assert.deepEqual(f.sql?.dynamicParts, ['query']);
      assert.equal(f.sql?.variable, 'query');
    });

    it('does not report an object of its own with an execute method', () => {
      const r = detect('import sqlite3\ndef f(job, bus, command):\n    job.execute(doc_id=5)\n    bus.execute(command)\n');
      assert.deepEqual(r.findings, []);
    });

    it('counts session.execute(text(...)) once, at the outer call', () => {
      const text = 'from sqlalchemy import text\ndef f(session):\n    session.execute(text("DELETE FROM jobs WHERE id = :id"), {"id": 1})\n';
      const f = only(detect(text).findings, 'raw-sql');
      assert.equal(f.driver, 'sqlalchemy');
      assert.equal(f.callee, 'session.execute');
      assert.equal(f.range.start.character, 4);
    });
  });

  describe('sessions', () => {
    it('gives one finding per query chain with entities and tables', () => {
      const text = [
        'from sqlalchemy.orm import Session',
        'class Job(Base):',
        '    __tablename__ = "jobs"',
        'def f(session: Session):',
        '    return session.query(Job.id, Run).join(Run).filter(Job.id > 1).all()',
        '',
      ].join('\n');
      const f = only(detect(text).findings, 'session-legacy-query');
      assert.deepEqual(f.entities, ['Job', 'Run']);
      assert.deepEqual(f.tables, ['jobs']);
      assert.equal(f.complexity, 'medium');
      assert.equal(f.range.start.character, 11);
    });

    it('uses the configured session factories', () => {
      const text = 'def f():\n    with make_session() as s:\n        pass\n    with get_session() as t:\n        pass\n';
      const r = detect(text, { ...OPTIONS, sessionFactories: ['db.make_session'] });
      assert.equal(r.findings.length, 0);
      const r2 = detect(text, { ...OPTIONS, sessionFactories: ['make_session'] });
      assert.equal(only(r2.findings, 'session-usage').range.start.line, 1);
    });

    it('names the blocking call and the coroutine in sync-in-async', () => {
      const text = 'import sqlite3\nasync def list_jobs(cur):\n    cur.execute("SELECT * FROM jobs")\n    await cur.execute("SELECT * FROM runs")\n';
      const f = only(detect(text).findings, 'sync-in-async');
      assert.equal(f.message, 'Synchronous database call `cur.execute(...)` inside async def `list_jobs` blocks the event loop');
      assert.equal(f.range.start.line, 2);
    });
  });

  describe('options', () => {
    it('reads SQL from the configured argument of a wrapper', () => {
      const text = 'def f(conn):\n    Audit.exec(conn, "INSERT INTO audit (x) VALUES (1)")\n';
      const f = only(detect(text, { ...OPTIONS, wrappers: [{ callee: 'Audit.exec', sqlArgument: 1 }] }).findings, 'raw-sql');
      assert.equal(f.driver, 'wrapper');
      assert.deepEqual(f.tables, ['audit']);
    });

    it('survives malformed options', () => {
      const text = 'import sqlite3\nc.execute("SELECT * FROM t")\nwith get_session() as s:\n    s.query(Job).all()\n';
      const bad = { defaultDialect: 'oracle', wrappers: [null, { callee: 5 }], sessionFactories: 'get_session' } as unknown as DetectOptions;
      const r = detect(text, bad);
      assert.deepEqual(r.findings.map((f) => f.rule).sort(), ['raw-sql', 'session-legacy-query', 'session-usage']);
      assert.doesNotThrow(() => detect(text, undefined as unknown as DetectOptions));
    });
  });

  describe('broken and hostile input', () => {
    it('reports syntax errors as problems and keeps the findings around them', () => {
      const text = [
        'import sqlite3',
        'def ok():',
        '    conn.execute("SELECT * FROM a")',
        'def broken(x:',
        '    conn.execute("SELECT * FROM b" (x,)',
        'def also_ok():',
        '    conn.execute("SELECT * FROM c")',
        '',
      ].join('\n');
      const r = detect(text);
      assert.deepEqual(r.findings.map((f) => [f.range.start.line, f.tables.join()]), [[2, 'a'], [6, 'c']]);
      assert.ok(r.problems.length >= 1);
      assert.equal(r.problems[0].range?.start.line, 3);
      assert.match(r.problems[0].message, /syntax error/i);
    });

    it('handles an unterminated string after a valid statement', () => {
      const r = detect('import sqlite3\nconn.execute("DELETE FROM runs WHERE id = ?", (1,))\nx = """never closed\n');
      assert.equal(only(r.findings, 'raw-sql').range.start.line, 1);
      assert.ok(r.problems.length > 0);
    });

    it('walks 20,000 nested parentheses and long call chains without recursion', () => {
      const deep = '('.repeat(20000) + '1' + ')'.repeat(20000);
      const r = detect(`import sqlite3\nconn.execute("SELECT * FROM a")\nx = ${deep}\n`);
      assert.equal(r.findings.length, 1);
      const chain = detect(`session.query(Job)${'.filter(Job.id == 1)'.repeat(20000)}.all()\n`);
      assert.equal(chain.findings.length, 0);
      const execs = detect(`cur${'.execute("SELECT * FROM t")'.repeat(5000)}\n`);
      assert.equal(execs.findings.length, 5000);
    });

    it('analyses a 5 MB line', () => {
      const r = detect(`import sqlite3\nx = "${'a'.repeat(5_000_000)}"\nconn.execute("SELECT * FROM f")\n`);
      assert.equal(only(r.findings, 'raw-sql').range.start.line, 2);
    });

    it('skips blocks nested deeper than the parser supports, with a problem', () => {
      const lines = Array.from({ length: 700 }, (_, i) => ' '.repeat(i) + 'if x:');
      const text = 'import sqlite3\nconn.execute("SELECT * FROM top")\n' + lines.join('\n') + '\n' + ' '.repeat(700) + 'pass\n';
      const r = detect(text);
      assert.equal(only(r.findings, 'raw-sql').range.start.line, 1);
      assert.match(r.problems[0].message, /nested/);
      // The parser is still usable afterwards.
      assert.equal(detect('import sqlite3\nc.execute("SELECT * FROM t")\n').findings.length, 1);
    });

    it('returns problems, not exceptions, for binary garbage and non-text', () => {
      const garbage = String.fromCharCode(...Array.from({ length: 4000 }, (_, i) => (i * 7919) % 65536));
      assert.doesNotThrow(() => detect(garbage));
      const r = detect(42 as unknown as string);
      assert.equal(r.findings.length, 0);
      assert.equal(r.problems.length, 1);
    });
  });
});
