/**
 * The Python rules over a FileModel: raw SQL at driver calls, SQLAlchemy `text()`, project
 * wrappers and unknown callees; legacy `session.query(...)` chains; session factory usage;
 * synchronous database calls inside `async def`.
 */
import type { Node } from 'web-tree-sitter';
import type { DetectOptions, Dialect, Finding, Problem, Range, RecoveredSql, SqlInfo, StatementKind } from '../../types';
import { isSqlText } from '../../sql/analyze';
import { lexSql } from '../../sql/lexer';
import { dialectForDriver, dynamicPlaceholder, rawSqlFinding, sessionFinding, truncate } from '../common';
import type { Binding, CallSite, FileModel, Scope } from './model';
import { argument, firstPositional, hasText, lookup, Resolver, toRecoveredSql } from './resolve';
import { decodeString, snippet, stringValue } from './strings';

/** Import roots that name a DB-API driver, and the driver id they stand for. */
const DRIVER_BY_MODULE: Record<string, string> = {
  sqlite3: 'sqlite3',
  psycopg2: 'psycopg2',
  psycopg: 'psycopg',
  asyncpg: 'asyncpg',
  pymysql: 'pymysql',
  MySQLdb: 'mysqlclient',
};
const SQLALCHEMY_MODULES = new Set(['sqlalchemy', 'sqlmodel', 'flask_sqlalchemy']);
const DIALECTS = new Set<unknown>(['postgresql', 'mysql', 'sqlite']);

/** Methods that take SQL text as their first argument on a DB-API / asyncpg / SQLAlchemy receiver. */
const DB_METHODS = new Set([
  'execute', 'executemany', 'executescript', 'exec_driver_sql', 'fetch', 'fetchrow', 'fetchval',
  'read_sql', 'read_sql_query', 'copy_expert', 'copy', 'prepare', 'cursor', 'stream',
]);
/** Of those, the ones whose argument is SQL even when we cannot see it. */
const EXECUTE_METHODS = new Set(['execute', 'executemany', 'executescript']);
const ASYNCPG_METHODS = new Set(['fetch', 'fetchrow', 'fetchval', 'execute', 'executemany']);
const PANDAS_METHODS = new Set(['read_sql', 'read_sql_query']);
/** Methods of a SQLAlchemy TextClause that return it refined: still the same statement. */
export const TEXT_REFINERS = new Set(['bindparams', 'columns', 'execution_options', 'params', 'with_only_columns']);
/** Driver helper functions taking SQL at another position: `execute_values(cur, sql, rows)`. */
const DRIVER_HELPERS: Record<string, { sqlArgument: number }> = {
  execute_values: { sqlArgument: 1 },
  execute_batch: { sqlArgument: 1 },
};
const SQL_KEYWORD_ARGS = ['sql', 'query', 'statement', 'operation', 'stmt'];

/** SQLAlchemy 1.x Query methods that continue or end a `session.query(...)` chain. */
const QUERY_METHODS = new Set([
  'filter', 'filter_by', 'join', 'outerjoin', 'order_by', 'group_by', 'having', 'limit', 'offset', 'distinct',
  'options', 'with_entities', 'add_columns', 'add_entity', 'select_from', 'subquery', 'correlate', 'union', 'union_all',
  'first', 'one', 'one_or_none', 'all', 'count', 'scalar', 'get', 'delete', 'update', 'exists', 'yield_per',
  'execution_options', 'with_for_update', 'populate_existing', 'params', 'slice', 'from_self', 'values', 'value',
  'enable_eagerloads', 'autoflush', 'statement', 'cte', 'as_scalar', 'scalar_subquery', 'paginate', 'get_or_404',
  'first_or_404', 'one_or_404', 'where',
]);
const MEDIUM_QUERY_METHODS = new Set(['join', 'outerjoin', 'group_by', 'having', 'subquery', 'union', 'union_all', 'cte', 'from_self', 'select_from']);
/** Session methods that block when the session is synchronous. */
const SYNC_SESSION_METHODS = new Set([
  'execute', 'scalars', 'scalar', 'commit', 'flush', 'add', 'add_all', 'get', 'delete', 'merge', 'refresh',
  'rollback', 'bulk_save_objects', 'bulk_insert_mappings', 'bulk_update_mappings', 'get_one', 'connection',
]);

/** Callees whose string arguments are not SQL statements, whatever they look like. */
const DENY_FUNCTIONS = new Set([
  'print', 'input', 'str', 'repr', 'len', 'format', 'open', 'isinstance', 'getattr', 'setattr', 'hasattr', 'dict', 'list',
  'tuple', 'set', 'sorted', '_', 'gettext', 'ngettext', 'lazy_gettext', 'pgettext', 'gettext_lazy', 'render_template',
  'render_template_string', 'render', 'jsonify', 'flash', 'abort', 'redirect', 'Markup', 'escape', 'dedent', 'cleandoc',
  'compile', 'eval', 'exec', 'HTTPException', 'Response', 'JSONResponse', 'HTMLResponse', 'PlainTextResponse', 'gql',
  'Template', 'text', 'literal_column', 'column', 'table', 'quoted_name', 'DDL', 'mark_safe', 'SQL', 'Identifier', 'Literal',
]);
const DENY_ROOTS = new Set([
  're', 'regex', 'subprocess', 'os', 'shlex', 'logging', 'warnings', 'argparse', 'click', 'typer', 'json', 'yaml', 'requests',
  'httpx', 'aiohttp', 'urllib', 'sys', 'pytest', 'unittest', 'mock', 'st', 'textwrap', 'string', 'shutil', 'pathlib', 'sql',
  'gettext', 'rich', 'console', 'parser', 'structlog', 'sa', 'sqlalchemy', 'func', 'sqlparse',
]);
const DENY_METHODS = new Set([
  'debug', 'info', 'warning', 'warn', 'error', 'exception', 'critical', 'fatal', 'log', 'msg', 'add_argument', 'add_option',
  'set_defaults', 'add_parser', 'echo', 'secho', 'style', 'prompt', 'confirm', 'option', 'argument', 'command', 'startswith',
  'endswith', 'split', 'rsplit', 'splitlines', 'replace', 'strip', 'lstrip', 'rstrip', 'lower', 'upper', 'title',
  'capitalize', 'format', 'format_map', 'join', 'encode', 'decode', 'find', 'rfind', 'index', 'rindex', 'count',
  'partition', 'rpartition', 'match', 'fullmatch', 'search', 'sub', 'subn', 'findall', 'finditer', 'compile', 'get', 'pop',
  'setdefault', 'append', 'extend', 'insert', 'remove', 'add', 'discard', 'write', 'writelines', 'send', 'sendall', 'emit',
  'put', 'post', 'patch', 'head', 'request', 'fail', 'skipTest', 'set_description', 'setText', 'setToolTip',
  'setPlaceholderText', 'addItem', 'label', 'button', 'markdown', 'caption', 'header', 'subheader', 'translate',
  'raise_for_status', 'set_title', 'print', 'notify', 'respond', 'reply', 'say', 'alert', 'toast', 'mogrify', 'callproc',
  'text', 'literal_column', 'label', 'comment', 'DDL',
]);
/** A callee name that suggests its argument is a query: `run_query`, `_sql`, `fetch_all`. */
const SQLISH_CALLEE = /(?:^|_)(?:query|sql|exec|execute|fetch|fetchall|fetchone|select|raw|statement|stmt|run_sql)(?:_|$)/i;

type ReceiverKind = 'cursor' | 'connection' | 'pool' | 'session' | 'async-session' | 'sa-connection' | 'engine';

interface Receiver {
  kind?: ReceiverKind;
  /** Session evidence strong enough for `session.commit()` style rules (not only a short name like `s`). */
  strong: boolean;
  driver?: string;
  /** Bound by `async with` / `await`: an asynchronous driver or session. */
  async: boolean;
  /** Known from its name only (`session`, `cur`), not from a binding or an annotation. */
  byName?: boolean;
}

/** Callees and annotations that make HTTP or cloud sessions, not database sessions. */
const NOT_DB = /^(requests|aiohttp|httpx|urllib3|boto3|botocore|aioboto3|grpc|paramiko|ftplib|smtplib|websockets|tornado)\b|(^|\.)(ClientSession|AsyncClient|HTTPSession|TCPConnector)$/;

interface Ctx {
  model: FileModel;
  options: DetectOptions;
  resolver: Resolver;
  findings: Finding[];
  problems: Problem[];
  consumed: Set<number>;
  /** Calls that already have their sync-in-async finding. */
  syncReported: Set<number>;
  /** DB-API drivers imported, in order. */
  drivers: string[];
  sqlalchemy: boolean;
  flask: boolean;
  pandas: boolean;
  engineDialect?: Dialect;
  tables: Map<string, string>;
  factories: string[];
  /** The file calls or references a session factory. */
  usesFactory: boolean;
}

export function runRules(model: FileModel, options: DetectOptions): { findings: Finding[]; problems: Problem[]; models: Map<string, string> } {
  const imports = model.imports;
  const drivers: string[] = [];
  for (const root of imports.roots) {
    const d = DRIVER_BY_MODULE[root];
    if (d && !drivers.includes(d)) drivers.push(d);
  }
  const ctx: Ctx = {
    model,
    options,
    resolver: undefined as unknown as Resolver,
    findings: [],
    problems: [],
    consumed: new Set(),
    syncReported: new Set(),
    drivers,
    sqlalchemy: imports.roots.some((r) => SQLALCHEMY_MODULES.has(r)),
    flask: imports.roots.includes('flask_sqlalchemy'),
    pandas: imports.roots.includes('pandas'),
    tables: tablesOf(model),
    factories: Array.isArray(options?.sessionFactories) ? options.sessionFactories.filter((f) => typeof f === 'string' && f) : ['get_session'],
    usesFactory: false,
  };
  ctx.resolver = new Resolver(model, (call) => textCallKind(ctx, call));
  ctx.engineDialect = engineDialectOf(ctx);
  ctx.usesFactory = ctx.factories.some((f) => new RegExp(`\\b${escapeRegExp(f.split('.').pop()!)}\\b`).test(model.text));

  let internal = 0;
  for (const site of model.calls) {
    try {
      visitCall(ctx, site);
    } catch (e) {
      if (internal++ < 3) {
        ctx.problems.push({
          message: `Internal error while analysing a call (${e instanceof Error ? e.message : String(e)}); the call was skipped`,
          range: rangeOf(site.node),
        });
      }
    }
  }
  return { findings: ctx.findings, problems: ctx.problems, models: ctx.tables };
}

function visitCall(ctx: Ctx, site: CallSite): void {
  const call = site.node;
  if (ctx.consumed.has(call.id)) return;
  const fn = call.childForFieldName('function');
  const args = call.childForFieldName('arguments');
  if (!fn) return;
  const fnText = fn.type === 'identifier' || fn.type === 'attribute' ? short(fn) ?? '' : '';
  const method = fn.type === 'attribute' ? fn.childForFieldName('attribute')?.text ?? '' : fn.type === 'identifier' ? fn.text : '';
  const receiver = fn.type === 'attribute' ? fn.childForFieldName('object') : null;

  // Session factories: calls, and references passed as arguments (`Depends(get_session)`).
  if (fnText && isFactory(ctx, fnText)) {
    sessionUsage(ctx, site, call, `Session factory \`${fnText}()\` opens a database session`, fnText);
    return;
  }
  if (args?.type === 'argument_list') {
    for (const a of args.namedChildren) {
      const v = a?.type === 'keyword_argument' ? a.childForFieldName('value') : a;
      if (v && (v.type === 'identifier' || v.type === 'attribute') && short(v) !== undefined && isFactory(ctx, v.text)) {
        ctx.findings.push(sessionFinding({
          rule: 'session-usage', range: rangeOf(v), language: 'python', driver: 'sqlalchemy', kind: 'session',
          message: `Session factory \`${v.text}\` passed to \`${displayCallee(fn)}\` opens a database session`, callee: v.text,
        }));
      }
    }
  }

  if (!site.chainInner && legacyChain(ctx, site)) return;

  if (receiver && DB_METHODS.has(method)) {
    if (dbCall(ctx, site, method, receiver, args)) return;
  } else if (fn.type === 'identifier' && PANDAS_METHODS.has(method) && (ctx.pandas || ctx.model.imports.symbols.get(method)?.startsWith('pandas'))) {
    if (dbCall(ctx, site, method, null, args)) return;
  }
  if (receiver && SYNC_SESSION_METHODS.has(method)) syncSessionMethod(ctx, site, method, receiver);

  if (textCallKind(ctx, call) === 'text') {
    bareText(ctx, site, args);
    return;
  }
  const wrapper = wrapperFor(ctx, fnText);
  if (wrapper) {
    const index = Number.isInteger(wrapper.sqlArgument) && wrapper.sqlArgument >= 0 ? wrapper.sqlArgument : 0;
    wrapperCall(ctx, site, fnText, index, DIALECTS.has(wrapper.dialect) ? wrapper.dialect : undefined, args, 'wrapper');
    return;
  }
  const helper = DRIVER_HELPERS[method];
  if (helper && fnText) {
    const from = fn.type === 'identifier' ? ctx.model.imports.symbols.get(method) : fnText;
    const driver = from ? driverOfCallee(ctx, from.split('.')[0]) ?? DRIVER_BY_MODULE[from.split('.')[0]] : undefined;
    if (driver) {
      wrapperCall(ctx, site, fnText, helper.sqlArgument, undefined, args, driver);
      return;
    }
  }
  unknownCall(ctx, site, fn, fnText, method, receiver, args);
}

// ---------------------------------------------------------------------------------------------
// Raw SQL

function dbCall(ctx: Ctx, site: CallSite, method: string, receiverNode: Node | null, args: Node | null): boolean {
  const sqlArg = argument(args, 0, PANDAS_METHODS.has(method) ? ['sql'] : SQL_KEYWORD_ARGS);
  if (!sqlArg) return false;
  let inner = sqlArg;
  for (let i = 0; inner.type === 'parenthesized_expression' && inner.firstNamedChild && i < 100; i++) inner = inner.firstNamedChild;
  let viaText = false;
  // `text("...")`, also refined: `text("...").bindparams(x=1).columns(...)`.
  for (let t: Node | null = inner, i = 0; t && t.type === 'call' && i < 20; i++) {
    if (textCallKind(ctx, t) === 'text') {
      viaText = true;
      ctx.consumed.add(t.id);
      break;
    }
    const f = t.childForFieldName('function');
    if (f?.type !== 'attribute' || !TEXT_REFINERS.has(f.childForFieldName('attribute')?.text ?? '')) break;
    t = f.childForFieldName('object');
  }
  // `conn.cursor()` without SQL, `cur.copy(...)` on a file: only those methods with text count.
  const receiver = receiverNode ? receiverOf(ctx, receiverNode, site.scope, site.node.startIndex) : { strong: false, async: false };
  if (method === 'cursor' && inner.type !== 'string' && inner.type !== 'concatenated_string' && !viaText) return false;
  const recovery = ctx.resolver.recover(sqlArg, site.scope, site.node.startIndex);
  const callee = receiverNode ? `${displayText(receiverNode)}.${method}` : method;
  let driver = driverOf(ctx, method, receiver, viaText, site.awaited);
  if (PANDAS_METHODS.has(method) && !viaText) {
    // `pd.read_sql(sql, con)`: the connection argument tells the driver.
    const con = argument(args, 1, ['con']);
    const r = con ? receiverOf(ctx, con, site.scope, site.node.startIndex) : undefined;
    if (r?.kind) driver = driverOf(ctx, 'execute', r, false, false);
  }
  if (recovery.kind === 'text-var') {
    // The `text()` call the name holds is the finding; this call only runs it.
    return false;
  }
  if (recovery.kind === 'core' || recovery.kind === 'not-text') return false;
  if (recovery.kind === 'sql' && hasText(recovery.rec)) {
    const sql = toRecoveredSql(recovery.rec);
    const dialect = dialectOf(ctx, driver, sql.text);
    if (!isSqlText(sql.text, 'driver', dialect)) return false;
    const f = rawSqlFinding({ range: rangeOf(site.node), language: 'python', driver, callee, sql, dialect });
    ctx.findings.push(f);
    syncRaw(ctx, site, f, receiver, driver, callee);
    return true;
  }
  const strong =
    viaText ||
    PANDAS_METHODS.has(method) ||
    method === 'exec_driver_sql' ||
    (EXECUTE_METHODS.has(method) && (receiver.kind === 'cursor' || receiver.kind === 'connection')) ||
    (ASYNCPG_METHODS.has(method) && ctx.drivers.includes('asyncpg') && (receiver.kind === 'connection' || receiver.kind === 'pool'));
  if (!strong) return false;
  const src = recovery.kind === 'unresolved' ? recovery.src : snippet(sqlArg);
  const f = unresolvedFinding(ctx, site.node, driver, callee, src, sqlArg);
  ctx.findings.push(f);
  syncRaw(ctx, site, f, receiver, driver, callee);
  return true;
}

function unresolvedFinding(ctx: Ctx, call: Node, driver: string, callee: string, src: string, arg: Node): Finding {
  const variable = arg.type === 'identifier' || arg.type === 'attribute' ? short(arg) : undefined;
  const sql: RecoveredSql = {
    text: dynamicPlaceholder(1),
    dynamic: true,
    dynamicParts: [src],
    origin: variable ? 'variable' : 'concatenation',
    ...(variable ? { variable } : {}),
  };
  const dialect = dialectOf(ctx, driver, '');
  const f = rawSqlFinding({ range: rangeOf(call), language: 'python', driver, callee, sql, dialect });
  const info: SqlInfo | undefined = f.info ? { ...f.info, kind: 'other', parseError: `the SQL text is not visible here: it comes from \`${truncate(src, 60)}\`` } : undefined;
  return {
    ...f,
    kind: 'other',
    info,
    message: `Raw SQL via ${callee}: the statement comes from \`${truncate(src, 60)}\`, which cannot be resolved in this file; review it by hand`,
  };
}

function bareText(ctx: Ctx, site: CallSite, args: Node | null): void {
  const arg = argument(args, 0, ['text']);
  if (!arg) return;
  const recovery = ctx.resolver.recover(arg, site.scope, site.node.startIndex);
  const callee = displayCallee(site.node.childForFieldName('function')!);
  if (recovery.kind === 'sql' && hasText(recovery.rec)) {
    const sql = toRecoveredSql(recovery.rec);
    const dialect = dialectOf(ctx, 'sqlalchemy', sql.text);
    if (!isSqlText(sql.text, 'driver', dialect)) return;
    ctx.findings.push(rawSqlFinding({ range: rangeOf(site.node), language: 'python', driver: 'sqlalchemy', callee, sql, dialect }));
  } else if (recovery.kind === 'unresolved' || (recovery.kind === 'sql' && !hasText(recovery.rec))) {
    const src = recovery.kind === 'unresolved' ? recovery.src : snippet(arg);
    ctx.findings.push(unresolvedFinding(ctx, site.node, 'sqlalchemy', callee, src, arg));
  }
}

function wrapperCall(ctx: Ctx, site: CallSite, callee: string, index: number, dialectHint: Dialect | undefined, args: Node | null, driver: string): void {
  const arg = argument(args, index, SQL_KEYWORD_ARGS);
  if (!arg) return;
  const recovery = ctx.resolver.recover(arg, site.scope, site.node.startIndex);
  if (recovery.kind === 'sql' && hasText(recovery.rec)) {
    const sql = toRecoveredSql(recovery.rec);
    const dialect = dialectHint ?? dialectOf(ctx, driver, sql.text);
    if (!isSqlText(sql.text, 'driver', dialect)) return;
    const f = rawSqlFinding({ range: rangeOf(site.node), language: 'python', driver, callee, sql, dialect });
    ctx.findings.push(f);
    syncRaw(ctx, site, f, { strong: false, async: false }, driver, callee);
  } else if (recovery.kind === 'unresolved' || recovery.kind === 'sql') {
    const src = recovery.kind === 'unresolved' ? recovery.src : snippet(arg);
    const f = unresolvedFinding(ctx, site.node, driver, callee, src, arg);
    ctx.findings.push(f);
    syncRaw(ctx, site, f, { strong: false, async: false }, driver, callee);
  }
}

function unknownCall(ctx: Ctx, site: CallSite, fn: Node, fnText: string, method: string, receiver: Node | null, args: Node | null): void {
  if (site.inRaise || !args || args.type !== 'argument_list') return;
  if (denied(fn, fnText, method, receiver)) return;
  const arg = firstPositional(args);
  if (!arg) return;
  let a = arg;
  for (let i = 0; a.type === 'parenthesized_expression' && a.firstNamedChild && i < 100; i++) a = a.firstNamedChild;
  const literalish = a.type === 'string' || a.type === 'concatenated_string' || a.type === 'binary_operator' ||
    (a.type === 'call' && a.childForFieldName('function')?.childForFieldName('attribute')?.text === 'format');
  const named = (a.type === 'identifier' || a.type === 'attribute' || a.type === 'subscript') && SQLISH_CALLEE.test(method);
  if (!literalish && !named) return;
  const recovery = ctx.resolver.recover(arg, site.scope, site.node.startIndex);
  if (recovery.kind !== 'sql' || !hasText(recovery.rec)) return;
  const sql = toRecoveredSql(recovery.rec);
  const driver = 'unknown';
  const dialect = dialectOf(ctx, ctx.drivers[0] ?? driver, sql.text);
  if (!isSqlText(sql.text, 'unknown', dialect)) return;
  ctx.findings.push(rawSqlFinding({ range: rangeOf(site.node), language: 'python', driver, callee: displayCallee(fn), sql, dialect }));
}

function denied(fn: Node, fnText: string, method: string, receiver: Node | null): boolean {
  if (fn.type === 'identifier') return DENY_FUNCTIONS.has(fnText) || /(?:Error|Exception|Warning)$/.test(fnText);
  if (fn.type !== 'attribute') return true;
  if (DENY_METHODS.has(method) || /^assert/.test(method)) return true;
  const rootText = fnText.split('.')[0];
  if (DENY_ROOTS.has(rootText)) return true;
  const recv = receiver ? short(receiver) ?? '' : '';
  if (receiver && receiver.type !== 'call' && /(?:^|[._])_*(?:log|logger|logging|console|parser|args|argparser|ui|view|window|widget|form|messages|i18n)$/i.test(recv)) return true;
  if (/(?:Error|Exception|Warning)$/.test(method)) return true;
  // A literal string receiver: `"...".format(...)`, `", ".join(...)`.
  if (receiver && (receiver.type === 'string' || receiver.type === 'concatenated_string')) return true;
  return false;
}

function syncRaw(ctx: Ctx, site: CallSite, raw: Finding, receiver: Receiver, driver: string, callee: string): void {
  const fnName = asyncFunction(site.scope);
  if (fnName === undefined || site.awaited || receiver.async || driver === 'asyncpg') return;
  if (receiver.kind === 'async-session' || ctx.syncReported.has(site.node.id)) return;
  ctx.syncReported.add(site.node.id);
  ctx.findings.push(sessionFinding({
    rule: 'sync-in-async', range: raw.range, language: 'python', driver, kind: raw.kind,
    tables: raw.tables, dynamic: false, callee,
    message: `Synchronous database call \`${callee}(...)\` inside async def \`${fnName}\` blocks the event loop`,
  }));
}

// ---------------------------------------------------------------------------------------------
// Sessions

function legacyChain(ctx: Ctx, site: CallSite): boolean {
  // The chain from the outermost call down: `a.query(A).filter(x).all()` → [all, filter, query].
  const members: Node[] = [];
  let c: Node | null = site.node;
  for (let i = 0; c && c.type === 'call' && i < 500; i++) {
    members.push(c);
    const fn: Node | null = c.childForFieldName('function');
    const obj: Node | null = fn?.type === 'attribute' ? fn.childForFieldName('object') : null;
    c = obj?.type === 'call' ? obj : null;
  }
  // The innermost `.query(...)` on a session-like receiver, or `Model.query.<method>(...)`.
  let queryIndex = -1;
  let entities: string[] = [];
  let receiverText = '';
  let queryArgs = '';
  let receiver: Receiver | undefined;
  for (let i = members.length - 1; i >= 0; i--) {
    const m = members[i];
    const fn = m.childForFieldName('function');
    if (fn?.type !== 'attribute') continue;
    const attr = fn.childForFieldName('attribute')?.text;
    const obj = fn.childForFieldName('object');
    if (!obj) continue;
    if (attr === 'query') {
      const args = m.childForFieldName('arguments');
      const first = args?.type === 'argument_list' ? firstPositional(args) : null;
      if (!first || first.type === 'string' || first.type === 'concatenated_string' || first.type === 'binary_operator') continue;
      const r = receiverOf(ctx, obj, site.scope, m.startIndex);
      if (r.kind !== 'session' && r.kind !== 'async-session') continue;
      queryIndex = i;
      entities = entitiesOf(args!);
      queryArgs = snippet(args!, 62).replace(/^\(|\)$/g, '');
      receiverText = displayText(obj);
      receiver = r;
      break;
    }
    if (i === members.length - 1 && QUERY_METHODS.has(attr ?? '') && obj.type === 'attribute' && obj.childForFieldName('attribute')?.text === 'query') {
      const model = obj.childForFieldName('object');
      if (model?.type === 'identifier' && /^[A-Z]/.test(model.text) && (ctx.flask || isFlaskModel(ctx, model.text) || importedFlaskModel(ctx, model.text))) {
        queryIndex = i + 1; // the `.query` attribute itself is the chain's root
        entities = [model.text];
        receiverText = model.text;
        receiver = { kind: 'session', strong: true, async: false };
        break;
      }
    }
  }
  if (queryIndex < 0) return false;
  // The chain ends at the outermost Query method above the query call.
  let topIndex = queryIndex >= members.length ? members.length - 1 : queryIndex;
  for (let i = topIndex - 1; i >= 0; i--) {
    const attr = members[i].childForFieldName('function')?.childForFieldName('attribute')?.text ?? '';
    if (!QUERY_METHODS.has(attr)) break;
    topIndex = i;
  }
  const top = members[topIndex];
  const chain = members.slice(topIndex, Math.min(queryIndex + 1, members.length));
  for (const m of chain) ctx.consumed.add(m.id);
  const methods = chain.map((m) => m.childForFieldName('function')?.childForFieldName('attribute')?.text ?? '').reverse();
  const terminal = methods[methods.length - 1];
  const kind: StatementKind = terminal === 'delete' ? 'delete' : terminal === 'update' ? 'update' : 'select';
  const tables = entities.map((e) => ctx.tables.get(e)).filter((t): t is string => !!t);
  const flask = queryIndex >= members.length;
  const display = flask ? `${receiverText}.query${methods.length ? '….' + terminal + '()' : ''}` : `${receiverText}.query(${queryArgs || '…'})${methods.length > 1 ? '….' + terminal + '()' : ''}`;
  const complexity = methods.some((m) => MEDIUM_QUERY_METHODS.has(m)) ? 'medium' : 'simple';
  const models = flask ? entities.join(', ') : queryArgs || entities.join(', ') || '…';
  const target = kind === 'delete'
    ? `session.execute(delete(${entities[0] ?? '…'}).where(…))`
    : kind === 'update'
      ? `session.execute(update(${entities[0] ?? '…'}).where(…).values(…))`
      : (terminal === 'get' || terminal === 'get_or_404') && entities.length === 1 && /^[A-Z]\w*$/.test(models)
        ? `session.get(${models}, …)`
      : entities.length === 1 && /^[A-Z]\w*$/.test(models) && !methods.includes('count') ? `session.scalars(select(${models})…)` : `session.execute(select(${models})…)`;
  ctx.findings.push(sessionFinding({
    rule: 'session-legacy-query', range: rangeOf(top), language: 'python', driver: 'sqlalchemy', kind,
    message: `Legacy SQLAlchemy 1.x Query \`${display}\`${entities.length ? ` on ${entities.join(', ')}` : ''}: rewrite as \`${target}\` (2.0 style)`,
    callee: flask ? `${receiverText}.query` : `${receiverText}.query`, entities, tables, complexity,
  }));
  const fnName = asyncFunction(site.scope);
  const topSite = site;
  if (fnName !== undefined && !topSite.awaited && receiver && !receiver.async && receiver.kind !== 'async-session') {
    ctx.findings.push(sessionFinding({
      rule: 'sync-in-async', range: rangeOf(top), language: 'python', driver: 'sqlalchemy', kind, entities, tables,
      callee: `${receiverText}.query`,
      message: `Synchronous database call \`${display}\` inside async def \`${fnName}\` blocks the event loop`,
    }));
  }
  return true;
}

function entitiesOf(args: Node): string[] {
  const out: string[] = [];
  for (const a of args.namedChildren) {
    if (!a || a.type === 'keyword_argument' || a.type === 'comment') continue;
    const text = short(a, 400) ?? a.text.slice(0, 400);
    if (a.type === 'identifier') {
      if (/^[A-Z]/.test(text)) out.push(text);
      continue;
    }
    if (a.type === 'attribute') {
      const seg = text.split('.').find((s) => /^[A-Z]/.test(s));
      if (seg) out.push(seg);
      continue;
    }
    for (const m of text.matchAll(/(?<![\w.])([A-Z][A-Za-z0-9_]*)\.[A-Za-z_]/g)) out.push(m[1]);
  }
  return [...new Set(out)];
}

function sessionUsage(ctx: Ctx, site: CallSite, call: Node, message: string, callee: string): void {
  ctx.findings.push(sessionFinding({
    rule: 'session-usage', range: rangeOf(call), language: 'python', driver: 'sqlalchemy', kind: 'session', message, callee,
  }));
  const fnName = asyncFunction(site.scope);
  if (fnName !== undefined && !site.awaited && site.withItem !== 'async') {
    ctx.findings.push(sessionFinding({
      rule: 'sync-in-async', range: rangeOf(call), language: 'python', driver: 'sqlalchemy', kind: 'session', callee,
      message: `Synchronous database call \`${callee}()\` inside async def \`${fnName}\` blocks the event loop`,
    }));
  }
}

function syncSessionMethod(ctx: Ctx, site: CallSite, method: string, receiverNode: Node): void {
  const fnName = asyncFunction(site.scope);
  if (fnName === undefined || site.awaited || site.withItem === 'async') return;
  const r = receiverOf(ctx, receiverNode, site.scope, site.node.startIndex);
  if (r.kind !== 'session' || !r.strong || r.async) return;
  // A bare `session` in a file that never imports SQLAlchemy may be an HTTP session.
  if (r.byName && !ctx.sqlalchemy && !ctx.usesFactory) return;
  // Already reported with the raw SQL finding on this call.
  if (ctx.syncReported.has(site.node.id)) return;
  ctx.syncReported.add(site.node.id);
  const callee = `${displayText(receiverNode)}.${method}`;
  ctx.findings.push(sessionFinding({
    rule: 'sync-in-async', range: rangeOf(site.node), language: 'python', driver: 'sqlalchemy', kind: 'session', callee,
    message: `Synchronous database call \`${callee}(...)\` inside async def \`${fnName}\` blocks the event loop`,
  }));
}

function isFactory(ctx: Ctx, text: string): boolean {
  for (const f of ctx.factories) {
    if (text === f || text.endsWith('.' + f)) return true;
    if (!f.includes('.') && text.split('.').pop() === f) return true;
  }
  return false;
}

function isFlaskModel(ctx: Ctx, name: string): boolean {
  const cls = ctx.model.classes.get(name);
  return !!cls?.bases?.some((b) => /(^|\.)Model$/.test(b) && b !== 'BaseModel');
}

/**
 * A class imported from the project's models module (`models`, `app.models`, `.models.post`) in a
 * file that does not import flask_sqlalchemy itself: `from .models import Post`, then
 * `Post.query.filter(…)` is a Flask-SQLAlchemy (or `query_property()`) legacy query. A class from
 * any other module (`from .settings import Config`; `Config.query.get(…)`) is not taken for one.
 */
function importedFlaskModel(ctx: Ctx, name: string): boolean {
  const from = ctx.model.imports.symbols.get(name);
  if (!from || ctx.model.classes.has(name)) return false;
  const module = from.slice(0, from.lastIndexOf('.'));
  return /(^|\.)models?(\.|$)/.test(module);
}

// ---------------------------------------------------------------------------------------------
// Receivers and drivers

function receiverOf(ctx: Ctx, node: Node, scope: Scope, at: number, depth = 0): Receiver {
  const none: Receiver = { strong: false, async: false };
  if (depth > 8) return none;
  let n = node;
  for (let i = 0; n.type === 'parenthesized_expression' && n.firstNamedChild && i < 100; i++) n = n.firstNamedChild;
  if (n.type === 'call' || n.type === 'await') return valueKind(ctx, n, scope, at, depth + 1, false) ?? none;
  if (n.type !== 'identifier' && n.type !== 'attribute') return none;
  const text = short(n);
  if (text === undefined) return none;
  const found = lookup(text, scope, at);
  if (found && !found.param) {
    const b = lastBase(found.bindings);
    if (b?.value) {
      const v = valueKind(ctx, b.value, found.scope, b.start, depth + 1, !!b.asyncWith);
      if (v) return v;
    }
  } else if (found?.param) {
    const ann = found.scope.params.get(text);
    if (ann) {
      const v = annotationKind(ctx, short(ann) ?? '');
      if (v) return v;
    }
  }
  if (n.type === 'attribute' && /^(self|cls)\.[A-Za-z_]\w*$/.test(text)) {
    for (let s: Scope | undefined = scope; s; s = s.parent) {
      if (s.kind !== 'class') continue;
      const attr = text.split('.')[1];
      const bs = s.attrs?.get(attr);
      const b = bs ? lastBase(bs) : undefined;
      if (b?.value) {
        const owner = ctx.model.scopes.find((x) => x.bindings.get(b.name)?.includes(b)) ?? s;
        const v = valueKind(ctx, b.value, owner, b.start, depth + 1, !!b.asyncWith);
        if (v) return v;
      }
      break;
    }
  }
  return nameKind(ctx, text);
}

function lastBase(bindings: Binding[]): Binding | undefined {
  for (let i = bindings.length - 1; i >= 0; i--) if (bindings[i].kind !== 'aug') return bindings[i];
  return undefined;
}

function valueKind(ctx: Ctx, value: Node, scope: Scope, at: number, depth: number, asyncWith: boolean): Receiver | undefined {
  if (depth > 8) return undefined;
  let v = value;
  let awaited = asyncWith;
  for (let i = 0; i < 20; i++) {
    if (v.type === 'parenthesized_expression' && v.firstNamedChild) v = v.firstNamedChild;
    else if (v.type === 'await' && v.firstNamedChild) {
      v = v.firstNamedChild;
      awaited = true;
    } else break;
  }
  if (v.type === 'identifier' || v.type === 'attribute') {
    const r = receiverOf(ctx, v, scope, at, depth + 1);
    return r.kind ? { ...r, async: r.async || awaited } : undefined;
  }
  if (v.type !== 'call') return undefined;
  const fn = v.childForFieldName('function');
  if (!fn) return undefined;
  const inner = fn.type === 'call' ? fn.childForFieldName('function') : fn;
  const fnText = inner && (inner.type === 'identifier' || inner.type === 'attribute') ? short(inner) ?? '' : '';
  const last = fnText.split('.').pop() ?? '';
  const obj = fn.type === 'attribute' ? fn.childForFieldName('object') : null;
  const moduleDriver = driverOfCallee(ctx, fnText);
  const mk = (kind: ReceiverKind, driver?: string): Receiver => ({ kind, strong: true, driver, async: awaited || /async/i.test(fnText) });
  if (NOT_DB.test(fnText) || NOT_DB.test(importedAs(ctx, fnText))) return { strong: true, async: awaited };
  if (last === 'cursor') {
    const base = obj ? receiverOf(ctx, obj, scope, at, depth + 1) : undefined;
    return mk('cursor', base?.driver ?? moduleDriver);
  }
  if (fn.type === 'call') {
    // `sessionmaker(bind=engine)()`.
    if (/sessionmaker|Session/i.test(fnText)) return { kind: /async/i.test(fnText) ? 'async-session' : 'session', strong: true, async: awaited || /async/i.test(fnText) };
    return undefined;
  }
  if (isFactory(ctx, fnText) || /(^|\.)(Session|SessionLocal|ScopedSession|scoped_session|session_scope|sessionmaker)$/.test(fnText) || /session/i.test(last)) {
    const isAsync = /async/i.test(fnText) || (fn.type === 'identifier' && /^AsyncSession/.test(fnText)) || awaited;
    return { kind: isAsync ? 'async-session' : 'session', strong: true, async: isAsync };
  }
  if (last === 'create_engine' || last === 'create_async_engine') return mk('engine');
  if ((last === 'connect' || last === 'begin') && obj) {
    if (moduleDriver) return mk('connection', moduleDriver);
    const base = receiverOf(ctx, obj, scope, at, depth + 1);
    if (base.kind === 'engine' || /engine/i.test(short(obj) ?? '')) return mk('sa-connection');
    return mk('connection', base.driver);
  }
  if (last === 'connect' || /^(get_?(db_?)?conn(ection)?|connect_db|get_db_connection|open_connection|raw_connection|getconn|acquire)$/i.test(last)) {
    const base = obj ? receiverOf(ctx, obj, scope, at, depth + 1) : undefined;
    return mk('connection', moduleDriver ?? base?.driver);
  }
  if (/^(create_pool|SimpleConnectionPool|ThreadedConnectionPool|ConnectionPool|AsyncConnectionPool)$/.test(last)) return mk('pool', moduleDriver);
  if (last === 'Connection' || last === 'AsyncConnection') return mk('connection', moduleDriver);
  return undefined;
}

function annotationKind(ctx: Ctx, ann: string): Receiver | undefined {
  const t = ann.replace(/^Optional\[|\]$/g, '');
  if (NOT_DB.test(t) || NOT_DB.test(importedAs(ctx, t))) return { strong: true, async: false };
  if (/AsyncSession/.test(t)) return { kind: 'async-session', strong: true, async: true };
  if (/(^|\.)(Session|scoped_session|ScopedSession)$/.test(t)) return { kind: 'session', strong: true, async: false };
  if (/Cursor/.test(t)) return { kind: 'cursor', strong: true, async: /Async/.test(t), driver: driverOfCallee(ctx, t) };
  if (/Pool/.test(t)) return { kind: 'pool', strong: true, async: /Async/.test(t), driver: driverOfCallee(ctx, t) };
  if (/Connection/.test(t)) {
    const sym = ctx.model.imports.symbols.get(t.split('.')[0]) ?? ctx.model.imports.modules.get(t.split('.')[0]) ?? '';
    if (SQLALCHEMY_MODULES.has(sym.split('.')[0])) return { kind: 'sa-connection', strong: true, async: /Async/.test(t) };
    return { kind: 'connection', strong: true, async: /Async/.test(t), driver: driverOfCallee(ctx, t) };
  }
  return undefined;
}

/** Heuristics on the name alone (`cur`, `conn`, `session`, `db.session`, `self._conn`). */
function nameKind(ctx: Ctx, text: string): Receiver {
  const segs = text.split('.');
  const last = segs[segs.length - 1].replace(/^_+/, '');
  const lower = last.toLowerCase();
  const weak = (kind: ReceiverKind): Receiver => ({ kind, strong: false, async: false, byName: true });
  const strong = (kind: ReceiverKind): Receiver => ({ kind, strong: true, async: false, byName: true });
  if (/^(async_?session|asession|async_?db)$/.test(lower)) return { kind: 'async-session', strong: true, async: true, byName: true };
  if (/^(cur|cursor|curs|crsr|csr|c)$/.test(lower) || /_(cur|cursor)$/.test(lower) || /^cursor_/.test(lower)) return strong('cursor');
  if (/^(session|sess|dbsession|db_session|scoped_session)$/.test(lower) || /_session$/.test(lower) || last === 'Session' || last === 'DBSession') {
    return strong('session');
  }
  if (/^(pool|db_pool|pg_pool)$/.test(lower) || /_pool$/.test(lower)) return strong('pool');
  if (/^(conn|connection|con|cnx|dbconn|db_conn|connexion|dbh)$/.test(lower) || /_(conn|connection)$/.test(lower)) {
    if (ctx.drivers.length === 0 && ctx.sqlalchemy) return strong('sa-connection');
    return strong('connection');
  }
  if (lower === 'db' || lower === 'database') {
    if (ctx.drivers.length > 0 && !ctx.sqlalchemy) return weak('connection');
    return { kind: 'session', strong: ctx.sqlalchemy, async: false, byName: true };
  }
  if (lower === 's') return weak('session');
  return { strong: false, async: false };
}

function escapeRegExp(s: string): string {
  return s.replace(/[$.*+?^(){}|[\]\\]/g, '\\$&');
}

/** A dotted name with its head replaced by what the imports say it is: `Session` → `requests.Session`. */
function importedAs(ctx: Ctx, dotted: string): string {
  const dot = dotted.indexOf('.');
  const head = dot < 0 ? dotted : dotted.slice(0, dot);
  const mod = ctx.model.imports.symbols.get(head) ?? ctx.model.imports.modules.get(head);
  return mod ? mod + (dot < 0 ? '' : dotted.slice(dot)) : dotted;
}

/** The driver a dotted callee belongs to through the imports: `psycopg2.connect`, `connect` from sqlite3. */
function driverOfCallee(ctx: Ctx, fnText: string): string | undefined {
  const head = fnText.split('.')[0];
  const mod = ctx.model.imports.modules.get(head) ?? ctx.model.imports.symbols.get(head);
  if (!mod) return undefined;
  return DRIVER_BY_MODULE[mod.split('.')[0]];
}

function driverOf(ctx: Ctx, method: string, receiver: Receiver, viaText: boolean, awaited: boolean): string {
  if (viaText) return 'sqlalchemy';
  if (receiver.kind === 'session' || receiver.kind === 'async-session' || receiver.kind === 'sa-connection' || receiver.kind === 'engine') return 'sqlalchemy';
  if (method === 'exec_driver_sql') return 'sqlalchemy';
  if (receiver.driver) return receiver.driver;
  if (PANDAS_METHODS.has(method)) return ctx.drivers[0] ?? (ctx.sqlalchemy ? 'sqlalchemy' : 'dbapi');
  if (ctx.drivers.includes('asyncpg') && (awaited || receiver.async || (ASYNCPG_METHODS.has(method) && !EXECUTE_METHODS.has(method)))) return 'asyncpg';
  const sync = ctx.drivers.filter((d) => d !== 'asyncpg');
  if (sync.length) return sync[0];
  if (ctx.drivers.length) return ctx.drivers[0];
  if (ctx.sqlalchemy && receiver.kind !== 'cursor') return 'sqlalchemy';
  return 'dbapi';
}

function dialectOf(ctx: Ctx, driver: string, text: string): Dialect {
  const byDriver = dialectForDriver(driver);
  if (byDriver) return byDriver;
  if (ctx.engineDialect) return ctx.engineDialect;
  const def = DIALECTS.has(ctx.options?.defaultDialect) ? ctx.options.defaultDialect : 'postgresql';
  if (text) {
    const ph = lexSql(text, 64).placeholders[0];
    if (ph?.style === 'question') return 'sqlite';
    if (ph && (ph.style === 'format' || ph.style === 'pyformat')) return def === 'sqlite' ? 'postgresql' : def;
  }
  return def;
}

/** Is this call SQLAlchemy's `text()` (or psycopg's `sql.SQL()`)? Decided from the imports. */
function textCallKind(ctx: Ctx, call: Node): 'text' | 'psycopg-sql' | undefined {
  const fn = call.childForFieldName('function');
  if (!fn) return undefined;
  const imports = ctx.model.imports;
  if (fn.type === 'identifier') {
    const sym = imports.symbols.get(fn.text);
    if (!sym) return undefined;
    const root = sym.split('.')[0];
    if (SQLALCHEMY_MODULES.has(root) && /\.text$/.test(sym)) return 'text';
    if ((root === 'psycopg2' || root === 'psycopg') && /\.SQL$/.test(sym)) return 'psycopg-sql';
    return undefined;
  }
  if (fn.type !== 'attribute') return undefined;
  const attr = fn.childForFieldName('attribute')?.text;
  const objNode = fn.childForFieldName('object');
  const obj = objNode ? short(objNode) ?? '' : '';
  const mod = imports.modules.get(obj) ?? imports.symbols.get(obj) ?? '';
  if (attr === 'text' && (SQLALCHEMY_MODULES.has(mod.split('.')[0]) || (ctx.flask && obj === 'db'))) return 'text';
  if (attr === 'SQL' && (/^psycopg2?(\.sql)?$/.test(mod) || /^psycopg2?\.sql$/.test(mod))) return 'psycopg-sql';
  return undefined;
}

function wrapperFor(ctx: Ctx, fnText: string) {
  if (!fnText) return undefined;
  const wrappers = Array.isArray(ctx.options?.wrappers) ? ctx.options.wrappers : [];
  return wrappers.find((w) => w && typeof w.callee === 'string' && w.callee && (fnText === w.callee || fnText.endsWith('.' + w.callee)));
}

function engineDialectOf(ctx: Ctx): Dialect | undefined {
  for (const site of ctx.model.calls) {
    const fn = site.node.childForFieldName('function');
    const last = fn ? (short(fn) ?? '').split('.').pop() : undefined;
    if (last !== 'create_engine' && last !== 'create_async_engine') continue;
    const arg = firstPositional(site.node.childForFieldName('arguments')!);
    if (arg?.type !== 'string') continue;
    const url = stringValue(arg).toLowerCase();
    if (/^postgres/.test(url)) return 'postgresql';
    if (/^(mysql|mariadb)/.test(url)) return 'mysql';
    if (/^sqlite/.test(url)) return 'sqlite';
  }
  return undefined;
}

function tablesOf(model: FileModel): Map<string, string> {
  const out = new Map<string, string>();
  for (const [name, cls] of model.classes) {
    const b = cls.bindings.get('__tablename__');
    const v = b?.[b.length - 1]?.value;
    if (v?.type === 'string') out.set(name, decodeString(v).pieces.map((p) => ('text' in p ? p.text : '')).join('').toLowerCase());
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Helpers

/** The name of the `async def` a scope runs in directly (not through a nested def or lambda). */
function asyncFunction(scope: Scope): string | undefined {
  let s: Scope | undefined = scope;
  while (s && s.kind === 'class') s = s.parent;
  if (!s || s.kind !== 'function' || !s.isAsync) return undefined;
  return s.name;
}

/** The source of a small node; undefined when it is longer than `max` (hostile inputs chain 20,000 calls). */
function short(node: Node, max = 200): string | undefined {
  return node.endIndex - node.startIndex <= max ? node.text : undefined;
}

export function rangeOf(node: Node): Range {
  const s = node.startPosition;
  const e = node.endPosition;
  return { start: { line: s.row, character: s.column }, end: { line: e.row, character: e.column } };
}

/** A callee for messages: whitespace collapsed, long receivers shortened. Never recursive. */
function displayCallee(fn: Node): string {
  if (fn.type === 'attribute') {
    const obj = fn.childForFieldName('object');
    const attr = fn.childForFieldName('attribute')?.text ?? '';
    return obj ? `${displayText(obj)}.${attr}` : attr;
  }
  return displayText(fn);
}

function displayText(node: Node): string {
  if (node.endIndex - node.startIndex <= 60) {
    const t = node.text;
    if (!t.includes('\n')) return t;
  }
  if (node.type === 'call') {
    const fn = node.childForFieldName('function');
    const name = fn?.type === 'attribute' ? '….' + (fn.childForFieldName('attribute')?.text ?? '') : fn ? snippet(fn, 30) : '…';
    return `${name}(…)`;
  }
  return snippet(node, 60);
}
