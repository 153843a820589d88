/**
 * The engine's front door for one document: text in, findings and problems out.
 *
 *   const result = await analyzeText(source, 'src/jobs.py', options);
 *   result.findings   // raw-sql, session-*, sync-in-async, manual-transaction, ...
 *   result.problems   // syntax errors and other reasons the analysis was partial
 *   result.skipped    // set when the text was not analysed at all, with the reason
 *
 * It never throws for bad input: a detector failure becomes a problem.
 */
import { detectPython, initPython } from './detect/python';
import { detectTypeScript } from './detect/ts';
import { applyInlineExceptions } from './exceptions';
import type { DetectOptions, Finding, Language, MappedModel, Problem } from './types';

export interface AnalyzeResult {
  language: Language | undefined;
  findings: Finding[];
  problems: Problem[];
  /** Why the text was not analysed (binary, minified, ...); findings are then empty. */
  skipped?: string;
  /** ORM classes mapped in this file and their tables, for resolving entities across files. */
  models?: MappedModel[];
  /** Exported names bound to a driver's client, for resolving drivers across files (imports.ts). */
  driverExports?: Record<string, string>;
}

/** Lines longer than this mark a file as minified or generated. */
export const MAX_LINE_LENGTH = 20_000;

export function languageOf(fileName: string): Language | undefined {
  const dot = fileName.lastIndexOf('.');
  const ext = dot < 0 ? '' : fileName.slice(dot).toLowerCase();
  switch (ext) {
    case '.ts': case '.tsx': case '.mts': case '.cts':
      return 'typescript';
    case '.js': case '.jsx': case '.mjs': case '.cjs':
      return 'javascript';
    case '.py':
      return 'python';
    default:
      return undefined;
  }
}

/**
 * What a file must contain to hold any finding: a string that starts with a SQL statement
 * keyword (`'SELECT `, `"""\n  UPDATE `, `` `INSERT ``), a transaction word in quotes, a call
 * shaped like a database API (`.query(`, `.execute(`, `.prepare(`, `.raw(`, `$queryRaw`), or a
 * session factory's name. Files without any are not parsed at all. It must stay a superset
 * of what the detectors report: a detector path that needs none of these needs a word here.
 */
const PREFILTER_BASE = [
  String.raw`['"\x60]\s*\(?\s*(?:select|insert|update|delete|with|create|alter|drop|truncate|replace|merge|upsert|pragma|vacuum|grant|revoke|explain|copy|call|set|show|describe|values|table|lock|unlock|analyze|reindex|attach|detach|refresh|listen|notify|savepoint|release)\s`,
  String.raw`['"\x60]\s*(?:begin|commit|rollback|start\s+transaction|end)\b`,
  String.raw`\.(?:query|execute|executemany|executescript|prepare|raw|fetch|fetchrow|fetchval|read_sql|read_sql_query)\s*\(`,
  String.raw`\$(?:query|execute)Raw`,
  String.raw`\btext\s*\(`,
  String.raw`__tablename__`, // ORM models: their tables name the entities of session queries in other files
  String.raw`\b\w+\.query\.\w+\s*\(`, // Flask-SQLAlchemy / query_property chains: `Post.query.filter_by(`
  // A module that creates a driver's client (`export const pool = new Pool()`): its exports give
  // the driver of calls in the files that import it (imports.ts).
  String.raw`['"](?:pg|pg-pool|pg-promise|mysql2?|better-sqlite3|sqlite3?|sequelize|typeorm|@neondatabase/serverless)(?:/[\w/]*)?['"]`,
].join('|');

const prefilterCache = new Map<string, RegExp>();
function prefilterFor(options: DetectOptions): RegExp {
  const key = options.sessionFactories.join(',');
  let re = prefilterCache.get(key);
  if (!re) {
    const factories = options.sessionFactories.map((f) => f.split('.').pop()!.replace(/[$.*+?^(){}|[\]\\]/g, '\\$&'));
    re = new RegExp(PREFILTER_BASE + (factories.length ? `|\\b(?:${factories.join('|')})\\b` : ''), 'i');
    prefilterCache.set(key, re);
  }
  return re;
}

export function mayContainFindings(text: string, options: DetectOptions): boolean {
  return prefilterFor(options).test(text);
}

/** A reason not to analyse this text at all, or undefined. */
export function contentSkipReason(text: string): string | undefined {
  const nul = text.indexOf('\u0000');
  if (nul >= 0) return `binary content (a NUL byte at offset ${nul})`;
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    if (end - start > MAX_LINE_LENGTH) {
      const line = text.slice(0, start).split('\n').length;
      return `minified or generated (line ${line} is ${end - start} characters long; the limit is ${MAX_LINE_LENGTH})`;
    }
    start = end + 1;
  }
  return undefined;
}

let pythonReady: Promise<void> | undefined;

/** Loads the parsers that need it (the Python grammar's WebAssembly). Idempotent. */
export function initEngine(): Promise<void> {
  if (!pythonReady) pythonReady = initPython();
  return pythonReady;
}

export async function analyzeText(text: string, fileName: string, options: DetectOptions): Promise<AnalyzeResult> {
  const language = languageOf(fileName);
  if (language === 'python') await initEngine();
  return analyzeTextSync(text, fileName, options);
}

/** As analyzeText; Python needs `initEngine()` to have resolved first. */
export function analyzeTextSync(text: string, fileName: string, options: DetectOptions): AnalyzeResult {
  const language = languageOf(fileName);
  if (!language) return { language, findings: [], problems: [], skipped: 'not a TypeScript, JavaScript or Python file' };
  const source = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const skipReason = contentSkipReason(source);
  if (skipReason) return { language, findings: [], problems: [], skipped: skipReason };
  if (!mayContainFindings(source, options)) return { language, findings: [], problems: [] };

  let detected;
  try {
    detected = language === 'python' ? detectPython(source, options) : detectTypeScript(source, fileName, options);
  } catch (e) {
    return { language, findings: [], problems: [], skipped: `could not be analysed: ${describe(e)}` };
  }
  const { findings, problems } = applyInlineExceptions(source, language, detected.findings, detected.comments);
  findings.sort(byPosition);
  return { language, findings, problems: [...detected.problems, ...problems], models: detected.models, driverExports: detected.driverExports };
}

function byPosition(a: Finding, b: Finding): number {
  return a.range.start.line - b.range.start.line || a.range.start.character - b.range.start.character || a.rule.localeCompare(b.rule);
}

function describe(e: unknown): string {
  if (e instanceof RangeError) return 'nesting too deep for the parser';
  return e instanceof Error ? e.message : String(e);
}
