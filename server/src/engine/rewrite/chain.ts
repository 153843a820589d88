/**
 * Plan → Knex builder chain, still as data: `{ table, steps: [{ method, args }] }`.
 * Which builder method expresses each plan part lives here; how the chain is laid out in
 * source text lives in the templates (render.ts).
 *
 *   { kind: 'select', table: jobs, where: status = $1, limit: 10 }
 *     → { table: 'jobs', steps: [where('status', '=', <$1>), limit(10)] }
 */
import type { Cond, HavingCond, Plan, SelectPlan, Value, InsertPlan, UpdatePlan, DeletePlan, TableRef } from './plan';

export type Arg =
  | { t: 'str'; v: string }
  | { t: 'num'; v: number }
  | { t: 'bool'; v: boolean }
  | { t: 'null' }
  /** A parameter of the original call: rendered as its argument expression. */
  | { t: 'bind'; key: string }
  | { t: 'array'; items: Arg[] }
  | { t: 'object'; entries: Array<[string, Arg]> }
  | { t: 'now' }
  | { t: 'ref'; v: string }
  /** A fixed SQL fragment with identifier bindings (`count(??)`, ['id']); never holds values. */
  | { t: 'raw'; sql: string; idents: string[] }
  /** A fixed function around one bound value (`lower(?)`, [email]): the value stays a binding. */
  | { t: 'rawValue'; sql: string; value: Arg }
  | { t: 'fn'; param: string; steps: Step[] };

export interface Step {
  method: string;
  args: Arg[];
}

export interface Chain {
  kind: Plan['kind'];
  table: string;
  steps: Step[];
}

const str = (v: string): Arg => ({ t: 'str', v });

function valueArg(v: Value): Arg {
  switch (v.kind) {
    case 'param': return { t: 'bind', key: v.key };
    case 'now': return { t: 'now' };
    case 'rawsql': return { t: 'raw', sql: v.sql, idents: [] };
    case 'literal':
      if (v.value === null) return { t: 'null' };
      if (typeof v.value === 'number') return { t: 'num', v: v.value };
      if (typeof v.value === 'boolean') return { t: 'bool', v: v.value };
      return str(v.value);
  }
}

function tableName(t: TableRef): string {
  return t.alias ? `${t.name} as ${t.alias}` : t.name;
}

// ---- where ----------------------------------------------------------------------------------

function condStep(c: Cond, or: boolean, depth: number): Step {
  const m = (base: string) => (or ? 'or' + base[0].toUpperCase() + base.slice(1) : base);
  switch (c.kind) {
    case 'cmp': {
      // `.where(col, value)` turns a runtime null into IS NULL; the three-argument form keeps `=`.
      const literalEq = c.op === '=' && c.value.kind === 'literal' && c.value.value !== null;
      return { method: m('where'), args: literalEq ? [str(c.column), valueArg(c.value)] : [str(c.column), str(c.op), valueArg(c.value)] };
    }
    case 'colcmp':
      return { method: m('where'), args: [str(c.column), str(c.op), { t: 'ref', v: c.other }] };
    case 'in':
      return { method: m(c.not ? 'whereNotIn' : 'whereIn'), args: [str(c.column), { t: 'array', items: c.values.map(valueArg) }] };
    case 'between':
      return { method: m(c.not ? 'whereNotBetween' : 'whereBetween'), args: [str(c.column), { t: 'array', items: [valueArg(c.low), valueArg(c.high)] }] };
    case 'null':
      return { method: m(c.not ? 'whereNotNull' : 'whereNull'), args: [str(c.column)] };
    case 'fncmp': {
      const value: Arg = c.valueFn ? { t: 'rawValue', sql: `${c.fn}(?)`, value: valueArg(c.value) } : valueArg(c.value);
      return { method: m('where'), args: [{ t: 'raw', sql: `${c.fn}(??)`, idents: [c.column] }, str(c.op), value] };
    }
    case 'bool':
      // `where "active"` / `where not "disabled"`: the column itself, not `= true`, which is another
      // condition where the column holds values other than 0 and 1 (MySQL, SQLite).
      return { method: m(c.not ? 'whereNot' : 'where'), args: [{ t: 'raw', sql: '??', idents: [c.column] }] };
    case 'and':
    case 'or':
      return { method: m('where'), args: [{ t: 'fn', param: depth === 0 ? 'q' : `q${depth}`, steps: condSteps(c, depth + 1) }] };
  }
}

function condSteps(c: Cond, depth = 0): Step[] {
  if (c.kind === 'and') return c.items.map((it) => condStep(it, false, depth));
  if (c.kind === 'or') return c.items.map((it, i) => condStep(it, i > 0, depth));
  return [condStep(c, false, depth)];
}

// ---- statements -----------------------------------------------------------------------------

function aggArg(fn: string, arg: string, distinct: boolean, alias?: string): Step {
  const method = distinct ? `${fn}Distinct` : fn;
  return { method, args: [str(alias ? `${arg} as ${alias}` : arg)] };
}

function havingStep(h: HavingCond): Step {
  const sql = h.arg === '*' ? `${h.fn}(*)` : `${h.fn}(${h.distinct ? 'distinct ' : ''}??)`;
  return { method: 'having', args: [{ t: 'raw', sql, idents: h.arg === '*' ? [] : [h.arg] }, str(h.op), valueArg(h.value)] };
}

function selectChain(p: SelectPlan): Step[] {
  const steps: Step[] = [];
  const plain: Arg[] = [];
  const flush = () => {
    if (plain.length) steps.push({ method: p.distinct ? 'distinct' : 'select', args: plain.splice(0) });
  };
  const onlyStar = p.columns.length === 1 && p.columns[0].kind === 'star' && !p.columns[0].table;
  if (onlyStar) {
    if (p.distinct) steps.push({ method: 'distinct', args: [] });
  } else {
    for (const c of p.columns) {
      if (c.kind === 'agg') {
        flush();
        steps.push(aggArg(c.fn, c.arg, c.distinct, c.alias));
      } else if (c.kind === 'star') {
        plain.push(str(c.table ? `${c.table}.*` : '*'));
      } else {
        plain.push(str(c.alias ? `${c.name} as ${c.alias}` : c.name));
      }
    }
    flush();
  }
  for (const j of p.joins) {
    const method = j.type === 'left' ? 'leftJoin' : 'join';
    if (j.on.length === 1) {
      const on = j.on[0];
      steps.push({ method, args: on.op === '=' ? [str(tableName(j.table)), str(on.left), str(on.right)] : [str(tableName(j.table)), str(on.left), str(on.op), str(on.right)] });
    } else {
      const inner: Step[] = j.on.map((on, i) => ({ method: i === 0 ? 'on' : 'andOn', args: [str(on.left), str(on.op), str(on.right)] }));
      steps.push({ method, args: [str(tableName(j.table)), { t: 'fn', param: 'j', steps: inner }] });
    }
  }
  if (p.where) steps.push(...condSteps(p.where));
  if (p.groupBy.length) steps.push({ method: 'groupBy', args: p.groupBy.map(str) });
  for (const h of p.having) steps.push(havingStep(h));
  for (const o of p.orderBy) steps.push({ method: 'orderBy', args: o.dir === 'desc' ? [str(o.column), str('desc')] : [str(o.column)] });
  if (p.limit) steps.push({ method: 'limit', args: [valueArg(p.limit)] });
  if (p.offset) steps.push({ method: 'offset', args: [valueArg(p.offset)] });
  return steps;
}

function returningStep(cols: string[] | undefined): Step[] {
  if (!cols) return [];
  return [{ method: 'returning', args: [cols.length === 1 ? str(cols[0]) : { t: 'array', items: cols.map(str) }] }];
}

function insertChain(p: InsertPlan): Step[] {
  const objects: Arg[] = p.rows.map((row) => ({ t: 'object', entries: p.columns.map((c, i): [string, Arg] => [c, valueArg(row[i])]) }));
  const steps: Step[] = [{ method: 'insert', args: [objects.length === 1 ? objects[0] : { t: 'array', items: objects }] }];
  if (p.conflict) {
    const target = p.conflict.target;
    steps.push({ method: 'onConflict', args: target.length === 0 ? [] : target.length === 1 ? [str(target[0])] : [{ t: 'array', items: target.map(str) }] });
    steps.push(p.conflict.action === 'ignore' ? { method: 'ignore', args: [] } : { method: 'merge', args: [{ t: 'array', items: (p.conflict.merge ?? []).map(str) }] });
  }
  steps.push(...returningStep(p.returning));
  return steps;
}

function updateChain(p: UpdatePlan): Step[] {
  const steps: Step[] = p.where ? condSteps(p.where) : [];
  const plain = p.set.filter((s) => s.value.kind !== 'inc');
  if (plain.length) steps.push({ method: 'update', args: [{ t: 'object', entries: plain.map((s): [string, Arg] => [s.column, valueArg(s.value as Value)]) }] });
  for (const s of p.set) {
    if (s.value.kind !== 'inc') continue;
    steps.push({ method: s.value.sign > 0 ? 'increment' : 'decrement', args: [str(s.column), valueArg(s.value.amount)] });
  }
  steps.push(...returningStep(p.returning));
  return steps;
}

function deleteChain(p: DeletePlan): Step[] {
  const steps: Step[] = p.where ? condSteps(p.where) : [];
  steps.push({ method: 'del', args: [] });
  steps.push(...returningStep(p.returning));
  return steps;
}

export function chainOf(plan: Plan): Chain {
  const steps =
    plan.kind === 'select' ? selectChain(plan)
      : plan.kind === 'insert' ? insertChain(plan)
        : plan.kind === 'update' ? updateChain(plan)
          : deleteChain(plan);
  return { kind: plan.kind, table: tableName(plan.table), steps };
}

/** Adds `.first()` (a call site that reads only the first row). */
export function withFirst(chain: Chain): Chain {
  return { ...chain, steps: [...chain.steps, { method: 'first', args: [] }] };
}
