/**
 * Positions as editors count them (LSP): a line ends at \r\n, \r or \n, nothing else. The
 * TypeScript compiler's own line map also ends lines at U+2028 and U+2029 (JavaScript line
 * terminators), so a file holding one of those in a string or comment had every finding, keep
 * comment and edit below it placed a line too low. Every line/character the TS detector
 * reports comes from here.
 */
import type * as ts from 'typescript';
import type { Position } from '../../types';

const starts = new WeakMap<ts.SourceFile, number[]>();

/** Offsets at which each line starts (LSP line breaks). */
export function lspLineStarts(text: string): number[] {
  const out = [0];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 13) {
      if (text.charCodeAt(i + 1) === 10) i++;
      out.push(i + 1);
    } else if (c === 10) {
      out.push(i + 1);
    }
  }
  return out;
}

function startsOf(sf: ts.SourceFile): number[] {
  let s = starts.get(sf);
  if (!s) {
    s = lspLineStarts(sf.text);
    starts.set(sf, s);
  }
  return s;
}

/** The LSP position of an offset of the source file's text. */
export function lspPosition(sf: ts.SourceFile, pos: number): Position {
  const s = startsOf(sf);
  let lo = 0;
  let hi = s.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (s[mid] <= pos) lo = mid;
    else hi = mid - 1;
  }
  return { line: lo, character: pos - s[lo] };
}

/** The offset at which an LSP line starts (clamped to the text). */
export function lspLineStart(sf: ts.SourceFile, line: number): number {
  const s = startsOf(sf);
  return s[Math.max(0, Math.min(line, s.length - 1))];
}
