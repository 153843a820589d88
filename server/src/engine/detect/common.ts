/**
 * Pieces both language detectors share: turning a recovered SQL text into a
 * `raw-sql` finding, and building session-pattern findings. Detectors decide
 * *where* SQL is; this module decides *what it means*.
 */
import { analyzeSql, DYNAMIC_PLACEHOLDER_PREFIX } from '../sql/analyze';
import type { Dialect, Finding, Language, Range, RecoveredSql, RuleId, SqlInfo } from '../types';

/** The dialect a driver speaks, or undefined when the driver does not tell. */
export function dialectForDriver(driver: string): Dialect | undefined {
  switch (driver) {
    case 'pg': case 'pg-promise': case 'sql-tag': case 'asyncpg': case 'psycopg2': case 'psycopg': case 'slonik': case 'postgres':
      return 'postgresql';
    case 'mysql2': case 'mysql': case 'pymysql': case 'mysqlclient':
      return 'mysql';
    case 'better-sqlite3': case 'sqlite3': case 'sqlite':
      return 'sqlite';
    default:
      return undefined;
  }
}

/** A placeholder for the n-th runtime part of a dynamic SQL text; it parses as an identifier. */
export function dynamicPlaceholder(n: number): string {
  return `${DYNAMIC_PLACEHOLDER_PREFIX}${n}__`;
}

export interface RawSqlSite {
  range: Range;
  language: Language;
  driver: string;
  callee: string;
  sql: RecoveredSql;
  dialect: Dialect;
}

export function rawSqlFinding(site: RawSqlSite): Finding {
  const info = analyzeSql(site.sql.text, site.dialect);
  return {
    rule: 'raw-sql',
    range: site.range,
    language: site.language,
    driver: site.driver,
    kind: info.kind,
    tables: info.tables,
    complexity: info.complexity,
    dynamic: site.sql.dynamic,
    message: rawSqlMessage(site, info),
    sql: site.sql,
    info,
    callee: site.callee,
    exception: null,
  };
}

export function rawSqlMessage(site: Pick<RawSqlSite, "callee" | "sql">, info: SqlInfo): string {
  const what = info.kind === 'other' || info.kind === 'ddl' ? (info.kind === 'ddl' ? 'DDL' : 'statement') : info.kind.toUpperCase();
  const on = info.tables.length ? ` on ${info.tables.join(', ')}` : '';
  let msg = `Raw SQL ${what}${on} via ${site.callee} (${info.complexity})`;
  if (site.sql.dynamic) {
    msg += `: built at run time from ${site.sql.dynamicParts.map((p) => '`' + truncate(p, 40) + '`').join(', ') || 'runtime values'}, an injection risk`;
  }
  if (!info.parsed) msg += `; the SQL does not parse (${info.parseError})`;
  return msg;
}

export interface SessionSite {
  rule: Extract<RuleId, 'session-legacy-query' | 'session-usage' | 'sync-in-async' | 'manual-transaction'>;
  range: Range;
  language: Language;
  driver: string;
  kind: Finding['kind'];
  message: string;
  callee: string;
  entities?: string[];
  tables?: string[];
  complexity?: Finding['complexity'];
  dynamic?: boolean;
  sql?: RecoveredSql;
  info?: SqlInfo;
}

export function sessionFinding(site: SessionSite): Finding {
  return {
    rule: site.rule,
    range: site.range,
    language: site.language,
    driver: site.driver,
    kind: site.kind,
    tables: site.tables ?? [],
    complexity: site.complexity ?? 'simple',
    dynamic: site.dynamic ?? false,
    message: site.message,
    sql: site.sql,
    info: site.info,
    entities: site.entities,
    callee: site.callee,
    exception: null,
  };
}

export function truncate(s: string, n: number): string {
  const one = s.replace(/\s+/g, ' ');
  return one.length > n ? one.slice(0, n - 1) + '…' : one;
}
