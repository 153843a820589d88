/**
 * Every comment of a file. The parser already knows where string literals, template
 * literal parts, regular expressions and JSX text are (the only places where `//` or
 * `/*` are not comments); the text between them is scanned for comment markers.
 */
import type * as ts from 'typescript';
import type { SourceComment } from '../../types';
import { lspLineStart, lspPosition } from './lines';

export interface Span {
  start: number;
  end: number;
}

/**
 * `skip` holds the spans of literal tokens (in any order, possibly nested or overlapping
 * a little after syntax errors); comments are looked for everywhere else.
 */
export function collectComments(text: string, sourceFile: ts.SourceFile, skip: Span[]): SourceComment[] {
  const comments: SourceComment[] = [];
  skip.sort((a, b) => a.start - b.start);
  const n = text.length;
  let s = 0; // next skip span
  let i = 0;
  // A `#!` line is not code and not a comment.
  if (text.startsWith('#!')) {
    const eol = text.indexOf('\n');
    i = eol < 0 ? n : eol;
  }
  let lastCodeEnd = -1; // offset just after the last code character seen
  const lineOf = (pos: number): number => lspPosition(sourceFile, pos).line;
  while (i < n) {
    while (s < skip.length && skip[s].end <= i) s++;
    if (s < skip.length && skip[s].start <= i) {
      // inside a literal: it counts as code
      i = Math.max(skip[s].end, i + 1);
      lastCodeEnd = i;
      continue;
    }
    const c = text.charCodeAt(i);
    if (c === 47 /* / */) {
      const next = text.charCodeAt(i + 1);
      if (next === 47 || next === 42) {
        const block = next === 42;
        let end: number;
        if (block) {
          const close = text.indexOf('*/', i + 2);
          end = close < 0 ? n : close + 2;
        } else {
          end = i;
          while (end < n && text[end] !== '\n' && text[end] !== '\r' && text[end] !== '\u2028' && text[end] !== '\u2029') end++;
        }
        const line = lineOf(i);
        const endLine = block ? lineOf(Math.max(i, end - 1)) : line;
        let trailing = lastCodeEnd > 0 && lineOf(lastCodeEnd - 1) === line;
        // `{/* ... */}` on its own line in JSX: the brace only wraps the comment
        if (trailing && /^\s*\{\s*$/.test(text.slice(lspLineStart(sourceFile, line), i))) trailing = false;
        comments.push({
          line,
          endLine,
          text: block ? blockText(text.slice(i + 2, text.endsWith('*/', end) && end - 2 >= i + 2 ? end - 2 : end)) : text.slice(i + 2, end).trim(),
          trailing,
        });
        i = end;
        continue;
      }
    }
    if (c !== 32 && c !== 9 && c !== 10 && c !== 13 && c !== 0xfeff) lastCodeEnd = i + 1;
    i++;
  }
  return comments;
}

/** A block comment's text: `*` gutters of JSDoc-style lines removed, trimmed. */
function blockText(body: string): string {
  const lines = body.split(/\r?\n/);
  if (lines.length === 1) return body.replace(/^\*+/, '').trim();
  return lines
    .map((l, k) => (k === 0 ? l.replace(/^\*+/, '') : l.replace(/^\s*\*(?!\/)/, '')).trim())
    .filter((l, k, all) => l.length > 0 || (k > 0 && k < all.length - 1))
    .join('\n')
    .trim();
}
