/**
 * A raw statement's plan (../plan.ts) → a repository method over a mapped class, and back.
 *
 *   SELECT id, name FROM jobs WHERE id = ?   (read: one, model Job)
 *     → corePlan: { kind: 'select', table: 'jobs', columns: [id, name], where: [id == job_id], read: 'one', params: ['job_id'] }
 *     → renderMethod: def get_by_id(self, job_id):
 *                         """sql: SELECT id, name FROM jobs WHERE id = ? | one"""
 *                         stmt = (
 *                             select(Job.id, Job.name)
 *                             .where(Job.id == job_id)
 *                         )
 *                         return self.session.execute(stmt).first()
 *     → readMethod (tree-sitter) gives the same core plan back, or the method is not offered.
 *
 * The core plan holds database column names, never source text; rendering maps them to the
 * model's attributes and reading back maps the attributes to columns again, so a template (or a
 * hand edit of a reused method) that changes the statement is caught by comparing plans.
 */
import type { Node } from 'web-tree-sitter';
import type { Dialect } from '../../types';
import { placeholderKeys, type Cond, type Plan, type Value } from '../plan';
import type { PythonModel } from '../repositoryTypes';
import { liquidFor, shippedTemplates } from '../templateSet';
import { parse, treeErrors } from './tree';

export const PY_REPOSITORY_TEMPLATE_NAMES = ['file', 'import', 'select', 'insert', 'update', 'delete', 'callsite'] as const;
export type PyRepositoryTemplateName = (typeof PY_REPOSITORY_TEMPLATE_NAMES)[number];
export type PythonRepositoryTemplates = Record<PyRepositoryTemplateName, string>;

export function defaultPythonRepositoryTemplates(): PythonRepositoryTemplates {
  return shippedTemplates('repository-py', PY_REPOSITORY_TEMPLATE_NAMES);
}

export const engineFor = (t: PythonRepositoryTemplates) => liquidFor(t, PY_REPOSITORY_TEMPLATE_NAMES);

/** How the method hands back the result. */
export type Read = 'one' | 'all' | 'mappings-one' | 'mappings-all' | 'scalar' | 'rowcount' | 'none';

export const READ_TAIL: Record<Read, string | false> = {
  one: '.first()',
  all: '.all()',
  'mappings-one': '.mappings().first()',
  'mappings-all': '.mappings().all()',
  scalar: '.scalar()',
  rowcount: '.rowcount',
  none: false,
};

export type CVal = { param: string } | { lit: string | number | boolean | null };
type Cmp = '==' | '!=' | '<' | '>' | '<=' | '>=';
export type CCond =
  | { op: 'cmp'; col: string; cmp: Cmp; val: CVal }
  | { op: 'colcmp'; col: string; cmp: Cmp; other: string }
  | { op: 'like' | 'not_like' | 'ilike' | 'not_ilike'; col: string; val: CVal }
  | { op: 'in' | 'not_in'; col: string; vals: CVal[] }
  | { op: 'between'; col: string; low: CVal; high: CVal }
  | { op: 'null'; col: string; not: boolean }
  | { op: 'fn'; fn: 'lower' | 'upper'; col: string; cmp: Cmp; val: CVal; valueFn: boolean }
  | { op: 'and' | 'or'; items: CCond[] };
export type CColumn = { col: string; label?: string } | { agg: 'count' | 'sum' | 'min' | 'max' | 'avg'; arg: string; label?: string };

export interface CorePlan {
  kind: 'select' | 'insert' | 'update' | 'delete';
  table: string;
  columns: CColumn[];
  distinct: boolean;
  /** A conjunction (one `.where(a, b)`). */
  where: CCond[];
  orderBy: Array<{ col: string; dir: 'asc' | 'desc' }>;
  limit?: CVal;
  offset?: CVal;
  /** insert / update values, in statement order. */
  values: Array<{ col: string; val: CVal }>;
  returning: string[];
  read: Read;
  /** UPDATE only: a SET item whose value is None is left out (the dynamic UPDATE shape). */
  optional?: boolean;
  /** The method's parameters, in the order the original statement binds them. */
  params: string[];
}

class Refused extends Error {}
function refuse(reason: string): never {
  throw new Refused(reason);
}

const PY_KEYWORDS = new Set('False None True and as assert async await break class continue def del elif else except finally for from global if import in is lambda nonlocal not or pass raise return try while with yield self session stmt select insert update delete func and_ or_ k v'.split(' '));

/** `jobs` → `job`, `job_runs` → `job_run`, `categories` → `category`, `statuses` → `status`. */
export function singular(table: string): string {
  const t = table.split('.').pop()!.toLowerCase();
  if (/ies$/.test(t)) return t.slice(0, -3) + 'y';
  if (/(ss|us|sh|ch|x)es$/.test(t)) return t.slice(0, -2);
  if (/ss$|us$|is$/.test(t)) return t;
  if (/s$/.test(t)) return t.slice(0, -1);
  return t;
}

export function pascal(s: string): string {
  return s.split(/[^A-Za-z0-9]+/).filter(Boolean).map((p) => p[0].toUpperCase() + p.slice(1)).join('');
}

export function repositoryClassName(table: string): string {
  return `${pascal(singular(table))}Repository`;
}

/** The statement kinds and reads the planner feeds in; anything else is refused with the reason. */
export function corePlan(plan: Plan, keys: string[], read: Read, model: PythonModel, dialect: Dialect): { ok: true; core: CorePlan } | { ok: false; reason: string } {
  try {
    return { ok: true, core: convert(plan, keys, read, model, dialect) };
  } catch (e) {
    if (e instanceof Refused) return { ok: false, reason: e.message };
    return { ok: false, reason: `unexpected statement shape (${(e as Error).message})` };
  }
}

function convert(plan: Plan, keys: string[], read: Read, model: PythonModel, dialect: Dialect): CorePlan {
  const byColumn = new Map(model.columns.map((c) => [c.column.toLowerCase(), c]));
  const tableName = plan.table.name;
  if (tableName.toLowerCase() !== model.table.toLowerCase()) refuse(`the mapped class ${model.className} is for "${model.table}", not "${tableName}"`);
  const alias = plan.table.alias;
  const col = (name: string): string => {
    const parts = name.split('.');
    if (parts.length > 2) refuse(`the column ${name}`);
    if (parts.length === 2 && parts[0].toLowerCase() !== tableName.toLowerCase() && parts[0] !== alias) refuse(`the column ${name} of another table`);
    const c = byColumn.get(parts[parts.length - 1].toLowerCase());
    if (!c) refuse(`${model.className} maps no column "${parts[parts.length - 1]}" of ${tableName}`);
    return c.column;
  };
  const names = new Map<string, string>();
  const used = new Set<string>();
  const single = singular(tableName);
  const nameFor = (key: string, hint: string): string => {
    const have = names.get(key);
    if (have) return have;
    let base = /^[A-Za-z_]\w*$/.test(key) && !/^\d+$/.test(key) ? key : hint;
    base = base.toLowerCase().replace(/[^a-z0-9_]/g, '_');
    if (base === 'id') base = `${single}_id`;
    if (PY_KEYWORDS.has(base) || /^\d/.test(base)) base = `${base}_`;
    let n = base;
    for (let i = 2; used.has(n); i++) n = `${base}_${i}`;
    used.add(n);
    names.set(key, n);
    return n;
  };
  const val = (v: Value, hint: string): CVal => {
    if (v.kind === 'param') return { param: nameFor(v.key, hint) };
    if (v.kind === 'literal') {
      if (typeof v.value === 'number' && !Number.isSafeInteger(v.value)) refuse(`the number ${v.value} (only whole numbers are carried over as literals)`);
      if (typeof v.value === 'string' && /[\\\n\r\u0000-\u001f]/.test(v.value)) refuse('a string literal with backslashes or control characters');
      return { lit: v.value };
    }
    refuse(v.kind === 'now' ? 'now() / CURRENT_TIMESTAMP (the database clock) has no repository form here' : 'an interval expression');
  };
  const CMP: Record<string, Cmp> = { '=': '==', '<>': '!=', '<': '<', '>': '>', '<=': '<=', '>=': '>=' };
  const cond = (c: Cond): CCond => {
    switch (c.kind) {
      case 'cmp': {
        const column = col(c.column);
        if (c.value.kind === 'literal' && c.value.value === null) refuse('a comparison with NULL');
        if (CMP[c.op]) return { op: 'cmp', col: column, cmp: CMP[c.op], val: val(c.value, column) };
        if (c.op.includes('ilike') && dialect !== 'postgresql') refuse('ILIKE outside PostgreSQL');
        const op = c.op.replace(' ', '_') as 'like' | 'not_like' | 'ilike' | 'not_ilike';
        return { op, col: column, val: val(c.value, column) };
      }
      case 'colcmp':
        if (!CMP[c.op]) refuse('LIKE between two columns');
        return { op: 'colcmp', col: col(c.column), cmp: CMP[c.op], other: col(c.other) };
      case 'in': {
        const column = col(c.column);
        if (!c.values.length) refuse('an empty IN list');
        return { op: c.not ? 'not_in' : 'in', col: column, vals: c.values.map((v) => val(v, column)) };
      }
      case 'between': {
        if (c.not) refuse('NOT BETWEEN');
        const column = col(c.column);
        return { op: 'between', col: column, low: val(c.low, `min_${column}`), high: val(c.high, `max_${column}`) };
      }
      case 'null':
        return { op: 'null', col: col(c.column), not: c.not };
      case 'fncmp': {
        if (!CMP[c.op]) refuse(`${c.fn}() with LIKE`);
        const column = col(c.column);
        return { op: 'fn', fn: c.fn, col: column, cmp: CMP[c.op], val: val(c.value, column), valueFn: c.valueFn };
      }
      case 'bool':
        refuse('a bare boolean column as a condition (its SQL form depends on the column type)');
      case 'and':
      case 'or':
        return { op: c.kind, items: c.items.map(cond) };
    }
  };
  const where = (w: Cond | undefined): CCond[] => (!w ? [] : w.kind === 'and' ? w.items.map(cond) : [cond(w)]);
  const base = { table: tableName, columns: [] as CColumn[], distinct: false, where: [] as CCond[], orderBy: [] as CorePlan['orderBy'], values: [] as CorePlan['values'], returning: [] as string[], read, params: [] as string[] };
  let out: CorePlan;
  switch (plan.kind) {
    case 'select': {
      if (plan.joins.length) refuse('a JOIN (repository methods are generated for single-table statements)');
      if (plan.groupBy.length || plan.having.length) refuse('GROUP BY / HAVING (repository methods are generated for plain single-table statements)');
      const columns: CColumn[] = [];
      for (const c of plan.columns) {
        if (c.kind === 'star') {
          if (c.table && c.table !== tableName && c.table !== alias) refuse(`${c.table}.*`);
          for (const m of model.columns) columns.push({ col: m.column });
        } else if (c.kind === 'column') columns.push({ col: col(c.name), label: c.alias });
        else {
          if (c.distinct) refuse(`${c.fn}(DISTINCT …)`);
          columns.push({ agg: c.fn, arg: c.arg === '*' ? '*' : col(c.arg), label: c.alias });
        }
      }
      out = { ...base, kind: 'select', columns, distinct: plan.distinct, where: where(plan.where), orderBy: plan.orderBy.map((o) => ({ col: col(o.column), dir: o.dir })) };
      if (plan.limit) out.limit = val(plan.limit, 'limit');
      if (plan.offset) out.offset = val(plan.offset, 'offset');
      break;
    }
    case 'insert': {
      if (plan.rows.length !== 1) refuse('a multi-row INSERT');
      if (plan.conflict) refuse('INSERT … ON CONFLICT / OR IGNORE / ON DUPLICATE KEY');
      const values = plan.columns.map((c, i) => ({ col: col(c), val: val(plan.rows[0][i], col(c)) }));
      out = { ...base, kind: 'insert', values, returning: returning(plan.returning) };
      break;
    }
    case 'update': {
      const values = plan.set.map((s) => {
        if (s.value.kind === 'inc') refuse(`SET ${s.column} = ${s.column} ± … (an increment)`);
        return { col: col(s.column), val: val(s.value, col(s.column)) };
      });
      out = { ...base, kind: 'update', values, where: where(plan.where), returning: returning(plan.returning) };
      break;
    }
    case 'delete':
      out = { ...base, kind: 'delete', where: where(plan.where), returning: returning(plan.returning) };
      break;
  }
  function returning(r: string[] | undefined): string[] {
    if (!r) return [];
    if (dialect !== 'postgresql') refuse('RETURNING outside PostgreSQL (SQLAlchemy 1.4 has no RETURNING for this dialect)');
    return r.flatMap((c) => (c === '*' ? model.columns.map((m) => m.column) : [col(c)]));
  }
  if (out.returning.length && (read === 'rowcount' || read === 'none')) {
    // fine: the rows are simply not read
  }
  if (!out.returning.length && out.kind !== 'select' && read !== 'rowcount' && read !== 'none') refuse(`a ${out.kind.toUpperCase()} without RETURNING has no rows to fetch`);
  const missing = keys.filter((k) => !names.has(k));
  if (missing.length) refuse(`the placeholder ${missing[0]} is not in a supported position`);
  out.params = keys.map((k) => names.get(k)!);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Naming and fingerprints

/** `SELECT  id FROM jobs WHERE id = %s` → `SELECT id FROM jobs WHERE id = ? | one`. */
export function fingerprintOf(sql: string, read: Read): string {
  let out = '';
  let last = 0;
  for (const p of placeholderKeys(sql)) {
    out += sql.slice(last, p.start) + (/^\d+$/.test(p.key) ? '?' : `:${p.key}`);
    last = p.end;
  }
  out += sql.slice(last);
  return `${out.replace(/\s+/g, ' ').trim().replace(/;$/, '').trim()} | ${read}`;
}

function condColumns(c: CCond, out: string[]): void {
  if ('items' in c) {
    for (const i of c.items) condColumns(i, out);
  } else if (!out.includes(c.col)) out.push(c.col);
}

/** `get_by_id`, `list_by_status`, `list_all`, `count_by_status`, `create`, `update_status_by_id`, `delete_by_id`. */
export function methodBaseName(core: CorePlan): string {
  const cols: string[] = [];
  for (const c of core.where) condColumns(c, cols);
  const by = cols.length ? `_by_${cols.join('_and_')}` : '';
  switch (core.kind) {
    case 'select': {
      const agg = core.columns.length === 1 && 'agg' in core.columns[0] ? core.columns[0] : undefined;
      if (agg) return `${agg.agg === 'count' ? 'count' : `${agg.agg}_${agg.arg === '*' ? 'all' : agg.arg}`}${by}`;
      if (core.read === 'one' || core.read === 'mappings-one' || core.read === 'scalar') return cols.length ? `get${by}` : 'get_first';
      return cols.length ? `list${by}` : 'list_all';
    }
    case 'insert':
      return 'create';
    case 'update':
      return `update_${core.values.map((v) => v.col).join('_and_')}${by || '_all'}`;
    case 'delete':
      return cols.length ? `delete${by}` : 'delete_all';
  }
}

// ---------------------------------------------------------------------------------------------
// Rendering

function pyString(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

function litText(v: string | number | boolean | null): string {
  if (v === null) return 'None';
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'number') return String(v);
  return pyString(v);
}

export interface RenderContext {
  model: PythonModel;
  /** The sqlalchemy names the method uses (filled while rendering). */
  names: Set<string>;
}

function attrOf(ctx: RenderContext, column: string): string {
  const c = ctx.model.columns.find((m) => m.column.toLowerCase() === column.toLowerCase());
  if (!c) refuse(`${ctx.model.className} maps no column "${column}"`);
  return `${ctx.model.className}.${c.attr}`;
}

function valText(v: CVal): string {
  return 'param' in v ? v.param : litText(v.lit);
}

function condText(c: CCond, ctx: RenderContext): string {
  switch (c.op) {
    case 'cmp': return `${attrOf(ctx, c.col)} ${c.cmp} ${valText(c.val)}`;
    case 'colcmp': return `${attrOf(ctx, c.col)} ${c.cmp} ${attrOf(ctx, c.other)}`;
    case 'like': case 'not_like': case 'ilike': case 'not_ilike': return `${attrOf(ctx, c.col)}.${c.op}(${valText(c.val)})`;
    case 'in': case 'not_in': return `${attrOf(ctx, c.col)}.${c.op === 'in' ? 'in_' : 'not_in'}([${c.vals.map(valText).join(', ')}])`;
    case 'between': return `${attrOf(ctx, c.col)}.between(${valText(c.low)}, ${valText(c.high)})`;
    case 'null': return `${attrOf(ctx, c.col)}.${c.not ? 'is_not' : 'is_'}(None)`;
    case 'fn': {
      ctx.names.add('func');
      const v = c.valueFn ? `func.${c.fn}(${valText(c.val)})` : valText(c.val);
      return `func.${c.fn}(${attrOf(ctx, c.col)}) ${c.cmp} ${v}`;
    }
    case 'and': case 'or':
      ctx.names.add(`${c.op}_`);
      return `${c.op}_(${c.items.map((i) => condText(i, ctx)).join(', ')})`;
  }
}

function columnText(c: CColumn, ctx: RenderContext, mappings: boolean): string {
  let t: string;
  let label = c.label;
  if ('agg' in c) {
    ctx.names.add('func');
    t = `func.${c.agg}(${c.arg === '*' ? '' : attrOf(ctx, c.arg)})`;
    if (c.arg === '*' && c.agg !== 'count') refuse(`${c.agg}(*)`);
    if (mappings && !label) refuse(`the unnamed ${c.agg}() column is read by name: its key differs between the driver and SQLAlchemy; add AS <name>`);
  } else {
    t = attrOf(ctx, c.col);
    // Read by name, the key must stay the database column's name.
    if (mappings && !label && t.split('.')[1] !== c.col) label = c.col;
  }
  return label ? `${t}.label(${pyString(label)})` : t;
}

export interface RenderedMethod {
  text: string;
  names: string[];
}

/** The method's text (indented for a class body) through the kind's template. */
export function renderMethod(core: CorePlan, name: string, fingerprint: string, model: PythonModel, templates: PythonRepositoryTemplates): RenderedMethod {
  const ctx: RenderContext = { model, names: new Set([core.kind]) };
  const mappings = core.read.startsWith('mappings');
  const cls = model.className;
  const steps: string[] = [];
  let head: string;
  const where = () => {
    if (core.where.length) steps.push(`.where(${core.where.map((c) => condText(c, ctx)).join(', ')})`);
  };
  switch (core.kind) {
    case 'select':
      head = `select(${core.columns.map((c) => columnText(c, ctx, mappings)).join(', ')})`;
      // count(*) names no column: the table must be given (a WHERE alone may not name one).
      if (core.columns.some((c) => 'agg' in c && c.arg === '*')) steps.push(`.select_from(${cls})`);
      if (core.distinct) steps.push('.distinct()');
      where();
      if (core.orderBy.length) steps.push(`.order_by(${core.orderBy.map((o) => `${attrOf(ctx, o.col)}${o.dir === 'desc' ? '.desc()' : ''}`).join(', ')})`);
      if (core.limit) steps.push(`.limit(${valText(core.limit)})`);
      if (core.offset) steps.push(`.offset(${valText(core.offset)})`);
      break;
    case 'insert':
      head = `insert(${cls})`;
      steps.push(`.values(${core.values.map((v) => `${attrOf(ctx, v.col).split('.')[1]}=${valText(v.val)}`).join(', ')})`);
      break;
    case 'update':
      head = `update(${cls})`;
      where();
      if (core.optional) steps.push(`.values(**{k: v for k, v in {${core.values.map((v) => `${pyString(attrOf(ctx, v.col).split('.')[1])}: ${valText(v.val)}`).join(', ')}}.items() if v is not None})`);
      else steps.push(`.values(${core.values.map((v) => `${attrOf(ctx, v.col).split('.')[1]}=${valText(v.val)}`).join(', ')})`);
      steps.push('.execution_options(synchronize_session=False)');
      break;
    case 'delete':
      head = `delete(${cls})`;
      where();
      steps.push('.execution_options(synchronize_session=False)');
      break;
  }
  if (core.returning.length) steps.push(`.returning(${core.returning.map((c) => columnText({ col: c }, ctx, mappings)).join(', ')})`);
  const text = engineFor(templates).renderFileSync(core.kind, { name, params: core.params, fingerprint, head, steps, result: READ_TAIL[core.read] });
  return { text: text.replace(/^(\s*\n)+/, '').replace(/\s+$/, ''), names: [...ctx.names] };
}

// ---------------------------------------------------------------------------------------------
// Reading a method back

export interface ReadMethod {
  name: string;
  fingerprint?: string;
  core?: CorePlan;
  /** Why the method does not read back to a core plan. */
  problem?: string;
}

const TAIL_READ = new Map<string, Read>(Object.entries(READ_TAIL).filter(([, t]) => t !== false).map(([r, t]) => [t as string, r as Read]));

/** The expression inside brackets (comments in them are layout, not meaning). */
function unparen(n: Node): Node {
  let x = n;
  for (;;) {
    if (x.type !== 'parenthesized_expression') return x;
    const inner = x.namedChildren.filter((c): c is Node => !!c && c.type !== 'comment');
    if (inner.length !== 1) return x;
    x = inner[0];
  }
}

function named(n: Node | null | undefined): Node[] {
  return n ? n.namedChildren.filter((c): c is Node => !!c && c.type !== 'comment') : [];
}

function argsOf(call: Node): Node[] {
  const a = call.childForFieldName('arguments');
  return a ? a.namedChildren.filter((c): c is Node => !!c && c.type !== 'comment') : [];
}

function readLiteral(n: Node): string | number | boolean | null | { bad: true } {
  const x = unparen(n);
  if (x.type === 'none') return null;
  if (x.type === 'true') return true;
  if (x.type === 'false') return false;
  if (x.type === 'integer' && /^\d+$/.test(x.text)) return Number(x.text);
  if (x.type === 'unary_operator' && /^-\s*\d+$/.test(x.text)) return Number(x.text.replace(/\s+/g, ''));
  if (x.type === 'string' && /^"(?:[^"\\]|\\[\\"])*"$/.test(x.text)) return x.text.slice(1, -1).replace(/\\(["\\])/g, '$1');
  return { bad: true };
}

/** Reads a method (a `function_definition` in a class) back into its core plan. */
export function readMethod(fn: Node, model: PythonModel | undefined): ReadMethod {
  const name = fn.childForFieldName('name')?.text ?? '';
  const body = fn.childForFieldName('body');
  const stmts = body ? body.namedChildren.filter((c): c is Node => !!c && c.type !== 'comment') : [];
  const doc = stmts[0]?.type === 'expression_statement' && stmts[0].namedChild(0)?.type === 'string' ? stmts[0].namedChild(0)!.text : undefined;
  const fp = doc ? /^"""sql: (.*)"""$/s.exec(doc)?.[1] : undefined;
  const out: ReadMethod = { name, fingerprint: fp };
  if (!fp) return out;
  if (!model) return { ...out, problem: 'no mapped class' };
  try {
    out.core = readCore(fn, stmts.slice(1), model);
  } catch (e) {
    out.problem = e instanceof Refused ? e.message : `unexpected: ${(e as Error).message}`;
  }
  return out;
}

function readCore(fn: Node, stmts: Node[], model: PythonModel): CorePlan {
  const params = (fn.childForFieldName('parameters')?.namedChildren ?? []).filter((c): c is Node => !!c).map((p) => (p.type === 'identifier' ? p.text : refuse('a parameter with a default, annotation or star')));
  if (params[0] !== 'self') refuse('the first parameter is not self');
  const paramNames = params.slice(1);
  if (stmts.length !== 2) refuse('the method body is not `stmt = …` and one execute');
  const assign = stmts[0].type === 'expression_statement' ? stmts[0].namedChild(0) : null;
  if (assign?.type !== 'assignment' || assign.childForFieldName('left')?.text !== 'stmt') refuse('the method does not build `stmt`');
  // The result read: `return self.session.execute(stmt)<tail>` or `self.session.execute(stmt)`.
  const last = stmts[1];
  let execText: string;
  if (last.type === 'return_statement') execText = last.namedChild(0)?.text.replace(/\s+/g, '') ?? '';
  else if (last.type === 'expression_statement') execText = `!${last.text.replace(/\s+/g, '')}`;
  else refuse('the method does not end with the execute');
  let read: Read | undefined;
  if (execText === '!self.session.execute(stmt)') read = 'none';
  else if (execText.startsWith('self.session.execute(stmt)')) read = TAIL_READ.get(execText.slice('self.session.execute(stmt)'.length));
  if (!read) refuse('the result is read in an unknown way');
  const attrs = new Map(model.columns.map((c) => [c.attr, c.column]));
  const cls = model.className;
  const column = (n: Node): string => {
    const x = unparen(n);
    if (x.type !== 'attribute' || x.childForFieldName('object')?.text !== cls) refuse(`\`${x.text}\` is not a column of ${cls}`);
    const c = attrs.get(x.childForFieldName('attribute')!.text);
    if (!c) refuse(`${x.text} is not mapped`);
    return c;
  };
  const value = (n: Node): CVal => {
    const x = unparen(n);
    if (x.type === 'identifier' && paramNames.includes(x.text)) return { param: x.text };
    const lit = readLiteral(x);
    if (lit !== null && typeof lit === 'object') refuse(`the value \`${x.text}\``);
    return { lit };
  };
  const method = (n: Node): { obj: Node; name: string; args: Node[] } | undefined => {
    const x = unparen(n);
    if (x.type !== 'call') return undefined;
    const f = x.childForFieldName('function');
    if (f?.type !== 'attribute') return undefined;
    return { obj: f.childForFieldName('object')!, name: f.childForFieldName('attribute')!.text, args: argsOf(x) };
  };
  const CMPS = new Set(['==', '!=', '<', '>', '<=', '>=']);
  const cond = (n: Node): CCond => {
    const x = unparen(n);
    if (x.type === 'comparison_operator') {
      const kids = x.namedChildren.filter((c): c is Node => !!c);
      const ops = x.children.filter((c) => c && !c.isNamed).map((c) => c!.text);
      if (kids.length !== 2 || ops.length !== 1 || !CMPS.has(ops[0])) refuse(`the condition \`${x.text}\``);
      const cmp = ops[0] as Cmp;
      const [l, r] = kids;
      const lf = unparen(l).type === 'call' ? unparen(l) : undefined;
      if (lf) {
        const fname = lf.childForFieldName('function')?.text ?? '';
        const m = /^func\.(lower|upper)$/.exec(fname);
        const a = argsOf(lf);
        if (!m || a.length !== 1) refuse(`the condition \`${x.text}\``);
        const rf = unparen(r).type === 'call' ? unparen(r) : undefined;
        if (rf && (rf.childForFieldName('function')?.text !== fname || argsOf(rf).length !== 1)) refuse(`the condition \`${x.text}\``);
        return { op: 'fn', fn: m[1] as 'lower' | 'upper', col: column(a[0]), cmp, val: value(rf ? argsOf(rf)[0] : r), valueFn: !!rf };
      }
      const rr = unparen(r);
      if (rr.type === 'attribute' && rr.childForFieldName('object')?.text === cls) return { op: 'colcmp', col: column(l), cmp, other: column(rr) };
      return { op: 'cmp', col: column(l), cmp, val: value(r) };
    }
    if (x.type === 'call') {
      const f = x.childForFieldName('function');
      if (f?.type === 'identifier' && (f.text === 'and_' || f.text === 'or_')) return { op: f.text === 'and_' ? 'and' : 'or', items: argsOf(x).map(cond) };
      const m = method(x);
      if (m) {
        const col = column(m.obj);
        switch (m.name) {
          case 'like': case 'not_like': case 'ilike': case 'not_ilike':
            if (m.args.length !== 1) break;
            return { op: m.name, col, val: value(m.args[0]) };
          case 'in_': case 'not_in': {
            const list = m.args.length === 1 ? unparen(m.args[0]) : undefined;
            if (list?.type !== 'list') break;
            return { op: m.name === 'in_' ? 'in' : 'not_in', col, vals: list.namedChildren.filter((c): c is Node => !!c).map(value) };
          }
          case 'between':
            if (m.args.length !== 2) break;
            return { op: 'between', col, low: value(m.args[0]), high: value(m.args[1]) };
          case 'is_': case 'is_not':
            if (m.args.length !== 1 || unparen(m.args[0]).type !== 'none') break;
            return { op: 'null', col, not: m.name === 'is_not' };
        }
      }
    }
    refuse(`the condition \`${x.text}\``);
  };
  const selectColumn = (n: Node): CColumn => {
    let x = unparen(n);
    let label: string | undefined;
    const lm = method(x);
    if (lm?.name === 'label') {
      const l = lm.args.length === 1 ? readLiteral(lm.args[0]) : undefined;
      if (typeof l !== 'string') refuse(`the label in \`${x.text}\``);
      label = l;
      x = unparen(lm.obj);
    }
    if (x.type === 'call') {
      const fname = x.childForFieldName('function')?.text ?? '';
      const m = /^func\.(count|sum|min|max|avg)$/.exec(fname);
      const a = argsOf(x);
      if (!m || a.length > 1 || (!a.length && m[1] !== 'count')) refuse(`the column \`${x.text}\``);
      const agg: CColumn = { agg: m[1] as 'count', arg: a.length ? column(a[0]) : '*' };
      return label ? { ...agg, label } : agg;
    }
    const c: CColumn = { col: column(x) };
    return label ? { ...c, label } : c;
  };
  // The chain: head(...).step(...)...
  const steps: Array<{ name: string; args: Node[]; node: Node }> = [];
  let cur = unparen(assign.childForFieldName('right')!);
  for (let i = 0; i < 100; i++) {
    const m = method(cur);
    if (!m) break;
    steps.unshift({ name: m.name, args: m.args, node: cur });
    cur = unparen(m.obj);
  }
  if (cur.type !== 'call' || cur.childForFieldName('function')?.type !== 'identifier') refuse('the statement does not start with select()/insert()/update()/delete()');
  const kind = cur.childForFieldName('function')!.text;
  const headArgs = argsOf(cur);
  const core: CorePlan = { kind: 'select', table: model.table, columns: [], distinct: false, where: [], orderBy: [], values: [], returning: [], read, params: paramNames };
  if (kind === 'select') {
    core.columns = headArgs.map(selectColumn);
  } else if (kind === 'insert' || kind === 'update' || kind === 'delete') {
    core.kind = kind;
    if (headArgs.length !== 1 || headArgs[0].text !== cls) refuse(`${kind}() of something other than ${cls}`);
  } else refuse(`the statement starts with ${kind}()`);
  let syncOff = false;
  for (const s of steps) {
    switch (s.name) {
      case 'where':
        core.where.push(...s.args.map(cond));
        break;
      case 'select_from':
        if (core.kind !== 'select' || s.args.length !== 1 || s.args[0].text !== cls || !core.columns.some((c) => 'agg' in c && c.arg === '*')) refuse('select_from(…) other than the class of a count(*)');
        break;
      case 'distinct':
        if (s.args.length || core.kind !== 'select') refuse('distinct(…)');
        core.distinct = true;
        break;
      case 'order_by':
        for (const a of s.args) {
          const m = method(a);
          if (m && (m.name === 'desc' || m.name === 'asc') && !m.args.length) core.orderBy.push({ col: column(m.obj), dir: m.name });
          else core.orderBy.push({ col: column(a), dir: 'asc' });
        }
        break;
      case 'limit': case 'offset':
        if (s.args.length !== 1) refuse(`${s.name}(…)`);
        core[s.name] = value(s.args[0]);
        break;
      case 'values':
        if (s.args.length === 1 && s.args[0].type === 'dictionary_splat') {
          // `**{k: v for k, v in {"name": name, …}.items() if v is not None}`
          const comp = unparen(s.args[0].namedChild(0)!);
          const dict = comp.type === 'dictionary_comprehension' ? named(comp).find((c) => c.type === 'for_in_clause')?.childForFieldName('right') : undefined;
          const inner = dict?.type === 'call' ? dict.childForFieldName('function')?.childForFieldName('object') : undefined;
          if (!dict || !inner || inner.type !== 'dictionary' || comp.text.replace(inner.text, 'D').replace(/\s+/g, '') !== '{k:vfork,vinD.items()ifvisnotNone}') refuse('values(**…) other than the non-None items of a dict');
          for (const pair of named(inner)) {
            const key = pair.type === 'pair' ? readLiteral(pair.childForFieldName('key')!) : undefined;
            const c = typeof key === 'string' ? attrs.get(key) : undefined;
            if (!c) refuse(`values(**{…}): \`${pair.text}\` is not a mapped attribute of ${cls}`);
            const v = value(pair.childForFieldName('value')!);
            if (!('param' in v)) refuse('values(**{…}) with a literal');
            core.values.push({ col: c, val: v });
          }
          core.optional = true;
          break;
        }
        for (const a of s.args) {
          if (a.type !== 'keyword_argument') refuse('values() with positional arguments');
          const attr = a.childForFieldName('name')!.text;
          const c = attrs.get(attr);
          if (!c) refuse(`values(${attr}=…): not a mapped attribute of ${cls}`);
          core.values.push({ col: c, val: value(a.childForFieldName('value')!) });
        }
        break;
      case 'returning':
        core.returning.push(...s.args.map((a) => {
          const c = selectColumn(a);
          if (!('col' in c)) refuse('an aggregate in RETURNING');
          return c.col;
        }));
        break;
      case 'execution_options':
        if (s.args.length !== 1 || s.args[0].text.replace(/\s+/g, '') !== 'synchronize_session=False') refuse('execution options other than synchronize_session=False');
        syncOff = true;
        break;
      default:
        refuse(`the step .${s.name}()`);
    }
  }
  if ((core.kind === 'update' || core.kind === 'delete') && !syncOff) refuse(`${core.kind}() without synchronize_session=False`);
  return core;
}

/** The plan as compared: labels that only restate the column are dropped. */
export function coreKey(core: CorePlan, model: PythonModel): string {
  void model;
  const norm = { ...core, columns: core.columns.map((c) => ('col' in c && c.label === c.col ? { col: c.col } : c)) };
  return canonical(norm);
}

/** JSON with object keys sorted and undefined members left out. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v).filter((k) => (v as Record<string, unknown>)[k] !== undefined).sort().map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

/** Parses a method's text on its own (inside a probe class) and reads it back. */
export function readRenderedMethod(text: string, model: PythonModel): ReadMethod | { reason: string } {
  const tree = parse(`class __Probe:\n${text}\n`);
  if ('reason' in tree) return tree;
  try {
    if (treeErrors(tree)) return { reason: 'the rendered method does not parse' };
    const cls = tree.rootNode.namedChild(0);
    const fns = (cls?.childForFieldName('body')?.namedChildren ?? []).filter((c): c is Node => !!c && c.type === 'function_definition');
    if (fns.length !== 1) return { reason: 'the template did not render exactly one method' };
    return readMethod(fns[0], model);
  } finally {
    tree.delete();
  }
}
