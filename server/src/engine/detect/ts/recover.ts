/**
 * Recovering the SQL text an expression evaluates to, as far as the file tells:
 * literals, templates, `+` concatenations, consts (and never-reassigned lets) in an
 * enclosing scope, `const Q = { find: '...' }` objects and static class fields, `[...].join()`,
 * and `sql` tagged templates (whose substitutions are bound parameters, not dynamic text).
 * Anything else becomes a dynamic placeholder (`__sqlm_dyn_N__`).
 */
import ts = require('typescript');
import { dynamicPlaceholder } from '../common';
import type { Dialect, RecoveredSql } from '../../types';
import { ScopeIndex, skipParens } from './scope';

type Piece =
  | { t: 'text'; s: string }
  | { t: 'dyn'; src: string }
  | { t: 'param' }
  | { t: 'ident' };

interface Rec {
  pieces: Piece[];
  /** The value is a string (false for numbers, which may still be inlined in a template). */
  isString: boolean;
  /** Runtime parts that are not a single placeholder (`sql += ' AND x = $1'` in a branch). */
  forced: string[];
  /** sql-tagged templates whose text went into this value. */
  tags: ts.TaggedTemplateExpression[];
}

export type TagRole = 'statement' | 'fragment';

export interface TagInfo {
  role: TagRole;
  driver: 'prisma' | 'sql-tag';
}

const MAX_DEPTH = 12;
const MAX_PIECES = 20000;
/** Query objects whose constructor takes the SQL text (pg-cursor, pg-query-stream, pg-promise). */
const QUERY_OBJECTS = new Set(['Cursor', 'QueryStream', 'Query', 'PreparedStatement', 'ParameterizedQuery']);
const PLAIN_TAGS = new Set(['dedent', 'outdent', 'stripIndent', 'stripIndents', 'oneLine', 'oneLineTrim', 'raw']);

export interface RecoveredWithTags {
  sql: RecoveredSql;
  tags: ts.TaggedTemplateExpression[];
}

export class Recoverer {
  constructor(
    private readonly sf: ts.SourceFile,
    private readonly scope: ScopeIndex,
    /** Identifiers that are `sql` tags in this file (`sql`, `SQL`, `const db = postgres()`...). */
    private readonly tagNames: ReadonlySet<string>,
  ) {}

  /** The SQL text of `node`, or undefined when it is not a string the file spells out. */
  recover(node: ts.Expression, dialect: Dialect): RecoveredWithTags | undefined {
    const rec = this.rec(node, 0, new Set());
    if (!rec || !rec.isString) return undefined;
    if (!rec.pieces.some((p) => p.t === 'text' && p.s.trim().length > 0)) return undefined;
    const { origin, variable } = this.originOf(node);
    let text = '';
    let dyn = 0;
    let param = 0;
    const dynamicParts: string[] = [];
    for (const p of rec.pieces) {
      switch (p.t) {
        case 'text': text += p.s; break;
        case 'dyn': text += dynamicPlaceholder(++dyn); dynamicParts.push(p.src); break;
        // escaped identifiers (`sql(table)`) are not runtime text: placeholder 0 is outside the numbering of dynamicParts
        case 'ident': text += dynamicPlaceholder(0); break;
        case 'param': param++; text += dialect === 'postgresql' ? `$${param}` : '?'; break;
      }
    }
    dynamicParts.push(...rec.forced);
    return {
      sql: { text, dynamic: dynamicParts.length > 0, dynamicParts, origin, ...(variable ? { variable } : {}) },
      tags: rec.tags,
    };
  }

  /** What kind of `sql` tag `tag` is, if any. */
  tagInfo(tag: ts.Expression): TagInfo | undefined {
    const t = skipParens(tag);
    if (ts.isIdentifier(t)) return this.tagNames.has(t.text) ? { role: 'statement', driver: 'sql-tag' } : undefined;
    if (ts.isPropertyAccessExpression(t)) {
      const name = t.name.text;
      if (name === '$queryRaw' || name === '$executeRaw') return { role: 'statement', driver: 'prisma' };
      const root = rootIdentifier(t);
      if (root === 'Prisma' && name === 'sql') return { role: 'fragment', driver: 'prisma' };
      if (root && this.tagNames.has(root)) {
        return { role: name === 'fragment' || name === 'join' ? 'fragment' : 'statement', driver: 'sql-tag' };
      }
      return undefined;
    }
    if (ts.isCallExpression(t)) {
      // slonik: sql.type(Row)`...`, sql.typeAlias('id')`...`
      const root = rootIdentifier(t.expression);
      if (root && this.tagNames.has(root)) return { role: 'statement', driver: 'sql-tag' };
    }
    return undefined;
  }

  private originOf(node: ts.Expression): { origin: RecoveredSql['origin']; variable?: string } {
    let n = skipParens(node);
    // `x.trim()` has the origin of `x`
    for (let k = 0; k < 10 && ts.isCallExpression(n) && ts.isPropertyAccessExpression(n.expression) && isTrim(n.expression.name.text); k++) {
      n = skipParens(n.expression.expression);
    }
    if (ts.isStringLiteral(n) || ts.isNoSubstitutionTemplateLiteral(n)) return { origin: 'literal' };
    if (ts.isTemplateExpression(n) || ts.isTaggedTemplateExpression(n)) return { origin: 'template' };
    if (ts.isIdentifier(n) || ts.isPropertyAccessExpression(n)) return { origin: 'variable', variable: compact(n.getText(this.sf)) };
    if (ts.isBinaryExpression(n)) {
      let left: ts.Expression = n;
      for (let k = 0; k < 100000 && ts.isBinaryExpression(left); k++) left = skipParens(left.left);
      if (ts.isIdentifier(left) || ts.isPropertyAccessExpression(left)) return { origin: 'concatenation', variable: compact(left.getText(this.sf)) };
      return { origin: 'concatenation' };
    }
    return { origin: 'concatenation' };
  }

  private rec(node: ts.Expression, depth: number, visiting: Set<ts.Node>): Rec | undefined {
    if (depth > MAX_DEPTH) return undefined;
    const n = skipParens(node);
    if (ts.isStringLiteral(n) || ts.isNoSubstitutionTemplateLiteral(n)) return text(n.text);
    if (ts.isNumericLiteral(n)) return { ...text(n.text), isString: false };
    if (ts.isTemplateExpression(n)) return this.template(n, depth, visiting, false);
    if (ts.isBinaryExpression(n) && n.operatorToken.kind === ts.SyntaxKind.PlusToken) return this.concatenation(n, depth, visiting);
    if (ts.isIdentifier(n)) return this.identifier(n, depth, visiting);
    if (ts.isPropertyAccessExpression(n)) return this.property(n, depth, visiting);
    if (ts.isTaggedTemplateExpression(n)) return this.tagged(n, depth, visiting);
    if (ts.isNewExpression(n) && ts.isIdentifier(n.expression) && QUERY_OBJECTS.has(n.expression.text) && n.arguments?.[0]) {
      // client.query(new Cursor('SELECT ...')), new QueryStream(...), pg-promise PreparedStatement
      const first = skipParens(n.arguments[0]);
      if (ts.isObjectLiteralExpression(first)) {
        const prop = first.properties.find((p) => p.name && propertyNameText(p.name) === 'text');
        return prop && ts.isPropertyAssignment(prop) ? this.rec(prop.initializer, depth + 1, visiting) : undefined;
      }
      return this.rec(first, depth + 1, visiting);
    }
    if (ts.isConditionalExpression(n)) {
      // `cond ? ' AND x = $2' : ''`: two known texts, chosen at run time
      const a = this.rec(n.whenTrue, depth + 1, visiting);
      const b = this.rec(n.whenFalse, depth + 1, visiting);
      if (!a || !b || !a.isString || !b.isString || hasDyn(a) || hasDyn(b)) return undefined;
      const chosen = a.pieces.some((p) => p.t !== 'text' || p.s.trim() !== '') ? a : b;
      return { ...chosen, forced: [...chosen.forced, compact(n.getText(this.sf))] };
    }
    if (ts.isCallExpression(n) && ts.isPropertyAccessExpression(n.expression)) {
      const method = n.expression.name.text;
      const target = skipParens(n.expression.expression);
      if (isTrim(method) && n.arguments.length === 0) return this.rec(target, depth + 1, visiting);
      if (method === 'join' && n.arguments.length <= 1) {
        const arr = ts.isArrayLiteralExpression(target) ? target : undefined;
        if (!arr) return undefined;
        const sep = n.arguments.length ? this.rec(n.arguments[0], depth + 1, visiting) : text(',');
        if (!sep || sep.pieces.some((p) => p.t !== 'text')) return undefined;
        const sepText = sep.pieces.map((p) => (p.t === 'text' ? p.s : '')).join('');
        const out: Rec = { pieces: [], isString: true, forced: [], tags: [] };
        arr.elements.forEach((el, k) => {
          if (k > 0) out.pieces.push({ t: 'text', s: sepText });
          const r = ts.isSpreadElement(el) ? undefined : this.rec(el, depth + 1, visiting);
          append(out, r ?? dynOf(el, this.sf));
        });
        return out;
      }
    }
    return undefined;
  }

  private template(n: ts.TemplateExpression, depth: number, visiting: Set<ts.Node>, raw: boolean): Rec {
    const out: Rec = { pieces: [text(literalText(n.head, raw)).pieces[0]], isString: true, forced: [], tags: [] };
    for (const span of n.templateSpans) {
      const sub = this.rec(span.expression, depth + 1, visiting);
      const last = out.pieces[out.pieces.length - 1];
      if ((!sub || hasOnlyDyn(sub)) && last?.t === 'text' && /\$$/.test(last.s)) {
        // `$${params.length}`: a numbered placeholder built at run time, not runtime SQL text
        out.pieces.push({ t: 'text', s: '1' });
      } else {
        append(out, sub && !hasOnlyDyn(sub) ? sub : dynOf(span.expression, this.sf));
      }
      out.pieces.push({ t: 'text', s: literalText(span.literal, raw) });
    }
    return out;
  }

  private concatenation(root: ts.BinaryExpression, depth: number, visiting: Set<ts.Node>): Rec | undefined {
    // Flatten the `+` chain without recursion: `'a' + b + 'c' + ...` nests to the left.
    const leaves: ts.Expression[] = [];
    const stack: ts.Expression[] = [root];
    while (stack.length) {
      // Parentheses are kept: `'a' + (n + 1)` adds numbers inside them.
      const e = stack.pop()!;
      if (ts.isBinaryExpression(e) && e.operatorToken.kind === ts.SyntaxKind.PlusToken) {
        stack.push(e.right, e.left);
      } else {
        leaves.push(e);
      }
      if (leaves.length > MAX_PIECES) return undefined;
    }
    const parts = leaves.map((l) => this.rec(l, depth + 1, visiting));
    if (!parts.some((p) => p && p.isString)) return undefined; // numeric addition
    const out: Rec = { pieces: [], isString: true, forced: [], tags: [] };
    leaves.forEach((l, k) => append(out, parts[k] ?? dynOf(l, this.sf)));
    return out;
  }

  private identifier(id: ts.Identifier, depth: number, visiting: Set<ts.Node>): Rec | undefined {
    const d = this.scope.resolve(id);
    if (!d || !d.init || d.flavour === 'other' || visiting.has(d.node)) return undefined;
    visiting.add(d.node);
    try {
      const base = this.rec(d.init, depth + 1, visiting);
      if (!base || d.flavour === 'const') return base;
      // let / var: usable when never reassigned, or only appended to (`sql += ...`, `sql = sql + ...`).
      const assigns = this.scope.assignmentsOf(d);
      if (assigns.length === 0) return base;
      const usePos = id.getStart();
      const out: Rec = { pieces: [...base.pieces], isString: base.isString, forced: [...base.forced], tags: [...base.tags] };
      for (const a of assigns) {
        const appended = appendedExpression(a, d.name);
        if (!appended) return undefined; // reassigned: the text at the use is unknown
        if (a.getStart() > usePos) continue;
        const r = this.rec(appended, depth + 1, visiting);
        const before = out.pieces.filter((p) => p.t === 'dyn').length;
        append(out, r ?? dynOf(appended, this.sf));
        const added = out.pieces.filter((p) => p.t === 'dyn').length - before;
        if (added === 0) out.forced.push(compact(a.getText(this.sf)));
      }
      return out;
    } finally {
      visiting.delete(d.node);
    }
  }

  /** `Q.findJob` with `const Q = { findJob: '...' }`, or `Queries.FIND` with a static class field. */
  private property(n: ts.PropertyAccessExpression, depth: number, visiting: Set<ts.Node>): Rec | undefined {
    const path: string[] = [];
    let e: ts.Expression = n;
    while (ts.isPropertyAccessExpression(e) && path.length < 8) {
      path.unshift(e.name.text);
      e = skipParens(e.expression);
    }
    if (e.kind === ts.SyntaxKind.ThisKeyword) return this.thisProperty(n, path, depth, visiting);
    if (!ts.isIdentifier(e)) return undefined;
    let value: ts.Expression | undefined;
    let rest = path;
    const d = this.scope.resolve(e);
    if (d && d.init && d.flavour !== 'other') {
      if (visiting.has(d.node)) return undefined;
      value = d.init;
    } else if (d && ts.isClassDeclaration(d.node)) {
      const member = d.node.members.find(
        (m): m is ts.PropertyDeclaration =>
          ts.isPropertyDeclaration(m) && !!m.initializer && ts.isIdentifier(m.name) && m.name.text === path[0] &&
          !!ts.getModifiers(m)?.some((mod) => mod.kind === ts.SyntaxKind.StaticKeyword),
      );
      if (!member) return undefined;
      value = member.initializer;
      rest = path.slice(1);
    }
    if (!value) return undefined;
    for (const key of rest) {
      value = objectLiteralOf(skipParens(value));
      if (!value || !ts.isObjectLiteralExpression(value)) return undefined;
      const prop: ts.ObjectLiteralElementLike | undefined = value.properties.find((p) => p.name && propertyNameText(p.name) === key);
      if (!prop) return undefined;
      if (ts.isPropertyAssignment(prop)) value = prop.initializer;
      else if (ts.isShorthandPropertyAssignment(prop)) value = prop.name;
      else return undefined;
    }
    if (d) visiting.add(d.node);
    try {
      return this.rec(value, depth + 1, visiting);
    } finally {
      if (d) visiting.delete(d.node);
    }
  }

  /** `this.FIND_SQL` with `private readonly FIND_SQL = '...'` in the enclosing class. */
  private thisProperty(n: ts.PropertyAccessExpression, path: string[], depth: number, visiting: Set<ts.Node>): Rec | undefined {
    if (path.length !== 1) return undefined;
    let cls: ts.Node | undefined = n.parent;
    for (let k = 0; cls && k < 10000; k++, cls = cls.parent) {
      if (ts.isClassLike(cls)) break;
      // `this` inside a plain function is not the class instance
      if (ts.isFunctionDeclaration(cls) || ts.isFunctionExpression(cls)) return undefined;
    }
    if (!cls || !ts.isClassLike(cls)) return undefined;
    const member = cls.members.find(
      (m): m is ts.PropertyDeclaration =>
        ts.isPropertyDeclaration(m) && !!m.initializer && ts.isIdentifier(m.name) && m.name.text === path[0] &&
        !!ts.getModifiers(m)?.some((mod) => mod.kind === ts.SyntaxKind.ReadonlyKeyword),
    );
    if (!member?.initializer || visiting.has(member)) return undefined;
    visiting.add(member);
    try {
      return this.rec(member.initializer, depth + 1, visiting);
    } finally {
      visiting.delete(member);
    }
  }

  private tagged(n: ts.TaggedTemplateExpression, depth: number, visiting: Set<ts.Node>): Rec | undefined {
    const tag = skipParens(n.tag);
    const tagName = ts.isIdentifier(tag) ? tag.text : ts.isPropertyAccessExpression(tag) ? tag.name.text : '';
    const info = this.tagInfo(n.tag);
    if (!info) {
      if (!PLAIN_TAGS.has(tagName)) return undefined;
      const raw = tagName === 'raw';
      if (ts.isNoSubstitutionTemplateLiteral(n.template)) return text(literalText(n.template, raw));
      return this.template(n.template, depth, visiting, raw);
    }
    const out: Rec = { pieces: [], isString: true, forced: [], tags: [n] };
    if (ts.isNoSubstitutionTemplateLiteral(n.template)) {
      out.pieces.push({ t: 'text', s: n.template.text });
      return out;
    }
    out.pieces.push({ t: 'text', s: n.template.head.text });
    for (const span of n.template.templateSpans) {
      const prev = out.pieces.map((p) => (p.t === 'text' ? p.s : ' x ')).join('').slice(-80);
      append(out, this.taggedSubstitution(span.expression, prev, depth, visiting));
      out.pieces.push({ t: 'text', s: span.literal.text });
    }
    return out;
  }

  /** A `${...}` inside a `sql` tag: a bound parameter, unless it is a fragment, an identifier helper or raw text. */
  private taggedSubstitution(expr: ts.Expression, before: string, depth: number, visiting: Set<ts.Node>): Rec {
    const e = skipParens(expr);
    const param: Rec = { pieces: [{ t: 'param' }], isString: true, forced: [], tags: [] };
    // nested fragment: sql`...`, Prisma.sql`...`, or a const holding one
    if (ts.isTaggedTemplateExpression(e) && this.tagInfo(e.tag)) return this.tagged(e, depth + 1, visiting) ?? param;
    if (ts.isIdentifier(e)) {
      // a const holding a fragment (or a choice of fragments); any other value is a bound parameter
      const d = this.scope.resolve(e);
      if (d?.init && d.flavour === 'const' && !visiting.has(d.node) && depth < MAX_DEPTH) {
        visiting.add(d.node);
        try {
          return this.taggedSubstitution(d.init, before, depth + 1, visiting);
        } finally {
          visiting.delete(d.node);
        }
      }
      return param;
    }
    if (ts.isPropertyAccessExpression(e) && rootIdentifier(e) === 'Prisma' && e.name.text === 'empty') return text('');
    if (ts.isConditionalExpression(e)) {
      // `${cond ? sql`AND x = ${y}` : sql``}`: composed from parameterised fragments, so not
      // runtime text; the analyser sees the first non-empty branch.
      const a = skipParens(e.whenTrue);
      const b = skipParens(e.whenFalse);
      const isFragment = (x: ts.Expression): boolean =>
      (ts.isTaggedTemplateExpression(x) && !!this.tagInfo(x.tag)) || (ts.isPropertyAccessExpression(x) && rootIdentifier(x) === 'Prisma' && x.name.text === 'empty');
      if (isFragment(a) || isFragment(b)) {
        const ra = this.taggedSubstitution(a, before, depth + 1, visiting);
        const rb = this.taggedSubstitution(b, before, depth + 1, visiting);
        const nonEmpty = (r: Rec): boolean => r.pieces.some((p) => p.t !== 'text' || p.s.trim() !== '');
        return nonEmpty(ra) || !nonEmpty(rb) ? ra : rb;
      }
      return param;
    }
    if (ts.isCallExpression(e)) {
      const callee = skipParens(e.expression);
      const name = ts.isPropertyAccessExpression(callee) ? callee.name.text : ts.isIdentifier(callee) ? callee.text : '';
      const root = rootIdentifier(callee);
      const onTag = !!root && (this.tagNames.has(root) || root === 'Prisma');
      if (onTag && (name === 'unsafe' || name === 'raw')) {
        const arg = e.arguments[0];
        const r = arg ? this.rec(arg, depth + 1, visiting) : undefined;
        return r && !hasOnlyDyn(r) ? r : dynOf(arg ?? e, this.sf);
      }
      if (ts.isIdentifier(callee) && this.tagNames.has(callee.text)) {
        // postgres.js helpers: sql(table), sql(row, 'a', 'b') after INSERT INTO t, after SET
        const id: Piece = { t: 'ident' };
        if (/\binsert\s+into\s+[\w."]+\s*$/i.test(before)) {
          return { pieces: [{ t: 'text', s: '(' }, id, { t: 'text', s: ') VALUES (' }, { t: 'param' }, { t: 'text', s: ')' }], isString: true, forced: [], tags: [] };
        }
        if (/\bset\s*$/i.test(before)) return { pieces: [id, { t: 'text', s: ' = ' }, { t: 'param' }], isString: true, forced: [], tags: [] };
        if (/\bin\s*$/i.test(before)) return { pieces: [{ t: 'text', s: '(' }, { t: 'param' }, { t: 'text', s: ')' }], isString: true, forced: [], tags: [] };
        return { pieces: [id], isString: true, forced: [], tags: [] };
      }
      if (onTag && (name === 'identifier' || name === 'ident')) return { pieces: [{ t: 'ident' }], isString: true, forced: [], tags: [] };
    }
    return param;
  }
}

function text(s: string): Rec {
  return { pieces: [{ t: 'text', s }], isString: true, forced: [], tags: [] };
}

function dynOf(node: ts.Node, sf: ts.SourceFile): Rec {
  return { pieces: [{ t: 'dyn', src: compact(node.getText(sf)) }], isString: true, forced: [], tags: [] };
}

function append(out: Rec, r: Rec): void {
  if (out.pieces.length + r.pieces.length > MAX_PIECES) {
    out.pieces.push({ t: 'dyn', src: '…' });
    return;
  }
  for (const p of r.pieces) out.pieces.push(p);
  out.forced.push(...r.forced);
  out.tags.push(...r.tags);
}

function hasDyn(r: Rec): boolean {
  return r.pieces.some((p) => p.t === 'dyn');
}

function hasOnlyDyn(r: Rec): boolean {
  return r.pieces.length > 0 && r.pieces.every((p) => p.t === 'dyn');
}

function literalText(lit: ts.TemplateLiteralLikeNode, raw: boolean): string {
  return raw && lit.rawText !== undefined ? lit.rawText : lit.text;
}

function isTrim(name: string): boolean {
  return name === 'trim' || name === 'trimStart' || name === 'trimEnd';
}

/** The right-hand side appended by `x += e` or `x = x + e`; undefined for any other assignment. */
function appendedExpression(a: ts.BinaryExpression, name: string): ts.Expression | undefined {
  if (a.operatorToken.kind === ts.SyntaxKind.PlusEqualsToken) return a.right;
  if (a.operatorToken.kind === ts.SyntaxKind.EqualsToken) {
    const r = skipParens(a.right);
    if (ts.isBinaryExpression(r) && r.operatorToken.kind === ts.SyntaxKind.PlusToken) {
      const l = skipParens(r.left);
      if (ts.isIdentifier(l) && l.text === name) return r.right;
    }
  }
  return undefined;
}

function objectLiteralOf(e: ts.Expression): ts.Expression | undefined {
  // Object.freeze({ ... })
  if (ts.isCallExpression(e) && ts.isPropertyAccessExpression(e.expression) && e.expression.name.text === 'freeze' && e.arguments[0]) {
    return skipParens(e.arguments[0]);
  }
  return e;
}

export function propertyNameText(name: ts.PropertyName): string | undefined {
  if (ts.isIdentifier(name) || ts.isStringLiteral(name) || ts.isNumericLiteral(name) || ts.isPrivateIdentifier(name)) return name.text;
  if (ts.isComputedPropertyName(name) && ts.isStringLiteralLike(name.expression)) return name.expression.text;
  return undefined;
}

/** `a` for `a.b.c`, `a.b(x).c`, `a?.b`; undefined for `this.x` and other roots. */
export function rootIdentifier(node: ts.Expression): string | undefined {
  let e = skipParens(node);
  for (let k = 0; k < 200; k++) {
    if (ts.isPropertyAccessExpression(e) || ts.isElementAccessExpression(e) || ts.isCallExpression(e) || ts.isTaggedTemplateExpression(e)) {
      e = skipParens(ts.isTaggedTemplateExpression(e) ? e.tag : e.expression);
    } else {
      break;
    }
  }
  return ts.isIdentifier(e) ? e.text : undefined;
}

/** Source text on one line, whitespace collapsed. */
export function compact(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}
