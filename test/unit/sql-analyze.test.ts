/**
 * SQL understanding, as tables: each row is a statement and what must be understood of it.
 */
import * as assert from 'node:assert/strict';
import { analyzeSql, isSqlText } from '../../server/src/engine/sql/analyze';
import type { Dialect } from '../../server/src/engine/types';

interface Row {
  sql: string;
  dialect: Dialect;
  kind: string;
  tables: string[];
  complexity: string;
  params?: string; // `<style><count>`
  features?: string[]; // must include
  parsed?: boolean;
  statements?: number;
}

const ROWS: Row[] = [
  { sql: 'SELECT id, name FROM jobs WHERE id = $1', dialect: 'postgresql', kind: 'select', tables: ['jobs'], complexity: 'simple', params: 'dollar1' },
  { sql: 'SELECT * FROM jobs WHERE status = $1 AND owner = $2 OR owner = $1', dialect: 'postgresql', kind: 'select', tables: ['jobs'], complexity: 'simple', params: 'dollar2' },
  { sql: 'SELECT * FROM jobs WHERE status = %s AND owner = %s', dialect: 'postgresql', kind: 'select', tables: ['jobs'], complexity: 'simple', params: 'format2' },
  { sql: 'SELECT * FROM jobs WHERE owner = %(owner)s AND status = %(status)s AND %(owner)s IS NOT NULL', dialect: 'postgresql', kind: 'select', tables: ['jobs'], complexity: 'simple', params: 'pyformat2' },
  { sql: 'UPDATE jobs SET attempts = attempts + 1, updated_at = now() WHERE id = :id', dialect: 'sqlite', kind: 'update', tables: ['jobs'], complexity: 'simple', params: 'named1' },
  { sql: 'INSERT INTO jobs (name, status) VALUES (?, ?)', dialect: 'sqlite', kind: 'insert', tables: ['jobs'], complexity: 'simple', params: 'question2' },
  { sql: 'INSERT INTO jobs (name, status) VALUES (?, ?), (?, ?)', dialect: 'mysql', kind: 'insert', tables: ['jobs'], complexity: 'simple', params: 'question4' },
  { sql: 'DELETE FROM audit.events WHERE created_at < $1', dialect: 'postgresql', kind: 'delete', tables: ['audit.events'], complexity: 'simple' },
  { sql: "SELECT * FROM jobs WHERE name = 'it''s $1 or ?' -- $2 ?\n AND id = $1", dialect: 'postgresql', kind: 'select', tables: ['jobs'], complexity: 'simple', params: 'dollar1' },
  { sql: 'select j.id, count(*) from jobs j left join runs r on r.job_id = j.id group by j.id having count(*) > ?', dialect: 'sqlite', kind: 'select', tables: ['jobs', 'runs'], complexity: 'medium', features: ['join', 'group-by', 'having'] },
  { sql: 'SELECT * FROM jobs WHERE id IN (SELECT job_id FROM runs WHERE ok = false)', dialect: 'postgresql', kind: 'select', tables: ['jobs', 'runs'], complexity: 'medium', features: ['subquery'] },
  { sql: 'SELECT id FROM jobs UNION SELECT id FROM archived_jobs', dialect: 'postgresql', kind: 'select', tables: ['jobs', 'archived_jobs'], complexity: 'medium', features: ['union'] },
  { sql: "WITH recent AS (SELECT * FROM runs WHERE started_at > now() - interval '1 day') SELECT * FROM recent", dialect: 'postgresql', kind: 'select', tables: ['runs'], complexity: 'complex', features: ['cte'] },
  { sql: 'SELECT id, rank() OVER (PARTITION BY owner ORDER BY created_at) FROM jobs', dialect: 'postgresql', kind: 'select', tables: ['jobs'], complexity: 'complex', features: ['window'] },
  { sql: 'INSERT INTO jobs (name) VALUES ($1) ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING id', dialect: 'postgresql', kind: 'insert', tables: ['jobs'], complexity: 'complex', features: ['upsert-merge', 'returning'] },
  { sql: 'INSERT INTO jobs (name) VALUES ($1) ON CONFLICT DO NOTHING', dialect: 'postgresql', kind: 'insert', tables: ['jobs'], complexity: 'simple', features: ['on-conflict-nothing'] },
  { sql: 'INSERT INTO jobs (name) VALUES (%s) ON DUPLICATE KEY UPDATE name = VALUES(name)', dialect: 'mysql', kind: 'insert', tables: ['jobs'], complexity: 'complex', features: ['upsert-merge'] },
  { sql: 'INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)', dialect: 'sqlite', kind: 'insert', tables: ['settings'], complexity: 'complex' },
  { sql: "SELECT payload->>'kind' FROM events", dialect: 'postgresql', kind: 'select', tables: ['events'], complexity: 'complex' },
  { sql: 'SELECT * FROM jobs WHERE status = $1 FOR UPDATE SKIP LOCKED', dialect: 'postgresql', kind: 'select', tables: ['jobs'], complexity: 'complex' },
  { sql: 'SELECT id::text FROM jobs', dialect: 'postgresql', kind: 'select', tables: ['jobs'], complexity: 'complex' },
  { sql: 'CREATE TABLE IF NOT EXISTS jobs (id INTEGER PRIMARY KEY, name TEXT NOT NULL)', dialect: 'sqlite', kind: 'ddl', tables: ['jobs'], complexity: 'medium' },
  { sql: 'CREATE TABLE a (id int); CREATE TABLE b (id int);', dialect: 'sqlite', kind: 'ddl', tables: ['a', 'b'], complexity: 'medium', statements: 2 },
  { sql: 'SELECT 1', dialect: 'postgresql', kind: 'select', tables: [], complexity: 'simple' },
  { sql: 'SELECT * FROM __sqlm_dyn_1__ WHERE id = $1', dialect: 'postgresql', kind: 'select', tables: [], complexity: 'simple' },
  { sql: 'SELECT * FROM runs WHERE started_at < $1::date AND id = ANY($2::int[])', dialect: 'postgresql', kind: 'select', tables: ['runs'], complexity: 'complex', params: 'dollar2' },
  { sql: 'SELECT * FROM jobs ORDER BY id LIMIT __sqlm_dyn_1__ OFFSET __sqlm_dyn_2__', dialect: 'postgresql', kind: 'select', tables: ['jobs'], complexity: 'simple' },
  { sql: 'CREATE UNIQUE INDEX IF NOT EXISTS idx_sessions_user ON sessions (user_id)', dialect: 'postgresql', kind: 'ddl', tables: ['sessions'], complexity: 'medium' },
  { sql: 'COPY jobs (id, name) FROM STDIN', dialect: 'postgresql', kind: 'other', tables: ['jobs'], complexity: 'simple', parsed: false },
  // Parsed in another dialect when the guessed one refuses it.
  { sql: 'SELECT * FROM `jobs` WHERE id = ?', dialect: 'postgresql', kind: 'select', tables: ['jobs'], complexity: 'simple' },
  // Malformed SQL: still understood from its tokens, marked unparsed.
  { sql: 'SELECT * FROM WHERE id = 1', dialect: 'postgresql', kind: 'select', tables: [], complexity: 'simple', parsed: false },
  { sql: 'SELEC id FROM jobs', dialect: 'postgresql', kind: 'other', tables: ['jobs'], complexity: 'simple', parsed: false },
  { sql: 'UPDATE jobs SET WHERE id = 1', dialect: 'postgresql', kind: 'update', tables: ['jobs'], complexity: 'simple', parsed: false },
  { sql: 'PRAGMA journal_mode = WAL', dialect: 'sqlite', kind: 'other', tables: [], complexity: 'simple', parsed: false },
];

describe('analyzeSql', () => {
  for (const row of ROWS) {
    it(`${row.dialect}: ${row.sql.replace(/\s+/g, ' ').slice(0, 70)}`, () => {
      const info = analyzeSql(row.sql, row.dialect);
      assert.equal(info.kind, row.kind, 'kind');
      assert.deepEqual([...info.tables].sort(), [...row.tables].sort(), 'tables');
      assert.equal(info.complexity, row.complexity, `complexity (features: ${info.features})`);
      assert.equal(info.parsed, row.parsed ?? true, `parsed (${info.parseError})`);
      if (!info.parsed) assert.match(info.parseError ?? '', /\S/, 'an unparsed statement carries the reason');
      if (row.params) assert.equal(`${info.params.style}${info.params.count}`, row.params, 'params');
      for (const f of row.features ?? []) assert.ok(info.features.includes(f), `feature ${f} in ${info.features}`);
      if (row.statements) assert.equal(info.statementCount, row.statements);
    });
  }

  it('gives named parameters their names', () => {
    assert.deepEqual(analyzeSql('SELECT * FROM t WHERE a = :owner AND b = :status AND c = :owner', 'sqlite').params, { style: 'named', count: 2, names: ['owner', 'status'] });
  });

  it('does not hang or overflow on deeply nested parentheses', () => {
    const sql = 'SELECT ' + '('.repeat(20000) + '1' + ')'.repeat(20000) + ' FROM t';
    const info = analyzeSql(sql, 'postgresql');
    assert.equal(info.kind, 'select');
  });
});

/** Is this text SQL? `driver`: passed to a database API; `unknown`: passed to a callee we do not know. */
const SQL_TEXT: Array<[string, 'driver' | 'unknown', boolean]> = [
  ['SELECT id FROM jobs', 'unknown', true],
  ['Select id from jobs_table', 'unknown', true],
  ['INSERT INTO t VALUES (1)', 'unknown', true],
  ['  -- leading comment\n  SELECT * FROM jobs', 'unknown', true],
  ['(SELECT id FROM jobs) UNION (SELECT id FROM runs)', 'unknown', true],
  ['SELECT 1', 'driver', true],
  ['SELECT 1', 'unknown', false],
  ['BEGIN', 'driver', true],
  ['COMMIT', 'driver', true],
  ['SELECT * FROM WHERE', 'driver', true],
  ['SELECT * FROM WHERE', 'unknown', false],
  ['PRAGMA foreign_keys = ON', 'driver', true],
  ['select an option', 'unknown', false],
  ['select an option', 'driver', false],
  ['Select all from the list', 'unknown', false],
  ['Select all from the list', 'driver', false],
  ['Delete this item?', 'driver', false],
  ['Delete the items in the list?', 'driver', false],
  ['Select which jobs to run from the list?', 'driver', false],
  ['SELECT name FROM jobs LIMIT ?', 'driver', true],
  ['SELECT name FROM jobs ORDER BY id LIMIT 10 OFFSET ?', 'driver', true],
  ['DELETE FROM jobs WHERE attempts > ?', 'driver', true],
  ['SELECT name FROM jobs LIMIT ?', 'unknown', true],
  ['Update available', 'driver', false],
  ['update: done', 'driver', false],
  ['Create a new account', 'driver', false],
  ['SELECT failed for %s', 'driver', false],
  ['select', 'driver', false],
  ['created_at', 'driver', false],
  ['query { jobs { id } }', 'unknown', false],
  ['<select name="x"></select>', 'unknown', false],
  ['/jobs/:id', 'driver', false],
];

describe('isSqlText', () => {
  for (const [text, confidence, expected] of SQL_TEXT) {
    it(`${expected ? 'SQL' : 'not SQL'} (${confidence}): ${JSON.stringify(text)}`, () => {
      assert.equal(isSqlText(text, confidence, 'postgresql'), expected);
    });
  }
});
