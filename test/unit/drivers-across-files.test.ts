/**
 * Drivers across files: a client created in one module (`export const pool = new Pool()`) gives
 * its driver to calls in the modules that import it. Tables of module texts → exports, and
 * small trees → the driver each finding ends with.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { analyzeText } from '../../server/src/engine/analyze';
import { DEFAULT_CONFIG, detectOptions } from '../../server/src/engine/config';
import { DriverIndex } from '../../server/src/engine/imports';
import { scanDirectory } from '../../server/src/engine/scan';

const detect = detectOptions(DEFAULT_CONFIG);

const EXPORTS: Array<[string, string, Record<string, string> | undefined]> = [
  ['named const, pg', `import { Pool } from 'pg';\nexport const pool = new Pool();`, { pool: 'pg' }],
  ['namespace import, pg.Pool', `import * as pg from 'pg';\nexport const pool = new pg.Pool({ max: 5 });`, { pool: 'pg' }],
  ['export list with alias', `import { Pool } from 'pg';\nconst p = new Pool();\nexport { p as pool, p };`, { pool: 'pg', p: 'pg' }],
  ['default export of a local', `import { Pool } from 'pg';\nconst pool = new Pool();\nexport default pool;`, { default: 'pg' }],
  ['default export of a new', `import Database from 'better-sqlite3';\nexport default new Database('app.db');`, { default: 'better-sqlite3' }],
  ['mysql2 promise pool', `import mysql from 'mysql2/promise';\nexport const db = mysql.createPool({ uri: process.env.URL });`, { db: 'mysql2' }],
  ['awaited connection', `import mysql from 'mysql2/promise';\nexport const conn = await mysql.createConnection(url);`, { conn: 'mysql2' }],
  ['pg-promise through a local factory', `const pgp = require('pg-promise')();\nconst db = pgp(url);\nmodule.exports = { db };`, { db: 'pg-promise' }],
  ['CommonJS module.exports = local', `const { Pool } = require('pg');\nconst pool = new Pool();\nmodule.exports = pool;`, { default: 'pg' }],
  ['CommonJS exports.x', `const sqlite3 = require('sqlite3');\nexports.db = new sqlite3.Database(':memory:');`, { db: 'sqlite3' }],
  ['require(...) called directly', `const Database = require('better-sqlite3');\nmodule.exports.db = require('better-sqlite3')('x.db');`, { db: 'better-sqlite3' }],
  ['not exported', `import { Pool } from 'pg';\nconst pool = new Pool();\nexport const n = 1;`, undefined],
  ['not a driver client', `import { Pool } from 'pg';\nimport { Cache } from './cache';\nexport const cache = new Cache();`, undefined],
  ['a tag library is found by name, not followed', `import postgres from 'postgres';\nexport const sql = postgres(url);`, undefined],
  ['knex is the target, not followed', `import knex from 'knex';\nexport const db = knex({ client: 'pg' });`, undefined],
  ['no driver import at all', `export const pool = new Pool();`, undefined],
  ['syntax error around', `import { Pool } from 'pg';\nexport const pool = new Pool(;\nexport const x = (`, { pool: 'pg' }],
];

describe('drivers across files: what a module exports', () => {
  for (const [name, text, expected] of EXPORTS) {
    it(name, async () => {
      const r = await analyzeText(text, 'src/db/pool.ts', detect);
      assert.deepEqual(r.driverExports, expected);
    });
  }
});

const QUERY = (recv: string) => `export async function one(id: number) {\n  const { rows } = await ${recv}.query('SELECT id FROM jobs WHERE id = $1', [id]);\n  return rows[0];\n}\n`;

const TREES: Array<{ name: string; files: Record<string, string>; expect: Record<string, string> }> = [
  {
    name: 'named import from a sibling',
    files: { 'src/db/pool.ts': `import { Pool } from 'pg';\nexport const pool = new Pool();\n`, 'src/db/jobs.ts': `import { pool } from './pool';\n${QUERY('pool')}` },
    expect: { 'src/db/jobs.ts:3': 'pg' },
  },
  {
    name: 'default import, index file, .js specifier (ESM TypeScript)',
    files: { 'src/db/index.ts': `import Database from 'better-sqlite3';\nexport default new Database('x');\n`, 'src/app/jobs.ts': `import db from '../db/index.js';\n${QUERY('db')}`, 'src/app/more.ts': `import db from '../db';\n${QUERY('db')}` },
    expect: { 'src/app/jobs.ts:3': 'better-sqlite3', 'src/app/more.ts:3': 'better-sqlite3' },
  },
  {
    name: 'namespace import: db.pool.query',
    files: { 'lib/db.js': `const { Pool } = require('pg');\nexports.pool = new Pool();\n`, 'lib/jobs.js': `import * as db from './db';\n${QUERY('db.pool').replace(': number', '')}` },
    expect: { 'lib/jobs.js:3': 'pg' },
  },
  {
    name: 'a connection taken from the imported pool, and its manual transaction',
    files: {
      'src/pool.ts': `import { Pool } from 'pg';\nexport const pool = new Pool();\n`,
      'src/tx.ts': `import { pool } from './pool';\nexport async function move(id: number) {\n  const client = await pool.connect();\n  try {\n    await client.query('BEGIN');\n    await client.query('UPDATE jobs SET status = $1 WHERE id = $2', ['done', id]);\n    await client.query('COMMIT');\n  } finally {\n    client.release();\n  }\n}\n`,
    },
    expect: { 'src/tx.ts:3': 'pg', 'src/tx.ts:6': 'pg' },
  },
  {
    name: 'mysql2 dialect: the statement is analysed again as MySQL',
    files: { 'src/db.ts': `import mysql from 'mysql2/promise';\nexport const db = mysql.createPool(url);\n`, 'src/q.ts': `import { db } from './db';\nexport async function f(id: number) {\n  const [rows] = await db.query('SELECT \`id\` FROM jobs WHERE id = ?', [id]);\n  return rows;\n}\n` },
    expect: { 'src/q.ts:3': 'mysql2' },
  },
  {
    name: 'unresolved: a package import, a missing module, an export that is not a client',
    files: {
      'src/other.ts': `import { pool } from '@app/db';\n${QUERY('pool')}`,
      'src/missing.ts': `import { pool } from './nowhere';\n${QUERY('pool')}`,
      'src/cache.ts': `export const cache = { query: (s: string, p: unknown[]) => [] };\n`,
      'src/notclient.ts': `import { cache } from './cache';\n${QUERY('cache')}`,
      'src/escape.ts': `import { pool } from '../../outside/pool';\n${QUERY('pool')}`,
    },
    expect: { 'src/other.ts:3': 'unknown', 'src/missing.ts:3': 'unknown', 'src/notclient.ts:3': 'unknown', 'src/escape.ts:3': 'unknown' },
  },
];

describe('drivers across files: a scan joins imports to the modules that create the client', () => {
  for (const t of TREES) {
    it(t.name, async () => {
      const root = fs.mkdtempSync(path.join(os.tmpdir(), 'sqlm-drivers-'));
      try {
        for (const [rel, text] of Object.entries(t.files)) {
          fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
          fs.writeFileSync(path.join(root, rel), text);
        }
        const report = await scanDirectory(root, { config: DEFAULT_CONFIG, workers: 0 });
        const got: Record<string, string> = {};
        for (const f of report.findings) if (`${f.file}:${f.startLine}` in t.expect) got[`${f.file}:${f.startLine}`] = f.driver;
        assert.deepEqual(got, t.expect);
        for (const f of report.findings) assert.equal((f as { via?: unknown }).via, undefined, 'via is internal, not part of the report');
        const mysql = report.findings.find((f) => f.driver === 'mysql2' && f.rule === 'raw-sql');
        if (mysql) assert.equal(mysql.info?.dialect, 'mysql');
      } finally {
        fs.rmSync(root, { recursive: true, force: true });
      }
    });
  }

  it('DriverIndex follows only paths inside the workspace and forgets removed modules', () => {
    const index = new DriverIndex();
    index.add('src/db/pool.ts', { pool: 'pg' });
    assert.equal(index.driverOf('src/db/jobs.ts', './pool', 'pool'), 'pg');
    assert.equal(index.driverOf('src/app/x.ts', '../db/pool.js', 'pool'), 'pg');
    assert.equal(index.driverOf('src/db/jobs.ts', './pool', 'other'), undefined);
    assert.equal(index.driverOf('src/db/jobs.ts', 'pool', 'pool'), undefined);
    assert.equal(index.driverOf('a.ts', '../src/db/pool', 'pool'), undefined);
    assert.equal(index.driverOf('src/db/jobs.ts', './pool', 'constructor'), undefined);
    index.remove('src/db/pool.ts');
    assert.equal(index.driverOf('src/db/jobs.ts', './pool', 'pool'), undefined);
  });
});
