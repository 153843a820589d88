/**
 * Mapped classes in one Python file, read from its tree-sitter tree (no evaluation):
 *
 *   class Job(Base):                         → { className: 'Job', table: 'jobs', style: 'declarative',
 *       __tablename__ = "jobs"                    columns: [{ attr: 'id', column: 'id', primaryKey: true },
 *       id = Column(Integer, primary_key=True)              { attr: 'title', column: 'name', primaryKey: false }] }
 *       title = Column("name", String(200))
 *
 * Shapes: declarative `Column(...)` (also `sa.Column`, `db.Column`), 2.0 `x: Mapped[int] =
 * mapped_column(...)` and a bare `x: Mapped[int]`, Flask-SQLAlchemy (`db.Model`), SQLModel
 * (`class X(SQLModel, table=True)`: annotated fields, `Field(...)`, `sa_column=Column(...)`;
 * without `__tablename__` the table is the lower-cased class name). Other classes need a literal
 * `__tablename__`; `__abstract__ = True` classes are skipped. `readMappedClasses` also keeps each
 * column's call and argument texts, which model generation reads back to verify what it rendered.
 */
import type { Node, Tree } from 'web-tree-sitter';
import { decodeString } from '../../detect/python/strings';
import { pythonModuleOf, type PythonModel } from '../repositoryTypes';
import { parse } from './tree';

export interface ReadColumn {
  attr: string;
  column: string;
  primaryKey: boolean;
  /** Callee text of the column's value (`Column`, `mapped_column`, `Field`); '' for a bare annotation. */
  call: string;
  /** Argument source texts of that call, whitespace collapsed. */
  args: string[];
  /** The annotation text (SQLModel / Mapped), whitespace collapsed; '' when none. */
  annotation: string;
  /** For `Field(sa_column=Column(...))`: that Column's argument texts. */
  saColumnArgs?: string[];
}

export interface ReadClass {
  className: string;
  table: string;
  style: PythonModel['style'];
  /** Superclass argument texts (`Base`, `SQLModel`, `table=True`). */
  bases: string[];
  /** Other assignments in the body by name (`__table_args__` → its value text). */
  extras: Record<string, string>;
  columns: ReadColumn[];
}

const COLUMN_CALLS = new Set(['Column', 'mapped_column']);
const NOT_COLUMNS = new Set(['relationship', 'Relationship', 'column_property', 'synonym', 'deferred', 'composite', 'association_proxy', 'hybrid_property', 'backref', 'dynamic_loader', 'query_expression']);

const collapse = (s: string) => s.replace(/\s+/g, ' ').trim();

function lastName(text: string): string {
  return text.split('.').pop() ?? text;
}

function stringLiteral(node: Node | null | undefined): string | undefined {
  if (!node) return undefined;
  if (node.type === 'concatenated_string') {
    const parts = node.namedChildren.map((c) => stringLiteral(c));
    return parts.every((p) => p !== undefined) ? parts.join('') : undefined;
  }
  if (node.type !== 'string') return undefined;
  const s = decodeString(node);
  if (s.hasInterpolation || s.prefix.includes('b')) return undefined;
  return s.pieces.map((p) => ('text' in p ? p.text : '')).join('');
}

function callArgs(call: Node): Node[] {
  const a = call.childForFieldName('arguments');
  return a ? a.namedChildren.filter((c): c is Node => !!c && c.type !== 'comment') : [];
}

function keyword(args: Node[], name: string): Node | undefined {
  for (const a of args) if (a.type === 'keyword_argument' && a.childForFieldName('name')?.text === name) return a.childForFieldName('value') ?? undefined;
  return undefined;
}

function isTrue(n: Node | undefined): boolean {
  return n?.type === 'true';
}

/** `Column("db_name", ...)` → db_name; otherwise the attribute. */
function columnNameOf(args: Node[], attr: string): string {
  const first = args[0];
  const s = first && first.type !== 'keyword_argument' ? stringLiteral(first) : undefined;
  const named = keyword(args, 'name');
  return s ?? stringLiteral(named) ?? attr;
}

function classBody(cls: Node): Node[] {
  const body = cls.childForFieldName('body');
  return body ? body.namedChildren.filter((c): c is Node => !!c) : [];
}

/** An assignment statement of the class body: target name, annotation, value. */
function assignmentOf(st: Node): { name: string; type?: Node; value?: Node } | undefined {
  if (st.type !== 'expression_statement') return undefined;
  const a = st.namedChild(0);
  if (!a || a.type !== 'assignment') return undefined;
  const left = a.childForFieldName('left');
  if (!left || left.type !== 'identifier') return undefined;
  return { name: left.text, type: a.childForFieldName('type') ?? undefined, value: a.childForFieldName('right') ?? undefined };
}

function readClass(cls: Node, sqlmodelNames: Set<string>): ReadClass | undefined {
  const className = cls.childForFieldName('name')?.text;
  if (!className) return undefined;
  const supers = cls.childForFieldName('superclasses');
  const bases = supers ? supers.namedChildren.filter((c): c is Node => !!c && c.type !== 'comment') : [];
  const baseTexts = bases.map((b) => collapse(b.text));
  const positional = bases.filter((b) => b.type !== 'keyword_argument');
  const sqlmodel = positional.some((b) => sqlmodelNames.has(b.text)) && bases.some((b) => b.type === 'keyword_argument' && b.childForFieldName('name')?.text === 'table' && isTrue(b.childForFieldName('value') ?? undefined));
  const flask = positional.some((b) => /^\w+\.Model$/.test(b.text));
  let table: string | undefined;
  let abstract = false;
  const extras: Record<string, string> = {};
  const columns: ReadColumn[] = [];
  for (const st of classBody(cls)) {
    const a = assignmentOf(st);
    if (!a) continue;
    if (a.name === '__tablename__') {
      table = stringLiteral(a.value);
      if (table === undefined) return undefined;
      continue;
    }
    if (a.name === '__abstract__') {
      abstract = isTrue(a.value);
      continue;
    }
    if (a.name.startsWith('__') && a.name.endsWith('__')) {
      if (a.value) extras[a.name] = collapse(a.value.text);
      continue;
    }
    const annotation = a.type ? collapse(a.type.text) : '';
    if (/^(typing\.)?ClassVar\b/.test(annotation)) continue;
    const v = a.value;
    if (v && v.type === 'call') {
      const fn = v.childForFieldName('function');
      const callee = fn ? collapse(fn.text) : '';
      const name = lastName(callee);
      const args = callArgs(v);
      if (COLUMN_CALLS.has(name)) {
        columns.push({ attr: a.name, column: columnNameOf(args, a.name), primaryKey: isTrue(keyword(args, 'primary_key')), call: callee, args: args.map((x) => collapse(x.text)), annotation });
        continue;
      }
      if (sqlmodel && name === 'Field') {
        const sa = keyword(args, 'sa_column');
        if (sa && sa.type === 'call' && lastName(sa.childForFieldName('function')?.text ?? '') === 'Column') {
          const saArgs = callArgs(sa);
          columns.push({ attr: a.name, column: columnNameOf(saArgs, a.name), primaryKey: isTrue(keyword(saArgs, 'primary_key')), call: callee, args: args.map((x) => collapse(x.text)), annotation, saColumnArgs: saArgs.map((x) => collapse(x.text)) });
        } else if (!sa) {
          columns.push({ attr: a.name, column: a.name, primaryKey: isTrue(keyword(args, 'primary_key')), call: callee, args: args.map((x) => collapse(x.text)), annotation });
        }
        continue;
      }
      if (NOT_COLUMNS.has(name)) continue;
    }
    // A bare annotation: a column in SQLModel, and in 2.0 declarative when it is `Mapped[...]`.
    if (sqlmodel && annotation && !/^(sqlmodel\.)?Relationship\b/.test(v?.text ?? '')) {
      if (!v || v.type !== 'call') columns.push({ attr: a.name, column: a.name, primaryKey: false, call: '', args: [], annotation });
      continue;
    }
    if (!sqlmodel && !v && /^(\w+\.)*Mapped\[/.test(annotation) && !/^(\w+\.)*Mapped\[\s*(List|list|Set|set|typing\.List)\b/.test(annotation)) {
      columns.push({ attr: a.name, column: a.name, primaryKey: false, call: '', args: [], annotation });
    }
  }
  if (abstract) return undefined;
  if (table === undefined) {
    if (!sqlmodel) return undefined;
    table = className.toLowerCase();
  }
  return { className, table, style: sqlmodel ? 'sqlmodel' : flask ? 'flask' : 'declarative', bases: baseTexts, extras, columns };
}

/** Local names bound to sqlmodel's `SQLModel` (`from sqlmodel import SQLModel`, `sqlmodel.SQLModel`). */
function sqlmodelNamesOf(root: Node): Set<string> {
  const out = new Set<string>(['SQLModel']);
  for (const st of root.namedChildren) {
    if (!st) continue;
    if (st.type === 'import_statement') {
      for (const c of st.namedChildren) {
        if (!c) continue;
        if (c.type === 'dotted_name' && c.text === 'sqlmodel') out.add('sqlmodel.SQLModel');
        if (c.type === 'aliased_import' && c.childForFieldName('name')?.text === 'sqlmodel') out.add(`${c.childForFieldName('alias')?.text}.SQLModel`);
      }
    }
    if (st.type === 'import_from_statement' && st.childForFieldName('module_name')?.text === 'sqlmodel') {
      for (const c of st.namedChildren) {
        if (c?.type === 'aliased_import' && c.childForFieldName('name')?.text === 'SQLModel') out.add(c.childForFieldName('alias')?.text ?? 'SQLModel');
      }
    }
  }
  return out;
}

/** Module-level classes (also under `if`/`try` blocks and decorators). */
function topClasses(root: Node): Node[] {
  const out: Node[] = [];
  const stack: Node[] = [...root.namedChildren].filter((c): c is Node => !!c).reverse();
  while (stack.length) {
    const n = stack.pop()!;
    if (n.type === 'class_definition') out.push(n);
    else if (n.type === 'decorated_definition') {
      const d = n.childForFieldName('definition');
      if (d?.type === 'class_definition') out.push(d);
    } else if (['if_statement', 'try_statement', 'else_clause', 'elif_clause', 'except_clause', 'finally_clause', 'block'].includes(n.type)) {
      for (let i = n.namedChildCount - 1; i >= 0; i--) {
        const c = n.namedChild(i);
        if (c) stack.push(c);
      }
    }
  }
  return out;
}

/** Mapped classes of a parsed tree, with the details verification reads. */
export function readMappedClassesOf(tree: Tree): ReadClass[] {
  const root = tree.rootNode;
  const names = sqlmodelNamesOf(root);
  const out: ReadClass[] = [];
  for (const cls of topClasses(root)) {
    const r = readClass(cls, names);
    if (r) out.push(r);
  }
  return out;
}

/** Mapped classes of a text; [] when it cannot be parsed. */
export function readMappedClasses(text: string): ReadClass[] {
  const t = parse(text);
  if ('reason' in t) return [];
  try {
    return readMappedClassesOf(t);
  } finally {
    t.delete();
  }
}

/** Mapped classes defined in one Python file. Never throws. */
export function modelsInPython(text: string, file: string): PythonModel[] {
  try {
    const module = pythonModuleOf(file);
    return readMappedClasses(text).map((c) => ({
      className: c.className,
      table: c.table,
      file,
      module,
      style: c.style,
      columns: c.columns.map((col) => ({ attr: col.attr, column: col.column, primaryKey: col.primaryKey })),
    }));
  } catch {
    return [];
  }
}
