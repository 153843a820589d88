/**
 * Shared by the equivalence tests: render + verify a planned statement, then execute the
 * original SQL and the compiled Knex rewrite with the same values and compare the outcomes.
 */
import { chainOf, withFirst } from '../../server/src/engine/rewrite/chain';
import { planSql, placeholderKeys, type SchemaMapping } from '../../server/src/engine/rewrite/plan';
import { renderChain } from '../../server/src/engine/rewrite/render';
import { compileChain, verifyChain } from '../../server/src/engine/rewrite/verify';
import { sameRows, type Db, type Outcome, type Row } from './db';

const TODAY = new Date().toISOString().slice(0, 10);

export interface Trial {
  sql: string;
  values: Record<string, unknown>;
  firstRow?: boolean;
  /**
   * A planned schema change: the original runs on the old tables, the rewrite on the new ones
   * (which the caller filled by migrating the data with the same mapping); the original's table
   * contents are compared after mapping them.
   */
  mapping?: SchemaMapping;
}

/** A table's rows as the mapping migrates them: columns renamed, values mapped. */
export function migrateRows(rows: Row[], table: string, mapping: SchemaMapping): Row[] {
  const m = mapping[table];
  if (!m) return rows;
  return rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => {
    const vm = m.values?.[k];
    const nv = vm && (typeof v === 'string' || typeof v === 'number') && String(v) in vm ? vm[String(v)] : v;
    return [m.columns?.[k] ?? k, nv];
  })));
}

export type TrialResult =
  | { status: 'unplanned' | 'unverified'; reason: string }
  | { status: 'equal' }
  | { status: 'different'; detail: string; original: Outcome; rewrite: Outcome; knexSql: string };

export function positional(sql: string, values: Record<string, unknown>): unknown[] {
  const keys = placeholderKeys(sql).map((p) => p.key);
  const numeric = keys.every((k) => /^\d+$/.test(k));
  if (!numeric) throw new Error('named placeholders in a trial');
  // `$n` → values by n; `?` → by occurrence (keys are ordinals).
  const max = Math.max(0, ...keys.map(Number));
  return Array.from({ length: max }, (_, i) => values[String(i + 1)]);
}

function tableOf(sql: string): string | undefined {
  const m = /^\s*(?:insert\s+(?:ignore\s+)?into|update|delete\s+from)\s+([A-Za-z_][A-Za-z0-9_]*)/i.exec(sql);
  return m?.[1];
}

export async function trial(db: Db, t: Trial): Promise<TrialResult> {
  const dialect = db.dialect;
  const plan = planSql(t.sql, dialect, t.mapping);
  if (!plan.ok) return { status: 'unplanned', reason: plan.reason };
  let chain = chainOf(plan.plan);
  const firstRow = !!t.firstRow && plan.plan.kind === 'select';
  if (firstRow) chain = withFirst(chain);
  const exprs = new Map(plan.params.map((k) => [k, `p${k}`]));
  const text = renderChain(chain, { instance: 'db', exprs, indent: '', column: 0 });
  const bindings = new Map(plan.params.map((k) => [`p${k}`, k]));
  const v = verifyChain(text, { instance: 'db', dialect, originalSql: t.sql, bindings, firstRow, mapping: t.mapping });
  if (!v.ok) return { status: 'unverified', reason: v.reason };
  const table = tableOf(t.sql);
  const newTable = table && t.mapping?.[table]?.table ? t.mapping[table].table : table;
  const original = await db.run(t.sql, positional(t.sql, t.values), table);
  const compiled = compileChain(text, { instance: 'db', dialect, originalSql: t.sql, bindings, valueFor: (k) => t.values[k] });
  const rewrite = await db.run(compiled.sql, compiled.bindings, newTable);
  if (t.mapping && table) original.snapshot = migrateRows(original.snapshot, table, t.mapping);
  const ordered = /\border\s+by\b/i.test(t.sql);
  const diff = (detail: string): TrialResult => ({ status: 'different', detail, original, rewrite, knexSql: compiled.sql });
  if (!!original.error !== !!rewrite.error) return diff(`error: ${original.error ?? '-'} vs ${rewrite.error ?? '-'}`);
  if (original.error) return { status: 'equal' };
  const origRows = firstRow ? original.rows.slice(0, 1) : original.rows;
  if (!sameRows(origRows, rewrite.rows, ordered)) return diff('rows differ');
  if (plan.plan.kind !== 'select' && original.affected !== rewrite.affected) return diff(`affected ${original.affected} vs ${rewrite.affected}`);
  // now() differs between two runs: timestamps written in this run compare as equal.
  const stamp = (rows: Row[]) => rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'string' && v.startsWith(TODAY) ? 'NOW' : v])));
  if (!sameRows(stamp(original.snapshot), stamp(rewrite.snapshot), true)) return diff('table contents differ after the statement');
  return { status: 'equal' };
}
