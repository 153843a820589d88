/**
 * The only way the model tests touch model generation (the shape of ./check.ts):
 *
 *   generateAll(source)                        every CREATE TABLE of the source, generated in order
 *                                              into one models file (starting from `existing`)
 *   checkModels(source, expected)              every table offered; the file equals `expected`,
 *                                              parses, and reads back as the existing classes plus
 *                                              one class per table, with the table's columns
 *   checkModelsNotApplicable(source, reason)   no table offered; each reason mentions `reason`
 *
 * Fixtures: test/fixtures/rewrite/models-py (README.md there).
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { PythonModel } from '../../../server/src/engine/rewrite/repositoryTypes';
import { createTablesIn, generateModel, initModelGeneration, modelsInPython, usesSqlModel, type DdlTable, type ModelTemplates } from '../../../server/src/engine/rewrite/python/model';
import { pythonSyntaxErrors } from './check';

export const MODELS_FIXTURES = path.join(__dirname, '..', '..', '..', '..', 'test', 'fixtures', 'rewrite', 'models-py');
export const MODELS_FILE = 'app/models.py';

export interface ModelSource {
  /** The case's name (`sqlite-basic`). */
  name: string;
  /** The DDL source: `<case>.sql` or `<case>.schema.py`. */
  file: string;
  text: string;
  /** `<case>.existing.py`: the models file before; undefined = created. */
  existing?: string;
}

export interface Generated {
  tables: DdlTable[];
  models: PythonModel[];
  reasons: string[];
  /** The models file after every offered model; undefined when none was. */
  text?: string;
}

/** The fixture cases in the folder: pairs (with `<case>.models.py`) and `na-` cases. */
export function modelCases(dir = MODELS_FIXTURES): { pairs: ModelSource[]; notApplicable: Array<ModelSource & { reason: string }> } {
  const files = fs.readdirSync(dir).sort();
  const pairs: ModelSource[] = [];
  const notApplicable: Array<ModelSource & { reason: string }> = [];
  for (const f of files) {
    const m = /^(.*?)(\.sql|\.schema\.py)$/.exec(f);
    if (!m) continue;
    const name = m[1];
    const text = fs.readFileSync(path.join(dir, f), 'utf8');
    const ex = path.join(dir, `${name}.existing.py`);
    const src: ModelSource = { name, file: f, text, existing: fs.existsSync(ex) ? fs.readFileSync(ex, 'utf8') : undefined };
    if (name.startsWith('na-')) {
      const reason = /^(?:--|#) not applicable: (.*)$/m.exec(text.split('\n')[0])?.[1]?.trim();
      if (!reason) throw new Error(`${f}: the first line must be "-- not applicable: <reason>" (or "# …" in .py)`);
      notApplicable.push({ ...src, reason });
    } else pairs.push(src);
  }
  return { pairs, notApplicable };
}

/** SQLModel when the case says so (`sqlmodel-*`) or its models file already imports sqlmodel. */
export function styleOf(src: ModelSource): 'declarative' | 'sqlmodel' {
  return src.name.startsWith('sqlmodel') || usesSqlModel([{ file: MODELS_FILE, text: src.existing ?? '' }]) ? 'sqlmodel' : 'declarative';
}

export async function generateAll(src: ModelSource, templates?: ModelTemplates): Promise<Generated> {
  await initModelGeneration();
  const tables = createTablesIn(src.text, src.file);
  let current = src.existing;
  const models: PythonModel[] = [];
  const reasons: string[] = [];
  let offered = false;
  for (const t of tables) {
    const r = generateModel(t, { modelsFile: MODELS_FILE, modelsFileText: current, style: styleOf(src), templates });
    if ('reason' in r) {
      reasons.push(r.reason);
      continue;
    }
    assert.equal(r.change.file, MODELS_FILE);
    assert.equal(r.change.before, current, 'the change starts from the text it was given');
    current = r.change.after;
    models.push(r.model);
    offered = true;
  }
  return { tables, models, reasons, text: offered ? current : undefined };
}

export async function checkModels(src: ModelSource, expected: string, templates?: ModelTemplates): Promise<Generated> {
  const g = await generateAll(src, templates);
  assert.ok(g.tables.length > 0, 'the source holds no CREATE TABLE');
  assert.deepEqual(g.reasons, [], 'every table gets a model');
  assert.equal(g.text, expected);
  assert.deepEqual(await pythonSyntaxErrors(g.text!), [], 'the models file must parse');
  const read = modelsInPython(g.text!, MODELS_FILE);
  const before = src.existing ? modelsInPython(src.existing, MODELS_FILE) : [];
  assert.deepEqual(read, [...before, ...g.models], 'the file reads back as the classes it had plus the generated ones');
  for (let i = 0; i < g.tables.length; i++) {
    const t = g.tables[i];
    const m = g.models[i];
    assert.equal(m.table, t.table);
    assert.deepEqual(m.columns.map((c) => c.column), t.columns.map((c) => c.name), `${t.table}: the model maps every column, in order`);
    assert.deepEqual(m.columns.filter((c) => c.primaryKey).map((c) => c.column).sort(), [...t.primaryKey].sort(), `${t.table}: the primary key`);
  }
  return g;
}

export async function checkModelsNotApplicable(src: ModelSource & { reason: string }): Promise<void> {
  const g = await generateAll(src);
  assert.ok(g.tables.length > 0, 'the fixture holds no CREATE TABLE');
  assert.equal(g.models.length, 0, `a model was offered: ${g.models.map((m) => m.className).join(', ')}`);
  for (const r of g.reasons) assert.ok(r.includes(src.reason), `reason "${r}" does not mention "${src.reason}"`);
}
