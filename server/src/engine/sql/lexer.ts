/**
 * A token scanner for SQL text: just enough to find the leading keyword and the
 * parameter placeholders outside string literals, quoted identifiers and
 * comments. Parsing proper is node-sql-parser's job (see analyze.ts).
 */
import type { ParamStyle } from '../types';

export interface Placeholder {
  start: number;
  end: number;
  style: Exclude<ParamStyle, 'none'>;
  /** `1` for `$1`, `name` for `:name` / `%(name)s`, '' for `?` and `%s`. */
  name: string;
}

export interface Lexed {
  /** Upper-cased words outside strings and comments, in order (at most `wordLimit`). */
  words: string[];
  placeholders: Placeholder[];
  /** Character offsets of top-level `;` separators. */
  semicolons: number[];
}

const WORD = /[A-Za-z_][A-Za-z0-9_$]*/y;

/**
 * Scans `text` once. Strings ('...', E'...', "..."), backquoted identifiers,
 * dollar-quoted bodies ($tag$...$tag$), `--`, `#` (mysql) and block comments are skipped.
 */
export function lexSql(text: string, wordLimit = 4096): Lexed {
  const words: string[] = [];
  const placeholders: Placeholder[] = [];
  const semicolons: number[] = [];
  const n = text.length;
  let i = 0;
  while (i < n) {
    const c = text[i];
    if (c === "'" || c === '"' || c === '`') {
      i = skipQuoted(text, i, c);
      continue;
    }
    if (c === '-' && text[i + 1] === '-') {
      const eol = text.indexOf('\n', i);
      i = eol < 0 ? n : eol + 1;
      continue;
    }
    if (c === '/' && text[i + 1] === '*') {
      const close = text.indexOf('*/', i + 2);
      i = close < 0 ? n : close + 2;
      continue;
    }
    if (c === ';') {
      semicolons.push(i);
      i++;
      continue;
    }
    if (c === '$') {
      const m = /^\$(\d+)/.exec(text.slice(i, i + 12));
      if (m) {
        placeholders.push({ start: i, end: i + m[0].length, style: 'dollar', name: m[1] });
        i += m[0].length;
        continue;
      }
      const tag = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(text.slice(i, i + 64));
      if (tag) {
        const close = text.indexOf(tag[0], i + tag[0].length);
        i = close < 0 ? n : close + tag[0].length;
        continue;
      }
      i++;
      continue;
    }
    if (c === '?') {
      placeholders.push({ start: i, end: i + 1, style: 'question', name: '' });
      i++;
      continue;
    }
    if (c === '%') {
      if (text[i + 1] === 's') {
        placeholders.push({ start: i, end: i + 2, style: 'format', name: '' });
        i += 2;
        continue;
      }
      const m = /^%\(([A-Za-z_][A-Za-z0-9_]*)\)s/.exec(text.slice(i, i + 80));
      if (m) {
        placeholders.push({ start: i, end: i + m[0].length, style: 'pyformat', name: m[1] });
        i += m[0].length;
        continue;
      }
      i++;
      continue;
    }
    if (c === ':') {
      if (text[i + 1] === ':') {
        i += 2; // postgres cast `::type`
        continue;
      }
      const prev = i > 0 ? text[i - 1] : ' ';
      const m = /^:([A-Za-z_][A-Za-z0-9_]*)/.exec(text.slice(i, i + 80));
      if (m && !/[A-Za-z0-9_]/.test(prev)) {
        placeholders.push({ start: i, end: i + m[0].length, style: 'named', name: m[1] });
        i += m[0].length;
        continue;
      }
      i++;
      continue;
    }
    if (/[A-Za-z_]/.test(c)) {
      WORD.lastIndex = i;
      const m = WORD.exec(text);
      const w = m ? m[0] : c;
      if (words.length < wordLimit) words.push(w.toUpperCase());
      i += w.length;
      continue;
    }
    i++;
  }
  return { words, placeholders, semicolons };
}

function skipQuoted(text: string, i: number, quote: string): number {
  const n = text.length;
  let j = i + 1;
  while (j < n) {
    const c = text[j];
    if (c === '\\' && quote === "'") {
      j += 2;
      continue;
    }
    if (c === quote) {
      if (text[j + 1] === quote) {
        j += 2;
        continue;
      }
      return j + 1;
    }
    j++;
  }
  return n;
}

/** Statement keywords a SQL text may start with. */
export const STATEMENT_KEYWORDS = new Set([
  'SELECT', 'INSERT', 'UPDATE', 'DELETE', 'WITH', 'REPLACE', 'MERGE', 'UPSERT',
  'CREATE', 'ALTER', 'DROP', 'TRUNCATE', 'RENAME', 'COMMENT',
  'BEGIN', 'COMMIT', 'ROLLBACK', 'SAVEPOINT', 'RELEASE', 'START', 'END',
  'PRAGMA', 'VACUUM', 'ANALYZE', 'EXPLAIN', 'GRANT', 'REVOKE', 'SHOW', 'DESCRIBE',
  'CALL', 'EXEC', 'EXECUTE', 'COPY', 'LOCK', 'UNLOCK', 'LISTEN', 'NOTIFY', 'SET', 'USE', 'REINDEX', 'ATTACH', 'DETACH', 'VALUES', 'TABLE', 'REFRESH', 'DO',
]);

export const TRANSACTION_KEYWORDS = new Set(['BEGIN', 'COMMIT', 'ROLLBACK', 'START', 'END', 'SAVEPOINT', 'RELEASE']);

/** The first word of the SQL text, upper-cased, skipping leading comments, whitespace and `(`. */
export function leadingKeyword(text: string): string | undefined {
  let i = 0;
  const n = Math.min(text.length, 100_000);
  while (i < n) {
    const c = text[i];
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '(' || c === '\uFEFF') {
      i++;
    } else if (c === '-' && text[i + 1] === '-') {
      const eol = text.indexOf('\n', i);
      if (eol < 0) return undefined;
      i = eol + 1;
    } else if (c === '/' && text[i + 1] === '*') {
      const close = text.indexOf('*/', i + 2);
      if (close < 0) return undefined;
      i = close + 2;
    } else {
      break;
    }
  }
  WORD.lastIndex = i;
  const m = WORD.exec(text);
  return m && m.index === i ? m[0].toUpperCase() : undefined;
}
