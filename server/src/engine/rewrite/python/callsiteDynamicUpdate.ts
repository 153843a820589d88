/**
 * The dynamic UPDATE shape: a SET list built from optional arguments.
 *
 *   sets = []                                          if name is None and status is None:
 *   params = []                                            return 0
 *   if name is not None:                               with get_session() as session:
 *       sets.append("name = %s")                  →        result = JobRepository(session).update_name_and_status_by_id(name, status, job_id)
 *       params.append(name)                                session.commit()
 *   if status is not None:                                 return result
 *       sets.append("status = %s")
 *       params.append(status)                      and the method:
 *   if not sets:                                       update(Job).where(Job.id == job_id)
 *       return 0                                         .values(**{k: v for k, v in {"name": name, "status": status}.items() if v is not None})
 *   params.append(job_id)
 *   with get_db() as conn, conn.cursor() as cur:
 *       cur.execute(f"UPDATE jobs SET {', '.join(sets)} WHERE id = %s", params)
 *       conn.commit()
 *       return cur.rowcount
 *
 * Only this exact pattern, statement by statement, directly before the `with` in the same block:
 * the two lists start empty; each `if <arg> is not None:` appends one `"<column> = <placeholder>"`
 * literal and the same plain name; the guard `if not sets:` holds one `return`/`raise` (without it
 * the original fails with a syntax error when every argument is None, and the rewrite would not);
 * the WHERE values are appended last as plain names; the f-string holds nothing else at run time;
 * the lists are used nowhere else. Anything else is refused with the reason.
 */
import type { Node } from 'web-tree-sitter';
import type { CallSite } from './callsiteShape';
import { referencesOf, unparen } from './callsiteShape';

export interface DynamicUpdate {
  /** The statement with the SET list written out in full (`UPDATE jobs SET name = %s, status = %s WHERE id = %s`). */
  sql: string;
  /** The optional arguments, in SET order. */
  optional: string[];
  /** The WHERE arguments, in order. */
  where: string[];
  /** The first statement of the pattern (the replacement starts there). */
  start: Node;
  guard?: { test: string; body: string };
}

function named(n: Node | null | undefined): Node[] {
  return n ? n.namedChildren.filter((c): c is Node => !!c) : [];
}

function exprOf(st: Node): Node | undefined {
  return st.type === 'expression_statement' && st.namedChildCount === 1 ? st.namedChild(0)! : undefined;
}

/** `<list>.append(<arg>)` as a statement → arg, or undefined. */
function appendArg(st: Node, list: string): Node | undefined {
  const e = exprOf(st);
  if (e?.type !== 'call') return undefined;
  const f = e.childForFieldName('function');
  if (f?.type !== 'attribute' || f.childForFieldName('object')?.text !== list || f.childForFieldName('attribute')?.text !== 'append') return undefined;
  const args = named(e.childForFieldName('arguments'));
  return args.length === 1 ? args[0] : undefined;
}

/** `x = []` → x. */
function emptyList(st: Node): string | undefined {
  const e = exprOf(st);
  if (e?.type !== 'assignment' || e.childForFieldName('type')) return undefined;
  const l = e.childForFieldName('left');
  const r = e.childForFieldName('right');
  return l?.type === 'identifier' && r?.type === 'list' && r.namedChildCount === 0 ? l.text : undefined;
}

/** A plain one-line string literal's value (no prefix, no escapes, no interpolation). */
function plainString(n: Node): string | undefined {
  const x = unparen(n);
  if (x.type !== 'string') return undefined;
  const m = /^(["'])([^"'\\{}\n]*)\1$/.exec(x.text);
  return m ? m[2] : undefined;
}

/** `f"…{', '.join(sets)}…"` → the text around the join and the list's name. */
function fstringJoin(n: Node): { before: string; after: string; list: string } | { reason: string } {
  const x = unparen(n);
  if (x.type !== 'string' || !/^f["']/i.test(x.text) || /^f("""|''')/i.test(x.text)) return { reason: 'the SQL is not a one-line f-string' };
  const interps = named(x).filter((c) => c.type === 'interpolation');
  if (interps.length !== 1) return { reason: 'the f-string has more than the SET list built at run time' };
  const inner = named(interps[0])[0];
  if (named(interps[0]).length !== 1 || inner?.type !== 'call') return { reason: `\`${interps[0].text}\` is not \`{', '.join(<list>)}\`` };
  const f = inner.childForFieldName('function');
  const sep = f?.type === 'attribute' ? plainString(f.childForFieldName('object')!) : undefined;
  const args = named(inner.childForFieldName('arguments'));
  if (f?.childForFieldName('attribute')?.text !== 'join' || (sep !== ', ' && sep !== ',') || args.length !== 1 || args[0].type !== 'identifier') return { reason: `\`${interps[0].text}\` is not \`{', '.join(<list>)}\`` };
  const quote = x.text[1];
  const body = x.text.slice(2, -1);
  const at = interps[0].startIndex - x.startIndex - 2;
  const before = body.slice(0, at);
  const after = body.slice(at + interps[0].text.length);
  if (/[{}\\]/.test(before + after) || (before + after).includes(quote)) return { reason: 'the f-string holds braces or escapes besides the SET list' };
  return { before, after, list: args[0].text };
}

const SET_ITEM = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(%s|\?)\s*$/;

export function recogniseDynamicUpdate(site: CallSite): DynamicUpdate | { reason: string } {
  const fs = fstringJoin(site.sqlArg);
  if ('reason' in fs) return fs;
  const sets = fs.list;
  if (!site.paramsArg) return { reason: 'the dynamic UPDATE passes no parameters' };
  let p = unparen(site.paramsArg);
  if (p.type === 'call' && p.childForFieldName('function')?.text === 'tuple' && named(p.childForFieldName('arguments')).length === 1) p = named(p.childForFieldName('arguments'))[0];
  if (p.type !== 'identifier') return { reason: 'the dynamic UPDATE\'s parameters are not the list built next to the SET list' };
  const params = p.text;
  if (params === sets) return { reason: 'the SET list and the parameters are the same list' };
  const block = site.replace.parent;
  if (block?.type !== 'block' && block?.type !== 'module') return { reason: 'the block is not inside a function body' };
  const stmts = named(block).filter((s) => s.type !== 'comment');
  const wIndex = stmts.findIndex((s) => s.id === site.replace.id);
  // Walk back to the earlier of `sets = []` / `params = []`.
  let first = -1;
  const inits = new Set<string>();
  for (let i = wIndex - 1; i >= 0 && first < 0; i--) {
    const l = emptyList(stmts[i]);
    if (l === sets || l === params) inits.add(l);
    if (inits.size === 2) first = i;
  }
  if (first < 0) return { reason: `\`${sets} = []\` and \`${params} = []\` are not in the same block before the \`with\`` };
  if (named(block).some((c) => c.type === 'comment' && c.startIndex > stmts[first].startIndex && c.endIndex < site.replace.startIndex)) return { reason: 'a comment among the statements that build the SET list would be lost' };
  const pattern = stmts.slice(first, wIndex);
  const seen = new Set<string>();
  const optional: string[] = [];
  const fragments: string[] = [];
  const where: string[] = [];
  let guard: DynamicUpdate['guard'];
  for (const st of pattern) {
    const l = emptyList(st);
    if (l === sets || l === params) {
      if (seen.has(l)) return { reason: `\`${l} = []\` twice` };
      seen.add(l);
      continue;
    }
    if (st.type === 'if_statement') {
      if (named(st).some((c) => c.type === 'else_clause' || c.type === 'elif_clause')) return { reason: 'an `if` with `else`/`elif` among the SET list statements' };
      const cond = unparen(st.childForFieldName('condition')!);
      const body = named(st.childForFieldName('consequence'));
      if (cond.type === 'not_operator' && unparen(cond.childForFieldName('argument')!).text === sets) {
        if (guard) return { reason: 'two guards on the SET list' };
        if (where.length) return { reason: 'the guard comes after the WHERE values' };
        if (body.length !== 1 || !(body[0].type === 'return_statement' || body[0].type === 'raise_statement') || body[0].text.includes('\n')) return { reason: `the guard \`if not ${sets}:\` does more than one \`return\` or \`raise\`` };
        for (const name of [sets, params]) if (referencesOf(body[0], name).length) return { reason: `the guard uses \`${name}\`` };
        guard = { test: '', body: body[0].text };
        continue;
      }
      const kids = named(cond);
      const ops = cond.children.filter((c) => c && !c.isNamed).map((c) => c!.text.replace(/\s+/g, ' '));
      if (cond.type !== 'comparison_operator' || kids.length !== 2 || ops.join() !== 'is not' || kids[0].type !== 'identifier' || unparen(kids[1]).type !== 'none') return { reason: `\`if ${cond.text}:\` is not \`if <argument> is not None:\`` };
      const arg = kids[0].text;
      if (guard || where.length) return { reason: 'an optional value after the guard or the WHERE values' };
      if (body.length !== 2) return { reason: `\`if ${arg} is not None:\` does more than append one SET item and its value` };
      const frag = body.map((b) => appendArg(b, sets)).find((x) => !!x);
      const val = body.map((b) => appendArg(b, params)).find((x) => !!x);
      const text = frag ? plainString(frag) : undefined;
      if (!frag || !val || text === undefined || !SET_ITEM.test(text)) return { reason: `\`if ${arg} is not None:\` does not append a literal \`"<column> = <placeholder>"\` and a value` };
      if (val.type !== 'identifier' || val.text !== arg) return { reason: `\`if ${arg} is not None:\` appends \`${val.text}\`, not \`${arg}\`` };
      if (optional.includes(arg)) return { reason: `\`${arg}\` is appended twice` };
      optional.push(arg);
      fragments.push(text.trim());
      continue;
    }
    const w = appendArg(st, params);
    if (w) {
      if (w.type !== 'identifier') return { reason: `the WHERE value \`${w.text}\` is not a plain name` };
      where.push(w.text);
      continue;
    }
    return { reason: `\`${st.text.split('\n')[0].slice(0, 80)}\` sits among the statements that build the SET list` };
  }
  if (seen.size !== 2) return { reason: `\`${sets} = []\` and \`${params} = []\` are not both there` };
  if (!optional.length) return { reason: 'no optional SET item' };
  if (!guard) return { reason: `no \`if not ${sets}:\` guard: when every argument is None the original fails with a syntax error (an empty SET list), which the rewrite would not reproduce; add the guard first` };
  guard.test = optional.map((a) => `${a} is None`).join(' and ');
  // The lists must live only in the pattern and the execute.
  const scope = site.scope;
  const end = site.replace.endIndex;
  for (const name of [sets, params]) {
    const outside = referencesOf(scope, name).filter((r) => r.startIndex < pattern[0].startIndex || r.endIndex > end);
    if (outside.length) return { reason: `\`${name}\` is also used at line ${outside[0].startPosition.row + 1}` };
  }
  const styles = new Set(fragments.map((f) => SET_ITEM.exec(f)![2]));
  if (styles.size !== 1) return { reason: 'the SET items mix placeholder styles' };
  const sql = `${fs.before}${fragments.join(', ')}${fs.after}`;
  return { sql, optional, where, start: pattern[0], guard };
}
