/**
 * Syntax error isolation. tree-sitter recovers from most errors locally, but an unclosed
 * bracket in one function can swallow the rest of the module into one ERROR node, merging
 * unrelated calls. When the first parse has errors, the module is cut into top-level
 * definitions (and, inside a broken class, its methods); each is parsed alone, the broken ones
 * are emptied (their rows kept, so positions elsewhere stay valid) and the file is parsed once more.
 *
 * Only files with syntax errors pay for this: the chunks cost about one more parse in total.
 */
import type { Node, Tree } from 'web-tree-sitter';
import { parseSafely } from './parser';
import type { Problem, Range } from '../../types';

export interface Isolation {
  /** The text with broken definitions blanked; undefined when nothing was blanked. */
  text?: string;
  problems: Problem[];
}

interface Block {
  /** First and last line (inclusive), zero-based. */
  start: number;
  end: number;
  kind: 'def' | 'class';
  name: string;
}

const MAX_BLOCKS = 5000;
const MAX_PROBLEMS = 5;
const DEF_START = /^(?:async[ \t]+def|def|class)[ \t]+([A-Za-z_]\w*)|^@/;

export function isolateErrors(tree: Tree, text: string): Isolation {
  const lines = text.split('\n');
  const inString = multilineStringLines(tree, lines.length);
  const blocks = topLevelBlocks(lines, inString, 0);
  if (blocks.length === 0 || blocks.length > MAX_BLOCKS) return { problems: [] };
  const blank = new Set<number>();
  const problems: Problem[] = [];
  const replacements = new Map<number, string>();
  for (const b of blocks) {
    const err = firstError(lines, b.start, b.end, 0);
    if (!err) continue;
    if (b.kind === 'class') {
      const members = memberBlocks(lines, inString, b);
      const broken = members.filter((m) => firstError(lines, m.start, m.end, m.indent) !== undefined);
      const headerOk = members.length > 0 && broken.length > 0 && !firstError(lines, b.start, members[0].start - 1, 0, true);
      if (headerOk) {
        for (const m of broken) {
          const mErr = firstError(lines, m.start, m.end, m.indent)!;
          for (let l = m.start; l <= m.end; l++) blank.add(l);
          // Keep the class body non-empty: the method's first line becomes `pass`.
          replacements.set(m.start, ' '.repeat(m.indent) + 'pass');
          problems.push(problem(mErr, `method \`${m.name}\` of class \`${b.name}\``, m.start, m.end));
        }
        continue;
      }
    }
    for (let l = b.start; l <= b.end; l++) blank.add(l);
    problems.push(problem(err, `${b.kind === 'class' ? 'class' : 'function'} \`${b.name}\``, b.start, b.end));
  }
  if (blank.size === 0) return { problems: [] };
  if (problems.length > MAX_PROBLEMS) {
    const more = problems.length - MAX_PROBLEMS;
    problems.length = MAX_PROBLEMS;
    problems.push({ message: `${more} more definition${more === 1 ? '' : 's'} with syntax errors skipped` });
  }
  const out = lines.map((line, i) => {
    if (!blank.has(i)) return line;
    const cr = line.endsWith('\r') ? '\r' : '';
    const body = cr ? line.slice(0, -1) : line;
    const rep = replacements.get(i);
    if (rep !== undefined && rep.length <= body.length) return rep + cr;
    // Emptied rather than filled with spaces (whitespace-only lines are slow to scan). Rows
    // are kept, so ranges outside the blanked definitions are unchanged.
    return cr;
  });
  return { text: out.join('\n'), problems };
}

function problem(range: Range, what: string, start: number, end: number): Problem {
  return {
    message: `Python syntax error in ${what} (lines ${start + 1}–${end + 1}): it was skipped; the rest of the file was analysed`,
    range,
  };
}

/** Lines strictly inside a multi-line string (after its first line): they never start a block. */
function multilineStringLines(tree: Tree, lineCount: number): Uint8Array {
  const inside = new Uint8Array(lineCount + 1);
  const cursor = tree.walk();
  try {
    for (;;) {
      const type = cursor.nodeType;
      let descend = true;
      if (type === 'string' || type === 'comment') {
        descend = false;
        const s = cursor.startPosition.row;
        const e = cursor.endPosition.row;
        for (let l = s + 1; l <= e && l < inside.length; l++) inside[l] = 1;
      }
      if (descend && cursor.gotoFirstChild()) continue;
      let done = false;
      while (!cursor.gotoNextSibling()) {
        if (!cursor.gotoParent()) {
          done = true;
          break;
        }
      }
      if (done) break;
    }
  } finally {
    cursor.delete();
  }
  return inside;
}

/** Definitions starting at `indent` (decorators included); each runs until the next one. */
function topLevelBlocks(lines: string[], inString: Uint8Array, indent: number, from = 0, to = lines.length - 1): Block[] {
  const starts: Array<{ line: number; kind: 'def' | 'class'; name: string }> = [];
  let pendingDecorator = -1;
  for (let i = from; i <= to; i++) {
    if (inString[i]) continue;
    const line = lines[i];
    const ws = /^[ \t]*/.exec(line)![0].length;
    if (ws !== indent) continue;
    const rest = line.slice(ws);
    const m = DEF_START.exec(rest);
    if (!m) {
      if (rest.trim() && !rest.startsWith('#')) pendingDecorator = -1;
      continue;
    }
    if (rest.startsWith('@')) {
      if (pendingDecorator < 0) pendingDecorator = i;
      continue;
    }
    const kind = rest.startsWith('class') ? 'class' : 'def';
    starts.push({ line: pendingDecorator >= 0 ? pendingDecorator : i, kind, name: m[1] });
    pendingDecorator = -1;
  }
  return starts.map((s, k) => ({ start: s.line, end: k + 1 < starts.length ? starts[k + 1].line - 1 : to, kind: s.kind, name: s.name }));
}

function memberBlocks(lines: string[], inString: Uint8Array, cls: Block): Array<Block & { indent: number }> {
  // The body's indentation: the first non-blank, non-comment line after the header.
  let indent = -1;
  for (let i = cls.start + 1; i <= cls.end && indent < 0; i++) {
    if (inString[i]) continue;
    const line = lines[i];
    const rest = line.trimStart();
    if (!rest || rest.startsWith('#')) continue;
    indent = line.length - rest.length;
  }
  if (indent <= 0) return [];
  return topLevelBlocks(lines, inString, indent, cls.start + 1, cls.end).map((b) => ({ ...b, indent }));
}

/**
 * Parses lines `start..end` alone (dedented by `indent`) and returns the range of the first
 * ERROR or MISSING node in file coordinates, or undefined when the chunk parses.
 */
function firstError(lines: string[], start: number, end: number, indent: number, header = false): Range | undefined {
  if (end < start) return undefined;
  const chunk: string[] = [];
  const removed: number[] = [];
  for (let i = start; i <= end; i++) {
    const line = lines[i];
    let cut = 0;
    while (cut < indent && (line[cut] === ' ' || line[cut] === '\t')) cut++;
    removed.push(cut);
    chunk.push(line.slice(cut));
  }
  // A class header alone needs a body to parse.
  if (header) chunk.push(' pass');
  const { tree } = parseSafely(chunk.join('\n'));
  if (!tree) return undefined;
  try {
    if (!tree.rootNode.hasError) return undefined;
    const node = firstErrorNode(tree);
    if (!node) return undefined;
    const s = node.startPosition;
    const e = node.endPosition;
    const line = Math.min(s.row, end - start);
    const startChar = s.column + (removed[line] ?? 0);
    const endChar = e.row === s.row ? e.column + (removed[line] ?? 0) : lineLength(lines[start + line]);
    return { start: { line: start + line, character: startChar }, end: { line: start + line, character: Math.max(endChar, startChar) } };
  } finally {
    tree.delete();
  }
}

function lineLength(line: string | undefined): number {
  if (!line) return 0;
  return line.endsWith('\r') ? line.length - 1 : line.length;
}

function firstErrorNode(tree: Tree): Node | undefined {
  const cursor = tree.walk();
  try {
    for (;;) {
      if (cursor.nodeType === 'ERROR' || cursor.nodeIsMissing) return cursor.currentNode;
      if (cursor.gotoFirstChild()) continue;
      let done = false;
      while (!cursor.gotoNextSibling()) {
        if (!cursor.gotoParent()) {
          done = true;
          break;
        }
      }
      if (done) return undefined;
    }
  } finally {
    cursor.delete();
  }
}
