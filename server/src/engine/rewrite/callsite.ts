/**
 * The whole call site, not only the SQL: which driver call this is, where its parameters
 * come from, and how its result is read — so the rewrite can change the reads too.
 *
 *   const { rows } = await pool.query('SELECT * FROM jobs WHERE id = $1', [id]);
 *   → const rows = await db('jobs').where('id', '=', id);
 *
 *   const res = await pool.query('SELECT ...', [id]); return res.rows[0];
 *   → const res = await db('jobs')....first(); return res;
 *
 *   const [result] = await conn.execute('INSERT ...', [a]); return result.insertId;
 *   → const result = await db('t').insert({ a }); return result[0];
 *
 *   const row = db.prepare('SELECT ...').get(id);      (inside an async function)
 *   → const row = await db('t')....first();
 *
 * Shapes not recognised return a reason; nothing is guessed.
 */
import * as ts from 'typescript';
import type { Finding, Range } from '../types';
import { lspLineStart, lspPosition } from '../detect/ts/lines';
import { placeholderKeys } from './plan';
import { normaliseExprText } from './verify';

export interface TextEdit {
  range: Range;
  newText: string;
}

/**
 * What the original call resolves to. `pgjs-result`: postgres.js's result, an array of rows that
 * also carries `count`, `command`, `columns`, … (reads of those have no Knex counterpart).
 */
export type OriginalResult = 'pg-result' | 'mysql-tuple' | 'rows' | 'pgjs-result' | 'row-or-null' | 'row-or-undefined' | 'none' | 'sqlite-run' | 'unknown';

export interface StatementShape {
  kind: 'select' | 'insert' | 'update' | 'delete';
  returning: boolean;
  /** LIMIT / OFFSET present: `.first()` would change them. */
  limited: boolean;
}

export interface CallSite {
  /** The driver call, or the tagged template that runs the statement (postgres.js, @vercel/postgres). */
  call: ts.CallExpression | ts.TaggedTemplateExpression;
  /** The SQL argument expression (for the raw action's placement only). */
  original: OriginalResult;
  sync: boolean;
  /** Parameter key → argument expression source text. */
  params: Map<string, string>;
  canonicalKey: (key: string) => string;
  /** The root identifier of the callee (`pool` in `pool.query`, `db` in `db.any`). */
  calleeRoot?: string;
}

export interface ResultPlan {
  firstRow: boolean;
  /** Builds every edit from the rendered chain text. */
  edits: (chain: string) => TextEdit[];
}

export type Outcome<T> = { ok: true; value: T } | { ok: false; reason: string };

export function rangeOf(sf: ts.SourceFile, start: number, end: number): Range {
  return { start: lspPosition(sf, start), end: lspPosition(sf, end) };
}

function offsetOf(sf: ts.SourceFile, p: Range['start']): number {
  return lspLineStart(sf, p.line) + p.character;
}

/** The call expression (or tagged template) a finding points at. */
export function findCall(sf: ts.SourceFile, finding: Finding): ts.CallExpression | ts.TaggedTemplateExpression | undefined {
  let start: number;
  let end: number;
  try {
    start = offsetOf(sf, finding.range.start);
    end = offsetOf(sf, finding.range.end);
  } catch {
    return undefined;
  }
  let found: ts.CallExpression | ts.TaggedTemplateExpression | undefined;
  const visit = (n: ts.Node) => {
    if (found || n.getEnd() < start || n.getStart(sf) > end) return;
    if ((ts.isCallExpression(n) || ts.isTaggedTemplateExpression(n)) && n.getStart(sf) === start && n.getEnd() === end) {
      found = n;
      return;
    }
    n.forEachChild(visit);
  };
  visit(sf);
  return found;
}

function calleeName(call: ts.CallExpression | ts.TaggedTemplateExpression): string | undefined {
  const c = ts.isCallExpression(call) ? call.expression : call.tag;
  if (ts.isPropertyAccessExpression(c)) return c.name.text;
  if (ts.isIdentifier(c)) return c.text;
  return undefined;
}

function rootIdentifier(e: ts.Expression): string | undefined {
  while (ts.isPropertyAccessExpression(e) || ts.isCallExpression(e) || ts.isElementAccessExpression(e) || ts.isNonNullExpression(e)) e = e.expression;
  if (ts.isIdentifier(e)) return e.text;
  if (e.kind === ts.SyntaxKind.ThisKeyword) return 'this';
  return undefined;
}

/**
 * A parameter expression may be evaluated in a different order, or twice, after the rewrite;
 * only expressions without side effects qualify: names, property reads, literals, templates,
 * arithmetic and `??` over those.
 */
export function isPureExpression(e: ts.Node, allowClock = false): boolean {
  let pure = true;
  const visit = (n: ts.Node) => {
    if (!pure) return;
    // `Date.now()` reads the clock and changes nothing: fine where it is evaluated exactly once.
    if (allowClock && ts.isCallExpression(n) && n.arguments.length === 0 && n.getText() === 'Date.now()') return;
    if (ts.isCallExpression(n) || ts.isNewExpression(n) || ts.isTaggedTemplateExpression(n) || ts.isAwaitExpression(n) || ts.isYieldExpression(n) || ts.isDeleteExpression(n) || ts.isFunctionLike(n) || ts.isClassLike(n)) {
      pure = false;
      return;
    }
    if (ts.isBinaryExpression(n) && n.operatorToken.kind >= ts.SyntaxKind.FirstAssignment && n.operatorToken.kind <= ts.SyntaxKind.LastAssignment) {
      pure = false;
      return;
    }
    if ((ts.isPrefixUnaryExpression(n) || ts.isPostfixUnaryExpression(n)) && (n.operator === ts.SyntaxKind.PlusPlusToken || n.operator === ts.SyntaxKind.MinusMinusToken)) {
      pure = false;
      return;
    }
    n.forEachChild(visit);
  };
  visit(e);
  return pure;
}

/** Maps placeholder keys to argument texts. `values` is an array literal, an identifier holding an array, or a single value. */
function mapParams(sql: string, values: ts.Expression | undefined, style: 'array' | 'array-or-single', sf: ts.SourceFile): Outcome<Map<string, string>> {
  const keys: string[] = [];
  const occurrences = new Map<string, number>();
  for (const p of placeholderKeys(sql)) {
    if (!keys.includes(p.key)) keys.push(p.key);
    occurrences.set(p.key, (occurrences.get(p.key) ?? 0) + 1);
  }
  const out = new Map<string, string>();
  if (!keys.length) return { ok: true, value: out };
  if (!values) return { ok: false, reason: 'the statement has placeholders but the call passes no values' };
  if (keys.some((k) => !/^\d+$/.test(k))) return { ok: false, reason: 'named placeholders are not mapped for this driver' };
  const idx = (k: string) => Number(k) - 1;
  let v = values;
  while (ts.isParenthesizedExpression(v) || ts.isAsExpression(v) || ts.isSatisfiesExpression(v)) v = v.expression;
  if (ts.isArrayLiteralExpression(v)) {
    if (v.elements.some(ts.isSpreadElement)) return { ok: false, reason: 'the values array uses a spread; positions cannot be mapped' };
    for (const k of keys) {
      const el = v.elements[idx(k)];
      if (!el || ts.isOmittedExpression(el)) return { ok: false, reason: `no value for placeholder ${k}` };
      if (!isPureExpression(el, occurrences.get(k) === 1)) return { ok: false, reason: `the value \`${el.getText(sf)}\` may have side effects or depend on evaluation order; bind it to a const first` };
      out.set(k, el.getText(sf));
    }
    return { ok: true, value: out };
  }
  if (style === 'array-or-single' && keys.length === 1 && keys[0] === '1' && !ts.isIdentifier(v)) {
    if (!isPureExpression(v)) return { ok: false, reason: `the value \`${v.getText(sf)}\` may have side effects; bind it to a const first` };
    out.set('1', v.getText(sf));
    return { ok: true, value: out };
  }
  if (ts.isIdentifier(v) && (style === 'array' || keys.length > 1)) {
    for (const k of keys) out.set(k, `${v.text}[${idx(k)}]`);
    return { ok: true, value: out };
  }
  return { ok: false, reason: style === 'array-or-single' ? `\`${v.getText(sf)}\` may be one value or an array of values; pass an array literal` : `the values \`${v.getText(sf)}\` are not an array literal or a variable` };
}

function canonicaliser(params: Map<string, string>): (key: string) => string {
  const firstByText = new Map<string, string>();
  for (const [k, t] of params) {
    const n = normaliseExprText(t);
    if (!firstByText.has(n)) firstByText.set(n, k);
  }
  return (key) => {
    const t = params.get(key);
    return t === undefined ? key : firstByText.get(normaliseExprText(t)) ?? key;
  };
}

export interface SiteOptions {
  /** What project wrappers resolve to, by callee text (`DB.query`): default 'rows'. */
  wrapperResults?: Record<string, OriginalResult>;
}

/** Recognises the driver call and its parameters. */
export function analyzeCall(sf: ts.SourceFile, finding: Finding, sql: string, options: SiteOptions): Outcome<CallSite> {
  const SUPPORTED = ['pg', 'mysql2', 'pg-promise', 'better-sqlite3', 'wrapper', 'sqlite3', 'typeorm', 'sql-tag'];
  if (finding.driver === 'unknown') {
    return { ok: false, reason: 'the driver is unknown (the client is not created in this file or in a module it imports by a relative path), so the shape of its result is unknown' };
  }
  if (!SUPPORTED.includes(finding.driver)) {
    return { ok: false, reason: finding.driver === 'prisma' ? 'Prisma tagged templates ($queryRaw) resolve through Prisma\'s own type mapping; a Knex rewrite of them is not implemented' : `calls through ${finding.driver} are not rewritten to Knex yet` };
  }
  const found = findCall(sf, finding);
  if (!found) return { ok: false, reason: 'the call could not be found in the current text' };
  if (finding.driver === 'sql-tag') return taggedSite(sf, found, sql);
  if (!ts.isCallExpression(found)) return { ok: false, reason: 'a tagged template this rewrite does not know' };
  const call = found;
  const method = calleeName(call);
  const driver = finding.driver;
  const calleeRoot = rootIdentifier(call.expression);
  const done = (original: OriginalResult, params: Outcome<Map<string, string>>, sync = false): Outcome<CallSite> =>
    params.ok ? { ok: true, value: { call, original, sync, params: params.value, canonicalKey: canonicaliser(params.value), calleeRoot } } : params;
  const sqlIsFirst = call.arguments.length >= 1;
  switch (driver) {
    case 'pg':
    case 'mysql2': {
      if (method !== 'query' && method !== 'execute') return { ok: false, reason: `\`${method}()\` is not a query call this rewrite knows` };
      if (!sqlIsFirst) return { ok: false, reason: 'the call has no SQL argument' };
      const first = call.arguments[0];
      let values: ts.Expression | undefined = call.arguments[1];
      if (ts.isObjectLiteralExpression(first)) {
        for (const p of first.properties) {
          if (!ts.isPropertyAssignment(p) || !ts.isIdentifier(p.name)) return { ok: false, reason: 'a query config object with computed or spread properties' };
          if (p.name.text === 'values') values = p.initializer;
          else if (!['text', 'sql', 'name'].includes(p.name.text)) return { ok: false, reason: `the query config option \`${p.name.text}\` changes how the query runs` };
        }
      }
      if (call.arguments.length > 2 || (call.arguments[1] && ts.isFunctionLike(call.arguments[1]))) return { ok: false, reason: 'a callback-style call' };
      if (driver === 'mysql2') {
        const keys = placeholderKeys(sql);
        // mysql2 numbers `?` in order: reuse the ordinal keys.
        void keys;
      }
      return done(driver === 'pg' ? 'pg-result' : 'mysql-tuple', mapParams(sql, values, 'array', sf));
    }
    case 'pg-promise': {
      const results: Record<string, OriginalResult> = { any: 'rows', manyOrNone: 'rows', none: 'none', oneOrNone: 'row-or-null' };
      if (method === 'one' || method === 'many') return { ok: false, reason: `pg-promise's \`${method}()\` throws when the row count is wrong; Knex does not, so the rewrite would drop that check` };
      const original = method ? results[method] : undefined;
      if (!original) return { ok: false, reason: `pg-promise's \`${method}()\` has no Knex counterpart here` };
      if (call.arguments.length > 2) return { ok: false, reason: 'a pg-promise call with a value transformer' };
      if (/\$\d+:\w+|\$\{|\$\(|\$<|\$\[|\$\//.test(sql)) return { ok: false, reason: 'pg-promise named or filtered placeholders ($1:name, ${x}) are not mapped' };
      return done(original, mapParams(sql, call.arguments[1], 'array-or-single', sf));
    }
    case 'better-sqlite3': {
      if (!ts.isPropertyAccessExpression(call.expression)) return { ok: false, reason: 'an unrecognised better-sqlite3 call' };
      const inner = call.expression.expression;
      if (!ts.isCallExpression(inner) || calleeName(inner) !== 'prepare') return { ok: false, reason: 'the statement is prepared elsewhere; rewrite it where `prepare()` and its `.get/.all/.run` are one expression' };
      const results: Record<string, OriginalResult> = { all: 'rows', get: 'row-or-undefined', run: 'sqlite-run' };
      const original = method ? results[method] : undefined;
      if (!original) return { ok: false, reason: `better-sqlite3's \`.${method}()\` has no Knex counterpart here` };
      const args = call.arguments;
      const keys = placeholderKeys(sql);
      if (keys.some((k) => !/^\d+$/.test(k.key))) return { ok: false, reason: 'named parameters (@name, :name, $name) are not mapped yet' };
      if (args.length === 1 && ts.isArrayLiteralExpression(args[0])) return done(original, mapParams(sql, args[0], 'array', sf), true);
      const arr = ts.factory.createArrayLiteralExpression([...args]);
      // Positional arguments behave like an array literal of the same expressions.
      const params = new Map<string, string>();
      for (const k of keys) {
        const el = args[Number(k.key) - 1];
        if (!el || ts.isSpreadElement(el)) return { ok: false, reason: `no argument for placeholder ${k.key}` };
        if (!isPureExpression(el, keys.filter((x) => x.key === k.key).length === 1)) return { ok: false, reason: `the value \`${el.getText(sf)}\` may have side effects; bind it to a const first` };
        params.set(k.key, el.getText(sf));
      }
      void arr;
      return done(original, { ok: true, value: params }, true);
    }
    case 'wrapper': {
      const original = options.wrapperResults?.[finding.callee ?? ''] ?? 'rows';
      if (original === 'unknown') return { ok: false, reason: `what \`${finding.callee}\` returns is unknown; set rewrite.wrappers in .sqlmigrate.json` };
      if (call.arguments.length > 2) return { ok: false, reason: 'a wrapper call with extra arguments' };
      return done(original, mapParams(sql, call.arguments[1], 'array', sf));
    }
    case 'typeorm': {
      // DataSource / EntityManager / QueryRunner `query(sql, params)`: a SELECT resolves to the
      // rows array (what Knex resolves to); other statements to driver-specific shapes, so only
      // a discarded result is rewritten for them (planResult decides).
      if (method !== 'query') return { ok: false, reason: `TypeORM's \`${method}()\` is not a raw query call this rewrite knows` };
      if (call.arguments.length > 2) return { ok: false, reason: 'a TypeORM query() with a structured-result flag' };
      return done('rows', mapParams(sql, call.arguments[1], 'array', sf));
    }
    case 'sqlite3':
      return { ok: false, reason: 'sqlite3 is callback-based; the result flows into a callback, not a value' };
    default:
      return { ok: false, reason: `calls through ${driver} are not rewritten to Knex yet` };
  }
}

// ---- tagged templates (postgres.js, @vercel/postgres, slonik) ---------------------------------

/** The module `name` is imported from in this file (default, named or namespace import). */
function importedFrom(sf: ts.SourceFile, name: string): { module: string; imported: string } | undefined {
  for (const st of sf.statements) {
    if (!ts.isImportDeclaration(st) || !ts.isStringLiteral(st.moduleSpecifier) || !st.importClause || st.importClause.isTypeOnly) continue;
    const mod = st.moduleSpecifier.text;
    const c = st.importClause;
    if (c.name?.text === name) return { module: mod, imported: 'default' };
    if (c.namedBindings && ts.isNamedImports(c.namedBindings)) {
      for (const el of c.namedBindings.elements) if (el.name.text === name) return { module: mod, imported: (el.propertyName ?? el.name).text };
    }
  }
  return undefined;
}

/** `const name = init` at the top level of the file. */
function topLevelConst(sf: ts.SourceFile, name: string): ts.Expression | undefined {
  for (const st of sf.statements) {
    if (!ts.isVariableStatement(st) || !(st.declarationList.flags & ts.NodeFlags.Const)) continue;
    for (const d of st.declarationList.declarations) if (ts.isIdentifier(d.name) && d.name.text === name) return d.initializer;
  }
  return undefined;
}

const TRANSACTION_METHODS = new Set(['begin', 'transaction', 'savepoint', 'reserve', 'connect', 'tx', 'task']);

/** true when `name` at `at` is the parameter of a callback given to `x.begin(…)` / `x.transaction(…)` (a transaction handle). */
function isTransactionHandle(at: ts.Node, name: string): boolean {
  let p: ts.Node | undefined = at.parent;
  while (p) {
    if (ts.isFunctionLike(p) && (p as ts.SignatureDeclaration).parameters.some((q) => ts.isIdentifier(q.name) && q.name.text === name)) {
      const call = p.parent;
      return !!call && ts.isCallExpression(call) && ts.isPropertyAccessExpression(call.expression) && TRANSACTION_METHODS.has(call.expression.name.text);
    }
    p = p.parent;
  }
  return false;
}

/** `${expr}` values ↔ `$n` placeholders: every span a plain value, numbered in order. */
function templateParams(tpl: ts.TemplateLiteral, sql: string, sf: ts.SourceFile): Outcome<Map<string, string>> {
  const spans = ts.isTemplateExpression(tpl) ? tpl.templateSpans.map((s) => s.expression) : [];
  const keys: string[] = [];
  for (const p of placeholderKeys(sql)) if (!keys.includes(p.key)) keys.push(p.key);
  for (const e of spans) {
    if (!isPureExpression(e)) return { ok: false, reason: `the template value \`${e.getText(sf).slice(0, 60)}\` is a fragment, a helper call or has side effects; only plain values become bindings` };
  }
  if (keys.length !== spans.length || keys.some((k, i) => k !== String(i + 1))) return { ok: false, reason: 'the template values do not map one-to-one onto the statement\'s parameters' };
  return { ok: true, value: new Map(keys.map((k, i) => [k, spans[i].getText(sf)])) };
}

function taggedSite(sf: ts.SourceFile, node: ts.CallExpression | ts.TaggedTemplateExpression, sql: string): Outcome<CallSite> {
  const site = (call: ts.CallExpression | ts.TaggedTemplateExpression, original: OriginalResult, params: Outcome<Map<string, string>>, calleeRoot?: string): Outcome<CallSite> =>
    params.ok ? { ok: true, value: { call, original, sync: false, params: params.value, canonicalKey: canonicaliser(params.value), calleeRoot } } : params;
  if (ts.isTaggedTemplateExpression(node)) {
    // postgres.js (`sql\`…\`` on the client from postgres()) or @vercel/postgres (`sql\`…\``).
    if (!ts.isIdentifier(node.tag)) return { ok: false, reason: `the tag \`${node.tag.getText(sf)}\` is not a client this rewrite knows` };
    const tag = node.tag.text;
    const imp = importedFrom(sf, tag);
    if (imp?.module === '@vercel/postgres' && imp.imported === 'sql') return site(node, 'pg-result', templateParams(node.template, sql, sf), tag);
    if (isTransactionHandle(node, tag)) return { ok: false, reason: `\`${tag}\` is a transaction (or reserved connection) handle; a Knex rewrite would run the statement outside it` };
    const init = topLevelConst(sf, tag);
    const ctor = init && ts.isCallExpression(init) && ts.isIdentifier(init.expression) ? importedFrom(sf, init.expression.text) : undefined;
    if (!init || !ts.isCallExpression(init) || ctor?.module !== 'postgres' || ctor.imported !== 'default') return { ok: false, reason: `\`${tag}\` is not a postgres.js client created in this file (postgres(…)) or @vercel/postgres's sql` };
    const opts = init.arguments.find(ts.isObjectLiteralExpression);
    if (opts?.properties.some((p) => p.name && ts.isIdentifier(p.name) && ['transform', 'types'].includes(p.name.text))) return { ok: false, reason: 'the postgres.js client transforms rows or types; Knex would return them untransformed' };
    if (init.arguments.some((a) => ts.isSpreadElement(a)) || (opts && opts.properties.some(ts.isSpreadAssignment))) return { ok: false, reason: 'the postgres.js client options are spread; transforms cannot be ruled out' };
    return site(node, 'pgjs-result', templateParams(node.template, sql, sf), tag);
  }
  // slonik: pool.any(sql.unsafe`…`) / pool.query(sql.unsafe`…`).
  const method = calleeName(node);
  const arg = node.arguments[0];
  if (node.arguments.length !== 1 || !arg || !ts.isTaggedTemplateExpression(arg)) return { ok: false, reason: 'the SQL is not a tagged template passed directly to the call' };
  const tag = arg.tag;
  let rootNode: ts.Expression = tag;
  while (ts.isPropertyAccessExpression(rootNode) || ts.isCallExpression(rootNode)) rootNode = rootNode.expression;
  const root = ts.isIdentifier(rootNode) ? rootNode.text : undefined;
  if (!root || importedFrom(sf, root)?.module !== 'slonik') return { ok: false, reason: 'a tagged template whose library is not known here' };
  if (!(ts.isIdentifier(tag) || (ts.isPropertyAccessExpression(tag) && tag.name.text === 'unsafe'))) return { ok: false, reason: 'slonik\'s sql.type(…) / sql.typeAlias(…) validate and transform the rows at run time; Knex would not' };
  const results: Record<string, OriginalResult> = { any: 'rows', query: 'pg-result' };
  const original = method ? results[method] : undefined;
  if (!original) return { ok: false, reason: `slonik's \`${method}()\` checks the row count or picks a column; Knex would not` };
  const receiver = ts.isPropertyAccessExpression(node.expression) && ts.isIdentifier(node.expression.expression) ? node.expression.expression.text : undefined;
  if (!receiver) return { ok: false, reason: 'an unrecognised slonik call' };
  if (isTransactionHandle(node, receiver)) return { ok: false, reason: `\`${receiver}\` is a transaction (or reserved connection) handle; a Knex rewrite would run the statement outside it` };
  return site(node, original, templateParams(arg.template, sql, sf), receiver);
}

// ---- how the result is read -----------------------------------------------------------------

function skipParensUp(n: ts.Node): ts.Node {
  while (n.parent && ts.isParenthesizedExpression(n.parent)) n = n.parent;
  return n;
}

function enclosingFunction(n: ts.Node): ts.SignatureDeclaration | undefined {
  let p: ts.Node | undefined = n.parent;
  while (p) {
    if (ts.isFunctionLike(p)) return p as ts.SignatureDeclaration;
    p = p.parent;
  }
  return undefined;
}

function isAsync(fn: ts.SignatureDeclaration): boolean {
  return !!ts.getCombinedModifierFlags(fn as unknown as ts.Declaration) && ((ts.getCombinedModifierFlags(fn as unknown as ts.Declaration) & ts.ModifierFlags.Async) !== 0);
}

function fnLabel(fn: ts.SignatureDeclaration, sf: ts.SourceFile): string {
  const name = fn.name && ts.isIdentifier(fn.name) ? fn.name.text : undefined;
  if (name) return `\`${name}\``;
  const p = fn.parent;
  if (p && ts.isVariableDeclaration(p) && ts.isIdentifier(p.name)) return `\`${p.name.text}\``;
  return `the function at line ${lspPosition(sf, fn.getStart(sf)).line + 1}`;
}

type Use =
  | { kind: 'prop'; name: string; node: ts.PropertyAccessExpression; index0?: ts.ElementAccessExpression }
  | { kind: 'index0'; node: ts.ElementAccessExpression }
  | { kind: 'other'; node: ts.Identifier };

function classifyUse(id: ts.Identifier): Use {
  const p = id.parent;
  if (ts.isPropertyAccessExpression(p) && p.expression === id) {
    const pp = p.parent;
    if (ts.isElementAccessExpression(pp) && pp.expression === p && ts.isNumericLiteral(pp.argumentExpression) && pp.argumentExpression.text === '0') {
      return { kind: 'prop', name: p.name.text, node: p, index0: pp };
    }
    return { kind: 'prop', name: p.name.text, node: p };
  }
  if (ts.isElementAccessExpression(p) && p.expression === id && ts.isNumericLiteral(p.argumentExpression) && p.argumentExpression.text === '0') return { kind: 'index0', node: p };
  return { kind: 'other', node: id };
}

/** Every read of the variable declared by `decl`, or a reason (shadowing, writes). */
function usesOf(decl: ts.Identifier, sf: ts.SourceFile): Outcome<Use[]> {
  const name = decl.text;
  let scope: ts.Node = decl;
  while (scope.parent && !ts.isBlock(scope) && !ts.isSourceFile(scope) && !ts.isFunctionLike(scope)) scope = scope.parent;
  const uses: Use[] = [];
  let reason: string | undefined;
  const visit = (n: ts.Node) => {
    if (reason) return;
    if (ts.isIdentifier(n) && n.text === name && n !== decl) {
      const p = n.parent;
      if ((ts.isPropertyAccessExpression(p) && p.name === n) || (ts.isPropertyAssignment(p) && p.name === n) || ts.isQualifiedName(p)) return;
      if ((ts.isVariableDeclaration(p) || ts.isParameter(p) || ts.isBindingElement(p) || ts.isFunctionDeclaration(p)) && p.name === n) {
        reason = `\`${name}\` is declared again in the same scope`;
        return;
      }
      if (ts.isShorthandPropertyAssignment(p)) {
        uses.push({ kind: 'other', node: n });
        return;
      }
      if (ts.isBinaryExpression(p) && p.left === n && p.operatorToken.kind >= ts.SyntaxKind.FirstAssignment && p.operatorToken.kind <= ts.SyntaxKind.LastAssignment) {
        reason = `\`${name}\` is reassigned`;
        return;
      }
      uses.push(classifyUse(n));
    }
    n.forEachChild(visit);
  };
  visit(scope);
  if (reason) return { ok: false, reason };
  void sf;
  return { ok: true, value: uses };
}

function edit(sf: ts.SourceFile, node: ts.Node, newText: string): TextEdit {
  return { range: rangeOf(sf, node.getStart(sf), node.getEnd()), newText };
}

/**
 * How the call's value is read, and the edits that make those reads fit Knex's result:
 * rows for SELECT / RETURNING, the affected-row count for UPDATE / DELETE, insert ids for
 * MySQL and SQLite inserts.
 */
export function planResult(sf: ts.SourceFile, site: CallSite, stmt: StatementShape): Outcome<ResultPlan> {
  const { call, original } = site;
  const fail = (reason: string): Outcome<ResultPlan> => ({ ok: false, reason });
  // The value node: `await call` for promise drivers, the call itself for better-sqlite3.
  let valueNode: ts.Node;
  if (site.sync) {
    const fn = enclosingFunction(call);
    if (!fn) return fail('better-sqlite3 is synchronous and this call is at the top level; Knex needs an async function');
    if (!isAsync(fn)) return fail(`better-sqlite3 is synchronous and ${fnLabel(fn, sf)} is not async; making it async would change its callers`);
    valueNode = skipParensUp(call);
  } else {
    const up = skipParensUp(call);
    if (up.parent && ts.isReturnStatement(up.parent) && (original === 'rows' || original === 'row-or-null')) {
      // `return db.any(...)` in an async function: returning the builder (a thenable) resolves the same way.
      const fn = enclosingFunction(call);
      const isSelectish = stmt.kind === 'select' || stmt.returning;
      if (fn && isAsync(fn) && isSelectish) {
        if (original === 'rows') return { ok: true, value: { firstRow: false, edits: (c) => [edit(sf, call, c)] } };
        if (stmt.kind === 'select' && !stmt.limited) return { ok: true, value: { firstRow: true, edits: (c) => [edit(sf, call, `(await ${c}) ?? null`)] } };
      }
    }
    if (!up.parent || !ts.isAwaitExpression(up.parent)) return fail('the call is not awaited where it is made (a promise escapes or `.then` is used)');
    valueNode = skipParensUp(up.parent);
  }
  const awaited = (chain: string) => (site.sync ? `await ${chain}` : chain);
  // The node replaced by the chain: the call for promise drivers (the `await` stays).
  const callEdit = (chain: string) => edit(sf, call, site.sync ? `await ${chain}` : chain);
  const parenthesised = (chain: string) => `(await ${chain})`;
  const replaceValue = (text: string) => edit(sf, valueNode, text);
  const parent = valueNode.parent;
  const mutating = stmt.kind !== 'select';
  const rowsValue = stmt.kind === 'select' || stmt.returning;
  const countValue = (stmt.kind === 'update' || stmt.kind === 'delete') && !stmt.returning;
  const canFirst = stmt.kind === 'select' && !stmt.limited;

  // Discarded: any statement, any driver.
  if (ts.isExpressionStatement(parent)) return { ok: true, value: { firstRow: false, edits: (c) => [callEdit(c)] } };
  void awaited;

  const decl = ts.isVariableDeclaration(parent) && parent.initializer === valueNode ? parent : undefined;
  const nameNode = decl?.name;

  switch (original) {
    case 'rows': {
      if (!rowsValue) return fail('the original call returns rows for this statement; Knex returns a count or ids');
      return { ok: true, value: { firstRow: false, edits: (c) => [callEdit(c)] } };
    }
    case 'pgjs-result': {
      if (!rowsValue) return fail('postgres.js resolves this statement to an empty row list with a count; Knex resolves to the count');
      if (!nameNode) return fail('the postgres.js result is used as a whole; it also carries count, command and columns, which Knex\'s rows do not');
      if (ts.isIdentifier(nameNode)) {
        const uses = usesOf(nameNode, sf);
        if (!uses.ok) return uses;
        for (const u of uses.value) {
          if (u.kind === 'prop' && ['count', 'command', 'columns', 'statement', 'state'].includes(u.name)) return fail(`\`${u.node.getText(sf)}\` reads postgres.js result metadata that Knex's rows do not carry`);
          if (u.kind === 'other') return fail(`\`${nameNode.text}\` is passed on as a whole; it also carries postgres.js result metadata`);
        }
      } else if (!ts.isArrayBindingPattern(nameNode) || nameNode.elements.some((e) => ts.isBindingElement(e) && !!e.dotDotDotToken)) return fail('an unsupported destructuring of the postgres.js result');
      return { ok: true, value: { firstRow: false, edits: (c) => [callEdit(c)] } };
    }
    case 'none':
      if (nameNode && ts.isIdentifier(nameNode)) {
        const uses = usesOf(nameNode, sf);
        if (uses.ok && uses.value.length === 0) return { ok: true, value: { firstRow: false, edits: (c) => [callEdit(c)] } };
      }
      return fail("the result of pg-promise's none() is used");
    case 'row-or-undefined':
      if (canFirst) return { ok: true, value: { firstRow: true, edits: (c) => [callEdit(c)] } };
      if (stmt.returning) return { ok: true, value: { firstRow: false, edits: (c) => [replaceValue(`${parenthesised(c)}[0]`)] } };
      return fail('`.get()` on a statement with LIMIT/OFFSET; rewrite by hand');
    case 'row-or-null':
      if (canFirst) return { ok: true, value: { firstRow: true, edits: (c) => [replaceValue(`${parenthesised(c)} ?? null`)] } };
      if (stmt.returning) return { ok: true, value: { firstRow: false, edits: (c) => [replaceValue(`${parenthesised(c)}[0] ?? null`)] } };
      return fail('`oneOrNone()` on a statement with LIMIT/OFFSET; rewrite by hand');
    case 'sqlite-run': {
      if (!nameNode || !ts.isIdentifier(nameNode)) return fail("the result of `.run()` is used in a way this rewrite does not map");
      const uses = usesOf(nameNode, sf);
      if (!uses.ok) return uses;
      const edits: Array<(c: string) => TextEdit> = [];
      for (const u of uses.value) {
        if (u.kind === 'prop' && u.name === 'changes' && countValue) edits.push(() => edit(sf, u.node, nameNode.text));
        else if (u.kind === 'prop' && u.name === 'lastInsertRowid' && stmt.kind === 'insert' && !stmt.returning) edits.push(() => edit(sf, u.node, `${nameNode.text}[0]`));
        else return fail(`\`${u.node.getText(sf)}\` has no Knex counterpart for this statement`);
      }
      return { ok: true, value: { firstRow: false, edits: (c) => [callEdit(c), ...edits.map((e) => e(c))] } };
    }
    case 'pg-result':
      return pgResult();
    case 'mysql-tuple':
      return mysqlTuple();
    default:
      return fail('the call returns something this rewrite does not map');
  }

  function pgResult(): Outcome<ResultPlan> {
    // `(await pool.query(...)).rows` / `.rows[0]` / `.rowCount`
    if (ts.isPropertyAccessExpression(parent) && parent.expression === valueNode) {
      const name = parent.name.text;
      const idx = parent.parent;
      if (name === 'rows' && ts.isElementAccessExpression(idx) && idx.expression === parent && ts.isNumericLiteral(idx.argumentExpression) && idx.argumentExpression.text === '0') {
        if (canFirst) return { ok: true, value: { firstRow: true, edits: (c) => [edit(sf, idx, parenthesised(c))] } };
        if (rowsValue) return { ok: true, value: { firstRow: false, edits: (c) => [edit(sf, idx, `${parenthesised(c)}[0]`)] } };
      }
      if (name === 'rows' && rowsValue) return { ok: true, value: { firstRow: false, edits: (c) => [edit(sf, parent, parenthesised(c))] } };
      if (name === 'rowCount' && countValue) return { ok: true, value: { firstRow: false, edits: (c) => [edit(sf, parent, parenthesised(c))] } };
      if (name === 'rowCount' && rowsValue) return { ok: true, value: { firstRow: false, edits: (c) => [edit(sf, parent, `${parenthesised(c)}.length`)] } };
      return fail(`\`.${name}\` of the pg result has no Knex counterpart for this statement`);
    }
    if (!nameNode) return fail('the pg result object is used as a whole (returned or passed on); Knex resolves to rows or a count instead');
    if (ts.isObjectBindingPattern(nameNode)) {
      if (nameNode.elements.length !== 1) return fail('several fields of the pg result are destructured');
      const el = nameNode.elements[0];
      const prop = el.propertyName ? (ts.isIdentifier(el.propertyName) ? el.propertyName.text : undefined) : ts.isIdentifier(el.name) ? el.name.text : undefined;
      if (el.dotDotDotToken || el.initializer) return fail('a rest or default in the destructuring');
      if (prop === 'rows' && rowsValue) {
        if (ts.isIdentifier(el.name)) {
          const local = el.name.text;
          // `const { rows } = …; return rows[0]` → `.first()` when every read is rows[0].
          const uses = usesOf(el.name, sf);
          if (uses.ok && canFirst && uses.value.length > 0 && uses.value.every((u) => u.kind === 'index0')) {
            return { ok: true, value: { firstRow: true, edits: (c) => [edit(sf, nameNode, local), callEdit(c), ...uses.value.map((u) => edit(sf, u.node, local))] } };
          }
          return { ok: true, value: { firstRow: false, edits: (c) => [edit(sf, nameNode, local), callEdit(c)] } };
        }
        if (ts.isArrayBindingPattern(el.name) && el.name.elements.length === 1 && ts.isBindingElement(el.name.elements[0]) && ts.isIdentifier(el.name.elements[0].name) && !el.name.elements[0].dotDotDotToken) {
          const local = el.name.elements[0].name.text;
          if (canFirst) return { ok: true, value: { firstRow: true, edits: (c) => [edit(sf, nameNode, local), callEdit(c)] } };
          return { ok: true, value: { firstRow: false, edits: (c) => [edit(sf, nameNode, `[${local}]`), callEdit(c)] } };
        }
        return fail('an unsupported destructuring of `rows`');
      }
      if (prop === 'rowCount' && countValue && ts.isIdentifier(el.name)) {
        const local = el.name.text;
        return { ok: true, value: { firstRow: false, edits: (c) => [edit(sf, nameNode, local), callEdit(c)] } };
      }
      return fail(`\`${prop ?? '?'}\` of the pg result has no Knex counterpart for this statement`);
    }
    if (!ts.isIdentifier(nameNode)) return fail('an unsupported destructuring of the pg result');
    const uses = usesOf(nameNode, sf);
    if (!uses.ok) return uses;
    const name = nameNode.text;
    const us = uses.value;
    for (const u of us) if (u.kind !== 'prop' || !['rows', 'rowCount'].includes(u.name)) return fail(`\`${u.node.getText(sf)}\` reads the pg result in a way Knex's result does not support`);
    const props = us as Array<Extract<Use, { kind: 'prop' }>>;
    if (canFirst && props.length > 0 && props.every((u) => u.name === 'rows' && u.index0)) {
      return { ok: true, value: { firstRow: true, edits: (c) => [callEdit(c), ...props.map((u) => edit(sf, u.index0!, name))] } };
    }
    const edits: TextEdit[] = [];
    for (const u of props) {
      if (u.name === 'rows' && rowsValue) edits.push(edit(sf, u.node, name));
      else if (u.name === 'rowCount' && countValue) edits.push(edit(sf, u.node, name));
      else if (u.name === 'rowCount' && rowsValue) edits.push(edit(sf, u.node, `${name}.length`));
      else if (u.name === 'rowCount' && stmt.kind === 'insert') continue; // Knex resolves a pg INSERT without RETURNING to pg's result.
      else return fail(`\`${u.node.getText(sf)}\` has no Knex counterpart for this statement`);
    }
    return { ok: true, value: { firstRow: false, edits: (c) => [callEdit(c), ...edits] } };
  }

  function mysqlTuple(): Outcome<ResultPlan> {
    if (!nameNode) return fail('the mysql2 result tuple is used as a whole; Knex resolves to rows, ids or a count instead');
    if (!ts.isArrayBindingPattern(nameNode) || nameNode.elements.length !== 1) return fail('the mysql2 result is read other than as `const [rows] = …`');
    const el = nameNode.elements[0];
    if (!ts.isBindingElement(el) || el.dotDotDotToken || el.initializer) return fail('an unsupported destructuring of the mysql2 result');
    if (ts.isArrayBindingPattern(el.name)) {
      const inner = el.name.elements;
      if (inner.length === 1 && ts.isBindingElement(inner[0]) && ts.isIdentifier(inner[0].name) && canFirst) {
        const local = inner[0].name.text;
        return { ok: true, value: { firstRow: true, edits: (c) => [edit(sf, nameNode, local), callEdit(c)] } };
      }
      return fail('an unsupported destructuring of the mysql2 rows');
    }
    if (!ts.isIdentifier(el.name)) return fail('an unsupported destructuring of the mysql2 result');
    const local = el.name;
    const uses = usesOf(local, sf);
    if (!uses.ok) return uses;
    const edits: TextEdit[] = [];
    if (rowsValue) {
      if (canFirst && uses.value.length > 0 && uses.value.every((u) => u.kind === 'index0')) {
        return { ok: true, value: { firstRow: true, edits: (c) => [edit(sf, nameNode, local.text), callEdit(c), ...uses.value.map((u) => edit(sf, u.node, local.text))] } };
      }
    } else {
      for (const u of uses.value) {
        if (u.kind === 'prop' && u.name === 'insertId' && stmt.kind === 'insert') edits.push(edit(sf, u.node, `${local.text}[0]`));
        else if (u.kind === 'prop' && u.name === 'affectedRows' && countValue) edits.push(edit(sf, u.node, local.text));
        else return fail(`\`${u.node.getText(sf)}\` has no Knex counterpart for this statement`);
      }
    }
    void mutating;
    return { ok: true, value: { firstRow: false, edits: (c) => [edit(sf, nameNode, local.text), callEdit(c), ...edits] } };
  }
}
