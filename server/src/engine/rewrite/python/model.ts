/**
 * Models for the Python repository rewrite (issue #5): the mapped classes a workspace already has
 * (modelRead.ts), the CREATE TABLE statements it holds (modelDdl.ts), and "Generate model from
 * CREATE TABLE": plan (modelPlan.ts) → render through `templates/models-py/` → merge into the
 * models file → verify (the file parses, and reading it back yields exactly the planned class).
 *
 *   CREATE TABLE jobs (id INTEGER PRIMARY KEY, name TEXT NOT NULL)
 *     → models.py:  from sqlalchemy import Column, Integer, Text
 *                   from sqlalchemy.orm import declarative_base
 *
 *                   Base = declarative_base()
 *
 *
 *                   class Job(Base):
 *                       __tablename__ = "jobs"
 *
 *                       id = Column(Integer, primary_key=True)
 *                       name = Column(Text, nullable=False)
 *
 * The declarative output uses `declarative_base()` and `Column(...)`, which SQLAlchemy 1.4 and 2.0
 * both run (`mapped_column` is 2.0 only). The engine does no I/O: the models file's current text
 * comes in, its new text goes out as a FileChange.
 */
import type { Node, Tree } from 'web-tree-sitter';
import { loadPython } from '../../detect/python/parser';
import { liquidFor, shippedTemplateDir, shippedTemplates } from '../templateSet';
import { pythonModuleOf, type FileChange, type PythonModel } from '../repositoryTypes';
import { isBinding } from './imports';
import { createTablesIn, type DdlTable } from './modelDdl';
import { dedupe, planModel, type ImportNeed, type ModelPlan } from './modelPlan';
import { modelsInPython, readMappedClassesOf, type ReadClass } from './modelRead';
import { parse, treeErrors } from './tree';

export { createTablesIn, type DdlColumn, type DdlTable } from './modelDdl';
export { modelsInPython, readMappedClasses, type ReadClass, type ReadColumn } from './modelRead';
export { classNameFor, mapType, planModel, type ModelPlan, type PlannedColumn } from './modelPlan';

export const MODEL_TEMPLATE_NAMES = ['file', 'declarative', 'sqlmodel', 'import', 'base'] as const;
export type ModelTemplateName = (typeof MODEL_TEMPLATE_NAMES)[number];
export type ModelTemplates = Record<ModelTemplateName, string>;

export const GENERATE_MODEL_TITLE = 'Generate model from CREATE TABLE';

/** Loads the tree-sitter Python grammar (idempotent); every function here needs it. */
export async function initModelGeneration(): Promise<void> {
  await loadPython();
}

/** The directory holding the shipped `templates/models-py/*.liquid`. */
export function defaultModelTemplateDir(): string {
  return shippedTemplateDir('models-py', 'declarative');
}

export function defaultModelTemplates(): ModelTemplates {
  return shippedTemplates('models-py', MODEL_TEMPLATE_NAMES);
}

/** Whether the project already uses SQLModel (any of the given files imports sqlmodel). */
export function usesSqlModel(files: Array<{ file: string; text: string }>): boolean {
  return files.some((f) => /\.pyi?$/i.test(f.file) && /^[ \t]*(from[ \t]+sqlmodel(\.\w+)*[ \t]+import\b|import[ \t]+sqlmodel\b)/m.test(f.text));
}

export interface GenerateModelOptions {
  /** Workspace-relative models file (`app/models.py`). */
  modelsFile: string;
  /** Its current text; undefined when it does not exist yet. */
  modelsFileText: string | undefined;
  style: 'declarative' | 'sqlmodel';
  templates?: ModelTemplates;
}

const STDLIB = new Set(['datetime', 'decimal', 'typing', 'uuid']);
/** Modules a name may already be imported from and still be the same object. */
const SAME_AS: Record<string, string[]> = {
  sqlalchemy: ['sqlalchemy', 'sqlalchemy.types', 'sqlalchemy.schema', 'sqlalchemy.sql', 'sqlalchemy.sql.expression', 'sqlalchemy.sql.schema', 'sqlalchemy.sql.sqltypes'],
  'sqlalchemy.orm': ['sqlalchemy.orm', 'sqlalchemy.ext.declarative'],
};

const localOf = (n: ImportNeed) => n.name ?? n.module.split('.')[0];

function importLine(engine: ReturnType<typeof liquidFor>, module: string, names: string[]): string {
  return engine.renderFileSync('import', { module, names }).trim();
}

function sortedModules(needs: ImportNeed[]): string[] {
  const mods = [...new Set(needs.map((n) => n.module))];
  return mods.sort((a, b) => Number(!STDLIB.has(a)) - Number(!STDLIB.has(b)) || (a < b ? -1 : a > b ? 1 : 0));
}

/** Import lines for a new file, stdlib first, then third-party, separated by a blank line. */
function importLines(engine: ReturnType<typeof liquidFor>, needs: ImportNeed[]): string[] {
  const out: string[] = [];
  let lastStd: boolean | undefined;
  for (const m of sortedModules(needs)) {
    const std = STDLIB.has(m);
    if (lastStd === true && !std) out.push('');
    lastStd = std;
    const plain = needs.filter((n) => n.module === m && !n.name);
    const names = needs.filter((n) => n.module === m && n.name).map((n) => n.name!).sort();
    if (plain.length) out.push(importLine(engine, m, []));
    if (names.length) out.push(importLine(engine, m, names));
  }
  return out;
}

function isTopLevel(st: Node, tree: Tree): boolean {
  return st.parent?.id === tree.rootNode.id;
}

function enclosing(n: Node, types: string[]): Node | undefined {
  let p: Node | null = n.parent;
  while (p && !types.includes(p.type)) p = p.parent;
  return p ?? undefined;
}

/** Scopes of their own: what they bind is not a module-level name (their own name is). */
const OWN_SCOPE = new Set(['function_definition', 'class_definition', 'lambda', 'list_comprehension', 'set_comprehension', 'dictionary_comprehension', 'generator_expression']);

/**
 * The identifiers binding each of `names` at module level (assignments, defs, classes, imports,
 * also under if/try/with/for), in one walk. A class added at module level sees only these: a
 * function's local `text` does not shadow the `text` the class body uses.
 */
function bindingsByName(tree: Tree, names: string[]): Map<string, Node[]> {
  const out = new Map<string, Node[]>(names.map((n) => [n, []]));
  const stack: Node[] = [tree.rootNode];
  while (stack.length) {
    const n = stack.pop()!;
    if (OWN_SCOPE.has(n.type)) {
      const name = n.childForFieldName('name');
      if (name && out.has(name.text)) out.get(name.text)!.push(name);
      continue;
    }
    if (n.type === 'identifier') {
      const list = out.get(n.text);
      if (list && (isBinding(n) || n.parent?.type === 'aliased_import' || (n.parent?.type === 'dotted_name' && n.parent.parent?.type?.startsWith('import')))) list.push(n);
      continue;
    }
    for (let i = n.namedChildCount - 1; i >= 0; i--) {
      const c = n.namedChild(i);
      if (c) stack.push(c);
    }
  }
  // `global text` in a function binds the module's name too (the statement stands for it).
  const text = tree.rootNode.text;
  for (const name of names) if (new RegExp(`^[ \\t]*global\\b[^\\n]*\\b${name}\\b`, 'm').test(text)) out.get(name)!.push(tree.rootNode);
  return out;
}

function bindingsOf(tree: Tree, name: string): Node[] {
  return bindingsByName(tree, [name]).get(name)!;
}

/** Which needs the file already imports, which it lacks, or a name it binds to something else. */
function importState(tree: Tree, needs: ImportNeed[], file: string): { missing: ImportNeed[] } | { reason: string } {
  const missing: ImportNeed[] = [];
  const all = bindingsByName(tree, needs.map(localOf));
  for (const need of needs) {
    const local = localOf(need);
    const binds = all.get(local)!;
    let ok = false;
    for (const b of binds) {
      const st = enclosing(b, ['import_from_statement', 'import_statement']);
      // `datetime` in `from datetime import …` is the module's name, not a binding.
      if (st?.type === 'import_from_statement' && enclosing(b, ['dotted_name', 'relative_import'])?.id === st.childForFieldName('module_name')?.id) continue;
      if (st?.type === 'import_from_statement' && st.childForFieldName('module_name')?.type === 'relative_import' && enclosing(b, ['relative_import'])) continue;
      let good = false;
      if (st && isTopLevel(st, tree)) {
        if (need.name && st.type === 'import_from_statement') {
          const mod = st.childForFieldName('module_name')?.text ?? '';
          const alias = b.parent?.type === 'aliased_import' ? b.parent : undefined;
          const imported = alias ? alias.childForFieldName('name')?.text : b.parent?.type === 'dotted_name' ? b.parent.text : b.text;
          good = (SAME_AS[need.module] ?? [need.module]).includes(mod) && imported === need.name;
        } else if (!need.name && st.type === 'import_statement') {
          good = st.namedChildren.some((c) => c?.type === 'dotted_name' && c.text === need.module);
        }
      }
      if (good) ok = true;
      else return { reason: `\`${local}\` already names something else in ${file}; the model needs ${need.name ? `${need.module}.${need.name}` : `the module ${need.module}`}` };
    }
    if (!ok) missing.push(need);
  }
  return { missing };
}

interface OffsetEdit {
  at: number;
  /** Characters replaced from `at` (0: an insertion). */
  remove?: number;
  text: string;
}

/** Edits adding the missing imports: merged into a top-level `from <module> import …`, else new lines after the leading imports. */
function importEdits(tree: Tree, text: string, missing: ImportNeed[], engine: ReturnType<typeof liquidFor>): OffsetEdit[] {
  const root = tree.rootNode;
  const edits: OffsetEdit[] = [];
  const fresh: ImportNeed[] = [];
  for (const m of sortedModules(missing)) {
    const needs = missing.filter((n) => n.module === m);
    const names = needs.filter((n) => n.name).map((n) => n.name!).sort();
    if (needs.some((n) => !n.name)) fresh.push({ module: m });
    if (!names.length) continue;
    const into = root.namedChildren.find((st): st is Node => !!st && st.type === 'import_from_statement' && st.childForFieldName('module_name')?.text === m && !st.namedChildren.some((c) => c?.type === 'wildcard_import'));
    const items = into ? into.namedChildren.filter((c): c is Node => !!c && c.id !== into.childForFieldName('module_name')?.id && (c.type === 'dotted_name' || c.type === 'aliased_import')) : [];
    const last = items[items.length - 1];
    if (!into || !last) {
      for (const n of names) fresh.push({ module: m, name: n });
      continue;
    }
    if (last.startPosition.row !== into.startPosition.row) {
      const lineStart = last.startIndex - last.startPosition.column;
      const indent = /^[ \t]*/.exec(text.slice(lineStart, last.startIndex))![0];
      const comma = last.nextSibling?.type === ',' ? last.nextSibling : null;
      edits.push({ at: (comma ?? last).endIndex, text: comma ? names.map((x) => `\n${indent}${x},`).join('') : names.map((x) => `,\n${indent}${x}`).join('') });
    } else {
      const present = items.map((c) => c.text);
      const sorted = items.every((c) => c.type === 'dotted_name') && present.every((x, i) => i === 0 || present[i - 1] <= x);
      if (sorted && !text.slice(items[0].startIndex, last.endIndex).includes('#')) {
        // A sorted one-line list stays sorted.
        edits.push({ at: items[0].startIndex, remove: last.endIndex - items[0].startIndex, text: [...present, ...names].sort().join(', ') });
      } else edits.push({ at: last.endIndex, text: names.map((x) => `, ${x}`).join('') });
    }
  }
  if (fresh.length) {
    let lastImport: Node | undefined;
    let docstring: Node | undefined;
    let headComment: Node | undefined;
    const leading: Array<{ node: Node; module: string }> = [];
    for (let i = 0; i < root.namedChildCount; i++) {
      const st = root.namedChild(i);
      if (!st) continue;
      if (st.type === 'comment') {
        // The comment lines the file starts with (shebang, licence) stay first.
        if (!lastImport && !docstring && (i === 0 || headComment) && st.startPosition.row === (headComment ? headComment.endPosition.row + 1 : 0)) headComment = st;
        continue;
      }
      if (i === 0 && st.type === 'expression_statement' && st.namedChild(0)?.type === 'string') {
        docstring = st;
        continue;
      }
      if (st.type === 'import_statement' || st.type === 'import_from_statement' || st.type === 'future_import_statement') {
        lastImport = st;
        const first = st.namedChild(0);
        const module = st.type === 'import_statement' ? (first?.type === 'aliased_import' ? first.childForFieldName('name')?.text : first?.text) ?? '' : st.childForFieldName('module_name')?.text ?? '';
        if (st.type !== 'future_import_statement') leading.push({ node: st, module });
        continue;
      }
      break;
    }
    const rootOf = (m: string) => m.split('.')[0];
    // Each new line goes before the first leading import of its group that sorts after it (isort's order), else after the imports.
    const before = new Map<number, string[]>();
    const atEnd: string[] = [];
    for (const m of sortedModules(fresh)) {
      const lines = importLines(engine, fresh.filter((n) => n.module === m)).filter(Boolean);
      const std = STDLIB.has(rootOf(m));
      const next = leading.find((l) => STDLIB.has(rootOf(l.module)) === std && l.module > m && !l.module.startsWith('.')) ?? (std ? leading.find((l) => !STDLIB.has(rootOf(l.module))) : undefined);
      if (next) before.set(next.node.startIndex, [...(before.get(next.node.startIndex) ?? []), ...lines]);
      else atEnd.push(...lines);
    }
    for (const [at, lines] of before) edits.push({ at, text: `${lines.join('\n')}\n` });
    if (atEnd.length) {
      const after = lastImport ?? docstring ?? headComment;
      if (after) edits.push({ at: after.endIndex, text: `\n${lastImport ? '' : '\n'}${atEnd.join('\n')}` });
      else edits.push({ at: 0, text: `${atEnd.join('\n')}\n${text.trim() ? '\n' : ''}` });
    }
  }
  return edits;
}

/** The class the new one derives from in this file: what its mapped classes use, else a module-level `Base`; undefined = add one. */
function declarativeBase(tree: Tree, existing: ReadClass[], file: string): { base: string; flask: boolean } | { add: true } | { reason: string } {
  const mappedNames = new Set(existing.map((c) => c.className));
  for (const c of existing) {
    if (c.style === 'sqlmodel') continue;
    const first = c.bases.find((b) => !b.includes('='));
    if (first && !mappedNames.has(first)) return { base: first, flask: c.style === 'flask' };
  }
  const binds = bindingsOf(tree, 'Base');
  if (!binds.length) return { add: true };
  const top = binds.filter((b) => {
    let p: Node | null = b;
    while (p && p.parent && p.parent.id !== tree.rootNode.id) p = p.parent;
    return !!p && ['expression_statement', 'class_definition', 'import_from_statement', 'import_statement', 'decorated_definition'].includes(p.type) && !enclosing(b, ['function_definition']);
  });
  if (top.length) return { base: 'Base', flask: false };
  return { reason: `\`Base\` is bound only inside a function in ${file}; the declarative base could not be found` };
}

function applyOffsetEdits(text: string, edits: OffsetEdit[]): string {
  let out = text;
  for (const e of [...edits].sort((a, b) => b.at - a.at)) out = out.slice(0, e.at) + e.text + out.slice(e.at + (e.remove ?? 0));
  return out;
}

const collapse = (s: string) => s.replace(/\s+/g, ' ').trim();

/** The read-back class equals the plan: name, table, columns (attribute, column, key, every argument), table args. */
function readBackMatches(r: ReadClass, plan: ModelPlan, base: string): string | undefined {
  if (r.table !== plan.table) return `the rendered class maps ${r.table}, not ${plan.table}`;
  if (plan.style === 'sqlmodel' ? r.style !== 'sqlmodel' : r.style === 'sqlmodel') return 'the rendered class is not of the requested style';
  if (plan.style === 'declarative' && collapse(r.bases.join(', ')) !== base) return `the rendered class derives from ${r.bases.join(', ')}, not ${base}`;
  const args = collapse(r.extras.__table_args__ ?? '');
  if (args !== collapse(plan.tableArgs || '')) return `the rendered __table_args__ is ${args || 'missing'}, planned ${plan.tableArgs || 'none'}`;
  const extra = Object.keys(r.extras).filter((k) => k !== '__table_args__');
  if (extra.length) return `the rendered class sets ${extra.join(', ')}`;
  if (r.columns.length !== plan.columns.length) return `the rendered class maps ${r.columns.length} columns, planned ${plan.columns.length}`;
  for (let i = 0; i < plan.columns.length; i++) {
    const p = plan.columns[i];
    const c = r.columns[i];
    const where = `column ${plan.table}.${p.column}`;
    if (c.attr !== p.attr || c.column !== p.column || c.primaryKey !== p.primaryKey) return `${where} reads back as ${c.attr} → ${c.column}${c.primaryKey ? ' (primary key)' : ''}`;
    const want = p.args.map(collapse);
    if (plan.style === 'declarative') {
      if (c.call.split('.').pop() !== 'Column' || JSON.stringify(c.args) !== JSON.stringify(want)) return `${where} reads back as ${c.call}(${c.args.join(', ')})`;
    } else {
      const field = [...p.fieldArgs, `sa_column=Column(${p.args.join(', ')})`].map(collapse);
      if (c.call !== 'Field' || JSON.stringify(c.saColumnArgs) !== JSON.stringify(want) || JSON.stringify(c.args) !== JSON.stringify(field) || c.annotation !== collapse(p.annotation)) return `${where} reads back as ${c.annotation}: ${c.call}(${c.args.join(', ')})`;
    }
  }
  return undefined;
}

/** The model for a table, rendered and merged into the models file and verified, or why it is not offered. Never throws. */
export function generateModel(table: DdlTable, options: GenerateModelOptions): { model: PythonModel; change: FileChange } | { reason: string } {
  try {
    const text = options.modelsFileText;
    // A CRLF file is edited as LF and written back with its own line ends.
    if (text !== undefined && text.includes('\r\n') && !/\r(?!\n)|(?<!\r)\n/.test(text)) {
      const r = generate(table, { ...options, modelsFileText: text.replace(/\r\n/g, '\n') });
      return 'reason' in r ? r : { model: r.model, change: { file: r.change.file, before: text, after: r.change.after.replace(/\n/g, '\r\n') } };
    }
    return generate(table, options);
  } catch (e) {
    return { reason: `model generation failed: ${(e as Error)?.message ?? String(e)}` };
  }
}

function generate(table: DdlTable, options: GenerateModelOptions): { model: PythonModel; change: FileChange } | { reason: string } {
  const plan = planModel(table, options.style);
  if ('reason' in plan) return plan;
  const templates = options.templates ?? defaultModelTemplates();
  const engine = liquidFor(templates, MODEL_TEMPLATE_NAMES);
  const file = options.modelsFile;
  const before = options.modelsFileText;
  const creating = before === undefined || !before.trim();

  let existing: ReadClass[] = [];
  let tree: Tree | undefined;
  try {
    if (!creating) {
      const t = parse(before);
      if ('reason' in t) return t;
      tree = t;
      if (treeErrors(tree)) return { reason: `${file} does not parse; the model is not added to it` };
      existing = readMappedClassesOf(tree);
      const sameTable = existing.find((c) => c.table === plan.table);
      if (sameTable) return { reason: `${file} already maps ${plan.table} (class ${sameTable.className})` };
      const sameName = existing.find((c) => c.className === plan.className);
      if (sameName) return { reason: `${file} already has a class ${plan.className} (mapping ${sameName.table})` };
      if (bindingsOf(tree, plan.className).length) return { reason: `\`${plan.className}\` already names something else in ${file}` };
    }

    let base = 'SQLModel';
    let flask = false;
    let addBase = false;
    const needs = [...plan.imports];
    if (plan.style === 'declarative') {
      const b = tree ? declarativeBase(tree, existing, file) : { add: true as const };
      if ('reason' in b) return b;
      if ('add' in b) {
        addBase = true;
        base = 'Base';
        needs.push({ module: 'sqlalchemy.orm', name: 'declarative_base' });
      } else {
        base = b.base;
        flask = b.flask;
      }
    }
    const allNeeds = dedupe(needs);
    const classText = engine.renderFileSync(plan.style, { className: plan.className, base, tableLiteral: plan.tableLiteral, tableArgs: plan.tableArgs, columns: plan.columns }).trim();
    const baseLine = addBase ? engine.renderFileSync('base', { name: 'Base' }).trim() : false;

    let after: string;
    if (creating || !tree) {
      after = engine.renderFileSync('file', { imports: importLines(engine, allNeeds), base: baseLine, classes: [classText] });
      after = after.replace(/^\n+/, '').replace(/\n*$/, '\n');
    } else {
      const state = importState(tree, allNeeds, file);
      if ('reason' in state) return state;
      const edits = importEdits(tree, before!, state.missing, engine);
      const body = `${baseLine ? `${baseLine}\n\n\n` : ''}${classText}\n`;
      const kept = before!.replace(/\s+$/, '');
      after = `${applyOffsetEdits(kept, edits)}\n\n\n${body}`;
    }

    const verified = verify(after, plan, base, existing, allNeeds, file);
    if (verified) return { reason: `the generated model is not offered: ${verified}` };
    const model: PythonModel = {
      className: plan.className,
      table: plan.table,
      file,
      module: pythonModuleOf(file),
      style: plan.style === 'sqlmodel' ? 'sqlmodel' : flask ? 'flask' : 'declarative',
      columns: plan.columns.map((c) => ({ attr: c.attr, column: c.column, primaryKey: c.primaryKey })),
    };
    return { model, change: { file, before, after } };
  } finally {
    tree?.delete();
  }
}

/** Why the new text is not what was planned; undefined when it is. */
function verify(after: string, plan: ModelPlan, base: string, existing: ReadClass[], needs: ImportNeed[], file: string): string | undefined {
  const t = parse(after);
  if ('reason' in t) return t.reason;
  try {
    if (treeErrors(t)) return `${file} would not parse`;
    const classes = readMappedClassesOf(t);
    if (classes.length !== existing.length + 1) return `${file} would map ${classes.length} classes, expected ${existing.length + 1}`;
    const mine = classes.filter((c) => c.className === plan.className);
    if (mine.length !== 1) return `${file} would hold ${mine.length} classes named ${plan.className}`;
    const others = classes.filter((c) => c !== mine[0]);
    if (JSON.stringify(others) !== JSON.stringify(existing)) return `the classes already in ${file} would change`;
    const diff = readBackMatches(mine[0], plan, base);
    if (diff) return diff;
    const state = importState(t, needs, file);
    if ('reason' in state) return state.reason;
    if (state.missing.length) return `${state.missing.map((n) => n.name ?? n.module).join(', ')} would not be imported`;
    return undefined;
  } finally {
    t.delete();
  }
}

/** `public.jobs` / `"Jobs"` → `jobs` (unquoted SQL names compare case-insensitively). */
function tableKey(name: string): string {
  const last = name.split('.').pop() ?? name;
  return last.replace(/^["`\[]|["`\]]$/g, '').toLowerCase();
}

/** The mapped classes of `table` in the workspace's Python files, by `__tablename__` (file order). */
export function modelsForTable(table: string, files: Array<{ file: string; text: string }>): PythonModel[] {
  const key = tableKey(table);
  const out: PythonModel[] = [];
  for (const f of files) {
    if (!/\.py$/i.test(f.file) || !/__tablename__|SQLModel/.test(f.text)) continue;
    for (const m of modelsInPython(f.text, f.file)) if (tableKey(m.table) === key) out.push(m);
  }
  return out;
}

/** The CREATE TABLE statements of `table` in the workspace (.sql, and SQL strings in .py/.ts/.js). */
export function createTablesFor(table: string, files: Array<{ file: string; text: string }>): DdlTable[] {
  const key = tableKey(table);
  const schema = table.includes('.') ? table.split('.').slice(0, -1).join('.').toLowerCase() : undefined;
  const out: DdlTable[] = [];
  for (const f of files) {
    if (!/create\s/i.test(f.text)) continue;
    for (const t of createTablesIn(f.text, f.file)) if (tableKey(t.table) === key && (schema === undefined || (t.schema ?? '').toLowerCase() === schema)) out.push(t);
  }
  return out;
}

export interface ResolveModelOptions {
  /** Workspace-relative file for generated models (`rewrite.repository.python.models`). */
  modelsFile: string;
  /** `auto`: SQLModel when any given Python file imports sqlmodel. */
  modelStyle: 'auto' | 'declarative' | 'sqlmodel';
  templates?: ModelTemplates;
}

/**
 * The model a Python repository method for `table` uses: an existing mapped class (no change), or
 * one generated from the table's CREATE TABLE into the models file (with the change), or why
 * there is none. `files` are the workspace files the host can give (the models file among them
 * when it exists). Never throws.
 */
export function resolveModel(table: string, files: Array<{ file: string; text: string }>, options: ResolveModelOptions): { model: PythonModel; change?: FileChange; generatedFrom?: DdlTable } | { reason: string } {
  try {
    const existing = modelsForTable(table, files);
    if (existing.length) return { model: existing[0] };
    const ddl = createTablesFor(table, files);
    if (!ddl.length) return { reason: `no mapped class (__tablename__ = "${tableKey(table)}") and no CREATE TABLE for ${table} in the workspace` };
    const shapes = new Set(ddl.map((t) => JSON.stringify({ c: t.columns, k: t.primaryKey, p: t.problems, d: t.dialect })));
    if (shapes.size > 1) return { reason: `CREATE TABLE ${table} appears ${ddl.length} times with different definitions (${[...new Set(ddl.map((t) => t.file))].join(', ')}); no model is generated from a guess` };
    const style = options.modelStyle === 'auto' ? (usesSqlModel(files) ? 'sqlmodel' : 'declarative') : options.modelStyle;
    const modelsFileText = files.find((f) => f.file === options.modelsFile)?.text;
    const r = generateModel(ddl[0], { modelsFile: options.modelsFile, modelsFileText, style, templates: options.templates });
    if ('reason' in r) return { reason: `${GENERATE_MODEL_TITLE} (${ddl[0].file}): ${r.reason}` };
    return { model: r.model, change: r.change, generatedFrom: ddl[0] };
  } catch (e) {
    return { reason: `model lookup failed: ${(e as Error)?.message ?? String(e)}` };
  }
}
