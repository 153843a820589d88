/**
 * The TS repository rewrite by execution: for each case in test/fixtures/rewrite/repository-ts/,
 * the inputs and the outputs with the repository files they produced (expected/ over existing/)
 * are compiled (ts.transpileModule to CommonJS, written to a temporary folder) and run: every
 * exported function of the inputs against the original driver, of the outputs against a real Knex
 * through the repository class, each call from the same seeded database (db.ts: the equivalence
 * tier's schema). The values returned (or the errors), what the code logged, and the table
 * contents after each statement must be the same.
 *
 *   pg fixtures            PostgreSQL (PGlite, db.ts `openPostgres`); the original through a
 *                          node-postgres-shaped pool, Knex through its pg client; both send their
 *                          statements through the same `Db.run` (one transaction per statement,
 *                          rolled back; the written table's rows recorded)
 *   better-sqlite3 ones    SQLite: db.ts `openSqlite`'s schema and rows copied into one
 *                          better-sqlite3 database, used by the original code as it is and by Knex's
 *                          better-sqlite3 client; each call inside a transaction that is rolled back,
 *                          every table recorded after it
 *   mysql2 ones            MySQL (MariaDB, db.ts `openMysql`), like PostgreSQL
 *
 * What each function is called with: the case's `scenario.json` (`{ "<input name>": [{ fn, args }] }`,
 * optional `setup` SQL and `serialTables`); every exported function must be called.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ts from 'typescript';
import Database from 'better-sqlite3';
import knexFactory, { type Knex } from 'knex';
import { openMysql, openPostgres, openSqlite, type Db, type Row } from './db';
import { readTree } from '../unit/rewrite/repositoryCheck';

const ROOT = path.join(__dirname, '..', '..', '..', 'test', 'fixtures', 'rewrite', 'repository-ts');

type Kind = 'postgresql' | 'sqlite' | 'mysql';

interface Call {
  fn: string;
  args: unknown[];
}

interface Scenario {
  setup?: string[];
  serialTables?: string[];
  calls: Record<string, Call[]>;
}

interface Observed {
  call: string;
  value?: unknown;
  error?: string;
  log: unknown[];
  /** Table contents after each statement (PostgreSQL, MySQL) or after the call (SQLite). */
  tables: unknown[];
}

function readScenario(dir: string): Scenario {
  const raw = JSON.parse(fs.readFileSync(path.join(dir, 'scenario.json'), 'utf8')) as Record<string, unknown>;
  const { setup, serialTables, ...calls } = raw;
  return { setup: setup as string[] | undefined, serialTables: serialTables as string[] | undefined, calls: calls as Record<string, Call[]> };
}

function kindOf(text: string): Kind {
  if (/from 'pg'/.test(text)) return 'postgresql';
  if (/from 'better-sqlite3'/.test(text)) return 'sqlite';
  if (/from 'mysql2(\/promise)?'/.test(text)) return 'mysql';
  throw new Error('a repository equivalence case must use pg, better-sqlite3 or mysql2');
}

/** Plain data: bigints as numbers, dates as ISO strings, no prototypes. */
function plain(v: unknown): unknown {
  return v === undefined ? undefined : JSON.parse(JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? Number(x) : x)));
}

function writtenTable(sql: string): string | undefined {
  return /^\s*(?:insert\s+(?:ignore\s+)?into|update|delete\s+from)\s+["`]?([A-Za-z_][A-Za-z0-9_]*)/i.exec(sql)?.[1];
}

function command(sql: string): string {
  return /^\s*(\w+)/.exec(sql)?.[1]?.toUpperCase() ?? '';
}

// ---- statements through db.ts (PostgreSQL, MySQL) ---------------------------------------------

interface Executed {
  rows: Row[];
  affected: number;
  insertId?: number;
}

/** Runs one statement through `Db.run`, records the written table, throws the database's error. */
async function execute(db: Db, sql: string, params: unknown[], tables: unknown[]): Promise<Executed> {
  const table = writtenTable(sql);
  const o = await db.run(sql, params ?? [], table);
  if (o.error) throw new Error(o.error);
  if (table) tables.push({ table, rows: o.snapshot });
  // MySQL's insert id: the generated id is the highest id after the insert (ids are put back after each statement).
  const ids = o.snapshot.map((r) => Number(r.id)).filter((n) => Number.isFinite(n));
  const insertId = command(sql) === 'INSERT' && ids.length ? Math.max(...ids) : undefined;
  return { rows: o.rows, affected: o.affected, insertId };
}

function pgPool(db: Db, tables: unknown[]) {
  return {
    async query(q: string | { text: string; values?: unknown[] }, values?: unknown[]) {
      const text = typeof q === 'string' ? q : q.text;
      const r = await execute(db, text, (typeof q === 'string' ? values : q.values) ?? [], tables);
      return { command: command(text), rows: r.rows, rowCount: command(text) === 'SELECT' ? r.rows.length : r.affected, fields: [] };
    },
  };
}

function mysqlPool(db: Db, tables: unknown[]) {
  const run = async (sql: string, values?: unknown[]) => {
    const r = await execute(db, sql, values ?? [], tables);
    if (command(sql) === 'SELECT') return [r.rows, []];
    return [{ affectedRows: r.affected, insertId: r.insertId ?? 0 }, undefined];
  };
  return { query: run, execute: run };
}

const QUIET = { warn() {}, error() {}, deprecate() {}, debug() {} };

/** Knex's own client class for `dialect` with its raw connection replaced by `connection`. */
function clientOver(dialect: string, connection: unknown, driverless: boolean): unknown {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const Base = require(`knex/lib/dialects/${dialect}`) as new (c: Knex.Config) => object;
  class Client extends Base {
    async acquireRawConnection() {
      return connection;
    }
    async destroyRawConnection() {}
  }
  // No driver module is loaded for the network dialects: the connection stands in for it.
  if (driverless) Object.defineProperty(Client.prototype, '_driver', { value: () => ({}) });
  return Client;
}

/** Knex's own clients; only the connection is replaced (by one that runs through `execute`). */
function knexOver(kind: Kind, db: Db | undefined, sqlite: Database.Database | undefined, tables: unknown[]): Knex {
  if (kind === 'sqlite') {
    return knexFactory({ client: clientOver('better-sqlite3', sqlite, false), connection: { filename: ':memory:' }, useNullAsDefault: true, log: QUIET } as unknown as Knex.Config);
  }
  if (kind === 'postgresql') {
    const connection = {
      query(config: { text: string; values: unknown[] }, cb: (e: unknown, r?: unknown) => void) {
        execute(db!, config.text, config.values, tables).then(
          (r) => cb(null, { command: command(config.text), rows: r.rows, rowCount: command(config.text) === 'SELECT' ? r.rows.length : r.affected }),
          (e) => cb(e),
        );
      },
    };
    return knexFactory({ client: clientOver('postgres', connection, true), version: '16', connection: {}, log: QUIET } as unknown as Knex.Config);
  }
  const connection = {
    state: 'connected',
    stream: { destroyed: false },
    query(options: { sql: string }, bindings: unknown[], cb: (e: unknown, rows?: unknown, fields?: unknown) => void) {
      execute(db!, options.sql, bindings, tables).then(
        (r) => (command(options.sql) === 'SELECT' ? cb(null, r.rows, []) : cb(null, { affectedRows: r.affected, insertId: r.insertId ?? 0 }, undefined)),
        (e) => cb(e),
      );
    },
  };
  return knexFactory({ client: clientOver('mysql2', connection, true), version: '10.11', connection: {}, log: QUIET } as unknown as Knex.Config);
}

// ---- compiling and loading a form ---------------------------------------------------------------

/** Compiles the form's TS files into `outDir` and returns a loader for workspace paths. */
function compileForm(files: Map<string, string>, outDir: string, stubs: Record<string, unknown>): (wsPath: string) => Record<string, unknown> {
  for (const [ws, src] of files) {
    const js = ts.transpileModule(src, { fileName: ws, compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true } }).outputText;
    const out = path.join(outDir, ws.replace(/\.ts$/, '.js'));
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.writeFileSync(out, js);
  }
  const cache = new Map<string, Record<string, unknown>>();
  const load = (ws: string): Record<string, unknown> => {
    const hit = cache.get(ws);
    if (hit) return hit;
    const mod = { exports: {} as Record<string, unknown> };
    cache.set(ws, mod.exports);
    const js = fs.readFileSync(path.join(outDir, ws.replace(/\.ts$/, '.js')), 'utf8');
    const req = (spec: string) => {
      if (!spec.startsWith('.')) {
        if (spec in stubs) return stubs[spec];
        throw new Error(`${ws} requires ${spec}`);
      }
      const target = path.posix.normalize(path.posix.join(path.posix.dirname(ws), spec));
      if (target in stubs) return stubs[target];
      if (files.has(`${target}.ts`)) return load(`${target}.ts`);
      throw new Error(`${ws} requires ${spec} (${target}), which the case does not hold`);
    };
    new Function('require', 'module', 'exports', js)(req, mod, mod.exports);
    cache.set(ws, mod.exports);
    return mod.exports;
  };
  return load;
}

/** The workspace of a form: existing/ files, plus the inputs, or the outputs and expected/ files. */
function formFiles(dir: string, form: 'original' | 'rewrite'): Map<string, string> {
  const files = new Map<string, string>();
  for (const [ws, text] of readTree(path.join(dir, 'existing'))) files.set(ws, text);
  for (const f of fs.readdirSync(dir)) {
    const m = /^(.*)\.(input|output)\.ts$/.exec(f);
    if (m && (m[2] === 'input') === (form === 'original')) files.set(`src/${m[1]}.ts`, fs.readFileSync(path.join(dir, f), 'utf8'));
  }
  if (form === 'rewrite') for (const [ws, text] of readTree(path.join(dir, 'expected'))) files.set(ws, text);
  return files;
}

// ---- the run ------------------------------------------------------------------------------------

interface Databases {
  pg: Db;
  sqliteSource: Db;
  mysql: Db;
}

/** A better-sqlite3 database holding db.ts's SQLite schema and rows (read through `Db.run`). */
async function sqliteCopy(source: Db): Promise<Database.Database> {
  const copy = new Database(':memory:');
  const tables = await source.run("SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name", [], undefined);
  for (const t of tables.rows) {
    copy.exec(String(t.sql));
    const rows = (await source.run(`SELECT * FROM ${t.name}`, [], undefined)).rows;
    for (const r of rows) {
      const cols = Object.keys(r);
      copy.prepare(`INSERT INTO ${t.name} (${cols.join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`).run(...cols.map((c) => r[c] as never));
    }
  }
  return copy;
}

function sqliteTables(db: Database.Database): unknown[] {
  const names = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as Array<{ name: string }>).map((r) => r.name);
  return names.map((n) => ({ table: n, rows: plain(db.prepare(`SELECT * FROM ${n} ORDER BY 1`).all()) }));
}

async function runForm(dir: string, form: 'original' | 'rewrite', dbs: Databases, scenario: Scenario, tmp: string): Promise<Observed[]> {
  const files = formFiles(dir, form);
  const kind = kindOf([...files.values()].join('\n'));
  const db = kind === 'postgresql' ? dbs.pg : kind === 'mysql' ? dbs.mysql : undefined;
  const sqlite = kind === 'sqlite' ? await sqliteCopy(dbs.sqliteSource) : undefined;
  let tables: unknown[] = [];
  const sink = { push: (x: unknown) => tables.push(x) } as unknown as unknown[];
  const log: unknown[] = [];
  const knex = knexOver(kind, db, sqlite, sink);
  const stubs: Record<string, unknown> = {
    'src/db': { db: knex },
    'src/logger': { logger: { info: (...a: unknown[]) => log.push(plain(a)) } },
    pg: { Pool: function Pool() { return pgPool(db!, sink); } },
    'mysql2/promise': { createPool: () => mysqlPool(db!, sink) },
    'better-sqlite3': function Database() { return sqlite; },
  };
  const load = compileForm(files, path.join(tmp, form), stubs);
  const observed: Observed[] = [];
  try {
    for (const [name, calls] of Object.entries(scenario.calls)) {
      const mod = load(`src/${name}.ts`);
      const exported = Object.keys(mod).filter((k) => typeof mod[k] === 'function').sort();
      assert.deepEqual([...new Set(calls.map((c) => c.fn))].sort(), exported, `scenario.json must call every exported function of ${name}`);
      for (const call of calls) {
        tables = [];
        log.length = 0;
        const o: Observed = { call: `${name}.${call.fn}(${JSON.stringify(call.args).slice(1, -1)})`, log: [], tables: [] };
        sqlite?.exec('BEGIN');
        try {
          o.value = plain(await (mod[call.fn] as (...a: unknown[]) => Promise<unknown>)(...structuredClone(call.args)));
        } catch (e) {
          o.error = (e as Error).message;
        }
        if (sqlite) {
          tables.push(...sqliteTables(sqlite));
          sqlite.exec('ROLLBACK');
        }
        o.log = [...log];
        o.tables = plain(tables) as unknown[];
        observed.push(o);
      }
    }
  } finally {
    await knex.destroy();
    sqlite?.close();
  }
  return observed;
}

describe('equivalence: TS repository rewrites, original code vs repository methods on Knex', function () {
  this.timeout(120_000);
  const dbs = {} as Databases;
  let tmp: string;
  before(async () => {
    dbs.pg = await openPostgres();
    dbs.sqliteSource = await openSqlite();
    dbs.mysql = await openMysql();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sqlmigrate-repo-equiv-'));
  });
  after(async () => {
    await dbs.pg?.close();
    await dbs.sqliteSource?.close();
    await dbs.mysql?.close();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  const cases = fs.readdirSync(ROOT).filter((d) => fs.statSync(path.join(ROOT, d)).isDirectory()).sort();

  it('every fixture case has a scenario', () => {
    assert.ok(cases.length > 0);
    for (const c of cases) assert.ok(fs.existsSync(path.join(ROOT, c, 'scenario.json')), `${c}/scenario.json is missing`);
  });

  for (const c of cases) {
    it(`${c}: same values, logs and tables`, async () => {
      const dir = path.join(ROOT, c);
      const scenario = readScenario(dir);
      const kind = kindOf(fs.readdirSync(dir).filter((f) => f.endsWith('.input.ts')).map((f) => fs.readFileSync(path.join(dir, f), 'utf8')).join('\n'));
      const db = kind === 'postgresql' ? dbs.pg : kind === 'mysql' ? dbs.mysql : undefined;
      for (const s of scenario.setup ?? []) {
        assert.ok(db, 'setup SQL is for the PostgreSQL and MySQL cases');
        await db.exec(s);
      }
      for (const t of scenario.serialTables ?? []) if (db && !db.serialTables.includes(t)) db.serialTables.push(t);
      const original = await runForm(dir, 'original', dbs, scenario, path.join(tmp, c));
      const rewrite = await runForm(dir, 'rewrite', dbs, scenario, path.join(tmp, c));
      assert.equal(rewrite.length, original.length);
      for (let i = 0; i < original.length; i++) assert.deepEqual(rewrite[i], original[i], original[i].call);
      // The scenario reads and writes something: an empty comparison proves nothing.
      assert.ok(original.some((o) => o.value !== undefined && o.value !== null && !(Array.isArray(o.value) && o.value.length === 0)), 'no call returned data');
      assert.ok(original.every((o) => !o.error), `a call failed: ${original.find((o) => o.error)?.error}`);
    });
  }
});
