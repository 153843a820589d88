/**
 * Models for the Python repository rewrite (server/src/engine/rewrite/python/model.ts):
 * fixture pairs `<case>.sql|.schema.py [+ <case>.existing.py]` → `<case>.models.py`, `na-*`
 * cases, `read/<case>.py` → `read/<case>.json` for modelsInPython, and tables for the DDL reader.
 * Refresh outputs after review with UPDATE_GOLDEN=1.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  classNameFor, createTablesIn, defaultModelTemplates, generateModel, initModelGeneration, MODEL_TEMPLATE_NAMES, modelsInPython, usesSqlModel, type ModelTemplates,
} from '../../../server/src/engine/rewrite/python/model';
import { checkModels, checkModelsNotApplicable, generateAll, MODELS_FILE, MODELS_FIXTURES, modelCases } from './modelCheck';

const { pairs, notApplicable } = modelCases();

describe('models: generate from CREATE TABLE (fixture pairs)', () => {
  before(() => initModelGeneration());

  it('has pairs, cases adding to a models file, and not-applicable cases', () => {
    assert.ok(pairs.length >= 12, `${pairs.length} pairs`);
    assert.ok(pairs.filter((p) => p.existing).length >= 4, 'too few cases adding to an existing models file');
    assert.ok(notApplicable.length >= 15, `${notApplicable.length} not-applicable cases`);
  });

  for (const src of pairs) {
    it(`${src.name}${src.existing ? ' (added to the existing file)' : ''}`, async () => {
      const out = path.join(MODELS_FIXTURES, `${src.name}.models.py`);
      if (process.env.UPDATE_GOLDEN === '1') {
        const g = await generateAll(src);
        if (g.text !== undefined) fs.writeFileSync(out, g.text);
      }
      await checkModels(src, fs.readFileSync(out, 'utf8'));
    });
  }

  for (const src of notApplicable) {
    it(`${src.name} (not applicable: ${src.reason})`, () => checkModelsNotApplicable(src));
  }
});

describe('models: modelsInPython (read/<case>.py → read/<case>.json)', () => {
  before(() => initModelGeneration());
  const dir = path.join(MODELS_FIXTURES, 'read');
  const cases = fs.readdirSync(dir).filter((f) => f.endsWith('.py')).sort();

  it('has valid and invalid class shapes', () => {
    assert.ok(cases.length >= 6);
    assert.ok(cases.includes('invalid.py'));
  });

  for (const f of cases) {
    it(f, () => {
      const text = fs.readFileSync(path.join(dir, f), 'utf8');
      const json = path.join(dir, f.replace(/\.py$/, '.json'));
      const got = modelsInPython(text, MODELS_FILE);
      if (process.env.UPDATE_GOLDEN === '1') fs.writeFileSync(json, JSON.stringify(got, null, 2) + '\n');
      assert.deepEqual(got, JSON.parse(fs.readFileSync(json, 'utf8')));
    });
  }

  it('names the module from the file', () => {
    const [m] = modelsInPython('class Job(Base):\n    __tablename__ = "jobs"\n    id = Column(Integer, primary_key=True)\n', 'src/app/db/models/__init__.py');
    assert.equal(m.module, 'src.app.db.models');
    assert.equal(m.file, 'src/app/db/models/__init__.py');
  });

  it('never throws', () => {
    for (const bad of ['', '\u0000', 'class', 'class X(:\n  __tablename__ = ', '(' .repeat(5000), 'class A(B):\n' + '    x = Column(\n'.repeat(300)]) {
      assert.ok(Array.isArray(modelsInPython(bad, 'm.py')));
    }
  });
});

describe('models: createTablesIn', () => {
  before(() => initModelGeneration());

  it('a .sql file: each CREATE TABLE with its range; other statements skipped', () => {
    const sql = '-- schema\nCREATE INDEX i ON jobs (name);\n\nCREATE TABLE jobs (\n  id INTEGER PRIMARY KEY,\n  name TEXT\n);\nINSERT INTO jobs VALUES (1, \'x\');\n';
    const [t, ...rest] = createTablesIn(sql, 'db/schema.sql');
    assert.equal(rest.length, 0);
    assert.equal(t.table, 'jobs');
    assert.deepEqual(t.range, { start: { line: 3, character: 0 }, end: { line: 6, character: 1 } });
    assert.deepEqual(t.columns.map((c) => [c.name, c.sqlType, c.nullable, c.primaryKey]), [['id', 'INTEGER', false, true], ['name', 'TEXT', true, false]]);
    assert.deepEqual(t.problems, []);
  });

  it('columns: type and DEFAULT as written, NOT NULL, UNIQUE, references, autoincrement', () => {
    const [t] = createTablesIn("CREATE TABLE `runs` (`id` int NOT NULL AUTO_INCREMENT, `job_id` int REFERENCES jobs(id) ON DELETE SET NULL, `state` varchar(20) NOT NULL DEFAULT 'new', `n` decimal(10,2) UNIQUE, PRIMARY KEY (`id`)) ENGINE=InnoDB", 'x.sql');
    assert.equal(t.dialect, 'mysql');
    assert.deepEqual(t.options, { engine: 'INNODB' });
    const [id, job, state, n] = t.columns;
    assert.deepEqual([id.autoIncrement, id.primaryKey, id.nullable], [true, true, false]);
    assert.deepEqual(job.foreignKey, { table: 'jobs', column: 'id', onDelete: 'SET NULL' });
    assert.deepEqual([state.sqlType, state.default, state.notNull], ['varchar(20)', "'new'", true]);
    assert.deepEqual([n.sqlType, n.unique], ['decimal(10,2)', true]);
  });

  it('PostgreSQL is read as PostgreSQL (SERIAL, TIMESTAMPTZ, JSONB, schema)', () => {
    const [t] = createTablesIn('CREATE TABLE audit.events (id SERIAL PRIMARY KEY, happened_at TIMESTAMPTZ NOT NULL DEFAULT now(), data JSONB)', 'x.sql');
    assert.equal(t.dialect, 'postgresql');
    assert.equal(t.schema, 'audit');
    assert.deepEqual(t.columns.map((c) => c.sqlType), ['SERIAL', 'TIMESTAMPTZ', 'JSONB']);
    assert.equal(t.columns[1].default, 'now()');
  });

  it('Python: SQL in string literals (a SCHEMA constant, executescript), ranges exact where the literal is verbatim', () => {
    const py = 'SCHEMA = """\nCREATE TABLE users (\n    id INTEGER PRIMARY KEY\n);\n"""\n\ndef init(c):\n    c.executescript("CREATE TABLE a (id INTEGER PRIMARY KEY);\\nCREATE TABLE b (id INTEGER PRIMARY KEY);")\n    c.execute(f"CREATE TABLE {name} (id INTEGER PRIMARY KEY)")\n';
    const tables = createTablesIn(py, 'db.py');
    assert.deepEqual(tables.map((t) => t.table), ['users', 'a', 'b']);
    assert.deepEqual(tables[0].range, { start: { line: 1, character: 0 }, end: { line: 3, character: 1 } });
    // The second literal holds an escape: its tables carry the whole literal's range.
    assert.deepEqual(tables[1].range, tables[2].range);
    assert.equal(tables[1].range.start.line, 7);
  });

  it('TypeScript / JavaScript: string and template literals without substitutions', () => {
    const ts = "const a = `CREATE TABLE jobs (id INTEGER PRIMARY KEY)`;\ndb.exec('CREATE TABLE runs (id INTEGER PRIMARY KEY)');\nconst b = `CREATE TABLE ${t} (id INT)`;\n";
    const tables = createTablesIn(ts, 'src/db.ts');
    assert.deepEqual(tables.map((t) => [t.table, t.range.start.line, t.range.start.character]), [['jobs', 0, 11], ['runs', 1, 9]]);
    assert.deepEqual(createTablesIn(ts, 'src/db.js').map((t) => t.table), ['jobs', 'runs']);
  });

  it('what cannot be read is a problem of the table, not a guess', () => {
    const [a] = createTablesIn('CREATE TABLE t (id INTEGER PRIMARY KEY, x INTEGER, CONSTRAINT pos CHECK (x > 0))', 'x.sql');
    assert.deepEqual(a.problems, ['CONSTRAINT pos CHECK (x > 0): a CHECK constraint is not mapped']);
    const [b] = createTablesIn('CREATE TABLE t (id INTEGER PRIMARY KEY,, x)', 'x.sql');
    assert.equal(b.table, 't');
    assert.match(b.problems[0], /does not parse in any dialect/);
    const [c] = createTablesIn('CREATE TABLE t AS SELECT * FROM u', 'x.sql');
    assert.ok(c === undefined || c.problems.length > 0);
  });

  it('other files and texts without CREATE TABLE give nothing; never throws', () => {
    assert.deepEqual(createTablesIn('CREATE TABLE t (id INT PRIMARY KEY)', 'notes.md'), []);
    assert.deepEqual(createTablesIn('SELECT 1', 'x.sql'), []);
    for (const bad of ['CREATE', 'CREATE TABLE', 'CREATE TABLE (', "CREATE TABLE t ('", 'x = "CREATE TABLE', '`CREATE TABLE ${']) {
      for (const f of ['x.sql', 'x.py', 'x.ts']) assert.ok(Array.isArray(createTablesIn(bad, f)));
    }
  });
});

describe('models: planning and generation', () => {
  before(() => initModelGeneration());

  it('class names: jobs → Job, job_runs → JobRun', () => {
    const names = ['jobs', 'job_runs', 'categories', 'addresses', 'status', 'boxes', 'people', 'data', 'user settings', 'JobRuns', '2fa_codes'].map(classNameFor);
    assert.deepEqual(names, ['Job', 'JobRun', 'Category', 'Address', 'Status', 'Box', 'Person', 'Data', 'UserSetting', 'JobRun', 'T2faCode']);
  });

  it('usesSqlModel: any Python file importing sqlmodel', () => {
    assert.equal(usesSqlModel([{ file: 'a.py', text: 'import os\n' }, { file: 'b.py', text: 'from sqlmodel import SQLModel\n' }]), true);
    assert.equal(usesSqlModel([{ file: 'a.py', text: 'import sqlmodel\n' }]), true);
    assert.equal(usesSqlModel([{ file: 'a.py', text: '# from sqlmodel import SQLModel\nx = "import sqlmodel"\n' }]), false);
    assert.equal(usesSqlModel([{ file: 'a.ts', text: 'from sqlmodel import SQLModel\n' }]), false);
    assert.equal(usesSqlModel([]), false);
  });

  it('the returned model is what the new file reads back as', () => {
    const [t] = createTablesIn('CREATE TABLE job_runs (id INTEGER PRIMARY KEY, "class" TEXT)', 'x.sql');
    const r = generateModel(t, { modelsFile: 'app/db/models.py', modelsFileText: undefined, style: 'declarative' });
    assert.ok(!('reason' in r), 'reason' in r ? r.reason : '');
    assert.deepEqual(modelsInPython(r.change.after, 'app/db/models.py'), [r.model]);
    assert.equal(r.model.module, 'app.db.models');
    assert.equal(r.change.before, undefined);
  });

  it('a template that changes a column is not offered, with the reason', () => {
    const [t] = createTablesIn('CREATE TABLE jobs (id INTEGER PRIMARY KEY, name TEXT NOT NULL)', 'x.sql');
    const shipped = defaultModelTemplates();
    const dropArgs: ModelTemplates = { ...shipped, declarative: shipped.declarative.replace('Column({{ c.args | join: ", " }})', 'Column({{ c.args | first }})') };
    const r = generateModel(t, { modelsFile: MODELS_FILE, modelsFileText: undefined, style: 'declarative', templates: dropArgs });
    assert.ok('reason' in r);
    assert.match(r.reason, /column jobs\.id reads back as /);
    const broken: ModelTemplates = { ...shipped, declarative: 'class {{ className }}({{ base }}:\n    pass\n' };
    const b = generateModel(t, { modelsFile: MODELS_FILE, modelsFileText: undefined, style: 'declarative', templates: broken });
    assert.ok('reason' in b);
    assert.match(b.reason, /would not parse/);
    const layout: ModelTemplates = { ...shipped, declarative: shipped.declarative.replace('{% for c in columns %}    {{ c.attr }} = Column({{ c.args | join: ", " }})', '{% for c in columns %}    {{ c.attr }} = Column(\n        {{ c.args | join: ",\n        " }},\n    )') };
    const l = generateModel(t, { modelsFile: MODELS_FILE, modelsFileText: undefined, style: 'declarative', templates: layout });
    assert.ok(!('reason' in l), 'reason' in l ? l.reason : '');
    assert.match(l.change.after, /name = Column\(\n        Text,\n        nullable=False,\n    \)/);
  });

  it('the template names are the shipped files', () => {
    const dir = path.join(__dirname, '..', '..', '..', '..', 'templates', 'models-py');
    assert.deepEqual([...MODEL_TEMPLATE_NAMES].sort(), fs.readdirSync(dir).filter((f) => f.endsWith('.liquid')).map((f) => f.replace(/\.liquid$/, '')).sort());
  });

  it('never throws on odd tables', () => {
    const [t] = createTablesIn('CREATE TABLE jobs (id INTEGER PRIMARY KEY)', 'x.sql');
    const odd = [{ ...t, columns: [] }, { ...t, table: '' }, { ...t, columns: [{ ...t.columns[0], sqlType: 'INTEGER)) + x(' }] }, { ...t, table: 'a"b\\c' }];
    for (const o of odd) {
      const r = generateModel(o, { modelsFile: MODELS_FILE, modelsFileText: undefined, style: 'declarative' });
      assert.ok('reason' in r || r.change.after.length > 0);
    }
    const r = generateModel(t, { modelsFile: MODELS_FILE, modelsFileText: '\u0000(((', style: 'declarative' });
    assert.ok('reason' in r);
  });
});
