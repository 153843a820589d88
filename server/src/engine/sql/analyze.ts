/**
 * SQL understanding: kind, tables, columns, parameters and complexity of one SQL
 * text, with node-sql-parser doing the parsing per dialect.
 *
 *   analyzeSql("SELECT * FROM jobs j JOIN runs r ON r.job_id = j.id WHERE j.id = %s", 'postgresql')
 *     → { kind: 'select', tables: ['jobs', 'runs'], complexity: 'medium', features: ['join'],
 *         params: { style: 'format', count: 1 }, parsed: true, ... }
 *
 * Placeholders of every driver style (`$1`, `?`, `%s`, `%(name)s`, `:name`) are rewritten to
 * a form the dialect's grammar accepts before parsing; the original style and count are kept.
 * Text that does not parse in any dialect is still analysed from its tokens, with
 * `parsed: false` and the parser's reason.
 */
import { Parser } from 'node-sql-parser';
import type { Complexity, Dialect, ParamStyle, SqlInfo, StatementKind } from '../types';
import { lexSql, leadingKeyword, STATEMENT_KEYWORDS, type Lexed } from './lexer';

export const DYNAMIC_PLACEHOLDER_PREFIX = '__sqlm_dyn_';

const PARSER_DB: Record<Dialect, string> = { postgresql: 'postgresql', mysql: 'mysql', sqlite: 'sqlite' };
const DIALECTS: Dialect[] = ['postgresql', 'mysql', 'sqlite'];

/** Texts longer than this are analysed from tokens only: the PEG parser is not linear on them. */
const MAX_PARSE_LENGTH = 64 * 1024;

let parser: Parser | undefined;
function getParser(): Parser {
  parser ??= new Parser();
  return parser;
}

const cache = new Map<string, SqlInfo>();
const CACHE_LIMIT = 5000;

export function analyzeSql(text: string, dialect: Dialect): SqlInfo {
  const key = dialect + '\u0000' + text;
  const hit = cache.get(key);
  if (hit) return hit;
  const info = analyzeUncached(text, dialect);
  if (cache.size >= CACHE_LIMIT) cache.clear();
  cache.set(key, info);
  return info;
}

function analyzeUncached(text: string, dialect: Dialect): SqlInfo {
  const lexed = lexSql(text);
  const params = paramsOf(lexed);
  const statementCount = countStatements(text, lexed);
  const base = { params, statementCount };

  if (text.length > MAX_PARSE_LENGTH) {
    return fromTokens(text, lexed, dialect, base, `statement is longer than ${MAX_PARSE_LENGTH / 1024} KiB; analysed from its tokens only`);
  }
  const order = [dialect, ...DIALECTS.filter((d) => d !== dialect)];
  let firstError: string | undefined;
  // A runtime value after LIMIT/OFFSET is a number; the grammar accepts no identifier there.
  const parseable = text.includes(DYNAMIC_PLACEHOLDER_PREFIX)
    ? text.replace(new RegExp(`\\b(LIMIT|OFFSET)(\\s+)${DYNAMIC_PLACEHOLDER_PREFIX}\\d+__`, 'gi'), (m, kw: string, ws: string) => kw + ws + '1'.padEnd(m.length - kw.length - ws.length, ' '))
    : text;
  const parseLexed = parseable === text ? lexed : lexSql(parseable);
  for (const d of order) {
    const prepared = normalisePlaceholders(parseable, parseLexed, d);
    try {
      const result = getParser().parse(prepared, { database: PARSER_DB[d] });
      return fromAst(text, lexed, d, result.ast, result.tableList, result.columnList, base);
    } catch (e) {
      firstError ??= describeParseError(e);
    }
  }
  return fromTokens(text, lexed, dialect, base, firstError ?? 'does not parse');
}

function paramsOf(lexed: Lexed): SqlInfo['params'] {
  const ph = lexed.placeholders;
  if (ph.length === 0) return { style: 'none', count: 0, names: [] };
  const style: ParamStyle = ph[0].style;
  const names: string[] = [];
  let count = 0;
  if (style === 'dollar' || style === 'named' || style === 'pyformat') {
    const seen = new Set<string>();
    for (const p of ph) {
      if (!seen.has(p.name)) {
        seen.add(p.name);
        if (style !== 'dollar') names.push(p.name);
      }
    }
    count = style === 'dollar' ? Math.max(...ph.map((p) => Number(p.name) || 0)) : seen.size;
  } else {
    count = ph.length;
  }
  return { style, count, names };
}

function countStatements(text: string, lexed: Lexed): number {
  let count = 0;
  let from = 0;
  for (const s of [...lexed.semicolons, text.length]) {
    if (text.slice(from, s).replace(/--[^\n]*|\/\*[\s\S]*?\*\//g, '').trim().length > 0) count++;
    from = s + 1;
  }
  return Math.max(count, 1);
}

/** Rewrites placeholders to `$n` (postgres) or `?` (mysql, sqlite) so the grammar accepts them. */
export function normalisePlaceholders(text: string, lexed: Lexed, dialect: Dialect): string {
  if (lexed.placeholders.length === 0) return text;
  let out = '';
  let last = 0;
  const numbers = new Map<string, number>();
  for (const p of lexed.placeholders) {
    out += text.slice(last, p.start);
    if (dialect === 'postgresql') {
      let param: string;
      if (p.style === 'dollar') {
        param = text.slice(p.start, p.end);
      } else {
        const key = p.name || `#${p.start}`;
        let n = numbers.get(key);
        if (n === undefined) {
          n = numbers.size + 1;
          numbers.set(key, n);
        }
        param = `$${n}`;
      }
      // The grammar takes `($1)::date` but not `$1::date`.
      out += /^\s*::/.test(text.slice(p.end, p.end + 8)) ? `(${param})` : param;
    } else {
      out += '?';
    }
    last = p.end;
  }
  return out + text.slice(last);
}

function describeParseError(e: unknown): string {
  const err = e as { message?: string; location?: { start?: { line?: number; column?: number } }; found?: string | null };
  if (err && err.location?.start) {
    const { line, column } = err.location.start;
    const found = err.found === null || err.found === undefined ? 'end of input' : JSON.stringify(err.found);
    return `syntax error at line ${line}, column ${column}: unexpected ${found}`;
  }
  const msg = err?.message ?? String(e);
  return msg.length > 200 ? msg.slice(0, 200) + '…' : msg;
}

const KIND_BY_KEYWORD: Record<string, StatementKind> = {
  SELECT: 'select', WITH: 'select', VALUES: 'select', TABLE: 'select',
  INSERT: 'insert', REPLACE: 'insert', UPSERT: 'insert',
  UPDATE: 'update', DELETE: 'delete',
  CREATE: 'ddl', ALTER: 'ddl', DROP: 'ddl', TRUNCATE: 'ddl', RENAME: 'ddl', COMMENT: 'ddl',
};

function kindOfKeyword(keyword: string | undefined): StatementKind {
  return (keyword && KIND_BY_KEYWORD[keyword]) || 'other';
}

function kindOfAstType(type: string | undefined): StatementKind {
  switch ((type ?? '').toLowerCase()) {
    case 'select': return 'select';
    case 'insert': case 'replace': return 'insert';
    case 'update': return 'update';
    case 'delete': return 'delete';
    case 'create': case 'alter': case 'drop': case 'truncate': case 'rename': return 'ddl';
    default: return 'other';
  }
}

type Json = unknown;

function fromAst(
  text: string, lexed: Lexed, dialect: Dialect, ast: Json, tableList: string[], columnList: string[],
  base: Pick<SqlInfo, 'params' | 'statementCount'>,
): SqlInfo {
  const statements = (Array.isArray(ast) ? ast : [ast]) as Record<string, unknown>[];
  const kinds = statements.map((s) => kindOfAstType(s?.type as string));
  let kind: StatementKind = kinds[0] ?? 'other';
  if (kinds.length > 1 && !kinds.every((k) => k === kind)) kind = kinds.every((k) => k === 'ddl' || k === 'insert') ? 'ddl' : 'other';
  if (kind === 'other') kind = kindOfKeyword(leadingKeyword(text)) === 'other' ? 'other' : kindOfKeyword(leadingKeyword(text));

  const cteNames = new Set<string>();
  const features = new Set<string>();
  for (const s of statements) walkAst(s, features, cteNames, 0);
  vendorFeatures(text, lexed, features);

  const indexTables = statements
    .filter((st) => st && (st as { keyword?: string }).keyword === 'index')
    .map((st) => (st as { table?: { db?: string | null; table?: string } }).table)
    .filter((t): t is { db?: string | null; table: string } => !!t && typeof t.table === 'string')
    .map((t) => `create::${t.db ?? 'null'}::${t.table}`);
  const tables = uniq(
    [...tableList, ...indexTables]
      .map((t) => tableOf(t))
      .filter((t): t is string => !!t && !cteNames.has(t) && !t.includes(DYNAMIC_PLACEHOLDER_PREFIX)),
  );
  const columns = uniq(
    columnList
      .map((c) => columnOf(c))
      .filter((c): c is string => !!c && !c.includes(DYNAMIC_PLACEHOLDER_PREFIX)),
  );
  if (tables.length > 1 && !features.has('join') && !features.has('subquery') && kind !== 'ddl') features.add('multi-table');
  if (statements.length > 1) features.add('multi-statement');
  if (kind === 'ddl') features.add('ddl');

  return {
    kind,
    tables,
    columns,
    params: base.params,
    complexity: complexityOf(features),
    features: [...features].sort(),
    statementCount: Math.max(base.statementCount, statements.length),
    parsed: true,
    dialect,
  };
}

/** `select::null::jobs` → `jobs`; `delete::audit::log` → `audit.log`. */
function tableOf(entry: string): string | undefined {
  const [, db, table] = entry.split('::');
  if (!table || table === 'null') return undefined;
  const name = db && db !== 'null' && db !== 'undefined' ? `${db}.${table}` : table;
  return name.toLowerCase();
}

/** `select::jobs::id` → `jobs.id`; `select::null::name` → `name`; wildcards are dropped. */
function columnOf(entry: string): string | undefined {
  const [, table, column] = entry.split('::');
  if (!column || column === '(.*)' || column === '*') return undefined;
  const t = table && table !== 'null' && table !== 'undefined' ? `${table}.` : '';
  return (t + column).toLowerCase();
}

const COMPLEX = new Set(['cte', 'window', 'vendor', 'recursive', 'lateral', 'upsert-merge']);
const MEDIUM = new Set(['join', 'group-by', 'having', 'subquery', 'union', 'multi-statement', 'multi-table', 'ddl', 'distinct-on']);

function complexityOf(features: Set<string>): Complexity {
  for (const f of features) if (COMPLEX.has(f) || f.startsWith('vendor:')) return 'complex';
  for (const f of features) if (MEDIUM.has(f)) return 'medium';
  return 'simple';
}

function walkAst(root: unknown, features: Set<string>, cteNames: Set<string>, depth: number): void {
  // Iterative: statements can nest deeply and the stack must not overflow.
  // `inner` marks nodes below the statement proper (not the statement, a UNION arm or a CTE body).
  const stack: Array<{ node: unknown; depth: number; inner: boolean }> = [{ node: root, depth, inner: false }];
  while (stack.length) {
    const { node: cur, depth: d, inner } = stack.pop()!;
    if (!cur || typeof cur !== 'object' || d > 5000) continue;
    if (Array.isArray(cur)) {
      for (const x of cur) stack.push({ node: x, depth: d + 1, inner });
      continue;
    }
    const o = cur as Record<string, unknown>;
    if (inner && isSelectNode(o)) features.add('subquery');
    if (Array.isArray(o.with) && o.with.length) {
      features.add('cte');
      for (const w of o.with as Array<Record<string, unknown>>) {
        const name = (w?.name as { value?: string } | undefined)?.value ?? (w?.name as string | undefined);
        if (typeof name === 'string') cteNames.add(name.toLowerCase());
        if ((w as { recursive?: boolean }).recursive) features.add('recursive');
        const stmt = (w as { stmt?: unknown }).stmt;
        stack.push({ node: (stmt as { ast?: unknown })?.ast ?? stmt, depth: d + 1, inner: false });
      }
    }
    if (o.over && typeof o.over === 'object') features.add('window');
    if (typeof o.join === 'string') features.add(/lateral/i.test(o.join) ? 'lateral' : 'join');
    if (o.groupby && (Array.isArray(o.groupby) ? o.groupby.length : (o.groupby as { columns?: unknown[] }).columns?.length)) features.add('group-by');
    if (o.having) features.add('having');
    if (o._next || o.set_op) features.add('union');
    if (o.conflict && typeof o.conflict === 'object') {
      const action = JSON.stringify((o.conflict as Record<string, unknown>).action ?? '').toLowerCase();
      features.add(action.includes('nothing') ? 'on-conflict-nothing' : 'upsert-merge');
    }
    if (o.on_duplicate_update) features.add('upsert-merge');
    if (o.returning) features.add('returning');
    const distinct = o.distinct as { type?: string; columns?: unknown } | string | null | undefined;
    if (distinct && typeof distinct === 'object' && distinct.type === 'DISTINCT' && distinct.columns) features.add('distinct-on');
    else if (distinct && (typeof distinct === 'string' ? distinct : distinct.type)) features.add('distinct');
    for (const [k, v] of Object.entries(o)) {
      if (!v || typeof v !== 'object' || k === 'with') continue;
      stack.push({ node: v, depth: d + 1, inner: k === '_next' ? inner : true });
    }
  }
}

function isSelectNode(v: unknown): boolean {
  return !!v && typeof v === 'object' && !Array.isArray(v) && (v as { type?: string }).type === 'select' && 'columns' in (v as object);
}

const VENDOR_PATTERNS: Array<[RegExp, string]> = [
  [/::\s*[A-Za-z_]/, 'vendor:cast'],
  [/\bON\s+DUPLICATE\s+KEY\b/i, 'upsert-merge'],
  [/\bINSERT\s+OR\s+(REPLACE|IGNORE)\b/i, 'vendor:insert-or'],
  [/\bDISTINCT\s+ON\b/i, 'distinct-on'],
  [/\bFOR\s+(UPDATE|SHARE)\b/i, 'vendor:locking'],
  [/->>?|#>>?|@>|<@/, 'vendor:json-operator'],
  [/\b(ANY|ALL)\s*\(\s*\$/i, 'vendor:array'],
  [/\bLATERAL\b/i, 'lateral'],
  [/\bRECURSIVE\b/i, 'recursive'],
];

function vendorFeatures(text: string, lexed: Lexed, features: Set<string>): void {
  const stripped = stripStringsAndComments(text);
  for (const [re, feature] of VENDOR_PATTERNS) if (re.test(stripped)) features.add(feature);
  if (lexed.words.includes('OVER')) features.add('window');
}

function stripStringsAndComments(text: string): string {
  return text.replace(/'(?:[^'\\]|\\.|'')*'|--[^\n]*|\/\*[\s\S]*?\*\//g, "''");
}

/** Analysis of text that no dialect parses: kind from the leading keyword, tables from the tokens. */
function fromTokens(
  text: string, lexed: Lexed, dialect: Dialect, base: Pick<SqlInfo, 'params' | 'statementCount'>, parseError: string,
): SqlInfo {
  const kind = kindOfKeyword(leadingKeyword(text));
  const features = new Set<string>();
  const w = lexed.words;
  if (w.includes('JOIN')) features.add('join');
  if (w.includes('GROUP')) features.add('group-by');
  if (w.includes('HAVING')) features.add('having');
  if (w.includes('UNION')) features.add('union');
  if (w[0] === 'WITH') features.add('cte');
  if (kind === 'ddl') features.add('ddl');
  if (base.statementCount > 1) features.add('multi-statement');
  if (w.filter((x) => x === 'SELECT').length > 1 && w[0] !== 'WITH') features.add('subquery');
  vendorFeatures(text, lexed, features);
  const tables: string[] = [];
  const stripped = stripStringsAndComments(text);
  const re = /\b(?:FROM|JOIN|INTO|UPDATE|COPY|TABLE(?:\s+IF\s+(?:NOT\s+)?EXISTS)?)\s+([A-Za-z_][A-Za-z0-9_$]*(?:\.[A-Za-z_][A-Za-z0-9_$]*)?)/gi;
  for (let m = re.exec(stripped); m; m = re.exec(stripped)) {
    const t = m[1].toLowerCase();
    if (!t.includes(DYNAMIC_PLACEHOLDER_PREFIX) && !['select', 'set', 'where', 'values', 'only', 'lateral', 'stdin', 'stdout', 'program'].includes(t)) tables.push(t);
  }
  return {
    kind,
    tables: uniq(tables),
    columns: [],
    params: base.params,
    complexity: complexityOf(features),
    features: [...features].sort(),
    statementCount: base.statementCount,
    parsed: false,
    parseError,
    dialect,
  };
}

function uniq(xs: string[]): string[] {
  return [...new Set(xs)];
}

/**
 * How sure the caller is that the text is meant as SQL:
 * - `driver`: passed to a known database API (`pool.query`, `cur.execute`): any text that
 *   starts with a statement keyword is SQL, parsed or not;
 * - `unknown`: passed to a callee we do not know: only text that parses, names a table or is a
 *   statement that needs none, and does not read like a sentence ("Select an option.").
 */
export function isSqlText(text: string, confidence: 'driver' | 'unknown', dialect: Dialect): boolean {
  const keyword = leadingKeyword(text);
  if (!keyword || !STATEMENT_KEYWORDS.has(keyword)) return false;
  if (looksLikeProse(text)) return false;
  if (!hasStatementShape(keyword, text)) return false;
  if (confidence === 'driver') return true;
  const info = analyzeSql(text, dialect);
  if (!info.parsed) return false;
  if (info.kind === 'other') return false;
  return info.tables.length > 0 || info.kind === 'ddl';
}

/** The words every statement of a kind needs: a SELECT without FROM is still SQL only when it is not a lone word list. */
function hasStatementShape(keyword: string, text: string): boolean {
  const s = stripStringsAndComments(text);
  switch (keyword) {
    case 'SELECT':
      return /\bFROM\b/i.test(s) || /^\s*\(?\s*SELECT\s+(?:[\d'"$?:@(*-]|[A-Za-z_]\w*\s*\(|(?:NOW|CURRENT_\w+|TRUE|FALSE|NULL)\b)/i.test(s);
    case 'INSERT':
    case 'REPLACE':
      return /\bINTO\b|\bVALUES\b/i.test(s);
    case 'UPDATE':
      return /\bSET\b/i.test(s);
    case 'DELETE':
      return /\bFROM\b/i.test(s);
    case 'WITH':
      return /\bAS\s*\(/i.test(s);
    case 'CREATE':
    case 'DROP':
    case 'ALTER':
      return /\b(TABLE|INDEX|VIEW|SEQUENCE|SCHEMA|TRIGGER|FUNCTION|PROCEDURE|TYPE|EXTENSION|DATABASE|MATERIALIZED|UNIQUE|TEMP|TEMPORARY|VIRTUAL|DOMAIN|POLICY|ROLE|USER)\b/i.test(s);
    case 'SET':
      return /^\s*SET\s+(LOCAL\s+|SESSION\s+)?[A-Za-z_.]+\s*(=|TO\b)/i.test(s);
    case 'BEGIN':
    case 'COMMIT':
    case 'ROLLBACK':
    case 'END':
      return /^\s*[A-Za-z]+(\s+(TRANSACTION|WORK|DEFERRED|IMMEDIATE|EXCLUSIVE|ISOLATION\b.*|TO\s+(SAVEPOINT\s+)?\w+))?\s*;?\s*$/i.test(s);
    case 'START':
      return /^\s*START\s+TRANSACTION\b/i.test(s);
    case 'SHOW':
    case 'DESCRIBE':
    case 'USE':
    case 'TABLE':
      return /^\s*\w+\s+[A-Za-z_][\w.]*\s*;?\s*$/i.test(s);
    case 'EXECUTE':
    case 'EXEC':
    case 'DO':
      return false;
    default:
      return true;
  }
}

/**
 * Sentences in user-facing text: "Select an option.", "Delete this item?", "Update available".
 * SQL is rarely written in sentence case with closing punctuation and no SQL punctuation.
 */
function looksLikeProse(text: string): boolean {
  const t = text.trim();
  // A final `?` after a keyword or operator that takes a value is a placeholder, not a question
  // mark: "SELECT name FROM jobs LIMIT ?", "… WHERE id = ?".
  if (/(?:\b(?:LIMIT|OFFSET|FETCH|AND|OR|IN|IS|LIKE|ILIKE|BETWEEN|THEN|ELSE|SET|WHERE|BY|VALUES)|[=<>(,+*/%-])\s*\?$/i.test(t) && /\bFROM\b|\bINTO\b|\bSET\b|\bWHERE\b/i.test(t)) return false;
  if (/[.!?…]$/.test(t) && !/[=*(),;$]|\?\s*(,|\)|$)/.test(t.slice(0, -1))) return true;
  const words = t.split(/\s+/);
  const first = words[0] ?? '';
  const sentenceCase = /^[A-Z][a-z]+$/.test(first);
  if (sentenceCase && !/[=*(),;$?]/.test(t) && !words.slice(1).some((w) => /^[A-Z]{2,}$/.test(w))) {
    // "Select all from the list", "Delete from favourites": sentence-cased, no SQL punctuation,
    // no other upper-case keyword. Real SQL in that case ("Select id from jobs") still needs a
    // second SQL-ish token: an identifier with `_` or `.`.
    return !words.slice(1).some((w) => /[_.]/.test(w));
  }
  return false;
}
