/**
 * One iterative pass over a Python syntax tree that collects what the rules need: scopes
 * (module, classes, functions, lambdas), name bindings, imports, calls with their context,
 * comments and syntax errors. Nothing here decides what a finding is.
 *
 * The walk uses a TreeCursor and an explicit depth counter: inputs may nest 20,000 levels deep
 * or hold millions of nodes on one line, so there is no recursion and a Node object is only
 * created for the node types listed in INTERESTING.
 */
import type { Language, Node, Tree } from 'web-tree-sitter';
import type { SourceComment } from '../../types';

export type ScopeKind = 'module' | 'class' | 'function' | 'lambda';

export interface Scope {
  id: number;
  kind: ScopeKind;
  /** Function or class name; '' for the module and lambdas. */
  name: string;
  isAsync: boolean;
  parent?: Scope;
  node?: Node;
  start: number;
  end: number;
  /** Bindings by the name as written: `sql`, `self.conn`. In source order. */
  bindings: Map<string, Binding[]>;
  /** Parameters with their annotation (null when unannotated). */
  params: Map<string, Node | null>;
  /** For classes: attributes set in the class body or as `self.x = ...` in its methods. */
  attrs?: Map<string, Binding[]>;
  /** For classes: superclass texts. */
  bases?: string[];
}

/** A control-flow construct between a scope and a statement: makes a statement conditional. */
export interface Control {
  id: number;
  /** `if` (the if statement itself: its consequence block), `branch` (elif/else of an if), `loop`, `other`. */
  kind: 'if' | 'branch' | 'loop' | 'other';
  /** For `branch`: the if statement it belongs to. */
  ifId?: number;
}

export interface Binding {
  name: string;
  /** The bound value; null when unknown (loop variable, tuple unpacking, ...). */
  value: Node | null;
  kind: 'assign' | 'aug' | 'with' | 'for';
  /** For `with`: bound by `async with`. */
  asyncWith?: boolean;
  /** The statement (for dynamic parts of conditional appends). */
  statement: Node;
  start: number;
  controls: Control[];
}

export interface ImportInfo {
  /** Local name → dotted module it stands for (`sa` → `sqlalchemy`, `pd` → `pandas`). */
  modules: Map<string, string>;
  /** Local name → `module.symbol` (`text` → `sqlalchemy.text`, `connect` → `sqlite3.connect`). */
  symbols: Map<string, string>;
  /** Root module names imported, in order of appearance. */
  roots: string[];
}

export interface CallSite {
  node: Node;
  scope: Scope;
  /** The direct parent is `await` (possibly through parentheses). */
  awaited: boolean;
  /** The call is the object of an attribute that is itself called: `x.query(A)` in `x.query(A).all()`. */
  chainInner: boolean;
  /** Inside a `raise` or `assert` statement. */
  inRaise: boolean;
  /** Inside the items of a `with` statement; `async` for `async with`. */
  withItem: 'sync' | 'async' | null;
  /** Inside a syntax error region. */
  inError: boolean;
}

export interface SyntaxIssue {
  node: Node;
  missing: boolean;
}

export interface FileModel {
  text: string;
  module: Scope;
  scopes: Scope[];
  classes: Map<string, Scope>;
  calls: CallSite[];
  imports: ImportInfo;
  comments: SourceComment[];
  syntax: SyntaxIssue[];
  syntaxCount: number;
}

type Handler =
  | 'comment' | 'error' | 'import' | 'function' | 'lambda' | 'class' | 'assignment' | 'augmented'
  | 'with' | 'with_clause' | 'with_item' | 'for' | 'loop' | 'if' | 'branch' | 'other_control'
  | 'raise' | 'call';

const INTERESTING: Record<string, Handler> = {
  comment: 'comment',
  ERROR: 'error',
  import_statement: 'import',
  import_from_statement: 'import',
  function_definition: 'function',
  lambda: 'lambda',
  class_definition: 'class',
  assignment: 'assignment',
  augmented_assignment: 'augmented',
  with_statement: 'with',
  with_clause: 'with_clause',
  with_item: 'with_item',
  for_statement: 'for',
  while_statement: 'loop',
  if_statement: 'if',
  elif_clause: 'branch',
  else_clause: 'branch',
  except_clause: 'other_control',
  case_clause: 'other_control',
  raise_statement: 'raise',
  assert_statement: 'raise',
  call: 'call',
};

/** tree-sitter's id for ERROR nodes (`ts_builtin_sym_error`), outside the language's type table. */
const ERROR_TYPE_ID = 0xffff;

const MAX_SYNTAX_ISSUES = 5;
/** Longer binding targets (`a.b.c...` chains in hostile input) are not tracked. */
const MAX_NAME = 200;

/** Handlers indexed by node type id, built once per language. */
const tableCache = new WeakMap<Language, { handlers: (Handler | undefined)[]; ids: Record<string, Set<number>>; leaves: boolean[] }>();

/** Node types with nothing of interest below them: the walk does not descend (saves wasm calls). */
const LEAVES = new Set(['identifier', 'integer', 'float', 'true', 'false', 'none', 'ellipsis', 'string_start', 'string_end', 'string_content', 'escape_sequence', 'escape_interpolation', 'type_conversion', 'comment', 'keyword_identifier']);

function tablesFor(language: Language) {
  let t = tableCache.get(language);
  if (!t) {
    const handlers: (Handler | undefined)[] = [];
    const ids: Record<string, Set<number>> = {};
    const leaves: boolean[] = [];
    for (let i = 0; i < language.nodeTypeCount; i++) {
      const name = language.nodeTypeForId(i);
      if (!name) continue;
      // Anonymous tokens share names with named nodes (`await`, `lambda`): only named ones count.
      if (!language.nodeTypeIsNamed(i)) {
        leaves[i] = true;
        continue;
      }
      handlers[i] = INTERESTING[name];
      leaves[i] = LEAVES.has(name);
      (ids[name] ??= new Set()).add(i);
    }
    t = { handlers, ids, leaves };
    tableCache.set(language, t);
  }
  return t;
}

interface StackEntry<T> {
  depth: number;
  value: T;
}

function popTo<T>(stack: StackEntry<T>[], depth: number): void {
  while (stack.length && stack[stack.length - 1].depth >= depth) stack.pop();
}

function top<T>(stack: StackEntry<T>[]): T | undefined {
  return stack.length ? stack[stack.length - 1].value : undefined;
}

export function buildModel(tree: Tree, language: Language, text: string): FileModel {
  const { handlers, ids, leaves } = tablesFor(language);
  const is = (typeId: number | undefined, name: string) => typeId !== undefined && !!ids[name]?.has(typeId);

  let scopeId = 0;
  const root = tree.rootNode;
  const module: Scope = {
    id: scopeId++, kind: 'module', name: '', isAsync: false, start: 0, end: text.length,
    bindings: new Map(), params: new Map(),
  };
  const model: FileModel = {
    text, module, scopes: [module], classes: new Map(), calls: [],
    imports: { modules: new Map(), symbols: new Map(), roots: [] },
    comments: [], syntax: [], syntaxCount: 0,
  };

  const scopes: StackEntry<Scope>[] = [{ depth: -1, value: module }];
  const controls: StackEntry<Control>[] = [];
  const raises: StackEntry<true>[] = [];
  const errors: StackEntry<true>[] = [];
  const withs: StackEntry<'sync' | 'async'>[] = [];
  const withClauses: StackEntry<'sync' | 'async'>[] = [];
  let controlId = 0;
  const pathType: number[] = [];
  const hasError = root.hasError;
  let lineStarts: number[] | undefined;

  const cursor = tree.walk();
  let depth = 0;
  try {
    for (;;) {
      const typeId = cursor.nodeTypeId;
      pathType[depth] = typeId;
      popTo(scopes, depth);
      popTo(controls, depth);
      popTo(raises, depth);
      popTo(errors, depth);
      popTo(withs, depth);
      popTo(withClauses, depth);
      const handler = typeId === ERROR_TYPE_ID ? 'error' : handlers[typeId];
      const scope = top(scopes)!;
      if (handler) {
        switch (handler) {
          case 'comment': {
            const node = cursor.currentNode;
            lineStarts ??= lineStartsOf(text);
            model.comments.push(commentOf(node, text, lineStarts));
            break;
          }
          case 'error': {
            model.syntaxCount++;
            if (!errors.length && model.syntax.length < MAX_SYNTAX_ISSUES) model.syntax.push({ node: cursor.currentNode, missing: false });
            errors.push({ depth, value: true });
            break;
          }
          case 'import':
            addImport(cursor.currentNode, model.imports);
            break;
          case 'function':
          case 'lambda':
          case 'class': {
            const node = cursor.currentNode;
            const s = newScope(node, handler, scope, scopeId++);
            model.scopes.push(s);
            if (handler === 'class' && s.name && scope.kind === 'module') model.classes.set(s.name, s);
            scopes.push({ depth, value: s });
            break;
          }
          case 'assignment': {
            // `a = b = x`: the outer assignment binds `a` to the inner's final value; the inner binds `b` when visited.
            const node = cursor.currentNode;
            addAssignment(node, scope, controlsOf(controls));
            break;
          }
          case 'augmented': {
            const node = cursor.currentNode;
            const left = node.childForFieldName('left');
            const op = node.childForFieldName('operator')?.type ?? node.child(1)?.type;
            if (left && (left.type === 'identifier' || left.type === 'attribute') && op === '+=' && left.endIndex - left.startIndex <= MAX_NAME) {
              addBinding(scope, { name: left.text, value: node.childForFieldName('right'), kind: 'aug', statement: node, start: node.startIndex, controls: controlsOf(controls) });
            }
            break;
          }
          case 'with': {
            const node = cursor.currentNode;
            withs.push({ depth, value: node.child(0)?.type === 'async' ? 'async' : 'sync' });
            break;
          }
          case 'with_clause':
            withClauses.push({ depth, value: top(withs) ?? 'sync' });
            break;
          case 'with_item': {
            const node = cursor.currentNode;
            const value = node.childForFieldName('value');
            if (value?.type === 'as_pattern') {
              const target = value.childForFieldName('alias')?.firstNamedChild;
              const expr = value.firstNamedChild;
              if (target && (target.type === 'identifier' || target.type === 'attribute') && expr && target.endIndex - target.startIndex <= MAX_NAME) {
                addBinding(scope, {
                  name: target.text, value: expr, kind: 'with', asyncWith: top(withs) === 'async',
                  statement: node, start: node.startIndex, controls: controlsOf(controls),
                });
              }
            }
            break;
          }
          case 'for': {
            const node = cursor.currentNode;
            const left = node.childForFieldName('left');
            if (left) for (const name of targetNames(left)) addBinding(scope, { name, value: null, kind: 'for', statement: node, start: node.startIndex, controls: controlsOf(controls) });
            controls.push({ depth, value: { id: controlId++, kind: 'loop' } });
            break;
          }
          case 'loop':
            controls.push({ depth, value: { id: controlId++, kind: 'loop' } });
            break;
          case 'if':
            controls.push({ depth, value: { id: controlId++, kind: 'if' } });
            break;
          case 'branch': {
            const parent = top(controls);
            if (parent && parent.kind === 'if' && is(pathType[depth - 1], 'if_statement')) {
              controls.push({ depth, value: { id: controlId++, kind: 'branch', ifId: parent.id } });
            } else {
              controls.push({ depth, value: { id: controlId++, kind: 'other' } });
            }
            break;
          }
          case 'other_control':
            controls.push({ depth, value: { id: controlId++, kind: 'other' } });
            break;
          case 'raise':
            raises.push({ depth, value: true });
            break;
          case 'call': {
            const parent = pathType[depth - 1];
            const awaited = is(parent, 'await') || (is(parent, 'parenthesized_expression') && is(pathType[depth - 2], 'await'));
            model.calls.push({
              node: cursor.currentNode,
              scope,
              awaited,
              chainInner: is(parent, 'attribute') && is(pathType[depth - 2], 'call'),
              inRaise: raises.length > 0,
              withItem: top(withClauses) ?? null,
              inError: errors.length > 0,
            });
            break;
          }
          default:
            break;
        }
      }
      if (!leaves[typeId] && cursor.gotoFirstChild()) {
        depth++;
        continue;
      }
      if (hasError && cursor.nodeIsMissing) {
        model.syntaxCount++;
        if (model.syntax.length < MAX_SYNTAX_ISSUES) model.syntax.push({ node: cursor.currentNode, missing: true });
      }
      let done = false;
      for (;;) {
        if (cursor.gotoNextSibling()) break;
        if (!cursor.gotoParent()) {
          done = true;
          break;
        }
        depth--;
      }
      if (done) break;
    }
  } finally {
    cursor.delete();
  }
  return model;
}

function controlsOf(stack: StackEntry<Control>[]): Control[] {
  return stack.map((e) => e.value);
}

function newScope(node: Node, handler: 'function' | 'lambda' | 'class', parent: Scope, id: number): Scope {
  const s: Scope = {
    id,
    kind: handler === 'class' ? 'class' : handler,
    name: handler === 'lambda' ? '' : node.childForFieldName('name')?.text ?? '',
    isAsync: handler === 'function' && node.child(0)?.type === 'async',
    parent,
    node,
    start: node.startIndex,
    end: node.endIndex,
    bindings: new Map(),
    params: new Map(),
  };
  if (handler === 'class') {
    s.attrs = new Map();
    const bases = node.childForFieldName('superclasses');
    s.bases = bases ? bases.namedChildren.filter((c): c is Node => !!c && c.type !== 'keyword_argument').map((c) => (c.endIndex - c.startIndex <= MAX_NAME ? c.text : '')) : [];
  } else {
    const params = node.childForFieldName('parameters');
    if (params) {
      for (const p of params.namedChildren) {
        if (!p) continue;
        let name: Node | null = null;
        let annotation: Node | null = null;
        switch (p.type) {
          case 'identifier':
            name = p;
            break;
          case 'typed_parameter':
            name = p.namedChildren.find((c) => c?.type === 'identifier') ?? null;
            annotation = p.childForFieldName('type');
            break;
          case 'default_parameter':
            name = p.childForFieldName('name');
            break;
          case 'typed_default_parameter':
            name = p.childForFieldName('name');
            annotation = p.childForFieldName('type');
            break;
          case 'list_splat_pattern':
          case 'dictionary_splat_pattern':
            name = p.namedChildren.find((c) => c?.type === 'identifier') ?? null;
            break;
          default:
            break;
        }
        if (name && name.type === 'identifier') s.params.set(name.text, annotation);
      }
    }
  }
  return s;
}

function addBinding(scope: Scope, b: Binding): void {
  let list = scope.bindings.get(b.name);
  if (!list) scope.bindings.set(b.name, (list = []));
  list.push(b);
  // `self.sql = ...` in a method: an attribute of the class that holds the method.
  if (scope.kind === 'function' && scope.parent?.kind === 'class' && /^self\.[A-Za-z_]\w*$/.test(b.name)) {
    const attr = b.name.slice(5);
    const attrs = scope.parent.attrs!;
    let al = attrs.get(attr);
    if (!al) attrs.set(attr, (al = []));
    al.push(b);
  }
  if (scope.kind === 'class' && /^[A-Za-z_]\w*$/.test(b.name)) {
    const attrs = scope.attrs!;
    let al = attrs.get(b.name);
    if (!al) attrs.set(b.name, (al = []));
    al.push(b);
  }
}

function addAssignment(node: Node, scope: Scope, controls: Control[]): void {
  const left = node.childForFieldName('left');
  let right = node.childForFieldName('right');
  if (!left) return;
  // Chained `a = b = value`: the value is the innermost right-hand side (bounded walk).
  for (let i = 0; right && right.type === 'assignment' && i < 100; i++) right = right.childForFieldName('right');
  if (left.type === 'identifier' || left.type === 'attribute') {
    if (left.endIndex - left.startIndex > MAX_NAME) return;
    const name = left.text;
    // `sql = sql + " AND ..."` is an append, like `sql += ...`.
    if (right && right.type === 'binary_operator' && right.child(1)?.type === '+') {
      const l = right.childForFieldName('left');
      if (l && l.type === left.type && l.text === name) {
        addBinding(scope, { name, value: right.childForFieldName('right'), kind: 'aug', statement: node, start: node.startIndex, controls });
        return;
      }
    }
    addBinding(scope, { name, value: right ?? null, kind: 'assign', statement: node, start: node.startIndex, controls });
    return;
  }
  for (const name of targetNames(left)) addBinding(scope, { name, value: null, kind: 'assign', statement: node, start: node.startIndex, controls });
}

/** Names bound by a target list (`a, (b, c)`), bounded. */
function targetNames(node: Node): string[] {
  const out: string[] = [];
  const stack: Node[] = [node];
  let budget = 200;
  while (stack.length && budget-- > 0) {
    const n = stack.pop()!;
    if (n.type === 'identifier') out.push(n.text);
    else if (n.type === 'pattern_list' || n.type === 'tuple_pattern' || n.type === 'list_pattern' || n.type === 'tuple' || n.type === 'list' || n.type === 'expression_list' || n.type === 'parenthesized_expression' || n.type === 'list_splat_pattern') {
      for (const c of n.namedChildren) if (c) stack.push(c);
    }
  }
  return out;
}

function addImport(node: Node, imports: ImportInfo): void {
  const root = (dotted: string) => dotted.split('.')[0];
  if (node.type === 'import_statement') {
    for (const c of node.childrenForFieldName('name')) {
      if (!c) continue;
      if (c.type === 'dotted_name') {
        const mod = c.text;
        imports.modules.set(root(mod), root(mod));
        imports.modules.set(mod, mod);
        imports.roots.push(root(mod));
      } else if (c.type === 'aliased_import') {
        const mod = c.childForFieldName('name')?.text;
        const alias = c.childForFieldName('alias')?.text;
        if (mod && alias) {
          imports.modules.set(alias, mod);
          imports.roots.push(root(mod));
        }
      }
    }
    return;
  }
  const moduleName = node.childForFieldName('module_name')?.text;
  if (!moduleName || moduleName.startsWith('.')) {
    // Relative imports name project modules: still record symbols for `from .db import get_session`.
    if (!moduleName) return;
  }
  imports.roots.push(root(moduleName.replace(/^\.+/, '')));
  for (const c of node.childrenForFieldName('name')) {
    if (!c) continue;
    if (c.type === 'dotted_name') {
      imports.symbols.set(c.text, `${moduleName}.${c.text}`);
    } else if (c.type === 'aliased_import') {
      const sym = c.childForFieldName('name')?.text;
      const alias = c.childForFieldName('alias')?.text;
      if (sym && alias) imports.symbols.set(alias, `${moduleName}.${sym}`);
    }
  }
}

export function lineStartsOf(text: string): number[] {
  const starts = [0];
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
  return starts;
}

function commentOf(node: Node, text: string, lineStarts: number[]): SourceComment {
  const line = node.startPosition.row;
  const endLine = node.endPosition.row;
  const lineStart = lineStarts[line] ?? 0;
  const before = text.slice(lineStart, node.startIndex);
  return {
    line,
    endLine,
    text: node.text.replace(/^#+/, '').trim(),
    trailing: before.trim().length > 0,
  };
}
