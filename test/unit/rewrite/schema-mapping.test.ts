/**
 * The schema mapping on its own (plan.ts `mapSchema`: SQL AST in, mapped AST out, or a reason),
 * and how it reaches the quick fix: the title and the verified SQL say it was applied, and the
 * db.raw() action is not offered for a statement the mapping changes.
 */
import * as assert from 'node:assert/strict';
import { parseConfig } from '../../../server/src/engine/config';
import { rewriteActions } from '../../../server/src/engine/rewrite';
import { mapSchema, mappingProblem, sqlParser, type SchemaMapping } from '../../../server/src/engine/rewrite/plan';
import type { Dialect } from '../../../server/src/engine/types';
import { OPTIONS, rawFindings } from './check';

const MAPPING: SchemaMapping = {
  jobs: { table: 'tasks', columns: { name: 'title', status: 'state' }, values: { status: { pending: 'queued', done: 'finished' } } },
  runs: { columns: { outcome: 'result' } },
};

function mapped(sql: string, dialect: Dialect = 'postgresql'): string {
  const ast = sqlParser().astify(sql, { database: dialect });
  const r = mapSchema(Array.isArray(ast) ? ast[0] : ast, MAPPING, dialect);
  if (!r.ok) return `refused: ${r.reason}`;
  return sqlParser().sqlify(r.ast as never, { database: dialect }).replace(/"/g, '');
}

const CASES: Array<[string, string, Dialect?]> = [
  ["SELECT id, name FROM jobs WHERE status = 'pending'", "SELECT id, title AS name FROM tasks WHERE state = 'queued'"],
  ["SELECT j.id FROM jobs AS j WHERE j.status IN ('pending', 'failed')", "SELECT j.id FROM tasks AS j WHERE j.state IN ('queued', 'failed')"],
  ["SELECT jobs.name FROM jobs WHERE jobs.status <> 'done'", "SELECT tasks.title AS name FROM tasks WHERE tasks.state <> 'finished'"],
  ['SELECT r.outcome, j.id FROM jobs j JOIN runs r ON r.job_id = j.id', 'SELECT r.result AS outcome, j.id FROM tasks AS j INNER JOIN runs AS r ON r.job_id = j.id'],
  ["UPDATE jobs SET status = 'done', attempts = attempts + 1 WHERE status = 'pending'", "UPDATE tasks SET state = 'finished', attempts = attempts + 1 WHERE state = 'queued'"],
  ["INSERT INTO jobs (name, status) VALUES ('a', 'pending'), ('b', NULL)", "INSERT INTO tasks (title, state) VALUES ('a','queued'), ('b',NULL)"],
  ["DELETE FROM jobs WHERE status IS NULL OR status = 'done'", "DELETE FROM tasks WHERE state IS NULL OR state = 'finished'"],
  ['SELECT owner_id, count(status) AS n FROM jobs GROUP BY owner_id', 'SELECT owner_id, COUNT(state) AS n FROM tasks GROUP BY owner_id'],
  ['SELECT id FROM users WHERE name = 1', 'SELECT id FROM users WHERE name = 1'],
  ['SELECT id FROM jobs WHERE status = 987654001', 'refused: schema mapping: jobs.status is compared with a value known only at run time'],
  ['SELECT * FROM jobs', 'refused: schema mapping: a star over jobs'],
  ['SELECT status FROM jobs', 'refused: schema mapping: jobs.status has a value mapping; the rows would carry the new values'],
  ["SELECT id FROM jobs WHERE status LIKE 'p%'", 'refused: schema mapping: jobs.status has a value mapping and is used where'],
  ["SELECT id FROM jobs WHERE status BETWEEN 'a' AND 'z'", 'refused: schema mapping: jobs.status has a value mapping and is used where'],
  ['SELECT max(status) AS m FROM jobs', 'refused: schema mapping: jobs.status has a value mapping and is used where'],
  ['SELECT id FROM jobs ORDER BY status', 'refused: schema mapping: jobs.status has a value mapping and is used where'],
  ['SELECT count(name) FROM jobs', 'refused: schema mapping: an aggregate over a renamed column without an alias'],
  ["SELECT j.id FROM jobs j JOIN runs r ON r.job_id = j.id WHERE status = 'done'", 'refused: schema mapping: the column status is not qualified'],
  ['UPDATE jobs SET status = 987654001', 'refused: schema mapping: jobs.status is set to a value known only at run time'],
  ['DELETE FROM jobs WHERE id = 1 RETURNING name', 'refused: schema mapping: RETURNING the renamed column jobs.name'],
];

describe('rewrite: schema mapping', () => {
  describe('mapSchema (the transformation on its own)', () => {
    for (const [sql, want, dialect] of CASES) {
      it(sql, () => {
        const got = mapped(sql, dialect);
        if (want.startsWith('refused:')) assert.ok(got.startsWith(want), got);
        else assert.equal(got, want);
      });
    }
    it('a value mapping must be one-to-one', () => {
      assert.match(mappingProblem({ jobs: { values: { status: { pending: 'queued', new: 'queued' } } } }) ?? '', /one-to-one/);
      assert.equal(mappingProblem(MAPPING), undefined);
    });
    it('no mapping, or one that does not touch the statement, changes nothing', () => {
      const ast = sqlParser().astify('SELECT id FROM users', { database: 'postgresql' });
      const r = mapSchema(ast, MAPPING, 'postgresql');
      assert.ok(r.ok);
      assert.deepEqual(r.applied, []);
    });
  });

  describe('config', () => {
    it('accepts rewrite.schemaMapping and rejects unknown keys', () => {
      const c = parseConfig(JSON.stringify({ rewrite: { schemaMapping: MAPPING } }));
      assert.deepEqual(c.rewrite.schemaMapping, MAPPING);
      assert.throws(() => parseConfig(JSON.stringify({ rewrite: { schemaMapping: { jobs: { rename: 'x' } } } })), /schemaMapping/);
      assert.throws(() => parseConfig(JSON.stringify({ rewrite: { schemaMapping: { jobs: { columns: { a: 'b c' } } } } })), /schemaMapping/);
    });
  });

  describe('the quick fix', () => {
    const SRC = [
      "import { Pool } from 'pg';",
      'const pool = new Pool();',
      'export async function f(owner: number) {',
      "  const { rows } = await pool.query(\"SELECT id, name FROM jobs WHERE status = 'pending' AND owner_id = $1\", [owner]);",
      '  return rows;',
      '}',
      '',
    ].join('\n');

    it('says the mapping was applied, in the title and in the verified SQL; db.raw() is not offered', async () => {
      const [f] = await rawFindings(SRC, 'a.ts');
      const [builder, raw] = rewriteActions(SRC, 'a.ts', f, { ...OPTIONS, schemaMapping: MAPPING });
      assert.equal(builder.verified, true, builder.reasonNotOffered);
      assert.match(builder.title, /^Rewrite with Knex \(schema mapping applied: jobs → tasks, jobs\.name → title, jobs\.status → state, jobs\.status 'pending' → 'queued'\)$/);
      assert.match(builder.knexSql ?? '', /^-- schema mapping applied: .*\nselect "id", "title" as "name" from "tasks" where "state" = \$1 and "owner_id" = \$2$/);
      assert.deepEqual(builder.mapped?.length, 4);
      assert.equal(raw.verified, false);
      assert.match(raw.reasonNotOffered ?? '', /schema mapping changes this statement/);
    });

    it('without a mapping the same call gets the plain title', async () => {
      const [f] = await rawFindings(SRC, 'a.ts');
      const [builder] = rewriteActions(SRC, 'a.ts', f, OPTIONS);
      assert.equal(builder.title, 'Rewrite with Knex');
      assert.equal(builder.mapped, undefined);
    });
  });
});
