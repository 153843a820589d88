/**
 * Schema mapping by execution: the original statement runs on the old schema (`jobs`), its Knex
 * rewrite — with `rewrite.schemaMapping` applied — on the new one (`tasks`: name → title,
 * status → state, 'pending' → 'queued', 'done' → 'finished'), whose data was migrated by the
 * same mapping. Rows, affected counts and the written table (the old one mapped) must match, on
 * SQLite, PostgreSQL and MySQL. The fixture pairs in test/fixtures/rewrite/knex/schema-mapping run
 * here too (PostgreSQL, their driver's dialect).
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ts from 'typescript';
import { analyzeText } from '../../server/src/engine/analyze';
import { rewriteActions } from '../../server/src/engine/rewrite';
import { analyzeCall } from '../../server/src/engine/rewrite/callsite';
import type { SchemaMapping } from '../../server/src/engine/rewrite/plan';
import { TASKS_TABLE, openMysql, openPostgres, openSqlite, type Db } from './db';
import { trial } from './run-rewrite';

const FIXTURES = path.join(__dirname, '..', '..', '..', 'test', 'fixtures', 'rewrite', 'knex', 'schema-mapping');
const MAPPING: SchemaMapping = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'options.json'), 'utf8')).schemaMapping;

/** The data migration the mapping stands for, as SQL. */
function migrate(): string {
  const m = MAPPING.jobs;
  const cases = (col: string) => {
    const vm = m.values?.[col];
    if (!vm) return col;
    return `CASE ${col} ${Object.entries(vm).map(([a, b]) => `WHEN '${a}' THEN '${String(b)}'`).join(' ')} ELSE ${col} END`;
  };
  const cols = ['id', 'name', 'status', 'attempts', 'owner_id', 'created_at', 'updated_at', 'started_at', 'finished_at'];
  return `INSERT INTO ${m.table} (${cols.map((c) => m.columns?.[c] ?? c).join(', ')}) SELECT ${cols.map(cases).join(', ')} FROM jobs`;
}

async function withTasks(open: () => Promise<Db>): Promise<Db> {
  const db = await open();
  await db.exec(TASKS_TABLE(db.dialect === 'sqlite' ? 'INTEGER' : 'SERIAL'));
  await db.exec(migrate());
  if (db.dialect === 'postgresql') await db.exec("SELECT setval(pg_get_serial_sequence('tasks', 'id'), (SELECT max(id) FROM tasks))");
  db.serialTables.push('tasks');
  return db;
}

/** Statements over the old schema, `?` placeholders ($n for PostgreSQL), with their values. */
const STATEMENTS: Array<{ sql: string; values?: unknown[]; first?: boolean }> = [
  { sql: "SELECT id, name FROM jobs WHERE status = 'pending' ORDER BY id" },
  { sql: "SELECT id, name AS label, attempts FROM jobs WHERE status IN ('pending', 'done') AND attempts >= ? ORDER BY name, id", values: [1] },
  { sql: "SELECT id FROM jobs WHERE status <> 'done' AND owner_id = ? ORDER BY id", values: [2] },
  { sql: "SELECT id FROM jobs WHERE status NOT IN ('pending', 'running') ORDER BY id" },
  { sql: 'SELECT owner_id, count(*) AS n, count(DISTINCT status) AS kinds FROM jobs GROUP BY owner_id ORDER BY owner_id' },
  { sql: "SELECT name FROM jobs WHERE id = ? AND status = 'failed'", values: [4], first: true },
  { sql: "SELECT j.id, j.name, r.outcome FROM jobs j JOIN runs r ON r.job_id = j.id WHERE j.status = 'done' ORDER BY j.id, r.outcome" },
  { sql: "INSERT INTO jobs (name, status, attempts) VALUES (?, 'pending', 0)", values: ['new job'] },
  { sql: "INSERT INTO jobs (id, name, status) VALUES (101, 'a', 'done'), (102, ?, 'failed')", values: ['b'] },
  { sql: "UPDATE jobs SET status = 'done', name = ? WHERE status = 'pending' AND attempts < 2", values: ['renamed'] },
  { sql: "UPDATE jobs SET attempts = attempts + 1 WHERE status IN ('pending', 'running')" },
  { sql: "DELETE FROM jobs WHERE status = 'done' OR name = ?", values: ['job7'] },
  { sql: 'DELETE FROM jobs WHERE status IS NULL' },
];

/** Statements the mapping must refuse (with the reason's words), never rewrite. */
const REFUSED: Array<{ sql: string; reason: string }> = [
  { sql: 'SELECT id FROM jobs WHERE status = ?', reason: 'known only at run time' },
  { sql: 'SELECT * FROM jobs', reason: 'a star over jobs' },
  { sql: 'SELECT id, status FROM jobs', reason: 'would carry the new values' },
  { sql: "SELECT id FROM jobs WHERE status LIKE 'p%'", reason: 'has a value mapping' },
  { sql: "SELECT id FROM jobs WHERE status > 'done'", reason: 'has a value mapping' },
  { sql: 'SELECT id FROM jobs ORDER BY status', reason: 'has a value mapping' },
  { sql: 'UPDATE jobs SET status = ? WHERE id = 1', reason: 'known only at run time' },
  { sql: "SELECT j.id FROM jobs j JOIN runs r ON r.job_id = j.id WHERE status = 'done'", reason: 'not qualified' },
];

function dialectSql(sql: string, dialect: Db['dialect']): string {
  if (dialect !== 'postgresql') return sql;
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

describe('equivalence: schema mapping (old schema vs the rewrite on the migrated schema)', function () {
  this.timeout(180_000);
  const dbs: Array<[string, () => Promise<Db>]> = [['SQLite', openSqlite], ['PostgreSQL', openPostgres], ['MySQL', openMysql]];
  for (const [label, open] of dbs) {
    it(`${label}: mapped rewrites return the same rows and leave the migrated table as the original leaves the old one`, async () => {
      const db = await withTasks(open);
      try {
        for (const s of STATEMENTS) {
          const sql = dialectSql(s.sql, db.dialect);
          const values = Object.fromEntries((s.values ?? []).map((v, i) => [String(i + 1), v]));
          const r = await trial(db, { sql, values, firstRow: s.first, mapping: MAPPING });
          assert.equal(r.status, 'equal', `${sql}: ${JSON.stringify(r).slice(0, 700)}`);
        }
        for (const s of REFUSED) {
          const r = await trial(db, { sql: dialectSql(s.sql, db.dialect), values: { 1: 'pending' }, mapping: MAPPING });
          assert.ok(r.status === 'unplanned' || r.status === 'unverified', `${s.sql} was rewritten`);
          assert.ok(r.reason.includes(s.reason), `${s.sql}: "${r.reason}" does not mention "${s.reason}"`);
        }
      } finally {
        await db.close();
      }
    });
  }

  it('PostgreSQL: the schema-mapping fixture pairs, executed', async () => {
    const db = await withTasks(openPostgres);
    const options = { knex: { instance: 'db', import: './db' }, defaultDialect: 'postgresql' as const, schemaMapping: MAPPING };
    const VALUES: Record<string, unknown> = { owner: 2, id: 3, name: 'new job', ids: [1, 2] };
    try {
      let executed = 0;
      for (const file of fs.readdirSync(FIXTURES).filter((f) => /\.input\.ts$/.test(f)).sort()) {
        const text = fs.readFileSync(path.join(FIXTURES, file), 'utf8');
        const findings = (await analyzeText(text, file, { defaultDialect: 'postgresql', wrappers: [], sessionFactories: [] })).findings.filter((f) => f.rule === 'raw-sql');
        for (const f of findings) {
          const [builder] = rewriteActions(text, file, f, options);
          if (!builder.verified) continue;
          const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
          const site = analyzeCall(sf, f, f.sql!.text, {});
          assert.ok(site.ok);
          const values: Record<string, unknown> = {};
          for (const [k, expr] of site.value.params) values[k] = VALUES[expr];
          const firstRow = /\.first\(\)/.test(builder.edits.map((e) => e.newText).join(' '));
          const r = await trial(db, { sql: f.sql!.text, values, firstRow, mapping: MAPPING });
          assert.equal(r.status, 'equal', `${file}:${f.range.start.line + 1} ${JSON.stringify(r).slice(0, 600)}`);
          executed++;
        }
      }
      assert.ok(executed >= 4, `only ${executed} fixture statements were executed`);
    } finally {
      await db.close();
    }
  });
});
