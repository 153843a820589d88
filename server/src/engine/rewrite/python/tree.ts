/**
 * What the Python rewrites (index.ts: SQLAlchemy 2.0; toThread.ts: asyncio.to_thread) share:
 * parsing with the loaded tree-sitter grammar, counting syntax errors, positions, and applying
 * zero-based edits (UTF-16 columns, as tree-sitter and LSP count them).
 */
import type { Node, Tree } from 'web-tree-sitter';
import { loadedPython, parseSafely } from '../../detect/python/parser';
import type { Range } from '../../types';
import type { TextEdit } from '../callsite';

/** The text's tree (the caller deletes it), or why there is none. */
export function parse(text: string): Tree | { reason: string } {
  if (!loadedPython()) return { reason: 'the Python parser is not loaded (initSqlalchemyRewrite() or initToThreadRewrite() first)' };
  const r = parseSafely(text);
  if (!r.tree) return { reason: `the Python parser failed: ${r.error ?? 'no tree'}` };
  return r.tree;
}

/** How many ERROR / MISSING nodes the tree holds (at least 1 when it has an error). */
export function treeErrors(tree: Tree): number {
  if (!tree.rootNode.hasError) return 0;
  let count = 0;
  const stack: Node[] = [tree.rootNode];
  while (stack.length) {
    const n = stack.pop()!;
    if (n.isError || n.isMissing) count++;
    if (!n.hasError) continue;
    for (let i = 0; i < n.childCount; i++) {
      const c = n.child(i);
      if (c) stack.push(c);
    }
  }
  return Math.max(count, 1);
}

export function pos(p: { row: number; column: number }): Range['start'] {
  return { line: p.row, character: p.column };
}

export function samePos(p: { row: number; column: number }, q: Range['start']): boolean {
  return p.row === q.line && p.column === q.character;
}

export function cmp(a: Range['start'], b: Range['start']): number {
  return a.line - b.line || a.character - b.character;
}

export function overlaps(a: Range, b: Range): boolean {
  return cmp(a.start, b.end) < 0 && cmp(b.start, a.end) < 0;
}

/** Applies non-overlapping zero-based edits (UTF-16 columns, as tree-sitter and LSP count them). */
export function applyTextEdits(text: string, edits: TextEdit[]): string {
  const lineStarts = [0];
  for (let i = 0; i < text.length; i++) if (text[i] === '\n') lineStarts.push(i + 1);
  const off = (p: Range['start']) => Math.min((lineStarts[p.line] ?? text.length) + p.character, text.length);
  const sorted = edits.map((e) => ({ s: off(e.range.start), e: off(e.range.end), t: e.newText })).sort((a, b) => b.s - a.s || b.e - a.e);
  let out = text;
  let lastStart = Infinity;
  for (const x of sorted) {
    if (x.e > lastStart) throw new Error('overlapping edits');
    out = out.slice(0, x.s) + x.t + out.slice(x.e);
    lastStart = x.s;
  }
  return out;
}
