/**
 * SQLAlchemy 1.x `session.query(...)` chains ↔ plans, on the tree-sitter-python tree.
 *
 *   planLegacy(topCall)  `db.query(Job).filter(Job.id == x).first()` →
 *     { session: db, entities: [Job], steps: [where(Job.id == x)], terminal: 'first' }
 *   planModern(expr)     the 2.0 text the renderer emitted → the same plan (verification)
 *
 * A plan keeps every argument as source text (plus a whitespace-free normal form for
 * comparison): nothing is evaluated. Shapes this module does not understand yield a reason.
 */
import type { Node } from 'web-tree-sitter';

export interface Arg {
  /** The argument as written (`Job.id == job_id`, `name=name`). */
  text: string;
  /** Leaf tokens joined by one space: layout-independent, for comparisons. */
  norm: string;
  /** For keyword arguments: the keyword. */
  keyword?: string;
  /** Node type of the argument (or of its value for keyword arguments). */
  type: string;
  /** Offset in the original text (for re-indenting arguments that span lines). */
  start?: number;
  /** Spans lines inside a string literal: its lines are never re-indented. */
  multilineString?: boolean;
  /**
   * The mapped classes the argument refers to (`Run` in `Run.job_id == Job.id`), and whether that
   * is all it can bring into the FROM clause (see `fromInfo`). Unset: unknown, assume it can.
   */
  classes?: string[];
  fromSafe?: boolean;
}

export interface Entity extends Arg {
  kind: 'entity' | 'column';
}

/** Canonical 2.0 method names: `filter` is stored as `where`. */
export type StepMethod = 'where' | 'filter_by' | 'join' | 'outerjoin' | 'order_by' | 'group_by' | 'having' | 'limit' | 'offset' | 'options' | 'distinct';

export interface Step {
  method: StepMethod;
  args: Arg[];
}

/**
 * `open`: no terminal (a query built in a variable and finished elsewhere; see variable.ts).
 * `subquery`: `.subquery([name])` → `select(…)….subquery([name])`. `embedded`: a Query passed to
 * `in_()` / `not_in()` as a subquery → the `select(…)` statement itself. Neither needs the session.
 */
export type Terminal = 'all' | 'first' | 'one' | 'one_or_none' | 'scalar' | 'count' | 'get' | 'delete' | 'update' | 'iterate' | 'open' | 'subquery' | 'embedded' | 'first_or_404' | 'one_or_404' | 'get_or_404';

/** Flask-SQLAlchemy's aborting reads: `Model.query.first_or_404()` → `db.first_or_404(select(Model)….limit(1))`. */
export const OR_404 = new Set<Terminal>(['first_or_404', 'one_or_404', 'get_or_404']);

export interface Plan {
  session: Arg;
  entities: Entity[];
  steps: Step[];
  terminal: Terminal;
  /** `get(id)`: the id; `update(values)`: the values. */
  terminalArgs: Arg[];
  /** `synchronize_session=` of delete/update, when given. */
  sync?: Arg;
  /**
   * A query built in a variable (`q = session.query(X)…; q = q.filter(…); q.all()`): the
   * statement starts at this name instead of `select(entities)`; entities are the creation's.
   */
  base?: Arg;
  /** De-duplicate entity rows whatever these steps are (a join elsewhere in the variable's steps). */
  forceUnique?: boolean;
}

export type Planned = { ok: true; plan: Plan } | { ok: false; reason: string };

const STEP_METHODS: Record<string, StepMethod> = {
  filter: 'where', where: 'where', filter_by: 'filter_by', join: 'join', outerjoin: 'outerjoin', order_by: 'order_by',
  group_by: 'group_by', having: 'having', limit: 'limit', offset: 'offset', options: 'options', distinct: 'distinct',
};
const TERMINALS = new Set(['all', 'first', 'one', 'one_or_none', 'scalar', 'count', 'get', 'delete', 'update']);
/** Query methods that 1.x refuses after LIMIT/OFFSET (it raises; 2.0 would build a different query). */
const NOT_AFTER_LIMIT = new Set<StepMethod>(['where', 'filter_by', 'join', 'outerjoin', 'order_by', 'group_by', 'having']);

/** Leaf tokens joined by one space (comments left out). */
export function normOf(node: Node): string {
  const out: string[] = [];
  const stack: Node[] = [node];
  while (stack.length) {
    const n = stack.pop()!;
    if (n.type === 'comment') continue;
    if (n.childCount === 0) {
      out.push(n.text);
      continue;
    }
    for (let i = n.childCount - 1; i >= 0; i--) {
      const c = n.child(i);
      if (c) stack.push(c);
    }
  }
  return out.join(' ');
}

function hasMultilineString(n: Node): boolean {
  if (n.startPosition.row === n.endPosition.row) return false;
  const stack: Node[] = [n];
  while (stack.length) {
    const c = stack.pop()!;
    if ((c.type === 'string' || c.type === 'concatenated_string') && c.startPosition.row !== c.endPosition.row) return true;
    for (let i = 0; i < c.namedChildCount; i++) {
      const k = c.namedChild(i);
      if (k && k.startPosition.row !== k.endPosition.row) stack.push(k);
    }
  }
  return false;
}

const SUBQUERY_METHODS = new Set(['in_', 'not_in', 'notin_', 'any', 'has']);
const NAMESPACES = new Set(['func', 'sa', 'sqlalchemy', 'and_', 'or_', 'not_', 'desc', 'asc', 'case', 'cast', 'literal', 'null', 'true', 'false', 'tuple_', 'between', 'nullsfirst', 'nullslast', 'joinedload', 'selectinload', 'subqueryload', 'lazyload', 'noload', 'raiseload', 'load_only', 'defer', 'undefer', 'contains_eager']);

/**
 * Which mapped classes an argument refers to, and whether nothing else in it can add a table to
 * the FROM clause. Safe: attribute chains rooted at a class (`Job.status`), SQL function
 * namespaces (`func.count`, `and_`), literals, and plain names used as values: an operand of a
 * comparison or arithmetic, an argument of a method called on a column (`Job.name.like(p)`), a
 * keyword value, a whole limit/offset. Anything else (`obj.id`, an alias, a bare clause variable
 * `filter(cond)`, `*conds`, an unknown call) may bring in another table: not safe.
 */
export function fromInfo(n: Node): { safe: boolean; classes: string[] } {
  const classes = new Set<string>();
  let safe = true;
  const stack: Node[] = [n];
  while (stack.length && safe) {
    const c = stack.pop()!;
    if (c.type === 'attribute') {
      // The chain's root.
      let root: Node = c;
      while (root.type === 'attribute') root = root.childForFieldName('object')!;
      if (root.type === 'identifier') {
        if (/^[A-Z]/.test(root.text)) classes.add(root.text);
        else if (!NAMESPACES.has(root.text)) safe = false;
        continue;
      }
      stack.push(root);
      continue;
    }
    if (c.type === 'identifier') {
      const p = c.parent;
      if (NAMESPACES.has(c.text)) continue;
      if (/^[A-Z]/.test(c.text) && p?.type === 'argument_list') {
        classes.add(c.text); // an entity as an argument (`aliased(Job)`, `contains_eager(Job.runs)` roots)
        continue;
      }
      const value = c.id === n.id
        || p?.type === 'comparison_operator' || p?.type === 'binary_operator' || p?.type === 'unary_operator'
        || p?.type === 'keyword_argument'
        || (p?.type === 'argument_list' && p.parent?.childForFieldName('function')?.type === 'attribute')
        || p?.type === 'list' || p?.type === 'tuple';
      if (!value) safe = false;
      continue;
    }
    if (c.type === 'list_splat' || c.type === 'dictionary_splat' || c.type === 'lambda' || c.type === 'named_expression') {
      safe = false;
      continue;
    }
    if (c.type === 'call') {
      const fn = c.childForFieldName('function');
      if (fn?.type === 'identifier' && !NAMESPACES.has(fn.text)) {
        safe = false;
        continue;
      }
      // IN (subquery or values), EXISTS, any()/has(): subqueries, never another FROM of this query.
      if (fn?.type === 'attribute' && SUBQUERY_METHODS.has(fn.childForFieldName('attribute')?.text ?? '')) {
        stack.push(fn);
        continue;
      }
      if (fn?.type === 'attribute') stack.push(fn);
      const args = c.childForFieldName('arguments');
      if (args) stack.push(args);
      continue;
    }
    for (let i = 0; i < c.namedChildCount; i++) {
      const k = c.namedChild(i);
      if (k) stack.push(k);
    }
  }
  return { safe, classes: [...classes] };
}

export function argOf(n: Node): Arg {
  const info = fromInfo(n);
  const where = { start: n.startIndex, multilineString: hasMultilineString(n), classes: info.classes, fromSafe: info.safe };
  if (n.type === 'keyword_argument') {
    const value = n.childForFieldName('value');
    return { text: n.text, norm: normOf(n), keyword: n.childForFieldName('name')?.text ?? '', type: value?.type ?? 'unknown', ...where };
  }
  return { text: n.text, norm: normOf(n), type: n.type, ...where };
}

function argsOf(call: Node): Arg[] | { reason: string } {
  const list = call.childForFieldName('arguments');
  if (!list) return { reason: 'a call without arguments' };
  if (list.type !== 'argument_list') return { reason: 'a generator argument' };
  const out: Arg[] = [];
  for (const c of list.namedChildren) {
    if (!c) continue;
    if (c.type === 'comment') return { reason: 'a comment inside the arguments would be lost' };
    out.push(argOf(c));
  }
  return out;
}

const COLUMN_FUNCS = /^(func\.[A-Za-z_][\w.]*|sa\.func\.[A-Za-z_][\w.]*|count|distinct|literal|literal_column|case|cast|label|null|true|false|and_|or_|not_|tuple_|extract|type_coerce|sa\.[a-z_]\w*)$/;

/** Entity (a mapped class or an alias made by `aliased()`) or column expression; undefined when unknown. */
export function entityKind(n: Node): Entity['kind'] | undefined {
  if (n.type === 'identifier') return /^[A-Z]/.test(n.text) ? 'entity' : undefined;
  if (n.type === 'attribute') {
    const parts = n.text.split('.');
    if (parts.some((p) => !/^[A-Za-z_]\w*$/.test(p))) return n.childForFieldName('object') && entityKind(n.childForFieldName('object')!) !== undefined ? 'column' : undefined;
    const last = parts[parts.length - 1];
    if (/^[A-Z]/.test(last) && parts.slice(0, -1).every((p) => /^[a-z_]/.test(p))) return 'entity'; // models.Job
    const cls = parts.findIndex((p) => /^[A-Z]/.test(p));
    if (cls >= 0 && cls < parts.length - 1) return 'column'; // Job.name, models.Job.name
    if (parts.length === 3 && parts[1] === 'c') return 'column'; // subq.c.job_id
    return undefined;
  }
  if (n.type === 'call') {
    const fn = n.childForFieldName('function');
    if (!fn) return undefined;
    if (fn.type === 'identifier' && fn.text === 'aliased') return 'entity';
    if (COLUMN_FUNCS.test(fn.text)) return 'column';
    if (fn.type === 'attribute') {
      const obj = fn.childForFieldName('object');
      if (obj && entityKind(obj) === 'column') return 'column'; // Job.name.label('n'), func.count(x).label('c')
    }
    return undefined;
  }
  if (n.type === 'binary_operator' || n.type === 'comparison_operator' || n.type === 'unary_operator') return 'column';
  return undefined;
}

function unwrapParens(n: Node): Node {
  let cur = n;
  while (cur.type === 'parenthesized_expression' && cur.namedChildCount === 1 && cur.namedChild(0)) cur = cur.namedChild(0)!;
  return cur;
}

/** Is this expression the only argument of `x.in_(…)` / `x.not_in(…)` / `x.notin_(…)`? */
export function isInOperand(top: Node): boolean {
  let n = top;
  while (n.parent && n.parent.type === 'parenthesized_expression') n = n.parent;
  const list = n.parent;
  if (list?.type !== 'argument_list' || list.namedChildCount !== 1) return false;
  const call = list.parent;
  const fn = call?.type === 'call' ? call.childForFieldName('function') : null;
  return fn?.type === 'attribute' && ['in_', 'not_in', 'notin_'].includes(fn.childForFieldName('attribute')?.text ?? '');
}

/** Is this expression iterated by a `for` (statement or comprehension)? */
export function isIterated(top: Node): boolean {
  let n = top;
  while (n.parent && n.parent.type === 'parenthesized_expression') n = n.parent;
  const p = n.parent;
  if (!p) return false;
  if ((p.type === 'for_statement' || p.type === 'for_in_clause') && p.childForFieldName('right')?.id === n.id) return true;
  return false;
}

export interface RawCall {
  method: string;
  call: Node;
  args: Arg[];
}

/** Peels `a.b(...).c(...)` from the outermost call down: calls outermost first, and the innermost receiver. */
export function peel(top: Node, stopAt: (method: string) => boolean, flask?: (model: Node) => { flask: Node } | { reason: string }): { calls: RawCall[]; receiver: Node; flask?: Node } | { reason: string } {
  const calls: RawCall[] = [];
  let node = unwrapParens(top);
  for (;;) {
    if (flask && node.type === 'attribute' && node.childForFieldName('attribute')?.text === 'query') {
      // Flask-SQLAlchemy `Model.query`: the chain's root; the model is its entity.
      const model = node.childForFieldName('object')!;
      const f = flask(model);
      if ('reason' in f) return f;
      return { calls, receiver: model, flask: f.flask };
    }
    if (node.type !== 'call') return { reason: `\`${short(node.text)}\` is not a method call` };
    const fn = node.childForFieldName('function');
    if (!fn || fn.type !== 'attribute') return { reason: `\`${short(node.text)}\` is not a method call` };
    const method = fn.childForFieldName('attribute')?.text ?? '';
    const obj = fn.childForFieldName('object');
    if (!obj) return { reason: 'a call without a receiver' };
    const args = argsOf(node);
    if ('reason' in args) return args;
    calls.push({ method, call: node, args });
    if (stopAt(method)) return { calls, receiver: obj };
    node = unwrapParens(obj);
  }
}

function short(s: string): string {
  const one = s.replace(/\s+/g, ' ');
  return one.length > 50 ? one.slice(0, 49) + '…' : one;
}

function entitiesOf(call: Node): Entity[] | { reason: string } {
  const list = call.childForFieldName('arguments');
  const out: Entity[] = [];
  for (const c of list?.namedChildren ?? []) {
    if (!c) continue;
    if (c.type === 'comment') return { reason: 'a comment inside the arguments would be lost' };
    if (c.type === 'keyword_argument' || c.type === 'list_splat' || c.type === 'dictionary_splat') return { reason: `\`query(${short(c.text)})\`: only entities and column expressions are rewritten` };
    const kind = entityKind(c);
    if (!kind) return { reason: `cannot tell whether \`${short(c.text)}\` is a mapped class or a column (lower-case names may be either)` };
    out.push({ ...argOf(c), kind });
  }
  if (!out.length) return { reason: '`query()` without entities' };
  return out;
}

function stepOf(method: string, args: Arg[]): Step | { reason: string } {
  const m = STEP_METHODS[method];
  if (!m) return { reason: `\`.${method}()\` has no 2.0 rewrite here yet` };
  const positional = args.filter((a) => a.keyword === undefined);
  const keywords = args.filter((a) => a.keyword !== undefined);
  switch (m) {
    case 'filter_by':
      if (positional.some((a) => a.type !== 'dictionary_splat')) return { reason: '`.filter_by()` with positional arguments' };
      break;
    case 'join':
    case 'outerjoin':
      if (!positional.length || positional.length > 2) return { reason: `\`.${method}()\` with ${positional.length} targets (the 1.x multi-join form)` };
      if (positional.some((a) => a.type === 'string' || a.type === 'concatenated_string' || a.type === 'tuple')) return { reason: `\`.${method}()\` with a string or tuple target (not accepted by 2.0 select)` };
      if (keywords.some((k) => k.keyword !== 'isouter' && k.keyword !== 'full')) return { reason: `\`.${method}(${keywords.map((k) => k.keyword + '=').join(', ')})\`: 1.x-only join options` };
      break;
    case 'limit':
    case 'offset':
      if (args.length !== 1 || keywords.length) return { reason: `\`.${method}()\` needs one argument` };
      break;
    default:
      if (keywords.length) return { reason: `\`.${method}()\` with keyword arguments` };
  }
  return { method: m, args };
}

export interface LegacyContext {
  /**
   * The Flask-SQLAlchemy extension's name in this module (`db` for `db = SQLAlchemy(app)` or an
   * imported `db` used as `db.Model` / `db.session`): `Model.query` is `db.session.query(Model)`.
   */
  flaskDb?: string;
  /** Why `Model.query` cannot use `flaskDb` here (it is shadowed). */
  flaskBlocked?: string;
  /** Accept a chain without a terminal (terminal `open`). */
  open?: boolean;
}

/** The 1.x chain whose outermost call is `top`. */
export function planLegacy(top: Node, context: LegacyContext = {}): Planned {
  const flask = (model: Node): { flask: Node } | { reason: string } => {
    if (model.type !== 'identifier' || !/^[A-Z]/.test(model.text)) return { reason: `\`${short(model.text)}.query\` is not a model's query property` };
    if (context.flaskBlocked) return { reason: context.flaskBlocked };
    if (!context.flaskDb) return { reason: `Flask-SQLAlchemy \`${model.text}.query\`: no \`db = SQLAlchemy(...)\` (or imported \`db\`) in this file to take the session from; use \`db.session.execute(select(...))\` by hand` };
    return { flask: model };
  };
  const peeled = peel(top, (m) => m === 'query', flask);
  if ('reason' in peeled) return { ok: false, reason: peeled.reason };
  const calls = peeled.calls.reverse(); // innermost first
  let entities: Entity[] | { reason: string };
  let session: Arg;
  let rest: RawCall[];
  if (peeled.flask) {
    entities = [{ ...argOf(peeled.flask), kind: 'entity' }];
    session = { text: `${context.flaskDb}.session`, norm: `${context.flaskDb} . session`, type: 'attribute' };
    rest = calls;
  } else {
    const root = calls[0];
    if (!root || root.method !== 'query') return { ok: false, reason: 'the chain does not start with `.query(...)`' };
    if (peeled.receiver.type === 'identifier' && /^[A-Z]/.test(peeled.receiver.text)) return { ok: false, reason: `\`${peeled.receiver.text}.query(...)\` is called on a class, not a session` };
    entities = entitiesOf(root.call);
    session = argOf(peeled.receiver);
    rest = calls.slice(1);
  }
  if ('reason' in entities) return { ok: false, reason: entities.reason };
  let terminal: Terminal;
  let terminalArgs: Arg[] = [];
  let sync: Arg | undefined;
  const last = rest[rest.length - 1];
  if (last && TERMINALS.has(last.method)) {
    terminal = last.method as Terminal;
    rest.pop();
    const kws = last.args.filter((a) => a.keyword !== undefined);
    const pos = last.args.filter((a) => a.keyword === undefined);
    if (terminal === 'get') {
      if (pos.length !== 1 || kws.length) return { ok: false, reason: '`.get()` needs exactly one identity argument' };
      terminalArgs = pos;
    } else if (terminal === 'delete' || terminal === 'update') {
      for (const k of kws) {
        if (k.keyword === 'synchronize_session') sync = { text: k.text.slice(k.text.indexOf('=') + 1).trim(), norm: k.norm.replace(/^synchronize_session = /, ''), type: k.type };
        else return { ok: false, reason: `\`.${terminal}(${k.keyword}=…)\` has no equivalent here` };
      }
      if (terminal === 'update') {
        if (pos.length !== 1) return { ok: false, reason: '`.update()` needs one values argument' };
        if (!['dictionary', 'identifier', 'attribute'].includes(pos[0].type)) return { ok: false, reason: '`.update()` values that are not a dict (ordered tuples need `update_args`)' };
        terminalArgs = pos;
      } else if (pos.length) return { ok: false, reason: '`.delete()` with positional arguments' };
    } else if (last.args.length) {
      return { ok: false, reason: `\`.${terminal}()\` with arguments` };
    }
  } else if (last && last.method === 'subquery') {
    terminal = 'subquery';
    rest.pop();
    const ok = last.args.length === 0 || (last.args.length === 1 && (last.args[0].keyword === undefined || last.args[0].keyword === 'name'));
    if (!ok) return { ok: false, reason: '`.subquery()` with other arguments than its name (with_labels, reduce_columns)' };
    terminalArgs = last.args;
  } else if (isInOperand(top)) {
    terminal = 'embedded';
  } else if (last && peeled.flask && OR_404.has(last.method as Terminal)) {
    // Flask-SQLAlchemy 3: db.first_or_404(statement) / db.one_or_404(statement) / db.get_or_404(Model, ident),
    // each with the same optional description=.
    terminal = last.method as Terminal;
    rest.pop();
    const kws = last.args.filter((a) => a.keyword !== undefined);
    const pos = last.args.filter((a) => a.keyword === undefined);
    if (kws.some((k) => k.keyword !== 'description')) return { ok: false, reason: `\`.${terminal}(${kws.map((k) => k.keyword + '=').join(', ')})\`: only description= has a Flask-SQLAlchemy 3 counterpart` };
    if (pos.length !== (terminal === 'get_or_404' ? 1 : 0)) return { ok: false, reason: terminal === 'get_or_404' ? '`.get_or_404()` needs exactly one identity argument' : `\`.${terminal}()\` with positional arguments` };
    terminalArgs = [...pos, ...kws];
  } else if (last && /_or_404$|^paginate$/.test(last.method)) {
    return { ok: false, reason: `Flask-SQLAlchemy \`.${last.method}()\` aborts the request itself; Flask-SQLAlchemy 3 has \`db.${last.method === 'paginate' ? 'paginate(select(...))' : last.method + '(...)'}\`, rewrite it by hand` };
  } else if (isIterated(top)) {
    terminal = 'iterate';
  } else if (context.open) {
    terminal = 'open';
  } else {
    const what = last ? `\`.${last.method}()\`` : '`query()`';
    return { ok: false, reason: `the chain ends in ${what}, not a terminal (\`.all()\`, \`.first()\`, …): the Query object is used further, rewrite it by hand` };
  }
  const steps = legacySteps(rest);
  if ('reason' in steps) return { ok: false, reason: steps.reason };
  // `.options(a).options(b).get(id)` → `session.get(X, id, options=[a, b])`: one options step.
  const merged = terminal === 'get' && steps.length > 1 && steps.every((s) => s.method === 'options') ? [{ method: 'options' as const, args: steps.flatMap((s) => s.args) }] : steps;
  const plan: Plan = { session, entities, steps: merged, terminal, terminalArgs, sync };
  const why = unsupported(plan);
  if (why) return { ok: false, reason: why };
  return { ok: true, plan };
}

/** 1.x Query methods (innermost first) → canonical steps, refusing what has no faithful 2.0 form. */
export function legacySteps(calls: RawCall[]): Step[] | { reason: string } {
  const steps: Step[] = [];
  let limited = false;
  for (const c of calls) {
    const s = stepOf(c.method, c.args);
    if ('reason' in s) return s;
    if (limited && NOT_AFTER_LIMIT.has(s.method)) return { reason: `\`.${c.method}()\` after \`.limit()\`/\`.offset()\` raises in SQLAlchemy 1.x; 2.0 would run a different query` };
    if (s.method === 'limit' || s.method === 'offset') limited = true;
    steps.push(s);
  }
  return steps;
}

export const TERMINAL_METHODS = TERMINALS;

// ---- what the 2.0 form of a plan is ------------------------------------------------------------

/** One mapped class: rows are that class's instances, read through `.scalars()`. */
export function singleEntity(plan: Plan): boolean {
  return plan.entities.length === 1 && plan.entities[0].kind === 'entity';
}

/**
 * 1.x Query de-duplicates rows whenever an entity is selected; 2.0 results do not. Without a join
 * (or joined eager loading) the rows of an entity query are distinct anyway (primary keys); with
 * one, the rewrite adds `.unique()`.
 */
export function needsUnique(plan: Plan): boolean {
  if (!plan.entities.some((e) => e.kind === 'entity')) return false;
  if (plan.forceUnique) return true;
  if (plan.steps.some((s) => s.method === 'join' || s.method === 'outerjoin')) return true;
  if (plan.steps.some((s) => s.method === 'options' && s.args.some((a) => /\b(joinedload|contains_eager|joinedload_all)\b/.test(a.text)))) return true;
  // A criterion on another class (`filter(Run.job_id == Job.id)`) joins implicitly: rows repeat.
  // The query's own classes: entities named directly, and the classes of its column entities
  // (an `aliased(Job)` entity is another FROM than `Job`, so it adds nothing here).
  const own = new Set(plan.entities.flatMap((e) => (e.type === 'identifier' ? [e.text] : e.kind === 'column' && e.fromSafe ? e.classes ?? [] : [])));
  for (const s of plan.steps) {
    if (s.method === 'options' || s.method === 'limit' || s.method === 'offset') continue;
    for (const a of s.args) {
      if (!a.fromSafe) return true;
      if ((a.classes ?? []).some((c) => !own.has(c))) return true;
    }
  }
  return false;
}

/** `count()`: `select(func.count()).select_from(X)…` when that counts the same rows, else counted over the query as a subquery (what 1.x does). */
export function countForm(plan: Plan): 'simple' | 'subquery' {
  if (!singleEntity(plan) || plan.base) return 'subquery';
  return plan.steps.some((s) => ['distinct', 'limit', 'offset', 'group_by', 'having'].includes(s.method)) ? 'subquery' : 'simple';
}

/** The result methods after `session.execute(...)`, in order. */
export function tailOf(plan: Plan): string[] {
  const single = singleEntity(plan);
  const unique = needsUnique(plan);
  const out: string[] = [];
  if (plan.terminal === 'count') return ['scalar_one'];
  if (plan.terminal === 'scalar') {
    if (unique) return ['scalars', 'unique', 'one_or_none'];
    return ['scalar_one_or_none'];
  }
  if (single) out.push('scalars');
  if (unique) out.push('unique');
  if (plan.terminal !== 'iterate') out.push(plan.terminal);
  return out;
}

function unsupported(plan: Plan): string | undefined {
  const t = plan.terminal;
  const methods = new Set(plan.steps.map((s) => s.method));
  if (OR_404.has(t)) {
    if (!singleEntity(plan)) return `\`.${t}()\` on a query that is not one mapped class`;
    if (t === 'get_or_404' && plan.steps.length) return '`.get_or_404()` after other Query methods (db.get_or_404() takes the class and the identity only)';
    // 1.x de-duplicates entity rows; db.first_or_404()/one_or_404() read the statement's first column as is.
    if (needsUnique(plan)) return `\`.${t}()\` on a query whose rows may repeat (a join or joined eager load): 1.x de-duplicates them, \`db.${t}()\` does not`;
  }
  if (t === 'get') {
    if (plan.steps.some((s) => s.method !== 'options')) return '`.get()` after other Query methods than `.options()` (session.get() takes only options)';
    if (!singleEntity(plan)) return '`.get()` on a query that is not one mapped class';
  }
  if (t === 'delete' || t === 'update') {
    const other = plan.steps.find((s) => s.method !== 'where' && s.method !== 'filter_by');
    if (other) return `\`.${t}()\` after \`.${other.method}()\` (1.x accepts only filters before a bulk ${t})`;
    if (!singleEntity(plan)) return `bulk \`.${t}()\` on a query that is not one mapped class`;
  }
  if ((t === 'subquery' || t === 'embedded') && methods.has('options')) return 'a subquery with `.options()`: 1.x disables eager loads there; rewrite by hand';
  if (t === 'count' && methods.has('options')) return '`.count()` with `.options()`: 1.x disables eager loads when counting; rewrite by hand';
  if (t === 'scalar' && needsUnique(plan) && !singleEntity(plan)) return '`.scalar()` on a joined multi-column query: 1.x de-duplicates whole rows before taking the first column';
  return undefined;
}

// ---- the 2.0 form, read back -----------------------------------------------------------------

/** Reads `select(...)` chains: steps outermost first from `peel`, into canonical steps. */
export function modernSteps(calls: RawCall[]): Step[] | { reason: string } {
  const out: Step[] = [];
  for (const c of calls) {
    const m = STEP_METHODS[c.method];
    if (!m || c.method === 'filter') return { reason: `unexpected \`.${c.method}()\` in the rendered statement` };
    out.push({ method: m, args: c.args });
  }
  return out;
}

function isCallTo(n: Node | null, name: string): boolean {
  return !!n && n.type === 'call' && n.childForFieldName('function')?.type === 'identifier' && n.childForFieldName('function')!.text === name;
}

/** `select(E...)` + steps (innermost call first) from a statement expression. */
export function readSelect(stmt: Node, head = 'select', base?: string): { head: Node; calls: RawCall[] } | { reason: string } {
  const calls: RawCall[] = [];
  let node: Node = unwrapParens(stmt);
  while (!(base !== undefined ? node.type === 'identifier' && node.text === base : isCallTo(node, head))) {
    if (node.type !== 'call') return { reason: `the statement does not start with \`${head}(...)\`` };
    const fn = node.childForFieldName('function');
    if (!fn || fn.type !== 'attribute') return { reason: 'unexpected call in the statement' };
    const args = argsOf(node);
    if ('reason' in args) return args;
    calls.push({ method: fn.childForFieldName('attribute')?.text ?? '', call: node, args });
    node = unwrapParens(fn.childForFieldName('object')!);
  }
  return { head: node, calls: calls.reverse() };
}

/** The rendered 2.0 expression → the plan it implements (for the round trip). */
export interface ModernContext {
  /** The variable the statement is built in (see Plan.base), with the creation's entities. */
  base?: Arg;
  entities?: Entity[];
  forceUnique?: boolean;
}

/** A rendered statement on its own (`select(…)…[.subquery(name)]`) → the plan it implements. */
export function planStatementForm(expr: Node, terminal: 'subquery' | 'embedded', context: ModernContext = {}): Planned {
  const fail = (reason: string): Planned => ({ ok: false, reason });
  const node = unwrapParens(expr);
  let stmt: Node = node;
  let terminalArgs: Arg[] = [];
  if (terminal === 'subquery') {
    const fn = node.type === 'call' ? node.childForFieldName('function') : null;
    if (fn?.type !== 'attribute' || fn.childForFieldName('attribute')?.text !== 'subquery') return fail('the rendered statement does not end in .subquery()');
    const a = argsOf(node);
    if ('reason' in a) return fail(a.reason);
    terminalArgs = a;
    stmt = fn.childForFieldName('object')!;
  }
  const r = readSelect(stmt, 'select', context.base?.text);
  if ('reason' in r) return fail(r.reason);
  const ents = context.base ? context.entities ?? { reason: 'no entities for the variable' } : entitiesOf(r.head);
  if ('reason' in ents) return fail(ents.reason);
  const steps = modernSteps(r.calls);
  if ('reason' in steps) return fail(steps.reason);
  const plan: Plan = { session: { text: '', norm: '', type: 'none' }, entities: ents, steps, terminal, terminalArgs };
  return { ok: true, plan: context.base ? { ...plan, base: context.base } : plan };
}

export function planModern(expr: Node, context: ModernContext = {}): Planned {
  const fail = (reason: string): Planned => ({ ok: false, reason });
  const baseName = context.base?.text;
  const withBase = (p: Plan): Plan => (context.base ? { ...p, base: context.base, forceUnique: context.forceUnique } : p);
  const entitiesFrom = (head: Node): Entity[] | { reason: string } => (context.base ? context.entities ?? { reason: 'no entities for the variable' } : entitiesOf(head));
  let node = unwrapParens(expr);
  let rowcount = false;
  if (node.type === 'attribute' && node.childForFieldName('attribute')?.text === 'rowcount') {
    rowcount = true;
    node = unwrapParens(node.childForFieldName('object')!);
  }
  // Flask-SQLAlchemy 3: db.first_or_404(stmt) / db.one_or_404(stmt) / db.get_or_404(X, id), description= optional
  const or404 = node.type === 'call' && node.childForFieldName('function')?.type === 'attribute' ? node.childForFieldName('function')!.childForFieldName('attribute')?.text ?? '' : '';
  if (OR_404.has(or404 as Terminal)) {
    if (rowcount || baseName !== undefined) return fail(`${or404}() read further or on a statement built in a variable`);
    const t = or404 as Terminal;
    const db = node.childForFieldName('function')!.childForFieldName('object')!;
    const flaskSession: Arg = { text: `${db.text}.session`, norm: `${normOf(db)} . session`, type: 'attribute' };
    const list = node.childForFieldName('arguments')?.namedChildren.filter((c): c is Node => !!c && c.type !== 'comment') ?? [];
    const pos = list.filter((c) => c.type !== 'keyword_argument');
    const kws = list.filter((c) => c.type === 'keyword_argument');
    if (kws.some((k) => k.childForFieldName('name')?.text !== 'description')) return fail(`${t}() with arguments other than description=`);
    if (t === 'get_or_404') {
      if (pos.length !== 2) return fail('get_or_404() needs the class and the identity');
      const kind = entityKind(pos[0]);
      if (kind !== 'entity') return fail('get_or_404() of something that is not a mapped class');
      return { ok: true, plan: { session: flaskSession, entities: [{ ...argOf(pos[0]), kind }], steps: [], terminal: t, terminalArgs: [argOf(pos[1]), ...kws.map(argOf)] } };
    }
    if (pos.length !== 1) return fail(`${t}() must take the statement`);
    const r = readSelect(pos[0], 'select');
    if ('reason' in r) return fail(r.reason);
    const ents = entitiesOf(r.head);
    if ('reason' in ents) return fail(ents.reason);
    let steps = modernSteps(r.calls);
    if ('reason' in steps) return fail(steps.reason);
    if (t === 'first_or_404') {
      const l = steps[steps.length - 1];
      if (!l || l.method !== 'limit' || l.args.length !== 1 || l.args[0].norm !== '1') return fail('first_or_404() without the .limit(1) of 1.x first()');
      steps = steps.slice(0, -1);
    }
    return { ok: true, plan: { session: flaskSession, entities: ents, steps, terminal: t, terminalArgs: kws.map(argOf) } };
  }
  // session.get(X, id)
  if (node.type === 'call' && node.childForFieldName('function')?.type === 'attribute' && node.childForFieldName('function')!.childForFieldName('attribute')?.text === 'get') {
    const fn = node.childForFieldName('function')!;
    const args = argsOf(node);
    if ('reason' in args) return fail(args.reason);
    const list = node.childForFieldName('arguments')!.namedChildren.filter((c): c is Node => !!c);
    const options = list.length === 3 && list[2].type === 'keyword_argument' && list[2].childForFieldName('name')?.text === 'options' ? list[2].childForFieldName('value') : null;
    if (list.length === 3 && options?.type !== 'list') return fail('session.get() with arguments other than options=[...]');
    if (list.length < 2 || list.length > 3 || list.slice(0, 2).some((c) => c.type === 'keyword_argument')) return fail('session.get() needs the class and the identity');
    const kind = entityKind(list[0]);
    if (kind !== 'entity') return fail('session.get() of something that is not a mapped class');
    const steps: Step[] = options ? [{ method: 'options', args: options.namedChildren.filter((c): c is Node => !!c && c.type !== 'comment').map(argOf) }] : [];
    return { ok: true, plan: { session: argOf(fn.childForFieldName('object')!), entities: [{ ...args[0], kind }], steps, terminal: 'get', terminalArgs: [args[1]] } };
  }
  const tail: string[] = [];
  let exec: Node | undefined;
  for (;;) {
    if (node.type !== 'call') return fail('the rendered expression is not a call chain');
    const fn = node.childForFieldName('function');
    if (!fn || fn.type !== 'attribute') return fail('the rendered expression is not a method chain');
    const method = fn.childForFieldName('attribute')?.text ?? '';
    if (method === 'execute') {
      exec = node;
      break;
    }
    const a = argsOf(node);
    if ('reason' in a || a.length) return fail(`\`.${method}()\` with arguments after execute()`);
    tail.unshift(method);
    node = unwrapParens(fn.childForFieldName('object')!);
  }
  const session = argOf(exec.childForFieldName('function')!.childForFieldName('object')!);
  const execArgs = exec.childForFieldName('arguments')?.namedChildren.filter((c): c is Node => !!c) ?? [];
  if (execArgs.length !== 1 || execArgs[0].type === 'keyword_argument') return fail('execute() must take the statement only');
  const stmt = execArgs[0];
  // delete / update
  const dml = isCallTo(firstHead(stmt), 'delete') ? 'delete' : isCallTo(firstHead(stmt), 'update') ? 'update' : undefined;
  if (dml) {
    if (baseName !== undefined) return fail(`${dml}() on a statement built in a variable`);
    if (tail.length) return fail(`${dml}() must be read through .rowcount (or not at all)`);
    const r = readSelect(stmt, dml);
    if ('reason' in r) return fail(r.reason);
    const ents = entitiesOf(r.head);
    if ('reason' in ents) return fail(ents.reason);
    const calls = [...r.calls];
    let sync: Arg | undefined;
    let terminalArgs: Arg[] = [];
    if (calls.length && calls[calls.length - 1].method === 'execution_options') {
      const eo = calls.pop()!;
      if (eo.args.length !== 1 || eo.args[0].keyword !== 'synchronize_session') return fail('unexpected execution options');
      const k = eo.args[0];
      sync = { text: k.text.slice(k.text.indexOf('=') + 1).trim(), norm: k.norm.replace(/^synchronize_session = /, ''), type: k.type };
    }
    if (dml === 'update') {
      const v = calls.pop();
      if (!v || v.method !== 'values' || v.args.length !== 1) return fail('update() without .values(...) last');
      terminalArgs = v.args;
    }
    const steps = modernSteps(calls.map((c) => ({ ...c, method: c.method })));
    if ('reason' in steps) return fail(steps.reason);
    return { ok: true, plan: { session, entities: ents, steps, terminal: dml, terminalArgs, sync } };
  }
  if (rowcount) return fail('.rowcount on a select');
  const count = readSelect(stmt);
  const countArgs = 'reason' in count ? [] : count.head.childForFieldName('arguments')?.namedChildren.filter((c): c is Node => !!c) ?? [];
  // count: select(func.count()).select_from(X)... or .select_from(select(...).subquery())
  if (!('reason' in count) && countArgs.length === 1 && normOf(countArgs[0]) === 'func . count ( )') {
    const r = count;
    if (tail.join('.') !== 'scalar_one') return fail('a count must be read with .scalar_one()');
    const [from, ...after] = r.calls;
    if (!from || from.method !== 'select_from' || from.args.length !== 1) return fail('count without .select_from(...)');
    const fromNode = from.call.childForFieldName('arguments')!.namedChildren.find((c): c is Node => !!c)!;
    let plan: Plan;
    if (fromNode.type === 'call' && fromNode.childForFieldName('function')?.childForFieldName('attribute')?.text === 'subquery') {
      if (after.length) return fail('steps after a counted subquery');
      const inner = readSelect(fromNode.childForFieldName('function')!.childForFieldName('object')!, 'select', baseName);
      if ('reason' in inner) return fail(inner.reason);
      const ents = entitiesFrom(inner.head);
      if ('reason' in ents) return fail(ents.reason);
      const steps = modernSteps(inner.calls);
      if ('reason' in steps) return fail(steps.reason);
      plan = withBase({ session, entities: ents, steps, terminal: 'count', terminalArgs: [] });
      if (countForm(plan) !== 'subquery') return fail('a counted subquery where the simple count was expected');
    } else {
      if (baseName !== undefined) return fail('a simple count of a statement built in a variable');
      const kind = entityKind(fromNode);
      if (kind !== 'entity') return fail('select_from() of something that is not a mapped class');
      const steps = modernSteps(after);
      if ('reason' in steps) return fail(steps.reason);
      plan = { session, entities: [{ ...argOf(fromNode), kind }], steps, terminal: 'count', terminalArgs: [] };
      if (countForm(plan) !== 'simple') return fail('a simple count where 1.x counts over a subquery');
    }
    return { ok: true, plan };
  }
  const r = readSelect(stmt, 'select', baseName);
  if ('reason' in r) return fail(r.reason);
  const ents = entitiesFrom(r.head);
  if ('reason' in ents) return fail(ents.reason);
  const steps = modernSteps(r.calls);
  if ('reason' in steps) return fail(steps.reason);
  // The terminal is whichever of the candidate tails matches.
  for (const t of ['all', 'first', 'one', 'one_or_none', 'scalar', 'iterate'] as Terminal[]) {
    let st = steps;
    if (t === 'first') {
      const l = st[st.length - 1];
      if (!l || l.method !== 'limit' || l.args.length !== 1 || l.args[0].norm !== '1') continue;
      st = st.slice(0, -1);
    }
    const plan: Plan = withBase({ session, entities: ents, steps: st, terminal: t, terminalArgs: [] });
    if (tailOf(plan).join('.') === tail.join('.')) return { ok: true, plan };
  }
  return fail(`the result is read with \`${tail.map((t) => '.' + t + '()').join('')}\`, which matches no 1.x terminal for this query`);
}

function firstHead(stmt: Node): Node | null {
  let node: Node | null = unwrapParens(stmt);
  while (node && node.type === 'call' && node.childForFieldName('function')?.type === 'attribute') node = unwrapParens(node.childForFieldName('function')!.childForFieldName('object')!);
  return node;
}

/** Layout-independent form of a plan, for comparing the original with the rendered text. */
export function planKey(plan: Plan): string {
  const sessionless = plan.terminal === 'subquery' || plan.terminal === 'embedded';
  return JSON.stringify({
    session: sessionless ? null : plan.session.norm,
    base: plan.base?.norm ?? null,
    entities: plan.entities.map((e) => [e.norm, e.kind]),
    steps: plan.steps.map((s) => [s.method, s.args.map((a) => a.norm)]),
    // For one mapped class, 1.x `scalar()` is `one_or_none()` (one() on the entity, None when no row).
    terminal: plan.terminal === 'scalar' && singleEntity(plan) ? 'one_or_none' : plan.terminal,
    terminalArgs: plan.terminalArgs.map((a) => a.norm),
    sync: plan.sync?.norm ?? null,
  });
}
