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
  classNameFor, createTablesFor, createTablesIn, modelsForTable, resolveModel, defaultModelTemplates, generateModel, initModelGeneration, MODEL_TEMPLATE_NAMES, modelsInPython, usesSqlModel, type ModelTemplates,
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

  it('the dialect: words only one dialect uses, else the script\'s, else the driver the file imports', () => {
    const plain = 'CREATE TABLE t (id INTEGER PRIMARY KEY)';
    assert.equal(createTablesIn(plain, 'x.sql')[0].dialect, 'sqlite');
    assert.equal(createTablesIn(`CREATE TABLE a (id SERIAL PRIMARY KEY);\n${plain};`, 'x.sql')[1].dialect, 'postgresql');
    assert.equal(createTablesIn(`import psycopg2\nS = "${plain}"\n`, 'x.py')[0].dialect, 'postgresql');
    assert.equal(createTablesIn(`import pymysql\nS = "${plain}"\n`, 'x.py')[0].dialect, 'mysql');
    assert.equal(createTablesIn(`import sqlite3\nS = "${plain}"\n`, 'x.py')[0].dialect, 'sqlite');
    assert.equal(createTablesIn(`import { Pool } from 'pg';\nconst s = '${plain}';\n`, 'x.ts')[0].dialect, 'postgresql');
    assert.equal(createTablesIn(`const mysql = require('mysql2/promise');\nconst s = '${plain}';\n`, 'x.js')[0].dialect, 'mysql');
    // The dialect decides the key: PostgreSQL's INTEGER PRIMARY KEY is no SERIAL.
    const [pg] = createTablesIn(`import psycopg2\nS = "${plain}"\n`, 'x.py');
    const r = generateModel(pg, { modelsFile: MODELS_FILE, modelsFileText: undefined, style: 'declarative' });
    assert.ok(!('reason' in r) && r.change.after.includes('id = Column(Integer, primary_key=True, autoincrement=False)'));
  });

  it('what cannot be read is a problem of the table, not a guess', () => {
    const [a] = createTablesIn('CREATE TABLE t (id INTEGER, x INTEGER CONSTRAINT x_nn NOT NULL, CONSTRAINT my_key PRIMARY KEY (id))', 'x.sql');
    assert.deepEqual(a.problems, ['column x: a named NOT NULL constraint (CONSTRAINT x_nn)', 'CONSTRAINT my_key PRIMARY KEY (id): a named PRIMARY KEY constraint']);
    const [b] = createTablesIn('CREATE TABLE t (id INTEGER PRIMARY KEY,, x)', 'x.sql');
    assert.equal(b.table, 't');
    assert.match(b.problems[0], /does not parse in any dialect/);
    const [c] = createTablesIn('CREATE TABLE t AS SELECT * FROM u', 'x.sql');
    assert.ok(c === undefined || c.problems.length > 0);
  });

  it('CHECK (column and table level) and multi-column or named UNIQUE are constraints of the table', () => {
    const [t] = createTablesIn("CREATE TABLE t (id INTEGER PRIMARY KEY, a INT CHECK (a > 0), b TEXT CONSTRAINT b_ok CHECK (b <> ''), CONSTRAINT ab UNIQUE (a, b), UNIQUE (b), CONSTRAINT u_a UNIQUE (a), CHECK (a < 10))", 'x.sql');
    assert.deepEqual(t.problems, []);
    assert.deepEqual(t.constraints, [
      { kind: 'check', sql: 'a > 0' },
      { kind: 'check', sql: "b <> ''", name: 'b_ok' },
      { kind: 'unique', columns: ['a', 'b'], name: 'ab' },
      { kind: 'unique', columns: ['a'], name: 'u_a' },
      { kind: 'check', sql: 'a < 10' },
    ]);
    assert.equal(t.columns.find((c) => c.name === 'b')!.unique, true);
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

describe('models: merging into a models file', () => {
  before(() => initModelGeneration());
  const [jobs] = createTablesIn('CREATE TABLE jobs (id INTEGER PRIMARY KEY, name TEXT NOT NULL)', 'x.sql');
  const gen = (existing: string) => {
    const r = generateModel(jobs, { modelsFile: MODELS_FILE, modelsFileText: existing, style: 'declarative' });
    if ('reason' in r) throw new Error(r.reason);
    return r.change.after;
  };

  it('a Base imported from elsewhere is the base; nothing is declared again', () => {
    const after = gen('from app.db import Base\n');
    assert.match(after, /^from app\.db import Base\nfrom sqlalchemy import Column, Integer, Text\n\n\nclass Job\(Base\):/);
    assert.doesNotMatch(after, /declarative_base/);
  });

  it('a 2.0 DeclarativeBase subclass is the base (the generated Column style runs on both)', () => {
    assert.match(gen('from sqlalchemy.orm import DeclarativeBase\n\n\nclass Base(DeclarativeBase):\n    pass\n'), /class Job\(Base\):/);
  });

  it('names already imported from sqlalchemy submodules are reused', () => {
    const after = gen('from sqlalchemy.schema import Column\nfrom sqlalchemy.orm import declarative_base\n\nBase = declarative_base()\n');
    assert.match(after, /^from sqlalchemy import Integer, Text\nfrom sqlalchemy\.schema import Column\n/);
  });

  it('a CRLF file stays CRLF; leading comments stay first', () => {
    const crlf = gen('from sqlalchemy import Column\r\nfrom sqlalchemy.orm import declarative_base\r\nBase = declarative_base()\r\n');
    assert.doesNotMatch(crlf.replace(/\r\n/g, ''), /[\r\n]/);
    assert.match(gen('#!/usr/bin/env python3\n# Models.\n'), /^#!\/usr\/bin\/env python3\n# Models\.\n\nfrom sqlalchemy import/);
  });

  it('only module-level names matter: a function\'s local `text` does not block, `global text` does', () => {
    const [t] = createTablesIn("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT DEFAULT '')", 'x.sql');
    const local = generateModel(t, { modelsFile: MODELS_FILE, modelsFileText: 'def f():\n    text = 1\n    from sqlalchemy import Column\n    return text\n', style: 'declarative' });
    assert.ok(!('reason' in local), 'reason' in local ? local.reason : '');
    const global = generateModel(t, { modelsFile: MODELS_FILE, modelsFileText: 'def f():\n    global text\n    text = 1\n', style: 'declarative' });
    assert.ok('reason' in global && global.reason.includes('`text` already names something else'));
  });

  it('the same table twice in a file: the second is refused as already mapped', async () => {
    const g = await generateAll({ name: 'twice', file: 'twice.sql', text: 'CREATE TABLE jobs (id INTEGER PRIMARY KEY);\nCREATE TABLE IF NOT EXISTS jobs (id INTEGER PRIMARY KEY);' });
    assert.equal(g.models.length, 1);
    assert.deepEqual(g.reasons, [`${MODELS_FILE} already maps jobs (class Job)`]);
  });
});

describe('models: resolveModel (existing class, else generated from the workspace DDL)', () => {
  before(() => initModelGeneration());
  const schema = { file: 'db/schema.sql', text: 'CREATE TABLE jobs (id INTEGER PRIMARY KEY, name TEXT NOT NULL);\nCREATE TABLE runs (id INTEGER PRIMARY KEY);\n' };
  const mapped = { file: 'app/orm.py', text: 'from sqlalchemy import Column, Integer\nfrom sqlalchemy.orm import declarative_base\nBase = declarative_base()\n\n\nclass Run(Base):\n    __tablename__ = "runs"\n    id = Column(Integer, primary_key=True)\n' };

  it('an existing class is used as it is, found by __tablename__ in any file', () => {
    const r = resolveModel('runs', [schema, mapped], { modelsFile: 'app/models.py', modelStyle: 'auto' });
    assert.ok(!('reason' in r));
    assert.equal(r.change, undefined);
    assert.deepEqual([r.model.className, r.model.file, r.model.module], ['Run', 'app/orm.py', 'app.orm']);
    assert.equal(modelsForTable('RUNS', [mapped]).length, 1);
  });

  it('no class: generated from the CREATE TABLE into the configured models file', () => {
    const r = resolveModel('jobs', [schema, mapped], { modelsFile: 'app/models.py', modelStyle: 'auto' });
    assert.ok(!('reason' in r), 'reason' in r ? r.reason : '');
    assert.equal(r.change?.file, 'app/models.py');
    assert.equal(r.change?.before, undefined);
    assert.equal(r.generatedFrom?.file, 'db/schema.sql');
    assert.deepEqual(modelsInPython(r.change!.after, 'app/models.py'), [r.model]);
  });

  it('auto style: SQLModel when the project imports sqlmodel; an existing models file is added to', () => {
    const models = { file: 'app/models.py', text: 'from sqlmodel import Field, SQLModel\n' };
    const r = resolveModel('jobs', [schema, models], { modelsFile: 'app/models.py', modelStyle: 'auto' });
    assert.ok(!('reason' in r), 'reason' in r ? r.reason : '');
    assert.equal(r.model.style, 'sqlmodel');
    assert.equal(r.change?.before, models.text);
  });

  it('no class and no DDL, or two different definitions: the reason', () => {
    const none = resolveModel('users', [schema], { modelsFile: 'app/models.py', modelStyle: 'auto' });
    assert.ok('reason' in none && /no mapped class .* and no CREATE TABLE for users/.test(none.reason));
    const other = { file: 'legacy.py', text: 'import sqlite3\nS = "CREATE TABLE jobs (id INTEGER PRIMARY KEY, title TEXT)"\n' };
    assert.equal(createTablesFor('jobs', [schema, other]).length, 2);
    const two = resolveModel('jobs', [schema, other], { modelsFile: 'app/models.py', modelStyle: 'auto' });
    assert.ok('reason' in two && /appears 2 times with different definitions \(db\/schema\.sql, legacy\.py\)/.test(two.reason), JSON.stringify(two));
  });

  it('a table that cannot be generated says why, naming the DDL file', () => {
    const r = resolveModel('t', [{ file: 'x.sql', text: 'CREATE TABLE t (id INTEGER PRIMARY KEY, tags TEXT[])' }], { modelsFile: 'm.py', modelStyle: 'declarative' });
    assert.ok('reason' in r && r.reason.startsWith('Generate model from CREATE TABLE (x.sql): column t.tags is an array'), JSON.stringify(r));
  });
});
