/**
 * Shared pieces of the reliability tier (test/reliability/): the corpus (every fixture and
 * example source file), the parse checks (TypeScript parser diagnostics, tree-sitter-python
 * through the engine's loader), the "range lies inside its document" invariant, run counts
 * from the environment, and one line of counts per test.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ts from 'typescript';
import { initEngine, languageOf } from '../../server/src/engine/analyze';
import { parseSafely } from '../../server/src/engine/detect/python/parser';
import type { DetectOptions, Finding, Range } from '../../server/src/engine/types';

/** The repository root (this file runs from out/test/reliability/). */
export const ROOT = path.join(__dirname, '..', '..', '..');

export const DETECT: DetectOptions = {
  defaultDialect: 'postgresql',
  wrappers: [{ callee: 'DB.query', sqlArgument: 0 }],
  sessionFactories: ['get_session'],
};

/** A positive integer from the environment, else the CI default. */
export function envInt(name: string, ciDefault: number): number {
  const v = Number(process.env[name]);
  return Number.isInteger(v) && v > 0 ? v : ciDefault;
}

/** One line of counts for the log (every test in this tier prints what it tried). */
export function report(what: string, counts: Record<string, number | string>): void {
  console.log(`      [reliability] ${what}: ${Object.entries(counts).map(([k, v]) => `${k}=${v}`).join(', ')}`);
}

export interface CorpusFile {
  /** Relative to the repository root, forward slashes. */
  rel: string;
  text: string;
}

/** Every analysable source file under the given folders of the repository. */
export function corpus(folders = ['test/fixtures/detect', 'test/fixtures/rewrite', 'examples']): CorpusFile[] {
  const out: CorpusFile[] = [];
  const walk = (rel: string) => {
    const abs = path.join(ROOT, rel);
    for (const e of fs.readdirSync(abs, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const r = `${rel}/${e.name}`;
      if (e.isDirectory()) walk(r);
      else if (languageOf(e.name)) out.push({ rel: r, text: fs.readFileSync(path.join(ROOT, r), 'utf8') });
    }
  };
  for (const f of folders) walk(f);
  return out;
}

function scriptKind(fileName: string): ts.ScriptKind {
  const ext = path.extname(fileName).toLowerCase();
  return ext === '.tsx' ? ts.ScriptKind.TSX : ext === '.jsx' ? ts.ScriptKind.JSX : /^\.[cm]?js$/.test(ext) ? ts.ScriptKind.JS : ts.ScriptKind.TS;
}

/** The syntax errors of a text in its language: TypeScript's parse diagnostics, or tree-sitter's ERROR / MISSING nodes. */
export function syntaxErrors(text: string, fileName: string): string[] {
  if (languageOf(fileName) === 'python') return pythonErrors(text);
  const sf = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true, scriptKind(fileName));
  const diags = (sf as unknown as { parseDiagnostics?: ts.Diagnostic[] }).parseDiagnostics ?? [];
  return diags.map((d) => `${sf.getLineAndCharacterOfPosition(d.start ?? 0).line + 1}: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`);
}

function pythonErrors(text: string): string[] {
  // CPython ends lines at \r as well; tree-sitter only at \n (the detector maps them the same way).
  const { tree, error } = parseSafely(text.replace(/\r(?!\n)/g, '\n'));
  if (!tree) return [`the parser failed: ${error}`];
  try {
    if (!tree.rootNode.hasError) return [];
    const out: string[] = [];
    const stack = [tree.rootNode];
    while (stack.length && out.length < 5) {
      const n = stack.pop()!;
      if (n.isError || n.isMissing) out.push(`${n.startPosition.row + 1}: ${n.isMissing ? 'missing' : 'error'} ${n.type}`);
      else if (n.hasError) for (const c of n.children) if (c) stack.push(c);
    }
    return out.length ? out : ['syntax error'];
  } finally {
    tree.delete();
  }
}

/** Loads the Python grammar (the parse checks need it). */
export async function ready(): Promise<void> {
  await initEngine();
}

/** The document's lines as an editor (LSP) counts them: \r\n, \r and \n end a line. */
export function lspLines(text: string): string[] {
  return text.split(/\r\n|\r|\n/);
}

/**
 * Why a range does not lie inside the document (undefined when it does): 0 ≤ line < lines,
 * 0 ≤ character ≤ the line's length, start ≤ end.
 */
export function rangeProblem(range: Range, text: string): string | undefined {
  const lines = lspLines(text);
  for (const [name, p] of [['start', range.start], ['end', range.end]] as const) {
    if (!Number.isInteger(p.line) || !Number.isInteger(p.character)) return `${name} is not integral: ${JSON.stringify(p)}`;
    if (p.line < 0 || p.line >= lines.length) return `${name}.line ${p.line} outside 0..${lines.length - 1}`;
    if (p.character < 0 || p.character > lines[p.line].length) return `${name}.character ${p.character} outside 0..${lines[p.line].length} on line ${p.line}`;
  }
  if (range.start.line > range.end.line || (range.start.line === range.end.line && range.start.character > range.end.character)) return `start after end: ${JSON.stringify(range)}`;
  return undefined;
}

export function assertRangesInside(findings: Finding[], text: string, where: string): void {
  for (const f of findings) {
    const p = rangeProblem(f.range, text);
    assert.equal(p, undefined, `${where}: ${f.rule} finding range ${JSON.stringify(f.range)}: ${p}`);
  }
}

export interface Edit {
  range: Range;
  newText: string;
}

function cmp(a: Range['start'], b: Range['start']): number {
  return a.line - b.line || a.character - b.character;
}

/** The first pair of edits that overlap (or replace the same point twice), or undefined. */
export function overlappingPair(edits: Edit[]): [Edit, Edit] | undefined {
  const sorted = [...edits].sort((a, b) => cmp(a.range.start, b.range.start) || cmp(a.range.end, b.range.end));
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1];
    const cur = sorted[i];
    if (cmp(cur.range.start, prev.range.end) < 0) return [prev, cur];
    // Two insertions at the same point have no defined order.
    if (cmp(cur.range.start, prev.range.start) === 0 && cmp(prev.range.start, prev.range.end) === 0 && cmp(cur.range.start, cur.range.end) === 0) return [prev, cur];
  }
  return undefined;
}

/** Offsets where each line starts and ends (before its terminator), with LSP's line breaks (\r\n, \r, \n). */
export function lineOffsets(text: string): { starts: number[]; ends: number[] } {
  const starts = [0];
  const ends: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 13 || c === 10) {
      ends.push(i);
      if (c === 13 && text.charCodeAt(i + 1) === 10) i++;
      starts.push(i + 1);
    }
  }
  ends.push(text.length);
  return { starts, ends };
}

/**
 * Applies LSP edits to a text as an editor does (LSP line breaks); independent of the engine's
 * own applyEdits so a bug there cannot hide a bug in the edits. Fails on overlapping edits and
 * on positions outside the document.
 */
export function applyLspEdits(text: string, edits: Edit[]): string {
  const pair = overlappingPair(edits);
  assert.equal(pair, undefined, `overlapping edits: ${JSON.stringify(pair)}`);
  const { starts, ends } = lineOffsets(text);
  const off = (p: Range['start']) => {
    assert.ok(p.line >= 0 && p.line < starts.length, `edit line ${p.line} outside the document (${starts.length} lines)`);
    assert.ok(p.character >= 0 && starts[p.line] + p.character <= ends[p.line], `edit character ${p.character} beyond line ${p.line} (${ends[p.line] - starts[p.line]} characters)`);
    return starts[p.line] + p.character;
  };
  let out = text;
  for (const e of [...edits].sort((a, b) => cmp(b.range.start, a.range.start) || cmp(b.range.end, a.range.end))) {
    out = out.slice(0, off(e.range.start)) + e.newText + out.slice(off(e.range.end));
  }
  return out;
}

/** Runs fn and fails when it takes longer than `limitMs` (a hang detector, never a speed assertion). */
export function withinBound<T>(what: string, limitMs: number, fn: () => T): T {
  const t0 = Date.now();
  const r = fn();
  const ms = Date.now() - t0;
  assert.ok(ms < limitMs, `${what} took ${ms} ms (hang detector bound ${limitMs} ms)`);
  return r;
}

/** A small deterministic PRNG (mulberry32), for runs that can be replayed from a seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
