/**
 * The driver call shapes the repository rewrite replaces, read from tree-sitter-python, and how
 * the code reads the result afterwards.
 *
 *   with get_db() as conn, conn.cursor() as cur:          with get_db() as conn:
 *       cur.execute(SQL, (job_id,))                            rows = conn.execute(SQL, (s,)).fetchall()
 *       row = cur.fetchone()
 *
 * Recognised: the connection from `with <ctx>() as conn` (a call without arguments); the cursor
 * from the same `with`, a nested `with conn.cursor(...) as cur:` that is the whole body, or
 * `cur = conn.cursor()` as the body's first statement; then exactly one execute and at most one
 * read (`x = cur.fetchone()` / `fetchall()` / `fetchone()[0]` / `rowcount`, or `return …`) and
 * `conn.commit()`. Anything else in the block, a name of the block used after it, or a result
 * used in a way that has no counterpart is refused with the reason.
 */
import type { Node, Tree } from 'web-tree-sitter';
import type { Range } from '../../types';
import { bindingsOf } from './imports';
import { samePos } from './tree';

export type BaseRead = 'one' | 'all' | 'rowcount' | 'scalar' | 'none';
/** How rows come back from the original cursor. */
export type RowStyle = 'tuple' | 'dict' | 'sqlite-row' | 'unknown';

export interface CallSite {
  /** The `with` statement that is replaced. */
  replace: Node;
  /** The connection context's callable as written (`get_db`). */
  ctxName: string;
  /** The cursor() call when there is one (for cursor_factory). */
  cursorCall?: Node;
  sqlArg: Node;
  paramsArg?: Node;
  read: BaseRead;
  target: { kind: 'assign'; name: string; node: Node } | { kind: 'return' } | { kind: 'discard' };
  commit: boolean;
  /** The read comes after `conn.commit()` in the original. */
  readAfterCommit: boolean;
  /** The enclosing function (or the module). */
  scope: Node;
  conn: string;
  cur?: string;
}

export type Shape = { ok: true; site: CallSite } | { ok: false; reason: string };

const no = (reason: string): Shape => ({ ok: false, reason });

/** The call node the finding's range covers exactly. */
export function callAt(tree: Tree, range: Range): Node | undefined {
  const start = { row: range.start.line, column: range.start.character };
  const end = { row: range.end.line, column: range.end.character };
  let n: Node | null = tree.rootNode.descendantForPosition(start, end);
  while (n) {
    if (n.type === 'call' && samePos(n.startPosition, range.start) && samePos(n.endPosition, range.end)) return n;
    n = n.parent;
  }
  return undefined;
}

export function unparen(n: Node): Node {
  let x = n;
  while (x.type === 'parenthesized_expression' && x.namedChildCount === 1) x = x.namedChild(0)!;
  return x;
}

function named(n: Node | null | undefined): Node[] {
  return n ? n.namedChildren.filter((c): c is Node => !!c) : [];
}

function statements(block: Node | null): Node[] {
  return named(block);
}

interface WithItem {
  value: Node;
  alias?: string;
}

function withItems(w: Node): WithItem[] {
  const clause = named(w).find((c) => c.type === 'with_clause');
  return named(clause).map((item) => {
    const v = item.namedChild(0)!;
    if (v.type === 'as_pattern') {
      const alias = v.childForFieldName('alias');
      const target = alias ? unparen(alias.namedChild(0) ?? alias) : undefined;
      return { value: v.namedChild(0)!, alias: target?.type === 'identifier' ? target.text : undefined };
    }
    return { value: v };
  });
}

/** `<ctx>()`: a call on a name or dotted name, without arguments. */
function connectionContext(v: Node): { name: string } | { reason: string } {
  const x = unparen(v);
  if (x.type !== 'call') return { reason: `the connection comes from \`${x.text}\`, not from a call of a connection factory` };
  const f = x.childForFieldName('function');
  if (!f || !/^(identifier|attribute)$/.test(f.type)) return { reason: `the connection comes from \`${x.text}\`` };
  if (named(x.childForFieldName('arguments')).length) return { reason: `\`${x.text}\` takes arguments (a database, options): cannot tell that the configured session reaches the same database` };
  return { name: f.text };
}

/** `conn.cursor(...)` → the call, or undefined. */
function cursorOf(v: Node, conn: string): Node | undefined {
  const x = unparen(v);
  if (x.type !== 'call') return undefined;
  const f = x.childForFieldName('function');
  if (f?.type !== 'attribute' || f.childForFieldName('object')?.text !== conn || f.childForFieldName('attribute')?.text !== 'cursor') return undefined;
  return x;
}

function isMethodCall(n: Node | null | undefined, recv: string, method: string): n is Node {
  if (!n) return false;
  const x = unparen(n);
  if (x.type !== 'call') return false;
  const f = x.childForFieldName('function');
  return f?.type === 'attribute' && f.childForFieldName('object')?.text === recv && f.childForFieldName('attribute')?.text === method;
}

/** What a statement after the execute does: a read of the cursor (or of the execute's result), or a commit. */
interface Step {
  kind: 'read' | 'commit';
  read?: BaseRead;
  target?: CallSite['target'];
}

/** `cur.fetchone()`, `cur.fetchall()`, `cur.fetchone()[0]`, `cur.rowcount` on `recv`. */
function readExpr(e: Node, recv: string): BaseRead | undefined {
  const x = unparen(e);
  if (isMethodCall(x, recv, 'fetchone') && !named(x.childForFieldName('arguments')).length) return 'one';
  if (isMethodCall(x, recv, 'fetchall') && !named(x.childForFieldName('arguments')).length) return 'all';
  if (x.type === 'attribute' && x.childForFieldName('object')?.text === recv && x.childForFieldName('attribute')?.text === 'rowcount') return 'rowcount';
  if (x.type === 'subscript') {
    const idx = named(x).slice(1);
    if (idx.length === 1 && idx[0].text === '0' && isMethodCall(x.childForFieldName('value'), recv, 'fetchone')) return 'scalar';
  }
  return undefined;
}

function stepOf(st: Node, conn: string, recv: string): Step | { reason: string } {
  if (st.type === 'expression_statement') {
    const e = st.namedChild(0)!;
    if (isMethodCall(e, conn, 'commit') && !named(unparen(e).childForFieldName('arguments')).length) return { kind: 'commit' };
    if (e.type === 'assignment') {
      const left = e.childForFieldName('left');
      const right = e.childForFieldName('right');
      const read = right ? readExpr(right, recv) : undefined;
      if (left?.type === 'identifier' && read && !e.childForFieldName('type')) return { kind: 'read', read, target: { kind: 'assign', name: left.text, node: left } };
    }
  } else if (st.type === 'return_statement') {
    const v = st.namedChild(0);
    const read = v ? readExpr(v, recv) : undefined;
    if (read) return { kind: 'read', read, target: { kind: 'return' } };
  }
  return { reason: `the block also holds \`${st.text.split('\n')[0].slice(0, 80)}\`, which the repository call would not do` };
}

function scopeOf(n: Node): Node {
  for (let p = n.parent; p; p = p.parent) if (p.type === 'function_definition' || p.type === 'module') return p;
  return n.tree.rootNode;
}

/** Identifiers named `name` inside `root` that are real references (not attribute names or keywords). */
export function referencesOf(root: Node, name: string): Node[] {
  const out: Node[] = [];
  const stack: Node[] = [root];
  while (stack.length) {
    const n = stack.pop()!;
    if (n.type === 'identifier' && n.text === name) {
      const p = n.parent;
      const attrName = p?.type === 'attribute' && p.childForFieldName('attribute')?.id === n.id;
      const kw = p?.type === 'keyword_argument' && p.childForFieldName('name')?.id === n.id;
      if (!attrName && !kw) out.push(n);
      continue;
    }
    for (let i = n.namedChildCount - 1; i >= 0; i--) {
      const c = n.namedChild(i);
      if (c) stack.push(c);
    }
  }
  return out;
}

function inside(n: Node, outer: Node): boolean {
  return n.startIndex >= outer.startIndex && n.endIndex <= outer.endIndex;
}

function hasComment(n: Node): boolean {
  const stack: Node[] = [n];
  while (stack.length) {
    const c = stack.pop()!;
    if (c.type === 'comment') return true;
    for (let i = 0; i < c.namedChildCount; i++) {
      const k = c.namedChild(i);
      if (k) stack.push(k);
    }
  }
  return false;
}

/** Recognises the shape around a raw-sql finding's execute call. */
export function recogniseCallSite(call: Node): Shape {
  const f = call.childForFieldName('function');
  if (f?.type !== 'attribute' || f.childForFieldName('attribute')?.text !== 'execute') return no(`\`${f?.text ?? call.text}\` is not a cursor's or connection's execute()`);
  const recvNode = f.childForFieldName('object')!;
  if (recvNode.type !== 'identifier') return no(`the execute() receiver \`${recvNode.text}\` is not a local name`);
  const recv = recvNode.text;
  const args = named(call.childForFieldName('arguments'));
  if (args.some((a) => a.type === 'keyword_argument' || a.type === 'list_splat' || a.type === 'dictionary_splat')) return no('execute() with keyword or unpacked arguments');
  if (args.length < 1 || args.length > 2) return no('execute() without exactly the SQL and its parameters');
  // The statement holding the call.
  let expr: Node = call;
  while (expr.parent?.type === 'parenthesized_expression') expr = expr.parent;
  let first: Step | undefined;
  let stmt: Node | null = null;
  const p = expr.parent;
  if (p?.type === 'expression_statement') stmt = p;
  else {
    // `conn.execute(...).fetchall()` (the sqlite3 shortcut): the read is chained on the call.
    let read: BaseRead | undefined;
    let top: Node | undefined;
    const attr = p?.type === 'attribute' && p.childForFieldName('object')?.id === expr.id ? p : undefined;
    const m = attr?.childForFieldName('attribute')?.text;
    if (attr && (m === 'fetchone' || m === 'fetchall') && attr.parent?.type === 'call' && !named(attr.parent.childForFieldName('arguments')).length) {
      top = attr.parent;
      read = m === 'fetchone' ? 'one' : 'all';
      if (top.parent?.type === 'subscript' && top.parent.childForFieldName('value')?.id === top.id && read === 'one') {
        const idx = named(top.parent).slice(1);
        if (idx.length === 1 && idx[0].text === '0') {
          top = top.parent;
          read = 'scalar';
        }
      }
    } else if (attr && m === 'rowcount') {
      top = attr;
      read = 'rowcount';
    }
    if (!top || !read) return no('the execute() result is used in a way the repository rewrite does not recognise (it takes `cur.execute(...)` as a statement, or `conn.execute(...).fetchone()` / `.fetchall()`)');
    const holder = top.parent;
    if (holder?.type === 'return_statement') {
      stmt = holder;
      first = { kind: 'read', read, target: { kind: 'return' } };
    } else if (holder?.type === 'assignment' && holder.childForFieldName('right')?.id === top.id && holder.childForFieldName('left')?.type === 'identifier' && holder.parent?.type === 'expression_statement' && !holder.childForFieldName('type')) {
      stmt = holder.parent;
      const left = holder.childForFieldName('left')!;
      first = { kind: 'read', read, target: { kind: 'assign', name: left.text, node: left } };
    } else if (holder?.type === 'expression_statement') {
      stmt = holder;
      first = { kind: 'read', read, target: { kind: 'discard' } };
    } else return no('the fetched result is part of a larger expression; assign it to a variable first');
  }
  const block = stmt!.parent;
  let w = block?.parent;
  if (block?.type !== 'block' || w?.type !== 'with_statement') return no('the execute() is not directly inside a `with <connection>` block');
  if (w.child(0)?.type === 'async') return no('an `async with` block');
  let body = statements(block);
  let items = withItems(w);
  let conn: string;
  let ctxName: string;
  let cur: string | undefined;
  let cursorCall: Node | undefined;
  if (items.length === 2) {
    if (!items[0].alias || !items[1].alias) return no('a `with` item without `as <name>`');
    const ctx = connectionContext(items[0].value);
    if ('reason' in ctx) return no(ctx.reason);
    conn = items[0].alias;
    ctxName = ctx.name;
    cursorCall = cursorOf(items[1].value, conn);
    if (!cursorCall) return no(`the second \`with\` item is not \`${conn}.cursor()\``);
    cur = items[1].alias;
  } else if (items.length === 1) {
    const only = items[0];
    if (!only.alias) return no('a `with` item without `as <name>`');
    const outer = w.parent?.type === 'block' ? w.parent.parent : undefined;
    const outerItems = outer?.type === 'with_statement' ? withItems(outer) : [];
    if (outer && outerItems.length === 1 && outerItems[0].alias && cursorOf(only.value, outerItems[0].alias)) {
      if (statements(w.parent).length !== 1) return no('the connection\'s `with` block holds more than the cursor\'s');
      const ctx = connectionContext(outerItems[0].value);
      if ('reason' in ctx) return no(ctx.reason);
      conn = outerItems[0].alias;
      ctxName = ctx.name;
      cursorCall = cursorOf(only.value, conn);
      cur = only.alias;
      w = outer;
      if (outer.child(0)?.type === 'async') return no('an `async with` block');
    } else {
      const ctx = connectionContext(only.value);
      if ('reason' in ctx) return no(ctx.reason);
      conn = only.alias;
      ctxName = ctx.name;
      const s0 = body[0];
      const a0 = s0?.type === 'expression_statement' ? s0.namedChild(0) : null;
      if (a0?.type === 'assignment' && a0.childForFieldName('left')?.type === 'identifier' && a0.childForFieldName('right') && cursorOf(a0.childForFieldName('right')!, conn)) {
        cur = a0.childForFieldName('left')!.text;
        cursorCall = cursorOf(a0.childForFieldName('right')!, conn);
        body = body.slice(1);
      }
    }
  } else return no('a `with` statement with more than a connection and a cursor');
  items = [];
  if (recv !== (cur ?? conn)) return no(`execute() is called on \`${recv}\`, not on the block's ${cur ? 'cursor' : 'connection'}`);
  if (hasComment(w)) return no('a comment inside the block would be lost; move it above the `with`');
  if (body[0]?.id !== stmt!.id) return no(`the block also holds \`${(body[0]?.text ?? '').split('\n')[0].slice(0, 80)}\` before this execute(), which the repository call would not do`);
  const steps: Step[] = first ? [first] : [];
  for (const st of body.slice(1)) {
    const s = stepOf(st, conn, recv);
    if ('reason' in s) return no(s.reason);
    steps.push(s);
  }
  const reads = steps.filter((s) => s.kind === 'read');
  const commits = steps.filter((s) => s.kind === 'commit');
  if (reads.length > 1) return no('the result is read more than once');
  if (commits.length > 1) return no('more than one commit()');
  const readIndex = steps.findIndex((s) => s.kind === 'read');
  const commitIndex = steps.findIndex((s) => s.kind === 'commit');
  const read = reads[0];
  if (read?.target?.kind === 'return' && readIndex !== steps.length - 1) return no('statements after the `return`');
  const scope = scopeOf(w);
  // The block's names must not be used outside it: they disappear with the rewrite.
  for (const name of [conn, cur].filter((x): x is string => !!x)) {
    const outside = referencesOf(scope, name).filter((r) => !inside(r, w));
    if (outside.length) return no(`\`${name}\` is used outside the block (line ${outside[0].startPosition.row + 1}); it no longer exists after the rewrite`);
  }
  const sqlArg = args[0];
  const paramsArg = args[1];
  return {
    ok: true,
    site: {
      replace: w, ctxName, cursorCall, sqlArg, paramsArg, scope, conn, cur,
      read: read?.read ?? 'none',
      target: read?.target ?? { kind: 'discard' },
      commit: commits.length === 1,
      readAfterCommit: commitIndex >= 0 && readIndex > commitIndex,
    },
  };
}

// ---------------------------------------------------------------------------------------------
// How the result is used

export interface Uses {
  index: boolean;
  name: boolean;
  escape: boolean;
  unknown?: string;
}

function isNone(n: Node | undefined): boolean {
  return !!n && unparen(n).type === 'none';
}

/** Classifies every use of a row (`isList` false) or of a list of rows, starting from an expression that holds it. */
function classify(e: Node, isList: boolean, u: Uses, depth = 0): void {
  if (depth > 20) {
    u.unknown ??= e.text;
    return;
  }
  let x = e;
  while (x.parent?.type === 'parenthesized_expression') x = x.parent;
  const p = x.parent;
  if (!p) return;
  const unknown = () => {
    u.unknown ??= p.text.split('\n')[0].slice(0, 80);
  };
  if (p.type === 'return_statement') {
    u.escape = true;
    return;
  }
  if ((p.type === 'if_statement' || p.type === 'while_statement' || p.type === 'elif_clause') && p.childForFieldName('condition')?.id === x.id) return;
  if (p.type === 'not_operator') return;
  if (p.type === 'conditional_expression') {
    // `a if row else b`: the test only looks at truth; a branch hands the value on.
    if (named(p)[1]?.id === x.id) return;
    return classify(p, isList, u, depth + 1);
  }
  if (p.type === 'comparison_operator') {
    const ops = p.children.filter((c) => c && !c.isNamed).map((c) => c!.text.replace(/\s+/g, ' '));
    const kids = named(p);
    if (kids.length === 2 && ops.length === 1 && (ops[0] === 'is' || ops[0] === 'is not') && kids.some((k) => isNone(k))) return;
    if (kids.length === 2 && ops.length === 1 && (ops[0] === '==' || ops[0] === '!=')) {
      u.escape = true;
      return;
    }
    return unknown();
  }
  if (p.type === 'call' ) return unknown();
  if (p.type === 'argument_list' && p.parent?.type === 'call') {
    const fn = p.parent.childForFieldName('function')?.text;
    if (named(p).length === 1) {
      if (fn === 'len' && isList) return;
      if (fn === 'dict' && !isList) {
        u.name = true;
        return;
      }
      if ((fn === 'tuple' || fn === 'list') && !isList) {
        u.index = true;
        return;
      }
    }
    u.escape = true;
    return;
  }
  if (p.type === 'subscript' && p.childForFieldName('value')?.id === x.id) {
    const idx = named(p).slice(1);
    if (idx.length !== 1) return unknown();
    const i = unparen(idx[0]);
    if (isList) {
      if (i.type === 'integer') return classify(p, false, u, depth + 1);
      return unknown();
    }
    if (i.type === 'integer') u.index = true;
    else if (i.type === 'string' && !/^[rbfu]*"""|^[rbfu]*'''/i.test(i.text)) u.name = true;
    else return unknown();
    return;
  }
  if (p.type === 'assignment' && p.childForFieldName('right')?.id === x.id) {
    const left = p.childForFieldName('left');
    if (!isList && (left?.type === 'pattern_list' || left?.type === 'tuple_pattern' || left?.type === 'list_pattern')) {
      u.index = true;
      return;
    }
    return unknown();
  }
  if (isList && p.type === 'for_statement' && p.childForFieldName('right')?.id === x.id) {
    const left = p.childForFieldName('left');
    if (left?.type !== 'identifier') return unknown();
    const scope = p.childForFieldName('body');
    if (!scope) return unknown();
    for (const r of referencesOf(scope, left.text)) classify(r, false, u, depth + 1);
    return;
  }
  if (isList && p.type === 'for_in_clause' && p.childForFieldName('right')?.id === x.id) {
    const left = p.childForFieldName('left');
    const comp = p.parent;
    if (left?.type !== 'identifier' || !comp) return unknown();
    for (const r of referencesOf(comp, left.text)) {
      if (r.id === left.id) continue;
      classify(r, false, u, depth + 1);
    }
    return;
  }
  return unknown();
}

/** How the variable the result was assigned to is used in its function; a second binding is unknown. */
export function usesOfVariable(scope: Node, name: string, binding: Node, isList: boolean): Uses {
  const u: Uses = { index: false, name: false, escape: false };
  const bindings = bindingsOf(scope, name);
  if (bindings.length !== 1 || bindings[0].id !== binding.id) {
    u.unknown = `\`${name}\` is assigned more than once in the function`;
    return u;
  }
  for (const r of referencesOf(scope, name)) {
    if (r.id === binding.id) continue;
    if (r.startIndex < binding.startIndex) {
      u.unknown = `\`${name}\` is read before the block`;
      return u;
    }
    classify(r, isList, u);
  }
  return u;
}

/** The row style the cursor() call asks for (psycopg2's cursor_factory). */
export function cursorRowStyle(cursorCall: Node | undefined): RowStyle | { reason: string } | undefined {
  if (!cursorCall) return undefined;
  const args = named(cursorCall.childForFieldName('arguments'));
  if (!args.length) return undefined;
  if (args.length === 1 && args[0].type === 'keyword_argument' && args[0].childForFieldName('name')?.text === 'cursor_factory') {
    const v = args[0].childForFieldName('value')!.text;
    if (/(^|\.)RealDictCursor$/.test(v)) return 'dict';
    return { reason: `cursor_factory=${v}: only RealDictCursor rows are read by name` };
  }
  return { reason: `\`${cursorCall.text}\` takes arguments the repository call cannot carry` };
}

/** The row style a connection factory's source text reveals. */
export function factoryRowStyle(source: string | undefined): RowStyle {
  if (source === undefined) return 'unknown';
  if (/\.row_factory\s*=\s*(sqlite3\.)?Row\b/.test(source)) return 'sqlite-row';
  if (/\.row_factory\s*=|cursor_factory\s*=/.test(source)) return 'unknown';
  return 'tuple';
}

/** The source of a module-level `def <name>` in the tree, or the module it is imported from. */
export function factoryOrigin(tree: Tree, name: string): { source: string } | { module: string; level: number } | undefined {
  const root = tree.rootNode;
  for (const st of named(root)) {
    let d: Node | null = st;
    if (d.type === 'decorated_definition') d = d.childForFieldName('definition');
    if (d?.type === 'function_definition' && d.childForFieldName('name')?.text === name) return { source: d.text };
    if (st.type === 'import_from_statement') {
      const mod = st.childForFieldName('module_name');
      for (const c of named(st)) {
        if (c.id === mod?.id) continue;
        const local = c.type === 'aliased_import' ? c.childForFieldName('alias')?.text : c.text;
        if (local === name && mod) {
          const text = mod.text;
          const level = /^\.*/.exec(text)![0].length;
          return { module: text.slice(level), level };
        }
      }
    }
  }
  return undefined;
}
