/**
 * Generated models proven by execution (test/fixtures/rewrite/models-py, test/python/models_harness.py)
 * under Debian's python3 with SQLAlchemy 1.4:
 *
 * - SQLite fixtures: the original DDL creates one database, the generated models file's
 *   `metadata.create_all()` another; columns (name, type affinity, not null, default, key),
 *   foreign keys, UNIQUE constraints and AUTOINCREMENT must be equal, and a sample row inserted
 *   through the mapped class into the DDL-created database reads back through the class as written
 *   and lands as the same raw row as in the model-created one.
 * - PostgreSQL fixtures run on a throwaway PostgreSQL (./postgres.ts): the DDL in one database,
 *   create_all() in another; information_schema.columns, pg_constraint and pg_indexes must be
 *   equal, and the sample row goes through the class on both (or is refused alike).
 * - PostgreSQL / MySQL fixtures: SQLAlchemy compiles each class's CREATE TABLE for the dialect;
 *   read back with createTablesIn it must equal the original statement (types up to synonyms).
 *   MySQL is not executed (no Python MySQL driver is installed by the test setup).
 * - SQLModel fixtures: SQLModel is not installable here; their files are compiled by python3
 *   (and parsed and read back by the unit tier), not executed.
 */
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createTablesIn, initModelGeneration, type DdlColumn, type DdlTable } from '../../server/src/engine/rewrite/python/model';
import { generateAll, MODELS_FIXTURES, modelCases, styleOf, type Generated, type ModelSource } from '../unit/rewrite-python/modelCheck';
import { startPostgres, type PostgresServer } from './postgres';
import { compileErrors, HARNESS_DIR, PYTHON } from './run';

interface HarnessCase {
  name: string;
  models: string;
  ddl: string[];
  tables: Array<{ table: string; className: string }>;
  dialect: string;
  /** PostgreSQL cases: the throwaway server the tables are created on. */
  dsn?: string;
}

interface Side<T> {
  ddl: T;
  model: T;
}

interface SqliteResult {
  name: string;
  table: string;
  columns: Side<Array<{ name: string; affinity: string; notnull: boolean; default: string | null; pk: number }>>;
  foreignKeys: Side<unknown[]>;
  unique: Side<unknown[]>;
  autoincrement: Side<boolean>;
  sql_ddl: string;
  sql_model: string;
  insert_ddl: string;
  insert_model: string;
  written: Record<string, unknown>;
  read_ddl: Record<string, unknown> | null;
  read_model: Record<string, unknown> | null;
  raw_ddl: unknown[];
  raw_model: unknown[];
}

interface PostgresResult {
  name: string;
  table: string;
  dialect: 'postgresql';
  columns: Side<unknown[][]>;
  constraints: Side<unknown[][]>;
  indexes: Side<unknown[][]>;
  insert_ddl: string;
  insert_model: string;
  written: Record<string, unknown>;
  read_ddl: Record<string, unknown> | null;
  read_model: Record<string, unknown> | null;
  raw_ddl: unknown[];
  raw_model: unknown[];
}

interface CompiledResult {
  name: string;
  table: string;
  compiled: string;
}

interface Output {
  sqlalchemy: string;
  results: Array<SqliteResult | CompiledResult | PostgresResult>;
  errors: Array<{ name: string; error: string }>;
}

function runModelsHarness(cases: HarnessCase[]): Output {
  if (!fs.existsSync(PYTHON)) throw new Error(`${PYTHON} is missing: apt-get install python3 python3-sqlalchemy`);
  const r = spawnSync(PYTHON, [path.join(HARNESS_DIR, 'models_harness.py')], { input: JSON.stringify({ cases }), encoding: 'utf8', cwd: HARNESS_DIR, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' } });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`models_harness.py exited ${r.status}: ${r.stderr.slice(-2000)}`);
  const out = JSON.parse(r.stdout) as Output;
  if (!/^1\.4\./.test(out.sqlalchemy)) throw new Error(`expected SQLAlchemy 1.4 (Debian's python3-sqlalchemy), found ${out.sqlalchemy}`);
  return out;
}

let postgres: PostgresServer | undefined;

function harnessCase(src: ModelSource, g: Generated, models = g.text!): HarnessCase {
  const dialects = [...new Set(g.tables.map((t) => t.dialect))];
  assert.equal(dialects.length, 1, `${src.name}: one dialect per fixture (${dialects.join(', ')})`);
  const dsn = dialects[0] === 'postgresql' ? postgres?.dsn : undefined;
  return { name: src.name, models, ddl: g.tables.map((t) => t.sql), tables: g.models.map((m) => ({ table: m.table, className: m.className })), dialect: dialects[0], ...(dsn ? { dsn } : {}) };
}

/** A type up to the synonyms a dialect prints for it. */
function canonicalType(t: string, dialect: string): string {
  let s = t.toUpperCase().replace(/\s+/g, ' ').replace(/\s*\(\s*/g, '(').replace(/\s*,\s*/g, ',').replace(/\s*\)/g, ')').trim();
  const syn: Array<[RegExp, string]> = [
    [/^TIMESTAMPTZ$/, 'TIMESTAMP WITH TIME ZONE'], [/^TIMESTAMP WITHOUT TIME ZONE$/, 'TIMESTAMP'],
    [/^(DOUBLE PRECISION|DOUBLE|FLOAT8|FLOAT\(53\))$/, 'DOUBLE'], [/^(INT|INT4)$/, 'INTEGER'], [/^INT8$/, 'BIGINT'],
    [/^CHARACTER VARYING/, 'VARCHAR'], [/^BOOL$/, 'BOOLEAN'], [/^DECIMAL/, 'NUMERIC'],
  ];
  for (const [re, to] of syn) s = s.replace(re, to);
  if (dialect === 'mysql') s = s.replace(/^(INT|INTEGER|BIGINT|SMALLINT)\(\d+\)$/, (_m, n: string) => (n === 'INT' ? 'INTEGER' : n));
  return s;
}

function constraintsOf(t: DdlTable | undefined): unknown {
  assert.ok(t, 'the stored CREATE TABLE reads back');
  return t.constraints.map((k) => (k.kind === 'check' ? { ...k, sql: k.sql.replace(/\s+/g, ' ') } : k));
}

function comparable(t: DdlTable): unknown {
  return {
    table: t.table,
    schema: t.schema,
    primaryKey: t.primaryKey,
    constraints: constraintsOf(t),
    options: Object.fromEntries(Object.entries(t.options).map(([k, v]) => [k, v.toLowerCase()])),
    problems: t.problems,
    columns: t.columns.map((c: DdlColumn) => ({
      name: c.name,
      type: canonicalType(c.sqlType, t.dialect),
      nullable: c.nullable,
      unique: c.unique,
      default: c.default,
      foreignKey: c.foreignKey,
      autoIncrement: c.autoIncrement || /SERIAL/i.test(c.sqlType),
    })),
  };
}

describe('python: generated models create and read what the DDL creates', function () {
  this.timeout(300_000);
  const { pairs } = modelCases();
  const generated = new Map<string, Generated>();
  let output: Output | undefined;
  const executed: HarnessCase[] = [];

  before(async () => {
    await initModelGeneration();
    postgres = startPostgres();
    for (const src of pairs) generated.set(src.name, await generateAll(src));
    for (const src of pairs) {
      const g = generated.get(src.name)!;
      if (styleOf(src) === 'declarative' && g.text) executed.push(harnessCase(src, g));
    }
    output = runModelsHarness(executed);
  });

  after(() => {
    postgres?.stop();
    postgres = undefined;
  });

  it('every generated models file equals its fixture and compiles with python3', () => {
    for (const src of pairs) assert.equal(generated.get(src.name)!.text, fs.readFileSync(path.join(MODELS_FIXTURES, `${src.name}.models.py`), 'utf8'), src.name);
    const files = fs.readdirSync(MODELS_FIXTURES).filter((f) => f.endsWith('.py') && !f.startsWith('na-broken'));
    assert.deepEqual(compileErrors(files.map((f) => ({ name: f, text: fs.readFileSync(path.join(MODELS_FIXTURES, f), 'utf8') }))), []);
  });

  it('runs every declarative fixture (SQLModel ones are compiled only: SQLModel is not installable here)', () => {
    assert.deepEqual(output!.errors, []);
    const declarative = pairs.filter((p) => styleOf(p) === 'declarative').map((p) => p.name).sort();
    assert.deepEqual(executed.map((c) => c.name).sort(), declarative);
    assert.ok(executed.filter((c) => c.dialect === 'sqlite').length >= 8);
    assert.ok(executed.some((c) => c.dialect === 'postgresql') && executed.some((c) => c.dialect === 'mysql'));
  });

  let inserted = 0;
  let pgInserted = 0;
  const refused: string[] = [];
  for (const src of pairs) {
    if (styleOf(src) !== 'declarative') continue;
    it(`${src.name}: the model's table is the DDL's table`, () => {
      const g = generated.get(src.name)!;
      const results = output!.results.filter((r) => r.name === src.name);
      const perTable = g.tables[0].dialect === 'postgresql' ? 2 : 1;
      assert.equal(results.length, g.models.length * perTable, `${perTable} result(s) per generated table`);
      for (const r of results) {
        if ('dialect' in r) {
          // Executed on PostgreSQL: the catalog's view of both tables, and a row through the class.
          assert.deepEqual(r.columns.model, r.columns.ddl, `${r.table}: information_schema.columns`);
          assert.deepEqual(r.constraints.model, r.constraints.ddl, `${r.table}: pg_constraint`);
          assert.deepEqual(r.indexes.model, r.indexes.ddl, `${r.table}: pg_indexes`);
          assert.equal(r.insert_model, r.insert_ddl, `${r.table}: the sample row is accepted or refused alike`);
          if (r.insert_ddl !== 'ok') refused.push(`${r.table}: ${r.insert_ddl}`);
          else {
            pgInserted++;
            for (const [k, v] of Object.entries(r.written)) assert.deepEqual(r.read_ddl![k], v, `${r.table}.${k} reads back through the class as written`);
          }
          assert.deepEqual(r.read_ddl, r.read_model, `${r.table}: the same object from both databases`);
          assert.deepEqual(r.raw_ddl, r.raw_model, `${r.table}: the same raw row in both databases`);
          continue;
        }
        if ('compiled' in r) {
          const original = g.tables.find((t) => t.table === r.table)!;
          const [back] = createTablesIn(r.compiled, 'compiled.sql');
          assert.ok(back, `the compiled DDL has no CREATE TABLE: ${r.compiled}`);
          assert.deepEqual(comparable({ ...back, dialect: original.dialect }), comparable(original), `${r.table}: compiled as\n${r.compiled}`);
          continue;
        }
        assert.deepEqual(r.columns.model, r.columns.ddl, `${r.table}: PRAGMA table_info`);
        assert.deepEqual(r.foreignKeys.model, r.foreignKeys.ddl, `${r.table}: foreign keys`);
        assert.deepEqual(r.unique.model, r.unique.ddl, `${r.table}: UNIQUE constraints`);
        assert.equal(r.autoincrement.model, r.autoincrement.ddl, `${r.table}: AUTOINCREMENT`);
        // CHECK and multi-column UNIQUE constraints: the tables' stored CREATE statements read back alike.
        const [fromDdl] = createTablesIn(r.sql_ddl, 'ddl.sql');
        const [fromModel] = createTablesIn(r.sql_model, 'model.sql');
        assert.deepEqual(constraintsOf(fromModel), constraintsOf(fromDdl), `${r.table}: constraints\n${r.sql_model}`);
        assert.deepEqual(fromModel.columns.map((c) => c.foreignKey), fromDdl.columns.map((c) => c.foreignKey), `${r.table}: references (with their names)\n${r.sql_model}`);
        if (r.insert_ddl !== 'ok') refused.push(`${r.table}: ${r.insert_ddl}`);
        assert.equal(r.insert_model, r.insert_ddl, `${r.table}: the sample row is accepted or refused alike`);
        if (r.insert_ddl === 'ok') {
          inserted++;
          for (const [k, v] of Object.entries(r.written)) assert.deepEqual(r.read_ddl![k], v, `${r.table}.${k} reads back through the class as written`);
          assert.equal(r.raw_ddl.length, 1);
        }
        assert.deepEqual(r.read_ddl, r.read_model, `${r.table}: the same object from both databases`);
        assert.deepEqual(r.raw_ddl, r.raw_model, `${r.table}: the same raw row in both databases`);
      }
    });
  }

  it('most sample rows were inserted and read back (a CHECK refusing one is the exception)', () => {
    assert.ok(inserted >= 12, `${inserted} rows`);
    assert.deepEqual(refused, [
      'job_events: ForeignKeyViolation: insert or update on table "job_events" violates foreign key constraint "job_events_job_id_fkey"',
      'job_quotas: ForeignKeyViolation: insert or update on table "job_quotas" violates foreign key constraint "quota_job_fk"',
      'labels: IntegrityError: CHECK constraint failed: length(name) < 3',
    ]);
    assert.ok(pgInserted >= 3, `${pgInserted} rows on PostgreSQL`);
  });

  it('the comparison can fail: a model that loses NOT NULL, a default or a key is caught', () => {
    const src = pairs.find((p) => p.name === 'sqlite-basic')!;
    const g = generated.get(src.name)!;
    const mutations: Array<[string, string]> = [
      ['name = Column(Text, nullable=False)', 'name = Column(Text)'],
      ['server_default=text("0")', 'server_default=text("1")'],
      ['code = Column(CHAR(8), unique=True)', 'code = Column(CHAR(8))'],
      ['priority = Column(REAL)', 'priority = Column(Text)'],
    ];
    const cases = mutations.map(([from, to], i) => {
      assert.ok(g.text!.includes(from), from);
      return harnessCase({ ...src, name: `mutant-${i}` }, g, g.text!.replace(from, to));
    });
    const out = runModelsHarness(cases);
    assert.deepEqual(out.errors, []);
    for (const r of out.results as SqliteResult[]) {
      const same = JSON.stringify([r.columns.ddl, r.unique.ddl, r.raw_ddl]) === JSON.stringify([r.columns.model, r.unique.model, r.raw_model]);
      assert.equal(same, false, `${r.name}: the difference went unnoticed`);
    }
  });

  it('the comparison can fail: a model without a CHECK, or with a reference unnamed, is caught', () => {
    const src = pairs.find((p) => p.name === 'sqlite-constraints')!;
    const g = generated.get(src.name)!;
    const mutants = [
      g.text!.replace('        CheckConstraint("slot BETWEEN 0 AND 99"),\n', ''),
      g.text!.replace('ForeignKey("jobs.id", name="slot_job_fk")', 'ForeignKey("jobs.id")'),
    ];
    for (const m of mutants) assert.notEqual(m, g.text);
    const out = runModelsHarness(mutants.map((m, i) => harnessCase({ ...src, name: `constraints-mutant-${i}` }, g, m)));
    assert.deepEqual(out.errors, []);
    for (const r of (out.results as SqliteResult[]).filter((x) => x.table === 'job_slots')) {
      const [a] = createTablesIn(r.sql_ddl, 'ddl.sql');
      const [b] = createTablesIn(r.sql_model, 'model.sql');
      assert.notDeepEqual([constraintsOf(b), b.columns.map((c) => c.foreignKey)], [constraintsOf(a), a.columns.map((c) => c.foreignKey)], r.name);
    }
  });

  it('the comparison can fail: a compiled PostgreSQL table that differs is caught', () => {
    const src = pairs.find((p) => p.name === 'postgres')!;
    const g = generated.get(src.name)!;
    const mutant = harnessCase({ ...src, name: 'pg-mutant' }, g, g.text!.replace('name = Column(String(200), nullable=False, unique=True)', 'name = Column(String(100), nullable=False, unique=True)'));
    const out = runModelsHarness([mutant]);
    const r = out.results.find((x) => x.table === 'jobs' && 'compiled' in x) as CompiledResult;
    const pg = out.results.find((x) => x.table === 'jobs' && 'dialect' in x) as PostgresResult;
    assert.notDeepEqual(pg.columns.model, pg.columns.ddl, 'PostgreSQL reports the other length');
    const [back] = createTablesIn(r.compiled, 'compiled.sql');
    assert.notDeepEqual(comparable({ ...back, dialect: 'postgresql' }), comparable(g.tables[0]));
  });
});
