/**
 * Verify before offering: the rendered builder chain is parsed with the TypeScript compiler
 * API and *interpreted* — each call is checked against a whitelist of Knex builder methods
 * and applied, with literal arguments or the original call's parameters, to a real
 * `knex({ client })` builder for the statement's dialect (never evaluated: no eval, no
 * Function, no workspace code runs). `toSQL()` gives Knex's SQL; both it and the original
 * statement are parsed with node-sql-parser and compared after normalisation (identifier
 * quoting and case, parameter numbering, keyword case, redundant parentheses, literal vs
 * bound values, `now()` vs `CURRENT_TIMESTAMP`, column order of INSERT / SET lists).
 *
 *   verifyChain("db('jobs').where('id', '=', id).first()", { instance: 'db', dialect: 'postgresql',
 *                bindings: { id: '1' }, originalSql: 'SELECT * FROM jobs WHERE id = $1', firstRow: true })
 *     → { ok: true, sql: 'select * from "jobs" where "id" = $1 limit $2' }
 */
import * as ts from 'typescript';
import knexFactory, { type Knex } from 'knex';
import type { Dialect } from '../types';
import { PARAM_SENTINEL, mapSchema, placeholderKeys, sqlParser, substitutePlaceholders, type SchemaMapping } from './plan';

const CLIENT: Record<Dialect, string> = { postgresql: 'pg', mysql: 'mysql2', sqlite: 'better-sqlite3' };
const PARSER_DB: Record<Dialect, string> = { postgresql: 'postgresql', mysql: 'mysql', sqlite: 'sqlite' };

const knexes = new Map<Dialect, Knex>();
function knexFor(dialect: Dialect): Knex {
  let k = knexes.get(dialect);
  if (!k) {
    // No connection: Knex only compiles. Warnings (useNullAsDefault, returning on mysql) are silenced.
    k = knexFactory({ client: CLIENT[dialect], useNullAsDefault: true, log: { warn() {}, error() {}, deprecate() {}, debug() {} } });
    knexes.set(dialect, k);
  }
  return k;
}

/** Builder methods the interpreter applies. Anything else in a rendered chain fails verification. */
export const BUILDER_METHODS = new Set([
  'select', 'distinct', 'count', 'countDistinct', 'sum', 'sumDistinct', 'min', 'max', 'avg', 'avgDistinct',
  'join', 'innerJoin', 'leftJoin', 'leftOuterJoin', 'on', 'andOn', 'orOn',
  'where', 'andWhere', 'orWhere', 'whereNot', 'orWhereNot', 'whereIn', 'whereNotIn', 'orWhereIn', 'orWhereNotIn',
  'whereNull', 'whereNotNull', 'orWhereNull', 'orWhereNotNull',
  'whereBetween', 'whereNotBetween', 'orWhereBetween', 'orWhereNotBetween',
  'groupBy', 'having', 'orderBy', 'limit', 'offset', 'first',
  'insert', 'returning', 'onConflict', 'ignore', 'merge', 'update', 'increment', 'decrement', 'del', 'delete',
]);

/** The only raw fragments that may carry a value binding inside a chain. */
const RAW_VALUE_FRAGMENTS = new Set(['lower(?)', 'upper(?)']);

export interface VerifyInput {
  instance: string;
  dialect: Dialect;
  /** The original SQL (placeholders as written). */
  originalSql: string;
  /** Source text of each argument expression → the parameter key it stands for. */
  bindings: Map<string, string>;
  /** Parameter keys that are the same value (same argument expression), mapped to one representative. */
  canonicalKey?: (key: string) => string;
  /** The call site reads only the first row: Knex's `.first()` adds LIMIT 1. */
  firstRow?: boolean;
  /** Tests only (compileChain): real values for parameters instead of the comparison's sentinels. */
  valueFor?: (key: string) => unknown;
  /**
   * A planned schema change (config `rewrite.schemaMapping`): the original statement is compared
   * after the same mapping is applied to its AST (plan.ts `mapSchema`), Knex's SQL as it is.
   */
  mapping?: SchemaMapping;
}

export type VerifyResult = { ok: true; sql: string; bindings: unknown[] } | { ok: false; reason: string; sql?: string };

class Refused extends Error {}
function refuse(msg: string): never {
  throw new Refused(msg);
}

function sentinel(key: string, canon?: (k: string) => string): number {
  // Keys are `$n` numbers or names: map them to small stable indexes.
  const k = canon ? canon(key) : key;
  let idx = keyIndex.get(k);
  if (idx === undefined) {
    idx = keyIndex.size + 1;
    keyIndex.set(k, idx);
  }
  return PARAM_SENTINEL + 500 + idx;
}
let keyIndex = new Map<string, number>();

/** Verifies a rendered chain (`db('t').where(...)...`) against the original statement. */
export function verifyChain(chainText: string, input: VerifyInput): VerifyResult {
  // The same chain is verified more than once per code action (the Knex rewrite, then the
  // repository method built on it): results are remembered by everything they depend on.
  if (input.valueFor) return verifyChainUncached(chainText, input);
  const bindings = [...input.bindings];
  const key = JSON.stringify([chainText, input.instance, input.dialect, input.originalSql, bindings, bindings.map(([, k]) => (input.canonicalKey ? input.canonicalKey(k) : k)), !!input.firstRow, input.mapping ?? null]);
  const known = verifyMemo.get(key);
  if (known) {
    verifyMemo.delete(key);
    verifyMemo.set(key, known);
    return known;
  }
  const out = verifyChainUncached(chainText, input);
  verifyMemo.set(key, out);
  if (verifyMemo.size > 256) verifyMemo.delete(verifyMemo.keys().next().value!);
  return out;
}

const verifyMemo = new Map<string, VerifyResult>();

function verifyChainUncached(chainText: string, input: VerifyInput): VerifyResult {
  keyIndex = new Map();
  let built: { sql: string; bindings: readonly unknown[] };
  try {
    const expr = parseSingleExpression(chainText);
    const k = knexFor(input.dialect);
    const builder = interpret(expr, { k, input, scope: new Map() });
    if (!builder || typeof (builder as Knex.QueryBuilder).toSQL !== 'function') refuse('the rendered code is not a query builder');
    const compiled = (builder as Knex.QueryBuilder).toSQL();
    if (Array.isArray(compiled)) refuse('Knex compiles this to several statements');
    built = compiled.toNative() as { sql: string; bindings: readonly unknown[] };
  } catch (e) {
    if (e instanceof Refused) return { ok: false, reason: e.message };
    return { ok: false, reason: `Knex rejects the rendered chain: ${(e as Error).message}` };
  }
  return compareSql(built, input);
}

/**
 * Compiles a rendered chain with real parameter values (`input.valueFor`): what the rewritten code
 * would send to the database. Used by the equivalence tests to execute rewrites.
 */
export function compileChain(text: string, input: VerifyInput): { sql: string; bindings: unknown[] } {
  keyIndex = new Map();
  const expr = parseSingleExpression(text);
  const k = knexFor(input.dialect);
  const built = interpret(expr, { k, input, scope: new Map(), allowRawValues: true }) as Knex.QueryBuilder;
  const n = built.toSQL().toNative() as { sql: string; bindings: readonly unknown[] };
  return { sql: n.sql, bindings: [...n.bindings] };
}

/** Verifies a `knex.raw(sql, bindings)` rendering the same way. */
export function verifyRaw(rawText: string, input: VerifyInput): VerifyResult {
  keyIndex = new Map();
  try {
    const expr = parseSingleExpression(rawText);
    const k = knexFor(input.dialect);
    const raw = interpret(expr, { k, input, scope: new Map(), allowRawValues: true }) as Knex.Raw;
    if (!raw || typeof raw.toSQL !== 'function') refuse('the rendered code is not a raw query');
    const compiled = raw.toSQL().toNative() as { sql: string; bindings: readonly unknown[] };
    return compareSql(compiled, input);
  } catch (e) {
    if (e instanceof Refused) return { ok: false, reason: e.message };
    return { ok: false, reason: `Knex rejects the rendered raw query: ${(e as Error).message}` };
  }
}

function compareSql(built: { sql: string; bindings: readonly unknown[] }, input: VerifyInput): VerifyResult {
  let knexSql: string;
  try {
    knexSql = inlineBindings(built.sql, built.bindings, input.dialect);
  } catch (e) {
    return { ok: false, reason: (e as Error).message, sql: built.sql };
  }
  const original = substitutePlaceholders(input.originalSql, (key) => String(sentinel(key, input.canonicalKey)));
  let a: unknown;
  let b: unknown;
  try {
    a = sqlParser().astify(original, { database: PARSER_DB[input.dialect] });
  } catch (e) {
    return { ok: false, reason: `the original statement does not parse as ${input.dialect}` };
  }
  if (input.mapping) {
    const mapped = mapSchema(single(a), input.mapping, input.dialect);
    if (!mapped.ok) return { ok: false, reason: mapped.reason };
    a = mapped.ast;
  }
  try {
    b = sqlParser().astify(knexSql, { database: PARSER_DB[input.dialect] });
  } catch (e) {
    return { ok: false, reason: `the SQL Knex produces does not parse back (${built.sql.slice(0, 120)})`, sql: built.sql };
  }
  const na = normaliseStatement(single(a), input.dialect, input.firstRow ?? false);
  const nb = normaliseStatement(single(b), input.dialect, false);
  const diff = firstDifference(na, nb, '');
  if (diff !== undefined) return { ok: false, reason: `Knex's SQL differs from the original${diff ? ` at ${diff}` : ''}: ${built.sql}`, sql: built.sql };
  return { ok: true, sql: built.sql, bindings: [...built.bindings] };
}

function single(ast: unknown): unknown {
  return Array.isArray(ast) && ast.length === 1 ? ast[0] : ast;
}

// ---- the interpreter ------------------------------------------------------------------------

function parseSingleExpression(text: string): ts.Expression {
  const sf = ts.createSourceFile('rewrite.ts', text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const diags = (sf as unknown as { parseDiagnostics?: ts.Diagnostic[] }).parseDiagnostics ?? [];
  if (diags.length) refuse(`the rendered code does not parse: ${ts.flattenDiagnosticMessageText(diags[0].messageText, ' ')}`);
  if (sf.statements.length !== 1 || !ts.isExpressionStatement(sf.statements[0])) refuse('the rendered code is not a single expression');
  let e = sf.statements[0].expression;
  while (ts.isParenthesizedExpression(e) || ts.isAwaitExpression(e)) e = e.expression;
  return e;
}

interface Env {
  k: Knex;
  input: VerifyInput;
  /** Callback parameter names bound to builders. */
  scope: Map<string, unknown>;
  allowRawValues?: boolean;
}

function interpret(node: ts.Expression, env: Env): unknown {
  while (ts.isParenthesizedExpression(node)) node = node.expression;
  if (ts.isIdentifier(node) && env.scope.has(node.text)) return env.scope.get(node.text);
  if (!ts.isCallExpression(node)) refuse(`\`${short(node)}\` is not a builder call`);
  const callee = node.expression;
  if (ts.isIdentifier(callee)) {
    if (callee.text !== env.input.instance) refuse(`the chain starts with \`${callee.text}\`, not the knex instance \`${env.input.instance}\``);
    if (node.arguments.length !== 1 || !ts.isStringLiteralLike(node.arguments[0])) refuse('the knex instance is called with something other than a table name');
    return env.k((node.arguments[0] as ts.StringLiteral).text);
  }
  if (!ts.isPropertyAccessExpression(callee) || !ts.isIdentifier(callee.name)) refuse(`\`${short(callee)}\` is not a builder method`);
  const method = callee.name.text;
  if (ts.isIdentifier(callee.expression) && callee.expression.text === env.input.instance && method === 'raw' && env.allowRawValues) {
    const args = node.arguments.map((a) => evalArg(a, env));
    if (typeof args[0] !== 'string') refuse('raw() without a SQL string');
    return args.length > 1 ? env.k.raw(args[0], args[1] as Knex.RawBinding) : env.k.raw(args[0]);
  }
  if (!BUILDER_METHODS.has(method)) refuse(`\`.${method}()\` is not a whitelisted builder method`);
  const target = interpret(callee.expression, env) as Record<string, (...a: unknown[]) => unknown>;
  if (!target || typeof target[method] !== 'function') refuse(`\`.${method}()\` does not apply here`);
  const args = node.arguments.map((a) => evalArg(a, env));
  return target[method](...args);
}

function evalArg(node: ts.Expression, env: Env): unknown {
  // A parameter's argument expression stands for that parameter, even when it is a literal.
  const asBinding = env.input.bindings.get(normaliseExprText(node.getText()));
  if (asBinding !== undefined) return env.input.valueFor ? env.input.valueFor(asBinding) : sentinel(asBinding, env.input.canonicalKey);
  while (ts.isParenthesizedExpression(node)) node = node.expression;
  if (ts.isStringLiteralLike(node)) return node.text;
  if (ts.isNumericLiteral(node)) return Number(node.text);
  if (ts.isPrefixUnaryExpression(node) && node.operator === ts.SyntaxKind.MinusToken && ts.isNumericLiteral(node.operand)) return -Number(node.operand.text);
  if (node.kind === ts.SyntaxKind.TrueKeyword) return true;
  if (node.kind === ts.SyntaxKind.FalseKeyword) return false;
  if (node.kind === ts.SyntaxKind.NullKeyword) return null;
  if (ts.isArrayLiteralExpression(node)) return node.elements.map((e) => {
    if (ts.isSpreadElement(e)) refuse('a spread argument');
    return evalArg(e, env);
  });
  if (ts.isObjectLiteralExpression(node)) {
    const out: Record<string, unknown> = Object.create(null);
    for (const p of node.properties) {
      if (ts.isShorthandPropertyAssignment(p)) out[p.name.text] = binding(p.name.text, env);
      else if (ts.isPropertyAssignment(p) && (ts.isIdentifier(p.name) || ts.isStringLiteral(p.name))) out[p.name.text] = evalArg(p.initializer, env);
      else refuse('an object argument with computed keys or methods');
    }
    return { ...out };
  }
  if (ts.isArrowFunction(node)) {
    if (node.parameters.length !== 1 || !ts.isIdentifier(node.parameters[0].name) || ts.isBlock(node.body)) refuse('a callback other than `(q) => q.where(...)`');
    const param = node.parameters[0].name.text;
    const body = node.body as ts.Expression;
    return function (this: unknown, b: unknown) {
      const scope = new Map(env.scope);
      scope.set(param, b);
      interpret(body, { ...env, scope });
    };
  }
  if (ts.isCallExpression(node) && ts.isPropertyAccessExpression(node.expression)) {
    const callee = node.expression;
    const name = callee.name.text;
    // instance.fn.now()
    if (name === 'now' && node.arguments.length === 0 && ts.isPropertyAccessExpression(callee.expression) && callee.expression.name.text === 'fn' && isInstance(callee.expression.expression, env)) {
      return env.k.fn.now();
    }
    if (name === 'ref' && isInstance(callee.expression, env) && node.arguments.length === 1 && ts.isStringLiteralLike(node.arguments[0])) {
      return env.k.ref(node.arguments[0].text);
    }
    if (name === 'raw' && isInstance(callee.expression, env)) {
      const [sql, idents] = node.arguments;
      // A whitelisted function around one value (`lower(?)`, [email]): the value stays a binding.
      if (sql && ts.isStringLiteralLike(sql) && RAW_VALUE_FRAGMENTS.has(sql.text) && node.arguments.length === 2 && idents && ts.isArrayLiteralExpression(idents) && idents.elements.length === 1) {
        return env.k.raw(sql.text, [evalArg(idents.elements[0], env) as Knex.Value]);
      }
      // A fixed SQL fragment with identifier bindings only (`count(??)`, ['id']).
      if (!sql || !ts.isStringLiteralLike(sql) || /\?(?!\?)/.test(sql.text.replace(/\?\?/g, ''))) refuse('raw() with value bindings inside a builder chain');
      if (!idents) return env.k.raw(sql.text);
      if (!ts.isArrayLiteralExpression(idents) || !idents.elements.every(ts.isStringLiteralLike)) refuse('raw() with non-literal identifiers');
      return env.k.raw(sql.text, idents.elements.map((e) => (e as ts.StringLiteral).text));
    }
  }
  return binding(node.getText(), env);
}

function isInstance(node: ts.Expression, env: Env): boolean {
  return ts.isIdentifier(node) && node.text === env.input.instance;
}

function binding(text: string, env: Env): unknown {
  const key = env.input.bindings.get(normaliseExprText(text));
  if (key === undefined) refuse(`\`${text.length > 60 ? text.slice(0, 60) + '…' : text}\` is neither a literal nor a parameter of the original call`);
  return env.input.valueFor ? env.input.valueFor(key) : sentinel(key, env.input.canonicalKey);
}

export function normaliseExprText(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

function short(node: ts.Node): string {
  const t = node.getText();
  return t.length > 60 ? t.slice(0, 60) + '…' : t;
}

// ---- SQL comparison -------------------------------------------------------------------------

function sqlLiteral(v: unknown, dialect: Dialect): string {
  if (v === null) return 'NULL';
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) refuse('a non-finite number binding');
    return v < 0 ? `(${v})` : String(v);
  }
  if (typeof v === 'boolean') return v ? 'TRUE' : 'FALSE';
  if (typeof v === 'string') {
    const body = v.replace(/'/g, "''");
    return `'${dialect === 'mysql' ? body.replace(/\\/g, '\\\\') : body}'`;
  }
  refuse(`a binding of type ${typeof v}`);
}

/** Replaces Knex's placeholders with the bound values as SQL literals. */
function inlineBindings(sql: string, bindings: readonly unknown[], dialect: Dialect): string {
  let i = 0;
  return substitutePlaceholders(sql, (key) => {
    const idx = dialect === 'postgresql' ? Number(key) - 1 : i++;
    if (idx < 0 || idx >= bindings.length) refuse('Knex produced a placeholder without a binding');
    return sqlLiteral(bindings[idx], dialect);
  });
}

type J = Record<string, unknown>;

const DROP_KEYS = new Set(['loc', 'parentheses', 'quoted', 'members', 'prefix', 'suffix', 'collate', 'keyword']);

function lowerIdent(x: unknown): unknown {
  if (typeof x === 'string') return x.toLowerCase();
  if (x && typeof x === 'object') {
    const o = x as J;
    if (o.expr) return lowerIdent(o.expr);
    if (typeof o.value === 'string' && ['default', 'double_quote_string', 'backticks_quote_string'].includes(String(o.type))) return o.value.toLowerCase();
  }
  return x;
}

function normalise(x: unknown, dialect: Dialect): unknown {
  if (Array.isArray(x)) return x.map((v) => normalise(v, dialect));
  if (!x || typeof x !== 'object') return x;
  const o = x as J;
  if (o.type === 'column_ref') return { type: 'column_ref', table: o.table ? lowerIdent(o.table) : null, column: lowerIdent(o.column) };
  if (o.type === 'function') {
    const name = fnName(o);
    if ((name === 'now' && !((o.args as J | undefined)?.value as unknown[] | undefined)?.length) || name === 'current_timestamp') return { type: 'now' };
    return { type: 'function', name, args: normalise(o.args, dialect) };
  }
  if (o.type === 'origin' && String(o.value).toUpperCase() === 'CURRENT_TIMESTAMP') return { type: 'now' };
  if (o.type === 'aggr_func') return { type: 'aggr_func', name: String(o.name).toLowerCase(), args: normalise(o.args, dialect) };
  if (o.type === 'single_quote_string' || o.type === 'string') return { type: 'string', value: String(o.value).replace(/''/g, "'") };
  if (o.type === 'double_quote_string' && dialect === 'mysql') return { type: 'string', value: String(o.value).replace(/""/g, '"') };
  if (o.type === 'number') return { type: 'number', value: Number(o.value) };
  if (o.type === 'unary_expr' && o.operator === '-' && (o.expr as J)?.type === 'number') return { type: 'number', value: -Number((o.expr as J).value) };
  if (o.type === 'binary_expr') {
    let op = String(o.operator).toUpperCase();
    if (op === '!=') op = '<>';
    if (op === 'AND' || op === 'OR') {
      const items: unknown[] = [];
      const flat = (e: unknown) => {
        const b = e as J;
        if (b && b.type === 'binary_expr' && String(b.operator).toUpperCase() === op) {
          flat(b.left);
          flat(b.right);
        } else items.push(normalise(e, dialect));
      };
      flat(o);
      return { type: 'logic', op, items };
    }
    const right = normalise(o.right, dialect) as J;
    // `x + -3` is `x - 3` (Knex's increment/decrement turn a negative amount around).
    if ((op === '+' || op === '-') && right && right.type === 'number' && Number(right.value) < 0) {
      return { type: 'binary_expr', operator: op === '+' ? '-' : '+', left: normalise(o.left, dialect), right: { type: 'number', value: -Number(right.value) } };
    }
    // `x - 0` is `x + 0` (Knex writes a zero decrement as `+ 0`).
    if (op === '-' && right && right.type === 'number' && Number(right.value) === 0) return { type: 'binary_expr', operator: '+', left: normalise(o.left, dialect), right };
    return { type: 'binary_expr', operator: op, left: normalise(o.left, dialect), right };
  }
  const out: J = {};
  for (const key of Object.keys(o).sort()) {
    if (DROP_KEYS.has(key)) continue;
    let v = o[key];
    if (v === null || v === undefined) continue;
    if (Array.isArray(v) && v.length === 0) continue;
    if (key === 'table' || key === 'as' || key === 'db') v = lowerIdent(v);
    else if (key === 'join') v = String(v).toUpperCase().replace(/\s+OUTER/, '').replace(/^JOIN$/, 'INNER JOIN');
    else v = normalise(v, dialect);
    if (v === null || v === undefined) continue;
    out[key] = v;
  }
  return out;
}

function fnName(o: J): string {
  const n = o.name as unknown;
  if (typeof n === 'string') return n.toLowerCase();
  const parts = (n as J | undefined)?.name as Array<{ value?: unknown }> | undefined;
  return Array.isArray(parts) ? parts.map((p) => String(p?.value ?? '')).join('.').toLowerCase() : '';
}

/** Statement-level normalisation on top of `normalise`. */
function normaliseStatement(ast: unknown, dialect: Dialect, firstRow: boolean): unknown {
  const s = structuredClone(ast) as J;
  if (s && s.type === 'select') {
    if (firstRow) {
      const lim = s.limit as J | null | undefined;
      if (!lim || !Array.isArray(lim.value) || lim.value.length === 0) s.limit = { seperator: '', value: [{ type: 'number', value: 1 }] };
    }
    const lim = s.limit as J | null | undefined;
    if (lim && Array.isArray(lim.value) && lim.value.length === 0) delete s.limit;
    // OFFSET 0 is no offset (Knex leaves it out).
    const lv = lim?.value as J[] | undefined;
    if (lim && lv && lv.length === 2 && String(lim.seperator).toLowerCase() === 'offset' && lv[1]?.type === 'number' && Number(lv[1].value) === 0) s.limit = { seperator: '', value: [lv[0]] };
    for (const o of (s.orderby as J[] | null | undefined) ?? []) o.type = String(o.type ?? 'ASC').toUpperCase();
    if (s.distinct && typeof s.distinct === 'object' && !(s.distinct as J).type) delete s.distinct;
  }
  if (s && s.type === 'insert') sortInsert(s, dialect);
  if (s && s.type === 'update' && Array.isArray(s.set)) {
    const set = s.set as J[];
    const names = set.map((x) => String(lowerIdent(x.column)));
    const selfOnly = set.every((x) => refsOnly(x.value, String(lowerIdent(x.column)), names));
    if (selfOnly) set.sort((p, q) => String(lowerIdent(p.column)).localeCompare(String(lowerIdent(q.column))));
  }
  return normalise(s, dialect);
}

/** true when `e` refers to no column being SET other than `self` (then SET order does not matter). */
function refsOnly(e: unknown, self: string, names: string[]): boolean {
  let ok = true;
  const walk = (x: unknown) => {
    if (!ok || !x || typeof x !== 'object') return;
    if (Array.isArray(x)) return x.forEach(walk);
    const o = x as J;
    if (o.type === 'column_ref') {
      const c = String(lowerIdent(o.column));
      if (c !== self && names.includes(c)) ok = false;
      return;
    }
    Object.values(o).forEach(walk);
  };
  walk(e);
  return ok;
}

/** Sorts INSERT columns (Knex sorts object keys) together with each row's values; SQLite's `select … union all` rows become VALUES rows. */
function sortInsert(s: J, dialect: Dialect): void {
  const cols = s.columns as unknown[] | null;
  if (!Array.isArray(cols)) return;
  let values = s.values as J | J[] | undefined;
  let rows: unknown[][] | undefined;
  if (values && !Array.isArray(values) && values.type === 'values') rows = (values.values as J[]).map((r) => r.value as unknown[]);
  else if (Array.isArray(values)) rows = values.map((r) => (r as J).value as unknown[]);
  else if (values && typeof values === 'object' && (values as J).type === 'select' && dialect === 'sqlite') rows = unionRows(values as J);
  if (!rows) return;
  const order = cols.map((c, i) => ({ c: String(lowerIdent(c)), i })).sort((a, b) => a.c.localeCompare(b.c));
  s.columns = order.map((o) => o.c);
  s.values = { type: 'values', values: rows.map((r) => ({ type: 'expr_list', value: order.map((o) => r[o.i]) })) };
  values = undefined;
}

/** `select ? as a, ? as b union all select ? as a, ? as b` → [[?, ?], [?, ?]] (Knex's multi-row insert on SQLite). */
function unionRows(sel: J): unknown[][] | undefined {
  const rows: unknown[][] = [];
  let cur: J | undefined = sel;
  while (cur) {
    if (cur.type !== 'select' || cur.from || cur.where) return undefined;
    const cols = cur.columns as J[];
    if (!Array.isArray(cols)) return undefined;
    rows.push(cols.map((c) => c.expr));
    const next = cur._next as J | undefined;
    if (next && !/union all/i.test(String(cur.set_op ?? ''))) return undefined;
    cur = next;
  }
  return rows;
}

function firstDifference(a: unknown, b: unknown, path: string): string | undefined {
  if (a === b) return undefined;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return path || '(root)';
  if (Array.isArray(a) !== Array.isArray(b)) return path || '(root)';
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    if (a.length !== bb.length) return `${path}[length ${a.length} vs ${bb.length}]`;
    for (let i = 0; i < a.length; i++) {
      const d = firstDifference(a[i], bb[i], `${path}[${i}]`);
      if (d !== undefined) return d;
    }
    return undefined;
  }
  const ao = a as J;
  const bo = b as J;
  const keys = new Set([...Object.keys(ao), ...Object.keys(bo)]);
  for (const k of [...keys].sort()) {
    const d = firstDifference(ao[k], bo[k], path ? `${path}.${k}` : k);
    if (d !== undefined) return d;
  }
  return undefined;
}

/** The placeholder keys of a SQL text in order (re-exported for callers that map arguments). */
export { placeholderKeys };
