/**
 * A small, safe SQL layout for hovers: one clause per line, never touching the inside of
 * string literals, quoted identifiers or comments, runtime parts shown as `${part}`.
 *
 *   select id, name from users u join teams t on t.id = u.team_id where u.id = $1
 *   →
 *   select id, name
 *   from users u
 *   join teams t on t.id = u.team_id
 *   where u.id = $1
 *
 * Display only: the text is never written back to a file.
 */
import { DYNAMIC_PLACEHOLDER_PREFIX } from '../engine/sql/analyze';

const CLAUSES = [
  'select', 'from', 'where', 'group by', 'having', 'order by', 'limit', 'offset', 'returning',
  'values', 'set', 'on conflict', 'on duplicate key update', 'union all', 'union', 'intersect', 'except',
  'left outer join', 'right outer join', 'full outer join', 'left join', 'right join', 'inner join', 'full join', 'cross join', 'join',
  'insert into', 'update', 'delete from', 'with', 'window', 'for update',
];

/** Detectors number runtime parts from 1: `__sqlm_dyn_1__` is dynamicParts[0]. */
const DYNAMIC = new RegExp(`${DYNAMIC_PLACEHOLDER_PREFIX}(\\d+)__`, 'g');

/** Splits text into code and opaque (quoted / comment) chunks. */
function chunks(sql: string): Array<{ code: boolean; text: string }> {
  const out: Array<{ code: boolean; text: string }> = [];
  let i = 0;
  let start = 0;
  const push = (code: boolean, end: number) => {
    if (end > start) out.push({ code, text: sql.slice(start, end) });
    start = end;
  };
  while (i < sql.length) {
    const c = sql[i];
    if (c === "'" || c === '"' || c === '`') {
      push(true, i);
      let j = i + 1;
      while (j < sql.length) {
        if (sql[j] === c) {
          if (sql[j + 1] === c) { j += 2; continue; }
          break;
        }
        if (sql[j] === '\\' && c === "'") j++;
        j++;
      }
      i = Math.min(j + 1, sql.length);
      push(false, i);
    } else if (c === '-' && sql[i + 1] === '-') {
      push(true, i);
      const j = sql.indexOf('\n', i);
      i = j < 0 ? sql.length : j;
      push(false, i);
    } else if (c === '/' && sql[i + 1] === '*') {
      push(true, i);
      const j = sql.indexOf('*/', i + 2);
      i = j < 0 ? sql.length : j + 2;
      push(false, i);
    } else if (c === '$' && /[A-Za-z_$]/.test(sql[i + 1] ?? '') && /^\$([A-Za-z_]\w*)?\$/.test(sql.slice(i))) {
      // PostgreSQL dollar quoting: $tag$ ... $tag$
      const tag = /^\$([A-Za-z_]\w*)?\$/.exec(sql.slice(i))![0];
      push(true, i);
      const j = sql.indexOf(tag, i + tag.length);
      i = j < 0 ? sql.length : j + tag.length;
      push(false, i);
    } else {
      i++;
    }
  }
  push(true, sql.length);
  return out;
}

export function formatSql(sql: string, dynamicParts: string[] = [], maxLength = 2000): string {
  let text = sql.trim();
  if (text.length > maxLength) text = text.slice(0, maxLength) + ' …';
  const pattern = new RegExp(`\\s+(${CLAUSES.map((c) => c.replace(/ /g, '\\s+')).join('|')})\\b`, 'gi');
  let depth = 0;
  const parts = chunks(text).map((ch) => {
    if (!ch.code) return ch.text;
    // Collapse whitespace, then break before top-level clauses only (not inside parentheses).
    let s = ch.text.replace(/\s+/g, ' ');
    let out = '';
    let last = 0;
    pattern.lastIndex = 0;
    let m: RegExpExecArray | null;
    const depthAt: number[] = [];
    for (let i = 0, d = depth; i <= s.length; i++) {
      depthAt[i] = d;
      if (s[i] === '(') d++;
      else if (s[i] === ')') d = Math.max(0, d - 1);
    }
    while ((m = pattern.exec(s))) {
      const at = m.index;
      const indent = '  '.repeat(depthAt[at]);
      out += s.slice(last, at) + '\n' + indent + m[1].replace(/\s+/g, ' ');
      last = at + m[0].length;
    }
    out += s.slice(last);
    depth = depthAt[s.length];
    s = out;
    return s;
  });
  const laidOut = parts.join('').replace(/^\n+/, '');
  return laidOut.replace(DYNAMIC, (_m, n: string) => '${' + (dynamicParts[Number(n) - 1] ?? `part ${n}`) + '}');
}
