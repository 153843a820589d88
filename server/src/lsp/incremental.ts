/**
 * Incremental reanalysis of an open document, for edit latency on large files.
 *
 * A document is cut at its top-level lines (column 0) into segments. A segment that starts
 * with a top-level function (`def` / `async def` in Python; `function` / `export [default]
 * [async] function` in TS/JS, with the comments and decorators right above it) is a *unit*;
 * everything else (imports, constants, classes, top-level statements) is *context*. Findings are
 * remembered per segment, relative to its first line.
 *
 * After an edit, if the context is unchanged (same text, wherever it moved) and only a few
 * units changed, each changed unit is analysed alone: the engine gets the context plus that
 * unit, every other line left empty, so lines and columns are those of the real document. The
 * other segments' findings are reused (shifted when lines were inserted above them). Anything
 * else — the context changed, many units changed, a unit analysis reports a syntax problem,
 * the document had problems, a `sqlmigrate-keep-file` comment, a small file — is a full
 * analysis, which also re-seeds the segments.
 *
 * The shortcut rests on detection inside a top-level function depending only on that function
 * and the context. The host verifies it: when the editing pauses, a document last analysed by
 * units is analysed in full, and if the results differ the full result is published and that
 * document is no longer analysed by units (`verify`).
 */
import { analyzeTextSync, languageOf, type AnalyzeResult } from '../engine/analyze';
import type { DetectOptions, Finding } from '../engine/types';

/** Below this size a full analysis is fast enough: no segments. */
export const INCREMENTAL_MIN_CHARS = 16_000;
/** More changed units than this (a paste, a format, a checkout): analyse in full. */
const MAX_CHANGED_UNITS = 4;

interface Segment {
  start: number;
  end: number; // exclusive
  unit: boolean;
  text: string;
}

interface SegmentResult {
  /** Findings with lines relative to the segment's first line. */
  findings: Finding[];
}

interface DocState {
  fileName: string;
  detectKey: string;
  contextKey: string;
  /** Segment text → results, for unit and context segments alike. */
  segments: Map<string, SegmentResult>;
  /** The units shortcut proved wrong for this document once: always analyse in full. */
  disabled: boolean;
}

export interface IncrementalResult extends AnalyzeResult {
  /** true when only changed units were analysed (the host then verifies at idle). */
  partial: boolean;
}

export class IncrementalAnalyzer {
  private readonly docs = new Map<string, DocState>();
  readonly stats = { full: 0, partial: 0, unitsAnalysed: 0, mismatches: 0 };

  /** `minChars`: smaller documents are always analysed in full (tests lower it). */
  constructor(private readonly minChars = INCREMENTAL_MIN_CHARS) {}

  analyse(uri: string, text: string, fileName: string, detect: DetectOptions): IncrementalResult {
    const language = languageOf(fileName);
    if (!language || text.length < this.minChars || text.includes('sqlmigrate-keep-file')) {
      this.docs.delete(uri);
      return this.full(uri, text, fileName, detect, undefined);
    }
    const lines = text.split('\n');
    const segments = segment(lines, language === 'python');
    const contextKey = segments
      .filter((s) => !s.unit)
      .map((s) => s.text)
      .join('\n\u0000\n');
    const detectKey = JSON.stringify(detect);
    const state = this.docs.get(uri);
    if (!state || state.disabled || state.fileName !== fileName || state.detectKey !== detectKey || state.contextKey !== contextKey) {
      return this.full(uri, text, fileName, detect, { lines, segments, contextKey, detectKey, disabled: !!state?.disabled });
    }
    const changed = segments.filter((s) => !state.segments.has(s.text));
    if (changed.length > MAX_CHANGED_UNITS || changed.some((s) => !s.unit)) {
      return this.full(uri, text, fileName, detect, { lines, segments, contextKey, detectKey, disabled: false });
    }
    // Analyse each changed unit with the context around it.
    const fresh = new Map<string, SegmentResult>();
    for (const u of changed) {
      const r = analyzeTextSync(unitText(lines, segments, u), fileName, detect);
      this.stats.unitsAnalysed++;
      if (r.skipped || r.problems.length) return this.full(uri, text, fileName, detect, { lines, segments, contextKey, detectKey, disabled: false });
      fresh.set(u.text, { findings: r.findings.filter((f) => f.range.start.line >= u.start && f.range.start.line < u.end).map((f) => shift(f, -u.start)) });
    }
    const findings: Finding[] = [];
    const kept = new Map<string, SegmentResult>();
    for (const s of segments) {
      const r = fresh.get(s.text) ?? state.segments.get(s.text)!;
      kept.set(s.text, r);
      for (const f of r.findings) findings.push(s.start ? shift(f, s.start) : f);
    }
    state.segments = kept;
    findings.sort(byPosition);
    this.stats.partial++;
    return { language, findings, problems: [], partial: true };
  }

  /** A full analysis; seeds the segments from it when they are given. */
  private full(
    uri: string,
    text: string,
    fileName: string,
    detect: DetectOptions,
    seed: { lines: string[]; segments: Segment[]; contextKey: string; detectKey: string; disabled: boolean } | undefined,
  ): IncrementalResult {
    const r = analyzeTextSync(text, fileName, detect);
    this.stats.full++;
    if (seed) {
      if (r.skipped || r.problems.length || text.charCodeAt(0) === 0xfeff) {
        this.docs.delete(uri);
        if (seed.disabled) this.docs.set(uri, { fileName, detectKey: seed.detectKey, contextKey: '', segments: new Map(), disabled: true });
      } else {
        const segments = new Map<string, SegmentResult>();
        for (const s of seed.segments) {
          const own = r.findings.filter((f) => f.range.start.line >= s.start && f.range.start.line < s.end).map((f) => shift(f, -s.start));
          segments.set(s.text, { findings: own });
        }
        this.docs.set(uri, { fileName, detectKey: seed.detectKey, contextKey: seed.contextKey, segments, disabled: seed.disabled });
      }
    }
    return { ...r, partial: false };
  }

  /**
   * Checks a partial result against a full analysis of the same text. On a difference the
   * document is analysed in full from now on; returns the full result so the host can publish it.
   */
  verify(uri: string, text: string, fileName: string, detect: DetectOptions, partial: Finding[]): AnalyzeResult | undefined {
    const r = analyzeTextSync(text, fileName, detect);
    if (JSON.stringify(r.findings) === JSON.stringify(partial)) return undefined;
    this.stats.mismatches++;
    const state = this.docs.get(uri);
    if (state) state.disabled = true;
    else this.docs.set(uri, { fileName, detectKey: JSON.stringify(detect), contextKey: '', segments: new Map(), disabled: true });
    return r;
  }

  forget(uri: string): void {
    this.docs.delete(uri);
  }
}

const PY_UNIT = /^(?:async[ \t]+)?def[ \t]/;
const TS_UNIT = /^(?:export[ \t]+(?:default[ \t]+)?)?(?:async[ \t]+)?function[\s*]/;

/** Cuts the lines into top-level segments (see the file comment). */
export function segment(lines: string[], python: boolean): Segment[] {
  const starts: number[] = [];
  const isUnit: boolean[] = [];
  const unitRe = python ? PY_UNIT : TS_UNIT;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (!line) continue;
    const c = line.charCodeAt(0);
    if (c === 32 || c === 9 || c === 13) continue; // indented or blank: inside something
    if (isContinuation(line, python)) continue;
    if (isCommentOrDecorator(line, python)) continue;
    // Attach the comments, decorators and blank lines right above to this segment.
    let s = i;
    while (s > 0 && s - 1 > (starts.length ? starts[starts.length - 1] : -1) && isLeading(lines[s - 1], python)) s--;
    starts.push(s);
    isUnit.push(unitRe.test(line));
  }
  const out: Segment[] = [];
  if (!starts.length || starts[0] > 0) {
    const end = starts.length ? starts[0] : lines.length;
    out.push({ start: 0, end, unit: false, text: lines.slice(0, end).join('\n') });
  }
  for (let k = 0; k < starts.length; k++) {
    const start = starts[k];
    const end = k + 1 < starts.length ? starts[k + 1] : lines.length;
    out.push({ start, end, unit: isUnit[k], text: (isUnit[k] ? 'u\n' : 'c\n') + lines.slice(start, end).join('\n') });
  }
  return out;
}

function isContinuation(line: string, python: boolean): boolean {
  const c = line[0];
  if (c === ')' || c === ']' || c === '}') return true;
  if (!python && (c === '.' || c === '?' || c === ':' || c === '+' || c === '|' || c === '&' || c === ',' || c === '`')) return true;
  return false;
}

function isCommentOrDecorator(line: string, python: boolean): boolean {
  if (python) return line[0] === '#';
  return line.startsWith('//') || line.startsWith('/*') || line[0] === '*';
}

function isLeading(line: string, python: boolean): boolean {
  const t = line.trim();
  if (!t) return true;
  if (python) return t[0] === '#' || (line[0] === '@');
  return t.startsWith('//') || t.startsWith('/*') || t.startsWith('*') || line[0] === '@';
}

/** The context and one unit at their real lines; every other line empty. */
function unitText(lines: string[], segments: Segment[], unit: Segment): string {
  const out: string[] = new Array(lines.length);
  for (const s of segments) {
    const keep = !s.unit || s === unit;
    for (let i = s.start; i < s.end; i++) out[i] = keep ? lines[i] : '';
  }
  return out.join('\n');
}

/** A copy of the finding with every position moved by `delta` lines. */
function shift<T>(value: T, delta: number): T {
  if (!delta || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => shift(v, delta)) as T;
  const o = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(o)) out[k] = shift(o[k], delta);
  if (typeof o.line === 'number' && typeof o.character === 'number') out.line = (o.line as number) + delta;
  return out as T;
}

function byPosition(a: Finding, b: Finding): number {
  return a.range.start.line - b.range.start.line || a.range.start.character - b.range.start.character || a.rule.localeCompare(b.rule);
}
