/**
 * fast-check generators for the reliability tier: a random SQL grammar (valid statements of the
 * shapes the rewriter covers, plus shapes it must refuse, plus token soup), and whole TypeScript
 * and Python files that send that SQL through the drivers the detectors know, laid out in the
 * ways real code is (awaited, returned, destructured, chained, nested, multi-line, commented).
 */
import fc from 'fast-check';

const ident = fc.constantFrom('id', 'name', 'status', 'created_at', 'user_id', 'email', 'attempts', 'total', '"order"', 'x1');
const table = fc.constantFrom('jobs', 'users', 'orders', 'audit.log', 'accounts', '"Weird Table"', 't');
const op = fc.constantFrom('=', '<>', '<', '>=', 'LIKE', 'ILIKE', '!=');
const literal = fc.oneof(
  fc.integer({ min: -5, max: 1000 }).map(String),
  fc.constantFrom("'done'", "'it''s'", "'ü – ✓'", "'😀'", 'NULL', 'TRUE', "''"),
);

export type Style = 'dollar' | 'question' | 'pyformat';

function placeholder(style: Style, n: number): string {
  return style === 'dollar' ? `$${n}` : style === 'question' ? '?' : '%s';
}

/** A statement of the grammar with its number of placeholders. */
export interface GenSql {
  sql: string;
  params: number;
}

function condition(style: Style): fc.Arbitrary<(n: () => number) => string> {
  const leaf = fc.oneof(
    fc.tuple(ident, op).map(([c, o]) => (n: () => number) => `${c} ${o} ${placeholder(style, n())}`),
    fc.tuple(ident, op, literal).map(([c, o, l]) => () => `${c} ${o} ${l}`),
    ident.map((c) => () => `${c} IS NULL`),
    ident.map((c) => (n: () => number) => `${c} IN (${placeholder(style, n())}, ${placeholder(style, n())})`),
    ident.map((c) => (n: () => number) => `${c} BETWEEN ${placeholder(style, n())} AND ${placeholder(style, n())}`),
  );
  return fc
    .tuple(leaf, fc.option(fc.tuple(fc.constantFrom('AND', 'OR'), leaf), { nil: undefined }), fc.boolean())
    .map(([a, more, paren]) => (n: () => number) => {
      const s = more ? `${a(n)} ${more[0]} ${more[1](n)}` : a(n);
      return paren && more ? `(${s})` : s;
    });
}

export function sqlArb(style: Style = 'dollar'): fc.Arbitrary<GenSql> {
  const cols = fc.oneof(fc.constant('*'), fc.uniqueArray(ident, { minLength: 1, maxLength: 4 }).map((c) => c.join(', ')), fc.constant('count(*)'));
  const space = fc.constantFrom(' ', ' ', '\n  ', '  ', '\t');
  const where = fc.option(condition(style), { nil: undefined });
  const select = fc
    .tuple(cols, table, where, fc.option(ident, { nil: undefined }), fc.option(fc.integer({ min: 1, max: 100 }), { nil: undefined }), space, fc.boolean())
    .map(([c, t, w, order, limit, sp, join]) => (n: () => number) =>
      `SELECT ${c}${sp}FROM ${t}${join ? ` JOIN users u ON u.id = ${t}.user_id` : ''}${w ? `${sp}WHERE ${w(n)}` : ''}${order ? ` ORDER BY ${order} DESC` : ''}${limit ? ` LIMIT ${limit}` : ''}`);
  const insert = fc
    .tuple(table, fc.uniqueArray(ident, { minLength: 1, maxLength: 3 }), fc.boolean())
    .map(([t, c, returning]) => (n: () => number) => `INSERT INTO ${t} (${c.join(', ')}) VALUES (${c.map(() => placeholder(style, n())).join(', ')})${returning && style === 'dollar' ? ' RETURNING id' : ''}`);
  const update = fc
    .tuple(table, ident, where)
    .map(([t, c, w]) => (n: () => number) => `UPDATE ${t} SET ${c} = ${placeholder(style, n())}${w ? ` WHERE ${w(n)}` : ''}`);
  const del = fc.tuple(table, where).map(([t, w]) => (n: () => number) => `DELETE FROM ${t}${w ? ` WHERE ${w(n)}` : ''}`);
  const refused = fc.constantFrom(
    () => 'WITH x AS (SELECT 1) SELECT * FROM x',
    () => 'CREATE TABLE t (id int)',
    () => 'SELECT a FROM t UNION SELECT b FROM u',
    () => 'SELECT row_number() OVER (PARTITION BY a) FROM t',
    () => 'BEGIN',
    () => 'SELECT * FROM t FOR UPDATE',
    () => "SELECT data->>'k' FROM t",
  );
  return fc.oneof({ weight: 3, arbitrary: select }, insert, update, del, refused).map((build) => {
    let count = 0;
    const sql = build(() => ++count);
    return { sql, params: count };
  });
}

/** Token soup and near-SQL: what the analyser must survive. */
export const sqlSoupArb: fc.Arbitrary<string> = fc
  .array(
    fc.oneof(
      fc.constantFrom('SELECT', 'FROM', 'WHERE', 'JOIN', 'ON', '(', ')', ',', ';', '*', '$1', '?', '%s', '%(name)s', ':name', '@p', "'", '"', '`', '--', '/*', '*/', '::', 'WITH', 'UNION', 'INSERT', 'INTO', 'VALUES', 'UPDATE', 'SET', 'DELETE', 'CREATE', 'TABLE', 'BEGIN', 'COMMIT', 'E\'\\\'', '$$', '$tag$', '\\', '\n', '\t', '\r'),
      ident,
      table,
      literal,
      fc.string({ maxLength: 6 }),
      fc.string({ unit: 'grapheme', maxLength: 4 }),
      fc.string({ unit: 'binary', maxLength: 4 }),
    ),
    { maxLength: 40 },
  )
  .map((parts) => parts.join(' '));

const jsQuote = (s: string) => (s.includes('\n') ? '`' + s.replace(/\\/g, '\\\\').replace(/`/g, '\\`').replace(/\$\{/g, '\\${') + '`' : `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`);
const pyQuote = (s: string) => (s.includes('\n') ? `"""${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"""` : JSON.stringify(s));

/** One call site in a TypeScript function body (pg pool, mysql2, better-sqlite3, wrapper), given SQL and argument names. */
function tsCall(shape: number, sql: GenSql, args: string[]): string {
  const q = jsQuote(sql.sql);
  const list = `[${args.join(', ')}]`;
  switch (shape) {
    case 0: return `const { rows } = await pool.query(${q}, ${list});\n  return rows;`;
    case 1: return `const res = await pool.query(${q}, ${list});\n  return res.rows[0];`;
    case 2: return `return (await pool.query(${q}, ${list})).rowCount ?? 0;`;
    case 3: return `await pool.query(${q}, ${list});`;
    case 4: return `const r = await pool.query(\n    ${q},\n    ${list},\n  );\n  return r.rows;`;
    case 5: return `// the ${args.length} values\n  const { rows } = await pool.query(${q}, ${list}); // trailing\n  return rows;`;
    case 6: return `return DB.query(${q}, ${list});`;
    case 7: return `const out = [];\n  for (const id of ${args[0] ?? '[]'} as unknown as number[]) {\n    out.push(await pool.query(${q}, ${list}));\n  }\n  return out;`;
    case 8: return `return pool.query(${q}, ${list}).then((r) => r.rows);`;
    default: return `const label = \`\${${args[0] ?? '0'}}\`;\n  const { rows } = await pool.query(${q}, ${list});\n  return [label, rows];`;
  }
}

export interface GenFile {
  fileName: string;
  text: string;
}

export function tsFileArb(): fc.Arbitrary<GenFile> {
  const fn = fc.tuple(sqlArb('dollar'), fc.integer({ min: 0, max: 9 }), fc.constantFrom('  ', '    ', '\t'), fc.boolean());
  return fc
    .tuple(fc.array(fn, { minLength: 1, maxLength: 5 }), fc.boolean(), fc.constantFrom('\n', '\r\n'), fc.boolean(), fc.constantFrom('a.ts', 'b.js', 'c.tsx', 'd.mjs'))
    .map(([fns, dbImported, eol, header, fileName]) => {
      const js = !/\.tsx?$/.test(fileName);
      const lines = [
        ...(header ? ['// generated', '/* eslint-disable */'] : []),
        "import { Pool } from 'pg';",
        ...(dbImported ? ["import { db } from './db';", 'void db;'] : []),
        "import { DB } from './wrapper';",
        'const pool = new Pool();',
        '',
      ];
      fns.forEach(([sql, shape, indent, exported], i) => {
        const args = Array.from({ length: sql.params }, (_, k) => `a${k}`);
        const params = args.map((a) => (js ? a : `${a}: unknown`)).join(', ');
        const body = tsCall(shape, sql, args).replace(/\n {2}/g, `\n${indent}`);
        lines.push(`${exported ? 'export ' : ''}async function f${i}(${params}) {`, `${indent}${body}`, '}', '');
      });
      return { fileName, text: lines.join(eol) };
    });
}

function pyCall(shape: number, sql: GenSql, args: string[]): string[] {
  const q = pyQuote(sql.sql);
  const tuple = args.length ? `(${args.join(', ')}${args.length === 1 ? ',' : ''})` : '()';
  switch (shape) {
    case 0: return ['cur = conn.cursor()', `cur.execute(${q}, ${tuple})`, 'return cur.fetchall()'];
    case 1: return [`rows = session.execute(text(${q}), {})`, 'return rows.all()'];
    case 2: return ['with conn.cursor() as cur:', `    cur.execute(`, `        ${q},`, `        ${tuple},`, '    )', '    return cur.fetchone()'];
    case 3: return ['session = get_session()', 'return session.query(Job).filter(Job.id == 1).first()'];
    case 4: return [`return await conn.fetch(${q}, *${tuple})`];
    default: return ['# a comment first', `result = conn.execute(${q}, ${tuple})  # trailing`, 'return result'];
  }
}

export function pyFileArb(): fc.Arbitrary<GenFile> {
  const fn = fc.tuple(sqlArb('pyformat'), fc.integer({ min: 0, max: 5 }), fc.constantFrom('    ', '  ', '\t'));
  return fc.tuple(fc.array(fn, { minLength: 1, maxLength: 5 }), fc.constantFrom('\n', '\r\n')).map(([fns, eol]) => {
    const lines = ['import sqlite3', 'from sqlalchemy import text', 'from app.models import Job', 'from app.db import get_session', '', 'conn = sqlite3.connect("x.db")', ''];
    fns.forEach(([sql, shape, indent], i) => {
      const args = Array.from({ length: sql.params }, (_, k) => `a${k}`);
      const isAsync = shape === 4;
      lines.push(`${isAsync ? 'async ' : ''}def f${i}(${args.join(', ')}):`);
      for (const l of pyCall(shape, sql, args)) lines.push(indent + l.replace(/^( {4})+/, (m) => indent.repeat(m.length / 4)));
      lines.push('', '');
    });
    return { fileName: 'gen.py', text: lines.join(eol) };
  });
}
