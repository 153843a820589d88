/**
 * Exceptions: statements (or whole files) kept on raw SQL on purpose, with a reason.
 *
 *   // sqlmigrate-keep: the health probe must not depend on the ORM
 *   await pool.query('SELECT 1');
 *
 *   # sqlmigrate-keep-file: vendored migration scripts stay as written
 *
 * A trailing keep comment applies to the findings whose range contains its line; a keep comment
 * on its own line applies to the findings that start on the first code line after it, otherwise
 * to the findings whose range contains it (inside a multi-line call). A keep comment without a reason keeps nothing and is itself a finding
 * (`exception-missing-reason`). Config exceptions (`.sqlmigrate.json` `exceptions`) are
 * applied by the scanner, which knows paths.
 */
import type { Finding, Language, Problem, SourceComment } from './types';

const KEEP = /^\s*sqlmigrate-keep(-file)?\b\s*(:?)\s*(.*)$/s;

interface KeepComment {
  comment: SourceComment;
  file: boolean;
  reason: string;
}

function parseKeep(c: SourceComment): KeepComment | undefined {
  // Block comments may carry `*` gutters: take the first line that holds the marker.
  for (const rawLine of c.text.split(/\r?\n/)) {
    const line = rawLine.replace(/^\s*\*+/, '');
    const m = KEEP.exec(line);
    if (m) {
      let reason = m[2] === ':' ? m[3].replace(/\*+\/?\s*$/, '').trim() : '';
      // The editor's quick fix inserts `<reason>` as a placeholder: left as it is, it is no reason.
      if (/^<[^>]*>$/.test(reason)) reason = '';
      return { comment: c, file: !!m[1], reason };
    }
  }
  return undefined;
}

export interface ExceptionResult {
  findings: Finding[];
  problems: Problem[];
}

/**
 * Applies inline exceptions to `findings` (returned as new objects) and adds
 * `exception-missing-reason` findings for keep comments without a reason.
 */
export function applyInlineExceptions(
  text: string,
  language: Language,
  findings: Finding[],
  comments: SourceComment[],
): ExceptionResult {
  const keeps = comments.map(parseKeep).filter((k): k is KeepComment => !!k);
  if (keeps.length === 0) return { findings, problems: [] };

  const problems: Problem[] = [];
  const out = findings.map((f) => ({ ...f }));
  const extra: Finding[] = [];
  const lines = text.split(/\r\n|\r|\n/);
  const commentLines = new Set<number>();
  for (const c of comments) {
    if (!c.trailing) for (let l = c.line; l <= c.endLine; l++) commentLines.add(l);
  }

  for (const k of keeps) {
    const range = {
      start: { line: k.comment.line, character: 0 },
      end: { line: k.comment.endLine, character: lines[k.comment.endLine]?.length ?? 0 },
    };
    if (!k.reason) {
      extra.push({
        rule: 'exception-missing-reason',
        range,
        language,
        driver: 'none',
        kind: 'other',
        tables: [],
        complexity: 'simple',
        dynamic: false,
        message: `${k.file ? 'sqlmigrate-keep-file' : 'sqlmigrate-keep'} needs a reason after a colon, e.g. "sqlmigrate-keep: health probe stays on raw SQL"; until then nothing is kept`,
        exception: null,
      });
      continue;
    }
    if (k.file) {
      for (const f of out) f.exception ??= { reason: k.reason, source: 'file' };
      continue;
    }
    let targets: Finding[];
    if (k.comment.trailing) {
      targets = out.filter((f) => f.range.start.line <= k.comment.line && k.comment.line <= f.range.end.line);
    } else {
      // The statement on the next code line first (a keep comment inside a multi-line call that
      // precedes a nested statement keeps that one), then the findings whose range holds it.
      const next = nextCodeLine(lines, commentLines, k.comment.endLine + 1);
      targets = next === undefined ? [] : out.filter((f) => f.range.start.line === next);
      if (targets.length === 0) targets = out.filter((f) => f.range.start.line < k.comment.line && k.comment.line <= f.range.end.line);
    }
    if (targets.length === 0) {
      problems.push({ message: 'sqlmigrate-keep comment is not next to any finding; it keeps nothing', range });
    }
    for (const f of targets) f.exception ??= { reason: k.reason, source: 'inline' };
  }
  return { findings: [...out, ...extra], problems };
}

function nextCodeLine(lines: string[], commentLines: Set<number>, from: number): number | undefined {
  for (let l = from; l < lines.length && l < from + 50; l++) {
    if (commentLines.has(l) || lines[l].trim() === '') continue;
    return l;
  }
  return undefined;
}
