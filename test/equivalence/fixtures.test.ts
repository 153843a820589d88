/**
 * Equivalence by execution for the rewrite fixtures: each fixture statement that gets a verified
 * rewrite is run as written and as its Knex rewrite against PostgreSQL (PGlite) for pg, pg-promise
 * and wrapper fixtures, SQLite (better-sqlite3) for better-sqlite3 fixtures and MySQL (mysql2 on
 * a throwaway MariaDB server) for mysql2 fixtures (typeorm and sql-tag ones: PostgreSQL), on seeded data, and the rows, affected counts
 * and table contents must match.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { analyzeText } from '../../server/src/engine/analyze';
import { rewriteActions } from '../../server/src/engine/rewrite';
import * as ts from 'typescript';
import { analyzeCall } from '../../server/src/engine/rewrite/callsite';
import { openMysql, openPostgres, openSqlite, type Db } from './db';
import { trial } from './run-rewrite';

const ROOT = path.join(__dirname, '..', '..', '..', 'test', 'fixtures', 'rewrite', 'knex');
const DETECT = { defaultDialect: 'postgresql' as const, wrappers: [{ callee: 'DB.query', sqlArgument: 0 }], sessionFactories: [] };
const OPTIONS = { knex: { instance: 'db', import: './db' }, defaultDialect: 'postgresql' as const };

/** Values for the fixtures' parameter expressions, by the expression's last name. */
const VALUES: Record<string, unknown> = {
  id: 3, status: 'pending', owner: 2, term: '%a%', from: '2024-01-01', to: '2024-12-31', before: '2024-02-10',
  minRuns: 1, key: 'theme', value: 'light', name: 'new job', jobId: 4, a: 'x', b: 'y', feedId: 2, url: 'https://new', title: 'New',
  "'running'": 'running', "'pending'": 'pending', 'ids[0]': 1, 'ids[1]': 2,
  customerId: 2, total: 999, limit: 2, productId: 3, quantity: 42, "'new'": 'new',
  "'%' + term + '%'": '%a%', true: true,
  'Date.now()': '2024-05-01', email: 'U3@Example.com',
};

function valueFor(expr: string): unknown {
  if (expr in VALUES) return VALUES[expr];
  const last = /([A-Za-z_][A-Za-z0-9_]*)$/.exec(expr)?.[1] ?? expr;
  if (last in VALUES) return VALUES[last];
  throw new Error(`no test value for ${expr}`);
}

describe('equivalence: fixture statements against real databases', function () {
  this.timeout(120_000);
  let pg: Db;
  let sqlite: Db;
  let mysql: Db;
  before(async () => {
    pg = await openPostgres();
    sqlite = await openSqlite();
    mysql = await openMysql();
  });
  after(async () => {
    await pg?.close();
    await sqlite?.close();
    await mysql?.close();
  });

  for (const driver of ['pg', 'pg-promise', 'wrapper', 'better-sqlite3', 'mysql2', 'typeorm', 'sql-tag']) {
    const dir = path.join(ROOT, driver);
    for (const file of fs.readdirSync(dir).filter((f) => /\.input\.(ts|js)$/.test(f)).sort()) {
      it(`${driver}/${file}`, async () => {
        const text = fs.readFileSync(path.join(dir, file), 'utf8');
        const findings = (await analyzeText(text, file, DETECT)).findings.filter((f) => f.rule === 'raw-sql');
        let executed = 0;
        for (const f of findings) {
          const [builder] = rewriteActions(text, file, f, OPTIONS);
          if (!builder.verified) {
            if (process.env.DEBUG_EQUIV) console.log(builder.reasonNotOffered);
            continue;
          }
          const sql = f.sql!.text;
          // The parameter expressions as the call wrote them (the engine's own call-site reading).
          const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
          const site = analyzeCall(sf, f, sql, {});
          assert.ok(site.ok);
          const values: Record<string, unknown> = {};
          for (const [k, expr] of site.value.params) values[k] = valueFor(expr);
          const db = driver === 'better-sqlite3' ? sqlite : driver === 'mysql2' ? mysql : pg;
          const firstRow = /\.first\(\)/.test(builder.edits.map((e) => e.newText).join(' '));
          const r = await trial(db, { sql, values, firstRow });
          assert.ok(r.status === 'equal', `${file}:${f.range.start.line + 1} ${JSON.stringify(r).slice(0, 600)}`);
          executed++;
        }
        assert.ok(executed > 0, 'no statement of this fixture was executed');
      });
    }
  }
});
