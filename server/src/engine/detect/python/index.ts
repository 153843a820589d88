/**
 * The Python detector: raw SQL call sites (sqlite3, psycopg2, psycopg 3, asyncpg, PyMySQL,
 * mysqlclient, SQLAlchemy `text()`, pandas `read_sql`, project wrappers), legacy SQLAlchemy
 * `session.query(...)` chains, session factory usage, and synchronous database calls inside
 * `async def`.
 *
 *   await initPython();                       // once: loads the tree-sitter wasm files
 *   const { findings, comments, problems } = detectPython(source, options);
 *
 * One parse per file, an iterative walk (see model.ts), and no exception escapes `detectPython`
 * for bad input: a failure becomes a `problems` entry and whatever was found so far is kept.
 *
 * Positions: web-tree-sitter parses JavaScript strings as UTF-16, so `startPosition.column` is
 * already a UTF-16 offset within the line — the same unit as LSP and the engine's `Range`.
 */
import type { Tree } from 'web-tree-sitter';
import type { DetectOptions, DetectorResult, Problem } from '../../types';
import { buildModel, type FileModel } from './model';
import { loadedPython, loadPython, parseSafely, pythonWasmPaths } from './parser';
import { isolateErrors } from './recovery';
import { rangeOf, runRules } from './rules';
import { snippet } from './strings';

export { pythonWasmPaths };

/**
 * Loads the Python grammar. Idempotent: every call returns the same promise (a failed load
 * may be retried). `wasmDir` (or `$SQLMIGRATE_WASM_DIR`) holds `web-tree-sitter.wasm` and
 * `tree-sitter-python.wasm` in bundled builds.
 */
export async function initPython(opts?: { wasmDir?: string }): Promise<void> {
  await loadPython(opts);
}

/** Findings, comments and problems of one Python source text. `initPython()` must have resolved. */
export function detectPython(text: string, options: DetectOptions): DetectorResult {
  if (!loadedPython()) throw new Error('detectPython: the Python parser is not loaded; await initPython() first');
  const result: DetectorResult = { findings: [], comments: [], problems: [] };
  if (typeof text !== 'string') {
    result.problems.push({ message: 'The Python source is not text; it was not analysed' });
    return result;
  }
  // Python ends lines at \r too; tree-sitter-python and its rows only at \n. A lone \r becomes
  // \n (same length: every offset and column stays true), so old Mac line ends parse and rows
  // are the lines an editor shows.
  let source = text.includes('\r') ? text.replace(/\r(?!\n)/g, '\n') : text;
  const deep = flattenDeepIndentation(source);
  if (deep) {
    source = deep.text;
    result.problems.push(deep.problem);
  }
  const first = parseSafely(source);
  let tree: Tree | null = first.tree;
  if (!tree) {
    result.problems.push({ message: `The Python parser failed (${first.error ?? 'no tree'}); the file was not analysed` });
    return result;
  }
  let isolated: Problem[] = [];
  try {
    if (tree.rootNode.hasError) {
      // Keep one broken definition from swallowing its neighbours: blank it and parse again.
      try {
        const iso = isolateErrors(tree, source);
        if (iso.text !== undefined) {
          const again = parseSafely(iso.text).tree;
          if (again) {
            tree.delete();
            tree = again;
            source = iso.text;
            isolated = iso.problems;
          }
        }
      } catch (e) {
        result.problems.push({ message: `Syntax error isolation failed (${describe(e)}); findings near syntax errors may be wrong` });
      }
    }
    let model: FileModel;
    try {
      model = buildModel(tree, loadedPython()!.language, source);
    } catch (e) {
      result.problems.push({ message: `The Python syntax tree could not be walked (${describe(e)}); the file was not analysed` });
      return result;
    }
    result.comments = model.comments;
    result.problems.push(...isolated, ...syntaxProblems(model));
    try {
      const { findings, problems, models } = runRules(model, options);
      result.findings = findings;
      result.models = [...models].map(([name, table]) => ({ name, table }));
      result.problems.push(...problems);
    } catch (e) {
      result.problems.push({ message: `The Python detector failed (${describe(e)}); findings may be missing` });
    }
    result.findings.sort((a, b) => a.range.start.line - b.range.start.line || a.range.start.character - b.range.start.character || a.rule.localeCompare(b.rule));
    return result;
  } finally {
    tree.delete();
  }
}

/** Indentation levels beyond this overflow the grammar's scanner state (it crashes near 500). */
const MAX_INDENT_LEVELS = 300;

/**
 * Empties the lines nested deeper than MAX_INDENT_LEVELS blocks (rows are kept), so the
 * parser survives hostile nesting. Undefined when the text is not that deep.
 */
function flattenDeepIndentation(text: string): { text: string; problem: Problem } | undefined {
  const stack: number[] = [0];
  let deepest = 0;
  let firstDeep = -1;
  let line = 0;
  for (let i = 0; i < text.length; line++) {
    let nl = text.indexOf('\n', i);
    if (nl < 0) nl = text.length;
    let w = 0;
    let j = i;
    for (; j < nl; j++) {
      const c = text.charCodeAt(j);
      if (c === 32) w++;
      else if (c === 9) w = w - (w % 8) + 8;
      else if (c === 12) w = 0;
      else break;
    }
    if (j < nl && text[j] !== '#' && text[j] !== '\r') {
      while (stack.length > 1 && stack[stack.length - 1] > w) stack.pop();
      if (w > stack[stack.length - 1]) stack.push(w);
      if (stack.length - 1 > deepest) deepest = stack.length - 1;
      if (stack.length - 1 > MAX_INDENT_LEVELS && firstDeep < 0) firstDeep = line;
    }
    i = nl + 1;
  }
  if (firstDeep < 0) return undefined;
  // Blank every line indented at least as far as the first line past the limit.
  const lines = text.split('\n');
  const limitWidth = widthOf(lines[firstDeep]);
  for (let k = firstDeep; k < lines.length; k++) {
    const l = lines[k];
    // Emptied, not filled with spaces: long whitespace-only lines are slow for the scanner.
    // Rows stay the same; offsets change, but every later step reads this same text.
    if (l.trim() && widthOf(l) >= limitWidth) lines[k] = l.endsWith('\r') ? '\r' : '';
  }
  return {
    text: lines.join('\n'),
    problem: {
      message: `Blocks are nested ${deepest} levels deep (the parser supports ${MAX_INDENT_LEVELS}); the lines from ${firstDeep + 1} nested deeper were not analysed`,
      range: { start: { line: firstDeep, character: 0 }, end: { line: firstDeep, character: 0 } },
    },
  };
}

function widthOf(line: string): number {
  let w = 0;
  for (const c of line) {
    if (c === ' ') w++;
    else if (c === '\t') w = w - (w % 8) + 8;
    else break;
  }
  return w;
}

function syntaxProblems(model: FileModel): Problem[] {
  const out: Problem[] = [];
  for (const issue of model.syntax) {
    const r = rangeOf(issue.node);
    // One line at most: an ERROR node may swallow the rest of the file.
    if (r.end.line !== r.start.line) r.end = { line: r.start.line, character: lineLength(model.text, issue.node.startIndex, r.start.character) };
    const what = issue.missing
      ? `missing \`${issue.node.type}\``
      : `unexpected \`${snippet(issue.node.text.split(/\r?\n/)[0] || issue.node.type, 40)}\``;
    out.push({ message: `Python syntax error: ${what}; findings in this part of the file may be incomplete`, range: r });
  }
  const more = model.syntaxCount - model.syntax.length;
  if (more > 0) out.push({ message: `${more} more Python syntax error${more === 1 ? '' : 's'} not listed` });
  return out;
}

/** Length of the line holding `offset`, in UTF-16 units, given the column of `offset`. */
function lineLength(text: string, offset: number, column: number): number {
  let end = text.indexOf('\n', offset);
  if (end < 0) end = text.length;
  if (end > offset && text[end - 1] === '\r') end--;
  return column + Math.max(0, end - offset);
}

function describe(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
