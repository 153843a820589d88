/**
 * Parsing one TypeScript / JavaScript file with the compiler's parser only (no Program,
 * no checker). The parser is recursive descent and overflows the stack on a few hundred
 * levels of nested brackets; when it does, the deepest bracket bodies are blanked out
 * (same length, newlines kept, so every position still matches the original text) and
 * the file is parsed again.
 */
import ts = require('typescript');
import type { Language, Problem } from '../../types';
import { lspPosition } from './lines';

export interface ParsedFile {
  sourceFile: ts.SourceFile;
  /** The text that was parsed: the original, or the original with deep bodies blanked. */
  text: string;
  problems: Problem[];
}

export function languageOf(fileName: string): Language {
  return /\.(c|m)?jsx?$/i.test(fileName) ? 'javascript' : 'typescript';
}

export function scriptKindOf(fileName: string): ts.ScriptKind {
  const lower = fileName.toLowerCase();
  if (lower.endsWith('.tsx')) return ts.ScriptKind.TSX;
  if (lower.endsWith('.jsx')) return ts.ScriptKind.JSX;
  if (/\.(c|m)?js$/.test(lower)) return ts.ScriptKind.JS;
  return ts.ScriptKind.TS;
}

/** Nesting depths tried after the first parse overflowed. */
const FLATTEN_DEPTHS = [150, 40];

export function parseFile(text: string, fileName: string): ParsedFile {
  const kind = scriptKindOf(fileName);
  const problems: Problem[] = [];
  try {
    return { sourceFile: create(fileName, text, kind), text, problems };
  } catch (e) {
    if (!(e instanceof RangeError)) throw e;
  }
  for (const depth of FLATTEN_DEPTHS) {
    const flat = flattenDeepNesting(text, depth);
    if (flat.regions.length === 0) break;
    try {
      const sourceFile = create(fileName, flat.text, kind);
      for (const r of flat.regions.slice(0, 5)) {
        const s = lspPosition(sourceFile, r.start);
        const e = lspPosition(sourceFile, r.end);
        problems.push({
          message: `Brackets nested more than ${depth} deep: the innermost part (lines ${s.line + 1}-${e.line + 1}) was not analysed`,
          range: { start: s, end: e },
        });
      }
      return { sourceFile, text: flat.text, problems };
    } catch (e) {
      if (!(e instanceof RangeError)) throw e;
    }
  }
  // Deep nesting without brackets (`else if` or `?:` chains thousands long): blank the
  // top-level chunks that overflow on their own and keep the rest of the file.
  const chunked = blankOverflowingChunks(text, fileName, kind);
  if (chunked) {
    try {
      const sourceFile = create(fileName, chunked.text, kind);
      for (const r of chunked.regions.slice(0, 5)) {
        const s = lspPosition(sourceFile, r.start);
        const e = lspPosition(sourceFile, r.end);
        problems.push({ message: `Code nested too deeply to parse (lines ${s.line + 1}-${e.line + 1}) was not analysed`, range: { start: s, end: e } });
      }
      return { sourceFile, text: chunked.text, problems };
    } catch (e) {
      if (!(e instanceof RangeError)) throw e;
    }
  }
  // Give up on the structure; an empty file keeps the caller's code paths simple.
  problems.push({ message: 'The file is nested too deeply to be parsed; it was not analysed' });
  return { sourceFile: create(fileName, '', kind), text: '', problems };
}

/**
 * Splits the text into top-level chunks (at line ends where no bracket is open), parses each
 * alone, and blanks those that overflow the stack. Undefined when no chunk overflows alone.
 */
function blankOverflowingChunks(text: string, fileName: string, kind: ts.ScriptKind): Flattened | undefined {
  // Cut points: starts of lines where no bracket is open. Ranges of cut points that overflow
  // are halved until a single chunk is left, which is blanked.
  const cuts = [0, ...topLevelLineStarts(text), text.length];
  const out = text.split('');
  const regions: Array<{ start: number; end: number }> = [];
  const work: Array<[number, number]> = [[0, cuts.length - 1]]; // indexes into cuts
  while (work.length) {
    const [a, b] = work.pop()!;
    if (b <= a) continue;
    try {
      create(fileName, text.slice(cuts[a], cuts[b]), kind);
      continue;
    } catch (e) {
      if (!(e instanceof RangeError)) throw e;
    }
    if (b - a > 1) {
      const mid = (a + b) >> 1;
      work.push([mid, b], [a, mid]);
      continue;
    }
    for (let k = cuts[a]; k < cuts[b]; k++) if (out[k] !== '\n' && out[k] !== '\r') out[k] = ' ';
    regions.push({ start: cuts[a], end: cuts[b] });
  }
  regions.sort((x, y) => x.start - y.start);
  return regions.length ? { text: out.join(''), regions } : undefined;
}

/** Offsets of line starts where the bracket depth is zero. */
function topLevelLineStarts(text: string): number[] {
  const starts: number[] = [];
  flattenDeepNesting(text, Number.MAX_SAFE_INTEGER, (pos, depth) => {
    if (depth === 0) starts.push(pos + 1);
  });
  return starts.filter((p) => p < text.length);
}


function create(fileName: string, text: string, kind: ts.ScriptKind): ts.SourceFile {
  return ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true, kind);
}

interface Flattened {
  text: string;
  regions: Array<{ start: number; end: number }>;
}

/**
 * Blanks the body of every bracket opened deeper than `maxDepth` (its interior becomes `0`
 * and spaces, newlines kept). Strings, template literals, comments and likely regular
 * expressions are skipped by a small lexer; it only has to be good enough to count brackets.
 */
export function flattenDeepNesting(text: string, maxDepth: number, onNewline?: (pos: number, depth: number) => void): Flattened {
  const out = text.split('');
  const regions: Array<{ start: number; end: number }> = [];
  const n = text.length;
  // Each entry is a bracket ('(', '[', '{') or '`' for a template literal body.
  const stack: string[] = [];
  let blankFrom = -1; // index after the opening bracket that went too deep
  let blankDepth = 0; // stack length at which that bracket was opened
  let prevSignificant = '';
  let i = 0;
  const blank = (from: number, to: number): void => {
    let first = true;
    for (let k = from; k < to; k++) {
      if (out[k] === '\n' || out[k] === '\r') continue;
      out[k] = first ? '0' : ' ';
      first = false;
    }
  };
  while (i < n) {
    const top = stack[stack.length - 1];
    const c = text[i];
    if (top === '`') {
      // inside a template literal body
      if (c === '\\') { i += 2; continue; }
      if (c === '`') { stack.pop(); i++; prevSignificant = 'a'; continue; }
      if (c === '$' && text[i + 1] === '{') {
        stack.push('${');
        if (blankFrom < 0 && stack.length > maxDepth) {
          blankFrom = i + 2;
          blankDepth = stack.length;
        }
        i += 2;
        prevSignificant = '(';
        continue;
      }
      i++;
      continue;
    }
    if (c === '/' && text[i + 1] === '/') {
      const eol = text.indexOf('\n', i);
      i = eol < 0 ? n : eol;
      continue;
    }
    if (c === '/' && text[i + 1] === '*') {
      const close = text.indexOf('*/', i + 2);
      i = close < 0 ? n : close + 2;
      continue;
    }
    if (c === '"' || c === "'") {
      let j = i + 1;
      while (j < n && text[j] !== c && text[j] !== '\n') j += text[j] === '\\' ? 2 : 1;
      i = j + 1;
      prevSignificant = 'a';
      continue;
    }
    if (c === '`') {
      stack.push('`');
      i++;
      continue;
    }
    if (c === '/' && (prevSignificant === '' || '(,=:[!&|?{};+-*%<>~^'.includes(prevSignificant))) {
      // a regular expression literal
      let j = i + 1;
      let inClass = false;
      while (j < n && text[j] !== '\n') {
        const d = text[j];
        if (d === '\\') { j += 2; continue; }
        if (d === '[') inClass = true;
        else if (d === ']') inClass = false;
        else if (d === '/' && !inClass) break;
        j++;
      }
      i = j + 1;
      prevSignificant = 'a';
      continue;
    }
    if (c === '(' || c === '[' || c === '{') {
      stack.push(c);
      if (blankFrom < 0 && stack.length > maxDepth) {
        blankFrom = i + 1;
        blankDepth = stack.length;
      }
      prevSignificant = c;
      i++;
      continue;
    }
    if (c === ')' || c === ']' || c === '}') {
      if (stack.length === blankDepth && blankFrom >= 0) {
        if (text.slice(blankFrom, i).trim()) {
          blank(blankFrom, i);
          regions.push({ start: blankFrom, end: i });
        }
        blankFrom = -1;
        blankDepth = 0;
      }
      stack.pop(); // a `${` closes back into its template body, which is still on the stack
      prevSignificant = c;
      i++;
      continue;
    }
    if (c === '\n' && onNewline) onNewline(i, stack.length);
    if (c !== ' ' && c !== '\t' && c !== '\n' && c !== '\r') prevSignificant = /[A-Za-z0-9_$]/.test(c) ? 'a' : c;
    i++;
  }
  if (blankFrom >= 0) {
    blank(blankFrom, n);
    regions.push({ start: blankFrom, end: n });
  }
  return { text: out.join(''), regions };
}
