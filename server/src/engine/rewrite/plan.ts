/**
 * SQL text → a plain statement plan (no Knex, no source text): table, columns and aliases,
 * joins, a where tree, grouping, having, order, limit/offset, returning, values/sets, with
 * every parameter mapped back to the placeholder it came from.
 *
 *   planSql("SELECT id, name FROM jobs WHERE status = $1 ORDER BY id DESC LIMIT 10", 'postgresql')
 *     → { ok: true, plan: { kind: 'select', table: { name: 'jobs' }, columns: [id, name],
 *          where: { kind: 'cmp', column: 'status', op: '=', value: { kind: 'param', key: '1' } },
 *          orderBy: [{ column: 'id', dir: 'desc' }], limit: { kind: 'literal', value: 10 } } }
 *
 * Anything outside the supported subset returns `{ ok: false, reason }`; the reason is what
 * the hover shows. The plan is rendered by `chain.ts` + templates and checked by `verify.ts`.
 */
import { Parser } from 'node-sql-parser';
import { lexSql } from '../sql/lexer';
import { DYNAMIC_PLACEHOLDER_PREFIX } from '../sql/analyze';
import type { Dialect } from '../types';

/** Placeholders are swapped for numbers from here up before parsing, so every grammar accepts them. */
export const PARAM_SENTINEL = 987_654_000;

export type Value =
  | { kind: 'literal'; value: string | number | boolean | null }
  /** `key` is `$n`'s n, the 1-based position of `?`/`%s`, or the name of `:name`/`@name`. */
  | { kind: 'param'; key: string }
  | { kind: 'now' }
  /** `now() - interval '30 days'`: fixed SQL text with no value in it (rendered as `db.raw(…)`). */
  | { kind: 'rawsql'; sql: string };

export type CmpOp = '=' | '<>' | '<' | '>' | '<=' | '>=' | 'like' | 'not like' | 'ilike' | 'not ilike';

export type Cond =
  | { kind: 'cmp'; column: string; op: CmpOp; value: Value }
  | { kind: 'colcmp'; column: string; op: CmpOp; other: string }
  | { kind: 'in'; column: string; values: Value[]; not: boolean }
  | { kind: 'between'; column: string; low: Value; high: Value; not: boolean }
  | { kind: 'null'; column: string; not: boolean }
  /** `lower(email) = lower($1)`: a case function on the column, and on the value when `valueFn`. */
  | { kind: 'fncmp'; fn: CaseFn; column: string; op: CmpOp; value: Value; valueFn: boolean }
  /** A boolean column used as a condition: `WHERE active`, `WHERE NOT disabled`. */
  | { kind: 'bool'; column: string; not: boolean }
  | { kind: 'and' | 'or'; items: Cond[] };

export type AggFn = 'count' | 'sum' | 'min' | 'max' | 'avg';

/** Functions a comparison may wrap around its column and value. */
export const CASE_FNS = ['lower', 'upper'] as const;
export type CaseFn = (typeof CASE_FNS)[number];

export type SelectColumn =
  | { kind: 'star'; table?: string }
  | { kind: 'column'; name: string; alias?: string }
  | { kind: 'agg'; fn: AggFn; arg: string; distinct: boolean; alias?: string };

export interface TableRef {
  name: string;
  alias?: string;
}

export interface Join {
  type: 'inner' | 'left';
  table: TableRef;
  /** Column equalities joined by AND. */
  on: Array<{ left: string; op: CmpOp; right: string }>;
}

export interface HavingCond {
  fn: AggFn;
  arg: string;
  distinct: boolean;
  op: CmpOp;
  value: Value;
}

export interface SelectPlan {
  kind: 'select';
  table: TableRef;
  distinct: boolean;
  columns: SelectColumn[];
  joins: Join[];
  where?: Cond;
  groupBy: string[];
  having: HavingCond[];
  orderBy: Array<{ column: string; dir: 'asc' | 'desc' }>;
  limit?: Value;
  offset?: Value;
}

export type SetValue = Value | { kind: 'inc'; column: string; sign: 1 | -1; amount: Value };

export interface InsertPlan {
  kind: 'insert';
  table: TableRef;
  columns: string[];
  rows: Value[][];
  returning?: string[];
  conflict?: { target: string[]; action: 'ignore' | 'merge'; merge?: string[] };
}

export interface UpdatePlan {
  kind: 'update';
  table: TableRef;
  set: Array<{ column: string; value: SetValue }>;
  where?: Cond;
  returning?: string[];
}

export interface DeletePlan {
  kind: 'delete';
  table: TableRef;
  where?: Cond;
  returning?: string[];
}

export type Plan = SelectPlan | InsertPlan | UpdatePlan | DeletePlan;

export type PlanResult = { ok: true; plan: Plan; params: string[]; /** What the schema mapping changed (empty: nothing). */ mapped: string[] } | { ok: false; reason: string };

class NotPlannable extends Error {}
function fail(reason: string): never {
  throw new NotPlannable(reason);
}

const PARSER_DB: Record<Dialect, string> = { postgresql: 'postgresql', mysql: 'mysql', sqlite: 'sqlite' };
let parser: Parser | undefined;
export function sqlParser(): Parser {
  parser ??= new Parser();
  return parser;
}

/** The key each placeholder occurrence binds, in text order. */
export function placeholderKeys(sql: string): Array<{ start: number; end: number; key: string }> {
  const lexed = lexSql(sql);
  let ordinal = 0;
  return lexed.placeholders.map((p) => {
    ordinal++;
    const key = p.style === 'dollar' ? p.name : p.style === 'named' || p.style === 'pyformat' ? p.name : String(ordinal);
    return { start: p.start, end: p.end, key };
  });
}

/** Replaces each placeholder with the number `sentinel(key)`. */
export function substitutePlaceholders(sql: string, sentinel: (key: string, occurrence: number) => string): string {
  let out = '';
  let last = 0;
  placeholderKeys(sql).forEach((p, i) => {
    out += sql.slice(last, p.start) + sentinel(p.key, i);
    last = p.end;
  });
  return out + sql.slice(last);
}

/** Plans one SQL statement. `params` lists the placeholder keys in order of first appearance. */
export function planSql(sql: string, dialect: Dialect, mapping?: SchemaMapping): PlanResult {
  if (sql.includes(DYNAMIC_PLACEHOLDER_PREFIX)) {
    return { ok: false, reason: 'part of the SQL text is built at run time; rewrite it by hand (values can become bindings, identifiers need a whitelist)' };
  }
  const occurrences = placeholderKeys(sql);
  const keys: string[] = [];
  for (const o of occurrences) if (!keys.includes(o.key)) keys.push(o.key);
  const text = substitutePlaceholders(sql, (_k, i) => String(PARAM_SENTINEL + i));
  let ast: unknown;
  try {
    ast = sqlParser().astify(text, { database: PARSER_DB[dialect] });
  } catch (e) {
    return { ok: false, reason: `the statement does not parse as ${dialect} (${String((e as Error).message ?? e).slice(0, 120)})` };
  }
  if (Array.isArray(ast)) {
    if (ast.length !== 1) return { ok: false, reason: 'the text holds several statements' };
    ast = ast[0];
  }
  const ctx: Ctx = { dialect, sql, occurrences };
  const mapped = mapSchema(ast, mapping, dialect);
  if (!mapped.ok) return mapped;
  try {
    const plan = planStatement(mapped.ast, ctx);
    return { ok: true, plan, params: keys, mapped: mapped.applied };
  } catch (e) {
    if (e instanceof NotPlannable) return { ok: false, reason: e.message };
    return { ok: false, reason: `unexpected statement shape (${(e as Error).message})` };
  }
}

type N = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

interface Ctx {
  dialect: Dialect;
  sql: string;
  occurrences: Array<{ key: string }>;
}

function planStatement(ast: N, ctx: Ctx): Plan {
  if (ast.with && (!Array.isArray(ast.with) || ast.with.length)) fail('WITH (common table expressions) has no direct builder form here');
  switch (ast.type) {
    case 'select': return planSelect(ast, ctx);
    case 'insert': return planInsert(ast, ctx);
    case 'update': return planUpdate(ast, ctx);
    case 'delete': return planDelete(ast, ctx);
    case 'replace': fail('REPLACE INTO has no portable builder form');
    default: fail(`${String(ast.type ?? 'this').toUpperCase()} statements are not rewritten to builder calls`);
  }
}

// ---- identifiers ----------------------------------------------------------------------------

function identValue(x: unknown): { name: string; quoted: boolean } | undefined {
  if (typeof x === 'string') return { name: x, quoted: false };
  if (!x || typeof x !== 'object') return undefined;
  const o = x as N;
  if (o.expr) return identValue(o.expr);
  if (typeof o.value === 'string' && (o.type === 'default' || o.type === 'double_quote_string' || o.type === 'backticks_quote_string')) {
    return { name: o.value, quoted: o.type !== 'default' };
  }
  return undefined;
}

/** An identifier as Knex should see it: postgres folds unquoted names to lower case. */
function ident(x: unknown, ctx: Ctx, what = 'name'): string {
  const v = identValue(x);
  if (!v) fail(`an unsupported ${what}`);
  let { name } = v;
  if (name.startsWith(DYNAMIC_PLACEHOLDER_PREFIX)) fail('an identifier is built at run time');
  if (!/^[A-Za-z_][A-Za-z0-9_$]*$/.test(name)) fail(`the identifier "${name}" needs quoting that Knex would not reproduce`);
  if (ctx.dialect === 'postgresql' && !v.quoted && !quotedInText(name, ctx)) name = name.toLowerCase();
  return name;
}

function quotedInText(name: string, ctx: Ctx): boolean {
  return ctx.sql.includes(`"${name}"`);
}

function tableRef(from: N, ctx: Ctx): TableRef {
  if (from.expr || from.type === 'expr') fail('a subquery in FROM has no direct builder form');
  if (typeof from.table !== 'string' && !identValue(from.table)) fail('an unsupported table reference');
  const table = ident(from.table, ctx, 'table');
  const db = from.db ? ident(from.db, ctx, 'schema') : undefined;
  const alias = from.as ? ident(from.as, ctx, 'alias') : undefined;
  if (from.schema) fail('a schema-qualified table in this form');
  return { name: db ? `${db}.${table}` : table, alias: alias && alias !== table ? alias : undefined };
}

function columnRef(e: N, ctx: Ctx): string {
  if (e?.type !== 'column_ref') fail(`${describe(e)} where a column was expected`);
  const col = ident(e.column, ctx, 'column');
  if (col === '*') fail('a star where a column was expected');
  const table = e.table ? ident(e.table, ctx, 'table') : undefined;
  if (e.schema || e.db) fail('a schema-qualified column');
  return table ? `${table}.${col}` : col;
}

function describe(e: N | undefined): string {
  if (!e) return 'nothing';
  if (e.type === 'function') return `the function ${fnName(e) ?? ''}()`;
  if (e.type === 'binary_expr') return `the expression \`${e.operator}\``;
  if (e.type === 'cast') return 'a cast';
  if (e.type === 'case') return 'a CASE expression';
  if (e.ast || e.type === 'select') return 'a subquery';
  return `a ${e.type ?? 'value'}`;
}

function fnName(e: N): string | undefined {
  const n = e.name;
  if (typeof n === 'string') return n.toLowerCase();
  const parts = n?.name;
  if (Array.isArray(parts) && parts.length === 1) return String(parts[0]?.value ?? '').toLowerCase();
  return undefined;
}

// ---- values ---------------------------------------------------------------------------------

function value(e: N, ctx: Ctx): Value {
  if (!e || typeof e !== 'object') fail('an unsupported value');
  switch (e.type) {
    case 'number': {
      const v = Number(e.value);
      if (Number.isInteger(v) && v >= PARAM_SENTINEL && v < PARAM_SENTINEL + ctx.occurrences.length) {
        return { kind: 'param', key: ctx.occurrences[v - PARAM_SENTINEL].key };
      }
      if (typeof e.value !== 'number' || !Number.isFinite(v) || !Number.isSafeInteger(Math.trunc(v))) fail(`the number ${String(e.value)}`);
      return { kind: 'literal', value: v };
    }
    case 'single_quote_string':
    case 'string': {
      // The parser keeps the literal's escapes: `'o''hara'` arrives as o''hara.
      const raw = String(e.value);
      if (raw.includes('\\') && ctx.dialect === 'mysql') fail('a string literal with backslash escapes');
      return { kind: 'literal', value: raw.replace(/''/g, "'") };
    }
    case 'double_quote_string':
      if (ctx.dialect === 'mysql') return { kind: 'literal', value: String(e.value) };
      fail(`"${String(e.value)}" is an identifier here, not a value`);
    case 'bool':
      return { kind: 'literal', value: Boolean(e.value) };
    case 'null':
      return { kind: 'literal', value: null };
    case 'function': {
      const name = fnName(e);
      const args = e.args?.value ?? [];
      if ((name === 'now' && args.length === 0) || name === 'current_timestamp') {
        if (ctx.dialect === 'sqlite' && name === 'now') fail('now() does not exist in SQLite');
        return { kind: 'now' };
      }
      fail(`${describe(e)} as a value`);
    }
    case 'binary_expr': {
      const shifted = nowShifted(e, ctx);
      if (shifted) return shifted;
      fail(`${describe(e)} as a value`);
    }
    default:
      if (e.type === 'origin' && String(e.value).toUpperCase() === 'CURRENT_TIMESTAMP') return { kind: 'now' };
      fail(`${describe(e)} as a value`);
  }
}

const INTERVAL_UNITS = ['second', 'minute', 'hour', 'day', 'week', 'month', 'year'];

/** `now() ± interval '30 days'` (PostgreSQL) / `now() ± INTERVAL 30 DAY` (MySQL), with a literal amount. */
function nowShifted(e: N, ctx: Ctx): Value | undefined {
  const op = String(e.operator);
  if (op !== '+' && op !== '-') return undefined;
  const l = e.left;
  const isNow = (l?.type === 'function' && fnName(l) === 'now' && !(l.args?.value ?? []).length) || (l?.type === 'function' && fnName(l) === 'current_timestamp') || (l?.type === 'origin' && String(l.value).toUpperCase() === 'CURRENT_TIMESTAMP');
  const r = e.right;
  if (!isNow || r?.type !== 'interval' || ctx.dialect === 'sqlite') return undefined;
  if (ctx.dialect === 'postgresql' && !r.unit && (r.expr?.type === 'single_quote_string' || r.expr?.type === 'string')) {
    const m = /^\s*(\d{1,6})\s+([a-z]+?)s?\s*$/i.exec(String(r.expr.value));
    if (!m || !INTERVAL_UNITS.includes(m[2].toLowerCase())) return undefined;
    // The interval text as written (the regex leaves no quote in it).
    return { kind: 'rawsql', sql: `now() ${op} interval '${String(r.expr.value)}'` };
  }
  if (ctx.dialect === 'mysql' && r.expr?.type === 'number' && Number.isInteger(r.expr.value) && r.expr.value >= 0 && INTERVAL_UNITS.includes(String(r.unit).toLowerCase())) {
    return { kind: 'rawsql', sql: `now() ${op} interval ${r.expr.value} ${String(r.unit).toLowerCase()}` };
  }
  return undefined;
}

// ---- where ----------------------------------------------------------------------------------

const CMP: Record<string, CmpOp> = {
  '=': '=', '<>': '<>', '!=': '<>', '<': '<', '>': '>', '<=': '<=', '>=': '>=',
  LIKE: 'like', 'NOT LIKE': 'not like', ILIKE: 'ilike', 'NOT ILIKE': 'not ilike',
};
const FLIP: Partial<Record<CmpOp, CmpOp>> = { '=': '=', '<>': '<>', '<': '>', '>': '<', '<=': '>=', '>=': '<=' };

function cond(e: N, ctx: Ctx): Cond {
  if (e?.type === 'column_ref') return { kind: 'bool', column: columnRef(e, ctx), not: false };
  if (e?.type === 'unary_expr' && String(e.operator).toUpperCase() === 'NOT' && e.expr?.type === 'column_ref' && !e.expr.parentheses) {
    return { kind: 'bool', column: columnRef(e.expr, ctx), not: true };
  }
  if (!e || e.type !== 'binary_expr') {
    if (e?.type === 'unary_expr' && String(e.operator).toUpperCase() === 'NOT') fail('NOT (…) has no simple builder form here');
    fail(`${describe(e)} in a condition`);
  }
  const op = String(e.operator).toUpperCase();
  if (op === 'AND' || op === 'OR') {
    const kind = op === 'AND' ? 'and' : 'or';
    const items: Cond[] = [];
    for (const side of [e.left, e.right]) {
      const c = cond(side, ctx);
      if (c.kind === kind) items.push(...c.items);
      else items.push(c);
    }
    return { kind, items };
  }
  if (op === 'IN' || op === 'NOT IN') {
    const list = e.right?.type === 'expr_list' ? e.right.value : undefined;
    if (!Array.isArray(list)) fail('IN with a subquery or an array parameter');
    return { kind: 'in', column: columnRef(e.left, ctx), values: list.map((v: N) => value(v, ctx)), not: op === 'NOT IN' };
  }
  if (op === 'BETWEEN' || op === 'NOT BETWEEN') {
    const [low, high] = e.right?.value ?? [];
    return { kind: 'between', column: columnRef(e.left, ctx), low: value(low, ctx), high: value(high, ctx), not: op === 'NOT BETWEEN' };
  }
  if (op === 'IS' || op === 'IS NOT') {
    if (e.right?.type !== 'null') fail(`${op} ${describe(e.right)}`);
    return { kind: 'null', column: columnRef(e.left, ctx), not: op === 'IS NOT' };
  }
  const cmp = CMP[op];
  if (!cmp) fail(`the operator ${op}`);
  if (cmp.includes('ilike') && ctx.dialect !== 'postgresql') fail('ILIKE outside PostgreSQL');
  const caseFn = (x: N): { fn: CaseFn; arg: N } | undefined => {
    if (x?.type !== 'function') return undefined;
    const name = fnName(x);
    const args = x.args?.value;
    if (!name || !(CASE_FNS as readonly string[]).includes(name) || !Array.isArray(args) || args.length !== 1) return undefined;
    return { fn: name as CaseFn, arg: args[0] };
  };
  const lf = caseFn(e.left);
  if (lf && lf.arg?.type === 'column_ref') {
    const rf = caseFn(e.right);
    if (rf && rf.fn !== lf.fn) fail(`${lf.fn}() compared with ${rf.fn}()`);
    const v = rf ? rf.arg : e.right;
    if (v?.type === 'column_ref') fail(`${lf.fn}() compared with a column`);
    return { kind: 'fncmp', fn: lf.fn, column: columnRef(lf.arg, ctx), op: cmp, value: value(v, ctx), valueFn: !!rf };
  }
  const leftCol = e.left?.type === 'column_ref';
  const rightCol = e.right?.type === 'column_ref';
  if (leftCol && rightCol) return { kind: 'colcmp', column: columnRef(e.left, ctx), op: cmp, other: columnRef(e.right, ctx) };
  if (leftCol) return { kind: 'cmp', column: columnRef(e.left, ctx), op: cmp, value: value(e.right, ctx) };
  if (rightCol && FLIP[cmp]) return { kind: 'cmp', column: columnRef(e.right, ctx), op: FLIP[cmp]!, value: value(e.left, ctx) };
  fail(`${describe(leftCol ? e.right : e.left)} in a comparison`);
}

// ---- statements -----------------------------------------------------------------------------

function planFrom(ast: N, ctx: Ctx): { table: TableRef; joins: Join[] } {
  const from: N[] = ast.from ?? [];
  if (!Array.isArray(from) || from.length === 0) fail('a SELECT without FROM');
  const table = tableRef(from[0], ctx);
  if (from[0].join) fail('an unsupported FROM clause');
  const joins: Join[] = [];
  for (const f of from.slice(1)) {
    if (!f.join) fail('several tables in FROM without JOIN');
    const type = String(f.join).toUpperCase().replace(/\s+OUTER/, '');
    if (type !== 'INNER JOIN' && type !== 'JOIN' && type !== 'LEFT JOIN') fail(`${f.join} has no simple builder form here`);
    if (f.using) fail('JOIN … USING');
    if (!f.on) fail('a JOIN without ON');
    const c = cond(f.on, ctx);
    const parts = c.kind === 'and' ? c.items : [c];
    const on = parts.map((p) => {
      if (p.kind !== 'colcmp') fail('a JOIN condition other than column comparisons');
      return { left: p.column, op: p.op, right: p.other };
    });
    joins.push({ type: type === 'LEFT JOIN' ? 'left' : 'inner', table: tableRef(f, ctx), on });
  }
  return { table, joins };
}

function aggregate(e: N, ctx: Ctx): { fn: AggFn; arg: string; distinct: boolean } | undefined {
  if (e?.type !== 'aggr_func') return undefined;
  const fn = String(e.name).toLowerCase();
  if (!['count', 'sum', 'min', 'max', 'avg'].includes(fn)) fail(`the aggregate ${fn}()`);
  if (e.over) fail('a window function');
  const argExpr = e.args?.expr;
  const distinct = String(e.args?.distinct ?? '').toUpperCase() === 'DISTINCT';
  if (e.args?.orderby) fail('an ordered aggregate');
  let arg: string;
  if (argExpr?.type === 'star') {
    if (fn !== 'count' || distinct) fail(`${fn}(*)`);
    arg = '*';
  } else arg = columnRef(argExpr, ctx);
  return { fn: fn as AggFn, arg, distinct };
}

function planSelect(ast: N, ctx: Ctx): SelectPlan {
  if (ast._next || ast.set_op) fail('UNION / INTERSECT / EXCEPT');
  if (ast.into && ast.into.position) fail('SELECT … INTO');
  if (ast.window) fail('a WINDOW clause');
  if (ast.locking_read || ast.for_update) fail('SELECT … FOR UPDATE / SHARE (row locks)');
  if (ast.options && ast.options.length) fail('SELECT options (SQL_CALC_FOUND_ROWS, …)');
  const distinctType = ast.distinct && typeof ast.distinct === 'object' ? ast.distinct.type : ast.distinct;
  if (ast.distinct && typeof ast.distinct === 'object' && ast.distinct.columns) fail('DISTINCT ON');
  const distinct = String(distinctType ?? '').toUpperCase() === 'DISTINCT';
  const { table, joins } = planFrom(ast, ctx);
  const columns: SelectColumn[] = [];
  const cols = ast.columns;
  if (cols === '*' || (Array.isArray(cols) && cols.length === 1 && (cols[0] === '*' || cols[0]?.expr?.type === 'star'))) {
    columns.push({ kind: 'star' });
  } else {
    for (const c of cols as N[]) {
      const e = c.expr;
      const alias = c.as ? ident(c.as, ctx, 'alias') : undefined;
      if (e?.type === 'column_ref' && (identValue(e.column)?.name === '*' || e.column === '*')) {
        if (alias) fail('an aliased star');
        columns.push({ kind: 'star', table: e.table ? ident(e.table, ctx, 'table') : undefined });
        continue;
      }
      const agg = aggregate(e, ctx);
      if (agg) {
        columns.push({ kind: 'agg', ...agg, alias });
        continue;
      }
      if (e?.type !== 'column_ref') fail(`${describe(e)} in the select list`);
      columns.push({ kind: 'column', name: columnRef(e, ctx), alias });
    }
  }
  if (distinct && columns.some((c) => c.kind === 'agg')) fail('DISTINCT with aggregates in the select list');
  const where = ast.where ? cond(ast.where, ctx) : undefined;
  const groupCols: N[] = ast.groupby ? (Array.isArray(ast.groupby) ? ast.groupby : ast.groupby.columns ?? []) : [];
  if (ast.groupby && !Array.isArray(ast.groupby) && (ast.groupby.modifiers ?? []).some((m: unknown) => m)) fail('GROUP BY modifiers (WITH ROLLUP)');
  const groupBy = groupCols.map((g) => columnRef(g, ctx));
  const having: HavingCond[] = [];
  if (ast.having) {
    const h = cond2having(ast.having, ctx);
    having.push(...h);
  }
  const orderBy = (ast.orderby ?? []).map((o: N) => {
    if (o.nulls) fail('NULLS FIRST / LAST');
    return { column: columnRef(o.expr, ctx), dir: String(o.type ?? 'ASC').toLowerCase() === 'desc' ? 'desc' as const : 'asc' as const };
  });
  let limit: Value | undefined;
  let offset: Value | undefined;
  const lim = ast.limit;
  if (lim && Array.isArray(lim.value) && lim.value.length) {
    const sep = String(lim.seperator ?? '').toLowerCase();
    if (lim.value.length === 1) limit = value(lim.value[0], ctx);
    else if (sep === 'offset') {
      limit = value(lim.value[0], ctx);
      offset = value(lim.value[1], ctx);
    } else if (sep === ',') {
      offset = value(lim.value[0], ctx);
      limit = value(lim.value[1], ctx);
    } else fail('an unsupported LIMIT form');
    for (const v of [limit, offset]) if (v?.kind === 'literal' && typeof v.value !== 'number') fail('a non-numeric LIMIT / OFFSET');
  }
  return { kind: 'select', table, distinct, columns, joins, where, groupBy, having, orderBy, limit, offset };
}

function cond2having(e: N, ctx: Ctx): HavingCond[] {
  if (e?.type === 'binary_expr' && String(e.operator).toUpperCase() === 'AND') return [...cond2having(e.left, ctx), ...cond2having(e.right, ctx)];
  if (e?.type !== 'binary_expr') fail(`${describe(e)} in HAVING`);
  const op = CMP[String(e.operator).toUpperCase()];
  if (!op || op.includes('like')) fail(`the operator ${e.operator} in HAVING`);
  const agg = aggregate(e.left, ctx);
  if (!agg) fail('HAVING on something other than an aggregate');
  return [{ ...agg, op, value: value(e.right, ctx) }];
}

function returningOf(ast: N, ctx: Ctx): string[] | undefined {
  const r = ast.returning;
  if (!r) return undefined;
  const cols: N[] = Array.isArray(r.columns) ? r.columns : r.columns === '*' ? ['*'] : [];
  if (!cols.length) fail('an unsupported RETURNING clause');
  return cols.map((c) => {
    if ((c as unknown) === '*' || c?.expr?.type === 'star' || identValue(c?.expr?.column)?.name === '*' || c?.expr?.column === '*') return '*';
    if (c.as) fail('an aliased RETURNING column');
    return columnRef(c.expr, ctx);
  });
}

function singleTable(ast: N, ctx: Ctx, key: 'table' | 'from'): TableRef {
  const list: N[] = Array.isArray(ast[key]) ? ast[key] : [];
  if (list.length !== 1) fail(list.length ? 'several tables' : 'no table');
  if (list[0].join) fail('a JOIN');
  return tableRef(list[0], ctx);
}

function planInsert(ast: N, ctx: Ctx): InsertPlan {
  if (ast.prefix && /ignore/i.test(String(ast.prefix))) {
    if (ctx.dialect !== 'mysql') fail('INSERT OR IGNORE');
  }
  const table = singleTable(ast, ctx, 'table');
  if (!Array.isArray(ast.columns) || !ast.columns.length) fail('INSERT without a column list');
  const columns: string[] = ast.columns.map((c: unknown) => ident(c, ctx, 'column'));
  const values = ast.values;
  const rowsRaw: N[] = values?.type === 'values' ? values.values : Array.isArray(values) ? values : [];
  if (!rowsRaw.length) fail('INSERT … SELECT or DEFAULT VALUES');
  const rows = rowsRaw.map((row) => {
    const vals: N[] = row.value ?? [];
    if (vals.length !== columns.length) fail('a VALUES row whose length differs from the column list');
    return vals.map((v) => value(v, ctx));
  });
  const returning = returningOf(ast, ctx);
  let conflict: InsertPlan['conflict'];
  if (ast.prefix && /ignore/i.test(String(ast.prefix))) conflict = { target: [], action: 'ignore' };
  if (ast.conflict) {
    const c = ast.conflict;
    const target = (c.target?.expr ?? c.target?.columns ?? c.target ?? []) as N[];
    const targetCols = (Array.isArray(target) ? target : []).map((t) => (t?.type === 'column_ref' ? columnRef(t, ctx) : ident(t, ctx, 'column')));
    const action = c.action;
    const actionText = JSON.stringify(action ?? '').toLowerCase();
    if (!targetCols.length) fail('ON CONFLICT without a target');
    if (actionText.includes('nothing')) conflict = { target: targetCols, action: 'ignore' };
    else conflict = { target: targetCols, action: 'merge', merge: mergeColumns(action?.expr ?? action?.set ?? action, ctx, 'excluded') };
  }
  if (ast.on_duplicate_update) {
    conflict = { target: [], action: 'merge', merge: mergeColumns(ast.on_duplicate_update.set ?? ast.on_duplicate_update, ctx, 'values') };
  }
  if (ast.where) fail('INSERT … WHERE');
  return { kind: 'insert', table, columns, rows, returning, conflict };
}

/** `SET b = EXCLUDED.b` / `b = VALUES(b)`: only a plain copy of the proposed row merges. */
function mergeColumns(set: unknown, ctx: Ctx, form: 'excluded' | 'values'): string[] {
  const items: N[] = Array.isArray(set) ? set : Array.isArray((set as N)?.set) ? (set as N).set : [];
  if (!items.length) fail('an ON CONFLICT / ON DUPLICATE KEY action other than a plain merge');
  return items.map((s) => {
    const col = ident(s.column, ctx, 'column');
    const v = s.value;
    if (form === 'excluded') {
      if (v?.type !== 'column_ref' || String(identValue(v.table)?.name ?? v.table ?? '').toLowerCase() !== 'excluded' || ident(v.column, ctx) !== col) fail('an ON CONFLICT update other than `col = EXCLUDED.col`');
    } else {
      const args = v?.args?.value;
      if (v?.type !== 'function' || fnName(v) !== 'values' || !Array.isArray(args) || args.length !== 1 || columnRef(args[0], ctx) !== col) fail('an ON DUPLICATE KEY update other than `col = VALUES(col)`');
    }
    return col;
  });
}

function planUpdate(ast: N, ctx: Ctx): UpdatePlan {
  const table = singleTable(ast, ctx, 'table');
  if (ast.from && (!Array.isArray(ast.from) || ast.from.length)) fail('UPDATE … FROM');
  if (ast.orderby || (ast.limit && ast.limit.value?.length)) fail('UPDATE … ORDER BY / LIMIT');
  const set = (ast.set as N[]).map((s) => {
    if (s.table) fail('a table-qualified SET column');
    const column = ident(s.column, ctx, 'column');
    const v = s.value;
    if (v?.type === 'binary_expr' && (v.operator === '+' || v.operator === '-') && v.left?.type === 'column_ref' && !v.left.table && ident(v.left.column, ctx) === column) {
      return { column, value: { kind: 'inc' as const, column, sign: v.operator === '+' ? 1 as const : -1 as const, amount: value(v.right, ctx) } };
    }
    return { column, value: value(v, ctx) };
  });
  const where = ast.where ? cond(ast.where, ctx) : undefined;
  return { kind: 'update', table, set, where, returning: returningOf(ast, ctx) };
}

function planDelete(ast: N, ctx: Ctx): DeletePlan {
  const table = singleTable(ast, ctx, 'from');
  if (Array.isArray(ast.table) && ast.table.length > 1) fail('a multi-table DELETE');
  if (ast.orderby || (ast.limit && ast.limit.value?.length)) fail('DELETE … ORDER BY / LIMIT');
  const where = ast.where ? cond(ast.where, ctx) : undefined;
  return { kind: 'delete', table, where, returning: returningOf(ast, ctx) };
}

// ---- schema mapping -------------------------------------------------------------------------
//
// A planned schema change applied to a parsed statement, as its own transformation: the
// rewrite plans the mapped statement, and verification compares Knex's SQL with the original
// statement after the same mapping (verify.ts). Config (`rewrite.schemaMapping`):
//
//   { "jobs": { "table": "tasks", "columns": { "status": "state" }, "values": { "status": { "pending": "queued" } } } }
//
//   SELECT id, status FROM jobs WHERE status = 'pending'
//     → refused: the rows would carry the new values ('queued' where the code expects 'pending')
//   SELECT id, name FROM jobs WHERE status = 'pending'   (name → title)
//     → SELECT id, title AS name FROM tasks WHERE state = 'queued'
//
// Rules that keep the meaning (data migrated by the same mapping):
// - renamed columns in the select list keep their old name as the result key (`AS old`); a star
//   over a table with renamed or value-mapped columns is refused (the keys would change);
// - value mappings apply to literals compared with `=`, `<>`, `IN`, `NOT IN`, inserted or set;
//   a value known only at run time (a binding) is refused with a reason, never mapped silently;
//   a value-mapped column under `<`, `LIKE`, `BETWEEN`, ORDER BY, min/max/sum/avg, arithmetic,
//   a comparison with another column, or in what the statement returns is refused;
// - a value mapping must be one-to-one (two old values never become one new value); values not
//   listed keep their value, so no listed new value may also be an old value left as it is.

export interface TableMapping {
  /** The new table name. */
  table?: string;
  /** Old column → new column. */
  columns?: Record<string, string>;
  /** Old column → (old value → new value). */
  values?: Record<string, Record<string, string | number>>;
}

/** Old table → its mapping. */
export type SchemaMapping = Record<string, TableMapping>;

export type MapResult = { ok: true; ast: N; applied: string[] } | { ok: false; reason: string };

/** A number the placeholders were swapped for (plan.ts and verify.ts sentinels). */
export function isParamNumber(v: unknown): boolean {
  const n = Number(v);
  return Number.isInteger(n) && n >= PARAM_SENTINEL && n < PARAM_SENTINEL + 1000;
}

interface Scoped {
  /** The old table name (lower case). */
  old: string;
  /** How the statement names it (alias or table, lower case). */
  name: string;
  m?: TableMapping;
  cols: Map<string, string>;
  values: Map<string, Map<string, string | number>>;
}

function lowerKeys<T>(o: Record<string, T> | undefined): Map<string, T> {
  return new Map(Object.entries(o ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
}

/** Checks that every value mapping is one-to-one; returns the problem or undefined. */
export function mappingProblem(mapping: SchemaMapping): string | undefined {
  for (const [table, m] of Object.entries(mapping)) {
    for (const [col, valueMap] of Object.entries(m.values ?? {})) {
      const seen = new Map<string, string>();
      for (const [from, to] of Object.entries(valueMap)) {
        const k = `${typeof to}:${String(to)}`;
        if (seen.has(k)) return `the value mapping for ${table}.${col} maps both '${seen.get(k)}' and '${from}' to '${String(to)}'; it must be one-to-one`;
        seen.set(k, from);
      }
    }
    const targets = new Map<string, string>();
    for (const [from, to] of Object.entries(m.columns ?? {})) {
      if (targets.has(to.toLowerCase())) return `the column mapping for ${table} renames both ${targets.get(to.toLowerCase())} and ${from} to ${to}`;
      targets.set(to.toLowerCase(), from);
    }
  }
  return undefined;
}

/**
 * Applies a schema mapping to a node-sql-parser AST (a copy; the input is not changed).
 * `applied` lists what changed, for the quick fix's title; empty when the mapping does not touch
 * the statement.
 */
export function mapSchema(input: unknown, mapping: SchemaMapping | undefined, dialect: Dialect): MapResult {
  if (!mapping || !Object.keys(mapping).length) return { ok: true, ast: input as N, applied: [] };
  const problem = mappingProblem(mapping);
  if (problem) return { ok: false, reason: problem };
  const byTable = lowerKeys(mapping);
  const ast = structuredClone(input) as N;
  const applied: string[] = [];
  const note = (s: string) => {
    if (!applied.includes(s)) applied.push(s);
  };
  const quoteType = dialect === 'mysql' ? 'backticks_quote_string' : 'double_quote_string';
  const newIdent = (name: string) => ({ expr: { type: quoteType, value: name } });
  try {
    const scope: Scoped[] = [];
    const entries: N[] = [];
    const addEntries = (list: unknown) => {
      if (!Array.isArray(list)) return;
      for (const e of list as N[]) if (e && typeof e === 'object' && e.table !== undefined && !e.expr) entries.push(e);
    };
    if (ast.type === 'select' || ast.type === 'delete') addEntries(ast.from);
    if (ast.type === 'insert' || ast.type === 'update' || ast.type === 'delete') addEntries(ast.table);
    for (const e of entries) {
      const tv = identValue(e.table);
      if (!tv) continue;
      const dbv = e.db ? identValue(e.db)?.name : undefined;
      const old = (dbv ? `${dbv}.${tv.name}` : tv.name).toLowerCase();
      const m = byTable.get(old);
      const name = (identValue(e.as)?.name ?? tv.name).toLowerCase();
      if (!scope.some((s) => s.name === name && s.old === old)) {
        scope.push({ old, name, m, cols: lowerKeys(m?.columns), values: new Map([...lowerKeys(m?.values)].map(([c, valueMap]) => [c, new Map(Object.entries(valueMap))])) });
      }
      if (m?.table && m.table.toLowerCase() !== old) {
        if (dbv) fail('a schema-qualified table with a table mapping');
        e.table = m.table;
        note(`${tv.name} → ${m.table}`);
      }
    }
    const mappedNames = new Set<string>();
    for (const s of scope) for (const c of [...s.cols.keys(), ...s.values.keys()]) mappedNames.add(c);

    const colName = (c: unknown): { name: string; quoted: boolean } | undefined => identValue(c);
    const outputKey = (v: { name: string; quoted: boolean }) => (dialect === 'postgresql' && !v.quoted ? v.name.toLowerCase() : v.name);

    const owner = (qualifier: unknown, column: string): Scoped | undefined => {
      const q = qualifier ? identValue(qualifier)?.name.toLowerCase() : undefined;
      if (q) {
        if (q === 'excluded' && ast.type === 'insert') return scope[0];
        return scope.find((s) => s.name === q) ?? scope.find((s) => s.old === q);
      }
      if (scope.length === 1) return scope[0];
      if (mappedNames.has(column.toLowerCase())) fail(`the column ${column} is not qualified in a statement over several tables; qualify it so the schema mapping knows its table`);
      return undefined;
    };

    /** Renames a column_ref in place; returns its value mapping (when it has one). */
    const mapRef = (ref: N): { valueMap?: Map<string, string | number>; col: string; renamed?: string; key: string } => {
      const v = colName(ref.column);
      if (!v) return { col: '?', key: '?' };
      const s = owner(ref.table, v.name);
      const col = v.name.toLowerCase();
      const renamed = s?.cols.get(col);
      if (s && renamed && renamed.toLowerCase() !== col) {
        ref.column = newIdent(renamed);
        note(`${s.old}.${v.name} → ${renamed}`);
      }
      if (s && ref.table) {
        const q = identValue(ref.table)?.name.toLowerCase();
        if (q === s.old && q === s.name && s.m?.table) ref.table = s.m.table;
      }
      return { valueMap: s?.values.get(col), col: s ? `${s.old}.${v.name}` : v.name, renamed: renamed && renamed.toLowerCase() !== col ? renamed : undefined, key: outputKey(v) };
    };

    const mapValue = (node: N, valueMap: Map<string, string | number>, col: string, what: string): N => {
      if (!node || typeof node !== 'object') fail(`an unsupported value for ${col}`);
      if (node.type === 'expr_list' && Array.isArray(node.value)) {
        node.value = node.value.map((x: N) => mapValue(x, valueMap, col, what));
        return node;
      }
      if (node.type === 'null') return node;
      let key: string | undefined;
      if (node.type === 'number') {
        if (isParamNumber(node.value)) {
          fail(`${col} is ${what} a value known only at run time; its value mapping (${[...valueMap].map(([a, b]) => `'${a}' → '${b}'`).join(', ')}) cannot be applied to a binding: map the value in code first, or rewrite by hand`);
        }
        key = String(node.value);
      } else if (node.type === 'single_quote_string' || node.type === 'string' || (node.type === 'double_quote_string' && dialect === 'mysql')) {
        key = String(node.value).replace(/''/g, "'");
      } else if (node.type === 'bool') key = String(node.value);
      else fail(`${col} has a value mapping and is ${what} ${describe(node)}`);
      if (!valueMap.has(key)) return node;
      const to = valueMap.get(key)!;
      note(`${col} '${key}' → '${String(to)}'`);
      return typeof to === 'number' ? { type: 'number', value: to } : { type: 'single_quote_string', value: to.replace(/'/g, "''") };
    };

    const EQ = new Set(['=', '<>', '!=', 'IN', 'NOT IN']);
    /** Maps every column under `e`; a value-mapped column is only allowed where meaning is kept. */
    const walk = (e: unknown): void => {
      if (!e || typeof e !== 'object') return;
      if (Array.isArray(e)) return e.forEach(walk);
      const o = e as N;
      if (o.type === 'column_ref') {
        const r = mapRef(o);
        if (r.valueMap) fail(`${r.col} has a value mapping and is used where the new values would change the result (ordering, pattern matching, ranges, arithmetic or output)`);
        return;
      }
      if (o.type === 'binary_expr') {
        const op = String(o.operator).toUpperCase();
        const sides: Array<['left' | 'right', 'left' | 'right']> = [['left', 'right'], ['right', 'left']];
        for (const [c, v] of sides) {
          const ref = o[c];
          if (ref?.type !== 'column_ref') continue;
          const peek = colName(ref.column);
          const s = peek ? owner(ref.table, peek.name) : undefined;
          if (!peek || !s?.values.has(peek.name.toLowerCase())) continue;
          if (EQ.has(op) && !(c === 'right' && op.includes('IN'))) {
            const r = mapRef(ref);
            o[v] = mapValue(o[v], r.valueMap!, r.col, 'compared with');
            return;
          }
          if ((op === 'IS' || op === 'IS NOT') && o[v]?.type === 'null') {
            mapRef(ref);
            return;
          }
        }
      }
      if (o.type === 'aggr_func') {
        const name = String(o.name).toLowerCase();
        const arg = o.args?.expr;
        if (name === 'count' && arg?.type === 'column_ref') {
          mapRef(arg);
          return;
        }
      }
      for (const k of Object.keys(o)) if (k !== 'loc') walk(o[k]);
    };

    const starProblem = (table?: unknown) => {
      const t = table ? identValue(table)?.name.toLowerCase() : undefined;
      const hit = scope.filter((s) => (!t || s.name === t || s.old === t) && (s.cols.size || s.values.size));
      if (hit.length) fail(`a star over ${hit[0].old}, whose columns the schema mapping renames or maps, would return other keys or values; list the columns`);
    };

    /** The select list / RETURNING: renamed columns keep their old key, value-mapped ones are refused. */
    const output = (cols: unknown, what: string) => {
      if (cols === '*') return starProblem();
      if (!Array.isArray(cols)) return walk(cols);
      for (const c of cols as N[]) {
        if ((c as unknown) === '*') {
          starProblem();
          continue;
        }
        const e = c?.expr;
        if (e?.type === 'star') {
          starProblem();
          continue;
        }
        if (e?.type === 'column_ref') {
          const v = colName(e.column);
          if (v?.name === '*' || e.column === '*') {
            starProblem(e.table);
            continue;
          }
          const r = mapRef(e);
          if (r.valueMap) fail(`${r.col} has a value mapping; ${what} would carry the new values where the code expects the old ones`);
          if (r.renamed && !c.as) {
            if (what === 'RETURNING') fail(`RETURNING the renamed column ${r.col}`);
            c.as = r.key;
          }
          continue;
        }
        if (e?.type === 'aggr_func' && !c.as) {
          const before = applied.length;
          walk(e);
          if (applied.length !== before) fail('an aggregate over a renamed column without an alias: its result key would change; add AS');
          continue;
        }
        walk(e);
      }
    };

    switch (ast.type) {
      case 'select': {
        output(ast.columns, 'the rows');
        for (const f of (ast.from ?? []) as N[]) if (f?.on) walk(f.on);
        walk(ast.where);
        const groups: N[] = ast.groupby ? (Array.isArray(ast.groupby) ? ast.groupby : ast.groupby.columns ?? []) : [];
        for (const g of groups) {
          if (g?.type === 'column_ref') mapRef(g); // grouping is kept by a one-to-one value mapping
          else walk(g);
        }
        walk(ast.having);
        walk(ast.orderby);
        break;
      }
      case 'insert': {
        const s = scope[0];
        const cols: unknown[] = Array.isArray(ast.columns) ? ast.columns : [];
        const vms = cols.map((c) => {
          const v = identValue(c);
          if (!v || !s) return undefined;
          const renamed = s.cols.get(v.name.toLowerCase());
          return { renamed, valueMap: s.values.get(v.name.toLowerCase()), col: `${s.old}.${v.name}` };
        });
        ast.columns = cols.map((c, i) => {
          const r = vms[i];
          if (r?.renamed && r.renamed.toLowerCase() !== identValue(c)!.name.toLowerCase()) {
            note(`${r.col} → ${r.renamed}`);
            return { type: quoteType, value: r.renamed };
          }
          return c;
        });
        const rows: N[] = ast.values?.type === 'values' ? ast.values.values : Array.isArray(ast.values) ? ast.values : [];
        if (ast.values && !rows.length) walk(ast.values);
        for (const row of rows) {
          const vals: N[] = row.value ?? [];
          row.value = vals.map((v, i) => {
            const r = vms[i];
            if (r?.valueMap) return mapValue(v, r.valueMap, r.col, 'set to');
            walk(v);
            return v;
          });
        }
        if (ast.conflict) {
          const c = ast.conflict;
          const target = c.target?.expr ?? c.target?.columns;
          if (Array.isArray(target)) {
            c.target[c.target?.expr ? 'expr' : 'columns'] = target.map((t: N) => {
              if (t?.type === 'column_ref') {
                mapRef(t);
                return t;
              }
              const v = identValue(t);
              const renamed = v && s?.cols.get(v.name.toLowerCase());
              return renamed ? { type: quoteType, value: renamed } : t;
            });
          }
          const set = c.action?.expr?.set ?? c.action?.set;
          if (Array.isArray(set)) for (const item of set) mapSetItem(item, true);
          else if (c.action) walk(c.action);
        }
        if (ast.on_duplicate_update) {
          const set = ast.on_duplicate_update.set ?? ast.on_duplicate_update;
          if (Array.isArray(set)) for (const item of set) mapSetItem(item, true);
        }
        if (ast.returning) output(ast.returning.columns, 'RETURNING');
        break;
      }
      case 'update': {
        for (const item of (ast.set ?? []) as N[]) mapSetItem(item, false);
        walk(ast.where);
        if (ast.returning) output(ast.returning.columns, 'RETURNING');
        break;
      }
      case 'delete': {
        walk(ast.where);
        if (ast.returning) output(ast.returning.columns, 'RETURNING');
        break;
      }
      default:
        break;
    }

    /** `SET col = value` (UPDATE) or an upsert's `col = EXCLUDED.col` / `col = VALUES(col)`. */
    function mapSetItem(item: N, upsert: boolean): void {
      const s = scope[0];
      const v = identValue(item.column);
      if (!v || !s) return walk(item.value);
      const col = v.name.toLowerCase();
      const renamed = s.cols.get(col);
      if (renamed && renamed.toLowerCase() !== col) {
        item.column = typeof item.column === 'string' ? renamed : newIdent(renamed);
        note(`${s.old}.${v.name} → ${renamed}`);
      }
      const valueMap = s.values.get(col);
      const value = item.value as N;
      // A copy of the proposed row's value (already mapped in VALUES) keeps its meaning.
      const copyRef = value?.type === 'column_ref' ? value : value?.type === 'function' && fnName(value) === 'values' ? value.args?.value?.[0] : undefined;
      if (upsert && copyRef?.type === 'column_ref') {
        const r = mapRef(copyRef);
        if (r.valueMap && identValue(copyRef.column)?.name.toLowerCase() !== (renamed ?? col).toLowerCase() && r.col.toLowerCase() !== `${s.old}.${v.name}`.toLowerCase()) fail(`${r.col} has a value mapping and is copied into another column`);
        return;
      }
      if (valueMap) {
        item.value = mapValue(value, valueMap, `${s.old}.${v.name}`, 'set to');
        return;
      }
      walk(value);
    }
  } catch (e) {
    if (e instanceof NotPlannable) return { ok: false, reason: `schema mapping: ${e.message}` };
    throw e;
  }
  return { ok: true, ast, applied };
}
