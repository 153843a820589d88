/**
 * Reads `@expect` annotations from fixture sources (see test/fixtures/detect/README.md)
 * and compares them with what the engine found.
 */
import type { Finding } from '../../server/src/engine/types';

export interface Expectation {
  rule: string;
  /** 1-based line of the finding's start. */
  line: number;
  lines: number;
  kind?: string;
  tables?: string[];
  driver?: string;
  complexity?: string;
  dynamic: boolean;
  unparsed: boolean;
  kept: boolean;
  /** 1-based line of the annotation itself, for messages. */
  at: number;
}

const ANNOTATION = /^\s*(?:\/\/|#)\s*@expect\s+(\S+)(.*)$/;

export function readExpectations(text: string): Expectation[] {
  const lines = text.split(/\r\n|\r|\n/);
  const out: Expectation[] = [];
  let pending: Expectation[] = [];
  lines.forEach((line, i) => {
    const m = ANNOTATION.exec(line);
    if (m) {
      const e: Expectation = { rule: m[1], line: 0, lines: 1, dynamic: false, unparsed: false, kept: false, at: i + 1 };
      for (const token of m[2].trim().split(/\s+/).filter(Boolean)) {
        const [k, v] = token.split('=');
        switch (k) {
          case 'kind': e.kind = v; break;
          case 'tables': e.tables = v === '-' ? [] : v.split(','); break;
          case 'lines': e.lines = Number(v); break;
          case 'driver': e.driver = v; break;
          case 'complexity': e.complexity = v; break;
          case 'dynamic': e.dynamic = true; break;
          case 'unparsed': e.unparsed = true; break;
          case 'kept': e.kept = true; break;
          default: throw new Error(`line ${i + 1}: unknown @expect attribute "${token}"`);
        }
      }
      pending.push(e);
      return;
    }
    if (pending.length) {
      for (const e of pending) e.line = i + 1;
      out.push(...pending);
      pending = [];
    }
  });
  if (pending.length) throw new Error(`@expect at line ${pending[0].at} is not followed by code`);
  return out;
}

/** Differences between one expectation and the finding matched to it (by rule and start line). */
export function compare(e: Expectation, f: Finding): string[] {
  const d: string[] = [];
  const endLine = f.range.end.line + 1;
  if (endLine - e.line + 1 !== e.lines) d.push(`lines: expected ${e.lines}, got ${endLine - e.line + 1} (ends at line ${endLine})`);
  if (e.kind !== undefined && f.kind !== e.kind) d.push(`kind: expected ${e.kind}, got ${f.kind}`);
  if (e.tables !== undefined && [...f.tables].sort().join(',') !== [...e.tables].sort().join(',')) d.push(`tables: expected [${e.tables}], got [${f.tables}]`);
  if (e.driver !== undefined && f.driver !== e.driver) d.push(`driver: expected ${e.driver}, got ${f.driver}`);
  if (e.complexity !== undefined && f.complexity !== e.complexity) d.push(`complexity: expected ${e.complexity}, got ${f.complexity}`);
  if (f.dynamic !== e.dynamic) d.push(`dynamic: expected ${e.dynamic}, got ${f.dynamic}`);
  if (f.rule === 'raw-sql' && f.info && f.info.parsed === e.unparsed) d.push(e.unparsed ? 'expected the SQL not to parse, but it parsed' : `expected the SQL to parse: ${f.info.parseError}`);
  if (!!f.exception !== e.kept) d.push(e.kept ? 'expected an exception (kept)' : `unexpected exception: ${f.exception?.reason}`);
  return d;
}

export interface Score {
  truePositives: number;
  falsePositives: number;
  falseNegatives: number;
  mismatches: number;
}

export function precision(s: Score): number {
  return s.truePositives + s.falsePositives === 0 ? 1 : s.truePositives / (s.truePositives + s.falsePositives);
}

export function recall(s: Score): number {
  return s.truePositives + s.falseNegatives === 0 ? 1 : s.truePositives / (s.truePositives + s.falseNegatives);
}
