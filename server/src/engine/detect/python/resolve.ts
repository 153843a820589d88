/**
 * SQL text recovery for Python expressions: literals, implicit and `+` concatenation,
 * f-strings, `%` and `.format()` formatting, names bound in the enclosing function, class or
 * module (with `sql += ...` appends), `text()` / `sql.SQL()` / `dedent()` wrappers.
 *
 * Every step is bounded (depth and a node budget): the input may be hostile.
 */
import type { Node } from 'web-tree-sitter';
import type { RecoveredSql } from '../../types';
import { dynamicPlaceholder } from '../common';
import type { Binding, Control, FileModel, Scope } from './model';
import { applyFormat, applyPercent, decodeString, snippet, type Piece } from './strings';

export interface Recovered {
  pieces: Piece[];
  origin: RecoveredSql['origin'];
  variable?: string;
  /** Runtime influences without a placeholder of their own (conditional appends, `x if c else y`). */
  extra: string[];
}

export type Recovery =
  | { kind: 'sql'; rec: Recovered }
  /** The value is not visible here: a parameter, a call result, an attribute of another object, a loop variable. */
  | { kind: 'unresolved'; src: string; why: 'param' | 'name' | 'call' | 'attribute' | 'loop' | 'other' }
  /** A name bound to a SQLAlchemy `text()` call: that call is the finding. */
  | { kind: 'text-var'; node: Node }
  /** A SQLAlchemy Core / ORM construct (`select(Job)`, `insert(t)`): not raw SQL. */
  | { kind: 'core' }
  /** A value that is not text at all (number, list, None, ...). */
  | { kind: 'not-text' };

const MAX_DEPTH = 24;
/** Appends (`sql += ...`) followed per name; more become one runtime part. */
const MAX_APPENDS = 200;
/** Operands of one `a + b + ...` chain followed; more become one runtime part. */
const MAX_OPERANDS = 500;
const CORE_CALLS = new Set([
  'select', 'insert', 'update', 'delete', 'union', 'union_all', 'exists', 'values', 'join', 'outerjoin',
  'except_', 'intersect', 'table', 'lambda_stmt', 'literal_column',
]);
const TRANSPARENT_FUNCS = new Set(['dedent', 'textwrap.dedent', 'cleandoc', 'inspect.cleandoc', 'str']);
const STRIP_METHODS = new Set(['strip', 'rstrip', 'lstrip']);
const TEXT_REFINERS = new Set(['bindparams', 'columns', 'execution_options', 'params']);

export class Resolver {
  private budget = 0;

  constructor(
    private readonly model: FileModel,
    /** Is this call a SQLAlchemy `text()` (or psycopg `sql.SQL()`) wrapper? */
    readonly isTextCall: (call: Node) => 'text' | 'psycopg-sql' | undefined,
  ) {}

  /** The SQL text an expression evaluates to, as far as this file tells. */
  recover(node: Node, scope: Scope, at: number): Recovery {
    this.budget = 4000;
    return this.rec(node, scope, at, 0);
  }

  private rec(node: Node, scope: Scope, at: number, depth: number): Recovery {
    if (depth > MAX_DEPTH || --this.budget < 0) return { kind: 'unresolved', src: snippet(node), why: 'other' };
    let n = node;
    for (let i = 0; n.type === 'parenthesized_expression' && n.firstNamedChild && i < 1000; i++) n = n.firstNamedChild;
    switch (n.type) {
      case 'string':
      case 'concatenated_string': {
        const pieces: Piece[] = [];
        for (const c of n.type === 'string' ? [n] : n.namedChildren) {
          if (c?.type !== 'string') continue;
          pieces.push(...decodeString(c).pieces);
        }
        const resolved = this.constants(pieces, scope, at, depth);
        return sql({ pieces: resolved, origin: resolved.some((p) => 'dyn' in p) ? 'template' : pieces.some((p) => 'dyn' in p) ? 'template' : 'literal', extra: [] });
      }
      case 'binary_operator':
        return this.binary(n, scope, at, depth);
      case 'call':
        return this.call(n, scope, at, depth);
      case 'identifier':
        return this.name(n.text, scope, at, depth);
      case 'attribute':
        return this.attribute(n, scope, at, depth);
      case 'subscript':
        return this.subscript(n, scope, at, depth);
      case 'conditional_expression': {
        const [then, cond, otherwise] = n.namedChildren;
        for (const branch of [then, otherwise]) {
          if (!branch) continue;
          const r = this.rec(branch, scope, at, depth + 1);
          if (r.kind === 'sql') {
            r.rec.extra.push(cond ? snippet(cond) : snippet(n));
            return r;
          }
        }
        return { kind: 'unresolved', src: snippet(n), why: 'other' };
      }
      case 'integer': case 'float': case 'true': case 'false': case 'none': case 'list': case 'dictionary':
      case 'tuple': case 'set': case 'list_comprehension': case 'dictionary_comprehension': case 'set_comprehension':
      case 'lambda': case 'unary_operator': case 'comparison_operator': case 'boolean_operator': case 'not_operator':
        return { kind: 'not-text' };
      default:
        return { kind: 'unresolved', src: snippet(n), why: 'other' };
    }
  }

  /** f-string parts naming a constant string (`{JOB_COLUMNS}`) are that string, not a runtime value. */
  private constants(pieces: Piece[], scope: Scope, at: number, depth: number): Piece[] {
    if (!pieces.some((p) => 'dyn' in p && p.node)) return pieces;
    return pieces.map((p) => {
      if (!('dyn' in p) || !p.node || (p.node.type !== 'identifier' && p.node.type !== 'attribute')) return p;
      const r = this.rec(p.node, scope, at, depth + 1);
      if (r.kind === 'sql' && r.rec.extra.length === 0 && r.rec.pieces.every((x) => 'text' in x)) {
        return { text: r.rec.pieces.map((x) => ('text' in x ? x.text : '')).join('') };
      }
      return p;
    });
  }

  /** The `text()` call a value is, possibly refined (`text(...).bindparams(...)`). */
  textRoot(value: Node): Node | undefined {
    let t: Node | null = value;
    for (let i = 0; t && i < 20; i++) {
      while (t.type === 'parenthesized_expression' && t.firstNamedChild) t = t.firstNamedChild;
      if (t.type !== 'call') return undefined;
      if (this.isTextCall(t) === 'text') return t;
      const f: Node | null = t.childForFieldName('function');
      if (f?.type !== 'attribute' || !TEXT_REFINERS.has(f.childForFieldName('attribute')?.text ?? '')) return undefined;
      t = f.childForFieldName('object');
    }
    return undefined;
  }

  private binary(n: Node, scope: Scope, at: number, depth: number): Recovery {
    const op = n.childForFieldName('operator')?.type ?? n.child(1)?.type;
    const left = n.childForFieldName('left');
    const right = n.childForFieldName('right');
    if (!left || !right) return { kind: 'unresolved', src: snippet(n), why: 'other' };
    if (op === '%') {
      const l = this.rec(left, scope, at, depth + 1);
      if (l.kind !== 'sql') return l.kind === 'not-text' ? l : { kind: 'unresolved', src: snippet(n), why: 'other' };
      return sql({ ...l.rec, pieces: applyPercent(l.rec.pieces, right), origin: 'format', extra: l.rec.extra });
    }
    if (op !== '+') return { kind: 'unresolved', src: snippet(n), why: 'other' };
    // Flatten the left-leaning `a + b + c` chain without recursion.
    const operands: Node[] = [right];
    let cur: Node = left;
    for (let i = 0; i < 5000; i++) {
      let c = cur;
      while (c.type === 'parenthesized_expression' && c.firstNamedChild) c = c.firstNamedChild;
      const cop = c.type === 'binary_operator' ? c.childForFieldName('operator')?.type ?? c.child(1)?.type : undefined;
      const cl = c.childForFieldName('left');
      const cr = c.childForFieldName('right');
      if (cop === '+' && cl && cr) {
        operands.push(cr);
        cur = cl;
      } else {
        break;
      }
    }
    operands.push(cur);
    operands.reverse();
    if (operands.length > MAX_OPERANDS) return { kind: 'unresolved', src: snippet(n), why: 'other' };
    const pieces: Piece[] = [];
    const extra: string[] = [];
    let anyText = false;
    let variable: string | undefined;
    operands.forEach((o, i) => {
      const r = this.rec(o, scope, at, depth + 1);
      if (r.kind === 'sql') {
        anyText = true;
        pieces.push(...r.rec.pieces);
        extra.push(...r.rec.extra);
        if (i === 0 && r.rec.variable) variable = r.rec.variable;
      } else {
        pieces.push({ dyn: snippet(o) });
      }
    });
    if (!anyText || this.budget < 0) return { kind: 'unresolved', src: snippet(n), why: 'other' };
    return sql({ pieces, origin: 'concatenation', variable, extra });
  }

  private call(n: Node, scope: Scope, at: number, depth: number): Recovery {
    const fn = n.childForFieldName('function');
    const args = n.childForFieldName('arguments');
    if (!fn) return { kind: 'unresolved', src: snippet(n), why: 'call' };
    const first = args?.type === 'argument_list' ? firstPositional(args) : null;
    const wrapper = this.isTextCall(n);
    if (wrapper && first) return this.rec(first, scope, at, depth + 1);
    const fnText = (fn.type === 'identifier' || fn.type === 'attribute') && fn.endIndex - fn.startIndex <= 200 ? fn.text : '';
    if (TRANSPARENT_FUNCS.has(fnText) && first) return this.rec(first, scope, at, depth + 1);
    if (fn.type === 'attribute') {
      const method = fn.childForFieldName('attribute')?.text ?? '';
      const obj = fn.childForFieldName('object');
      if (obj && STRIP_METHODS.has(method)) {
        const r = this.rec(obj, scope, at, depth + 1);
        if (r.kind !== 'sql') return r.kind === 'unresolved' ? { kind: 'unresolved', src: snippet(n), why: r.why } : r;
        return sql({ ...r.rec, pieces: stripPieces(r.rec.pieces, method, first) });
      }
      if (obj && method === 'format') {
        const r = this.rec(obj, scope, at, depth + 1);
        if (r.kind !== 'sql') return { kind: 'unresolved', src: snippet(n), why: 'call' };
        return sql({ ...r.rec, pieces: applyFormat(r.rec.pieces, args), origin: 'format' });
      }
      if (obj && TEXT_REFINERS.has(method) && obj.type === 'call') {
        // `text("...").bindparams(...)`: the statement of the text() call.
        const r = this.rec(obj, scope, at, depth + 1);
        if (r.kind === 'sql' || r.kind === 'text-var') return r;
      }
      if (obj && (method === 'join' || method === 'replace')) {
        return { kind: 'unresolved', src: snippet(n), why: 'call' };
      }
    }
    if (isCoreConstruct(n)) return { kind: 'core' };
    return { kind: 'unresolved', src: snippet(n), why: 'call' };
  }

  private name(name: string, scope: Scope, at: number, depth: number): Recovery {
    const found = lookup(name, scope, at);
    if (!found) return { kind: 'unresolved', src: name, why: 'name' };
    if (found.param) return { kind: 'unresolved', src: name, why: 'param' };
    return this.fromBindings(name, found.scope, found.bindings, depth);
  }

  /** The value of `name` at `at` from its bindings in one scope: the last assignment and the appends after it. */
  private fromBindings(name: string, scope: Scope, bindings: Binding[], depth: number): Recovery {
    let baseIndex = -1;
    for (let i = bindings.length - 1; i >= 0 && i >= bindings.length - 1 - MAX_APPENDS; i--) {
      if (bindings[i].kind !== 'aug') {
        baseIndex = i;
        break;
      }
    }
    const base = baseIndex >= 0 ? bindings[baseIndex] : undefined;
    const appends = bindings.slice(baseIndex + 1);
    if (appends.length > MAX_APPENDS) {
      // Too many appends to follow: the value is runtime text.
      return { kind: 'unresolved', src: name, why: 'other' };
    }
    let result: Recovery;
    if (!base) {
      result = { kind: 'unresolved', src: name, why: scope.params.has(name) ? 'param' : 'name' };
    } else if (!base.value) {
      result = { kind: 'unresolved', src: name, why: base.kind === 'for' ? 'loop' : 'other' };
    } else {
      const held = this.textRoot(base.value);
      if (held && appends.length === 0) return { kind: 'text-var', node: held };
      result = this.rec(base.value, scope, base.start, depth + 1);
    }
    if (appends.length === 0) {
      if (result.kind === 'sql') return sql({ ...result.rec, origin: 'variable', variable: name });
      return result;
    }
    // Appends: `sql += " AND x = %s"`; conditional ones make the text dynamic.
    const pieces: Piece[] = [];
    const extra: string[] = [];
    if (result.kind === 'sql') {
      pieces.push(...result.rec.pieces);
      extra.push(...result.rec.extra);
    } else if (result.kind === 'unresolved') {
      pieces.push({ dyn: name });
    } else {
      return result;
    }
    const taken: Binding[] = [];
    for (const a of appends) {
      const conditional = isConditional(a.controls, base?.controls ?? []);
      if (conditional && taken.some((t) => exclusive(t.controls, a.controls))) {
        extra.push(snippet(a.statement, 80));
        continue;
      }
      taken.push(a);
      const r = a.value ? this.rec(a.value, scope, a.start, depth + 1) : undefined;
      if (r && r.kind === 'sql') {
        pieces.push(...r.rec.pieces);
        extra.push(...r.rec.extra);
      } else {
        pieces.push({ dyn: a.value ? snippet(a.value) : name });
      }
      if (conditional) extra.push(snippet(a.statement, 80));
    }
    return sql({ pieces, origin: 'concatenation', variable: name, extra });
  }

  private attribute(n: Node, scope: Scope, at: number, depth: number): Recovery {
    const obj = n.childForFieldName('object');
    const attr = n.childForFieldName('attribute')?.text;
    if (!obj || !attr) return { kind: 'unresolved', src: snippet(n), why: 'attribute' };
    let cls: Scope | undefined;
    if (obj.type === 'identifier' && (obj.text === 'self' || obj.text === 'cls')) {
      // A binding of `self.x` in this method first (value at this point), then the class.
      const local = lookup(n.text, scope, at);
      if (local && !local.param && local.scope.kind !== 'module') return this.fromBindings(n.text, local.scope, local.bindings, depth);
      for (let s: Scope | undefined = scope; s; s = s.parent) {
        if (s.kind === 'class') {
          cls = s;
          break;
        }
      }
    } else if (obj.type === 'identifier') {
      cls = this.model.classes.get(obj.text);
    }
    const bindings = cls?.attrs?.get(attr);
    if (cls && bindings?.length) {
      // Class-level constants: the last binding wins; appends are not followed across methods.
      const b = bindings[bindings.length - 1];
      if (b.value && b.kind !== 'aug') {
        const owner = this.model.scopes.find((s) => s.start <= b.start && b.start < s.end && s.bindings.get(b.name)?.includes(b)) ?? cls;
        const held = this.textRoot(b.value);
        const r: Recovery = held ? { kind: 'text-var', node: held } : this.rec(b.value, owner, b.start, depth + 1);
        if (r.kind === 'sql') return sql({ ...r.rec, origin: 'variable', variable: n.text });
        return r;
      }
    }
    return { kind: 'unresolved', src: snippet(n), why: 'attribute' };
  }

  private subscript(n: Node, scope: Scope, at: number, depth: number): Recovery {
    // `QUERIES["by_id"]` with `QUERIES = {"by_id": "SELECT ..."}`.
    const value = n.childForFieldName('value');
    const key = n.childForFieldName('subscript');
    if (value?.type === 'identifier' && key?.type === 'string') {
      const found = lookup(value.text, scope, at);
      const b = found && !found.param ? found.bindings[found.bindings.length - 1] : undefined;
      if (b?.value?.type === 'dictionary') {
        const wanted = decodeString(key).pieces.map((p) => ('text' in p ? p.text : '')).join('');
        for (const pair of b.value.namedChildren) {
          const k = pair?.childForFieldName('key');
          if (pair?.type === 'pair' && k?.type === 'string' && decodeString(k).pieces.map((p) => ('text' in p ? p.text : '')).join('') === wanted) {
            const v = pair.childForFieldName('value');
            if (v) {
              const r = this.rec(v, found!.scope, b.start, depth + 1);
              if (r.kind === 'sql') return sql({ ...r.rec, origin: 'variable', variable: snippet(n, 60) });
              return r;
            }
          }
        }
      }
    }
    return { kind: 'unresolved', src: snippet(n), why: 'other' };
  }
}

function sql(rec: Recovered): Recovery {
  return { kind: 'sql', rec };
}

/** The first positional argument of an argument list. */
export function firstPositional(args: Node): Node | null {
  for (const c of args.namedChildren) {
    if (!c || c.type === 'comment') continue;
    if (c.type === 'keyword_argument' || c.type === 'list_splat' || c.type === 'dictionary_splat') return null;
    return c;
  }
  return null;
}

/** Positional argument `index`, or the keyword argument with one of `names`. */
export function argument(args: Node | null, index: number, names: string[]): Node | null {
  if (!args || args.type !== 'argument_list') return null;
  let i = 0;
  for (const c of args.namedChildren) {
    if (!c || c.type === 'comment') continue;
    if (c.type === 'keyword_argument') {
      const name = c.childForFieldName('name')?.text;
      if (name && names.includes(name)) return c.childForFieldName('value');
      continue;
    }
    if (c.type === 'list_splat' || c.type === 'dictionary_splat') return null;
    if (i === index) return c;
    i++;
  }
  return null;
}

interface Lookup {
  scope: Scope;
  /** The bindings visible at the offset: a prefix of the scope's list (source order). */
  bindings: Binding[];
  param: boolean;
}

/**
 * The bindings of `name` visible at offset `at` from `scope`: in the scope itself those before
 * `at`; in enclosing functions those before `at`; at module level all of them (a function may
 * run after later module statements). Class bodies are not visible from their methods.
 */
export function lookup(name: string, scope: Scope, at: number): Lookup | undefined {
  let first = true;
  for (let s: Scope | undefined = scope; s; s = s.parent) {
    if (s.kind === 'class' && !first) continue;
    const all = s.bindings.get(name);
    const count = all ? (s.kind === 'module' && !first ? all.length : countBefore(all, at)) : 0;
    if (count > 0) return { scope: s, bindings: count === all!.length ? all! : all!.slice(Math.max(0, count - MAX_APPENDS - 1), count), param: false };
    if (s.params.has(name)) return { scope: s, bindings: [], param: true };
    if (all?.length && s.kind !== 'module') {
      // Bound later in this function only: not visible yet.
      return undefined;
    }
    first = false;
  }
  return undefined;
}

/** Number of bindings starting before `at` (they are in source order): a binary search. */
function countBefore(list: Binding[], at: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid].start < at) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** An append is conditional when it sits under a branch or loop its base assignment is not under. */
function isConditional(append: Control[], base: Control[]): boolean {
  const ids = new Set(base.map((c) => c.id));
  return append.some((c) => !ids.has(c.id));
}

/** Two statements are mutually exclusive when they sit in different branches of one `if`. */
function exclusive(a: Control[], b: Control[]): boolean {
  for (const c of a) {
    if (c.kind !== 'if') continue;
    if (!b.some((x) => x.id === c.id)) continue;
    if (branchOf(a, c.id) !== branchOf(b, c.id)) return true;
  }
  return false;
}

function branchOf(controls: Control[], ifId: number): number {
  const i = controls.findIndex((c) => c.id === ifId);
  for (let j = i + 1; j < controls.length; j++) {
    if (controls[j].kind === 'branch' && controls[j].ifId === ifId) return controls[j].id;
  }
  return -1;
}

function stripPieces(pieces: Piece[], method: string, charsNode: Node | null): Piece[] {
  let chars: string | undefined;
  if (charsNode?.type === 'string') chars = decodeString(charsNode).pieces.map((p) => ('text' in p ? p.text : '')).join('');
  const out = pieces.map((p) => ({ ...p }));
  const strip = (s: string, fromEnd: boolean) => {
    if (chars === undefined) return fromEnd ? s.replace(/\s+$/, '') : s.replace(/^\s+/, '');
    let i = fromEnd ? s.length : 0;
    if (fromEnd) {
      while (i > 0 && chars.includes(s[i - 1])) i--;
      return s.slice(0, i);
    }
    while (i < s.length && chars.includes(s[i])) i++;
    return s.slice(i);
  };
  if (method !== 'lstrip') {
    const last = out[out.length - 1];
    if (last && 'text' in last) last.text = strip(last.text, true);
  }
  if (method !== 'rstrip') {
    const firstPiece = out[0];
    if (firstPiece && 'text' in firstPiece) firstPiece.text = strip(firstPiece.text, false);
  }
  return out;
}

/** `select(Job).where(...)`, `sa.insert(t).values(...)`, `Job.__table__.delete()`: SQLAlchemy Core. */
export function isCoreConstruct(call: Node): boolean {
  let c: Node | null = call;
  for (let i = 0; c && c.type === 'call' && i < 200; i++) {
    const fn: Node | null = c.childForFieldName('function');
    if (!fn) return false;
    if (fn.type === 'identifier') return CORE_CALLS.has(fn.text);
    if (fn.type !== 'attribute') return false;
    const obj = fn.childForFieldName('object');
    const attr = fn.childForFieldName('attribute')?.text ?? '';
    if (obj?.type === 'call') {
      c = obj;
      continue;
    }
    // `sa.select(...)`, `sqlalchemy.insert(...)`, `Job.__table__.delete()`.
    const objText = obj && obj.endIndex - obj.startIndex <= 200 ? obj.text : '';
    return CORE_CALLS.has(attr) && (/^(sa|sqlalchemy|sql|expression)$/.test(objText) || /__table__$/.test(objText));
  }
  return false;
}

/** The text the analyser sees, runtime parts as placeholders. */
export function toRecoveredSql(rec: Recovered): RecoveredSql {
  let text = '';
  const dynamicParts: string[] = [];
  let n = 0;
  for (const p of rec.pieces) {
    if ('text' in p) {
      text += p.text;
    } else {
      text += dynamicPlaceholder(++n);
      dynamicParts.push(p.dyn);
    }
  }
  dynamicParts.push(...rec.extra);
  const out: RecoveredSql = { text: fitPlaceholders(text), dynamic: dynamicParts.length > 0, dynamicParts, origin: rec.origin };
  if (rec.variable) out.variable = rec.variable;
  return out;
}

/**
 * A placeholder standing for a whole `SET` list (`SET {", ".join(sets)}`) becomes an
 * assignment so the statement still parses: `SET __sqlm_dyn_1__ = __sqlm_dyn_1__`.
 */
export function fitPlaceholders(text: string): string {
  if (!text.includes('__sqlm_dyn_')) return text;
  return text.replace(/\b(SET\s+|,\s*)(__sqlm_dyn_\d+__)(?=\s*(?:,|\bWHERE\b|\bRETURNING\b|\bFROM\b|;|$))/gi, (m, lead: string, ph: string, offset: number) => {
    if (/^,/.test(lead)) {
      // Only inside a SET list: the nearest preceding keyword is SET.
      const before = text.slice(Math.max(0, offset - 400), offset);
      const kw = /\b(SET|WHERE|FROM|SELECT|VALUES|INTO|ON|BY|RETURNING)\b(?![\s\S]*\b(SET|WHERE|FROM|SELECT|VALUES|INTO|ON|BY|RETURNING)\b)/i.exec(before);
      if (!kw || kw[1].toUpperCase() !== 'SET') return m;
    }
    return `${lead}${ph} = ${ph}`;
  });
}

/** Whether a recovered text holds any literal SQL (not only runtime parts). */
export function hasText(rec: Recovered): boolean {
  return rec.pieces.some((p) => 'text' in p && p.text.trim().length > 0);
}
