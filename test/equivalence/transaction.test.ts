/**
 * Manual transactions by execution: each fixture pair in test/fixtures/rewrite/knex-transaction
 * is compiled (ts.transpileModule) and run twice on PostgreSQL (PGlite) — the input with a
 * node-postgres-shaped `Pool` over PGlite, the output with a real Knex (`client: 'pg'`) whose
 * connections come from the same kind of pool (Knex's `connectionPool` option). Every scenario call
 * must return the same value (or fail with the same error: message for application errors,
 * SQLSTATE for database errors) and leave the same table contents; calls expected to fail must
 * leave the tables as they were (the rollback path), in both forms. The BEGIN each form sends must
 * carry the same isolation level and read-only mode, and every checked-out client must be back.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ts from 'typescript';
import { PGlite } from '@electric-sql/pglite';
import knexFactory, { type Knex } from 'knex';
import { beginConfig } from '../../server/src/engine/rewrite/transaction';

const DIR = path.join(__dirname, '..', '..', '..', 'test', 'fixtures', 'rewrite', 'knex-transaction');

const SCHEMA = `
DROP TABLE IF EXISTS ledger;
DROP TABLE IF EXISTS accounts;
CREATE TABLE accounts (id SERIAL PRIMARY KEY, owner TEXT NOT NULL, balance INTEGER NOT NULL CHECK (balance >= 0));
CREATE TABLE ledger (id SERIAL PRIMARY KEY, from_id INTEGER REFERENCES accounts(id), to_id INTEGER NOT NULL REFERENCES accounts(id), cents INTEGER NOT NULL CHECK (cents >= 0));
INSERT INTO accounts (owner, balance) VALUES ('ann', 100), ('bob', 50), ('cy', 0);
INSERT INTO ledger (from_id, to_id, cents) VALUES (NULL, 1, 100), (NULL, 2, 50), (1, 2, 0);
`;

interface Call {
  fn: string;
  args: unknown[];
  /** The call is expected to fail: the tables must be unchanged afterwards. */
  fails?: boolean;
}

/** What each fixture's functions are called with, in order, on a freshly seeded database. */
const SCENARIOS: Record<string, Call[]> = {
  transfer: [
    { fn: 'transfer', args: [1, 2, 30] },
    { fn: 'transfer', args: [2, 1, 500], fails: true }, // insufficient funds: explicit ROLLBACK + throw
    { fn: 'transfer', args: [1, 999, 10], fails: true }, // the ledger insert breaks a foreign key after both updates
    { fn: 'transfer', args: [2, 3, 80] },
  ],
  'returns-value': [
    { fn: 'openAccount', args: ['dee', 25] },
    { fn: 'openAccount', args: ['eve', -5], fails: true }, // CHECK (cents >= 0) after the account was inserted
    { fn: 'openAccount', args: ['fay', 0] },
  ],
  isolation: [
    { fn: 'audit', args: [60] },
    { fn: 'snapshot', args: [] },
    { fn: 'countAccounts', args: [] },
  ],
  'begin-before-try': [
    { fn: 'importEntries', args: [2, [{ from: 1, cents: 5 }, { from: 1, cents: 0 }, { from: 3, cents: 7 }]] },
    { fn: 'importEntries', args: [1, [{ from: 2, cents: 5 }, { from: 999, cents: 1 }]], fails: true }, // the DELETE is undone too
  ],
  'two-transactions': [
    { fn: 'rename', args: [1, 'ann b'] },
    { fn: 'rename', args: [2, null], fails: true }, // owner NOT NULL
    { fn: 'close', args: [3, 'x'] },
    { fn: 'close', args: [999, 'y'] },
  ],
};

type Row = Record<string, unknown>;

/** A node-postgres-shaped pool over one PGlite session: one client at a time, released by `release()`. */
class PgLitePool {
  readonly log: string[] = [];
  out = 0;
  private queue: Promise<void> = Promise.resolve();
  constructor(private readonly pg: PGlite) {}

  async connect(): Promise<{ query: (...a: unknown[]) => unknown; release: (destroy?: boolean) => void }> {
    let done!: () => void;
    const prev = this.queue;
    this.queue = new Promise((r) => (done = r));
    await prev;
    this.out++;
    let released = false;
    const run = async (text: string, values: unknown[]) => {
      if (released) throw new Error('query on a released client');
      this.log.push(text);
      const r = await this.pg.query<Row>(text, values);
      const command = /^\s*(\w+)/.exec(text)?.[1]?.toUpperCase() ?? '';
      return { command, rows: r.rows, rowCount: command === 'SELECT' ? r.rows.length : r.affectedRows ?? 0, fields: r.fields };
    };
    return {
      query: (q: unknown, values?: unknown, cb?: unknown) => {
        if (typeof values === 'function') {
          cb = values;
          values = undefined;
        }
        const text = typeof q === 'string' ? q : (q as { text: string }).text;
        const vals = (typeof q === 'string' ? values : (q as { values?: unknown[] }).values) ?? [];
        const p = run(text, vals as unknown[]);
        if (typeof cb === 'function') {
          p.then((r) => (cb as (e: unknown, r?: unknown) => void)(null, r), (e) => (cb as (e: unknown) => void)(e));
          return undefined;
        }
        return p;
      },
      release: () => {
        if (released) throw new Error('released twice');
        released = true;
        this.out--;
        done();
      },
    };
  }
}

/** Knex's own PostgreSQL client; only its driver module (`pg`, not installed here) is replaced by the pool above. */
// eslint-disable-next-line @typescript-eslint/no-var-requires
const ClientPG = require('knex/lib/dialects/postgres') as new (config: Knex.Config) => object;
class PgOverPglite extends ClientPG {
  _driver(): object {
    return {};
  }
}

function load(file: string, modules: Record<string, unknown>): Record<string, (...a: unknown[]) => Promise<unknown>> {
  const src = fs.readFileSync(path.join(DIR, file), 'utf8');
  const js = ts.transpileModule(src, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true } }).outputText;
  const mod = { exports: {} as Record<string, unknown> };
  const req = (name: string) => {
    if (!(name in modules)) throw new Error(`the fixture requires ${name}`);
    return modules[name];
  };
  new Function('require', 'module', 'exports', js)(req, mod, mod.exports);
  return mod.exports as Record<string, (...a: unknown[]) => Promise<unknown>>;
}

interface Observed {
  value?: unknown;
  error?: string;
  accounts: Row[];
  ledger: Row[];
}

async function tables(pg: PGlite): Promise<{ accounts: Row[]; ledger: Row[] }> {
  return {
    accounts: (await pg.query<Row>('SELECT * FROM accounts ORDER BY id')).rows,
    ledger: (await pg.query<Row>('SELECT * FROM ledger ORDER BY id')).rows,
  };
}

/** Runs a fixture's scenario on a freshly seeded database; `form` picks the original or the rewrite. */
async function runForm(pg: PGlite, file: string, calls: Call[], form: 'original' | 'rewrite'): Promise<{ observed: Observed[]; begins: string[] }> {
  await pg.exec(SCHEMA);
  const pool = new PgLitePool(pg);
  let knex: Knex | undefined;
  const modules: Record<string, unknown> = { pg: { Pool: function Pool() { return pool; } } };
  if (form === 'rewrite') {
    knex = knexFactory({ client: PgOverPglite, connectionPool: pool, version: '16', log: { warn() {}, error() {}, deprecate() {}, debug() {} } } as unknown as Knex.Config);
    modules['./db'] = { db: knex, accountsTable: 'accounts' };
  } else {
    modules['./db'] = { accountsTable: 'accounts', db: { raw: async (sql: string) => { const c = await pool.connect(); try { return await c.query(sql); } finally { c.release(); } } } };
  }
  const fns = load(file, modules);
  const observed: Observed[] = [];
  try {
    for (const call of calls) {
      const before = await tables(pg);
      const o: Observed = { accounts: [], ledger: [] };
      try {
        o.value = await fns[call.fn](...call.args);
      } catch (e) {
        const err = e as { code?: string; message: string };
        o.error = err.code ? `SQLSTATE ${err.code}` : err.message;
      }
      Object.assign(o, await tables(pg));
      assert.equal(pool.out, 0, `${form} ${call.fn}: a client is still checked out`);
      assert.equal(!!o.error, !!call.fails, `${form} ${call.fn}(${JSON.stringify(call.args)}): ${o.error ? `failed: ${o.error}` : 'did not fail'}`);
      if (call.fails) assert.deepEqual({ accounts: o.accounts, ledger: o.ledger }, before, `${form} ${call.fn}: the failed transaction left changes behind`);
      observed.push(o);
    }
  } finally {
    await knex?.destroy();
  }
  const begins = pool.log.filter((s) => /^\s*(BEGIN|START)\b/i.test(s));
  return { observed, begins };
}

describe('equivalence: manual transactions and their knex.transaction() rewrites (PGlite)', function () {
  this.timeout(120_000);
  let pg: PGlite;
  before(async () => {
    pg = new PGlite();
    await pg.exec('SELECT 1');
  });
  after(async () => {
    await pg?.close();
  });

  for (const file of fs.readdirSync(DIR).filter((f) => /\.input\.(ts|js)$/.test(f)).sort()) {
    const name = file.replace(/\.input\.(ts|js)$/, '');
    it(`${name}: same results, same tables, rollbacks leave nothing behind`, async () => {
      const calls = SCENARIOS[name];
      assert.ok(calls, `no scenario for ${name}`);
      assert.ok(calls.some((c) => !c.fails), 'a scenario needs a committing call');
      const original = await runForm(pg, file, calls, 'original');
      const rewrite = await runForm(pg, file.replace('.input.', '.output.'), calls, 'rewrite');
      for (let i = 0; i < calls.length; i++) {
        assert.deepEqual(rewrite.observed[i], original.observed[i], `call ${i + 1}: ${calls[i].fn}(${JSON.stringify(calls[i].args)})`);
      }
      // The same transaction modes: the BEGINs, read as Knex options, agree.
      assert.deepEqual(rewrite.begins.map(beginConfig), original.begins.map(beginConfig));
      assert.ok(original.begins.length >= calls.filter((c) => c.fn !== 'countAccounts').length);
    });
  }

  it('covers a rollback path for every fixture that writes', () => {
    for (const [name, calls] of Object.entries(SCENARIOS)) {
      if (name === 'isolation') continue;
      assert.ok(calls.some((c) => c.fails), `${name} has no failing call`);
    }
  });
});
