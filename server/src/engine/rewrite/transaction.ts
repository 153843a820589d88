/**
 * A hand-written node-postgres transaction (rule manual-transaction) → `knex.transaction()`,
 * offered only for the shape it can prove (issue #5):
 *
 *   const client = await pool.connect();            await db.transaction(async (trx) => {
 *   try {                                              const { rows } = await trx.raw('SELECT … WHERE id = :id', { id });
 *     await client.query('BEGIN');                     await trx.raw('UPDATE …', { … });
 *     const { rows } = await client.query(…, [id]); → });
 *     await client.query('UPDATE …', […]);
 *     await client.query('COMMIT');
 *   } catch (e) { await client.query('ROLLBACK'); throw e; } finally { client.release(); }
 *
 * What must hold (otherwise: not offered, with the reason):
 *   - `const client = await <pool>.connect()` (one declaration), directly followed by the try
 *     (a `BEGIN` between the two is accepted as well);
 *   - exactly one BEGIN, the try block's first statement (or the statement before the try);
 *     `BEGIN ISOLATION LEVEL …` / `READ ONLY` become Knex's `isolationLevel` / `readOnly`;
 *     `READ WRITE`, `DEFERRABLE` and anything else are refused;
 *   - COMMIT is the try block's last statement, or is followed only by `return <name or literal>`
 *     (a value that cannot throw after the commit; then `return await db.transaction(…)`);
 *   - the catch only sends ROLLBACK and rethrows its own error; the finally only `client.release()`;
 *   - inside, every use of the client is an awaited `client.query('<literal SQL>', [values])`,
 *     each converted as "Wrap in db.raw()" does (index.ts `namedBindings`, verified with verify.ts
 *     `verifyRaw`); pg's result comes back through `trx.raw()` unchanged, so `.rows` reads stay;
 *   - no SAVEPOINT / RELEASE / ROLLBACK TO / SET TRANSACTION / second BEGIN or COMMIT inside; an
 *     explicit `await client.query('ROLLBACK')` directly followed by a `throw` is dropped (the
 *     throw makes Knex roll back, and the original's catch rolled back again anyway); any other
 *     ROLLBACK inside is refused;
 *   - no `return`, `break`/`continue` out of, or `yield` in the try block before COMMIT, no `var`
 *     or function declarations in it (they would change scope inside the callback);
 *   - the client never escapes (passed on, returned, stored, used after release).
 *
 * Verification: every converted query is verified as the raw action's; the rendered statement
 * is parsed back and must be `[return] await <instance>.transaction(async (<trx>) => {…}[, config])`
 * with one `<trx>.raw()` per original query and no reference to the client left; the whole file
 * with the edits must parse. Comments inside the catch and finally blocks are not kept.
 */
import * as ts from 'typescript';
import { analyzeSql } from '../sql/analyze';
import { lexSql } from '../sql/lexer';
import { lspLineStart } from '../detect/ts/lines';
import type { Finding, Range } from '../types';
import { analyzeCall, rangeOf, type TextEdit } from './callsite';
import { applyEdits, bindingsMap, instanceInScope, namedBindings, sourceFile, sqlLiteralText, type RewriteAction, type RewriteOptions } from './index';
import { TEMPLATE_NAMES, defaultTemplates, renderRaw, type Templates } from './render';
import { liquidFor } from './templateSet';
import { placeholderKeys } from './plan';
import { compileChain, verifyRaw, type VerifyInput } from './verify';

export type TransactionAction = Omit<RewriteAction, 'target'> & { target: 'knex-transaction' };

export interface TransactionFixResult {
  edits: TextEdit[];
  applied: Array<{ finding: Finding; target: 'knex-transaction' }>;
  skipped: Array<{ finding: Finding; reason: string }>;
}

const DEFAULT_INSTANCE = 'db';

interface Planned {
  /** The edit replacing `const client = …` through the end of the try statement. */
  edit: TextEdit;
  importEdit?: TextEdit;
  /** The SQL Knex sends, per converted query (for the hover). */
  sql: string[];
}

class Refusal extends Error {}
function refuse(reason: string): never {
  throw new Refusal(reason);
}

function findingReason(finding: Finding): string | undefined {
  if (finding.rule !== 'manual-transaction') return 'only manual-transaction findings are rewritten to a Knex transaction';
  if (finding.language === 'python') return 'the Knex transaction rewrite applies to TypeScript and JavaScript';
  if (finding.exception) return `kept on purpose: ${finding.exception.reason}`;
  if (finding.driver === 'unknown') return 'the driver is unknown (the client is not created in this file or in a module it imports by a relative path); only node-postgres (pg) transactions are rewritten';
  if (finding.driver !== 'pg') return `transactions through ${finding.driver} are not rewritten; only node-postgres (pg) transactions are`;
  return undefined;
}

const unwrap = (e: ts.Expression): ts.Expression => {
  while (ts.isParenthesizedExpression(e)) e = e.expression;
  return e;
};

function lineOf(sf: ts.SourceFile, node: ts.Node): number {
  return sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1;
}

/** The SQL text of a literal first argument, or undefined. */
function literalSql(arg: ts.Expression | undefined): string | undefined {
  if (!arg) return undefined;
  const a = unwrap(arg);
  return ts.isStringLiteral(a) || ts.isNoSubstitutionTemplateLiteral(a) ? a.text : undefined;
}

function normSql(sql: string): string {
  return sql.replace(/--[^\n]*/g, ' ').trim().replace(/;\s*$/, '').replace(/\s+/g, ' ').toUpperCase();
}

const BEGIN_RE = /^(?:BEGIN(?: WORK| TRANSACTION)?|START TRANSACTION)(?: (.*))?$/;
const COMMIT_RE = /^(?:COMMIT|END)(?: WORK| TRANSACTION)?$/;
const ROLLBACK_RE = /^(?:ROLLBACK|ABORT)(?: WORK| TRANSACTION)?$/;
const CONTROL_RE = /^(?:BEGIN|START TRANSACTION|COMMIT|END|ROLLBACK|ABORT|SAVEPOINT|RELEASE|SET TRANSACTION|SET SESSION CHARACTERISTICS|PREPARE TRANSACTION)\b/;

/** Knex's TransactionConfig for the BEGIN's modes, as an object literal text ('' for none). */
export function beginConfig(sql: string): { config: string } | { reason: string } {
  const m = BEGIN_RE.exec(normSql(sql));
  if (!m) return { reason: `\`${sql}\` is not a plain BEGIN` };
  let rest = (m[1] ?? '').trim();
  let isolation: string | undefined;
  let readOnly = false;
  while (rest) {
    const iso = /^ISOLATION LEVEL (SERIALIZABLE|REPEATABLE READ|READ COMMITTED|READ UNCOMMITTED)\b/.exec(rest);
    if (iso) {
      if (isolation) return { reason: 'the BEGIN names two isolation levels' };
      isolation = iso[1].toLowerCase();
      rest = rest.slice(iso[0].length);
    } else if (/^READ ONLY\b/.test(rest)) {
      readOnly = true;
      rest = rest.slice('READ ONLY'.length);
    } else if (/^READ WRITE\b/.test(rest)) {
      return { reason: 'BEGIN … READ WRITE has no Knex option (Knex would leave it to default_transaction_read_only); rewrite it by hand' };
    } else if (/^(NOT )?DEFERRABLE\b/.test(rest)) {
      return { reason: 'BEGIN … DEFERRABLE has no Knex transaction option; rewrite it by hand' };
    } else {
      return { reason: `the transaction mode \`${rest}\` is not mapped to a Knex option` };
    }
    rest = rest.replace(/^\s*,?\s*/, '');
  }
  const parts: string[] = [];
  if (isolation) parts.push(`isolationLevel: '${isolation}'`);
  if (readOnly) parts.push('readOnly: true');
  return { config: parts.length ? `{ ${parts.join(', ')} }` : '' };
}

/** `await client.query('<literal>')` as a statement: its SQL, or undefined. */
function controlStatement(st: ts.Statement | undefined, client: string): { sql: string; call: ts.CallExpression } | undefined {
  if (!st || !ts.isExpressionStatement(st)) return undefined;
  const e = unwrap(st.expression);
  if (!ts.isAwaitExpression(e)) return undefined;
  const call = unwrap(e.expression);
  if (!ts.isCallExpression(call) || call.arguments.length !== 1) return undefined;
  const c = call.expression;
  if (!ts.isPropertyAccessExpression(c) || !ts.isIdentifier(c.expression) || c.expression.text !== client || c.name.text !== 'query') return undefined;
  const sql = literalSql(call.arguments[0]);
  return sql === undefined ? undefined : { sql, call };
}

/** A value whose evaluation cannot throw or change anything: a name, a literal, or an object/array of those. */
function cannotThrow(e: ts.Expression): boolean {
  e = unwrap(e);
  if (ts.isIdentifier(e) || ts.isStringLiteralLike(e) || ts.isNumericLiteral(e) || ts.isBigIntLiteral(e)) return true;
  if ([ts.SyntaxKind.TrueKeyword, ts.SyntaxKind.FalseKeyword, ts.SyntaxKind.NullKeyword, ts.SyntaxKind.ThisKeyword].includes(e.kind)) return true;
  if (ts.isArrayLiteralExpression(e)) return e.elements.every((x) => !ts.isSpreadElement(x) && !ts.isOmittedExpression(x) && cannotThrow(x));
  if (ts.isObjectLiteralExpression(e)) {
    return e.properties.every((p) => ts.isShorthandPropertyAssignment(p) && !p.objectAssignmentInitializer || (ts.isPropertyAssignment(p) && (ts.isIdentifier(p.name) || ts.isStringLiteral(p.name)) && cannotThrow(p.initializer)));
  }
  return false;
}

/** A fresh name for the callback parameter: not used anywhere in the enclosing function. */
function freshName(fn: ts.Node, preferred: string[]): string {
  const used = new Set<string>();
  const visit = (n: ts.Node) => {
    if (ts.isIdentifier(n)) used.add(n.text);
    n.forEachChild(visit);
  };
  visit(fn);
  for (const p of preferred) if (!used.has(p)) return p;
  let i = 2;
  while (used.has(`trx${i}`)) i++;
  return `trx${i}`;
}

/** Whether a declaration named `name` exists anywhere under `root`. */
function declares(root: ts.Node, name: string): boolean {
  let found = false;
  const visit = (n: ts.Node) => {
    if (found) return;
    if ((ts.isVariableDeclaration(n) || ts.isParameter(n) || ts.isBindingElement(n) || ts.isFunctionDeclaration(n) || ts.isClassDeclaration(n)) && n.name && ts.isIdentifier(n.name) && n.name.text === name) found = true;
    else if (ts.isBindingElement(n) && ts.isIdentifier(n.name) && n.name.text === name) found = true;
    n.forEachChild(visit);
  };
  visit(root);
  return found;
}

/** Start/end offsets that remove a whole statement line (when the line holds only it). */
function lineSpan(text: string, node: ts.Node, sf: ts.SourceFile): [number, number] {
  let s = node.getStart(sf);
  let e = node.getEnd();
  let ls = s;
  while (ls > 0 && (text[ls - 1] === ' ' || text[ls - 1] === '\t')) ls--;
  let le = e;
  while (le < text.length && (text[le] === ' ' || text[le] === '\t')) le++;
  const lineStartOk = ls === 0 || text[ls - 1] === '\n';
  const lineEndOk = le >= text.length || text[le] === '\n' || (text[le] === '\r' && text[le + 1] === '\n');
  if (lineStartOk && lineEndOk) {
    s = ls;
    e = le < text.length ? (text[le] === '\r' ? le + 2 : le + 1) : le;
  }
  return [s, e];
}

function plan(text: string, fileName: string, finding: Finding, options: RewriteOptions, templates: Templates): Planned {
  const r = findingReason(finding);
  if (r) refuse(r);
  const instance = options.knex?.instance ?? DEFAULT_INSTANCE;
  const sf = sourceFile(text, fileName);
  if (((sf as unknown as { parseDiagnostics?: ts.Diagnostic[] }).parseDiagnostics ?? []).length) refuse('the file does not parse');
  let start: number;
  try {
    start = lspLineStart(sf, finding.range.start.line) + finding.range.start.character;
  } catch {
    refuse('the transaction could not be found in the current text');
  }

  // ---- const client = await pool.connect(); -----------------------------------------------
  let first: ts.CallExpression | undefined;
  const find = (n: ts.Node) => {
    if (first || n.getEnd() <= start || n.getStart(sf) > start) return;
    if (ts.isCallExpression(n) && n.getStart(sf) === start) {
      first = n;
      return;
    }
    n.forEachChild(find);
  };
  find(sf);
  if (!first) refuse('the transaction could not be found in the current text');
  const callee = first.expression;
  if (!ts.isPropertyAccessExpression(callee) || callee.name.text !== 'connect' || first.arguments.length) {
    if (ts.isPropertyAccessExpression(callee) && callee.name.text === 'query') {
      refuse('the client is not checked out in this function (no `pool.connect()` before BEGIN); db.transaction() would run on another connection than the caller\'s client');
    }
    refuse('the transaction does not start with `const client = await pool.connect()`');
  }
  const aw = first.parent;
  const decl = aw && ts.isAwaitExpression(aw) ? aw.parent : undefined;
  if (!decl || !ts.isVariableDeclaration(decl) || decl.initializer !== aw || !ts.isIdentifier(decl.name)) refuse('the connected client is not held in one variable (`const client = await pool.connect()`)');
  const list = decl.parent;
  const varStmt = list.parent;
  if (!ts.isVariableDeclarationList(list) || list.declarations.length !== 1 || !ts.isVariableStatement(varStmt)) refuse('`pool.connect()` shares its statement with other declarations');
  if (!(list.flags & (ts.NodeFlags.Const | ts.NodeFlags.Let))) refuse('the client is declared with `var`');
  const client = decl.name.text;
  let poolRoot: ts.Expression = callee.expression;
  while (ts.isPropertyAccessExpression(poolRoot)) poolRoot = poolRoot.expression;
  const poolName = ts.isIdentifier(poolRoot) ? poolRoot.text : undefined;
  const block = varStmt.parent;
  if (!ts.isBlock(block) && !ts.isSourceFile(block)) refuse('`pool.connect()` is not a statement of a block');
  const fn = ts.findAncestor(varStmt, ts.isFunctionLike) ?? sf;
  const stmts = block.statements;
  let i = stmts.indexOf(varStmt) + 1;
  let outerBegin: { sql: string; call: ts.CallExpression; st: ts.Statement } | undefined;
  const maybeBegin = controlStatement(stmts[i], client);
  if (maybeBegin && BEGIN_RE.test(normSql(maybeBegin.sql))) {
    outerBegin = { ...maybeBegin, st: stmts[i] };
    i++;
  }
  const tryStmt = stmts[i];
  if (!tryStmt || !ts.isTryStatement(tryStmt)) refuse('the statement after `pool.connect()` is not the try … catch … finally that holds the transaction');
  if (!tryStmt.catchClause) refuse('no catch rolls the transaction back');
  if (!tryStmt.finallyBlock) refuse('no finally releases the client');
  const body = tryStmt.tryBlock.statements;

  // ---- BEGIN ------------------------------------------------------------------------------
  let beginSql: string;
  let bodyFrom = 0;
  if (outerBegin) {
    beginSql = outerBegin.sql;
    const c = controlStatement(body[0], client);
    if (c && CONTROL_RE.test(normSql(c.sql))) refuse('a second transaction statement follows BEGIN');
  } else {
    const c = controlStatement(body[0], client);
    if (!c || !BEGIN_RE.test(normSql(c.sql))) refuse('the try block does not start with `await client.query(\'BEGIN\')`');
    beginSql = c.sql;
    bodyFrom = 1;
  }
  const cfg = beginConfig(beginSql);
  if ('reason' in cfg) refuse(cfg.reason);

  // ---- COMMIT [return x] ------------------------------------------------------------------
  let commitIdx = body.length - 1;
  let finalReturn: ts.ReturnStatement | undefined;
  const last = body[body.length - 1];
  if (last && ts.isReturnStatement(last)) {
    finalReturn = last;
    commitIdx--;
  }
  const commit = controlStatement(body[commitIdx], client);
  if (commitIdx < bodyFrom || !commit || !COMMIT_RE.test(normSql(commit.sql))) {
    refuse(finalReturn ? 'COMMIT is not directly before the try block\'s final return' : 'COMMIT is not the last statement of the try block');
  }
  if (finalReturn?.expression && !cannotThrow(finalReturn.expression)) {
    refuse(`\`return ${finalReturn.expression.getText(sf)}\` is evaluated after COMMIT and could throw there; inside db.transaction() it would roll back instead. Bind the value to a const before COMMIT and return that`);
  }

  // ---- catch (e) { ROLLBACK; throw e; } -----------------------------------------------------
  const cc = tryStmt.catchClause;
  const errName = cc.variableDeclaration && ts.isIdentifier(cc.variableDeclaration.name) ? cc.variableDeclaration.name.text : undefined;
  const cs = cc.block.statements;
  const rb = controlStatement(cs[0], client);
  const rethrow = cs[1];
  if (!errName || cs.length !== 2 || !rb || !ROLLBACK_RE.test(normSql(rb.sql)) || !ts.isThrowStatement(rethrow) || !ts.isIdentifier(unwrap(rethrow.expression)) || (unwrap(rethrow.expression) as ts.Identifier).text !== errName) {
    refuse('the catch does more than `await client.query(\'ROLLBACK\')` and rethrowing its own error');
  }

  // ---- finally { client.release(); } -------------------------------------------------------
  const fs = tryStmt.finallyBlock.statements;
  const rel = fs.length === 1 && ts.isExpressionStatement(fs[0]) ? unwrap(fs[0].expression) : undefined;
  const relCall = rel && ts.isAwaitExpression(rel) ? unwrap(rel.expression) : rel;
  const releaseOk = !!relCall && ts.isCallExpression(relCall) && relCall.arguments.length === 0 && ts.isPropertyAccessExpression(relCall.expression) &&
    ts.isIdentifier(relCall.expression.expression) && relCall.expression.expression.text === client && relCall.expression.name.text === 'release';
  if (!releaseOk) refuse('the finally does more than `client.release()`');

  // ---- the transaction's own statements ------------------------------------------------------
  const own = body.slice(bodyFrom, commitIdx);
  const known = new Set<ts.Node>([commit.call, rb.call, relCall as ts.Node]);
  if (outerBegin) known.add(outerBegin.call);
  else known.add(controlStatement(body[0], client)!.call);
  const dropped: ts.Statement[] = [];
  const queries: ts.CallExpression[] = [];

  for (const st of own) {
    const walk = (n: ts.Node, inFn: boolean, breakable: boolean, labels: Set<string>) => {
      if (ts.isFunctionDeclaration(n) && !inFn) refuse(`a function declared inside the transaction (line ${lineOf(sf, n)})`);
      if (ts.isFunctionLike(n)) {
        n.forEachChild((c) => walk(c, true, false, new Set()));
        return;
      }
      if (!inFn) {
        if (ts.isReturnStatement(n)) {
          const sibs = n.parent && (ts.isBlock(n.parent) || ts.isCaseClause(n.parent) || ts.isDefaultClause(n.parent)) ? n.parent.statements : undefined;
          const prev = sibs ? controlStatement(sibs[sibs.indexOf(n) - 1], client) : undefined;
          if (prev && ROLLBACK_RE.test(normSql(prev.sql))) refuse(`the ROLLBACK at line ${lineOf(sf, prev.call)} is followed by something other than \`throw\`; inside db.transaction() the callback would return and commit`);
        }
        if (ts.isReturnStatement(n)) refuse(`a return inside the transaction (line ${lineOf(sf, n)}) skips COMMIT; the original releases the client with the transaction still open`);
        if (ts.isYieldExpression(n)) refuse('a yield inside the transaction');
        if ((ts.isBreakStatement(n) || ts.isContinueStatement(n)) && (n.label ? !labels.has(n.label.text) : !breakable)) refuse(`\`${n.getText(sf)}\` (line ${lineOf(sf, n)}) leaves the try block; it cannot leave a callback`);
        if (ts.isVariableDeclarationList(n) && !(n.flags & (ts.NodeFlags.Const | ts.NodeFlags.Let | ts.NodeFlags.Using | ts.NodeFlags.AwaitUsing))) refuse(`a \`var\` declared inside the transaction (line ${lineOf(sf, n)}) is function-scoped; inside the callback it would not be visible after it`);
      }
      if (ts.isLabeledStatement(n)) {
        const l = new Set(labels);
        l.add(n.label.text);
        n.forEachChild((c) => walk(c, inFn, breakable, l));
        return;
      }
      const loop = ts.isIterationStatement(n, false) || ts.isSwitchStatement(n);
      n.forEachChild((c) => walk(c, inFn, breakable || loop, labels));
    };
    walk(st, false, false, new Set());
  }

  // Every use of the client, anywhere in the function.
  const scope = fn;
  const visit = (n: ts.Node) => {
    if (ts.isIdentifier(n) && n.text === client && n !== decl.name) {
      const p = n.parent;
      if ((ts.isPropertyAccessExpression(p) && p.name === n) || (ts.isPropertyAssignment(p) && p.name === n) || ts.isQualifiedName(p)) return;
      if ((ts.isVariableDeclaration(p) || ts.isParameter(p) || ts.isBindingElement(p) || ts.isFunctionDeclaration(p)) && p.name === n) refuse(`\`${client}\` is declared again in this function`);
      const call = ts.isPropertyAccessExpression(p) && p.expression === n && ts.isCallExpression(p.parent) && p.parent.expression === p ? p.parent : undefined;
      if (call && known.has(call)) return;
      const inOwn = own.some((st) => n.getStart(sf) >= st.getStart(sf) && n.getEnd() <= st.getEnd());
      if (!call || !inOwn) refuse(`\`${n.parent.getText(sf).slice(0, 60)}\` (line ${lineOf(sf, n)}) uses the client outside its queries; it may escape the transaction`);
      if ((p as ts.PropertyAccessExpression).name.text !== 'query') refuse(`\`${client}.${(p as ts.PropertyAccessExpression).name.text}()\` (line ${lineOf(sf, n)}) has no counterpart on a Knex transaction`);
      queries.push(call);
    }
    n.forEachChild(visit);
  };
  visit(scope);

  // ---- each query → trx.raw() ----------------------------------------------------------------
  const trx = freshName(fn, ['trx', 'tx', 'knexTrx']);
  if (fn !== sf && declares(fn, instance)) refuse(`\`${instance}\` names something else inside this function; set rewrite.knex.instance`);
  const innerEdits: Array<{ s: number; e: number; t: string }> = [];
  const sqls: string[] = [];
  for (const call of queries) {
    const line = lineOf(sf, call);
    const sql = literalSql(call.arguments[0]);
    if (sql === undefined) refuse(`the SQL of the query at line ${line} is not a string literal (built at run time or held elsewhere); rewrite it by hand`);
    const up = call.parent;
    if (!ts.isAwaitExpression(up)) refuse(`the query at line ${line} is not awaited where it is made`);
    const ctl = normSql(sql);
    if (CONTROL_RE.test(ctl)) {
      if (ROLLBACK_RE.test(ctl)) {
        const st = up.parent;
        const parentBlock = st?.parent;
        const stmtsOf = parentBlock && (ts.isBlock(parentBlock) || ts.isCaseClause(parentBlock) || ts.isDefaultClause(parentBlock)) ? parentBlock.statements : undefined;
        const next = stmtsOf ? stmtsOf[stmtsOf.indexOf(st as ts.Statement) + 1] : undefined;
        if (!ts.isExpressionStatement(st) || !next || !ts.isThrowStatement(next)) refuse(`the ROLLBACK at line ${line} is followed by something other than \`throw\`; the transaction would go on differently inside db.transaction()`);
        const outer = ts.findAncestor(st, (a) => a === tryStmt.tryBlock || ts.isFunctionLike(a) || ts.isTryStatement(a));
        if (outer !== tryStmt.tryBlock) refuse(`the ROLLBACK at line ${line} is inside a nested ${outer && ts.isTryStatement(outer) ? 'try, whose catch or finally may stop its throw before it leaves the transaction' : 'function'}`);
        dropped.push(st as ts.Statement);
        continue;
      }
      if (/^(SAVEPOINT|RELEASE|ROLLBACK TO)\b/.test(ctl)) refuse(`savepoints (line ${line}) are not mapped; Knex's nested trx.transaction() would be the counterpart`);
      refuse(`\`${sql}\` (line ${line}) controls the transaction from inside it`);
    }
    // node-postgres has only `$n` placeholders: a `?` (jsonb operator) or `:name` in the text would
    // be read as a binding by knex.raw().
    const other = lexSql(sql).placeholders.find((p) => p.style !== 'dollar');
    if (other) refuse(`the query at line ${line} contains \`${sql.slice(other.start, other.end)}\`, which knex.raw() would read as a binding`);
    const info = analyzeSql(sql, 'postgresql');
    if (info.statementCount > 1) refuse(`the query at line ${line} holds several statements`);
    const synthetic: Finding = { rule: 'raw-sql', range: rangeOf(sf, call.getStart(sf), call.getEnd()), language: finding.language, driver: 'pg', kind: info.kind, tables: info.tables, complexity: info.complexity, dynamic: false, message: '', sql: { text: sql, dynamic: false, dynamicParts: [], origin: 'literal' }, info, exception: null };
    const site = analyzeCall(sf, synthetic, sql, { wrapperResults: options.wrapperResults });
    if (!site.ok) refuse(`the query at line ${line}: ${site.reason}`);
    const nb = namedBindings(sql, site.value.params, site.value.canonicalKey);
    if ('reason' in nb) refuse(`the query at line ${line}: ${nb.reason}`);
    let rawText: string;
    try {
      rawText = renderRaw(trx, sqlLiteralText(nb.sql), nb.bindings, templates);
    } catch (e) {
      refuse(`the template failed: ${(e as Error).message}`);
    }
    const input = { instance: trx, dialect: 'postgresql' as const, originalSql: sql, bindings: bindingsMap(site.value), canonicalKey: site.value.canonicalKey };
    // The SQL text is kept: what Knex sends must be the original text, placeholders renumbered in
    // order, each bound to the original's value for that placeholder.
    const sameText = sameRawText(rawText, input);
    if (!sameText.ok) refuse(`the query at line ${line} is not verified: ${sameText.reason}`);
    // And, where node-sql-parser reads the statement (not `… FOR UPDATE`, for one), the raw
    // action's AST comparison as well.
    const v = verifyRaw(rawText, input);
    if (!v.ok && !v.reason.startsWith('the original statement does not parse')) refuse(`the query at line ${line} is not verified: ${v.reason}`);
    sqls.push(sameText.sql);
    innerEdits.push({ s: call.getStart(sf), e: call.getEnd(), t: rawText });
  }
  if (queries.length === dropped.length) refuse('the transaction holds no query');

  // ---- the callback body: the try block's text between its braces ---------------------------
  const tb = tryStmt.tryBlock;
  const from = tb.getStart(sf) + 1;
  const to = tb.getEnd() - 1;
  const removals: ts.Statement[] = [commit.call.parent.parent as ts.Statement, ...dropped];
  if (!outerBegin) removals.push(body[0]);
  for (const st of removals) {
    const [s, e] = lineSpan(text, st, sf);
    innerEdits.push({ s, e, t: '' });
  }
  innerEdits.sort((a, b) => b.s - a.s);
  let inner = text.slice(from, to);
  let lastStart = Infinity;
  for (const x of innerEdits) {
    if (x.e > lastStart) refuse('internal: overlapping edits in the transaction body');
    inner = inner.slice(0, x.s - from) + x.t + inner.slice(x.e - from);
    lastStart = x.s;
  }
  let rendered: string;
  try {
    rendered = liquidFor(templates, TEMPLATE_NAMES).renderFileSync('transaction', { instance, trx, body: inner, config: cfg.config, returns: !!finalReturn }).trim();
  } catch (e) {
    refuse(`the template failed: ${(e as Error).message}`);
  }
  verifyRendered(rendered, { instance, trx, client, queries: queries.length - dropped.length, returns: !!finalReturn, config: cfg.config });

  const inScope = instanceInScope(sf, fileName, instance, poolName, options, templates);
  if (!inScope.ok) refuse(inScope.reason!);
  const edit: TextEdit = { range: rangeOf(sf, varStmt.getStart(sf), tryStmt.getEnd()), newText: rendered };
  const after = applyEdits(text, inScope.importEdit ? [edit, inScope.importEdit] : [edit]);
  const sf2 = sourceFile(after, fileName);
  const diags = (sf2 as unknown as { parseDiagnostics?: ts.Diagnostic[] }).parseDiagnostics ?? [];
  if (diags.length) refuse(`not verified: the rewritten file does not parse (${ts.flattenDiagnosticMessageText(diags[0].messageText, ' ')})`);
  return { edit, importEdit: inScope.importEdit, sql: sqls };
}

/**
 * `trx.raw(…)` compiled by Knex with a marker value per parameter: the SQL must be the original
 * text with its placeholders renumbered `$1, $2, …` in order of occurrence, and the bindings the
 * original's parameter for each occurrence.
 */
function sameRawText(rawText: string, input: VerifyInput): { ok: true; sql: string } | { ok: false; reason: string } {
  const marker = (k: string) => `\u0001sqlmigrate:${k}`;
  let built: { sql: string; bindings: unknown[] };
  try {
    built = compileChain(rawText, { ...input, valueFor: marker });
  } catch (e) {
    return { ok: false, reason: `Knex rejects the rendered raw query: ${(e as Error).message}` };
  }
  const canon = input.canonicalKey ?? ((k: string) => k);
  let expected = '';
  let last = 0;
  const bindings: string[] = [];
  for (const ph of placeholderKeys(input.originalSql)) {
    bindings.push(marker(canon(ph.key)));
    expected += input.originalSql.slice(last, ph.start) + `$${bindings.length}`;
    last = ph.end;
  }
  expected += input.originalSql.slice(last);
  if (built.sql !== expected) return { ok: false, reason: `Knex sends \`${built.sql}\`, not the original text` };
  if (built.bindings.length !== bindings.length || built.bindings.some((b, i) => b !== bindings[i])) return { ok: false, reason: 'Knex binds the values in another order than the original' };
  return { ok: true, sql: built.sql };
}

/** The rendered statement, parsed back: the expected shape or a refusal. */
function verifyRendered(text: string, want: { instance: string; trx: string; client: string; queries: number; returns: boolean; config: string }): void {
  const sf = ts.createSourceFile('transaction.ts', `async function __sqlmigrate() {\n${text}\n}`, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const diags = (sf as unknown as { parseDiagnostics?: ts.Diagnostic[] }).parseDiagnostics ?? [];
  const bad = (why: string): never => refuse(`not verified: the rendered transaction ${why}`);
  if (diags.length) bad(`does not parse (${ts.flattenDiagnosticMessageText(diags[0].messageText, ' ')})`);
  const f = sf.statements[0] as ts.FunctionDeclaration;
  const stmts = f.body!.statements;
  if (stmts.length !== 1) bad('is not one statement');
  const st = stmts[0];
  let e: ts.Expression | undefined;
  if (ts.isReturnStatement(st)) {
    if (!want.returns) bad('returns where the original does not');
    e = st.expression;
  } else if (ts.isExpressionStatement(st)) {
    if (want.returns) bad('does not return the value the original returns');
    e = st.expression;
  }
  if (!e || !ts.isAwaitExpression(e)) bad('is not awaited');
  const call = unwrap((e as ts.AwaitExpression).expression);
  if (!ts.isCallExpression(call) || !ts.isPropertyAccessExpression(call.expression) || call.expression.name.text !== 'transaction' || !ts.isIdentifier(call.expression.expression) || call.expression.expression.text !== want.instance) bad(`is not a call of ${want.instance}.transaction()`);
  const [cb, cfg, ...more] = (call as ts.CallExpression).arguments;
  if (more.length) bad('passes extra arguments');
  if (!cb || !ts.isArrowFunction(cb) || !cb.modifiers?.some((m) => m.kind === ts.SyntaxKind.AsyncKeyword) || cb.parameters.length !== 1 || !ts.isIdentifier(cb.parameters[0].name) || cb.parameters[0].name.text !== want.trx || !ts.isBlock(cb.body)) bad(`does not pass an async (${want.trx}) => { … } callback`);
  if ((cfg ? cfg.getText(sf) : '') !== want.config) bad('does not pass the transaction options of the BEGIN');
  let raws = 0;
  let clientLeft = false;
  const visit = (n: ts.Node) => {
    if (ts.isIdentifier(n) && n.text === want.client && !(ts.isPropertyAccessExpression(n.parent) && n.parent.name === n)) clientLeft = true;
    if (ts.isCallExpression(n) && ts.isPropertyAccessExpression(n.expression) && n.expression.name.text === 'raw' && ts.isIdentifier(n.expression.expression) && n.expression.expression.text === want.trx) raws++;
    n.forEachChild(visit);
  };
  visit(cb);
  if (clientLeft) bad(`still refers to \`${want.client}\``);
  if (raws !== want.queries) bad(`holds ${raws} ${want.trx}.raw() calls for ${want.queries} queries`);
}

function notOffered(title: string, reason: string): TransactionAction {
  return { title, kind: 'quickfix', preferred: false, verified: false, edits: [], reasonNotOffered: reason, target: 'knex-transaction' };
}

function planOrReason(text: string, fileName: string, finding: Finding, options: RewriteOptions): Planned | { reason: string } {
  try {
    return plan(text, fileName, finding, options, options.templates ?? defaultTemplates());
  } catch (e) {
    if (e instanceof Refusal) return { reason: e.message };
    return { reason: `internal error: ${(e as Error).message}` };
  }
}

/**
 * The code action for one manual-transaction finding: `Rewrite as db.transaction()` (preferred,
 * verified) or the same title with `verified: false`, no edits and the reason.
 */
export function transactionRewriteActions(text: string, fileName: string, finding: Finding, options: RewriteOptions = {}): TransactionAction[] {
  const instance = options.knex?.instance ?? DEFAULT_INSTANCE;
  const title = `Rewrite as ${instance}.transaction()`;
  const p = planOrReason(text, fileName, finding, options);
  if ('reason' in p) return [notOffered(title, p.reason)];
  const edits = p.importEdit ? [p.edit, p.importEdit] : [p.edit];
  edits.sort((a, b) => cmp(a.range.start, b.range.start));
  return [{ title, kind: 'quickfix', preferred: true, verified: true, edits, target: 'knex-transaction', knexSql: p.sql.join(';\n') }];
}

/** Why the transaction rewrite is not offered (undefined when it is). */
function cmp(a: Range['start'], b: Range['start']): number {
  return a.line - b.line || a.character - b.character;
}

function overlaps(a: Range, b: Range): boolean {
  return cmp(a.start, b.end) < 0 && cmp(b.start, a.end) < 0;
}

/**
 * Every verified transaction rewrite of a file as one set of non-overlapping edits (the import
 * added once), like `fixAll` for raw-sql findings. Findings of other rules are ignored. Run it
 * before `fixAll`: the raw-sql findings inside a rewritten transaction become `trx.raw()` calls.
 */
export function transactionFixAll(text: string, fileName: string, findings: Finding[], options: RewriteOptions = {}): TransactionFixResult {
  const out: TransactionFixResult = { edits: [], applied: [], skipped: [] };
  let importEdit: TextEdit | undefined;
  for (const f of findings) {
    if (f.rule !== 'manual-transaction') continue;
    const p = planOrReason(text, fileName, f, options);
    if ('reason' in p) {
      out.skipped.push({ finding: f, reason: p.reason });
      continue;
    }
    if (out.edits.some((x) => overlaps(p.edit.range, x.range))) {
      out.skipped.push({ finding: f, reason: 'its edits overlap another rewrite in this file; run fix again' });
      continue;
    }
    out.edits.push(p.edit);
    if (p.importEdit && !importEdit) importEdit = p.importEdit;
    out.applied.push({ finding: f, target: 'knex-transaction' });
  }
  if (importEdit) out.edits.push(importEdit);
  out.edits.sort((a, b) => cmp(a.range.start, b.range.start));
  return out;
}

/**
 * The manual-transaction finding a raw-sql finding lies inside, if any. A statement inside a
 * hand-written transaction must not be rewritten to `db(...)` / `db.raw(...)` on its own: that
 * runs it on another pooled connection, outside the transaction. Callers (fixAll, the editor)
 * can use this to refuse such findings until the transaction itself is rewritten.
 */
export function enclosingManualTransaction(finding: Finding, findings: Finding[]): Finding | undefined {
  if (finding.rule !== 'raw-sql') return undefined;
  return findings.find((t) => t.rule === 'manual-transaction' && cmp(t.range.start, finding.range.start) <= 0 && cmp(finding.range.end, t.range.end) <= 0);
}
