/**
 * Plain data shared by every part of the engine. Nothing here knows about LSP,
 * VS Code or the file system: text goes in, findings and problems come out.
 */

/** Rule ids. The JSON contract of `sqlmigrate scan` relies on these names. */
export type RuleId =
  | 'raw-sql'
  | 'session-legacy-query'
  | 'session-usage'
  | 'sync-in-async'
  | 'manual-transaction'
  | 'exception-missing-reason';

export const RULES: readonly RuleId[] = [
  'raw-sql',
  'session-legacy-query',
  'session-usage',
  'sync-in-async',
  'manual-transaction',
  'exception-missing-reason',
];

export type Language = 'typescript' | 'javascript' | 'python';

/** SQL dialects understood by the SQL analyser. */
export type Dialect = 'postgresql' | 'mysql' | 'sqlite';

export type StatementKind = 'select' | 'insert' | 'update' | 'delete' | 'ddl' | 'other';

export type Complexity = 'simple' | 'medium' | 'complex';

export type ParamStyle = 'dollar' | 'question' | 'format' | 'pyformat' | 'named' | 'none';

/** A zero-based position, as in LSP, but owned by the engine. */
export interface Position {
  line: number;
  character: number;
}

export interface Range {
  start: Position;
  end: Position;
}

/**
 * The SQL text a detector recovered from the source. `text` is what the parser
 * sees: parts that depend on runtime values are replaced by placeholders
 * (`__sqlm_dyn_N__`) so the rest still parses.
 */
export interface RecoveredSql {
  text: string;
  /** true when part of the text depends on runtime values (f-string, `+ x`, `${x}`, ...). */
  dynamic: boolean;
  /** Source snippets of the runtime parts, in order (`table`, `where_clause`, ...). */
  dynamicParts: string[];
  /** Where the text came from: the literal at the call, a variable (`schema`), a template. */
  origin: 'literal' | 'variable' | 'template' | 'concatenation' | 'format';
  /** The variable name when origin is 'variable' (or a concatenation rooted in one). */
  variable?: string;
}

/** What the SQL analyser understood of one statement. */
export interface SqlInfo {
  kind: StatementKind;
  /** Tables read or written, lower-cased as written (schema-qualified names kept: `audit.log`). */
  tables: string[];
  /** Columns mentioned, as `table.column` when the table is known, else `column`. */
  columns: string[];
  params: { style: ParamStyle; count: number; names: string[] };
  complexity: Complexity;
  /** Why the complexity is what it is: `join`, `cte`, `window`, `on-conflict`, ... */
  features: string[];
  /** Number of statements in the text (an `executescript` may hold several). */
  statementCount: number;
  parsed: boolean;
  /** The parser's reason when `parsed` is false. */
  parseError?: string;
  dialect: Dialect;
}

export interface ExceptionInfo {
  reason: string;
  /** `inline` (a comment at the statement), `file` (a comment keeping the whole file) or `config`. */
  source: 'inline' | 'file' | 'config';
}

/** One finding, before paths are attached by the scanner. */
export interface Finding {
  rule: RuleId;
  /** The statement's call (or the session pattern's expression), zero-based. */
  range: Range;
  language: Language;
  /** `pg`, `mysql2`, `better-sqlite3`, `sqlite3`, `pg-promise`, `sql-tag`, `sequelize`, `typeorm`, `prisma`, `knex`, `psycopg2`, `psycopg`, `asyncpg`, `pymysql`, `sqlalchemy`, `dbapi`, `wrapper`, `unknown`. */
  driver: string;
  kind: StatementKind | 'session';
  tables: string[];
  complexity: Complexity;
  dynamic: boolean;
  /** Human text shown in diagnostics and reports. */
  message: string;
  /** The SQL as recovered, for raw-sql findings. */
  sql?: RecoveredSql;
  /** What the analyser understood of `sql`. */
  info?: SqlInfo;
  /** ORM entities (`Job`, `User`) for session findings. */
  entities?: string[];
  /** The callee as written (`pool.query`, `cur.execute`, `session.query`). */
  callee?: string;
  /**
   * When the driver is unknown in this file: the relative import the call's receiver came from
   * (`import { pool } from './pool'` → { module: './pool', name: 'pool' }), for DriverIndex.
   */
  via?: { module: string; name: string };
  exception: ExceptionInfo | null;
}

/** A problem with the input that did not stop the analysis (syntax errors, unreadable parts). */
export interface Problem {
  message: string;
  range?: Range;
}

/** A comment in the source, as the detector saw it. Used for `sqlmigrate-keep` exceptions. */
export interface SourceComment {
  /** Zero-based line of the comment's start. */
  line: number;
  /** Zero-based line of the comment's end. */
  endLine: number;
  /** The comment text without its markers (`//`, `#`, `/*`). */
  text: string;
  /** true when code precedes the comment on its line (a trailing comment). */
  trailing: boolean;
}

/** What a language detector returns for one file. */
export interface DetectorResult {
  findings: Finding[];
  comments: SourceComment[];
  problems: Problem[];
  /** ORM classes mapped in this file, with their table (`class Job: __tablename__ = "jobs"`). */
  models?: MappedModel[];
  /** Names this module exports bound to a driver's client (`export const pool = new Pool()` → { pool: 'pg' }; `default` for the default export). */
  driverExports?: Record<string, string>;
}

export interface MappedModel {
  name: string;
  table: string;
}

/** Options a detector receives; filled from `.sqlmigrate.json` with defaults. */
export interface DetectOptions {
  /** Dialect when the driver does not tell (config `dialect`). */
  defaultDialect: Dialect;
  /** Callees treated as raw SQL entry points, matched on their trailing text: `DB.query`, `execSql`. */
  wrappers: WrapperSpec[];
  /** Python session factories whose calls are `session-usage` findings: `get_session`. */
  sessionFactories: string[];
}

export interface WrapperSpec {
  /** The callee as written, matched against the end of the call's callee text: `DB.query`, `runSql`. */
  callee: string;
  /** Index of the argument holding the SQL (default 0). */
  sqlArgument: number;
  dialect?: Dialect;
}
