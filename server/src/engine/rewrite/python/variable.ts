/**
 * A query built in a variable and finished elsewhere in the same function:
 *
 *   q = session.query(Job).filter(Job.status == s)        q = select(Job).where(Job.status == s)
 *   if owner:                                             if owner:
 *       q = q.filter_by(owner_id=owner)          →            q = q.filter_by(owner_id=owner)
 *   return q.order_by(Job.id).all()                       return session.execute(q.order_by(Job.id)).scalars().all()
 *
 * Select, like Query, is generative (each method returns a new statement), so each piece maps
 * on its own: the creation to a statement, each `q = q.<steps>` to the same steps, and each
 * finishing use `q.<steps>.<terminal>()` (or `for x in q`) to `session.execute(q.<steps>)` and
 * the reads of the 1.x terminal. Every use of the name in the function must be one of those,
 * after the creation, outside nested functions; otherwise there is no rewrite and the reason
 * names the use. `.unique()` is added to every read when any piece joins (1.x de-duplicates
 * entity rows); `count()` counts over the statement as a subquery, exactly as 1.x does.
 */
import type { Node } from 'web-tree-sitter';
import type { TextEdit } from '../callsite';
import {
  argOf, isInOperand, legacySteps, needsUnique, normOf, planKey, planLegacy, planModern, planStatementForm, readSelect, modernSteps, TERMINAL_METHODS,
  type Arg, type LegacyContext, type Plan, type RawCall, type Step, type Terminal,
} from './plan';
import { bindingsOf } from './imports';
import { renderPlan, renderStatement, type Layout, type SqlalchemyTemplates } from './render';

export interface VariableRewrite {
  edits: TextEdit[];
  names: string[];
  /** The rewritten pieces, in source order (for messages and tests). */
  rendered: string[];
}

interface Piece {
  kind: 'reassign' | 'finish';
  /** The node replaced: the right side of `q = q…`, or the finishing expression. */
  node: Node;
  steps: Step[];
  terminal?: Terminal;
  terminalArgs?: Arg[];
}

const NESTED = new Set(['function_definition', 'lambda', 'class_definition']);
const FINISH_TERMINALS = new Set(['all', 'first', 'one', 'one_or_none', 'scalar', 'count']);

function pos(p: { row: number; column: number }) {
  return { line: p.row, character: p.column };
}

function short(s: string): string {
  const one = s.replace(/\s+/g, ' ');
  return one.length > 50 ? one.slice(0, 49) + '…' : one;
}

function enclosingFunction(n: Node): Node | undefined {
  let p = n.parent;
  while (p) {
    if (NESTED.has(p.type)) return p.type === 'function_definition' ? p : undefined;
    p = p.parent;
  }
  return undefined;
}

function identifiersNamed(root: Node, name: string): Node[] {
  const out: Node[] = [];
  const stack: Node[] = [root];
  while (stack.length) {
    const n = stack.pop()!;
    if (n.type === 'identifier' && n.text === name) {
      const p = n.parent;
      const isAttrName = p?.type === 'attribute' && p.childForFieldName('attribute')?.id === n.id;
      const isKeyword = p?.type === 'keyword_argument' && p.childForFieldName('name')?.id === n.id;
      if (!isAttrName && !isKeyword) out.push(n);
      continue;
    }
    for (let i = n.namedChildCount - 1; i >= 0; i--) {
      const c = n.namedChild(i);
      if (c) stack.push(c);
    }
  }
  return out;
}

/** The outermost call of a method chain rooted at `id` (`q.a().b()` → the `.b()` call), or undefined. */
function chainTop(id: Node): Node | undefined {
  let cur: Node = id;
  let top: Node | undefined;
  for (;;) {
    const p = cur.parent;
    if (p?.type === 'attribute' && p.childForFieldName('object')?.id === cur.id) {
      const call = p.parent;
      if (call?.type !== 'call' || call.childForFieldName('function')?.id !== p.id) return undefined;
      top = call;
      cur = call;
      continue;
    }
    return top;
  }
}

function isIteratedExpr(n: Node): boolean {
  let x = n;
  while (x.parent && x.parent.type === 'parenthesized_expression') x = x.parent;
  const p = x.parent;
  return !!p && (p.type === 'for_statement' || p.type === 'for_in_clause') && p.childForFieldName('right')?.id === x.id;
}

function stepsOfChain(top: Node, name: string): { steps: Step[]; last?: RawCall } | { reason: string } {
  const calls: RawCall[] = [];
  let node: Node = top;
  while (!(node.type === 'identifier' && node.text === name)) {
    if (node.type !== 'call') return { reason: `\`${short(node.text)}\` is not a method call` };
    const fn = node.childForFieldName('function');
    if (!fn || fn.type !== 'attribute') return { reason: `\`${short(node.text)}\` is not a method call` };
    const list = node.childForFieldName('arguments');
    if (!list || list.type !== 'argument_list') return { reason: 'a generator argument' };
    const args: Arg[] = [];
    for (const c of list.namedChildren) {
      if (!c) continue;
      if (c.type === 'comment') return { reason: 'a comment inside the arguments would be lost' };
      args.push(argOf(c));
    }
    calls.unshift({ method: fn.childForFieldName('attribute')?.text ?? '', call: node, args });
    node = fn.childForFieldName('object')!;
    while (node.type === 'parenthesized_expression' && node.namedChildCount === 1) node = node.namedChild(0)!;
  }
  const last = calls[calls.length - 1];
  if (last && (TERMINAL_METHODS.has(last.method) || last.method === 'subquery')) {
    const steps = legacySteps(calls.slice(0, -1));
    if ('reason' in steps) return steps;
    return { steps, last };
  }
  const steps = legacySteps(calls);
  if ('reason' in steps) return steps;
  return { steps };
}

function layoutAt(text: string, n: Node): Layout {
  const lineStart = text.lastIndexOf('\n', n.startIndex - 1) + 1;
  const outer = /^[ \t]*/.exec(text.slice(lineStart, n.startIndex))![0];
  let x = n;
  while (x.parent && x.parent.type === 'parenthesized_expression') x = x.parent;
  const enclosed = x.id !== n.id || ['argument_list', 'list', 'tuple', 'set', 'dictionary', 'pair', 'subscript'].includes(n.parent?.type ?? '');
  return { multiline: n.startPosition.row !== n.endPosition.row, enclosed, outer, source: text };
}

function parseExpr(parse: (t: string) => { root: Node; done: () => void; errors: boolean } | { reason: string }, rendered: string, check: (expr: Node) => string | undefined): string | undefined {
  const probe = parse(`__sqlmigrate__ = (\n${rendered}\n)\n`);
  if ('reason' in probe) return probe.reason;
  try {
    if (probe.errors) return 'the rendered text does not parse as one Python expression';
    const right = probe.root.namedChild(0)?.namedChild(0)?.childForFieldName('right');
    if (!right) return 'the rendered text is not one expression';
    let inner: Node = right;
    while (inner.type === 'parenthesized_expression' && inner.namedChildCount === 1) inner = inner.namedChild(0)!;
    return check(inner);
  } finally {
    probe.done();
  }
}

function stepsKey(steps: Step[]): string {
  return JSON.stringify(steps.map((s) => [s.method, s.args.map((a) => a.norm)]));
}

/**
 * The rewrite of a chain assigned to a name (`top` is the right side of `name = top`), or why
 * there is none.
 */
export function rewriteVariable(
  top: Node,
  text: string,
  context: LegacyContext,
  templates: SqlalchemyTemplates,
  parse: (t: string) => { root: Node; done: () => void; errors: boolean } | { reason: string },
): VariableRewrite | { reason: string } {
  let wrapped: Node = top;
  while (wrapped.parent?.type === 'parenthesized_expression') wrapped = wrapped.parent;
  const assign = wrapped.parent;
  const left = assign?.type === 'assignment' && assign.childForFieldName('right')?.id === wrapped.id ? assign.childForFieldName('left') : null;
  if (!assign || !left || left.type !== 'identifier' || assign.parent?.type !== 'expression_statement') return { reason: 'not a query assigned to a name' };
  const name = left.text;
  const fn = enclosingFunction(assign);
  if (!fn) return { reason: `\`${name}\` is not a local variable of a function (module or class level)` };
  const created = planLegacy(top, { ...context, open: true });
  // Not a plain open query (`.subquery()`, `.cte()`, …): the caller's reason stands.
  if (!created.ok) return { reason: 'not an open query' };
  const creation = created.plan;
  if (creation.terminal !== 'open') return { reason: 'not an open query' };
  if (creation.steps.some((s) => s.method === 'limit' || s.method === 'offset')) return { reason: `\`${name}\` gets \`.limit()\`/\`.offset()\` where it is built; 1.x refuses later filters on it, rewrite it by hand` };
  const sessionRoot = /^([A-Za-z_]\w*)/.exec(creation.session.text)?.[1];
  const pieces: Piece[] = [];
  let usedAsIs = false;
  const body = fn.childForFieldName('body')!;
  for (const id of identifiersNamed(body, name)) {
    if (id.id === left.id) continue;
    if (enclosingFunction(id)?.id !== fn.id) return { reason: `\`${name}\` is used inside a nested function or lambda (line ${id.startPosition.row + 1})` };
    if (id.startIndex < assign.startIndex) return { reason: `\`${name}\` is used before the query is built (line ${id.startPosition.row + 1})` };
    const p = id.parent;
    if (p?.type === 'assignment' && p.childForFieldName('left')?.id === id.id) {
      // q = q.<steps>
      let right = p.childForFieldName('right');
      while (right?.type === 'parenthesized_expression' && right.namedChildCount === 1) right = right.namedChild(0);
      if (!right || p.parent?.type !== 'expression_statement') return { reason: `\`${name}\` is assigned something else (line ${id.startPosition.row + 1})` };
      const st = stepsOfChain(right, name);
      if ('reason' in st) return { reason: `\`${name}\` is assigned something else than \`${name}.<method>(…)\` at line ${id.startPosition.row + 1} (${st.reason})` };
      if (st.last) return { reason: `\`${name}\` is assigned a result (line ${id.startPosition.row + 1})` };
      if (st.steps.some((s) => s.method === 'limit' || s.method === 'offset')) return { reason: `\`${name}\` gets \`.limit()\`/\`.offset()\` before other uses (line ${id.startPosition.row + 1}); rewrite it by hand` };
      pieces.push({ kind: 'reassign', node: right, steps: st.steps });
      continue;
    }
    // The root of a reassignment's right side is handled with the reassignment.
    const top2 = chainTop(id);
    let whole: Node = top2 ?? id;
    while (whole.parent?.type === 'parenthesized_expression') whole = whole.parent;
    const asg = whole.parent;
    if (asg?.type === 'assignment' && asg.childForFieldName('right')?.id === whole.id && asg.childForFieldName('left')?.type === 'identifier' && asg.childForFieldName('left')!.text === name) continue;
    if (!top2) {
      if (isIteratedExpr(id)) {
        pieces.push({ kind: 'finish', node: id, steps: [], terminal: 'iterate' });
        continue;
      }
      if (isInOperand(id)) {
        usedAsIs = true; // `x.in_(q)`: a Select is accepted as it is
        continue;
      }

      return { reason: `\`${name}\` is used as a Query object at line ${id.startPosition.row + 1} (\`${short(p?.text ?? name)}\`)` };
    }
    const st = stepsOfChain(top2, name);
    if ('reason' in st) return { reason: `line ${id.startPosition.row + 1}: ${st.reason}` };
    if (st.last?.method === 'subquery') {
      const ok = st.last.args.length === 0 || (st.last.args.length === 1 && (st.last.args[0].keyword === undefined || st.last.args[0].keyword === 'name'));
      if (!ok) return { reason: `\`.subquery()\` with other arguments than its name (line ${id.startPosition.row + 1})` };
      pieces.push({ kind: 'finish', node: top2, steps: st.steps, terminal: 'subquery', terminalArgs: st.last.args });
    } else if (st.last) {
      if (!FINISH_TERMINALS.has(st.last.method)) return { reason: `\`${name}.….${st.last.method}()\` on a query built in a variable (line ${id.startPosition.row + 1}); rewrite it by hand` };
      if (st.last.args.length) return { reason: `\`.${st.last.method}()\` with arguments (line ${id.startPosition.row + 1})` };
      pieces.push({ kind: 'finish', node: top2, steps: st.steps, terminal: st.last.method as Terminal });
    } else if (isIteratedExpr(top2)) {
      pieces.push({ kind: 'finish', node: top2, steps: st.steps, terminal: 'iterate' });
    } else if (isInOperand(top2)) {
      pieces.push({ kind: 'finish', node: top2, steps: st.steps, terminal: 'embedded' });
    } else {
      return { reason: `\`${name}\` is used as a Query object at line ${id.startPosition.row + 1} (\`${short(top2.text)}\`)` };
    }
  }
  if (!usedAsIs && !pieces.some((x) => x.kind === 'finish')) return { reason: `\`${name}\` is never read: nothing to rewrite` };
  if (sessionRoot && sessionRoot !== 'self') {
    const reassigned = bindingsOf(body, sessionRoot).some((x) => x.startIndex > assign.startIndex);
    if (reassigned) return { reason: `\`${sessionRoot}\` is reassigned after \`${name}\` is built` };
  }
  const all = [creation.steps, ...pieces.map((x) => x.steps)].flat();
  // De-duplicate every read when any piece could repeat entity rows (a join, an implicit join).
  const joins = needsUnique({ ...creation, steps: all, terminal: 'all' });
  if ((usedAsIs || pieces.some((x) => x.terminal === 'subquery' || x.terminal === 'embedded')) && all.some((s) => s.method === 'options')) return { reason: 'a subquery with `.options()`: 1.x disables eager loads there; rewrite by hand' };
  if (pieces.some((x) => x.terminal === 'count') && all.some((s) => s.method === 'options')) return { reason: '`.count()` with `.options()`: 1.x disables eager loads when counting; rewrite by hand' };
  const single = creation.entities.length === 1 && creation.entities[0].kind === 'entity';
  if (joins && !single && pieces.some((x) => x.terminal === 'scalar')) return { reason: '`.scalar()` on a joined multi-column query: 1.x de-duplicates whole rows before taking the first column' };

  const base: Arg = { text: name, norm: name, type: 'identifier' };
  const edits: TextEdit[] = [];
  const rendered: string[] = [];
  // The creation: `q = select(X).<steps>`.
  const createText = renderStatement({ entities: creation.entities, steps: creation.steps }, layoutAt(text, top), templates);
  const why = parseExpr(parse, createText, (e) => {
    const r = readSelect(e);
    if ('reason' in r) return r.reason;
    const st = modernSteps(r.calls);
    if ('reason' in st) return st.reason;
    const ents = r.head.childForFieldName('arguments')?.namedChildren.filter((c): c is Node => !!c).map((c) => normOf(c)) ?? [];
    if (JSON.stringify(ents) !== JSON.stringify(creation.entities.map((x) => x.norm)) || stepsKey(st) !== stepsKey(creation.steps)) return 'the rendered statement reads back to a different query';
    return undefined;
  });
  if (why) return { reason: `not verified: ${why}` };
  edits.push({ range: { start: pos(top.startPosition), end: pos(top.endPosition) }, newText: createText });
  rendered.push(createText);
  let needsCount = false;
  for (const piece of pieces) {
    let out: string;
    let check: (e: Node) => string | undefined;
    if (piece.terminal === 'subquery' || piece.terminal === 'embedded') {
      const steps = piece.terminal === 'subquery' ? [...piece.steps, { method: 'subquery', args: piece.terminalArgs ?? [] }] : piece.steps;
      out = renderStatement({ base: name, steps: steps as Step[] }, layoutAt(text, piece.node), templates);
      const plan: Plan = { session: creation.session, entities: creation.entities, steps: piece.steps, terminal: piece.terminal, terminalArgs: piece.terminalArgs ?? [], base };
      check = (e) => {
        const back = planStatementForm(e, piece.terminal as 'subquery' | 'embedded', { base, entities: creation.entities });
        if (!back.ok) return `the rendered text does not read back: ${back.reason}`;
        return planKey(back.plan) === planKey(plan) ? undefined : 'the rendered statement reads back to a different query';
      };
    } else if (piece.kind === 'reassign') {
      out = renderStatement({ base: name, steps: piece.steps }, layoutAt(text, piece.node), templates);
      check = (e) => {
        const r = readSelect(e, 'select', name);
        if ('reason' in r) return r.reason;
        const st = modernSteps(r.calls);
        if ('reason' in st) return st.reason;
        return stepsKey(st) === stepsKey(piece.steps) ? undefined : 'the rendered statement reads back to different steps';
      };
    } else {
      const plan: Plan = { session: creation.session, entities: creation.entities, steps: piece.steps, terminal: piece.terminal!, terminalArgs: [], base, forceUnique: joins };
      if (plan.terminal === 'count') needsCount = true;
      out = renderPlan(plan, layoutAt(text, piece.node), templates);
      check = (e) => {
        const back = planModern(e, { base, entities: creation.entities, forceUnique: joins });
        if (!back.ok) return `the rendered text does not read back: ${back.reason}`;
        return planKey(back.plan) === planKey(plan) ? undefined : 'the rendered text reads back to a different query';
      };
    }
    const w = parseExpr(parse, out, check);
    if (w) return { reason: `not verified (line ${piece.node.startPosition.row + 1}): ${w}` };
    edits.push({ range: { start: pos(piece.node.startPosition), end: pos(piece.node.endPosition) }, newText: out });
    rendered.push(out);
  }
  return { edits, names: needsCount ? ['select', 'func'] : ['select'], rendered };
}
