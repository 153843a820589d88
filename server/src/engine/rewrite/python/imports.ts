/**
 * The `from sqlalchemy import select, func, delete, update` a rewrite needs: which names the
 * file already imports from SQLAlchemy, which it binds to something else (then no rewrite), and
 * the edit that adds the missing ones — merged into an existing top-level
 * `from sqlalchemy import …`, or a new line after the module's leading imports.
 */
import type { Node, Tree } from 'web-tree-sitter';
import type { TextEdit } from '../callsite';
import { renderImportLine, type SqlalchemyTemplates } from './render';

export const NAME_ORDER = ['select', 'func', 'delete', 'update'];

interface NameUse {
  /** Imported from a `sqlalchemy` module under its own name, at module level (visible everywhere). */
  imported: boolean;
  /** Imported from a `sqlalchemy` module inside a function or block only. */
  importedLocally: boolean;
  /** Bound to something else somewhere in the file (definition, parameter, assignment, other import). */
  boundElsewhere: boolean;
  /** Read somewhere. */
  used: boolean;
}

const BINDING_PARENTS = new Set(['parameters', 'lambda_parameters', 'default_parameter', 'typed_parameter', 'typed_default_parameter', 'list_splat_pattern', 'dictionary_splat_pattern', 'as_pattern_target', 'global_statement', 'nonlocal_statement']);

/** The identifiers binding `name` inside `scope` (parameters, assignments, for/with/except targets, defs, imports). */
export function bindingsOf(scope: Node, name: string): Node[] {
  const out: Node[] = [];
  const stack: Node[] = [scope];
  while (stack.length) {
    const n = stack.pop()!;
    if (n.type === 'identifier') {
      if (n.text === name && (isBinding(n) || n.parent?.type === 'aliased_import' || (n.parent?.type === 'dotted_name' && n.parent.parent?.type?.startsWith('import')))) out.push(n);
      continue;
    }
    for (let i = n.namedChildCount - 1; i >= 0; i--) {
      const c = n.namedChild(i);
      if (c) stack.push(c);
    }
  }
  return out;
}

export function isBinding(id: Node): boolean {
  const p = id.parent;
  if (!p) return false;
  if ((p.type === 'function_definition' || p.type === 'class_definition') && p.childForFieldName('name')?.id === id.id) return true;
  if (BINDING_PARENTS.has(p.type)) {
    if (p.type === 'default_parameter' || p.type === 'typed_default_parameter') return p.childForFieldName('name')?.id === id.id;
    return true;
  }
  if (p.type === 'named_expression' && p.childForFieldName('name')?.id === id.id) return true;
  // The left side of an assignment / for / with-as, through tuples and lists only.
  let child: Node = id;
  let cur: Node | null = p;
  while (cur && ['pattern_list', 'tuple_pattern', 'list_pattern', 'tuple', 'list', 'parenthesized_expression', 'as_pattern_target'].includes(cur.type)) {
    child = cur;
    cur = cur.parent;
  }
  if (!cur) return false;
  if (['assignment', 'augmented_assignment', 'for_statement', 'for_in_clause'].includes(cur.type)) return cur.childForFieldName('left')?.id === child.id;
  if (cur.type === 'as_pattern') return cur.childForFieldName('alias')?.id === child.id;
  if (cur.type === 'except_clause') return child.id !== cur.namedChild(0)?.id;
  return false;
}

function importModule(n: Node): string | undefined {
  return n.childForFieldName('module_name')?.text;
}

/** How the file uses each of `names`. */
export function nameUses(tree: Tree, names: string[]): Map<string, NameUse> {
  const out = new Map<string, NameUse>(names.map((n) => [n, { imported: false, importedLocally: false, boundElsewhere: false, used: false }]));
  const stack: Node[] = [tree.rootNode];
  while (stack.length) {
    const n = stack.pop()!;
    if (n.type === 'import_from_statement') {
      const mod = importModule(n) ?? '';
      const fromSa = mod === 'sqlalchemy' || mod.startsWith('sqlalchemy.');
      // Only a module-level import makes the name visible in every function.
      const topLevel = n.parent?.id === tree.rootNode.id;
      const mark = (u: NameUse) => {
        if (topLevel) u.imported = true;
        else u.importedLocally = true;
      };
      for (const c of n.namedChildren) {
        if (!c || c.id === n.childForFieldName('module_name')?.id) continue;
        if (c.type === 'dotted_name' && out.has(c.text)) {
          if (fromSa) mark(out.get(c.text)!);
          else out.get(c.text)!.boundElsewhere = true;
        } else if (c.type === 'aliased_import') {
          const alias = c.childForFieldName('alias')?.text ?? '';
          if (out.has(alias)) {
            if (fromSa && c.childForFieldName('name')?.text === alias) mark(out.get(alias)!);
            else out.get(alias)!.boundElsewhere = true;
          }
        } else if (c.type === 'wildcard_import') {
          for (const u of out.values()) if (!fromSa) u.boundElsewhere = true;
        }
      }
      continue;
    }
    if (n.type === 'import_statement') {
      for (const c of n.namedChildren) {
        if (!c) continue;
        const local = c.type === 'aliased_import' ? c.childForFieldName('alias')?.text : c.text.split('.')[0];
        if (local && out.has(local)) out.get(local)!.boundElsewhere = true;
      }
      continue;
    }
    if (n.type === 'identifier' && out.has(n.text)) {
      const p = n.parent;
      const isAttrName = p?.type === 'attribute' && p.childForFieldName('attribute')?.id === n.id;
      const isKeyword = p?.type === 'keyword_argument' && p.childForFieldName('name')?.id === n.id;
      if (!isAttrName && !isKeyword) {
        if (isBinding(n)) out.get(n.text)!.boundElsewhere = true;
        else out.get(n.text)!.used = true;
      }
      continue;
    }
    for (let i = n.namedChildCount - 1; i >= 0; i--) {
      const c = n.namedChild(i);
      if (c) stack.push(c);
    }
  }
  return out;
}

function pos(p: { row: number; column: number }) {
  return { line: p.row, character: p.column };
}

/**
 * The import edit for `names` (undefined when nothing is missing), or why the names cannot be
 * used in this file.
 */
export function importEdit(tree: Tree, names: string[], templates?: SqlalchemyTemplates): { edit?: TextEdit } | { reason: string } {
  if (!names.length) return {};
  const uses = nameUses(tree, names);
  const missing: string[] = [];
  for (const name of NAME_ORDER.filter((n) => names.includes(n))) {
    const u = uses.get(name)!;
    if (u.boundElsewhere) return { reason: `\`${name}\` already names something else in this file; the rewrite needs SQLAlchemy's \`${name}\`` };
    if (u.imported) continue;
    if (u.used && !u.importedLocally) return { reason: `\`${name}\` is used in this file but not imported from sqlalchemy` };
    missing.push(name);
  }
  if (!missing.length) return {};
  const root = tree.rootNode;
  let mergeInto: Node | undefined;
  let lastImport: Node | undefined;
  /** The first leading `from sqlalchemy.<sub> import …`: the new line goes just before it (sorted). */
  let beforeSub: Node | undefined;
  let docstring: Node | undefined;
  let leading = true;
  for (let i = 0; i < root.namedChildCount; i++) {
    const st = root.namedChild(i);
    if (!st) continue;
    if (!leading) break;
    if (st.type === 'import_from_statement' && importModule(st) === 'sqlalchemy' && !st.namedChildren.some((c) => c?.type === 'wildcard_import') && !mergeInto) mergeInto = st;
    if (st.type === 'comment') continue;
    if (i === 0 && st.type === 'expression_statement' && st.namedChild(0)?.type === 'string') {
      docstring = st;
      continue;
    }
    if (st.type === 'import_statement' || st.type === 'import_from_statement' || st.type === 'future_import_statement') {
      if (!beforeSub && st.type === 'import_from_statement' && (importModule(st) ?? '').startsWith('sqlalchemy.')) beforeSub = st;
      lastImport = st;
      continue;
    }
    leading = false;
  }
  if (mergeInto) {
    const items = mergeInto.namedChildren.filter((c): c is Node => !!c && c.id !== mergeInto!.childForFieldName('module_name')?.id && (c.type === 'dotted_name' || c.type === 'aliased_import'));
    const last = items[items.length - 1];
    if (last && last.startPosition.row !== mergeInto.startPosition.row) {
      // One name per line, as the parenthesised list is written (keeping its trailing comma style).
      const lineStart = last.startIndex - last.startPosition.column;
      const indent = /^[ \t]*/.exec(tree.rootNode.text.slice(lineStart, last.startIndex))![0];
      const comma = last.nextSibling?.type === ',' ? last.nextSibling : null;
      const at = comma ?? last;
      const text = comma ? missing.map((m) => `\n${indent}${m},`).join('') : missing.map((m) => `,\n${indent}${m}`).join('');
      return { edit: { range: { start: pos(at.endPosition), end: pos(at.endPosition) }, newText: text } };
    }
    if (last) return { edit: { range: { start: pos(last.endPosition), end: pos(last.endPosition) }, newText: missing.map((m) => `, ${m}`).join('') } };
  }
  const line = renderImportLine(missing, templates);
  if (beforeSub) return { edit: { range: { start: pos(beforeSub.startPosition), end: pos(beforeSub.startPosition) }, newText: `${line}\n` } };
  const after = lastImport ?? docstring;
  if (after) {
    const end = statementLineEnd(after);
    return { edit: { range: { start: pos(end), end: pos(end) }, newText: `\n${lastImport ? '' : '\n'}${line}` } };
  }
  return { edit: { range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, newText: `${line}\n${root.namedChildCount ? '\n' : ''}` } };
}

/**
 * Where a line inserted after a top-level statement goes: after its trailing comment on the same
 * line, if any (`import x  # noqa: F401` keeps its comment).
 */
export function statementLineEnd(st: Node): Node['endPosition'] {
  const next = st.nextSibling;
  return next && next.type === 'comment' && next.startPosition.row === st.endPosition.row ? next.endPosition : st.endPosition;
}
