/**
 * CREATE TABLE statements found in one file, read with node-sql-parser (the SQL layer's parser,
 * every dialect tried, the likely one first, as analyze.ts does):
 *
 *   SCHEMA = """CREATE TABLE jobs (id SERIAL PRIMARY KEY, name VARCHAR(200) NOT NULL)"""
 *     → [{ table: 'jobs', dialect: 'postgresql', columns: [
 *          { name: 'id', sqlType: 'SERIAL', primaryKey: true, nullable: false, autoIncrement: true, … },
 *          { name: 'name', sqlType: 'VARCHAR(200)', nullable: false, … }], problems: [] }]
 *
 * Sources: a .sql file; SQL string literals in .py (tree-sitter; f-strings with interpolations are
 * skipped) and .ts/.js (the TypeScript scanner; templates with substitutions are skipped). The
 * AST gives the structure (columns, keys, references, constraints); the statement's own text
 * gives each column's type and DEFAULT as written, so nothing is re-printed. What the reader
 * cannot place is a problem of the table, never a guess.
 */
import { Parser } from 'node-sql-parser';
import * as ts from 'typescript';
import type { Node } from 'web-tree-sitter';
import { decodeString } from '../../detect/python/strings';
import { lexSql } from '../../sql/lexer';
import type { Dialect, Range } from '../../types';
import { parse } from './tree';

export interface DdlColumn {
  name: string;
  /** The type as written, whitespace collapsed (`VARCHAR(200)`, `TIMESTAMP WITH TIME ZONE`); '' when none. */
  sqlType: string;
  nullable: boolean;
  /** Declared NOT NULL (a primary key may be non-null without it). */
  notNull: boolean;
  primaryKey: boolean;
  unique: boolean;
  /** AUTO_INCREMENT (MySQL) / AUTOINCREMENT (SQLite) written on the column. */
  autoIncrement: boolean;
  /** The DEFAULT expression as written (`'new'`, `0`, `now()`, `CURRENT_TIMESTAMP`). */
  default?: string;
  foreignKey?: { table: string; column: string; onDelete?: string; onUpdate?: string; name?: string };
}

/** A table constraint with no column-level form: UNIQUE over several columns (or named), CHECK (column or table level). */
export type DdlConstraint =
  | { kind: 'unique'; columns: string[]; name?: string }
  | { kind: 'check'; /** The expression inside CHECK ( … ), as written. */ sql: string; name?: string };

export interface DdlTable {
  table: string;
  /** `public` in `public.jobs`. */
  schema?: string;
  columns: DdlColumn[];
  /** Primary key columns in key order. */
  primaryKey: string[];
  /** Multi-column or named UNIQUE and every CHECK, in statement order. */
  constraints: DdlConstraint[];
  /** The dialect whose grammar read the statement. */
  dialect: Dialect;
  file: string;
  /** The statement in the file (the whole string literal when the SQL sits in an escaped literal). */
  range: Range;
  /** The statement's text. */
  sql: string;
  /** MySQL table options read (`engine`, `charset`, `collate`). */
  options: Record<string, string>;
  /** What could not be read or has no column-level form (CHECK, composite keys, …). */
  problems: string[];
}

const DIALECTS: Dialect[] = ['postgresql', 'mysql', 'sqlite'];
let parser: Parser | undefined;

/**
 * The dialect a text is written for, from words only one of them uses; undefined when none shows.
 * A script's statements share its dialect (a plain `CREATE TABLE counters (…)` in a PostgreSQL
 * schema file is PostgreSQL: its INTEGER PRIMARY KEY is no rowid).
 */
function hintedDialect(sql: string): Dialect | undefined {
  if (/\b(SERIAL|BIGSERIAL|SMALLSERIAL|SERIAL4|SERIAL8|TIMESTAMPTZ|JSONB|BYTEA|UUID|CITEXT|INET)\b|::|\bWITH(OUT)?\s+TIME\s+ZONE\b/i.test(sql)) return 'postgresql';
  if (/\bAUTO_INCREMENT\b|`|\bENGINE\s*=|\bUNSIGNED\b/i.test(sql)) return 'mysql';
  if (/\bAUTOINCREMENT\b|\bWITHOUT\s+ROWID\b|\bsqlite3\b|\.executescript\b/i.test(sql)) return 'sqlite';
  return undefined;
}

// --- text of one statement ---------------------------------------------------------------------

interface Tok {
  kind: 'word' | 'string' | 'ident' | 'group' | 'punct' | 'number';
  text: string;
  start: number;
  end: number;
}

/** Tokens of `s` at depth 0 (a parenthesised group is one token); comments skipped. */
function tokens(s: string, from = 0, to = s.length): Tok[] {
  const out: Tok[] = [];
  let i = from;
  while (i < to) {
    const c = s[i];
    if (/\s/.test(c)) { i++; continue; }
    if (c === '-' && s[i + 1] === '-') { while (i < to && s[i] !== '\n') i++; continue; }
    if (c === '/' && s[i + 1] === '*') { const e = s.indexOf('*/', i + 2); i = e < 0 ? to : e + 2; continue; }
    const start = i;
    if (c === "'" || c === '"' || c === '`') {
      i++;
      while (i < to) {
        if (s[i] === c) { if (s[i + 1] === c) { i += 2; continue; } i++; break; }
        if (s[i] === '\\' && c === "'") { i += 2; continue; }
        i++;
      }
      out.push({ kind: c === "'" ? 'string' : 'ident', text: s.slice(start, i), start, end: i });
      continue;
    }
    if (c === '(') {
      let depth = 0;
      while (i < to) {
        const d = s[i];
        if (d === "'" || d === '"' || d === '`') {
          i++;
          while (i < to && s[i] !== d) i++;
          i++;
          continue;
        }
        if (d === '(') depth++;
        if (d === ')') { depth--; if (depth === 0) { i++; break; } }
        i++;
      }
      out.push({ kind: 'group', text: s.slice(start, i), start, end: i });
      continue;
    }
    if (/[A-Za-z_]/.test(c)) {
      while (i < to && /[A-Za-z0-9_$]/.test(s[i])) i++;
      out.push({ kind: 'word', text: s.slice(start, i), start, end: i });
      continue;
    }
    if (/[0-9.]/.test(c)) {
      while (i < to && /[0-9.eE]/.test(s[i])) i++;
      out.push({ kind: 'number', text: s.slice(start, i), start, end: i });
      continue;
    }
    if (c === ':' && s[i + 1] === ':') { i += 2; out.push({ kind: 'punct', text: '::', start, end: i }); continue; }
    i++;
    out.push({ kind: 'punct', text: c, start, end: i });
  }
  return out;
}

/** The column definitions' texts: the body of `CREATE TABLE name (…)` split at top-level commas. */
function definitionTexts(sql: string): string[] | undefined {
  const toks = tokens(sql);
  const group = toks.find((t) => t.kind === 'group');
  if (!group) return undefined;
  const body = group.text.slice(1, -1);
  const parts: string[] = [];
  let last = 0;
  for (const t of tokens(body)) {
    if (t.kind === 'punct' && t.text === ',') {
      parts.push(body.slice(last, t.start));
      last = t.end;
    }
  }
  parts.push(body.slice(last));
  return parts.map((p) => p.trim()).filter(Boolean);
}

const CONSTRAINT_WORDS = new Set(['NOT', 'NULL', 'PRIMARY', 'UNIQUE', 'DEFAULT', 'REFERENCES', 'CHECK', 'CONSTRAINT', 'COLLATE', 'GENERATED', 'AUTO_INCREMENT', 'AUTOINCREMENT', 'COMMENT', 'ON', 'AS', 'KEY', 'IDENTITY']);

/** Type and DEFAULT texts of one column definition, as written. */
function columnTexts(def: string): { type: string; default?: string } {
  const toks = tokens(def);
  let i = 1;
  const typeToks: Tok[] = [];
  while (i < toks.length && !(toks[i].kind === 'word' && CONSTRAINT_WORDS.has(toks[i].text.toUpperCase()))) typeToks.push(toks[i++]);
  const type = typeToks.length ? def.slice(typeToks[0].start, typeToks[typeToks.length - 1].end).replace(/\s+/g, ' ') : '';
  let dflt: string | undefined;
  const d = toks.findIndex((t) => t.kind === 'word' && t.text.toUpperCase() === 'DEFAULT');
  if (d >= 0 && d + 1 < toks.length) {
    let j = d + 1;
    const first = j;
    j++;
    // A default runs to the next constraint word (`now()` is two tokens; `'a' || 'b'` three).
    while (j < toks.length && !(toks[j].kind === 'word' && CONSTRAINT_WORDS.has(toks[j].text.toUpperCase()) && !['NULL'].includes(toks[j].text.toUpperCase()))) j++;
    dflt = def.slice(toks[first].start, toks[j - 1].end).trim();
  }
  return { type, default: dflt };
}

/** The expression of the first `CHECK ( … )` in a definition, as written. */
function checkOf(def: string): string | undefined {
  const toks = tokens(def);
  const i = toks.findIndex((t) => t.kind === 'word' && t.text.toUpperCase() === 'CHECK');
  const g = toks[i + 1];
  return i >= 0 && g?.kind === 'group' ? g.text.slice(1, -1).trim() : undefined;
}

/** A column definition's CHECKs (named or not) and its named constraints of other kinds (not mapped). */
function columnConstraints(def: string): { checks: Array<{ sql: string; name?: string }>; problems: string[] } {
  const toks = tokens(def);
  const checks: Array<{ sql: string; name?: string }> = [];
  const problems: string[] = [];
  for (let i = 1; i < toks.length; i++) {
    const w = toks[i].kind === 'word' ? toks[i].text.toUpperCase() : '';
    if (w === 'CONSTRAINT') {
      const name = toks[i + 1]?.text.replace(/^["`]|["`]$/g, '');
      const next = toks[i + 2]?.kind === 'word' ? toks[i + 2].text.toUpperCase() : '';
      if (next === 'CHECK' && toks[i + 3]?.kind === 'group') {
        checks.push({ sql: toks[i + 3].text.slice(1, -1).trim(), name });
        i += 3;
      } else {
        const kind = next === 'NOT' ? 'NOT NULL' : next === 'PRIMARY' ? 'PRIMARY KEY' : next || 'column';
        problems.push(`a named ${kind} constraint (CONSTRAINT ${name})`);
        i += 1;
      }
    } else if (w === 'CHECK') {
      if (toks[i + 1]?.kind === 'group') {
        checks.push({ sql: toks[i + 1].text.slice(1, -1).trim() });
        i += 1;
      } else problems.push('a CHECK constraint could not be read');
    }
  }
  return { checks, problems };
}

// --- the AST -------------------------------------------------------------------------------------

type J = Record<string, unknown> | null | undefined;

function nameOf(ref: unknown): string | undefined {
  if (typeof ref === 'string') return ref;
  const r = ref as J;
  if (!r) return undefined;
  if (typeof r.column === 'string') return r.column;
  if (r.column) return nameOf(r.column);
  const expr = r.expr as J;
  if (expr && typeof expr.value === 'string') return expr.value;
  if (typeof r.value === 'string') return r.value;
  return undefined;
}

function refTable(def: J): { table: string; column: string; onDelete?: string; onUpdate?: string } | { problem: string } | undefined {
  if (!def) return undefined;
  const tables = def.table as Array<{ table?: string; db?: string | null }> | undefined;
  const cols = (def.definition as unknown[] | undefined) ?? [];
  const t = tables?.[0];
  if (!t?.table) return { problem: 'a REFERENCES clause without a table' };
  if (cols.length !== 1) return { problem: `REFERENCES ${t.table} names ${cols.length} columns` };
  const column = nameOf(cols[0]);
  if (!column) return { problem: `REFERENCES ${t.table}: the column could not be read` };
  const out: { table: string; column: string; onDelete?: string; onUpdate?: string } = { table: t.db ? `${t.db}.${t.table}` : t.table, column };
  for (const a of (def.on_action as Array<{ type?: string; value?: { value?: string } | string }> | undefined) ?? []) {
    const v = typeof a.value === 'string' ? a.value : a.value?.value;
    if (!v) continue;
    if (/delete/i.test(a.type ?? '')) out.onDelete = v.toUpperCase();
    else if (/update/i.test(a.type ?? '')) out.onUpdate = v.toUpperCase();
  }
  if (def.match) return { problem: `REFERENCES ${t.table}: MATCH ${String(def.match)} has no SQLAlchemy ForeignKey form here` };
  return out;
}

function tableFromAst(stmt: J, sql: string, dialect: Dialect, file: string, range: Range): DdlTable | undefined {
  if (!stmt || stmt.type !== 'create' || stmt.keyword !== 'table') return undefined;
  const t = (stmt.table as Array<{ table?: string; db?: string | null }> | undefined)?.[0];
  if (!t?.table) return undefined;
  const problems: string[] = [];
  if (stmt.temporary) problems.push('a TEMPORARY table has no mapped class');
  if (stmt.unlogged || /^\s*CREATE\s+UNLOGGED\b/i.test(sql)) problems.push('an UNLOGGED table (the model would create a logged one)');
  if (stmt.query_expr || stmt.as) problems.push('CREATE TABLE … AS SELECT: the columns come from a query');
  if (stmt.like) problems.push('CREATE TABLE … LIKE: the columns come from another table');
  const defs = ((stmt.create_definitions as J[] | undefined) ?? []).filter(Boolean);
  const texts = definitionTexts(sql);
  if (!texts || texts.length !== defs.length) problems.push('the column definitions could not be matched with the statement text');
  const columns: DdlColumn[] = [];
  const primaryKey: string[] = [];
  const constraints: DdlConstraint[] = [];
  defs.forEach((d, i) => {
    if (!d) return;
    if (d.resource === 'column') {
      const name = nameOf(d.column) ?? '';
      const txt = texts && texts.length === defs.length ? columnTexts(texts[i]) : { type: String((d.definition as J)?.dataType ?? '') };
      const notNull = ((d.nullable as J)?.type as string | undefined)?.toLowerCase() === 'not null';
      const pk = !!d.primary_key;
      const col: DdlColumn = {
        name,
        sqlType: txt.type,
        notNull,
        nullable: !notNull && !pk,
        primaryKey: pk,
        unique: !!d.unique || /^unique/i.test(String(d.unique_or_primary ?? '')),
        autoIncrement: !!d.auto_increment,
        default: txt.default,
      };
      if (pk) primaryKey.push(name);
      const named = texts && texts.length === defs.length ? columnConstraints(texts[i]) : undefined;
      if (named) {
        for (const c of named.checks) constraints.push({ kind: 'check', sql: c.sql, ...(c.name ? { name: c.name } : {}) });
        for (const p of named.problems) problems.push(`column ${name}: ${p}`);
      } else if (d.check) problems.push(`column ${name}: a CHECK constraint could not be read`);
      if (d.generated) problems.push(`column ${name}: a GENERATED column`);
      if (d.collate) problems.push(`column ${name}: COLLATE`);
      if (d.comment) problems.push(`column ${name}: COMMENT`);
      if (d.character_set) problems.push(`column ${name}: CHARACTER SET`);
      const ref = refTable(d.reference_definition as J);
      if (ref && 'problem' in ref) problems.push(`column ${name}: ${ref.problem}`);
      else if (ref) col.foreignKey = ref;
      if (texts && texts.length === defs.length && /\bGENERATED\b|\bIDENTITY\b/i.test(texts[i]) && !d.generated) problems.push(`column ${name}: a GENERATED / IDENTITY column`);
      if (texts && texts.length === defs.length && /\bON\s+UPDATE\b/i.test(texts[i]) && !d.reference_definition) problems.push(`column ${name}: ON UPDATE`);
      columns.push(col);
      return;
    }
    if (d.resource === 'constraint') {
      const kind = String(d.constraint_type ?? '').toLowerCase();
      const cols = ((d.definition as unknown[] | undefined) ?? []).map((c) => nameOf(c));
      const text = texts && texts.length === defs.length ? texts[i] : undefined;
      const label = text ? text.replace(/\s+/g, ' ') : d.constraint ? `CONSTRAINT ${String(d.constraint)}` : kind.toUpperCase();
      const cname = typeof d.constraint === 'string' && d.constraint ? d.constraint : typeof d.index === 'string' && d.index ? d.index : undefined;
      if (kind === 'primary key') {
        if (cols.some((c) => !c)) problems.push('PRIMARY KEY: a column could not be read');
        // PostgreSQL names an unnamed key <table>_pkey; any other name would be lost.
        if (cname && cname !== `${t.table}_pkey`) problems.push(`${label}: a named PRIMARY KEY constraint`);
        for (const c of cols) if (c && !primaryKey.includes(c)) primaryKey.push(c);
      } else if (kind === 'unique' || kind === 'unique key' || kind === 'unique index') {
        if (cols.some((c) => !c || !columns.some((x) => x.name === c))) problems.push(`${label}: UNIQUE (${cols.join(', ')}) names no column of the table`);
        else if (cols.length === 1 && !cname) columns.find((x) => x.name === cols[0])!.unique = true;
        else constraints.push({ kind: 'unique', columns: cols as string[], ...(cname ? { name: cname } : {}) });
      } else if (kind === 'foreign key') {
        const ref = refTable(d.reference_definition as J);
        if (cols.length !== 1 || !cols[0]) problems.push(`${label}: FOREIGN KEY (${cols.join(', ')}) over several columns`);
        else if (ref && 'problem' in ref) problems.push(`${label}: ${ref.problem}`);
        else if (ref) {
          const c = columns.find((x) => x.name === cols[0]);
          if (!c) problems.push(`${label}: FOREIGN KEY (${cols[0]}) names no column of the table`);
          else if (c.foreignKey) problems.push(`column ${c.name}: two REFERENCES clauses`);
          else c.foreignKey = cname ? { ...ref, name: cname } : ref;
        }
      } else if (kind === 'check') {
        const check = text ? checkOf(text) : undefined;
        if (check) constraints.push({ kind: 'check', sql: check, ...(cname ? { name: cname } : {}) });
        else problems.push(`${label}: the CHECK expression could not be read`);
      } else {
        problems.push(`${label}: a ${kind || 'table'} constraint`);
      }
      return;
    }
    problems.push(`a table-level ${String(d.resource ?? 'definition')} (${String(d.keyword ?? d.index ?? '')})`.replace(/ \(\)$/, ''));
  });
  for (const c of columns) {
    if (primaryKey.includes(c.name)) {
      c.primaryKey = true;
      c.nullable = false;
    }
  }
  for (const p of primaryKey) if (!columns.some((c) => c.name === p)) problems.push(`PRIMARY KEY (${p}) names no column of the table`);
  const options: Record<string, string> = {};
  for (const o of (stmt.table_options as Array<{ keyword?: string; value?: unknown }> | null | undefined) ?? []) {
    const key = String(o.keyword ?? '').toLowerCase().replace(/^default\s+/, '').replace(/\s+/g, ' ');
    const raw = o.value && typeof o.value === 'object' ? (o.value as { value?: unknown }).value : o.value;
    const value = typeof raw === 'string' || typeof raw === 'number' ? String(raw) : undefined;
    const known = key === 'engine' ? 'engine' : key === 'charset' || key === 'character set' ? 'charset' : key === 'collate' ? 'collate' : undefined;
    if (dialect === 'mysql' && known && value !== undefined && /^\w+$/.test(value)) options[known] = value;
    else problems.push(`the table option ${key.toUpperCase() || JSON.stringify(o).slice(0, 60)}`);
  }
  return { table: t.table, schema: t.db ?? undefined, columns, primaryKey, constraints, dialect, file, range, sql, options, problems };
}

/** One CREATE TABLE statement, every dialect tried (the guessed one first). */
function readCreateTable(sql: string, file: string, range: Range, scriptDialect: Dialect | undefined): DdlTable | undefined {
  if (sql.length > 64 * 1024) return undefined;
  parser ??= new Parser();
  const guess = hintedDialect(sql) ?? scriptDialect ?? 'sqlite';
  let firstError: string | undefined;
  for (const d of [guess, ...DIALECTS.filter((x) => x !== guess)]) {
    try {
      const ast = parser.astify(sql, { database: d }) as unknown;
      const stmts = (Array.isArray(ast) ? ast : [ast]) as J[];
      if (stmts.length !== 1) continue;
      return tableFromAst(stmts[0], sql, d, file, range);
    } catch (e) {
      firstError ??= (e as Error)?.message?.slice(0, 200) ?? String(e);
    }
  }
  const name = /CREATE\s+(?:TEMP(?:ORARY)?\s+|UNLOGGED\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?([`"\w.]+)/i.exec(sql)?.[1]?.replace(/[`"]/g, '');
  if (!name) return undefined;
  const parts = name.split('.');
  return { table: parts[parts.length - 1], schema: parts.length > 1 ? parts[0] : undefined, columns: [], primaryKey: [], constraints: [], dialect: guess, file, range, sql, options: {}, problems: [`the statement does not parse in any dialect: ${firstError ?? 'unknown error'}`] };
}

// --- where SQL sits ------------------------------------------------------------------------------

function positionAt(lineStarts: number[], offset: number): Range['start'] {
  let lo = 0;
  let hi = lineStarts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (lineStarts[mid] <= offset) lo = mid;
    else hi = mid - 1;
  }
  return { line: lo, character: offset - lineStarts[lo] };
}

function lineStartsOf(text: string): number[] {
  const out = [0];
  for (let i = 0; i < text.length; i++) if (text[i] === '\n') out.push(i + 1);
  return out;
}

const CREATE_TABLE = /^\s*(?:(?:--[^\n]*\n|\/\*[\s\S]*?\*\/)\s*)*CREATE\s+(?:(?:GLOBAL|LOCAL)\s+)?(?:TEMP(?:ORARY)?\s+|UNLOGGED\s+)?TABLE\b/i;

/**
 * The CREATE TABLE statements of a SQL script. `base` is the script's offset in the file, or
 * undefined when the script is not a verbatim slice of it (then `whole` is every statement's range).
 */
function fromScript(script: string, file: string, lineStarts: number[], base: number | undefined, whole: Range, fileDialect: Dialect | undefined): DdlTable[] {
  if (!/CREATE\s/i.test(script)) return [];
  const scriptDialect = hintedDialect(script) ?? fileDialect;
  const out: DdlTable[] = [];
  const lexed = lexSql(script);
  let from = 0;
  for (const end of [...lexed.semicolons, script.length]) {
    const raw = script.slice(from, end);
    const start = from;
    from = end + 1;
    if (!CREATE_TABLE.test(raw)) continue;
    const lead = raw.length - raw.replace(/^(?:\s+|--[^\n]*|\/\*[\s\S]*?\*\/)*/, '').length;
    const sql = raw.slice(lead).trim();
    const range = base === undefined ? whole : { start: positionAt(lineStarts, base + start + lead), end: positionAt(lineStarts, base + start + lead + sql.length) };
    const t = readCreateTable(sql, file, range, scriptDialect);
    if (t) out.push(t);
  }
  return out;
}

/** The driver a Python file imports names its dialect. */
function pythonDialect(text: string): Dialect | undefined {
  if (/^\s*(import|from)\s+(psycopg2?|asyncpg|pg8000)\b/m.test(text) || /create_(async_)?engine\(\s*["']postgres/.test(text)) return 'postgresql';
  if (/^\s*(import|from)\s+(pymysql|MySQLdb|mysql\.connector|aiomysql)\b/m.test(text) || /create_(async_)?engine\(\s*["']mysql/.test(text)) return 'mysql';
  if (/^\s*(import|from)\s+(sqlite3|aiosqlite)\b/m.test(text) || /create_(async_)?engine\(\s*["']sqlite/.test(text)) return 'sqlite';
  return undefined;
}

/** The driver a TS/JS file imports names its dialect. */
function tsDialect(text: string): Dialect | undefined {
  if (/from\s+['"](pg|postgres|pg-promise)['"]|require\(\s*['"](pg|postgres)['"]\s*\)|client:\s*['"](pg|postgres(ql)?)['"]/.test(text)) return 'postgresql';
  if (/from\s+['"](mysql2?(\/promise)?)['"]|require\(\s*['"]mysql2?(\/promise)?['"]\s*\)|client:\s*['"]mysql2?['"]/.test(text)) return 'mysql';
  if (/from\s+['"](better-sqlite3|sqlite3?)['"]|require\(\s*['"](better-sqlite3|sqlite3?)['"]\s*\)|client:\s*['"](better-sqlite3|sqlite3)['"]/.test(text)) return 'sqlite';
  return undefined;
}

function fromPython(text: string, file: string, lineStarts: number[]): DdlTable[] {
  const fileDialect = pythonDialect(text);
  const tree = parse(text);
  if ('reason' in tree) return [];
  try {
    const out: DdlTable[] = [];
    const stack: Node[] = [tree.rootNode];
    while (stack.length) {
      const n = stack.pop()!;
      if (n.type === 'string') {
        if (n.endIndex - n.startIndex < 12 || !/create\s/i.test(n.text)) continue;
        const s = decodeString(n);
        if (s.hasInterpolation || s.prefix.includes('b')) continue;
        const contents = n.children.filter((c): c is Node => !!c && c.type === 'string_content');
        const script = s.pieces.map((p) => ('text' in p ? p.text : '')).join('');
        const verbatim = contents.length === 1 && contents[0].text === script;
        const whole = { start: { line: n.startPosition.row, character: n.startPosition.column }, end: { line: n.endPosition.row, character: n.endPosition.column } };
        out.push(...fromScript(script, file, lineStarts, verbatim ? contents[0].startIndex : undefined, whole, fileDialect));
        continue;
      }
      for (let i = n.namedChildCount - 1; i >= 0; i--) {
        const c = n.namedChild(i);
        if (c) stack.push(c);
      }
    }
    return out;
  } finally {
    tree.delete();
  }
}

function fromTypeScript(text: string, file: string, lineStarts: number[]): DdlTable[] {
  const fileDialect = tsDialect(text);
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false, /\.tsx$|\.jsx$/.test(file) ? ts.ScriptKind.TSX : undefined);
  const out: DdlTable[] = [];
  const stack: ts.Node[] = [sf];
  while (stack.length) {
    const n = stack.pop()!;
    if (ts.isStringLiteral(n) || ts.isNoSubstitutionTemplateLiteral(n)) {
      const script = n.text;
      if (/create\s/i.test(script)) {
        const start = n.getStart(sf);
        const rawInner = text.slice(start + 1, n.end - 1);
        const whole = { start: positionAt(lineStarts, start), end: positionAt(lineStarts, n.end) };
        out.push(...fromScript(script, file, lineStarts, rawInner === script ? start + 1 : undefined, whole, fileDialect));
      }
      continue;
    }
    const kids: ts.Node[] = [];
    n.forEachChild((c) => {
      kids.push(c);
    });
    for (let i = kids.length - 1; i >= 0; i--) stack.push(kids[i]);
  }
  return out;
}

/** CREATE TABLE statements found in one file (.sql, .py, .ts/.js and friends). Never throws. */
export function createTablesIn(text: string, file: string): DdlTable[] {
  try {
    if (!/create\s/i.test(text)) return [];
    const lineStarts = lineStartsOf(text);
    const whole = { start: { line: 0, character: 0 }, end: positionAt(lineStarts, text.length) };
    if (/\.sql$/i.test(file)) return fromScript(text, file, lineStarts, 0, whole, undefined);
    if (/\.pyi?$/i.test(file)) return fromPython(text, file, lineStarts);
    if (/\.(c|m)?(t|j)sx?$/i.test(file)) return fromTypeScript(text, file, lineStarts);
    return [];
  } catch {
    return [];
  }
}
