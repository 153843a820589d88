/**
 * `sync-in-async` → `await asyncio.to_thread(...)`, offered only where moving the call to a
 * worker thread is proven not to change what the coroutine computes (issue #5). The same shape
 * as the SQLAlchemy rewrite (index.ts): text and a finding in, code actions (plain edits) out.
 *
 *   toThreadRewriteActions(text, 'app/routes.py', finding)
 *     → [{ title: 'Run in a worker thread (asyncio.to_thread)', verified: true, edits, target: 'to-thread' }]
 *   toThreadFixAll(text, fileName, findings)      → verified, non-overlapping edits (one import edit)
 *
 * What moves: one statement's expression, `x = E` / `return E` / `E`, where E is the blocking
 * call with the calls chained on its result (`db.query(Job).filter(…).first()`,
 * `cur.execute(sql, params).fetchall()`). E becomes `await asyncio.to_thread(fn, args…)` when E
 * is one call on a plain name (the arguments are then still evaluated on the event loop, in the
 * same order as before, and only the call itself runs in the thread), else
 * `await asyncio.to_thread(lambda: E)`. `asyncio.to_thread` copies the context variables, and
 * the coroutine waits for the thread, so the objects E uses are touched by one thread at a time.
 *
 * What is refused, each with its reason: an E that contains `await`, `async for`, `yield` or
 * `:=`, reads a name its own statement assigns, or (lambda form) calls anything but SQL-building
 * functions in its arguments, or uses scope-sensitive names (`super()`, `locals()`); a call inside
 * a lambda, a comprehension, a `with` block (the block's enter/exit stays on the loop: the whole
 * block would have to move) or a `finally` block (a cancellation would leave the cleanup running);
 * a call that is part of a larger expression, or an augmented assignment; receivers that other
 * tasks may share (module-level or imported objects, attributes such as `self.db`, parameter
 * defaults, scoped_session registries, objects also handed to `create_task(...)` or stored on an
 * attribute); session factory calls (no I/O of their own); sqlite3 connections and cursors unless
 * opened in this coroutine with `check_same_thread=False` (pysqlite refuses a connection used from
 * another thread); SQLAlchemy work in a file that creates a SQLite engine without
 * `check_same_thread=False` (SQLAlchemy 1.4's SQLite pools tie connections to threads); and
 * anything whose origin cannot be seen.
 *
 * What stays true only by assumption (documented, not provable here): a parameter is the caller's
 * to lend for the call (FastAPI's `Depends(get_db)` gives one session per request); a session's
 * engine defined in another file is not SQLite without check_same_thread=False; Python ≥ 3.9
 * (`asyncio.to_thread`); and on cancellation the worker thread finishes the call while the
 * coroutine does not wait for it (inherent to asyncio.to_thread).
 *
 * Verification: the rendered text (templates/sqlalchemy2/to_thread.liquid, sandboxed) parses and
 * reads back as `await <asyncio>.to_thread(...)` holding exactly the original callee, arguments
 * or expression; the file with the edits parses; and a rescan finds the same findings as before,
 * minus the `sync-in-async` findings that moved (so the raw-SQL inventory is unchanged).
 * Equivalence is proven by execution in the python tier (test/python/to-thread.test.ts).
 */
import type { Node, Tree } from 'web-tree-sitter';
import { analyzeTextSync } from '../../analyze';
import { loadPython } from '../../detect/python/parser';
import type { DetectOptions, Finding, Range } from '../../types';
import type { TextEdit } from '../callsite';
import { liquidFor } from '../templateSet';
import { bindingsOf as allBindingsOf } from './imports';
import { defaultSqlalchemyTemplates, SQLALCHEMY_TEMPLATE_NAMES, type SqlalchemyTemplates } from './render';
import { applyTextEdits as applyEdits, cmp, overlaps, parse, pos, samePos, treeErrors } from './tree';

export const TO_THREAD_TITLE = 'Run in a worker thread (asyncio.to_thread)';

export interface ToThreadOptions {
  /** Templates (default: the shipped `templates/sqlalchemy2`, which holds `to_thread.liquid`). */
  templates?: SqlalchemyTemplates;
  /** Detection options for the verifying rescan (default: the language server's defaults). */
  detect?: DetectOptions;
}

export interface ToThreadAction {
  title: string;
  kind: 'quickfix';
  preferred: boolean;
  verified: boolean;
  /** Zero-based, non-overlapping; empty when not offered. */
  edits: TextEdit[];
  reasonNotOffered?: string;
  target: 'to-thread';
  /** The `await asyncio.to_thread(...)` expression (when offered). */
  rendered?: string;
}

const DEFAULT_DETECT: DetectOptions = { defaultDialect: 'postgresql', wrappers: [], sessionFactories: ['get_session'] };

/** Loads the tree-sitter Python grammar (idempotent). */
export async function initToThreadRewrite(): Promise<void> {
  await loadPython();
}

function notOffered(reason: string): ToThreadAction {
  return { title: TO_THREAD_TITLE, kind: 'quickfix', preferred: false, verified: false, edits: [], reasonNotOffered: reason, target: 'to-thread' };
}

function findingReason(finding: Finding): string | undefined {
  if (finding.rule !== 'sync-in-async') return 'only sync-in-async findings are moved to a worker thread';
  if (finding.language !== 'python') return 'asyncio.to_thread applies to Python';
  if (finding.exception) return `kept on purpose: ${finding.exception.reason}`;
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Trees

function eolOf(text: string): string {
  return text.includes('\r\n') ? '\r\n' : '\n';
}

/** The call node the finding's range covers exactly. */
function callAt(tree: Tree, range: Range): Node | undefined {
  const start = { row: range.start.line, column: range.start.character };
  const end = { row: range.end.line, column: range.end.character };
  let n: Node | null = tree.rootNode.descendantForPosition(start, end);
  while (n) {
    if (n.type === 'call' && samePos(n.startPosition, range.start) && samePos(n.endPosition, range.end)) return n;
    n = n.parent;
  }
  return undefined;
}

/** Every node of a subtree, iteratively (no recursion on hostile nesting). */
function* walk(root: Node): Generator<Node> {
  const stack: Node[] = [root];
  while (stack.length) {
    const n = stack.pop()!;
    yield n;
    for (let i = n.namedChildCount - 1; i >= 0; i--) {
      const c = n.namedChild(i);
      if (c) stack.push(c);
    }
  }
}

function unparen(n: Node): Node {
  let x = n;
  for (let i = 0; x.type === 'parenthesized_expression' && x.namedChildCount === 1 && x.firstNamedChild && i < 100; i++) x = x.firstNamedChild;
  return x;
}

const COMPREHENSIONS = new Set(['list_comprehension', 'set_comprehension', 'dictionary_comprehension', 'generator_expression']);
const SCOPES = new Set(['function_definition', 'lambda', 'class_definition', 'module', ...COMPREHENSIONS]);

function isAsyncDef(n: Node): boolean {
  return n.type === 'function_definition' && n.child(0)?.type === 'async';
}

/** The nearest node that opens a scope (function, lambda, class, comprehension, module). */
function scopeOf(n: Node): Node | null {
  // A parameter's name belongs to its function; its default is evaluated outside, but names here are only read.
  for (let p = n.parent; p; p = p.parent) {
    if (SCOPES.has(p.type)) {
      // The iterable of a comprehension's first `for` is evaluated in the enclosing scope; names bound there are not.
      return p;
    }
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// Reasons (one place, so hovers, tests and docs say the same)

const R = {
  lambda: 'the call is inside a lambda: it already runs wherever the lambda is called, and `await` cannot appear there',
  comprehension: 'the call is inside a comprehension or generator expression, which has its own scope (and a generator expression runs lazily, later): the call cannot be awaited in place; build the values in a loop first, or move the whole comprehension into a function run with asyncio.to_thread',
  withItem: 'the call opens a `with` block: entering and leaving it (a session or transaction opened, committed, closed) would stay on the event loop while the body moved; move the whole `with` block into a function and run that with asyncio.to_thread',
  withBody: 'the call is inside a `with` block: its context manager enters and exits (commits, rolls back, closes) on the event loop, so moving this call alone would split one transaction or connection between two threads; move the whole `with` block into a function and run that with asyncio.to_thread',
  classBody: 'the call is in a class body inside the coroutine',
  factory: (c: string) => `\`${c}()\` creates a session: that does no I/O by itself (the session connects on first use), so moving it to a worker thread gains nothing, and a scoped_session factory would hand out that thread's session instead of this one's; move the calls that use the session`,
  finallyBlock: 'the call is in a `finally` block: cleanup there must finish before the coroutine goes on, but a cancellation during `await asyncio.to_thread(...)` would let the coroutine leave while the worker thread is still running it (and, say, close the session under it)',
  escapes: (r: string, how: string) => `\`${r}\` is also handed to ${how} in this coroutine: another task or holder may use it while the worker thread does`,
  notAsync: 'the call is not directly inside an `async def`',
  larger: (t: string) => `the call is part of a larger ${t.replace(/_/g, ' ')}: only a whole statement \`x = <call>\`, \`return <call>\` or \`<call>\` is moved; assign the call's result to a variable first`,
  augmented: 'an augmented assignment (`x += <call>`) would read its target before the `await` and write it after: other tasks can change it in between (a lost update); assign the call\'s result to a variable first',
  chained: 'a chained assignment (`a = b = <call>`) is not moved; assign the call\'s result to one variable first',
  await: 'the expression contains `await`: it cannot run inside a worker thread; await that part first and pass its result',
  asyncFor: 'the expression contains an asynchronous comprehension (`async for`): it cannot run inside a worker thread',
  scoped: (r: string) => `\`${r}\` is a scoped_session registry: it resolves to the current thread's session, so in a worker thread it would be another session`,
  yield: 'the expression contains `yield`: inside a lambda it would make a generator, not a value',
  walrus: 'the expression contains an assignment expression (`:=`): inside the lambda it would bind the name in the lambda, not in the coroutine',
  sameStatement: (n: string) => `\`${n}\` is read by the moved expression and assigned by the same statement: not moved (conservative: the lambda would read \`${n}\` through a closure while the statement rebinds it)`,
  scopeName: (n: string) => `the expression uses \`${n}\`, which means something else inside a lambda`,
  argumentCall: (c: string) => `\`${c}(...)\` in the arguments would run in the worker thread too, and this fix cannot tell that it is safe there; assign its result to a variable first`,
  attributeReceiver: (r: string) => `the receiver \`${r}\` is an attribute of another object: other tasks may hold the same object, and on the event loop their calls never overlapped with this one, while in a worker thread they can; this fix cannot see that this coroutine has it to itself`,
  module: (r: string) => `\`${r}\` is a module-level object shared by every task: on the event loop its calls never overlapped, in a worker thread they can run while another task uses it (a SQLAlchemy Session, a scoped_session and a DB-API connection are not safe for concurrent use; a scoped_session would even resolve to another session in the worker thread)`,
  enclosing: (r: string) => `\`${r}\` belongs to an enclosing function, which may share it with other tasks`,
  noOrigin: (r: string) => `cannot see where \`${r}\` comes from, so cannot prove it may be used from a worker thread`,
  reassigned: (r: string) => `\`${r}\` is assigned more than once in this function: cannot tell which object the call uses`,
  assignedAfter: (r: string) => `\`${r}\` is assigned after this call: cannot tell which object the call uses`,
  boundBy: (r: string, how: string) => `\`${r}\` is bound by ${how}: cannot prove the object may be used from a worker thread`,
  sharedDefault: (r: string) => `the parameter \`${r}\` has a default value, evaluated once and shared by every call of the coroutine (and so by concurrent tasks)`,
  sqliteParam: (r: string) => `\`${r}\` is a sqlite3 connection or cursor passed in: sqlite3 objects can only be used in the thread that created them unless the connection was opened with check_same_thread=False, which is not visible here (pysqlite would raise ProgrammingError in the worker thread)`,
  sqliteLocal: (r: string) => `\`${r}\` is a sqlite3 connection (or its cursor) opened in this coroutine without check_same_thread=False: sqlite3 binds it to the thread that created it (the event loop's), so using it in a worker thread raises ProgrammingError; open it with check_same_thread=False (and use it from one thread at a time), or move the whole block that opens and uses it into a function run with asyncio.to_thread`,
  sqliteUnknown: (r: string) => `cannot tell how the sqlite3 connection behind \`${r}\` was opened: sqlite3 connections are bound to their creating thread unless opened with check_same_thread=False`,
  sqliteModule: (r: string) => `\`${r}\` is a module-level sqlite3 connection: it is bound to the thread that created it (unless opened with check_same_thread=False) and shared by every task`,
  sqliteNoReceiver: 'a sqlite3 call without a local connection or cursor receiver: cannot tell how the connection was opened (sqlite3 binds connections to their creating thread unless check_same_thread=False)',
  sqliteEngine: (e: string) => `this file creates a SQLite engine (\`${e}\`) without connect_args={"check_same_thread": False}: SQLAlchemy 1.4's SQLite pools tie a connection to the thread that opened it, so a Session on it that moves between the event loop and worker threads fails (or, in memory, sees another database)`,
  flask: 'Flask-SQLAlchemy `Model.query` uses the extension\'s scoped session: cannot prove the worker thread resolves the same session',
  asyncioBound: 'the name `asyncio` is bound to something else in this file (or locally in this function): the fix needs the asyncio module',
};

// ---------------------------------------------------------------------------------------------
// The statement and the expression that moves

interface Site {
  call: Node;
  /** The coroutine. */
  fn: Node;
  /** The moved expression: the call plus the calls, reads and indexes chained on its result. */
  expr: Node;
  /** `expr` with the parentheses around it. */
  outer: Node;
  statement: 'bare' | 'assign' | 'return';
  /** The assignment (for `x = E`). */
  assignment?: Node;
}

function locate(call: Node): Site | { reason: string } {
  // Where the call is: directly in a coroutine's body, not in a lambda, comprehension or `with`.
  let fn: Node | undefined;
  let withNode: Node | undefined;
  let inWithItem = false;
  for (let n = call.parent, child: Node = call; n; child = n, n = n.parent) {
    if (n.type === 'lambda') return { reason: R.lambda };
    if (COMPREHENSIONS.has(n.type)) return { reason: R.comprehension };
    if (n.type === 'class_definition') return { reason: R.classBody };
    if (n.type === 'finally_clause') return { reason: R.finallyBlock };
    if (n.type === 'with_clause' || n.type === 'with_item') inWithItem = true;
    if (n.type === 'with_statement' && n.child(0)?.type !== 'async') {
      if (inWithItem || child.type === 'with_clause') return { reason: R.withItem };
      withNode ??= n;
    }
    if (n.type === 'function_definition') {
      if (!isAsyncDef(n)) return { reason: R.notAsync };
      fn = n;
      break;
    }
  }
  if (!fn) return { reason: R.notAsync };
  if (withNode) return { reason: R.withBody };
  // The chain on the call's result: `.fetchall()`, `.first()`, `.rowcount`, `[0]`.
  let expr = call;
  for (let i = 0; i < 1000; i++) {
    const p = expr.parent;
    if (p?.type === 'attribute' && p.childForFieldName('object')?.id === expr.id) {
      const gp = p.parent;
      expr = gp?.type === 'call' && gp.childForFieldName('function')?.id === p.id ? gp : p;
      continue;
    }
    if (p?.type === 'subscript' && p.childForFieldName('value')?.id === expr.id) {
      expr = p;
      continue;
    }
    break;
  }
  let outer = expr;
  while (outer.parent?.type === 'parenthesized_expression') outer = outer.parent;
  const p = outer.parent;
  if (!p) return { reason: R.larger('expression') };
  if (p.type === 'expression_statement' && p.namedChildCount === 1) return { call, fn, expr, outer, statement: 'bare' };
  if (p.type === 'return_statement' && p.namedChildCount === 1) return { call, fn, expr, outer, statement: 'return' };
  if (p.type === 'assignment' && p.childForFieldName('right')?.id === outer.id) {
    if (p.parent?.type === 'assignment') return { reason: R.chained };
    if (p.parent?.type !== 'expression_statement') return { reason: R.larger(p.parent?.type ?? 'expression') };
    return { call, fn, expr, outer, statement: 'assign', assignment: p };
  }
  if (p.type === 'augmented_assignment') return { reason: R.augmented };
  if (p.type === 'await') return { reason: 'the call is already awaited' };
  return { reason: R.larger(p.type) };
}

/** The calls of the chain itself, from the outermost down (`first()`, `filter(…)`, `query(Job)`). */
function spineOf(expr: Node): { calls: Node[]; base: Node } {
  const calls: Node[] = [];
  let n: Node = expr;
  for (let i = 0; i < 1000; i++) {
    if (n.type === 'call') {
      calls.push(n);
      const f = n.childForFieldName('function');
      if (!f) break;
      n = f;
      continue;
    }
    if (n.type === 'attribute') {
      const o = n.childForFieldName('object');
      if (!o) break;
      n = o;
      continue;
    }
    if (n.type === 'subscript') {
      const v = n.childForFieldName('value');
      if (!v) break;
      n = v;
      continue;
    }
    if (n.type === 'parenthesized_expression' && n.firstNamedChild) {
      n = n.firstNamedChild;
      continue;
    }
    break;
  }
  return { calls, base: n };
}

/** SQL-building functions and operators, and pure builtins: safe to evaluate in a worker thread. */
const PURE_CALLS = new Set([
  'select', 'text', 'and_', 'or_', 'not_', 'desc', 'asc', 'nulls_first', 'nulls_last', 'literal', 'literal_column', 'bindparam',
  'cast', 'case', 'tuple_', 'distinct', 'exists', 'column', 'table', 'label', 'true', 'false', 'null', 'over', 'within_group',
  'joinedload', 'selectinload', 'subqueryload', 'lazyload', 'noload', 'raiseload', 'contains_eager', 'load_only', 'defer', 'undefer',
  'aliased', 'with_polymorphic', 'in_', 'not_in', 'notin_', 'is_', 'is_not', 'isnot', 'like', 'ilike', 'not_like', 'notlike',
  'between', 'contains', 'startswith', 'endswith', 'collate', 'op', 'any_', 'all_', 'subquery', 'scalar_subquery', 'where', 'filter',
  'order_by', 'group_by', 'having', 'limit', 'offset', 'join', 'outerjoin', 'correlate', 'params', 'columns', 'bindparams',
  'len', 'str', 'int', 'float', 'bool', 'tuple', 'list', 'dict', 'set', 'frozenset', 'min', 'max', 'abs', 'round', 'sorted', 'range',
]);
/** Namespaces whose calls build SQL: `func.count()`, `sa.select(...)`. */
const PURE_ROOTS = new Set(['func', 'sa', 'sqlalchemy']);
const SCOPE_NAMES = new Set(['super', 'locals', 'vars', 'dir', 'eval', 'exec', '__class__']);

function isSpine(n: Node, spine: Set<number>): boolean {
  return spine.has(n.id);
}

/** Why the expression cannot move (whichever form). */
function contentReason(site: Site): string | undefined {
  for (const n of walk(site.outer)) {
    if (n.type === 'await') return R.await;
    if (n.type === 'yield') return R.yield;
    if (n.type === 'named_expression') return R.walrus;
    if (n.type === 'for_in_clause' && n.child(0)?.type === 'async') return R.asyncFor;
  }
  if (site.assignment) {
    const left = site.assignment.childForFieldName('left');
    const bound = new Set<string>();
    if (left) for (const id of walk(left)) if (id.type === 'identifier' && isTargetName(id, left)) bound.add(id.text);
    for (const id of walk(site.outer)) {
      if (id.type === 'identifier' && bound.has(id.text) && isRead(id)) return R.sameStatement(id.text);
    }
  }
  return undefined;
}

/** An identifier in an assignment target that the assignment binds (not `x` in `x.attr = …`). */
function isTargetName(id: Node, left: Node): boolean {
  for (let c: Node = id, p = id.parent; p && c.id !== left.id; c = p, p = p.parent) {
    if (!['pattern_list', 'tuple_pattern', 'list_pattern', 'tuple', 'list', 'parenthesized_expression', 'list_splat_pattern'].includes(p.type)) return false;
  }
  return true;
}

/** A read of a variable (not an attribute name or a keyword argument's name). */
function isRead(id: Node): boolean {
  const p = id.parent;
  if (p?.type === 'attribute' && p.childForFieldName('attribute')?.id === id.id) return false;
  if (p?.type === 'keyword_argument' && p.childForFieldName('name')?.id === id.id) return false;
  return true;
}

/** Why the expression cannot move inside a lambda (it is evaluated in the worker thread as a whole). */
function lambdaReason(site: Site, spine: Set<number>): string | undefined {
  for (const n of walk(site.outer)) {
    if (n.type === 'identifier' && SCOPE_NAMES.has(n.text) && isRead(n)) return R.scopeName(n.text);
    if (n.type !== 'call' || isSpine(n, spine)) continue;
    const f = n.childForFieldName('function');
    if (!f) return R.argumentCall('(…)');
    const name = f.type === 'attribute' ? f.childForFieldName('attribute')?.text ?? '' : f.text;
    const root = f.type === 'attribute' ? spineOf(f).base : f;
    if (PURE_CALLS.has(name) || (root.type === 'identifier' && PURE_ROOTS.has(root.text))) continue;
    // `Job.name.desc()`, `Job.id.in_(…)`: methods of a mapped class's columns.
    if (f.type === 'attribute' && /^(desc|asc|label|in_|not_in|notin_|is_|is_not|isnot|like|ilike|between|contains|startswith|endswith|op|nulls_first|nulls_last|distinct|any|has)$/.test(name)) continue;
    return R.argumentCall(f.endIndex - f.startIndex > 60 ? f.text.slice(0, 60) + '…' : f.text);
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Where the objects come from

interface Ctx {
  root: Node;
  fn: Node;
  call: Node;
  sqliteModules: Set<string>;
  sqliteConnects: Set<string>;
  moduleImports: Set<string>;
}

type Origin =
  | { kind: 'param'; node: Node; fallback: Node | null }
  | { kind: 'local'; value: Node | null; at: Node }
  | { kind: 'module'; value: Node | null }
  | { kind: 'import' }
  | { kind: 'definition' }
  | { kind: 'none' }
  | { kind: 'other'; reason: string };

/**
 * The identifiers binding `name` in `scope` (imports.ts), without the parts of a module path that
 * bind nothing: `asyncio` in `from sqlalchemy.ext.asyncio import …`, `orm` in `import sqlalchemy.orm`.
 */
function bindingsOf(scope: Node, name: string): Node[] {
  return allBindingsOf(scope, name).filter((id) => {
    const p = id.parent;
    if (p?.type !== 'dotted_name') return true;
    if (p.firstNamedChild?.id !== id.id) return false;
    const st = p.parent;
    return !(st?.type === 'import_from_statement' && st.childForFieldName('module_name')?.id === p.id);
  });
}

const PARAM_PARENTS = new Set(['parameters', 'typed_parameter', 'default_parameter', 'typed_default_parameter', 'list_splat_pattern', 'dictionary_splat_pattern']);

function originOf(ctx: Ctx, name: string): Origin {
  const own = bindingsOf(ctx.fn, name).filter((id) => scopeOf(id)?.id === ctx.fn.id);
  if (own.length > 1) return { kind: 'other', reason: R.reassigned(name) };
  if (own.length === 1) {
    const id = own[0];
    const p = id.parent!;
    if (PARAM_PARENTS.has(p.type)) {
      let param: Node = p.type === 'parameters' ? id : p;
      if (param.type === 'typed_parameter' && param.parent && PARAM_PARENTS.has(param.parent.type) && param.parent.type !== 'parameters') param = param.parent;
      const fallback = param.type === 'default_parameter' || param.type === 'typed_default_parameter' ? param.childForFieldName('value') : null;
      return { kind: 'param', node: param, fallback };
    }
    if (p.type === 'global_statement') return moduleOrigin(ctx, name);
    if (p.type === 'nonlocal_statement') return { kind: 'other', reason: R.enclosing(name) };
    if (p.type === 'assignment' && p.childForFieldName('left')?.id === id.id) {
      if (id.startIndex > ctx.call.startIndex) return { kind: 'other', reason: R.assignedAfter(name) };
      const right = p.childForFieldName('right');
      return { kind: 'local', value: right && right.type !== 'assignment' ? right : null, at: p };
    }
    const how = p.type === 'as_pattern_target' || p.parent?.type === 'as_pattern_target' ? 'a `with … as` clause' : p.type === 'for_statement' || p.parent?.type === 'for_statement' ? 'a `for` loop' : p.type === 'except_clause' ? 'an `except` clause' : `a ${p.type.replace(/_/g, ' ')}`;
    return { kind: 'other', reason: R.boundBy(name, how) };
  }
  // A closure over an enclosing function's variable.
  for (let f = ctx.fn.parent; f; f = f.parent) {
    if ((f.type === 'function_definition' || f.type === 'lambda') && bindingsOf(f, name).some((id) => scopeOf(id)?.id === f!.id)) return { kind: 'other', reason: R.enclosing(name) };
  }
  return moduleOrigin(ctx, name);
}

function moduleOrigin(ctx: Ctx, name: string): Origin {
  const top = bindingsOf(ctx.root, name).filter((id) => scopeOf(id)?.id === ctx.root.id);
  if (!top.length) return { kind: 'none' };
  let value: Node | null = null;
  let kind: 'import' | 'definition' | 'module' = 'module';
  for (const id of top) {
    const p = id.parent!;
    if (p.type === 'dotted_name' || p.type === 'aliased_import') kind = kind === 'module' && top.length > 1 ? 'module' : 'import';
    else if ((p.type === 'function_definition' || p.type === 'class_definition') && p.childForFieldName('name')?.id === id.id) kind = 'definition';
    else if (p.type === 'assignment' && p.childForFieldName('left')?.id === id.id) {
      kind = 'module';
      value = p.childForFieldName('right');
    } else kind = 'module';
  }
  if (top.length > 1) return { kind: 'module', value: null };
  return kind === 'module' ? { kind, value } : { kind };
}

function calleeText(call: Node): string {
  return call.childForFieldName('function')?.text ?? '';
}

function isSqliteConnect(ctx: Ctx, call: Node): boolean {
  const f = call.childForFieldName('function');
  if (!f) return false;
  if (f.type === 'identifier') return ctx.sqliteConnects.has(f.text);
  if (f.type === 'attribute') {
    const o = f.childForFieldName('object');
    return f.childForFieldName('attribute')?.text === 'connect' && !!o && ctx.sqliteModules.has(o.text);
  }
  return false;
}

function checkSameThreadOff(call: Node): boolean {
  const args = call.childForFieldName('arguments');
  if (args?.type !== 'argument_list') return false;
  return args.namedChildren.some((a) => a?.type === 'keyword_argument' && a.childForFieldName('name')?.text === 'check_same_thread' && a.childForFieldName('value')?.text === 'False');
}

const DEPENDS = /(^|\.)(Depends|Security)$/;

/**
 * Why `name`, the object a blocking call runs on, may not be used from a worker thread
 * (undefined when it may). `sqlite`: the finding says the driver is sqlite3.
 */
function objectReason(ctx: Ctx, name: string, sqlite: boolean, depth = 0): string | undefined {
  if (depth > 8) return R.noOrigin(name);
  const o = originOf(ctx, name);
  switch (o.kind) {
    case 'import':
      // A module is a namespace; an object imported from another module is shared like a module-level one.
      return ctx.moduleImports.has(name) ? undefined : R.module(name);
    case 'definition':
      return undefined;
    case 'none':
      return R.noOrigin(name);
    case 'other':
      return o.reason;
    case 'module': {
      const v = o.value ? unparen(o.value) : null;
      if (v?.type === 'call' && isSqliteConnect(ctx, v)) return R.sqliteModule(name);
      // An Engine is documented as safe to share between threads.
      if (v?.type === 'call' && /(^|\.)create_engine$/.test(calleeText(v)) && !sqlite) return undefined;
      return R.module(name);
    }
    case 'param': {
      const d = o.fallback ? unparen(o.fallback) : null;
      if (d && !(d.type === 'none' || (d.type === 'call' && DEPENDS.test(calleeText(d))))) return R.sharedDefault(name);
      if (/scoped_session/.test(o.node.childForFieldName('type')?.text ?? '')) return R.scoped(name);
      return sqlite ? R.sqliteParam(name) : undefined;
    }
    case 'local': {
      const v = o.value ? unparen(o.value) : null;
      if (!v) return R.noOrigin(name);
      if (v.type === 'await') return undefined; // an awaited factory: an asynchronous object
      if (v.type === 'identifier') return objectReason(ctx, v.text, sqlite, depth + 1);
      if (v.type === 'call') {
        if (isSqliteConnect(ctx, v)) return checkSameThreadOff(v) ? undefined : R.sqliteLocal(name);
        if (/(^|\.)scoped_session$/.test(calleeText(v))) return R.scoped(name);
        const f = v.childForFieldName('function');
        const obj = f?.type === 'attribute' ? f.childForFieldName('object') : null;
        const method = f?.type === 'attribute' ? f.childForFieldName('attribute')?.text ?? '' : '';
        // A cursor shares its connection's thread binding.
        if (obj?.type === 'identifier' && /^(cursor|execute|executemany|executescript)$/.test(method)) {
          return objectReason(ctx, obj.text, sqlite, depth + 1);
        }
        if (sqlite) return R.sqliteUnknown(name);
        // Created by this coroutine: its own object, used by one thread at a time.
        return undefined;
      }
      return sqlite ? R.sqliteUnknown(name) : R.noOrigin(name);
    }
  }
}

const TASK_CALLEES = /(^|\.)(create_task|ensure_future|gather|run_coroutine_threadsafe|start_soon|start|submit|run_in_executor|Thread)$/;

/**
 * How the coroutine hands `name` to someone else who may use it concurrently: another task or
 * thread (`create_task(work(s))`), or an attribute or container that outlives the call
 * (`self.s = s`, `registry[k] = s`). Undefined when it does not.
 */
function escapeOf(ctx: Ctx, name: string): string | undefined {
  for (const id of walk(ctx.fn)) {
    if (id.type !== 'identifier' || id.text !== name || !isRead(id) || scopeOf(id)?.id !== ctx.fn.id) continue;
    // The value itself (not `s.x`): climb through calls' arguments to the statement.
    let child: Node = id;
    for (let p = id.parent; p && p.id !== ctx.fn.id; child = p, p = p.parent) {
      if (p.type === 'attribute' && p.childForFieldName('object')?.id === child.id) break;
      if (p.type === 'call' && p.childForFieldName('arguments')?.id === child.id && TASK_CALLEES.test(calleeText(p))) return `\`${calleeText(p)}(...)\``;
      if (p.type === 'assignment' && p.childForFieldName('right')?.id === child.id) {
        const left = p.childForFieldName('left');
        if (left && (left.type === 'attribute' || left.type === 'subscript')) return `\`${left.text.length > 40 ? left.text.slice(0, 40) + '…' : left.text}\``;
        break;
      }
      if (p.type === 'expression_statement' || p.type === 'block') break;
    }
  }
  return undefined;
}

/** A sqlite3 connection (or cursor) among the arguments that is bound to its thread. */
function argumentReason(ctx: Ctx, id: Node, depth = 0): string | undefined {
  const o = originOf(ctx, id.text);
  if (o.kind === 'module') {
    const v = o.value ? unparen(o.value) : null;
    if (v?.type === 'call' && isSqliteConnect(ctx, v)) return R.sqliteModule(id.text);
    if (v?.type === 'call' && /(^|\.)(connect|cursor|Session|scoped_session|SessionLocal|session)$/.test(calleeText(v))) return R.module(id.text);
    return undefined;
  }
  if (o.kind !== 'local' || depth > 8) return undefined;
  const v = o.value ? unparen(o.value) : null;
  if (v?.type === 'identifier') return argumentReason(ctx, v, depth + 1);
  if (v?.type !== 'call') return undefined;
  if (isSqliteConnect(ctx, v)) return checkSameThreadOff(v) ? undefined : R.sqliteLocal(id.text);
  const f = v.childForFieldName('function');
  const obj = f?.type === 'attribute' ? f.childForFieldName('object') : null;
  if (obj?.type === 'identifier' && /^(cursor)$/.test(f!.childForFieldName('attribute')?.text ?? '')) return argumentReason(ctx, obj, depth + 1);
  return undefined;
}

/** `create_engine("sqlite…")` calls in the file without check_same_thread=False. */
function sqliteEngines(root: Node): string[] {
  const out: string[] = [];
  for (const n of walk(root)) {
    if (n.type !== 'call' || !/(^|\.)create_engine$/.test(calleeText(n))) continue;
    const args = n.childForFieldName('arguments');
    const first = args?.type === 'argument_list' ? args.namedChildren.find((a) => a && a.type !== 'keyword_argument' && a.type !== 'comment') : undefined;
    if (!first || !/^[rRbBuUfF]*['"]+sqlite/.test(first.text)) continue;
    if (/check_same_thread['"]?\s*[:=]\s*False/.test(n.text)) continue;
    out.push(n.text.length > 80 ? n.text.slice(0, 80) + '…' : n.text);
  }
  return out;
}

function importsOf(root: Node): { sqliteModules: Set<string>; sqliteConnects: Set<string>; modules: Set<string> } {
  const sqliteModules = new Set<string>();
  const sqliteConnects = new Set<string>();
  const modules = new Set<string>();
  for (const st of walk(root)) {
    if (st.type === 'import_statement') {
      for (const c of st.namedChildren) {
        if (!c) continue;
        const mod = c.type === 'aliased_import' ? c.childForFieldName('name')?.text : c.text;
        const local = c.type === 'aliased_import' ? c.childForFieldName('alias')?.text : c.text.split('.')[0];
        if (local) modules.add(local);
        if ((mod === 'sqlite3' || mod === 'sqlite3.dbapi2') && local) sqliteModules.add(local);
      }
    } else if (st.type === 'import_from_statement') {
      const mod = st.childForFieldName('module_name')?.text;
      if (mod !== 'sqlite3' && mod !== 'sqlite3.dbapi2') continue;
      for (const c of st.namedChildren) {
        if (!c || c.id === st.childForFieldName('module_name')?.id) continue;
        const name = c.type === 'aliased_import' ? c.childForFieldName('name')?.text : c.text;
        const local = c.type === 'aliased_import' ? c.childForFieldName('alias')?.text : c.text;
        if (name === 'connect' && local) sqliteConnects.add(local);
        if (name === 'dbapi2' && local) sqliteModules.add(local);
      }
    }
  }
  return { sqliteModules, sqliteConnects, modules };
}

/** Why the objects the expression works on may not move to a worker thread. */
function objectsReason(ctx: Ctx, finding: Finding, spineCalls: Node[], base: Node): string | undefined {
  const sqlite = finding.driver === 'sqlite3';
  const innermost = spineCalls[spineCalls.length - 1];
  const f = innermost?.childForFieldName('function');
  // Flask-SQLAlchemy `Model.query.<…>`.
  if (/(^|\.)[A-Z]\w*\.query\.\w+$/.test(f?.text ?? '') || /^[A-Z]\w*\.query$/.test(finding.callee ?? '')) {
    if (base.type === 'identifier' && /^[A-Z]/.test(base.text)) return R.flask;
  }
  if (f?.type === 'attribute') {
    const recv = f.childForFieldName('object');
    if (!recv) return R.noOrigin(f.text);
    const r = unparen(recv);
    if (r.type === 'identifier') {
      const o = originOf(ctx, r.text);
      const namespace = o.kind === 'import' && ctx.moduleImports.has(r.text);
      if (!namespace) {
        const why = objectReason(ctx, r.text, sqlite);
        if (why) return why;
        const escape = escapeOf(ctx, r.text);
        if (escape) return R.escapes(r.text, escape);
      } else if (sqlite) return R.sqliteNoReceiver;
    } else if (r.type === 'attribute') {
      return R.attributeReceiver(r.text.length > 60 ? r.text.slice(0, 60) + '…' : r.text);
    } else return R.noOrigin(r.text.length > 60 ? r.text.slice(0, 60) + '…' : r.text);
  } else if (f?.type === 'identifier') {
    if (finding.kind === 'session' && spineCalls.length === 1) return R.factory(f.text);
    if (sqlite) return R.sqliteNoReceiver;
  } else return R.noOrigin(f?.text ?? 'the callee');
  // Objects handed to the calls.
  for (const c of spineCalls) {
    const args = c.childForFieldName('arguments');
    if (!args) continue;
    for (const a of args.namedChildren) {
      if (!a) continue;
      const v = a.type === 'keyword_argument' ? a.childForFieldName('value') : a.type === 'list_splat' || a.type === 'dictionary_splat' ? a.firstNamedChild : a;
      const u = v ? unparen(v) : null;
      if (u?.type !== 'identifier') continue;
      const why = argumentReason(ctx, u);
      if (why) return why;
    }
  }
  if (finding.driver === 'sqlalchemy') {
    const engines = sqliteEngines(ctx.root);
    if (engines.length) return R.sqliteEngine(engines[0]);
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// asyncio

/** Standard-library modules often imported first: `import asyncio` joins their group without a blank line. */
const STDLIB = new Set([
  'abc', 'argparse', 'asyncio', 'base64', 'collections', 'concurrent', 'contextlib', 'contextvars', 'copy', 'csv', 'dataclasses',
  'datetime', 'decimal', 'enum', 'functools', 'hashlib', 'http', 'inspect', 'io', 'itertools', 'json', 'logging', 'math', 'operator',
  'os', 'pathlib', 'random', 're', 'sqlite3', 'string', 'subprocess', 'sys', 'tempfile', 'threading', 'time', 'types', 'typing',
  'urllib', 'uuid', 'warnings',
]);

interface AsyncioName {
  name: string;
  edit?: TextEdit;
}

function asyncioImport(tree: Tree, fn: Node, eol = '\n'): AsyncioName | { reason: string } {
  const root = tree.rootNode;
  const bindings = bindingsOf(root, 'asyncio');
  let imported = false;
  for (const id of bindings) {
    const scope = scopeOf(id);
    const st = id.parent?.type === 'dotted_name' ? id.parent.parent : null;
    const plainImport = st?.type === 'import_statement' && id.parent!.firstNamedChild?.id === id.id && id.parent!.text.split('.')[0] === 'asyncio';
    if (plainImport && scope?.id === root.id && st!.parent?.id === root.id) {
      imported = true;
      continue;
    }
    // `import asyncio` elsewhere binds the same module, except inside this coroutine (a local name there).
    if (plainImport && scope?.id !== fn.id) continue;
    return { reason: R.asyncioBound };
  }
  if (imported) return { name: 'asyncio' };
  // Placement: among the leading plain `import x` lines, in order; else before the first import.
  let docstring: Node | undefined;
  let afterFuture: Node | undefined;
  let firstImport: Node | undefined;
  const plain: Node[] = [];
  for (let i = 0; i < root.namedChildCount; i++) {
    const st = root.namedChild(i);
    if (!st) continue;
    if (st.type === 'comment') continue;
    if (i === 0 && st.type === 'expression_statement' && st.namedChild(0)?.type === 'string') {
      docstring = st;
      continue;
    }
    if (st.type === 'future_import_statement') {
      afterFuture = st;
      continue;
    }
    if (st.type === 'import_statement' || st.type === 'import_from_statement') {
      firstImport ??= st;
      if (st.type === 'import_statement') plain.push(st);
      continue;
    }
    break;
  }
  const line = 'import asyncio';
  const firstName = (st: Node) => st.namedChild(0)?.text ?? '';
  const later = plain.find((st) => firstName(st).localeCompare('asyncio') > 0 && st.startPosition.column === 0);
  if (later) return { name: 'asyncio', edit: { range: { start: pos(later.startPosition), end: pos(later.startPosition) }, newText: `${line}${eol}` } };
  if (plain.length) {
    const last = plain[plain.length - 1];
    return { name: 'asyncio', edit: { range: { start: pos(last.endPosition), end: pos(last.endPosition) }, newText: `${eol}${line}` } };
  }
  if (firstImport && firstImport.startPosition.column === 0) {
    // Standard-library imports come first, a blank line before the next group (isort's layout).
    const root0 = (firstImport.childForFieldName('module_name')?.text ?? '').split('.')[0];
    const gap = !STDLIB.has(root0);
    return { name: 'asyncio', edit: { range: { start: pos(firstImport.startPosition), end: pos(firstImport.startPosition) }, newText: `${line}${eol}${gap ? eol : ''}` } };
  }
  const after = afterFuture ?? docstring;
  if (after) return { name: 'asyncio', edit: { range: { start: pos(after.endPosition), end: pos(after.endPosition) }, newText: `${eol}${eol}${line}` } };
  return { name: 'asyncio', edit: { range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, newText: `${line}${eol}${eol}` } };
}

// ---------------------------------------------------------------------------------------------
// Render and verify

interface Form {
  kind: 'call' | 'lambda';
  /** The node replaced. */
  node: Node;
  rendered: string;
}

function argTexts(args: Node): string[] {
  return args.namedChildren.filter((a): a is Node => !!a && a.type !== 'comment').map((a) => a.text);
}

/** `fn(args)` on a plain name: `cur.execute`, `session.commit`, `self.db.add` is refused earlier. */
function plainCallable(site: Site): boolean {
  if (site.expr.id !== site.call.id) return false;
  const f = site.call.childForFieldName('function');
  const args = site.call.childForFieldName('arguments');
  if (!f || args?.type !== 'argument_list') return false;
  for (let n: Node | null = f; n; n = n.type === 'attribute' ? n.childForFieldName('object') : null) {
    if (n.type === 'identifier') return true;
    if (n.type !== 'attribute') return false;
  }
  return false;
}

function render(site: Site, kind: 'call' | 'lambda', asyncio: string, templates: SqlalchemyTemplates): Form {
  const engine = liquidFor(templates, SQLALCHEMY_TEMPLATE_NAMES);
  if (kind === 'call') {
    const f = site.call.childForFieldName('function')!;
    const args = site.call.childForFieldName('arguments')!;
    const inner = args.text.slice(1, -1);
    const sep = /^[ \t]*(\r?\n|#)/.test(inner) ? '' : ' ';
    const rendered = engine.renderFileSync('to_thread', { asyncio, fn: f.text, args: inner.trim() ? (sep ? inner.replace(/^[ \t]+/, '') : inner) : false, sep, expr: false }).trim();
    return { kind, node: site.expr, rendered };
  }
  const rendered = engine.renderFileSync('to_thread', { asyncio, fn: false, args: false, sep: ' ', expr: site.outer.text }).trim();
  return { kind, node: site.outer, rendered };
}

/** The rendered text reads back as `await <asyncio>.to_thread(...)` holding exactly the original parts. */
function readBack(form: Form, site: Site, asyncio: string): string | undefined {
  const probe = parse(`async def __sqlmigrate__():\n    return (\n${form.rendered}\n)\n`);
  if ('reason' in probe) return probe.reason;
  try {
    if (treeErrors(probe)) return 'the rendered text does not parse as one Python expression';
    const ret = probe.rootNode.namedChild(0)?.childForFieldName('body')?.namedChild(0);
    const value = ret?.type === 'return_statement' ? ret.namedChild(0) : null;
    const aw = value ? unparen(value) : null;
    if (aw?.type !== 'await') return 'the rendered text is not an `await` expression';
    const call = aw.namedChild(0) ? unparen(aw.namedChild(0)!) : null;
    if (call?.type !== 'call' || call.childForFieldName('function')?.text !== `${asyncio}.to_thread`) return `the rendered text does not call ${asyncio}.to_thread`;
    const args = call.childForFieldName('arguments');
    if (args?.type !== 'argument_list') return 'the rendered call has no argument list';
    const got = argTexts(args);
    if (form.kind === 'call') {
      const want = [site.call.childForFieldName('function')!.text, ...argTexts(site.call.childForFieldName('arguments')!)];
      if (JSON.stringify(got) !== JSON.stringify(want)) return 'the rendered call does not pass the original callee and arguments unchanged';
      return undefined;
    }
    const lam = args.namedChildren.filter((a) => a && a.type !== 'comment');
    if (lam.length !== 1 || lam[0]!.type !== 'lambda' || lam[0]!.childForFieldName('parameters')) return 'the rendered call does not pass one lambda without parameters';
    if (lam[0]!.childForFieldName('body')?.text !== site.outer.text) return 'the lambda does not hold the original expression unchanged';
    return undefined;
  } finally {
    probe.delete();
  }
}

function within(r: Range, outer: Range): boolean {
  return cmp(outer.start, r.start) <= 0 && cmp(r.end, outer.end) <= 0;
}

function findingKey(f: Finding): string {
  return [f.rule, f.kind, f.driver, [...f.tables].sort().join(','), f.callee ?? '', f.exception ? 'kept' : ''].join('|');
}

function multiset(fs: Finding[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const f of fs) m.set(findingKey(f), (m.get(findingKey(f)) ?? 0) + 1);
  return m;
}

/**
 * The file with the edits parses, and a rescan finds what the original scan found minus the
 * sync-in-async findings that moved into a worker thread (`gone`).
 */
function verifyFile(text: string, fileName: string, edits: TextEdit[], gone: (f: Finding) => boolean, detect: DetectOptions, before?: Finding[]): string | undefined {
  let next: string;
  try {
    next = applyEdits(text, edits);
  } catch (e) {
    return `the edits could not be applied: ${(e as Error).message}`;
  }
  const t = parse(next);
  if ('reason' in t) return t.reason;
  try {
    if (treeErrors(t)) return 'the rewritten file would not parse';
  } finally {
    t.delete();
  }
  const name = /\.pyi?$/.test(fileName) ? fileName : 'file.py';
  const b = before ?? analyzeTextSync(text, name, detect).findings;
  const a = analyzeTextSync(next, name, detect);
  if (a.skipped) return `the rewritten file could not be re-analysed: ${a.skipped}`;
  const want = multiset(b.filter((f) => !gone(f)));
  const got = multiset(a.findings);
  for (const [k, n] of want) if ((got.get(k) ?? 0) !== n) return `a rescan would report different findings (${k.split('|').slice(0, 2).join(' ')}: ${got.get(k) ?? 0} instead of ${n})`;
  for (const [k, n] of got) if (!want.has(k)) return `a rescan would report a new finding (${k.split('|').slice(0, 2).join(' ')} ×${n})`;
  return undefined;
}

interface Prepared {
  edit: TextEdit;
  rendered: string;
  /** The range that moved into the thread (its sync-in-async findings go). */
  moved: Range;
  kind: 'call' | 'lambda';
  fn: Node;
}

function rangeOfNode(n: Node): Range {
  return { start: pos(n.startPosition), end: pos(n.endPosition) };
}

function prepareOne(tree: Tree, text: string, fileName: string, finding: Finding, templates: SqlalchemyTemplates, detect: DetectOptions, asyncio: string, before: Finding[]): Prepared | { reason: string } {
  const r = findingReason(finding);
  if (r) return { reason: r };
  const call = callAt(tree, finding.range);
  if (!call) return { reason: 'the call was not found at the finding (the text changed?)' };
  if (call.hasError) return { reason: 'the call contains a syntax error' };
  const site = locate(call);
  if ('reason' in site) return site;
  const content = contentReason(site);
  if (content) return { reason: content };
  const { calls, base } = spineOf(site.expr);
  const imports = importsOf(tree.rootNode);
  const ctx: Ctx = { root: tree.rootNode, fn: site.fn, call, sqliteModules: imports.sqliteModules, sqliteConnects: imports.sqliteConnects, moduleImports: imports.modules };
  const objects = objectsReason(ctx, finding, calls, base);
  if (objects) return { reason: objects };
  const spine = new Set(calls.map((c) => c.id));
  const forms: Array<'call' | 'lambda'> = plainCallable(site) ? ['call', 'lambda'] : ['lambda'];
  let last = '';
  for (const kind of forms) {
    if (kind === 'lambda') {
      const why = lambdaReason(site, spine);
      if (why) return { reason: last ? `${why} (and the plain form: ${last})` : why };
    }
    let form: Form;
    try {
      form = render(site, kind, asyncio, templates);
    } catch (e) {
      return { reason: `the template failed: ${(e as Error).message}` };
    }
    const back = readBack(form, site, asyncio);
    if (back) {
      last = `not verified: ${back}`;
      continue;
    }
    const edit: TextEdit = { range: rangeOfNode(form.node), newText: form.rendered };
    const moved = kind === 'lambda' ? rangeOfNode(site.outer) : finding.range;
    const gone = (f: Finding) => f.rule === 'sync-in-async' && (kind === 'lambda' ? within(f.range, moved) : cmp(f.range.start, finding.range.start) === 0 && cmp(f.range.end, finding.range.end) === 0);
    const bad = verifyFile(text, fileName, [edit], gone, detect, before);
    if (bad) {
      last = `not verified: ${bad}`;
      continue;
    }
    return { edit, rendered: form.rendered, moved, kind, fn: site.fn };
  }
  return { reason: last || 'not verified' };
}

function sortEdits(edits: TextEdit[]): TextEdit[] {
  return [...edits].sort((a, b) => cmp(a.range.start, b.range.start));
}

function analyzeBefore(text: string, fileName: string, detect: DetectOptions): Finding[] {
  return analyzeTextSync(text, /\.pyi?$/.test(fileName) ? fileName : 'file.py', detect).findings;
}

/** The code action for one `sync-in-async` finding: offered only when verified, else with the reason. */
export function toThreadRewriteActions(text: string, fileName: string, finding: Finding, options: ToThreadOptions = {}): ToThreadAction[] {
  const early = findingReason(finding);
  if (early) return [notOffered(early)];
  const tree = parse(text);
  if ('reason' in tree) return [notOffered(tree.reason)];
  try {
    const templates = options.templates ?? defaultSqlalchemyTemplates();
    const detect = options.detect ?? DEFAULT_DETECT;
    const call = callAt(tree, finding.range);
    const site = call ? locate(call) : undefined;
    const imp = site && !('reason' in site) ? asyncioImport(tree, site.fn, eolOf(text)) : { name: 'asyncio' };
    if ('reason' in imp) return [notOffered(imp.reason)];
    const before = analyzeBefore(text, fileName, detect);
    const p = prepareOne(tree, text, fileName, finding, templates, detect, imp.name, before);
    if ('reason' in p) return [notOffered(p.reason)];
    const edits = sortEdits(imp.edit ? [p.edit, imp.edit] : [p.edit]);
    const bad = verifyFile(text, fileName, edits, (f) => f.rule === 'sync-in-async' && (p.kind === 'lambda' ? within(f.range, p.moved) : cmp(f.range.start, p.moved.start) === 0 && cmp(f.range.end, p.moved.end) === 0), detect, before);
    if (bad) return [notOffered(`not verified: ${bad}`)];
    return [{ title: TO_THREAD_TITLE, kind: 'quickfix', preferred: true, verified: true, edits, target: 'to-thread', rendered: p.rendered }];
  } catch (e) {
    return [notOffered(`internal error: ${(e as Error).message}`)];
  } finally {
    tree.delete();
  }
}

export interface ToThreadFixAllResult {
  edits: TextEdit[];
  applied: Array<{ finding: Finding; target: 'to-thread' }>;
  skipped: Array<{ finding: Finding; reason: string }>;
}

/**
 * Every verified to_thread fix in a file as one set of non-overlapping edits, with one
 * `import asyncio` edit; the combined result is verified again (parse and rescan).
 */
export function toThreadFixAll(text: string, fileName: string, findings: Finding[], options: ToThreadOptions = {}): ToThreadFixAllResult {
  const out: ToThreadFixAllResult = { edits: [], applied: [], skipped: [] };
  const relevant = findings.filter((f) => f.rule === 'sync-in-async');
  if (!relevant.length) return out;
  const tree = parse(text);
  if ('reason' in tree) {
    for (const f of relevant) out.skipped.push({ finding: f, reason: tree.reason });
    return out;
  }
  try {
    const templates = options.templates ?? defaultSqlalchemyTemplates();
    const detect = options.detect ?? DEFAULT_DETECT;
    const before = analyzeBefore(text, fileName, detect);
    const ordered = [...relevant].sort((a, b) => cmp(a.range.start, b.range.start) || cmp(b.range.end, a.range.end));
    const chosen: Array<{ finding: Finding; p: Prepared }> = [];
    let imp: AsyncioName | { reason: string } | undefined;
    for (const f of ordered) {
      const call = callAt(tree, f.range);
      const site = call ? locate(call) : undefined;
      if (site && !('reason' in site)) {
        const mine = asyncioImport(tree, site.fn, eolOf(text));
        if ('reason' in mine) {
          out.skipped.push({ finding: f, reason: mine.reason });
          continue;
        }
        imp ??= mine;
      }
      let p: Prepared | { reason: string };
      try {
        p = prepareOne(tree, text, fileName, f, templates, detect, imp && !('reason' in imp) ? imp.name : 'asyncio', before);
      } catch (e) {
        p = { reason: `internal error: ${(e as Error).message}` };
      }
      if ('reason' in p) {
        out.skipped.push({ finding: f, reason: p.reason });
        continue;
      }
      const prepared = p;
      if (chosen.some((c) => overlaps(c.p.edit.range, prepared.edit.range))) {
        out.skipped.push({ finding: f, reason: 'it overlaps another fix; run fix again' });
        continue;
      }
      chosen.push({ finding: f, p });
    }
    for (const c of chosen) {
      out.edits.push(c.p.edit);
      out.applied.push({ finding: c.finding, target: 'to-thread' });
    }
    if (out.edits.length && imp && !('reason' in imp) && imp.edit) out.edits.push(imp.edit);
    out.edits = sortEdits(out.edits);
    if (out.edits.length) {
      const gone = (f: Finding) => f.rule === 'sync-in-async' && chosen.some((c) => (c.p.kind === 'lambda' ? within(f.range, c.p.moved) : cmp(f.range.start, c.p.moved.start) === 0 && cmp(f.range.end, c.p.moved.end) === 0));
      const bad = verifyFile(text, fileName, out.edits, gone, detect, before);
      if (bad) {
        for (const a of out.applied) out.skipped.push({ finding: a.finding, reason: `not verified: ${bad}` });
        out.applied = [];
        out.edits = [];
      }
    }
    return out;
  } catch (e) {
    const skipped = new Set(out.skipped.map((x) => x.finding));
    return { edits: [], applied: [], skipped: [...out.skipped, ...relevant.filter((f) => !skipped.has(f)).map((f) => ({ finding: f, reason: `internal error: ${(e as Error).message}` }))] };
  } finally {
    tree.delete();
  }
}
